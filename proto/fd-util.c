/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers shared by the daemon, the client library and the tests. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved_errno = errno;

                /* Linux always releases the fd, even when close() reports EINTR: never retry. */
                (void) close(fd);
                errno = saved_errno;
        }
        return -EBADF;
}

void close_many(int *fds, size_t n) {
        if (!fds)
                return;
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

int fd_closer_close(const FdCloser *closer, int fd) {
        if (fd < 0)
                return -EBADF;
        if (!closer || !closer->close)
                return safe_close(fd);

        int saved_errno = errno;
        closer->close(fd, closer->userdata);
        errno = saved_errno;
        return -EBADF;
}

void fd_closer_close_many(const FdCloser *closer, int *fds, size_t n) {
        if (!fds)
                return;
        for (size_t i = 0; i < n; i++)
                fds[i] = fd_closer_close(closer, fds[i]);
}

/* Sets or clears flag in what F_GETFL/F_GETFD returns; writes only when that changes something. */
static int fd_update_flag(int fd, int get_cmd, int set_cmd, int flag, bool on) {
        int flags, nflags;

        if (fd < 0)
                return -EBADF;

        flags = fcntl(fd, get_cmd, 0);
        if (flags < 0)
                return -errno;

        nflags = on ? (flags | flag) : (flags & ~flag);
        if (nflags == flags)
                return 0;

        if (fcntl(fd, set_cmd, nflags) < 0)
                return -errno;
        return 0;
}

int fd_set_nonblock(int fd, bool nonblock) {
        return fd_update_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, nonblock);
}

int fd_set_cloexec(int fd, bool cloexec) {
        return fd_update_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, cloexec);
}

int fd_send(int sock, const void *data, size_t size, const int *fds, size_t n_fds, int flags) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(FD_SEND_MAX * sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (n_fds > FD_SEND_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                memcpy(CMSG_DATA(cmsg), fds, n_fds * sizeof(int));
        }
        do
                n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t) n == size ? 0 : -EIO;
}

ssize_t fd_recv(int sock, void *data, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds, int flags) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(FD_SEND_MAX * sizeof(int))];
        } control;
        struct iovec iov = { .iov_base = data, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf };
        size_t n_fds = 0;
        bool overflow;
        ssize_t n;

        *ret_n_fds = 0;
        do
                n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        overflow = mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                size_t k;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                        if (n_fds < max_fds)
                                fds[n_fds++] = fd;
                        else {
                                (void) close(fd);
                                overflow = true;
                        }
                }
        }
        if (overflow) {
                close_many(fds, n_fds);
                return -EMSGSIZE;
        }
        *ret_n_fds = n_fds;
        return n;
}

int fd_dup_cloexec(int fd) {
        int r;

        if (fd < 0)
                return -EBADF;

        r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (r < 0)
                return -errno;
        return r;
}

int fd_count_open(void) {
        DIR *d;
        struct dirent *de;
        int n = 0;

        d = opendir("/proc/self/fd");
        if (!d)
                return -errno;

        errno = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                n++;
        }
        if (errno != 0) {
                int r = -errno;
                closedir(d);
                return r;
        }

        closedir(d);

        /* The directory stream's own fd was listed too. */
        return n - 1;
}
