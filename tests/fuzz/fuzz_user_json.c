/* user.json parser: any bytes give a record or an error, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "users_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_user_rec u;
	struct rmail_err err;
	char *text;

	if (ss_user_parse((const char *)data, size, &u, &err) == 0) {
		/* what parses must render and parse back the same */
		text = ss_user_render(&u, (const char *)data, size);
		if (text != NULL) {
			struct ss_user_rec v;

			if (ss_user_parse(text, strlen(text), &v, &err) != 0 ||
			    v.admin != u.admin || v.quota_mb != u.quota_mb ||
			    v.token_gen != u.token_gen ||
			    strcmp(v.hash, u.hash) != 0)
				abort();
			free(text);
		}
	}
	return 0;
}
