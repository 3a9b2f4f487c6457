/*
 * mod_spamlearn: users' verdicts (a message moved into or out of \Junk,
 * the 1.4 event) taught to rspamd through its controller's
 * /learnspam and /learnham.  The event handler only writes the message
 * into a directory queue; one thread of the module's own posts them in
 * order with libcurl, retrying with back-off, so neither the user's
 * move nor the core's workers ever wait on rspamd.
 */
#ifndef SL_H
#define SL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/rmail.h>

struct sl_conf {
	const char *url;	   /* controller base, "http://host:11334" */
	const char *password_file; /* NULL: no Password: header */
	const char *queue_dir;	   /* NULL: {mail_root}/spamlearn */
	double timeout;		   /* one POST */
	double retry_initial, retry_max;
	double max_age; /* a learn older than this is dropped */
	uint64_t max_size;
};

struct sl {
	struct rmail_mctx *m;
	/* m->conf as start() saw it: the thread never reads m->conf, which
	 * a reload swaps (the keys need a restart anyway) */
	struct sl_conf conf;
	char *dir;	/* the queue, with new/ and tmp/ */
	char *password; /* NULL: none */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kicked;
	unsigned seq;
};

/* ---- sl_queue.c ---------------------------------------------------- */
/* mkdir -p dir/new and dir/tmp */
int sl_queue_init(const char *dir, struct rmail_err *err);
/* [worker] the message in fd (size bytes) as one entry "spam" or "ham"
 * of user; 0, or -1 with err */
int sl_queue_put(struct sl *sl, const char *kind, const char *user, int fd,
		 uint64_t size, struct rmail_err *err);
/* the entries of dir/new, oldest first (names sort by time); free with
 * sl_names_free */
char **sl_queue_list(const char *dir, size_t *n_r);
void sl_names_free(char **v, size_t n);
/* read one entry: kind ("spam"/"ham"), the message, the queue time */
int sl_queue_read(const char *dir, const char *name, char *kind, size_t ksz,
		  char **msg_r, size_t *len_r, double *queued_r);
void sl_queue_done(const char *dir, const char *name);

/* ---- sl_http.c ----------------------------------------------------- */
enum sl_post_result {
	SL_POST_OK = 0,	       /* learned, or rspamd knew it already */
	SL_POST_RETRY = 1,     /* down, slow, 5xx, refused credentials */
	SL_POST_PERMANENT = 2, /* rspamd will never take this one */
};
/* POST msg to {url}/learn{kind}; *status_r the HTTP status (0: none),
 * why: a line for the log */
int sl_post(const struct sl_conf *c, const char *password, const char *kind,
	    const char *msg, size_t len, const volatile bool *stop,
	    long *status_r, char *why, size_t whysz);

/* ---- sl_thread.c ---------------------------------------------------- */
int sl_thread_start(struct sl *sl, struct rmail_err *err);
void sl_thread_kick(struct sl *sl);
void sl_thread_stop(struct sl *sl);

#endif
