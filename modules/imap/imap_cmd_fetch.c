/*
 * FETCH and UID FETCH.  The reply is produced incrementally: message
 * data is read from the store in slices and written only while the
 * output queue is under imap.fetch_outq; on_drain continues it.  So a
 * FETCH 1:* BODY[] of a big mailbox costs a bounded amount of memory.
 *
 * ENVELOPE, BODYSTRUCTURE and part sections need the MIME parser
 * (part 2) and are refused for now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_session.h"

#define SLICE (64 * 1024)
#define HDR_MAX (1024 * 1024)

enum {
	IT_RFC822,              /* extra items before the bodies */
	IT_RFC822_HEADER,
	IT_RFC822_TEXT,
	IT_BODIES,
};

struct imap_fetch_run {
	char tag[128];
	bool uid;
	struct imap_fetch_attrs attrs;
	uint32_t *uids;
	size_t n, i;
	/* the current message */
	bool open;              /* "* n FETCH (" written */
	bool sp;
	int item;               /* IT_* then IT_BODIES + k */
	const struct imap_fetch_body *body;
	uint64_t hdr_end;       /* UINT64_MAX: not known yet */
	uint64_t size;          /* of the current message */
	bool streaming;
	uint64_t pos, end;      /* file range still to write */
};

static char slice[SLICE];

static void fmt_date(int64_t t, char *out, size_t n)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	snprintf(out, n, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
		 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* offset just past the blank line ending the header */
static uint64_t header_end(struct imap_session *s, uint32_t uid,
			   uint64_t size)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_err err;
	uint64_t off = 0;
	size_t got;
	char prev[3] = { 0, 0, 0 };
	size_t i;

	while (off < size && off < HDR_MAX) {
		if (ops->msg_read(s->tr->mb, uid, off, slice, 4096, &got,
				  &err) < 0 || got == 0)
			break;
		for (i = 0; i < got; i++) {
			char c = slice[i];

			if (off + i == 1 && prev[2] == '\r' && c == '\n')
				return 2;       /* no header at all */
			if (c == '\n' && prev[2] == '\r' && prev[1] == '\n' &&
			    prev[0] == '\r')
				return off + i + 1;
			prev[0] = prev[1];
			prev[1] = prev[2];
			prev[2] = c;
		}
		off += got;
	}
	return size;
}

static bool field_listed(const struct imap_fetch_body *b, const char *name,
			 size_t len)
{
	unsigned i;

	for (i = 0; i < b->nfields; i++)
		if (strlen(b->fields[i]) == len &&
		    strncasecmp(b->fields[i], name, len) == 0)
			return true;
	return false;
}

/* HEADER.FIELDS [NOT]: the selected fields, then the blank line */
static char *filter_header(struct imap_session *s, uint32_t uid,
			   uint64_t hdr_end, const struct imap_fetch_body *b,
			   size_t *len_r)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_err err;
	char *h, *out;
	size_t got = 0, i = 0, o = 0;
	bool not = b->kind == IMAP_SECTION_HEADER_FIELDS_NOT;

	h = malloc((size_t)hdr_end + 1);
	out = malloc((size_t)hdr_end + 3);
	if (h == NULL || out == NULL)
		abort();
	if (ops->msg_read(s->tr->mb, uid, 0, h, (size_t)hdr_end, &got,
			  &err) < 0)
		got = 0;
	while (i < got) {
		size_t start = i, colon, end;

		/* one field: up to a line not starting with WSP */
		while (i < got) {
			char *nl = memchr(h + i, '\n', got - i);

			i = nl != NULL ? (size_t)(nl - h) + 1 : got;
			if (i >= got || (h[i] != ' ' && h[i] != '\t'))
				break;
		}
		end = i;
		if (end - start <= 2)
			break;          /* the blank line */
		for (colon = start; colon < end && h[colon] != ':'; colon++)
			;
		if (colon == end)
			continue;
		if (field_listed(b, h + start, colon - start) != not) {
			memcpy(out + o, h + start, end - start);
			o += end - start;
		}
	}
	memcpy(out + o, "\r\n", 2);
	o += 2;
	free(h);
	*len_r = o;
	return out;
}

static void item_sep(struct imap_session *s, struct imap_fetch_run *f)
{
	if (f->sp)
		imap_write(s, " ", 1);
	f->sp = true;
}

/* start a literal of range [a, b) clipped by the partial spec */
static void start_range(struct imap_session *s, struct imap_fetch_run *f,
			const char *label, uint64_t a, uint64_t b,
			const struct imap_fetch_body *body)
{
	item_sep(s, f);
	if (body != NULL && body->partial) {
		uint64_t o = body->offset, len = b - a;

		a = o >= len ? b : a + o;
		if (b - a > body->count)
			b = a + body->count;
		imap_printf(s, "%s<%u>", label, body->offset);
	} else {
		imap_printf(s, "%s", label);
	}
	imap_printf(s, " {%llu}\r\n", (unsigned long long)(b - a));
	f->pos = a;
	f->end = b;
	f->streaming = true;
}

/* write message data until done or the queue is full: true when done */
static bool stream(struct imap_session *s, struct imap_fetch_run *f,
		   uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_err err;
	size_t want, got;

	while (f->pos < f->end) {
		if (IMAP_CORE->conn_outq(s->c) > IMAP_CONF->fetch_outq)
			return false;
		want = f->end - f->pos < SLICE ? (size_t)(f->end - f->pos) :
			SLICE;
		if (ops->msg_read(s->tr->mb, uid, f->pos, slice, want, &got,
				  &err) < 0 || got == 0) {
			/* gone underneath: keep the literal's length */
			memset(slice, ' ', want);
			got = want;
		}
		imap_write(s, slice, got);
		f->pos += got;
	}
	f->streaming = false;
	return true;
}

static void body_label(const struct imap_fetch_body *b, char *out, size_t n)
{
	snprintf(out, n, "BODY[%.*s]", (int)b->section_len, b->section);
}

/* the head of the FETCH response: cheap items; false when gone */
static bool msg_begin(struct imap_session *s, struct imap_fetch_run *f,
		      uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	uint32_t flags = f->attrs.flags, seq;
	const struct rmail_msg *m = imap_view_find(s, uid, &seq);
	struct rmail_msg nm;
	struct rmail_err err;
	bool show_flags = (flags & IMAP_FETCH_FLAGS) != 0;
	char date[64], line[64];
	size_t len;

	if (m == NULL)
		return false;
	if (f->attrs.sets_seen && !s->readonly &&
	    !(m->flags & RMAIL_F_SEEN)) {
		if (ops->msg_flags(s->tr->mb, uid, RMAIL_FLAGS_ADD,
				   RMAIL_F_SEEN, NULL, 0, &nm, &err) == 0) {
			show_flags = true;
			/* our own change: not again as an update */
			if (nm.modseq != m->modseq)
				imap_uids_add(&s->selfchg, uid);
			m = imap_view_msg(s, uid);
			if (m == NULL)
				m = &nm;
		}
	}
	len = 2 + imap_put_u64(line + 2, seq);
	memcpy(line, "* ", 2);
	memcpy(line + len, " FETCH (", 8);
	len += 8;
	f->sp = false;
	if (f->uid || (flags & IMAP_FETCH_UID)) {
		memcpy(line + len, "UID ", 4);
		len += 4 + imap_put_u64(line + len + 4, uid);
		f->sp = true;
	}
	imap_write(s, line, len);
	if (show_flags) {
		item_sep(s, f);
		imap_write_flags(s, m);
	}
	if (flags & IMAP_FETCH_INTERNALDATE) {
		fmt_date(m->internaldate, date, sizeof(date));
		item_sep(s, f);
		imap_printf(s, "INTERNALDATE \"%s\"", date);
	}
	if (flags & IMAP_FETCH_RFC822_SIZE) {
		item_sep(s, f);
		imap_printf(s, "RFC822.SIZE %llu",
			    (unsigned long long)m->size);
	}
	f->open = true;
	f->size = m->size;
	f->item = IT_RFC822;
	f->body = f->attrs.bodies;
	f->hdr_end = UINT64_MAX;
	f->streaming = false;
	return true;
}

/* the next data item of the current message: false when none left */
static bool msg_item(struct imap_session *s, struct imap_fetch_run *f,
		     uint32_t uid, uint64_t size)
{
	uint32_t flags = f->attrs.flags;
	const struct imap_fetch_body *b;
	char label[512];

	while (f->item < IT_BODIES) {
		int it = f->item++;

		if (it == IT_RFC822 && (flags & IMAP_FETCH_RFC822)) {
			start_range(s, f, "RFC822", 0, size, NULL);
			return true;
		}
		if (it == IT_RFC822_HEADER &&
		    (flags & IMAP_FETCH_RFC822_HEADER)) {
			if (f->hdr_end == UINT64_MAX)
				f->hdr_end = header_end(s, uid, size);
			start_range(s, f, "RFC822.HEADER", 0, f->hdr_end, NULL);
			return true;
		}
		if (it == IT_RFC822_TEXT && (flags & IMAP_FETCH_RFC822_TEXT)) {
			if (f->hdr_end == UINT64_MAX)
				f->hdr_end = header_end(s, uid, size);
			start_range(s, f, "RFC822.TEXT", f->hdr_end, size,
				    NULL);
			return true;
		}
	}
	b = f->body;
	if (b == NULL)
		return false;
	f->body = b->next;
	body_label(b, label, sizeof(label));
	if (b->kind != IMAP_SECTION_ALL &&
	    f->hdr_end == UINT64_MAX)
		f->hdr_end = header_end(s, uid, size);
	switch (b->kind) {
	case IMAP_SECTION_ALL:
		start_range(s, f, label, 0, size, b);
		break;
	case IMAP_SECTION_HEADER:
		start_range(s, f, label, 0, f->hdr_end, b);
		break;
	case IMAP_SECTION_TEXT:
		start_range(s, f, label, f->hdr_end, size, b);
		break;
	default: {
		size_t len, a = 0;
		char *h = filter_header(s, uid, f->hdr_end, b, &len);

		item_sep(s, f);
		if (b->partial) {
			a = b->offset < len ? b->offset : len;
			len -= a;
			if (len > b->count)
				len = b->count;
			imap_printf(s, "%s<%u> {%zu}\r\n", label, b->offset,
				    len);
		} else {
			imap_printf(s, "%s {%zu}\r\n", label, len);
		}
		imap_write(s, h + a, len);
		free(h);
		break;
	}
	}
	return true;
}

static void fetch_finish(struct imap_session *s)
{
	struct imap_fetch_run *f = s->fetch;
	char tag[sizeof(f->tag)];

	memcpy(tag, f->tag, sizeof(tag));
	imap_fetch_free(s);
	/* no EXPUNGE during FETCH (RFC 3501 7.4.1) */
	imap_tagged(s, tag, false, "OK FETCH completed");
	imap_async_end(s);
}

void imap_fetch_continue(struct imap_session *s)
{
	struct imap_fetch_run *f = s->fetch;

	while (f->i < f->n) {
		uint32_t uid = f->uids[f->i];

		if (IMAP_CORE->conn_outq(s->c) > IMAP_CONF->fetch_outq)
			return;
		if (!f->open) {
			if (!msg_begin(s, f, uid)) {
				f->i++;
				continue;
			}
		}
		if (f->streaming && !stream(s, f, uid))
			return;
		if (msg_item(s, f, uid, f->size)) {
			if (f->streaming && !stream(s, f, uid))
				return;
			continue;
		}
		imap_write(s, ")\r\n", 3);
		f->open = false;
		f->i++;
	}
	fetch_finish(s);
}

void imap_fetch_free(struct imap_session *s)
{
	if (s->fetch == NULL)
		return;
	free(s->fetch->uids);
	free(s->fetch);
	s->fetch = NULL;
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	const struct imap_arg *set = cmd->args;
	struct imap_fetch_run *f;
	const char *why = NULL;
	const struct imap_fetch_body *b;

	if (set == NULL || set->type != IMAP_ARG_ATOM || set->next == NULL ||
	    set->next->next != NULL) {
		imap_tagged(s, cmd->tag, false, "BAD FETCH set items");
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		abort();
	if (imap_fetch_parse(set->next, &s->arena, &f->attrs, &why) < 0) {
		free(f);
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	for (b = f->attrs.bodies; b != NULL; b = b->next)
		if (b->nparts > 0)
			why = "Body part sections are not supported yet";
	if (f->attrs.flags & (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY |
			      IMAP_FETCH_BODYSTRUCTURE))
		why = "ENVELOPE and BODYSTRUCTURE are not supported yet";
	if (why != NULL) {
		free(f);
		imap_tagged(s, cmd->tag, false, "NO %s", why);
		return;
	}
	if (imap_set_uids(s, set->str, uid, &f->uids, &f->n, &why) < 0) {
		free(f);
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	f->uid = uid;
	snprintf(f->tag, sizeof(f->tag), "%s", cmd->tag);
	s->fetch = f;
	imap_async_begin(s, cmd->tag);
	imap_fetch_continue(s);
}
