/*
 * mod_managesieve: ManageSieve (RFC 5804) on port 4190, for the users'
 * Sieve scripts (store ops sieve_*, ABI 1.5) that mod_sieve runs.
 * STARTTLS, then AUTHENTICATE PLAIN through the core (its per-IP
 * failure budget and log lines); every command that touches the store
 * or compiles a script runs on a worker, the session suspended meanwhile
 * so pipelined commands keep their order.  Quotas: script count and
 * size (docs/sieve.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rmail/rmail.h>

#include "ms_parse.h"
#include "sieve.h"

struct ms_conf {
	struct rmail_strlist listen;
	int64_t max_scripts;
	uint64_t max_script_size;
	int64_t auth_fail_disconnect;
	int allow_cleartext_login_loopback;
	double idle_timeout;
};

#define OFF(f) offsetof(struct ms_conf, f)
#define RL RMAIL_CONF_RELOADABLE

static const struct rmail_conf_key ms_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, OFF(listen), "[]",
	 "ManageSieve listen addresses (STARTTLS), usually *:4190", NULL},
	{"max_scripts", RMAIL_CONF_INT, RL, OFF(max_scripts), "20",
	 "scripts per user", NULL},
	{"max_script_size", RMAIL_CONF_SIZE, RL, OFF(max_script_size),
	 "\"64K\"", "bytes of one script", NULL},
	{"auth_fail_disconnect", RMAIL_CONF_INT, RL, OFF(auth_fail_disconnect),
	 "3", "failed AUTHENTICATEs before BYE", NULL},
	{"allow_cleartext_login_loopback", RMAIL_CONF_BOOL, RL,
	 OFF(allow_cleartext_login_loopback), "false",
	 "AUTHENTICATE without TLS from loopback clients", NULL},
	{"idle_timeout", RMAIL_CONF_DURATION, RL, OFF(idle_timeout), "\"10m\"",
	 "idle session timeout", NULL},
	RMAIL_CONF_END,
};

struct ms_sess {
	struct rmail_mctx *m;
	struct rmail_conn *c;
	char user[RMAIL_ADDR_MAX + 1];
	int authed;
	int busy;
	int sasl_wait; /* AUTHENTICATE sent "": the response is next */
	int closing;
	unsigned failures;
};

static const struct ms_conf *conf(const struct ms_sess *s)
{
	return s->m->conf;
}

/* ---- output -------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void bput(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort(); /* OOM aborts, as everywhere */
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void bprintf(struct buf *b, const char *fmt, ...) RMAIL_PRINTF(2, 3);
static void bprintf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		bput(b, tmp,
		     (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* a string as RFC 5804 wants it: quoted when it can be, else literal */
static void bstr(struct buf *b, const char *s, size_t n)
{
	if (n < 1024 && memchr(s, '\r', n) == NULL &&
	    memchr(s, '\n', n) == NULL && memchr(s, '\0', n) == NULL) {
		bput(b, "\"", 1);
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '"' || s[i] == '\\')
				bput(b, "\\", 1);
			bput(b, s + i, 1);
		}
		bput(b, "\"", 1);
		return;
	}
	bprintf(b, "{%zu}\r\n", n);
	bput(b, s, n);
}

/* OK/NO/BYE [(CODE)] "text" CRLF */
static void bresp(struct buf *b, const char *what, const char *code,
		  const char *text)
{
	bput(b, what, strlen(what));
	if (code != NULL)
		bprintf(b, " (%s)", code);
	if (text != NULL) {
		bput(b, " ", 1);
		bstr(b, text, strlen(text));
	}
	bput(b, "\r\n", 2);
}

static void flush(struct ms_sess *s, struct buf *b)
{
	if (b->n > 0)
		s->m->core->conn_write(s->c, b->p, b->n);
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

static int cleartext_blocked(struct ms_sess *s)
{
	const struct rmail_core *core = s->m->core;

	if (core->conn_is_tls(s->c))
		return 0;
	return !(conf(s)->allow_cleartext_login_loopback &&
		 core->conn_is_loopback(s->c));
}

static void capabilities(struct ms_sess *s, struct buf *b)
{
	const struct rmail_core *core = s->m->core;

	bprintf(b, "\"IMPLEMENTATION\" \"rmail %s\"\r\n",
		core->conf_str("version"));
	if (!s->authed)
		bprintf(b, "\"SASL\" \"%s\"\r\n",
			cleartext_blocked(s) ? "" : "PLAIN");
	bput(b, "\"SIEVE\" ", 8);
	bstr(b, sieve_extensions(), strlen(sieve_extensions()));
	bput(b, "\r\n", 2);
	if (!core->conn_is_tls(s->c))
		bprintf(b, "\"STARTTLS\"\r\n");
	bprintf(b, "\"MAXREDIRECTS\" \"%d\"\r\n", SIEVE_DEF_MAX_REDIRECTS);
	if (s->authed)
		bprintf(b, "\"OWNER\" \"%s\"\r\n", s->user);
	bprintf(b, "\"VERSION\" \"1.0\"\r\n");
}

/* ---- store commands on a worker ------------------------------------ */

struct job {
	struct ms_sess *s;
	struct ms_cmd cmd;
	struct buf out;
	/* the conf's values, read on the loop */
	int64_t max_scripts;
	uint64_t max_size;
};

struct count {
	size_t n;
	const char *name;
	int exists;
	struct buf *list; /* LISTSCRIPTS */
};

static void count_cb(void *arg, const char *name, int active, uint64_t bytes,
		     int64_t version)
{
	struct count *c = arg;

	(void)bytes;
	(void)version;
	c->n++;
	if (c->name != NULL && strcmp(c->name, name) == 0)
		c->exists = 1;
	if (c->list != NULL) {
		bstr(c->list, name, strlen(name));
		bput(c->list, active ? " ACTIVE\r\n" : "\r\n", active ? 9 : 2);
	}
}

static const char *err_code(const struct rmail_err *err)
{
	switch (err->code) {
	case RMAIL_E_NOENT:
		return "NONEXISTENT";
	case RMAIL_E_EXISTS:
		return "ALREADYEXISTS";
	case RMAIL_E_BUSY:
		return "ACTIVE";
	case RMAIL_E_TOOBIG:
		return "QUOTA/MAXSIZE";
	case RMAIL_E_QUOTA:
		return "QUOTA";
	default:
		return NULL;
	}
}

/* may name get a script of size bytes: 0, or -1 with the NO written */
static int space_for(struct job *j, const struct rmail_store_ops *ops, void *h,
		     const char *name, uint64_t size)
{
	struct count c = {.name = name};
	struct rmail_err err;

	if (size > j->max_size) {
		bresp(&j->out, "NO", "QUOTA/MAXSIZE", "Script too big");
		return -1;
	}
	rmail_err_clear(&err);
	if (ops->sieve_list(h, j->s->user, count_cb, &c, &err) < 0) {
		bresp(&j->out, "NO", "TRYLATER", err.msg);
		return -1;
	}
	if (!c.exists && c.n >= (size_t)j->max_scripts) {
		bresp(&j->out, "NO", "QUOTA/MAXSCRIPTS", "Too many scripts");
		return -1;
	}
	return 0;
}

static int check(struct job *j, const struct ms_arg *a)
{
	char msg[256] = "";
	struct sieve_script *sc =
		sieve_compile(a->s, a->n, NULL, NULL, NULL, msg, sizeof(msg));

	if (sc == NULL) {
		bresp(&j->out, "NO", NULL, msg);
		return -1;
	}
	sieve_free(sc);
	return 0;
}

static void run_job(void *arg, const volatile int *cancel)
{
	struct job *j = arg;
	const struct rmail_core *core = j->s->m->core;
	const char *u = j->s->user, *name = j->cmd.name;
	const struct ms_arg *a = j->cmd.args;
	size_t na = j->cmd.nargs;
	void *h;
	const struct rmail_store_ops *ops = core->store(&h);
	struct rmail_err err;
	int rc = 0;

	(void)cancel;
	rmail_err_clear(&err);
	if (strcmp(name, "LISTSCRIPTS") == 0 && na == 0) {
		struct count c = {.list = &j->out};

		rc = ops->sieve_list(h, u, count_cb, &c, &err);
	} else if (strcmp(name, "GETSCRIPT") == 0 && na == 1) {
		size_t len = 0;
		char *text;

		rc = ops->sieve_get(h, u, a[0].s, NULL, 0, &len, NULL, NULL,
				    &err);
		if (rc == 0) {
			text = malloc(len + 1);
			rc = ops->sieve_get(h, u, a[0].s, text, len, &len, NULL,
					    NULL, &err);
			if (rc == 0) {
				bprintf(&j->out, "{%zu}\r\n", len);
				bput(&j->out, text, len);
				bput(&j->out, "\r\n", 2);
			}
			free(text);
		}
	} else if (strcmp(name, "PUTSCRIPT") == 0 && na == 2 && !a[1].is_num) {
		if (space_for(j, ops, h, a[0].s, a[1].n) < 0 ||
		    check(j, &a[1]) < 0)
			return;
		rc = ops->sieve_put(h, u, a[0].s, a[1].s, a[1].n, &err);
	} else if (strcmp(name, "CHECKSCRIPT") == 0 && na == 1) {
		if (check(j, &a[0]) < 0)
			return;
	} else if (strcmp(name, "HAVESPACE") == 0 && na == 2 && a[1].is_num) {
		if (space_for(j, ops, h, a[0].s, strtoull(a[1].s, NULL, 10)) <
		    0)
			return;
	} else if (strcmp(name, "SETACTIVE") == 0 && na == 1) {
		rc = ops->sieve_activate(h, u, a[0].n == 0 ? NULL : a[0].s,
					 &err);
	} else if (strcmp(name, "DELETESCRIPT") == 0 && na == 1) {
		rc = ops->sieve_delete(h, u, a[0].s, &err);
	} else if (strcmp(name, "RENAMESCRIPT") == 0 && na == 2) {
		rc = ops->sieve_rename(h, u, a[0].s, a[1].s, &err);
	} else {
		bresp(&j->out, "NO", NULL, "Bad arguments");
		return;
	}
	if (rc < 0)
		bresp(&j->out, "NO", err_code(&err), err.msg);
	else
		bresp(&j->out, "OK", NULL, NULL);
}

static void job_done(void *arg, int cancelled)
{
	struct job *j = arg;
	struct ms_sess *s = j->s;
	const struct rmail_core *core = s->m->core;

	if (!cancelled && !core->conn_closed(s->c))
		flush(s, &j->out);
	free(j->out.p);
	ms_cmd_free(&j->cmd);
	free(j);
	s->busy = 0;
	core->conn_resume(s->c);
}

static int store_has_sieve(const struct rmail_store_ops *ops)
{
	return ops != NULL &&
	       RMAIL_HAS(ops, struct rmail_store_ops, vacation_check) &&
	       ops->sieve_list != NULL && ops->sieve_get != NULL &&
	       ops->sieve_put != NULL && ops->sieve_delete != NULL &&
	       ops->sieve_rename != NULL && ops->sieve_activate != NULL;
}

static void start_job(struct ms_sess *s, struct ms_cmd *cmd)
{
	const struct rmail_core *core = s->m->core;
	void *h;
	struct job *j;

	if (!store_has_sieve(core->store(&h))) {
		struct buf b = {0};

		bresp(&b, "NO", "TRYLATER", "The store keeps no scripts");
		flush(s, &b);
		ms_cmd_free(cmd);
		return;
	}
	j = calloc(1, sizeof(*j));
	j->s = s;
	j->cmd = *cmd; /* takes the arguments */
	j->max_scripts = conf(s)->max_scripts;
	j->max_size = conf(s)->max_script_size;
	s->busy = 1;
	core->conn_suspend(s->c);
	if (core->work_submit(RMAIL_WORK_WRITE, run_job, job_done, j) == NULL) {
		/* a pool shutting down: answer rather than hang */
		bresp(&j->out, "NO", "TRYLATER", "Try again later");
		job_done(j, 0);
	}
}

/* ---- authentication ------------------------------------------------ */

static void login_done(void *arg, const struct rmail_auth_result *r)
{
	struct ms_sess *s = arg;
	const struct rmail_core *core = s->m->core;
	struct buf b = {0};

	s->busy = 0;
	if (core->conn_closed(s->c)) {
		core->conn_resume(s->c);
		return;
	}
	if (r->ok) {
		snprintf(s->user, sizeof(s->user), "%s", r->user.address);
		s->authed = 1;
		bresp(&b, "OK", NULL, "Logged in");
	} else {
		if (r->code == RMAIL_E_AUTH || r->code == RMAIL_E_DISABLED ||
		    r->code == RMAIL_E_PERM)
			s->failures++;
		if (r->code == RMAIL_E_PERM)
			bresp(&b, "NO", "TRYLATER",
			      "Too many failed logins, try again later");
		else if (r->code != RMAIL_E_AUTH && r->code != RMAIL_E_DISABLED)
			bresp(&b, "NO", "TRYLATER", "Try again later");
		else
			bresp(&b, "NO", NULL, "Authentication failed");
		if (s->failures >= (unsigned)conf(s)->auth_fail_disconnect) {
			bresp(&b, "BYE", NULL,
			      "Too many authentication failures");
			s->closing = 1;
		}
	}
	flush(s, &b);
	if (s->closing)
		core->conn_close(s->c);
	core->conn_resume(s->c);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd, base64 */
static void sasl_plain(struct ms_sess *s, const char *b64, size_t len)
{
	const struct rmail_core *core = s->m->core;
	const char *ip = core->conn_peer_ip(s->c);
	char buf[1024];
	const char *authz, *authc = NULL, *pass = NULL;
	struct buf b = {0};
	size_t n = 0;

	if (core->base64_decode(b64, len, buf, sizeof(buf) - 1, &n) == 0) {
		buf[n] = '\0';
		authz = buf;
		authc = memchr(buf, '\0', n);
		if (authc != NULL)
			pass = memchr(authc + 1, '\0',
				      n - (size_t)(authc + 1 - buf));
		if (pass != NULL &&
		    memchr(pass + 1, '\0', n - (size_t)(pass + 1 - buf)))
			pass = NULL;
		if (pass != NULL) {
			authc++;
			pass++;
			if (authz[0] != '\0' && strcasecmp(authz, authc) != 0) {
				core->auth_log_failure(
					"managesieve", authc, ip,
					"authorization identity refused");
				bresp(&b, "NO", NULL,
				      "Cannot act as another user");
				flush(s, &b);
				return;
			}
			s->busy = 1;
			core->conn_suspend(s->c);
			core->auth_login(authc, pass, "managesieve", ip,
					 login_done, s);
			core->secure_zero(buf, sizeof(buf));
			return;
		}
	}
	core->auth_log_failure("managesieve", "", ip, "bad SASL PLAIN");
	bresp(&b, "NO", NULL, "Invalid SASL PLAIN response");
	flush(s, &b);
}

static void cmd_authenticate(struct ms_sess *s, struct ms_cmd *cmd)
{
	struct buf b = {0};

	if (s->authed) {
		bresp(&b, "NO", NULL, "Already authenticated");
	} else if (cleartext_blocked(s)) {
		bresp(&b, "NO", "ENCRYPT-NEEDED", "Use STARTTLS first");
	} else if (cmd->nargs < 1 || strcasecmp(cmd->args[0].s, "PLAIN") != 0) {
		bresp(&b, "NO", NULL, "Unsupported mechanism");
	} else if (cmd->nargs == 2) {
		sasl_plain(s, cmd->args[1].s, cmd->args[1].n);
		return;
	} else {
		/* an empty challenge; the response comes as a string */
		s->sasl_wait = 1;
		bput(&b, "\"\"\r\n", 4);
	}
	flush(s, &b);
}

/* ---- dispatch ------------------------------------------------------- */

static void dispatch(struct ms_sess *s, struct ms_cmd *cmd)
{
	const struct rmail_core *core = s->m->core;
	struct buf b = {0};
	struct rmail_err err;

	if (strcmp(cmd->name, "CAPABILITY") == 0) {
		capabilities(s, &b);
		bresp(&b, "OK", NULL, NULL);
	} else if (strcmp(cmd->name, "LOGOUT") == 0) {
		bresp(&b, "OK", NULL, "Bye");
		s->closing = 1;
	} else if (strcmp(cmd->name, "NOOP") == 0) {
		if (cmd->nargs == 1) {
			bput(&b, "OK (TAG ", 8);
			bstr(&b, cmd->args[0].s, cmd->args[0].n);
			bput(&b, ") \"Done\"\r\n", 10);
		} else {
			bresp(&b, "OK", NULL, "Done");
		}
	} else if (strcmp(cmd->name, "STARTTLS") == 0) {
		rmail_err_clear(&err);
		if (core->conn_is_tls(s->c)) {
			bresp(&b, "NO", NULL, "TLS already active");
		} else if (core->conn_starttls(s->c, &err) < 0) {
			/* input behind STARTTLS must never run as if it
			 * came encrypted */
			bresp(&b, "BYE", NULL, err.msg);
			s->closing = 1;
		} else {
			bresp(&b, "OK", NULL, "Begin TLS negotiation now");
		}
	} else if (strcmp(cmd->name, "AUTHENTICATE") == 0) {
		cmd_authenticate(s, cmd);
	} else if (!s->authed) {
		bresp(&b, "NO", NULL, "Authenticate first");
	} else if (strcmp(cmd->name, "UNAUTHENTICATE") == 0) {
		s->authed = 0;
		s->user[0] = '\0';
		bresp(&b, "OK", NULL, NULL);
	} else {
		start_job(s, cmd);
		return;
	}
	ms_cmd_free(cmd);
	flush(s, &b);
}

static int ms_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct ms_sess *s = session;
	const struct rmail_core *core = s->m->core;
	size_t max_lit = (size_t)conf(s)->max_script_size + 4096;

	(void)ctx;
	while (!s->busy && !s->closing) {
		const char *data;
		size_t len = core->conn_peek(c, &data), used = 0;
		struct ms_cmd cmd;
		struct buf b = {0};
		int rc;

		if (len == 0)
			break;
		if (s->sasl_wait) {
			/* the response: one string, or "*" to cancel */
			char *line = malloc(len + 3);

			memcpy(line, "X ", 2);
			memcpy(line + 2, data, len);
			rc = ms_parse(line, len + 2, 4096, &cmd, &used);
			free(line);
			if (rc == MS_INCOMPLETE)
				break;
			core->conn_consume(c, used > 2 ? used - 2 : len);
			s->sasl_wait = 0;
			if (rc == MS_OK && cmd.nargs == 1)
				sasl_plain(s, cmd.args[0].s, cmd.args[0].n);
			else {
				bresp(&b, "NO", NULL,
				      "Authentication cancelled");
				flush(s, &b);
			}
			ms_cmd_free(&cmd);
			continue;
		}
		rc = ms_parse(data, len, max_lit, &cmd, &used);
		if (rc == MS_INCOMPLETE) {
			if (len > max_lit + 8192) {
				bresp(&b, "BYE", NULL, "Line too long");
				flush(s, &b);
				return RMAIL_CLOSE;
			}
			break;
		}
		if (rc == MS_TOOBIG) {
			bresp(&b, "BYE", "QUOTA/MAXSIZE", "Script too big");
			flush(s, &b);
			return RMAIL_CLOSE;
		}
		core->conn_consume(c, used);
		if (rc == MS_BAD) {
			bresp(&b, "NO", NULL, "Syntax error");
			flush(s, &b);
			continue;
		}
		dispatch(s, &cmd);
	}
	return s->closing && !s->busy ? RMAIL_CLOSE : RMAIL_OK;
}

static int ms_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct rmail_mctx *m = ctx;
	struct ms_sess *s = m->core->pcalloc(m->core->conn_pool(c), sizeof(*s));
	struct buf b = {0};

	s->m = m;
	s->c = c;
	*session_r = s;
	m->core->conn_set_timeout(c, conf(s)->idle_timeout);
	capabilities(s, &b);
	bresp(&b, "OK", NULL, "rmail ManageSieve ready");
	flush(s, &b);
	return 0;
}

/* RFC 5804 section 2.2: the capabilities again after the handshake */
static void ms_tls_ready(void *ctx, struct rmail_conn *c, void *session)
{
	struct ms_sess *s = session;
	struct buf b = {0};

	(void)ctx;
	(void)c;
	capabilities(s, &b);
	bresp(&b, "OK", NULL, "TLS active");
	flush(s, &b);
}

static void ms_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	struct ms_sess *s = session;
	struct buf b = {0};

	(void)ctx;
	(void)c;
	bresp(&b, "BYE", NULL, "Idle timeout");
	flush(s, &b);
}

static void ms_close(void *ctx, struct rmail_conn *c, void *session, int reason)
{
	(void)ctx;
	(void)c;
	(void)session;
	(void)reason;
}

static const struct rmail_proto_ops ms_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = ms_accept,
	.ctx_input = ms_input,
	.ctx_tls_ready = ms_tls_ready,
	.ctx_timeout = ms_timeout,
	.ctx_close = ms_close,
};

static int ms_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct ms_conf *cf = m->conf;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "managesieve",
		.tls = RMAIL_TLS_NONE,
		.max_line = 8192,
		.idle_timeout = cf->idle_timeout,
	};
	struct rmail_proto_ops ops = ms_ops;

	ops.ctx = m;
	return m->core->listen(m, "listen", &cf->listen, &ops, &o, err);
}

RMAIL_MODULE_DEFINE(managesieve, RMAIL_KIND_PROTOCOL, "1.0",
		    .section = "managesieve", .conf_keys = ms_keys,
		    .conf_size = sizeof(struct ms_conf), .start = ms_start);
