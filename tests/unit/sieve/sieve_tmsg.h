/* Test support for the Sieve library: a raw message split into header
 * fields and body behind struct sieve_env's callbacks, and a result
 * printed as one line ("fileinto A; redirect b@c; implicit-keep"). */
#ifndef SIEVE_TMSG_H
#define SIEVE_TMSG_H

#include "sieve.h"

struct tmsg {
	char *names[128];
	char *values[128];
	size_t nh;
	char *body;
	const char *vals[128];
	struct sieve_str parts[1];
	const char *mailboxes; /* space separated, for mailboxexists */
};

void tmsg_init(struct tmsg *m, const char *raw);
void tmsg_free(struct tmsg *m);
void tmsg_env(struct tmsg *m, struct sieve_env *env, const char *from,
	      const char *to);
/* run `script` on `raw`; returns the malloc'd result line, or
 * "COMPILE: <error>" / "ERROR: <error>" */
char *tmsg_run(const char *script, const char *raw, const char *from,
	       const char *to);
char *tmsg_result(const struct sieve_result *res, int rc);

#endif
