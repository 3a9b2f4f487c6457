/*
 * The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in
 * front of rmail tells it the real client address in a header before
 * the first protocol byte (and before TLS on implicit-TLS ports).
 */
#ifndef RM_PROXY_PROTO_H
#define RM_PROXY_PROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* A v2 header may carry TLVs; the ones HAProxy sends are small.  A
 * longer header is refused rather than buffered. */
#define RM_PROXY_MAX 1024
/* "PROXY TCP6 " + two addresses + two ports + CRLF (the spec's 107) */
#define RM_PROXY_V1_MAX 107

struct rm_proxy_hdr {
	/* AF_INET or AF_INET6 with src/dst set; AF_UNSPEC for v1 UNKNOWN
	 * and v2 LOCAL (health checks): keep the socket's own address */
	int family;
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
};

/*
 * Parses a PROXY header at the start of buf.  Returns its length (the
 * bytes to consume) when complete, 0 when more bytes are needed, -1
 * when buf does not start with a valid header (why set).
 */
int rm_proxy_parse(const unsigned char *buf, size_t len,
		   struct rm_proxy_hdr *out, const char **why);

#endif
