/*
 * The DATA/BDAT body machine on hostile input.  Byte 0 picks the mode
 * and limits, byte 1 the chunk size; the rest is what follows DATA.
 *
 * Invariants (DATA):
 * - the message ends exactly at the first CRLF "." CRLF of CRLF+input
 *   (the CRLF of the DATA command counts), never earlier, never later,
 *   and never once a bare CR or LF has been seen;
 * - the output is the input up to the terminator minus the leading "."
 *   of each line, octet for octet.  So a CRLF "." CRLF in the output can
 *   only come from a stuffed ".." line, never from one that could have
 *   ended the message;
 * - the output holds no bare CR or LF, and never more than max_size;
 * - the result does not depend on how the input is chunked.
 * BDAT: the same bare CR / LF rule (a final CR is bare); otherwise the
 * output is the input, octet for octet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_body.h"

struct sink {
	uint8_t *out;
	size_t len, cap;
	const char *chunk;
	size_t chunk_len;
};

static int sink_out(void *arg, const char *data, size_t n)
{
	struct sink *s = arg;

	if (data < s->chunk || data + n > s->chunk + s->chunk_len || n == 0)
		abort(); /* slices come from the caller's chunk only */
	if (s->len + n > s->cap)
		abort(); /* output is never larger than the input */
	memcpy(s->out + s->len, data, n);
	s->len += n;
	return 0;
}

struct outcome {
	int rc, err;
	size_t end, outlen;
	uint64_t size;
};

static struct outcome run(int mode, const struct smtp_body_limits *lim,
			  const uint8_t *in, size_t len, size_t step,
			  struct sink *s)
{
	struct smtp_body b;
	struct outcome o = {.rc = RMAIL_AGAIN};
	size_t pos = 0, used;

	s->len = 0;
	smtp_body_init(&b, mode, lim, sink_out, s);
	while (pos < len) {
		size_t n = step == 0 ? len - pos
				     : (step < len - pos ? step : len - pos);
		char *buf = malloc(n);

		if (buf == NULL)
			abort();
		memcpy(buf, in + pos, n);
		s->chunk = buf;
		s->chunk_len = n;
		o.rc = smtp_body_feed(&b, buf, n, &used);
		free(buf);
		if (used > n)
			abort();
		pos += used;
		if (o.rc != RMAIL_AGAIN)
			break;
		if (used != n)
			abort();
	}
	if (o.rc == RMAIL_AGAIN && mode == SMTP_BODY_BDAT)
		o.rc = smtp_body_finish(&b);
	o.err = b.err;
	o.end = pos;
	o.size = b.size;
	o.outlen = s->len;
	if (lim->max_size != 0 && s->len > lim->max_size)
		abort();
	return o;
}

/* first CRLF.CRLF in CRLF+in, as the offset just past it in `in` */
static size_t first_end(const uint8_t *in, size_t len)
{
	size_t i;

	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++) {
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	}
	return SIZE_MAX;
}

/* offset of the first bare CR or LF (a CR at the very end is not) */
static size_t first_bare(const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			return i;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] != '\n')
			return i + 1;
	}
	return SIZE_MAX;
}

/* out must be the input up to its terminator with the leading "." of
 * every line removed, and hold no bare CR or LF */
static void check_unstuffed(const uint8_t *in, size_t end, const uint8_t *out,
			    size_t outlen)
{
	size_t i, k = 0;
	int bol = 1;

	if (end < 3 || memcmp(in + end - 3, ".\r\n", 3) != 0)
		abort();
	for (i = 0; i < end - 3; i++) {
		if (bol && in[i] == '.') {
			bol = 0;
			continue;
		}
		if (k >= outlen || out[k] != in[i])
			abort();
		k++;
		bol = in[i] == '\n';
	}
	if (k != outlen)
		abort();
	for (i = 0; i < outlen; i++) {
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
		if (out[i] == '\r' && (i + 1 >= outlen || out[i + 1] != '\n'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_body_limits none = {0}, lim = {0};
	struct sink s1, s2;
	struct outcome a, b;
	size_t step, e, bare;
	int mode;

	if (size < 2)
		return 0;
	mode = (data[0] & 1) ? SMTP_BODY_BDAT : SMTP_BODY_DATA;
	if (data[0] & 2)
		lim.max_size = data[0] >> 2;
	if (data[0] & 4)
		lim.max_headers = 1 + (data[0] >> 5);
	if (data[0] & 8)
		lim.max_header_size = data[0] >> 3;
	step = data[1];
	data += 2;
	size -= 2;
	s1.cap = s2.cap = size;
	s1.out = malloc(size + 1);
	s2.out = malloc(size + 1);
	if (s1.out == NULL || s2.out == NULL)
		abort();

	a = run(mode, &none, data, size, 0, &s1);
	b = run(mode, &none, data, size, step, &s2);
	if (a.rc != b.rc || a.end != b.end)
		abort();
	/* after a bare CR/LF the message is void: how much of it went out
	 * before the fault depends on the chunking, and does not matter */
	if (a.rc != RMAIL_INVALID &&
	    (a.outlen != b.outlen || memcmp(s1.out, s2.out, a.outlen) != 0))
		abort();
	if (mode == SMTP_BODY_BDAT) {
		/* the DATA rule; a CR as the last octet is bare too, found
		 * at the end */
		bare = first_bare(data, size);
		if (bare == SIZE_MAX && size > 0 && data[size - 1] == '\r')
			bare = size;
		if (bare != SIZE_MAX) {
			if (a.rc != RMAIL_INVALID || a.end != bare)
				abort();
		} else if (a.rc != RMAIL_OK || a.outlen != size ||
			   memcmp(s1.out, data, size) != 0) {
			abort();
		}
	} else {
		e = first_end(data, size);
		bare = first_bare(data, size);
		if (bare < e || (bare != SIZE_MAX && e == SIZE_MAX)) {
			/* refused at the first bare octet */
			if (a.rc != RMAIL_INVALID || a.end != bare)
				abort();
		} else if (e != SIZE_MAX) {
			if (a.rc != RMAIL_OK || a.end != e)
				abort();
			check_unstuffed(data, e, s1.out, a.outlen);
			if (a.size != a.outlen)
				abort();
		} else if (a.rc != RMAIL_AGAIN || a.end != size) {
			abort();
		}
	}

	/* with limits: same end, bounded output, the limit reported */
	b = run(mode, &lim, data, size, step, &s2);
	if (b.end != a.end)
		abort();
	if (a.rc == RMAIL_OK) {
		if (b.rc != RMAIL_OK && b.rc != RMAIL_TOOLONG)
			abort();
		if (lim.max_size != 0 && a.size > lim.max_size &&
		    b.rc != RMAIL_TOOLONG)
			abort();
		if (b.rc == RMAIL_OK && (b.outlen != a.outlen ||
					 memcmp(s1.out, s2.out, a.outlen) != 0))
			abort();
	} else if (b.rc != a.rc) {
		abort();
	}
	free(s1.out);
	free(s2.out);
	return 0;
}
