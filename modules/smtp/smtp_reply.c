/* Reply formatting: the one place that puts CRLF on the wire. */
#include <string.h>

#include "smtp_reply.h"

static int put(char *buf, size_t size, size_t *pos, const char *p, size_t n)
{
	if (n > size - *pos)
		return -1;
	memcpy(buf + *pos, p, n);
	*pos += n;
	return 0;
}

int smtp_reply_format(char *buf, size_t size, unsigned code, const char *enh,
		      const char *text, size_t *len_r)
{
	char head[4];
	const char *line = text != NULL ? text : "";
	const char *nl;
	size_t pos = 0, start, n, i;

	if (code < 200 || code > 599)
		return -1;
	head[0] = (char)('0' + code / 100);
	head[1] = (char)('0' + code / 10 % 10);
	head[2] = (char)('0' + code % 10);
	for (;;) {
		nl = strchr(line, '\n');
		n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		start = pos;
		head[3] = nl != NULL ? '-' : ' ';
		if (put(buf, size, &pos, head, 4) < 0)
			return -1;
		if (enh != NULL &&
		    (put(buf, size, &pos, enh, strlen(enh)) < 0 ||
		     (n > 0 && put(buf, size, &pos, " ", 1) < 0)))
			return -1;
		if (put(buf, size, &pos, line, n) < 0)
			return -1;
		for (i = pos - n; i < pos; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c < 32 || c == 127)
				buf[i] = '?';
		}
		if (put(buf, size, &pos, "\r\n", 2) < 0 ||
		    pos - start > SMTP_REPLY_LINE_MAX)
			return -1;
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	*len_r = pos;
	return 0;
}
