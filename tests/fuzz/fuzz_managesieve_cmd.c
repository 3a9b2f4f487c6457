/* libFuzzer harness for mod_managesieve's command parser: the input is
 * what a client sends, parsed command after command as the session
 * does (incomplete input waits, a bad line is skipped), with a literal
 * limit small enough to be reached. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ms_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	size_t off = 0, sum = 0;

	while (off < size) {
		struct ms_cmd cmd;
		size_t used = 0;
		int rc = ms_parse(d + off, size - off, 4096, &cmd, &used);

		if (rc == MS_INCOMPLETE || rc == MS_TOOBIG)
			break;
		if (rc == MS_OK) {
			sum += strlen(cmd.name);
			for (size_t i = 0; i < cmd.nargs; i++)
				for (size_t k = 0; k < cmd.args[i].n; k++)
					sum += (unsigned char)cmd.args[i].s[k];
			ms_cmd_free(&cmd);
		}
		off += used;
	}
	return sum == (size_t)-1;
}
