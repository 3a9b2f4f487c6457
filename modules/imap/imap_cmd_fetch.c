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
#include <unistd.h>

#include "imap_mime.h"
#include "imap_modseq.h"
#include "imap_session.h"

#define SLICE (64 * 1024)
#define HDR_MAX (1024 * 1024)
/* one parse job: this many messages or bytes, whichever comes first */
#define JOB_MSGS 64
#define JOB_BYTES (16u * 1024 * 1024)

enum {
	IT_RFC822, /* extra items before the bodies */
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
	bool open; /* "* n FETCH (" written */
	bool sp;
	int item; /* IT_* then IT_BODIES + k */
	const struct imap_fetch_body *body;
	uint64_t hdr_end; /* UINT64_MAX: not known yet */
	uint64_t size;	  /* of the current message */
	bool streaming;
	uint64_t pos, end; /* file range still to write */
	/* parsed summaries */
	bool need_info;
	struct parse_job *job;	  /* in flight: the FETCH waits */
	struct imap_msginfo *own; /* unreadable message: not cached */
	uint32_t own_uid;
	/* message data comes from a descriptor opened at the start of each
	 * message: a file unlinked or renamed meanwhile still reads whole */
	bool need_data;
	int fd;
	uint32_t dead_uid; /* its parse found it gone */
	bool expunged;	   /* some were: [EXPUNGEISSUED] */
	bool modseq;	   /* MODSEQ asked, or implied (RFC 7162) */
	/* BINARY items (RFC 3516) of one message, decoded on the READ
	 * pool before its reply starts, in the order of the items */
	struct bin_job *bjob;	     /* in flight: the FETCH waits */
	uint32_t bin_uid;	     /* whose results `bin` holds; 0: none */
	struct imap_bin_result *bin; /* attrs.nbinary of them */
	unsigned bin_k;		     /* the next BINARY item's */
};

struct bin_job {
	struct imap_session *s;
	struct rmail_conn *c;
	struct imap_tracker *t;
	struct imap_fetch_run *f;
	uint32_t uid;
	uint64_t size;
	bool unreadable;
	unsigned n;
	struct bin_sect {
		uint32_t part[IMAP_FETCH_MAX_PARTS];
		unsigned nparts;
	} * sect; /* copies: the command arena dies with the session */
	struct imap_bin_result *res;
};

struct parse_job {
	struct imap_session *s;
	struct rmail_conn *c;
	struct imap_tracker *t;
	struct imap_fetch_run *f;
	size_t n;
	uint32_t uids[JOB_MSGS];
	uint64_t sizes[JOB_MSGS];
	struct imap_msginfo *mi[JOB_MSGS];
};

static char slice[SLICE];

/* [off, off+len) of the current message: *got_r < len at its end */
static int msg_pread(struct imap_session *s, uint32_t uid, uint64_t off,
		     void *buf, size_t len, size_t *got_r)
{
	struct imap_fetch_run *f = s->fetch;
	struct rmail_err err;
	size_t got = 0;

	if (f == NULL || f->fd < 0)
		return imap_store(s->mod, NULL)
			->msg_read(s->tr->mb, uid, off, buf, len, got_r, &err);
	while (got < len) {
		ssize_t r = pread(f->fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*got_r = got;
	return 0;
}

static void msg_close(struct imap_fetch_run *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void fmt_date(int64_t t, char *out, size_t n)
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	snprintf(out, n, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
		 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* offset just past the blank line ending the header */
static uint64_t header_end(struct imap_session *s, uint32_t uid, uint64_t size)
{
	uint64_t off = 0;
	size_t got;
	char prev[3] = {0, 0, 0};
	size_t i;

	while (off < size && off < HDR_MAX) {
		if (msg_pread(s, uid, off, slice, 4096, &got) < 0 || got == 0)
			break;
		for (i = 0; i < got; i++) {
			char c = slice[i];

			if (off + i == 1 && prev[2] == '\r' && c == '\n')
				return 2; /* no header at all */
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
			   uint64_t hdr_off, uint64_t hdr_len,
			   const struct imap_fetch_body *b, size_t *len_r)
{
	char *h, *out;
	size_t got = 0, i = 0, o = 0;
	bool not = b->kind == IMAP_SECTION_HEADER_FIELDS_NOT;

	if (hdr_len > HDR_MAX)
		hdr_len = HDR_MAX;
	h = malloc((size_t)hdr_len + 1);
	out = malloc((size_t)hdr_len + 3);
	if (h == NULL || out == NULL)
		abort();
	if (msg_pread(s, uid, hdr_off, h, (size_t)hdr_len, &got) < 0)
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
			break; /* the blank line */
		for (colon = start; colon < end && h[colon] != ':'; colon++)
			;
		if (colon == end)
			continue;
		if (field_listed(b, h + start, colon - start) != not ) {
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
	size_t want, got;

	while (f->pos < f->end) {
		if (s->mod->core->conn_outq(s->c) >
		    imap_conf(s->mod)->fetch_outq)
			return false;
		want = f->end - f->pos < SLICE ? (size_t)(f->end - f->pos)
					       : SLICE;
		if (msg_pread(s, uid, f->pos, slice, want, &got) < 0 ||
		    got == 0) {
			/* truncated underneath: keep the literal's length */
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
	snprintf(out, n, "%s[%.*s]",
		 b->binary == IMAP_BIN_DATA   ? "BINARY"
		 : b->binary == IMAP_BIN_SIZE ? "BINARY.SIZE"
					      : "BODY",
		 (int)b->section_len, b->section);
}

/* PREVIEW (RFC 8970) from the summary; with LAZY only a cached one */
static void preview_write(struct imap_session *s, struct imap_fetch_run *f,
			  uint32_t uid, uint64_t size,
			  const struct imap_msginfo *mi)
{
	const struct imap_tracker *t = s->tr;
	struct imap_buf b = {0};

	(void)f;
	if (mi == NULL)
		mi = imap_cache_get(t->user, t->name, t->uidvalidity, uid,
				    size);
	imap_buf_puts(&b, "PREVIEW ");
	imap_buf_nstring(&b, mi != NULL ? mi->preview : NULL);
	imap_write(s, b.p, b.len);
	imap_buf_free(&b);
}

/*
 * A message in the session's map that is gone from the store (expunged
 * by another session, EXPUNGE not sent yet): its last known flags, size
 * and date, the parsed summary if cached, NIL for its contents, never
 * empty data; the tagged reply carries [EXPUNGEISSUED] (RFC 5530).
 */
static void msg_dead(struct imap_session *s, struct imap_fetch_run *f,
		     uint32_t uid, const struct imap_msginfo *mi)
{
	const struct imap_tracker *t = s->tr;
	uint32_t flags = f->attrs.flags;
	const struct imap_fetch_body *b;
	struct rmail_msg d;
	char date[64], label[512];

	if (!imap_view_dead(s, uid, &d))
		return;
	f->expunged = true;
	if (mi == NULL || (f->own_uid == uid && mi == f->own))
		mi = imap_cache_get(t->user, t->name, t->uidvalidity, uid,
				    d.size);
	imap_printf(s, "* %u FETCH (UID %u", imap_uid_to_seq(s, uid), uid);
	if (flags & IMAP_FETCH_FLAGS) {
		imap_write(s, " ", 1);
		imap_write_flags(s, &d);
	}
	if (f->modseq || (s->condstore && (flags & IMAP_FETCH_FLAGS)))
		imap_write_modseq(s, &d);
	if (flags & IMAP_FETCH_INTERNALDATE) {
		fmt_date(d.internaldate, date, sizeof(date));
		imap_printf(s, " INTERNALDATE \"%s\"", date);
	}
	if (flags & IMAP_FETCH_SAVEDATE) {
		fmt_date(imap_savedate(s->mod, t->mb, &d), date, sizeof(date));
		imap_printf(s, " SAVEDATE \"%s\"", date);
	}
	if (flags & IMAP_FETCH_RFC822_SIZE)
		imap_printf(s, " RFC822.SIZE %llu", (unsigned long long)d.size);
	if (flags & IMAP_FETCH_THREADID) {
		char id[RMAIL_OBJECTID_MAX];

		/* the file is gone: only a header already read names it */
		if (mi != NULL && mi->threadid[0] != '\0' &&
		    imap_threadid(s->mod, t->mb, uid, mi->threadid, id) == 0)
			imap_printf(s, " THREADID (%s)", id);
		else
			imap_printf(s, " THREADID NIL");
	}
	if (flags & IMAP_FETCH_PREVIEW) {
		imap_write(s, " ", 1);
		preview_write(s, f, uid, d.size, mi);
	}
	if (mi != NULL && (flags & IMAP_FETCH_ENVELOPE)) {
		imap_write(s, " ENVELOPE ", 10);
		imap_write(s, mi->envelope, mi->envelope_len);
	}
	if (mi != NULL && (flags & IMAP_FETCH_BODY)) {
		imap_write(s, " BODY ", 6);
		imap_write(s, mi->body, mi->body_len);
	}
	if (mi != NULL && (flags & IMAP_FETCH_BODYSTRUCTURE)) {
		imap_write(s, " BODYSTRUCTURE ", 15);
		imap_write(s, mi->bodystructure, mi->bodystructure_len);
	}
	if (flags & IMAP_FETCH_RFC822)
		imap_printf(s, " RFC822 NIL");
	if (flags & IMAP_FETCH_RFC822_HEADER)
		imap_printf(s, " RFC822.HEADER NIL");
	if (flags & IMAP_FETCH_RFC822_TEXT)
		imap_printf(s, " RFC822.TEXT NIL");
	for (b = f->attrs.bodies; b != NULL; b = b->next) {
		body_label(b, label, sizeof(label));
		if (b->partial)
			imap_printf(s, " %s<%u> NIL", label, b->offset);
		else
			imap_printf(s, " %s NIL", label);
	}
	imap_write(s, ")\r\n", 3);
}

/* the head of the FETCH response: cheap items; false when gone */
static bool msg_begin(struct imap_session *s, struct imap_fetch_run *f,
		      uint32_t uid, const struct imap_msginfo *mi)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	uint32_t flags = f->attrs.flags, seq;
	const struct rmail_msg *m = imap_view_find(s, uid, &seq);
	struct rmail_msg nm, before, cur;
	struct rmail_err err;
	bool show_flags = (flags & IMAP_FETCH_FLAGS) != 0;
	char date[64], line[64];
	size_t len;

	msg_close(f);
	if (m != NULL && f->dead_uid == uid)
		m = NULL;
	if (m != NULL && f->need_data &&
	    ops->msg_open(s->tr->mb, uid, &f->fd, &err) < 0) {
		f->fd = -1;
		m = NULL;
	}
	if (m == NULL) {
		msg_dead(s, f, uid, mi);
		return false;
	}
	if (f->attrs.sets_seen && !s->readonly && !(m->flags & RMAIL_F_SEEN)) {
		before = *m;
		if (ops->msg_flags(s->tr->mb, uid, RMAIL_FLAGS_ADD,
				   RMAIL_F_SEEN, NULL, 0, &nm, &err) == 0) {
			show_flags = true;
			/* our own change: not again as an update */
			imap_view_selfchg(s, uid, &before, &nm);
			m = imap_view_msg(s, uid);
			if (m == NULL)
				m = &nm;
			/* the view may not know the new modseq yet */
			cur = *m;
			if (nm.modseq > cur.modseq)
				cur.modseq = nm.modseq;
			m = &cur;
		}
	}
	len = 2 + imap_put_u64(line + 2, seq);
	memcpy(line, "* ", 2);
	memcpy(line + len, " FETCH (", 8);
	len += 8;
	f->sp = false;
	/* with CONDSTORE on, every FETCH showing flags carries UID and
	 * MODSEQ (RFC 7162 3.1.4) */
	if (f->uid || (flags & IMAP_FETCH_UID) ||
	    (s->condstore && show_flags)) {
		memcpy(line + len, "UID ", 4);
		len += 4 + imap_put_u64(line + len + 4, uid);
		f->sp = true;
	}
	imap_write(s, line, len);
	if (show_flags) {
		item_sep(s, f);
		imap_write_flags(s, m);
	}
	if (f->modseq || (s->condstore && show_flags)) {
		item_sep(s, f);
		imap_write(s, "MODSEQ (", 8);
		len = imap_put_u64(line, imap_msg_modseq(m));
		imap_write(s, line, len);
		imap_write(s, ")", 1);
	}
	if (flags & IMAP_FETCH_EMAILID) {
		char id[RMAIL_OBJECTID_MAX];

		/* gone since the view saw it: left out, like ENVELOPE
		 * without a summary */
		if (imap_emailid(s, s->tr->mb, uid, id) == 0) {
			item_sep(s, f);
			imap_printf(s, "EMAILID (%s)", id);
		}
	}
	if (flags & IMAP_FETCH_THREADID) {
		char id[RMAIL_OBJECTID_MAX];

		/* from the summary's header; NIL (RFC 8474 5.2) only for a
		 * message that could not be parsed or is gone */
		item_sep(s, f);
		if (mi != NULL && imap_threadid(s->mod, s->tr->mb, uid,
						mi->threadid, id) == 0)
			imap_printf(s, "THREADID (%s)", id);
		else
			imap_write(s, "THREADID NIL", 12);
	}
	if (flags & IMAP_FETCH_PREVIEW) {
		item_sep(s, f);
		preview_write(s, f, uid, m->size, mi);
	}
	if (flags & IMAP_FETCH_INTERNALDATE) {
		fmt_date(m->internaldate, date, sizeof(date));
		item_sep(s, f);
		imap_printf(s, "INTERNALDATE \"%s\"", date);
	}
	if (flags & IMAP_FETCH_SAVEDATE) {
		fmt_date(imap_savedate(s->mod, s->tr->mb, m), date,
			 sizeof(date));
		item_sep(s, f);
		imap_printf(s, "SAVEDATE \"%s\"", date);
	}
	if (flags & IMAP_FETCH_RFC822_SIZE) {
		item_sep(s, f);
		imap_printf(s, "RFC822.SIZE %llu", (unsigned long long)m->size);
	}
	if (mi != NULL && (flags & IMAP_FETCH_ENVELOPE)) {
		item_sep(s, f);
		imap_write(s, "ENVELOPE ", 9);
		imap_write(s, mi->envelope, mi->envelope_len);
	}
	if (mi != NULL && (flags & IMAP_FETCH_BODY)) {
		item_sep(s, f);
		imap_write(s, "BODY ", 5);
		imap_write(s, mi->body, mi->body_len);
	}
	if (mi != NULL && (flags & IMAP_FETCH_BODYSTRUCTURE)) {
		item_sep(s, f);
		imap_write(s, "BODYSTRUCTURE ", 14);
		imap_write(s, mi->bodystructure, mi->bodystructure_len);
	}
	f->open = true;
	f->size = m->size;
	f->item = IT_RFC822;
	f->body = f->attrs.bodies;
	f->hdr_end = UINT64_MAX;
	f->streaming = false;
	return true;
}

/* HEADER.FIELDS [NOT] of the header at [off, off+len) */
static void fields_item(struct imap_session *s, struct imap_fetch_run *f,
			uint32_t uid, const struct imap_fetch_body *b,
			const char *label, uint64_t off, uint64_t len)
{
	size_t n, a = 0;
	char *h = filter_header(s, uid, off, len, b, &n);

	item_sep(s, f);
	if (b->partial) {
		a = b->offset < n ? b->offset : n;
		n -= a;
		if (n > b->count)
			n = b->count;
		imap_printf(s, "%s<%u> {%zu}\r\n", label, b->offset, n);
	} else {
		imap_printf(s, "%s {%zu}\r\n", label, n);
	}
	imap_write(s, h + a, n);
	free(h);
}

/* a section with part numbers (or MIME): ranges from the summary */
static bool part_item(struct imap_session *s, struct imap_fetch_run *f,
		      uint32_t uid, const struct imap_fetch_body *b,
		      const char *label, const struct imap_msginfo *mi)
{
	enum imap_sect_what what = IMAP_SECT_BODY;
	uint64_t off, len;

	switch (b->kind) {
	case IMAP_SECTION_MIME:
		what = IMAP_SECT_MIME;
		break;
	case IMAP_SECTION_TEXT:
		what = IMAP_SECT_MSG_TEXT;
		break;
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		what = IMAP_SECT_MSG_HEADER;
		break;
	default:
		break;
	}
	if (mi == NULL ||
	    imap_section_range(mi, b->part, b->nparts, what, &off, &len) < 0) {
		/* no such part: NIL, as deployed servers answer */
		item_sep(s, f);
		if (b->partial)
			imap_printf(s, "%s<%u> NIL", label, b->offset);
		else
			imap_printf(s, "%s NIL", label);
		return true;
	}
	if (b->kind == IMAP_SECTION_HEADER_FIELDS ||
	    b->kind == IMAP_SECTION_HEADER_FIELDS_NOT)
		fields_item(s, f, uid, b, label, off, len);
	else
		start_range(s, f, label, off, off + len, b);
	return true;
}

/* BINARY[...]<partial> or BINARY.SIZE[...] from the decoded results */
static bool binary_item(struct imap_session *s, struct imap_fetch_run *f,
			uint32_t uid, const struct imap_fetch_body *b,
			const char *label)
{
	const struct imap_bin_result *r =
		f->bin != NULL && f->bin_uid == uid &&
				f->bin_k < f->attrs.nbinary
			? &f->bin[f->bin_k]
			: NULL;
	size_t a = 0, n;

	f->bin_k++;
	item_sep(s, f);
	if (r == NULL || r->status != IMAP_BINST_OK) {
		/* no such part: NIL, as for BODY[9] */
		if (b->partial)
			imap_printf(s, "%s<%u> NIL", label, b->offset);
		else
			imap_printf(s, "%s NIL", label);
		return true;
	}
	if (b->binary == IMAP_BIN_SIZE) {
		imap_printf(s, "%s %zu", label, r->len);
		return true;
	}
	n = r->len;
	if (b->partial) {
		a = b->offset < n ? b->offset : n;
		n -= a;
		if (n > b->count)
			n = b->count;
		imap_printf(s, "%s<%u> ", label, b->offset);
	} else {
		imap_printf(s, "%s ", label);
	}
	/* literal8 only when needed: NULs are what a literal cannot hold */
	imap_printf(s, "%s{%zu}\r\n",
		    memchr(r->data + a, '\0', n) != NULL ? "~" : "", n);
	imap_write(s, r->data + a, n);
	return true;
}

static void bin_results_free(struct imap_bin_result *r, unsigned n)
{
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		free(r[i].data);
	free(r);
}

/* the next data item of the current message: false when none left */
static bool msg_item(struct imap_session *s, struct imap_fetch_run *f,
		     uint32_t uid, uint64_t size, const struct imap_msginfo *mi)
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
	if (b->binary != IMAP_BIN_NONE)
		return binary_item(s, f, uid, b, label);
	if (b->nparts > 0 || b->kind == IMAP_SECTION_MIME)
		return part_item(s, f, uid, b, label, mi);
	if (b->kind != IMAP_SECTION_ALL && f->hdr_end == UINT64_MAX)
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
	default:
		fields_item(s, f, uid, b, label, 0, f->hdr_end);
		break;
	}
	return true;
}

static void fetch_finish(struct imap_session *s, bool unknown_cte)
{
	struct imap_fetch_run *f = s->fetch;
	char tag[sizeof(f->tag)];

	bool expunged = f->expunged;

	memcpy(tag, f->tag, sizeof(tag));
	imap_fetch_free(s);
	/* no EXPUNGE during FETCH (RFC 3501 7.4.1) */
	if (unknown_cte)
		/* RFC 3516 4.3: the request fails (earlier messages'
		 * replies are out already) */
		imap_tagged(s, tag, false,
			    "NO [UNKNOWN-CTE] Cannot decode the part's "
			    "Content-Transfer-Encoding");
	else if (expunged)
		imap_tagged(s, tag, false,
			    "OK [EXPUNGEISSUED] Some messages were expunged");
	else
		imap_tagged(s, tag, false, "OK FETCH completed");
	imap_async_end(s);
}

/* ---- parsing on the READ pool ------------------------------------ */

static void parse_work(void *arg, const volatile int *cancel)
{
	struct parse_job *j = arg;
	const struct rmail_store_ops *ops = imap_store(j->s->mod, NULL);
	struct rmail_err err;
	size_t i;

	for (i = 0; i < j->n && !*cancel; i++) {
		uint64_t size = j->sizes[i], off = 0;
		char *buf = malloc((size_t)size + 1);
		size_t got;

		if (buf == NULL)
			abort();
		while (off < size) {
			if (ops->msg_read(j->t->mb, j->uids[i], off, buf + off,
					  (size_t)(size - off), &got,
					  &err) < 0 ||
			    got == 0)
				break;
			off += got;
		}
		if (off == size)
			j->mi[i] = imap_msginfo_build(j->s->mod->core, buf,
						      (size_t)size);
		free(buf);
	}
}

static void parse_done(void *arg, int cancelled)
{
	struct parse_job *j = arg;
	struct imap_session *s = j->s;
	struct imap_fetch_run *f;
	size_t i;

	(void)cancelled;
	for (i = 0; i < j->n; i++)
		if (j->mi[i] != NULL)
			imap_cache_put(j->t->user, j->t->name,
				       j->t->uidvalidity, j->uids[i],
				       j->sizes[i], j->mi[i]);
	f = s->fetch;
	if (!s->mod->core->conn_closed(j->c) && !s->closing && f != NULL &&
	    f == j->f && f->job == j) {
		f->job = NULL;
		if (j->mi[0] == NULL) {
			/* unreadable: gone underneath, answered as an
			 * expunged message */
			f->dead_uid = j->uids[0];
		}
		imap_fetch_continue(s);
	}
	imap_tracker_put(j->t);
	s->mod->core->conn_unref(j->c);
	free(j);
}

/* the summary of uid, or NULL with a parse job started */
static struct imap_msginfo *msg_info(struct imap_session *s,
				     struct imap_fetch_run *f, uint32_t uid)
{
	struct imap_tracker *t = s->tr;
	struct imap_msginfo *mi;
	struct parse_job *j;
	uint64_t bytes = 0;
	size_t k;

	if (f->own != NULL && f->own_uid == uid)
		return f->own;
	if (f->dead_uid == uid)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		abort();
	/* look a bounded way ahead: a mostly cached run stays linear */
	for (k = f->i; k < f->n && j->n < JOB_MSGS && k < f->i + 8 * JOB_MSGS;
	     k++) {
		const struct rmail_msg *m = imap_view_msg(s, f->uids[k]);

		if (m == NULL) {
			if (k == f->i)
				break;
			continue;
		}
		mi = imap_cache_get(t->user, t->name, t->uidvalidity, m->uid,
				    m->size);
		if (mi != NULL) {
			if (k == f->i) {
				free(j);
				return mi;
			}
			continue;
		}
		if (j->n > 0 && bytes + m->size > JOB_BYTES)
			break;
		j->uids[j->n] = m->uid;
		j->sizes[j->n++] = m->size;
		bytes += m->size;
	}
	if (j->n == 0) {
		free(j);
		return NULL; /* gone: msg_begin skips it */
	}
	j->s = s;
	j->c = s->c;
	j->t = t;
	j->f = f;
	f->job = j;
	imap_tracker_hold(t);
	s->mod->core->conn_ref(s->c);
	s->mod->core->work_submit(RMAIL_WORK_READ, parse_work, parse_done, j);
	return NULL;
}

/* ---- BINARY decoding on the READ pool --------------------------- */

static void bin_work(void *arg, const volatile int *cancel)
{
	struct bin_job *j = arg;
	const struct rmail_store_ops *ops = imap_store(j->s->mod, NULL);
	struct rmail_err err;
	uint64_t off = 0;
	size_t got;
	char *buf;
	unsigned i;

	if (*cancel)
		return;
	buf = malloc((size_t)j->size + 1);
	if (buf == NULL)
		abort();
	while (off < j->size) {
		if (ops->msg_read(j->t->mb, j->uid, off, buf + off,
				  (size_t)(j->size - off), &got, &err) < 0 ||
		    got == 0)
			break;
		off += got;
	}
	if (off != j->size) {
		j->unreadable = true;
	} else {
		for (i = 0; i < j->n && !*cancel; i++)
			imap_binary_decode(j->s->mod->core, buf,
					   (size_t)j->size, j->sect[i].part,
					   j->sect[i].nparts, &j->res[i]);
	}
	free(buf);
}

static void bin_done(void *arg, int cancelled)
{
	struct bin_job *j = arg;
	struct imap_session *s = j->s;
	struct imap_fetch_run *f = s->fetch;

	(void)cancelled;
	if (!s->mod->core->conn_closed(j->c) && !s->closing && f != NULL &&
	    f == j->f && f->bjob == j) {
		f->bjob = NULL;
		bin_results_free(f->bin, f->attrs.nbinary);
		f->bin = j->res;
		f->bin_uid = j->uid;
		j->res = NULL;
		if (j->unreadable)
			f->dead_uid = j->uid; /* answered as expunged */
		imap_fetch_continue(s);
	}
	bin_results_free(j->res, j->n);
	free(j->sect);
	imap_tracker_put(j->t);
	s->mod->core->conn_unref(j->c);
	free(j);
}

/* decode the BINARY items of uid; false when it is gone (no job) */
static bool bin_start(struct imap_session *s, struct imap_fetch_run *f,
		      uint32_t uid)
{
	const struct rmail_msg *m = imap_view_msg(s, uid);
	const struct imap_fetch_body *b;
	struct bin_job *j;
	unsigned k = 0;

	if (m == NULL || f->dead_uid == uid)
		return false;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		abort();
	j->n = f->attrs.nbinary;
	j->sect = calloc(j->n, sizeof(*j->sect));
	j->res = calloc(j->n, sizeof(*j->res));
	if (j->sect == NULL || j->res == NULL)
		abort();
	for (b = f->attrs.bodies; b != NULL && k < j->n; b = b->next) {
		if (b->binary == IMAP_BIN_NONE)
			continue;
		memcpy(j->sect[k].part, b->part, sizeof(b->part));
		j->sect[k++].nparts = b->nparts;
	}
	j->s = s;
	j->c = s->c;
	j->t = s->tr;
	j->f = f;
	j->uid = uid;
	j->size = m->size;
	f->bjob = j;
	imap_tracker_hold(j->t);
	s->mod->core->conn_ref(s->c);
	s->mod->core->work_submit(RMAIL_WORK_READ, bin_work, bin_done, j);
	return true;
}

static bool bin_unknown_cte(const struct imap_fetch_run *f)
{
	unsigned i;

	for (i = 0; f->bin != NULL && i < f->attrs.nbinary; i++)
		if (f->bin[i].status == IMAP_BINST_UNKNOWN_CTE)
			return true;
	return false;
}

/* the summary of the current message, from the cache or our own */
static const struct imap_msginfo *
cur_info(struct imap_session *s, struct imap_fetch_run *f, uint32_t uid)
{
	const struct imap_tracker *t = s->tr;

	if (!f->need_info)
		return NULL;
	if (f->own != NULL && f->own_uid == uid)
		return f->own;
	return imap_cache_get(t->user, t->name, t->uidvalidity, uid, f->size);
}

void imap_fetch_continue(struct imap_session *s)
{
	struct imap_fetch_run *f = s->fetch;

	if (f->job != NULL || f->bjob != NULL)
		return; /* parse_done or bin_done continues */
	while (f->i < f->n) {
		uint32_t uid = f->uids[f->i];

		if (s->mod->core->conn_outq(s->c) >
		    imap_conf(s->mod)->fetch_outq)
			return;
		if (!f->open) {
			const struct imap_msginfo *mi = NULL;

			if (f->need_info) {
				mi = msg_info(s, f, uid);
				if (f->job != NULL)
					return;
			}
			if (f->attrs.nbinary > 0 && f->bin_uid != uid &&
			    bin_start(s, f, uid))
				return;
			if (f->bin_uid == uid && bin_unknown_cte(f)) {
				fetch_finish(s, true);
				return;
			}
			f->bin_k = 0;
			if (!msg_begin(s, f, uid, mi)) {
				f->i++;
				continue;
			}
		}
		if (f->streaming && !stream(s, f, uid))
			return;
		if (msg_item(s, f, uid, f->size, cur_info(s, f, uid))) {
			if (f->streaming && !stream(s, f, uid))
				return;
			continue;
		}
		imap_write(s, ")\r\n", 3);
		msg_close(f);
		f->open = false;
		f->i++;
	}
	fetch_finish(s, false);
}

void imap_fetch_free(struct imap_session *s)
{
	if (s->fetch == NULL)
		return;
	/* a job in flight finds s->fetch changed and only caches */
	msg_close(s->fetch);
	bin_results_free(s->fetch->bin, s->fetch->attrs.nbinary);
	imap_msginfo_free(s->fetch->own);
	free(s->fetch->uids);
	free(s->fetch);
	s->fetch = NULL;
}

/*
 * CHANGEDSINCE: the UIDs of the set whose live modseq is above `since`.
 * The view is walked once and only its changed messages are looked up
 * in the session's map and the set, so `1:*` of a big mailbox costs one
 * pass without building the whole UID list.  Expunged ones are left
 * out: their VANISHED or EXPUNGE tells the client.  The set is checked
 * as imap_set_uids() checks it.
 */
static int changed_uids(struct imap_session *s, const char *set, bool uid,
			uint64_t since, uint32_t **uids_r, size_t *n_r,
			const char **error_r)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_mbox *mb = s->tr->mb;
	struct imap_seqset raw, res;
	uint32_t idx, count = ops->mbox_count(mb), max, *v = NULL;
	size_t n = 0, cap = 0;

	if (imap_seqset_parse(set, strlen(set), &s->arena, &raw, error_r) < 0)
		return -1;
	if (uid) {
		max = raw.has_star && s->exists == 0 ? 0 : s->maxuid;
	} else {
		max = s->exists;
		if (raw.max_num > max) {
			*error_r = "Invalid message sequence number";
			return -1;
		}
	}
	if (imap_seqset_resolve(&raw, max, &s->arena, &res) < 0) {
		*error_r = "Set too large";
		return -1;
	}
	for (idx = 0; idx < count; idx++) {
		const struct rmail_msg *m = ops->mbox_msg(mb, idx);
		uint32_t seq;

		if (!imap_msg_changed_since(m, since) || m->uid > s->maxuid)
			continue;
		seq = imap_uid_to_seq(s, m->uid);
		if (seq == 0 || !imap_seqset_contains(&res, uid ? m->uid : seq))
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				abort();
		}
		v[n++] = m->uid;
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

/* UID FETCH (CHANGEDSINCE n VANISHED): the set's expunges since n first */
static void fetch_vanished(struct imap_session *s, const char *set,
			   uint64_t since)
{
	struct imap_seqset raw, res;
	struct imap_buf b = {0};
	const char *why;

	if (imap_seqset_parse(set, strlen(set), &s->arena, &raw, &why) < 0 ||
	    imap_seqset_resolve(&raw, s->maxuid, &s->arena, &res) < 0)
		return;
	if (res.n == 0)
		return;
	imap_vanished_since(s, since, &res, &b);
	if (b.len > 0)
		imap_printf(s, "* VANISHED (EARLIER) %.*s\r\n", (int)b.len,
			    b.p);
	imap_buf_free(&b);
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	const struct imap_arg *set = cmd->args;
	struct imap_fetch_run *f;
	const char *why = NULL;
	const struct imap_fetch_body *b;
	struct imap_fetch_mods mods;
	struct imap_arg items;

	if (set == NULL || set->type != IMAP_ARG_ATOM || set->next == NULL ||
	    (set->next->next != NULL && set->next->next->next != NULL)) {
		imap_tagged(s, cmd->tag, false, "BAD FETCH set items");
		return;
	}
	memset(&mods, 0, sizeof(mods));
	if (set->next->next != NULL &&
	    (!imap_condstore_supported(s->mod) ||
	     imap_fetch_mods_parse(set->next->next, &mods, &why) < 0)) {
		imap_tagged(s, cmd->tag, false, "BAD %s",
			    why != NULL ? why : "Unknown FETCH modifier");
		return;
	}
	if (mods.vanished && (!uid || !s->qresync)) {
		/* RFC 7162 3.2.6 */
		imap_tagged(s, cmd->tag, false,
			    "BAD VANISHED needs UID FETCH "
			    "and QRESYNC enabled");
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		abort();
	items = *set->next;
	items.next = NULL; /* the modifiers were taken above */
	if (imap_fetch_parse(&items, &s->arena, &f->attrs, &why) < 0) {
		free(f);
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if ((f->attrs.flags & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_HEADER |
			       IMAP_FETCH_RFC822_TEXT)) &&
	    imap_rev2_refuse(s, cmd->tag,
			     "FETCH RFC822, RFC822.HEADER and "
			     "RFC822.TEXT",
			     "BODY[], BODY[HEADER] and BODY[TEXT]")) {
		free(f);
		return;
	}
	for (b = f->attrs.bodies; b != NULL; b = b->next)
		if (b->binary == IMAP_BIN_NONE &&
		    (b->nparts > 0 || b->kind == IMAP_SECTION_MIME))
			f->need_info = true;
	/* THREADID: the header's ids, cached with the summary */
	if (f->attrs.flags & (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY |
			      IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_THREADID))
		f->need_info = true;
	/* PREVIEW (LAZY) takes what the cache has (RFC 8970 3.2) */
	if ((f->attrs.flags & IMAP_FETCH_PREVIEW) &&
	    !(f->attrs.flags & IMAP_FETCH_PREVIEW_LAZY))
		f->need_info = true;
	if ((f->attrs.flags & (IMAP_FETCH_EMAILID | IMAP_FETCH_THREADID)) &&
	    !imap_objectid_supported(s->mod)) {
		free(f);
		imap_tagged(s, cmd->tag, false,
			    "BAD Unknown FETCH item EMAILID or THREADID");
		return;
	}
	if ((f->attrs.flags & IMAP_FETCH_SAVEDATE) &&
	    !imap_savedate_supported(s->mod)) {
		free(f);
		imap_tagged(s, cmd->tag, false,
			    "BAD Unknown FETCH item SAVEDATE");
		return;
	}
	if ((f->attrs.flags & IMAP_FETCH_MODSEQ) &&
	    !imap_condstore_supported(s->mod)) {
		free(f);
		imap_tagged(s, cmd->tag, false,
			    "BAD Unknown FETCH item MODSEQ");
		return;
	}
	f->modseq = (f->attrs.flags & IMAP_FETCH_MODSEQ) != 0 ||
		    mods.changedsince_set;
	if ((mods.changedsince_set
		     ? changed_uids(s, set->str, uid, mods.changedsince,
				    &f->uids, &f->n, &why)
		     : imap_set_uids(s, set->str, uid, &f->uids, &f->n, &why)) <
	    0) {
		free(f);
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if (f->modseq)
		imap_condstore_enable(s);
	if (mods.vanished)
		fetch_vanished(s, set->str, mods.changedsince);
	f->uid = uid;
	f->fd = -1;
	f->need_data = f->attrs.bodies != NULL ||
		       (f->attrs.flags &
			(IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_HEADER |
			 IMAP_FETCH_RFC822_TEXT)) != 0;
	snprintf(f->tag, sizeof(f->tag), "%s", cmd->tag);
	/* * FLAGS before any FETCH shows a keyword new to the session */
	imap_view_keywords(s);
	s->fetch = f;
	imap_async_begin(s, cmd->tag);
	imap_fetch_continue(s);
}
