/*
 * The outbound message format (RFC 6152 8BITMIME, RFC 6531 SMTPUTF8,
 * RFC 1870 SIZE) against loopback sinks offering each combination of
 * extensions: the exact MAIL FROM line and the exact body bytes on the
 * wire, 7-bit conversion at delivery (unsigned mail) and at submission
 * before DKIM signing (the signature verifies at the sink, checked by
 * Debian's python3-dkim), the SIZE limit and the SMTPUTF8 bounces.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capsink.h"
#include "mailauth/dkim_keys.h"
#include "rm.h"
#include "submit/submit_int.h"

static const struct rmail_store_ops *ops;
static void *h;
static char *dir, *dkim_txt;
static struct capsink *k_none, *k_8bit, *k_utf8, *k_both, *k_small;
static guint dead_port;

struct done {
	gboolean fired;
	int ok, code;
	int status[4];
};

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

static void tick(void *arg)
{
	(void)arg;
	rm_loop_break();
}

static gboolean wait_for(gboolean (*cond)(gpointer), gpointer arg,
			 double timeout)
{
	struct rmail_timer *t = rm_timer_add(0.01, 0.01, tick, NULL);
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);
	gboolean ok;

	while (!(ok = cond(arg)) && g_get_monotonic_time() < end)
		rm_loop_run();
	rm_timer_del(&t);
	return ok;
}

static void submit_cb(void *arg, const struct rmail_submit_result *r)
{
	struct done *d = arg;

	d->ok = r->ok;
	d->code = r->code;
	for (size_t i = 0; i < r->nrcpts && i < 4; i++)
		d->status[i] = r->rcpts[i].status;
	d->fired = TRUE;
}

static gboolean fired(gpointer arg)
{
	return ((struct done *)arg)->fired;
}

/* submission without a user (no signing, no mailauth), or with one
 * (signed), or port-25 style with proto given */
static struct done submit_as(const char *proto, const char *user,
			     const char *from, const char *rcpt,
			     const char *msg)
{
	const struct rmail_core *core = rm_core();
	const char *rcpts[] = {rcpt};
	struct rmail_submit_opts o = {
		.size = sizeof(o),
		.proto = proto,
		.mail_from = from,
		.rcpts = rcpts,
		.nrcpts = 1,
		.auth_user = user,
		.peer_ip = "192.0.2.7",
		.helo = "client.example",
		.submission = 1,
		.size_hint = strlen(msg),
	};
	struct rmail_submit *s;
	struct rmail_err err;
	struct done d;

	memset(&d, 0, sizeof(d));
	s = core->submit_begin(&o, &err);
	g_assert_nonnull(s);
	g_assert_cmpint(core->submit_write(s, msg, strlen(msg), &err), ==, 0);
	core->submit_commit(s, submit_cb, &d);
	g_assert_true(wait_for(fired, &d, 10));
	g_assert_true(d.ok);
	return d;
}

static struct done submit(const char *from, const char *rcpt, const char *msg)
{
	return submit_as("ESMTPS", NULL, from, rcpt, msg);
}

struct kwait {
	struct capsink *k;
	guint n;
};

static gboolean k_has(gpointer arg)
{
	struct kwait *w = arg;

	return capsink_count(w->k) >= w->n;
}

/* the next message at sink k: its MAIL line and wire bytes */
static char *next_at(struct capsink *k, guint n0, char **mail_r, gsize *len_r)
{
	struct kwait w = {k, n0 + 1};

	g_assert_true(wait_for(k_has, &w, 8));
	*mail_r = capsink_mail(k, n0);
	return capsink_raw(k, n0, len_r);
}

/* the message the wire carried: unstuffed, without the final "." */
static char *unwire(const char *raw, gsize len, gsize *n_r)
{
	GString *s = g_string_new(NULL);
	const char *p = raw, *end = raw + len - 3;

	g_assert_true(len >= 3 && memcmp(end, ".\r\n", 3) == 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n =
			nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (p[0] == '.')
			g_string_append_len(s, p + 1, (gssize)n - 1);
		else
			g_string_append_len(s, p, (gssize)n);
		p += n;
	}
	*n_r = s->len;
	return g_string_free(s, FALSE);
}

static gboolean has_8bit(const char *s, gsize n)
{
	for (gsize i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return TRUE;
	return FALSE;
}

static guint inbox_len(const char *user)
{
	struct rmail_mbox *mb;
	struct rmail_err err;
	guint n;

	g_assert_cmpint(ops->mbox_open(h, user, "INBOX", &mb, &err), ==, 0);
	g_assert_cmpint(ops->mbox_refresh(mb, &err), ==, 0);
	n = ops->mbox_count(mb);
	ops->mbox_close(&mb);
	return n;
}

static char *inbox_last(const char *user)
{
	struct rmail_mbox *mb;
	struct rmail_err err;
	const struct rmail_msg *m;
	char *buf;
	size_t got = 0;

	g_assert_cmpint(ops->mbox_open(h, user, "INBOX", &mb, &err), ==, 0);
	g_assert_cmpint(ops->mbox_refresh(mb, &err), ==, 0);
	m = ops->mbox_msg(mb, ops->mbox_count(mb) - 1);
	buf = g_malloc0(m->size + 1);
	g_assert_cmpint(ops->msg_read(mb, m->uid, 0, buf, m->size, &got, &err),
			==, 0);
	ops->mbox_close(&mb);
	return buf;
}

struct iwait {
	const char *user;
	guint n;
};

static gboolean inbox_has(gpointer arg)
{
	struct iwait *w = arg;

	return inbox_len(w->user) >= w->n;
}

/* the bounce the next submission causes for alice */
static char *bounce_for_alice(guint n0)
{
	struct iwait w = {"alice@example.test", n0 + 1};

	g_assert_true(wait_for(inbox_has, &w, 8));
	return inbox_last("alice@example.test");
}

static const char body8[] = "MIME-Version: 1.0\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n"
			    "\r\n"
			    "Gr\xc3\xbc\xc3\x9f Gott, caf\xc3\xa9.\r\n"
			    ".dot line\r\n";

static const char ascii[] = "Subject: plain\r\n\r\nhello\r\n";

/* 7-bit mail: a bare MAIL FROM to a peer without extensions, SIZE= to
 * one that has SIZE; nothing else */
static void test_seven(void)
{
	guint n0 = capsink_count(k_none), n1 = capsink_count(k_both);
	char *mail, *raw, *msg, *want;
	gsize len, n;

	submit("s@far.test", "a@none.test", ascii);
	raw = next_at(k_none, n0, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<s@far.test>");
	g_assert_true(g_str_has_suffix(raw, "\r\n\r\nhello\r\n.\r\n"));
	g_free(mail);
	g_free(raw);

	submit("s@far.test", "a@both.test", ascii);
	raw = next_at(k_both, n1, &mail, &len);
	msg = unwire(raw, len, &n);
	want = g_strdup_printf("MAIL FROM:<s@far.test> SIZE=%zu", n);
	g_assert_cmpstr(mail, ==, want);
	g_free(want);
	g_free(msg);
	g_free(mail);
	g_free(raw);
}

/* an 8-bit body: BODY=8BITMIME and the bytes untouched where offered;
 * quoted-printable (header rewritten, nothing 8-bit left) where not */
static void test_eightbit(void)
{
	guint n0 = capsink_count(k_8bit), n1 = capsink_count(k_none),
	      n2 = capsink_count(k_both);
	char *mail, *raw, *msg, *want;
	gsize len, n;

	submit("s@far.test", "a@8bit.test", body8);
	raw = next_at(k_8bit, n0, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<s@far.test> BODY=8BITMIME");
	g_assert_true(g_str_has_suffix(
		raw, "Content-Transfer-Encoding: 8bit\r\n\r\n"
		     "Gr\xc3\xbc\xc3\x9f Gott, caf\xc3\xa9.\r\n"
		     "..dot line\r\n.\r\n"));
	g_free(mail);
	g_free(raw);

	submit("s@far.test", "a@none.test", body8);
	raw = next_at(k_none, n1, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<s@far.test>");
	g_assert_false(has_8bit(raw, len));
	g_assert_null(strstr(raw, "Content-Transfer-Encoding: 8bit"));
	g_assert_true(g_str_has_suffix(
		raw, "MIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		     "Gr=C3=BC=C3=9F Gott, caf=C3=A9.\r\n"
		     "..dot line\r\n.\r\n"));
	g_free(mail);
	g_free(raw);

	submit("s@far.test", "a@both.test", body8);
	raw = next_at(k_both, n2, &mail, &len);
	msg = unwire(raw, len, &n);
	want = g_strdup_printf("MAIL FROM:<s@far.test> SIZE=%zu BODY=8BITMIME",
			       n);
	g_assert_cmpstr(mail, ==, want);
	g_assert_true(g_str_has_suffix(msg, body8));
	g_free(want);
	g_free(msg);
	g_free(mail);
	g_free(raw);
}

/* RFC 1870: larger than the peer's SIZE is a permanent failure; no
 * MAIL is sent and the sender gets a 5.3.4 bounce */
static void test_size(void)
{
	guint q0 = capsink_quits_before_mail(k_small),
	      c0 = capsink_count(k_small), b0 = inbox_len("alice@example.test");
	GString *big = g_string_new("Subject: big\r\n\r\n");
	char *b;

	for (int i = 0; i < 20; i++)
		g_string_append(big, "0123456789012345678901234567890123\r\n");
	submit("alice@example.test", "a@small.test", big->str);
	b = bounce_for_alice(b0);
	g_assert_nonnull(strstr(b, "Final-Recipient: rfc822; a@small.test"));
	g_assert_nonnull(strstr(b, "Status: 5.3.4"));
	g_assert_cmpuint(capsink_count(k_small), ==, c0);
	g_assert_cmpuint(capsink_quits_before_mail(k_small), ==, q0 + 1);
	g_free(b);
	g_string_free(big, TRUE);
}

/* SMTPUTF8: a UTF-8 address goes only to a peer offering it, with the
 * parameter; elsewhere it bounces (5.6.7), as does a UTF-8 header
 * (5.6.9).  A transaction that only asked for SMTPUTF8 (UTF8SMTP in
 * the trace) keeps it where offered and goes without it elsewhere. */
static void test_smtputf8(void)
{
	guint n0 = capsink_count(k_utf8), n1 = capsink_count(k_none),
	      b0 = inbox_len("alice@example.test");
	const char *hdr8 = "Subject: caf\xc3\xa9\r\n\r\nhello\r\n";
	char *mail, *raw, *rc, *b;
	gsize len;

	submit("alice@example.test", "j\xc3\xb6rg@utf8.test", ascii);
	raw = next_at(k_utf8, n0, &mail, &len);
	rc = capsink_rcpts(k_utf8, n0);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<alice@example.test> SMTPUTF8");
	g_assert_cmpstr(rc, ==, "RCPT TO:<j\xc3\xb6rg@utf8.test>");
	g_free(mail);
	g_free(raw);
	g_free(rc);

	submit("alice@example.test", "j\xc3\xb6rg@none.test", ascii);
	b = bounce_for_alice(b0);
	g_assert_nonnull(strstr(b, "Status: 5.6.7"));
	g_assert_nonnull(strstr(b, "text/plain; charset=utf-8"));
	g_assert_nonnull(strstr(b, "SMTPUTF8"));
	g_free(b);

	submit("alice@example.test", "x@none.test", hdr8);
	b = bounce_for_alice(b0 + 1);
	g_assert_nonnull(strstr(b, "Final-Recipient: rfc822; x@none.test"));
	g_assert_nonnull(strstr(b, "Status: 5.6.9"));
	g_free(b);
	g_assert_cmpuint(capsink_count(k_none), ==, n1);

	/* a UTF-8 header where SMTPUTF8 is offered: both parameters */
	submit("alice@example.test", "x@utf8.test", hdr8);
	raw = next_at(k_utf8, n0 + 1, &mail, &len);
	g_assert_cmpstr(mail, ==,
			"MAIL FROM:<alice@example.test> BODY=8BITMIME "
			"SMTPUTF8");
	g_assert_nonnull(strstr(raw, "\r\nSubject: caf\xc3\xa9\r\n"));
	g_free(mail);
	g_free(raw);

	/* asked for, not needed */
	submit_as("UTF8SMTPS", NULL, "alice@example.test", "y@utf8.test",
		  ascii);
	raw = next_at(k_utf8, n0 + 2, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<alice@example.test> SMTPUTF8");
	g_free(mail);
	g_free(raw);
	submit_as("UTF8SMTPS", NULL, "alice@example.test", "y@none.test",
		  ascii);
	raw = next_at(k_none, n1, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<alice@example.test>");
	g_free(mail);
	g_free(raw);
}

/* what dkimpy says of msg, the key's TXT served for any name */
static gboolean dkimpy_verifies(const char *msg, gsize len)
{
	char *mpath = g_build_filename(dir, "verify.eml", NULL);
	char *tpath = g_build_filename(dir, "verify.txt", NULL);
	const char *script =
		"import sys, dkim\n"
		"m = open(sys.argv[1], 'rb').read()\n"
		"t = open(sys.argv[2], 'rb').read()\n"
		"ok = dkim.verify(m, dnsfunc=lambda n, timeout=5: t)\n"
		"print('PASS' if ok else 'FAIL')\n";
	char *argv[] = {
		"/usr/bin/python3", "-c", (char *)script, mpath, tpath, NULL};
	char *out = NULL, *err = NULL;
	gint status = -1;
	gboolean ok;

	g_assert_true(g_file_set_contents(mpath, msg, (gssize)len, NULL));
	g_assert_true(g_file_set_contents(tpath, dkim_txt, -1, NULL));
	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL,
				   NULL, &out, &err, &status, NULL));
	if (status != 0)
		g_printerr("dkimpy: %s\n", err);
	g_assert_cmpint(status, ==, 0);
	ok = g_str_has_prefix(out, "PASS");
	g_free(out);
	g_free(err);
	g_free(mpath);
	g_free(tpath);
	return ok;
}

/* signed mail is converted before it is signed, whoever the peer: the
 * signature then holds on every path */
static void test_signed(void)
{
	guint n0 = capsink_count(k_8bit);
	GString *m = g_string_new("From: Alice <alice@example.test>\r\n"
				  "To: <bob@8bit.test>\r\n"
				  "Subject: signed\r\n");
	char *mail, *raw, *msg;
	gsize len, n;

	g_string_append(m, body8);
	submit_as("ESMTPSA", "alice@example.test", "alice@example.test",
		  "bob@8bit.test", m->str);
	raw = next_at(k_8bit, n0, &mail, &len);
	g_assert_cmpstr(mail, ==, "MAIL FROM:<alice@example.test>");
	g_assert_false(has_8bit(raw, len));
	g_assert_true(g_str_has_prefix(raw, "DKIM-Signature: "));
	g_assert_nonnull(strstr(raw, "Content-Transfer-Encoding: "
				     "quoted-printable\r\n\r\n"
				     "Gr=C3=BC=C3=9F Gott, caf=C3=A9.\r\n"));
	msg = unwire(raw, len, &n);
	g_assert_true(dkimpy_verifies(msg, n));
	/* the test can fail: one changed byte and it no longer holds */
	msg[n - 3] ^= 1;
	g_assert_false(dkimpy_verifies(msg, n));
	g_free(msg);
	g_free(mail);
	g_free(raw);
	g_string_free(m, TRUE);
}

/* the queue file keeps what the message needs */
static void test_queue_file(void)
{
	const char *hdr8 = "Subject: caf\xc3\xa9\r\n\r\nhello\r\n";
	char(*ids)[RM_QID_MAX];
	size_t n;
	char *path, *env = NULL;

	submit("s@far.test", "a@dead.test", hdr8);
	n = rm_queue_list(&ids);
	g_assert_cmpuint(n, >=, 1);
	path = g_strdup_printf("%s/mail/queue/%s.env", dir, ids[n - 1]);
	g_assert_true(g_file_get_contents(path, &env, NULL, NULL));
	g_assert_nonnull(strstr(env, "\"8bit\":true"));
	g_assert_nonnull(strstr(env, "\"smtputf8\":true"));
	g_assert_nonnull(strstr(env, "\"utf8hdr\":true"));
	g_free(env);
	g_free(path);
	g_free(ids);
}

static struct rm_smtp_caps ehlo(const char *const *lines)
{
	struct rm_smtp_reply rp;
	char text[256];
	int rc = 0;

	rm_smtp_reply_init(&rp, true);
	for (size_t i = 0; lines[i] != NULL; i++) {
		g_assert_cmpint(rc, ==, 0);
		rc = rm_smtp_reply_line(&rp, lines[i], text, sizeof(text));
	}
	g_assert_cmpint(rc, ==, 1);
	g_assert_cmpint(rp.code, ==, 250);
	return rp.caps;
}

/* the EHLO keywords: case-insensitive, whole words, SIZE's number
 * (absent or unusable: no limit); the greeting line is not one */
static void test_ehlo_caps(void)
{
	const char *a[] = {"250-mx.example 8BITMIME SIZE 5",
			   "250-size 1000",
			   "250-8bitmime",
			   "250-SMTPUTF8X",
			   "250 SMTPUTF8",
			   NULL};
	const char *b[] = {"250-mx.example", "250-SIZE", "250-8BITMIMEX",
			   "250 SIZE 99999999999999999999999", NULL};
	const char *c[] = {"250 8BITMIME", NULL};
	struct rm_smtp_caps k = ehlo(a);

	g_assert_true(k.eightbitmime && k.smtputf8 && k.size);
	g_assert_cmpuint(k.size_max, ==, 1000);
	k = ehlo(b);
	g_assert_false(k.eightbitmime || k.smtputf8);
	g_assert_true(k.size);
	g_assert_cmpuint(k.size_max, ==, 0);
	k = ehlo(c);
	g_assert_false(k.eightbitmime);
}

static void setup(void)
{
	struct rm_config *conf = NULL;
	struct dkim_keyinfo *v;
	struct rmail_err err;
	guint p_none, p_8bit, p_utf8, p_both, p_small;
	char *cfg, *path, *root, why[256];

	k_none = capsink_start("", &p_none);
	k_8bit = capsink_start("8BITMIME", &p_8bit);
	k_utf8 = capsink_start("PIPELINING\n8BITMIME\nSMTPUTF8", &p_utf8);
	k_both = capsink_start("8BITMIME\nSMTPUTF8\nSIZE 1000000", &p_both);
	k_small = capsink_start("8BITMIME\nSIZE 300", &p_small);
	dead_port = 1; /* nothing listens there: deferred */
	dir = g_dir_make_tmp("rmail-8bit-XXXXXX", NULL);
	g_assert_nonnull(dir);
	root = g_build_filename(dir, "mail", NULL);
	g_assert_cmpint(g_mkdir_with_parents(root, 0750), ==, 0);
	g_assert_cmpint(dkim_key_generate(root, "example.test", "s1",
					  DKIM_A_RSA_SHA256, 1024, true, why,
					  sizeof(why)),
			==, 0);
	g_assert_cmpuint(dkim_keys_list(root, "example.test", &v), ==, 1);
	dkim_txt = g_strdup(v[0].txt);
	dkim_keys_list_free(v, 1);
	path = g_build_filename(dir, "config.json", NULL);
	cfg = g_strdup_printf(
		"{\"hostname\": \"mx.example.test\", \"mail_root\": \"%s\","
		" \"module_dir\": \"%s\", \"modules\": [\"mod_shardstore\"],"
		" \"log_level\": \"warning\","
		" \"delivery\": {\"workers\": 2, \"retry_initial\": 30,"
		" \"routes\": {\"none.test\": \"127.0.0.1:%u\","
		" \"8bit.test\": \"127.0.0.1:%u\","
		" \"utf8.test\": \"127.0.0.1:%u\","
		" \"both.test\": \"127.0.0.1:%u\","
		" \"small.test\": \"127.0.0.1:%u\","
		" \"dead.test\": \"127.0.0.1:%u\"}}}",
		root, g_getenv("RMAIL_MODULE_DIR"), p_none, p_8bit, p_utf8,
		p_both, p_small, dead_port);
	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==, 0);
	rm_conf_set(conf);
	rm_log_set_level(conf->log_level);
	g_assert_cmpint(rm_loop_init(), ==, 0);
	g_assert_cmpint(rm_workers_init(2, 2, 1), ==, 0);
	g_assert_cmpuint(rm_modules_load(conf, report, NULL), ==, 1);
	g_assert_cmpint(rm_modules_init(&err), ==, 0);
	g_assert_cmpint(rm_modules_start(&err), ==, 0);
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	g_assert_cmpint(rm_submit_start(&err), ==, 0);
	rm_smtp_timeout = 5;
	ops = rm_store(&h);
	g_assert_nonnull(ops);
	g_assert_cmpint(ops->user_add(h, "alice@example.test", "secret-pw", 0,
				      100, &err),
			==, 0);
	g_free(cfg);
	g_free(path);
	g_free(root);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	setup();
	g_test_add_func("/8bit/ehlo_caps", test_ehlo_caps);
	g_test_add_func("/8bit/seven", test_seven);
	g_test_add_func("/8bit/eightbit", test_eightbit);
	g_test_add_func("/8bit/size", test_size);
	g_test_add_func("/8bit/smtputf8", test_smtputf8);
	g_test_add_func("/8bit/signed", test_signed);
	g_test_add_func("/8bit/queue_file", test_queue_file);
	rc = g_test_run();
	rm_queue_stop();
	rm_workers_shutdown(2);
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			rc = rc ? rc : 1;
		g_free(cmd);
	}
	return rc;
}
