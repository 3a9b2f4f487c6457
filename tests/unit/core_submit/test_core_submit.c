/*
 * The submission service in-process against the real store on a temp
 * mail root: local delivery and its headers, alias fan-out, quota,
 * filters, the outbound queue against a loopback sink (temporary then
 * permanent failures, bounces, the TLS-to-cleartext fallback), .invalid,
 * and the MX logic through the core's resolver against the test DNS
 * server (tests/support/dnsd) on an ephemeral loopback port.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dnsd.h"
#include "rm.h"
#include "sink.h"
#include "submit/submit_int.h"

/* mx.test: three MX (10, 10, 20); null.test: a null MX; nomx.test:
 * an A only; gone.test: absent (NXDOMAIN) */
static const char zone[] = "mx.test MX 20 b.mx.test\n"
			   "mx.test MX 10 a.mx.test\n"
			   "mx.test MX 10 c.mx.test\n"
			   "a.mx.test A 127.0.0.1\n"
			   "b.mx.test A 127.0.0.1\n"
			   "c.mx.test A 127.0.0.1\n"
			   "null.test MX 0 .\n"
			   "nomx.test A 127.0.0.1\n";

static const struct rmail_store_ops *ops;
static void *h;
static char *dir;
static struct rm_dnsd *dnsd;

struct done {
	gboolean fired;
	int ok, code;
	char text[256];
	size_t n;
	int status[8];
	char error[8][256];
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
	g_strlcpy(d->text, r->text, sizeof(d->text));
	d->n = r->nrcpts;
	for (size_t i = 0; i < r->nrcpts && i < 8; i++) {
		d->status[i] = r->rcpts[i].status;
		g_strlcpy(d->error[i], r->rcpts[i].error, sizeof(d->error[i]));
	}
	d->fired = TRUE;
}

static gboolean fired(gpointer arg)
{
	return ((struct done *)arg)->fired;
}

static struct done submit(const char *from, const char *const *rcpts, size_t n,
			  const char *msg, size_t len, int submission)
{
	const struct rmail_core *core = rm_core();
	struct rmail_submit_opts o = {
		.size = sizeof(o),
		.proto = "ESMTPS",
		.mail_from = from,
		.rcpts = rcpts,
		.nrcpts = n,
		.peer_ip = "192.0.2.7",
		.peer_name = "client.example",
		.helo = "client.example",
		.tls_info = "TLSv1.3 TLS_AES_256_GCM_SHA384",
		.submission = submission,
		.size_hint = len,
	};
	struct rmail_submit *s;
	struct rmail_err err;
	struct done d;
	size_t off = 0;

	memset(&d, 0, sizeof(d));
	s = core->submit_begin(&o, &err);
	g_assert_nonnull(s);
	/* odd chunk sizes: the spool buffers across writes */
	while (off < len) {
		size_t k = MIN(len - off, off % 2 ? 7 : 70000);

		g_assert_cmpint(core->submit_write(s, msg + off, k, &err), ==,
				0);
		off += k;
	}
	core->submit_commit(s, submit_cb, &d);
	g_assert_true(wait_for(fired, &d, 10));
	return d;
}

/* the messages in one of user's mailboxes, oldest first */
static GPtrArray *mailbox(const char *user, const char *name)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	struct rmail_mbox *mb;
	struct rmail_err err;

	g_assert_cmpint(ops->mbox_open(h, user, name, &mb, &err), ==, 0);
	g_assert_cmpint(ops->mbox_refresh(mb, &err), ==, 0);
	for (uint32_t i = 0; i < ops->mbox_count(mb); i++) {
		const struct rmail_msg *m = ops->mbox_msg(mb, i);
		char *buf = g_malloc0(m->size + 1);
		size_t got = 0;

		g_assert_cmpint(
			ops->msg_read(mb, m->uid, 0, buf, m->size, &got, &err),
			==, 0);
		g_ptr_array_add(a, buf);
	}
	ops->mbox_close(&mb);
	return a;
}

static GPtrArray *inbox(const char *user)
{
	return mailbox(user, "INBOX");
}

static const char *last(GPtrArray *a)
{
	g_assert_cmpuint(a->len, >, 0);
	return g_ptr_array_index(a, a->len - 1);
}

static void add_user(const char *addr, int64_t quota_mb)
{
	struct rmail_err err;

	g_assert_cmpint(ops->user_add(h, addr, "secret-pw", 0, quota_mb, &err),
			==, 0);
}

static void test_policy(void)
{
	const struct rmail_core *c = rm_core();

	g_assert_cmpint(c->rcpt_policy("alice@example.test", NULL, 10), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("Alice+box@EXAMPLE.test", NULL, 10), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("team@example.test", NULL, 10), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("nobody@example.test", NULL, 10), ==,
			RMAIL_RCPT_NOUSER);
	g_assert_cmpint(c->rcpt_policy("postmaster@example.test", NULL, 10), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("postmaster", NULL, 10), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("x@remote.test", NULL, 10), ==,
			RMAIL_RCPT_DENIED);
	g_assert_cmpint(
		c->rcpt_policy("x@remote.test", "alice@example.test", 10), ==,
		RMAIL_RCPT_RELAY);
	g_assert_cmpint(c->rcpt_policy("small@example.test", NULL, 2 << 20), ==,
			RMAIL_RCPT_OVERQUOTA);
	g_assert_cmpint(c->rcpt_policy("small@example.test", NULL, 100), ==,
			RMAIL_RCPT_LOCAL);
	g_assert_cmpint(c->rcpt_policy("bad@@x", NULL, 1), ==,
			RMAIL_RCPT_BADADDR);
	g_assert_cmpint(c->rcpt_policy("a..b@example.test", NULL, 1), ==,
			RMAIL_RCPT_BADADDR);
	g_assert_cmpint(c->rcpt_policy("x@-bad.test", NULL, 1), ==,
			RMAIL_RCPT_BADADDR);
	g_assert_cmpint(c->rcpt_policy("", NULL, 1), ==, RMAIL_RCPT_BADADDR);
}

static const char plain[] = "From: Sender <sender@far.test>\r\n"
			    "Subject: hello\r\n\r\nbody line\r\n"
			    ".leading dot\r\n";

static void test_local(void)
{
	const char *r[] = {"alice@example.test"};
	struct done d =
		submit("sender@far.test", r, 1, plain, strlen(plain), 0);
	GPtrArray *a;
	const char *m;

	g_assert_true(d.ok);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_DELIVERED);
	a = inbox("alice@example.test");
	m = last(a);
	/* port-25 mail: rmail's Authentication-Results first, then
	 * the trace */
	g_assert_true(g_str_has_prefix(m, "Return-Path: <sender@far.test>\r\n"
					  "Authentication-Results: "));
	g_assert_nonnull(strstr(m, "\r\nReceived: from client.example "
				   "(client.example [192.0.2.7])"));
	g_assert_nonnull(strstr(m, "by mx.example.test (rmail) with ESMTPS"));
	g_assert_nonnull(strstr(m, "TLSv1.3 TLS_AES_256_GCM_SHA384"));
	g_assert_nonnull(strstr(m, "\r\n\r\nbody line\r\n.leading dot\r\n"));
	/* not a submission: nothing invented */
	g_assert_null(strstr(m, "Message-ID:"));
	g_assert_null(strstr(m, "\r\nDate:"));
	g_ptr_array_unref(a);

	/* submission: Message-ID and Date added when missing only */
	d = submit("alice@example.test", r, 1, plain, strlen(plain), 1);
	a = inbox("alice@example.test");
	g_assert_nonnull(strstr(last(a), "\r\nMessage-ID: <"));
	g_assert_nonnull(strstr(last(a), "\r\nDate: "));
	g_ptr_array_unref(a);
	{
		const char *with = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				   "Message-ID: <mine@x>\r\n\r\nhi\r\n";

		d = submit("alice@example.test", r, 1, with, strlen(with), 1);
		a = inbox("alice@example.test");
		m = last(a);
		g_assert_nonnull(strstr(m, "Message-ID: <mine@x>"));
		g_assert_null(strstr(strstr(m, "Message-ID: <mine@x>") + 5,
				     "Message-ID:"));
		g_assert_null(strstr(strstr(m, "Date: Mon") + 5, "\nDate:"));
		g_ptr_array_unref(a);
	}
}

/* a message bigger than the in-memory spool, with no SIZE hint, spills
 * to spool/tmp mid-stream and still arrives whole; nothing is left */
static void su_of(void *arg, const struct rmail_mbox_entry *e)
{
	GString *s = arg;

	if (e->special_use == RMAIL_SU_JUNK)
		g_string_append_printf(s, "%s;", e->name);
}

/* One message delivered with the junk mark (DMARC quarantine): each
 * local copy lands in the user's \Junk mailbox, which comes back with
 * its mark when the user deleted it, and a copy that waits in the queue
 * keeps the mark until its retry. */
static void test_junk(void)
{
	const char *r[] = {"alice@example.test"};
	const char *msg = "Subject: quarantined\r\n\r\nbody\r\n";
	struct rm_msg_src src = {.prefix = "Return-Path: <x@far.test>\r\n"};
	struct rm_deliver_req rq = {.id = "junktest1",
				    .mail_from = "x@far.test",
				    .rcpts = r,
				    .n = 1,
				    .local = &src,
				    .remote = &src,
				    .junk = true};
	struct rmail_rcpt_result rr[1];
	struct rmail_err err;
	char path[] = "/tmp/rm-junk-XXXXXX", qid[RM_QID_MAX];
	GPtrArray *in, *junk;
	GString *su = g_string_new(NULL);
	guint nin;
	size_t nq;
	int fd = g_mkstemp(path);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, msg, strlen(msg)), ==, (ssize_t)strlen(msg));
	g_unlink(path);
	src.fd = fd;
	src.size = strlen(msg);
	in = inbox("alice@example.test");
	nin = in->len;
	g_ptr_array_unref(in);

	rm_deliver_message(&rq, rr, NULL, &nq);
	g_assert_cmpint(rr[0].status, ==, RMAIL_RCPT_DELIVERED);
	junk = mailbox("alice@example.test", "Junk");
	g_assert_cmpuint(junk->len, ==, 1);
	g_assert_nonnull(strstr(last(junk), "Subject: quarantined"));
	g_ptr_array_unref(junk);
	in = inbox("alice@example.test");
	g_assert_cmpuint(in->len, ==, nin);
	g_ptr_array_unref(in);

	/* deleted by the user: made again, with its mark */
	g_assert_cmpint(ops->mbox_delete(h, "alice@example.test", "Junk", &err),
			==, 0);
	rq.id = "junktest2";
	rm_deliver_message(&rq, rr, NULL, &nq);
	g_assert_cmpint(rr[0].status, ==, RMAIL_RCPT_DELIVERED);
	g_assert_cmpint(
		ops->mbox_list(h, "alice@example.test", su_of, su, &err), ==,
		0);
	g_assert_cmpstr(su->str, ==, "Junk;");
	junk = mailbox("alice@example.test", "Junk");
	g_assert_cmpuint(junk->len, ==, 1);
	g_ptr_array_unref(junk);

	/* queued (a local recipient that failed for a while): the retry
	 * still goes to Junk */
	rm_submit_new_id(qid);
	g_assert_cmpint(rm_queue_add(qid, "x@far.test", r, 1, &src, true, &err),
			==, 0);
	rm_queue_run(true);
	junk = mailbox("alice@example.test", "Junk");
	g_assert_cmpuint(junk->len, ==, 2);
	g_ptr_array_unref(junk);
	in = inbox("alice@example.test");
	g_assert_cmpuint(in->len, ==, nin);
	g_ptr_array_unref(in);
	g_string_free(su, TRUE);
	close(fd);
}

/* The first attempt's context rides in the entry: client-given text
 * (HELO, From domain) comes back byte for byte whatever it holds, and
 * a prefix length that the .msg cannot hold (a corrupt or hand-edited
 * entry) delivers the whole file as the body instead of reading past
 * it. */
static void test_queue_ctx(void)
{
	const char *r[] = {"bob@example.test"};
	const char *msg = "Subject: ctx\r\n\r\nctx body\r\n";
	char helo[] = "evil\r\n\"prefix\": 999999,\t\"x\":\"";
	struct rm_qctx ctx = {.peer_ip = "192.0.2.7",
			      .helo = helo,
			      .from_domain = "far.test"};
	struct rm_msg_src src = {.prefix = "X-Core: 1\r\n"};
	char path[] = "/tmp/rm-qctx-XXXXXX", qid[RM_QID_MAX];
	struct rm_qentry e;
	struct rmail_err err;
	GPtrArray *in = inbox("bob@example.test");
	guint nin = in->len;
	int fd = g_mkstemp(path);

	g_ptr_array_unref(in);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, msg, strlen(msg)), ==, (ssize_t)strlen(msg));
	g_unlink(path);
	src.fd = fd;
	src.size = strlen(msg);
	rm_submit_new_id(qid);
	g_assert_cmpint(
		rm_queue_add_ctx(qid, "x@far.test", r, 1, &src, 0, &ctx, &err),
		==, 0);
	close(fd);
	g_assert_cmpint(rm_queue_load(qid, &e, &err), ==, 0);
	g_assert_cmpstr(e.ctx.helo, ==, helo);
	g_assert_cmpstr(e.ctx.peer_ip, ==, "192.0.2.7");
	g_assert_cmpstr(e.ctx.from_domain, ==, "far.test");
	g_assert_null(e.ctx.auth_user);
	g_assert_cmpuint(e.prefix, ==, strlen(src.prefix));
	/* past the end of the .msg */
	e.prefix = (uint64_t)1 << 40;
	g_assert_cmpint(rm_queue_save(&e, &err), ==, 0);
	rm_queue_entry_free(&e);
	rm_queue_run(true);
	in = inbox("bob@example.test");
	g_assert_cmpuint(in->len, ==, nin + 1);
	g_assert_nonnull(strstr(last(in), "X-Core: 1\r\nSubject: ctx\r\n"));
	g_assert_nonnull(strstr(last(in), "ctx body"));
	g_ptr_array_unref(in);
}

static void test_spill(void)
{
	const struct rmail_core *core = rm_core();
	const char *r[] = {"carol@example.test"};
	struct rmail_submit_opts o = {
		.size = sizeof(o),
		.proto = "ESMTP",
		.mail_from = "s@far.test",
		.rcpts = r,
		.nrcpts = 1,
		.size_hint = 0,
	};
	size_t len = (5u << 20) + 123, off = 0;
	char *msg = g_malloc0(len + 1), *tmp;
	struct rmail_submit *sub;
	struct rmail_err err;
	struct done d;
	GPtrArray *a;
	GDir *gd;
	const char *m;

	memcpy(msg, "Subject: big\r\n\r\n", 16);
	for (size_t i = 16; i < len; i++)
		msg[i] = (i % 64 == 62)	  ? '\r'
			 : (i % 64 == 63) ? '\n'
					  : (char)('a' + i % 26);
	memset(&d, 0, sizeof(d));
	sub = core->submit_begin(&o, &err);
	g_assert_nonnull(sub);
	while (off < len) {
		size_t k = MIN(len - off, 65536);

		g_assert_cmpint(core->submit_write(sub, msg + off, k, &err), ==,
				0);
		off += k;
	}
	core->submit_commit(sub, submit_cb, &d);
	g_assert_true(wait_for(fired, &d, 20));
	g_assert_true(d.ok);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_DELIVERED);
	a = inbox("carol@example.test");
	m = last(a);
	g_assert_nonnull(strstr(m, "Subject: big\r\n"));
	g_assert_true(g_str_has_suffix(m, msg + len - 200));
	g_ptr_array_unref(a);
	tmp = g_build_filename(dir, "mail", "spool", "tmp", NULL);
	gd = g_dir_open(tmp, 0, NULL);
	g_assert_nonnull(gd);
	g_assert_null(g_dir_read_name(gd));
	g_dir_close(gd);
	g_free(tmp);
	g_free(msg);
}

static void test_alias(void)
{
	const char *r[] = {"team@example.test", "alice@example.test"};
	GPtrArray *a = inbox("alice@example.test"),
		  *b = inbox("bob@example.test");
	guint na = a->len, nb = b->len;
	struct done d;

	g_ptr_array_unref(a);
	g_ptr_array_unref(b);
	d = submit("sender@far.test", r, 2, plain, strlen(plain), 0);
	g_assert_true(d.ok);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_DELIVERED);
	g_assert_cmpint(d.status[1], ==, RMAIL_RCPT_DELIVERED);
	a = inbox("alice@example.test");
	b = inbox("bob@example.test");
	/* alice is in the alias and named directly: one copy */
	g_assert_cmpuint(a->len, ==, na + 1);
	g_assert_cmpuint(b->len, ==, nb + 1);
	g_ptr_array_unref(a);
	g_ptr_array_unref(b);
}

static void test_quota(void)
{
	const char *r[] = {"small@example.test", "alice@example.test"};
	size_t len = (1 << 20) + 200000;
	char *big = g_malloc(len + 1);
	GPtrArray *a, *s, *c;
	struct done d;
	guint na, nc;

	memset(big, 'x', len);
	memcpy(big, "Subject: big one\r\n\r\n", 20);
	for (size_t i = 100; i < len; i += 100) {
		big[i - 2] = '\r';
		big[i - 1] = '\n';
	}
	big[len] = '\0';
	a = inbox("alice@example.test");
	c = inbox("carol@example.test");
	na = a->len;
	nc = c->len;
	g_ptr_array_unref(a);
	g_ptr_array_unref(c);
	d = submit("carol@example.test", r, 2, big, len, 0);
	g_assert_true(d.ok);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_FAILED);
	g_assert_cmpstr(d.error[0], ==, "Quota exceeded");
	g_assert_cmpint(d.status[1], ==, RMAIL_RCPT_DELIVERED);
	a = inbox("alice@example.test");
	s = inbox("small@example.test");
	c = inbox("carol@example.test");
	g_assert_cmpuint(a->len, ==, na + 1);
	g_assert_cmpuint(s->len, ==, 0);
	/* the bounce: an RFC 3464 report to the sender */
	g_assert_cmpuint(c->len, ==, nc + 1);
	g_assert_true(g_str_has_prefix(last(c), "Return-Path: <>\r\n"));
	g_assert_nonnull(strstr(last(c), "report-type=delivery-status"));
	g_assert_nonnull(strstr(last(c), "Final-Recipient: rfc822; "
					 "small@example.test"));
	g_assert_nonnull(strstr(last(c), "Status: 5.2.2"));
	g_assert_nonnull(strstr(last(c), "Subject: big one"));
	g_ptr_array_unref(a);
	g_ptr_array_unref(s);
	g_ptr_array_unref(c);
	g_free(big);
}

static void test_filters(void)
{
	const char *r[] = {"alice@example.test"};
	const char *r2[] = {"team@example.test"};
	const char *rej = "X-Test: reject\r\n\r\nspam\r\n";
	const char *dis = "X-Test: discard\r\n\r\ndrop me\r\n";
	const char *hdr = "X-Test: header\r\n\r\nmark me\r\n";
	const char *bob = "X-Test: reject-bob\r\n\r\nnot bob\r\n";
	GPtrArray *a = inbox("alice@example.test"), *b;
	guint na = a->len, nb;
	struct done d;

	g_ptr_array_unref(a);
	d = submit("sender@far.test", r, 1, rej, strlen(rej), 0);
	g_assert_false(d.ok);
	g_assert_cmpint(d.code, ==, 554);
	g_assert_cmpstr(d.text, ==, "5.7.1 Spam detected");
	d = submit("sender@far.test", r, 1, dis, strlen(dis), 0);
	g_assert_true(d.ok);
	a = inbox("alice@example.test");
	g_assert_cmpuint(a->len, ==, na);
	g_ptr_array_unref(a);
	d = submit("sender@far.test", r, 1, hdr, strlen(hdr), 0);
	g_assert_true(d.ok);
	a = inbox("alice@example.test");
	g_assert_cmpuint(a->len, ==, na + 1);
	g_assert_nonnull(strstr(last(a), "X-Filtered: yes\r\n"));
	g_ptr_array_unref(a);
	/* DELIVERY stage: bob refused, alice still gets it */
	b = inbox("bob@example.test");
	nb = b->len;
	g_ptr_array_unref(b);
	d = submit("sender@far.test", r2, 1, bob, strlen(bob), 0);
	g_assert_true(d.ok);
	a = inbox("alice@example.test");
	b = inbox("bob@example.test");
	g_assert_cmpuint(a->len, ==, na + 2);
	g_assert_cmpuint(b->len, ==, nb);
	g_ptr_array_unref(a);
	g_ptr_array_unref(b);
}

static gboolean queue_empty(gpointer arg)
{
	char(*ids)[RM_QID_MAX];
	size_t n = rm_queue_list(&ids);

	(void)arg;
	g_free(ids);
	return n == 0;
}

static gboolean sink_has(gpointer arg)
{
	return sink_count() >= GPOINTER_TO_UINT(arg);
}

static guint inbox_len(const char *user)
{
	GPtrArray *a = inbox(user);
	guint n = a->len;

	g_ptr_array_unref(a);
	return n;
}

struct inbox_wait {
	const char *user;
	guint n;
};

static gboolean inbox_has(gpointer arg)
{
	struct inbox_wait *w = arg;

	return inbox_len(w->user) >= w->n;
}

static void test_remote(void)
{
	const char *r[] = {"ok@remote.test", "alice@example.test"};
	guint n0 = sink_count();
	struct done d;
	char *m, *rc;

	d = submit("alice@example.test", r, 2, plain, strlen(plain), 1);
	g_assert_true(d.ok);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_QUEUED);
	g_assert_cmpint(d.status[1], ==, RMAIL_RCPT_DELIVERED);
	/* the first attempt is immediate */
	g_assert_true(wait_for(sink_has, GUINT_TO_POINTER(n0 + 1), 5));
	g_assert_true(wait_for(queue_empty, NULL, 5));
	m = sink_message(n0);
	rc = sink_rcpts(n0);
	g_assert_cmpstr(rc, ==, "<ok@remote.test>");
	/* dot-stuffed on the wire, unstuffed by the sink */
	g_assert_nonnull(strstr(m, "\r\n.leading dot\r\n"));
	g_assert_nonnull(strstr(m, "Received: from client.example"));
	g_assert_null(strstr(m, "Return-Path:"));
	/* STARTTLS was offered and broke: delivered in cleartext */
	g_assert_cmpuint(sink_tls_attempts(), >, 0);
	g_free(m);
	g_free(rc);
}

static void test_tempfail(void)
{
	const char *r[] = {"tempfail@remote.test"};
	guint n0 = sink_count();
	char(*ids)[RM_QID_MAX];
	struct rm_qentry e;
	struct done d;

	d = submit("alice@example.test", r, 1, plain, strlen(plain), 1);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_QUEUED);
	/* the first attempt gets 451: still queued, with the reply */
	g_assert_true(wait_for(queue_empty, NULL, 0.15) == FALSE);
	g_assert_cmpuint(rm_queue_list(&ids), ==, 1);
	g_assert_cmpint(rm_queue_load(ids[0], &e, NULL), ==, 0);
	g_free(ids);
	if (e.attempts == 0) { /* not run yet: give it a moment */
		rm_queue_entry_free(&e);
		g_usleep(100000);
		wait_for(queue_empty, NULL, 0.1);
		g_assert_cmpuint(rm_queue_list(&ids), ==, 1);
		g_assert_cmpint(rm_queue_load(ids[0], &e, NULL), ==, 0);
		g_free(ids);
	}
	g_assert_cmpuint(e.attempts, ==, 1);
	g_assert_nonnull(strstr(e.r[0].error, "451"));
	rm_queue_entry_free(&e);
	/* the retry (retry_initial 0.3 s) succeeds */
	g_assert_true(wait_for(sink_has, GUINT_TO_POINTER(n0 + 1), 5));
	g_assert_true(wait_for(queue_empty, NULL, 5));
}

static void test_permfail(void)
{
	const char *r[] = {"reject@remote.test"};
	struct inbox_wait w = {"alice@example.test", 0};
	struct done d;

	w.n = inbox_len(w.user) + 1;
	d = submit("alice@example.test", r, 1, plain, strlen(plain), 1);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_QUEUED);
	g_assert_true(wait_for(queue_empty, NULL, 5));
	g_assert_true(wait_for(inbox_has, &w, 5));
	{
		GPtrArray *a = inbox(w.user);

		g_assert_nonnull(strstr(last(a), "Final-Recipient: rfc822; "
						 "reject@remote.test"));
		g_assert_nonnull(strstr(last(a), "550 5.1.1 rejected by sink"));
		g_assert_nonnull(strstr(last(a), "Status: 5.1.1"));
		g_ptr_array_unref(a);
	}
	/* a null sender never gets a bounce */
	w.n = inbox_len(w.user);
	d = submit("", r, 1, plain, strlen(plain), 0);
	g_assert_true(wait_for(queue_empty, NULL, 5));
	g_assert_cmpuint(inbox_len(w.user), ==, w.n);
}

static void test_invalid(void)
{
	const char *r[] = {"someone@host.invalid"};
	struct inbox_wait w = {"alice@example.test", 0};
	guint q0 = rm_dnsd_queries(dnsd);
	struct done d;

	w.n = inbox_len(w.user) + 1;
	d = submit("alice@example.test", r, 1, plain, strlen(plain), 1);
	g_assert_cmpint(d.status[0], ==, RMAIL_RCPT_QUEUED);
	g_assert_true(wait_for(queue_empty, NULL, 5));
	g_assert_true(wait_for(inbox_has, &w, 5));
	{
		GPtrArray *a = inbox(w.user);

		g_assert_nonnull(strstr(last(a), "RFC 6761"));
		g_ptr_array_unref(a);
	}
	g_assert_cmpuint(rm_dnsd_queries(dnsd), ==, q0);
}

static void test_mx(void)
{
	struct rm_mx mx[8];
	struct rm_addr addrs[4];
	char why[256];
	size_t n = 0;
	bool perm = false;
	gboolean a_first = FALSE, c_first = FALSE;

	/* preference order; random among the two at 10 */
	for (int i = 0; i < 40; i++) {
		g_assert_cmpint(rm_mx_lookup("mx.test", mx, 8, &n, &perm, why,
					     sizeof(why)),
				==, 0);
		g_assert_cmpuint(n, ==, 3);
		g_assert_cmpuint(mx[0].pref, ==, 10);
		g_assert_cmpuint(mx[1].pref, ==, 10);
		g_assert_cmpstr(mx[2].host, ==, "b.mx.test");
		a_first |= strcmp(mx[0].host, "a.mx.test") == 0;
		c_first |= strcmp(mx[0].host, "c.mx.test") == 0;
	}
	g_assert_true(a_first && c_first);
	/* null MX: permanent */
	g_assert_cmpint(
		rm_mx_lookup("null.test", mx, 8, &n, &perm, why, sizeof(why)),
		==, -1);
	g_assert_true(perm);
	g_assert_nonnull(strstr(why, "null MX"));
	/* no MX: the domain itself (A fallback) */
	g_assert_cmpint(
		rm_mx_lookup("nomx.test", mx, 8, &n, &perm, why, sizeof(why)),
		==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpstr(mx[0].host, ==, "nomx.test");
	g_assert_cmpint(rm_mx_addrs("nomx.test", 25, true, addrs, 4, &n), ==,
			0);
	g_assert_cmpuint(n, ==, 1);
	/* NXDOMAIN: permanent */
	perm = false;
	g_assert_cmpint(
		rm_mx_lookup("gone.test", mx, 8, &n, &perm, why, sizeof(why)),
		==, -1);
	g_assert_true(perm);
}

/* Six messages, four to one slow destination and two to another: the
 * queue works on them at once, never more than delivery.per_domain (2)
 * sessions to one domain, and all arrive in far less than the serial
 * time. */
static void test_concurrent(void)
{
	const char *r1[] = {"a@slow1.test"}, *r2[] = {"b@slow2.test"};
	guint d0 = stall_delivered();
	gint64 t0 = g_get_monotonic_time();
	double took;

	for (int i = 0; i < 4; i++)
		g_assert_cmpint(submit("alice@example.test", r1, 1, plain,
				       strlen(plain), 1)
					.status[0],
				==, RMAIL_RCPT_QUEUED);
	for (int i = 0; i < 2; i++)
		g_assert_cmpint(submit("alice@example.test", r2, 1, plain,
				       strlen(plain), 1)
					.status[0],
				==, RMAIL_RCPT_QUEUED);
	g_assert_true(wait_for(queue_empty, NULL, 10));
	took = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_assert_cmpuint(stall_delivered() - d0, ==, 6);
	g_assert_cmpuint(stall_max_domain("slow1.test"), ==, 2);
	g_assert_cmpuint(stall_max_domain("slow2.test"), >=, 1);
	g_assert_cmpuint(stall_max_total(), >=, 3);
	/* serial: 6 x 0.4 s */
	g_assert_cmpfloat(took, <, 2.0);
}

static void setup(guint sink_port, guint stall_port)
{
	struct rm_config *conf = NULL;
	struct rmail_err err;
	char *cfg, *path;

	dir = g_dir_make_tmp("rmail-submit-XXXXXX", NULL);
	g_assert_nonnull(dir);
	path = g_build_filename(dir, "config.json", NULL);
	cfg = g_strdup_printf(
		"{\"hostname\": \"mx.example.test\", \"mail_root\": "
		"\"%s/mail\","
		" \"module_dir\": \"%s\", \"modules\": [\"mod_shardstore\","
		" \"mod_fxfilter\"], \"log_level\": \"warning\","
		" \"delivery\": {\"workers\": 2, \"retry_initial\": 0.3,"
		" \"retry_max\": 1,"
		" \"concurrency\": 4, \"per_domain\": 2,"
		" \"routes\": {\"remote.test\": \"127.0.0.1:%u\","
		" \"slow1.test\": \"127.0.0.1:%u\","
		" \"slow2.test\": \"127.0.0.1:%u\"}},"
		/* the test zone is unsigned: no trust anchor, or a slow
		 * start-up check would leave its answers bogus */
		" \"dns\": {\"forwarders\": [\"127.0.0.1@%u\"],"
		" \"trust_anchor\": null}}",
		dir, g_getenv("RMAIL_MODULE_DIR"), sink_port, stall_port,
		stall_port, rm_dnsd_port(dnsd));
	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==, 0);
	rm_conf_set(conf);
	rm_log_set_level(conf->log_level);
	g_assert_cmpint(rm_loop_init(), ==, 0);
	g_assert_cmpint(rm_workers_init(2, 2, 1), ==, 0);
	g_assert_cmpuint(rm_modules_load(conf, report, NULL), ==, 2);
	g_assert_cmpint(rm_modules_init(&err), ==, 0);
	g_assert_cmpint(rm_modules_start(&err), ==, 0);
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	g_assert_cmpint(rm_submit_start(&err), ==, 0);
	rm_smtp_timeout = 5;
	ops = rm_store(&h);
	g_assert_nonnull(ops);
	add_user("alice@example.test", 100);
	add_user("bob@example.test", 100);
	add_user("carol@example.test", 100);
	add_user("small@example.test", 1);
	{
		const char *t[] = {"alice@example.test", "bob@example.test"};

		g_assert_cmpint(
			ops->alias_add(h, "team@example.test", t, 2, &err), ==,
			0);
	}
	g_free(cfg);
	g_free(path);
}

int main(int argc, char **argv)
{
	guint port;
	int rc;

	g_test_init(&argc, &argv, NULL);
	port = sink_start();
	{
		char err[128];

		dnsd = rm_dnsd_start(zone, err, sizeof(err));
		g_assert_nonnull(dnsd);
	}
	setup(port, stall_start(400));
	g_test_add_func("/submit/policy", test_policy);
	g_test_add_func("/submit/local", test_local);
	g_test_add_func("/submit/alias", test_alias);
	g_test_add_func("/submit/junk", test_junk);
	g_test_add_func("/submit/queue_ctx", test_queue_ctx);
	g_test_add_func("/submit/spill", test_spill);
	g_test_add_func("/submit/quota", test_quota);
	g_test_add_func("/submit/filters", test_filters);
	g_test_add_func("/submit/remote", test_remote);
	g_test_add_func("/submit/tempfail", test_tempfail);
	g_test_add_func("/submit/permfail", test_permfail);
	g_test_add_func("/submit/invalid", test_invalid);
	g_test_add_func("/submit/mx", test_mx);
	g_test_add_func("/submit/concurrent", test_concurrent);
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
