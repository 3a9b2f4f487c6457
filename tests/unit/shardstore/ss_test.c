#include <stdlib.h>
#include <string.h>

#include "ss_test.h"

void ss_fx_open(const char *dir, struct ss_store *st)
{
	struct rmail_err err = {0};

	g_assert_cmpint(ss_store_open(st, fake_core_init(), dir, &err), ==, 0);
}

void ss_fx_setup(struct ss_fx *fx, gconstpointer data)
{
	struct rmail_err err = {0};
	int rc;

	(void)data;
	fx->dir = g_dir_make_tmp("ss-test-XXXXXX", NULL);
	g_assert_nonnull(fx->dir);
	ss_fx_open(fx->dir, &fx->st);
	rc = ss_user_add(&fx->st, SS_USER, "secret", 0, 100, &err);
	if (rc != 0)
		g_error("user_add: %s", err.msg);
}

void ss_t_rmtree(const char *dir)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	g_assert_cmpint(system(cmd), ==, 0);
	g_free(cmd);
}

void ss_fx_teardown(struct ss_fx *fx, gconstpointer data)
{
	(void)data;
	ss_store_close(&fx->st);
	ss_t_rmtree(fx->dir);
	g_free(fx->dir);
}

uint32_t ss_t_append(struct ss_store *st, const char *mbox, const char *data,
		     uint32_t flags)
{
	struct rmail_append_opts o = {.size = sizeof(o), .flags = flags};
	struct rmail_append *ap = NULL;
	struct rmail_err err = {0};
	uint32_t uid = 0, uv = 0;

	if (ss_append_begin(st, SS_USER, mbox, &o, &ap, &err) < 0 ||
	    ss_append_write(ap, data, strlen(data), &err) < 0 ||
	    ss_append_commit(ap, &uid, &uv, &err) < 0)
		g_error("append: %s", err.msg);
	ss_append_free(&ap);
	g_assert_cmpuint(uid, >, 0);
	g_assert_cmpuint(uv, >, 0);
	return uid;
}
