/* sandbox.c - a sensor's privilege drop and seccomp confinement (see
 * sandbox.h). The capability calls are the raw capset(2) and prctl(2):
 * a handful of calls, not worth libcap; the filter is libseccomp's.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsmflow/sandbox.h"

/* What a sensor calls after its start-up: reading packets and giving
 * verdicts (libpcap, libmnl), the metrics endpoint (libmicrohttpd starts
 * its thread under the filter), reports written beside their file and
 * renamed, logs reopened and tables reloaded on SIGHUP, glibc's threads,
 * clocks, signals and memory. */
static const int allowed_calls[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(dup3), SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs),
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(access), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents64),
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(fchmod), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate),
	SCMP_SYS(getcwd),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(brk), SCMP_SYS(mincore), SCMP_SYS(membarrier),
	/* signals, threads, time */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(futex),
	SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(set_tid_address),
	SCMP_SYS(rseq), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit),
	SCMP_SYS(sysinfo), SCMP_SYS(uname), SCMP_SYS(restart_syscall), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(time),
	/* sockets already open, and the endpoint's connections */
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(recvmmsg), SCMP_SYS(shutdown), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(socketpair), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(epoll_create), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(eventfd2), SCMP_SYS(pipe), SCMP_SYS(pipe2),
	/* who it is */
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getgroups), SCMP_SYS(capget),
	/* the same on 32-bit architectures (names another lacks are skipped) */
	SCMP_SYS(mmap2), SCMP_SYS(fstat64), SCMP_SYS(fstatat64), SCMP_SYS(stat64), SCMP_SYS(lstat64),
	SCMP_SYS(_llseek), SCMP_SYS(fcntl64), SCMP_SYS(ugetrlimit), SCMP_SYS(sigreturn),
	SCMP_SYS(getuid32), SCMP_SYS(geteuid32), SCMP_SYS(getgid32), SCMP_SYS(getegid32),
	SCMP_SYS(getgroups32), SCMP_SYS(clock_gettime64), SCMP_SYS(clock_getres_time64),
	SCMP_SYS(clock_nanosleep_time64), SCMP_SYS(futex_time64), SCMP_SYS(ppoll_time64),
	SCMP_SYS(pselect6_time64), SCMP_SYS(recvmmsg_time64), SCMP_SYS(statfs64),
	SCMP_SYS(fstatfs64), SCMP_SYS(ftruncate64), SCMP_SYS(socketcall), SCMP_SYS(_newselect),
#ifdef DSMFLOW_SANITIZER_RUNTIME	/* the sanitizer build (CMakeLists.txt) */
	/* the leak checker at exit stops the threads with ptrace from a
	 * helper it clones (a process, not a thread: listing them with the
	 * old getdents), signals them and waits for it */
	SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(prctl), SCMP_SYS(getdents), SCMP_SYS(clone),
	SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(tkill),
#endif
};

/* Calls that write: allowed on every descriptor but a live sensor's
 * capture socket (a passive sensor sends nothing on it). */
static const int writing_calls[] = {
	SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(pwrite64), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	SCMP_SYS(sendmmsg),
};

/* Allows call when its argument arg, read as the kernel reads it (32
 * bits: a value with high bits set is refused, or it would be truncated
 * into one of them), is none of values[0..n) (sorted, all with `prefix`
 * in their top `depth` bits): one rule per branch of the values' binary
 * trie that holds none of them, as libseccomp takes one comparison per
 * argument; some 32 rules for a few neighbouring values. */
static void allow_outside(scmp_filter_ctx ctx, int call, unsigned arg, uint32_t prefix, unsigned depth,
			  const uint32_t *values, size_t n)
{
	uint32_t bit;
	size_t clear = 0;

	if (n == 0) {
		struct scmp_arg_cmp in_branch = {
			.arg = arg, .op = SCMP_CMP_MASKED_EQ,
			.datum_a = 0xffffffff00000000ull | (depth ? (uint64_t)(~0u << (32 - depth)) : 0),
			.datum_b = prefix,
		};

		(void)seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, call, 1, &in_branch);
		return;
	}
	if (depth == 32)
		return;	/* one of the values: not allowed */
	bit = 1u << (31 - depth);
	while (clear < n && !(values[clear] & bit))
		clear++;
	allow_outside(ctx, call, arg, prefix, depth + 1, values, clear);
	allow_outside(ctx, call, arg, prefix | bit, depth + 1, values + clear, n - clear);
}

static int ascending(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The calls allowed with conditions: ioctl but TIOCSTI (which would type
 * into a terminal the sensor shares with its operator's shell), threads
 * but no processes (clone3's flags are out of the filter's reach: it says
 * ENOSYS and glibc falls back to clone), signals to itself only, and
 * writing but on a passive sensor's capture socket. */
static void allow_conditionally(scmp_filter_ctx ctx, const int *capture_fds, size_t count)
{
	const uint32_t tiocsti = TIOCSTI;
	uint32_t fds[SANDBOX_MAX_CAPTURE_FDS];

	allow_outside(ctx, SCMP_SYS(ioctl), 1, 0, 0, &tiocsti, 1);
#ifndef DSMFLOW_SANITIZER_RUNTIME
	(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid(), 0));
	(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid(), 0));
#endif
	(void)seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	for (size_t i = 0; i < count; i++)
		fds[i] = (uint32_t)capture_fds[i];
	qsort(fds, count, sizeof(*fds), ascending);
	for (size_t i = 0; i < sizeof(writing_calls) / sizeof(writing_calls[0]); i++)
		allow_outside(ctx, writing_calls[i], 0, 0, 0, fds, count);
}

int sandbox_confine(const int *capture_fds, size_t count, struct dsm_err *err)
{
	scmp_filter_ctx ctx;
	int rc;

	if (count > SANDBOX_MAX_CAPTURE_FDS) {
		dsm_err_set(err, "seccomp: %zu capture sockets; at most %d", count, SANDBOX_MAX_CAPTURE_FDS);
		return -1;
	}
	if (!(ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM)))) {
		dsm_err_set(err, "seccomp: cannot make a filter (out of memory)");
		return -1;
	}
	/* a call this architecture does not have is refused by libseccomp
	 * (and cannot be made): not an error */
	for (size_t i = 0; i < sizeof(allowed_calls) / sizeof(allowed_calls[0]); i++)
		(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_calls[i], 0);
	allow_conditionally(ctx, capture_fds, count);
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);	/* any thread there is */
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		dsm_err_set(err, "seccomp: cannot install the filter: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* Keeps those of the capabilities in keep it has, permitted and effective,
 * and no other; inheritable none. */
static int set_capabilities(unsigned keep)
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &header, data))
		return -1;
	keep &= data[0].permitted;
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = keep;
	return (int)syscall(SYS_capset, &header, data);
}

/* Drops from the bounding set every capability not in keep; without
 * CAP_SETPCAP (a unit that set CapabilityBoundingSet= removed it), what
 * is left stays, and the unit's set is the bound. */
static void drop_bounding_set(unsigned keep)
{
	for (unsigned long cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (cap < 32 && (keep & (1u << cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno == EPERM)
			return;
	}
}

static int become(const char *user, struct dsm_err *err)
{
	const char *name = user ? user : "nobody";
	struct passwd *pw = getpwnam(name);

	if (!pw) {
		dsm_err_set(err, "-Z: no user '%s'", name);
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setgid(pw->pw_gid) ||
	    setuid(pw->pw_uid)) {
		dsm_err_set(err, "cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_drop_privileges(const char *user, unsigned keep, struct dsm_err *err)
{
	drop_bounding_set(keep);
	if (geteuid() == 0 && !(user && strcmp(user, "root") == 0) && become(user, err))
		return -1;
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (set_capabilities(keep)) {
		dsm_err_set(err, "cannot give up capabilities: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		dsm_err_set(err, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}
