/*
 * The MTA-STS policy cache on disk, a core-owned subtree of the mail
 * root (docs/storage.md), shared by every process of the mail root:
 *
 *     {mail_root}/mta-sts/{domain}.json
 *         {"id": TXT id=, "fetched": unix time, "policy": the file}
 *
 * The policy file is kept as served and parsed again on every read, so
 * the parser stays the only judge of what a policy means.  Written to
 * a temp file of its own (concurrent writers never share one), fsync'd
 * and renamed: a reader sees the old entry or the new, never half.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm.h"
#include "submit/mta_sts_cache.h"

/* a cache file is a policy (at most 64 KiB) plus a little */
#define ENTRY_MAX (RM_STS_BODY_MAX * 2 + 1024)

bool rm_sts_domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
		if (c == '.' && d[i + 1] == '.')
			return false;
	}
	return true;
}

int rm_sts_cache_dir(char *buf, size_t sz)
{
	const struct rm_config *c = rm_conf();

	if (c == NULL || c->mail_root == NULL)
		return -1;
	return (size_t)snprintf(buf, sz, "%s/mta-sts", c->mail_root) < sz ? 0
									  : -1;
}

int rm_sts_cache_load(const char *dir, const char *domain,
		      struct rm_sts_policy *out, char **text_r)
{
	char path[4400];
	json_error_t je;
	json_t *o, *pol;
	const char *id, *text;
	int rc = -1;

	if (!rm_sts_domain_ok(domain) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s.json", dir, domain) >=
		    sizeof(path))
		return -1;
	o = json_load_file(path, 0, &je);
	if (o == NULL)
		return -1;
	pol = json_object_get(o, "policy");
	id = json_string_value(json_object_get(o, "id"));
	text = json_string_value(pol);
	if (id != NULL && text != NULL && strlen(id) < RM_STS_ID_MAX &&
	    json_is_integer(json_object_get(o, "fetched")) &&
	    rm_sts_policy_parse(text, json_string_length(pol), out) == 0) {
		snprintf(out->id, sizeof(out->id), "%s", id);
		out->fetched = (int64_t)json_integer_value(
			json_object_get(o, "fetched"));
		out->expires = out->fetched + (int64_t)out->max_age;
		if (text_r != NULL)
			*text_r = strdup(text);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

int rm_sts_cache_store(const char *dir, const char *domain, const char *id,
		       int64_t fetched, const char *text, size_t len)
{
	static atomic_uint seq;
	char tmp[4400], dst[4400];
	json_t *o;
	char *s;
	int fd, rc = -1;

	if (!rm_sts_domain_ok(domain))
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%u.tmp", dir, domain,
			     (long)getpid(),
			     atomic_fetch_add(&seq, 1)) >= sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s.json", dir, domain) >=
		    sizeof(dst))
		return -1;
	o = json_pack("{s:s, s:I, s:s%}", "id", id, "fetched",
		      (json_int_t)fetched, "policy", text, len);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 && rm_write_all(fd, s, strlen(s)) == 0 && fsync(fd) == 0 &&
	    close(fd) == 0) {
		fd = -1;
		if (rename(tmp, dst) == 0) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (dfd >= 0) {
				(void)fsync(dfd);
				close(dfd);
			}
			rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		(void)unlink(tmp);
	free(s);
	return rc;
}

int rm_sts_cache_remove(const char *dir, const char *domain)
{
	char path[4400];

	if (!rm_sts_domain_ok(domain) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s.json", dir, domain) >=
		    sizeof(path))
		return -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}
