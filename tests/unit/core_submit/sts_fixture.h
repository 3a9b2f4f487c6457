/*
 * MTA-STS / TLS-RPT test fixtures: a throw-away CA and certificates
 * made with the openssl command, and the loopback HTTPS server
 * tests/support/https_test_server.py serving a document root.
 */
#ifndef RM_TEST_STS_FIXTURE_H
#define RM_TEST_STS_FIXTURE_H

#include <glib.h>

/* dir/ca.pem (+ ca.key) */
void sts_make_ca(const char *dir);
/* dir/{name}.pem and dir/{name}.key, issued by dir's CA for the DNS
 * names in sans (comma-separated) */
void sts_make_cert(const char *dir, const char *name, const char *sans);

struct sts_server {
	GPid pid;
	guint port;
	char *root;
};
/* serve root with dir/{cert}.pem/.key; g_assert on failure */
void sts_server_start(struct sts_server *s, const char *dir, const char *cert,
		      const char *root);
void sts_server_stop(struct sts_server *s);
/* lines of root/requests.log naming host */
int sts_server_requests(const struct sts_server *s, const char *host);
/* write root/{host}/.well-known/mta-sts.txt */
void sts_policy_put(const struct sts_server *s, const char *host,
		    const char *text, gssize len);

#endif
