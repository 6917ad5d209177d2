/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsboxd re-executing itself in place on SIGUSR2: keepAlive sandboxes and
 * their exit statuses carry over, the connected clients are told, sandboxes
 * without keepAlive die with their connection, the binary run is the one now
 * at the path the daemon was started from, and a re-exec that fails leaves the
 * old process serving. (The hand-over through systemd's fd store is tested
 * under a real systemd: tests/systemd/test-systemd.sh.)
 */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"

typedef struct Spawned {
        char id[64];
        pid_t pid;
        int pidfd;
} Spawned;

static Spawned spawn_ok_fds(int conn, const char *method, const char *params, const int *fds, size_t n_fds) {
        _cleanup_free_ int *rfds = NULL;
        size_t n_rfds = 0;
        struct json_object *r = test_call(conn, method, params, fds, n_fds, &rfds, &n_rfds);
        Spawned s = {};

        cr_assert_null(test_json_get(r, "error"), "Spawn failed: %s", json_object_to_json_string(r));
        cr_assert_eq(n_rfds, 1);
        snprintf(s.id, sizeof s.id, "%s", test_json_string(r, "parameters.id"));
        s.pid = (pid_t) json_object_get_int(test_json_get(r, "parameters.pid"));
        s.pidfd = rfds[0];
        json_object_put(r);
        return s;
}

static Spawned spawn_ok(int conn, const char *params, const int *fds, size_t n_fds) {
        return spawn_ok_fds(conn, "io.nsbox.Sandbox.Spawn", params, fds, n_fds);
}

static Spawned spawn_ok_method(int conn, const char *method, const char *params) {
        return spawn_ok_fds(conn, method, params, NULL, 0);
}

static struct json_object *call_id(int conn, const char *method, const char *id) {
        char p[128];

        snprintf(p, sizeof p, "{\"id\":\"%s\"}", id);
        return test_call(conn, method, p, NULL, 0, NULL, NULL);
}

/* The entry List gives for id, as "running", "exited 7", "killed SIGTERM"; "" if not listed. */
static void listed_state(const TestDaemon *d, const char *id, char *ret, size_t size) {
        int conn = test_daemon_connect(d);
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL), *l, *e, *v;

        ret[0] = 0;
        cr_assert(json_object_object_get_ex(json_object_object_get(r, "parameters"), "sandboxes", &l), "%s",
                  json_object_to_json_string(r));
        for (size_t i = 0; i < json_object_array_length(l); i++) {
                e = json_object_array_get_idx(l, i);
                if (strcmp(json_object_get_string(json_object_object_get(e, "id")), id) != 0)
                        continue;
                snprintf(ret, size, "%s", json_object_get_string(json_object_object_get(e, "state")));
                if (json_object_object_get_ex(e, "exitCode", &v))
                        snprintf(ret + strlen(ret), size - strlen(ret), " %d", json_object_get_int(v));
                if (json_object_object_get_ex(e, "signal", &v))
                        snprintf(ret + strlen(ret), size - strlen(ret), " %s", json_object_get_string(v));
        }
        json_object_put(r);
        test_disconnect(conn);
}

typedef struct Expect {
        const TestDaemon *d;
        const char *id;
        const char *state;
} Expect;

static bool state_is(void *userdata) {
        const Expect *e = userdata;
        char s[64];

        listed_state(e->d, e->id, s, sizeof s);
        return strcmp(s, e->state) == 0;
}

static bool pidfd_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        return poll(&p, 1, 5000) == 1;
}

/* What a process Exec starts in sandbox handle sees of itself: its confinement, ids and cwd, as its
 * captured stdout (malloc'ed). */
static char *exec_sees(const TestDaemon *d, const char *handle) {
        int conn = test_daemon_connect(d);
        char p[512];
        struct json_object *r;
        char *out;

        snprintf(p, sizeof p,
                 "{\"id\":\"%s\",\"argv\":[\"sh\",\"-c\",\"grep -E '^(Uid|Gid|Groups|Cap(Eff|Prm|Bnd)|NoNewPrivs|"
                 "Seccomp|Seccomp_filters):' /proc/self/status; pwd\"],\"captureOutput\":true}",
                 handle);
        Spawned e = spawn_ok_method(conn, "io.nsbox.Sandbox.Exec", p);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", e.id);
        cr_assert_eq(json_object_get_int(test_json_get(r, "parameters.exitCode")), 0, "%s", json_object_to_json_string(r));
        out = strdup(test_json_string(r, "parameters.stdout") ?: "");
        json_object_put(r);
        close(e.pidfd);
        test_disconnect(conn);
        return out;
}

/* A copy of the daemon's binary at a path of our own, so the test can replace what is there. */
static void copy_binary(const char *to) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && mv '%s.new' '%s'", getenv("NSBOXD"), to, to, to);
        cr_assert_eq(system(cmd), 0);
}

static void start_from(TestDaemon *d, const char *binary, const char *const *extra_args) {
        char *saved = strdup(getenv("NSBOXD"));

        setenv("NSBOXD", binary, 1);
        test_daemon_start(d, extra_args);
        setenv("NSBOXD", saved, 1);
        free(saved);
}

static ino_t exe_inode(pid_t pid) {
        char p[64];
        struct stat st;

        snprintf(p, sizeof p, "/proc/%d/exe", (int) pid);
        cr_assert(stat(p, &st) == 0);
        return st.st_ino;
}

Test(restart, reexec_keeps_keep_alive_sandboxes, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-reexec-XXXXXX", binary[128], state[64], cgroup_before[256];
        TestDaemon d;
        struct json_object *r;
        struct stat st;
        int conn, attached_conn, waiting_conn, gate[2], talk_gate[2], said[2], fds_before;
        Spawned exec_child;

        cr_assert(mkdtemp(dir));
        snprintf(binary, sizeof binary, "%s/nsboxd", dir);
        copy_binary(binary);
        start_from(&d, binary, NULL);
        conn = test_daemon_connect(&d);
        json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        /* A sandbox first: its user's cgroup stays open for the next one, before the re-exec and after it. */
        {
                Spawned first = spawn_ok(conn, "{\"argv\":[\"true\"]}", NULL, 0);

                json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", first.id));
                close(first.pidfd);
                /* Its entry's handles close after the reply, by the next call's answer. */
                json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        }
        fds_before = test_daemon_count_fds(&d);

        /* survivor runs on; leaver ends when we close its stdin, around the re-exec; attached has no keepAlive
         * and its connection stays open. */
        /* survivor has a name and what an Exec into it starts from: a user namespace, groups, a cwd, a
         * capability set and the default seccomp profile; a process Exec started runs in it. */
        Spawned survivor = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"],\"keepAlive\":true,\"name\":\"survivor\","
                                          "\"namespaces\":[\"user\",\"mount\"],\"cwd\":\"/tmp\","
                                          "\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}],"
                                          "\"gidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":10}],"
                                          "\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[3,5]},"
                                          "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
                                          "\"permitted\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"]}}",
                                    NULL, 0);
        _cleanup_free_ char *sees_before = exec_sees(&d, "survivor");
        {
                char p[256];
                snprintf(p, sizeof p, "{\"id\":\"%s\",\"argv\":[\"sleep\",\"1000\"],\"keepAlive\":true}", survivor.id);
                exec_child = spawn_ok_method(conn, "io.nsbox.Sandbox.Exec", p);
        }
        cr_assert(pipe2(gate, O_CLOEXEC) == 0);
        Spawned leaver = spawn_ok(conn, "{\"argv\":[\"sh\",\"-c\",\"read x; exit 7\"],\"stdin\":0,\"keepAlive\":true}",
                                  &gate[0], 1);
        close(gate[0]);
        Spawned exited = spawn_ok(conn, "{\"argv\":[\"sh\",\"-c\",\"exit 3\"],\"keepAlive\":true}", NULL, 0);
        cr_assert(pidfd_exited(exited.pidfd));
        /* Output captured before the re-exec and after it, through the same pipe. */
        cr_assert(pipe2(talk_gate, O_CLOEXEC) == 0);
        cr_assert(pipe2(said, O_CLOEXEC) == 0);
        Spawned talker = spawn_ok(conn, "{\"argv\":[\"sh\",\"-c\",\"echo before; echo >&3; read x; echo after\"],"
                                        "\"stdin\":0,\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":1}],"
                                        "\"captureOutput\":true,\"keepAlive\":true}",
                                  (int[]) { talk_gate[0], said[1] }, 2);
        close(talk_gate[0]);
        close(said[1]);
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", talker.id);
        snprintf(cgroup_before, sizeof cgroup_before, "%s", test_json_string(r, "parameters.sandbox.cgroup") ?: "");
        json_object_put(r);
        test_disconnect(conn);
        attached_conn = test_daemon_connect(&d);
        Spawned attached = spawn_ok(attached_conn, "{\"argv\":[\"sleep\",\"1000\"]}", NULL, 0);
        waiting_conn = test_daemon_connect(&d);
        {
                char p[128];
                snprintf(p, sizeof p, "{\"id\":\"%s\"}", survivor.id);
                test_send(waiting_conn, "io.nsbox.Sandbox.Wait", p, NULL, 0);
        }
        /* The Wait is in progress once a later call on another connection is answered. */
        listed_state(&d, survivor.id, state, sizeof state);

        /* Replaced by a new file: the re-exec runs what is at the path now. */
        copy_binary(binary);
        cr_assert(stat(binary, &st) == 0);
        cr_assert_neq(exe_inode(d.pid), st.st_ino);

        test_daemon_listen_notify(&d);
        /* "before" is written (in the pipe or already in the daemon's buffer) when it re-executes. */
        {
                char c;
                cr_assert_eq(read(said[0], &c, 1), 1);
                close(said[0]);
        }
        cr_assert(kill(d.pid, SIGUSR2) == 0);
        close(gate[1]);

        /* The call in progress is told; the connection then ends. */
        r = test_read_reply(waiting_conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.Restarting", "%s", json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(waiting_conn);

        /* Without keepAlive, a sandbox dies with its connection. */
        cr_assert(pidfd_exited(attached.pidfd), "the sandbox without keepAlive outlived its connection");
        test_disconnect(attached_conn);

        test_daemon_wait_notify(&d, "READY=1");
        d.notify_fd = safe_close(d.notify_fd);

        /* The same process, the new binary, the same sandboxes: one running, one ended in between, one that
         * had ended before and whose status nobody had read. */
        cr_assert(test_wait_until(state_is, &(Expect) { &d, leaver.id, "exited 7" }));
        cr_assert_eq(exe_inode(d.pid), st.st_ino, "the re-exec did not run the binary now at %s", binary);
        listed_state(&d, survivor.id, state, sizeof state);
        cr_assert_str_eq(state, "running");
        listed_state(&d, exited.id, state, sizeof state);
        cr_assert_str_eq(state, "exited 3");
        listed_state(&d, attached.id, state, sizeof state);
        cr_assert_str_eq(state, "");

        conn = test_daemon_connect(&d);
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", survivor.id);
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.sandbox.keepAlive")));
        cr_assert_eq(json_object_get_int(test_json_get(r, "parameters.sandbox.pid")), survivor.pid);
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", leaver.id);
        cr_assert_eq(json_object_get_int(test_json_get(r, "parameters.exitCode")), 7);
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", exited.id);
        cr_assert_eq(json_object_get_int(test_json_get(r, "parameters.exitCode")), 3);
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", talker.id);
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.cgroup") ?: "", cgroup_before);
        json_object_put(r);
        /* Its name still names it, and only it; an Exec into it starts from what it did before. */
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", "survivor");
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.id") ?: "", survivor.id, "%s",
                         json_object_to_json_string(r));
        json_object_put(r);
        r = test_call(conn, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"true\"],\"name\":\"survivor\"}", NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.NameInUse", "%s",
                         json_object_to_json_string(r));
        json_object_put(r);
        {
                _cleanup_free_ char *sees_after = exec_sees(&d, "survivor");
                cr_assert_str_eq(sees_after, sees_before);
                cr_assert(strstr(sees_before, "Seccomp:\t2\n") && strstr(sees_before, "/tmp\n") &&
                          strstr(sees_before, "Groups:\t3 5"), "%s", sees_before);
        }
        r = call_id(conn, "io.nsbox.Sandbox.Inspect", exec_child.id);
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.sandbox") ?: "", survivor.id, "%s",
                         json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.state") ?: "", "running");
        /* It still runs in every namespace of its sandbox, having made none. */
        cr_assert_str_eq(json_object_to_json_string_ext(test_json_get(r, "parameters.sandbox.joinedNamespaces"),
                                                        JSON_C_TO_STRING_PLAIN),
                         "[\"mount\",\"user\"]", "%s", json_object_to_json_string(r));
        json_object_put(r);
        /* A sandbox spawned now gets its cgroup beside the taken-over ones' (the re-executed daemon, still in
         * its leaf, found the same base). */
        {
                Spawned later = spawn_ok(conn, "{\"argv\":[\"true\"]}", NULL, 0);
                char expect[256];
                char *slash;

                snprintf(expect, sizeof expect, "%s", cgroup_before);
                slash = strrchr(expect, '/');
                cr_assert(slash, "%s", cgroup_before);
                snprintf(slash + 1, sizeof expect - (size_t) (slash + 1 - expect), "%s", later.id);
                r = call_id(conn, "io.nsbox.Sandbox.Inspect", later.id);
                cr_assert_str_eq(test_json_string(r, "parameters.sandbox.cgroup") ?: "", expect);
                json_object_put(r);
                json_object_put(call_id(conn, "io.nsbox.Sandbox.Wait", later.id));
                close(later.pidfd);
        }
        close(talk_gate[1]);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", talker.id);
        cr_assert_str_eq(test_json_string(r, "parameters.stdout"), "before\nafter\n", "%s", json_object_to_json_string(r));
        json_object_put(r);
        close(talker.pidfd);
        r = call_id(conn, "io.nsbox.Sandbox.Kill", survivor.id);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", survivor.id);
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGTERM", "%s", json_object_to_json_string(r));
        json_object_put(r);
        /* What Exec started in it died with it. */
        cr_assert(pidfd_exited(exec_child.pidfd), "the process Exec started outlived its sandbox");
        r = call_id(conn, "io.nsbox.Sandbox.Wait", exec_child.id);
        json_object_put(r);
        close(exec_child.pidfd);
        json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));

        /* Nothing left behind by either image. */
        cr_assert_eq(test_daemon_count_zombies(&d), 0);
        cr_assert_eq(test_daemon_count_fds(&d), fds_before, "fds: %d before, %d after", fds_before,
                     test_daemon_count_fds(&d));
        test_disconnect(conn);

        close(survivor.pidfd);
        close(leaver.pidfd);
        close(exited.pidfd);
        close(attached.pidfd);
        test_daemon_stop(&d);
        unlink(binary);
        rmdir(dir);
}

/* A binary that cannot be run: the re-exec fails late (execve itself), and the old process goes on. */
Test(restart, failed_reexec_keeps_serving, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-reexec-XXXXXX", binary[128], state[64];
        TestDaemon d;
        int conn, fd;

        cr_assert(mkdtemp(dir));
        snprintf(binary, sizeof binary, "%s/nsboxd", dir);
        copy_binary(binary);
        start_from(&d, binary, NULL);
        conn = test_daemon_connect(&d);
        Spawned survivor = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"],\"keepAlive\":true}", NULL, 0);
        test_disconnect(conn);

        /* Executable, but not a program. */
        unlink(binary);
        fd = open(binary, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        cr_assert(fd >= 0);
        cr_assert(write(fd, "\x7f" "ELF but not really", 19) == 19);
        close(fd);

        test_daemon_listen_notify(&d);
        cr_assert(kill(d.pid, SIGUSR2) == 0);
        test_daemon_wait_notify(&d, "READY=1");
        d.notify_fd = safe_close(d.notify_fd);
        /* Answered by the process that failed to re-exec: it serves again, with its sandboxes. */
        listed_state(&d, survivor.id, state, sizeof state);
        cr_assert_str_eq(state, "running");

        /* Not executable at all: refused before anything is torn down, an open connection stays. */
        chmod(binary, 0644);
        conn = test_daemon_connect(&d);
        json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        cr_assert(kill(d.pid, SIGUSR2) == 0);
        struct json_object *r = call_id(conn, "io.nsbox.Sandbox.Inspect", survivor.id);
        cr_assert_str_eq(test_json_string(r, "parameters.sandbox.state"), "running", "%s",
                         json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(conn);

        test_daemon_stop(&d); /* kills the survivor: no service manager to hand it to */
        cr_assert(pidfd_exited(survivor.pidfd));
        close(survivor.pidfd);
        unlink(binary);
        rmdir(dir);
}

/*
 * A request from inside a taken-over sandbox is known as one. Without
 * cgroups only the namespaces it made tell its processes from the host's:
 * the re-executed daemon must have indexed them again.
 */
Test(restart, reexec_knows_requests_from_inside, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-reexec-XXXXXX", binary[128], p[1024], want[128];
        TestDaemon d;
        struct json_object *r;
        int conn, gate[2];

        cr_assert(mkdtemp(dir));
        snprintf(binary, sizeof binary, "%s/nsboxd", dir);
        copy_binary(binary);
        start_from(&d, binary, (const char *const[]) { "--no-cgroups", NULL });
        conn = test_daemon_connect(&d);
        cr_assert(pipe2(gate, O_CLOEXEC) == 0);
        snprintf(p, sizeof p,
                 "{\"argv\":[\"sh\",\"-c\",\"read x; '%s' --socket '%s' run -- /bin/true 2>&1; echo rc=$?\"],"
                 "\"namespaces\":[\"net\",\"ipc\",\"uts\"],\"stdin\":0,\"captureOutput\":true,\"keepAlive\":true}",
                 getenv("NSBOX_CLI"), d.socket_path);
        Spawned insider = spawn_ok(conn, p, &gate[0], 1);
        close(gate[0]);
        test_disconnect(conn);

        test_daemon_listen_notify(&d);
        cr_assert(kill(d.pid, SIGUSR2) == 0);
        test_daemon_wait_notify(&d, "READY=1");
        d.notify_fd = safe_close(d.notify_fd);

        /* It asks only now, of the daemon that took it over. */
        close(gate[1]);
        conn = test_daemon_connect(&d);
        r = call_id(conn, "io.nsbox.Sandbox.Wait", insider.id);
        snprintf(want, sizeof want, "from inside sandbox %s", insider.id);
        cr_assert(strstr(test_json_string(r, "parameters.stdout") ?: "", want) &&
                          strstr(test_json_string(r, "parameters.stdout") ?: "", "rc=1"),
                  "%s", json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(conn);

        close(insider.pidfd);
        test_daemon_stop(&d);
        unlink(binary);
        rmdir(dir);
}

/*
 * A state whose record of a running sandbox does not check out (its exec base
 * calls root's sandbox unprivileged): the record is left out, and the process
 * behind the pidfd that came with it, which nobody could see, limit or end any
 * more, is killed and reaped.
 */
Test(restart, process_of_a_bad_record_is_killed, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-reexec-XXXXXX", path[100];
        int report[2], status;
        pid_t daemon, sleeper;
        int sleeper_fd;

        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/nsbox.sock", dir);
        cr_assert(pipe2(report, O_CLOEXEC) == 0);

        /* What a re-exec would pass: the child, the sleeper's parent, becomes the daemon. */
        daemon = fork();
        cr_assert_geq(daemon, 0);
        if (daemon == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                char text[2048], arg[64];
                int lfd, pidfd, state;
                pid_t child;

                child = fork();
                if (child == 0) {
                        execlp("sleep", "sleep", "1000", (char *) NULL);
                        _exit(127);
                }
                pidfd = (int) syscall(SYS_pidfd_open, child, 0);
                lfd = socket(AF_UNIX, SOCK_STREAM, 0);
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
                /* pidfd_open() makes it close-on-exec; a re-exec passes its fds open. */
                if (child < 0 || pidfd < 0 || fcntl(pidfd, F_SETFD, 0) < 0 || lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
                    listen(lfd, 16) < 0 || write(report[1], &child, sizeof child) != sizeof child)
                        _exit(1);
                snprintf(text, sizeof text,
                         "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[{\"info\":{\"id\":"
                         "\"0123456789abcdef0123456789abcdef\",\"pid\":%d,\"ownerUID\":0,\"namespaces\":[],"
                         "\"startTime\":1,\"keepAlive\":true,\"state\":\"running\"},\"creatorGID\":0,"
                         "\"creatorPID\":1,\"reaper\":\"self\",\"pidFileDescriptor\":"
                         "\"sandbox-0123456789abcdef0123456789abcdef\",\"execBase\":{\"uid\":0,\"gid\":0,"
                         "\"creatorUID\":0,\"creatorGID\":0}}],\"fds\":[{\"name\":\"listen\",\"fd\":%d},"
                         "{\"name\":\"sandbox-0123456789abcdef0123456789abcdef\",\"fd\":%d}]}",
                         (int) child, lfd, pidfd);
                state = memfd_create("state", MFD_ALLOW_SEALING);
                if (state < 0 || write(state, text, strlen(text)) != (ssize_t) strlen(text) ||
                    fcntl(state, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                        _exit(1);
                snprintf(arg, sizeof arg, "--deserialize=%d", state);
                execl(getenv("NSBOXD"), "nsboxd", "--socket", path, "--no-cgroups", arg, (char *) NULL);
                _exit(127);
        }
        close(report[1]);
        cr_assert_eq(read(report[0], &sleeper, sizeof sleeper), (ssize_t) sizeof sleeper);
        close(report[0]);
        sleeper_fd = (int) syscall(SYS_pidfd_open, sleeper, 0);
        cr_assert_geq(sleeper_fd, 0);

        /* Killed by the daemon, and reaped: its pidfd reads as ended, and /proc has no zombie of it. */
        cr_assert(pidfd_exited(sleeper_fd), "the process of the record left out was not killed");
        {
                char proc[64];
                struct stat st;
                int i;

                snprintf(proc, sizeof proc, "/proc/%d", (int) sleeper);
                for (i = 0; i < 500 && stat(proc, &st) == 0; i++)
                        usleep(10000);
                cr_assert_neq(stat(proc, &st), 0, "the killed process was not reaped");
        }
        close(sleeper_fd);

        cr_assert(kill(daemon, SIGTERM) == 0);
        cr_assert_eq(waitpid(daemon, &status, 0), daemon);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        unlink(path);
        rmdir(dir);
}

/*
 * After a re-exec, what connects from inside a taken-over sandbox is still known to come from it, by its
 * cgroup: one that made no namespace has nothing else to tell it by, and would be served as the host.
 */
Test(restart, a_taken_over_sandbox_is_known_by_its_cgroup, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-reexec-XXXXXX", binary[128], params[1024], out[1024] = "";
        const char *cli = getenv("NSBOX_CLI");
        TestDaemon d;
        int conn, gate[2], said[2];
        size_t len = 0;
        ssize_t n;

        cr_assert(cli, "$NSBOX_CLI must point to the nsbox binary under test");
        cr_assert(mkdtemp(dir));
        snprintf(binary, sizeof binary, "%s/nsboxd", dir);
        copy_binary(binary);
        start_from(&d, binary, NULL);

        conn = test_daemon_connect(&d);
        cr_assert(pipe2(gate, O_CLOEXEC) == 0);
        cr_assert(pipe2(said, O_CLOEXEC) == 0);
        snprintf(params, sizeof params,
                 "{\"argv\":[\"sh\",\"-c\",\"read x; %s --socket %s run -- true; echo status $?\"],"
                 "\"stdin\":0,\"stdout\":1,\"stderr\":1,\"keepAlive\":true}",
                 cli, d.socket_path);
        Spawned s = spawn_ok(conn, params, (int[]) { gate[0], said[1] }, 2);
        close(gate[0]);
        close(said[1]);
        test_disconnect(conn);

        test_daemon_listen_notify(&d);
        cr_assert(kill(d.pid, SIGUSR2) == 0);
        test_daemon_wait_notify(&d, "READY=1");
        d.notify_fd = safe_close(d.notify_fd);

        cr_assert_eq(write(gate[1], "\n", 1), 1);
        close(gate[1]);
        while ((n = read(said[0], out + len, sizeof out - 1 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        close(said[0]);
        snprintf(params, sizeof params, "nested request refused (from inside sandbox %s)", s.id);
        cr_assert(strstr(out, params), "%s", out);
        cr_assert(strstr(out, "status 125"), "%s", out);

        close(s.pidfd);
        test_daemon_stop(&d);
        unlink(binary);
        rmdir(dir);
}
