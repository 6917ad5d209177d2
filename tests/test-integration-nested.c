/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Requests from inside a sandbox, against a real nsboxd, as nobody: a
 * sandbox that can reach the daemon's socket never gains by asking it. The
 * daemon tells where a caller runs when it accepts the connection (its
 * cgroup, its namespaces), refuses what it cannot tell, and serves a nested
 * request, where the policy allows one, only inside the caller's sandbox.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
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
                snprintf(path, sizeof path, "%s/subuid", policy_dir);
                (void) unlink(path);
                snprintf(path, sizeof path, "%s/subgid", policy_dir);
                (void) unlink(path);
                (void) rmdir(policy_dir);
                policy_dir[0] = '\0';
        }
}

TestSuite(nested, .fini = teardown, .timeout = 120);

/* Writes text into the file name in policy_dir; its path goes to path. */
static void write_config(const char *name, const char *text, char *path, size_t size) {
        FILE *f;

        snprintf(path, size, "%s/%s", policy_dir, name);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fputs(text, f);
        cr_assert_eq(fclose(f), 0);
}

/* Starts the daemon with this policy text (NULL: the built-in policy), nobody's subordinate ids 400000-400999
 * granted when subids, and an extra argument if given. */
static void start_with_arg(const char *policy, bool subids, const char *extra) {
        char path[128], subuid[128], subgid[128];

        if (!policy) {
                test_daemon_start(&daemon_, NULL);
                daemon_started = true;
                return;
        }
        snprintf(policy_dir, sizeof policy_dir, "/tmp/nsbt-nested-XXXXXX");
        cr_assert_not_null(mkdtemp(policy_dir));
        cr_assert_eq(chmod(policy_dir, 0755), 0);
        write_config("policy.conf", policy, path, sizeof path);
        write_config("subuid", subids ? "nobody:400000:1000\n" : "", subuid, sizeof subuid);
        write_config("subgid", subids ? "nobody:400000:1000\n" : "", subgid, sizeof subgid);

        const char *args[] = { "--policy", path, "--subuid", subuid, "--subgid", subgid, extra, NULL };
        test_daemon_start(&daemon_, args);
        daemon_started = true;
}

static void start_with(const char *policy, bool subids) {
        start_with_arg(policy, subids, NULL);
}

static void start(const char *policy) {
        start_with(policy, false);
}

static const char *cli(void) {
        const char *p = getenv("NSBOX_CLI");

        cr_assert(p, "$NSBOX_CLI must point to the nsbox binary under test");
        return p;
}

/* Makes a file from the mkstemp() template path (filled in) with these bytes, readable by the test users. */
static void write_readable_temp(char *path, const void *data, size_t size) {
        int fd = mkstemp(path);

        cr_assert_geq(fd, 0, "mkstemp: %m");
        cr_assert_eq(write(fd, data, size), (ssize_t) size);
        cr_assert_eq(fchmod(fd, 0644), 0);
        close(fd);
}

typedef struct Output {
        int status;
        char *text; /* stdout and stderr together */
} Output;

/*
 * Runs script with sh as uid (and gid) `uid`, N set to "nsbox --socket
 * SOCKET" (usable inside sandboxes that see the socket), and collects what it
 * prints.
 */
_printf_(2, 0) static Output run_as_v(uid_t uid, const char *format, va_list ap) {
        char script[4096], prefix[512], full[4608];
        Output o = { .text = strdup("") };
        size_t len = 0;
        int p[2], status;
        pid_t pid;

        snprintf(prefix, sizeof prefix, "N='%s --socket %s'; ", cli(), daemon_.socket_path);
        vsnprintf(script, sizeof script, format, ap);
        snprintf(full, sizeof full, "%s%s", prefix, script);

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
                        _exit(250);
                if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
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

_printf_(1, 2) static Output run_as_nobody(const char *format, ...) {
        va_list ap;
        Output o;

        va_start(ap, format);
        o = run_as_v(NOBODY, format, ap);
        va_end(ap);
        return o;
}

_printf_(1, 2) static Output run_as_root(const char *format, ...) {
        va_list ap;
        Output o;

        va_start(ap, format);
        o = run_as_v(0, format, ap);
        va_end(ap);
        return o;
}

static void output_done(Output *o) {
        free(o->text);
        o->text = NULL;
}

/* The issue's example: the outer sandbox has only lo; a nested request does not get the host's network. */
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

/* Exec from inside a sandbox goes into that sandbox only; and not at all where the policy refuses. A sibling
 * is not there: by id or by name, it answers exactly as a sandbox that does not exist. */
#define MISSING_ID "0123456789abcdef0123456789abcdef"
Test(nested, exec_from_inside_only_into_itself) {
        Output o;

        start("[user:65534]\nnested = allow\n");
        o = run_as_nobody("a=$($N run --detach --name nest-a -- sleep 1000) || exit 90; "
                          "b=$($N run --detach --name nest-b -- sleep 1000) || exit 91; "
                          "$N exec nest-a -- sh -c '"
                          "x=$($0 --socket $1 exec $2 -- echo wrong 2>&1; echo rc=$?); "
                          "y=$($0 --socket $1 exec " MISSING_ID " -- echo wrong 2>&1; echo rc=$?); "
                          "echo \"x=$x\"; echo \"y=$y\"; "
                          "[ \"$(echo \"$x\" | sed s/$2/ID/g)\" = \"$(echo \"$y\" | sed s/" MISSING_ID "/ID/g)\" ] && "
                          "echo same; "
                          "$0 --socket $1 exec nest-b -- echo wrong; echo rc=$?; "
                          "$0 --socket $1 exec nest-a -- echo into-itself' %s %s $b; echo outer=$?; "
                          "$N kill -s KILL $a; $N kill -s KILL $b",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "no such sandbox: " MISSING_ID), "%s", o.text);
        cr_assert(strstr(o.text, "same\n"), "a sibling answered unlike a missing sandbox: %s", o.text);
        cr_assert(strstr(o.text, "no such sandbox: nest-b"), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc=0"), "%s", o.text);
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

/*
 * From inside a sandbox, its siblings are not there: the caller's own pid namespace keeps it from signalling or
 * freezing them itself, and asking the daemon must not do it either. Whatever the policy says of nested requests:
 * these calls are served, on what the caller may see.
 */
Test(nested, siblings_are_not_seen_from_inside) {
        Output o;

        start(NULL);
        o = run_as_nobody("t=$($N run --detach --name nest-sibling -- sleep 1000) || exit 90; "
                          "$N run -p -- sh -c '"
                          "$0 --socket $1 pause nest-sibling; echo pause=$?; "
                          "$0 --socket $1 kill -s KILL nest-sibling; echo kill=$?; "
                          "$0 --socket $1 inspect nest-sibling; echo inspect=$?; "
                          "$0 --socket $1 wait nest-sibling; echo wait=$?; "
                          "echo listed=$($0 --socket $1 list | grep -c nest-)' %s %s; "
                          "echo ---; $N inspect $t; $N kill -s KILL $t",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "pause=1"), "%s", o.text);
        cr_assert(strstr(o.text, "kill=1"), "%s", o.text);
        cr_assert(strstr(o.text, "inspect=1"), "%s", o.text);
        cr_assert(strstr(o.text, "wait=1"), "%s", o.text);
        cr_assert(strstr(o.text, "no such sandbox: nest-sibling"), "%s", o.text);
        cr_assert(strstr(o.text, "listed=0"), "the sandbox listed its sibling: %s", o.text);
        /* The sibling was neither killed nor paused. */
        {
                const char *after = strstr(o.text, "---\n");

                cr_assert(after && strstr(after, "running") && !strstr(after, "paused"), "%s", o.text);
        }
        output_done(&o);

        /* Root inside a sandbox changes nothing of the daemon's either. */
        o = run_as_root("$N run -- sh -c '$0 --socket $1 reload; echo reload=$?' %s %s", cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "permission denied"), "%s", o.text);
        cr_assert(strstr(o.text, "reload=1"), "%s", o.text);
        output_done(&o);
}

/*
 * A name a sandbox's process gives is that sandbox's: it neither blocks nor shadows the same name on the host,
 * where the owner may rely on it (an Exec by name must not land in what untrusted code named so).
 */
Test(nested, names_given_inside_do_not_take_the_hosts) {
        Output o;

        start("[user:65534]\nnested = allow\n");
        o = run_as_nobody("s=$($N run --detach --name nest-me -- sh -c '"
                          "until $0 --socket $1 inspect nest-me | grep -q running; do sleep 0.01; done; "
                          "$0 --socket $1 run --detach --name web -- sleep 1000 && exec sleep 1000' %s %s) || exit 90; "
                          "until $N inspect web >/dev/null 2>&1; do sleep 0.01; done; "
                          "h=$($N run --detach --name web -- sleep 1000); echo rc=$?; echo host=$h; "
                          "$N inspect --json web | grep '\"id\"'; $N kill -s KILL $s; $N kill -s KILL $h",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "rc=0"), "the host could not take a name a sandbox gave: %s", o.text);
        {
                const char *h = strstr(o.text, "host="), *id = strstr(o.text, "\"id\"");

                cr_assert(h && id, "%s", o.text);
                id = strchr(id + 4, '"');
                cr_assert(id && strncmp(id + 1, h + 5, 32) == 0, "the host's name led to the sandbox's: %s", o.text);
        }
        output_done(&o);
}

/* From inside a nested sandbox, the sandbox it is nested in is not there either; the nested one itself is. */
Test(nested, outer_sandbox_is_not_seen_from_a_nested_one) {
        Output o;

        start("[user:65534]\nnested = allow\n");
        o = run_as_nobody("s=$($N run --detach --name nest-outer -- sleep 1000) || exit 90; "
                          "until $N inspect $s | grep -q running; do sleep 0.01; done; "
                          "$N exec nest-outer -- %s --socket %s run --name nest-inner -n -- sh -c '"
                          "$0 --socket $1 pause nest-outer; echo pause=$?; "
                          "echo self=$($0 --socket $1 inspect nest-inner | grep -c running)' %s %s; "
                          "echo ---; $N inspect $s; $N kill -s KILL $s",
                          cli(), daemon_.socket_path, cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "pause=1"), "%s", o.text);
        cr_assert(strstr(o.text, "no such sandbox: nest-outer"), "%s", o.text);
        cr_assert(strstr(o.text, "self=1"), "%s", o.text);
        {
                const char *after = strstr(o.text, "---\n");

                cr_assert(after && strstr(after, "running") && !strstr(after, "paused"), "%s", o.text);
        }
        output_done(&o);
}

/* ---- nested = allow: a child of the caller's sandbox ---- */

static const char allow_policy[] = "[user:65534]\nnested = allow\n";

/* The text between the n-th "---" line and the next (n from 0), for comparing what two sandboxes see. */
static char *section(const char *text, unsigned n) {
        const char *p = text, *end;

        for (unsigned i = 0; i < n; i++) {
                p = strstr(p, "---\n");
                cr_assert_not_null(p, "no section %u in: %s", n, text);
                p += 4;
        }
        end = strstr(p, "---\n") ?: p + strlen(p);
        return strndup(p, (size_t) (end - p));
}

/* What a nested sandbox shows of itself (the text of show below, up to its "0::" line) is what its sandbox
 * shows, and its cgroup is one of its own right below its sandbox's (whose processes may be in a payload leaf):
 * the cgroup tells requests from inside it from its sandbox's. */
static void assert_child_of(const char *outer, const char *inner, const char *text) {
        const char *oc = strstr(outer, "0::"), *ic = strstr(inner, "0::");
        size_t n;

        cr_assert(oc && ic, "%s", text);
        cr_assert(oc - outer == ic - inner && strncmp(outer, inner, (size_t) (oc - outer)) == 0,
                  "not in its sandbox's namespaces: %s", text);
        n = strcspn(oc, "\n");
        if (n > strlen("/payload") && strncmp(oc + n - strlen("/payload"), "/payload", strlen("/payload")) == 0)
                n -= strlen("/payload");
        cr_assert(strncmp(oc, ic, n) == 0 && ic[n] == '/' && strcspn(ic + n + 1, "\n") == 32,
                  "not in a cgroup of its own below its sandbox's: %s", text);
}

static unsigned ids_in_path(const char *line);

/* The issue's example, allowed: the nested sandbox is in the outer one's user and network namespaces, in a
 * cgroup below the outer one's, and sees only lo. */
Test(nested, allowed_is_a_child_of_its_sandbox) {
        static const char show[] = "readlink /proc/self/ns/user /proc/self/ns/net; grep ^0:: /proc/self/cgroup";
        _cleanup_free_ char *outer = NULL, *inner = NULL;
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r --net --ro-bind / / -- sh -c '%s; echo ---; NSBOX_SOCKET=%s %s run -- sh -c "
                          "\"%s; echo ---; cat /proc/net/dev\"'",
                          show, daemon_.socket_path, cli(), show);
        cr_assert_eq(o.status, 0, "%s", o.text);
        outer = section(o.text, 0);
        inner = section(o.text, 1);
        assert_child_of(outer, inner, o.text);
        cr_assert(strstr(o.text, "Inter-|"), "%s", o.text);
        cr_assert(strstr(o.text, " lo:"), "%s", o.text);
        /* lo is the only interface: its line is the last one */
        cr_assert_eq(strstr(o.text, ":") != NULL, true);
        {
                _cleanup_free_ char *dev = section(o.text, 2);
                unsigned interfaces = 0;

                for (const char *l = dev; (l = strchr(l, ':')); l++)
                        interfaces++;
                cr_assert_eq(interfaces, 1U, "more than lo: %s", dev);
        }
        output_done(&o);
}

/* From inside --ro-bind / / nothing becomes writable: not by joining the sandbox's file tree, and a file tree
 * of its own that could make the binds writable is refused, naming why. */
Test(nested, read_only_stays_read_only) {
        char dir[] = "/tmp/nsbt-nested-rw-XXXXXX";
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        start(allow_policy);

        /* The user may write there from the host, so what follows can fail. */
        o = run_as_nobody("$N run -- sh -c 'echo host > %s/host'", dir);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);

        /* A file tree of its own, in a user namespace of its own inside the sandbox's, is built: a copy of
         * the sandbox's tree whose mounts the kernel locks, so neither a rw bind, nor a remount as root
         * there, nor clearing the flag makes them writable. */
        o = run_as_nobody("$N run -r --ro-bind / / -- sh -c '"
                          "NSBOX_SOCKET=%s %s run -- sh -c \"echo nested > %s/nested\"; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run --bind %s %s -- sh -c \"echo bound > %s/bound\"; echo rc2=$?; "
                          "NSBOX_SOCKET=%s %s run -r --bind / / -- sh -c \"echo root > %s/root\"; echo rc3=$?; "
                          "NSBOX_SOCKET=%s %s run -r --bind / / --bind %s %s -- sh -c "
                          "\"mount -o remount,bind,rw %s; mount -o remount,bind,rw /; mount -o remount,rw /; "
                          "echo remounted > %s/remounted\"; echo rc4=$?; "
                          "NSBOX_SOCKET=%s %s run -r --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib "
                          "--symlink usr/lib64 /lib64 --bind %s /w -- sh -c \"echo w > /w/w\"; echo rc5=$?'",
                          daemon_.socket_path, cli(), dir, daemon_.socket_path, cli(), dir, dir, dir,
                          daemon_.socket_path, cli(), dir, daemon_.socket_path, cli(), dir, dir, dir, dir,
                          daemon_.socket_path, cli(), dir);
        cr_assert(strstr(o.text, "Read-only file system"), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "namespaces: a mount namespace inside the sandbox's"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc3=0"), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc3=125"), "the nested file tree was refused: %s", o.text);
        cr_assert(strstr(o.text, "rc4="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc4=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc5="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc5=0"), "%s", o.text);
        cr_assert(strstr(o.text, "/w/w: Read-only file system"), "%s", o.text);
        output_done(&o);

        for (size_t i = 0; i < 5; i++) {
                static const char *const names[] = { "nested", "bound", "root", "remounted", "w" };
                char path[128];

                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                cr_assert_neq(access(path, F_OK), 0, "%s was written", path);
        }
        {
                char path[128];

                snprintf(path, sizeof path, "%s/host", dir);
                cr_assert_eq(unlink(path), 0);
        }
        cr_assert_eq(rmdir(dir), 0);
}

/* From a minimal root with the socket bound in: a nested run works inside it, and sees no more of the host.
 * (Its own /proc is for a sanitized nsbox's leak checker.) */
Test(nested, minimal_root_stays_minimal) {
        const char *build = getenv("NSBOX_BUILD_ROOT");
        char sockdir[108];
        Output o;

        cr_assert_not_null(build);
        start(allow_policy);
        snprintf(sockdir, sizeof sockdir, "%s", daemon_.dir);
        o = run_as_nobody("$N run -r --pid --tmpfs / --proc /proc --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib "
                          "--symlink usr/lib64 /lib64 --ro-bind %s %s --bind %s %s -- sh -c '"
                          "export LD_LIBRARY_PATH=%s/client; "
                          /* With a pid namespace the command can run before the daemon has seen its sandbox
                           * start (the pipe that says so closes only when the init execs too), and a nested
                           * request refuses a sandbox still starting: wait until it is listed running. */
                          "until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; done; "
                          "NSBOX_SOCKET=%s %s run -- sh -c \"echo inside; cat /etc/passwd\"; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run --ro-bind /etc /etc -- cat /etc/passwd; echo rc2=$?; "
                          /* A tree of its own is built from the sandbox's, which has no /etc. */
                          "NSBOX_SOCKET=%s %s run -r --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib "
                          "--symlink usr/lib64 /lib64 --ro-bind %s %s --ro-bind /etc /etc -- cat /etc/passwd; echo rc3=$?; "
                          "NSBOX_SOCKET=%s %s run -r --ro-bind / / -- sh -c \"echo inner-tree; cat /etc/passwd\"; "
                          "echo rc4=$?'",
                          build, build, sockdir, sockdir, build, daemon_.socket_path, cli(), daemon_.socket_path,
                          cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli(), build, build,
                          daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "inside\n"), "%s", o.text);
        cr_assert_null(strstr(o.text, "root:x:0:0"), "a host file was read: %s", o.text);
        cr_assert(strstr(o.text, "rc1=1"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc3=0"), "%s", o.text);
        cr_assert(strstr(o.text, "cannot use bind source /etc: No such file or directory"), "%s", o.text);
        cr_assert(strstr(o.text, "inner-tree\n"), "%s", o.text);
        cr_assert(strstr(o.text, "rc4=1"), "%s", o.text);
        output_done(&o);
}

static char pid_file[64];

static bool pid_file_written(_unused_ void *userdata) {
        struct stat st;

        return stat(pid_file, &st) == 0 && st.st_size > 0;
}

static bool process_gone(void *userdata) {
        char path[64];

        snprintf(path, sizeof path, "/proc/%d", *(pid_t *) userdata);
        return access(path, F_OK) < 0;
}

/*
 * The command may call before the daemon has read its sandbox's start report: nothing orders the two (with a
 * pid namespace, the report ends only when init has exec'd too). Such a call waits until the Spawn is
 * answered rather than finding its own sandbox "not running". A race, so tried many times: on a quiet machine
 * most calls come after the report, under load many before.
 */
Test(nested, a_call_made_at_once_waits_for_its_sandbox_to_start) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("for i in $(seq 40); do $N run -r --pid -- $N run -- true || exit 1; done; echo all-ran");
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "all-ran"), "%s", o.text);
        output_done(&o);
}

/* Killing the outer sandbox kills the nested one. */
Test(nested, dies_with_its_sandbox) {
        char dir[] = "/tmp/nsbt-nested-pid-XXXXXX";
        pid_t pid = 0;
        Output o;
        FILE *f;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(pid_file, sizeof pid_file, "%s/pid", dir);
        start(allow_policy);

        o = run_as_nobody("$N run --detach --name nest-outer -r -- sh -c 'NSBOX_SOCKET=%s %s run -- sh -c "
                          "\"echo \\$\\$ > %s.new && mv %s.new %s && exec sleep 1000\"'",
                          daemon_.socket_path, cli(), pid_file, pid_file, pid_file);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_file_written, NULL));
        f = fopen(pid_file, "re");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%d", &pid), 1);
        fclose(f);
        cr_assert(!process_gone(&pid));

        o = run_as_nobody("$N kill -s KILL nest-outer");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(process_gone, &pid), "the nested sandbox's process %d survived", (int) pid);

        cr_assert_eq(unlink(pid_file), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* The inode of /proc/PID/ns/user, or of its parent user namespace (NS_GET_PARENT). */
static ino_t user_namespace_inode(pid_t pid, bool parent) {
        _cleanup_close_ int fd = -EBADF, parent_fd = -EBADF;
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %m", path);
        if (parent) {
                parent_fd = ioctl(fd, NS_GET_PARENT);
                cr_assert_geq(parent_fd, 0, "NS_GET_PARENT of %s: %m", path);
        }
        cr_assert_eq(fstat(parent ? parent_fd : fd, &st), 0);
        return st.st_ino;
}

static pid_t read_pid_file(const char *path) {
        pid_t pid = 0;
        FILE *f = fopen(path, "re");

        cr_assert_not_null(f, "%s: %m", path);
        cr_assert_eq(fscanf(f, "%d", &pid), 1);
        fclose(f);
        return pid;
}

/*
 * A nested run with a user namespace (and a file tree) of its own, from inside a sandbox that bound the socket:
 * it works, its user namespace's parent is the sandbox's, it maps the sandbox's ids (its own uid there maps
 * to root), and killing the sandbox kills it.
 */
Test(nested, own_user_namespace_is_a_child) {
        char dir[] = "/tmp/nsbt-nested-userns-XXXXXX", outer_file[96];
        pid_t outer, inner;
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(pid_file, sizeof pid_file, "%s/pid", dir);
        snprintf(outer_file, sizeof outer_file, "%s/outer", dir);
        start(allow_policy);

        o = run_as_nobody("$N run --detach --name nest-userns -r --ro-bind / / --bind %s %s -- sh -c 'echo $$ > %s; "
                          "NSBOX_SOCKET=%s %s run -r --ro-bind / / --bind %s %s -- sh -c "
                          "\"cat /proc/self/uid_map > %s/map && echo \\$\\$ > %s.new && mv %s.new %s && exec sleep 1000\"'",
                          dir, dir, outer_file, daemon_.socket_path, cli(), dir, dir, dir, pid_file, pid_file, pid_file);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_file_written, NULL), "the nested sandbox did not start");
        outer = read_pid_file(outer_file);
        inner = read_pid_file(pid_file);

        cr_assert_neq(user_namespace_inode(inner, false), user_namespace_inode(outer, false));
        cr_assert_eq(user_namespace_inode(inner, true), user_namespace_inode(outer, false),
                     "the nested user namespace's parent is not the sandbox's");
        {
                char path[128], map[128] = "";
                FILE *f;

                /* Read from inside it, its map shows its parent's ids: the sandbox's root, not the host's nobody. */
                snprintf(path, sizeof path, "%s/map", dir);
                f = fopen(path, "re");
                cr_assert_not_null(f);
                cr_assert_not_null(fgets(map, sizeof map, f));
                fclose(f);
                cr_assert(strspn(map, " 0") > 0 && strstr(map, " 0 ") && !strstr(map, "65534"), "%s", map);
                cr_assert_eq(unlink(path), 0);
        }

        o = run_as_nobody("$N kill -s KILL nest-userns");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(process_gone, &inner), "the nested sandbox's process %d survived", (int) inner);

        cr_assert_eq(unlink(pid_file), 0);
        cr_assert_eq(unlink(outer_file), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* A nested user namespace maps only ids the sandbox's maps cover, and a sandbox without user namespaces
 * (disableUserNamespaces) gets none by asking. */
Test(nested, user_namespace_maps_within_the_sandbox) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r --ro-bind / / -- sh -c '"
                          "NSBOX_SOCKET=%s %s run --map-users=0:1:1 --map-groups=0:0:1 -- true; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run --map-users=0:0:2 --map-groups=0:0:1 -- true; echo rc2=$?; "
                          "NSBOX_SOCKET=%s %s run --map-users=0:0:1 --map-groups=0:65534:1 -- true; echo rc3=$?; "
                          "NSBOX_SOCKET=%s %s run --map-user=7 --map-group=8 -- sh -c \"id -u; id -g\"; echo rc4=$?; "
                          "NSBOX_SOCKET=%s %s run -r --setgroups=allow -- true; echo rc5=$?'; "
                          "$N run -r --disable-userns --ro-bind / / -- sh -c '"
                          "NSBOX_SOCKET=%s %s run -r -- true; echo rc6=$?'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli(),
                          daemon_.socket_path, cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "uidMappings[0].hostID: uids 1..1 are not all mapped in the sandbox's user namespace"),
                  "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "uids 0..1 are not all mapped"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "gidMappings[0].hostID: gids 65534..65534"), "%s", o.text);
        cr_assert(strstr(o.text, "7\n8\nrc4=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc5=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rc6=125"), "%s", o.text);
        cr_assert(strstr(o.text, "the sandbox may make no user namespaces"), "%s", o.text);
        output_done(&o);
}

/* Namespaces are made before the sandbox's filter is loaded: under a profile of the sandbox's own, which may
 * forbid them (this one forbids unshare), a nested request makes none; without namespaces it runs. */
Test(nested, own_seccomp_profile_keeps_its_namespaces) {
        char path[] = "/tmp/nsbt-nested-profile-XXXXXX";
        static const char profile[] =
                "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"unshare\"],"
                "\"action\":\"SCMP_ACT_ERRNO\"}]}";
        Output o;

        write_readable_temp(path, profile, strlen(profile));
        start(allow_policy);

        o = run_as_nobody("$N run -r --seccomp %s --ro-bind / / -- sh -c '"
                          "unshare -n true; echo rc0=$?; "
                          "NSBOX_SOCKET=%s %s run -- true; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run --net -- true; echo rc2=$?; "
                          "NSBOX_SOCKET=%s %s run -r --ro-bind / / -- true; echo rc3=$?'",
                          path, daemon_.socket_path, cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert_null(strstr(o.text, "rc0=0"), "the profile did not forbid unshare: %s", o.text);
        cr_assert(strstr(o.text, "rc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "namespaces: the sandbox runs under a seccomp profile of its own"), "%s", o.text);
        output_done(&o);
        cr_assert_eq(unlink(path), 0);
}

/* New namespaces of its own are made inside the sandbox's user namespace: a network namespace of its own
 * belongs to the sandbox's user namespace, not the host's. */
Test(nested, own_namespaces_are_children) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r --net -- sh -c 'readlink /proc/self/ns/user /proc/self/ns/net; echo ---; "
                          "NSBOX_SOCKET=%s %s run --net --uts --hostname inner -- sh -c "
                          "\"readlink /proc/self/ns/user /proc/self/ns/net; hostname; hostname changed && hostname\"'",
                          daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        {
                _cleanup_free_ char *outer = section(o.text, 0), *inner = section(o.text, 1);
                char *outer_net = strchr(outer, '\n'), *inner_net = strchr(inner, '\n');

                cr_assert(outer_net && inner_net, "%s", o.text);
                /* the same user namespace, another network namespace */
                cr_assert_eq(outer_net - outer, inner_net - inner);
                cr_assert_eq(strncmp(outer, inner, (size_t) (outer_net - outer)), 0, "%s", o.text);
                cr_assert_neq(strncmp(outer_net, inner_net, strlen(outer_net)), 0, "%s", o.text);
                cr_assert(strstr(inner, "inner\n"), "%s", o.text);
                /* root of the sandbox's user namespace holds its own uts namespace: it belongs to that one */
                cr_assert(strstr(inner, "changed\n"), "%s", o.text);
        }
        output_done(&o);
}

/* Limits, filters and capabilities: the sandbox's are the ceiling, and asking past them is refused by name. */
Test(nested, confinement_is_the_ceiling) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r --cap-drop CAP_NET_RAW -p MemoryMax=64M -- sh -c '"
                          "NSBOX_SOCKET=%s %s run --seccomp unconfined -- grep -c ^Seccomp:.2 /proc/self/status; "
                          "echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run -p MemoryMax=100M -- true; echo rc2=$?; "
                          "NSBOX_SOCKET=%s %s run --cap-add CAP_NET_RAW -- true; echo rc3=$?; "
                          "NSBOX_SOCKET=%s %s run -- grep -c ^Seccomp:.2 /proc/self/status'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli(),
                          daemon_.socket_path, cli());
        /* "unconfined" adds no profile of its own: the sandbox's filter stays */
        cr_assert(strstr(o.text, "1\nrc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "resources.memory.limit: 104857600 bytes is above the sandbox's MemoryMax=67108864"),
                  "%s", o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "capabilities.bounding: more than the sandbox's bounding set"), "%s", o.text);
        /* the sandbox's filter is there */
        cr_assert(strstr(o.text, "\n1\n") || strncmp(o.text, "1\n", 2) == 0, "%s", o.text);
        output_done(&o);
}

/* The OOM kill of a nested sandbox is its own: the sandbox it is nested in, ending as its shell passes the 137 on,
 * is not OOM-killed (cgroup2's memory.events counts the kills below a cgroup too; the daemon reads the cgroup's
 * own, as v1's memory.oom_control has them). No swap here, and none to escape to where the host has some. */
Test(nested, an_oom_kill_is_the_nested_sandboxs_own) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -p MemoryMax=256M -p MemorySwapMax=256M -- sh -c 'NSBOX_SOCKET=%s %s run "
                          "-p MemoryMax=32M -p MemorySwapMax=32M -- python3 -c \"x = bytes(range(256)) * (800 << 10)\"; "
                          "exit $?' 2>&1; echo rc=$?",
                          daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "killed by the OOM killer: MemoryMax=32M"), "%s", o.text);
        cr_assert_null(strstr(o.text, "MemoryMax=256M"), "%s", o.text);
        cr_assert(strstr(o.text, "rc=137"), "%s", o.text);
        output_done(&o);
}

/* A sandbox made without capability sets, running as a uid other than 0 in its user namespace, has none there:
 * a nested sandbox sharing that user namespace is refused any, by name (with CAP_SYS_ADMIN there it could
 * remount the sandbox's read-only binds writable), while one in a user namespace of its own keeps them there. */
Test(nested, no_capabilities_beyond_the_sandbox_user) {
        char dir[] = "/tmp/nsbt-nested-caps-XXXXXX", path[128];
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        start(allow_policy);
        o = run_as_nobody("$N run -c -m --ro-bind / / -- sh -c '"
                          "NSBOX_SOCKET=%s %s run --cap-add CAP_SYS_ADMIN -- sh -c "
                          "\"mount -o remount,bind,rw /; echo w > %s/w\"; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run -r --cap-add CAP_SYS_ADMIN -- true; echo rc2=$?'",
                          daemon_.socket_path, cli(), dir, daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "capabilities.effective: the sandbox has no capability sets of its own"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc2=0"), "%s", o.text);
        output_done(&o);

        snprintf(path, sizeof path, "%s/w", dir);
        cr_assert_neq(access(path, F_OK), 0, "%s was written", path);
        cr_assert_eq(rmdir(dir), 0);
}

/*
 * A sandbox that maps root but runs as another of its ids: nothing inside it may become root there (or any
 * other of its users) by asking the daemon, neither by Exec nor by a Spawn in its user namespace; a user
 * namespace of its own is its own to map.
 */
Test(nested, only_as_the_sandbox_user) {
        Output o;

        start_with(allow_policy, true);
        o = run_as_nobody("$N run --name as-user --map-users 0:400000:1 --map-users 1:65534:1 "
                          "--map-groups 0:400000:1 --map-groups 1:65534:1 --uid 1 --gid 1 -- sh -c '"
                          "id -u; NSBOX_SOCKET=%s %s exec -u 0:0 as-user -- id -u; echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s exec -u 1:1 as-user -- echo own-user; echo rc2=$?'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "user.uid: from inside the sandbox, only as its own user (uid 1 there)"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "own-user\nrc2=0"), "%s", o.text);
        cr_assert_null(strstr(o.text, "\n0\n"), "something ran as root: %s", o.text);
        output_done(&o);

        /* The owner, from the host, still may. */
        o = run_as_nobody("$N run --detach --name as-user2 --map-users 0:400000:1 --map-users 1:65534:1 "
                          "--map-groups 0:400000:1 --map-groups 1:65534:1 --uid 1 --gid 1 -- sleep 1000 >/dev/null; "
                          "$N exec -u 0:0 as-user2 -- id -u; echo rc=$?; $N kill -s KILL as-user2");
        cr_assert(strstr(o.text, "0\nrc=0"), "%s", o.text);
        output_done(&o);
}

/* rlimits of its own, within the sandbox's: lower ones are set, a higher hard limit is refused by name, and
 * without any it has the sandbox's. (The outer sandbox has no user namespace: a root without CAP_SYS_RESOURCE,
 * as in some containers, cannot prlimit() a process in one.) */
Test(nested, rlimits_within_the_sandbox) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -p LimitNOFILE=256:512 -- sh -c '"
                          "NSBOX_SOCKET=%s %s run -p LimitNOFILE=100:200 -- sh -c \"ulimit -Sn; ulimit -Hn\"; "
                          "echo rc1=$?; "
                          "NSBOX_SOCKET=%s %s run -p LimitNOFILE=100:1024 -- true; echo rc2=$?; "
                          "NSBOX_SOCKET=%s %s run -- sh -c \"ulimit -Hn\"; echo rc3=$?'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert(strstr(o.text, "100\n200\nrc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rlimits[0].hard: RLIMIT_NOFILE hard limit 1024 is above the sandbox's 512"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "512\nrc3=0"), "%s", o.text);
        output_done(&o);
}

/* Runs script as nobody, as run_as_nobody() does, with NSBOX_SOCKET and C (the nsbox binary) in the environment,
 * which sandboxes inherit from nsbox: "$C run ..." works at any depth. */
#define run_nested(format, ...) \
        run_as_nobody("export NSBOX_SOCKET=%s C=%s; " format, daemon_.socket_path, cli(), ##__VA_ARGS__)

/* From inside a nested sandbox that made namespaces of its own, the nested one is the caller's sandbox (the
 * innermost), and a request from it is a child of the nested one: in its network namespace, not the outer
 * sandbox's. */
Test(nested, innermost_sandbox_is_the_origin) {
        _cleanup_free_ char *outer = NULL, *middle = NULL, *inner = NULL;
        Output o;

        start(allow_policy);
        o = run_nested("$C run -r --net -- sh -c 'readlink /proc/self/ns/net; echo ---; $C run --net -- sh -c "
                       "\"readlink /proc/self/ns/net; echo ---; $C run -- sh -c \\\"readlink /proc/self/ns/net; "
                       "grep -c : /proc/net/dev\\\"; echo rc=\\$?\"'");
        cr_assert(strstr(o.text, "rc=0"), "%s", o.text);
        outer = section(o.text, 0);
        middle = section(o.text, 1);
        inner = section(o.text, 2);
        cr_assert_neq(strcmp(outer, middle), 0, "%s", o.text);
        cr_assert_eq(strncmp(inner, middle, strlen(middle)), 0, "not in the nested sandbox's network: %s", o.text);
        /* lo only */
        cr_assert(strstr(inner, "\n1\nrc=0"), "%s", o.text);
        output_done(&o);
}

#define NEST_DEPTH 8

static char nest_dir[64];

/* Every level wrote its pid: a level writes its own only once the Spawn of the next one was answered, which
 * may be after the deepest level wrote its. */
static bool deepest_started(_unused_ void *userdata) {
        char path[96];
        struct stat st;

        for (unsigned i = 0; i <= NEST_DEPTH; i++) {
                snprintf(path, sizeof path, "%s/pid%u", nest_dir, i);
                if (stat(path, &st) < 0 || st.st_size == 0)
                        return false;
        }
        return true;
}

static pid_t level_pid(unsigned level) {
        char path[96];

        snprintf(path, sizeof path, "%s/pid%u", nest_dir, level);
        return read_pid_file(path);
}

/* The levels from levels_from on have no process left. */
static unsigned levels_from;

static bool levels_gone(void *userdata) {
        pid_t *pids = userdata;

        for (unsigned i = levels_from; i <= NEST_DEPTH; i++)
                if (!process_gone(&pids[i]))
                        return false;
        return true;
}

static void nest_dir_remove(void) {
        char path[128];

        for (unsigned i = 0; i <= NEST_DEPTH; i++) {
                snprintf(path, sizeof path, "%s/pid%u", nest_dir, i);
                (void) unlink(path);
        }
        snprintf(path, sizeof path, "%s/err", nest_dir);
        (void) unlink(path);
        snprintf(path, sizeof path, "%s/nest.sh", nest_dir);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(rmdir(nest_dir), 0);
}

/*
 * Nesting to any depth: each level asks from inside the one before for a sandbox with a user namespace and a
 * file tree of its own (as nested bubblewrap does), detached, so only the daemon ties it to its sandbox. Each
 * level's user namespace is a child of the one before; a Kill of a middle level ends it and everything
 * nested in it, and leaves the levels above it; killing the outermost ends the rest.
 */
Test(nested, nests_to_any_depth) {
        pid_t pids[NEST_DEPTH + 1];
        char path[128];
        Output o;
        FILE *f;

        snprintf(nest_dir, sizeof nest_dir, "/tmp/nsbt-nested-deep-XXXXXX");
        cr_assert_not_null(mkdtemp(nest_dir));
        cr_assert_eq(chmod(nest_dir, 0777), 0);
        snprintf(path, sizeof path, "%s/nest.sh", nest_dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        /* A request from a sandbox still starting is refused: each level waits until it is listed running. */
        fprintf(f, "d=$1\n"
                   "exec 2>>%s/err\n"
                   "until $C inspect nest-lvl$d | grep -q running; do sleep 0.01; done\n"
                   "if [ $d -lt %u ]; then\n"
                   "  $C run --detach --name nest-lvl$((d + 1)) -r --ro-bind / / --bind %s %s -- sh %s $((d + 1)) "
                   "|| exit 1\n"
                   "fi\n"
                   "echo $$ > %s/pid$d.new && mv %s/pid$d.new %s/pid$d\n"
                   "exec sleep 1000\n",
                   nest_dir, NEST_DEPTH, nest_dir, nest_dir, path, nest_dir, nest_dir, nest_dir);
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(chmod(path, 0644), 0);
        start(allow_policy);

        o = run_nested("$C run --detach --name nest-lvl0 -r --ro-bind / / --bind %s %s -- sh %s 0", nest_dir, nest_dir,
                       path);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        if (!test_wait_until(deepest_started, NULL)) {
                char err[4096] = "";

                snprintf(path, sizeof path, "%s/err", nest_dir);
                f = fopen(path, "re");
                if (f) {
                        (void) !fread(err, 1, sizeof err - 1, f);
                        fclose(f);
                }
                cr_assert_fail("the deepest level did not start: %s", err);
        }
        for (unsigned i = 0; i <= NEST_DEPTH; i++)
                pids[i] = level_pid(i);
        for (unsigned i = 1; i <= NEST_DEPTH; i++) {
                cr_assert_neq(user_namespace_inode(pids[i], false), user_namespace_inode(pids[i - 1], false));
                cr_assert_eq(user_namespace_inode(pids[i], true), user_namespace_inode(pids[i - 1], false),
                             "level %u's user namespace is not a child of level %u's", i, i - 1);
        }
        /* Each is shown as nested in the one before. */
        o = run_nested("$C inspect --json nest-lvl5 | grep '\"sandbox\"'; $C inspect --json nest-lvl4 | grep '\"id\"'");
        cr_assert_eq(o.status, 0, "%s", o.text);
        {
                const char *in = strstr(o.text, "\"sandbox\""), *id = strstr(o.text, "\"id\"");

                cr_assert(in && id, "%s", o.text);
                in = strchr(in + 9, '"');
                id = strchr(id + 4, '"');
                cr_assert(in && id && strncmp(in, id, 34) == 0, "%s", o.text);
        }
        output_done(&o);

        o = run_nested("$C kill -s KILL nest-lvl4");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        levels_from = 4;
        cr_assert(test_wait_until(levels_gone, pids), "a level below the one killed survived");
        for (unsigned i = 0; i < 4; i++)
                cr_assert(!process_gone(&pids[i]), "level %u ended with a level below it", i);

        o = run_nested("$C kill -s KILL nest-lvl0");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        levels_from = 0;
        cr_assert(test_wait_until(levels_gone, pids), "a nested level outlived the outermost sandbox");
        nest_dir_remove();
}

/*
 * At every depth the sandbox the request comes from is the ceiling: a nested sandbox's rlimits and capability
 * bounding set bind what is asked from inside it, and its seccomp filter stays.
 */
Test(nested, confinement_is_the_ceiling_at_every_depth) {
        Output o;

        start(allow_policy);
        /* No user namespaces: a root without CAP_SYS_RESOURCE, as in some containers, cannot prlimit() a process
         * in one (see rlimits_within_the_sandbox). The nested sandbox is told apart by its network namespace. */
        o = run_nested("$C run --cap-drop CAP_NET_RAW -p LimitNOFILE=256:512 -- sh -c '"
                       "$C run --net -p LimitNOFILE=100:200 -- sh -c \""
                       "\\$C run --cap-add CAP_NET_RAW -- true; echo rc1=\\$?; "
                       "\\$C run -p LimitNOFILE=100:300 -- true; echo rc2=\\$?; "
                       "\\$C run -- prlimit --nofile --output HARD --noheadings; "
                       "\\$C run -- grep -c : /proc/net/dev; "
                       "\\$C run -- grep ^Seccomp: /proc/self/status; echo rc3=\\$?\"'");
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "capabilities.bounding: more than the sandbox's bounding set"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rlimits[0].hard: RLIMIT_NOFILE hard limit 300 is above the sandbox's 200"), "%s",
                  o.text);
        /* the nested sandbox's hard limit, its network (lo only), the filter */
        cr_assert(strstr(o.text, "200\n1\nSeccomp:\t2\nrc3=0"), "%s", o.text);
        output_done(&o);
}

/*
 * Exec into a nested sandbox: from the host (its owner), from inside its sandbox, and from inside itself; from
 * inside it, not into the sandbox it is nested in, nor into a sibling.
 */
Test(nested, exec_into_nested_sandboxes) {
        _cleanup_free_ char *n_net = NULL;
        Output o;

        start(allow_policy);
        o = run_nested("$C run --detach --name nest-ex-s -r --net -- sh -c '"
                       "until $C inspect nest-ex-s | grep -q running; do sleep 0.01; done; "
                       "$C run --detach --name nest-ex-n --net -- sleep 1000 && "
                       "$C run --detach --name nest-ex-m --net -- sleep 1000 && exec sleep 1000' >/dev/null && "
                       "until $C inspect nest-ex-m 2>/dev/null | grep -q running; do sleep 0.01; done; "
                       "$C exec nest-ex-n -- readlink /proc/self/ns/net; echo ---; "
                       "$C exec nest-ex-s -- sh -c '$C exec nest-ex-n -- readlink /proc/self/ns/net; echo rc1=$?'; "
                       "echo ---; "
                       "$C exec nest-ex-n -- sh -c '$C exec nest-ex-n -- readlink /proc/self/ns/net; echo rc2=$?; "
                       "$C exec nest-ex-s -- echo wrong; echo rc3=$?; "
                       "$C exec nest-ex-m -- echo wrong; echo rc4=$?'; "
                       "$C kill -s KILL nest-ex-s");
        n_net = section(o.text, 0);
        cr_assert(strncmp(n_net, "net:[", 5) == 0, "%s", o.text);
        {
                _cleanup_free_ char *from_s = section(o.text, 1), *from_n = section(o.text, 2);

                cr_assert_eq(strncmp(from_s, n_net, strlen(n_net)), 0, "%s", o.text);
                cr_assert(strstr(from_s, "rc1=0"), "%s", o.text);
                cr_assert_eq(strncmp(from_n, n_net, strlen(n_net)), 0, "%s", o.text);
                cr_assert(strstr(from_n, "rc2=0"), "%s", o.text);
                cr_assert(strstr(from_n, "rc3=125"), "%s", o.text);
                cr_assert(strstr(from_n, "rc4=125"), "%s", o.text);
        }
        cr_assert(strstr(o.text, "no such sandbox: nest-ex-s"), "%s", o.text);
        cr_assert(strstr(o.text, "no such sandbox: nest-ex-m"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        output_done(&o);
}

/*
 * Joins from inside a sandbox: its own namespaces (nothing changes) and those of a sandbox nested in it (not
 * its user namespace); never the host's, a sibling's, or, from inside a nested sandbox, the outer one's.
 */
Test(nested, joins_only_its_own_and_nested_namespaces) {
        _cleanup_free_ char *s_net = NULL, *n_net = NULL, *own = NULL, *nested = NULL;
        Output o;

        start(allow_policy);
        o = run_nested("$C run --detach --name nest-j-b -r --net -- sleep 1000 >/dev/null && "
                       "$C run --detach --name nest-j-s -r --net -- sh -c '"
                       "until $C inspect nest-j-s | grep -q running; do sleep 0.01; done; "
                       "$C run --detach --name nest-j-n -r --net -- sleep 1000 && exec sleep 1000' >/dev/null && "
                       "until $C inspect nest-j-n 2>/dev/null | grep -q running; do sleep 0.01; done; "
                       "$C exec nest-j-s -- readlink /proc/self/ns/net; echo ---; "
                       "$C exec nest-j-n -- readlink /proc/self/ns/net; echo ---; "
                       "$C exec nest-j-s -- sh -c '"
                       "$C run --join nest-j-s:net -- readlink /proc/self/ns/net; echo rc1=$?; echo ---; "
                       "$C run --join nest-j-n:net -- readlink /proc/self/ns/net; echo rc2=$?; echo ---; "
                       "$C run --join nest-j-b:net -- echo wrong; echo rc4=$?; "
                       "$C run --join nest-j-n:user -- echo wrong; echo rc5=$?; "
                       "$C run --netns 3 -- echo wrong 3</dev/null; echo rc6=$?'; "
                       "$C exec nest-j-n -- sh -c '$C run --join nest-j-s:net -- echo wrong; echo rc7=$?'; "
                       /* The host's, passed in by its owner (a process of the sandbox cannot open it). */
                       "$C exec nest-j-s -- sh -c '$C run --netns 0 -- echo wrong; echo rc3=$?' </proc/$$/ns/net; "
                       "$C kill -s KILL nest-j-s; $C kill -s KILL nest-j-b");
        s_net = section(o.text, 0);
        n_net = section(o.text, 1);
        own = section(o.text, 2);
        nested = section(o.text, 3);
        cr_assert(strncmp(s_net, "net:[", 5) == 0 && strncmp(n_net, "net:[", 5) == 0, "%s", o.text);
        cr_assert_neq(strcmp(s_net, n_net), 0, "%s", o.text);
        cr_assert_eq(strncmp(own, s_net, strlen(s_net)), 0, "%s", o.text);
        cr_assert(strstr(own, "rc1=0"), "%s", o.text);
        cr_assert_eq(strncmp(nested, n_net, strlen(n_net)), 0, "%s", o.text);
        cr_assert(strstr(nested, "rc2=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "joinNamespaces[0].fileDescriptor: not a net namespace of the sandbox or of a "
                                 "sandbox nested in it"),
                  "%s", o.text);
        /* A sibling, and from inside the nested one the outer sandbox, are not there to name. */
        cr_assert(strstr(o.text, "--join nest-j-b:net: no such sandbox: nest-j-b"), "%s", o.text);
        cr_assert(strstr(o.text, "--join nest-j-s:net: no such sandbox: nest-j-s"), "%s", o.text);
        cr_assert(strstr(o.text, "rc4=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rc5=125"), "%s", o.text);
        cr_assert(strstr(o.text, "Exec into it instead"), "%s", o.text);
        cr_assert(strstr(o.text, "rc6="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc6=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc7=125"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        output_done(&o);
}

static char leftover_file[96];

static bool leftover_answered(_unused_ void *userdata) {
        struct stat st;

        return stat(leftover_file, &st) == 0 && st.st_size > 0;
}

/*
 * A process inside a sandbox that is not in all of its namespaces leaves nothing by asking: not a network or
 * user namespace it made there itself (a bubblewrap of its own would make them), not the network namespace of a
 * nested sandbox whose top process ended (which kills what it left behind); a process wholly in the sandbox is
 * served.
 */
Test(nested, a_process_leaves_nothing_by_asking) {
        char dir[] = "/tmp/nsbt-nested-left-XXXXXX", path[64];
        Output o;
        FILE *f;
        pid_t left;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(leftover_file, sizeof leftover_file, "%s/left", dir);
        start(allow_policy);

        o = run_nested("$C run -r -- sh -c '"
                       "unshare -n $C run -- cat /proc/net/dev; echo rc1=$?; "
                       "unshare -rn $C run -- cat /proc/net/dev; echo rc2=$?; "
                       "$C run -- true; echo rc3=$?'");
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "the calling process runs in a net namespace that is not its sandbox's"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "the calling process runs in a user namespace that is not its sandbox's"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc3=0"), "%s", o.text);
        cr_assert_null(strstr(o.text, "Inter-|"), "%s", o.text);
        output_done(&o);

        /* The nested sandbox's command leaves a process behind, which could ask once the nested sandbox ended
         * (its namespaces no longer indexed, it would be found as the sandbox's): it is in the nested
         * sandbox's cgroup, and the end of that sandbox kills it. */
        snprintf(path, sizeof path, "%s/left.sh", dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fprintf(f, "echo $$ > %s/pid.new && mv %s/pid.new %s; exec sleep 1000\n", dir, dir, leftover_file);
        cr_assert_eq(fclose(f), 0);
        o = run_nested("$C run --detach --name nest-left -r -- sh -c '"
                       "until $C inspect nest-left | grep -q running; do sleep 0.01; done; "
                       "$C run --detach --name nest-left-n --net -- sh -c \"sh %s & "
                       "until [ -s %s ]; do sleep 0.01; done; exit 0\"; exec sleep 1000' >/dev/null",
                       path, leftover_file);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(leftover_answered, NULL), "the process was not left behind");
        f = fopen(leftover_file, "re");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%d", &left), 1);
        fclose(f);
        cr_assert(test_wait_until(process_gone, &left), "the process left behind outlived its nested sandbox");
        o = run_nested("$C kill -s KILL nest-left");
        output_done(&o);
        cr_assert_eq(unlink(leftover_file), 0);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* The calling process's own hard limits bind what is made for it, as the sandbox's do: a process of the sandbox
 * that lowered one does not get the sandbox's back by asking, neither by a Spawn nor by an Exec. (No user
 * namespaces: see rlimits_within_the_sandbox.) */
Test(nested, rlimits_within_the_calling_process) {
        Output o;

        start(allow_policy);
        o = run_nested("$C run --name nest-lim -p LimitNOFILE=256:512 -- sh -c '"
                       "ulimit -n 100; "
                       "$C run -- sh -c \"ulimit -Hn\"; echo rc1=$?; "
                       "$C run -p LimitNOFILE=50:200 -- true; echo rc2=$?; "
                       "$C exec nest-lim -- sh -c \"ulimit -Hn\"; echo rc3=$?; "
                       "$C run -p LimitNOFILE=50:80 -- sh -c \"ulimit -Hn\"; echo rc4=$?'");
        cr_assert(strstr(o.text, "100\nrc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rlimits[0].hard: RLIMIT_NOFILE hard limit 200 is above the calling process's 100"),
                  "%s", o.text);
        cr_assert(strstr(o.text, "100\nrc3=0"), "%s", o.text);
        cr_assert(strstr(o.text, "80\nrc4=0"), "%s", o.text);
        output_done(&o);
}

/* A sandbox under classic-BPF programs of its own: they are not kept, so nothing is made inside it. */
Test(nested, own_seccomp_programs_are_not_shed) {
        /* One instruction: allow everything. Loading it needs no_new_privs, which every sandbox has. */
        static const struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        char path[] = "/tmp/nsbt-nested-bpf-XXXXXX";
        Output o;

        write_readable_temp(path, allow, sizeof allow);
        start(allow_policy);

        o = run_as_nobody("$N run -r --add-seccomp-fd 3 -- sh -c 'NSBOX_SOCKET=%s %s run -- true; echo rc=$?' 3<%s",
                          daemon_.socket_path, cli(), path);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert(strstr(o.text, "seccomp programs of its own"), "%s", o.text);
        output_done(&o);

        /* A nested sandbox under programs of its own is told from its sandbox by a user or pid namespace of
         * its own, which its processes cannot leave; without one, its requests would pass for the sandbox's
         * and shed its programs. */
        o = run_as_nobody("s=$($N run --detach -r -- sleep 1000) || exit 90; "
                          "until $N inspect $s | grep -q running; do sleep 0.01; done; "
                          "$N exec $s -- sh -c '$0 --socket $1 run -n --add-seccomp-fd 3 -- true 3<$2; echo rc1=$?; "
                          "$0 --socket $1 run -r --add-seccomp-fd 3 -- sh -c \"$0 --socket $1 run -- true\" 3<$2; "
                          "echo rc2=$?' %s %s %s; $N kill -s KILL $s",
                          cli(), daemon_.socket_path, path);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "seccompFileDescriptors: a nested sandbox under seccomp programs of its own needs"),
                  "%s", o.text);
        /* With a user namespace of its own it is made, and requests from inside it are refused as from any
         * sandbox under programs of its own. */
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(strstr(o.text, "rc1=") ?: "", "which nothing made inside it could keep"), "%s", o.text);
        output_done(&o);
        cr_assert_eq(unlink(path), 0);
}
/*
 * Without cgroups only the namespaces tell, and a sandbox's process can trade every namespace but a user or pid
 * one for a fresh one, in a user namespace of its own: then it cannot be told from a host process, and it is
 * refused rather than taken for the host.
 */
Test(nested, no_cgroups_fresh_namespaces_are_refused) {
        const char *args[] = { "--no-cgroups", NULL };
        Output o;

        test_daemon_start(&daemon_, args);
        daemon_started = true;
        o = run_as_nobody("$N run --net --ipc --uts -- sh -c "
                          "\"NSBOX_SOCKET=%s unshare -Urnmiu --fork %s run -- cat /proc/net/dev; echo rc=\\$?\"",
                          daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert(strstr(o.text, "a user namespace of its own"), "%s", o.text);
        cr_assert_null(strstr(o.text, "Inter-|"), "the nested sandbox ran: %s", o.text);
        output_done(&o);
}

/* What a nested sandbox's process runs, as a script file (nested quoting would hide it). */
static const char traded_script[] =
        "id=$(\"$C\" inspect --json nest-n | sed -n 's/.*\"id\": *\"\\([0-9a-f]*\\)\".*/\\1/p'); echo id=$id\n"
        /* root in the sandbox's user namespace, which is not root of the host's: the outer cgroup's files
         * are not its to write */
        "m=$(findmnt -n -t cgroup2 -o TARGET | head -n 1); c=$(sed -n 's/^0:://p' /proc/self/cgroup)\n"
        "c=${c%/payload}; c=${c%/*}; echo $$ > \"$m$c/cgroup.procs\"; echo moved=$?\n"
        "unshare -U sh -c '\"$C\" inspect nest-sib >/dev/null; echo rc1=$?'\n"
        "unshare -Urniu sh -c '\n"
        "  \"$C\" inspect nest-sib >/dev/null; echo rc2=$?\n"
        "  \"$C\" inspect nest-o >/dev/null; echo rc3=$?\n"
        "  echo listed=$(\"$C\" list --json | grep -o \"nest-[a-z]*\" | sort -u | tr \"\\n\" \" \")\n"
        "  \"$C\" exec nest-o -- echo wrong; echo rc4=$?\n"
        "  \"$C\" run -- cat /proc/net/dev; echo rc5=$?\n"
        "  echo self=$(\"$C\" inspect nest-n | grep -c running)'\n"
        "unshare -Urmnuipf --mount-proc sh -c '\"$C\" inspect nest-sib >/dev/null; echo rc6=$?'\n";

/*
 * A nested sandbox with a network namespace of its own but no user or pid namespace and no limits: a process of
 * it that makes a user namespace of its own (unprivileged ones work) and then fresh network, uts and ipc
 * namespaces in it (or a pid namespace too) has none of the nested sandbox's namespaces left, and its user and
 * pid namespaces lead to the sandbox it is nested in. Its cgroup, one of the nested sandbox's own that it cannot
 * leave, still tells: it is the nested sandbox's, sees neither the sandbox it is nested in nor its sibling, and
 * its requests are refused as from inside the nested sandbox, not the outer one. Root in the outer sandbox's user
 * namespace is not root of the host's, whose the cgroup files are.
 */
Test(nested, traded_namespaces_do_not_pass_for_the_sandbox) {
        char path[] = "/tmp/nsbt-nested-trade-XXXXXX", want[128];
        const char *id;
        Output o;

        write_readable_temp(path, traded_script, strlen(traded_script));
        start(allow_policy);

        o = run_nested("$C run --name nest-o -r -- sh -c '"
                       "until $C inspect nest-o | grep -q running; do sleep 0.01; done; "
                       "$C run --detach --name nest-sib -- sleep 1000 >/dev/null || exit 90; "
                       "$C run --name nest-n --net --uts --ipc -- sh %s; "
                       "$C kill -s KILL nest-sib'",
                       path);
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "moved="), "%s", o.text);
        cr_assert_null(strstr(o.text, "moved=0"), "a process of the nested sandbox left its cgroup: %s", o.text);
        cr_assert(strstr(o.text, "rc1=1"), "a process of the nested sandbox saw its sibling: %s", o.text);
        cr_assert(strstr(o.text, "rc2=1"), "a process of the nested sandbox saw its sibling: %s", o.text);
        cr_assert(strstr(o.text, "rc3=1"), "a process of the nested sandbox saw its sandbox: %s", o.text);
        cr_assert(strstr(o.text, "no such sandbox: nest-o"), "%s", o.text);
        cr_assert(strstr(o.text, "listed=nest-n\n"), "%s", o.text);
        cr_assert(strstr(o.text, "rc4="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc4=0"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        cr_assert(strstr(o.text, "rc5=125"), "%s", o.text);
        cr_assert_null(strstr(o.text, "Inter-|"), "%s", o.text);
        cr_assert(strstr(o.text, "self=1"), "%s", o.text);
        cr_assert(strstr(o.text, "rc6=1"), "a process of the nested sandbox saw its sibling: %s", o.text);
        id = strstr(o.text, "id=");
        cr_assert(id && strcspn(id + 3, "\n") == 32, "%s", o.text);
        snprintf(want, sizeof want, "from inside sandbox %.32s", id + 3);
        cr_assert(strstr(o.text, want), "the request was not the nested sandbox's: %s", o.text);
        output_done(&o);
        cr_assert_eq(unlink(path), 0);
}

/* Without cgroups nothing but a user or pid namespace tells a nested sandbox's processes from its sandbox's:
 * a nested sandbox with other namespaces of its own needs one of those. */
Test(nested, no_cgroups_nested_namespaces_need_user_or_pid) {
        Output o;

        start_with_arg(allow_policy, false, "--no-cgroups");
        o = run_nested("$C run -r -- sh -c '"
                       "$C run --net -- true; echo rc1=$?; "
                       "$C run -r --net -- true; echo rc2=$?; "
                       "$C run -- true; echo rc3=$?'");
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "namespaces: without cgroups, a nested sandbox with namespaces of its own needs a "
                                 "user or pid namespace of its own"),
                  "%s", o.text);
        cr_assert(strstr(o.text, "rc2=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc3=0"), "%s", o.text);
        output_done(&o);
}

/*
 * Bubblewrap inside bubblewrap through nsbox-bwrap (bubblewrap's own "can mount /proc recursively", and an inner
 * one with a network namespace of its own, which sees only lo): the inner sandbox is a nested one, in a cgroup
 * of its own below the outer one's.
 */
Test(nested, bwrap_in_bwrap_has_a_cgroup_of_its_own) {
        const char *bwrap = getenv("NSBOX_BWRAP");
        const char *inner;
        Output o;

        cr_assert(bwrap, "$NSBOX_BWRAP must point to the nsbox-bwrap binary under test");
        start(allow_policy);
        o = run_nested("%s --unshare-user --uid 0 --gid 0 --cap-add ALL --bind / / --bind /proc /proc -- sh -c '"
                       "grep ^0:: /proc/self/cgroup; "
                       "$0 --unshare-all --bind / / --bind /proc /proc echo hello; echo rc1=$?; "
                       "$0 --unshare-user --unshare-net --bind / / sh -c \"grep -c : /proc/net/dev; "
                       "grep ^0:: /proc/self/cgroup\"; echo rc2=$?' %s",
                       bwrap, bwrap);
        cr_assert(strstr(o.text, "hello\nrc1=0"), "%s", o.text);
        /* lo only */
        cr_assert(strstr(o.text, "\n1\n0::"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=0"), "%s", o.text);
        inner = strstr(o.text, "0::");
        cr_assert(inner && strstr(inner + 3, "0::"), "%s", o.text);
        {
                char outer_line[512], inner_line[512];

                snprintf(outer_line, sizeof outer_line, "%.*s", (int) strcspn(inner, "\n"), inner);
                inner = strstr(inner + 3, "0::");
                snprintf(inner_line, sizeof inner_line, "%.*s", (int) strcspn(inner, "\n"), inner);
                cr_assert_eq(ids_in_path(outer_line), 1U, "%s", o.text);
                cr_assert_eq(ids_in_path(inner_line), 2U, "not in a cgroup of its own: %s", o.text);
                cr_assert_eq(strncmp(inner_line, outer_line, strlen(outer_line)), 0, "not below the outer one's: %s",
                             o.text);
        }
        output_done(&o);
}

/* The script the outer sandbox runs in names_are_each_sandboxs_own (%1$s: a scratch directory). */
static const char names_script[] =
        "until \"$C\" inspect nest-no | grep -q running; do sleep 0.01; done\n"
        "\"$C\" run --detach --name n1 -- sh -c '\"$C\" run --detach --name web -- sleep 1000 >/dev/null && "
        "echo up > %1$s/n1 && exec sleep 1000' >/dev/null\n"
        "until [ -s %1$s/n1 ]; do sleep 0.01; done\n"
        "\"$C\" run --name n2 -- sh -c '\n"
        "  w=$(\"$C\" run --detach --name web -- sleep 1000); echo rc1=$? w=$w\n"
        "  \"$C\" inspect --json web | grep -q \"\\\"id\\\": *\\\"$w\" && echo own=yes\n"
        "  x=$(\"$C\" inspect n1 2>&1); echo \"x=$x\"\n"
        "  y=$(\"$C\" inspect n9 2>&1); echo \"y=$y\"\n"
        "  [ \"$(echo \"$x\" | sed s/n1/NAME/g)\" = \"$(echo \"$y\" | sed s/n9/NAME/g)\" ] && echo same\n"
        "  \"$C\" inspect n2 >/dev/null; echo self=$?\n"
        "  \"$C\" kill -s KILL web'\n"
        "\"$C\" inspect n1 >/dev/null; echo outer=$?\n"
        "\"$C\" kill -s KILL n1\n";

/*
 * Names given from inside a sandbox are that sandbox's own: siblings nested in the same sandbox each have theirs,
 * so one neither takes a name from another ("web" in both) nor learns that the other gave it; from inside, a
 * sibling's name answers as one nobody gave. A nested sandbox finds itself by the name its sandbox gave it, and
 * the sandbox finds it too.
 */
Test(nested, names_are_each_sandboxs_own) {
        char dir[] = "/tmp/nsbt-nested-names-XXXXXX", path[64];
        Output o;
        FILE *f;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(path, sizeof path, "%s/o.sh", dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fprintf(f, names_script, dir);
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(chmod(path, 0644), 0);
        start(allow_policy);

        o = run_nested("$C run --name nest-no -- sh %s", path);
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc1=0"), "a sibling's name blocked one's own: %s", o.text);
        cr_assert(strstr(o.text, "own=yes"), "the name did not lead to its own: %s", o.text);
        cr_assert(strstr(o.text, "x=nsbox: cannot inspect the sandbox: no such sandbox: n1"), "%s", o.text);
        cr_assert(strstr(o.text, "same\n"), "a sibling's name answered unlike a missing one: %s", o.text);
        cr_assert(strstr(o.text, "self=0"), "%s", o.text);
        cr_assert(strstr(o.text, "outer=0"), "%s", o.text);
        output_done(&o);
        snprintf(path, sizeof path, "%s/n1", dir);
        cr_assert_eq(unlink(path), 0);
        snprintf(path, sizeof path, "%s/o.sh", dir);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* The line of text that starts with what, up to its end (asserted to be there). */
static char *line_starting(const char *text, const char *what) {
        const char *p = text;

        for (; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, what, strlen(what)) == 0)
                        return strndup(p, strcspn(p, "\n"));
        cr_assert_fail("no line starting with %s in: %s", what, text);
        return NULL;
}

/*
 * nsbox list and inspect show a nested sandbox's name as given; an unnamed one
 * as nested in its sandbox, and a process Exec started as exec in it.
 */
Test(nested, list_and_inspect_tell_nested_sandboxes_from_execs) {
        _cleanup_free_ char *named = NULL, *unnamed = NULL, *exec = NULL;
        char s[33], u[33], x[33], n[33], in[64];
        const char *p;
        Output o;

        start(allow_policy);
        o = run_as_nobody("s=$($N run --detach --name nest-list -r -- sleep 1000) || exit 90; "
                          "until $N inspect $s | grep -q running; do sleep 0.01; done; "
                          "n=$($N exec nest-list -- %s --socket %s run --detach --name nest-named -- sleep 1000) || "
                          "exit 91; "
                          "u=$($N exec nest-list -- %s --socket %s run --detach -- sleep 1000) || exit 92; "
                          "x=$($N exec --detach nest-list -- sleep 1000) || exit 93; "
                          "echo s=$s u=$u x=$x n=$n; $N list; echo ---; $N inspect nest-named; echo ---; "
                          "$N inspect $u; echo ---; $N inspect $x; $N kill -s KILL $s",
                          cli(), daemon_.socket_path, cli(), daemon_.socket_path);
        cr_assert_eq(o.status, 0, "%s", o.text);
        p = strstr(o.text, "s=");
        cr_assert(p && sscanf(p, "s=%32s u=%32s x=%32s n=%32s", s, u, x, n) == 4, "%s", o.text);

        named = line_starting(o.text, n);
        unnamed = line_starting(o.text, u);
        exec = line_starting(o.text, x);
        cr_assert(strstr(named, " nest-named ") && !strstr(named, " in "), "%s", o.text);
        snprintf(in, sizeof in, " nested in %.8s ", s);
        cr_assert(strstr(unnamed, in), "%s", o.text);
        snprintf(in, sizeof in, " exec in %.8s ", s);
        cr_assert(strstr(exec, in), "%s", o.text);

        {
                _cleanup_free_ char *named_inspect = section(o.text, 1), *unnamed_inspect = section(o.text, 2),
                                    *exec_inspect = section(o.text, 3);
                char want[128];

                snprintf(want, sizeof want, "nested in:   %s\n", s);
                cr_assert(strstr(named_inspect, want) && strstr(named_inspect, "name:        nest-named\n"),
                          "%s", o.text);
                cr_assert(strstr(unnamed_inspect, want) && strstr(unnamed_inspect, "name:        -\n"), "%s",
                          o.text);
                snprintf(want, sizeof want, "exec in:     %s\n", s);
                cr_assert(strstr(exec_inspect, want) && !strstr(exec_inspect, "nested"), "%s", o.text);
        }
        output_done(&o);
}

/*
 * A pid namespace of its own inside the sandbox's, with a user namespace of its own: it is a child of the
 * sandbox's, the nested user namespace owns it (so the nested sandbox mounts a /proc for it), and its pid 1 is
 * the nested sandbox's init, whose child is the command.
 */
Test(nested, own_pid_namespace_is_a_child) {
        const char *t;
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r --unshare-pid --ro-bind / / --proc /proc -- sh -c '"
                          "NSBOX_SOCKET=%s %s run -r --unshare-pid --ro-bind / / --proc /proc -- sh -c "
                          "\"echo pid=\\$\\$ comm=\\$(cat /proc/1/comm); "
                          "echo max=\\$(ls /proc | grep ^[0-9] | sort -n | tail -n 1)\"; echo rc=$?; "
                          "NSBOX_SOCKET=%s %s run -r --unshare-pid --boottime=1000000 --ro-bind / / --proc /proc -- "
                          "sh -c \"echo tpid=\\$\\$ uptime=\\$(cut -d. -f1 /proc/uptime)\"'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc=0\n"), "%s", o.text);
        /* init runs from a memfd when the daemon found no nsbox-init program: "memfd:nsbox-init" */
        cr_assert(strstr(o.text, "pid=2 comm=nsbox-init\n") || strstr(o.text, "pid=2 comm=memfd:nsbox-ini"), "%s",
                  o.text);
        /* its /proc shows its own processes only, a handful */
        t = strstr(o.text, "max=");
        cr_assert(t, "%s", o.text);
        cr_assert_lt(strtoul(t + 4, NULL, 10), 10, "%s", o.text);
        /* with a time namespace of its own too: pid 1 is forked into it once its offsets are written */
        t = strstr(o.text, "tpid=2 uptime=");
        cr_assert(t, "%s", o.text);
        cr_assert_geq(strtoul(t + strlen("tpid=2 uptime="), NULL, 10), 1000000, "%s", o.text);
        output_done(&o);
}

/* How many processes run in the pid namespace whose link reads text ("pid:[N]"). */
static unsigned processes_in_pid_namespace(const char *text) {
        DIR *d = opendir("/proc");
        unsigned n = 0;
        struct dirent *de;

        cr_assert_not_null(d);
        while ((de = readdir(d))) {
                char path[300], link[64];
                ssize_t len;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/ns/pid", de->d_name);
                len = readlink(path, link, sizeof link - 1);
                if (len <= 0)
                        continue;
                link[len] = '\0';
                n += strcmp(link, text) == 0;
        }
        closedir(d);
        return n;
}

static char pid_namespace_text[64];

static bool pid_namespace_empty(_unused_ void *userdata) {
        return processes_in_pid_namespace(pid_namespace_text) == 0;
}

static bool pid_namespace_holds_two(_unused_ void *userdata) {
        return processes_in_pid_namespace(pid_namespace_text) == 2;
}

static void read_pid_namespace_text(const char *path) {
        FILE *f = fopen(path, "re");

        cr_assert_not_null(f, "%s: %m", path);
        cr_assert_not_null(fgets(pid_namespace_text, sizeof pid_namespace_text, f));
        fclose(f);
        pid_namespace_text[strcspn(pid_namespace_text, "\n")] = '\0';
        cr_assert(strncmp(pid_namespace_text, "pid:[", 5) == 0, "%s", pid_namespace_text);
}

/*
 * The process the daemon tracks for a nested pid namespace stays outside it: a signal it is sent reaches the
 * nested init (and so the command), Wait reports how it ended, a Kill with SIGKILL ends the whole namespace,
 * and killing the outer sandbox ends every nested one.
 */
Test(nested, own_pid_namespace_kill_and_wait) {
        char dir[] = "/tmp/nsbt-nested-pidns-XXXXXX", path[96];
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(pid_file, sizeof pid_file, "%s/c", dir);
        start(allow_policy);

#define NESTED_RUN "NSBOX_SOCKET=%s %s run --detach -r --unshare-pid --ro-bind / / --proc /proc --bind %s %s "
#define NESTED_ARGS daemon_.socket_path, cli(), dir, dir
        o = run_as_nobody("$N run --detach --name nest-pidns -r --unshare-pid --ro-bind / / --proc /proc --bind %s %s "
                          "-- sh -c 'exec 2>%s/err; until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; "
                          "done; " NESTED_RUN "--name nest-pidns-a -- sleep 1000 && "
                          NESTED_RUN "--name nest-pidns-b -- sh -c \"readlink /proc/self/ns/pid > %s/b.new && "
                          "mv %s/b.new %s/b && exec sleep 1000\" && "
                          NESTED_RUN "--name nest-pidns-c -- sh -c \"readlink /proc/self/ns/pid > %s/c.new && "
                          "mv %s/c.new %s/c && exec sleep 1000\" && exec sleep 1000'",
                          dir, dir, dir, daemon_.socket_path, cli(), NESTED_ARGS, NESTED_ARGS, dir, dir, dir, NESTED_ARGS,
                          dir, dir, dir);
#undef NESTED_RUN
#undef NESTED_ARGS
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        if (!test_wait_until(pid_file_written, NULL)) {
                _cleanup_free_ char *err = NULL;
                FILE *f;

                snprintf(path, sizeof path, "%s/err", dir);
                f = fopen(path, "re");
                cr_assert_not_null(f);
                err = calloc(1, 4096);
                cr_assert_not_null(err);
                (void) !fread(err, 1, 4095, f);
                fclose(f);
                cr_assert_fail("the nested sandboxes did not start: %s", err);
        }

        /* SIGTERM reaches the command through both inits: it ends as the command did. */
        o = run_as_nobody("$N kill -s TERM nest-pidns-a; $N wait nest-pidns-a; echo rc=$?");
        cr_assert(strstr(o.text, "rc=143"), "%s", o.text);
        output_done(&o);

        /* SIGKILL ends the process outside, and the namespace with it. */
        snprintf(path, sizeof path, "%s/b", dir);
        read_pid_namespace_text(path);
        /* The mv that wrote the file may not have been reaped yet. */
        cr_assert(test_wait_until(pid_namespace_holds_two, NULL), "nested init and sleep: %u",
                  processes_in_pid_namespace(pid_namespace_text));
        o = run_as_nobody("$N kill -s KILL nest-pidns-b; $N wait nest-pidns-b; echo rc=$?");
        cr_assert(strstr(o.text, "rc=137"), "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_namespace_empty, NULL), "the nested pid namespace outlived its top process");

        /* Killing the outer sandbox ends the nested one. */
        read_pid_namespace_text(pid_file);
        cr_assert_eq(processes_in_pid_namespace(pid_namespace_text), 2, "nested init and sleep");
        o = run_as_nobody("$N kill -s KILL nest-pidns");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_namespace_empty, NULL), "the nested pid namespace outlived its sandbox");

        snprintf(path, sizeof path, "%s/b", dir);
        cr_assert_eq(unlink(path), 0);
        snprintf(path, sizeof path, "%s/err", dir);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(unlink(pid_file), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/*
 * A nested pid 1 that clears its own death signal (a command run as pid 1 may) still ends with a Kill with
 * SIGKILL: the daemon kills the namespace's pid 1 itself when the process it tracks ends.
 */
Test(nested, own_pid_namespace_pid1_cannot_outlive_a_kill) {
        char dir[] = "/tmp/nsbt-nested-pid1-XXXXXX", path[128];
        FILE *f;
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(path, sizeof path, "%s/p1.py", dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fprintf(f, "import ctypes, os, sys, time\n"
                   "ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG: none\n"
                   "open(sys.argv[1] + '.new', 'w').write(os.readlink('/proc/self/ns/pid'))\n"
                   "os.rename(sys.argv[1] + '.new', sys.argv[1])\n"
                   "time.sleep(1000)\n");
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(chmod(path, 0644), 0);
        snprintf(pid_file, sizeof pid_file, "%s/d", dir);
        start(allow_policy);

        o = run_as_nobody("$N run --detach --name nest-pid1 -r --unshare-pid --ro-bind / / --proc /proc --bind %s %s "
                          /* A nested request refuses a sandbox still starting: wait until it is listed running
                           * (see minimal_root_stays_minimal). */
                          "-- sh -c 'exec 2>%s/err; until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; "
                          "done; NSBOX_SOCKET=%s %s run --detach --name nest-pid1-d -r --pid --as-pid-1 "
                          "--ro-bind / / --bind %s %s -- python3 %s %s && exec sleep 1000'",
                          dir, dir, dir, daemon_.socket_path, cli(), daemon_.socket_path, cli(), dir, dir, path,
                          pid_file);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_file_written, NULL), "the nested sandbox did not start");
        read_pid_namespace_text(pid_file);
        cr_assert_eq(processes_in_pid_namespace(pid_namespace_text), 1, "the nested pid 1: %u in %s",
                     processes_in_pid_namespace(pid_namespace_text), pid_namespace_text);

        o = run_as_nobody("$N kill -s KILL nest-pid1-d; $N wait nest-pid1-d; echo rc=$?");
        cr_assert(strstr(o.text, "rc=137"), "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_namespace_empty, NULL), "pid 1 outlived the Kill");

        o = run_as_nobody("$N kill -s KILL nest-pid1");
        output_done(&o);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(unlink(pid_file), 0);
        snprintf(path, sizeof path, "%s/err", dir);
        (void) unlink(path);
        cr_assert_eq(rmdir(dir), 0);
}

/* ---- root's sandboxes: the same rule, and what their processes hold as the ceiling ---- */

static const char root_allow_policy[] = "[user:root]\nnested = allow\n";

/* Another user's "allow" is not root's: root's requests from inside a sandbox are refused by default. */
Test(nested, root_refused_by_default) {
        Output o;

        start(allow_policy);
        o = run_as_root("$N run -r --net --ro-bind / / -- sh -c \"$N run -- echo wrong\"");
        cr_assert_eq(o.status, 125, "%s", o.text);
        cr_assert(strstr(o.text, "nested request refused (from inside sandbox "), "%s", o.text);
        cr_assert(strstr(o.text, "nested = refuse"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        output_done(&o);
}

/* With its rule's "allow", root's nested sandbox is a child of the sandbox as a user's is: its user and network
 * namespaces, a cgroup below its, nothing writable that was read-only. */
Test(nested, root_allowed_is_a_child_of_its_sandbox) {
        static const char show[] = "readlink /proc/self/ns/user /proc/self/ns/net; grep ^0:: /proc/self/cgroup";
        _cleanup_free_ char *outer = NULL, *inner = NULL;
        Output o;

        start(root_allow_policy);
        o = run_as_root("$N run -r --net --ro-bind / / -- sh -c \"%s; echo ---; $N run -- sh -c "
                        "'%s; echo ---; cat /proc/net/dev; echo ---; touch /nsbt-nested-root; echo touch=\\$?'\" 2>&1",
                        show, show);
        cr_assert_eq(o.status, 0, "%s", o.text);
        outer = section(o.text, 0);
        inner = section(o.text, 1);
        assert_child_of(outer, inner, o.text);
        {
                _cleanup_free_ char *dev = section(o.text, 2);
                unsigned interfaces = 0;

                for (const char *l = dev; (l = strchr(l, ':')); l++)
                        interfaces++;
                cr_assert_eq(interfaces, 1U, "more than lo: %s", dev);
        }
        cr_assert(strstr(o.text, "touch=1"), "%s", o.text);
        cr_assert_neq(access("/nsbt-nested-root", F_OK), 0);
        output_done(&o);
}

/* The CapBnd mask in the n-th section of text. */
static uint64_t section_bounding_set(const char *text, unsigned n) {
        _cleanup_free_ char *s = section(text, n);
        const char *l = strstr(s, "CapBnd:");

        cr_assert_not_null(l, "%s", text);
        return strtoull(l + strlen("CapBnd:"), NULL, 16);
}

#define CAP_BIT(c) (UINT64_C(1) << (c))

/*
 * A root sandbox without a user namespace runs in the host's, with the host's capabilities. A process of it that
 * dropped some (here CAP_SYS_ADMIN and CAP_SETUID) gets none of them back by asking: a nested sandbox's sets are
 * the sandbox's within the caller's, more is refused, and so are a mount namespace made with the daemon's rights
 * and a user namespace mapping more than the caller's own id.
 */
Test(nested, root_without_user_namespace_holds_to_the_caller) {
        uint64_t outer, inner;
        Output o;

        start(root_allow_policy);
        o = run_as_root("$N run --net -- sh -c \"grep ^CapBnd: /proc/self/status; echo ---; "
                        "exec setpriv --bounding-set=-sys_admin,-setuid -- sh -c '"
                        "$N run -- grep ^CapBnd: /proc/self/status; echo ---; "
                        "$N run --cap-add CAP_SYS_ADMIN -- echo wrong1; echo rc1=\\$?; "
                        "$N run -m --tmpfs /mnt -- echo wrong2; echo rc2=\\$?; "
                        "$N run --map-users=0:0:2 --map-groups=0:0:1 -- echo wrong3; echo rc3=\\$?; "
                        "$N run -r -- echo own-map; echo rc4=\\$?'\"");
        cr_assert_eq(o.status, 0, "%s", o.text);
        outer = section_bounding_set(o.text, 0);
        inner = section_bounding_set(o.text, 1);
        cr_assert(outer & CAP_BIT(21), "the sandbox has CAP_SYS_ADMIN: %s", o.text);
        cr_assert(outer & CAP_BIT(7), "the sandbox has CAP_SETUID: %s", o.text);
        cr_assert_eq(inner & ~(outer & ~(CAP_BIT(21) | CAP_BIT(7))), 0, "dropped capabilities came back: %s",
                     o.text);
        cr_assert(inner & CAP_BIT(12), "the rest of the caller's (CAP_NET_ADMIN) stays: %s", o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "more than the calling process holds in the sandbox's user namespace"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "a mount namespace inside the sandbox's needs a user namespace of its own"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "uidMappings[0].hostID: the calling process does not hold CAP_SETUID"), "%s",
                  o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        cr_assert(strstr(o.text, "own-map\nrc4=0"), "%s", o.text);
        output_done(&o);
}

/* A root sandbox made with capability sets of its own: they are the ceiling of a nested request, and an Exec
 * into it from inside gets no more than its caller holds. */
Test(nested, root_sandbox_capabilities_are_the_ceiling) {
        Output o;

        start(root_allow_policy);
        o = run_as_root("$N run --name nsbt-root-caps --cap-drop CAP_NET_RAW -- sh -c \""
                        "$N run --cap-add CAP_NET_RAW -- echo wrong; echo rc1=\\$?; "
                        "setpriv --bounding-set=-sys_admin -- $N exec nsbt-root-caps -- grep ^CapBnd: /proc/self/status\"");
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "capabilities.bounding: more than the sandbox's bounding set"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        {
                const char *l = strstr(o.text, "CapBnd:");
                uint64_t bounding;

                cr_assert_not_null(l, "%s", o.text);
                bounding = strtoull(l + strlen("CapBnd:"), NULL, 16);
                cr_assert_eq(bounding & (CAP_BIT(21) | CAP_BIT(13)), 0, "%s", o.text);
                cr_assert(bounding & CAP_BIT(0), "%s", o.text);
        }
        output_done(&o);
}

/* ---- limits of its own: a cgroup below its sandbox's ---- */

/* The cgroup2 path (List's "cgroup") and id of the running sandbox named name, from root's List. */
static bool running_named(const char *name, char *ret_cgroup, size_t size, char ret_id[static 64]) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *reply = test_call(conn, "io.nsbox.Sandbox.List", "{}", NULL, 0, NULL, NULL);
        struct json_object *list = test_json_get(reply, "parameters.sandboxes");
        bool found = false;

        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                struct json_object *e = json_object_array_get_idx(list, i);
                const char *n = test_json_string(e, "name"), *cgroup = test_json_string(e, "cgroup"),
                           *state = test_json_string(e, "state"), *id = test_json_string(e, "id");

                if (!n || !streq(n, name) || !state || !streq(state, "running") || !cgroup || !id)
                        continue;
                snprintf(ret_cgroup, size, "%s", cgroup);
                snprintf(ret_id, 64, "%s", id);
                found = true;
        }
        json_object_put(reply);
        test_disconnect(conn);
        return found;
}

typedef struct Named {
        const char *name;
        char cgroup[512];
        char id[64];
} Named;

static bool named_runs(void *userdata) {
        Named *n = userdata;

        return running_named(n->name, n->cgroup, sizeof n->cgroup, n->id);
}

/* The directory of the daemon's cgroup path (as List reports it) in the hierarchy of controller: its v1
 * hierarchy on a hybrid host, else cgroup2. */
static void host_dir(const char *cgroup, const char *controller, char *buf, size_t size) {
        const char *user = strstr(cgroup, "/user-");
        const char *base = test_cgroup_dir(&daemon_.cgroup, controller) ?: test_cgroup_dir(&daemon_.cgroup, "");

        cr_assert(user && base, "%s", cgroup);
        snprintf(buf, size, "%s%s", base, user);
}

static void read_line(const char *dir, const char *file, char *buf, size_t size) {
        char path[1100];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, file);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        cr_assert_not_null(fgets(buf, (int) size, f), "%s", path);
        buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
}

/* Whether the cgroup path is gone from every hierarchy. */
static bool cgroup_gone(void *userdata) {
        static const char *const controllers[] = { "", "pids", "memory", "cpu" };
        char dir[1024];

        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                host_dir(userdata, controllers[i], dir, sizeof dir);
                if (access(dir, F_OK) >= 0)
                        return false;
        }
        return true;
}

/* The subdirectories of a sandbox's cgroup in every hierarchy, but its payload leaf. */
static unsigned cgroups_below(const char *cgroup) {
        static const char *const controllers[] = { "", "pids", "memory", "cpu" };
        unsigned n = 0;
        char dir[1024];

        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                struct dirent *de;
                DIR *d;

                host_dir(cgroup, controllers[i], dir, sizeof dir);
                d = opendir(dir);
                /* A v1 cpu hierarchy serves limits alone: a sandbox without a CPU limit has no cgroup there. */
                if (!d && errno == ENOENT && streq(controllers[i], "cpu") && test_cgroup_controller_is_v1("cpu"))
                        continue;
                cr_assert_not_null(d, "%s: %m", dir);
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' && !streq(de->d_name, "payload"))
                                n++;
                closedir(d);
        }
        return n;
}

static const char *memory_limit_file(void) {
        return test_cgroup_controller_is_v1("memory") ? "memory.limit_in_bytes" : "memory.max";
}

/* A nested sandbox's limits are in a cgroup of its own below its sandbox's, in every hierarchy (a v1 cpu one
 * made for it where its sandbox, without a CPU limit, had none); killing the sandbox kills it and its cgroup (a
 * process that left its process tree included), and none is left. */
Test(nested, own_limits_in_a_cgroup_below_the_sandbox) {
        Named outer = { .name = "lim-outer" }, inner = { .name = "lim-inner" };
        char dir[1024], want[600], value[64];
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run --detach --name lim-outer -r -p TasksMax=64 -p MemoryMax=256M -- sh -c '"
                          "until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; done; "
                          "NSBOX_SOCKET=%s %s run --name lim-inner -p TasksMax=16 -p MemoryMax=64M -p CPUWeight=200 -- "
                          "sh -c \"(setsid sleep 1000 &); exec sleep 1000\"'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(named_runs, &inner), "the nested sandbox did not start");
        cr_assert(running_named(outer.name, outer.cgroup, sizeof outer.cgroup, outer.id));

        snprintf(want, sizeof want, "%s/%s", outer.cgroup, inner.id);
        cr_assert_str_eq(inner.cgroup, want, "not below its sandbox's cgroup");
        host_dir(inner.cgroup, "pids", dir, sizeof dir);
        read_line(dir, "pids.max", value, sizeof value);
        cr_assert_str_eq(value, "16");
        host_dir(inner.cgroup, "memory", dir, sizeof dir);
        read_line(dir, memory_limit_file(), value, sizeof value);
        cr_assert_str_eq(value, "67108864");
        host_dir(inner.cgroup, "cpu", dir, sizeof dir);
        read_line(dir, test_cgroup_controller_is_v1("cpu") ? "cpu.shares" : "cpu.weight", value, sizeof value);
        cr_assert_str_eq(value, test_cgroup_controller_is_v1("cpu") ? "2048" : "200");
        host_dir(outer.cgroup, "pids", dir, sizeof dir);
        read_line(dir, "pids.max", value, sizeof value);
        cr_assert_str_eq(value, "64");
        /* Both of its processes are in it: its top one and the one that left its process tree. */
        host_dir(inner.cgroup, "", dir, sizeof dir);
        read_line(dir, "cgroup.events", value, sizeof value);
        cr_assert_str_eq(value, "populated 1");

        o = run_as_nobody("$N kill -s KILL lim-outer");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(cgroup_gone, inner.cgroup), "the nested sandbox's cgroup outlived its sandbox");
        cr_assert(test_wait_until(cgroup_gone, outer.cgroup), "the sandbox's cgroup was left behind");
}

/* Killing the nested sandbox kills everything in its cgroup, which goes; its sandbox lives on, with no cgroup
 * left below its own. */
Test(nested, kill_of_the_nested_sandbox_ends_its_cgroup) {
        Named outer = { .name = "kill-outer" }, inner = { .name = "kill-inner" };
        char dir[] = "/tmp/nsbt-nested-cg-XXXXXX", marker[64], text[64];
        Output o;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0777), 0);
        snprintf(marker, sizeof marker, "%s/rc", dir);
        snprintf(pid_file, sizeof pid_file, "%s", marker);
        start(allow_policy);
        o = run_as_nobody("$N run --detach --name kill-outer -r -- sh -c '"
                          "until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; done; "
                          "NSBOX_SOCKET=%s %s run --name kill-inner -p TasksMax=16 -- "
                          "sh -c \"(setsid sleep 1000 &); exec sleep 1000\"; echo $? > %s.new && mv %s.new %s; "
                          "exec sleep 1000'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli(), marker, marker, marker);
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(named_runs, &inner), "the nested sandbox did not start");
        cr_assert(running_named(outer.name, outer.cgroup, sizeof outer.cgroup, outer.id));
        cr_assert_eq(cgroups_below(outer.cgroup),
                     4U - 3U * !test_cgroup_controller_is_v1("pids") - test_cgroup_controller_is_v1("cpu"),
                     "the nested sandbox has no cgroup of its own in every hierarchy it needs one in");

        o = run_as_nobody("$N kill -s KILL kill-inner");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(pid_file_written, NULL), "the nested run did not end");
        cr_assert(test_wait_until(cgroup_gone, inner.cgroup), "the nested sandbox's cgroup outlived its Kill");
        read_line(dir, "rc", text, sizeof text);
        cr_assert_str_eq(text, "137");
        cr_assert(running_named(outer.name, outer.cgroup, sizeof outer.cgroup, outer.id), "its sandbox ended too");
        cr_assert_eq(cgroups_below(outer.cgroup), 0U);

        o = run_as_nobody("$N kill -s KILL kill-outer");
        output_done(&o);
        cr_assert(test_wait_until(cgroup_gone, outer.cgroup), "the sandbox's cgroup was left behind");
        cr_assert_eq(unlink(marker), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* A limit above its sandbox's, or a runtime past its end, is refused naming the limit and the sandbox's value;
 * within them it runs, and its cgroup goes when it ends. */
Test(nested, limits_above_the_sandboxs_are_refused_by_name) {
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run -r -p TasksMax=32 -p MemoryMax=128M -p RuntimeMaxSec=1000 -- sh -c '"
                          "M=\"%s --socket %s run\"; "
                          "$M -p TasksMax=64 -- true; echo rc1=$?; "
                          "$M -p MemoryMax=256M -- true; echo rc2=$?; "
                          "$M -p RuntimeMaxSec=2000 -- true; echo rc3=$?; "
                          "$M -p TasksMax=8 -p MemoryMax=64M -p RuntimeMaxSec=500 -- true; echo rc4=$?; "
                          "ls /sys/fs/cgroup/pids$(grep :pids: /proc/self/cgroup | cut -d: -f3) "
                          "/sys/fs/cgroup/unified$(grep ^0:: /proc/self/cgroup | cut -d: -f3) 2>/dev/null | "
                          "grep -Ec \"^[0-9a-f]{32}$\"'",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "resources.pids.limit: 64 tasks is above the sandbox's TasksMax=32"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "resources.memory.limit: 268435456 bytes is above the sandbox's MemoryMax=134217728"),
                  "%s", o.text);
        cr_assert(strstr(o.text, "rc3=125"), "%s", o.text);
        cr_assert(strstr(o.text, "runtimeMaxUSec: 2000000000us is past the end of the sandbox's runtime"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc4=0\n0\n"), "%s", o.text);
        output_done(&o);
}

/* A nested CPU quota above its user's is refused by name where the host's v1 cpu hierarchy would refuse it, as an
 * outer one is, also when its sandbox has no quota of its own to hold it to. */
Test(nested, a_cpu_quota_above_the_users_is_refused_by_name) {
        Output o;

        start("[user:65534]\nnested = allow\nuser-cpu-quota = 50%\n");
        o = run_as_nobody("$N run -r -- sh -c '"
                          "M=\"%s --socket %s run\"; "
                          "$M -p CPUQuota=90%% -- true; echo rc1=$?; "
                          "$M -p CPUQuota=50%% -- true; echo rc2=$?'",
                          cli(), daemon_.socket_path);
        if (test_cgroup_controller_is_v1("cpu")) {
                cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
                cr_assert(strstr(o.text, "CPUQuota= cannot be enforced"), "%s", o.text);
                cr_assert(strstr(o.text, "above its user's (50% of a CPU)"), "%s", o.text);
        } else
                cr_assert(strstr(o.text, "rc1=0"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=0"), "%s", o.text);
        output_done(&o);
}

/* The same against the user's cgroup's quota as it is now, when that is not the caller's rule's: here a previous
 * daemon's, which a Reload does not rewrite for a user it took over. Refused by name, not the kernel's EINVAL. */
Test(nested, a_cpu_quota_above_the_users_cgroup_as_it_is_is_refused_by_name) {
        char path[128];
        Output o;

        if (!test_cgroup_controller_is_v1("cpu"))
                cr_skip_test("cgroup2 takes a child's quota above its parent's");
        start("[user:65534]\nnested = allow\nkeep-alive = yes\nuser-cpu-quota = 30%\n");
        o = run_as_nobody("$N run --detach --name before -- sleep 1000");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);

        test_daemon_listen_notify(&daemon_);
        cr_assert(kill(daemon_.pid, SIGUSR2) == 0);
        test_daemon_wait_notify(&daemon_, "READY=1");
        close(daemon_.notify_fd);
        daemon_.notify_fd = -1;
        write_config("policy.conf", "[user:65534]\nnested = allow\nkeep-alive = yes\nuser-cpu-quota = 80%\n", path,
                     sizeof path);
        o = run_as_root("$N reload");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);

        o = run_as_nobody("$N exec before -- sh -c '$0 --socket $1 run -p CPUQuota=50%% -- true; echo rc=$?' %s %s",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert(strstr(o.text, "above its user's CPU quota of 30000us"), "%s", o.text);
        output_done(&o);
        o = run_as_nobody("$N kill -s KILL before");
        output_done(&o);
}

/* A daemon that re-executed itself takes a nested sandbox's own cgroup over below its sandbox's: a Kill of it
 * still ends what left its process tree, and no cgroup is left. */
Test(nested, own_cgroup_is_taken_over_by_a_reexec) {
        Named outer = { .name = "re-outer" }, inner = { .name = "re-inner" }, again = { .name = "re-inner" };
        char p[128];
        struct json_object *r;
        int conn;
        Output o;

        start(allow_policy);
        o = run_as_nobody("$N run --detach --name re-outer -r -- sh -c '"
                          "until NSBOX_SOCKET=%s %s list | grep -q running; do sleep 0.01; done; "
                          "NSBOX_SOCKET=%s %s run --detach --name re-inner -p TasksMax=16 -- "
                          "sh -c \"(setsid sleep 1000 &); exec sleep 1000\"; exec sleep 1000'",
                          daemon_.socket_path, cli(), daemon_.socket_path, cli());
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(named_runs, &inner), "the nested sandbox did not start");
        cr_assert(running_named(outer.name, outer.cgroup, sizeof outer.cgroup, outer.id));

        test_daemon_listen_notify(&daemon_);
        cr_assert(kill(daemon_.pid, SIGUSR2) == 0);
        test_daemon_wait_notify(&daemon_, "READY=1");
        close(daemon_.notify_fd);
        daemon_.notify_fd = -1;

        cr_assert(running_named(again.name, again.cgroup, sizeof again.cgroup, again.id), "not taken over");
        cr_assert_str_eq(again.cgroup, inner.cgroup);
        /* The name its sandbox gave it is still that sandbox's: found from inside it, and not given twice. */
        o = run_as_nobody("$N exec re-outer -- sh -c 'echo found=$($0 --socket $1 inspect re-inner | grep -c running); "
                          "$0 --socket $1 run --name re-inner -- echo twice; echo rc=$?' %s %s",
                          cli(), daemon_.socket_path);
        cr_assert(strstr(o.text, "found=1\n"), "%s", o.text);
        cr_assert(strstr(o.text, "rc="), "%s", o.text);
        cr_assert_null(strstr(o.text, "rc=0"), "%s", o.text);
        cr_assert_null(strstr(o.text, "twice"), "%s", o.text);
        output_done(&o);
        conn = test_daemon_connect(&daemon_);
        snprintf(p, sizeof p, "{\"id\":\"%s\",\"signal\":9}", inner.id);
        r = test_call(conn, "io.nsbox.Sandbox.Kill", p, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        cr_assert(test_wait_until(cgroup_gone, inner.cgroup), "the nested cgroup outlived its Kill after the re-exec");
        snprintf(p, sizeof p, "{\"id\":\"%s\",\"signal\":9}", outer.id);
        r = test_call(conn, "io.nsbox.Sandbox.Kill", p, NULL, 0, NULL, NULL);
        json_object_put(r);
        test_disconnect(conn);
        cr_assert(test_wait_until(cgroup_gone, outer.cgroup), "the sandbox's cgroup was left behind");
}

/* The number of sandbox ids after user-UID in a cgroup path line ("0::/.../user-65534/ID/ID"). */
static unsigned ids_in_path(const char *line) {
        const char *p = strstr(line, "/user-");
        unsigned n = 0;

        cr_assert_not_null(p, "%s", line);
        p = strchr(p + 1, '/');
        while (p && p[0] == '/' && strspn(p + 1, "0123456789abcdef") == 32) {
                n++;
                p += 33;
        }
        return n;
}

/* At every depth the limits of the sandboxes above are the ceiling: a nested sandbox's own limits bind what is
 * asked from inside it, an outer sandbox's runtime too, and a cgroup of its own is below the nearest one above. */
Test(nested, limits_are_the_ceiling_at_every_depth) {
        const char *inner, *mid;
        char line[512];
        Output o;

        start(allow_policy);
        o = run_nested("$C run --name d-outer -r -p TasksMax=64 -p RuntimeMaxSec=1000 -- sh -c '"
                       "until $C inspect d-outer | grep -q running; do sleep 0.01; done; "
                       "$C run --name d-mid -r -p TasksMax=32 -- sh -c \""
                       "until \\$C inspect d-mid | grep -q running; do sleep 0.01; done; "
                       "\\$C run -p TasksMax=48 -- true; echo rc1=\\$?; "
                       "\\$C run -p RuntimeMaxSec=2000 -- true; echo rc2=\\$?; "
                       "\\$C run -p TasksMax=8 -- grep ^0:: /proc/self/cgroup; echo rc3=\\$?; "
                       "echo mid; grep ^0:: /proc/self/cgroup\"'");
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "resources.pids.limit: 48 tasks is above the sandbox's TasksMax=32"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "runtimeMaxUSec: 2000000000us is past the end of the outer sandbox's runtime"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "rc3=0"), "%s", o.text);
        inner = strstr(o.text, "0::");
        mid = strstr(o.text, "mid\n0::");
        cr_assert(inner && mid && inner < mid, "%s", o.text);
        mid += 4;
        snprintf(line, sizeof line, "%.*s", (int) strcspn(inner, "\n"), inner);
        cr_assert_eq(ids_in_path(line), 3U, "not below the middle sandbox's cgroup: %s", o.text);
        cr_assert(strncmp(line, mid, strcspn(mid, "\n")) == 0, "not below the middle sandbox's cgroup: %s", o.text);
        output_done(&o);
}

/* A nested sandbox with a pid namespace of its own and limits of its own: its process outside the namespace and
 * everything in it are in its cgroup, whose pids limit stops a fork. */
Test(nested, own_limits_with_a_pid_namespace_of_its_own) {
        char dir[] = "/tmp/nsbt-nested-pl-XXXXXX", path[64];
        Output o;
        FILE *f;

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(chmod(dir, 0755), 0);
        snprintf(path, sizeof path, "%s/forks.py", dir);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fprintf(f, "import os, time\n"
                   "print(open('/proc/self/cgroup').read().split('0::')[1].strip())\n"
                   "n = 0\n"
                   "try:\n"
                   "    while n < 10:\n"
                   "        if os.fork() == 0:\n"
                   "            time.sleep(100)\n"
                   "            os._exit(0)\n"
                   "        n += 1\n"
                   "except OSError:\n"
                   "    pass\n"
                   "print('started=%%d' %% n, flush=True)\n");
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(chmod(path, 0644), 0);
        start(allow_policy);
        o = run_nested("$C run --name pl-outer -r -- sh -c '"
                       "until $C inspect pl-outer | grep -q running; do sleep 0.01; done; "
                       "$C run -r --unshare-pid -p TasksMax=6 -- python3 %s; echo rc=$?'",
                       path);
        cr_assert(strstr(o.text, "rc=0"), "%s", o.text);
        cr_assert_eq(ids_in_path(strstr(o.text, "/nsbt-") ?: ""), 2U, "%s", o.text);
        /* Its top process outside the namespace, init and python inside: three more fit. */
        cr_assert(strstr(o.text, "started=3\n"), "%s", o.text);
        output_done(&o);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(rmdir(dir), 0);
}

/* ---- a root sandbox that moves itself to another cgroup ---- */

/* The cgroup2 directory of the daemon's own leaf, from its /proc/PID/cgroup. */
static void daemon_leaf_dir(char *buf, size_t size) {
        char path[64], line[512];
        const char *leaf;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) daemon_.pid);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        while (fgets(line, sizeof line, f) && strncmp(line, "0::", 3) != 0)
                ;
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        leaf = strrchr(line, '/');
        cr_assert(strncmp(line, "0::", 3) == 0 && leaf, "%s", line);
        snprintf(buf, size, "%s%s", test_cgroup_dir(&daemon_.cgroup, ""), leaf);
}

/* uid 0 of the host's user namespace may write any cgroup.procs it owns, capabilities or not: a root sandbox
 * without any that moves itself into the daemon's own leaf or a user's cgroup is not taken for the host, and
 * gets none back by asking. (The daemon's cgroup itself holds host processes, ExecReload= among them.) */
Test(nested, root_sandbox_in_the_daemons_cgroup_is_not_the_host) {
        char dirs[2][512];

        start(root_allow_policy);
        daemon_leaf_dir(dirs[0], sizeof dirs[0]);
        snprintf(dirs[1], sizeof dirs[1], "%s/user-0", test_cgroup_dir(&daemon_.cgroup, ""));
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                Output o = run_as_root("$N run --cap-drop ALL -- sh -c \"echo \\$\\$ > %s/cgroup.procs || exit 90; "
                                       "$N run --cap-add ALL -- grep ^CapEff: /proc/self/status; echo rc1=\\$?; "
                                       "$N run --seccomp unconfined -- echo wrong; echo rc2=\\$?\"",
                                       dirs[i]);

                cr_assert_eq(o.status, 0, "%s: %s", dirs[i], o.text);
                cr_assert(strstr(o.text, "rc1=125"), "%s: %s", dirs[i], o.text);
                cr_assert(strstr(o.text, "rc2=125"), "%s: %s", dirs[i], o.text);
                cr_assert(strstr(o.text, "its cgroup is below the daemon's but no sandbox's"), "%s: %s", dirs[i],
                          o.text);
                cr_assert_null(strstr(o.text, "CapEff:"), "%s: %s", dirs[i], o.text);
                cr_assert_null(strstr(o.text, "wrong"), "%s: %s", dirs[i], o.text);
                output_done(&o);
        }
}

/* A root sandbox with a network namespace of its own that moves itself into another sandbox's cgroup is taken
 * for neither: its namespace and its cgroup contradict each other. */
Test(nested, root_sandbox_in_a_siblings_cgroup_is_refused) {
        Named other = { .name = "nsbt-sibling" };
        char dir[1024], leaf[1100];
        Output o;

        start(root_allow_policy);
        o = run_as_root("$N run --detach --name nsbt-sibling -m --bind / / -- sleep 300 >/dev/null");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(named_runs, &other));
        host_dir(other.cgroup, "", dir, sizeof dir);
        snprintf(leaf, sizeof leaf, "%s/payload", dir);
        if (access(leaf, F_OK) < 0)
                snprintf(leaf, sizeof leaf, "%s", dir);

        o = run_as_root("$N run --net --cap-drop ALL --bind / / -- sh -c \"echo \\$\\$ > %s/cgroup.procs || exit 90; "
                        "$N run -- readlink /proc/self/ns/net; echo rc1=\\$?; "
                        "$N exec %s -- readlink /proc/self/ns/net; echo rc2=\\$?\"; $N kill %s",
                        leaf, other.id, other.id);
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "rc1=125"), "%s", o.text);
        cr_assert(strstr(o.text, "rc2=125"), "%s", o.text);
        cr_assert(strstr(o.text, "namespace is a sandbox's unrelated to its cgroup's"), "%s", o.text);
        cr_assert_null(strstr(o.text, "net:["), "%s", o.text);
        output_done(&o);
}

/* The ceilings of a nested request are the limits the daemon set, not what a root sandbox without
 * capabilities wrote into its own cgroup's files since (uid 0 owns them). */
Test(nested, raised_limits_are_not_the_ceiling) {
        Named s = { .name = "nsbt-raise" };
        char dir[1024];
        Output o;

        start(root_allow_policy);
        o = run_as_root("$N run --detach --name nsbt-raise -p TasksMax=32 --cap-drop ALL -- sleep 300 >/dev/null");
        cr_assert_eq(o.status, 0, "%s", o.text);
        output_done(&o);
        cr_assert(test_wait_until(named_runs, &s));
        host_dir(s.cgroup, "pids", dir, sizeof dir);

        o = run_as_root("$N exec nsbt-raise -- sh -c \"echo 100 > %s/pids.max || exit 90; cat %s/pids.max; "
                        "$N run -p TasksMax=64 -- echo wrong; echo rc=\\$?\"; $N kill nsbt-raise",
                        dir, dir);
        cr_assert_eq(o.status, 0, "%s", o.text);
        cr_assert(strstr(o.text, "100\n"), "the sandbox could not raise its limit: %s", o.text);
        cr_assert(strstr(o.text, "rc=125"), "%s", o.text);
        cr_assert(strstr(o.text, "resources.pids.limit: 64 tasks is above the sandbox's TasksMax=32"), "%s", o.text);
        cr_assert_null(strstr(o.text, "wrong"), "%s", o.text);
        output_done(&o);
}
