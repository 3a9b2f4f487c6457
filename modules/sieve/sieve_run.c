/* Stub until the interpreter lands: compiles nothing. */
#include <stdio.h>
#include <string.h>

#include "sieve.h"

struct sieve_script *sieve_compile(const char *text, size_t len,
				   const struct sieve_limits *lim,
				   sieve_include_fn inc, void *inc_arg,
				   char *err, size_t errlen)
{
	(void)text;
	(void)len;
	(void)lim;
	(void)inc;
	(void)inc_arg;
	snprintf(err, errlen, "line 1: sieve not implemented yet");
	return NULL;
}

void sieve_free(struct sieve_script *s)
{
	(void)s;
}

int sieve_run(const struct sieve_script *s, const struct sieve_env *env,
	      struct sieve_result *res)
{
	(void)s;
	(void)env;
	memset(res, 0, sizeof(*res));
	res->implicit_keep = 1;
	snprintf(res->err, sizeof(res->err), "sieve not implemented yet");
	return -1;
}

void sieve_result_free(struct sieve_result *res)
{
	(void)res;
}

const char *sieve_extensions(void)
{
	return "";
}
