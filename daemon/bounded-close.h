/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing a caller's fd in a process of its own, so that no thread of the
 * daemon ever waits on it uninterruptibly.
 *
 * A close can wait on the caller: the last close of a TCP socket with
 * SO_LINGER and unsent data waits for the peer to take the data, as long as
 * the linger asks (an hour, or for ever), and so does the last close of one
 * in flight inside a unix socket being closed; every close of a file on a
 * FUSE mount waits for the server's answer to its FLUSH, and once the
 * request is sent that wait is uninterruptible, for as long as the server
 * likes. A thread stuck there would hold more than itself: execve() and the
 * process's exit both wait for every thread of the group to end, so the
 * daemon could neither re-execute itself nor stop.
 *
 * So the close itself runs in a helper: a process (not a thread: it is no
 * member of the daemon's thread group) cloned onto the daemon's memory and
 * the calling thread's fd table (CLONE_VM | CLONE_FILES), whose only work is
 * that close and its exit, written in assembly so that it touches no stack,
 * TLS or errno of the thread that made it. What the close removes from the
 * table it removes from the caller's, as the caller's own close() would.
 * The calling thread waits for the helper interruptibly (on a futex),
 * so a stop or a re-exec kills it at once; the helper is left stuck where
 * the kernel holds it, alone, and ends when the close does.
 *
 * The wait is bounded for a lingering socket: once the helper has slept
 * BOUNDED_CLOSE_GRACE_MSEC in its close, it gets SIGKILL, and a pending
 * fatal signal ends a lingering close at once (the kernel goes on sending
 * the data, and the FIN after it, as for any orphaned socket). A FUSE flush
 * ignores it: the calling thread waits on, as before, but killably. Either
 * way the calling thread returns only once the helper is gone, so that a
 * caller's closes (an owner's lane, a spawn worker's table) stay in order
 * and one caller holds at most one helper per such thread.
 *
 * Where no helper can be made (the daemon's pids limit is full), the thread
 * tries again with a backoff, sleeping interruptibly: it never closes such
 * an fd itself. Where the architecture has no helper (not x86-64), the thread
 * closes it itself, unbounded.
 *
 * Not done here: the spawn child's own closes before its exec (what its plan
 * does not keep, a block fd once read), which the spawn's timeout ends by
 * killing the child, a process of its own already.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOUNDED_CLOSE_GRACE_MSEC 100
/* A helper's name (comm), as ps shows one stuck in a close. */
#define BOUNDED_CLOSE_HELPER_NAME "nsbox-close"

/* close(fd) and close_range(first, ~0U, 0) in a helper, as above; return once it is done (or stuck in a
 * FUSE flush that nobody answers, killably, for as long as that lasts). */
void bounded_close(int fd);
void bounded_close_range(unsigned first);

/*
 * For a daemon about to exec or exit, whose exec or exit would close in the calling thread whatever is left in
 * its table: closes each of fds[0..n) in a helper of its own, all at once, and returns once each is out of the
 * table (its helper done, or asleep in its close, which takes the fd out first), or after timeout_msec.
 * ret_started[i] says whether fds[i] went to a helper (else it is left open, as it was: no helper could be
 * made). Returns how many of those that went may still be in the table. A helper found asleep in its close
 * gets SIGKILL at once (a lingering socket lets go then) and is reaped if it ends within a grace period; one
 * stuck in a FUSE flush is left there, for bounded_close_reap_helpers().
 */
size_t bounded_close_many_at_once(const int *fds, size_t n, unsigned timeout_msec, bool *ret_started);

/*
 * Reaps the helpers that ended with nobody waiting for them: one bounded_close_many_at_once() left stuck, or
 * whose thread an exec or exit killed (after a re-exec they are children of the new image). Never blocks; the
 * daemon calls it every few seconds. A thread still waiting for its own helper finds it reaped, which is fine:
 * it only kills a helper whose exit word says it has not exited.
 */
void bounded_close_reap_helpers(void);
