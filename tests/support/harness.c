/* The daemon side of the e2e harness; see harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <glib/gstdio.h>

#include "harness.h"

#define RMH_READY_TIMEOUT 90.0 /* ASan + a 4096-bit key can be slow */
#define RMH_STOP_TIMEOUT 30.0

struct rmh_key {
	char *key;
	char *json;
};

struct rmh {
	char *dir;
	char *config;
	char *notify_path;
	int notify_fd;
	GPtrArray *keys;   /* struct rmh_key *, in order */
	GHashTable *ports; /* name -> GUINT_TO_POINTER(port) */
	GPtrArray *notes;  /* notify datagrams received */
	guint notes_mark;
	pid_t pid;
	double ready_s;
};

static double now_s(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

const char *rmh_bin(void)
{
	const char *b = g_getenv("RMAIL_BIN");

	return b != NULL ? b : "build/rmail";
}

char *rmh_source_path(const char *rel)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");

	return g_build_filename(src != NULL ? src : ".", rel, NULL);
}

struct rmh *rmh_new(void)
{
	struct rmh *h = g_new0(struct rmh, 1);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	GError *e = NULL;
	char *mail;

	h->dir = g_dir_make_tmp("rmail-e2e-XXXXXX", &e);
	g_assert_no_error(e);
	h->config = g_build_filename(h->dir, "config.json", NULL);
	h->keys = g_ptr_array_new();
	h->ports = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	h->notes = g_ptr_array_new_with_free_func(g_free);
	h->pid = -1;
	mail = g_build_filename(h->dir, "mail", NULL);
	g_assert_cmpint(g_mkdir(mail, 0700), ==, 0);
	g_free(mail);

	/* the systemd side of sd_notify: a datagram socket we read */
	h->notify_path = g_build_filename(h->dir, "notify.sock", NULL);
	g_assert_cmpuint(strlen(h->notify_path), <, sizeof(sun.sun_path));
	memcpy(sun.sun_path, h->notify_path, strlen(h->notify_path) + 1);
	h->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(h->notify_fd, >=, 0);
	g_assert_cmpint(
		bind(h->notify_fd, (struct sockaddr *)&sun, sizeof(sun)), ==,
		0);
	return h;
}

static void rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;

	if (d != NULL) {
		while ((n = g_dir_read_name(d)) != NULL) {
			char *p = g_build_filename(path, n, NULL);

			if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
			    !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
				rm_rf(p);
			else
				unlink(p);
			g_free(p);
		}
		g_dir_close(d);
	}
	rmdir(path);
}

void rmh_free(struct rmh *h)
{
	guint i;

	if (h == NULL)
		return;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	close(h->notify_fd);
	for (i = 0; i < h->keys->len; i++) {
		struct rmh_key *k = h->keys->pdata[i];

		g_free(k->key);
		g_free(k->json);
		g_free(k);
	}
	g_ptr_array_free(h->keys, TRUE);
	g_hash_table_destroy(h->ports);
	g_ptr_array_free(h->notes, TRUE);
	if (g_getenv("RMH_KEEP") == NULL)
		rm_rf(h->dir);
	g_free(h->notify_path);
	g_free(h->config);
	g_free(h->dir);
	g_free(h);
}

const char *rmh_dir(struct rmh *h)
{
	return h->dir;
}

const char *rmh_config_path(struct rmh *h)
{
	return h->config;
}

guint rmh_port(struct rmh *h, const char *name)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	gpointer v;
	int fd;

	if (g_hash_table_lookup_extended(h->ports, name, NULL, &v))
		return GPOINTER_TO_UINT(v);
	/* the kernel's pick among free ephemeral ports; the tiny window
	 * until the daemon binds it is acceptable on a test machine.  A
	 * port closed here may be handed out again at once, so two names
	 * of one harness could get the same one: pick again then. */
	for (int tries = 0;; tries++) {
		GHashTableIter it;
		gboolean taken = FALSE;

		a.sin_port = 0;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==,
				0);
		g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len),
				==, 0);
		close(fd);
		g_hash_table_iter_init(&it, h->ports);
		while (g_hash_table_iter_next(&it, NULL, &v))
			if (GPOINTER_TO_UINT(v) == ntohs(a.sin_port))
				taken = TRUE;
		if (!taken)
			break;
		g_assert_cmpint(tries, <, 100);
	}
	g_hash_table_insert(h->ports, g_strdup(name),
			    GUINT_TO_POINTER(ntohs(a.sin_port)));
	return ntohs(a.sin_port);
}

void rmh_set(struct rmh *h, const char *key, const char *json)
{
	struct rmh_key *k;
	guint i;

	for (i = 0; i < h->keys->len; i++) {
		k = h->keys->pdata[i];
		if (strcmp(k->key, key) == 0) {
			g_free(k->json);
			k->json = g_strdup(json);
			return;
		}
	}
	k = g_new0(struct rmh_key, 1);
	k->key = g_strdup(key);
	k->json = g_strdup(json);
	g_ptr_array_add(h->keys, k);
}

void rmh_setf(struct rmh *h, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	rmh_set(h, key, s);
	g_free(s);
}

void rmh_unset(struct rmh *h, const char *key)
{
	guint i;

	for (i = 0; i < h->keys->len; i++) {
		struct rmh_key *k = h->keys->pdata[i];

		if (strcmp(k->key, key) == 0) {
			g_ptr_array_remove_index(h->keys, i);
			g_free(k->key);
			g_free(k->json);
			g_free(k);
			return;
		}
	}
}

static bool has_key(struct rmh *h, const char *key)
{
	guint i;

	for (i = 0; i < h->keys->len; i++)
		if (strcmp(((struct rmh_key *)h->keys->pdata[i])->key, key) ==
		    0)
			return true;
	return false;
}

void rmh_write_config(struct rmh *h)
{
	GString *s = g_string_new("{\n");
	const char *mods = g_getenv("RMAIL_MODULE_DIR");
	char *cert = rmh_source_path("tests/certs/cert.pem");
	char *key = rmh_source_path("tests/certs/key.pem");
	GError *e = NULL;
	guint i;

	if (!has_key(h, "hostname"))
		rmh_set(h, "hostname", "\"mail.example.test\"");
	if (!has_key(h, "mail_root"))
		rmh_setf(h, "mail_root", "\"%s/mail\"", h->dir);
	if (!has_key(h, "module_dir") && mods != NULL)
		rmh_setf(h, "module_dir", "\"%s\"", mods);
	if (!has_key(h, "modules"))
		rmh_set(h, "modules", "[]");
	if (!has_key(h, "tls"))
		rmh_setf(h, "tls",
			 "{\"cert_file\": \"%s\", "
			 "\"key_file\": \"%s\"}",
			 cert, key);
	if (!has_key(h, "shutdown_timeout"))
		rmh_set(h, "shutdown_timeout", "5");
	/* one process unless a test asks for workers: the suite starts
	 * hundreds of daemons on two cores */
	if (!has_key(h, "processes"))
		rmh_set(h, "processes", "1");
	for (i = 0; i < h->keys->len; i++) {
		struct rmh_key *k = h->keys->pdata[i];

		g_string_append_printf(s, "  \"%s\": %s%s\n", k->key, k->json,
				       i + 1 < h->keys->len ? "," : "");
	}
	g_string_append(s, "}\n");
	g_file_set_contents(h->config, s->str, -1, &e);
	g_assert_no_error(e);
	g_string_free(s, TRUE);
	g_free(cert);
	g_free(key);
}

void rmh_write_config_text(struct rmh *h, const char *text)
{
	GError *e = NULL;

	g_file_set_contents(h->config, text, -1, &e);
	g_assert_no_error(e);
}

static void drain_notes(struct rmh *h, int timeout_ms)
{
	struct pollfd p = {.fd = h->notify_fd, .events = POLLIN};
	char buf[4096];

	while (poll(&p, 1, timeout_ms) > 0) {
		ssize_t n =
			recv(h->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n <= 0)
			break;
		buf[n] = '\0';
		g_ptr_array_add(h->notes, g_strdup(buf));
		timeout_ms = 0;
	}
}

static char *log_path(struct rmh *h, const char *name)
{
	return g_build_filename(h->dir, name, NULL);
}

static pid_t spawn(struct rmh *h, const char *const *argv, const char *in,
		   const char *out_name, const char *err_name, bool notify)
{
	char *out = log_path(h, out_name), *err = log_path(h, err_name);
	char *inp = NULL;
	pid_t pid;

	if (in != NULL) {
		inp = log_path(h, "stdin.txt");
		g_assert_true(g_file_set_contents(inp, in, -1, NULL));
	}
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int fo = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int fe = open(err, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int fi = open(inp != NULL ? inp : "/dev/null", O_RDONLY);

		if (fo < 0 || fe < 0 || fi < 0)
			_exit(127);
		/* a test that aborts on an assertion must not leave its
		 * daemon holding ports for the rest of the suite */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		if (notify)
			setenv("NOTIFY_SOCKET", h->notify_path, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		unsetenv("RMAIL_CONFIG");
		execv(rmh_bin(), (char *const *)argv);
		_exit(127);
	}
	g_free(out);
	g_free(err);
	g_free(inp);
	return pid;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	g_test_message("rmail died of signal %d", WTERMSIG(st));
	return -1;
}

static void truncate_logs(struct rmh *h)
{
	char *o = log_path(h, "stdout.log"), *e = log_path(h, "stderr.log");

	g_file_set_contents(o, "", 0, NULL);
	g_file_set_contents(e, "", 0, NULL);
	g_free(o);
	g_free(e);
}

bool rmh_start(struct rmh *h)
{
	const char *argv[] = {rmh_bin(), "-c", h->config, "serve", NULL};
	double t0 = now_s();
	char *err;
	int st;

	g_assert_cmpint(h->pid, <, 0);
	if (!g_file_test(h->config, G_FILE_TEST_EXISTS))
		rmh_write_config(h);
	truncate_logs(h);
	g_ptr_array_set_size(h->notes, 0);
	h->notes_mark = 0;
	h->pid = spawn(h, argv, NULL, "stdout.log", "stderr.log", true);
	while (now_s() - t0 < RMH_READY_TIMEOUT) {
		guint i;

		drain_notes(h, 20);
		for (i = 0; i < h->notes->len; i++) {
			if (strstr(h->notes->pdata[i], "READY=1") != NULL) {
				h->ready_s = now_s() - t0;
				h->notes_mark = h->notes->len;
				return true;
			}
		}
		if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
			err = rmh_stderr(h);
			g_test_message("rmail exited (%d) before ready:\n%s",
				       decode_status(st), err);
			g_free(err);
			h->pid = -1;
			return false;
		}
	}
	err = rmh_stderr(h);
	g_test_message("rmail not ready after %.0f s:\n%s", RMH_READY_TIMEOUT,
		       err);
	g_free(err);
	return false;
}

int rmh_start_expect_exit(struct rmh *h, double timeout)
{
	const char *argv[] = {rmh_bin(), "-c", h->config, "serve", NULL};
	double t0 = now_s();
	int st;

	g_assert_cmpint(h->pid, <, 0);
	truncate_logs(h);
	h->pid = spawn(h, argv, NULL, "stdout.log", "stderr.log", true);
	while (now_s() - t0 < timeout) {
		if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
			h->pid = -1;
			return decode_status(st);
		}
		g_usleep(10000);
	}
	return -2; /* still running; rmh_stop/rmh_free end it */
}

double rmh_ready_seconds(struct rmh *h)
{
	return h->ready_s;
}

int rmh_pid(struct rmh *h)
{
	return h->pid;
}

void rmh_signal(struct rmh *h, int sig)
{
	g_assert_cmpint(h->pid, >, 0);
	kill(h->pid, sig);
}

void rmh_notify_mark(struct rmh *h)
{
	drain_notes(h, 0);
	h->notes_mark = h->notes->len;
}

bool rmh_wait_notify(struct rmh *h, const char *state, double timeout)
{
	double t0 = now_s();

	do {
		guint i;

		drain_notes(h, 20);
		for (i = h->notes_mark; i < h->notes->len; i++) {
			if (strstr(h->notes->pdata[i], state) != NULL) {
				h->notes_mark = i + 1;
				return true;
			}
		}
	} while (now_s() - t0 < timeout);
	return false;
}

int rmh_stop(struct rmh *h)
{
	double t0 = now_s();
	int st;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	while (now_s() - t0 < RMH_STOP_TIMEOUT) {
		if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
			h->pid = -1;
			return decode_status(st);
		}
		g_usleep(5000);
	}
	g_test_message("rmail did not stop within %.0f s", RMH_STOP_TIMEOUT);
	kill(h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	h->pid = -1;
	return -2;
}

static char *read_log(struct rmh *h, const char *name)
{
	char *p = log_path(h, name), *s = NULL;

	if (!g_file_get_contents(p, &s, NULL, NULL))
		s = g_strdup("");
	g_free(p);
	return s;
}

char *rmh_stderr(struct rmh *h)
{
	return read_log(h, "stderr.log");
}

char *rmh_stdout(struct rmh *h)
{
	return read_log(h, "stdout.log");
}

bool rmh_wait_log(struct rmh *h, const char *needle, double timeout)
{
	double t0 = now_s();

	do {
		char *s = rmh_stderr(h);
		bool found = strstr(s, needle) != NULL;

		g_free(s);
		if (found)
			return true;
		g_usleep(20000);
	} while (now_s() - t0 < timeout);
	return false;
}

long rmh_rss_kb(struct rmh *h)
{
	char *path = g_strdup_printf("/proc/%d/status", (int)h->pid);
	char *s = NULL, *p;
	long kb = -1;

	if (g_file_get_contents(path, &s, NULL, NULL) &&
	    (p = strstr(s, "VmRSS:")) != NULL)
		kb = strtol(p + 6, NULL, 10);
	g_free(s);
	g_free(path);
	return kb;
}

int rmh_run_argv(struct rmh *h, const char *const *argv, const char *input,
		 char **out_r, char **err_r)
{
	GPtrArray *a = g_ptr_array_new();
	char *o = log_path(h, "run.out"), *e = log_path(h, "run.err");
	pid_t pid;
	int st, i;

	g_ptr_array_add(a, (gpointer)rmh_bin());
	for (i = 1; argv[i] != NULL; i++)
		g_ptr_array_add(a, (gpointer)argv[i]);
	g_ptr_array_add(a, NULL);
	g_file_set_contents(o, "", 0, NULL);
	g_file_set_contents(e, "", 0, NULL);
	pid = spawn(h, (const char *const *)a->pdata, input, "run.out",
		    "run.err", false);
	g_ptr_array_free(a, TRUE);
	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	if (out_r != NULL)
		*out_r = read_log(h, "run.out");
	if (err_r != NULL)
		*err_r = read_log(h, "run.err");
	g_free(o);
	g_free(e);
	return decode_status(st);
}

int rmh_run(struct rmh *h, char **out_r, char **err_r, ...)
{
	GPtrArray *a = g_ptr_array_new();
	const char *arg;
	va_list ap;
	int rc;

	g_ptr_array_add(a, (gpointer) "rmail");
	g_ptr_array_add(a, (gpointer) "-c");
	g_ptr_array_add(a, h->config);
	va_start(ap, err_r);
	while ((arg = va_arg(ap, const char *)) != NULL)
		g_ptr_array_add(a, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(a, NULL);
	rc = rmh_run_argv(h, (const char *const *)a->pdata, NULL, out_r, err_r);
	g_ptr_array_free(a, TRUE);
	return rc;
}

void rmh_store_setup(struct rmh_store *f, gconstpointer data)
{
	const char *mods = g_getenv("RMAIL_MODULE_DIR");
	char *text, *root;

	(void)data;
	f->dir = g_dir_make_tmp("rmstore-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	root = g_build_filename(f->dir, "mail", NULL);
	g_assert_cmpint(g_mkdir(root, 0700), ==, 0);
	f->config = g_build_filename(f->dir, "config.json", NULL);
	text = g_strdup_printf("{\"hostname\": \"mx.test\", \"mail_root\": "
			       "\"%s\", \"module_dir\": \"%s\", \"modules\": "
			       "[\"mod_shardstore\"]}\n",
			       root, mods != NULL ? mods : "modules");
	g_assert_true(g_file_set_contents(f->config, text, -1, NULL));
	g_free(text);
	g_free(root);
}

void rmh_store_teardown(struct rmh_store *f, gconstpointer data)
{
	(void)data;
	if (g_getenv("RMH_KEEP") == NULL)
		rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->config);
}

static void new_session(gpointer data)
{
	(void)data;
	setsid();
}

struct rmh_cmd rmh_store_run(struct rmh_store *f, const char *input,
			     const char *args)
{
	struct rmh_cmd r = {0};
	GError *error = NULL;
	char *cmd, *qbin, *qconf, *qin, *argv[4];
	int status = 0;

	qbin = g_shell_quote(rmh_bin());
	qconf = g_shell_quote(f->config);
	qin = g_shell_quote(input != NULL ? input : "");
	if (input != NULL)
		cmd = g_strdup_printf("printf '%%s\\n' %s | %s -c %s %s", qin,
				      qbin, qconf, args);
	else
		cmd = g_strdup_printf("%s -c %s %s </dev/null", qbin, qconf,
				      args);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, new_session, NULL,
				   &r.out, &r.err, &status, &error));
	g_assert_no_error(error);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	g_test_message("$ rmail %s -> %d\n%s%s", args, r.status, r.out, r.err);
	g_free(cmd);
	g_free(qbin);
	g_free(qconf);
	g_free(qin);
	return r;
}

void rmh_cmd_free(struct rmh_cmd *r)
{
	g_free(r->out);
	g_free(r->err);
}
