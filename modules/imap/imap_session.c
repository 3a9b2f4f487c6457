/*
 * The IMAP session: feeds input to the resumable parser, dispatches
 * complete commands by state, and writes replies.  Commands that need a
 * worker (login, expunge, copy, append commit) pause the input until
 * they finish, so replies keep the order of the commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap_session.h"
#include "mutf7.h"

#define SCRATCH_SIZE (64 * 1024)

const struct rmail_store_ops *imap_store(const struct imap_mod *mod, void **h_r)
{
	return mod->core->store(h_r);
}

/* Replies go straight to the core: it corks every callback's writes
 * into as few sends as the socket takes, so no reply is split into
 * small segments (Nagle plus delayed ACK stalls) and none is batched
 * here.  A closing session writes nothing. */
void imap_write(struct imap_session *s, const void *d, size_t n)
{
	if (s->closing)
		return;
	if (s->z != NULL)
		imap_z_write(s, d, n);
	else
		s->mod->core->conn_write(s->c, d, n);
}

/* core->conn_printf has no va_list form; this one also minds closing */
void imap_printf(struct imap_session *s, const char *fmt, ...)
{
	char buf[1024], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		imap_write(s, buf, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	imap_write(s, big, (size_t)n);
	free(big);
}

/*
 * A FETCH, STORE or SEARCH (not UID) already pipelined behind this
 * command: its sequence numbers were meant before any EXPUNGE we would
 * send now (RFC 3501 7.4.1).
 */
static bool expunge_blocked(struct imap_session *s)
{
	static const char *const names[] = {"FETCH ", "STORE ", "SEARCH ",
					    "SORT ", "THREAD "};
	const char *d, *p, *end;
	size_t len, i;

	if (s->c == NULL || s->closing)
		return false;
	len = imap_in_peek_ahead(s, &d);
	end = d + len;
	p = memchr(d, ' ', len);
	if (p == NULL)
		return false;
	p++;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if ((size_t)(end - p) >= n && strncasecmp(p, names[i], n) == 0)
			return true;
	}
	return false;
}

void imap_tagged(struct imap_session *s, const char *tag, bool expunge_ok,
		 const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (s->state == IMAP_S_SELECTED && s->tr != NULL)
		imap_view_announce(s, expunge_ok && !expunge_blocked(s));
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	imap_printf(s, "%s %s\r\n", tag != NULL ? tag : "*", buf);
}

bool imap_cleartext_blocked(struct imap_session *s)
{
	if (s->tls)
		return false;
	return !(imap_conf(s->mod)->allow_cleartext_login_loopback &&
		 s->mod->core->conn_is_loopback(s->c));
}

void imap_capability_list(struct imap_session *s, char *buf, size_t n)
{
	size_t len;

	len = (size_t)snprintf(
		buf, n,
		"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID "
		"ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
		"SPECIAL-USE CREATE-SPECIAL-USE CHILDREN "
		"LIST-EXTENDED LIST-STATUS STATUS=SIZE QUOTA QUOTA=RES-STORAGE "
		"ESEARCH SEARCHRES BINARY PREVIEW "
		"SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT "
		"THREAD=REFERENCES "
		"APPENDLIMIT=%llu",
		(unsigned long long)imap_conf(s->mod)->appendlimit);
	/* RFC 4978 is for authenticated sessions: the greeting and the
	 * pre-login list stay as they were */
	if (len < n && s->state != IMAP_S_NOAUTH)
		len += (size_t)snprintf(buf + len, n - len,
					" COMPRESS=DEFLATE");
	if (len < n && imap_multiappend_ok(s->mod))
		len += (size_t)snprintf(buf + len, n - len, " MULTIAPPEND");
	if (len < n && imap_condstore_supported(s->mod))
		len += (size_t)snprintf(buf + len, n - len,
					" CONDSTORE QRESYNC");
	if (len < n && imap_objectid_supported(s->mod))
		len += (size_t)snprintf(buf + len, n - len, " OBJECTID");
	if (len < n && imap_metadata_supported(s->mod))
		len += (size_t)snprintf(buf + len, n - len,
					" METADATA METADATA-SERVER");
	if (len < n && imap_savedate_supported(s->mod))
		len += (size_t)snprintf(buf + len, n - len, " SAVEDATE");
	if (len < n) /* RFC 6855 */
		len += (size_t)snprintf(buf + len, n - len, " UTF8=ACCEPT");
	if (len >= n || s->state != IMAP_S_NOAUTH)
		return;
	if (!s->tls)
		snprintf(buf + len, n - len, " STARTTLS%s",
			 imap_cleartext_blocked(s) ? " LOGINDISABLED"
						   : " AUTH=PLAIN");
	else
		snprintf(buf + len, n - len, " AUTH=PLAIN");
}

void imap_set_limits(struct imap_session *s)
{
	const struct imap_conf *cf = imap_conf(s->mod);
	struct imap_parser_limits lim = {
		.max_line = (size_t)cf->max_line,
		.max_literal = cf->max_literal_preauth,
		.max_literals = (unsigned)cf->max_literals,
		.max_depth = (unsigned)cf->max_depth,
	};

	if (s->state != IMAP_S_NOAUTH) {
		lim.max_literal = cf->appendlimit;
		lim.stream_append = 1;
	}
	imap_parser_set_limits(&s->parser, &lim);
}

/*
 * The parser's arena (the command cap, ~256 KiB) and the scratch arena
 * share one private anonymous mapping per session.  Only the pages a
 * command touches cost memory, whatever the heap did before: a malloc'd
 * block could land on freed heap pages that stay resident (TLS handshake
 * temporaries, closed connections) and pin them for the session's life.
 */
static size_t session_mem_size(const struct imap_conf *cf, size_t *parena_len_r)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t plen = ((size_t)cf->max_command + pg - 1) & ~(pg - 1);

	*parena_len_r = plen;
	return plen + SCRATCH_SIZE;
}

/*
 * Give the arenas' pages back: an idle session then holds only its
 * struct.  The mapping stays, so the next command faults in zeroed
 * pages; callers make sure nothing in either arena is still live.
 */
static void session_mem_release(struct imap_session *s)
{
	if (s->parena_mem != NULL)
		(void)madvise(s->parena_mem, s->mem_len, MADV_DONTNEED);
}

int imap_session_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct imap_mod *mod = ctx;
	const struct rmail_core *core = mod->core;
	const struct imap_conf *cf = imap_conf(mod);
	struct imap_session *s;
	size_t plen;
	char caps[512];
	void *mem;

	s = core->pcalloc(core->conn_pool(c), sizeof(*s));
	s->mod = mod;
	s->c = c;
	s->state = IMAP_S_NOAUTH;
	s->tls = core->conn_is_tls(c) != 0;
	s->login_deadline = core->now() + cf->login_timeout;
	s->mem_len = session_mem_size(cf, &plen);
	mem = mmap(NULL, s->mem_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	s->parena_mem = mem;
	s->arena_mem = (char *)mem + plen;
	imap_arena_init(&s->parena, s->parena_mem, (size_t)cf->max_command);
	imap_arena_init(&s->arena, s->arena_mem, SCRATCH_SIZE);
	imap_parser_init(&s->parser, &s->parena,
			 &(struct imap_parser_limits){.max_line = 1024,
						      .max_literal = 0,
						      .max_literals = 1,
						      .max_depth = 1});
	imap_set_limits(s);
	*session_r = s;
	imap_capability_list(s, caps, sizeof(caps));
	imap_printf(s, "* OK [CAPABILITY %s] rmail ready\r\n", caps);
	return 0;
}

static void session_cleanup(struct imap_session *s)
{
	imap_fetch_free(s);
	imap_append_abort(s);
	imap_view_unselect(s);
	imap_z_free(s);
	if (s->parena_mem != NULL)
		munmap(s->parena_mem, s->mem_len);
	s->parena_mem = s->arena_mem = NULL;
}

void imap_async_begin(struct imap_session *s, const char *tag)
{
	snprintf(s->tag, sizeof(s->tag), "%s", tag != NULL ? tag : "*");
	s->busy = true;
	/* conn_suspend exists: the descriptor declares ABI 1.2 */
	s->mod->core->conn_suspend(s->c);
}

void imap_async_end(struct imap_session *s)
{
	s->busy = false;
	/* s->fetch is NULL here: a FETCH is freed before it ends */
	if (s->closing) {
		session_cleanup(s);
	} else {
		imap_z_flush(s);
		imap_z_kick(s);
	}
	s->mod->core->conn_resume(s->c);
}

/* ---- dispatch --------------------------------------------------- */

enum { ANY = 0, NOAUTH = 1, AUTH = 2, SEL = 3 };

struct imap_cmd_def {
	const char *name;
	int need;
	imap_cmd_fn *fn;
	bool uid_ok;
};

static const struct imap_cmd_def cmds[] = {
	{"CAPABILITY", ANY, imap_cmd_capability, false},
	{"NOOP", ANY, imap_cmd_noop, false},
	{"LOGOUT", ANY, imap_cmd_logout, false},
	{"ID", ANY, imap_cmd_id, false},
	{"STARTTLS", NOAUTH, imap_cmd_starttls, false},
	{"LOGIN", NOAUTH, imap_cmd_login, false},
	{"AUTHENTICATE", NOAUTH, imap_cmd_authenticate, false},
	{"ENABLE", AUTH, imap_cmd_enable, false},
	{"NAMESPACE", AUTH, imap_cmd_namespace, false},
	{"GETQUOTA", AUTH, imap_cmd_getquota, false},
	{"GETQUOTAROOT", AUTH, imap_cmd_getquotaroot, false},
	{"SETQUOTA", AUTH, imap_cmd_setquota, false},
	{"SELECT", AUTH, imap_cmd_select, false},
	{"EXAMINE", AUTH, imap_cmd_examine, false},
	{"CREATE", AUTH, imap_cmd_create, false},
	{"DELETE", AUTH, imap_cmd_delete, false},
	{"RENAME", AUTH, imap_cmd_rename, false},
	{"SUBSCRIBE", AUTH, imap_cmd_subscribe, false},
	{"UNSUBSCRIBE", AUTH, imap_cmd_unsubscribe, false},
	{"LIST", AUTH, imap_cmd_list, false},
	{"LSUB", AUTH, imap_cmd_lsub, false},
	{"STATUS", AUTH, imap_cmd_status, false},
	{"APPEND", AUTH, imap_cmd_append, false},
	{"IDLE", AUTH, imap_cmd_idle, false},
	{"CHECK", SEL, imap_cmd_check, false},
	{"CLOSE", SEL, imap_cmd_close, false},
	{"UNSELECT", SEL, imap_cmd_unselect, false},
	{"COMPRESS", AUTH, imap_cmd_compress, false},
	{"EXPUNGE", SEL, imap_cmd_expunge, true},
	{"SEARCH", SEL, imap_cmd_search, true},
	{"FETCH", SEL, imap_cmd_fetch, true},
	{"STORE", SEL, imap_cmd_store, true},
	{"COPY", SEL, imap_cmd_copy, true},
	{"MOVE", SEL, imap_cmd_move, true},
	{"SORT", SEL, imap_cmd_sort, true},
	{"THREAD", SEL, imap_cmd_thread, true},
	{"GETMETADATA", AUTH, imap_cmd_getmetadata, false},
	{"SETMETADATA", AUTH, imap_cmd_setmetadata, false},
};

static void dispatch(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_cmd_def *d = NULL;
	const char *name = cmd->name;
	bool uid = false;
	size_t i;

	imap_arena_reset(&s->arena);
	if (strcasecmp(name, "UID") == 0) {
		if (cmd->args == NULL || cmd->args->type != IMAP_ARG_ATOM) {
			imap_tagged(s, cmd->tag, false,
				    "BAD UID needs a command");
			return;
		}
		name = cmd->args->str;
		cmd->args = cmd->args->next;
		cmd->nargs--;
		uid = true;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcasecmp(cmds[i].name, name) == 0) {
			d = &cmds[i];
			break;
		}
	}
	if (d == NULL || (uid && !d->uid_ok)) {
		imap_tagged(s, cmd->tag, false, "BAD Unknown command");
		return;
	}
	if (d->need == NOAUTH && s->state != IMAP_S_NOAUTH) {
		imap_tagged(s, cmd->tag, false, "BAD Already authenticated");
		return;
	}
	if ((d->need == AUTH && s->state < IMAP_S_AUTH) ||
	    (d->need == SEL && s->state != IMAP_S_SELECTED)) {
		imap_tagged(s, cmd->tag, false, "BAD %s",
			    s->state == IMAP_S_NOAUTH
				    ? "Log in first"
				    : "Select a mailbox first");
		return;
	}
	d->fn(s, cmd, uid);
}

/* a raw line (SASL response, DONE): 1 handled, 0 need more, -1 close */
static int raw_line(struct imap_session *s)
{
	const char *d, *nl;
	size_t len, n;

	len = imap_in_peek(s, &d);
	nl = memchr(d, '\n', len);
	if (nl == NULL) {
		if (imap_in_broken(s))
			return -1;
		if (len >= imap_conf(s->mod)->max_line ||
		    len >= imap_in_cap(s)) {
			imap_printf(s, "* BYE Line too long\r\n");
			return -1;
		}
		return 0;
	}
	n = (size_t)(nl - d);
	if (n > 0 && d[n - 1] == '\r')
		n--;
	if (s->mode == IMAP_M_SASL) {
		char line[1024];

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, d, n);
		line[n] = '\0';
		imap_in_consume(s, (size_t)(nl - d) + 1);
		imap_sasl_line(s, line, n);
	} else {
		char line[16];
		size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

		memcpy(line, d, k);
		line[k] = '\0';
		imap_in_consume(s, (size_t)(nl - d) + 1);
		imap_idle_line(s, line, n);
	}
	return 1;
}

static int session_input(struct rmail_conn *c, void *session)
{
	struct imap_session *s = session;
	const struct rmail_core *core = s->mod->core;
	const char *d;
	size_t len, used;
	int rc;

	while (!s->busy && !s->closing && s->fetch == NULL &&
	       !core->conn_closed(c)) {
		if (s->state == IMAP_S_LOGOUT)
			return RMAIL_CLOSE;
		if (s->mode != IMAP_M_CMD) {
			rc = raw_line(s);
			if (rc < 0)
				return RMAIL_CLOSE;
			if (rc == 0)
				return RMAIL_OK;
			continue;
		}
		len = imap_in_peek(s, &d);
		if (len == 0)
			return imap_in_broken(s) ? RMAIL_CLOSE : RMAIL_OK;
		rc = imap_parse(&s->parser, d, len, &used);
		imap_in_consume(s, used);
		switch (rc) {
		case IMAP_PARSE_AGAIN:
			return RMAIL_OK;
		case IMAP_PARSE_OK:
			if (s->append != NULL)
				imap_append_done(s, &s->parser.cmd);
			else
				dispatch(s, &s->parser.cmd);
			/*
			 * IDLE is synchronous and leaves nothing in the
			 * arenas (its tag is copied; DONE is read raw),
			 * and the parser resets its arena at the next
			 * command: a session resting in IDLE can drop
			 * the pages its earlier commands dirtied.
			 */
			if (s->mode == IMAP_M_IDLE && !s->busy &&
			    s->fetch == NULL && s->append == NULL)
				session_mem_release(s);
			break;
		case IMAP_PARSE_BAD:
			imap_append_abort(s);
			imap_tagged(s, s->parser.cmd.tag, false, "BAD %s",
				    s->parser.error);
			break;
		case IMAP_PARSE_TOOBIG:
			imap_append_abort(s);
			imap_tagged(s, s->parser.cmd.tag, false,
				    "NO [TOOBIG] %s", s->parser.error);
			break;
		case IMAP_PARSE_CLOSE:
			imap_append_abort(s);
			imap_printf(s, "%s BAD %s\r\n",
				    s->parser.cmd.tag != NULL
					    ? s->parser.cmd.tag
					    : "*",
				    s->parser.error);
			imap_printf(s, "* BYE Protocol error\r\n");
			return RMAIL_CLOSE;
		case IMAP_PARSE_NEED_CONTINUATION:
			if (s->parser.literal_streamed) {
				if (imap_append_literal(s, true) < 0)
					return RMAIL_CLOSE;
				break;
			}
			imap_printf(s, "+ OK\r\n");
			imap_parser_literal_accept(&s->parser);
			break;
		case IMAP_PARSE_LITERAL_CHUNK:
			if (imap_append_chunk(s, s->parser.chunk,
					      s->parser.chunk_len) < 0)
				return RMAIL_CLOSE;
			break;
		default:
			return RMAIL_CLOSE;
		}
	}
	if (s->state == IMAP_S_LOGOUT)
		return RMAIL_CLOSE;
	return RMAIL_OK;
}

/* Before login the core's idle timer, restarted by every byte, is not
 * enough: a client trickling bytes would hold the connection forever.
 * Re-arm it with what is left of login_timeout when that is sooner. */
static void prelogin_deadline(struct imap_session *s)
{
	const struct imap_conf *cf = imap_conf(s->mod);
	double left;

	if (s->state >= IMAP_S_AUTH || s->closing || cf->login_timeout <= 0)
		return;
	left = s->login_deadline - s->mod->core->now();
	if (left < cf->idle_timeout_preauth)
		s->mod->core->conn_set_timeout(s->c,
					       left > 0.001 ? left : 0.001);
}

int imap_session_input(void *ctx, struct rmail_conn *c, void *session)
{
	int rc;

	(void)ctx;
	rc = session_input(c, session);

	if (rc == RMAIL_OK)
		prelogin_deadline(session);
	/* one sync flush per reply batch: the client reads it whole */
	imap_z_flush(session);
	imap_in_idle(session);
	return rc;
}

void imap_session_drain(void *ctx, struct rmail_conn *c, void *session)
{
	struct imap_session *s = session;

	(void)ctx;
	(void)c;
	if (s->fetch != NULL && !s->closing)
		imap_fetch_continue(s);
	imap_z_flush(s);
}

void imap_session_tls_ready(void *ctx, struct rmail_conn *c, void *session)
{
	struct imap_session *s = session;

	(void)ctx;
	(void)c;
	/* RFC 3501 6.2.1: forget everything learnt in cleartext */
	s->tls = true;
	s->state = IMAP_S_NOAUTH;
	s->mode = IMAP_M_CMD;
}

void imap_session_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	const struct imap_mod *mod = ctx;
	struct imap_session *s = session;

	if (s != NULL && s->z != NULL) {
		imap_printf(s, "* BYE Autologout; idle for too long\r\n");
		imap_z_flush(s);
		return;
	}
	mod->core->conn_printf(c, "* BYE Autologout; idle for too long\r\n");
}

void imap_session_close(void *ctx, struct rmail_conn *c, void *session,
			int reason)
{
	struct imap_session *s = session;

	(void)ctx;
	(void)c;
	(void)reason;
	if (s == NULL || s->closing)
		return;
	s->closing = true;
	if (s->search_work != NULL)
		s->mod->core->work_cancel(s->search_work);
	if (s->fetch != NULL) {
		/* no on_drain will come to finish it */
		imap_fetch_free(s);
		imap_async_end(s);
	} else if (!s->busy) {
		session_cleanup(s);
	}
}

/* ---- helpers ---------------------------------------------------- */

void imap_write_astring(struct imap_session *s, const char *str)
{
	size_t i, n = strlen(str);
	bool lit = false, eight = false;
	const char *why;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)str[i];

		if (ch == '\r' || ch == '\n' || ch == 0)
			lit = true;
		eight |= ch >= 0x80;
	}
	/* RFC 6855 3: UTF-8 in quoted strings once enabled */
	if (eight && (!imap_utf8_names(s) || mutf7_utf8_name(str, n, &why) < 0))
		lit = true;
	if (lit || n > 1000) {
		imap_printf(s, "{%zu}\r\n", n);
		imap_write(s, str, n);
		return;
	}
	imap_write(s, "\"", 1);
	for (i = 0; i < n; i++) {
		if (str[i] == '"' || str[i] == '\\')
			imap_write(s, "\\", 1);
		imap_write(s, str + i, 1);
	}
	imap_write(s, "\"", 1);
}

static int name_utf8(const char *in, size_t len, char *out, size_t size,
		     size_t *len_r, const char **why_r)
{
	if (mutf7_utf8_name(in, len, why_r) < 0)
		return -1;
	if (len >= size) {
		*why_r = "Name too long";
		return -1;
	}
	memcpy(out, in, len);
	out[len] = '\0';
	*len_r = len;
	return 0;
}

int imap_mbox_wire(const struct imap_session *s, const char *name, char *out,
		   size_t size)
{
	const char *why;
	size_t len = strlen(name);

	if (imap_utf8_names(s))
		return name_utf8(name, len, out, size, &len, &why);
	return mutf7_encode(name, len, out, size, &len, &why);
}

const char *imap_mbox_arg(struct imap_session *s, const char *tag,
			  const struct imap_arg *a)
{
	const char *why = NULL;
	char buf[RMAIL_MBOX_NAME_MAX * 4 + 1], *out;
	size_t len;

	if (a == NULL || !imap_arg_is_astring(a)) {
		if (tag != NULL)
			imap_tagged(s, tag, false, "BAD Mailbox name expected");
		return NULL;
	}
	if (strcasecmp(a->str, "INBOX") == 0)
		return "INBOX";
	/* decode on the stack: only the result touches the arena.  After
	 * ENABLE UTF8=ACCEPT the name is UTF-8 as sent: "&" is itself */
	if (a->len == 0 || strlen(a->str) != a->len ||
	    (imap_utf8_names(s)
		     ? name_utf8(a->str, a->len, buf, sizeof(buf), &len, &why)
		     : mutf7_decode(a->str, a->len, buf, sizeof(buf), &len,
				    &why)) < 0 ||
	    (out = imap_arena_alloc(&s->arena, len + 1)) == NULL) {
		if (tag != NULL)
			imap_tagged(s, tag, false,
				    "NO Invalid mailbox name%s%s",
				    why != NULL ? ": " : "",
				    why != NULL ? why : "");
		return NULL;
	}
	memcpy(out, buf, len + 1);
	/* "a/b/" names a/b (RFC 3501 6.3.3) */
	if (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	if (len > RMAIL_MBOX_NAME_MAX || out[0] == '/' || out[len - 1] == '/' ||
	    strstr(out, "//") != NULL) {
		if (tag != NULL)
			imap_tagged(s, tag, false, "NO Invalid mailbox name");
		return NULL;
	}
	if (strncasecmp(out, "INBOX/", 6) == 0)
		memcpy(out, "INBOX", 5);
	return out;
}

size_t imap_put_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* one write per message: FETCH 1:* (FLAGS) is 100K of these */
void imap_write_flags(struct imap_session *s, const struct rmail_msg *m)
{
	static const struct {
		uint32_t f;
		const char *n;
		size_t len;
	} sys[] = {
		{RMAIL_F_ANSWERED, "\\Answered", 9},
		{RMAIL_F_FLAGGED, "\\Flagged", 8},
		{RMAIL_F_DELETED, "\\Deleted", 8},
		{RMAIL_F_SEEN, "\\Seen", 5},
		{RMAIL_F_DRAFT, "\\Draft", 6},
	};
	const char *const *kw = NULL;
	size_t nkw = 0, i, len = 7, kl;
	char buf[64 + 64 * 80];

	memcpy(buf, "FLAGS (", 7);
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (!(m->flags & sys[i].f))
			continue;
		if (len > 7)
			buf[len++] = ' ';
		memcpy(buf + len, sys[i].n, sys[i].len);
		len += sys[i].len;
	}
	if (s->tr != NULL && !s->rev2 && imap_uids_has(&s->recent, m->uid)) {
		if (len > 7)
			buf[len++] = ' ';
		memcpy(buf + len, "\\Recent", 7);
		len += 7;
	}
	if (m->keywords != 0 && s->tr != NULL)
		nkw = imap_store(s->mod, NULL)->mbox_keywords(s->tr->mb, &kw);
	/* only keywords * FLAGS announced (RFC 3501 7.2.6): a newer one
	 * shows once the next command has announced it */
	if (s->tr != NULL && nkw > s->nkw)
		nkw = s->nkw;
	for (i = 0; i < nkw && i < 64; i++) {
		if (!(m->keywords & (1ull << i)))
			continue;
		kl = strlen(kw[i]);
		if (kl > 78)
			continue; /* the store caps keywords far below */
		if (len > 7)
			buf[len++] = ' ';
		memcpy(buf + len, kw[i], kl);
		len += kl;
	}
	buf[len++] = ')';
	imap_write(s, buf, len);
}
