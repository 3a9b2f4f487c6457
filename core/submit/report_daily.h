/*
 * What the DMARC and TLS-RPT aggregate report senders share: the run
 * of one day, once per mail root, and the daily job that starts it.
 */
#ifndef RM_REPORT_DAILY_H
#define RM_REPORT_DAILY_H

#include <stdbool.h>

#include "rm.h"

struct rm_report_day {
	const char *name; /* "dmarc": {mail_root}/dmarc, log prefix */
	/* builds and sends the day's reports from dir; -1 with errno (ENOENT:
	 * nothing to send) */
	int (*build)(const char *dir, const char *day, void *arg);
	/* after a day done: drop what is too old to send */
	void (*prune)(const char *dir);
	void *arg;
};

/* [worker] the day (NULL: yesterday), unless another process of this
 * mail root holds {mail_root}/NAME/send.lease or the lease says the day
 * (or a later one) was sent already; dry sends nothing and records
 * nothing.  0 when it ran or had nothing to do, -1 on an error (or
 * without c or its mail root). */
int rm_report_day_run(const struct rm_report_day *rd, const struct rm_config *c,
		      const char *day, bool dry, FILE *out);

struct rm_report_job {
	const char *cmd; /* the control command, "dmarc send" */
	/* day NULL: yesterday */
	int (*send)(const char *day, bool dry, FILE *out);
	bool (*enabled)(const struct rm_config *c);
	double first, every; /* seconds */
	/* state */
	struct rmail_timer *tick;
	bool busy;
};

/* registers "CMD [DAY]" and the timer, once */
void rm_report_job_start(struct rm_report_job *j);

#endif
