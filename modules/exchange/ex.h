/* mod_exchange internals shared by the session, router and handlers. */
#ifndef EX_H
#define EX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <rmail/rmail.h>

#include "http_parser.h"

#define EX_SECRET_MAX 512
#define EX_TOKEN_MAX 4096
#define EX_PER_PAGE_MAX 200

struct ex_conf {
	struct rmail_strlist listen;
	struct rmail_strlist tls_listen;
	const char *token_secret;
	double token_ttl;
	struct rmail_strlist cors_origins;
	struct rmail_strlist trusted_proxies;
	int allow_remote_cleartext_login;
	int64_t lockout_account_ip;
	int64_t lockout_ip;
	double lockout_window;
	uint64_t max_body_size;
	uint64_t max_header_size;
	struct rmail_strmap advertise;
	double request_timeout;
	uint64_t body_min_rate; /* bytes per second, 0: none */
	double idle_timeout;
};

struct ex_mod {
	struct rmail_mctx *m;
	const struct rmail_core *core;
	unsigned char secret[EX_SECRET_MAX];
	size_t secret_len;
	int random_secret;
	int started;
};

/* the config in force (m->conf follows a reload) */
static inline const struct ex_conf *ex_conf(const struct ex_mod *mod)
{
	return mod->m->conf;
}

struct ex_req;
typedef void (*ex_handler_fn)(struct ex_req *r);

/* One request: lives in its own pool, freed after the response. */
struct ex_req {
	/* the module's state, the ctx of the listener (kept by the
	 * session): the one way to the core, r->mod->core */
	struct ex_mod *mod;
	struct ex_sess *s;
	struct rmail_conn *c;
	struct rmail_pool *pool;
	int method; /* enum http_method */
	char *method_str;
	char *path;  /* raw, before percent-decoding */
	char *query; /* NULL when absent */
	size_t nhdr;
	char **hname, **hval;
	char *origin; /* Origin header, NULL when absent */
	int keep_alive;
	/* the body, when the route wants it */
	char *body;
	size_t body_len, body_cap;
	/* routing */
	ex_handler_fn handler;
	int needs_auth;
	char *params[3]; /* percent-decoded path segments */
	/* after authentication */
	struct rmail_user user;
	const char *rip; /* client IP (X-Forwarded-For aware) */
	int responded;
};

/* session.c */
const char *ex_header(const struct ex_req *r, const char *name);
const char *ex_query(struct ex_req *r, const char *key);
void ex_respond(struct ex_req *r, int status, const char *ctype,
		const void *body, size_t len, const char *extra_headers);
void ex_json(struct ex_req *r, int status, json_t *j); /* steals j */
void ex_error(struct ex_req *r, int status, const char *msg);
/* for async handlers: keeps the connection alive; ex_async_done tells
 * whether the request can still be answered */
void ex_async_begin(struct ex_req *r);
int ex_async_end(struct ex_req *r);
/* the 1.2 layout: ctx is the struct ex_mod, set by the caller of
 * listen */
extern const struct rmail_proto_ops ex_proto_ops;

/* router.c */
int ex_route(struct ex_req *r, int *status_r, const char **allow_r);
int ex_pct_decode(char *s, int plus_is_space);

/* cors.c */
int ex_cors_allowed(const struct ex_mod *mod, const char *origin);
const char *ex_cors_headers(struct ex_req *r, int preflight);

/* api_auth.c */
void ex_api_login(struct ex_req *r);
int ex_authenticate(struct ex_req *r);
const char *ex_client_ip(struct ex_req *r);
int ex_lockout_control(void *arg, int argc, const char *const *argv, char *out,
		       size_t outsz);
int ex_lockout_list(void *arg, int argc, const char *const *argv, char *out,
		    size_t outsz);

/* handlers */
void ex_api_folders(struct ex_req *r);
void ex_api_messages(struct ex_req *r);
void ex_api_message(struct ex_req *r);
void ex_api_attachment(struct ex_req *r);
void ex_api_flags(struct ex_req *r);
void ex_api_append(struct ex_req *r);
void ex_api_send(struct ex_req *r);
void ex_api_aliases_get(struct ex_req *r);
void ex_api_aliases_post(struct ex_req *r);
void ex_api_aliases_delete(struct ex_req *r);

/* api_settings.c */
void ex_api_settings_get(struct ex_req *r);
void ex_api_settings_post(struct ex_req *r);
/* api_sieve.c */
void ex_api_sieve_list(struct ex_req *r);
void ex_api_sieve_get(struct ex_req *r);
void ex_api_sieve_put(struct ex_req *r);
void ex_api_sieve_delete(struct ex_req *r);
void ex_api_sieve_activate(struct ex_req *r);
void ex_api_sieve_deactivate(struct ex_req *r);
void ex_api_vacation_get(struct ex_req *r);
void ex_api_vacation_post(struct ex_req *r);
void ex_autoconfig(struct ex_req *r);
void ex_autodiscover(struct ex_req *r);
void ex_healthz(struct ex_req *r);

/* api_messages.c, shared with the search (api_search.c) */
/* [loop] the request's folder (params[0]) opened and refreshed; -1
 * with the 404/503 answered */
int ex_open_mbox(struct ex_req *r, struct rmail_mbox **mb_r);
/* [worker] up to max bytes of the message, NUL-terminated (free) */
char *ex_read_msg(const struct ex_mod *mod, struct rmail_mbox *mb, uint32_t uid,
		  uint64_t max, size_t *len_r);
/* [worker] the list's JSON for one message from its bytes (NULL buf:
 * the view's fields only) */
json_t *ex_msg_summary(const struct rmail_core *core, const char *buf,
		       size_t len, const struct rmail_msg *m,
		       const char *const *kw, size_t nkw);
/* [loop] the view's keyword table copied into the request's pool */
size_t ex_copy_keywords(struct ex_req *r, struct rmail_mbox *mb,
			const char *const **kw_r);
/* api_search.c */
void ex_api_search(struct ex_req *r);

/* folder counts cache (api_folders.c) */
void ex_folders_fini(const struct ex_mod *mod);
void ex_folders_invalidate(const char *user, const char *name);

/* autodiscover.c: the bounded EMailAddress scanner (pure) */
int ex_autodiscover_email(const char *body, size_t len, char *out,
			  size_t outsz);

/* session.c: the request body as JSON; 400 answered on NULL */
json_t *ex_json_parse(struct ex_req *r);

/* ex_json.c: pure helpers (fuzzed) */
json_t *ex_json_load(const char *data, size_t len);
/* an address string or {"name","address"} object; 0 with the address
 * (no CR/LF/NUL, one '@', bounded) in *addr_r, -1 otherwise */
int ex_json_addr(const json_t *v, const char **name_r, const char **addr_r);
int ex_str_safe(const char *s);
void ex_rfc3339(int64_t t, char *buf, size_t sz);
json_t *ex_flags_json(uint32_t flags, uint64_t kw, const char *const *names,
		      size_t nnames);
int ex_flag_from_str(const char *s, uint32_t *flag_r);
const char *ex_special_use_str(uint32_t su);

/* disposition.c: "Content-Disposition: attachment; filename=..."
 * with CRLF for a hostile file name (ASCII fallback, RFC 6266
 * filename* for UTF-8); returns the length written */
#define EX_DISPOSITION_MAX 2800
size_t ex_content_disposition(const char *filename, char *out, size_t outsz);

#endif
