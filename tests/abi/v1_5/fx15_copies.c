/*
 * Fixture filter for ABI 1.5, built against the frozen 1.5 headers
 * alone like a third-party module: at the DELIVERY stage, a message
 * with "X-Fx15: copies" goes to "One" (\Seen) and, as a second copy,
 * to "Two" with one keyword: "straße" folded by the core's
 * i;unicode-casemap (rmail_core.casemap), so "STRASSE".
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

static bool has(int fd, const char *needle)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static int fx_deliver(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		      struct rmail_filter_target *t, struct rmail_err *err)
{
	const char word[] = "stra\xc3\x9f"
			    "e";
	size_t n;

	(void)err;
	if (!has(msg->fd, "X-Fx15: copies"))
		return 0;
	snprintf(t->mailbox, sizeof(t->mailbox), "One");
	t->flags = RMAIL_F_SEEN;
	if (!RMAIL_HAS(t, struct rmail_filter_target, copies) ||
	    !RMAIL_HAS(m->core, struct rmail_core, casemap))
		return 0;
	snprintf(t->copies[0].mailbox, sizeof(t->copies[0].mailbox), "Two");
	n = m->core->casemap(word, sizeof(word) - 1, t->copies[0].keywords,
			     sizeof(t->copies[0].keywords) - 1);
	if (n >= sizeof(t->copies[0].keywords))
		n = 0;
	t->copies[0].keywords[n] = '\0';
	t->ncopies = 1;
	return 0;
}

static const struct rmail_filter_ops fx_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.deliver = fx_deliver,
};

RMAIL_MODULE_DEFINE(fx15copies, RMAIL_KIND_FILTER, "1.0", .ops = &fx_ops);
