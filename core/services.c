/*
 * The services table handed to every module: the only way a module
 * reaches the core.  Entries point straight at the rm_* functions.
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "index/index.h"
#include "rm.h"
#include "submit/filter_sess.h"
#include "text/casemap.h"

static void svc_vlog(const struct rmail_mctx *m, int level, const char *fmt,
		     va_list ap) RMAIL_PRINTF(3, 0);

static void svc_vlog(const struct rmail_mctx *m, int level, const char *fmt,
		     va_list ap)
{
	rm_vlog(level, m != NULL ? m->name : NULL, fmt, ap);
}

static void svc_log(const struct rmail_mctx *m, int level, const char *fmt, ...)
	RMAIL_PRINTF(3, 4);

static void svc_log(const struct rmail_mctx *m, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	svc_vlog(m, level, fmt, ap);
	va_end(ap);
}

static const char *svc_conf_str(const char *key)
{
	const struct rm_config *c = rm_conf();

	if (key == NULL)
		return NULL;
	if (strcmp(key, "version") == 0)
		return RMAIL_VERSION;
	if (c == NULL)
		return NULL;
	if (strcmp(key, "hostname") == 0)
		return c->hostname;
	if (strcmp(key, "mail_root") == 0)
		return c->mail_root;
	if (strcmp(key, "workers.hash") == 0) {
		/* the store sizes what password checks may take at once */
		static char buf[16];

		/* this process's share of the host's threads */
		snprintf(buf, sizeof(buf), "%u",
			 rm_proc_share(c->workers.hash));
		return buf;
	}
	if (strcmp(key, "processes") == 0) {
		static char buf[16];

		snprintf(buf, sizeof(buf), "%u", rm_proc_count());
		return buf;
	}
	return NULL;
}

static int svc_ip_is_exempt(const char *ip)
{
	return rm_ip_is_exempt(ip) ? 1 : 0;
}

/* The kinds modules know (RMAIL_WORK_*); the core's own pools after
 * them are not theirs to fill.  An unknown kind was a panic before any
 * pool of the core's existed: it stays harmless, on the read pool. */
static struct rmail_work *module_work_submit(int kind, rmail_work_fn work,
					     rmail_done_fn done, void *arg)
{
	if (kind < RMAIL_WORK_WRITE || kind > RMAIL_WORK_HASH) {
		rm_log(RMAIL_LOG_WARN,
		       "work_submit: unknown kind %d, run on the read pool",
		       kind);
		kind = RMAIL_WORK_READ;
	}
	return rm_work_submit(kind, work, done, arg);
}

static const struct rmail_core core_table = {
	.abi_major = RMAIL_ABI_MAJOR,
	.abi_minor = RMAIL_ABI_MINOR,
	.size = sizeof(struct rmail_core),

	.log = svc_log,
	.vlog = svc_vlog,
	.conf_str = svc_conf_str,

	.pool_create = rm_pool_create,
	.pool_destroy = rm_pool_destroy,
	.pool_reset = rm_pool_reset,
	.palloc = rm_palloc,
	.pcalloc = rm_pcalloc,
	.pstrdup = rm_pstrdup,
	.pstrndup = rm_pstrndup,
	.psprintf = rm_psprintf,
	.pool_cleanup_add = rm_pool_cleanup_add,

	.listen = rm_listen,

	.conn_read_line = rm_conn_read_line,
	.conn_peek = rm_conn_peek,
	.conn_consume = rm_conn_consume,
	.conn_write = rm_conn_write,
	.conn_printf = rm_conn_printf,
	.conn_outq = rm_conn_outq,
	.conn_starttls = rm_conn_starttls,
	.conn_pause_read = rm_conn_pause_read,
	.conn_resume_read = rm_conn_resume_read,
	.conn_set_timeout = rm_conn_set_timeout,
	.conn_close = rm_conn_close,
	.conn_ref = rm_conn_ref,
	.conn_unref = rm_conn_unref,
	.conn_closed = rm_conn_closed,
	.conn_is_tls = rm_conn_is_tls,
	.conn_tls_info = rm_conn_tls_info,
	.conn_peer_ip = rm_conn_peer_ip,
	.conn_peer_port = rm_conn_peer_port,
	.conn_local_port = rm_conn_local_port,
	.conn_is_loopback = rm_conn_is_loopback,
	.conn_id = rm_conn_id,
	.conn_pool = rm_conn_pool,
	.conn_listen_arg = rm_conn_listen_arg,
	.conn_log = rm_conn_log,

	.timer_add = rm_timer_add,
	.timer_del = rm_timer_del,
	.io_add = rm_io_add,
	.io_del = rm_io_del,
	.loop_post = rm_loop_post,
	.now = rm_now,

	.work_submit = module_work_submit,
	.work_cancel = rm_work_cancel,

	.store = rm_store,

	.auth_login = rm_auth_login,
	.auth_failures = rm_auth_failures,
	.auth_log_failure = rm_auth_log_failure,
	.jwt_sign = rm_jwt_sign,
	.jwt_verify = rm_jwt_verify,

	.rcpt_policy = rm_rcpt_policy,
	.submit_begin = rm_submit_begin,
	.submit_write = rm_submit_write,
	.submit_commit = rm_submit_commit,
	.submit_abort = rm_submit_abort,

	.rate_hit = rm_rate_hit,
	.rate_count = rm_rate_count,
	.rate_reset = rm_rate_reset,
	.ip_is_exempt = svc_ip_is_exempt,

	.metric_add = rm_metric_add,
	.metric_set = rm_metric_set,
	.metric_observe = rm_metric_observe,

	.mime_parse = rm_mime_parse,
	.mime_free = rm_mime_free,
	.mime_part_count = rm_mime_part_count,
	.mime_part = rm_mime_part,
	.mime_header = rm_mime_header,
	.mime_body = rm_mime_body,
	.mime_addresses = rm_mime_addresses,

	.filter_run = rm_filter_run,

	.control_register = rm_control_register,

	.base64_decode = rm_base64_decode,
	.base64_encode = rm_base64_encode,
	.random_bytes = rm_random_bytes,
	.secure_zero = rm_secure_zero,

	/* 1.2 */
	.conn_suspend = rm_conn_suspend,
	.conn_resume = rm_conn_resume,

	/* 1.3 */
	.dns_query = rm_dns_query_svc,
	.dns_cancel = rm_dns_cancel_svc,

	/* 1.4 */
	.event_emit = rm_event_emit,
	.filter_sess_open = rm_filter_sess_open,
	.filter_sess_step = rm_filter_sess_step,
	.filter_sess_close = rm_filter_sess_close,
	.casemap = rm_casemap,
	.index_headers = rm_index_headers,
	.index_search = rm_index_search,
	.index_update = rm_index_update,
	.rate_note = rm_rate_note,
	.rate_keys = rm_rate_keys,
	.index_match = rm_index_match,
	.search_text = rm_search_text,
};

const struct rmail_core *rm_core(void)
{
	return &core_table;
}

/* The storage module's handle is its mctx->data, set by its init(). */
const struct rmail_store_ops *rm_store(void **h_r)
{
	for (size_t i = 0; i < rm_module_count(); i++) {
		struct rm_module *m = rm_module_at(i);

		if (m->mctx.module->kind != RMAIL_KIND_STORAGE)
			continue;
		if (h_r != NULL)
			*h_r = m->mctx.data;
		return &m->ops.store;
	}
	if (h_r != NULL)
		*h_r = NULL;
	return NULL;
}
