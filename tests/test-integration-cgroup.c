/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Containment end to end: a real nsboxd in a cgroup of its own (as under
 * Delegate=yes), sandboxes with limits, and checks from outside — the
 * sandbox's /proc/PID/cgroup, its cgroup files, the end state and usage the
 * daemon reports — that limits hold, kills reach every process, and no
 * cgroup outlives its sandbox or the daemon (test_daemon_stop() checks the
 * daemon's cgroup is empty). Where this host's cgroups cannot enforce a
 * limit, the test checks the refusal names it instead, and says so.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <linux/kcmp.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "sched-attr.h"
#include "test-util.h"
#include "varlink-message.h"

static TestDaemon daemon_;

static void setup(void) {
        /* Without spare cgroups, so that every cgroup left below the daemon's is a finding; they have a test
         * of their own, a_users_next_spawn_takes_a_cgroup_made_ahead. */
        const char *args[] = { "--limit", "spare-cgroups=0", NULL };

        test_daemon_start(&daemon_, args);
}

static void teardown(void) {
        test_daemon_stop(&daemon_);
}

TestSuite(cgroup, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static int64_t get_int(struct json_object *o, const char *path) {
        struct json_object *v = test_json_get(o, path);
        cr_assert(v, "missing %s in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

typedef struct Spawned {
        char id[80];
        pid_t pid;
        int pidfd;
} Spawned;

static struct json_object *spawn_call(int conn, const char *params, const int *fds, size_t n_fds, Spawned *ret) {
        _cleanup_free_ int *rfds = NULL;
        size_t n_rfds = 0;
        struct json_object *reply = test_call(conn, "io.nsbox.Sandbox.Spawn", params, fds, n_fds, &rfds, &n_rfds);

        if (ret && !test_json_get(reply, "error")) {
                cr_assert_eq(n_rfds, 1);
                snprintf(ret->id, sizeof ret->id, "%s", test_json_string(reply, "parameters.id"));
                ret->pid = (pid_t) get_int(reply, "parameters.pid");
                ret->pidfd = rfds[0];
        } else
                for (size_t i = 0; i < n_rfds; i++)
                        close(rfds[i]);
        return reply;
}

static Spawned spawn_ok(int conn, const char *params, const int *fds, size_t n_fds) {
        Spawned s = {};
        struct json_object *reply = spawn_call(conn, params, fds, n_fds, &s);

        cr_assert_null(test_json_get(reply, "error"), "Spawn failed: %s", json_object_to_json_string(reply));
        json_object_put(reply);
        return s;
}

static struct json_object *call_id(int conn, const char *method, const char *id, const char *extra) {
        char p[256], m[64];

        snprintf(m, sizeof m, "io.nsbox.Sandbox.%s", method);
        snprintf(p, sizeof p, "{\"id\":\"%s\"%s%s}", id, extra ? "," : "", extra ?: "");
        return test_call(conn, m, p, NULL, 0, NULL, NULL);
}

static void call_id_ok(int conn, const char *method, const char *id, const char *extra) {
        struct json_object *r = call_id(conn, method, id, extra);

        cr_assert_null(test_json_get(r, "error"), "%s failed: %s", method, json_object_to_json_string(r));
        json_object_put(r);
}

/* Kills every process of the sandbox and waits for its end, which says so. */
static void kill_all_and_wait(int conn, const char *id) {
        struct json_object *r;

        call_id_ok(conn, "Kill", id, "\"signal\":9,\"all\":true");
        r = call_id(conn, "Wait", id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "killed");
        json_object_put(r);
}

/* The sandbox's cgroup directory in the hierarchy of controller ("" for cgroup2), from Inspect's path, below
 * daemon d's cgroup. */
static void sandbox_dir_of(const TestDaemon *d, struct json_object *inspect, const char *controller, char *buf,
                           size_t size) {
        const char *path = test_json_string(inspect, "parameters.sandbox.cgroup");
        const char *user = path ? strstr(path, "/user-") : NULL;
        const char *base = test_cgroup_dir(&d->cgroup, controller);

        cr_assert(user, "no cgroup in %s", json_object_to_json_string(inspect));
        cr_assert(base);
        snprintf(buf, size, "%s%s", base, user);
}

static void sandbox_dir(struct json_object *inspect, const char *controller, char *buf, size_t size) {
        sandbox_dir_of(&daemon_, inspect, controller, buf, size);
}

static bool file_contains(const char *dir, const char *file, const char *text) {
        char p[1024], buf[4096];
        FILE *f;
        size_t n;

        snprintf(p, sizeof p, "%s/%s", dir, file);
        f = fopen(p, "re");
        if (!f)
                return false;
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return strstr(buf, text) != NULL;
}

static bool pid_alive(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        return poll(&p, 1, 0) == 0;
}

/* Waits (bounded) for the process behind pidfd to die. */
static bool pid_dies(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        return poll(&p, 1, 10000) == 1;
}

/* Reads one decimal pid the sandbox wrote to the pipe. */
static pid_t read_pid(int fd) {
        char buf[32] = "";
        ssize_t n = 0, k;

        while (n < (ssize_t) sizeof buf - 1 && (k = read(fd, buf + n, 1)) == 1 && buf[n] != '\n')
                n++;
        buf[n] = 0;
        cr_assert_gt(n, 0, "the sandbox wrote no pid");
        return (pid_t) atoi(buf);
}

/* Whether the line [line, end) of a listing ends in component name below a user cgroup (".../user-UID/name"),
 * or is a user cgroup itself with name NULL. */
static bool is_user_cgroup(const char *line, const char *end, const char *name) {
        const char *c = end;
        size_t digits;

        if (name) {
                size_t l = strlen(name);

                if ((size_t) (end - line) <= l + 1 || strncmp(end - l, name, l) != 0 || end[-l - 1] != '/')
                        return false;
                end -= l + 1;
                c = end;
        }
        while (c > line && c[-1] != '/')
                c--;
        digits = strspn(c + 5, "0123456789");
        return strncmp(c, "user-", 5) == 0 && digits > 0 && c + 5 + digits == end;
}

/* The cgroups in a listing of test_cgroup_leftovers() but empty user cgroups (BASE/user-UID with nothing
 * below but, in a v1 cpu hierarchy, its empty "shared" one), which the daemon keeps for the user's next
 * sandbox. */
static size_t count_but_idle_users(const char *left) {
        size_t n = 0;

        for (const char *line = left; *line;) {
                const char *end = strchrnul(line, '\n'), *next = *end ? end + 1 : end;
                size_t len = (size_t) (end - line);

                if (is_user_cgroup(line, end, "shared"))
                        ; /* counted with its user's */
                else if (is_user_cgroup(line, end, NULL)) {
                        /* Listed depth first: idle if nothing but its shared one is below it. */
                        const char *below = next;

                        if (strncmp(below, line, len) == 0 && below[len] == '/' && strncmp(below + len, "/shared", 7) == 0 &&
                            (below[len + 7] == '\n' || below[len + 7] == '\0'))
                                below = strchrnul(below, '\n'), below = *below ? below + 1 : below;
                        n += strncmp(below, line, len) == 0 && below[len] == '/';
                } else
                        n++;
                line = next;
        }
        return n;
}

/* Only the daemon's own leaf is left below its cgroup, and empty user cgroups: every sandbox cgroup is gone. */
static void assert_only_the_leaf_left(void) {
        char left[4096];
        size_t n = 0;

        /* The sandbox cgroups go once the daemon has seen the exit: a loop iteration after the reply at most. */
        for (int i = 0; i < 100; i++) {
                (void) test_cgroup_leftovers(&daemon_.cgroup, left, sizeof left);
                n = count_but_idle_users(left);
                if (n == 1)
                        break;
                usleep(20000);
        }
        cr_assert_eq(n, 1, "expected only the supervisor leaf and idle user cgroups, found:\n%s", left);
        cr_assert(strstr(left, "/supervisor\n"), "%s", left);
}

/* ---- membership ---- */

/* A v1 hierarchy of the cpu controller serves limits alone: a sandbox has a cgroup of its own there only with a
 * CPU limit, and is in its user's shared one there otherwise (cgroup.h). */
static bool in_users_cgroup_there(const char *controller, bool cpu_limit) {
        return !cpu_limit && strcmp(controller, "cpu") == 0;
}

static void check_membership(int conn, const char *request, bool cpu_limit) {
        Spawned s = spawn_ok(conn, request, NULL, 0);
        struct json_object *r = call_id(conn, "Inspect", s.id, NULL);
        char dir[1024], pid[32];
        const char *path = test_json_string(r, "parameters.sandbox.cgroup");

        cr_assert(path, "%s", json_object_to_json_string(r));
        cr_assert(strstr(path, "/user-0/") && strstr(path, s.id), "cgroup %s", path);

        snprintf(pid, sizeof pid, "%d\n", (int) s.pid);
        for (size_t i = 0; i < daemon_.cgroup.n; i++) {
                sandbox_dir(r, daemon_.cgroup.controller[i], dir, sizeof dir);
                if (in_users_cgroup_there(daemon_.cgroup.controller[i], cpu_limit)) {
                        cr_expect(access(dir, F_OK) < 0 && errno == ENOENT, "%s exists", dir);
                        strcpy(strrchr(dir, '/'), "/shared");
                }
                cr_expect(file_contains(dir, "cgroup.procs", pid), "pid %d not in %s", (int) s.pid, dir);
        }
        json_object_put(r);

        call_id_ok(conn, "Kill", s.id, "\"signal\":9");
        r = call_id(conn, "Wait", s.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "killed");
        cr_expect(test_json_get(r, "parameters.usage.cpuUSec"), "no usage in %s", json_object_to_json_string(r));
        json_object_put(r);
        close(s.pidfd);
        assert_only_the_leaf_left();
}

Test(cgroup, a_sandbox_is_in_its_own_cgroup_where_it_needs_one_and_inspect_says_which) {
        int conn = test_daemon_connect(&daemon_);

        check_membership(conn, "{\"argv\":[\"sleep\",\"1000\"]}", false);
        /* Twice each: the second takes the cgroup made ahead after the first. */
        check_membership(conn, "{\"argv\":[\"sleep\",\"1000\"]}", false);
        check_membership(conn, "{\"argv\":[\"sleep\",\"1000\"],\"resources\":{\"cpu\":{\"weight\":200}}}", true);
        check_membership(conn, "{\"argv\":[\"sleep\",\"1000\"],\"resources\":{\"cpu\":{\"weight\":200}}}", true);
        check_membership(conn, "{\"argv\":[\"sleep\",\"1000\"]}", false);
        test_disconnect(conn);
}

static int user_namespace_sandbox_as_nobody(void *arg) {
        TestDaemon *d = arg;
        int conn = test_daemon_connect(d);
        char path[64], line[1024];
        int in_cgroups = 0;
        struct json_object *r;
        Spawned s;
        FILE *f;

        r = spawn_call(conn, "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\",\"mount\"]}", NULL, 0, &s);
        if (test_json_get(r, "error"))
                return 1;
        json_object_put(r);

        /* Every hierarchy's line names the sandbox's own cgroup (cgroup2 from birth, v1 by its own move), but
         * a v1 cpu one's, the user's shared one: the sandbox sets no CPU limit. */
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) s.pid);
        f = fopen(path, "re");
        if (!f)
                return 2;
        while (fgets(line, sizeof line, f))
                if ((strncmp(line, "0::", 3) == 0 || strstr(line, ":memory:") || strstr(line, ":pids:")) &&
                    strstr(line, s.id))
                        in_cgroups++;
                else if (strstr(line, ":cpu:") || strstr(line, ":cpu,"))
                        in_cgroups += strstr(line, "/user-65534/shared\n") != NULL;
        fclose(f);
        test_disconnect(conn);
        return in_cgroups == (int) d->cgroup.n ? 0 : 3;
}

Test(cgroup, a_non_root_callers_user_namespace_sandbox_is_in_its_cgroups) {
        cr_assert_eq(test_run_as(65534, 65534, user_namespace_sandbox_as_nobody, &daemon_), 0,
                     "the sandbox is not in its cgroups");
        assert_only_the_leaf_left();
}

/* A cgroup namespace is rooted at the sandbox's own cgroups in every hierarchy the daemon uses: its v1 ones
 * too, which clone3() would have rooted at the daemon's, with every user's sandboxes below. */
static void check_cgroup_namespace_root(int conn, const char *params) {
        _cleanup_free_ char *out = NULL, *json = NULL;
        int pipefd[2];
        Spawned s;

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        cr_assert_geq(asprintf(&json, "{\"argv\":[\"cat\",\"/proc/self/cgroup\"],\"stdout\":0,%s}", params), 0);
        s = spawn_ok(conn, json, &pipefd[1], 1);
        close(pipefd[1]);
        out = test_read_fd(pipefd[0]);
        close(pipefd[0]);
        for (size_t i = 0; i < daemon_.cgroup.n; i++) {
                const char *c = daemon_.cgroup.controller[i];
                char line[64];

                if (*c)
                        snprintf(line, sizeof line, ":%s:/\n", c);
                else
                        snprintf(line, sizeof line, "0::/\n");
                cr_assert(strstr(out, line), "%s: no %s in\n%s", params, line, out);
        }
        json_object_put(call_id(conn, "Wait", s.id, NULL));
        close(s.pidfd);
}

Test(cgroup, a_cgroup_namespace_is_rooted_at_the_sandboxs_own_cgroups) {
        int conn = test_daemon_connect(&daemon_);

        check_cgroup_namespace_root(conn, "\"namespaces\":[\"cgroup\"]");
        check_cgroup_namespace_root(conn, "\"namespaces\":[\"user\",\"cgroup\",\"pid\"]");
        check_cgroup_namespace_root(conn, "\"namespaces\":[\"cgroup\"],\"resources\":{\"cpu\":{\"weight\":200}}");
        test_disconnect(conn);
        assert_only_the_leaf_left();
}

/* ---- whole-sandbox kill ---- */

/* A process that left the top process's tree, in a session of its own, without a pid namespace. */
static const char *const escape_params =
        "{\"argv\":[\"/bin/sh\",\"-c\",\"(setsid sh -c 'echo $$; exec sleep 1000' &); exec sleep 1000\"],"
        "\"namespaces\":[\"net\",\"ipc\",\"uts\"],\"stdout\":0}";

static Spawned spawn_escape(int conn, int *ret_escaped_pidfd) {
        int pipefd[2];
        Spawned s;
        pid_t escaped;

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        s = spawn_ok(conn, escape_params, &pipefd[1], 1);
        close(pipefd[1]);
        escaped = read_pid(pipefd[0]);
        close(pipefd[0]);

        *ret_escaped_pidfd = (int) syscall(SYS_pidfd_open, escaped, 0);
        cr_assert_geq(*ret_escaped_pidfd, 0, "pidfd_open %d: %m", (int) escaped);
        cr_assert(pid_alive(*ret_escaped_pidfd));
        return s;
}

Test(cgroup, kill_all_reaches_a_double_forked_setsid_process) {
        int conn = test_daemon_connect(&daemon_), escaped;
        Spawned s = spawn_escape(conn, &escaped);
        struct json_object *r;

        call_id_ok(conn, "Kill", s.id, "\"signal\":9,\"all\":true");
        cr_assert(pid_dies(escaped), "the escaped process survived Kill with all");
        r = call_id(conn, "Wait", s.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "killed");
        json_object_put(r);
        close(escaped);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

Test(cgroup, killing_the_top_process_ends_what_it_left_behind) {
        int conn = test_daemon_connect(&daemon_), escaped;
        Spawned s = spawn_escape(conn, &escaped);
        struct json_object *r;

        call_id_ok(conn, "Kill", s.id, NULL);
        r = call_id(conn, "Wait", s.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "killed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGTERM");
        /* The sandbox ended only once its cgroup was empty. */
        cr_assert_not(pid_alive(escaped), "the sandbox ended with a process of it still running");
        json_object_put(r);
        close(escaped);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

static int escape_and_disconnect_as_nobody(void *arg) {
        TestDaemon *d = arg;
        int conn = test_daemon_connect(d), escaped;

        spawn_escape(conn, &escaped);
        test_disconnect(conn);
        if (!pid_dies(escaped))
                return 1;
        return 0;
}

Test(cgroup, kill_on_close_reaches_a_double_forked_setsid_process_of_a_non_root_caller) {
        cr_assert_eq(test_run_as(65534, 65534, escape_and_disconnect_as_nobody, &daemon_), 0,
                     "the escaped process survived its connection");
        assert_only_the_leaf_left();
}

/* ---- limits ---- */

/* Spawns params (with "resources" and more); NULL if the host refused a limit, having checked the refusal. */
static bool spawn_or_refused(int conn, const char *params, const int *fds, size_t n_fds, const char *limit,
                             Spawned *ret) {
        struct json_object *reply = spawn_call(conn, params, fds, n_fds, ret);
        const char *error = test_json_string(reply, "error");

        if (error && strcmp(error, "io.nsbox.Sandbox.LimitNotSupported") == 0) {
                cr_assert_str_eq(test_json_string(reply, "parameters.limit"), limit);
                cr_assert(test_json_string(reply, "parameters.reason"));
                cr_log_info("%s cannot be enforced on this host (%s): checked the refusal instead", limit,
                            test_json_string(reply, "parameters.reason"));
                json_object_put(reply);
                return false;
        }
        cr_assert_null(error, "Spawn failed: %s", json_object_to_json_string(reply));
        json_object_put(reply);
        return true;
}

Test(cgroup, tasks_max_contains_a_fork_bomb) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r = NULL;
        int64_t peak = -1, tasks = 0;
        Spawned s;

        /* The bomb runs in the background; the top process waits, exec'd so it needs no fork of its own. */
        if (!spawn_or_refused(conn,
                              "{\"argv\":[\"/bin/sh\",\"-c\",\"f(){ f | f & }; f 2>/dev/null; exec sleep 1000\"],"
                              "\"resources\":{\"pids\":{\"limit\":20}}}",
                              NULL, 0, "resources.pids.limit", &s)) {
                test_disconnect(conn);
                return;
        }

        /* Until it has hit the limit: then it is as big as it gets. */
        for (int i = 0; i < 500 && peak < 20; i++) {
                json_object_put(r);
                r = call_id(conn, "Inspect", s.id, NULL);
                tasks = get_int(r, "parameters.sandbox.usage.tasks");
                cr_assert_leq(tasks, 20, "the fork bomb grew past TasksMax=20: %" PRId64, tasks);
                if (test_json_get(r, "parameters.sandbox.usage.tasksPeak"))
                        peak = get_int(r, "parameters.sandbox.usage.tasksPeak");
                else if (tasks == 20)
                        peak = 20;
                usleep(10000);
        }
        cr_assert_eq(peak, 20, "the bomb never reached the limit: %s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.sandbox.resources.pids.limit"), 20);
        json_object_put(r);

        kill_all_and_wait(conn, s.id);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

Test(cgroup, memory_max_oom_kills_and_says_so) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;
        Spawned s;
        /* 200M written, not only reserved; no swap to escape to where the host accounts swap. */
        const char *with_swap = "{\"argv\":[\"python3\",\"-c\",\"x = b'x' * (200 << 20)\"],"
                                "\"resources\":{\"memory\":{\"limit\":33554432,\"swap\":33554432}}}";
        const char *without_swap = "{\"argv\":[\"python3\",\"-c\",\"x = b'x' * (200 << 20)\"],"
                                   "\"resources\":{\"memory\":{\"limit\":33554432}}}";

        if (!spawn_or_refused(conn, with_swap, NULL, 0, "resources.memory.swap", &s) &&
            !spawn_or_refused(conn, without_swap, NULL, 0, "resources.memory.limit", &s)) {
                test_disconnect(conn);
                return;
        }

        r = call_id(conn, "Wait", s.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "oom-killed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGKILL");
        cr_assert_geq(get_int(r, "parameters.usage.oomKills"), 1);
        cr_assert_leq(get_int(r, "parameters.usage.memoryPeak"), 33554432 + 1048576);
        json_object_put(r);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

Test(cgroup, runtime_max_ends_a_sleep_as_timed_out) {
        int conn = test_daemon_connect(&daemon_);
        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"100\"],\"runtimeMaxUSec\":1000000}", NULL, 0);
        struct json_object *r = call_id(conn, "Wait", s.id, NULL);

        cr_assert_str_eq(test_json_string(r, "parameters.state"), "timed-out", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGKILL");
        json_object_put(r);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

Test(cgroup, rlimits_are_set_and_reported) {
        int conn = test_daemon_connect(&daemon_), pipefd[2];
        char out[256] = "";
        ssize_t n;
        Spawned s;
        struct json_object *r;

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        s = spawn_ok(conn,
                     "{\"argv\":[\"/bin/sh\",\"-c\",\"ulimit -Sn; ulimit -Hn; ulimit -Hc\"],\"stdout\":0,"
                     "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200},"
                     "{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":18446744073709551615}]}",
                     &pipefd[1], 1);
        close(pipefd[1]);
        for (size_t total = 0; total < sizeof out - 1 && (n = read(pipefd[0], out + total, sizeof out - 1 - total)) > 0;)
                total += (size_t) n;
        close(pipefd[0]);
        cr_assert_str_eq(out, "100\n200\nunlimited\n");

        r = call_id(conn, "Wait", s.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited");
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(conn);
}

/* The dynamic loader of this very program: a command that runs with stdio alone (ld.so --version opens
 * nothing), where /bin/true would fail to load its libc with 3 fds (as under prlimit --nofile=3). */
static int find_interpreter(struct dl_phdr_info *info, size_t size, void *data) {
        char *path = data;

        for (int i = 0; i < info->dlpi_phnum; i++)
                if (info->dlpi_phdr[i].p_type == PT_INTERP) {
                        snprintf(path, PATH_MAX, "%s", (const char *) (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr));
                        return 1;
                }
        return 1; /* the program comes first: only its own counts */
}

/* Spawns argv_json with shape (more Spawn parameters) and RLIMIT_NOFILE soft = hard = nofile, stdout into out;
 * 0 once it exited 0, 1 if the Spawn failed, 2 if the command did, 3 on anything else. */
static int spawn_with_nofile(TestDaemon *d, const char *argv_json, const char *shape, unsigned nofile, char *out,
                             size_t size) {
        int conn = test_daemon_connect(d), pipefd[2], ret;
        char params[PATH_MAX + 512];
        size_t total = 0;
        struct json_object *r;
        ssize_t n;
        Spawned s;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return 3;
        snprintf(params, sizeof params,
                 "{\"argv\":%s,%s\"stdout\":0,\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":%u,\"hard\":%u}]}",
                 argv_json, shape, nofile, nofile);
        r = spawn_call(conn, params, &pipefd[1], 1, &s);
        close(pipefd[1]);
        if (test_json_get(r, "error")) {
                fprintf(stderr, "%s\n", json_object_to_json_string(r));
                json_object_put(r);
                close(pipefd[0]);
                test_disconnect(conn);
                return 1;
        }
        json_object_put(r);
        while (total < size - 1 && (n = read(pipefd[0], out + total, size - 1 - total)) > 0)
                total += (size_t) n;
        out[total] = 0;
        close(pipefd[0]);
        r = call_id(conn, "Wait", s.id, NULL);
        ret = test_json_get(r, "parameters.exitCode") && json_object_get_int(test_json_get(r, "parameters.exitCode")) == 0 ?
                      0 : 2;
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(conn);
        return ret;
}

typedef struct NofileCase {
        const char *shape;
        char interpreter[PATH_MAX];
} NofileCase;

/* Exit status 0: both spawns did as asked (see spawn_with_nofile()); else 10 times the first one's code and the
 * second one's. */
static int nofile_limits_hold(void *arg) {
        NofileCase *c = arg;
        char argv[PATH_MAX + 32], out[256];
        int r;

        snprintf(argv, sizeof argv, "[\"%s\",\"--version\"]", c->interpreter);
        r = spawn_with_nofile(&daemon_, argv, c->shape, 3, out, sizeof out);
        if (r != 0)
                return 10 * r;
        r = spawn_with_nofile(&daemon_, "[\"/bin/sh\",\"-c\",\"ulimit -Sn; ulimit -Hn\"]", c->shape, 4, out, sizeof out);
        if (r == 0 && strcmp(out, "4\n4\n") != 0) {
                fprintf(stderr, "ulimit said: %s\n", out);
                r = 3;
        }
        return r;
}

/* The fd limit is the command's, not the spawn's: a limit of 3 leaves room for stdio alone, which is all a
 * command that opens nothing needs, with init (which has fds of its own) and in a non-root caller's user
 * namespace too; the command has the limit it asked for. */
Test(cgroup, a_fd_limit_of_stdio_alone_is_the_commands) {
        static const char *const shapes[] = { "", "\"namespaces\":[\"pid\"],", "\"namespaces\":[\"user\",\"pid\"]," };
        NofileCase c = {};

        dl_iterate_phdr(find_interpreter, c.interpreter);
        cr_assert(c.interpreter[0], "no PT_INTERP in this program");
        for (size_t i = 0; i < ELEMENTSOF(shapes); i++) {
                c.shape = shapes[i];
                cr_assert_eq(nofile_limits_hold(&c), 0, "as root, shape %s", shapes[i]);
                cr_assert_eq(test_run_as(65534, 65534, nofile_limits_hold, &c), 0, "as nobody, shape %s", shapes[i]);
        }
}

Test(cgroup, pause_freezes_and_resume_thaws) {
        int conn = test_daemon_connect(&daemon_);
        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        struct json_object *r;
        char dir[1024];
        bool frozen = false;

        call_id_ok(conn, "Pause", s.id, NULL);
        r = call_id(conn, "Inspect", s.id, NULL);
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.sandbox.paused")));
        sandbox_dir(r, "", dir, sizeof dir);
        json_object_put(r);
        for (int i = 0; i < 500 && !frozen; i++) {
                frozen = file_contains(dir, "cgroup.events", "frozen 1");
                if (!frozen)
                        usleep(10000);
        }
        cr_assert(frozen, "the cgroup never froze");

        call_id_ok(conn, "Resume", s.id, NULL);
        for (int i = 0; i < 500 && frozen; i++) {
                frozen = !file_contains(dir, "cgroup.events", "frozen 0");
                if (frozen)
                        usleep(10000);
        }
        cr_assert_not(frozen, "the cgroup never thawed");
        r = call_id(conn, "Inspect", s.id, NULL);
        cr_assert_null(test_json_get(r, "parameters.sandbox.paused"));
        json_object_put(r);

        /* A paused sandbox still dies of Kill. */
        call_id_ok(conn, "Pause", s.id, NULL);
        kill_all_and_wait(conn, s.id);
        close(s.pidfd);
        assert_only_the_leaf_left();
        test_disconnect(conn);
}

/*
 * A root caller's sandbox has its init on the daemon's memory for a moment after its Spawn is answered (until
 * init execs nsbox-init; a CPU quota of 1 ms a second here makes that moment last into the next period). A Pause then
 * waits for init to leave it: frozen there, init would hold its spawn worker until the watchdog killed the
 * sandbox at the spawn's timeout.
 */
Test(cgroup, pause_waits_for_init_to_leave_the_daemons_memory) {
        int conn = test_daemon_connect(&daemon_);
        Spawned s = spawn_ok(conn,
                             "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"pid\"],"
                             "\"resources\":{\"cpu\":{\"quota\":1000,\"period\":1000000}}}",
                             NULL, 0);
        struct json_object *r;

        call_id_ok(conn, "Pause", s.id, NULL);
        cr_expect_neq(syscall(SYS_kcmp, daemon_.pid, s.pid, KCMP_VM, 0, 0), 0,
                      "the Pause froze init on the daemon's memory");
        r = call_id(conn, "Inspect", s.id, NULL);
        cr_expect(json_object_get_boolean(test_json_get(r, "parameters.sandbox.paused")), "%s",
                  json_object_to_json_string(r));
        json_object_put(r);

        kill_all_and_wait(conn, s.id);
        close(s.pidfd);
        test_disconnect(conn);
}

/*
 * A root caller's init held on the daemon's memory after the answer, as its command could hold it (it runs with
 * init's uid; docs/architecture.md, "The watchdog"). A CPU quota of 1 ms a second, spent by a spinning command,
 * keeps init there long enough for the test to freeze the sandbox's cgroup (cgroup2) and do to init what such
 * a command would; the freeze keeps init from leaving before the daemon looks. The daemon's spawn timeout is an
 * hour here, so the watchdog would not end it: the daemon's look at init does, or the test fails at
 * test_wait_until()'s bound.
 */
#define HELD_INIT_SPAWN_WITH(init) \
        "{\"argv\":[\"sh\",\"-c\",\"while :; do :; done\"]," init ",\"keepAlive\":true," \
        "\"resources\":{\"cpu\":{\"quota\":1000,\"period\":1000000}}}"
/* Init as pid 1 of a pid namespace; as a subreaper without one, which its command may signal. */
#define HELD_INIT_SPAWN HELD_INIT_SPAWN_WITH("\"namespaces\":[\"pid\"]")
#define HELD_SUBREAPER_SPAWN HELD_INIT_SPAWN_WITH("\"init\":true")

typedef struct HeldInit {
        TestDaemon daemon;
        int conn;
        Spawned sandbox;
        char cgroup[1024]; /* its cgroup2 directory */
} HeldInit;

static bool init_on_daemon_memory(const HeldInit *h) {
        return syscall(SYS_kcmp, h->daemon.pid, h->sandbox.pid, KCMP_VM, 0, 0) == 0;
}

static bool init_left(void *userdata) {
        return !init_on_daemon_memory(userdata);
}

static bool pidfd_readable(void *userdata) {
        struct pollfd pfd = { .fd = *(int *) userdata, .events = POLLIN };

        return poll(&pfd, 1, 0) > 0;
}

static void write_cgroup_file(const char *dir, const char *file, const char *text) {
        char p[1100];
        _cleanup_close_ int fd = -EBADF;

        snprintf(p, sizeof p, "%s/%s", dir, file);
        fd = open(p, O_WRONLY | O_CLOEXEC);
        cr_assert(fd >= 0, "%s: %m", p);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text), "%s: %m", p);
}

static bool cgroup_frozen(void *userdata) {
        return file_contains(userdata, "cgroup.events", "frozen 1");
}

/* Starts a daemon and a sandbox whose init the quota holds on the daemon's memory, frozen there if freeze. The
 * quota holds it only where the command runs on another CPU than init (which took the period's runtime first):
 * an init that left is killed, and another made. */
static void held_init_start_with(HeldInit *h, const char *spawn, bool freeze) {
        static const char *const args[] = { "--limit", "spawn-timeout=3600", "--limit", "spare-cgroups=0", NULL };
        struct json_object *r;

        test_daemon_start(&h->daemon, args);
        h->conn = test_daemon_connect(&h->daemon);
        for (int tries = 0;; tries++) {
                cr_assert_lt(tries, 40, "init left the daemon's memory before the quota could hold it there");
                h->sandbox = spawn_ok(h->conn, spawn, NULL, 0);
                if (init_on_daemon_memory(h)) {
                        if (!freeze)
                                return;
                        r = call_id(h->conn, "Inspect", h->sandbox.id, NULL);
                        sandbox_dir_of(&h->daemon, r, "", h->cgroup, sizeof h->cgroup);
                        json_object_put(r);
                        write_cgroup_file(h->cgroup, "cgroup.freeze", "1");
                        cr_assert(test_wait_until(cgroup_frozen, h->cgroup), "%s never froze", h->cgroup);
                        if (init_on_daemon_memory(h))
                                return;
                }
                kill_all_and_wait(h->conn, h->sandbox.id);
                close(h->sandbox.pidfd);
        }
}

static void held_init_start(HeldInit *h, bool freeze) {
        held_init_start_with(h, HELD_INIT_SPAWN, freeze);
}

static void held_init_stop(HeldInit *h) {
        close(h->sandbox.pidfd);
        test_disconnect(h->conn);
        test_daemon_stop(&h->daemon);
}

/* The daemon kills the sandbox whose init is held so, and its end says so. */
static void assert_held_init_killed(HeldInit *h, const char *how) {
        struct json_object *r;

        cr_assert(test_wait_until(pidfd_readable, &h->sandbox.pidfd),
                  "a sandbox whose init was %s on the daemon's memory still runs", how);
        r = call_id(h->conn, "Wait", h->sandbox.id, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "killed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGKILL", "%s", json_object_to_json_string(r));
        json_object_put(r);
}

/* A subreaper init takes SIGSTOP from its command (here the test stops it, as the command could), thawed: it
 * stays stopped. */
Test(cgroup, an_init_stopped_on_the_daemons_memory_ends_its_sandbox) {
        HeldInit h;

        held_init_start_with(&h, HELD_SUBREAPER_SPAWN, true);
        cr_assert_eq(kill(h.sandbox.pid, SIGSTOP), 0);
        write_cgroup_file(h.cgroup, "cgroup.freeze", "0");
        assert_held_init_killed(&h, "stopped");
        held_init_stop(&h);
}

/*
 * A stop a Kill call from the host sent is the caller's business: the sandbox lives on; continued, init
 * leaves. The daemon looks at it four times while the test waits for
 * the end that must not come.
 */
Test(cgroup, an_init_its_caller_stopped_on_the_daemons_memory_is_left_alone) {
        struct pollfd pfd;
        HeldInit h;

        held_init_start(&h, true);
        call_id_ok(h.conn, "Kill", h.sandbox.id, "\"signal\":19");
        write_cgroup_file(h.cgroup, "cgroup.freeze", "0");
        pfd = (struct pollfd) { .fd = h.sandbox.pidfd, .events = POLLIN };
        cr_assert_eq(poll(&pfd, 1, 4 * 250), 0, "the sandbox of an init its caller stopped was ended");
        call_id_ok(h.conn, "Kill", h.sandbox.id, "\"signal\":18");
        cr_assert(test_wait_until(init_left, &h), "init never left the daemon's memory");
        cr_assert_not(pidfd_readable(&h.sandbox.pidfd), "the sandbox of an init its caller stopped was ended");
        kill_all_and_wait(h.conn, h.sandbox.id);
        held_init_stop(&h);
}

/* A tracer's stop reaches pid 1 from inside too (a command that is root without a user namespace may trace):
 * whoever traces it, init held in a tracing stop ends its sandbox. */
Test(cgroup, an_init_in_a_tracing_stop_on_the_daemons_memory_ends_its_sandbox) {
        HeldInit h;

        held_init_start(&h, true);
        cr_assert_eq(ptrace(PTRACE_SEIZE, h.sandbox.pid, NULL, NULL), 0, "PTRACE_SEIZE: %m");
        cr_assert_eq(ptrace(PTRACE_INTERRUPT, h.sandbox.pid, NULL, NULL), 0, "PTRACE_INTERRUPT: %m");
        write_cgroup_file(h.cgroup, "cgroup.freeze", "0");
        /* The tracer learns of its tracee's end first; the daemon, its parent, once the tracer let it go. */
        for (int status = 0; !WIFSIGNALED(status);)
                cr_assert_eq(waitpid(h.sandbox.pid, &status, __WALL), h.sandbox.pid, "waitpid: %m");
        assert_held_init_killed(&h, "in a tracing stop");
        held_init_stop(&h);
}

/* From a process in the sandbox's pid namespace: a Kill call of its own sandbox, with SIGSTOP. 0 if it was sent. */
static int kill_from_inside(const HeldInit *h, const char *params) {
        pid_t pid = fork();
        int status;

        cr_assert(pid >= 0);
        if (pid == 0) {
                pid_t inside;

                if (setns(h->sandbox.pidfd, CLONE_NEWPID) < 0)
                        _exit(2);
                inside = fork();
                if (inside == 0) {
                        int conn = test_daemon_connect(&h->daemon);
                        struct json_object *r = call_id(conn, "Kill", h->sandbox.id, params);

                        _exit(test_json_get(r, "error") ? 3 : 0);
                }
                _exit(inside > 0 && waitpid(inside, &status, 0) == inside && WIFEXITED(status) ?
                              WEXITSTATUS(status) : 4);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Pid 1 takes no SIGSTOP from inside, but the sandbox may ask the daemon for one: that stop is the sandbox's. */
Test(cgroup, an_init_its_sandbox_had_the_daemon_stop_ends_its_sandbox) {
        HeldInit h;

        held_init_start(&h, true);
        cr_assert_eq(kill_from_inside(&h, "\"signal\":19"), 0, "the Kill from inside the sandbox failed");
        write_cgroup_file(h.cgroup, "cgroup.freeze", "0");
        assert_held_init_killed(&h, "stopped at its sandbox's request");
        held_init_stop(&h);
}

static void make_sched_idle(pid_t pid) {
        SchedAttr attr = { .size = sizeof attr, .sched_policy = SCHED_IDLE };

        cr_assert_eq(syscall(SYS_sched_setattr, pid, &attr, 0), 0, "sched_setattr: %m");
}

Test(cgroup, an_init_made_sched_idle_on_the_daemons_memory_ends_its_sandbox) {
        HeldInit h;

        held_init_start(&h, true);
        make_sched_idle(h.sandbox.pid);
        assert_held_init_killed(&h, "made SCHED_IDLE");
        held_init_stop(&h);
}

Test(cgroup, an_init_reniced_on_the_daemons_memory_ends_its_sandbox) {
        HeldInit h;

        held_init_start(&h, true);
        cr_assert_eq(setpriority(PRIO_PROCESS, (id_t) h.sandbox.pid, 19), 0, "setpriority: %m");
        assert_held_init_killed(&h, "reniced");
        held_init_stop(&h);
}

Test(cgroup, an_init_pinned_to_one_cpu_on_the_daemons_memory_ends_its_sandbox) {
        cpu_set_t one;
        HeldInit h;

        cr_assert_eq(sched_getaffinity(0, sizeof one, &one), 0);
        if (CPU_COUNT(&one) < 2)
                cr_skip_test("one CPU: no affinity to take CPUs from");
        held_init_start(&h, true);
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        cr_assert_eq(sched_setaffinity(h.sandbox.pid, sizeof one, &one), 0, "sched_setaffinity: %m");
        assert_held_init_killed(&h, "pinned to one CPU");
        held_init_stop(&h);
}

/* Whether the held init still runs the daemon's binary: on the memory of the image that re-executed. */
static bool init_runs_the_daemons_binary(const HeldInit *h) {
        char link[64], exe[PATH_MAX], own[PATH_MAX];
        ssize_t n, m;

        snprintf(link, sizeof link, "/proc/%d/exe", (int) h->sandbox.pid);
        n = readlink(link, exe, sizeof exe - 1);
        snprintf(link, sizeof link, "/proc/%d/exe", (int) h->daemon.pid);
        m = readlink(link, own, sizeof own - 1);
        return n > 0 && m > 0 && n == m && memcmp(exe, own, (size_t) n) == 0;
}

/* A re-executed daemon has no watchdog for the old image's children: it watches an init still on that image's
 * memory itself (the hand-over says which). */
Test(cgroup, an_init_made_sched_idle_on_the_old_images_memory_ends_its_sandbox_after_a_reexec) {
        HeldInit h;

        held_init_start(&h, true);
        test_daemon_listen_notify(&h.daemon);
        cr_assert_eq(kill(h.daemon.pid, SIGUSR2), 0);
        test_daemon_wait_notify(&h.daemon, "READY=1");
        h.daemon.notify_fd = safe_close(h.daemon.notify_fd);
        /* The re-exec closed every connection. */
        test_disconnect(h.conn);
        h.conn = test_daemon_connect(&h.daemon);
        cr_assert(init_runs_the_daemons_binary(&h), "init left the old image's memory while frozen");

        make_sched_idle(h.sandbox.pid);
        assert_held_init_killed(&h, "made SCHED_IDLE");
        held_init_stop(&h);
}

/* An init only slow to leave (its sandbox's own quota; nothing changed of it) is not killed: it leaves. */
Test(cgroup, an_init_only_slow_to_leave_the_daemons_memory_is_left_to_leave) {
        HeldInit h;

        held_init_start(&h, false);
        cr_assert(test_wait_until(init_left, &h), "init never left the daemon's memory");
        cr_assert_not(pidfd_readable(&h.sandbox.pidfd), "the sandbox of an init slow to leave was ended");
        kill_all_and_wait(h.conn, h.sandbox.id);
        held_init_stop(&h);
}

/* A Pause while a spawn into the sandbox is in flight (here its own, held by its blockFileDescriptor) waits for
 * it: frozen before its exec, the child would hold its spawn worker and the spawn would time out. */
Test(cgroup, pause_waits_for_a_spawn_in_flight) {
        int conn = test_daemon_connect(&daemon_), holder = test_daemon_connect(&daemon_), block[2];
        struct pollfd pfd = { .fd = conn, .events = POLLIN };
        struct json_object *r;

        cr_assert_eq(pipe2(block, O_CLOEXEC), 0);
        test_send(holder, "io.nsbox.Sandbox.Spawn",
                  "{\"argv\":[\"sleep\",\"1000\"],\"name\":\"held\",\"blockFileDescriptor\":0}", &block[0], 1);
        /* Visible by its name once the daemon took it up. */
        for (int i = 0; i < 1000; i++) {
                r = call_id(conn, "Inspect", "held", NULL);
                bool found = !test_json_get(r, "error");
                json_object_put(r);
                if (found)
                        break;
                usleep(10000);
        }
        test_send(conn, "io.nsbox.Sandbox.Pause", "{\"id\":\"held\"}", NULL, 0);
        cr_expect_eq(poll(&pfd, 1, 200), 0, "the Pause was answered while the spawn was in flight");

        close(block[1]);
        r = test_read_reply(holder, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "the held spawn failed: %s", json_object_to_json_string(r));
        json_object_put(r);
        r = test_read_reply(conn, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        r = call_id(conn, "Inspect", "held", NULL);
        cr_expect(json_object_get_boolean(test_json_get(r, "parameters.sandbox.paused")), "%s",
                  json_object_to_json_string(r));
        json_object_put(r);

        call_id_ok(conn, "Kill", "held", "\"signal\":9,\"all\":true");
        close(block[0]);
        test_disconnect(holder);
        test_disconnect(conn);
}

/* ---- refusals ---- */

static void assert_refused(int conn, const char *params, const char *error, const char *parameter) {
        struct json_object *r = spawn_call(conn, params, NULL, 0, NULL);

        cr_assert_str_eq(test_json_string(r, "error") ?: "(none)", error, "%s: %s", params,
                         json_object_to_json_string(r));
        if (parameter)
                cr_assert_str_eq(test_json_string(r, strcmp(error, "io.nsbox.Sandbox.LimitNotSupported") == 0 ?
                                                             "parameters.limit" :
                                                             "parameters.parameter"),
                                 parameter, "%s", json_object_to_json_string(r));
        json_object_put(r);
}

Test(cgroup, bad_limits_are_refused_by_name_and_leave_nothing_behind) {
        static const struct {
                const char *resources;
                const char *parameter;
        } cases[] = {
                { "\"resources\":{\"memory\":{\"limit\":0}}", "resources.memory.limit" },
                { "\"resources\":{\"memory\":{\"limit\":-1}}", "resources.memory.limit" },
                { "\"resources\":{\"memory\":{\"limit\":\"64M\"}}", "resources.memory.limit" },
                { "\"resources\":{\"memory\":{\"swap\":1048576}}", "resources.memory.swap" },
                { "\"resources\":{\"memory\":{\"limit\":2097152,\"swap\":1048576}}", "resources.memory.swap" },
                { "\"resources\":{\"pids\":{\"limit\":0}}", "resources.pids.limit" },
                { "\"resources\":{\"cpu\":{\"quota\":999}}", "resources.cpu.quota" },
                { "\"resources\":{\"cpu\":{\"period\":2000000}}", "resources.cpu.period" },
                { "\"resources\":{\"cpu\":{\"weight\":10001}}", "resources.cpu.weight" },
                { "\"resources\":{\"cpu\":{\"weight\":100,\"shares\":1024}}", "resources.cpu.weight" },
                { "\"resources\":{\"blkio\":{}}", "resources.blkio" },
                { "\"runtimeMaxUSec\":0", "runtimeMaxUSec" },
                { "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]", "rlimits[0].soft" },
                { "\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":0},"
                  "{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":0}]", "rlimits[1].type" },
                { "\"rlimits\":[{\"type\":\"NOFILE\",\"soft\":1,\"hard\":1}]", "rlimits[0].type" },
        };
        int conn = test_daemon_connect(&daemon_);
        char params[512];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(params, sizeof params, "{\"argv\":[\"true\"],%s}", cases[i].resources);
                assert_refused(conn, params, "org.varlink.service.InvalidParameter", cases[i].parameter);
        }

        /* What the host cannot enforce is refused by name; on a host that can, it runs. */
        if (test_cgroup_controller_is_v1("memory"))
                assert_refused(conn, "{\"argv\":[\"true\"],\"resources\":{\"memory\":{\"high\":1048576}}}",
                               "io.nsbox.Sandbox.LimitNotSupported", "resources.memory.high");
        else
                cr_log_info("memory is a cgroup2 controller here: MemoryHigh is enforceable, not refused");

        assert_only_the_leaf_left();
        test_disconnect(conn);
}

/* ---- policy ---- */

static char policy_path[128];

static void write_policy(const char *text) {
        int fd;

        snprintf(policy_path, sizeof policy_path, "/tmp/nsbt-cgroup-policy-%d.conf", (int) getpid());
        fd = open(policy_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

/* Starts d with policy, runs fn(arg) as nobody against it, stops it: fn's exit status (0: it held). */
static int nobody_under_policy(TestDaemon *d, const char *policy, int (*fn)(void *), void *arg) {
        const char *args[] = { "--policy", policy_path, NULL };
        int r;

        write_policy(policy);
        test_daemon_start(d, args);
        r = test_run_as(65534, 65534, fn, arg);
        test_daemon_stop(d);
        unlink(policy_path);
        return r;
}

typedef struct PolicyCase {
        TestDaemon *d;
        int n_ok;      /* sandboxes that must start */
        const char *limit; /* then the QuotaExceeded limit */
} PolicyCase;

static int aggregate_as_nobody(void *arg) {
        PolicyCase *pc = arg;
        int conn = test_daemon_connect(pc->d);
        struct json_object *r;
        Spawned s;

        for (int i = 0; i < pc->n_ok; i++) {
                r = spawn_call(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0, &s);
                if (test_json_get(r, "error")) {
                        fprintf(stderr, "spawn %d: %s\n", i, json_object_to_json_string(r));
                        return 10 + i;
                }
                json_object_put(r);
        }
        r = spawn_call(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0, NULL);
        if (!test_json_string(r, "error") || strcmp(test_json_string(r, "error"), "io.nsbox.Sandbox.QuotaExceeded") ||
            strcmp(test_json_string(r, "parameters.limit") ?: "", pc->limit)) {
                fprintf(stderr, "past the limit: %s\n", json_object_to_json_string(r));
                return 2;
        }
        json_object_put(r);

        /* A request above the policy's maximum is refused by name; none gets the default. */
        r = spawn_call(conn, "{\"argv\":[\"true\"],\"resources\":{\"pids\":{\"limit\":50}}}", NULL, 0, NULL);
        if (strcmp(test_json_string(r, "parameters.parameter") ?: "", "resources.pids.limit"))
                return 3;
        json_object_put(r);
        test_disconnect(conn);
        return 0;
}

Test(cgroup, a_user_over_its_aggregate_limit_is_refused) {
        TestDaemon d;
        PolicyCase pc = { .d = &d, .n_ok = 3, .limit = "user-tasks-max" };
        int r;

        if (!test_cgroup_controller_is_v1("pids") &&
            !file_contains(daemon_.cgroup.dir[0], "cgroup.subtree_control", "pids"))
                cr_skip_test("no pids controller for nsboxd here: the aggregate limit is refused instead");
        r = nobody_under_policy(&d, "[default]\ntasks-max = 10\nuser-tasks-max = 3\n", aggregate_as_nobody, &pc);
        cr_assert_eq(r, 0, "the aggregate tasks-max did not hold as the policy says (step %d)", r);
}

/* A CPU quota above the user's: refused by name where the host's v1 cpu hierarchy would refuse it (the kernel's
 * EINVAL), taken where cgroup2 holds cpu; one at the user's quota is taken either way. */
static int cpu_quota_above_users_as_nobody(void *arg) {
        TestDaemon *d = arg;
        int conn = test_daemon_connect(d);
        struct json_object *r;
        Spawned s;
        int step = 0;

        r = spawn_call(conn, "{\"argv\":[\"true\"],\"resources\":{\"cpu\":{\"quota\":90000}}}", NULL, 0, &s);
        if (test_cgroup_controller_is_v1("cpu")) {
                if (!streq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.LimitNotSupported") ||
                    !streq(test_json_string(r, "parameters.limit") ?: "", "resources.cpu.quota") ||
                    !strstr(test_json_string(r, "parameters.reason") ?: "", "above its user's (50% of a CPU)"))
                        step = 1;
        } else if (test_json_get(r, "error"))
                step = 2;
        else
                json_object_put(call_id(conn, "Wait", s.id, NULL));
        json_object_put(r);
        if (step)
                return step;
        r = spawn_call(conn, "{\"argv\":[\"true\"],\"resources\":{\"cpu\":{\"quota\":50000}}}", NULL, 0, &s);
        if (test_json_get(r, "error"))
                step = 3;
        else
                json_object_put(call_id(conn, "Wait", s.id, NULL));
        json_object_put(r);
        test_disconnect(conn);
        return step;
}

Test(cgroup, a_cpu_quota_above_the_users_is_refused_where_the_host_would) {
        TestDaemon d;
        int r = nobody_under_policy(&d, "[default]\nuser-cpu-quota = 50%\n", cpu_quota_above_users_as_nobody, &d);

        cr_assert_eq(r, 0, "step %d", r);
}

/* A user's CPU quota changed by a Reload holds at once, without waiting for the user's next spawn, as cgroup2's
 * hierarchy holds it: lowered below a live sandbox's, the sandbox is held to it (v1 would refuse the user's
 * otherwise), raised again it gets its own back; and the user's next spawns work. */
typedef struct LoweredQuota {
        TestDaemon *d;
        int id_pipe[2];
        const char *params; /* of the next spawn_kept_as_nobody() or spawn_and_wait_as_nobody() */
} LoweredQuota;

/* A keepAlive sandbox of q->params, its id written into q->id_pipe. */
static int spawn_kept_as_nobody(void *arg) {
        LoweredQuota *q = arg;
        int conn = test_daemon_connect(q->d);
        struct json_object *r;
        Spawned s;

        r = spawn_call(conn, q->params, NULL, 0, &s);
        if (test_json_get(r, "error")) {
                fprintf(stderr, "%s\n", json_object_to_json_string(r));
                return 1;
        }
        json_object_put(r);
        if (write(q->id_pipe[1], s.id, strlen(s.id) + 1) != (ssize_t) strlen(s.id) + 1)
                return 2;
        test_disconnect(conn);
        return 0;
}

/* A sandbox of q->params, waited for: 0 if it ran. */
static int spawn_and_wait_as_nobody(void *arg) {
        LoweredQuota *q = arg;
        int conn = test_daemon_connect(q->d);
        struct json_object *r;
        Spawned s;
        int step = 0;

        r = spawn_call(conn, q->params, NULL, 0, &s);
        if (test_json_get(r, "error")) {
                fprintf(stderr, "%s\n", json_object_to_json_string(r));
                step = 1;
        } else
                json_object_put(call_id(conn, "Wait", s.id, NULL));
        json_object_put(r);
        test_disconnect(conn);
        return step;
}

static void reload_with(int conn, const char *policy) {
        struct json_object *r;

        write_policy(policy);
        r = test_call(conn, "io.nsbox.Sandbox.Reload", NULL, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
}

/* The user's quota and the sandbox's as their files say (v1: cpu.cfs_quota_us; cgroup2: cpu.max). */
static void assert_quotas(const TestDaemon *d, int conn, const char *id, const char *user, const char *sandbox) {
        bool v1 = test_cgroup_controller_is_v1("cpu");
        const char *base = test_cgroup_dir(&d->cgroup, v1 ? "cpu" : ""), *file = v1 ? "cpu.cfs_quota_us" : "cpu.max";
        struct json_object *r = call_id(conn, "Inspect", id, NULL);
        const char *path = test_json_string(r, "parameters.sandbox.cgroup");
        char dir[1024];

        snprintf(dir, sizeof dir, "%s/user-65534", base);
        cr_assert(file_contains(dir, file, user), "the user's quota is not %s", user);
        cr_assert(path && strstr(path, "/user-"));
        snprintf(dir, sizeof dir, "%s%s", base, strstr(path, "/user-"));
        cr_assert(file_contains(dir, file, sandbox), "the sandbox's quota is not %s", sandbox);
        json_object_put(r);
}

/* A daemon under user-cpu-quota = 80% with one of nobody's sandboxes kept alive at a quota of 70%: its id into id,
 * and a connection of root's. */
static int start_with_kept_quota(LoweredQuota *q, char id[static 80]) {
        const char *args[] = { "--policy", policy_path, NULL };

        cr_assert_eq(pipe2(q->id_pipe, O_CLOEXEC), 0);
        write_policy("[default]\nuser-cpu-quota = 80%\n");
        test_daemon_start(q->d, args);
        q->params = "{\"argv\":[\"sleep\",\"1000\"],\"keepAlive\":true,\"resources\":{\"cpu\":{\"quota\":70000}}}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_kept_as_nobody, q), 0);
        cr_assert_gt(read(q->id_pipe[0], id, 79), 0);
        return test_daemon_connect(q->d);
}

static void stop_with_kept_quota(LoweredQuota *q, int conn, const char *id) {
        call_id_ok(conn, "Kill", id, "\"signal\":9");
        json_object_put(call_id(conn, "Wait", id, NULL));
        test_disconnect(conn);
        test_daemon_stop(q->d);
        unlink(policy_path);
        close(q->id_pipe[0]);
        close(q->id_pipe[1]);
}

Test(cgroup, a_users_cpu_quota_changed_by_a_reload_holds_at_once) {
        LoweredQuota q = { .d = &(TestDaemon) {} };
        bool v1 = test_cgroup_controller_is_v1("cpu");
        char id[80] = "";
        int conn = start_with_kept_quota(&q, id);

        /* One with a quota that ended just before: the kernel keeps a removed v1 cgroup's quota holding its
         * parent for a grace period, which refused the user's lower one. */
        q.params = "{\"argv\":[\"true\"],\"resources\":{\"cpu\":{\"quota\":75000}}}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_and_wait_as_nobody, &q), 0);
        reload_with(conn, "[default]\nuser-cpu-quota = 30%\n");
        assert_quotas(q.d, conn, id, "30000", v1 ? "30000" : "70000");
        reload_with(conn, "[default]\nuser-cpu-quota = 80%\n");
        assert_quotas(q.d, conn, id, "80000", "70000");
        reload_with(conn, "[default]\nuser-cpu-quota = 30%\n");
        q.params = "{\"argv\":[\"true\"],\"resources\":{\"cpu\":{\"quota\":20000}}}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_and_wait_as_nobody, &q), 0,
                     "the user's spawns failed after its quota was lowered");
        stop_with_kept_quota(&q, conn, id);
}

/* A re-executed daemon takes a held sandbox's own quota over (what it asked for), not its user's it was held to:
 * with the user's quota raised again, the sandbox gets its own back. */
Test(cgroup, a_held_cpu_quota_is_given_back_after_a_reexec) {
        LoweredQuota q = { .d = &(TestDaemon) {} };
        char id[80] = "";
        int conn;

        if (!test_cgroup_controller_is_v1("cpu"))
                cr_skip_test("cgroup2 holds a sandbox to its user's quota itself: nothing is held");
        conn = start_with_kept_quota(&q, id);
        reload_with(conn, "[default]\nuser-cpu-quota = 30%\n");
        assert_quotas(q.d, conn, id, "30000", "30000");
        test_disconnect(conn);

        test_daemon_listen_notify(q.d);
        cr_assert_eq(kill(q.d->pid, SIGUSR2), 0);
        test_daemon_wait_notify(q.d, "READY=1");
        q.d->notify_fd = safe_close(q.d->notify_fd);

        /* The user's limits are written at its next spawn: the new daemon does not know whose rule they are. */
        conn = test_daemon_connect(q.d);
        reload_with(conn, "[default]\nuser-cpu-quota = 80%\n");
        q.params = "{\"argv\":[\"true\"]}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_and_wait_as_nobody, &q), 0);
        assert_quotas(q.d, conn, id, "80000", "70000");
        stop_with_kept_quota(&q, conn, id);
}

/* The user's v1 memory cgroup holds more than the policy's new user-memory-max: the kernel refuses that one (EBUSY),
 * which must leave neither the swap limit lifted nor the user's other new limits unwritten, nor a sandbox held to
 * an old CPU quota once the user's is raised. */
static bool users_memory_above(void *userdata) {
        const TestDaemon *d = userdata;
        char dir[1024], buf[64] = "";
        FILE *f;

        snprintf(dir, sizeof dir, "%s/user-65534/memory.usage_in_bytes", test_cgroup_dir(&d->cgroup, "memory"));
        f = fopen(dir, "re");
        if (!f)
                return false;
        if (!fgets(buf, sizeof buf, f))
                buf[0] = '\0';
        fclose(f);
        return strtoull(buf, NULL, 10) > 48ULL << 20;
}

Test(cgroup, a_refused_user_memory_limit_leaves_the_others_written) {
        LoweredQuota q = { .d = &(TestDaemon) {} };
        const char *args[] = { "--policy", policy_path, NULL };
        char id[80] = "", held[80] = "", dir[1024], memsw_before[64] = "";
        bool memsw;
        int conn;
        FILE *f;

        if (!test_cgroup_controller_is_v1("memory") || !test_cgroup_controller_is_v1("cpu"))
                cr_skip_test("cgroup2 takes a memory.max below the usage (and reclaims)");
        cr_assert_eq(pipe2(q.id_pipe, O_CLOEXEC), 0);
        write_policy("[default]\nuser-memory-max = 1G\nuser-memory-swap-max = 1M\nuser-cpu-quota = 80%\n"
                     "user-tasks-max = 200\n");
        test_daemon_start(q.d, args);
        q.params = "{\"argv\":[\"python3\",\"-c\",\"x=bytearray(64<<20); import time; time.sleep(1000)\"],"
                   "\"keepAlive\":true}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_kept_as_nobody, &q), 0);
        cr_assert_gt(read(q.id_pipe[0], id, sizeof id - 1), 0);
        cr_assert(test_wait_until(users_memory_above, q.d), "the sandbox did not take its memory");
        q.params = "{\"argv\":[\"sleep\",\"1000\"],\"keepAlive\":true,\"resources\":{\"cpu\":{\"quota\":70000}}}";
        cr_assert_eq(test_run_as(65534, 65534, spawn_kept_as_nobody, &q), 0);
        cr_assert_gt(read(q.id_pipe[0], held, sizeof held - 1), 0);
        snprintf(dir, sizeof dir, "%s/user-65534", test_cgroup_dir(&q.d->cgroup, "memory"));
        {
                char p[1100];

                snprintf(p, sizeof p, "%s/memory.memsw.limit_in_bytes", dir);
                memsw = (f = fopen(p, "re")) != NULL;
                if (f) {
                        cr_assert(fgets(memsw_before, sizeof memsw_before, f));
                        fclose(f);
                }
        }

        conn = test_daemon_connect(q.d);
        write_policy("[default]\nuser-memory-max = 16M\nuser-memory-swap-max = 1M\nuser-cpu-quota = 30%\n"
                     "user-tasks-max = 20\n");
        json_object_put(test_call(conn, "io.nsbox.Sandbox.Reload", NULL, NULL, 0, NULL, NULL));
        cr_assert(file_contains(dir, "memory.limit_in_bytes", "1073741824"), "the refused limit was written?");
        if (memsw)
                cr_assert(file_contains(dir, "memory.memsw.limit_in_bytes", memsw_before),
                          "the user's swap limit was lifted");
        snprintf(dir, sizeof dir, "%s/user-65534", test_cgroup_dir(&q.d->cgroup, "pids"));
        cr_assert(file_contains(dir, "pids.max", "20\n"), "the user's tasks limit was not written");
        snprintf(dir, sizeof dir, "%s/user-65534", test_cgroup_dir(&q.d->cgroup, "cpu"));
        cr_assert(file_contains(dir, "cpu.cfs_quota_us", "30000"), "the user's CPU quota was not written");
        assert_quotas(q.d, conn, held, "30000", "30000");

        /* Raised again with the memory limit still refused: the held sandbox gets its own back all the same. */
        write_policy("[default]\nuser-memory-max = 16M\nuser-memory-swap-max = 1M\nuser-cpu-quota = 90%\n"
                     "user-tasks-max = 20\n");
        json_object_put(test_call(conn, "io.nsbox.Sandbox.Reload", NULL, NULL, 0, NULL, NULL));
        assert_quotas(q.d, conn, held, "90000", "70000");

        call_id_ok(conn, "Kill", held, "\"signal\":9");
        json_object_put(call_id(conn, "Wait", held, NULL));
        call_id_ok(conn, "Kill", id, "\"signal\":9");
        json_object_put(call_id(conn, "Wait", id, NULL));
        test_disconnect(conn);
        test_daemon_stop(q.d);
        unlink(policy_path);
        close(q.id_pipe[0]);
        close(q.id_pipe[1]);
}

/*
 * A memory limit too small for even the spawn's own steps: the child runs on the daemon's memory until its
 * execve(), and the kernel's OOM killer kills every process sharing its victim's memory, so the child must never
 * be its victim while it does (a vfork child, which the OOM killer passes over). The spawn fails, saying the limit
 * was met, or its command is OOM-killed; the daemon serves on.
 */
static int tiny_memory_limits_as_nobody(void *arg) {
        TestDaemon *d = arg;
        static const char *const params[] = {
                "{\"argv\":[\"true\"],\"resources\":{\"memory\":{\"limit\":1}}}",
                "{\"argv\":[\"true\"],\"resources\":{\"memory\":{\"limit\":8192}}}",
                "{\"argv\":[\"true\"],\"resources\":{\"memory\":{\"limit\":32768}}}",
                ("{\"argv\":[\"true\"],\"namespaces\":[\"user\",\"mount\",\"pid\",\"ipc\",\"uts\"],"
                 "\"resources\":{\"memory\":{\"limit\":65536}}}"),
        };

        for (size_t i = 0; i < ELEMENTSOF(params); i++) {
                int conn = test_daemon_connect(d);
                struct json_object *r;
                Spawned s;

                r = spawn_call(conn, params[i], NULL, 0, &s);
                if (!r)
                        return 10 + (int) i; /* the daemon is gone */
                /* Not a page to spare: the spawn fails, and says why. */
                if (i == 0 && !(test_json_get(r, "error") && test_json_string(r, "parameters.message") &&
                                strstr(test_json_string(r, "parameters.message"), "memory limit")))
                        return 20;
                if (!test_json_get(r, "error")) {
                        json_object_put(call_id(conn, "Wait", s.id, NULL));
                        close(s.pidfd);
                }
                json_object_put(r);
                test_disconnect(conn);
        }
        return 0;
}

Test(cgroup, a_tiny_memory_limit_ends_the_sandbox_not_the_daemon) {
        int r = test_run_as(65534, 65534, tiny_memory_limits_as_nobody, &daemon_);
        int conn;

        cr_assert_neq(r, 20, "a spawn that met its memory limit did not say so");
        cr_assert_eq(r, 0, "the daemon did not answer spawn %d", r - 10);
        cr_assert_eq(kill(daemon_.pid, 0), 0, "the daemon is gone");
        conn = test_daemon_connect(&daemon_);
        json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        test_disconnect(conn);
}

/*
 * A "file" entry's contents are the sandbox's memory, as the pages of a file it wrote would be: copied on the
 * daemon's memory they were charged to the daemon's cgroup, and a caller could put 64 MiB per entry beyond its
 * sandbox's limit and its user's. 24 MiB into a sandbox limited to 8 MiB fails where the file is made, saying
 * the limit was met; into one limited to 64 MiB it is made.
 */
Test(cgroup, a_files_contents_count_against_the_sandboxs_memory_limit) {
        static const char params[] =
                "{\"argv\":[\"true\"],\"namespaces\":[\"mount\"],\"resources\":{\"memory\":{\"limit\":%d}},"
                "\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/big\"}]}";
        int conn = test_daemon_connect(&daemon_), contents;
        struct json_object *r;
        char text[512];

        contents = memfd_create("contents", MFD_CLOEXEC);
        cr_assert_geq(contents, 0);
        cr_assert_eq(ftruncate(contents, 24 * 1024 * 1024), 0);

        snprintf(text, sizeof text, params, 8 * 1024 * 1024);
        r = spawn_call(conn, text, &contents, 1, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "mount", "%s", json_object_to_json_string(r));
        cr_assert(strstr(test_json_string(r, "parameters.message"), "memory limit"), "%s",
                  json_object_to_json_string(r));
        json_object_put(r);

        /* Made, then nothing to run in the empty tree. */
        cr_assert_eq(lseek(contents, 0, SEEK_SET), 0);
        snprintf(text, sizeof text, params, 64 * 1024 * 1024);
        r = spawn_call(conn, text, &contents, 1, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "execve", "%s", json_object_to_json_string(r));
        json_object_put(r);

        close(contents);
        test_disconnect(conn);
}

static int default_limits_as_nobody(void *arg) {
        TestDaemon *d = arg;
        int conn = test_daemon_connect(d);
        struct json_object *r;
        Spawned s;

        r = spawn_call(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0, &s);
        if (test_json_get(r, "error"))
                return 1;
        json_object_put(r);
        r = call_id(conn, "Inspect", s.id, NULL);
        if (!test_json_get(r, "parameters.sandbox.resources.pids.limit") ||
            json_object_get_int64(test_json_get(r, "parameters.sandbox.resources.pids.limit")) != 7 ||
            json_object_get_int64(test_json_get(r, "parameters.sandbox.runtimeMaxUSec")) != 60000000)
                return 2;
        json_object_put(r);
        test_disconnect(conn);
        return 0;
}

Test(cgroup, the_policy_default_applies_when_a_request_sets_no_limit) {
        TestDaemon d;

        cr_assert_eq(nobody_under_policy(&d, "[default]\ntasks-max = 10\ndefault-tasks-max = 7\nruntime-max-sec = 1m\n",
                                         default_limits_as_nobody, &d),
                     0, "the policy's defaults were not applied");
}

/*
 * A live sandbox holds one fd in the daemon, its pidfd: its cgroup directories (one per hierarchy) and their
 * files are open only while a spawn into them is in flight. With them, 10,000 sandboxes on a hybrid host held
 * 90,000 fds. An Exec into a live one and an Inspect (which reads its cgroups) work without them.
 */
typedef struct FdsAtMost {
        int limit;
        int seen;
} FdsAtMost;

static bool fds_at_most(void *userdata) {
        FdsAtMost *f = userdata;

        f->seen = test_daemon_count_fds(&daemon_);
        return f->seen <= f->limit;
}

Test(cgroup, a_live_sandbox_holds_no_cgroup_fd) {
        int conn = test_daemon_connect(&daemon_);
        Spawned s[16];
        struct json_object *r;
        FdsAtMost f;
        int before;

        /* A first spawn makes the user's cgroup, which stays: not the sandboxes' cost. */
        s[0] = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        before = test_daemon_count_fds(&daemon_);
        for (size_t i = 1; i < ELEMENTSOF(s); i++)
                s[i] = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        /* Each pidfd, and a little room for what a spawn holds until the loop gets to close it (its report
         * pipe): far from the 3 (cgroup2 only) or 9 (hybrid) fds per sandbox of holding its cgroups. */
        f = (FdsAtMost) { .limit = before + (int) ELEMENTSOF(s) - 1 + 2 };
        cr_assert(test_wait_until(fds_at_most, &f), "%d fds for %zu live sandboxes", f.seen - before,
                  ELEMENTSOF(s) - 1);

        r = call_id(conn, "Inspect", s[1].id, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        cr_assert(test_json_get(r, "parameters.sandbox.usage.cpuUSec"), "%s", json_object_to_json_string(r));
        json_object_put(r);

        r = call_id(conn, "Exec", s[1].id, "\"argv\":[\"sleep\",\"1000\"]");
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        f.limit++;
        cr_assert(test_wait_until(fds_at_most, &f), "the Exec's process holds %d fds", f.seen - f.limit + 3);

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                close(s[i].pidfd);
        test_disconnect(conn);
}

/* ---- spare cgroups ---- */

typedef struct SpareSearch {
        const char *user_dir;    /* BASE/user-UID in cgroup2 */
        const char *not[2];      /* live sandboxes' ids */
        char found[256];         /* the spare's name, "" if none */
} SpareSearch;

/* A directory below the user's cgroup that is no live sandbox's: the spare. */
static bool spare_there(void *userdata) {
        SpareSearch *f = userdata;
        struct dirent *de;
        DIR *d = opendir(f->user_dir);

        f->found[0] = '\0';
        if (!d)
                return false;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.' && !(f->not[0] && streq(de->d_name, f->not[0])) &&
                    !(f->not[1] && streq(de->d_name, f->not[1])))
                        snprintf(f->found, sizeof f->found, "%s", de->d_name);
        closedir(d);
        return f->found[0] != '\0';
}

static bool no_spare_there(void *userdata) {
        return !spare_there(userdata);
}

/*
 * After a user's cold Spawn the daemon makes the cgroup of its next one ahead: that Spawn's sandbox is the
 * spare's directory, with the limits it asked for, and a new spare follows. One nobody takes goes after a
 * few seconds, and none is left when the daemon stops.
 */
Test(cgroup, a_users_next_spawn_takes_a_cgroup_made_ahead) {
        char user_dir[600], dir[700], spare[256];
        SpareSearch f = { .user_dir = user_dir };
        TestDaemon d;
        Spawned a, b;
        int conn;

        test_daemon_start(&d, NULL);
        snprintf(user_dir, sizeof user_dir, "%s/user-0", test_cgroup_dir(&d.cgroup, ""));
        conn = test_daemon_connect(&d);

        a = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        f.not[0] = a.id;
        cr_assert(test_wait_until(spare_there, &f), "no spare cgroup after a Spawn");
        snprintf(spare, sizeof spare, "%s", f.found);

        b = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"],\"resources\":{\"pids\":{\"limit\":9}}}", NULL, 0);
        cr_assert_str_eq(b.id, spare, "the Spawn did not take the spare");
        if (test_cgroup_controller_is_v1("pids"))
                snprintf(dir, sizeof dir, "%s/user-0/%s", test_cgroup_dir(&d.cgroup, "pids"), b.id);
        else
                snprintf(dir, sizeof dir, "%s/%s", user_dir, b.id);
        cr_assert(file_contains(dir, "pids.max", "9\n"), "the spare did not take the Spawn's limits");

        f.not[1] = b.id;
        cr_assert(test_wait_until(spare_there, &f), "no spare cgroup after the second Spawn");
        cr_assert_str_neq(f.found, spare);
        /* Unused, it goes (after 5 s), while the sandboxes live on. */
        cr_assert(test_wait_until(no_spare_there, &f), "the spare %s stayed", f.found);

        cr_assert(spare_there(&(SpareSearch) { .user_dir = user_dir }), "the sandboxes' cgroups went with it");
        close(a.pidfd);
        close(b.pidfd);
        test_disconnect(conn);
        /* Asserts that nothing is left below the daemon's cgroup. */
        test_daemon_stop(&d);
}

static bool three_cgroups_there(void *userdata) {
        struct dirent *de;
        DIR *d = opendir(userdata);
        int n = 0;

        if (!d)
                return false;
        while ((de = readdir(d)))
                n += de->d_type == DT_DIR && de->d_name[0] != '.';
        closedir(d);
        return n == 3;
}

/* A spawn another caller holds before its exec (until a spawn timeout of 60 s here) delays a spare by a
 * tenth of a second at most, not until that spawn ends. */
Test(cgroup, a_held_spawn_does_not_keep_spares_from_being_made) {
        const char *args[] = { "--limit", "spawn-timeout=60", NULL };
        char user_dir[600];
        struct json_object *r;
        TestDaemon d;
        Spawned a;
        int conn, holder, block[2];

        test_daemon_start(&d, args);
        snprintf(user_dir, sizeof user_dir, "%s/user-0", test_cgroup_dir(&d.cgroup, ""));
        conn = test_daemon_connect(&d);
        holder = test_daemon_connect(&d);

        cr_assert_eq(pipe2(block, O_CLOEXEC), 0);
        test_send(holder, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/bin/true\"],\"blockFileDescriptor\":0}", &block[0], 1);
        a = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        /* The held sandbox's cgroup, a's and the spare. */
        cr_assert(test_wait_until(three_cgroups_there, user_dir), "no spare cgroup while another spawn is held");

        /* EOF lets the held one go on. */
        close(block[1]);
        r = test_read_reply(holder, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        close(block[0]);
        close(a.pidfd);
        test_disconnect(holder);
        test_disconnect(conn);
        test_daemon_stop(&d);
}
