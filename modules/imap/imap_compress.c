/*
 * COMPRESS=DEFLATE (RFC 4978): raw deflate in both directions, between
 * the session and the connection (so above TLS: compression after
 * encryption would be useless).
 *
 * Memory is what matters here, since IMAP connections mostly sit idle:
 *  - The inflater needs the client's window (RFC 4978 lets it use 32
 *    KiB, and clients do), so it costs ~39 KiB for the connection's
 *    life; nothing to choose there.
 *  - The deflater is ours: it is created at the first write after a
 *    flush and ended by the flush that closes the reply, with the
 *    window and hash small enough that even a busy connection adds
 *    ~22 KiB.  A raw deflate stream stays valid across that: after
 *    Z_SYNC_FLUSH the output ends on a byte boundary with a non-final
 *    block, and a fresh deflater's blocks simply follow (they never
 *    reach back into the earlier window).
 *  - Inflated input waits in a bounded buffer that is freed when the
 *    parser has taken it all; inflate runs only into its free space,
 *    so a decompression bomb can cost CPU (bounded by deflate's
 *    ~1:1000 ratio, the parser's own caps then apply) but never memory.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "imap_session.h"

/* inflated input held for the parser; the parser is resumable, so any
 * size works, and a raw line (IDLE's DONE) longer is refused */
#define ZIN_CAP (16 * 1024)
/* the deflater: 2 KiB window (2^11), memLevel 4; ~22 KiB while live */
#define ZOUT_WBITS (-11)
#define ZOUT_MEMLEVEL 4

struct imap_z {
	z_stream in;
	z_stream out;
	bool out_live;
	bool out_dirty; /* written since the last flush */
	bool broken;	/* the client's stream is corrupt */
	/* the last inflate filled the buffer: it may hold more output
	 * (a long match) with no input left in the connection */
	bool more;
	char *ibuf;
	size_t ipos, ilen;
};

bool imap_z_active(const struct imap_session *s)
{
	return s->z != NULL;
}

static void z_out_end(struct imap_z *z)
{
	if (z->out_live)
		(void)deflateEnd(&z->out);
	z->out_live = false;
}

static void z_emit(struct imap_session *s, int flush, const void *d, size_t n)
{
	struct imap_z *z = s->z;
	unsigned char buf[4096];
	int rc;

	if (!z->out_live) {
		memset(&z->out, 0, sizeof(z->out));
		if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
				 ZOUT_WBITS, ZOUT_MEMLEVEL,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			/* nothing sane can be sent any more */
			s->mod->core->conn_close(s->c);
			s->closing = true;
			return;
		}
		z->out_live = true;
	}
	z->out.next_in = (Bytef *)(uintptr_t)d;
	z->out.avail_in = (uInt)n;
	do {
		z->out.next_out = buf;
		z->out.avail_out = sizeof(buf);
		rc = deflate(&z->out, flush);
		if (rc == Z_STREAM_ERROR)
			break;
		if (sizeof(buf) - z->out.avail_out > 0)
			s->mod->core->conn_write(
				s->c, buf, sizeof(buf) - z->out.avail_out);
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
}

static void flush_timer(void *arg)
{
	struct imap_session *s = arg;

	s->mod->core->timer_del(&s->z_flush_t);
	imap_z_flush(s);
}

void imap_z_write(struct imap_session *s, const void *d, size_t n)
{
	struct imap_z *z = s->z;

	/* a write is never sent half: n fits uInt for every caller, the
	 * loop guards the rest */
	while (n > 0 && !s->closing) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;

		z_emit(s, Z_NO_FLUSH, d, k);
		d = (const char *)d + k;
		n -= k;
	}
	z->out_dirty = true;
	/* the handlers flush when they return; this covers writes from
	 * any other callback (an IDLE notification, a worker's reply) */
	if (s->z_flush_t == NULL && !s->closing)
		s->z_flush_t = s->mod->core->timer_add(0, 0, flush_timer, s);
}

void imap_z_flush(struct imap_session *s)
{
	struct imap_z *z = s->z;

	if (z == NULL || !z->out_dirty || s->closing)
		return;
	/* the reply is complete: the safety-net timer has nothing to do */
	if (s->z_flush_t != NULL)
		s->mod->core->timer_del(&s->z_flush_t);
	z_emit(s, Z_SYNC_FLUSH, NULL, 0);
	z->out_dirty = false;
	z_out_end(z);
}

/*
 * Inflate into the free space of ibuf; false when the stream is bad.
 * Bytes already consumed are reused only when `compact`: a parser slice
 * (an APPEND chunk) may still point at them until the loop comes round.
 */
static bool z_fill(struct imap_session *s, bool compact)
{
	const struct rmail_core *core = s->mod->core;
	struct imap_z *z = s->z;
	const char *d;
	size_t len;
	int rc;

	if (z->broken)
		return false;
	len = core->conn_peek(s->c, &d);
	if (len == 0 && !z->more)
		return true;
	if (compact && z->ipos == z->ilen)
		z->ipos = z->ilen = 0;
	if (compact && z->ipos > 0 && z->ilen == ZIN_CAP) {
		memmove(z->ibuf, z->ibuf + z->ipos, z->ilen - z->ipos);
		z->ilen -= z->ipos;
		z->ipos = 0;
	}
	if (z->ilen == ZIN_CAP)
		return true;
	if (z->ibuf == NULL && (z->ibuf = malloc(ZIN_CAP)) == NULL)
		return true; /* try again at the next input */
	z->in.next_in = (Bytef *)(uintptr_t)d;
	z->in.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	z->in.next_out = (Bytef *)z->ibuf + z->ilen;
	z->in.avail_out = (uInt)(ZIN_CAP - z->ilen);
	rc = inflate(&z->in, Z_SYNC_FLUSH);
	if (len > 0)
		core->conn_consume(s->c,
				   (size_t)((const char *)z->in.next_in - d));
	z->more = z->in.avail_out == 0;
	z->ilen = ZIN_CAP - z->in.avail_out;
	/* Z_BUF_ERROR: no progress possible now (needs input or room) */
	if (rc != Z_OK && rc != Z_BUF_ERROR) {
		/* a final block (Z_STREAM_END) is as wrong as garbage: the
		 * stream must last as long as the connection */
		z->broken = true;
		return false;
	}
	return true;
}

static size_t in_peek(struct imap_session *s, const char **d_r, bool compact)
{
	struct imap_z *z = s->z;

	if (z == NULL)
		return s->mod->core->conn_peek(s->c, d_r);
	if (!z_fill(s, compact) && z->ipos == z->ilen) {
		*d_r = "";
		return 0;
	}
	*d_r = z->ibuf != NULL ? z->ibuf + z->ipos : "";
	return z->ilen - z->ipos;
}

size_t imap_in_peek(struct imap_session *s, const char **d_r)
{
	return in_peek(s, d_r, true);
}

size_t imap_in_peek_ahead(struct imap_session *s, const char **d_r)
{
	return in_peek(s, d_r, false);
}

void imap_in_consume(struct imap_session *s, size_t n)
{
	if (s->z == NULL)
		s->mod->core->conn_consume(s->c, n);
	else
		s->z->ipos += n;
}

void imap_in_idle(struct imap_session *s)
{
	struct imap_z *z = s->z;

	/* an idle session keeps no input buffer */
	if (z != NULL && z->ipos == z->ilen) {
		free(z->ibuf);
		z->ibuf = NULL;
		z->ipos = z->ilen = 0;
	}
}

size_t imap_in_cap(const struct imap_session *s)
{
	return s->z != NULL ? ZIN_CAP : SIZE_MAX;
}

bool imap_in_broken(const struct imap_session *s)
{
	return s->z != NULL && s->z->broken && s->z->ipos == s->z->ilen;
}

bool imap_in_held(const struct imap_session *s)
{
	return s->z != NULL && (s->z->ipos < s->z->ilen || s->z->more);
}

void imap_z_free(struct imap_session *s)
{
	struct imap_z *z = s->z;

	if (s->z_flush_t != NULL)
		s->mod->core->timer_del(&s->z_flush_t);
	if (s->z_kick_t != NULL)
		s->mod->core->timer_del(&s->z_kick_t);
	if (z == NULL)
		return;
	(void)inflateEnd(&z->in);
	z_out_end(z);
	free(z->ibuf);
	free(z);
	s->z = NULL;
}

/* input inflated before an async command paused the session: the core
 * hands on_input only what it buffers itself, so run it from here */
static void kick_timer(void *arg)
{
	struct imap_session *s = arg;

	s->mod->core->timer_del(&s->z_kick_t);
	if (s->closing || s->mod->core->conn_closed(s->c))
		return;
	if (imap_session_input(s->mod, s->c, s) != RMAIL_OK) {
		imap_z_flush(s);
		s->mod->core->conn_close(s->c);
	}
}

void imap_z_kick(struct imap_session *s)
{
	if (imap_in_held(s) && s->z_kick_t == NULL && !s->closing)
		s->z_kick_t = s->mod->core->timer_add(0, 0, kick_timer, s);
}

void imap_cmd_compress(struct imap_session *s, const struct imap_cmd *cmd,
		       bool uid)
{
	struct imap_z *z;

	(void)uid;
	if (cmd->nargs != 1 || cmd->args->type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, false, "BAD COMPRESS needs DEFLATE");
		return;
	}
	if (!imap_arg_atom_eq(cmd->args, "DEFLATE")) {
		imap_tagged(s, cmd->tag, false,
			    "BAD Unknown compression mechanism");
		return;
	}
	if (s->z != NULL) {
		imap_tagged(
			s, cmd->tag, false,
			"NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS");
		return;
	}
	z = calloc(1, sizeof(*z));
	if (z == NULL || inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		imap_tagged(s, cmd->tag, false,
			    "NO [UNAVAILABLE] Out of memory");
		return;
	}
	/* the reply is the last thing sent uncompressed; whatever the
	 * client sent after the command is already compressed */
	imap_tagged(s, cmd->tag, false, "OK DEFLATE active");
	s->z = z;
}
