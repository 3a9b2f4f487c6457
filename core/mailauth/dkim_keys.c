/*
 * DKIM keys: generation, the on-disk state (dkim_keys.h) and the
 * daemon's ring of active keys.  The ring is swapped whole on reload
 * and reference-counted, so a signer on a worker keeps the keys it
 * started with.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "rm.h"
#include "dkim_keys.h"

#define PEM_MAX (64u << 10)

const char *dkim_key_state_name(int state)
{
	return state == DKIM_KEY_ACTIVE	   ? "active"
	       : state == DKIM_KEY_RETIRED ? "retired"
					   : "pending";
}

static int state_of(const char *s)
{
	if (s != NULL && strcmp(s, "active") == 0)
		return DKIM_KEY_ACTIVE;
	if (s != NULL && strcmp(s, "retired") == 0)
		return DKIM_KEY_RETIRED;
	return DKIM_KEY_PENDING;
}

bool dkim_selector_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

bool dkim_domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0;

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if (isalnum((unsigned char)d[i]) || d[i] == '-') {
			if (++lab > 63)
				return false;
		} else {
			return false;
		}
	}
	return lab > 0;
}

static int write_atomic(const char *dir, const char *name, const void *data,
			size_t len)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	int fd, dfd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
		    sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
		    sizeof(dst))
		return -1;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, dst) < 0) {
		(void)unlink(tmp);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return -1;
}

static char *read_small(const char *path, size_t max, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *b;
	ssize_t got;

	if (fd < 0)
		return NULL;
	b = rm_xmalloc(max + 1);
	got = read(fd, b, max);
	close(fd);
	if (got < 0 || (size_t)got == max) {
		free(b);
		return NULL;
	}
	b[got] = '\0';
	*len_r = (size_t)got;
	return b;
}

static int domain_dir(const char *root, const char *domain, char *buf,
		      size_t sz, bool create)
{
	if ((size_t)snprintf(buf, sz, "%s/dkim", root) >= sz)
		return -1;
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	if (domain == NULL)
		return 0;
	if ((size_t)snprintf(buf, sz, "%s/dkim/%s", root, domain) >= sz)
		return -1;
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int write_state(const char *dir, const struct dkim_keyinfo *k)
{
	json_t *o = json_pack(
		"{s:s, s:s, s:I, s:I, s:I}", "algorithm",
		k->alg == DKIM_A_ED25519_SHA256 ? "ed25519" : "rsa", "state",
		dkim_key_state_name(k->state), "created",
		(json_int_t)k->created, "activated", (json_int_t)k->activated,
		"retired", (json_int_t)k->retired);
	char *s = o != NULL ? json_dumps(o, JSON_INDENT(1)) : NULL;
	char name[80];
	int rc;

	json_decref(o);
	if (s == NULL)
		return -1;
	snprintf(name, sizeof(name), "%s.json", k->selector);
	rc = write_atomic(dir, name, s, strlen(s));
	free(s);
	return rc;
}

/* the TXT value for a key */
static char *txt_of(EVP_PKEY *pk, int *bits_r)
{
	unsigned char raw[32], *der = NULL;
	size_t rl = sizeof(raw), bl;
	char *b64, *txt;
	int dl;

	*bits_r = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rl) != 1)
			return NULL;
		b64 = rm_xmalloc(64);
		rm_base64_encode(raw, rl, b64, 64);
		txt = rm_xmalloc(strlen(b64) + 32);
		snprintf(txt, strlen(b64) + 32, "v=DKIM1; k=ed25519; p=%s",
			 b64);
		free(b64);
		return txt;
	}
	dl = i2d_PUBKEY(pk, &der);
	if (dl <= 0)
		return NULL;
	bl = (size_t)dl * 2 + 8;
	b64 = rm_xmalloc(bl);
	rm_base64_encode(der, (size_t)dl, b64, bl);
	OPENSSL_free(der);
	txt = rm_xmalloc(strlen(b64) + 32);
	snprintf(txt, strlen(b64) + 32, "v=DKIM1; k=rsa; p=%s", b64);
	free(b64);
	return txt;
}

int dkim_key_generate(const char *mail_root, const char *domain,
		      const char *selector, int alg, int bits, bool active,
		      char *why, size_t whysz)
{
	struct dkim_keyinfo k = {0};
	char dir[4096], path[4200], name[80];
	EVP_PKEY *pk;
	BIO *bio;
	char *pem;
	long pl;
	struct stat st;
	int rc;

	if (!dkim_domain_ok(domain) || !dkim_selector_ok(selector)) {
		snprintf(why, whysz, "bad domain or selector");
		return -1;
	}
	if (domain_dir(mail_root, domain, dir, sizeof(dir), true) < 0) {
		snprintf(why, whysz, "%s/dkim: %s", mail_root, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, selector);
	if (stat(path, &st) == 0) {
		snprintf(why, whysz, "selector %s of %s exists", selector,
			 domain);
		return -1;
	}
	pk = alg == DKIM_A_ED25519_SHA256
		     ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
		     : EVP_RSA_gen(
			       (unsigned)(bits > 0 ? bits
						   : DKIM_SIGN_BITS_DEFAULT));
	bio = BIO_new(BIO_s_mem());
	if (pk == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		EVP_PKEY_free(pk);
		BIO_free(bio);
		snprintf(why, whysz, "key generation failed");
		return -1;
	}
	pl = BIO_get_mem_data(bio, &pem);
	snprintf(name, sizeof(name), "%s.pem", selector);
	rc = write_atomic(dir, name, pem, (size_t)pl);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	snprintf(k.domain, sizeof(k.domain), "%s", domain);
	snprintf(k.selector, sizeof(k.selector), "%s", selector);
	k.alg = alg;
	k.state = active ? DKIM_KEY_ACTIVE : DKIM_KEY_PENDING;
	k.created = (int64_t)time(NULL);
	k.activated = active ? k.created : 0;
	if (rc < 0 || write_state(dir, &k) < 0) {
		snprintf(why, whysz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* state and public key of one selector; 0 or -1 */
static int read_info(const char *dir, const char *domain, const char *sel,
		     struct dkim_keyinfo *k, struct dkim_signkey **sk_r)
{
	char path[4200], *pem;
	json_t *o;
	json_error_t e;
	size_t pl;
	struct dkim_signkey *sk;
	const char *alg;

	memset(k, 0, sizeof(*k));
	snprintf(path, sizeof(path), "%s/%s.json", dir, sel);
	o = json_load_file(path, 0, &e);
	if (o == NULL)
		return -1;
	snprintf(k->domain, sizeof(k->domain), "%s", domain);
	snprintf(k->selector, sizeof(k->selector), "%s", sel);
	alg = json_string_value(json_object_get(o, "algorithm"));
	k->alg = alg != NULL && strcmp(alg, "ed25519") == 0
			 ? DKIM_A_ED25519_SHA256
			 : DKIM_A_RSA_SHA256;
	k->state = state_of(json_string_value(json_object_get(o, "state")));
	k->created = json_integer_value(json_object_get(o, "created"));
	k->activated = json_integer_value(json_object_get(o, "activated"));
	k->retired = json_integer_value(json_object_get(o, "retired"));
	json_decref(o);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, sel);
	pem = read_small(path, PEM_MAX, &pl);
	if (pem == NULL)
		return -1;
	sk = dkim_signkey_load_pem(domain, sel, pem, pl);
	rm_secure_zero(pem, pl);
	free(pem);
	if (sk == NULL || sk->alg != k->alg) {
		dkim_signkey_free(sk);
		return -1;
	}
	k->txt = txt_of(sk->pkey, &k->bits);
	if (sk_r != NULL)
		*sk_r = sk;
	else
		dkim_signkey_free(sk);
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	const struct dkim_keyinfo *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c != 0 ? c : strcmp(x->selector, y->selector);
}

/* calls fn for each key; fn takes ownership of sk when non-NULL */
static size_t scan(const char *root, const char *only, bool want_sk,
		   void (*fn)(void *, struct dkim_keyinfo *,
			      struct dkim_signkey *),
		   void *arg)
{
	char base[4096], dir[4096];
	DIR *d, *dd;
	struct dirent *de, *fe;
	size_t n = 0;

	if (domain_dir(root, NULL, base, sizeof(base), false) < 0 ||
	    (d = opendir(base)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!dkim_domain_ok(de->d_name) ||
		    (only != NULL && strcasecmp(only, de->d_name) != 0))
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", base,
				     de->d_name) >= sizeof(dir) ||
		    (dd = opendir(dir)) == NULL)
			continue;
		while ((fe = readdir(dd)) != NULL) {
			size_t fl = strlen(fe->d_name);
			char sel[64];
			struct dkim_keyinfo k;
			struct dkim_signkey *sk = NULL;

			if (fl <= 5 || fl - 5 >= sizeof(sel) ||
			    strcmp(fe->d_name + fl - 5, ".json") != 0 ||
			    fe->d_name[0] == '.')
				continue;
			memcpy(sel, fe->d_name, fl - 5);
			sel[fl - 5] = '\0';
			if (!dkim_selector_ok(sel) ||
			    read_info(dir, de->d_name, sel, &k,
				      want_sk ? &sk : NULL) < 0) {
				rm_log(RMAIL_LOG_WARN,
				       "dkim: key %s of %s unreadable", sel,
				       de->d_name);
				continue;
			}
			fn(arg, &k, sk);
			n++;
		}
		closedir(dd);
	}
	closedir(d);
	return n;
}

struct listacc {
	struct dkim_keyinfo *v;
	size_t n, cap;
};

static void list_add(void *arg, struct dkim_keyinfo *k, struct dkim_signkey *sk)
{
	struct listacc *a = arg;

	(void)sk;
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 8 : a->cap * 2;
		a->v = rm_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = *k;
}

size_t dkim_keys_list(const char *mail_root, const char *domain,
		      struct dkim_keyinfo **out_r)
{
	struct listacc a = {0};

	scan(mail_root, domain, false, list_add, &a);
	if (a.n > 1)
		qsort(a.v, a.n, sizeof(*a.v), cmp_info);
	*out_r = a.v;
	return a.n;
}

void dkim_keys_list_free(struct dkim_keyinfo *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].txt);
	free(k);
}

int dkim_key_set_state(const char *mail_root, const char *domain,
		       const char *selector, int state, char *why, size_t whysz)
{
	struct dkim_keyinfo k;
	char dir[4096];
	int rc;

	if (!dkim_domain_ok(domain) || !dkim_selector_ok(selector) ||
	    domain_dir(mail_root, domain, dir, sizeof(dir), false) < 0 ||
	    read_info(dir, domain, selector, &k, NULL) < 0) {
		snprintf(why, whysz, "no key %s for %s", selector, domain);
		return -1;
	}
	if (k.state != state) {
		k.state = state;
		if (state == DKIM_KEY_ACTIVE)
			k.activated = (int64_t)time(NULL);
		if (state == DKIM_KEY_RETIRED)
			k.retired = (int64_t)time(NULL);
	}
	rc = write_state(dir, &k);
	free(k.txt);
	if (rc < 0)
		snprintf(why, whysz, "%s: %s", dir, strerror(errno));
	return rc;
}

/* ---- the ring ---------------------------------------------------- */
struct ringkey {
	struct dkim_signkey *k;
	int64_t activated;
};
struct dkim_keyring {
	int refs;
	size_t n, cap;
	struct ringkey *v;
};

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dkim_keyring *ring;

static void ring_add(void *arg, struct dkim_keyinfo *k, struct dkim_signkey *sk)
{
	struct dkim_keyring *r = arg;

	free(k->txt);
	if (k->state != DKIM_KEY_ACTIVE) {
		dkim_signkey_free(sk);
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap == 0 ? 8 : r->cap * 2;
		r->v = rm_xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n].k = sk;
	r->v[r->n].activated = k->activated;
	r->n++;
}

static void ring_free(struct dkim_keyring *r)
{
	for (size_t i = 0; i < r->n; i++)
		dkim_signkey_free(r->v[i].k);
	free(r->v);
	free(r);
}

void dkim_keyring_put(struct dkim_keyring *r)
{
	bool last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&ring_lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&ring_lock);
	if (last)
		ring_free(r);
}

static void ring_set(struct dkim_keyring *r)
{
	struct dkim_keyring *old;

	pthread_mutex_lock(&ring_lock);
	old = ring;
	ring = r;
	pthread_mutex_unlock(&ring_lock);
	dkim_keyring_put(old);
}

size_t dkim_keyring_load(const char *mail_root)
{
	struct dkim_keyring *r = rm_xcalloc(1, sizeof(*r));

	r->refs = 1;
	scan(mail_root, NULL, true, ring_add, r);
	ring_set(r);
	return r->n;
}

void dkim_keyring_clear(void)
{
	ring_set(NULL);
}

struct dkim_keyring *dkim_keyring_get(void)
{
	struct dkim_keyring *r;

	pthread_mutex_lock(&ring_lock);
	r = ring;
	if (r != NULL)
		r->refs++;
	pthread_mutex_unlock(&ring_lock);
	return r;
}

size_t dkim_keyring_find(const struct dkim_keyring *r, const char *domain,
			 unsigned algs, const struct dkim_signkey **out,
			 size_t max)
{
	static const int order[] = {DKIM_A_ED25519_SHA256, DKIM_A_RSA_SHA256};
	const char *d = domain;
	size_t n = 0;

	if (r == NULL || domain == NULL)
		return 0;
	/* the From: domain, else the closest parent holding a key (the
	 * parent's d= still aligns with From: under relaxed DMARC) */
	while (d != NULL && *d != '\0') {
		for (size_t a = 0; a < 2 && n < max; a++) {
			const struct ringkey *best = NULL;

			if (!(algs & (1u << order[a])))
				continue;
			for (size_t i = 0; i < r->n; i++)
				if (r->v[i].k->alg == order[a] &&
				    strcasecmp(r->v[i].k->domain, d) == 0 &&
				    (best == NULL ||
				     r->v[i].activated > best->activated))
					best = &r->v[i];
			if (best != NULL)
				out[n++] = best->k;
		}
		if (n > 0)
			return n;
		d = strchr(d, '.');
		if (d != NULL)
			d++;
		if (d != NULL && strchr(d, '.') == NULL)
			break; /* never a TLD */
	}
	return n;
}

size_t dkim_keyring_size(const struct dkim_keyring *r)
{
	return r != NULL ? r->n : 0;
}
