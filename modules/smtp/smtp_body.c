/* DATA/BDAT body: unstuffing, the CRLF.CRLF end, limits, smuggling. */
#include <string.h>

#include "smtp_body.h"

enum {
	ST_BOL = 0, /* at the start of a line */
	ST_DOT,	    /* a leading "." was dropped */
	ST_DOT_CR,  /* "." CR at the start of a line */
	ST_TEXT,
	ST_CR, /* CR inside a line, emitted, LF must follow */
	ST_DONE,
	ST_ERR,
};

/* Header block tracking, on the message octets as stored. */
enum {
	H_LSTART = 0, /* start of a header line */
	H_NAME,
	H_VALUE,
	H_BLANK_CR,
	H_BODY, /* past the header block: no more tracking */
};

void smtp_body_init(struct smtp_body *b, int mode,
		    const struct smtp_body_limits *lim, smtp_body_out_fn out,
		    void *arg)
{
	memset(b, 0, sizeof(*b));
	if (lim != NULL)
		b->lim = *lim;
	b->out = out;
	b->arg = arg;
	b->mode = mode;
	b->state = ST_BOL;
	b->hstate = H_LSTART;
}

static void set_err(struct smtp_body *b, int err)
{
	if (b->err == SMTP_BODY_E_NONE)
		b->err = err;
}

static void track_headers(struct smtp_body *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && b->hstate != H_BODY; i++) {
		unsigned char c = (unsigned char)p[i];

		b->header_size++;
		if (b->lim.max_header_size != 0 &&
		    b->header_size > b->lim.max_header_size) {
			set_err(b, SMTP_BODY_E_HDR_TOOBIG);
			b->hstate = H_BODY;
			break;
		}
		switch (b->hstate) {
		case H_LSTART:
			if (c == '\r')
				b->hstate = H_BLANK_CR;
			else if ((c == ' ' || c == '\t') && b->headers > 0)
				b->hstate = H_VALUE; /* folded line */
			else if (c > 32 && c < 127 && c != ':')
				b->hstate = H_NAME;
			else
				b->hstate = H_BODY;
			break;
		case H_NAME:
			if (c == ':') {
				b->headers++;
				if (b->lim.max_headers != 0 &&
				    b->headers > b->lim.max_headers) {
					set_err(b, SMTP_BODY_E_HDR_COUNT);
					b->hstate = H_BODY;
				} else {
					b->hstate = H_VALUE;
				}
			} else if (c <= 32 || c >= 127) {
				/* not a field: the body starts here */
				b->hstate = H_BODY;
			}
			break;
		case H_VALUE:
			if (c == '\n')
				b->hstate = H_LSTART;
			break;
		default:
			/* the empty line (or junk) ends the header block */
			b->hstate = H_BODY;
			break;
		}
	}
}

/* Count, check the limits and pass on one slice of message octets. */
static int emit(struct smtp_body *b, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	b->size += n;
	if (b->lim.max_size != 0 && b->size > b->lim.max_size)
		set_err(b, SMTP_BODY_E_TOOBIG);
	if (b->hstate != H_BODY)
		track_headers(b, p, n);
	/* past a limit nothing more goes out: the message is refused, and
	 * the excess is never held anywhere */
	if (b->err != SMTP_BODY_E_NONE || b->out == NULL)
		return 0;
	if (b->out(b->arg, p, n) < 0) {
		b->err = SMTP_BODY_E_OUTPUT;
		b->state = ST_ERR;
		return -1;
	}
	return 0;
}

static int final_rc(const struct smtp_body *b)
{
	if (b->err == SMTP_BODY_E_NONE)
		return RMAIL_OK;
	if (b->err == SMTP_BODY_E_OUTPUT)
		return RMAIL_ERROR;
	if (b->err == SMTP_BODY_E_BARE_LF || b->err == SMTP_BODY_E_BARE_CR)
		return RMAIL_INVALID;
	return RMAIL_TOOLONG;
}

static int bare(struct smtp_body *b, int err, size_t at, size_t *consumed_r)
{
	/* overrides a pending size error: this one closes the session */
	b->err = err;
	b->state = ST_ERR;
	*consumed_r = at;
	return RMAIL_INVALID;
}

/* No unstuffing and no end marker, but the same line-ending rule as
 * DATA: the next hop may take <CR>.<CR> or <LF>.<LF> as the end of
 * its DATA.  ST_CR carries a chunk-final CR over to the next chunk. */
static int feed_bdat(struct smtp_body *b, const char *data, size_t len,
		     size_t *consumed_r)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (b->state == ST_CR) {
			if (c != '\n')
				return bare(b, SMTP_BODY_E_BARE_CR, i,
					    consumed_r);
			b->state = ST_TEXT;
		} else if (c == '\r') {
			b->state = ST_CR;
		} else if (c == '\n') {
			return bare(b, SMTP_BODY_E_BARE_LF, i, consumed_r);
		}
	}
	*consumed_r = len;
	if (emit(b, data, len) < 0)
		return RMAIL_ERROR;
	return RMAIL_AGAIN;
}

int smtp_body_feed(struct smtp_body *b, const char *data, size_t len,
		   size_t *consumed_r)
{
	size_t i, run = 0;

	*consumed_r = 0;
	if (b->state == ST_ERR || b->state == ST_DONE)
		return final_rc(b);
	if (b->mode == SMTP_BODY_BDAT)
		return feed_bdat(b, data, len, consumed_r);

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		switch (b->state) {
		case ST_BOL:
			if (c == '.') {
				if (emit(b, data + run, i - run) < 0)
					return RMAIL_ERROR;
				run = i + 1;
				b->state = ST_DOT;
				continue;
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				/* held back: the end, or a bare CR */
				if (emit(b, data + run, i - run) < 0)
					return RMAIL_ERROR;
				run = i + 1;
				b->state = ST_DOT_CR;
				continue;
			}
			break;
		case ST_DOT_CR:
			if (c != '\n')
				return bare(b, SMTP_BODY_E_BARE_CR, i,
					    consumed_r);
			b->state = ST_DONE;
			b->done = 1;
			*consumed_r = i + 1;
			return final_rc(b);
		case ST_CR:
			if (c != '\n')
				return bare(b, SMTP_BODY_E_BARE_CR, i,
					    consumed_r);
			b->state = ST_BOL;
			continue;
		default:
			break;
		}
		/* an ordinary octet of a line */
		if (c == '\r')
			b->state = ST_CR;
		else if (c == '\n')
			return bare(b, SMTP_BODY_E_BARE_LF, i, consumed_r);
		else
			b->state = ST_TEXT;
	}
	if (emit(b, data + run, len - run) < 0)
		return RMAIL_ERROR;
	*consumed_r = len;
	return RMAIL_AGAIN;
}

int smtp_body_finish(struct smtp_body *b)
{
	size_t at;

	/* a CR as the very last octet has no LF to come */
	if (b->state == ST_CR)
		return bare(b, SMTP_BODY_E_BARE_CR, 0, &at);
	if (b->state != ST_ERR) {
		b->state = ST_DONE;
		b->done = 1;
	}
	return final_rc(b);
}

int smtp_body_is_done(const struct smtp_body *b)
{
	return b->done;
}

unsigned smtp_body_err_code(int err)
{
	switch (err) {
	case SMTP_BODY_E_NONE:
		return 250;
	case SMTP_BODY_E_BARE_LF:
	case SMTP_BODY_E_BARE_CR:
		return 521;
	case SMTP_BODY_E_TOOBIG:
	case SMTP_BODY_E_HDR_TOOBIG:
		return 552;
	case SMTP_BODY_E_HDR_COUNT:
		return 554;
	default:
		return 451;
	}
}

const char *smtp_body_err_enh(int err)
{
	switch (err) {
	case SMTP_BODY_E_NONE:
		return "2.0.0";
	case SMTP_BODY_E_BARE_LF:
	case SMTP_BODY_E_BARE_CR:
		return "5.5.2";
	case SMTP_BODY_E_TOOBIG:
	case SMTP_BODY_E_HDR_TOOBIG:
		return "5.3.4";
	case SMTP_BODY_E_HDR_COUNT:
		return "5.6.0";
	default:
		return "4.3.0";
	}
}

const char *smtp_body_err_text(int err)
{
	switch (err) {
	case SMTP_BODY_E_NONE:
		return "Ok";
	case SMTP_BODY_E_BARE_LF:
		return "Error: bare <LF> received";
	case SMTP_BODY_E_BARE_CR:
		return "Error: bare <CR> received";
	case SMTP_BODY_E_TOOBIG:
		return "Message size exceeds fixed maximum message size";
	case SMTP_BODY_E_HDR_TOOBIG:
		return "Message header block exceeds the size limit";
	case SMTP_BODY_E_HDR_COUNT:
		return "Message has too many header fields";
	default:
		return "Error: local error in processing";
	}
}
