/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Nothing a caller does can stall nsboxd for another caller. A real nsboxd; an
 * attacker (nobody) that stops a spawn child at each point of the handshake,
 * passes a TCP socket whose close lingers, or a file whose FUSE server never
 * answers FLUSH, to every method; and a second user whose calls must still
 * be answered promptly. "Promptly" is a generous deadline (seconds): what is
 * checked is that the daemon does not wait for the attacker at all, which
 * before would have been for a minute or for ever.
 *
 * The attacker's connections are made by a child that drops to its uid and
 * hands the socket back, so the test (root) can send on them what it likes:
 * the daemon judges a connection by the credentials it had at connect().
 */

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "fuse-stall.h"
#include "nsboxd-test-util.h"
#include "test-util.h"
#include "varlink-message.h"
#include "varlink-wire.h"

#define NOBODY 65534
#define VICTIM_USER "nsbt-avail"
/* How long a victim's call may take. Generous: a stalled daemon would take a minute, or for ever. */
#define PROMPT_MSEC 10000
/* How long a lingering close waits for its peer: far longer than PROMPT_MSEC. */
#define LINGER_SEC 120

static TestDaemon daemon_;
static bool daemon_started;
static uid_t victim_uid;
static gid_t victim_gid;
static FuseStallFile fuse;
static pid_t helper = -1; /* the attacker's user namespace holder, or the tracer */

static void ensure_victim_user(void) {
        test_ensure_user(VICTIM_USER, &victim_uid, &victim_gid);
}

static void setup(void) {
        ensure_victim_user();
}

/* Kills what the daemon has running (a stopped or stuck spawn child), so a daemon that waits on one
 * can still be stopped when a test failed. */
static void kill_daemon_children(void) {
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[300], buf[512];
                int ppid = 0;
                char state;
                FILE *f;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(buf, sizeof buf, f)) {
                        char *e = strrchr(buf, ')');
                        if (e && sscanf(e + 1, " %c %d", &state, &ppid) == 2 && ppid == daemon_.pid)
                                (void) kill(atoi(de->d_name), SIGKILL);
                }
                fclose(f);
        }
        closedir(d);
}

static void teardown(void) {
        if (helper > 0) {
                (void) kill(helper, SIGKILL);
                (void) waitpid(helper, NULL, 0);
                helper = -1;
        }
        /* Every stalled close returns once the FUSE server is gone. */
        fuse_stall_file_stop(&fuse);
        if (daemon_started) {
                kill_daemon_children();
                test_daemon_stop(&daemon_);
        }
        daemon_started = false;
}

TestSuite(availability, .init = setup, .fini = teardown, .timeout = 240);

static void start(void) {
        /* Short, so the spawns that must time out do so quickly. */
        static const char *const args[] = { "--limit", "spawn-timeout=2", NULL };

        test_daemon_start(&daemon_, args);
        daemon_started = true;
}

static uint64_t now_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

/* ---- connections and raw messages ---- */

/* One GetInfo, its reply read to the end, or the daemon's hangup (a connection it refused). */
static void wait_until_admitted(int fd) {
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        char c;

        if (send(fd, call, sizeof call, MSG_NOSIGNAL) != (ssize_t) sizeof call)
                return;
        while (read(fd, &c, 1) == 1 && c != '\0')
                ;
}

/*
 * A connection to the daemon whose peer credentials are uid/gid's: made by a
 * child, handed back. The child stays until the daemon answered it once: the
 * daemon tells where a caller runs when it accepts the connection, from the
 * process that connected, and refuses to create anything for one that was
 * gone by then.
 */
static int connect_as(uid_t uid, gid_t gid) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        char byte = 'c';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        struct cmsghdr *c;
        int sv[2], fd, status;
        pid_t pid;

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(1);
                fd = test_daemon_connect(&daemon_);
                wait_until_admitted(fd);
                memset(&control, 0, sizeof control);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
                _exit(sendmsg(sv[1], &mh, 0) == 1 ? 0 : 1);
        }
        close(sv[1]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "could not connect as uid %u", (unsigned) uid);
        cr_assert_eq(recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC), 1);
        close(sv[0]);
        c = CMSG_FIRSTHDR(&mh);
        cr_assert(c && c->cmsg_type == SCM_RIGHTS);
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

/* One sendmsg() of data with fds; returns what it returned (-errno on failure), for a peer that may be gone. */
static ssize_t send_raw(int fd, const char *data, size_t size, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 16)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        cr_assert_leq(n_fds, 16U);
        if (n_fds > 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
}

/* Sends a call with fds, all of it but its final NUL: the daemon holds the fds, the call waits. */
static void send_call_unfinished(int conn, const char *method, const char *parameters, const int *fds, size_t n_fds) {
        struct json_object *params = parameters ? json_tokener_parse(parameters) : NULL, *call;
        const char *text;

        cr_assert(!parameters || params, "test bug: invalid JSON %s", parameters);
        call = varlink_call_new(method, params, 0);
        cr_assert_not_null(call);
        text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        test_send_with_fds(conn, text, strlen(text), fds, n_fds);
        json_object_put(call);
}

static void send_call_end(int conn) {
        test_send_with_fds(conn, "", 1, NULL, 0);
}

/* ---- the second user ---- */

typedef enum VictimCall {
        VICTIM_GET_INFO,
        VICTIM_SPAWN, /* with an fd of its own as stdout, which the daemon must close too */
} VictimCall;

/* In a child running as the victim: 0 if the call was answered without error within PROMPT_MSEC. */
static int victim_call(void *arg) {
        VictimCall what = *(const VictimCall *) arg;
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        struct json_object *call;
        VarlinkReader *r = NULL;
        VarlinkMessage m = {};
        uint64_t deadline = now_msec() + PROMPT_MSEC;
        const char *text;
        int conn, devnull, k;

        conn = test_daemon_connect(&daemon_);
        if (what == VICTIM_SPAWN) {
                struct cmsghdr *c;

                devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (devnull < 0)
                        return 2;
                call = varlink_call_new("io.nsbox.Sandbox.Spawn",
                                        json_tokener_parse("{\"argv\":[\"/bin/true\"],\"stdout\":0}"), 0);
                mh.msg_control = &control;
                mh.msg_controllen = sizeof control;
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &devnull, sizeof(int));
        } else
                call = varlink_call_new("org.varlink.service.GetInfo", NULL, 0);
        if (!call)
                return 2;
        text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        iov = (struct iovec) { .iov_base = (void *) text, .iov_len = strlen(text) + 1 };
        if (sendmsg(conn, &mh, MSG_NOSIGNAL) != (ssize_t) iov.iov_len)
                return 2;

        if (varlink_reader_new(NULL, &r) < 0)
                return 2;
        while ((k = varlink_reader_next(r, &m)) == 0) {
                struct pollfd p = { .fd = conn, .events = POLLIN };
                uint64_t now = now_msec();

                if (now >= deadline || poll(&p, 1, (int) (deadline - now)) <= 0) {
                        fprintf(stderr, "%s: no answer within %d ms\n", what == VICTIM_SPAWN ? "Spawn" : "GetInfo",
                                PROMPT_MSEC);
                        return 1;
                }
                k = varlink_reader_fill(r, conn);
                if (k < 0 && k != -EAGAIN)
                        return 2;
                if (k == 0)
                        return 2;
        }
        if (k < 0)
                return 2;
        if (json_object_object_get_ex(m.json, "error", NULL)) {
                fprintf(stderr, "answered with an error: %s\n", json_object_to_json_string(m.json));
                return 3;
        }
        return 0;
}

/* Runs fn as the victim, with its own group as a supplementary group too: its spawns then make the
 * daemon take the caller's groups around clone3(). Returns the exit status. */
static int run_as_victim(int (*fn)(void *), void *arg) {
        int status;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (setgroups(1, &victim_gid) < 0 || setresgid(victim_gid, victim_gid, victim_gid) < 0 ||
                    setresuid(victim_uid, victim_uid, victim_uid) < 0)
                        _exit(126);
                _exit(fn(arg));
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The second user's call is answered, promptly. */
static void assert_victim_served(VictimCall what) {
        int status = run_as_victim(victim_call, &what);

        cr_assert_eq(status, 0, "the second user's %s was not answered (%d)",
                     what == VICTIM_SPAWN ? "Spawn" : "GetInfo", status);
}

/* ---- what the attacker passes ---- */

/* One way to hand the daemon an fd. */
typedef enum Pass {
        PASS_GET_INFO,
        PASS_GET_INTERFACE_DESCRIPTION,
        PASS_WAIT,
        PASS_KILL,
        PASS_LIST,
        PASS_INSPECT,
        PASS_UNKNOWN_METHOD,
        PASS_SPAWN_REFUSED,
        PASS_SPAWN_STDIN,
        PASS_SPAWN_FAILING,      /* its child fails at execve(): a spawn worker holds the last copy */
        PASS_HANGUP_MID_MESSAGE, /* the connection closes while the daemon holds an unfinished message */
        PASS_HANGUP_UNREAD,      /* the connection closes with the message still in its socket buffer */
        _PASS_MAX,
} Pass;

static const struct {
        const char *name;
        const char *method;
        const char *parameters;
} passes[_PASS_MAX] = {
        [PASS_GET_INFO] = { "GetInfo", "org.varlink.service.GetInfo", NULL },
        [PASS_GET_INTERFACE_DESCRIPTION] = { "GetInterfaceDescription", "org.varlink.service.GetInterfaceDescription",
                                             "{\"interface\":\"io.nsbox.Sandbox\"}" },
        [PASS_WAIT] = { "Wait", "io.nsbox.Sandbox.Wait", "{\"id\":\"nosuch\"}" },
        [PASS_KILL] = { "Kill", "io.nsbox.Sandbox.Kill", "{\"id\":\"nosuch\"}" },
        [PASS_LIST] = { "List", "io.nsbox.Sandbox.List", NULL },
        [PASS_INSPECT] = { "Inspect", "io.nsbox.Sandbox.Inspect", "{\"id\":\"nosuch\"}" },
        [PASS_UNKNOWN_METHOD] = { "an unknown method", "io.nsbox.Sandbox.NoSuchMethod", NULL },
        [PASS_SPAWN_REFUSED] = { "a refused Spawn", "io.nsbox.Sandbox.Spawn", "{\"argv\":[],\"stdin\":0}" },
        [PASS_SPAWN_STDIN] = { "Spawn (stdin)", "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/bin/true\"],\"stdin\":0}" },
        [PASS_SPAWN_FAILING] = { "a Spawn that fails at execve()", "io.nsbox.Sandbox.Spawn",
                                 "{\"argv\":[\"/no/such\"],\"stdin\":0}" },
        [PASS_HANGUP_MID_MESSAGE] = { "a connection closed mid-message", "org.varlink.service.GetInfo", NULL },
        [PASS_HANGUP_UNREAD] = { "a connection closed with the message unread", "org.varlink.service.GetInfo", NULL },
};

/*
 * The attacker (nobody) hands the daemon fd one way. close_own, if given, is
 * called once the daemon holds the fd and before it can be done with it: the
 * attacker drops its own copy, so the daemon's is the last one.
 */
static void attacker_pass(Pass how, int fd, void (*close_own)(void *), void *userdata) {
        int conn = connect_as(NOBODY, NOBODY);

        if (how == PASS_HANGUP_UNREAD) {
                /* Replies nobody reads (some 2 MiB of interface descriptions): the daemon stops reading
                 * calls once they back up, long before it gets to the one with the fd. One write, so
                 * the calls take little of the socket's buffer. */
                static const char call[] = "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                                           "\"parameters\":{\"interface\":\"io.nsbox.Sandbox\"}}";
                static char calls[400 * sizeof call];

                for (size_t i = 0; i < 400; i++)
                        memcpy(calls + i * sizeof call, call, sizeof call);
                test_send_with_fds(conn, calls, sizeof calls, NULL, 0);
        }

        send_call_unfinished(conn, passes[how].method, passes[how].parameters, &fd, 1);
        if (close_own)
                close_own(userdata);
        if (how == PASS_HANGUP_MID_MESSAGE || how == PASS_HANGUP_UNREAD) {
                test_disconnect(conn);
                return;
        }
        send_call_end(conn);
        /* The reply does not matter; the connection stays open until the test ends. */
}

static void close_lingering_own(void *userdata) {
        TestLingering *l = userdata;

        l->fd = safe_close(l->fd);
}

/* ---- (b) a lingering TCP socket ---- */

/* Every way to pass an fd, each a test of its own (a daemon stalled by one cannot tell about the next). */
static struct criterion_test_params every_pass(void) {
        static Pass all[_PASS_MAX];

        for (Pass how = 0; how < _PASS_MAX; how++)
                all[how] = how;
        return cr_make_param_array(Pass, all, _PASS_MAX);
}

static bool lingering_closed(void *userdata) {
        return test_lingering_closed(userdata);
}

ParameterizedTestParameters(availability, lingering_socket_passed) {
        return every_pass();
}

ParameterizedTest(Pass *how, availability, lingering_socket_passed) {
        TestLingering l;

        start();
        test_lingering_new(&l, LINGER_SEC);
        cr_log_info("a lingering socket passed to %s", passes[*how].name);
        attacker_pass(*how, l.fd, close_lingering_own, &l);
        assert_victim_served(VICTIM_GET_INFO);

        /* Nor does any thread of the daemon wait out the linger: its last close returns promptly. */
        cr_assert(test_wait_until(lingering_closed, &l),
                  "the daemon's close of a lingering socket passed to %s waits for its peer", passes[*how].name);
        test_lingering_release(&l);
}

/* ---- (c) a file on a FUSE mount that never answers FLUSH ---- */

ParameterizedTestParameters(availability, fuse_file_passed) {
        return every_pass();
}

ParameterizedTest(Pass *how, availability, fuse_file_passed) {
        int file;

        start();
        file = fuse_stall_file_open(&fuse, daemon_.pid);
        cr_log_info("a FUSE file passed to %s", passes[*how].name);
        attacker_pass(*how, file, NULL, NULL);
        assert_victim_served(VICTIM_GET_INFO);

        fuse_stall_file_stop(&fuse);
        safe_close(file);
}

Test(availability, second_users_spawn_while_a_close_is_stuck) {
        int file;

        start();
        file = fuse_stall_file_open(&fuse, daemon_.pid);
        attacker_pass(PASS_GET_INFO, file, NULL, NULL);

        /* The daemon is stuck in that close (off the loop); other users' fds and spawns are not held up. */
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000), "the daemon never closed the FUSE file");
        assert_victim_served(VICTIM_SPAWN);
        assert_victim_served(VICTIM_GET_INFO);

        fuse_stall_file_stop(&fuse);
        safe_close(file);
}

/* Spawns as uid with fd attached; the spawn must fail at stage, while the second user is served. */
static void spawn_with_stalling_fd(uid_t uid, const char *parameters, int fd, const char *stage) {
        struct json_object *reply;
        int conn = connect_as(uid, uid);

        send_call_unfinished(conn, "io.nsbox.Sandbox.Spawn", parameters, &fd, 1);
        send_call_end(conn);
        assert_victim_served(VICTIM_GET_INFO);

        reply = test_read_reply(conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(reply, "error") ?: "", "io.nsbox.Sandbox.SpawnFailed",
                         "%s", json_object_to_json_string(reply));
        cr_assert_str_eq(test_json_string(reply, "parameters.stage") ?: "", stage);
        json_object_put(reply);
        assert_victim_served(VICTIM_GET_INFO);
        test_disconnect(conn);
}

Test(availability, fuse_file_as_spawn_stdio_or_bind_source) {
        int file;

        start();
        file = fuse_stall_file_open(&fuse, daemon_.pid);

        /* The child stalls closing its copies: the deadline ends it. */
        spawn_with_stalling_fd(NOBODY, "{\"argv\":[\"/bin/true\"],\"stdout\":0}", file, "timeout");
        /* A bind from an fd is for callers that need no user namespace: root here. The mount lives in the
         * FUSE server's mount namespace, which the daemon cannot clone from: refused, and the fd closed. */
        spawn_with_stalling_fd(0,
                               "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"mount\"],"
                               "\"mounts\":[{\"type\":\"bind\",\"sourceFileDescriptor\":0,"
                               "\"destination\":\"/etc/hostname\"}]}",
                               file, "mount");
        assert_victim_served(VICTIM_SPAWN);

        fuse_stall_file_stop(&fuse);
        safe_close(file);
}

/* ---- (a) a spawn child stopped, or stuck in the kernel, during the handshake ---- */

/* The attacker's own user namespace, held by a process of its own: a child that joins it may be signalled by it. */
static int attacker_userns(void) {
        int ready[2], fd;
        char path[64], ch;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        helper = fork();
        cr_assert_geq(helper, 0);
        if (helper == 0) {
                static const char *const files[][2] = {
                        { "/proc/self/setgroups", "deny" },
                        { "/proc/self/uid_map", "0 65534 1" },
                        { "/proc/self/gid_map", "0 65534 1" },
                };

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(1);
                /* Changing uid left us non-dumpable: /proc/self/uid_map would be root's. */
                if (prctl(PR_SET_DUMPABLE, 1) < 0 || unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        fd = open(files[i][0], O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, files[i][1], strlen(files[i][1])) < 0)
                                _exit(2);
                        close(fd);
                }
                (void) !write(ready[1], "r", 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        cr_assert_eq(read(ready[0], &ch, 1), 1, "could not make the attacker's user namespace");
        close(ready[0]);

        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) helper);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %m", path);
        return fd;
}

/* Joining a user namespace and creating others: the child makes them itself and must say "ready". */
static const char spawn_joining[] = "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"mount\",\"uts\"],"
                                    "\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}]}";

static int attacker_spawn_joining(void) {
        int conn = connect_as(NOBODY, NOBODY), userns = attacker_userns();

        send_call_unfinished(conn, "io.nsbox.Sandbox.Spawn", spawn_joining, &userns, 1);
        send_call_end(conn);
        safe_close(userns);
        return conn;
}

/* The attacker's Spawn is answered SpawnFailed(timeout): its child was killed at the deadline. */
static void assert_spawn_timed_out(int conn) {
        struct json_object *reply = test_read_reply(conn, NULL, NULL);

        cr_assert_str_eq(test_json_string(reply, "error") ?: "", "io.nsbox.Sandbox.SpawnFailed", "%s",
                         json_object_to_json_string(reply));
        cr_assert_str_eq(test_json_string(reply, "parameters.stage") ?: "", "timeout");
        json_object_put(reply);
}

static char process_state(pid_t pid) {
        char path[64], buf[512], state = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fgets(buf, sizeof buf, f)) {
                char *e = strrchr(buf, ')');
                if (!e || sscanf(e + 1, " %c", &state) != 1)
                        state = 0;
        }
        fclose(f);
        return state;
}

/* Waits until pid is gone (reaped by the daemon). */
static void assert_reaped(pid_t pid) {
        uint64_t deadline = now_msec() + 20000;

        while (process_state(pid) != 0) {
                cr_assert_lt(now_msec(), deadline, "the daemon left its child %d behind (state %c)", (int) pid,
                             process_state(pid));
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10000000 }, NULL);
        }
}

typedef enum StopPoint {
        STOP_BEFORE_READY,   /* it made its namespaces, and has not said "ready" */
        STOP_AFTER_READY,    /* it said "ready", the daemon is writing its maps and releasing it */
        STOP_AFTER_RELEASE,  /* released, before execve */
} StopPoint;

/* Whether p is one of the daemon's threads (the spawn workers clone, not only the loop's thread). */
static bool is_daemon_thread(pid_t p, pid_t daemon_pid) {
        char path[64], line[128];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) p);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof line, f))
                found = strncmp(line, "Tgid:", 5) == 0 && atoi(line + 5) == (int) daemon_pid;
        fclose(f);
        return found;
}

/*
 * In a tracer process: catch the daemon's next child (PTRACE_O_TRACEFORK, or
 * PTRACE_O_TRACEVFORK for one on the daemon's memory, from any of its threads:
 * the ones there now and the ones it makes), let the daemon go at once,
 * follow the child's system calls to the end of the one before the point, and
 * leave it stopped there by SIGSTOP. Reports 0 once attached, then the
 * child's pid (or -1) on out.
 */
_Noreturn static void tracer_run(pid_t daemon_pid, StopPoint point, int out) {
        const long after = point == STOP_BEFORE_READY ? SYS_unshare :
                           point == STOP_AFTER_READY  ? SYS_sendto :
                                                        SYS_recvfrom;
        pid_t child = 0, fail = -1, zero = 0;
        long last_entry = -1;

        const long options = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
        char tasks_path[64];
        struct dirent *de;
        DIR *tasks;

        snprintf(tasks_path, sizeof tasks_path, "/proc/%d/task", (int) daemon_pid);
        tasks = opendir(tasks_path);
        if (!tasks)
                _exit(1);
        while ((de = readdir(tasks)))
                if (de->d_name[0] != '.' && ptrace(PTRACE_SEIZE, atoi(de->d_name), 0, options) < 0)
                        _exit(1);
        closedir(tasks);
        (void) !write(out, &zero, sizeof zero);

        for (;;) {
                int status, event, sig;
                pid_t p = waitpid(-1, &status, __WALL);

                if (p < 0)
                        break;
                if (!WIFSTOPPED(status)) {
                        if (p == child)
                                break; /* the child died before the point */
                        continue;
                }
                event = status >> 16;
                sig = WSTOPSIG(status);

                if (p != child && is_daemon_thread(p, daemon_pid)) {
                        if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
                                unsigned long msg = 0;

                                (void) ptrace(PTRACE_GETEVENTMSG, p, 0, &msg);
                                child = (pid_t) msg;
                                (void) ptrace(PTRACE_DETACH, p, 0, 0);
                        } else
                                (void) ptrace(PTRACE_CONT, p, 0, event != 0 ? 0 : sig);
                        continue;
                }

                /* The child's first stop may come before the daemon's fork event. */
                child = p;
                if (event == PTRACE_EVENT_STOP) {
                        (void) ptrace(PTRACE_SETOPTIONS, p, 0, PTRACE_O_TRACESYSGOOD);
                        (void) ptrace(PTRACE_SYSCALL, p, 0, 0);
                        continue;
                }
                if (sig == (SIGTRAP | 0x80)) {
                        struct __ptrace_syscall_info info = {};

                        if (ptrace(PTRACE_GET_SYSCALL_INFO, p, sizeof info, &info) <= 0)
                                break;
                        if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
                                last_entry = (long) info.entry.nr;
                        else if (info.op == PTRACE_SYSCALL_INFO_EXIT && last_entry == after) {
                                /* Pending when we let go: taken on the way back to user space. */
                                (void) kill(p, SIGSTOP);
                                (void) ptrace(PTRACE_DETACH, p, 0, 0);
                                (void) !write(out, &child, sizeof child);
                                _exit(0);
                        }
                        (void) ptrace(PTRACE_SYSCALL, p, 0, 0);
                        continue;
                }
                (void) ptrace(PTRACE_SYSCALL, p, 0, sig);
        }
        (void) !write(out, &fail, sizeof fail);
        _exit(1);
}

static void stopped_at(StopPoint point) {
        pid_t tracer, child = 0;
        int p[2], conn, status;

        start();

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        tracer = fork();
        cr_assert_geq(tracer, 0);
        if (tracer == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                tracer_run(daemon_.pid, point, p[1]);
        }
        close(p[1]);
        cr_assert_eq(read(p[0], &child, sizeof child), (ssize_t) sizeof child, "the tracer could not attach");
        cr_assert_eq(child, 0);

        conn = attacker_spawn_joining();
        cr_assert_eq(read(p[0], &child, sizeof child), (ssize_t) sizeof child);
        close(p[0]);
        cr_assert_eq(waitpid(tracer, &status, 0), tracer);
        cr_assert_gt(child, 0, "the spawn child did not reach the point");

        /* Stopped (the stop may take a moment after the detach). */
        for (uint64_t deadline = now_msec() + 20000; process_state(child) != 'T';) {
                cr_assert_lt(now_msec(), deadline, "the child is not stopped (state %c)", process_state(child));
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }

        assert_victim_served(VICTIM_GET_INFO);
        /* A stopped child holds the thread that cloned it (it runs on the daemon's memory until it execs),
         * never the next caller's spawn. */
        assert_victim_served(VICTIM_SPAWN);
        /* The deadline holds: the stopped child is killed, reaped, and the Spawn answered. */
        assert_spawn_timed_out(conn);
        assert_reaped(child);
        assert_victim_served(VICTIM_GET_INFO);
        test_disconnect(conn);
}

Test(availability, child_stopped_before_ready) {
        stopped_at(STOP_BEFORE_READY);
}

Test(availability, child_stopped_after_ready) {
        stopped_at(STOP_AFTER_READY);
}

Test(availability, child_stopped_after_release) {
        stopped_at(STOP_AFTER_RELEASE);
}

/* Whether the daemon has fd open (same file, by its /proc link). */
static bool daemon_holds(int fd) {
        char path[300], mine[PATH_MAX], theirs[PATH_MAX];
        struct dirent *de;
        bool found = false;
        ssize_t n;
        DIR *d;

        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, mine, sizeof mine - 1);
        cr_assert_gt(n, 0);
        mine[n] = 0;

        snprintf(path, sizeof path, "/proc/%d/fd", (int) daemon_.pid);
        d = opendir(path);
        cr_assert_not_null(d);
        while (!found && (de = readdir(d))) {
                snprintf(path, sizeof path, "/proc/%d/fd/%s", (int) daemon_.pid, de->d_name);
                n = readlink(path, theirs, sizeof theirs - 1);
                if (n > 0) {
                        theirs[n] = 0;
                        found = strcmp(mine, theirs) == 0;
                }
        }
        closedir(d);
        return found;
}

/* Waits (20 s at most) until the daemon holds file: it read the message that carried it. */
static void wait_daemon_holds(int file, const char *what) {
        uint64_t deadline = now_msec() + 20000;

        while (!daemon_holds(file)) {
                cr_assert_lt(now_msec(), deadline, "the daemon did not read %s", what);
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
}

/*
 * A FUSE file the daemon holds for an unfinished message: a child used to get a copy of every fd of the
 * daemon and stall closing it before "ready" (FUSE flushes on every close). A spawn worker's fd table
 * holds only the fds of its plan, so the spawn goes through, and nobody is held up meanwhile.
 */
Test(availability, fd_held_for_another_message_does_not_reach_a_child) {
        struct json_object *reply;
        int file, holder, conn;

        start();
        file = fuse_stall_file_open(&fuse, daemon_.pid);

        holder = connect_as(NOBODY, NOBODY);
        send_call_unfinished(holder, "org.varlink.service.GetInfo", NULL, &file, 1);
        wait_daemon_holds(file, "the unfinished message");

        conn = attacker_spawn_joining();
        assert_victim_served(VICTIM_GET_INFO);
        reply = test_read_reply(conn, NULL, NULL);
        cr_assert_null(test_json_string(reply, "error"), "%s", json_object_to_json_string(reply));
        cr_assert_not_null(test_json_string(reply, "parameters.id"), "%s", json_object_to_json_string(reply));
        json_object_put(reply);
        assert_victim_served(VICTIM_GET_INFO);

        fuse_stall_file_stop(&fuse);
        safe_close(file);
        test_disconnect(conn);
        test_disconnect(holder);
}

/* One close of the file stuck in the daemon, and another queued behind it in the attacker's lane. */
static void stall_one_and_queue_one(int file) {

        attacker_pass(PASS_GET_INFO, file, NULL, NULL);
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000), "the daemon never closed the FUSE file");
        /* Out of the daemon's table once its close began: held again only by the one queued. */
        attacker_pass(PASS_GET_INFO, file, NULL, NULL);
        wait_daemon_holds(file, "the second fd");
}

static bool any_zombie(char state, const char *name, int exit_signal) {
        return state == 'Z';
}

static bool daemon_has_no_zombie(void *userdata) {
        return test_count_children(daemon_.pid, any_zombie) == 0;
}

/*
 * The daemon's execve() and its exit wait for every thread of the process, and close in the calling thread
 * whatever is left in its table: a close stuck in a caller's FUSE flush, in a thread, held the re-exec (nobody
 * served meanwhile) and the stop for as long as the caller's server liked; so did a FUSE file still queued
 * for closing, or held by an unfinished message (whose connection's handle closes only at the end of the
 * loop's iteration). Neither is held now: the closes run in helper processes, what is queued goes to helpers
 * of its own first, and the exec waits for the connections to be gone. The helpers left stuck are reaped
 * once they end.
 */
Test(availability, a_stuck_close_holds_neither_reexec_nor_stop) {
        struct pollfd p;
        int file, holder;

        start();
        file = fuse_stall_file_open(&fuse, daemon_.pid);
        attacker_pass(PASS_GET_INFO, file, NULL, NULL);
        cr_assert(fuse_stall_file_wait_stalled(&fuse, 20000), "the daemon never closed the FUSE file");
        holder = connect_as(NOBODY, NOBODY);
        send_call_unfinished(holder, "org.varlink.service.GetInfo", NULL, &file, 1);
        wait_daemon_holds(file, "the unfinished message");

        test_daemon_listen_notify(&daemon_);
        cr_assert_eq(kill(daemon_.pid, SIGUSR2), 0);
        test_daemon_wait_notify(&daemon_, "READY=1");
        daemon_.notify_fd = safe_close(daemon_.notify_fd);
        assert_victim_served(VICTIM_GET_INFO);
        cr_assert(!daemon_holds(file), "the re-executed daemon still holds the caller's file");
        test_disconnect(holder);

        /* The stuck helpers end with the server, children of the new image, which reaps them. */
        fuse_stall_file_stop(&fuse);
        safe_close(file);
        cr_assert(test_wait_until(daemon_has_no_zombie, NULL), "the daemon left its helpers unreaped");

        file = fuse_stall_file_open(&fuse, daemon_.pid);
        stall_one_and_queue_one(file);
        p = (struct pollfd) { .fd = (int) syscall(SYS_pidfd_open, daemon_.pid, 0), .events = POLLIN };
        cr_assert_geq(p.fd, 0);
        cr_assert_eq(kill(daemon_.pid, SIGTERM), 0);
        cr_assert_eq(poll(&p, 1, 20000), 1, "the daemon did not exit while a close was stuck");
        safe_close(p.fd);

        /* The stuck helpers end with the server. They held the daemon's cgroups at its exit. */
        fuse_stall_file_stop(&fuse);
        safe_close(file);
        test_daemon_reap(&daemon_, /* expect_no_cgroups= */ false);
        daemon_started = false;
}

/* ---- a flood of fds that never finish closing ---- */

/* Waits for the daemon's fd count to come down to at most n. */
static void assert_daemon_fds_drop_to(int n) {
        uint64_t deadline = now_msec() + 20000;

        while (test_daemon_count_fds(&daemon_) > n) {
                cr_assert_lt(now_msec(), deadline, "the daemon still holds %d fds, %d before", test_daemon_count_fds(&daemon_),
                             n);
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10000000 }, NULL);
        }
}

/* Sends GetInfo with n copies of fd; true if answered, false if the daemon hung up instead. */
static bool get_info_with_fds(int conn, int fd, size_t n) {
        static const char call[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        struct pollfd p = { .fd = conn, .events = POLLIN };
        int fds[16];
        char byte;

        for (size_t i = 0; i < n; i++)
                fds[i] = fd;
        /* A refused connection may be gone before the call is even sent. */
        if (send_raw(conn, call, sizeof call, fds, n) < 0)
                return false;
        cr_assert_eq(poll(&p, 1, PROMPT_MSEC), 1, "neither answered nor hung up on");
        return recv(conn, &byte, 1, MSG_PEEK) == 1;
}

Test(availability, stuck_closes_are_bounded_per_user) {
        static const char *const args[] = { "--limit", "held-fds-per-user=64", NULL };
        unsigned answered = 0, refused = 0;
        int file, before, peak = 0;

        test_daemon_start(&daemon_, args);
        daemon_started = true;
        file = fuse_stall_file_open(&fuse, daemon_.pid);
        before = test_daemon_count_fds(&daemon_);

        /* Each call brings 16 fds the daemon cannot finish closing. */
        for (int i = 0; i < 32; i++) {
                int conn = connect_as(NOBODY, NOBODY);

                if (get_info_with_fds(conn, file, 16))
                        answered++;
                else
                        refused++;
                peak = MAX(peak, test_daemon_count_fds(&daemon_));
                test_disconnect(conn);
        }

        /* The first calls up to the budget are answered, then the user's connections are cut and refused;
         * the daemon holds the budget, one call's fds over it, and the refused sockets that carried some. */
        cr_log_info("%u calls answered, %u refused; the daemon held %d fds at most, %d before", answered, refused, peak,
                    before);
        cr_assert_eq(answered, 4, "%u calls answered", answered);
        cr_assert_eq(refused, 28);
        cr_assert_leq(peak, before + 64 + 16 + 32 + 2, "the daemon held %d fds, %d before", peak, before);
        assert_victim_served(VICTIM_GET_INFO);

        /* Once the server answers (here: goes away), everything is closed. */
        fuse_stall_file_stop(&fuse);
        safe_close(file);
        assert_daemon_fds_drop_to(before);
}
