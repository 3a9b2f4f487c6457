/* rmail reload: ask the running daemon to re-read its config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cli.h"
#include "daemon.h"

/*
 * The daemon is reached through the control socket named by the config.
 * A config that no longer loads still names its socket (or falls back to
 * the default derived from its path), so the daemon can say why it
 * refuses the file.
 */
/* the default config.c derives from the config's real path, for a file
 * that no longer parses */
static char *default_socket(const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *real, dir[256], out[512];

	real = realpath(path, NULL);
	if (real == NULL)
		return NULL;
	if (EVP_Digest(real, strlen(real), md, &mdlen, EVP_sha256(), NULL) !=
		    1 ||
	    mdlen < 4) {
		free(real);
		return NULL;
	}
	free(real);
	if (geteuid() == 0)
		snprintf(dir, sizeof(dir), "/run/rmail");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s", xdg);
	else
		snprintf(dir, sizeof(dir), "/tmp/rmail-%u", (unsigned)getuid());
	snprintf(out, sizeof(out), "%s/rmail-%02x%02x%02x%02x.sock", dir, md[0],
		 md[1], md[2], md[3]);
	return rm_xstrdup(out);
}

static void quiet(void *arg, const char *problem)
{
	(void)arg;
	(void)problem;
}

static char *socket_of(const char *path)
{
	struct rm_config *conf = NULL;
	char *sock = NULL;

	if (rm_config_load(path, &conf, quiet, NULL) == 0) {
		if (conf->control_socket != NULL)
			sock = rm_xstrdup(conf->control_socket);
		rm_config_free(&conf);
		return sock;
	}
	{
		json_t *root = json_load_file(path, 0, NULL);
		const char *s;

		s = json_string_value(json_object_get(root, "control_socket"));
		if (s != NULL)
			sock = rm_xstrdup(s);
		json_decref(root);
	}
	return sock != NULL ? sock : default_socket(path);
}

static int reload_run(struct rm_cli *cli)
{
	struct rmail_err err;
	const char *path, *argv[] = {"reload"};
	char *sock, out[4096];
	bool exists = false;

	path = rm_config_locate(cli->config_path, &exists);
	if (path == NULL || !exists) {
		rm_log(RMAIL_LOG_ERR, "config file not found: %s",
		       path != NULL ? path : "(none)");
		return 1;
	}
	sock = socket_of(path);
	if (sock == NULL) {
		rm_log(RMAIL_LOG_ERR, "%s names no control socket", path);
		return 1;
	}
	rmail_err_clear(&err);
	if (rm_control_call(sock, 1, argv, out, sizeof(out), &err) < 0) {
		fprintf(stderr, "rmail: %s\n", err.msg);
		free(sock);
		return 1;
	}
	free(sock);
	fputs(out, stdout);
	return 0;
}

const struct rm_command rm_cmd_reload = {
	.name = "reload",
	.usage = "make the running daemon re-read its config",
	.run = reload_run,
};
