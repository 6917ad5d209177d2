/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the fd helpers. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"

Test(fd_util, safe_close_keeps_errno_and_returns_ebadf) {
        int p[2];

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        errno = 42;
        cr_assert_eq(safe_close(p[0]), -EBADF);
        cr_assert_eq(errno, 42);
        cr_assert_eq(fcntl(p[0], F_GETFD), -1);
        cr_assert_eq(safe_close(-EBADF), -EBADF);
        cr_assert_eq(safe_close(-1), -EBADF);
        safe_close(p[1]);
}

Test(fd_util, close_many_resets_entries) {
        int fds[4] = { -EBADF }, before = fd_count_open();

        cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
        fds[2] = fd_dup_cloexec(fds[0]);
        fds[3] = -EBADF;
        cr_assert_eq(fd_count_open(), before + 3);
        close_many(fds, 4);
        for (size_t i = 0; i < 4; i++)
                cr_assert_eq(fds[i], -EBADF);
        cr_assert_eq(fd_count_open(), before);
        close_many(NULL, 3);
}

Test(fd_util, cleanup_closes) {
        int before = fd_count_open(), copy;

        {
                _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(fd, 0);
                cr_assert_eq(fd_count_open(), before + 1);
        }
        cr_assert_eq(fd_count_open(), before);

        {
                _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                copy = TAKE_FD(fd);
                cr_assert_eq(fd, -EBADF);
        }
        cr_assert_eq(fd_count_open(), before + 1);
        safe_close(copy);
}

Test(fd_util, flags) {
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY);

        cr_assert_geq(fd, 0);
        cr_assert_eq(fd_set_cloexec(fd, true), 0);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        cr_assert_eq(fd_set_cloexec(fd, true), 0);
        cr_assert_eq(fd_set_cloexec(fd, false), 0);
        cr_assert_not(fcntl(fd, F_GETFD) & FD_CLOEXEC);

        cr_assert_eq(fd_set_nonblock(fd, true), 0);
        cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
        cr_assert_eq(fd_set_nonblock(fd, false), 0);
        cr_assert_not(fcntl(fd, F_GETFL) & O_NONBLOCK);

        cr_assert_eq(fd_set_nonblock(-1, true), -EBADF);
        cr_assert_eq(fd_set_cloexec(-1, true), -EBADF);
        cr_assert_eq(fd_set_cloexec(9999, true), -EBADF);
}

Test(fd_util, dup_is_cloexec_and_above_stdio) {
        _cleanup_close_ int copy = -EBADF;
        int saved = fd_dup_cloexec(0);

        cr_assert_geq(saved, 3);
        /* With stdin closed, a plain dup would land on 0. */
        cr_assert_eq(close(0), 0);
        copy = fd_dup_cloexec(saved);
        cr_assert_geq(copy, 3);
        cr_assert(fcntl(copy, F_GETFD) & FD_CLOEXEC);
        cr_assert_eq(dup2(saved, 0), 0);
        safe_close(saved);
        cr_assert_eq(fd_dup_cloexec(-1), -EBADF);
}

Test(fd_util, count_open) {
        int before = fd_count_open(), p[2];

        cr_assert_gt(before, 0);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(fd_count_open(), before + 2);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

static void record_close(int fd, void *userdata) {
        int *seen = userdata;

        *seen = fd;
        safe_close(fd);
}

Test(fd_util, closer_disposes_through_its_function_or_closes) {
        int p[2], seen = -EBADF;
        FdCloser closer = { .close = record_close, .userdata = &seen };

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(fd_closer_close(&closer, p[0]), -EBADF);
        cr_assert_eq(seen, p[0]);
        cr_assert_eq(fcntl(p[0], F_GETFD), -1);

        /* No closer: close() at once. Invalid fds are not passed on. */
        cr_assert_eq(fd_closer_close(NULL, p[1]), -EBADF);
        cr_assert_eq(fcntl(p[1], F_GETFD), -1);
        seen = 0;
        fd_closer_close_many(&closer, (int[]) { -EBADF, -1 }, 2);
        cr_assert_eq(seen, 0);
}

static bool is_cloexec(int fd) {
        int flags = fcntl(fd, F_GETFD);

        cr_assert_geq(flags, 0);
        return flags & FD_CLOEXEC;
}

Test(fd_util, recv_takes_what_send_sent) {
        int sv[2], p[2], got[4];
        char buf[16] = {};
        size_t n_fds = 99;

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(fd_send(sv[0], "hello", 5, p, 2, 0), 0);
        cr_assert_eq(fd_recv(sv[1], buf, sizeof buf, got, ELEMENTSOF(got), &n_fds, 0), 5);
        cr_assert_str_eq(buf, "hello");
        cr_assert_eq(n_fds, 2U);
        /* The same pipe, close-on-exec on our side. */
        cr_assert(is_cloexec(got[0]) && is_cloexec(got[1]));
        cr_assert_eq(write(got[1], "x", 1), 1);
        cr_assert_eq(read(p[0], buf, 1), 1);
        close_many(got, 2);

        /* Nothing queued: -EAGAIN with MSG_DONTWAIT. The peer gone: 0 bytes, no fds. */
        cr_assert_eq(fd_recv(sv[1], buf, sizeof buf, got, ELEMENTSOF(got), &n_fds, MSG_DONTWAIT), -EAGAIN);
        sv[0] = safe_close(sv[0]);
        cr_assert_eq(fd_recv(sv[1], buf, sizeof buf, got, ELEMENTSOF(got), &n_fds, 0), 0);
        cr_assert_eq(n_fds, 0U);
        close_many(p, 2);
        close(sv[1]);
}

Test(fd_util, recv_closes_everything_of_a_message_that_does_not_fit) {
        int sv[2], p[2], got[1], before;
        char buf[4];
        size_t n_fds = 99;

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        before = fd_count_open();

        /* More fds than room: the ones taken are closed again. */
        cr_assert_eq(fd_send(sv[0], "ab", 2, p, 2, 0), 0);
        cr_assert_eq(fd_recv(sv[1], buf, sizeof buf, got, ELEMENTSOF(got), &n_fds, 0), -EMSGSIZE);
        cr_assert_eq(n_fds, 0U);
        cr_assert_eq(fd_count_open(), before);

        /* More bytes than room: the same. */
        cr_assert_eq(fd_send(sv[0], "abcdefgh", 8, p, 1, 0), 0);
        cr_assert_eq(fd_recv(sv[1], buf, sizeof buf, got, ELEMENTSOF(got), &n_fds, 0), -EMSGSIZE);
        cr_assert_eq(fd_count_open(), before);

        close_many(p, 2);
        close_many(sv, 2);
}
