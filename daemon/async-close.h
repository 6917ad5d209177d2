/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing fds, and reaping children, off the event loop. close() of an fd a
 * client sent can block: a TCP socket with SO_LINGER and unsent data waits
 * for its peer (here for BOUNDED_CLOSE_GRACE_MSEC at most: bounded-close.h),
 * a file on a FUSE mount the client serves waits for its FLUSH answer
 * (uninterruptibly, as long as the client likes), and closing a unix socket
 * with such fds still queued releases them in the closing thread. So the
 * loop never closes a client's fd: it hands it here, to be closed by a
 * worker thread, as systemd's asynchronous_close() does.
 *
 * Each owner (the uid the fd came from) has its own lane, worked through in
 * order by at most one worker at a time: a close that never returns holds up
 * its own owner's fds and one worker, nobody else's. Workers are started on
 * demand, at most max_workers at once, and exit when no lane has work; a
 * lane waits for a free worker when all are busy. How many of an owner's fds
 * are not closed yet is counted, so the caller can bound what one owner makes
 * the daemon hold (see server_user_over_budget()).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

typedef struct AsyncCloser AsyncCloser;

int async_closer_new(unsigned max_workers, AsyncCloser **ret);

/* How long async_closer_free() waits for queued fds to leave the table (async_closer_release_queued()). */
#define ASYNC_CLOSER_RELEASE_MSEC 1000U

/*
 * Forgets the closer. Fds still queued go to helpers of their own first
 * (async_closer_release_queued()); the closer itself stays while a worker is
 * waiting for a stuck close: the last worker to finish frees it.
 */
AsyncCloser *async_closer_free(AsyncCloser *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AsyncCloser *, async_closer_free);

/*
 * Queues fd for closing in owner's lane; takes it in every case and never
 * blocks (the queue's lock is only held for list updates). Returns 0, or a
 * negative errno if the fd is queued but no worker could be started yet
 * (one is started by a later call or when a busy worker finishes). Should
 * even the queue entry fail to allocate, the fd is closed right here: under
 * memory exhaustion the daemon cannot keep serving anyway.
 */
int async_close(AsyncCloser *c, uid_t owner, int fd);

/*
 * Waits (in a worker) for the child behind pidfd to exit, reaps it and closes
 * pidfd; the caller has killed it. For a child that may be stuck in the kernel
 * (a FUSE request, an uninterruptible wait), which SIGKILL does not end at
 * once: waitid() on the loop would wait with it. Same rules as async_close().
 */
int async_reap(AsyncCloser *c, uid_t owner, int pidfd);

/*
 * Starts a worker for fds that are queued with none to close them, where there is room for one: no worker
 * could be started when they were queued (the daemon's pids limit was full), and the ones there are serve
 * other lanes, maybe for good (a stuck close). Returns 1 if that start failed too (the caller tries again a
 * while later: nothing else would until a later async_close()), else 0.
 */
int async_closer_kick(AsyncCloser *c);

/*
 * For a daemon about to exec or exit, whose exec or exit would close in its own thread what is still queued
 * (and a FUSE file among it would hold the exec, or the exit, until its server answers): every fd queued and
 * not being closed yet goes to a helper process of its own (bounded-close.h), all at once, and this returns
 * once each is out of the daemon's table (its helper done, or asleep in its close), or after timeout_msec.
 * Returns how many may still be in the table then. Pidfds queued to be reaped stay queued (closing one
 * cannot wait). Helpers stuck in a close stay children of the process, unreaped.
 */
size_t async_closer_release_queued(AsyncCloser *c, unsigned timeout_msec);

/* async_close() for each valid fd of the array; sets each to -EBADF. */
void async_close_many(AsyncCloser *c, uid_t owner, int *fds, size_t n);

/* The fds of owner that are queued or being closed. */
size_t async_closer_pending(AsyncCloser *c, uid_t owner);

/* All fds queued or being closed, and the workers running (for status and tests). */
void async_closer_stats(AsyncCloser *c, size_t *ret_pending, unsigned *ret_workers);
