/*
 * The one place SORT and THREAD get header fields from: today the
 * message's header read from the store and parsed by the core's MIME
 * parser (worker thread).  A header cache, once there, answers here
 * first and this stays the fallback.
 */
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

void imap_sorthdr_get(const struct imap_sorthdr_src *src,
		      const struct rmail_msg *const *m, size_t n,
		      struct imap_sortrec **recs, const volatile int *cancel)
{
	size_t i;

	/* the header cache (core/index), once in main, answers first
	 * for the whole batch; what it lacks is read here */
	for (i = 0; i < n; i++) {
		if (cancel != NULL && *cancel) {
			for (; i < n; i++)
				recs[i] = NULL;
			return;
		}
		recs[i] = from_message(src, m[i]);
	}
}
