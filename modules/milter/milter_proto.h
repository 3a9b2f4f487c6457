/*
 * The milter protocol, version 6, as sendmail's libmilter and Postfix
 * speak it: packet framing, the MTA's commands and the filter's
 * replies.  Pure code (no I/O), the reply side fuzzed
 * (tests/fuzz/fuzz_milter_reply.c).
 */
#ifndef MILTER_PROTO_H
#define MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MILTER_VERSION 6
/* a reply packet bigger than this is a protocol error (body chunks
 * are 64 KiB, 1 MiB with SMFIP_MDS_1M) */
#define MILTER_PKT_MAX ((1u << 20) + 1024)
#define MILTER_CHUNK 65535

/* MTA -> filter */
#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'

/* filter -> MTA */
#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN '4'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_CONN_FAIL 'f'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'

/* actions the MTA allows (SMFIF_*) */
#define SMFIF_ADDHDRS 0x01u
#define SMFIF_CHGBODY 0x02u
#define SMFIF_ADDRCPT 0x04u
#define SMFIF_DELRCPT 0x08u
#define SMFIF_CHGHDRS 0x10u
#define SMFIF_QUARANTINE 0x20u
#define SMFIF_CHGFROM 0x40u
#define SMFIF_ADDRCPT_PAR 0x80u
#define SMFIF_SETSYMLIST 0x100u
#define SMFIF_ALL 0x1ffu

/* protocol steps the filter may leave out or not answer (SMFIP_*) */
#define SMFIP_NOCONNECT 0x1u
#define SMFIP_NOHELO 0x2u
#define SMFIP_NOMAIL 0x4u
#define SMFIP_NORCPT 0x8u
#define SMFIP_NOBODY 0x10u
#define SMFIP_NOHDRS 0x20u
#define SMFIP_NOEOH 0x40u
#define SMFIP_NR_HDR 0x80u
#define SMFIP_NOUNKNOWN 0x100u
#define SMFIP_NODATA 0x200u
#define SMFIP_SKIP 0x400u
#define SMFIP_RCPT_REJ 0x800u
#define SMFIP_NR_CONN 0x1000u
#define SMFIP_NR_HELO 0x2000u
#define SMFIP_NR_MAIL 0x4000u
#define SMFIP_NR_RCPT 0x8000u
#define SMFIP_NR_DATA 0x10000u
#define SMFIP_NR_UNKN 0x20000u
#define SMFIP_NR_EOH 0x40000u
#define SMFIP_NR_BODY 0x80000u
#define SMFIP_HDR_LEADSPC 0x100000u
#define SMFIP_MDS_256K 0x10000000u
#define SMFIP_MDS_1M 0x20000000u
/* what this MTA offers */
#define MILTER_PROTO_OFFER 0x001fffffu

/* macro stages of the negotiation (SMFIM_*) */
enum milter_stage {
	MILTER_M_CONNECT = 0,
	MILTER_M_HELO = 1,
	MILTER_M_MAIL = 2,
	MILTER_M_RCPT = 3,
	MILTER_M_DATA = 4,
	MILTER_M_EOM = 5,
	MILTER_M_EOH = 6,
	MILTER_M_COUNT = 7,
};

struct milter_pkt {
	char cmd;
	const uint8_t *data; /* not NUL-terminated */
	size_t len;
};

/* One packet off the front of buf: 1 (used_r set), 0 when more bytes
 * are needed, -1 when the length is 0 or over MILTER_PKT_MAX. */
int milter_frame(const uint8_t *buf, size_t len, struct milter_pkt *p,
		 size_t *used_r);

/* A reply, validated.  Strings point into `store` (NUL-terminated). */
struct milter_reply {
	char cmd;
	int code;	     /* REPLYCODE: 4xx/5xx */
	char text[512];	     /* REPLYCODE: "5.7.1 line\nline2", controls '?' */
	uint32_t index;	     /* INSHEADER (position), CHGHEADER (1-based nth) */
	const char *s1;	     /* header name, address, reason */
	const char *s2;	     /* header value, ESMTP args, or NULL */
	const uint8_t *body; /* REPLBODY */
	size_t blen;
};
/* 0, or -1 for a malformed reply (the why in err, static text).  store
 * must hold at least p->len + 2 bytes. */
int milter_parse_reply(const struct milter_pkt *p, struct milter_reply *r,
		       char *store, size_t storesz, const char **err);

struct milter_optneg {
	uint32_t version, actions, pflags;
	/* the filter's macro lists (SMFIR_SETSYMLIST in the reply), in
	 * store, or NULL */
	const char *macros[MILTER_M_COUNT];
};
int milter_parse_optneg(const struct milter_pkt *p, struct milter_optneg *o,
			char *store, size_t storesz, const char **err);

/* ---- building commands ---------------------------------------------- */
struct milter_buf {
	uint8_t *p;
	size_t len, cap;
};
void milter_buf_free(struct milter_buf *b);
/* a packet header for cmd; fill with milter_put_* then milter_end */
size_t milter_begin(struct milter_buf *b, char cmd);
void milter_put(struct milter_buf *b, const void *data, size_t n);
void milter_put_str(struct milter_buf *b, const char *s); /* with NUL */
void milter_put_u32(struct milter_buf *b, uint32_t v);
void milter_put_u16(struct milter_buf *b, uint16_t v);
void milter_end(struct milter_buf *b, size_t start);

#endif
