/*
 * imap_state.h: "V <uidvalidity>" then "<src> <dst> <size> <msgid>"
 * lines, appended and fdatasync'd batch by batch, rewritten whole by
 * rename.  Lines that do not parse are dropped: at worst a message is
 * copied again, never lost.
 */
#include "imap_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmail/store.h>

#include "maildir.h"
#include "rm.h"

static void clear_pending(struct rm_iss *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->v[i].pending = false;
	s->npending = 0;
}

int rm_iss_load(struct rm_iss *s, const char *dir, const char *mbox)
{
	char enc[256], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	memset(s, 0, sizeof(*s));
	if (rm_store_name_encode(mbox, strlen(mbox), enc, sizeof(enc)) < 0)
		return -1;
	s->path = rm_md_xasprintf("%s/%s", dir, enc);
	fp = fopen(s->path, "re");
	if (fp == NULL)
		return 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		unsigned long long size;
		unsigned src, dst, uv;
		char id[256];

		if (sscanf(line, "V %u", &uv) == 1)
			s->uidvalidity = uv;
		else if (sscanf(line, "%u %u %llu %255s", &src, &dst, &size,
				id) == 4 &&
			 src != 0 && dst != 0)
			rm_iss_add(s, src, dst, size,
				   strcmp(id, "-") == 0 ? "" : id);
	}
	free(line);
	fclose(fp);
	clear_pending(s);
	return 0;
}

void rm_iss_add(struct rm_iss *s, uint32_t src, uint32_t dst, uint64_t size,
		const char *msgid)
{
	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 256;
		s->v = rm_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].src = src;
	s->v[s->n].dst = dst;
	s->v[s->n].size = size;
	s->v[s->n].msgid = rm_xstrdup(msgid);
	s->v[s->n].pending = true;
	s->n++;
	s->npending++;
	s->sorted = false;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct rm_iss_ent *x = a, *y = b;

	return x->src < y->src ? -1 : x->src > y->src;
}

struct rm_iss_ent *rm_iss_find(struct rm_iss *s, uint32_t src)
{
	struct rm_iss_ent key = {.src = src};

	if (s->n == 0)
		return NULL;
	if (!s->sorted)
		qsort(s->v, s->n, sizeof(*s->v), cmp_ent);
	s->sorted = true;
	return bsearch(&key, s->v, s->n, sizeof(*s->v), cmp_ent);
}

/* every entry, or only the pending ones */
static char *lines(const struct rm_iss *s, bool all, bool header, size_t *len_r)
{
	size_t cap = 64 + s->n * 300, len = 0;
	char *buf = rm_xmalloc(cap);

	if (header)
		len += (size_t)snprintf(buf, cap, "V %u\n", s->uidvalidity);
	for (size_t i = 0; i < s->n; i++) {
		const struct rm_iss_ent *e = &s->v[i];

		if (!all && !e->pending)
			continue;
		len += (size_t)snprintf(buf + len, cap - len,
					"%u %u %llu %.255s\n", e->src, e->dst,
					(unsigned long long)e->size,
					e->msgid[0] != '\0' ? e->msgid : "-");
	}
	*len_r = len;
	return buf;
}

static void mkdirs(const char *path)
{
	char *d = rm_xstrdup(path), *slash = strrchr(d, '/');

	if (slash != NULL) {
		*slash = '\0';
		if (mkdir(d, 0750) < 0 && errno == ENOENT) {
			char *up = strrchr(d, '/');

			if (up != NULL) {
				*up = '\0';
				(void)mkdir(d, 0750);
				*up = '/';
			}
			(void)mkdir(d, 0750);
		}
	}
	free(d);
}

int rm_iss_flush(struct rm_iss *s)
{
	struct stat st;
	size_t len;
	char *buf;
	int fd, rc = 0;

	if (s->npending == 0)
		return 0;
	mkdirs(s->path);
	fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	buf = lines(s, false, fstat(fd, &st) == 0 && st.st_size == 0, &len);
	if (rm_write_all(fd, buf, len) < 0 || fdatasync(fd) < 0)
		rc = -1;
	free(buf);
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0)
		clear_pending(s);
	return rc;
}

int rm_iss_save(struct rm_iss *s)
{
	char *tmp = rm_md_xasprintf("%s.tmp", s->path);
	size_t len;
	char *buf = lines(s, true, true, &len);
	int fd, rc = -1;

	mkdirs(s->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		rc = rm_write_all(fd, buf, len) == 0 && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) < 0)
			rc = -1;
		if (rc == 0 && rename(tmp, s->path) < 0)
			rc = -1;
		if (rc < 0)
			unlink(tmp);
	}
	free(buf);
	free(tmp);
	if (rc == 0)
		clear_pending(s);
	return rc;
}

void rm_iss_free(struct rm_iss *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].msgid);
	free(s->v);
	free(s->path);
	memset(s, 0, sizeof(*s));
}
