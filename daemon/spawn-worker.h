/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clone3() with CLONE_VM | CLONE_VFORK, from worker threads: the spawn child
 * borrows the daemon's memory instead of copying it (no page tables copied,
 * no copy-on-write faults in the loop afterwards, nothing torn down at
 * execve()), the way posix_spawn() does it. Such a child runs on the TLS of
 * the thread that cloned it, which is only safe while that thread is
 * suspended (CLONE_VFORK) until the child exec'd or died; a worker thread
 * does the waiting, so the caller's thread (the loop) goes on. A child stuck
 * before execve() holds one worker, never the loop. A worker has an fd table
 * of its own, so the child copies only the fds its plan names, not one per
 * live sandbox. See docs/architecture.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spawn.h"

typedef struct SpawnWorkerCall {
        uint64_t flags;  /* CLONE_* for clone3(); CLONE_VM, CLONE_VFORK and CLONE_PARENT_SETTID are added */
        int cgroup_fd;   /* CLONE_INTO_CGROUP when >= 0; borrowed until spawn_worker_clone() returns */
        /* A read end of a pipe whose write end only the child (and what it starts before execve() on the
         * same memory) holds: the worker reuses the memory (the child's stack, userdata) only once it has
         * no writer left. Borrowed until spawn_worker_clone() returns (the worker keeps a copy). */
        int report_fd;
        /* In the worker's thread, just around clone3(): per-thread state the child is to be born with
         * (credentials, the pid namespace for children). before() returns 0, or -errno with *error filled
         * (then nothing is cloned); after() runs whenever before() succeeded. before() first renumbers
         * every fd the child will use with spawn_worker_take_fd(): the worker's fd table is its own. */
        int (*before)(void *userdata, SpawnError *error);
        void (*after)(void *userdata);
        /* The child, on a stack of its own, sharing the daemon's memory; never returns. It may only make
         * system calls and async-signal-safe calls, and must not write memory anyone else reads. */
        _noreturn_ void (*child)(void *userdata);
        /* In the worker's thread once nothing runs on the memory any more (or nothing was cloned): the
         * userdata is the worker's to free. cloned says whether a child was made. */
        void (*done)(void *userdata, bool cloned);
        void *userdata;
} SpawnWorkerCall;

/*
 * Hands the call to a worker and returns once the child exists (its pid and a pidfd in *ret_pid,
 * *ret_pidfd) or the clone failed (-errno, *ret_error filled). From the moment it is called, userdata
 * belongs to the call: done() is called exactly once, in the worker, whatever happens, except when this
 * returns -EBUSY (no worker could be had: every one is held by a child that has not exec'd, or a thread
 * could not be made), when nothing was done and the caller keeps userdata. Never waits for the child
 * itself: one stopped before its first instruction is noticed by its pid (CLONE_PARENT_SETTID).
 */
int spawn_worker_clone(const SpawnWorkerCall *call, pid_t *ret_pid, int *ret_pidfd, SpawnError *ret_error);

/*
 * In a worker (within before()): the worker's copy of the daemon's fd, pulled into the worker's own table
 * once per job (the same copy for the same fd) and closed by the worker: the child's ends right after it
 * exec'd or died, the rest when the job is done. Elsewhere, fd itself. -errno on failure.
 */
int spawn_worker_take_fd(int fd);

/*
 * Starts the thread that starts the workers (0 or -errno; until it ran, every spawn is forked). Call it
 * before the process holds any fd a caller controls: it closes its copies of the process's fds, and
 * closing one can block (a FUSE file).
 */
int spawn_worker_setup(void);

/* Whether this build can clone that way at all (the child's entry needs a few lines of assembly). */
bool spawn_worker_supported(void);

/* The workers' thread name (comm). */
#define SPAWN_WORKER_NAME "nsbox-spawn"

/* How many worker threads exist and how many of them are idle, for tests. */
void spawn_worker_stats(unsigned *ret_workers, unsigned *ret_idle);
