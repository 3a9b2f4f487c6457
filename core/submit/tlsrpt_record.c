/*
 * The TLS-RPT policy record (RFC 8460 §3), read from
 * `_smtp._tls.DOMAIN` TXT, so from anyone: one pass, no allocation,
 * every copy bounded.  The rua= URIs become where reports go, so a
 * mailto: address is checked to be a plain addr-spec (no header or
 * envelope injection) and an https: URI is kept only when it is
 * printable ASCII without spaces.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "submit/tlsrpt.h"
#include "tagval.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "mailto:" ADDR ["?" hfields]: the percent-decoded ADDR after the
 * scheme, refused unless it is one local@domain of safe bytes */
static bool mailto_copy(struct rm_span u, char *out, size_t outsz)
{
	size_t o = strlen("mailto:"), at = 0, nat = 0;

	memcpy(out, "mailto:", o);
	for (size_t i = 7; i < u.n && u.p[i] != '?'; i++) {
		int c = (unsigned char)u.p[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= u.n || (h = hexval(u.p[i + 1])) < 0 ||
			    (l = hexval(u.p[i + 2])) < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		}
		if (c <= 0x20 || c >= 0x7f || strchr("<>,;\"()[]\\", c) != NULL)
			return false;
		if (o + 1 >= outsz)
			return false;
		if (c == '@') {
			nat++;
			at = o;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* local part and domain both non-empty */
	return nat == 1 && at > 7 && at + 1 < o;
}

static bool https_copy(struct rm_span u, char *out, size_t outsz)
{
	if (u.n <= 8 || u.n >= outsz)
		return false;
	for (size_t i = 0; i < u.n; i++)
		if ((unsigned char)u.p[i] <= 0x20 ||
		    (unsigned char)u.p[i] >= 0x7f)
			return false;
	memcpy(out, u.p, u.n);
	out[u.n] = '\0';
	return true;
}

static int rua_list(struct rm_span v, struct rm_tlsrpt_record *out)
{
	size_t i = 0;

	if (v.n == 0)
		return -1;
	while (i <= v.n) {
		const char *comma = memchr(v.p + i, ',', v.n - i);
		size_t end = comma != NULL ? (size_t)(comma - v.p) : v.n;
		struct rm_span u = rm_span_trim(v.p + i, end - i, false);

		i = end + 1;
		if (u.n == 0)
			return -1;
		if (out->nrua >= RM_TLSRPT_RUA_MAX)
			continue;
		if (u.n > 7 && strncasecmp(u.p, "mailto:", 7) == 0) {
			if (mailto_copy(u, out->rua[out->nrua],
					RM_TLSRPT_URI_MAX))
				out->nrua++;
		} else if (u.n > 8 && strncasecmp(u.p, "https://", 8) == 0) {
			if (https_copy(u, out->rua[out->nrua],
				       RM_TLSRPT_URI_MAX))
				out->nrua++;
		}
		/* other schemes: not ours to use (§3) */
		if (comma == NULL)
			break;
	}
	return 0;
}

int rm_tlsrpt_record_parse(const char *txt, size_t len,
			   struct rm_tlsrpt_record *out)
{
	bool first = true, have_rua = false;
	struct rm_tv_iter it;
	struct rm_tv_field fld;

	memset(out, 0, sizeof(*out));
	if (len < 10 || memcmp(txt, "v=TLSRPTv1", 10) != 0 ||
	    (len > 10 && txt[10] != ';' && !rm_tv_is_ws(txt[10], false)))
		return 1;
	if (memchr(txt, '\0', len) != NULL)
		return -1;
	rm_tv_init(&it, txt, len, false);
	while (rm_tv_next(&it, &fld)) {
		struct rm_span f = fld.f, k = fld.k, v;

		if (f.n == 0) {
			if (!fld.last || first)
				return -1;
			break;
		}
		if (!fld.has_eq)
			return -1;
		v = rm_span_trim(fld.v.p, fld.v.n, false);
		if (first) {
			if (!rm_span_is(f, "v=TLSRPTv1"))
				return -1;
			first = false;
		} else if (rm_span_is(k, "rua")) {
			if (have_rua || rua_list(v, out) < 0)
				return -1;
			have_rua = true;
		} else if (!rm_tv_ext_name_ok(k) || !rm_tv_ext_value_ok(v)) {
			return -1;
		}
	}
	return have_rua && out->nrua > 0 ? 0 : -1;
}

static const char *const policy_names[] = {"no-policy-found", "sts", "tlsa"};

static const char *const result_names[RM_TLSRPT_RESULT_COUNT] = {
	"success",
	"starttls-not-supported",
	"certificate-host-mismatch",
	"certificate-expired",
	"certificate-not-trusted",
	"validation-failure",
	"tlsa-invalid",
	"dnssec-invalid",
	"dane-required",
	"sts-policy-fetch-error",
	"sts-policy-invalid",
	"sts-webpki-invalid",
};

const char *rm_tlsrpt_policy_name(int type)
{
	return type >= 0 && type < 3 ? policy_names[type] : "no-policy-found";
}

const char *rm_tlsrpt_result_name(int result)
{
	return result >= 0 && result < RM_TLSRPT_RESULT_COUNT
		       ? result_names[result]
		       : "validation-failure";
}

int rm_tlsrpt_policy_of(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, policy_names[i]) == 0)
			return i;
	return -1;
}

int rm_tlsrpt_result_of(const char *name)
{
	for (int i = 0; i < RM_TLSRPT_RESULT_COUNT; i++)
		if (strcmp(name, result_names[i]) == 0)
			return i;
	return -1;
}
