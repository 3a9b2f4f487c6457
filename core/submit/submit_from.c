/*
 * The sender rule of authenticated submission (SMTP AUTH and the HTTP
 * API share it): exactly one From:, at most one Sender: (RFC 5322
 * 3.6), and every mailbox in them owned by the user.  It runs on the
 * core MIME parser's view of the header, the same parse IMAP ENVELOPE
 * and the API display, so what is checked is what every client shows;
 * no second, hand-written reading of the header can disagree with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime/mime_int.h"
#include "submit_int.h"

/* the header block read for the check; SMTP's max_header_size is 1M */
#define FROM_HDR_MAX ((size_t)4 << 20)

/* The header block as the parser delimits it: up to the first empty
 * line (LF or CRLF), or the whole message when it has none. */
static char *read_header(int fd, uint64_t size, size_t *len_r)
{
	size_t cap = size < FROM_HDR_MAX ? (size_t)size : FROM_HDR_MAX;
	char *b = rm_xmalloc(cap + 1);
	size_t got, pos = 0;

	ssize_t r = rm_pread_all(fd, b, cap, 0);

	got = r > 0 ? (size_t)r : 0;
	while (pos < got) {
		const char *lf = memchr(b + pos, '\n', got - pos);
		size_t end;

		if (lf == NULL)
			break;
		end = (size_t)(lf - b);
		if (end == pos || (end == pos + 1 && b[pos] == '\r')) {
			*len_r = pos;
			return b;
		}
		pos = end + 1;
	}
	if (got < size) { /* no end within what may be checked */
		free(b);
		return NULL;
	}
	*len_r = got;
	return b;
}

/* 0 all owned, 1 one is not, -1 no mailbox at all */
/* 0 every mailbox owned, 1 one is not, -1 none there, 2 the store
 * could not tell (a temporary failure, never a refusal) */
static int list_owned(struct rmail_mime *m, const char *value, const char *user)
{
	const struct rmail_mime_addr *a;
	size_t n, i, boxes = 0;

	if (rm_mime_addresses(m, value, &a, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char addr[RMAIL_ADDR_MAX + 1];
		struct rmail_err err;
		int w, o;

		if (a[i].mailbox == NULL)
			continue; /* a group's start or end */
		boxes++;
		if (a[i].host == NULL || a[i].mailbox[0] == '\0')
			return 1;
		w = snprintf(addr, sizeof(addr), "%s@%s", a[i].mailbox,
			     a[i].host);
		if (w < 0 || (size_t)w >= sizeof(addr))
			return 1;
		rmail_err_clear(&err);
		o = rm_addr_owned(user, addr, &err);
		if (o < 0)
			return 2;
		if (o == 0)
			return 1;
	}
	return boxes > 0 ? 0 : -1;
}

static int refuse(int *code_r, char *text, size_t sz, const char *what,
		  const char *field, const char *user)
{
	*code_r = 550;
	if (user != NULL)
		snprintf(text, sz,
			 "5.7.1 %s: header address not owned by "
			 "authenticated user %s",
			 field, user);
	else if (field != NULL)
		snprintf(text, sz, "5.6.0 %s: header has no address", field);
	else
		snprintf(text, sz, "5.6.0 %s", what);
	return -1;
}

/* 0, or -1 with the reply (code and "x.y.z text") to refuse with */
int rm_submit_sender_check(int fd, uint64_t size, const char *user, int *code_r,
			   char *text, size_t sz)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	const char *from, *sender;
	char *hdr;
	size_t len = 0;
	int rc = 0, v;

	hdr = read_header(fd, size, &len);
	if (hdr == NULL)
		return refuse(code_r, text, sz, "Header block too large", NULL,
			      NULL);
	/* the core's default limits: those of ENVELOPE and the API */
	if (rm_mime_parse(hdr, len, NULL, &m, &err) < 0) {
		free(hdr);
		*code_r = 451;
		snprintf(text, sz, "4.3.0 Cannot parse the header");
		return -1;
	}
	free(hdr);
	from = rm_mime_header(m, 0, "From", 0, 0);
	sender = rm_mime_header(m, 0, "Sender", 0, 0);
	/* a field cut by a limit reads differently to a client with
	 * other limits */
	if (rm_mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED)
		rc = refuse(code_r, text, sz,
			    "Header exceeds the parser's limits", NULL, NULL);
	else if (from == NULL || rm_mime_header(m, 0, "From", 1, 0) != NULL)
		rc = refuse(code_r, text, sz,
			    "Message must have exactly one From: header", NULL,
			    NULL);
	else if (rm_mime_header(m, 0, "Sender", 1, 0) != NULL)
		rc = refuse(code_r, text, sz,
			    "Message has more than one Sender: header", NULL,
			    NULL);
	else {
		const char *field = "From";

		v = list_owned(m, from, user);
		if (v == 0 && sender != NULL) {
			field = "Sender";
			v = list_owned(m, sender, user);
		}
		if (v == 2) {
			*code_r = 451;
			snprintf(text, sz,
				 "4.3.0 Sender ownership lookup failed, "
				 "try again later");
			rc = -1;
		} else if (v != 0) {
			rc = refuse(code_r, text, sz, NULL, field,
				    v == 1 ? user : NULL);
		}
	}
	rm_mime_free(&m);
	return rc;
}
