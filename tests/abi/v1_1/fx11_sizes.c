/* The 1.1 sizes as the frozen 1.1 headers compute them. */
#include <stddef.h>

#include <rmail/rmail.h>

const size_t fx11_store_ops_size = RMAIL_STORE_OPS_SIZE_1_1;
const size_t fx11_store_ops_sizeof = sizeof(struct rmail_store_ops);
