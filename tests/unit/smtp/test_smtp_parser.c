/* smtp_parser: vectors whole, byte by byte and split at every offset. */
#include <glib.h>
#include <string.h>

#include "smtp_parser.h"
#include "smtp_reply.h"

#define MAX_RESULTS 8

/* What one smtp_parse call reported, copied out of the buffer. */
struct res {
	int rc;
	int verb;
	int err;
	size_t end; /* absolute offset after consumed */
	char mailbox[300];
	char domain[300];
	char arg[700];
	char mech[32];
	char initial[64];
	char auth[64];
	struct smtp_cmd cmd; /* slices are dangling: scalars only */
};

struct run {
	struct res r[MAX_RESULTS];
	int n;
};

static void copy_slice(char *dst, size_t size, struct smtp_slice s)
{
	size_t n = MIN(s.len, size - 1);

	if (s.p != NULL)
		memcpy(dst, s.p, n);
	dst[s.p != NULL ? n : 0] = '\0';
}

/* Feed `in` in chunks of `chunk` octets (0: whole), or split once at
 * `split` when chunk is -1, through a buffer holding exactly the
 * unconsumed input so ASan sees any overread. */
static void drive(const char *in, size_t len, size_t max_line, int utf8,
		  gssize chunk, size_t split, struct run *out)
{
	struct smtp_parser st = {.max_line = max_line, .utf8 = utf8};
	size_t pos = 0, fed = 0, guard = 0;

	memset(out, 0, sizeof(*out));
	while (fed < len) {
		size_t step;

		if (chunk == 0)
			step = len;
		else if (chunk < 0)
			step = fed < split ? split - fed : len - fed;
		else
			step = (size_t)chunk;
		fed = MIN(len, fed + MAX(step, 1));
		for (;;) {
			struct smtp_cmd c;
			size_t avail = fed - pos;
			char *buf = g_malloc(avail + 1);
			int rc;

			g_assert_cmpuint(++guard, <, 100000);
			memcpy(buf, in + pos, avail);
			rc = smtp_parse(&st, buf, avail, &c);
			g_assert_cmpuint(c.consumed, <=, avail);
			if (rc != RMAIL_AGAIN) {
				struct res *r;

				g_assert_cmpint(out->n, <, MAX_RESULTS);
				r = &out->r[out->n++];
				r->rc = rc;
				r->verb = c.verb;
				r->err = c.err;
				r->end = pos + c.consumed;
				r->cmd = c;
				copy_slice(r->mailbox, sizeof(r->mailbox),
					   c.path.mailbox);
				copy_slice(r->domain, sizeof(r->domain),
					   c.path.domain);
				copy_slice(r->arg, sizeof(r->arg), c.arg);
				copy_slice(r->mech, sizeof(r->mech), c.mech);
				copy_slice(r->initial, sizeof(r->initial),
					   c.initial);
				copy_slice(r->auth, sizeof(r->auth), c.auth);
				/* progress is guaranteed on every result */
				g_assert_cmpuint(c.consumed, >, 0);
			}
			pos += c.consumed;
			g_free(buf);
			if (rc == RMAIL_AGAIN)
				break;
		}
	}
}

struct vec {
	const char *in;
	int rc;
	int verb;
	int err;
	unsigned code; /* reply code when rc != OK */
	const char *enh;
	size_t end; /* resync/consumed position */
	const char *mailbox;
	const char *domain;
	int utf8;  /* the transaction has SMTPUTF8 */
	int check; /* extra checks, see check_extra */
};

enum {
	X_NONE,
	X_SIZE_BODY_UTF8,
	X_NULL,
	X_ROUTE,
	X_BDAT_LAST,
	X_BDAT,
	X_AUTH_IR,
	X_AUTH,
	X_POSTMASTER,
	X_LITERAL,
	X_MAIL_AUTH,
	X_HELO_BAD,
	X_HELO_OK,
	X_BIG_SIZE,
	X_REQUIRETLS,
};

#define OK(s, v) .in = s, .rc = RMAIL_OK, .verb = v, .end = sizeof(s) - 1
#define BAD(s, e, c, x, at)                                                    \
	.in = s, .rc = RMAIL_INVALID, .err = e, .code = c, .enh = x, .end = at

static const struct vec vecs[] = {
	{OK("EHLO mail.example.org\r\n", SMTP_CMD_EHLO), .check = X_HELO_OK},
	{OK("helo [192.0.2.1]\r\n", SMTP_CMD_HELO), .check = X_HELO_OK},
	{OK("EHLO my_host\r\n", SMTP_CMD_EHLO), .check = X_HELO_BAD},
	{OK("MAIL FROM:<a@b.example>\r\n", SMTP_CMD_MAIL),
	 .mailbox = "a@b.example", .domain = "b.example"},
	{OK("mail from: <a.b+c@x-y.example>  \r\n", SMTP_CMD_MAIL),
	 .mailbox = "a.b+c@x-y.example"},
	{OK("MAIL FROM:<>\r\n", SMTP_CMD_MAIL), .check = X_NULL, .mailbox = ""},
	{OK("MAIL FROM:<u@ex.org> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n",
	    SMTP_CMD_MAIL),
	 .check = X_SIZE_BODY_UTF8},
	{OK("MAIL FROM:<j\xc3\xb8rn@b\xc3\xbc\x63her.example> SMTPUTF8\r\n",
	    SMTP_CMD_MAIL),
	 .mailbox = "j\xc3\xb8rn@b\xc3\xbc\x63her.example"},
	{OK("MAIL FROM:<a@b.example> SIZE=18446744073709551615\r\n",
	    SMTP_CMD_MAIL),
	 .check = X_BIG_SIZE},
	{OK("MAIL FROM:<a@b.example> AUTH=<>\r\n", SMTP_CMD_MAIL)},
	{OK("MAIL FROM:<a@b.example> REQUIRETLS\r\n", SMTP_CMD_MAIL),
	 .check = X_REQUIRETLS},
	{OK("MAIL FROM:<a@b.example> AUTH=e+2Bx@b.example\r\n", SMTP_CMD_MAIL),
	 .check = X_MAIL_AUTH},
	{OK("RCPT TO:<@relay.example,@[10.0.0.1]:user@d.example>\r\n",
	    SMTP_CMD_RCPT),
	 .mailbox = "user@d.example", .check = X_ROUTE},
	{OK("RCPT TO:<\"john doe\\\"x\"@example.com>\r\n", SMTP_CMD_RCPT),
	 .mailbox = "\"john doe\\\"x\"@example.com"},
	{OK("RCPT TO:<postmaster>\r\n", SMTP_CMD_RCPT), .check = X_POSTMASTER},
	{OK("RCPT TO:<u@[IPv6:2001:db8::1]>\r\n", SMTP_CMD_RCPT),
	 .check = X_LITERAL, .domain = "[IPv6:2001:db8::1]"},
	{OK("RCPT TO:<u@[192.0.2.255]>\r\n", SMTP_CMD_RCPT),
	 .check = X_LITERAL},
	{OK("RCPT TO:<\xd0\xb8\xd0\xbc\xd1\x8f@\xd0\xbf\xd1\x80.example>\r\n",
	    SMTP_CMD_RCPT),
	 .utf8 = 1},
	{OK("DATA\r\n", SMTP_CMD_DATA)},
	{OK("BDAT 1000 LAST\r\n", SMTP_CMD_BDAT), .check = X_BDAT_LAST},
	{OK("bdat 0\r\n", SMTP_CMD_BDAT), .check = X_BDAT},
	{OK("RSET\r\n", SMTP_CMD_RSET)},
	{OK("NOOP anything at all\r\n", SMTP_CMD_NOOP)},
	{OK("QUIT\r\n", SMTP_CMD_QUIT)},
	{OK("VRFY user\r\n", SMTP_CMD_VRFY)},
	{OK("HELP\r\n", SMTP_CMD_HELP)},
	{OK("STARTTLS\r\n", SMTP_CMD_STARTTLS)},
	{OK("AUTH PLAIN AHVzZXIAcGFzcw==\r\n", SMTP_CMD_AUTH),
	 .check = X_AUTH_IR},
	{OK("AUTH LOGIN\r\n", SMTP_CMD_AUTH), .check = X_AUTH},

	/* unknown commands: 500 5.5.2 */
	{BAD("FOO bar\r\n", SMTP_PERR_UNKNOWN, 500, "5.5.2", 9)},
	{BAD("\r\n", SMTP_PERR_UNKNOWN, 500, "5.5.2", 2)},
	{BAD("MAIL:FROM<a@b>\r\n", SMTP_PERR_UNKNOWN, 500, "5.5.2", 16)},
	{BAD("DATAX\r\n", SMTP_PERR_UNKNOWN, 500, "5.5.2", 7)},
	/* syntax in parameters: 501 5.5.4 */
	{BAD("EHLO\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 6)},
	{BAD("DATA now\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 10)},
	{BAD("MAIL TO:<a@b.c>\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 17)},
	{BAD("MAIL FROM:<a@b.c> SIZE=abc\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4",
	     28)},
	{BAD("MAIL FROM:<a@b.c> SIZE=18446744073709551616\r\n",
	     SMTP_PERR_SYNTAX, 501, "5.5.4", 45)},
	{BAD("MAIL FROM:<a@b.c> SIZE=1 SIZE=2\r\n", SMTP_PERR_SYNTAX, 501,
	     "5.5.4", 33)},
	{BAD("MAIL FROM:<a@b.c> BODY=9BIT\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4",
	     29)},
	{BAD("MAIL FROM:<a@b.c> SMTPUTF8=yes\r\n", SMTP_PERR_SYNTAX, 501,
	     "5.5.4", 32)},
	{BAD("MAIL FROM:<a@b.c> REQUIRETLS=yes\r\n", SMTP_PERR_SYNTAX, 501,
	     "5.5.4", 34)},
	{BAD("MAIL FROM:<a@b.c> REQUIRETLS REQUIRETLS\r\n", SMTP_PERR_SYNTAX,
	     501, "5.5.4", 41)},
	{BAD("MAIL FROM:<a@b.c> AUTH=a=b\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4",
	     28)},
	{BAD("MAIL FROM:<a@b.c> AUTH=+4\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4",
	     27)},
	{BAD("MAIL FROM:<a@b.c>SIZE=1\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4",
	     25)},
	{BAD("BDAT\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 6)},
	{BAD("BDAT 10 FIRST\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 15)},
	{BAD("BDAT -1\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 9)},
	{BAD("AUTH\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 6)},
	{BAD("AUTH PLAIN abc\r\n", SMTP_PERR_AUTH_B64, 501, "5.5.2", 16)},
	{BAD("AUTH PLAIN ab=c\r\n", SMTP_PERR_AUTH_B64, 501, "5.5.2", 17)},
	/* sender addresses: 501 5.1.7 */
	{BAD("MAIL FROM:a@b.c\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 17)},
	{BAD("MAIL FROM:<a..b@c.d>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7",
	     22)},
	{BAD("MAIL FROM:<.a@c.d>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 20)},
	{BAD("MAIL FROM:<a@-c.d>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 20)},
	{BAD("MAIL FROM:<a@c-.d>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 20)},
	{BAD("MAIL FROM:<a@c..d>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 20)},
	{BAD("MAIL FROM:<a@c.d.>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 20)},
	{BAD("MAIL FROM:<a@[256.1.1.1]>\r\n", SMTP_PERR_BAD_SENDER, 501,
	     "5.1.7", 27)},
	{BAD("MAIL FROM:<a@[1.2.3]>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7",
	     23)},
	{BAD("MAIL FROM:<a@[IPv6:1::2::3]>\r\n", SMTP_PERR_BAD_SENDER, 501,
	     "5.1.7", 30)},
	{BAD("MAIL FROM:<a@[x-tag:foo]>\r\n", SMTP_PERR_BAD_SENDER, 501,
	     "5.1.7", 27)},
	{BAD("MAIL FROM:<a@b.c\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 18)},
	{BAD("MAIL FROM:<ab.c>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7", 18)},
	{BAD("MAIL FROM:<\"a\x01\"@b.c>\r\n", SMTP_PERR_BAD_SENDER, 501,
	     "5.1.7", 22)},
	{BAD("MAIL FROM:<@:a@b.c>\r\n", SMTP_PERR_BAD_SENDER, 501, "5.1.7",
	     21)},
	{BAD("MAIL FROM:<a@b.c> \xff\r\n", SMTP_PERR_SYNTAX, 501, "5.5.4", 21)},
	/* invalid UTF-8 is a bad address even with SMTPUTF8 */
	{BAD("MAIL FROM:<\xc0\xafx@b.c> SMTPUTF8\r\n", SMTP_PERR_BAD_SENDER,
	     501, "5.1.7", 30)},
	{BAD("MAIL FROM:<\xed\xa0\x80@b.c> SMTPUTF8\r\n", SMTP_PERR_BAD_SENDER,
	     501, "5.1.7", 30)},
	/* non-ASCII without SMTPUTF8: 553 5.6.7 */
	{BAD("MAIL FROM:<j\xc3\xb8rn@b.example>\r\n", SMTP_PERR_UTF8_ADDR, 553,
	     "5.6.7", 29)},
	{BAD("RCPT TO:<u@b\xc3\xbc\x63her.example>\r\n", SMTP_PERR_UTF8_ADDR,
	     553, "5.6.7", 29)},
	/* recipient addresses: 501 5.1.3 */
	{BAD("RCPT TO:<>\r\n", SMTP_PERR_BAD_RCPT, 501, "5.1.3", 12)},
	{BAD("RCPT TO:<a b@c.d>\r\n", SMTP_PERR_BAD_RCPT, 501, "5.1.3", 19)},
	{BAD("RCPT TO:<a@b_c.d>\r\n", SMTP_PERR_BAD_RCPT, 501, "5.1.3", 19)},
	/* unsupported parameters: 555 5.5.4 */
	{BAD("MAIL FROM:<a@b.c> RET=HDRS\r\n", SMTP_PERR_UNSUPP_PARAM, 555,
	     "5.5.4", 28)},
	{BAD("MAIL FROM:<a@b.c> ENVID=x\r\n", SMTP_PERR_UNSUPP_PARAM, 555,
	     "5.5.4", 27)},
	{BAD("MAIL FROM:<a@b.c> BODY=BINARYMIME\r\n", SMTP_PERR_UNSUPP_PARAM,
	     555, "5.5.4", 35)},
	{BAD("MAIL FROM:<a@b.c> X-FOO=1\r\n", SMTP_PERR_UNSUPP_PARAM, 555,
	     "5.5.4", 27)},
	{BAD("RCPT TO:<a@b.c> NOTIFY=NEVER\r\n", SMTP_PERR_UNSUPP_PARAM, 555,
	     "5.5.4", 30)},
	{BAD("RCPT TO:<a@b.c> ORCPT=rfc822;a@b.c\r\n", SMTP_PERR_UNSUPP_PARAM,
	     555, "5.5.4", 36)},
	/* smuggling class in commands: 521 5.5.2, resync past the LF */
	{BAD("NOOP\n", SMTP_PERR_BARE_EOL, 521, "5.5.2", 5)},
	{BAD("NOOP\rQUIT\r\n", SMTP_PERR_BARE_EOL, 521, "5.5.2", 5)},
	{BAD("NO\0OP\r\n", SMTP_PERR_BARE_EOL, 521, "5.5.2", 3)},
	{BAD("MAIL FROM:<a@b.c>\n", SMTP_PERR_BARE_EOL, 521, "5.5.2", 18)},
	{BAD("NOOP\r\r\n", SMTP_PERR_BARE_EOL, 521, "5.5.2", 5)},
};

static size_t vec_len(const struct vec *v)
{
	/* one vector embeds a NUL */
	if (strncmp(v->in, "NO\0OP", 6) == 0)
		return 7;
	return strlen(v->in);
}

static void check_extra(const struct vec *v, const struct res *r)
{
	const struct smtp_cmd *c = &r->cmd;

	switch (v->check) {
	case X_SIZE_BODY_UTF8:
		g_assert_true(c->has_size);
		g_assert_cmpuint(c->size, ==, 1000);
		g_assert_cmpint(c->body, ==, SMTP_BODY_8BITMIME);
		g_assert_true(c->smtputf8);
		break;
	case X_BIG_SIZE:
		g_assert_cmpuint(c->size, ==, G_MAXUINT64);
		break;
	case X_REQUIRETLS:
		g_assert_true(c->requiretls);
		break;
	case X_NULL:
		g_assert_true(c->path.is_null);
		break;
	case X_ROUTE:
		g_assert_true(c->path.has_route);
		break;
	case X_BDAT_LAST:
		g_assert_cmpuint(c->chunk_size, ==, 1000);
		g_assert_true(c->last);
		break;
	case X_BDAT:
		g_assert_cmpuint(c->chunk_size, ==, 0);
		g_assert_false(c->last);
		break;
	case X_AUTH_IR:
		g_assert_cmpstr(r->mech, ==, "PLAIN");
		g_assert_true(c->has_initial);
		g_assert_cmpstr(r->initial, ==, "AHVzZXIAcGFzcw==");
		break;
	case X_AUTH:
		g_assert_cmpstr(r->mech, ==, "LOGIN");
		g_assert_false(c->has_initial);
		break;
	case X_POSTMASTER:
		g_assert_true(c->path.is_postmaster);
		g_assert_cmpstr(r->mailbox, ==, "postmaster");
		break;
	case X_LITERAL:
		g_assert_true(c->path.is_literal);
		break;
	case X_MAIL_AUTH:
		g_assert_true(c->has_auth);
		g_assert_cmpstr(r->auth, ==, "e+2Bx@b.example");
		break;
	case X_HELO_OK:
		g_assert_true(c->helo_is_domain);
		break;
	case X_HELO_BAD:
		g_assert_false(c->helo_is_domain);
		break;
	default:
		break;
	}
}

static void check_run(const struct vec *v, size_t len, const struct run *run)
{
	const struct res *r;

	g_assert_cmpint(run->n, >=, 1);
	r = &run->r[0];
	g_assert_cmpint(r->rc, ==, v->rc);
	g_assert_cmpint(r->err, ==, v->err);
	g_assert_cmpuint(r->end, ==, v->end);
	if (v->rc == RMAIL_OK) {
		g_assert_cmpint(r->verb, ==, v->verb);
		if (v->mailbox != NULL)
			g_assert_cmpstr(r->mailbox, ==, v->mailbox);
		if (v->domain != NULL)
			g_assert_cmpstr(r->domain, ==, v->domain);
		check_extra(v, r);
	} else {
		g_assert_cmpuint(smtp_perr_code(r->err), ==, v->code);
		g_assert_cmpstr(smtp_perr_enh(r->err), ==, v->enh);
		g_assert_nonnull(r->cmd.err_detail);
	}
	/* what follows the resync point parses on its own (after a bare
	 * CR or LF the rest of that line may give more errors) */
	if (v->err != SMTP_PERR_BARE_EOL)
		g_assert_cmpint(run->n, ==, 2);
	r = &run->r[run->n - 1];
	g_assert_cmpint(r->rc, ==, RMAIL_OK);
	g_assert_cmpint(r->verb, ==, SMTP_CMD_NOOP);
	g_assert_cmpuint(r->end, ==, len);
}

static void test_vectors(void)
{
	size_t k, split;
	struct run run;

	for (k = 0; k < G_N_ELEMENTS(vecs); k++) {
		const struct vec *v = &vecs[k];
		size_t n = vec_len(v);
		char *in = g_malloc(n + 6);
		size_t len = n + 6;

		memcpy(in, v->in, n);
		memcpy(in + n, "NOOP\r\n", 6);
		if (g_test_verbose())
			g_test_message("vector %zu: %.*s", k, (int)n, v->in);
		drive(in, len, 0, v->utf8, 0, 0, &run);
		check_run(v, len, &run);
		drive(in, len, 0, v->utf8, 1, 0, &run);
		check_run(v, len, &run);
		for (split = 1; split < len; split++) {
			drive(in, len, 0, v->utf8, -1, split, &run);
			check_run(v, len, &run);
		}
		g_free(in);
	}
}

/* 512 octets with CRLF pass, 513 do not; the rest of a long line is
 * skipped and the next command is parsed, in every chunking. */
static void test_line_limit(void)
{
	GString *s = g_string_new(NULL);
	struct run run;
	gssize chunks[] = {0, 1, 7, 100, 511, 512, 513};
	size_t k;

	g_string_append(s, "NOOP ");
	while (s->len < 510)
		g_string_append_c(s, 'a');
	g_string_append(s, "\r\n");
	g_assert_cmpuint(s->len, ==, 512);
	for (k = 0; k < G_N_ELEMENTS(chunks); k++) {
		drive(s->str, s->len, 512, 0, chunks[k], 0, &run);
		g_assert_cmpint(run.n, ==, 1);
		g_assert_cmpint(run.r[0].rc, ==, RMAIL_OK);
		g_assert_cmpuint(run.r[0].end, ==, 512);
	}
	g_string_insert_c(s, 5, 'b');
	g_string_append(s, "QUIT\r\n");
	for (k = 0; k < G_N_ELEMENTS(chunks); k++) {
		drive(s->str, s->len, 512, 0, chunks[k], 0, &run);
		g_assert_cmpint(run.n, ==, 2);
		g_assert_cmpint(run.r[0].rc, ==, RMAIL_TOOLONG);
		g_assert_cmpint(run.r[0].err, ==, SMTP_PERR_TOOLONG);
		g_assert_cmpuint(smtp_perr_code(run.r[0].err), ==, 500);
		g_assert_cmpint(run.r[1].rc, ==, RMAIL_OK);
		g_assert_cmpint(run.r[1].verb, ==, SMTP_CMD_QUIT);
		g_assert_cmpuint(run.r[1].end, ==, s->len);
	}
	/* a bare LF hidden in the discarded tail is still caught */
	g_string_assign(s, "NOOP ");
	while (s->len < 600)
		g_string_append_c(s, 'a');
	g_string_append(s, "\nQUIT\r\n");
	for (k = 0; k < G_N_ELEMENTS(chunks); k++) {
		drive(s->str, s->len, 512, 0, chunks[k], 0, &run);
		g_assert_cmpint(run.r[0].rc, ==, RMAIL_TOOLONG);
		g_assert_cmpint(run.r[1].rc, ==, RMAIL_INVALID);
		g_assert_cmpint(run.r[1].err, ==, SMTP_PERR_BARE_EOL);
		g_assert_cmpuint(run.r[1].end, ==, 601);
	}
	g_string_free(s, TRUE);
}

/* Pipelined commands come out one by one with the right ends. */
static void test_pipelining(void)
{
	static const char in[] = "EHLO a.example\r\nMAIL FROM:<a@b.c>\r\n"
				 "RCPT TO:<d@e.f>\r\nDATA\r\n";
	static const int verbs_exp[] = {SMTP_CMD_EHLO, SMTP_CMD_MAIL,
					SMTP_CMD_RCPT, SMTP_CMD_DATA};
	static const size_t ends[] = {16, 35, 52, 58};
	struct run run;
	size_t split;
	int i;

	for (split = 0; split < sizeof(in) - 1; split++) {
		drive(in, sizeof(in) - 1, 0, 0, split == 0 ? 0 : -1, split,
		      &run);
		g_assert_cmpint(run.n, ==, 4);
		for (i = 0; i < 4; i++) {
			g_assert_cmpint(run.r[i].verb, ==, verbs_exp[i]);
			g_assert_cmpuint(run.r[i].end, ==, ends[i]);
		}
	}
}

static void test_length_limits(void)
{
	GString *s = g_string_new(NULL);
	struct smtp_cmd c;
	char local[70], label[70];

	memset(local, 'l', sizeof(local));
	memset(label, 'd', sizeof(label));
	g_string_printf(s, "RCPT TO:<%.*s@x.example>", 64, local);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==, RMAIL_OK);
	g_string_printf(s, "RCPT TO:<%.*s@x.example>", 65, local);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==,
			RMAIL_INVALID);
	g_assert_cmpint(c.err, ==, SMTP_PERR_BAD_RCPT);
	g_string_printf(s, "RCPT TO:<a@%.*s.example>", 63, label);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==, RMAIL_OK);
	g_string_printf(s, "RCPT TO:<a@%.*s.example>", 64, label);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==,
			RMAIL_INVALID);
	/* local@domain of 254 octets passes, 255 does not */
	g_string_printf(s, "RCPT TO:<%.*s@%.*s.%.*s.%.*s.%.*s>", 59, local, 63,
			label, 63, label, 63, label, 2, label);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==, RMAIL_OK);
	g_assert_cmpuint(c.path.mailbox.len, ==, 254);
	g_string_printf(s, "RCPT TO:<%.*s@%.*s.%.*s.%.*s.%.*s>", 60, local, 63,
			label, 63, label, 63, label, 2, label);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==,
			RMAIL_INVALID);
	g_assert_cmpint(c.err, ==, SMTP_PERR_BAD_RCPT);
	/* domain over 255 */
	g_string_printf(s, "RCPT TO:<a@%.*s.%.*s.%.*s.%.*s.ab>", 63, label, 63,
			label, 63, label, 63, label);
	g_assert_cmpint(smtp_parse_line(s->str, s->len, 0, &c), ==,
			RMAIL_INVALID);
	g_string_free(s, TRUE);
}

static void test_utf8(void)
{
	g_assert_true(smtp_domain_valid("b\xc3\xbc\x63her.de", 10, 1));
	g_assert_false(smtp_domain_valid("b\xc3\xbc\x63her.de", 10, 0));
	/* ill-formed UTF-8 is no U-label (the checks are rmail_utf8_seq's) */
	g_assert_false(smtp_domain_valid("b\xc0\xbc.de", 6, 1)); /* overlong */
	g_assert_false(
		smtp_domain_valid("b\xed\xa0\x80.de", 7, 1)); /* surrogate */
	g_assert_false(smtp_domain_valid("b\xc3", 2, 1));     /* truncated */
}

static void test_reply(void)
{
	char buf[256];
	size_t len;

	g_assert_cmpint(
		smtp_reply_format(buf, sizeof(buf), 250, "2.1.0", "Ok", &len),
		==, 0);
	g_assert_cmpmem(buf, len, "250 2.1.0 Ok\r\n", 14);
	g_assert_cmpint(smtp_reply_format(buf, sizeof(buf), 250, NULL,
					  "mx.example\nPIPELINING\nSIZE 10",
					  &len),
			==, 0);
	g_assert_cmpmem(buf, len,
			"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
			45);
	/* a CR in caller text cannot start a new reply line */
	g_assert_cmpint(smtp_reply_format(buf, sizeof(buf), 550, "5.1.1",
					  "no\r250 ok", &len),
			==, 0);
	g_assert_cmpmem(buf, len, "550 5.1.1 no?250 ok\r\n", 21);
	g_assert_cmpint(smtp_reply_format(buf, 10, 250, "2.0.0", "Ok", &len),
			==, -1);
	g_assert_cmpint(
		smtp_reply_format(buf, sizeof(buf), 99, NULL, "x", &len), ==,
		-1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtp/parser/vectors", test_vectors);
	g_test_add_func("/smtp/parser/line-limit", test_line_limit);
	g_test_add_func("/smtp/parser/pipelining", test_pipelining);
	g_test_add_func("/smtp/parser/length-limits", test_length_limits);
	g_test_add_func("/smtp/parser/utf8", test_utf8);
	g_test_add_func("/smtp/reply/format", test_reply);
	return g_test_run();
}
