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

const char *ex_advertise(const char *key, const char *def);
char *ex_xml_escape(struct ex_req *r, const char *s);

/* 0 with the trimmed address in out, -1 when absent or malformed */
int ex_autodiscover_email(const char *body, size_t len, char *out,
			  size_t outsz)
{
	static const char tag[] = "EMailAddress>";
	size_t i, s, e, n;

	if (len > AD_BODY_MAX)
		return -1;
	for (i = 0; i + sizeof(tag) - 1 <= len; i++) {
		/* "<EMailAddress>" or a prefixed "<a:EMailAddress>" */
		if (body[i] != '<' || (i + 1 < len && body[i + 1] == '/'))
			continue;
		s = i + 1;
		while (s < len && s - i < 32 && body[s] != '>' &&
		       body[s] != ':' && body[s] != '<')
			s++;
		if (s < len && body[s] == ':')
			s++;
		else
			s = i + 1;
		if (len - s < sizeof(tag) - 1 ||
		    memcmp(body + s, tag, sizeof(tag) - 1) != 0)
			continue;
		s += sizeof(tag) - 1;
		for (e = s; e < len && body[e] != '<'; e++)
			;
		if (e >= len)
			return -1;
		while (s < e && (body[s] == ' ' || body[s] == '\t' ||
				 body[s] == '\r' || body[s] == '\n'))
			s++;
		while (e > s && (body[e - 1] == ' ' || body[e - 1] == '\t' ||
				 body[e - 1] == '\r' || body[e - 1] == '\n'))
			e--;
		n = e - s;
		if (n == 0 || n >= outsz || n > RMAIL_ADDR_MAX ||
		    memchr(body + s, '@', n) == NULL)
			return -1;
		for (i = s; i < e; i++) {
			unsigned char c = (unsigned char)body[i];

			if (c <= ' ' || c == '&' || c == '"' || c == '\'' ||
			    c == '>' || c == 0x7f)
				return -1;
		}
		memcpy(out, body + s, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

void ex_autodiscover(struct ex_req *r)
{
	char email[RMAIL_ADDR_MAX + 1];
	const char *host;
	char *xml;

	if (r->body_len > AD_BODY_MAX) {
		ex_error(r, 413, "Request too large");
		return;
	}
	if (r->body == NULL || ex_autodiscover_email(r->body, r->body_len,
						     email, sizeof(email)) < 0) {
		ex_respond(r, 400, "application/xml; charset=utf-8",
			   "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			   "<Error>EMailAddress missing</Error>\n", 74, NULL);
		return;
	}
	host = ex_xml_escape(r, ex_advertise("hostname", NULL));
	xml = ex.core->psprintf(r->pool,
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
		ex_xml_escape(r, email),
		host, ex_xml_escape(r, ex_advertise("imaps_port", "993")),
		ex_xml_escape(r, email),
		host, ex_xml_escape(r, ex_advertise("smtps_port", "465")),
		ex_xml_escape(r, email));
	ex_respond(r, 200, "application/xml; charset=utf-8", xml, strlen(xml),
		   NULL);
}
