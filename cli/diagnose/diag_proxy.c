/*
 * `rmail diagnose` through PROXY-protocol listeners: a listener named in
 * proxy_protocol.listeners closes any connection that does not start
 * with a PROXY header, so diagnose sends one (v2, PROXY command) carrying
 * its own connection's real addresses: the session runs under the
 * address it would have without a balancer, nothing is spoofed, and the
 * daemon accepts it only when this host is a trusted proxy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diag_int.h"
#include "net/conn_int.h"
#include "rm.h"

#define DG_PROXIED_MAX 32

static char proxied[DG_PROXIED_MAX][80];
static size_t nproxied;

static const unsigned char V2_SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

void dg_norm_addr(const char *a, char *out, size_t sz)
{
	if (strncmp(a, "0.0.0.0:", 8) == 0)
		snprintf(out, sz, "127.0.0.1:%s", a + 8);
	else if (strncmp(a, "[::]:", 5) == 0)
		snprintf(out, sz, "[::1]:%s", a + 5);
	else if (strncmp(a, "*:", 2) == 0)
		snprintf(out, sz, "127.0.0.1:%s", a + 2);
	else if (strchr(a, ':') == NULL)
		snprintf(out, sz, "127.0.0.1:%s", a);
	else
		snprintf(out, sz, "%s", a);
}

void dg_proxy_mark(struct diag *d)
{
	const struct rmail_strlist *l = &d->conf->proxy.listeners;

	nproxied = 0;
	for (size_t i = 0; i < l->n; i++) {
		char section[64];
		const char *dot = strchr(l->v[i], '.');
		json_t *addrs;

		if (dot == NULL || (size_t)(dot - l->v[i]) >= sizeof(section))
			continue;
		snprintf(section, sizeof(section), "%.*s", (int)(dot - l->v[i]),
			 l->v[i]);
		addrs = dg_conf_get(d, section, dot + 1);
		for (size_t j = 0;
		     addrs != NULL && j < json_array_size(addrs) &&
		     nproxied < DG_PROXIED_MAX;
		     j++) {
			const char *a =
				json_string_value(json_array_get(addrs, j));

			if (a != NULL)
				dg_norm_addr(a, proxied[nproxied++],
					     sizeof(proxied[0]));
		}
	}
}

bool dg_proxy_wanted(const char *hostport)
{
	for (size_t i = 0; i < nproxied; i++)
		if (strcmp(proxied[i], hostport) == 0)
			return true;
	return false;
}

int dg_proxy_send(int fd, char *why, size_t whysz)
{
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	unsigned char h[16 + 36];
	size_t len;

	if (getsockname(fd, (struct sockaddr *)&src, &sl) < 0 ||
	    getpeername(fd, (struct sockaddr *)&dst, &dl) < 0 ||
	    src.ss_family != dst.ss_family) {
		snprintf(why, whysz, "PROXY header: no socket addresses");
		return -1;
	}
	memcpy(h, V2_SIG, sizeof(V2_SIG));
	h[12] = 0x21; /* version 2, PROXY */
	if (src.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&src,
					 *t = (const void *)&dst;

		h[13] = 0x11; /* TCP over IPv4 */
		memcpy(h + 16, &s->sin_addr, 4);
		memcpy(h + 20, &t->sin_addr, 4);
		memcpy(h + 24, &s->sin_port, 2);
		memcpy(h + 26, &t->sin_port, 2);
		len = 12;
	} else {
		const struct sockaddr_in6 *s = (const void *)&src,
					  *t = (const void *)&dst;

		h[13] = 0x21; /* TCP over IPv6 */
		memcpy(h + 16, &s->sin6_addr, 16);
		memcpy(h + 32, &t->sin6_addr, 16);
		memcpy(h + 48, &s->sin6_port, 2);
		memcpy(h + 50, &t->sin6_port, 2);
		len = 36;
	}
	h[14] = 0;
	h[15] = (unsigned char)len;
	if (write(fd, h, 16 + len) != (ssize_t)(16 + len)) {
		snprintf(why, whysz, "PROXY header: write failed");
		return -1;
	}
	return 0;
}

void dg_proxy_check(struct diag *d)
{
	const struct rmail_strlist *t = &d->conf->proxy.trusted;
	bool v4 = false, v6 = false;

	if (d->conf->proxy.listeners.n == 0)
		return;
	for (size_t i = 0; i < t->n; i++) {
		v4 = v4 || rm_cidr_match("127.0.0.1", t->v[i]) == 1;
		v6 = v6 || rm_cidr_match("::1", t->v[i]) == 1;
	}
	if (v4 || v6)
		dg_check(d, DG_PASS, "config.proxy",
			 "%zu listener(s) behind a load balancer: diagnose "
			 "sends them a PROXY v2 header with its own address",
			 d->conf->proxy.listeners.n);
	else
		dg_check(d, DG_WARN, "config.proxy",
			 "%zu listener(s) expect a PROXY header, and this "
			 "host (127.0.0.1, ::1) is not in "
			 "proxy_protocol.trusted_proxies: diagnose cannot "
			 "reach them (trust loopback, or keep one listener "
			 "without PROXY for local tools)",
			 d->conf->proxy.listeners.n);
}
