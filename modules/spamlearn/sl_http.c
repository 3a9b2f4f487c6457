/*
 * One learn over HTTP with libcurl: POST the message to the rspamd
 * controller's /learnspam or /learnham with its password in the
 * "Password:" header.  rspamd answers 200 when it learned, 208 when it
 * had learned that message already; both end the entry.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "sl.h"

struct sink {
	char buf[256];
	size_t len;
};

/* the start of rspamd's answer, for the log; the rest is dropped */
static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t take = size * n;

	if (take > sizeof(s->buf) - 1 - s->len)
		take = sizeof(s->buf) - 1 - s->len;
	memcpy(s->buf + s->len, p, take);
	s->len += take;
	s->buf[s->len] = '\0';
	return size * n;
}

/* a daemon stopping does not wait for a slow controller */
static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		    curl_off_t un)
{
	const volatile bool *stop = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return *stop ? 1 : 0;
}

static int classify(long status)
{
	if (status >= 200 && status < 300)
		return SL_POST_OK;
	/* a wrong password is the admin's to fix: keep the learns */
	if (status == 401 || status == 403 || status == 408 || status == 429 ||
	    status >= 500 || status == 0)
		return SL_POST_RETRY;
	return SL_POST_PERMANENT;
}

int sl_post(const struct sl_conf *c, const char *password, const char *kind,
	    const char *msg, size_t len, const volatile bool *stop,
	    long *status_r, char *why, size_t whysz)
{
	char url[2048], pw[600];
	const char *base = c->url;
	size_t bl = strlen(base);
	struct curl_slist *hdrs = NULL;
	struct sink body = {.len = 0};
	CURLcode rc;
	CURL *h;

	*status_r = 0;
	body.buf[0] = '\0';
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	snprintf(url, sizeof(url), "%.*s/learn%s", (int)bl, base, kind);
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(why, whysz, "curl_easy_init failed");
		return SL_POST_RETRY;
	}
	if (password != NULL) {
		snprintf(pw, sizeof(pw), "Password: %s", password);
		hdrs = curl_slist_append(hdrs, pw);
	}
	/* no "Expect: 100-continue" round trip */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, msg);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->timeout * 1000));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(c->timeout * 1000));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status_r);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (password != NULL)
		memset(pw, 0, sizeof(pw));
	if (rc != CURLE_OK) {
		snprintf(why, whysz, "%s", curl_easy_strerror(rc));
		return SL_POST_RETRY;
	}
	for (char *p = body.buf; *p != '\0'; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	snprintf(why, whysz, "HTTP %ld %s", *status_r, body.buf);
	return classify(*status_r);
}
