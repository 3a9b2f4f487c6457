/* SEARCH's case mapping is the core's (rmail_core.casemap): the
 * full-text index and Sieve fold with the same table. */
#include "imap_casemap.h"

static size_t (*fold)(const char *s, size_t n, char *out, size_t cap);

void imap_casemap_init(const struct rmail_core *core)
{
	fold = core->casemap;
}

void imap_casemap(const char *s, size_t n, struct imap_buf *out)
{
	size_t base = out->len, want = n + 16, got;

	for (;;) {
		imap_buf_reserve(out, want);
		got = fold(s, n, out->p + base, out->cap - base);
		if (got <= out->cap - base)
			break;
		want = got;
	}
	out->len = base + got;
}
