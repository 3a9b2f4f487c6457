/*
 * imap_bench: IMAP round trips on loopback against a real rmail daemon
 * that it starts itself (mod_shardstore + mod_imap on a temporary mail
 * root).  The 100K-message INBOX is written straight into the store's
 * public on-disk format (docs/storage.md) before the start; a second
 * mailbox holds 1,000 messages.  Prints, in milliseconds:
 *   - SELECT INBOX, unchanged and right after another session changed
 *     a flag;
 *   - UID STORE +FLAGS p50 (one message);
 *   - UID FETCH 1:* (UID FLAGS);
 *   - SEARCH UNSEEN;
 *   - APPEND of 2 KB p50 (fsync'd) in the 1,000 and 100,000 boxes;
 *   - NOOP p50/p99 while another client appends continuously;
 *   - daemon RSS per idle IDLE connection (-c connections, 2000);
 *     with -z each idler sends COMPRESS DEFLATE (RFC 4978) after
 *     login, then SELECT and IDLE compressed; first a 33 KB command,
 *     so the daemon's inflate window is resident whole (the worst
 *     case: a client that ever sent 32 KB).
 *
 * With -x (part 2) the INBOX holds bench/corpus.h messages instead
 * (sizes capped at 16 KiB so 100K fit on a laptop disk; ten carry a
 * rare word) and it prints instead:
 *   - FETCH 1:10000 (ENVELOPE BODYSTRUCTURE), cold (nothing parsed
 *     yet) and warm (the parse cache holds them);
 *   - SEARCH BODY <rare word> and SEARCH SUBJECT over the INBOX;
 *   - NOOP p50/p99 from another session while SEARCH BODY runs;
 *   - the same two searches cold (as root: the page cache dropped
 *     with /proc/sys/vm/drop_caches before each).
 * Before the start, -x builds the header cache and full-text index
 * with `rmail index rebuild` and prints its time and size;
 * RMAIL_BENCH_NOINDEX=1 turns the index off instead (index.enabled
 * false: every search reads the messages, the figures before it).
 *
 * With -o (SORT/THREAD, RFC 5256) the INBOX holds threaded messages
 * (five per thread, References chains, "Re:" subjects shared by
 * several threads, varied Dates and zones), the header cache is built
 * first as with -x (RMAIL_BENCH_NOINDEX=1: off, every header read from
 * its message), and it prints instead:
 *   - SORT (ARRIVAL) cold (every header read and parsed), with the
 *     NOOP p50/p99 of another session meanwhile;
 *   - warm (records cached) medians of SORT (DATE), SORT (SUBJECT),
 *     SORT (REVERSE FROM), THREAD REFERENCES, THREAD ORDEREDSUBJECT.
 *
 * With -q (CONDSTORE/QRESYNC, issue 19) it prints instead, with
 * another session keeping the INBOX view warm:
 *   - FETCH 1:* (FLAGS) (CHANGEDSINCE m) after 100 flag changes;
 *   - SELECT INBOX (QRESYNC (v m)) after those and 10 expunges;
 *   - a plain SELECT with CONDSTORE on.
 *
 *	imap_bench [-b rmail] [-m module_dir] [-s source_dir] [-n inbox_msgs]
 *		   [-c idlers] [-t] [-x] [-q] [-o] [-i] [-u users] [-z]
 *		   [-P processes]
 *
 * -t runs every client over implicit TLS (the 993 listener).
 * -i measures only the idle connections (no latency figures).
 * -P sets the daemon's `processes` (default 1; RSS is summed over the
 * supervisor and its workers).
 * -u N adds N more users, each with an INBOX of -n messages; the
 * idlers then spread over them and idle on their INBOX (the issue's
 * 10,000 case: -n 1000 -u 100 -c 10000 -i).
 * RMAIL_BENCH_WRAP="valgrind --tool=massif" runs the daemon under a
 * wrapper (words split on spaces); RMAIL_BENCH_HOLD=60 keeps the idlers
 * open that long after the figures, to inspect the daemon.
 *
 * Defaults come from RMAIL_BIN / RMAIL_MODULE_DIR, else the build tree
 * layout (./rmail, ./modules).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <zlib.h>

#include "bench_daemon.h"
#include "bench_proc.h"
#include "corpus.h"

#define USER "bench@example.test"
#define PASS "bench-pw"
#define MSG_SIZE 2048
#define SHARD 16384u

static unsigned short tls_port;
static int use_tls; /* clients go to 993 with implicit TLS */
static SSL_CTX *tls_ctx;
static char msg[MSG_SIZE + 256];
static size_t msg_len;
static atomic_int stop_flag;
static int mime_mode;
static int sort_mode;	/* -o */
static uint32_t nusers; /* -u: extra users idling on INBOX */
static int use_z;	/* -z: idlers COMPRESS */
#define CORPUS_CAP (16 * 1024)
#define RARE_WORD "quokkafish"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "imap_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct bench_daemon bd = {.prog = "imap_bench", .die = die};

/* ---- a minimal blocking client --------------------------------- */

struct cl {
	int fd;
	SSL *ssl;
	char buf[1 << 16];
	size_t pos, len; /* unread bytes are buf[pos, len) */
	unsigned tag;
	z_stream *zin, *zout; /* after COMPRESS */
	unsigned char zraw[4096];
};

static ssize_t cl_read_wire(struct cl *c, void *buf, size_t n)
{
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, buf, (int)n);

		return r > 0 ? r : -1;
	}
	return read(c->fd, buf, n);
}

static ssize_t cl_read(struct cl *c, void *buf, size_t n)
{
	ssize_t r;
	int rc;

	if (c->zin == NULL)
		return cl_read_wire(c, buf, n);
	for (;;) {
		if (c->zin->avail_in == 0) {
			r = cl_read_wire(c, c->zraw, sizeof(c->zraw));
			if (r <= 0)
				return -1;
			c->zin->next_in = c->zraw;
			c->zin->avail_in = (uInt)r;
		}
		c->zin->next_out = buf;
		c->zin->avail_out = (uInt)n;
		rc = inflate(c->zin, Z_SYNC_FLUSH);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -1;
		if (c->zin->avail_out < n)
			return (ssize_t)(n - c->zin->avail_out);
	}
}

static ssize_t cl_write_wire(struct cl *c, const void *buf, size_t n);

static ssize_t cl_write(struct cl *c, const void *buf, size_t n)
{
	unsigned char out[8192];

	if (c->zout == NULL)
		return cl_write_wire(c, buf, n);
	c->zout->next_in = (Bytef *)(uintptr_t)buf;
	c->zout->avail_in = (uInt)n;
	do {
		size_t k;

		c->zout->next_out = out;
		c->zout->avail_out = sizeof(out);
		deflate(c->zout, Z_SYNC_FLUSH);
		k = sizeof(out) - c->zout->avail_out;
		if (cl_write_wire(c, out, k) != (ssize_t)k)
			return -1;
	} while (c->zout->avail_out == 0);
	return (ssize_t)n;
}

static ssize_t cl_write_wire(struct cl *c, const void *buf, size_t n)
{
	if (c->ssl != NULL) {
		int r = SSL_write(c->ssl, buf, (int)n);

		return r > 0 ? r : -1;
	}
	return write(c->fd, buf, n);
}

static int cl_line(struct cl *c, char *out, size_t outsz)
{
	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
		ssize_t r;

		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->pos)) + 1;
			size_t k = n < outsz ? n : outsz - 1;

			memcpy(out, c->buf + c->pos, k);
			out[k] = '\0';
			c->pos += n;
			return 0;
		}
		if (c->pos > 0) {
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0; /* an over-long line: drop it */
		r = cl_read(c, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static void cl_connect(struct cl *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char line[1024];
	int one = 1;

	memset(c, 0, sizeof(*c));
	a.sin_port = htons(use_tls ? tls_port : bd.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (use_tls) {
		c->ssl = SSL_new(tls_ctx);
		SSL_set_fd(c->ssl, c->fd);
		if (SSL_connect(c->ssl) != 1) {
			fprintf(stderr, "imap_bench: TLS handshake failed\n");
			exit(1);
		}
	}
	if (cl_line(c, line, sizeof(line)) < 0)
		die("greeting");
}

/* send a command (data appended raw), wait for its tagged reply */
static int cl_cmd(struct cl *c, const char *cmd, const void *data, size_t dlen)
{
	char tag[16], line[1024], out[2048];
	int n;

	snprintf(tag, sizeof(tag), "b%u ", ++c->tag);
	n = snprintf(out, sizeof(out), "%s%s\r\n", tag, cmd);
	if (cl_write(c, out, (size_t)n) != n)
		die("write");
	if (data != NULL && (cl_write(c, data, dlen) != (ssize_t)dlen ||
			     cl_write(c, "\r\n", 2) != 2))
		die("write");
	for (;;) {
		if (cl_line(c, line, sizeof(line)) < 0)
			die("read");
		if (strncmp(line, tag, strlen(tag)) == 0)
			return strncmp(line + strlen(tag), "OK", 2) == 0 ? 0
									 : -1;
	}
}

static void cl_login_as(struct cl *c, const char *user)
{
	char cmd[256];

	cl_connect(c);
	snprintf(cmd, sizeof(cmd), "LOGIN %s " PASS, user);
	if (cl_cmd(c, cmd, NULL, 0) < 0) {
		fprintf(stderr, "imap_bench: login failed\n");
		exit(1);
	}
}

static void cl_login(struct cl *c)
{
	cl_login_as(c, USER);
}

static double timed(struct cl *c, const char *cmd, const void *d, size_t n)
{
	double t = now();

	if (cl_cmd(c, cmd, d, n) < 0) {
		fprintf(stderr, "imap_bench: %s failed\n", cmd);
		exit(1);
	}
	return (now() - t) * 1000.0;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), dcmp);
	return v[(size_t)((double)(n - 1) * p)];
}

/* ---- setup ------------------------------------------------------ */

/* -o: message uid of a threaded mailbox: threads of five, each a
 * References chain; 20,000 topics, so threads also meet by subject */
static size_t sort_message(uint32_t uid, char *buf, size_t cap)
{
	static const char *const zones[] = {"+0000", "-0500", "+0100", "+0930"};
	uint32_t h = uid * 2654435761u, th = (uid - 1) / 5, k = (uid - 1) % 5;
	long t = 1577836800L + (long)th * 600 + (long)k * 60 + (long)(h % 50);
	struct tm tm;
	time_t tt = (time_t)t;
	char date[64], refs[512];
	size_t n, off = 0;
	uint32_t i;

	gmtime_r(&tt, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S", &tm);
	refs[0] = '\0';
	for (i = 0; i < k; i++)
		off += (size_t)snprintf(refs + off, sizeof(refs) - off,
					"%s<t%u.%u@bench.test>", i ? " " : "",
					th, i);
	n = (size_t)snprintf(buf, cap,
			     "From: \"Sender %u\" <user%u@example.org>\r\n"
			     "To: rcpt%u@example.test\r\n"
			     "Subject: %s=?UTF-8?Q?topic_=C3=A9_%u?=\r\n"
			     "Date: %s %s\r\n"
			     "Message-ID: <t%u.%u@bench.test>\r\n"
			     "%s%s%s"
			     "\r\n",
			     h % 997, h % 997, (h >> 8) % 991,
			     k > 0 ? "Re: " : "", th % 20000, date,
			     zones[h % 4], th, k, k > 0 ? "References: " : "",
			     refs, k > 0 ? "\r\n" : "");
	while (n + 66 < cap && n < 1500) {
		memcpy(buf + n,
		       "0123456789abcdef0123456789abcdef"
		       "0123456789abcdef0123456789abcd\r\n",
		       64);
		n += 64;
	}
	return n;
}

static void populate(const char *mbox_dir, uint32_t n)
{
	char path[1400];
	uint32_t uid, shard = UINT32_MAX;
	long t = (long)time(NULL);
	struct rmail_corpus cor;
	static char cbuf[CORPUS_CAP + 256];

	rmail_corpus_init(&cor, 42, CORPUS_CAP);

	for (uid = 1; uid <= n; uid++) {
		int fd;

		if (uid / SHARD != shard) {
			shard = uid / SHARD;
			snprintf(path, sizeof(path), "%s/s%u", mbox_dir, shard);
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				die(path);
		}
		const char *data = msg;
		size_t len = msg_len;

		if (sort_mode) {
			len = sort_message(uid, cbuf, sizeof(cbuf));
			data = cbuf;
		} else if (mime_mode) {
			char *body;

			len = rmail_corpus_message(&cor, uid, cbuf,
						   sizeof(cbuf));
			data = cbuf;
			body = strstr(cbuf, "\r\n\r\n");
			/* the rare word: ten messages in 100K */
			if (uid % 10000 == 4242 && body != NULL &&
			    (size_t)(body - cbuf) + 20 < len)
				memcpy(body + 4, RARE_WORD, strlen(RARE_WORD));
		}
		/* a read mailbox: one message in a hundred unseen */
		snprintf(path, sizeof(path), "%s/s%u/%u,%zu,%ld,1,%s.eml",
			 mbox_dir, shard, uid, len, t,
			 uid % 100 == 0 ? "" : "S");
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, data, len) != (ssize_t)len)
			die(path);
		close(fd);
	}
	/* a foreign boot id makes the store verify uidnext from disk */
	snprintf(path, sizeof(path), "%s/counter", mbox_dir);
	FILE *f = fopen(path, "r");
	unsigned long long v = 0, validity = 0, next = 0;
	char boot[128] = "";

	if (f == NULL ||
	    fscanf(f, "%llu %llu %llu %127s", &v, &validity, &next, boot) < 3)
		die("counter");
	fclose(f);
	f = fopen(path, "w");
	if (f == NULL)
		die("counter");
	fprintf(f, "%llu %llu %u bench\n", v, validity, n + 1);
	fclose(f);
}

static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *ftw)
{
	(void)sb;
	(void)fl;
	(void)ftw;
	return remove(p);
}

/* a session idling on the 1,000-message box (with -u, on the INBOX of
 * user i % nusers); only its fd is kept */
static int idler(uint32_t i)
{
	struct cl *c = malloc(sizeof(*c));
	char line[1024], user[64];
	int fd;

	if (c == NULL)
		die("malloc");
	if (nusers > 0) {
		snprintf(user, sizeof(user), "u%u@example.test", i % nusers);
		cl_login_as(c, user);
	} else {
		cl_login(c);
	}
	if (use_z) {
		if (cl_cmd(c, "COMPRESS DEFLATE", NULL, 0) < 0 ||
		    c->pos != c->len)
			die("compress");
		c->zin = calloc(1, sizeof(z_stream));
		c->zout = calloc(1, sizeof(z_stream));
		if (c->zin == NULL || c->zout == NULL ||
		    inflateInit2(c->zin, -15) != Z_OK ||
		    deflateInit2(c->zout, 6, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			die("zlib");
		{
			static char big[33000 + 64];
			size_t n;

			memcpy(big, "z STATUS \"", 10);
			memset(big + 10, 'a', 33000);
			memcpy(big + 10 + 33000, "\" (MESSAGES)\r\n", 14);
			n = 10 + 33000 + 14;
			/* NO: not a valid name; the bytes went through */
			if (cl_write(c, big, n) != (ssize_t)n)
				die("write");
			do {
				if (cl_line(c, line, sizeof(line)) < 0)
					die("status");
			} while (strncmp(line, "z ", 2) != 0);
		}
	}
	if (cl_cmd(c, nusers > 0 ? "SELECT INBOX" : "SELECT Small", NULL, 0) <
	    0)
		die("select");
	if (cl_write(c, "i IDLE\r\n", 8) != 8 ||
	    cl_line(c, line, sizeof(line)) < 0 || line[0] != '+')
		die("idle");
	fd = c->fd;
	if (c->zin != NULL) {
		/* 10,000 of these would be 3 GB here */
		inflateEnd(c->zin);
		deflateEnd(c->zout);
		free(c->zin);
		free(c->zout);
	}
	/* the TLS state stays allocated here: only the fd matters */
	free(c);
	return fd;
}

static void *appender(void *arg)
{
	struct cl c;
	char cmd[64];

	(void)arg;
	cl_login(&c);
	snprintf(cmd, sizeof(cmd), "APPEND Small {%zu+}", msg_len);
	while (!atomic_load(&stop_flag))
		cl_cmd(&c, cmd, msg, msg_len);
	close(c.fd);
	return NULL;
}

static void *searcher(void *arg)
{
	struct cl *c = arg;

	while (!atomic_load(&stop_flag))
		cl_cmd(c, "SEARCH BODY " RARE_WORD, NULL, 0);
	return NULL;
}

/* as root: drop the page cache (dirty pages written first); 0 if done */
static int drop_caches(void)
{
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f == NULL)
		return -1;
	fputs("3\n", f);
	return fclose(f);
}

/* part 2: structure fetches, text searches, NOOP while searching */

static void mime_bench(struct cl *a, struct cl *b, uint32_t n, pid_t pid)
{
	static const char *const warm[] = {
		"SEARCH BODY " RARE_WORD,
		"SEARCH SUBJECT \"message 4242\"",
		"SEARCH TEXT " RARE_WORD,
		"SEARCH FROM \"sender42@\"",
	};
	static double v[2000];
	char cmd[128];
	uint32_t i, last = n < 10000 ? n : 10000;
	pthread_t th;
	double t;

	timed(a, "SELECT INBOX", NULL, 0);
	timed(b, "SELECT INBOX", NULL, 0);
	snprintf(cmd, sizeof(cmd), "FETCH 1:%u (ENVELOPE BODYSTRUCTURE)", last);
	t = timed(a, cmd, NULL, 0);
	printf("FETCH 1:%u (ENVELOPE BODYSTRUCTURE), cold: %.1f ms "
	       "(%.1f us/msg)\n",
	       last, t, t * 1000.0 / last);
	for (i = 0; i < 5; i++)
		v[i] = timed(a, cmd, NULL, 0);
	printf("FETCH 1:%u (ENVELOPE BODYSTRUCTURE), warm: p50 %.1f ms\n", last,
	       pct(v, 5, 0.5));
	for (i = 0; i < sizeof(warm) / sizeof(warm[0]); i++) {
		double c0 = bench_tree_cpu_ms(pid), c1;
		uint32_t k;

		for (k = 0; k < 11; k++)
			v[k] = timed(a, warm[i], NULL, 0);
		c1 = bench_tree_cpu_ms(pid);
		printf("%s (%u msgs), warm: p50 %.1f ms, min %.1f ms, "
		       "daemon CPU %.1f ms/run\n",
		       warm[i], n, pct(v, 11, 0.5), pct(v, 11, 0.0),
		       (c1 - c0) / 11.0);
	}
	for (i = 0; i < 3 && drop_caches() == 0; i++)
		v[i] = timed(a, "SEARCH BODY " RARE_WORD, NULL, 0);
	if (i == 3)
		printf("SEARCH BODY <rare word> (%u msgs), cold: p50 %.1f ms\n",
		       n, pct(v, 3, 0.5));
	for (i = 0; i < 3 && drop_caches() == 0; i++)
		v[i] = timed(a, "SEARCH SUBJECT \"message 4242\"", NULL, 0);
	if (i == 3)
		printf("SEARCH SUBJECT (%u msgs), cold: p50 %.1f ms\n", n,
		       pct(v, 3, 0.5));
	atomic_store(&stop_flag, 0);
	pthread_create(&th, NULL, searcher, a);
	usleep(100000);
	for (i = 0; i < 2000; i++)
		v[i] = timed(b, "NOOP", NULL, 0);
	atomic_store(&stop_flag, 1);
	pthread_join(th, NULL);
	printf("NOOP while another session runs SEARCH BODY: p50 %.3f ms, "
	       "p99 %.3f ms\n",
	       pct(v, 2000, 0.5), pct(v, 2000, 0.99));
}

/* -o: SORT/THREAD, cold then warm */
static void *cold_sorter(void *arg)
{
	struct cl *c = arg;
	double t = now();

	cl_cmd(c, "SORT (ARRIVAL) UTF-8 ALL", NULL, 0);
	printf("SORT (ARRIVAL), cold: %.1f ms\n", (now() - t) * 1000.0);
	atomic_store(&stop_flag, 1);
	return NULL;
}

/* OBJECTID's THREADID: SEARCH from the header cache, FETCH from the
 * parsed summaries (the first FETCH parses every message) */
static void threadid_bench(struct cl *a, uint32_t n, pid_t pid)
{
	static const char *const cmds[] = {
		"UID SEARCH THREADID T00000000000000000000000000000000",
		"UID FETCH 1:* (THREADID)",
	};
	static double v[11];
	size_t i, k;

	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		double c0 = bench_tree_cpu_ms(pid), c1, first;

		first = timed(a, cmds[k], NULL, 0);
		c1 = bench_tree_cpu_ms(pid);
		printf("%s (%u msgs), first: %.1f ms, daemon CPU %.1f ms\n",
		       cmds[k], n, first, c1 - c0);
		c0 = c1;
		for (i = 0; i < 5; i++)
			v[i] = timed(a, cmds[k], NULL, 0);
		c1 = bench_tree_cpu_ms(pid);
		printf("%s (%u msgs), again: p50 %.1f ms, daemon CPU %.1f "
		       "ms/run\n",
		       cmds[k], n, pct(v, 5, 0.5), (c1 - c0) / 5.0);
	}
}

static void sort_bench(struct cl *a, struct cl *b, uint32_t n, pid_t pid)
{
	static const char *const cmds[] = {
		"SORT (DATE) UTF-8 ALL",
		"SORT (SUBJECT) UTF-8 ALL",
		"SORT (REVERSE FROM) UTF-8 ALL",
		"SORT (DISPLAYFROM DATE) UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL",
		"THREAD ORDEREDSUBJECT UTF-8 ALL",
		"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL",
	};
	static double v[20000];
	size_t i, k = 0;
	pthread_t th;

	long rss0;
	double cpu0;

	timed(a, "SELECT INBOX", NULL, 0);
	timed(b, "SELECT INBOX", NULL, 0);
	rss0 = bench_tree_mem_kb(pid, "Rss:");
	cpu0 = bench_tree_cpu_ms(pid);
	atomic_store(&stop_flag, 0);
	pthread_create(&th, NULL, cold_sorter, a);
	while (!atomic_load(&stop_flag) && k < 20000)
		v[k++] = timed(b, "NOOP", NULL, 0);
	pthread_join(th, NULL);
	printf("daemon CPU of the cold SORT (and the NOOPs): %.1f ms\n",
	       bench_tree_cpu_ms(pid) - cpu0);
	if (k > 0)
		printf("NOOP while another session's SORT runs cold: "
		       "p50 %.3f ms, p99 %.3f ms (%zu)\n",
		       pct(v, k, 0.5), pct(v, k, 0.99), k);
	printf("daemon RSS after the cold SORT: +%.1f MB (the records)\n",
	       (double)(bench_tree_mem_kb(pid, "Rss:") - rss0) / 1024.0);
	/* wall time, and the daemon's CPU per run: on a loaded machine
	 * the second says what the server costs */
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		double c0 = bench_tree_cpu_ms(pid), c1;

		for (i = 0; i < 11; i++)
			v[i] = timed(a, cmds[k], NULL, 0);
		c1 = bench_tree_cpu_ms(pid);
		printf("%s (%u msgs), warm: p50 %.1f ms, daemon CPU %.1f "
		       "ms/run\n",
		       cmds[k], n, pct(v, 11, 0.5), (c1 - c0) / 11.0);
	}
	threadid_bench(a, n, pid);
}

/* ---- CONDSTORE/QRESYNC (-q) ---------------------------------------- */

/* a command whose reply is scanned: HIGHESTMODSEQ, UIDVALIDITY and the
 * number of FETCH and VANISHED lines (either pointer may be NULL) */
static int qr_cmd(struct cl *c, const char *cmd, uint64_t *hms, uint64_t *uv,
		  unsigned *nfetch)
{
	char tag[16], line[1024], out[2048];
	const char *p;
	int n;

	snprintf(tag, sizeof(tag), "b%u ", ++c->tag);
	n = snprintf(out, sizeof(out), "%s%s\r\n", tag, cmd);
	if (cl_write(c, out, (size_t)n) != n)
		die("write");
	if (nfetch != NULL)
		*nfetch = 0;
	for (;;) {
		if (cl_line(c, line, sizeof(line)) < 0)
			die("read");
		if (hms != NULL &&
		    (p = strstr(line, "[HIGHESTMODSEQ ")) != NULL)
			*hms = strtoull(p + 15, NULL, 10);
		if (uv != NULL && (p = strstr(line, "[UIDVALIDITY ")) != NULL)
			*uv = strtoull(p + 13, NULL, 10);
		if (nfetch != NULL && line[0] == '*' &&
		    (strstr(line, " FETCH (") != NULL ||
		     strncmp(line, "* VANISHED", 10) == 0))
			(*nfetch)++;
		if (strncmp(line, tag, strlen(tag)) == 0)
			return strncmp(line + strlen(tag), "OK", 2) == 0 ? 0
									 : -1;
	}
}

static void qresync_bench(struct cl *a, struct cl *b, uint32_t n)
{
	static double v[20];
	uint64_t h = 0, h0 = 0, uv = 0;
	unsigned lines = 0;
	char cmd[256];
	uint32_t i;
	double t;

	if (cl_cmd(a, "ENABLE QRESYNC", NULL, 0) < 0)
		die("ENABLE QRESYNC (no CONDSTORE in this store?)");
	/* b keeps the view warm, as another client would */
	timed(b, "SELECT INBOX", NULL, 0);
	if (qr_cmd(a, "SELECT INBOX", &h, &uv, NULL) < 0 || h == 0)
		die("SELECT: no HIGHESTMODSEQ");
	h0 = h;
	for (i = 0; i < 100; i++) {
		snprintf(cmd, sizeof(cmd),
			 "UID STORE %u +FLAGS.SILENT (\\Flagged)",
			 1 + (i * 997) % n);
		timed(b, cmd, NULL, 0);
	}
	cl_cmd(a, "NOOP", NULL, 0); /* the updates, not timed */
	snprintf(cmd, sizeof(cmd), "FETCH 1:* (FLAGS) (CHANGEDSINCE %llu)",
		 (unsigned long long)h);
	for (i = 0; i < 20; i++) {
		t = now();
		if (qr_cmd(a, cmd, NULL, NULL, &lines) < 0)
			die("FETCH CHANGEDSINCE");
		v[i] = (now() - t) * 1000.0;
	}
	printf("FETCH 1:* (FLAGS) (CHANGEDSINCE m) after 100 changes, "
	       "%u-message INBOX: p50 %.3f ms (%u FETCH lines)\n",
	       n, pct(v, 20, 0.5), lines);
	/* 10 expunges on top of the 100 changes */
	for (i = 0; i < 10; i++) {
		snprintf(cmd, sizeof(cmd),
			 "UID STORE %u +FLAGS.SILENT (\\Deleted)",
			 2 + (i * 991) % n);
		timed(b, cmd, NULL, 0);
	}
	timed(b, "EXPUNGE", NULL, 0);
	snprintf(cmd, sizeof(cmd), "SELECT INBOX (QRESYNC (%llu %llu))",
		 (unsigned long long)uv, (unsigned long long)h0);
	for (i = 0; i < 20; i++) {
		t = now();
		if (qr_cmd(a, cmd, NULL, NULL, &lines) < 0)
			die("SELECT QRESYNC");
		v[i] = (now() - t) * 1000.0;
	}
	printf("SELECT INBOX (QRESYNC ...) after 100 changes and 10 expunges, "
	       "%u-message INBOX: p50 %.3f ms (%u FETCH/VANISHED lines)\n",
	       n, pct(v, 20, 0.5), lines);
	for (i = 0; i < 20; i++)
		v[i] = timed(a, "SELECT INBOX", NULL, 0);
	printf("SELECT INBOX (CONDSTORE on, no QRESYNC): p50 %.3f ms\n",
	       pct(v, 20, 0.5));
}

int main(int argc, char **argv)
{
	const char *bin = getenv("RMAIL_BIN"),
		   *mods = getenv("RMAIL_MODULE_DIR");
	uint32_t inbox_n = 100000, i, nidle = 2000;
	int *idle_fds;
	long rss0, rss1;
	struct rlimit rl;
	char dir[1100], cmd[128];
	double v[1000], t0;
	struct cl a, b;
	pthread_t th;
	pid_t pid;
	int opt, idle_only = 0, qresync_mode = 0, procs = 1;

	const char *src = getenv("RMAIL_SOURCE_DIR");
	const char *reuse;

	while ((opt = getopt(argc, argv, "b:m:n:c:ts:xiu:qzoP:")) != -1) {
		if (opt == 'o')
			sort_mode = 1;
		if (opt == 'z')
			use_z = 1;
		if (opt == 'x')
			mime_mode = 1;
		if (opt == 'q')
			qresync_mode = 1;
		if (opt == 'b')
			bin = optarg;
		else if (opt == 'm')
			mods = optarg;
		else if (opt == 'n')
			inbox_n = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 't')
			use_tls = 1;
		else if (opt == 's')
			src = optarg;
		else if (opt == 'c')
			nidle = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 'i')
			idle_only = 1;
		else if (opt == 'u')
			nusers = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 'P')
			procs = atoi(optarg);
	}
	if (bin == NULL)
		bin = "./rmail";
	if (mods == NULL)
		mods = "./modules";
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	msg_len = (size_t)snprintf(msg, sizeof(msg),
				   "From: a@example.test\r\nTo: " USER "\r\n"
				   "Subject: bench\r\n\r\n");
	while (msg_len < MSG_SIZE) {
		memcpy(msg + msg_len,
		       "0123456789abcdef0123456789abcdef"
		       "0123456789abcdef0123456789abcd\r\n",
		       64);
		msg_len += 64;
	}

	bd.bin = bin;
	/* RMAIL_BENCH_REUSE=dir: a directory a run with RMAIL_BENCH_KEEP
	 * left (mailboxes and index as they are), so runs of two builds
	 * compare on the same files without populating again */
	reuse = getenv("RMAIL_BENCH_REUSE");
	if (reuse != NULL) {
		snprintf(bd.dir, sizeof(bd.dir), "%s", reuse);
		snprintf(bd.root, sizeof(bd.root), "%s/mail", bd.dir);
		snprintf(bd.config, sizeof(bd.config), "%s/config.json",
			 bd.dir);
	} else {
		bench_daemon_init(&bd, "/tmp/imap-bench-XXXXXX");
	}
	static char srcbuf[4096];

	/* the daemon wants absolute paths */
	if (realpath(src != NULL ? src : "..", srcbuf) == NULL)
		die("source dir");
	src = srcbuf;
	bd.port = (unsigned short)(20000 + (getpid() % 20000));
	tls_port = (unsigned short)(bd.port + 1);
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	bench_daemon_config(
		&bd,
		"{\"hostname\": \"mail.example.test\", "
		"\"mail_root\": \"%s\", \"module_dir\": \"%s\", "
		"\"modules\": [\"mod_shardstore\", \"mod_imap\"], "
		"\"tls\": {\"cert_file\": \"%s/tests/certs/cert.pem\", "
		"\"key_file\": \"%s/tests/certs/key.pem\"}, "
		"\"imap\": {\"listen\": [\"127.0.0.1:%u\"], "
		"\"imaps_listen\": [\"127.0.0.1:%u\"], "
		"\"allow_cleartext_login_loopback\": true}, "
		"\"index\": {\"enabled\": %s}, "
		"\"limits\": {\"max_connections\": %u}, "
		"\"processes\": %d}\n",
		bd.root, mods, src, src, bd.port, tls_port,
		getenv("RMAIL_BENCH_NOINDEX") != NULL ? "false" : "true",
		nidle + 100, procs);
	if (reuse != NULL)
		goto start;
	mkdir(bd.root, 0700);
	bench_user_add(&bd, USER, PASS);
	snprintf(dir, sizeof(dir),
		 "%s/domains/example.test/users/bench/mail/INBOX", bd.root);
	t0 = now();
	populate(dir, inbox_n);
	printf("# populated INBOX with %u messages in %.1f s\n", inbox_n,
	       now() - t0);
	for (i = 0; i < nusers; i++) {
		char user[64];

		snprintf(user, sizeof(user), "u%u@example.test", i);
		bench_user_add(&bd, user, PASS);
		snprintf(dir, sizeof(dir),
			 "%s/domains/example.test/"
			 "users/u%u/mail/INBOX",
			 bd.root, i);
		populate(dir, inbox_n);
	}
	if (nusers > 0)
		printf("# %u more users, %u messages each\n", nusers, inbox_n);
	if ((mime_mode || sort_mode) && getenv("RMAIL_BENCH_NOINDEX") == NULL) {
		const char *args[] = {bd.bin,	 "-c", bd.config, "index",
				      "rebuild", USER, NULL};
		char idx[700];
		struct stat st;

		t0 = now();
		bench_run(&bd, args, NULL);
		snprintf(idx, sizeof(idx), "%s/index/%s.sqlite", bd.dir, USER);
		printf("# index rebuild of %u messages: %.1f s, file %.1f MB\n",
		       inbox_n, now() - t0,
		       stat(idx, &st) == 0 ? (double)st.st_size / 1e6 : 0.0);
	}

start:
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		const char *wrap = getenv("RMAIL_BENCH_WRAP");
		char *argv_d[32], *w = wrap != NULL ? strdup(wrap) : NULL;
		int k = 0;

		dup2(null, 1);
		dup2(null, 2);
		for (char *t = w != NULL ? strtok(w, " ") : NULL;
		     t != NULL && k < 26; t = strtok(NULL, " "))
			argv_d[k++] = t;
		argv_d[k++] = (char *)bin;
		argv_d[k++] = "-c";
		argv_d[k++] = bd.config;
		argv_d[k++] = "serve";
		argv_d[k] = NULL;
		execvp(argv_d[0], argv_d);
		_exit(127);
	}
	/* 30 s: a wrapper is slow */
	bench_wait_port(bd.port, 600, 50000);

	cl_login(&a);
	cl_login(&b);
	if (mime_mode) {
		mime_bench(&a, &b, inbox_n, pid);
		nidle = 0;
		goto out;
	}
	if (qresync_mode) {
		qresync_bench(&a, &b, inbox_n);
		goto out;
	}
	if (sort_mode) {
		sort_bench(&a, &b, inbox_n, pid);
		goto out;
	}
	if (cl_cmd(&a, "CREATE Small", NULL, 0) < 0)
		die("create");
	snprintf(cmd, sizeof(cmd), "APPEND Small {%zu+}", msg_len);
	for (i = 0; i < 1000; i++)
		cl_cmd(&a, cmd, msg, msg_len);
	if (idle_only)
		goto idle;

	/* SELECT again in the same session, alone on the mailbox: the
	 * session reuses what it has (docs/imap.md, issue 22) */
	timed(&a, "SELECT INBOX", NULL, 0);
	for (i = 0; i < 20; i++)
		v[i] = timed(&a, "SELECT INBOX", NULL, 0);
	printf("SELECT INBOX again in the same session, alone: p50 %.3f ms\n",
	       pct(v, 20, 0.5));
	/* SELECT, unchanged (b keeps the view warm, as a client would) */
	timed(&b, "SELECT INBOX", NULL, 0);
	timed(&a, "SELECT INBOX", NULL, 0);
	for (i = 0; i < 20; i++)
		v[i] = timed(&a, "SELECT INBOX", NULL, 0);
	printf("SELECT INBOX (%u msgs) unchanged: p50 %.3f ms\n", inbox_n,
	       pct(v, 20, 0.5));
	for (i = 0; i < 20; i++) {
		snprintf(cmd, sizeof(cmd),
			 "UID STORE %u %sFLAGS.SILENT "
			 "(\\Seen)",
			 1000 + i * 17, i % 2 ? "-" : "+");
		timed(&b, cmd, NULL, 0);
		v[i] = timed(&a, "SELECT INBOX", NULL, 0);
	}
	printf("SELECT INBOX after another session's flag change: "
	       "p50 %.3f ms\n",
	       pct(v, 20, 0.5));
	for (i = 0; i < 400; i++) {
		snprintf(cmd, sizeof(cmd),
			 "UID STORE %u %sFLAGS.SILENT "
			 "(\\Flagged)",
			 5000 + (i / 2) * 13, i % 2 ? "-" : "+");
		v[i] = timed(&a, cmd, NULL, 0);
	}
	printf("UID STORE +FLAGS (one message): p50 %.3f ms, p99 %.3f ms\n",
	       pct(v, 400, 0.5), pct(v, 400, 0.99));
	for (i = 0; i < 5; i++)
		v[i] = timed(&a, "UID FETCH 1:* (UID FLAGS)", NULL, 0);
	printf("UID FETCH 1:* (UID FLAGS): p50 %.3f ms\n", pct(v, 5, 0.5));
	for (i = 0; i < 20; i++)
		v[i] = timed(&a, "SEARCH UNSEEN", NULL, 0);
	printf("SEARCH UNSEEN: p50 %.3f ms\n", pct(v, 20, 0.5));

	snprintf(cmd, sizeof(cmd), "APPEND Small {%zu+}", msg_len);
	for (i = 0; i < 100; i++)
		v[i] = timed(&a, cmd, msg, msg_len);
	printf("APPEND 2 KB into a 1,000-message box: p50 %.3f ms, "
	       "p99 %.3f ms\n",
	       pct(v, 100, 0.5), pct(v, 100, 0.99));
	snprintf(cmd, sizeof(cmd), "APPEND INBOX {%zu+}", msg_len);
	for (i = 0; i < 100; i++)
		v[i] = timed(&a, cmd, msg, msg_len);
	printf("APPEND 2 KB into the %u-message INBOX: p50 %.3f ms, "
	       "p99 %.3f ms\n",
	       inbox_n, pct(v, 100, 0.5), pct(v, 100, 0.99));

	pthread_create(&th, NULL, appender, NULL);
	usleep(100000);
	for (i = 0; i < 1000; i++)
		v[i] = timed(&a, "NOOP", NULL, 0);
	atomic_store(&stop_flag, 1);
	pthread_join(th, NULL);
	printf("NOOP while another client appends: p50 %.3f ms, "
	       "p99 %.3f ms\n",
	       pct(v, 1000, 0.5), pct(v, 1000, 0.99));

	/* memory per idle IDLE connection (the daemon's descriptor
	 * limit is inherited from here) */
idle:
	rss0 = bench_tree_mem_kb(pid, "Rss:");
	idle_fds = calloc(nidle, sizeof(int));
	for (i = 0; i < nidle && idle_fds != NULL; i++)
		idle_fds[i] = idler(i);
	rss1 = bench_tree_mem_kb(pid, "Rss:");
	if (nusers > 0)
		printf("%u IDLE connections (%s, %u users on %u-message "
		       "INBOXes): daemon RSS %.1f MB in total\n",
		       nidle, use_tls ? "TLS" : "cleartext", nusers, inbox_n,
		       (double)rss1 / 1024.0);
	printf("%u IDLE connections (%s%s, %s): "
	       "RSS +%.1f MB, %.1f kB each\n",
	       nidle, use_tls ? "TLS" : "cleartext",
	       use_z ? " + COMPRESS=DEFLATE" : "",
	       nusers > 0 ? "many INBOXes" : "one 1,000-message box",
	       (double)(rss1 - rss0) / 1024.0,
	       (double)(rss1 - rss0) / (double)(nidle ? nidle : 1));
	/* RMAIL_BENCH_HOLD=s: time to attach a debugger to the daemon */
	if (getenv("RMAIL_BENCH_HOLD") != NULL) {
		printf("# daemon pid %d, holding %s s\n", (int)pid,
		       getenv("RMAIL_BENCH_HOLD"));
		sleep((unsigned)atoi(getenv("RMAIL_BENCH_HOLD")));
	}
	for (i = 0; i < nidle && idle_fds != NULL; i++)
		close(idle_fds[i]);
	free(idle_fds);

out:
	close(a.fd);
	close(b.fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	/* RMAIL_BENCH_KEEP=1: leave the directory to look at */
	if (getenv("RMAIL_BENCH_KEEP") == NULL && reuse == NULL)
		nftw(bd.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# kept %s\n", bd.dir);
	return 0;
}
