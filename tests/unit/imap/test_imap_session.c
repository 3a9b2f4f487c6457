/*
 * mod_imap's session over the fake core and fake connection, with a
 * real store (mod_shardstore in-process, a fresh mail root per run):
 * no socket, no daemon.  Every transcript runs whole, byte by byte and
 * split at every offset, with identical replies required.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fake_core.h"
#include "fake_transcript.h"
#include "imap_session.h"
#include "ss.h"

#define USER "alice@example.test"

extern const struct rmail_module rmail_module_imap;
const struct rmail_store_ops *ss_store_ops(void);

static struct imap_conf conf = {
	.allow_cleartext_login_loopback = 1,
	.max_line = 64 * 1024,
	.appendlimit = 35 * 1024 * 1024,
	.max_literal_preauth = 8 * 1024,
	.max_command = 256 * 1024,
	.max_literals = 1000,
	.max_depth = 16,
	.idle_timeout_preauth = 60,
	.login_timeout = 180,
	.idle_timeout = 1800,
	.auth_fail_disconnect = 3,
	.fetch_outq = 256 * 1024,
	.metadata_max_value = 64 * 1024,
	.metadata_max_entries = 100,
	.metadata_max_total = 1024 * 1024,
};

static struct {
	char *dir;
	struct ss_store st;
} store;

static void rmtree(const char *dir)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	g_assert_cmpint(system(cmd), ==, 0);
	g_free(cmd);
}

/* One store for the whole test (user_add hashes with yescrypt): runs
 * leave INBOX as they found it and write only into "Box", created
 * before each run and deleted after it. */
static void store_up(void)
{
	struct rmail_err err = {0};

	/* tmpfs when there is one: every run creates and deletes a
	 * mailbox, and fsync on a disk would make that seconds */
	store.dir = g_strdup("/dev/shm/imap-sess-XXXXXX");
	if (g_mkdtemp(store.dir) == NULL) {
		g_free(store.dir);
		store.dir = g_dir_make_tmp("imap-sess-XXXXXX", NULL);
	}
	g_assert_nonnull(store.dir);
	if (ss_store_open(&store.st, fake_core_init(), store.dir, &err) < 0 ||
	    ss_user_add(&store.st, USER, "secret", 0, 100, &err) < 0)
		g_error("store: %s", err.msg);
	fake_core_set_store(ss_store_ops(), &store.st);
}

static void store_down(void)
{
	fake_conn_settle(5.0);
	ss_store_close(&store.st);
	fake_core_set_store(NULL, NULL);
	rmtree(store.dir);
	g_free(store.dir);
}

static struct rmail_conn *open_imap(void *arg)
{
	const struct rmail_proto_ops *ops;
	struct rmail_listen_opts o;
	struct rmail_err err = {0};

	(void)arg;
	if (ss_store_ops()->mbox_create(&store.st, USER, "Box", 0, &err) < 0)
		g_error("create Box: %s", err.msg);
	g_assert_true(fake_core_listener("listen", &ops, &o));
	return fake_conn_open(ops, &o, "127.0.0.1");
}

static void done_imap(void *arg, struct rmail_conn *c)
{
	struct rmail_err err = {0};

	(void)arg;
	if (c != NULL)
		return;
	fake_conn_settle(5.0);
	if (ss_store_ops()->mbox_delete(&store.st, USER, "Box", &err) < 0)
		g_error("delete Box: %s", err.msg);
}

/* a fresh store gets a fresh UIDVALIDITY */
static void normalize(GString *out)
{
	GRegex *re = g_regex_new("(UIDVALIDITY|APPENDUID) [0-9]+", 0, 0, NULL);
	/* and a fresh mailbox a fresh MAILBOXID */
	GRegex *re2 = g_regex_new("MAILBOXID \\([^)]*\\)", 0, 0, NULL);
	char *s = g_regex_replace(re, out->str, (gssize)out->len, 0, "\\1 N", 0,
				  NULL);
	char *s2 = g_regex_replace_literal(re2, s, -1, 0, "MAILBOXID (N)", 0,
					   NULL);

	g_string_assign(out, s2);
	g_free(s);
	g_free(s2);
	g_regex_unref(re);
	g_regex_unref(re2);
}

static const struct fake_session_def imap = {open_imap, done_imap, normalize,
					     NULL};

static const char *after(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (p == NULL)
		g_error("no \"%s\" in:\n%s", needle, hay);
	return p + strlen(needle);
}

/* LOGIN and SELECT go to workers: what is pipelined behind them waits,
 * and the replies keep the order of the commands */
static void test_pipelining(void)
{
	static const struct fake_step steps[] = {
		{"a LOGIN " USER " secret\r\nb SELECT INBOX\r\nc NOOP\r\n"
		 "d LOGOUT\r\n",
		 false},
	};
	char *out = fake_transcript_run(&imap, steps, G_N_ELEMENTS(steps));
	const char *p;

	p = after(out, "* OK [CAPABILITY");
	p = after(p, "a OK");
	p = after(p, "* 0 EXISTS");
	p = after(p, "b OK [READ-WRITE]");
	p = after(p, "c OK");
	p = after(p, "* BYE");
	p = after(p, "d OK");
	g_free(out);
}

static void test_idle_done(void)
{
	static const struct fake_step steps[] = {
		{"a LOGIN " USER " secret\r\nb SELECT INBOX\r\n", false},
		{"c IDLE\r\n", false},
		{"DONE\r\nd NOOP\r\n", false},
	};
	char *out = fake_transcript_run(&imap, steps, G_N_ELEMENTS(steps));
	const char *p;

	p = after(out, "b OK");
	p = after(p, "+ idling\r\n");
	p = after(p, "c OK IDLE terminated\r\n");
	p = after(p, "d OK");
	g_free(out);
}

/* a synchronizing literal waits for "+", a non-synchronizing one is
 * pipelined with what follows */
static void test_append_continuation(void)
{
	static const struct fake_step steps[] = {
		{"a LOGIN " USER " secret\r\n", false},
		{"b APPEND Box {20}\r\n", false},
		{"Subject: one\r\n\r\nhi\r\n\r\n", false},
		{"c APPEND Box (\\Seen) {20+}\r\nSubject: two\r\n\r\nhi\r\n"
		 "\r\nd SELECT Box\r\ne LOGOUT\r\n",
		 false},
	};
	char *out = fake_transcript_run(&imap, steps, G_N_ELEMENTS(steps));
	const char *p;

	p = after(out, "a OK");
	p = after(p, "+ ");
	p = after(p, "b OK [APPENDUID N 1]");
	g_assert_null(strstr(p, "+ "));
	p = after(p, "c OK [APPENDUID N 2]");
	p = after(p, "* 2 EXISTS");
	p = after(p, "d OK");
	p = after(p, "e OK");
	g_free(out);
}

/* after STARTTLS the cleartext session is gone: no STARTTLS offered,
 * and nothing sent in cleartext behind the command runs */
static void test_starttls_reset(void)
{
	static const struct fake_step steps[] = {
		{"a CAPABILITY\r\nb STARTTLS\r\n", false},
		{"c CAPABILITY\r\n", true},
		{"d LOGIN " USER " secret\r\ne LOGOUT\r\n", true},
	};
	char *out = fake_transcript_run(&imap, steps, G_N_ELEMENTS(steps));
	const char *p;

	p = after(out, "STARTTLS");
	p = after(p, "a OK");
	p = after(p, "b OK");
	p = after(p, "* CAPABILITY");
	g_assert_null(strstr(p, "STARTTLS"));
	p = after(p, "c OK");
	p = after(p, "d OK");
	p = after(p, "e OK");
	g_free(out);
}

/* a command injected behind STARTTLS in cleartext never runs: refused
 * (BAD, BYE) when already buffered, a failed handshake when late */
static void test_starttls_injection(void)
{
	static const char inj[] = "a STARTTLS\r\nb LOGIN " USER " secret\r\n";
	size_t len = strlen(inj);

	for (size_t k = 1; k <= len; k++) {
		struct rmail_conn *c = open_imap(NULL);
		const char *out;

		fake_conn_feed(c, inj, k);
		fake_conn_settle(5.0);
		if (k < len) {
			fake_conn_feed(c, inj + k, len - k);
			fake_conn_settle(5.0);
		}
		out = fake_conn_output(c)->str;
		g_assert_null(strstr(out, "b OK"));
		g_assert_false(fake_conn_tls(c));
		if (k == len)
			after(out, "* BYE Pipelined STARTTLS");
		fake_conn_settle(5.0);
		g_assert_true(fake_conn_is_closed(c));
		fake_conn_free(&c);
		done_imap(NULL, NULL);
	}
}

/* a message bigger than every queue limit, lines numbered */
static GString *big_message(void)
{
	GString *m = g_string_new("Subject: big\r\n\r\n");

	for (int i = 0; m->len < 900 * 1024; i++)
		g_string_append_printf(m,
				       "line %06d of a long body, "
				       "padded to look like text.....\r\n",
				       i);
	return m;
}

static void append_big(const GString *m)
{
	struct rmail_append_opts o = {.size = sizeof(o)};
	const struct rmail_store_ops *ops = ss_store_ops();
	struct rmail_append *ap = NULL;
	struct rmail_err err = {0};
	uint32_t uid = 0, uv = 0;

	if (ops->append_begin(&store.st, USER, "Box", &o, &ap, &err) < 0 ||
	    ops->append_write(ap, m->str, m->len, &err) < 0 ||
	    ops->append_commit(ap, &uid, &uv, &err) < 0)
		g_error("append: %s", err.msg);
	ops->append_free(&ap);
}

static char *fetch_big(size_t window, unsigned *drains_r)
{
	static const char cmds[] = "a LOGIN " USER " secret\r\n"
				   "b SELECT Box\r\nc FETCH 1 BODY[]\r\n"
				   "d NOOP\r\n";
	GString *m = big_message();
	struct rmail_conn *c = open_imap(NULL);
	GString *out_s;
	unsigned drains = 0;

	append_big(m);
	fake_conn_set_window(c, window);
	fake_conn_feed(c, cmds, strlen(cmds));
	fake_conn_settle(5.0);
	while (drains < 100000 &&
	       !g_str_has_suffix(fake_conn_output(c)->str,
				 "d OK NOOP completed\r\n")) {
		if (fake_conn_drain(c))
			drains++;
		fake_conn_settle(5.0);
	}
	*drains_r = drains;
	g_assert_nonnull(strstr(fake_conn_output(c)->str, m->str));
	out_s = g_string_new(fake_conn_output(c)->str);
	normalize(out_s);
	fake_conn_free(&c);
	done_imap(NULL, NULL);
	g_string_free(m, TRUE);
	return g_string_free(out_s, FALSE);
}

/* A FETCH bigger than the output queue against a slow reader: it
 * waits for on_drain, reading stops meanwhile (NOOP is answered after
 * the FETCH), and the bytes are the same as for a fast reader. */
static void test_fetch_backpressure(void)
{
	unsigned fast_drains, slow_drains;
	char *fast = fetch_big(0, &fast_drains);
	char *slow = fetch_big(16 * 1024, &slow_drains);
	const char *p;

	g_assert_cmpuint(fast_drains, ==, 0);
	g_assert_cmpuint(slow_drains, >, 50);
	/* not cmpstr: a megabyte in a failure message helps nobody */
	if (strcmp(fast, slow) != 0) {
		size_t i = 0;

		while (fast[i] == slow[i])
			i++;
		g_error("slow reader's output differs at byte %zu of %zu/%zu",
			i, strlen(fast), strlen(slow));
	}
	p = after(slow, "c OK");
	p = after(p, "d OK NOOP");
	g_free(fast);
	g_free(slow);
}

/* raw deflate of s, one sync flush (what clients send) */
static GString *deflated(const char *s)
{
	GString *out = g_string_sized_new(strlen(s) + 64);
	z_stream z = {0};

	g_assert_cmpint(
		deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), ==,
		Z_OK);
	g_string_set_size(out, strlen(s) + 64);
	z.next_in = (Bytef *)(uintptr_t)s;
	z.avail_in = (uInt)strlen(s);
	z.next_out = (Bytef *)out->str;
	z.avail_out = (uInt)out->len;
	g_assert_cmpint(deflate(&z, Z_SYNC_FLUSH), ==, Z_OK);
	g_assert_cmpuint(z.avail_in, ==, 0);
	g_string_set_size(out, out->len - z.avail_out);
	deflateEnd(&z);
	return out;
}

/* the output: cleartext up to and including `upto`, the rest inflated */
static char *inflated_output(struct rmail_conn *c, const char *upto)
{
	const GString *o = fake_conn_output(c);
	const char *p = g_strstr_len(o->str, (gssize)o->len, upto);
	GString *out;
	z_stream z = {0};
	char buf[4096];
	size_t off;
	int rc;

	g_assert_nonnull(p);
	off = (size_t)(p - o->str) + strlen(upto);
	out = g_string_new_len(o->str, (gssize)off);
	g_assert_cmpint(inflateInit2(&z, -15), ==, Z_OK);
	z.next_in = (Bytef *)o->str + off;
	z.avail_in = (uInt)(o->len - off);
	do {
		z.next_out = (Bytef *)buf;
		z.avail_out = sizeof(buf);
		rc = inflate(&z, Z_SYNC_FLUSH);
		g_assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
		g_string_append_len(out, buf,
				    (gssize)(sizeof(buf) - z.avail_out));
	} while (z.avail_in > 0 || z.avail_out == 0);
	inflateEnd(&z);
	normalize(out);
	return g_string_free(out, FALSE);
}

static char *compress_run(const GString *in, int mode, size_t split)
{
	struct rmail_conn *c = open_imap(NULL);
	char *out;
	size_t k;

	fake_conn_settle(5.0);
	if (mode == 0) {
		fake_conn_feed(c, in->str, in->len);
	} else if (mode == 1) {
		for (k = 0; k < in->len; k++)
			fake_conn_feed(c, in->str + k, 1);
	} else {
		fake_conn_feed(c, in->str, split);
		fake_conn_settle(5.0);
		fake_conn_feed(c, in->str + split, in->len - split);
	}
	fake_conn_settle(5.0);
	out = inflated_output(c, "b OK DEFLATE active\r\n");
	fake_conn_free(&c);
	done_imap(NULL, NULL);
	return out;
}

/*
 * COMPRESS (RFC 4978): LOGIN and SELECT go to workers while compressed
 * commands are already inflated behind them (they wait in the session's
 * buffer, not the core's), an APPEND literal streams out of that
 * buffer, IDLE's DONE is read from it.  Fed whole, byte by byte and
 * split at every offset, the inflated replies are the same.
 */
static void test_compress(void)
{
	GString *in = g_string_new("a LOGIN " USER " secret\r\n"
				   "b COMPRESS DEFLATE\r\n");
	GString *z = deflated("c SELECT Box\r\n"
			      "d APPEND Box {20+}\r\nSubject: one\r\n\r\nhi\r\n"
			      "\r\ne NOOP\r\nf FETCH 1 (RFC822.SIZE)\r\n"
			      "g IDLE\r\nDONE\r\nh COMPRESS DEFLATE\r\n"
			      "i LOGOUT\r\n");
	char *whole, *other;
	const char *p;
	size_t k;

	g_string_append_len(in, z->str, (gssize)z->len);
	whole = compress_run(in, 0, 0);
	p = after(whole, "a OK");
	p = after(p, "b OK DEFLATE active\r\n");
	p = after(p, "c OK [READ-WRITE]");
	p = after(p, "* 1 EXISTS");
	p = after(p, "d OK [APPENDUID N 1]");
	p = after(p, "e OK");
	p = after(p, "* 1 FETCH (RFC822.SIZE 20)");
	p = after(p, "f OK");
	p = after(p, "+ idling");
	p = after(p, "g OK IDLE terminated");
	p = after(p, "h NO [COMPRESSIONACTIVE]");
	p = after(p, "* BYE");
	p = after(p, "i OK");
	other = compress_run(in, 1, 0);
	g_assert_cmpstr(other, ==, whole);
	g_free(other);
	for (k = 1; k < in->len; k++) {
		other = compress_run(in, 2, k);
		if (strcmp(other, whole) != 0)
			g_error("split at %zu:\n%s\n-- differs from whole:\n%s",
				k, other, whole);
		g_free(other);
	}
	g_free(whole);
	g_string_free(in, TRUE);
	g_string_free(z, TRUE);
}

int main(int argc, char **argv)
{
	struct rmail_mctx *m;
	struct rmail_err err = {0};
	int rc;

	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	fake_core_set_conf("hostname", "imap.example.test");
	fake_core_add_login(USER, "secret");
	m = fake_core_mctx("imap", &conf);
	store_up();
	if (rmail_module_imap.init(m, &err) < 0 ||
	    rmail_module_imap.start(m, &err) < 0)
		g_error("imap: %s", err.msg);
	g_test_add_func("/imap/session/pipelining", test_pipelining);
	g_test_add_func("/imap/session/idle_done", test_idle_done);
	g_test_add_func("/imap/session/append_continuation",
			test_append_continuation);
	g_test_add_func("/imap/session/starttls_reset", test_starttls_reset);
	g_test_add_func("/imap/session/starttls_injection",
			test_starttls_injection);
	g_test_add_func("/imap/session/fetch_backpressure",
			test_fetch_backpressure);
	g_test_add_func("/imap/session/compress", test_compress);
	rc = g_test_run();
	if (rmail_module_imap.stop != NULL)
		rmail_module_imap.stop(m, 0);
	if (rmail_module_imap.fini != NULL)
		rmail_module_imap.fini(m);
	fake_core_mctx_free(m);
	store_down();
	return rc;
}
