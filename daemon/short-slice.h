/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A short EEVDF time slice for the daemon's threads that are woken by a
 * sandbox's process and must run at once (the loop thread, the spawn
 * workers), their weight (nice) unchanged.
 *
 * A woken thread with the default slice (1.4 ms on a 2-CPU machine) often
 * does not preempt the process that woke it: it waits runnable behind that
 * process's exec and start, on the same CPU, while the scheduler keeps it off
 * the other one as cache-hot. A short slice gives it an early virtual
 * deadline, so it runs at once, for no more CPU than before (Linux 6.12 and
 * later; older kernels ignore a custom slice for SCHED_OTHER).
 *
 * SCHED_FLAG_RESET_ON_FORK keeps the slice from whatever the thread clones or
 * forks, threads and sandboxes alike: they get the default.
 */
#pragma once

/* The calling thread's slice, in ns: the least the kernel takes (it clamps a custom slice to 0.1-100 ms). */
#define SHORT_SLICE_NSEC UINT64_C(100000)

/* Gives the calling thread SHORT_SLICE_NSEC; what names it in the debug message if the kernel refuses. */
void thread_take_short_slice(const char *what);
