/*
 * The queue commands of the real build/rmail against a running daemon:
 * an entry for a next hop where nothing listens stays queued after the
 * immediate first attempt; list and show describe it, retry makes the
 * daemon try again at once (control socket "queue kick"), drop removes
 * it.  The entry is written with the core's own queue code, the format
 * every process sharing the mail root uses.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rm.h"
#include "submit/submit_int.h"

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

static uint32_t attempts_of(const char *id)
{
	struct rm_qentry e;
	uint32_t n;

	if (rm_queue_load(id, &e, NULL) < 0)
		return 0;
	n = e.attempts;
	rm_queue_entry_free(&e);
	return n;
}

static gboolean wait_attempts(const char *id, uint32_t n)
{
	for (int i = 0; i < 500; i++) {
		if (attempts_of(id) >= n)
			return TRUE;
		g_usleep(10000);
	}
	return FALSE;
}

static void test_queue_commands(void)
{
	struct rmh *h = rmh_new();
	struct rm_config *conf = NULL;
	struct rm_msg_src src = {0};
	struct rmail_err err;
	const char *rcpts[] = {"someone@remote.test"};
	const char *msg = "Subject: queued\r\n\r\nhello\r\n";
	char id[RM_QID_MAX], *out = NULL, *errs = NULL, *tmp;
	int fd;

	rmh_set(h, "modules", "[\"mod_shardstore\"]");
	/* a port nobody listens on: every attempt fails temporarily */
	rmh_setf(h, "delivery",
		 "{\"retry_initial\": \"1h\", "
		 "\"routes\": {\"remote.test\": \"127.0.0.1:%u\"}}",
		 rmh_port(h, "dead"));
	rmh_write_config(h);

	g_assert_cmpint(rm_config_load(rmh_config_path(h), &conf, report, NULL),
			==, 0);
	rm_conf_set(conf);
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	tmp = g_build_filename(rmh_dir(h), "msg", NULL);
	g_assert_true(g_file_set_contents(tmp, msg, -1, NULL));
	fd = open(tmp, O_RDONLY);
	src.prefix = "Received: by test; now\r\n";
	src.fd = fd;
	src.size = strlen(msg);
	rm_submit_new_id(id);
	g_assert_cmpint(rm_queue_add(id, "alice@example.test", rcpts, 1, &src,
				     false, &err),
			==, 0);
	close(fd);

	/* without a daemon: list and show read the files */
	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, id));
	g_assert_nonnull(strstr(out, "1 pending of 1"));
	g_free(out);
	g_free(errs);

	g_assert_true(rmh_start(h));
	/* the first attempt is immediate, and fails */
	g_assert_true(wait_attempts(id, 1));

	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "show", id, NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "rcpt: <someone@remote.test> pending"));
	g_assert_nonnull(strstr(out, "from: <alice@example.test>"));
	g_assert_nonnull(strstr(out, "Subject: queued"));
	g_free(out);
	g_free(errs);

	/* retry: due now, and the daemon is kicked through its socket */
	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "retry", id, NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "retry scheduled"));
	g_free(out);
	g_free(errs);
	g_assert_true(wait_attempts(id, 2));

	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "show", "0123", NULL),
			!=, 0);
	g_free(out);
	g_free(errs);
	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "drop", id, NULL), ==,
			0);
	g_free(out);
	g_free(errs);
	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "queue is empty"));
	g_free(out);
	g_free(errs);
	/* usage errors */
	g_assert_cmpint(rmh_run(h, &out, &errs, "queue", "bogus", NULL), !=, 0);
	g_free(out);
	g_free(errs);

	g_assert_cmpint(rmh_stop(h), ==, 0);
	rm_conf_set(NULL);
	rm_config_free(&conf);
	g_free(tmp);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/submit/queue-commands", test_queue_commands);
	return g_test_run();
}
