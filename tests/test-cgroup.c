/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of daemon/cgroup.c against the host's real cgroups. Each test
 * runs in a fresh cgroup below the test's own (in cgroup2 and every v1
 * hierarchy nsbox uses), which stands for the daemon's delegated cgroup; the
 * fixture checks that nothing is left below it afterwards. Where the host
 * lacks a controller the test checks the refusal instead and says so.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-test-util.h"
#include "cgroup.h"
#include "fd-util.h"

static TestCgroup test_cg;
static CgroupManager *manager;

static void setup(void) {
        char name[64];

        snprintf(name, sizeof name, "nsbt-cgroup-%d", (int) getpid());
        test_cgroup_create(&test_cg, name);
        test_cgroup_enter(&test_cg);
        cr_assert_eq(cgroup_manager_new(&(CgroupManagerOptions) { .leaf = "supervisor" }, &manager), 0);
}

static void teardown(void) {
        manager = cgroup_manager_free(manager);
        test_cgroup_leave(&test_cg);
        test_cgroup_destroy(&test_cg, true);
}

TestSuite(cgroup, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static bool path_exists(const char *dir, const char *sub) {
        char p[1024];

        snprintf(p, sizeof p, "%s/%s", dir, sub);
        return access(p, F_OK) >= 0;
}

static void read_text(const char *dir, const char *sub, char *buf, size_t size) {
        char p[1024];
        FILE *f;
        size_t n;

        snprintf(p, sizeof p, "%s/%s", dir, sub);
        f = fopen(p, "re");
        cr_assert(f, "open %s: %m", p);
        n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
}

/* The test cgroup's directory for the hierarchy holding controller: v1 if the host has it so, else cgroup2. */
static const char *dir_for(const char *controller) {
        return test_cgroup_dir(&test_cg, controller) ?: test_cgroup_dir(&test_cg, "");
}

/* Whether controller is usable below the test cgroup: a v1 hierarchy, or enabled in cgroup2. */
static bool have_controller(const char *controller) {
        char buf[256];

        if (test_cgroup_controller_is_v1(controller))
                return true;
        read_text(test_cgroup_dir(&test_cg, ""), "cgroup.subtree_control", buf, sizeof buf);
        return strstr(buf, controller) != NULL;
}

/* Whether hierarchy i of the test cgroup is a v1 hierarchy that serves limits alone (cpu), where a sandbox that
 * sets none there, nor is below one that has a cgroup there, has no cgroup of its own: its processes are in its
 * user's CGROUP_SHARED (cgroup.h). */
static bool serves_limits_only(size_t i) {
        return strcmp(test_cg.controller[i], "cpu") == 0;
}

typedef struct Child {
        pid_t pid;
        int pidfd;
        int go_fd; /* write a byte to let it run */
} Child;

/* Starts fn in a child born in cg (CLONE_INTO_CGROUP, then the v1 attach), held until child_go(). */
static Child child_start(Cgroup *cg, int (*fn)(void)) {
        int pipefd[2];
        int pidfd = -1;
        struct clone_args args = {
                .flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) cgroup_dir_fd(cg),
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
        };
        long pid;
        char c;

        cr_assert(pipe2(pipefd, O_CLOEXEC) >= 0);
        pid = syscall(SYS_clone3, &args, sizeof args);
        cr_assert(pid >= 0, "clone3: %m");
        if (pid == 0) {
                close(pipefd[1]);
                if (read(pipefd[0], &c, 1) != 1)
                        _exit(100);
                _exit(fn());
        }
        close(pipefd[0]);
        cr_assert_eq(cgroup_attach_v1(cg, (pid_t) pid), 0);
        return (Child) { .pid = (pid_t) pid, .pidfd = pidfd, .go_fd = pipefd[1] };
}

static void child_go(Child *c) {
        cr_assert_eq(write(c->go_fd, "g", 1), 1);
        c->go_fd = safe_close(c->go_fd);
}

static int child_wait(Child *c) {
        int status;

        cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
        safe_close(c->pidfd);
        safe_close(c->go_fd);
        return status;
}

/* Waits (bounded) until cgroup.events says populated == want, through the manager's epoll fd. */
static bool saw_populated;
static bool saw_frozen;
static Cgroup *saw_cgroup;
static void on_event(Cgroup *cg, bool populated, bool frozen, void *userdata) {
        saw_cgroup = cg;
        saw_populated = populated;
        saw_frozen = frozen;
}

static bool wait_events(Cgroup *cg, bool populated, int frozen) {
        for (int i = 0; i < 200; i++) {
                bool p, f;
                struct pollfd pfd = { .fd = cgroup_manager_event_fd(manager), .events = POLLIN };

                cr_assert_eq(cgroup_read_events(cg, &p, &f), 0);
                if (p == populated && (frozen < 0 || f == (bool) frozen))
                        return true;
                if (poll(&pfd, 1, 100) > 0)
                        cr_assert_geq(cgroup_manager_dispatch(manager, on_event), 0);
        }
        return false;
}

static int sleep_forever(void) {
        pause();
        return 0;
}

static int double_fork_and_exit(void) {
        /* Leaves the process tree: a grandchild in its own session, the child gone. */
        pid_t p = fork();

        if (p < 0)
                return 1;
        if (p == 0) {
                if (fork() == 0) {
                        setsid();
                        pause();
                        _exit(0);
                }
                _exit(0);
        }
        waitpid(p, NULL, 0);
        return 0;
}

/* ---- the manager ---- */

Test(cgroup, manager_moves_itself_into_a_leaf_and_back) {
        char line[1024], want[600];
        FILE *f = fopen("/proc/self/cgroup", "re");
        bool found = false;

        cr_assert(f);
        snprintf(want, sizeof want, "%s/supervisor", cgroup_manager_path(manager));
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        cr_expect_str_eq(line + 3, want);
                        found = true;
                }
        fclose(f);
        cr_assert(found);
        cr_assert(path_exists(test_cgroup_dir(&test_cg, ""), "supervisor"));

        manager = cgroup_manager_free(manager);
        cr_expect_not(path_exists(test_cgroup_dir(&test_cg, ""), "supervisor"));
        cr_assert_eq(test_cgroup_leftovers(&test_cg, NULL, 0), 0);
}

Test(cgroup, manager_removes_empty_leftovers_of_a_previous_run) {
        char p[1024];

        manager = cgroup_manager_free(manager);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(p, sizeof p, "%s/user-4242", test_cg.dir[i]);
                cr_assert(mkdir(p, 0755) >= 0);
                snprintf(p, sizeof p, "%s/user-4242/0123abcd", test_cg.dir[i]);
                cr_assert(mkdir(p, 0755) >= 0);
        }
        cr_assert_eq(cgroup_manager_new(NULL, &manager), 0);
        for (size_t i = 0; i < test_cg.n; i++)
                cr_expect_not(path_exists(test_cg.dir[i], "user-4242"), "%s/user-4242 left", test_cg.dir[i]);
}

/* ---- create and remove ---- */

Test(cgroup, new_creates_user_and_sandbox_cgroups_where_needed_and_remove_removes_them) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *a, *b;
        char want[600];

        cr_assert_eq(cgroup_new(manager, 1000, "aaaa", &none, NULL, 0, &a), 0);
        cr_assert_eq(cgroup_new(manager, 1000, "bbbb", &none, NULL, 0, &b), 0);

        snprintf(want, sizeof want, "%s/user-1000/aaaa", cgroup_manager_path(manager));
        cr_expect_str_eq(cgroup_path(a), want);
        for (size_t i = 0; i < test_cg.n; i++) {
                cr_expect(path_exists(test_cg.dir[i], "user-1000"), "%s", test_cg.dir[i]);
                cr_expect_eq(path_exists(test_cg.dir[i], "user-1000/aaaa"), !serves_limits_only(i), "%s", test_cg.dir[i]);
                cr_expect_eq(path_exists(test_cg.dir[i], "user-1000/bbbb"), !serves_limits_only(i), "%s", test_cg.dir[i]);
        }
        /* One per v1 hierarchy all the same: the user's where it has none of its own. */
        cr_expect_eq(cgroup_v1_tasks_fds(a, NULL), test_cg.n - 1);

        /* The same name twice is refused, and the first stays. */
        Cgroup *dup = NULL;
        cr_expect_eq(cgroup_new(manager, 1000, "aaaa", &none, NULL, 0, &dup), -EEXIST);
        cr_expect(path_exists(test_cg.dir[0], "user-1000/aaaa"));
        cr_expect_eq(cgroup_new(manager, 1000, "../x", &none, NULL, 0, &dup), -EINVAL);
        cr_expect_eq(cgroup_new(manager, 1000, "supervisor", &none, NULL, 0, &dup), -EINVAL);

        cr_assert_eq(cgroup_remove(a), 0);
        for (size_t i = 0; i < test_cg.n; i++) {
                cr_expect_not(path_exists(test_cg.dir[i], "user-1000/aaaa"));
                cr_expect(path_exists(test_cg.dir[i], "user-1000"), "the user cgroup goes with its last sandbox");
        }
        cr_assert_eq(cgroup_remove(b), 0);
        for (size_t i = 0; i < test_cg.n; i++) {
                cr_expect_not(path_exists(test_cg.dir[i], "user-1000/bbbb"));
                cr_expect(path_exists(test_cg.dir[i], "user-1000"), "the user cgroup stays for the next sandbox");
        }

        /* The user's next sandbox finds it, and the manager removes it at the end. */
        cr_assert_eq(cgroup_new(manager, 1000, "cccc", &none, NULL, 0, &a), 0);
        cr_assert_eq(cgroup_remove(a), 0);
        manager = cgroup_manager_free(manager);
        for (size_t i = 0; i < test_cg.n; i++)
                cr_expect_not(path_exists(test_cg.dir[i], "user-1000"), "%s/user-1000 left", test_cg.dir[i]);
}

Test(cgroup, idle_user_cgroups_are_kept_up_to_a_bound_the_longest_idle_going_first) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        char user[32];
        Cgroup *cg;

        /* 33 users, one after another: the first one's cgroup is the one that goes. */
        for (uid_t uid = 2000; uid < 2033; uid++) {
                cr_assert_eq(cgroup_new(manager, uid, "only", &none, NULL, 0, &cg), 0);
                cr_assert_eq(cgroup_remove(cg), 0);
        }
        for (size_t i = 0; i < test_cg.n; i++) {
                cr_expect_not(path_exists(test_cg.dir[i], "user-2000"), "%s/user-2000 left", test_cg.dir[i]);
                cr_expect(path_exists(test_cg.dir[i], "user-2001"), "%s", test_cg.dir[i]);
                cr_expect(path_exists(test_cg.dir[i], "user-2032"), "%s", test_cg.dir[i]);
        }

        /* A user taken up again is idle anew: the next one to go is 2002, idle the longest. */
        cr_assert_eq(cgroup_new(manager, 2001, "again", &none, NULL, 0, &cg), 0);
        for (size_t i = 0; i < test_cg.n; i++)
                cr_expect(path_exists(test_cg.dir[i], serves_limits_only(i) ? "user-2001" : "user-2001/again"), "%s",
                          test_cg.dir[i]);
        cr_assert_eq(cgroup_remove(cg), 0);
        cr_assert_eq(cgroup_new(manager, 2033, "only", &none, NULL, 0, &cg), 0);
        cr_assert_eq(cgroup_remove(cg), 0);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(user, sizeof user, "user-%u", 2002u);
                cr_expect_not(path_exists(test_cg.dir[i], user), "%s/%s left", test_cg.dir[i], user);
                cr_expect(path_exists(test_cg.dir[i], "user-2001"), "%s", test_cg.dir[i]);
                cr_expect(path_exists(test_cg.dir[i], "user-2033"), "%s", test_cg.dir[i]);
        }
}

Test(cgroup, a_child_is_born_in_every_hierarchy_and_the_events_follow_it) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        char buf[256], path[128], want[600];
        Cgroup *cg;
        Child c;

        cr_assert_eq(cgroup_new(manager, 0, "born", &none, NULL, 0, &cg), 0);
        cgroup_set_userdata(cg, &c);
        c = child_start(cg, sleep_forever);

        /* cgroup2 from birth; v1 before it ran anything of its own. */
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) c.pid);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(want, sizeof want, "%s/user-0/%s", test_cg.dir[i], serves_limits_only(i) ? CGROUP_SHARED : "born");
                read_text(want, "cgroup.procs", buf, sizeof buf);
                cr_expect_eq(atoi(buf), c.pid, "%s has %s", want, buf);
        }

        cr_assert(wait_events(cg, true, -1));
        cr_expect_eq(cgroup_remove(cg), -EBUSY);
        cr_assert(path_exists(test_cg.dir[0], "user-0/born"), "a populated cgroup stays");

        child_go(&c);
        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1));
        cr_expect(saw_cgroup == NULL || cgroup_get_userdata(saw_cgroup) == &c);
        cr_expect(WIFSIGNALED(child_wait(&c)));
        cr_assert_eq(cgroup_remove(cg), 0);
}

/* Dispatches the manager's events until done(userdata) (bounded). */
static bool dispatch_until(bool (*done)(const void *userdata), const void *userdata) {
        for (int i = 0; i < 200; i++) {
                struct pollfd pfd = { .fd = cgroup_manager_event_fd(manager), .events = POLLIN };

                if (done(userdata))
                        return true;
                if (poll(&pfd, 1, 100) > 0)
                        cr_assert_geq(cgroup_manager_dispatch(manager, on_event), 0);
        }
        return false;
}

static bool path_gone(const void *path) {
        return access(path, F_OK) < 0;
}

static bool dispatch_until_gone(const char *dir, const char *sub) {
        char p[1024];

        snprintf(p, sizeof p, "%s/%s", dir, sub);
        return dispatch_until(path_gone, p);
}

/* A child of ours (a pid) that exited, not reaped yet. */
static bool child_exited(const void *pid) {
        siginfo_t si = {};

        return waitid(P_PID, (id_t) *(const pid_t *) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
}

Test(cgroup, remove_empty_removes_every_directory_off_the_loop_and_the_user_waits_for_it) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *a, *b;

        cr_assert_eq(cgroup_new(manager, 1000, "aaaa", &none, NULL, 0, &a), 0);
        cr_assert_eq(cgroup_new(manager, 1000, "bbbb", &none, NULL, 0, &b), 0);
        cgroup_remove_empty(a);
        cgroup_remove_empty(b);
        for (size_t i = 0; i < test_cg.n; i++) {
                cr_expect(dispatch_until_gone(test_cg.dir[i], "user-1000/aaaa"), "%s", test_cg.dir[i]);
                cr_expect(dispatch_until_gone(test_cg.dir[i], "user-1000/bbbb"), "%s", test_cg.dir[i]);
        }
        /* Queued and freed at once: the manager waits for the remover before it removes the user's. */
        cr_assert_eq(cgroup_new(manager, 1000, "cccc", &none, NULL, 0, &a), 0);
        cgroup_remove_empty(a);
        manager = cgroup_manager_free(manager);
        for (size_t i = 0; i < test_cg.n; i++)
                cr_expect_not(path_exists(test_cg.dir[i], "user-1000"), "%s/user-1000 left", test_cg.dir[i]);
}

/* A cgroup its caller took for empty that is not: the remover's rmdir() fails, and the loop kills what is in
 * it and leaves it, counted, for the next start, as the caller did itself before the remover. */
Test(cgroup, remove_empty_of_a_busy_cgroup_kills_it_and_leaves_it) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *cg;
        Child c;

        cr_assert_eq(cgroup_new(manager, 0, "busy", &none, NULL, 0, &cg), 0);
        c = child_start(cg, sleep_forever);
        child_go(&c);
        cgroup_remove_empty(cg);
        /* Killed by the loop once the remover reported: the dispatch that hands the outcome over does it. */
        cr_expect(dispatch_until(child_exited, &c.pid), "the busy cgroup's process was not killed");
        cr_expect(WIFSIGNALED(child_wait(&c)));
        cr_expect(path_exists(test_cg.dir[0], "user-0/busy"), "a cgroup the kernel kept is left");
        /* As the next start would: empty now, it goes. */
        for (size_t i = 0; i < test_cg.n; i++) {
                char dir[1024];

                snprintf(dir, sizeof dir, "%s/user-0/busy", test_cg.dir[i]);
                (void) rmdir(dir);
        }
}

/* ---- whole-cgroup kill ---- */

static void check_kill_reaches_a_process_that_left_the_tree(void) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *cg;
        Child c;
        uint64_t tasks;
        CgroupUsage u;

        cr_assert_eq(cgroup_new(manager, 0, "escape", &none, NULL, 0, &cg), 0);
        c = child_start(cg, double_fork_and_exit);
        child_go(&c);
        cr_assert(WIFEXITED(child_wait(&c)));

        /* The top process is gone, its grandchild lives on in the cgroup. */
        cr_assert(wait_events(cg, true, -1));
        cr_assert_eq(cgroup_read_usage(cg, false, &u), 0);
        tasks = u.tasks;
        cr_expect_eq(tasks, 1, "one process left, got %" PRIu64, tasks);

        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1), "the setsid'ed grandchild survived the kill");
        cr_assert_eq(cgroup_remove(cg), 0);
}

Test(cgroup, kill_reaches_a_process_that_left_the_tree) {
        check_kill_reaches_a_process_that_left_the_tree();
}

Test(cgroup, kill_without_cgroup_kill_freezes_and_kills) {
        manager = cgroup_manager_free(manager);
        cr_assert_eq(cgroup_manager_new(&(CgroupManagerOptions) { .no_cgroup_kill = true }, &manager), 0);
        check_kill_reaches_a_process_that_left_the_tree();
}

static int tree_ignoring_nothing(void) {
        /* Three processes that all die of SIGTERM. */
        if (fork() == 0) {
                if (fork() == 0)
                        pause();
                pause();
        }
        pause();
        return 0;
}

Test(cgroup, signal_all_reaches_every_process_and_leaves_the_freezer_as_it_was) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        CgroupUsage u;
        Cgroup *cg;
        Child c;
        bool populated, frozen;

        cr_assert_eq(cgroup_new(manager, 0, "tree", &none, NULL, 0, &cg), 0);
        c = child_start(cg, tree_ignoring_nothing);
        child_go(&c);
        for (int i = 0; i < 100; i++) {
                cr_assert_eq(cgroup_read_usage(cg, false, &u), 0);
                if (u.tasks == 3)
                        break;
                usleep(20000);
        }
        cr_assert_eq(u.tasks, 3);

        cr_assert_eq(cgroup_signal_all(cg, SIGTERM), 3);
        cr_assert(wait_events(cg, false, -1));
        cr_assert_eq(cgroup_read_events(cg, &populated, &frozen), 0);
        cr_expect_not(frozen);
        cr_expect(WIFSIGNALED(child_wait(&c)));
        cr_assert_eq(cgroup_remove(cg), 0);
}

Test(cgroup, freeze_and_thaw) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *cg;
        Child c;

        cr_assert_eq(cgroup_new(manager, 0, "ice", &none, NULL, 0, &cg), 0);
        c = child_start(cg, sleep_forever);
        child_go(&c);
        cr_assert_eq(cgroup_freeze(cg, true), 0);
        cr_assert(wait_events(cg, true, 1), "never reported frozen");
        cr_assert_eq(cgroup_freeze(cg, false), 0);
        cr_assert(wait_events(cg, true, 0), "never reported thawed");

        /* Kill works on a frozen cgroup too. */
        cr_assert_eq(cgroup_freeze(cg, true), 0);
        cr_assert(wait_events(cg, true, 1));
        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1));
        child_wait(&c);
        cr_assert_eq(cgroup_remove(cg), 0);
}

/* ---- limits ---- */

Test(cgroup, limits_are_written_where_the_host_keeps_each_controller) {
        CgroupLimits l = CGROUP_LIMITS_NONE;
        char dir[600], buf[128];
        Cgroup *cg;
        int r;

        l.memory_max = 64 * 1024 * 1024;
        l.tasks_max = 50;
        l.cpu_quota_usec = 50000;
        l.cpu_weight = 200;
        r = cgroup_manager_check_limits(manager, &l, NULL, NULL, 0);
        if (r == -EOPNOTSUPP)
                cr_skip_test("memory, pids or cpu missing on this host (the refusal is tested separately)");
        cr_assert_eq(r, 0);
        cr_assert_eq(cgroup_new(manager, 0, "lim", &l, NULL, 0, &cg), 0);

        snprintf(dir, sizeof dir, "%s/user-0/lim", dir_for("memory"));
        read_text(dir, test_cgroup_controller_is_v1("memory") ? "memory.limit_in_bytes" : "memory.max", buf, sizeof buf);
        cr_expect_str_eq(buf, "67108864");

        snprintf(dir, sizeof dir, "%s/user-0/lim", dir_for("pids"));
        read_text(dir, "pids.max", buf, sizeof buf);
        cr_expect_str_eq(buf, "50");

        snprintf(dir, sizeof dir, "%s/user-0/lim", dir_for("cpu"));
        if (test_cgroup_controller_is_v1("cpu")) {
                read_text(dir, "cpu.cfs_quota_us", buf, sizeof buf);
                cr_expect_str_eq(buf, "50000");
                read_text(dir, "cpu.cfs_period_us", buf, sizeof buf);
                cr_expect_str_eq(buf, "100000");
                read_text(dir, "cpu.shares", buf, sizeof buf);
                cr_expect_str_eq(buf, "2048", "weight 200 is 2048 shares");
        } else {
                read_text(dir, "cpu.max", buf, sizeof buf);
                cr_expect_str_eq(buf, "50000 100000");
                read_text(dir, "cpu.weight", buf, sizeof buf);
                cr_expect_str_eq(buf, "200");
        }
        cr_assert_eq(cgroup_remove(cg), 0);
}

static volatile bool stop_signals;

static void on_signal(int sig) {
}

typedef struct Signaller {
        pid_t pid, tid;
} Signaller;

static void *signal_in_a_loop(void *userdata) {
        const Signaller *s = userdata;

        while (!stop_signals)
                (void) syscall(SYS_tgkill, s->pid, s->tid, SIGUSR1);
        return NULL;
}

Test(cgroup, limits_are_written_however_often_signals_interrupt) {
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART }, old;
        CgroupLimits l = CGROUP_LIMITS_NONE;
        Signaller s = { .pid = getpid(), .tid = (pid_t) syscall(SYS_gettid) };
        pthread_t thread;
        unsigned failed = 0;
        int first_error = 0;

        l.memory_max = 64 * 1024 * 1024;
        if (cgroup_manager_check_limits(manager, &l, NULL, NULL, 0) == -EOPNOTSUPP)
                cr_skip_test("no memory controller on this host");
        cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
        stop_signals = false;
        cr_assert_eq(pthread_create(&thread, NULL, signal_in_a_loop, &s), 0);
        /* Each write of the limit has a few per cent chance of a signal in it (cgroup v1 then said EINTR). */
        for (unsigned i = 0; i < 300; i++) {
                Cgroup *cg;
                int r = cgroup_new(manager, 0, "interrupted", &l, NULL, 0, &cg);

                if (r < 0) {
                        failed++;
                        first_error = first_error ?: r;
                        continue;
                }
                cr_assert_eq(cgroup_remove(cg), 0);
        }
        stop_signals = true;
        cr_assert_eq(pthread_join(thread, NULL), 0);
        cr_assert_eq(sigaction(SIGUSR1, &old, NULL), 0);
        cr_assert_eq(failed, 0, "%u of 300 cgroups with a memory limit failed, the first with %s", failed,
                     strerror(-first_error));
}

Test(cgroup, limits_no_controller_can_enforce_are_refused_with_the_reason) {
        CgroupLimits l = CGROUP_LIMITS_NONE;
        CgroupLimitType t = -1;
        char reason[256] = "";
        int r;

        l.memory_high = 1024 * 1024;
        r = cgroup_manager_check_limits(manager, &l, &t, reason, sizeof reason);
        if (test_cgroup_controller_is_v1("memory")) {
                cr_expect_eq(r, -EOPNOTSUPP);
                cr_expect_eq(t, CGROUP_LIMIT_MEMORY_HIGH);
                cr_expect(strstr(reason, "memory.high"), "reason: %s", reason);
                cr_log_info("memory is a v1 hierarchy here: MemoryHigh refused (%s)", reason);
        } else if (have_controller("memory"))
                cr_expect_eq(r, 0);
        else
                cr_expect_eq(r, -EOPNOTSUPP);

        /* Values the kernel would refuse are -EINVAL, named. */
        l = CGROUP_LIMITS_NONE;
        l.cpu_quota_usec = 10;
        r = cgroup_manager_check_limits(manager, &l, &t, reason, sizeof reason);
        cr_expect(r == -EINVAL || r == -EOPNOTSUPP);
        cr_expect_eq(t, CGROUP_LIMIT_CPU_QUOTA);
        l = CGROUP_LIMITS_NONE;
        l.cpu_weight = 10001;
        cr_expect_lt(cgroup_manager_check_limits(manager, &l, &t, reason, sizeof reason), 0);
        cr_expect_eq(t, CGROUP_LIMIT_CPU_WEIGHT);
        l = CGROUP_LIMITS_NONE;
        l.tasks_max = 0;
        cr_expect_lt(cgroup_manager_check_limits(manager, &l, &t, reason, sizeof reason), 0);
        cr_expect_eq(t, CGROUP_LIMIT_TASKS_MAX);

        if (test_cgroup_controller_is_v1("memory")) {
                l = CGROUP_LIMITS_NONE;
                l.memory_swap_max = 1024 * 1024;
                cr_expect_lt(cgroup_manager_check_limits(manager, &l, &t, reason, sizeof reason), 0);
                cr_expect_eq(t, CGROUP_LIMIT_MEMORY_SWAP_MAX, "v1 swap needs a memory limit");
        }
}

Test(cgroup, user_limits_apply_to_the_user_cgroup_and_follow_changes) {
        CgroupLimits none = CGROUP_LIMITS_NONE, user = CGROUP_LIMITS_NONE;
        char dir[600], buf[128];
        Cgroup *a, *b;

        if (!have_controller("pids"))
                cr_skip_test("no pids controller here");
        user.tasks_max = 7;
        cr_assert_eq(cgroup_new(manager, 1000, "a", &none, &user, 0, &a), 0);
        snprintf(dir, sizeof dir, "%s/user-1000", dir_for("pids"));
        read_text(dir, "pids.max", buf, sizeof buf);
        cr_expect_str_eq(buf, "7");

        /* Changed (a policy reload): applied with the next sandbox. */
        user.tasks_max = 9;
        cr_assert_eq(cgroup_new(manager, 1000, "b", &none, &user, 0, &b), 0);
        read_text(dir, "pids.max", buf, sizeof buf);
        cr_expect_str_eq(buf, "9");
        cr_assert_eq(cgroup_remove(b), 0);

        /* Gone: back to no limit. */
        cr_assert_eq(cgroup_new(manager, 1000, "b", &none, NULL, 0, &b), 0);
        read_text(dir, "pids.max", buf, sizeof buf);
        cr_expect_str_eq(buf, "max");
        cr_assert_eq(cgroup_remove(b), 0);
        cr_assert_eq(cgroup_remove(a), 0);
}

static int fork_bomb(void) {
        int forked = 0;

        for (int i = 0; i < 200; i++) {
                pid_t p = fork();
                if (p < 0)
                        break;
                if (p == 0) {
                        pause();
                        _exit(0);
                }
                forked++;
        }
        /* The exit code says how many forks worked. */
        return forked;
}

Test(cgroup, tasks_max_contains_a_fork_bomb) {
        CgroupLimits l = CGROUP_LIMITS_NONE;
        CgroupUsage u;
        Cgroup *cg;
        Child c;
        int status;

        if (!have_controller("pids"))
                cr_skip_test("no pids controller here");
        l.tasks_max = 20;
        cr_assert_eq(cgroup_new(manager, 0, "bomb", &l, NULL, 0, &cg), 0);
        c = child_start(cg, fork_bomb);
        child_go(&c);
        status = child_wait(&c);
        cr_assert(WIFEXITED(status));
        cr_expect_eq(WEXITSTATUS(status), 19, "forks that worked: %d", WEXITSTATUS(status));

        cr_assert_eq(cgroup_read_usage(cg, false, &u), 0);
        cr_expect_leq(u.tasks, 19);
        if (u.tasks_peak != UINT64_MAX)
                cr_expect_eq(u.tasks_peak, 20);
        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1));
        cr_assert_eq(cgroup_remove(cg), 0);
}

static int allocate_200m(void) {
        size_t size = 200U * 1024U * 1024U;
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                return 2;
        for (size_t i = 0; i < size; i += 4096)
                p[i] = 1;
        return 0;
}

Test(cgroup, memory_max_ends_in_the_oom_killer_and_usage_says_so) {
        CgroupLimits l = CGROUP_LIMITS_NONE;
        CgroupUsage u;
        Cgroup *cg;
        Child c;
        int status;

        if (!have_controller("memory"))
                cr_skip_test("no memory controller here");
        l.memory_max = 32U * 1024U * 1024U;
        if (test_cgroup_controller_is_v1("memory")) {
                /* No swap escape hatch either, where the host accounts swap. */
                l.memory_swap_max = 0;
                if (cgroup_manager_check_limits(manager, &l, NULL, NULL, 0) < 0)
                        l.memory_swap_max = CGROUP_LIMIT_MAX;
        }
        cr_assert_eq(cgroup_new(manager, 0, "hog", &l, NULL, 0, &cg), 0);
        c = child_start(cg, allocate_200m);
        /* Its "exec": the spawn that made the cgroup is over, as the daemon says once the child exec'd. */
        cgroup_release_after_spawn(cg);
        child_go(&c);
        status = child_wait(&c);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %x", status);

        cr_assert_eq(cgroup_read_usage(cg, false, &u), 0);
        cr_expect_geq(u.oom_kills, 1);
        cr_expect_neq(u.memory_peak, UINT64_MAX);
        cr_expect_leq(u.memory_peak, 33U * 1024U * 1024U, "peak %" PRIu64, u.memory_peak);
        cr_expect_gt(u.memory_peak, 16U * 1024U * 1024U, "peak %" PRIu64, u.memory_peak);
        cr_assert(wait_events(cg, false, -1));
        cr_assert_eq(cgroup_remove(cg), 0);
}

static int burn_cpu(void) {
        struct timespec start, now;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
        do
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 50000000L);
        return 0;
}

Test(cgroup, usage_counts_cpu_time) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        CgroupUsage u;
        Cgroup *cg;
        Child c;

        cr_assert_eq(cgroup_new(manager, 0, "cpu", &none, NULL, 0, &cg), 0);
        c = child_start(cg, burn_cpu);
        child_go(&c);
        child_wait(&c);
        cr_assert(wait_events(cg, false, -1));
        cr_assert_eq(cgroup_read_usage(cg, false, &u), 0);
        cr_expect_geq(u.cpu_usec, 50000, "cpu %" PRIu64 "us", u.cpu_usec);
        cr_expect_eq(u.oom_kills == UINT64_MAX || u.oom_kills == 0, true);
        cr_assert_eq(cgroup_remove(cg), 0);
}

Test(cgroup, abandon_leaves_the_cgroups_and_the_layout) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        char p[1024];
        Cgroup *cg;

        cr_assert_eq(cgroup_new(manager, 0, "kept", &none, NULL, 0, &cg), 0);
        cgroup_abandon(cg);
        manager = cgroup_manager_free(manager);
        cr_expect(path_exists(test_cg.dir[0], "user-0/kept"), "an abandoned cgroup stays");
        cr_expect(path_exists(test_cg.dir[0], "supervisor"), "the layout stays while a sandbox may live");

        /* Clean up by hand what a next run would take over. */
        test_cgroup_leave(&test_cg);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(p, sizeof p, "%s/user-0/%s", test_cg.dir[i], serves_limits_only(i) ? CGROUP_SHARED : "kept");
                cr_expect(rmdir(p) >= 0, "%s: %m", p);
                snprintf(p, sizeof p, "%s/user-0", test_cg.dir[i]);
                cr_expect(rmdir(p) >= 0, "%s: %m", p);
        }
        snprintf(p, sizeof p, "%s/supervisor", test_cg.dir[0]);
        cr_expect(rmdir(p) >= 0, "%s: %m", p);
}

/* ---- nested sandboxes' cgroups ---- */

/* The cgroup2 path the process is in (/proc/PID/cgroup's 0:: line). */
static void cgroup2_of(pid_t pid, char *buf, size_t size) {
        char p[64], line[1024];
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/cgroup", (int) pid);
        f = fopen(p, "re");
        cr_assert(f);
        buf[0] = '\0';
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(buf, size, "%s", line + 3);
                }
        fclose(f);
}

/* With the payload leaf (as on a host whose cgroup2 tree holds controllers): the sandbox's processes are in
 * NAME/payload, a nested cgroup goes beside it with its limits, the ceilings are the sandbox's, a kill of the
 * sandbox reaches the nested one, and the sandbox's directory goes only once the nested one's has. */
Test(cgroup, payload_leaf_and_a_nested_cgroup_below) {
        CgroupLimits outer = CGROUP_LIMITS_NONE, inner = CGROUP_LIMITS_NONE, over = CGROUP_LIMITS_NONE;
        CgroupLimitType t = _CGROUP_LIMIT_TYPE_INVALID;
        char path[1100], want[700], dir[700], buf[128], reason[256];
        Cgroup *cg, *kid;
        Child a, b;

        if (!have_controller("pids"))
                cr_skip_test("no pids controller on this host");
        manager = cgroup_manager_free(manager);
        cr_assert_eq(cgroup_manager_new(&(CgroupManagerOptions) { .payload_leaf_always = true }, &manager), 0);

        outer.tasks_max = 8;
        cr_assert_eq(cgroup_new(manager, 0, "outer", &outer, NULL, CGROUP_ROOM_BELOW, &cg), 0);
        cr_assert(cgroup_has_room_below(cg));
        snprintf(dir, sizeof dir, "%s/user-0/outer", test_cgroup_dir(&test_cg, ""));
        cr_assert(path_exists(dir, "payload"));
        a = child_start(cg, sleep_forever);
        child_go(&a);
        snprintf(want, sizeof want, "%s/payload", cgroup_path(cg));
        cgroup2_of(a.pid, path, sizeof path);
        cr_assert_str_eq(path, want);
        cgroup_release_after_spawn(cg);

        over.tasks_max = 9;
        cr_assert_eq(cgroup_check_ceiling(cg, &over, &t, reason, sizeof reason), -E2BIG);
        cr_assert_eq(t, CGROUP_LIMIT_TASKS_MAX);
        cr_assert_str_eq(reason, "9 tasks is above the sandbox's TasksMax=8");
        inner.tasks_max = 4;
        cr_assert_eq(cgroup_check_ceiling(cg, &inner, NULL, NULL, 0), 0);

        cr_assert_eq(cgroup_new_below(cg, "inner", &inner, 0, &kid), 0);
        snprintf(want, sizeof want, "%s/inner", cgroup_path(cg));
        cr_assert_str_eq(cgroup_path(kid), want);
        b = child_start(kid, sleep_forever);
        child_go(&b);
        cgroup2_of(b.pid, path, sizeof path);
        cr_assert_str_eq(path, want);
        cgroup_release_after_spawn(kid);
        snprintf(dir, sizeof dir, "%s/user-0/outer/inner", dir_for("pids"));
        read_text(dir, "pids.max", buf, sizeof buf);
        cr_assert_str_eq(buf, "4");
        over.tasks_max = 6;
        cr_assert_eq(cgroup_check_ceiling(kid, &over, &t, reason, sizeof reason), -E2BIG);
        cr_assert_str_eq(reason, "6 tasks is above the sandbox's TasksMax=4");

        /* A kill of the sandbox reaches the nested one; the sandbox goes once the nested one has. */
        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1));
        child_wait(&a);
        child_wait(&b);
        cr_assert_eq(cgroup_remove(cg), 0);
        snprintf(dir, sizeof dir, "%s/user-0", test_cgroup_dir(&test_cg, ""));
        cr_assert(path_exists(dir, "outer/inner"));
        cr_assert_eq(cgroup_remove(kid), 0);
        cr_assert_not(path_exists(dir, "outer"));
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(dir, sizeof dir, "%s/user-0", test_cg.dir[i]);
                cr_assert_not(path_exists(dir, "outer"), "%s/outer left", dir);
        }
}

/* A sandbox's cgroup with a nested one, a child in each: SIGTERM to the sandbox reaches both, and both
 * cgroups go (the parent removed first goes with its child). */
static void end_with_nested(Cgroup *cg, Cgroup *kid, Child *a, Child *b) {
        cr_assert_eq(cgroup_signal_all(cg, SIGTERM), 2);
        cr_assert(wait_events(cg, false, -1));
        child_wait(a);
        child_wait(b);
        cr_assert_eq(cgroup_remove(cg), 0);
        cr_assert_eq(cgroup_remove(kid), 0);
}

/* Where the cgroup2 tree holds controllers (the payload leaf), a sandbox made without its leaf has no room
 * for a nested cgroup with limits, but one without limits needs no controller of its and is made, itself
 * without a leaf or room for limits below it. */
Test(cgroup, nested_cgroup_without_limits_needs_no_room) {
        CgroupLimits none = CGROUP_LIMITS_NONE, some = CGROUP_LIMITS_NONE;
        char dir[700];
        Cgroup *cg, *kid;
        Child a, b;

        manager = cgroup_manager_free(manager);
        cr_assert_eq(cgroup_manager_new(&(CgroupManagerOptions) { .payload_leaf_always = true }, &manager), 0);
        cr_assert_eq(cgroup_new(manager, 0, "noroom", &none, NULL, 0, &cg), 0);
        cr_assert_not(cgroup_has_room_below(cg));
        a = child_start(cg, sleep_forever);
        child_go(&a);
        cgroup_release_after_spawn(cg);

        some.tasks_max = 4;
        cr_assert_eq(cgroup_new_below(cg, "kid", &some, CGROUP_ROOM_BELOW, &kid), -EBUSY);
        cr_assert_eq(cgroup_new_below(cg, "kid", &none, CGROUP_ROOM_BELOW, &kid), 0);
        cr_assert_not(cgroup_has_room_below(kid));
        snprintf(dir, sizeof dir, "%s/user-0/noroom/kid", test_cgroup_dir(&test_cg, ""));
        cr_assert_not(path_exists(dir, "payload"));
        b = child_start(kid, sleep_forever);
        child_go(&b);
        cgroup_release_after_spawn(kid);
        end_with_nested(cg, kid, &a, &b);
        snprintf(dir, sizeof dir, "%s/user-0", test_cgroup_dir(&test_cg, ""));
        cr_assert_not(path_exists(dir, "noroom"));
}

/* Without the leaf, a nested cgroup is made below the sandbox's own; signals reach it. Where the cgroup2 tree
 * holds controllers that takes room below, for limits only: one without limits is made there too. */
Test(cgroup, nested_cgroup_below_a_sandbox_without_leaf) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        char dir[700];
        Cgroup *cg, *kid;
        Child a, b;

        cr_assert_eq(cgroup_new(manager, 0, "plain", &none, NULL, 0, &cg), 0);
        if (!cgroup_has_room_below(cg)) {
                CgroupLimits some = CGROUP_LIMITS_NONE;

                some.tasks_max = 4;
                cr_assert_eq(cgroup_new_below(cg, "kid", &some, 0, &kid), -EBUSY);
        }
        a = child_start(cg, sleep_forever);
        child_go(&a);
        cgroup_release_after_spawn(cg);
        cr_assert_eq(cgroup_new_below(cg, "kid", &none, 0, &kid), 0);
        b = child_start(kid, sleep_forever);
        child_go(&b);
        cgroup_release_after_spawn(kid);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(dir, sizeof dir, "%s/user-0/plain", test_cg.dir[i]);
                cr_assert_eq(path_exists(dir, "kid"), !serves_limits_only(i), "%s/kid", dir);
        }
        end_with_nested(cg, kid, &a, &b);
        for (size_t i = 0; i < test_cg.n; i++) {
                snprintf(dir, sizeof dir, "%s/user-0", test_cg.dir[i]);
                cr_assert_not(path_exists(dir, "plain"), "%s/plain left", dir);
        }
}

/* The v1 cpu hierarchy serves limits alone: a sandbox without a CPU limit has no cgroup there and its processes
 * are in its user's; a nested one with a CPU limit gets one below its sandbox's, made for it (without
 * processes), and one nested below that is held there too. A cgroup made ahead takes a CPU limit only if it was
 * made with a cgroup of its own everywhere. */
Test(cgroup, a_v1_cpu_cgroup_only_where_a_cpu_limit_needs_one) {
        CgroupLimits none = CGROUP_LIMITS_NONE, weighted = CGROUP_LIMITS_NONE;
        const char *cpu = test_cgroup_dir(&test_cg, "cpu");
        char dir[700], buf[64], procs[700];
        Cgroup *cg, *kid, *grandkid, *ahead;
        Child a, b, c;

        if (!cpu || !test_cgroup_controller_is_v1("cpu"))
                cr_skip_test("the cpu controller is not a v1 hierarchy on this host");
        weighted.cpu_weight = 200;

        cr_assert_eq(cgroup_new(manager, 0, "plain", &none, NULL, 0, &cg), 0);
        snprintf(dir, sizeof dir, "%s/user-0", cpu);
        cr_assert_not(path_exists(dir, "plain"));
        a = child_start(cg, sleep_forever);
        child_go(&a);
        cgroup_release_after_spawn(cg);
        snprintf(dir, sizeof dir, "%s/user-0/" CGROUP_SHARED, cpu);
        read_text(dir, "cgroup.procs", buf, sizeof buf);
        cr_assert_eq(atoi(buf), a.pid, "the user's shared cpu cgroup has %s", buf);
        /* One weight for all of them: the user's cgroup holds no process itself. */
        snprintf(dir, sizeof dir, "%s/user-0", cpu);
        read_text(dir, "cgroup.procs", buf, sizeof buf);
        cr_assert_str_eq(buf, "");
        cr_expect_eq(cgroup_new(manager, 0, CGROUP_SHARED, &none, NULL, 0, &kid), -EINVAL);

        cr_assert_eq(cgroup_new_below(cg, "kid", &weighted, 0, &kid), 0);
        snprintf(dir, sizeof dir, "%s/user-0/plain/kid", cpu);
        read_text(dir, "cpu.shares", buf, sizeof buf);
        cr_assert_str_eq(buf, "2048");
        snprintf(dir, sizeof dir, "%s/user-0/plain", cpu);
        read_text(dir, "cgroup.procs", buf, sizeof buf);
        cr_assert_str_eq(buf, "", "the sandbox's processes stay in the user's shared cgroup");
        b = child_start(kid, sleep_forever);
        child_go(&b);
        cgroup_release_after_spawn(kid);
        snprintf(dir, sizeof dir, "%s/user-0/plain/kid", cpu);
        read_text(dir, "cgroup.procs", buf, sizeof buf);
        cr_assert_eq(atoi(buf), b.pid, "kid's cpu cgroup has %s", buf);

        /* Without limits of its own, but below one with a cgroup there: held to its limits. */
        cr_assert_eq(cgroup_new_below(kid, "grandkid", &none, 0, &grandkid), 0);
        c = child_start(grandkid, sleep_forever);
        child_go(&c);
        cgroup_release_after_spawn(grandkid);
        snprintf(procs, sizeof procs, "%s/user-0/plain/kid/grandkid", cpu);
        read_text(procs, "cgroup.procs", buf, sizeof buf);
        cr_assert_eq(atoi(buf), c.pid, "grandkid's cpu cgroup has %s", buf);

        cr_assert_eq(cgroup_signal_all(cg, SIGTERM), 3);
        cr_assert(wait_events(cg, false, -1));
        child_wait(&a);
        child_wait(&b);
        child_wait(&c);
        cr_assert_eq(cgroup_remove(cg), 0);
        cr_assert_eq(cgroup_remove(kid), 0);
        cr_assert_eq(cgroup_remove(grandkid), 0);
        snprintf(dir, sizeof dir, "%s/user-0", cpu);
        cr_assert_not(path_exists(dir, "plain"));

        /* Made ahead without limits: a CPU limit needs it made with CGROUP_ALL_HIERARCHIES. */
        cr_assert_eq(cgroup_flags_to_take(&weighted), CGROUP_ALL_HIERARCHIES);
        cr_assert_eq(cgroup_flags_to_take(&none), 0);
        cr_assert_eq(cgroup_new(manager, 0, "ahead", &none, NULL, cgroup_flags_to_take(&none), &ahead), 0);
        cr_assert_eq(cgroup_apply_limits_late(ahead, &weighted, NULL), -ENOMEDIUM);
        cr_assert_eq(cgroup_remove(ahead), 0);
        cr_assert_eq(cgroup_new(manager, 0, "ahead", &none, NULL, cgroup_flags_to_take(&weighted), &ahead), 0);
        cr_assert_eq(cgroup_apply_limits_late(ahead, &weighted, NULL), 0);
        snprintf(dir, sizeof dir, "%s/user-0/ahead", cpu);
        read_text(dir, "cpu.shares", buf, sizeof buf);
        cr_assert_str_eq(buf, "2048");
        cr_assert_eq(cgroup_remove(ahead), 0);
}

/* A daemon that takes over a sandbox made without a v1 cpu cgroup finds it as it was. */
Test(cgroup, a_sandbox_without_a_v1_cpu_cgroup_is_taken_over) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        Cgroup *cg;
        Child a;

        cr_assert_eq(cgroup_new(manager, 0, "over", &none, NULL, 0, &cg), 0);
        a = child_start(cg, sleep_forever);
        child_go(&a);
        cgroup_abandon(cg);
        /* As across a re-exec: the layout stays while a sandbox may live, the daemon in its leaf. */
        manager = cgroup_manager_free(manager);
        cr_assert_eq(cgroup_manager_new(&(CgroupManagerOptions) { .leaf = "supervisor", .reexecuted = true }, &manager),
                     0);
        cr_assert_eq(cgroup_open(manager, 0, "over", &cg), 0);
        cr_assert_eq(cgroup_hold_for_spawn(cg), 0, "a spawn into it (an Exec) finds every v1 cgroup.procs");
        cgroup_release_after_spawn(cg);
        cr_assert_gt(cgroup_kill(cg), 0);
        cr_assert(wait_events(cg, false, -1));
        child_wait(&a);
        cr_assert_eq(cgroup_remove(cg), 0);
}
