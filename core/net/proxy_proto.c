/*
 * PROXY protocol header parser (HAProxy's proxy-protocol.txt, v1 text
 * and v2 binary).  The input comes from the network: only a trusted
 * proxy may send it, but the parser still bounds every read and refuses
 * anything it does not fully understand, so a stray client's first line
 * is a clean refusal.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy_proto.h"

static const unsigned char V2_SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char V1_SIG[] = "PROXY ";

static int fail(const char **why, const char *what)
{
	*why = what;
	return -1;
}

/* a decimal port, 0..65535, digits only */
static int port_of(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int set_addr(struct sockaddr_storage *ss, socklen_t *len, int family,
		    const void *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, 16);
		*len = sizeof(*in6);
	}
	return 0;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", single spaces */
static int parse_v1(const unsigned char *buf, size_t len,
		    struct rm_proxy_hdr *out, const char **why)
{
	const char *p = (const char *)buf, *field[5];
	size_t flen[5], n = 0, end, i, start;
	char tmp[INET6_ADDRSTRLEN];
	unsigned char a[2][16];
	uint16_t port[2];
	bool found = false;
	int family;

	/* printable up to CRLF: a bare CR or LF, a control byte or a line
	 * past the spec's length is refused without waiting for more */
	for (end = 0; end < len && end < RM_PROXY_V1_MAX; end++) {
		if (buf[end] == '\r') {
			if (end + 1 == len)
				return 0;
			if (buf[end + 1] != '\n')
				return fail(why, "v1 bare CR");
			found = true;
			break;
		}
		if (buf[end] < 0x20 || buf[end] > 0x7e)
			return fail(why, "v1 control character");
	}
	if (!found)
		return end >= RM_PROXY_V1_MAX ? fail(why, "v1 line too long")
					      : 0;
	if (end >= 13 && memcmp(p, "PROXY UNKNOWN", 13) == 0 &&
	    (end == 13 || p[13] == ' ')) {
		/* addresses after UNKNOWN are to be ignored */
		out->family = AF_UNSPEC;
		return (int)end + 2;
	}
	if (end < 11 ||
	    (memcmp(p + 6, "TCP4 ", 5) != 0 && memcmp(p + 6, "TCP6 ", 5) != 0))
		return fail(why, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
	family = p[9] == '4' ? AF_INET : AF_INET6;
	start = 11;
	for (i = 11; i <= end; i++) {
		if (i < end && p[i] != ' ')
			continue;
		if (n == 4 || i == start)
			return fail(why, "v1 fields");
		field[n] = p + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != 4)
		return fail(why, "v1 fields");
	for (i = 0; i < 2; i++) {
		if (flen[i] >= sizeof(tmp))
			return fail(why, "v1 address");
		memcpy(tmp, field[i], flen[i]);
		tmp[flen[i]] = '\0';
		if (inet_pton(family, tmp, a[i]) != 1)
			return fail(why, "v1 address");
		if (port_of(field[2 + i], flen[2 + i], &port[i]) < 0)
			return fail(why, "v1 port");
	}
	out->family = family;
	set_addr(&out->src, &out->src_len, family, a[0], port[0]);
	set_addr(&out->dst, &out->dst_len, family, a[1], port[1]);
	return (int)end + 2;
}

static int parse_v2(const unsigned char *buf, size_t len,
		    struct rm_proxy_hdr *out, const char **why)
{
	size_t body, need;
	unsigned cmd, fam, proto;

	if (len < 16)
		return 0;
	if ((buf[12] >> 4) != 2)
		return fail(why, "v2 version");
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	body = ((size_t)buf[14] << 8) | buf[15];
	need = 16 + body;
	if (need > RM_PROXY_MAX)
		return fail(why, "v2 header too long");
	if (cmd > 1)
		return fail(why, "v2 command");
	if (len < need)
		return 0;
	out->family = AF_UNSPEC;
	/* LOCAL: the proxy's own connection (a health check) */
	if (cmd == 0)
		return (int)need;
	if (fam == 0 || fam == 3) /* UNSPEC, UNIX: keep the socket's */
		return (int)need;
	if (proto != 1)
		return fail(why, "v2 transport is not STREAM");
	if (fam == 1) {
		if (body < 12)
			return fail(why, "v2 address block too short");
		set_addr(&out->src, &out->src_len, AF_INET, buf + 16,
			 (uint16_t)((buf[24] << 8) | buf[25]));
		set_addr(&out->dst, &out->dst_len, AF_INET, buf + 20,
			 (uint16_t)((buf[26] << 8) | buf[27]));
		out->family = AF_INET;
	} else if (fam == 2) {
		if (body < 36)
			return fail(why, "v2 address block too short");
		set_addr(&out->src, &out->src_len, AF_INET6, buf + 16,
			 (uint16_t)((buf[48] << 8) | buf[49]));
		set_addr(&out->dst, &out->dst_len, AF_INET6, buf + 32,
			 (uint16_t)((buf[50] << 8) | buf[51]));
		out->family = AF_INET6;
	} else {
		return fail(why, "v2 address family");
	}
	/* TLVs (ALPN, authority, SSL info) follow: nothing here uses them */
	return (int)need;
}

int rm_proxy_parse(const unsigned char *buf, size_t len,
		   struct rm_proxy_hdr *out, const char **why)
{
	size_t k;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	/* decide on the bytes there are: a client that speaks first
	 * ("EHLO", a TLS hello) is refused without waiting */
	k = len < sizeof(V2_SIG) ? len : sizeof(V2_SIG);
	if (k > 0 && memcmp(buf, V2_SIG, k) == 0)
		return k < sizeof(V2_SIG) ? 0 : parse_v2(buf, len, out, why);
	k = len < sizeof(V1_SIG) - 1 ? len : sizeof(V1_SIG) - 1;
	if (k > 0 && memcmp(buf, V1_SIG, k) == 0)
		return k < sizeof(V1_SIG) - 1 ? 0
					      : parse_v1(buf, len, out, why);
	return len == 0 ? 0 : fail(why, "no PROXY header");
}
