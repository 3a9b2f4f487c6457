/*
 * POST /api/send: build an RFC 5322 message from the JSON request and
 * hand it to the core's submission service, then keep a copy in the
 * sender's Sent folder (skipped silently when the sender is over quota).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ex.h"

#define RCPTS_MAX 100
#define ATTACH_MAX 32

struct sbuf {
	char *p;
	size_t n, cap;
	const struct rmail_core *core; /* for the encoders */
};

static void sb_add(struct sbuf *b, const char *d, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort(); /* OOM aborts, as everywhere */
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) RMAIL_PRINTF(2, 3);
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp,
		       (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* base64 in 76-column lines */
static void sb_base64(struct sbuf *b, const unsigned char *d, size_t n)
{
	char line[80];
	size_t i, k;

	for (i = 0; i < n; i += 57) {
		k = b->core->base64_encode(d + i, n - i < 57 ? n - i : 57, line,
					   sizeof(line));
		sb_add(b, line, k);
		sb_add(b, "\r\n", 2);
	}
}

static int is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* an RFC 2047 encoded word when needed, else the text as it is */
static void sb_word(struct sbuf *b, const char *s, int quote)
{
	char enc[1024];
	size_t n = strlen(s), i, k;

	if (is_ascii(s)) {
		if (!quote) {
			sb_add(b, s, n);
			return;
		}
		sb_add(b, "\"", 1);
		for (i = 0; i < n; i++) {
			if (s[i] == '"' || s[i] == '\\')
				sb_add(b, "\\", 1);
			sb_add(b, s + i, 1);
		}
		sb_add(b, "\"", 1);
		return;
	}
	/* 45 bytes of text per word keeps each word under 75 columns;
	 * words split only at UTF-8 character boundaries */
	for (i = 0; i < n; i += k) {
		k = n - i < 45 ? n - i : 45;
		while (k > 1 && i + k < n &&
		       ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		if (i > 0)
			sb_add(b, "\r\n ", 3);
		sb_add(b, "=?UTF-8?B?", 10);
		sb_add(b, enc,
		       b->core->base64_encode(s + i, k, enc, sizeof(enc)));
		sb_add(b, "?=", 2);
	}
}

struct rcpt {
	const char *name;
	const char *addr;
};

struct send_job {
	struct ex_req *r;
	struct sbuf msg;
	const char *from;
	const char **ok; /* recipients the policy accepted */
	size_t nok;
	json_t *sent, *failed;
	struct rmail_submit *sub;
	int sent_rc;
	char sent_name[RMAIL_MBOX_NAME_MAX + 1];
};

static int get_rcpts(json_t *v, struct rcpt *out, size_t *n, int required)
{
	size_t i;
	json_t *e;

	if (v == NULL || json_is_null(v))
		return required ? -1 : 0;
	if (json_is_string(v) || json_is_object(v)) {
		if (*n >= RCPTS_MAX ||
		    ex_json_addr(v, &out[*n].name, &out[*n].addr) < 0)
			return -1;
		(*n)++;
		return 0;
	}
	if (!json_is_array(v) || (required && json_array_size(v) == 0))
		return -1;
	json_array_foreach(v, i, e)
	{
		if (*n >= RCPTS_MAX ||
		    ex_json_addr(e, &out[*n].name, &out[*n].addr) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int str_field(json_t *o, const char *key, int required, const char **s_r)
{
	json_t *v = json_object_get(o, key);

	*s_r = NULL;
	if (v == NULL || json_is_null(v))
		return required ? -1 : 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*s_r = json_string_value(v);
	return 0;
}

static void addr_header(struct sbuf *b, const char *name, const struct rcpt *r,
			size_t n)
{
	size_t i;

	if (n == 0)
		return;
	sb_printf(b, "%s: ", name);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_add(b, ",\r\n ", 4);
		if (r[i].name != NULL && r[i].name[0] != '\0') {
			sb_word(b, r[i].name, 1);
			sb_printf(b, " <%s>", r[i].addr);
		} else {
			sb_add(b, r[i].addr, strlen(r[i].addr));
		}
	}
	sb_add(b, "\r\n", 2);
}

static void text_part(struct sbuf *b, const char *sub, const char *text)
{
	sb_printf(b,
		  "Content-Type: text/%s; charset=utf-8\r\n"
		  "Content-Transfer-Encoding: base64\r\n\r\n",
		  sub);
	sb_base64(b, (const unsigned char *)text, strlen(text));
}

static void boundary(const struct rmail_core *core, char *out, size_t sz)
{
	unsigned char rnd[12];
	size_t i;

	core->random_bytes(rnd, sizeof(rnd));
	snprintf(out, sz, "=_rmail_");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(out + strlen(out), sz - strlen(out), "%02x", rnd[i]);
}

static void body_alt(struct sbuf *b, const char *text, const char *html)
{
	char bd[48];

	if (html == NULL) {
		text_part(b, "plain", text != NULL ? text : "");
		return;
	}
	if (text == NULL) {
		text_part(b, "html", html);
		return;
	}
	boundary(b->core, bd, sizeof(bd));
	sb_printf(b,
		  "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
		  "\r\n",
		  bd);
	sb_printf(b, "--%s\r\n", bd);
	text_part(b, "plain", text);
	sb_printf(b, "--%s\r\n", bd);
	text_part(b, "html", html);
	sb_printf(b, "--%s--\r\n", bd);
}

static int ctype_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t i;

	if (slash == NULL || slash == s || slash[1] == '\0' || strlen(s) > 127)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || strchr("\"\\;,()<>@:[]?=", c))
			return 0;
	}
	return 1;
}

/* 0, or -1 with a 400 message in *why */
static int build(struct send_job *j, json_t *req, const struct rcpt *to,
		 size_t nto, const struct rcpt *cc, size_t ncc,
		 const char *from_name, const char **why)
{
	const char *subject, *text, *html, *fn, *ct, *b64;
	struct sbuf *b = &j->msg;
	json_t *atts = json_object_get(req, "attachments"), *a;
	char date[64], bd[48];
	unsigned char rnd[16];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	const char *host;

	b->core = j->r->mod->core;
	host = b->core->conf_str("hostname");
	if (str_field(req, "subject", 0, &subject) < 0 ||
	    str_field(req, "text", 0, &text) < 0 ||
	    str_field(req, "html", 0, &html) < 0) {
		*why = "subject, text and html must be strings";
		return -1;
	}
	if (subject != NULL && !ex_str_safe(subject)) {
		*why = "CR or LF in a header field";
		return -1;
	}
	if (atts != NULL && !json_is_null(atts) &&
	    (!json_is_array(atts) || json_array_size(atts) > ATTACH_MAX)) {
		*why = "attachments must be a list";
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	b->core->random_bytes(rnd, sizeof(rnd));
	addr_header(b, "From", &(struct rcpt){from_name, j->from}, 1);
	addr_header(b, "To", to, nto);
	addr_header(b, "Cc", cc, ncc);
	sb_add(b, "Subject: ", 9);
	sb_word(b, subject != NULL ? subject : "", 0);
	sb_printf(b, "\r\nDate: %s\r\nMessage-ID: <", date);
	for (i = 0; i < sizeof(rnd); i++)
		sb_printf(b, "%02x", rnd[i]);
	sb_printf(b, "@%s>\r\nMIME-Version: 1.0\r\n",
		  host != NULL ? host : "localhost");
	if (atts == NULL || json_is_null(atts) || json_array_size(atts) == 0) {
		body_alt(b, text, html);
		return 0;
	}
	boundary(b->core, bd, sizeof(bd));
	sb_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
		  bd);
	sb_printf(b, "--%s\r\n", bd);
	body_alt(b, text, html);
	json_array_foreach(atts, i, a)
	{
		unsigned char *raw;
		size_t rawlen, blen;

		if (!json_is_object(a) ||
		    str_field(a, "filename", 1, &fn) < 0 ||
		    str_field(a, "content_type", 0, &ct) < 0 ||
		    str_field(a, "content_base64", 1, &b64) < 0) {
			*why = "attachments need filename and content_base64";
			return -1;
		}
		if (ct == NULL)
			ct = "application/octet-stream";
		if (!ex_str_safe(fn) || !ctype_ok(ct)) {
			*why = "bad attachment filename or content_type";
			return -1;
		}
		blen = strlen(b64);
		raw = malloc(blen / 4 * 3 + 4);
		if (raw == NULL)
			abort();
		if (b->core->base64_decode(b64, blen, raw, blen / 4 * 3 + 4,
					   &rawlen) < 0) {
			free(raw);
			*why = "content_base64 is not base64";
			return -1;
		}
		sb_printf(b,
			  "--%s\r\nContent-Type: %s\r\n"
			  "Content-Transfer-Encoding: base64\r\n"
			  "Content-Disposition: attachment; filename=",
			  bd, ct);
		/* quoted, or an encoded word many clients accept there */
		sb_word(b, fn, 1);
		sb_add(b, "\r\n\r\n", 4);
		sb_base64(b, raw, rawlen);
		free(raw);
	}
	sb_printf(b, "--%s--\r\n", bd);
	return 0;
}

/* 1 owned, 0 not, -1 the store cannot tell now */
static int owns(const struct rmail_store_ops *ops, void *h, const char *user,
		const char *addr)
{
	struct rmail_err err;

	if (RMAIL_HAS(ops, struct rmail_store_ops, owns_address_try) &&
	    ops->owns_address_try != NULL) {
		rmail_err_clear(&err);
		return ops->owns_address_try(h, user, addr, &err);
	}
	return ops->owns_address(h, user, addr) ? 1 : 0;
}

static void job_free(struct send_job *j)
{
	free(j->msg.p);
	j->msg.p = NULL;
	if (j->sub != NULL)
		j->r->mod->core->submit_abort(&j->sub);
	json_decref(j->sent);
	json_decref(j->failed);
	j->sent = j->failed = NULL;
}

static void reply(struct send_job *j)
{
	struct ex_req *r = j->r;
	json_t *o =
		json_pack("{s:O,s:O}", "sent", j->sent, "failed", j->failed);

	job_free(j);
	ex_json(r, 200, o);
}

struct sent_find {
	char name[RMAIL_MBOX_NAME_MAX + 1];
};

static void find_sent(void *arg, const struct rmail_mbox_entry *e)
{
	struct sent_find *f = arg;

	if (f->name[0] == '\0' && e->special_use == RMAIL_SU_SENT)
		snprintf(f->name, sizeof(f->name), "%s", e->name);
}

static void sent_work(void *arg, const volatile int *cancel)
{
	const struct rmail_store_ops *ops;
	struct send_job *j = arg;
	struct rmail_append_opts o = {.size = sizeof(o), .flags = RMAIL_F_SEEN};
	struct rmail_append *ap = NULL;
	struct sent_find f = {""};
	struct rmail_err err;
	uint32_t uid, uidv;
	void *h;

	j->sent_rc = -1;
	if (*cancel)
		return;
	ops = j->r->mod->core->store(&h);
	rmail_err_clear(&err);
	(void)ops->mbox_list(h, j->r->user.address, find_sent, &f, &err);
	if (f.name[0] == '\0')
		snprintf(f.name, sizeof(f.name), "Sent");
	o.size_hint = j->msg.n;
	rmail_err_clear(&err);
	/* over quota (or no Sent folder): the copy is skipped silently */
	if (ops->append_begin(h, j->r->user.address, f.name, &o, &ap, &err) < 0)
		return;
	if (ops->append_write(ap, j->msg.p, j->msg.n, &err) == 0 &&
	    ops->append_commit(ap, &uid, &uidv, &err) == 0) {
		j->sent_rc = 0;
		memcpy(j->sent_name, f.name, sizeof(j->sent_name));
	}
	ops->append_free(&ap);
}

static void sent_done(void *arg, int cancelled)
{
	struct send_job *j = arg;

	(void)cancelled;
	/* the change feed may report our own append late: the next
	 * GET /api/folders must count the copy */
	if (j->sent_rc == 0)
		ex_folders_invalidate(j->r->user.address, j->sent_name);
	if (!ex_async_end(j->r)) {
		job_free(j);
		return;
	}
	reply(j);
}

static void save_copy(struct send_job *j)
{
	if (j->r->mod->core->work_submit(RMAIL_WORK_WRITE, sent_work, sent_done,
					 j) == NULL)
		sent_done(j, 1);
}

static void submitted(void *arg, const struct rmail_submit_result *res)
{
	struct send_job *j = arg;
	size_t i;

	j->sub = NULL; /* commit consumed it */
	/* nothing stored or queued (4xx: try again later), or the
	 * message itself refused by the sender rule (5.6.0 header shape,
	 * 5.7.1 not the user's address): no recipient got it */
	if (!res->ok &&
	    ((res->code >= 400 && res->code < 500) ||
	     (res->code >= 500 && (strncmp(res->text, "5.6.", 4) == 0 ||
				   strncmp(res->text, "5.7.", 4) == 0)))) {
		struct ex_req *r = j->r;
		int st = res->code < 500       ? 503
			 : res->text[2] == '6' ? 400
					       : 403;
		char why[sizeof(res->text)];

		snprintf(why, sizeof(why), "%s",
			 res->text[0] ? res->text : "Try again later");
		if (!ex_async_end(r)) {
			job_free(j);
			return;
		}
		job_free(j);
		ex_error(r, st, why);
		return;
	}
	if (!res->ok) {
		for (i = 0; i < j->nok; i++)
			json_array_append_new(
				j->failed, json_pack("{s:s,s:s}", "address",
						     j->ok[i], "error",
						     res->text[0] ? res->text
								  : "Refused"));
	} else {
		for (i = 0; i < res->nrcpts; i++) {
			const struct rmail_rcpt_result *rr = &res->rcpts[i];

			if (rr->status == RMAIL_RCPT_DELIVERED ||
			    rr->status == RMAIL_RCPT_QUEUED)
				json_array_append_new(j->sent,
						      json_string(rr->rcpt));
			else
				json_array_append_new(
					j->failed,
					json_pack("{s:s,s:s}", "address",
						  rr->rcpt, "error",
						  rr->error[0] ? rr->error
							       : "Failed"));
		}
	}
	if (json_array_size(j->sent) > 0) {
		save_copy(j);
		return;
	}
	sent_done(j, 0);
}

static const char *policy_error(int p)
{
	switch (p) {
	case RMAIL_RCPT_NOUSER:
		return "No such user";
	case RMAIL_RCPT_DENIED:
		return "Relay denied";
	case RMAIL_RCPT_OVERQUOTA:
		return "Quota exceeded";
	case RMAIL_RCPT_BADADDR:
		return "Bad address";
	default:
		return "Temporary failure";
	}
}

void ex_api_send(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	const struct rmail_store_ops *ops;
	struct rcpt to[RCPTS_MAX], cc[RCPTS_MAX], bcc[RCPTS_MAX];
	size_t nto = 0, ncc = 0, nbcc = 0, i, k;
	struct send_job *j;
	const char *why = NULL, *from_name = NULL;
	struct rmail_submit_opts so = {.size = sizeof(so)};
	struct rmail_err err;
	json_t *req, *jf;
	void *h;

	if ((req = ex_json_parse(r)) == NULL)
		return;
	j = core->pcalloc(r->pool, sizeof(*j));
	j->r = r;
	j->sent_rc = -1;
	j->from = r->user.address;
	jf = json_object_get(req, "from");
	if (!json_is_object(req) ||
	    get_rcpts(json_object_get(req, "to"), to, &nto, 1) < 0 ||
	    get_rcpts(json_object_get(req, "cc"), cc, &ncc, 0) < 0 ||
	    get_rcpts(json_object_get(req, "bcc"), bcc, &nbcc, 0) < 0 ||
	    nto + ncc + nbcc > RCPTS_MAX ||
	    (jf != NULL && !json_is_null(jf) &&
	     ex_json_addr(jf, &from_name, &j->from) < 0)) {
		json_decref(req);
		ex_error(r, 400,
			 "Bad from, to, cc or bcc (addresses without "
			 "CR, LF or NUL)");
		return;
	}
	ops = core->store(&h);
	switch (owns(ops, h, r->user.address, j->from)) {
	case 0:
		json_decref(req);
		ex_error(r, 403, "From address not owned by the user");
		return;
	case -1:
		json_decref(req);
		ex_error(r, 503, "Store unavailable, try again later");
		return;
	}
	j->from = core->pstrdup(r->pool, j->from);
	if (build(j, req, to, nto, cc, ncc, from_name, &why) < 0) {
		json_decref(req);
		free(j->msg.p);
		ex_error(r, 400, why);
		return;
	}
	j->sent = json_array();
	j->failed = json_array();
	j->ok = core->pcalloc(r->pool, sizeof(char *) * RCPTS_MAX * 3);
	for (k = 0; k < 3; k++) {
		const struct rcpt *l = k == 0 ? to : k == 1 ? cc : bcc;
		size_t n = k == 0 ? nto : k == 1 ? ncc : nbcc;

		for (i = 0; i < n; i++) {
			int p = core->rcpt_policy(l[i].addr, r->user.address,
						  j->msg.n);

			/* "try later" for one is the whole request's
			 * answer: nothing is sent, the client retries */
			if (p == RMAIL_RCPT_TEMPFAIL) {
				json_decref(req);
				job_free(j);
				ex_error(r, 503,
					 "Recipient lookup failed, try again "
					 "later");
				return;
			}
			if (p == RMAIL_RCPT_LOCAL || p == RMAIL_RCPT_RELAY)
				j->ok[j->nok++] =
					core->pstrdup(r->pool, l[i].addr);
			else
				json_array_append_new(
					j->failed,
					json_pack("{s:s,s:s}", "address",
						  l[i].addr, "error",
						  policy_error(p)));
		}
	}
	json_decref(req);
	if (j->nok == 0) {
		reply(j);
		return;
	}
	so.proto = "http";
	so.mail_from = j->from;
	so.rcpts = j->ok;
	so.nrcpts = j->nok;
	so.auth_user = r->user.address;
	so.peer_ip = r->rip;
	so.tls_info = core->conn_tls_info(r->c);
	so.submission = 1;
	so.size_hint = j->msg.n;
	rmail_err_clear(&err);
	j->sub = core->submit_begin(&so, &err);
	if (j->sub == NULL ||
	    core->submit_write(j->sub, j->msg.p, j->msg.n, &err) < 0) {
		job_free(j);
		ex_error(r, err.code == RMAIL_E_TOOBIG ? 413 : 503,
			 err.code == RMAIL_E_TOOBIG ? "Message too large"
						    : "Submission unavailable");
		return;
	}
	ex_async_begin(r);
	{
		struct rmail_submit *s = j->sub;

		core->submit_commit(s, submitted, j);
	}
}
