/*
 * The per-host shared table (hostshm.h): an anonymous MAP_SHARED
 * mapping, so it needs no name, leaves nothing behind in /dev/shm and is
 * reachable only by this daemon's own forked processes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hostshm.h"
#include "rm.h"

#define HOSTSHM_MAGIC 0x726d6873u /* "rmhs" */
#define MAC_PART_MAX 512

void (*rm_hostshm_test_hook)(const char *where);

static struct rm_hostshm *shm;
static pthread_once_t shm_once = PTHREAD_ONCE_INIT;
static unsigned proc_idx;

static int mutex_setup(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc;

	if (pthread_mutexattr_init(&a) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rc == 0 ? 0 : -1;
}

static void create(void)
{
	void *p = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		/* still one table per process: limits stay per process */
		rm_log(RMAIL_LOG_WARN,
		       "hostshm: shared mapping of %zu bytes failed: %s; "
		       "limits are per process",
		       sizeof(*shm), strerror(errno));
		p = rm_xcalloc(1, sizeof(*shm));
	}
	shm = p; /* zero-filled: every table starts empty */
	rm_random_bytes(shm->key, sizeof(shm->key));
	if (mutex_setup(&shm->lock) < 0)
		rm_log(RMAIL_LOG_ERR, "hostshm: robust mutex setup failed");
	shm->magic = HOSTSHM_MAGIC;
}

static struct rm_hostshm *get(void)
{
	pthread_once(&shm_once, create);
	return shm;
}

int rm_hostshm_init(void)
{
	return get() != NULL ? 0 : -1;
}

/* The dead owner's update was interrupted at any point: counters are
 * off by that one update, which is harmless; an auth cache record could
 * be half written, and it is only a cache. */
static void recover(struct rm_hostshm *h)
{
	memset(h->cache_tab, 0, sizeof(h->cache_tab));
	h->recoveries++;
}

struct rm_hostshm *rm_hostshm_lock(void)
{
	struct rm_hostshm *h = get();
	int rc = pthread_mutex_lock(&h->lock);

	if (rc == EOWNERDEAD) {
		recover(h);
		pthread_mutex_consistent(&h->lock);
		rm_metric_add("rmail_hostshm_recoveries_total", NULL, 1);
		rm_log(RMAIL_LOG_WARN,
		       "hostshm: a process died holding the host table lock; "
		       "recovered");
	} else if (rc == ENOTRECOVERABLE) {
		/* only when an owner unlocked without making it consistent,
		 * which this file never does: start the lock afresh */
		mutex_setup(&h->lock);
		pthread_mutex_lock(&h->lock);
		recover(h);
	}
	return h;
}

void rm_hostshm_unlock(struct rm_hostshm *h)
{
	pthread_mutex_unlock(&h->lock);
}

const unsigned char *rm_hostshm_key(void)
{
	return get()->key;
}

uint64_t rm_hostshm_recoveries(void)
{
	struct rm_hostshm *h = rm_hostshm_lock();
	uint64_t n = h->recoveries;

	rm_hostshm_unlock(h);
	return n;
}

void rm_hostshm_set_proc(unsigned idx)
{
	proc_idx = idx % HOSTSHM_PROCS;
}

unsigned rm_hostshm_proc(void)
{
	return proc_idx;
}

void rm_hostshm_proc_gone(unsigned idx)
{
	struct rm_hostshm *h = rm_hostshm_lock();

	idx %= HOSTSHM_PROCS;
	for (size_t i = 0; i < HOSTSHM_CONN_SLOTS; i++)
		h->conn_tab[i].n[idx] = 0;
	rm_hostshm_unlock(h);
}

uint32_t rm_hostshm_count_total(const struct hostshm_conn_slot *e)
{
	uint32_t n = 0;

	for (size_t i = 0; i < HOSTSHM_PROCS; i++)
		n += e->n[i];
	return n;
}

struct hostshm_conn_slot *rm_hostshm_count_find(struct rm_hostshm *h,
						uint64_t k, bool create)
{
	struct hostshm_conn_slot *s, *free_e = NULL;

	s = h->conn_tab +
	    (size_t)((k >> 16) % (HOSTSHM_CONN_SLOTS / HOSTSHM_CONN_WAYS)) *
		    HOSTSHM_CONN_WAYS;
	for (size_t i = 0; i < HOSTSHM_CONN_WAYS; i++) {
		if (s[i].key == k)
			return &s[i];
		if (free_e == NULL &&
		    (s[i].key == 0 || rm_hostshm_count_total(&s[i]) == 0))
			free_e = &s[i];
	}
	if (!create || free_e == NULL)
		return NULL;
	/* the key last, on a zeroed record: see hostshm.h on dead
	 * writers */
	free_e->key = 0;
	memset(free_e->n, 0, sizeof(free_e->n));
	free_e->key = k;
	return free_e;
}

void rm_hostshm_mac(const void *a, size_t alen, const void *b, size_t blen,
		    unsigned char out[32])
{
	unsigned char buf[2 * MAC_PART_MAX + 1];
	unsigned int olen = 32;

	if (alen > MAC_PART_MAX)
		alen = MAC_PART_MAX;
	if (blen > MAC_PART_MAX)
		blen = MAC_PART_MAX;
	memcpy(buf, a, alen);
	buf[alen] = 0;
	if (blen > 0)
		memcpy(buf + alen + 1, b, blen);
	if (HMAC(EVP_sha256(), rm_hostshm_key(), 32, buf, alen + 1 + blen, out,
		 &olen) == NULL)
		memset(out, 0, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
}

uint64_t rm_hostshm_hash(const char *tag, const void *data, size_t len)
{
	unsigned char out[32];
	uint64_t k;

	rm_hostshm_mac(tag, strlen(tag), data, len, out);
	memcpy(&k, out, sizeof(k));
	return k | 1;
}

uint64_t rm_hostshm_ipkey(const char *tag, const char *ip, unsigned prefix)
{
	unsigned char a[17];
	char t[32];

	if (ip == NULL)
		ip = "-";
	if (prefix == 0 || prefix > 128)
		prefix = 64;
	a[0] = 4;
	if (inet_pton(AF_INET, ip, a + 1) == 1)
		return rm_hostshm_hash(tag, a, 5);
	if (inet_pton(AF_INET6, ip, a + 1) != 1) {
		snprintf(t, sizeof(t), "%s?", tag);
		return rm_hostshm_hash(t, ip, strlen(ip));
	}
	/* an IPv4-mapped client is that IPv4 client */
	if (memcmp(a + 1, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(a + 1, a + 13, 4);
		return rm_hostshm_hash(tag, a, 5);
	}
	a[0] = 6;
	for (unsigned bit = prefix; bit < 128; bit++)
		a[1 + bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return rm_hostshm_hash(tag, a, 17);
}
