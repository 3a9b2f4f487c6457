/*
 * 8-bit detection and the 7-bit conversion of a message (to7bit.h).
 *
 * The conversion copies the message through, part by part in document
 * order (the parser's part order), rewriting only what must change: a
 * leaf part whose body holds an 8-bit octet gets a new header block
 * and an encoded body; a container labelled 8bit/binary gets the
 * label 7bit.  Everything between is copied as it was, except that
 * 8-bit octets outside header blocks there (preambles, epilogues,
 * delimiter lines: text readers never show) become '?'.  Parsing is
 * bounded (the core parser's limits), so hostile structure costs at
 * most one parse and one copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "to7bit.h"

/* higher than the parser's default: a part the parse leaves out would
 * be copied with its 8-bit octets blanked */
#define CONV_MAX_PARTS 100000u
#define QP_LINE 76
/* passes over one message when labels wait on headers below them */
#define CONV_MAX_PASSES 8u

bool rm_mime_has_8bit(const char *s, size_t n)
{
	size_t i = 0;

	/* every message is scanned at receipt: eight octets at a time */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			return true;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static int parse(const char *msg, size_t len, struct rmail_mime **m_r)
{
	struct rmail_mime_limits lim = {.size = sizeof(lim),
					.max_parts = CONV_MAX_PARTS};
	struct rmail_err err;

	rmail_err_clear(&err);
	return rm_mime_parse(msg, len, &lim, m_r, &err);
}

/* header and body of a part, clamped to the message */
static void span(const struct rmail_mime_part *p, size_t len, size_t *ho,
		 size_t *hl, size_t *bo, size_t *bl)
{
	*ho = p->hdr_off < len ? (size_t)p->hdr_off : len;
	*hl = p->hdr_len < len - *ho ? (size_t)p->hdr_len : len - *ho;
	*bo = p->body_off < len ? (size_t)p->body_off : len;
	*bl = p->body_len < len - *bo ? (size_t)p->body_len : len - *bo;
}

static bool is_global(const struct rmail_mime_part *p)
{
	return (p->flags & RMAIL_MIME_MESSAGE) &&
	       strcmp(p->subtype, "global") == 0;
}

/* inside a message/global: its headers are that part's content, which
 * base64 carries anywhere (RFC 6532 §3.5) */
static bool in_global(const struct rmail_mime *m,
		      const struct rmail_mime_part *p)
{
	while (p->parent != RMAIL_MIME_NONE) {
		p = rm_mime_part(m, p->parent);
		if (p == NULL)
			return false;
		if (is_global(p))
			return true;
	}
	return false;
}

/* 8-bit octets in the header block of part i that matter to SMTPUTF8 */
static bool hdr_8bit(const struct rmail_mime *m, size_t i, const char *msg,
		     size_t len)
{
	const struct rmail_mime_part *p = rm_mime_part(m, i);
	size_t ho, hl, bo, bl;

	span(p, len, &ho, &hl, &bo, &bl);
	return rm_mime_has_8bit(msg + ho, hl) && !in_global(m, p);
}

unsigned rm_mime_8bit_class(const char *msg, size_t len)
{
	struct rmail_mime *m = NULL;
	unsigned f;
	bool utf8 = true;

	if (!rm_mime_has_8bit(msg, len))
		return 0;
	f = RM_8BIT_ANY;
	if (parse(msg, len, &m) < 0)
		return f;
	for (size_t i = 0; i < rm_mime_part_count(m); i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);
		size_t ho, hl, bo, bl;

		if (!hdr_8bit(m, i, msg, len))
			continue;
		span(p, len, &ho, &hl, &bo, &bl);
		f |= RM_8BIT_HDR;
		utf8 = utf8 && rmail_utf8_valid(msg + ho, hl);
	}
	if ((f & RM_8BIT_HDR) && utf8)
		f |= RM_8BIT_HDR_UTF8;
	rm_mime_free(&m);
	return f;
}

/* ---- encoders ------------------------------------------------------ */

static bool line_break_at(const char *in, size_t i, size_t len)
{
	return i < len && (in[i] == '\n' ||
			   (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'));
}

void rm_mime_qp_encode(struct rm_mbuf *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[8192];
	size_t col = 0, o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool lit;

		/* room for a soft break and an escape */
		if (o > sizeof(buf) - 8) {
			rm_mbuf_add(out, buf, o);
			o = 0;
		}
		if (line_break_at(in, i, len)) {
			if (c == '\r')
				i++;
			buf[o++] = '\r';
			buf[o++] = '\n';
			col = 0;
			continue;
		}
		/* blanks are literal unless a line or the data ends after
		 * them (transports strip trailing blanks) */
		lit = (c >= 33 && c <= 126 && c != '=') ||
		      ((c == ' ' || c == '\t') && i + 1 < len &&
		       !line_break_at(in, i + 1, len));
		/* room for the soft break's '=' */
		if (col + (lit ? 1 : 3) > QP_LINE - 1) {
			buf[o++] = '=';
			buf[o++] = '\r';
			buf[o++] = '\n';
			col = 0;
		}
		if (lit) {
			buf[o++] = (char)c;
			col++;
		} else {
			buf[o++] = '=';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
			col += 3;
		}
	}
	rm_mbuf_add(out, buf, o);
}

void rm_mime_b64_encode(struct rm_mbuf *out, const char *in, size_t len)
{
	char line[QP_LINE + 4];

	for (size_t i = 0; i < len; i += 57) {
		size_t k = len - i < 57 ? len - i : 57;
		size_t n = rm_base64_encode(in + i, k, line, sizeof(line));

		if (i > 0)
			rm_mbuf_add(out, "\r\n", 2);
		rm_mbuf_add(out, line, n);
	}
}

/* ---- the conversion ------------------------------------------------ */

struct conv {
	const char *d;
	size_t len;
	struct rmail_mime *m;
	size_t np;
	struct rm_mbuf out;
	size_t pos; /* input consumed up to here */
	size_t hj;  /* first part whose header block may lie ahead */
	size_t changed;
	/* a label left 8bit for an 8-bit header below that this pass may
	 * have dropped (a Content-Transfer-Encoding it replaced) */
	bool label_kept;
};

static void put_clean(struct conv *c, size_t a, size_t b)
{
	while (a < b) {
		size_t run = a;

		while (run < b && (unsigned char)c->d[run] < 0x80)
			run++;
		rm_mbuf_add(&c->out, c->d + a, run - a);
		if (run < b) {
			rm_mbuf_addc(&c->out, '?');
			c->changed++;
			run++;
		}
		a = run;
	}
}

/* the input from pos up to `to`: header blocks as they are, the rest
 * with its 8-bit octets blanked */
static void copy_to(struct conv *c, size_t to)
{
	if (to > c->len)
		to = c->len;
	while (c->pos < to) {
		const struct rmail_mime_part *p;
		size_t ho = 0, hl = 0, bo, bl, he;

		for (; c->hj < c->np; c->hj++) {
			p = rm_mime_part(c->m, c->hj);
			span(p, c->len, &ho, &hl, &bo, &bl);
			if (ho + hl > c->pos)
				break;
		}
		if (c->hj == c->np || ho >= to) {
			put_clean(c, c->pos, to);
			c->pos = to;
			break;
		}
		if (ho > c->pos) {
			put_clean(c, c->pos, ho);
			c->pos = ho;
		}
		he = ho + hl < to ? ho + hl : to;
		rm_mbuf_add(&c->out, c->d + c->pos, he - c->pos);
		c->pos = he;
	}
}

static bool is_field(const char *l, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(l, name, k) != 0)
		return false;
	while (k < n && (l[k] == ' ' || l[k] == '\t'))
		k++;
	return k < n && l[k] == ':';
}

static void add_field(struct conv *c, const char *name, const char *value)
{
	rm_mbuf_add(&c->out, name, strlen(name));
	rm_mbuf_add(&c->out, ": ", 2);
	rm_mbuf_add(&c->out, value, strlen(value));
	rm_mbuf_add(&c->out, "\r\n", 2);
}

struct hdr_edit {
	const char *cte;     /* the new Content-Transfer-Encoding */
	const char *ctype;   /* a new Content-Type, or NULL */
	const char *mimever; /* MIME-Version to add, or NULL */
};

static void add_fields(struct conv *c, const struct hdr_edit *e)
{
	if (e->mimever != NULL)
		add_field(c, "MIME-Version", e->mimever);
	if (e->ctype != NULL)
		add_field(c, "Content-Type", e->ctype);
	add_field(c, "Content-Transfer-Encoding", e->cte);
}

/* part i's header block with Content-Transfer-Encoding (and, when
 * replaced, Content-Type) fields dropped and the new ones last */
static void emit_header(struct conv *c, size_t i, const struct hdr_edit *e)
{
	const struct rmail_mime_part *p = rm_mime_part(c->m, i);
	size_t ho, hl, bo, bl, off = 0;
	const char *h;
	bool drop = false;

	span(p, c->len, &ho, &hl, &bo, &bl);
	copy_to(c, ho);
	h = c->d + ho;
	while (off < hl) {
		const char *lf = memchr(h + off, '\n', hl - off);
		size_t end = lf != NULL ? (size_t)(lf - h) + 1 : hl;
		const char *l = h + off;
		size_t n = end - off;

		off = end;
		if (n <= 2 && (l[0] == '\n' ||
			       (n == 2 && l[0] == '\r' && l[1] == '\n'))) {
			/* the blank line: the new fields go above it */
			add_fields(c, e);
			rm_mbuf_add(&c->out, l, n);
			c->pos = ho + off;
			copy_to(c, ho + hl);
			return;
		}
		if (l[0] != ' ' && l[0] != '\t')
			drop = is_field(l, n, "Content-Transfer-Encoding") ||
			       (e->ctype != NULL &&
				is_field(l, n, "Content-Type"));
		if (!drop)
			rm_mbuf_add(&c->out, l, n);
	}
	/* a header block cut short (no blank line): fields at its end */
	add_fields(c, e);
	c->pos = ho + hl;
}

static bool starts_ci(const char *s, const char *prefix)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* text a reader shows as such: quoted-printable keeps it legible */
static bool texty(const struct rmail_mime_part *p)
{
	static const char *const msg_text[] = {
		"global-headers",
		"global-delivery-status",
		"global-disposition-notification",
		"delivery-status",
		"disposition-notification",
		"rfc822-headers",
		NULL};

	if (strcmp(p->type, "text") == 0)
		return true;
	if (strcmp(p->type, "message") != 0)
		return false;
	for (const char *const *s = msg_text; *s != NULL; s++)
		if (strcmp(p->subtype, *s) == 0)
			return true;
	return false;
}

/* at most a quarter 8-bit and no NUL: quoted-printable stays legible
 * and not much larger than base64 */
static bool mostly_ascii(const char *s, size_t n)
{
	size_t eight = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0')
			return false;
		eight += (unsigned char)s[i] >= 0x80;
	}
	return eight * 4 <= n;
}

/* the start of a message (the whole one, or one encapsulated) */
static bool msg_top(const struct conv *c, const struct rmail_mime_part *p)
{
	const struct rmail_mime_part *pp;

	if (p->parent == RMAIL_MIME_NONE)
		return true;
	pp = rm_mime_part(c->m, p->parent);
	return pp != NULL && (pp->flags & RMAIL_MIME_MESSAGE);
}

static void encode_leaf(struct conv *c, size_t i, bool force_b64)
{
	const struct rmail_mime_part *p = rm_mime_part(c->m, i);
	const char *ct = rm_mime_header(c->m, i, "Content-Type", 0, 0);
	struct rm_mbuf dec = {0}, enc = {0};
	struct hdr_edit e = {0};
	size_t ho, hl, bo, bl;
	const char *body;
	bool qp, opaque;

	span(p, c->len, &ho, &hl, &bo, &bl);
	body = c->d + bo;
	/* an encoding no 7-bit hop may see under these types (RFC 2046
	 * §5.2.1, §5.1): the content goes on as an opaque attachment */
	opaque = !force_b64 && ((strcmp(p->type, "message") == 0 &&
				 (strcmp(p->subtype, "rfc822") == 0 ||
				  strcmp(p->subtype, "partial") == 0 ||
				  strcmp(p->subtype, "external-body") == 0)) ||
				(ct != NULL && starts_ci(ct, "multipart")));
	/* an encoded body with stray 8-bit octets: what a reader would
	 * decode, encoded again */
	if (p->encoding != NULL && strcmp(p->encoding, "base64") == 0) {
		rm_mime_base64(&dec, body, bl);
		body = dec.p != NULL ? dec.p : "";
		bl = dec.len;
	} else if (p->encoding != NULL &&
		   strcmp(p->encoding, "quoted-printable") == 0) {
		rm_mime_qp(&dec, body, bl, false);
		body = dec.p != NULL ? dec.p : "";
		bl = dec.len;
	}
	qp = !force_b64 && !opaque && texty(p) && mostly_ascii(body, bl);
	if (qp)
		rm_mime_qp_encode(&enc, body, bl);
	else
		rm_mime_b64_encode(&enc, body, bl);
	e.cte = qp ? "quoted-printable" : "base64";
	if (opaque)
		e.ctype = "application/octet-stream";
	else if (ct == NULL && strcmp(p->type, "text") == 0)
		/* the default us-ascii would be wrong for these octets */
		e.ctype = rmail_utf8_valid(body, bl)
				  ? "text/plain; charset=utf-8"
				  : "text/plain; charset=unknown-8bit";
	if (msg_top(c, p) &&
	    rm_mime_header(c->m, i, "MIME-Version", 0, 0) == NULL)
		e.mimever = "1.0";
	emit_header(c, i, &e);
	rm_mbuf_add(&c->out, enc.p != NULL ? enc.p : "", enc.len);
	c->pos = bo + bl;
	/* the message ends here: its last line ends too */
	if (c->pos >= c->len && (enc.len == 0 || enc.p[enc.len - 1] != '\n'))
		rm_mbuf_add(&c->out, "\r\n", 2);
	c->changed++;
	rm_mbuf_free(&dec);
	rm_mbuf_free(&enc);
}

/* does anything 8-bit stay below container i once converted: header
 * blocks of its descendants (outside message/global) */
static bool subtree_keeps_8bit(const struct conv *c, size_t i)
{
	const struct rmail_mime_part *p = rm_mime_part(c->m, i);
	size_t ho, hl, bo, bl;

	span(p, c->len, &ho, &hl, &bo, &bl);
	for (size_t j = i + 1; j < c->np; j++) {
		const struct rmail_mime_part *q = rm_mime_part(c->m, j);

		if (q->hdr_off >= bo + bl)
			break;
		if (hdr_8bit(c->m, j, c->d, c->len))
			return true;
	}
	return false;
}

static void visit(struct conv *c, size_t i)
{
	const struct rmail_mime_part *p = rm_mime_part(c->m, i);
	size_t ho, hl, bo, bl;
	bool leaf = !(p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE));

	span(p, c->len, &ho, &hl, &bo, &bl);
	if (ho < c->pos)
		return; /* inside a part already written whole */
	if (leaf) {
		if (rm_mime_has_8bit(c->d + bo, bl))
			encode_leaf(c, i, false);
		return;
	}
	if (is_global(p)) {
		if (rm_mime_has_8bit(c->d + bo, bl))
			encode_leaf(c, i, true);
		return;
	}
	if (p->encoding == NULL || (strcmp(p->encoding, "8bit") != 0 &&
				    strcmp(p->encoding, "binary") != 0))
		return;
	if (subtree_keeps_8bit(c, i)) {
		c->label_kept = true;
	} else {
		struct hdr_edit e = {.cte = "7bit"};

		emit_header(c, i, &e);
		c->changed++;
	}
}

static size_t to7bit(const char *msg, size_t len, char **out_r,
		     size_t *out_len_r, unsigned pass)
{
	struct conv c;

	*out_r = NULL;
	*out_len_r = 0;
	if (!rm_mime_has_8bit(msg, len))
		return 0;
	memset(&c, 0, sizeof(c));
	c.d = msg;
	c.len = len;
	if (parse(msg, len, &c.m) < 0)
		return 0;
	c.np = rm_mime_part_count(c.m);
	for (size_t i = 0; i < c.np; i++)
		visit(&c, i);
	copy_to(&c, len);
	rm_mime_free(&c.m);
	if (c.changed == 0) {
		rm_mbuf_free(&c.out);
		return 0;
	}
	rm_mbuf_addc(&c.out, '\0');
	*out_r = c.out.p;
	*out_len_r = c.out.len - 1;
	if (c.label_kept && pass < CONV_MAX_PASSES) {
		/* once more over the result: only labels can change now,
		 * one level per pass at worst (a label's own comment may
		 * hold the 8-bit octet that kept its parent's) */
		char *again;
		size_t n2;

		if (to7bit(*out_r, *out_len_r, &again, &n2, pass + 1) > 0) {
			free(*out_r);
			*out_r = again;
			*out_len_r = n2;
		}
	}
	return c.changed;
}

size_t rm_mime_to7bit(const char *msg, size_t len, char **out_r,
		      size_t *out_len_r)
{
	return to7bit(msg, len, out_r, out_len_r, 1);
}
