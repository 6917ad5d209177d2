/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox's init: the spawn child, which stays behind as pid 1 (or as a
 * subreaper outside a new pid namespace), so orphans are reaped and signals
 * sent to the sandbox reach the command. Like the rest of the child path it
 * only makes syscalls and never allocates. Signals arrive through a
 * signalfd: the daemon blocked all of them before clone3() and init keeps them
 * blocked, which is also what lets a blocked SIGTERM be queued for pid 1 of a
 * pid namespace instead of being dropped by the kernel.
 *
 * The spawn is answered once the command exec'd, as without init: init
 * hands the report pipe over to the command (CommandStart below), and
 * confines itself and execs nsbox-init once the command exec'd, while the
 * daemon may answer already: for root callers, and without a new time
 * namespace on the daemon's memory. Otherwise init keeps a copy until its
 * own execve(), when it enters that namespace and leaves the daemon's
 * memory, so a caller who is not root may open its /proc/PID/ns/ as soon
 * as it has the answer; then init confines itself and execs while the
 * command execs.
 * What fails in init from then on (nothing a caller controls: capset() to a
 * subset, the exec of the daemon's sealed program, the filters the command
 * loaded) cannot be the spawn's error any more: init kills the command and
 * exits SPAWN_CHILD_FAILED, and the sandbox ends so.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "init-supervise.h"
#include "sandbox-init.h"

static char *title_area;
static size_t title_size;

void sandbox_init_set_title_area(char *area, size_t size) {
        title_area = area;
        title_size = area ? size : 0;
}

/*
 * comm is init's own (the command, a child on init's memory, takes its name
 * from execve()). In the argument area, a last byte that is not NUL tells the
 * kernel the process rewrote it (setproctitle style): /proc/PID/cmdline is
 * then the first string alone, without the rest of the area.
 */
static void set_title(void) {
        size_t n = strlen(SANDBOX_INIT_NAME);

        /* The system call itself: a sanitizer's prctl() wrapper records the name under a lock that a fork
         * of the daemon may have copied held. */
        (void) syscall(SYS_prctl, PR_SET_NAME, SANDBOX_INIT_NAME, 0, 0, 0);
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
 * at open(); F_OFD_SETLK does not wait either. Init holds read locks on the
 * whole of each file until it exits; the command does not inherit the fds
 * (close-on-exec until init itself execs). The locks are the open file
 * descriptions' (F_OFD_SETLK), not the process's (F_SETLK, as bubblewrap
 * takes them): a process's lock belongs to its fd table, which init shares
 * with its spawn worker until its exec (spawn-worker.c), and goes when the
 * worker closes its copy of the fd there. Other processes see the one as the
 * other: the two kinds conflict alike.
 */
static void lock_files(SpawnPlan *p) {
        for (char *const *f = p->lock_files; f && *f && p->n_lock_fds < SPAWN_LOCK_FILES_MAX; f++) {
                struct flock l = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
                SpawnError e;
                int fd;

                fd = open(*f, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 || fcntl(fd, F_OFD_SETLK, &l) < 0) {
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

/*
 * The report pipe's EOF tells the daemon the command exec'd, and the
 * answer waits for it. A file's last reference dropped by close-on-exec
 * goes only once execve() returns to the new program (the kernel defers
 * the release of a file to the closing task's return to user space): a
 * pipe the command alone held at its exec would tell the daemon only after
 * the whole exec, loading and mapping the program included.
 *
 * So where the command is a vfork child on init's memory (the answer does
 * not wait for init's own exec), init keeps its copy: the command closes
 * its own right after the exec mark and leaves a failure after that in
 * init's memory (late_error); init, which the command's exec or exit wakes,
 * reports it and closes its copy, the last, at the exec's point of no
 * return, as a spawn worker does for a command without init.
 *
 * Otherwise init sends its copy into a socket (where the pipe stays open:
 * in flight) and, unless it holds the report until its own exec, closes it
 * before it starts the command, and the command takes it from there. A
 * command that dies before taking it leaves it in the socket, which init
 * closes once the command exec'd or died: the daemon's EOF all the same.
 */
typedef struct CommandStart {
        const SpawnPlan *plan;
        int socket;             /* the report pipe in flight, or -EBADF: the command has it in its copy of init's table */
        SpawnError *late_error; /* with socket -EBADF: where a failure after the mark goes */
        /* SpawnPlan.command_awaits_init_filters: InitFiltersLoaded on filters_loaded once init loaded them, or
         * failed to (init's end, filters_loaded_writer, the command closes first); both -EBADF otherwise. */
        int filters_loaded;
        int filters_loaded_writer;
} CommandStart;

static int send_fd(int sock, int fd) {
        char c = 0;

        return fd_send(sock, &c, 1, &fd, 1, 0);
}

/* The fd sent with send_fd() (close-on-exec), or -errno. */
static int receive_fd(int sock) {
        size_t n_fds;
        ssize_t n;
        char c;
        int fd;

        n = fd_recv(sock, &c, 1, &fd, 1, &n_fds, MSG_DONTWAIT);
        if (n < 0)
                return (int) n;
        if (n != 1 || n_fds != 1) {
                close_many(&fd, n_fds);
                return -EIO;
        }
        return fd;
}

static int command_main(void *arg) {
        const CommandStart *start = arg;
        int report_fd = start->socket >= 0 ? receive_fd(start->socket) : start->plan->child_report_fd;

        /* Without the report pipe there is nobody to tell: dying before the mark says enough. */
        if (report_fd < 0)
                _exit(SPAWN_CHILD_FAILED);
        if (start->filters_loaded >= 0) {
                InitFiltersLoaded m;
                ssize_t n;

                (void) close(start->filters_loaded_writer);
                do
                        n = read(start->filters_loaded, &m, sizeof m);
                while (n < 0 && errno == EINTR);
                /* EOF: init is gone before it was confined, and the sandbox with it. */
                if (n != (ssize_t) sizeof m)
                        _exit(SPAWN_CHILD_FAILED);
                if (m.error != 0) {
                        SpawnError e;

                        spawn_child_seccomp_error(&e, m.error, m.index);
                        spawn_child_report(report_fd, &e);
                        _exit(SPAWN_CHILD_FAILED);
                }
                (void) close(start->filters_loaded);
        }
        spawn_child_exec_command(start->plan, report_fd, start->late_error);
}

/* Init failed once the command exists: it ends the sandbox, and fails the spawn if it still can (report_fd:
 * its own copy of the report pipe, or -EBADF once that is the command's alone). */
_noreturn_ static void init_abandon(pid_t command, int report_fd, int error, const char *context) {
        SpawnError e;

        (void) kill(command, SIGKILL);
        if (report_fd >= 0) {
                spawn_error_set(&e, "init", error, context);
                spawn_child_report(report_fd, &e);
        }
        _exit(SPAWN_CHILD_FAILED);
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

/*
 * The system call filters init must load, for the program to load them after execve(): the read end of a
 * pipe that holds all of them, -1 if none, -errno on failure. A pipe, not a file: the sandbox's rlimits
 * are in force by now, and RLIMIT_FSIZE (the caller's to set, 0 included) bounds what a file, a memfd
 * too, may hold, never a pipe. Nobody reads before the exec, so the pipe is made large enough first: a
 * write that does not fit in what is left of the last page starts a page of its own, so each of the two
 * writes per filter may leave up to a page unused (the kernel's bound on a process's filters, 32768
 * instructions in all, keeps that within pipe-max-size). Its writes do not block: a pipe too small after
 * all fails the spawn, it never holds init before its exec.
 */
static int filters_pipe(const SpawnPlan *p) {
        /* A profile init loaded already stays across the exec. */
        const SeccompProgram *profile = spawn_plan_command_inherits_profile(p) ? NULL : p->seccomp;
        const size_t page = 4096, n_filters = (profile ? 1 : 0) + p->n_seccomp_fds;
        size_t size = page;
        int fds[2], error;

        if (n_filters == 0)
                return -1;
        if (profile)
                size += profile->n_filter * sizeof(struct sock_filter);
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                size += p->seccomp_fds[i].n_filter * sizeof(struct sock_filter);
        size += n_filters * (sizeof(InitFilterHeader) + 2 * page);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        if (size > (size_t) INT_MAX || fcntl(fds[1], F_SETPIPE_SZ, (int) size) < (int) size ||
            fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0)
                goto fail;
        if (profile && !write_filter(fds[1], profile->filter, profile->n_filter, profile->flags, -1))
                goto fail;
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                if (!write_filter(fds[1], p->seccomp_fds[i].filter, p->seccomp_fds[i].n_filter, 0, (int) i))
                        goto fail;
        (void) close(fds[1]);
        return fds[0];
fail:
        error = errno ?: EIO;
        (void) close(fds[0]);
        (void) close(fds[1]);
        return -error;
}

/* The request's fd limit, which binds init as it binds the command (spawn_child_exec_command()): set once
 * init opened every fd it will use. */
static int set_command_fd_limit(const SpawnPlan *p) {
        if (p->nofile_set && setrlimit(RLIMIT_NOFILE, &p->nofile) < 0)
                return -errno;
        return 0;
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
 * Replaces init's image (the daemon's memory, or a fork's copy) with the
 * nsbox-init program (nsbox-init.c), keeping what init is: the same process
 * in the same namespaces, with its children, its signalfd and blocked
 * signals and the capabilities it just dropped to (no_new_privs: execve()
 * grants no more). The filters are loaded by the program, not here, so that
 * nothing a caller's filter denies can stop the exec. report_fd (when init
 * still holds the report pipe) stays open, close-on-exec, until the exec is
 * past the daemon's memory. Returns only if the program is not there,
 * its filters could not be handed over or the exec failed, with errno set and the step that failed; init
 * then goes on as it is.
 */
static const char *exec_program(const SpawnPlan *p, int sfd, pid_t command, int report_fd, int filters_loaded) {
        char a_sfd[16], a_command[16], a_filters[16], a_loaded[16];
        char *argv[] = { (char *) SANDBOX_INIT_NAME, a_sfd, a_command, a_filters, a_loaded, NULL };
        char *envp[] = { NULL };
        int filters, error, keep[5 + SPAWN_LOCK_FILES_MAX];

        if (p->init_program_fd < 0)
                return "nsbox-init";
        filters = filters_pipe(p);
        if (filters < -1) {
                errno = -filters;
                return "nsbox-init: the pipe of its filters";
        }

        format_int(a_sfd, sfd);
        format_int(a_command, (int) command);
        format_int(a_filters, filters);
        format_int(a_loaded, filters_loaded);

        keep[0] = sfd;
        keep[1] = filters;
        keep[2] = p->init_program_fd;
        keep[3] = report_fd;
        keep[4] = filters_loaded;
        for (size_t i = 0; i < p->n_lock_fds; i++)
                keep[5 + i] = p->lock_fds[i];
        sort_fds(keep, 5 + p->n_lock_fds);
        close_all_but(keep, 5 + p->n_lock_fds);

        /* Every fd nsbox-init uses is open: from here on the sandbox's fd limit binds init too. */
        if (set_command_fd_limit(p) < 0) {
                error = errno;
                if (filters >= 0)
                        (void) close(filters);
                errno = error;
                return "nsbox-init: RLIMIT_NOFILE";
        }

        if (fcntl(sfd, F_SETFD, 0) < 0 || (filters >= 0 && fcntl(filters, F_SETFD, 0) < 0) ||
            (filters_loaded >= 0 && fcntl(filters_loaded, F_SETFD, 0) < 0) || lock_fds_set_cloexec(p, false) < 0) {
                error = errno;
                if (filters >= 0)
                        (void) close(filters);
                (void) fcntl(filters_loaded, F_SETFD, FD_CLOEXEC);
                (void) lock_fds_set_cloexec(p, true);
                errno = error;
                return "nsbox-init";
        }

        (void) syscall(SYS_execveat, p->init_program_fd, "", argv, envp, AT_EMPTY_PATH);

        error = errno;
        (void) fcntl(sfd, F_SETFD, FD_CLOEXEC);
        (void) fcntl(filters_loaded, F_SETFD, FD_CLOEXEC);
        (void) lock_fds_set_cloexec(p, true);
        if (filters >= 0)
                (void) close(filters);
        errno = error;
        return "nsbox-init";
}

/*
 * Waits until the daemon closes its end of the sync socket, which it does once it answered the spawn
 * (spawn_handshake_take_answer_fd()), or gave up, or is gone. Woken by the command's execve() (the end of
 * the vfork-style wait), init would otherwise exec and start nsbox-init at once, while the command's
 * execve() and the daemon's reply still run: on a machine with few CPUs it took the command's CPU for
 * milliseconds (the kernel favours a task it just woke) and made the spawn wait for it. Init holds nothing
 * the command or the reply needs meanwhile; the daemon answers within the spawn timeout, and a daemon that
 * dies closes the socket too.
 */
static void await_answer(SpawnPlan *p) {
        struct pollfd pfd = { .fd = p->child_sync_fd, .events = POLLIN };

        if (p->child_sync_fd < 0)
                return;
        while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
                ;
        (void) close(p->child_sync_fd);
        p->child_sync_fd = -EBADF;
}

/*
 * How init starts the command. On the daemon's memory it is a vfork child, as init is its worker's
 * (spawn-worker.c): the OOM killer never picks a process in the middle of a vfork, and one on the daemon's
 * memory, picked, would take the daemon with it. Init goes on once the command exec'd, and has nothing to
 * do before the answer unless it holds the report. A command that waits for nsbox-init's filters cannot be
 * one (init would wait for it, and it for init's exec): it gets a memory of its own, a fork's, whose only
 * cost is copying the daemon's page tables. On a fork's memory, which is the sandbox's alone, the command
 * borrows it: where the answer waits for init's own exec too (init holds the report), the two execs then
 * run side by side, and the answer comes after the later of them, not after both in turn. Init's exec
 * leaves the memory, its frame here with the command's stack and start included, to the command until its
 * own execve(), as a vfork child's exec leaves it to its parent. Until then the two share errno too, which
 * either reads only after a failure: a failed init ends the sandbox anyway.
 */
static unsigned long command_clone_flags(const SpawnPlan *p, int report_fd) {
        if (p->shares_memory)
                return p->command_awaits_init_filters ? 0 : CLONE_VM | CLONE_VFORK;
        return CLONE_VM | (report_fd >= 0 ? 0 : CLONE_VFORK);
}

_noreturn_ void sandbox_init_run(SpawnPlan *p) {
        /*
         * The command's stack until it execs: part of init's own (an init on the daemon's memory shares every
         * static buffer with the other sandboxes' inits). The command borrows init's memory, as
         * posix_spawn() does: a plain fork would copy the daemon's page tables once more only for execve()
         * to tear them down again.
         */
        char stack[64 * 1024] __attribute__((__aligned__(16)));
        bool pid1 = getpid() == 1;
        const char *failed;
        CommandStart start;
        sigset_t mask;
        long command;
        ssize_t index;
        int sfd, sv[2] = { -EBADF, -EBADF }, loaded[2] = { -EBADF, -EBADF }, report_fd = -EBADF, r;
        SpawnError late_error = {};
        bool report_late;

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

        /* The command checks that init is its parent (PR_SET_PDEATHSIG must be tied to init). */
        p->init_pid = getpid();
        /* The caller's process must be in every namespace and open to its owner when the spawn is answered:
         * on the daemon's memory, init enters a new time namespace only at its execve() (spawn-child.c), and
         * only root may open /proc/PID/ns/ of a process on the daemon's memory (or a fork's), which is not
         * dumpable. Then init's copy goes only with that execve(). */
        if (p->init_holds_report || spawn_plan_time_namespace_entered_at_exec(p))
                report_fd = p->child_report_fd;
        report_late = report_fd < 0 && command_clone_flags(p, report_fd) == (CLONE_VM | CLONE_VFORK);
        if (!report_late) {
                if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
                        init_fail(p, errno, "socketpair");
                r = send_fd(sv[1], p->child_report_fd);
                if (r < 0)
                        init_fail(p, -r, "the report pipe for the command");
                if (report_fd < 0)
                        (void) close(p->child_report_fd);
        }

        if (p->init_loads_profile && !p->profile_inherited) {
                r = seccomp_program_load(p->seccomp->filter, p->seccomp->n_filter, p->seccomp->flags);
                if (r < 0)
                        init_fail(p, -r, "seccomp");
        }

        if (p->command_awaits_init_filters && pipe2(loaded, O_CLOEXEC) < 0)
                init_fail(p, errno, "pipe");
        start = (CommandStart) {
                .plan = p,
                .socket = sv[0],
                .late_error = report_late ? &late_error : NULL,
                .filters_loaded = loaded[0],
                .filters_loaded_writer = loaded[1],
        };
        command = clone(command_main, stack + sizeof stack, command_clone_flags(p, report_fd) | SIGCHLD, &start);
        if (command < 0) {
                int error = errno, fd = report_late ? -EBADF : receive_fd(sv[0]);

                if (fd >= 0)
                        p->child_report_fd = fd;
                init_fail(p, error, "clone");
        }
        if (report_late) {
                /* The command exec'd or died: what it left after its mark is the spawn's error. */
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (late_error.error > 0)
                        spawn_child_report(p->child_report_fd, &late_error);
                (void) close(p->child_report_fd);
                p->child_report_fd = -EBADF;
        }
        (void) safe_close(sv[0]);
        (void) safe_close(sv[1]);
        (void) safe_close(loaded[0]);

        /*
         * Init confines itself as the sandbox is confined. It keeps no
         * capability but CAP_KILL, is not dumpable (its memory is the
         * daemon's or a copy, whose user namespace is the host's: nothing in
         * the sandbox may ptrace it or read it through /proc until its exec),
         * and runs under the same system call filters. After its exec, a
         * command with CAP_SYS_PTRACE in the sandbox's user namespace could
         * attach to nsbox-init, so it starts only once nsbox-init loaded the
         * filters (SpawnPlan.command_awaits_init_filters), and nsbox-init has
         * the sandbox's fd limit.
         */
        r = capability_plan_apply_init(&p->caps);
        if (r < 0)
                init_abandon((pid_t) command, report_fd, -r, "capabilities");
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                init_abandon((pid_t) command, report_fd, errno, "PR_SET_DUMPABLE");
        /* Holding the report, init is what the answer waits for; otherwise it lets the answer go first. */
        if (report_fd < 0)
                await_answer(p);
        /* From here on init needs nothing of the daemon's memory: the small program takes over. Where that
         * memory is the daemon's itself, not a copy, init may not go on without it. */
        failed = exec_program(p, sfd, (pid_t) command, report_fd, loaded[1]);
        if (p->shares_memory)
                init_abandon((pid_t) command, report_fd, errno ?: EIO, failed);

        /* The command's stdio and extra fds must not be kept open by init; the locks stay. All closed before
         * the filters, which may deny closing or lie about it. After them init tells the command to go, or
         * which filter did not load (InitFiltersLoaded, a write no filter can fake), and closes its copy of
         * the report pipe, known to be open: an error fails the spawn at once; a close faked to return 0
         * leaves the answer to the command's exit or the spawn's timeout, the caller's own filter holding the
         * caller's own spawn. */
        {
                int keep[3 + SPAWN_LOCK_FILES_MAX] = { sfd, loaded[1], report_fd };

                for (size_t i = 0; i < p->n_lock_fds; i++)
                        keep[3 + i] = p->lock_fds[i];
                sort_fds(keep, 3 + p->n_lock_fds);
                close_all_but(keep, 3 + p->n_lock_fds);
        }
        r = set_command_fd_limit(p);
        if (r < 0)
                init_abandon((pid_t) command, report_fd, -r, "RLIMIT_NOFILE");

        r = spawn_child_load_seccomp(p, &index);
        if (r < 0 && loaded[1] >= 0)
                init_fail_filters(loaded[1], (pid_t) command, -r, (int) index);
        if (r < 0)
                init_abandon((pid_t) command, report_fd, -r, "seccomp");
        if (loaded[1] >= 0 && (r = init_tell_command(loaded[1], 0, -1)) < 0)
                init_abandon((pid_t) command, report_fd, -r, "the command's start");
        if (loaded[1] >= 0)
                (void) close(loaded[1]);
        if (report_fd >= 0 && close(report_fd) < 0)
                init_abandon((pid_t) command, report_fd, errno, "close");

        init_supervise(sfd, (pid_t) command);
}
