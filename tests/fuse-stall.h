/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test support: FUSE file systems that never answer, to prove a call sends no
 * request to the file system of the fd it is given, and to make close() of a
 * client's fd block as a client's FUSE server can make it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef int (*StallFn)(int fd);

/*
 * Runs fn(root fd of a FUSE mount whose server answers INIT and then nothing)
 * in a child with its own mount namespace, and asserts that fn returned 0
 * without any request reaching that file system (it would block forever).
 */
void test_assert_no_fuse_request(StallFn fn);

/* A FUSE mount holding one regular file whose FLUSH (sent by every close()) is never answered for one process. */
typedef struct FuseStallFile {
        pid_t server;   /* serves the mount in its own mount namespace */
        char dir[64];   /* the mount point (empty on the host) */
        int stalled_fd; /* one byte each time the server leaves a FLUSH unanswered */
} FuseStallFile;

/*
 * Starts the server and returns an fd of its file (O_RDWR | O_CLOEXEC). Every
 * request is answered except FLUSH from stall_pid's threads and its
 * descendants: their close() of the file blocks, uninterruptibly, until
 * fuse_stall_file_stop(). Anyone else may close it freely.
 */
int fuse_stall_file_open(FuseStallFile *f, pid_t stall_pid);

/* Waits up to timeout_msec for the server to leave one more FLUSH unanswered: someone is stuck in close(). */
bool fuse_stall_file_wait_stalled(FuseStallFile *f, int timeout_msec);

/* Kills the server, which aborts the connection: every stalled close returns. Safe to call twice. */
void fuse_stall_file_stop(FuseStallFile *f);
