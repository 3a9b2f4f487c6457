/*
 * The outbound TLS policy engine (docs/delivery.md "Outbound TLS
 * policy").  Per destination host it decides, in this order:
 *   1. DANE (RFC 7672): the MX RRset and the host's TLSA RRset are
 *      DNSSEC-secure -> TLS mandatory, authenticated by the TLSA records;
 *      a bogus or failed TLSA answer makes the host unusable (defer),
 *      never a downgrade;
 *   2. MTA-STS (RFC 8461), through core/submit/mta_sts.h;
 *   3. delivery.relay_host / delivery.routes settings;
 *   4. opportunistic STARTTLS (today's behaviour).
 * Then, after the handshake, it checks the peer against the policy
 * and says what to log: version, cipher and "Verified", "Trusted",
 * "Untrusted" or "None".
 *
 * [worker] everything here blocks on DNS; thread-safe.
 */
#ifndef RM_TLS_POLICY_H
#define RM_TLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* how much TLS a session needs; the order matters (>= ENCRYPT is
 * mandatory) */
enum rm_tls_level {
	RM_TLS_NONE = 0,	  /* cleartext: relay_tls none */
	RM_TLS_OPPORTUNISTIC = 1, /* STARTTLS when offered, else cleartext */
	RM_TLS_ENCRYPT = 2,	  /* TLS mandatory, peer not authenticated */
	RM_TLS_VERIFY = 3,	  /* TLS mandatory, PKIX for p->name */
	RM_TLS_DANE = 4,	  /* TLS mandatory, the TLSA records */
};

/* where the policy came from (the log's policy=) */
enum rm_tls_source {
	RM_TLSP_DEFAULT = 0, /* opportunistic: nothing published */
	RM_TLSP_DANE = 1,
	RM_TLSP_MTA_STS = 2,
	RM_TLSP_RELAY = 3,
	RM_TLSP_ROUTE = 4,
};

/* delivery.relay_tls_verify and a route's "tls_verify" */
enum rm_tls_verify {
	RM_TLSV_VERIFY = 0,	   /* PKIX: CA store, name = the host */
	RM_TLSV_DANE = 1,	   /* the host's TLSA records, secure */
	RM_TLSV_ENCRYPT = 2,	   /* TLS, no authentication */
	RM_TLSV_OPPORTUNISTIC = 3, /* STARTTLS when offered (the old way) */
};
/* "verify"|"dane"|"encrypt"|"opportunistic" -> enum rm_tls_verify, or -1 */
int rm_tls_verify_mode(const char *s);

struct rm_tlsa_rr {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct rm_tls_policy {
	int level;	    /* enum rm_tls_level */
	int source;	    /* enum rm_tls_source */
	char name[256];	    /* reference identifier (PKIX, DANE-TA) */
	char ca_file[1024]; /* "" = the system store */
	/* MTA-STS mode testing: verify and report, deliver anyway */
	bool testing;
	/* the MX was authenticated (DNSSEC-secure MX or an MTA-STS
	 * policy matching it): what REQUIRETLS needs beside the cert */
	bool mx_authentic;
	size_t ntlsa;
	struct rm_tlsa_rr *tlsa; /* usable records only (DANE-TA, DANE-EE) */
	/* TLS-RPT (tlsrpt.h): the policy-type the sessions are reported
	 * under, and a failure known before the session (the MX is not in
	 * an MTA-STS testing policy, the policy could not be fetched) */
	int rpt_type;	 /* enum rm_tlsrpt_policy */
	int rpt_failure; /* enum rm_tlsrpt_result, 0: none */
	char rpt_detail[160];
};

void rm_tls_policy_clear(struct rm_tls_policy *p);
const char *rm_tls_source_name(int source);

/*
 * The policy towards one MX host of domain (port 25).  mx_secure: the
 * MX RRset (or the NODATA that made the domain its own MX) was
 * DNSSEC-secure.  0 with *p filled, or -1 when this host must not be
 * used now (a bogus/failed TLSA look-up, an MTA-STS enforce mismatch):
 * the reason, "4.7.x host: ...", in why.
 */
int rm_tls_policy_mx(const char *domain, bool mx_secure, const char *mx,
		     struct rm_tls_policy *p, char *why, size_t whysz);

/*
 * The policy of a configured next hop (relay_host, a route): transport
 * tls (enum rm_relay_tls), verify (enum rm_tls_verify), ca_file (NULL:
 * the system store).  DANE looks up _PORT._tcp.HOST.  0, or -1 with why.
 */
int rm_tls_policy_fixed(const char *host, int port, int tls, int verify,
			const char *ca_file, int source,
			struct rm_tls_policy *p, char *why, size_t whysz);

/*
 * RFC 8689 REQUIRETLS on top of p: the host must have come from a
 * DNSSEC-secure MX answer or match an MTA-STS policy (a configured
 * relay or route counts as authentic) and its certificate must
 * validate (DANE, else PKIX for the host name: an opportunistic or
 * encrypt-only policy is raised to that; testing is enforced).  0, or
 * -1 with "5.7.30 host: ..." when this host cannot carry the message.
 */
int rm_tls_policy_requiretls(struct rm_tls_policy *p, const char *host,
			     char *why, size_t whysz);
/* RFC 8689 §4.3, "TLS-Required: No": what the recipient domain
 * publishes (DANE, MTA-STS) no longer stops delivery; the operator's
 * relay and route settings stay */
void rm_tls_policy_relax(struct rm_tls_policy *p);
/* [worker] the message in fd has a "TLS-Required: No" header field */
bool rm_tls_required_no(int fd);

/* what one session negotiated, for the log line and DSNs */
struct rm_tls_result {
	char version[16]; /* "TLSv1.3", "" without TLS */
	char cipher[64];
	const char *verify; /* "Verified", "Trusted", "Untrusted", "None" */
	const char *policy; /* rm_tls_source_name() */
	bool dane;	    /* authenticated by TLSA */
	bool resumed;	    /* an earlier session resumed */
	/* TLS-RPT: the session got to the TLS step, and how that went */
	bool reached;
	int failure;	  /* enum rm_tlsrpt_result, 0: none */
	char detail[160]; /* failure-reason-code */
};
/* [worker] record one MX session's TLS result for TLS-RPT (nothing
 * when it never got to the TLS step) */
struct rm_addr;
void rm_tls_report_session(const char *domain, const struct rm_tls_policy *p,
			   const char *mx, const struct rm_addr *a,
			   const struct rm_tls_result *r);
/* "tls=TLSv1.3 cipher=... verify=Verified policy=dane" */
void rm_tls_result_format(const struct rm_tls_result *r, char *buf, size_t sz);

/* authenticated sessions resume earlier ones to the same peer under
 * the same policy (TLS tickets or session ids); on by default, the
 * bench turns it off to compare */
extern bool rm_tls_resume;

/* [any thread] an SSL for fd, set up for the policy (min TLS 1.2 when
 * authenticating, SNI, DANE, the reference name); NULL on error */
struct ssl_st;
struct ssl_st *rm_tls_policy_ssl(const struct rm_tls_policy *p,
				 const char *host);
/* after the handshake: fill r; 0 when the peer satisfies p, else -1
 * with "4.7.5 host: ..." in why (the session must not go on) */
int rm_tls_policy_check(const struct rm_tls_policy *p, struct ssl_st *ssl,
			const char *host, struct rm_tls_result *r, char *why,
			size_t whysz);

#endif
