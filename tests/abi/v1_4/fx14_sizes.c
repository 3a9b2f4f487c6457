/* The 1.4 sizes as the frozen 1.4 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx14_core_size = RMAIL_CORE_SIZE_1_4;
const size_t fx14_submit_opts_size = RMAIL_SUBMIT_OPTS_SIZE_1_4;
const size_t fx14_store_ops_size = RMAIL_STORE_OPS_SIZE_1_4;
const size_t fx14_filter_ops_size = RMAIL_FILTER_OPS_SIZE_1_4;
const size_t fx14_event_size = RMAIL_EVENT_SIZE_1_4;
const size_t fx14_filter_msg_size = RMAIL_FILTER_MSG_SIZE_1_4;
