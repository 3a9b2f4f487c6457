/*
 * The MIME parser: placeholders.  Issue 5 (MIME / IMAP part 2)
 * implements the parser; until then parsing fails cleanly with
 * RMAIL_E_NOTIMPL and the accessors answer "nothing".
 */
#include "rm.h"

int rm_mime_parse(const char *data, size_t len,
		  const struct rmail_mime_limits *lim, struct rmail_mime **m_r,
		  struct rmail_err *err);
void rm_mime_free(struct rmail_mime **m);
size_t rm_mime_part_count(const struct rmail_mime *m);
const struct rmail_mime_part *rm_mime_part(const struct rmail_mime *m,
					   size_t idx);
const char *rm_mime_header(struct rmail_mime *m, size_t idx, const char *name,
			   size_t nth, int decode);
int rm_mime_body(struct rmail_mime *m, size_t idx, int to_utf8,
		 const char **out_r, size_t *len_r, struct rmail_err *err);
int rm_mime_addresses(struct rmail_mime *m, const char *value,
		      const struct rmail_mime_addr **addrs_r, size_t *n_r);

int rm_mime_parse(const char *data, size_t len,
		  const struct rmail_mime_limits *lim, struct rmail_mime **m_r,
		  struct rmail_err *err)
{
	(void)data;
	(void)len;
	(void)lim;
	*m_r = NULL;
	return rmail_err_set(err, RMAIL_E_NOTIMPL,
			     "the MIME parser is not available yet");
}

void rm_mime_free(struct rmail_mime **m)
{
	if (m != NULL)
		*m = NULL;
}

size_t rm_mime_part_count(const struct rmail_mime *m)
{
	(void)m;
	return 0;
}

const struct rmail_mime_part *rm_mime_part(const struct rmail_mime *m,
					   size_t idx)
{
	(void)m;
	(void)idx;
	return NULL;
}

const char *rm_mime_header(struct rmail_mime *m, size_t idx, const char *name,
			   size_t nth, int decode)
{
	(void)m;
	(void)idx;
	(void)name;
	(void)nth;
	(void)decode;
	return NULL;
}

int rm_mime_body(struct rmail_mime *m, size_t idx, int to_utf8,
		 const char **out_r, size_t *len_r, struct rmail_err *err)
{
	(void)m;
	(void)idx;
	(void)to_utf8;
	*out_r = NULL;
	*len_r = 0;
	return rmail_err_set(err, RMAIL_E_NOTIMPL,
			     "the MIME parser is not available yet");
}

int rm_mime_addresses(struct rmail_mime *m, const char *value,
		      const struct rmail_mime_addr **addrs_r, size_t *n_r)
{
	(void)m;
	(void)value;
	*addrs_r = NULL;
	*n_r = 0;
	return -1;
}
