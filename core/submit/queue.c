/*
 * The outbound queue under {mail_root}/queue/: per message {id}.msg (the
 * message, never rewritten) and {id}.env (the envelope as JSON, replaced
 * by rename).  Whoever delivers or edits an entry holds flock() on its
 * .msg, so several processes sharing the mail root never deliver one
 * twice; the .env is re-read under the lock.  Creation writes the .msg
 * first, so an .env always names a complete message.
 *
 * The runner is a loop timer.  A pass lists the due entries on the
 * core's delivery pool (RM_WORK_DELIVER: network waits must hold up
 * neither durable writes nor store reads), then each due entry is one
 * job on that pool, so entries go out in parallel (delivery.concurrency
 * threads); sessions to one destination domain are bounded by
 * delivery.per_domain.  The .msg lock keeps two jobs off one entry.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <netdb.h>
#include <openssl/crypto.h>

#include "hostshm.h"
#include "mailauth_stage.h"
#include "submit_int.h"
#include "route_conf.h"
#include "tls_policy.h"

#define ENV_MAX (1 << 20)
#define MX_MAX 16
#define ADDR_MAX 8

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < RM_QID_MAX && strspn(id, "0123456789abcdef") == n;
}

static int qpath(char *buf, size_t sz, const char *id, const char *ext)
{
	char name[RM_QID_MAX + 16];

	snprintf(name, sizeof(name), "%s%s", id, ext);
	return rm_submit_path(buf, sz, "queue", name);
}

static int fsync_dir(void)
{
	char dir[4096];
	int fd, rc;

	if (rm_submit_path(dir, sizeof(dir), "queue", NULL) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* tmp file, fsync, rename over dst */
static int publish(const char *dst, const char *data, size_t n, int srcfd,
		   uint64_t srcsize, struct rmail_err *err)
{
	char tmp[4200];
	uint64_t off = 0;
	char *buf = NULL;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", tmp,
				     strerror(errno));
	if (rm_write_all(fd, data, n) < 0)
		goto fail;
	if (srcfd >= 0)
		buf = rm_xmalloc(65536);
	while (srcfd >= 0 && off < srcsize) {
		ssize_t got = pread(srcfd, buf, 65536, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || rm_write_all(fd, buf, (size_t)got) < 0)
			goto fail;
		off += (uint64_t)got;
	}
	free(buf);
	buf = NULL;
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	rmail_err_set(err, RMAIL_E_IO, "%s: %s", tmp, strerror(errno));
	free(buf);
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

#define CTX_FIELDS(X)                                                          \
	X(peer_ip, "peer_ip")                                                  \
	X(helo, "helo")                                                        \
	X(auth_user, "auth_user")                                              \
	X(authres, "authres")                                                  \
	X(spf, "spf")                                                          \
	X(dmarc, "dmarc")                                                      \
	X(dmarc_disp, "dmarc_disposition")                                     \
	X(from_domain, "from_domain")

static void ctx_save(json_t *root, const struct rm_qctx *c)
{
	json_t *o = json_object();

#define X(f, name)                                                             \
	if (c->f != NULL)                                                      \
		json_object_set_new(o, name, json_string(c->f));
	CTX_FIELDS(X)
#undef X
	if (json_object_size(o) > 0)
		json_object_set_new(root, "ctx", o);
	else
		json_decref(o);
}

static char *jstr(json_t *o, const char *k);

static void ctx_load(json_t *root, struct rm_qctx *c)
{
	json_t *o = json_object_get(root, "ctx");

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o))
		return;
#define X(f, name) c->f = jstr(o, name);
	CTX_FIELDS(X)
#undef X
}

static void ctx_free(struct rm_qctx *c)
{
#define X(f, name) free(c->f);
	CTX_FIELDS(X)
#undef X
	memset(c, 0, sizeof(*c));
}

static char *env_text(const struct rm_qentry *e)
{
	json_t *root = json_object(), *rc = json_array();
	char *s;

	for (size_t i = 0; i < e->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "addr", json_string(e->r[i].addr));
		json_object_set_new(o, "state", json_integer(e->r[i].state));
		if (e->r[i].error != NULL)
			json_object_set_new(o, "error",
					    json_string(e->r[i].error));
		json_array_append_new(rc, o);
	}
	json_object_set_new(root, "id", json_string(e->id));
	json_object_set_new(root, "from", json_string(e->from));
	json_object_set_new(root, "created", json_integer(e->created));
	json_object_set_new(root, "next", json_real(e->next));
	json_object_set_new(root, "attempts", json_integer(e->attempts));
	if (e->junk == RM_JUNK_SPAM)
		json_object_set_new(root, "junk", json_string("spam"));
	else if (e->junk)
		json_object_set_new(root, "junk", json_true());
	if (e->requiretls)
		json_object_set_new(root, "requiretls", json_true());
	/* what the next hop must offer (docs/delivery.md "Outbound
	 * message format"); an entry without "8bit" is from before */
	if (e->flags & RM_MSG_KNOWN) {
		json_object_set_new(root, "8bit",
				    json_boolean(e->flags & RM_MSG_8BIT));
		json_object_set_new(root, "smtputf8",
				    json_boolean(e->flags & RM_MSG_SMTPUTF8));
		json_object_set_new(root, "utf8hdr",
				    json_boolean(e->flags & RM_MSG_UTF8HDR));
	}
	if (e->last_error != NULL)
		json_object_set_new(root, "last_error",
				    json_string(e->last_error));
	if (e->prefix > 0)
		json_object_set_new(root, "prefix",
				    json_integer((json_int_t)e->prefix));
	ctx_save(root, &e->ctx);
	json_object_set_new(root, "rcpts", rc);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

int rm_queue_save(const struct rm_qentry *e, struct rmail_err *err)
{
	char path[4096], *s;
	int rc;

	if (qpath(path, sizeof(path), e->id, ".env") < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "no mail_root");
	s = env_text(e);
	if (s == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "json");
	rc = publish(path, s, strlen(s), -1, 0, err);
	free(s);
	return rc;
}

int rm_queue_add(const char *id, const char *from, const char *const *rcpts,
		 size_t n, const struct rm_msg_src *src, int junk,
		 struct rmail_err *err)
{
	return rm_queue_add_flags(id, from, rcpts, n, src,
				  junk == RM_JUNK_SPAM ? RM_QF_JUNK_SPAM
				  : junk	       ? RM_QF_JUNK
						       : 0,
				  err);
}

int rm_queue_add_flags(const char *id, const char *from,
		       const char *const *rcpts, size_t n,
		       const struct rm_msg_src *src, unsigned flags,
		       struct rmail_err *err)
{
	return rm_queue_add_ctx(id, from, rcpts, n, src, flags, NULL, err);
}

int rm_queue_add_ctx(const char *id, const char *from, const char *const *rcpts,
		     size_t n, const struct rm_msg_src *src, unsigned flags,
		     const struct rm_qctx *ctx, struct rmail_err *err)
{
	struct rm_qentry e;
	char path[4096];
	int rc;

	if (!id_ok(id) || qpath(path, sizeof(path), id, ".msg") < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad queue id");
	if (publish(path, src->prefix, strlen(src->prefix), src->fd, src->size,
		    err) < 0)
		return -1;
	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.from = (char *)from;
	e.created = (int64_t)time(NULL);
	e.next = 0; /* the first attempt is immediate */
	e.junk = (flags & RM_QF_JUNK_SPAM) ? RM_JUNK_SPAM
		 : (flags & RM_QF_JUNK)	   ? RM_JUNK_ALWAYS
					   : RM_JUNK_NO;
	e.requiretls = (flags & RM_QF_REQUIRETLS) != 0;
	e.flags = src->flags;
	e.prefix = strlen(src->prefix);
	if (ctx != NULL)
		e.ctx = *ctx;
	e.n = n;
	e.r = rm_xcalloc(n, sizeof(*e.r));
	for (size_t i = 0; i < n; i++)
		e.r[i].addr = (char *)rcpts[i];
	rc = rm_queue_save(&e, err);
	free(e.r);
	if (rc == 0 && fsync_dir() < 0)
		rc = rmail_err_set(err, RMAIL_E_IO, "queue dir fsync: %s",
				   strerror(errno));
	if (rc < 0) {
		int saved = errno;

		(void)unlink(path);
		errno = saved;
	}
	return rc;
}

void rm_queue_entry_free(struct rm_qentry *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->r[i].addr);
		free(e->r[i].error);
	}
	free(e->r);
	free(e->from);
	free(e->last_error);
	ctx_free(&e->ctx);
	memset(e, 0, sizeof(*e));
}

static char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? rm_xstrdup(s) : NULL;
}

static bool jstr_is(json_t *o, const char *k, const char *want)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL && strcmp(s, want) == 0;
}

int rm_queue_load(const char *id, struct rm_qentry *e, struct rmail_err *err)
{
	char path[4096];
	json_error_t je;
	json_t *root, *rc;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!id_ok(id) || qpath(path, sizeof(path), id, ".env") < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad queue id");
	root = json_load_file(path, 0, &je);
	if (root == NULL)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", id, je.text);
	rc = json_object_get(root, "rcpts");
	e->from = jstr(root, "from");
	if (!json_is_array(rc) || e->from == NULL || json_array_size(rc) == 0) {
		json_decref(root);
		rm_queue_entry_free(e);
		return rmail_err_set(err, RMAIL_E_IO, "%s: bad envelope", id);
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->created = json_integer_value(json_object_get(root, "created"));
	e->next = json_number_value(json_object_get(root, "next"));
	e->attempts =
		(uint32_t)json_integer_value(json_object_get(root, "attempts"));
	e->last_error = jstr(root, "last_error");
	e->junk = json_is_true(json_object_get(root, "junk")) ? RM_JUNK_ALWAYS
		  : jstr_is(root, "junk", "spam")	      ? RM_JUNK_SPAM
							      : RM_JUNK_NO;
	e->requiretls = json_is_true(json_object_get(root, "requiretls"));
	{
		json_int_t p =
			json_integer_value(json_object_get(root, "prefix"));

		e->prefix = p > 0 ? (uint64_t)p : 0;
	}
	ctx_load(root, &e->ctx);
	if (json_is_boolean(json_object_get(root, "8bit")))
		e->flags = RM_MSG_KNOWN |
			   (json_is_true(json_object_get(root, "8bit"))
				    ? RM_MSG_8BIT
				    : 0) |
			   (json_is_true(json_object_get(root, "smtputf8"))
				    ? RM_MSG_SMTPUTF8
				    : 0) |
			   (json_is_true(json_object_get(root, "utf8hdr"))
				    ? RM_MSG_UTF8HDR
				    : 0);
	e->n = json_array_size(rc);
	e->r = rm_xcalloc(e->n, sizeof(*e->r));
	for (i = 0; i < e->n; i++) {
		json_t *o = json_array_get(rc, i);

		e->r[i].addr = jstr(o, "addr");
		if (e->r[i].addr == NULL)
			e->r[i].addr = rm_xstrdup("");
		e->r[i].state =
			(int)json_integer_value(json_object_get(o, "state"));
		e->r[i].error = jstr(o, "error");
	}
	json_decref(root);
	return 0;
}

int rm_queue_lock(const char *id, int *fd_r)
{
	char path[4096];
	int fd;

	if (!id_ok(id) || qpath(path, sizeof(path), id, ".msg") < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 1;
	}
	/* the entry may have been finished between open and lock */
	if (qpath(path, sizeof(path), id, ".env") < 0 ||
	    access(path, F_OK) < 0) {
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

void rm_queue_unlock(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int rm_queue_remove(const char *id)
{
	char path[4096];

	if (!id_ok(id))
		return -1;
	/* .env first: without it the entry no longer exists */
	if (qpath(path, sizeof(path), id, ".env") < 0 ||
	    (unlink(path) < 0 && errno != ENOENT))
		return -1;
	if (qpath(path, sizeof(path), id, ".msg") == 0)
		(void)unlink(path);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

size_t rm_queue_list(char (**ids_r)[RM_QID_MAX])
{
	char dir[4096];
	char(*ids)[RM_QID_MAX] = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*ids_r = NULL;
	if (rm_submit_path(dir, sizeof(dir), "queue", NULL) < 0)
		return 0;
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char id[RM_QID_MAX];

		if (l < 5 || l - 4 >= RM_QID_MAX ||
		    strcmp(de->d_name + l - 4, ".env") != 0)
			continue;
		memcpy(id, de->d_name, l - 4);
		id[l - 4] = '\0';
		if (!id_ok(id))
			continue;
		ids = rm_xrealloc(ids, (n + 1) * sizeof(*ids));
		memcpy(ids[n++], id, RM_QID_MAX);
	}
	if (d != NULL)
		closedir(d);
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_id);
	*ids_r = ids;
	return n;
}

/* ---- one attempt ---------------------------------------------------- */

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

static void set_error(struct rm_qrcpt *r, const char *why)
{
	free(r->error);
	r->error = rm_xstrdup(why);
}

static bool is_invalid_tld(const char *d)
{
	size_t n = strlen(d);

	while (n > 0 && d[n - 1] == '.')
		n--;
	return (n == 7 && strncasecmp(d, "invalid", 7) == 0) ||
	       (n > 8 && strncasecmp(d + n - 8, ".invalid", 8) == 0);
}

/* the smarthost's TLS mode and credentials; the password is read at
 * each run so a rotated file needs no reload */
static int relay_opts(const struct rm_config *c, struct rm_smtp_opts *o,
		      char *pw, size_t pwsz, char *why, size_t whysz)
{
	FILE *f;

	memset(o, 0, sizeof(*o));
	o->tls = c->relay.tls;
	pw[0] = '\0';
	if (c->relay.user == NULL || c->relay.password_file == NULL)
		return 0;
	f = fopen(c->relay.password_file, "re");
	if (f == NULL || fgets(pw, (int)pwsz, f) == NULL) {
		snprintf(why, whysz, "4.3.5 relay password file %s: %s",
			 c->relay.password_file,
			 f == NULL ? strerror(errno) : "empty");
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	o->user = c->relay.user;
	o->password = pw;
	return 0;
}

/* the next hop configured for domain: relay_host, else a route; 1 when
 * there is none (MX), -1 with why on a bad setting */
static int fixed_hop(const struct rm_config *c, const char *domain,
		     struct rm_route_conf *rt, int *source, char *why,
		     size_t whysz)
{
	char err[128];

	if (c == NULL)
		return 1;
	if (c->delivery.relay_host != NULL) {
		if (rm_route_parse(c->delivery.relay_host, rt, err,
				   sizeof(err)) < 0) {
			snprintf(why, whysz, "4.3.5 bad relay_host %s",
				 c->delivery.relay_host);
			return -1;
		}
		rt->tls = c->relay.tls;
		rt->verify = c->outtls.relay_verify;
		snprintf(rt->ca_file, sizeof(rt->ca_file), "%s",
			 c->outtls.relay_ca_file ? c->outtls.relay_ca_file
						 : "");
		*source = RM_TLSP_RELAY;
		return 0;
	}
	for (size_t i = 0; i < c->delivery.routes.n; i++)
		if (strcasecmp(c->delivery.routes.k[i], domain) == 0) {
			if (rm_route_parse(c->delivery.routes.v[i], rt, err,
					   sizeof(err)) < 0) {
				snprintf(why, whysz,
					 "4.3.5 bad route for %s: %s", domain,
					 err);
				return -1;
			}
			*source = RM_TLSP_ROUTE;
			return 0;
		}
	return 1;
}

static void addr_ip(const struct rm_addr *a, char *ip, size_t sz)
{
	snprintf(ip, sz, "?");
	(void)getnameinfo((const struct sockaddr *)&a->ss, a->len, ip,
			  (socklen_t)sz, NULL, 0, NI_NUMERICHOST);
}

/* one line per session: where, what came of it, and its TLS */
static void session_log(const char *id, const char *host, const char *ip,
			bool sent, const char *what,
			const struct rm_tls_result *tr)
{
	char tls[200];

	rm_tls_result_format(tr, tls, sizeof(tls));
	rm_log(RMAIL_LOG_INFO, "delivery %s to %s [%s]: %s: %.300s; %s", id,
	       host, ip, sent ? "session done" : "not sent", what, tls);
}

/* the batch's recipients that are still pending (indexes into e->r) */
static void deliver_remote(struct rm_qentry *e, const size_t *idx, size_t n,
			   const char *domain, struct rm_smtp_msg *m)
{
	const struct rm_config *c = rm_conf();
	struct rm_mx mx[MX_MAX];
	struct rm_smtp_rcpt *sr;
	struct rm_smtp_opts opts;
	struct rm_route_conf rt;
	struct rm_tls_policy pol;
	struct rm_tls_result tr, sent_tr;
	char why[300] = "", host[256], pw[512], tls[200], ip[64];
	size_t nmx = 0, i, k;
	bool perm = false, sent = false, use_dns = true, mx_secure = false;
	bool reqtls = e->requiretls;
	bool relax = !reqtls && rm_tls_required_no(m->fd);
	size_t tried = 0, rt_fail = 0;
	int port = rm_smtp_mx_port, source = RM_TLSP_DEFAULT, fixed;

	memset(&opts, 0, sizeof(opts));
	opts.tls = RM_RELAY_STARTTLS;
	memset(&sent_tr, 0, sizeof(sent_tr));
	fixed = fixed_hop(c, domain, &rt, &source, why, sizeof(why));
	if (fixed < 0)
		goto temp;
	if (fixed == 0 && source == RM_TLSP_RELAY &&
	    relay_opts(c, &opts, pw, sizeof(pw), why, sizeof(why)) < 0)
		goto temp;
	if (fixed == 0) {
		opts.tls = rt.tls;
		snprintf(mx[0].host, sizeof(mx[0].host), "%s", rt.host);
		port = rt.port;
		mx[0].pref = 0;
		nmx = 1;
		use_dns = false;
	} else if (is_invalid_tld(domain)) {
		snprintf(why, sizeof(why),
			 "5.1.2 %s: the .invalid domain "
			 "never exists (RFC 6761)",
			 domain);
		perm = true;
	} else if (rm_mx_lookup_sec(domain, mx, MX_MAX, &nmx, &perm, &mx_secure,
				    why, sizeof(why)) < 0) {
		if (!perm)
			goto temp;
	}
	if (perm) {
		for (i = 0; i < n; i++) {
			e->r[idx[i]].state = RM_Q_FAILED;
			set_error(&e->r[idx[i]], why);
		}
		return;
	}
	sr = rm_xcalloc(n, sizeof(*sr));
	for (i = 0; i < n; i++)
		sr[i].addr = e->r[idx[i]].addr;
	opts.policy = &pol;
	opts.res = &tr;
	for (k = 0; k < nmx && !sent; k++) {
		struct rm_addr addrs[ADDR_MAX];
		size_t na = 0, a;
		int prc;

		snprintf(host, sizeof(host), "%.255s", mx[k].host);
		prc = fixed == 0 ? rm_tls_policy_fixed(host, port, rt.tls,
						       rt.verify, rt.ca_file,
						       source, &pol, why,
						       sizeof(why))
				 : rm_tls_policy_mx(domain, mx_secure, host,
						    &pol, why, sizeof(why));
		if (prc == 0)
			tried++;
		if (prc == 0 && reqtls &&
		    rm_tls_policy_requiretls(&pol, host, why, sizeof(why)) <
			    0) {
			rt_fail++;
			rm_tls_policy_clear(&pol);
			prc = -1;
		}
		if (prc < 0) {
			rm_log(RMAIL_LOG_INFO, "delivery %s to %s: %s", e->id,
			       host, why);
			continue;
		}
		if (relax)
			rm_tls_policy_relax(&pol);
		opts.requiretls = reqtls;
		if (rm_mx_addrs(host, port, use_dns, addrs, ADDR_MAX, &na) <
			    0 ||
		    na == 0) {
			snprintf(why, sizeof(why), "4.4.4 %.200s: no address",
				 host);
			rm_tls_policy_clear(&pol);
			continue;
		}
		for (a = 0; a < na && !sent; a++) {
			for (i = 0; i < n; i++) {
				sr[i].code = 0;
				sr[i].reply[0] = '\0';
			}
			if (rm_smtp_send(&addrs[a], host, &opts, e->from, sr, n,
					 m, why, sizeof(why)) == 0) {
				sent = true;
				sent_tr = tr;
			}
			if (fixed != 0)
				rm_tls_report_session(domain, &pol, host,
						      &addrs[a], &tr);
			addr_ip(&addrs[a], ip, sizeof(ip));
			session_log(e->id, host, ip, sent,
				    sent ? (sr[0].reply[0] ? sr[0].reply
							   : "no reply")
					 : why,
				    &tr);
			if (!sent && reqtls && strncmp(why, "5.7.30", 6) == 0) {
				rt_fail++;
				break;
			}
		}
		rm_tls_policy_clear(&pol);
	}
	/* RFC 8689 §4.2.1: no host can carry the promise: a bounce */
	if (!sent && reqtls && tried > 0 && rt_fail == tried) {
		for (i = 0; i < n; i++) {
			e->r[idx[i]].state = RM_Q_FAILED;
			set_error(&e->r[idx[i]], why);
		}
		free(sr);
		OPENSSL_cleanse(pw, sizeof(pw));
		return;
	}
	rm_tls_result_format(&sent_tr, tls, sizeof(tls));
	for (i = 0; i < n; i++) {
		struct rm_qrcpt *r = &e->r[idx[i]];
		char msg[600];

		if (!sent) {
			set_error(r, why);
			continue;
		}
		/* the DSN's Diagnostic-Code says how the reply came */
		snprintf(msg, sizeof(msg), "%s (%s)",
			 sr[i].reply[0] ? sr[i].reply : "no reply", tls);
		set_error(r, msg);
		if (sr[i].code >= 200 && sr[i].code < 300) {
			r->state = RM_Q_SENT;
			rm_metric_add("rmail_deliveries_total",
				      "result=\"sent\"", 1);
		} else if (sr[i].code >= 500) {
			r->state = RM_Q_FAILED;
		}
	}
	free(sr);
	OPENSSL_cleanse(pw, sizeof(pw));
	return;
temp:
	OPENSSL_cleanse(pw, sizeof(pw));
	for (i = 0; i < n; i++)
		set_error(&e->r[idx[i]], why);
}

/* ---- sessions per destination domain ------------------------------ */

/* The counts are per host, in the host's shared table (hostshm.h), one
 * column per worker process: every worker delivers what it accepted,
 * so a per-process count would let N workers open N x per_domain
 * sessions to one domain.  A thread waiting for a session is woken at
 * once by one ending in its own process, and looks again every
 * SLOT_POLL for one ending in another (a process-shared condition
 * variable does not survive a waiter killed mid-wait; deliveries take
 * seconds, so the poll costs nothing that matters). */
#define SLOT_POLL 0.05

static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;

static uint64_t slot_key(const char *dom)
{
	char low[256];
	size_t n = 0;

	for (; dom[n] != '\0' && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)dom[n]);
	return rm_hostshm_hash("dom", low, n);
}

/* one more session towards k if under limit; true when taken (or when
 * the table has no room to count it) */
static bool slot_try(uint64_t k, unsigned limit)
{
	struct rm_hostshm *h = rm_hostshm_lock();
	struct hostshm_conn_slot *e = rm_hostshm_count_find(h, k, true);
	unsigned col = rm_hostshm_proc();
	bool ok = e == NULL || rm_hostshm_count_total(e) < limit;

	if (ok && e != NULL && e->n[col] < UINT16_MAX)
		e->n[col]++;
	rm_hostshm_unlock(h);
	return ok;
}

void rm_queue_slot_take(const char *dom)
{
	const struct rm_config *c = rm_conf();
	unsigned limit = c != NULL && c->outbound.per_domain > 0
				 ? c->outbound.per_domain
				 : 4;
	uint64_t k = slot_key(dom);

	pthread_mutex_lock(&slot_mu);
	while (!slot_try(k, limit)) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += (long)(SLOT_POLL * 1e9);
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&slot_cv, &slot_mu, &dl);
	}
	pthread_mutex_unlock(&slot_mu);
}

void rm_queue_slot_give(const char *dom)
{
	uint64_t k = slot_key(dom);
	struct rm_hostshm *h = rm_hostshm_lock();
	struct hostshm_conn_slot *e = rm_hostshm_count_find(h, k, false);
	unsigned col = rm_hostshm_proc();

	if (e != NULL && e->n[col] > 0)
		e->n[col]--;
	rm_hostshm_unlock(h);
	pthread_mutex_lock(&slot_mu);
	pthread_cond_broadcast(&slot_cv);
	pthread_mutex_unlock(&slot_mu);
}

/* The entry's message as the first attempt had it: the core's lines
 * (the head of .msg, e->prefix bytes) as a string and the rest as its
 * own file, so the DELIVERY filters see the same split (fm.prepend +
 * fd).  An entry from before keeps the whole file as the body. */
static int split_msg(const struct rm_qentry *e, int msgfd, char **lines_r,
		     int *body_r, uint64_t *size_r)
{
	struct stat st;
	uint64_t off = e->prefix, done = 0;
	char *lines, *buf;
	int fd;

	*lines_r = NULL;
	*body_r = msgfd;
	if (fstat(msgfd, &st) < 0)
		return -1;
	*size_r = (uint64_t)st.st_size;
	if (off == 0 || off > (uint64_t)st.st_size || off > RM_MSG_MAX)
		return 0;
	lines = rm_xmalloc(off + 1);
	if (rm_pread_all(msgfd, lines, off, 0) != (ssize_t)off ||
	    memchr(lines, '\0', off) != NULL) {
		free(lines);
		return 0;
	}
	lines[off] = '\0';
	fd = memfd_create("rmail-retry", MFD_CLOEXEC);
	buf = fd >= 0 ? rm_xmalloc(65536) : NULL;
	while (fd >= 0 && done < (uint64_t)st.st_size - off) {
		ssize_t n = pread(msgfd, buf, 65536, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || rm_write_all(fd, buf, (size_t)n) < 0) {
			close(fd);
			fd = -1;
		} else {
			done += (uint64_t)n;
		}
	}
	free(buf);
	if (fd < 0) {
		free(lines);
		return -1;
	}
	*lines_r = lines;
	*body_r = fd;
	*size_r = (uint64_t)st.st_size - off;
	return 0;
}

/* the reason a FAILED local recipient bounces with */
static void local_failed(struct rm_qrcpt *r, int code, const char *why)
{
	char buf[300];

	if (code == 552)
		set_error(r, "552 5.2.2 Quota exceeded");
	else if (strncmp(why, "5.1.1 ", 6) == 0)
		set_error(r, "550 5.1.1 No such user");
	else if (strlen(why) > 4 && why[0] >= '4' && why[0] <= '5' &&
		 why[3] == ' ')
		set_error(r, why); /* a filter's "550 5.7.1 ..." */
	else {
		snprintf(buf, sizeof(buf), "%d %s", code ? code : 550, why);
		set_error(r, buf);
	}
}

/* The entry's local recipients (users: aliases were expanded by the
 * first attempt) through the one delivery path, rm_deliver_message,
 * as on the first attempt: the DELIVERY filters run again with what
 * they saw then (envelope, peer, authentication results, the message
 * split as core lines + body) and decide the mailbox; their side
 * effects guard themselves against a second run (mod_sieve records
 * each redirect with duplicate_check, vacation replies with
 * vacation_check). */
static void deliver_local(struct rm_qentry *e, const size_t *idx, size_t n,
			  int msgfd)
{
	const char **rcpts = rm_xcalloc(n + 1, sizeof(*rcpts));
	struct rmail_rcpt_result *rr = rm_xcalloc(n, sizeof(*rr));
	int *codes = rm_xcalloc(n, sizeof(*codes));
	struct rm_ma_result *ma = NULL;
	struct rm_msg_src local = {0}, remote = {0};
	struct rm_deliver_req rq;
	char *lines = NULL, *rp;
	int body = msgfd;
	uint64_t size = 0;
	size_t i, nq = 0;

	if (split_msg(e, msgfd, &lines, &body, &size) < 0) {
		rm_log(RMAIL_LOG_ERR, "queue %s: cannot read the message: %s",
		       e->id, strerror(errno));
		for (i = 0; i < n; i++)
			set_error(&e->r[idx[i]], "cannot read the message");
		free(rcpts);
		free(rr);
		free(codes);
		return;
	}
	{
		size_t sz = strlen(e->from) + 32 + (lines ? strlen(lines) : 0);

		rp = rm_xmalloc(sz);
		snprintf(rp, sz, "Return-Path: <%s>\r\n%s", e->from,
			 lines != NULL ? lines : "");
	}
	remote.prefix = lines != NULL ? lines : "";
	remote.fd = body;
	remote.size = size;
	remote.flags = e->flags;
	local = remote;
	local.prefix = rp;
	if (e->ctx.spf != NULL || e->ctx.dmarc != NULL ||
	    e->ctx.authres != NULL) {
		ma = rm_xcalloc(1, sizeof(*ma));
		ma->authres_value = e->ctx.authres;
		ma->spf_result = e->ctx.spf;
		ma->dmarc_result = e->ctx.dmarc;
		ma->dmarc_disposition = e->ctx.dmarc_disp;
		if (e->ctx.from_domain != NULL)
			snprintf(ma->from_domain, sizeof(ma->from_domain), "%s",
				 e->ctx.from_domain);
	}
	for (i = 0; i < n; i++)
		rcpts[i] = e->r[idx[i]].addr;
	memset(&rq, 0, sizeof(rq));
	rq.id = e->id;
	rq.mail_from = e->from;
	rq.rcpts = rcpts;
	rq.n = n;
	rq.local = &local;
	rq.remote = &remote;
	rq.peer_ip = e->ctx.peer_ip;
	rq.helo = e->ctx.helo;
	rq.auth_user = e->ctx.auth_user;
	rq.junk = e->junk;
	rq.ma = ma;
	rq.requiretls = e->requiretls;
	rq.retry = true;
	rm_deliver_message(&rq, rr, codes, &nq);
	for (i = 0; i < n; i++) {
		struct rm_qrcpt *r = &e->r[idx[i]];

		switch (rr[i].status) {
		case RMAIL_RCPT_DELIVERED:
			r->state = RM_Q_SENT;
			break;
		case RMAIL_RCPT_FAILED:
			r->state = RM_Q_FAILED;
			local_failed(r, codes[i], rr[i].error);
			break;
		default:
			set_error(r, rr[i].error[0] != '\0'
					     ? rr[i].error
					     : "temporary failure");
			break;
		}
	}
	if (body != msgfd)
		close(body);
	free(lines);
	free(rp);
	free(ma);
	free(rcpts);
	free(rr);
	free(codes);
}

static double backoff(uint32_t attempts)
{
	const struct rm_config *c = rm_conf();
	double first = c != NULL ? c->delivery.retry_initial : 300;
	double max = c != NULL ? c->delivery.retry_max : 14400;
	double d = first;

	for (uint32_t i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

static void bounce_failed(struct rm_qentry *e, const int *before, int msgfd,
			  bool expired)
{
	struct rm_bounce_rcpt *b = rm_xcalloc(e->n, sizeof(*b));
	size_t i, nb = 0;

	for (i = 0; i < e->n; i++) {
		if (e->r[i].state != RM_Q_FAILED || before[i] == RM_Q_FAILED)
			continue;
		rm_delivery_failed_log(e->id, e->r[i].addr,
				       e->r[i].error ? e->r[i].error : "");
		rm_metric_add("rmail_deliveries_total", "result=\"failed\"", 1);
		b[nb].addr = e->r[i].addr;
		b[nb].diag = e->r[i].error ? e->r[i].error : "failed";
		b[nb].expired = expired;
		nb++;
	}
	if (nb > 0 && e->from[0] != '\0')
		rm_bounce_send_rt(e->from, e->id, b, nb, msgfd, e->requiretls);
	free(b);
}

/* the message of this attempt with what it needs of a next hop; an
 * entry queued before these were recorded is looked at now */
static void attempt_msg(const struct rm_qentry *e, int msgfd,
			struct rm_smtp_msg *m)
{
	struct stat st;

	memset(m, 0, sizeof(*m));
	m->fd = msgfd;
	m->fd7 = -1;
	m->size = fstat(msgfd, &st) == 0 ? (uint64_t)st.st_size : 0;
	m->flags = e->flags;
	if (!(m->flags & RM_MSG_KNOWN)) {
		const char **rc = rm_xcalloc(e->n + 1, sizeof(*rc));

		for (size_t i = 0; i < e->n; i++)
			rc[i] = e->r[i].addr;
		m->flags = rm_msg_classify(msgfd, m->size, "", e->from, rc,
					   e->n, false);
		free(rc);
	}
}

/* deliver what is pending in one locked entry; true when finished */
static bool attempt(struct rm_qentry *e, int msgfd)
{
	const struct rm_config *c = rm_conf();
	double t0 = wall_now();
	int64_t now = (int64_t)time(NULL);
	int *before = rm_xcalloc(e->n, sizeof(*before));
	size_t *idx = rm_xcalloc(e->n, sizeof(*idx));
	size_t *lidx = rm_xcalloc(e->n, sizeof(*lidx)), nl = 0;
	bool *seen = rm_xcalloc(e->n, sizeof(*seen));
	size_t i, j, n, pending = 0;
	struct rmail_err err;
	struct rm_smtp_msg msg;

	attempt_msg(e, msgfd, &msg);
	for (i = 0; i < e->n; i++)
		before[i] = e->r[i].state;
	/* local copies first: they never wait behind a remote session */
	for (i = 0; i < e->n; i++) {
		if (e->r[i].state != RM_Q_PENDING)
			continue;
		rmail_err_clear(&err);
		switch (rm_addr_local(e->r[i].addr, &err)) {
		case 1:
			seen[i] = true;
			lidx[nl++] = i;
			break;
		case -1:
			/* never an MX look-up of our own domain, nor a
			 * bounce: ask again on the next run */
			seen[i] = true;
			set_error(&e->r[i], err.msg);
			break;
		}
	}
	if (nl > 0)
		deliver_local(e, lidx, nl, msgfd);
	free(lidx);
	for (i = 0; i < e->n; i++) {
		const char *dom;

		if (e->r[i].state != RM_Q_PENDING || seen[i])
			continue;
		seen[i] = true;
		dom = domain_of(e->r[i].addr);
		n = 0;
		idx[n++] = i;
		for (j = i + 1; j < e->n; j++) {
			if (e->r[j].state != RM_Q_PENDING || seen[j] ||
			    strcasecmp(domain_of(e->r[j].addr), dom) != 0)
				continue;
			seen[j] = true;
			idx[n++] = j;
		}
		rm_queue_slot_take(dom);
		deliver_remote(e, idx, n, dom, &msg);
		rm_queue_slot_give(dom);
	}
	rm_smtp_msg_done(&msg);
	rm_metric_observe("rmail_delivery_duration_seconds", "kind=\"remote\"",
			  wall_now() - t0);
	bounce_failed(e, before, msgfd, false);
	for (i = 0; i < e->n; i++) {
		before[i] = e->r[i].state;
		if (e->r[i].state == RM_Q_PENDING) {
			pending++;
			free(e->last_error);
			e->last_error = e->r[i].error != NULL
						? rm_xstrdup(e->r[i].error)
						: NULL;
		}
	}
	if (pending > 0 && c != NULL &&
	    (double)(now - e->created) >= c->delivery.expire) {
		for (i = 0; i < e->n; i++) {
			if (e->r[i].state != RM_Q_PENDING)
				continue;
			e->r[i].state = RM_Q_FAILED;
			set_error(&e->r[i], e->r[i].error != NULL
						    ? e->r[i].error
						    : "expired");
		}
		bounce_failed(e, before, msgfd, true);
		pending = 0;
	}
	free(before);
	free(idx);
	free(seen);
	if (pending == 0)
		return true;
	e->attempts++;
	e->next = wall_now() + backoff(e->attempts);
	rmail_err_clear(&err);
	if (rm_queue_save(e, &err) < 0)
		rm_log(RMAIL_LOG_ERR, "queue %s: %s", e->id, err.msg);
	rm_metric_add("rmail_deliveries_total", "result=\"deferred\"",
		      (double)pending);
	return false;
}

static void run_entry(const char *id, bool force, double now, size_t *count,
		      double *oldest)
{
	struct rm_qentry e;
	struct rmail_err err;
	int fd = -1, rc;

	rmail_err_clear(&err);
	if (rm_queue_load(id, &e, &err) < 0)
		return;
	(*count)++;
	if (*oldest == 0 || (double)e.created < *oldest)
		*oldest = (double)e.created;
	if (!force && e.next > now) {
		rm_queue_entry_free(&e);
		return;
	}
	rm_queue_entry_free(&e);
	rc = rm_queue_lock(id, &fd);
	if (rc != 0)
		return; /* busy elsewhere, or just finished */
	/* re-read under the lock: another process may have moved on */
	if (rm_queue_load(id, &e, &err) == 0) {
		if ((force || e.next <= now) && attempt(&e, fd)) {
			if (rm_queue_remove(id) < 0)
				rm_log(RMAIL_LOG_ERR, "queue %s: cannot remove",
				       id);
			(*count)--;
		}
		rm_queue_entry_free(&e);
	}
	rm_queue_unlock(&fd);
}

void rm_queue_run(bool force)
{
	char(*ids)[RM_QID_MAX];
	size_t n = rm_queue_list(&ids), count = 0;
	double now = wall_now(), oldest = 0;

	for (size_t i = 0; i < n; i++)
		run_entry(ids[i], force, now, &count, &oldest);
	free(ids);
	rm_metric_set("rmail_queue_messages", NULL, (double)count);
	rm_metric_set("rmail_queue_oldest_seconds", NULL,
		      count > 0 && oldest > 0 ? wall_now() - oldest : 0);
}

/* ---- the runner (loop side) ----------------------------------------- */

struct pass {
	char (*ids)[RM_QID_MAX];
	bool *due;
	size_t n, count;
	double oldest;
};

struct entry_job {
	struct entry_job *next;
	char id[RM_QID_MAX];
};

static struct rmail_timer *tick;
static bool running, again;
/* entries handed to the pool and not done: a pass that starts
 * meanwhile leaves them be (loop thread only) */
static struct entry_job *inflight;

/* one entry, locked, on a delivery worker */
static void entry_work(void *arg, const volatile int *cancel)
{
	struct entry_job *j = arg;
	struct rm_qentry e;
	struct rmail_err err;
	int fd = -1;

	if (*cancel || rm_queue_lock(j->id, &fd) != 0)
		return; /* busy elsewhere, or just finished */
	rmail_err_clear(&err);
	/* re-read under the lock: another process may have moved on */
	if (rm_queue_load(j->id, &e, &err) == 0) {
		if (e.next <= wall_now() + 0.001 && attempt(&e, fd) &&
		    rm_queue_remove(j->id) < 0)
			rm_log(RMAIL_LOG_ERR, "queue %s: cannot remove", j->id);
		rm_queue_entry_free(&e);
	}
	rm_queue_unlock(&fd);
}

static void entry_done(void *arg, int cancelled)
{
	struct entry_job *j = arg;

	(void)cancelled;
	for (struct entry_job **pp = &inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j);
}

static bool in_flight(const char *id)
{
	for (struct entry_job *j = inflight; j != NULL; j = j->next)
		if (strcmp(j->id, id) == 0)
			return true;
	return false;
}

/* the listing, on a delivery worker: which entries are due */
static void pass_work(void *arg, const volatile int *cancel)
{
	struct pass *p = arg;
	double now = wall_now();

	if (*cancel)
		return;
	p->n = rm_queue_list(&p->ids);
	p->due = rm_xcalloc(p->n ? p->n : 1, sizeof(*p->due));
	for (size_t i = 0; i < p->n; i++) {
		struct rm_qentry e;
		struct rmail_err err;

		rmail_err_clear(&err);
		if (rm_queue_load(p->ids[i], &e, &err) < 0)
			continue;
		p->count++;
		if (p->oldest == 0 || (double)e.created < p->oldest)
			p->oldest = (double)e.created;
		p->due[i] = e.next <= now;
		rm_queue_entry_free(&e);
	}
}

static void pass_done(void *arg, int cancelled)
{
	struct pass *p = arg;

	for (size_t i = 0; !cancelled && i < p->n; i++) {
		struct entry_job *j;

		if (!p->due[i] || in_flight(p->ids[i]))
			continue;
		j = rm_xcalloc(1, sizeof(*j));
		snprintf(j->id, sizeof(j->id), "%s", p->ids[i]);
		j->next = inflight;
		inflight = j;
		rm_work_submit(RM_WORK_DELIVER, entry_work, entry_done, j);
	}
	if (!cancelled) {
		rm_metric_set("rmail_queue_messages", NULL, (double)p->count);
		rm_metric_set("rmail_queue_oldest_seconds", NULL,
			      p->count > 0 && p->oldest > 0
				      ? wall_now() - p->oldest
				      : 0);
	}
	free(p->ids);
	free(p->due);
	free(p);
	running = false;
	if (again && !cancelled) {
		again = false;
		rm_queue_kick();
	}
}

void rm_queue_kick(void)
{
	if (running) {
		again = true;
		return;
	}
	running = true;
	rm_work_submit(RM_WORK_DELIVER, pass_work, pass_done,
		       rm_xcalloc(1, sizeof(struct pass)));
}

static void tick_cb(void *arg)
{
	(void)arg;
	rm_queue_kick();
}

void rm_queue_start(void)
{
	const struct rm_config *c = rm_conf();
	double every = c != NULL ? c->delivery.retry_initial / 4 : 60;

	if (every > 60)
		every = 60;
	if (every < 0.05)
		every = 0.05;
	/* once a host: the other workers deliver what they accept at
	 * once, the retries are worker 0's (the entry locks stay) */
	if (rm_proc_index() != 0)
		return;
	if (tick == NULL)
		tick = rm_timer_add(0, every, tick_cb, NULL);
}

void rm_queue_stop(void)
{
	rm_timer_del(&tick);
}
