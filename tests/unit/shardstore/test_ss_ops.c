/* Every store operation against a real store in a temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_test.h"

struct list_acc {
	GString *s;
};

static void list_cb(void *arg, const struct rmail_mbox_entry *e)
{
	struct list_acc *a = arg;

	g_string_append_printf(a->s, "%s:%u:%u;", e->name, e->attrs,
			       e->special_use);
}

static char *list_str(struct ss_store *st)
{
	struct list_acc a = {g_string_new(NULL)};
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_list(st, SS_USER, list_cb, &a, &err), ==, 0);
	return g_string_free(a.s, FALSE);
}

static void test_defaults_and_list(struct ss_fx *fx, gconstpointer d)
{
	char *s = list_str(&fx->st);
	struct rmail_err err = {0};

	(void)d;
	g_assert_nonnull(strstr(s, "INBOX:4:0;"));
	g_assert_nonnull(strstr(s, "Sent:4:1;"));
	g_assert_nonnull(strstr(s, "Drafts:4:2;"));
	g_assert_nonnull(strstr(s, "Trash:4:3;"));
	g_assert_nonnull(strstr(s, "Junk:4:4;"));
	g_assert_nonnull(strstr(s, "Archive:4:5;"));
	g_free(s);

	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Work/Projekte 2024/Ü",
				       0, &err),
			==, 0);
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Work/Projekte 2024/Ü",
				       0, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	s = list_str(&fx->st);
	/* implicit parents: \Noselect + \HasChildren */
	g_assert_nonnull(strstr(s, "Work:3:0;"));
	g_assert_nonnull(strstr(s, "Work/Projekte 2024:3:0;"));
	g_assert_nonnull(strstr(s, "Work/Projekte 2024/Ü:0:0;"));
	g_free(s);

	/* names that try to escape stay one directory below mail/ */
	g_assert_cmpint(
		ss_mbox_create(&fx->st, SS_USER, "../../escape", 0, &err), ==,
		0);
	{
		char *p = g_build_filename(
			fx->dir, "domains", "example.com", "users", "alice",
			"mail", "%2E.%2F..%2Fescape", "counter", NULL);

		g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
		g_free(p);
	}
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "a//b", 0, &err), ==,
			-1);
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "a\nb", 0, &err), ==,
			-1);

	/* rename with children, subscribe, delete */
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Work", 0, &err), ==,
			0);
	g_assert_cmpint(ss_mbox_rename(&fx->st, SS_USER, "Work", "Jobs", &err),
			==, 0);
	g_assert_cmpint(ss_mbox_subscribe(&fx->st, SS_USER, "Jobs", 1, &err),
			==, 0);
	s = list_str(&fx->st);
	g_assert_null(strstr(s, "Work"));
	g_assert_nonnull(strstr(s, "Jobs:6:0;"));
	g_assert_nonnull(strstr(s, "Jobs/Projekte 2024/Ü:0:0;"));
	g_free(s);
	g_assert_cmpint(ss_mbox_delete(&fx->st, SS_USER, "Jobs", &err), ==, 0);
	s = list_str(&fx->st);
	/* subscribed but gone, with children still there: \Noselect */
	g_assert_nonnull(strstr(s, "Jobs:7:0;"));
	g_free(s);
	g_assert_cmpint(ss_mbox_delete(&fx->st, SS_USER, "INBOX", &err), ==,
			-1);
	g_assert_cmpint(ss_mbox_delete(&fx->st, SS_USER, "Nope", &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
}

static char *read_all(struct rmail_mbox *mb, uint32_t uid)
{
	char buf[4096];
	size_t got = 0;
	struct rmail_err err = {0};

	g_assert_cmpint(
		ss_msg_read(mb, uid, 0, buf, sizeof(buf) - 1, &got, &err), ==,
		0);
	buf[got] = '\0';
	return g_strdup(buf);
}

static void test_append_read(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	struct rmail_mbox_status st = {.size = sizeof(st)};
	const struct rmail_msg *m;
	uint32_t u1, u2;
	char *s, buf[8];
	size_t got;

	(void)d;
	u1 = ss_t_append(&fx->st, "INBOX", "Subject: a\nX: y\r\n\nbody\n", 0);
	u2 = ss_t_append(&fx->st, "inbox", "Subject: b\r\n\r\nb\r\n",
			 RMAIL_F_SEEN);
	g_assert_cmpuint(u2, ==, u1 + 1);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 2);
	m = ss_mbox_msg(mb, 0);
	g_assert_cmpuint(m->uid, ==, u1);
	g_assert_cmpuint(m->size, ==,
			 strlen("Subject: a\r\nX: y\r\n\r\nbody\r\n"));
	g_assert_cmpuint(m->flags, ==, 0);
	g_assert_cmpuint(ss_mbox_msg(mb, 1)->flags, ==, RMAIL_F_SEEN);
	s = read_all(mb, u1);
	g_assert_cmpstr(s, ==, "Subject: a\r\nX: y\r\n\r\nbody\r\n");
	g_free(s);
	/* byte ranges */
	g_assert_cmpint(ss_msg_read(mb, u1, 9, buf, 3, &got, &err), ==, 0);
	g_assert_cmpuint(got, ==, 3);
	g_assert_true(memcmp(buf, "a\r\n", 3) == 0);
	g_assert_cmpint(ss_msg_read(mb, u1, m->size - 2, buf, 8, &got, &err),
			==, 0);
	g_assert_cmpuint(got, ==, 2);
	g_assert_cmpint(ss_mbox_find(mb, u2), ==, 1);
	g_assert_cmpint(ss_mbox_find(mb, 999), ==, -1);
	ss_mbox_info(mb, &st);
	g_assert_cmpuint(st.messages, ==, 2);
	g_assert_cmpuint(st.unseen, ==, 1);
	g_assert_cmpuint(st.uidnext, ==, u2 + 1);
	g_assert_cmpuint(st.uidvalidity, >, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(ss_mbox_status(&fx->st, SS_USER, "Sent", &st, &err), ==,
			0);
	g_assert_cmpuint(st.messages, ==, 0);
	g_assert_cmpuint(st.special_use, ==, RMAIL_SU_SENT);
	/* no temporaries left behind */
	{
		char *p = g_build_filename(fx->dir, "domains", "example.com",
					   "users", "alice", "mail", "INBOX",
					   "tmp", NULL);
		GDir *dir = g_dir_open(p, 0, NULL);

		g_assert_null(g_dir_read_name(dir));
		g_dir_close(dir);
		g_free(p);
	}
	/* abort: free without commit removes the temporary */
	{
		struct rmail_append *ap;

		g_assert_cmpint(ss_append_begin(&fx->st, SS_USER, "INBOX", NULL,
						&ap, &err),
				==, 0);
		g_assert_cmpint(ss_append_write(ap, "x", 1, &err), ==, 0);
		ss_append_free(&ap);
		g_assert_null(ap);
	}
	g_assert_cmpint(
		ss_append_begin(&fx->st, SS_USER, "Nope", NULL, NULL, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
}

static void test_flags(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	struct rmail_msg nm;
	const char *const kw[] = {"$Forwarded", "Work"};
	const char *const *names;
	struct ss_store other;
	uint32_t uid;

	(void)d;
	uid = ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD,
				     RMAIL_F_SEEN | RMAIL_F_FLAGGED, kw, 2, &nm,
				     &err),
			==, 0);
	g_assert_cmpuint(nm.flags, ==, RMAIL_F_SEEN | RMAIL_F_FLAGGED);
	g_assert_cmpuint(nm.keywords, ==, 3);
	g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_REMOVE,
				     RMAIL_F_FLAGGED, kw + 1, 1, &nm, &err),
			==, 0);
	g_assert_cmpuint(nm.flags, ==, RMAIL_F_SEEN);
	g_assert_cmpuint(nm.keywords, ==, 1);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_keywords(mb, &names), ==, 2);
	g_assert_cmpstr(names[1], ==, "Work");
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->keywords, ==, 1);
	g_assert_cmpint(ss_msg_flags(mb, 777, RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
				     NULL, 0, NULL, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	ss_mbox_close(&mb);

	/* a cold second instance sees the same state from names alone */
	ss_fx_open(fx->dir, &other);
	g_assert_cmpint(ss_mbox_open(&other, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->flags, ==, RMAIL_F_SEEN);
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->keywords, ==, 1);
	/* SET through a stale view of the other instance: CAS retry */
	{
		struct rmail_mbox *mine;

		g_assert_cmpint(
			ss_mbox_open(&fx->st, SS_USER, "INBOX", &mine, &err),
			==, 0);
		g_assert_cmpint(ss_msg_flags(mine, uid, RMAIL_FLAGS_ADD,
					     RMAIL_F_ANSWERED, NULL, 0, NULL,
					     &err),
				==, 0);
		ss_mbox_close(&mine);
	}
	g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD, RMAIL_F_DRAFT,
				     NULL, 0, &nm, &err),
			==, 0);
	g_assert_cmpuint(nm.flags, ==,
			 RMAIL_F_SEEN | RMAIL_F_ANSWERED | RMAIL_F_DRAFT);
	ss_mbox_close(&mb);
	ss_store_close(&other);
}

/* the modseq of the first change seen */
struct nth_change {
	unsigned n;
	uint64_t modseq;
};

static void first_change(void *arg, const struct rmail_change *c)
{
	struct nth_change *nc = arg;

	if (++nc->n == 1)
		nc->modseq = c->modseq;
}

static void test_copy_move_expunge(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb, *dst;
	struct rmail_err err = {0};
	const char *const kw[] = {"Red"};
	uint32_t uids[3], out[3], uv = 0;
	uint64_t used0 = 0, used1 = 0, lim = 0;
	struct rmail_msg nm;
	const char *const *names;
	char *s;
	int i;

	(void)d;
	g_assert_cmpint(ss_quota_get(&fx->st, SS_USER, &used0, &lim, &err), ==,
			0);
	for (i = 0; i < 3; i++)
		uids[i] = ss_t_append(&fx->st, "INBOX", "m\r\n", 0);
	g_assert_cmpint(ss_quota_get(&fx->st, SS_USER, &used1, &lim, &err), ==,
			0);
	g_assert_cmpuint(used1, ==, used0 + 9);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_flags(mb, uids[0], RMAIL_FLAGS_ADD,
				     RMAIL_F_FLAGGED, kw, 1, &nm, &err),
			==, 0);
	g_assert_cmpint(ss_msg_copy(mb, uids, 2, "Archive", out, &uv, &err), ==,
			0);
	g_assert_cmpuint(out[0], ==, 1);
	g_assert_cmpuint(out[1], ==, 2);
	g_assert_cmpuint(uv, >, 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Archive", &dst, &err),
			==, 0);
	g_assert_cmpuint(ss_mbox_count(dst), ==, 2);
	g_assert_cmpuint(ss_mbox_msg(dst, 0)->flags, ==, RMAIL_F_FLAGGED);
	g_assert_cmpuint(ss_mbox_keywords(dst, &names), ==, 1);
	g_assert_cmpstr(names[0], ==, "Red");
	s = read_all(dst, 1);
	g_assert_cmpstr(s, ==, "m\r\n");
	g_free(s);
	/* move the third into Trash */
	g_assert_cmpint(ss_msg_move(mb, uids + 2, 1, "Trash", out, &uv, &err),
			==, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 2);
	g_assert_cmpint(ss_msg_expunge(mb, uids, 2, &err), ==, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 0);
	g_assert_cmpint(ss_quota_get(&fx->st, SS_USER, &used1, &lim, &err), ==,
			0);
	/* 2 copies + 1 moved remain */
	g_assert_cmpuint(used1, ==, used0 + 9);
	ss_mbox_close(&dst);
	/* change log: appends, flags, expunges with rising modseqs */
	{
		GString *log = g_string_new(NULL);
		uint64_t last = 0;

		void cb(void *arg, const struct rmail_change *c);
		struct acc {
			GString *s;
			uint64_t *last;
		} a = {log, &last};

		/* every message is gone: what is left is each UID's
		 * tombstone (the move's source, then the expunges) */
		g_assert_cmpint(ss_mbox_changes(mb, 0, cb, &a, &err), ==, 0);
		g_assert_cmpstr(log->str, ==, "3:3 3:1 3:2 ");
		g_string_truncate(log, 0);
		struct nth_change nc = {0, 0};

		g_assert_cmpint(ss_mbox_changes(mb, 0, first_change, &nc, &err),
				==, 0);
		g_assert_cmpuint(nc.modseq, >, 0);
		last = 0;
		g_assert_cmpint(ss_mbox_changes(mb, nc.modseq, cb, &a, &err),
				==, 0);
		g_assert_cmpstr(log->str, ==, "3:1 3:2 ");
		g_string_free(log, TRUE);
	}
	ss_mbox_close(&mb);
}

void cb(void *arg, const struct rmail_change *c)
{
	struct {
		GString *s;
		uint64_t *last;
	} *a = arg;

	g_assert_cmpuint(c->modseq, >, *a->last);
	*a->last = c->modseq;
	g_string_append_printf(a->s, "%u:%u ", c->type, c->uid);
}

static void test_inbox_rename_and_dups(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	struct rmail_mbox_status st = {.size = sizeof(st)};
	uint32_t uid;
	char *shard, *a, *b;

	(void)d;
	uid = ss_t_append(&fx->st, "INBOX", "x\r\n", 0);
	ss_t_append(&fx->st, "INBOX", "y\r\n", 0);
	/* a backup taken mid-rename: the same UID under two names */
	shard = g_build_filename(fx->dir, "domains", "example.com", "users",
				 "alice", "mail", "INBOX", "s0", NULL);
	{
		GDir *dir = g_dir_open(shard, 0, NULL);
		const char *n;

		a = NULL;
		while ((n = g_dir_read_name(dir)) != NULL)
			if (g_str_has_prefix(n, "1,"))
				a = g_build_filename(shard, n, NULL);
		g_dir_close(dir);
	}
	g_assert_nonnull(a);
	b = g_strdup_printf("%s/%u,3,1,1,S.eml", shard, uid);
	g_assert_cmpint(link(a, b), ==, 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 2);
	ss_mbox_close(&mb);
	g_free(a);
	g_free(b);
	g_free(shard);
	/* INBOX rename moves its messages, INBOX stays */
	g_assert_cmpint(ss_mbox_rename(&fx->st, SS_USER, "INBOX", "Old", &err),
			==, 0);
	g_assert_cmpint(ss_mbox_status(&fx->st, SS_USER, "Old", &st, &err), ==,
			0);
	g_assert_cmpuint(st.messages, ==, 2);
	g_assert_cmpint(ss_mbox_status(&fx->st, SS_USER, "INBOX", &st, &err),
			==, 0);
	g_assert_cmpuint(st.messages, ==, 0);
	g_assert_cmpuint(st.uidnext, ==, 3);
}

static void test_stale_counter(struct ss_fx *fx, gconstpointer d)
{
	char *p;
	uint32_t uid;

	(void)d;
	ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	ss_t_append(&fx->st, "INBOX", "b\r\n", 0);
	/* a counter restored from an older backup */
	p = g_build_filename(fx->dir, "domains", "example.com", "users",
			     "alice", "mail", "INBOX", "counter", NULL);
	g_assert_true(g_file_set_contents(p, "1 123 1 -\n", -1, NULL));
	g_free(p);
	ss_store_close(&fx->st);
	ss_fx_open(fx->dir, &fx->st);
	uid = ss_t_append(&fx->st, "INBOX", "c\r\n", 0);
	g_assert_cmpuint(uid, ==, 3);
}

static void test_big_uids(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	char *p;
	uint32_t uid;

	(void)d;
	/* UIDs past 10M land in shard 610 and later */
	p = g_build_filename(fx->dir, "domains", "example.com", "users",
			     "alice", "mail", "INBOX", "counter", NULL);
	g_assert_true(g_file_set_contents(p, "1 123 10000000 -\n", -1, NULL));
	g_free(p);
	uid = ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	g_assert_cmpuint(uid, ==, 10000000);
	ss_t_append(&fx->st, "INBOX", "b\r\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 2);
	g_assert_cmpint(ss_mbox_find(mb, 10000001), ==, 1);
	ss_mbox_close(&mb);
}

/* Disk full on a 1 MiB tmpfs (needs root; skipped otherwise). */
static void test_enospc(void)
{
	char *dir = g_dir_make_tmp("ss-enospc-XXXXXX", NULL);
	struct ss_store st;
	struct rmail_err err = {0};
	struct rmail_append *ap = NULL;
	char *chunk;
	int rc = 0, i;

	if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0) {
		g_test_skip("cannot mount a tmpfs");
		rmdir(dir);
		g_free(dir);
		return;
	}
	ss_fx_open(dir, &st);
	g_assert_cmpint(ss_user_add(&st, SS_USER, "pw", 0, 100, &err), ==, 0);
	chunk = g_malloc(65536);
	memset(chunk, 'x', 65536);
	g_assert_cmpint(ss_append_begin(&st, SS_USER, "INBOX", NULL, &ap, &err),
			==, 0);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = ss_append_write(ap, chunk, 65536, &err);
	if (rc == 0)
		rc = ss_append_commit(ap, NULL, NULL, &err);
	g_assert_cmpint(rc, ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_IO);
	ss_append_free(&ap);
	{
		char *p =
			g_build_filename(dir, "domains", "example.com", "users",
					 "alice", "mail", "INBOX", "tmp", NULL);
		GDir *d = g_dir_open(p, 0, NULL);

		g_assert_null(g_dir_read_name(d));
		g_dir_close(d);
		g_free(p);
	}
	/* a small message still fits afterwards */
	ss_t_append(&st, "INBOX", "small\r\n", 0);
	g_free(chunk);
	ss_store_close(&st);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	g_free(dir);
}

extern const struct rmail_module rmail_module_shardstore;

/* The descriptor: init opens the store from conf_str("mail_root"), the
 * ops table reaches both halves through m->data. */
static void test_module(void)
{
	static const struct ss_conf conf = {1.0, 1};
	const struct rmail_module *mod = &rmail_module_shardstore;
	const struct rmail_store_ops *ops = mod->ops;
	char *dir = g_dir_make_tmp("ss-mod-XXXXXX", NULL), *fmt = NULL;
	struct rmail_mctx *m = fake_core_mctx("shardstore", &conf);
	struct rmail_err err = {0};
	struct rmail_mbox_status st = {.size = sizeof(st)};

	g_assert_cmpuint(mod->kind, ==, RMAIL_KIND_STORAGE);
	g_assert_cmpstr(mod->name, ==, "shardstore");
	g_assert_cmpstr(mod->section, ==, "shardstore");
	g_assert_cmpuint(ops->size, ==, sizeof(*ops));
	fake_core_set_conf("mail_root", dir);
	g_assert_cmpint(mod->init(m, &err), ==, 0);
	g_assert_nonnull(m->data);
	g_assert_cmpint(ops->user_add(m->data, SS_USER, "pw", 0, 10, &err), ==,
			0);
	g_assert_cmpint(ops->mbox_status(m->data, SS_USER, "INBOX", &st, &err),
			==, 0);
	g_assert_cmpuint(st.uidnext, ==, 1);
	{
		/* bulk path through the public ops: nosync + mbox_sync */
		struct rmail_append_opts o = {.size = sizeof(o), .nosync = 1};
		struct rmail_append *ap;
		uint32_t uid = 0;

		g_assert_cmpint(ops->append_begin(m->data, SS_USER, "INBOX", &o,
						  &ap, &err),
				==, 0);
		g_assert_cmpint(ops->append_write(ap, "x\n", 2, &err), ==, 0);
		g_assert_cmpint(ops->append_commit(ap, &uid, NULL, &err), ==,
				0);
		ops->append_free(&ap);
		g_assert_cmpuint(uid, ==, 1);
		g_assert_cmpint(ops->mbox_sync(m->data, SS_USER, "INBOX", &err),
				==, 0);
	}
	mod->fini(m);
	fmt = g_build_filename(dir, "FORMAT", NULL);
	g_assert_true(
		g_file_set_contents(fmt, "rmail-shardstore 9\n", -1, NULL));
	g_assert_cmpint(mod->init(m, &err), ==, -1);
	g_assert_nonnull(strstr(err.msg, "newer"));
	g_free(fmt);
	fake_core_mctx_free(m);
	ss_t_rmtree(dir);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
#define T(path, fn)                                                            \
	g_test_add("/shardstore/ops/" path, struct ss_fx, NULL, ss_fx_setup,   \
		   fn, ss_fx_teardown)
	T("mailboxes", test_defaults_and_list);
	T("append-read", test_append_read);
	T("flags", test_flags);
	T("copy-move-expunge-log", test_copy_move_expunge);
	T("inbox-rename-dups", test_inbox_rename_and_dups);
	T("stale-counter", test_stale_counter);
	T("big-uids", test_big_uids);
	g_test_add_func("/shardstore/ops/enospc", test_enospc);
	g_test_add_func("/shardstore/ops/module", test_module);
	return g_test_run();
}
