/*
 * One line of a Dovecot passwd-file or of /etc/shadow, for rmail import
 * passwd (pwfile.c).  Pure: no store, no allocation, fuzzed as is.
 */
#ifndef RM_PWFILE_H
#define RM_PWFILE_H

#include <stddef.h>
#include <stdint.h>

#define RM_PW_USER_MAX 320
#define RM_PW_HASH_MAX 256

enum rm_pw_kind {
	RM_PW_HASH,  /* hash: a hash the store keeps as written */
	RM_PW_PLAIN, /* hash: the password itself, to be hashed */
	RM_PW_NONE,  /* locked or without a password */
};

struct rm_pw_entry {
	char user[RM_PW_USER_MAX + 1];
	char hash[RM_PW_HASH_MAX];
	char scheme[32];  /* for the report: "SSHA512", "CRYPT" ... */
	int kind;	  /* enum rm_pw_kind */
	int64_t quota_mb; /* from userdb_quota_rule, -1 when none */
	const char *why;  /* when refused */
};

/* 1 an entry, 0 nothing (blank line, comment), -1 refused with e->why */
int rm_pw_parse_line(const char *line, size_t len, struct rm_pw_entry *e);

#endif
