/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox's init: a forked child of the daemon that stays behind as pid 1
 * (or as a subreaper outside a new pid namespace), so orphans are reaped and
 * signals sent to the sandbox reach the command. Like the rest of the child
 * path it only makes syscalls and never allocates. Signals arrive through a
 * signalfd: the daemon blocked all of them before clone3() and init keeps them
 * blocked, which is also what lets a blocked SIGTERM be queued for pid 1 of a
 * pid namespace instead of being dropped by the kernel.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox-init.h"

static char *title_area;
static size_t title_size;

void sandbox_init_set_title_area(char *area, size_t size) {
        title_area = area;
        title_size = area ? size : 0;
}

/*
 * comm is init's own (the command, a vfork-style child, takes its name from
 * execve()). In the argument area, a last byte that is not NUL tells the
 * kernel the process rewrote it (setproctitle style): /proc/PID/cmdline is
 * then the first string alone, without the rest of the area.
 */
static void set_title(void) {
        size_t n = strlen(SANDBOX_INIT_NAME);

        (void) prctl(PR_SET_NAME, SANDBOX_INIT_NAME, 0, 0, 0);
        if (title_size < 3)
                return;
        if (n > title_size - 2)
                n = title_size - 2;
        memset(title_area, 0, title_size);
        memcpy(title_area, SANDBOX_INIT_NAME, n);
        title_area[title_size - 1] = ' ';
}

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

static void build_signal_mask(sigset_t *mask) {
        sigemptyset(mask);
        for (int sig = 1; sig < _NSIG; sig++)
                if (signal_is_forwarded(sig))
                        (void) sigaddset(mask, sig); /* glibc refuses its internal signals */
        sigaddset(mask, SIGCHLD);
}

_noreturn_ static void init_fail(const SpawnPlan *p, int error, const char *context) {
        SpawnError e;

        spawn_error_set(&e, "init", error, context);
        spawn_child_report(p->child_report_fd, &e);
        _exit(SPAWN_CHILD_FAILED);
}

/* Reaps every exited child; returns true if the command was among them, with its status in *ret. */
static bool reap_children(pid_t command, siginfo_t *ret) {
        bool found = false;

        for (;;) {
                siginfo_t si = {};

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        if (errno == EINTR)
                                continue;
                        break; /* ECHILD */
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

_noreturn_ static void exit_like(const siginfo_t *status, bool pid1) {
        int sig;

        if (status->si_code == CLD_EXITED)
                _exit(status->si_status);

        sig = status->si_status;
        if (!pid1) {
                struct sigaction sa = { .sa_handler = SIG_DFL };
                struct rlimit no_core = {};
                sigset_t only;

                /* The command already dumped core if it was going to; init must not add a second one. */
                (void) setrlimit(RLIMIT_CORE, &no_core);
                (void) sigaction(sig, &sa, NULL);
                sigemptyset(&only);
                sigaddset(&only, sig);
                (void) kill(getpid(), sig);
                (void) sigprocmask(SIG_UNBLOCK, &only, NULL);
        }
        _exit(128 + sig);
}

static int command_main(void *plan) {
        spawn_child_exec_command(plan);
}

/*
 * The command starts as a vfork-style child: it borrows init's memory on a
 * stack of its own until it execs, while init waits, as posix_spawn() does.
 * A plain fork would copy the daemon's page tables once more only for
 * execve() to tear them down again: the largest cost of init.
 */
static long start_command(const SpawnPlan *p) {
        static char stack[64 * 1024] __attribute__((__aligned__(16)));

        return clone(command_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *) p);
}

_noreturn_ void sandbox_init_run(const SpawnPlan *p) {
        bool pid1 = getpid() == 1;
        siginfo_t status;
        sigset_t mask;
        long command;
        ssize_t index;
        int sfd, r;

        set_title();

        /* Outside a new pid namespace orphans would go to the host's reaper: keep them. */
        if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                init_fail(p, errno, "PR_SET_CHILD_SUBREAPER");

        build_signal_mask(&mask);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                init_fail(p, errno, "signalfd");

        command = start_command(p);
        if (command < 0)
                init_fail(p, errno, "clone");

        /*
         * The command has exec'd (or failed): init confines itself as the
         * sandbox is confined. It keeps no capability but CAP_KILL, is not
         * dumpable (its memory is a copy of the daemon's: nothing in the
         * sandbox may ptrace it or read it through /proc), and runs under the
         * same system call filters.
         */
        r = capability_plan_apply_init(&p->caps);
        if (r < 0) {
                (void) kill((pid_t) command, SIGKILL);
                init_fail(p, -r, "capabilities");
        }
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                (void) kill((pid_t) command, SIGKILL);
                init_fail(p, errno, "PR_SET_DUMPABLE");
        }
        r = spawn_child_load_seccomp(p, &index);
        if (r < 0) {
                SpawnError e;

                (void) kill((pid_t) command, SIGKILL);
                spawn_child_seccomp_error(&e, -r, index);
                spawn_child_report(p->child_report_fd, &e);
                _exit(SPAWN_CHILD_FAILED);
        }

        /* The command's stdio, extra fds and report pipe must not be kept open by init. */
        if (sfd > 0)
                (void) close_range(0, (unsigned) sfd - 1, 0);
        (void) close_range((unsigned) sfd + 1, ~0U, 0);

        for (;;) {
                struct signalfd_siginfo si;
                ssize_t n;

                if (reap_children((pid_t) command, &status))
                        exit_like(&status, pid1);

                n = read(sfd, &si, sizeof si);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t) sizeof si) {
                        /* Cannot happen with a valid signalfd; never leave the command unsupervised. */
                        (void) kill((pid_t) command, SIGKILL);
                        continue;
                }
                if (si.ssi_signo == SIGCHLD)
                        continue;
                (void) kill((pid_t) command, (int) si.ssi_signo);
        }
}
