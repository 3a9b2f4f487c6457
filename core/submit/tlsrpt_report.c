/*
 * The RFC 8460 §4 aggregate report of one UTC day for each policy
 * domain, from the lines tlsrpt.c appended: per policy (type, and for
 * sts the cached policy file as policy-string and its mx patterns as
 * mx-host), the session counts and the failures grouped by result,
 * receiving MX and IP, and reason.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailauth/dmarc_report.h"
#include "submit/mta_sts_cache.h"
#include "submit/tlsrpt.h"

#define MAX_LINES 1000000
#define LINE_MAX_BYTES 8192
/* distinct failure rows kept per policy; more are counted only */
#define MAX_FAIL_ROWS 1000

struct fail {
	int result;
	char *mx, *ip, *why;
	uint64_t n;
};

struct grp {
	char *domain;
	int ptype;
	uint64_t ok, failed;
	struct fail *f;
	size_t nf, cf;
};

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static bool same(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static struct grp *grp_of(struct grp **v, size_t *n, size_t *cap, const char *d,
			  int ptype)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].ptype == ptype &&
		    strcasecmp((*v)[i].domain, d) == 0)
			return &(*v)[i];
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = realloc(*v, *cap * sizeof(**v));
		if (*v == NULL)
			abort();
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].domain = strdup(d);
	(*v)[*n].ptype = ptype;
	return &(*v)[(*n)++];
}

static void add_fail(struct grp *g, int result, const char *mx, const char *ip,
		     const char *why)
{
	for (size_t i = 0; i < g->nf; i++) {
		struct fail *f = &g->f[i];

		if (f->result == result && same(f->mx, mx) && same(f->ip, ip) &&
		    same(f->why, why)) {
			f->n++;
			return;
		}
	}
	if (g->nf >= MAX_FAIL_ROWS)
		return;
	if (g->nf == g->cf) {
		g->cf = g->cf ? g->cf * 2 : 8;
		g->f = realloc(g->f, g->cf * sizeof(*g->f));
		if (g->f == NULL)
			abort();
	}
	g->f[g->nf++] =
		(struct fail){result, strdup(mx), strdup(ip), strdup(why), 1};
}

static int grp_cmp(const void *a, const void *b)
{
	const struct grp *x = a, *y = b;
	int c = strcasecmp(x->domain, y->domain);

	return c != 0 ? c : x->ptype - y->ptype;
}

static void stamp(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* the policy object; for sts, from the cached policy when there is one */
static json_t *policy_json(const struct grp *g, const struct rm_tlsrpt_meta *m)
{
	json_t *p = json_pack("{s:s, s:s}", "policy-type",
			      rm_tlsrpt_policy_name(g->ptype), "policy-domain",
			      g->domain);
	struct rm_sts_policy sp;
	char *text = NULL, *save = NULL;
	json_t *ps, *mx;

	if (g->ptype != RM_TLSRPT_STS || m->sts_dir == NULL ||
	    rm_sts_cache_load(m->sts_dir, g->domain, &sp, &text) < 0)
		return p;
	ps = json_array();
	for (char *l = strtok_r(text, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		l[strcspn(l, "\r")] = '\0';
		if (l[0] != '\0')
			json_array_append_new(ps, json_string(l));
	}
	mx = json_array();
	for (size_t i = 0; i < sp.nmx; i++)
		json_array_append_new(mx, json_string(sp.mx[i]));
	json_object_set_new(p, "policy-string", ps);
	json_object_set_new(p, "mx-host", mx);
	free(text);
	return p;
}

static void emit(struct grp *g, size_t n, const char *day, int64_t begin,
		 const struct rm_tlsrpt_meta *m,
		 void (*fn)(void *arg, const struct rm_tlsrpt_report *r),
		 void *arg)
{
	struct rm_tlsrpt_report r;
	char b[32], e[32];
	json_t *o, *pols;

	memset(&r, 0, sizeof(r));
	r.domain = g[0].domain;
	r.begin = begin;
	r.end = begin + 86400 - 1;
	stamp(r.begin, b);
	stamp(r.end, e);
	snprintf(r.report_id, sizeof(r.report_id), "%s.%s@%s", day, r.domain,
		 m->submitter);
	snprintf(r.filename, sizeof(r.filename), "%s!%s!%lld!%lld.json.gz",
		 m->submitter, r.domain, (long long)r.begin, (long long)r.end);
	pols = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *fd = json_array();

		for (size_t k = 0; k < g[i].nf; k++) {
			const struct fail *f = &g[i].f[k];
			json_t *x = json_pack("{s:s, s:s, s:I}", "result-type",
					      rm_tlsrpt_result_name(f->result),
					      "receiving-mx-hostname", f->mx,
					      "failed-session-count",
					      (json_int_t)f->n);

			if (f->ip[0] != '\0')
				json_object_set_new(x, "receiving-ip",
						    json_string(f->ip));
			if (f->why[0] != '\0')
				json_object_set_new(x, "failure-reason-code",
						    json_string(f->why));
			json_array_append_new(fd, x);
		}
		json_array_append_new(
			pols, json_pack("{s:o, s:{s:I, s:I}, s:o}", "policy",
					policy_json(&g[i], m), "summary",
					"total-successful-session-count",
					(json_int_t)g[i].ok,
					"total-failure-session-count",
					(json_int_t)g[i].failed,
					"failure-details", fd));
		r.ok += g[i].ok;
		r.failed += g[i].failed;
	}
	o = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:o}", "organization-name",
		      m->org_name, "date-range", "start-datetime", b,
		      "end-datetime", e, "contact-info", m->contact,
		      "report-id", r.report_id, "policies", pols);
	r.json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (r.json != NULL) {
		r.json_len = strlen(r.json);
		if (dmarc_gzip(r.json, r.json_len, &r.gz, &r.gz_len) == 0)
			fn(arg, &r);
	}
	free(r.json);
	free(r.gz);
}

int rm_tlsrpt_build_day(const char *dir, const char *day,
			const struct rm_tlsrpt_meta *m,
			void (*fn)(void *arg, const struct rm_tlsrpt_report *r),
			void *arg)
{
	struct grp *g = NULL;
	size_t ng = 0, cg = 0, lcap = 0, lines = 0;
	char path[4400], *line = NULL;
	struct tm tm = {0};
	int64_t begin;
	ssize_t got;
	FILE *f;

	if (strlen(day) != 10 || strptime(day, "%Y-%m-%d", &tm) != day + 10) {
		errno = EINVAL;
		return -1;
	}
	begin = (int64_t)timegm(&tm);
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while ((got = getline(&line, &lcap, f)) > 0 && lines++ < MAX_LINES) {
		json_t *o;
		struct grp *x;
		int pt, res;

		if (got > LINE_MAX_BYTES)
			continue;
		o = json_loads(line, 0, NULL);
		pt = rm_tlsrpt_policy_of(js(o, "p"));
		res = rm_tlsrpt_result_of(js(o, "r"));
		/* a torn line (crash mid-write) or one of another release */
		if (!json_is_object(o) || !rm_sts_domain_ok(js(o, "d")) ||
		    pt < 0 || res < 0) {
			json_decref(o);
			continue;
		}
		x = grp_of(&g, &ng, &cg, js(o, "d"), pt);
		if (res == RM_TLSRPT_SUCCESS) {
			x->ok++;
		} else {
			x->failed++;
			add_fail(x, res, js(o, "mx"), js(o, "ip"),
				 js(o, "why"));
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	if (ng > 0)
		qsort(g, ng, sizeof(*g), grp_cmp);
	for (size_t i = 0; i < ng;) {
		size_t j = i + 1;

		while (j < ng && strcasecmp(g[j].domain, g[i].domain) == 0)
			j++;
		emit(g + i, j - i, day, begin, m, fn, arg);
		i = j;
	}
	for (size_t i = 0; i < ng; i++) {
		for (size_t k = 0; k < g[i].nf; k++) {
			free(g[i].f[k].mx);
			free(g[i].f[k].ip);
			free(g[i].f[k].why);
		}
		free(g[i].f);
		free(g[i].domain);
	}
	free(g);
	return 0;
}

int rm_tlsrpt_prune(const char *dir, int64_t now, int keep_days)
{
	/* the same day-file names as the DMARC data */
	return dmarc_report_prune(dir, now, keep_days);
}
