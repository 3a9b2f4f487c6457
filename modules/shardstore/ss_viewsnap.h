/*
 * The view snapshot (docs/storage.md "View snapshot"): a derived cache of
 * a mailbox view on disk, so that the first open after a restart reads
 * one file instead of every shard directory.  The names stay the truth:
 * a block is used only while its shard directory is the one it was read
 * from (inode and mtime unchanged); any other mismatch ignores the file.
 *
 *   header (SS_SNAP_HDR bytes), shard table (SS_SNAP_ENT per shard),
 *   then per shard its struct rmail_msg records in UID order.
 *
 * Host byte order and layout (a tag rejects a file from another kind of
 * machine).  snapfmt.c holds the pure encoder and parser (fuzzed),
 * viewsnap.c the file, the lease and the writer.
 */
#ifndef SS_VIEWSNAP_H
#define SS_VIEWSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/store.h>

#define SS_SNAP_NAME "view"
#define SS_SNAP_HDR 128u
#define SS_SNAP_ENT 64u
#define SS_SNAP_MAX_SHARDS 262144u /* 2^32 UIDs / 16384 */
#define SS_SNAP_F_DIRTY 1u	   /* racy mtime: never trusted */
#define SS_SNAP_F_DUPS 2u	   /* a UID under several names */

struct ss_snap_head {
	uint32_t uidvalidity, uidnext;
	uint32_t count, unseen;
	uint64_t bytes, highest;
	uint64_t log_pos, log_ino; /* the change log when it was written */
	uint32_t nshards;
	int64_t written; /* unix seconds */
	char boot[40];	 /* boot id of the writer */
};

struct ss_snap_shard {
	uint32_t no, count, unseen, flags;
	uint64_t bytes, maxmod;
	uint64_t ino; /* the shard directory it was read from */
	int64_t sec, nsec;
	uint64_t check; /* of the block */
	uint64_t off;	/* parse: the block's offset in the file */
};

uint64_t ss_snap_hash(const void *p, size_t n);
/* the header and table of a file of `len` bytes from its first bytes
 * (`n` of them, at least SS_SNAP_HDR + nshards * SS_SNAP_ENT): *sh_r is
 * malloc'd; 0, or -1 when anything does not add up */
int ss_snap_parse_head(const void *buf, size_t n, uint64_t len,
		       struct ss_snap_head *h_r, struct ss_snap_shard **sh_r);
/* a block against its table entry: checksum, UIDs ascending within the
 * shard, sane flags, and the sums; 0 or -1 */
int ss_snap_check_block(const struct ss_snap_shard *e, const void *recs);
/* bytes of a file with these shards and messages */
uint64_t ss_snap_size(uint32_t nshards, uint64_t msgs);
/* fill buf (ss_snap_size bytes): the sums and checksums of sh[] and h
 * (count, unseen, bytes, nshards) are computed here from blocks[] */
void ss_snap_encode(void *buf, struct ss_snap_head *h, struct ss_snap_shard *sh,
		    const struct rmail_msg *const *blocks);

#endif
