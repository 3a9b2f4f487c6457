/*
 * The file descriptor budget.  Every connection holds one descriptor and
 * the rest of the daemon (listeners, store files, the log, TLS files,
 * outbound SMTP, worker wake-ups) needs some more: the soft
 * RLIMIT_NOFILE outside systemd is 1024, far below the default
 * limits.max_connections, so the daemon raises it to the hard limit and
 * says when even that cannot hold the configured connections.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "rm.h"

uint64_t rm_fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			rm_log(RMAIL_LOG_WARN,
			       "cannot raise RLIMIT_NOFILE from %llu: %s",
			       (unsigned long long)was, strerror(errno));
			rl.rlim_cur = was;
		}
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX
					    : (uint64_t)rl.rlim_cur;
}

uint64_t rm_fdlimit_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_max == RLIM_INFINITY ? UINT64_MAX
					    : (uint64_t)rl.rlim_max;
}

bool rm_fdlimit_warn(uint64_t limit, uint32_t max_connections)
{
	if (limit == 0 || (uint64_t)max_connections + RM_FD_RESERVE <= limit)
		return false;
	rm_log(RMAIL_LOG_WARN,
	       "RLIMIT_NOFILE %llu cannot hold limits.max_connections (%u) "
	       "plus %u descriptors for the daemon itself: beyond about "
	       "%llu connections new ones wait in the backlog; raise the hard "
	       "limit (LimitNOFILE= in the unit, limits.conf) or lower "
	       "limits.max_connections",
	       (unsigned long long)limit, max_connections, RM_FD_RESERVE,
	       (unsigned long long)(limit > RM_FD_RESERVE
					    ? limit - RM_FD_RESERVE
					    : 0));
	return true;
}
