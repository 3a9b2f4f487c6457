/*
 * ENVELOPE, BODYSTRUCTURE and BODY (RFC 3501 7.4.2) from the core's
 * parsed message.  ENVELOPE strings are the header values as sent
 * (unfolded, encoded-words kept: clients decode them); parameters come
 * decoded from RFC 2231, so 8-bit values go out as literals.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_mime.h"

/* 8-bit, CR/LF or very long strings need a literal */
#define QUOTED_MAX 1024
/* recursion over the part tree is bounded by the parser's max_depth */
#define BS_MAX_DEPTH 64

void imap_buf_reserve(struct imap_buf *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap < 256 ? 256 : b->cap;

		while (cap - b->len < n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
}

void imap_buf_add(struct imap_buf *b, const void *d, size_t n)
{
	if (n == 0)
		return;
	imap_buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void imap_buf_puts(struct imap_buf *b, const char *s)
{
	imap_buf_add(b, s, strlen(s));
}

void imap_buf_free(struct imap_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void buf_u64(struct imap_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	imap_buf_add(b, tmp + i, sizeof(tmp) - i);
}

void imap_buf_nstring(struct imap_buf *b, const char *s)
{
	size_t i, n;
	bool lit = false;

	if (s == NULL) {
		imap_buf_add(b, "NIL", 3);
		return;
	}
	n = strlen(s);
	for (i = 0; i < n && !lit; i++) {
		unsigned char ch = (unsigned char)s[i];

		lit = ch == '\r' || ch == '\n' || ch >= 0x80;
	}
	if (lit || n > QUOTED_MAX) {
		imap_buf_add(b, "{", 1);
		buf_u64(b, n);
		imap_buf_add(b, "}\r\n", 3);
		imap_buf_add(b, s, n);
		return;
	}
	imap_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			imap_buf_add(b, "\\", 1);
		imap_buf_add(b, s + i, 1);
	}
	imap_buf_add(b, "\"", 1);
}

/* ---- ENVELOPE ---------------------------------------------------- */

/* The parser hands display names decoded; an IMAP4rev1 string cannot
 * carry 8-bit text safely, so a name that came as encoded-words (the
 * header has "=?") goes back out as one RFC 2047 encoded-word, which
 * every client decodes.  Raw 8-bit names stay literals, as Dovecot
 * sends them. */
static void name_nstring(const struct rmail_core *core, struct imap_buf *b,
			 const char *s, bool had_ew)
{
	struct imap_buf w = {0};
	char *enc;
	size_t n, i;
	bool eight = false;

	for (i = 0; s != NULL && s[i] != '\0' && !eight; i++)
		eight = (unsigned char)s[i] >= 0x80;
	if (!eight || !had_ew || core->base64_encode == NULL) {
		imap_buf_nstring(b, s);
		return;
	}
	n = strlen(s);
	enc = malloc((n + 2) / 3 * 4 + 1);
	if (enc == NULL)
		abort();
	core->base64_encode(s, n, enc, (n + 2) / 3 * 4 + 1);
	imap_buf_puts(&w, "=?UTF-8?B?");
	imap_buf_puts(&w, enc);
	imap_buf_puts(&w, "?=");
	imap_buf_add(&w, "", 1);
	imap_buf_nstring(b, w.p);
	imap_buf_free(&w);
	free(enc);
}

static bool addr_list(const struct rmail_core *core, struct rmail_mime *m,
		      size_t idx, const char *name, struct imap_buf *b)
{
	const char *v = core->mime_header(m, idx, name, 0, 0);
	const struct rmail_mime_addr *a;
	size_t n, i;
	bool ew;

	if (v == NULL || core->mime_addresses(m, v, &a, &n) < 0 || n == 0)
		return false;
	ew = strstr(v, "=?") != NULL;
	imap_buf_add(b, "(", 1);
	for (i = 0; i < n; i++) {
		imap_buf_add(b, "(", 1);
		if (a[i].mailbox == NULL) {
			/* group start (mailbox = its name) or end */
			imap_buf_add(b, "NIL NIL ", 8);
			name_nstring(core, b, a[i].group, ew);
			imap_buf_add(b, " NIL", 4);
		} else {
			name_nstring(core, b, a[i].name, ew);
			imap_buf_add(b, " ", 1);
			imap_buf_nstring(b, a[i].route);
			imap_buf_add(b, " ", 1);
			imap_buf_nstring(b, a[i].mailbox);
			imap_buf_add(b, " ", 1);
			/* a NIL host would read as group syntax */
			imap_buf_nstring(b, a[i].host != NULL
						    ? a[i].host
						    : ".MISSING-HOST-NAME.");
		}
		imap_buf_add(b, ")", 1);
	}
	imap_buf_add(b, ")", 1);
	return true;
}

void imap_envelope_write(const struct rmail_core *core, struct rmail_mime *m,
			 size_t idx, struct imap_buf *b)
{
	static const char *const fields[] = {
		"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	};
	size_t i;

	imap_buf_add(b, "(", 1);
	imap_buf_nstring(b, core->mime_header(m, idx, "Date", 0, 0));
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, core->mime_header(m, idx, "Subject", 0, 0));
	for (i = 0; i < 6; i++) {
		imap_buf_add(b, " ", 1);
		if (addr_list(core, m, idx, fields[i], b))
			continue;
		/* Sender and Reply-To default to From (RFC 3501 7.4.2) */
		if ((i == 1 || i == 2) && addr_list(core, m, idx, "From", b))
			continue;
		imap_buf_add(b, "NIL", 3);
	}
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, core->mime_header(m, idx, "In-Reply-To", 0, 0));
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, core->mime_header(m, idx, "Message-ID", 0, 0));
	imap_buf_add(b, ")", 1);
}

/* ---- BODYSTRUCTURE ----------------------------------------------- */

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static const char *raw(const struct rmail_core *core, struct rmail_mime *m,
		       size_t idx, const char *name)
{
	return core->mime_header(m, idx, name, 0, 0);
}

/* Content-Description as sent: encoded-words are the client's to
 * decode, and an IMAP4rev1 string cannot carry 8-bit text safely */
static void description(const struct rmail_core *core, struct rmail_mime *m,
			size_t idx, struct imap_buf *b)
{
	const char *d = raw(core, m, idx, "Content-Description");

	while (d != NULL && (*d == ' ' || *d == '\t'))
		d++;
	imap_buf_nstring(b, d);
}

static void disp_lang_loc(const struct rmail_core *core, struct rmail_mime *m,
			  size_t idx, struct imap_buf *b,
			  const struct rmail_mime_part *p)
{
	const char *l = p->language, *c;

	if (p->disposition != NULL) {
		imap_buf_add(b, "(", 1);
		imap_buf_nstring(b, p->disposition);
		imap_buf_add(b, " ", 1);
		imap_bs_params(b, raw(core, m, idx, "Content-Disposition"),
			       NULL);
		imap_buf_add(b, ")", 1);
	} else {
		imap_buf_add(b, "NIL", 3);
	}
	imap_buf_add(b, " ", 1);
	if (l == NULL) {
		imap_buf_add(b, "NIL", 3);
	} else {
		/* a list of tags, always a list as Dovecot sends it */
		bool first = true;

		imap_buf_add(b, "(", 1);
		while (*l != '\0') {
			char tag[128];
			size_t n;

			while (*l == ' ' || *l == '\t' || *l == ',')
				l++;
			c = l;
			while (*l != '\0' && *l != ',' && *l != ' ' &&
			       *l != '\t')
				l++;
			n = (size_t)(l - c);
			if (n == 0)
				continue;
			if (n >= sizeof(tag))
				n = sizeof(tag) - 1;
			memcpy(tag, c, n);
			tag[n] = '\0';
			if (!first)
				imap_buf_add(b, " ", 1);
			imap_buf_nstring(b, tag);
			first = false;
		}
		if (first)
			imap_buf_add(b, "\"\"", 2);
		imap_buf_add(b, ")", 1);
	}
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, p->location);
}

static void encoding(struct imap_buf *b, const char *e)
{
	char up[64];
	size_t i;

	if (e == NULL || *e == '\0' || strlen(e) >= sizeof(up)) {
		imap_buf_add(b, "\"7BIT\"", 6);
		return;
	}
	for (i = 0; e[i] != '\0'; i++)
		up[i] = (char)(e[i] >= 'a' && e[i] <= 'z' ? e[i] - 32 : e[i]);
	up[i] = '\0';
	imap_buf_nstring(b, up);
}

static void empty_body(struct imap_buf *b)
{
	imap_buf_puts(b, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
			 "NIL \"7BIT\" 0 0)");
}

static void structure(const struct rmail_core *core, struct rmail_mime *m,
		      size_t idx, bool ext, unsigned depth, struct imap_buf *b)
{
	const struct rmail_mime_part *p = core->mime_part(m, idx);
	bool text, msg;

	if (p == NULL || depth > BS_MAX_DEPTH) {
		empty_body(b);
		return;
	}
	if ((p->flags & RMAIL_MIME_MULTIPART) &&
	    p->first_child != RMAIL_MIME_NONE) {
		uint32_t ch;

		imap_buf_add(b, "(", 1);
		for (ch = p->first_child; ch != RMAIL_MIME_NONE;) {
			const struct rmail_mime_part *cp =
				core->mime_part(m, ch);

			structure(core, m, ch, ext, depth + 1, b);
			ch = cp != NULL ? cp->next_sibling : RMAIL_MIME_NONE;
		}
		imap_buf_add(b, " ", 1);
		imap_buf_nstring(b, p->subtype);
		if (ext) {
			imap_buf_add(b, " ", 1);
			imap_bs_params(b, raw(core, m, idx, "Content-Type"),
				       NULL);
			imap_buf_add(b, " ", 1);
			disp_lang_loc(core, m, idx, b, p);
		}
		imap_buf_add(b, ")", 1);
		return;
	}
	text = strcmp(p->type, "text") == 0 ||
	       (p->flags & RMAIL_MIME_MULTIPART);
	msg = strcmp(p->type, "message") == 0 &&
	      strcmp(p->subtype, "rfc822") == 0;
	imap_buf_add(b, "(", 1);
	if (p->flags & RMAIL_MIME_MULTIPART) {
		imap_buf_puts(b, "\"text\" \"plain\"");
	} else {
		imap_buf_nstring(b, p->type);
		imap_buf_add(b, " ", 1);
		imap_buf_nstring(b, p->subtype);
	}
	imap_buf_add(b, " ", 1);
	imap_bs_params(b,
		       (p->flags & RMAIL_MIME_MULTIPART)
			       ? NULL
			       : raw(core, m, idx, "Content-Type"),
		       text ? "us-ascii" : NULL);
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, p->id);
	imap_buf_add(b, " ", 1);
	description(core, m, idx, b);
	imap_buf_add(b, " ", 1);
	encoding(b, p->encoding);
	imap_buf_add(b, " ", 1);
	buf_u64(b, p->body_len);
	if (msg) {
		imap_buf_add(b, " ", 1);
		if ((p->flags & RMAIL_MIME_MESSAGE) &&
		    p->first_child != RMAIL_MIME_NONE) {
			imap_envelope_write(core, m, p->first_child, b);
			imap_buf_add(b, " ", 1);
			structure(core, m, p->first_child, ext, depth + 1, b);
		} else {
			/* encoded or cut by a limit: nothing inside */
			imap_buf_puts(b, "(NIL NIL NIL NIL NIL NIL NIL NIL "
					 "NIL NIL) ");
			empty_body(b);
		}
	}
	if (text || msg) {
		imap_buf_add(b, " ", 1);
		buf_u64(b, p->body_lines);
	}
	if (ext) {
		imap_buf_add(b, " ", 1);
		imap_buf_nstring(b, p->md5);
		imap_buf_add(b, " ", 1);
		disp_lang_loc(core, m, idx, b, p);
	}
	imap_buf_add(b, ")", 1);
}

/* ---- the cached summary ------------------------------------------ */

const struct rmail_mime_limits imap_mime_limits = {
	.size = sizeof(struct rmail_mime_limits),
};

struct imap_msginfo *imap_msginfo_build(const struct rmail_core *core,
					const char *data, size_t len)
{
	struct imap_buf env = {0}, bs = {0}, body = {0}, pv = {0};
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	struct imap_msginfo *mi;
	size_t n, i, psz;
	char *p;

	if (core->mime_parse(data, len, &imap_mime_limits, &m, &err) < 0)
		return NULL;
	imap_envelope_write(core, m, 0, &env);
	structure(core, m, 0, true, 0, &bs);
	structure(core, m, 0, false, 0, &body);
	imap_preview_build(core, m, &pv);
	n = core->mime_part_count(m);
	psz = n * sizeof(struct imap_mpart);
	mi = malloc(sizeof(*mi) + psz + env.len + bs.len + body.len + pv.len +
		    4);
	if (mi == NULL)
		abort();
	memset(mi, 0, sizeof(*mi));
	mi->parts = (struct imap_mpart *)(mi + 1);
	for (i = 0; i < n; i++) {
		const struct rmail_mime_part *mp = core->mime_part(m, i);
		struct imap_mpart *q = &mi->parts[i];

		q->hdr_off = mp->hdr_off;
		q->hdr_len = mp->hdr_len;
		q->body_off = mp->body_off;
		q->body_len = mp->body_len;
		q->first_child = mp->first_child;
		q->next_sibling = mp->next_sibling;
		q->flags = mp->flags;
	}
	mi->nparts = (uint32_t)n;
	p = (char *)(mi->parts + n);
	mi->envelope = p;
	mi->envelope_len = env.len;
	memcpy(p, env.p, env.len);
	p[env.len] = '\0';
	p += env.len + 1;
	mi->bodystructure = p;
	mi->bodystructure_len = bs.len;
	memcpy(p, bs.p, bs.len);
	p[bs.len] = '\0';
	p += bs.len + 1;
	mi->body = p;
	mi->body_len = body.len;
	memcpy(p, body.p, body.len);
	p[body.len] = '\0';
	p += body.len + 1;
	mi->preview = p;
	mi->preview_len = pv.len;
	if (pv.len > 0)
		memcpy(p, pv.p, pv.len);
	p[pv.len] = '\0';
	imap_threadid_derive(core->mime_header(m, 0, "Message-ID", 0, 0),
			     core->mime_header(m, 0, "References", 0, 0),
			     core->mime_header(m, 0, "In-Reply-To", 0, 0),
			     mi->threadid);
	mi->mem = sizeof(*mi) + psz + env.len + bs.len + body.len + pv.len + 4;
	imap_buf_free(&pv);
	imap_buf_free(&env);
	imap_buf_free(&bs);
	imap_buf_free(&body);
	core->mime_free(&m);
	return mi;
}

void imap_msginfo_free(struct imap_msginfo *mi)
{
	if (mi == NULL)
		return;
	free(mi->key);
	free(mi);
}

/* ---- sections ---------------------------------------------------- */

static uint32_t nth_child(const struct imap_msginfo *mi, uint32_t idx,
			  uint32_t n)
{
	uint32_t ch = mi->parts[idx].first_child;

	while (ch != RMAIL_MIME_NONE && ch < mi->nparts && --n > 0)
		ch = mi->parts[ch].next_sibling;
	return ch < mi->nparts ? ch : RMAIL_MIME_NONE;
}

int imap_section_range(const struct imap_msginfo *mi, const uint32_t *part,
		       unsigned int nparts, enum imap_sect_what what,
		       uint64_t *off_r, uint64_t *len_r)
{
	/* msg: the node whose body the next number indexes */
	uint32_t msg = 0, cur = 0;
	const struct imap_mpart *p;
	unsigned int i;

	if (mi->nparts == 0)
		return -1;
	for (i = 0; i < nparts; i++) {
		if (msg == RMAIL_MIME_NONE || part[i] == 0)
			return -1;
		if (mi->parts[msg].flags & RMAIL_MIME_MULTIPART) {
			cur = nth_child(mi, msg, part[i]);
			if (cur == RMAIL_MIME_NONE)
				return -1;
		} else if (part[i] == 1) {
			cur = msg;
		} else {
			return -1;
		}
		p = &mi->parts[cur];
		if (p->flags & RMAIL_MIME_MESSAGE)
			msg = p->first_child < mi->nparts ? p->first_child
							  : RMAIL_MIME_NONE;
		else if ((p->flags & RMAIL_MIME_MULTIPART) && cur != msg)
			msg = cur;
		else
			msg = RMAIL_MIME_NONE;
	}
	p = &mi->parts[cur];
	switch (what) {
	case IMAP_SECT_BODY:
		*off_r = p->body_off;
		*len_r = p->body_len;
		return 0;
	case IMAP_SECT_MIME:
		*off_r = p->hdr_off;
		*len_r = p->hdr_len;
		return 0;
	default:
		break;
	}
	if (nparts > 0) {
		if (!(p->flags & RMAIL_MIME_MESSAGE) ||
		    p->first_child >= mi->nparts) {
			*off_r = p->body_off;
			*len_r = 0;
			return 0;
		}
		p = &mi->parts[p->first_child];
	}
	if (what == IMAP_SECT_MSG_HEADER) {
		*off_r = p->hdr_off;
		*len_r = p->hdr_len;
	} else {
		*off_r = p->body_off;
		*len_r = p->body_len;
	}
	return 0;
}
