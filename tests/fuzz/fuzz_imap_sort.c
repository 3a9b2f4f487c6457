/*
 * libFuzzer harness for SORT/THREAD: the input's first line is the
 * arguments of SORT or THREAD (the first byte picks which, and UID),
 * fed through the command parser, RETURN, the sort criteria or the
 * algorithm, the charset and the search parser.  The rest becomes
 * messages (subject, Message-ID, References, Date per line, split by
 * TAB) that are sorted and threaded.  Checked: the sort is a
 * permutation in order, the THREAD text balances its parentheses and
 * names every message exactly once, base subjects are never longer
 * than the subject.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_casemap.h"
#include "imap_esearch.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "text/casemap.h"

#define MAXMSG 64

static struct rmail_core core = {
	.size = sizeof(struct rmail_core),
	.casemap = rm_casemap,
};

static char mem[64 * 1024];
static char sub_mem[64 * 1024];
static char line[8192 + 32];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void parse_args(const uint8_t *data, size_t len, int mode, bool uid)
{
	struct imap_parser_limits lim = {
		.max_line = 8192,
		.max_literal = 1024,
		.max_literals = 4,
		.max_depth = 16,
	};
	struct imap_sort_crit crit[IMAP_SORT_MAX_KEYS];
	const char *pre = mode ? (uid ? "a UID THREAD " : "a THREAD ")
			       : (uid ? "a UID SORT " : "a SORT ");
	struct imap_arena arena, sub;
	struct imap_parser p;
	const struct imap_arg *args;
	struct imap_search_key *root;
	const char *err = NULL;
	size_t plen = strlen(pre), used;
	unsigned ret = 0, n = 0, i;
	int rc, alg;

	if (len > 8192)
		len = 8192;
	memcpy(line, pre, plen);
	memcpy(line + plen, data, len);
	len += plen;
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
	if (rc != IMAP_PARSE_OK || p.cmd.args == NULL)
		return;
	args = p.cmd.args;
	if (uid)
		args = args->next;
	if (args == NULL)
		return;
	if (mode) {
		if (imap_thread_parse_alg(&args, &alg, &err) < 0) {
			check(err != NULL);
			return;
		}
		check(alg == IMAP_THREAD_ORDEREDSUBJECT ||
		      alg == IMAP_THREAD_REFERENCES);
	} else {
		if (imap_esearch_parse(&args, &ret, &err) < 0 ||
		    imap_sort_parse_criteria(&args, crit, &n, &err) < 0) {
			check(err != NULL);
			return;
		}
		check(n >= 1 && n <= IMAP_SORT_MAX_KEYS);
		for (i = 0; i < n; i++)
			check(crit[i].key <= IMAP_SORT_DISPLAYTO);
	}
	rc = imap_sort_parse_charset(&args, &err);
	if (rc != 0) {
		check(err != NULL);
		return;
	}
	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	rc = imap_search_parse(args, &sub, 16, &root, &err);
	check(rc == IMAP_SEARCH_OK ? root != NULL : err != NULL);
}

/* the field'th TAB-separated piece of a line, NUL-terminated copy */
static char *piece(const char *l, size_t len, int field)
{
	const char *p = l, *end = l + len, *q;
	char *s;

	while (field-- > 0) {
		q = memchr(p, '\t', (size_t)(end - p));
		if (q == NULL)
			return NULL;
		p = q + 1;
	}
	q = memchr(p, '\t', (size_t)(end - p));
	if (q == NULL)
		q = end;
	s = malloc((size_t)(q - p) + 1);
	check(s != NULL);
	memcpy(s, p, (size_t)(q - p));
	s[q - p] = '\0';
	return s;
}

static void check_threads(const char *t, size_t len, size_t n)
{
	unsigned seen[MAXMSG + 1] = {0};
	int depth = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (t[i] == '(')
			depth++;
		else if (t[i] == ')') {
			check(depth > 0);
			depth--;
		} else if (t[i] >= '1' && t[i] <= '9') {
			unsigned v = 0;

			check(depth > 0);
			while (i < len && t[i] >= '0' && t[i] <= '9')
				v = v * 10 + (unsigned)(t[i++] - '0');
			i--;
			check(v >= 1 && v <= n);
			seen[v]++;
		} else
			check(t[i] == ' ' && depth > 0);
	}
	check(depth == 0);
	for (i = 1; i <= n; i++)
		check(seen[i] == 1);
}

static void run_msgs(const uint8_t *data, size_t size, int alg,
		     const struct imap_sort_crit *crit, unsigned ncrit)
{
	struct imap_sort_msg v[MAXMSG];
	char *f[MAXMSG][5];
	size_t n = 0, i, off = 0;
	struct imap_buf out = {0};

	while (off < size && n < MAXMSG) {
		const char *l = (const char *)data + off;
		const char *nl = memchr(l, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - l) : size - off;
		struct imap_sorthdr h = {0};
		struct imap_buf b = {0};
		bool reply;
		int k;

		for (k = 0; k < 5; k++)
			f[n][k] = piece(l, len, k);
		h.subject = f[n][0];
		h.message_id = f[n][1];
		h.references = f[n][2];
		h.date = f[n][3];
		h.from = h.dfrom = f[n][4];
		h.in_reply_to = f[n][2];
		if (h.subject != NULL) {
			imap_base_subject(h.subject, strlen(h.subject), &b,
					  &reply);
			check(b.len <= strlen(h.subject));
			imap_buf_free(&b);
		}
		v[n] = (struct imap_sort_msg){
			.r = imap_sortrec_build(&h, (uint32_t)n + 1, len),
			.seq = (uint32_t)n + 1,
			.uid = (uint32_t)n + 1,
			.size = len,
			.internaldate = (int64_t)(len * 1000),
		};
		n++;
		off += len + 1;
	}
	imap_sort_run(v, n, crit, ncrit);
	for (i = 1; i < n; i++)
		check(v[i - 1].seq != v[i].seq);
	imap_thread_run(v, n, alg, false, &out, NULL);
	check_threads(out.p, out.len, n);
	imap_buf_free(&out);
	for (i = 0; i < n; i++) {
		free((void *)v[i].r);
		for (int k = 0; k < 5; k++)
			free(f[i][k]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_sort_crit crit[2];
	const uint8_t *nl;
	size_t len;
	uint8_t sel;

	imap_casemap_init(&core);
	if (size == 0)
		return 0;
	sel = data[0];
	data++;
	size--;
	nl = memchr(data, '\n', size);
	len = nl != NULL ? (size_t)(nl - data) : size;
	parse_args(data, len, sel & 1, (sel & 2) != 0);
	if (nl == NULL)
		return 0;
	crit[0] = (struct imap_sort_crit){(uint8_t)((sel >> 2) % 9),
					  (sel & 0x40) != 0};
	crit[1] = (struct imap_sort_crit){IMAP_SORT_DATE, (sel & 0x80) != 0};
	run_msgs(nl + 1, size - len - 1,
		 (sel & 0x20) ? IMAP_THREAD_REFERENCES
			      : IMAP_THREAD_ORDEREDSUBJECT,
		 crit, 2);
	return 0;
}
