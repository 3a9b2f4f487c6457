/* The PROXY protocol header parser: v1 and v2 as HAProxy sends them,
 * fed whole and byte by byte, the exact length consumed (the protocol
 * behind it untouched), and every malformed form refused. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "net/proxy_proto.h"

static const unsigned char V2_SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static char *src_ip(const struct rm_proxy_hdr *h, int *port)
{
	char ip[INET6_ADDRSTRLEN];

	if (h->family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&h->src;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		*port = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)&h->src;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		*port = ntohs(s->sin6_port);
	}
	return g_strdup(ip);
}

/* whole, then every prefix: incomplete until the last byte */
static int parse_all_ways(const void *buf, size_t len, size_t hlen,
			  struct rm_proxy_hdr *h)
{
	const char *why;

	for (size_t k = 0; k < hlen; k++)
		g_assert_cmpint(rm_proxy_parse(buf, k, h, &why), ==, 0);
	return rm_proxy_parse(buf, len, h, &why);
}

static void test_v1(void)
{
	const char *m = "PROXY TCP4 203.0.113.9 198.51.100.2 40000 25\r\n"
			"EHLO client\r\n";
	const char *m6 = "PROXY TCP6 2001:db8::9 2001:db8::1 65535 993\r\n";
	struct rm_proxy_hdr h;
	size_t hl = strlen(m) - strlen("EHLO client\r\n");
	char *ip;
	int port;

	g_assert_cmpint(parse_all_ways(m, strlen(m), hl, &h), ==, (int)hl);
	g_assert_cmpint(h.family, ==, AF_INET);
	ip = src_ip(&h, &port);
	g_assert_cmpstr(ip, ==, "203.0.113.9");
	g_assert_cmpint(port, ==, 40000);
	g_free(ip);

	g_assert_cmpint(parse_all_ways(m6, strlen(m6), strlen(m6), &h), ==,
			(int)strlen(m6));
	g_assert_cmpint(h.family, ==, AF_INET6);
	ip = src_ip(&h, &port);
	g_assert_cmpstr(ip, ==, "2001:db8::9");
	g_assert_cmpint(port, ==, 65535);
	g_free(ip);

	/* UNKNOWN: keep the socket's address, whatever follows */
	g_assert_cmpint(parse_all_ways("PROXY UNKNOWN\r\nX", 16, 15, &h), ==,
			15);
	g_assert_cmpint(h.family, ==, AF_UNSPEC);
	g_assert_cmpint(parse_all_ways("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
				       35, 35, &h),
			==, 35);
	g_assert_cmpint(h.family, ==, AF_UNSPEC);
}

static void test_v2(void)
{
	unsigned char b[64 + 20];
	struct rm_proxy_hdr h;
	char *ip;
	int port;

	/* PROXY, TCP over IPv4, 203.0.113.9:40000 -> 198.51.100.2:25,
	 * one TLV (ALPN) after the addresses, then protocol bytes */
	memcpy(b, V2_SIG, 12);
	b[12] = 0x21;
	b[13] = 0x11;
	b[14] = 0;
	b[15] = 12 + 6;
	memcpy(b + 16, "\xcb\x00\x71\x09\xc6\x33\x64\x02\x9c\x40\x00\x19", 12);
	memcpy(b + 28, "\x01\x00\x03h2x", 6);
	memcpy(b + 34, "EHLO", 4);
	g_assert_cmpint(parse_all_ways(b, 38, 34, &h), ==, 34);
	g_assert_cmpint(h.family, ==, AF_INET);
	ip = src_ip(&h, &port);
	g_assert_cmpstr(ip, ==, "203.0.113.9");
	g_assert_cmpint(port, ==, 40000);
	g_free(ip);

	/* IPv6 */
	b[13] = 0x21;
	b[15] = 36;
	memset(b + 16, 0, 36);
	b[16] = 0x20;
	b[17] = 0x01;
	b[18] = 0x0d;
	b[19] = 0xb8;
	b[31] = 9;
	b[48] = 0x01;
	b[49] = 0xbb;
	g_assert_cmpint(parse_all_ways(b, 52, 52, &h), ==, 52);
	g_assert_cmpint(h.family, ==, AF_INET6);
	ip = src_ip(&h, &port);
	g_assert_cmpstr(ip, ==, "2001:db8::9");
	g_assert_cmpint(port, ==, 443);
	g_free(ip);

	/* LOCAL (a health check): no address to take */
	b[12] = 0x20;
	b[13] = 0x00;
	b[15] = 0;
	g_assert_cmpint(parse_all_ways(b, 16, 16, &h), ==, 16);
	g_assert_cmpint(h.family, ==, AF_UNSPEC);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"EHLO client\r\n",
		"\x16\x03\x01\x02\x00", /* a TLS ClientHello */
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
		"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	};
	unsigned char b[2048];
	struct rm_proxy_hdr h;
	const char *why;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("%s", bad[i]);
		g_assert_cmpint(rm_proxy_parse((const void *)bad[i],
					       strlen(bad[i]), &h, &why),
				==, -1);
		g_assert_nonnull(why);
	}
	/* a v1 line that never ends: refused at the spec's 107 bytes */
	memset(b, 'x', sizeof(b));
	memcpy(b, "PROXY TCP4 ", 11);
	g_assert_cmpint(rm_proxy_parse(b, 106, &h, &why), ==, 0);
	g_assert_cmpint(rm_proxy_parse(b, 107, &h, &why), ==, -1);

	/* v2: wrong version, unknown command, DGRAM, a short address block,
	 * a length past the cap */
	memcpy(b, V2_SIG, 12);
	b[12] = 0x11;
	b[13] = 0x11;
	b[14] = 0;
	b[15] = 12;
	g_assert_cmpint(rm_proxy_parse(b, 28, &h, &why), ==, -1);
	b[12] = 0x22;
	g_assert_cmpint(rm_proxy_parse(b, 28, &h, &why), ==, -1);
	b[12] = 0x21;
	b[13] = 0x12;
	g_assert_cmpint(rm_proxy_parse(b, 28, &h, &why), ==, -1);
	b[13] = 0x11;
	b[15] = 8;
	g_assert_cmpint(rm_proxy_parse(b, 24, &h, &why), ==, -1);
	b[14] = 0x10;
	g_assert_cmpint(rm_proxy_parse(b, 16, &h, &why), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proxy/v1", test_v1);
	g_test_add_func("/proxy/v2", test_v2);
	g_test_add_func("/proxy/refused", test_refused);
	return g_test_run();
}
