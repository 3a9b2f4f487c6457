/*
 * The one corpus generator every benchmark uses: deterministic messages
 * with a realistic size mix (text, HTML, attachments), CRLF line ends.
 */
#ifndef RMAIL_BENCH_CORPUS_H
#define RMAIL_BENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Size mix, after published mailbox statistics:
 *   50%  1-4 KiB     plain text
 *   30%  4-16 KiB    HTML / multipart alternative
 *   15%  16-128 KiB  small attachments
 *    4%  128 KiB-1 MiB
 *    1%  1-8 MiB
 */
struct rmail_corpus {
	uint64_t seed;
	size_t max_size; /* cap (0 = none): bulk fills stay small */
};

void rmail_corpus_init(struct rmail_corpus *c, uint64_t seed, size_t max_size);
/* the size of message i (deterministic) */
size_t rmail_corpus_size(const struct rmail_corpus *c, uint32_t i);
/* write message i into buf (bufsz >= its size); returns its length */
size_t rmail_corpus_message(const struct rmail_corpus *c, uint32_t i, char *buf,
			    size_t bufsz);

#endif
