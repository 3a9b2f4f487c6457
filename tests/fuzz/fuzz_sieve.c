/* libFuzzer harness for the Sieve library: the input is a script, then
 * optionally "\n=====\n" and a message.  The script is compiled with
 * small limits (includes resolve to a fixed script, or to the input
 * itself, so loops are exercised) and, when it compiles, run on the
 * message; the result is read back in full. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve.h"

struct msg {
	const char *names[32], *vals[32];
	size_t nlen[32], nh;
	const char *out[32];
	struct sieve_str body;
	const char *script;
	size_t script_len;
};

static size_t header(void *arg, const char *name, const char ***vals_r)
{
	struct msg *m = arg;
	size_t n = 0;

	for (size_t i = 0; i < m->nh; i++)
		if (strlen(name) == m->nlen[i] &&
		    strncasecmp(m->names[i], name, m->nlen[i]) == 0)
			m->out[n++] = m->vals[i];
	*vals_r = m->out;
	return n;
}

static int body(void *arg, enum sieve_body_transform t,
		const char *const *ctypes, size_t nctypes,
		const struct sieve_str **parts_r)
{
	struct msg *m = arg;

	(void)t;
	for (size_t i = 0; i < nctypes; i++)
		if (ctypes[i] == NULL)
			abort();
	*parts_r = &m->body;
	return 1;
}

/* folds to twice the input, so the library's second call runs too */
static size_t casemap(const char *s, size_t n, char *out, size_t cap)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < 2; j++)
			if (2 * i + j < cap)
				out[2 * i + j] = (s[i] >= 'a' && s[i] <= 'z')
							 ? s[i] - 32
							 : s[i];
	return 2 * n;
}

static int mbox(void *arg, const char *name)
{
	(void)arg;
	return name[0] == 'A';
}

static char *resolve(void *arg, int global, const char *name, size_t *len_r)
{
	struct msg *m = arg;
	const char *text;

	if (strcmp(name, "self") == 0) {
		text = m->script;
		*len_r = m->script_len;
	} else if (global) {
		text = "require [\"include\", \"variables\"];\n"
		       "global \"g\"; set \"g\" \"${g}x\"; return;";
		*len_r = strlen(text);
	} else {
		return NULL;
	}
	char *d = malloc(*len_r + 1);

	memcpy(d, text, *len_r);
	d[*len_r] = '\0';
	return d;
}

/* the message's header fields, each in a malloc'd NUL-terminated copy */
static void parse_msg(struct msg *m, const char *p, size_t n, char **own)
{
	const char *e = p + n;

	while (p < e && m->nh < 32 && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *colon = memchr(p, ':', (size_t)((nl ? nl : e) - p));

		if (colon == NULL)
			break;
		size_t vl = (size_t)((nl ? nl : e) - colon - 1);
		char *v = malloc(vl + 1);

		memcpy(v, colon + 1, vl);
		v[vl] = '\0';
		own[m->nh] = v;
		m->names[m->nh] = p;
		m->nlen[m->nh] = (size_t)(colon - p);
		m->vals[m->nh++] = v;
		p = nl ? nl + 1 : e;
	}
	if (p < e && *p == '\n')
		p++;
	m->body.p = p;
	m->body.n = (size_t)(e - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sep;
	size_t slen = size, sum = 0;
	struct sieve_limits lim = {
		.max_steps = 20000, .max_nesting = 16, .max_includes = 3};
	struct msg m;
	char *own[32] = {0}, err[256];
	struct sieve_script *s;

	memset(&m, 0, sizeof(m));
	sep = memmem(text, size, "\n=====\n", 7);
	if (sep != NULL) {
		slen = (size_t)(sep - text);
		parse_msg(&m, sep + 7, size - slen - 7, own);
	}
	m.script = text;
	m.script_len = slen;
	s = sieve_compile(text, slen, &lim, resolve, &m, err, sizeof(err));
	if (s == NULL) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
	} else {
		struct sieve_env env = {
			.env_from = "a@b.example",
			.env_to = "c+d@e.example",
			.size = size,
			.header = header,
			.body = body,
			.casemap = casemap,
			.mailbox_exists = mbox,
			.now = 1191503370,
			.tz_minutes = 60,
			.arg = &m,
		};
		struct sieve_result res;

		if (sieve_run(s, &env, &res) < 0 && !res.implicit_keep)
			abort();
		for (size_t i = 0; i < res.n; i++) {
			const struct sieve_action *a = &res.v[i];

			sum += a->mailbox ? strlen(a->mailbox) : 0;
			sum += a->address ? strlen(a->address) : 0;
			sum += a->reason ? strlen(a->reason) : 0;
			for (size_t j = 0; j < a->nflags; j++)
				sum += strlen(a->flags[j]);
			for (size_t j = 0; j < a->naddresses; j++)
				sum += strlen(a->addresses[j]);
		}
		for (size_t j = 0; j < res.nflags; j++)
			sum += strlen(res.flags[j]);
		sieve_result_free(&res);
		sieve_free(s);
	}
	for (size_t i = 0; i < m.nh; i++)
		free(own[i]);
	return sum == (size_t)-1;
}
