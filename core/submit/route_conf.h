/*
 * One delivery.routes value (docs/delivery.md "Outbound TLS policy"):
 * the old string form "host:port" (opportunistic STARTTLS, as before)
 * or the object form
 *   {"host": "host:port", "tls": "starttls"|"implicit"|"none",
 *    "tls_verify": "verify"|"dane"|"encrypt"|"opportunistic",
 *    "ca_file": "/abs/ca.pem"}
 * whose tls_verify defaults to "verify", like delivery.relay_tls_verify.
 * The config keeps an object as its compact JSON text.  Pure: the
 * config checks and the queue share it.
 */
#ifndef RM_ROUTE_CONF_H
#define RM_ROUTE_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct rm_route_conf {
	char host[256];
	int port;
	int tls;	    /* enum rm_relay_tls */
	int verify;	    /* enum rm_tls_verify */
	char ca_file[1024]; /* "" = the system store */
};

/* 0, or -1 with the problem in err */
int rm_route_parse(const char *v, struct rm_route_conf *out, char *err,
		   size_t errsz);

#endif
