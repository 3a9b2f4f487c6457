/*
 * `rmail diagnose` internals: the run state shared by the phases
 * (diag_*.c) and the small blocking clients they use (diag_client.c).
 * Only the CLI links these; the daemon never calls them.
 */
#ifndef RM_DIAG_INT_H
#define RM_DIAG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cli.h"

#define DG_PREFIX "rmail-diag-"
#define DG_TIMEOUT 10.0
#define DG_MAX_SENT 8
#define DG_MAX_ALIASES 8

enum dg_status { DG_PASS, DG_WARN, DG_FAIL };

struct diag {
	struct rm_config *conf;
	const struct rmail_store_ops *ops;
	void *h;
	bool json;
	int only_phase; /* 0: all */
	json_t *out_checks, *out_phases;
	unsigned nchecks, nfail, nwarn;
	int phase;

	char domain[256];
	char tag[16];			/* random part of this run's names */
	char user[RMAIL_ADDR_MAX + 1];	/* the diagnostic user */
	char user2[RMAIL_ADDR_MAX + 1]; /* a non-admin second user */
	char pass[48];
	bool have_user; /* created and usable */

	/* subjects of the messages phase 4 sent to the user's INBOX */
	char sent[DG_MAX_SENT][96];
	size_t nsent;
	bool bounce_expected; /* the .invalid bounce */

	/* endpoints ("host:port", "" when not configured) */
	char smtp[80], submission[80], smtps[80];
	char imap[80], imaps[80], api[80], api_tls[80];
	const char *cert_file; /* the certificate the server uses */
	bool mod_smtp, mod_imap, mod_exchange;
};

void dg_check(struct diag *d, enum dg_status st, const char *id,
	      const char *fmt, ...) RMAIL_PRINTF(4, 5);
/* the module's config section value at a dotted path (json_t *) */
json_t *dg_conf_get(struct diag *d, const char *section, const char *path);
/* create the diagnostic users once (phase 2 checks them) */
int dg_ensure_users(struct diag *d);
/* subject tag unique to this run */
void dg_subject(struct diag *d, const char *what, char *out, size_t sz);

/* an IMAP session logged in as addr over TLS (993, else STARTTLS on
 * 143), INBOX not selected; NULL after a FAIL line */
struct dg_conn *dg_imap_login(struct diag *d, const char *addr);
/* a message to the diagnostic user through port 25; 0 on 250 */
int dg_smtp_send25(struct diag *d, const char *subject);

/* phases */
void dg_phase_config(struct diag *d);
void dg_phase_users(struct diag *d);
void dg_phase_store(struct diag *d);
void dg_phase_smtp(struct diag *d);
void dg_phase_delivery(struct diag *d);
void dg_phase_imap(struct diag *d);
void dg_phase_api(struct diag *d);
void dg_phase_cleanup(struct diag *d);

/* ---- diag_client.c: blocking line/TLS/HTTP clients ------------- */
struct dg_conn;

struct dg_conn *dg_connect(const char *hostport, bool tls, char *why,
			   size_t whysz);
void dg_close(struct dg_conn **c);
/* IPv4 source address of later connections (NULL: the default) */
void dg_client_source(const char *ip);
int dg_starttls(struct dg_conn *c, char *why, size_t whysz);
bool dg_is_tls(struct dg_conn *c);
/* 1 when the peer certificate equals the one in cert_file, 0 when it
 * differs, -1 when either cannot be read */
int dg_peer_cert_is(struct dg_conn *c, const char *cert_file);
int dg_write(struct dg_conn *c, const void *data, size_t n);
/* the line and CRLF */
int dg_printf(struct dg_conn *c, const char *fmt, ...) RMAIL_PRINTF(2, 3);
/* one line without CRLF; -1 on EOF or timeout */
int dg_readline(struct dg_conn *c, char *line, size_t sz, double timeout);
int dg_read_n(struct dg_conn *c, char *buf, size_t n, double timeout);
/* an SMTP reply: its code (-1 on EOF); every line joined with '\n' */
int dg_smtp_reply(struct dg_conn *c, char *text, size_t sz);
int dg_smtp(struct dg_conn *c, char *text, size_t sz, const char *fmt, ...)
	RMAIL_PRINTF(4, 5);
/* an IMAP command with a fresh tag; every response line (literals
 * inline) in out; returns 0 OK, 1 NO, 2 BAD, -1 EOF/timeout */
int dg_imap(struct dg_conn *c, char *out, size_t sz, const char *fmt, ...)
	RMAIL_PRINTF(4, 5);

/* diag_proxy.c: listeners named in proxy_protocol.listeners get a PROXY
 * v2 header with the connection's own addresses before anything else */
void dg_norm_addr(const char *listen, char *out, size_t sz);
void dg_proxy_mark(struct diag *d);
bool dg_proxy_wanted(const char *hostport);
int dg_proxy_send(int fd, char *why, size_t whysz);
/* the config phase's line on them */
void dg_proxy_check(struct diag *d);

struct dg_http {
	int status; /* -1: no answer */
	char *head; /* status line and fields, malloc'd */
	char *body; /* NUL-terminated, malloc'd */
	size_t body_len;
};
int dg_http_req(const char *hostport, bool tls, const char *method,
		const char *path, const char *headers, const char *body,
		size_t body_len, struct dg_http *r);
void dg_http_free(struct dg_http *r);
/* diag_parse.c: a whole response (read to EOF) into r; -1 when it is
 * not HTTP/1.x or its chunked body is broken (r then holds nothing) */
int dg_http_parse(const char *raw, size_t len, struct dg_http *r);
/* the n of a "{n}" or "{n+}" ending an IMAP line, else -1 */
long dg_literal_size(const char *line);
/* a header field's value (first one) into out; false when absent */
bool dg_http_header(const struct dg_http *r, const char *name, char *out,
		    size_t sz);

#endif
