/*
 * The response reader and parser of `rmail import imap` on what a
 * hostile server sends: any bytes, fed in small reads, must give
 * responses or a clean error, within the literal limit.  Each value
 * tree is walked, and the date and Message-ID helpers run on strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t n;
};

static ssize_t fill(void *arg, void *buf, size_t n)
{
	struct src *s = arg;
	/* short reads: literals and lines split across them */
	size_t take = s->n < 7 ? s->n : 7;

	if (take > n)
		take = n;
	memcpy(buf, s->p, take);
	s->p += take;
	s->n -= take;
	return (ssize_t)take;
}

static size_t walk(const struct rm_imv *v, int depth)
{
	size_t n = 0;
	uint64_t u;
	int64_t t;
	char id[64];

	for (; v != NULL; v = v->next) {
		if (depth > RM_IMR_DEPTH_MAX + 2)
			abort();
		n++;
		if (v->type == RM_IMV_LIST) {
			n += walk(v->child, depth + 1);
			continue;
		}
		(void)rm_imv_u64(v, &u);
		(void)rm_imap_date_parse(v->s, v->len, &t);
		rm_imap_msgid(v->s, v->len, id, sizeof(id));
		if (strlen(id) >= sizeof(id))
			abort();
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = {data, size};
	struct rm_imr r;
	struct rm_imr_resp resp;
	int guard = 0;

	rm_imr_init(&r, 4096, fill, &s);
	while (guard++ < 10000 && rm_imr_next(&r, &resp) == 0) {
		if (r.lits > 4096)
			abort();
		walk(resp.vals, 0);
		(void)rm_imv_get(resp.vals, "UID");
	}
	rm_imr_free(&r);
	return 0;
}
