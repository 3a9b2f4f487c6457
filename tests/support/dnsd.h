/*
 * A test DNS server on loopback: a zone from text or a file (the format
 * of docs/testing.md "The test DNS server"), UDP with EDNS0 (answers
 * over the client's size come back truncated with TC) and TCP, on an
 * ephemeral port, served by one thread.  The resolver under test
 * forwards to 127.0.0.1@PORT, so no test needs root.
 */
#ifndef RM_TEST_DNSD_H
#define RM_TEST_DNSD_H

#include <stddef.h>

struct rm_dnsd;

/* Start serving zone text (NULL: an empty zone).  NULL on error, with
 * a message (line number for a zone error) in err. */
struct rm_dnsd *rm_dnsd_start(const char *zone, char *err, size_t errsz);
struct rm_dnsd *rm_dnsd_start_file(const char *path, char *err, size_t errsz);
/* Replace the zone while serving.  0, or -1 (the old zone stays). */
int rm_dnsd_load(struct rm_dnsd *d, const char *zone, char *err, size_t errsz);
unsigned rm_dnsd_port(const struct rm_dnsd *d);
/* questions received, over UDP and TCP together / over TCP only */
unsigned rm_dnsd_queries(struct rm_dnsd *d);
unsigned rm_dnsd_tcp_queries(struct rm_dnsd *d);
void rm_dnsd_stop(struct rm_dnsd *d);

/* Zone parsing and answering, without sockets (the fuzz harness and
 * the server share them). */
struct rm_dnsd_zone;
struct rm_dnsd_zone *rm_dnsd_zone_parse(const char *text, char *err,
					size_t errsz);
void rm_dnsd_zone_free(struct rm_dnsd_zone *z);
/* The answer to query q into r (room rmax); tcp lifts the size limit.
 * 0 when the question gets no answer (TIMEOUT, garbage). */
size_t rm_dnsd_answer(const struct rm_dnsd_zone *z, const unsigned char *q,
		      size_t qlen, int tcp, unsigned char *r, size_t rmax);

#endif
