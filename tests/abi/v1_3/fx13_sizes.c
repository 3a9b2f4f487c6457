/* The 1.3 sizes as the frozen 1.3 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx13_store_ops_size = RMAIL_STORE_OPS_SIZE_1_3;
const size_t fx13_core_size = RMAIL_CORE_SIZE_1_3;
const size_t fx13_append_opts_size = RMAIL_APPEND_OPTS_SIZE_1_3;
const size_t fx13_filter_msg_size = RMAIL_FILTER_MSG_SIZE_1_3;
