/*
 * DMARC (RFC 7489): the RFC5322.From domain, the policy record, its
 * discovery through the evaluators' DNS cache (ma_dns.h), identifier
 * alignment of the SPF and DKIM results, and the disposition.
 *
 * SPF and DKIM are evaluated elsewhere; their results come in as the
 * plain structs below, so this file depends on neither.  Like the
 * other evaluators, dmarc_eval() is a deterministic function of its
 * inputs and of the cache: MA_PENDING when an answer is missing, the
 * driver fills the cache and calls it again.
 *
 * Authenticated submissions are exempt: the caller does not call
 * dmarc_eval() for them at all (a user sending as their own domain
 * from a hotel network fails SPF, and is still the owner).
 */
#ifndef RM_MA_DMARC_H
#define RM_MA_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailauth/ma_dns.h"

/* RFC 5321 limit on a domain name, plus the NUL */
#define DMARC_DOMAIN_MAX 256
/* rua= addresses kept per record; more are ignored (RFC 7489 leaves
 * the count to the receiver, reports go to the first few) */
#define DMARC_MAX_RUA 4
/* a record longer than this is refused as invalid: real ones are
 * under 300 bytes, and the parser stays bounded */
#define DMARC_RECORD_MAX 2048

enum dmarc_result {
	DMARC_NONE = 0, /* no policy record: DMARC does not apply */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR, /* no usable RFC5322.From domain */
};

enum dmarc_policy {
	DMARC_P_NONE = 0,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

/* why the disposition is weaker than the policy (RFC 7489 appendix C,
 * PolicyOverrideType) */
enum dmarc_override {
	DMARC_OV_NONE = 0,
	DMARC_OV_SAMPLED_OUT,  /* pct= */
	DMARC_OV_MAILING_LIST, /* dmarc.exceptions */
};

const char *dmarc_result_name(int r);	/* "pass", ... (RFC 8601) */
const char *dmarc_policy_name(int p);	/* "none", "quarantine", "reject" */
const char *dmarc_override_name(int o); /* "sampled_out", ... or NULL */

/* ---- the RFC5322.From domain -------------------------------------- */

/* The domain of the message's author, from its header block (up to
 * the empty line; LF or CRLF).  Exactly one From: field holding exactly
 * one mailbox with a syntactically valid domain, read by the core MIME
 * parser (the same view IMAP and the API show).  The domain is lower
 * case, without a trailing dot.  0, or -1: DMARC_PERMERROR. */
int dmarc_from_domain(const char *hdr, size_t len, char *dom, size_t sz);

/* ---- the policy record (RFC 7489 §6.3) ---------------------------- */

struct dmarc_uri {
	char addr[256];	   /* the mailto: address, decoded */
	uint64_t max_size; /* from "!size", bytes; 0 = no limit */
};

struct dmarc_record {
	int p;	      /* enum dmarc_policy */
	int sp;	      /* enum dmarc_policy; p when absent */
	unsigned pct; /* 0..100 */
	bool adkim_strict, aspf_strict;
	bool p_invalid; /* p= missing/invalid, read as none (§6.6.3) */
	char fo[16];	/* failure-report options: kept for reports only */
	uint32_t ri;	/* report interval, seconds */
	size_t nrua;
	struct dmarc_uri rua[DMARC_MAX_RUA];
};

enum dmarc_rec_status {
	DMARC_REC_OK = 0,
	DMARC_REC_NOT = 1,     /* not a DMARC record: discarded */
	DMARC_REC_INVALID = 2, /* a DMARC record without a usable policy:
				* no DMARC processing */
};

/* Parse one TXT record (len bytes, may contain NUL).  Hostile input:
 * bounded by DMARC_RECORD_MAX, no allocation.  Unknown tags are
 * ignored, bad values of optional tags fall back to their defaults,
 * ruf= is ignored (rmail sends no failure reports).  A missing or bad
 * p= (or bad sp=) is read as p=none when there is a valid rua=
 * (§6.6.3), else the record is DMARC_REC_INVALID. */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r);

/* ---- organizational domain (RFC 7489 §3.2) ------------------------ */

/* Load the Public Suffix List: `file` (a .dat or .dafsa file), or NULL
 * for libpsl's psl_latest(NULL): the newer of the list built into
 * libpsl and Debian's /usr/share/publicsuffix.  Once, before any
 * thread evaluates (tests load their own fixed list for determinism).
 * 0, or -1 when it cannot be read. */
int dmarc_psl_load(const char *file);
void dmarc_psl_free(void);
/* The registrable domain of `dom` (lower case): itself when it is one;
 * `dom` itself when it is a public suffix or the list is unknown. */
void dmarc_org_domain(const char *dom, char *out, size_t sz);

/* ---- evaluation --------------------------------------------------- */

struct dmarc_dkim_in {
	const char *d;	    /* the signature's d= */
	const char *s;	    /* s=, for reports */
	bool pass;	    /* verified (RFC 8601 "pass") */
	bool full_body;	    /* no l=, or l= covered the whole body: a
			     * signature with unsigned content after l= never
			     * counts for alignment */
	const char *result; /* RFC 8601 name, for reports */
};

struct dmarc_auth {
	const char *spf_domain; /* the domain SPF checked: MAIL FROM's,
				 * or HELO's for the null sender */
	bool spf_pass;
	bool spf_helo;		/* spf_domain is the HELO identity */
	const char *spf_result; /* RFC 8601 name, for reports */
	const char *mail_from;	/* envelope sender ("" null sender), for
				 * the exception list; may be NULL */
	size_t ndkim;
	const struct dmarc_dkim_in *dkim;
};

struct dmarc_opts {
	/* pct= sampling: a uniform random number; NULL = the core's
	 * (tests inject a fixed one) */
	uint32_t (*rand)(void *arg);
	void *rand_arg;
	/* the exception list (dmarc.exceptions): envelope sender
	 * addresses ("list@lists.example.org") or domains
	 * ("lists.example.org", ".example.org" = its subdomains) whose
	 * mail is evaluated and reported, but never quarantined or
	 * rejected: mailing lists that break DKIM */
	const char *const *exceptions;
	size_t nexceptions;
};

struct dmarc_verdict {
	int result;	 /* enum dmarc_result */
	int policy;	 /* the p= or sp= that applies */
	int disposition; /* what to do: enum dmarc_policy */
	int override;	 /* enum dmarc_override */
	bool org_record; /* the record came from the organizational domain */
	bool spf_aligned, dkim_aligned;
	bool have_record;
	struct dmarc_record rec;
	char from_domain[DMARC_DOMAIN_MAX];
	char policy_domain[DMARC_DOMAIN_MAX]; /* where the record was */
	char org_domain[DMARC_DOMAIN_MAX];
};

/* Evaluate.  from_domain: from dmarc_from_domain(), or NULL when that
 * failed (then DMARC_PERMERROR without any look-up).  Returns MA_DONE
 * with *v filled, or MA_PENDING (v undefined): fill the cache's
 * wanted questions and call again. */
int dmarc_eval(struct ma_dns_cache *c, const char *from_domain,
	       const struct dmarc_auth *a, const struct dmarc_opts *o,
	       struct dmarc_verdict *v);

/* Identifier alignment (§3.1): strict = the same name, relaxed = the
 * same organizational domain. */
bool dmarc_aligned(const char *a, const char *b, bool strict);

/* Port-25 mail whose From: is in one of rmail's own domains
 * (from_is_local, the store's answer): true when it must be refused
 * because neither SPF nor a whole-body DKIM signature passed for a
 * domain aligned (relaxed) with it.  Independent of any published
 * record: rmail knows its own domains send only authenticated mail.
 * The caller applies dmarc.reject_unauthenticated_local_from. */
bool dmarc_local_from_refused(const char *from_domain, bool from_is_local,
			      const struct dmarc_auth *a);

/* true when the exception list covers this envelope sender */
bool dmarc_exception_match(const char *const *list, size_t n,
			   const char *mail_from);

#endif
