/*
 * The two halves of `rmail import imap`: import_imap.c lists the
 * folders and runs each one, import_imap_msgs.c reads the source's
 * messages, copies the new ones and runs the cut-over pass.  State
 * shared by both.
 */
#ifndef RM_IMPORT_IMAP_H
#define RM_IMPORT_IMAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rmail/store.h>

#include "imap_conn.h"
#include "imap_state.h"

#define CMD "import imap"
#define USAGE                                                                  \
	"imap --host H [--port P] [--tls|--starttls] [--ca FILE] "             \
	"[--insecure] --user U --password-file F [--folder NAME]... "          \
	"[--delete] [--dry-run] [--max-message-size MB] ADDRESS"
#define BATCH_MSGS 100
#define SYNC_EVERY 1000 /* appends per mbox_sync, as rmail import maildir */
#define BATCH_BYTES (32u * 1024 * 1024)
#define MSGID_MAX 200
#define FOLDERS_MAX 100000

struct smsg {
	uint32_t uid;
	uint32_t flags;
	char *kws; /* keywords, space separated, or NULL */
	uint64_t size;
	char msgid[MSGID_MAX + 1];
	uint32_t dst; /* our UID once mapped */
};

struct folder {
	char *wire; /* the name on the wire, modified UTF-7 */
	char *mbox; /* ours, UTF-8 with '/' */
};

struct ii {
	const struct rmail_store_ops *ops;
	void *h;
	struct rm_imc c;
	char user[RMAIL_ADDR_MAX + 1];
	char *state_dir;
	const char *host;
	bool dry, del, tty;
	uint64_t max_size;
	/* the folder being imported */
	struct smsg *msgs;
	size_t nmsgs, capmsgs;
	uint32_t uidvalidity, exists;
	/* while fetching */
	struct rmail_mbox *view;
	struct rm_iss *st;
	const char *mbox;
	bool keep;
	uint32_t uidnext;
	size_t pending;
	/* counters */
	size_t copied, present, updated, deleted, gone, failed, skipped;
	size_t folder_no, nfolders;
	time_t last_progress;
	struct folder *folders;
	size_t nf, capf;
	char **subs;
	size_t nsubs;
};

extern volatile sig_atomic_t rm_ii_stop;

/* an error line on stderr, under the progress line */
void rm_ii_report(struct ii *im, const char *fmt, ...) RMAIL_PRINTF(2, 3);
void rm_ii_progress(struct ii *im, size_t done, size_t total, bool force);
bool rm_ii_is_word(const struct rm_imr_resp *r, const char *w);

/* import_imap_msgs.c: EXAMINE's UIDVALIDITY and EXISTS; the metadata
 * FETCH of every message into im->msgs */
int rm_ii_select_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r);
int rm_ii_meta_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r);
int rm_ii_cmp_smsg(const void *a, const void *b);
/* im->msgs sorted by UID */
struct smsg *rm_ii_smsg_find(struct ii *im, uint32_t uid);
void rm_ii_msgs_clear(struct ii *im);
/* copy the UIDs todo[0..n) into im->mbox; what was copied is recorded
 * even when it fails half-way; -1 when the run cannot go on */
int rm_ii_copy_new(struct ii *im, const uint32_t *todo, size_t n);
/* the cut-over pass: flags of copied messages set as the source's */
void rm_ii_update_flags(struct ii *im);
/* state entries whose source message is gone: expunged here with
 * --delete; true when the state changed */
bool rm_ii_prune(struct ii *im);

#endif
