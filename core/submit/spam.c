/*
 * Spam into Junk (spam.h): finding the marking field in a header block,
 * removing the client's copies, reading the filters' verdict and the
 * recipient's opt-out.  The header is the sender's: the scan is linear
 * and stops at the first empty line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spam.h"
#include "submit_int.h"

int rm_spam_strip_fd(int in_fd, int *out_fd_r, size_t max_header,
		     size_t *removed_r)
{
	const struct rm_config *c = rm_conf();
	struct authres_range *r = NULL;
	char *b;
	ssize_t got;
	size_t n;
	int fd;

	*removed_r = 0;
	*out_fd_r = -1;
	if (c == NULL || c->spam.header == NULL)
		return 0;
	b = rm_xmalloc(max_header);
	got = rm_pread_all(in_fd, b, max_header, 0);
	if (got < 0) {
		free(b);
		return -1;
	}
	n = rm_hdr_find(b, (size_t)got, c->spam.header, &r);
	free(b);
	if (n == 0)
		return 0;
	fd = memfd_create("rmail-spool", MFD_CLOEXEC);
	if (fd < 0 || authres_copy_without(in_fd, fd, r, n) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(r);
		errno = e;
		return -1;
	}
	free(r);
	*out_fd_r = fd;
	*removed_r = n;
	return 0;
}

bool rm_spam_verdict(const char *lines)
{
	const struct rm_config *c = rm_conf();

	if (c == NULL || c->spam.header == NULL || lines == NULL)
		return false;
	return rm_hdr_has_value(lines, strlen(lines), c->spam.header,
				c->spam.value);
}

bool rm_spam_wants_junk(const char *user)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_err err;
	char v[16];

	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, user_setting_get) ||
	    ops->user_setting_get == NULL)
		return true;
	rmail_err_clear(&err);
	if (ops->user_setting_get(h, user, "spam_to_junk", v, sizeof(v),
				  &err) <= 0)
		return true;
	return strcasecmp(v, "no") != 0;
}
