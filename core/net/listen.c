/*
 * Listening sockets and per-IP connection accounting (the counts live
 * in the per-host shared table, hostshm.h, one column per process).  Sockets
 * can be bound early (rm_listen_prebind, as root before run_as) and are then
 * picked up by the module's rm_listen for the same section.key and
 * address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_int.h"
#include "hostshm.h"

#define ACCEPTS_PER_EVENT 16
#define DEFAULT_PER_IP 20

struct rm_listener {
	struct rm_listener *next;
	ev_io io;
	int fd;
	bool active;			  /* accepting for a module */
	char *where;			  /* "smtp.listen" */
	char *spec;			  /* as configured: "0.0.0.0:25" */
	char bound[INET6_ADDRSTRLEN + 8]; /* real: "127.0.0.1:40123" */
	int port;
	/* copies at the core's size: entries past the module's own `size`
	 * read as NULL/0 */
	struct rmail_proto_ops ops;
	struct rmail_listen_opts opts;
	char *labels; /* proto="smtp" */
};

static struct rm_listener *listeners;
static struct rm_listener *retired; /* stopped, conns remain */

const struct rmail_proto_ops *rm_listener_ops(struct rm_listener *l)
{
	return &l->ops;
}

const struct rmail_listen_opts *rm_listener_opts(struct rm_listener *l)
{
	return &l->opts;
}

const char *rm_listener_labels(struct rm_listener *l)
{
	return l->labels;
}

/* ---- per-IP accounting --------------------------------------------- */

static uint64_t conn_key(const char *ip)
{
	const struct rm_config *conf = rm_conf();

	return rm_hostshm_ipkey(
		"conn", ip, conf != NULL ? conf->limits.auth_ipv6_prefix : 64);
}

bool rm_ip_acquire(const char *ip, uint64_t *key_r)
{
	const struct rm_config *conf = rm_conf();
	uint32_t cap = DEFAULT_PER_IP;
	uint64_t k = conn_key(ip);
	unsigned col = rm_hostshm_proc();
	struct hostshm_conn_slot *e;
	struct rm_hostshm *h;
	bool ok = true, counted = false;

	if (conf != NULL)
		cap = conf->limits.max_connections_per_ip;
	h = rm_hostshm_lock();
	e = rm_hostshm_count_find(h, k, true);
	/* exempt peers are counted too, so release stays symmetric.  A
	 * set full of live prefixes (more concurrent clients than the
	 * table holds) leaves this one uncounted rather than refused */
	if (e != NULL && cap > 0 && rm_hostshm_count_total(e) >= cap &&
	    !rm_ip_is_exempt(ip))
		ok = false;
	else if (e != NULL && e->n[col] < UINT16_MAX) {
		e->n[col]++;
		counted = true;
	}
	RM_HOSTSHM_HOOK("ip_acquire");
	rm_hostshm_unlock(h);
	*key_r = counted ? k : 0;
	return ok;
}

void rm_ip_release(uint64_t k)
{
	unsigned col = rm_hostshm_proc();
	struct hostshm_conn_slot *e;
	struct rm_hostshm *h;

	if (k == 0)
		return;
	h = rm_hostshm_lock();
	e = rm_hostshm_count_find(h, k, false);
	if (e != NULL && e->n[col] > 0)
		e->n[col]--;
	rm_hostshm_unlock(h);
}

uint32_t rm_ip_count(const char *ip)
{
	uint64_t k = conn_key(ip);
	struct hostshm_conn_slot *e;
	struct rm_hostshm *h;
	uint32_t n;

	h = rm_hostshm_lock();
	e = rm_hostshm_count_find(h, k, false);
	n = e != NULL ? rm_hostshm_count_total(e) : 0;
	rm_hostshm_unlock(h);
	return n;
}

/* ---- binding ------------------------------------------------------- */

static int split_hostport(const char *spec, char *host, size_t hsz, char *port,
			  size_t psz)
{
	const char *colon;
	size_t hl;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - spec - 1);
		if (hl >= hsz)
			return -1;
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - spec);
		if (hl >= hsz || memchr(spec, ':', hl) != NULL)
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= psz ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) > 65535)
		return -1;
	snprintf(port, psz, "%s", colon + 1);
	if (strcmp(host, "*") == 0 || host[0] == '\0')
		snprintf(host, hsz, "0.0.0.0");
	return 0;
}

static void format_bound(int fd, char *out, size_t sz, int *port_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	*port_r = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(out, sz, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		*port_r = ntohs(s6->sin6_port);
		snprintf(out, sz, "[%s]:%d", ip, *port_r);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		*port_r = ntohs(s4->sin_port);
		snprintf(out, sz, "%s:%d", ip, *port_r);
	}
}

static int bind_one(const char *where, const char *spec, struct rmail_err *err)
{
	char host[256], port[8];
	struct addrinfo hints = {0}, *ai = NULL;
	int fd = -1, one = 1, e;

	if (split_hostport(spec, host, sizeof(host), port, sizeof(port)) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "cannot listen on %s (%s): expected "
				     "host:port or [v6addr]:port",
				     spec, where);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "cannot listen on %s (%s): %s", spec,
				     where, gai_strerror(e));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0)
		goto fail;
	freeaddrinfo(ai);
	return fd;

fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rmail_err_set(err, RMAIL_E_IO, "cannot listen on %s (%s): %s",
			     spec, where, strerror(e));
}

static struct rm_listener *listener_new(const char *where, const char *spec,
					int fd)
{
	struct rm_listener *l = rm_xcalloc(1, sizeof(*l));

	l->fd = fd;
	l->where = rm_xstrdup(where);
	l->spec = rm_xstrdup(spec);
	format_bound(fd, l->bound, sizeof(l->bound), &l->port);
	l->next = listeners;
	listeners = l;
	return l;
}

int rm_listen_prebind(const char *section, const char *key,
		      const struct rmail_strlist *addrs, struct rmail_err *err)
{
	char where[128];
	int fd;

	snprintf(where, sizeof(where), "%s.%s", section, key);
	for (size_t i = 0; i < addrs->n; i++) {
		fd = bind_one(where, addrs->v[i], err);
		if (fd < 0)
			return -1;
		listener_new(where, addrs->v[i], fd);
	}
	return 0;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rm_listener *l = rm_container_of(w, struct rm_listener, io);
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPTS_PER_EVENT && l->active; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				rm_accept_pause(&l->io, l->bound, l->where,
						errno);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				rm_log(RMAIL_LOG_WARN, "accept on %s (%s): %s",
				       l->bound, l->where, strerror(errno));
			return;
		}
		/* every protocol here is request/response and the conn
		 * layer already coalesces a reply into as few writes as it
		 * can; Nagle would only hold a reply's last segment back
		 * until the peer's delayed ACK (~40 ms a round trip) */
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
			int one = 1;

			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					 sizeof(one));
		}
		if (rm_proxy_listener(l->where)) {
			char ip[INET6_ADDRSTRLEN];
			int port;

			rm_peer_of((struct sockaddr *)&ss, ip, sizeof(ip),
				   &port);
			rm_proxy_accept(l, fd, ip, l->port);
			continue;
		}
		rm_conn_new(l, fd, (struct sockaddr *)&ss, len, l->port);
	}
}

static void listener_start(struct rm_listener *l,
			   const struct rmail_proto_ops *ops,
			   const struct rmail_listen_opts *o)
{
	char labels[128];

	l->ops.size = (uint32_t)rmail_sized_copy(&l->ops, sizeof(l->ops), ops,
						 ops->size);
	l->opts.size = (uint32_t)rmail_sized_copy(&l->opts, sizeof(l->opts), o,
						  o->size);
	l->opts.proto = rm_xstrdup(o->proto != NULL ? o->proto : "?");
	if (o->overload_reply != NULL)
		l->opts.overload_reply = rm_xstrdup(o->overload_reply);
	snprintf(labels, sizeof(labels), "proto=\"%s\"", l->opts.proto);
	l->labels = rm_xstrdup(labels);
	l->active = true;
	ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
	ev_io_start(rm_loop(), &l->io);
	rm_log(RMAIL_LOG_INFO, "%s%s: listening on %s", l->opts.proto,
	       o->tls == RMAIL_TLS_IMPLICIT ? " (TLS)" : "", l->bound);
}

static struct rm_listener *find_prebound(const char *where, const char *spec)
{
	for (struct rm_listener *l = listeners; l != NULL; l = l->next)
		if (!l->active && l->fd >= 0 && strcmp(l->where, where) == 0 &&
		    strcmp(l->spec, spec) == 0)
			return l;
	return NULL;
}

/* Only declared listen keys were bound before the privilege drop
 * (privdrop.c); a core-internal caller has no descriptor. */
static bool is_listen_key(const struct rmail_mctx *m, const char *key)
{
	if (m->module == NULL || m->module->conf_keys == NULL)
		return m->module == NULL;
	for (const struct rmail_conf_key *k = m->module->conf_keys;
	     k->key != NULL; k++)
		if (k->type == RMAIL_CONF_LISTEN && strcmp(k->key, key) == 0)
			return true;
	return false;
}

/* One layout per table (core.h), with its two required handlers:
 * proto_call.h tells the layouts apart by ctx_accept alone and calls
 * those two unchecked.  Checked on a copy at the core's size, so the
 * 1.2 entries of an older table read as NULL. */
static int check_proto_ops(const struct rmail_proto_ops *ops,
			   const char *section, const char *key,
			   struct rmail_err *err)
{
	struct rmail_proto_ops o;
	bool v10, v12;

	o.size = (uint32_t)rmail_sized_copy(&o, sizeof(o), ops, ops->size);
	v10 = o.on_accept || o.on_input || o.on_drain || o.on_tls_ready ||
	      o.on_timeout || o.on_close;
	v12 = o.ctx_accept || o.ctx_input || o.ctx_drain || o.ctx_tls_ready ||
	      o.ctx_timeout || o.ctx_close;
	if (v10 && v12)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s.%s: rmail_proto_ops mixes the 1.0 "
				     "handlers (on_*) and the 1.2 handlers "
				     "(ctx_*); set one layout",
				     section, key);
	if (v12 && (o.ctx_accept == NULL || o.ctx_input == NULL))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s.%s: rmail_proto_ops.%s is NULL; "
				     "ctx_accept and ctx_input are required",
				     section, key,
				     o.ctx_accept == NULL ? "ctx_accept"
							  : "ctx_input");
	if (!v12 && (o.on_accept == NULL || o.on_input == NULL))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s.%s: rmail_proto_ops.%s is NULL; "
				     "on_accept and on_input are required",
				     section, key,
				     o.on_accept == NULL ? "on_accept"
							 : "on_input");
	return 0;
}

int rm_listen(struct rmail_mctx *m, const char *key,
	      const struct rmail_strlist *addrs,
	      const struct rmail_proto_ops *ops,
	      const struct rmail_listen_opts *o, struct rmail_err *err)
{
	const char *section = m->module != NULL && m->module->section != NULL
				      ? m->module->section
				      : m->name;
	char where[128];
	struct rm_listener *l;
	int fd;

	RM_ASSERT(ops != NULL && o != NULL);
	if (ops->size < RMAIL_PROTO_OPS_SIZE_1_0 ||
	    o->size < RMAIL_LISTEN_OPTS_SIZE_1_0)
		return rmail_err_set(
			err, RMAIL_E_INVAL,
			"%s.%s: rmail_proto_ops size %u or "
			"rmail_listen_opts size %u is below ABI 1.0",
			section, key, ops->size, o->size);
	if (check_proto_ops(ops, section, key, err) < 0)
		return -1;
	if (!is_listen_key(m, key))
		return rmail_err_set(
			err, RMAIL_E_INVAL,
			"%s.%s: not a RMAIL_CONF_LISTEN key of the "
			"module",
			section, key);
	if (o->tls == RMAIL_TLS_IMPLICIT && rm_tls_server_ctx() == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s.%s: implicit TLS without a loaded "
				     "certificate",
				     section, key);
	snprintf(where, sizeof(where), "%s.%s", section, key);
	for (size_t i = 0; i < addrs->n; i++) {
		l = find_prebound(where, addrs->v[i]);
		if (l == NULL) {
			fd = bind_one(where, addrs->v[i], err);
			if (fd < 0)
				return -1;
			l = listener_new(where, addrs->v[i], fd);
		}
		listener_start(l, ops, o);
	}
	return 0;
}

void rm_listen_foreach(void (*cb)(void *arg, const char *proto,
				  const char *addr, int tls),
		       void *arg)
{
	char proto[64];
	struct rm_listener *l, *last = NULL;

	/* the list is newest first: report in the order of registration */
	for (;;) {
		int implicit;

		for (l = listeners; l != NULL && l->next != last; l = l->next)
			;
		if (l == NULL)
			break;
		last = l;
		if (!l->active)
			continue;
		implicit = l->opts.tls == RMAIL_TLS_IMPLICIT;
		snprintf(proto, sizeof(proto), "%s%s", l->opts.proto,
			 implicit ? "s" : "");
		cb(arg, proto, l->bound, implicit);
	}
}

static void listener_free(struct rm_listener *l)
{
	free(l->where);
	free(l->spec);
	free(l->labels);
	free((char *)l->opts.proto);
	free((char *)l->opts.overload_reply);
	free(l);
}

void rm_listen_stop_accepting(void)
{
	struct rm_listener *l;

	rm_accept_pause_forget();
	rm_proxy_close_all();
	while ((l = listeners) != NULL) {
		listeners = l->next;
		if (l->active)
			ev_io_stop(rm_loop(), &l->io);
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		/* live conns still point at the opts and labels */
		if (!l->active || rm_conn_count() == 0) {
			listener_free(l);
		} else {
			l->next = retired;
			retired = l;
		}
	}
	if (rm_conn_count() == 0) {
		while ((l = retired) != NULL) {
			retired = l->next;
			listener_free(l);
		}
	}
}
