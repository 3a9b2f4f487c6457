/*
 * rm_dns_fill: every question an evaluator wanted, resolved at once;
 * the cache gets each answer, the driver one callback at the end.
 */
#include <stdlib.h>

#include "dns/dns.h"

struct fill_q {
	struct fill *f;
	struct rm_dns_q *q;
	char *name;
	int type;
};

struct fill {
	struct fill *next;
	struct ma_dns_cache *c;
	void (*done)(void *arg);
	void *arg;
	struct fill_q *v;
	size_t n, cap, pending;
	struct rmail_timer *none; /* nothing wanted: done from the loop */
};

static struct fill *fills;

static void fill_free(struct fill *f)
{
	for (struct fill **pp = &fills; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	for (size_t i = 0; i < f->n; i++) {
		rm_dns_cancel(f->v[i].q);
		free(f->v[i].name);
	}
	rm_timer_del(&f->none);
	free(f->v);
	free(f);
}

static void fill_end(struct fill *f)
{
	void (*done)(void *) = f->done;
	void *arg = f->arg;

	fill_free(f);
	done(arg);
}

static void answered(void *arg, const struct ma_rrset *rs)
{
	struct fill_q *fq = arg;
	struct fill *f = fq->f;

	fq->q = NULL;
	/* a full cache refuses: the evaluator then sees TEMP */
	(void)ma_dns_put(f->c, fq->name, fq->type, rs);
	if (--f->pending == 0)
		fill_end(f);
}

static void want(void *arg, const char *name, int type)
{
	struct fill *f = arg;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->v = rm_xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	f->v[f->n].f = f;
	f->v[f->n].q = NULL;
	f->v[f->n].name = rm_xstrdup(name);
	f->v[f->n].type = type;
	f->n++;
}

static void none_cb(void *arg)
{
	fill_end(arg);
}

int rm_dns_fill(struct ma_dns_cache *c, void (*done)(void *arg), void *arg)
{
	struct fill *f = rm_xcalloc(1, sizeof(*f));

	f->c = c;
	f->done = done;
	f->arg = arg;
	f->next = fills;
	fills = f;
	(void)ma_dns_take_wanted(c, want, f);
	if (f->n == 0) {
		f->none = rm_timer_add(0, 0, none_cb, f);
		return 0;
	}
	/* v no longer grows: the queries may point into it */
	f->pending = f->n;
	for (size_t i = 0; i < f->n; i++)
		f->v[i].q = rm_dns_resolve(f->v[i].name, f->v[i].type, answered,
					   &f->v[i]);
	return (int)f->n;
}

void rm_dns_fill_cancel(struct ma_dns_cache *c)
{
	for (struct fill *f = fills; f != NULL; f = f->next)
		if (f->c == c) {
			fill_free(f);
			return;
		}
}
