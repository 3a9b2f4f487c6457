/*
 * The outbound TLS policy engine (tls_policy.h): the decision per
 * destination host, the SSL set-up it implies and the check after the
 * handshake.  Authentication goes through OpenSSL itself: its DANE
 * support (SSL_dane_enable / SSL_dane_tlsa_add) and its host name
 * checks, never a matcher of our own.
 */
#include "tls_policy.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dns/dns.h"
#include "submit/mta_sts.h"
#include "submit/tlsrpt.h"
#include "submit_int.h"
#include "tls_parse.h"

int rm_tls_verify_mode(const char *s)
{
	static const char *const names[] = {"verify", "dane", "encrypt",
					    "opportunistic"};

	for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *rm_tls_source_name(int source)
{
	switch (source) {
	case RM_TLSP_DANE:
		return "dane";
	case RM_TLSP_MTA_STS:
		return "mta-sts";
	case RM_TLSP_RELAY:
		return "relay";
	case RM_TLSP_ROUTE:
		return "route";
	default:
		return "opportunistic";
	}
}

void rm_tls_policy_clear(struct rm_tls_policy *p)
{
	for (size_t i = 0; i < p->ntlsa; i++)
		free(p->tlsa[i].data);
	free(p->tlsa);
	p->tlsa = NULL;
	p->ntlsa = 0;
}

static bool is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

/* ---- DANE --------------------------------------------------------- */

/*
 * The usable records of a TLSA RRset (RFC 7672 §3.1.3: PKIX-TA(0) and
 * PKIX-EE(1) are unusable for SMTP, so are unknown selectors and
 * matching types).  OpenSSL checks the digest lengths when they are
 * added.
 */
static void take_tlsa(const struct ma_rrset *rs, struct rm_tls_policy *p)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct rm_tlsa_view v;
		struct rm_tlsa_rr *t;

		if (!rm_tlsa_parse(rs->rr[i].data, rs->rr[i].len, &v))
			continue;
		p->tlsa =
			rm_xrealloc(p->tlsa, (p->ntlsa + 1) * sizeof(*p->tlsa));
		t = &p->tlsa[p->ntlsa++];
		t->usage = v.usage;
		t->selector = v.selector;
		t->mtype = v.mtype;
		t->len = v.len;
		t->data = rm_xmalloc(t->len);
		memcpy(t->data, v.data, t->len);
	}
}

/* a secure A or AAAA answer for host (RFC 7672 §2.2.2: TLSA records
 * are looked up only for hosts whose addresses are secure) */
static bool addrs_secure(const char *host)
{
	static const int types[] = {MA_T_A, MA_T_AAAA};

	for (size_t i = 0; i < 2; i++) {
		struct ma_rrset rs;
		bool ok =
			rm_dns_resolve_wait(host, types[i], &rs) == MA_DNS_OK &&
			rs.secure;

		rm_dns_rrset_clear(&rs);
		if (ok)
			return true;
	}
	return false;
}

/* 0 DANE applies (p filled), 1 no secure usable TLSA, -1 the look-up
 * failed (bogus, SERVFAIL, timeout): the host is not used */
static int dane_lookup(const char *host, int port, struct rm_tls_policy *p,
		       char *why, size_t whysz)
{
	char q[300];
	struct ma_rrset rs;
	int rc;

	snprintf(q, sizeof(q), "_%d._tcp.%s", port, host);
	rc = rm_dns_resolve_wait(q, MA_T_TLSA, &rs);
	if (rc == MA_DNS_NODATA || rc == MA_DNS_NXDOMAIN ||
	    (rc == MA_DNS_OK && !rs.secure)) {
		rm_dns_rrset_clear(&rs);
		return 1;
	}
	if (rc != MA_DNS_OK) {
		rm_dns_rrset_clear(&rs);
		snprintf(why, whysz,
			 "4.7.5 %s: TLSA look-up of %s failed (DNSSEC bogus or "
			 "no answer): not delivered without its DANE check",
			 host, q);
		return -1;
	}
	rm_tls_policy_clear(p);
	take_tlsa(&rs, p);
	rm_dns_rrset_clear(&rs);
	if (p->ntlsa == 0)
		return 1; /* all unusable: as if none (RFC 7672 §2.2) */
	p->level = RM_TLS_DANE;
	snprintf(p->name, sizeof(p->name), "%s", host);
	return 0;
}

/* ---- MTA-STS -------------------------------------------------------- */

/*
 * MTA-STS (RFC 8461) for one MX host of domain, when DANE did not
 * apply (§2: DANE wins).  1: no policy in force (none published, mode
 * none, or nothing usable: a fetch failure is reported, delivery goes
 * on as without MTA-STS, §5); 0: the policy applies (p filled); -1 the
 * host must not be used (enforce, MX not in the policy).
 */
static int sts_policy(const char *domain, const char *mx,
		      struct rm_tls_policy *p, char *why, size_t whysz)
{
	const struct rm_config *c = rm_conf();
	struct rm_sts_policy sp;
	char err[300] = "";
	bool fetch_failed = false;
	int rc = rm_mta_sts_get_why(domain, &sp, err, sizeof(err),
				    &fetch_failed);

	if (rc < 0 && fetch_failed) {
		/* published (the TXT record is there) but not fetched */
		p->rpt_type = RM_TLSRPT_STS;
		p->rpt_failure = RM_TLSRPT_STS_FETCH_ERROR;
		snprintf(p->rpt_detail, sizeof(p->rpt_detail), "%.159s", err);
	}
	if (rc != 0 || sp.mode == RM_STS_NONE)
		return 1;
	p->rpt_type = RM_TLSRPT_STS;
	if (!rm_mta_sts_mx_match(&sp, mx)) {
		if (sp.mode == RM_STS_ENFORCE) {
			snprintf(why, whysz,
				 "4.7.5 %s: not an MX of the MTA-STS policy "
				 "of %s (mode enforce, id %s)",
				 mx, domain, sp.id);
			rm_tlsrpt_note(domain, RM_TLSRPT_STS, mx, "",
				       RM_TLSRPT_VALIDATION_FAILURE,
				       "mx not in the MTA-STS policy");
			return -1;
		}
		/* testing: reported, delivered as without a policy */
		p->rpt_failure = RM_TLSRPT_VALIDATION_FAILURE;
		snprintf(p->rpt_detail, sizeof(p->rpt_detail),
			 "mx not in the MTA-STS policy");
		return 1;
	}
	p->level = RM_TLS_VERIFY;
	p->source = RM_TLSP_MTA_STS;
	p->testing = sp.mode == RM_STS_TESTING;
	p->mx_authentic = true;
	snprintf(p->name, sizeof(p->name), "%s", mx);
	/* the MX certificate is PKIX-checked against the same CAs as the
	 * policy's web server (tests and private setups set them) */
	snprintf(p->ca_file, sizeof(p->ca_file), "%s",
		 c != NULL && c->mta_sts.ca_file != NULL ? c->mta_sts.ca_file
							 : "");
	return 0;
}

/* ---- decisions ---------------------------------------------------- */

int rm_tls_policy_mx(const char *domain, bool mx_secure, const char *mx,
		     struct rm_tls_policy *p, char *why, size_t whysz)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->level = RM_TLS_OPPORTUNISTIC;
	p->source = RM_TLSP_DEFAULT;
	p->mx_authentic = mx_secure;
	snprintf(p->name, sizeof(p->name), "%s", mx);
	if (mx_secure && !is_ip(mx) && addrs_secure(mx)) {
		rc = dane_lookup(mx, 25, p, why, whysz);
		if (rc <= 0) {
			p->source = RM_TLSP_DANE;
			p->rpt_type = RM_TLSRPT_TLSA;
			/* the host is skipped: no session will report it */
			if (rc < 0)
				rm_tlsrpt_note(domain, RM_TLSRPT_TLSA, mx, "",
					       RM_TLSRPT_DNSSEC_INVALID,
					       "TLSA look-up failed");
			return rc;
		}
	}
	rc = sts_policy(domain, mx, p, why, whysz);
	return rc < 0 ? -1 : 0;
}

int rm_tls_policy_fixed(const char *host, int port, int tls, int verify,
			const char *ca_file, int source,
			struct rm_tls_policy *p, char *why, size_t whysz)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->source = source;
	snprintf(p->name, sizeof(p->name), "%s", host);
	snprintf(p->ca_file, sizeof(p->ca_file), "%s",
		 ca_file != NULL ? ca_file : "");
	/* the operator named this host: no DNS answer to distrust */
	p->mx_authentic = true;
	if (tls == RM_RELAY_NONE) {
		p->level = RM_TLS_NONE;
		return 0;
	}
	switch (verify) {
	case RM_TLSV_OPPORTUNISTIC:
		p->level = RM_TLS_OPPORTUNISTIC;
		return 0;
	case RM_TLSV_ENCRYPT:
		p->level = RM_TLS_ENCRYPT;
		return 0;
	case RM_TLSV_DANE:
		rc = is_ip(host) ? 1 : dane_lookup(host, port, p, why, whysz);
		if (rc > 0)
			snprintf(why, whysz,
				 "4.7.5 %s: no DNSSEC-secure usable TLSA "
				 "record at _%d._tcp.%s (tls_verify dane)",
				 host, port, host);
		return rc == 0 ? 0 : -1;
	default:
		p->level = RM_TLS_VERIFY;
		return 0;
	}
}

/* ---- REQUIRETLS (RFC 8689) ---------------------------------------- */

int rm_tls_policy_requiretls(struct rm_tls_policy *p, const char *host,
			     char *why, size_t whysz)
{
	if (!p->mx_authentic) {
		snprintf(why, whysz,
			 "5.7.30 %s: REQUIRETLS needs an MX host from a "
			 "DNSSEC-secure answer or an MTA-STS policy",
			 host);
		return -1;
	}
	if (p->level == RM_TLS_NONE) {
		snprintf(why, whysz,
			 "5.7.30 %s: REQUIRETLS, but TLS is off towards this "
			 "host (tls none)",
			 host);
		return -1;
	}
	p->testing = false;
	if (p->level < RM_TLS_VERIFY) {
		p->level = RM_TLS_VERIFY;
		snprintf(p->name, sizeof(p->name), "%s", host);
	}
	return 0;
}

void rm_tls_policy_relax(struct rm_tls_policy *p)
{
	if ((p->source == RM_TLSP_DANE || p->source == RM_TLSP_MTA_STS) &&
	    p->level > RM_TLS_OPPORTUNISTIC)
		p->level = RM_TLS_OPPORTUNISTIC;
}

/* the header block's first bytes are enough: the field is a header */
#define HDR_SCAN (64 * 1024)

bool rm_tls_required_no(int fd)
{
	char *buf = rm_xmalloc(HDR_SCAN);
	ssize_t n = pread(fd, buf, HDR_SCAN, 0);
	bool no = n > 0 && rm_tls_required_no_buf(buf, (size_t)n);

	free(buf);
	return no;
}

/* ---- session resumption ------------------------------------------- */

/*
 * Authenticated sessions only, keyed by everything the authentication
 * depended on (level, reference name, CA file, the TLSA records): a
 * resumed session skips the certificate, so it must not outlive what
 * vouched for it.  A handful of next hops is the common case; the
 * table is small and replaced round-robin.
 */
#define SESS_MAX 64

bool rm_tls_resume = true;

static struct {
	char *key;
	SSL_SESSION *s;
} sess[SESS_MAX];
static size_t nsess, sess_next;
static pthread_mutex_t sess_mu = PTHREAD_MUTEX_INITIALIZER;
static int ex_key = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		     long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void ex_init(void)
{
	ex_key = SSL_get_ex_new_index(0, NULL, NULL, NULL, key_free);
}

static char *sess_key(const struct rm_tls_policy *p)
{
	size_t n = strlen(p->name) + strlen(p->ca_file) + 32, o;
	char *k;

	for (size_t i = 0; i < p->ntlsa; i++)
		n += 8 + 2 * p->tlsa[i].len;
	k = rm_xmalloc(n);
	o = (size_t)snprintf(k, n, "%d|%s|%s", p->level, p->name, p->ca_file);
	for (size_t i = 0; i < p->ntlsa; i++) {
		const struct rm_tlsa_rr *t = &p->tlsa[i];

		o += (size_t)snprintf(k + o, n - o, "|%u%u%u", t->usage,
				      t->selector, t->mtype);
		for (size_t j = 0; j < t->len; j++)
			o += (size_t)snprintf(k + o, n - o, "%02x", t->data[j]);
	}
	return k;
}

static void sess_put(const char *key, SSL_SESSION *s)
{
	size_t i;

	pthread_mutex_lock(&sess_mu);
	for (i = 0; i < nsess && strcmp(sess[i].key, key) != 0; i++)
		;
	if (i == nsess) {
		if (nsess < SESS_MAX) {
			i = nsess++;
		} else {
			i = sess_next++ % SESS_MAX;
			free(sess[i].key);
			SSL_SESSION_free(sess[i].s);
		}
		sess[i].key = rm_xstrdup(key);
	} else {
		SSL_SESSION_free(sess[i].s);
	}
	SSL_SESSION_up_ref(s);
	sess[i].s = s;
	pthread_mutex_unlock(&sess_mu);
}

static SSL_SESSION *sess_get(const char *key)
{
	SSL_SESSION *s = NULL;

	pthread_mutex_lock(&sess_mu);
	for (size_t i = 0; i < nsess; i++)
		if (strcmp(sess[i].key, key) == 0) {
			s = sess[i].s;
			SSL_SESSION_up_ref(s);
			break;
		}
	pthread_mutex_unlock(&sess_mu);
	return s;
}

/* a new session (a TLS 1.3 ticket comes after the handshake) */
static int new_sess(SSL *ssl, SSL_SESSION *s)
{
	const char *key = SSL_get_ex_data(ssl, ex_key);

	/* only sessions whose peer passed: a failed one is never reused */
	if (key != NULL && SSL_SESSION_is_resumable(s) &&
	    SSL_get_verify_result(ssl) == X509_V_OK)
		sess_put(key, s);
	return 0; /* the reference stays OpenSSL's */
}

/* ---- SSL objects -------------------------------------------------- */

/*
 * Contexts for authenticated sessions, one per CA file ("" = the
 * system store), made on first use and kept: loading a CA bundle costs
 * milliseconds, a delivery should not pay it.
 */
struct vctx {
	struct vctx *next;
	char *ca_file;
	SSL_CTX *ctx;
};
static pthread_mutex_t vctx_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vctx *vctxs;

static SSL_CTX *verify_ctx(const char *ca_file)
{
	struct vctx *v;
	SSL_CTX *ctx = NULL;

	pthread_mutex_lock(&vctx_mu);
	for (v = vctxs; v != NULL; v = v->next)
		if (strcmp(v->ca_file, ca_file) == 0) {
			ctx = v->ctx;
			goto out;
		}
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* the verdict is read after the handshake (rm_tls_policy_check),
	 * so the session can be logged and quit politely */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_sess);
	if ((ca_file[0] != '\0'
		     ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
		     : SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
	    SSL_CTX_dane_enable(ctx) <= 0) {
		rm_log(RMAIL_LOG_ERR, "smtp client: CA file %s: unusable",
		       ca_file[0] ? ca_file : "(system)");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	v = rm_xcalloc(1, sizeof(*v));
	v->ca_file = rm_xstrdup(ca_file);
	v->ctx = ctx;
	v->next = vctxs;
	vctxs = v;
out:
	pthread_mutex_unlock(&vctx_mu);
	return ctx;
}

static int set_name(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

	if (is_ip(name))
		return X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

static int dane_setup(SSL *ssl, const struct rm_tls_policy *p)
{
	int usable = 0;

	/* the base domain is also the DANE-TA(2) reference identifier
	 * (RFC 7672 §3.2.2) and the SNI */
	if (SSL_dane_enable(ssl, p->name) <= 0)
		return -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* DANE-EE(3) binds the key, not a name (RFC 7672 §3.1.1) */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < p->ntlsa; i++) {
		const struct rm_tlsa_rr *t = &p->tlsa[i];

		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype,
				      t->data, t->len) > 0)
			usable++;
	}
	ERR_clear_error();
	return usable > 0 ? 0 : -1;
}

SSL *rm_tls_policy_ssl(const struct rm_tls_policy *p, const char *host)
{
	SSL_CTX *ctx = p->level >= RM_TLS_VERIFY ? verify_ctx(p->ca_file)
						 : rm_tls_client_ctx();
	SSL *ssl;
	int rc = 0;

	if (ctx == NULL)
		return NULL;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return NULL;
	if (!is_ip(host))
		(void)SSL_set_tlsext_host_name(ssl, host);
	if (p->level == RM_TLS_DANE)
		rc = dane_setup(ssl, p);
	else if (p->level == RM_TLS_VERIFY)
		rc = set_name(ssl, p->name[0] ? p->name : host);
	if (rc < 0) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	if (p->level >= RM_TLS_VERIFY && rm_tls_resume) {
		char *key = sess_key(p);
		SSL_SESSION *s = sess_get(key);

		pthread_once(&ex_once, ex_init);
		if (s != NULL) {
			(void)SSL_set_session(ssl, s);
			SSL_SESSION_free(s);
		}
		if (ex_key < 0 || SSL_set_ex_data(ssl, ex_key, key) != 1)
			free(key);
	}
	return ssl;
}

/* the RFC 8460 result-type of a failed verification */
static void rpt_failure(const struct rm_tls_policy *p, bool no_cert, long vr,
			struct rm_tls_result *r)
{
	if (no_cert)
		r->failure = RM_TLSRPT_VALIDATION_FAILURE;
	else if (p->level == RM_TLS_DANE && vr == X509_V_OK)
		r->failure = RM_TLSRPT_VALIDATION_FAILURE; /* no TLSA match */
	else if (vr == X509_V_ERR_HOSTNAME_MISMATCH)
		r->failure = RM_TLSRPT_CERT_HOST_MISMATCH;
	else if (vr == X509_V_ERR_CERT_HAS_EXPIRED ||
		 vr == X509_V_ERR_CERT_NOT_YET_VALID)
		r->failure = RM_TLSRPT_CERT_EXPIRED;
	else if (vr == X509_V_ERR_DANE_NO_MATCH)
		r->failure = RM_TLSRPT_VALIDATION_FAILURE;
	else
		r->failure = RM_TLSRPT_CERT_NOT_TRUSTED;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 no_cert ? "no certificate"
			 : X509_verify_cert_error_string(vr));
}

int rm_tls_policy_check(const struct rm_tls_policy *p, SSL *ssl,
			const char *host, struct rm_tls_result *r, char *why,
			size_t whysz)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long vr = SSL_get_verify_result(ssl);
	bool chain_ok = peer != NULL && vr == X509_V_OK;

	bool reused = SSL_session_reused(ssl) == 1;

	X509_free(peer);
	snprintf(r->version, sizeof(r->version), "%s", SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(ssl));
	r->policy = rm_tls_source_name(p->source);
	r->resumed = reused;
	/* a resumed session carries its first verification's result; the
	 * cache key holds the TLSA records that vouched for it */
	r->dane = p->level == RM_TLS_DANE && chain_ok &&
		  (reused || SSL_get0_dane_authority(ssl, NULL, NULL) >= 0);
	if (p->level >= RM_TLS_VERIFY)
		r->verify = chain_ok && (p->level != RM_TLS_DANE || r->dane)
				    ? "Verified"
				    : "Untrusted";
	else
		/* no name was asked for: a good chain is only "Trusted" */
		r->verify = chain_ok ? "Trusted" : "Untrusted";
	if (p->level >= RM_TLS_VERIFY && strcmp(r->verify, "Verified") != 0)
		rpt_failure(p, peer == NULL, vr, r);
	if (p->level < RM_TLS_VERIFY || strcmp(r->verify, "Verified") == 0 ||
	    p->testing)
		return 0;
	snprintf(why, whysz,
		 "4.7.5 %s: certificate verification failed (%s): %s", host,
		 p->level == RM_TLS_DANE ? "DANE" : "PKIX",
		 peer == NULL ? "no certificate"
			      : X509_verify_cert_error_string(vr));
	return -1;
}

void rm_tls_result_format(const struct rm_tls_result *r, char *buf, size_t sz)
{
	if (r->version[0] == '\0')
		snprintf(buf, sz, "tls=none verify=None policy=%s",
			 r->policy ? r->policy : "opportunistic");
	else
		snprintf(buf, sz, "tls=%s cipher=%s verify=%s policy=%s%s",
			 r->version, r->cipher, r->verify ? r->verify : "None",
			 r->policy ? r->policy : "opportunistic",
			 r->resumed ? " resumed" : "");
}
