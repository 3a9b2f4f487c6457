/*
 * The one place the core calls a listener's protocol handlers.  A table
 * is either the 1.0 layout (on_*, no context) or the 1.2 layout (ctx
 * first); rm_listen has refused anything else, and the listener's copy
 * is at the core's size, so reading the ctx_* entries of a 1.0 table
 * reads NULL.
 */
#ifndef RM_PROTO_CALL_H
#define RM_PROTO_CALL_H

#include <stdbool.h>

#include <rmail/core.h>

/* the 1.2 layout: rm_listen took the pair of one layout only */
static inline bool rm_proto_has_ctx(const struct rmail_proto_ops *o)
{
	return o->ctx_accept != NULL;
}

static inline int rm_proto_accept(const struct rmail_proto_ops *o,
				  struct rmail_conn *c, void **session_r)
{
	if (rm_proto_has_ctx(o))
		return o->ctx_accept(o->ctx, c, session_r);
	return o->on_accept(c, session_r);
}

static inline int rm_proto_input(const struct rmail_proto_ops *o,
				 struct rmail_conn *c, void *session)
{
	if (rm_proto_has_ctx(o))
		return o->ctx_input(o->ctx, c, session);
	return o->on_input(c, session);
}

/* the optional handlers do nothing when the table has none */
static inline bool rm_proto_has_drain(const struct rmail_proto_ops *o)
{
	return rm_proto_has_ctx(o) ? o->ctx_drain != NULL : o->on_drain != NULL;
}

static inline void rm_proto_drain(const struct rmail_proto_ops *o,
				  struct rmail_conn *c, void *session)
{
	if (rm_proto_has_ctx(o)) {
		if (o->ctx_drain != NULL)
			o->ctx_drain(o->ctx, c, session);
	} else if (o->on_drain != NULL) {
		o->on_drain(c, session);
	}
}

static inline void rm_proto_tls_ready(const struct rmail_proto_ops *o,
				      struct rmail_conn *c, void *session)
{
	if (rm_proto_has_ctx(o)) {
		if (o->ctx_tls_ready != NULL)
			o->ctx_tls_ready(o->ctx, c, session);
	} else if (o->on_tls_ready != NULL) {
		o->on_tls_ready(c, session);
	}
}

static inline void rm_proto_timeout(const struct rmail_proto_ops *o,
				    struct rmail_conn *c, void *session)
{
	if (rm_proto_has_ctx(o)) {
		if (o->ctx_timeout != NULL)
			o->ctx_timeout(o->ctx, c, session);
	} else if (o->on_timeout != NULL) {
		o->on_timeout(c, session);
	}
}

static inline void rm_proto_close(const struct rmail_proto_ops *o,
				  struct rmail_conn *c, void *session,
				  int reason)
{
	if (rm_proto_has_ctx(o)) {
		if (o->ctx_close != NULL)
			o->ctx_close(o->ctx, c, session, reason);
	} else if (o->on_close != NULL) {
		o->on_close(c, session, reason);
	}
}

#endif
