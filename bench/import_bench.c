/*
 * import_bench: messages/s of `rmail import imap` from a loopback rmail.
 * A source daemon (mod_shardstore + mod_imap) is filled with N messages
 * of about S bytes (through `rmail import maildir`), then a second mail
 * root imports them over IMAP; the second run (nothing new: the
 * cut-over pass over every message) is timed too.
 *
 *	cd build && ./bench/import_bench [-n 2000] [-z 4096]
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"

#define SRC "src@example.test"
#define DST "dst@example.test"
#define PW "bench-pw"

static void die(const char *what);
static struct bench_daemon src = {
	.prog = "import_bench", .die = die, .pid = -1};
static struct bench_daemon dst = {
	.prog = "import_bench", .die = die, .pid = -1};

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	bench_daemon_stop(&src);
	if (src.dir[0] != '\0')
		nftw(src.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (dst.dir[0] != '\0')
		nftw(dst.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what)
{
	perror(what);
	cleanup();
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* a Maildir of n messages of about size bytes, varied flags */
static void make_maildir(const char *md, int n, int size)
{
	char path[1024], *body = malloc((size_t)size + 1);
	static const char *const info[] = {"S", "RS", "", "FS"};

	if (body == NULL)
		die("malloc");
	snprintf(path, sizeof(path), "%s/cur", md);
	if (mkdir(md, 0700) < 0 || mkdir(path, 0700) < 0)
		die(path);
	for (int i = 0; i < size; i++)
		body[i] = (i % 73 == 72) ? '\n' : (char)('a' + i % 26);
	body[size] = '\0';
	for (int i = 0; i < n; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/cur/%d.m%d.bench:2,%s", md,
			 1600000000 + i, i, info[i % 4]);
		fp = fopen(path, "w");
		if (fp == NULL)
			die(path);
		fprintf(fp,
			"From: a@example.test\nTo: b@example.test\n"
			"Subject: message %d\nMessage-ID: <%d@bench>\n\n%s\n",
			i, i, body);
		fclose(fp);
	}
	free(body);
}

static double timed_import(const char *pwfile, char port[16])
{
	const char *args[] = {dst.bin, "-c",	 dst.config,  "import",
			      "imap",  "--host", "127.0.0.1", "--port",
			      port,    "--user", SRC,	      "--password-file",
			      pwfile,  DST,	 NULL};
	double t0 = now();

	bench_run(&dst, args, NULL);
	return now() - t0;
}

int main(int argc, char **argv)
{
	const char *bin = getenv("RMAIL_BIN"),
		   *mods = getenv("RMAIL_MODULE_DIR"), *srcdir = "..";
	char absmods[512], abssrc[512], md[600], pwfile[600], port[16];
	int n = 2000, size = 4096, opt;
	double t1, t2;

	while ((opt = getopt(argc, argv, "b:m:n:s:z:")) != -1) {
		switch (opt) {
		case 'b':
			bin = optarg;
			break;
		case 'm':
			mods = optarg;
			break;
		case 'n':
			n = atoi(optarg) > 0 ? atoi(optarg) : 1;
			break;
		case 's':
			srcdir = optarg;
			break;
		case 'z':
			size = atoi(optarg) > 0 ? atoi(optarg) : 1;
			break;
		default:
			fprintf(stderr, "usage: import_bench [-b rmail] "
					"[-m module_dir] [-s source_dir] "
					"[-n msgs] [-z bytes]\n");
			return 2;
		}
	}
	if (bin == NULL)
		bin = "./rmail";
	if (mods == NULL)
		mods = "./modules";
	if (realpath(mods, absmods) == NULL || realpath(srcdir, abssrc) == NULL)
		die("module or source dir");
	signal(SIGPIPE, SIG_IGN);
	src.bin = dst.bin = bin;
	bench_daemon_init(&src, "/tmp/import-bench-src-XXXXXX");
	bench_daemon_init(&dst, "/tmp/import-bench-dst-XXXXXX");
	src.port = bench_free_port(&src);
	bench_daemon_config(
		&src,
		"{\"hostname\": \"mail.example.test\", \"mail_root\": \"%s\", "
		"\"module_dir\": \"%s\", \"modules\": [\"mod_shardstore\", "
		"\"mod_imap\"], \"log_level\": \"warning\", "
		"\"tls\": {\"cert_file\": \"%s/tests/certs/cert.pem\", "
		"\"key_file\": \"%s/tests/certs/key.pem\"}, "
		"\"imap\": {\"listen\": [\"127.0.0.1:%u\"], "
		"\"imaps_listen\": [], "
		"\"allow_cleartext_login_loopback\": true}}\n",
		src.root, absmods, abssrc, abssrc, src.port);
	bench_daemon_config(&dst,
			    "{\"hostname\": \"mail.example.test\", "
			    "\"mail_root\": \"%s\", \"module_dir\": \"%s\", "
			    "\"modules\": [\"mod_shardstore\"], "
			    "\"log_level\": \"warning\"}\n",
			    dst.root, absmods);
	mkdir(src.root, 0700);
	mkdir(dst.root, 0700);
	bench_daemon_start(&src, SRC, PW);
	bench_user_add(&dst, DST, PW);
	snprintf(md, sizeof(md), "%s/md", src.dir);
	make_maildir(md, n, size);
	{
		const char *args[] = {src.bin,	 "-c", src.config, "import",
				      "maildir", md,   SRC,	   NULL};

		bench_run(&src, args, NULL);
	}
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dst.dir);
	{
		FILE *fp = fopen(pwfile, "w");

		if (fp == NULL)
			die(pwfile);
		fputs(PW "\n", fp);
		fclose(fp);
	}
	snprintf(port, sizeof(port), "%u", src.port);
	t1 = timed_import(pwfile, port);
	t2 = timed_import(pwfile, port);
	printf("import imap: %d messages of ~%d bytes from loopback rmail: "
	       "%.2f s, %.0f messages/s, %.1f MB/s\n",
	       n, size, t1, n / t1, (double)n * size / t1 / 1e6);
	printf("second run (nothing new, flags compared): %.2f s, %.0f "
	       "messages/s\n",
	       t2, n / t2);
	cleanup();
	return 0;
}
