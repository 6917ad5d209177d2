/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clone3() with CLONE_VM and CLONE_VFORK, from worker threads: the spawn
 * child borrows the daemon's memory instead of copying it (no page tables
 * copied, no copy-on-write faults in the loop afterwards, nothing torn down
 * at execve()), the way posix_spawn() does it, on a stack of its own at the
 * low end of its worker's, while the worker waits suspended until the
 * child's execve() or exit. Suspended so, the child is never the OOM
 * killer's victim, which would take down every process on its memory, the
 * daemon included. The child shares its worker's fd table, which holds only
 * the fds its plan names (not one per live sandbox), until its exec: what it
 * closes before is closed for good. A child stuck before execve() holds one
 * worker, never the loop, and no longer than the call's timeout.
 * See docs/architecture.md.
 */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spawn.h"

typedef struct SpawnWorkerCall {
        uint64_t flags;  /* CLONE_* for clone3(); CLONE_VM, CLONE_VFORK, CLONE_FILES, CLONE_PARENT_SETTID are added */
        int cgroup_fd;   /* CLONE_INTO_CGROUP when >= 0; borrowed until spawn_worker_clone() returns */
        /* Every other fd before() will take with spawn_worker_take_fd() (negative entries are skipped),
         * borrowed until spawn_worker_clone() returns: where the workers cannot copy fds from the daemon's
         * table (spawn_worker_fds_by_socket()), these are sent to the worker with the call, and one missing
         * here cannot be taken. At most FD_SEND_MAX - 1 (with cgroup_fd); more, and the caller forks. */
        const int *fds;
        size_t n_fds;
        /* Milliseconds the child may run on the daemon's memory (until its execve() or exit), from the
         * worker's clone3(), before it is killed with SIGKILL (0: no limit). Not less than the caller's own
         * deadline for the spawn: the caller may be waiting on purpose. */
        unsigned timeout_msec;
        /* With timeout_msec 0: where the caller may set a limit later (atomically, once; 0 until then), as a
         * warm-pool entry's holder does when it hands the entry a request. It is looked at every second,
         * and counted from when it is seen. NULL: no limit ever. */
        const unsigned *armed_timeout_msec;
        /* In the worker's thread, just around clone3(): per-thread state the child is to be born with
         * (credentials, the pid namespace for children). before() returns 0, or -errno with *error filled
         * (then nothing is cloned); after() runs whenever before() succeeded, once the child exec'd or
         * exited. before() first renumbers every fd the child will use with spawn_worker_take_fd(): the
         * child shares the worker's fd table until its exec. */
        int (*before)(void *userdata, SpawnError *error);
        void (*after)(void *userdata);
        /* The child, on a stack of its own, sharing the daemon's memory; never returns. It may only make
         * system calls and async-signal-safe calls. Every process it starts before execve() on the same
         * memory must be a vfork child too (CLONE_VFORK), or the OOM killer may pick it. */
        _noreturn_ void (*child)(void *userdata);
        /* In the worker's thread once the child exec'd or exited (or nothing was cloned): the userdata is
         * the worker's to free. cloned says whether a child was made. */
        void (*done)(void *userdata, bool cloned);
        void *userdata;
        /* A system call filter the child is to be born with, or NULL: the call goes to a worker that loaded
         * it on its own thread (for good: every call must pass the same filter, the daemon's default
         * profile, and it must deny nothing the worker and before() call), so the child inherits it and
         * the kernel builds it once per worker instead of once per child. flags are seccomp(2)'s. Whether
         * the child has it, before() learns from spawn_worker_filtered(). */
        const struct sock_filter *filter;
        unsigned short n_filter;
        unsigned filter_flags;
        /* Whose call it is (the caller's uid; a warm-pool entry's, the uid it is kept for); root's is not
         * counted. One owner's calls hold at most SPAWN_WORKERS_PER_OWNER_MAX workers at once, from the call
         * until the worker is free again: a worker may stay busy after the spawn was answered (its last close
         * of a caller's FUSE file waits for the server's answer), and no one user may take every worker, and
         * with them the warm pool, from the others. Past that, spawn_worker_clone() returns -EBUSY and the
         * caller forks. */
        uid_t owner;
} SpawnWorkerCall;

#define SPAWN_WORKERS_PER_OWNER_MAX 32U

/*
 * Hands the call to a worker and returns once the child exists (its pid and a pidfd in *ret_pid,
 * *ret_pidfd) or the clone failed (-errno, *ret_error filled). From the moment it is called, userdata
 * belongs to the call: done() is called exactly once, in a worker (or in the thread that could not start
 * one), whatever happens, except when this returns -EBUSY (no worker could be had: every one is held by a
 * child that has not exec'd, the call's owner holds its share, a thread could not be made, or the fds could
 * not be sent), when nothing was done and the caller keeps userdata. Never waits for the child itself: one
 * stopped before its first instruction is noticed by its pid (CLONE_PARENT_SETTID).
 */
int spawn_worker_clone(const SpawnWorkerCall *call, pid_t *ret_pid, int *ret_pidfd, SpawnError *ret_error);

/*
 * Hands the watchdog the children spawn_worker_clone() made that are still on the daemon's memory (those
 * with a timeout to keep): with all, every one; otherwise those a previous call saw already, so that a child
 * is handed over at the second call after its clone, if it is still there. The caller calls it at the end of
 * each of its loop's iterations, where the spawn's own path (its release, its reply) is done and a child
 * that exec'd at once is gone, and with all when it stops; until a child is handed over, the caller's own
 * deadline is what ends one that does not exec, and the caller's next iteration is never far off while it
 * has a spawn in flight (its report pipe, its timer). spawn_worker_clone() only forgets the watches of
 * children that left, never hands one over. The caller's thread.
 */
void spawn_worker_flush_watches(bool all);

/*
 * In a worker (within before()): the worker's copy of the daemon's fd, pulled into the worker's own table
 * once per job (the same copy for the same fd), which the child shares until its exec; what is left of it
 * then the worker closes. Elsewhere, fd itself. -errno on failure: -EBADF where fds come by socket and fd
 * was not in the call's list.
 */
int spawn_worker_take_fd(int fd);

/*
 * In a worker (within before()): *fd, a copy spawn_worker_take_fd() returned, is one of the daemon's own ends
 * (a pipe's, a socketpair's) whose EOF the spawn's answer waits for. The worker closes it itself as soon as
 * the child exec'd or exited, before the rest of its table goes to a helper process (bounded-close.h), whose
 * start would delay the EOF: at the number *fd then holds (the child may move it), if that is still the same
 * file. At most two per job; 0 or -errno (a negative *fd is skipped).
 */
int spawn_worker_close_first(const int *fd);

/* In a worker (within before()): whether its thread has the call's filter loaded, which the child then
 * inherits (a worker that failed to load it serves the call without). Elsewhere false. */
bool spawn_worker_filtered(void);

/*
 * Starts the thread that starts the workers (0 or -errno; until it ran, every spawn is forked). Call it
 * before the process holds any fd a caller controls: it closes its copies of the process's fds, and
 * closing one can block (a FUSE file).
 */
int spawn_worker_setup(void);

/* Whether spawn_worker_setup() started the workers' thread: without it every spawn is forked. */
bool spawn_worker_running(void);

/*
 * Whether the workers get the calls' fds sent over a socket (SpawnWorkerCall.fds), because a system call
 * filter refuses pidfd_getfd() here: then each worker serves one call that cloned and is replaced by a fresh
 * thread (a thread's start per spawn, still far less than forking the daemon). False without workers.
 */
bool spawn_worker_fds_by_socket(void);

/* Whether this build can clone that way at all (the child's entry needs a few lines of assembly). */
bool spawn_worker_supported(void);

/* The workers' thread name (comm). */
#define SPAWN_WORKER_NAME "nsbox-spawn"

/* How many worker threads exist and how many of them are idle, for tests. */
void spawn_worker_stats(unsigned *ret_workers, unsigned *ret_idle);

/* How many workers owner's calls hold now (SpawnWorkerCall.owner), for tests. */
unsigned spawn_worker_owner_busy(uid_t owner);
