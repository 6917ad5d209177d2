/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the fd helpers. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
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
