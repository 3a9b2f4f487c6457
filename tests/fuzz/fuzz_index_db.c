/* libFuzzer harness for the index's reader (core/index/idx_db.c,
 * idx_query.c): the input is the user's index file as found on disk
 * (a cache anyone's crash or disk may have garbled).  Whatever it
 * holds, opening and querying it must end in an answer or a removal,
 * never a crash; a file that was removed must be gone. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/idx.h"
#include "index/index.h"
#include "rm.h"

static struct rm_config conf;
static char dir[64];

const struct rm_config *rm_conf(void)
{
	return &conf;
}

static void hdr_cb(void *arg, const struct rmail_index_hdr *h)
{
	(void)arg;
	if (h->subject != NULL)
		(void)strlen(h->subject);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const needles[] = {"ZEBRA", "AB", "\"\"\"", "X"};
	static const uint32_t uids[] = {1, 2, 3, 100};
	char path[256];
	struct rmail_err err;
	FILE *f;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-index-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		conf.index.enabled = true;
		conf.index.dir = dir;
		rm_log_set_level(RMAIL_LOG_ERR);
	}
	if (idx_db_path("fz@example.test", path, sizeof(path)) < 0)
		abort();
	idx_db_remove("fz@example.test");
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	(void)rm_index_headers("fz@example.test", "INBOX", 1, uids, 4, hdr_cb,
			       NULL, &err);
	for (int field = RMAIL_INDEX_SUBJECT; field <= RMAIL_INDEX_TEXT;
	     field++)
		for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]);
		     i++) {
			struct rmail_index_result r = {.size = sizeof(r)};

			if (rm_index_search("fz@example.test", "INBOX", 1,
					    field, needles[i],
					    strlen(needles[i]), &r, &err) == 0)
				free(r.uids);
		}
	idx_db_remove("fz@example.test");
	return 0;
}
