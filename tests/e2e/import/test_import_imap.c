/*
 * rmail import imap from a second rmail on loopback: folders (modified
 * UTF-7 names), flags, keywords, internal dates, bytes, subscriptions,
 * UIDVALIDITY and UIDs kept; a second run copies nothing, a flag change
 * is carried over, a deletion only with --delete; TLS with --ca; a 20
 * MB message; a connection cut mid-run by a proxy, then a re-run
 * without duplicates; a hostile server's huge literal and garbage.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../imap/imap_client.h"

#define SRC "src@example.test"
#define DST "dst@example.test"
#define PW "pw-secret"

static const char *const cleartext = "\"allow_cleartext_login_loopback\": true";

struct pair {
	struct imd *src, *dst;
	char *pwfile;
};

static void pair_start(struct pair *p)
{
	p->src = imd_start(cleartext);
	p->dst = imd_start(cleartext);
	imd_user(p->src, SRC, PW, 0);
	imd_user(p->dst, DST, PW, 0);
	p->pwfile = g_build_filename(rmh_dir(p->dst->h), "pw", NULL);
	g_assert_true(g_file_set_contents(p->pwfile, PW "\n", -1, NULL));
}

static void pair_stop(struct pair *p)
{
	imd_stop(p->src);
	imd_stop(p->dst);
	g_free(p->pwfile);
}

static void append(struct imc *c, const char *mbox, const char *flags,
		   const char *date, const char *msg)
{
	char *r = imc_ok(c, "APPEND \"%s\" (%s) \"%s\" {%zu+}\r\n%s", mbox,
			 flags, date, strlen(msg), msg);

	g_free(r);
}

/* `rmail import imap` into DST; its stdout, the status in *rc_r */
static char *import(struct pair *p, guint port, const char *extra, int *rc_r)
{
	char *cmd, *out = NULL, *err = NULL, *all;
	gchar **args;
	int rc;

	cmd = g_strdup_printf("import imap --host 127.0.0.1 --port %u "
			      "--user " SRC " --password-file %s %s " DST,
			      port, p->pwfile, extra);
	args = g_strsplit(cmd, " ", -1);
	{
		GPtrArray *a = g_ptr_array_new();

		g_ptr_array_add(a, "rmail");
		g_ptr_array_add(a, "-c");
		g_ptr_array_add(a, (char *)rmh_config_path(p->dst->h));
		for (char **s = args; *s != NULL; s++)
			if (**s != '\0')
				g_ptr_array_add(a, *s);
		g_ptr_array_add(a, NULL);
		rc = rmh_run_argv(p->dst->h, (const char *const *)a->pdata,
				  NULL, &out, &err);
		g_ptr_array_free(a, TRUE);
	}
	g_test_message("import %s -> %d\n%s%s", extra, rc, out, err);
	all = g_strconcat(out, "\n", err, NULL);
	g_strfreev(args);
	g_free(cmd);
	g_free(out);
	g_free(err);
	*rc_r = rc;
	return all;
}

static void import_ok(struct pair *p, const char *extra, const char *want)
{
	int rc;
	char *out = import(p, p->src->port, extra, &rc);

	if (rc != 0 || strstr(out, want) == NULL)
		g_error("import %s: %d, wanted \"%s\" in\n%s", extra, rc, want,
			out);
	g_free(out);
}

/* what a client sees of one folder: UIDVALIDITY, then every message's
 * UID, flags (\Recent aside), date, size and bytes */
static char *snapshot_items(struct imd *d, const char *user, const char *mbox,
			    const char *items)
{
	struct imc *c = imc_login(d, user, PW);
	char *r = imc_ok(c, "EXAMINE \"%s\"", mbox), *uv, *f, *end;
	GString *s = g_string_new(NULL);

	uv = strstr(r, "[UIDVALIDITY ");
	g_assert_nonnull(uv);
	g_string_append_len(s, uv, (gssize)(strchr(uv, ']') - uv + 1));
	g_free(r);
	f = imc_ok(c, "UID FETCH 1:* %s", items);
	end = strrchr(f, '\n');
	/* the tagged line is the last: drop it */
	if (end != NULL) {
		*end = '\0';
		end = strrchr(f, '\n');
		if (end != NULL)
			end[1] = '\0';
		else
			f[0] = '\0';
	}
	g_string_append(s, f);
	g_free(f);
	imc_close(c);
	{
		char *out = g_string_free(s, FALSE), *x;

		while ((x = strstr(out, "\\Recent")) != NULL)
			memmove(x, x + 7, strlen(x + 7) + 1);
		while ((x = strstr(out, "  ")) != NULL)
			memmove(x, x + 1, strlen(x + 1) + 1);
		while ((x = strstr(out, "( ")) != NULL)
			memmove(x + 1, x + 2, strlen(x + 2) + 1);
		while ((x = strstr(out, " )")) != NULL)
			memmove(x, x + 1, strlen(x + 1) + 1);
		return out;
	}
}

static char *snapshot(struct imd *d, const char *user, const char *mbox)
{
	return snapshot_items(d, user, mbox,
			      "(UID FLAGS INTERNALDATE RFC822.SIZE "
			      "BODY.PEEK[])");
}

static void same_items(struct pair *p, const char *mbox, const char *items)
{
	char *a = snapshot_items(p->src, SRC, mbox, items);
	char *b = snapshot_items(p->dst, DST, mbox, items);

	if (strcmp(a, b) != 0)
		g_error("folder %s differs:\n--- source\n%.3000s\n--- "
			"imported\n%.3000s",
			mbox, a, b);
	g_free(a);
	g_free(b);
}

static void same(struct pair *p, const char *mbox)
{
	same_items(p, mbox, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
}

static const char *const m1 =
	"From: a@example.test\r\nSubject: one\r\n"
	"Message-ID: <one@example.test>\r\n\r\nbody 1\r\n";
static const char *const m2 =
	"From: b@example.test\r\nSubject: two\r\n"
	"Message-ID: <two@example.test>\r\n\r\nbody 2\r\n";
static const char *const m3 = "From: c@example.test\r\nSubject: three\r\n"
			      "\r\nno message-id\r\n";
static const char *const m4 = "From: d@example.test\r\nSubject: caf\xc3\xa9"
			      "\r\nMessage-ID: <four@example.test>\r\n\r\n"
			      "in a folder with a non-ASCII name\r\n";

static void fill(struct pair *p)
{
	struct imc *c = imc_login(p->src, SRC, PW);
	char *r;

	append(c, "INBOX", "\\Seen", "01-Feb-2020 10:00:00 +0000", m1);
	append(c, "INBOX", "\\Answered \\Flagged $Label1 Important",
	       "15-Mar-2021 23:59:59 -0700", m2);
	append(c, "INBOX", "", "29-Feb-2024 00:00:01 +0530", m3);
	/* a gap in the source's UIDs: kept as such */
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "UID STORE 3 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(c, "EXPUNGE");
	g_free(r);
	append(c, "INBOX", "\\Draft", "02-Jan-2019 08:00:00 +0100", m3);
	/* Café/Über, Work/Projects; Work unsubscribed */
	r = imc_ok(c, "CREATE \"Caf&AOk-/&ANw-ber\"");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE \"Caf&AOk-/&ANw-ber\"");
	g_free(r);
	append(c, "Caf&AOk-/&ANw-ber", "\\Seen Caf\xc3\xa9Kw",
	       "03-Apr-2022 12:00:00 +0000", m4);
	r = imc_cmd(c, "CREATE \"Work/Projects\"");
	g_free(r);
	append(c, "Work/Projects", "$Todo", "04-May-2023 13:14:15 +0200", m1);
	imc_close(c);
}

static void test_full(void)
{
	struct pair p;
	struct imc *c;
	char *r, *out;
	int rc;

	pair_start(&p);
	fill(&p);
	/* a dry run touches nothing */
	import_ok(&p, "--dry-run", "would import 5 messages");
	r = snapshot(p.dst, DST, "INBOX");
	g_assert_null(strstr(r, "FETCH"));
	g_free(r);

	import_ok(&p, "", "imported 5 messages into " DST);
	same(&p, "INBOX");
	same(&p, "Caf&AOk-/&ANw-ber");
	same(&p, "Work/Projects");
	c = imc_login(p.dst, DST, PW);
	r = imc_ok(c, "LSUB \"\" \"*\"");
	has(r, "\"Caf&AOk-/&ANw-ber\"");
	hasnt(r, "Work/Projects");
	g_free(r);
	imc_close(c);

	/* idempotent */
	import_ok(&p, "",
		  "imported 0 messages into " DST
		  " from 127.0.0.1 (5 already there, 0 flags updated");

	/* the cut-over pass: flags and keywords follow the source */
	c = imc_login(p.src, SRC, PW);
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "UID STORE 1 FLAGS (\\Flagged NewKw)");
	g_free(r);
	r = imc_ok(c, "UID STORE 2 -FLAGS (\\Answered $Label1)");
	g_free(r);
	append(c, "INBOX", "\\Seen", "05-Jun-2023 01:02:03 +0000", m2);
	imc_close(c);
	import_ok(&p, "",
		  "imported 1 messages into " DST
		  " from 127.0.0.1 (5 already there, 2 flags updated");
	same(&p, "INBOX");

	/* deleted at the source: kept here unless --delete */
	c = imc_login(p.src, SRC, PW);
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "UID STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(c, "EXPUNGE");
	g_free(r);
	imc_close(c);
	import_ok(&p, "", "0 deleted, 1 gone at the source");
	r = snapshot(p.dst, DST, "INBOX");
	has(r, "body 1");
	g_free(r);
	import_ok(&p, "--delete", "1 deleted, 0 gone at the source");
	same(&p, "INBOX");
	import_ok(&p, "--delete", "imported 0 messages");

	/* the source rebuilt a folder: new UIDVALIDITY and UIDs, the same
	 * messages, matched again by Message-ID and size */
	c = imc_login(p.src, SRC, PW);
	r = imc_ok(c, "CREATE Tmp");
	g_free(r);
	r = imc_ok(c, "SELECT \"Work/Projects\"");
	g_free(r);
	r = imc_ok(c, "UID COPY 1:* Tmp");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "DELETE \"Work/Projects\"");
	g_free(r);
	r = imc_ok(c, "RENAME Tmp \"Work/Projects\"");
	g_free(r);
	imc_close(c);
	import_ok(&p, "--folder Work/Projects",
		  "imported 0 messages into " DST
		  " from 127.0.0.1 (1 already there");
	import_ok(&p, "--folder Work/Projects", "imported 0 messages");

	/* STARTTLS on the plain port */
	{
		char *ca = rmh_source_path("tests/certs/cert.pem");
		char *extra = g_strdup_printf("--starttls --ca %s", ca);

		import_ok(&p, extra, "imported 0 messages");
		g_free(extra);
		g_free(ca);
	}

	/* --folder takes one folder; TLS wants a trusted certificate */
	out = import(&p, p.src->tls_port, "--tls", &rc);
	g_assert_cmpint(rc, !=, 0);
	g_assert_nonnull(strstr(out, "not trusted"));
	g_free(out);
	{
		char *ca = rmh_source_path("tests/certs/cert.pem");
		char *extra = g_strdup_printf(
			"--tls --ca %s --folder Work/Projects", ca);

		out = import(&p, p.src->tls_port, extra, &rc);
		g_assert_cmpint(rc, ==, 0);
		g_assert_nonnull(strstr(out, "imported 0 messages into " DST
					     " from 127.0.0.1 (1 already"));
		g_free(out);
		g_free(extra);
		g_free(ca);
	}
	pair_stop(&p);
}

/* ---- a proxy that cuts the connection ------------------------------ */

struct proxy {
	int lfd;
	guint port, upstream;
	gint64 cut_after; /* server-to-client bytes, -1: never */
	GThread *th;
	volatile gint stop;
};

static int tcp_to(guint port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	return fd;
}

static gpointer proxy_run(gpointer arg)
{
	struct proxy *x = arg;

	while (!g_atomic_int_get(&x->stop)) {
		struct pollfd pl = {.fd = x->lfd, .events = POLLIN};
		int cfd, sfd;
		gint64 sent = 0;

		if (poll(&pl, 1, 100) <= 0)
			continue;
		cfd = accept(x->lfd, NULL, NULL);
		if (cfd < 0)
			continue;
		sfd = tcp_to(x->upstream);
		for (;;) {
			struct pollfd pf[2] = {{.fd = cfd, .events = POLLIN},
					       {.fd = sfd, .events = POLLIN}};
			char buf[16384];
			ssize_t n;

			if (poll(pf, 2, 10000) <= 0)
				break;
			if (pf[0].revents) {
				n = read(cfd, buf, sizeof(buf));
				if (n <= 0 || write(sfd, buf, (size_t)n) != n)
					break;
			}
			if (pf[1].revents) {
				n = read(sfd, buf, sizeof(buf));
				if (n <= 0)
					break;
				if (x->cut_after >= 0 &&
				    sent + n > x->cut_after) {
					n = (ssize_t)(x->cut_after - sent);
					if (n > 0)
						(void)!write(cfd, buf,
							     (size_t)n);
					break;
				}
				if (write(cfd, buf, (size_t)n) != n)
					break;
				sent += n;
			}
		}
		close(cfd);
		close(sfd);
	}
	return NULL;
}

static void proxy_start(struct proxy *x, guint upstream, gint64 cut_after)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	x->lfd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(bind(x->lfd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	g_assert_cmpint(listen(x->lfd, 4), ==, 0);
	getsockname(x->lfd, (struct sockaddr *)&a, &len);
	x->port = ntohs(a.sin_port);
	x->upstream = upstream;
	x->cut_after = cut_after;
	x->stop = 0;
	x->th = g_thread_new("proxy", proxy_run, x);
}

static void proxy_stop(struct proxy *x)
{
	g_atomic_int_set(&x->stop, 1);
	g_thread_join(x->th);
	close(x->lfd);
}

static guint count_of(struct imd *d, const char *user, const char *mbox)
{
	struct imc *c = imc_login(d, user, PW);
	char *r = imc_ok(c, "STATUS \"%s\" (MESSAGES)", mbox), *m;
	guint n;

	m = strstr(r, "MESSAGES ");
	g_assert_nonnull(m);
	n = (guint)strtoul(m + 9, NULL, 10);
	g_free(r);
	imc_close(c);
	return n;
}

static void test_drop(void)
{
	struct pair p;
	struct proxy x;
	struct imc *c;
	char *out, msg[2048];
	int rc;

	pair_start(&p);
	c = imc_login(p.src, SRC, PW);
	for (int i = 0; i < 150; i++) {
		GString *s = g_string_new(NULL);

		g_string_printf(
			s, "Subject: m%d\r\nMessage-ID: <m%d@x>\r\n\r\n", i, i);
		memset(msg, 'a' + i % 26, 1000);
		msg[1000] = '\0';
		g_string_append(s, msg);
		g_string_append(s, "\r\n");
		append(c, "INBOX", i % 2 ? "\\Seen" : "",
		       "01-Feb-2020 10:00:00 +0000", s->str);
		g_string_free(s, TRUE);
	}
	imc_close(c);
	/* about a third of the bodies, then the connection goes */
	proxy_start(&x, p.src->port, 60000);
	out = import(&p, x.port, "", &rc);
	proxy_stop(&x);
	g_assert_cmpint(rc, !=, 0);
	g_assert_nonnull(strstr(out, "closed the connection"));
	g_free(out);
	{
		guint part = count_of(p.dst, DST, "INBOX");

		g_test_message("copied before the cut: %u", part);
		g_assert_cmpuint(part, >, 0);
		g_assert_cmpuint(part, <, 150);
	}
	import_ok(&p, "", "imported");
	g_assert_cmpuint(count_of(p.dst, DST, "INBOX"), ==, 150);
	same(&p, "INBOX");
	pair_stop(&p);
}

static void test_big(void)
{
	struct pair p;
	struct imc *c;
	GString *s =
		g_string_new("Subject: big\r\nMessage-ID: <big@x>\r\n\r\n");
	char line[80];

	pair_start(&p);
	for (int i = 0; (gsize)s->len < 20u * 1024 * 1024; i++) {
		snprintf(line, sizeof(line), "%08d %066d\r\n", i, i);
		g_string_append(s, line);
	}
	c = imc_login(p.src, SRC, PW);
	/* the big one last: a first run that leaves it out still keeps
	 * its UID free */
	append(c, "INBOX", "", "01-Feb-2020 10:00:01 +0000", m1);
	append(c, "INBOX", "\\Seen", "01-Feb-2020 10:00:00 +0000", s->str);
	imc_close(c);
	/* a limit below it: reported, not copied, the rest goes on */
	{
		int rc;
		char *out =
			import(&p, p.src->port, "--max-message-size 10", &rc);

		g_assert_cmpint(rc, !=, 0);
		g_assert_nonnull(strstr(out, "imported 1 messages"));
		g_assert_nonnull(strstr(out, "1 too large"));
		g_free(out);
	}
	import_ok(&p, "",
		  "imported 1 messages into " DST
		  " from 127.0.0.1 (1 already there");
	/* reading 20 MB back through the test client twice is slow: its
	 * size, its first and last bytes, and a slice in the middle */
	same_items(&p, "INBOX",
		   "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]<0.8192> "
		   "BODY.PEEK[]<10000000.8192> BODY.PEEK[]<20963000.9000>)");
	g_string_free(s, TRUE);
	pair_stop(&p);
}

/* ---- a hostile server ---------------------------------------------- */

struct evil {
	int lfd;
	guint port;
	const char *payload; /* the answer to LIST */
	GThread *th;
};

static gpointer evil_run(gpointer arg)
{
	struct evil *e = arg;
	int fd = accept(e->lfd, NULL, NULL);
	char buf[4096];
	size_t len = 0;

	if (fd < 0)
		return NULL;
	(void)!write(fd, "* OK [CAPABILITY IMAP4rev1] hi\r\n", 32);
	for (;;) {
		char *nl, tag[32], reply[256];
		ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strstr(buf, "\r\n")) != NULL) {
			*nl = '\0';
			sscanf(buf, "%31s", tag);
			if (strstr(buf, "LIST") != NULL) {
				(void)!write(fd, e->payload,
					     strlen(e->payload));
			} else {
				snprintf(reply, sizeof(reply), "%s OK done\r\n",
					 tag);
				(void)!write(fd, reply, strlen(reply));
			}
			len -= (size_t)(nl + 2 - buf);
			memmove(buf, nl + 2, len + 1);
		}
	}
	close(fd);
	return NULL;
}

static void evil_case(struct pair *p, const char *payload, const char *want)
{
	struct evil e = {.payload = payload};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	char *out;
	int rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e.lfd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(bind(e.lfd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	g_assert_cmpint(listen(e.lfd, 1), ==, 0);
	getsockname(e.lfd, (struct sockaddr *)&a, &alen);
	e.port = ntohs(a.sin_port);
	e.th = g_thread_new("evil", evil_run, &e);
	out = import(p, e.port, "", &rc);
	g_thread_join(e.th);
	close(e.lfd);
	g_assert_cmpint(rc, ==, 1);
	if (strstr(out, want) == NULL)
		g_error("wanted \"%s\" in\n%s", want, out);
	g_free(out);
}

static void test_hostile(void)
{
	struct pair p;
	GString *g = g_string_new(NULL);

	pair_start(&p);
	evil_case(&p, "* LIST () \"/\" {99999999999}\r\n", "over the limit");
	evil_case(&p, "* LIST (\\X \"/\" \"INBOX\"\r\nt2 OK\r\n",
		  "malformed LIST");
	for (int i = 0; i < 70000; i++)
		g_string_append_c(g, 'x');
	g_string_append(g, "\r\n");
	evil_case(&p, g->str, "line over");
	evil_case(&p, "t2 NO [ALERT] go away\r\n", "go away");
	g_string_free(g, TRUE);
	pair_stop(&p);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/import/imap/full", test_full);
	g_test_add_func("/import/imap/drop", test_drop);
	g_test_add_func("/import/imap/big", test_big);
	g_test_add_func("/import/imap/hostile", test_hostile);
	return g_test_run();
}
