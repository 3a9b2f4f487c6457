/* placeholder while the loader is written */
#include "rm.h"

size_t rm_module_count(void)
{
	return 0;
}

struct rm_module *rm_module_at(size_t i)
{
	(void)i;
	return NULL;
}
