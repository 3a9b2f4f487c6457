/*
 * mod_exchange end to end, the mail paths: attachment download with
 * hostile file names, /api/send with attachments, cc and bcc, quota on
 * send and append, and tokens ended by a password change or a disable.
 * The real daemon (mod_shardstore + mod_exchange) on a loopback port.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define PW "secret-pw"

static struct rmh *H;
static unsigned PORT;

static void user_cmd(const char *input, ...) G_GNUC_NULL_TERMINATED;
static void user_cmd(const char *input, ...)
{
	const char *argv[16] = {"rmail", "-c", rmh_config_path(H), "user"};
	char *out = NULL, *err = NULL;
	size_t n = 4;
	va_list ap;
	int rc;

	va_start(ap, input);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = rmh_run_argv(H, argv, input, &out, &err);
	if (rc != 0)
		g_test_message("rmail user %s: %s", argv[4], err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

static char *login(const char *user, const char *pw)
{
	int st;
	char *t = ex_login(PORT, false, NULL, user, pw, NULL, &st);

	g_assert_cmpint(st, ==, 200);
	return t;
}

static struct exresp get(const char *path, const char *tok)
{
	return ex_req(PORT, false, NULL, "GET", path, tok, NULL, NULL);
}

static struct exresp post(const char *path, const char *tok, const char *b)
{
	return ex_req(PORT, false, NULL, "POST", path, tok, b, NULL);
}

static int append(const char *tok, const char *folder, const char *msg,
		  size_t len, struct exresp *r_out)
{
	struct exhc *c = exhc_connect(PORT, false, NULL);
	char *path = g_strdup_printf("/api/folders/%s/messages", folder);
	struct exresp r = exhc_req(c, "POST", path, tok, "message/rfc822", msg,
				   len, NULL);
	int st = r.status;

	exhc_close(c);
	g_free(path);
	if (r_out != NULL)
		*r_out = r;
	else
		exresp_free(&r);
	return st;
}

/* total of a folder, -1 when it is not listed */
static long folder_total(const char *tok, const char *name)
{
	struct exresp r = get("/api/folders", tok);
	json_t *j, *f;
	size_t i;
	long total = -1;

	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	json_array_foreach(
		json_object_get(j, "folders"), i,
		f) if (strcmp(json_string_value(json_object_get(f, "name")),
			      name) == 0) total =
		(long)json_integer_value(json_object_get(f, "total"));
	json_decref(j);
	exresp_free(&r);
	return total;
}

/* the newest message of INBOX as JSON (json_decref) */
static json_t *newest(const char *tok, const char *folder)
{
	char *p =
		g_strdup_printf("/api/folders/%s/messages?per_page=1", folder);
	struct exresp r = get(p, tok);
	json_t *j, *m;
	long uid;

	g_free(p);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	exresp_free(&r);
	m = json_array_get(json_object_get(j, "messages"), 0);
	g_assert_nonnull(m);
	uid = (long)json_integer_value(json_object_get(m, "uid"));
	json_decref(j);
	p = g_strdup_printf("/api/folders/%s/messages/%ld", folder, uid);
	r = get(p, tok);
	g_free(p);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	exresp_free(&r);
	return j;
}

/* the filename="..." value of a Content-Disposition (g_free) */
static char *cd_filename(const char *cd)
{
	const char *p = strstr(cd, "filename=\""), *e;

	g_assert_nonnull(p);
	p += 10;
	e = strchr(p, '"');
	g_assert_nonnull(e);
	return g_strndup(p, (gsize)(e - p));
}

static void assert_safe_name(const char *fn)
{
	size_t i;

	g_assert_cmpuint(strlen(fn), >, 0);
	g_assert_cmpint(fn[0], !=, '.');
	for (i = 0; fn[i] != '\0'; i++) {
		unsigned char c = (unsigned char)fn[i];

		g_assert_true(c >= 0x20 && c < 0x7f);
		g_assert_null(strchr("/\\\"", c));
	}
}

static const unsigned char BIN[] = "%PDF-1.4\n\0\x01\x02\xff\xfe\r\nend";

static void test_attachments(void)
{
	char *t = login("bob@" DOM, PW), *b64, *cd, *fn, *path;
	GString *m = g_string_new(NULL);
	json_t *j, *atts, *a;
	struct exresp r;
	const char *want_ct[3] = {"application/pdf", "text/plain",
				  "text/plain"};
	long parts[3];
	long uid;
	size_t i;

	b64 = g_base64_encode(BIN, sizeof(BIN) - 1);
	g_string_append_printf(
		m,
		"From: a@" DOM "\r\nTo: bob@" DOM "\r\nSubject: atts\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		"body text\r\n"
		"--b1\r\nContent-Type: application/pdf\r\n"
		"Content-Disposition: attachment; "
		"filename=\"../..\\\\evil\\\".pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
		"--b1\r\nContent-Type: text/plain\r\n"
		"Content-Disposition: attachment; "
		"filename*=UTF-8''a%%0D%%0AX-Evil%%3A%%201.txt\r\n\r\n"
		"plain\r\n"
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Disposition: attachment; "
		"filename*=UTF-8''%%C3%%A9t%%C3%%A9.txt\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"caf=C3=A9\r\n--b1--\r\n",
		b64);
	g_free(b64);
	g_assert_cmpint(append(t, "INBOX", m->str, m->len, NULL), ==, 201);
	g_string_free(m, TRUE);
	j = newest(t, "INBOX");
	g_assert_cmpstr(json_string_value(json_object_get(j, "subject")), ==,
			"atts");
	uid = (long)json_integer_value(json_object_get(j, "uid"));
	atts = json_object_get(j, "attachments");
	g_assert_cmpuint(json_array_size(atts), ==, 3);
	json_array_foreach(atts, i, a)
	{
		parts[i] = (long)json_integer_value(json_object_get(a, "part"));
		g_assert_cmpstr(
			json_string_value(json_object_get(a, "content_type")),
			==, want_ct[i]);
	}
	g_assert_cmpint(json_integer_value(json_object_get(
				json_array_get(atts, 0), "size")),
			>, 0);
	json_decref(j);

	/* binary bytes decoded from base64, path separators and quotes */
	path = g_strdup_printf("/api/folders/INBOX/messages/%ld/attachments/"
			       "%ld",
			       uid, parts[0]);
	r = get(path, t);
	g_free(path);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_cmpuint(r.body_len, ==, sizeof(BIN) - 1);
	g_assert_true(memcmp(r.body, BIN, r.body_len) == 0);
	cd = exresp_header(&r, "Content-Type");
	g_assert_cmpstr(cd, ==, "application/pdf");
	g_free(cd);
	cd = exresp_header(&r, "Content-Disposition");
	g_assert_nonnull(cd);
	g_assert_true(g_str_has_prefix(cd, "attachment; filename=\""));
	fn = cd_filename(cd);
	assert_safe_name(fn);
	g_assert_nonnull(strstr(fn, "evil"));
	g_assert_true(g_str_has_suffix(fn, ".pdf"));
	g_assert_null(strstr(cd, "filename*"));
	g_free(fn);
	g_free(cd);
	exresp_free(&r);

	/* CR/LF in the name must not become a header */
	path = g_strdup_printf("/api/folders/INBOX/messages/%ld/attachments/"
			       "%ld",
			       uid, parts[1]);
	r = get(path, t);
	g_free(path);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_null(strstr(r.head, "\r\nX-Evil"));
	g_assert_true(g_str_has_prefix(r.body, "plain"));
	cd = exresp_header(&r, "Content-Disposition");
	fn = cd_filename(cd);
	assert_safe_name(fn);
	g_assert_nonnull(strstr(fn, "X-Evil"));
	g_free(fn);
	g_free(cd);
	exresp_free(&r);

	/* non-ASCII: an ASCII fallback and RFC 6266 filename* */
	path = g_strdup_printf("/api/folders/INBOX/messages/%ld/attachments/"
			       "%ld",
			       uid, parts[2]);
	r = get(path, t);
	g_free(path);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_true(g_str_has_prefix(r.body, "caf\xc3\xa9"));
	cd = exresp_header(&r, "Content-Disposition");
	fn = cd_filename(cd);
	assert_safe_name(fn);
	g_assert_true(g_str_has_suffix(fn, ".txt"));
	g_assert_nonnull(strstr(cd, "; filename*=UTF-8''%C3%A9t%C3%A9.txt"));
	g_free(fn);
	g_free(cd);
	exresp_free(&r);

	/* bad parts: 404 */
	{
		const char *bad[] = {"0", "99", "x", "-1", "1x"};

		for (i = 0; i < G_N_ELEMENTS(bad); i++) {
			path = g_strdup_printf("/api/folders/INBOX/messages/"
					       "%ld/attachments/%s",
					       uid, bad[i]);
			r = get(path, t);
			g_free(path);
			g_assert_cmpint(r.status, ==, 404);
			exresp_free(&r);
		}
	}
	r = get("/api/folders/INBOX/messages/9999/attachments/2", t);
	g_assert_cmpint(r.status, ==, 404);
	exresp_free(&r);
	g_free(t);
}

static void test_send_attachments(void)
{
	char *b = login("bob@" DOM, PW), *a = login("alice@" DOM, PW);
	char *h = login("hank@" DOM, PW), *path;
	json_t *j, *att;
	struct exresp r;
	long sent0 = folder_total(b, "Sent");

	g_assert_cmpint(sent0, >=, 0);
	r = post("/api/send", b,
		 "{\"to\":[\"alice@" DOM "\"],\"subject\":"
		 "\"x\",\"text\":\"y\",\"attachments\":[{\"filename\":"
		 "\"a.bin\",\"content_base64\":\"!!!not base64\"}]}");
	g_assert_cmpint(r.status, ==, 400);
	exresp_free(&r);
	r = post("/api/send", b,
		 "{\"to\":[\"alice@" DOM "\"],\"subject\":"
		 "\"x\",\"text\":\"y\",\"attachments\":[{\"filename\":"
		 "\"a.bin\",\"content_base64\":\"aGVsbG8=x\"}]}");
	g_assert_cmpint(r.status, ==, 400);
	exresp_free(&r);
	r = post("/api/send", b,
		 "{\"to\":[\"alice@" DOM "\"],"
		 "\"cc\":[{\"name\":\"Gina G\",\"address\":\"gina@" DOM "\"}],"
		 "\"bcc\":[\"hank@" DOM "\"],\"subject\":\"with attachment\","
		 "\"text\":\"see attached\",\"attachments\":[{\"filename\":"
		 "\"notes.txt\",\"content_type\":\"text/plain\","
		 "\"content_base64\":\"aGVsbG8gd29ybGQ=\"}]}");
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	g_assert_cmpuint(json_array_size(json_object_get(j, "sent")), ==, 3);
	g_assert_cmpuint(json_array_size(json_object_get(j, "failed")), ==, 0);
	json_decref(j);
	exresp_free(&r);

	/* the recipient's copy: cc kept, bcc gone, the attachment whole */
	j = newest(a, "INBOX");
	g_assert_cmpstr(json_string_value(json_object_get(j, "subject")), ==,
			"with attachment");
	g_assert_cmpstr(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "cc"), 0),
				"address")),
			==, "gina@" DOM);
	att = json_array_get(json_object_get(j, "attachments"), 0);
	g_assert_nonnull(att);
	g_assert_cmpstr(json_string_value(json_object_get(att, "filename")), ==,
			"notes.txt");
	path = g_strdup_printf(
		"/api/folders/INBOX/messages/%" JSON_INTEGER_FORMAT
		"/attachments/%" JSON_INTEGER_FORMAT,
		json_integer_value(json_object_get(j, "uid")),
		json_integer_value(json_object_get(att, "part")));
	r = get(path, a);
	g_free(path);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_cmpstr(r.body, ==, "hello world");
	exresp_free(&r);
	path = g_strdup_printf(
		"/api/folders/INBOX/messages/%" JSON_INTEGER_FORMAT
		"?format=raw",
		json_integer_value(json_object_get(j, "uid")));
	r = get(path, a);
	g_free(path);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\r\nCc: "));
	g_assert_null(strstr(r.body, "Bcc"));
	g_assert_null(strstr(r.body, "hank@"));
	exresp_free(&r);
	json_decref(j);
	/* the bcc recipient got it too, and the sender keeps a copy */
	j = newest(h, "INBOX");
	g_assert_cmpstr(json_string_value(json_object_get(j, "subject")), ==,
			"with attachment");
	json_decref(j);
	g_assert_cmpint(folder_total(b, "Sent"), ==, sent0 + 1);
	j = newest(b, "Sent");
	g_assert_cmpstr(json_string_value(json_object_get(j, "subject")), ==,
			"with attachment");
	json_decref(j);
	g_free(a);
	g_free(b);
	g_free(h);
}

/* a message of about kb KiB */
static GString *big_msg(const char *to, size_t kb)
{
	GString *m = g_string_new(NULL);

	g_string_append_printf(m,
			       "From: x@" DOM "\r\nTo: %s\r\n"
			       "Subject: filler\r\n\r\n",
			       to);
	while (m->len < kb * 1024)
		g_string_append(m, "0123456789012345678901234567890123456789"
				   "0123456789012345678901234567890123456\r\n");
	return m;
}

/* a send request with an attachment of kb KiB (free it) */
static char *send_body(const char *to_json, const char *subject, size_t kb)
{
	guchar *raw = g_malloc(kb * 1024);
	char *b64, *s;

	memset(raw, 'q', kb * 1024);
	b64 = g_base64_encode(raw, kb * 1024);
	s = g_strdup_printf("{\"to\":%s,\"subject\":\"%s\",\"text\":\"t\","
			    "\"attachments\":[{\"filename\":\"f.bin\","
			    "\"content_base64\":\"%s\"}]}",
			    to_json, subject, b64);
	g_free(raw);
	g_free(b64);
	return s;
}

static void test_append_quota(void)
{
	char *t = login("erin@" DOM, PW);
	GString *m = big_msg("erin@" DOM, 1200);
	struct exresp r;
	json_t *j;

	g_assert_cmpint(
		append(t, "INBOX", "Subject: s\r\n\r\nsmall\r\n", 21, NULL), ==,
		201);
	g_assert_cmpint(append(t, "INBOX", m->str, m->len, &r), ==, 413);
	j = exresp_json(&r);
	g_assert_cmpstr(json_string_value(json_object_get(j, "error")), ==,
			"Quota exceeded");
	json_decref(j);
	exresp_free(&r);
	g_string_free(m, TRUE);
	/* filled close to the limit, one more small message is refused */
	m = big_msg("erin@" DOM, 1000);
	g_assert_cmpint(append(t, "INBOX", m->str, m->len, NULL), ==, 201);
	g_string_free(m, TRUE);
	m = big_msg("erin@" DOM, 60);
	g_assert_cmpint(append(t, "INBOX", m->str, m->len, NULL), ==, 413);
	g_string_free(m, TRUE);
	g_assert_cmpint(folder_total(t, "INBOX"), ==, 2);
	g_free(t);
}

static void test_send_sender_over_quota(void)
{
	char *c = login("carol@" DOM, PW), *a = login("alice@" DOM, PW), *s;
	GString *m = big_msg("carol@" DOM, 1000);
	struct exresp r;
	json_t *j;

	g_assert_cmpint(append(c, "INBOX", m->str, m->len, NULL), ==, 201);
	g_string_free(m, TRUE);
	s = send_body("[\"alice@" DOM "\"]", "from a full mailbox", 100);
	r = post("/api/send", c, s);
	g_free(s);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	g_assert_cmpuint(json_array_size(json_object_get(j, "sent")), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(j, "failed")), ==, 0);
	json_decref(j);
	exresp_free(&r);
	/* delivered, but no copy in the sender's Sent */
	j = newest(a, "INBOX");
	g_assert_cmpstr(json_string_value(json_object_get(j, "subject")), ==,
			"from a full mailbox");
	json_decref(j);
	g_assert_cmpint(folder_total(c, "Sent"), <=, 0);
	g_free(a);
	g_free(c);
}

static void test_send_recipient_over_quota(void)
{
	char *d = login("dave@" DOM, PW), *b = login("bob@" DOM, PW), *s;
	GString *m = big_msg("dave@" DOM, 1000);
	struct exresp r;
	json_t *j, *f;

	g_assert_cmpint(append(d, "INBOX", m->str, m->len, NULL), ==, 201);
	g_string_free(m, TRUE);
	s = send_body("[\"alice@" DOM "\",\"dave@" DOM "\"]", "to a full one",
		      100);
	r = post("/api/send", b, s);
	g_free(s);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	g_assert_cmpuint(json_array_size(json_object_get(j, "sent")), ==, 1);
	g_assert_cmpstr(json_string_value(
				json_array_get(json_object_get(j, "sent"), 0)),
			==, "alice@" DOM);
	f = json_array_get(json_object_get(j, "failed"), 0);
	g_assert_nonnull(f);
	g_assert_cmpstr(json_string_value(json_object_get(f, "address")), ==,
			"dave@" DOM);
	g_assert_nonnull(
		strstr(json_string_value(json_object_get(f, "error")), "uota"));
	json_decref(j);
	exresp_free(&r);
	g_assert_cmpint(folder_total(d, "INBOX"), ==, 1);
	g_free(b);
	g_free(d);
}

static void expect_folders(const char *tok, int status)
{
	struct exresp r = get("/api/folders", tok);

	g_assert_cmpint(r.status, ==, status);
	exresp_free(&r);
}

static void test_token_generation(void)
{
	char *t = login("frank@" DOM, PW), *t2;
	int st;

	expect_folders(t, 200);
	user_cmd("new-pw-123\n", "passwd", "frank@" DOM, "--password-stdin",
		 NULL);
	expect_folders(t, 401);
	t2 = login("frank@" DOM, "new-pw-123");
	expect_folders(t2, 200);
	user_cmd(NULL, "set", "frank@" DOM, "--disabled", "yes", NULL);
	expect_folders(t2, 401);
	g_assert_null(ex_login(PORT, false, NULL, "frank@" DOM, "new-pw-123",
			       NULL, &st));
	g_assert_cmpint(st, ==, 401);
	g_free(t);
	g_free(t2);
}

int main(int argc, char **argv)
{
	static const char *users[] = {"alice", "bob", "gina", "hank", "frank"};
	static const char *full[] = {"carol", "dave", "erin"};
	size_t i;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	PORT = rmh_port(H, "http");
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": []}",
		 PORT);
	rmh_write_config(H);
	for (i = 0; i < G_N_ELEMENTS(users); i++) {
		char *u = g_strdup_printf("%s@" DOM, users[i]);

		user_cmd(PW "\n", "add", u, "--password-stdin", NULL);
		g_free(u);
	}
	for (i = 0; i < G_N_ELEMENTS(full); i++) {
		char *u = g_strdup_printf("%s@" DOM, full[i]);

		user_cmd(PW "\n", "add", u, "--password-stdin", "--quota-mb",
			 "1", NULL);
		g_free(u);
	}
	g_assert_true(rmh_start(H));
	g_test_add_func("/exchange/mail/attachments", test_attachments);
	g_test_add_func("/exchange/mail/send_attachments",
			test_send_attachments);
	g_test_add_func("/exchange/mail/append_quota", test_append_quota);
	g_test_add_func("/exchange/mail/send_sender_over_quota",
			test_send_sender_over_quota);
	g_test_add_func("/exchange/mail/send_recipient_over_quota",
			test_send_recipient_over_quota);
	g_test_add_func("/exchange/mail/token_generation",
			test_token_generation);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
