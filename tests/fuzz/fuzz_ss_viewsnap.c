/* The view snapshot reader (snapfmt.c): any bytes are rejected or
 * parsed without a fault, and a file whose every block checks out is
 * exactly what the encoder writes for what was read (one state, one
 * file). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ss_viewsnap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_snap_shard *e;
	struct ss_snap_head h;
	const struct rmail_msg **blocks;
	uint8_t *out;
	uint32_t i;
	bool ok = true;

	if (ss_snap_parse_head(data, size, size, &h, &e) < 0)
		return 0;
	blocks = calloc(h.nshards ? h.nshards : 1, sizeof(*blocks));
	if (blocks == NULL)
		abort();
	for (i = 0; i < h.nshards; i++) {
		if (e[i].off + (uint64_t)e[i].count * sizeof(struct rmail_msg) >
		    size)
			abort(); /* the parser vouched for the length */
		if (ss_snap_check_block(&e[i], data + e[i].off) < 0)
			ok = false;
		blocks[i] = (const struct rmail_msg *)(data + e[i].off);
	}
	if (ok) {
		out = malloc(size);
		if (out == NULL)
			abort();
		/* the encoder reads the records through memcpy too */
		ss_snap_encode(out, &h, e, blocks);
		if (memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	free(blocks);
	free(e);
	return 0;
}
