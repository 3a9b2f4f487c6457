/*
 * The names DMARC compares: the RFC5322.From domain, read by the core
 * MIME parser; organizational domains from the Public Suffix List
 * (libpsl); alignment; the mailing-list exception list.
 */
#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"
#include "rm.h"

static psl_ctx_t *psl;
static pthread_mutex_t psl_lock = PTHREAD_MUTEX_INITIALIZER;

int dmarc_psl_load(const char *file)
{
	psl_ctx_t *n = file != NULL ? psl_load_file(file) : psl_latest(NULL);

	if (n == NULL)
		return -1;
	dmarc_psl_free();
	psl = n;
	return 0;
}

void dmarc_psl_free(void)
{
	if (psl != NULL)
		psl_free(psl);
	psl = NULL;
}

static void copy_lower(const char *s, size_t n, char *out, size_t sz)
{
	size_t i;

	if (sz == 0)
		return;
	for (i = 0; i < n && i + 1 < sz; i++)
		out[i] =
			(s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[i] = '\0';
}

void dmarc_org_domain(const char *dom, char *out, size_t sz)
{
	const char *reg = NULL;

	if (psl == NULL) {
		/* normally loaded at start-up; a first use from two
		 * threads must still load it once */
		pthread_mutex_lock(&psl_lock);
		if (psl == NULL)
			(void)dmarc_psl_load(NULL);
		pthread_mutex_unlock(&psl_lock);
	}
	if (psl != NULL)
		reg = psl_registrable_domain(psl, dom);
	copy_lower(reg != NULL ? reg : dom, strlen(reg != NULL ? reg : dom),
		   out, sz);
}

/* LDH labels of 1..63, at most 253 in all, at least two labels, not
 * all digits at the end (an address literal is not a domain) */
static bool domain_ok(const char *d, size_t n)
{
	size_t label = 0, labels = 1;
	bool alpha_tld = false;

	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			labels++;
			alpha_tld = false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
		if (!(c >= '0' && c <= '9'))
			alpha_tld = true;
	}
	return labels >= 2 && alpha_tld;
}

int dmarc_from_domain(const char *hdr, size_t len, char *dom, size_t sz)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	const struct rmail_mime_addr *a;
	const char *from, *host = NULL;
	char *ace = NULL;
	size_t n, boxes = 0, hl;
	int rc = -1;

	if (sz > 0)
		dom[0] = '\0';
	if (rm_mime_parse(hdr, len, NULL, &m, &err) < 0)
		return -1;
	/* §6.6.1: exactly one From: field, one author */
	from = rm_mime_header(m, 0, "From", 0, 0);
	if (from == NULL || rm_mime_header(m, 0, "From", 1, 0) != NULL)
		goto out;
	if (rm_mime_addresses(m, from, &a, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (a[i].mailbox == NULL)
			continue; /* group markers */
		boxes++;
		host = a[i].host;
	}
	if (boxes != 1 || host == NULL)
		goto out;
	for (const char *p = host; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x80)
			continue;
		/* EAI (RFC 6532): DNS and the PSL know the A-labels */
		if (idn2_to_ascii_8z(host, &ace, IDN2_NONTRANSITIONAL) !=
		    IDN2_OK)
			goto out;
		host = ace;
		break;
	}
	hl = strlen(host);
	if (hl > 0 && host[hl - 1] == '.')
		hl--; /* a fully qualified name is the same domain */
	if (!domain_ok(host, hl) || hl + 1 > sz)
		goto out;
	copy_lower(host, hl, dom, sz);
	rc = 0;
out:
	idn2_free(ace);
	rm_mime_free(&m);
	return rc;
}

bool dmarc_aligned(const char *a, const char *b, bool strict)
{
	char oa[DMARC_DOMAIN_MAX], ob[DMARC_DOMAIN_MAX];

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return false;
	if (strcasecmp(a, b) == 0)
		return true;
	if (strict)
		return false;
	dmarc_org_domain(a, oa, sizeof(oa));
	dmarc_org_domain(b, ob, sizeof(ob));
	return strcasecmp(oa, ob) == 0;
}

bool dmarc_exception_match(const char *const *list, size_t n,
			   const char *mail_from)
{
	const char *at, *dom;
	size_t dl;

	if (mail_from == NULL || *mail_from == '\0')
		return false;
	at = strrchr(mail_from, '@');
	dom = at != NULL ? at + 1 : mail_from;
	dl = strlen(dom);
	for (size_t i = 0; i < n; i++) {
		const char *e = list[i];
		size_t el = strlen(e);

		if (strchr(e, '@') != NULL) {
			if (strcasecmp(e, mail_from) == 0)
				return true;
		} else if (e[0] == '.') {
			/* ".example.org": every subdomain, not the name */
			if (dl > el && strcasecmp(dom + dl - el, e) == 0)
				return true;
		} else if (strcasecmp(e, dom) == 0) {
			return true;
		}
	}
	return false;
}

static bool dkim_aligned_any(const char *from, const struct dmarc_auth *a,
			     bool strict)
{
	for (size_t i = 0; i < a->ndkim; i++) {
		const struct dmarc_dkim_in *s = &a->dkim[i];

		if (s->pass && s->full_body &&
		    dmarc_aligned(s->d, from, strict))
			return true;
	}
	return false;
}

bool dmarc_local_from_refused(const char *from_domain, bool from_is_local,
			      const struct dmarc_auth *a)
{
	if (!from_is_local || from_domain == NULL)
		return false;
	if (a->spf_pass && dmarc_aligned(a->spf_domain, from_domain, false))
		return false;
	return !dkim_aligned_any(from_domain, a, false);
}

/* shared with dmarc.c */
bool dmarc_dkim_aligned(const char *from, const struct dmarc_auth *a,
			bool strict);
bool dmarc_dkim_aligned(const char *from, const struct dmarc_auth *a,
			bool strict)
{
	return dkim_aligned_any(from, a, strict);
}
