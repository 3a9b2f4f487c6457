/*
 * index.enabled false costs nothing: the core's copy of the store's
 * table is not wrapped, so no view or append is tracked for index
 * updates and no index file or directory appears.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "index/index.h"
#include "rm.h"

#define USER "off@example.test"

static const struct rmail_store_ops *ops;
static void *h;
static char *tmp;

static void test_off_untracked(void)
{
	struct rmail_append_opts o = {.size = sizeof(o), .nosync = 1};
	static const char msg[] = "From: a@example.test\r\n\r\nhi\r\n";
	struct rmail_append *ap = NULL;
	struct rmail_mbox *mb = NULL;
	struct rmail_err err;
	uint32_t uid, uv;
	char *dir;

	g_assert_cmpint(ops->append_begin(h, USER, "INBOX", &o, &ap, &err), ==,
			0);
	g_assert_cmpuint(rm_index_hook_tracked(), ==, 0);
	g_assert_cmpint(ops->append_write(ap, msg, strlen(msg), &err), ==, 0);
	g_assert_cmpint(ops->append_commit(ap, &uid, &uv, &err), ==, 0);
	ops->append_free(&ap);
	g_assert_cmpint(ops->mbox_open(h, USER, "INBOX", &mb, &err), ==, 0);
	g_assert_cmpuint(ops->mbox_count(mb), ==, 1);
	g_assert_cmpuint(rm_index_hook_tracked(), ==, 0);
	g_assert_cmpint(ops->msg_expunge(mb, &uid, 1, &err), ==, 0);
	ops->mbox_close(&mb);
	g_assert_cmpuint(rm_index_hook_tracked(), ==, 0);
	dir = g_build_filename(tmp, "index", NULL);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_free(dir);
}

int main(int argc, char **argv)
{
	struct rm_cli cli = {.quiet_init = true};
	struct rmail_err err;
	char *conf, *text, *cmd;
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmp = g_dir_make_tmp("core-index-off-XXXXXX", NULL);
	conf = g_build_filename(tmp, "config.json", NULL);
	text = g_strdup_printf("{\"hostname\": \"mx.test\", \"mail_root\": "
			       "\"%s/mail\", \"module_dir\": \"%s\", "
			       "\"modules\": [\"mod_shardstore\"], "
			       "\"index\": {\"enabled\": false}}",
			       tmp, g_getenv("RMAIL_MODULE_DIR"));
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	cli.config_path = conf;
	g_assert_cmpint(rm_cli_store(&cli, &ops, &h), ==, 0);
	g_assert_cmpint(ops->user_add(h, USER, "pw-secret-1", 0, 0, &err), ==,
			0);
	g_test_add_func("/core/index/off-untracked", test_off_untracked);
	rc = g_test_run();
	cmd = g_strdup_printf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		rc = 1;
	g_free(cmd);
	g_free(conf);
	g_free(text);
	g_free(tmp);
	return rc;
}
