/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Requests from inside a sandbox, against a real nsboxd, as nobody: a
 * sandbox that can reach the daemon's socket never gains by asking it. The
 * daemon tells where a caller runs when it accepts the connection (its
 * cgroup, its namespaces), refuses what it cannot tell, and serves a nested
 * request, where the policy allows one, only inside the caller's sandbox.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "nsboxd-test-util.h"

#define NOBODY 65534

static TestDaemon daemon_;
static bool daemon_started;
static char policy_dir[64];

static void teardown(void) {
        char path[128];

        if (daemon_started)
                test_daemon_stop(&daemon_);
        daemon_started = false;
        if (policy_dir[0]) {
                snprintf(path, sizeof path, "%s/policy.conf", policy_dir);
                (void) unlink(path);
                (void) rmdir(policy_dir);
                policy_dir[0] = '\0';
        }
}

TestSuite(nested, .fini = teardown, .timeout = 120);

/* Starts the daemon with this policy text (NULL: the built-in policy). */
static void start(const char *policy) {
        char path[128];
        FILE *f;

        if (!policy) {
                test_daemon_start(&daemon_, NULL);
                daemon_started = true;
                return;
        }
        snprintf(policy_dir, sizeof policy_dir, "/tmp/nsbt-nested-XXXXXX");
        cr_assert_not_null(mkdtemp(policy_dir));
        cr_assert_eq(chmod(policy_dir, 0755), 0);
        snprintf(path, sizeof path, "%s/policy.conf", policy_dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fputs(policy, f);
        cr_assert_eq(fclose(f), 0);

        const char *args[] = { "--policy", path, NULL };
        test_daemon_start(&daemon_, args);
        daemon_started = true;
}

static const char *cli(void) {
        const char *p = getenv("NSBOX_CLI");

        cr_assert(p, "$NSBOX_CLI must point to the nsbox binary under test");
        return p;
}

typedef struct Output {
        int status;
        char *text; /* stdout and stderr together */
} Output;

/*
 * Runs script with sh as nobody, N set to "nsbox --socket SOCKET" (usable
 * inside sandboxes that see the socket), and collects what it prints.
 */
_printf_(1, 2) static Output run_as_nobody(const char *format, ...) {
        char script[4096], prefix[512], full[4608];
        Output o = { .text = strdup("") };
        size_t len = 0;
        int p[2], status;
        va_list ap;
        pid_t pid;

        snprintf(prefix, sizeof prefix, "N='%s --socket %s'; ", cli(), daemon_.socket_path);
        va_start(ap, format);
        vsnprintf(script, sizeof script, format, ap);
        va_end(ap);
        snprintf(full, sizeof full, "%s%s", prefix, script);

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
                        _exit(250);
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(251);
                execl("/bin/sh", "sh", "-c", full, (char *) NULL);
                _exit(252);
        }
        close(p[1]);
        for (;;) {
                char buf[4096];
                ssize_t n = read(p[0], buf, sizeof buf);

                cr_assert(n >= 0 || errno == EINTR);
                if (n == 0)
                        break;
                if (n < 0)
                        continue;
                o.text = realloc(o.text, len + (size_t) n + 1);
                cr_assert_not_null(o.text);
                memcpy(o.text + len, buf, (size_t) n);
                len += (size_t) n;
                o.text[len] = '\0';
        }
        close(p[0]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return o;
}

static void output_done(Output *o) {
        free(o->text);
        o->text = NULL;
}

/* The example: the outer sandbox has only lo; a nested request does not get the host's network. */
Test(nested, refused_by_default) {
        Output o;

        start(NULL);
        o = run_as_nobody("$N run -r --net --ro-bind / / -- sh -c \"NSBOX_SOCKET=%s %s run -- cat /proc/net/dev\"",
                          daemon_.socket_path, cli());
        cr_assert_eq(o.status, 125, "%s", o.text);
        cr_assert(strstr(o.text, "nested request refused (from inside sandbox "), "%s", o.text);
        cr_assert(strstr(o.text, "nested = refuse"), "%s", o.text);
        cr_assert_null(strstr(o.text, "Inter-|"), "the nested sandbox ran: %s", o.text);
        output_done(&o);

        /* The same user on the host is served. */
        o = run_as_nobody("$N run -- cat /proc/net/dev");
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "Inter-|"), "%s", o.text);
        output_done(&o);
}

/* Without any namespace of its own, the sandbox is still told by its cgroup, from a grandchild whose parent is
 * gone too. */
Test(nested, found_by_cgroup) {
        Output o;

        start(NULL);
        o = run_as_nobody("$N run -- sh -c \"( (NSBOX_SOCKET=%s %s run -- true 2>&1; echo rc=\\$?) & ) | cat\"",
                          daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "nested request refused (from inside sandbox "), "%s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        output_done(&o);
}

/*
 * A process of the host that entered a sandbox's namespaces (its owner may: it owns the user namespace) is
 * inside it, though its cgroup is the host's.
 */
Test(nested, found_by_namespaces) {
        Output o;

        start(NULL);
        o = run_as_nobody("id=$($N run --detach -r --net -- sleep 1000) || exit 90; "
                          "pid=$($N inspect --json $id | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); "
                          "nsenter -t $pid -U -n --preserve-credentials -- %s --socket %s run -- true; echo rc=$? id=$id; "
                          "$N kill -s KILL $id",
                          cli(), daemon_.socket_path);
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        {
                const char *id = strstr(o.text, "id=");
                char want[128];

                cr_assert_not_null(id, "%s", o.text);
                snprintf(want, sizeof want, "from inside sandbox %.32s", id + 3);
                cr_assert(strstr(o.text, want), "%s", o.text);
        }
        output_done(&o);
}

/* A connection whose process was gone before the daemon accepted it: where it ran cannot be told, and it is
 * not taken for the host. Calls that create nothing are still answered. */
Test(nested, caller_gone_before_accept_is_refused) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        char byte = 'c';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        struct json_object *reply;
        struct cmsghdr *c;
        int sv[2], fd, status;
        pid_t pid;

        start(NULL);
        /* Stopped, the daemon accepts nothing: the connection waits in the backlog while its process ends. */
        cr_assert_eq(kill(daemon_.pid, SIGSTOP), 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(1);
                fd = test_daemon_connect(&daemon_);
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
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        cr_assert_eq(recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC), 1);
        close(sv[0]);
        c = CMSG_FIRSTHDR(&mh);
        cr_assert(c && c->cmsg_type == SCM_RIGHTS);
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        cr_assert_eq(kill(daemon_.pid, SIGCONT), 0);

        reply = test_call(fd, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/bin/true\"]}", NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(reply, "error") ?: "", "io.nsbox.Sandbox.NestedRequestRefused", "%s",
                         json_object_to_json_string(reply));
        cr_assert_null(test_json_get(reply, "parameters.sandbox"), "%s", json_object_to_json_string(reply));
        cr_assert(strstr(test_json_string(reply, "parameters.reason") ?: "", "exited before its connection was accepted"),
                  "%s", json_object_to_json_string(reply));
        json_object_put(reply);

        reply = test_call(fd, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(reply, "error"), "%s", json_object_to_json_string(reply));
        json_object_put(reply);
        test_disconnect(fd);
}

/* Exec from inside a sandbox goes into that sandbox only; and not at all where the policy refuses. */
Test(nested, exec_from_inside_only_into_itself) {
        Output o;

        start("[user:65534]\nnested = allow\n");
        o = run_as_nobody("a=$($N run --detach --name nest-a -- sleep 1000) || exit 90; "
                          "b=$($N run --detach --name nest-b -- sleep 1000) || exit 91; "
                          "$N exec nest-a -- sh -c \"NSBOX_SOCKET=%s %s exec nest-b -- echo wrong 2>&1; echo rc=\\$?; "
                          "NSBOX_SOCKET=%s %s exec nest-a -- echo into-itself\"; echo outer=$?; "
                          "$N kill -s KILL $a; $N kill -s KILL $b",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "from inside a sandbox, Exec goes only into that sandbox"), "%s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        cr_assert(strstr(o.text, "into-itself"), "%s", o.text);
        cr_assert(strstr(o.text, "outer=0"), "%s", o.text);
        output_done(&o);
}

Test(nested, exec_from_inside_refused_by_default) {
        Output o;

        start(NULL);
        o = run_as_nobody("a=$($N run --detach -- sleep 1000) || exit 90; "
                          "$N run -- sh -c \"NSBOX_SOCKET=%s %s exec $a -- echo wrong\"; echo rc=$?; "
                          "$N kill -s KILL $a",
                          daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "nested request refused (from inside sandbox "), "%s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        output_done(&o);
}
