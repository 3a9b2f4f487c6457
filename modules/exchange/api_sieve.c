/*
 * /api/sieve: the logged-in user's Sieve scripts (store ops sieve_*,
 * ABI 1.5), the same ones ManageSieve serves, and a vacation endpoint
 * that writes a generated script "rmail-vacation" (docs/sieve.md).
 * Every store call runs on a worker; scripts are compiled before they
 * are stored, with the ManageSieve module's default quotas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "sieve.h"

#define API_MAX_SCRIPTS 20
#define API_MAX_SCRIPT_SIZE (64 * 1024)
#define VAC_NAME "rmail-vacation"
#define VAC_MARK "# rmail-vacation "

enum sv_kind {
	SV_LIST,
	SV_GET,
	SV_PUT,
	SV_ACTIVATE,
	SV_DEACTIVATE,
	SV_DELETE,
	SV_VAC_GET,
	SV_VAC_SET,
};

struct sv_job {
	struct ex_req *r;
	enum sv_kind kind;
	char *name;
	char *text; /* SV_PUT: the script; SV_VAC_SET: the settings JSON */
	size_t len;
	int activate;
	/* answer */
	int status;
	json_t *out;
	char msg[300];
};

static const struct rmail_store_ops *sv_store(struct ex_req *r, void **h)
{
	const struct rmail_store_ops *ops = r->mod->core->store(h);

	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, vacation_check) ||
	    ops->sieve_list == NULL || ops->sieve_get == NULL ||
	    ops->sieve_put == NULL || ops->sieve_activate == NULL ||
	    ops->sieve_delete == NULL) {
		ex_error(r, 501, "The store keeps no Sieve scripts");
		return NULL;
	}
	return ops;
}

static int fail(struct sv_job *j, const struct rmail_err *err)
{
	j->status = err->code == RMAIL_E_NOENT	  ? 404
		    : err->code == RMAIL_E_INVAL  ? 400
		    : err->code == RMAIL_E_BUSY	  ? 409
		    : err->code == RMAIL_E_EXISTS ? 409
		    : err->code == RMAIL_E_TOOBIG ? 413
		    : err->code == RMAIL_E_QUOTA  ? 413
						  : 503;
	snprintf(j->msg, sizeof(j->msg), "%s", err->msg);
	return -1;
}

struct listing {
	json_t *arr;
	const char *name;
	int exists;
	char active[RMAIL_SIEVE_NAME_MAX + 1];
};

static void list_cb(void *arg, const char *name, int active, uint64_t bytes,
		    int64_t version)
{
	struct listing *l = arg;

	(void)version;
	if (l->arr != NULL)
		json_array_append_new(l->arr,
				      json_pack("{s:s, s:b, s:I}", "name", name,
						"active", active, "bytes",
						(json_int_t)bytes));
	if (l->name != NULL && strcmp(l->name, name) == 0)
		l->exists = 1;
	if (active)
		snprintf(l->active, sizeof(l->active), "%s", name);
}

static char *get_text(const struct rmail_store_ops *ops, void *h,
		      const char *user, const char *name, size_t *len_r,
		      struct rmail_err *err)
{
	size_t len = 0;
	char *t;

	if (ops->sieve_get(h, user, name, NULL, 0, &len, NULL, NULL, err) < 0)
		return NULL;
	t = malloc(len + 1);
	if (ops->sieve_get(h, user, name, t, len, &len, NULL, NULL, err) < 0) {
		free(t);
		return NULL;
	}
	t[len] = '\0';
	*len_r = len;
	return t;
}

/* compile, check the quota, store */
static int put_script(struct sv_job *j, const struct rmail_store_ops *ops,
		      void *h, const char *name, const char *text, size_t len)
{
	const char *u = j->r->user.address;
	struct listing l = {.name = name};
	struct rmail_err err;
	struct sieve_script *sc;
	char msg[256] = "";

	if (len > API_MAX_SCRIPT_SIZE) {
		j->status = 413;
		snprintf(j->msg, sizeof(j->msg), "Script over %d bytes",
			 API_MAX_SCRIPT_SIZE);
		return -1;
	}
	sc = sieve_compile(text, len, NULL, NULL, NULL, msg, sizeof(msg));
	if (sc == NULL) {
		j->status = 400;
		snprintf(j->msg, sizeof(j->msg), "%s", msg);
		return -1;
	}
	sieve_free(sc);
	rmail_err_clear(&err);
	if (ops->sieve_list(h, u, list_cb, &l, &err) < 0)
		return fail(j, &err);
	(void)l.arr;
	if (!l.exists) {
		struct listing c = {0};

		c.arr = json_array();
		ops->sieve_list(h, u, list_cb, &c, &err);
		if (json_array_size(c.arr) >= API_MAX_SCRIPTS) {
			json_decref(c.arr);
			j->status = 413;
			snprintf(j->msg, sizeof(j->msg), "Over %d scripts",
				 API_MAX_SCRIPTS);
			return -1;
		}
		json_decref(c.arr);
	}
	if (ops->sieve_put(h, u, name, text, len, &err) < 0)
		return fail(j, &err);
	return 0;
}

/* a Sieve quoted string */
static void sieve_str(char *out, size_t sz, const char *s)
{
	size_t o = 0;

	if (sz < 3)
		return;
	out[o++] = '"';
	for (; *s != '\0' && o + 3 < sz; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static int valid_date(const char *d)
{
	return d == NULL || (strlen(d) == 10 && d[4] == '-' && d[7] == '-' &&
			     strspn(d, "0123456789-") == 10);
}

static void vac_set(struct sv_job *j, const struct rmail_store_ops *ops,
		    void *h)
{
	const char *u = j->r->user.address;
	json_t *s = json_loads(j->text, 0, NULL);
	const char *subject, *body, *start, *end;
	int enabled, days;
	struct listing l = {0};
	struct rmail_err err;
	char qs[600], qb[8200], cond[200] = "",
				prev[RMAIL_SIEVE_NAME_MAX * 2 + 64];
	char *js, *script;
	size_t len;

	enabled = json_is_true(json_object_get(s, "enabled"));
	subject = json_string_value(json_object_get(s, "subject"));
	body = json_string_value(json_object_get(s, "body"));
	start = json_string_value(json_object_get(s, "start"));
	end = json_string_value(json_object_get(s, "end"));
	days = (int)json_integer_value(json_object_get(s, "days"));
	rmail_err_clear(&err);
	if (ops->sieve_list(h, u, list_cb, &l, &err) < 0) {
		json_decref(s);
		fail(j, &err);
		return;
	}
	if (!enabled) {
		/* back to the script that was active before, if any */
		json_t *old = NULL;
		size_t olen;
		char *t = l.active[0] != '\0' && strcmp(l.active, VAC_NAME) == 0
				  ? get_text(ops, h, u, VAC_NAME, &olen, &err)
				  : NULL;

		if (t != NULL && strncmp(t, VAC_MARK, strlen(VAC_MARK)) == 0)
			old = json_loads(t + strlen(VAC_MARK),
					 JSON_DISABLE_EOF_CHECK, NULL);
		if (t != NULL) {
			const char *p = json_string_value(
				json_object_get(old, "previous"));

			if (ops->sieve_activate(h, u, p, &err) < 0 &&
			    ops->sieve_activate(h, u, NULL, &err) < 0)
				fail(j, &err);
		}
		json_decref(old);
		free(t);
		json_decref(s);
		j->out = json_pack("{s:b}", "enabled", 0);
		return;
	}
	if (body == NULL || strlen(body) > 4000 ||
	    (subject != NULL && strlen(subject) > 250) || !valid_date(start) ||
	    !valid_date(end) || days < 0 || days > 90) {
		json_decref(s);
		j->status = 400;
		snprintf(j->msg, sizeof(j->msg),
			 "Expected {\"enabled\": true, \"body\": \"...\", "
			 "\"subject\", \"start\"/\"end\": \"YYYY-MM-DD\", "
			 "\"days\": 1..90}");
		return;
	}
	/* keep filtering with the script the user had active */
	if (l.active[0] != '\0' && strcmp(l.active, VAC_NAME) != 0)
		json_object_set_new(s, "previous", json_string(l.active));
	else if (strcmp(l.active, VAC_NAME) == 0) {
		/* re-enabling: keep the previous one we recorded */
		size_t olen;
		char *t = get_text(ops, h, u, VAC_NAME, &olen, &err);
		json_t *old =
			t != NULL && strncmp(t, VAC_MARK, strlen(VAC_MARK)) == 0
				? json_loads(t + strlen(VAC_MARK),
					     JSON_DISABLE_EOF_CHECK, NULL)
				: NULL;
		json_t *p = json_object_get(old, "previous");

		if (json_is_string(p))
			json_object_set(s, "previous", p);
		json_decref(old);
		free(t);
	}
	sieve_str(qs, sizeof(qs), subject != NULL ? subject : "");
	sieve_str(qb, sizeof(qb), body);
	if (start != NULL && end != NULL)
		snprintf(cond, sizeof(cond),
			 "allof(currentdate :value \"ge\" \"date\" \"%s\", "
			 "currentdate :value \"le\" \"date\" \"%s\")",
			 start, end);
	else if (start != NULL || end != NULL)
		snprintf(cond, sizeof(cond),
			 "currentdate :value \"%s\" \"date\" \"%s\"",
			 start != NULL ? "ge" : "le",
			 start != NULL ? start : end);
	prev[0] = '\0';
	if (json_is_string(json_object_get(s, "previous"))) {
		char q[RMAIL_SIEVE_NAME_MAX * 2 + 8];

		sieve_str(q, sizeof(q),
			  json_string_value(json_object_get(s, "previous")));
		snprintf(prev, sizeof(prev), "include :personal %s;\r\n", q);
	}
	js = json_dumps(s, JSON_COMPACT);
	len = strlen(js) + strlen(qs) + strlen(qb) + strlen(cond) +
	      strlen(prev) + 512;
	script = malloc(len);
	len = (size_t)snprintf(
		script, len,
		VAC_MARK "%s\r\n"
			 "require [\"vacation\", \"date\", \"relational\", "
			 "\"include\"];\r\n"
			 "%s%s%s"
			 "vacation :days %d%s%s %s;\r\n%s%s",
		js, cond[0] ? "if " : "", cond, cond[0] ? " {\r\n" : "",
		days > 0 ? days : 7, subject != NULL ? " :subject " : "",
		subject != NULL ? qs : "", qb, cond[0] ? "}\r\n" : "", prev);
	free(js);
	json_decref(s);
	if (put_script(j, ops, h, VAC_NAME, script, len) == 0 &&
	    ops->sieve_activate(h, u, VAC_NAME, &err) < 0)
		fail(j, &err);
	free(script);
	if (j->status == 0)
		j->out = json_loads(j->text, 0, NULL);
}

static void vac_get(struct sv_job *j, const struct rmail_store_ops *ops,
		    void *h)
{
	const char *u = j->r->user.address;
	struct listing l = {0};
	struct rmail_err err;
	json_t *o = NULL;
	size_t len;
	char *t;

	rmail_err_clear(&err);
	if (ops->sieve_list(h, u, list_cb, &l, &err) < 0) {
		fail(j, &err);
		return;
	}
	t = get_text(ops, h, u, VAC_NAME, &len, &err);
	if (t != NULL && strncmp(t, VAC_MARK, strlen(VAC_MARK)) == 0)
		o = json_loads(t + strlen(VAC_MARK), JSON_DISABLE_EOF_CHECK,
			       NULL);
	free(t);
	if (o == NULL)
		o = json_object();
	json_object_del(o, "previous");
	json_object_set_new(o, "enabled",
			    json_boolean(strcmp(l.active, VAC_NAME) == 0));
	j->out = o;
}

static void sv_work(void *arg, const volatile int *cancel)
{
	struct sv_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = j->r->mod->core->store(&h);
	const char *u = j->r->user.address;
	struct rmail_err err;
	struct listing l = {0};
	size_t len;
	char *t;

	(void)cancel;
	rmail_err_clear(&err);
	switch (j->kind) {
	case SV_LIST:
		l.arr = json_array();
		if (ops->sieve_list(h, u, list_cb, &l, &err) < 0) {
			json_decref(l.arr);
			fail(j, &err);
			return;
		}
		j->out = json_pack("{s:o}", "scripts", l.arr);
		return;
	case SV_GET:
		l.name = j->name;
		if (ops->sieve_list(h, u, list_cb, &l, &err) < 0 ||
		    (t = get_text(ops, h, u, j->name, &len, &err)) == NULL) {
			fail(j, &err);
			return;
		}
		j->out = json_pack("{s:s, s:b, s:s%}", "name", j->name,
				   "active", strcmp(l.active, j->name) == 0,
				   "script", t, len);
		free(t);
		return;
	case SV_PUT:
		if (put_script(j, ops, h, j->name, j->text, j->len) < 0)
			return;
		if (j->activate &&
		    ops->sieve_activate(h, u, j->name, &err) < 0) {
			fail(j, &err);
			return;
		}
		j->out = json_pack("{s:s}", "name", j->name);
		return;
	case SV_ACTIVATE:
	case SV_DEACTIVATE:
		if (ops->sieve_activate(h, u,
					j->kind == SV_ACTIVATE ? j->name : NULL,
					&err) < 0) {
			fail(j, &err);
			return;
		}
		j->out = json_object();
		return;
	case SV_DELETE:
		if (ops->sieve_delete(h, u, j->name, &err) < 0) {
			fail(j, &err);
			return;
		}
		j->out = json_object();
		return;
	case SV_VAC_GET:
		vac_get(j, ops, h);
		return;
	case SV_VAC_SET:
		vac_set(j, ops, h);
		return;
	}
}

static void sv_done(void *arg, int cancelled)
{
	struct sv_job *j = arg;

	if (!ex_async_end(j->r)) {
		json_decref(j->out);
		return;
	}
	if (cancelled)
		ex_error(j->r, 503, "Store unavailable");
	else if (j->status != 0)
		ex_error(j->r, j->status, j->msg);
	else
		ex_json(j->r, 200, j->out);
}

static void submit(struct ex_req *r, struct sv_job *j)
{
	j->r = r;
	ex_async_begin(r);
	if (r->mod->core->work_submit(RMAIL_WORK_WRITE, sv_work, sv_done, j) ==
	    NULL) {
		j->status = 503;
		snprintf(j->msg, sizeof(j->msg), "Busy");
		sv_done(j, 0);
	}
}

static struct sv_job *job(struct ex_req *r, enum sv_kind kind)
{
	struct sv_job *j = r->mod->core->pcalloc(r->pool, sizeof(*j));
	void *h;

	if (sv_store(r, &h) == NULL)
		return NULL;
	j->kind = kind;
	j->name = r->params[0];
	return j;
}

void ex_api_sieve_list(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_LIST);

	if (j != NULL)
		submit(r, j);
}

void ex_api_sieve_get(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_GET);

	if (j != NULL)
		submit(r, j);
}

void ex_api_sieve_put(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_PUT);
	json_t *body, *s, *a;

	if (j == NULL || (body = ex_json_parse(r)) == NULL)
		return;
	s = json_object_get(body, "script");
	a = json_object_get(body, "active");
	if (!json_is_string(s) || (a != NULL && !json_is_boolean(a))) {
		json_decref(body);
		ex_error(r, 400,
			 "Expected {\"script\": \"...\", \"active\": bool}");
		return;
	}
	j->len = json_string_length(s);
	j->text = r->mod->core->pstrndup(r->pool, json_string_value(s), j->len);
	j->activate = json_is_true(a);
	json_decref(body);
	submit(r, j);
}

void ex_api_sieve_activate(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_ACTIVATE);

	if (j != NULL)
		submit(r, j);
}

void ex_api_sieve_deactivate(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_DEACTIVATE);

	if (j != NULL)
		submit(r, j);
}

void ex_api_sieve_delete(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_DELETE);

	if (j != NULL)
		submit(r, j);
}

void ex_api_vacation_get(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_VAC_GET);

	if (j != NULL)
		submit(r, j);
}

void ex_api_vacation_post(struct ex_req *r)
{
	struct sv_job *j = job(r, SV_VAC_SET);
	json_t *body;

	if (j == NULL || (body = ex_json_parse(r)) == NULL)
		return;
	if (!json_is_boolean(json_object_get(body, "enabled"))) {
		json_decref(body);
		ex_error(r, 400, "Expected {\"enabled\": true|false, ...}");
		return;
	}
	j->text = json_dumps(body, JSON_COMPACT);
	r->mod->core->pool_cleanup_add(r->pool, free, j->text);
	json_decref(body);
	submit(r, j);
}
