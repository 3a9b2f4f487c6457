/* Return codes and the error carrier shared by every fallible call. */
#ifndef RMAIL_ERR_H
#define RMAIL_ERR_H

#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define RMAIL_WARN_UNUSED __attribute__((warn_unused_result))
#define RMAIL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RMAIL_EXPORT __attribute__((visibility("default")))
#else
#define RMAIL_WARN_UNUSED
#define RMAIL_PRINTF(f, a)
#define RMAIL_EXPORT
#endif

/* Tri-state results for parsers and I/O; 0/-1 for everything else. */
enum rmail_rc {
	RMAIL_OK = 0,
	RMAIL_ERROR = -1,
	RMAIL_AGAIN = -2,   /* need more input / would block */
	RMAIL_INVALID = -3, /* bad input, resynchronised */
	RMAIL_TOOLONG = -4, /* line or item over its limit, skipped */
	RMAIL_CLOSE = -5,   /* close the connection */
	RMAIL_EOF = -6,	    /* peer closed its side */
};

/* Error codes carried in struct rmail_err.code (not errno values). */
enum rmail_errcode {
	RMAIL_E_NONE = 0,
	RMAIL_E_INTERNAL, /* bug or unexpected system error */
	RMAIL_E_INVAL,	  /* bad argument or input */
	RMAIL_E_NOENT,	  /* no such user / mailbox / message */
	RMAIL_E_EXISTS,	  /* already exists */
	RMAIL_E_PERM,	  /* not allowed */
	RMAIL_E_QUOTA,	  /* over quota */
	RMAIL_E_TOOBIG,	  /* over a size limit */
	RMAIL_E_IO,	  /* I/O error, disk full */
	RMAIL_E_AUTH,	  /* authentication failed */
	RMAIL_E_DISABLED, /* account disabled */
	RMAIL_E_NOTIMPL,  /* service not provided by this core/module */
	RMAIL_E_BUSY,	  /* temporary, retry later */
	RMAIL_E_CANCELLED,
	/* 1.2: a conditional change refused, the target changed since the
	 * caller's modseq (msg_flags_unchanged) */
	RMAIL_E_MODIFIED,
};

struct rmail_err {
	int code; /* enum rmail_errcode */
	char msg[256];
};

static inline void rmail_err_clear(struct rmail_err *err)
{
	if (err != NULL) {
		err->code = RMAIL_E_NONE;
		err->msg[0] = '\0';
	}
}

static inline int rmail_err_set(struct rmail_err *err, int code,
				const char *fmt, ...) RMAIL_PRINTF(3, 4);
/* Always returns -1 so callers can `return rmail_err_set(...)`. */
static inline int rmail_err_set(struct rmail_err *err, int code,
				const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

#endif
