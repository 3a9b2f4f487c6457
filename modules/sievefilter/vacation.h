/*
 * Vacation (RFC 5230, RFC 3834): whether a reply goes out at all, the
 * key of its "already replied" state, and the reply itself.  Pure
 * functions: the table test runs them without a daemon.
 */
#ifndef SIEVEFILTER_VACATION_H
#define SIEVEFILTER_VACATION_H

#include <stddef.h>
#include <stdint.h>

/* :days bounds (documented in docs/sieve.md) */
#define VAC_DAYS_DEFAULT 7
#define VAC_DAYS_MIN 1
#define VAC_DAYS_MAX 90
#define VAC_SECONDS_MIN 3600 /* :seconds (RFC 6131) */

/* a header field by name (any case), the nth (0-based) occurrence,
 * unfolded; NULL when absent */
typedef const char *(*vac_header_fn)(void *arg, const char *name, size_t nth);

struct vac_in {
	const char *env_from;	     /* "" for the null sender */
	const char *const *my_addrs; /* the user's own + :addresses */
	size_t nmy;
	int spam;		  /* a filter marked it as spam */
	const char *dmarc_result; /* "fail": no reply; NULL: none */
	vac_header_fn header;
	void *arg;
};

enum vac_verdict {
	VAC_SEND = 0,
	VAC_NULL_SENDER,    /* MAIL FROM:<> */
	VAC_DAEMON_SENDER,  /* MAILER-DAEMON, owner-*, *-request ... */
	VAC_AUTO_SUBMITTED, /* Auto-Submitted other than "no" */
	VAC_LIST,	    /* List-* fields */
	VAC_PRECEDENCE,	    /* Precedence: bulk, list, junk */
	VAC_SPAM,	    /* marked as spam */
	VAC_DMARC_FAIL,	    /* DMARC failed */
	VAC_NOT_ADDRESSED,  /* none of the user's addresses in To/Cc... */
	VAC_FROM_SELF,	    /* the sender is the user */
};

/* RFC 5230 section 4.5-4.6 and RFC 3834 section 2: the first rule that
 * says no, else VAC_SEND.  The :days dedupe comes after (store op
 * vacation_check). */
enum vac_verdict vac_decide(const struct vac_in *in);
const char *vac_verdict_name(enum vac_verdict v);

/* the period in seconds from :days N or :seconds N (0: the default),
 * clamped to the documented bounds */
int64_t vac_period(unsigned n, int seconds);

/* the state key: a digest of the sender (case-folded) and the handle
 * (RFC 5230 section 4.2; :handle, else the reason, subject and from,
 * so a changed message is a new vacation).  out: 33 bytes. */
void vac_key(const char *sender, const char *handle, const char *reason,
	     const char *subject, const char *from, char out[33]);

/* The reply: header and body, CRLF, ready for the submission service.
 * from: the user's address or :from; to: the original sender;
 * msgid: the new Message-ID's value "<...>"; date: RFC 5322 date.
 * Malloc'd. */
char *vac_compose(const char *from, const char *to, const char *subject,
		  const char *orig_subject, const char *orig_msgid,
		  const char *orig_refs, const char *reason, int mime,
		  const char *msgid, const char *date);

#endif
