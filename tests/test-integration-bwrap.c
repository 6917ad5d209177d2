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
        test_ensure_user(OTHER_USER, &other_uid, &other_gid);
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
        char error[300];
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
_printf_(3, 4) static Ended run_script(int conn, const char *script, const char *extra_format, ...) {
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

                TEST_CHECK(got != 0, "no inode for %s", name);
                TEST_CHECK(got == want, "%s: reply %llu, /proc/%li/ns/%s %llu", name, (unsigned long long) got, pid, proc,
                      (unsigned long long) want);
                if (created & NAMESPACE_BIT(t))
                        TEST_CHECK(got != host, "%s: the host's", name);
                else
                        TEST_CHECK(got == host, "%s: %llu, not the host's %llu", name, (unsigned long long) got,
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

        TEST_CHECK(!s.error[0], "%s %s %s", s.error, s.field, s.message);
        r = check_inodes(s.reply, s.pid, created);
        started_done(&s);
        test_disconnect(conn);
        return r;
}

Test(bwrap, inodes_for_a_caller_that_is_not_root) {
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_inodes, NULL), 0);
}

/* ---- mounts ---- */

static const char host_root[] = "{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\"}";

/* A new user namespace with the caller's own ids mapped to themselves, and a mount namespace. */
static const char *own_userns(void) {
        static char buf[256];

        snprintf(buf, sizeof buf,
                 "\"namespaces\":[\"user\",\"mount\"],\"uidMappings\":[{\"containerID\":%u,\"hostID\":%u,\"size\":1}],"
                 "\"gidMappings\":[{\"containerID\":%u,\"hostID\":%u,\"size\":1}]",
                 (unsigned) getuid(), (unsigned) getuid(), (unsigned) getgid(), (unsigned) getgid());
        return buf;
}

static void assert_ran(Ended *e, const char *want) {
        cr_assert_str_empty(e->error, "%s: %s", e->error, e->err);
        cr_assert_str_eq(e->state, "exited");
        cr_assert_eq(e->exit_code, 0, "exit %d: %s%s", e->exit_code, e->out, e->err);
        cr_assert_str_eq(e->out, want, "%s", e->out);
        ended_done(e);
}

/* "nofail" skips a source that is not there (bubblewrap's --bind-try); without it that is an error. */
Test(bwrap, nofail_skips_a_missing_source) {
        int conn = test_daemon_connect(&daemon_);
        Ended e;

        e = run_script(conn, "test -e /mnt/a && echo a; test -e /mnt/b || echo no b",
                       ",\"namespaces\":[\"mount\"],\"mounts\":[%s,"
                       "{\"type\":\"bind\",\"source\":\"/etc\",\"destination\":\"/mnt/a\",\"options\":[\"nofail\"]},"
                       "{\"type\":\"bind\",\"source\":\"/no/such/source\",\"destination\":\"/mnt/b\",\"options\":[\"nofail\",\"ro\"]}]",
                       host_root);
        assert_ran(&e, "a\nno b\n");

        e = run_script(conn, "true",
                       ",\"namespaces\":[\"mount\"],\"mounts\":[%s,"
                       "{\"type\":\"bind\",\"source\":\"/no/such/source\",\"destination\":\"/mnt/b\"}]",
                       host_root);
        cr_assert_str_eq(e.error, "io.nsbox.Sandbox.SpawnFailed mount");
        ended_done(&e);

        /* Only a bind from a path has a source that can be missing. */
        e = run_script(conn, "true", ",\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/t\","
                                     "\"options\":[\"nofail\"]}]");
        cr_assert_str_eq(e.error, "org.varlink.service.InvalidParameter mounts[0].options[0]");
        ended_done(&e);
        test_disconnect(conn);
}

/* A source the caller may not use is still an error with nofail: only absence is skipped. */
static int nonroot_nofail_denied(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Ended e = run_script(conn, "true",
                             ",%s,\"mounts\":[%s,"
                             "{\"type\":\"bind\",\"source\":\"%s\",\"destination\":\"/mnt\",\"options\":[\"nofail\"]}]",
                             own_userns(), host_root, (const char *) arg);

        TEST_CHECK(strcmp(e.error, "io.nsbox.Sandbox.SpawnFailed mount") == 0, "%s: %s", e.error, e.err);
        TEST_CHECK(strstr(e.err, "Permission denied"), "%s", e.err);
        ended_done(&e);
        test_disconnect(conn);
        return 0;
}

Test(bwrap, nofail_still_refuses_what_the_caller_cannot_reach) {
        char dir[64], inner[128];

        test_tmpdir_new("bwrap-nofail", dir, sizeof dir);
        cr_assert_eq(chmod(dir, 0700), 0);
        snprintf(inner, sizeof inner, "%s/x", dir);
        cr_assert_eq(mkdir(inner, 0755), 0);
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_nofail_denied, inner), 0);
        test_tmpdir_remove(dir);
}

/* A caller that is not root binds /dev with "dev" (bubblewrap's --dev-bind): its nodes work there, and
 * nowhere a plain bind put them. */
static int nonroot_dev_bind(void *arg) {
        int conn = test_daemon_connect(&daemon_);
#define NS ",%s,\"mounts\":[%s,{\"type\":\"bind\",\"source\":\"/dev\",\"destination\":\"/dev\"%s}]"
        Ended e;

        e = run_script(conn, "echo x > /dev/null && echo ok", NS, own_userns(), host_root, ",\"options\":[\"dev\"]");
        TEST_CHECK(!e.error[0] && e.exit_code == 0 && strcmp(e.out, "ok\n") == 0, "%s %d %s %s", e.error, e.exit_code,
              e.out, e.err);
        ended_done(&e);

        e = run_script(conn, "echo x > /dev/null || echo refused", NS, own_userns(), host_root, "");
#undef NS
        TEST_CHECK(!e.error[0] && strcmp(e.out, "refused\n") == 0, "%s %s %s", e.error, e.out, e.err);
        ended_done(&e);

        /* "dev" on anything but a bind stays root's */
        e = run_script(conn, "true", ",%s,\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/t\",\"options\":[\"dev\"]}]",
                       own_userns());
        TEST_CHECK(strcmp(e.error, "io.nsbox.Sandbox.SpawnFailed mount") == 0, "%s", e.error);
        ended_done(&e);
        test_disconnect(conn);
        return 0;
}

Test(bwrap, dev_bind_for_a_caller_that_is_not_root) {
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_dev_bind, NULL), 0);
}

static mode_t mode_of(const char *dir, const char *name) {
        char path[256];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        cr_assert_eq(stat(path, &st), 0, "%s: %m", path);
        return st.st_mode & 07777;
}

/* "mode=" on dir and tmpfs, the parents' modes derived from it, chmod in order (bubblewrap's --perms, --chmod). */
Test(bwrap, modes_and_chmod) {
        int conn = test_daemon_connect(&daemon_);
        char dir[64], existed[128];
        Ended e;

        test_tmpdir_new("bwrap-modes", dir, sizeof dir);
        snprintf(existed, sizeof existed, "%s/existed", dir);
        cr_assert_eq(mkdir(existed, 0710), 0);
        cr_assert_eq(chmod(existed, 0710), 0);

        e = run_script(conn, "stat -c %a /t; readlink /dev/core",
                       ",\"namespaces\":[\"mount\"],\"mounts\":[%s,"
                       "{\"type\":\"dir\",\"destination\":\"%s/new\",\"options\":[\"mode=1741\"]},"
                       "{\"type\":\"dir\",\"destination\":\"%s/existed\",\"options\":[\"mode=0741\"]},"
                       "{\"type\":\"dir\",\"destination\":\"%s/p750/d\",\"options\":[\"mode=0710\"]},"
                       "{\"type\":\"dir\",\"destination\":\"%s/p705\",\"options\":[\"mode=0705\"]},"
                       "{\"type\":\"dir\",\"destination\":\"%s/p705/d\",\"options\":[\"mode=0604\"]},"
                       "{\"type\":\"dir\",\"destination\":\"%s/chmodded\"},"
                       "{\"type\":\"chmod\",\"destination\":\"%s/chmodded\",\"options\":[\"mode=1755\"]},"
                       "{\"type\":\"tmpfs\",\"destination\":\"/t\",\"options\":[\"mode=01777\",\"size=1048576\"]},"
                       "{\"type\":\"dev\",\"destination\":\"/dev\"}]",
                       host_root, dir, dir, dir, dir, dir, dir, dir);
        assert_ran(&e, "1777\n/proc/kcore\n");
        cr_assert_eq(mode_of(dir, "new"), 01741);
        cr_assert_eq(mode_of(dir, "existed"), 0710);
        cr_assert_eq(mode_of(dir, "p750"), 0750); /* made on the way: 0755 narrowed as 0710 narrows it */
        cr_assert_eq(mode_of(dir, "p705"), 0705);
        cr_assert_eq(mode_of(dir, "chmodded"), 01755);

        /* chmod needs a mode and something to change */
        e = run_script(conn, "true", ",\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"chmod\",\"destination\":\"/x\"}]");
        cr_assert_str_eq(e.error, "org.varlink.service.InvalidParameter mounts[0].options");
        ended_done(&e);
        e = run_script(conn, "true", ",\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"chmod\",\"destination\":\"/x\","
                                     "\"options\":[\"mode=0755\"]}]");
        cr_assert_str_eq(e.error, "io.nsbox.Sandbox.SpawnFailed mount");
        ended_done(&e);

        test_disconnect(conn);
        test_tmpdir_remove(dir);
}

/* chmod acts with the caller's rights: not on what root owns. */
static int nonroot_chmod(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Ended e = run_script(conn, "true",
                             ",%s,\"mounts\":[%s,"
                             "{\"type\":\"chmod\",\"destination\":\"%s\",\"options\":[\"mode=0777\"]}]",
                             own_userns(), host_root, (const char *) arg);

        TEST_CHECK(strcmp(e.error, "io.nsbox.Sandbox.SpawnFailed mount") == 0, "%s", e.error);
        TEST_CHECK(strstr(e.err, "Operation not permitted"), "%s", e.err);
        ended_done(&e);
        test_disconnect(conn);
        return 0;
}

Test(bwrap, chmod_as_the_caller) {
        char dir[64];

        test_tmpdir_new("bwrap-chmod", dir, sizeof dir);
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_chmod, dir), 0);
        cr_assert_eq(mode_of(dir, "."), 0755);
        test_tmpdir_remove(dir);
}

/* bind-data replaces a file that exists, read-only when asked, with its mode (bubblewrap's --ro-bind-data). */
Test(bwrap, bind_data_over_an_existing_file) {
        int conn = test_daemon_connect(&daemon_);
        char dir[64], path[128];
        int fds[2];
        Started s;
        Ended e;

        test_tmpdir_new("bwrap-data", dir, sizeof dir);
        snprintf(path, sizeof path, "%s/f", dir);
        test_write_file(path, "host\n", 5, 0644);
        cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
        cr_assert_eq(write(fds[1], "data\n", 5), 5);
        fds[1] = safe_close(fds[1]);

        s = spawn_with(conn, fds, 1,
                       "\"argv\":[\"/bin/sh\",\"-c\",\"cat %s; stat -c %%a %s; echo x 2>/dev/null > %s || echo ro\"],"
                       "\"captureOutput\":true,\"namespaces\":[\"mount\"],\"mounts\":[%s,"
                       "{\"type\":\"bind-data\",\"sourceFileDescriptor\":0,\"destination\":\"%s\","
                       "\"options\":[\"ro\",\"mode=0640\"]}]",
                       path, path, path, host_root, path);
        cr_assert_str_empty(s.error, "%s %s %s", s.error, s.field, s.message);
        e = wait_for(conn, s.id);
        assert_ran(&e, "data\n640\nro\n");
        started_done(&s);
        safe_close(fds[0]);

        /* the host's file is untouched */
        _cleanup_free_ char *host = test_read_file(path);
        cr_assert_str_eq(host, "host\n");
        test_disconnect(conn);
        test_tmpdir_remove(dir);
}

/* ---- overlays ---- */

typedef struct Layers {
        char dir[64];
        char lower1[128], lower2[128], upper[128], work[128];
} Layers;

static void layer_file(const char *dir, const char *name, const char *text, uid_t owner) {
        char path[256];

        snprintf(path, sizeof path, "%s/%s", dir, name);
        test_write_file(path, text, strlen(text), 0644);
        cr_assert_eq(chown(path, owner, owner == 0 ? 0 : other_gid), 0);
}

/* lower1 (bottom) has a=1 b=1, lower2 has b=2; the directory names need escaping in "lowerdir=". A caller
 * other than root owns the files, as it would its own layers. */
static void layers_new(Layers *l, uid_t owner) {
        test_tmpdir_new("bwrap-overlay", l->dir, sizeof l->dir);
        snprintf(l->lower1, sizeof l->lower1, "%s/low:er 1,\\", l->dir);
        snprintf(l->lower2, sizeof l->lower2, "%s/lower2", l->dir);
        snprintf(l->upper, sizeof l->upper, "%s/upper", l->dir);
        snprintf(l->work, sizeof l->work, "%s/work", l->dir);
        cr_assert_eq(mkdir(l->lower1, 0755), 0);
        cr_assert_eq(mkdir(l->lower2, 0755), 0);
        cr_assert_eq(mkdir(l->upper, 0755), 0);
        cr_assert_eq(mkdir(l->work, 0755), 0);
        cr_assert_eq(chown(l->upper, owner, owner == 0 ? 0 : other_gid), 0);
        cr_assert_eq(chown(l->work, owner, owner == 0 ? 0 : other_gid), 0);
        /* A copy-up in a user namespace can only give the copy an owner the namespace maps. */
        layer_file(l->lower1, "a", "1", owner);
        layer_file(l->lower1, "b", "1", owner);
        layer_file(l->lower2, "b", "2", owner);
}

/* "lowerdir=" for JSON: ":" and "\" escaped for the option, then "\" and '"' for JSON. */
static void lowerdir_json(const Layers *l, char *buf, size_t size) {
        const char *dirs[] = { l->lower2, l->lower1 };
        size_t k = 0;

        for (size_t i = 0; i < 2; i++) {
                if (i > 0 && k + 1 < size)
                        buf[k++] = ':';
                for (const char *c = dirs[i]; *c && k + 5 < size; c++) {
                        if (*c == ':')
                                buf[k++] = '\\', buf[k++] = '\\';
                        if (*c == '\\') {
                                buf[k++] = '\\', buf[k++] = '\\', buf[k++] = '\\', buf[k++] = '\\';
                                continue;
                        }
                        if (*c == '"')
                                buf[k++] = '\\';
                        buf[k++] = *c;
                }
        }
        buf[k] = 0;
}

static int overlay_checks(int conn, const Layers *l, const char *userns) {
        char lower[512];
        Ended e;

        lowerdir_json(l, lower, sizeof lower);

        /* upper and work: reads from the top layer that has it, writes to upper */
        e = run_script(conn, "cat /tmp/x/y/a /tmp/x/y/b; printf 5 > /tmp/x/y/b; cat /tmp/x/y/b",
                       ",%s,\"mounts\":[%s,{\"type\":\"overlay\",\"destination\":\"/tmp/x/y\",\"options\":"
                       "[\"lowerdir=%s\",\"upperdir=%s\",\"workdir=%s\"]}]",
                       userns, host_root, lower, l->upper, l->work);
        TEST_CHECK(!e.error[0] && e.exit_code == 0, "%s %d %s", e.error, e.exit_code, e.err);
        TEST_CHECK(strcmp(e.out, "125") == 0, "%s", e.out);
        ended_done(&e);

        /* tmp-upper: writable, and what is written stays in the sandbox */
        e = run_script(conn, "printf 7 > /tmp/x/a && cat /tmp/x/a /tmp/x/b",
                       ",%s,\"mounts\":[%s,{\"type\":\"overlay\",\"destination\":\"/tmp/x\",\"options\":"
                       "[\"lowerdir=%s\",\"tmp-upper\"]}]",
                       userns, host_root, lower);
        TEST_CHECK(!e.error[0] && e.exit_code == 0 && strcmp(e.out, "72") == 0, "%s %s %s", e.error, e.out, e.err);
        ended_done(&e);

        /* read-only: two lower layers, no upper */
        e = run_script(conn, "cat /tmp/x/b; printf 9 2>/dev/null > /tmp/x/b || echo ro",
                       ",%s,\"mounts\":[%s,{\"type\":\"overlay\",\"destination\":\"/tmp/x\",\"options\":"
                       "[\"lowerdir=%s\",\"ro\"]}]",
                       userns, host_root, lower);
        TEST_CHECK(!e.error[0] && e.exit_code == 0 && strcmp(e.out, "2ro\n") == 0, "%s %s %s", e.error, e.out, e.err);
        ended_done(&e);
        return 0;
}

static void assert_host_layers(const Layers *l) {
        char path[256];
        _cleanup_free_ char *b = NULL, *a = NULL;

        snprintf(path, sizeof path, "%s/b", l->upper);
        b = test_read_file(path);
        cr_assert_str_eq(b, "5");
        snprintf(path, sizeof path, "%s/a", l->lower1);
        a = test_read_file(path);
        cr_assert_str_eq(a, "1");
        snprintf(path, sizeof path, "%s/a", l->upper);
        cr_assert_neq(access(path, F_OK), 0, "tmp-upper wrote to the host");
}

Test(bwrap, overlays) {
        int conn = test_daemon_connect(&daemon_);
        Layers l;
        Ended e;

        layers_new(&l, 0);
        cr_assert_eq(overlay_checks(conn, &l, "\"namespaces\":[\"mount\"]"), 0);
        assert_host_layers(&l);

        /* one lower layer and nothing to write to is no overlay */
        e = run_script(conn, "true", ",\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\","
                                     "\"options\":[\"lowerdir=/usr\"]}]");
        cr_assert_str_eq(e.error, "org.varlink.service.InvalidParameter mounts[0].options");
        ended_done(&e);
        test_disconnect(conn);
        test_tmpdir_remove(l.dir);
}

static int nonroot_overlays(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        int r = overlay_checks(conn, arg, own_userns());
        Ended e;

        /* without a user namespace overlayfs would act as the daemon */
        e = run_script(conn, "true", ",\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\","
                                     "\"options\":[\"lowerdir=/usr:/etc\"]}]");
        TEST_CHECK(strcmp(e.error, "io.nsbox.Sandbox.SpawnFailed mount") == 0, "%s", e.error);
        TEST_CHECK(strstr(e.err, "user namespace"), "%s", e.err);
        ended_done(&e);
        test_disconnect(conn);
        return r;
}

Test(bwrap, overlays_for_a_caller_that_is_not_root) {
        Layers l;

        layers_new(&l, other_uid);
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_overlays, &l), 0);
        assert_host_layers(&l);
        test_tmpdir_remove(l.dir);
}

/* ---- bubblewrap's --as-pid-1 ---- */

/* init false with a new pid namespace: the command is pid 1 there; what it leaves behind is not reaped. */
Test(bwrap, command_as_pid_1) {
        int conn = test_daemon_connect(&daemon_);
        Ended e;

        e = run_script(conn, "echo $$; sleep 0 & wait; ps -o pid= -p 1 >/dev/null 2>&1; echo done",
                       ",\"namespaces\":[\"mount\",\"pid\"],\"init\":false,\"mounts\":[%s,"
                       "{\"type\":\"proc\",\"destination\":\"/proc\"}]",
                       host_root);
        assert_ran(&e, "1\ndone\n");

        /* with the default init the command is not pid 1 */
        e = run_script(conn, "echo $$", ",\"namespaces\":[\"pid\"]");
        assert_ran(&e, "2\n");
        test_disconnect(conn);
}

/* A caller that is not root gets the same: nothing of the policy depends on the init. */
static int nonroot_as_pid_1(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Ended e = run_script(conn, "echo $$",
                             ",\"namespaces\":[\"user\",\"pid\"],\"init\":false,"
                             "\"uidMappings\":[{\"containerID\":%u,\"hostID\":%u,\"size\":1}],"
                             "\"gidMappings\":[{\"containerID\":%u,\"hostID\":%u,\"size\":1}]",
                             (unsigned) getuid(), (unsigned) getuid(), (unsigned) getgid(), (unsigned) getgid());

        TEST_CHECK(!e.error[0] && strcmp(e.out, "1\n") == 0, "%s %s %s", e.error, e.out, e.err);
        ended_done(&e);
        test_disconnect(conn);
        return 0;
}

Test(bwrap, command_as_pid_1_for_a_caller_that_is_not_root) {
        cr_assert_eq(test_run_as(other_uid, other_gid, nonroot_as_pid_1, NULL), 0);
}

/* ---- argv0 ---- */

/* argv0 is what the program sees; argv[0] still names what runs (searched in PATH), odd bytes and all. */
Test(bwrap, argv0_is_what_the_program_sees) {
        static const char *const names[][2] = {
                { "-odd\\u0001 name", "-odd\x01 name -c tr " },
                { "", " -c tr " },
        };
        int conn = test_daemon_connect(&daemon_);

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                Started s = spawn_with(conn, NULL, 0,
                                       "\"argv\":[\"sh\",\"-c\",\"tr '\\\\0' ' ' </proc/$$/cmdline; echo\",\"x\"],"
                                       "\"argv0\":\"%s\",\"captureOutput\":true",
                                       names[i][0]);
                Ended e;

                cr_assert_str_empty(s.error, "%s %s %s", s.error, s.field, s.message);
                e = wait_for(conn, s.id);
                started_done(&s);
                cr_assert(strncmp(e.out, names[i][1], strlen(names[i][1])) == 0, "%s", e.out);
                ended_done(&e);
        }
        test_disconnect(conn);
}

/* ---- lockFiles ---- */

/* 1 if another process holds a lock that keeps a write lock on path out, 0 if not, -errno. */
static int lock_is_held(const char *path) {
        struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (fcntl(fd, F_GETLK, &l) < 0)
                return -errno;
        return l.l_type != F_UNLCK;
}

static bool lock_is_free(void *path) {
        return lock_is_held(path) == 0;
}

/*
 * The init holds the lock while the sandbox lives, without a pid namespace too, and lets it go with it: at once
 * where init exec'd nsbox-init; killed before that, once its spawn worker let go of the fd table init shared
 * with it (spawn-worker.c), right after.
 */
Test(bwrap, lock_files_are_held_by_init) {
        static const char *const shapes[] = { "\"init\":true", "\"namespaces\":[\"pid\"]" };
        int conn = test_daemon_connect(&daemon_);
        char dir[64], lock[128];

        test_tmpdir_new("bwrap-lock", dir, sizeof dir);
        snprintf(lock, sizeof lock, "%s/lock", dir);
        cr_assert_eq(close(open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);

        for (size_t i = 0; i < ELEMENTSOF(shapes); i++) {
                Started s = spawn_with(conn, NULL, 0, "\"argv\":[\"sleep\",\"1000\"],%s,\"lockFiles\":[\"%s\"]",
                                       shapes[i], lock);
                struct json_object *r;
                Ended e;

                cr_assert_str_empty(s.error, "%s %s %s", s.error, s.field, s.message);
                cr_assert_eq(lock_is_held(lock), 1, "%s", shapes[i]);
                r = callf(conn, "io.nsbox.Sandbox.Kill", NULL, 0, "{\"id\":\"%s\",\"signal\":9}", s.id);
                json_object_put(r);
                e = wait_for(conn, s.id);
                ended_done(&e);
                started_done(&s);
                cr_assert(test_wait_until(lock_is_free, lock), "%s", shapes[i]);
        }
        test_disconnect(conn);
}

/* What cannot be opened or locked fails the spawn by name; a FIFO does not hold the init up at open(). */
Test(bwrap, lock_files_that_cannot_be_taken) {
        int conn = test_daemon_connect(&daemon_);
        char dir[64], fifo[128], lock[128];
        Started s;
        int fd;

        test_tmpdir_new("bwrap-lock", dir, sizeof dir);
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        snprintf(lock, sizeof lock, "%s/lock", dir);
        cr_assert_eq(mkfifo(fifo, 0644), 0);

        s = spawn_with(conn, NULL, 0, "\"argv\":[\"true\"],\"init\":true,\"lockFiles\":[\"/nonexistent\"]");
        cr_assert_str_eq(s.error, "io.nsbox.Sandbox.SpawnFailed");
        cr_assert_str_eq(s.field, "lock-file");
        cr_assert_str_eq(s.message, "/nonexistent: No such file or directory");
        started_done(&s);

        s = spawn_with(conn, NULL, 0, "\"argv\":[\"true\"],\"init\":true,\"lockFiles\":[\"%s\"]", fifo);
        cr_assert(strcmp(s.field, "timeout") != 0, "%s", s.message);
        started_done(&s);

        /* A write lock held elsewhere: the init does not wait for it. */
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        cr_assert_eq(fcntl(fd, F_SETLK, &(struct flock) { .l_type = F_WRLCK, .l_whence = SEEK_SET }), 0);
        s = spawn_with(conn, NULL, 0, "\"argv\":[\"true\"],\"init\":true,\"lockFiles\":[\"%s\"]", lock);
        cr_assert_str_eq(s.field, "lock-file", "%s %s", s.error, s.message);
        started_done(&s);
        close(fd);
        test_disconnect(conn);
}

/* ---- mounts in a joined user namespace (bubblewrap's --userns) ---- */

/*
 * A caller that is not root joins the user namespace of its own sandbox and builds a tree there: it
 * works as it does under `nsenter --user` and `unshare -m`, with the caller's own rights on files and
 * nothing of root's.
 */
static int joined_userns_mounts(void *arg) {
        const char *dir = arg;
        int conn = test_daemon_connect(&daemon_), userns;
        char path[64], made[128];
        Started a, s;
        Ended e;
        struct stat st;

        a = spawn_with(conn, NULL, 0, "\"argv\":[\"sleep\",\"1000\"],%s", own_userns());
        TEST_CHECK(!a.error[0], "%s %s", a.error, a.message);
        snprintf(path, sizeof path, "/proc/%ld/ns/user", a.pid);
        userns = open(path, O_RDONLY | O_CLOEXEC);
        TEST_CHECK(userns >= 0, "%s: %m", path);

        /* a tree of host binds, a tmpfs and a directory made on a host tree: the caller's */
        snprintf(made, sizeof made, "%s/made/d", dir);
        s = spawn_with(conn, &userns, 1,
                       "\"argv\":[\"sh\",\"-c\",\"test -d %s && cat /etc/hostname >/mnt/h && "
                       "! cat /etc/shadow 2>/mnt/err && echo ok\"],\"captureOutput\":true,"
                       "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],\"namespaces\":[\"mount\"],"
                       "\"user\":{\"uid\":%u,\"gid\":%u},"
                       "\"mounts\":[%s,{\"type\":\"tmpfs\",\"destination\":\"/mnt\"},"
                       "{\"type\":\"dir\",\"destination\":\"%s\"}]",
                       made, (unsigned) getuid(), (unsigned) getgid(), host_root, made);
        TEST_CHECK(!s.error[0], "%s %s %s", s.error, s.field, s.message);
        e = wait_for(conn, s.id);
        TEST_CHECK(strcmp(e.out, "ok\n") == 0, "%s %s", e.out, e.err);
        ended_done(&e);
        started_done(&s);
        snprintf(made, sizeof made, "%s/made", dir);
        TEST_CHECK(stat(made, &st) == 0 && st.st_uid == getuid(), "%s is not the caller's", made);

        /* what the caller cannot read it cannot bind either, and a file it cannot read stays closed */
        s = spawn_with(conn, &userns, 1,
                       "\"argv\":[\"true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                       "\"namespaces\":[\"mount\"],\"user\":{\"uid\":%u,\"gid\":%u},"
                       "\"mounts\":[{\"type\":\"bind\",\"source\":\"/root\",\"destination\":\"/\"}]",
                       (unsigned) getuid(), (unsigned) getgid());
        TEST_CHECK(strcmp(s.field, "mount") == 0 && strstr(s.message, "Permission denied"), "%s %s %s", s.error,
                   s.field, s.message);
        started_done(&s);
        s = spawn_with(conn, &userns, 1,
                       "\"argv\":[\"true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                       "\"namespaces\":[\"mount\"],\"user\":{\"uid\":%u,\"gid\":%u},"
                       "\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/\"},"
                       "{\"type\":\"bind\",\"source\":\"/etc/shadow\",\"destination\":\"/shadow\"}]",
                       (unsigned) getuid(), (unsigned) getgid());
        TEST_CHECK(strcmp(s.field, "mount") == 0 && strstr(s.message, "Permission denied"), "%s %s %s", s.error,
                   s.field, s.message);
        started_done(&s);

        /* a bind from an fd would not be locked in that namespace */
        s = spawn_with(conn, (int[]) { userns, userns }, 2,
                       "\"argv\":[\"true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                       "\"namespaces\":[\"mount\"],\"user\":{\"uid\":%u,\"gid\":%u},"
                       "\"mounts\":[{\"type\":\"bind\",\"sourceFileDescriptor\":1,\"destination\":\"/\"}]",
                       (unsigned) getuid(), (unsigned) getgid());
        TEST_CHECK(s.error[0] && strstr(s.message, "cannot be locked"), "%s %s %s", s.error, s.field, s.message);
        started_done(&s);

        close(userns);
        started_done(&a);
        test_disconnect(conn);
        return 0;
}

Test(bwrap, mounts_in_a_joined_user_namespace_for_a_caller_that_is_not_root) {
        char dir[64];

        test_tmpdir_new("bwrap-joined", dir, sizeof dir);
        cr_assert_eq(chmod(dir, 01777), 0);
        cr_assert_eq(test_run_as(other_uid, other_gid, joined_userns_mounts, dir), 0);
}

/* ---- blockFileDescriptor ---- */

/* The sandbox reads one byte of it before the command runs: "XY" in the pipe leaves "Y" for the command. */
Test(bwrap, block_fd_is_read_before_the_command) {
        int conn = test_daemon_connect(&daemon_), p[2];
        Started s;
        Ended e;

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(write(p[1], "XY", 2), 2);
        close(p[1]);
        s = spawn_with(conn, (int[]) { p[0], p[0] }, 2,
                       "\"argv\":[\"cat\"],\"captureOutput\":true,\"blockFileDescriptor\":0,"
                       "\"stdin\":1");
        cr_assert_str_empty(s.error, "%s %s %s", s.error, s.field, s.message);
        e = wait_for(conn, s.id);
        cr_assert_str_eq(e.out, "Y");
        ended_done(&e);
        started_done(&s);
        close(p[0]);
        test_disconnect(conn);
}

/* While one spawn waits for its fd, the daemon answers everyone else; the spawn goes on once the fd reads. */
Test(bwrap, block_fd_wait_is_not_the_daemons) {
        int conn = test_daemon_connect(&daemon_), p[2], status;
        pid_t pid;
        Ended e;

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int c = test_daemon_connect(&daemon_);
                Started s = spawn_with(c, &p[0], 1, "\"argv\":[\"true\"],\"blockFileDescriptor\":0");

                _exit(s.error[0] ? 1 : 0);
        }
        close(p[0]);

        /* the waiting spawn is listed as starting, and another one runs meanwhile */
        for (int i = 0; i < 600; i++) {
                struct json_object *r = callf(conn, "io.nsbox.Sandbox.List", NULL, 0, "{}");
                struct json_object *list = test_json_get(r, "parameters.sandboxes");
                struct json_object *first = list ? json_object_array_get_idx(list, 0) : NULL;
                const char *state = first ? test_json_string(first, "state") : NULL;
                bool starting = state && strcmp(state, "starting") == 0;

                json_object_put(r);
                if (starting)
                        break;
                usleep(50 * 1000);
        }
        e = run_script(conn, "echo served", "%s", "");
        assert_ran(&e, "served\n");

        cr_assert_eq(write(p[1], "x", 1), 1);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the blocked spawn failed");
        close(p[1]);
        test_disconnect(conn);
}
