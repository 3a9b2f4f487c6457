/*
 * mod_exchange: the descriptor, the "exchange_api" config section, the
 * token secret and the two listeners (cleartext 9002, TLS 9003).  HTTP
 * lives in session.c, the endpoints in api_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ex.h"

/* reached by the sessions through the listeners' ctx, never by name */
static struct ex_mod ex;

void ex_lockout_fini(void);

#define OFF(f) offsetof(struct ex_conf, f)
#define RL RMAIL_CONF_RELOADABLE

static int check_secret(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s != NULL && (strlen(s) < 32 || strlen(s) > EX_SECRET_MAX))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be 32 to 512 bytes (or null)");
	return 0;
}

static int check_positive(const void *field, struct rmail_err *err)
{
	if (*(const int64_t *)field < 1)
		return rmail_err_set(err, RMAIL_E_INVAL, "must be at least 1");
	return 0;
}

static int check_duration(const void *field, struct rmail_err *err)
{
	if (*(const double *)field <= 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "must be positive");
	return 0;
}

static int check_head(const void *field, struct rmail_err *err)
{
	uint64_t v = *(const uint64_t *)field;

	if (v < 1024 || v > 1024 * 1024)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 1K and 1M");
	return 0;
}

static int check_origins(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!ex_str_safe(l->v[i]) || strchr(l->v[i], ' ') != NULL)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "bad origin \"%s\"", l->v[i]);
	return 0;
}

static int check_advertise(const void *field, struct rmail_err *err)
{
	static const char *const known[] = {
		"hostname",	   "imap_port",	 "imaps_port", "smtp_port",
		"submission_port", "smtps_port", NULL,
	};
	const struct rmail_strmap *m = field;
	size_t i, k;

	for (i = 0; i < m->n; i++) {
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(m->k[i], known[k]) == 0)
				break;
		if (known[k] == NULL)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "unknown key \"%s\"", m->k[i]);
		if (strpbrk(m->v[i], "<>&\"'\r\n") != NULL)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "bad value for \"%s\"", m->k[i]);
	}
	return 0;
}

static const struct rmail_conf_key ex_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, OFF(listen), "[\"0.0.0.0:9002\"]",
	 "cleartext HTTP listeners (logins from loopback only by default)",
	 NULL},
	{"tls_listen", RMAIL_CONF_LISTEN, 0, OFF(tls_listen),
	 "[\"0.0.0.0:9003\"]", "HTTPS listeners (implicit TLS)", NULL},
	{"token_secret", RMAIL_CONF_STR, RMAIL_CONF_NULLABLE, OFF(token_secret),
	 "null", "HS256 key, >= 32 bytes; null: a random per-process secret",
	 check_secret},
	{"token_ttl", RMAIL_CONF_DURATION, RL, OFF(token_ttl), "\"1h\"",
	 "lifetime of a login token (expires_in may ask for less)",
	 check_duration},
	{"cors_origins", RMAIL_CONF_STR_LIST, RL, OFF(cors_origins), "[]",
	 "origins allowed by CORS (\"*\" for any)", check_origins},
	{"trusted_proxies", RMAIL_CONF_STR_LIST, RL, OFF(trusted_proxies), "[]",
	 "addresses or CIDRs whose X-Forwarded-For is believed", NULL},
	{"allow_remote_cleartext_login", RMAIL_CONF_BOOL, RL,
	 OFF(allow_remote_cleartext_login), "false",
	 "allow logins from non-loopback peers on the cleartext listener",
	 NULL},
	{"lockout.account_ip", RMAIL_CONF_INT, RL, OFF(lockout_account_ip),
	 "10", "failed logins per account per IP before 429", check_positive},
	{"lockout.ip", RMAIL_CONF_INT, RL, OFF(lockout_ip), "20",
	 "failed logins per IP before 429", check_positive},
	{"lockout.window", RMAIL_CONF_DURATION, RL, OFF(lockout_window),
	 "\"15m\"", "window of the login lockout counters", check_duration},
	{"max_body_size", RMAIL_CONF_SIZE, RL, OFF(max_body_size), "\"50M\"",
	 "largest request body (413 beyond)", NULL},
	{"max_header_size", RMAIL_CONF_SIZE, 0, OFF(max_header_size), "\"64K\"",
	 "request line and header fields (431 beyond)", check_head},
	{"advertise", RMAIL_CONF_STR_MAP, RL, OFF(advertise), "{}",
	 "autoconfig/autodiscover overrides: hostname, imap_port, "
	 "imaps_port, smtp_port, submission_port, smtps_port",
	 check_advertise},
	{"request_timeout", RMAIL_CONF_DURATION, RL, OFF(request_timeout),
	 "\"30s\"",
	 "time from a request's first byte to the end of its head, and the "
	 "grace before body_min_rate applies (408 beyond)",
	 check_duration},
	{"body_min_rate", RMAIL_CONF_SIZE, RL, OFF(body_min_rate), "\"1K\"",
	 "slowest average request body rate, bytes per second, after "
	 "request_timeout (408 below; 0: none)",
	 NULL},
	{"idle_timeout", RMAIL_CONF_DURATION, RL, OFF(idle_timeout), "\"60s\"",
	 "keep-alive idle time before closing", check_duration},
	RMAIL_CONF_END,
};

/* With worker processes (core "processes" > 1) a token signed by one
 * must verify in the others: the generated secret is then the host's,
 * {mail_root}/tls/api_token.key (0600, created once, the first writer
 * wins), like the TLS ticket secret beside it.  0 when loaded. */
static int shared_secret(struct rmail_mctx *m)
{
	const char *procs = m->core->conf_str("processes");
	const char *root = m->core->conf_str("mail_root");
	char dir[4096], path[4200], tmp[4300];
	unsigned char v[32];
	ssize_t got;
	int fd;

	if (procs == NULL || atoi(procs) <= 1 || root == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/tls", root);
	snprintf(path, sizeof(path), "%s/api_token.key", dir);
	(void)mkdir(dir, 0700);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
		m->core->random_bytes(v, sizeof(v));
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		got = write(fd, v, sizeof(v));
		if (got != (ssize_t)sizeof(v) || fsync(fd) < 0) {
			close(fd);
			unlink(tmp);
			return -1;
		}
		close(fd);
		/* another worker may have won the race: its secret stays */
		if (link(tmp, path) < 0 && errno != EEXIST) {
			unlink(tmp);
			return -1;
		}
		unlink(tmp);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
	}
	got = read(fd, ex.secret, sizeof(v));
	close(fd);
	memset(v, 0, sizeof(v));
	if (got != (ssize_t)sizeof(v))
		return -1;
	ex.secret_len = sizeof(v);
	return 0;
}

static void set_secret(struct rmail_mctx *m, const struct ex_conf *cf)
{
	if (cf->token_secret != NULL) {
		ex.secret_len = strlen(cf->token_secret);
		memcpy(ex.secret, cf->token_secret, ex.secret_len);
		ex.random_secret = 0;
		return;
	}
	/* one random secret per process (per host with worker
	 * processes), kept across reloads */
	if (!ex.random_secret) {
		ex.random_secret = 1;
		if (shared_secret(m) == 0)
			return;
		m->core->random_bytes(ex.secret, 32);
		ex.secret_len = 32;
		ex.random_secret = 1;
	}
}

static int ex_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	ex.m = m;
	ex.core = m->core;
	/* a seeded hash makes JSON objects of hostile keys cheap */
	{
		uint32_t seed;

		m->core->random_bytes(&seed, sizeof(seed));
		json_object_seed(seed ? seed : 1);
	}
	set_secret(m, m->conf);
	return 0;
}

static int listen_one(struct rmail_mctx *m, const char *key,
		      const struct rmail_strlist *addrs, int tls,
		      struct rmail_err *err)
{
	const struct ex_conf *cf = m->conf;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "http",
		.tls = tls,
		.max_line = (size_t)cf->max_header_size,
		.idle_timeout = cf->idle_timeout,
		.overload_reply = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Content-Length: 0\r\n"
				  "Connection: close\r\n\r\n",
	};
	struct rmail_proto_ops ops = ex_proto_ops;

	ops.ctx = &ex;
	return m->core->listen(m, key, addrs, &ops, &o, err);
}

static int ex_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct ex_conf *cf = m->conf;

	if (listen_one(m, "listen", &cf->listen, RMAIL_TLS_NEVER, err) < 0 ||
	    listen_one(m, "tls_listen", &cf->tls_listen, RMAIL_TLS_IMPLICIT,
		       err) < 0)
		return -1;
	if (m->core->control_register(m, "exchange lockout-reset",
				      ex_lockout_control, &ex) < 0)
		m->core->log(m, RMAIL_LOG_WARN,
			     "control command exchange lockout-reset "
			     "not registered");
	if (m->core->control_register(m, "exchange lockout-list",
				      ex_lockout_list, &ex) < 0)
		m->core->log(m, RMAIL_LOG_WARN,
			     "control command exchange lockout-list "
			     "not registered");
	ex.started = 1;
	return 0;
}

static int ex_reload_check(struct rmail_mctx *m, const void *new_conf,
			   struct rmail_err *err)
{
	(void)m;
	(void)new_conf;
	(void)err;
	return 0;
}

static void ex_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	set_secret(m, new_conf);
}

static void ex_stop(struct rmail_mctx *m, int mode)
{
	(void)m;
	(void)mode;
	ex.started = 0;
}

static void ex_fini(struct rmail_mctx *m)
{
	ex_folders_fini(&ex);
	ex_lockout_fini();
	m->core->secure_zero(ex.secret, sizeof(ex.secret));
}

RMAIL_MODULE_DEFINE(exchange, RMAIL_KIND_PROTOCOL, "1.0.0",
		    .section = "exchange_api", .conf_keys = ex_keys,
		    .conf_size = sizeof(struct ex_conf), .init = ex_init,
		    .start = ex_start, .reload_check = ex_reload_check,
		    .reload_commit = ex_reload_commit, .stop = ex_stop,
		    .fini = ex_fini, );
