/*
 * Phase 5: the messages of phase 4 (or one sent now) reach INBOX within
 * five seconds, the .invalid bounce too, and an IDLE session hears of a
 * new message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag_int.h"

#define OUT (256 * 1024)
#define WAIT 5.0

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t count_found(struct diag *d, const char *out)
{
	size_t i, n = 0;

	for (i = 0; i < d->nsent; i++)
		if (strstr(out, d->sent[i]) != NULL)
			n++;
	return n;
}

/* poll INBOX until want() holds or WAIT seconds pass; elapsed or -1 */
static double poll_inbox(struct dg_conn *c, char *out, const char *what,
			 struct diag *d, bool bounce)
{
	double t0 = mono();
	char needle[96];

	snprintf(needle, sizeof(needle), "%s external", d->tag);
	do {
		if (dg_imap(c, out, OUT, "NOOP") < 0 ||
		    dg_imap(c, out, OUT, "%s", what) < 0)
			return -1;
		if (bounce ? strstr(out, needle) != NULL
			   : count_found(d, out) == d->nsent)
			return mono() - t0;
		usleep(100000);
	} while (mono() - t0 < WAIT);
	return -1;
}

static void check_idle(struct diag *d, char *out)
{
	struct dg_conn *c = dg_imap_login(d, d->user);
	char line[1024], subj[96];
	double t0, took = -1;

	if (c == NULL)
		return;
	if (dg_imap(c, out, OUT, "SELECT INBOX") != 0 ||
	    dg_printf(c, "I1 IDLE") < 0 ||
	    dg_readline(c, line, sizeof(line), DG_TIMEOUT) < 0 ||
	    line[0] != '+') {
		dg_check(d, DG_FAIL, "delivery.idle", "IDLE refused: %.120s",
			 out);
		dg_close(&c);
		return;
	}
	dg_subject(d, "idle", subj, sizeof(subj));
	t0 = mono();
	if (dg_smtp_send25(d, subj) < 0) {
		dg_check(d, DG_FAIL, "delivery.idle",
			 "cannot send the test "
			 "message on port 25");
		dg_close(&c);
		return;
	}
	while (mono() - t0 < WAIT &&
	       dg_readline(c, line, sizeof(line), WAIT) == 0)
		if (strstr(line, " EXISTS") != NULL) {
			took = mono() - t0;
			break;
		}
	dg_printf(c, "DONE");
	dg_check(d, took >= 0 ? DG_PASS : DG_FAIL, "delivery.idle",
		 took >= 0 ? "IDLE announced the new message after %.1f s"
			   : "IDLE said nothing within %.0f s",
		 took >= 0 ? took : WAIT);
	dg_close(&c);
}

void dg_phase_delivery(struct diag *d)
{
	struct dg_conn *c;
	char *out;
	double t;

	if (dg_ensure_users(d) < 0)
		return;
	if (!d->mod_imap) {
		dg_check(d, DG_WARN, "delivery.inbox",
			 "mod_imap is disabled: "
			 "INBOX not checked over IMAP");
		return;
	}
	if (d->nsent == 0) {
		dg_subject(d, "delivery", d->sent[0], sizeof(d->sent[0]));
		if (dg_smtp_send25(d, d->sent[0]) == 0)
			d->nsent = 1;
	}
	c = dg_imap_login(d, d->user);
	if (c == NULL)
		return;
	out = rm_xmalloc(OUT);
	if (dg_imap(c, out, OUT, "SELECT INBOX") != 0) {
		dg_check(d, DG_FAIL, "delivery.inbox", "SELECT INBOX: %.120s",
			 out);
		goto done;
	}
	t = poll_inbox(c, out,
		       "FETCH 1:* (BODY.PEEK[HEADER.FIELDS "
		       "(SUBJECT)])",
		       d, false);
	dg_check(d, t >= 0 && d->nsent > 0 ? DG_PASS : DG_FAIL,
		 "delivery.inbox",
		 t >= 0 ? "%zu message(s) from phase 4 in "
			  "INBOX after %.1f s"
			: "only %zu of the messages in INBOX "
			  "after %.0f s",
		 t >= 0 ? d->nsent : count_found(d, out), t >= 0 ? t : WAIT);
	if (d->bounce_expected) {
		t = poll_inbox(c, out, "FETCH 1:* (BODY.PEEK[])", d, true);
		dg_check(d, t >= 0 ? DG_PASS : DG_FAIL, "delivery.bounce",
			 t >= 0 ? "the .invalid recipient bounced to the "
				  "sender after %.1f s"
				: "no bounce for the .invalid "
				  "recipient within %.0f s",
			 t >= 0 ? t : WAIT);
	}
	check_idle(d, out);
done:
	dg_imap(c, out, OUT, "LOGOUT");
	dg_close(&c);
	free(out);
}
