/* Writing a whole buffer to a descriptor: short writes and EINTR are
 * the caller's problem nowhere else.  No other dependency, so the
 * parsers' fuzz harnesses can link it alone. */
#include <errno.h>
#include <unistd.h>

#include "rm.h"

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
