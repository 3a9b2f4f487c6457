/*
 * Address matching for limits.exempt: "127.0.0.0/8", "::1", "2001:db8::/32".
 * IPv4-mapped IPv6 peers (::ffff:a.b.c.d) count as IPv4 everywhere.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"
#include "conn_int.h"

struct addr {
	int family;
	unsigned char b[16];
};

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};

static int parse_addr(const char *s, struct addr *a)
{
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = AF_INET6;
		if (memcmp(a->b, v4mapped, 12) == 0) {
			memmove(a->b, a->b + 12, 4);
			a->family = AF_INET;
		}
		return 0;
	}
	return -1;
}

void rm_ip_normalize(char *ip, size_t sz)
{
	struct addr a;

	if (parse_addr(ip, &a) == 0 && a.family == AF_INET &&
	    strchr(ip, ':') != NULL)
		inet_ntop(AF_INET, a.b, ip, (socklen_t)sz);
}

int rm_cidr_match(const char *ip, const char *cidr)
{
	char net[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	size_t len = slash ? (size_t)(slash - cidr) : strlen(cidr);
	struct addr a, n;
	long bits;
	int max;

	if (len == 0 || len >= sizeof(net))
		return -1;
	memcpy(net, cidr, len);
	net[len] = '\0';
	if (parse_addr(net, &n) < 0)
		return -1;
	max = n.family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max)
			return -1;
	}
	if (parse_addr(ip, &a) < 0 || a.family != n.family)
		return 0;
	for (long i = 0; i < bits; i += 8) {
		long left = bits - i;
		unsigned char mask =
			left >= 8 ? 0xff : (unsigned char)(0xff << (8 - left));

		if ((a.b[i / 8] & mask) != (n.b[i / 8] & mask))
			return 0;
	}
	return 1;
}

bool rm_ip_is_exempt(const char *ip)
{
	static const char *const defaults[] = {"127.0.0.0/8", "::1"};
	const struct rm_config *conf = rm_conf();
	const char *const *v = defaults;
	size_t n = 2;

	if (ip == NULL)
		return false;
	if (conf != NULL) {
		v = conf->limits.exempt.v;
		n = conf->limits.exempt.n;
	}
	for (size_t i = 0; i < n; i++)
		if (rm_cidr_match(ip, v[i]) == 1)
			return true;
	return false;
}
