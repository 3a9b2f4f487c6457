/*
 * The learning queue: one file per learn in {queue_dir}/new, written
 * into tmp/ and renamed, named "{ns since epoch}-{seq}.{spam|ham}" so a
 * directory listing sorted by name is the order of the users' moves.
 * The file holds one line "user\n" and then the message.  It lives on
 * disk: a restart picks up what was not sent (the files are not
 * fsync'd, so a crash of the machine may lose the last ones).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sl.h"

#define COPY_BUF 65536

static int mkdir_p(const char *path)
{
	char p[4096];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return -1;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int sl_queue_init(const char *dir, struct rmail_err *err)
{
	char p[4096];

	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, i == 0 ? "new" : "tmp");
		if (mkdir_p(p) < 0)
			return rmail_err_set(err, RMAIL_E_IO, "%s: %s", p,
					     strerror(errno));
	}
	return 0;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_fd(int in, int out, uint64_t size)
{
	char *b = malloc(COPY_BUF);
	uint64_t off = 0;
	int rc = 0;

	if (b == NULL)
		return -1;
	while (off < size && rc == 0) {
		ssize_t got = pread(in, b, COPY_BUF, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* shorter than said: what is there */
		rc = write_all(out, b, (size_t)got);
		off += (uint64_t)got;
	}
	free(b);
	return rc;
}

int sl_queue_put(struct sl *sl, const char *kind, const char *user, int fd,
		 uint64_t size, struct rmail_err *err)
{
	char tmp[4096], dst[4096], name[96];
	struct timespec ts;
	unsigned seq;
	int out;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&sl->lock);
	seq = sl->seq++;
	pthread_mutex_unlock(&sl->lock);
	snprintf(name, sizeof(name), "%020llu-%08u.%s",
		 (unsigned long long)ts.tv_sec * 1000000000ULL +
			 (unsigned long long)ts.tv_nsec,
		 seq, kind);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", sl->dir, name);
	snprintf(dst, sizeof(dst), "%s/new/%s", sl->dir, name);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", tmp,
				     strerror(errno));
	if (write_all(out, user, strlen(user)) < 0 ||
	    write_all(out, "\n", 1) < 0 || copy_fd(fd, out, size) < 0 ||
	    close(out) < 0) {
		int e = errno;

		(void)unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", tmp,
				     strerror(e));
	}
	if (rename(tmp, dst) < 0) {
		int e = errno;

		(void)unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", dst,
				     strerror(e));
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **sl_queue_list(const char *dir, size_t *n_r)
{
	char p[4096];
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*n_r = 0;
	snprintf(p, sizeof(p), "%s/new", dir);
	d = opendir(p);
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strrchr(de->d_name, '.');

		if (de->d_name[0] == '.' || dot == NULL ||
		    (strcmp(dot, ".spam") != 0 && strcmp(dot, ".ham") != 0))
			continue;
		if (n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n] = strdup(de->d_name);
		if (v[n] != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), by_name);
	*n_r = n;
	return v;
}

void sl_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int sl_queue_read(const char *dir, const char *name, char *kind, size_t ksz,
		  char **msg_r, size_t *len_r, double *queued_r)
{
	char p[4096];
	const char *dot = strrchr(name, '.');
	struct stat st;
	char *b, *nl;
	ssize_t got;
	int fd;

	snprintf(p, sizeof(p), "%s/new/%s", dir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 ||
	    (b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	got = pread(fd, b, (size_t)st.st_size, 0);
	close(fd);
	if (got != st.st_size || (nl = memchr(b, '\n', (size_t)got)) == NULL) {
		free(b);
		return -1;
	}
	snprintf(kind, ksz, "%s", dot != NULL ? dot + 1 : "");
	*len_r = (size_t)got - (size_t)(nl + 1 - b);
	memmove(b, nl + 1, *len_r);
	b[*len_r] = '\0';
	*msg_r = b;
	*queued_r = strtod(name, NULL) / 1e9;
	return 0;
}

void sl_queue_done(const char *dir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/new/%s", dir, name);
	(void)unlink(p);
}
