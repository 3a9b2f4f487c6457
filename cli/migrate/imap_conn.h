/*
 * The IMAP client connection of `rmail import imap`: TCP, TLS or
 * STARTTLS through OpenSSL (certificate and host name verified unless
 * told otherwise), LOGIN, and tagged commands whose untagged responses
 * go to a callback.  Responses are read with imap_resp.h's limits.
 */
#ifndef RM_IMAP_CONN_H
#define RM_IMAP_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/err.h>

#include "imap_resp.h"

enum rm_imc_tls {
	RM_IMC_PLAIN,
	RM_IMC_TLS,	 /* implicit TLS (993) */
	RM_IMC_STARTTLS, /* 143, then STARTTLS */
};

struct rm_imc_opts {
	const char *host;
	unsigned port;
	enum rm_imc_tls tls;
	bool insecure;	    /* no certificate verification */
	const char *ca;	    /* trust only this PEM file, else the system */
	size_t literal_max; /* the largest message accepted */
	int timeout_s;	    /* per read or write */
};

struct rm_imc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct rm_imr rd;
	unsigned seq;
	bool broken;	 /* the stream is unusable: no LOGOUT */
	char caps[1024]; /* " CAP1 CAP2 ", upper case */
	char err[512];
	uint64_t bytes_in;
};

/* the untagged responses of a command; -1 (with c->err set) stops it */
typedef int (*rm_imc_fn)(void *arg, struct rm_imc *c,
			 const struct rm_imr_resp *r);

/* connect, TLS, greeting, capabilities: 0 or -1 with c->err */
int rm_imc_open(struct rm_imc *c, const struct rm_imc_opts *o);
int rm_imc_login(struct rm_imc *c, const char *user, const char *pass);
/* "tN <command>": 0 on OK, -1 with c->err on NO/BAD or a broken
 * stream (c->broken) */
int rm_imc_cmd(struct rm_imc *c, rm_imc_fn fn, void *arg, const char *fmt, ...)
	RMAIL_PRINTF(4, 5);
bool rm_imc_has_cap(const struct rm_imc *c, const char *cap);
/* LOGOUT when the stream is sound, then close */
void rm_imc_close(struct rm_imc *c);
/* `s` as an IMAP quoted string into out; -1 when it has CR, LF, NUL or
 * does not fit */
int rm_imc_quote(const char *s, char *out, size_t outsz);

#endif
