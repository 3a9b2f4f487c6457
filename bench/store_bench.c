/*
 * store_bench: the shard store's figures (medians and p99).
 *
 *   store_bench [--dir DIR] [--n 100000] [--1m] [--keep]
 *
 * The 100K mailbox is filled through the normal append path with the
 * bench-only nosync option (ss_append_set_nosync; one ss_mbox_sync at
 * the end), message sizes from bench/corpus.c capped at 8 KiB so the
 * fill stays near 400 MB.  --1m (or RMAIL_BENCH_1M=1) adds the 1M open;
 * it takes minutes and several GB, so it never runs in CI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "ss_mbox.h"

#define USER "bench@example.com"

static void vlog(const struct rmail_mctx *m, int level, const char *fmt,
		 va_list ap)
{
	(void)m;
	(void)level;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void blog(const struct rmail_mctx *m, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(m, level, fmt, ap);
	va_end(ap);
}

static struct rmail_core bcore = {
	.abi_major = RMAIL_ABI_MAJOR,
	.abi_minor = RMAIL_ABI_MINOR,
	.size = sizeof(struct rmail_core),
	.log = blog,
	.vlog = vlog,
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n, const char *target)
{
	qsort(v, n, sizeof(*v), dcmp);
	printf("%-44s n=%-5zu p50=%10.1f us  p99=%10.1f us   %s\n", what, n,
	       v[n / 2], v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
	       target);
	fflush(stdout);
}

static void die(const char *what, const struct rmail_err *err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, err->msg);
	exit(1);
}

static void fill(struct ss_store *st, const char *mbox, uint32_t n, size_t cap)
{
	struct rmail_corpus c;
	struct rmail_err err = {0};
	char *buf = malloc(cap ? cap : 8u << 20);
	struct rmail_append_opts o = {.size = sizeof(o), .ignore_quota = 1};
	double t0 = now_us();
	uint32_t i;

	rmail_corpus_init(&c, 1, cap);
	for (i = 0; i < n; i++) {
		struct rmail_append *ap;
		size_t len = rmail_corpus_message(&c, i, buf, cap);

		o.flags = (i % 3) ? RMAIL_F_SEEN : 0;
		if (ss_append_begin(st, USER, mbox, &o, &ap, &err) < 0)
			die("append", &err);
		ss_append_set_nosync(ap);
		if (ss_append_write(ap, buf, len, &err) < 0 ||
		    ss_append_commit(ap, NULL, NULL, &err) < 0)
			die("append", &err);
		ss_append_free(&ap);
		if (isatty(2) && i % 10000 == 0)
			fprintf(stderr, "\rfill %s: %u/%u", mbox, i, n);
	}
	if (ss_mbox_sync(st, USER, mbox, &err) < 0)
		die("sync", &err);
	fprintf(stderr, "\rfill %s: %u messages in %.1f s\n", mbox, n,
		(now_us() - t0) / 1e6);
	free(buf);
}

static double time_open(struct ss_store *st, const char *mbox)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	double t0 = now_us(), t;

	if (ss_mbox_open(st, USER, mbox, &mb, &err) < 0)
		die("open", &err);
	t = now_us() - t0;
	ss_mbox_close(&mb);
	return t;
}

/* another process changes `n` flags (spread over the mailbox or on the
 * newest messages) and exits */
static void other_process_flags(const char *dir, const char *mbox, int n,
				int recent, unsigned seed)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct ss_store st;
		struct rmail_mbox *mb;
		struct rmail_err err = {0};
		uint32_t cnt;
		int i;

		if (ss_store_open(&st, &bcore, dir, &err) < 0 ||
		    ss_mbox_open(&st, USER, mbox, &mb, &err) < 0)
			_exit(1);
		cnt = ss_mbox_count(mb);
		srand(seed);
		for (i = 0; i < n; i++) {
			uint32_t idx = recent ? cnt - 1 - (uint32_t)i
					      : (uint32_t)rand() % cnt;
			const struct rmail_msg *m = ss_mbox_msg(mb, idx);

			/* a toggle: every change is a real rename */
			ss_msg_flags(mb, m->uid,
				     (m->flags & RMAIL_F_FLAGGED)
					     ? RMAIL_FLAGS_REMOVE
					     : RMAIL_FLAGS_ADD,
				     RMAIL_F_FLAGGED, NULL, 0, NULL, &err);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
}

static double cold_open(const char *dir, const char *mbox)
{
	int p[2];
	double t = -1;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct ss_store st;
		struct rmail_err err = {0};
		double t0 = now_us();

		if (ss_store_open(&st, &bcore, dir, &err) < 0)
			_exit(1);
		t = time_open(&st, mbox);
		(void)t0;
		if (write(p[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &t, sizeof(t)) != sizeof(t))
		t = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return t;
}

static void view_memory(struct ss_store *st, const char *mbox)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	size_t bytes;

	if (ss_mbox_open(st, USER, mbox, &mb, &err) < 0)
		die("open", &err);
	bytes = sizeof(*mb) + mb->nshards * (sizeof(struct ss_shard) + 4);
	bytes += (size_t)mb->count * sizeof(struct rmail_msg);
	printf("%-44s %.1f bytes/message (%u messages, %zu shards)   "
	       "target <= 64\n",
	       "view memory", (double)bytes / mb->count, mb->count,
	       mb->nshards);
	ss_mbox_close(&mb);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint32_t n = 100000;
	int big = getenv("RMAIL_BENCH_1M") != NULL, keep = 0, i;
	struct ss_store st;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct rmail_corpus c;
	char tmpl[] = "/var/tmp/store-bench-XXXXXX", *buf;
	double v[2000];
	uint32_t uids[500];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--1m") == 0)
			big = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
		else {
			fprintf(stderr, "usage: store_bench [--dir DIR] "
					"[--n N] [--1m] [--keep]\n");
			return 2;
		}
	}
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (ss_store_open(&st, &bcore, dir, &err) < 0)
		die("store", &err);
	if (ss_user_add(&st, USER, "bench", 0, 1 << 20, &err) < 0 &&
	    err.code != RMAIL_E_EXISTS)
		die("user", &err);
	ss_mbox_create(&st, USER, "Bench", 0, NULL);
	ss_mbox_create(&st, USER, "Append", 0, NULL);
	ss_mbox_create(&st, USER, "Copy", 0, NULL);
	if (ss_mbox_status(&st, USER, "Bench",
			   &(struct rmail_mbox_status){
				   .size = sizeof(struct rmail_mbox_status)},
			   &err) < 0)
		die("status", &err);
	{
		struct rmail_mbox_status s = {.size = sizeof(s)};

		ss_mbox_status(&st, USER, "Bench", &s, &err);
		if (s.messages < n)
			fill(&st, "Bench", n - s.messages, 8192);
	}
	printf("store_bench: %s, %u messages, %ld-byte views per message\n",
	       dir, n, (long)sizeof(struct rmail_msg));

	/* warm: the process already has the view */
	time_open(&st, "Bench");
	for (i = 0; i < 200; i++)
		v[i] = time_open(&st, "Bench");
	report("open warm (unchanged)", v, 200, "target <= 2000 us");

	for (i = 0; i < 20; i++) {
		other_process_flags(dir, "Bench", 100, 1, (unsigned)i);
		v[i] = time_open(&st, "Bench");
	}
	report("open warm, other proc flagged 100 newest", v, 20,
	       "target <= 10000 us");
	for (i = 0; i < 20; i++) {
		other_process_flags(dir, "Bench", 100, 0, (unsigned)i);
		v[i] = time_open(&st, "Bench");
	}
	report("open warm, other proc flagged 100 random", v, 20,
	       "target <= 10000 us");

	for (i = 0; i < 20; i++)
		v[i] = cold_open(dir, "Bench");
	report("open cold (new process)", v, 20, "target <= 50000 us");

	/* flag changes on the open view */
	if (ss_mbox_open(&st, USER, "Bench", &mb, &err) < 0)
		die("open", &err);
	srand(7);
	for (i = 0; i < 2000; i++) {
		const struct rmail_msg *m =
			ss_mbox_msg(mb, (uint32_t)rand() % ss_mbox_count(mb));
		uint32_t uid = m->uid;
		int mode = (m->flags & RMAIL_F_ANSWERED) ? RMAIL_FLAGS_REMOVE
							 : RMAIL_FLAGS_ADD;
		double t0 = now_us();

		if (ss_msg_flags(mb, uid, mode, RMAIL_F_ANSWERED, NULL, 0, NULL,
				 &err) < 0)
			die("flags", &err);
		v[i] = now_us() - t0;
	}
	report("flag change (one rename)", v, 2000, "target p50 <= 30 us");

	/* durable 2 KB appends */
	buf = malloc(4096);
	rmail_corpus_init(&c, 2, 0);
	memset(buf, 0, 4096);
	{
		size_t len = rmail_corpus_message(&c, 0, buf, 2048);

		for (i = 0; i < 500; i++) {
			struct rmail_append *ap;
			double t0 = now_us();

			if (ss_append_begin(&st, USER, "Append", NULL, &ap,
					    &err) < 0 ||
			    ss_append_write(ap, buf, len, &err) < 0 ||
			    ss_append_commit(ap, NULL, NULL, &err) < 0)
				die("append", &err);
			ss_append_free(&ap);
			v[i] = now_us() - t0;
		}
		report("durable 2 KB append (fsync pair)", v, 500,
		       "target p50 <= 1000 us");
	}
	free(buf);

	/* copy single messages, then expunge them */
	for (i = 0; i < 500; i++) {
		uint32_t src =
			ss_mbox_msg(mb, (uint32_t)i * 97 % ss_mbox_count(mb))
				->uid;
		double t0 = now_us();

		if (ss_msg_copy(mb, &src, 1, "Copy", &uids[i], NULL, &err) < 0)
			die("copy", &err);
		v[i] = now_us() - t0;
	}
	report("copy 1 message (link + fsync)", v, 500, "");
	ss_mbox_close(&mb);
	if (ss_mbox_open(&st, USER, "Copy", &mb, &err) < 0)
		die("open", &err);
	for (i = 0; i < 500; i++) {
		double t0 = now_us();

		if (ss_msg_expunge(mb, &uids[i], 1, &err) < 0)
			die("expunge", &err);
		v[i] = now_us() - t0;
	}
	report("expunge 1 message", v, 500, "");
	ss_mbox_close(&mb);
	view_memory(&st, "Bench");

	if (big) {
		struct rmail_mbox_status s = {.size = sizeof(s)};

		ss_mbox_create(&st, USER, "Big", 0, NULL);
		ss_mbox_status(&st, USER, "Big", &s, &err);
		if (s.messages < 1000000)
			fill(&st, "Big", 1000000 - s.messages, 1024);
		time_open(&st, "Big");
		for (i = 0; i < 50; i++)
			v[i] = time_open(&st, "Big");
		report("open 1M warm (unchanged)", v, 50, "");
		for (i = 0; i < 5; i++)
			v[i] = cold_open(dir, "Big");
		report("open 1M cold (new process)", v, 5,
		       "target <= 10x the 100K cold");
		view_memory(&st, "Big");
	}
	ss_store_close(&st);
	if (!keep && strcmp(dir, tmpl) == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}
