/*
 * Fixture filter module for the event ABI (1.4), built like a
 * third-party module: every event it gets is one line appended to the
 * file named by its config key fxevent.log, with the message's first
 * line read from the descriptor it was handed.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

struct fx_conf {
	const char *log;
};

static const struct rmail_conf_key fx_keys[] = {
	{"log", RMAIL_CONF_STR, RMAIL_CONF_REQUIRED,
	 offsetof(struct fx_conf, log), NULL, "where events are written", NULL},
	RMAIL_CONF_END};

static void fx_on_event(struct rmail_mctx *m, const struct rmail_event *ev)
{
	const struct fx_conf *c = m->conf;
	char first[128], line[1024];
	ssize_t n = pread(ev->fd, first, sizeof(first) - 1, 0);
	char *eol;
	int fd, len;

	first[n > 0 ? n : 0] = '\0';
	eol = strpbrk(first, "\r\n");
	if (eol != NULL)
		*eol = '\0';
	len = snprintf(line, sizeof(line),
		       "kind=%u how=%s proto=%s user=%s from=%s/%u to=%s/%u "
		       "uid=%u nuids=%zu size=%llu first=%s\n",
		       ev->kind, ev->how == RMAIL_EVENT_MOVE ? "move" : "copy",
		       ev->proto ? ev->proto : "-", ev->user, ev->from_mbox,
		       ev->from_special_use, ev->to_mbox, ev->to_special_use,
		       ev->uid, ev->nuids, (unsigned long long)ev->msg_size,
		       first);
	fd = open(c->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)len) != len)
		m->core->log(m, RMAIL_LOG_WARN, "short write");
	close(fd);
}

static const struct rmail_filter_ops fx_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.on_event = fx_on_event,
};

RMAIL_MODULE_DEFINE(fxevent, RMAIL_KIND_FILTER, "1.4", .section = "fxevent",
		    .conf_keys = fx_keys, .conf_size = sizeof(struct fx_conf),
		    .ops = &fx_ops);
