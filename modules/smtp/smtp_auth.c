/*
 * AUTH PLAIN and LOGIN (RFC 4954, 4616), only under TLS.  Passwords go
 * to the core's auth_login, which verifies on the hash workers, delays
 * failures by the client's recent failure count and logs the
 * event=auth_failed line; SASL syntax errors never reach it, so they
 * are logged here through auth_log_failure.  Secrets are wiped.
 */
#include <string.h>

#include "smtp_session.h"

#define SASL_MAX 1024

static void auth_done(void *arg, const struct rmail_auth_result *r)
{
	struct smtp_session *s = arg;

	if (s->mod->core->conn_closed(s->c)) {
		smtp_resume(s);
		return;
	}
	if (r->ok) {
		s->authed = 1;
		snprintf(s->user, sizeof(s->user), "%s", r->user.address);
		s->mod->core->conn_log(s->c, RMAIL_LOG_DEBUG, "AUTH ok user=%s",
				       s->user);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
	} else if (r->code == RMAIL_E_PERM) {
		/* the core's failure budget: refused without a check */
		smtp_reject_metric(s, "auth_rate");
		smtp_reply(s, 454, "4.7.0",
			   "Too many failed authentications, "
			   "try again later");
	} else if (r->code != RMAIL_E_AUTH && r->code != RMAIL_E_DISABLED) {
		/* the store could not look: never "invalid credentials" */
		smtp_reject_metric(s, "auth");
		smtp_reply(s, 454, "4.7.0",
			   "Temporary authentication "
			   "failure, try again later");
	} else {
		if (smtp_error(s, "auth", 535, "5.7.8",
			       "Authentication "
			       "credentials invalid"))
			s->closing = 1;
	}
	smtp_resume(s);
}

static void login(struct smtp_session *s, const char *user,
		  const char *password)
{
	smtp_suspend(s);
	s->mod->core->auth_login(user, password, "smtp",
				 s->mod->core->conn_peer_ip(s->c), auth_done,
				 s);
}

/* a SASL exchange the client got wrong: 501, logged like a failure */
static int sasl_error(struct smtp_session *s, const char *user, const char *why)
{
	s->phase = SMTP_PH_CMD;
	s->mod->core->auth_log_failure("smtp", user != NULL ? user : "",
				       s->mod->core->conn_peer_ip(s->c), why);
	return smtp_error(s, "auth", 501, "5.5.2", "Error: %s", why);
}

static int decode(struct smtp_session *s, const char *in, size_t n, char *out,
		  size_t *len_r)
{
	if (n == 1 && in[0] == '=') {
		*len_r = 0;
		return 0;
	}
	if (s->mod->core->base64_decode(in, n, out, SASL_MAX, len_r) < 0 ||
	    memchr(out, '\0', *len_r) != NULL)
		return -1;
	out[*len_r] = '\0';
	return 0;
}

/* authzid NUL authcid NUL passwd */
static int plain(struct smtp_session *s, const char *b64, size_t n)
{
	char buf[SASL_MAX + 1];
	const char *authz, *authc, *pw, *end;
	size_t len;
	int r;

	if (n == 1 && b64[0] == '=')
		return sasl_error(s, NULL, "empty PLAIN response");
	if (s->mod->core->base64_decode(b64, n, buf, SASL_MAX, &len) < 0)
		return sasl_error(s, NULL, "malformed base64");
	buf[len] = '\0';
	end = buf + len;
	authz = buf;
	authc = memchr(authz, '\0', len);
	pw = authc != NULL ? memchr(authc + 1, '\0', (size_t)(end - authc - 1))
			   : NULL;
	if (authc == NULL || pw == NULL ||
	    memchr(pw + 1, '\0', (size_t)(end - pw - 1))) {
		s->mod->core->secure_zero(buf, sizeof(buf));
		return sasl_error(s, NULL, "malformed PLAIN response");
	}
	authc++;
	pw++;
	if (authz[0] != '\0' && strcasecmp(authz, authc) != 0) {
		r = sasl_error(s, authc, "authorization identity differs");
		s->mod->core->secure_zero(buf, sizeof(buf));
		return r;
	}
	login(s, authc, pw);
	s->mod->core->secure_zero(buf, sizeof(buf));
	return 0;
}

int smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct smtp_conf *cf = smtp_cf(s);
	const char *ip = s->mod->core->conn_peer_ip(s->c);
	char buf[SASL_MAX + 1];
	size_t len;

	if (s->helo == NULL || !s->esmtp)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: send EHLO first");
	if (s->authed)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: already authenticated");
	if (s->has_mail)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: AUTH inside a transaction");
	if (!s->mod->core->conn_is_tls(s->c))
		return smtp_error(s, "auth_cleartext", 538, "5.7.11",
				  "Encryption required for requested "
				  "authentication mechanism");
	if (s->mod->core->auth_failures(ip) >=
	    (uint32_t)cf->max_auth_failures) {
		s->mod->core->auth_log_failure("smtp", "", ip, "rate_limited");
		smtp_reject_metric(s, "auth_rate");
		smtp_reply(s, 454, "4.7.0",
			   "Too many failed authentications "
			   "from your address, try again later");
		s->errors++;
		return 0;
	}
	if (cmd->mech.len == 5 && strncasecmp(cmd->mech.p, "PLAIN", 5) == 0) {
		if (cmd->has_initial)
			return plain(s, cmd->initial.p, cmd->initial.len);
		s->phase = SMTP_PH_AUTH_PLAIN;
		smtp_reply(s, 334, NULL, "%s", "");
		return 0;
	}
	if (cmd->mech.len == 5 && strncasecmp(cmd->mech.p, "LOGIN", 5) == 0) {
		if (cmd->has_initial) {
			if (decode(s, cmd->initial.p, cmd->initial.len, buf,
				   &len) < 0)
				return sasl_error(s, NULL, "malformed base64");
			s->login_user = s->mod->core->pstrdup(s->tx, buf);
			s->phase = SMTP_PH_AUTH_PASS;
			smtp_reply(s, 334, NULL, "UGFzc3dvcmQ6");
			return 0;
		}
		s->phase = SMTP_PH_AUTH_USER;
		smtp_reply(s, 334, NULL, "VXNlcm5hbWU6");
		return 0;
	}
	return smtp_error(s, "auth", 504, "5.5.4",
			  "Error: unsupported "
			  "authentication mechanism");
}

int smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	char buf[SASL_MAX + 1];
	size_t n;
	int r;

	if (len == 1 && line[0] == '*') {
		s->phase = SMTP_PH_CMD;
		return smtp_error(s, "auth", 501, "5.0.0",
				  "Authentication cancelled")
			       ? -1
			       : 0;
	}
	switch (s->phase) {
	case SMTP_PH_AUTH_PLAIN:
		r = plain(s, line, len);
		return r ? -1 : 0;
	case SMTP_PH_AUTH_USER:
		if (decode(s, line, len, buf, &n) < 0)
			return sasl_error(s, NULL, "malformed base64") ? -1 : 0;
		s->login_user = s->mod->core->pstrdup(s->tx, buf);
		s->phase = SMTP_PH_AUTH_PASS;
		smtp_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		return 0;
	case SMTP_PH_AUTH_PASS:
		if (decode(s, line, len, buf, &n) < 0) {
			r = sasl_error(s, s->login_user, "malformed base64");
			return r ? -1 : 0;
		}
		login(s, s->login_user != NULL ? s->login_user : "", buf);
		s->mod->core->secure_zero(buf, sizeof(buf));
		return 0;
	default:
		return 0;
	}
}
