/*
 * HS256 tokens through libjwt 1.10, which needs care: jwt_decode()
 * accepts "alg":"none" when no key is given and never checks "exp".  So
 * we always decode with the key, insist on HS256 ourselves and check the
 * time claims ("exp", and "nbf" when present) ourselves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "rm.h"

#define JWT_MAX_TOKEN 4096
/* Clock skew allowed on "exp" and "nbf" alike; rmail signs its own tokens,
 * so there is no other clock to forgive. */
#define JWT_LEEWAY_S 0

int rm_jwt_sign(const void *key, size_t keylen,
		const struct rmail_jwt_claims *claims, char *out, size_t outsz,
		struct rmail_err *err)
{
	struct rmail_jwt_claims copy, *c = &copy;
	jwt_t *jwt = NULL;
	char *tok = NULL;
	int ret = -1;
	size_t n;

	if (claims->size < RMAIL_JWT_CLAIMS_SIZE_1_0)
		return rmail_err_set(
			err, RMAIL_E_INVAL,
			"rmail_jwt_claims size %u is below ABI 1.0",
			claims->size);
	copy.size = (uint32_t)rmail_sized_copy(&copy, sizeof(copy), claims,
					       claims->size);
	if (key == NULL || keylen == 0 || keylen > INT32_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL, "empty token key");
	if (jwt_new(&jwt) != 0)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "jwt_new failed");
	if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen) != 0 ||
	    jwt_add_grant(jwt, "sub", c->sub) != 0 ||
	    jwt_add_grant_int(jwt, "gen", (long)c->gen) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)c->iat) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)c->exp) != 0) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "cannot build the token");
		goto out;
	}
	tok = jwt_encode_str(jwt);
	if (tok == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "cannot sign the token");
		goto out;
	}
	n = strlen(tok);
	if (n + 1 > outsz) {
		rmail_err_set(err, RMAIL_E_TOOBIG, "token longer than %zu",
			      outsz);
		goto out;
	}
	memcpy(out, tok, n + 1);
	ret = 0;
out:
	if (tok != NULL) {
		rm_secure_zero(tok, strlen(tok));
		free(tok);
	}
	jwt_free(jwt);
	return ret;
}

/*
 * "nbf" is optional (RFC 7519 4.1.5), but when present it must be an
 * integer: libjwt's jwt_get_grant_int() reads a string or a float as 0
 * without setting errno, so we look at the JSON text ourselves.
 * Returns 1 with *nbf_r set, 0 when absent, -1 when malformed.
 */
static int jwt_nbf(jwt_t *jwt, int64_t *nbf_r)
{
	char *js = jwt_get_grants_json(jwt, "nbf");
	char *end;
	long long v;
	int ret = -1;

	if (js == NULL)
		return 0;
	errno = 0;
	v = strtoll(js, &end, 10);
	if (js[0] != '\0' && (js[0] == '-' || (js[0] >= '0' && js[0] <= '9')) &&
	    *end == '\0' && errno == 0) {
		*nbf_r = (int64_t)v;
		ret = 1;
	}
	free(js);
	return ret;
}

int rm_jwt_verify(const void *key, size_t keylen, const char *token,
		  struct rmail_jwt_claims *claims_r, struct rmail_err *err)
{
	/* filled here, then written back at the caller's size */
	struct rmail_jwt_claims local = {.size = sizeof(local)}, *c_r = &local;
	uint32_t cap = claims_r->size;
	jwt_t *jwt = NULL;
	const char *sub;
	long gen, iat, exp;
	int64_t nbf;
	int64_t now = (int64_t)time(NULL);
	int ret = -1;

	if (cap < RMAIL_JWT_CLAIMS_SIZE_1_0)
		return rmail_err_set(
			err, RMAIL_E_INVAL,
			"rmail_jwt_claims size %u is below ABI 1.0", cap);
	rmail_sized_copy(claims_r, cap, &(struct rmail_jwt_claims){0}, 0);
	claims_r->size = cap;
	if (key == NULL || keylen == 0 || keylen > INT32_MAX)
		return rmail_err_set(err, RMAIL_E_AUTH, "no token key");
	if (token == NULL || strnlen(token, JWT_MAX_TOKEN + 1) > JWT_MAX_TOKEN)
		return rmail_err_set(err, RMAIL_E_AUTH, "token too long");
	if (jwt_decode(&jwt, token, key, (int)keylen) != 0 || jwt == NULL)
		return rmail_err_set(err, RMAIL_E_AUTH, "invalid token");
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		rmail_err_set(err, RMAIL_E_AUTH, "token not signed with HS256");
		goto out;
	}
	sub = jwt_get_grant(jwt, "sub");
	errno = 0;
	gen = jwt_get_grant_int(jwt, "gen");
	if (errno != 0)
		goto bad;
	iat = jwt_get_grant_int(jwt, "iat");
	if (errno != 0)
		goto bad;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || sub == NULL || strlen(sub) > RMAIL_ADDR_MAX ||
	    gen < 0)
		goto bad;
	if ((int64_t)exp + JWT_LEEWAY_S <= now) {
		rmail_err_set(err, RMAIL_E_AUTH, "token expired");
		goto out;
	}
	switch (jwt_nbf(jwt, &nbf)) {
	case -1:
		goto bad;
	case 1:
		if (nbf - JWT_LEEWAY_S > now) {
			rmail_err_set(err, RMAIL_E_AUTH, "token not yet valid");
			goto out;
		}
	}
	memcpy(c_r->sub, sub, strlen(sub) + 1);
	c_r->gen = (uint64_t)gen;
	c_r->iat = iat;
	c_r->exp = exp;
	claims_r->size = (uint32_t)rmail_sized_copy(claims_r, cap, &local,
						    sizeof(local));
	ret = 0;
	goto out;
bad:
	rmail_err_set(err, RMAIL_E_AUTH, "token claims missing or invalid");
out:
	jwt_free(jwt);
	return ret;
}
