/* TLSA rdata and the TLS-Required header field (tls_parse.h) */
#include "tls_parse.h"

#include <string.h>
#include <strings.h>

int rm_tlsa_parse(const unsigned char *rdata, size_t len,
		  struct rm_tlsa_view *v)
{
	/* PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP */
	if (len < 4 || (rdata[0] != 2 && rdata[0] != 3) || rdata[1] > 1 ||
	    rdata[2] > 2)
		return 0;
	v->usage = rdata[0];
	v->selector = rdata[1];
	v->mtype = rdata[2];
	v->data = rdata + 3;
	v->len = len - 3;
	return 1;
}

bool rm_tls_required_no_buf(const char *buf, size_t n)
{
	size_t i = 0;
	bool no = false;

	/* header lines until the empty line that ends them */
	while (i < n && buf[i] != '\r' && buf[i] != '\n') {
		const char *p = buf + i;
		const char *eol = memchr(p, '\n', n - i);
		size_t ll = eol != NULL ? (size_t)(eol - p) : n - i, j = 13;

		if (ll >= 13 && strncasecmp(p, "TLS-Required:", 13) == 0) {
			while (j < ll && (p[j] == ' ' || p[j] == '\t'))
				j++;
			/* RFC 8689 §5: "No" is the only value */
			if (ll - j >= 2 && strncasecmp(p + j, "No", 2) == 0 &&
			    (j + 2 == ll || p[j + 2] == ' ' ||
			     p[j + 2] == '\t' || p[j + 2] == '\r'))
				no = true;
		}
		if (eol == NULL)
			break;
		i += ll + 1;
	}
	return no;
}
