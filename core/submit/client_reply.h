/*
 * The outbound SMTP client's reply reader, without the socket: line
 * framing of the receive buffer and the multi-line reply state.  Pure,
 * no core dependencies, so the fuzz harness links it alone.
 */
#ifndef RM_CLIENT_REPLY_H
#define RM_CLIENT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RM_SMTP_LINE_MAX 2048
/* continuation lines beyond this make the reply garbage */
#define RM_SMTP_REPLY_LINES 64

/* Take one line (without CR LF, controls blanked, truncated at sz - 1)
 * off the front of in[0..*ilen).  A full buffer without LF counts as a
 * line so a peer cannot stall us.  1 when a line was taken, 0 when more
 * bytes are needed. */
int rm_smtp_take_line(char *in, size_t *ilen, size_t cap, char *line,
		      size_t sz);

/* the EHLO keywords the client acts on (RFC 5321 §4.1.1.1) */
struct rm_smtp_caps {
	bool eightbitmime; /* RFC 6152 */
	bool smtputf8;	   /* RFC 6531 */
	bool requiretls;   /* RFC 8689 */
	bool size;	   /* RFC 1870 */
	uint64_t size_max; /* SIZE n: 0 = no fixed limit */
};

struct rm_smtp_reply {
	int code;
	unsigned lines;
	bool ehlo; /* note a STARTTLS line */
	bool starttls;
	struct rm_smtp_caps caps; /* an EHLO reply's keywords */
};

void rm_smtp_reply_init(struct rm_smtp_reply *r, bool ehlo);
/* Feed one line: 1 when the reply is complete (r->code, its last line
 * into text), 0 when a continuation line, -1 on garbage. */
int rm_smtp_reply_line(struct rm_smtp_reply *r, const char *line, char *text,
		       size_t sz);

#endif
