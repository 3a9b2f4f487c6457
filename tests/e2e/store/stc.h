/*
 * Helpers of the issue-13 tests: a daemon with SMTP, IMAP and the HTTP
 * API on one mail root, optionally with the fault shim preloaded, and
 * one-call clients that return the reply class the test asserts on.
 */
#ifndef STC_H
#define STC_H

#include <stdbool.h>

#include "../exchange/exhc.h"
#include "../imap/imap_client.h"
#include "harness.h"

struct std {
	struct imd d; /* h and the IMAP port */
	guint smtp, http;
	char *ctl; /* the fault control file, NULL without the shim */
};

#define STD_PW "pw-secret"

/* a configured daemon, not started; users get added before the start */
struct std *std_new(bool faults);
void std_user(struct std *s, const char *addr, int quota_mb);
void std_start(struct std *s);
void std_free(struct std *s);
/* replace the fault rules ("" = none) */
void std_faults(struct std *s, const char *rules);

/* one SMTP transaction; returns the first reply that is not 2xx/3xx
 * (or the final 250), and its text in *line_r when given */
int std_smtp(struct std *s, const char *from, const char *const *rcpts,
	     const char *mail_params, const char *body, char **line_r);
/* MESSAGES of a user's mailbox through IMAP STATUS; -1 when refused */
int std_count(struct std *s, const char *user, const char *mbox);
/* a message with a Subject and `pad` bytes of body */
char *std_message(const char *from, const char *to, const char *subject,
		  size_t pad);

#endif
