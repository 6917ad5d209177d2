/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The supervising loop of a sandbox's init. Only syscalls and
 * async-signal-safe calls, no allocation: it runs in a fork of the daemon
 * too.
 */

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init-supervise.h"

/* Signals that report init's own faults are not forwarded: the kernel delivers those to init itself. */
static bool signal_is_forwarded(int sig) {
        switch (sig) {
        case SIGKILL:
        case SIGSTOP:
        case SIGCHLD:
        case SIGSEGV:
        case SIGBUS:
        case SIGILL:
        case SIGFPE:
        case SIGTRAP:
        case SIGSYS:
                return false;
        default:
                return true;
        }
}

void init_signal_mask(sigset_t *mask) {
        sigemptyset(mask);
        for (int sig = 1; sig < _NSIG; sig++)
                if (signal_is_forwarded(sig))
                        (void) sigaddset(mask, sig); /* glibc refuses its internal signals */
        sigaddset(mask, SIGCHLD);
}

/*
 * Init blocks every signal it has no handler for, so none of its system calls fails with EINTR, and nothing
 * here retries on it: once the caller's filters are loaded, one of them may answer any call with any
 * error, EINTR included, and a retry would spin on it for ever.
 */

_noreturn_ void init_exit(int status) {
        /* The system call, not a libc's _exit(), which loops on it (musl) where a filter fails it: then a
         * fault, which no filter stops and which ends even a pid 1 (the kernel lets a forced signal through). */
        (void) syscall(SYS_exit_group, status);
        for (;;)
                __builtin_trap();
}

/* Reaps every exited child; returns true if the command was among them, with its status in *ret. */
static bool reap_children(pid_t command, siginfo_t *ret) {
        bool found = false;

        for (;;) {
                siginfo_t si = {};

                /* Until init reaps the command it has a child: then it never fails (ECHILD included, a filter's).
                 * Failing, init could never learn of the command's end. */
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        if (found && errno == ECHILD)
                                break;
                        (void) kill(command, SIGKILL);
                        init_exit(128 + SIGKILL);
                }
                if (si.si_pid == 0)
                        break;
                if (si.si_pid == command) {
                        *ret = si;
                        found = true;
                }
        }
        return found;
}

/* Unblocks sig alone through the system call: a libc will not put the signals it keeps for itself in a
 * sigset_t (glibc 32 and 33, musl 32 to 34), and nsbox-init, built against musl where it can be, runs
 * with the mask the daemon, on glibc, set: 34 (glibc's SIGRTMIN) blocked. */
static void unblock_signal(int sig) {
        unsigned long only[(_NSIG - 1) / (8 * sizeof(unsigned long))] = {};

        only[(sig - 1) / (8 * sizeof(unsigned long))] = 1UL << ((sig - 1) % (8 * sizeof(unsigned long)));
        (void) syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, only, NULL, sizeof only);
}

int init_tell_command(int fd, int error, int index) {
        InitFiltersLoaded m = { .error = error, .index = index };
        ssize_t n;

        /* Eight bytes into an empty pipe: never waits. */
        n = write(fd, &m, sizeof m);
        if (n < 0)
                return -errno;
        return n == (ssize_t) sizeof m ? 0 : -EIO;
}

_noreturn_ void init_fail_filters(int fd, pid_t command, int error, int index) {
        /* The command reports it on its report pipe (the daemon's answer), then exits: ours to wait for, as
         * its parent, with nothing else running in the sandbox yet. Once: init blocks every signal, so only
         * a filter that did load can fail the wait (with EINTR, say), and it must not hold init here. */
        if (fd >= 0 && init_tell_command(fd, error, index) >= 0)
                (void) waitpid(command, NULL, __WALL);
        (void) kill(command, SIGKILL);
        init_exit(127);
}

void init_forward_reserved_signals(int sfd) {
        unsigned long mask[(_NSIG - 1) / (8 * sizeof(unsigned long))] = {};

        for (int sig = 1; sig < _NSIG; sig++)
                if (signal_is_forwarded(sig) || sig == SIGCHLD)
                        mask[(sig - 1) / (8 * sizeof(unsigned long))] |= 1UL << ((sig - 1) % (8 * sizeof(unsigned long)));
        /* Blocked first: one that came between the two would otherwise take its default action. */
        (void) syscall(SYS_rt_sigprocmask, SIG_BLOCK, mask, NULL, sizeof mask);
        (void) syscall(SYS_signalfd4, sfd, mask, sizeof mask, 0);
}

_noreturn_ static void exit_like(const siginfo_t *status, bool pid1) {
        int sig;

        if (status->si_code == CLD_EXITED)
                init_exit(status->si_status);

        sig = status->si_status;
        if (!pid1) {
                struct sigaction sa = { .sa_handler = SIG_DFL };
                struct rlimit no_core = {};

                /* The command already dumped core if it was going to; init must not add a second one. */
                (void) setrlimit(RLIMIT_CORE, &no_core);
                /* Fails for a signal the libc keeps for itself, whose disposition is the default anyway:
                 * after the exec of nsbox-init, and in init before it (spawn-child.c resets them all). */
                (void) sigaction(sig, &sa, NULL);
                (void) kill(getpid(), sig);
                unblock_signal(sig);
        }
        init_exit(128 + sig);
}

_noreturn_ void init_supervise(int sfd, pid_t command) {
        bool pid1 = getpid() == 1;
        siginfo_t status;

        for (;;) {
                struct signalfd_siginfo si;
                ssize_t n;

                if (reap_children(command, &status))
                        exit_like(&status, pid1);

                n = read(sfd, &si, sizeof si);
                if (n != (ssize_t) sizeof si) {
                        /* Cannot happen with a valid signalfd but by a filter: never leave the command
                         * unsupervised, nor spin. The sandbox ends as if killed. */
                        (void) kill(command, SIGKILL);
                        init_exit(128 + SIGKILL);
                }
                if (si.ssi_signo == SIGCHLD)
                        continue;
                (void) kill(command, (int) si.ssi_signo);
        }
}
