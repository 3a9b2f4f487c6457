/* Logging: one line per call.  In the foreground lines go to stderr
 * with "<N>" syslog priority prefixes that journald understands; with
 * syslog on they go to syslog(3).  Secrets never reach this file: the
 * callers log user names and addresses, never passwords or tokens. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "rm.h"

static int log_level = RMAIL_LOG_INFO;
static bool log_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void rm_log_set_level(int level)
{
	log_level = level;
}

int rm_log_level(void)
{
	return log_level;
}

void rm_log_use_syslog(bool on)
{
	if (on && !log_syslog)
		openlog("rmail", LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = on;
}

static const char *level_name(int level)
{
	switch (level) {
	case RMAIL_LOG_ERR:
		return "error";
	case RMAIL_LOG_WARN:
		return "warning";
	case RMAIL_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void rm_vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	size_t off = 0;
	int n;

	if (level > log_level)
		return;
	if (prefix != NULL && prefix[0] != '\0') {
		n = snprintf(line, sizeof(line), "%s: ", prefix);
		off = n > 0 ? (size_t)n : 0;
		if (off >= sizeof(line))
			off = sizeof(line) - 1;
	}
	vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	/* one record per line: a CR or LF in logged data cannot forge one,
	 * nor another control character reach a terminal */
	for (char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (log_syslog) {
		syslog(level, "%s", line);
		return;
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "<%d>%s: %s\n", level, level_name(level), line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void rm_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rm_vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void rm_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rm_vlog(RMAIL_LOG_ERR, "panic", fmt, ap);
	va_end(ap);
	abort();
}
