/* delivery.routes values (route_conf.h) */
#include "route_conf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"
#include "rm.h"
#include "tls_policy.h"

static int split(const char *hp, struct rm_route_conf *o)
{
	const char *colon = strrchr(hp, ':'), *h = hp;
	size_t n;

	if (rm_check_hostport(hp) < 0 || colon == NULL)
		return -1;
	n = (size_t)(colon - hp);
	if (hp[0] == '[' && n >= 2 && hp[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(o->host))
		return -1;
	memcpy(o->host, h, n);
	o->host[n] = '\0';
	o->port = atoi(colon + 1);
	return o->port > 0 && o->port < 65536 ? 0 : -1;
}

static const char *member(json_t *o, const char *k, bool *bad)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

int rm_route_parse(const char *v, struct rm_route_conf *out, char *err,
		   size_t errsz)
{
	const char *host, *tls, *verify, *ca, *k;
	bool bad = false;
	json_t *o, *e;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->tls = RM_RELAY_STARTTLS;
	out->verify = RM_TLSV_OPPORTUNISTIC;
	if (v[0] != '{') {
		if (split(v, out) == 0)
			return 0;
		snprintf(err, errsz, "expected host:port");
		return -1;
	}
	o = json_loads(v, 0, NULL);
	if (o == NULL || !json_is_object(o)) {
		snprintf(err, errsz, "expected an object");
		goto out;
	}
	json_object_foreach(o, k, e)
	{
		if (strcmp(k, "host") != 0 && strcmp(k, "tls") != 0 &&
		    strcmp(k, "tls_verify") != 0 && strcmp(k, "ca_file") != 0) {
			snprintf(err, errsz, "unknown member \"%.64s\"", k);
			goto out;
		}
	}
	host = member(o, "host", &bad);
	tls = member(o, "tls", &bad);
	verify = member(o, "tls_verify", &bad);
	ca = member(o, "ca_file", &bad);
	if (bad) {
		snprintf(err, errsz, "members are strings");
		goto out;
	}
	if (host == NULL || split(host, out) < 0) {
		snprintf(err, errsz, "\"host\": expected host:port");
		goto out;
	}
	out->verify = RM_TLSV_VERIFY;
	if (tls != NULL && (out->tls = rm_relay_tls_mode(tls)) < 0) {
		snprintf(err, errsz,
			 "\"tls\": expected starttls, implicit or none");
		goto out;
	}
	if (verify != NULL && (out->verify = rm_tls_verify_mode(verify)) < 0) {
		snprintf(err, errsz,
			 "\"tls_verify\": expected verify, dane, encrypt or "
			 "opportunistic");
		goto out;
	}
	if (ca != NULL &&
	    (ca[0] != '/' || strlen(ca) >= sizeof(out->ca_file))) {
		snprintf(err, errsz, "\"ca_file\": expected an absolute path");
		goto out;
	}
	snprintf(out->ca_file, sizeof(out->ca_file), "%s", ca ? ca : "");
	rc = 0;
out:
	json_decref(o);
	return rc;
}
