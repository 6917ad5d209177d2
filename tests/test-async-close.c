/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The asynchronous closer: every fd handed to it gets closed, a close that
 * never returns (a FUSE file whose server does not answer FLUSH) holds up its
 * own owner's lane only, and the counts the daemon's budget relies on are
 * right. Runs as root (FUSE mount).
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "async-close.h"
#include "cgroup-test-util.h"
#include "fd-util.h"
#include "fuse-stall.h"
#include "nsboxd-test-util.h"
#include "test-util.h"

#define OWNER_A 1001
#define OWNER_B 1002

static FuseStallFile fuse;

static void teardown(void) {
        fuse_stall_file_stop(&fuse);
}

TestSuite(async_close, .fini = teardown, .timeout = 60);

/* A pipe whose write end goes to the closer: its read end sees EOF once it is closed. */
static int pipe_for_closer(int *ret_write) {
        int p[2];

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        *ret_write = p[1];
        return p[0];
}

/* Waits up to timeout_msec for EOF on a pipe's read end: its write end was closed. */
static bool closed_within(int read_fd, int timeout_msec) {
        struct pollfd p = { .fd = read_fd, .events = POLLIN };

        return poll(&p, 1, timeout_msec) == 1 && (p.revents & POLLHUP);
}

static void wait_pending(AsyncCloser *c, uid_t owner, size_t expected) {
        for (int i = 0; i < 20000 && async_closer_pending(c, owner) != expected; i++)
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        cr_assert_eq(async_closer_pending(c, owner), expected);
}

Test(async_close, closes_everything_handed_to_it) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        int reads[64], w;
        size_t pending;
        unsigned workers;

        cr_assert_eq(async_closer_new(4, &c), 0);
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                reads[i] = pipe_for_closer(&w);
                cr_assert_geq(async_close(c, i % 3 == 0 ? OWNER_A : OWNER_B, w), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                cr_assert(closed_within(reads[i], 20000), "fd %zu was not closed", i);
                safe_close(reads[i]);
        }
        wait_pending(c, OWNER_A, 0);
        wait_pending(c, OWNER_B, 0);

        /* Workers exit when there is nothing left. */
        for (int i = 0; i < 20000; i++) {
                async_closer_stats(c, &pending, &workers);
                if (workers == 0)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
        cr_assert_eq(pending, 0);
        cr_assert_eq(workers, 0);

        /* Invalid fds are ignored, arrays are reset. */
        int fds[2] = { -EBADF, -1 };
        cr_assert_eq(async_close(c, OWNER_A, -EBADF), 0);
        async_close_many(c, OWNER_A, fds, 2);
        cr_assert_eq(fds[0], -EBADF);
        cr_assert_eq(async_closer_pending(c, OWNER_A), 0);
}

Test(async_close, a_stuck_close_holds_up_its_owner_only) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        int file, a_read, a_write, b_read[8], w;

        cr_assert_eq(async_closer_new(4, &c), 0);
        /* FLUSH from this process (its worker threads) is never answered. */
        file = fuse_stall_file_open(&fuse, getpid());

        cr_assert_geq(async_close(c, OWNER_A, fd_dup_cloexec(file)), 0);
        a_read = pipe_for_closer(&a_write);
        cr_assert_geq(async_close(c, OWNER_A, a_write), 0);
        for (size_t i = 0; i < ELEMENTSOF(b_read); i++) {
                b_read[i] = pipe_for_closer(&w);
                cr_assert_geq(async_close(c, OWNER_B, w), 0);
        }

        for (size_t i = 0; i < ELEMENTSOF(b_read); i++) {
                cr_assert(closed_within(b_read[i], 20000), "another owner's fd %zu waited for the stuck close", i);
                safe_close(b_read[i]);
        }
        wait_pending(c, OWNER_B, 0);

        /* A's pipe is queued behind the FUSE file in A's lane: neither is closed yet. */
        cr_assert_eq(async_closer_pending(c, OWNER_A), 2);
        cr_assert(!closed_within(a_read, 0));

        /* The server goes away: the stuck close returns and A's lane drains. */
        fuse_stall_file_stop(&fuse);
        cr_assert(closed_within(a_read, 20000));
        wait_pending(c, OWNER_A, 0);
        safe_close(a_read);
        safe_close(file);
}

/* A lingering socket (SO_LINGER for an hour, unsent data its peer never reads) holds its lane a moment only:
 * the fd queued behind it is closed long before the hour. */
Test(async_close, a_lingering_close_holds_up_its_lane_a_moment_only) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        TestLingering l;
        int after_read, after_write;

        cr_assert_eq(async_closer_new(1, &c), 0);
        test_lingering_new(&l, 3600);
        cr_assert_geq(async_close(c, OWNER_A, l.fd), 0);
        l.fd = -EBADF;
        after_read = pipe_for_closer(&after_write);
        cr_assert_geq(async_close(c, OWNER_A, after_write), 0);

        cr_assert(closed_within(after_read, 20000), "the fd behind a lingering socket waited for its linger");
        wait_pending(c, OWNER_A, 0);
        safe_close(after_read);
        test_lingering_release(&l);
}

Test(async_close, lanes_wait_for_a_worker_when_all_are_stuck) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        int file, b_read, w;

        cr_assert_eq(async_closer_new(1, &c), 0);
        file = fuse_stall_file_open(&fuse, getpid());
        cr_assert_geq(async_close(c, OWNER_A, fd_dup_cloexec(file)), 0);
        wait_pending(c, OWNER_A, 1);
        /* The one worker is in that close, not about to take the next job, which may be B's. */
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000));

        b_read = pipe_for_closer(&w);
        cr_assert_geq(async_close(c, OWNER_B, w), 0);
        cr_assert_eq(async_closer_pending(c, OWNER_B), 1);
        cr_assert(!closed_within(b_read, 0));

        fuse_stall_file_stop(&fuse);
        cr_assert(closed_within(b_read, 20000));
        wait_pending(c, OWNER_A, 0);
        wait_pending(c, OWNER_B, 0);
        safe_close(b_read);
        safe_close(file);
}

/* The state letter of /proc/self/task/TID or /proc/PID ("R", "S", "D", ...), 0 if it is gone. */
static char state_of(const char *stat_path) {
        char text[512] = "", *e;
        FILE *f = fopen(stat_path, "re");

        if (!f)
                return 0;
        if (!fgets(text, sizeof text, f))
                text[0] = '\0';
        fclose(f);
        e = strrchr(text, ')');
        return e && e[1] == ' ' ? e[2] : 0;
}

/* Our threads in state; and our children (processes, not threads of ours) in an uninterruptible wait. */
static unsigned threads_in(char state) {
        DIR *d = opendir("/proc/self/task");
        char path[300];
        unsigned n = 0;

        cr_assert_not_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
                n += state_of(path) == state;
        }
        closedir(d);
        return n;
}

static bool in_d(char state, const char *name, int exit_signal) {
        return state == 'D';
}

static unsigned children_in_d(void) {
        return (unsigned) test_count_children(getpid(), in_d);
}

/*
 * execve() and the process's exit wait for every thread to end, and a thread in an unanswered FUSE flush
 * never does: the close runs in a helper process, the worker waits for it killably (asleep, not in the
 * uninterruptible wait that is the helper's).
 */
Test(async_close, a_stuck_close_sleeps_in_a_helper_not_in_a_thread) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        int file;

        cr_assert_eq(async_closer_new(1, &c), 0);
        file = fuse_stall_file_open(&fuse, getpid());
        cr_assert_geq(async_close(c, OWNER_A, fd_dup_cloexec(file)), 0);
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000));

        cr_assert_eq(threads_in('D'), 0, "a thread of ours waits uninterruptibly");
        for (int i = 0; i < 20000 && children_in_d() == 0; i++)
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        cr_assert_eq(children_in_d(), 1, "no helper process holds the stuck close");

        fuse_stall_file_stop(&fuse);
        wait_pending(c, OWNER_A, 0);
        safe_close(file);
}

/* What is queued when the daemon is about to exec or exit leaves its table at once, stuck closes or not. */
Test(async_close, queued_fds_leave_the_table_before_an_exec) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        int file, queued[4], r_read, r_write;

        cr_assert_eq(async_closer_new(1, &c), 0);
        file = fuse_stall_file_open(&fuse, getpid());
        cr_assert_geq(async_close(c, OWNER_A, fd_dup_cloexec(file)), 0);
        /* Behind it (stuck, or about to be): more of the FUSE file, and a pipe. */
        for (size_t i = 0; i < ELEMENTSOF(queued); i++) {
                queued[i] = fd_dup_cloexec(file);
                cr_assert_geq(async_close(c, OWNER_A, queued[i]), 0);
        }
        r_read = pipe_for_closer(&r_write);
        cr_assert_geq(async_close(c, OWNER_A, r_write), 0);
        cr_assert_eq(async_closer_pending(c, OWNER_A), ELEMENTSOF(queued) + 2);

        cr_assert_eq(async_closer_release_queued(c, 20000), 0);
        cr_assert(closed_within(r_read, 0));
        /* Each number closed, or taken since by something else than the FUSE file (the worker reads /proc). */
        for (size_t i = 0; i < ELEMENTSOF(queued); i++)
                cr_assert_neq(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, queued[i], file), 0,
                              "queued fd %d is still open", queued[i]);
        /* Only the one being closed, if the worker took it already, is left to the lane. */
        cr_assert_leq(async_closer_pending(c, OWNER_A), 1);

        fuse_stall_file_stop(&fuse);
        wait_pending(c, OWNER_A, 0);
        safe_close(r_read);
        safe_close(file);
}

Test(async_close, free_does_not_wait_for_a_stuck_worker) {
        AsyncCloser *c = NULL;
        int file;

        cr_assert_eq(async_closer_new(2, &c), 0);
        file = fuse_stall_file_open(&fuse, getpid());
        cr_assert_geq(async_close(c, OWNER_A, fd_dup_cloexec(file)), 0);
        wait_pending(c, OWNER_A, 1);
        cr_assert_null(async_closer_free(c));

        /* The worker frees the closer once its close returns. */
        fuse_stall_file_stop(&fuse);
        safe_close(file);
}

Test(async_close, reaps_a_killed_child) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        siginfo_t si = {};
        int pidfd;
        pid_t pid;

        cr_assert_eq(async_closer_new(2, &c), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        cr_assert_geq(pidfd, 0);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_geq(async_reap(c, OWNER_A, pidfd), 0);
        wait_pending(c, OWNER_A, 0);

        /* Reaped by the closer: no child is left, not even a zombie. */
        cr_assert_eq(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
}

static void write_pids_max(const char *dir, const char *value) {
        char path[600];

        snprintf(path, sizeof path, "%s/pids.max", dir);
        test_write_file(path, value, strlen(value), 0644);
}

/* Fds queued where no worker could be started (a full pids limit) wait for a kick, not for some later close:
 * the daemon kicks after each loop iteration and from a timer while one fails. */
Test(async_close, a_kick_starts_the_worker_that_could_not_be_started) {
        _cleanup_(async_closer_freep) AsyncCloser *c = NULL;
        TestCgroup t = {};
        const char *pids;
        char name[64];
        int r, w;

        if (!test_cgroup_controller_is_v1("pids"))
                cr_skip_test("needs a cgroup v1 pids hierarchy");
        snprintf(name, sizeof name, "nsbt-closer-%d", (int) getpid());
        test_cgroup_create(&t, name);
        test_cgroup_enter(&t);
        pids = test_cgroup_dir(&t, "pids");
        cr_assert_not_null(pids);
        cr_assert_eq(async_closer_new(4, &c), 0);
        r = pipe_for_closer(&w);

        /* Not one task more (below what is there: a task that ends meanwhile leaves no room either): the
         * worker's thread cannot be made. */
        write_pids_max(pids, "1");
        cr_expect_lt(async_close(c, OWNER_A, w), 0, "a worker started under a full pids limit");
        cr_expect_eq(async_closer_kick(c), 1);
        cr_expect_not(closed_within(r, 100), "closed without a worker");

        write_pids_max(pids, "max");
        cr_expect_eq(async_closer_kick(c), 0);
        cr_expect(closed_within(r, 10000), "the queued fd was not closed after the kick");
        close(r);
        wait_pending(c, OWNER_A, 0);
        c = async_closer_free(c);
        test_cgroup_leave(&t);
        test_cgroup_destroy(&t, true);
}
