/*
 * The DATA/BDAT body state machine: pure, resumable, no allocation.
 *
 * Fed arbitrary chunks of the input, it hands the message bytes to a
 * callback in slices that point into the caller's chunk (nothing is
 * ever buffered: the only octets held back across calls are a leading
 * "." and a CR, and both are decided by the next octet).
 *
 * DATA: dot-unstuffing (RFC 5321 4.5.2), and the message ends only on
 * CRLF "." CRLF, the first CRLF being the end of the previous line (or
 * of the DATA command, so ".\r\n" right away is an empty message).  A
 * bare LF, or a CR not followed by LF, anywhere in the body moves the
 * machine to an error state at once: the session answers 521 5.5.2 and
 * closes, so no smuggling variant (\n.\n, \r.\r, \r\n.\r, ...) can end
 * or split a message.
 *
 * BDAT (RFC 3030): octets pass through untouched and are still counted,
 * under the same bare CR / bare LF rule as DATA; a CR ending one chunk
 * and an LF starting the next is a CRLF.
 *
 * Limits: max_size counts the octets of the message as stored; over it,
 * output stops, input is still consumed up to the end of the message
 * and only then is 552 5.3.4 reported.  The header block (everything
 * before the first empty line) is bounded in octets (552 5.3.4) and in
 * fields (554 5.6.0) the same way.
 */
#ifndef SMTP_BODY_H
#define SMTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/err.h>

/* 0 to go on, -1 to stop: smtp_body_feed then returns RMAIL_ERROR */
typedef int (*smtp_body_out_fn)(void *arg, const char *data, size_t n);

enum smtp_body_mode {
	SMTP_BODY_DATA = 0,
	SMTP_BODY_BDAT = 1,
};

enum smtp_body_err {
	SMTP_BODY_E_NONE = 0,
	SMTP_BODY_E_BARE_LF,	/* 521 5.5.2, close */
	SMTP_BODY_E_BARE_CR,	/* 521 5.5.2, close */
	SMTP_BODY_E_TOOBIG,	/* 552 5.3.4, at the end */
	SMTP_BODY_E_HDR_TOOBIG, /* 552 5.3.4, at the end */
	SMTP_BODY_E_HDR_COUNT,	/* 554 5.6.0, at the end */
	SMTP_BODY_E_OUTPUT,	/* the callback failed */
};

struct smtp_body_limits {
	uint64_t max_size;	  /* 0: unlimited */
	uint64_t max_header_size; /* 0: unlimited */
	uint32_t max_headers;	  /* 0: unlimited */
};

struct smtp_body {
	struct smtp_body_limits lim;
	smtp_body_out_fn out;
	void *arg;
	int mode;      /* enum smtp_body_mode */
	int err;       /* enum smtp_body_err, first one wins */
	uint64_t size; /* message octets seen (counted past
			* the limit too) */
	uint64_t header_size;
	uint32_t headers;
	/* private */
	int state;
	int hstate;
	int done;
};

void smtp_body_init(struct smtp_body *b, int mode,
		    const struct smtp_body_limits *lim, smtp_body_out_fn out,
		    void *arg);

/*
 * DATA: returns RMAIL_AGAIN (all consumed, more needed), RMAIL_OK (the
 * end was seen and the message is good; *consumed_r stops right after
 * the terminating CRLF, what follows is the next command), RMAIL_TOOLONG
 * (the end was seen but a limit was hit: b->err says which),
 * RMAIL_INVALID (bare CR or LF: reply and close; *consumed_r is the
 * offending octet's offset) or RMAIL_ERROR (the callback failed).
 * BDAT: consumes everything and returns RMAIL_AGAIN, RMAIL_INVALID
 * (bare CR or LF, as for DATA) or RMAIL_ERROR; call smtp_body_finish
 * after the LAST chunk.
 */
int smtp_body_feed(struct smtp_body *b, const char *data, size_t len,
		   size_t *consumed_r) RMAIL_WARN_UNUSED;

/* BDAT LAST: RMAIL_OK, RMAIL_TOOLONG, RMAIL_INVALID (the content ends
 * with a CR) or RMAIL_ERROR as above. */
int smtp_body_finish(struct smtp_body *b) RMAIL_WARN_UNUSED;

int smtp_body_is_done(const struct smtp_body *b);

unsigned smtp_body_err_code(int err);
const char *smtp_body_err_enh(int err);
const char *smtp_body_err_text(int err);

#endif
