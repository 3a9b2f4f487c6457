/*
 * The core's HTTPS requests (MTA-STS policy fetches, TLS-RPT uploads)
 * through libcurl's easy interface, blocking: worker threads only.
 * Always verified (peer and host name), never redirected, bounded in
 * time and size; the CA file and CONNECT_TO entries of the mta_sts
 * section apply to both users.
 */
#ifndef RM_SUBMIT_HTTPS_CLIENT_H
#define RM_SUBMIT_HTTPS_CLIENT_H

#include <stddef.h>

struct rm_https_req {
	const char *url;	       /* https:// only */
	const char *ca_file;	       /* NULL: the system store */
	const char *const *connect_to; /* CURLOPT_CONNECT_TO entries */
	size_t nconnect_to;
	/* POST when body is not NULL */
	const void *body;
	size_t body_len;
	const char *content_type; /* of the body */
	size_t max_response;	  /* bytes kept; more fails the request */
	long timeout_ms;	  /* the whole request */
};

struct rm_https_resp {
	long status;
	char content_type[128];
	char *body; /* malloc'd, NUL-terminated; free */
	size_t len;
};

/* 0 with resp filled (any status), -1 with the reason in why (TLS,
 * connection, size, time-out) */
int rm_https_request(const struct rm_https_req *rq, struct rm_https_resp *resp,
		     char *why, size_t whysz);
void rm_https_resp_free(struct rm_https_resp *r);

#endif
