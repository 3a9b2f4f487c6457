/* The 1.6 sizes as the frozen 1.6 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx16_core_size = RMAIL_CORE_SIZE_1_6;
const size_t fx16_store_ops_size = RMAIL_STORE_OPS_SIZE_1_6;
