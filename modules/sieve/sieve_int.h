/* The library's internals shared by its files: the arena, the tokens,
 * the checked AST and the matchers.  Not part of the API (sieve.h). */
#ifndef RMAIL_SIEVE_INT_H
#define RMAIL_SIEVE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve.h"

/* ---- arena: everything of a compiled script, or of one run ---- */
struct sv_chunk;
struct sv_arena {
	struct sv_chunk *head;
	size_t used, cap; /* bytes handed out, and the most allowed */
};
void *sv_alloc(struct sv_arena *a, size_t n); /* zeroed; NULL over cap */
char *sv_memdup(struct sv_arena *a, const char *p, size_t n);
void sv_arena_free(struct sv_arena *a);

/* ---- lexer ---- */
enum sv_tok {
	TK_EOF,
	TK_ID,
	TK_TAG,
	TK_NUM,
	TK_STR,
	TK_LBRACK = '[',
	TK_RBRACK = ']',
	TK_LPAREN = '(',
	TK_RPAREN = ')',
	TK_COMMA = ',',
	TK_SEMI = ';',
	TK_LBRACE = '{',
	TK_RBRACE = '}',
	TK_ERR = 256,
};
struct sv_lexer {
	const char *p, *end;
	unsigned line;
	struct sv_arena *a;
	/* the current token */
	enum sv_tok tok;
	unsigned tline;
	char *s; /* identifier, tag (without ':') or decoded string */
	size_t n;
	uint64_t num;
	char err[200];
};
void sv_lex_init(struct sv_lexer *l, const char *text, size_t len,
		 struct sv_arena *a);
enum sv_tok sv_lex_next(struct sv_lexer *l);

/* ---- AST ---- */
struct sv_str {
	char *p;
	size_t n;
	int var; /* holds "${": expanded at run time */
};
struct sv_list {
	struct sv_str *v;
	size_t n;
};

enum sv_argt { ARG_NUM, ARG_STR, ARG_LIST, ARG_TAG };
struct sv_arg {
	enum sv_argt t;
	unsigned line;
	uint64_t num;
	char *tag;
	struct sv_list l; /* ARG_STR: n == 1 */
};

enum sv_op {
	OP_NONE,
	/* commands */
	OP_REQUIRE,
	OP_IF,
	OP_ELSIF,
	OP_ELSE,
	OP_STOP,
	OP_KEEP,
	OP_DISCARD,
	OP_REDIRECT,
	OP_FILEINTO,
	OP_REJECT,
	OP_EREJECT,
	OP_VACATION,
	OP_SET,
	OP_SETFLAG,
	OP_ADDFLAG,
	OP_REMOVEFLAG,
	OP_INCLUDE,
	OP_RETURN,
	OP_GLOBAL,
	/* tests */
	OP_ADDRESS,
	OP_ENVELOPE,
	OP_HEADER,
	OP_EXISTS,
	OP_SIZE,
	OP_ALLOF,
	OP_ANYOF,
	OP_NOT,
	OP_TRUE,
	OP_FALSE,
	OP_STRING,
	OP_HASFLAG,
	OP_BODY,
	OP_DATE,
	OP_CURRENTDATE,
	OP_MAILBOXEXISTS,
};

enum sv_cmp { CMP_OCTET, CMP_ASCII, CMP_UNICODE, CMP_NUMERIC };
enum sv_match { M_IS, M_CONTAINS, M_MATCHES, M_COUNT, M_VALUE };
enum sv_rel { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
enum sv_apart { AP_ALL, AP_LOCAL, AP_DOMAIN, AP_USER, AP_DETAIL };
enum sv_zone { Z_LOCAL, Z_ZONE, Z_ORIGINAL };

/* set's modifiers, bits */
#define MOD_LOWER 1
#define MOD_UPPER 2
#define MOD_LOWERFIRST 4
#define MOD_UPPERFIRST 8
#define MOD_QUOTEWILD 16
#define MOD_LENGTH 32

struct sieve_script;
struct sv_node {
	enum sv_op op;
	unsigned line;
	char *name;
	struct sv_arg *args;
	size_t nargs;
	struct sv_node **tests; /* test list, or the one test of if/not */
	size_t ntests;
	int tlist;	       /* the tests came as a "( ... )" list */
	struct sv_node *block; /* first command of { } */
	int has_block;
	struct sv_node *next;

	/* filled by the checker */
	enum sv_cmp cmp;
	enum sv_match match;
	enum sv_rel rel;
	enum sv_apart apart;
	enum sv_zone zone;
	int zone_min;		/* :zone's offset, minutes east */
	struct sv_str zone_str; /* :zone's text (may hold variables) */
	int64_t index;		/* :index (0 = none) */
	int last;		/* :last */
	enum sieve_body_transform bodyx;
	struct sv_list ctypes; /* body :content */
	int over;	       /* size :over (else :under) */
	int copy, create, mime, once, optional, global, seconds;
	int mods;	       /* set */
	struct sv_list *flags; /* :flags, NULL when absent */
	struct sv_str subject, from, handle;
	struct sv_list addresses;
	uint64_t num; /* size's limit, vacation's :days */
	int has_days;
	struct sv_list pos[3]; /* positional string(-list)s in order */
	size_t npos;
	struct sieve_script *inc; /* include's compiled script */
};

struct sieve_script {
	struct sv_arena a;
	struct sv_node *first;
	unsigned exts; /* EXT_* bits required */
	char *name;    /* NULL for the main script */
	struct sieve_limits lim;
	/* the scripts it includes are owned by the top one's list */
	struct sieve_script *incs_next;
	struct sieve_script *incs; /* top only: every included script */
	int global;
};

enum sv_ext {
	EXT_FILEINTO = 1 << 0,
	EXT_ENVELOPE = 1 << 1,
	EXT_IMAP4FLAGS = 1 << 2,
	EXT_VARIABLES = 1 << 3,
	EXT_VACATION = 1 << 4,
	EXT_RELATIONAL = 1 << 5,
	EXT_SUBADDRESS = 1 << 6,
	EXT_COPY = 1 << 7,
	EXT_BODY = 1 << 8,
	EXT_REJECT = 1 << 9,
	EXT_EREJECT = 1 << 10,
	EXT_DATE = 1 << 11,
	EXT_INDEX = 1 << 12,
	EXT_INCLUDE = 1 << 13,
	EXT_CMP_NUMERIC = 1 << 14,
	EXT_CMP_UNICODE = 1 << 15,
	EXT_MAILBOX = 1 << 16,
	EXT_ENCODED = 1 << 17,
	EXT_VAC_SECONDS = 1 << 18,
};

/* ---- matching (sieve_match.c) ---- */
#define SV_NMATCH 10
struct sv_matcher {
	enum sv_cmp cmp;
	enum sv_match match;
	enum sv_rel rel;
	size_t (*casemap)(const char *s, size_t n, char *out, size_t cap);
	uint64_t *steps, max_steps; /* shared budget; over it: *over = 1 */
	int over;
	int oom;
	int folded; /* values and keys already through casemap */
	uint64_t work;
	/* :matches groups of the last success, into the caller's arena */
	struct sv_arena *a;
	struct sv_str groups[SV_NMATCH];
	size_t ngroups;
	int want_groups;
};
/* 1 match, 0 no match (m->over / m->oom: budget/memory ran out) */
int sv_match(struct sv_matcher *m, const char *v, size_t vn, const char *k,
	     size_t kn);
/* i;unicode-casemap's fold into m->a (ASCII when no casemap); NULL on
 * no memory */
const char *sv_fold(struct sv_matcher *m, const char *s, size_t n,
		    size_t *len_r);
/* relational compare of v against k with the comparator: <0, 0, >0 */
int sv_compare(struct sv_matcher *m, const char *v, size_t vn, const char *k,
	       size_t kn);
int sv_rel_ok(enum sv_rel r, int c);

/* ---- addresses (sieve_addr.c) ---- */
struct sv_addr {
	const char *p; /* addr-spec, in the caller's arena */
	size_t n;
};
/* Parse an RFC 5322 address-list leniently; returns the count (up to
 * max), each an addr-spec without comments, quotes of the local part
 * kept as written. */
size_t sv_addr_list(struct sv_arena *a, const char *s, size_t n,
		    struct sv_addr *out, size_t max);
/* the address part `ap` of addr-spec; 0 when it has none (:detail
 * without a separator) */
int sv_addr_part(enum sv_apart ap, const char *s, size_t n, const char **p_r,
		 size_t *n_r);

/* ---- dates (sieve_date.c) ---- */
struct sv_tm {
	int year, mon, day, hour, min, sec; /* mon 1..12 */
	int zone;			    /* minutes east of UTC */
};
/* parse an RFC 5322 date-time; 0 ok */
int sv_date_parse(const char *s, size_t n, struct sv_tm *tm);
/* shift tm to zone (minutes east) */
void sv_date_tozone(struct sv_tm *tm, int zone);
void sv_date_from_time(int64_t t, int zone, struct sv_tm *tm);
/* the date-part `part` of tm into buf; -1 for an unknown part */
int sv_date_part(const struct sv_tm *tm, const char *part, char *buf,
		 size_t bufsz);
int sv_date_known_part(const char *part);
/* "+hhmm"/"-hhmm" -> minutes; 0 ok */
int sv_zone_parse(const char *s, size_t n, int *min_r);

/* ---- compile (sieve_parse.c, sieve_check.c, sieve_compile.c) ---- */
struct sv_incref {
	int global;
	const char *name;
};
struct sv_cctx {
	struct sieve_limits lim;
	sieve_include_fn inc;
	void *inc_arg;
	struct sieve_script *top;
	struct sv_incref
		*stack; /* the scripts being compiled, outermost first */
	size_t depth;
	size_t nscripts; /* included scripts compiled so far */
};
int sv_parse(struct sieve_script *s, const char *text, size_t len, char *err,
	     size_t errlen);
int sv_check(struct sv_cctx *c, struct sieve_script *s, char *err,
	     size_t errlen);
/* compile an included script (or find it compiled already) */
struct sieve_script *sv_include(struct sv_cctx *c, int global, const char *name,
				int optional, unsigned line, char *err,
				size_t errlen);
void sv_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int sv_valid_header_name(const char *p, size_t n);
int sv_valid_var_name(const char *p, size_t n, int allow_ns);

#endif
