/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The security model end to end: a real nsboxd, callers that are not root
 * (nobody, and a second user nsbox-test), raw Varlink calls. Every check is
 * made from outside the sandbox, by root, or from what the sandbox could
 * write to a pipe.
 *
 * The unprivileged side runs in a forked child (test_run_as()); it reports
 * failures on stderr and through its exit status, and hands values (pids,
 * ids) to the test over a pipe.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "varlink-message.h"
#include "test-util.h"

#define NOBODY 65534
#define OTHER_USER "nsbox-test"
#define SECRET "TOPSECRET-5f2c"

static TestDaemon daemon_;
static bool daemon_started;
static char work[64];   /* root-owned 0755 scratch directory */
static uid_t other_uid; /* nsbox-test */
static gid_t other_gid;

static void ensure_other_user(void) {
        test_ensure_user(OTHER_USER, &other_uid, &other_gid);
        cr_assert_neq(other_uid, NOBODY);
}

static void setup(void) {
        ensure_other_user();
        strcpy(work, "/tmp/nsbox-test-security-XXXXXX");
        cr_assert_not_null(mkdtemp(work));
        cr_assert_eq(chmod(work, 0755), 0);
}

static void teardown(void) {
        char cmd[128];

        if (daemon_started)
                test_daemon_stop(&daemon_);
        daemon_started = false;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        (void) !system(cmd);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 120);

static void start(const char *const *args) {
        test_daemon_start(&daemon_, args);
        daemon_started = true;
}

/* ---- small helpers usable in both the test and the unprivileged child ---- */

static bool same_string(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static void path_in_work(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", work, name);
}

static void write_text(const char *path, const char *text, mode_t mode) {
        test_write_file(path, text, strlen(text), mode);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chown root:root '%s' && chmod %o '%s'", from, to, to, (unsigned) mode, to);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Whether a spawn failed in the child at this stage with this errno: the check that should refuse it, not another. */
static bool spawn_failed_at(const char *error, const char *stage, int errno_, const char *want_stage, int want_errno) {
        return error && strcmp(error, "io.nsbox.Sandbox.SpawnFailed") == 0 && strcmp(stage, want_stage) == 0 &&
               errno_ == want_errno;
}
#define FAILED_AT(o, want_stage, want_errno) spawn_failed_at((o).error, (o).stage, (o).errno_, want_stage, want_errno)

/* What a call returned: its error name (NULL on success) and, for InvalidParameter, the parameter. */
typedef struct Outcome {
        char error[128];
        char parameter[128];
        char limit[64];
        char id[80];
        long pid;
        char stage[32]; /* SpawnFailed */
        int errno_;
        char output[4096]; /* what the sandbox wrote to stdout, when captured */
} Outcome;

static void outcome_from_reply(struct json_object *reply, Outcome *o) {
        const char *e = test_json_string(reply, "error");
        struct json_object *v;

        snprintf(o->error, sizeof o->error, "%s", e ?: "");
        snprintf(o->parameter, sizeof o->parameter, "%s", test_json_string(reply, "parameters.parameter") ?: "");
        snprintf(o->limit, sizeof o->limit, "%s", test_json_string(reply, "parameters.limit") ?: "");
        snprintf(o->id, sizeof o->id, "%s", test_json_string(reply, "parameters.id") ?: "");
        v = test_json_get(reply, "parameters.pid");
        o->pid = v ? (long) json_object_get_int64(v) : -1;
        snprintf(o->stage, sizeof o->stage, "%s", test_json_string(reply, "parameters.stage") ?: "");
        v = test_json_get(reply, "parameters.errno");
        o->errno_ = v ? json_object_get_int(v) : 0;
}

/*
 * Spawns with params (a JSON object's members, without braces) and fds
 * attached at indexes 0..n_fds-1. With capture, the sandbox's stdout is a
 * pipe (index n_fds) read to EOF into o->output.
 */
static void spawn_fds(int conn, const char *params, const int *fds, size_t n_fds, bool capture, Outcome *o) {
        char json[8192];
        int pipefd[2] = { -1, -1 }, all[16];
        _cleanup_free_ int *rfds = NULL;
        size_t n_rfds = 0, n_all = 0;
        struct json_object *reply;

        memset(o, 0, sizeof *o);
        cr_assert_lt(n_fds, ELEMENTSOF(all));
        for (size_t i = 0; i < n_fds; i++)
                all[n_all++] = fds[i];
        if (capture) {
                cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
                all[n_all++] = pipefd[1];
                snprintf(json, sizeof json, "{%s,\"stdout\":%zu}", params, n_fds);
        } else
                snprintf(json, sizeof json, "{%s}", params);
        reply = test_call(conn, "io.nsbox.Sandbox.Spawn", json, n_all > 0 ? all : NULL, n_all, &rfds, &n_rfds);
        outcome_from_reply(reply, o);
        json_object_put(reply);
        for (size_t i = 0; i < n_rfds; i++)
                close(rfds[i]);

        if (capture) {
                size_t total = 0;
                ssize_t n;

                close(pipefd[1]);
                /* Only a sandbox that started holds the write end; otherwise this is EOF at once. */
                while (total < sizeof o->output - 1 &&
                       (n = read(pipefd[0], o->output + total, sizeof o->output - 1 - total)) > 0)
                        total += (size_t) n;
                o->output[total] = 0;
                close(pipefd[0]);
        }
}

static void spawn(int conn, const char *params, bool capture, Outcome *o) {
        spawn_fds(conn, params, NULL, 0, capture, o);
}

static struct json_object *call_id(int conn, const char *method, const char *id, const char *extra) {
        char json[256];

        snprintf(json, sizeof json, "{\"id\":\"%s\"%s}", id, extra ?: "");
        return test_call(conn, method, json, NULL, 0, NULL, NULL);
}

/* Root cleans up what the unprivileged side left running. */
static void root_kill(const char *id) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r = call_id(conn, "io.nsbox.Sandbox.Kill", id, ",\"signal\":9");

        cr_assert_null(test_json_get(r, "error"), "root could not kill %s: %s", id, json_object_to_json_string(r));
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", id, NULL);
        json_object_put(r);
        test_disconnect(conn);
}

/* Reads "Name:\tvalue" from /proc/PID/status. */
static void proc_status_field(long pid, const char *name, char *buf, size_t size) {
        char path[64], line[512];
        size_t len = strlen(name);
        FILE *f;

        snprintf(path, sizeof path, "/proc/%li/status", pid);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        buf[0] = 0;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, name, len) == 0 && line[len] == ':') {
                        char *v = line + len + 1;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = 0;
                        snprintf(buf, size, "%s", v);
                        break;
                }
        fclose(f);
}

/* Runs fn as uid/gid with a pipe for values; returns the child's exit status, *out what it wrote. */
typedef struct Child {
        int out; /* write end, for the child */
        const void *data;
} Child;

static int run_as_capture(uid_t uid, gid_t gid, int (*fn)(void *arg), const void *data, char *out, size_t size) {
        int p[2], status;
        size_t total = 0;
        ssize_t n;
        Child c;

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        c = (Child) { .out = p[1], .data = data };
        status = test_run_as(uid, gid, fn, &c);
        close(p[1]);
        while (out && total < size - 1 && (n = read(p[0], out + total, size - 1 - total)) > 0)
                total += (size_t) n;
        if (out)
                out[total] = 0;
        close(p[0]);
        return status;
}

/* ---- the tests ---- */

static const char own_maps[] = "\"namespaces\":[\"user\",\"mount\",\"pid\"],"
                               "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"
                               "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]";

static int child_spawn_keepalive(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        char params[1024];
        Outcome o;

        /* without namespaces, and in a user namespace mapping only itself */
        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true", false, &o);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        dprintf(c->out, "%s %li\n", o.id, o.pid);

        snprintf(params, sizeof params, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true,%s", own_maps);
        spawn(conn, params, false, &o);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        dprintf(c->out, "%s %li\n", o.id, o.pid);
        test_disconnect(conn);
        return 0;
}

Test(security, sandbox_runs_as_the_caller_on_the_host) {
        char out[1024], id[2][80], value[256];
        long pid[2];

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_spawn_keepalive, NULL, out, sizeof out), 0);
        cr_assert_eq(sscanf(out, "%79s %li\n%79s %li", id[0], &pid[0], id[1], &pid[1]), 4, "%s", out);

        for (int i = 0; i < 2; i++) {
                proc_status_field(pid[i], "Uid", value, sizeof value);
                cr_assert_str_eq(value, "65534\t65534\t65534\t65534", "sandbox %d Uid: %s", i, value);
                proc_status_field(pid[i], "Gid", value, sizeof value);
                cr_assert_str_eq(value, "65534\t65534\t65534\t65534", "sandbox %d Gid: %s", i, value);
                proc_status_field(pid[i], "Groups", value, sizeof value);
                cr_assert_str_eq(value, "", "sandbox %d keeps supplementary groups: %s", i, value);
                proc_status_field(pid[i], "NoNewPrivs", value, sizeof value);
                cr_assert_str_eq(value, "1", "sandbox %d without no_new_privs", i);
        }
        /* outside any user namespace of its own it has no capabilities at all */
        proc_status_field(pid[0], "CapEff", value, sizeof value);
        cr_assert_str_eq(value, "0000000000000000");
        proc_status_field(pid[0], "CapPrm", value, sizeof value);
        cr_assert_str_eq(value, "0000000000000000");

        root_kill(id[0]);
        root_kill(id[1]);
}

static int child_maps_others(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        uid_t other = *(const uid_t *) ((Child *) arg)->data;
        char params[1024];
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                    "\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}]", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER), "host root mapped: %s", o.error);
        TEST_CHECK(same_string(o.parameter, "uidMappings[0].hostID"), "%s", o.parameter);

        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                 "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1},{\"containerID\":1,\"hostID\":%u,\"size\":1}]",
                 (unsigned) other);
        spawn(conn, params, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER), "another user's uid mapped: %s", o.error);
        TEST_CHECK(same_string(o.parameter, "uidMappings[1].hostID"), "%s", o.parameter);

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                    "\"gidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}]", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER), "host gid 0 mapped: %s", o.error);
        TEST_CHECK(same_string(o.parameter, "gidMappings[0].hostID"), "%s", o.parameter);

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                    "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":2}]", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "uidMappings[0].size"),
              "own uid plus the next one: %s %s", o.error, o.parameter);

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],\"setgroups\":true,"
                    "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "setgroups"),
              "setgroups allow with only its own gid: %s %s", o.error, o.parameter);

        /* without a user namespace: only its own ids, each checked on its own */
        spawn(conn, "\"argv\":[\"/bin/true\"],\"user\":{\"uid\":0,\"gid\":65534}", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "user.uid"),
              "ran as root: %s %s", o.error, o.parameter);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"user\":{\"uid\":65534,\"gid\":0}", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "user.gid"),
              "ran with gid 0: %s %s", o.error, o.parameter);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"user\":{\"uid\":65534,\"gid\":65534,\"additionalGids\":[0]}", false,
              &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "user.additionalGids[0]"),
              "ran in group 0: %s %s", o.error, o.parameter);
        test_disconnect(conn);
        return 0;
}

Test(security, cannot_map_root_or_anyone_else) {
        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_maps_others, &other_uid, NULL, 0), 0);
}

typedef struct Paths {
        char secret[128];     /* WORK/secret: 0600 root, in a 0755 directory */
        char priv[128];       /* WORK/priv: 0700 root */
        char priv_world[160]; /* WORK/priv/world -> / */
        char priv_echo[160];  /* WORK/priv/echo: 0755, behind the 0700 directory */
        char echo0700[128];   /* WORK/echo0700: 0700 root */
} Paths;

static int child_reads_root_files(void *arg) {
        const Paths *p = ((Child *) arg)->data;
        int conn = test_daemon_connect(&daemon_);
        char params[2048];
        Outcome o;

        /* a bind mount of the file, in its own user namespace and without one */
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/cat\",\"/etc/hostname\"],%s,"
                 "\"mounts\":[{\"type\":\"bind\",\"source\":\"%s\",\"destination\":\"/etc/hostname\"}]",
                 own_maps, p->secret);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, SECRET), "read through a bind mount (user namespace)");
        TEST_CHECK(FAILED_AT(o, "mount", EACCES), "a bind mount of a file the caller cannot read: %s %s %d", o.error, o.stage,
              o.errno_);

        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/cat\",\"/etc/hostname\"],\"namespaces\":[\"mount\"],"
                 "\"mounts\":[{\"type\":\"bind\",\"source\":\"%s\",\"destination\":\"/etc/hostname\"}]",
                 p->secret);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, SECRET), "read through a bind mount (no user namespace)");
        TEST_CHECK(FAILED_AT(o, "mount", EACCES), "a bind mount of a file the caller cannot read: %s %s %d", o.error, o.stage,
              o.errno_);

        /* a directory it cannot enter, as cwd */
        snprintf(params, sizeof params, "\"argv\":[\"/bin/ls\",\"-a\"],\"cwd\":\"%s\"", p->priv);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, "world"), "listed a 0700 root directory through cwd");
        TEST_CHECK(FAILED_AT(o, "cwd", EACCES), "cwd in a directory the caller cannot enter: %s %s %d", o.error, o.stage,
              o.errno_);

        /* as root: the path crosses a 0700 directory (to a symlink to /, which would make it work) */
        snprintf(params, sizeof params, "\"argv\":[\"/bin/cat\",\"%s\"],%s,\"root\":\"%s\"", p->secret, own_maps,
                 p->priv_world);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, SECRET), "read through root");
        TEST_CHECK(FAILED_AT(o, "mount", EACCES), "a root behind a 0700 directory: %s %s %d", o.error, o.stage, o.errno_);

        /* executables it may not run */
        snprintf(params, sizeof params, "\"argv\":[\"%s\",\"REACHED\"]", p->priv_echo);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, "REACHED"), "ran a program behind a 0700 directory");
        TEST_CHECK(FAILED_AT(o, "execve", EACCES), "an executable behind a 0700 directory: %s %s %d", o.error, o.stage,
              o.errno_);

        snprintf(params, sizeof params, "\"argv\":[\"%s\",\"REACHED\"]", p->echo0700);
        spawn(conn, params, true, &o);
        TEST_CHECK(!strstr(o.output, "REACHED"), "ran a 0700 root program");
        TEST_CHECK(FAILED_AT(o, "execve", EACCES), "a 0700 root executable: %s %s %d", o.error, o.stage, o.errno_);

        /* control: the same things it may do work, so the refusals above are about permission */
        spawn(conn, "\"argv\":[\"/bin/echo\",\"REACHED\"]", true, &o);
        TEST_CHECK(!o.error[0] && strstr(o.output, "REACHED"), "control spawn failed: %s", o.error);
        test_disconnect(conn);
        return 0;
}

Test(security, cannot_read_root_only_files) {
        Paths p;
        char path[160];

        path_in_work(p.secret, sizeof p.secret, "secret");
        write_text(p.secret, SECRET "\n", 0600);
        path_in_work(p.priv, sizeof p.priv, "priv");
        cr_assert_eq(mkdir(p.priv, 0700), 0);
        snprintf(p.priv_world, sizeof p.priv_world, "%s/world", p.priv);
        cr_assert_eq(symlink("/", p.priv_world), 0);
        snprintf(p.priv_echo, sizeof p.priv_echo, "%s/echo", p.priv);
        copy_file("/bin/echo", p.priv_echo, 0755);
        path_in_work(p.echo0700, sizeof p.echo0700, "echo0700");
        copy_file("/bin/echo", p.echo0700, 0700);
        snprintf(path, sizeof path, "%s", p.secret);

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_reads_root_files, &p, NULL, 0), 0);
}

static int child_other_user(void *arg) {
        const char *id = ((Child *) arg)->data;
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;

        /* answered as if it did not exist: another user's ids are not even confirmed */
        r = call_id(conn, "io.nsbox.Sandbox.Wait", id, NULL);
        TEST_CHECK(same_string(test_json_string(r, "error"), "io.nsbox.Sandbox.NoSuchSandbox"),
              "waited on another user's sandbox: %s", json_object_to_json_string(r));
        json_object_put(r);

        r = call_id(conn, "io.nsbox.Sandbox.Inspect", id, NULL);
        TEST_CHECK(same_string(test_json_string(r, "error"), "io.nsbox.Sandbox.NoSuchSandbox"),
              "inspected another user's sandbox: %s", json_object_to_json_string(r));
        json_object_put(r);

        r = call_id(conn, "io.nsbox.Sandbox.Kill", id, ",\"signal\":9");
        TEST_CHECK(same_string(test_json_string(r, "error"), "io.nsbox.Sandbox.NoSuchSandbox"),
              "killed another user's sandbox: %s", json_object_to_json_string(r));
        json_object_put(r);

        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        TEST_CHECK(!test_json_get(r, "error"), "List failed: %s", json_object_to_json_string(r));
        TEST_CHECK(!strstr(json_object_to_json_string(r), id), "another user's sandbox in List: %s",
              json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(conn);
        return 0;
}

Test(security, cannot_touch_another_users_sandbox) {
        char out[1024], id[2][80], value[64];
        long pid[2];
        int conn;
        struct json_object *r;

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_spawn_keepalive, NULL, out, sizeof out), 0);
        cr_assert_eq(sscanf(out, "%79s %li\n%79s %li", id[0], &pid[0], id[1], &pid[1]), 4, "%s", out);

        cr_assert_eq(run_as_capture(other_uid, other_gid, child_other_user, id[0], NULL, 0), 0);

        /* still alive and still running as nobody */
        proc_status_field(pid[0], "State", value, sizeof value);
        cr_assert(value[0] == 'S' || value[0] == 'R', "State: %s", value);

        /* root sees it */
        conn = test_daemon_connect(&daemon_);
        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert(strstr(json_object_to_json_string(r), id[0]), "%s", json_object_to_json_string(r));
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", id[0], NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(conn);

        root_kill(id[0]);
        root_kill(id[1]);
}

static int child_quota(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        for (int i = 0; i < 2; i++) {
                spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true", false, &o);
                TEST_CHECK(!o.error[0], "spawn %d: %s", i, o.error);
                dprintf(c->out, "%s\n", o.id);
        }
        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true", false, &o);
        if (!o.error[0])
                dprintf(c->out, "%s\n", o.id);
        TEST_CHECK(same_string(o.error, "io.nsbox.Sandbox.QuotaExceeded"), "third sandbox: %s", o.error);
        TEST_CHECK(same_string(o.limit, "sandboxes-per-user"), "limit: %s", o.limit);
        test_disconnect(conn);
        return 0;
}

static int child_one_sandbox(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true", false, &o);
        TEST_CHECK(!o.error[0], "%s", o.error);
        dprintf(c->out, "%s\n", o.id);
        test_disconnect(conn);
        return 0;
}

Test(security, sandbox_quota_per_user) {
        static const char *const args[] = { "--limit", "sandboxes-per-user=2", NULL };
        char out[1024], other[256];
        int status;

        start(args);
        status = run_as_capture(NOBODY, NOBODY, child_quota, NULL, out, sizeof out);
        /* another user has a quota of its own */
        cr_assert_eq(run_as_capture(other_uid, other_gid, child_one_sandbox, NULL, other, sizeof other), 0);

        for (char *save = NULL, *id = strtok_r(out, "\n", &save); id; id = strtok_r(NULL, "\n", &save))
                root_kill(id);
        other[strcspn(other, "\n")] = 0;
        root_kill(other);
        cr_assert_eq(status, 0);
}

static int child_setuid(void *arg) {
        const char *suid = ((Child *) arg)->data;
        int conn = test_daemon_connect(&daemon_);
        char params[1024];
        Outcome o;

        snprintf(params, sizeof params, "\"argv\":[\"%s\",\"-u\"]", suid);
        spawn(conn, params, true, &o);
        TEST_CHECK(!o.error[0], "%s", o.error);
        TEST_CHECK(strcmp(o.output, "65534\n") == 0, "setuid root binary in the sandbox ran with euid %s", o.output);

        snprintf(params, sizeof params, "\"argv\":[\"%s\",\"-u\"],\"namespaces\":[\"pid\",\"mount\"]", suid);
        spawn(conn, params, true, &o);
        TEST_CHECK(!o.error[0], "%s", o.error);
        TEST_CHECK(strcmp(o.output, "65534\n") == 0, "setuid root binary in the sandbox ran with euid %s", o.output);
        test_disconnect(conn);
        return 0;
}

/* Control: outside the sandbox the binary does make nobody root, so the check above can fail. */
static int child_setuid_control(void *arg) {
        const char *suid = ((Child *) arg)->data;
        Child *c = arg;
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                dup2(c->out, STDOUT_FILENO);
                execl(suid, suid, "-u", (char *) NULL);
                _exit(127);
        }
        TEST_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        TEST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        return 0;
}

Test(security, setuid_binary_gives_no_privilege) {
        char suid[128], out[64];

        path_in_work(suid, sizeof suid, "suid-id");
        copy_file("/usr/bin/id", suid, 04755);

        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_setuid_control, suid, out, sizeof out), 0);
        cr_assert_str_eq(out, "0\n", "the setuid test binary does not work here (is %s nosuid?)", work);

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_setuid, suid, NULL, 0), 0);
}

static int child_net(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\",\"net\"],"
                    "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]", false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED), "net namespace: %s %s", o.error, o.parameter);

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\",\"pid\"],"
                    "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]", false, &o);
        TEST_CHECK(!o.error[0], "allowed namespaces refused: %s %s", o.error, o.parameter);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", o.id, NULL);
        json_object_put(r);
        test_disconnect(conn);
        return 0;
}

Test(security, policy_forbids_net) {
        char policy[128];
        const char *args[] = { "--policy", policy, NULL };
        int conn;
        Outcome o;

        path_in_work(policy, sizeof policy, "policy.conf");
        write_text(policy, "[default]\nnamespaces = mount uts ipc user pid cgroup time\n", 0644);

        start(args);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_net, NULL, NULL, 0), 0);

        /* root is not bound by the policy */
        conn = test_daemon_connect(&daemon_);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"net\"]", false, &o);
        cr_assert_str_empty(o.error, "%s", o.error);
        json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", o.id, NULL));
        test_disconnect(conn);
}

static const char range_maps[] = "\"namespaces\":[\"user\"],"
                                 "\"uidMappings\":[{\"containerID\":0,\"hostID\":%u,\"size\":1},"
                                 "{\"containerID\":1,\"hostID\":300000,\"size\":%u}],"
                                 "\"gidMappings\":[{\"containerID\":0,\"hostID\":%u,\"size\":1},"
                                 "{\"containerID\":1,\"hostID\":400000,\"size\":500}]";

static int child_subuid(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        char params[1024], maps[512];
        Outcome o;

        snprintf(maps, sizeof maps, range_maps, NOBODY, 1000, NOBODY);
        snprintf(params, sizeof params, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true,%s", maps);
        spawn(conn, params, false, &o);
        TEST_CHECK(!o.error[0], "granted range refused: %s %s", o.error, o.parameter);
        dprintf(c->out, "%s %li\n", o.id, o.pid);

        /* one id past the grant */
        snprintf(maps, sizeof maps, range_maps, NOBODY, 1001, NOBODY);
        snprintf(params, sizeof params, "\"argv\":[\"/bin/true\"],%s", maps);
        spawn(conn, params, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "uidMappings[1].size"),
              "range past the grant: %s %s", o.error, o.parameter);

        /* one gid past the subgid grant, with the uid range inside its own */
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                 "\"uidMappings\":[{\"containerID\":0,\"hostID\":%u,\"size\":1}],"
                 "\"gidMappings\":[{\"containerID\":0,\"hostID\":%u,\"size\":1},"
                 "{\"containerID\":1,\"hostID\":400000,\"size\":501}]",
                 NOBODY, NOBODY);
        spawn(conn, params, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "gidMappings[1].size"),
              "gid range past the grant: %s %s", o.error, o.parameter);
        /* the subuid range is not a subgid grant */
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                 "\"gidMappings\":[{\"containerID\":0,\"hostID\":300000,\"size\":1}]");
        spawn(conn, params, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "gidMappings[0].hostID"),
              "subuid range used as gids: %s %s", o.error, o.parameter);
        test_disconnect(conn);
        return 0;
}

static int child_subuid_other(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        char params[1024], maps[512];
        Outcome o;

        snprintf(maps, sizeof maps, range_maps, (unsigned) getuid(), 1000, (unsigned) getgid());
        snprintf(params, sizeof params, "\"argv\":[\"/bin/true\"],%s", maps);
        spawn(conn, params, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) && same_string(o.parameter, "uidMappings[1].hostID"),
              "nobody's range used by another user: %s %s", o.error, o.parameter);
        test_disconnect(conn);
        return 0;
}

static void read_small_file(const char *path, char *buf, size_t size) {
        _cleanup_free_ char *text = test_read_file(path);

        snprintf(buf, size, "%s", text);
}

/* "0 65534 1" however the kernel pads it. */
static bool map_has_line(const char *map, unsigned a, unsigned b, unsigned c) {
        char line[128];
        const char *p = map;

        while (*p) {
                unsigned x, y, z;
                size_t len = strcspn(p, "\n");

                snprintf(line, sizeof line, "%.*s", (int) len, p);
                if (sscanf(line, "%u %u %u", &x, &y, &z) == 3 && x == a && y == b && z == c)
                        return true;
                p += len + (p[len] ? 1 : 0);
        }
        return false;
}

Test(security, subuid_range_is_honoured) {
        char subuid[128], subgid[128], out[256], id[80], path[64], map[512];
        const char *args[] = { "--subuid", subuid, "--subgid", subgid, NULL };
        long pid;

        path_in_work(subuid, sizeof subuid, "subuid");
        path_in_work(subgid, sizeof subgid, "subgid");
        write_text(subuid, "# test ranges\nnobody:300000:1000\n", 0644);
        write_text(subgid, "65534:400000:500\n", 0644);

        start(args);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_subuid, NULL, out, sizeof out), 0);
        cr_assert_eq(sscanf(out, "%79s %li", id, &pid), 2, "%s", out);

        snprintf(path, sizeof path, "/proc/%li/uid_map", pid);
        read_small_file(path, map, sizeof map);
        cr_assert(map_has_line(map, 0, NOBODY, 1) && map_has_line(map, 1, 300000, 1000), "uid_map: %s", map);
        snprintf(path, sizeof path, "/proc/%li/gid_map", pid);
        read_small_file(path, map, sizeof map);
        cr_assert(map_has_line(map, 0, NOBODY, 1) && map_has_line(map, 1, 400000, 500), "gid_map: %s", map);
        snprintf(path, sizeof path, "/proc/%li/setgroups", pid);
        read_small_file(path, map, sizeof map);
        cr_assert_str_eq(map, "allow\n", "a granted subgid range is mapped: setgroups stays allow");
        root_kill(id);

        cr_assert_eq(run_as_capture(other_uid, other_gid, child_subuid_other, NULL, NULL, 0), 0);
}

/* ---- /etc/subuid edits apply without a signal, as newuidmap reads the file on every call ---- */

typedef struct RangeProbe {
        unsigned host; /* nobody maps container ids 1..10 to host ids host..host+9 */
        bool granted;
} RangeProbe;

static int child_probe_ranges(void *arg) {
        const RangeProbe *probes = ((Child *) arg)->data;
        int conn = test_daemon_connect(&daemon_);
        char params[1024];
        Outcome o;

        for (const RangeProbe *p = probes; p->host; p++) {
                snprintf(params, sizeof params,
                         "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                         "\"uidMappings\":[{\"containerID\":0,\"hostID\":%u,\"size\":1},"
                         "{\"containerID\":1,\"hostID\":%u,\"size\":10}]",
                         NOBODY, p->host);
                spawn(conn, params, false, &o);
                if (p->granted)
                        TEST_CHECK(!o.error[0], "host %u refused: %s %s", p->host, o.error, o.parameter);
                else
                        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) &&
                                      same_string(o.parameter, "uidMappings[1].hostID"),
                              "host %u: %s %s", p->host, o.error, o.parameter);
        }
        test_disconnect(conn);
        return 0;
}

/* As useradd and usermod write it: a new file renamed over the old one. */
static void replace_text(const char *path, const char *text) {
        char tmp[256];

        snprintf(tmp, sizeof tmp, "%s+", path);
        write_text(tmp, text, 0644);
        cr_assert_eq(rename(tmp, path), 0);
}

Test(security, subuid_changes_apply_without_sighup) {
        char subuid[128], subgid[128];
        const char *args[] = { "--subuid", subuid, "--subgid", subgid, NULL };
        static const RangeProbe before[] = { { 300000, true }, { 500000, false }, {} };
        static const RangeProbe after[] = { { 500000, true }, { 300000, false }, {} };
        static const RangeProbe after_broken[] = { { 500000, true }, { 600000, false }, { 300000, false }, {} };
        static const RangeProbe after_fixed[] = { { 600000, true }, { 500000, false }, {} };

        path_in_work(subuid, sizeof subuid, "subuid");
        path_in_work(subgid, sizeof subgid, "subgid");
        write_text(subuid, "nobody:300000:1000\n", 0644);
        write_text(subgid, "", 0644);
        start(args);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_probe_ranges, before, NULL, 0), 0);

        replace_text(subuid, "nobody:500000:1000\n");
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_probe_ranges, after, NULL, 0), 0,
                     "a replaced subuid file was not picked up");

        /* a malformed file changes nothing: the ranges read before stay in force */
        replace_text(subuid, "nobody:600000:1000\nnobody:700000\n");
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_probe_ranges, after_broken, NULL, 0), 0);

        replace_text(subuid, "nobody:600000:1000\n");
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_probe_ranges, after_fixed, NULL, 0), 0);
}

/* ---- connection flood ---- */

static int raw_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || strlen(path) >= sizeof sa.sun_path) {
                safe_close(fd);
                return -1;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Whether a GetInfo on fd gets its reply. The poll bound only keeps a broken daemon from hanging the test. */
static bool raw_get_info(int fd) {
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        char buf[4096];
        size_t total = 0;

        if (send(fd, call, sizeof call, MSG_NOSIGNAL) != (ssize_t) sizeof call)
                return false;
        while (total < sizeof buf) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 10000) <= 0)
                        return false;
                n = recv(fd, buf + total, sizeof buf - total, 0);
                if (n <= 0)
                        return false;
                total += (size_t) n;
                if (memchr(buf, 0, total))
                        return memmem(buf, total, "\"parameters\"", 12) != NULL;
        }
        return false;
}

static int child_get_info(void *arg) {
        int fd = raw_connect(daemon_.socket_path);

        TEST_CHECK(fd >= 0, "connect: %m");
        TEST_CHECK(raw_get_info(fd), "GetInfo not answered");
        close(fd);
        return 0;
}

#define FLOOD 12
#define PER_USER 4

Test(security, connection_flood_is_capped_per_uid) {
        static const char *const args[] = { "--limit", "connections-per-user=4", NULL };
        int ready[2], release[2], status;
        pid_t pid;
        char served = 0;

        start(args);
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(release, O_CLOEXEC), 0);

        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int fds[FLOOD];
                char n = 0, c;

                /* Our copy of the write end would keep the read below from ever seeing EOF. */
                close(release[1]);
                close(ready[0]);
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(126);
                for (int i = 0; i < FLOOD; i++) {
                        fds[i] = raw_connect(daemon_.socket_path);
                        if (fds[i] >= 0 && raw_get_info(fds[i]))
                                n++;
                }
                /* hold them all while another user connects */
                (void) !write(ready[1], &n, 1);
                (void) !read(release[0], &c, 1);
                for (int i = 0; i < FLOOD; i++)
                        if (fds[i] >= 0)
                                close(fds[i]);
                _exit(0);
        }
        close(ready[1]);
        close(release[0]);

        cr_assert_eq(read(ready[0], &served, 1), 1);
        cr_assert_eq(served, PER_USER, "%d of %d connections from one uid were served", served, FLOOD);

        /* another uid is still served, and so is root */
        cr_assert_eq(test_run_as(other_uid, other_gid, child_get_info, NULL), 0,
                     "another uid was not served during a flood from nobody");
        {
                int fd = raw_connect(daemon_.socket_path);
                cr_assert_geq(fd, 0);
                cr_assert(raw_get_info(fd), "root not served during a flood from another uid");
                close(fd);
        }

        close(release[1]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(ready[0]);
}

/* ---- joining namespaces ---- */

/* Whether this kernel tells a pidfd's namespaces (PIDFD_GET_NET_NAMESPACE, 6.11). */
static bool pidfd_namespaces_supported(int pidfd) {
        int ns = ioctl(pidfd, _IO(0xFF, 4), 0);

        if (ns < 0)
                return !(errno == ENOTTY || errno == EINVAL);
        close(ns);
        return true;
}

/* In the child (nobody): a grandchild in a user and net namespace of its own, with its uid mapped to 0. */
static int child_join(void *arg) {
        Child *c = arg;
        int ready[2], release[2], conn, fds[2], host_net;
        char path[64], params[1024], expected[64], id[80], ch;
        pid_t gc;
        struct stat st;
        Outcome o;

        /* Changing uid from root left us non-dumpable: /proc/self/uid_map would be root's. */
        TEST_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0, "prctl: %m");
        TEST_CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(release, O_CLOEXEC) == 0, "pipe: %m");
        gc = fork();
        TEST_CHECK(gc >= 0, "fork: %m");
        if (gc == 0) {
                int fd;

                close(ready[0]);
                close(release[1]);
                if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
                        _exit(1);
                static const char *const files[][2] = {
                        { "/proc/self/setgroups", "deny" },
                        { "/proc/self/uid_map", "0 65534 1" },
                        { "/proc/self/gid_map", "0 65534 1" },
                };
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        fd = open(files[i][0], O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, files[i][1], strlen(files[i][1])) < 0)
                                _exit(2);
                        close(fd);
                }
                (void) !write(ready[1], "x", 1);
                (void) !read(release[0], &ch, 1);
                _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        TEST_CHECK(read(ready[0], &ch, 1) == 1, "the grandchild could not make its namespaces");

        snprintf(path, sizeof path, "/proc/%i/ns/user", (int) gc);
        fds[0] = open(path, O_RDONLY | O_CLOEXEC);
        snprintf(path, sizeof path, "/proc/%i/ns/net", (int) gc);
        fds[1] = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(fds[0] >= 0 && fds[1] >= 0 && fstat(fds[1], &st) == 0, "open %s: %m", path);
        snprintf(expected, sizeof expected, "net:[%lu]\n", (unsigned long) st.st_ino);

        conn = test_daemon_connect(&daemon_);

        /* its own namespaces: joined */
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/readlink\",\"/proc/self/ns/net\"],"
                 "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0},{\"type\":\"net\",\"fileDescriptor\":1}]");
        spawn_fds(conn, params, fds, 2, true, &o);
        TEST_CHECK(!o.error[0], "joining its own namespaces refused: %s %s", o.error, o.parameter);
        TEST_CHECK(strcmp(o.output, expected) == 0, "joined %s, expected %s", o.output, expected);
        snprintf(id, sizeof id, "%s", o.id);
        json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", id, NULL));

        /* the host's network namespace, which it can open but not enter */
        host_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        TEST_CHECK(host_net >= 0, "open: %m");
        spawn_fds(conn,
                  "\"argv\":[\"/bin/readlink\",\"/proc/self/ns/net\"],\"namespaces\":[\"mount\"],"
                  "\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0}]",
                  &host_net, 1, true, &o);
        TEST_CHECK(!o.output[0], "joined the host's network namespace: %s", o.output);
        /* refused up front, not by a late failure in the spawn path */
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED), "host net namespace: %s %s", o.error, o.parameter);

        /* a pidfd of its own process in the host namespaces */
        int pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        TEST_CHECK(pidfd >= 0, "pidfd_open: %m");
        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0}]", &pidfd, 1,
                  false, &o);
        if (pidfd_namespaces_supported(pidfd))
                TEST_CHECK(same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED), "host net namespace by pidfd: %s %s", o.error,
                      o.parameter);
        else /* the kernel cannot say which namespace a pidfd is in: it cannot be judged */
                TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER) &&
                              same_string(o.parameter, "joinNamespaces[0].fileDescriptor"),
                      "host net namespace by pidfd: %s %s", o.error, o.parameter);

        /* a namespace of another type than it claims (its own, so only the type is wrong) */
        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"joinNamespaces\":[{\"type\":\"uts\",\"fileDescriptor\":0}]", &fds[1], 1,
                  false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER), "a net namespace fd as uts: %s", o.error);
        TEST_CHECK(same_string(o.parameter, "joinNamespaces[0].fileDescriptor"), "%s", o.parameter);
        /* and not a namespace at all */
        spawn_fds(conn,
                  "\"argv\":[\"/bin/true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0},"
                  "{\"type\":\"net\",\"fileDescriptor\":1}]",
                  (const int[]) { fds[0], STDERR_FILENO }, 2, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_INVALID_PARAMETER), "a plain fd as a namespace: %s", o.error);
        TEST_CHECK(same_string(o.parameter, "joinNamespaces[1].fileDescriptor"), "%s", o.parameter);

        /* Its own user namespace, joined, with a tree of its own: built with the caller's own rights, as it
         * could under nsenter --user and unshare -m (mount-setup.c's plan_creds() says why). */
        spawn_fds(conn,
                  "\"argv\":[\"/bin/true\"],\"namespaces\":[\"mount\"],"
                  "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                  "\"mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\"},"
                  "{\"type\":\"tmpfs\",\"destination\":\"/tmp\"}]",
                  fds, 1, false, &o);
        TEST_CHECK(!o.error[0], "joined user namespace with mounts: %s %s %s %d", o.error, o.parameter, o.stage,
                   o.errno_);

        test_disconnect(conn);
        close(release[1]);
        TEST_CHECK(waitpid(gc, NULL, 0) == gc, "waitpid");
        (void) c;
        return 0;
}

Test(security, join_only_namespaces_the_caller_owns) {
        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_join, NULL, NULL, 0), 0);
}

/* Runs argv with stdout into out (NUL-terminated); its exit status, or -1 if it did not exit. */
static int run_command(const char *const *argv, char *out, size_t size) {
        int p[2], status;
        size_t total = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(126);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(p[1]);
        while (total < size - 1 && (n = read(p[0], out + total, size - 1 - total)) > 0)
                total += (size_t) n;
        out[total] = 0;
        close(p[0]);
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

static const char owned_sandbox[] =
        "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true,\"hostname\":\"owned\","
        "\"namespaces\":[\"user\",\"net\",\"uts\",\"mount\"]";

/* Spawns a sandbox the caller then enters with nsenter and joins in a second Spawn; prints "ID PID". */
static int child_enters_own_sandbox(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_), net_fd, user_fd;
        char pid[32], expected[64], out[256], path[64];
        struct stat st;
        Outcome o;

        spawn(conn, owned_sandbox, false, &o);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        dprintf(c->out, "%s %li\n", o.id, o.pid);
        snprintf(pid, sizeof pid, "%li", o.pid);

        snprintf(path, sizeof path, "/proc/%li/ns/net", o.pid);
        net_fd = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(net_fd >= 0 && fstat(net_fd, &st) == 0, "open %s: %m", path);
        snprintf(expected, sizeof expected, "owned\nnet:[%lu]\n", (unsigned long) st.st_ino);

        /* as `unshare -U` would have let it: its own user namespace, and what it owns */
        TEST_CHECK(run_command((const char *const[]) { "nsenter", "-t", pid, "-U", "-u", "-n", "--preserve-credentials",
                                                  "sh", "-c", "hostname; readlink /proc/self/ns/net", NULL },
                          out, sizeof out) == 0,
              "nsenter into its own sandbox failed: %s", out);
        TEST_CHECK(strcmp(out, expected) == 0, "nsenter saw %s, expected %s", out, expected);

        /* and passes its network namespace back */
        spawn_fds(conn,
                  "\"argv\":[\"/bin/sh\",\"-c\",\"hostname; readlink /proc/self/ns/net\"],"
                  "\"namespaces\":[\"user\",\"uts\"],\"hostname\":\"owned\","
                  "\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0}]",
                  &net_fd, 1, true, &o);
        TEST_CHECK(!o.error[0], "joining its own sandbox's network namespace: %s %s", o.error, o.parameter);
        TEST_CHECK(strcmp(o.output, expected) == 0, "the second sandbox saw %s, expected %s", o.output, expected);
        json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", o.id, NULL));
        close(net_fd);

        /* and its user namespace, which maps only its own ids (no root): without "user" the process runs as
         * the sandbox does there, not as the namespace's unmapped root */
        snprintf(path, sizeof path, "/proc/%s/ns/user", pid);
        user_fd = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(user_fd >= 0, "open %s: %m", path);
        spawn_fds(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"id -u; id -g\"],"
                        "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}]",
                  &user_fd, 1, true, &o);
        TEST_CHECK(!o.error[0], "joining its own sandbox's user namespace: %s %s %s", o.error, o.parameter, o.stage);
        TEST_CHECK(strcmp(o.output, "65534\n65534\n") == 0, "the joining process runs as %s", o.output);
        json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", o.id, NULL));
        close(user_fd);
        test_disconnect(conn);
        return 0;
}

typedef struct Foreign {
        long pid;
        int user_fd, net_fd;
} Foreign;

/* Another user, with fds of nobody's sandbox's namespaces it was handed. */
static int child_enters_foreign_sandbox(void *arg) {
        const Foreign *f = ((Child *) arg)->data;
        int conn = test_daemon_connect(&daemon_);
        char pid[32], out[256];
        Outcome o;

        snprintf(pid, sizeof pid, "%li", f->pid);
        TEST_CHECK(run_command((const char *const[]) { "nsenter", "-t", pid, "-U", "--preserve-credentials", "true", NULL },
                          out, sizeof out) != 0,
              "nsenter into another user's sandbox worked");

        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}]",
                  &f->user_fd, 1, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED), "joined another user's user namespace: %s", o.error);
        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],"
                        "\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0}]",
                  &f->net_fd, 1, false, &o);
        TEST_CHECK(same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED), "joined another user's network namespace: %s",
              o.error);
        test_disconnect(conn);
        return 0;
}

/*
 * A non-root caller's user namespace is its own (NS_GET_OWNER_UID): it may
 * enter its sandbox with nsenter and hand its namespaces back to the daemon;
 * another user may do neither.
 */
Test(security, callers_own_their_user_namespaces) {
        char out[256], id[80], path[64];
        Foreign f;
        uid_t owner = (uid_t) -1;

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_enters_own_sandbox, NULL, out, sizeof out), 0);
        cr_assert_eq(sscanf(out, "%79s %li", id, &f.pid), 2, "%s", out);

        snprintf(path, sizeof path, "/proc/%li/ns/user", f.pid);
        f.user_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(f.user_fd, 0);
        cr_assert_eq(ioctl(f.user_fd, NS_GET_OWNER_UID, &owner), 0);
        cr_assert_eq(owner, NOBODY);
        snprintf(path, sizeof path, "/proc/%li/ns/net", f.pid);
        f.net_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(f.net_fd, 0);

        cr_assert_eq(run_as_capture(other_uid, other_gid, child_enters_foreign_sandbox, &f, NULL, 0), 0);
        close(f.user_fd);
        close(f.net_fd);
        root_kill(id);
}

/*
 * fn (a Child's) as uid/gid in these supplementary groups, which the daemon
 * reads at admission, in a process whose stdin is *ret_in's pipe (closing it
 * is EOF there) and whose Child.out is *ret_out's.
 */
static pid_t start_with_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, int (*fn)(void *arg),
                               const void *data, int *ret_out, int *ret_in) {
        int out[2], in[2];
        pid_t pid;

        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                Child c = { .out = out[1], .data = data };

                /* Only the test may hold the write end: its close is this side's EOF. */
                close(out[0]);
                close(in[1]);
                if (dup2(in[0], STDIN_FILENO) < 0 || setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
                    setresuid(uid, uid, uid) < 0)
                        _exit(126);
                _exit(fn(&c));
        }
        close(out[1]);
        close(in[0]);
        *ret_out = out[0];
        *ret_in = in[1];
        return pid;
}

/* One line of what a child said, without its newline. */
static void read_line(int fd, char *buf, size_t size) {
        size_t n = 0;

        while (n < size - 1 && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
                n++;
        buf[n] = 0;
}

/* A sandbox in a user namespace of its own (setgroups "deny", as for any caller but root) that stays; "ID PID". */
static int child_spawns_user_sandbox(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true,\"namespaces\":[\"user\"]", false, &o);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        dprintf(c->out, "%s %li\n", o.id, o.pid);
        test_disconnect(conn);
        return 0;
}

typedef struct Joiner {
        long top;          /* a process in the user namespace to join */
        bool name_groups;  /* join a second time naming additionalGids */
} Joiner;

/* Joins that user namespace without "user" (and naming additionalGids); says "PID PID" (the second -1 without)
 * and keeps both (its connection) until stdin's EOF. */
static int child_joins_user_namespace(void *arg) {
        Child *c = arg;
        const Joiner *j = c->data;
        int conn = test_daemon_connect(&daemon_), user_fd;
        char path[64];
        Outcome o;
        long pid;

        snprintf(path, sizeof path, "/proc/%li/ns/user", j->top);
        user_fd = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(user_fd >= 0, "open %s: %m", path);
        spawn_fds(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}]",
                  &user_fd, 1, false, &o);
        TEST_CHECK(!o.error[0], "joining: %s %s %s", o.error, o.parameter, o.stage);
        pid = o.pid;
        o.pid = -1;
        if (j->name_groups) {
                spawn_fds(conn,
                          "\"argv\":[\"/bin/sleep\",\"60\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                          "\"user\":{\"uid\":65534,\"gid\":65534,\"additionalGids\":[65534]}",
                          &user_fd, 1, false, &o);
                TEST_CHECK(!o.error[0], "joining with additionalGids: %s %s %s", o.error, o.parameter, o.stage);
        }
        dprintf(c->out, "%li %li\n", pid, o.pid);
        close(user_fd);
        (void) read(STDIN_FILENO, path, 1);
        test_disconnect(conn);
        return 0;
}

/*
 * Root joining a sandbox's user namespace runs with that sandbox's groups, or
 * the ones it names there, never with its own host groups, which the
 * namespace does not map (they would show as the overflow gid inside and
 * still grant the host's access). That namespace's setgroups is "deny":
 * nobody inside may set groups, so named ones are the host ids they map to,
 * held from the clone on. The owner joining keeps its own.
 */
Test(security, joining_a_user_namespace_gives_the_sandboxs_groups_not_roots) {
        static const gid_t creator_groups[] = { 100 }, root_groups[] = { 0, 4, 27 };
        char line[256], id[80], groups[128];
        long pid[2];
        Joiner j = {};
        int out, in;
        pid_t child;

        start(NULL);
        child = start_with_groups(NOBODY, NOBODY, creator_groups, ELEMENTSOF(creator_groups), child_spawns_user_sandbox,
                                  NULL, &out, &in);
        read_line(out, line, sizeof line);
        close(out);
        close(in);
        cr_assert_eq(test_finish(child), 0);
        cr_assert_eq(sscanf(line, "%79s %li", id, &j.top), 2, "%s", line);
        /* The kernel ends the list with a space. */
        proc_status_field(j.top, "Groups", groups, sizeof groups);
        cr_assert_str_eq(groups, "100 ");

        for (int owner = 0; owner < 2; owner++) {
                /* The owner may not set groups there (setgroups "deny" keeps its own): not asked. */
                j.name_groups = !owner;
                child = start_with_groups(owner ? NOBODY : 0, owner ? NOBODY : 0, owner ? creator_groups : root_groups,
                                          owner ? ELEMENTSOF(creator_groups) : ELEMENTSOF(root_groups),
                                          child_joins_user_namespace, &j, &out, &in);
                read_line(out, line, sizeof line);
                close(out);
                if (sscanf(line, "%li %li", &pid[0], &pid[1]) != 2) {
                        close(in);
                        cr_assert_fail("%s: the joins failed (%d)", owner ? "the owner" : "root", test_finish(child));
                }
                proc_status_field(pid[0], "Groups", groups, sizeof groups);
                cr_expect_str_eq(groups, "100 ", "%s joining without user", owner ? "the owner" : "root");
                if (!owner) {
                        proc_status_field(pid[1], "Groups", groups, sizeof groups);
                        cr_expect_str_eq(groups, "65534 ", "root joining with additionalGids");
                }
                close(in);
                cr_assert_eq(test_finish(child), 0);
        }
        root_kill(id);
}

/* ---- reloading the policy ---- */

/* Exit status 0: a net namespace was granted, 1: refused with PermissionDenied, 2: anything else. */
static int child_try_net(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Outcome o;
        int ret;

        /* Round trips first: the daemon handles a SIGHUP on its loop, as it does calls. */
        for (int i = 0; i < 3; i++)
                json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));

        spawn(conn, "\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\",\"net\"],"
                    "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]", false, &o);
        if (!o.error[0]) {
                json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", o.id, NULL));
                ret = 0;
        } else
                ret = same_string(o.error, VARLINK_ERROR_PERMISSION_DENIED) ? 1 : 2;
        test_disconnect(conn);
        return ret;
}

Test(security, policy_reload_keeps_the_old_policy_when_the_new_one_is_broken) {
        char policy[128];
        const char *args[] = { "--policy", policy, NULL };

        path_in_work(policy, sizeof policy, "policy.conf");
        write_text(policy, "[default]\nnamespaces = user pid\n", 0644);
        start(args);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_try_net, NULL, NULL, 0), 1);

        /* broken: refused as a whole, the old rules stay (not the permissive built-in default) */
        write_text(policy, "[default]\nnamespaces = user pid net\nbogus = 1\n", 0644);
        cr_assert_eq(kill(daemon_.pid, SIGHUP), 0);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_try_net, NULL, NULL, 0), 1);

        /* writable by others: refused too */
        write_text(policy, "[default]\nnamespaces = all\n", 0666);
        cr_assert_eq(kill(daemon_.pid, SIGHUP), 0);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_try_net, NULL, NULL, 0), 1);

        /* a good one applies */
        write_text(policy, "[default]\nnamespaces = user pid net\n", 0644);
        cr_assert_eq(kill(daemon_.pid, SIGHUP), 0);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_try_net, NULL, NULL, 0), 0);
}

/* ---- mounts of a non-root caller ---- */

/* A bind from an fd would reach a new user namespace unlocked: refused, naming the entry; a path bind works. */
static int child_fd_bind(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_), usr;
        char params[2048];
        struct json_object *reply;
        const char *e, *stage, *message;
        Outcome o;

        usr = open("/usr", O_PATH | O_DIRECTORY | O_CLOEXEC);
        TEST_CHECK(usr >= 0, "open /usr: %m");
        snprintf(params, sizeof params,
                 "{\"argv\":[\"/usr/bin/true\"],%s,"
                 "\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/tmp\"},"
                 "{\"type\":\"bind\",\"sourceFileDescriptor\":0,\"destination\":\"/usr\",\"options\":[\"ro\"]}]}",
                 own_maps);
        reply = test_call(conn, "io.nsbox.Sandbox.Spawn", params, &usr, 1, NULL, NULL);
        e = test_json_string(reply, "error");
        stage = test_json_string(reply, "parameters.stage");
        message = test_json_string(reply, "parameters.message");
        TEST_CHECK(e && strcmp(e, "io.nsbox.Sandbox.SpawnFailed") == 0, "%s", json_object_to_json_string(reply));
        TEST_CHECK(stage && strcmp(stage, "mount") == 0, "%s", json_object_to_json_string(reply));
        TEST_CHECK(json_object_get_int(test_json_get(reply, "parameters.errno")) == EPERM, "%s", json_object_to_json_string(reply));
        TEST_CHECK(message && strstr(message, "mounts[1].sourceFileDescriptor"), "%s", json_object_to_json_string(reply));
        json_object_put(reply);
        close(usr);

        snprintf(params, sizeof params,
                 "\"argv\":[\"/usr/bin/true\"],%s,"
                 "\"mounts\":[{\"type\":\"bind\",\"source\":\"/usr\",\"destination\":\"/usr\",\"options\":[\"ro\"]},"
                 "{\"type\":\"symlink\",\"source\":\"usr/lib\",\"destination\":\"/lib\"},"
                 "{\"type\":\"symlink\",\"source\":\"usr/lib64\",\"destination\":\"/lib64\"}]",
                 own_maps);
        spawn(conn, params, false, &o);
        TEST_CHECK(!o.error[0], "path bind refused: %s %s", o.error, o.parameter);
        dprintf(c->out, "%s\n", o.id);
        test_disconnect(conn);
        return 0;
}

Test(security, fd_bind_refused_in_a_user_namespace) {
        char out[256];

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_fd_bind, NULL, out, sizeof out), 0);
}

/*
 * The root mount of a non-root caller's sandbox is nosuid and nodev like every other mount, whether
 * it is a bind of "root" or the tmpfs made when only mounts are given, with and without a user
 * namespace. Judged from outside, by what the sandbox's /proc/PID/mountinfo says of its "/".
 */
static const char *const root_mount_requests[] = {
        "\"root\":\"/\"",
        "\"mounts\":[{\"type\":\"bind\",\"source\":\"/usr\",\"destination\":\"/usr\",\"options\":[\"ro\"]},"
        "{\"type\":\"symlink\",\"source\":\"usr/lib\",\"destination\":\"/lib\"},"
        "{\"type\":\"symlink\",\"source\":\"usr/lib64\",\"destination\":\"/lib64\"}]",
};
static const char *const root_mount_namespaces[] = {
        "\"namespaces\":[\"user\",\"mount\"],"
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"
        "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]",
        "\"namespaces\":[\"mount\"]",
};

static int child_root_mounts(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_);
        char params[2048];
        Outcome o;

        for (size_t i = 0; i < ELEMENTSOF(root_mount_requests); i++)
                for (size_t j = 0; j < ELEMENTSOF(root_mount_namespaces); j++) {
                        snprintf(params, sizeof params, "\"argv\":[\"/usr/bin/sleep\",\"60\"],\"keepAlive\":true,%s,%s",
                                 root_mount_namespaces[j], root_mount_requests[i]);
                        spawn(conn, params, false, &o);
                        TEST_CHECK(!o.error[0], "%s: %s %s %s", params, o.error, o.parameter, o.stage);
                        dprintf(c->out, "%s %li\n", o.id, o.pid);
                }
        test_disconnect(conn);
        return 0;
}

/* The per-mount options (field 6) of the mount a process sees at "/": the last one listed there. */
static void root_mount_options(long pid, char *buf, size_t size) {
        char path[64], line[4096];
        FILE *f;

        snprintf(path, sizeof path, "/proc/%li/mountinfo", pid);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        buf[0] = 0;
        while (fgets(line, sizeof line, f)) {
                char mount_point[PATH_MAX], options[256];

                if (sscanf(line, "%*s %*s %*s %*s %4095s %255s", mount_point, options) == 2 &&
                    strcmp(mount_point, "/") == 0)
                        snprintf(buf, size, "%s", options);
        }
        fclose(f);
        cr_assert(buf[0], "no mount at / in %s", path);
}

static bool has_option(const char *options, const char *name) {
        size_t n = strlen(name);

        for (const char *p = options; p; p = strchr(p, ',')) {
                p += *p == ',';
                if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
                        return true;
        }
        return false;
}

Test(security, root_mount_is_nosuid_and_nodev) {
        char out[1024], id[80], options[256];
        const char *p = out;
        size_t n = 0;
        long pid;
        int k;

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_root_mounts, NULL, out, sizeof out), 0);
        while (sscanf(p, "%79s %li\n%n", id, &pid, &k) == 2) {
                size_t i = n / ELEMENTSOF(root_mount_namespaces), j = n % ELEMENTSOF(root_mount_namespaces);

                root_mount_options(pid, options, sizeof options);
                cr_expect(has_option(options, "nosuid") && has_option(options, "nodev"),
                          "root mount of %s with %s: %s", root_mount_requests[i], root_mount_namespaces[j], options);
                root_kill(id);
                p += k;
                n++;
        }
        cr_assert_eq(n, ELEMENTSOF(root_mount_requests) * ELEMENTSOF(root_mount_namespaces), "%s", out);
}

/* A file entry fed by the daemon's /proc/PID/stat: copied with the caller's rights, so no addresses. */
static int child_file_of_root_stat(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_), fd;
        char path[64];
        const char *p;
        Outcome o;

        snprintf(path, sizeof path, "/proc/%i/stat", (int) daemon_.pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(fd >= 0, "open %s: %m", path);
        spawn_fds(conn,
                  "\"argv\":[\"/bin/cat\",\"/tmp/stat\"],\"namespaces\":[\"mount\"],\"root\":\"/\","
                  "\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/tmp\"},"
                  "{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/tmp/stat\"}]",
                  &fd, 1, true, &o);
        close(fd);
        test_disconnect(conn);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        p = strrchr(o.output, ')');
        TEST_CHECK(p, "no stat line: %s", o.output);
        /* after ")": field 3 is the state; 26 startcode, 27 endcode, 28 startstack */
        for (int field = 3; field <= 26; field++) {
                p = strchr(p + 1, ' ');
                TEST_CHECK(p, "short stat line: %s", o.output);
        }
        dprintf(c->out, "%s", p + 1);
        TEST_CHECK(strncmp(p + 1, "1 1 0 ", 6) == 0, "addresses of a root process leaked: %s", o.output);
        return 0;
}

Test(security, file_entry_is_read_as_the_caller) {
        char out[4096];

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_file_of_root_stat, NULL, out, sizeof out), 0, "%s", out);
}

/* ---- supplementary groups: a group that denies the caller access keeps denying it in a sandbox, whatever
 * the mapping style ---- */

#define DENYING_GROUP 4242

typedef struct GroupFiles {
        char deny[128];  /* 0604 root:4242: all but that group may read it */
        char allow[128]; /* 0640 root:4242: only that group may */
} GroupFiles;

static int child_reads_group_files(void *arg) {
        const GroupFiles *f = ((Child *) arg)->data;
        static const struct {
                const char *style;
                const char *namespaces;
                const char *setgroups; /* what /proc/self/setgroups says inside */
        } cases[] = {
                { "-U", "\"namespaces\":[\"user\"]", "deny" }, /* its own ids mapped to themselves */
                { "-r",
                  "\"namespaces\":[\"user\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"
                  "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]",
                  "deny" },
                /* a granted subgid range, as newgidmap would map it: setgroups is allowed, the groups stay */
                { "subgid range",
                  "\"namespaces\":[\"user\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1},"
                  "{\"containerID\":1,\"hostID\":300000,\"size\":1000}],"
                  "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1},"
                  "{\"containerID\":1,\"hostID\":300000,\"size\":1000}]",
                  "allow" },
                { "subgid range, root inside",
                  "\"namespaces\":[\"user\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1},"
                  "{\"containerID\":1,\"hostID\":300000,\"size\":1000}],"
                  "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1},"
                  "{\"containerID\":1,\"hostID\":300000,\"size\":1000}],\"user\":{\"uid\":0,\"gid\":0}",
                  "allow" },
                { "no user namespace", "\"namespaces\":[\"net\"]", "allow" },
        };
        int conn = test_daemon_connect(&daemon_);
        char params[1024], setgroups[64];
        Outcome o;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *style = cases[i].style;

                snprintf(params, sizeof params,
                         "\"argv\":[\"/bin/sh\",\"-c\",\"cat %s 2>&1; cat %s; echo setgroups=$(cat /proc/self/setgroups)\"],%s",
                         f->deny, f->allow, cases[i].namespaces);
                spawn(conn, params, true, &o);
                TEST_CHECK(!o.error[0], "%s: %s %s", style, o.error, o.parameter);
                snprintf(setgroups, sizeof setgroups, "setgroups=%s\n", cases[i].setgroups);
                TEST_CHECK(strstr(o.output, setgroups), "%s: not the mapping style meant: %s", style, o.output);
                TEST_CHECK(!strstr(o.output, "secret"), "%s: read a file its group may not read", style);
                TEST_CHECK(strstr(o.output, "Permission denied"), "%s: %s", style, o.output);
                TEST_CHECK(strstr(o.output, "allowed"), "%s: lost a group it may use: %s", style, o.output);
        }
        test_disconnect(conn);
        return 0;
}

Test(security, denying_group_still_denies_in_the_sandbox) {
        static const gid_t groups[] = { NOBODY, DENYING_GROUP };
        char subuid[128], subgid[128];
        const char *args[] = { "--subuid", subuid, "--subgid", subgid, NULL };
        GroupFiles f;
        Child c = { .out = -1, .data = &f };
        int status;
        pid_t pid;

        path_in_work(f.deny, sizeof f.deny, "group-deny");
        write_text(f.deny, "secret\n", 0604);
        cr_assert_eq(chown(f.deny, 0, DENYING_GROUP), 0);
        path_in_work(f.allow, sizeof f.allow, "group-allow");
        write_text(f.allow, "allowed\n", 0640);
        cr_assert_eq(chown(f.allow, 0, DENYING_GROUP), 0);

        path_in_work(subuid, sizeof subuid, "subuid");
        path_in_work(subgid, sizeof subgid, "subgid");
        write_text(subuid, "nobody:300000:1000\n", 0644);
        write_text(subgid, "nobody:300000:1000\n", 0644);
        start(args);
        /* nobody, in group 4242 as well: the daemon learns its groups from the socket. */
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (setgroups(ELEMENTSOF(groups), groups) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(126);
                _exit(child_reads_group_files(&c));
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

/* ---- a non-root caller never gets the daemon's session or terminal ---- */

/* Field n (1-based, after "pid (comm)") of /proc/PID/stat. */
static long stat_field(long pid, unsigned n) {
        char path[64];
        _cleanup_free_ char *text = NULL;
        const char *p;
        long v = -1;

        snprintf(path, sizeof path, "/proc/%li/stat", pid);
        text = test_read_file(path);
        p = strrchr(text, ')');
        cr_assert_not_null(p);
        p += 2; /* field 3 */
        for (unsigned i = 3; i < n; i++) {
                p = strchr(p, ' ');
                cr_assert_not_null(p);
                p++;
        }
        cr_assert_eq(sscanf(p, "%li", &v), 1);
        return v;
}

static int child_new_session_false(void *arg) {
        Child *c = arg;
        int conn = test_daemon_connect(&daemon_), fds[2], slave = *(const int *) c->data;
        Outcome o;

        /* no terminal at all: refused, whatever the streams are */
        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"newSession\":false", false, &o);
        TEST_CHECK(same_string(o.error, "org.varlink.service.InvalidParameter") && same_string(o.parameter, "newSession"),
              "no terminal: %s %s", o.error, o.parameter);
        fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
        fds[1] = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
        TEST_CHECK(fds[0] >= 0 && fds[1] >= 0, "open: %m");
        spawn_fds(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"newSession\":false,\"stdin\":1", fds, 2, false, &o);
        TEST_CHECK(same_string(o.error, "org.varlink.service.InvalidParameter"), "a file: %s %s", o.error, o.parameter);
        /* a character device that is no terminal: the child cannot make it the controlling one */
        spawn_fds(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"newSession\":false,\"stdin\":0", fds, 2, false, &o);
        TEST_CHECK(FAILED_AT(o, "session", ENOTTY), "/dev/null: %s %s %d", o.error, o.stage, o.errno_);

        /* a terminal of its own, on stdout: a new session with that terminal */
        fds[1] = slave;
        spawn_fds(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"newSession\":false,\"stdout\":1,\"keepAlive\":true", fds, 2,
                  false, &o);
        TEST_CHECK(!o.error[0], "own terminal: %s %s %s", o.error, o.stage, o.parameter);
        {
                struct stat st;

                TEST_CHECK(fstat(slave, &st) == 0, "fstat: %m");
                dprintf(c->out, "%s %li %lu\n", o.id, o.pid, (unsigned long) st.st_rdev);
        }
        test_disconnect(conn);
        return 0;
}

/*
 * newSession false used to leave a non-root caller's sandbox in the daemon's
 * session with its controlling terminal (TIOCSTI could type into root's
 * terminal). Now it needs the caller's own terminal and gets a new session
 * controlled by it.
 */
Test(security, new_session_false_never_shares_the_daemons_session) {
        char out[256], id[80], name[64];
        unsigned long tty;
        int master, slave;
        long pid;

        /* The pty stays open here: its master closing would hang the sandbox's terminal up. */
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 &&
                  ptsname_r(master, name, sizeof name) == 0);
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert_geq(slave, 0);

        start(NULL);
        cr_assert_eq(run_as_capture(NOBODY, NOBODY, child_new_session_false, &slave, out, sizeof out), 0);
        cr_assert_eq(sscanf(out, "%79s %li %lu", id, &pid, &tty), 3, "%s", out);

        cr_assert_eq(stat_field(pid, 6), pid, "not a session of its own");
        cr_assert_neq(stat_field(pid, 6), getsid(daemon_.pid));
        cr_assert_eq((unsigned long) stat_field(pid, 7), tty, "its controlling terminal is not the one passed");
        root_kill(id);

        /* root may still share the daemon's session */
        {
                int conn = test_daemon_connect(&daemon_);
                Outcome o;

                spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"newSession\":false,\"keepAlive\":true", false, &o);
                cr_assert(!o.error[0], "%s", o.error);
                cr_assert_eq(stat_field(o.pid, 6), getsid(daemon_.pid));
                test_disconnect(conn);
                root_kill(o.id);
        }
        close(slave);
        close(master);
}
