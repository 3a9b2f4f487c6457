/* ESEARCH / SEARCHRES: RETURN options, the ESEARCH line, "$" contents. */
#include <stdlib.h>
#include <string.h>

#include "imap_esearch.h"

static const struct {
	const char *name;
	unsigned bit;
} opts[] = {
	{"MIN", IMAP_ESR_MIN},	 {"MAX", IMAP_ESR_MAX},
	{"ALL", IMAP_ESR_ALL},	 {"COUNT", IMAP_ESR_COUNT},
	{"SAVE", IMAP_ESR_SAVE},
};

int imap_esearch_parse(const struct imap_arg **argp, unsigned *ret_r,
		       const char **error_r)
{
	const struct imap_arg *a = *argp, *o;
	unsigned ret = IMAP_ESR_PRESENT;
	size_t i;

	*ret_r = 0;
	if (!imap_arg_atom_eq(a, "RETURN"))
		return 0;
	a = a->next;
	if (a == NULL || a->type != IMAP_ARG_LIST) {
		*error_r = "RETURN needs a list of options";
		return -1;
	}
	for (o = a->list; o != NULL; o = o->next) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (imap_arg_atom_eq(o, opts[i].name))
				break;
		if (i == sizeof(opts) / sizeof(opts[0])) {
			*error_r = "Unknown RETURN option";
			return -1;
		}
		ret |= opts[i].bit;
	}
	/* RFC 4731 3.1: an empty list means ALL */
	if (a->list == NULL)
		ret |= IMAP_ESR_ALL;
	*argp = a->next;
	*ret_r = ret;
	return 0;
}

/* small output staging: callers get few, reasonably sized writes */
struct outbuf {
	char b[4096];
	size_t len;
	imap_esearch_out_fn *out;
	void *ctx;
};

static void put(struct outbuf *o, const char *d, size_t n)
{
	if (o->len + n > sizeof(o->b)) {
		o->out(o->ctx, o->b, o->len);
		o->len = 0;
	}
	if (n > sizeof(o->b)) {
		o->out(o->ctx, d, n);
		return;
	}
	memcpy(o->b + o->len, d, n);
	o->len += n;
}

static void put_str(struct outbuf *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_num(struct outbuf *o, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;
	char rev[24];

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		tmp[i] = rev[n - 1 - i];
	put(o, tmp, n);
}

void imap_esearch_write(const char *tag, bool uid, unsigned ret,
			const uint32_t *hits, size_t n,
			imap_esearch_out_fn *out, void *ctx)
{
	struct outbuf o = {.len = 0, .out = out, .ctx = ctx};
	size_t i, j;

	if (!(ret & IMAP_ESR_PRESENT)) {
		put_str(&o, "* SEARCH");
		for (i = 0; i < n; i++) {
			put(&o, " ", 1);
			put_num(&o, hits[i]);
		}
		put(&o, "\r\n", 2);
		out(ctx, o.b, o.len);
		return;
	}
	if ((ret & ~(unsigned)IMAP_ESR_PRESENT) == IMAP_ESR_SAVE)
		return;
	/* a tag is ASTRING-CHARs: no quoted-specials, but be safe */
	put_str(&o, "* ESEARCH (TAG \"");
	for (i = 0; tag[i] != '\0'; i++) {
		if (tag[i] == '"' || tag[i] == '\\')
			put(&o, "\\", 1);
		put(&o, tag + i, 1);
	}
	put(&o, "\")", 2);
	if (uid)
		put_str(&o, " UID");
	if (n > 0 && (ret & IMAP_ESR_MIN)) {
		put_str(&o, " MIN ");
		put_num(&o, hits[0]);
	}
	if (n > 0 && (ret & IMAP_ESR_MAX)) {
		put_str(&o, " MAX ");
		put_num(&o, hits[n - 1]);
	}
	if (n > 0 && (ret & IMAP_ESR_ALL)) {
		put_str(&o, " ALL ");
		for (i = 0; i < n; i = j) {
			for (j = i + 1; j < n && hits[j] == hits[j - 1] + 1;
			     j++)
				;
			if (i > 0)
				put(&o, ",", 1);
			put_num(&o, hits[i]);
			if (j - i > 1) {
				put(&o, ":", 1);
				put_num(&o, hits[j - 1]);
			}
		}
	}
	if (ret & IMAP_ESR_COUNT) {
		put_str(&o, " COUNT ");
		put_num(&o, n);
	}
	put(&o, "\r\n", 2);
	out(ctx, o.b, o.len);
}

struct imap_seq_range *imap_esearch_saved(unsigned ret, const uint32_t *uids,
					  size_t n, unsigned *n_r)
{
	struct imap_seq_range *r;
	size_t i, j, k = 0;

	*n_r = 0;
	if (n == 0)
		return NULL;
	if (!(ret & (IMAP_ESR_ALL | IMAP_ESR_COUNT)) &&
	    (ret & (IMAP_ESR_MIN | IMAP_ESR_MAX))) {
		r = malloc(2 * sizeof(*r));
		if (r == NULL)
			abort();
		if (ret & IMAP_ESR_MIN) {
			r[k].lo = r[k].hi = uids[0];
			k++;
		}
		if ((ret & IMAP_ESR_MAX) &&
		    (k == 0 || uids[n - 1] != uids[0])) {
			r[k].lo = r[k].hi = uids[n - 1];
			k++;
		}
		*n_r = (unsigned)k;
		return r;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && uids[j] == uids[j - 1] + 1; j++)
			;
		k++;
	}
	r = malloc(k * sizeof(*r));
	if (r == NULL)
		abort();
	k = 0;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && uids[j] == uids[j - 1] + 1; j++)
			;
		r[k].lo = uids[i];
		r[k].hi = uids[j - 1];
		k++;
	}
	*n_r = (unsigned)k;
	return r;
}
