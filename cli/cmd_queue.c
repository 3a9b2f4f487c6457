/*
 * rmail queue list|show ID|retry [ID]|drop ID: works on the queue files
 * directly (with the entry lock, so never against a delivery in
 * progress), then asks a running daemon for a pass ("queue kick").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "submit/submit_int.h"

static const char *state_name(int s)
{
	return s == RM_Q_SENT	  ? "sent"
	       : s == RM_Q_FAILED ? "failed"
				  : "pending";
}

static int q_list(void)
{
	char(*ids)[RM_QID_MAX];
	size_t n = rm_queue_list(&ids), i, j;
	time_t now = time(NULL);

	for (i = 0; i < n; i++) {
		struct rm_qentry e;
		size_t pending = 0;

		if (rm_queue_load(ids[i], &e, NULL) < 0)
			continue;
		for (j = 0; j < e.n; j++)
			pending += e.r[j].state == RM_Q_PENDING;
		printf("%s  age %llds  from <%s>  %zu pending of %zu  "
		       "attempts %u%s%s\n",
		       e.id, (long long)(now - e.created), e.from, pending, e.n,
		       e.attempts, e.last_error ? "  last: " : "",
		       e.last_error ? e.last_error : "");
		rm_queue_entry_free(&e);
	}
	if (n == 0)
		printf("queue is empty\n");
	free(ids);
	return 0;
}

static int q_show(const char *id)
{
	struct rm_qentry e;
	struct rmail_err err;
	char path[4096], line[1024];
	FILE *f;

	rmail_err_clear(&err);
	if (rm_queue_load(id, &e, &err) < 0) {
		fprintf(stderr, "rmail: queue: %s: no such entry\n", id);
		return 1;
	}
	printf("id: %s\nfrom: <%s>\ncreated: %lld\nattempts: %u\n"
	       "next: %.0f\n",
	       e.id, e.from, (long long)e.created, e.attempts, e.next);
	for (size_t i = 0; i < e.n; i++)
		printf("rcpt: <%s> %s%s%s\n", e.r[i].addr,
		       state_name(e.r[i].state), e.r[i].error ? " " : "",
		       e.r[i].error ? e.r[i].error : "");
	rm_queue_entry_free(&e);
	printf("\n");
	/* the header block of the message */
	snprintf(line, sizeof(line), "%s.msg", id);
	if (rm_submit_path(path, sizeof(path), "queue", line) == 0 &&
	    (f = fopen(path, "r")) != NULL) {
		for (int k = 0; k < 200 && fgets(line, sizeof(line), f); k++) {
			if (line[0] == '\r' || line[0] == '\n')
				break;
			fputs(line, stdout);
		}
		fclose(f);
	}
	return 0;
}

/* runs fn on the locked entry */
static int with_lock(const char *id, int (*fn)(const char *id))
{
	int fd = -1, rc = rm_queue_lock(id, &fd);

	if (rc < 0) {
		fprintf(stderr, "rmail: queue: %s: no such entry\n", id);
		return 1;
	}
	if (rc > 0) {
		fprintf(stderr,
			"rmail: queue: %s: being delivered, try "
			"again\n",
			id);
		return 1;
	}
	rc = fn(id);
	rm_queue_unlock(&fd);
	return rc;
}

static int do_retry(const char *id)
{
	struct rm_qentry e;
	struct rmail_err err;
	int rc = 0;

	if (rm_queue_load(id, &e, &err) < 0)
		return 1;
	e.next = 0;
	if (rm_queue_save(&e, &err) < 0) {
		fprintf(stderr, "rmail: queue: %s\n", err.msg);
		rc = 1;
	}
	rm_queue_entry_free(&e);
	return rc;
}

static int do_drop(const char *id)
{
	if (rm_queue_remove(id) < 0) {
		fprintf(stderr, "rmail: queue: cannot remove %s\n", id);
		return 1;
	}
	return 0;
}

static void kick(const struct rm_config *conf)
{
	const char *argv[] = {"queue", "kick"};
	struct rmail_err err;
	char out[256];

	if (conf->control_socket == NULL ||
	    access(conf->control_socket, F_OK) < 0)
		return; /* no daemon: the next start runs the queue */
	rmail_err_clear(&err);
	if (rm_control_call(conf->control_socket, 2, argv, out, sizeof(out),
			    &err) < 0)
		fprintf(stderr, "rmail: queue kick: %s\n", err.msg);
}

static int queue_run(struct rm_cli *cli)
{
	struct rm_config *conf;
	const char *sub = cli->argc > 0 ? cli->argv[0] : "list";
	int rc = 2;

	conf = rm_cli_load_config(cli);
	if (conf == NULL)
		return 1;
	rm_conf_set(conf);
	if (strcmp(sub, "list") == 0 && cli->argc <= 1) {
		rc = q_list();
	} else if (strcmp(sub, "show") == 0 && cli->argc == 2) {
		rc = q_show(cli->argv[1]);
	} else if (strcmp(sub, "drop") == 0 && cli->argc == 2) {
		rc = with_lock(cli->argv[1], do_drop);
		if (rc == 0)
			printf("dropped %s\n", cli->argv[1]);
	} else if (strcmp(sub, "retry") == 0 && cli->argc <= 2) {
		char(*ids)[RM_QID_MAX];
		size_t n;

		rc = 0;
		if (cli->argc == 2) {
			rc = with_lock(cli->argv[1], do_retry);
		} else {
			n = rm_queue_list(&ids);
			for (size_t i = 0; i < n; i++)
				(void)with_lock(ids[i], do_retry);
			free(ids);
		}
		if (rc == 0) {
			kick(conf);
			printf("retry scheduled\n");
		}
	} else {
		fprintf(stderr, "usage: rmail queue list|show ID|retry [ID]|"
				"drop ID\n");
	}
	rm_conf_set(NULL);
	rm_config_free(&conf);
	return rc;
}

const struct rm_command rm_cmd_queue = {
	.name = "queue",
	.usage = "queue list|show ID|retry [ID]|drop ID",
	.run = queue_run,
};
