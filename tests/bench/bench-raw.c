/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The raw clone3() baseline and the external-tool runner of the benchmark. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include "bench-raw.h"
#include "bench-stats.h"
#include "fd-util.h"
#include "sandbox-protocol.h"

#define RAW_CHILD_STACK_SIZE (64U * 1024U)

int raw_plan_init(RawPlan *p, unsigned namespaces, uint32_t map_host_id, uint32_t map_size, const char *program,
                  int devnull_fd, bool share_vm) {
        RawPlan plan = {
                .user_namespace = namespaces & NAMESPACE_BIT(NAMESPACE_USER),
                .share_vm = share_vm,
                .program = program,
                .devnull_fd = devnull_fd,
                .timeout_ms = -1,
        };

        if (map_size == 0 || (uint64_t) map_host_id + map_size > UINT32_MAX)
                return -EINVAL;

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (namespaces & NAMESPACE_BIT(t))
                        plan.clone_flags |= namespace_type_to_clone_flag(t);
        snprintf(plan.map_text, sizeof plan.map_text, "0 %" PRIu32 " %" PRIu32 "\n", map_host_id, map_size);

        if (share_vm) {
                /* The low byte of clone()'s flags is the exit signal, where CLONE_NEWTIME would be. */
                plan.unshare_time = plan.clone_flags & CLONE_NEWTIME;
                plan.clone_flags &= ~(uint64_t) CLONE_NEWTIME;
                plan.stack = mmap(NULL, RAW_CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
                if (plan.stack == MAP_FAILED)
                        return -errno;
                plan.stack_size = RAW_CHILD_STACK_SIZE;
        }

        *p = plan;
        return 0;
}

void raw_plan_done(RawPlan *p) {
        if (p->stack)
                (void) munmap(p->stack, p->stack_size);
        p->stack = NULL;
}

static int write_proc_file(pid_t pid, const char *name, const char *text) {
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        size_t l = strlen(text);
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, name);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* The kernel takes an id map only as a single write. */
        n = write(fd, text, l);
        if (n < 0)
                return -errno;
        return (size_t) n == l ? 0 : -EIO;
}

static void close_all_but(int a, int b, int c) {
        int keep[3] = { a, b, c };
        unsigned next = 3;

        /* Three values: a tiny sort beats pulling in qsort in a child of a threaded process. */
        for (int i = 0; i < 3; i++)
                for (int j = i + 1; j < 3; j++)
                        if (keep[j] < keep[i]) {
                                int t = keep[i];
                                keep[i] = keep[j];
                                keep[j] = t;
                        }
        for (int i = 0; i < 3; i++) {
                if (keep[i] < (int) next)
                        continue;
                if ((unsigned) keep[i] > next)
                        (void) close_range(next, (unsigned) keep[i] - 1, 0);
                next = (unsigned) keep[i] + 1;
        }
        (void) close_range(next, ~0U, 0);
}

/* Runs in the child of a raw clone3() from a threaded process: raw syscalls only, no locks, no malloc. */
static _noreturn_ void raw_child(const RawPlan *p, int sync_fd, int report_fd) {
        char *const argv[] = { (char *) p->program, NULL };
        char *const envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        char c;
        int error;

        /* Other threads' pipes came along with the fd table: drop them before blocking, or their
         * parents would wait for this child's exec to see EOF on their own report pipes. */
        close_all_but(sync_fd, report_fd, p->devnull_fd);

        if (read(sync_fd, &c, 1) != 1)
                _exit(126); /* the parent gave up */

        if (p->unshare_time && unshare(CLONE_NEWTIME) < 0)
                goto fail;

        if (setsid() < 0 || dup2(p->devnull_fd, STDIN_FILENO) < 0 || dup2(p->devnull_fd, STDOUT_FILENO) < 0 ||
            dup2(p->devnull_fd, STDERR_FILENO) < 0)
                goto fail;

        execve(p->program, argv, envp);
fail:
        error = errno;
        (void) !write(report_fd, &error, sizeof error);
        _exit(127);
}

/* A pidfd turns readable when the process exits. 1 if it did within timeout_ms, 0 if not, or -errno. */
static int wait_pidfd(int pidfd, int timeout_ms) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
}

typedef struct RawChildArgs {
        const RawPlan *plan;
        int sync_fd;
        int report_fd;
} RawChildArgs;

static int raw_child_vm(void *userdata) {
        const RawChildArgs *a = userdata;

        raw_child(a->plan, a->sync_fd, a->report_fd);
}

/* Like clone3() below, but sharing our memory, on the plan's stack (glibc's clone() sets that up).
 * args must stay valid until the child exec'd or died: the caller waits for that anyway. */
static pid_t raw_clone_vm(const RawPlan *p, RawChildArgs *args, int *ret_pidfd) {
        return clone(raw_child_vm, (char *) p->stack + p->stack_size,
                     (int) (CLONE_VM | CLONE_PIDFD | p->clone_flags | SIGCHLD), args, ret_pidfd);
}

int raw_run_one(const RawPlan *p, uint64_t *ret_spawn_ns, uint64_t *ret_exit_ns) {
        _cleanup_close_ int pidfd = -EBADF;
        int sync_pipe[2] = { -EBADF, -EBADF }, report_pipe[2] = { -EBADF, -EBADF };
        uint64_t start, spawned;
        siginfo_t si = {};
        int child_error, r;
        ssize_t n;
        pid_t pid;

        start = now_ns();

        if (pipe2(sync_pipe, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(report_pipe, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }

        RawChildArgs child_args = { .plan = p, .sync_fd = sync_pipe[0], .report_fd = report_pipe[1] };
        if (p->share_vm)
                pid = raw_clone_vm(p, &child_args, &pidfd);
        else {
                struct clone_args args = {
                        .flags = CLONE_PIDFD | p->clone_flags,
                        .pidfd = (uint64_t) (uintptr_t) &pidfd,
                        .exit_signal = SIGCHLD,
                };
                pid = (pid_t) syscall(SYS_clone3, &args, sizeof args);
                if (pid == 0)
                        raw_child(p, sync_pipe[0], report_pipe[1]);
        }
        if (pid < 0) {
                r = -errno;
                goto finish;
        }

        sync_pipe[0] = safe_close(sync_pipe[0]);
        report_pipe[1] = safe_close(report_pipe[1]);

        r = 0;
        if (p->user_namespace) {
                r = write_proc_file(pid, "uid_map", p->map_text);
                if (r >= 0)
                        r = write_proc_file(pid, "setgroups", "deny");
                if (r >= 0)
                        r = write_proc_file(pid, "gid_map", p->map_text);
        }
        /* Closing the sync pipe without a byte tells the child to give up. */
        if (r >= 0 && write(sync_pipe[1], "x", 1) != 1)
                r = -errno;
        sync_pipe[1] = safe_close(sync_pipe[1]);

        do
                n = read(report_pipe[0], &child_error, sizeof child_error);
        while (n < 0 && errno == EINTR);
        spawned = now_ns();
        if (r >= 0 && n != 0)
                r = n == (ssize_t) sizeof child_error ? -child_error : -EIO;

        if (wait_pidfd(pidfd, p->timeout_ms) == 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                if (r >= 0)
                        r = -ETIMEDOUT;
        }
        while (waitid(P_PIDFD, pidfd, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return r < 0 ? r : -errno;
        if (r >= 0 && (si.si_code != CLD_EXITED || si.si_status != 0))
                r = -EPROTO;
        if (r >= 0) {
                *ret_exit_ns = now_ns() - start;
                *ret_spawn_ns = spawned - start;
        }

finish:
        close_many(sync_pipe, 2);
        close_many(report_pipe, 2);
        return r;
}

int tool_run_one(char *const *argv, int devnull_fd, int timeout_ms, uint64_t *ret_exit_ns) {
        static char *const envp[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        _cleanup_close_ int pidfd = -EBADF;
        bool timed_out = false;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        uint64_t start;
        pid_t pid;
        int r, status;

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
                r = posix_spawn_file_actions_adddup2(&fa, devnull_fd, fd);
                if (r != 0) {
                        (void) posix_spawn_file_actions_destroy(&fa);
                        return -r;
                }
        }

        /* A process group of its own: on a timeout the tool's children (a forked command, bwrap's
         * init) are killed with it, not left behind. */
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                (void) posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);

        start = now_ns();
        if (r == 0)
                r = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
        (void) posix_spawn_file_actions_destroy(&fa);
        (void) posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;

        pidfd = pidfd_open(pid, 0);
        if (pidfd >= 0 && wait_pidfd(pidfd, timeout_ms) == 0) {
                /* Not reaped yet, so the group id is still ours to use. */
                (void) kill(-pid, SIGKILL);
                timed_out = true;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (timed_out)
                return -ETIMEDOUT;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EPROTO;

        *ret_exit_ns = now_ns() - start;
        return 0;
}
