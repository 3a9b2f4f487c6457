/* The services table handed to modules (being fleshed out). */
#include "rm.h"

static const struct rmail_core core_table = {
	.abi_major = RMAIL_ABI_MAJOR,
	.abi_minor = RMAIL_ABI_MINOR,
	.size = sizeof(struct rmail_core),
};

const struct rmail_core *rm_core(void)
{
	return &core_table;
}

const struct rmail_store_ops *rm_store(void **h_r)
{
	if (h_r != NULL)
		*h_r = NULL;
	return NULL;
}
