/*
 * The message as the interpreter sees it: read once (prepend + fd, up
 * to max_message bytes), parsed with the core's MIME parser; header
 * values decoded (RFC 2047), body parts decoded for the body test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sf.h"

struct sf_msg {
	char *data;
	size_t len;
	struct rmail_mime *mime;
	const char *user;
	/* what the callbacks handed out, freed with the message */
	void **owned;
	size_t nowned;
};

static void own(struct sf_msg *m, void *p)
{
	m->owned = realloc(m->owned, (m->nowned + 1) * sizeof(*m->owned));
	m->owned[m->nowned++] = p;
}

struct sf_msg *sf_msg_open(int fd, uint64_t size, const char *prepend,
			   struct rmail_err *err)
{
	const struct sf_conf *c = sf_m->conf;
	size_t pre = prepend != NULL ? strlen(prepend) : 0;
	size_t cap =
		size > c->max_message ? (size_t)c->max_message : (size_t)size;
	struct sf_msg *m = calloc(1, sizeof(*m));
	size_t got = 0;

	m->data = malloc(pre + cap + 1);
	if (pre > 0)
		memcpy(m->data, prepend, pre);
	while (got < cap) {
		ssize_t r =
			pread(fd, m->data + pre + got, cap - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rmail_err_set(err, RMAIL_E_IO, "read: %s",
				      strerror(errno));
			sf_msg_free(&m);
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	m->len = pre + got;
	m->data[m->len] = '\0';
	if (sf_core->mime_parse(m->data, m->len, NULL, &m->mime, err) < 0) {
		sf_msg_free(&m);
		return NULL;
	}
	return m;
}

void sf_msg_free(struct sf_msg **mp)
{
	struct sf_msg *m = *mp;

	if (m == NULL)
		return;
	if (m->mime != NULL)
		sf_core->mime_free(&m->mime);
	for (size_t i = 0; i < m->nowned; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->data);
	free(m);
	*mp = NULL;
}

const char *sf_msg_data(struct sf_msg *m, size_t *len_r)
{
	*len_r = m->len;
	return m->data;
}

const char *sf_msg_header_raw(struct sf_msg *m, const char *name, size_t nth)
{
	return sf_core->mime_header(m->mime, 0, name, nth, 0);
}

const char *sf_msg_header_decoded(struct sf_msg *m, const char *name)
{
	return sf_core->mime_header(m->mime, 0, name, 0, 1);
}

static size_t header_cb(void *arg, const char *name, const char ***vals_r)
{
	struct sf_msg *m = arg;
	const char **v = NULL;
	size_t n = 0;
	const char *s;

	while ((s = sf_core->mime_header(m->mime, 0, name, n, 1)) != NULL) {
		v = realloc(v, (n + 2) * sizeof(*v));
		v[n++] = s;
	}
	if (v != NULL)
		own(m, v);
	*vals_r = v;
	return n;
}

static int type_matches(const struct rmail_mime_part *p,
			const char *const *ctypes, size_t n)
{
	char full[256];

	snprintf(full, sizeof(full), "%s/%s", p->type ? p->type : "text",
		 p->subtype ? p->subtype : "plain");
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(ctypes[i]);

		if (l == 0 || strcasecmp(full, ctypes[i]) == 0 ||
		    (strchr(ctypes[i], '/') == NULL &&
		     strncasecmp(full, ctypes[i], l) == 0 && full[l] == '/'))
			return 1;
	}
	return 0;
}

static int body_cb(void *arg, enum sieve_body_transform tr,
		   const char *const *ctypes, size_t nctypes,
		   const struct sieve_str **parts_r)
{
	static const char *const text_only[] = {"text"};
	struct sf_msg *m = arg;
	struct sieve_str *v = NULL;
	size_t nparts = sf_core->mime_part_count(m->mime);
	int n = 0;

	if (tr == SIEVE_BODY_RAW) {
		const struct rmail_mime_part *p =
			sf_core->mime_part(m->mime, 0);

		v = calloc(1, sizeof(*v));
		if (p != NULL && p->body_off <= m->len) {
			v->p = m->data + p->body_off;
			v->n = m->len - (size_t)p->body_off;
		} else {
			v->p = "";
		}
		own(m, v);
		*parts_r = v;
		return 1;
	}
	if (tr == SIEVE_BODY_TEXT) {
		ctypes = text_only;
		nctypes = 1;
	}
	for (size_t i = 0; i < nparts; i++) {
		const struct rmail_mime_part *p =
			sf_core->mime_part(m->mime, i);
		struct rmail_err err;
		const char *out;
		size_t len;

		if (p == NULL || (p->flags & RMAIL_MIME_MULTIPART) ||
		    !type_matches(p, ctypes, nctypes))
			continue;
		rmail_err_clear(&err);
		if (sf_core->mime_body(m->mime, i, 1, &out, &len, &err) < 0)
			continue;
		v = realloc(v, ((size_t)n + 1) * sizeof(*v));
		v[n].p = out;
		v[n].n = len;
		n++;
	}
	if (v != NULL)
		own(m, v);
	*parts_r = v;
	return n;
}

static int mailbox_exists_cb(void *arg, const char *mailbox)
{
	struct sf_msg *m = arg;
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;

	rmail_err_clear(&err);
	return ops != NULL && ops->mbox_status != NULL &&
	       ops->mbox_status(h, m->user, mailbox, &st, &err) == 0;
}

void sf_msg_env(struct sf_msg *m, const char *user, struct sieve_env *env)
{
	m->user = user;
	env->header = header_cb;
	env->body = body_cb;
	env->mailbox_exists = mailbox_exists_cb;
	/* the core's fold, so i;unicode-casemap here is SEARCH's */
	if (RMAIL_HAS(sf_core, struct rmail_core, casemap))
		env->casemap = sf_core->casemap;
	env->arg = m;
}
