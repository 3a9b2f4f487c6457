/*
 * view_bench: big mailboxes and the cold first open (docs/imap.md,
 * docs/storage.md "View snapshot").  Not run by ctest.
 *
 *   view_bench gen  --dir DIR --n 1000000 [--mbox Big] [--cap 1024]
 *   view_bench cold --dir DIR [--mbox Big] [--rounds 5]
 *
 * gen fills a mailbox through the store's bulk append path (nosync
 * appends, one mbox_sync at the end, as `rmail import` does), after
 * checking that the filesystem has the inodes and the space, then
 * writes the view snapshot.  Rerunning it resumes a fill.  cold drops
 * the page cache (`echo 3 > /proc/sys/vm/drop_caches`: run as root)
 * before each round and times, in a new process, the first open of the
 * mailbox and a copy of every message's state (what an IMAP SELECT
 * does), with the snapshot and with it moved aside (the fallback).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "ss_mbox.h"
#include "ss_viewsnap.h"

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

static void die(const char *what, const struct rmail_err *err)
{
	fprintf(stderr, "view_bench: %s: %s\n", what, err->msg);
	exit(1);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* room for n more messages of at most cap bytes (a block each) */
static void check_room(const char *dir, uint32_t n, size_t cap)
{
	struct statvfs sv;
	uint64_t blk, need_bytes, free_bytes;

	if (statvfs(dir, &sv) < 0) {
		perror(dir);
		exit(1);
	}
	blk = sv.f_frsize ? sv.f_frsize : 4096;
	need_bytes = (uint64_t)n * ((cap + blk - 1) / blk * blk + blk / 4);
	free_bytes = (uint64_t)sv.f_bavail * blk;
	if (sv.f_favail < (uint64_t)n + n / 10 ||
	    free_bytes < need_bytes + need_bytes / 10) {
		fprintf(stderr,
			"view_bench: %s has %llu free inodes and %.1f GB; "
			"%u messages need %llu and %.1f GB\n",
			dir, (unsigned long long)sv.f_favail, free_bytes / 1e9,
			n, (unsigned long long)(n + n / 10),
			need_bytes * 1.1 / 1e9);
		exit(1);
	}
}

static void gen(const char *dir, const char *mbox, uint32_t n, size_t cap)
{
	struct rmail_append_opts o = {.size = sizeof(o), .ignore_quota = 1};
	struct rmail_mbox_status s = {.size = sizeof(s)};
	struct rmail_err err = {0};
	struct rmail_corpus c;
	struct rmail_mbox *mb;
	struct ss_store st;
	char *buf = malloc(cap);
	double t0;
	uint32_t i;

	if (ss_store_open(&st, &bcore, dir, &err) < 0)
		die("store", &err);
	if (ss_user_add(&st, USER, "bench", 0, 0, &err) < 0 &&
	    err.code != RMAIL_E_EXISTS)
		die("user", &err);
	ss_mbox_create(&st, USER, mbox, 0, NULL);
	if (ss_mbox_status(&st, USER, mbox, &s, &err) < 0)
		die("status", &err);
	if (s.messages < n)
		check_room(dir, n - s.messages, cap);
	rmail_corpus_init(&c, 3, cap);
	t0 = now_us();
	for (i = s.messages; i < n; i++) {
		struct rmail_append *ap;
		size_t len = rmail_corpus_message(&c, i, buf, cap);

		o.flags = (i % 3) ? RMAIL_F_SEEN : 0;
		o.nosync = 1;
		if (ss_append_begin(&st, USER, mbox, &o, &ap, &err) < 0 ||
		    ss_append_write(ap, buf, len, &err) < 0 ||
		    ss_append_commit(ap, NULL, NULL, &err) < 0)
			die("append", &err);
		ss_append_free(&ap);
		if (i % 10000 == 0)
			fprintf(stderr, "\rgen %s: %u/%u", mbox, i, n);
	}
	if (ss_mbox_sync(&st, USER, mbox, &err) < 0)
		die("sync", &err);
	printf("gen %s: %u messages appended in %.1f s\n", mbox, n - s.messages,
	       (now_us() - t0) / 1e6);
	t0 = now_us();
	if (ss_mbox_open(&st, USER, mbox, &mb, &err) < 0)
		die("open", &err);
	/* past the racy window, so the snapshot vouches for every shard */
	usleep(3 * SS_RACY_NS / 1000);
	if (ss_snap_write(mb) != 0)
		fprintf(stderr, "view_bench: snapshot not written\n");
	printf("gen %s: view read and snapshot written in %.1f s\n", mbox,
	       (now_us() - t0) / 1e6);
	ss_mbox_close(&mb);
	ss_store_close(&st);
	free(buf);
}

static int no_drop; /* --warm: the same runs with the cache kept */

static void drop_caches(void)
{
	int fd;

	if (no_drop)
		return;
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3\n", 2) != 2) {
		perror("drop_caches (run as root)");
		exit(1);
	}
	close(fd);
}

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct cold {
	double open_us, copy_us, cpu_us;
	double sel_us, sel_cpu_us; /* open + what an IMAP SELECT reads */
	uint32_t count, used;
};

/* a new process: the store opened (the daemon's start, not timed),
 * then the first open of the mailbox and a copy of every state */
static struct cold cold_once(const char *dir, const char *mbox)
{
	struct cold r = {-1, -1, -1, -1, -1, 0, 0};
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		struct rmail_err err = {0};
		struct rmail_mbox *mb;
		struct rmail_mbox_status s;
		struct rmail_msg *copy;
		struct ss_store st;
		double t0, c0;
		uint32_t i;

		if (ss_store_open(&st, &bcore, dir, &err) < 0)
			_exit(1);
		c0 = cpu_us();
		t0 = now_us();
		if (ss_mbox_open(&st, USER, mbox, &mb, &err) < 0)
			_exit(1);
		ss_mbox_info(mb, &s);
		r.open_us = now_us() - t0;
		r.cpu_us = cpu_us() - c0;
		{
			/* the IMAP tracker's SELECT (ABI 1.7): a frozen copy,
			 * its last UID and first unseen message */
			struct rmail_mbox *f;
			uint32_t n;

			if (ss_mbox_freeze(mb, &f, &err) < 0)
				_exit(1);
			n = ss_mbox_count(f);
			if (n > 0 && ss_mbox_msg(f, n - 1) == NULL)
				_exit(1);
			(void)ss_mbox_first_unseen(f);
			r.sel_us = now_us() - t0;
			r.sel_cpu_us = cpu_us() - c0;
			ss_mbox_close(&f);
		}
		/* "+ copy": the open and the copy of every state (what a
		 * SELECT did before the frozen copy), the freeze not counted */
		t0 = now_us();
		copy = malloc((size_t)(s.messages + 1) * sizeof(*copy));
		for (i = 0; i < s.messages; i++)
			copy[i] = *ss_mbox_msg(mb, i);
		r.copy_us = r.open_us + (now_us() - t0);
		r.count = s.messages;
		r.used = mb->snap_used;
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r.open_us = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return r;
}

/*
 * The page cache drop also evicts code no process has mapped: a daemon
 * has run these paths before its first SELECT, so the bench runs them
 * here (on a small mailbox with a snapshot) and keeps them mapped.
 */
static void warm_code(const char *dir, struct ss_store *st)
{
	struct rmail_append_opts o = {.size = sizeof(o), .ignore_quota = 1};
	struct rmail_mbox_status s = {.size = sizeof(s)};
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	uint32_t i;

	if (ss_store_open(st, &bcore, dir, &err) < 0)
		die("store", &err);
	ss_mbox_create(st, USER, "Warm", 0, NULL);
	if (ss_mbox_status(st, USER, "Warm", &s, &err) < 0)
		die("status", &err);
	for (i = s.messages; i < 20; i++) {
		struct rmail_append *ap;

		if (ss_append_begin(st, USER, "Warm", &o, &ap, &err) < 0 ||
		    ss_append_write(ap, "x\r\n", 3, &err) < 0 ||
		    ss_append_commit(ap, NULL, NULL, &err) < 0)
			die("append", &err);
		ss_append_free(&ap);
	}
	if (ss_mbox_open(st, USER, "Warm", &mb, &err) < 0)
		die("open", &err);
	usleep(3 * SS_RACY_NS / 1000);
	ss_snap_write(mb);
	ss_mbox_close(&mb);
	ss_store_close(st);
	if (ss_store_open(st, &bcore, dir, &err) < 0 ||
	    ss_mbox_open(st, USER, "Warm", &mb, &err) < 0)
		die("open", &err);
	for (i = 0; i < ss_mbox_count(mb); i++)
		if (ss_mbox_msg(mb, i)->uid == 0)
			abort();
	ss_mbox_close(&mb);
}

static void cold(const char *dir, const char *mbox, int rounds)
{
	struct ss_store warm;
	char rel[SS_PATH_MAX], snap[SS_PATH_MAX + 64], aside[SS_PATH_MAX + 64];
	struct rmail_err err = {0};
	double o[2][64], cp[2][64], cpu[2][64], sel[2][64], scpu[2][64];
	int i, m;
	uint32_t count = 0, used = 0;

	if (ss_mbox_path(USER, mbox, rel, sizeof(rel), &err) < 0)
		die("path", &err);
	snprintf(snap, sizeof(snap), "%s/%s/%s", dir, rel, SS_SNAP_NAME);
	snprintf(aside, sizeof(aside), "%s/%s/tmp/view.aside", dir, rel);
	if (rounds > 64)
		rounds = 64;
	warm_code(dir, &warm);
	for (i = 0; i < rounds; i++)
		for (m = 0; m < 2; m++) {
			struct cold r;

			/* m == 1: no snapshot, the directory scan */
			if (m == 1 && rename(snap, aside) < 0) {
				perror(snap);
				exit(1);
			}
			drop_caches();
			r = cold_once(dir, mbox);
			if (m == 1 && rename(aside, snap) < 0) {
				perror(aside);
				exit(1);
			}
			if (r.open_us < 0) {
				fprintf(stderr, "view_bench: open failed\n");
				exit(1);
			}
			o[m][i] = r.open_us;
			cp[m][i] = r.copy_us;
			cpu[m][i] = r.cpu_us;
			sel[m][i] = r.sel_us;
			scpu[m][i] = r.sel_cpu_us;
			count = r.count;
			if (m == 0)
				used = r.used;
		}
	for (m = 0; m < 2; m++) {
		qsort(o[m], (size_t)rounds, sizeof(double), dcmp);
		qsort(cp[m], (size_t)rounds, sizeof(double), dcmp);
		qsort(cpu[m], (size_t)rounds, sizeof(double), dcmp);
		qsort(sel[m], (size_t)rounds, sizeof(double), dcmp);
		qsort(scpu[m], (size_t)rounds, sizeof(double), dcmp);
		printf("%s first open, %u msgs, %s: open p50 %.1f ms "
		       "(min %.1f, max %.1f; CPU p50 %.1f ms); open + copy of "
		       "every state p50 %.1f ms\n",
		       no_drop ? "warm" : "cold", count,
		       m == 0 ? "snapshot" : "no snapshot (directory scan)",
		       o[m][rounds / 2] / 1e3, o[m][0] / 1e3,
		       o[m][rounds - 1] / 1e3, cpu[m][rounds / 2] / 1e3,
		       cp[m][rounds / 2] / 1e3);
		printf("  open + frozen copy, last UID, first unseen (an IMAP "
		       "SELECT) p50 %.1f ms (min %.1f, max %.1f; CPU p50 "
		       "%.1f ms)\n",
		       sel[m][rounds / 2] / 1e3, sel[m][0] / 1e3,
		       sel[m][rounds - 1] / 1e3, scpu[m][rounds / 2] / 1e3);
	}
	printf("(snapshot: %u shards taken from it; %d rounds each)\n", used,
	       rounds);
	ss_store_close(&warm);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *mbox = "Big";
	uint32_t n = 1000000;
	size_t cap = 1024;
	int rounds = 5, i;

	/* the bench decides when a snapshot is written */
	ss_snap_min_msgs = UINT32_MAX;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--mbox") == 0 && i + 1 < argc)
			mbox = argv[++i];
		else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc)
			cap = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--warm") == 0)
			no_drop = 1;
		else
			dir = NULL, argc = 0;
	}
	if (argc < 2 || dir == NULL || rounds < 1 || cap < 256) {
		fprintf(stderr,
			"usage: view_bench gen --dir DIR [--n N] [--mbox M] "
			"[--cap BYTES]\n"
			"       view_bench cold --dir DIR [--mbox M] "
			"[--rounds R] [--warm]\n");
		return 2;
	}
	if (strcmp(argv[1], "gen") == 0)
		gen(dir, mbox, n, cap);
	else if (strcmp(argv[1], "cold") == 0)
		cold(dir, mbox, rounds);
	else
		return 2;
	return 0;
}
