/* The 1.5 sizes as the frozen 1.5 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx15_core_size = RMAIL_CORE_SIZE_1_5;
const size_t fx15_index_hdr_size = RMAIL_INDEX_HDR_SIZE_1_5;
const size_t fx15_index_result_size = RMAIL_INDEX_RESULT_SIZE_1_5;
const size_t fx15_store_ops_size = RMAIL_STORE_OPS_SIZE_1_5;
const size_t fx15_filter_target_size = RMAIL_FILTER_TARGET_SIZE_1_5;
