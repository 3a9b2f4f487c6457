/*
 * The outbound TLS policy against a DNSSEC-signed zone on loopback:
 * dane_zone.sh makes a test CA, certificates and the zone dane.test
 * signed with ldns-signzone (plus the unsigned plain.test); nsd serves
 * them on an ephemeral port and the core's resolver (libunbound)
 * forwards to it with the zone's key as its trust anchor.  The MX
 * sink's port stands for 25 (rm_smtp_mx_port); hosts on 127.0.0.2 reach
 * it through a man in the middle that removes STARTTLS from EHLO.
 *
 * DANE-EE matching -> delivered, logged Verified; not matching, bogus
 * signature, a DANE-TA name mismatch, STARTTLS stripped -> deferred and
 * nothing sent; insecure or TLSA-less -> opportunistic; relay_host and
 * routes with tls_verify against the test CA.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm.h"
#include "sink.h"
#include "submit/submit_int.h"

static char *dir;
static guint dns_port, mx_port, other_port;
static GPid nsd_pid;
static struct rm_config *current;

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

static char *path_of(const char *name)
{
	return g_build_filename(dir, name, NULL);
}

/* a config whose delivery section is the given JSON members */
static void load(const char *delivery)
{
	struct rm_config *conf = NULL;
	char *path = path_of("config.json"), *ta = path_of("trust-anchor.key");
	char *cfg = g_strdup_printf(
		"{\"hostname\": \"client.example.test\", "
		"\"mail_root\": \"%s/mail\", \"modules\": [], "
		"\"log_level\": \"debug\", "
		"\"dns\": {\"forwarders\": [\"127.0.0.1@%u\"], "
		"\"trust_anchor\": \"%s\", \"timeout_ms\": 3000}, "
		"\"delivery\": {\"retry_initial\": \"1h\"%s%s}}",
		dir, dns_port, ta, delivery[0] ? ", " : "", delivery);

	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==, 0);
	rm_conf_set(conf);
	rm_log_set_level(RMAIL_LOG_DEBUG);
	rm_config_free(&current);
	current = conf;
	g_free(cfg);
	g_free(ta);
	g_free(path);
}

static void load_f(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void load_f(const char *fmt, ...)
{
	va_list ap;
	char *d;

	va_start(ap, fmt);
	d = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	load(d);
	g_free(d);
}

struct run {
	char *why; /* NULL: the entry left the queue */
	char *log; /* what the pass logged */
};

static void run_free(struct run *r)
{
	g_free(r->why);
	g_free(r->log);
}

/* one entry for rcpt from `from` with queue flags and extra header
 * lines, one forced pass with stderr captured */
static struct run queue_ex(const char *rcpt, const char *subject,
			   const char *from, unsigned flags, const char *hdr)
{
	const char *rcpts[] = {rcpt};
	char *msg =
		g_strdup_printf("%sSubject: %s\r\n\r\nbody\r\n", hdr, subject);
	char *tmp = path_of("msg"), *logp = path_of("pass.log");
	char id[RM_QID_MAX];
	struct rm_msg_src src = {0}; /* flags 0: looked at on delivery */
	struct rm_qentry e;
	struct rmail_err err;
	struct run r = {0};
	int fd, saved, lfd;

	g_assert_true(g_file_set_contents(tmp, msg, -1, NULL));
	fd = open(tmp, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	src.prefix = "";
	src.fd = fd;
	src.size = strlen(msg);
	rm_submit_new_id(id);
	g_assert_cmpint(
		rm_queue_add_flags(id, from, rcpts, 1, &src, flags, &err), ==,
		0);
	close(fd);
	lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(lfd, >=, 0);
	saved = dup(2);
	dup2(lfd, 2);
	rm_queue_run(true);
	dup2(saved, 2);
	close(saved);
	close(lfd);
	g_assert_true(g_file_get_contents(logp, &r.log, NULL, NULL));
	g_printerr("%s", r.log);
	if (rm_queue_load(id, &e, NULL) == 0) {
		r.why = g_strdup(e.r[0].error ? e.r[0].error : "pending");
		g_printerr("%s: %s\n", rcpt, r.why);
		rm_queue_entry_free(&e);
		g_assert_cmpint(rm_queue_remove(id), ==, 0);
	}
	g_free(logp);
	g_free(tmp);
	g_free(msg);
	return r;
}

/* the queued bounce to `to` (removed): its text, or NULL; *rt_r its
 * REQUIRETLS flag */
static char *take_bounce(const char *to, bool *rt_r)
{
	char(*ids)[RM_QID_MAX] = NULL;
	size_t nid = rm_queue_list(&ids);
	char *text = NULL;

	for (size_t i = 0; i < nid; i++) {
		struct rm_qentry e;
		char path[4096];

		if (rm_queue_load(ids[i], &e, NULL) < 0)
			continue;
		if (e.from[0] == '\0' && strcmp(e.r[0].addr, to) == 0) {
			*rt_r = e.requiretls;
			g_assert_cmpint(rm_submit_path(path, sizeof(path),
						       "queue", ids[i]),
					==, 0);
			g_strlcat(path, ".msg", sizeof(path));
			g_assert_true(
				g_file_get_contents(path, &text, NULL, NULL));
			g_assert_cmpint(rm_queue_remove(ids[i]), ==, 0);
		}
		rm_queue_entry_free(&e);
	}
	free(ids);
	return text;
}

/* a null sender: no bounce joins the queue */
static struct run queue_once(const char *rcpt, const char *subject)
{
	return queue_ex(rcpt, subject, "", 0, "");
}

static gboolean sink_has_subject(guint from, const char *subject)
{
	for (guint i = from; i < sink_count(); i++) {
		char *m = sink_message(i);
		gboolean hit = strstr(m, subject) != NULL;

		g_free(m);
		if (hit)
			return TRUE;
	}
	return FALSE;
}

/* delivered, with this in the session's log line */
static void expect_sent(const char *rcpt, const char *subject,
			const char *logged)
{
	guint n0 = sink_count();
	struct run r = queue_once(rcpt, subject);

	g_assert_null(r.why);
	g_assert_true(sink_has_subject(n0, subject));
	g_assert_nonnull(strstr(r.log, logged));
	run_free(&r);
}

/* deferred with this in the reason, and nothing reached the sink */
static void expect_deferred(const char *rcpt, const char *subject,
			    const char *reason)
{
	guint n0 = sink_count();
	struct run r = queue_once(rcpt, subject);

	g_assert_nonnull(r.why);
	g_assert_nonnull(strstr(r.why, reason));
	g_assert_cmpuint(sink_count(), ==, n0);
	run_free(&r);
}

static void test_dane_ee(void)
{
	load("");
	expect_sent("x@good.dane.test", "dane-ee-ok",
		    "verify=Verified policy=dane");
	/* the next session resumes the first, still Verified */
	expect_sent("x@good.dane.test", "dane-ee-again",
		    "verify=Verified policy=dane resumed");
}

/* a reply over DANE-verified TLS: the DSN says how it came */
static void test_dane_dsn(void)
{
	struct run r;
	bool rt = true;
	char *dsn;

	load("");
	r = queue_ex("reject-x@good.dane.test", "dane-dsn", "bob@sender.test",
		     0, "");
	g_assert_null(r.why);
	dsn = take_bounce("bob@sender.test", &rt);
	g_assert_nonnull(dsn);
	g_assert_false(rt);
	g_assert_nonnull(strstr(dsn, "550 5.1.1 rejected by sink (tls=TLSv1"));
	g_assert_nonnull(strstr(dsn, "verify=Verified policy=dane"));
	g_free(dsn);
	run_free(&r);
}

static void test_dane_mismatch(void)
{
	load("");
	expect_deferred("x@wrong.dane.test", "dane-mismatch",
			"certificate verification failed (DANE)");
}

static void test_dane_bogus(void)
{
	guint n0 = sink_count();
	struct run r;

	load("");
	r = queue_once("x@bogus.dane.test", "dane-bogus");
	g_assert_nonnull(r.why);
	g_assert_nonnull(strstr(r.why, "DNSSEC bogus"));
	/* the validator said so: not a timeout that looks alike */
	g_assert_nonnull(strstr(r.log, "_25._tcp.mx-bogus.dane.test/52: rcode "
				       "0 havedata 1 nx 0 secure 0 bogus 1"));
	g_assert_cmpuint(sink_count(), ==, n0);
	run_free(&r);
}

static void test_dane_ta(void)
{
	load("");
	expect_sent("x@ta.dane.test", "dane-ta-ok",
		    "verify=Verified policy=dane");
}

/* DANE-TA(2) checks the MX name: the certificate does not carry it */
static void test_dane_ta_name(void)
{
	load("");
	expect_deferred("x@taname.dane.test", "dane-ta-name",
			"certificate verification failed (DANE)");
}

/* an unsigned zone's TLSA records mean nothing: opportunistic, and the
 * test CA is not in the system store */
static void test_insecure(void)
{
	load("");
	expect_sent("x@plain.test", "insecure-ok",
		    "verify=Untrusted policy=opportunistic");
}

static void test_secure_no_tlsa(void)
{
	load("");
	expect_sent("x@notlsa.dane.test", "no-tlsa-ok", "policy=opportunistic");
}

static void test_strip_dane(void)
{
	load("");
	expect_deferred("x@strip.dane.test", "strip-dane",
			"STARTTLS not offered");
}

static void test_strip_plain(void)
{
	load("");
	expect_sent("x@strip.plain.test", "strip-plain",
		    "tls=none verify=None policy=opportunistic");
}

static void test_relay_verify(void)
{
	char *ca = path_of("ca.pem");

	load_f("\"relay_host\": \"127.0.0.1:%u\", \"relay_ca_file\": \"%s\"",
	       mx_port, ca);
	expect_sent("x@anywhere.test", "relay-verified",
		    "verify=Verified policy=relay");
	g_free(ca);
}

static void test_relay_wrong_name(void)
{
	char *ca = path_of("ca.pem");

	load_f("\"relay_host\": \"127.0.0.1:%u\", \"relay_ca_file\": \"%s\"",
	       other_port, ca);
	expect_deferred("x@anywhere.test", "relay-wrong-name",
			"certificate verification failed (PKIX)");
	g_free(ca);
}

/* the system store does not know the test CA */
static void test_relay_untrusted(void)
{
	load_f("\"relay_host\": \"127.0.0.1:%u\"", mx_port);
	expect_deferred("x@anywhere.test", "relay-untrusted",
			"certificate verification failed (PKIX)");
}

static void test_relay_encrypt(void)
{
	load_f("\"relay_host\": \"127.0.0.1:%u\", "
	       "\"relay_tls_verify\": \"encrypt\"",
	       other_port);
	expect_sent("x@anywhere.test", "relay-encrypt",
		    "verify=Untrusted policy=relay");
}

static void test_route_object(void)
{
	char *ca = path_of("ca.pem");

	load_f("\"routes\": {\"r.test\": {\"host\": \"127.0.0.1:%u\", "
	       "\"ca_file\": \"%s\"}, \"o.test\": {\"host\": "
	       "\"127.0.0.1:%u\", \"ca_file\": \"%s\"}, "
	       "\"s.test\": \"127.0.0.1:%u\"}",
	       mx_port, ca, other_port, ca, other_port);
	expect_sent("x@r.test", "route-verified",
		    "verify=Verified policy=route");
	expect_deferred("x@o.test", "route-wrong-name",
			"certificate verification failed (PKIX)");
	/* the string form stays opportunistic */
	expect_sent("x@s.test", "route-string", "policy=route");
	g_free(ca);
}

static void test_route_config(void)
{
	struct rm_config *conf = NULL;
	char *path = path_of("bad.json");
	static const char *const bad[] = {
		"{\"r.test\": {\"host\": \"nohost\"}}",
		"{\"r.test\": {\"host\": \"h:25\", \"tls_verify\": \"maybe\"}}",
		"{\"r.test\": {\"host\": \"h:25\", \"ca_file\": \"rel.pem\"}}",
		"{\"r.test\": {\"host\": \"h:25\", \"colour\": \"red\"}}",
		"{\"r.test\": 25}",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *cfg = g_strdup_printf(
			"{\"hostname\": \"h.test\", \"mail_root\": \"%s/mail\","
			" \"modules\": [], \"delivery\": {\"routes\": %s}}",
			dir, bad[i]);

		g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
		g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==,
				-1);
		g_free(cfg);
	}
	g_free(path);
	{
		char *cfg = g_strdup_printf(
			"{\"hostname\": \"h.test\", \"mail_root\": \"%s/mail\","
			" \"modules\": [], \"delivery\": "
			"{\"relay_tls_verify\": \"sometimes\"}}",
			dir);

		path = path_of("bad.json");
		g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
		g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==,
				-1);
		g_free(cfg);
		g_free(path);
	}
}

/* ---- REQUIRETLS (RFC 8689) ---------------------------------------- */

static guint rt_port;

/* DANE-authenticated MX... but the MX sink does not offer REQUIRETLS:
 * a route to one that does, verified */
static void test_rt_delivered(void)
{
	char *ca = path_of("ca.pem"), *mail;
	guint n0 = sink_count();
	struct run r;

	load_f("\"routes\": {\"rt.test\": {\"host\": \"127.0.0.1:%u\", "
	       "\"ca_file\": \"%s\"}}",
	       rt_port, ca);
	r = queue_ex("x@rt.test", "rt-ok", "", RM_QF_REQUIRETLS, "");
	g_assert_null(r.why);
	g_assert_true(sink_has_subject(n0, "rt-ok"));
	mail = sink_last_mail();
	g_assert_cmpstr(mail, ==, "MAIL FROM:<> REQUIRETLS");
	g_free(mail);
	run_free(&r);
	g_free(ca);
}

/* the MX's TLSA validates, but the peer does not offer REQUIRETLS: a
 * bounce, itself marked REQUIRETLS */
static void test_rt_peer_lacks(void)
{
	guint n0 = sink_count();
	struct run r;
	bool bounce_rt = false;
	char *dsn;

	load("");
	r = queue_ex("x@good.dane.test", "rt-lacks", "alice@sender.test",
		     RM_QF_REQUIRETLS, "");
	/* failed for good: the entry is gone, its bounce queued */
	g_assert_null(r.why);
	g_assert_nonnull(strstr(r.log, "5.7.30"));
	g_assert_cmpuint(sink_count(), ==, n0);
	dsn = take_bounce("alice@sender.test", &bounce_rt);
	g_assert_nonnull(dsn);
	g_assert_nonnull(strstr(dsn, "5.7.30"));
	g_assert_true(bounce_rt);
	g_free(dsn);
	run_free(&r);
}

/* an insecure MX cannot carry REQUIRETLS */
static void test_rt_insecure_mx(void)
{
	guint n0 = sink_count();
	struct run r;

	load("");
	r = queue_ex("x@plain.test", "rt-insecure", "", RM_QF_REQUIRETLS, "");
	g_assert_null(r.why);
	g_assert_nonnull(strstr(r.log,
				"5.7.30 mx.plain.test: REQUIRETLS "
				"needs an MX host from a DNSSEC-secure"));
	g_assert_cmpuint(sink_count(), ==, n0);
	run_free(&r);
}

/* a secure MX without TLSA: PKIX for its name, which the system store
 * does not give the test CA: deferred, not sent */
static void test_rt_pkix(void)
{
	char *mail;
	struct run r;

	load("");
	r = queue_ex("x@notlsa.dane.test", "rt-pkix", "", RM_QF_REQUIRETLS, "");
	g_assert_nonnull(r.why);
	g_assert_nonnull(strstr(r.why, "certificate verification failed "
				       "(PKIX)"));
	mail = sink_last_mail();
	g_assert_null(strstr(mail, "rt-pkix"));
	g_free(mail);
	run_free(&r);
}

/* "TLS-Required: No" lifts the recipient's DANE policy... */
static void test_tls_required_no(void)
{
	guint n0 = sink_count();
	struct run r;

	load("");
	r = queue_ex("x@wrong.dane.test", "tlsreq-no", "", 0,
		     "TLS-Required: No\r\n");
	g_assert_null(r.why);
	g_assert_true(sink_has_subject(n0, "tlsreq-no"));
	run_free(&r);
}

/* ...but not under REQUIRETLS, which wins (RFC 8689 §4.1) */
static void test_tls_required_no_rt(void)
{
	struct run r;

	load("");
	r = queue_ex("x@wrong.dane.test", "tlsreq-no-rt", "", RM_QF_REQUIRETLS,
		     "TLS-Required: No\r\n");
	g_assert_nonnull(r.why);
	g_assert_nonnull(strstr(r.why, "certificate verification failed "
				       "(DANE)"));
	run_free(&r);
}

/* ---- the man in the middle ---------------------------------------- */

/* server-to-client bytes lose their STARTTLS capability */
static void strip(char *b, ssize_t n)
{
	for (ssize_t i = 0; i + 8 <= n; i++)
		if (g_ascii_strncasecmp(b + i, "STARTTLS", 8) == 0)
			memcpy(b + i, "XXXXXXXX", 8);
}

static gpointer mitm_conn(gpointer arg)
{
	int cfd = GPOINTER_TO_INT(arg), sfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pollfd p[2];
	char buf[8192];

	sa.sin_port = htons((uint16_t)mx_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	p[0].fd = cfd;
	p[1].fd = sfd;
	p[0].events = p[1].events = POLLIN;
	while (poll(p, 2, 10000) > 0) {
		ssize_t n;

		if (p[0].revents) {
			n = read(cfd, buf, sizeof(buf));
			if (n <= 0 || write(sfd, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			n = read(sfd, buf, sizeof(buf));
			if (n <= 0)
				break;
			strip(buf, n);
			if (write(cfd, buf, (size_t)n) != n)
				break;
		}
	}
out:
	close(sfd);
	close(cfd);
	return NULL;
}

static gpointer mitm_main(gpointer arg)
{
	int lfd = GPOINTER_TO_INT(arg);

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return NULL;
		g_thread_unref(
			g_thread_new("mitm", mitm_conn, GINT_TO_POINTER(fd)));
	}
}

static void mitm_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons((uint16_t)mx_port);
	g_assert_cmpint(inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr), ==, 1);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 16), ==, 0);
	g_thread_unref(g_thread_new("mitm", mitm_main, GINT_TO_POINTER(fd)));
}

/* ---- nsd ----------------------------------------------------------- */

static guint free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	guint port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* one SOA query for dane.test over UDP until an authoritative answer
 * comes, or secs pass */
static bool nsd_answers(guint port, double secs)
{
	static const unsigned char q[] = {
		0x52, 0x4d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 4,	'd',  'a',  'n',  'e',	4,
		't',  'e',  's',  't',	0,    0x00, 0x06, 0x00, 0x01};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	gint64 end = g_get_monotonic_time() + (gint64)(secs * 1e6);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	g_assert_cmpint(fd, >=, 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!ok && g_get_monotonic_time() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		unsigned char a[512];
		ssize_t n;

		(void)sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sa,
			     sizeof(sa));
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, a, sizeof(a), 0);
		/* our id, a response, authoritative, NOERROR */
		ok = n >= 12 && a[0] == q[0] && a[1] == q[1] &&
		     (a[2] & 0x84) == 0x84 && (a[3] & 0x0f) == 0;
		if (!ok)
			g_usleep(50000);
	}
	close(fd);
	return ok;
}

/* nsd goes with the test, however the test ends */
static void die_with_parent(gpointer arg)
{
	(void)arg;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void nsd_start(const char *src)
{
	char *script = g_build_filename(src, "tests", "unit", "core_submit",
					"dane_zone.sh", NULL);
	char *port = g_strdup_printf("%u", dns_port);
	char *conf = path_of("nsd.conf");
	const char *prep[] = {"sh", script, dir, port, NULL};
	const char *run[] = {"nsd", "-d", "-c", conf, NULL};
	GError *gerr = NULL;
	gint status = -1;

	g_assert_true(g_spawn_sync(NULL, (char **)prep, NULL,
				   G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
				   &status, &gerr));
	g_assert_no_error(gerr);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(
		g_spawn_async(NULL, (char **)run, NULL,
			      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			      die_with_parent, NULL, &nsd_pid, &gerr));
	g_assert_no_error(gerr);
	/* up when it answers for its zone.  A TCP connect was not enough:
	 * nsd's parent binds the ports before its server process has
	 * loaded the zones, so under load the first test's look-ups could
	 * sit unanswered past the resolver's timeout ("MX look-up
	 * failed"), 2 runs in 8 with 4 at once on 2 cores */
	g_assert_true(nsd_answers(dns_port, 30));
	g_free(conf);
	g_free(port);
	g_free(script);
}

int main(int argc, char **argv)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");
	struct rmail_err err;
	char *cert, *key;
	int rc;

	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_assert_nonnull(src);
	dir = g_dir_make_tmp("rmail-dane-XXXXXX", NULL);
	g_assert_nonnull(dir);
	dns_port = free_port();
	nsd_start(src);
	cert = path_of("mx.chain.pem");
	key = path_of("mx.key");
	mx_port = sink_start_tls(cert, key, NULL, NULL);
	g_free(cert);
	g_free(key);
	cert = path_of("other.chain.pem");
	key = path_of("other.key");
	other_port = sink_start_tls(cert, key, NULL, NULL);
	g_free(cert);
	g_free(key);
	cert = path_of("mx.chain.pem");
	key = path_of("mx.key");
	rt_port = sink_start_tls_rt(cert, key);
	g_free(cert);
	g_free(key);
	mitm_start();
	rm_smtp_mx_port = (int)mx_port;
	rm_smtp_timeout = 5;
	/* this thread is the loop: the resolver's answers run on it while
	 * the queue pass waits (rm_dns_resolve_wait) */
	g_assert_cmpint(rm_loop_init(), ==, 0);
	load("");
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	g_test_add_func("/dane/ee", test_dane_ee);
	g_test_add_func("/dane/dsn", test_dane_dsn);
	g_test_add_func("/dane/mismatch", test_dane_mismatch);
	g_test_add_func("/dane/bogus", test_dane_bogus);
	g_test_add_func("/dane/ta", test_dane_ta);
	g_test_add_func("/dane/ta_name", test_dane_ta_name);
	g_test_add_func("/dane/insecure", test_insecure);
	g_test_add_func("/dane/secure_no_tlsa", test_secure_no_tlsa);
	g_test_add_func("/mitm/dane", test_strip_dane);
	g_test_add_func("/mitm/plain", test_strip_plain);
	g_test_add_func("/relay/verify", test_relay_verify);
	g_test_add_func("/relay/wrong_name", test_relay_wrong_name);
	g_test_add_func("/relay/untrusted", test_relay_untrusted);
	g_test_add_func("/relay/encrypt", test_relay_encrypt);
	g_test_add_func("/route/object", test_route_object);
	g_test_add_func("/route/config", test_route_config);
	g_test_add_func("/requiretls/delivered", test_rt_delivered);
	g_test_add_func("/requiretls/peer_lacks", test_rt_peer_lacks);
	g_test_add_func("/requiretls/insecure_mx", test_rt_insecure_mx);
	g_test_add_func("/requiretls/pkix", test_rt_pkix);
	g_test_add_func("/requiretls/tls_required_no", test_tls_required_no);
	g_test_add_func("/requiretls/tls_required_no_rt",
			test_tls_required_no_rt);
	rc = g_test_run();
	kill(nsd_pid, SIGTERM);
	(void)waitpid(nsd_pid, NULL, 0);
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			rc = rc ? rc : 1;
		g_free(cmd);
	}
	rm_conf_set(NULL);
	rm_config_free(&current);
	return rc;
}
