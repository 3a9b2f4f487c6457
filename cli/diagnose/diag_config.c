/*
 * Phase 1: the config loads, the certificate is valid for a while yet,
 * every configured listener accepts, the control socket answers and the
 * mail root is writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "diag_int.h"

#define WARN_DAYS 30

static void check_cert(struct diag *d)
{
	const char *cert = d->cert_file;
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	FILE *f;
	int days = 0, secs = 0;
	bool self;

	f = fopen(cert, "re");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL) {
		dg_check(d, DG_FAIL, "config.tls_cert",
			 "cannot read the "
			 "certificate %s",
			 cert);
		return;
	}
	self = X509_check_issued(x, x) == X509_V_OK;
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		dg_check(d, DG_FAIL, "config.tls_cert",
			 "%s is not valid "
			 "yet",
			 cert);
	} else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		dg_check(d, DG_FAIL, "config.tls_cert", "%s has expired", cert);
	} else {
		ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
		dg_check(d, days < WARN_DAYS ? DG_WARN : DG_PASS,
			 "config.tls_cert", "%s valid for %d more days%s%s",
			 cert, days, days < WARN_DAYS ? " (renew it soon)" : "",
			 self ? "; self-signed" : "");
	}
	if (d->conf->tls_key_file != NULL &&
	    (f = fopen(d->conf->tls_key_file, "re")) != NULL) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (key == NULL || X509_check_private_key(x, key) != 1)
			dg_check(d, DG_FAIL, "config.tls_key",
				 "%s does not "
				 "match the certificate",
				 d->conf->tls_key_file);
		else
			dg_check(d, DG_PASS, "config.tls_key",
				 "the key "
				 "matches the certificate");
		EVP_PKEY_free(key);
	}
	X509_free(x);
}

static void check_list(struct diag *d, const char *section, const char *key,
		       const char *def, bool tls)
{
	json_t *l = dg_conf_get(d, section, key), *v;
	const char *defs[1] = {def};
	size_t i, n = l != NULL ? json_array_size(l) : 1;

	for (i = 0; i < n; i++) {
		const char *a =
			l != NULL ? json_string_value(v = json_array_get(l, i))
				  : defs[0];
		char addr[300], why[256];
		struct dg_conn *c;

		if (a == NULL)
			continue;
		if (strncmp(a, "0.0.0.0:", 8) == 0)
			snprintf(addr, sizeof(addr), "127.0.0.1:%s", a + 8);
		else if (strncmp(a, "[::]:", 5) == 0)
			snprintf(addr, sizeof(addr), "[::1]:%s", a + 5);
		else
			snprintf(addr, sizeof(addr), "%s", a);
		c = dg_connect(addr, tls, why, sizeof(why));
		if (c == NULL) {
			dg_check(d, DG_FAIL, "config.listen", "%s.%s %s: %s",
				 section, key, a, why);
			continue;
		}
		/* implicit TLS: the handshake works, with our certificate */
		if (tls && dg_peer_cert_is(c, d->cert_file) != 1)
			dg_check(d, DG_FAIL, "config.listen",
				 "%s.%s %s "
				 "presents another certificate than %s",
				 section, key, a, d->cert_file);
		else
			dg_check(d, DG_PASS, "config.listen",
				 "%s.%s %s "
				 "accepts connections%s",
				 section, key, a,
				 tls ? " (TLS, the configured certificate)"
				     : "");
		dg_close(&c);
	}
}

static void check_ports(struct diag *d)
{
	size_t i;

	if (d->mod_smtp) {
		check_list(d, "smtp", "listen", "0.0.0.0:25", false);
		check_list(d, "smtp", "submission_listen", "0.0.0.0:587",
			   false);
		check_list(d, "smtp", "smtps_listen", "0.0.0.0:465", true);
	}
	if (d->mod_imap) {
		check_list(d, "imap", "listen", "0.0.0.0:143", false);
		check_list(d, "imap", "imaps_listen", "0.0.0.0:993", true);
	}
	if (d->mod_exchange) {
		check_list(d, "exchange_api", "listen", "0.0.0.0:9002", false);
		check_list(d, "exchange_api", "tls_listen", "0.0.0.0:9003",
			   true);
	}
	for (i = 0; i < d->conf->admin_listen.n; i++) {
		char why[256];
		struct dg_conn *c = dg_connect(d->conf->admin_listen.v[i],
					       false, why, sizeof(why));

		dg_check(d, c != NULL ? DG_PASS : DG_FAIL, "config.listen",
			 "admin.listen %s %s", d->conf->admin_listen.v[i],
			 c != NULL ? "accepts connections" : why);
		dg_close(&c);
	}
}

static void check_control(struct diag *d)
{
	const char *argv[] = {"ping"};
	struct rmail_err err;
	char out[256] = "";

	if (d->conf->control_socket == NULL) {
		dg_check(d, DG_WARN, "config.control",
			 "no control_socket "
			 "configured (lockout resets need it)");
		return;
	}
	rmail_err_clear(&err);
	if (rm_control_call(d->conf->control_socket, 1, argv, out, sizeof(out),
			    &err) < 0)
		dg_check(d, DG_FAIL, "config.control", "%s: %s",
			 d->conf->control_socket, err.msg);
	else
		dg_check(d, strncmp(out, "pong", 4) == 0 ? DG_PASS : DG_FAIL,
			 "config.control", "%s answers ping",
			 d->conf->control_socket);
}

static void check_mail_root(struct diag *d)
{
	const char *root = d->conf->mail_root;
	char path[4200];
	struct stat st;
	int fd;

	if (root == NULL || stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		dg_check(d, DG_FAIL, "config.mail_root",
			 "%s is not a "
			 "directory",
			 root != NULL ? root : "(unset)");
		return;
	}
	/* a dot name: the store ignores it, a crash leaves nothing it reads */
	snprintf(path, sizeof(path), "%s/.rmail-diag-%s.tmp", root, d->tag);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		dg_check(d, DG_FAIL, "config.mail_root",
			 "%s is not "
			 "writable: %s",
			 root, strerror(errno));
		return;
	}
	close(fd);
	unlink(path);
	dg_check(d, DG_PASS, "config.mail_root", "%s present and writable",
		 root);
}

void dg_phase_config(struct diag *d)
{
	dg_check(d, DG_PASS, "config.load",
		 "%s loads (hostname %s, "
		 "%zu modules)",
		 d->conf->path,
		 d->conf->hostname != NULL ? d->conf->hostname : "-",
		 d->conf->modules.n);
	dg_check(d, d->ops != NULL ? DG_PASS : DG_FAIL, "config.store",
		 d->ops != NULL ? "the storage module opens the mail root"
				: "no storage module could be opened");
	check_cert(d);
	dg_proxy_check(d);
	check_ports(d);
	check_control(d);
	check_mail_root(d);
}
