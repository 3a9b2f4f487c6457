/* Transcript runs: see fake_transcript.h. */
#include <string.h>

#include "fake_transcript.h"

enum { WHOLE = 0, BYTES, SPLIT };

static void feed(struct rmail_conn *c, const struct fake_step *st,
		 const char *p, size_t n)
{
	if (st->tls)
		fake_conn_feed_tls(c, p, n);
	else
		fake_conn_feed(c, p, n);
}

static char *run_once(const struct fake_session_def *def,
		      const struct fake_step *steps, size_t nsteps, int mode,
		      size_t split_step, size_t split_at)
{
	struct rmail_conn *c = def->open(def->arg);
	GString *out_s;
	size_t i, k, len;

	fake_conn_settle(5.0);
	for (i = 0; i < nsteps; i++) {
		const struct fake_step *st = &steps[i];

		len = strlen(st->data);
		if (mode == BYTES) {
			for (k = 0; k < len; k++)
				feed(c, st, st->data + k, 1);
		} else if (mode == SPLIT && i == split_step) {
			feed(c, st, st->data, split_at);
			fake_conn_settle(5.0);
			feed(c, st, st->data + split_at, len - split_at);
		} else {
			feed(c, st, st->data, len);
		}
		fake_conn_settle(5.0);
	}
	if (def->done != NULL)
		def->done(def->arg, c);
	out_s = g_string_new_len(fake_conn_output(c)->str,
				 (gssize)fake_conn_output(c)->len);
	fake_conn_free(&c);
	if (def->done != NULL)
		def->done(def->arg, NULL);
	if (def->normalize != NULL)
		def->normalize(out_s);
	return g_string_free(out_s, FALSE);
}

char *fake_transcript_run(const struct fake_session_def *def,
			  const struct fake_step *steps, size_t nsteps)
{
	char *whole = run_once(def, steps, nsteps, WHOLE, 0, 0);
	char *other;
	size_t i, k;

	other = run_once(def, steps, nsteps, BYTES, 0, 0);
	if (strcmp(whole, other) != 0)
		g_error("byte by byte:\n%s\n-- differs from whole:\n%s", other,
			whole);
	g_free(other);
	for (i = 0; i < nsteps; i++) {
		for (k = 1; k < strlen(steps[i].data); k++) {
			other = run_once(def, steps, nsteps, SPLIT, i, k);
			if (strcmp(whole, other) != 0)
				g_error("split at step %zu offset %zu:\n%s\n"
					"-- differs from whole:\n%s",
					i, k, other, whole);
			g_free(other);
		}
	}
	return whole;
}
