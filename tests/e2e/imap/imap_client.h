/*
 * Small IMAP helpers over the e2e harness: a daemon with mod_shardstore
 * and mod_imap on ephemeral ports, users made with `rmail user add`, and
 * a client that runs one tagged command and collects its responses.
 */
#ifndef IMAP_CLIENT_H
#define IMAP_CLIENT_H

#include <glib.h>
#include <stdbool.h>

#include "harness.h"

struct imd {
	struct rmh *h;
	guint port, tls_port;
};

/* start a daemon; `extra` is more JSON for the "imap" section ("" ok) */
struct imd *imd_start(const char *extra);
/* imd_start in two steps, for tests that set more keys in between */
struct imd *imd_config(const char *extra);
void imd_launch(struct imd *d);
void imd_stop(struct imd *d);
/* `rmail user add` before or after the start; quota_mb 0 = default */
void imd_user(struct imd *d, const char *addr, const char *pass, int quota_mb);

struct imc {
	struct rmh_conn *c;
	unsigned seq;
};

/* connect and read the greeting (returned in *greet_r when given) */
struct imc *imc_connect(struct imd *d, bool tls, char **greet_r);
struct imc *imc_login(struct imd *d, const char *user, const char *pass);
/* a new user NAME@example.test (password "pw-secret"), logged in */
struct imc *imc_fresh(struct imd *d, const char *name);
void imc_close(struct imc *c);
/*
 * Send "tN <cmd>" and read up to the tagged reply; every line (literal
 * data included, verbatim) goes into the result, the tagged line last.
 * NULL on EOF.  The caller frees it.
 */
char *imc_cmd(struct imc *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* the same, asserting the tagged status starts with `status` ("OK") */
char *imc_ok(struct imc *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* read lines (literals verbatim) until one starts with prefix */
char *imc_until(struct imc *c, const char *prefix, double timeout);

/* expectations on a reply (NULL: none came); the reply is shown when
 * one fails */
#define has(r, s)                                                              \
	do {                                                                   \
		const char *r_ = (r);                                          \
		if (r_ == NULL || strstr(r_, (s)) == NULL)                     \
			g_test_message("reply: %s", r_ ? r_ : "(none)");       \
		g_assert_nonnull(r_);                                          \
		g_assert_nonnull(strstr(r_, (s)));                             \
	} while (0)
#define hasnt(r, s)                                                            \
	do {                                                                   \
		const char *r_ = (r);                                          \
		if (r_ != NULL && strstr(r_, (s)) != NULL)                     \
			g_test_message("reply: %s", r_);                       \
		g_assert_true(r_ == NULL || strstr(r_, (s)) == NULL);          \
	} while (0)

#endif
