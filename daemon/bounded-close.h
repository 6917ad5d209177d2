/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing a caller's fd without waiting out its linger.
 *
 * The last close of a TCP socket with SO_LINGER and unsent data waits for
 * the peer to take the data, as long as the linger asks (the kernel lets a
 * caller ask for an hour, or for ever), and so does the last close of one in
 * flight inside a unix socket being closed. When the daemon holds that last
 * reference, nobody waits on the close's result: the caller's own close,
 * had it been the last, would have held up the caller alone. A thread that
 * closes with these functions waits at most BOUNDED_CLOSE_GRACE_MSEC there:
 * a timer of its own then sends it a signal it unblocks only for the close,
 * and a pending signal ends a lingering close at once. The kernel goes on
 * sending the data, and the FIN after it, as for any orphaned socket.
 *
 * Not bounded: a flush to a FUSE server, which once interrupted waits
 * uninterruptibly for its answer; and the spawn child's own closes before
 * its exec (what its plan does not keep, a block fd once read), which the
 * spawn's timeout ends by killing the child.
 *
 * The threads using this block every signal otherwise, as the daemon's
 * helper threads do.
 */
#pragma once

#define BOUNDED_CLOSE_GRACE_MSEC 100

/* Process-wide, idempotent, before a thread closes with the functions below: the signal's handler (it does
 * nothing; the signal's arrival is the point). Returns 0 or -errno. */
int bounded_close_setup(void);

/* The calling thread's timer, aimed at itself; _done() deletes it. A thread without one (none could be
 * made, or none was asked for) closes as close() does. */
void bounded_close_thread_init(void);
void bounded_close_thread_done(void);

/* close(fd) and close_range(first, ~0U, 0), bounded as above. */
void bounded_close(int fd);
void bounded_close_range(unsigned first);
