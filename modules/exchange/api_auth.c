/*
 * POST /api/login, the login lockout and bearer-token checks.
 *
 * Lockout counts failures per (IP, account) and per IP in the core's
 * rate limiter and answers 429 at once, without running the password
 * hash, so an attacker on one IP cannot lock an account out for its
 * owner elsewhere.  Attempts while locked out count too.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ex.h"

#define BUCKET_ACCT "exchange_login_acct"
#define BUCKET_IP "exchange_login_ip"
#define LOCK_KEYS_MAX 4096

/* the (IP, account) keys that saw failures, for lockout-reset and
 * lockout-list: in the host's table (rate_note, rate_keys), so every
 * worker process sees every key, also a restarted one; in this process
 * with a core older than 1.6 */
static char *lock_keys[LOCK_KEYS_MAX];
static size_t lock_next;

static int host_keys(const struct rmail_core *core)
{
	return RMAIL_HAS(core, struct rmail_core, rate_keys) &&
	       core->rate_note != NULL && core->rate_keys != NULL;
}

static void remember_key(const struct rmail_core *core, const char *acct_key,
			 const char *ip)
{
	size_t i;

	if (host_keys(core)) {
		core->rate_note(BUCKET_ACCT, acct_key);
		core->rate_note(BUCKET_IP, ip);
		return;
	}
	for (i = 0; i < LOCK_KEYS_MAX; i++)
		if (lock_keys[i] != NULL && strcmp(lock_keys[i], acct_key) == 0)
			return;
	free(lock_keys[lock_next]);
	lock_keys[lock_next] = strdup(acct_key);
	lock_next = (lock_next + 1) % LOCK_KEYS_MAX;
}

struct key_walk {
	const struct rmail_core *core;
	const char *bucket;
	char *out;
	size_t outsz, len;
	size_t n;
};

static void reset_key(void *arg, const char *key, uint32_t count)
{
	struct key_walk *w = arg;

	(void)count;
	w->core->rate_reset(w->bucket, key);
	w->n++;
}

static void list_key(void *arg, const char *key, uint32_t count)
{
	struct key_walk *w = arg;
	int k;

	if (w->len >= w->outsz)
		return;
	k = snprintf(w->out + w->len, w->outsz - w->len, "%s %u\n", key,
		     (unsigned)count);
	if (k > 0)
		w->len += (size_t)k;
}

/* "IP " or "" for every key */
static void key_prefix(const char *ip, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s%s", ip != NULL ? ip : "", ip != NULL ? " " : "");
}

/* arg: the struct ex_mod, given at control_register */
int ex_lockout_control(void *arg, int argc, const char *const *argv, char *out,
		       size_t outsz)
{
	const struct ex_mod *mod = arg;
	const struct rmail_core *core = mod->core;
	const char *ip = argc >= 3 ? argv[argc - 1] : NULL;
	size_t i, n = 0, iplen = ip != NULL ? strlen(ip) : 0;

	if (host_keys(core)) {
		double window = ex_conf(mod)->lockout_window;
		struct key_walk w = {.core = core, .bucket = BUCKET_ACCT};
		char prefix[128];

		key_prefix(ip, prefix, sizeof(prefix));
		core->rate_keys(BUCKET_ACCT, prefix, window, reset_key, &w);
		n = w.n;
		if (ip == NULL) {
			w.bucket = BUCKET_IP;
			core->rate_keys(BUCKET_IP, "", window, reset_key, &w);
		}
	}
	for (i = 0; i < LOCK_KEYS_MAX; i++) {
		char *k = lock_keys[i];

		if (k == NULL)
			continue;
		if (ip != NULL &&
		    (strncmp(k, ip, iplen) != 0 || k[iplen] != ' '))
			continue;
		core->rate_reset(BUCKET_ACCT, k);
		k[strcspn(k, " ")] = '\0';
		core->rate_reset(BUCKET_IP, k);
		free(k);
		lock_keys[i] = NULL;
		n++;
	}
	if (ip != NULL)
		core->rate_reset(BUCKET_IP, ip);
	/* the core's login failure budget, shared by every protocol
	 * ("auth_fail"; "" for every address) */
	core->rate_reset("auth_fail", ip != NULL ? ip : "");
	snprintf(out, outsz, "lockout reset: %zu account key(s)%s%s\n", n,
		 ip != NULL ? " for " : "", ip != NULL ? ip : "");
	return 0;
}

/* "exchange lockout-list [IP]": "IP account failures" a line, the
 * failures counted within lockout.window */
int ex_lockout_list(void *arg, int argc, const char *const *argv, char *out,
		    size_t outsz)
{
	const struct ex_mod *mod = arg;
	const struct rmail_core *core = mod->core;
	const char *ip = argc >= 3 ? argv[argc - 1] : NULL;
	double window = ex_conf(mod)->lockout_window;
	struct key_walk w = {.core = core, .out = out, .outsz = outsz};
	char prefix[128];

	out[0] = '\0';
	key_prefix(ip, prefix, sizeof(prefix));
	if (host_keys(core)) {
		core->rate_keys(BUCKET_ACCT, prefix, window, list_key, &w);
	} else {
		for (size_t i = 0; i < LOCK_KEYS_MAX; i++) {
			uint32_t c;

			if (lock_keys[i] == NULL ||
			    strncmp(lock_keys[i], prefix, strlen(prefix)) != 0)
				continue;
			c = core->rate_count(BUCKET_ACCT, lock_keys[i], window);
			if (c > 0)
				list_key(&w, lock_keys[i], c);
		}
	}
	if (w.len == 0)
		snprintf(out, outsz, "no lockout counts%s%s\n",
			 ip != NULL ? " for " : "", ip != NULL ? ip : "");
	return 0;
}

void ex_lockout_fini(void);
void ex_lockout_fini(void)
{
	size_t i;

	for (i = 0; i < LOCK_KEYS_MAX; i++) {
		free(lock_keys[i]);
		lock_keys[i] = NULL;
	}
}

/* ---- client address ----------------------------------------------- */

static int ip_in(const char *ip, const char *spec)
{
	unsigned char a[16], b[16];
	char net[64];
	const char *slash = strchr(spec, '/');
	int af = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	int bits, max = af == AF_INET ? 32 : 128, i;

	if (slash == NULL)
		return strcmp(ip, spec) == 0;
	if ((size_t)(slash - spec) >= sizeof(net))
		return 0;
	memcpy(net, spec, (size_t)(slash - spec));
	net[slash - spec] = '\0';
	bits = atoi(slash + 1);
	if (bits < 0 || bits > max || inet_pton(af, ip, a) != 1 ||
	    inet_pton(af, net, b) != 1)
		return 0;
	for (i = 0; i < bits; i++)
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

static int trusted(const struct ex_req *r, const char *ip)
{
	const struct rmail_strlist *l = &ex_conf(r->mod)->trusted_proxies;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (ip_in(ip, l->v[i]))
			return 1;
	return 0;
}

static int valid_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* the peer, or the rightmost X-Forwarded-For hop a trusted proxy saw */
const char *ex_client_ip(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	const char *peer = core->conn_peer_ip(r->c), *xff, *hop;
	char *list, *p, *tok;
	int n;

	if (peer == NULL)
		peer = "-";
	if (!trusted(r, peer) ||
	    (xff = ex_header(r, "X-Forwarded-For")) == NULL)
		return peer;
	list = core->pstrdup(r->pool, xff);
	hop = peer;
	/* walk from the nearest hop back while the hops are our proxies */
	for (n = 0; n < 32; n++) {
		p = strrchr(list, ',');
		tok = p != NULL ? p + 1 : list;
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (!valid_ip(tok))
			return hop;
		hop = tok;
		if (!trusted(r, tok) || p == NULL)
			return hop;
		*p = '\0';
	}
	return hop;
}

static int ip_is_loopback(const char *ip)
{
	return ip_in(ip, "127.0.0.0/8") || strcmp(ip, "::1") == 0 ||
	       ip_in(ip, "::ffff:127.0.0.0/104");
}

/* ---- login -------------------------------------------------------- */

struct login_job {
	struct ex_req *r;
	char *acct_key;
	int64_t expires_in;
};

static void lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int locked(struct ex_req *r, const char *acct_key, double *retry_r)
{
	const struct rmail_core *core = r->mod->core;
	const struct ex_conf *cf = ex_conf(r->mod);
	uint32_t la = (uint32_t)cf->lockout_account_ip;
	uint32_t li = (uint32_t)cf->lockout_ip;

	if (core->rate_count(BUCKET_ACCT, acct_key, cf->lockout_window) >= la)
		return !core->rate_hit(BUCKET_ACCT, acct_key, la,
				       cf->lockout_window, retry_r);
	if (core->rate_count(BUCKET_IP, r->rip, cf->lockout_window) >= li)
		return !core->rate_hit(BUCKET_IP, r->rip, li,
				       cf->lockout_window, retry_r);
	return 0;
}

static void login_done(void *arg, const struct rmail_auth_result *res)
{
	struct login_job *j = arg;
	struct ex_req *r = j->r;
	const struct rmail_core *core = r->mod->core;
	const struct ex_conf *cf = ex_conf(r->mod);
	struct rmail_jwt_claims cl = {.size = sizeof(cl)};
	struct rmail_err err;
	char tok[EX_TOKEN_MAX];
	time_t now = time(NULL);

	if (!res->ok &&
	    (res->code == RMAIL_E_AUTH || res->code == RMAIL_E_DISABLED)) {
		core->rate_hit(BUCKET_ACCT, j->acct_key, UINT32_MAX,
			       cf->lockout_window, NULL);
		core->rate_hit(BUCKET_IP, r->rip, UINT32_MAX,
			       cf->lockout_window, NULL);
		remember_key(core, j->acct_key, r->rip);
	}
	if (!ex_async_end(r))
		return;
	if (!res->ok) {
		if (res->code == RMAIL_E_PERM) /* the core's failure budget */
			ex_respond(r, 429, "application/json",
				   "{\"error\":\"Too many failed logins\"}", 34,
				   "Retry-After: 60\r\n");
		else if (res->code == RMAIL_E_AUTH ||
			 res->code == RMAIL_E_DISABLED)
			ex_error(r, 401, "Invalid credentials");
		else
			ex_error(r, 503, "Authentication unavailable");
		return;
	}
	core->rate_reset(BUCKET_ACCT, j->acct_key);
	memset(&cl, 0, sizeof(cl));
	cl.size = sizeof(cl);
	snprintf(cl.sub, sizeof(cl.sub), "%s", res->user.address);
	cl.gen = res->user.token_gen;
	cl.iat = (int64_t)now;
	cl.exp = (int64_t)now + j->expires_in;
	rmail_err_clear(&err);
	if (core->jwt_sign(r->mod->secret, r->mod->secret_len, &cl, tok,
			   sizeof(tok), &err) < 0) {
		core->log(r->mod->m, RMAIL_LOG_ERR, "jwt_sign: %s", err.msg);
		ex_error(r, 500, "Internal error");
		return;
	}
	ex_json(r, 200,
		json_pack("{s:s,s:s,s:I}", "token", tok, "token_type", "Bearer",
			  "expires_in", (json_int_t)j->expires_in));
	core->secure_zero(tok, sizeof(tok));
}

void ex_api_login(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	const struct ex_conf *cf = ex_conf(r->mod);
	json_t *j, *ju, *jp, *je;
	struct login_job *job;
	int64_t ttl = (int64_t)cf->token_ttl;
	double retry = 0;
	char extra[64];
	const char *user, *pw;

	/* behind a trusted proxy the client is the forwarded address: a
	 * proxy on loopback must not make every client look local */
	if (!core->conn_is_tls(r->c) && !cf->allow_remote_cleartext_login &&
	    !(core->conn_is_loopback(r->c) && ip_is_loopback(r->rip))) {
		ex_error(r, 403, "Login requires TLS");
		return;
	}
	if ((j = ex_json_parse(r)) == NULL)
		return;
	ju = json_object_get(j, "username");
	jp = json_object_get(j, "password");
	je = json_object_get(j, "expires_in");
	if (!json_is_object(j) || !json_is_string(ju) || !json_is_string(jp) ||
	    (je != NULL && !json_is_integer(je)) ||
	    json_string_length(ju) == 0 ||
	    json_string_length(ju) > RMAIL_ADDR_MAX ||
	    strlen(json_string_value(ju)) != json_string_length(ju) ||
	    strlen(json_string_value(jp)) != json_string_length(jp) ||
	    json_string_length(jp) > 1024 ||
	    !ex_str_safe(json_string_value(ju))) {
		json_decref(j);
		ex_error(r, 400, "Expected {\"username\", \"password\"}");
		return;
	}
	if (je != NULL) {
		if (json_integer_value(je) <= 0) {
			json_decref(j);
			ex_error(r, 400, "expires_in must be positive");
			return;
		}
		if (json_integer_value(je) < ttl)
			ttl = json_integer_value(je);
	}
	user = json_string_value(ju);
	pw = json_string_value(jp);
	job = core->pcalloc(r->pool, sizeof(*job));
	job->r = r;
	job->expires_in = ttl > 0 ? ttl : 3600;
	job->acct_key = core->psprintf(r->pool, "%s %s", r->rip, user);
	lowercase(job->acct_key);
	if (locked(r, job->acct_key, &retry)) {
		json_decref(j);
		snprintf(extra, sizeof(extra), "Retry-After: %.0f\r\n",
			 ceil(retry < 1 ? 1 : retry));
		core->conn_log(r->c, RMAIL_LOG_INFO, "login locked out rip=%s",
			       r->rip);
		ex_respond(r, 429, "application/json",
			   "{\"error\":\"Too many failed logins\"}", 34, extra);
		return;
	}
	ex_async_begin(r);
	core->auth_login(user, pw, "http", r->rip, login_done, job);
	core->secure_zero((char *)pw, strlen(pw));
	json_decref(j);
}

/* ---- bearer tokens ------------------------------------------------- */

static void unauthorized(struct ex_req *r, const char *msg)
{
	static const char hdr[] = "WWW-Authenticate: Bearer\r\n";
	char *body = r->mod->core->psprintf(r->pool, "{\"error\":\"%s\"}", msg);

	ex_respond(r, 401, "application/json", body, strlen(body), hdr);
}

int ex_authenticate(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	const struct rmail_store_ops *ops;
	const char *h = ex_header(r, "Authorization");
	struct rmail_jwt_claims cl = {.size = sizeof(cl)};
	struct rmail_err err;
	void *sh;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		unauthorized(r, "Missing bearer token");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0' || strlen(h) >= EX_TOKEN_MAX) {
		unauthorized(r, "Invalid token");
		return -1;
	}
	memset(&cl, 0, sizeof(cl));
	cl.size = sizeof(cl);
	rmail_err_clear(&err);
	if (core->jwt_verify(r->mod->secret, r->mod->secret_len, h, &cl, &err) <
	    0) {
		unauthorized(r, "Invalid token");
		return -1;
	}
	/* the core checks exp too; a second look costs nothing */
	if (cl.exp <= (int64_t)time(NULL)) {
		unauthorized(r, "Token expired");
		return -1;
	}
	ops = core->store(&sh);
	if (ops == NULL) {
		ex_error(r, 503, "No store");
		return -1;
	}
	rmail_err_clear(&err);
	if (ops->user_get(sh, cl.sub, &r->user, &err) < 0 &&
	    err.code != RMAIL_E_NOENT) {
		/* the store could not look: the token may well be good */
		memset(&r->user, 0, sizeof(r->user));
		ex_error(r, 503, "Try again later");
		return -1;
	}
	if (err.code == RMAIL_E_NOENT || r->user.disabled ||
	    r->user.token_gen != cl.gen) {
		memset(&r->user, 0, sizeof(r->user));
		unauthorized(r, "Invalid token");
		return -1;
	}
	return 0;
}
