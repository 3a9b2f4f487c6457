/*
 * Fixture filter for ABI 1.6, built against the frozen 1.6 headers
 * alone like a third-party module.  At the DELIVERY stage, a message
 * with "X-Fx16: TAG" is filed into a mailbox whose name spells what the
 * 1.6 entries answered, so a missing or wrong entry shows in the path:
 *   "Fx16-" ("new" | "dup")  duplicate_check of "fx16.TAG" for the rcpt
 *   "-" ('b' | '_')          search_text BODY holds folded "straße"
 *   ('f' | '_')              search_text ADDRESSES of From holds the
 *                            folded "s@far.test"
 *   ('s' | '_')              index_match SUBJECT with folded "probe"
 *   "-r" COUNT               rate_keys' count for the key TAG noted
 *                            with rate_note after one rate_hit
 * Any entry absent (RMAIL_HAS, NULL) leaves the message in INBOX.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmail/rmail.h>

#define FX16_BUCKET "fx16"

struct fx16_keys {
	const char *key;
	uint32_t count;
};

static bool fx16_tag(const char *data, char *tag, size_t cap)
{
	const char *p = strstr(data, "X-Fx16: ");
	size_t n = 0;

	if (p == NULL)
		return false;
	p += strlen("X-Fx16: ");
	while (n + 1 < cap &&
	       ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9')))
		n++;
	memcpy(tag, p, n);
	tag[n] = '\0';
	return n > 0;
}

/* the needle folded as the core folds, into out (NUL-terminated) */
static size_t fx16_fold(const struct rmail_core *c, const char *s, char *out,
			size_t cap)
{
	size_t n = c->casemap(s, strlen(s), out, cap - 1);

	if (n >= cap)
		n = 0;
	out[n] = '\0';
	return n;
}

static bool fx16_text_has(const struct rmail_core *c, struct rmail_mime *mime,
			  const char *data, size_t len, int what,
			  const char *field, const char *needle)
{
	char *buf = NULL, folded[128];
	size_t used = 0, cap = 0,
	       n = fx16_fold(c, needle, folded, sizeof(folded));
	bool hit = false;

	if (c->search_text(mime, data, len, what, field, &buf, &used, &cap) >
		    0 &&
	    n > 0)
		hit = memmem(buf, used, folded, n) != NULL;
	free(buf);
	return hit;
}

static void fx16_key(void *arg, const char *key, uint32_t count)
{
	struct fx16_keys *k = arg;

	if (strcmp(key, k->key) == 0)
		k->count = count;
}

static bool fx16_has_all(const struct rmail_core *c,
			 const struct rmail_store_ops *ops)
{
	return RMAIL_HAS(c, struct rmail_core, search_text) &&
	       c->search_text != NULL && c->index_match != NULL &&
	       c->rate_note != NULL && c->rate_keys != NULL &&
	       c->casemap != NULL && ops != NULL &&
	       RMAIL_HAS(ops, struct rmail_store_ops, duplicate_check) &&
	       ops->duplicate_check != NULL;
}

static int fx16_deliver(struct rmail_mctx *m,
			const struct rmail_filter_msg *msg,
			struct rmail_filter_target *t, struct rmail_err *err)
{
	const struct rmail_core *c = m->core;
	const struct rmail_store_ops *ops;
	struct rmail_mime *mime = NULL;
	struct fx16_keys keys = {0};
	char data[8192], tag[32], key[48], subj[32];
	void *h = NULL;
	double retry;
	ssize_t len = pread(msg->fd, data, sizeof(data) - 1, 0);
	struct rmail_err e;
	size_t sn;
	int dup;

	(void)err;
	rmail_err_clear(&e);
	if (len <= 0)
		return 0;
	data[len] = '\0';
	if (!fx16_tag(data, tag, sizeof(tag)))
		return 0;
	ops = c->store(&h);
	if (!fx16_has_all(c, ops) ||
	    c->mime_parse(data, (size_t)len, NULL, &mime, &e) < 0)
		return 0;
	snprintf(key, sizeof(key), "fx16.%s", tag);
	dup = ops->duplicate_check(h, msg->rcpt, key, (int64_t)time(NULL), 3600,
				   &e);
	c->rate_hit(FX16_BUCKET, tag, 1000, 3600, &retry);
	c->rate_note(FX16_BUCKET, tag);
	keys.key = tag;
	c->rate_keys(FX16_BUCKET, tag, 3600, fx16_key, &keys);
	sn = fx16_fold(c, "probe", subj, sizeof(subj));
	snprintf(t->mailbox, sizeof(t->mailbox), "Fx16-%s-%c%c%c-r%u",
		 dup == 1   ? "dup"
		 : dup == 0 ? "new"
			    : "err",
		 fx16_text_has(c, mime, data, (size_t)len, RMAIL_SEARCH_BODY,
			       NULL,
			       "stra\xc3\x9f"
			       "e")
			 ? 'b'
			 : '_',
		 fx16_text_has(c, mime, data, (size_t)len,
			       RMAIL_SEARCH_ADDRESSES, "From", "s@far.test")
			 ? 'f'
			 : '_',
		 c->index_match(data, (size_t)len, RMAIL_INDEX_SUBJECT, subj,
				sn, &e) == 1
			 ? 's'
			 : '_',
		 (unsigned)keys.count);
	c->mime_free(&mime);
	return 0;
}

static const struct rmail_filter_ops fx16_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.deliver = fx16_deliver,
};

RMAIL_MODULE_DEFINE(fx16probe, RMAIL_KIND_FILTER, "1.0", .ops = &fx16_ops);
