/*
 * rmail module ABI version, and the one mechanism that lets it grow.
 *
 * The ABI version is independent of the release number.  A module built
 * for ABI M.m loads into a core providing M.n when n >= m.
 *
 * Policy:
 *  - append a field at the end of a sized struct or an ops/services
 *    table, add a new enum value or a new flag   -> RMAIL_ABI_MINOR++
 *  - remove, reorder or retype anything, change the meaning of a field,
 *    grow a fixed-layout struct (see module.h) or the frozen descriptor
 *    header                                      -> RMAIL_ABI_MAJOR++,
 *                                                   RMAIL_ABI_MINOR = 0
 *  - each release has at most one new minor: every append of a release
 *    goes under that minor, with a line in the changelog below, its
 *    RMAIL_*_SIZE_1_n for each struct it grows, and a frozen fixture in
 *    tests/abi/ built against that minor's headers.
 *
 * Sized structs carry their own `size` (sizeof at the producer's build).
 * The reader of one never trusts its own sizeof: it tests a field with
 * RMAIL_HAS() before reading it, or takes a copy with rmail_sized_copy(),
 * which zero-fills what the producer did not know.  `size` is the only
 * extension mechanism; there are no reserved fields.
 *
 * Changelog:
 *  1.0  first public ABI: the headers of release 0.1.0, including
 *       rmail_append_opts.nosync and rmail_store_ops.mbox_sync.
 *  1.1  rmail_store_ops.msg_move_some (a move reporting what it moved),
 *       rmail_store_ops.mbox_recent (per-mailbox \Recent mark),
 *       rmail_store_ops.domain_local_try and owns_address_try: the
 *       tri-state (yes / no / try later) forms of domain_is_local and
 *       owns_address.
 *       rmail_store_ops.check (the store's fsck, `rmail check-store`)
 *       and rmail_store_ops.health (`/healthz`, `rmail check`), with
 *       the rmail_check_fn callback type.
 *  1.2  (release 0.2 work, frozen in tests/abi/v1_2)
 *       rmail_proto_ops.ctx and ctx_accept, ctx_input, ctx_drain,
 *       ctx_tls_ready, ctx_timeout, ctx_close: the protocol handlers
 *       with the module context first (a table sets these or the 1.0
 *       on_* handlers, never both).
 *       rmail_store_ops.append_commit_many (a batch of appends stored
 *       all or none, for IMAP MULTIAPPEND).
 *       rmail_core.conn_suspend and conn_resume: pause input and hold
 *       the conn across asynchronous work, and undo it.
 *       rmail_mbox_status.vanished_horizon (the oldest modseq from
 *       which mbox_changes lists every expunge) and
 *       rmail_store_ops.msg_flags_unchanged (STORE UNCHANGEDSINCE),
 *       with the error code RMAIL_E_MODIFIED.
 *       rmail_store_ops.user_hash_cas (write a password hash only if
 *       the stored one is still the expected one: imports, rehash) and
 *       rmail_store_ops.user_rehash (upgrade a verified password to the
 *       store's default scheme, compare-and-swap).
 *       rmail_core.conf_str answers "workers.hash" too.
 *  1.3  (release 0.3 work, frozen in tests/abi/v1_3)
 *       rmail_filter_msg.auth_results, spf_result, dmarc_result,
 *       dmarc_disposition and from_domain: the mail-authentication
 *       results of port-25 mail (RMAIL_FILTER_MSG_SIZE_1_3).
 *       rmail_core.dns_query and dns_cancel: the core's asynchronous,
 *       DNSSEC-validating resolver (answers in <rmail/dns.h>).
 *       rmail_append_opts.uid and rmail_store_ops.mbox_set_uidvalidity:
 *       imports keep a source's UIDVALIDITY and UIDs.
 *  1.4  (release 0.4 work, frozen in tests/abi/v1_4)
 *       rmail_submit_opts.requiretls: the REQUIRETLS MAIL parameter
 *       (RFC 8689) travels with the message (RMAIL_SUBMIT_OPTS_SIZE_1_4).
 *       rmail_store_ops.user_setting_get and user_setting_set: per-user
 *       settings by name (RMAIL_STORE_OPS_SIZE_1_4).
 *       struct rmail_event (RMAIL_EVENT_SIZE_1_4), enum
 *       rmail_event_kind (RMAIL_EVENT_MSG_MOVED) and enum
 *       rmail_event_how; rmail_core.event_emit (producers) and
 *       rmail_filter_ops.on_event (consumers, on a worker thread):
 *       messages moved between special-use mailboxes
 *       (RMAIL_CORE_SIZE_1_4, RMAIL_FILTER_OPS_SIZE_1_4).
 *       rmail_store_ops.msg_emailid and mbox_objectid (RFC 8474
 *       OBJECTID: EMAILID and MAILBOXID), with RMAIL_OBJECTID_MAX.
 *       rmail_filter_ops.sess_open, sess_step, sess_close: per-session
 *       filters (the milter model: a reply at CONNECT, HELO, MAIL,
 *       each RCPT and DATA, ABORT between transactions), with the
 *       sized rmail_filter_step and rmail_filter_reply, the
 *       fixed-layout rmail_filter_edit (add/insert/change/delete
 *       header, replace body, add/delete recipient, change sender,
 *       quarantine); rmail_filter_ops.deliver with the sized
 *       rmail_filter_target (DELIVERY stage: mailbox, flags,
 *       keywords); rmail_filter_msg.prepend; rmail_core.
 *       filter_sess_open, filter_sess_step, filter_sess_close;
 *       rmail_submit_opts.filters (RMAIL_FILTER_OPS_SIZE_1_4,
 *       RMAIL_FILTER_MSG_SIZE_1_4, RMAIL_CORE_SIZE_1_4,
 *       RMAIL_SUBMIT_OPTS_SIZE_1_4).
 *  1.5  (release 0.5 work, frozen in tests/abi/v1_5)
 *       rmail_core.casemap: i;unicode-casemap (RFC 5051), the table
 *       mod_imap kept, now the core's for every module
 *       (RMAIL_CORE_SIZE_1_5).
 *       rmail_core.conf_str("processes"): the host's worker processes
 *       (a new key, no struct grows; NULL from an older core).
 *       rmail_store_ops.sieve_list, sieve_get, sieve_put,
 *       sieve_delete, sieve_rename, sieve_activate (Sieve scripts,
 *       RFC 5804's model, with rmail_sieve_fn and RMAIL_SIEVE_NAME_MAX)
 *       and vacation_check (RFC 5230's reply state, shared by
 *       processes) (RMAIL_STORE_OPS_SIZE_1_5).
 *       rmail_filter_target.ncopies and copies[] with the fixed-layout
 *       struct rmail_filter_copy and RMAIL_FILTER_COPIES_MAX: several
 *       copies per recipient at the DELIVERY stage
 *       (RMAIL_FILTER_TARGET_SIZE_1_5).
 *       rmail_store_ops.meta_get and meta_set with struct
 *       rmail_meta_entry, rmail_meta_fn and RMAIL_META_NAME_MAX: RFC
 *       5464 METADATA server and mailbox annotations
 *       (RMAIL_STORE_OPS_SIZE_1_5).
 *       rmail_store_ops.msg_savedate: RFC 8514 SAVEDATE, when a
 *       message was saved into its mailbox (RMAIL_STORE_OPS_SIZE_1_5).
 *       rmail_core.index_headers, index_search and index_update: the
 *       per-host header cache and full-text index, with struct
 *       rmail_index_hdr, struct rmail_index_result (sized), enum
 *       rmail_index_field and rmail_index_hdr_fn (RMAIL_CORE_SIZE_1_5,
 *       RMAIL_INDEX_HDR_SIZE_1_5, RMAIL_INDEX_RESULT_SIZE_1_5).
 *  1.6  (release 0.6 work, frozen in tests/abi/v1_6)
 *       rmail_core.rate_note and rate_keys with rmail_rate_key_fn: the
 *       noted keys of a rate bucket, host-wide, for commands that list
 *       or reset them (RMAIL_CORE_SIZE_1_6).
 *       rmail_core.index_match: a message checked against a folded
 *       needle as IMAP SEARCH and the index compare (the API's search
 *       confirms index candidates with it) (RMAIL_CORE_SIZE_1_6).
 *       rmail_store_ops.duplicate_check: per-user duplicate tracking
 *       shared by processes (RFC 7352's model); mod_sieve's record of
 *       the redirects it sent (RMAIL_STORE_OPS_SIZE_1_6).
 *       rmail_core.search_text with enum rmail_search_text: the
 *       searchable, folded text of a message (SEARCH BODY/TEXT,
 *       FROM/TO/CC), the core's one extraction shared with the
 *       full-text index (RMAIL_CORE_SIZE_1_6).
 *  1.7  (this release; every append below goes under it)
 *       rmail_store_ops.mbox_freeze, mbox_version and
 *       mbox_first_unseen: a frozen copy of a view sharing the records
 *       not read yet, the view's record version, and the first unseen
 *       message without reading every record (IMAP SELECT refers to
 *       the frozen copy instead of copying every message)
 *       (RMAIL_STORE_OPS_SIZE_1_7).
 *       rmail_filter_msg.prepend is also set at the DELIVERY stage
 *       (the core's lines on top of fd), on the first attempt and on
 *       each queue retry alike; no layout change.
 */
#ifndef RMAIL_VERSION_H
#define RMAIL_VERSION_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RMAIL_VERSION "0.1.0"

#define RMAIL_ABI_MAJOR 1
#define RMAIL_ABI_MINOR 7

/* Bytes of `type` up to and including `field`. */
#define RMAIL_SIZEOF_THROUGH(type, field)                                      \
	(offsetof(type, field) + sizeof(((type *)0)->field))

/* True when the sized struct at `ptr` (its producer's build) holds
 * `field`.  The one test for "is this entry there". */
#define RMAIL_HAS(ptr, type, field)                                            \
	((size_t)(ptr)->size >= RMAIL_SIZEOF_THROUGH(type, field))

/*
 * The 1.0 size of each sized struct: the end of its last 1.0 field.  A
 * table or struct smaller than this is refused; anything at least this
 * big is accepted, and entries past its own `size` read as absent.
 */
#define RMAIL_MODULE_SIZE_1_0 RMAIL_SIZEOF_THROUGH(struct rmail_module, ops)
#define RMAIL_CORE_SIZE_1_0 RMAIL_SIZEOF_THROUGH(struct rmail_core, secure_zero)
#define RMAIL_CORE_SIZE_1_2 RMAIL_SIZEOF_THROUGH(struct rmail_core, conn_resume)
#define RMAIL_CORE_SIZE_1_3 RMAIL_SIZEOF_THROUGH(struct rmail_core, dns_cancel)
#define RMAIL_CORE_SIZE_1_4                                                    \
	RMAIL_SIZEOF_THROUGH(struct rmail_core, filter_sess_close)
#define RMAIL_CORE_SIZE_1_5                                                    \
	RMAIL_SIZEOF_THROUGH(struct rmail_core, index_update)
#define RMAIL_CORE_SIZE_1_6 RMAIL_SIZEOF_THROUGH(struct rmail_core, search_text)
#define RMAIL_INDEX_HDR_SIZE_1_5                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_index_hdr, in_reply_to)
#define RMAIL_INDEX_RESULT_SIZE_1_5                                            \
	RMAIL_SIZEOF_THROUGH(struct rmail_index_result, exact)
#define RMAIL_PROTO_OPS_SIZE_1_0                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_proto_ops, on_close)
#define RMAIL_PROTO_OPS_SIZE_1_2                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_proto_ops, ctx_close)
#define RMAIL_LISTEN_OPTS_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_listen_opts, arg)
#define RMAIL_SUBMIT_OPTS_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_submit_opts, size_hint)
#define RMAIL_SUBMIT_OPTS_SIZE_1_4                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_submit_opts, filters)
#define RMAIL_STORE_OPS_SIZE_1_0                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, mbox_sync)
#define RMAIL_STORE_OPS_SIZE_1_1                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, health)
#define RMAIL_STORE_OPS_SIZE_1_2                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, user_rehash)
#define RMAIL_STORE_OPS_SIZE_1_3                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, mbox_set_uidvalidity)
#define RMAIL_STORE_OPS_SIZE_1_4                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, mbox_objectid)
#define RMAIL_STORE_OPS_SIZE_1_5                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, msg_savedate)
#define RMAIL_STORE_OPS_SIZE_1_6                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, duplicate_check)
#define RMAIL_STORE_OPS_SIZE_1_7                                               \
	RMAIL_SIZEOF_THROUGH(struct rmail_store_ops, mbox_first_unseen)
#define RMAIL_FILTER_TARGET_SIZE_1_4                                           \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_target, keywords)
#define RMAIL_FILTER_TARGET_SIZE_1_5                                           \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_target, copies)
#define RMAIL_APPEND_OPTS_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_append_opts, nosync)
#define RMAIL_APPEND_OPTS_SIZE_1_3                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_append_opts, uid)
#define RMAIL_USER_UPDATE_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_user_update, password)
#define RMAIL_MBOX_STATUS_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_mbox_status, highestmodseq)
#define RMAIL_MBOX_STATUS_SIZE_1_2                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_mbox_status, vanished_horizon)
#define RMAIL_FILTER_OPS_SIZE_1_0                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_ops, filter)
#define RMAIL_FILTER_OPS_SIZE_1_4                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_ops, on_event)
#define RMAIL_EVENT_SIZE_1_4 RMAIL_SIZEOF_THROUGH(struct rmail_event, msg_size)
#define RMAIL_FILTER_MSG_SIZE_1_0                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_msg, msg_size)
#define RMAIL_FILTER_MSG_SIZE_1_3                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_msg, from_domain)
#define RMAIL_FILTER_MSG_SIZE_1_4                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_filter_msg, prepend)
#define RMAIL_MIME_LIMITS_SIZE_1_0                                             \
	RMAIL_SIZEOF_THROUGH(struct rmail_mime_limits, max_line_len)
#define RMAIL_JWT_CLAIMS_SIZE_1_0                                              \
	RMAIL_SIZEOF_THROUGH(struct rmail_jwt_claims, exp)

/*
 * Copy a sized struct across the boundary, in either direction: `src`
 * as its producer built it (src_size bytes) into `dst` as the consumer
 * knows it (dst_size bytes).  The common prefix is copied, the rest of
 * dst zero-filled, nothing past either end touched.  Returns the bytes
 * copied: store it in dst's `size` so RMAIL_HAS() on dst says which
 * fields were really filled.
 */
static inline size_t rmail_sized_copy(void *dst, size_t dst_size,
				      const void *src, size_t src_size)
{
	size_t n = dst_size < src_size ? dst_size : src_size;

	memmove(dst, src, n);
	if (n < dst_size)
		memset((char *)dst + n, 0, dst_size - n);
	return n;
}

#endif
