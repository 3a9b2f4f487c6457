/* The evaluators' answer cache: PENDING once, wanted once, answers
 * deep-copied, names folded, the bound held. */
#include <glib.h>
#include <string.h>

#include "mailauth/ma_dns.h"

static void count_wanted(void *arg, const char *name, int type)
{
	GString *s = arg;

	g_string_append_printf(s, "%s/%d;", name, type);
}

static void test_pending_then_answer(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(8);
	GString *w = g_string_new(NULL);
	char txt[] = "v=spf1 -all";
	struct ma_rr rr = {.data = (unsigned char *)txt, .len = strlen(txt)};
	struct ma_rrset rs = {.rcode = MA_DNS_OK, .n = 1, .rr = &rr};
	const struct ma_rrset *got;

	g_assert_cmpint(ma_dns_get(c, "Example.COM.", MA_T_TXT)->rcode, ==,
			MA_DNS_PENDING);
	/* asked twice, wanted once */
	g_assert_cmpint(ma_dns_get(c, "example.com", MA_T_TXT)->rcode, ==,
			MA_DNS_PENDING);
	g_assert_cmpuint(ma_dns_take_wanted(c, count_wanted, w), ==, 1);
	g_assert_cmpstr(w->str, ==, "example.com/16;");
	g_assert_cmpuint(ma_dns_take_wanted(c, count_wanted, w), ==, 0);

	g_assert_cmpint(ma_dns_put(c, "EXAMPLE.com", MA_T_TXT, &rs), ==, 0);
	txt[0] = 'X'; /* the cache holds its own copy */
	got = ma_dns_get(c, "example.com.", MA_T_TXT);
	g_assert_cmpint(got->rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(got->n, ==, 1);
	g_assert_cmpstr((const char *)got->rr[0].data, ==, "v=spf1 -all");
	/* another type of the same name is another question */
	g_assert_cmpint(ma_dns_get(c, "example.com", MA_T_A)->rcode, ==,
			MA_DNS_PENDING);
	g_string_free(w, TRUE);
	ma_dns_cache_free(c);
}

static void test_bounded(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(2);
	struct ma_rrset nx = {.rcode = MA_DNS_NXDOMAIN};
	char longname[300];

	g_assert_cmpint(ma_dns_get(c, "a.example", MA_T_A)->rcode, ==,
			MA_DNS_PENDING);
	g_assert_cmpint(ma_dns_put(c, "b.example", MA_T_A, &nx), ==, 0);
	/* full: further questions are temporary errors, not growth */
	g_assert_cmpint(ma_dns_get(c, "c.example", MA_T_A)->rcode, ==,
			MA_DNS_TEMP);
	g_assert_cmpint(ma_dns_put(c, "c.example", MA_T_A, &nx), ==, -1);
	g_assert_cmpint(ma_dns_get(c, "b.example", MA_T_A)->rcode, ==,
			MA_DNS_NXDOMAIN);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	g_assert_cmpint(ma_dns_get(c, longname, MA_T_A)->rcode, ==,
			MA_DNS_TEMP);
	ma_dns_cache_free(c);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ma_dns/pending_then_answer",
			test_pending_then_answer);
	g_test_add_func("/ma_dns/bounded", test_bounded);
	return g_test_run();
}
