#include "ms_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void ms_cmd_free(struct ms_cmd *cmd)
{
	for (size_t i = 0; i < cmd->nargs; i++)
		free(cmd->args[i].s);
	cmd->nargs = 0;
}

/* the end of the line at p (index of its CR or LF), or len */
static size_t line_end(const char *d, size_t len, size_t p)
{
	while (p < len && d[p] != '\n')
		p++;
	return p;
}

static int bad(const char *d, size_t len, size_t p, struct ms_cmd *cmd,
	       size_t *used_r)
{
	size_t e = line_end(d, len, p);

	ms_cmd_free(cmd);
	if (e == len)
		return MS_INCOMPLETE;
	*used_r = e + 1;
	return MS_BAD;
}

static int parse(const char *d, size_t len, size_t max_literal,
		 struct ms_cmd *cmd, size_t *used_r)
{
	size_t p = 0, n = 0;

	memset(cmd, 0, sizeof(*cmd));
	while (p < len && isalpha((unsigned char)d[p])) {
		if (n + 1 < sizeof(cmd->name))
			cmd->name[n++] = (char)toupper((unsigned char)d[p]);
		p++;
	}
	if (p == len)
		return MS_INCOMPLETE;
	if (n == 0)
		return bad(d, len, p, cmd, used_r);
	for (;;) {
		struct ms_arg *a;

		if (p < len && d[p] == '\r')
			p++;
		if (p == len)
			return MS_INCOMPLETE;
		if (d[p] == '\n') {
			*used_r = p + 1;
			return MS_OK;
		}
		if (d[p] != ' ')
			return bad(d, len, p, cmd, used_r);
		p++;
		if (p == len)
			return MS_INCOMPLETE;
		if (cmd->nargs == MS_MAX_ARGS)
			return bad(d, len, p, cmd, used_r);
		a = &cmd->args[cmd->nargs];
		if (d[p] == '"') {
			size_t o = 0;
			char *s = malloc(1025);

			p++;
			while (p < len && d[p] != '"') {
				if (d[p] == '\\' && p + 1 < len &&
				    (d[p + 1] == '"' || d[p + 1] == '\\'))
					p++;
				else if (d[p] == '\\' && p + 1 == len)
					break;
				if (d[p] == '\r' || d[p] == '\n' || o == 1024) {
					free(s);
					return bad(d, len, p, cmd, used_r);
				}
				s[o++] = d[p++];
			}
			if (p >= len) {
				free(s);
				ms_cmd_free(cmd);
				return MS_INCOMPLETE;
			}
			p++;
			s[o] = '\0';
			a->s = s;
			a->n = o;
			cmd->nargs++;
		} else if (d[p] == '{') {
			size_t q = p + 1, lit = 0;

			while (q < len && isdigit((unsigned char)d[q]) &&
			       lit <= max_literal)
				lit = lit * 10 + (size_t)(d[q++] - '0');
			if (lit > max_literal) {
				ms_cmd_free(cmd);
				return MS_TOOBIG;
			}
			if (q == p + 1)
				return bad(d, len, q, cmd, used_r);
			if (q < len && d[q] == '+')
				q++;
			if (q < len && d[q] != '}')
				return bad(d, len, q, cmd, used_r);
			q++;
			if (q < len && d[q] == '\r')
				q++;
			if (q >= len) {
				ms_cmd_free(cmd);
				return MS_INCOMPLETE;
			}
			if (d[q] != '\n')
				return bad(d, len, q, cmd, used_r);
			q++;
			if (len - q < lit) {
				ms_cmd_free(cmd);
				return MS_INCOMPLETE;
			}
			a->s = malloc(lit + 1);
			memcpy(a->s, d + q, lit);
			a->s[lit] = '\0';
			a->n = lit;
			cmd->nargs++;
			p = q + lit;
		} else if (isdigit((unsigned char)d[p])) {
			size_t q = p;

			while (q < len && isdigit((unsigned char)d[q]) &&
			       q - p < 20)
				q++;
			if (q == len) {
				ms_cmd_free(cmd);
				return MS_INCOMPLETE;
			}
			a->s = malloc(q - p + 1);
			memcpy(a->s, d + p, q - p);
			a->s[q - p] = '\0';
			a->n = q - p;
			a->is_num = 1;
			cmd->nargs++;
			p = q;
		} else {
			return bad(d, len, p, cmd, used_r);
		}
	}
}

int ms_parse(const char *d, size_t len, size_t max_literal, struct ms_cmd *cmd,
	     size_t *used_r)
{
	int rc = parse(d, len, max_literal, cmd, used_r);

	/* only a whole command keeps its arguments */
	if (rc != MS_OK)
		ms_cmd_free(cmd);
	return rc;
}
