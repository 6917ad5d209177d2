/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers: closing safely, flags, and cleanup handlers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Closes fd if it is valid, preserving errno; always returns -EBADF so callers can write fd = safe_close(fd). */
int safe_close(int fd);

/* Closes every valid fd in the array and sets each to -EBADF. */
void close_many(int *fds, size_t n);

static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

int fd_set_nonblock(int fd, bool nonblock);
int fd_set_cloexec(int fd, bool cloexec);

/* Duplicates fd with O_CLOEXEC to a number >= 3, so it can never be mistaken for stdio. */
int fd_dup_cloexec(int fd);

/* Counts the open fds of the calling process (via /proc/self/fd); for leak checks in tests and stats. */
int fd_count_open(void);
