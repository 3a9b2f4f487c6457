/*
 * The one place SORT and THREAD get header fields from: the core's
 * header cache (core/index) first, for the whole batch in one pass;
 * what it lacks (disabled, behind, rebuilt) is read from the store and
 * parsed by the core's MIME parser (worker thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_sort.h"
#include "imap_sorthdr.h"

/* the header is read in slices up to its blank line, at most this */
#define HEAD_MAX (1024 * 1024)
#define HEAD_SLICE 8192

static const struct rmail_mime_limits limits = {
	.size = sizeof(struct rmail_mime_limits),
};

static bool has_blank(const char *d, size_t n)
{
	return memmem(d, n, "\r\n\r\n", 4) != NULL ||
	       memmem(d, n, "\n\n", 2) != NULL;
}

/* the first real address of a field (a group's members count) */
static const struct rmail_mime_addr *first_addr(const struct rmail_core *core,
						struct rmail_mime *mime,
						const char *field)
{
	const struct rmail_mime_addr *a;
	const char *v = core->mime_header(mime, 0, field, 0, 0);
	size_t n, i;

	if (v == NULL || core->mime_addresses(mime, v, &a, &n) < 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (a[i].mailbox != NULL)
			return &a[i];
	return NULL;
}

/* RFC 5957 3: the display name, else "mailbox@host" */
static char *display(const struct rmail_mime_addr *a)
{
	size_t n;
	char *s;

	if (a == NULL)
		return NULL;
	if (a->name != NULL && a->name[0] != '\0')
		return strdup(a->name);
	n = strlen(a->mailbox) + (a->host != NULL ? strlen(a->host) + 1 : 0);
	s = malloc(n + 1);
	if (s == NULL)
		abort();
	strcpy(s, a->mailbox);
	if (a->host != NULL) {
		strcat(s, "@");
		strcat(s, a->host);
	}
	return s;
}

void imap_sorthdr_fields(const struct rmail_core *core, struct rmail_mime *mime,
			 struct imap_sorthdr *h, char **dfrom_r, char **dto_r)
{
	const struct rmail_mime_addr *from, *to, *cc;

	from = first_addr(core, mime, "From");
	to = first_addr(core, mime, "To");
	cc = first_addr(core, mime, "Cc");
	memset(h, 0, sizeof(*h));
	h->date = core->mime_header(mime, 0, "Date", 0, 0);
	h->subject = core->mime_header(mime, 0, "Subject", 0, 1);
	/* RFC 5256: the addr-mailbox (local part) of the first address */
	h->from = from != NULL ? from->mailbox : NULL;
	h->to = to != NULL ? to->mailbox : NULL;
	h->cc = cc != NULL ? cc->mailbox : NULL;
	*dfrom_r = display(from);
	*dto_r = display(to);
	h->dfrom = *dfrom_r;
	h->dto = *dto_r;
	h->message_id = core->mime_header(mime, 0, "Message-ID", 0, 0);
	h->references = core->mime_header(mime, 0, "References", 0, 0);
	h->in_reply_to = core->mime_header(mime, 0, "In-Reply-To", 0, 0);
}

/* the record of one message from its header, read and parsed */
static struct imap_sortrec *from_message(const struct imap_sorthdr_src *src,
					 const struct rmail_msg *m)
{
	const struct rmail_core *core = src->core;
	uint64_t want = m->size < HEAD_MAX ? m->size : HEAD_MAX;
	struct imap_sorthdr h = {0};
	struct imap_sortrec *r;
	struct rmail_mime *mime = NULL;
	struct rmail_err err;
	char *data, *dfrom = NULL, *dto = NULL;
	size_t len = 0, got, from;

	data = malloc((size_t)want + 1);
	if (data == NULL)
		abort();
	while (len < want) {
		size_t n = want - len < HEAD_SLICE ? (size_t)(want - len)
						   : HEAD_SLICE;

		if (src->ops->msg_read(src->mb, m->uid, len, data + len, n,
				       &got, &err) < 0 ||
		    got == 0)
			break;
		from = len > 3 ? len - 3 : 0;
		len += got;
		if (has_blank(data + from, len - from))
			break;
	}
	/* a message that cannot be read or parsed sorts as if empty:
	 * the internal date stands in for its sent date */
	if (len > 0 && core->mime_parse(data, len, &limits, &mime, &err) == 0)
		imap_sorthdr_fields(core, mime, &h, &dfrom, &dto);
	r = imap_sortrec_build(&h, m->uid, m->size);
	free(dfrom);
	free(dto);
	if (mime != NULL)
		core->mime_free(&mime);
	free(data);
	return r;
}

/* ---- the header cache (core->index_headers) ----------------------- */

struct from_index {
	const struct rmail_core *core;
	const struct rmail_msg *const *m;
	size_t n, at;
	struct imap_sortrec **recs;
	const volatile int *cancel;
};

static void add_field(char *buf, size_t *len, const char *name, const char *v)
{
	if (v == NULL)
		return;
	*len += (size_t)sprintf(buf + *len, "%s: %s\r\n", name, v);
}

/*
 * The cache keeps From/To/Cc as they stand in the message: a
 * three-line header parsed by the core gives the same addresses as the
 * whole message would, without opening it.
 */
static void addr_fields(const struct rmail_core *core,
			const struct rmail_index_hdr *ih,
			struct imap_sorthdr *h, struct rmail_mime **mime,
			char **dfrom_r, char **dto_r)
{
	size_t cap = 16, len = 0;
	struct rmail_err err;
	const struct rmail_mime_addr *from, *to, *cc;
	char *buf;

	cap += ih->from != NULL ? strlen(ih->from) + 8 : 0;
	cap += ih->to != NULL ? strlen(ih->to) + 8 : 0;
	cap += ih->cc != NULL ? strlen(ih->cc) + 8 : 0;
	if (cap == 16)
		return;
	buf = malloc(cap);
	if (buf == NULL)
		abort();
	add_field(buf, &len, "From", ih->from);
	add_field(buf, &len, "To", ih->to);
	add_field(buf, &len, "Cc", ih->cc);
	len += (size_t)sprintf(buf + len, "\r\n");
	if (core->mime_parse(buf, len, &limits, mime, &err) == 0) {
		from = first_addr(core, *mime, "From");
		to = first_addr(core, *mime, "To");
		cc = first_addr(core, *mime, "Cc");
		h->from = from != NULL ? from->mailbox : NULL;
		h->to = to != NULL ? to->mailbox : NULL;
		h->cc = cc != NULL ? cc->mailbox : NULL;
		*dfrom_r = display(from);
		*dto_r = display(to);
		h->dfrom = *dfrom_r;
		h->dto = *dto_r;
	}
	free(buf);
}

static void index_one(void *arg, const struct rmail_index_hdr *ih)
{
	struct from_index *x = arg;
	struct imap_sorthdr h = {0};
	struct rmail_mime *mime = NULL;
	char *dfrom = NULL, *dto = NULL;
	const struct rmail_msg *m;

	if (x->cancel != NULL && *x->cancel)
		return;
	/* reported in UID order, a subset of m[] */
	while (x->at < x->n && x->m[x->at]->uid < ih->uid)
		x->at++;
	if (x->at >= x->n || x->m[x->at]->uid != ih->uid)
		return;
	m = x->m[x->at];
	h.subject = ih->subject;
	h.date = ih->date;
	h.message_id = ih->message_id;
	h.references = ih->references;
	h.in_reply_to = ih->in_reply_to;
	addr_fields(x->core, ih, &h, &mime, &dfrom, &dto);
	x->recs[x->at] = imap_sortrec_build(&h, m->uid, m->size);
	free(dfrom);
	free(dto);
	if (mime != NULL)
		x->core->mime_free(&mime);
}

static bool has_index(const struct rmail_core *core)
{
	return RMAIL_HAS(core, struct rmail_core, index_headers) &&
	       core->index_headers != NULL;
}

/* what the cache holds into recs[] (the rest stays NULL); true when
 * the cache answered but lacked some */
static bool from_index(const struct imap_sorthdr_src *src,
		       const struct rmail_msg *const *m, size_t n,
		       struct imap_sortrec **recs, const volatile int *cancel)
{
	struct from_index x = {.core = src->core,
			       .m = m,
			       .n = n,
			       .recs = recs,
			       .cancel = cancel};
	struct rmail_err err;
	uint32_t *uids;
	size_t i;
	int got;

	if (!has_index(src->core) || src->user == NULL ||
	    src->mailbox == NULL || n == 0)
		return false;
	uids = malloc(n * sizeof(*uids));
	if (uids == NULL)
		abort();
	for (i = 0; i < n; i++)
		uids[i] = m[i]->uid;
	/* -1: no usable cache, every record is read below */
	got = src->core->index_headers(src->user, src->mailbox,
				       src->uidvalidity, uids, n, index_one, &x,
				       &err);
	free(uids);
	return got >= 0 && (size_t)got < n;
}

bool imap_sorthdr_get(const struct imap_sorthdr_src *src,
		      const struct rmail_msg *const *m, size_t n,
		      struct imap_sortrec **recs, const volatile int *cancel)
{
	size_t i;
	bool behind;

	for (i = 0; i < n; i++)
		recs[i] = NULL;
	behind = from_index(src, m, n, recs, cancel);
	for (i = 0; i < n; i++) {
		if (cancel != NULL && *cancel) {
			/* the caller keeps the records up to the first
			 * NULL: free the cached ones past a gap */
			for (; i < n; i++)
				if (recs[i] != NULL) {
					free(recs[i]);
					recs[i] = NULL;
				}
			return behind;
		}
		if (recs[i] == NULL)
			recs[i] = from_message(src, m[i]);
	}
	return behind;
}
