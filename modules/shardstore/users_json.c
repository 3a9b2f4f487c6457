/*
 * user.json: parse (hostile input: admins hand-edit it) and render.
 * Unknown keys are kept on rewrite so newer fields survive older tools.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "users_int.h"

static int get_bool(json_t *o, const char *key, int *out, struct rmail_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s: expected true or false", key);
	*out = json_is_true(v) ? 1 : 0;
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out,
		   struct rmail_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s: expected a non-negative integer",
				     key);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int get_str(json_t *o, const char *key, char *out, size_t outsz,
		   struct rmail_err *err)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s: expected a string", key);
	n = json_string_length(v);
	if (n >= outsz || memchr(json_string_value(v), '\0', n) != NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "%s: too long", key);
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

int ss_user_parse(const char *data, size_t len, struct ss_user_rec *u_r,
		  struct rmail_err *err)
{
	struct ss_user_rec u;
	json_error_t jerr;
	json_t *root;
	int64_t gen = 0;
	int ret = -1;

	memset(&u, 0, sizeof(u));
	u.quota_mb = SS_DEFAULT_QUOTA_MB;
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "line %d column %d: %s", jerr.line,
				     jerr.column, jerr.text);
	if (!json_is_object(root)) {
		rmail_err_set(err, RMAIL_E_INVAL, "expected a JSON object");
		goto out;
	}
	if (get_str(root, "address", u.address, sizeof(u.address), err) < 0 ||
	    get_str(root, "password_hash", u.hash, sizeof(u.hash), err) < 0 ||
	    get_bool(root, "admin", &u.admin, err) < 0 ||
	    get_bool(root, "disabled", &u.disabled, err) < 0 ||
	    get_int(root, "quota_mb", &u.quota_mb, err) < 0 ||
	    get_int(root, "created", &u.created, err) < 0 ||
	    get_int(root, "token_gen", &gen, err) < 0)
		goto out;
	if (u.quota_mb > INT64_MAX / (1024 * 1024)) {
		rmail_err_set(err, RMAIL_E_INVAL, "quota_mb: too large");
		goto out;
	}
	u.token_gen = (uint64_t)gen;
	*u_r = u;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

char *ss_user_render(const struct ss_user_rec *u, const char *old,
		     size_t oldlen)
{
	json_t *root = NULL;

	if (old != NULL)
		root = json_loadb(old, oldlen, 0, NULL);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	if (root == NULL)
		root = json_object();
	if (root == NULL)
		return NULL;
	json_object_set_new(root, "address", json_string(u->address));
	json_object_set_new(root, "password_hash", json_string(u->hash));
	json_object_set_new(root, "admin", json_boolean(u->admin));
	json_object_set_new(root, "disabled", json_boolean(u->disabled));
	json_object_set_new(root, "quota_mb", json_integer(u->quota_mb));
	json_object_set_new(root, "created", json_integer(u->created));
	json_object_set_new(root, "token_gen",
			    json_integer((json_int_t)u->token_gen));
	return ss_user_dump(root);
}

char *ss_user_dump(json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *out;
	size_t n;

	json_decref(root);
	if (text == NULL)
		return NULL;
	n = strlen(text);
	out = realloc(text, n + 2);
	if (out == NULL) {
		free(text);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}
