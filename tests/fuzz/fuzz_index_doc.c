/* libFuzzer harness for what the index keeps of a message
 * (core/index/idx_doc.c): headers, folded addresses, decoded text
 * parts, all through i;unicode-casemap.  The folded forms must be
 * what folding the same input twice gives (folding is idempotent on
 * its own output only for valid UTF-8, so only the lengths' sanity is
 * checked beyond "no crash"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "index/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_doc d;
	struct idx_buf b = {0};

	if (idx_doc_build((const char *)data, size, &d) == 0) {
		for (int i = 0; i < IDX_F_COUNT; i++)
			if (d.fold[i].len > 0 && d.fold[i].p == NULL)
				abort();
	}
	idx_doc_free(&d);
	idx_fold((const char *)data, size, &b);
	/* one code point never folds to more than 18 bytes (U+FDFA) */
	if (b.len > size * 18)
		abort();
	idx_buf_free(&b);
	return 0;
}
