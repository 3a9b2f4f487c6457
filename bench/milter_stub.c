/* The benches' accept-all milter (milter_stub.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "milter_stub.h"

static bool stub_add_header;

static int read_all(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)p + off, n - off);

		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static int reply(int fd, char cmd, const void *data, uint32_t n)
{
	uint8_t b[512];
	uint32_t len = htonl(n + 1);

	if (n > sizeof(b) - 5)
		return -1;
	memcpy(b, &len, 4);
	b[4] = (uint8_t)cmd;
	if (n > 0)
		memcpy(b + 5, data, n);
	return write(fd, b, n + 5) == (ssize_t)(n + 5) ? 0 : -1;
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t *buf = malloc(1u << 20);
	uint32_t len;

	while (buf != NULL && read_all(fd, &len, 4) == 0) {
		len = ntohl(len);
		if (len == 0 || len > (1u << 20) || read_all(fd, buf, len) < 0)
			break;
		switch (buf[0]) {
		case 'O': {
			uint32_t o[3] = {htonl(6), htonl(0x1ff), htonl(0)};

			if (reply(fd, 'O', o, sizeof(o)) < 0)
				goto out;
			break;
		}
		case 'D': /* macros */
		case 'A': /* abort */
		case 'K': /* quit, new connection follows */
			break;
		case 'Q':
			goto out;
		case 'E':
			if (stub_add_header &&
			    reply(fd, 'h', "X-Stub\0seen\0", 12) < 0)
				goto out;
			if (reply(fd, 'a', NULL, 0) < 0)
				goto out;
			break;
		default:
			if (reply(fd, 'c', NULL, 0) < 0)
				goto out;
		}
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	int ls = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(ls, NULL, NULL);
		pthread_t th;

		if (fd < 0)
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1},
				 sizeof(int));
		if (pthread_create(&th, NULL, conn_thread,
				   (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

unsigned milter_stub_start(bool add_header)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	pthread_t th;

	stub_add_header = add_header;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 64) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &l) < 0 ||
	    pthread_create(&th, NULL, accept_thread, (void *)(intptr_t)ls) !=
		    0) {
		perror("milter stub");
		exit(1);
	}
	pthread_detach(th);
	return ntohs(a.sin_port);
}
