/*
 * IMAP responses as a client reads them from a server it does not
 * trust (`rmail import imap`): the reader assembles one response (its
 * lines and literals) with every size bounded, the parser splits it into
 * tag, status or data and a tree of values.  Pure code over a byte
 * source: it is fuzzed (tests/fuzz/fuzz_imap_resp.c).
 */
#ifndef RM_IMAP_RESP_H
#define RM_IMAP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RM_IMR_LINE_MAX (64 * 1024)   /* one line between literals */
#define RM_IMR_TEXT_MAX (1024 * 1024) /* all lines of one response */
#define RM_IMR_DEPTH_MAX 32	      /* nested lists */

/* reads up to n bytes into buf: > 0, 0 at EOF, -1 with a message */
typedef ssize_t (*rm_imr_fill_fn)(void *arg, void *buf, size_t n);

enum rm_imv_type {
	RM_IMV_ATOM,   /* also numbers, \Flags, BODY[...]<...> */
	RM_IMV_STRING, /* quoted or literal, unescaped */
	RM_IMV_NIL,
	RM_IMV_LIST,
};

struct rm_imv {
	enum rm_imv_type type;
	const char *s; /* not NUL-terminated */
	size_t len;
	struct rm_imv *child; /* lists */
	struct rm_imv *next;
};

enum rm_imr_kind {
	RM_IMR_UNTAGGED,
	RM_IMR_TAGGED,
	RM_IMR_CONT, /* "+" */
};

struct rm_imr_resp {
	enum rm_imr_kind kind;
	const char *tag;
	size_t taglen;
	bool has_num; /* "* 12 FETCH": num 12, word FETCH */
	uint32_t num;
	const char *word; /* OK, NO, BAD, BYE, PREAUTH, FETCH, LIST ... */
	size_t wordlen;
	bool status;	  /* word is a status: code and text below */
	const char *code; /* "[CODE args]": CODE */
	size_t codelen;
	const char *code_arg; /* args, raw */
	size_t code_arglen;
	const char *text;
	size_t textlen;
	struct rm_imv *vals; /* data: the values after word */
	bool malformed;	     /* the values did not parse */
};

struct rm_imr_block;

struct rm_imr {
	size_t literal_max; /* all literals of one response */
	rm_imr_fill_fn fill;
	void *arg;
	char in[16384]; /* bytes read, not yet used */
	size_t inoff, inlen;
	char *buf; /* the response being assembled */
	size_t len, cap;
	size_t text, lits; /* bytes of lines and literals */
	struct rm_imr_block *blocks;
	char err[160];
};

void rm_imr_init(struct rm_imr *r, size_t literal_max, rm_imr_fill_fn fill,
		 void *arg);
void rm_imr_free(struct rm_imr *r);
/* Reads and parses the next response; it lives until the next call.
 * 0, or -1 with r->err ("connection closed", "literal of N bytes over
 * the limit" ...): after -1 the stream is out of step, drop it. */
int rm_imr_next(struct rm_imr *r, struct rm_imr_resp *resp);
/* Parses one assembled response (its CRLF-ended lines and literals,
 * without the final CRLF); the parse the reader runs.  Writes into buf
 * (quoted strings are unescaped in place). */
int rm_imr_parse(struct rm_imr *r, char *buf, size_t len,
		 struct rm_imr_resp *resp);

/* helpers on values */
bool rm_imv_is(const struct rm_imv *v, const char *atom); /* any case */
/* a number atom below 2^32 (UIDs, sizes under 4 GiB); -1 if not */
int rm_imv_u32(const struct rm_imv *v, uint32_t *out);
int rm_imv_u64(const struct rm_imv *v, uint64_t *out);
/* The value after the key `key` in a FETCH list ("UID", "BODY[]"), or
 * NULL. */
const struct rm_imv *rm_imv_get(const struct rm_imv *list, const char *key);
/* "17-Jul-1996 02:44:25 -0700" to unix seconds; -1 when not one */
int rm_imap_date_parse(const char *s, size_t len, int64_t *t_r);
/* The Message-ID of a header block (BODY[HEADER.FIELDS (MESSAGE-ID)]),
 * unfolded, without spaces and controls, at most outsz - 1 bytes; ""
 * when it has none. */
void rm_imap_msgid(const char *hdr, size_t len, char *out, size_t outsz);

#endif
