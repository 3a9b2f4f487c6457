/*
 * mod_milter's configuration: the "milter" section and its list of
 * milters, each a Postfix smtpd_milters entry ("inet:127.0.0.1:8891",
 * "{ unix:/run/x.sock, default_action=accept, listeners=mx }").
 * Parsed into a refcounted set: sessions keep the set they began
 * with across a reload.
 */
#ifndef MILTER_CONF_H
#define MILTER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <rmail/rmail.h>

#include "milter_proto.h"

struct milter_conf {
	struct rmail_strlist milters;
	struct rmail_strlist listeners;
	const char *default_action;
	double connect_timeout, command_timeout, content_timeout;
	int reuse;
	const char *macros[MILTER_M_COUNT];
};

struct milter_def {
	char *spec; /* the socket as configured, for logs */
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned listeners; /* bit (1 << enum rmail_filter_listener) */
	bool default_accept;
	double t_connect, t_command, t_content;
	struct milter_idle **idle; /* sockets after SMFIC_QUIT_NC */
	size_t nidle;
};

struct milter_set {
	int refs;
	size_t n;
	struct milter_def *v;
	bool reuse;
	char *macros[MILTER_M_COUNT];
};

/* 0, or -1 with the reason (naming the entry) in err */
int milter_set_build(const struct milter_conf *c, struct milter_set **set_r,
		     struct rmail_err *err);
void milter_set_ref(struct milter_set *s);
void milter_set_unref(struct milter_set **s);
/* "inet:127.0.0.1:8891", "inet:8891@127.0.0.1", "unix:/path" */
int milter_parse_socket(const char *s, struct sockaddr_storage *sa,
			socklen_t *len_r);
/* "30s", "500ms", "5m", "2" (seconds); -1 when not a duration */
double milter_parse_duration(const char *s);

/* mod_milter.c: the idle socket list of a def */
void milter_idle_drop_all(struct milter_def *d);

#endif
