/*
 * SMTP command-line parser: pure, no I/O, no logging, no allocation.
 *
 * smtp_parse() frames one command line out of the caller's input buffer
 * and parses it; every argument it reports is a slice into that buffer,
 * valid until the caller consumes or moves the bytes (the Dovecot rule).
 * Copy a slice into the transaction pool if it must live longer.
 *
 * Choices worth knowing (RFC 5321 unless noted):
 * - Verbs are case-insensitive and separated from their argument by one
 *   or more SP; trailing SP/HTAB at the end of a line is ignored.
 * - MAIL FROM: and RCPT TO: require the angle brackets; SP after the
 *   colon is tolerated (many clients send it).  Source routes
 *   (<@a,@b:user@c>) are checked and then ignored (section 4.1.1.3).
 * - Addresses follow the section 4.1.2 grammar: Dot-string or
 *   Quoted-string local part (at most 64 octets), a domain (labels of
 *   at most 63, 255 in all) or an address literal ([1.2.3.4] or
 *   [IPv6:...]; General-address-literals are refused, none is
 *   standardised), at most 254 octets for local@domain.
 * - Non-ASCII (UTF-8, RFC 6531) local parts and domain labels are valid
 *   only in a SMTPUTF8 transaction; otherwise 553 5.6.7.  Malformed
 *   UTF-8 is a syntax error of the address.
 * - MAIL parameters: SIZE=, BODY=7BIT|8BITMIME, SMTPUTF8, AUTH= (RFC
 *   4954, xtext or <>).  BODY=BINARYMIME and the DSN parameters (RET,
 *   ENVID on MAIL; NOTIFY, ORCPT on RCPT) are refused explicitly with
 *   555 5.5.4 since those extensions are not advertised; so is any other
 *   keyword.  A repeated parameter is a 501 5.5.4 syntax error.
 * - Bare CR, bare LF or NUL anywhere in a command line is the smuggling
 *   class: SMTP_PERR_BARE_EOL, answer 521 5.5.2 and close (Postfix).
 */
#ifndef SMTP_PARSER_H
#define SMTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/err.h>

#define SMTP_LINE_MAX 512 /* RFC 5321 4.5.3.1.4, incl. CRLF */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_LABEL_MAX 63
#define SMTP_MAILBOX_MAX 254 /* 256-octet path minus the brackets */

enum smtp_verb {
	SMTP_CMD_NONE = 0,
	SMTP_CMD_EHLO,
	SMTP_CMD_HELO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

/* Parse errors; smtp_perr_code/enh/text give the reply. */
enum smtp_perr {
	SMTP_PERR_NONE = 0,
	SMTP_PERR_UNKNOWN,	/* 500 5.5.2 unknown command */
	SMTP_PERR_TOOLONG,	/* 500 5.5.2 line too long */
	SMTP_PERR_SYNTAX,	/* 501 5.5.4 syntax error in parameters */
	SMTP_PERR_BAD_SENDER,	/* 501 5.1.7 bad sender address syntax */
	SMTP_PERR_BAD_RCPT,	/* 501 5.1.3 bad recipient address syntax */
	SMTP_PERR_UTF8_ADDR,	/* 553 5.6.7 non-ASCII address, no SMTPUTF8 */
	SMTP_PERR_UNSUPP_PARAM, /* 555 5.5.4 parameter not supported */
	SMTP_PERR_AUTH_B64,	/* 501 5.5.2 initial response not base64 */
	SMTP_PERR_BARE_EOL,	/* 521 5.5.2 bare CR/LF or NUL: close */
};

enum smtp_body_type {
	SMTP_BODY_UNSET = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

struct smtp_slice {
	const char *p;
	size_t len;
};

struct smtp_path {
	struct smtp_slice mailbox; /* local@domain: no brackets, no route */
	struct smtp_slice local;   /* quotes kept for a Quoted-string */
	struct smtp_slice domain;  /* brackets kept for a literal */
	int is_null;		   /* <> (MAIL only) */
	int is_postmaster;	   /* RCPT TO:<Postmaster>, no domain */
	int has_route;		   /* a source route was given and dropped */
	int is_literal;		   /* domain is an address literal */
	int is_utf8;		   /* contains non-ASCII octets */
};

struct smtp_cmd {
	int verb;		/* enum smtp_verb */
	int err;		/* enum smtp_perr */
	const char *err_detail; /* static text naming the exact fault */
	size_t consumed;	/* bytes of input used (smtp_parse) */
	struct smtp_slice arg;	/* whole argument, trimmed */

	/* EHLO/HELO: arg is the client's name */
	int helo_is_domain; /* arg is a Domain or address literal */

	/* MAIL / RCPT */
	struct smtp_path path;
	int has_size;
	uint64_t size; /* SIZE=; the session checks its limit */
	int body;      /* enum smtp_body_type */
	int smtputf8;
	int has_auth;
	struct smtp_slice auth; /* AUTH= value, xtext, still encoded */
	int requiretls;		/* REQUIRETLS (RFC 8689) */

	/* BDAT */
	uint64_t chunk_size;
	int last;

	/* AUTH */
	struct smtp_slice mech;
	int has_initial;
	struct smtp_slice initial; /* base64, or "=" for empty */
};

/*
 * Framing state.  Set max_line (incl. CRLF; 0 means SMTP_LINE_MAX) and
 * utf8 (the transaction's MAIL carried SMTPUTF8, so RCPT addresses may
 * be non-ASCII); zero the rest once.  The caller passes the unconsumed
 * input each time, starting where the last call's `consumed` ended.
 */
struct smtp_parser {
	size_t max_line;
	int utf8;
	/* private */
	size_t scanned; /* clean bytes already looked at */
	int skipping;	/* discarding the rest of a long line */
};

/*
 * Returns RMAIL_OK (cmd_r filled), RMAIL_AGAIN (need more input; the
 * caller may drop cmd_r->consumed bytes), RMAIL_INVALID (cmd_r->err
 * set, resync past the line's LF), RMAIL_TOOLONG (SMTP_PERR_TOOLONG, the
 * line is being discarded).  In every case drop cmd_r->consumed bytes.
 * SMTP_PERR_BARE_EOL means: answer 521 5.5.2 and close; its resync
 * point is just past the offending octet.
 */
int smtp_parse(struct smtp_parser *st, const char *buf, size_t len,
	       struct smtp_cmd *cmd_r) RMAIL_WARN_UNUSED;

/* Parse one line without its CRLF: RMAIL_OK or RMAIL_INVALID. */
int smtp_parse_line(const char *line, size_t len, int utf8,
		    struct smtp_cmd *cmd_r) RMAIL_WARN_UNUSED;

/* Grammar checks, usable on their own (config, alias tables, tests). */
int smtp_domain_valid(const char *p, size_t len, int utf8);

unsigned smtp_perr_code(int err);
const char *smtp_perr_enh(int err);
const char *smtp_perr_text(int err);
const char *smtp_verb_name(int verb);

#endif
