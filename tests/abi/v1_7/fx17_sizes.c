/* The 1.7 sizes (and the 1.6 ones again) as the frozen 1.7 headers
 * compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx17_store_ops_size = RMAIL_STORE_OPS_SIZE_1_7;
const size_t fx17_core_size_1_6 = RMAIL_CORE_SIZE_1_6;
const size_t fx17_store_ops_size_1_6 = RMAIL_STORE_OPS_SIZE_1_6;
