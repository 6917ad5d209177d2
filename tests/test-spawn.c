/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The spawn path end to end, without the daemon around it: spawn_start() with
 * requests built in C, then what the sandboxed process sees and how it ends,
 * checked from both sides. Runs as root.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-test-util.h"
#include "fd-util.h"
#include "fuse-stall.h"
#include "sandbox-protocol.h"
#include "spawn-worker.h"
#include "spawn.h"
#include "test-util.h"

/*
 * NSBOX_TEST_REFUSE_PIDFD_GETFD=1 (the test-spawn-fds-by-socket run): the whole suite where a system call
 * filter refuses pidfd_getfd() with EPERM, as a container manager's may (systemd-nspawn's of systemd 252).
 * Loaded before criterion forks a process for each test, which inherits it.
 */
static bool pidfd_getfd_refused(void) {
        const char *e = getenv("NSBOX_TEST_REFUSE_PIDFD_GETFD");

        return e && streq(e, "1");
}

__attribute__((constructor)) static void refuse_pidfd_getfd(void) {
        scmp_filter_ctx ctx;

        if (!pidfd_getfd_refused())
                return;
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        /* No no_new_privs: root needs none, and the tests look at the children's. */
        if (!ctx || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pidfd_getfd), 0) < 0 || seccomp_load(ctx) < 0)
                abort();
        seccomp_release(ctx);
}

static const Caller root_caller = { .uid = 0, .gid = 0, .privileged = true };
static const Caller nobody_caller = { .uid = 65534, .gid = 65534, .privileged = false };

/* ---- helpers ---- */

static char **strv_from(const char *const *l) {
        size_t n = 0;
        char **v;

        while (l[n])
                n++;
        v = calloc(n + 1, sizeof(char *));
        cr_assert_not_null(v);
        for (size_t i = 0; i < n; i++)
                cr_assert_not_null(v[i] = strdup(l[i]));
        return v;
}

#define REQUEST(...) request_new((const char *const[]) { __VA_ARGS__, NULL })

static SpawnRequest *request_new(const char *const *argv) {
        SpawnRequest *r = spawn_request_new();

        cr_assert_not_null(r);
        r->argv = strv_from(argv);
        return r;
}

static void *memdup_or_die(const void *p, size_t size) {
        void *q = malloc(size);

        cr_assert_not_null(q);
        memcpy(q, p, size);
        return q;
}

/*
 * spawn_start() and the handshake taken to its end, as the daemon's loop does it (here by polling).
 * A failed handshake is killed and reaped here, with *h untouched: a failure leaves nothing behind.
 */
/* What SpawnContext.sandbox_user_ids answers for the next spawns: these ids in the user namespace with this
 * inode number, as a sandbox's (0: no sandbox made any). */
static SpawnIds sandbox_ids;
static uint64_t sandbox_user_namespace;

static bool stand_in_sandbox_user_ids(void *userdata, uint64_t user_namespace, SpawnIds *ret) {
        if (sandbox_user_namespace == 0 || user_namespace != sandbox_user_namespace)
                return false;
        *ret = sandbox_ids;
        return true;
}

/* Takes the handshake as far as it goes, polling its fd as the daemon's loop would: 0, or -errno with *e
 * filled. */
static int handshake_to_end(SpawnHandshake *h, SpawnError *e) {
        int k;

        while ((k = spawn_handshake_step(h, e)) == -EAGAIN) {
                struct pollfd p = { .fd = spawn_handshake_fd(h), .events = POLLIN };

                cr_assert_geq(p.fd, 0);
                cr_assert_geq(poll(&p, 1, -1), 0);
        }
        return k;
}

static int spawn_as(const Caller *caller, SpawnRequest *r, const int *fds, size_t n_fds, SpawnHandle *h,
                    SpawnError *e) {
        SpawnContext c = { .request = r, .message_fds = fds, .n_message_fds = n_fds, .caller = caller,
                           .sandbox_user_ids = stand_in_sandbox_user_ids };
        SpawnHandle started;
        siginfo_t si;
        int k;

        k = spawn_start(&c, &started, e);
        if (k < 0)
                return k;

        k = handshake_to_end(started.handshake, e);
        started.handshake = spawn_handshake_free(started.handshake);
        if (k < 0) {
                (void) pidfd_send_signal(started.pidfd, SIGKILL, NULL, 0);
                cr_assert_eq(waitid(P_PIDFD, (id_t) started.pidfd, &si, WEXITED), 0);
                safe_close(started.pidfd);
                safe_close(started.report_fd);
                free(started.groups);
                return k;
        }

        *h = started;
        return 0;
}

/* Polls the report fd until the child exec'd (0) or reported a failure (1, *e filled). */
static int wait_report(const SpawnHandle *h, SpawnError *e) {
        bool reached_exec = false;
        uint64_t inodes[_NAMESPACE_TYPE_MAX];

        for (;;) {
                struct pollfd p = { .fd = h->report_fd, .events = POLLIN };
                int r;

                cr_assert_geq(poll(&p, 1, -1), 0);
                r = spawn_read_report(h->report_fd, &reached_exec, inodes, e);
                if (r != -EAGAIN) {
                        cr_assert_geq(r, 0, "spawn_read_report: %s", strerror(-r));
                        return r;
                }
        }
}

static siginfo_t reap(SpawnHandle *h) {
        siginfo_t si = {};

        free(h->groups);
        h->groups = NULL;
        cr_assert_eq(waitid(P_PIDFD, (id_t) h->pidfd, &si, WEXITED), 0, "waitid: %m");
        h->pidfd = safe_close(h->pidfd);
        h->report_fd = safe_close(h->report_fd);
        return si;
}

static siginfo_t kill_and_reap(SpawnHandle *h, int sig) {
        cr_assert_eq(pidfd_send_signal(h->pidfd, sig, NULL, 0), 0, "pidfd_send_signal: %m");
        return reap(h);
}

/* Spawns r (privileged unless caller says otherwise) and asserts that execve succeeded. */
static void spawn_ok(const Caller *caller, SpawnRequest *r, const int *fds, size_t n_fds, SpawnHandle *h) {
        SpawnError e = {};
        int k;

        k = spawn_as(caller ?: &root_caller, r, fds, n_fds, h, &e);
        cr_assert_eq(k, 0, "spawn_start: %d stage=%s message=%s", k, e.stage, e.message);
        k = wait_report(h, &e);
        cr_assert_eq(k, 0, "child failed: stage=%s message=%s", e.stage, e.message);
}

/* Spawns r as root, which must start but fail in the child at stage, with error and (unless NULL) message. */
static void spawn_fails_in_child(SpawnRequest *r, SpawnHandle *h, const char *stage, int error, const char *message) {
        SpawnError e = {};

        cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, h, &e), 0, "spawn_start: stage=%s message=%s", e.stage,
                     e.message);
        cr_assert_eq(wait_report(h, &e), 1, "the child did not fail");
        cr_assert_str_eq(e.stage, stage);
        cr_assert_eq(e.error, error, "errno %d, expected %d (%s)", e.error, error, e.message);
        if (message)
                cr_assert_str_eq(e.message, message);
}

/* Spawns r with fds (at most 7) and stdout on a new pipe after them; returns the pipe's read end. */
static int spawn_with_stdout_pipe_fds(SpawnRequest *r, const int *fds, size_t n_fds, SpawnHandle *h) {
        int pipe_fds[2], all[8];

        cr_assert_lt(n_fds, ELEMENTSOF(all));
        cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        if (n_fds > 0)
                memcpy(all, fds, n_fds * sizeof(int));
        all[n_fds] = pipe_fds[1];
        r->stdout_index = (int) n_fds;
        spawn_ok(NULL, r, all, n_fds + 1, h);
        safe_close(pipe_fds[1]);
        return pipe_fds[0];
}

/* Spawns r with stdout on a new pipe and returns the pipe's read end. */
static int spawn_with_stdout_pipe(SpawnRequest *r, SpawnHandle *h) {
        int pipe_fds[2];

        cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        r->stdout_index = 0;
        spawn_ok(NULL, r, &pipe_fds[1], 1, h);
        safe_close(pipe_fds[1]);
        return pipe_fds[0];
}

/* The same mappings for r's uids and gids. */
static void map_ids(SpawnRequest *r, const IdMapping *ids, size_t n) {
        r->uid_mappings = memdup_or_die(ids, n * sizeof(IdMapping));
        r->n_uid_mappings = n;
        r->gid_mappings = memdup_or_die(ids, n * sizeof(IdMapping));
        r->n_gid_mappings = n;
}

/* Adds to r's namespaces to join one of type, from message fd fd_index. */
static void join_namespace(SpawnRequest *r, NamespaceType type, int fd_index) {
        JoinNamespace *j = reallocarray(r->join_namespaces, r->n_join_namespaces + 1, sizeof(JoinNamespace));

        cr_assert_not_null(j);
        j[r->n_join_namespaces++] = (JoinNamespace) { .type = type, .fd_index = fd_index };
        r->join_namespaces = j;
}

/* Adds a mount entry of kind at destination to r and returns it for the rest of its fields. */
static MountEntry *add_mount(SpawnRequest *r, MountKind kind, const char *destination) {
        MountEntry *m = reallocarray(r->mounts, r->n_mounts + 1, sizeof(MountEntry));

        cr_assert_not_null(m);
        r->mounts = m;
        m += r->n_mounts++;
        *m = (MountEntry) { .kind = kind, .source_fd_index = -1, .mode = -1 };
        cr_assert_not_null(m->destination = strdup(destination));
        return m;
}

_printf_(1, 2) static char *read_proc(const char *format, ...) {
        char path[256];
        va_list ap;

        va_start(ap, format);
        vsnprintf(path, sizeof path, format, ap);
        va_end(ap);
        return test_read_file(path);
}

/*
 * Runs r with stdout on a pipe (appended to fds as the last message fd),
 * returns everything it wrote, and its exit status in *ret_status.
 */
static char *run_capture_fds(const Caller *caller, SpawnRequest *r, const int *fds, size_t n_fds,
                             siginfo_t *ret_status) {
        int all[16], pipe_fds[2];
        SpawnHandle h;
        char *out;

        cr_assert_lt(n_fds, ELEMENTSOF(all));
        if (n_fds > 0)
                for (size_t i = 0; i < n_fds; i++)
                all[i] = fds[i];
        cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        all[n_fds] = pipe_fds[1];
        r->stdout_index = (int) n_fds;

        spawn_ok(caller, r, all, n_fds + 1, &h);
        safe_close(pipe_fds[1]);
        out = test_read_fd(pipe_fds[0]);
        safe_close(pipe_fds[0]);

        siginfo_t si = reap(&h);
        if (ret_status)
                *ret_status = si;
        return out;
}

static char *run_capture(const Caller *caller, SpawnRequest *r, siginfo_t *ret_status) {
        return run_capture_fds(caller, r, NULL, 0, ret_status);
}

static ino_t ns_inode(pid_t pid, const char *name) {
        char path[64];
        struct stat st;

        if (pid == 0)
                snprintf(path, sizeof path, "/proc/self/ns/%s", name);
        else
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, name);
        cr_assert_eq(stat(path, &st), 0, "%s: %m", path);
        return st.st_ino;
}

static ino_t fd_inode(int fd) {
        struct stat st;

        cr_assert_eq(fstat(fd, &st), 0);
        return st.st_ino;
}

/* The value of "Key:" in a /proc/PID/status text, up to the end of the line. */
static char *status_field(const char *status, const char *key) {
        const char *p = strstr(status, key);
        size_t n;

        cr_assert_not_null(p, "no %s in status", key);
        p += strlen(key);
        p += strspn(p, " \t");
        n = strcspn(p, "\n");
        return strndup(p, n);
}

static void assert_exited(const siginfo_t *si, int code) {
        cr_assert_eq(si->si_code, CLD_EXITED, "si_code %d status %d", si->si_code, si->si_status);
        cr_assert_eq(si->si_status, code);
}

static void assert_killed(const siginfo_t *si, int sig) {
        cr_assert(si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED, "si_code %d status %d", si->si_code,
                  si->si_status);
        cr_assert_eq(si->si_status, sig);
}

/* ---- basics ---- */

Test(spawn, exit_codes) {
        static const int codes[] = { 0, 1, 255 };

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = NULL;
                char script[32];
                SpawnHandle h;

                snprintf(script, sizeof script, "exit %d", codes[i]);
                r = REQUEST("sh", "-c", script);
                spawn_ok(NULL, r, NULL, 0, &h);
                siginfo_t si = reap(&h);
                assert_exited(&si, codes[i]);
        }
}

Test(spawn, death_by_signal) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "kill -USR1 $$");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("sleep", "100");
        SpawnHandle h;

        spawn_ok(NULL, r, NULL, 0, &h);
        siginfo_t si = reap(&h);
        assert_killed(&si, SIGUSR1);

        spawn_ok(NULL, r2, NULL, 0, &h);
        si = kill_and_reap(&h, SIGKILL);
        assert_killed(&si, SIGKILL);
}

Test(spawn, exec_missing_file) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/no/such");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("no-such-command-in-path");
        SpawnHandle h;

        spawn_fails_in_child(r, &h, "execve", ENOENT, "/no/such: No such file or directory");
        siginfo_t si = reap(&h);
        assert_exited(&si, 127);

        spawn_fails_in_child(r2, &h, "execve", ENOENT, "no-such-command-in-path: No such file or directory");
        reap(&h);
}

Test(spawn, path_lookup_uses_request_path) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        SpawnHandle h;

        /* A PATH without the directory that holds "true" must not find it. */
        r->env = strv_from((const char *const[]) { "PATH=/nonexistent:/proc", NULL });
        spawn_fails_in_child(r, &h, "execve", ENOENT, NULL);
        reap(&h);
}

Test(spawn, default_and_given_environment) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/usr/bin/env");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("/usr/bin/env");
        _cleanup_free_ char *out = NULL, *out2 = NULL;

        out = run_capture(NULL, r, NULL);
        cr_assert_str_eq(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/\n");

        r2->env = strv_from((const char *const[]) { "A=1", "B=two", NULL });
        out2 = run_capture(NULL, r2, NULL);
        cr_assert_str_eq(out2, "A=1\nB=two\n");
}

Test(spawn, cwd) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("pwd");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("pwd");
        _cleanup_(spawn_request_freep) SpawnRequest *r3 = REQUEST("pwd");
        _cleanup_free_ char *out = NULL, *out2 = NULL;
        SpawnHandle h;

        out = run_capture(NULL, r, NULL);
        cr_assert_str_eq(out, "/\n");

        r2->cwd = strdup("/proc/self");
        out2 = run_capture(NULL, r2, NULL);
        cr_assert_neq(strstr(out2, "/proc/"), NULL, "%s", out2);

        r3->cwd = strdup("/no/such/dir");
        spawn_fails_in_child(r3, &h, "cwd", ENOENT, "/no/such/dir: No such file or directory");
        reap(&h);
}

Test(spawn, signals_mask_and_dispositions_reset) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/status");
        _cleanup_free_ char *out = NULL, *blocked = NULL, *ignored = NULL, *nnp = NULL;
        sigset_t mask, saved;

        /* What a daemon typically has: SIGPIPE ignored, some signals blocked. */
        signal(SIGPIPE, SIG_IGN);
        cr_assert_eq(spawn_setup_process(), 0);
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, &saved);

        out = run_capture(NULL, r, NULL);

        sigprocmask(SIG_SETMASK, &saved, NULL);
        signal(SIGPIPE, SIG_DFL);
        cr_assert_eq(spawn_setup_process(), 0);

        blocked = status_field(out, "SigBlk:");
        ignored = status_field(out, "SigIgn:");
        nnp = status_field(out, "NoNewPrivs:");
        cr_assert_str_eq(blocked, "0000000000000000");
        cr_assert_str_eq(ignored, "0000000000000000");
        cr_assert_str_eq(nnp, "1");
}

Test(spawn, new_session) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("sleep", "100");
        SpawnHandle h;

        spawn_ok(NULL, r, NULL, 0, &h);
        cr_assert_eq(getsid(h.pid), h.pid);
        kill_and_reap(&h, SIGKILL);

        r2->new_session = 0;
        spawn_ok(NULL, r2, NULL, 0, &h);
        cr_assert_eq(getsid(h.pid), getsid(0));
        kill_and_reap(&h, SIGKILL);
}

/* ---- namespaces ---- */

Test(spawn, each_namespace_type) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
                SpawnHandle h;

                r->namespaces = NAMESPACE_BIT(t);
                r->init = 0;
                spawn_ok(NULL, r, NULL, 0, &h);

                for (NamespaceType u = 0; u < _NAMESPACE_TYPE_MAX; u++) {
                        const char *name = namespace_type_to_proc_name(u);
                        ino_t mine = ns_inode(0, name), theirs = ns_inode(h.pid, name);

                        if (u == t)
                                cr_assert_neq(mine, theirs, "asked for %s, got the same %s namespace",
                                              namespace_type_to_string(t), name);
                        else
                                cr_assert_eq(mine, theirs, "asked for %s, got a new %s namespace",
                                             namespace_type_to_string(t), name);
                }

                siginfo_t si = kill_and_reap(&h, SIGKILL);
                assert_killed(&si, SIGKILL);
        }
}

Test(spawn, all_namespaces_at_once) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        SpawnHandle h;

        r->namespaces = NAMESPACE_ALL;
        r->init = 0;
        spawn_ok(NULL, r, NULL, 0, &h);
        for (NamespaceType u = 0; u < _NAMESPACE_TYPE_MAX; u++) {
                const char *name = namespace_type_to_proc_name(u);
                cr_assert_neq(ns_inode(0, name), ns_inode(h.pid, name), "%s", name);
        }
        kill_and_reap(&h, SIGKILL);
}

static void parse_id_map(const char *text, IdMapping *ret, size_t max, size_t *ret_n) {
        size_t n = 0;
        const char *p = text;

        while (*p) {
                uint32_t a, b, c;
                int consumed;

                cr_assert_eq(sscanf(p, "%" SCNu32 " %" SCNu32 " %" SCNu32 "%n", &a, &b, &c, &consumed), 3,
                             "bad map line: %s", p);
                cr_assert_lt(n, max);
                ret[n++] = (IdMapping) { a, b, c };
                p += consumed;
                p += strspn(p, "\n");
        }
        *ret_n = n;
}

/* /proc/PID/<file> lists exactly the mappings expected, in order. */
static void assert_id_map(pid_t pid, const char *file, const IdMapping *expected, size_t n_expected) {
        _cleanup_free_ char *text = read_proc("/proc/%d/%s", pid, file);
        IdMapping got[8];
        size_t n;

        parse_id_map(text, got, ELEMENTSOF(got), &n);
        cr_assert_eq(n, n_expected, "%s: %zu lines, expected %zu", file, n, n_expected);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(got[i].container_id, expected[i].container_id, "%s line %zu", file, i);
                cr_assert_eq(got[i].host_id, expected[i].host_id, "%s line %zu", file, i);
                cr_assert_eq(got[i].size, expected[i].size, "%s line %zu", file, i);
        }
}

Test(spawn, id_maps_read_back) {
        static const IdMapping uids[] = { { 0, 100000, 1000 }, { 1000, 5000, 1 }, { 2000, 200000, 65536 } };
        static const IdMapping gids[] = { { 0, 300000, 10 }, { 10, 7000, 5 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        _cleanup_free_ char *status = NULL, *uid_line = NULL, *gid_line = NULL;
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        r->uid_mappings = memdup_or_die(uids, sizeof uids);
        r->n_uid_mappings = ELEMENTSOF(uids);
        r->gid_mappings = memdup_or_die(gids, sizeof gids);
        r->n_gid_mappings = ELEMENTSOF(gids);
        spawn_ok(NULL, r, NULL, 0, &h);

        assert_id_map(h.pid, "uid_map", uids, ELEMENTSOF(uids));
        assert_id_map(h.pid, "gid_map", gids, ELEMENTSOF(gids));

        /* Root's default user is 0 inside: host 100000/300000 from out here. */
        status = read_proc("/proc/%d/status", h.pid);
        uid_line = status_field(status, "Uid:");
        gid_line = status_field(status, "Gid:");
        cr_assert_str_eq(uid_line, "100000\t100000\t100000\t100000");
        cr_assert_str_eq(gid_line, "300000\t300000\t300000\t300000");

        kill_and_reap(&h, SIGKILL);
}

Test(spawn, setgroups_written) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        static const struct {
                int value;
                const char *expected;
        } cases[] = { { 0, "deny\n" }, { 1, "allow\n" }, { -1, "allow\n" } };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
                _cleanup_free_ char *text = NULL;
                SpawnHandle h;

                r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
                map_ids(r, ids, ELEMENTSOF(ids));
                r->setgroups = cases[i].value;
                spawn_ok(NULL, r, NULL, 0, &h);

                text = read_proc("/proc/%d/setgroups", h.pid);
                cr_assert_str_eq(text, cases[i].expected, "setgroups=%d", cases[i].value);
                kill_and_reap(&h, SIGKILL);
        }
}

Test(spawn, user_and_groups_inside) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/status");
        _cleanup_free_ char *out = NULL, *uid = NULL, *gid = NULL, *groups = NULL;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(r, ids, ELEMENTSOF(ids));
        r->has_user = true;
        r->uid = 1000;
        r->gid = 1001;
        r->additional_gids = memdup_or_die((const uint32_t[]) { 5, 6 }, 2 * sizeof(uint32_t));
        r->n_additional_gids = 2;

        out = run_capture(NULL, r, NULL);
        uid = status_field(out, "Uid:");
        gid = status_field(out, "Gid:");
        groups = status_field(out, "Groups:");
        cr_assert_str_eq(uid, "1000\t1000\t1000\t1000");
        cr_assert_str_eq(gid, "1001\t1001\t1001\t1001");
        cr_assert_str_eq(groups, "5 6 ");
}

Test(spawn, invalid_ids_refused) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        SpawnError e = {};
        SpawnHandle h;

        /* (uid_t) -1 would leave the child's ids unchanged: host root. */
        for (int i = 0; i < 3; i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");

                r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
                map_ids(r, ids, ELEMENTSOF(ids));
                r->has_user = true;
                r->uid = i == 0 ? UINT32_MAX : 0;
                r->gid = i == 1 ? UINT32_MAX : 0;
                if (i == 2) {
                        r->additional_gids = memdup_or_die((const uint32_t[]) { UINT32_MAX }, sizeof(uint32_t));
                        r->n_additional_gids = 1;
                }
                cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, &h, &e), -EINVAL, "case %d", i);
                cr_assert_str_eq(e.stage, "credentials");
        }
}

Test(spawn, hostname_inside) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("uname", "-n");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("uname", "-n");
        _cleanup_free_ char *out = NULL;
        SpawnError e = {};
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_UTS);
        r->hostname = strdup("nsbox-test");
        out = run_capture(NULL, r, NULL);
        cr_assert_str_eq(out, "nsbox-test\n");

        /* Never the host's hostname. */
        r2->hostname = strdup("nsbox-test");
        cr_assert_eq(spawn_as(&root_caller, r2, NULL, 0, &h, &e), -EINVAL);
        cr_assert_str_eq(e.stage, "prepare");
}

static double clock_seconds(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * A new time namespace no longer makes the daemon fork: the child, on the daemon's memory, may not setns()
 * into it (EUSERS), and enters it at execve() instead, as the kernel does since 6.1. The command is in it
 * with its offsets all the same.
 */
Test(spawn, new_time_namespace_without_a_fork) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/timens_offsets");
        _cleanup_free_ char *out = NULL;
        unsigned workers, idle;
        siginfo_t si;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        cr_assert_eq(spawn_setup_process(), 0);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME);
        r->has_monotonic_offset = true;
        r->monotonic_offset = (TimeOffset) { .secs = 1234 };
        out = run_capture(NULL, r, &si);
        assert_exited(&si, 0);
        cr_assert(strstr(out, "monotonic") && strstr(out, "1234"), "%s", out);
        spawn_worker_stats(&workers, &idle);
        cr_assert_geq(workers, 1U, "the spawn was forked");
}

/*
 * On the daemon's memory clone3() makes the time namespace itself, as the namespace of the child's children,
 * whose offsets stay open until the child's execve(): the daemon writes the maps and offsets right after
 * clone3(), with no "ready" from the child to wait for. The command is in it, with its offsets.
 */
Test(spawn, a_new_time_namespace_needs_no_ready_from_the_child) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "30");
        _cleanup_free_ char *offsets = NULL;
        SpawnContext c = { .caller = &root_caller };
        SpawnError e = {};
        SpawnHandle h;
        struct stat own, inside;
        char path[64];

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        cr_assert_eq(spawn_setup_process(), 0);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME) | NAMESPACE_BIT(NAMESPACE_USER);
        r->has_boottime_offset = true;
        r->boottime_offset = (TimeOffset) { .secs = 4321 };
        c.request = r;
        cr_assert_eq(spawn_start(&c, &h, &e), 0, "%s: %s", e.stage, e.message);
        cr_assert_lt(spawn_handshake_fd(h.handshake), 0, "the handshake waits for the child's ready");
        cr_assert_eq(spawn_handshake_step(h.handshake, &e), 0, "%s: %s", e.stage, e.message);
        h.handshake = spawn_handshake_free(h.handshake);
        cr_assert_eq(wait_report(&h, &e), 0, "%s: %s", e.stage, e.message);

        cr_assert_eq(stat("/proc/self/ns/time", &own), 0);
        (void) snprintf(path, sizeof path, "/proc/%d/ns/time", (int) h.pid);
        cr_assert_eq(stat(path, &inside), 0, "%s: %m", path);
        cr_assert_neq(inside.st_ino, own.st_ino, "the command is in the daemon's time namespace");
        offsets = read_proc("/proc/%d/timens_offsets", (int) h.pid);
        cr_assert(strstr(offsets, "boottime") && strstr(offsets, "4321"), "%s", offsets);
        (void) kill_and_reap(&h, SIGKILL);
}

Test(spawn, time_offsets_inside) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST(
                "/usr/bin/python3", "-c",
                "import time; print(time.clock_gettime(time.CLOCK_MONOTONIC), time.clock_gettime(time.CLOCK_BOOTTIME))");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("cat", "/proc/uptime");
        _cleanup_free_ char *out = NULL, *out2 = NULL;
        double mono_before, boot_before, mono_after, boot_after, mono_in, boot_in, up_in, up_before, up_after;
        char *host_uptime;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME);
        r->has_monotonic_offset = true;
        r->monotonic_offset = (TimeOffset) { .secs = 2000000 };
        r->has_boottime_offset = true;
        r->boottime_offset = (TimeOffset) { .secs = 1000000, .nanosecs = 500000000 };

        mono_before = clock_seconds(CLOCK_MONOTONIC);
        boot_before = clock_seconds(CLOCK_BOOTTIME);
        out = run_capture(NULL, r, NULL);
        mono_after = clock_seconds(CLOCK_MONOTONIC);
        boot_after = clock_seconds(CLOCK_BOOTTIME);

        cr_assert_eq(sscanf(out, "%lf %lf", &mono_in, &boot_in), 2, "%s", out);
        cr_assert(mono_in >= mono_before + 2000000 && mono_in <= mono_after + 2000000, "monotonic %f not in [%f, %f]",
                  mono_in, mono_before + 2000000, mono_after + 2000000);
        cr_assert(boot_in >= boot_before + 1000000.5 && boot_in <= boot_after + 1000000.5,
                  "boottime %f not in [%f, %f]", boot_in, boot_before + 1000000.5, boot_after + 1000000.5);

        r2->namespaces = NAMESPACE_BIT(NAMESPACE_TIME);
        r2->has_boottime_offset = true;
        r2->boottime_offset = (TimeOffset) { .secs = 1000000 };
        host_uptime = test_read_file("/proc/uptime");
        cr_assert_eq(sscanf(host_uptime, "%lf", &up_before), 1);
        free(host_uptime);
        out2 = run_capture(NULL, r2, NULL);
        host_uptime = test_read_file("/proc/uptime");
        cr_assert_eq(sscanf(host_uptime, "%lf", &up_after), 1);
        free(host_uptime);
        cr_assert_eq(sscanf(out2, "%lf", &up_in), 1);
        /* /proc/uptime has a resolution of 10 ms. */
        cr_assert(up_in >= up_before + 1000000 - 0.02 && up_in <= up_after + 1000000 + 0.02,
                  "uptime %f not in [%f, %f]", up_in, up_before + 1000000, up_after + 1000000);
}

Test(spawn, time_offsets_under_init) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/uptime");
        _cleanup_free_ char *out = NULL, *host = NULL;
        double inside, outside;

        /* Init, which the caller gets, and the command it forks are both in the new time namespace. */
        r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME) | NAMESPACE_BIT(NAMESPACE_PID);
        r->has_boottime_offset = true;
        r->boottime_offset = (TimeOffset) { .secs = 5000000 };
        out = run_capture(NULL, r, NULL);
        host = test_read_file("/proc/uptime");
        cr_assert_eq(sscanf(out, "%lf", &inside), 1);
        cr_assert_eq(sscanf(host, "%lf", &outside), 1);
        cr_assert(inside >= outside + 5000000 - 60 && inside <= outside + 5000000 + 0.02, "%f vs %f", inside, outside);
}

Test(spawn, time_offsets_need_time_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        SpawnError e = {};
        SpawnHandle h;

        r->has_boottime_offset = true;
        r->boottime_offset = (TimeOffset) { .secs = 10 };
        cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, &h, &e), -EINVAL);
}

Test(spawn, loopback_up_in_new_net_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("ip", "-o", "link", "show");
        _cleanup_free_ char *out = NULL;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_NET);
        out = run_capture(NULL, r, NULL);
        /* Only lo, and it is up. */
        cr_assert_neq(strstr(out, "1: lo: <LOOPBACK,UP,LOWER_UP>"), NULL, "%s", out);
        cr_assert_eq(strstr(out, "2: "), NULL, "%s", out);
}

/* ---- init ---- */

Test(spawn, init_in_pid_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "echo $$; exec sleep 100");
        _cleanup_close_ int stdout_pipe = -EBADF;
        char buf[32] = {};
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        stdout_pipe = spawn_with_stdout_pipe(r, &h);

        cr_assert_gt(read(stdout_pipe, buf, sizeof buf - 1), 0);
        cr_assert_str_eq(buf, "2\n", "the command is pid 2 under init");

        /* Init forwards SIGTERM; as pid 1 it cannot die of it, so it exits 128 + SIGTERM. */
        siginfo_t si = kill_and_reap(&h, SIGTERM);
        assert_exited(&si, 128 + SIGTERM);
}

Test(spawn, no_init_in_pid_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "echo $$");
        _cleanup_free_ char *out = NULL;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        r->init = 0;
        out = run_capture(NULL, r, NULL);
        cr_assert_str_eq(out, "1\n");
}

Test(spawn, init_passes_exit_code) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "exit 42");
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        spawn_ok(NULL, r, NULL, 0, &h);
        siginfo_t si = reap(&h);
        assert_exited(&si, 42);
}

Test(spawn, init_reports_exec_failure) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/no/such");
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        spawn_fails_in_child(r, &h, "execve", ENOENT, NULL);
        siginfo_t si = reap(&h);
        assert_exited(&si, 127);
}

/*
 * Where the answer waits for init's own exec (here: a new time namespace on the daemon's memory, which init
 * enters only there), init execs while the command does, not after it: the command's success and its
 * failure still come through whole, and init ends as the command did.
 */
Test(spawn, init_execs_beside_the_command_when_the_answer_waits_for_it) {
        _cleanup_(spawn_request_freep) SpawnRequest *ok = REQUEST("sh", "-c", "exit 42");
        _cleanup_(spawn_request_freep) SpawnRequest *missing = REQUEST("/no/such");
        SpawnHandle h;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        cr_assert_eq(spawn_setup_process(), 0);
        ok->namespaces = NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_TIME);
        spawn_ok(NULL, ok, NULL, 0, &h);
        assert_exited((siginfo_t[]) { reap(&h) }, 42);

        missing->namespaces = NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_TIME);
        spawn_fails_in_child(missing, &h, "execve", ENOENT, NULL);
        assert_exited((siginfo_t[]) { reap(&h) }, 127);
}

static size_t count_children(pid_t pid) {
        _cleanup_free_ char *text = read_proc("/proc/%d/task/%d/children", pid, pid);
        size_t n = 0;

        for (char *p = text; *p; p++)
                n += *p == ' ';
        return n;
}

Test(spawn, init_reaps_orphans) {
        /* The subshell exits at once and leaves its "sleep 0" child to init. */
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "(sleep 0.2 &); (sleep 0.2 &); echo go; exec sleep 100");
        _cleanup_close_ int stdout_pipe = -EBADF;
        char buf[8] = {};
        SpawnHandle h;
        size_t n = 0;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        stdout_pipe = spawn_with_stdout_pipe(r, &h);
        cr_assert_eq(read(stdout_pipe, buf, sizeof buf - 1), 3);

        /* The orphans were init's children; once they exit only the command is left. */
        for (int i = 0; i < 200; i++) {
                n = count_children(h.pid);
                if (n == 1)
                        break;
                usleep(50 * 1000);
        }
        cr_assert_eq(n, 1, "init has %zu children left", n);

        kill_and_reap(&h, SIGKILL);
}

Test(spawn, init_without_pid_namespace_dies_of_the_same_signal) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "echo $$; exec sleep 100");
        _cleanup_close_ int stdout_pipe = -EBADF;
        char buf[32] = {};
        SpawnHandle h;

        r->init = 1;
        stdout_pipe = spawn_with_stdout_pipe(r, &h);
        cr_assert_gt(read(stdout_pipe, buf, sizeof buf - 1), 0);
        cr_assert_neq(atoi(buf), h.pid, "the command is a child of init");

        siginfo_t si = kill_and_reap(&h, SIGTERM);
        assert_killed(&si, SIGTERM);
}

Test(spawn, command_ends_with_init_killed_outside_pid_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "echo $$; exec sleep 1000");
        _cleanup_close_ int command_pidfd = -EBADF;
        _cleanup_close_ int stdout_pipe = -EBADF;
        char buf[32] = {};
        SpawnHandle h;

        r->init = 1;
        stdout_pipe = spawn_with_stdout_pipe(r, &h);
        cr_assert_gt(read(stdout_pipe, buf, sizeof buf - 1), 0);
        command_pidfd = pidfd_open(atoi(buf), 0);
        cr_assert_geq(command_pidfd, 0, "pidfd_open: %m");

        siginfo_t si = kill_and_reap(&h, SIGKILL);
        assert_killed(&si, SIGKILL);

        /* The command got SIGKILL when init died; it is not left running under the host's init. */
        struct pollfd p = { .fd = command_pidfd, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 30 * 1000), 1, "the command outlived init");
}

/* ---- fds ---- */

/*
 * Waits until the sandbox's sleep(1) sits in clock_nanosleep(): the report pipe reads EOF
 * as execve() runs, while the dynamic loader of the new program still opens and closes
 * files of its own (ld.so.cache, libc), which would show up as stray fds for a moment.
 */
static void wait_until_asleep(pid_t pid) {
        char path[64], buf[64];

        snprintf(path, sizeof path, "/proc/%d/syscall", (int) pid);
        for (int i = 0; i < 500; i++) {
                FILE *f = fopen(path, "re");
                bool asleep = false;

                cr_assert_not_null(f, "%s: %m", path);
                asleep = fgets(buf, sizeof buf, f) && atoi(buf) == SYS_clock_nanosleep;
                fclose(f);
                if (asleep)
                        return;
                usleep(10 * 1000);
        }
        cr_assert_fail("the sandbox's sleep did not reach clock_nanosleep()");
}

/* The fds open in a sandbox running sleep(1), once it is asleep. */
static void list_fds(pid_t pid, bool *ret_open, int max) {
        char path[64];
        DIR *d;
        struct dirent *de;

        wait_until_asleep(pid);
        for (int i = 0; i <= max; i++)
                ret_open[i] = false;
        snprintf(path, sizeof path, "/proc/%d/fd", (int) pid);
        d = opendir(path);
        cr_assert_not_null(d);
        while ((de = readdir(d))) {
                int fd;
                if (de->d_name[0] == '.')
                        continue;
                fd = atoi(de->d_name);
                cr_assert_leq(fd, max, "unexpected fd %d open in the sandbox", fd);
                ret_open[fd] = true;
        }
        closedir(d);
}

static ino_t proc_fd_inode(pid_t pid, int fd) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int) pid, fd);
        cr_assert_eq(stat(path, &st), 0, "%s: %m", path);
        return st.st_ino;
}

Test(spawn, only_requested_fds_are_open) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        int a[2], b[2], stray;
        bool open_fds[64];
        SpawnHandle h;

        cr_assert_eq(pipe2(a, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(b, O_CLOEXEC), 0);
        /* Not CLOEXEC and not asked for: must not get in. */
        stray = open("/dev/null", O_RDONLY);
        cr_assert_geq(stray, 0);

        int fds[] = { a[1], b[0] };
        r->stdout_index = 0;
        r->fds = memdup_or_die((const FdMapping[]) { { .target = 5, .fd_index = 1 } }, sizeof(FdMapping));
        r->n_fds = 1;
        spawn_ok(NULL, r, fds, ELEMENTSOF(fds), &h);

        list_fds(h.pid, open_fds, 63);
        for (int i = 0; i < 64; i++)
                cr_assert_eq(open_fds[i], i <= 2 || i == 5, "fd %d is %s", i, open_fds[i] ? "open" : "closed");
        cr_assert_eq(proc_fd_inode(h.pid, 1), fd_inode(a[1]));
        cr_assert_eq(proc_fd_inode(h.pid, 5), fd_inode(b[0]));
        struct stat null_st;
        cr_assert_eq(stat("/dev/null", &null_st), 0);
        cr_assert_eq(proc_fd_inode(h.pid, 0), null_st.st_ino);
        cr_assert_eq(proc_fd_inode(h.pid, 2), null_st.st_ino);

        /* And none of them close-on-exec leftovers: the flags line of 5 has no O_CLOEXEC. */
        _cleanup_free_ char *fdinfo = read_proc("/proc/%d/fdinfo/5", h.pid);
        _cleanup_free_ char *flags = status_field(fdinfo, "flags:");
        cr_assert_eq(strtoul(flags, NULL, 8) & O_CLOEXEC, 0);

        kill_and_reap(&h, SIGKILL);
        close(a[0]);
        close(a[1]);
        close(b[0]);
        close(b[1]);
        close(stray);
}

Test(spawn, fd_targets_colliding_with_sources) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        int a[2], b[2], c[2];
        bool open_fds[64];
        SpawnHandle h;

        cr_assert_eq(pipe2(a, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(b, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(c, O_CLOEXEC), 0);
        /* Sources sit at 20, 21 and 1 (our stdout); the targets swap them around. */
        cr_assert_eq(dup3(a[0], 20, O_CLOEXEC), 20);
        cr_assert_eq(dup3(b[0], 21, O_CLOEXEC), 21);
        int saved_stdout = fcntl(1, F_DUPFD_CLOEXEC, 30);
        cr_assert_eq(dup3(c[1], 1, 0), 1);

        int fds[] = { 20, 21, 1 };
        r->stdin_index = 1;  /* 21 -> 0 */
        r->stdout_index = 2; /* 1 -> 1 */
        r->fds = memdup_or_die((const FdMapping[]) {
                                       { .target = 21, .fd_index = 0 }, /* 20 -> 21 */
                                       { .target = 20, .fd_index = 2 }, /* 1 -> 20 */
                                       { .target = 3, .fd_index = 1 },  /* 21 -> 3 */
                               },
                               3 * sizeof(FdMapping));
        r->n_fds = 3;
        spawn_ok(NULL, r, fds, ELEMENTSOF(fds), &h);

        dup3(saved_stdout, 1, 0);
        close(saved_stdout);

        list_fds(h.pid, open_fds, 63);
        for (int i = 0; i < 64; i++)
                cr_assert_eq(open_fds[i], i <= 3 || i == 20 || i == 21, "fd %d", i);
        cr_assert_eq(proc_fd_inode(h.pid, 0), fd_inode(b[0]));
        cr_assert_eq(proc_fd_inode(h.pid, 1), fd_inode(c[1]));
        cr_assert_eq(proc_fd_inode(h.pid, 21), fd_inode(a[0]));
        cr_assert_eq(proc_fd_inode(h.pid, 20), fd_inode(c[1]));
        cr_assert_eq(proc_fd_inode(h.pid, 3), fd_inode(b[0]));

        kill_and_reap(&h, SIGKILL);
        close_many((int[]) { a[0], a[1], b[0], b[1], c[0], c[1], 20, 21 }, 8);
}

Test(spawn, bad_fd_requests_refused) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("true");
        int fds[] = { 0 };
        SpawnError e = {};
        SpawnHandle h;

        r->stdout_index = 1; /* no such index */
        cr_assert_eq(spawn_as(&root_caller, r, fds, 1, &h, &e), -EINVAL);

        r2->fds = memdup_or_die((const FdMapping[]) { { .target = 7, .fd_index = 0 }, { .target = 7, .fd_index = 0 } },
                                2 * sizeof(FdMapping));
        r2->n_fds = 2;
        cr_assert_eq(spawn_as(&root_caller, r2, fds, 1, &h, &e), -EINVAL);
}

/* The engine opens what every spawn shares (/dev/null) once: counts of fds start after that. */
static void first_spawn(void) {
        cr_assert_eq(spawn_setup_process(), 0);
}

/* A spawn worker frees its plan (and closes the plan's fds) once the child exec'd or died, a moment after
 * the report said so: counts of fds are taken when every worker is idle again. */
static void wait_spawn_workers_idle(void) {
        for (;;) {
                unsigned workers, idle;

                spawn_worker_stats(&workers, &idle);
                if (workers == idle)
                        break;
                usleep(1000);
        }
        /* As the daemon does when it stops: the last spawn's copy of its pidfd goes. */
        spawn_worker_flush_watches(true);
}

/* Each of several sandboxes started one after another, every one holding a worker until its exec, gets its
 * own fds: the same target numbers, other files. Where fds come by socket, each job's message is its own. */
Test(spawn, each_child_gets_the_fds_of_its_own_request) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        SpawnHandle h[16];
        int pipes[16][2];

        first_spawn();
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");

                cr_assert_eq(pipe2(pipes[i], O_CLOEXEC), 0);
                int fds[] = { pipes[i][1], pipes[i][0] };
                r->stdout_index = 0;
                r->fds = memdup_or_die((const FdMapping[]) { { .target = 5, .fd_index = 1 } }, sizeof(FdMapping));
                r->n_fds = 1;
                /* Half of them wait for their maps, so that several are before their exec at once. */
                if (i % 2 == 0) {
                        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID);
                        map_ids(r, ids, ELEMENTSOF(ids));
                }
                spawn_ok(NULL, r, fds, ELEMENTSOF(fds), &h[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                pid_t command = h[i].pid;

                /* Under an init, the command is init's child. */
                if (i % 2 == 0) {
                        _cleanup_free_ char *children = read_proc("/proc/%d/task/%d/children", h[i].pid, h[i].pid);

                        for (int tries = 0; tries < 3000 && !children[0]; tries++) {
                                free(children);
                                usleep(10000);
                                children = read_proc("/proc/%d/task/%d/children", h[i].pid, h[i].pid);
                        }
                        command = (pid_t) atoi(children);
                        cr_assert_gt(command, 0, "init %d has no child", (int) h[i].pid);
                }
                cr_assert_eq(proc_fd_inode(command, 1), fd_inode(pipes[i][1]), "sandbox %zu's stdout", i);
                cr_assert_eq(proc_fd_inode(command, 5), fd_inode(pipes[i][0]), "sandbox %zu's fd 5", i);
        }
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                kill_and_reap(&h[i], SIGKILL);
                close_many(pipes[i], 2);
        }
}

/* The spawn workers serve whether or not pidfd_getfd() is refused: by socket where it is. */
Test(spawn, spawn_workers_serve_where_pidfd_getfd_is_refused) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        unsigned workers = 0;
        SpawnHandle h;

        first_spawn();
        cr_assert_eq(spawn_worker_fds_by_socket(), pidfd_getfd_refused());
        spawn_ok(NULL, r, NULL, 0, &h);
        (void) reap(&h);
        spawn_worker_stats(&workers, NULL);
        cr_assert_gt(workers, 0U, "the spawn forked: no spawn worker was made");
}

static void write_pids_max(const char *dir, const char *value) {
        char path[600];

        snprintf(path, sizeof path, "%s/pids.max", dir);
        test_write_file(path, value, strlen(value), 0644);
}

static unsigned read_pids_current(const char *dir) {
        _cleanup_free_ char *text = read_proc("%s/pids.current", dir);

        return (unsigned) strtoul(text, NULL, 10);
}

/*
 * Calls visit(tid, status, userdata) for every thread of ours named name, or also for the calling thread where
 * with_self. A thread that ends while we walk (a worker that retires, a closer thread) is skipped: the
 * walk reads what is there, and an ended thread holds nothing.
 */
static void for_each_thread(const char *name, bool with_self, void (*visit)(pid_t tid, const char *status, void *userdata),
                            void *userdata) {
        DIR *tasks = opendir("/proc/self/task");

        cr_assert_not_null(tasks);
        for (struct dirent *de; (de = readdir(tasks));) {
                _cleanup_free_ char *thread_name = NULL;
                char path[300], status[16384];
                ssize_t n;
                pid_t tid;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                tid = atoi(de->d_name);
                snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT)
                        continue;
                cr_assert_geq(fd, 0, "open %s: %m", path);
                /* One read gives the whole file (a seq_file far smaller than the buffer). */
                n = read(fd, status, sizeof status - 1);
                close(fd);
                if (n < 0 && errno == ESRCH)
                        continue;
                cr_assert_gt(n, 0, "read %s: %m", path);
                status[n] = '\0';
                thread_name = status_field(status, "Name:");
                if ((with_self && tid == gettid()) || streq(thread_name, name))
                        visit(tid, status, userdata);
        }
        closedir(tasks);
}

static void count_thread(pid_t tid, const char *status, void *userdata) {
        (void) tid;
        (void) status;
        (*(unsigned *) userdata)++;
}

/* The threads named as spawn workers are. */
static unsigned spawn_worker_threads(void) {
        unsigned n = 0;

        for_each_thread(SPAWN_WORKER_NAME, false, count_thread, &n);
        return n;
}

/* Until every worker counted is idle and is a thread already (not one still being started). */
static void wait_spawn_worker_threads_idle(void) {
        for (;;) {
                unsigned workers, idle;

                spawn_worker_stats(&workers, &idle);
                if (workers == idle && spawn_worker_threads() == workers)
                        return;
                usleep(1000);
        }
}

/* Moves the test process into fresh test cgroups named prefix-PID and returns their v1 pids directory (the
 * test is skipped without one), whose pids.max the test squeezes. */
static const char *enter_pids_test_cgroup(TestCgroup *t, const char *prefix) {
        const char *pids;
        char name[64];

        if (!test_cgroup_controller_is_v1("pids"))
                cr_skip_test("needs a cgroup v1 pids hierarchy");
        snprintf(name, sizeof name, "%s-%d", prefix, (int) getpid());
        test_cgroup_create(t, name);
        test_cgroup_enter(t);
        pids = test_cgroup_dir(t, "pids");
        cr_assert_not_null(pids);
        return pids;
}

/*
 * Spawns r, which may fail at clone3() with EAGAIN a few times (a worker thread that could not be started
 * under a pids limit just lifted takes a spawn with it: the one that claimed it meanwhile), then succeeds.
 */
static void spawn_ok_after_failed_worker_starts(SpawnRequest *r, SpawnHandle *h) {
        for (int tries = 0;; tries++) {
                SpawnError e = {};
                int k = spawn_as(&root_caller, r, NULL, 0, h, &e);

                if (k == 0) {
                        cr_assert_eq(wait_report(h, &e), 0, "child failed: stage=%s message=%s", e.stage, e.message);
                        return;
                }
                cr_assert_eq(k, -EAGAIN, "spawn_start: %d stage=%s message=%s", k, e.stage, e.message);
                cr_assert_str_eq(e.stage, "clone3");
                cr_assert_lt(tries, 8, "spawns keep failing: %s", e.message);
        }
}

/*
 * A spawn worker's thread that cannot be made (a pids limit on the daemon's cgroup, as a container's) fails
 * the spawn it was for, or none, and never leaves a spawn waiting for a worker that will not come: where fds
 * come by socket, a worker that served a spawn asks for a fresh one in its place, and that start failing
 * once left every later spawn of the daemon waiting for good. Here the spawns after each squeeze end.
 */
Test(spawn, a_worker_thread_that_cannot_start_stalls_no_spawn, .timeout = 120) {
        TestCgroup t;
        const char *pids;
        char max[32];

        first_spawn();
        pids = enter_pids_test_cgroup(&t, "test-spawn-pids");

        for (int round = 0; round < 30; round++) {
                _cleanup_(spawn_request_freep) SpawnRequest *a = REQUEST("sleep", "100");
                _cleanup_(spawn_request_freep) SpawnRequest *b = REQUEST("sleep", "100");
                _cleanup_(spawn_request_freep) SpawnRequest *c = REQUEST("true");
                SpawnHandle ha, hb, hc;
                SpawnError e = {};

                spawn_ok_after_failed_worker_starts(a, &ha);
                wait_spawn_worker_threads_idle();
                /* Room for one more task: b's child takes it, and whatever thread comes next finds none. */
                snprintf(max, sizeof max, "%u", read_pids_current(pids) + 1);
                write_pids_max(pids, max);
                if (spawn_as(&root_caller, b, NULL, 0, &hb, &e) == 0) {
                        (void) wait_report(&hb, &e);
                        kill_and_reap(&hb, SIGKILL);
                }
                write_pids_max(pids, "max");
                kill_and_reap(&ha, SIGKILL);

                spawn_ok_after_failed_worker_starts(c, &hc);
                (void) reap(&hc);
        }

        test_cgroup_leave(&t);
        wait_spawn_workers_idle();
        test_cgroup_destroy(&t, false);
}

/*
 * A spawn that fails in its worker before clone3() (here clone3() itself, under a pids limit with no room)
 * is answered before the worker closes its copies of the caller's fds: closing a copy of a caller's file on
 * FUSE waits for the server's answer to its flush, for as long as the caller's server likes, and the caller
 * waiting for the answer is the daemon's loop. The worker stays stuck in that close; the next spawn gets
 * another one.
 */
Test(spawn, a_worker_stuck_closing_a_callers_file_holds_up_no_caller, .timeout = 120) {
        _cleanup_(spawn_request_freep) SpawnRequest *warm = REQUEST("true");
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        _cleanup_(spawn_request_freep) SpawnRequest *next = REQUEST("true");
        FuseStallFile fuse;
        TestCgroup t;
        SpawnHandle h;
        SpawnError e = {};
        const char *pids;
        char max[32];
        int file;

        first_spawn();
        pids = enter_pids_test_cgroup(&t, "test-spawn-stuck");
        /* Our own close of it would block too: it is closed once the server is gone. */
        file = fuse_stall_file_open(&fuse, getpid());

        /* A worker waiting, then no room for its child. */
        spawn_ok(NULL, warm, NULL, 0, &h);
        (void) reap(&h);
        wait_spawn_worker_threads_idle();
        snprintf(max, sizeof max, "%u", read_pids_current(pids));
        write_pids_max(pids, max);
        r->stdin_index = 0;
        cr_assert_lt(spawn_as(&root_caller, r, &file, 1, &h, &e), 0, "the spawn succeeded with no room for it");
        cr_assert_str_eq(e.stage, "clone3");
        write_pids_max(pids, "max");
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000), "no worker closed its copy of the file");

        spawn_ok(NULL, next, NULL, 0, &h);
        (void) reap(&h);

        fuse_stall_file_stop(&fuse);
        close(file);
        wait_spawn_workers_idle();
        test_cgroup_leave(&t);
        test_cgroup_destroy(&t, false);
}

Test(spawn, no_fd_leak_after_many_spawns) {
        int before, after;

        first_spawn();
        before = fd_count_open();
        cr_assert_gt(before, 0);

        for (int i = 0; i < 200; i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = i % 10 == 9 ? REQUEST("/no/such") : REQUEST("true");
                SpawnError e = {};
                SpawnHandle h;

                if (i % 4 == 0)
                        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_USER);
                cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, &h, &e), 0, "%s", e.message);
                cr_assert_eq(wait_report(&h, &e), i % 10 == 9 ? 1 : 0);
                reap(&h);
        }

        wait_spawn_workers_idle();
        after = fd_count_open();
        cr_assert_eq(before, after, "%d fds before, %d after", before, after);
}

/* ---- failures leave nothing behind ---- */

Test(spawn, failure_before_reply_leaves_nothing) {
        static const IdMapping overlapping[] = { { 0, 100000, 100 }, { 50, 200000, 100 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        SpawnError e = {};
        SpawnHandle h = { .pid = -1, .pidfd = -1, .report_fd = -1 };
        siginfo_t si = {};
        int before;

        first_spawn();
        before = fd_count_open();
        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        r->uid_mappings = memdup_or_die(overlapping, sizeof overlapping);
        r->n_uid_mappings = 2;

        cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, &h, &e), -EINVAL);
        cr_assert_str_eq(e.stage, "uid_map");
        cr_assert_eq(e.error, EINVAL);
        cr_assert_eq(h.pidfd, -1, "the handle is untouched on failure");

        /* No child, not even a zombie, and no fd. */
        cr_assert_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
        wait_spawn_workers_idle();
        cr_assert_eq(fd_count_open(), before);
}

/*
 * The daemon frees the request once spawn_start() returned, long before the
 * child execs, and the child may run on the daemon's memory: what it reads
 * must be the plan's own. Scribbled over and freed before the release.
 */
Test(spawn, request_may_go_before_the_child_execs) {
        SpawnRequest *r = REQUEST("sh", "-c", "test \"$0\" = renamed && test \"$X\" = y && test \"$PWD\" = /tmp");
        SpawnContext c = { .caller = &root_caller };
        SpawnError e = {};
        SpawnHandle h;
        int k;

        r->argv0 = strdup("renamed");
        r->env = strv_from((const char *const[]) { "PATH=/usr/bin:/bin", "X=y", NULL });
        r->cwd = strdup("/tmp");
        r->namespaces = NAMESPACE_BIT(NAMESPACE_UTS);
        r->hostname = strdup("scribbled");
        c.request = r;
        cr_assert_eq(spawn_start(&c, &h, &e), 0, "%s", e.message);
        for (char **a = r->argv; *a; a++)
                memset(*a, 'x', strlen(*a));
        for (char **a = r->env; *a; a++)
                memset(*a, 'x', strlen(*a));
        memset(r->cwd, 'x', strlen(r->cwd));
        spawn_request_free(r);

        k = handshake_to_end(h.handshake, &e);
        cr_assert_eq(k, 0, "%s", e.message);
        h.handshake = spawn_handshake_free(h.handshake);
        cr_assert_eq(wait_report(&h, &e), 0, "%s: %s", e.stage, e.message);
        assert_exited((siginfo_t[]) { reap(&h) }, 0);
}

static unsigned thread_count(void) {
        _cleanup_free_ char *status = read_proc("/proc/self/status");
        _cleanup_free_ char *threads = status_field(status, "Threads:");

        return (unsigned) atoi(threads);
}

/* A child that stops itself on a spawn worker's memory, as a caller may stop its own sandbox's init there
 * after the spawn was answered (init leaves the memory only once the command exec'd). */
_noreturn_ static void stopping_child(void *userdata) {
        (void) syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
        for (;;)
                (void) syscall(SYS_pause);
}

static void count_done(void *userdata, bool cloned) {
        __atomic_store_n((uint32_t *) userdata, cloned ? 2 : 1, __ATOMIC_RELEASE);
}

/* It holds the worker no longer than the call's timeout: then it is killed, and the worker is done. */
Test(spawn, spawn_worker_kills_what_stays_past_its_timeout) {
        uint32_t done = 0;
        SpawnWorkerCall call = {
                .cgroup_fd = -EBADF,
                .timeout_msec = 100,
                .child = stopping_child,
                .done = count_done,
                .userdata = &done,
        };
        SpawnError e = {};
        struct pollfd pfd;
        siginfo_t si = {};
        pid_t pid;
        int pidfd;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        cr_assert_eq(spawn_setup_process(), 0);
        cr_assert_eq(spawn_worker_clone(&call, &pid, &pidfd, &e), 0, "%s", e.message);
        /* As the daemon's loop does in the iterations after the spawn's. */
        spawn_worker_flush_watches(false);
        spawn_worker_flush_watches(false);

        pfd = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        cr_assert_eq(poll(&pfd, 1, 60 * 1000), 1, "the stopped child was left where it was");
        cr_assert_eq(waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED), 0);
        cr_assert_eq(si.si_code, CLD_KILLED);
        cr_assert_eq(si.si_status, SIGKILL);
        close(pidfd);
        for (int i = 0; i < 60000 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++)
                usleep(1000);
        cr_assert_eq(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 2U, "the worker is still held");
        wait_spawn_workers_idle();
}

/*
 * Children on the daemon's memory, made by spawn workers: whatever becomes of
 * them (exec'd, failed in the child, killed before their release, with init
 * or without), every worker is idle again afterwards, the idle ones are
 * bounded, and no fd, zombie or thread is left.
 */
Test(spawn, spawn_workers_leave_nothing_behind) {
        unsigned threads_before, workers, idle;
        int before;

        first_spawn();
        before = fd_count_open();
        threads_before = thread_count();

        for (int round = 0; round < 3; round++) {
                SpawnHandle h[12];

                /* Several in flight at once, so several workers are busy together. */
                for (int i = 0; i < (int) ELEMENTSOF(h); i++) {
                        _cleanup_(spawn_request_freep) SpawnRequest *r = i % 4 == 1 ? REQUEST("/no/such") : REQUEST("true");
                        SpawnError e = {};

                        if (i % 2 == 0)
                                r->namespaces = NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_USER);
                        cr_assert_eq(spawn_as(&root_caller, r, NULL, 0, &h[i], &e), 0, "%s", e.message);
                }
                for (int i = 0; i < (int) ELEMENTSOF(h); i++) {
                        SpawnError e = {};

                        if (i % 4 == 3)
                                (void) kill_and_reap(&h[i], SIGKILL);
                        else {
                                cr_assert_eq(wait_report(&h[i], &e), i % 4 == 1 ? 1 : 0);
                                (void) reap(&h[i]);
                        }
                }
        }

        wait_spawn_workers_idle();
        spawn_worker_stats(&workers, &idle);
        cr_assert_leq(workers, 8U, "%u idle workers kept", workers);
        /* A worker that retired is no longer counted a moment before its thread is gone (where fds come by
         * socket every worker retires after its job). */
        for (int i = 0; i < 20000 && thread_count() > threads_before + workers; i++)
                (void) usleep(1000);
        cr_assert_leq(thread_count(), threads_before + workers);
        cr_assert_eq(fd_count_open(), before, "%d fds before, %d after", before, fd_count_open());
        siginfo_t si = {};
        cr_assert_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
}

/*
 * A caller's TCP socket lingering on close (SO_LINGER for an hour, unsent data its peer never reads) whose last
 * reference is the spawn worker's table, once the child failed before its exec: that close would wait until
 * the peer reads or the hour is over, and the worker with it. The worker gives it a moment, and is idle again
 * long before either.
 */
static void assert_spawn_workers_idle_soon(const char *what) {
        unsigned workers = 0, idle = 0;

        for (int i = 0; i < 20000; i++) {
                spawn_worker_stats(&workers, &idle);
                if (workers == idle)
                        return;
                usleep(1000);
        }
        cr_assert_eq(workers, idle, "a spawn worker waits in the last close of %s", what);
}

/*
 * Spawns a child that fails at execve() with fd as its fd 7, and lets go of fd while the child cannot fail yet:
 * the worker's copy is the last. The child of a user namespace waits for its maps: it is held until the
 * handshake, which writes them, releases it.
 */
static void spawn_failing_with_last_copy_of(int *fd) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/no/such");
        SpawnContext c = { .request = r, .message_fds = fd, .n_message_fds = 1, .caller = &nobody_caller,
                           .sandbox_user_ids = stand_in_sandbox_user_ids };
        SpawnError e = {};
        SpawnHandle h;
        int k;

        r->fds = memdup_or_die((const FdMapping[]) { { .target = 7, .fd_index = 0 } }, sizeof(FdMapping));
        r->n_fds = 1;
        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(r, ids, ELEMENTSOF(ids));
        cr_assert_eq(spawn_start(&c, &h, &e), 0, "%s: %s", e.stage, e.message);
        *fd = safe_close(*fd);
        k = handshake_to_end(h.handshake, &e);
        h.handshake = spawn_handshake_free(h.handshake);
        cr_assert_eq(k, 0, "%s: %s", e.stage, e.message);
        cr_assert_eq(wait_report(&h, &e), 1);
        (void) reap(&h);
}

Test(spawn, a_lingering_socket_holds_no_spawn_worker) {
        TestLingering l;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        first_spawn();
        test_lingering_new(&l, 3600);

        spawn_failing_with_last_copy_of(&l.fd);
        assert_spawn_workers_idle_soon("a lingering socket");
        test_lingering_release(&l);
}

/* The same socket in flight inside a unix socket the child had: its last close is the unix socket's. */
Test(spawn, a_lingering_socket_in_flight_holds_no_spawn_worker) {
        TestLingering l;
        int pair[2];

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        first_spawn();
        test_lingering_new(&l, 3600);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        test_send_with_fds(pair[0], "x", 1, &l.fd, 1);
        l.fd = safe_close(l.fd);
        pair[0] = safe_close(pair[0]);

        spawn_failing_with_last_copy_of(&pair[1]);
        assert_spawn_workers_idle_soon("a unix socket with a lingering socket in flight");
        test_lingering_release(&l);
}

/*
 * The same socket sent to a warm-pool entry that dies before it takes it: the hit's fds stay in flight in the
 * entry's sync socket, whose last close releases them. The entry is stopped before the hit and killed after
 * it, so it never receives them.
 */
Test(spawn, a_lingering_socket_in_flight_to_a_dead_pool_entry_holds_no_spawn_worker) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *shape = REQUEST("/");
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/no/such");
        SpawnContext fill = { .request = shape, .caller = &root_caller, .pooled = true };
        SpawnHandle entry, h;
        SpawnError e = {};
        TestLingering l;
        siginfo_t si;
        int k;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        first_spawn();
        test_lingering_new(&l, 3600);

        shape->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(shape, ids, ELEMENTSOF(ids));
        cr_assert_eq(spawn_start(&fill, &entry, &e), 0, "%s: %s", e.stage, e.message);
        k = handshake_to_end(entry.handshake, &e);
        cr_assert_eq(k, 0, "%s: %s", e.stage, e.message);
        for (;;) {
                struct pollfd p = { .fd = spawn_pool_parked_fd(&entry), .events = POLLIN };

                cr_assert_geq(poll(&p, 1, -1), 0);
                k = spawn_pool_read_parked(&entry);
                if (k != -EAGAIN)
                        break;
        }
        cr_assert_eq(k, 0, "the entry did not park");
        cr_assert_eq(pidfd_send_signal(entry.pidfd, SIGSTOP, NULL, 0), 0);
        cr_assert_eq(waitid(P_PIDFD, (id_t) entry.pidfd, &si, WSTOPPED), 0);

        /* The hit: the plan and the socket go into the stopped entry's sync socket. */
        r->namespaces = shape->namespaces;
        map_ids(r, ids, ELEMENTSOF(ids));
        r->fds = memdup_or_die((const FdMapping[]) { { .target = 7, .fd_index = 0 } }, sizeof(FdMapping));
        r->n_fds = 1;
        {
                SpawnContext c = { .request = r, .message_fds = &l.fd, .n_message_fds = 1, .caller = &root_caller };

                cr_assert_eq(spawn_start_pooled(&c, &entry, &h, &e), 0, "%s: %s", e.stage, e.message);
        }
        l.fd = safe_close(l.fd);
        h.handshake = spawn_handshake_free(h.handshake);
        entry.handshake = spawn_handshake_free(entry.handshake);
        (void) kill_and_reap(&h, SIGKILL);

        assert_spawn_workers_idle_soon("a lingering socket in flight to a dead warm-pool entry");
        test_lingering_release(&l);
        entry.pool_slot = spawn_pool_slot_unref(entry.pool_slot);
        free(entry.groups);
}

/*
 * One user's calls hold at most SPAWN_WORKERS_PER_OWNER_MAX spawn workers, counted until each worker is free
 * again (its last close of a caller's FUSE file may hold it past the spawn's answer); past that share the
 * user's spawns fork, and the other users keep the workers. Children held before their release hold their
 * workers here. Root is not counted.
 */
Test(spawn, one_user_holds_at_most_its_share_of_spawn_workers) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        SpawnHandle held[SPAWN_WORKERS_PER_OWNER_MAX + 1], root_held;
        unsigned workers, idle;

        if (!spawn_worker_supported())
                cr_skip_test("no spawn workers on this architecture");
        first_spawn();
        wait_spawn_workers_idle();

        for (size_t i = 0; i < ELEMENTSOF(held); i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
                SpawnContext c = { .request = r, .caller = &nobody_caller };
                SpawnError e = {};

                /* A user namespace waits for its maps: the child is held until the handshake releases it. */
                r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
                map_ids(r, ids, ELEMENTSOF(ids));
                cr_assert_eq(spawn_start(&c, &held[i], &e), 0, "%s: %s", e.stage, e.message);
                cr_assert_leq(spawn_worker_owner_busy(65534), SPAWN_WORKERS_PER_OWNER_MAX);
        }
        cr_assert_eq(spawn_worker_owner_busy(65534), SPAWN_WORKERS_PER_OWNER_MAX,
                     "%u workers held by the user's calls", spawn_worker_owner_busy(65534));
        spawn_worker_stats(&workers, &idle);
        cr_assert_eq(workers - idle, SPAWN_WORKERS_PER_OWNER_MAX, "%u busy workers: the last call forked",
                     workers - idle);

        /* Another caller still gets one. */
        {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
                SpawnContext c = { .request = r, .caller = &root_caller };
                SpawnError e = {};

                r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
                map_ids(r, ids, ELEMENTSOF(ids));
                cr_assert_eq(spawn_start(&c, &root_held, &e), 0, "%s: %s", e.stage, e.message);
                spawn_worker_stats(&workers, &idle);
                cr_assert_eq(workers - idle, SPAWN_WORKERS_PER_OWNER_MAX + 1);
        }

        for (size_t i = 0; i < ELEMENTSOF(held); i++) {
                held[i].handshake = spawn_handshake_free(held[i].handshake);
                (void) kill_and_reap(&held[i], SIGKILL);
        }
        root_held.handshake = spawn_handshake_free(root_held.handshake);
        (void) kill_and_reap(&root_held, SIGKILL);
        wait_spawn_workers_idle();
        cr_assert_eq(spawn_worker_owner_busy(65534), 0);
}

Test(spawn, child_failure_before_release_is_reported) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        _cleanup_close_ int not_ns = open("/dev/null", O_RDONLY | O_CLOEXEC);
        SpawnError e = {};
        SpawnHandle h;
        siginfo_t si = {};

        /* setns() on something that is no namespace fails in the child, before the release. */
        join_namespace(r, NAMESPACE_NET, 0);
        cr_assert_eq(spawn_as(&root_caller, r, &not_ns, 1, &h, &e), -EINVAL);
        cr_assert_str_eq(e.stage, "setns");
        cr_assert_eq(e.error, EINVAL);
        cr_assert_str_eq(e.message, "net: Invalid argument");
        cr_assert_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        cr_assert_eq(errno, ECHILD);
}

/* ---- joining ---- */

Test(spawn, join_namespaces_by_pidfd_and_ns_fd) {
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sleep", "100");
        _cleanup_close_ int uts_fd = -EBADF;
        char path[64];
        SpawnHandle a, b;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_NET) | NAMESPACE_BIT(NAMESPACE_UTS) | NAMESPACE_BIT(NAMESPACE_IPC);
        spawn_ok(NULL, ra, NULL, 0, &a);

        snprintf(path, sizeof path, "/proc/%d/ns/uts", a.pid);
        uts_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(uts_fd, 0);

        int fds[] = { a.pidfd, uts_fd };
        join_namespace(rb, NAMESPACE_NET, 0);
        join_namespace(rb, NAMESPACE_UTS, 1);
        rb->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT);
        spawn_ok(NULL, rb, fds, ELEMENTSOF(fds), &b);

        cr_assert_eq(ns_inode(b.pid, "net"), ns_inode(a.pid, "net"));
        cr_assert_eq(ns_inode(b.pid, "uts"), ns_inode(a.pid, "uts"));
        cr_assert_eq(ns_inode(b.pid, "ipc"), ns_inode(0, "ipc"), "ipc was not joined");
        cr_assert_neq(ns_inode(b.pid, "mnt"), ns_inode(0, "mnt"));

        kill_and_reap(&b, SIGKILL);
        kill_and_reap(&a, SIGKILL);
}

Test(spawn, new_namespaces_belong_to_a_joined_user_namespace) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sleep", "100");
        _cleanup_close_ int net_fd = -EBADF, owner_fd = -EBADF;
        _cleanup_free_ char *status = NULL, *uid = NULL;
        char path[64];
        SpawnHandle a, b;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(ra, ids, ELEMENTSOF(ids));
        spawn_ok(NULL, ra, NULL, 0, &a);

        join_namespace(rb, NAMESPACE_USER, 0);
        rb->namespaces = NAMESPACE_BIT(NAMESPACE_NET);
        spawn_ok(NULL, rb, &a.pidfd, 1, &b);

        cr_assert_eq(ns_inode(b.pid, "user"), ns_inode(a.pid, "user"));
        snprintf(path, sizeof path, "/proc/%d/ns/net", b.pid);
        net_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(net_fd, 0);
        owner_fd = ioctl(net_fd, NS_GET_USERNS);
        cr_assert_geq(owner_fd, 0, "NS_GET_USERNS: %m");
        cr_assert_eq(fd_inode(owner_fd), ns_inode(a.pid, "user"), "the new net namespace belongs to the joined user ns");

        status = read_proc("/proc/%d/status", b.pid);
        uid = status_field(status, "Uid:");
        cr_assert_str_eq(uid, "100000\t100000\t100000\t100000");

        kill_and_reap(&b, SIGKILL);
        kill_and_reap(&a, SIGKILL);
}

/* The ids a sandbox runs as in its user namespace are for that namespace alone: the plan asks about the one it
 * resolved and joins, whatever a pidfd's process was in before. */
Test(spawn, joined_user_ids_count_only_in_their_namespace) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sleep", "100");
        _cleanup_free_ char *status = NULL, *uid = NULL;
        SpawnHandle a, b;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(ra, ids, ELEMENTSOF(ids));
        spawn_ok(NULL, ra, NULL, 0, &a);
        join_namespace(rb, NAMESPACE_USER, 0);

        for (int of_it = 0; of_it < 2; of_it++) {
                sandbox_ids = (SpawnIds) { .uid = 5, .gid = 6 };
                sandbox_user_namespace = ns_inode(a.pid, "user") + (of_it ? 0 : 1);
                spawn_ok(NULL, rb, &a.pidfd, 1, &b);
                sandbox_user_namespace = 0;

                status = read_proc("/proc/%d/status", b.pid);
                uid = status_field(status, "Uid:");
                cr_assert_str_eq(uid, of_it ? "100005\t100005\t100005\t100005" : "100000\t100000\t100000\t100000");
                free(TAKE_PTR(status));
                free(TAKE_PTR(uid));
                kill_and_reap(&b, SIGKILL);
        }
        kill_and_reap(&a, SIGKILL);
}

/*
 * A network namespace of the host's user namespace and another sandbox's user
 * namespace, joined together: the child is still root of the daemon's user
 * namespace when it joins the network one, and enters the user namespace
 * last (inside it, it would hold no capability over the other).
 */
Test(spawn, joins_enter_the_user_namespace_last) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rn = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sleep", "100");
        SpawnHandle a, n, b;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(ra, ids, ELEMENTSOF(ids));
        spawn_ok(NULL, ra, NULL, 0, &a);
        rn->namespaces = NAMESPACE_BIT(NAMESPACE_NET);
        spawn_ok(NULL, rn, NULL, 0, &n);

        join_namespace(rb, NAMESPACE_USER, 0);
        join_namespace(rb, NAMESPACE_NET, 1);
        spawn_ok(NULL, rb, (const int[]) { a.pidfd, n.pidfd }, 2, &b);
        cr_assert_eq(ns_inode(b.pid, "user"), ns_inode(a.pid, "user"));
        cr_assert_eq(ns_inode(b.pid, "net"), ns_inode(n.pid, "net"));

        kill_and_reap(&b, SIGKILL);
        kill_and_reap(&n, SIGKILL);
        kill_and_reap(&a, SIGKILL);
}

Test(spawn, join_pid_namespace_with_and_without_init) {
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sh", "-c", "echo $$");
        _cleanup_(spawn_request_freep) SpawnRequest *rc = REQUEST("sh", "-c", "echo $$; exec sleep 100");
        _cleanup_free_ char *out = NULL, *stat = NULL;
        char line[32] = "";
        SpawnHandle a, c;
        int fd;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        spawn_ok(NULL, ra, NULL, 0, &a);

        join_namespace(rb, NAMESPACE_PID, 0);
        out = run_capture_fds(NULL, rb, &a.pidfd, 1, NULL);
        /* A's init is 1 and its sleep 2: the newcomer gets a later pid in that namespace. */
        cr_assert_gt(atoi(out), 2, "%s", out);

        /* Without init the command itself is the process the caller gets, born in the namespace. */
        join_namespace(rc, NAMESPACE_PID, 0);
        rc->init = 0;
        fd = spawn_with_stdout_pipe_fds(rc, &a.pidfd, 1, &c);
        cr_assert_gt(read(fd, line, sizeof line - 1), 0);
        safe_close(fd);
        cr_assert_gt(atoi(line), 2, "%s", line);
        cr_assert_eq(ns_inode(c.pid, "pid"), ns_inode(a.pid, "pid"));
        /* the reported process is the shell that echoed its pid in there */
        stat = read_proc("/proc/%d/status", c.pid);
        {
                _cleanup_free_ char *nspid = status_field(stat, "NSpid:");
                char want[64];

                line[strcspn(line, "\n")] = 0;
                snprintf(want, sizeof want, "%d\t%s", (int) c.pid, line);
                cr_assert_str_eq(nspid, want);
        }

        kill_and_reap(&c, SIGKILL);
        kill_and_reap(&a, SIGKILL);
}

Test(spawn, created_and_joined_is_refused) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        int fds[] = { 0 };
        SpawnError e = {};
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_NET);
        join_namespace(r, NAMESPACE_NET, 0);
        cr_assert_eq(spawn_as(&root_caller, r, fds, 1, &h, &e), -EINVAL);
        cr_assert_str_eq(e.stage, "prepare");
}

/* ---- non-root callers ---- */

Test(spawn, unprivileged_caller_gets_its_own_ids_and_no_capabilities) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/status");
        _cleanup_free_ char *out = NULL, *uid = NULL, *gid = NULL, *groups = NULL, *eff = NULL, *prm = NULL,
                            *inh = NULL, *amb = NULL, *nnp = NULL;

        out = run_capture(&nobody_caller, r, NULL);
        uid = status_field(out, "Uid:");
        gid = status_field(out, "Gid:");
        groups = status_field(out, "Groups:");
        eff = status_field(out, "CapEff:");
        prm = status_field(out, "CapPrm:");
        inh = status_field(out, "CapInh:");
        amb = status_field(out, "CapAmb:");
        nnp = status_field(out, "NoNewPrivs:");
        cr_assert_str_eq(uid, "65534\t65534\t65534\t65534");
        cr_assert_str_eq(gid, "65534\t65534\t65534\t65534");
        cr_assert_str_eq(groups, "");
        cr_assert_str_eq(eff, "0000000000000000");
        cr_assert_str_eq(prm, "0000000000000000");
        cr_assert_str_eq(inh, "0000000000000000");
        cr_assert_str_eq(amb, "0000000000000000");
        cr_assert_str_eq(nnp, "1");
}

/* The message of a refusal starts with the field it names ("user.uid: Operation not permitted"). */
static void assert_names_field(const SpawnError *e, const char *field) {
        size_t n = strlen(field);

        cr_assert(strncmp(e->message, field, n) == 0 && e->message[n] == ':', "expected %s, got %s", field, e->message);
}

/* Each id on its own, so that one check can never hide the absence of another. */
Test(spawn, unprivileged_caller_cannot_pick_other_ids) {
        static const struct {
                uint32_t uid, gid;
                const char *field;
        } cases[] = {
                { 0, 65534, "user.uid" },
                { 65533, 65534, "user.uid" },
                { 65534, 0, "user.gid" },
                { 65534, 65533, "user.gid" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
                SpawnError e = {};
                SpawnHandle h;

                r->has_user = true;
                r->uid = cases[i].uid;
                r->gid = cases[i].gid;
                cr_assert_eq(spawn_as(&nobody_caller, r, NULL, 0, &h, &e), -EPERM, "uid %u gid %u", cases[i].uid,
                             cases[i].gid);
                cr_assert_str_eq(e.stage, "credentials");
                assert_names_field(&e, cases[i].field);
        }

        /* a supplementary gid the caller does not have, alone */
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        SpawnError e = {};
        SpawnHandle h;

        r->has_user = true;
        r->uid = 65534;
        r->gid = 65534;
        r->additional_gids = memdup_or_die((const uint32_t[]) { 0 }, sizeof(uint32_t));
        r->n_additional_gids = 1;
        cr_assert_eq(spawn_as(&nobody_caller, r, NULL, 0, &h, &e), -EPERM);
        cr_assert_str_eq(e.stage, "credentials");
        assert_names_field(&e, "user.additionalGids[0]");
}

Test(spawn, unprivileged_caller_in_user_namespace) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("sleep", "100");
        _cleanup_free_ char *status = NULL, *uid = NULL, *setgroups = NULL, *nnp = NULL;
        SpawnHandle h;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_NET);
        map_ids(r, ids, ELEMENTSOF(ids));
        spawn_ok(&nobody_caller, r, NULL, 0, &h);

        /* Its own host ids from out here (0 inside), setgroups denied by default. */
        status = read_proc("/proc/%d/status", h.pid);
        uid = status_field(status, "Uid:");
        nnp = status_field(status, "NoNewPrivs:");
        cr_assert_str_eq(uid, "65534\t65534\t65534\t65534");
        cr_assert_str_eq(nnp, "1");
        setgroups = read_proc("/proc/%d/setgroups", h.pid);
        cr_assert_str_eq(setgroups, "deny\n");
        kill_and_reap(&h, SIGKILL);

        /* Maps that leave the caller out (a subuid range alone; the policy decides whether it may)
         * run it as the namespace's root, which the maps define. */
        free(status);
        free(uid);
        r2->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        r2->uid_mappings = memdup_or_die((const IdMapping[]) { { 0, 100000, 1 } }, sizeof(IdMapping));
        r2->n_uid_mappings = 1;
        r2->gid_mappings = memdup_or_die(ids, sizeof ids);
        r2->n_gid_mappings = 1;
        spawn_ok(&nobody_caller, r2, NULL, 0, &h);
        status = read_proc("/proc/%d/status", h.pid);
        uid = status_field(status, "Uid:");
        cr_assert_str_eq(uid, "100000\t100000\t100000\t100000");
        kill_and_reap(&h, SIGKILL);
}

static uid_t user_namespace_owner(pid_t pid) {
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        uid_t owner = (uid_t) -1;

        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %m", path);
        cr_assert_eq(ioctl(fd, NS_GET_OWNER_UID, &owner), 0, "NS_GET_OWNER_UID: %m");
        return owner;
}

/* The inode of the user namespace that owns pid's namespace of type (a /proc/PID/ns name). */
static ino_t owning_user_namespace(pid_t pid, const char *type) {
        char path[64];
        _cleanup_close_ int fd = -EBADF, owner = -EBADF;

        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, type);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %m", path);
        owner = ioctl(fd, NS_GET_USERNS);
        cr_assert_geq(owner, 0, "NS_GET_USERNS %s: %m", path);
        return fd_inode(owner);
}

/*
 * A non-root caller's new user namespace is the caller's, as if it had run
 * `unshare -U` itself, and so are the namespaces made with it: made by
 * clone3() or, with joins, by the child after joining. Root's stays root's.
 */
Test(spawn, new_user_namespace_belongs_to_the_caller) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *ra = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rb = REQUEST("sleep", "100");
        _cleanup_(spawn_request_freep) SpawnRequest *rc = REQUEST("sleep", "100");
        _cleanup_close_ int net_fd = -EBADF;
        char path[64];
        SpawnHandle a, b, c;

        ra->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_NET) |
                         NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_MOUNT) | NAMESPACE_BIT(NAMESPACE_TIME);
        map_ids(ra, ids, ELEMENTSOF(ids));
        spawn_ok(&nobody_caller, ra, NULL, 0, &a);
        cr_assert_eq(user_namespace_owner(a.pid), 65534);
        for (size_t i = 0; i < 4; i++) {
                static const char *const types[] = { "net", "pid", "mnt", "time" };

                cr_assert_eq(owning_user_namespace(a.pid, types[i]), ns_inode(a.pid, "user"), "%s", types[i]);
        }

        /* Joining its own sandbox's network namespace, which it may now, and a new user namespace after it. */
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int) a.pid);
        net_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(net_fd, 0);
        rb->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_UTS);
        map_ids(rb, ids, ELEMENTSOF(ids));
        join_namespace(rb, NAMESPACE_NET, 0);
        spawn_ok(&nobody_caller, rb, &net_fd, 1, &b);
        cr_assert_eq(user_namespace_owner(b.pid), 65534);
        cr_assert_eq(ns_inode(b.pid, "net"), ns_inode(a.pid, "net"));
        cr_assert_eq(owning_user_namespace(b.pid, "uts"), ns_inode(b.pid, "user"));

        rc->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(rc, ids, ELEMENTSOF(ids));
        spawn_ok(NULL, rc, NULL, 0, &c);
        cr_assert_eq(user_namespace_owner(c.pid), 0);

        /* The daemon went back to its own ids. */
        cr_assert_eq(geteuid(), 0);
        cr_assert_eq(getegid(), 0);

        kill_and_reap(&c, SIGKILL);
        kill_and_reap(&b, SIGKILL);
        kill_and_reap(&a, SIGKILL);
}

static void wait_blocked_reading(pid_t pid, int fd);

/* What a process of uid 65534 may do with pid: 0 if nothing of it was readable or traceable. */
static int probe_as_nobody(pid_t pid) {
        pid_t child = fork();
        int status;

        cr_assert_geq(child, 0);
        if (child == 0) {
                static const char *const files[] = { "mem", "environ", "ns/user", "ns/mnt" };
                char path[64];

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(100);
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        int fd;

                        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, files[i]);
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                        if (fd >= 0)
                                _exit(1 + (int) i);
                }
                snprintf(path, sizeof path, "/proc/%d/uid_map", (int) pid);
                if (open(path, O_WRONLY | O_CLOEXEC) >= 0)
                        _exit(10);
                if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0)
                        _exit(11);
                _exit(0);
        }
        cr_assert_eq(waitpid(child, &status, 0), child);
        cr_assert(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* A child the daemon has nothing to do for between clone3() and its first step (no "ready" to wait for, no
 * maps, offsets or hard limits to write) goes on without a release: its exec waits for no round trip through
 * the daemon's loop. The handshake is then over before it began. */
Test(spawn, a_child_with_nothing_to_wait_for_is_not_held) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        SpawnContext c = { .request = r, .caller = &root_caller };
        SpawnError e = {};
        SpawnHandle h;
        siginfo_t si;

        cr_assert_eq(spawn_start(&c, &h, &e), 0, "%s: %s", e.stage, e.message);
        cr_assert_lt(spawn_handshake_fd(h.handshake), 0);
        cr_assert_eq(wait_report(&h, &e), 0, "%s: %s", e.stage, e.message);
        cr_assert_eq(spawn_handshake_step(h.handshake, &e), 0);
        h.handshake = spawn_handshake_free(h.handshake);
        si = reap(&h);
        assert_exited(&si, 0);
}

/* The same for a child that becomes the sandbox's init: it keeps the sync socket for the EOF that tells it the
 * spawn was answered, but waits for no "go" before it starts the command. */
Test(spawn, an_init_with_nothing_to_wait_for_is_not_held) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        SpawnContext c = { .request = r, .caller = &root_caller };
        SpawnError e = {};
        SpawnHandle h;
        struct pollfd p;
        siginfo_t si;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        cr_assert_eq(spawn_start(&c, &h, &e), 0, "%s: %s", e.stage, e.message);
        cr_assert_lt(spawn_handshake_fd(h.handshake), 0);
        /* Before any step of the handshake: a child held for its release would never write its report. */
        p = (struct pollfd) { .fd = h.report_fd, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 10 * 1000), 1, "the command did not start before the child's release");
        cr_assert_eq(wait_report(&h, &e), 0, "%s: %s", e.stage, e.message);
        cr_assert_eq(spawn_handshake_step(h.handshake, &e), 0);
        /* Its answer: the sync socket closes, and init goes on to reap the command. */
        h.handshake = spawn_handshake_free(h.handshake);
        si = reap(&h);
        assert_exited(&si, 0);
}

/* Started, and left waiting for its release: the maps are not written yet. */
static void start_unreleased(SpawnRequest *r, const int *fds, size_t n_fds, SpawnHandle *ret) {
        SpawnContext c = { .request = r, .message_fds = fds, .n_message_fds = n_fds, .caller = &nobody_caller };
        SpawnError e = {};

        cr_assert_eq(spawn_start(&c, ret, &e), 0, "%s: %s", e.stage, e.message);
        /* A child that makes namespaces itself says when it did. */
        if (spawn_handshake_fd(ret->handshake) >= 0) {
                struct pollfd p = { .fd = spawn_handshake_fd(ret->handshake), .events = POLLIN };

                cr_assert_eq(poll(&p, 1, -1), 1);
        }
}

/*
 * Until execve() the child is a copy of the daemon's memory. Owning its user
 * namespace gives the caller every capability in there, ptrace included: the
 * child must be out of its reach, before its maps are written (the owner may
 * write a map of its own uid) and while it builds the sandbox.
 */
Test(spawn, caller_cannot_reach_its_child_before_exec) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        _cleanup_(spawn_request_freep) SpawnRequest *unreleased = REQUEST("true");
        _cleanup_(spawn_request_freep) SpawnRequest *joining = REQUEST("true");
        _cleanup_close_ int net_fd = -EBADF;
        int contents[2], k;
        char path[64];
        SpawnError e = {};
        SpawnHandle h, u, j;

        /* cloned by the daemon as the caller, not released yet */
        unreleased->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_NET);
        map_ids(unreleased, ids, ELEMENTSOF(ids));
        start_unreleased(unreleased, NULL, 0, &u);
        cr_assert_eq(user_namespace_owner(u.pid), 65534);
        k = probe_as_nobody(u.pid);
        cr_assert_eq(k, 0, "the caller reached a child before its maps were written (%d)", k);

        /* with a join first, its user namespace made by the child itself */
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int) u.pid);
        net_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(net_fd, 0);
        joining->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(joining, ids, ELEMENTSOF(ids));
        join_namespace(joining, NAMESPACE_NET, 0);
        start_unreleased(joining, &net_fd, 1, &j);
        cr_assert_eq(user_namespace_owner(j.pid), 65534);
        k = probe_as_nobody(j.pid);
        cr_assert_eq(k, 0, "the caller reached a joining child (%d)", k);

        /* building its file tree */
        cr_assert_eq(pipe2(contents, O_CLOEXEC), 0);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_MOUNT);
        map_ids(r, ids, ELEMENTSOF(ids));
        add_mount(r, MOUNT_FILE, "/f")->source_fd_index = 0;
        cr_assert_eq(spawn_as(&nobody_caller, r, contents, 1, &h, &e), 0, "%s: %s", e.stage, e.message);
        wait_blocked_reading(h.pid, contents[0]);
        cr_assert_eq(user_namespace_owner(h.pid), 65534);
        k = probe_as_nobody(h.pid);
        cr_assert_eq(k, 0, "the caller reached its sandbox's child before exec (%d)", k);

        kill_and_reap(&h, SIGKILL);
        close_many(contents, 2);
        j.handshake = spawn_handshake_free(j.handshake);
        kill_and_reap(&j, SIGKILL);
        u.handshake = spawn_handshake_free(u.handshake);
        kill_and_reap(&u, SIGKILL);
}

Test(spawn, unprivileged_caller_cannot_join_host_namespaces) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        _cleanup_close_ int net_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        SpawnError e = {};
        SpawnHandle h;

        cr_assert_geq(net_fd, 0);
        join_namespace(r, NAMESPACE_NET, 0);
        cr_assert_eq(spawn_as(&nobody_caller, r, &net_fd, 1, &h, &e), -EPERM);
        cr_assert_str_eq(e.stage, "setns");
}

/* ---- mounts, through mount-setup ---- */

Test(spawn, mounts_applied_in_the_child) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "cd /proc && echo [0-9]*; grep -c ' /mnt ' /proc/self/mountinfo");
        _cleanup_free_ char *out = NULL, *host_mountinfo = NULL;
        siginfo_t si;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT) | NAMESPACE_BIT(NAMESPACE_PID);
        r->root = strdup("/");
        add_mount(r, MOUNT_PROC, "/proc");
        add_mount(r, MOUNT_TMPFS, "/mnt");

        out = run_capture(NULL, r, &si);
        assert_exited(&si, 0);
        /* Its own /proc shows init and the shell only; the tmpfs is on /mnt in there, not out here. */
        cr_assert_str_eq(out, "1 2\n1\n");
        host_mountinfo = test_read_file("/proc/self/mountinfo");
        cr_assert_eq(strstr(host_mountinfo, " /mnt "), NULL);
}

Test(spawn, mounts_for_unprivileged_caller_in_user_namespace) {
        static const IdMapping ids[] = { { 1000, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sh", "-c", "id -u; touch /mnt/x && stat -c %u /mnt/x");
        _cleanup_free_ char *out = NULL;
        siginfo_t si;

        r->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT) | NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(r, ids, ELEMENTSOF(ids));
        r->root = strdup("/");
        add_mount(r, MOUNT_TMPFS, "/mnt")->mode = 0777;

        out = run_capture(&nobody_caller, r, &si);
        assert_exited(&si, 0);
        cr_assert_str_eq(out, "1000\n1000\n");
}

/* ---- terminals ---- */

/* Fields 1 (pid), 5 (pgrp), 7 (tty_nr) and 8 (tpgid) of a /proc/PID/stat text. */
static void parse_stat_tty(const char *stat, int *ret_pid, int *ret_pgrp, int *ret_tty, int *ret_tpgid) {
        const char *p = strrchr(stat, ')');
        int ppid, session;
        char state;

        cr_assert_not_null(p);
        cr_assert_eq(sscanf(stat, "%d", ret_pid), 1);
        cr_assert_eq(sscanf(p + 2, "%c %d %d %d %d %d", &state, &ppid, ret_pgrp, &session, ret_tty, ret_tpgid), 6);
}

static void open_pty(int *ret_master, int *ret_slave) {
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

        cr_assert_geq(master, 0);
        cr_assert_eq(grantpt(master), 0);
        cr_assert_eq(unlockpt(master), 0);
        *ret_slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert_geq(*ret_slave, 0);
        *ret_master = master;
}

Test(spawn, terminal_on_stdin_becomes_controlling_terminal) {
        for (int init = 0; init <= 1; init++) {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/stat");
                _cleanup_free_ char *out = NULL;
                int master, slave, pid, pgrp, tty, tpgid;

                open_pty(&master, &slave);
                r->stdin_index = 0;
                r->init = init;
                out = run_capture_fds(NULL, r, &slave, 1, NULL);
                parse_stat_tty(out, &pid, &pgrp, &tty, &tpgid);
                cr_assert_neq(tty, 0, "init=%d: no controlling terminal", init);
                cr_assert_eq(tpgid, pgrp, "init=%d: the command is not in the foreground", init);
                /* Under init the command leads its own group, so ^C does not hit init as well. */
                cr_assert_eq(pgrp, pid, "init=%d: the command is not its own process group", init);
                close(slave);
                close(master);
        }
}

Test(spawn, terminal_of_another_session_is_not_taken) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/stat");
        _cleanup_free_ char *out = NULL;
        int master, slave, pid, pgrp, tty, tpgid, ready[2];
        pid_t holder;
        char c;

        /* A process that holds the terminal as its own, as a caller's shell would. */
        open_pty(&master, &slave);
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        holder = fork();
        cr_assert_geq(holder, 0);
        if (holder == 0) {
                /* Gone with the test, even when an assertion ends it early. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                        _exit(1);
                (void) write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        cr_assert_eq(read(ready[0], &c, 1), 1, "the holder could not take the terminal");
        close(ready[0]);

        r->stdin_index = 0;
        out = run_capture_fds(NULL, r, &slave, 1, NULL);
        parse_stat_tty(out, &pid, &pgrp, &tty, &tpgid);
        cr_assert_eq(tty, 0, "the sandbox took a terminal that controls another session");

        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        close(slave);
        close(master);
}

Test(spawn, no_controlling_terminal_without_one_on_stdin) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/stat");
        _cleanup_free_ char *out = NULL;
        int pid, pgrp, tty, tpgid;

        out = run_capture(NULL, r, NULL);
        parse_stat_tty(out, &pid, &pgrp, &tty, &tpgid);
        cr_assert_eq(tty, 0);
}

/* ---- supplementary groups: a group that denies access keeps denying it ---- */

#define DENYING_GROUP 4242

static gid_t nobody_groups[] = { 65534, DENYING_GROUP };
static const Caller nobody_in_group_caller = {
        .uid = 65534,
        .gid = 65534,
        .groups = nobody_groups,
        .n_groups = ELEMENTSOF(nobody_groups),
        .privileged = false,
};

/* A directory anyone may enter, with "deny" (0604 root:4242: everybody but that group may read it)
 * and "allow" (0640 root:4242: only that group may). */
static void make_group_files(char *dir, char *deny, size_t deny_size, char *allow, size_t allow_size) {
        const struct {
                char *path;
                size_t size;
                const char *name;
                mode_t mode;
                const char *text;
        } files[] = {
                { deny, deny_size, "deny", 0604, "secret\n" },
                { allow, allow_size, "allow", 0640, "allowed\n" },
        };

        cr_assert_not_null(mkdtemp(dir), "mkdtemp: %m");
        cr_assert_eq(chmod(dir, 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_close_ int fd = -EBADF;

                snprintf(files[i].path, files[i].size, "%s/%s", dir, files[i].name);
                fd = open(files[i].path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                cr_assert_geq(fd, 0, "%s: %m", files[i].path);
                cr_assert_eq(write(fd, files[i].text, strlen(files[i].text)), (ssize_t) strlen(files[i].text));
                cr_assert_eq(fchown(fd, 0, DENYING_GROUP), 0);
                cr_assert_eq(fchmod(fd, files[i].mode), 0);
        }
}

static void remove_group_files(const char *dir, const char *deny, const char *allow) {
        (void) unlink(deny);
        (void) unlink(allow);
        (void) rmdir(dir);
}

/* Runs r as nobody in group 4242, which cats both files; asserts "deny" is refused and "allow" is read. */
static void assert_group_denies(SpawnRequest *r, const int *fds, size_t n_fds, const char *deny, const char *allow) {
        _cleanup_free_ char *out = NULL;
        siginfo_t si;

        r->argv = strv_from((const char *const[]) { "sh", "-c", "cat \"$1\" 2>&1; cat \"$2\"", "sh", deny, allow, NULL });
        out = run_capture_fds(&nobody_in_group_caller, r, fds, n_fds, &si);
        assert_exited(&si, 0);
        cr_assert_not_null(strstr(out, "Permission denied"), "the denying group was lost: %s", out);
        cr_assert_null(strstr(out, "secret"), "read a file its group may not read: %s", out);
        cr_assert_not_null(strstr(out, "allowed\n"), "lost a group it may use: %s", out);
}

static SpawnRequest *request_empty(void) {
        SpawnRequest *r = spawn_request_new();

        cr_assert_not_null(r);
        return r;
}

Test(spawn, caller_groups_kept_in_new_user_namespace) {
        static const IdMapping ids[] = { { 0, 65534, 1 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = request_empty();
        char dir[] = "/tmp/nsbox-groups-XXXXXX", deny[64], allow[64];

        make_group_files(dir, deny, sizeof deny, allow, sizeof allow);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(r, ids, ELEMENTSOF(ids));
        assert_group_denies(r, NULL, 0, deny, allow);
        remove_group_files(dir, deny, allow);
}

Test(spawn, caller_groups_kept_without_user_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = request_empty();
        char dir[] = "/tmp/nsbox-groups-XXXXXX", deny[64], allow[64];

        make_group_files(dir, deny, sizeof deny, allow, sizeof allow);
        assert_group_denies(r, NULL, 0, deny, allow);
        remove_group_files(dir, deny, allow);
}

/* A process of nobody's own in a user namespace it made (0 inside is nobody, setgroups denied), as `unshare -Ur` would. */
static pid_t fork_own_user_namespace(int *ret_pidfd) {
        int ready[2];
        pid_t pid;
        char c;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                static const char *const files[][2] = {
                        { "/proc/self/uid_map", "0 65534 1\n" },
                        { "/proc/self/setgroups", "deny\n" },
                        { "/proc/self/gid_map", "0 65534 1\n" },
                };

                close(ready[0]);
                /* The death signal goes with the credential change: set it after, so a failed test ends us too. */
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0 ||
                    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1 || prctl(PR_SET_DUMPABLE, 1) < 0 ||
                    unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        int fd = open(files[i][0], O_WRONLY | O_CLOEXEC);

                        if (fd < 0 || write(fd, files[i][1], strlen(files[i][1])) < 0)
                                _exit(1);
                        close(fd);
                }
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        cr_assert_eq(read(ready[0], &c, 1), 1, "the helper could not make its user namespace");
        close(ready[0]);
        *ret_pidfd = pidfd_open(pid, 0);
        cr_assert_geq(*ret_pidfd, 0);
        return pid;
}

Test(spawn, caller_groups_kept_in_joined_user_namespace) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = request_empty();
        char dir[] = "/tmp/nsbox-groups-XXXXXX", deny[64], allow[64];
        int pidfd;
        pid_t pid;

        make_group_files(dir, deny, sizeof deny, allow, sizeof allow);
        pid = fork_own_user_namespace(&pidfd);

        /* By pidfd: also what resolve the pidfd to its namespace goes through. */
        join_namespace(r, NAMESPACE_USER, 0);
        assert_group_denies(r, &pidfd, 1, deny, allow);

        (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        (void) waitpid(pid, NULL, 0);
        close(pidfd);
        remove_group_files(dir, deny, allow);
}

static void assert_holds_no_caller_groups(pid_t tid, const char *status, void *userdata) {
        _cleanup_free_ char *held = status_field(status, "Groups:");

        (void) userdata;
        held[strcspn(held, " \t")] = '\0';
        if (tid == gettid() && getgroups(0, NULL) != 0)
                cr_assert_str_eq(held, "4242", "the daemon kept a caller's groups");
        else
                cr_assert_str_eq(held, "", "thread %d kept a caller's groups", (int) tid);
}

/* Root's sandboxes get no supplementary groups where they do not set any, whatever groups the daemon
 * started with; and the daemon gives back a caller's groups right after clone3(). */
Test(spawn, groups_held_only_around_clone) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("cat", "/proc/self/status");
        _cleanup_(spawn_request_freep) SpawnRequest *r2 = REQUEST("true");
        _cleanup_free_ char *out = NULL, *groups = NULL;
        const gid_t own[] = { DENYING_GROUP };
        siginfo_t si;

        cr_assert_eq(setgroups(ELEMENTSOF(own), own), 0);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        r->setgroups = 0;
        map_ids(r, ids, ELEMENTSOF(ids));
        out = run_capture(NULL, r, NULL);
        groups = status_field(out, "Groups:");
        cr_assert_str_eq(groups, "");

        r2->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        free(run_capture(&nobody_in_group_caller, r2, &si));
        assert_exited(&si, 0);
        /* Whichever thread cloned (a spawn worker, or ours): none kept the caller's groups. Ours may keep
         * the ones it started with; the test runner's own threads are not the engine's. */
        wait_spawn_workers_idle();
        for_each_thread(SPAWN_WORKER_NAME, true, assert_holds_no_caller_groups, NULL);
}

/* ---- the child holds only the daemon fds its plan uses ---- */

typedef struct FdId {
        dev_t dev;
        ino_t ino;
} FdId;

static bool fd_id_of(const char *path, FdId *ret) {
        struct stat st;

        if (stat(path, &st) < 0)
                return false;
        *ret = (FdId) { st.st_dev, st.st_ino };
        return true;
}

static bool fd_id_in(const FdId *id, const FdId *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (list[i].dev == id->dev && list[i].ino == id->ino)
                        return true;
        return false;
}

/* Waits until pid sits in read() from our fd's file (at whatever number it has there): the "file" entry
 * copying from the pipe we hold open. */
static void wait_blocked_reading(pid_t pid, int fd) {
        struct stat want;

        cr_assert_eq(fstat(fd, &want), 0);
        for (;;) {
                _cleanup_free_ char *syscall_text = read_proc("/proc/%d/syscall", pid);
                unsigned long nr, child_fd;
                char path[64];
                struct stat st;

                if (sscanf(syscall_text, "%lu 0x%lx ", &nr, &child_fd) == 2 && nr == 0) {
                        snprintf(path, sizeof path, "/proc/%d/fd/%lu", (int) pid, child_fd);
                        if (stat(path, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
                                return;
                }
                cr_assert_eq(kill(pid, 0), 0, "the child is gone");
                usleep(1000);
        }
}

Test(spawn, child_holds_only_planned_fds_before_exec) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true");
        int contents[2], out[2], extra[2], stray_pipe[2], stray_null, self_pidfd;
        FdId planned[8], stray[3], id, report_id;
        size_t n_planned = 0;
        bool saw_nsfs = false;
        char problem[512] = "";
        char path[64], target[64];
        struct dirent *de;
        SpawnHandle h;
        DIR *d;

        cr_assert_eq(pipe2(contents, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, extra), 0);
        self_pidfd = pidfd_open(getpid(), 0);
        cr_assert_geq(self_pidfd, 0);
        /* Open in the daemon, close-on-exec, and nothing the request names: the child must not hold them. */
        cr_assert_eq(pipe2(stray_pipe, O_CLOEXEC), 0);
        stray_null = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(stray_null, 0);

        int fds[] = { contents[0], out[1], extra[0], self_pidfd };
        r->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT);
        r->root = strdup("/");
        add_mount(r, MOUNT_TMPFS, "/mnt");
        add_mount(r, MOUNT_FILE, "/mnt/file")->source_fd_index = 0;
        r->stdout_index = 1;
        r->fds = memdup_or_die((const FdMapping[]) { { .target = 7, .fd_index = 2 } }, sizeof(FdMapping));
        r->n_fds = 1;
        /* Our own net namespace, by pidfd: what the child holds is that namespace, not the pidfd. */
        join_namespace(r, NAMESPACE_NET, 3);

        SpawnError e = {};
        cr_assert_eq(spawn_as(&root_caller, r, fds, ELEMENTSOF(fds), &h, &e), 0, "%s: %s", e.stage, e.message);
        wait_blocked_reading(h.pid, contents[0]);

        /* What it may share with us: the message fds it uses (a pipe's two ends are one inode), /dev/null and
         * the namespace it joins (the plan that holds it lives until the child exec'd). */
        cr_assert(fd_id_of("/dev/null", &planned[n_planned++]));
        cr_assert(fd_id_of("/proc/self/ns/net", &planned[n_planned++]));
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
                cr_assert(fd_id_of(path, &planned[n_planned++]));
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", stray_pipe[0]);
        cr_assert(fd_id_of(path, &stray[0]));
        snprintf(path, sizeof path, "/proc/self/fd/%d", stray_null);
        cr_assert(fd_id_of(path, &stray[1]));
        snprintf(path, sizeof path, "/proc/self/fd/%d", self_pidfd);
        cr_assert(fd_id_of(path, &stray[2]));

        snprintf(path, sizeof path, "/proc/self/fd/%d", h.report_fd);
        cr_assert(fd_id_of(path, &report_id));

        snprintf(path, sizeof path, "/proc/%d/fd", h.pid);
        d = opendir(path);
        cr_assert_not_null(d);
        while ((de = readdir(d))) {
                char fd_path[400];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(fd_path, sizeof fd_path, "%s/%s", path, de->d_name);
                n = readlink(fd_path, target, sizeof target - 1);
                if (n < 0)
                        continue; /* closed meanwhile */
                target[n] = '\0';
                if (streq(target, "anon_inode:[pidfd]") && !problem[0])
                        snprintf(problem, sizeof problem, "fd %s is a pidfd", de->d_name);
                saw_nsfs = saw_nsfs || strncmp(target, "net:[", 5) == 0;
                if (!fd_id_of(fd_path, &id))
                        continue;
                if (fd_id_in(&id, stray, ELEMENTSOF(stray)) && !problem[0])
                        snprintf(problem, sizeof problem, "fd %s (%s) leaked into the child", de->d_name, target);
                /* Anything else of ours it holds must be planned; what it opened itself (the trees it builds) is not ours. */
                bool ours = false;
                DIR *self = opendir("/proc/self/fd");
                cr_assert_not_null(self);
                for (struct dirent *s; (s = readdir(self));) {
                        char self_path[400];
                        FdId self_id;

                        if (s->d_name[0] == '.' || atoi(s->d_name) == dirfd(self) || atoi(s->d_name) == h.report_fd)
                                continue;
                        snprintf(self_path, sizeof self_path, "/proc/self/fd/%s", s->d_name);
                        /* The report pipe (its read end: ours, and the spawn worker's copy) is the child's plumbing. */
                        if (fd_id_of(self_path, &self_id) && fd_id_in(&self_id, &report_id, 1))
                                continue;
                        if (fd_id_of(self_path, &self_id) && self_id.dev == id.dev && self_id.ino == id.ino)
                                ours = true;
                }
                closedir(self);
                if (ours && !fd_id_in(&id, planned, n_planned) && !problem[0])
                        snprintf(problem, sizeof problem, "fd %s (%s) is the daemon's and not planned", de->d_name,
                                 target);
        }
        closedir(d);
        if (!saw_nsfs && !problem[0])
                snprintf(problem, sizeof problem, "the joined namespace is not held as an nsfs fd");
        /* A child holding our end of the contents pipe would wait for EOF forever. */
        if (problem[0]) {
                kill_and_reap(&h, SIGKILL);
                cr_assert_fail("%s", problem);
        }

        /* Let it go: EOF on the contents, and it execs. */
        safe_close(contents[1]);
        cr_assert_eq(wait_report(&h, &e), 0, "%s: %s", e.stage, e.message);
        assert_exited((siginfo_t[]) { reap(&h) }, 0);
        close_many((int[]) { contents[0], out[0], out[1], extra[0], extra[1], stray_pipe[0], stray_pipe[1], stray_null,
                             self_pidfd },
                   9);
}

/* The size of pid's (or a thread's) fd table as /proc shows it: the slots, not the open fds. */
static unsigned fd_table_size(const char *status_path) {
        _cleanup_free_ char *status = read_proc("%s", status_path), *size = status_field(status, "FDSize:");

        return (unsigned) atoi(size);
}

typedef struct MostFds {
        size_t n;
        pid_t tid;
} MostFds;

/* The most fds a spawn worker holds, and which one. */
static void note_worker_fds(pid_t tid, const char *status, void *userdata) {
        MostFds *most = userdata;
        char fd_dir[64];
        size_t n = 0;
        DIR *fds;

        (void) status;
        snprintf(fd_dir, sizeof fd_dir, "/proc/self/task/%d/fd", (int) tid);
        fds = opendir(fd_dir);
        if (!fds && errno == ENOENT)
                return; /* retired meanwhile */
        cr_assert_not_null(fds);
        for (struct dirent *f; (f = readdir(fds));)
                n += f->d_name[0] != '.';
        closedir(fds);
        if (n > most->n)
                *most = (MostFds) { .n = n, .tid = tid };
}

/*
 * The child gets a copy of the cloning thread's fd table: with the daemon's (a pidfd per live sandbox) it
 * costs every spawn a copy of thousands of fds, and grows with the sandboxes alive. A spawn worker's is its
 * own, holding only what the plan needs, and empty again once the child exec'd.
 */
Test(spawn, child_copies_a_small_fd_table_whatever_the_daemon_holds) {
        static const IdMapping ids[] = { { 0, 100000, 65536 } };
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("sleep", "100");
        struct rlimit rl, saved;
        int many[2100], before;
        char path[64];
        SpawnHandle h;

        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
        if (saved.rlim_max < 2200)
                cr_skip_test("needs 2200 fds, the hard limit is %ju", (uintmax_t) saved.rlim_max);
        rl = (struct rlimit) { saved.rlim_max, saved.rlim_max };
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        first_spawn();
        before = fd_count_open();
        for (size_t i = 0; i < ELEMENTSOF(many); i++) {
                many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(many[i], 0);
        }
        cr_assert_geq(fd_table_size("/proc/self/status"), 2100U);

        r->namespaces = NAMESPACE_BIT(NAMESPACE_USER);
        map_ids(r, ids, ELEMENTSOF(ids));
        spawn_ok(NULL, r, NULL, 0, &h);
        snprintf(path, sizeof path, "/proc/%d/status", (int) h.pid);
        /* execve() keeps the table's size. */
        cr_assert_lt(fd_table_size(path), 2048U, "the child copied the daemon's fd table");
        kill_and_reap(&h, SIGKILL);

        /* Every worker's table holds only its own fds again: nothing of the plan is left there. */
        wait_spawn_workers_idle();
        /* stdio, the daemon's pidfd, its own pid namespace. A worker starting in a retired one's place (where
         * fds come by socket) holds one more a moment, as it opens its own. */
        for (int i = 0;; i++) {
                MostFds most = {};

                for_each_thread(SPAWN_WORKER_NAME, false, note_worker_fds, &most);
                if (most.n <= 5U || i == 20000)
                        cr_assert_leq(most.n, 5U, "spawn worker %d holds %zu fds", (int) most.tid, most.n);
                if (most.n <= 5U)
                        break;
                (void) usleep(1000);
        }

        close_many(many, ELEMENTSOF(many));
        cr_assert_eq(fd_count_open(), before);
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/*
 * EOF on the report pipe means exec only after the mark the child writes
 * right before execve(): a child killed before it (here while it copies a
 * "file" entry from a pipe we hold open) leaves EOF without it, and a command
 * that exec'd and exited at once leaves both.
 */
Test(spawn, report_tells_exec_from_death) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("true"), *r2 = REQUEST("true");
        bool reached_exec = false;
        uint64_t inodes[_NAMESPACE_TYPE_MAX];
        SpawnError e = {};
        SpawnHandle h;
        int contents[2], k;

        cr_assert_eq(pipe2(contents, O_CLOEXEC), 0);
        r->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT);
        add_mount(r, MOUNT_FILE, "/f")->source_fd_index = 0;
        cr_assert_eq(spawn_as(&root_caller, r, contents, 1, &h, &e), 0, "%s: %s", e.stage, e.message);
        wait_blocked_reading(h.pid, contents[0]);

        cr_assert_eq(pidfd_send_signal(h.pidfd, SIGKILL, NULL, 0), 0);
        do {
                struct pollfd p = { .fd = h.report_fd, .events = POLLIN };

                cr_assert_geq(poll(&p, 1, -1), 0);
                k = spawn_read_report(h.report_fd, &reached_exec, inodes, &e);
        } while (k == -EAGAIN);
        cr_assert_eq(k, -ECHILD, "%d", k);
        cr_assert_not(reached_exec);
        reap(&h);
        close_many(contents, 2);

        spawn_ok(NULL, r2, NULL, 0, &h);
        assert_exited((siginfo_t[]) { reap(&h) }, 0);
}

/* The command's namespaces as it sees them itself ("mnt:[4026531841]" per line), then it sleeps. */
#define NS_SCRIPT "for t in cgroup ipc mnt net pid time user uts; do readlink /proc/self/ns/$t; done; exec sleep 100"

/*
 * The process the caller gets (h.pid) is in every namespace the command is
 * in: with a pid namespace it is init, which must not stay in the host's time
 * namespace; with a joined pid namespace it must be in that one.
 */
static void assert_reported_process_in_commands_namespaces(const Caller *caller, SpawnRequest *r, const int *fds,
                                                           size_t n_fds) {
        _cleanup_free_ char *out = NULL;
        int pipe_fds[2], *all = calloc(n_fds + 1, sizeof(int));
        size_t got = 0;
        SpawnHandle h;
        char *line;

        cr_assert_not_null(all);
        cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        for (size_t i = 0; i < n_fds; i++)
                all[i] = fds[i];
        all[n_fds] = pipe_fds[1];
        r->stdout_index = (int) n_fds;
        spawn_ok(caller, r, all, n_fds + 1, &h);
        safe_close(pipe_fds[1]);
        free(all);

        out = calloc(1, 4096);
        cr_assert_not_null(out);
        for (unsigned lines = 0; lines < 8;) {
                ssize_t n = read(pipe_fds[0], out + got, 4095 - got);

                cr_assert_gt(n, 0, "the command wrote only: %s", out);
                for (ssize_t i = 0; i < n; i++)
                        lines += out[got + i] == '\n';
                got += (size_t) n;
        }
        safe_close(pipe_fds[0]);

        line = out;
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                static const char *const order[] = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" };
                char path[64], link[64] = {};
                char *end = strchr(line, '\n');

                *end = 0;
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) h.pid, order[t]);
                cr_assert_gt(readlink(path, link, sizeof link - 1), 0, "%s: %m", path);
                cr_assert_str_eq(link, line, "the reported process is in %s, the command in %s", link, line);
                line = end + 1;
        }
        kill_and_reap(&h, SIGKILL);
}

Test(spawn, reported_process_is_in_every_namespace) {
        /* every namespace created, init as pid 1, the clocks shifted */
        {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/bin/sh", "-c", NS_SCRIPT);

                r->namespaces = NAMESPACE_ALL;
                r->has_boottime_offset = true;
                r->boottime_offset = (TimeOffset) { .secs = 1000 };
                assert_reported_process_in_commands_namespaces(NULL, r, NULL, 0);
        }
        /* a non-root caller's: its own user namespace owns the time namespace */
        {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/bin/sh", "-c", NS_SCRIPT);

                r->namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID) |
                                NAMESPACE_BIT(NAMESPACE_TIME) | NAMESPACE_BIT(NAMESPACE_MOUNT);
                r->has_monotonic_offset = true;
                r->monotonic_offset = (TimeOffset) { .secs = 1000 };
                assert_reported_process_in_commands_namespaces(&nobody_caller, r, NULL, 0);
        }
        /* init without a pid namespace, and a time namespace */
        {
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/bin/sh", "-c", NS_SCRIPT);

                r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME) | NAMESPACE_BIT(NAMESPACE_UTS);
                r->init = 1;
                assert_reported_process_in_commands_namespaces(NULL, r, NULL, 0);
        }
        /* a joined pid namespace (a sandbox's), with a new time namespace */
        {
                _cleanup_(spawn_request_freep) SpawnRequest *holder = REQUEST("sleep", "100");
                _cleanup_(spawn_request_freep) SpawnRequest *r = REQUEST("/bin/sh", "-c", NS_SCRIPT);
                char path[64];
                SpawnHandle hh;
                int fd;

                holder->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
                spawn_ok(NULL, holder, NULL, 0, &hh);
                snprintf(path, sizeof path, "/proc/%d/ns/pid", (int) hh.pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                cr_assert_geq(fd, 0);

                r->namespaces = NAMESPACE_BIT(NAMESPACE_TIME);
                join_namespace(r, NAMESPACE_PID, 0);
                assert_reported_process_in_commands_namespaces(NULL, r, &fd, 1);
                safe_close(fd);
                kill_and_reap(&hh, SIGKILL);
        }
}
