/*
 * The MTA side of milter protocol 6 for one SMTP session (Postfix's
 * behaviour where sendmail's and Postfix's differ): per milter one
 * socket, option negotiation, then each step as macros + command and,
 * unless the milter negotiated SMFIP_NR_* for it, one reply.  At the
 * end of data the header fields (ours first), SMFIC_EOH, the body in
 * 64 KiB chunks and SMFIC_BODYEOB, then modifications until the final
 * reply.  Everything is non-blocking on the loop: a milter that hangs
 * costs its timeout, a malformed reply or a dropped connection is a
 * protocol error logged once for the session, and the milter's
 * default_action answers for it from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "milter_sess.h"

#define OUT_HIGH (256u << 10) /* body chunks wait for the socket past it */
#define IDLE_MAX 16	      /* sockets kept per milter after QUIT_NC */
#define HDR_READ_MAX (4u << 20)

enum mc_state {
	MC_NONE = 0,	/* no socket yet */
	MC_CONNECTING,	/* connect() in progress */
	MC_NEGOTIATING, /* SMFIC_OPTNEG sent */
	MC_READY,
	MC_DEAD, /* failed: default_action for the rest of the session */
};

enum mc_pc {
	PC_CONN = 0,
	PC_CMD,
	PC_HDRS,
	PC_EOH,
	PC_BODY,
	PC_EOM,
	PC_MODS, /* after SMFIC_BODYEOB: modifications, then the verdict */
	PC_END,
};

struct hdr {
	char *name, *value;
};

struct mc {
	struct milter_sess *ms;
	struct milter_def *def;
	int fd;
	struct rmail_io *rio, *wio;
	struct rmail_timer *tm;
	int state;
	bool reused, logged, waiting, in_tx, draining;
	bool active;	/* the step's current milter: owes a verdict */
	bool got_reply; /* on this socket, since it was (re)used */
	bool skip_sess, skip_msg;
	uint32_t version, actions, pflags;
	char *macros[MILTER_M_COUNT]; /* the milter's own lists, or NULL */
	struct milter_buf out;
	uint8_t *in;
	size_t inlen, incap;
	int pc;
	size_t hi;
	uint64_t boff;
	bool body_skip;
	double wait_t;
};

struct edit {
	int op;
	uint32_t index;
	char *name, *value;
	size_t len;
};

struct milter_sess {
	struct milter_mod *mod;
	struct milter_set *set;
	size_t n;
	struct mc *c;
	/* the session */
	uint32_t listener;
	char *session_id, *peer_ip, *peer_name, *local_ip;
	int peer_port, local_port;
	/* the step */
	const struct rmail_filter_step *st;
	struct rmail_filter_reply *r;
	rmail_filter_done_fn done;
	void *arg;
	size_t i;
	int action, code;
	char text[512];
	struct hdr *hdrs;
	size_t nhdrs;
	uint64_t body_start;
	struct edit *edits;
	size_t nedits, capedits;
	struct milter_buf body; /* SMFIR_REPLBODY chunks */
	bool body_replaced;
};

static const struct rmail_core *K(const struct milter_sess *ms)
{
	return ms->mod->core;
}

static void mc_go(struct mc *mc);
static void ms_next(struct milter_sess *ms);

/* ---- verdicts ----------------------------------------------------- */

static void verdict(struct mc *mc, int action, int code, const char *text)
{
	struct milter_sess *ms = mc->ms;

	if (mc->pc == PC_MODS)
		mc->in_tx = false; /* its end of message is over */
	mc->waiting = false;
	mc->pc = PC_END;
	if (mc->tm != NULL)
		K(ms)->timer_del(&mc->tm);
	if (!mc->active)
		return; /* a late error: nothing waits for this milter */
	mc->active = false;
	if (action == RMAIL_FILTER_REJECT) {
		ms->action = RMAIL_FILTER_REJECT;
		ms->code = code;
		snprintf(ms->text, sizeof(ms->text), "%s", text);
		ms->i = ms->n; /* the first refusal ends the step */
	} else if (action == RMAIL_FILTER_DISCARD) {
		ms->action = RMAIL_FILTER_DISCARD;
		ms->i = ms->n;
	} else {
		ms->i++;
	}
	ms_next(ms);
}

static void tempfail(struct mc *mc)
{
	verdict(mc, RMAIL_FILTER_REJECT, 451,
		"4.7.1 Service unavailable - try again later");
}

static void mc_close_fd(struct mc *mc)
{
	const struct rmail_core *k = K(mc->ms);

	k->io_del(&mc->rio);
	k->io_del(&mc->wio);
	k->timer_del(&mc->tm);
	if (mc->fd >= 0)
		close(mc->fd);
	mc->fd = -1;
	mc->out.len = 0;
	mc->inlen = 0;
	mc->waiting = false;
	mc->draining = false;
}

/* a protocol error, a timeout, a refused connection: logged once for
 * the session, then default_action answers for the milter */
static void mc_fail(struct mc *mc, const char *why)
{
	struct milter_sess *ms = mc->ms;
	uint32_t step = ms->st != NULL ? ms->st->step : 0;

	mc_close_fd(mc);
	/* a socket kept after SMFIC_QUIT_NC may have been closed by the
	 * milter meanwhile: one fresh connection before giving up */
	if (mc->reused && !mc->got_reply && mc->active &&
	    step == RMAIL_FSTEP_CONNECT) {
		mc->reused = false;
		mc->state = MC_NONE;
		mc->pc = PC_CONN;
		mc_go(mc);
		return;
	}
	mc->state = MC_DEAD;
	if (!mc->logged) {
		mc->logged = true;
		K(ms)->log(ms->mod->m, RMAIL_LOG_WARN,
			   "milter %s: %s (session %s): default_action %s",
			   mc->def->spec, why,
			   ms->session_id ? ms->session_id : "-",
			   mc->def->default_accept ? "accept" : "tempfail");
		K(ms)->metric_add("rmail_milter_errors_total", NULL, 1);
	}
	if (mc->def->default_accept) {
		mc->skip_sess = true;
		verdict(mc, RMAIL_FILTER_ACCEPT, 0, "");
	} else {
		tempfail(mc);
	}
}

/* ---- output -------------------------------------------------------- */

static void on_write(void *arg, int fd, int revents);

static int flush(struct mc *mc)
{
	size_t off = 0;

	while (off < mc->out.len) {
		ssize_t w = send(mc->fd, mc->out.p + off, mc->out.len - off,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	memmove(mc->out.p, mc->out.p + off, mc->out.len - off);
	mc->out.len -= off;
	if (mc->out.len > 0 && mc->wio == NULL)
		mc->wio =
			K(mc->ms)->io_add(mc->fd, RMAIL_IO_WRITE, on_write, mc);
	else if (mc->out.len == 0 && mc->wio != NULL)
		K(mc->ms)->io_del(&mc->wio);
	return 0;
}

static void on_timeout(void *arg)
{
	struct mc *mc = arg;

	K(mc->ms)->timer_del(&mc->tm);
	mc_fail(mc, mc->state == MC_READY ? "timed out waiting for a reply"
					  : "timed out connecting");
}

static void wait_reply(struct mc *mc, double t)
{
	mc->waiting = true;
	mc->wait_t = t;
	K(mc->ms)->timer_del(&mc->tm);
	mc->tm = K(mc->ms)->timer_add(t > 0 ? t : 30, 0, on_timeout, mc);
}

/* ---- commands ------------------------------------------------------ */

static const char *domain_of(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	return at != NULL ? at + 1 : NULL;
}

static const char *macro_val(struct milter_sess *ms, const char *name,
			     char *buf, size_t sz)
{
	const struct rmail_filter_step *st = ms->st;
	const char *tls = st->tls_info, *sp;

	/* asked each time: a reload frees the old config's strings */
	if (strcmp(name, "j") == 0 || strcmp(name, "{daemon_name}") == 0)
		return K(ms)->conf_str("hostname");
	if (strcmp(name, "v") == 0)
		return "rmail";
	if (strcmp(name, "{daemon_addr}") == 0)
		return ms->local_ip;
	if (strcmp(name, "{daemon_port}") == 0) {
		snprintf(buf, sz, "%d", ms->local_port);
		return ms->local_port > 0 ? buf : NULL;
	}
	if (strcmp(name, "_") == 0) {
		snprintf(buf, sz, "%s [%s]",
			 ms->peer_name ? ms->peer_name : "unknown",
			 ms->peer_ip ? ms->peer_ip : "127.0.0.1");
		return buf;
	}
	if (strcmp(name, "{client_addr}") == 0)
		return ms->peer_ip;
	if (strcmp(name, "{client_name}") == 0 ||
	    strcmp(name, "{client_ptr}") == 0)
		return ms->peer_name ? ms->peer_name : "unknown";
	if (strcmp(name, "{client_port}") == 0) {
		snprintf(buf, sz, "%d", ms->peer_port);
		return ms->peer_port > 0 ? buf : NULL;
	}
	if (strcmp(name, "{tls_version}") == 0 && tls != NULL) {
		sp = strchr(tls, ' ');
		snprintf(buf, sz, "%.*s",
			 (int)(sp ? sp - tls : (long)strlen(tls)), tls);
		return buf;
	}
	if (strcmp(name, "{cipher}") == 0 && tls != NULL &&
	    (sp = strchr(tls, ' ')) != NULL)
		return sp + 1;
	if (strcmp(name, "i") == 0)
		return st->queue_id;
	if (strcmp(name, "{auth_authen}") == 0)
		return st->auth_user;
	if (strcmp(name, "{mail_addr}") == 0)
		return st->mail_from;
	if (strcmp(name, "{mail_host}") == 0)
		return domain_of(st->mail_from);
	if (strcmp(name, "{mail_mailer}") == 0 ||
	    strcmp(name, "{rcpt_mailer}") == 0)
		return st->mail_from != NULL ? "smtp" : NULL;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return st->rcpt;
	if (strcmp(name, "{rcpt_host}") == 0)
		return domain_of(st->rcpt);
	return NULL;
}

/* SMFIC_MACRO for stage, before the command cmd; nothing when no macro
 * of the list has a value */
static void put_macros(struct mc *mc, int stage, char cmd)
{
	struct milter_sess *ms = mc->ms;
	const char *list = mc->macros[stage] != NULL ? mc->macros[stage]
						     : ms->set->macros[stage];
	char *dup, *save = NULL, *t, buf[300];
	size_t start, mark;

	if (list == NULL || list[0] == '\0')
		return;
	dup = strdup(list);
	if (dup == NULL)
		abort();
	start = milter_begin(&mc->out, SMFIC_MACRO);
	milter_put(&mc->out, &cmd, 1);
	mark = mc->out.len;
	for (t = strtok_r(dup, " ,", &save); t != NULL;
	     t = strtok_r(NULL, " ,", &save)) {
		const char *v = macro_val(ms, t, buf, sizeof(buf));
		char name[128];

		if (v == NULL)
			continue;
		/* libmilter asks for "{name}" or one letter; both match */
		if (t[0] != '{' && strlen(t) > 1)
			snprintf(name, sizeof(name), "{%s}", t);
		else
			snprintf(name, sizeof(name), "%s", t);
		milter_put_str(&mc->out, name);
		milter_put_str(&mc->out, v);
	}
	free(dup);
	if (mc->out.len == mark)
		mc->out.len = start; /* no value: no packet */
	else
		milter_end(&mc->out, start);
}

static void put_cmd0(struct mc *mc, char cmd)
{
	milter_end(&mc->out, milter_begin(&mc->out, cmd));
}

static void put_connect(struct mc *mc)
{
	struct milter_sess *ms = mc->ms;
	const char *ip = ms->peer_ip ? ms->peer_ip : "127.0.0.1";
	char host[300];
	size_t s;

	/* no reverse name: sendmail's "[addr]" */
	if (ms->peer_name != NULL)
		snprintf(host, sizeof(host), "%s", ms->peer_name);
	else
		snprintf(host, sizeof(host), "[%s]", ip);
	s = milter_begin(&mc->out, SMFIC_CONNECT);
	milter_put_str(&mc->out, host);
	milter_put(&mc->out, strchr(ip, ':') ? "6" : "4", 1);
	milter_put_u16(&mc->out, (uint16_t)ms->peer_port);
	milter_put_str(&mc->out, ip);
	milter_end(&mc->out, s);
}

static void put_args(struct mc *mc, char cmd, const char *addr,
		     const char *params)
{
	char *a, *dup, *save = NULL, *t;
	size_t s = milter_begin(&mc->out, cmd);

	if (asprintf(&a, "<%s>", addr ? addr : "") < 0)
		abort();
	milter_put_str(&mc->out, a);
	free(a);
	if (params != NULL && params[0] != '\0') {
		dup = strdup(params);
		if (dup == NULL)
			abort();
		for (t = strtok_r(dup, " ", &save); t != NULL;
		     t = strtok_r(NULL, " ", &save))
			milter_put_str(&mc->out, t);
		free(dup);
	}
	milter_end(&mc->out, s);
}

/* the step's own command: true when a reply is due */
static bool send_cmd(struct mc *mc)
{
	struct milter_sess *ms = mc->ms;
	const struct rmail_filter_step *st = ms->st;
	uint32_t f = mc->pflags;
	size_t s;

	switch (st->step) {
	case RMAIL_FSTEP_CONNECT:
		if (f & SMFIP_NOCONNECT)
			return false;
		put_macros(mc, MILTER_M_CONNECT, SMFIC_CONNECT);
		put_connect(mc);
		return !(f & SMFIP_NR_CONN);
	case RMAIL_FSTEP_HELO:
		if (f & SMFIP_NOHELO)
			return false;
		put_macros(mc, MILTER_M_HELO, SMFIC_HELO);
		s = milter_begin(&mc->out, SMFIC_HELO);
		milter_put_str(&mc->out, st->helo ? st->helo : "");
		milter_end(&mc->out, s);
		return !(f & SMFIP_NR_HELO);
	case RMAIL_FSTEP_MAIL:
		mc->in_tx = true;
		mc->skip_msg = false;
		if (f & SMFIP_NOMAIL)
			return false;
		put_macros(mc, MILTER_M_MAIL, SMFIC_MAIL);
		put_args(mc, SMFIC_MAIL, st->mail_from, st->mail_params);
		return !(f & SMFIP_NR_MAIL);
	case RMAIL_FSTEP_RCPT:
		if (f & SMFIP_NORCPT)
			return false;
		put_macros(mc, MILTER_M_RCPT, SMFIC_RCPT);
		put_args(mc, SMFIC_RCPT, st->rcpt, NULL);
		return !(f & SMFIP_NR_RCPT);
	case RMAIL_FSTEP_DATA:
		mc->hi = 0;
		mc->boff = ms->body_start;
		mc->body_skip = false;
		if (f & SMFIP_NODATA)
			return false;
		put_macros(mc, MILTER_M_DATA, SMFIC_DATA);
		put_cmd0(mc, SMFIC_DATA);
		return !(f & SMFIP_NR_DATA);
	default:
		return false;
	}
}

/* ---- connecting ---------------------------------------------------- */

static void on_read(void *arg, int fd, int revents);

static void send_optneg(struct mc *mc)
{
	size_t s = milter_begin(&mc->out, SMFIC_OPTNEG);

	milter_put_u32(&mc->out, MILTER_VERSION);
	milter_put_u32(&mc->out, SMFIF_ALL);
	milter_put_u32(&mc->out, MILTER_PROTO_OFFER);
	milter_end(&mc->out, s);
	mc->state = MC_NEGOTIATING;
	if (flush(mc) < 0) {
		mc_fail(mc, "cannot send the option negotiation");
		return;
	}
	wait_reply(mc, mc->def->t_connect);
}

static void connected(struct mc *mc)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (getsockopt(mc->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s",
			 strerror(e ? e : errno));
		mc_fail(mc, why);
		return;
	}
	K(mc->ms)->io_del(&mc->wio);
	mc->rio = K(mc->ms)->io_add(mc->fd, RMAIL_IO_READ, on_read, mc);
	send_optneg(mc);
}

static void on_write(void *arg, int fd, int revents)
{
	struct mc *mc = arg;

	(void)fd;
	(void)revents;
	if (mc->state == MC_CONNECTING) {
		connected(mc);
		return;
	}
	if (flush(mc) < 0) {
		mc_fail(mc, "connection lost");
		return;
	}
	if (mc->draining && mc->out.len < OUT_HIGH / 2) {
		mc->draining = false;
		mc_go(mc);
	}
}

static void idle_close(struct milter_idle *it)
{
	it->k->io_del(&it->io);
	close(it->fd);
	for (int i = 0; i < MILTER_M_COUNT; i++)
		free(it->macros[i]);
	free(it);
}

static void idle_remove(struct milter_def *d, size_t i)
{
	d->idle[i] = d->idle[--d->nidle];
}

void milter_idle_drop_all(struct milter_def *d)
{
	while (d->nidle > 0)
		idle_close(d->idle[--d->nidle]);
	free(d->idle);
	d->idle = NULL;
}

/* anything from an idle milter (its EOF) ends that socket */
static void idle_on_event(void *arg, int fd, int revents)
{
	struct milter_idle *it = arg;
	struct milter_def *d = it->def;

	(void)fd;
	(void)revents;
	for (size_t i = 0; i < d->nidle; i++) {
		if (d->idle[i] == it) {
			idle_remove(d, i);
			break;
		}
	}
	idle_close(it);
}

/* a socket kept after SMFIC_QUIT_NC, if any */
static bool take_idle(struct mc *mc)
{
	struct milter_def *d = mc->def;
	struct milter_idle *it;

	if (d->nidle == 0)
		return false;
	it = d->idle[--d->nidle];
	K(mc->ms)->io_del(&it->io);
	mc->fd = it->fd;
	mc->version = it->version;
	mc->actions = it->actions;
	mc->pflags = it->pflags;
	memcpy(mc->macros, it->macros, sizeof(mc->macros));
	free(it);
	mc->state = MC_READY;
	mc->reused = true;
	mc->got_reply = false;
	mc->rio = K(mc->ms)->io_add(mc->fd, RMAIL_IO_READ, on_read, mc);
	return true;
}

static void mc_open(struct mc *mc)
{
	struct milter_def *d = mc->def;

	if (mc->ms->set->reuse && take_idle(mc))
		return;
	mc->fd = socket(d->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (mc->fd < 0) {
		mc_fail(mc, "socket failed");
		return;
	}
	/* one small packet per step, each waited for: no Nagle delay */
	if (d->sa.ss_family != AF_UNIX)
		(void)setsockopt(mc->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1},
				 sizeof(int));
	if (connect(mc->fd, (struct sockaddr *)&d->sa, d->salen) == 0) {
		mc->state = MC_CONNECTING;
		mc->rio = K(mc->ms)->io_add(mc->fd, RMAIL_IO_READ, on_read, mc);
		send_optneg(mc);
		return;
	}
	if (errno != EINPROGRESS) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s",
			 strerror(errno));
		mc_fail(mc, why);
		return;
	}
	mc->state = MC_CONNECTING;
	mc->wio = K(mc->ms)->io_add(mc->fd, RMAIL_IO_WRITE, on_write, mc);
	mc->waiting = true;
	K(mc->ms)->timer_del(&mc->tm);
	mc->tm = K(mc->ms)->timer_add(d->t_connect > 0 ? d->t_connect : 30, 0,
				      on_timeout, mc);
}

/* ---- the step program --------------------------------------------- */

static void send_header(struct mc *mc, const struct hdr *h)
{
	size_t s = milter_begin(&mc->out, SMFIC_HEADER);
	const char *v = h->value;

	/* without SMFIP_HDR_LEADSPC the milter gets the value without
	 * the space after the colon, as from sendmail */
	if (!(mc->pflags & SMFIP_HDR_LEADSPC) && *v == ' ')
		v++;
	milter_put_str(&mc->out, h->name);
	milter_put_str(&mc->out, v);
	milter_end(&mc->out, s);
}

/* false: the body could not be read (the step fails for this milter) */
static bool send_body_chunk(struct mc *mc)
{
	const struct rmail_filter_msg *msg = mc->ms->st->msg;
	uint64_t left = msg->msg_size - mc->boff;
	size_t n = left > MILTER_CHUNK ? MILTER_CHUNK : (size_t)left;
	size_t s = milter_begin(&mc->out, SMFIC_BODY);
	ssize_t got;

	if (mc->out.cap < mc->out.len + n) {
		mc->out.cap = mc->out.len + n + 1024;
		mc->out.p = realloc(mc->out.p, mc->out.cap);
		if (mc->out.p == NULL)
			abort();
	}
	got = pread(msg->fd, mc->out.p + mc->out.len, n, (off_t)mc->boff);
	if (got != (ssize_t)n)
		return false;
	mc->out.len += n;
	mc->boff += n;
	milter_end(&mc->out, s);
	return true;
}

static bool step_is_msg(uint32_t step)
{
	return step >= RMAIL_FSTEP_MAIL && step <= RMAIL_FSTEP_DATA;
}

static void mc_go(struct mc *mc)
{
	struct milter_sess *ms = mc->ms;
	uint32_t f;
	bool nr;

	while (!mc->waiting && !mc->draining) {
		f = mc->pflags;
		switch (mc->pc) {
		case PC_CONN:
			if (mc->state == MC_READY) {
				mc->pc = PC_CMD;
				break;
			}
			if (mc->state == MC_NONE) {
				mc_open(mc);
				/* mc_fail may have given the verdict */
				if (mc->pc != PC_CONN)
					return;
				continue;
			}
			return;
		case PC_CMD:
			nr = !send_cmd(mc);
			mc->pc = ms->st->step == RMAIL_FSTEP_DATA ? PC_HDRS
								  : PC_END;
			if (!nr)
				wait_reply(mc, mc->def->t_command);
			break;
		case PC_HDRS:
			if ((f & SMFIP_NOHDRS) || mc->hi >= ms->nhdrs) {
				mc->pc = PC_EOH;
				break;
			}
			send_header(mc, &ms->hdrs[mc->hi++]);
			if (!(f & SMFIP_NR_HDR))
				wait_reply(mc, mc->def->t_content);
			break;
		case PC_EOH:
			mc->pc = PC_BODY;
			if (f & SMFIP_NOEOH)
				break;
			put_macros(mc, MILTER_M_EOH, SMFIC_EOH);
			put_cmd0(mc, SMFIC_EOH);
			if (!(f & SMFIP_NR_EOH))
				wait_reply(mc, mc->def->t_content);
			break;
		case PC_BODY:
			if ((f & SMFIP_NOBODY) || mc->body_skip ||
			    mc->boff >= ms->st->msg->msg_size) {
				mc->pc = PC_EOM;
				break;
			}
			if (mc->out.len > OUT_HIGH) {
				mc->draining = true;
				break;
			}
			if (!send_body_chunk(mc)) {
				mc_fail(mc, "cannot read the message");
				return;
			}
			if (!(f & SMFIP_NR_BODY))
				wait_reply(mc, mc->def->t_content);
			break;
		case PC_EOM:
			put_macros(mc, MILTER_M_EOM, SMFIC_BODYEOB);
			put_cmd0(mc, SMFIC_BODYEOB);
			mc->pc = PC_MODS;
			wait_reply(mc, mc->def->t_content);
			break;
		case PC_END:
			if (flush(mc) < 0) {
				mc_fail(mc, "connection lost");
				return;
			}
			verdict(mc, RMAIL_FILTER_ACCEPT, 0, "");
			return;
		default:
			return;
		}
	}
	if (mc->fd >= 0 && mc->state == MC_READY && flush(mc) < 0)
		mc_fail(mc, "connection lost");
}

/* ---- replies ------------------------------------------------------- */

static void add_edit(struct milter_sess *ms, int op, uint32_t index,
		     const char *name, const char *value)
{
	struct edit *e;

	if (ms->nedits == ms->capedits) {
		ms->capedits = ms->capedits ? ms->capedits * 2 : 8;
		ms->edits =
			realloc(ms->edits, ms->capedits * sizeof(*ms->edits));
		if (ms->edits == NULL)
			abort();
	}
	e = &ms->edits[ms->nedits++];
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->index = index;
	e->name = name ? strdup(name) : NULL;
	e->value = value ? strdup(value) : NULL;
}

/* a modification after SMFIC_BODYEOB; false when the milter may not
 * make it (it did not negotiate the action): ignored, logged */
static bool modification(struct mc *mc, const struct milter_reply *r)
{
	struct milter_sess *ms = mc->ms;
	uint32_t a = mc->actions;

	switch (r->cmd) {
	case SMFIR_ADDHEADER:
		if (!(a & SMFIF_ADDHDRS))
			return false;
		add_edit(ms, RMAIL_FEDIT_ADD_HEADER, 0, r->s1, r->s2);
		return true;
	case SMFIR_INSHEADER:
		if (!(a & SMFIF_ADDHDRS))
			return false;
		add_edit(ms, RMAIL_FEDIT_INSERT_HEADER, r->index, r->s1, r->s2);
		return true;
	case SMFIR_CHGHEADER:
		if (!(a & SMFIF_CHGHDRS))
			return false;
		add_edit(ms, RMAIL_FEDIT_CHANGE_HEADER, r->index, r->s1,
			 r->s2 != NULL && r->s2[0] != '\0' ? r->s2 : NULL);
		return true;
	case SMFIR_ADDRCPT:
	case SMFIR_ADDRCPT_PAR:
		if (!(a & (SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR)))
			return false;
		add_edit(ms, RMAIL_FEDIT_ADD_RCPT, 0, NULL, r->s1);
		return true;
	case SMFIR_DELRCPT:
		if (!(a & SMFIF_DELRCPT))
			return false;
		add_edit(ms, RMAIL_FEDIT_DELETE_RCPT, 0, NULL, r->s1);
		return true;
	case SMFIR_CHGFROM:
		if (!(a & SMFIF_CHGFROM))
			return false;
		add_edit(ms, RMAIL_FEDIT_CHANGE_FROM, 0, NULL, r->s1);
		return true;
	case SMFIR_QUARANTINE:
		if (!(a & SMFIF_QUARANTINE))
			return false;
		add_edit(ms, RMAIL_FEDIT_QUARANTINE, 0, NULL, r->s1);
		return true;
	case SMFIR_REPLBODY:
		if (!(a & SMFIF_CHGBODY))
			return false;
		milter_put(&ms->body, r->body, r->blen);
		ms->body_replaced = true;
		return true;
	default:
		return false;
	}
}

/* addresses come as "<a@b>" */
static void unbracket(struct milter_reply *r)
{
	static __thread char buf[1024];
	size_t n;

	if (r->s1 == NULL || r->s1[0] != '<')
		return;
	n = strlen(r->s1);
	if (n < 2 || r->s1[n - 1] != '>' || n - 2 >= sizeof(buf))
		return;
	memcpy(buf, r->s1 + 1, n - 2);
	buf[n - 2] = '\0';
	r->s1 = buf;
}

static void on_reply(struct mc *mc, struct milter_reply *r)
{
	struct milter_sess *ms = mc->ms;
	uint32_t step = ms->st != NULL ? ms->st->step : 0;
	bool conn_level =
		step == RMAIL_FSTEP_CONNECT || step == RMAIL_FSTEP_HELO;

	if (r->cmd == SMFIR_PROGRESS) {
		wait_reply(mc, mc->wait_t);
		return;
	}
	if (mc->pc == PC_MODS && modification(mc, r) == true)
		return;
	if (mc->pc == PC_MODS && strchr("+-2behimq", r->cmd) != NULL) {
		K(ms)->log(ms->mod->m, RMAIL_LOG_WARN,
			   "milter %s: modification '%c' not negotiated: "
			   "ignored",
			   mc->def->spec, r->cmd);
		return;
	}
	K(ms)->timer_del(&mc->tm);
	switch (r->cmd) {
	case SMFIR_CONTINUE:
		mc->waiting = false;
		if (mc->pc == PC_MODS) {
			mc->in_tx = false;
			verdict(mc, RMAIL_FILTER_ACCEPT, 0, "");
			return;
		}
		mc_go(mc);
		return;
	case SMFIR_SKIP:
		if (mc->pc != PC_BODY) {
			mc_fail(mc, "SMFIR_SKIP outside the body");
			return;
		}
		mc->waiting = false;
		mc->body_skip = true;
		mc_go(mc);
		return;
	case SMFIR_ACCEPT:
		if (conn_level)
			mc->skip_sess = true;
		else
			mc->skip_msg = true;
		if (mc->pc == PC_MODS)
			mc->in_tx = false;
		verdict(mc, RMAIL_FILTER_ACCEPT, 0, "");
		return;
	case SMFIR_DISCARD:
		if (conn_level) {
			/* nothing to discard yet: as accept, like Postfix */
			mc->skip_sess = true;
			verdict(mc, RMAIL_FILTER_ACCEPT, 0, "");
			return;
		}
		mc->skip_msg = true;
		verdict(mc, RMAIL_FILTER_DISCARD, 0, "");
		return;
	case SMFIR_REJECT:
		verdict(mc, RMAIL_FILTER_REJECT,
			step == RMAIL_FSTEP_CONNECT ? 554 : 550,
			step == RMAIL_FSTEP_CONNECT
				? "5.7.1 Service unavailable"
				: "5.7.1 Command rejected");
		return;
	case SMFIR_TEMPFAIL:
	case SMFIR_CONN_FAIL:
		tempfail(mc);
		return;
	case SMFIR_REPLYCODE:
		verdict(mc, RMAIL_FILTER_REJECT, r->code, r->text);
		return;
	case SMFIR_SHUTDOWN:
		mc_fail(mc, "the milter is shutting down");
		return;
	default:
		mc_fail(mc, "unexpected reply");
		return;
	}
}

static void on_optneg(struct mc *mc, const struct milter_pkt *p)
{
	struct milter_optneg o;
	const char *why = NULL;
	char *store = malloc(p->len + 2);

	if (store == NULL)
		abort();
	if (milter_parse_optneg(p, &o, store, p->len + 2, &why) < 0) {
		free(store);
		mc_fail(mc, why);
		return;
	}
	mc->version = o.version;
	mc->actions = o.actions & SMFIF_ALL;
	/* steps it asked to skip or not answer, within what we offered */
	mc->pflags = o.pflags & MILTER_PROTO_OFFER;
	for (int i = 0; i < MILTER_M_COUNT; i++) {
		free(mc->macros[i]);
		mc->macros[i] = o.macros[i] ? strdup(o.macros[i]) : NULL;
	}
	free(store);
	K(mc->ms)->timer_del(&mc->tm);
	mc->waiting = false;
	mc->state = MC_READY;
	mc_go(mc);
}

static void on_read(void *arg, int fd, int revents)
{
	struct mc *mc = arg;
	struct milter_pkt p;
	size_t used, off = 0;
	ssize_t got;

	(void)fd;
	(void)revents;
	if (mc->incap - mc->inlen < 65536) {
		mc->incap = mc->incap ? mc->incap * 2 : 65536 * 2;
		mc->in = realloc(mc->in, mc->incap);
		if (mc->in == NULL)
			abort();
	}
	got = recv(mc->fd, mc->in + mc->inlen, mc->incap - mc->inlen, 0);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		mc_fail(mc, got == 0 ? "the milter closed the connection"
				     : "connection lost");
		return;
	}
	mc->inlen += (size_t)got;
	for (;;) {
		int rc = milter_frame(mc->in + off, mc->inlen - off, &p, &used);
		struct milter_reply r;
		const char *why = NULL;
		char *store;
		int fd_before = mc->fd;

		if (rc < 0) {
			mc_fail(mc, "bad packet length");
			return;
		}
		if (rc == 0)
			break;
		off += used;
		mc->got_reply = true;
		if (!mc->waiting) {
			mc_fail(mc, "reply nobody asked for");
			return;
		}
		if (mc->state == MC_NEGOTIATING) {
			on_optneg(mc, &p);
		} else {
			store = malloc(p.len + 2);
			if (store == NULL)
				abort();
			if (milter_parse_reply(&p, &r, store, p.len + 2, &why) <
			    0) {
				free(store);
				mc_fail(mc, why);
				return;
			}
			if (r.cmd == SMFIR_ADDRCPT || r.cmd == SMFIR_DELRCPT ||
			    r.cmd == SMFIR_ADDRCPT_PAR ||
			    r.cmd == SMFIR_CHGFROM)
				unbracket(&r);
			on_reply(mc, &r);
			free(store);
		}
		/* the reply may have ended the step or the socket */
		if (mc->fd != fd_before || mc->fd < 0)
			return;
	}
	memmove(mc->in, mc->in + off, mc->inlen - off);
	mc->inlen -= off;
}

/* ---- the session --------------------------------------------------- */

static void ms_done_post(void *arg)
{
	struct milter_sess *ms = arg;
	rmail_filter_done_fn done = ms->done;
	void *darg = ms->arg;

	ms->done = NULL;
	ms->st = NULL;
	if (done != NULL)
		done(darg); /* ms may be gone after this */
}

static void free_step(struct milter_sess *ms)
{
	for (size_t i = 0; i < ms->nhdrs; i++) {
		free(ms->hdrs[i].name);
		free(ms->hdrs[i].value);
	}
	free(ms->hdrs);
	ms->hdrs = NULL;
	ms->nhdrs = 0;
	for (size_t i = 0; i < ms->nedits; i++) {
		free(ms->edits[i].name);
		free(ms->edits[i].value);
	}
	ms->nedits = 0;
	ms->body.len = 0;
	ms->body_replaced = false;
}

static void ms_finish(struct milter_sess *ms)
{
	struct rmail_filter_reply *r = ms->r;
	const struct rmail_core *k = K(ms);

	r->action = ms->action;
	r->code = ms->code;
	snprintf(r->text, sizeof(r->text), "%s", ms->text);
	if (ms->st->step == RMAIL_FSTEP_DATA &&
	    ms->action != RMAIL_FILTER_REJECT &&
	    (ms->nedits > 0 || ms->body_replaced) && r->pool != NULL) {
		size_t n = ms->nedits + (ms->body_replaced ? 1 : 0);
		struct rmail_filter_edit *e =
			k->pcalloc(r->pool, n * sizeof(*e));

		for (size_t i = 0; i < ms->nedits; i++) {
			e[i].op = ms->edits[i].op;
			e[i].index = ms->edits[i].index;
			e[i].name =
				ms->edits[i].name
					? k->pstrdup(r->pool, ms->edits[i].name)
					: NULL;
			e[i].value = ms->edits[i].value
					     ? k->pstrdup(r->pool,
							  ms->edits[i].value)
					     : NULL;
		}
		if (ms->body_replaced) {
			char *b = k->palloc(r->pool, ms->body.len + 1);

			if (ms->body.len > 0)
				memcpy(b, ms->body.p, ms->body.len);
			b[ms->body.len] = '\0';
			e[n - 1].op = RMAIL_FEDIT_REPLACE_BODY;
			e[n - 1].value = b;
			e[n - 1].len = ms->body.len;
		}
		r->edits = e;
		r->nedits = n;
	}
	if (ms->st->step == RMAIL_FSTEP_DATA) {
		/* a milter stopped before its end of message (a refusal
		 * by another, its own accept) still holds the transaction */
		for (size_t i = 0; i < ms->n; i++) {
			struct mc *mc = &ms->c[i];

			if (mc->in_tx && mc->state == MC_READY &&
			    !mc->waiting) {
				put_cmd0(mc, SMFIC_ABORT);
				(void)flush(mc);
			}
			mc->in_tx = false;
			mc->skip_msg = false;
		}
	}
	free_step(ms);
	/* never from inside a milter's callback chain: the core may close
	 * the session in done */
	k->loop_post(ms_done_post, ms);
}

static void ms_next(struct milter_sess *ms)
{
	while (ms->i < ms->n) {
		struct mc *mc = &ms->c[ms->i];

		if (mc->skip_sess ||
		    (mc->skip_msg && step_is_msg(ms->st->step))) {
			ms->i++;
			continue;
		}
		if (mc->state == MC_DEAD) {
			if (mc->def->default_accept) {
				ms->i++;
				continue;
			}
			mc->active = true;
			tempfail(mc);
			return;
		}
		mc->pc = PC_CONN;
		mc->waiting = false;
		mc->active = true;
		mc_go(mc);
		return;
	}
	ms_finish(ms);
}

/* the header fields the milters get: ours, then the message's */
static void read_headers(struct milter_sess *ms)
{
	const struct rmail_filter_msg *msg = ms->st->msg;
	const char *pre = RMAIL_HAS(msg, struct rmail_filter_msg, prepend) &&
					  msg->prepend != NULL
				  ? msg->prepend
				  : "";
	size_t plen = strlen(pre), cap = 65536 + plen, len = plen;
	char *b = malloc(cap + 1), *p, *end, *eoh = NULL;

	if (b == NULL)
		abort();
	memcpy(b, pre, plen);
	ms->body_start = 0;
	for (;;) {
		ssize_t got;

		if (len + 65536 > cap) {
			if (cap > HDR_READ_MAX)
				break;
			cap *= 2;
			b = realloc(b, cap + 1);
			if (b == NULL)
				abort();
		}
		got = pread(msg->fd, b + len, 65536, (off_t)(len - plen));
		if (got <= 0)
			break;
		len += (size_t)got;
		b[len] = '\0';
		if (len - plen >= 2 && memcmp(b + plen, "\r\n", 2) == 0) {
			eoh = b + plen;
			break;
		}
		eoh = memmem(b + plen, len - plen, "\r\n\r\n", 4);
		if (eoh != NULL) {
			eoh += 2;
			break;
		}
	}
	if (eoh == NULL)
		eoh = b + len;
	ms->body_start = (uint64_t)(eoh - (b + plen)) + 2;
	if (ms->body_start > msg->msg_size)
		ms->body_start = msg->msg_size;
	end = eoh;
	p = b;
	while (p < end) {
		char *s = p, *colon, *v, *o;
		size_t n;

		do {
			char *lf = memchr(p, '\n', (size_t)(end - p));

			p = lf != NULL ? lf + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		n = (size_t)(p - s);
		colon = memchr(s, ':', n);
		if (colon == NULL)
			continue;
		ms->hdrs =
			realloc(ms->hdrs, (ms->nhdrs + 1) * sizeof(*ms->hdrs));
		if (ms->hdrs == NULL)
			abort();
		ms->hdrs[ms->nhdrs].name = strndup(s, (size_t)(colon - s));
		/* the value without its final CRLF, folds as "\n" */
		v = malloc(n + 1);
		if (v == NULL || ms->hdrs[ms->nhdrs].name == NULL)
			abort();
		o = v;
		for (char *q = colon + 1; q < p; q++) {
			if (*q == '\r' && q + 1 < p && q[1] == '\n')
				continue;
			*o++ = *q;
		}
		while (o > v && o[-1] == '\n')
			o--;
		*o = '\0';
		ms->hdrs[ms->nhdrs].value = v;
		ms->nhdrs++;
	}
	free(b);
}

struct milter_sess *milter_sess_new(struct milter_mod *mod,
				    const struct rmail_filter_step *st)
{
	struct milter_set *set = mod->set;
	struct milter_sess *ms;
	size_t n = 0;

	if (set == NULL)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].listeners & (1u << st->listener))
			n++;
	if (n == 0)
		return NULL;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		abort();
	ms->mod = mod;
	ms->set = set;
	milter_set_ref(set);
	ms->c = calloc(n, sizeof(*ms->c));
	if (ms->c == NULL)
		abort();
	for (size_t i = 0; i < set->n; i++) {
		if (!(set->v[i].listeners & (1u << st->listener)))
			continue;
		ms->c[ms->n].ms = ms;
		ms->c[ms->n].def = &set->v[i];
		ms->c[ms->n].fd = -1;
		ms->n++;
	}
	ms->listener = st->listener;
	ms->session_id = st->session_id ? strdup(st->session_id) : NULL;
	ms->peer_ip = st->peer_ip ? strdup(st->peer_ip) : NULL;
	ms->peer_name = st->peer_name ? strdup(st->peer_name) : NULL;
	ms->local_ip = st->local_ip ? strdup(st->local_ip) : NULL;
	ms->peer_port = st->peer_port;
	ms->local_port = st->local_port;
	return ms;
}

void milter_sess_step(struct milter_sess *ms,
		      const struct rmail_filter_step *st,
		      struct rmail_filter_reply *r, rmail_filter_done_fn done,
		      void *arg)
{
	if (st->step == RMAIL_FSTEP_ABORT) {
		for (size_t i = 0; i < ms->n; i++) {
			struct mc *mc = &ms->c[i];

			if (mc->in_tx && mc->state == MC_READY) {
				put_cmd0(mc, SMFIC_ABORT);
				if (flush(mc) < 0)
					mc_close_fd(mc), mc->state = MC_DEAD;
			}
			mc->in_tx = false;
			mc->skip_msg = false;
		}
		return;
	}
	ms->st = st;
	ms->r = r;
	ms->done = done;
	ms->arg = arg;
	ms->i = 0;
	ms->action = RMAIL_FILTER_ACCEPT;
	ms->code = 0;
	ms->text[0] = '\0';
	if (st->step == RMAIL_FSTEP_MAIL)
		for (size_t i = 0; i < ms->n; i++)
			ms->c[i].skip_msg = false;
	if (st->step == RMAIL_FSTEP_DATA) {
		if (st->msg == NULL) {
			ms->i = ms->n;
		} else {
			read_headers(ms);
		}
	}
	ms_next(ms);
}

void milter_sess_free(struct milter_sess *ms)
{
	const struct rmail_core *k = K(ms);

	for (size_t i = 0; i < ms->n; i++) {
		struct mc *mc = &ms->c[i];
		struct milter_def *d = mc->def;

		if (mc->state == MC_READY && !mc->waiting && mc->out.len == 0 &&
		    mc->inlen == 0 && ms->set->reuse &&
		    ms->set == ms->mod->set && d->nidle < IDLE_MAX &&
		    mc->version >= 6) {
			/* the socket serves another SMTP session later */
			struct milter_idle *it;

			put_cmd0(mc, SMFIC_QUIT_NC);
			if (flush(mc) == 0 && mc->out.len == 0) {
				if (d->idle == NULL) {
					d->idle = calloc(IDLE_MAX,
							 sizeof(*d->idle));
					if (d->idle == NULL)
						abort();
				}
				k->io_del(&mc->rio);
				k->io_del(&mc->wio);
				k->timer_del(&mc->tm);
				it = calloc(1, sizeof(*it));
				if (it == NULL)
					abort();
				d->idle[d->nidle++] = it;
				it->k = k;
				it->fd = mc->fd;
				it->def = d;
				it->version = mc->version;
				it->actions = mc->actions;
				it->pflags = mc->pflags;
				memcpy(it->macros, mc->macros,
				       sizeof(it->macros));
				memset(mc->macros, 0, sizeof(mc->macros));
				it->io = k->io_add(it->fd, RMAIL_IO_READ,
						   idle_on_event, it);
				mc->fd = -1;
			}
		} else if (mc->state == MC_READY && !mc->waiting) {
			put_cmd0(mc, SMFIC_QUIT);
			(void)flush(mc);
		}
		mc_close_fd(mc);
		for (int j = 0; j < MILTER_M_COUNT; j++)
			free(mc->macros[j]);
		milter_buf_free(&mc->out);
		free(mc->in);
	}
	free_step(ms);
	free(ms->edits);
	milter_buf_free(&ms->body);
	milter_set_unref(&ms->set);
	free(ms->session_id);
	free(ms->peer_ip);
	free(ms->peer_name);
	free(ms->local_ip);
	free(ms->c);
	free(ms);
}
