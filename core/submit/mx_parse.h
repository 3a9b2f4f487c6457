/*
 * DNS answer parsing for MX and A/AAAA look-ups, without the resolver:
 * pure apart from libresolv's bounded ns_* readers, so the fuzz harness
 * links it alone.
 */
#ifndef RM_MX_PARSE_H
#define RM_MX_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* an address to connect to */
struct rm_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* called for each MX record; host "" for a null MX (RFC 7505) */
typedef void rm_mx_rr_fn(void *arg, unsigned pref, const char *host);

/* Walk the MX records of an answer.  -1 when the message itself does
 * not parse; records that do not parse end the walk (what came before
 * counts), malformed MX rdata is skipped. */
int rm_mx_parse(const unsigned char *ans, int len, rm_mx_rr_fn *fn, void *arg);
/* A (type 1) and AAAA (type 28) records of an answer as addresses with
 * port; the count stored into out (at most max) */
size_t rm_addrs_parse(const unsigned char *ans, int len, int port,
		      struct rm_addr *out, size_t max);

#endif
