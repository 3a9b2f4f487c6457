/* Reading and writing whole buffers at a descriptor: short transfers
 * and EINTR are the caller's problem nowhere else.  No other dependency, so the
 * parsers' fuzz harnesses can link it alone. */
#include <errno.h>
#include <unistd.h>

#include "rm.h"

ssize_t rm_pread_all(int fd, void *p, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r =
			pread(fd, (char *)p + got, n - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return got > 0 ? (ssize_t)got : -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int rm_write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}
