/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Probes of namespace fds and pidfds a client sent. Everything here treats
 * the fd as hostile: it may be any file, on any file system, including a
 * FUSE mount whose server never answers.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/nsfs.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "namespace-fd.h"

#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif

/* The kernel nests user namespaces at most 32 deep. */
#define USERNS_DEPTH_MAX 33

static const unsigned long pidfd_namespace_ioctl[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_CGROUP] = _IO(PIDFS_IOCTL_MAGIC, 1),
        [NAMESPACE_IPC] = _IO(PIDFS_IOCTL_MAGIC, 2),
        [NAMESPACE_MOUNT] = _IO(PIDFS_IOCTL_MAGIC, 3),
        [NAMESPACE_NET] = _IO(PIDFS_IOCTL_MAGIC, 4),
        [NAMESPACE_PID] = _IO(PIDFS_IOCTL_MAGIC, 5),
        [NAMESPACE_TIME] = _IO(PIDFS_IOCTL_MAGIC, 7),
        [NAMESPACE_USER] = _IO(PIDFS_IOCTL_MAGIC, 9),
        [NAMESPACE_UTS] = _IO(PIDFS_IOCTL_MAGIC, 10),
};

int namespace_of_pidfd(int pidfd, NamespaceType type) {
        int ns;

        assert(type >= 0 && type < _NAMESPACE_TYPE_MAX);
        ns = ioctl(pidfd, pidfd_namespace_ioctl[type], 0);
        if (ns < 0)
                /* ENOTTY or EINVAL: a kernel before 6.11, which cannot tell what a pidfd would join. */
                return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : -errno;
        /* The kernel hands it out close-on-exec already; make sure of it. */
        (void) fd_set_cloexec(ns, true);
        return ns;
}

typedef enum FdKind {
        FD_KIND_OTHER,
        FD_KIND_NAMESPACE,
        FD_KIND_PIDFD,
} FdKind;

/* The device of a file of ours, statted the ordinary way: these are the kernel's own file systems. */
static int own_device(int fd, dev_t *ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        *ret = st.st_dev;
        return 0;
}

/*
 * What a client's fd is, without ever asking the file system it lives on:
 * it may be on a FUSE mount whose server never answers, and fstatfs() or a
 * plain fstat() there sends a request and blocks the daemon's only thread.
 *
 * readlink() of /proc/self/fd/N is d_path() and nothing else: it walks the
 * dentry cache, and only the kernel's pseudo file systems name a file
 * themselves (nsfs "net:[4026531840]", pidfds "anon_inode:[pidfd]", also
 * with pidfs), everything else reads as a path starting with "/". Only an
 * fd that names itself like a namespace or a pidfd is statted at all, with
 * statx(AT_STATX_DONT_SYNC) asking for nothing but the type, and its device
 * must be the one of the daemon's own /proc/self/ns/user (nsfs) or of a
 * pidfd of the daemon itself (pidfs, anon_inodefs before 6.9): each of them
 * has a single superblock, so a name alone can never pass for one. Only
 * then may the caller send the fd an ioctl, whose number could mean
 * something else entirely to a device.
 */
static int fd_kind(int fd, FdKind *ret) {
        _cleanup_close_ int self_ns = -EBADF, self_pidfd = -EBADF;
        char path[64], target[64];
        struct statx sx = {};
        dev_t dev, want = 0;
        bool pidfd;
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;

        pidfd = streq(target, "anon_inode:[pidfd]");
        if (!pidfd && (target[0] == '/' || !strstr(target, ":[") || strncmp(target, "anon_inode:", 11) == 0)) {
                *ret = FD_KIND_OTHER;
                return 0;
        }

        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) < 0)
                return -errno;
        dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);

        if (pidfd) {
                self_pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
                if (self_pidfd < 0)
                        return -errno;
                fd_set_cloexec(self_pidfd, true);
                r = own_device(self_pidfd, &want);
        } else {
                self_ns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
                if (self_ns < 0)
                        return -errno;
                r = own_device(self_ns, &want);
        }
        if (r < 0)
                return r;

        *ret = dev != want ? FD_KIND_OTHER : pidfd ? FD_KIND_PIDFD : FD_KIND_NAMESPACE;
        return 0;
}

int namespace_fd_open(int fd, NamespaceType type, int *ret_ns) {
        FdKind kind;
        int ns, r;

        if (fd < 0 || type < 0 || type >= _NAMESPACE_TYPE_MAX || !ret_ns)
                return -EINVAL;

        r = fd_kind(fd, &kind);
        if (r < 0)
                return r;

        switch (kind) {
        case FD_KIND_NAMESPACE: {
                int nstype = ioctl(fd, NS_GET_NSTYPE, 0);
                if (nstype < 0)
                        return -errno;
                if ((unsigned long) nstype != namespace_type_to_clone_flag(type))
                        return -EINVAL;
                ns = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (ns < 0)
                        return -errno;
                break;
        }
        case FD_KIND_PIDFD:
                ns = namespace_of_pidfd(fd, type);
                if (ns < 0)
                        return ns;
                break;
        default:
                return -EINVAL;
        }

        *ret_ns = ns;
        return 0;
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether uid owns the ancestor of the user namespace userns_fd directly below the daemon's. */
static int uid_owns_userns(int userns_fd, uid_t uid) {
        _cleanup_close_ int self = -EBADF, cur = -EBADF;
        struct stat self_st;

        self = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        if (fstat(self, &self_st) < 0)
                return -errno;

        cur = fcntl(userns_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;

        for (unsigned depth = 0; depth < USERNS_DEPTH_MAX; depth++) {
                _cleanup_close_ int parent = -EBADF;
                struct stat st;
                uid_t owner = (uid_t) -1; /* valgrind cannot see NS_GET_OWNER_UID write it */

                if (fstat(cur, &st) < 0)
                        return -errno;
                if (same_inode(&st, &self_st))
                        return -EPERM; /* the daemon's own namespace: only root has rights there */

                parent = ioctl(cur, NS_GET_PARENT, 0);
                if (parent < 0)
                        return errno == EPERM ? -EPERM : -errno; /* EPERM: outside the daemon's namespace */
                if (fstat(parent, &st) < 0)
                        return -errno;

                if (same_inode(&st, &self_st)) {
                        if (ioctl(cur, NS_GET_OWNER_UID, &owner) < 0)
                                return -errno;
                        return owner == uid ? 0 : -EPERM;
                }

                safe_close(cur);
                cur = TAKE_FD(parent);
        }
        return -EPERM;
}

int namespace_fd_owned_by(int ns_fd, NamespaceType type, uid_t uid) {
        _cleanup_close_ int userns = -EBADF;

        /* To join a user namespace one needs capabilities in it; for any other type, in its owner. */
        if (type == NAMESPACE_USER)
                return uid_owns_userns(ns_fd, uid);

        userns = ioctl(ns_fd, NS_GET_USERNS, 0);
        if (userns < 0)
                return errno == EPERM ? -EPERM : -errno;
        fd_set_cloexec(userns, true);
        return uid_owns_userns(userns, uid);
}

int namespace_fd_user_namespace_below(int fd, int ancestor_fd) {
        _cleanup_close_ int self = -EBADF, cur = -EBADF;
        struct stat want, st;
        FdKind kind;
        int r;

        r = fd_kind(fd, &kind);
        if (r < 0)
                return r;
        if (kind != FD_KIND_NAMESPACE || ioctl(fd, NS_GET_NSTYPE, 0) != CLONE_NEWUSER)
                return -EINVAL;

        if (ancestor_fd < 0) {
                self = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
                if (self < 0)
                        return -errno;
                ancestor_fd = self;
        }
        if (fstat(ancestor_fd, &want) < 0)
                return -errno;

        cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        for (unsigned depth = 0; depth < USERNS_DEPTH_MAX; depth++) {
                _cleanup_close_ int parent = ioctl(cur, NS_GET_PARENT, 0);

                /* EPERM: the top, or outside the daemon's user namespace. */
                if (parent < 0)
                        return errno == EPERM ? -ENOENT : -errno;
                if (fstat(parent, &st) < 0)
                        return -errno;
                if (same_inode(&st, &want))
                        return 0;
                safe_close(cur);
                cur = TAKE_FD(parent);
        }
        return -ENOENT;
}

#ifndef NS_GET_TGID_FROM_PIDNS
#define NS_GET_TGID_FROM_PIDNS _IOR(0xb7, 0x7, int)
#endif

int pid_namespace_kill(int ns_fd) {
        _cleanup_close_ int pidfd = -EBADF, pid_ns = -EBADF;
        struct stat want, got;
        int pid;

        pid = ioctl(ns_fd, NS_GET_TGID_FROM_PIDNS, 1);
        if (pid < 0)
                return errno == ESRCH ? 0 : errno == ENOTTY ? -EOPNOTSUPP : -errno;
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        pid_ns = namespace_of_pidfd(pidfd, NAMESPACE_PID);
        if (pid_ns < 0)
                return pid_ns == -ESRCH ? 0 : pid_ns;
        if (fstat(ns_fd, &want) < 0 || fstat(pid_ns, &got) < 0)
                return -errno;
        /* Another process that took the pid after pid 1 ended is in another namespace. */
        if (want.st_ino != got.st_ino || want.st_dev != got.st_dev)
                return 0;
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return -errno;
        return 0;
}
