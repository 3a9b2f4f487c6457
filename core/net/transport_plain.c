/* The cleartext transport: plain socket calls. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_int.h"

static ssize_t plain_recv(struct rmail_conn *c, void *buf, size_t n)
{
	ssize_t r;

	do
		r = recv(c->fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK ? RMAIL_AGAIN
						       : RMAIL_ERROR;
}

static ssize_t plain_send(struct rmail_conn *c, const void *buf, size_t n)
{
	ssize_t r;

	do
		r = send(c->fd, buf, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK ? RMAIL_AGAIN
						       : RMAIL_ERROR;
}

static void plain_shutdown(struct rmail_conn *c)
{
	shutdown(c->fd, SHUT_WR);
}

const struct rm_transport rm_transport_plain = {
	.name = "plain",
	.recv = plain_recv,
	.send = plain_send,
	.shutdown = plain_shutdown,
};
