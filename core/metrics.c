/*
 * Metrics: counters, gauges and histograms keyed by name and a
 * preformatted label string, rendered as OpenMetrics text.  [any thread]
 * A name keeps the type of its first use; a conflicting call is dropped
 * rather than producing an exposition scrapers would reject.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"

#define METRIC_MAX 10000

enum metric_type { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double hist_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				     0.5,   1,	  2.5,	 5,    10};
#define NBOUNDS (sizeof(hist_bounds) / sizeof(hist_bounds[0]))

struct metric {
	char *name;
	char *labels;
	int type;
	double value;	/* counter, gauge; histogram sum */
	uint64_t count; /* histogram */
	uint64_t buckets[NBOUNDS];
};

static pthread_mutex_t metric_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *metrics;
static size_t nmetrics, capmetrics;

/* Names and labels come from code, but be strict anyway: a bad one
 * would corrupt the whole exposition. */
static bool name_ok(const char *s)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static bool labels_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '{' || *s == '}')
			return false;
	return true;
}

static const char *family_of(const char *name, int type, char *buf, size_t sz)
{
	size_t n = strlen(name);

	if (type == M_COUNTER && n > 6 && strcmp(name + n - 6, "_total") == 0) {
		snprintf(buf, sz, "%.*s", (int)(n - 6), name);
		return buf;
	}
	return name;
}

/* Called locked. */
static struct metric *get(const char *name, const char *labels, int type)
{
	struct metric *m;

	if (labels == NULL)
		labels = "";
	if (!name_ok(name) || !labels_ok(labels))
		return NULL;
	for (size_t i = 0; i < nmetrics; i++) {
		m = &metrics[i];
		if (strcmp(m->name, name) != 0)
			continue;
		if (m->type != type)
			return NULL;
		if (strcmp(m->labels, labels) == 0)
			return m;
	}
	if (nmetrics == METRIC_MAX)
		return NULL;
	if (nmetrics == capmetrics) {
		capmetrics = capmetrics ? capmetrics * 2 : 64;
		metrics = rm_xrealloc(metrics, capmetrics * sizeof(*metrics));
	}
	m = &metrics[nmetrics++];
	memset(m, 0, sizeof(*m));
	m->name = rm_xstrdup(name);
	m->labels = rm_xstrdup(labels);
	m->type = type;
	return m;
}

void rm_metric_add(const char *name, const char *labels, double v)
{
	struct metric *m;

	pthread_mutex_lock(&metric_lock);
	m = get(name, labels, M_COUNTER);
	if (m != NULL && v >= 0)
		m->value += v;
	pthread_mutex_unlock(&metric_lock);
}

void rm_metric_set(const char *name, const char *labels, double v)
{
	struct metric *m;

	pthread_mutex_lock(&metric_lock);
	m = get(name, labels, M_GAUGE);
	if (m != NULL)
		m->value = v;
	pthread_mutex_unlock(&metric_lock);
}

void rm_metric_observe(const char *name, const char *labels, double v)
{
	struct metric *m;

	pthread_mutex_lock(&metric_lock);
	m = get(name, labels, M_HISTOGRAM);
	if (m != NULL) {
		m->value += v;
		m->count++;
		for (size_t i = 0; i < NBOUNDS; i++)
			if (v <= hist_bounds[i])
				m->buckets[i]++;
	}
	pthread_mutex_unlock(&metric_lock);
}

struct out {
	char *s;
	size_t len, cap;
};

static void out_printf(struct out *o, const char *fmt, ...) RMAIL_PRINTF(2, 3);

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		o->cap = o->cap * 2 + (size_t)n;
		o->s = rm_xrealloc(o->s, o->cap);
	}
}

static int by_name(const void *a, const void *b)
{
	const struct metric *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->labels, y->labels);
}

/* labels plus one more label, with the comma only when needed */
static void sample_labels(struct out *o, const char *labels, const char *extra)
{
	if (labels[0] == '\0' && extra == NULL)
		return;
	out_printf(o, "{%s%s%s}", labels,
		   labels[0] != '\0' && extra != NULL ? "," : "",
		   extra != NULL ? extra : "");
}

static char *render_table(struct metric *tab, size_t ntab)
{
	struct out o = {.cap = 4096};
	const char *prev_family = NULL;
	char fam[256], lbl[64];

	o.s = rm_xmalloc(o.cap);
	o.s[0] = '\0';
	qsort(tab, ntab, sizeof(*tab), by_name);
	for (size_t i = 0; i < ntab; i++) {
		struct metric *m = &tab[i];
		const char *f = family_of(m->name, m->type, fam, sizeof(fam));
		static const char *const tn[] = {"counter", "gauge",
						 "histogram"};

		if (prev_family == NULL || strcmp(prev_family, m->name) != 0)
			out_printf(&o, "# TYPE %s %s\n", f, tn[m->type]);
		prev_family = m->name;
		switch (m->type) {
		case M_COUNTER:
			out_printf(&o, "%s_total", f);
			sample_labels(&o, m->labels, NULL);
			out_printf(&o, " %.15g\n", m->value);
			break;
		case M_GAUGE:
			out_printf(&o, "%s", f);
			sample_labels(&o, m->labels, NULL);
			out_printf(&o, " %.15g\n", m->value);
			break;
		default:
			for (size_t b = 0; b <= NBOUNDS; b++) {
				if (b < NBOUNDS)
					snprintf(lbl, sizeof(lbl), "le=\"%g\"",
						 hist_bounds[b]);
				else
					snprintf(lbl, sizeof(lbl),
						 "le=\"+Inf\"");
				out_printf(&o, "%s_bucket", f);
				sample_labels(&o, m->labels, lbl);
				out_printf(
					&o, " %llu\n",
					(unsigned long long)(b < NBOUNDS
								     ? m->buckets
									       [b]
								     : m->count));
			}
			out_printf(&o, "%s_sum", f);
			sample_labels(&o, m->labels, NULL);
			out_printf(&o, " %.15g\n", m->value);
			out_printf(&o, "%s_count", f);
			sample_labels(&o, m->labels, NULL);
			out_printf(&o, " %llu\n", (unsigned long long)m->count);
			break;
		}
	}
	out_printf(&o, "# EOF\n");
	return o.s;
}

char *rm_metrics_render(void)
{
	char *s;

	pthread_mutex_lock(&metric_lock);
	s = render_table(metrics, nmetrics);
	pthread_mutex_unlock(&metric_lock);
	return s;
}

/* one line a sample: type, name, labels, value, count, the buckets */
char *rm_metrics_dump(void)
{
	struct out o = {.cap = 4096};

	o.s = rm_xmalloc(o.cap);
	o.s[0] = '\0';
	pthread_mutex_lock(&metric_lock);
	for (size_t i = 0; i < nmetrics; i++) {
		const struct metric *m = &metrics[i];

		out_printf(&o, "%d\t%s\t%s\t%.17g\t%llu", m->type, m->name,
			   m->labels, m->value, (unsigned long long)m->count);
		for (size_t b = 0; b < NBOUNDS; b++)
			out_printf(&o, "\t%llu",
				   (unsigned long long)m->buckets[b]);
		out_printf(&o, "\n");
	}
	pthread_mutex_unlock(&metric_lock);
	return o.s;
}

static bool parse_dump_line(char *line, size_t worker, struct metric *m)
{
	char *f[5 + NBOUNDS], *end;
	size_t n = 0, ln;

	/* strsep keeps the empty labels field */
	for (char *p = line; p != NULL && n < 5 + NBOUNDS;)
		f[n++] = strsep(&p, "\t");
	if (n != 5 + NBOUNDS)
		return false;
	memset(m, 0, sizeof(*m));
	m->type = (int)strtol(f[0], &end, 10);
	if (*end != '\0' || m->type < M_COUNTER || m->type > M_HISTOGRAM ||
	    !name_ok(f[1]) || !labels_ok(f[2]))
		return false;
	m->value = strtod(f[3], NULL);
	m->count = strtoull(f[4], NULL, 10);
	for (size_t b = 0; b < NBOUNDS; b++)
		m->buckets[b] = strtoull(f[5 + b], NULL, 10);
	m->name = rm_xstrdup(f[1]);
	ln = strlen(f[2]) + 48;
	m->labels = rm_xmalloc(ln);
	snprintf(m->labels, ln, "%s%sworker=\"%zu\"", f[2],
		 f[2][0] != '\0' ? "," : "", worker);
	return true;
}

char *rm_metrics_render_workers(const char *const *dumps, size_t n)
{
	struct metric *t = NULL;
	size_t nt = 0, cap = 0;
	char *s;

	for (size_t w = 0; w < n; w++) {
		char *copy, *line, *p;

		/* which workers' tables are in: one that did not answer
		 * in time shows 0 here rather than holding the scrape */
		if (nt == cap) {
			cap = cap ? cap * 2 : 256;
			t = rm_xrealloc(t, cap * sizeof(*t));
		}
		memset(&t[nt], 0, sizeof(t[nt]));
		t[nt].name = rm_xstrdup("rmail_worker_up");
		t[nt].labels = rm_xmalloc(32);
		snprintf(t[nt].labels, 32, "worker=\"%zu\"", w);
		t[nt].type = M_GAUGE;
		t[nt].value = dumps[w] != NULL;
		nt++;
		if (dumps[w] == NULL)
			continue;
		copy = rm_xstrdup(dumps[w]);
		for (p = copy; (line = strsep(&p, "\n")) != NULL;) {
			if (line[0] == '\0')
				continue;
			if (nt == cap) {
				cap = cap ? cap * 2 : 256;
				t = rm_xrealloc(t, cap * sizeof(*t));
			}
			if (parse_dump_line(line, w, &t[nt]))
				nt++;
		}
		free(copy);
	}
	/* a name of two types across workers would break the exposition:
	 * the first type wins, as in one table */
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < i; j++)
			if (t[j].type != t[i].type &&
			    strcmp(t[j].name, t[i].name) == 0) {
				t[i].name[0] = '\0';
				break;
			}
	for (size_t i = 0; i < nt;) {
		if (t[i].name[0] == '\0') {
			free(t[i].name);
			free(t[i].labels);
			t[i] = t[--nt];
			continue;
		}
		i++;
	}
	s = render_table(t, nt);
	for (size_t i = 0; i < nt; i++) {
		free(t[i].name);
		free(t[i].labels);
	}
	free(t);
	return s;
}
