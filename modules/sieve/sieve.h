/* The Sieve language (RFC 5228 and the extensions in sieve_extensions()):
 * compile a script once, run it per message and recipient, get the list
 * of actions.  Pure library: no I/O, no store, no sending; everything the
 * interpreter needs from the message comes through struct sieve_env's
 * callbacks, and what the script decides goes back as struct sieve_result
 * for the caller (mod_sieve) to carry out.  A compiled script is
 * immutable and may run in several threads at once. */
#ifndef RMAIL_SIEVE_H
#define RMAIL_SIEVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sieve_script;

/* Zero in a field means the default (SIEVE_DEF_*). */
struct sieve_limits {
	size_t max_script;    /* bytes of one script's text */
	size_t max_nesting;   /* block and test nesting depth */
	size_t max_includes;  /* include depth, and scripts per compile */
	size_t max_actions;   /* actions one run may produce */
	size_t max_redirects; /* redirects one run may produce */
	uint64_t max_steps;   /* commands, tests and match steps per run */
};
#define SIEVE_DEF_MAX_SCRIPT (1024 * 1024)
#define SIEVE_DEF_MAX_NESTING 32
#define SIEVE_DEF_MAX_INCLUDES 10
#define SIEVE_DEF_MAX_ACTIONS 64
#define SIEVE_DEF_MAX_REDIRECTS 4
#define SIEVE_DEF_MAX_STEPS 1000000

/* include [:personal|:global] NAME -> the script's text (malloc'd, the
 * library frees it) and its length, or NULL when there is no such script.
 * Called at compile time: RFC 6609 names are constant strings. */
typedef char *(*sieve_include_fn)(void *arg, int global, const char *name,
				  size_t *len_r);

/* Compile `text`.  `lim` may be NULL (defaults).  `inc` may be NULL: then
 * include commands are only checked for syntax, and running one that is
 * not :optional is a runtime error (ManageSieve's CHECKSCRIPT).  On error
 * returns NULL with "line N: what" in err. */
struct sieve_script *sieve_compile(const char *text, size_t len,
				   const struct sieve_limits *lim,
				   sieve_include_fn inc, void *inc_arg,
				   char *err, size_t errlen);
void sieve_free(struct sieve_script *s);

/* body transforms for sieve_env.body (RFC 5173) */
enum sieve_body_transform {
	SIEVE_BODY_RAW,	    /* the undecoded body after the header */
	SIEVE_BODY_CONTENT, /* decoded parts whose type matches ctypes */
	SIEVE_BODY_TEXT,    /* decoded text parts (text/...), as text */
};

/* a byte string the caller owns for the duration of sieve_run() */
struct sieve_str {
	const char *p;
	size_t n;
};

/* What the interpreter needs from the message; the caller parses it with
 * the core MIME parser.  Everything it returns stays the caller's and
 * must remain valid until sieve_run() returns. */
struct sieve_env {
	const char *env_from; /* envelope sender ("" for <>) */
	const char *env_to;   /* envelope recipient (this one) */
	/* NULL-terminated, may be NULL; not read by the library: carried
	 * for the caller's vacation decision (RFC 5230 4.5) */
	const char *const *user_addrs;
	uint64_t size; /* message size in octets */
	/* Values of header field `name` (case-insensitive), unfolded and
	 * RFC 2047-decoded, in message order; returns their count. */
	size_t (*header)(void *arg, const char *name, const char ***vals_r);
	/* Body parts for the body test: `ctypes` (nctypes entries, for
	 * SIEVE_BODY_CONTENT only) are RFC 5173 type/subtype prefixes ("" =
	 * all).  Sets *parts_r to an array of parts and returns the count,
	 * or -1 on failure (a runtime error).  May be NULL (no body). */
	int (*body)(void *arg, enum sieve_body_transform transform,
		    const char *const *ctypes, size_t nctypes,
		    const struct sieve_str **parts_r);
	/* i;unicode-casemap (RFC 5051): the canonical form of s[0..n) into
	 * out[0..cap), bytes needed returned like snprintf (the library
	 * calls again with a larger buffer when it is above cap): the core
	 * service rmail_core.casemap (ABI 1.5) as it is.  NULL here falls
	 * back to ASCII case folding. */
	size_t (*casemap)(const char *s, size_t n, char *out, size_t cap);
	/* mailbox (RFC 5490) mailboxexists; NULL: no mailbox exists */
	int (*mailbox_exists)(void *arg, const char *mailbox);
	time_t now;	/* for currentdate */
	int tz_minutes; /* local zone offset east of UTC, for date tests */
	void *arg;
};

enum sieve_act {
	SIEVE_KEEP,
	SIEVE_FILEINTO,
	SIEVE_REDIRECT,
	SIEVE_DISCARD,
	SIEVE_REJECT,
	SIEVE_EREJECT,
	SIEVE_VACATION,
};

/* Actions come in script order, duplicates already collapsed (fileinto
 * of one mailbox, keep with fileinto "INBOX", redirect to one address)
 * and conflicts already refused (reject/ereject with anything but
 * discard, a second vacation: runtime errors).  SIEVE_DISCARD is listed
 * once, for logging; it only cancels the implicit keep. */
struct sieve_action {
	enum sieve_act kind;
	unsigned line; /* the command's line in its script */
	char *mailbox; /* fileinto (keep: NULL = INBOX) */
	int create;    /* fileinto :create */
	char *address; /* redirect */
	int copy;      /* redirect/fileinto :copy */
	char **flags;  /* imap4flags for keep/fileinto */
	size_t nflags;
	char *reason; /* reject/ereject text, vacation body */
	/* vacation (RFC 5230): subject NULL = "Auto: " + the original's;
	 * from NULL = the recipient; handle is always set (generated from
	 * the other arguments when :handle is absent) */
	char *subject, *from, *handle;
	char **addresses;
	size_t naddresses;
	int mime;
	/* as given; :days 0 reads as 1, and 0 with seconds == 0 means
	 * neither was given (the caller's default) */
	unsigned days_or_seconds;
	int seconds; /* 1: :seconds (RFC 6131), 0: :days */
};

struct sieve_result {
	struct sieve_action *v;
	size_t n;
	int implicit_keep; /* the caller keeps into INBOX with `flags` */
	char **flags;	   /* imap4flags for the implicit keep */
	size_t nflags;
	char err[256]; /* "line N: what" on a runtime error */
};

/* Run `s` for one message and recipient.  Returns 0, or -1 on a runtime
 * error (res->err says why; the caller must then keep the message into
 * INBOX as RFC 5228 2.10.6 asks, ignoring res->v).  Always call
 * sieve_result_free() afterwards. */
int sieve_run(const struct sieve_script *s, const struct sieve_env *env,
	      struct sieve_result *res);
void sieve_result_free(struct sieve_result *res);

/* The extensions the library supports, space-separated, for
 * ManageSieve's SIEVE capability. */
const char *sieve_extensions(void);

#endif
