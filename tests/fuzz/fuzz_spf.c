/* libFuzzer harness for SPF: the record parser, the macro expander and
 * the evaluator.  The input is a record served for every TXT question
 * (so include and redirect recurse into it), its first byte picks the
 * client's family; every other question gets a fixed answer.  The
 * macro parser also sees the input as a bare macro-string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mailauth/spf.h"
#include "mailauth/spf_record.h"

static const uint8_t *g_rec;
static size_t g_len;

static int get_p(void *arg, const char **val)
{
	(void)arg;
	*val = "mx.example.org";
	return g_len & 1;
}

static void answer(void *arg, const char *name, int type)
{
	struct ma_dns_cache *c = arg;
	struct ma_rr rr[2];
	struct ma_rrset rs = {.rcode = MA_DNS_OK, .n = 1, .rr = rr};

	memset(rr, 0, sizeof(rr));
	switch (type) {
	case MA_T_TXT:
		rr[0].data = (unsigned char *)g_rec;
		rr[0].len = g_len;
		break;
	case MA_T_A:
		memcpy(rr[0].addr, "\xc0\x00\x02\x01", 4);
		break;
	case MA_T_AAAA:
		memcpy(rr[0].addr, "\x20\x01\x0d\xb8", 4);
		break;
	case MA_T_MX:
	case MA_T_PTR:
		rr[0].host = "mx.example.org";
		rr[1].host = "";
		rs.n = 2;
		break;
	default:
		rs.rcode = MA_DNS_NXDOMAIN;
		rs.n = 0;
	}
	if (strncmp(name, "nx", 2) == 0) {
		rs.rcode = MA_DNS_NXDOMAIN;
		rs.n = 0;
	}
	ma_dns_put(c, name, type, &rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_record r;
	struct spf_macro_env env = {
		.s = "a@b.example",
		.l = "a",
		.o = "b.example",
		.d = "b.example",
		.i = "192.0.2.1",
		.v = "in-addr",
		.h = "h.example",
		.c = "192.0.2.1",
		.r = "r.example",
		.t = "1",
		.get_p = get_p,
	};
	struct spf_input in = {.helo = "h.example",
			       .mail_from = "a@b.example",
			       .default_exp = "%{i} %{p}"};
	struct spf_verdict v;
	struct ma_dns_cache *c;
	char out[600];
	const char *why;
	int rc;

	if (size < 1 || size > 8192)
		return 0;
	in.family = data[0] & 1 ? AF_INET6 : AF_INET;
	memcpy(in.ip, "\xc0\x00\x02\x01", 4);
	g_rec = data + 1;
	g_len = size - 1;

	(void)spf_record_parse((const char *)g_rec, g_len, &r, &why);
	for (int exp = 0; exp < 2; exp++) {
		(void)spf_macro_valid((const char *)g_rec, g_len, exp, !exp);
		rc = spf_macro_expand((const char *)g_rec, g_len, exp, &env,
				      out, sizeof(out));
		if (rc == 0 && strlen(out) >= sizeof(out))
			abort();
	}

	c = ma_dns_cache_new(256);
	for (int round = 0; round < 64; round++) {
		rc = spf_check(c, &in, &v);
		if (rc == MA_DONE)
			break;
		if (ma_dns_take_wanted(c, answer, c) == 0)
			abort(); /* PENDING without a question: a hang */
	}
	if (rc != MA_DONE || (unsigned)v.result > SPF_PERMERROR ||
	    strlen(v.explanation) >= sizeof(v.explanation))
		abort();
	for (const char *p = v.explanation; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort(); /* it goes into an SMTP reply */
	ma_dns_cache_free(c);
	return 0;
}
