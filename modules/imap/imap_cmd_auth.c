/*
 * Connection-level commands: CAPABILITY, NOOP, LOGOUT, ID, ENABLE,
 * NAMESPACE, STARTTLS, LOGIN and AUTHENTICATE PLAIN (SASL-IR).  Logins
 * are refused on cleartext (LOGINDISABLED) unless the peer is loopback
 * and imap.allow_cleartext_login_loopback says so.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_session.h"

void imap_cmd_capability(struct imap_session *s, const struct imap_cmd *cmd,
			 bool uid)
{
	char caps[512];

	(void)uid;
	imap_capability_list(s, caps, sizeof(caps));
	imap_printf(s, "* CAPABILITY %s\r\n", caps);
	imap_tagged(s, cmd->tag, true, "OK CAPABILITY completed");
}

void imap_cmd_noop(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	(void)uid;
	imap_view_poll(s);
	imap_tagged(s, cmd->tag, true, "OK %s completed", cmd->name);
}

void imap_cmd_logout(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	(void)uid;
	imap_printf(s, "* BYE Logging out\r\n");
	imap_printf(s, "%s OK LOGOUT completed\r\n", cmd->tag);
	s->state = IMAP_S_LOGOUT;
}

void imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	(void)uid;
	imap_printf(s, "* ID (\"name\" \"rmail\" \"version\" \"1.0\")\r\n");
	imap_tagged(s, cmd->tag, true, "OK ID completed");
}

void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const struct imap_arg *a;
	bool cs = false, qr = false, u8 = false, r2 = false;

	(void)uid;
	/* unknown names are ignored (RFC 5161); ENABLED lists what this
	 * command turned on */
	for (a = cmd->args; a != NULL; a = a->next) {
		if (imap_arg_atom_eq(a, "UTF8=ACCEPT") && !s->utf8)
			u8 = true;
		if (imap_arg_atom_eq(a, "IMAP4rev2") && !s->rev2)
			r2 = true;
		if (!imap_condstore_supported(s->mod))
			continue;
		if (imap_arg_atom_eq(a, "CONDSTORE") && !s->condstore)
			cs = true;
		else if (imap_arg_atom_eq(a, "QRESYNC") && !s->qresync)
			qr = true;
	}
	imap_printf(s, "* ENABLED%s%s%s%s\r\n", cs ? " CONDSTORE" : "",
		    qr ? " QRESYNC" : "", u8 ? " UTF8=ACCEPT" : "",
		    r2 ? " IMAP4rev2" : "");
	if (u8)
		s->utf8 = true;
	if (r2)
		s->rev2 = true;
	if (qr)
		s->qresync = true;
	/* QRESYNC implies CONDSTORE, listed or not (RFC 7162 3.2.3) */
	if (cs || qr)
		imap_condstore_enable(s);
	imap_tagged(s, cmd->tag, true, "OK ENABLE completed");
}

void imap_cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd,
			bool uid)
{
	(void)uid;
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_tagged(s, cmd->tag, true, "OK NAMESPACE completed");
}

void imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd,
		       bool uid)
{
	struct rmail_err err;

	(void)uid;
	if (s->tls) {
		imap_tagged(s, cmd->tag, false, "BAD TLS already active");
		return;
	}
	if (s->mod->core->conn_starttls(s->c, &err) < 0) {
		/* input behind STARTTLS would run after the handshake as
		 * if it came encrypted: never let it (CVE-2011-0411) */
		imap_printf(s, "%s BAD %s\r\n", cmd->tag, err.msg);
		if (err.code == RMAIL_E_INVAL) {
			imap_printf(s, "* BYE Pipelined STARTTLS\r\n");
			s->state = IMAP_S_LOGOUT;
		}
		return;
	}
	imap_printf(s, "%s OK Begin TLS negotiation now\r\n", cmd->tag);
}

/* ---- login ------------------------------------------------------ */

struct login_ctx {
	struct imap_session *s;
	bool sasl;
};

static void login_done(void *arg, const struct rmail_auth_result *r)
{
	struct imap_session *s = arg;
	char caps[512];

	if (s->closing || s->mod->core->conn_closed(s->c)) {
		imap_async_end(s);
		return;
	}
	if (r->ok) {
		snprintf(s->user, sizeof(s->user), "%s", r->user.address);
		s->state = IMAP_S_AUTH;
		imap_set_limits(s);
		s->mod->core->conn_set_timeout(s->c,
					       imap_conf(s->mod)->idle_timeout);
		imap_capability_list(s, caps, sizeof(caps));
		imap_printf(s, "%s OK [CAPABILITY %s] Logged in\r\n", s->tag,
			    caps);
		imap_async_end(s);
		return;
	}
	/* the store could not look: never "authentication failed", and
	 * not a failure that counts toward the disconnect; the core's
	 * budget refusing (RMAIL_E_PERM) still counts */
	if (r->code == RMAIL_E_AUTH || r->code == RMAIL_E_DISABLED ||
	    r->code == RMAIL_E_PERM)
		s->auth_failures++;
	if (r->code == RMAIL_E_PERM) /* the core's failure budget */
		imap_printf(s,
			    "%s NO [UNAVAILABLE] Too many failed logins, "
			    "try again later\r\n",
			    s->tag);
	else if (r->code != RMAIL_E_AUTH && r->code != RMAIL_E_DISABLED)
		imap_printf(s, "%s NO [UNAVAILABLE] Try again later\r\n",
			    s->tag);
	else
		imap_printf(s,
			    "%s NO [AUTHENTICATIONFAILED] "
			    "Authentication failed\r\n",
			    s->tag);
	if (s->auth_failures >=
	    (unsigned)imap_conf(s->mod)->auth_fail_disconnect) {
		imap_printf(s, "* BYE Too many authentication failures\r\n");
		s->state = IMAP_S_LOGOUT;
		s->mod->core->conn_close(s->c);
	}
	imap_async_end(s);
}

static void start_login(struct imap_session *s, const char *tag,
			const char *user, const char *pass)
{
	imap_async_begin(s, tag);
	s->mod->core->auth_login(user, pass, "imap",
				 s->mod->core->conn_peer_ip(s->c), login_done,
				 s);
}

static bool login_allowed(struct imap_session *s, const char *tag)
{
	if (!imap_cleartext_blocked(s))
		return true;
	imap_tagged(s, tag, false,
		    "NO [PRIVACYREQUIRED] Use STARTTLS "
		    "before logging in");
	return false;
}

void imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	const struct imap_arg *u = cmd->args;
	const struct imap_arg *p = u != NULL ? u->next : NULL;

	(void)uid;
	if (!login_allowed(s, cmd->tag))
		return;
	if (!imap_arg_is_astring(u) || !imap_arg_is_astring(p) ||
	    p->next != NULL) {
		imap_tagged(s, cmd->tag, false, "BAD LOGIN user password");
		return;
	}
	start_login(s, cmd->tag, u->str, p->str);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd */
static void sasl_plain(struct imap_session *s, const char *tag, const char *b64,
		       size_t len)
{
	const struct rmail_core *core = s->mod->core;
	char buf[1024];
	size_t n;
	const char *authz, *authc, *pass, *end;

	if (core->base64_decode(b64, len, buf, sizeof(buf) - 1, &n) < 0) {
		core->auth_log_failure("imap", "", core->conn_peer_ip(s->c),
				       "bad base64");
		imap_printf(s, "%s BAD Invalid base64\r\n", tag);
		return;
	}
	buf[n] = '\0';
	end = buf + n;
	authz = buf;
	authc = memchr(authz, '\0', n);
	pass = authc != NULL
		       ? memchr(authc + 1, '\0', (size_t)(end - authc - 1))
		       : NULL;
	if (authc == NULL || pass == NULL ||
	    memchr(pass + 1, '\0', (size_t)(end - pass - 1)) != NULL) {
		core->auth_log_failure("imap", "", core->conn_peer_ip(s->c),
				       "bad SASL PLAIN syntax");
		imap_printf(s, "%s BAD Invalid SASL PLAIN response\r\n", tag);
		return;
	}
	authc++;
	pass++;
	if (authz[0] != '\0' && strcasecmp(authz, authc) != 0) {
		core->auth_log_failure("imap", authc, core->conn_peer_ip(s->c),
				       "authorization identity refused");
		imap_printf(s,
			    "%s NO [AUTHORIZATIONFAILED] Cannot act as "
			    "another user\r\n",
			    tag);
		return;
	}
	start_login(s, tag, authc, pass);
	core->secure_zero(buf, sizeof(buf));
}

void imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd,
			   bool uid)
{
	const struct imap_arg *mech = cmd->args;
	const struct imap_arg *ir = mech != NULL ? mech->next : NULL;

	(void)uid;
	if (!login_allowed(s, cmd->tag))
		return;
	if (mech == NULL || mech->type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, false, "BAD AUTHENTICATE mechanism");
		return;
	}
	if (strcasecmp(mech->str, "PLAIN") != 0) {
		imap_tagged(s, cmd->tag, false,
			    "NO Unsupported authentication mechanism");
		return;
	}
	if (ir != NULL) {
		if (ir->type != IMAP_ARG_ATOM || ir->next != NULL) {
			imap_tagged(s, cmd->tag, false,
				    "BAD Invalid initial response");
			return;
		}
		/* "=" is the empty initial response (RFC 4959) */
		sasl_plain(s, cmd->tag, ir->str,
			   strcmp(ir->str, "=") == 0 ? 0 : ir->len);
		return;
	}
	snprintf(s->tag, sizeof(s->tag), "%s", cmd->tag);
	s->mode = IMAP_M_SASL;
	imap_printf(s, "+ \r\n");
}

void imap_sasl_line(struct imap_session *s, const char *line, size_t len)
{
	char tag[sizeof(s->tag)];

	s->mode = IMAP_M_CMD;
	memcpy(tag, s->tag, sizeof(tag));
	if (len == 1 && line[0] == '*') {
		imap_printf(s, "%s BAD Authentication cancelled\r\n", tag);
		return;
	}
	sasl_plain(s, tag, line, len);
}
