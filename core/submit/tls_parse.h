/*
 * Pure parsers of the outbound TLS policy's untrusted input, apart so
 * the fuzz harness links them alone: TLSA rdata (RFC 6698 §2.1, from
 * the network) and the TLS-Required header field (RFC 8689 §5, from
 * the message).
 */
#ifndef RM_TLS_PARSE_H
#define RM_TLS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rm_tlsa_view {
	uint8_t usage, selector, mtype;
	const unsigned char *data; /* into the rdata */
	size_t len;
};

/* 1 when the rdata is a TLSA record usable for SMTP (RFC 7672 §3.1.3:
 * DANE-TA(2) or DANE-EE(3), selector 0/1, matching type 0/1/2, some
 * association data), with v filled; 0 otherwise */
int rm_tlsa_parse(const unsigned char *rdata, size_t len,
		  struct rm_tlsa_view *v);

/* the header block at the start of buf[0..n) has "TLS-Required: No" */
bool rm_tls_required_no_buf(const char *buf, size_t n);

#endif
