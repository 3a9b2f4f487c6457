/* The 1.0 sizes as the frozen headers compute them, for the test to
 * hold the current headers' RMAIL_*_SIZE_1_0 against. */
#include <stddef.h>

#include <rmail/rmail.h>

#include "fx10_sizes.h"

const size_t fx10_sizes[FX10_NSIZES] = {
	RMAIL_MODULE_SIZE_1_0,	    RMAIL_CORE_SIZE_1_0,
	RMAIL_PROTO_OPS_SIZE_1_0,   RMAIL_LISTEN_OPTS_SIZE_1_0,
	RMAIL_SUBMIT_OPTS_SIZE_1_0, RMAIL_STORE_OPS_SIZE_1_0,
	RMAIL_APPEND_OPTS_SIZE_1_0, RMAIL_USER_UPDATE_SIZE_1_0,
	RMAIL_MBOX_STATUS_SIZE_1_0, RMAIL_FILTER_OPS_SIZE_1_0,
	RMAIL_FILTER_MSG_SIZE_1_0,  RMAIL_MIME_LIMITS_SIZE_1_0,
	RMAIL_JWT_CLAIMS_SIZE_1_0,
};

/* fixed-layout structs may never change within the major */
const size_t fx10_fixed[FX10_NFIXED] = {
	sizeof(struct rmail_user),	    sizeof(struct rmail_msg),
	sizeof(struct rmail_change),	    sizeof(struct rmail_mbox_entry),
	sizeof(struct rmail_line),	    sizeof(struct rmail_mime_part),
	sizeof(struct rmail_mime_addr),	    sizeof(struct rmail_auth_result),
	sizeof(struct rmail_submit_result), sizeof(struct rmail_rcpt_result),
	sizeof(struct rmail_filter_result), sizeof(struct rmail_conf_key),
	sizeof(struct rmail_err),
};
