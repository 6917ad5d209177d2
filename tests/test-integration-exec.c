/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec and names, end to end: a real nsboxd, raw Varlink calls, as root and
 * as callers that are not (nobody and a second user). A process Exec starts
 * must see what the sandbox's own command sees (hostname, root and mounts,
 * processes, network, cgroup, user, confinement), end as a sandbox does, die
 * with its sandbox, and be refused to anyone but the sandbox's owner and
 * root. What an Exec prints comes back through captureOutput and Wait.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-test-util.h"
#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "test-util.h"
#include "varlink-message.h"

#define NOBODY 65534
#define OTHER_USER "nsbox-test"

static TestDaemon daemon_;
static bool daemon_started;
static uid_t other_uid;
static gid_t other_gid;

static void setup(void) {
        test_ensure_user(OTHER_USER, &other_uid, &other_gid);
        test_daemon_start(&daemon_, NULL);
        daemon_started = true;
}

static void teardown(void) {
        if (daemon_started)
                test_daemon_stop(&daemon_);
        daemon_started = false;
}

TestSuite(exec, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers, usable in test_run_as() children too (they report on stderr and by exit status) ---- */

static bool same(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

_printf_(5, 6) static struct json_object *callf(int conn, const char *method, const int *fds, size_t n_fds,
                                                const char *format, ...) {
        char json[8192];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(json, sizeof json, format, ap);
        va_end(ap);
        return test_call(conn, method, json, fds, n_fds, NULL, NULL);
}

/* What a Spawn or Exec answered: the new id (empty on error) and pid, or the error and its field. */
typedef struct Started {
        char id[80];
        long pid;
        char error[128];
        char field[128]; /* InvalidParameter's parameter, NameInUse's name, NoSuchSandbox's id */
} Started;

static void started_from(struct json_object *r, Started *ret) {
        struct json_object *pid = test_json_get(r, "parameters.pid");

        *ret = (Started) { .pid = pid ? (long) json_object_get_int64(pid) : -1 };
        snprintf(ret->error, sizeof ret->error, "%s", test_json_string(r, "error") ?: "");
        snprintf(ret->field, sizeof ret->field, "%s",
                 test_json_string(r, "parameters.parameter") ?: test_json_string(r, "parameters.name")
                                                                        ?: test_json_string(r, "parameters.id") ?: "");
        if (!ret->error[0])
                snprintf(ret->id, sizeof ret->id, "%s", test_json_string(r, "parameters.id") ?: "");
        json_object_put(r);
}

/* Spawn with params (members of the object, without braces). */
static Started spawn(int conn, const char *params) {
        Started s;

        started_from(callf(conn, "io.nsbox.Sandbox.Spawn", NULL, 0, "{%s}", params), &s);
        return s;
}

/* Exec into target (an id or a name) with params after argv. */
static Started exec_in(int conn, const char *target, const char *params, const int *fds, size_t n_fds) {
        Started s;

        started_from(callf(conn, "io.nsbox.Sandbox.Exec", fds, n_fds, "{\"id\":\"%s\",%s}", target, params), &s);
        return s;
}

/* How a Wait ended: state, exit code or signal, and the captured stdout (malloc'ed; "" when none). */
typedef struct Ended {
        char state[32];
        int exit_code;
        char signal[32];
        char *out;
        char error[300];
} Ended;

static Ended wait_for(int conn, const char *id) {
        struct json_object *r = callf(conn, "io.nsbox.Sandbox.Wait", NULL, 0, "{\"id\":\"%s\"}", id);
        struct json_object *code = test_json_get(r, "parameters.exitCode");
        Ended e = { .exit_code = code ? json_object_get_int(code) : -1 };

        snprintf(e.state, sizeof e.state, "%s", test_json_string(r, "parameters.state") ?: "");
        snprintf(e.signal, sizeof e.signal, "%s", test_json_string(r, "parameters.signal") ?: "");
        snprintf(e.error, sizeof e.error, "%s", test_json_string(r, "error") ?: "");
        e.out = strdup(test_json_string(r, "parameters.stdout") ?: "");
        json_object_put(r);
        return e;
}

/* Runs script in target by Exec (extra: more members, or ""), waits; its output and how it ended. */
static Ended exec_script(int conn, const char *target, const char *script, const char *extra) {
        char params[4096];
        Started s;

        snprintf(params, sizeof params, "\"argv\":[\"/bin/sh\",\"-c\",\"%s\"],\"captureOutput\":true%s", script,
                 extra ?: "");
        s = exec_in(conn, target, params, NULL, 0);
        if (s.error[0]) {
                Ended e = { .exit_code = -1, .out = strdup("") };

                snprintf(e.error, sizeof e.error, "%s %s", s.error, s.field);
                return e;
        }
        return wait_for(conn, s.id);
}

static void ended_done(Ended *e) {
        free(e->out);
        e->out = NULL;
}

static int kill_sandbox(int conn, const char *id, int sig) {
        struct json_object *r = callf(conn, "io.nsbox.Sandbox.Kill", NULL, 0, "{\"id\":\"%s\",\"signal\":%d}", id, sig);
        int ret = test_json_get(r, "error") ? -1 : 0;

        json_object_put(r);
        return ret;
}

/* The state Inspect reports, or the error's name. */
static void inspect_state(int conn, const char *id, char *buf, size_t size) {
        struct json_object *r = callf(conn, "io.nsbox.Sandbox.Inspect", NULL, 0, "{\"id\":\"%s\"}", id);

        snprintf(buf, size, "%s", test_json_string(r, "parameters.sandbox.state") ?: test_json_string(r, "error") ?: "");
        json_object_put(r);
}

typedef struct StateWait {
        int conn;
        const char *id;
        const char *state;
} StateWait;

static bool has_state(void *userdata) {
        StateWait *w = userdata;
        char state[64];

        inspect_state(w->conn, w->id, state, sizeof state);
        return strcmp(state, w->state) == 0;
}

static char *proc_link(long pid, const char *what) {
        char path[64], target[128];
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%li/%s", pid, what);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return strdup("");
        target[n] = 0;
        return strdup(target);
}

/* ---- root ---- */

/*
 * A sandbox with its own hostname, mounts, processes and network, and a
 * working directory: an Exec into it (by name) sees all of them, from there.
 */
static const char web_sandbox[] =
        "\"argv\":[\"/bin/sh\",\"-c\",\"echo made by the sandbox > /mnt/mark; exec sleep 1000\"],\"name\":\"web\","
        "\"namespaces\":[\"mount\",\"uts\",\"ipc\",\"pid\",\"net\",\"cgroup\"],\"hostname\":\"boxy\",\"cwd\":\"/mnt\","
        "\"root\":\"/\",\"mounts\":[{\"type\":\"proc\",\"destination\":\"/proc\"},"
        "{\"type\":\"tmpfs\",\"destination\":\"/mnt\"}]";

/* Runs script in target and asserts it exited 0 printing want. */
static void assert_exec_prints(int conn, const char *target, const char *script, const char *want) {
        Ended e = exec_script(conn, target, script, NULL);

        cr_assert_str_empty(e.error, "%s: %s", script, e.error);
        cr_assert_str_eq(e.state, "exited", "%s: %s %s", script, e.state, e.signal);
        cr_assert_eq(e.exit_code, 0, "%s: exit %d: %s", script, e.exit_code, e.out);
        cr_assert_str_eq(e.out, want, "%s: %s", script, e.out);
        ended_done(&e);
}

Test(exec, sees_what_the_sandbox_sees) {
        int conn = test_daemon_connect(&daemon_);
        _cleanup_free_ char *net = NULL, *mnt = NULL, *links = NULL;
        Started s = spawn(conn, web_sandbox);
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        net = proc_link(s.pid, "ns/net");
        mnt = proc_link(s.pid, "ns/mnt");
        cr_assert(asprintf(&links, "%s\n%s\n", net, mnt) > 0);

        /* by name, where the sandbox's command started, with what it wrote in its own /mnt */
        assert_exec_prints(conn, "web", "while ! test -e mark; do sleep 0.01; done; hostname; pwd; cat mark",
                           "boxy\n/mnt\nmade by the sandbox\n");
        /* its processes: the original command is there, and nothing of the host */
        assert_exec_prints(conn, s.id, "ps -o comm= -p 1; ps -o args= ax | grep -c '^sleep 1000$'; ! ps -o args= ax | grep -q '[n]sboxd' && echo 0",
                           "nsbox-init\n1\n0\n");
        /* its network and mount namespaces */
        assert_exec_prints(conn, s.id, "readlink /proc/self/ns/net /proc/self/ns/mnt", links);
        /* its cgroups (v1 ones on a hybrid host too): those of its init, at the root of its cgroup namespace */
        assert_exec_prints(conn, s.id, "cmp /proc/1/cgroup /proc/self/cgroup && grep '^0::' /proc/self/cgroup",
                           "0::/\n");

        cr_assert_eq(kill_sandbox(conn, s.id, SIGKILL), 0);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

/* The exec'd process has the sandbox's confinement: the same capability sets, a seccomp filter, no_new_privs. */
Test(exec, has_the_sandboxs_confinement) {
        int conn = test_daemon_connect(&daemon_);
        _cleanup_free_ char *status = NULL;
        char path[64], want[512] = "";
        Started s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"pid\",\"mount\"],"
                                "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
                                "\"permitted\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"]}");
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        /* the command, not init: its sets are the sandbox's */
        snprintf(path, sizeof path, "/proc/%li/task/%li/children", s.pid, s.pid);
        {
                _cleanup_free_ char *children = test_read_file(path);

                snprintf(path, sizeof path, "/proc/%ld/status", atol(children));
        }
        status = test_read_file(path);
        /* in the order /proc shows them, as grep prints them */
        for (const char *line = status; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0))
                for (const char *const *field = (const char *const[]) { "CapEff:", "CapPrm:", "CapBnd:",
                                                                         "NoNewPrivs:", "Seccomp:", NULL };
                     *field; field++)
                        if (strncmp(line, *field, strlen(*field)) == 0)
                                strncat(want, line, strcspn(line, "\n") + 1);

        e = exec_script(conn, s.id, "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status", NULL);
        cr_assert_eq(e.exit_code, 0, "%s", e.out);
        cr_assert_str_eq(e.out, want);
        cr_assert(strstr(e.out, "Seccomp:\t2\n"), "%s", e.out);
        ended_done(&e);

        kill_sandbox(conn, s.id, SIGKILL);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

/*
 * An Exec's process joins its sandbox's cgroups; a v1 pids hierarchy lets a process move in past pids.max (it
 * binds forks only), so the process checks after its move: an Exec that would take the sandbox past its
 * TasksMax fails, and the sandbox keeps what it had.
 */
Test(exec, stays_within_the_sandboxs_tasks_max) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"resources\":{\"pids\":{\"limit\":2}}"), second, third;
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        second = exec_in(conn, s.id, "\"argv\":[\"sleep\",\"1000\"]", NULL, 0);
        cr_assert_str_empty(second.error, "the second task was refused: %s %s", second.error, second.field);
        third = exec_in(conn, s.id, "\"argv\":[\"sleep\",\"1000\"]", NULL, 0);
        cr_expect_str_eq(third.error, "io.nsbox.Sandbox.SpawnFailed", "a third task in a sandbox of two: %s",
                         third.error[0] ? third.error : third.id);

        kill_sandbox(conn, s.id, SIGKILL);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

Test(exec, exit_codes_and_signals_come_back) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"pid\",\"mount\"]");
        Started x;
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);

        e = exec_script(conn, s.id, "exit 7", NULL);
        cr_assert_str_eq(e.state, "exited");
        cr_assert_eq(e.exit_code, 7);
        ended_done(&e);

        e = exec_script(conn, s.id, "kill -USR1 $$", NULL);
        cr_assert_str_eq(e.state, "killed", "%s %d", e.state, e.exit_code);
        cr_assert_str_eq(e.signal, "SIGUSR1");
        ended_done(&e);

        /* Kill and Wait take its id, as a sandbox's */
        x = exec_in(conn, s.id, "\"argv\":[\"sleep\",\"1000\"]", NULL, 0);
        cr_assert_str_empty(x.error, "%s %s", x.error, x.field);
        cr_assert_eq(kill_sandbox(conn, x.id, SIGTERM), 0);
        e = wait_for(conn, x.id);
        cr_assert_str_eq(e.state, "killed");
        cr_assert_str_eq(e.signal, "SIGTERM");
        ended_done(&e);

        /* the sandbox did not notice */
        {
                char state[64];

                inspect_state(conn, s.id, state, sizeof state);
                cr_assert_str_eq(state, "running");
        }
        kill_sandbox(conn, s.id, SIGKILL);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

/* Inspect shows which sandbox a process Exec started runs in; List shows both. */
Test(exec, is_listed_with_its_sandbox) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"listed\"");
        Started x = exec_in(conn, "listed", "\"argv\":[\"sleep\",\"1000\"]", NULL, 0);
        struct json_object *r;
        Ended e;

        cr_assert_str_empty(x.error, "%s %s", x.error, x.field);
        r = callf(conn, "io.nsbox.Sandbox.Inspect", NULL, 0, "{\"id\":\"%s\"}", x.id);
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.sandbox") ?: "", s.id, "%s",
                         json_object_to_json_string(r));
        json_object_put(r);
        r = callf(conn, "io.nsbox.Sandbox.List", NULL, 0, "{}");
        cr_assert(strstr(json_object_to_json_string(r), x.id) && strstr(json_object_to_json_string(r), s.id));
        json_object_put(r);
        /* It is frozen with its sandbox, and Pause on its own id says so rather than giving no reason. */
        r = callf(conn, "io.nsbox.Sandbox.Pause", NULL, 0, "{\"id\":\"%s\"}", x.id);
        cr_assert_str_eq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.LimitNotSupported", "%s",
                         json_object_to_json_string(r));
        cr_assert(strstr(test_json_string(r, "parameters.reason") ?: "", "its sandbox"), "%s",
                  json_object_to_json_string(r));
        json_object_put(r);

        kill_sandbox(conn, s.id, SIGKILL);
        e = wait_for(conn, x.id);
        ended_done(&e);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

/*
 * A process Exec started dies with its sandbox: in a pid namespace the kernel
 * sees to it; without one, the end of the sandbox (its cgroup) or the daemon
 * (without cgroups) does.
 */
static void assert_dies_with_sandbox(const TestDaemon *d, const char *namespaces) {
        int conn = test_daemon_connect(d);
        char params[256];
        Started s, x;
        Ended e;

        snprintf(params, sizeof params, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[%s]", namespaces);
        s = spawn(conn, params);
        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        x = exec_in(conn, s.id, "\"argv\":[\"sleep\",\"1000\"]", NULL, 0);
        cr_assert_str_empty(x.error, "%s %s", x.error, x.field);

        cr_assert_eq(kill_sandbox(conn, s.id, SIGKILL), 0);
        e = wait_for(conn, x.id);
        cr_assert_str_eq(e.state, "killed", "%s", namespaces);
        cr_assert_str_eq(e.signal, "SIGKILL");
        ended_done(&e);
        cr_assert_eq(kill(x.pid, 0), -1);
        e = wait_for(conn, s.id);
        ended_done(&e);
        test_disconnect(conn);
}

Test(exec, dies_with_its_sandbox) {
        static const char *const args[] = { "--no-cgroups", NULL };
        TestDaemon plain;

        assert_dies_with_sandbox(&daemon_, "\"pid\"");
        assert_dies_with_sandbox(&daemon_, "\"uts\"");
        test_daemon_start(&plain, args);
        assert_dies_with_sandbox(&plain, "\"uts\"");
        test_daemon_stop(&plain);
}

/* An ended sandbox stays listed until its end is read, but takes no Exec. */
Test(exec, no_exec_into_an_ended_sandbox) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, "\"argv\":[\"true\"],\"name\":\"short\"");
        Started x;
        struct json_object *r;
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        cr_assert(test_wait_until(has_state, &(StateWait) { conn, s.id, "exited" }));

        x = exec_in(conn, s.id, "\"argv\":[\"true\"]", NULL, 0);
        cr_assert_str_eq(x.error, "io.nsbox.Sandbox.NoSuchSandbox");
        cr_assert_str_eq(x.field, s.id);
        x = exec_in(conn, "short", "\"argv\":[\"true\"]", NULL, 0);
        cr_assert_str_eq(x.error, "io.nsbox.Sandbox.NoSuchSandbox");
        cr_assert_str_eq(x.field, "short");

        r = callf(conn, "io.nsbox.Sandbox.List", NULL, 0, "{}");
        cr_assert(strstr(json_object_to_json_string(r), s.id), "an ended sandbox left the list before its end was read");
        json_object_put(r);
        e = wait_for(conn, "short");
        cr_assert_str_eq(e.state, "exited");
        ended_done(&e);
        e = wait_for(conn, s.id);
        cr_assert_str_eq(e.error, "io.nsbox.Sandbox.NoSuchSandbox");
        ended_done(&e);
        test_disconnect(conn);
}

/* ---- names ---- */

static int child_names(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Started s;
        Ended e;

        /* root's name is not this user's: the same name is free here */
        s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db\"");
        TEST_CHECK(!s.error[0], "%s %s", s.error, s.field);
        /* and root's sandbox of that name is not reachable by it */
        e = wait_for(conn, "db2");
        TEST_CHECK(same(e.error, "io.nsbox.Sandbox.NoSuchSandbox"), "%s", e.error);
        ended_done(&e);
        TEST_CHECK(kill_sandbox(conn, "db", SIGKILL) == 0, "kill by name");
        e = wait_for(conn, "db");
        TEST_CHECK(same(e.state, "killed"), "%s %s", e.state, e.error);
        ended_done(&e);
        test_disconnect(conn);
        return 0;
}

Test(exec, names_are_unique_per_owner) {
        int conn = test_daemon_connect(&daemon_);
        Started a = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db\"");
        Started b = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db\"");
        Started c = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db2\"");
        char state[64];
        Ended e;

        cr_assert_str_empty(a.error);
        cr_assert_str_eq(b.error, "io.nsbox.Sandbox.NameInUse");
        cr_assert_str_eq(b.field, "db");
        cr_assert_str_empty(c.error);

        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_names, NULL), 0);

        /* every call that takes an id takes the name */
        inspect_state(conn, "db", state, sizeof state);
        cr_assert_str_eq(state, "running");
        cr_assert_eq(kill_sandbox(conn, "db", SIGKILL), 0);
        /* ended but not read: still its name */
        cr_assert(test_wait_until(has_state, &(StateWait) { conn, a.id, "killed" }));
        b = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db\"");
        cr_assert_str_eq(b.error, "io.nsbox.Sandbox.NameInUse");
        e = wait_for(conn, "db");
        cr_assert_str_eq(e.state, "killed");
        ended_done(&e);
        /* read: the name is free again */
        b = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"name\":\"db\"");
        cr_assert_str_empty(b.error, "%s", b.error);
        cr_assert_str_neq(b.id, a.id);

        /* a name that is no name */
        e = wait_for(conn, "bad\\u0001name");
        cr_assert_str_eq(e.error, VARLINK_ERROR_INVALID_PARAMETER);
        ended_done(&e);

        test_disconnect(conn);
}

/* ---- callers that are not root ---- */

static const char nobody_sandbox[] =
        "\"argv\":[\"/bin/sh\",\"-c\",\"exec sleep 1000\"],\"name\":\"mine\",\"keepAlive\":true,\"hostname\":\"nobodys\","
        "\"namespaces\":[\"user\",\"mount\",\"uts\",\"pid\",\"net\"],"
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"
        "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"
        "\"root\":\"/\",\"mounts\":[{\"type\":\"proc\",\"destination\":\"/proc\"}]";

typedef struct Out {
        int fd; /* write end: the child prints the sandbox's id and pid */
} Out;

static int child_exec_own(void *arg) {
        Out *o = arg;
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, nobody_sandbox), x;
        Ended e;

        TEST_CHECK(!s.error[0], "%s %s", s.error, s.field);
        dprintf(o->fd, "%s %li\n", s.id, s.pid);

        e = exec_script(conn, "mine", "hostname; id -u; id -g; ps -o args= ax | grep -c '^sleep 1000$'", NULL);
        TEST_CHECK(same(e.state, "exited") && e.exit_code == 0, "%s %d %s %s", e.state, e.exit_code, e.error, e.out);
        TEST_CHECK(same(e.out, "nobodys\n0\n0\n1\n"), "%s", e.out);
        ended_done(&e);

        /* a user the sandbox's mappings allow, and ones they do not */
        e = exec_script(conn, "mine", "id -u", ",\"user\":{\"uid\":0,\"gid\":0}");
        TEST_CHECK(same(e.out, "0\n"), "%s %s", e.out, e.error);
        ended_done(&e);
        x = exec_in(conn, "mine", "\"argv\":[\"true\"],\"user\":{\"uid\":1,\"gid\":0}", NULL, 0);
        TEST_CHECK(same(x.error, VARLINK_ERROR_INVALID_PARAMETER) && same(x.field, "user.uid"), "%s %s", x.error, x.field);
        x = exec_in(conn, "mine", "\"argv\":[\"true\"],\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}", NULL, 0);
        TEST_CHECK(same(x.error, VARLINK_ERROR_INVALID_PARAMETER) && same(x.field, "user.additionalGids"), "%s %s",
              x.error, x.field);
        test_disconnect(conn);
        return 0;
}

static int child_exec_foreign(void *arg) {
        const char *id = arg;
        int conn = test_daemon_connect(&daemon_);
        Started x;

        x = exec_in(conn, id, "\"argv\":[\"true\"]", NULL, 0);
        TEST_CHECK(same(x.error, "io.nsbox.Sandbox.NoSuchSandbox"), "Exec into another user's sandbox: %s", x.error);
        x = exec_in(conn, "mine", "\"argv\":[\"true\"]", NULL, 0);
        TEST_CHECK(same(x.error, "io.nsbox.Sandbox.NoSuchSandbox"), "Exec by another user's name: %s", x.error);
        test_disconnect(conn);
        return 0;
}

/* Without a user namespace its ids are host ids: the owner's own only. */
static int child_exec_without_user_namespace(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn(conn, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"uts\",\"ipc\"],\"hostname\":\"plain\"");
        Started x;
        Ended e;

        TEST_CHECK(!s.error[0], "%s %s", s.error, s.field);
        e = exec_script(conn, s.id, "hostname; id -u; grep NoNewPrivs /proc/self/status", NULL);
        TEST_CHECK(same(e.out, "plain\n65534\nNoNewPrivs:\t1\n"), "%s %s", e.out, e.error);
        ended_done(&e);
        x = exec_in(conn, s.id, "\"argv\":[\"true\"],\"user\":{\"uid\":0,\"gid\":0}", NULL, 0);
        TEST_CHECK(same(x.error, VARLINK_ERROR_INVALID_PARAMETER) && same(x.field, "user.uid"), "%s %s", x.error, x.field);
        x = exec_in(conn, s.id, "\"argv\":[\"true\"],\"user\":{\"uid\":65534,\"gid\":0}", NULL, 0);
        TEST_CHECK(same(x.error, VARLINK_ERROR_INVALID_PARAMETER) && same(x.field, "user.gid"), "%s %s", x.error, x.field);
        test_disconnect(conn);
        return 0;
}

Test(exec, callers_exec_into_their_own_sandboxes_only) {
        int p[2], conn;
        char out[256] = "", id[80];
        long pid;
        ssize_t n;
        Ended e;

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_exec_own, &(Out) { p[1] }), 0);
        close(p[1]);
        n = read(p[0], out, sizeof out - 1);
        close(p[0]);
        cr_assert_gt(n, 0);
        cr_assert_eq(sscanf(out, "%79s %li", id, &pid), 2, "%s", out);

        cr_assert_eq(test_run_as(other_uid, other_gid, child_exec_foreign, id), 0);
        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_exec_without_user_namespace, NULL), 0);

        /* root may, and gets the sandbox's user (its namespace's 0, nobody outside) */
        conn = test_daemon_connect(&daemon_);
        e = exec_script(conn, id, "id -u; awk '/^Uid:/ { print $2 }' /proc/self/status; cat /proc/self/uid_map", NULL);
        cr_assert_str_eq(e.out, "0\n0\n         0      65534          1\n", "%s %s", e.out, e.error);
        ended_done(&e);
        /* but root's names are root's: "mine" is nobody's */
        e = exec_script(conn, "mine", "true", NULL);
        cr_assert(strstr(e.error, "NoSuchSandbox"), "%s", e.error);
        ended_done(&e);
        cr_assert_eq(kill_sandbox(conn, id, SIGKILL), 0);
        e = wait_for(conn, id);
        ended_done(&e);
        test_disconnect(conn);
}
