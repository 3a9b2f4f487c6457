/*
 * One delivery through Sieve: the global "before" scripts, the user's
 * active script, the "after" scripts, then what their actions mean for
 * this copy (mailboxes and flags in the DELIVERY target, a reject, a
 * discard) and what goes out (redirect, vacation).  Nothing is carried
 * out before every script ran: a runtime error anywhere keeps the
 * message in INBOX and sends nothing (RFC 5228 section 2.10.6).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "sf.h"
#include "vacation.h"

/* how long a redirect is remembered: a client's retries of one message
 * come within hours; a day bounds the record file */
#define REDIRECT_DEDUP_PERIOD 86400

struct run {
	struct sieve_result res[16];
	size_t nres;
	int implicit_keep;
};

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->nres; i++)
		sieve_result_free(&r->res[i]);
	r->nres = 0;
}

/* run one script, its result appended to r; -1 on a runtime error */
static int run_one(struct sf_script *sc, const char *what,
		   const struct sieve_env *env, struct run *r,
		   struct rmail_err *err)
{
	struct sieve_result *res = &r->res[r->nres];

	memset(res, 0, sizeof(*res));
	r->nres++;
	if (sieve_run(sf_script_get(sc), env, res) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "%s: %s", what,
				     res->err);
	/* any explicit action of any script cancels the implicit keep */
	if (!res->implicit_keep)
		r->implicit_keep = 0;
	return 0;
}

static int run_files(const struct rmail_strlist *l, const struct sieve_env *env,
		     struct run *r, int *broken, struct rmail_err *err)
{
	for (size_t i = 0; i < l->n && r->nres < 15; i++) {
		struct sf_script *sc = sf_file_script(l->v[i], broken, err);
		int rc;

		if (sc == NULL)
			return -1;
		rc = run_one(sc, l->v[i], env, r, err);
		sf_script_put(&sc);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* "\\Seen" ... into flag bits, other atoms into keywords */
static void flags_of(char **flags, size_t n, uint32_t *bits, char *kw,
		     size_t kwsz)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} sys[] = {{"\\Seen", RMAIL_F_SEEN},
		   {"\\Answered", RMAIL_F_ANSWERED},
		   {"\\Flagged", RMAIL_F_FLAGGED},
		   {"\\Deleted", RMAIL_F_DELETED},
		   {"\\Draft", RMAIL_F_DRAFT}};
	size_t o = strlen(kw);

	for (size_t i = 0; i < n; i++) {
		size_t j, l = strlen(flags[i]);

		for (j = 0; j < sizeof(sys) / sizeof(*sys); j++)
			if (strcasecmp(flags[i], sys[j].name) == 0)
				break;
		if (j < sizeof(sys) / sizeof(*sys)) {
			*bits |= sys[j].bit;
			continue;
		}
		/* an IMAP atom only (RFC 3501 flag-keyword) */
		if (l == 0 || flags[i][0] == '\\' ||
		    strcspn(flags[i], "(){ %*\"\\]") != l || o + l + 2 > kwsz)
			continue;
		o += (size_t)snprintf(kw + o, kwsz - o, "%s%s", o ? " " : "",
				      flags[i]);
	}
}

struct copy {
	char mailbox[1024]; /* as rmail_filter_target's */
	uint32_t flags;
	char keywords[256];
};

static void add_copy(struct copy *v, size_t *n, const char *mailbox,
		     char **flags, size_t nflags)
{
	struct copy *c;

	/* one copy per mailbox (RFC 5228 section 4.1) */
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i].mailbox, mailbox) == 0)
			return;
	if (*n >= 1 + RMAIL_FILTER_COPIES_MAX)
		return;
	c = &v[(*n)++];
	memset(c, 0, sizeof(*c));
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", mailbox);
	flags_of(flags, nflags, &c->flags, c->keywords, sizeof(c->keywords));
}

static int is_inbox(const char *m)
{
	return m == NULL || strcasecmp(m, "INBOX") == 0;
}

static int local_addr(const char *addr)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	const char *at = strrchr(addr, '@');

	return ops != NULL && at != NULL && ops->domain_is_local(h, at + 1);
}

static int passed(const char *r)
{
	return r != NULL && strcasecmp(r, "pass") == 0;
}

/* Has this message already been redirected to `to` for this user?
 * The message is its Message-ID, else its bytes (without the lines the
 * core put on top, which differ per attempt), with the envelope
 * sender: a client that retries after a 4xx given once the script ran
 * sends the same.  Checked and recorded in one store call (1.6
 * duplicate_check), shared by processes; without it, or when the store
 * fails, the redirect goes (a duplicate beats a lost message). */
static int redirected_before(const struct rmail_filter_msg *msg,
			     const char *user, struct sf_msg *sm,
			     const char *to)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	const char *mid = sf_msg_header_raw(sm, "Message-ID", 0);
	const char *pre = RMAIL_HAS(msg, struct rmail_filter_msg, prepend)
				  ? msg->prepend
				  : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c;
	char key[40];
	struct rmail_err err;
	int rc;

	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, duplicate_check) ||
	    ops->duplicate_check == NULL)
		return 0;
	c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	if (mid != NULL && mid[strspn(mid, " \t")] != '\0') {
		EVP_DigestUpdate(c, "m", 1);
		EVP_DigestUpdate(c, mid, strlen(mid));
	} else {
		size_t len, skip = pre != NULL ? strlen(pre) : 0;
		const char *data = sf_msg_data(sm, &len);

		if (skip > len)
			skip = len;
		EVP_DigestUpdate(c, "d", 1);
		EVP_DigestUpdate(c, data + skip, len - skip);
	}
	EVP_DigestUpdate(c, "", 1);
	EVP_DigestUpdate(c, msg->mail_from, strlen(msg->mail_from));
	EVP_DigestUpdate(c, "", 1);
	for (const char *p = to; *p != '\0'; p++) {
		char l = (char)tolower((unsigned char)*p);

		EVP_DigestUpdate(c, &l, 1);
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	memcpy(key, "redirect.", 9);
	for (size_t i = 0; i < 12; i++)
		sprintf(key + 9 + 2 * i, "%02x", md[i]);
	rmail_err_clear(&err);
	rc = ops->duplicate_check(h, user, key, (int64_t)time(NULL),
				  REDIRECT_DEDUP_PERIOD, &err);
	if (rc < 0)
		sf_core->log(sf_m, RMAIL_LOG_WARN,
			     "redirect for %s to %s: no duplicate record "
			     "(%s): sent anyway",
			     user, to, err.msg);
	return rc == 1;
}

static void do_redirect(const struct rmail_filter_msg *msg, const char *user,
			struct sf_msg *sm, const struct sieve_action *a)
{
	size_t len;
	const char *data = sf_msg_data(sm, &len);
	/* the original sender only for local targets: anywhere else it
	 * would fail SPF at the next hop (docs/sieve.md) */
	const char *from = local_addr(a->address) ? msg->mail_from : user;

	if (redirected_before(msg, user, sm, a->address)) {
		sf_core->log(sf_m, RMAIL_LOG_INFO,
			     "redirect for %s to %s: already redirected "
			     "(the same message delivered again): not sent",
			     user, a->address);
		return;
	}

	sf_core->log(sf_m, RMAIL_LOG_INFO, "redirect for %s to %s, from <%s>",
		     user, a->address, from);
	sf_send("redirect", from, a->address, NULL, data, len);
}

static const char *vac_hdr(void *arg, const char *name, size_t nth)
{
	return sf_msg_header_raw(arg, name, nth);
}

static void do_vacation(const struct rmail_filter_msg *msg, const char *user,
			struct sf_msg *sm, const struct sieve_action *a,
			int spam)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	const char **mine = calloc(a->naddresses + 1, sizeof(*mine));
	const char *dmarc =
		RMAIL_HAS(msg, struct rmail_filter_msg, dmarc_result)
			? msg->dmarc_result
			: NULL;
	struct vac_in in = {0};
	enum vac_verdict v;
	struct rmail_err err;
	char key[33], msgid[128], date[64], rnd[8], hex[17];
	int64_t period = vac_period(a->days_or_seconds, a->seconds);
	time_t now = time(NULL);
	struct tm tm;
	char *reply;
	int rc;

	mine[0] = user;
	for (size_t i = 0; i < a->naddresses; i++)
		mine[i + 1] = a->addresses[i];
	in.env_from = msg->mail_from;
	in.my_addrs = mine;
	in.nmy = a->naddresses + 1;
	in.spam = spam;
	in.dmarc_result = dmarc;
	in.header = vac_hdr;
	in.arg = sm;
	v = vac_decide(&in);
	free(mine);
	if (v != VAC_SEND) {
		sf_core->log(sf_m, RMAIL_LOG_INFO,
			     "vacation for %s: no reply to <%s>: %s", user,
			     msg->mail_from, vac_verdict_name(v));
		return;
	}
	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, vacation_check) ||
	    ops->vacation_check == NULL) {
		sf_core->log(sf_m, RMAIL_LOG_WARN,
			     "vacation for %s: the store keeps no reply "
			     "state: no reply",
			     user);
		return;
	}
	vac_key(msg->mail_from, a->handle, a->reason, a->subject, a->from, key);
	rmail_err_clear(&err);
	rc = ops->vacation_check(h, user, key, (int64_t)now, period, &err);
	if (rc != 0) {
		if (rc < 0)
			sf_core->log(sf_m, RMAIL_LOG_ERR,
				     "vacation for %s: %s: no reply", user,
				     err.msg);
		else
			sf_core->log(sf_m, RMAIL_LOG_INFO,
				     "vacation for %s: <%s> already answered "
				     "within %lld s",
				     user, msg->mail_from, (long long)period);
		return;
	}
	sf_core->random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)rnd[i]);
	snprintf(msgid, sizeof(msgid), "<vacation.%lld.%s@%s>", (long long)now,
		 hex, strrchr(user, '@') + 1);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	reply = vac_compose(a->from != NULL ? a->from : user, msg->mail_from,
			    a->subject, sf_msg_header_decoded(sm, "Subject"),
			    sf_msg_header_raw(sm, "Message-ID", 0),
			    sf_msg_header_raw(sm, "References", 0), a->reason,
			    a->mime, msgid, date);
	/* MAIL FROM:<> (RFC 5230 section 5.1), signed as the user's mail */
	sf_core->log(sf_m, RMAIL_LOG_INFO, "vacation for %s: reply to <%s>",
		     user, msg->mail_from);
	sf_send("vacation", "", msg->mail_from, user, reply, strlen(reply));
	free(reply);
}

/* can fileinto's mailbox take the copy: without :create it must exist
 * (RFC 5228 section 4.1); with it, the store must accept the name (a
 * variable from the sender's Subject may hold anything).  A refusal is
 * logged here; the caller falls back to the implicit keep. */
static int fileinto_ok(const char *user, struct sf_msg *sm,
		       const struct sieve_env *env,
		       const struct sieve_action *a)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	struct rmail_err e;

	if (strlen(a->mailbox) >= sizeof(((struct copy *)0)->mailbox)) {
		sf_core->log(sf_m, RMAIL_LOG_WARN,
			     "fileinto for %s: mailbox name of %zu bytes "
			     "refused: implicit keep",
			     user, strlen(a->mailbox));
		return 0;
	}
	if (!a->create) {
		if (env->mailbox_exists(sm, a->mailbox))
			return 1;
		sf_core->log(sf_m, RMAIL_LOG_WARN,
			     "fileinto for %s: no mailbox %s: implicit keep",
			     user, a->mailbox);
		return 0;
	}
	/* the usual case, a read: the folder is there */
	if (ops == NULL || ops->mbox_create == NULL ||
	    env->mailbox_exists(sm, a->mailbox))
		return 1;
	/* the core creates it anyway; creating it now is how to learn
	 * whether the store takes the name.  Only a refused name falls
	 * back: any other failure is the core's to retry. */
	rmail_err_clear(&e);
	if (ops->mbox_create(h, user, a->mailbox, 0, &e) == 0 ||
	    e.code != RMAIL_E_INVAL)
		return 1;
	sf_core->log(sf_m, RMAIL_LOG_WARN,
		     "fileinto for %s: mailbox \"%s\" refused (%s): implicit "
		     "keep",
		     user, a->mailbox, e.msg);
	return 0;
}

static void fill_target(struct rmail_filter_target *t, const struct copy *v,
			size_t n)
{
	memcpy(t->mailbox, v[0].mailbox, sizeof(t->mailbox));
	t->flags = v[0].flags;
	memcpy(t->keywords, v[0].keywords, sizeof(t->keywords));
	if (n > 1 && !RMAIL_HAS(t, struct rmail_filter_target, copies)) {
		sf_core->log(sf_m, RMAIL_LOG_WARN,
			     "the core stores one copy per recipient: %zu "
			     "more dropped",
			     n - 1);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct rmail_filter_copy *c = &t->copies[t->ncopies++];

		memcpy(c->mailbox, v[i].mailbox, sizeof(c->mailbox));
		c->flags = v[i].flags;
		memcpy(c->keywords, v[i].keywords, sizeof(c->keywords));
	}
}

/* the spam verdict travels as a header the filters added; mod_sieve
 * sees the stored message, so look at the field itself */
static int is_spam(struct sf_msg *sm)
{
	const char *v = sf_msg_header_raw(sm, "X-Spam", 0);

	return v != NULL && strncasecmp(v + strspn(v, " \t"), "yes", 3) == 0;
}

int sf_deliver(const struct rmail_filter_msg *msg,
	       struct rmail_filter_target *t, struct rmail_err *err)
{
	const struct sf_conf *c = sf_m->conf;
	const char *user = msg->rcpt;
	const char *addrs[2] = {user, NULL};
	struct sf_script *us = NULL;
	struct sieve_env env;
	struct sf_msg *sm;
	struct run r = {.implicit_keep = 1};
	struct copy *copies;
	size_t ncopies = 0, nreject = 0;
	const struct sieve_action *reject = NULL;
	int none = 0, broken = 0, keep_fallback = 0, rc = -1;

	us = sf_user_script(user, &none, &broken, err);
	if (us == NULL && broken) {
		/* kept in the default mailbox; the cache logged why */
		rmail_err_clear(err);
		return 0;
	}
	if (us == NULL && !none)
		return -1;
	if (us == NULL && c->before.n == 0 && c->after.n == 0)
		return 0;
	sm = sf_msg_open(msg->fd, msg->msg_size,
			 RMAIL_HAS(msg, struct rmail_filter_msg, prepend)
				 ? msg->prepend
				 : NULL,
			 err);
	if (sm == NULL) {
		sf_script_put(&us);
		return -1;
	}
	memset(&env, 0, sizeof(env));
	env.env_from = msg->mail_from;
	env.env_to = user;
	env.user_addrs = addrs;
	env.size = msg->msg_size;
	env.now = time(NULL);
	sf_msg_env(sm, user, &env);
	if (run_files(&c->before, &env, &r, &broken, err) < 0 ||
	    (us != NULL && run_one(us, "user script", &env, &r, err) < 0) ||
	    run_files(&c->after, &env, &r, &broken, err) < 0)
		goto out;

	copies = calloc(1 + RMAIL_FILTER_COPIES_MAX, sizeof(*copies));
	for (size_t i = 0; i < r.nres; i++)
		for (size_t j = 0; j < r.res[i].n; j++) {
			const struct sieve_action *a = &r.res[i].v[j];

			if (a->kind == SIEVE_REJECT ||
			    a->kind == SIEVE_EREJECT) {
				reject = a;
				nreject++;
			}
		}
	if (reject != NULL) {
		/* reject/ereject: one recipient refuses at the end of
		 * DATA; with several, a DSN only to a sender that passed
		 * SPF or aligned DMARC, else dropped (docs/sieve.md) */
		if (msg->nrcpts <= 1 ||
		    passed(RMAIL_HAS(msg, struct rmail_filter_msg, spf_result)
				   ? msg->spf_result
				   : NULL) ||
		    passed(RMAIL_HAS(msg, struct rmail_filter_msg, dmarc_result)
				   ? msg->dmarc_result
				   : NULL)) {
			t->action = RMAIL_FILTER_REJECT;
			t->code = 550;
			snprintf(t->text, sizeof(t->text), "5.7.1 %.240s",
				 reject->reason != NULL && reject->reason[0]
					 ? reject->reason
					 : "Rejected by the recipient's "
					   "filter");
			/* one line: the reason may hold several */
			t->text[strcspn(t->text, "\r\n")] = '\0';
		} else {
			t->action = RMAIL_FILTER_DISCARD;
			sf_core->log(sf_m, RMAIL_LOG_INFO,
				     "reject for %s: sender <%s> not "
				     "authenticated (SPF, DMARC): discarded "
				     "without a DSN",
				     user, msg->mail_from);
		}
		free(copies);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < r.nres; i++) {
		const struct sieve_result *res = &r.res[i];

		for (size_t j = 0; j < res->n; j++) {
			const struct sieve_action *a = &res->v[j];

			switch (a->kind) {
			case SIEVE_KEEP:
				add_copy(copies, &ncopies,
					 is_inbox(a->mailbox) ? "" : a->mailbox,
					 a->flags, a->nflags);
				break;
			case SIEVE_FILEINTO:
				/* a failed action means the implicit keep
				 * (RFC 5228 section 2.10.6): one keep, even
				 * when :copy or a keep already asked for it */
				if (!is_inbox(a->mailbox) &&
				    !fileinto_ok(user, sm, &env, a)) {
					keep_fallback = 1;
					break;
				}
				add_copy(copies, &ncopies, a->mailbox, a->flags,
					 a->nflags);
				break;
			case SIEVE_REDIRECT:
				do_redirect(msg, user, sm, a);
				break;
			case SIEVE_VACATION:
				do_vacation(msg, user, sm, a, is_spam(sm));
				break;
			default:
				break;
			}
		}
	}
	if (r.implicit_keep || keep_fallback) {
		/* imap4flags: the implicit keep takes the last script's */
		const struct sieve_result *last =
			r.nres > 0 ? &r.res[r.nres - 1] : NULL;

		add_copy(copies, &ncopies, "", last ? last->flags : NULL,
			 last ? last->nflags : 0);
	}
	if (ncopies == 0)
		t->action = RMAIL_FILTER_DISCARD;
	else
		fill_target(t, copies, ncopies);
	free(copies);
	rc = 0;
out:
	if (rc < 0 && broken) {
		/* a global file that does not compile: as a user's */
		rmail_err_clear(err);
		rc = 0;
	} else if (rc < 0)
		sf_core->log(sf_m, RMAIL_LOG_ERR,
			     "%s: %s: the message is kept in INBOX", user,
			     err->msg);
	run_free(&r);
	sf_msg_free(&sm);
	sf_script_put(&us);
	return rc;
}
