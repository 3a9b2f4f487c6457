/*
 * mime_bench: the core MIME parser through the services table.  Prints
 * the time to parse (and, where it applies, list the addresses of):
 *   - 500,000 To: headers (CVE-2024-23184 class; limit: under 1 s);
 *   - one To: header with 500,000 addresses, default limits and with
 *     the header length limit raised so the address list is refused;
 *   - a 40-part multipart/mixed message, ENVELOPE+BODYSTRUCTURE-style
 *     work (headers decoded, addresses, every body decoded), in
 *     messages/s.
 *
 *	mime_bench [-n iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmail/rmail.h>

const struct rmail_core *rm_core(void);

static const struct rmail_core *core;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sbuf {
	char *p;
	size_t len, cap;
};

static void add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void envelope_work(struct rmail_mime *m, size_t *naddr_r)
{
	static const char *const h[] = {"From", "To", "Cc", "Subject"};
	const struct rmail_mime_addr *a;
	size_t i, j, n, bl;
	const char *v, *b;
	struct rmail_err err;

	*naddr_r = 0;
	for (i = 0; i < core->mime_part_count(m); i++) {
		for (j = 0; j < 4; j++) {
			(void)core->mime_header(m, i, h[j], 0, 1);
			v = core->mime_header(m, i, h[j], 0, 0);
			if (v != NULL && j < 3 &&
			    core->mime_addresses(m, v, &a, &n) == 0)
				*naddr_r += n;
		}
		(void)core->mime_body(m, i, 1, &b, &bl, &err);
	}
}

static void run(const char *what, const struct sbuf *msg,
		const struct rmail_mime_limits *lim, int iters)
{
	struct rmail_mime *m;
	struct rmail_err err;
	double t0, best = 1e9;
	size_t naddr = 0;
	int i, rc = 0;

	for (i = 0; i < iters; i++) {
		t0 = now();
		rc = core->mime_parse(msg->p, msg->len, lim, &m, &err);
		if (rc == 0) {
			envelope_work(m, &naddr);
			core->mime_free(&m);
		}
		if (now() - t0 < best)
			best = now() - t0;
	}
	printf("%-44s %9.1f ms  (%zu bytes, parse %s, %zu addresses)\n", what,
	       best * 1e3, msg->len, rc == 0 ? "ok" : "refused", naddr);
}

int main(int argc, char **argv)
{
	struct rmail_mime_limits big = {.size = sizeof(big),
					.max_header_len = 64u << 20};
	struct sbuf b = {0};
	char line[256];
	int iters = 3, opt, i;
	double t0;
	size_t n;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			iters = atoi(optarg) > 0 ? atoi(optarg) : 1;
	core = rm_core();

	for (i = 0; i < 500000; i++) {
		snprintf(line, sizeof(line), "To: u%d@example.com\r\n", i);
		add(&b, line);
	}
	add(&b, "\r\nbody\r\n");
	run("500,000 To: headers", &b, NULL, iters);

	b.len = 0;
	add(&b, "To: ");
	for (i = 0; i < 500000; i++) {
		snprintf(line, sizeof(line), "\"U %d\" <u%d@example.com>,\r\n ",
			 i, i);
		add(&b, line);
	}
	add(&b, "x@example.com\r\n\r\nbody\r\n");
	run("one To: with 500,000 addresses", &b, NULL, iters);
	run("same, header limit 64 MiB (list refused)", &b, &big, iters);

	b.len = 0;
	add(&b, "From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n"
		"To: a@example.com, \"B\" <b@example.com>\r\n"
		"Subject: =?iso-8859-1?q?caf=E9?=\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
	for (i = 0; i < 40; i++) {
		add(&b, "--b\r\nContent-Type: text/plain; charset=iso-8859-1"
			"\r\nContent-Transfer-Encoding: quoted-printable\r\n"
			"\r\n");
		for (int l = 0; l < 20; l++)
			add(&b, "caf=E9 au lait, a line of ordinary text in a "
				"part\r\n");
	}
	add(&b, "--b--\r\n");
	n = 0;
	t0 = now();
	for (i = 0; i < 2000; i++) {
		struct rmail_mime *m;
		struct rmail_err err;
		size_t na;

		if (core->mime_parse(b.p, b.len, NULL, &m, &err) != 0)
			abort();
		envelope_work(m, &na);
		n += na;
		core->mime_free(&m);
	}
	printf("%-44s %9.0f msg/s (%zu bytes, %zu addresses)\n",
	       "40-part message, full decode", 2000 / (now() - t0), b.len,
	       n / 2000);
	free(b.p);
	return 0;
}
