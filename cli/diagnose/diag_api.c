/*
 * Phase 7: the Exchange API over HTTP (cleartext listener when there is
 * one: loopback logins are allowed there), as the diagnostic users.
 * The lockout check locks only the second diagnostic account, from a
 * loopback address of its own (127.0.0.2) so that the failures it
 * needs never count against 127.0.0.1, where real clients and the
 * core's per-IP AUTH limit live; it clears the lockout through the
 * control socket at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "diag_int.h"

#define LOCK_SRC "127.0.0.2"

struct api {
	struct diag *d;
	const char *ep;
	bool tls;
	char token[4096];
};

static int req(struct api *a, const char *method, const char *path,
	       const char *token, const char *extra, const char *body,
	       struct dg_http *r)
{
	char hdr[5000];

	snprintf(hdr, sizeof(hdr), "%s%s%s%s%s",
		 token != NULL ? "Authorization: Bearer " : "",
		 token != NULL ? token : "", token != NULL ? "\r\n" : "",
		 body != NULL && (extra == NULL ||
				  strcasestr(extra, "Content-Type") == NULL)
			 ? "Content-Type: application/json\r\n"
			 : "",
		 extra != NULL ? extra : "");
	return dg_http_req(a->ep, a->tls, method, path, hdr, body,
			   body != NULL ? strlen(body) : 0, r);
}

static json_t *body_json(const struct dg_http *r)
{
	json_error_t je;

	return json_loadb(r->body, r->body_len, 0, &je);
}

/* a token for addr (expires_in 0: the server's default); status */
static int login(struct api *a, const char *addr, const char *pw,
		 int expires_in, char *tok, size_t toksz)
{
	struct dg_http r;
	json_t *b = json_pack("{s:s, s:s}", "username", addr, "password", pw);
	char *s;
	int st;

	if (expires_in > 0)
		json_object_set_new(b, "expires_in", json_integer(expires_in));
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	req(a, "POST", "/api/login", NULL, NULL, s, &r);
	free(s);
	st = r.status;
	if (tok != NULL) {
		json_t *j = body_json(&r);
		const char *t = json_string_value(json_object_get(j, "token"));

		snprintf(tok, toksz, "%s", t != NULL ? t : "");
		json_decref(j);
	}
	dg_http_free(&r);
	return st;
}

static void discovery(struct api *a)
{
	struct diag *d = a->d;
	struct dg_http r;
	char path[512], body[800];

	snprintf(path, sizeof(path), "/mail/config-v1.1.xml?emailaddress=%s",
		 d->user);
	req(a, "GET", path, NULL, NULL, NULL, &r);
	dg_check(d,
		 r.status == 200 && strstr(r.body, "clientConfig") &&
				 strstr(r.body, "imap")
			 ? DG_PASS
			 : DG_FAIL,
		 "api.autoconfig", "GET /mail/config-v1.1.xml: %d", r.status);
	dg_http_free(&r);
	snprintf(body, sizeof(body),
		 "<?xml version=\"1.0\"?><Autodiscover "
		 "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/"
		 "outlook/requestschema/2006\"><Request><EMailAddress>%s"
		 "</EMailAddress><AcceptableResponseSchema>http://schemas."
		 "microsoft.com/exchange/autodiscover/outlook/responseschema/"
		 "2006a</AcceptableResponseSchema></Request></Autodiscover>",
		 d->user);
	req(a, "POST", "/autodiscover/autodiscover.xml", NULL,
	    "Content-Type: text/xml\r\n", body, &r);
	dg_check(d,
		 r.status == 200 && strstr(r.body, "<Protocol>") ? DG_PASS
								 : DG_FAIL,
		 "api.autodiscover", "POST /autodiscover/autodiscover.xml: %d",
		 r.status);
	dg_http_free(&r);
}

static int append_one(struct api *a, int i)
{
	struct dg_http r;
	char msg[1200];
	json_t *j;
	int uid;

	snprintf(msg, sizeof(msg),
		 "From: <%s>\r\nTo: <%s>\r\nSubject: "
		 "rmail diagnose %s api %d\r\n\r\nAPI check %d.\r\n",
		 a->d->user, a->d->user, a->d->tag, i, i);
	req(a, "POST", "/api/folders/INBOX/messages", a->token,
	    "Content-Type: message/rfc822\r\n", msg, &r);
	j = body_json(&r);
	uid = r.status == 201
		      ? (int)json_integer_value(json_object_get(j, "uid"))
		      : -r.status;
	json_decref(j);
	dg_http_free(&r);
	return uid;
}

static void messages(struct api *a)
{
	struct diag *d = a->d;
	struct dg_http r;
	char path[256], subj[96];
	json_t *j;
	int uid[3], i;
	size_t n1 = 0, n2 = 0;

	req(a, "GET", "/api/folders", a->token, NULL, NULL, &r);
	dg_check(d,
		 r.status == 200 && strstr(r.body, "\"INBOX\"") ? DG_PASS
								: DG_FAIL,
		 "api.folders", "GET /api/folders: %d", r.status);
	dg_http_free(&r);
	for (i = 0; i < 3; i++)
		uid[i] = append_one(a, i);
	dg_check(d, uid[0] > 0 && uid[1] > 0 && uid[2] > 0 ? DG_PASS : DG_FAIL,
		 "api.append",
		 "three messages/rfc822 POSTs: UIDs "
		 "%d %d %d",
		 uid[0], uid[1], uid[2]);
	if (uid[2] <= 0)
		return;
	snprintf(path, sizeof(path), "/api/folders/INBOX/messages/%d", uid[2]);
	snprintf(subj, sizeof(subj), "rmail diagnose %s api 2", d->tag);
	req(a, "GET", path, a->token, NULL, NULL, &r);
	dg_check(d, r.status == 200 && strstr(r.body, subj) ? DG_PASS : DG_FAIL,
		 "api.message", "GET %s: %d", path, r.status);
	dg_http_free(&r);
	snprintf(path, sizeof(path), "/api/folders/INBOX/messages/%d/flags",
		 uid[2]);
	req(a, "POST", path, a->token, NULL,
	    "{\"add\":[\"\\\\Seen\",\"\\\\Flagged\"]}", &r);
	dg_check(d,
		 r.status == 200 && strstr(r.body, "\\\\Flagged") ? DG_PASS
								  : DG_FAIL,
		 "api.flags", "POST %s: %d %.80s", path, r.status, r.body);
	dg_http_free(&r);
	req(a, "GET", "/api/folders/INBOX/messages?page=1&per_page=2", a->token,
	    NULL, NULL, &r);
	j = body_json(&r);
	n1 = json_array_size(json_object_get(j, "messages"));
	json_decref(j);
	dg_http_free(&r);
	req(a, "GET", "/api/folders/INBOX/messages?page=2&per_page=2", a->token,
	    NULL, NULL, &r);
	j = body_json(&r);
	n2 = json_array_size(json_object_get(j, "messages"));
	json_decref(j);
	dg_http_free(&r);
	dg_check(d, n1 == 2 && n2 >= 1 ? DG_PASS : DG_FAIL, "api.pagination",
		 "per_page=2: page 1 has %zu, page 2 has "
		 "%zu",
		 n1, n2);
}

static void send_and_errors(struct api *a)
{
	struct diag *d = a->d;
	struct dg_http r;
	char body[1024];
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"to\":[\"%s\"],\"subject\":\"rmail "
		 "diagnose %s api send\",\"text\":\"API send check.\"}",
		 d->user, d->tag);
	req(a, "POST", "/api/send", a->token, NULL, body, &r);
	j = body_json(&r);
	dg_check(d,
		 r.status == 200 &&
				 json_array_size(json_object_get(j, "sent")) ==
					 1 &&
				 json_array_size(
					 json_object_get(j, "failed")) == 0
			 ? DG_PASS
			 : DG_FAIL,
		 "api.send", "POST /api/send to itself: %d %.100s", r.status,
		 r.body);
	json_decref(j);
	dg_http_free(&r);
	req(a, "POST", "/api/login", NULL, NULL, "{not json", &r);
	dg_check(d, r.status == 400 ? DG_PASS : DG_FAIL, "api.bad_request",
		 "malformed JSON: %d", r.status);
	dg_http_free(&r);
}

static void cors(struct api *a)
{
	struct diag *d = a->d;
	json_t *l = dg_conf_get(d, "exchange_api", "cors_origins");
	const char *first = json_string_value(json_array_get(l, 0));
	const char *origin = first != NULL && strcmp(first, "*") != 0
				     ? first
				     : "https://rmail-diag.invalid";
	struct dg_http r;
	char hdr[600], acao[512];
	bool has;

	snprintf(hdr, sizeof(hdr),
		 "Origin: %s\r\nAccess-Control-Request-"
		 "Method: GET\r\nAccess-Control-Request-Headers: "
		 "Authorization\r\n",
		 origin);
	req(a, "OPTIONS", "/api/folders", NULL, hdr, NULL, &r);
	has = dg_http_header(&r, "Access-Control-Allow-Origin", acao,
			     sizeof(acao));
	dg_check(d, r.status >= 200 && r.status < 300 ? DG_PASS : DG_FAIL,
		 "api.options", "OPTIONS /api/folders: %d", r.status);
	if (first == NULL)
		dg_check(d, !has ? DG_PASS : DG_FAIL, "api.cors",
			 "cors_origins empty: %s",
			 has ? "Access-Control-Allow-Origin SENT"
			     : "no Access-Control-Allow-Origin");
	else
		dg_check(d,
			 has && (strcmp(acao, origin) == 0 ||
				 strcmp(acao, "*") == 0)
				 ? DG_PASS
				 : DG_FAIL,
			 "api.cors", "preflight from %s: %s", origin,
			 has ? acao : "NOT allowed");
	dg_http_free(&r);
}

static void aliases(struct api *a, const char *tok2)
{
	struct diag *d = a->d;
	struct dg_http r;
	char alias[RMAIL_ADDR_MAX], body[1024], path[600];

	req(a, "GET", "/api/aliases", tok2, NULL, NULL, &r);
	dg_check(d, r.status == 403 ? DG_PASS : DG_FAIL,
		 "api.aliases_forbidden", "non-admin GET /api/aliases: %d",
		 r.status);
	dg_http_free(&r);
	snprintf(alias, sizeof(alias), DG_PREFIX "%s-alias@%s", d->tag,
		 d->domain);
	snprintf(body, sizeof(body),
		 "{\"alias\":\"%s\",\"targets\":"
		 "[\"%s\"]}",
		 alias, d->user);
	req(a, "POST", "/api/aliases", tok2, NULL, body, &r);
	dg_check(d, r.status == 403 ? DG_PASS : DG_FAIL,
		 "api.aliases_forbidden", "non-admin POST /api/aliases: %d",
		 r.status);
	dg_http_free(&r);
	req(a, "POST", "/api/aliases", a->token, NULL, body, &r);
	dg_check(d, r.status == 201 ? DG_PASS : DG_FAIL, "api.alias_post",
		 "admin POST /api/aliases %s: %d", alias, r.status);
	dg_http_free(&r);
	snprintf(path, sizeof(path), "/api/aliases/%.*s%%40%s",
		 (int)strcspn(alias, "@"), alias, d->domain);
	req(a, "DELETE", path, a->token, NULL, NULL, &r);
	dg_check(d, r.status == 200 ? DG_PASS : DG_FAIL, "api.alias_delete",
		 "admin DELETE %s: %d", path, r.status);
	dg_http_free(&r);
}

static void token_expiry(struct api *a)
{
	struct diag *d = a->d;
	struct dg_http r;
	char tok[4096];
	int st, before, after;

	st = login(a, d->user, d->pass, 2, tok, sizeof(tok));
	req(a, "GET", "/api/folders", tok, NULL, NULL, &r);
	before = r.status;
	dg_http_free(&r);
	sleep(3);
	req(a, "GET", "/api/folders", tok, NULL, NULL, &r);
	after = r.status;
	dg_http_free(&r);
	dg_check(d,
		 st == 200 && before == 200 && after == 401 ? DG_PASS : DG_FAIL,
		 "api.token_expiry",
		 "a 2-second token: %d at once, "
		 "%d after 3 s",
		 before, after);
}

#define BATCH_MAX 16

/* n failed logins for addr, up to BATCH_MAX at once: the core delays
 * each failure (up to 5 s), and in parallel the delays overlap.
 * Returns how many got 401. */
static long bad_logins(struct api *a, const char *addr, long n)
{
	struct dg_conn *c[BATCH_MAX];
	uint32_t per_ip = a->d->conf->limits.max_connections_per_ip;
	long batch = per_ip > 4 ? (long)per_ip - 2 : 1, done = 0, k, i;
	char body[600], reqs[1200], line[256], why[256];
	int blen;

	if (batch > BATCH_MAX)
		batch = BATCH_MAX;
	blen = snprintf(body, sizeof(body),
			"{\"username\":\"%s\","
			"\"password\":\"wrong-password\"}",
			addr);
	snprintf(reqs, sizeof(reqs),
		 "POST /api/login HTTP/1.1\r\nHost: %s"
		 "\r\nConnection: close\r\nContent-Type: application/json"
		 "\r\nContent-Length: %d\r\n\r\n%s",
		 a->ep, blen, body);
	while (done < n) {
		long before = done;

		k = n - done < batch ? n - done : batch;
		for (i = 0; i < k; i++) {
			c[i] = dg_connect(a->ep, a->tls, why, sizeof(why));
			if (c[i] != NULL)
				dg_write(c[i], reqs, strlen(reqs));
		}
		for (i = 0; i < k; i++) {
			if (c[i] != NULL &&
			    dg_readline(c[i], line, sizeof(line), 15.0) == 0 &&
			    strncmp(line, "HTTP/1.1 401", 12) == 0)
				done++;
			dg_close(&c[i]);
		}
		if (done - before < k)
			break; /* something else answered: stop */
	}
	return done;
}

static void lockout(struct api *a)
{
	struct diag *d = a->d;
	json_t *ja = dg_conf_get(d, "exchange_api", "lockout.account_ip");
	json_t *ji = dg_conf_get(d, "exchange_api", "lockout.ip");
	long la = ja != NULL ? (long)json_integer_value(ja) : 10;
	long li = ji != NULL ? (long)json_integer_value(ji) : 20;
	const char *argv[] = {"exchange", "lockout-reset", LOCK_SRC};
	struct rmail_err err;
	char out[512];
	long i;
	int locked, after;

	/* the per-IP limit must stay out of reach: it would lock real users */
	if (la >= li || la > 100 || d->conf->control_socket == NULL) {
		dg_check(d, DG_WARN, "api.lockout",
			 "not tested: lockout."
			 "account_ip %ld >= lockout.ip %ld, or no control "
			 "socket to reset it",
			 la, li);
		return;
	}
	dg_client_source(LOCK_SRC);
	i = bad_logins(a, d->user2, la);
	locked = login(a, d->user2, d->pass, 0, NULL, 0);
	rmail_err_clear(&err);
	if (rm_control_call(d->conf->control_socket, 3, argv, out, sizeof(out),
			    &err) < 0) {
		dg_client_source(NULL);
		dg_check(d, DG_FAIL, "api.lockout",
			 "lockout-reset through "
			 "%s: %s",
			 d->conf->control_socket, err.msg);
		return;
	}
	after = login(a, d->user2, d->pass, 0, NULL, 0);
	dg_client_source(NULL);
	dg_check(d, locked == 429 && after == 200 ? DG_PASS : DG_FAIL,
		 "api.lockout",
		 "%ld bad logins for %s from %s: then %d; "
		 "after exchange lockout-reset %s: %d",
		 i, d->user2, LOCK_SRC, locked, LOCK_SRC, after);
}

void dg_phase_api(struct diag *d)
{
	struct api a = {.d = d};
	char tok2[4096];
	int st;

	if (dg_ensure_users(d) < 0)
		return;
	a.ep = d->api[0] != '\0' ? d->api : d->api_tls;
	a.tls = d->api[0] == '\0';
	if (a.ep[0] == '\0') {
		dg_check(d, DG_FAIL, "api.connect", "no API listener");
		return;
	}
	discovery(&a);
	st = login(&a, d->user, d->pass, 0, a.token, sizeof(a.token));
	dg_check(d, st == 200 && a.token[0] ? DG_PASS : DG_FAIL, "api.login",
		 "POST /api/login on %s: %d", a.ep, st);
	if (st != 200)
		return;
	messages(&a);
	send_and_errors(&a);
	cors(&a);
	st = login(&a, d->user2, d->pass, 0, tok2, sizeof(tok2));
	if (st == 200)
		aliases(&a, tok2);
	else
		dg_check(d, DG_FAIL, "api.login", "second user: %d", st);
	token_expiry(&a);
	lockout(&a);
}
