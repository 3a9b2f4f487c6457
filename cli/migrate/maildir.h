/*
 * Maildir++ as Dovecot and Courier write it, for `rmail import` and
 * `rmail export` (core/maildir.c): folder names, message file names,
 * dovecot-keywords and dovecot-uidlist.  Pure code: every function here
 * takes hostile bytes and is fuzzed (tests/fuzz/fuzz_maildir.c).
 */
#ifndef RM_MAILDIR_H
#define RM_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/err.h>

#define RM_MD_KEYWORDS 26 /* 'a' .. 'z' */
#define RM_MD_KEYWORD_MAX 255

/* ".A.B" (a Maildir++ folder directory) to the mailbox "A/B", Dovecot's
 * modified UTF-7 decoded to UTF-8.  -1 when the name is not a folder
 * (no leading '.', an empty level, bad UTF-7, or it does not fit). */
int rm_md_folder_decode(const char *dir, char *out, size_t outsz);
/* The same for any hierarchy delimiter (an IMAP server's LIST
 * delimiter; '\0' for none): "A<delim>B" to "A/B".  A '/' inside a
 * level, an empty level or bad UTF-7 is -1. */
int rm_md_name_decode(const char *name, char delim, char *out, size_t outsz);
/* The reverse: "A/B" to ".A.B"; '.' and '&' and non-ASCII inside a
 * level are written in modified UTF-7.  -1 when it does not fit or the
 * name has an empty level or is not UTF-8. */
int rm_md_folder_encode(const char *mbox, char *out, size_t outsz);

/* What a message file name says: "<base>[:2,<flags>]". */
struct rm_md_name {
	size_t baselen;	    /* the unique part, before ':' */
	uint32_t flags;	    /* enum rmail_flag */
	uint32_t kwletters; /* bit i = letter 'a' + i */
	uint64_t wsize;	    /* ",W=" in the base, 0 if none */
};
/* -1 for names that are not messages (dot files, empty, controls). */
int rm_md_name_parse(const char *name, struct rm_md_name *r);
/* ":2,<flags>" for flags and letters, in the ASCII order Maildir wants */
void rm_md_info_format(uint32_t flags, uint32_t kwletters, char out[40]);

/* dovecot-keywords: "<index> <name>" per line, index 0..25.  names[i]
 * gets a malloc'd copy (or stays NULL).  Bad lines are skipped; returns
 * the number of keywords read. */
size_t rm_md_keywords_parse(const char *text, size_t len,
			    char *names[RM_MD_KEYWORDS]);

/* dovecot-uidlist (versions 1 and 3): calls fn(arg, base, baselen, uid)
 * for each record in file order.  -1 when the header is not one. */
int rm_md_uidlist_parse(const char *text, size_t len,
			void (*fn)(void *arg, const char *base, size_t blen,
				   uint32_t uid),
			void *arg);

/* the UIDVALIDITY of a dovecot-uidlist header ("3 V<uv> N<next> ..."
 * or "1 <uv> <next>"), 0 when it has none */
uint32_t rm_md_uidlist_uidvalidity(const char *text, size_t len);

/* Dovecot's `subscriptions` file at the top of a Maildir++ tree:
 * version 1 is a storage name per line ("A.B", modified UTF-7, as the
 * folder directory without its dot); version 2 starts "V\t2\n\n" and
 * splits levels with a tab, '\\' and two hex digits escaping a byte.
 * Calls fn(arg, mbox) with each mailbox ("A/B" in UTF-8, INBOX as
 * "INBOX"); lines that name no mailbox are skipped.  Returns how many
 * names fn was given. */
size_t rm_md_subscriptions_parse(const char *text, size_t len,
				 void (*fn)(void *arg, const char *mbox),
				 void *arg);

/* A sorted set of strings (ledgers, existing names). */
struct rm_strset {
	char **v;
	size_t n, cap;
	bool sorted;
};
void rm_strset_add(struct rm_strset *s, const char *str, size_t len);
bool rm_strset_has(struct rm_strset *s, const char *str, size_t len);
void rm_strset_free(struct rm_strset *s);

/* allocation helpers that abort on OOM, like rm_xmalloc */
char *rm_md_xasprintf(const char *fmt, ...) RMAIL_PRINTF(1, 2);
char *rm_md_xstrndup(const char *s, size_t n);

/* The store's name encoding of docs/storage.md ("Name encoding"), for
 * the paths of files the CLI keeps next to the store (import ledger).
 * -1 when empty or the result does not fit in 255 bytes. */
int rm_store_name_encode(const char *name, size_t len, char *out, size_t outsz);

#endif
