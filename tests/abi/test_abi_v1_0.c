/*
 * ABI 1.0 keeps working: modules built against the frozen 1.0 headers
 * (tests/abi/v1_0/) load into this core and work with the current
 * modules, the layouts those headers describe still match, and a
 * module claiming a newer minor is refused with one line.
 *
 * Arguments: the fx10 fixture directory and the refusal fixtures'.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "fx10_sizes.h"
#include "harness.h"

static const char *fx10_dir, *refusal_dir;

static void test_sizes(void)
{
	const size_t now[FX10_NSIZES] = {
		RMAIL_MODULE_SIZE_1_0,	    RMAIL_CORE_SIZE_1_0,
		RMAIL_PROTO_OPS_SIZE_1_0,   RMAIL_LISTEN_OPTS_SIZE_1_0,
		RMAIL_SUBMIT_OPTS_SIZE_1_0, RMAIL_STORE_OPS_SIZE_1_0,
		RMAIL_APPEND_OPTS_SIZE_1_0, RMAIL_USER_UPDATE_SIZE_1_0,
		RMAIL_MBOX_STATUS_SIZE_1_0, RMAIL_FILTER_OPS_SIZE_1_0,
		RMAIL_FILTER_MSG_SIZE_1_0,  RMAIL_MIME_LIMITS_SIZE_1_0,
		RMAIL_JWT_CLAIMS_SIZE_1_0,
	};
	const size_t fixed[FX10_NFIXED] = {
		sizeof(struct rmail_user),
		sizeof(struct rmail_msg),
		sizeof(struct rmail_change),
		sizeof(struct rmail_mbox_entry),
		sizeof(struct rmail_line),
		sizeof(struct rmail_mime_part),
		sizeof(struct rmail_mime_addr),
		sizeof(struct rmail_auth_result),
		sizeof(struct rmail_submit_result),
		sizeof(struct rmail_rcpt_result),
		sizeof(struct rmail_filter_result),
		sizeof(struct rmail_conf_key),
		sizeof(struct rmail_err),
	};

	for (size_t i = 0; i < FX10_NSIZES; i++) {
		if (now[i] != fx10_sizes[i])
			g_test_message("sized struct #%zu: 1.0 size %zu in the "
				       "frozen headers, %zu now",
				       i, fx10_sizes[i], now[i]);
		g_assert_cmpuint(now[i], ==, fx10_sizes[i]);
	}
	for (size_t i = 0; i < FX10_NFIXED; i++) {
		if (fixed[i] != fx10_fixed[i])
			g_test_message("fixed struct #%zu: %zu bytes in 1.0, "
				       "%zu now",
				       i, fx10_fixed[i], fixed[i]);
		g_assert_cmpuint(fixed[i], ==, fx10_fixed[i]);
	}
	/* the current structs only ever grow past their 1.0 size */
	g_assert_cmpuint(sizeof(struct rmail_store_ops), >=,
			 RMAIL_STORE_OPS_SIZE_1_0);
	g_assert_cmpuint(sizeof(struct rmail_module), >=,
			 RMAIL_MODULE_SIZE_1_0);
}

/* a module directory of symlinks: the fixtures and current modules */
static char *module_dir(struct rmh *h, const char *const *mods)
{
	char *dir = g_build_filename(rmh_dir(h), "modules", NULL);

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	for (size_t i = 0; mods[i] != NULL; i += 2) {
		char *src = g_build_filename(mods[i], mods[i + 1], NULL);
		char *dst = g_build_filename(dir, mods[i + 1], NULL);

		g_assert_cmpint(symlink(src, dst), ==, 0);
		g_free(src);
		g_free(dst);
	}
	return dir;
}

static char *ask(struct rmh_conn *c, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	return rmh_readline(c, 10);
}

static void smtp_deliver(guint port, const char *rcpt)
{
	struct rmh_conn *c = rmh_connect(port, false);

	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "220 ", NULL));
	g_assert_true(rmh_send(c, "EHLO client.test"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "MAIL FROM:<someone@remote.test>"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "RCPT TO:<%s>", rcpt));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "DATA"));
	g_assert_true(rmh_expect(c, "354 ", NULL));
	g_assert_true(rmh_send(c, "From: someone@remote.test\r\n"
				  "Subject: abi 1.0\r\n\r\nhello\r\n."));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	rmh_send(c, "QUIT");
	rmh_conn_close(c);
}

/* a 1.0 store under the current core and mod_smtp: delivery reaches
 * it, a 1.0 protocol module and the CLI read it back */
static void test_store_1_0(void)
{
	struct rmh *h = rmh_new();
	const char *mods[] = {fx10_dir,
			      "mod_fx10store.so",
			      fx10_dir,
			      "mod_fx10proto.so",
			      g_getenv("RMAIL_MODULE_DIR"),
			      "mod_smtp.so",
			      NULL};
	char *dir = module_dir(h, mods), *line, *out = NULL, *err = NULL;
	guint smtp = rmh_port(h, "smtp"), fx = rmh_port(h, "fx");
	struct rmh_conn *c;

	rmh_setf(h, "module_dir", "\"%s\"", dir);
	rmh_set(h, "modules",
		"[\"mod_fx10store\", \"mod_smtp\", \"mod_fx10proto\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 smtp);
	rmh_setf(h, "fx10proto", "{\"listen\": [\"127.0.0.1:%u\"]}", fx);
	rmh_write_config(h);
	g_assert_true(rmh_start(h));

	smtp_deliver(smtp, "fx@example.test");
	c = rmh_connect(fx, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "* fx10 ready", NULL));
	line = ask(c, "STATUS fx@example.test INBOX");
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "OK messages=1 "));
	g_assert_nonnull(strstr(line, "canary=intact"));
	g_free(line);
	line = ask(c, "USER FX@example.test");
	g_assert_cmpstr(line, ==, "OK fx@example.test");
	g_free(line);
	line = ask(c, "USER nobody@example.test");
	g_assert_true(g_str_has_prefix(line, "NO "));
	g_free(line);
	rmh_conn_close(c);

	g_assert_cmpint(rmh_run(h, &out, &err, "user", "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "fx@example.test"));
	g_free(out);
	g_free(err);
	/* check-store is the store's own op: a store without it says so
	 * instead of the core walking a layout it does not know */
	g_assert_cmpint(rmh_run(h, &out, &err, "check-store", NULL), ==, 1);
	g_test_message("check-store: %s %s", out, err);
	g_assert_nonnull(strstr(err, "this store cannot check itself"));
	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(dir);
	rmh_free(h);
}

/* a 1.0 protocol module on the current store: the store writes no more
 * than the 1.0 status the module handed it; a newer-minor module is
 * refused with one line and the rest of the daemon runs */
static void test_proto_1_0(void)
{
	struct rmh *h = rmh_new();
	const char *mods[] = {fx10_dir,
			      "mod_fx10proto.so",
			      g_getenv("RMAIL_MODULE_DIR"),
			      "mod_shardstore.so",
			      refusal_dir,
			      "mod_minor.so",
			      NULL};
	const char *argv[] = {"rmail",
			      "-c",
			      NULL,
			      "user",
			      "add",
			      "amy@example.test",
			      "--password-stdin",
			      NULL};
	char *dir = module_dir(h, mods), *line, *out = NULL, *err = NULL, *log,
	     *want;
	guint fx = rmh_port(h, "fx");
	struct rmh_conn *c;

	rmh_setf(h, "module_dir", "\"%s\"", dir);
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_minor\", \"mod_fx10proto\"]");
	rmh_setf(h, "fx10proto", "{\"listen\": [\"127.0.0.1:%u\"]}", fx);
	rmh_write_config(h);
	argv[2] = rmh_config_path(h);
	g_assert_cmpint(rmh_run_argv(h, argv, "pw-amy\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(h));

	c = rmh_connect(fx, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "* fx10 ready", NULL));
	line = ask(c, "STATUS amy@example.test INBOX");
	/* the 1.0 struct ends at highestmodseq (no tail padding) */
	want = g_strdup_printf("OK messages=0 bytes=0 size=%zu canary=intact",
			       (size_t)RMAIL_MBOX_STATUS_SIZE_1_0);
	/* the store filled exactly the bytes the 1.0 module has */
	g_assert_cmpstr(line, ==, want);
	g_free(want);
	g_free(line);
	rmh_conn_close(c);

	log = rmh_stderr(h);
	want = g_strdup_printf("module %s/mod_minor.so refused: built for ABI "
			       "%u.%u, core provides %u.%u",
			       dir, RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR + 1,
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	g_assert_nonnull(strstr(log, want));
	/* one line for the refusal, nothing else about that module */
	g_assert_null(strstr(strstr(log, want) + strlen(want), "mod_minor"));
	g_free(want);
	g_free(log);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(dir);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 3) {
		g_printerr("usage: %s FX10_DIR REFUSAL_FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fx10_dir = argv[1];
	refusal_dir = argv[2];
	g_test_add_func("/abi/v1_0/sizes", test_sizes);
	g_test_add_func("/abi/v1_0/store", test_store_1_0);
	g_test_add_func("/abi/v1_0/proto", test_proto_1_0);
	return g_test_run();
}
