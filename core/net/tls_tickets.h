/* TLS session ticket keys derived from a secret every process shares
 * (tls_tickets.c). */
#ifndef RM_TLS_TICKETS_H
#define RM_TLS_TICKETS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include <rmail/err.h>

/* a key period: tickets live one to two of them */
#define RM_TICKET_PERIOD (12 * 3600)

/* create the secret file (48 random bytes, 0600) when it is missing */
int rm_ticket_secret_ensure(const char *path, int uid, int gid,
			    struct rmail_err *err);
/* issue and accept tickets of ctx with keys derived from the file */
int rm_ticket_keys_use(SSL_CTX *ctx, const char *path, struct rmail_err *err);
/* the keys of one period (tests check that they rotate) */
int rm_ticket_keys_for(const void *secret, size_t len, uint64_t period,
		       unsigned char name[16], unsigned char aes[32],
		       unsigned char hmac[32]);

#endif
