/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What bubblewrap's options need from the daemon, end to end against a real
 * nsboxd with raw Varlink calls, as root and as a caller that is not: the
 * namespace inode numbers in Spawn's and Exec's replies (--info-fd), and the
 * mount and process options that map onto the protocol.
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

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "sandbox-protocol.h"
#include "test-util.h"
#include "varlink-message.h"

#define OTHER_USER "nsbt-bwrap"

static TestDaemon daemon_;
static bool daemon_started;
static uid_t other_uid;
static gid_t other_gid;

static void setup(void) {
        struct passwd *pw = getpwnam(OTHER_USER);

        if (!pw) {
                cr_assert_eq(system("useradd --system --no-create-home --home-dir /nonexistent "
                                    "--shell /usr/sbin/nologin " OTHER_USER " >/dev/null 2>&1"),
                             0, "cannot create the test user " OTHER_USER);
                pw = getpwnam(OTHER_USER);
        }
        cr_assert_not_null(pw);
        other_uid = pw->pw_uid;
        other_gid = pw->pw_gid;
        test_daemon_start(&daemon_, NULL);
        daemon_started = true;
}

static void teardown(void) {
        if (daemon_started)
                test_daemon_stop(&daemon_);
        daemon_started = false;
}

TestSuite(bwrap, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers, usable in test_run_as() children too (they report on stderr and by exit status) ---- */

#define CHECK(cond, ...)                                                                         \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                            \
                        fputc('\n', stderr);                                                     \
                        return 1;                                                                \
                }                                                                                \
        } while (0)

_printf_(5, 6) static struct json_object *callf(int conn, const char *method, const int *fds, size_t n_fds,
                                                const char *format, ...) {
        char json[16384];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(json, sizeof json, format, ap);
        va_end(ap);
        return test_call(conn, method, json, fds, n_fds, NULL, NULL);
}

/* What a call answered: the id (empty on error), pid, the error and its field; the reply itself (put it). */
typedef struct Started {
        char id[80];
        long pid;
        char error[128];
        char field[128];
        char message[512];
        struct json_object *reply;
} Started;

static Started started_from(struct json_object *r) {
        struct json_object *pid = test_json_get(r, "parameters.pid");
        Started s = { .pid = pid ? (long) json_object_get_int64(pid) : -1, .reply = r };

        snprintf(s.error, sizeof s.error, "%s", test_json_string(r, "error") ?: "");
        snprintf(s.field, sizeof s.field, "%s",
                 test_json_string(r, "parameters.parameter") ?: test_json_string(r, "parameters.stage") ?: "");
        snprintf(s.message, sizeof s.message, "%s", test_json_string(r, "parameters.message") ?: "");
        if (!s.error[0])
                snprintf(s.id, sizeof s.id, "%s", test_json_string(r, "parameters.id") ?: "");
        return s;
}

static void started_done(Started *s) {
        json_object_put(s->reply);
        s->reply = NULL;
}

/* Spawn with params (members of the object, without braces) and fds. */
_printf_(4, 5) static Started spawn_with(int conn, const int *fds, size_t n_fds, const char *format, ...) {
        char params[16384];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(params, sizeof params, format, ap);
        va_end(ap);
        return started_from(callf(conn, "io.nsbox.Sandbox.Spawn", fds, n_fds, "{%s}", params));
}

typedef struct Ended {
        char state[32];
        int exit_code;
        char *out;
        char *err;
        char error[128];
} Ended;

static Ended wait_for(int conn, const char *id) {
        struct json_object *r = callf(conn, "io.nsbox.Sandbox.Wait", NULL, 0, "{\"id\":\"%s\"}", id);
        struct json_object *code = test_json_get(r, "parameters.exitCode");
        Ended e = { .exit_code = code ? json_object_get_int(code) : -1 };

        snprintf(e.state, sizeof e.state, "%s", test_json_string(r, "parameters.state") ?: "");
        snprintf(e.error, sizeof e.error, "%s", test_json_string(r, "error") ?: "");
        e.out = strdup(test_json_string(r, "parameters.stdout") ?: "");
        e.err = strdup(test_json_string(r, "parameters.stderr") ?: "");
        json_object_put(r);
        return e;
}

static void ended_done(Ended *e) {
        free(e->out);
        free(e->err);
        e->out = e->err = NULL;
}

/* Spawns sh -c script with captureOutput and more members (extra, "" or starting with ","), waits for it. */
_printf_(3, 4) _unused_ static Ended run_script(int conn, const char *script, const char *extra_format, ...) {
        char extra[12288];
        va_list ap;
        Started s;
        Ended e;

        va_start(ap, extra_format);
        (void) vsnprintf(extra, sizeof extra, extra_format, ap);
        va_end(ap);
        s = spawn_with(conn, NULL, 0, "\"argv\":[\"/bin/sh\",\"-c\",\"%s\"],\"captureOutput\":true%s", script, extra);
        if (s.error[0]) {
                e = (Ended) { .exit_code = -1, .out = strdup(""), .err = strdup(s.message) };
                snprintf(e.error, sizeof e.error, "%s %s", s.error, s.field);
                started_done(&s);
                return e;
        }
        started_done(&s);
        return wait_for(conn, s.id);
}

static uint64_t reply_inode(struct json_object *reply, const char *type) {
        char path[64];
        struct json_object *v;

        snprintf(path, sizeof path, "parameters.namespaceInodes.%s", type);
        v = test_json_get(reply, path);
        return v ? (uint64_t) json_object_get_int64(v) : 0;
}

static uint64_t proc_inode(long pid, const char *name) {
        char path[64];
        struct stat st;

        if (pid > 0)
                snprintf(path, sizeof path, "/proc/%li/ns/%s", pid, name);
        else
                snprintf(path, sizeof path, "/proc/self/ns/%s", name);
        return stat(path, &st) < 0 ? 0 : (uint64_t) st.st_ino;
}

/* Every type in the reply is the one /proc/PID/ns shows for the sandbox's process; shared ones are ours. */
static int check_inodes(struct json_object *reply, long pid, unsigned created) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                const char *name = namespace_type_to_string(t), *proc = namespace_type_to_proc_name(t);
                uint64_t got = reply_inode(reply, name), want = proc_inode(pid, proc), host = proc_inode(0, proc);

                CHECK(got != 0, "no inode for %s", name);
                CHECK(got == want, "%s: reply %llu, /proc/%li/ns/%s %llu", name, (unsigned long long) got, pid, proc,
                      (unsigned long long) want);
                if (created & NAMESPACE_BIT(t))
                        CHECK(got != host, "%s: the host's", name);
                else
                        CHECK(got == host, "%s: %llu, not the host's %llu", name, (unsigned long long) got,
                              (unsigned long long) host);
        }
        return 0;
}

/* ---- namespace inodes ---- */

static const char all_but_time[] = "\"mount\",\"uts\",\"ipc\",\"pid\",\"net\",\"cgroup\"";

Test(bwrap, spawn_and_exec_replies_name_the_namespaces) {
        int conn = test_daemon_connect(&daemon_);
        unsigned created = NAMESPACE_ALL & ~NAMESPACE_BIT(NAMESPACE_USER) & ~NAMESPACE_BIT(NAMESPACE_TIME);
        Started s = spawn_with(conn, NULL, 0, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[%s]", all_but_time);
        Started x;
        Ended e;

        cr_assert_str_empty(s.error, "%s %s %s", s.error, s.field, s.message);
        cr_assert_eq(check_inodes(s.reply, s.pid, created), 0);

        /* A process Exec starts is in the same namespaces. */
        x = started_from(callf(conn, "io.nsbox.Sandbox.Exec", NULL, 0, "{\"id\":\"%s\",\"argv\":[\"sleep\",\"1000\"]}",
                               s.id));
        cr_assert_str_empty(x.error, "%s %s", x.error, x.field);
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                cr_assert_eq(reply_inode(x.reply, namespace_type_to_string(t)),
                             reply_inode(s.reply, namespace_type_to_string(t)), "%s", namespace_type_to_string(t));
        cr_assert_eq(check_inodes(x.reply, x.pid, created), 0);

        started_done(&x);
        started_done(&s);
        test_disconnect(conn);
        (void) e;
}

/* A command that is gone before the reply is sent still gets its namespaces named (the child read them). */
Test(bwrap, inodes_of_a_command_that_exits_at_once) {
        int conn = test_daemon_connect(&daemon_);
        Started s = spawn_with(conn, NULL, 0, "\"argv\":[\"true\"],\"namespaces\":[\"net\",\"time\"]");
        Ended e;

        cr_assert_str_empty(s.error, "%s %s", s.error, s.field);
        cr_assert_neq(reply_inode(s.reply, "net"), 0);
        cr_assert_neq(reply_inode(s.reply, "net"), proc_inode(0, "net"));
        cr_assert_neq(reply_inode(s.reply, "time"), proc_inode(0, "time"));
        cr_assert_eq(reply_inode(s.reply, "mount"), proc_inode(0, "mnt"));
        e = wait_for(conn, s.id);
        cr_assert_str_eq(e.state, "exited");
        ended_done(&e);
        started_done(&s);
        test_disconnect(conn);
}

static int nonroot_inodes(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        unsigned created = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_MOUNT) | NAMESPACE_BIT(NAMESPACE_PID);
        Started s = spawn_with(conn, NULL, 0, "\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"mount\",\"pid\"]");
        int r;

        CHECK(!s.error[0], "%s %s %s", s.error, s.field, s.message);
        r = check_inodes(s.reply, s.pid, created);
        started_done(&s);
        test_disconnect(conn);
        return r;
}

Test(bwrap, inodes_for_a_caller_that_is_not_root) {
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_inodes, NULL), 0);
}
