/*
 * MTA-STS policy discovery (RFC 8461 §3, §5.1) for the delivery
 * workers: the `_mta-sts` TXT record through the core resolver, the
 * policy file over HTTPS (https_client.c), the on-disk cache
 * (mta_sts_cache.c).  The TXT record is asked each time (the resolver
 * caches it): a changed id= is what tells a sender the policy changed.
 * A policy in the cache stays in force until its max_age runs out,
 * whatever happens to DNS or to the web server meanwhile (§5.1); the
 * hourly background pass refetches policies past half their max_age so
 * a domain in use never sees its policy lapse.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns/dns.h"
#include "rm.h"
#include "submit/https_client.h"
#include "submit/mta_sts_cache.h"

/* §3.3 asks for a bound; a slow web server only delays the fetch */
#define FETCH_TIMEOUT_MS 15000L
/* the background pass; a policy is refreshed past half its max_age,
 * at least daily */
#define REFRESH_EVERY 3600.0
#define REFRESH_MAX_AGE 86400
/* an expired entry nobody used again is forgotten after this */
#define EXPIRED_KEEP (30 * 86400)
/* a failed fetch of (domain, id) is not repeated before this */
#define FAILED_HOLD 300
#define FAILED_SLOTS 64

enum txt_state { TXT_ID, TXT_NONE, TXT_TEMP };

/* the id= of the domain's one valid `_mta-sts` record */
static enum txt_state txt_lookup(const char *domain, char id[RM_STS_ID_MAX],
				 char *why, size_t whysz)
{
	char name[300];
	struct ma_rrset rs;
	int nsts = 0, bad = 0;

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	(void)rm_dns_resolve_wait(name, MA_T_TXT, &rs);
	if (rs.rcode == MA_DNS_TEMP || rs.rcode == MA_DNS_PENDING) {
		rm_dns_rrset_clear(&rs);
		snprintf(why, whysz, "%s TXT: temporary DNS failure", name);
		return TXT_TEMP;
	}
	for (size_t i = 0; rs.rcode == MA_DNS_OK && i < rs.n; i++) {
		char one[RM_STS_ID_MAX];
		int r = rm_sts_txt_parse((const char *)rs.rr[i].data,
					 rs.rr[i].len, one);

		if (r == 1)
			continue;
		nsts++;
		if (r < 0)
			bad++;
		else
			memcpy(id, one, sizeof(one));
	}
	rm_dns_rrset_clear(&rs);
	/* §3.1: not exactly one record, or an invalid one: no policy */
	if (nsts != 1 || bad > 0) {
		snprintf(why, whysz, "%s TXT: %s", name,
			 nsts == 0 ? "none" : "not exactly one valid record");
		return TXT_NONE;
	}
	return TXT_ID;
}

static int fetch_text(const char *domain, char **text_r, size_t *len_r,
		      struct rm_sts_policy *out, char *why, size_t whysz)
{
	const struct rm_config *c = rm_conf();
	struct rm_https_req rq = {0};
	struct rm_https_resp resp;
	char url[400];

	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt",
		 domain);
	rq.url = url;
	rq.ca_file = c != NULL ? c->mta_sts.ca_file : NULL;
	if (c != NULL) {
		rq.connect_to = c->mta_sts.connect_to.v;
		rq.nconnect_to = c->mta_sts.connect_to.n;
	}
	rq.max_response = RM_STS_BODY_MAX;
	rq.timeout_ms = FETCH_TIMEOUT_MS;
	if (rm_https_request(&rq, &resp, why, whysz) < 0)
		return -1;
	/* §3.3: 3xx are not followed, nothing but 200 is a policy */
	if (resp.status != 200) {
		snprintf(why, whysz, "%s: HTTP status %ld", url, resp.status);
		rm_https_resp_free(&resp);
		return -1;
	}
	if (strncasecmp(resp.content_type, "text/plain", 10) != 0) {
		snprintf(why, whysz, "%s: content type %s, not text/plain", url,
			 resp.content_type[0] ? resp.content_type : "missing");
		rm_https_resp_free(&resp);
		return -1;
	}
	if (rm_sts_policy_parse(resp.body, resp.len, out) < 0) {
		snprintf(why, whysz, "%s: not a valid policy", url);
		rm_https_resp_free(&resp);
		return -1;
	}
	*text_r = resp.body;
	*len_r = resp.len;
	return 0;
}

int rm_sts_fetch(const char *domain, struct rm_sts_policy *out, char *why,
		 size_t whysz)
{
	char *text = NULL;
	size_t len;

	if (fetch_text(domain, &text, &len, out, why, whysz) < 0)
		return -1;
	free(text);
	return 0;
}

/* recent failed fetches: (domain, id) -> until when, and why */
struct failed {
	char domain[256];
	char id[RM_STS_ID_MAX];
	int64_t until;
	char why[300];
};
static struct failed failed[FAILED_SLOTS];
static pthread_mutex_t failed_mu = PTHREAD_MUTEX_INITIALIZER;

static bool failed_recently(const char *domain, const char *id, int64_t now,
			    char *why, size_t whysz)
{
	bool hit = false;

	pthread_mutex_lock(&failed_mu);
	for (size_t i = 0; i < FAILED_SLOTS && !hit; i++)
		if (failed[i].until > now &&
		    strcmp(failed[i].domain, domain) == 0 &&
		    strcmp(failed[i].id, id) == 0) {
			snprintf(why, whysz, "%s", failed[i].why);
			hit = true;
		}
	pthread_mutex_unlock(&failed_mu);
	return hit;
}

static void failed_note(const char *domain, const char *id, int64_t now,
			const char *why)
{
	size_t slot = 0;

	pthread_mutex_lock(&failed_mu);
	for (size_t i = 0; i < FAILED_SLOTS; i++) {
		if (strcmp(failed[i].domain, domain) == 0) {
			slot = i;
			break;
		}
		if (failed[i].until < failed[slot].until)
			slot = i;
	}
	snprintf(failed[slot].domain, sizeof(failed[slot].domain), "%s",
		 domain);
	snprintf(failed[slot].id, sizeof(failed[slot].id), "%s", id);
	snprintf(failed[slot].why, sizeof(failed[slot].why), "%s", why);
	failed[slot].until = now + FAILED_HOLD;
	pthread_mutex_unlock(&failed_mu);
}

static void failed_forget(const char *domain)
{
	pthread_mutex_lock(&failed_mu);
	for (size_t i = 0; i < FAILED_SLOTS; i++)
		if (strcmp(failed[i].domain, domain) == 0)
			failed[i].until = 0;
	pthread_mutex_unlock(&failed_mu);
}

void rm_mta_sts_forget_failures(void)
{
	pthread_mutex_lock(&failed_mu);
	memset(failed, 0, sizeof(failed));
	pthread_mutex_unlock(&failed_mu);
}

/* fetch and cache under id; 0 with *out, or -1 */
static int fetch_store(const char *dir, const char *domain, const char *id,
		       struct rm_sts_policy *out, char *why, size_t whysz)
{
	int64_t now = (int64_t)time(NULL);
	char *text = NULL;
	size_t len;

	if (fetch_text(domain, &text, &len, out, why, whysz) < 0)
		return -1;
	if (rm_sts_cache_store(dir, domain, id, now, text, len) < 0)
		rm_log(RMAIL_LOG_ERR, "mta-sts: %s: cannot write the cache",
		       domain);
	free(text);
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->fetched = now;
	out->expires = now + (int64_t)out->max_age;
	rm_log(RMAIL_LOG_INFO, "mta-sts: %s: policy id %s, mode %s, max_age %u",
	       domain, id, rm_sts_mode_name(out->mode), out->max_age);
	return 0;
}

int rm_mta_sts_get_why(const char *domain, struct rm_sts_policy *out, char *why,
		       size_t whysz, bool *fetch_failed_r)
{
	const struct rm_config *c = rm_conf();
	struct rm_sts_policy cached;
	char d[256], dir[4200], id[RM_STS_ID_MAX], w[400] = "";
	int64_t now = (int64_t)time(NULL);
	bool have;
	size_t n;

	if (why == NULL || whysz == 0) {
		why = w;
		whysz = sizeof(w);
	}
	why[0] = '\0';
	if (fetch_failed_r != NULL)
		*fetch_failed_r = false;
	if (c == NULL || !c->mta_sts.enabled || domain == NULL)
		return 1;
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(d))
		return 1;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)((domain[i] >= 'A' && domain[i] <= 'Z')
				      ? domain[i] + 32
				      : domain[i]);
	d[n] = '\0';
	/* an address literal or a name we would not store: no policy */
	if (!rm_sts_domain_ok(d) || rm_sts_cache_dir(dir, sizeof(dir)) < 0)
		return 1;
	have = rm_sts_cache_load(dir, d, &cached, NULL) == 0 &&
	       cached.expires > now;
	switch (txt_lookup(d, id, why, whysz)) {
	case TXT_NONE:
		if (!have)
			return 1;
		*out = cached;
		return 0;
	case TXT_TEMP:
		if (!have)
			return -1;
		*out = cached;
		return 0;
	case TXT_ID:
		break;
	}
	if (have && strcmp(cached.id, id) == 0) {
		*out = cached;
		return 0;
	}
	if (!failed_recently(d, id, now, why, whysz)) {
		if (fetch_store(dir, d, id, out, why, whysz) == 0) {
			failed_forget(d);
			return 0;
		}
		failed_note(d, id, now, why);
	}
	if (have) {
		/* a failed refresh keeps the cached policy (§5.1) */
		rm_log(RMAIL_LOG_WARN,
		       "mta-sts: %s: new id %s, but %s; the cached policy "
		       "(id %s) stays in force",
		       d, id, why, cached.id);
		*out = cached;
		return 0;
	}
	rm_log(RMAIL_LOG_WARN, "mta-sts: %s: %s", d, why);
	if (fetch_failed_r != NULL)
		*fetch_failed_r = true;
	return -1;
}

int rm_mta_sts_get(const char *domain, struct rm_sts_policy *out)
{
	return rm_mta_sts_get_why(domain, out, NULL, 0, NULL);
}

/* ---- the background pass ------------------------------------------- */

static void refresh_one(const char *dir, const char *domain, int64_t now)
{
	struct rm_sts_policy p, fresh;
	char id[RM_STS_ID_MAX], why[400];
	int64_t half;

	if (rm_sts_cache_load(dir, domain, &p, NULL) < 0)
		return;
	if (p.expires <= now) {
		/* used again, it is fetched then; never used: forgotten */
		if (p.expires + EXPIRED_KEEP < now)
			(void)rm_sts_cache_remove(dir, domain);
		return;
	}
	half = p.max_age / 2 < REFRESH_MAX_AGE ? p.max_age / 2
					       : REFRESH_MAX_AGE;
	if (now - p.fetched < half)
		return;
	if (txt_lookup(domain, id, why, sizeof(why)) != TXT_ID)
		return;
	if (fetch_store(dir, domain, id, &fresh, why, sizeof(why)) == 0)
		failed_forget(domain);
	else
		rm_log(RMAIL_LOG_WARN,
		       "mta-sts: %s: refresh failed (%s); the cached policy "
		       "stays until %lld",
		       domain, why, (long long)p.expires);
}

void rm_mta_sts_refresh_all(void)
{
	char dir[4200], name[300];
	int64_t now = (int64_t)time(NULL);
	struct dirent *de;
	DIR *dh;

	if (rm_sts_cache_dir(dir, sizeof(dir)) < 0 ||
	    (dh = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dh)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n <= 5 || n >= sizeof(name) ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		refresh_one(dir, name, now);
	}
	closedir(dh);
}

static struct rmail_timer *tick;
static bool busy;

static void job(void *arg, const volatile int *cancel)
{
	(void)arg;
	(void)cancel;
	rm_mta_sts_refresh_all();
}

static void job_done(void *arg, int cancelled)
{
	(void)arg;
	(void)cancelled;
	busy = false;
}

static void tick_cb(void *arg)
{
	const struct rm_config *c = rm_conf();

	(void)arg;
	if (busy || c == NULL || !c->mta_sts.enabled)
		return;
	busy = true;
	/* DNS and HTTPS block: the outbound pool, never the loop */
	rm_work_submit(RM_WORK_DELIVER, job, job_done, NULL);
}

void rm_mta_sts_start(void)
{
	if (tick == NULL)
		tick = rm_timer_add(REFRESH_EVERY, REFRESH_EVERY, tick_cb,
				    NULL);
}
