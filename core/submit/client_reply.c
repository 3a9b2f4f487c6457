/*
 * Reply framing for the outbound SMTP client (RFC 5321 §4.2): the peer
 * is untrusted, so lines are bounded, controls are blanked before they
 * reach logs or bounces, and a reply has a bounded number of lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_reply.h"

int rm_smtp_take_line(char *in, size_t *ilen, size_t cap, char *line, size_t sz)
{
	char *nl = memchr(in, '\n', *ilen);
	size_t n, keep, i;

	if (nl == NULL && *ilen < cap)
		return 0;
	n = nl != NULL ? (size_t)(nl - in) : *ilen;
	keep = n;
	if (keep > 0 && in[keep - 1] == '\r')
		keep--;
	if (keep >= sz)
		keep = sz - 1;
	for (i = 0; i < keep; i++)
		line[i] = (unsigned char)in[i] < 32 ? ' ' : in[i];
	line[keep] = '\0';
	if (nl != NULL)
		n++;
	memmove(in, in + n, *ilen - n);
	*ilen -= n;
	return 1;
}

void rm_smtp_reply_init(struct rm_smtp_reply *r, bool ehlo)
{
	memset(r, 0, sizeof(*r));
	r->code = -1;
	r->ehlo = ehlo;
}

static bool keyword(const char *kw, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(kw, name, n) == 0 && (kw[n] == '\0' || kw[n] == ' ');
}

/* "SIZE" [SP digits]: absent, 0 or too large for us means no limit */
static uint64_t size_param(const char *kw)
{
	uint64_t v = 0;
	const char *p = kw + 4;

	if (*p != ' ')
		return 0;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return *p == '\0' || *p == ' ' ? v : 0;
}

/* one ehlo-line after the greeting line */
static void ehlo_keyword(struct rm_smtp_caps *c, const char *kw)
{
	if (keyword(kw, "8BITMIME"))
		c->eightbitmime = true;
	else if (keyword(kw, "SMTPUTF8"))
		c->smtputf8 = true;
	else if (keyword(kw, "REQUIRETLS"))
		c->requiretls = true;
	else if (keyword(kw, "SIZE")) {
		c->size = true;
		c->size_max = size_param(kw);
	}
}

int rm_smtp_reply_line(struct rm_smtp_reply *r, const char *line, char *text,
		       size_t sz)
{
	if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return -1;
	r->code =
		(line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	/* a bare "250" has nothing after the code to compare */
	if (r->ehlo && line[3] != '\0' &&
	    strncasecmp(line + 4, "STARTTLS", 8) == 0 &&
	    (line[12] == '\0' || line[12] == ' '))
		r->starttls = true;
	/* the first line names the server; keywords follow it */
	if (r->ehlo && r->lines > 0 && line[3] != '\0')
		ehlo_keyword(&r->caps, line + 4);
	if (line[3] != '-') {
		snprintf(text, sz, "%s", line);
		return 1;
	}
	if (++r->lines >= RM_SMTP_REPLY_LINES)
		return -1;
	return 0;
}
