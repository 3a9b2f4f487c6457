/*
 * Accepting on a listener named in proxy_protocol.listeners: the peer
 * must be a trusted proxy, and its PROXY header is read before anything
 * else (before TLS on implicit-TLS ports) with a deadline.  Only then
 * does the connection exist for the rest of the core, under the real
 * client's address: per-IP caps, auth budgets, logs, SPF and Received:
 * all see the client, never the balancer.
 *
 * The header is read with MSG_PEEK first and then consumed to its exact
 * length, so not one byte of the protocol behind it is taken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rm.h"
#include "net/conn_int.h"
#include "net/proxy_proto.h"

/* headers being waited for at once; only trusted proxies get here */
#define WAIT_MAX 1024

struct proxy_wait {
	ev_io io;
	ev_timer timer;
	ev_timer again; /* a partial header: look again a little later */
	struct rm_listener *l;
	int fd, local_port;
	char peer[INET6_ADDRSTRLEN];
	struct proxy_wait *prev, *next;
};

static struct proxy_wait *waits;
static size_t nwaits;

bool rm_proxy_listener(const char *where)
{
	const struct rm_config *c = rm_conf();

	for (size_t i = 0; c != NULL && i < c->proxy.listeners.n; i++)
		if (strcmp(c->proxy.listeners.v[i], where) == 0)
			return true;
	return false;
}

static bool trusted(const char *ip)
{
	const struct rm_config *c = rm_conf();

	for (size_t i = 0; c != NULL && i < c->proxy.trusted.n; i++)
		if (rm_cidr_match(ip, c->proxy.trusted.v[i]) == 1)
			return true;
	return false;
}

static void wait_free(struct proxy_wait *w, bool close_fd)
{
	ev_io_stop(rm_loop(), &w->io);
	ev_timer_stop(rm_loop(), &w->timer);
	ev_timer_stop(rm_loop(), &w->again);
	if (close_fd)
		close(w->fd);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		waits = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	nwaits--;
	free(w);
	if (close_fd)
		rm_accept_fd_freed();
}

static void refuse(struct proxy_wait *w, const char *why)
{
	rm_log(RMAIL_LOG_WARN,
	       "event=proxy_refused peer=%s listener=%s reason=\"%s\"", w->peer,
	       rm_listener_opts(w->l)->proto, why);
	rm_metric_add("rmail_proxy_refused_total", NULL, 1);
	wait_free(w, true);
}

static void on_again(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct proxy_wait *w = rm_container_of(t, struct proxy_wait, again);

	(void)revents;
	ev_io_start(loop, &w->io);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct proxy_wait *w = rm_container_of(t, struct proxy_wait, timer);

	(void)loop;
	(void)revents;
	refuse(w, "no PROXY header in time");
}

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct proxy_wait *w = rm_container_of(io, struct proxy_wait, io);
	unsigned char buf[RM_PROXY_MAX];
	struct rm_proxy_hdr hdr;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *why;
	ssize_t got;
	int n, fd, port;

	(void)loop;
	(void)revents;
	got = recv(w->fd, buf, sizeof(buf), MSG_PEEK);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		/* a health check that connects and goes: not worth a line */
		rm_log(RMAIL_LOG_DEBUG, "proxy %s: closed before a header",
		       w->peer);
		wait_free(w, true);
		return;
	}
	n = rm_proxy_parse(buf, (size_t)got, &hdr, &why);
	if (n == 0) {
		if ((size_t)got == sizeof(buf)) {
			refuse(w, "header too long");
			return;
		}
		/* the rest is on its way; what was peeked stays readable, so
		 * the watcher would fire at once again: look back shortly */
		ev_io_stop(rm_loop(), &w->io);
		/* a one-shot timer that fired must be set again: libev kept
		 * its expired time */
		ev_timer_set(&w->again, 0.02, 0.);
		ev_timer_start(rm_loop(), &w->again);
		return;
	}
	if (n < 0) {
		refuse(w, why);
		return;
	}
	/* consume exactly the header; it is already in the socket buffer */
	if (recv(w->fd, buf, (size_t)n, 0) != n) {
		refuse(w, "short read of the header");
		return;
	}
	if (hdr.family == AF_UNSPEC &&
	    getpeername(w->fd, (struct sockaddr *)&ss, &sl) == 0) {
		hdr.src = ss;
		hdr.src_len = sl;
	}
	fd = w->fd;
	port = w->local_port;
	if (hdr.family != AF_UNSPEC) {
		char ip[INET6_ADDRSTRLEN];
		const void *a =
			hdr.family == AF_INET
				? (const void *)&(
					  (struct sockaddr_in *)&hdr.src)
					  ->sin_addr
				: (const void *)&(
					  (struct sockaddr_in6 *)&hdr.src)
					  ->sin6_addr;

		inet_ntop(hdr.family, a, ip, sizeof(ip));
		rm_log(RMAIL_LOG_DEBUG, "proxy %s: client %s", w->peer, ip);
	}
	{
		struct rm_listener *l = w->l;

		wait_free(w, false);
		rm_conn_new(l, fd, (struct sockaddr *)&hdr.src, hdr.src_len,
			    port);
	}
}

void rm_proxy_accept(struct rm_listener *l, int fd, const char *peer_ip,
		     int local_port)
{
	const struct rm_config *c = rm_conf();
	struct proxy_wait *w;

	if (!trusted(peer_ip) || nwaits >= WAIT_MAX) {
		rm_log(RMAIL_LOG_WARN,
		       "event=proxy_refused peer=%s listener=%s reason=\"%s\"",
		       peer_ip, rm_listener_opts(l)->proto,
		       nwaits >= WAIT_MAX ? "too many headers awaited"
					  : "not a trusted proxy");
		rm_metric_add("rmail_proxy_refused_total", NULL, 1);
		close(fd);
		return;
	}
	w = rm_xcalloc(1, sizeof(*w));
	w->l = l;
	w->fd = fd;
	w->local_port = local_port;
	snprintf(w->peer, sizeof(w->peer), "%s", peer_ip);
	ev_io_init(&w->io, on_readable, fd, EV_READ);
	ev_timer_init(&w->timer, on_timeout,
		      c != NULL && c->proxy.timeout > 0 ? c->proxy.timeout : 5.,
		      0.);
	ev_init(&w->again, on_again);
	ev_io_start(rm_loop(), &w->io);
	ev_timer_start(rm_loop(), &w->timer);
	w->next = waits;
	if (waits != NULL)
		waits->prev = w;
	waits = w;
	nwaits++;
}

void rm_proxy_close_all(void)
{
	while (waits != NULL)
		wait_free(waits, true);
}
