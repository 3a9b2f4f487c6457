/* /proc readings of a bench's daemon and its workers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_proc.h"

double bench_proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	/* after the command name's closing parenthesis: fields 3.. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu",
				&ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

long bench_proc_mem_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0)
			kb = atol(line + n);
	fclose(f);
	return kb;
}

/* pid and its children (/proc/PID/task/PID/children: the supervisor
 * forks the workers from its main thread), at most max */
static size_t tree(pid_t pid, pid_t *out, size_t max)
{
	char path[64], line[4096];
	size_t k = 0;
	FILE *f;

	out[k++] = pid;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid,
		 (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return k;
	if (fgets(line, sizeof(line), f) != NULL)
		for (char *sv = NULL, *tok = strtok_r(line, " \n", &sv);
		     tok != NULL && k < max; tok = strtok_r(NULL, " \n", &sv))
			out[k++] = (pid_t)atol(tok);
	fclose(f);
	return k;
}

double bench_tree_cpu_ms(pid_t pid)
{
	pid_t t[64];
	size_t k = tree(pid, t, 64), i;
	double ms = 0;

	for (i = 0; i < k; i++)
		ms += bench_proc_cpu_ms(t[i]);
	return ms;
}

long bench_tree_mem_kb(pid_t pid, const char *field)
{
	pid_t t[64];
	size_t k = tree(pid, t, 64), i;
	long kb = 0, v;

	for (i = 0; i < k; i++)
		if ((v = bench_proc_mem_kb(t[i], field)) > 0)
			kb += v;
	return kb;
}
