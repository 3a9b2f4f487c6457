/*
 * A small HTTP/1.1 client for the mod_exchange e2e tests: plain or TLS,
 * an optional local source address (127.0.0.2 is a loopback peer that
 * is not a trusted proxy), binary-safe bodies, JSON through jansson.
 */
#ifndef EXHC_H
#define EXHC_H
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct exhc;

struct exresp {
	int status;
	char *head; /* the header block, NUL-terminated */
	char *body; /* body_len bytes plus a NUL */
	size_t body_len;
};

/* src: local address to bind, NULL for the default */
struct exhc *exhc_connect(unsigned port, bool tls, const char *src);
void exhc_close(struct exhc *c);
bool exhc_send(struct exhc *c, const void *data, size_t n);
bool exhc_read(struct exhc *c, struct exresp *r);
void exresp_free(struct exresp *r);

/* one request on c (keep-alive); extra: more header lines with CRLF;
 * ctype NULL means application/json when body is given */
struct exresp exhc_req(struct exhc *c, const char *method, const char *path,
		       const char *token, const char *ctype, const char *body,
		       size_t body_len, const char *extra);
/* the same on a fresh connection that is closed afterwards */
struct exresp ex_req(unsigned port, bool tls, const char *src,
		     const char *method, const char *path, const char *token,
		     const char *body, const char *extra);
/* the value of a response header (case-sensitive name), g_free it */
char *exresp_header(const struct exresp *r, const char *name);
/* the body as JSON (json_decref it); asserts it parses */
json_t *exresp_json(const struct exresp *r);
/* POST /api/login; the token (g_free) or NULL, status in *status_r */
char *ex_login(unsigned port, bool tls, const char *src, const char *user,
	       const char *pw, const char *extra, int *status_r);
#endif
