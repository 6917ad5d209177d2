/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The warm pool end to end: a real nsboxd whose policy gives a budget, and
 * checks from outside that a pooled sandbox is what a fresh one is (fresh
 * namespaces never seen before, its own cgroup in every hierarchy, its
 * limits, ids and capabilities), that the budget holds (counting the
 * daemon's processes), that Reload, a dead entry and the daemon's stop
 * leave nothing behind, and that what the pool does not serve still runs,
 * cold. The counters come from the daemon's WarmPool method.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "test-util.h"

TestSuite(pool, .timeout = 300);

static char policy_path[128];

static void write_policy(const char *text) {
        int fd;

        snprintf(policy_path, sizeof policy_path, "/tmp/nsbt-pool-policy-%d.conf", (int) getpid());
        fd = open(policy_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static void start_with_policy(TestDaemon *d, const char *text) {
        const char *args[] = { "--policy", policy_path, NULL };

        write_policy(text);
        test_daemon_start(d, args);
}

/* A daemon with the policy text, a connection for the test's calls and one that reads the counters. */
static void pool_daemon_start(TestDaemon *d, const char *policy, int *ret_conn, int *ret_stats) {
        start_with_policy(d, policy);
        *ret_conn = test_daemon_connect(d);
        *ret_stats = test_daemon_connect(d);
}

static void pool_daemon_stop(TestDaemon *d, int conn, int stats) {
        test_disconnect(conn);
        test_disconnect(stats);
        test_daemon_stop(d);
        unlink(policy_path);
}

static int64_t get_int(struct json_object *o, const char *path) {
        struct json_object *v = test_json_get(o, path);

        cr_assert(v, "missing %s in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

/* One counter of the daemon's WarmPool reply, over the (root's) connection conn. */
static int64_t counter(int conn, const char *name) {
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.WarmPool", "{}", NULL, 0, NULL, NULL);
        char path[64];
        int64_t v;

        snprintf(path, sizeof path, "parameters.%s", name);
        v = get_int(r, path);
        json_object_put(r);
        return v;
}

typedef struct Wait {
        int conn;
        const char *name;
        int64_t value;
} Wait;

static bool counter_is(void *userdata) {
        Wait *w = userdata;

        return counter(w->conn, w->name) == w->value;
}

static void wait_counter(int conn, const char *name, int64_t value) {
        Wait w = { conn, name, value };

        cr_assert(test_wait_until(counter_is, &w), "%s never became %lld (it is %lld)", name, (long long) value,
                  (long long) counter(conn, name));
}

typedef struct Spawned {
        char id[80];
        pid_t pid;
        int pidfd;
        uint64_t inodes[8];
} Spawned;

static const char *const ns_names[] = { "mount", "uts", "ipc", "user", "net", "cgroup" };

static struct json_object *spawn_call_fds(int conn, const char *params, const int *send, size_t n_send, Spawned *ret) {
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Spawn", params, send, n_send, &fds, &n_fds);

        if (ret && !test_json_get(r, "error")) {
                char path[96];

                cr_assert_eq(n_fds, 1);
                *ret = (Spawned) { .pid = (pid_t) get_int(r, "parameters.pid"), .pidfd = fds[0] };
                snprintf(ret->id, sizeof ret->id, "%s", test_json_string(r, "parameters.id"));
                for (size_t i = 0; i < ELEMENTSOF(ns_names); i++) {
                        snprintf(path, sizeof path, "parameters.namespaceInodes.%s", ns_names[i]);
                        ret->inodes[i] = (uint64_t) get_int(r, path);
                }
        } else
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
        return r;
}

static struct json_object *spawn_call(int conn, const char *params, Spawned *ret) {
        return spawn_call_fds(conn, params, NULL, 0, ret);
}

static Spawned spawn_ok(int conn, const char *params) {
        Spawned s = {};
        struct json_object *r = spawn_call(conn, params, &s);

        cr_assert_null(test_json_get(r, "error"), "Spawn failed: %s", json_object_to_json_string(r));
        json_object_put(r);
        return s;
}

static void kill_and_wait(int conn, Spawned *s) {
        char p[160];
        struct json_object *r;

        snprintf(p, sizeof p, "{\"id\":\"%s\",\"signal\":9}", s->id);
        r = test_call(conn, "io.nsbox.Sandbox.Kill", p, NULL, 0, NULL, NULL);
        json_object_put(r);
        snprintf(p, sizeof p, "{\"id\":\"%s\"}", s->id);
        r = test_call(conn, "io.nsbox.Sandbox.Wait", p, NULL, 0, NULL, NULL);
        cr_assert(test_json_string(r, "parameters.state"), "Wait: %s", json_object_to_json_string(r));
        json_object_put(r);
        s->pidfd = safe_close(s->pidfd);
}

/* Every hierarchy's line of /proc/PID/cgroup names the sandbox's own cgroup. */
static bool in_own_cgroups(const TestDaemon *d, const Spawned *s) {
        char path[64], line[1024];
        size_t n = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) s->pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        /* A v1 cpu hierarchy serves limits alone: without a CPU limit a sandbox, pooled or cold, is in its
         * user's shared cgroup there (cgroup.h). */
        while (fgets(line, sizeof line, f))
                if ((strncmp(line, "0::", 3) == 0 || strstr(line, ":memory:") || strstr(line, ":pids:")) &&
                    strstr(line, s->id))
                        n++;
                else if (strstr(line, ":cpu:") || strstr(line, ":cpu,"))
                        n += !strstr(line, s->id) && strstr(line, "/user-") && strstr(line, "/shared\n");
        fclose(f);
        return n == d->cgroup.n;
}

static const char *const shape = "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"mount\",\"uts\",\"ipc\",\"net\","
                                 "\"cgroup\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                                 "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}";

static void assert_all_differ(const Spawned *a, const Spawned *b) {
        for (size_t i = 0; i < ELEMENTSOF(ns_names); i++)
                cr_assert_neq(a->inodes[i], b->inodes[i], "the %s namespace of %s is %s's", ns_names[i], b->id, a->id);
}

Test(pool, a_pooled_sandbox_has_namespaces_no_other_sandbox_had) {
        TestDaemon d;
        int conn, stats;
        Spawned a, b, c;
        int held[ELEMENTSOF(ns_names)];

        pool_daemon_start(&d, "[default]\nwarm-pool = 2\n", &conn, &stats);

        a = spawn_ok(conn, shape);
        cr_assert_eq(counter(stats, "misses"), 1);
        /* A miss fills the budget with its shape. */
        wait_counter(stats, "parked", 2);
        b = spawn_ok(conn, shape);
        cr_assert_eq(counter(stats, "hits"), 1, "the second Spawn of the shape did not take the parked entry");
        assert_all_differ(&a, &b);
        cr_assert(in_own_cgroups(&d, &b), "the pooled sandbox is not in its own cgroup everywhere");

        /* An ended sandbox's namespaces, held open so their numbers cannot come back. */
        for (size_t i = 0; i < ELEMENTSOF(ns_names); i++) {
                char path[64];
                static const char *const proc[] = { "mnt", "uts", "ipc", "user", "net", "cgroup" };

                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) a.pid, proc[i]);
                held[i] = open(path, O_RDONLY | O_CLOEXEC);
                cr_assert_geq(held[i], 0, "%s: %m", path);
        }
        kill_and_wait(conn, &a);
        wait_counter(stats, "parked", 2);
        c = spawn_ok(conn, shape);
        cr_assert_eq(counter(stats, "hits"), 2);
        assert_all_differ(&a, &c);
        assert_all_differ(&b, &c);
        cr_assert(in_own_cgroups(&d, &c));

        close_many(held, ELEMENTSOF(held));
        kill_and_wait(conn, &b);
        kill_and_wait(conn, &c);
        pool_daemon_stop(&d, conn, stats);
}

/* The last field of a /proc/PID/status line ("NSpid:\t812\t1" -> "1"), or "" without the line. */
static void status_last(pid_t pid, const char *field, char *buf, size_t size) {
        char path[64], line[512];
        FILE *f;

        buf[0] = 0;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, field, strlen(field)) == 0) {
                        const char *v = strrchr(line, '\t') ?: line;

                        snprintf(buf, size, "%s", v + (*v == '\t'));
                        buf[strcspn(buf, "\n")] = 0;
                }
        fclose(f);
}

static bool runs_nsbox_init(void *userdata) {
        char name[64];

        status_last(*(pid_t *) userdata, "Name:", name, sizeof name);
        return strcmp(name, "nsbox-init") == 0;
}

/* With a pid namespace the entry is the namespace's pid 1: taken, it becomes the sandbox's init, in a pid
 * namespace of its own no other sandbox had, as a fresh one's. */
Test(pool, a_pooled_sandbox_with_a_pid_namespace_is_its_own_pid_1) {
        static const char pid_shape[] =
                "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\",\"mount\"],"
                "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}";
        char nspid[32], a_ns[64], b_ns[64], path[64];
        TestDaemon d;
        int conn, stats;
        Spawned a, b;
        ssize_t n;

        pool_daemon_start(&d, "[default]\nwarm-pool = 1\n", &conn, &stats);
        a = spawn_ok(conn, pid_shape);
        cr_assert_eq(counter(stats, "misses"), 1);
        wait_counter(stats, "parked", 1);
        b = spawn_ok(conn, pid_shape);
        cr_assert_eq(counter(stats, "hits"), 1, "the pid namespace's shape was not served by the pool");

        status_last(b.pid, "NSpid:", nspid, sizeof nspid);
        cr_assert_str_eq(nspid, "1", "the pooled sandbox's top process is not its pid namespace's pid 1");
        cr_assert(test_wait_until(runs_nsbox_init, &b.pid), "the pooled sandbox's pid 1 is not its init");
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int) a.pid);
        n = readlink(path, a_ns, sizeof a_ns - 1);
        cr_assert_gt(n, 0);
        a_ns[n] = 0;
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int) b.pid);
        n = readlink(path, b_ns, sizeof b_ns - 1);
        cr_assert_gt(n, 0);
        b_ns[n] = 0;
        cr_assert_str_neq(a_ns, b_ns, "two sandboxes share a pid namespace");
        cr_assert(in_own_cgroups(&d, &b));

        kill_and_wait(conn, &a);
        kill_and_wait(conn, &b);
        pool_daemon_stop(&d, conn, stats);
}

/* The command under init pid, once init started it. */
static pid_t command_of(pid_t init) {
        char path[96], buf[64] = "";
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) init, (int) init);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (!fgets(buf, sizeof buf, f))
                buf[0] = 0;
        fclose(f);
        return (pid_t) strtol(buf, NULL, 10);
}

static bool has_command(void *userdata) {
        return command_of(*(pid_t *) userdata) > 0;
}

/* An entry of a shape whose profile is the default is born with it (from a spawn worker that loaded it):
 * the pooled command and its init each have that one filter, not a second copy; a request without it is
 * another shape, which such an entry never serves. */
Test(pool, a_pooled_sandbox_has_its_profile_once_and_an_unconfined_one_none) {
        static const char default_shape[] =
                "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\"],"
                "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}";
        static const char unconfined_shape[] =
                "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\"],\"seccompProfile\":\"unconfined\","
                "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}";
        char v[32];
        TestDaemon d;
        int conn, stats;
        Spawned a, b, c;

        pool_daemon_start(&d, "[default]\nwarm-pool = 1\n", &conn, &stats);
        a = spawn_ok(conn, default_shape);
        wait_counter(stats, "parked", 1);
        b = spawn_ok(conn, default_shape);
        cr_assert_eq(counter(stats, "hits"), 1);
        cr_assert(test_wait_until(runs_nsbox_init, &b.pid), "the pooled sandbox's pid 1 is not its init");
        cr_assert(test_wait_until(has_command, &b.pid));
        status_last(command_of(b.pid), "Seccomp_filters:", v, sizeof v);
        cr_assert_str_eq(v, "1", "the pooled command has %s filters", v);
        status_last(b.pid, "Seccomp_filters:", v, sizeof v);
        cr_assert_str_eq(v, "1", "the pooled init has %s filters", v);

        wait_counter(stats, "parked", 1);
        c = spawn_ok(conn, unconfined_shape);
        cr_assert_eq(counter(stats, "hits"), 1, "an entry of the default profile's shape served an unconfined one");
        cr_assert(test_wait_until(runs_nsbox_init, &c.pid));
        cr_assert(test_wait_until(has_command, &c.pid));
        status_last(command_of(c.pid), "Seccomp_filters:", v, sizeof v);
        cr_assert_str_eq(v, "0", "the unconfined command has %s filters", v);
        status_last(c.pid, "Seccomp_filters:", v, sizeof v);
        cr_assert_str_eq(v, "0", "the unconfined init has %s filters", v);

        kill_and_wait(conn, &a);
        kill_and_wait(conn, &b);
        kill_and_wait(conn, &c);
        pool_daemon_stop(&d, conn, stats);
}

/* The daemon's children, whichever of its threads made them (entries are a spawn worker's); not its close
 * helpers. */
static size_t daemon_children(const TestDaemon *d, pid_t *pids, size_t max) {
        char path[320], line[1024];
        size_t n = 0;
        DIR *dir;
        struct dirent *de;

        snprintf(path, sizeof path, "/proc/%d/task", (int) d->pid);
        dir = opendir(path);
        cr_assert(dir);
        while ((de = readdir(dir))) {
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/%d/task/%s/children", (int) d->pid, de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof line, f))
                        for (char *t = strtok(line, " \n"); t && n < max; t = strtok(NULL, " \n"))
                                if (!test_is_close_helper((pid_t) atoi(t)))
                                        pids[n++] = (pid_t) atoi(t);
                fclose(f);
        }
        closedir(dir);
        return n;
}

/* The daemon's children that are no sandbox of the list: its parked entries. */
/* With one sandbox (beside) and one parked entry alive: the daemon's child that is not beside's. */
static pid_t the_parked_entry(const TestDaemon *d, const Spawned *beside) {
        pid_t children[8], entry = 0;
        size_t n = daemon_children(d, children, ELEMENTSOF(children));

        for (size_t i = 0; i < n; i++)
                if (children[i] != beside->pid)
                        entry = children[i];
        cr_assert_gt(entry, 0, "no parked entry among the daemon's children");
        return entry;
}

static int entries_running(const TestDaemon *d, int n_sandboxes) {
        return test_daemon_count_children(d) - n_sandboxes;
}

/* Gone, or dead and not yet reaped by whoever inherited it from the daemon. */
static bool pid_dead(void *userdata) {
        char path[64], buf[512], *close_paren;
        FILE *f;
        bool dead;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) *(pid_t *) userdata);
        f = fopen(path, "re");
        if (!f)
                return true;
        dead = !fgets(buf, sizeof buf, f) || !(close_paren = strrchr(buf, ')')) || close_paren[2] == 'Z' ||
               close_paren[2] == 'X';
        fclose(f);
        return dead;
}

typedef struct Running {
        const TestDaemon *d;
        int n_sandboxes;
} Running;

/* Discarded entries are killed at once and reaped once they are gone. */
static bool pid_stopped(void *userdata) {
        char path[64], buf[512], *p;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) *(pid_t *) userdata);
        f = fopen(path, "re");
        if (!f)
                return false;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        p = p ? strrchr(buf, ')') : NULL;
        return p && p[1] == ' ' && p[2] == 'T';
}

static bool none_running(void *userdata) {
        Running *r = userdata;

        return entries_running(r->d, r->n_sandboxes) == 0;
}

/* What the test reads of a sandbox from outside: host uid and gid, capability sets, pids.max. */
typedef struct Seen {
        char status[512];
        char pids_max[32];
} Seen;

/* What the sandbox wrote up to its line "end". */
static int read_until_end(int fd, char *buf, size_t size) {
        size_t n = 0;

        while (n + 1 < size) {
                ssize_t k = read(fd, buf + n, 1);

                if (k <= 0)
                        return -EIO;
                n++;
                buf[n] = 0;
                if (n >= 4 && strcmp(buf + n - 4, "end\n") == 0) {
                        buf[n - 4] = 0;
                        return 0;
                }
        }
        return -E2BIG;
}

typedef struct AsUser {
        TestDaemon *d;
        int go[2];     /* the test says the entry parked */
        int parked[2]; /* the user's first sandbox ran */
        Seen seen[2];
        bool cgroups[2];
} AsUser;

static void read_pids_max(const TestDaemon *d, const Spawned *s, char *buf, size_t size) {
        const char *base = test_cgroup_dir(&d->cgroup, test_cgroup_controller_is_v1("pids") ? "pids" : "");
        char path[1024];
        FILE *f;

        buf[0] = 0;
        if (!base)
                return;
        snprintf(path, sizeof path, "%s/user-65534/%s/pids.max", base, s->id);
        f = fopen(path, "re");
        if (!f)
                return;
        if (!fgets(buf, (int) size, f))
                buf[0] = 0;
        fclose(f);
}

/* Reads what it can of a sandbox from inside the user's own process: the test reads the rest. */
static int cold_then_pooled_as_nobody(void *arg) {
        AsUser *u = arg;
        int conn = test_daemon_connect(u->d);
        /* What the command sees of itself once it runs (read from outside, /proc/PID/status may show the
         * credentials from before execve() committed the new ones). */
        const char *params = "{\"argv\":[\"/bin/sh\",\"-c\",\"grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)' "
                             "/proc/self/status; echo end; exec sleep 1000\"],"
                             "\"namespaces\":[\"user\",\"mount\",\"net\"],\"stdout\":0,"
                             "\"resources\":{\"pids\":{\"limit\":16}}}";
        char c = 'x';
        int out[2];

        /* The test's ends closed, so a test that failed (and is gone) ends the wait here. */
        safe_close(u->go[1]);
        safe_close(u->parked[0]);
        for (int i = 0; i < 2; i++) {
                Spawned s;
                struct json_object *r;

                if (pipe2(out, O_CLOEXEC) < 0)
                        return 5;
                r = spawn_call_fds(conn, params, &out[1], 1, &s);
                close(out[1]);

                if (test_json_get(r, "error")) {
                        fprintf(stderr, "spawn %d: %s\n", i, json_object_to_json_string(r));
                        return 10 + i;
                }
                json_object_put(r);
                if (read_until_end(out[0], u->seen[i].status, sizeof u->seen[i].status) < 0)
                        return 4;
                u->cgroups[i] = in_own_cgroups(u->d, &s);
                /* Written where the test reads it back: the child's memory is its own. */
                if (write(u->parked[1], &u->seen[i], sizeof u->seen[i]) != sizeof u->seen[i] ||
                    write(u->parked[1], &u->cgroups[i], sizeof u->cgroups[i]) != sizeof u->cgroups[i] ||
                    write(u->parked[1], &s, sizeof s) != sizeof s)
                        return 2;
                if (read(u->go[0], &c, 1) != 1)
                        return 3;
                kill_and_wait(conn, &s);
                close(out[0]);
        }
        test_disconnect(conn);
        return 0;
}

Test(pool, a_pooled_sandbox_of_a_user_is_what_a_cold_one_is) {
        TestDaemon d;
        AsUser u = { .d = &d };
        Spawned s[2];
        int stats, r;
        pid_t child;

        start_with_policy(&d, "[default]\nwarm-pool = 1\n");
        stats = test_daemon_connect(&d);
        cr_assert_eq(pipe2(u.go, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(u.parked, O_CLOEXEC), 0);
        child = test_start_as(65534, 65534, cold_then_pooled_as_nobody, &u);
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(read(u.parked[0], &u.seen[i], sizeof u.seen[i]), (ssize_t) sizeof u.seen[i], "step %d", i);
                cr_assert_eq(read(u.parked[0], &u.cgroups[i], sizeof u.cgroups[i]), (ssize_t) sizeof u.cgroups[i]);
                cr_assert_eq(read(u.parked[0], &s[i], sizeof s[i]), (ssize_t) sizeof s[i]);
                read_pids_max(&d, &s[i], u.seen[i].pids_max, sizeof u.seen[i].pids_max);
                /* The first one made the user's entry: it is parked before the second Spawn. */
                if (i == 0)
                        wait_counter(stats, "parked", 1);
                cr_assert_eq(write(u.go[1], "g", 1), 1);
        }
        r = test_finish(child);
        cr_assert_eq(r, 0, "step %d", r);
        cr_assert_eq(counter(stats, "misses"), 1);
        cr_assert_eq(counter(stats, "hits"), 1, "the user's second Spawn did not take its entry");
        cr_assert_str_eq(u.seen[1].status, u.seen[0].status, "pooled:\n%s\ncold:\n%s", u.seen[1].status,
                         u.seen[0].status);
        cr_assert(strstr(u.seen[1].status, "Uid:\t65534\t65534\t65534\t65534"), "%s", u.seen[1].status);
        cr_assert_str_eq(u.seen[1].pids_max, u.seen[0].pids_max);
        cr_assert_str_eq(u.seen[1].pids_max, "16\n", "the pooled sandbox's cgroup has pids.max %s", u.seen[1].pids_max);
        cr_assert(u.cgroups[0] && u.cgroups[1], "a sandbox is not in its own cgroup everywhere");
        /* Its last connection closed: its entry went with it. */
        wait_counter(stats, "entries", 0);
        {
                Running w = { &d, 0 };

                cr_assert(test_wait_until(none_running, &w), "the user's entry outlived its last connection");
        }
        close_many(u.go, 2);
        close_many(u.parked, 2);
        test_disconnect(stats);
        test_daemon_stop(&d);
        unlink(policy_path);
}

Test(pool, the_budget_holds_and_reload_and_stop_end_every_entry) {
        TestDaemon d;
        Spawned s[6];
        int conn, stats;
        pid_t entry_pids[8];
        size_t n_entry_pids = 0;
        struct json_object *r;

        pool_daemon_start(&d, "[default]\nwarm-pool = 2\n", &conn, &stats);
        for (size_t i = 0; i < ELEMENTSOF(s); i++) {
                s[i] = spawn_ok(conn, shape);
                cr_assert_leq(counter(stats, "entries"), 2);
                cr_assert_leq(entries_running(&d, (int) i + 1), 2, "more entries than the budget run");
        }
        wait_counter(stats, "parked", 2);
        cr_assert_eq(entries_running(&d, ELEMENTSOF(s)), 2);

        /* Reload without the budget: every entry goes. */
        write_policy("[default]\n");
        r = test_call(stats, "io.nsbox.Sandbox.Reload", "{}", NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        wait_counter(stats, "entries", 0);
        {
                Running w = { &d, ELEMENTSOF(s) };

                cr_assert(test_wait_until(none_running, &w), "an entry outlived the Reload that removed the budget");
        }
        {
                Spawned t = spawn_ok(conn, shape);

                cr_assert_eq(counter(stats, "entries"), 0);
                kill_and_wait(conn, &t);
        }

        /* Back, and the daemon stops with entries parked: none is left, nor its cgroup (test_daemon_stop()). */
        write_policy("[default]\nwarm-pool = 2\n");
        r = test_call(stats, "io.nsbox.Sandbox.Reload", "{}", NULL, 0, NULL, NULL);
        json_object_put(r);
        for (size_t i = 0; i < 2; i++) {
                Spawned t = spawn_ok(conn, shape);
                kill_and_wait(conn, &t);
        }
        wait_counter(stats, "parked", 2);
        n_entry_pids = daemon_children(&d, entry_pids, ELEMENTSOF(entry_pids));
        cr_assert_geq(n_entry_pids, 2);
        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                close(s[i].pidfd);
        test_disconnect(conn);
        test_disconnect(stats);
        test_daemon_stop(&d);
        for (size_t i = 0; i < n_entry_pids; i++)
                cr_assert(test_wait_until(pid_dead, &entry_pids[i]), "process %d outlived the daemon",
                          (int) entry_pids[i]);
        unlink(policy_path);
}

/* Entries a Reload ends are discarded, not failures, whether they were parked or still being made: right after
 * the first Spawn of a shape, the first of its entries is still being made. */
Test(pool, entries_ended_unused_are_discarded_not_failures) {
        TestDaemon d;
        int conn, stats;
        struct json_object *r;
        Spawned a;

        pool_daemon_start(&d, "[default]\nwarm-pool = 4\n", &conn, &stats);
        a = spawn_ok(conn, shape);
        r = test_call(stats, "io.nsbox.Sandbox.Reload", "{}", NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        wait_counter(stats, "entries", 0);
        cr_assert_eq(counter(stats, "fillFailures"), 0, "an entry the Reload ended counted as a failure");
        cr_assert_geq(counter(stats, "discarded"), 1);
        kill_and_wait(conn, &a);
        pool_daemon_stop(&d, conn, stats);
}

/* A daemon with a budget of one, a sandbox of the shape (*ret_a) and the entry parked after it: its pid. */
static pid_t start_with_a_parked_entry(TestDaemon *d, int *conn, int *stats, Spawned *ret_a) {
        pool_daemon_start(d, "[default]\nwarm-pool = 1\n", conn, stats);
        *ret_a = spawn_ok(*conn, shape);
        wait_counter(*stats, "parked", 1);
        return the_parked_entry(d, ret_a);
}

Test(pool, a_dead_entry_is_discarded_and_what_the_pool_does_not_serve_runs_cold) {
        TestDaemon d;
        int conn, stats;
        Spawned a, b, p;
        pid_t entry;

        entry = start_with_a_parked_entry(&d, &conn, &stats, &a);
        /* Killed from outside, it is noticed. */
        cr_assert_eq(kill(entry, SIGKILL), 0);
        wait_counter(stats, "discarded", 1);
        wait_counter(stats, "entries", 0);
        b = spawn_ok(conn, shape);
        cr_assert_eq(counter(stats, "hits"), 0, "a dead entry was taken");

        /* A join is not served (what it joins is the request's): cold, and not counted. */
        {
                char path[64];
                _cleanup_close_ int uts = -EBADF;
                struct json_object *r;

                snprintf(path, sizeof path, "/proc/%d/ns/uts", (int) a.pid);
                uts = open(path, O_RDONLY | O_CLOEXEC);
                cr_assert_geq(uts, 0, "%s: %m", path);
                r = spawn_call_fds(conn,
                                   "{\"argv\":[\"sleep\",\"1000\"],\"joinNamespaces\":[{\"type\":\"uts\",\"fileDescriptor\":0}]}",
                                   &uts, 1, &p);
                cr_assert_null(test_json_get(r, "error"), "Spawn failed: %s", json_object_to_json_string(r));
                json_object_put(r);
        }
        cr_assert_eq(counter(stats, "misses"), 2);

        kill_and_wait(conn, &a);
        kill_and_wait(conn, &b);
        kill_and_wait(conn, &p);
        pool_daemon_stop(&d, conn, stats);
}

static uint64_t time_namespace_of(pid_t pid) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/ns/time", (int) pid);
        cr_assert_eq(stat(path, &st), 0, "%s: %m", path);
        return (uint64_t) st.st_ino;
}

/* A time namespace is pooled too: nothing enters it before the entry's execve(), so the offsets, which are the
 * request's, are written when the entry is taken; the process the caller gets is in it once answered. */
Test(pool, a_pooled_time_namespace_has_the_requests_offsets) {
        static const char time_shape[] =
                "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\",\"time\"],"
                "\"timeOffsets\":{\"boottime\":{\"secs\":%d,\"nanosecs\":0}}}";
        _cleanup_free_ char *offsets = NULL;
        char params[256];
        TestDaemon d;
        int conn, stats;
        Spawned a, b;

        pool_daemon_start(&d, "[default]\nwarm-pool = 1\n", &conn, &stats);
        snprintf(params, sizeof params, time_shape, 1111);
        a = spawn_ok(conn, params);
        cr_assert_eq(counter(stats, "misses"), 1);
        wait_counter(stats, "parked", 1);

        snprintf(params, sizeof params, time_shape, 2222);
        b = spawn_ok(conn, params);
        cr_assert_eq(counter(stats, "hits"), 1, "the time namespace's shape was not served");
        cr_assert_neq(time_namespace_of(b.pid), time_namespace_of(getpid()), "the caller's process is in the host's");
        cr_assert_neq(time_namespace_of(b.pid), time_namespace_of(a.pid));
        snprintf(params, sizeof params, "/proc/%d/timens_offsets", (int) b.pid);
        offsets = test_read_file(params);
        cr_assert(strstr(offsets, "boottime") && strstr(offsets, "2222"), "%s", offsets);
        cr_assert_null(strstr(offsets, "1111"), "%s", offsets);

        kill_and_wait(conn, &a);
        kill_and_wait(conn, &b);
        pool_daemon_stop(&d, conn, stats);
}

/* Stopped by someone who may signal it, an entry is thrown away when taken rather than holding the Spawn
 * until the spawn timeout: the request runs cold. */
Test(pool, a_stopped_entry_is_discarded_and_the_spawn_runs_cold) {
        TestDaemon d;
        int conn, stats;
        Spawned a, b;
        pid_t entry;

        entry = start_with_a_parked_entry(&d, &conn, &stats, &a);
        cr_assert_eq(kill(entry, SIGSTOP), 0);
        /* The stop is what the daemon sees: wait until the kernel shows it. */
        cr_assert(test_wait_until(pid_stopped, &entry), "the entry did not stop");

        b = spawn_ok(conn, shape);
        cr_assert_eq(counter(stats, "hits"), 0, "a stopped entry was taken");
        cr_assert_geq(counter(stats, "discarded"), 1);

        kill_and_wait(conn, &a);
        kill_and_wait(conn, &b);
        pool_daemon_stop(&d, conn, stats);
}

static int warm_pool_as_nobody(void *arg) {
        int conn = test_daemon_connect(arg);
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.WarmPool", "{}", NULL, 0, NULL, NULL);
        const char *e = test_json_string(r, "error");
        int ret = e && strcmp(e, "org.varlink.service.PermissionDenied") == 0 ? 0 : 1;

        json_object_put(r);
        test_disconnect(conn);
        return ret;
}

Test(pool, only_root_reads_the_counters) {
        TestDaemon d;

        start_with_policy(&d, "[default]\nwarm-pool = 1\n");
        cr_assert_eq(test_run_as(65534, 65534, warm_pool_as_nobody, &d), 0, "a user read the daemon's counters");
        test_daemon_stop(&d);
        unlink(policy_path);
}

/* A request from inside a sandbox is served as a child of it, never from the pool: it is not even counted. */
static int nested_as_nobody(void *arg) {
        const TestDaemon *d = arg;
        const char *cli = getenv("NSBOX_CLI");
        char script[2048];

        if (!cli)
                return 100;
        snprintf(script, sizeof script,
                 "%s --socket %s run -r --net --ro-bind / / -- sh -c 'NSBOX_SOCKET=%s %s run -- true && "
                 "NSBOX_SOCKET=%s %s run -- true' >&2",
                 cli, d->socket_path, d->socket_path, cli, d->socket_path, cli);
        return system(script) == 0 ? 0 : 1;
}

Test(pool, a_nested_request_never_takes_from_the_pool) {
        TestDaemon d;
        int stats;

        start_with_policy(&d, "[default]\nnested = allow\nwarm-pool = 2\n");
        stats = test_daemon_connect(&d);
        cr_assert_eq(test_run_as(65534, 65534, nested_as_nobody, &d), 0, "the nested runs failed");
        /* The outer sandbox's Spawn alone went by the pool. */
        cr_assert_eq(counter(stats, "misses"), 1);
        cr_assert_eq(counter(stats, "hits"), 0);
        test_disconnect(stats);
        test_daemon_stop(&d);
        unlink(policy_path);
}

static bool no_zombies(void *userdata) {
        return test_daemon_count_zombies(userdata) == 0;
}

/* A re-exec replaces the image the entries share: they are killed before it, and the new daemon starts empty. */
Test(pool, a_re_exec_ends_every_entry_first) {
        TestDaemon d;
        int conn, stats;
        Spawned a;
        pid_t pids[8];
        size_t n;

        pool_daemon_start(&d, "[default]\nwarm-pool = 2\n", &conn, &stats);
        a = spawn_ok(conn, shape);
        wait_counter(stats, "parked", 2);
        n = daemon_children(&d, pids, ELEMENTSOF(pids));
        cr_assert_geq(n, 2);

        test_daemon_listen_notify(&d);
        cr_assert_eq(kill(d.pid, SIGUSR2), 0);
        test_daemon_wait_notify(&d, "READY=1");
        d.notify_fd = safe_close(d.notify_fd);
        for (size_t i = 0; i < n; i++)
                if (pids[i] != a.pid)
                        cr_assert(test_wait_until(pid_dead, &pids[i]), "entry %d outlived the re-exec", (int) pids[i]);
        /* Reaped by the image that made them: the new one knows nothing of them. */
        cr_assert(test_wait_until(no_zombies, &d), "%d zombies left after the re-exec", test_daemon_count_zombies(&d));
        test_disconnect(stats);
        stats = test_daemon_connect(&d);
        cr_assert_eq(counter(stats, "entries"), 0);
        cr_assert_eq(counter(stats, "hits"), 0);

        close(a.pidfd);
        pool_daemon_stop(&d, conn, stats);
}

typedef struct Quota {
        TestDaemon *d;
        int go[2];     /* the test read the counters */
        int ready[2];  /* the user's sandboxes run */
} Quota;

/* Two sandboxes, the quota: a third Spawn is refused, as without a pool. */
/* The test's ends closed, so a test that failed (and is gone) ends the wait here. */
static void keep_own_ends(Quota *q) {
        safe_close(q->go[1]);
        safe_close(q->ready[0]);
}

static int quota_as_nobody(void *arg) {
        Quota *q = arg;
        int conn = test_daemon_connect(q->d);
        const char *params = "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"mount\"]}";
        struct json_object *r;
        Spawned s[2];
        char c;

        keep_own_ends(q);
        for (int i = 0; i < 2; i++) {
                r = spawn_call(conn, params, &s[i]);
                if (test_json_get(r, "error"))
                        return 10 + i;
                json_object_put(r);
                if (write(q->ready[1], "r", 1) != 1 || read(q->go[0], &c, 1) != 1)
                        return 20 + i;
        }
        r = spawn_call(conn, params, NULL);
        if (strcmp(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.QuotaExceeded") != 0) {
                fprintf(stderr, "past the quota: %s\n", json_object_to_json_string(r));
                return 3;
        }
        json_object_put(r);
        test_disconnect(conn);
        return 0;
}

typedef struct Settled {
        int stats;
        TestDaemon *d;
        int sandboxes;
} Settled;

/* Nothing is being made any more: what runs besides the sandboxes is parked. */
static bool settled(void *userdata) {
        Settled *w = userdata;

        return counter(w->stats, "entries") == counter(w->stats, "parked") &&
               entries_running(w->d, w->sandboxes) == (int) counter(w->stats, "parked");
}

Test(pool, entries_count_against_the_owners_sandbox_quota) {
        TestDaemon d;
        Quota q = { .d = &d };
        int stats, r;
        pid_t child;
        char c;

        start_with_policy(&d, "[default]\nmax-sandboxes = 2\nwarm-pool = 4\n");
        stats = test_daemon_connect(&d);
        cr_assert_eq(pipe2(q.go, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(q.ready, O_CLOEXEC), 0);
        child = test_start_as(65534, 65534, quota_as_nobody, &q);
        for (int i = 1; i <= 2; i++) {
                Settled w = { stats, &d, i };

                cr_assert_eq(read(q.ready[0], &c, 1), 1, "the user's Spawn %d failed", i);
                cr_assert(test_wait_until(settled, &w));
                /* Sandboxes and entries together within the quota. */
                cr_assert_leq(i + counter(stats, "entries"), 2, "%d sandboxes and %lld entries", i,
                              (long long) counter(stats, "entries"));
                cr_assert_eq(write(q.go[1], "g", 1), 1);
        }
        r = test_finish(child);
        cr_assert_eq(r, 0, "step %d", r);
        close_many(q.go, 2);
        close_many(q.ready, 2);
        test_disconnect(stats);
        test_daemon_stop(&d);
        unlink(policy_path);
}

static int one_spawn_as_nobody(void *arg) {
        Quota *q = arg;
        int conn = test_daemon_connect(q->d);
        Spawned s;
        struct json_object *r = spawn_call(conn, "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\"]}", &s);
        char c;

        keep_own_ends(q);
        if (test_json_get(r, "error"))
                return 1;
        json_object_put(r);
        /* Connected until the test has looked: its entries would go with its connection. */
        if (write(q->ready[1], "r", 1) != 1 || read(q->go[0], &c, 1) != 1)
                return 2;
        kill_and_wait(conn, &s);
        test_disconnect(conn);
        return 0;
}

/* An entry is a process in the user's cgroup: an owner whose policy bounds those together gets none. Root's
 * entries, asked for after the user's miss, are made after whatever that miss asked for. */
Test(pool, an_owner_with_user_tasks_max_gets_no_entries) {
        TestDaemon d;
        Quota q = { .d = &d };
        int stats, conn, r;
        pid_t child;
        Spawned a;
        char c;

        start_with_policy(&d, "[default]\nwarm-pool = 4\nuser-tasks-max = 100\n");
        stats = test_daemon_connect(&d);
        conn = test_daemon_connect(&d);
        cr_assert_eq(pipe2(q.go, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(q.ready, O_CLOEXEC), 0);
        child = test_start_as(65534, 65534, one_spawn_as_nobody, &q);
        cr_assert_eq(read(q.ready[0], &c, 1), 1, "the user's Spawn failed");
        cr_assert_eq(counter(stats, "misses"), 1);
        a = spawn_ok(conn, shape);
        wait_counter(stats, "parked", 4);
        cr_assert_eq(counter(stats, "entries"), 4, "the user got entries");
        cr_assert_eq(write(q.go[1], "g", 1), 1);
        r = test_finish(child);
        cr_assert_eq(r, 0, "step %d", r);
        kill_and_wait(conn, &a);
        close_many(q.go, 2);
        close_many(q.ready, 2);
        pool_daemon_stop(&d, conn, stats);
}
