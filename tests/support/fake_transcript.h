/*
 * Transcript runs over the fake connection: the same client steps fed
 * whole, byte by byte (without waiting between bytes), and split in
 * two at every offset of every step (waiting between the halves); the
 * session's output must be identical in every run.
 */
#ifndef FAKE_TRANSCRIPT_H
#define FAKE_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "fake_conn.h"

struct fake_step {
	const char *data; /* sent by the client, then the loop settles */
	bool tls;	  /* sent inside TLS (after STARTTLS) */
};

/* A fresh session for each run.  done (may be NULL) is called with the
 * conn after the last step, then with NULL once the conn is freed (a
 * teardown: close the run's store). */
struct fake_session_def {
	struct rmail_conn *(*open)(void *arg);
	void (*done)(void *arg, struct rmail_conn *c);
	/* may be NULL: blank out what differs by design between runs
	 * (UIDVALIDITY of a fresh store), in place */
	void (*normalize)(GString *out);
	void *arg;
};

/* Returns the output of the whole run (g_free it) after asserting that
 * every other run produced the same bytes. */
char *fake_transcript_run(const struct fake_session_def *def,
			  const struct fake_step *steps, size_t nsteps);

#endif
