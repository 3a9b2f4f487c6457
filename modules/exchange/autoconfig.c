/*
 * Thunderbird autoconfig (config-v1.1.xml).  mod_exchange cannot see the
 * other modules' sections, so it advertises the standard ports (IMAPS
 * 993, SMTPS 465, submission 587 with STARTTLS) on the core's hostname
 * unless exchange_api.advertise says otherwise (proxy, NAT).
 *
 * The <domain> is that of the emailaddress asked about when the store
 * serves it: a user's domain need not be the hostname's parent.  A
 * domain the store does not serve is refused (404) rather than answered
 * for another domain, so a client falls back to its other sources.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ex.h"

const char *ex_advertise(const struct ex_req *r, const char *key,
			 const char *def);
const char *ex_advertise(const struct ex_req *r, const char *key,
			 const char *def)
{
	const struct rmail_strmap *m = &ex_conf(r->mod)->advertise;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->k[i], key) == 0)
			return m->v[i];
	if (strcmp(key, "hostname") == 0) {
		const char *h = r->mod->core->conf_str("hostname");

		return h != NULL ? h : "localhost";
	}
	return def;
}

/* XML-escape into the request pool */
char *ex_xml_escape(struct ex_req *r, const char *s);
char *ex_xml_escape(struct ex_req *r, const char *s)
{
	size_t n = 0, i;
	char *o, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += strchr("<>&\"'", s[i]) != NULL ? 6 : 1;
	o = p = r->mod->core->palloc(r->pool, n + 1);
	for (i = 0; s[i] != '\0'; i++) {
		switch (s[i]) {
		case '<':
			memcpy(p, "&lt;", 4);
			p += 4;
			break;
		case '>':
			memcpy(p, "&gt;", 4);
			p += 4;
			break;
		case '&':
			memcpy(p, "&amp;", 5);
			p += 5;
			break;
		case '"':
			memcpy(p, "&quot;", 6);
			p += 6;
			break;
		case '\'':
			memcpy(p, "&apos;", 6);
			p += 6;
			break;
		default:
			/* controls never reach XML 1.0 */
			*p++ = (unsigned char)s[i] < ' ' ? '?' : s[i];
		}
	}
	*p = '\0';
	return o;
}

/* the lowercased domain of emailaddress when the store serves it; the
 * hostname's parent without an address; NULL when answered already */
static const char *autoconfig_domain(struct ex_req *r, const char *host)
{
	const char *addr = ex_query(r, "emailaddress"), *at;
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	char *dom, *p;
	void *h;
	int local;

	if (addr == NULL || *addr == '\0')
		return strchr(host, '.') != NULL ? strchr(host, '.') + 1 : host;
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0' ||
	    strlen(at + 1) > RMAIL_ADDR_MAX) {
		ex_error(r, 404, "Not a mail address");
		return NULL;
	}
	dom = r->mod->core->pstrndup(r->pool, at + 1, strlen(at + 1));
	for (p = dom; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	ops = r->mod->core->store(&h);
	rmail_err_clear(&err);
	if (RMAIL_HAS(ops, struct rmail_store_ops, domain_local_try) &&
	    ops->domain_local_try != NULL)
		local = ops->domain_local_try(h, dom, &err);
	else
		local = ops->domain_is_local(h, dom) ? 1 : 0;
	if (local < 0) {
		ex_error(r, 503, "Store unavailable");
		return NULL;
	}
	if (local == 0) {
		ex_error(r, 404, "Domain not served here");
		return NULL;
	}
	return ex_xml_escape(r, dom);
}

void ex_autoconfig(struct ex_req *r)
{
	const char *host = ex_xml_escape(r, ex_advertise(r, "hostname", NULL));
	const char *domain = autoconfig_domain(r, host);
	char *xml;

	if (domain == NULL)
		return;

	xml = r->mod->core->psprintf(
		r->pool,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<clientConfig version=\"1.1\">\n"
		"  <emailProvider id=\"%s\">\n"
		"    <domain>%s</domain>\n"
		"    <displayName>%s</displayName>\n"
		"    <incomingServer type=\"imap\">\n"
		"      <hostname>%s</hostname>\n"
		"      <port>%s</port>\n"
		"      <socketType>SSL</socketType>\n"
		"      <authentication>password-cleartext</authentication>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"    </incomingServer>\n"
		"    <incomingServer type=\"imap\">\n"
		"      <hostname>%s</hostname>\n"
		"      <port>%s</port>\n"
		"      <socketType>STARTTLS</socketType>\n"
		"      <authentication>password-cleartext</authentication>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"    </incomingServer>\n"
		"    <outgoingServer type=\"smtp\">\n"
		"      <hostname>%s</hostname>\n"
		"      <port>%s</port>\n"
		"      <socketType>SSL</socketType>\n"
		"      <authentication>password-cleartext</authentication>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"    </outgoingServer>\n"
		"    <outgoingServer type=\"smtp\">\n"
		"      <hostname>%s</hostname>\n"
		"      <port>%s</port>\n"
		"      <socketType>STARTTLS</socketType>\n"
		"      <authentication>password-cleartext</authentication>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"    </outgoingServer>\n"
		"  </emailProvider>\n"
		"</clientConfig>\n",
		domain, domain, host, host,
		ex_xml_escape(r, ex_advertise(r, "imaps_port", "993")), host,
		ex_xml_escape(r, ex_advertise(r, "imap_port", "143")), host,
		ex_xml_escape(r, ex_advertise(r, "smtps_port", "465")), host,
		ex_xml_escape(r, ex_advertise(r, "submission_port", "587")));
	ex_respond(r, 200, "application/xml; charset=utf-8", xml, strlen(xml),
		   NULL);
}
