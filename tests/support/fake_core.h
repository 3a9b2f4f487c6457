/*
 * A GLib fake of the core services table for in-process unit tests of
 * modules: logs go to a capture buffer, pools are malloc lists, timers
 * and fd watches run on a GMainContext, work_submit runs jobs inline or
 * on a GThreadPool; connections are fake_conn.h's, the protocol-side
 * services fake_services.c's.  Unimplemented entries are NULL (a test
 * that needs one adds it here).  One fake per process.
 */
#ifndef FAKE_CORE_H
#define FAKE_CORE_H

#include <glib.h>
#include <stdbool.h>

#include <rmail/rmail.h>

/* Create the fake (idempotent) and its struct rmail_core. */
const struct rmail_core *fake_core_init(void);
void fake_core_shutdown(void);

/* core->conf_str values ("mail_root", "hostname" ...); NULL unsets */
void fake_core_set_conf(const char *key, const char *value);
/* what core->store() returns */
void fake_core_set_store(const struct rmail_store_ops *ops, void *h);
/* true: work_submit runs the job and its done on a GThreadPool and the
 * loop; false (default): inline, done posted to the loop */
void fake_core_set_threaded_work(bool threaded);

/* every log line so far, "LEVEL module: text\n" */
const char *fake_core_log(void);
bool fake_core_log_contains(const char *needle);
void fake_core_log_clear(void);

/* a context for the fake's mctx (name, conf, pool) */
struct rmail_mctx *fake_core_mctx(const char *name, const void *conf);
void fake_core_mctx_free(struct rmail_mctx *m);

/* auth_login accepts this user and password (answer from the loop) */
void fake_core_add_login(const char *user, const char *password);

/* every message submit_commit took (it always succeeds, from the
 * loop); rcpt_policy says LOCAL for @example.test, RELAY for others
 * when authenticated, DENIED else */
struct fake_submission {
	char *proto, *mail_from, *auth_user;
	GPtrArray *rcpts; /* char * */
	GString *data;
};
const GPtrArray *fake_core_submissions(void);
void fake_core_submissions_clear(void);

/* what the module passed to core->listen for `key` (the last call) */
bool fake_core_listener(const char *key, const struct rmail_proto_ops **ops_r,
			struct rmail_listen_opts *o_r);

/* fake_services.c / fake_conn.c fill their entries of the table */
void fake_services_install(struct rmail_core *core);

/* run the loop: until pred(arg) is true or timeout seconds passed;
 * pred NULL runs for the whole timeout.  Returns pred's last value. */
bool fake_core_run(bool (*pred)(void *arg), void *arg, double timeout);
GMainContext *fake_core_context(void);

#endif
