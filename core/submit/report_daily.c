/*
 * The once-per-mail-root, once-per-day report run and its daily job,
 * shared by dmarc_send.c and tlsrpt_send.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailauth/dmarc_report.h"
#include "submit/report_daily.h"

int rm_report_day_run(const struct rm_report_day *rd, const struct rm_config *c,
		      const char *day, bool dry, FILE *out)
{
	char dir[4096], path[4200], last[16] = "", yday[11];
	int lease, rc = 0;
	ssize_t n;

	if (c == NULL || c->mail_root == NULL)
		return -1;
	if (day == NULL) {
		dmarc_report_day((int64_t)time(NULL) - 86400, yday);
		day = yday;
	}
	snprintf(dir, sizeof(dir), "%s/%s", c->mail_root, rd->name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/send.lease", dir);
	lease = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lease < 0)
		return -1;
	if (flock(lease, LOCK_EX | LOCK_NB) < 0) {
		/* another process of this mail root is sending */
		close(lease);
		return 0;
	}
	n = pread(lease, last, sizeof(last) - 1, 0);
	last[n > 0 ? n : 0] = '\0';
	if (!dry && last[0] != '\0' && strncmp(last, day, 10) >= 0) {
		if (out != NULL)
			fprintf(out, "%s: already sent\n", day);
		goto done;
	}
	if (rd->build(dir, day, rd->arg) < 0 && errno != ENOENT) {
		rc = -1;
		goto done;
	}
	if (!dry) {
		/* the day is done even when some rua refused: retrying
		 * tomorrow would send the others twice */
		if (pwrite(lease, day, 10, 0) != 10 ||
		    ftruncate(lease, 10) < 0 || fsync(lease) < 0)
			rm_log(RMAIL_LOG_ERR, "%s: %s: %s", rd->name, path,
			       strerror(errno));
		rd->prune(dir);
	}
done:
	close(lease);
	return rc;
}

/* ---- the daily job ------------------------------------------------- */

struct job_arg {
	struct rm_report_job *j;
	char *day; /* NULL: yesterday */
};

static void job(void *arg, const volatile int *cancel)
{
	struct job_arg *a = arg;

	(void)cancel;
	(void)a->j->send(a->day, false, NULL);
}

static void job_done(void *arg, int cancelled)
{
	struct job_arg *a = arg;

	(void)cancelled;
	a->j->busy = false;
	free(a->day);
	free(a);
}

/* false when a run is going on already */
static bool run_now(struct rm_report_job *j, const char *day)
{
	struct job_arg *a;

	if (j->busy)
		return false;
	j->busy = true;
	a = rm_xmalloc(sizeof(*a));
	a->j = j;
	a->day = day != NULL ? rm_xstrdup(day) : NULL;
	/* blocking DNS, HTTPS and delivery: the outbound pool, never the
	 * loop */
	rm_work_submit(RM_WORK_DELIVER, job, job_done, a);
	return true;
}

static void tick_cb(void *arg)
{
	struct rm_report_job *j = arg;
	const struct rm_config *c = rm_conf();

	if (c != NULL && j->enabled(c))
		(void)run_now(j, NULL);
}

/* "CMD [DAY]" (rmail dmarc|tlsrpt report --send) */
static int ctl_send(void *arg, int argc, const char *const *argv, char *out,
		    size_t outsz)
{
	const char *day = argc > 2 ? argv[2] : NULL;

	if (day != NULL && (strlen(day) != 10 || day[4] != '-')) {
		snprintf(out, outsz, "expected YYYY-MM-DD");
		return -1;
	}
	snprintf(out, outsz, "%s",
		 run_now(arg, day) ? "report run scheduled"
				   : "a report run is going on already");
	return 0;
}

void rm_report_job_start(struct rm_report_job *j)
{
	if (rm_control_register(NULL, j->cmd, ctl_send, j) < 0)
		rm_log(RMAIL_LOG_DEBUG, "%s: already registered", j->cmd);
	if (j->tick == NULL)
		j->tick = rm_timer_add(j->first, j->every, tick_cb, j);
}
