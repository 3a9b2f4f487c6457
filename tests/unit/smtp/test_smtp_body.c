/* smtp_body: DATA/BDAT vectors whole, byte by byte, split everywhere. */
#include <glib.h>
#include <string.h>

#include "smtp_body.h"

struct sink {
	GString *out;
	const char *chunk; /* bounds of the chunk being fed */
	size_t chunk_len;
	int fail_after; /* > 0: fail the Nth call */
	int calls;
};

static int sink_out(void *arg, const char *data, size_t n)
{
	struct sink *s = arg;

	/* every slice lies in the caller's chunk: nothing is buffered */
	g_assert_true(data >= s->chunk && data + n <= s->chunk + s->chunk_len);
	g_assert_cmpuint(n, >, 0);
	s->calls++;
	if (s->fail_after > 0 && s->calls >= s->fail_after)
		return -1;
	g_string_append_len(s->out, data, n);
	return 0;
}

struct outcome {
	int rc;
	int err;
	size_t end; /* absolute offset after the last consumed */
	uint64_t size;
	GString *out;
};

/* chunk 0: whole; > 0: that many octets; -1: two pieces split at
 * `split`.  Stops at the first result other than RMAIL_AGAIN. */
static void drive(int mode, const struct smtp_body_limits *lim, const char *in,
		  size_t len, gssize chunk, size_t split, struct outcome *o)
{
	struct smtp_body b;
	struct sink s = {.out = g_string_new(NULL)};
	size_t pos = 0;
	int rc = RMAIL_AGAIN;

	smtp_body_init(&b, mode, lim, sink_out, &s);
	while (pos < len) {
		size_t step, used;
		char *buf;

		if (chunk == 0)
			step = len - pos;
		else if (chunk < 0)
			step = pos < split ? split - pos : len - pos;
		else
			step = MIN((size_t)chunk, len - pos);
		buf = g_memdup2(in + pos, step);
		s.chunk = buf;
		s.chunk_len = step;
		rc = smtp_body_feed(&b, buf, step, &used);
		g_free(buf);
		g_assert_cmpuint(used, <=, step);
		pos += used;
		if (rc != RMAIL_AGAIN)
			break;
		g_assert_cmpuint(used, ==, step);
	}
	if (rc == RMAIL_AGAIN && mode == SMTP_BODY_BDAT)
		rc = smtp_body_finish(&b);
	o->rc = rc;
	o->err = b.err;
	o->end = pos;
	o->size = b.size;
	o->out = s.out;
	if (rc == RMAIL_INVALID) {
		size_t used = 1;

		/* the error state is final: no resuming past a bare EOL */
		g_assert_cmpint(smtp_body_feed(&b, ".\r\n", 3, &used), ==,
				RMAIL_INVALID);
		g_assert_cmpuint(used, ==, 0);
		g_assert_false(smtp_body_is_done(&b));
	}
}

struct bvec {
	const char *in;
	int rc;
	int err;
	size_t end;
	const char *out; /* expected output when rc is OK */
};

#define GOOD(i, o) .in = i, .rc = RMAIL_OK, .out = o
#define SMUG(i, e, at) .in = i, .rc = RMAIL_INVALID, .err = e, .end = at

static const struct bvec bvecs[] = {
	{GOOD("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n",
	      "Subject: x\r\n\r\nhello\r\n"),
	 .end = 24},
	/* right after DATA the CRLF of the command is the first CRLF */
	{GOOD(".\r\n", ""), .end = 3},
	{GOOD(".\r\nMAIL FROM:<>\r\n", ""), .end = 3},
	{GOOD("\r\n.\r\n", "\r\n"), .end = 5},
	{GOOD("..\r\n..x\r\n.y\r\n.\r\n", ".\r\n.x\r\ny\r\n"), .end = 16},
	{GOOD("a.\r\n.\r\n", "a.\r\n"), .end = 7},
	{GOOD("a\r\n..\r\n.\r\n", "a\r\n.\r\n"), .end = 10},
	{GOOD("a\r\n. \r\n.\r\n", "a\r\n \r\n"), .end = 10},
	{GOOD("8bit \xc3\xa9\x01\x7f\r\n.\r\n", "8bit \xc3\xa9\x01\x7f\r\n"),
	 .end = 14},

	/* smuggling: every variant is refused where it starts */
	{SMUG("a\n.\n", SMTP_BODY_E_BARE_LF, 1)},
	{SMUG("a\n.\r\n", SMTP_BODY_E_BARE_LF, 1)},
	{SMUG("a\r.\r", SMTP_BODY_E_BARE_CR, 2)},
	{SMUG("a\r.\r\n", SMTP_BODY_E_BARE_CR, 2)},
	{SMUG("a\r\n.\rb", SMTP_BODY_E_BARE_CR, 5)},
	{SMUG("a\r\n.\r\r\n", SMTP_BODY_E_BARE_CR, 5)},
	{SMUG("a\r\n.\n", SMTP_BODY_E_BARE_LF, 4)},
	{SMUG("a\r\n.\nMAIL FROM:<x@y.z>\r\n", SMTP_BODY_E_BARE_LF, 4)},
	{SMUG("\n.\r\n", SMTP_BODY_E_BARE_LF, 0)},
	{SMUG(".\n", SMTP_BODY_E_BARE_LF, 1)},
	{SMUG("\r.\r\n", SMTP_BODY_E_BARE_CR, 1)},
	{SMUG("a\r\n\n.\r\n", SMTP_BODY_E_BARE_LF, 3)},
	{SMUG("a\r\n\r.\r\n", SMTP_BODY_E_BARE_CR, 4)},
	{SMUG("a\r\r\n.\r\n", SMTP_BODY_E_BARE_CR, 2)},
};

static void check_bvec(const struct bvec *v, const struct outcome *o)
{
	g_assert_cmpint(o->rc, ==, v->rc);
	g_assert_cmpint(o->err, ==, v->err);
	g_assert_cmpuint(o->end, ==, v->end);
	if (v->rc == RMAIL_OK) {
		g_assert_cmpmem(o->out->str, o->out->len, v->out,
				strlen(v->out));
		g_assert_cmpuint(o->size, ==, strlen(v->out));
	} else {
		g_assert_cmpuint(smtp_body_err_code(o->err), ==, 521);
		g_assert_cmpstr(smtp_body_err_enh(o->err), ==, "5.5.2");
	}
}

static void run_all_ways(int mode, const struct smtp_body_limits *lim,
			 const char *in, size_t len,
			 void (*check)(const void *, const struct outcome *),
			 const void *arg)
{
	struct outcome o;
	size_t split;

	drive(mode, lim, in, len, 0, 0, &o);
	check(arg, &o);
	g_string_free(o.out, TRUE);
	drive(mode, lim, in, len, 1, 0, &o);
	check(arg, &o);
	g_string_free(o.out, TRUE);
	for (split = 1; split < len; split++) {
		drive(mode, lim, in, len, -1, split, &o);
		check(arg, &o);
		g_string_free(o.out, TRUE);
	}
}

static void check_bvec_cb(const void *arg, const struct outcome *o)
{
	check_bvec(arg, o);
}

static void test_data_vectors(void)
{
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(bvecs); k++)
		run_all_ways(SMTP_BODY_DATA, NULL, bvecs[k].in,
			     strlen(bvecs[k].in), check_bvec_cb, &bvecs[k]);
}

/*
 * A smuggling variant inside a message, followed by what an attacker
 * wants read as a second transaction: the machine never reports an
 * end, so nothing after the variant is ever parsed as commands.
 */
static const char *const variants[] = {
	"\n.\n",   "\n.\r\n",  "\r.\r",	 "\r\n.\r",	"\r\n.\n",
	"\r.\r\n", "\r\n.\rX", "\n..\n", "\r\n\n.\r\n",
};

static void check_smuggle(const void *arg, const struct outcome *o)
{
	size_t prefix = *(const size_t *)arg;

	g_assert_cmpint(o->rc, ==, RMAIL_INVALID);
	g_assert_true(o->err == SMTP_BODY_E_BARE_LF ||
		      o->err == SMTP_BODY_E_BARE_CR);
	/* refused inside the variant, before the smuggled commands */
	g_assert_cmpuint(o->end, >=, prefix);
	g_assert_cmpuint(o->end, <=, prefix + 4);
	g_assert_null(g_strstr_len(o->out->str, o->out->len, "MAIL FROM"));
}

static void test_smuggling(void)
{
	static const char head[] = "Subject: t\r\n\r\nA";
	static const char tail[] = "MAIL FROM:<evil@x.example>\r\n"
				   "RCPT TO:<victim@y.example>\r\nDATA\r\n"
				   "B\r\n.\r\n";
	size_t k, prefix = sizeof(head) - 1;

	for (k = 0; k < G_N_ELEMENTS(variants); k++) {
		char *in = g_strconcat(head, variants[k], tail, NULL);

		run_all_ways(SMTP_BODY_DATA, NULL, in, strlen(in),
			     check_smuggle, &prefix);
		g_free(in);
	}
}

/* ".\r\n" opening a chunk that is not at the start of a line is data */
static void test_dot_at_chunk_start(void)
{
	struct smtp_body b;
	struct sink s = {.out = g_string_new(NULL)};
	char c1[] = "abc", c2[] = ".\r\n", c3[] = ".\r\n";
	size_t used;

	smtp_body_init(&b, SMTP_BODY_DATA, NULL, sink_out, &s);
	s.chunk = c1;
	s.chunk_len = 3;
	g_assert_cmpint(smtp_body_feed(&b, c1, 3, &used), ==, RMAIL_AGAIN);
	s.chunk = c2;
	g_assert_cmpint(smtp_body_feed(&b, c2, 3, &used), ==, RMAIL_AGAIN);
	g_assert_false(smtp_body_is_done(&b));
	s.chunk = c3;
	g_assert_cmpint(smtp_body_feed(&b, c3, 3, &used), ==, RMAIL_OK);
	g_assert_cmpuint(used, ==, 3);
	g_assert_cmpstr(s.out->str, ==, "abc.\r\n");
	g_string_free(s.out, TRUE);
}

static void check_bdat(const void *arg, const struct outcome *o)
{
	const char *in = arg;

	g_assert_cmpint(o->rc, ==, RMAIL_OK);
	g_assert_cmpuint(o->end, ==, strlen(in));
	g_assert_cmpmem(o->out->str, o->out->len, in, strlen(in));
	g_assert_cmpuint(o->size, ==, strlen(in));
}

/* BDAT: no unstuffing, no terminator, counted all the same */
static void test_bdat(void)
{
	static const char *const ins[] = {
		"x\r\n.\r\nMAIL FROM:<>\r\n..\r\n",
		".\r\n",
		"no final line break",
		"",
	};
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(ins); k++)
		run_all_ways(SMTP_BODY_BDAT, NULL, ins[k], strlen(ins[k]),
			     check_bdat, ins[k]);
}

/* BDAT under the DATA rule: every split of the input is a chunking,
 * so a CR ending one chunk and an LF starting the next is covered */
static const struct bvec bdat_smug[] = {
	{SMUG("hello\r.\r\nMAIL FROM:<a@b>\r\n", SMTP_BODY_E_BARE_CR, 6)},
	{SMUG("bare\nlf\r\n", SMTP_BODY_E_BARE_LF, 4)},
	{SMUG("a\r\n.\n", SMTP_BODY_E_BARE_LF, 4)},
	{SMUG("a\r\n\n", SMTP_BODY_E_BARE_LF, 3)},
	{SMUG("\n", SMTP_BODY_E_BARE_LF, 0)},
	{SMUG("a\r\r\n", SMTP_BODY_E_BARE_CR, 2)},
	{SMUG("a\r\n.\rb", SMTP_BODY_E_BARE_CR, 5)},
	/* the last octet: no LF can follow */
	{SMUG("a\r\nb\r", SMTP_BODY_E_BARE_CR, 5)},
	{SMUG("\r", SMTP_BODY_E_BARE_CR, 1)},
};

static void test_bdat_smuggling(void)
{
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(bdat_smug); k++)
		run_all_ways(SMTP_BODY_BDAT, NULL, bdat_smug[k].in,
			     strlen(bdat_smug[k].in), check_bvec_cb,
			     &bdat_smug[k]);
}

struct limvec {
	int mode;
	struct smtp_body_limits lim;
	const char *in;
	int rc;
	int err;
	unsigned code;
	const char *enh;
};

static const struct limvec limvecs[] = {
	{SMTP_BODY_DATA, {.max_size = 10}, "01234567\r\n.\r\n", RMAIL_OK},
	{SMTP_BODY_DATA,
	 {.max_size = 10},
	 "012345678\r\n.\r\n",
	 RMAIL_TOOLONG,
	 SMTP_BODY_E_TOOBIG,
	 552,
	 "5.3.4"},
	{SMTP_BODY_BDAT, {.max_size = 10}, "0123456789", RMAIL_OK},
	{SMTP_BODY_BDAT,
	 {.max_size = 10},
	 "0123456789A",
	 RMAIL_TOOLONG,
	 SMTP_BODY_E_TOOBIG,
	 552,
	 "5.3.4"},
	{SMTP_BODY_DATA,
	 {.max_header_size = 20},
	 "Subject: 0123456789\r\n\r\nbody\r\n.\r\n",
	 RMAIL_TOOLONG,
	 SMTP_BODY_E_HDR_TOOBIG,
	 552,
	 "5.3.4"},
	{SMTP_BODY_DATA,
	 {.max_header_size = 24},
	 "Subject: 0123456789\r\n\r\nbody is longer than that\r\n.\r\n",
	 RMAIL_OK},
	{SMTP_BODY_DATA,
	 {.max_headers = 2},
	 "A: 1\r\nB: 2\r\nC: 3\r\n\r\nx\r\n.\r\n",
	 RMAIL_TOOLONG,
	 SMTP_BODY_E_HDR_COUNT,
	 554,
	 "5.6.0"},
	{SMTP_BODY_DATA,
	 {.max_headers = 2},
	 "A: 1\r\n folded: no\r\nB: 2\r\n\r\nC: 3\r\nD: 4\r\n.\r\n",
	 RMAIL_OK},
	{SMTP_BODY_BDAT,
	 {.max_headers = 1},
	 "A: 1\r\nB: 2\r\n\r\nbody\r\n",
	 RMAIL_TOOLONG,
	 SMTP_BODY_E_HDR_COUNT,
	 554,
	 "5.6.0"},
	/* no header block at all: the first line is body */
	{SMTP_BODY_DATA,
	 {.max_headers = 1, .max_header_size = 4},
	 "no colon here, a: b\r\nX: y\r\n.\r\n",
	 RMAIL_OK},
};

static void check_lim(const void *arg, const struct outcome *o)
{
	const struct limvec *v = arg;

	g_assert_cmpint(o->rc, ==, v->rc);
	g_assert_cmpint(o->err, ==, v->err);
	if (v->mode == SMTP_BODY_DATA) {
		const char *t = strstr(v->in, "\r\n.\r\n");

		/* consumed to the real end, whatever the limit did */
		g_assert_nonnull(t);
		g_assert_cmpuint(o->end, ==, (size_t)(t - v->in) + 5);
	}
	if (v->rc != RMAIL_OK) {
		g_assert_cmpuint(smtp_body_err_code(o->err), ==, v->code);
		g_assert_cmpstr(smtp_body_err_enh(o->err), ==, v->enh);
		g_assert_cmpstr(smtp_body_err_text(o->err), !=, "Ok");
	}
	if (v->lim.max_size != 0)
		g_assert_cmpuint(o->out->len, <=, v->lim.max_size);
}

static void test_limits(void)
{
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(limvecs); k++)
		run_all_ways(limvecs[k].mode, &limvecs[k].lim, limvecs[k].in,
			     strlen(limvecs[k].in), check_lim, &limvecs[k]);
}

/* 4 MB over a 1000-octet limit: consumed to the end, output bounded */
static void test_big_stream(void)
{
	struct smtp_body_limits lim = {.max_size = 1000};
	GString *in = g_string_new(NULL);
	struct outcome o;
	size_t i;

	for (i = 0; i < 65536; i++)
		g_string_append(in, "0123456789012345678901234567890123456"
				    "789012345678901234567890123\r\n");
	g_string_append(in, ".\r\nQUIT\r\n");
	drive(SMTP_BODY_DATA, &lim, in->str, in->len, 4096, 0, &o);
	g_assert_cmpint(o.rc, ==, RMAIL_TOOLONG);
	g_assert_cmpint(o.err, ==, SMTP_BODY_E_TOOBIG);
	g_assert_cmpuint(o.end, ==, in->len - 6);
	g_assert_cmpuint(o.size, ==, in->len - 9);
	g_assert_cmpuint(o.out->len, <=, 1000);
	g_string_free(o.out, TRUE);
	g_string_free(in, TRUE);
}

static void test_output_failure(void)
{
	struct smtp_body b;
	struct sink s = {.out = g_string_new(NULL), .fail_after = 1};
	char in[] = "abc\r\n.\r\n";
	size_t used;

	smtp_body_init(&b, SMTP_BODY_DATA, NULL, sink_out, &s);
	s.chunk = in;
	s.chunk_len = sizeof(in) - 1;
	g_assert_cmpint(smtp_body_feed(&b, in, sizeof(in) - 1, &used), ==,
			RMAIL_ERROR);
	g_assert_cmpint(b.err, ==, SMTP_BODY_E_OUTPUT);
	g_assert_cmpint(smtp_body_feed(&b, in, sizeof(in) - 1, &used), ==,
			RMAIL_ERROR);
	g_string_free(s.out, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtp/body/data-vectors", test_data_vectors);
	g_test_add_func("/smtp/body/smuggling", test_smuggling);
	g_test_add_func("/smtp/body/dot-at-chunk-start",
			test_dot_at_chunk_start);
	g_test_add_func("/smtp/body/bdat", test_bdat);
	g_test_add_func("/smtp/body/bdat-smuggling", test_bdat_smuggling);
	g_test_add_func("/smtp/body/limits", test_limits);
	g_test_add_func("/smtp/body/big-stream", test_big_stream);
	g_test_add_func("/smtp/body/output-failure", test_output_failure);
	return g_test_run();
}
