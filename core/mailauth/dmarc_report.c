/*
 * DMARC aggregate reports: recording evaluations, and the RFC 7489
 * appendix C XML built from one day of them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailauth/dmarc_report.h"

/* a day with more evaluations than this is reported on its first ones */
#define MAX_LINES 1000000
#define MAX_SIGS 8
#define LINE_MAX_BYTES 65536

void dmarc_report_day(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

static const char *align_mode(bool strict)
{
	return strict ? "s" : "r";
}

int dmarc_report_record(const char *dir, const struct dmarc_verdict *v,
			const struct dmarc_auth *a, const char *source_ip,
			int64_t now)
{
	char day[11], path[4096];
	json_t *o, *rua, *sigs;
	char *line;
	size_t n;
	int fd, rc = 0;

	if (!v->have_record || v->rec.nrua == 0)
		return 0; /* nobody asked */
	o = json_object();
	json_object_set_new(o, "t", json_integer(now));
	json_object_set_new(o, "ip", json_string(source_ip ? source_ip : ""));
	json_object_set_new(o, "hf", json_string(v->from_domain));
	json_object_set_new(o, "pd", json_string(v->policy_domain));
	json_object_set_new(o, "p", json_string(dmarc_policy_name(v->rec.p)));
	json_object_set_new(o, "sp", json_string(dmarc_policy_name(v->rec.sp)));
	json_object_set_new(o, "pct", json_integer(v->rec.pct));
	json_object_set_new(o, "adkim",
			    json_string(align_mode(v->rec.adkim_strict)));
	json_object_set_new(o, "aspf",
			    json_string(align_mode(v->rec.aspf_strict)));
	json_object_set_new(o, "fo", json_string(v->rec.fo));
	json_object_set_new(o, "disp",
			    json_string(dmarc_policy_name(v->disposition)));
	json_object_set_new(o, "dkim",
			    json_string(v->dkim_aligned ? "pass" : "fail"));
	json_object_set_new(o, "spf",
			    json_string(v->spf_aligned ? "pass" : "fail"));
	if (dmarc_override_name(v->override) != NULL)
		json_object_set_new(
			o, "ov", json_string(dmarc_override_name(v->override)));
	rua = json_array();
	for (size_t i = 0; i < v->rec.nrua; i++)
		json_array_append_new(
			rua, json_pack("[sI]", v->rec.rua[i].addr,
				       (json_int_t)v->rec.rua[i].max_size));
	json_object_set_new(o, "rua", rua);
	sigs = json_array();
	for (size_t i = 0; i < a->ndkim && i < MAX_SIGS; i++) {
		const struct dmarc_dkim_in *s = &a->dkim[i];

		json_array_append_new(
			sigs,
			json_pack("[sss]", s->d ? s->d : "", s->s ? s->s : "",
				  s->result ? s->result
					    : (s->pass ? "pass" : "fail")));
	}
	json_object_set_new(o, "sigs", sigs);
	json_object_set_new(o, "spfd",
			    json_string(a->spf_domain ? a->spf_domain : ""));
	json_object_set_new(o, "spfs",
			    json_string(a->spf_helo ? "helo" : "mfrom"));
	json_object_set_new(
		o, "spfr",
		json_string(a->spf_result ? a->spf_result
					  : (a->spf_pass ? "pass" : "none")));
	line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = strlen(line);
	line[n++] = '\n'; /* json_dumps' NUL becomes the line end */
	dmarc_report_day(now, day);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		free(line);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, line, n) != (ssize_t)n)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

static bool day_name(const char *s, int64_t *t_r)
{
	struct tm tm = {0};
	const char *end;

	if (strlen(s) != 16 || strcmp(s + 10, ".jsonl") != 0)
		return false;
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != s + 10)
		return false;
	*t_r = (int64_t)timegm(&tm);
	return true;
}

int dmarc_report_prune(const char *dir, int64_t now, int keep_days)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		int64_t t;
		char path[4096];

		if (!day_name(e->d_name, &t) ||
		    t + (int64_t)(keep_days + 1) * 86400 > now)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int dmarc_gzip(const void *in, size_t n, unsigned char **out, size_t *out_len)
{
	z_stream z = {0};
	uLong cap;
	int rc;

	*out = NULL;
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)n) + 32;
	*out = malloc(cap);
	if (*out == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* ---- building ------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* <tag>text</tag> with XML escaping; text from DNS and mail */
static void el(struct buf *b, const char *tag, const char *text)
{
	put(b, "<", 1);
	puts_(b, tag);
	put(b, ">", 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		switch (*p) {
		case '<':
			puts_(b, "&lt;");
			break;
		case '>':
			puts_(b, "&gt;");
			break;
		case '&':
			puts_(b, "&amp;");
			break;
		case '"':
			puts_(b, "&quot;");
			break;
		case '\'':
			puts_(b, "&apos;");
			break;
		default:
			/* XML 1.0 allows no other control characters */
			if (*p >= 0x20 || *p == '\t')
				put(b, (const char *)p, 1);
		}
	}
	puts_(b, "</");
	puts_(b, tag);
	put(b, ">", 1);
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

struct ent {
	json_t *o;
	const char *pd;
	char *key; /* the row: everything but the time */
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcasecmp(x->pd, y->pd);

	return c != 0 ? c : strcmp(x->key, y->key);
}

static const char *const spf_results[] = {"none",     "neutral",  "pass",
					  "fail",     "softfail", "temperror",
					  "permerror"};
static const char *const dkim_results[] = {
	"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"};

/* the schema's enumerations: anything else reads "none" */
static const char *in_set(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return v[i];
	return "none";
}

static void row(struct buf *b, json_t *o, uint64_t count)
{
	char num[32];
	json_t *sigs = json_object_get(o, "sigs"), *s;
	size_t i;

	puts_(b, "  <record>\n    <row>\n      ");
	el(b, "source_ip", js(o, "ip"));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)count);
	puts_(b, "\n      ");
	el(b, "count", num);
	puts_(b, "\n      <policy_evaluated>");
	el(b, "disposition", js(o, "disp"));
	el(b, "dkim", js(o, "dkim"));
	el(b, "spf", js(o, "spf"));
	if (*js(o, "ov") != '\0') {
		puts_(b, "<reason>");
		el(b, "type", js(o, "ov"));
		puts_(b, "</reason>");
	}
	puts_(b, "</policy_evaluated>\n    </row>\n    <identifiers>");
	el(b, "header_from", js(o, "hf"));
	puts_(b, "</identifiers>\n    <auth_results>\n");
	json_array_foreach(sigs, i, s)
	{
		const char *d = json_string_value(json_array_get(s, 0));
		const char *sel = json_string_value(json_array_get(s, 1));
		const char *r = json_string_value(json_array_get(s, 2));

		if (d == NULL || *d == '\0')
			continue;
		puts_(b, "      <dkim>");
		el(b, "domain", d);
		if (sel != NULL && *sel != '\0')
			el(b, "selector", sel);
		el(b, "result", in_set(r ? r : "", dkim_results, 7));
		puts_(b, "</dkim>\n");
	}
	puts_(b, "      <spf>");
	el(b, "domain", js(o, "spfd"));
	el(b, "scope", strcmp(js(o, "spfs"), "helo") == 0 ? "helo" : "mfrom");
	el(b, "result", in_set(js(o, "spfr"), spf_results, 7));
	puts_(b, "</spf>\n    </auth_results>\n  </record>\n");
}

static void policy_of(json_t *o, struct dmarc_record *r)
{
	json_t *rua = json_object_get(o, "rua"), *u;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->p = strcmp(js(o, "p"), "reject") == 0       ? DMARC_P_REJECT
	       : strcmp(js(o, "p"), "quarantine") == 0 ? DMARC_P_QUARANTINE
						       : DMARC_P_NONE;
	r->sp = strcmp(js(o, "sp"), "reject") == 0	 ? DMARC_P_REJECT
		: strcmp(js(o, "sp"), "quarantine") == 0 ? DMARC_P_QUARANTINE
							 : DMARC_P_NONE;
	r->pct = (unsigned)json_integer_value(json_object_get(o, "pct"));
	r->adkim_strict = strcmp(js(o, "adkim"), "s") == 0;
	r->aspf_strict = strcmp(js(o, "aspf"), "s") == 0;
	snprintf(r->fo, sizeof(r->fo), "%s", js(o, "fo"));
	json_array_foreach(rua, i, u)
	{
		const char *a = json_string_value(json_array_get(u, 0));

		if (a == NULL || r->nrua >= DMARC_MAX_RUA)
			continue;
		snprintf(r->rua[r->nrua].addr, sizeof(r->rua[0].addr), "%s", a);
		r->rua[r->nrua].max_size =
			(uint64_t)json_integer_value(json_array_get(u, 1));
		r->nrua++;
	}
}

static void emit(const struct ent *v, size_t n, const char *day, int64_t begin,
		 const struct dmarc_report_meta *m, const char *receiver,
		 void (*fn)(void *, const struct dmarc_report *), void *arg)
{
	struct dmarc_report r = {
		.domain = v[0].pd, .begin = begin, .end = begin + 86399};
	struct buf b = {0};
	char num[32];
	int64_t latest = -1;

	for (size_t i = 0; i < n; i++) {
		int64_t t = json_integer_value(json_object_get(v[i].o, "t"));

		if (t >= latest) {
			latest = t;
			policy_of(v[i].o, &r.policy);
		}
	}
	snprintf(r.report_id, sizeof(r.report_id), "%s.%.40s", day, r.domain);
	snprintf(r.filename, sizeof(r.filename), "%s!%s!%lld!%lld.xml.gz",
		 receiver, r.domain, (long long)r.begin, (long long)r.end);
	puts_(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"
		  "  <version>1.0</version>\n  <report_metadata>\n    ");
	el(&b, "org_name", m->org_name);
	puts_(&b, "\n    ");
	el(&b, "email", m->email);
	if (m->contact != NULL) {
		puts_(&b, "\n    ");
		el(&b, "extra_contact_info", m->contact);
	}
	puts_(&b, "\n    ");
	el(&b, "report_id", r.report_id);
	puts_(&b, "\n    <date_range>");
	snprintf(num, sizeof(num), "%lld", (long long)r.begin);
	el(&b, "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)r.end);
	el(&b, "end", num);
	puts_(&b, "</date_range>\n  </report_metadata>\n"
		  "  <policy_published>\n    ");
	el(&b, "domain", r.domain);
	el(&b, "adkim", r.policy.adkim_strict ? "s" : "r");
	el(&b, "aspf", r.policy.aspf_strict ? "s" : "r");
	el(&b, "p", dmarc_policy_name(r.policy.p));
	el(&b, "sp", dmarc_policy_name(r.policy.sp));
	snprintf(num, sizeof(num), "%u", r.policy.pct);
	el(&b, "pct", num);
	el(&b, "fo", r.policy.fo);
	puts_(&b, "\n  </policy_published>\n");
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && strcmp(v[j].key, v[i].key) == 0)
			j++;
		row(&b, v[i].o, j - i);
		r.nrows++;
		r.messages += j - i;
		i = j;
	}
	puts_(&b, "</feedback>\n");
	r.xml = b.p;
	r.xml_len = b.len;
	if (dmarc_gzip(r.xml, r.xml_len, &r.gz, &r.gz_len) < 0)
		r.gz_len = 0;
	fn(arg, &r);
	free(r.gz);
	free(r.xml);
}

int dmarc_report_build_day(const char *dir, const char *day,
			   const struct dmarc_report_meta *m,
			   const char *receiver,
			   void (*fn)(void *arg, const struct dmarc_report *r),
			   void *arg)
{
	char path[4096], *line = NULL;
	struct ent *v = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	ssize_t got;
	int64_t begin;
	FILE *f;

	snprintf(path, sizeof(path), "%.10s.jsonl", day);
	if (strlen(day) != 10 || !day_name(path, &begin)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while ((got = getline(&line, &lcap, f)) > 0 && n < MAX_LINES) {
		json_t *o, *row;

		if (got > LINE_MAX_BYTES)
			continue;
		o = json_loads(line, 0, NULL);
		if (!json_is_object(o) || *js(o, "pd") == '\0') {
			json_decref(o);
			continue; /* a torn line (crash mid-write) */
		}
		row = json_deep_copy(o);
		json_object_del(row, "t");
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				abort();
		}
		v[n].o = o;
		v[n].pd = js(o, "pd");
		v[n].key = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(row);
		n++;
	}
	free(line);
	fclose(f);
	qsort(v, n, sizeof(*v), ent_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && strcasecmp(v[j].pd, v[i].pd) == 0)
			j++;
		emit(v + i, j - i, day, begin, m, receiver, fn, arg);
		i = j;
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		json_decref(v[i].o);
	}
	free(v);
	return 0;
}

int dmarc_rua_allowed(struct ma_dns_cache *c, const char *policy_domain,
		      const char *rua_addr, bool *ok)
{
	const char *rd = strrchr(rua_addr, '@');
	char o1[DMARC_DOMAIN_MAX], o2[DMARC_DOMAIN_MAX], name[600];
	const struct ma_rrset *rs;

	*ok = false;
	if (rd == NULL || rd[1] == '\0')
		return MA_DONE;
	rd++;
	dmarc_org_domain(policy_domain, o1, sizeof(o1));
	dmarc_org_domain(rd, o2, sizeof(o2));
	if (strcasecmp(o1, o2) == 0) {
		*ok = true;
		return MA_DONE;
	}
	snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy_domain, rd);
	rs = ma_dns_get(c, name, MA_T_TXT);
	if (rs->rcode == MA_DNS_PENDING)
		return MA_PENDING;
	for (size_t i = 0; rs->rcode == MA_DNS_OK && i < rs->n; i++) {
		const char *d = (const char *)rs->rr[i].data;
		size_t l = rs->rr[i].len, k = 0;

		/* "v=DMARC1" then the end or a ';' (§7.1) */
		while (k < l && (d[k] == ' ' || d[k] == '\t'))
			k++;
		if (l - k >= 8 && strncmp(d + k, "v=DMARC1", 8) == 0) {
			k += 8;
			while (k < l && (d[k] == ' ' || d[k] == '\t'))
				k++;
			if (k == l || d[k] == ';')
				*ok = true;
		}
	}
	return MA_DONE;
}
