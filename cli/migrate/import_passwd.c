/*
 * rmail import passwd FILE [--domain D] [--dry-run]: the users of a
 * Dovecot passwd-file or of /etc/shadow, with their hashes as they are
 * (the store verifies Dovecot's schemes and upgrades each to yescrypt at
 * its first login) and their quota rule.  Plaintext schemes are hashed
 * here, never written.  A user that exists is left alone, so a second
 * run changes nothing.  A hash goes in by compare-and-swap on a user
 * created without a password: a password set meanwhile is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_store.h"
#include "import_sub.h"
#include "pwfile.h"

#define CMD "import passwd"
#define FILE_MAX (64u << 20)

char *rm_import_read(const char *path, size_t *len_r)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > FILE_MAX) {
		errno = S_ISREG(sb.st_mode) ? EFBIG : EINVAL;
		close(fd);
		return NULL;
	}
	buf = rm_xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size &&
	       (n = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

struct pwimp {
	const struct rmail_store_ops *ops;
	void *h;
	const char *domain;
	bool dry;
	size_t added, exist, skipped, refused;
};

static void refuse(struct pwimp *pi, unsigned lineno, const char *user,
		   const char *why)
{
	printf("refused line %u%s%s%s: %s\n", lineno, user ? " (" : "",
	       user ? user : "", user ? ")" : "", why);
	pi->refused++;
}

static void one(struct pwimp *pi, unsigned lineno, struct rm_pw_entry *e)
{
	char addr[2 * RMAIL_ADDR_MAX + 2];
	struct rmail_user u;
	struct rmail_err err;
	int64_t q = e->quota_mb;

	if (e->kind == RM_PW_NONE) {
		printf("skipped %s: no password (locked account)\n", e->user);
		pi->skipped++;
		return;
	}
	if (strchr(e->user, '@') != NULL) {
		snprintf(addr, sizeof(addr), "%s", e->user);
	} else if (pi->domain != NULL) {
		snprintf(addr, sizeof(addr), "%s@%s", e->user, pi->domain);
	} else {
		refuse(pi, lineno, e->user, "no domain (use --domain)");
		return;
	}
	rmail_err_clear(&err);
	if (pi->ops->user_get(pi->h, addr, &u, &err) == 0) {
		printf("exists %s\n", u.address);
		pi->exist++;
		return;
	}
	if (err.code != RMAIL_E_NOENT) {
		refuse(pi, lineno, e->user, err.msg);
		return;
	}
	if (pi->dry) {
		printf("would add %s (%s", addr, e->scheme);
		if (q >= 0)
			printf(", quota %lld MB", (long long)q);
		printf(")\n");
		pi->added++;
		return;
	}
	rmail_err_clear(&err);
	if (pi->ops->user_add(pi->h, addr,
			      e->kind == RM_PW_PLAIN ? e->hash : NULL, 0, q,
			      &err) < 0) {
		if (err.code == RMAIL_E_EXISTS) {
			printf("exists %s\n", addr);
			pi->exist++;
			return;
		}
		{
			refuse(pi, lineno, e->user, err.msg);
			return;
		}
	}
	if (e->kind == RM_PW_HASH &&
	    pi->ops->user_hash_cas(pi->h, addr, NULL, e->hash, &err) < 0) {
		struct rmail_err derr;

		/* no half-imported user without its password */
		rmail_err_clear(&derr);
		if (pi->ops->user_del != NULL)
			pi->ops->user_del(pi->h, addr, 1, &derr);
		{
			refuse(pi, lineno, e->user, err.msg);
			return;
		}
	}
	printf("added %s (%s)\n", addr, e->scheme);
	pi->added++;
}

int rm_import_passwd(struct rm_cli *cli, int argc, char **argv)
{
	struct pwimp pi = {0};
	struct rm_pw_entry e;
	const char *pos[1];
	const struct rm_opt opts[] = {
		{"--domain", true, &pi.domain, NULL},
		{"--dry-run", false, NULL, &pi.dry},
		{NULL, false, NULL, NULL},
	};
	char *buf, *p, *nl;
	unsigned lineno = 0;
	size_t n, len;
	int rc;

	rc = rm_cmd_args(CMD, "FILE [--domain D] [--dry-run]", argc, argv, opts,
			 pos, 1, 1, &n);
	if (rc != RM_EXIT_OK)
		return rc;
	/* the store first: it drops root privileges (run_as), and reading
	 * /etc/shadow needs them: read it before */
	buf = rm_import_read(pos[0], &len);
	if (buf == NULL)
		return rm_cmd_failf(CMD, "%s: %s", pos[0], strerror(errno));
	if (rm_cli_store(cli, &pi.ops, &pi.h) < 0) {
		rc = RM_EXIT_FAIL;
		goto out;
	}
	if (!RMAIL_HAS(pi.ops, struct rmail_store_ops, user_hash_cas) ||
	    pi.ops->user_hash_cas == NULL || pi.ops->user_add == NULL) {
		rc = rm_cmd_failf(CMD, "the storage module cannot take "
				       "password hashes (ABI 1.2 "
				       "user_hash_cas)");
		goto out;
	}
	for (p = buf; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (nl == NULL)
			nl = buf + len;
		lineno++;
		switch (rm_pw_parse_line(p, (size_t)(nl - p), &e)) {
		case 1:
			one(&pi, lineno, &e);
			break;
		case -1:
			refuse(&pi, lineno, e.user[0] ? e.user : NULL, e.why);
			break;
		}
		rm_secure_zero(&e, sizeof(e));
	}
	printf("%s %zu users, %zu already there, %zu skipped, %zu refused\n",
	       pi.dry ? "would add" : "added", pi.added, pi.exist, pi.skipped,
	       pi.refused);
	rc = pi.refused > 0 ? RM_EXIT_FAIL : RM_EXIT_OK;
out:
	rm_secure_zero(buf, len);
	free(buf);
	return rc;
}
