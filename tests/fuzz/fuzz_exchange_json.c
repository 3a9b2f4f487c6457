/* JSON request bodies: the strict loader, then the address and flag
 * validators on every member, as the handlers apply them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = ex_json_load((const char *)data, size), *v, *e;
	const char *key, *name, *addr;
	uint32_t f;
	size_t i;

	if (j == NULL)
		return 0;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v)
		{
			(void)ex_json_addr(v, &name, &addr);
			if (json_is_string(v)) {
				(void)ex_flag_from_str(json_string_value(v),
						       &f);
				(void)ex_str_safe(json_string_value(v));
			}
			if (json_is_array(v))
				json_array_foreach(v, i, e)(void)
					ex_json_addr(e, &name, &addr);
		}
	}
	json_decref(j);
	return 0;
}
