/*
 * smtp_parse on hostile input.  Byte 0 picks the options (SMTPUTF8
 * transaction, a small line limit), byte 1 a split point; the rest is
 * the stream.  Checks: progress and bounds on every call, slices inside
 * the line, replies well formed, and the same commands whole or split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parser.h"
#include "smtp_reply.h"

#define MAXRES 256

struct res {
	int rc, verb, err;
	size_t end;
};

static void check_slice(struct smtp_slice s, const char *buf, size_t len)
{
	if (s.p == NULL)
		return;
	if (s.p < buf || s.p + s.len > buf + len)
		abort();
}

static size_t run(const uint8_t *in, size_t len, size_t max, int utf8,
		  size_t split, struct res *out)
{
	struct smtp_parser st = {.max_line = max, .utf8 = utf8};
	size_t pos = 0, fed = 0, n = 0, guard = 0;

	while (fed < len) {
		fed = (split > fed && split < len) ? split : len;
		for (;;) {
			size_t avail = fed - pos;
			char *buf = malloc(avail + 1);
			struct smtp_cmd c;
			int rc;

			if (buf == NULL || ++guard > 4 * len + 16)
				abort();
			memcpy(buf, in + pos, avail);
			rc = smtp_parse(&st, buf, avail, &c);
			if (c.consumed > avail)
				abort();
			if (rc != RMAIL_AGAIN) {
				char reply[600];
				size_t rlen;

				if (c.consumed == 0)
					abort();
				check_slice(c.arg, buf, avail);
				check_slice(c.path.mailbox, buf, avail);
				check_slice(c.path.local, buf, avail);
				check_slice(c.path.domain, buf, avail);
				check_slice(c.auth, buf, avail);
				check_slice(c.mech, buf, avail);
				check_slice(c.initial, buf, avail);
				if (rc == RMAIL_OK && c.err != SMTP_PERR_NONE)
					abort();
				if (rc != RMAIL_OK &&
				    (c.err == SMTP_PERR_NONE ||
				     c.err_detail == NULL))
					abort();
				if (rc == RMAIL_OK &&
				    c.path.mailbox.len > SMTP_MAILBOX_MAX)
					abort();
				if (smtp_reply_format(reply, sizeof(reply),
						      smtp_perr_code(c.err),
						      smtp_perr_enh(c.err),
						      smtp_perr_text(c.err),
						      &rlen) < 0)
					abort();
				if (n < MAXRES) {
					out[n].rc = rc;
					out[n].verb = c.verb;
					out[n].err = c.err;
					out[n].end = pos + c.consumed;
					n++;
				}
			}
			pos += c.consumed;
			free(buf);
			if (rc == RMAIL_AGAIN)
				break;
		}
	}
	return n;
}

/* Results agree up to the first framing fault or long line, whose
 * exact report may depend on how much was buffered. */
static void compare(const struct res *a, size_t na, const struct res *b,
		    size_t nb)
{
	size_t i;

	for (i = 0; i < na && i < nb; i++) {
		if (a[i].err == SMTP_PERR_BARE_EOL ||
		    a[i].err == SMTP_PERR_TOOLONG ||
		    b[i].err == SMTP_PERR_BARE_EOL ||
		    b[i].err == SMTP_PERR_TOOLONG)
			return;
		if (a[i].rc != b[i].rc || a[i].verb != b[i].verb ||
		    a[i].err != b[i].err || a[i].end != b[i].end)
			abort();
	}
	if (na != nb && na < MAXRES && nb < MAXRES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct res a[MAXRES], b[MAXRES];
	size_t max, na, nb, split;
	int utf8;

	if (size < 2)
		return 0;
	utf8 = data[0] & 1;
	max = (data[0] & 2) ? 32 + (data[0] >> 2) : 0;
	split = data[1];
	data += 2;
	size -= 2;
	na = run(data, size, max, utf8, 0, a);
	nb = run(data, size, max, utf8, split, b);
	compare(a, na, b, nb);
	return 0;
}
