/*
 * METADATA and METADATA-SERVER (RFC 5464): GETMETADATA and SETMETADATA
 * over the store's meta_get/meta_set (ABI 1.5).  Mailbox "" names the
 * server entries, which rmail keeps per user (no entry is shared
 * between users: /shared only says the entry is not a per-user one of
 * a shared mailbox, and no mailbox is shared).  Limits: imap.
 * metadata_max_value per value, metadata_max_entries and
 * metadata_max_total per mailbox (and for the server entries).
 */
#include <stdlib.h>
#include <string.h>

#include "imap_metadata.h"
#include "imap_session.h"

bool imap_metadata_supported(const struct imap_mod *mod)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);

	return RMAIL_HAS(ops, struct rmail_store_ops, meta_set) &&
	       ops->meta_get != NULL && ops->meta_set != NULL;
}

/* the store's name for the mailbox argument: NULL for the server ("")
 * in *name_r; false with a reply written */
static bool meta_mailbox(struct imap_session *s, const char *tag,
			 const struct imap_arg *a, const char **name_r)
{
	if (a->len == 0) {
		*name_r = NULL;
		return true;
	}
	*name_r = imap_mbox_arg(s, tag, a);
	return *name_r != NULL;
}

/* a value as nstring / literal8 (RFC 5464 section 5) */
static void write_value(struct imap_session *s, const char *v, size_t len)
{
	bool quoted = len <= 1000, nul = false;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == 0)
			nul = true;
		if (c < 0x20 || c >= 0x7f)
			quoted = false;
	}
	if (!quoted) {
		imap_printf(s, "%s{%zu}\r\n", nul ? "~" : "", len);
		imap_write(s, v, len);
		return;
	}
	imap_write(s, "\"", 1);
	for (i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			imap_write(s, "\\", 1);
		imap_write(s, v + i, 1);
	}
	imap_write(s, "\"", 1);
}

/* entry names as atoms where they can be (the RFC's examples), else
 * quoted: imap_meta_entry left no control octet in them */
static void write_entry(struct imap_session *s, const char *name)
{
	if (strpbrk(name, " (){\"\\]") == NULL)
		imap_write(s, name, strlen(name));
	else
		imap_write_astring(s, name);
}

struct get_ctx {
	struct imap_session *s;
	const struct imap_meta_get *g;
	const struct imap_arg *mbox;
	bool *found;	  /* per requested entry: stored as named */
	uint64_t longest; /* largest value left out by MAXSIZE */
	size_t n;	  /* entries written */
};

static void open_response(struct get_ctx *c)
{
	if (c->n++ == 0) {
		imap_write(c->s, "* METADATA ", 11);
		imap_write_astring(c->s, c->mbox->str);
		imap_write(c->s, " (", 2);
	} else {
		imap_write(c->s, " ", 1);
	}
}

static void get_one(void *arg, const char *name, const void *value, size_t len)
{
	struct get_ctx *c = arg;
	bool want = false;
	size_t i;

	for (i = 0; i < c->g->nentries; i++) {
		if (!imap_meta_match(c->g->entries[i], name, c->g->depth))
			continue;
		want = true;
		if (strcmp(c->g->entries[i], name) == 0)
			c->found[i] = true;
	}
	if (!want)
		return;
	if (c->g->has_maxsize && len > c->g->maxsize) {
		if (len > c->longest)
			c->longest = len;
		return;
	}
	open_response(c);
	write_entry(c->s, name);
	imap_write(c->s, " ", 1);
	write_value(c->s, value, len);
}

void imap_cmd_getmetadata(struct imap_session *s, const struct imap_cmd *cmd,
			  bool uid)
{
	void *h;
	const struct rmail_store_ops *ops = imap_store(s->mod, &h);
	struct imap_meta_get g;
	struct rmail_err err;
	struct get_ctx c = {.s = s, .g = &g};
	bool found[IMAP_META_REQ_MAX] = {false};
	const char *why = "", *name;
	size_t i;

	(void)uid;
	if (!imap_metadata_supported(s->mod)) {
		imap_tagged(s, cmd->tag, false, "BAD Unknown command");
		return;
	}
	if (imap_meta_parse_get(cmd->args, &s->arena, &g, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if (!meta_mailbox(s, cmd->tag, g.mailbox, &name))
		return;
	c.mbox = g.mailbox;
	c.found = found;
	if (ops->meta_get(h, s->user, name, get_one, &c, &err) < 0) {
		if (c.n > 0)
			imap_write(s, ")\r\n", 3);
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	/* an entry asked for by name that has no value reads NIL; a bare
	 * /private or /shared is only a root to search under */
	for (i = 0; i < g.nentries; i++) {
		if (found[i] || g.depth != IMAP_META_DEPTH_0 ||
		    strchr(g.entries[i] + 1, '/') == NULL)
			continue;
		open_response(&c);
		write_entry(s, g.entries[i]);
		imap_write(s, " NIL", 4);
	}
	if (c.n > 0)
		imap_write(s, ")\r\n", 3);
	if (c.longest > 0)
		imap_tagged(s, cmd->tag, true,
			    "OK [METADATA LONGENTRIES %llu] GETMETADATA "
			    "completed",
			    (unsigned long long)c.longest);
	else
		imap_tagged(s, cmd->tag, true, "OK GETMETADATA completed");
}

/* ---- SETMETADATA on the WRITE pool ------------------------------ */

struct set_job {
	struct imap_session *s;
	char *user, *mbox; /* mbox NULL: the server */
	struct rmail_meta_entry *e;
	size_t n, max_entries;
	uint64_t max_total;
	int rc;
	struct rmail_err err;
	/* names and values follow */
};

static void set_work(void *arg, const volatile int *cancel)
{
	struct set_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = imap_store(j->s->mod, &h);

	(void)cancel;
	j->rc = ops->meta_set(h, j->user, j->mbox, j->e, j->n, j->max_entries,
			      j->max_total, &j->err);
}

static void set_done(void *arg, int cancelled)
{
	struct set_job *j = arg;
	struct imap_session *s = j->s;

	if (!s->closing) {
		if (cancelled)
			imap_tagged(s, s->tag, false, "NO Cancelled");
		else if (j->rc < 0 && j->err.code == RMAIL_E_TOOBIG)
			imap_tagged(s, s->tag, false,
				    "NO [METADATA TOOMANY] Too many "
				    "annotations");
		else if (j->rc < 0)
			imap_tagged(s, s->tag, false, "NO %s%s",
				    imap_err_code(&j->err), j->err.msg);
		else
			imap_tagged(s, s->tag, true,
				    "OK SETMETADATA completed");
	}
	free(j->user);
	free(j->mbox);
	free(j->e);
	free(j);
	imap_async_end(s);
}

void imap_cmd_setmetadata(struct imap_session *s, const struct imap_cmd *cmd,
			  bool uid)
{
	const struct imap_conf *cf = imap_conf(s->mod);
	struct imap_meta_set st;
	struct set_job *j;
	const char *why = "", *name;
	size_t i, bytes = 0;
	char *p;

	(void)uid;
	if (!imap_metadata_supported(s->mod)) {
		imap_tagged(s, cmd->tag, false, "BAD Unknown command");
		return;
	}
	if (imap_meta_parse_set(cmd->args, &s->arena, &st, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	for (i = 0; i < st.n; i++) {
		if (st.e[i].value != NULL &&
		    st.e[i].len > cf->metadata_max_value) {
			imap_tagged(s, cmd->tag, false,
				    "NO [METADATA MAXSIZE %llu] Value too "
				    "large",
				    (unsigned long long)cf->metadata_max_value);
			return;
		}
		bytes += strlen(st.e[i].name) + 1 + st.e[i].len;
	}
	if (!meta_mailbox(s, cmd->tag, st.mailbox, &name))
		return;
	/* the parser's arena is the next command's: copy what the worker
	 * reads */
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->e = malloc(st.n * sizeof(*j->e) + bytes)) == NULL)
		abort();
	p = (char *)(j->e + st.n);
	for (i = 0; i < st.n; i++) {
		size_t nl = strlen(st.e[i].name) + 1;

		memcpy(p, st.e[i].name, nl);
		j->e[i].name = p;
		p += nl;
		j->e[i].len = st.e[i].len;
		j->e[i].value = NULL;
		if (st.e[i].value != NULL) {
			memcpy(p, st.e[i].value, st.e[i].len);
			j->e[i].value = p;
			p += st.e[i].len;
		}
	}
	j->s = s;
	j->n = st.n;
	j->max_entries = (size_t)cf->metadata_max_entries;
	j->max_total = cf->metadata_max_total;
	j->user = strdup(s->user);
	j->mbox = name != NULL ? strdup(name) : NULL;
	if (j->user == NULL || (name != NULL && j->mbox == NULL))
		abort();
	imap_async_begin(s, cmd->tag);
	s->mod->core->work_submit(RMAIL_WORK_WRITE, set_work, set_done, j);
}
