/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Namespace fds a client sends (joinNamespaces): what an fd really is and
 * which uid holds capabilities over the namespace behind it, found with
 * nsfs and pidfs ioctls only, never by asking the file system the fd lives
 * on (a client's FUSE server could make that block the daemon).
 */
#pragma once

#include <sys/types.h>

#include "sandbox-protocol.h"

/*
 * The namespace of type that the process behind pidfd is in now, as a new
 * O_CLOEXEC nsfs fd (PIDFD_GET_*_NAMESPACE, Linux 6.11). Returns the fd;
 * -EOPNOTSUPP on an older kernel; another negative errno on failure.
 */
int namespace_of_pidfd(int pidfd, NamespaceType type);

/*
 * Opens the namespace of type behind fd, which must be a /proc/PID/ns/TYPE
 * fd of exactly that type or a pidfd (then the namespace of that type the
 * process is in now; needs kernel >= 6.11). Returns 0 with a new O_CLOEXEC
 * fd in *ret_ns; -EINVAL if fd is neither, or a namespace of another type;
 * -EOPNOTSUPP for a pidfd on an older kernel; another negative errno.
 */
int namespace_fd_open(int fd, NamespaceType type, int *ret_ns);

/*
 * Whether uid, from the daemon's user namespace and without capabilities
 * there, holds capabilities over the namespace ns_fd of type type, as the
 * kernel judges it: the user namespace owning it (a user namespace: itself)
 * descends from one directly below the daemon's that uid owns. Returns 0 if
 * so, -EPERM if not (the daemon's own namespaces and anything outside them
 * included), another negative errno on failure.
 */
int namespace_fd_owned_by(int ns_fd, NamespaceType type, uid_t uid);

/*
 * Whether fd is a user namespace's nsfs fd (not a pidfd, whose namespace
 * could change before it is used) strictly below the user namespace
 * ancestor_fd (an nsfs fd; -EBADF: the daemon's own). Returns 0 if so,
 * -EINVAL if it is no user namespace fd, -ENOENT if it is not below
 * ancestor_fd, another negative errno on failure.
 */
int namespace_fd_user_namespace_below(int fd, int ancestor_fd);

/*
 * Sends SIGKILL to pid 1 of the pid namespace ns_fd, which ends every
 * process in it (NS_GET_TGID_FROM_PIDNS, Linux 6.7; the pidfd opened for that
 * pid is checked to be in that namespace, so a reused pid is never hit).
 * 0 if it was killed or the namespace has no pid 1 any more; -EOPNOTSUPP on
 * an older kernel; another negative errno.
 */
int pid_namespace_kill(int ns_fd);
