/*
 * The password hash schemes a user.json may hold: crypt(3) strings as
 * rmail writes them, and Dovecot's "{SCHEME}data" forms that a
 * migration brings along (pwscheme.c).
 */
#ifndef SS_PWSCHEME_H
#define SS_PWSCHEME_H

#include <stddef.h>
#include <stdint.h>

enum ss_pw_verdict {
	SS_PW_MISMATCH = 0,
	SS_PW_MATCH = 1,
	SS_PW_UNSUPPORTED = -1, /* a scheme we do not verify */
	SS_PW_MALFORMED = -2,	/* a known scheme, broken data */
	SS_PW_TOO_COSTLY = -3,	/* over a configured cost cap */
};

/* What verification may spend on one hash; a hash asking for more is
 * refused rather than run (an imported hash is untrusted input). */
struct ss_pw_limits {
	uint32_t argon2_max_kib;    /* argon2 m_cost */
	uint32_t argon2_max_lanes;  /* argon2 p */
	uint32_t argon2_max_passes; /* argon2 t */
	uint32_t pbkdf2_max_rounds; /* PBKDF2, SCRAM */
};

#define SS_PW_ARGON2_MAX_KIB_DEFAULT (256u * 1024)
#define SS_PW_LIMITS_DEFAULT                                                   \
	{                                                                      \
		SS_PW_ARGON2_MAX_KIB_DEFAULT, 16, 64, 1000000                  \
	}

/* Compare pw with stored in constant time; scheme_r (may be NULL) gets
 * the scheme's name as written, for the log. */
int ss_pw_verify(const char *pw, const char *stored,
		 const struct ss_pw_limits *lim, char *scheme_r,
		 size_t schemesz);
/* 1 when stored is in the scheme new hashes get (no rehash needed) */
int ss_pw_is_default(const char *stored, const char *default_prefix);
/* 0 when stored may be written to user.json: a scheme ss_pw_verify
 * knows, well formed, and not a plaintext one; else the verdict */
int ss_pw_storable(const char *stored);

#endif
