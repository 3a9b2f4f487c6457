/*
 * What a message needs of the next hop (RFC 6152 8BITMIME, RFC 6531
 * SMTPUTF8), decided once at receipt and kept in the queue entry, and
 * its 7-bit form through the core MIME code (mime/to7bit.c) for a hop
 * without 8BITMIME or before DKIM signing.  [worker]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mime/to7bit.h"
#include "submit_int.h"

bool rm_str_8bit(const char *s)
{
	return s != NULL && rm_mime_has_8bit(s, strlen(s));
}

/* the message mapped read-only; NULL for an empty one or on error */
static const char *map(int fd, uint64_t size)
{
	void *p;

	if (size == 0 || size > RM_MSG_MAX + (1u << 20))
		return NULL;
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

unsigned rm_msg_classify(int fd, uint64_t size, const char *prefix,
			 const char *from, const char *const *rcpts, size_t n,
			 bool utf8_asked)
{
	const char *m = map(fd, size);
	unsigned c = 0, f = 0;

	if (m != NULL) {
		c = rm_mime_8bit_class(m, (size_t)size);
		munmap((void *)m, (size_t)size);
	} else if (size > 0) {
		/* unread: 8-bit is the safe guess (a hop without 8BITMIME
		 * then gets a conversion, or a temporary failure) */
		c = RM_8BIT_ANY;
	}
	/* our own header lines are part of the top header block */
	if (rm_str_8bit(prefix)) {
		bool utf8 = rmail_utf8_valid(prefix, strlen(prefix)) &&
			    (!(c & RM_8BIT_HDR) || (c & RM_8BIT_HDR_UTF8));

		c |= RM_8BIT_ANY | RM_8BIT_HDR;
		c = utf8 ? c | RM_8BIT_HDR_UTF8
			 : c & ~(unsigned)RM_8BIT_HDR_UTF8;
	}
	if (c & RM_8BIT_ANY)
		f |= RM_MSG_8BIT;
	if (c & RM_8BIT_HDR_UTF8)
		f |= RM_MSG_UTF8HDR | RM_MSG_SMTPUTF8;
	if (utf8_asked || rm_str_8bit(from))
		f |= RM_MSG_SMTPUTF8;
	for (size_t i = 0; i < n; i++)
		if (rm_str_8bit(rcpts[i]))
			f |= RM_MSG_SMTPUTF8;
	return f | RM_MSG_KNOWN;
}

int rm_msg_to7bit(int fd, uint64_t size, int *fd_r, uint64_t *size_r)
{
	const char *m = map(fd, size);
	char *out = NULL;
	size_t n = 0;
	int nfd, saved;

	if (m == NULL)
		return size == 0 ? 0 : -1;
	if (rm_mime_to7bit(m, (size_t)size, &out, &n) == 0) {
		munmap((void *)m, (size_t)size);
		return 0;
	}
	munmap((void *)m, (size_t)size);
	nfd = memfd_create("rmail-7bit", MFD_CLOEXEC);
	if (nfd < 0 || rm_write_all(nfd, out, n) < 0) {
		saved = errno;
		if (nfd >= 0)
			close(nfd);
		free(out);
		errno = saved;
		return -1;
	}
	free(out);
	*fd_r = nfd;
	*size_r = n;
	return 1;
}

bool rm_rcpts_remote(const char *const *rcpts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rmail_err err;

		rmail_err_clear(&err);
		/* "cannot tell" is treated as remote: converting costs
		 * nothing a reader sees */
		if (rm_addr_local(rcpts[i], &err) != 1)
			return true;
	}
	return false;
}
