/* MTA-STS / TLS-RPT test fixtures (sts_fixture.h) */
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sts_fixture.h"

static void run(char **argv)
{
	char *out = NULL, *err = NULL;
	int st = -1;

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &st, NULL));
	if (!g_spawn_check_wait_status(st, NULL))
		g_error("%s failed: %s%s", argv[0], out, err);
	g_free(out);
	g_free(err);
}

void sts_make_ca(const char *dir)
{
	char *key = g_build_filename(dir, "ca.key", NULL);
	char *pem = g_build_filename(dir, "ca.pem", NULL);
	char *argv[] = {"openssl",
			"req",
			"-x509",
			"-newkey",
			"ec",
			"-pkeyopt",
			"ec_paramgen_curve:prime256v1",
			"-nodes",
			"-keyout",
			key,
			"-out",
			pem,
			"-days",
			"3",
			"-subj",
			"/CN=rmail test CA",
			"-addext",
			"basicConstraints=critical,CA:TRUE",
			"-addext",
			"keyUsage=critical,keyCertSign",
			NULL};

	run(argv);
	g_free(key);
	g_free(pem);
}

void sts_make_cert(const char *dir, const char *name, const char *sans)
{
	char *ca = g_build_filename(dir, "ca.pem", NULL);
	char *cakey = g_build_filename(dir, "ca.key", NULL);
	char *kf = g_strdup_printf("%s/%s.key", dir, name);
	char *pf = g_strdup_printf("%s/%s.pem", dir, name);
	char **list = g_strsplit(sans, ",", -1);
	GString *san = g_string_new("subjectAltName=");
	char *subj;

	for (char **p = list; *p != NULL; p++)
		g_string_append_printf(san, "%sDNS:%s", p == list ? "" : ",",
				       *p);
	subj = g_strdup_printf("/CN=%s", list[0]);
	{
		char *argv[] = {"openssl",
				"req",
				"-x509",
				"-CA",
				ca,
				"-CAkey",
				cakey,
				"-newkey",
				"ec",
				"-pkeyopt",
				"ec_paramgen_curve:prime256v1",
				"-nodes",
				"-keyout",
				kf,
				"-out",
				pf,
				"-days",
				"2",
				"-subj",
				subj,
				"-addext",
				san->str,
				"-addext",
				"basicConstraints=CA:FALSE",
				NULL};

		run(argv);
	}
	g_strfreev(list);
	g_string_free(san, TRUE);
	g_free(subj);
	g_free(ca);
	g_free(cakey);
	g_free(kf);
	g_free(pf);
}

/* the server goes with the test, even one that aborts */
static void die_with_parent(void *arg)
{
	(void)arg;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void sts_server_start(struct sts_server *s, const char *dir, const char *cert,
		      const char *root)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");
	char *script =
		g_build_filename(src != NULL ? src : ".", "tests", "support",
				 "https_test_server.py", NULL);
	char *pf = g_strdup_printf("%s/%s.pem", dir, cert);
	char *kf = g_strdup_printf("%s/%s.key", dir, cert);
	char *argv[] = {"python3", script, pf, kf, (char *)root, NULL};
	char line[64] = "";
	int out = -1;
	FILE *f;

	g_assert_cmpint(g_mkdir_with_parents(root, 0700), ==, 0);
	g_assert_true(g_spawn_async_with_pipes(
		NULL, argv, NULL,
		G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
		die_with_parent, NULL, &s->pid, NULL, &out, NULL, NULL));
	f = fdopen(out, "r");
	g_assert_nonnull(f);
	g_assert_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	g_assert_cmpint(sscanf(line, "port %u", &s->port), ==, 1);
	s->root = g_strdup(root);
	g_free(script);
	g_free(pf);
	g_free(kf);
}

void sts_server_stop(struct sts_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		(void)waitpid(s->pid, NULL, 0);
		g_spawn_close_pid(s->pid);
	}
	s->pid = 0;
	g_free(s->root);
	s->root = NULL;
}

int sts_server_requests(const struct sts_server *s, const char *host)
{
	char *log = g_build_filename(s->root, "requests.log", NULL);
	char *text = NULL, **lines;
	int n = 0;

	if (g_file_get_contents(log, &text, NULL, NULL)) {
		lines = g_strsplit(text, "\n", -1);
		for (char **l = lines; *l != NULL; l++) {
			char **w = g_strsplit(*l, " ", 3);

			if (w[0] != NULL && w[1] != NULL &&
			    strcmp(w[1], host) == 0)
				n++;
			g_strfreev(w);
		}
		g_strfreev(lines);
	}
	g_free(text);
	g_free(log);
	return n;
}

void sts_policy_put(const struct sts_server *s, const char *host,
		    const char *text, gssize len)
{
	char *d = g_build_filename(s->root, host, ".well-known", NULL);
	char *f = g_build_filename(d, "mta-sts.txt", NULL);

	g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f, text, len, NULL));
	g_free(d);
	g_free(f);
}
