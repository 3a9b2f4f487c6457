/*
 * Per-user settings (store op user_setting_get/set): a "settings"
 * object of strings in user.json.  Read straight from the file, not the
 * user cache: they are asked for rarely (a spam verdict at delivery),
 * and a hand edit is seen at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "users_int.h"

#define SS_USER_JSON_MAX (64 * 1024)
#define SETTING_NAME_MAX 64
#define SETTING_VALUE_MAX 255

static int check_name(const char *name, struct rmail_err *err)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > SETTING_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a setting name is 1 to %d of "
				     "[a-z0-9_.-]",
				     SETTING_NAME_MAX);
	return 0;
}

static int check_value(const char *v, struct rmail_err *err)
{
	if (strlen(v) > SETTING_VALUE_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a setting value is at most %d bytes",
				     SETTING_VALUE_MAX);
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "control character in a setting");
	return 0;
}

static int read_user(struct ss_store *st, const char *canon, char *path,
		     size_t pathsz, char **text_r, size_t *len_r,
		     struct rmail_err *err)
{
	if (ss_user_json_path(canon, path, pathsz, err) < 0)
		return -1;
	if (ss_read_small(st, path, SS_USER_JSON_MAX, text_r, len_r, NULL) < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", errno == ENOENT ? "no such user" : path,
			errno == ENOENT ? canon : strerror(errno));
	return 0;
}

int ss_user_setting_get(void *h, const char *address, const char *name,
			char *value_r, size_t valsz, struct rmail_err *err)
{
	char canon[RMAIL_ADDR_MAX + 1], path[SS_PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	json_t *root, *v;
	int ret = 0;

	if (valsz > 0)
		value_r[0] = '\0';
	if (check_name(name, err) < 0 ||
	    ss_canon(address, canon, NULL, NULL, err) < 0 ||
	    read_user(h, canon, path, sizeof(path), &text, &len, err) < 0)
		return -1;
	root = json_loadb(text, len, 0, NULL);
	explicit_bzero(text, len);
	free(text);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s: not a JSON object", path);
	}
	v = json_object_get(json_object_get(root, "settings"), name);
	if (json_is_string(v)) {
		if (valsz > 0)
			snprintf(value_r, valsz, "%s", json_string_value(v));
		ret = 1;
	}
	json_decref(root);
	return ret;
}

/* settings[name] = value (NULL: removed), keeping every other key */
static char *edit(const char *old, size_t oldlen, const char *name,
		  const char *value)
{
	json_t *root = json_loadb(old, oldlen, 0, NULL), *set;

	if (root == NULL)
		return NULL;
	set = json_object_get(root, "settings");
	if (!json_is_object(set)) {
		set = json_object();
		json_object_set_new(root, "settings", set);
	}
	if (value != NULL)
		json_object_set_new(set, name, json_string(value));
	else
		json_object_del(set, name);
	return ss_user_dump(root);
}

int ss_user_setting_set(void *h, const char *address, const char *name,
			const char *value, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1], dir[SS_PATH_MAX], path[SS_PATH_MAX];
	char *old = NULL, *text = NULL;
	size_t oldlen = 0;
	int lockfd, ret = -1;

	if (check_name(name, err) < 0 ||
	    (value != NULL && check_value(value, err) < 0) ||
	    ss_canon(address, canon, NULL, NULL, err) < 0 ||
	    ss_user_dir(canon, dir, sizeof(dir), err) < 0)
		return -1;
	lockfd = ss_lock_dir(st, dir, err);
	if (lockfd < 0) {
		if (err != NULL && err->code == RMAIL_E_NOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such user: %s",
				      canon);
		return -1;
	}
	if (read_user(st, canon, path, sizeof(path), &old, &oldlen, err) < 0)
		goto out;
	/* refuse to overwrite a hand-edit we cannot read */
	if (ss_user_parse(old, oldlen, &rec, err) < 0) {
		if (err != NULL)
			rmail_err_set(err, RMAIL_E_INVAL, "%s: %.200s", path,
				      err->msg);
		goto out;
	}
	text = edit(old, oldlen, name, value);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ss_write_atomic(st, dir, "user.json", text, strlen(text), 0, err) <
	    0)
		goto out;
	ret = 0;
out:
	close(lockfd);
	if (old != NULL) {
		explicit_bzero(old, oldlen);
		free(old);
	}
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}
