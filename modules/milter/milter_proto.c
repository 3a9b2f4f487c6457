/*
 * Milter packets: framing, reply validation, command building.  A
 * reply that does not have exactly the shape its command needs is
 * malformed: the caller turns that into a protocol error for the
 * filter, never into a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter_proto.h"

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int milter_frame(const uint8_t *buf, size_t len, struct milter_pkt *p,
		 size_t *used_r)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = get_u32(buf);
	if (n == 0 || n > MILTER_PKT_MAX)
		return -1;
	if (len - 4 < n)
		return 0;
	p->cmd = (char)buf[4];
	p->data = buf + 5;
	p->len = n - 1;
	*used_r = 4 + (size_t)n;
	return 1;
}

/* the data as NUL-terminated strings: exactly `want` of them, the
 * last one ending the data; 0 or -1 */
static int strings(const struct milter_pkt *p, size_t skip, char *store,
		   size_t storesz, size_t want, const char **out)
{
	size_t n = p->len - skip, i = 0, k = 0;

	if (p->len < skip || n + 1 > storesz || n == 0 ||
	    p->data[p->len - 1] != '\0')
		return -1;
	memcpy(store, p->data + skip, n);
	store[n] = '\0';
	while (i < n && k < want) {
		out[k++] = store + i;
		i += strlen(store + i) + 1;
	}
	return k == want && i == n ? 0 : -1;
}

/* "550 5.7.1 text" or "550-5.7.1 a\r\n550 5.7.1 b": every line the
 * same 4xx/5xx code; the text keeps one line per '\n', each with an
 * enhanced code (the class's x.7.1 when the filter gave none) */
static int replycode(const struct milter_pkt *p, struct milter_reply *r,
		     char *store, size_t storesz)
{
	const char *s[1];
	char *line, *next;
	size_t o = 0;
	int code;

	if (strings(p, 0, store, storesz, 1, s) < 0)
		return -1;
	line = (char *)s[0];
	if (strlen(line) < 3 || (line[0] != '4' && line[0] != '5') ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	r->text[0] = '\0';
	for (; line != NULL; line = next) {
		const char *t;
		size_t tl, e;

		next = strstr(line, "\r\n");
		if (next != NULL) {
			*next = '\0';
			next += 2;
		}
		if (strlen(line) < 3 || strncmp(line, s[0], 3) != 0 ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return -1;
		if ((line[3] == '-') != (next != NULL))
			return -1;
		t = line[3] != '\0' ? line + 4 : "";
		/* x.y.z of the same class */
		e = strspn(t, "0123456789.");
		if (!(e >= 5 && t[0] == line[0] && t[1] == '.' &&
		      (t[e] == ' ' || t[e] == '\0'))) {
			if (o + 7 >= sizeof(r->text))
				return -1;
			o += (size_t)snprintf(r->text + o, sizeof(r->text) - o,
					      "%c.7.1 ", line[0]);
		}
		tl = strlen(t);
		if (o + tl + 2 >= sizeof(r->text))
			tl = sizeof(r->text) - o - 2;
		for (size_t i = 0; i < tl; i++)
			r->text[o++] = (unsigned char)t[i] < 32 || t[i] == 127
					       ? '?'
					       : t[i];
		if (next != NULL)
			r->text[o++] = '\n';
		r->text[o] = '\0';
	}
	r->code = code;
	return 0;
}

int milter_parse_reply(const struct milter_pkt *p, struct milter_reply *r,
		       char *store, size_t storesz, const char **err)
{
	const char *s[2] = {NULL, NULL};

	memset(r, 0, sizeof(*r));
	r->cmd = p->cmd;
	switch (p->cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_PROGRESS:
	case SMFIR_SKIP:
	case SMFIR_CONN_FAIL:
	case SMFIR_SHUTDOWN:
		/* libmilter sends none; tolerate nothing else */
		if (p->len != 0) {
			*err = "data after a bare reply";
			return -1;
		}
		return 0;
	case SMFIR_REPLYCODE:
		if (replycode(p, r, store, storesz) < 0) {
			*err = "malformed reply code";
			return -1;
		}
		return 0;
	case SMFIR_ADDHEADER:
		if (strings(p, 0, store, storesz, 2, s) < 0 || s[0][0] == '\0')
			goto bad;
		break;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (p->len < 4)
			goto bad;
		r->index = get_u32(p->data);
		if (strings(p, 4, store, storesz, 2, s) < 0 || s[0][0] == '\0')
			goto bad;
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		if (strings(p, 0, store, storesz, 1, s) < 0)
			goto bad;
		break;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		/* the ESMTP arguments are optional */
		if (strings(p, 0, store, storesz, 2, s) < 0 &&
		    strings(p, 0, store, storesz, 1, s) < 0)
			goto bad;
		break;
	case SMFIR_REPLBODY:
		r->body = p->data;
		r->blen = p->len;
		return 0;
	default:
		*err = "unknown reply";
		return -1;
	}
	r->s1 = s[0];
	r->s2 = s[1];
	return 0;
bad:
	*err = "malformed modification";
	return -1;
}

int milter_parse_optneg(const struct milter_pkt *p, struct milter_optneg *o,
			char *store, size_t storesz, const char **err)
{
	size_t i = 12;

	memset(o, 0, sizeof(*o));
	if (p->cmd != SMFIC_OPTNEG || p->len < 12) {
		*err = "not an option negotiation";
		return -1;
	}
	o->version = get_u32(p->data);
	o->actions = get_u32(p->data + 4);
	o->pflags = get_u32(p->data + 8);
	if (o->version < 2 || o->version > MILTER_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	if (p->len - 12 + 1 > storesz) {
		*err = "macro lists too long";
		return -1;
	}
	/* what follows: (uint32 stage, "macro list\0") pairs */
	while (i < p->len) {
		uint32_t st;
		const uint8_t *nul;
		size_t n;

		if (p->len - i < 5)
			goto bad;
		st = get_u32(p->data + i);
		i += 4;
		nul = memchr(p->data + i, '\0', p->len - i);
		if (nul == NULL || st >= MILTER_M_COUNT)
			goto bad;
		n = (size_t)(nul - (p->data + i));
		memcpy(store, p->data + i, n + 1);
		o->macros[st] = store;
		store += n + 1;
		i += n + 1;
	}
	return 0;
bad:
	*err = "malformed macro list";
	return -1;
}

void milter_buf_free(struct milter_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void grow(struct milter_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	b->cap = (b->len + n) * 2 + 256;
	b->p = realloc(b->p, b->cap);
	if (b->p == NULL)
		abort();
}

void milter_put(struct milter_buf *b, const void *data, size_t n)
{
	grow(b, n);
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void milter_put_str(struct milter_buf *b, const char *s)
{
	milter_put(b, s, strlen(s) + 1);
}

void milter_put_u32(struct milter_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};

	milter_put(b, x, 4);
}

void milter_put_u16(struct milter_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	milter_put(b, x, 2);
}

size_t milter_begin(struct milter_buf *b, char cmd)
{
	size_t start = b->len;

	milter_put_u32(b, 0);
	milter_put(b, &cmd, 1);
	return start;
}

void milter_end(struct milter_buf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - 4);

	b->p[start] = (uint8_t)(n >> 24);
	b->p[start + 1] = (uint8_t)(n >> 16);
	b->p[start + 2] = (uint8_t)(n >> 8);
	b->p[start + 3] = (uint8_t)n;
}
