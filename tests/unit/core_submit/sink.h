/* Loopback peers for the submission tests: a sink SMTP server on its
 * own thread (the DNS server is tests/support/dnsd). */
#ifndef SUBMIT_SINK_H
#define SUBMIT_SINK_H

#include <glib.h>

/* recipients decide the sink's replies: "reject..." 550, "tempfail..."
 * 451 the first time then 250, anything else 250.  STARTTLS is
 * advertised, answered 220, then the "handshake" gets garbage. */
guint sink_start(void);
guint sink_count(void);
/* the i-th message's data and its recipients, comma-separated (free) */
char *sink_message(guint i);
char *sink_rcpts(guint i);
/* the i-th DATA exactly as it came on the wire: stuffed, up to and
 * with the final ".\r\n" (free) */
char *sink_raw(guint i);
guint sink_tls_attempts(void);
/* A sink with a real STARTTLS (cert/key PEM) that, when user is set,
 * offers AUTH PLAIN under TLS and wants it before MAIL (530 otherwise).
 * Shares the message log above. */
guint sink_start_tls(const char *cert, const char *key, const char *user,
		     const char *pass);
guint sink_tls_done(void); /* completed handshakes */
/* a TLS sink that also advertises REQUIRETLS after STARTTLS */
guint sink_start_tls_rt(const char *cert, const char *key);
/* the last MAIL command any sink received (free) */
char *sink_last_mail(void);
guint sink_auth_seen(void); /* AUTH commands, right or wrong */
guint sink_auth_ok(void);

/* A sink that serves sessions in parallel (a thread each) and holds
 * each message hold_ms before its 250; it records how many sessions
 * held a message at once, in total and per recipient domain. */
guint stall_start(guint hold_ms);
guint stall_max_total(void);
guint stall_max_domain(const char *dom);
guint stall_delivered(void);

#endif
