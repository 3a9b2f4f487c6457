/*
 * libFuzzer harness for ESEARCH/SEARCHRES: the input's first line is a
 * SEARCH argument list ("RETURN (...) criteria", "$" anywhere), fed
 * through the command parser, imap_esearch_parse and the search parser;
 * the rest becomes ascending hits for the ESEARCH writer and the "$"
 * table.  Checked: one CRLF-terminated line, MIN/MAX/COUNT equal to the
 * hits, the ALL set parsing back to exactly the hits, "$" ranges
 * ascending, disjoint and inside the hits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_esearch.h"
#include "imap_search.h"

static char mem[64 * 1024];
static char sub_mem[64 * 1024];
static char line[8192 + 32];

static void check(int cond)
{
	if (!cond)
		abort();
}

struct out {
	char *p;
	size_t len, cap;
};

static void out_fn(void *ctx, const char *d, size_t n)
{
	struct out *o = ctx;

	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
		check(o->p != NULL);
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

/* the number after " NAME " in the ESEARCH line, or -1 */
static long long item(const char *s, const char *name)
{
	const char *p = strstr(s, name);

	if (p == NULL)
		return -1;
	return strtoll(p + strlen(name), NULL, 10);
}

static void check_answer(unsigned ret, const uint32_t *h, size_t n, bool uid)
{
	struct out o = {0};
	struct imap_arena a;
	struct imap_seqset set;
	const char *err, *all;
	size_t i;

	imap_esearch_write("t1", uid, ret, h, n, out_fn, &o);
	if ((ret & ~(unsigned)IMAP_ESR_PRESENT) == IMAP_ESR_SAVE) {
		check(o.len == 0);
		free(o.p);
		return;
	}
	check(o.len >= 4 && o.p[o.len - 2] == '\r' && o.p[o.len - 1] == '\n');
	check(memchr(o.p, '\r', o.len - 2) == NULL);
	check(memchr(o.p, '\n', o.len - 1) == NULL);
	o.p[o.len - 2] = '\0';
	if (!(ret & IMAP_ESR_PRESENT)) {
		free(o.p);
		return;
	}
	check(strncmp(o.p, "* ESEARCH (TAG \"t1\")", 20) == 0);
	check((strstr(o.p, " UID") != NULL) == uid);
	if (ret & IMAP_ESR_COUNT)
		check(item(o.p, " COUNT ") == (long long)n);
	check(item(o.p, " MIN ") ==
	      (n > 0 && (ret & IMAP_ESR_MIN) ? (long long)h[0] : -1));
	check(item(o.p, " MAX ") ==
	      (n > 0 && (ret & IMAP_ESR_MAX) ? (long long)h[n - 1] : -1));
	all = strstr(o.p, " ALL ");
	check((all != NULL) == (n > 0 && (ret & IMAP_ESR_ALL) != 0));
	if (all != NULL) {
		all += 5;
		imap_arena_init(&a, sub_mem, sizeof(sub_mem));
		if (imap_seqset_parse(all, strcspn(all, " "), &a, &set, &err) ==
		    0) {
			check(imap_seqset_count(&set) == n);
			for (i = 0; i < n; i++)
				check(imap_seqset_contains(&set, h[i]));
		} else {
			/* only when the set outgrows the scratch arena */
			check(n > 1000);
		}
	}
	free(o.p);
}

static void check_saved(unsigned ret, const uint32_t *h, size_t n)
{
	struct imap_seq_range *r;
	unsigned nr, i;
	uint64_t total = 0;

	r = imap_esearch_saved(ret, h, n, &nr);
	check((nr == 0) == (n == 0));
	for (i = 0; i < nr; i++) {
		check(r[i].lo <= r[i].hi);
		check(r[i].lo >= h[0] && r[i].hi <= h[n - 1]);
		if (i > 0)
			check(r[i].lo > r[i - 1].hi);
		total += (uint64_t)r[i].hi - r[i].lo + 1;
	}
	if (!(ret & (IMAP_ESR_ALL | IMAP_ESR_COUNT)) &&
	    (ret & (IMAP_ESR_MIN | IMAP_ESR_MAX)))
		check(total <= 2);
	else
		check(total == n);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = {
		.max_line = 8192,
		.max_literal = 1024,
		.max_literals = 4,
		.max_depth = 16,
	};
	struct imap_arena arena, sub;
	struct imap_parser p;
	const struct imap_arg *args;
	struct imap_search_key *root;
	const char *err = NULL, *nl;
	uint32_t hits[512];
	size_t n = 0, len, used, i;
	unsigned ret = 0;
	uint64_t v = 0;
	bool uid;
	int rc;

	if (size == 0)
		return 0;
	uid = data[0] & 1;
	data++;
	size--;
	nl = memchr(data, '\n', size);
	len = nl != NULL ? (size_t)((const uint8_t *)nl - data) : size;
	if (len > 8192)
		len = 8192;
	memcpy(line, uid ? "a UID SEARCH " : "a SEARCH ", uid ? 13 : 9);
	memcpy(line + (uid ? 13 : 9), data, len);
	len += uid ? 13 : 9;
	memcpy(line + len, "\r\n", 2);
	len += 2;
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	rc = imap_parse(&p, line, len, &used);
	while (rc == IMAP_PARSE_NEED_CONTINUATION) {
		imap_parser_literal_accept(&p);
		len -= used;
		memmove(line, line + used, len);
		rc = imap_parse(&p, line, len, &used);
	}
	if (rc == IMAP_PARSE_OK && p.cmd.args != NULL) {
		args = p.cmd.args;
		if (uid)
			args = args->next;
		if (imap_esearch_parse(&args, &ret, &err) == 0) {
			check(ret == 0 || (ret & IMAP_ESR_PRESENT));
			imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
			rc = imap_search_parse(args, &sub, 16, &root, &err);
			check(rc == IMAP_SEARCH_OK ? root != NULL
						   : err != NULL);
		} else {
			check(err != NULL);
			ret = 0;
		}
	}
	/* options only come with RETURN: any without it is a plain SEARCH */
	if (ret == 0 && size > 0 && (data[0] & 0x1fu) != 0)
		ret = IMAP_ESR_PRESENT | (data[0] & 0x1fu);
	/* the rest: deltas of ascending hits */
	for (i = nl != NULL ? (size_t)((const uint8_t *)nl - data) + 1 : size;
	     i < size && n < sizeof(hits) / sizeof(hits[0]); i++) {
		v += (uint64_t)data[i] % 4 + 1;
		if (v > UINT32_MAX)
			break;
		hits[n++] = (uint32_t)v;
	}
	check_answer(ret, hits, n, uid);
	if (ret & IMAP_ESR_SAVE)
		check_saved(ret, hits, n);
	return 0;
}
