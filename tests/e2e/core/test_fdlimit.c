/*
 * The daemon out of file descriptors: with RLIMIT_NOFILE lowered under
 * it (prlimit on the running process) and more connections held than
 * it has descriptors, accept() fails with EMFILE.  The listener must
 * pause rather than spin: little CPU, few log lines, and accepting
 * again once connections close.  Plus `rmail check` warning when
 * limits.max_connections cannot fit under the descriptor limit.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define SPARE_FDS 16
#define EXTRA_CONNS 40

static guint count_lines_with(const char *text, const char *needle)
{
	char **lines = g_strsplit(text, "\n", -1);
	guint i, n = 0;

	for (i = 0; lines[i] != NULL; i++)
		if (strstr(lines[i], needle) != NULL)
			n++;
	g_strfreev(lines);
	return n;
}

static int open_fds(int pid)
{
	char *path = g_strdup_printf("/proc/%d/fd", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	g_assert_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	g_free(path);
	return n;
}

/* user + system CPU seconds of a process */
static double cpu_seconds(int pid)
{
	char *path = g_strdup_printf("/proc/%d/stat", pid), *text = NULL, *p;
	unsigned long ut = 0, st = 0;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	/* fields after the command name, which may hold blanks */
	p = strrchr(text, ')');
	g_assert_nonnull(p);
	g_assert_cmpint(sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			       "%lu %lu",
			       &ut, &st),
			==, 2);
	g_free(text);
	g_free(path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int dial(guint port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(fd, >=, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	return fd;
}

static void test_emfile_pauses(void)
{
	struct rmh *h = rmh_new();
	guint port = rmh_port(h, "echo");
	struct rlimit rl;
	int held[SPARE_FDS + EXTRA_CONNS];
	int pid, nfd, i;
	double cpu0, cpu1;
	guint warn_lines;
	char *err, *line = NULL;
	struct rmh_conn *c;

	rmh_set(h, "modules", "[\"mod_echo\"]");
	rmh_setf(h, "echo", "{\"listen\": [\"127.0.0.1:%u\"]}", port);
	rmh_write_config(h);
	g_assert_true(rmh_start(h));
	pid = rmh_pid(h);
	/* what it has open now, and a few more */
	nfd = open_fds(pid);
	rl.rlim_cur = rl.rlim_max = (rlim_t)(nfd + SPARE_FDS);
	g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), ==, 0);
	for (i = 0; i < SPARE_FDS + EXTRA_CONNS; i++)
		held[i] = dial(port);
	/* let it fill its table and hit EMFILE */
	g_usleep(300 * 1000);
	cpu0 = cpu_seconds(pid);
	g_usleep(1000 * 1000);
	cpu1 = cpu_seconds(pid);
	err = rmh_stderr(h);
	warn_lines = count_lines_with(err, "Too many open files");
	g_free(err);
	g_test_message("CPU over 1 s: %.3f s, EMFILE log lines: %u",
		       cpu1 - cpu0, warn_lines);
	g_assert_cmpuint(warn_lines, >=, 1);
	g_assert_cmpuint(warn_lines, <=, 5);
	g_assert_cmpfloat(cpu1 - cpu0, <, 0.25);

	/* the held connections go: it accepts again */
	for (i = 0; i < SPARE_FDS + EXTRA_CONNS; i++)
		close(held[i]);
	c = rmh_connect(port, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "+OK", &line));
	g_free(line);
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* the descriptor limit cannot hold limits.max_connections: check says so
 * (a warning: the config is still valid) */
static void test_check_warns(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;
	struct rlimit rl;

	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
	rmh_set(h, "modules", "[\"mod_echo\"]");
	rmh_setf(h, "echo", "{\"listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(h, "echo"));
	rmh_setf(h, "limits", "{\"max_connections\": %llu}",
		 (unsigned long long)(rl.rlim_max == RLIM_INFINITY
					      ? 2000000000ULL
					      : rl.rlim_max + 1));
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 0);
	g_test_message("check: %s %s", out, err);
	g_assert_nonnull(strstr(err, "RLIMIT_NOFILE"));
	g_assert_nonnull(strstr(err, "limits.max_connections"));
	g_free(out);
	g_free(err);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/e2e/core/fdlimit/emfile-pauses", test_emfile_pauses);
	g_test_add_func("/e2e/core/fdlimit/check-warns", test_check_warns);
	return g_test_run();
}
