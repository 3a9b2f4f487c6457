/*
 * DKIM signing of what leaves through submission (authenticated SMTP,
 * the API's send) and of bounces, after the last edit of the header
 * and before the message is stored or queued.  It runs in the commit,
 * on the WRITE worker pool (delivery.workers): never on the loop, and
 * never on the password-hash pool whose latency logins feel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailauth/dkim_keys.h"
#include "mime/mime_int.h"
#include "submit_int.h"

#define SIGN_HDR_MAX ((size_t)256 << 10)
#define SIGN_MAX_KEYS 4

/* the domain of the message's one From: mailbox, into out */
static int from_domain(int fd, uint64_t size, char *out, size_t sz)
{
	size_t cap = size < SIGN_HDR_MAX ? (size_t)size : SIGN_HDR_MAX;
	char *b = rm_xmalloc(cap + 1);
	struct rmail_mime *m = NULL;
	const struct rmail_mime_addr *a;
	struct rmail_err err;
	const char *from, *eoh;
	size_t got, n;
	ssize_t r;
	int rc = -1;

	r = rm_pread_all(fd, b, cap, 0);
	got = r > 0 ? (size_t)r : 0;
	b[got] = '\0';
	/* the header block only: the parser need not see the body */
	eoh = strstr(b, "\r\n\r\n");
	if (eoh == NULL)
		eoh = strstr(b, "\n\n");
	if (eoh != NULL)
		got = (size_t)(eoh - b) + 2;
	rmail_err_clear(&err);
	if (rm_mime_parse(b, got, NULL, &m, &err) == 0 &&
	    (from = rm_mime_header(m, 0, "From", 0, 0)) != NULL &&
	    rm_mime_addresses(m, from, &a, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (a[i].mailbox == NULL || a[i].host == NULL)
				continue;
			snprintf(out, sz, "%s", a[i].host);
			rc = 0;
			break;
		}
	}
	rm_mime_free(&m);
	free(b);
	return rc;
}

/* the keys that would sign the message (0 when none), ring held in
 * *ring_r when keys were found; the From: domain in domain */
static size_t sign_keys(int fd, uint64_t size, bool local_only,
			const struct dkim_signkey **keys,
			struct dkim_keyring **ring_r, char *domain, size_t dsz)
{
	const struct rm_config *c = rm_conf();
	struct dkim_keyring *ring;
	struct rmail_err err;
	char addr[300];
	size_t nk;

	*ring_r = NULL;
	if (c == NULL || !c->dkim.enabled || c->dkim.algs == 0)
		return 0;
	ring = dkim_keyring_get();
	/* no key at all: not even the From: parse */
	if (dkim_keyring_size(ring) == 0 ||
	    from_domain(fd, size, domain, dsz) < 0) {
		dkim_keyring_put(ring);
		return 0;
	}
	snprintf(addr, sizeof(addr), "postmaster@%s", domain);
	rmail_err_clear(&err);
	nk = local_only && rm_addr_local(addr, &err) != 1
		     ? 0
		     : dkim_keyring_find(ring, domain, c->dkim.algs, keys,
					 SIGN_MAX_KEYS);
	if (nk == 0) {
		dkim_keyring_put(ring);
		return 0;
	}
	*ring_r = ring;
	return nk;
}

bool rm_submit_dkim_would_sign(int fd, uint64_t size, bool local_only)
{
	const struct dkim_signkey *keys[SIGN_MAX_KEYS];
	struct dkim_keyring *ring;
	char domain[256];
	size_t nk = sign_keys(fd, size, local_only, keys, &ring, domain,
			      sizeof(domain));

	if (ring != NULL)
		dkim_keyring_put(ring);
	return nk > 0;
}

int rm_submit_sign_7bit(struct rm_msg_src *src, const char *const *rcpts,
			size_t n, bool local_only)
{
	int fd;
	uint64_t size;
	int rc;

	if (!(src->flags & RM_MSG_8BIT) || !rm_rcpts_remote(rcpts, n) ||
	    !rm_submit_dkim_would_sign(src->fd, src->size, local_only))
		return 0;
	rc = rm_msg_to7bit(src->fd, src->size, &fd, &size);
	if (rc <= 0)
		return rc;
	src->fd = fd;
	src->size = size;
	/* what may be left 8-bit is in headers (no conversion touches
	 * them): SMTPUTF8's business, or legacy octets sent as they are */
	src->flags &= ~(unsigned)RM_MSG_8BIT;
	src->flags |=
		rm_msg_classify(fd, size, src->prefix, "", NULL, 0, false) &
		RM_MSG_8BIT;
	return 1;
}

char *rm_submit_dkim(struct rmail_pool *pool, const char *prefix, int fd,
		     uint64_t size, const char *id, bool local_only)
{
	const struct rm_config *c = rm_conf();
	const struct dkim_signkey *keys[SIGN_MAX_KEYS];
	const char **hdrs = NULL;
	struct dkim_keyring *ring;
	struct dkim_signer *sg;
	char domain[256] = "", buf[65536], *sig, *out = "";
	uint64_t off = 0;
	size_t nk;
	double t0 = rm_now();

	nk = sign_keys(fd, size, local_only, keys, &ring, domain,
		       sizeof(domain));
	if (nk == 0) {
		if (domain[0] != '\0')
			rm_log(RMAIL_LOG_DEBUG, "submit %s: no DKIM key for %s",
			       id, domain);
		return "";
	}
	if (c->dkim.headers.n > 0) {
		hdrs = rm_pcalloc(pool,
				  (c->dkim.headers.n + 1) * sizeof(*hdrs));
		for (size_t i = 0; i < c->dkim.headers.n; i++)
			hdrs[i] = c->dkim.headers.v[i];
	}
	sg = dkim_signer_new(keys, nk, hdrs);
	dkim_signer_feed(sg, prefix, strlen(prefix));
	while (off < size) {
		ssize_t r = pread(fd, buf, sizeof(buf), (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		dkim_signer_feed(sg, buf, (size_t)r);
		off += (uint64_t)r;
	}
	sig = off == size ? dkim_signer_finish(sg, (int64_t)time(NULL)) : NULL;
	dkim_signer_free(sg);
	dkim_keyring_put(ring);
	if (sig == NULL) {
		rm_log(RMAIL_LOG_WARN, "submit %s: DKIM signing for %s failed",
		       id, domain);
		return "";
	}
	out = rm_pstrdup(pool, sig);
	free(sig);
	rm_metric_add("rmail_dkim_signatures_total", NULL, (double)nk);
	rm_metric_observe("rmail_dkim_sign_seconds", NULL, rm_now() - t0);
	return out;
}
