#include <stdio.h>
#include <string.h>

#include "corpus.h"

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void rmail_corpus_init(struct rmail_corpus *c, uint64_t seed, size_t max_size)
{
	c->seed = seed;
	c->max_size = max_size;
}

size_t rmail_corpus_size(const struct rmail_corpus *c, uint32_t i)
{
	uint64_t r = mix(c->seed ^ ((uint64_t)i << 20));
	unsigned pct = (unsigned)(r % 100);
	uint64_t lo, hi;
	size_t n;

	r >>= 8;
	if (pct < 50) {
		lo = 1024, hi = 4096;
	} else if (pct < 80) {
		lo = 4096, hi = 16384;
	} else if (pct < 95) {
		lo = 16384, hi = 131072;
	} else if (pct < 99) {
		lo = 131072, hi = 1048576;
	} else {
		lo = 1048576, hi = 8388608;
	}
	n = (size_t)(lo + r % (hi - lo));
	if (c->max_size != 0 && n > c->max_size)
		n = c->max_size;
	return n < 300 ? 300 : n;
}

size_t rmail_corpus_message(const struct rmail_corpus *c, uint32_t i, char *buf,
			    size_t bufsz)
{
	static const char words[] =
		"the quick brown fox jumps over the lazy dog while mail "
		"servers store messages in shards and rename files ";
	size_t size = rmail_corpus_size(c, i), n, w = 0, line = 0;
	uint64_t r = mix(c->seed + i);

	if (size > bufsz)
		size = bufsz;
	n = (size_t)snprintf(buf, size,
			     "From: sender%u@example.org\r\n"
			     "To: alice@example.com\r\n"
			     "Subject: corpus message %u\r\n"
			     "Message-ID: <%llx.%u@example.org>\r\n"
			     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			     "\r\n",
			     (unsigned)(r % 1000), i, (unsigned long long)r, i);
	/* body: 76-column CRLF lines, ending in CRLF at the exact size */
	while (n + 2 < size) {
		if (line == 76 && n + 4 < size) {
			buf[n++] = '\r';
			buf[n++] = '\n';
			line = 0;
			continue;
		}
		buf[n++] = words[w++ % (sizeof(words) - 1)];
		line++;
	}
	buf[n++] = '\r';
	buf[n++] = '\n';
	return n;
}
