/*
 * delivery.per_domain is per host: two worker processes (forked after
 * the host table, as the supervisor does) delivering to one domain at
 * once never hold more sessions together than the limit, and a worker
 * that dies holding sessions gives them back (the supervisor's
 * rm_hostshm_proc_gone).
 */
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostshm.h"
#include "rm.h"
#include "submit/submit_int.h"

#define PROCS 2
#define THREADS 3
#define ROUNDS 4

struct shared {
	atomic_int now, max;
};

static struct shared *sh;

static void *session(void *arg)
{
	const char *dom = arg;

	for (int r = 0; r < ROUNDS; r++) {
		int n;

		rm_queue_slot_take(dom);
		n = atomic_fetch_add(&sh->now, 1) + 1;
		for (int m = atomic_load(&sh->max); n > m;)
			if (atomic_compare_exchange_weak(&sh->max, &m, n))
				break;
		g_usleep(30000);
		atomic_fetch_sub(&sh->now, 1);
		rm_queue_slot_give(dom);
	}
	return NULL;
}

static void run_worker(unsigned idx, const char *dom)
{
	pthread_t t[THREADS];

	rm_hostshm_set_proc(idx);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, session, (void *)dom);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

/* the default limit (4) with no config: 2 x 3 sessions would be 6 */
static void test_per_host(void)
{
	pid_t pid[PROCS];
	int st;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	g_assert_true(sh != MAP_FAILED);
	g_assert_cmpint(rm_hostshm_init(), ==, 0);
	for (unsigned i = 0; i < PROCS; i++) {
		pid[i] = fork();
		g_assert_cmpint(pid[i], >=, 0);
		if (pid[i] == 0)
			run_worker(i, i == 0 ? "Far.example" : "far.EXAMPLE");
	}
	for (unsigned i = 0; i < PROCS; i++) {
		g_assert_cmpint(waitpid(pid[i], &st, 0), ==, pid[i]);
		g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	g_test_message("most sessions at once: %d", atomic_load(&sh->max));
	g_assert_cmpint(atomic_load(&sh->max), <=, 4);
	g_assert_cmpint(atomic_load(&sh->max), >=, 2);
}

/* a worker killed holding every session: the next one gets them back
 * once the supervisor has dropped the dead worker's column */
static void test_dead_worker(void)
{
	pid_t pid = fork();
	int st;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		rm_hostshm_set_proc(1);
		for (int i = 0; i < 4; i++)
			rm_queue_slot_take("gone.example");
		kill(getpid(), SIGKILL);
	}
	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	g_assert_true(WIFSIGNALED(st));
	rm_hostshm_proc_gone(1);
	rm_hostshm_set_proc(0);
	rm_queue_slot_take("gone.example");
	rm_queue_slot_give("gone.example");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/queue/per-domain-per-host", test_per_host);
	g_test_add_func("/queue/per-domain-dead-worker", test_dead_worker);
	return g_test_run();
}
