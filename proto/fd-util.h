/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers: closing safely, flags, and cleanup handlers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* Closes fd if it is valid, preserving errno; always returns -EBADF so callers can write fd = safe_close(fd). */
int safe_close(int fd);

/* Closes every valid fd in the array and sets each to -EBADF. */
void close_many(int *fds, size_t n);

/*
 * Who disposes of fds a piece of code is done with. close() can block on an
 * fd someone else sent (a lingering socket, a FUSE file): code that must not
 * block hands such fds to its owner's closer instead. A NULL closer, or one
 * without a function, means close() right away.
 */
typedef struct FdCloser {
        void (*close)(int fd, void *userdata); /* takes fd */
        void *userdata;
} FdCloser;

/* Disposes of fd through closer (if fd is valid); returns -EBADF, like safe_close(). */
int fd_closer_close(const FdCloser *closer, int fd);
/* The same for each fd of the array, setting each to -EBADF. */
void fd_closer_close_many(const FdCloser *closer, int *fds, size_t n);

static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Called on each fd field of a structure that holds several (owned: the structure closes it when freed);
 * may change the field, to another number or to -EBADF. */
typedef void (*FdVisitor)(int *fd, bool owned, void *userdata);

int fd_set_nonblock(int fd, bool nonblock);
int fd_set_cloexec(int fd, bool cloexec);

/*
 * One sendmsg() of size bytes of data with n_fds fds (SCM_RIGHTS, at most FD_SEND_MAX; none without),
 * flags as sendmsg()'s (MSG_NOSIGNAL is added). Retries EINTR, allocates nothing and is async-signal-safe,
 * for a spawn child too. 0 once all of data went, -EIO on a short send, -EINVAL past FD_SEND_MAX, -errno.
 */
#define FD_SEND_MAX 253 /* the kernel's SCM_MAX_FD */
int fd_send(int sock, const void *data, size_t size, const int *fds, size_t n_fds, int flags);

/*
 * One recvmsg() of at most size bytes into data, with at most max_fds fds (SCM_RIGHTS, close-on-exec) into
 * fds and their count into *ret_n_fds; flags as recvmsg()'s (MSG_CMSG_CLOEXEC is added). Retries EINTR. The
 * bytes received (0 at the peer's close, with no fds), or -errno: -EMSGSIZE when the message or its fds did
 * not fit (every fd that came is closed then), -EAGAIN when MSG_DONTWAIT found nothing.
 */
ssize_t fd_recv(int sock, void *data, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds, int flags);

/* Duplicates fd with O_CLOEXEC to a number >= 3, so it can never be mistaken for stdio. */
int fd_dup_cloexec(int fd);

/* Counts the open fds of the calling process (via /proc/self/fd); for leak checks in tests and stats. */
int fd_count_open(void);
