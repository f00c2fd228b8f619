/* test_sandbox.c - a sensor's confinement, applied in a child process as a
 * sensor applies it: execve, socket, fork, TIOCSTI, signals to other
 * processes and writes to the capture socket are refused with EPERM, what a
 * sensor does (files, pipes, clocks, threads) still works; as root, the
 * privilege drop leaves only the capabilities asked for, in every set
 * including the bounding set, with no_new_privs. The sensors' own threads
 * are checked in tests/live.py (check_confined). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dsmflow/sandbox.h"

/* The child's findings, as its exit status: 0 when all held, else the
 * number of the first that failed. */
enum finding { HELD = 0, DROP_FAILED, CONFINE_FAILED, EXEC_RAN, EXEC_NOT_EPERM, SOCKET_OPENED,
	       FILE_FAILED, PIPE_FAILED, CLOCK_FAILED, THREAD_FAILED, STATUS_WRONG, FORKED,
	       TIOCSTI_RAN, SIGNALLED_OTHER, WROTE_CAPTURE };

/* A field of /proc/self/status, as a number in base (0 when absent). */
static unsigned long long status_field(const char *name, int base)
{
	char line[256];
	unsigned long long value = 0;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			value = strtoull(line + n + 1, NULL, base);
	fclose(f);
	return value;
}

static void *thread_body(void *arg)
{
	return arg;
}

static enum finding works_confined(const int *capture_fds)
{
	char *const argv[] = { "/bin/sh", "-c", "exit 3", NULL };	/* 3: EXEC_RAN */
	char c = ' ';
	pid_t child;
	char path[] = "/tmp/dsmflow-sandbox-XXXXXX";
	struct timespec ts;
	pthread_t thread;
	void *back = NULL;
	int fds[2], fd;

	errno = 0;
	execve(argv[0], argv, argv + 3);	/* returns only when refused */
	if (errno != EPERM)
		return EXEC_NOT_EPERM;
#ifndef DSMFLOW_SANITIZER_RUNTIME	/* whose leak checker clones a process and signals it */
	if ((child = fork()) == 0)
		_exit(0);
	if (child >= 0 || errno != EPERM)
		return FORKED;
	if (kill(getppid(), 0) == 0 || errno != EPERM || kill(getpid(), 0) != 0)
		return SIGNALLED_OTHER;
#else
	(void)child;
#endif
	if (ioctl(0, TIOCSTI, &c) == 0 || errno != EPERM)
		return TIOCSTI_RAN;
	for (int i = 0; i < 2; i++)
		if (write(capture_fds[i], "z", 1) >= 0 || errno != EPERM)
			return WROTE_CAPTURE;
	if (write(capture_fds[2], "m", 1) != 1)	/* a descriptor between them */
		return PIPE_FAILED;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 || errno != EPERM)
		return SOCKET_OPENED;
	if ((fd = mkstemp(path)) < 0 || write(fd, "x", 1) != 1 || close(fd) || unlink(path))
		return FILE_FAILED;
	if (pipe(fds) || write(fds[1], "y", 1) != 1 || close(fds[0]) || close(fds[1]))
		return PIPE_FAILED;
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return CLOCK_FAILED;
	if (pthread_create(&thread, NULL, thread_body, &ts) || pthread_join(thread, &back) ||
	    back != &ts)
		return THREAD_FAILED;
	return HELD;
}

/* What the child checks after the drop: the sets hold keep only. */
static enum finding dropped_to(unsigned keep, int nobody)
{
	if (nobody && (getuid() == 0 || geteuid() == 0))
		return STATUS_WRONG;
	if (status_field("CapEff", 16) != keep || status_field("CapPrm", 16) != keep ||
	    status_field("CapBnd", 16) != keep || status_field("CapAmb", 16) != 0 ||
	    status_field("NoNewPrivs", 10) != 1)
		return STATUS_WRONG;
	return HELD;
}

/* In a child: the privilege drop (as root only), then the confinement;
 * the child's finding. */
static int in_child(int drop, unsigned keep, const char *user)
{
	struct dsm_err err;
	int status, capture[2], middle[2], second[2], capture_fds[3];
	pid_t pid;

	/* stand for a live sensor's capture sockets, one per worker, with a
	 * descriptor that stays writable between them */
	assert_int_equal(pipe(capture), 0);
	assert_int_equal(pipe(middle), 0);
	assert_int_equal(pipe(second), 0);
	assert_true(capture[1] < middle[1] && middle[1] < second[1]);
	capture_fds[0] = second[1];	/* not in order */
	capture_fds[1] = capture[1];
	capture_fds[2] = middle[1];	/* (not refused: the check's third) */
	pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		enum finding f;

		if (drop)
			f = sandbox_drop_privileges(user, keep, &err) ? DROP_FAILED
								      : dropped_to(keep, user == NULL);
		else	/* unprivileged, seccomp needs no_new_privs */
			f = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? DROP_FAILED : HELD;
		if (f == HELD)
			f = sandbox_confine(capture_fds, 2, &err) ? CONFINE_FAILED : HELD;
		if (f == HELD)
			f = status_field("Seccomp", 10) == 2 ? works_confined(capture_fds) : STATUS_WRONG;
		_exit((int)f);
	}
	for (int i = 0; i < 2; i++) {
		close(capture[i]);
		close(middle[i]);
		close(second[i]);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_confined_refuses_exec_and_sockets(void **state)
{
	(void)state;
	assert_int_equal(in_child(0, 0, NULL), HELD);
}

static void test_live_drop_keeps_nothing(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(1, SANDBOX_KEEP_NOTHING, NULL), HELD);
}

static void test_queue_drop_keeps_net_admin(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(1, 1u << CAP_NET_ADMIN, NULL), HELD);
}

static void test_root_stays_root_without_capabilities(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(1, SANDBOX_KEEP_NOTHING, "root"), HELD);
}

static void test_unknown_user_is_an_error(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(1, SANDBOX_KEEP_NOTHING, "no-such-user-dsmflow"), DROP_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confined_refuses_exec_and_sockets),
		cmocka_unit_test(test_live_drop_keeps_nothing),
		cmocka_unit_test(test_queue_drop_keeps_net_admin),
		cmocka_unit_test(test_root_stays_root_without_capabilities),
		cmocka_unit_test(test_unknown_user_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
