/*
 * Outlook autodiscover (POX, request schema 2006, response 2006a).  The
 * body is never given to an XML parser (no DTDs, no entities): a bounded
 * scanner finds the EMailAddress element.  Unknown addresses get the
 * same answer as known ones, so the endpoint tells nobody who exists.
 */
#include <stdio.h>
#include <string.h>

#include "ex.h"

#define AD_BODY_MAX (64 * 1024)

const char *ex_advertise(const struct ex_req *r, const char *key,
			 const char *def);
char *ex_xml_escape(struct ex_req *r, const char *s);

void ex_autodiscover(struct ex_req *r)
{
	char email[RMAIL_ADDR_MAX + 1];
	const char *host;
	char *xml;

	if (r->body_len > AD_BODY_MAX) {
		ex_error(r, 413, "Request too large");
		return;
	}
	if (r->body == NULL ||
	    ex_autodiscover_email(r->body, r->body_len, email, sizeof(email)) <
		    0) {
		ex_respond(r, 400, "application/xml; charset=utf-8",
			   "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			   "<Error>EMailAddress missing</Error>\n",
			   74, NULL);
		return;
	}
	host = ex_xml_escape(r, ex_advertise(r, "hostname", NULL));
	xml = r->mod->core->psprintf(
		r->pool,
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
		"autodiscover/responseschema/2006\">\n"
		"  <Response xmlns=\"http://schemas.microsoft.com/exchange/"
		"autodiscover/outlook/responseschema/2006a\">\n"
		"    <User><DisplayName>%s</DisplayName></User>\n"
		"    <Account>\n"
		"      <AccountType>email</AccountType>\n"
		"      <Action>settings</Action>\n"
		"      <Protocol>\n"
		"        <Type>IMAP</Type>\n"
		"        <Server>%s</Server>\n"
		"        <Port>%s</Port>\n"
		"        <LoginName>%s</LoginName>\n"
		"        <DomainRequired>off</DomainRequired>\n"
		"        <SPA>off</SPA>\n"
		"        <SSL>on</SSL>\n"
		"        <AuthRequired>on</AuthRequired>\n"
		"      </Protocol>\n"
		"      <Protocol>\n"
		"        <Type>SMTP</Type>\n"
		"        <Server>%s</Server>\n"
		"        <Port>%s</Port>\n"
		"        <LoginName>%s</LoginName>\n"
		"        <DomainRequired>off</DomainRequired>\n"
		"        <SPA>off</SPA>\n"
		"        <SSL>on</SSL>\n"
		"        <AuthRequired>on</AuthRequired>\n"
		"        <UsePOPAuth>off</UsePOPAuth>\n"
		"        <SMTPLast>off</SMTPLast>\n"
		"      </Protocol>\n"
		"    </Account>\n"
		"  </Response>\n"
		"</Autodiscover>\n",
		ex_xml_escape(r, email), host,
		ex_xml_escape(r, ex_advertise(r, "imaps_port", "993")),
		ex_xml_escape(r, email), host,
		ex_xml_escape(r, ex_advertise(r, "smtps_port", "465")),
		ex_xml_escape(r, email));
	ex_respond(r, 200, "application/xml; charset=utf-8", xml, strlen(xml),
		   NULL);
}
