/*
 * Address canonicalisation: one address, one user directory.  Domains go
 * to lower-case A-labels (IDNA2008 via libidn2, so "Bücher.example" and
 * "xn--bcher-kva.example" are one domain); local parts are ASCII
 * case-folded and lose their "+detail".
 */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

int ss_addr_canon(const char *address, char *local_r, size_t localsz,
		  char *domain_r, size_t domainsz, struct rmail_err *err)
{
	const char *at, *plus;
	char *alabel = NULL, dom[256];
	size_t llen, dlen, i;
	int rc;

	if (address == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "no address");
	at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0' ||
	    strlen(address) > RMAIL_ADDR_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad address");
	llen = (size_t)(at - address);
	plus = memchr(address, '+', llen);
	if (plus != NULL && plus != address)
		llen = (size_t)(plus - address);
	for (i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)address[i];

		if (c < 0x21 || c == 0x7f || c == '/' || c == '\\')
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "bad local part");
	}
	if (llen + 1 > localsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "local part too long");
	for (i = 0; i < llen; i++) {
		char c = address[i];

		local_r[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	local_r[llen] = '\0';

	dlen = strlen(at + 1);
	if (dlen >= sizeof(dom))
		return rmail_err_set(err, RMAIL_E_INVAL, "domain too long");
	memcpy(dom, at + 1, dlen + 1);
	if (dom[dlen - 1] == '.')
		dom[--dlen] = '\0';
	rc = idn2_to_ascii_8z(dom, &alabel,
			      IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad domain: %s",
				     idn2_strerror(rc));
	dlen = strlen(alabel);
	for (i = 0; i < dlen; i++) {
		char c = alabel[i];

		if (c >= 'A' && c <= 'Z')
			alabel[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '.'))
			break;
	}
	if (i < dlen || dlen == 0 || dlen + 1 > domainsz || alabel[0] == '.') {
		idn2_free(alabel);
		return rmail_err_set(err, RMAIL_E_INVAL, "bad domain");
	}
	memcpy(domain_r, alabel, dlen + 1);
	idn2_free(alabel);
	return 0;
}
