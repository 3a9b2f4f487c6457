/*
 * The inbound mail-authentication stage end to end: the real daemon
 * with mod_smtp and mod_shardstore, its resolver forwarding to the
 * in-process test DNS server.  Each case sends one message on port 25
 * (or an authenticated one on 465), then reads the reply and the
 * stored copy: which mailbox, and what Authentication-Results says.
 */
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "dnsd.h"
#include "harness.h"
#include "mailauth/dkim.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define ALICE "alice@" DOM
#define PW "secret-pw"
#define AUTHSERV "mx.rmail.test"

static struct rmh *H;
static struct rm_dnsd *D;
static struct dkim_signkey *KEY;

static const char zone_fmt[] =
	"pass.test TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
	"_dmarc.pass.test TXT \"v=DMARC1; p=reject\"\n"
	"rej.test TXT \"v=spf1 -all\"\n"
	"_dmarc.rej.test TXT \"v=DMARC1; p=reject; "
	"rua=mailto:dmarc@rej.test\"\n"
	"quar.test TXT \"v=spf1 -all\"\n"
	"_dmarc.quar.test TXT \"v=DMARC1; p=quarantine\"\n"
	"none.test TXT \"v=spf1 -all\"\n"
	"_dmarc.none.test TXT \"v=DMARC1; p=none\"\n"
	"fail.test TXT \"v=spf1 -all\"\n"
	"nospf.test A 192.0.2.1\n"
	"tmp.test SERVFAIL\n"
	"_dmarc.tmp.test SERVFAIL\n"
	"rep.test TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
	"_dmarc.rep.test TXT \"v=DMARC1; p=none; "
	"rua=mailto:dmarc@rep.test\"\n"
	"rpt.test TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
	"_dmarc.rpt.test TXT \"v=DMARC1; p=none; "
	"rua=mailto:dmarc@rpt.test\"\n"
	"sig.test TXT \"v=spf1 -all\"\n"
	"_dmarc.sig.test TXT \"v=DMARC1; p=none\"\n"
	"sel._domainkey.sig.test TXT \"v=DKIM1; k=rsa; p=%s\"\n";

static char *reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = reply(c);
	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("%s: expected \"%s\", got \"%s\"", line, prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

/* one transaction; the final reply, g_free'd by the caller */
static char *send_msg(bool auth, const char *mail_from, const char *msg)
{
	struct rmh_conn *c;
	char *l, *line;

	c = auth ? rmh_connect(rmh_port(H, "smtps"), true)
		 : rmh_connect(rmh_port(H, "smtp"), false);
	g_assert_nonnull(c);
	g_free(reply(c));
	cmd(c, "250 ", "EHLO client.test");
	if (auth) {
		GString *s = g_string_new(NULL);
		char *b;

		g_string_append_c(s, '\0');
		g_string_append(s, ALICE);
		g_string_append_c(s, '\0');
		g_string_append(s, PW);
		b = g_base64_encode((const guchar *)s->str, s->len);
		line = g_strdup_printf("AUTH PLAIN %s", b);
		cmd(c, "235 ", line);
		g_free(line);
		g_free(b);
		g_string_free(s, TRUE);
	}
	line = g_strdup_printf("MAIL FROM:<%s>", mail_from);
	cmd(c, "250 ", line);
	g_free(line);
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = reply(c);
	g_assert_nonnull(l);
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
	return l;
}

/* the stored copy whose body holds tag: its text, and *path_r */
static char *find_stored(const char *dir, const char *tag, char **path_r)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	char *found = NULL;

	if (d == NULL)
		return NULL;
	while (found == NULL && (e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *text = NULL;
		gsize len;

		if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
			found = find_stored(p, tag, path_r);
		} else if (g_str_has_suffix(e, ".eml") &&
			   g_file_get_contents(p, &text, &len, NULL) &&
			   strstr(text, tag) != NULL) {
			found = text;
			text = NULL;
			*path_r = g_strdup(p);
		}
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
	return found;
}

static char *stored(const char *tag, char **path_r)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", NULL);
	char *t = find_stored(dir, tag, path_r);

	g_free(dir);
	return t;
}

/* the header block of a stored message */
static char *header_of(const char *text)
{
	const char *e = strstr(text, "\r\n\r\n");

	return g_strndup(text,
			 e != NULL ? (gsize)(e - text + 2) : strlen(text));
}

/* our Authentication-Results field, unfolded */
static char *our_authres(const char *hdr)
{
	const char *p = strstr(hdr, "Authentication-Results: " AUTHSERV ";");
	GString *s;

	if (p == NULL)
		return NULL;
	s = g_string_new(NULL);
	for (;;) {
		const char *eol = strstr(p, "\r\n");

		g_string_append_len(s, p, eol - p);
		p = eol + 2;
		if (*p != ' ' && *p != '\t')
			break;
		while (*p == ' ' || *p == '\t')
			p++;
		g_string_append_c(s, ' ');
	}
	return g_string_free(s, FALSE);
}

static guint counter;

static char *message(const char *from, const char *tag, const char *extra)
{
	return g_strdup_printf("From: <%s>\r\nTo: <" BOB ">\r\n"
			       "Subject: case %s\r\n%s"
			       "Message-ID: <%s.%u@client.test>\r\n\r\n"
			       "body %s\r\nsecond line\r\n",
			       from, tag, extra ? extra : "", tag, counter++,
			       tag);
}

static char *sign(const char *msg)
{
	const struct dkim_signkey *keys[] = {KEY};
	struct dkim_signer *s = dkim_signer_new(keys, 1, NULL);
	char *sig, *out;

	dkim_signer_feed(s, msg, strlen(msg));
	sig = dkim_signer_finish(s, (int64_t)time(NULL));
	g_assert_nonnull(sig);
	out = g_strconcat(sig, msg, NULL);
	free(sig);
	dkim_signer_free(s);
	return out;
}

struct icase {
	const char *name;
	const char *mail_from, *from;
	bool dkim;		/* signed by sig.test */
	bool alter;		/* body changed after signing */
	const char *extra;	/* header lines before signing */
	const char *want;	/* reply prefix */
	const char *mailbox;	/* "INBOX", "Junk", NULL: nothing stored */
	const char *const *has; /* in our A-R */
};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct icase cases[] = {
	{"spf-pass", "a@pass.test", "a@pass.test", false, false, NULL, "250 ",
	 "INBOX",
	 L("spf=pass smtp.mailfrom=a@pass.test", "dkim=none", "dmarc=pass",
	   "header.from=pass.test")},
	{"dmarc-reject", "a@rej.test", "a@rej.test", false, false, NULL,
	 "550 5.7.1", NULL, L(NULL)},
	{"dmarc-quarantine", "a@quar.test", "a@quar.test", false, false, NULL,
	 "250 ", "Junk",
	 L("spf=fail smtp.mailfrom=a@quar.test", "dmarc=fail",
	   "header.from=quar.test")},
	{"dmarc-none", "a@none.test", "a@none.test", false, false, NULL, "250 ",
	 "INBOX",
	 L("spf=fail smtp.mailfrom=a@none.test", "dmarc=fail",
	   "header.from=none.test")},
	{"spf-none", "a@nospf.test", "a@nospf.test", false, false, NULL, "250 ",
	 "INBOX", L("spf=none", "dmarc=none")},
	{"spf-temperror", "a@tmp.test", "a@tmp.test", false, false, NULL,
	 "250 ", "INBOX", L("spf=temperror", "dmarc=temperror")},
	{"spf-fail-no-dmarc", "a@fail.test", "a@fail.test", false, false, NULL,
	 "550 5.7.23", NULL, L(NULL)},
	{"dkim-pass", "a@sig.test", "a@sig.test", true, false, NULL, "250 ",
	 "INBOX",
	 L("spf=fail", "dkim=pass", "header.d=sig.test", "header.s=sel",
	   "dmarc=pass", "header.from=sig.test")},
	{"dkim-fail", "a@sig.test", "a@sig.test", true, true, NULL, "250 ",
	 "INBOX", L("dkim=fail", "header.d=sig.test", "dmarc=fail")},
	{"local-from", "a@nospf.test", "ceo@" DOM, false, false, NULL,
	 "550 5.7.1", NULL, L(NULL)},
	{"forged-authres", "a@pass.test", "a@pass.test", false, false,
	 "Authentication-Results: " AUTHSERV "; spf=pass "
	 "smtp.mailfrom=forged@rej.test\r\n"
	 "Authentication-Results: other.example; dkim=pass header.d=x.test\r\n",
	 "250 ", "INBOX", L("spf=pass smtp.mailfrom=a@pass.test")},
};

static void run_case(gconstpointer data)
{
	const struct icase *t = data;
	char *tag = g_strdup_printf("tag-%s-%u", t->name, counter);
	char *msg = message(t->from, tag, t->extra), *l, *path = NULL, *text;

	if (t->dkim) {
		char *s = sign(msg);

		g_free(msg);
		msg = s;
		if (t->alter)
			*strstr(msg, "second line") = 'S';
	}
	l = send_msg(false, t->mail_from, msg);
	g_test_message("%s: %s", t->name, l);
	g_assert_true(g_str_has_prefix(l, t->want));
	text = stored(tag, &path);
	if (t->mailbox == NULL) {
		g_assert_null(text);
	} else {
		char *hdr, *ar;

		g_assert_nonnull(text);
		g_test_message("stored in %s", path);
		if (strcmp(t->mailbox, "Junk") == 0)
			g_assert_nonnull(strstr(path, "Junk"));
		else
			g_assert_null(strstr(path, "Junk"));
		hdr = header_of(text);
		ar = our_authres(hdr);
		g_assert_nonnull(ar);
		g_test_message("%s", ar);
		for (const char *const *h = t->has; *h != NULL; h++)
			if (strstr(ar, *h) == NULL)
				g_error("%s: \"%s\" not in \"%s\"", t->name, *h,
					ar);
		/* exactly one field with our id, and it is at the top
		 * (under Return-Path) */
		g_assert_null(strstr(
			strstr(hdr, "Authentication-Results: " AUTHSERV) + 1,
			"Authentication-Results: " AUTHSERV));
		g_assert_true(g_str_has_prefix(
			strstr(hdr, "\r\n") + 2,
			"Authentication-Results: " AUTHSERV ";"));
		g_assert_null(strstr(hdr, "forged@rej.test"));
		if (t->extra != NULL)
			g_assert_nonnull(strstr(
				hdr, "Authentication-Results: other.example; "
				     "dkim=pass header.d=x.test"));
		g_free(ar);
		g_free(hdr);
	}
	g_free(text);
	g_free(path);
	g_free(l);
	g_free(msg);
	g_free(tag);
}

/* RECEIPT and DELIVERY filters see the results (ABI 1.3 fields): the
 * fixture filter adds them as a header at RECEIPT and refuses with them
 * at DELIVERY */
static void test_filter_fields(void)
{
	char *msg =
		message("a@pass.test", "tag-filter", "X-Test: mailauth\r\n");
	char *l = send_msg(false, "a@pass.test", msg);

	g_test_message("%s", l);
	g_assert_true(g_str_has_prefix(
		l, "550 5.7.1 spf=pass dmarc=pass disp=none from=pass.test "
		   "ar=" AUTHSERV "; spf=pass"));
	g_free(l);
	g_free(msg);
}

/* an authenticated submission is exempt: no Authentication-Results
 * (and a forged one stays the sender's business, untouched) */
static void test_submission(void)
{
	char *msg = message(ALICE, "tag-submission", NULL);
	char *l = send_msg(true, ALICE, msg), *path = NULL, *text;

	g_assert_true(g_str_has_prefix(l, "250 "));
	text = stored("tag-submission", &path);
	g_assert_nonnull(text);
	g_assert_null(strstr(text, "Authentication-Results"));
	g_free(text);
	g_free(path);
	g_free(l);
	g_free(msg);
}

/* is `domain` in the aggregate-report data of the mail root */
static gboolean recorded(const char *domain)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", "dmarc", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	gboolean seen = FALSE;

	while (d != NULL && (e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *t = NULL;

		if (g_file_get_contents(p, &t, NULL, NULL) &&
		    strstr(t, domain) != NULL)
			seen = TRUE;
		g_free(t);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(dir);
	return seen;
}

/* An aggregate report someone sends us (null sender, the RFC 7489
 * subject) is delivered but not recorded: reports about reports would
 * loop between receivers.  The same domain's ordinary mail is. */
static void test_report_not_recorded(void)
{
	char *m = g_strdup_printf(
		"From: <noreply-dmarc@rpt.test>\r\nTo: <" BOB ">\r\n"
		"Subject: Report Domain: example.test Submitter: rpt.test "
		"Report-ID: <1@rpt.test>\r\nMessage-ID: <r%u@rpt.test>\r\n"
		"\r\nreport\r\n",
		counter++);
	char *l = send_msg(false, "", m);

	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_free(m);
	g_assert_false(recorded("rpt.test"));
	m = message("a@rep.test", "ordinary-report-domain", NULL);
	l = send_msg(false, "a@rep.test", m);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_free(m);
	g_assert_true(recorded("rep.test"));
}

/* the rua= domain's evaluation was recorded for the aggregate report */
static void test_report_data(void)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", "dmarc", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	gboolean seen = FALSE;

	g_assert_nonnull(d);
	while ((e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *t = NULL;

		if (g_file_get_contents(p, &t, NULL, NULL) &&
		    strstr(t, "rej.test") != NULL)
			seen = TRUE;
		g_free(t);
		g_free(p);
	}
	g_dir_close(d);
	g_assert_true(seen);
	g_free(dir);
}

static char *make_key(void)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char *pem, *pub;
	long n;
	int dl;

	g_assert_nonnull(pk);
	g_assert_true(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL,
					       NULL) == 1);
	n = BIO_get_mem_data(b, &pem);
	KEY = dkim_signkey_load_pem("sig.test", "sel", pem, (size_t)n);
	g_assert_nonnull(KEY);
	dl = i2d_PUBKEY(pk, &der);
	g_assert_cmpint(dl, >, 0);
	pub = g_base64_encode(der, (gsize)dl);
	OPENSSL_free(der);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return pub;
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", "-c", NULL, "user", "add", NULL, "--password-stdin",
		NULL};
	char *out = NULL, *errs = NULL, *pub, *zone, err[256];
	int rc;

	g_test_init(&argc, &argv, NULL);
	pub = make_key();
	zone = g_strdup_printf(zone_fmt, pub);
	D = rm_dnsd_start(zone, err, sizeof(err));
	if (D == NULL)
		g_error("dnsd: %s", err);
	H = rmh_new();
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_fxfilter\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(H, "smtp"), rmh_port(H, "smtps"));
	rmh_setf(H, "dns",
		 "{\"forwarders\": [\"127.0.0.1@%u\"], \"trust_anchor\": null, "
		 "\"timeout_ms\": 1500}",
		 rm_dnsd_port(D));
	rmh_set(H, "mailauth", "{\"authserv_id\": \"" AUTHSERV "\"}");
	rmh_set(H, "spf", "{\"reject_fail\": true}");
	rmh_write_config(H);
	user_add[2] = rmh_config_path(H);
	for (int i = 0; i < 2; i++) {
		user_add[5] = i == 0 ? ALICE : BOB;
		rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
		g_assert_cmpint(rc, ==, 0);
		g_free(out);
		g_free(errs);
	}
	g_assert_true(rmh_start(H));

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *n =
			g_strdup_printf("/mailauth/inbound/%s", cases[i].name);

		g_test_add_data_func(n, &cases[i], run_case);
		g_free(n);
	}
	g_test_add_func("/mailauth/inbound/submission", test_submission);
	g_test_add_func("/mailauth/inbound/filter-fields", test_filter_fields);
	g_test_add_func("/mailauth/inbound/report-data", test_report_data);
	g_test_add_func("/mailauth/inbound/report-not-recorded",
			test_report_not_recorded);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	rm_dnsd_stop(D);
	dkim_signkey_free(KEY);
	g_free(zone);
	g_free(pub);
	return rc;
}
