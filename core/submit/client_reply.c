/*
 * Reply framing for the outbound SMTP client (RFC 5321 §4.2): the peer
 * is untrusted, so lines are bounded, controls are blanked before they
 * reach logs or bounces, and a reply has a bounded number of lines.
 */
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
	if (r->ehlo && line[3] != '\0' &&
	    strncasecmp(line + 4, "REQUIRETLS", 10) == 0 &&
	    (line[14] == '\0' || line[14] == ' '))
		r->requiretls = true;
	if (line[3] != '-') {
		snprintf(text, sz, "%s", line);
		return 1;
	}
	if (++r->lines >= RM_SMTP_REPLY_LINES)
		return -1;
	return 0;
}
