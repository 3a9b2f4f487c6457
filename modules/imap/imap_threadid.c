/*
 * THREADID from the header (imap_threadid.h).  Why stateless: a
 * per-user table filled at delivery would need a store op, a lock
 * shared by every process on the mail root and a repair story; a
 * derivation from the message's own header is the same in every
 * process, survives MOVE, COPY, restarts and index rebuilds, and costs
 * one header read that FETCH ENVELOPE or SEARCH HEADER do anyway.  Its
 * limit: a message whose References lost the root (trimmed, or only
 * an In-Reply-To to a reply) starts another thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imap_threadid.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool imap_msgid_next(const char **p, const char **a_r, const char **b_r)
{
	const char *at = *p, *q, *i;

	if (at == NULL)
		return false;
	while ((at = strchr(at, '<')) != NULL) {
		q = strchr(at + 1, '>');
		if (q == NULL)
			break;
		for (i = at + 1; i < q; i++)
			if (!is_ws(*i)) {
				*a_r = at + 1;
				*b_r = q;
				*p = q + 1;
				return true;
			}
		at = q + 1;
	}
	*p = NULL;
	return false;
}

static bool first_id(const char *v, const char **a_r, const char **b_r)
{
	return imap_msgid_next(&v, a_r, b_r);
}

bool imap_thread_root(const char *message_id, const char *references,
		      const char *in_reply_to, const char **a_r,
		      const char **b_r)
{
	return first_id(references, a_r, b_r) ||
	       first_id(in_reply_to, a_r, b_r) ||
	       first_id(message_id, a_r, b_r);
}

/* FNV-1a, 128 bits: stable across builds and hosts, no key to keep;
 * collisions need not be hard to make (a sender can name any root) */
bool imap_threadid_derive(const char *message_id, const char *references,
			  const char *in_reply_to, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned __int128 prime =
		((unsigned __int128)1 << 88) | (unsigned __int128)0x13b;
	unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) |
			      0x62b821756295c58dULL;
	const char *a, *b, *p;
	int i;

	out[0] = '\0';
	if (!imap_thread_root(message_id, references, in_reply_to, &a, &b))
		return false;
	for (p = a; p < b; p++) {
		if (is_ws(*p))
			continue;
		h ^= (unsigned char)*p;
		h *= prime;
	}
	out[0] = 'T';
	for (i = 0; i < 32; i++)
		out[1 + i] = hex[(unsigned)(h >> (124 - 4 * i)) & 15];
	out[IMAP_THREADID_LEN] = '\0';
	return true;
}

bool imap_threadid_own(const char *emailid, char *out, size_t outsz)
{
	/* "_" keeps these apart from the hashed ids (hex digits only) */
	int n = snprintf(out, outsz, "T_%s", emailid);

	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}
