/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The loop of a sandbox's init, once the command runs: reap every child,
 * forward every signal to the command, exit as the command did. Shared by
 * the init the spawn child becomes (sandbox-init.c) and by the small program
 * it execs to shed the daemon's memory (nsbox-init.c).
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* How init hands its system call filters over to the nsbox-init program, in a memfd: per program this
 * header, then n_filter struct sock_filter. index is -1 for the compiled profile, else the
 * seccompFileDescriptors index (for the error message). */
typedef struct InitFilterHeader {
        uint32_t flags;
        uint16_t n_filter;
        int16_t index;
} InitFilterHeader;

/*
 * What init writes, in one write (atomic on a pipe), on the pipe its command waits on before its execve()
 * (SpawnPlan.command_awaits_init_filters): error 0 once init's filters are loaded, and the command goes on;
 * else the errno of the one that did not load and its index (as InitFilterHeader's), which the command
 * reports as the spawn's error (stage "seccomp", naming the program) before it exits. A write no filter can
 * fake, where one can make close() return 0 without closing.
 */
typedef struct InitFiltersLoaded {
        int32_t error;
        int32_t index;
} InitFiltersLoaded;

/*
 * The nsbox-init program also copies a "file" or "bind-data" entry's contents for the spawn child:
 * `nsbox-init --copy FROM TO` copies fd FROM, from its position, into fd TO, at most INIT_COPY_SIZE_MAX
 * bytes, and exits 0, or with the errno that stopped it (EFBIG past the limit). The child on the daemon's
 * memory cannot copy them itself: a page written to a tmpfs is charged to the memory cgroup of its writer's
 * memory, which would be the daemon's, not the sandbox's (mount-setup.c).
 */
#define INIT_COPY_OPTION "--copy"
#define INIT_COPY_SIZE_MAX (64ULL * 1024 * 1024)

/* Ends init with status: exit_group(), and a fault should a filter fail it. */
_noreturn_ void init_exit(int status);

/* Tells the command through fd: 0, or -errno (also for a short write). */
int init_tell_command(int fd, int error, int index);

/*
 * For an init whose filters did not load: tells the command through fd (when >= 0) which and why, waits
 * for it to report that and exit, then exits 127, which ends the sandbox. Kills the command at once when it
 * cannot be told.
 */
_noreturn_ void init_fail_filters(int fd, pid_t command, int error, int index);

/* The mask init reads through its signalfd: every signal it forwards, and SIGCHLD. Without the signals the
 * libc keeps for itself, which sigaddset() refuses (glibc 32 and 33). */
void init_signal_mask(sigset_t *ret);

/*
 * Adds those (every forwarded signal, through the system calls) to the blocked mask and to sfd's, so they
 * are forwarded too: for the nsbox-init program, whose libc uses none of them. Until then, one sent to
 * init takes its default action: ignored by the kernel for a pid 1, the end of init otherwise.
 */
void init_forward_reserved_signals(int sfd);

/*
 * Never returns. sfd is a signalfd for init_signal_mask(), with every one of
 * those signals blocked. Exit status: the command's exit code; if the command
 * died of a signal, init dies of the same signal, except as pid 1 (the
 * kernel never lets pid 1 die of a signal it sends itself): 128 + the signal.
 */
_noreturn_ void init_supervise(int sfd, pid_t command);
