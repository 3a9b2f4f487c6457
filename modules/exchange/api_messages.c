/*
 * Message endpoints: the page list, one message (decoded, or raw), an
 * attachment, flag changes and the raw append.  Views are opened on the
 * loop; message reads, MIME parsing and appends run on worker pools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

#define LIST_READ_MAX (256 * 1024)
#define PREVIEW_MAX 200

struct msg_job {
	struct ex_req *r;
	struct rmail_mbox *mb;
	struct rmail_msg *msgs;
	size_t n;
	const char *const *kw;
	size_t nkw;
	int raw;
	int64_t part;
	uint32_t total;
	long page, per_page;
	/* results, built on the worker */
	char *out;
	size_t out_len;
	const char *ctype;
	char *extra;
	int status;
	const char *error;
};

static const struct rmail_store_ops *store(const struct ex_mod *mod, void **h)
{
	return mod->core->store(h);
}

int ex_open_mbox(struct ex_req *r, struct rmail_mbox **mb_r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	void *h;

	ops = store(r->mod, &h);
	rmail_err_clear(&err);
	if (ops->mbox_open(h, r->user.address, r->params[0], mb_r, &err) < 0) {
		if (err.code == RMAIL_E_NOENT || err.code == RMAIL_E_INVAL)
			ex_error(r, 404, "No such folder");
		else
			ex_error(r, 503, "Store unavailable");
		return -1;
	}
	rmail_err_clear(&err);
	(void)ops->mbox_refresh(*mb_r, &err);
	return 0;
}

static int parse_num(const char *s, long lo, long hi, long *v_r)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 10)
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*v_r = v;
	return 0;
}

char *ex_read_msg(const struct ex_mod *mod, struct rmail_mbox *mb, uint32_t uid,
		  uint64_t max, size_t *len_r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	size_t got = 0, n;
	char *buf;
	void *h;

	ops = store(mod, &h);
	buf = malloc((size_t)max + 1);
	if (buf == NULL)
		return NULL;
	while (got < max) {
		rmail_err_clear(&err);
		if (ops->msg_read(mb, uid, got, buf + got, (size_t)max - got,
				  &n, &err) < 0) {
			free(buf);
			return NULL;
		}
		got += n;
		if (n == 0)
			break;
	}
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

static json_t *addr_list(const struct rmail_core *core, struct rmail_mime *mm,
			 const char *value)
{
	const struct rmail_mime_addr *a;
	json_t *arr = json_array();
	size_t n = 0, i;

	if (value == NULL || core->mime_addresses(mm, value, &a, &n) < 0)
		return arr;
	for (i = 0; i < n; i++) {
		char *addr;

		if (a[i].mailbox == NULL)
			continue; /* group markers */
		addr = a[i].host != NULL ? malloc(strlen(a[i].mailbox) +
						  strlen(a[i].host) + 2)
					 : strdup(a[i].mailbox);
		if (addr == NULL)
			continue;
		if (a[i].host != NULL)
			snprintf(addr,
				 strlen(a[i].mailbox) + strlen(a[i].host) + 2,
				 "%s@%s", a[i].mailbox, a[i].host);
		json_array_append_new(arr,
				      json_pack("{s:o,s:s}", "name",
						a[i].name != NULL
							? json_string(a[i].name)
							: json_null(),
						"address", addr));
		free(addr);
	}
	return arr;
}

static json_t *str_or_null(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;

	return j != NULL ? j : json_null();
}

static int is_attachment(const struct rmail_mime_part *p)
{
	if (p->flags & RMAIL_MIME_MULTIPART)
		return 0;
	if (p->disposition != NULL && strcmp(p->disposition, "attachment") == 0)
		return 1;
	return p->filename != NULL;
}

/* first text/<subtype> body that is not an attachment, UTF-8 */
static const char *first_text(const struct rmail_core *core,
			      struct rmail_mime *mm, const char *subtype,
			      size_t *len_r)
{
	size_t i, n = core->mime_part_count(mm);
	struct rmail_err err;
	const char *out;

	for (i = 0; i < n; i++) {
		const struct rmail_mime_part *p = core->mime_part(mm, i);

		if (p == NULL || is_attachment(p) || p->type == NULL ||
		    strcmp(p->type, "text") != 0 || p->subtype == NULL ||
		    strcmp(p->subtype, subtype) != 0)
			continue;
		rmail_err_clear(&err);
		if (core->mime_body(mm, i, 1, &out, len_r, &err) == 0)
			return out;
	}
	return NULL;
}

static json_t *string_or_empty(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	return j != NULL ? j : json_string("");
}

static json_t *summary(const struct rmail_core *core, struct rmail_mime *mm,
		       const struct rmail_msg *m, const char *const *kw,
		       size_t nkw)
{
	char date[32], preview[PREVIEW_MAX * 4 + 1];
	const char *text = NULL;
	size_t tlen = 0, i, o = 0, chars = 0;
	int has_att = 0, sp = 0;

	ex_rfc3339(m->internaldate, date, sizeof(date));
	if (mm != NULL) {
		size_t n = core->mime_part_count(mm);

		for (i = 0; i < n && !has_att; i++) {
			const struct rmail_mime_part *p =
				core->mime_part(mm, i);

			has_att = p != NULL && i > 0 && is_attachment(p);
		}
		text = first_text(core, mm, "plain", &tlen);
	}
	/* collapse white space; stop on a UTF-8 character boundary */
	for (i = 0; text != NULL && i < tlen && chars < PREVIEW_MAX; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= ' ') {
			sp = o > 0;
			continue;
		}
		if (sp) {
			preview[o++] = ' ';
			chars++;
			sp = 0;
		}
		if ((c & 0xc0) != 0x80)
			chars++;
		preview[o++] = (char)c;
	}
	while (o > 0 && ((unsigned char)preview[o - 1] & 0x80) &&
	       (text == NULL || i < tlen) &&
	       ((unsigned char)text[i] & 0xc0) == 0x80)
		o--; /* drop a cut multibyte sequence */
	preview[o] = '\0';
	return json_pack(
		"{s:I,s:o,s:o,s:o,s:s,s:o,s:I,s:b,s:o}", "uid",
		(json_int_t)m->uid, "from",
		mm != NULL ? addr_list(core, mm,
				       core->mime_header(mm, 0, "From", 0, 0))
			   : json_array(),
		"to",
		mm != NULL ? addr_list(core, mm,
				       core->mime_header(mm, 0, "To", 0, 0))
			   : json_array(),
		"subject",
		mm != NULL
			? str_or_null(core->mime_header(mm, 0, "Subject", 0, 1))
			: json_null(),
		"date", date, "flags",
		ex_flags_json(m->flags, m->keywords, kw, nkw), "size",
		(json_int_t)m->size, "has_attachments", has_att, "preview",
		string_or_empty(preview, o));
}

json_t *ex_msg_summary(const struct rmail_core *core, const char *buf,
		       size_t len, const struct rmail_msg *m,
		       const char *const *kw, size_t nkw)
{
	struct rmail_mime *mm = NULL;
	struct rmail_err err;
	json_t *o;

	rmail_err_clear(&err);
	/* what the list shows comes from the message's start */
	if (buf != NULL &&
	    core->mime_parse(buf, len < LIST_READ_MAX ? len : LIST_READ_MAX,
			     NULL, &mm, &err) < 0)
		mm = NULL;
	o = summary(core, mm, m, kw, nkw);
	if (mm != NULL)
		core->mime_free(&mm);
	return o;
}

static void job_dump(struct msg_job *j, json_t *o)
{
	j->out = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	j->out_len = j->out != NULL ? strlen(j->out) : 0;
	j->ctype = "application/json";
	j->status = j->out != NULL ? 200 : 500;
}

static void list_work(void *arg, const volatile int *cancel)
{
	struct msg_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;
	json_t *arr = json_array();
	size_t i, len;

	for (i = 0; i < j->n && !*cancel; i++) {
		char *buf;
		json_t *o;

		len = 0;
		buf = ex_read_msg(j->r->mod, j->mb, j->msgs[i].uid,
				  j->msgs[i].size < LIST_READ_MAX
					  ? j->msgs[i].size
					  : LIST_READ_MAX,
				  &len);
		o = ex_msg_summary(core, buf, len, &j->msgs[i], j->kw, j->nkw);
		free(buf);
		if (o != NULL)
			json_array_append_new(arr, o);
	}
	job_dump(j, json_pack("{s:o,s:I,s:I,s:I}", "messages", arr, "page",
			      (json_int_t)j->page, "per_page",
			      (json_int_t)j->per_page, "total",
			      (json_int_t)j->total));
}

static void job_done(void *arg, int cancelled)
{
	struct msg_job *j = arg;
	struct ex_req *r = j->r;
	const struct rmail_store_ops *ops;
	void *h;
	char *out = j->out;

	ops = store(r->mod, &h);
	if (j->mb != NULL)
		ops->mbox_close(&j->mb);
	if (!ex_async_end(r)) {
		free(out);
		return;
	}
	if (cancelled)
		ex_error(r, 503, "Cancelled");
	else if (j->error != NULL)
		ex_error(r, j->status, j->error);
	else if (out == NULL)
		ex_error(r, 500, "Internal error");
	else
		ex_respond(r, j->status, j->ctype, out, j->out_len, j->extra);
	free(out);
}

static void submit(struct ex_req *r, struct msg_job *j, int kind,
		   rmail_work_fn fn)
{
	ex_async_begin(r);
	if (r->mod->core->work_submit(kind, fn, job_done, j) == NULL) {
		j->error = "Busy";
		j->status = 503;
		job_done(j, 0);
	}
}

static struct msg_job *job_new(struct ex_req *r)
{
	struct msg_job *j = r->mod->core->pcalloc(r->pool, sizeof(*j));

	j->r = r;
	return j;
}

size_t ex_copy_keywords(struct ex_req *r, struct rmail_mbox *mb,
			const char *const **kw_r)
{
	const struct rmail_store_ops *ops;
	const char *const *names;
	const char **kw;
	size_t i, n;
	void *h;

	ops = store(r->mod, &h);
	n = ops->mbox_keywords(mb, &names);
	kw = r->mod->core->pcalloc(r->pool, sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
		kw[i] = r->mod->core->pstrdup(r->pool, names[i]);
	*kw_r = kw;
	return n;
}

static void copy_keywords(struct ex_req *r, struct msg_job *j)
{
	j->nkw = ex_copy_keywords(r, j->mb, &j->kw);
}

void ex_api_messages(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	const char *ps = ex_query(r, "page"), *pp = ex_query(r, "per_page");
	struct msg_job *j = job_new(r);
	long page = 1, per = 50;
	uint32_t count;
	uint64_t first;
	size_t i;
	void *h;

	if ((r->query != NULL && strstr(r->query, "page=") != NULL &&
	     ps == NULL && pp == NULL) ||
	    (ps != NULL && parse_num(ps, 1, 1000000000, &page) < 0) ||
	    (pp != NULL && parse_num(pp, 1, EX_PER_PAGE_MAX, &per) < 0)) {
		ex_error(r, 400, "page >= 1 and 1 <= per_page <= 200");
		return;
	}
	if (ex_open_mbox(r, &j->mb) < 0)
		return;
	ops = store(r->mod, &h);
	count = ops->mbox_count(j->mb);
	j->total = count;
	j->page = page;
	j->per_page = per;
	copy_keywords(r, j);
	first = (uint64_t)(page - 1) * (uint64_t)per;
	j->msgs = r->mod->core->pcalloc(r->pool,
					sizeof(struct rmail_msg) * (size_t)per);
	/* newest first: walk down from the highest UID */
	for (i = 0; first + i < count && i < (size_t)per; i++)
		j->msgs[i] = *ops->mbox_msg(j->mb,
					    (uint32_t)(count - 1 - first - i));
	j->n = i;
	submit(r, j, RMAIL_WORK_READ, list_work);
}

static void headers_json(const struct rmail_core *core, struct rmail_mime *mm,
			 const char *raw, json_t *arr)
{
	const struct rmail_mime_part *p = core->mime_part(mm, 0);
	const char *s, *e, *colon;
	char name[128];
	size_t nth, k;

	if (p == NULL)
		return;
	s = raw + p->hdr_off;
	e = s + p->hdr_len;
	/* the names in order; the values unfolded and decoded by the core */
	while (s < e) {
		const char *eol = memchr(s, '\n', (size_t)(e - s));
		const char *le = eol != NULL ? eol : e;

		colon = memchr(s, ':', (size_t)(le - s));
		if (*s != ' ' && *s != '\t' && colon != NULL &&
		    (size_t)(colon - s) < sizeof(name)) {
			memcpy(name, s, (size_t)(colon - s));
			name[colon - s] = '\0';
			nth = 0;
			for (k = 0; k < json_array_size(arr); k++) {
				const char *n2 = json_string_value(
					json_object_get(json_array_get(arr, k),
							"name"));

				if (n2 != NULL && strcasecmp(n2, name) == 0)
					nth++;
			}
			const char *v = core->mime_header(mm, 0, name, nth, 1);

			if (v != NULL)
				json_array_append_new(
					arr, json_pack("{s:s,s:s}", "name",
						       name, "value", v));
		}
		s = le + 1;
	}
}

static void message_work(void *arg, const volatile int *cancel)
{
	struct msg_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;
	struct rmail_mime *mm = NULL;
	struct rmail_err err;
	const struct rmail_msg *m = &j->msgs[0];
	json_t *atts, *hdrs, *o;
	const char *text, *html;
	size_t len, tl = 0, hl = 0, i, n;
	char date[32];
	char *buf;

	if (*cancel)
		return;
	buf = ex_read_msg(j->r->mod, j->mb, m->uid, m->size, &len);
	if (buf == NULL) {
		j->status = 404;
		j->error = "No such message";
		return;
	}
	if (j->raw) {
		j->out = buf;
		j->out_len = len;
		j->ctype = "message/rfc822";
		j->status = 200;
		return;
	}
	rmail_err_clear(&err);
	if (core->mime_parse(buf, len, NULL, &mm, &err) < 0) {
		free(buf);
		j->status = err.code == RMAIL_E_NOTIMPL ? 501 : 422;
		j->error = err.code == RMAIL_E_NOTIMPL
				   ? "MIME parser unavailable"
				   : "Unparsable message";
		return;
	}
	hdrs = json_array();
	headers_json(core, mm, buf, hdrs);
	atts = json_array();
	n = core->mime_part_count(mm);
	for (i = 1; i < n; i++) {
		const struct rmail_mime_part *p = core->mime_part(mm, i);
		char ct[160];

		if (p == NULL || !is_attachment(p))
			continue;
		snprintf(ct, sizeof(ct), "%s/%s",
			 p->type ? p->type : "application",
			 p->subtype ? p->subtype : "octet-stream");
		json_array_append_new(atts,
				      json_pack("{s:I,s:o,s:s,s:I}", "part",
						(json_int_t)i, "filename",
						str_or_null(p->filename),
						"content_type", ct, "size",
						(json_int_t)p->body_len));
	}
	text = first_text(core, mm, "plain", &tl);
	html = first_text(core, mm, "html", &hl);
	ex_rfc3339(m->internaldate, date, sizeof(date));
#define H(name) core->mime_header(mm, 0, name, 0, 1)
/* address lists parse the raw value (names are decoded per word):
 * decoding first would turn an encoded "<x@y>" into an address, which
 * neither ENVELOPE nor the submission sender rule sees */
#define A(name) core->mime_header(mm, 0, name, 0, 0)
	o = json_pack(
		"{s:I,s:s,s:o,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
		"s:o,s:o,s:o,s:o,s:o}",
		"uid", (json_int_t)m->uid, "folder", j->r->params[0], "flags",
		ex_flags_json(m->flags, m->keywords, j->kw, j->nkw), "size",
		(json_int_t)m->size, "date", date, "subject",
		str_or_null(H("Subject")), "from",
		addr_list(core, mm, A("From")), "to",
		addr_list(core, mm, A("To")), "cc",
		addr_list(core, mm, A("Cc")), "reply_to",
		addr_list(core, mm, A("Reply-To")), "message_id",
		str_or_null(H("Message-ID")), "in_reply_to",
		str_or_null(H("In-Reply-To")), "references",
		str_or_null(H("References")), "headers", hdrs, "text",
		text != NULL ? json_stringn(text, tl) : json_null(), "html",
		html != NULL ? json_stringn(html, hl) : json_null(),
		"attachments", atts);
#undef H
#undef A
	core->mime_free(&mm);
	free(buf);
	if (o == NULL) {
		j->status = 422;
		j->error = "Message is not valid UTF-8 after decoding";
		return;
	}
	job_dump(j, o);
}

static void attachment_work(void *arg, const volatile int *cancel)
{
	struct msg_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;
	struct rmail_mime *mm = NULL;
	const struct rmail_mime_part *p;
	struct rmail_err err;
	const char *body;
	size_t len, blen;
	char *buf, cd[EX_DISPOSITION_MAX];

	if (*cancel)
		return;
	buf = ex_read_msg(j->r->mod, j->mb, j->msgs[0].uid, j->msgs[0].size,
			  &len);
	rmail_err_clear(&err);
	if (buf == NULL || core->mime_parse(buf, len, NULL, &mm, &err) < 0) {
		free(buf);
		j->status = err.code == RMAIL_E_NOTIMPL ? 501 : 404;
		j->error = err.code == RMAIL_E_NOTIMPL
				   ? "MIME parser unavailable"
				   : "No such message";
		return;
	}
	p = (size_t)j->part < core->mime_part_count(mm)
		    ? core->mime_part(mm, (size_t)j->part)
		    : NULL;
	if (p == NULL || j->part == 0 || (p->flags & RMAIL_MIME_MULTIPART) ||
	    core->mime_body(mm, (size_t)j->part, 0, &body, &blen, &err) < 0) {
		core->mime_free(&mm);
		free(buf);
		j->status = 404;
		j->error = "No such part";
		return;
	}
	j->out = malloc(blen + 1);
	if (j->out != NULL) {
		memcpy(j->out, body, blen);
		j->out_len = blen;
		j->status = 200;
	}
	j->ctype = core->psprintf(j->r->pool, "%s/%s",
				  p->type ? p->type : "application",
				  p->subtype ? p->subtype : "octet-stream");
	if (strpbrk(j->ctype, "\r\n\"") != NULL)
		j->ctype = "application/octet-stream";
	ex_content_disposition(p->filename, cd, sizeof(cd));
	j->extra = core->psprintf(j->r->pool,
				  "%sX-Content-Type-Options: nosniff\r\n", cd);
	core->mime_free(&mm);
	free(buf);
}

static int find_msg(struct ex_req *r, struct msg_job *j)
{
	const struct rmail_store_ops *ops;
	long uid;
	int64_t idx;
	void *h;

	if (parse_num(r->params[1], 1, 0xffffffffL, &uid) < 0) {
		ex_error(r, 404, "No such message");
		return -1;
	}
	if (ex_open_mbox(r, &j->mb) < 0)
		return -1;
	ops = store(r->mod, &h);
	idx = ops->mbox_find(j->mb, (uint32_t)uid);
	if (idx < 0) {
		ops->mbox_close(&j->mb);
		ex_error(r, 404, "No such message");
		return -1;
	}
	j->msgs = r->mod->core->pcalloc(r->pool, sizeof(struct rmail_msg));
	j->msgs[0] = *ops->mbox_msg(j->mb, (uint32_t)idx);
	j->n = 1;
	copy_keywords(r, j);
	return 0;
}

void ex_api_message(struct ex_req *r)
{
	struct msg_job *j = job_new(r);
	const char *fmt = ex_query(r, "format");

	if (fmt != NULL && strcmp(fmt, "raw") != 0 &&
	    strcmp(fmt, "json") != 0) {
		ex_error(r, 400, "format must be raw or json");
		return;
	}
	j->raw = fmt != NULL && strcmp(fmt, "raw") == 0;
	if (find_msg(r, j) < 0)
		return;
	submit(r, j, RMAIL_WORK_READ, message_work);
}

void ex_api_attachment(struct ex_req *r)
{
	struct msg_job *j = job_new(r);
	long part;

	if (parse_num(r->params[2], 1, 100000, &part) < 0) {
		ex_error(r, 404, "No such part");
		return;
	}
	j->part = part;
	if (find_msg(r, j) < 0)
		return;
	submit(r, j, RMAIL_WORK_READ, attachment_work);
}

/* ---- flags --------------------------------------------------------- */

static int collect(json_t *a, uint32_t *flags, const char **kw, size_t *nkw)
{
	size_t i;
	json_t *v;
	uint32_t f;
	int rc;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > RMAIL_KEYWORD_MAX)
		return -1;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return -1;
		rc = ex_flag_from_str(json_string_value(v), &f);
		if (rc < 0)
			return -1;
		if (rc == 1)
			*flags |= f;
		else
			kw[(*nkw)++] = json_string_value(v);
	}
	return 0;
}

void ex_api_flags(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	const char *akw[RMAIL_KEYWORD_MAX], *rkw[RMAIL_KEYWORD_MAX];
	size_t na = 0, nr = 0;
	uint32_t af = 0, rf = 0;
	struct msg_job *j = job_new(r);
	struct rmail_msg nm;
	struct rmail_err err;
	const char *const *names;
	size_t nn;
	json_t *b;
	void *h;

	if ((b = ex_json_parse(r)) == NULL)
		return;
	if (!json_is_object(b) ||
	    collect(json_object_get(b, "add"), &af, akw, &na) < 0 ||
	    collect(json_object_get(b, "remove"), &rf, rkw, &nr) < 0) {
		json_decref(b);
		ex_error(r, 400,
			 "Expected {\"add\": [...], \"remove\": [...]}");
		return;
	}
	if (find_msg(r, j) < 0) {
		json_decref(b);
		return;
	}
	ops = store(r->mod, &h);
	nm = j->msgs[0];
	rmail_err_clear(&err);
	if (((af != 0 || na > 0) &&
	     ops->msg_flags(j->mb, nm.uid, RMAIL_FLAGS_ADD, af, akw, na, &nm,
			    &err) < 0) ||
	    ((rf != 0 || nr > 0) &&
	     ops->msg_flags(j->mb, nm.uid, RMAIL_FLAGS_REMOVE, rf, rkw, nr, &nm,
			    &err) < 0)) {
		json_decref(b);
		ops->mbox_close(&j->mb);
		if (err.code == RMAIL_E_NOENT)
			ex_error(r, 404, "No such message");
		else if (err.code == RMAIL_E_INVAL ||
			 err.code == RMAIL_E_TOOBIG)
			ex_error(r, 400, err.msg);
		else
			ex_error(r, 503, "Store unavailable");
		return;
	}
	json_decref(b);
	nn = ops->mbox_keywords(j->mb, &names);
	if (nm.keywords >> (nn < 64 ? nn : 63) > 1) {
		rmail_err_clear(&err);
		(void)ops->mbox_refresh(j->mb, &err);
		nn = ops->mbox_keywords(j->mb, &names);
	}
	ex_folders_invalidate(r->user.address, r->params[0]);
	b = json_pack("{s:o}", "flags",
		      ex_flags_json(nm.flags, nm.keywords, names, nn));
	ops->mbox_close(&j->mb);
	ex_json(r, 200, b);
}

/* ---- append ---------------------------------------------------------- */

struct append_job {
	struct ex_req *r;
	char *user, *mbox;
	const char *data;
	size_t len;
	uint32_t uid;
	struct rmail_err err;
	int rc;
};

static void append_work(void *arg, const volatile int *cancel)
{
	const struct rmail_store_ops *ops;
	struct append_job *j = arg;
	struct rmail_append_opts o = {.size = sizeof(o)};
	struct rmail_append *ap = NULL;
	uint32_t uidv;
	void *h;

	j->rc = -1;
	if (*cancel)
		return;
	ops = store(j->r->mod, &h);
	o.size_hint = j->len;
	rmail_err_clear(&j->err);
	if (ops->append_begin(h, j->user, j->mbox, &o, &ap, &j->err) < 0)
		return;
	if (ops->append_write(ap, j->data, j->len, &j->err) == 0 &&
	    ops->append_commit(ap, &j->uid, &uidv, &j->err) == 0)
		j->rc = 0;
	ops->append_free(&ap);
}

static void append_done(void *arg, int cancelled)
{
	struct append_job *j = arg;
	struct ex_req *r = j->r;

	/* the index was asked for an update by the store's append_commit
	 * (core/index/idx_hook.c), as for every append */
	if (!ex_async_end(r))
		return;
	if (cancelled) {
		ex_error(r, 503, "Cancelled");
	} else if (j->rc == 0) {
		ex_folders_invalidate(j->user, j->mbox);
		ex_json(r, 201, json_pack("{s:I}", "uid", (json_int_t)j->uid));
	} else if (j->err.code == RMAIL_E_QUOTA) {
		ex_error(r, 413, "Quota exceeded");
	} else if (j->err.code == RMAIL_E_NOENT) {
		ex_error(r, 404, "No such folder");
	} else if (j->err.code == RMAIL_E_TOOBIG ||
		   j->err.code == RMAIL_E_INVAL) {
		ex_error(r, 400, "Message refused");
	} else {
		ex_error(r, 503, "Store unavailable");
	}
}

void ex_api_append(struct ex_req *r)
{
	const char *ct = ex_header(r, "Content-Type");
	struct append_job *j;

	if (ct != NULL && strncasecmp(ct, "message/rfc822", 14) != 0 &&
	    strncasecmp(ct, "application/octet-stream", 24) != 0 &&
	    strncasecmp(ct, "text/plain", 10) != 0) {
		ex_error(r, 415, "Expected message/rfc822");
		return;
	}
	if (r->body_len == 0) {
		ex_error(r, 400, "Empty message");
		return;
	}
	j = r->mod->core->pcalloc(r->pool, sizeof(*j));
	j->r = r;
	j->user = r->user.address;
	j->mbox = r->params[0];
	j->data = r->body;
	j->len = r->body_len;
	ex_async_begin(r);
	if (r->mod->core->work_submit(RMAIL_WORK_WRITE, append_work,
				      append_done, j) == NULL) {
		j->err.code = RMAIL_E_BUSY;
		append_done(j, 0);
	}
}
