/*
 * rmail install: fill in conf/rmail.service.in (the template `make
 * install` ships, compiled in) for this binary and config, write it to
 * /etc/systemd/system/rmail.service, reload systemd and enable the
 * unit.  --dry-run prints the unit; --uninstall disables and removes
 * it.  Without a running systemd the file is still written and the
 * systemctl steps are skipped with a note, never a cryptic failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"

#include "rm_unit_template.h"

#define UNIT_PATH "/etc/systemd/system/rmail.service"
#define UNIT_NAME "rmail"
#define RUN_DIR "/run/rmail"
#define DEFAULT_USER "rmail"
#define MAX_VARS 12

struct unit_var {
	const char *name; /* without the @s */
	const char *value;
};

struct unit_ctx {
	struct rmail_pool *pool;
	struct unit_var vars[MAX_VARS];
	size_t nvars;
};

static void var_set(struct unit_ctx *u, const char *name, const char *value)
{
	RM_ASSERT(u->nvars < MAX_VARS);
	u->vars[u->nvars].name = name;
	u->vars[u->nvars].value = value;
	u->nvars++;
}

static const char *var_get(const struct unit_ctx *u, const char *name,
			   size_t len)
{
	for (size_t i = 0; i < u->nvars; i++)
		if (strlen(u->vars[i].name) == len &&
		    memcmp(u->vars[i].name, name, len) == 0)
			return u->vars[i].value;
	return NULL;
}

/* systemd splits on blanks and expands % specifiers: refuse what a
 * unit line could not carry literally, double the %s */
static const char *unit_path(struct unit_ctx *u, const char *what,
			     const char *path)
{
	char *out, *o;

	if (path == NULL || path[0] != '/') {
		rm_log(RMAIL_LOG_ERR, "%s is not an absolute path: %s", what,
		       path != NULL ? path : "(none)");
		return NULL;
	}
	out = o = rm_palloc(u->pool, strlen(path) * 2 + 1);
	for (const char *s = path; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\'' ||
		    *s == '\\' || *s == ';' || *s == 0x7f) {
			rm_log(RMAIL_LOG_ERR,
			       "%s contains a character a "
			       "systemd unit cannot hold literally: %s",
			       what, path);
			return NULL;
		}
		if (*s == '%')
			*o++ = '%';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static char *dir_of(struct rmail_pool *pool, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return rm_pstrdup(pool, "/");
	return rm_pstrndup(pool, path, (size_t)(slash - path));
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || !path[n]);
}

static bool under_home(const char *path)
{
	return path != NULL && (under(path, "/home") || under(path, "/root") ||
				under(path, "/run/user"));
}

/* User=/Group= and the capability to bind ports below 1024, when the
 * service user exists (--user, run_as, or "rmail"); else nothing */
static const char *user_lines(struct unit_ctx *u, const char *want,
			      bool explicit_user, const char **user_r)
{
	struct passwd *pw;
	struct group *gr;

	*user_r = NULL;
	if (want == NULL)
		return "";
	pw = getpwnam(want);
	if (pw == NULL) {
		if (explicit_user)
			rm_log(RMAIL_LOG_WARN,
			       "user %s does not exist: the "
			       "unit runs rmail as root",
			       want);
		return "";
	}
	gr = getgrgid(pw->pw_gid);
	*user_r = rm_pstrdup(u->pool, pw->pw_name);
	return rm_psprintf(u->pool,
			   "User=%s\nGroup=%s\n"
			   "AmbientCapabilities=CAP_NET_BIND_SERVICE\n"
			   "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
			   pw->pw_name, gr != NULL ? gr->gr_name : pw->pw_name);
}

/* RuntimeDirectory= when pid file and socket live in /run/rmail; else
 * the directories they live in must stay writable */
static const char *runtime_lines(struct unit_ctx *u,
				 const struct rm_config *conf, const char *user)
{
	const char *dirs[2], *lines = "";
	bool in_run = true;

	dirs[0] = dir_of(u->pool, conf->pid_file);
	dirs[1] = dir_of(u->pool, conf->control_socket);
	for (int i = 0; i < 2; i++)
		if (strcmp(dirs[i], RUN_DIR) != 0)
			in_run = false;
	if (in_run) {
		lines = "RuntimeDirectory=rmail\nRuntimeDirectoryMode=0755";
		/* rmail derives the default names from /run/rmail only as
		 * root; the service user finds the same directory here,
		 * so `rmail reload` as root still reaches the socket */
		if (user != NULL)
			lines = rm_psprintf(u->pool,
					    "%s\nEnvironment="
					    "XDG_RUNTIME_DIR=" RUN_DIR,
					    lines);
		return lines;
	}
	for (int i = 0; i < 2; i++) {
		const char *d;

		if (i == 1 && strcmp(dirs[0], dirs[1]) == 0)
			break;
		if (under(dirs[i], "/tmp") || under(dirs[i], conf->mail_root))
			continue; /* PrivateTmp / the mail root */
		d = unit_path(u, "the run directory", dirs[i]);
		if (d == NULL)
			return NULL;
		lines = rm_psprintf(u->pool, "%s%sReadWritePaths=-%s", lines,
				    lines[0] != '\0' ? "\n" : "", d);
	}
	return lines;
}

/* Substitute @NAME@; a line holding only a placeholder that expands
 * to nothing is dropped.  An unknown placeholder is an error, so the
 * template and this file cannot drift apart silently. */
static bool is_placeholder(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return false;
	return true;
}

static void out_add(char **out, size_t *len, size_t *cap, const char *s,
		    size_t n)
{
	if (*len + n + 2 > *cap) {
		*cap = *cap * 2 + n + 2;
		*out = rm_xrealloc(*out, *cap);
	}
	memcpy(*out + *len, s, n);
	*len += n;
}

static char *render(struct unit_ctx *u, const char *tpl)
{
	size_t cap = strlen(tpl) + 4096, len = 0;
	char *out = rm_xmalloc(cap);
	const char *p = tpl;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t llen = eol != NULL ? (size_t)(eol - p) : strlen(p);
		size_t start = len, i = 0;
		bool only_var = llen > 2 && p[0] == '@' && p[llen - 1] == '@' &&
				is_placeholder(p + 1, llen - 2);

		while (i < llen) {
			const char *at =
				memchr(p + i + 1, '@',
				       i + 1 < llen ? llen - i - 1 : 0);
			size_t nlen =
				at != NULL ? (size_t)(at - (p + i + 1)) : 0;
			const char *val;

			if (p[i] != '@' || at == NULL ||
			    !is_placeholder(p + i + 1, nlen)) {
				out_add(&out, &len, &cap, p + i, 1);
				i++;
				continue;
			}
			val = var_get(u, p + i + 1, nlen);
			if (val == NULL) {
				rm_log(RMAIL_LOG_ERR,
				       "unit template: unknown "
				       "placeholder @%.*s@",
				       (int)nlen, p + i + 1);
				free(out);
				return NULL;
			}
			out_add(&out, &len, &cap, val, strlen(val));
			i += nlen + 2;
		}
		if (!(only_var && len == start))
			out_add(&out, &len, &cap, "\n", 1);
		p += llen;
		if (*p == '\n')
			p++;
	}
	out[len] = '\0';
	return out;
}

static const char *template_text(void)
{
	static char *loaded;
	const char *path = RM_DATADIR "/rmail/rmail.service.in";
	FILE *f;
	long n;

	if (rm_unit_template[0] != '\0')
		return rm_unit_template;
	/* built without the source template: the one `make install` put */
	if (loaded != NULL)
		return loaded;
	f = fopen(path, "re");
	if (f == NULL) {
		rm_log(RMAIL_LOG_ERR, "no unit template (%s: %s)", path,
		       strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    n < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
		loaded = rm_xmalloc((size_t)n + 1);
		if (fread(loaded, 1, (size_t)n, f) != (size_t)n) {
			free(loaded);
			loaded = NULL;
		} else {
			loaded[n] = '\0';
		}
	}
	fclose(f);
	if (loaded == NULL)
		rm_log(RMAIL_LOG_ERR, "cannot read the unit template %s", path);
	return loaded;
}

struct install_opts {
	bool dry_run;
	bool uninstall;
	bool no_user;
	const char *user;
	const char *path;
};

static char *build_unit(struct rm_cli *cli, const struct install_opts *io,
			struct rmail_pool *pool)
{
	struct unit_ctx u = {.pool = pool};
	struct rm_config *conf;
	const char *tpl, *bin_s, *conf_s, *root_s, *work_s, *user, *want;
	const char *lines, *rt;
	char bin[PATH_MAX], cpath[PATH_MAX];
	char *text = NULL;

	tpl = template_text();
	if (tpl == NULL)
		return NULL;
	if (realpath("/proc/self/exe", bin) == NULL) {
		rm_log(RMAIL_LOG_ERR, "cannot resolve /proc/self/exe: %s",
		       strerror(errno));
		return NULL;
	}
	/* the unit must name the config the admin means, and it must be
	 * valid now: ExecStartPre would refuse it at every start */
	conf = rm_cli_load_config(cli);
	if (conf == NULL)
		return NULL;
	if (realpath(conf->path, cpath) == NULL)
		snprintf(cpath, sizeof(cpath), "%s", conf->path);
	bin_s = unit_path(&u, "the binary", bin);
	conf_s = unit_path(&u, "the config", cpath);
	root_s = unit_path(&u, "mail_root", conf->mail_root);
	work_s = unit_path(&u, "the config directory", conf->dir);
	if (bin_s == NULL || conf_s == NULL || root_s == NULL || work_s == NULL)
		goto out;
	want = io->no_user					 ? NULL
	       : io->user != NULL				 ? io->user
	       : conf->run_as != NULL && conf->run_as[0] != '\0' ? conf->run_as
								 : DEFAULT_USER;
	lines = user_lines(&u, want, io->user != NULL, &user);
	rt = runtime_lines(&u, conf, user);
	if (rt == NULL)
		goto out;
	if (under(conf->mail_root, "/tmp") ||
	    under(conf->mail_root, "/var/tmp"))
		rm_log(RMAIL_LOG_WARN,
		       "mail_root %s is under a temporary "
		       "directory: with PrivateTmp=yes the service would not "
		       "see it",
		       conf->mail_root);
	var_set(&u, "RMAIL_BIN", bin_s);
	var_set(&u, "RMAIL_CONFIG", conf_s);
	var_set(&u, "RMAIL_WORKDIR", work_s);
	var_set(&u, "RMAIL_MAIL_ROOT", root_s);
	var_set(&u, "RMAIL_DOCDIR", RM_DATADIR "/doc/rmail");
	/* strict would hide a binary, config or mail root under /home */
	var_set(&u, "RMAIL_PROTECT_HOME",
		under_home(bin) || under_home(cpath) ||
				under_home(conf->mail_root)
			? "read-only"
			: "yes");
	var_set(&u, "RMAIL_USER_LINES", lines);
	var_set(&u, "RMAIL_RUNTIME_LINES", rt);
	text = render(&u, tpl);
out:
	rm_config_free(&conf);
	return text;
}

static bool systemd_running(void)
{
	struct stat st;

	/* what sd_booted(3) checks */
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static int systemctl(const char *a, const char *b, const char *c)
{
	const char *argv[] = {"systemctl", a, b, c, NULL};
	int status;
	pid_t pid;

	fprintf(stderr, "running: systemctl %s%s%s%s%s\n", a,
		b != NULL ? " " : "", b != NULL ? b : "", c != NULL ? " " : "",
		c != NULL ? c : "");
	pid = fork();
	if (pid < 0) {
		rm_log(RMAIL_LOG_ERR, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "rmail: cannot run systemctl: %s\n",
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rm_log(RMAIL_LOG_ERR, "systemctl %s failed", a);
		return -1;
	}
	return 0;
}

static void no_systemd_note(const char *what)
{
	fprintf(stderr,
		"note: systemd is not running here (no "
		"/run/systemd/system): skipped %s.  Run it on the host "
		"once systemd manages it.\n",
		what);
}

static int write_unit(const char *path, const char *text)
{
	char *tmp = rm_xmalloc(strlen(path) + 16);
	size_t n = strlen(text);
	int fd, rc = -1;

	snprintf(tmp, strlen(path) + 16, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rm_log(RMAIL_LOG_ERR, "cannot write %s: %s%s", tmp,
		       strerror(errno),
		       errno == EACCES || errno == EPERM
			       ? " (run it as root, or --dry-run)"
			       : "");
		goto out;
	}
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		rm_log(RMAIL_LOG_ERR, "cannot write %s: %s", tmp,
		       strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rm_log(RMAIL_LOG_ERR, "cannot rename %s to %s: %s", tmp, path,
		       strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static int do_uninstall(const struct install_opts *io)
{
	bool sd = systemd_running();

	if (sd)
		(void)systemctl("disable", "--now", UNIT_NAME);
	else
		no_systemd_note("`systemctl disable --now rmail`");
	if (unlink(io->path) < 0 && errno != ENOENT) {
		rm_log(RMAIL_LOG_ERR, "cannot remove %s: %s", io->path,
		       strerror(errno));
		return 1;
	}
	printf("removed %s\n", io->path);
	if (sd && systemctl("daemon-reload", NULL, NULL) < 0)
		return 1;
	return 0;
}

static void review_note(FILE *f, const char *path)
{
	fprintf(f,
		"Review WorkingDirectory, User and the limits "
		"(LimitNOFILE, ReadWritePaths) in %s before starting it: "
		"systemctl start rmail\n",
		path);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rmail [-c FILE] install [--dry-run] [--uninstall]"
		   " [--user NAME | --no-user]\n"
		   "                            [--path UNITFILE]\n");
}

static int install_run(struct rm_cli *cli)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"uninstall", no_argument, NULL, 'u'},
		{"user", required_argument, NULL, 'U'},
		{"no-user", no_argument, NULL, 'N'},
		{"path", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct install_opts io = {.path = UNIT_PATH};
	struct rmail_pool *pool;
	char *text;
	int c, rc = 1;

	while ((c = getopt_long(cli->argc + 1, cli->argv - 1, "nuU:Np:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'n':
			io.dry_run = true;
			break;
		case 'u':
			io.uninstall = true;
			break;
		case 'U':
			io.user = optarg;
			break;
		case 'N':
			io.no_user = true;
			break;
		case 'p':
			io.path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != cli->argc + 1 || (io.user != NULL && io.no_user)) {
		usage(stderr);
		return 2;
	}
	if (io.uninstall)
		return do_uninstall(&io);
	pool = rm_pool_create(NULL);
	text = build_unit(cli, &io, pool);
	if (text == NULL)
		goto out;
	if (io.dry_run) {
		fputs(text, stdout);
		fflush(stdout);
		review_note(stderr, "the unit");
		rc = 0;
		goto out;
	}
	if (write_unit(io.path, text) < 0)
		goto out;
	printf("wrote %s\n", io.path);
	rc = 0;
	if (!systemd_running()) {
		no_systemd_note("`systemctl daemon-reload` and "
				"`systemctl enable rmail`");
	} else if (systemctl("daemon-reload", NULL, NULL) < 0 ||
		   systemctl("enable", UNIT_NAME, NULL) < 0) {
		rc = 1;
	}
	review_note(stdout, io.path);
out:
	free(text);
	rm_pool_destroy(&pool);
	return rc;
}

const struct rm_command rm_cmd_install = {
	.name = "install",
	.usage = "write, reload and enable the systemd unit (--dry-run, "
		 "--uninstall)",
	.run = install_run,
};
