/*
 * The delivery of the reports rmail writes itself (DMARC aggregate
 * reports, TLS-RPT reports): a message composed in spool/tmp goes
 * through the same path as bounces, DKIM-signed with the key of its
 * From: domain, with the null return path so a report never bounces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "submit_int.h"

FILE *rm_report_mail_open(const char *id, char *path, size_t pathsz, int *fd_r)
{
	FILE *f;
	int fd;

	*fd_r = -1;
	if (rm_submit_path(path, pathsz, "spool/tmp", id) < 0)
		return NULL;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return NULL;
	f = fdopen(dup(fd), "w");
	if (f == NULL) {
		close(fd);
		(void)unlink(path);
		return NULL;
	}
	*fd_r = fd;
	return f;
}

void rm_report_b64_lines(FILE *f, const unsigned char *p, size_t n)
{
	char buf[128];

	for (size_t o = 0; o < n; o += 57) {
		size_t k = n - o < 57 ? n - o : 57;

		rm_base64_encode(p + o, k, buf, sizeof(buf));
		fprintf(f, "%s\r\n", buf);
	}
}

int rm_report_mail_send(const char *what, const char *tag, const char *id,
			FILE *f, int fd, const char *path, const char *to)
{
	struct rmail_rcpt_result res;
	struct rm_deliver_req rq;
	struct rm_msg_src local, remote;
	const char *rcpts[1];
	struct rmail_pool *pool;
	size_t nq;
	int ok;

	if (fflush(f) != 0 || fsync(fd) < 0) {
		rm_log(RMAIL_LOG_ERR, "%s %s: %s", what, tag, strerror(errno));
		fclose(f);
		close(fd);
		(void)unlink(path);
		return 0;
	}
	fclose(f);
	memset(&remote, 0, sizeof(remote));
	remote.fd = fd;
	remote.size = (uint64_t)lseek(fd, 0, SEEK_END);
	rcpts[0] = to;
	remote.prefix = "";
	remote.flags =
		rm_msg_classify(fd, remote.size, "", "", rcpts, 1, false);
	/* 7-bit before it is signed when it leaves (docs/delivery.md) */
	if (rm_submit_sign_7bit(&remote, rcpts, 1, false) < 0)
		rm_log(RMAIL_LOG_WARN, "%s %s: 7-bit conversion failed", what,
		       id);
	pool = rm_pool_create(NULL);
	remote.prefix =
		rm_submit_dkim(pool, "", remote.fd, remote.size, id, false);
	local = remote;
	local.prefix =
		rm_psprintf(pool, "Return-Path: <>\r\n%s", remote.prefix);
	memset(&rq, 0, sizeof(rq));
	rq.id = id;
	rq.mail_from = "";
	rq.rcpts = rcpts;
	rq.n = 1;
	rq.local = &local;
	rq.remote = &remote;
	memset(&res, 0, sizeof(res));
	rm_deliver_message(&rq, &res, NULL, &nq);
	rm_log(RMAIL_LOG_INFO, "%s %s (%s) to %s: %s", what, id, tag, to,
	       res.status == RMAIL_RCPT_DELIVERED ? "delivered"
	       : res.status == RMAIL_RCPT_QUEUED  ? "queued"
						  : "failed");
	ok = res.status == RMAIL_RCPT_DELIVERED ||
	     res.status == RMAIL_RCPT_QUEUED;
	if (remote.fd != fd)
		close(remote.fd);
	close(fd);
	(void)unlink(path);
	rm_pool_destroy(&pool);
	return ok;
}
