/*
 * One HTTPS request with libcurl's easy interface on the calling
 * (worker) thread.  libcurl, not a hand-written client: it does the
 * certificate and host name checks the way browsers and other MTAs do.
 * What RFC 8461 §3.3 asks of a policy fetch is set for every request:
 * HTTPS only, no redirects followed, no cache, a size cap, timeouts.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "submit/https_client.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void global_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	char *p;
	size_t n, cap, max;
	bool over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->n + n > s->max) {
		/* returning short makes libcurl stop: CURLE_WRITE_ERROR */
		s->over = true;
		return 0;
	}
	if (s->n + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *q;

		while (cap < s->n + n + 1)
			cap *= 2;
		q = realloc(s->p, cap);
		if (q == NULL)
			return 0;
		s->p = q;
		s->cap = cap;
	}
	memcpy(s->p + s->n, ptr, n);
	s->n += n;
	s->p[s->n] = '\0';
	return n;
}

int rm_https_request(const struct rm_https_req *rq, struct rm_https_resp *resp,
		     char *why, size_t whysz)
{
	struct sink s = {.max = rq->max_response};
	struct curl_slist *ct = NULL, *hdr = NULL;
	char err[CURL_ERROR_SIZE] = "", *type = NULL;
	CURLcode rc;
	CURL *h;

	memset(resp, 0, sizeof(*resp));
	(void)pthread_once(&once, global_init);
	if (init_rc != CURLE_OK || (h = curl_easy_init()) == NULL) {
		snprintf(why, whysz, "libcurl: cannot start");
		return -1;
	}
	if (strncasecmp(rq->url, "https://", 8) != 0) {
		snprintf(why, whysz, "not an https URL");
		curl_easy_cleanup(h);
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* worker threads: no SIGALRM for DNS time-outs */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 rq->timeout_ms < 10000 ? rq->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rmail");
	if (rq->max_response > 0)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
				 (curl_off_t)rq->max_response);
	if (rq->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
	for (size_t i = 0; i < rq->nconnect_to; i++)
		ct = curl_slist_append(ct, rq->connect_to[i]);
	if (ct != NULL)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	if (rq->body != NULL) {
		char line[200];

		snprintf(line, sizeof(line), "Content-Type: %s",
			 rq->content_type != NULL ? rq->content_type
						  : "application/octet-stream");
		hdr = curl_slist_append(hdr, line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)rq->body_len);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (s.over || rc == CURLE_FILESIZE_EXCEEDED)
			snprintf(why, whysz, "%s: larger than %zu bytes",
				 rq->url, rq->max_response);
		else
			snprintf(why, whysz, "%s: %s", rq->url,
				 err[0] ? err : curl_easy_strerror(rc));
		free(s.p);
		curl_slist_free_all(ct);
		curl_slist_free_all(hdr);
		curl_easy_cleanup(h);
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK &&
	    type != NULL)
		snprintf(resp->content_type, sizeof(resp->content_type), "%s",
			 type);
	resp->body = s.p != NULL ? s.p : calloc(1, 1);
	resp->len = s.n;
	curl_slist_free_all(ct);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return 0;
}

void rm_https_resp_free(struct rm_https_resp *r)
{
	free(r->body);
	r->body = NULL;
}
