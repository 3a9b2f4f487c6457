/*
 * bench_proc: what a bench reads about the daemon it started from /proc
 * (CPU time, memory), for the daemon alone or with its worker processes
 * (`processes` > 1 forks them from the supervisor).
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <sys/types.h>

/* user + system CPU time of pid (every thread), in ms; 0 when gone */
double bench_proc_cpu_ms(pid_t pid);

/* a field of /proc/pid/smaps_rollup ("Rss:", "Pss:",
 * "Private_Dirty:"), in kB; -1 when unreadable */
long bench_proc_mem_kb(pid_t pid, const char *field);

/* the same summed over pid and its children (the workers) */
double bench_tree_cpu_ms(pid_t pid);
long bench_tree_mem_kb(pid_t pid, const char *field);

#endif
