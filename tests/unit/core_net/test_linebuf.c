/* The line scanner behind conn_read_line: each vector whole, byte by
 * byte and split at every offset must give the same lines. */
#include <string.h>

#include <glib.h>

#include "net/linebuf.h"

struct vec {
	const char *name;
	const char *in;
	size_t len; /* 0 = strlen */
	size_t max_line;
	const char *want; /* "T|" too long, "C:x|" CRLF, "L:x|" LF */
	size_t rest;	  /* bytes left unconsumed */
};

#define NUL_IN "a\0b\r\n\0\n"

static const struct vec vecs[] = {
	{"crlf", "HELO x\r\nNOOP\r\n", 0, 64, "C:HELO x|C:NOOP|", 0},
	{"bare-lf", "one\ntwo\r\nthree\n", 0, 64, "L:one|C:two|L:three|", 0},
	{"partial", "abc\r\ndef", 0, 64, "C:abc|", 3},
	{"empty-lines", "\r\n\n\r\n", 0, 64, "C:|L:|C:|", 0},
	{"cr-alone", "a\rb\r\n", 0, 64, "C:a\rb|", 0},
	{"exact-limit", "12345678\r\nx\n", 0, 10, "C:12345678|L:x|", 0},
	{"one-over", "123456789\r\nok\r\n", 0, 10, "T|C:ok|", 0},
	{"long-tail", "0123456789abcdefghij\r\nok\n", 0, 10, "T|L:ok|", 0},
	{"long-unfinished", "0123456789abcdef", 0, 10, "T|", 0},
	{"two-long", "aaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbb\nc\n", 0, 10,
	 "T|T|L:c|", 0},
	{"nul-bytes", NUL_IN, sizeof(NUL_IN) - 1, 64, "C:a\0b|L:\0|", 0},
};

/* feed in[] in pieces ending at the offsets of cuts[] (plus the end) */
static GString *run(const struct vec *v, const size_t *cuts, size_t ncuts,
		    size_t *rest_r)
{
	size_t len = v->len ? v->len : strlen(v->in);
	GString *out = g_string_new(NULL);
	struct rm_linebuf lb;
	struct rmail_line l;
	size_t start = 0, avail = 0, used, ci = 0;
	int rc;

	rm_linebuf_init(&lb, v->max_line);
	for (;;) {
		/* make the next piece visible */
		avail = ci < ncuts ? cuts[ci++] : len;
		for (;;) {
			rc = rm_linebuf_next(&lb, v->in + start, avail - start,
					     &l, &used);
			g_assert_cmpuint(used, <=, avail - start);
			start += used;
			if (rc == RMAIL_TOOLONG) {
				g_string_append(out, "T|");
				continue;
			}
			if (rc == RMAIL_OK) {
				g_string_append(out, l.eol == RMAIL_EOL_CRLF
							     ? "C:"
							     : "L:");
				g_string_append_len(out, l.data, (gssize)l.len);
				g_string_append_c(out, '|');
				continue;
			}
			g_assert_cmpint(rc, ==, RMAIL_AGAIN);
			if (used == 0 || start == avail)
				break;
		}
		if (avail == len)
			break;
	}
	*rest_r = len - start;
	return out;
}

static void check(const struct vec *v, const size_t *cuts, size_t n)
{
	size_t wantlen = v->len ? 0 : strlen(v->want), rest;
	GString *got = run(v, cuts, n, &rest);

	if (v->len) /* vectors with NULs: compare as bytes */
		wantlen = sizeof("C:a\0b|L:\0|") - 1;
	g_assert_cmpmem(got->str, got->len, v->want, wantlen);
	g_assert_cmpuint(rest, ==, v->rest);
	g_string_free(got, TRUE);
}

static void test_vector(gconstpointer data)
{
	const struct vec *v = data;
	size_t len = v->len ? v->len : strlen(v->in);
	size_t *cuts = g_new(size_t, len + 1);

	check(v, NULL, 0);		 /* whole */
	for (size_t i = 0; i < len; i++) /* byte by byte */
		cuts[i] = i + 1;
	check(v, cuts, len);
	for (size_t i = 1; i < len; i++) { /* split at every offset */
		cuts[0] = i;
		check(v, cuts, 1);
	}
	g_free(cuts);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(vecs); i++) {
		char *path =
			g_strdup_printf("/core_net/linebuf/%s", vecs[i].name);

		g_test_add_data_func(path, &vecs[i], test_vector);
		g_free(path);
	}
	return g_test_run();
}
