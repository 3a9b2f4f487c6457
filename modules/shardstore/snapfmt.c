/*
 * The view snapshot's encoding (ss_viewsnap.h): no I/O here, so the
 * parser can be fuzzed.  Everything read is checked before it is used:
 * a header checksum over the header and the shard table, a checksum per
 * block, and the sums each table entry claims.
 */
#include <stdlib.h>
#include <string.h>

#include "ss_fname.h"
#include "ss_viewsnap.h"

#define SNAP_MAGIC "rmviewS1"
#define SNAP_VERSION 1u
#define SNAP_ORDER 0x01020304u

static uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0x85ebca77c2b2ae63ull

/* a 64-bit hash in four lanes (xxh64's structure): fast enough to check
 * 40 MB at memory speed; it finds damage, it is not a MAC */
uint64_t ss_snap_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t v[4] = {P1 + P2, P2, 0, (uint64_t)0 - P1}, h, w;
	size_t i = 0;
	int k;

	for (; i + 32 <= n; i += 32)
		for (k = 0; k < 4; k++) {
			memcpy(&w, b + i + 8 * k, 8);
			v[k] = rotl(v[k] + w * P2, 31) * P1;
		}
	h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18) +
	    (uint64_t)n;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		h ^= rotl(w * P2, 31) * P1;
		h = rotl(h, 27) * P1 + P4;
	}
	for (; i < n; i++) {
		h ^= b[i] * P3;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

uint64_t ss_snap_size(uint32_t nshards, uint64_t msgs)
{
	return SS_SNAP_HDR + (uint64_t)nshards * SS_SNAP_ENT +
	       msgs * sizeof(struct rmail_msg);
}

static void put_ent(unsigned char *p, const struct ss_snap_shard *e)
{
	put32(p, e->no);
	put32(p + 4, e->count);
	put32(p + 8, e->unseen);
	put32(p + 12, e->flags);
	put64(p + 16, e->bytes);
	put64(p + 24, e->maxmod);
	put64(p + 32, e->ino);
	put64(p + 40, (uint64_t)e->sec);
	put64(p + 48, (uint64_t)e->nsec);
	put64(p + 56, e->check);
}

/* records through memcpy: a block may sit unaligned in a buffer */
static void sums(const struct rmail_msg *recs, uint32_t n, uint32_t *unseen_r,
		 uint64_t *bytes_r, uint64_t *maxmod_r)
{
	const unsigned char *p = (const unsigned char *)recs;
	struct rmail_msg m;
	uint32_t i;

	*unseen_r = 0;
	*bytes_r = 0;
	*maxmod_r = 0;
	for (i = 0; i < n; i++) {
		memcpy(&m, p + (size_t)i * sizeof(m), sizeof(m));
		*unseen_r += !(m.flags & RMAIL_F_SEEN);
		*bytes_r += m.size;
		if (m.modseq > *maxmod_r)
			*maxmod_r = m.modseq;
	}
}

void ss_snap_encode(void *buf, struct ss_snap_head *h, struct ss_snap_shard *sh,
		    const struct rmail_msg *const *blocks)
{
	unsigned char *p = buf, *q;
	uint32_t i;

	h->count = h->unseen = 0;
	h->bytes = 0;
	q = p + SS_SNAP_HDR + (size_t)h->nshards * SS_SNAP_ENT;
	for (i = 0; i < h->nshards; i++) {
		size_t len = (size_t)sh[i].count * sizeof(struct rmail_msg);

		sums(blocks[i], sh[i].count, &sh[i].unseen, &sh[i].bytes,
		     &sh[i].maxmod);
		if (len > 0)
			memcpy(q, blocks[i], len);
		sh[i].check = ss_snap_hash(q, len);
		sh[i].off = (uint64_t)(q - p);
		q += len;
		h->count += sh[i].count;
		h->unseen += sh[i].unseen;
		h->bytes += sh[i].bytes;
		put_ent(p + SS_SNAP_HDR + (size_t)i * SS_SNAP_ENT, &sh[i]);
	}
	memset(p, 0, SS_SNAP_HDR);
	memcpy(p, SNAP_MAGIC, 8);
	put32(p + 8, SNAP_VERSION);
	put32(p + 12, SNAP_ORDER);
	put32(p + 16, h->uidvalidity);
	put32(p + 20, h->uidnext);
	put32(p + 24, h->count);
	put32(p + 28, h->unseen);
	put64(p + 32, h->bytes);
	put64(p + 40, h->highest);
	put64(p + 48, h->log_pos);
	put64(p + 56, h->log_ino);
	put32(p + 64, h->nshards);
	put32(p + 68, (uint32_t)sizeof(struct rmail_msg));
	put64(p + 72, (uint64_t)h->written);
	memcpy(p + 80, h->boot, 40);
	put64(p + 120, ss_snap_hash(p, 120) ^
			       ss_snap_hash(p + SS_SNAP_HDR,
					    (size_t)h->nshards * SS_SNAP_ENT));
}

int ss_snap_parse_head(const void *buf, size_t n, uint64_t len,
		       struct ss_snap_head *h_r, struct ss_snap_shard **sh_r)
{
	const unsigned char *p = buf;
	struct ss_snap_shard *sh;
	uint64_t off, msgs = 0, bytes = 0;
	uint32_t i, unseen = 0;
	size_t tlen;

	*sh_r = NULL;
	if (n < SS_SNAP_HDR || memcmp(p, SNAP_MAGIC, 8) != 0 ||
	    get32(p + 8) != SNAP_VERSION || get32(p + 12) != SNAP_ORDER ||
	    get32(p + 68) != sizeof(struct rmail_msg))
		return -1;
	memset(h_r, 0, sizeof(*h_r));
	h_r->uidvalidity = get32(p + 16);
	h_r->uidnext = get32(p + 20);
	h_r->count = get32(p + 24);
	h_r->unseen = get32(p + 28);
	h_r->bytes = get64(p + 32);
	h_r->highest = get64(p + 40);
	h_r->log_pos = get64(p + 48);
	h_r->log_ino = get64(p + 56);
	h_r->nshards = get32(p + 64);
	h_r->written = (int64_t)get64(p + 72);
	memcpy(h_r->boot, p + 80, 40);
	if (h_r->nshards > SS_SNAP_MAX_SHARDS || h_r->uidvalidity == 0)
		return -1;
	tlen = (size_t)h_r->nshards * SS_SNAP_ENT;
	if (n - SS_SNAP_HDR < tlen ||
	    get64(p + 120) != (ss_snap_hash(p, 120) ^
			       ss_snap_hash(p + SS_SNAP_HDR, tlen)))
		return -1;
	sh = calloc(h_r->nshards ? h_r->nshards : 1, sizeof(*sh));
	if (sh == NULL)
		return -1;
	off = SS_SNAP_HDR + tlen;
	for (i = 0; i < h_r->nshards; i++) {
		const unsigned char *e =
			p + SS_SNAP_HDR + (size_t)i * SS_SNAP_ENT;

		sh[i].no = get32(e);
		sh[i].count = get32(e + 4);
		sh[i].unseen = get32(e + 8);
		sh[i].flags = get32(e + 12);
		sh[i].bytes = get64(e + 16);
		sh[i].maxmod = get64(e + 24);
		sh[i].ino = get64(e + 32);
		sh[i].sec = (int64_t)get64(e + 40);
		sh[i].nsec = (int64_t)get64(e + 48);
		sh[i].check = get64(e + 56);
		sh[i].off = off;
		if (sh[i].no >= SS_SNAP_MAX_SHARDS ||
		    (i > 0 && sh[i].no <= sh[i - 1].no) ||
		    sh[i].count > (1u << SS_SHARD_BITS) ||
		    sh[i].unseen > sh[i].count ||
		    (sh[i].flags & ~(SS_SNAP_F_DIRTY | SS_SNAP_F_DUPS)) != 0)
			goto bad;
		off += (uint64_t)sh[i].count * sizeof(struct rmail_msg);
		msgs += sh[i].count;
		unseen += sh[i].unseen;
		bytes += sh[i].bytes;
	}
	if (off != len || msgs != h_r->count || unseen != h_r->unseen ||
	    bytes != h_r->bytes)
		goto bad;
	*sh_r = sh;
	return 0;
bad:
	free(sh);
	return -1;
}

int ss_snap_check_block(const struct ss_snap_shard *e, const void *recs)
{
	const unsigned char *p = recs;
	uint32_t base = e->no << SS_SHARD_BITS, prev = 0, i, unseen = 0;
	uint64_t bytes = 0, maxmod = 0;
	struct rmail_msg m;

	if (ss_snap_hash(p, (size_t)e->count * sizeof(m)) != e->check)
		return -1;
	for (i = 0; i < e->count; i++) {
		memcpy(&m, p + (size_t)i * sizeof(m), sizeof(m));
		if (m.uid == 0 || ss_shard_of(m.uid) != e->no ||
		    (i > 0 && m.uid <= prev) || m.uid < base ||
		    (m.flags & ~0x1fu) != 0 || m.modseq == 0 ||
		    m.modseq > INT64_MAX || m.internaldate < 0)
			return -1;
		prev = m.uid;
		unseen += !(m.flags & RMAIL_F_SEEN);
		bytes += m.size;
		if (m.modseq > maxmod)
			maxmod = m.modseq;
	}
	return unseen == e->unseen && bytes == e->bytes && maxmod == e->maxmod
		       ? 0
		       : -1;
}
