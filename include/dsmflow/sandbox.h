/* sandbox.h - what a sensor gives up once its capture is open, as tcpdump
 * and Suricata do: root (for a user), every capability but the one its
 * mode keeps using, the capability bounding set, the means to gain new
 * privileges (no_new_privs), and every system call it does not make
 * (a seccomp allowlist, with libseccomp).
 *
 * Credentials, no_new_privs and seccomp filters belong to a thread: both
 * calls are made while the sensor has one thread, and the threads started
 * after them inherit everything.
 */
#ifndef DSMFLOW_SANDBOX_H
#define DSMFLOW_SANDBOX_H

#include <stddef.h>

#include "dsmflow/err.h"

/* The capabilities a mode keeps after the drop (a bit per CAP_*). */
#define SANDBOX_KEEP_NOTHING 0u

/* Becomes user (NULL: nobody; "root": stays uid 0) when root, keeps only
 * the capabilities in keep (permitted and effective), clears the ambient
 * set and the bounding set's others (where CAP_SETPCAP allows: a systemd
 * unit may have removed it, and its bounding set already), and sets
 * no_new_privs. 0, or -1 with err filled. */
int sandbox_drop_privileges(const char *user, unsigned keep, struct dsm_err *err);

/* Installs the seccomp filter: the system calls a sensor makes (capture,
 * verdicts, the metrics endpoint, reports, reloads) are allowed, every other
 * fails with EPERM (execve, socket, fork, TIOCSTI, signals to others among
 * them); capture_fds[0..count) (a passive sensor's capture sockets, one
 * per worker) cannot be written or sent on. Needs no_new_privs or
 * CAP_SYS_ADMIN. 0, or -1 with err filled. */
int sandbox_confine(const int *capture_fds, size_t count, struct dsm_err *err);

#define SANDBOX_MAX_CAPTURE_FDS 64

#endif
