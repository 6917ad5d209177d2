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
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init-supervise.h"
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

_noreturn_ static void init_fail(const SpawnPlan *p, int error, const char *context) {
        SpawnError e;

        spawn_error_set(&e, "init", error, context);
        spawn_child_report(p->child_report_fd, &e);
        _exit(SPAWN_CHILD_FAILED);
}

/*
 * bubblewrap's --lock-file: each path is opened as the command would open it
 * (the sandbox's user, tree, cwd and capabilities, before any filter), so a
 * path through a symlink or one the sandbox may not read gives nothing the
 * command could not have itself. O_NONBLOCK, so a FIFO cannot hold init up
 * at open(); F_SETLK does not wait either. Init holds the locks until it
 * exits; the command does not inherit the fds (close-on-exec until init
 * itself execs).
 */
static void lock_files(SpawnPlan *p) {
        for (char *const *f = p->lock_files; f && *f && p->n_lock_fds < SPAWN_LOCK_FILES_MAX; f++) {
                struct flock l = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
                SpawnError e;
                int fd;

                fd = open(*f, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 || fcntl(fd, F_SETLK, &l) < 0) {
                        spawn_error_set(&e, "lock-file", errno, *f);
                        spawn_child_report(p->child_report_fd, &e);
                        _exit(SPAWN_CHILD_FAILED);
                }
                p->lock_fds[p->n_lock_fds++] = fd;
        }
}

/* Whether to keep the lock fds across init's exec: 0, or -errno. */
static int lock_fds_set_cloexec(const SpawnPlan *p, bool cloexec) {
        for (size_t i = 0; i < p->n_lock_fds; i++)
                if (fcntl(p->lock_fds[i], F_SETFD, cloexec ? FD_CLOEXEC : 0) < 0)
                        return -errno;
        return 0;
}

static int command_main(void *plan) {
        spawn_child_exec_command(plan);
}

/*
 * The command starts as a vfork-style child: it borrows init's memory on a
 * stack of its own until it execs, while init waits, as posix_spawn() does.
 * A plain fork would copy the daemon's page tables once more only for
 * execve() to tear them down again: the largest cost of init. The stack is
 * part of init's own: an init that runs on the daemon's memory shares every
 * static buffer with the other sandboxes' inits.
 */
static long start_command(const SpawnPlan *p) {
        char stack[64 * 1024] __attribute__((__aligned__(16)));

        return clone(command_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *) p);
}

/* Decimal digits of a non-negative int (or "-1"), without stdio: this runs in a fork of the daemon. */
static void format_int(char buf[static 16], int v) {
        char digits[12];
        size_t n = 0, pos = 0;

        if (v < 0) {
                memcpy(buf, "-1", 3);
                return;
        }
        do
                digits[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        while (n > 0)
                buf[pos++] = digits[--n];
        buf[pos] = '\0';
}

static bool write_all(int fd, const void *data, size_t size) {
        const char *d = data;

        while (size > 0) {
                ssize_t n = write(fd, d, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                d += n;
                size -= (size_t) n;
        }
        return true;
}

static bool write_filter(int fd, const struct sock_filter *filter, unsigned short n, unsigned flags, int index) {
        InitFilterHeader h = { .flags = flags, .n_filter = n, .index = (int16_t) index };

        return write_all(fd, &h, sizeof h) && write_all(fd, filter, n * sizeof *filter);
}

/* The system call filters init must load, for the program to load them after execve(): -1 if none,
 * -errno on failure. */
static int filters_memfd(const SpawnPlan *p) {
        int fd;

        if (!p->seccomp && p->n_seccomp_fds == 0)
                return -1;
        fd = memfd_create("nsbox-init-filters", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (p->seccomp && !write_filter(fd, p->seccomp->filter, p->seccomp->n_filter, p->seccomp->flags, -1))
                goto fail;
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                if (!write_filter(fd, p->seccomp_fds[i].filter, p->seccomp_fds[i].n_filter, 0, (int) i))
                        goto fail;
        if (lseek(fd, 0, SEEK_SET) < 0)
                goto fail;
        return fd;
fail:
        (void) close(fd);
        return -EIO;
}

/* Closes every fd but the ones in keep (ascending, -1 entries ignored). */
static void close_all_but(const int *keep, size_t n) {
        unsigned next = 0;

        for (size_t i = 0; i < n; i++) {
                if (keep[i] < 0 || (unsigned) keep[i] < next)
                        continue;
                if ((unsigned) keep[i] > next)
                        (void) close_range(next, (unsigned) keep[i] - 1, 0);
                next = (unsigned) keep[i] + 1;
        }
        (void) close_range(next, ~0U, 0);
}

static void sort_fds(int *fds, size_t n) {
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && fds[k - 1] > fds[k]; k--) {
                        int t = fds[k];
                        fds[k] = fds[k - 1];
                        fds[k - 1] = t;
                }
}

/*
 * Replaces this fork of the daemon with the nsbox-init program (nsbox-init.c),
 * keeping what init is: the same process in the same namespaces, with its
 * children, its signalfd and blocked signals, the capabilities it just
 * dropped to (no_new_privs: execve() grants no more) and the report pipe.
 * The filters are loaded by the program, not here, so that nothing a
 * caller's filter denies can stop the exec. Returns only if the program is
 * not there or the exec failed; init then goes on as it is.
 */
static void exec_program(const SpawnPlan *p, int sfd, pid_t command) {
        char a_sfd[16], a_command[16], a_report[16], a_filters[16];
        char *argv[] = { (char *) SANDBOX_INIT_NAME, a_sfd, a_command, a_report, a_filters, NULL };
        char *envp[] = { NULL };
        int filters, keep[4 + SPAWN_LOCK_FILES_MAX];

        if (p->init_program_fd < 0)
                return;
        filters = filters_memfd(p);
        if (filters < -1)
                return;

        format_int(a_sfd, sfd);
        format_int(a_command, (int) command);
        format_int(a_report, p->child_report_fd);
        format_int(a_filters, filters);

        keep[0] = sfd;
        keep[1] = p->child_report_fd;
        keep[2] = filters;
        keep[3] = p->init_program_fd;
        for (size_t i = 0; i < p->n_lock_fds; i++)
                keep[4 + i] = p->lock_fds[i];
        sort_fds(keep, 4 + p->n_lock_fds);
        close_all_but(keep, 4 + p->n_lock_fds);

        if (fcntl(sfd, F_SETFD, 0) < 0 || fcntl(p->child_report_fd, F_SETFD, 0) < 0 ||
            (filters >= 0 && fcntl(filters, F_SETFD, 0) < 0) || lock_fds_set_cloexec(p, false) < 0) {
                if (filters >= 0)
                        (void) close(filters);
                (void) lock_fds_set_cloexec(p, true);
                return;
        }

        (void) syscall(SYS_execveat, p->init_program_fd, "", argv, envp, AT_EMPTY_PATH);

        (void) fcntl(sfd, F_SETFD, FD_CLOEXEC);
        (void) fcntl(p->child_report_fd, F_SETFD, FD_CLOEXEC);
        (void) lock_fds_set_cloexec(p, true);
        if (filters >= 0)
                (void) close(filters);
}

_noreturn_ void sandbox_init_run(SpawnPlan *p) {
        bool pid1 = getpid() == 1;
        sigset_t mask;
        long command;
        ssize_t index;
        int sfd, r;

        /* On the daemon's memory the argument area is the daemon's own: nsbox-init brings its own name. */
        if (!p->shares_memory)
                set_title();

        /* Outside a new pid namespace orphans would go to the host's reaper: keep them. */
        if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                init_fail(p, errno, "PR_SET_CHILD_SUBREAPER");

        init_signal_mask(&mask);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                init_fail(p, errno, "signalfd");

        lock_files(p);

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
        /* From here on init needs nothing of the daemon's memory: the small program takes over. Where that
         * memory is the daemon's itself, not a copy, init may not go on without it. */
        exec_program(p, sfd, (pid_t) command);
        if (p->shares_memory) {
                int error = errno ?: EIO;

                (void) kill((pid_t) command, SIGKILL);
                init_fail(p, error, "nsbox-init");
        }

        r = spawn_child_load_seccomp(p, &index);
        if (r < 0) {
                SpawnError e;

                (void) kill((pid_t) command, SIGKILL);
                spawn_child_seccomp_error(&e, -r, index);
                spawn_child_report(p->child_report_fd, &e);
                _exit(SPAWN_CHILD_FAILED);
        }

        /* The command's stdio, extra fds and report pipe must not be kept open by init; the locks stay. */
        {
                int keep[1 + SPAWN_LOCK_FILES_MAX] = { sfd };

                for (size_t i = 0; i < p->n_lock_fds; i++)
                        keep[1 + i] = p->lock_fds[i];
                sort_fds(keep, 1 + p->n_lock_fds);
                close_all_but(keep, 1 + p->n_lock_fds);
        }

        init_supervise(sfd, (pid_t) command);
}
