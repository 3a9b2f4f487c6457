/*
 * libFuzzer harness for THREADID (imap_threadid.c): the input is
 * Message-ID, References and In-Reply-To values separated by NUL
 * bytes.  Checked: an id comes back exactly when the values name a
 * root, it is "T" and 32 hex digits, the root is a non-empty span
 * inside one value without '>', and it is the id THREAD REFERENCES
 * reads (imap_sortrec_build): its first reference (kept however many
 * there are), else the message's own id; white space inside the
 * brackets does not change the id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_casemap.h"
#include "imap_sort.h"
#include "imap_threadid.h"
#include "text/casemap.h"

static struct rmail_core core = {
	.size = sizeof(struct rmail_core),
	.casemap = rm_casemap,
};

static void check(int cond)
{
	if (!cond)
		abort();
}

/* the id without white space */
static char *squeeze(const char *a, const char *b)
{
	char *s = malloc((size_t)(b - a) + 1), *o = s;

	check(s != NULL);
	for (; a < b; a++)
		if (*a != ' ' && *a != '\t' && *a != '\r' && *a != '\n')
			*o++ = *a;
	*o = '\0';
	return s;
}

static bool within(const char *v, const char *a, const char *b)
{
	return v != NULL && a >= v && b <= v + strlen(v);
}

/* the value with a space after every '<' (inside every id) */
static char *spaced(const char *v)
{
	size_t n, i, o = 0;
	char *s;

	if (v == NULL)
		return NULL;
	n = strlen(v);
	s = malloc(2 * n + 1);

	check(s != NULL);
	for (i = 0; i < n; i++) {
		s[o++] = v[i];
		if (v[i] == '<')
			s[o++] = ' ';
	}
	s[o] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[3] = {NULL, NULL, NULL}, *sp[3];
	char id[IMAP_THREADID_LEN + 1], id2[IMAP_THREADID_LEN + 1];
	const char *a = NULL, *b = NULL, *v[3];
	struct imap_sorthdr h = {0};
	struct imap_sortrec *r;
	size_t off = 0, i;
	bool got, root;

	imap_casemap_init(&core);
	for (i = 0; i < 3 && off <= size; i++) {
		const uint8_t *z = memchr(data + off, 0, size - off);
		size_t len =
			z != NULL ? (size_t)(z - (data + off)) : size - off;

		f[i] = malloc(len + 1);
		check(f[i] != NULL);
		memcpy(f[i], data + off, len);
		f[i][len] = '\0';
		off += len + 1;
	}
	for (i = 0; i < 3; i++)
		v[i] = f[i];
	got = imap_threadid_derive(v[0], v[1], v[2], id);
	root = imap_thread_root(v[0], v[1], v[2], &a, &b);
	check(got == root);
	if (!got) {
		check(id[0] == '\0');
	} else {
		check(strlen(id) == IMAP_THREADID_LEN && id[0] == 'T');
		for (i = 1; i < IMAP_THREADID_LEN; i++)
			check((id[i] >= '0' && id[i] <= '9') ||
			      (id[i] >= 'a' && id[i] <= 'f'));
		check(a < b && memchr(a, '>', (size_t)(b - a)) == NULL);
		check(within(v[0], a, b) || within(v[1], a, b) ||
		      within(v[2], a, b));
	}
	/* the id THREAD links by */
	h.message_id = v[0];
	h.references = v[1];
	h.in_reply_to = v[2];
	r = imap_sortrec_build(&h, 1, size);
	if (r->nrefs > 0) {
		char *s = squeeze(a, b);

		check(got && strcmp(s, r->refs[0]) == 0);
		free(s);
	} else if (r->nrefs == 0) {
		if (r->msgid[0] == '\0') {
			check(!got);
		} else {
			char *s = squeeze(a, b);

			check(got && strcmp(s, r->msgid) == 0);
			free(s);
		}
	}
	free(r);
	/* white space inside the brackets is not part of an id */
	for (i = 0; i < 3; i++)
		sp[i] = spaced(f[i]);
	check(imap_threadid_derive(sp[0], sp[1], sp[2], id2) == got);
	check(strcmp(id, id2) == 0);
	for (i = 0; i < 3; i++) {
		free(sp[i]);
		free(f[i]);
	}
	return 0;
}
