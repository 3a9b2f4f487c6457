/*
 * Envelope and header policy: message rate limits, sender ownership for
 * authenticated users (MAIL FROM; the From: header is the submission
 * service's), recipients
 * through the core's rcpt_policy, and postmaster@ every local domain.
 * Relay rules come from the core and apply to exempt networks too.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_session.h"

static const struct rmail_store_ops *store(const struct smtp_mod *mod,
					   void **h_r)
{
	return mod->core->store != NULL ? mod->core->store(h_r) : NULL;
}

static void first_admin(void *arg, const struct rmail_user *u)
{
	char *out = arg;

	if (out[0] == '\0' && u->admin && !u->disabled)
		snprintf(out, RMAIL_ADDR_MAX + 1, "%s", u->address);
}

void smtp_postmaster_resolve(struct smtp_mod *mod)
{
	const struct smtp_conf *cf = mod->m->conf;
	const struct rmail_store_ops *ops;
	struct rmail_err err = {0};
	void *h = NULL;

	mod->postmaster[0] = '\0';
	if (cf->postmaster != NULL && cf->postmaster[0] != '\0') {
		snprintf(mod->postmaster, sizeof(mod->postmaster), "%s",
			 cf->postmaster);
		return;
	}
	ops = store(mod, &h);
	if (ops == NULL || ops->user_list == NULL)
		return;
	if (ops->user_list(h, NULL, first_admin, mod->postmaster, &err) < 0)
		mod->core->log(mod->m, RMAIL_LOG_WARN,
			       "postmaster: cannot "
			       "list users: %s",
			       err.msg);
	else if (mod->postmaster[0] == '\0')
		mod->core->log(mod->m, RMAIL_LOG_WARN,
			       "postmaster: no admin "
			       "user and smtp.postmaster unset");
}

/* 1 owned, 0 not, -1 the store cannot tell now (reply 451) */
static int owns(struct smtp_session *s, const char *user, const char *addr)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err = {0};
	void *h = NULL;
	int rc;

	ops = store(s->mod, &h);
	if (ops == NULL)
		return -1;
	if (RMAIL_HAS(ops, struct rmail_store_ops, owns_address_try) &&
	    ops->owns_address_try != NULL) {
		rc = ops->owns_address_try(h, user, addr, &err);
		if (rc < 0)
			s->mod->core->log(s->mod->m, RMAIL_LOG_WARN,
					  "owner of %s: %s", addr, err.msg);
		return rc;
	}
	return ops->owns_address != NULL &&
	       ops->owns_address(h, user, addr) == 1;
}

/* 1 local, 0 not, -1 cannot tell */
static int domain_local(const struct rmail_store_ops *ops, void *h,
			const char *dom)
{
	if (ops == NULL)
		return -1;
	if (RMAIL_HAS(ops, struct rmail_store_ops, domain_local_try) &&
	    ops->domain_local_try != NULL)
		return ops->domain_local_try(h, dom, NULL);
	return ops->domain_is_local(h, dom) ? 1 : 0;
}

static void tempfail(struct smtp_session *s, const char *what)
{
	smtp_reject_metric(s, "tempfail");
	smtp_reply(s, 451, "4.3.0",
		   "%s: temporary lookup failure, "
		   "try again later",
		   what);
}

static int rate_ok(struct smtp_session *s, const char *bucket, const char *key,
		   int64_t limit, const char *who)
{
	double retry = 0;

	if (s->mod->core->rate_hit(bucket, key, (uint32_t)limit,
				   smtp_cf(s)->message_window, &retry))
		return 1;
	s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
			       "message rate limit of %s %s", who, key);
	smtp_reject_metric(s, "rate");
	smtp_reply(s, 450, "4.7.1",
		   "Error: too many messages from this %s, "
		   "try again in %.0f seconds",
		   who, retry > 1 ? retry : 1);
	return 0;
}

int smtp_policy_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct smtp_conf *cf = smtp_cf(s);
	const char *ip = s->mod->core->conn_peer_ip(s->c);
	char from[RMAIL_ADDR_MAX + 1];
	int own = 0;

	if (cmd->has_size && cf->max_message_size > 0 &&
	    cmd->size > cf->max_message_size) {
		smtp_reject_metric(s, "size");
		smtp_reply(s, 552, "5.3.4",
			   "Error: message size exceeds fixed"
			   " limit of %llu octets",
			   (unsigned long long)cf->max_message_size);
		s->errors++;
		return -1;
	}
	snprintf(from, sizeof(from), "%.*s", (int)cmd->path.mailbox.len,
		 cmd->path.mailbox.p);
	if (s->authed && !cmd->path.is_null &&
	    (own = owns(s, s->user, from)) < 0) {
		tempfail(s, "MAIL FROM");
		return -1;
	}
	if (s->authed && (cmd->path.is_null || own == 0)) {
		s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
				       "MAIL FROM <%s> not owned "
				       "by %s",
				       from, s->user);
		smtp_reject_metric(s, "spoof_sender");
		smtp_reply(s, 553, "5.7.1",
			   "<%s>: Sender address rejected: "
			   "not owned by user %s",
			   from, s->user);
		s->errors++;
		return -1;
	}
	/* exempt networks skip message rates, never the rules above */
	if (s->mod->core->ip_is_exempt(ip))
		return 0;
	if (!rate_ok(s, "smtp_msg_ip", ip, cf->ip_messages, "address"))
		return -1;
	if (s->authed &&
	    !rate_ok(s, "smtp_msg_user", s->user, cf->user_messages, "user"))
		return -1;
	return 0;
}

static void ignore_addr(void *arg, const char *address)
{
	(void)arg;
	(void)address;
}

static int is_postmaster(const struct smtp_cmd *cmd)
{
	return cmd->path.local.len == 10 &&
	       strncasecmp(cmd->path.local.p, "postmaster", 10) == 0;
}

const char *smtp_policy_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct smtp_conf *cf = smtp_cf(s);
	const struct rmail_store_ops *ops;
	char rcpt[RMAIL_ADDR_MAX + 1], dom[SMTP_DOMAIN_MAX + 1];
	struct rmail_err err;
	void *h = NULL;
	int pol, local;

	snprintf(rcpt, sizeof(rcpt), "%.*s", (int)cmd->path.mailbox.len,
		 cmd->path.mailbox.p);
	/* RFC 5321 4.5.1: postmaster@ every local domain is deliverable;
	 * a real user or alias of that name keeps its mail */
	if (cmd->path.is_postmaster || is_postmaster(cmd)) {
		snprintf(dom, sizeof(dom), "%.*s", (int)cmd->path.domain.len,
			 cmd->path.domain.p);
		ops = store(s->mod, &h);
		if (s->mod->postmaster[0] == '\0')
			smtp_postmaster_resolve(s->mod);
		local = cmd->path.is_postmaster ? 1 : domain_local(ops, h, dom);
		rmail_err_clear(&err);
		if (local == 1 && !cmd->path.is_postmaster &&
		    ops->resolve(h, rcpt, ignore_addr, NULL, &err) < 0 &&
		    err.code != RMAIL_E_NOENT && err.code != RMAIL_E_INVAL)
			local = -1;
		if (local < 0) {
			tempfail(s, rcpt);
			return NULL;
		}
		if (s->mod->postmaster[0] != '\0' &&
		    (cmd->path.is_postmaster ||
		     (local == 1 && err.code != RMAIL_E_NONE))) {
			s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
					       "RCPT <%s> -> "
					       "postmaster %s",
					       rcpt, s->mod->postmaster);
			return s->mod->core->pstrdup(s->tx, s->mod->postmaster);
		}
	}
	pol = s->mod->core->rcpt_policy(rcpt, s->authed ? s->user : NULL,
					s->size_decl);
	switch (pol) {
	case RMAIL_RCPT_LOCAL:
	case RMAIL_RCPT_RELAY:
		return s->mod->core->pstrdup(s->tx, rcpt);
	case RMAIL_RCPT_NOUSER:
		smtp_reject_metric(s, "unknown_user");
		smtp_reply(s, 550, "5.1.1",
			   "<%s>: Recipient address rejected:"
			   " User unknown in local recipient table",
			   rcpt);
		s->errors++;
		break;
	case RMAIL_RCPT_DENIED:
		smtp_reject_metric(s, "relay");
		s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
				       "relay denied to <%s>", rcpt);
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied", rcpt);
		s->errors++;
		break;
	case RMAIL_RCPT_OVERQUOTA:
		smtp_reject_metric(s, "quota");
		smtp_reply(s, 452, "4.2.2",
			   "<%s>: Mailbox full, try again "
			   "later",
			   rcpt);
		break;
	case RMAIL_RCPT_BADADDR:
		smtp_reject_metric(s, "syntax");
		smtp_reply(s, 501, "5.1.3",
			   "<%s>: Bad recipient address "
			   "syntax",
			   rcpt);
		s->errors++;
		break;
	default:
		smtp_reject_metric(s, "tempfail");
		smtp_reply(s, 451, "4.3.0",
			   "<%s>: Temporary lookup failure, "
			   "try again later",
			   rcpt);
		break;
	}
	(void)cf;
	return NULL;
}
