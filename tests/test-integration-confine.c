/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Confinement end to end: a real nsboxd, system call filters (OCI profiles,
 * the default profile, callers' classic-BPF programs), capability sets of
 * the command and of the init as /proc shows them, --disable-userns, and bad
 * input named before anything is created. Root and non-root callers
 * (nobody, through test_run_as()).
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "test-util.h"
#include "varlink-message.h"

#define NOBODY 65534

static TestDaemon daemon_;
static bool daemon_started;
static char work[64];

static void setup(void) {
        strcpy(work, "/tmp/nsbox-test-confine-XXXXXX");
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

TestSuite(confine, .init = setup, .fini = teardown, .timeout = 120);

static void start(const char *const *args) {
        test_daemon_start(&daemon_, args);
        daemon_started = true;
}

typedef struct Outcome {
        char error[128];
        char parameter[128];
        char id[80];
        long pid;
        char output[8192];
} Outcome;

/* Spawns {params} with fds at indexes 0..n-1; with capture the sandbox's stdout (index n) is read to EOF. */
static void spawn_fds(int conn, const char *params, const int *fds, size_t n_fds, bool capture, Outcome *o) {
        _cleanup_free_ char *json = NULL;
        int pipefd[2] = { -1, -1 }, all[8];
        _cleanup_free_ int *rfds = NULL;
        size_t n_rfds = 0, n_all = 0;
        struct json_object *reply, *v;

        memset(o, 0, sizeof *o);
        for (size_t i = 0; i < n_fds; i++)
                all[n_all++] = fds[i];
        if (capture) {
                cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
                all[n_all++] = pipefd[1];
                cr_assert_geq(asprintf(&json, "{%s,\"stdout\":%zu}", params, n_fds), 0);
        } else
                cr_assert_geq(asprintf(&json, "{%s}", params), 0);
        reply = test_call(conn, "io.nsbox.Sandbox.Spawn", json, n_all > 0 ? all : NULL, n_all, &rfds, &n_rfds);
        snprintf(o->error, sizeof o->error, "%s", test_json_string(reply, "error") ?: "");
        snprintf(o->parameter, sizeof o->parameter, "%s", test_json_string(reply, "parameters.parameter") ?: "");
        snprintf(o->id, sizeof o->id, "%s", test_json_string(reply, "parameters.id") ?: "");
        v = test_json_get(reply, "parameters.pid");
        o->pid = v ? (long) json_object_get_int64(v) : -1;
        json_object_put(reply);
        for (size_t i = 0; i < n_rfds; i++)
                close(rfds[i]);

        if (capture) {
                size_t total = 0;
                ssize_t n;

                close(pipefd[1]);
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

/* Waits for the sandbox to end: its state and signal (or exit code as text). */
static void wait_end(int conn, const char *id, char *state, size_t state_size, char *how, size_t how_size) {
        char json[256];
        struct json_object *r, *v;

        snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
        r = test_call(conn, "io.nsbox.Sandbox.Wait", json, NULL, 0, NULL, NULL);
        snprintf(state, state_size, "%s", test_json_string(r, "parameters.state") ?: "?");
        v = test_json_get(r, "parameters.exitCode");
        if (v)
                snprintf(how, how_size, "%d", json_object_get_int(v));
        else
                snprintf(how, how_size, "%s", test_json_string(r, "parameters.signal") ?: "?");
        json_object_put(r);
}

static void kill_sandbox(const char *id) {
        int conn = test_daemon_connect(&daemon_);
        char json[256], state[32], how[32];

        snprintf(json, sizeof json, "{\"id\":\"%s\",\"signal\":9}", id);
        json_object_put(test_call(conn, "io.nsbox.Sandbox.Kill", json, NULL, 0, NULL, NULL));
        wait_end(conn, id, state, sizeof state, how, sizeof how);
        test_disconnect(conn);
}

/* What follows key (and a ':' where colon) on its line of /proc/PID/file, blanks skipped, or "" if no line
 * starts with it. */
static void proc_line(long pid, const char *file, const char *key, bool colon, char *buf, size_t size) {
        char path[64], line[512];
        size_t len = strlen(key);
        FILE *f;

        snprintf(path, sizeof path, "/proc/%li/%s", pid, file);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        buf[0] = 0;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, key, len) == 0 && (!colon || line[len] == ':')) {
                        char *v = line + len + colon;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = 0;
                        snprintf(buf, size, "%s", v);
                        break;
                }
        fclose(f);
}

/* "Name:\tvalue" of /proc/PID/status, or "" if the line is missing. */
static void proc_status(long pid, const char *name, char *buf, size_t size) {
        proc_line(pid, "status", name, true, buf, size);
}

/* The one child of pid (the command under init), waiting until the init has started it. */
static long only_child(long pid) {
        char path[96], buf[64];

        snprintf(path, sizeof path, "/proc/%li/task/%li/children", pid, pid);
        for (int i = 0; i < 2000; i++) {
                FILE *f = fopen(path, "re");
                long child = -1;

                cr_assert_not_null(f, "%s: %m", path);
                if (fgets(buf, sizeof buf, f))
                        child = strtol(buf, NULL, 10);
                fclose(f);
                if (child > 0)
                        return child;
                usleep(5000);
        }
        cr_assert_fail("pid %li never started its command", pid);
        return -1;
}

/* Waits until pid runs a program other than the daemon's (it has exec'd). */
static void wait_exec(long pid, const char *comm) {
        char path[64], buf[64];

        snprintf(path, sizeof path, "/proc/%li/comm", pid);
        for (int i = 0; i < 2000; i++) {
                FILE *f = fopen(path, "re");

                if (f && fgets(buf, sizeof buf, f) && strncmp(buf, comm, strlen(comm)) == 0) {
                        fclose(f);
                        return;
                }
                if (f)
                        fclose(f);
                usleep(5000);
        }
        cr_assert_fail("pid %li never became %s", pid, comm);
}

/* Until the status line name of pid says value: init confines itself once the command runs, and the spawn
 * may be answered before. */
static void wait_status(long pid, const char *name, const char *value) {
        char v[64];

        for (int i = 0; i < 2000; i++) {
                proc_status(pid, name, v, sizeof v);
                if (streq(v, value))
                        return;
                usleep(5000);
        }
        cr_assert_fail("pid %li: %s is %s, never %s", pid, name, v, value);
}

static uint64_t proc_status_hex(long pid, const char *name) {
        char v[64];

        proc_status(pid, name, v, sizeof v);
        return strtoull(v, NULL, 16);
}

static uint64_t all_caps(void) {
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        unsigned last = 0;

        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%u", &last), 1);
        fclose(f);
        return last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
}

/* A classic-BPF program from libseccomp: two system calls fail with error, everything else is allowed. */
static int bpf_program_fd(const char *name, const char *name2, int error) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int fd;

        cr_assert_not_null(ctx);
        cr_assert_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(error), seccomp_syscall_resolve_name(name), 0), 0);
        cr_assert_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(error), seccomp_syscall_resolve_name(name2), 0), 0);
        fd = memfd_create("bpf", MFD_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(seccomp_export_bpf(ctx, fd), 0);
        seccomp_release(ctx);
        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

#define MKDIR_EPERM                                                                                   \
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","     \
        "\"mkdirat\",\"no_such_call_anywhere\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}"

#define NOBODY_ROOT_MAPS                                                                       \
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}],"                    \
        "\"gidMappings\":[{\"containerID\":0,\"hostID\":65534,\"size\":1}]"

/* ---- system call filters ---- */

Test(confine, profile_makes_mkdir_fail_and_the_rest_works) {
        char params[2048];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/sh\",\"-c\",\"mkdir %s/made 2>&1; echo rc=$?; echo piped | tr a-z A-Z; ls -d %s\"],"
                 MKDIR_EPERM, work, work);
        spawn(conn, params, true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Operation not permitted"), "%s", o.output);
        cr_assert(strstr(o.output, "rc=1\nPIPED\n"), "%s", o.output);
        cr_assert(strstr(o.output, work), "%s", o.output);

        /* the same without the profile does make the directory: the check above can fail */
        snprintf(params, sizeof params, "\"argv\":[\"/bin/mkdir\",\"%s/made\"]", work);
        spawn(conn, params, true, &o);
        cr_assert_str_empty(o.error);
        snprintf(params, sizeof params, "%s/made", work);
        cr_assert_eq(access(params, F_OK), 0);
        test_disconnect(conn);
}

/* The filters init hands to nsbox-init pass through a pipe: a file-size limit of 0, which the caller may set,
 * does not stop init (or end the sandbox with 127 once the command ran). */
Test(confine, init_loads_its_filters_under_a_file_size_limit_of_0) {
        char state[32], how[32];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        spawn(conn,
              "\"argv\":[\"/bin/sleep\",\"0.2\"],\"namespaces\":[\"pid\"],"
              "\"rlimits\":[{\"type\":\"RLIMIT_FSIZE\",\"soft\":0,\"hard\":0}]," MKDIR_EPERM,
              false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        wait_end(conn, o.id, state, sizeof state, how, sizeof how);
        cr_assert_str_eq(state, "exited");
        cr_assert_str_eq(how, "0", "init failed after the command started: exit status %s", how);
        test_disconnect(conn);
}

/* "Max open files" soft and hard of /proc/PID/limits. */
static void proc_nofile(long pid, char *buf, size_t size) {
        unsigned long soft, hard;
        char v[128];

        proc_line(pid, "limits", "Max open files", false, v, sizeof v);
        cr_assert_eq(sscanf(v, "%lu %lu", &soft, &hard), 2, "%s", v);
        snprintf(buf, size, "%lu %lu", soft, hard);
}

/*
 * nsbox-init's memory is its own and the sandbox's user namespace its mm's: a command with CAP_SYS_PTRACE
 * there could attach to it. It must hold the command's filters before anything of the sandbox runs (the
 * answer waits for the command's exec, which waits for them), and the command's fd limit.
 */
Test(confine, nsbox_init_is_confined_before_the_command_runs) {
        char init_filters[32], command_filters[32], limits[64];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        for (int i = 0; i < 5; i++) {
                long command;

                spawn(conn,
                      "\"argv\":[\"/bin/sleep\",\"1000\"],\"namespaces\":[\"pid\"],"
                      "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":20}]," MKDIR_EPERM,
                      false, &o);
                cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
                /* read at once: what the command could do right after its exec, init must be under */
                proc_status(o.pid, "Seccomp_filters", init_filters, sizeof init_filters);
                command = only_child(o.pid);
                proc_status(command, "Seccomp_filters", command_filters, sizeof command_filters);
                cr_assert_str_eq(init_filters, command_filters, "init %s, command %s", init_filters,
                                 command_filters);
                cr_assert_str_neq(init_filters, "0");
                proc_nofile(o.pid, limits, sizeof limits);
                cr_assert_str_eq(limits, "10 20", "init's fd limit: %s", limits);
                proc_nofile(command, limits, sizeof limits);
                cr_assert_str_eq(limits, "10 20", "the command's fd limit: %s", limits);
                kill_sandbox(o.id);
        }
        test_disconnect(conn);
}

/* A sandbox others join ("a pod"): root of its own user namespace, with a pid namespace; ret_fds its user and
 * pid namespaces, open, for joinNamespaces at indexes 0 and 1. */
static void spawn_pod(int conn, Outcome *ret, int ret_fds[static 2]) {
        static const char *const types[] = { "user", "pid" };
        char path[64];

        spawn(conn, "\"argv\":[\"/bin/sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\"],\"keepAlive\":true,"
                    NOBODY_ROOT_MAPS, false, ret);
        cr_assert_str_empty(ret->error, "%s %s", ret->error, ret->parameter);
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                snprintf(path, sizeof path, "/proc/%li/ns/%s", ret->pid, types[i]);
                ret_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                cr_assert_geq(ret_fds[i], 0, "%s: %m", path);
        }
}

/* Spawns /bin/true with params (more Spawn parameters) in a pod's user and pid namespaces, as a sandbox joining
 * them; the pod is killed after. */
static void spawn_in_pod(int conn, const char *params, Outcome *o) {
        _cleanup_free_ char *json = NULL;
        Outcome pod;
        int fds[2];

        spawn_pod(conn, &pod, fds);
        cr_assert_geq(asprintf(&json,
                               "\"argv\":[\"/bin/true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0},"
                               "{\"type\":\"pid\",\"fileDescriptor\":1}],%s",
                               params),
                      0);
        spawn_fds(conn, json, fds, 2, false, o);
        close_many(fds, 2);
        kill_sandbox(pod.id);
}

/* The command waits for init to be confined, told by a byte on a pipe: a filter on close() neither holds the
 * spawn until its timeout nor starts the command early. Where nothing of init's needs the close, the
 * sandbox runs; where init must close its copy of the report pipe (it stays the daemon's fork), a close
 * that fails fails the spawn at once. */
Test(confine, a_filter_on_close_does_not_hold_the_spawn) {
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        spawn(conn,
              "\"argv\":[\"/bin/true\"],\"namespaces\":[\"pid\"],"
              "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"close\","
              "\"close_range\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
              false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);

        /* The same where init stays the daemon's fork (a joined user namespace), with a filter that answers
         * EBADF, as if the fds were closed already. */
        spawn_in_pod(conn,
                     "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"close\","
                     "\"close_range\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":9}]}",
                     &o);
        cr_assert_str_not_empty(o.error);
        cr_assert_null(strstr(o.parameter, "timeout"), "%s %s", o.error, o.parameter);
        cr_assert_null(strstr(o.error, "Timeout"), "%s %s", o.error, o.parameter);

        /* A close() faked to succeed without closing cannot hold the command either: it starts on a byte. */
        spawn(conn,
              "\"argv\":[\"/bin/true\"],\"namespaces\":[\"pid\"],"
              "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"close\"],"
              "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":0}]}",
              false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        spawn_in_pod(conn,
                     "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"close\"],"
                     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":0}]}",
                     &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        test_disconnect(conn);
}

/* A program the kernel refuses to load (an opcode classic BPF does not have), as an fd to send. */
static int bad_program_fd(void) {
        static const uint64_t bad = 0xffff; /* code 0xffff, jt 0, jf 0, k 0 */
        int fds[2];

        cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
        cr_assert_eq(write(fds[1], &bad, sizeof bad), (ssize_t) sizeof bad);
        close(fds[1]);
        return fds[0];
}

/* Spawns params with a program that does not load as seccompFileDescriptors[0] (fds[0], after which the rest
 * of fds): the answer names it, whichever process loads it. */
static void expect_program_named(int conn, const char *params, const int *fds, size_t n_fds) {
        _cleanup_free_ char *json = NULL;
        struct json_object *r;
        int all[4] = { bad_program_fd() };

        for (size_t i = 0; i < n_fds; i++)
                all[1 + i] = fds[i];
        cr_assert_geq(asprintf(&json, "{\"argv\":[\"/bin/true\"],\"seccompFileDescriptors\":[0],%s}", params), 0);
        r = test_call(conn, "io.nsbox.Sandbox.Spawn", json, all, 1 + n_fds, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.SpawnFailed", "%s: %s", params,
                         json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "seccomp", "%s: %s", params,
                         json_object_to_json_string(r));
        cr_assert(strstr(test_json_string(r, "parameters.message"), "seccompFileDescriptors[0]"), "%s: %s", params,
                  json_object_to_json_string(r));
        json_object_put(r);
        close(all[0]);
}

/* A program the kernel refuses is named in the answer whether the command loads it, nsbox-init (a pid
 * namespace) or init as the daemon's fork (a joined user namespace), not "exited with status 127". */
Test(confine, a_program_that_does_not_load_is_named_whoever_loads_it) {
        Outcome pod;
        int conn, fds[2];

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        expect_program_named(conn, "\"namespaces\":[]", NULL, 0);
        expect_program_named(conn, "\"namespaces\":[\"pid\"]", NULL, 0);
        expect_program_named(conn, "\"namespaces\":[\"user\",\"pid\",\"mount\"]," NOBODY_ROOT_MAPS, NULL, 0);
        spawn_pod(conn, &pod, fds);
        expect_program_named(conn,
                             "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":1},"
                             "{\"type\":\"pid\",\"fileDescriptor\":2}]",
                             fds, 2);
        close_many(fds, 2);
        kill_sandbox(pod.id);
        test_disconnect(conn);
}

static bool no_live_child(void *userdata) {
        return test_daemon_count_children(userdata) == 0;
}

/* A program before the one that does not load can fail init's wait for the command (wait4 and waitid fail
 * with EINTR, which init, blocking every signal, never gets otherwise): the spawn is still answered, naming
 * the one that did not load if the command could say it first (init does not wait again), and nothing of it
 * is left running, listed or not. */
Test(confine, a_filter_failing_inits_wait_leaves_nothing_running) {
        struct json_object *r;
        int conn, fds[2];

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        fds[0] = bpf_program_fd("wait4", "waitid", EINTR);
        fds[1] = bad_program_fd();
        r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                      "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"pid\"],\"keepAlive\":true,"
                      "\"seccompFileDescriptors\":[0,1]}",
                      fds, 2, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.SpawnFailed", "%s",
                         json_object_to_json_string(r));
        if (streq(test_json_string(r, "parameters.stage"), "seccomp"))
                cr_assert(strstr(test_json_string(r, "parameters.message"), "seccompFileDescriptors[1]"), "%s",
                          json_object_to_json_string(r));
        else
                cr_assert_str_eq(test_json_string(r, "parameters.stage"), "exited", "%s", json_object_to_json_string(r));
        json_object_put(r);
        close_many(fds, 2);
        cr_assert(test_wait_until(no_live_child, &daemon_), "a failed spawn left %d processes running",
                  test_daemon_count_children(&daemon_));

        /* Loaded, the same with exit_group and exit failing too, for a command that runs: init cannot
         * supervise it, nor exit as a libc would (musl's loops on the call), and neither holds it. */
        fds[0] = bpf_program_fd("wait4", "waitid", EINTR);
        fds[1] = bpf_program_fd("exit_group", "exit", EPERM);
        r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                      "{\"argv\":[\"/bin/sleep\",\"1000\"],\"namespaces\":[\"pid\"],\"keepAlive\":true,"
                      "\"seccompFileDescriptors\":[0,1]}",
                      fds, 2, NULL, NULL);
        json_object_put(r);
        close_many(fds, 2);
        cr_assert(test_wait_until(no_live_child, &daemon_), "a sandbox whose init cannot work left %d processes",
                  test_daemon_count_children(&daemon_));

        /* And a read of its filters failing with EINTR, or its reaping with ECHILD, which it never gets but by a
         * filter. */
        for (int i = 0; i < 2; i++) {
                int fd = i == 0 ? bpf_program_fd("read", "readv", EINTR) : bpf_program_fd("waitid", "wait4", ECHILD);

                r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                              "{\"argv\":[\"/bin/sleep\",\"1000\"],\"namespaces\":[\"pid\"],\"keepAlive\":true,"
                              "\"seccompFileDescriptors\":[0]}",
                              &fd, 1, NULL, NULL);
                json_object_put(r);
                close(fd);
                cr_assert(test_wait_until(no_live_child, &daemon_), "case %d left %d processes", i,
                          test_daemon_count_children(&daemon_));
        }
        test_disconnect(conn);
}

/* The last pid of the "NSpid:" line of /proc/PID/status: pid as its innermost pid namespace numbers it. */
static long innermost_pid(long pid) {
        char v[128], *last;

        proc_status(pid, "NSpid", v, sizeof v);
        last = strrchr(v, '\t') ?: strrchr(v, ' ') ?: v;
        return strtol(last, NULL, 10);
}

/*
 * A sandbox that joins another's user namespace starts among processes that may hold CAP_SYS_PTRACE there,
 * and do not wait for its init to be confined: its init stays where none of them may attach to it, before
 * and after it loaded its filters.
 */
Test(confine, an_init_in_a_joined_user_namespace_is_out_of_reach) {
        char params[1024], state[32], how[32];
        int conn, fds[2];
        Outcome pod, joined, attacker;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        spawn_pod(conn, &pod, fds);

        spawn_fds(conn,
                  "\"argv\":[\"/bin/sleep\",\"1000\"],\"keepAlive\":true,"
                  "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0},"
                  "{\"type\":\"pid\",\"fileDescriptor\":1}]," MKDIR_EPERM,
                  fds, 2, false, &joined);
        cr_assert_str_empty(joined.error, "%s %s", joined.error, joined.parameter);

        /* root of the pod's user namespace, with every capability there, tries PTRACE_ATTACH (16) */
        snprintf(params, sizeof params,
                 "\"argv\":[\"python3\",\"-c\",\"import ctypes, sys; libc = ctypes.CDLL(None); "
                 "sys.exit(0 if libc.ptrace(16, %li, 0, 0) == 0 else 3)\"],"
                 "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0},"
                 "{\"type\":\"pid\",\"fileDescriptor\":1}]",
                 innermost_pid(joined.pid));
        spawn_fds(conn, params, fds, 2, false, &attacker);
        close_many(fds, 2);
        cr_assert_str_empty(attacker.error, "%s %s", attacker.error, attacker.parameter);
        wait_end(conn, attacker.id, state, sizeof state, how, sizeof how);
        cr_assert_str_eq(state, "exited");
        cr_assert_str_eq(how, "3", "the pod's root attached to the joined sandbox's init (exit %s)", how);

        kill_sandbox(joined.id);
        kill_sandbox(pod.id);
        test_disconnect(conn);
}

/* A classic-BPF program of the most instructions the kernel takes for one filter (4096), all allowing. */
static int largest_bpf_program_fd(void) {
        static struct sock_filter program[4096];
        int fd = memfd_create("largest", MFD_CLOEXEC);

        for (size_t i = 0; i + 1 < ELEMENTSOF(program); i++)
                program[i] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
        program[ELEMENTSOF(program) - 1] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, program, sizeof program), (ssize_t) sizeof program);
        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

/*
 * Init hands nsbox-init every filter through a pipe that nobody reads before the exec: one made too small
 * for them would hold init in write() and the Spawn until its timeout. A write that does not fit in what
 * is left of the last page starts a page of its own, so seven of the largest programs (eight pages each)
 * after a profile of a few pages take eight pages more than their bytes, past the power of two the pipe's
 * size was rounded up to.
 */
Test(confine, init_hands_many_large_filters_to_nsbox_init) {
        _cleanup_free_ char *params = NULL;
        char state[32], how[32];
        int conn, fds[7];
        size_t size = 256 * 1024, len;
        Outcome o;

        params = malloc(size);
        cr_assert_not_null(params);
        len = (size_t) snprintf(params, size,
                                "\"argv\":[\"/bin/true\"],\"namespaces\":[\"pid\"],"
                                "\"seccompFileDescriptors\":[0,1,2,3,4,5,6],"
                                "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[");
        for (unsigned i = 0; i < 400; i++)
                len += (size_t) snprintf(params + len, size - len,
                                         "%s{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\","
                                         "\"args\":[{\"index\":0,\"value\":%u,\"op\":\"SCMP_CMP_EQ\"},"
                                         "{\"index\":1,\"value\":99,\"op\":\"SCMP_CMP_EQ\"}]}",
                                         i ? "," : "", 100000 + i);
        snprintf(params + len, size - len, "]}");

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = largest_bpf_program_fd();
        spawn_fds(conn, params, fds, ELEMENTSOF(fds), false, &o);
        close_many(fds, ELEMENTSOF(fds));
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        wait_end(conn, o.id, state, sizeof state, how, sizeof how);
        cr_assert_str_eq(state, "exited");
        cr_assert_str_eq(how, "0");
        test_disconnect(conn);
}

Test(confine, kill_process_is_reported_as_sigsys) {
        char params[1024], state[32], how[32];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/mkdir\",\"%s/killed\"],\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                 "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
                 work);
        spawn(conn, params, false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        wait_end(conn, o.id, state, sizeof state, how, sizeof how);
        cr_assert_str_eq(state, "killed");
        cr_assert_str_eq(how, "SIGSYS");
        test_disconnect(conn);
}

/* keyctl(KEYCTL_GET_KEYRING_ID) and bpf(BPF_PROG_LOAD, NULL) as the sandbox sees them. */
#define PROBE                                                                                                   \
        "import ctypes, os\\n"                                                                                  \
        "libc = ctypes.CDLL(None, use_errno=True)\\n"                                                           \
        "for name, nr, args in (('keyctl', 250, (0, -3, 0)), ('bpf', 321, (5, 0, 0)),"                        \
        " ('add_key', 248, (0, 0, 0, 0, 0)), ('getpid', 39, ())):\\n"                                           \
        "    r = libc.syscall(nr, *args)\\n"                                                                    \
        "    print(name, 'ok' if r >= 0 else os.strerror(ctypes.get_errno()))\\n"

Test(confine, default_profile_blocks_keyring_and_bpf) {
        char params[2048];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);

        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/sh\",\"-c\",\"python3 -c \\\"$0\\\" | sort; seq 3 | tr 123 abc | wc -l\",\"%s\"]",
                 PROBE);
        spawn(conn, params, true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "keyctl Operation not permitted\n"), "%s", o.output);
        cr_assert(strstr(o.output, "bpf Operation not permitted\n"), "%s", o.output);
        cr_assert(strstr(o.output, "add_key Operation not permitted\n"), "%s", o.output);
        cr_assert(strstr(o.output, "getpid ok\n"), "%s", o.output);
        cr_assert(strstr(o.output, "\n3\n"), "a pipeline does not run: %s", o.output);

        /* unconfined, keyctl works: the check above can fail */
        snprintf(params, sizeof params,
                 "\"argv\":[\"/usr/bin/python3\",\"-c\",\"%s\"],\"seccompProfile\":\"unconfined\"", PROBE);
        spawn(conn, params, true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "keyctl ok\n"), "%s", o.output);
        test_disconnect(conn);
}

/* Tasks of the daemon (its threads) whose seccomp mode is 2: a filter of their own. */
static int daemon_filtered_threads(void) {
        char dir[64], v[16];
        struct dirent *de;
        int n = 0;
        DIR *d;

        snprintf(dir, sizeof dir, "/proc/%d/task", (int) daemon_.pid);
        d = opendir(dir);
        cr_assert_not_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        /* A thread's status is at /proc/TID too. */
                        proc_status(strtol(de->d_name, NULL, 10), "Seccomp", v, sizeof v);
                        if (streq(v, "2"))
                                n++;
                }
        closedir(d);
        return n;
}

/*
 * A child born of a worker that loaded the default profile has it without loading it; what must not
 * have it (an unconfined sandbox, one with its own profile) never comes from such a worker, and a child
 * that mounts (the new mount API is among what the profile denies) loads it itself, last.
 */
Test(confine, the_default_profile_is_a_spawn_workers_own) {
        char v[16];
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);

        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status\"]", true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\n"), "%s", o.output);
        cr_assert_geq(daemon_filtered_threads(), 1, "no spawn worker has the default profile");
        /* The loop's thread (the process's first) is never filtered. */
        proc_status(daemon_.pid, "Seccomp", v, sizeof v);
        cr_assert_str_eq(v, "0");

        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status\"],"
                    "\"seccompProfile\":\"unconfined\"", true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t0\n"), "an unconfined sandbox has a filter: %s", o.output);

        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status\"],"
                    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"keyctl\"],"
                    "\"action\":\"SCMP_ACT_ERRNO\"}]}", true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\n"), "%s", o.output);

        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status; "
                    "awk '$2 == \\\"/mnt\\\" { print $3 }' /proc/self/mounts\"],\"namespaces\":[\"mount\"],"
                    "\"mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\"},"
                    "{\"type\":\"tmpfs\",\"destination\":\"/mnt\"}]", true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\ntmpfs\n"), "%s", o.output);
        test_disconnect(conn);
}

/*
 * A mount namespace without a file tree takes only mount(2) (propagation made private), which the
 * default profile allows: such a child comes from a filtered worker too. Workers of a kind start with
 * its first job, so the first spawn of a fresh daemon tells which kind served it.
 */
Test(confine, a_bare_mount_namespace_is_born_with_the_default_profile) {
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status; "
                    "awk '$5 == \\\"/\\\" { print $7 }' /proc/self/mountinfo\"],\"namespaces\":[\"mount\",\"pid\"]",
              true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\n"), "%s", o.output);
        /* Private: no "shared:N" optional field left on the root. */
        cr_assert_null(strstr(o.output, "shared:"), "%s", o.output);
        cr_assert_geq(daemon_filtered_threads(), 1, "a plain worker served it");
        test_disconnect(conn);
        test_daemon_stop(&daemon_);
        daemon_started = false;

        /* One that builds a tree still comes from a plain worker and loads the profile itself, last. */
        start(NULL);
        conn = test_daemon_connect(&daemon_);
        spawn(conn, "\"argv\":[\"/bin/sh\",\"-c\",\"grep Seccomp_filters /proc/self/status\"],"
                    "\"namespaces\":[\"mount\"],\"mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\"}]",
              true, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\n"), "%s", o.output);
        cr_assert_eq(daemon_filtered_threads(), 0);
        test_disconnect(conn);
}

Test(confine, classic_bpf_programs_from_fds) {
        char params[1024], path[128];
        int conn, fds[2];
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);

        /* --seccomp FD: the program instead of the default profile */
        fds[0] = bpf_program_fd("mkdir", "mkdirat", EACCES);
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/sh\",\"-c\",\"mkdir %s/raw 2>&1; grep Seccomp_filters /proc/self/status\"],"
                 "\"seccompProfile\":\"unconfined\",\"seccompFileDescriptors\":[0]",
                 work);
        spawn_fds(conn, params, fds, 1, true, &o);
        close(fds[0]);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Permission denied"), "%s", o.output);
        cr_assert(strstr(o.output, "Seccomp_filters:\t1\n"), "%s", o.output);
        snprintf(path, sizeof path, "%s/raw", work);
        cr_assert_neq(access(path, F_OK), 0);

        /* --add-seccomp-fd twice: on top of the default profile, in order */
        fds[0] = bpf_program_fd("mkdir", "mkdirat", EACCES);
        fds[1] = bpf_program_fd("rmdir", "unlinkat", ENOTEMPTY);
        snprintf(params, sizeof params,
                 "\"argv\":[\"/bin/sh\",\"-c\",\"rmdir %s 2>&1; grep Seccomp_filters /proc/self/status\"],"
                 "\"seccompFileDescriptors\":[0,1]",
                 work);
        spawn_fds(conn, params, fds, 2, true, &o);
        close(fds[0]);
        close(fds[1]);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        cr_assert(strstr(o.output, "Directory not empty"), "%s", o.output);
        cr_assert(strstr(o.output, "Seccomp_filters:\t3\n"), "%s", o.output);

        /* not a BPF program: the spawn fails, naming it */
        fds[0] = memfd_create("junk", MFD_CLOEXEC);
        cr_assert_eq(write(fds[0], "abc", 3), 3);
        cr_assert_eq(lseek(fds[0], 0, SEEK_SET), 0);
        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"seccompFileDescriptors\":[0]", fds, 1, false, &o);
        close(fds[0]);
        cr_assert_str_eq(o.error, "io.nsbox.Sandbox.SpawnFailed");
        test_disconnect(conn);
}

/* ---- capabilities and filters of the command and of its init ---- */

typedef struct Expect {
        uint64_t cmd_eff, cmd_bnd, cmd_amb, init_eff, init_bnd;
} Expect;

static void check_sandbox(long init_pid, const Expect *x) {
        long cmd = only_child(init_pid);
        char v[64];

        wait_exec(cmd, "sleep");
        /* Init is nsbox-init under its filters by now, or soon. */
        wait_exec(init_pid, "nsbox-init");
        wait_status(init_pid, "Seccomp", "2");
        cr_assert_eq(proc_status_hex(cmd, "CapEff"), x->cmd_eff, "command CapEff %" PRIx64,
                     proc_status_hex(cmd, "CapEff"));
        cr_assert_eq(proc_status_hex(cmd, "CapBnd"), x->cmd_bnd, "command CapBnd %" PRIx64,
                     proc_status_hex(cmd, "CapBnd"));
        cr_assert_eq(proc_status_hex(cmd, "CapAmb"), x->cmd_amb);
        cr_assert_eq(proc_status_hex(init_pid, "CapEff"), x->init_eff, "init CapEff %" PRIx64,
                     proc_status_hex(init_pid, "CapEff"));
        cr_assert_eq(proc_status_hex(init_pid, "CapBnd"), x->init_bnd, "init CapBnd %" PRIx64,
                     proc_status_hex(init_pid, "CapBnd"));
        cr_assert_eq(proc_status_hex(init_pid, "CapAmb"), 0);
        proc_status(cmd, "Seccomp_filters", v, sizeof v);
        cr_assert_str_eq(v, "1", "command Seccomp_filters %s", v);
        proc_status(init_pid, "Seccomp_filters", v, sizeof v);
        cr_assert_str_eq(v, "1", "init Seccomp_filters %s", v);
        proc_status(init_pid, "Seccomp", v, sizeof v);
        cr_assert_str_eq(v, "2");
}

#define CAP_KILL_BIT (UINT64_C(1) << 5)
#define CAP_SYS_TIME_BIT (UINT64_C(1) << 25)
#define CAP_SYS_RESOURCE_BIT (UINT64_C(1) << 24)

Test(confine, root_sandbox_sets_of_command_and_init) {
        uint64_t held = proc_status_hex(getpid(), "CapBnd") & proc_status_hex(getpid(), "CapPrm");
        int conn;
        Outcome o;

        start(NULL);
        conn = test_daemon_connect(&daemon_);

        /* the default: what the daemon holds; CAP_SYS_TIME too, as this caller holds it (bubblewrap keeps it) */
        spawn(conn, "\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"pid\"],\"keepAlive\":true", false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        check_sandbox(o.pid, &(Expect) { .cmd_eff = held, .cmd_bnd = held, .init_eff = CAP_KILL_BIT, .init_bnd = held });
        kill_sandbox(o.id);
        test_disconnect(conn);

        /* a root caller that cannot use CAP_SYS_TIME does not get it from the daemon's own set */
        {
                pid_t pid = fork();
                int status;

                cr_assert_geq(pid, 0);
                if (pid == 0) {
                        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
                        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
                        int c;

                        if (syscall(SYS_capget, &h, d) < 0)
                                _exit(2);
                        d[0].effective &= ~(uint32_t) CAP_SYS_TIME_BIT;
                        d[0].permitted &= ~(uint32_t) CAP_SYS_TIME_BIT;
                        d[0].inheritable &= ~(uint32_t) CAP_SYS_TIME_BIT;
                        if (syscall(SYS_capset, &h, d) < 0)
                                _exit(3);
                        c = test_daemon_connect(&daemon_);
                        spawn(c, "\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"pid\"],\"keepAlive\":true",
                              false, &o);
                        if (o.error[0])
                                _exit(4);
                        check_sandbox(o.pid, &(Expect) { .cmd_eff = held & ~CAP_SYS_TIME_BIT,
                                                         .cmd_bnd = held & ~CAP_SYS_TIME_BIT, .init_eff = CAP_KILL_BIT,
                                                         .init_bnd = held & ~CAP_SYS_TIME_BIT });
                        kill_sandbox(o.id);
                        _exit(0);
                }
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "without CAP_SYS_TIME: %d", status);
        }
        conn = test_daemon_connect(&daemon_);

        /* asked for: CAP_CHOWN kept, CAP_SYS_TIME too (this caller holds it) */
        spawn(conn,
              "\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"pid\"],\"keepAlive\":true,"
              "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_SYS_TIME\"],\"permitted\":[\"CAP_CHOWN\"],"
              "\"effective\":[\"CAP_CHOWN\"]}",
              false, &o);
        cr_assert_str_empty(o.error, "%s %s", o.error, o.parameter);
        check_sandbox(o.pid, &(Expect) { .cmd_eff = 1, .cmd_bnd = 1 | CAP_SYS_TIME_BIT, .init_eff = 0,
                                         .init_bnd = 1 | CAP_SYS_TIME_BIT });
        kill_sandbox(o.id);
        test_disconnect(conn);
}

typedef struct NonRoot {
        const char *params;
} NonRoot;

static int child_spawn(void *arg) {
        const char **params = arg;
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        spawn(conn, *params, false, &o);
        TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
        printf("%s %li\n", o.id, o.pid);
        fflush(stdout);
        test_disconnect(conn);
        return 0;
}

/* Spawns params as nobody; returns the sandbox's id and pid (the sandbox is keepAlive). */
static void spawn_as_nobody(const char *params, char *id, long *pid) {
        int p[2], saved, status;
        char out[256] = "";
        ssize_t n;

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        saved = dup(STDOUT_FILENO);
        cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
        status = test_run_as(NOBODY, NOBODY, child_spawn, &params);
        cr_assert_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
        close(saved);
        close(p[1]);
        n = read(p[0], out, sizeof out - 1);
        close(p[0]);
        cr_assert_eq(status, 0);
        cr_assert_gt(n, 0);
        out[n] = 0;
        cr_assert_eq(sscanf(out, "%79s %li", id, pid), 2, "%s", out);
}

Test(confine, non_root_sandbox_sets_of_command_and_init) {
        uint64_t all = all_caps();
        char id[80];
        long pid;

        start(NULL);

        /* root in its own user namespace: everything there; init only CAP_KILL */
        spawn_as_nobody("\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"user\",\"pid\"],\"keepAlive\":true,"
                        NOBODY_ROOT_MAPS, id, &pid);
        check_sandbox(pid, &(Expect) { .cmd_eff = all, .cmd_bnd = all, .init_eff = CAP_KILL_BIT, .init_bnd = all });
        kill_sandbox(id);

        /* bubblewrap's --cap-add CAP_NET_ADMIN: the same set everywhere, ambient too */
        spawn_as_nobody("\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"user\",\"pid\"],\"keepAlive\":true,"
                        "\"capabilities\":{\"bounding\":[\"CAP_NET_ADMIN\"],\"permitted\":[\"CAP_NET_ADMIN\"],"
                        "\"effective\":[\"CAP_NET_ADMIN\"],\"inheritable\":[\"CAP_NET_ADMIN\"],"
                        "\"ambient\":[\"CAP_NET_ADMIN\"]}",
                        id, &pid);
        check_sandbox(pid, &(Expect) { .cmd_eff = UINT64_C(1) << 12, .cmd_bnd = UINT64_C(1) << 12,
                                       .cmd_amb = UINT64_C(1) << 12, .init_eff = 0, .init_bnd = UINT64_C(1) << 12 });
        kill_sandbox(id);

        /* outside a user namespace: nothing, not even a bounding set */
        spawn_as_nobody("\"argv\":[\"/bin/sleep\",\"60\"],\"namespaces\":[\"pid\"],\"keepAlive\":true", id, &pid);
        check_sandbox(pid, &(Expect) {});
        kill_sandbox(id);
}

static int child_capabilities_refused(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/true\"],\"capabilities\":{\"permitted\":[\"CAP_CHOWN\"]}", false, &o);
        TEST_CHECK(streq(o.error, "org.varlink.service.PermissionDenied"), "%s", o.error);
        /* a bounding set only narrows */
        spawn(conn, "\"argv\":[\"/bin/true\"],\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"]}", false, &o);
        TEST_CHECK(!o.error[0], "%s", o.error);
        test_disconnect(conn);
        return 0;
}

Test(confine, non_root_gets_no_capabilities_on_the_host) {
        start(NULL);
        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_capabilities_refused, NULL), 0);
}

/* ---- --disable-userns ---- */

static int child_disable_userns(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        char params[1024];
        Outcome o;

        for (int disable = 0; disable <= 1; disable++) {
                snprintf(params, sizeof params,
                         "\"argv\":[\"/bin/sh\",\"-c\",\"unshare -U true 2>&1; echo rc=$?\"],"
                         "\"namespaces\":[\"user\"],%s%s",
                         NOBODY_ROOT_MAPS, disable ? ",\"disableUserNamespaces\":true" : "");
                spawn(conn, params, true, &o);
                TEST_CHECK(!o.error[0], "%s %s", o.error, o.parameter);
                if (disable)
                        TEST_CHECK(strstr(o.output, "No space left on device") && strstr(o.output, "rc=1"), "%s",
                              o.output);
                else
                        TEST_CHECK(strstr(o.output, "rc=0"), "%s", o.output);
        }
        test_disconnect(conn);
        return 0;
}

Test(confine, disable_userns_stops_unshare_user) {
        start(NULL);
        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_disable_userns, NULL), 0);
}

/* ---- bad input ---- */

Test(confine, bad_input_is_named_before_anything_is_created) {
        static const struct {
                const char *params;
                const char *parameter;
        } cases[] = {
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_NOPE\"]}",
                  "seccomp.architectures[0]" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "seccomp.defaultAction" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_ABOUT\"}]}]}",
                  "seccomp.syscalls[0].args[0].op" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                  "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                  "seccomp.syscalls[0].action" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                  "\"action\":\"SCMP_ACT_ALLOW\",\"errnoRet\":1}]}",
                  "seccomp.syscalls[0].errnoRet" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/x\"}",
                  "seccomp.listenerPath" },
                { "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"},\"seccompProfile\":\"unconfined\"",
                  "seccompProfile" },
                { "\"capabilities\":{\"bounding\":[\"CAP_NOPE\"]}", "capabilities.bounding[0]" },
                { "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"cap_kill\"]}", "capabilities.bounding[1]" },
                { "\"capabilities\":{\"permitted\":[\"CAP_CHOWN\"],\"effective\":[\"CAP_KILL\"]}",
                  "capabilities.effective[0]" },
                { "\"capabilities\":{\"everything\":[]}", "capabilities.everything" },
                { "\"disableUserNamespaces\":true", "disableUserNamespaces" },
        };
        char params[1024], big[80000];
        int conn, fds_before;
        Outcome o;
        size_t n;

        start(NULL);
        conn = test_daemon_connect(&daemon_);
        /* Twice: the daemon may open what it keeps (subid files) on the first round; the second must leave
         * nothing behind. */
        fds_before = -1;
        for (int round = 0; round < 2; round++) {
                if (round == 1)
                        fds_before = test_daemon_count_fds(&daemon_);
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        snprintf(params, sizeof params, "\"argv\":[\"/bin/true\"],%s", cases[i].params);
                        spawn(conn, params, false, &o);
                        cr_assert_str_eq(o.error, "org.varlink.service.InvalidParameter", "%s: %s", cases[i].params,
                                         o.error);
                        cr_assert_str_eq(o.parameter, cases[i].parameter, "%s: %s", cases[i].params, o.parameter);
                }
        }

        /* more entries than the documented bound (1024) */
        n = (size_t) snprintf(big, sizeof big,
                              "\"argv\":[\"/bin/true\"],\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[");
        for (int i = 0; i < 1025; i++)
                n += (size_t) snprintf(big + n, sizeof big - n,
                                       "%s{\"names\":[\"read\"],\"action\":\"SCMP_ACT_LOG\"}", i ? "," : "");
        snprintf(big + n, sizeof big - n, "]}");
        spawn(conn, big, false, &o);
        cr_assert_str_eq(o.error, "org.varlink.service.InvalidParameter");
        cr_assert_str_eq(o.parameter, "seccomp.syscalls");

        cr_assert_eq(test_daemon_count_zombies(&daemon_), 0);
        cr_assert_eq(test_daemon_count_fds(&daemon_), fds_before, "%d fds, %d before", test_daemon_count_fds(&daemon_), fds_before);
        test_disconnect(conn);
}

/* ---- the policy ---- */

static int child_policy_default(void *arg) {
        int conn = test_daemon_connect(&daemon_);
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/true\"]," MKDIR_EPERM, false, &o);
        TEST_CHECK(streq(o.error, "org.varlink.service.PermissionDenied"), "own profile: %s", o.error);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"seccompProfile\":\"unconfined\"", false, &o);
        TEST_CHECK(streq(o.error, "org.varlink.service.PermissionDenied"), "unconfined: %s", o.error);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"seccompProfile\":\"default\"", false, &o);
        TEST_CHECK(!o.error[0], "default: %s", o.error);
        test_disconnect(conn);
        return 0;
}

static int child_policy_own(void *arg) {
        int conn = test_daemon_connect(&daemon_), fd;
        Outcome o;

        spawn(conn, "\"argv\":[\"/bin/true\"]," MKDIR_EPERM, false, &o);
        TEST_CHECK(!o.error[0], "own profile: %s %s", o.error, o.parameter);
        spawn(conn, "\"argv\":[\"/bin/true\"],\"seccompProfile\":\"unconfined\"", false, &o);
        TEST_CHECK(streq(o.error, "org.varlink.service.PermissionDenied"), "unconfined: %s", o.error);
        /* --seccomp FD: its own program instead of the default */
        fd = bpf_program_fd("mkdir", "mkdirat", EPERM);
        spawn_fds(conn, "\"argv\":[\"/bin/true\"],\"seccompProfile\":\"unconfined\",\"seccompFileDescriptors\":[0]",
                  &fd, 1, false, &o);
        close(fd);
        TEST_CHECK(!o.error[0], "own program: %s %s", o.error, o.parameter);
        test_disconnect(conn);
        return 0;
}

Test(confine, policy_decides_who_may_replace_the_default_profile) {
        char policy[128];
        const char *args[] = { "--policy", policy, NULL };
        FILE *f;

        snprintf(policy, sizeof policy, "%s/policy.conf", work);
        f = fopen(policy, "we");
        cr_assert_not_null(f);
        fprintf(f, "[default]\nseccomp = default\n\n[user:%d]\nseccomp = own\n", NOBODY);
        fclose(f);
        cr_assert_eq(chmod(policy, 0644), 0);
        start(args);

        cr_assert_eq(test_run_as(NOBODY, NOBODY, child_policy_own, NULL), 0);
        cr_assert_eq(test_run_as(1, 1, child_policy_default, NULL), 0);
}
