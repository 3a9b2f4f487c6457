/* The 1.2 sizes as the frozen 1.2 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx12_store_ops_size = RMAIL_STORE_OPS_SIZE_1_2;
const size_t fx12_core_size = RMAIL_CORE_SIZE_1_2;
const size_t fx12_proto_ops_size = RMAIL_PROTO_OPS_SIZE_1_2;
const size_t fx12_mbox_status_size = RMAIL_MBOX_STATUS_SIZE_1_2;
