/* libFuzzer harness for the SMTP client's reply reader: the first byte
 * picks a chunk size (trickled input) and whether replies are EHLO
 * replies; bytes go through the client's receive buffer and line
 * framing into the multi-line reply state, as on the socket. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "submit/client_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[RM_SMTP_LINE_MAX * 2], line[RM_SMTP_LINE_MAX], text[256];
	struct rm_smtp_reply rp;
	size_t ilen = 0, off = 0, chunk;
	bool ehlo;
	int rc;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x7f) + 1;
	ehlo = (data[0] & 0x80) != 0;
	data++;
	size--;
	rm_smtp_reply_init(&rp, ehlo);
	while (off < size) {
		size_t n = size - off;

		if (n > chunk)
			n = chunk;
		if (n > sizeof(in) - ilen)
			n = sizeof(in) - ilen;
		memcpy(in + ilen, data + off, n);
		ilen += n;
		off += n;
		while (rm_smtp_take_line(in, &ilen, sizeof(in), line,
					 sizeof(line)) == 1) {
			if (strlen(line) >= sizeof(line) ||
			    strpbrk(line, "\r\n") != NULL)
				abort();
			rc = rm_smtp_reply_line(&rp, line, text, sizeof(text));
			if (rc == 1 && (rp.code < 200 || rp.code > 599 ||
					strlen(text) >= sizeof(text)))
				abort();
			/* keywords are an EHLO reply's alone */
			if (!ehlo &&
			    (rp.caps.eightbitmime || rp.caps.smtputf8 ||
			     rp.caps.size || rp.caps.size_max != 0))
				abort();
			if (!rp.caps.size && rp.caps.size_max != 0)
				abort();
			if (rc != 0)
				rm_smtp_reply_init(&rp, ehlo);
		}
		if (ilen > sizeof(in))
			abort();
	}
	return 0;
}
