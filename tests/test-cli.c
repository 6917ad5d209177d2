/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The nsbox CLI ($NSBOX_CLI) against a real nsboxd: exit codes, stdio,
 * JSON output, detach/wait/kill, user namespaces, signal forwarding, error
 * messages, and --pty driven through script(1).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "nsboxd-test-util.h"

static TestDaemon daemon_;

static void setup(void) {
        test_daemon_start(&daemon_, NULL);
}

static void teardown(void) {
        test_daemon_stop(&daemon_);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

static const char *cli(void) {
        const char *p = getenv("NSBOX_CLI");

        cr_assert(p, "$NSBOX_CLI must point to the nsbox binary under test");
        return p;
}

typedef struct Result {
        int status; /* exit code, or 128+signal */
        char *out;
        char *err;
} Result;

static void result_done(Result *r) {
        free(r->out);
        free(r->err);
}

static void append(char **buf, size_t *len, const char *data, size_t n) {
        *buf = realloc(*buf, *len + n + 1);
        cr_assert(*buf);
        memcpy(*buf + *len, data, n);
        *len += n;
        (*buf)[*len] = 0;
}

static int status_of(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Starts argv with pipes for stdin, stdout, stderr. */
static pid_t start(char *const *argv, int *ret_in, int *ret_out, int *ret_err) {
        int in[2], out[2], err[2];
        pid_t pid;

        cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(err, O_CLOEXEC), 0);

        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(250);
                execv(argv[0], argv);
                _exit(251);
        }

        close(in[0]);
        close(out[1]);
        close(err[1]);
        *ret_in = in[1];
        *ret_out = out[0];
        *ret_err = err[0];
        return pid;
}

/* Feeds input (may be NULL) and collects output until both pipes close, then reaps. */
static Result finish(pid_t pid, int in, int out, int err, const char *input) {
        Result r = { .out = strdup(""), .err = strdup("") };
        size_t out_len = 0, err_len = 0;
        int status;

        if (input) {
                size_t n = strlen(input);
                cr_assert_eq(write(in, input, n), (ssize_t) n);
        }
        close(in);

        while (out >= 0 || err >= 0) {
                struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = err, .events = POLLIN } };
                char buf[4096];

                cr_assert_geq(poll(p, 2, -1), 0);
                for (size_t i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &out : &err;
                        ssize_t n;

                        if (*fd < 0 || !p[i].revents)
                                continue;
                        n = read(*fd, buf, sizeof(buf));
                        if (n <= 0) {
                                close(*fd);
                                *fd = -1;
                                continue;
                        }
                        if (i == 0)
                                append(&r.out, &out_len, buf, (size_t) n);
                        else
                                append(&r.err, &err_len, buf, (size_t) n);
                }
        }

        cr_assert_eq(waitpid(pid, &status, 0), pid);
        r.status = status_of(status);
        return r;
}

/* Runs [PREFIX...] nsbox --socket S ARGS... with input on stdin; prefix (NULL-terminated) may be NULL. */
static Result run_cli_with(const char *const *prefix, const char *input, va_list ap) {
        char *argv[64];
        size_t n = 0;
        int in, out, err;
        pid_t pid;

        for (size_t i = 0; prefix && prefix[i]; i++)
                argv[n++] = (char *) prefix[i];
        argv[n++] = (char *) cli();
        argv[n++] = (char *) "--socket";
        argv[n++] = daemon_.socket_path;
        for (const char *a; (a = va_arg(ap, const char *));) {
                cr_assert_lt(n, 63U);
                argv[n++] = (char *) a;
        }
        argv[n] = NULL;

        pid = start(argv, &in, &out, &err);
        return finish(pid, in, out, err, input);
}

/* Runs nsbox --socket S ARGS... (NULL-terminated) with input on stdin. */
static Result run_cli(const char *input, ...) {
        va_list ap;
        Result r;

        va_start(ap, input);
        r = run_cli_with(NULL, input, ap);
        va_end(ap);
        return r;
}

static const char *const nobody_prefix[] = {
        "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", NULL
};

/* The same as nobody (uid and gid 65534, no groups). */
static Result run_cli_as_nobody(const char *input, ...) {
        va_list ap;
        Result r;

        va_start(ap, input);
        r = run_cli_with(nobody_prefix, input, ap);
        va_end(ap);
        return r;
}

/* Runs nsbox ARGS... (NULL-terminated; as prefix says, NULL: root), which must fail with 125 saying why. */
static void expect_refused_with(const char *const *prefix, const char *why, va_list ap) {
        Result r = run_cli_with(prefix, NULL, ap);

        cr_assert_eq(r.status, 125, "%s", r.err);
        cr_assert(strstr(r.err, why), "expected \"%s\" in: %s", why, r.err);
        result_done(&r);
}

static void expect_refused(const char *why, ...) {
        va_list ap;

        va_start(ap, why);
        expect_refused_with(NULL, why, ap);
        va_end(ap);
}

static void expect_refused_as_nobody(const char *why, ...) {
        va_list ap;

        va_start(ap, why);
        expect_refused_with(nobody_prefix, why, ap);
        va_end(ap);
}

/* The same as uid, with its own group as gid and no other groups. */
static Result run_cli_as_uid(uid_t uid, const char *input, ...) {
        char reuid[32], regid[32];
        const char *const setpriv[] = { "/usr/bin/setpriv", reuid, regid, "--clear-groups", "--", NULL };
        va_list ap;
        Result r;

        snprintf(reuid, sizeof reuid, "--reuid=%u", (unsigned) uid);
        snprintf(regid, sizeof regid, "--regid=%u", (unsigned) uid);
        va_start(ap, input);
        r = run_cli_with(setpriv, input, ap);
        va_end(ap);
        return r;
}

/* id's line in the output of nsbox list, as a new string; NULL if it is not there. */
static char *list_line(const char *out, const char *id) {
        for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, id, strlen(id)) == 0 && l[strlen(id)] == ' ')
                        return strndup(l, strcspn(l, "\n"));
        return NULL;
}

Test(cli, exit_codes_propagate) {
        static const struct {
                const char *script;
                int status;
        } cases[] = {
                { "exit 0", 0 },
                { "exit 3", 3 },
                { "exit 255", 255 },
                { "kill -TERM $$", 128 + SIGTERM },
                { "kill -KILL $$", 128 + SIGKILL },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Result r = run_cli(NULL, "run", "--", "sh", "-c", cases[i].script, NULL);

                cr_assert_eq(r.status, cases[i].status, "'%s': status %d, expected %d; stderr: %s", cases[i].script,
                             r.status, cases[i].status, r.err);
                result_done(&r);
        }
}

Test(cli, stdio_flows_through_pipes) {
        Result r = run_cli("hello from stdin\n", "run", "--", "sh", "-c", "cat; echo to-stderr >&2", NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "hello from stdin\n");
        cr_assert_str_eq(r.err, "to-stderr\n");
        result_done(&r);
}

Test(cli, environment_and_cwd_options) {
        Result r = run_cli(NULL, "run", "--clearenv", "--setenv", "A", "1", "--setenv", "B", "two words", "--unsetenv",
                           "A", "--chdir", "/tmp", "--", "/bin/sh", "-c", "echo \"${A-unset} $B $(pwd)\"", NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "unset two words /tmp\n");
        result_done(&r);
}

Test(cli, map_root_user_is_uid_0_inside) {
        Result r = run_cli(NULL, "run", "--map-root-user", "--", "id", "-u", NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "0\n");
        result_done(&r);

        r = run_cli(NULL, "run", "--user", "--map-user=1234", "--map-group=4321", "--", "sh", "-c",
                    "echo $(id -u) $(id -g) $(cat /proc/self/setgroups)", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "1234 4321 deny\n");
        result_done(&r);
}

Test(cli, namespaces_and_mounts) {
        Result r = run_cli(NULL, "run", "-r", "--pid", "--hostname", "inner", "--ro-bind", "/", "/", "--tmpfs", "/mnt",
                           "--proc", "/proc", "--", "sh", "-c", "hostname; echo $$ $(pwd); touch /mnt/x && ls /mnt",
                           NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        /* With an init as PID 1, the command is PID 2; our directory exists in the host's tree. */
        char expected[4200], *cwd = get_current_dir_name();
        snprintf(expected, sizeof expected, "inner\n2 %s\nx\n", cwd);
        cr_assert_str_eq(r.out, expected);
        free(cwd);
        result_done(&r);
}

/* bubblewrap's rule for the working directory: ours if the sandbox has it, else $HOME, else /. */
Test(cli, working_directory_as_bubblewrap) {
        static const char *const tree[] = { "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink",
                                            "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64" };
        static const struct {
                const char *home;
                bool host_tree;
                const char *expected;
        } cases[] = {
                { "/usr", true, "/tmp\n" },     /* exists inside: kept */
                { "/usr", false, "/usr\n" },    /* not inside: $HOME */
                { "/nowhere", false, "/\n" },   /* neither: / */
        };
        char *saved_cwd = get_current_dir_name(), *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

        cr_assert_eq(chdir("/tmp"), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[32] = { (char *) cli(), (char *) "--socket", daemon_.socket_path, (char *) "run" };
                size_t n = 4;
                int in, out, err;

                if (cases[i].host_tree) {
                        argv[n++] = (char *) "--ro-bind";
                        argv[n++] = (char *) "/";
                        argv[n++] = (char *) "/";
                } else
                        for (size_t j = 0; j < ELEMENTSOF(tree); j++)
                                argv[n++] = (char *) tree[j];
                argv[n++] = (char *) "--";
                argv[n++] = (char *) "sh";
                argv[n++] = (char *) "-c";
                argv[n++] = (char *) "pwd";
                argv[n] = NULL;

                setenv("HOME", cases[i].home, 1);
                pid_t pid = start(argv, &in, &out, &err);
                Result r = finish(pid, in, out, err, NULL);
                cr_assert_eq(r.status, 0, "case %zu: stderr: %s", i, r.err);
                cr_assert_str_eq(r.out, cases[i].expected, "case %zu", i);
                result_done(&r);
        }
        cr_assert_eq(chdir(saved_cwd), 0);
        if (saved_home)
                setenv("HOME", saved_home, 1);
        else
                unsetenv("HOME");
        free(saved_cwd);
        free(saved_home);
}

Test(cli, files_links_dirs_and_passed_fds) {
        char line[2048];
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", line, NULL };
        int in, out, err;
        pid_t pid;
        Result r;

        /* fd 5 carries a file's contents, fd 6 is passed on as it is (our stdout). */
        snprintf(line, sizeof(line),
                 "exec %s --socket %s run --ro-bind / / --tmpfs /mnt --dir /mnt/d --symlink /etc /mnt/l --file 5 /mnt/f "
                 "--remount-ro /mnt --pass-fd 6 -- sh -c 'cat /mnt/f; test -d /mnt/d && readlink /mnt/l; "
                 "touch /mnt/x 2>/dev/null || echo read-only; echo via-6 >&6' 5<<EOF 6>&1\nfile-contents\nEOF\n",
                 cli(), daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "file-contents\n/etc\nread-only\nvia-6\n");
        result_done(&r);
}

/* `--ro-bind / /` is read-only all the way down: /dev/shm, a tmpfs below /, too. For root and others, with or without -r. */
Test(cli, read_only_root_all_the_way_down) {
        static const char probe[] = "/dev/shm/nsbox-cli-ro-root";

        (void) unlink(probe);
        for (unsigned i = 0; i < 4; i++) {
                bool nobody = i & 1, map_root = i & 2;
                Result r = nobody ? run_cli_as_nobody(NULL, "run", map_root ? "-r" : "--mount", "--ro-bind", "/", "/",
                                                      "--", "touch", probe, NULL) :
                                    run_cli(NULL, "run", map_root ? "-r" : "--mount", "--ro-bind", "/", "/", "--",
                                            "touch", probe, NULL);

                cr_assert_neq(r.status, 0, "case %u: touch succeeded", i);
                cr_assert_not_null(strstr(r.err, "Read-only file system"), "case %u: %s", i, r.err);
                cr_assert(access(probe, F_OK) < 0, "case %u: the file reached the host", i);
                result_done(&r);
        }
}

/* The root mount takes the same options as any bind, for root too: --bind is nosuid,nodev, --dev-bind keeps dev. */
Test(cli, root_caller_root_is_nosuid_nodev) {
        static const char script[] = "awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo";
        Result r = run_cli(NULL, "run", "--bind", "/", "/", "--", "sh", "-c", script, NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(strstr(r.out, "nosuid") && strstr(r.out, "nodev"), "root mounted %s", r.out);
        result_done(&r);

        r = run_cli(NULL, "run", "--dev-bind", "/", "/", "--", "sh", "-c", script, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(strstr(r.out, "nosuid") && !strstr(r.out, "nodev"), "root mounted %s", r.out);
        result_done(&r);

        /* unshare's --mount-proc keeps the host's tree as it is: root asks for dev and suid */
        r = run_cli(NULL, "run", "-p", "--mount-proc", "--", "sh", "-c",
                    "echo x > /dev/null && awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(!strstr(r.out, "nosuid") && !strstr(r.out, "nodev"), "root mounted %s", r.out);
        result_done(&r);
}

/* File system options apply in the order given: a root after a tmpfs covers it, as in bubblewrap. One root only. */
Test(cli, filesystem_options_in_order) {
        Result r = run_cli(NULL, "run", "--tmpfs", "/mnt", "--dir", "/mnt/nsbox-order", "--bind", "/", "/", "--",
                           "sh", "-c", "test -e /mnt/nsbox-order && echo still-there; echo done", NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "done\n");
        result_done(&r);

        r = run_cli(NULL, "run", "--bind", "/", "/", "--tmpfs", "/mnt", "--dir", "/mnt/nsbox-order", "--", "sh", "-c",
                    "test -e /mnt/nsbox-order && echo still-there", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "still-there\n");
        result_done(&r);

        expect_refused("--ro-bind /usr /: the sandbox already has a root, from --bind /", "run", "--bind", "/", "/",
                       "--tmpfs", "/mnt", "--ro-bind", "/usr", "/", "--", "true", NULL);

        expect_refused("already has a root, from --root /", "run", "--root", "/", "--bind", "/usr", "//", "--", "true",
                       NULL);
}

/* Two --file options reading one stream: nsboxd refuses, and nsbox names the option and says why. */
Test(cli, file_reads_its_stream_once) {
        char line[1024];
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", line, NULL };
        int in, out, err;
        pid_t pid;
        Result r;

        snprintf(line, sizeof(line),
                 "exec %s --socket %s run --file 5 /a --file 6 /b -- true 5<<EOF 6<&5\ncontents\nEOF\n", cli(),
                 daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, NULL);

        cr_assert_eq(r.status, 125, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "--file 6 /b: an earlier --file reads the same file descriptor"), "stderr: %s",
                           r.err);
        result_done(&r);
}

Test(cli, detach_then_wait_and_kill) {
        Result r = run_cli(NULL, "run", "--detach", "--name", "cli-detached", "--", "sleep", "1000", NULL);
        Result w, k;
        char id[128];
        int in, out, err;
        pid_t waiter;

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_eq(sscanf(r.out, "%127s", id), 1);
        result_done(&r);

        /* It keeps running after the CLI exited, and shows up in list --json and inspect --json. */
        r = run_cli(NULL, "list", "--json", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        {
                struct json_object *array = json_tokener_parse(r.out), *o, *v;
                bool found = false;

                cr_assert(array && json_object_is_type(array, json_type_array), "not a JSON array: %s", r.out);
                for (size_t i = 0; i < json_object_array_length(array); i++) {
                        o = json_object_array_get_idx(array, i);
                        if (json_object_object_get_ex(o, "id", &v) && strcmp(json_object_get_string(v), id) == 0)
                                found = true;
                }
                cr_assert(found, "%s not in %s", id, r.out);
                json_object_put(array);
        }
        result_done(&r);

        r = run_cli(NULL, "inspect", "--json", id, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        {
                struct json_object *o = json_tokener_parse(r.out), *v;

                cr_assert(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", r.out);
                cr_assert(json_object_object_get_ex(o, "name", &v));
                cr_assert_str_eq(json_object_get_string(v), "cli-detached");
                cr_assert(json_object_object_get_ex(o, "state", &v));
                cr_assert_str_eq(json_object_get_string(v), "running");
                json_object_put(o);
        }
        result_done(&r);

        r = run_cli(NULL, "list", NULL);
        cr_assert_eq(r.status, 0);
        cr_assert_not_null(strstr(r.out, id));
        cr_assert_not_null(strstr(r.out, "cli-detached"));
        result_done(&r);

        /* A waiter in the background, then kill: the waiter exits with 128+SIGINT. */
        {
                char *argv[] = { (char *) cli(), (char *) "--socket", daemon_.socket_path, (char *) "wait", id, NULL };
                waiter = start(argv, &in, &out, &err);
        }
        k = run_cli(NULL, "kill", "-s", "INT", id, NULL);
        cr_assert_eq(k.status, 0, "stderr: %s", k.err);
        result_done(&k);
        w = finish(waiter, in, out, err, NULL);
        cr_assert_eq(w.status, 128 + SIGINT, "wait: status %d, stderr: %s", w.status, w.err);
        result_done(&w);
}

Test(cli, signals_are_forwarded) {
        char *argv[] = { (char *) cli(), (char *) "--socket", daemon_.socket_path, (char *) "run", (char *) "--",
                         (char *) "sh", (char *) "-c", (char *) "echo ready; exec sleep 1000", NULL };
        int in, out, err;
        char buf[16] = {};
        pid_t pid;
        Result r;

        pid = start(argv, &in, &out, &err);
        /* Once the command printed, it runs: a signal to the CLI must now end it. */
        cr_assert_eq(read(out, buf, 6), 6);
        cr_assert_str_eq(buf, "ready\n");
        cr_assert_eq(kill(pid, SIGINT), 0);

        r = finish(pid, in, out, err, NULL);
        cr_assert_eq(r.status, 128 + SIGINT, "status %d, stderr: %s", r.status, r.err);
        result_done(&r);
}

/* A "daemon" that takes the call and never answers: ^C must still end the CLI. */
Test(cli, interrupt_while_spawning) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char *argv[] = { (char *) cli(), (char *) "--socket", sa.sun_path, (char *) "run", (char *) "true", NULL };
        int listener, conn, in, out, err, n;
        char buf[256];
        pid_t pid;
        Result r;

        n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/mute.sock", daemon_.dir);
        cr_assert(n > 0 && (size_t) n < sizeof(sa.sun_path));
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(listener, 0);
        cr_assert_eq(bind(listener, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(listen(listener, 1), 0);

        pid = start(argv, &in, &out, &err);
        conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(conn, 0);
        cr_assert_gt(read(conn, buf, sizeof(buf)), 0, "the Spawn call never came");

        cr_assert_eq(kill(pid, SIGINT), 0);
        r = finish(pid, in, out, err, NULL);
        cr_assert_eq(r.status, 128 + SIGINT, "status %d, stderr: %s", r.status, r.err);
        cr_assert_not_null(strstr(r.err, "interrupted"), "stderr: %s", r.err);
        result_done(&r);

        close(conn);
        close(listener);
        unlink(sa.sun_path);
}

Test(cli, errors_are_clear) {
        Result r = run_cli(NULL, "run", "--bogus-option", "--", "true", NULL);

        cr_assert_eq(r.status, 125);
        cr_assert_not_null(strstr(r.err, "--bogus-option"), "stderr: %s", r.err);
        result_done(&r);

        r = run_cli(NULL, "run", "--", "/nonexistent/program", NULL);
        cr_assert_eq(r.status, 127);
        cr_assert_not_null(strstr(r.err, "execve"), "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "No such file or directory"), "stderr: %s", r.err);
        result_done(&r);

        expect_refused("no command", "run", "--", NULL);

        r = run_cli(NULL, "inspect", "0123456789abcdef0123456789abcdef", NULL);
        cr_assert_eq(r.status, 1);
        cr_assert_not_null(strstr(r.err, "no such sandbox"), "stderr: %s", r.err);
        result_done(&r);

        expect_refused("NOSUCHSIGNAL", "kill", "-s", "NOSUCHSIGNAL", "x", NULL);

        expect_refused("frobnicate", "frobnicate", NULL);
}

Test(cli, invalid_parameter_is_named) {
        /* Two ranges mapping the same ids inside: the daemon names the offending field. */
        Result r = run_cli(NULL, "run", "--map-users=0:0:1", "--map-users=0:1:1", "--", "true", NULL);

        cr_assert_eq(r.status, 125, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "--map-users=0:1:1: nsboxd refused this uid range"), "stderr: %s", r.err);
        result_done(&r);

        /* A field the daemon names is reported as the option that made it. */
        r = run_cli(NULL, "run", "--tmpfs", "/t", "--bind", "/usr", "/a/../b", "--", "true", NULL);
        cr_assert_eq(r.status, 125, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "--bind /usr /a/../b: DEST must be an absolute path"), "stderr: %s", r.err);
        result_done(&r);

        r = run_cli(NULL, "run", "--hostname", "-bad-", "--", "true", NULL);
        cr_assert_eq(r.status, 125, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "--hostname: a host name is"), "stderr: %s", r.err);
        result_done(&r);
}

/* Every command exits with the same documented code on a usage error: 125, which no command's own status is
 * taken for. */
Test(cli, usage_errors_exit_125) {
        static const char *const cases[][4] = {
                { "run", "--bogus", "true" },  { "run", "--hostname" },     { "run" },
                { "list", "--bogus" },         { "list", "extra" },         { "inspect" },
                { "inspect", "a", "b" },       { "wait" },                  { "wait", "--bogus", "x" },
                { "kill", "-s", "NOPE", "x" }, { "kill" },                  { "info", "extra" },
                { "info", "--bogus" },         { "frobnicate" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Result r = run_cli(NULL, cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);

                cr_assert_eq(r.status, 125, "%s %s: status %d; stderr: %s", cases[i][0], cases[i][1] ?: "", r.status,
                             r.err);
                cr_assert_neq(r.err[0], 0, "%s: no message", cases[i][0]);
                result_done(&r);
        }

        char *argv[] = { (char *) cli(), NULL };
        int in, out, err;
        pid_t pid = start(argv, &in, &out, &err);
        Result r = finish(pid, in, out, err, NULL);
        cr_assert_eq(r.status, 125, "stderr: %s", r.err);
        result_done(&r);
}

/* Each message names the option and says what is wrong with it. */
Test(cli, messages_name_the_option_and_the_problem) {
        static const struct {
                const char *args[10];
                const char *message;
        } cases[] = {
                { { "--setenv", "A=B", "C", "--", "true" }, "--setenv A=B C: VAR must be a non-empty name without '='" },
                { { "--unsetenv", "A=B", "--", "true" }, "--unsetenv A=B: VAR must be a non-empty name" },
                { { "--hostname", "--", "true" }, "--hostname needs an argument before \"--\"" },
                { { "--bind", "/usr", "--", "true" }, "--bind needs two arguments, SRC DEST; got only /usr" },
                { { "-r", "--uid", "1000", "--", "id" },
                  "--uid 1000: uid 1000 is not mapped in the sandbox's user namespace" },
                { { "-r", "--gid", "7", "--", "id" }, "--map-group=7" },
                { { "--tmpfs", "/t", "--", "true" }, "nothing was bound; bind what the command needs" },
                { { "--tmpfs", "/t", "--bind", "/etc", "/etc", "--", "true" },
                  "only what the file system options put there exists" },
                { { "--size", "1m", "--dir", "/x", "--", "true" }, "--size must be followed by --tmpfs, not --dir" },
                { { "--perms", "0700", "--", "true" }, "--perms must be followed by --tmpfs, --dir or --file" },
                { { "--perms", "99", "--tmpfs", "/x", "--", "true" }, "--perms 99: not an octal mode" },
                { { "--chmod", "0700", "/x", "--", "true" }, "--chmod: nsboxd does not change the mode" },
                { { "--propagation", "shared", "--", "true" }, "only --propagation=private is accepted" },
                { { "--kill-child=TERM", "--", "true" }, "with SIGKILL only" },
                { { "--share-net", "--", "true" }, "--share-net only undoes" },
                { { "--pass-fd", "2", "--", "true" }, "--pass-fd 2: expected a file descriptor number 3..1023" },
                { { "--uid", "x", "--", "true" }, "--uid x: not a user or group id" },
                { { "--seccomp", "/nonexistent/profile.json", "--", "true" },
                  "--seccomp /nonexistent/profile.json: No such file or directory\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[16] = { (char *) cli(), (char *) "--socket", daemon_.socket_path, (char *) "run" };
                size_t n = 4;
                int in, out, err;

                for (size_t j = 0; cases[i].args[j]; j++)
                        argv[n++] = (char *) cases[i].args[j];
                argv[n] = NULL;

                pid_t pid = start(argv, &in, &out, &err);
                Result r = finish(pid, in, out, err, NULL);

                cr_assert(r.status == 125 || r.status == 127, "%s: status %d", cases[i].args[0], r.status);
                cr_assert_not_null(strstr(r.err, cases[i].message), "%s: expected \"%s\" in: %s", cases[i].args[0],
                                   cases[i].message, r.err);
                cr_assert_null(strstr(r.err, "must be absolute)"), "%s: %s", cases[i].args[0], r.err);
                result_done(&r);
        }
}

/* unshare(1)'s and bubblewrap's names for what nsbox does. */
Test(cli, unshare_and_bubblewrap_options) {
        char ours[64], line[256];
        Result r;

        cr_assert(readlink("/proc/self/ns/net", ours, sizeof ours - 1) > 0);
        ours[strcspn(ours, "]") + 1] = 0;

        /* --unshare-all with --share-net: every namespace but the network one. */
        r = run_cli(NULL, "run", "--unshare-all", "--share-net", "--die-with-parent", "--new-session", "-f",
                    "--kill-child", "--", "sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/user", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        snprintf(line, sizeof line, "%s\n", ours);
        cr_assert(strncmp(r.out, line, strlen(line)) == 0, "net namespace %s, ours %s", r.out, ours);
        result_done(&r);

        /* bubblewrap's --argv0: what the program sees, while argv[0] is still what runs */
        r = run_cli(NULL, "run", "--argv0", "renamed", "--", "sh", "-c", "echo $0", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "renamed\n");
        result_done(&r);

        r = run_cli(NULL, "run", "--unshare-pid", "--as-pid-1", "--", "sh", "-c", "echo $$", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "1\n");
        result_done(&r);

        r = run_cli(NULL, "run", "-U", "--map-users=0:0:1000", "--map-groups=0:0:1000", "-S", "7", "-G", "8", "-w",
                    "/tmp", "--", "sh", "-c", "echo $(id -u) $(id -g) $(pwd)", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "7 8 /tmp\n");
        result_done(&r);

        /* unshare's --keep-caps: a uid other than 0 keeps the namespace's capabilities across exec. */
        r = run_cli(NULL, "run", "-U", "--map-users=0:0:1001", "--uid", "1000", "--keep-caps", "--", "grep", "CapEff",
                    "/proc/self/status", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_neq(r.out, "CapEff:\t0000000000000000\n");
        result_done(&r);
        r = run_cli(NULL, "run", "-U", "--map-users=0:0:1001", "--uid", "1000", "--", "grep", "CapEff",
                    "/proc/self/status", NULL);
        cr_assert_str_eq(r.out, "CapEff:\t0000000000000000\n", "stderr: %s", r.err);
        result_done(&r);

        /* unshare's --mount-proc: the host's tree with a new /proc. */
        r = run_cli(NULL, "run", "-p", "--mount-proc", "--", "sh", "-c", "ls /proc | grep -c '^[0-9]'; test -d /usr",
                    NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(atoi(r.out) >= 1 && atoi(r.out) <= 4, "processes seen: %s", r.out);
        result_done(&r);
}

/* bubblewrap's --unshare-TYPE and --unshare-TYPE-try, one by one: each namespace the command is in differs from
 * ours exactly when asked for; --dev-bind-try skips a missing source, -R is --root. */
Test(cli, unshare_each_type_and_try) {
        static const char *const types[] = { "user", "ipc", "uts", "net", "cgroup" };
        char cmd[256] = "readlink";
        Result r;

        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " /proc/self/ns/%s", types[i]);
        r = run_cli(NULL, "run", "--unshare-user-try", "--unshare-ipc", "--unshare-uts", "--unshare-net",
                    "--unshare-cgroup-try", "-R", "/", "--dev-bind-try", "/nonexistent", "/x", "--", "sh", "-c", cmd,
                    NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        const char *line = r.out;
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                char path[64], ours[64] = "";

                snprintf(path, sizeof path, "/proc/self/ns/%s", types[i]);
                cr_assert(readlink(path, ours, sizeof ours - 1) > 0);
                cr_assert(strncmp(line, ours, strlen(ours)) != 0, "%s namespace is ours: %s", types[i], r.out);
                line = strchr(line, '\n');
                cr_assert_not_null(line);
                line++;
        }
        result_done(&r);

        /* Only what was asked for: the ipc namespace alone. */
        r = run_cli(NULL, "run", "--unshare-ipc", "--", "readlink", "/proc/self/ns/ipc", "/proc/self/ns/uts", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        char ipc[64] = "", uts[64] = "", expected[160];
        cr_assert(readlink("/proc/self/ns/ipc", ipc, sizeof ipc - 1) > 0);
        cr_assert(readlink("/proc/self/ns/uts", uts, sizeof uts - 1) > 0);
        snprintf(expected, sizeof expected, "%s\n", uts);
        cr_assert(strncmp(r.out, ipc, strlen(ipc)) != 0, "ipc namespace is ours: %s", r.out);
        cr_assert_str_eq(strchr(r.out, '\n') + 1, expected);
        result_done(&r);
}

Test(cli, bind_try_fd_size_and_perms) {
        char line[1024];
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", line, NULL };
        int in, out, err;
        pid_t pid;
        Result r;

        snprintf(line, sizeof line,
                 "exec %s --socket %s run --ro-bind / / --bind-try /nonexistent /x --ro-bind-try /etc /mnt "
                 "--size 1m --perms 0710 --tmpfs /tmp --perms 0701 --dir /tmp/d --ro-bind-fd 7 /srv -- sh -c "
                 "'test -e /x || echo no-x; test -f /mnt/hostname && echo etc; stat -c %%a /tmp /tmp/d; "
                 "df -k /tmp | tail -1 | tr -s \" \" | cut -d\" \" -f2; test -d /srv/bin && echo fd' 7</usr",
                 cli(), daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "no-x\netc\n710\n701\n1024\nfd\n");
        result_done(&r);
}

/* --user alone maps the caller to itself (documented in nsbox(1)), where unshare(1) leaves it unmapped. */
Test(cli, user_alone_maps_the_caller_to_itself) {
        char *argv[] = { (char *) "/usr/bin/setpriv", (char *) "--reuid=65534", (char *) "--regid=65534",
                         (char *) "--clear-groups", (char *) cli(), (char *) "--socket", daemon_.socket_path,
                         (char *) "run", (char *) "--user", (char *) "--", (char *) "sh", (char *) "-c",
                         (char *) "echo $(id -u) $(id -g); cat /proc/self/uid_map", NULL };
        int in, out, err;
        pid_t pid = start(argv, &in, &out, &err);
        Result r = finish(pid, in, out, err, NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(strncmp(r.out, "65534 65534\n", 12) == 0, "out: %s", r.out);
        cr_assert(strstr(r.out, "65534      65534          1"), "uid_map: %s", r.out);
        result_done(&r);
}

/* Runs nsbox run ARGS... (NULL-terminated) as uid:gid, without supplementary groups. */
static Result run_cli_as(uid_t uid, gid_t gid, ...) {
        char u[32], g[32];
        char *argv[32] = { (char *) "/usr/bin/setpriv", u, g, (char *) "--clear-groups", (char *) cli(),
                           (char *) "--socket", daemon_.socket_path, (char *) "run" };
        size_t n = 8;
        int in, out, err;
        va_list ap;

        snprintf(u, sizeof u, "--reuid=%u", (unsigned) uid);
        snprintf(g, sizeof g, "--regid=%u", (unsigned) gid);
        va_start(ap, gid);
        for (const char *a; (a = va_arg(ap, const char *));) {
                cr_assert_lt(n, 31U);
                argv[n++] = (char *) a;
        }
        va_end(ap);
        argv[n] = NULL;

        pid_t pid = start(argv, &in, &out, &err);
        return finish(pid, in, out, err, NULL);
}

/* unshare's --map-current-user and --map-auto, for a user with an /etc/subuid range as useradd gives one. */
Test(cli, map_current_user_and_map_auto) {
        static const char user[] = "nsbt-cli-auto";
        char expected[128];
        struct passwd *pw;
        Result r;

        if (!getpwnam(user))
                cr_assert_eq(system("useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
                                    "nsbt-cli-auto >/dev/null 2>&1"),
                             0);
        pw = getpwnam(user);
        cr_assert_not_null(pw);

        r = run_cli_as(pw->pw_uid, pw->pw_gid, "--map-current-user", "--", "sh", "-c", "echo $(id -u) $(id -g)", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        snprintf(expected, sizeof expected, "%u %u\n", (unsigned) pw->pw_uid, (unsigned) pw->pw_gid);
        cr_assert_str_eq(r.out, expected);
        result_done(&r);

        r = run_cli_as(pw->pw_uid, pw->pw_gid, "--map-auto", "--", "sh", "-c",
                       "echo $(id -u) $(id -g); cat /proc/self/uid_map", NULL);
        if (r.status == 125 && strstr(r.err, "has no range for this user")) {
                result_done(&r);
                system("userdel nsbt-cli-auto >/dev/null 2>&1");
                cr_skip_test("useradd gave %s no /etc/subuid range", user);
        }
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert(strncmp(r.out, "0 0\n", 4) == 0, "out: %s", r.out);
        cr_assert(strstr(r.out, "         0 "), "uid_map: %s", r.out);
        result_done(&r);
        system("userdel nsbt-cli-auto >/dev/null 2>&1");
}

/* Through nsboxd instead of fds: output captured and printed as it comes, stdin given as text. */
Test(cli, capture_output_and_stdin_data) {
        Result r = run_cli("not read\n", "run", "--capture-output", "--stdin-data", "from text\n", "--", "sh", "-c",
                           "cat; echo to-err >&2; printf 'x\\377\\n'; "
                           "readlink /proc/self/fd/0 /proc/self/fd/1 | sed 's/:.*//'; exit 4",
                           NULL);

        cr_assert_eq(r.status, 4, "stderr: %s", r.err);
        /* The command's stdout and stdin are nsboxd's pipes, not nsbox's. */
        cr_assert_str_eq(r.out, "from text\nx\xef\xbf\xbd\npipe\npipe\n");
        cr_assert_str_eq(r.err, "to-err\n");
        result_done(&r);

        /* Past the limit: what fits, and nsbox says the rest was dropped. */
        r = run_cli(NULL, "run", "--capture-output=1k", "--", "sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a",
                    NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_eq(strlen(r.out), 1024U);
        cr_assert_not_null(strstr(r.err, "output was dropped"), "stderr: %s", r.err);
        result_done(&r);

        static const struct {
                const char *args[6]; /* NULL-terminated */
                const char *message;
        } bad[] = {
                { { "--capture-output=x", "--", "true" }, "--capture-output=x: expected a size" },
                { { "--capture-output", "--pty", "--", "true" }, "--capture-output does not go with --pty" },
                { { "--capture-output", "--detach", "--", "true" }, "--capture-output does not go with --detach" },
                { { "--stdin-data", "x", "--pty", "--", "true" }, "--stdin-data does not go with --pty" },
                { { "--stdin-data", "\xff", "--", "true" }, "--stdin-data: TEXT must be UTF-8" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *const *a = bad[i].args;

                r = run_cli(NULL, "run", a[0], a[1], a[2], a[3], a[4], a[5], NULL);
                cr_assert_eq(r.status, 125, "%s: status %d, stderr: %s", a[0], r.status, r.err);
                cr_assert_not_null(strstr(r.err, bad[i].message), "expected \"%s\" in: %s", bad[i].message, r.err);
                result_done(&r);
        }
}

Test(cli, info_json) {
        Result r = run_cli(NULL, "info", "--json", NULL);
        struct json_object *o;

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        o = json_tokener_parse(r.out);
        cr_assert_not_null(o, "not JSON: %s", r.out);
        cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "product")), "nsboxd");
        cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "socket")), daemon_.socket_path);
        cr_assert_eq(json_object_array_length(json_object_object_get(o, "interfaces")), 2);
        /* Root reads the warm pool's counters: none made without a budget. */
        cr_assert_eq(json_object_get_int64(json_object_object_get(json_object_object_get(o, "warmPool"), "fills")), 0,
                     "%s", r.out);
        json_object_put(o);
        result_done(&r);
}

Test(cli, unreachable_socket) {
        char *argv[] = { (char *) cli(), (char *) "--socket", (char *) "/nonexistent/nsbox.sock", (char *) "run",
                         (char *) "true", NULL };
        int in, out, err;
        pid_t pid = start(argv, &in, &out, &err);
        Result r = finish(pid, in, out, err, NULL);

        cr_assert_eq(r.status, 125);
        cr_assert_not_null(strstr(r.err, "cannot reach nsboxd at /nonexistent/nsbox.sock"), "stderr: %s", r.err);
        result_done(&r);
}

Test(cli, info_and_help) {
        Result r = run_cli(NULL, "info", NULL);

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.out, "io.nsbox.Sandbox"));
        cr_assert_not_null(strstr(r.out, "warm pool:   0 entries, 0 parked;"), "%s", r.out);
        result_done(&r);

        r = run_cli(NULL, "run", "--help", NULL);
        cr_assert_eq(r.status, 0);
        cr_assert_not_null(strstr(r.out, "--map-root-user"));
        cr_assert_not_null(strstr(r.out, "--ro-bind"));
        result_done(&r);
}

/* script(1) gives the CLI a terminal; the command inside must see one of its own. */
Test(cli, pty_under_script) {
        char line[1024];
        char *argv[] = { (char *) "/usr/bin/script", (char *) "-qec", line, (char *) "/dev/null", NULL };
        int in, out, err;
        pid_t pid;
        Result r;

        snprintf(line, sizeof(line),
                 "%s --socket %s run --pty -- sh -c 'test -t 0 && test -t 1 && test -t 2 && tty && exit 5'", cli(),
                 daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, NULL);

        cr_assert_eq(r.status, 5, "status %d, out: %s, err: %s", r.status, r.out, r.err);
        cr_assert_not_null(strstr(r.out, "/dev/pts/"), "out: %s", r.out);
        result_done(&r);
}

/* ---- resources: systemd-run's -p, pause, resume, kill --all ---- */

Test(cli, properties_as_systemd_run_takes_them) {
        Result r;
        char id[64] = "";
        const char *line;

        /* -p before NAME=VALUE is systemd-run's; alone it stays unshare's --pid. */
        r = run_cli(NULL, "run", "-p", "TasksMax=50", "-p", "MemoryMax=64M", "-p", "CPUQuota=50%", "-p",
                    "CPUWeight=200", "-p", "RuntimeMaxSec=1h", "-p", "LimitNOFILE=100:200", "-p", "LimitCORE=0",
                    "--property=MemorySwapMax=0", "--detach", "--name", "limited", "--", "sleep", "100", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        snprintf(id, sizeof id, "%.*s", (int) strcspn(r.out, "\n"), r.out);
        result_done(&r);

        r = run_cli(NULL, "inspect", id, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        line = strstr(r.out, "limits:");
        cr_assert_not_null(line, "%s", r.out);
        cr_expect_not_null(strstr(line, "MemoryMax=64M"), "%s", r.out);
        cr_expect_not_null(strstr(line, "MemorySwapMax=0"), "%s", r.out);
        cr_expect_not_null(strstr(line, "TasksMax=50"), "%s", r.out);
        cr_expect_not_null(strstr(line, "CPUQuota=50%"), "%s", r.out);
        cr_expect_not_null(strstr(line, "CPUWeight=200"), "%s", r.out);
        cr_expect_not_null(strstr(line, "RuntimeMaxSec=3600"), "%s", r.out);
        cr_expect_not_null(strstr(line, "LimitNOFILE=100:200"), "%s", r.out);
        cr_expect_not_null(strstr(r.out, "cgroup:      /"), "%s", r.out);
        cr_expect_not_null(strstr(r.out, "usage:       cpu "), "%s", r.out);
        result_done(&r);

        r = run_cli(NULL, "list", NULL);
        cr_expect_not_null(strstr(r.out, "TasksMax=50"), "%s", r.out);
        cr_expect_not_null(strstr(r.out, "/user-0/"), "%s", r.out);
        result_done(&r);

        r = run_cli(NULL, "pause", id, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        result_done(&r);
        r = run_cli(NULL, "inspect", id, NULL);
        cr_expect_not_null(strstr(r.out, "(paused)"), "%s", r.out);
        result_done(&r);
        r = run_cli(NULL, "resume", id, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        result_done(&r);

        r = run_cli(NULL, "kill", "--all", "-s", "KILL", id, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        result_done(&r);
        r = run_cli(NULL, "wait", id, NULL);
        cr_assert_eq(r.status, 128 + SIGKILL, "stderr: %s", r.err);
        result_done(&r);

        /* -p alone is still --pid. */
        r = run_cli(NULL, "run", "-p", "--", "sh", "-c", "echo $$", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_expect_str_eq(r.out, "2\n", "the command is pid 2 under init in a new pid namespace");
        result_done(&r);
}

Test(cli, a_limit_that_ended_the_command_is_named_and_exits_137) {
        Result r = run_cli(NULL, "run", "-p", "RuntimeMaxSec=1", "--", "sleep", "100", NULL);

        cr_assert_eq(r.status, 137, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.err, "killed at its runtime limit: RuntimeMaxSec=1s"), "%s", r.err);
        result_done(&r);

        r = run_cli(NULL, "run", "-p", "MemoryMax=32M", "-p", "MemorySwapMax=0", "--", "python3", "-c",
                    "x = b'x' * (200 << 20)", NULL);
        if (strstr(r.err, "cannot be enforced")) {
                cr_log_info("MemoryMax or MemorySwapMax cannot be enforced here: %s", r.err);
                cr_assert_eq(r.status, 125);
        } else {
                cr_assert_eq(r.status, 137, "stderr: %s", r.err);
                cr_assert_not_null(strstr(r.err, "killed by the OOM killer: MemoryMax=32M"), "%s", r.err);
        }
        result_done(&r);
}

Test(cli, bad_properties_are_refused_by_name) {
        static const struct {
                const char *property;
                const char *message;
        } cases[] = {
                { "Foo=1", "-p Foo=1: unknown property" },
                { "MemoryMax=abc", "-p MemoryMax=abc: not a valid value: expected a size" },
                { "MemoryMax=0", "-p MemoryMax=0: the value is out of range" },
                { "TasksMax=-5", "-p TasksMax=-5: not a valid value" },
                { "CPUQuota=50", "-p CPUQuota=50: not a valid value: expected a percentage" },
                { "CPUQuota=0%", "-p CPUQuota=0%: the value is out of range" },
                { "CPUQuota=0.05%", "-p CPUQuota=0.05%: the value is out of range" },
                { "CPUWeight=10001", "-p CPUWeight=10001: the value is out of range" },
                { "RuntimeMaxSec=10x", "-p RuntimeMaxSec=10x: not a valid value: expected a time" },
                { "LimitNOFILE=200:100", "-p LimitNOFILE=200:100: the value is out of range" },
                { "MemorySwapMax=1M", "-p MemorySwapMax= needs -p MemoryMax= too" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Result r = run_cli(NULL, "run", "-p", cases[i].property, "--", "true", NULL);

                cr_assert_eq(r.status, 125, "%s: status %d", cases[i].property, r.status);
                cr_assert_not_null(strstr(r.err, cases[i].message), "%s: expected \"%s\" in: %s", cases[i].property,
                                   cases[i].message, r.err);
                result_done(&r);
        }

        /* What the host cannot enforce is named as it was asked for. */
        if (test_cgroup_controller_is_v1("memory")) {
                Result r = run_cli(NULL, "run", "-p", "MemoryHigh=10M", "--", "true", NULL);

                cr_assert_eq(r.status, 125);
                cr_assert_not_null(strstr(r.err, "MemoryHigh= cannot be enforced on this host"), "%s", r.err);
                result_done(&r);
        }
}

/* ---- exec, shell, names, joins ---- */

/* Starts a detached sandbox (as nobody if as_nobody) and returns its id (malloc'ed). */
static char *detached(bool as_nobody, const char *const *args) {
        char *argv[32];
        size_t n = 0;
        char id[128];
        Result r;

        argv[n++] = (char *) "run";
        argv[n++] = (char *) "--detach";
        for (size_t i = 0; args[i]; i++)
                argv[n++] = (char *) args[i];
        argv[n] = NULL;
        cr_assert_lt(n, 30U);
        /* run_cli takes NULL-terminated varargs: spell out the longest case. */
        r = as_nobody ? run_cli_as_nobody(NULL, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7],
                                          argv[8], argv[9], argv[10], argv[11], argv[12], argv[13], argv[14], argv[15],
                                          NULL) :
                        run_cli(NULL, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], argv[8],
                                argv[9], argv[10], argv[11], argv[12], argv[13], argv[14], argv[15], NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_eq(sscanf(r.out, "%127s", id), 1);
        result_done(&r);
        return strdup(id);
}

Test(cli, exec_into_a_running_sandbox) {
        _cleanup_free_ char *id = detached(false, (const char *const[]) { "--name", "cli-web", "--unshare-all",
                                                                           "--hostname", "cliweb", "--mount-proc",
                                                                           "--chdir", "/tmp", "--", "sleep", "1000",
                                                                           NULL });
        Result r;

        /* by name, with what the sandbox sees, from where it started */
        r = run_cli(NULL, "exec", "-e", "GREETING=hi", "cli-web", "--", "sh", "-c",
                    "hostname; pwd; echo $GREETING; ps -o args= ax | grep -c '^sleep 1000$'; exit 3", NULL);
        cr_assert_eq(r.status, 3, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "cliweb\n/tmp\nhi\n1\n");
        result_done(&r);

        /* stdin flows through, --cwd and --user (root in its user namespace maps to root outside here) */
        r = run_cli("from stdin\n", "exec", "--cwd", "/", "--user", "0:0", id, "--", "sh", "-c", "cat; pwd", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "from stdin\n/\n");
        result_done(&r);

        /* a missing command is 127, as for run; a sandbox that is not there is nsbox's failure */
        r = run_cli(NULL, "exec", id, "--", "/no/such/program", NULL);
        cr_assert_eq(r.status, 127, "stderr: %s", r.err);
        result_done(&r);
        expect_refused("no such sandbox: no-such-sandbox", "exec", "no-such-sandbox", "--", "true", NULL);

        /* a process exec started is listed as in every namespace of its sandbox, joined, having made none */
        {
                char *argv[] = { (char *) cli(), (char *) "--socket", daemon_.socket_path, (char *) "exec", id,
                                 (char *) "--", (char *) "sleep", (char *) "1000", NULL };
                struct json_object *array = NULL, *made = NULL, *entry = NULL, *v;
                int in, out, err;
                pid_t pid = start(argv, &in, &out, &err);
                Result w;

                while (!entry) {
                        json_object_put(array);
                        r = run_cli(NULL, "list", "--json", NULL);
                        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                        array = json_tokener_parse(r.out);
                        cr_assert_not_null(array, "%s", r.out);
                        result_done(&r);
                        for (size_t i = 0; i < json_object_array_length(array); i++) {
                                struct json_object *o = json_object_array_get_idx(array, i);

                                if (json_object_object_get_ex(o, "id", &v) && streq(json_object_get_string(v), id))
                                        cr_assert(json_object_object_get_ex(o, "namespaces", &made));
                                else if (json_object_object_get_ex(o, "sandbox", &v) &&
                                         streq(json_object_get_string(v), id))
                                        entry = o;
                        }
                        if (!entry)
                                usleep(10000);
                }
                cr_assert_not_null(made);
                cr_assert_gt(json_object_array_length(made), 0);
                cr_assert(json_object_object_get_ex(entry, "joinedNamespaces", &v), "%s",
                          json_object_to_json_string(array));
                cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                                 json_object_to_json_string_ext(made, JSON_C_TO_STRING_PLAIN));
                cr_assert(json_object_object_get_ex(entry, "namespaces", &v));
                cr_assert_eq(json_object_array_length(v), 0);
                cr_assert(json_object_object_get_ex(entry, "id", &v));
                r = run_cli(NULL, "kill", "-s", "KILL", json_object_get_string(v), NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                result_done(&r);
                json_object_put(array);
                w = finish(pid, in, out, err, NULL);
                result_done(&w);
        }

        /* a name taken */
        expect_refused("cli-web", "run", "--name", "cli-web", "--", "true", NULL);

        r = run_cli(NULL, "kill", "-s", "KILL", "cli-web", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        result_done(&r);
}

/* An ended sandbox is out of plain `list` and still in `list --all` until its end is read. */
Test(cli, list_all_shows_the_ended) {
        _cleanup_free_ char *id = detached(false, (const char *const[]) { "--name", "cli-short", "--", "true", NULL });
        Result r;

        /* wait until it ended, without reading its end: inspect says so */
        for (;;) {
                r = run_cli(NULL, "inspect", "--json", id, NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                if (strstr(r.out, "\"exited\"")) {
                        result_done(&r);
                        break;
                }
                result_done(&r);
                usleep(10000);
        }
        r = run_cli(NULL, "list", NULL);
        cr_assert_null(strstr(r.out, id), "%s", r.out);
        result_done(&r);
        r = run_cli(NULL, "list", "--all", NULL);
        cr_assert_not_null(strstr(r.out, id), "%s", r.out);
        result_done(&r);
        r = run_cli(NULL, "wait", "cli-short", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        result_done(&r);
        r = run_cli(NULL, "list", "--all", NULL);
        cr_assert_null(strstr(r.out, id), "%s", r.out);
        result_done(&r);
}

/* --pty and shell, through script(1): a terminal in the sandbox, the exit code back. */
Test(cli, exec_pty_and_shell) {
        _cleanup_free_ char *id = detached(false, (const char *const[]) { "--name", "cli-tty", "--pid", "--",
                                                                           "sleep", "1000", NULL });
        char line[1024];
        char *argv[] = { (char *) "/usr/bin/script", (char *) "-qec", line, (char *) "/dev/null", NULL };
        int in, out, err;
        pid_t pid;
        Result r;

        snprintf(line, sizeof(line),
                 "%s --socket %s exec --pty cli-tty -- sh -c 'test -t 0 && test -t 1 && test -t 2 && tty && exit 5'",
                 cli(), daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, NULL);
        cr_assert_eq(r.status, 5, "status %d, out: %s, err: %s", r.status, r.out, r.err);
        cr_assert_not_null(strstr(r.out, "/dev/pts/"), "out: %s", r.out);
        result_done(&r);

        snprintf(line, sizeof(line), "%s --socket %s shell cli-tty", cli(), daemon_.socket_path);
        pid = start(argv, &in, &out, &err);
        r = finish(pid, in, out, err, "tty; echo $HOME; exit 6\n");
        cr_assert_eq(r.status, 6, "status %d, out: %s, err: %s", r.status, r.out, r.err);
        cr_assert_not_null(strstr(r.out, "/dev/pts/"), "out: %s", r.out);
        result_done(&r);

        r = run_cli(NULL, "kill", "-s", "KILL", id, NULL);
        result_done(&r);
}

/*
 * A pod: a second sandbox in the first one's network namespace, by --join
 * and by --netns FD, and a non-root caller's too (its own user namespace,
 * which it owns).
 */
Test(cli, join_another_sandboxs_namespaces) {
        _cleanup_free_ char *id = detached(false, (const char *const[]) { "--name", "cli-pod", "--net", "--uts",
                                                                           "--hostname", "pod", "--", "sleep",
                                                                           "1000", NULL });
        _cleanup_free_ char *mine = detached(true, (const char *const[]) { "--name", "cli-mine", "-r", "--net",
                                                                            "--uts", "--hostname", "mine", "--",
                                                                            "sleep", "1000", NULL });
        char want[128], path[64], fdarg[16];
        struct json_object *info;
        long pid;
        int fd;
        Result r;

        r = run_cli(NULL, "inspect", "--json", "cli-pod", NULL);
        info = json_tokener_parse(r.out);
        cr_assert_not_null(info);
        pid = (long) json_object_get_int64(json_object_object_get(info, "pid"));
        json_object_put(info);
        result_done(&r);
        snprintf(path, sizeof path, "/proc/%li/ns/net", pid);
        {
                char link[64] = "";

                cr_assert_gt(readlink(path, link, sizeof link - 1), 0);
                snprintf(want, sizeof want, "pod\n%s\n", link);
        }

        r = run_cli(NULL, "run", "--join", "cli-pod:net,uts", "--", "sh", "-c", "hostname; readlink /proc/self/ns/net",
                    NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, want);
        result_done(&r);

        /* the same by fd; --unshare-all leaves the joined ones out */
        fd = open(path, O_RDONLY); /* inherited by the CLI */
        cr_assert_geq(fd, 0);
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        r = run_cli(NULL, "run", "--unshare-all", "--netns", fdarg, "--", "readlink", "/proc/self/ns/net", NULL);
        close(fd);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, strchr(want, '\n') + 1);
        result_done(&r);

        /* nobody joins its own sandbox's user and network namespaces, but not root's */
        r = run_cli_as_nobody(NULL, "run", "--join", "cli-mine:user,net,uts", "--", "hostname", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "mine\n");
        result_done(&r);
        {
                char spec[160];

                snprintf(spec, sizeof spec, "%s:net", id);
                expect_refused_as_nobody("no such sandbox", "run", "--join", spec, "--", "true", NULL);
        }
        expect_refused_as_nobody("no such sandbox", "run", "--join", "cli-pod:net", "--", "true", NULL);

        /* nsboxd reports the namespaces created, none for one that only joined: inspect does not show that as
         * the host's ("-"), and shows what it created beside a join */
        {
                _cleanup_free_ char *joined = detached(false, (const char *const[]) { "--join", "cli-pod:net,uts",
                                                                                       "--", "sleep", "1000",
                                                                                       NULL });
                _cleanup_free_ char *beside = detached(false, (const char *const[]) { "--join", "cli-pod:net",
                                                                                       "--ipc", "--", "sleep",
                                                                                       "1000", NULL });

                r = run_cli(NULL, "inspect", joined, NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                cr_assert_not_null(strstr(r.out, "\nnamespaces:  none created, joined: uts,net\n"), "%s", r.out);
                result_done(&r);
                r = run_cli(NULL, "inspect", beside, NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                cr_assert_not_null(strstr(r.out, "\nnamespaces:  ipc, joined: net\n"), "%s", r.out);
                result_done(&r);
                /* list marks the joined ones in the same column */
                r = run_cli(NULL, "list", NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                {
                        _cleanup_free_ char *lj = list_line(r.out, joined), *lb = list_line(r.out, beside);
                        _cleanup_free_ char *lp = list_line(r.out, id);

                        cr_assert(lj && strstr(lj, " uts*,net* "), "%s", r.out);
                        cr_assert(lb && strstr(lb, " ipc,net* "), "%s", r.out);
                        cr_assert(lp && strstr(lp, " uts,net ") && !strchr(lp, '*'), "%s", r.out);
                }
                result_done(&r);
                r = run_cli(NULL, "inspect", "--json", beside, NULL);
                cr_assert_eq(r.status, 0, "stderr: %s", r.err);
                {
                        struct json_object *o = json_tokener_parse(r.out), *v;

                        cr_assert_not_null(o, "%s", r.out);
                        cr_assert(json_object_object_get_ex(o, "joinedNamespaces", &v), "%s", r.out);
                        cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "[\"net\"]");
                        cr_assert(json_object_object_get_ex(o, "namespaces", &v), "%s", r.out);
                        cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "[\"ipc\"]");
                        json_object_put(o);
                }
                result_done(&r);
                r = run_cli(NULL, "kill", "-s", "KILL", joined, NULL);
                result_done(&r);
                r = run_cli(NULL, "kill", "-s", "KILL", beside, NULL);
                result_done(&r);
        }

        r = run_cli(NULL, "kill", "-s", "KILL", id, NULL);
        result_done(&r);
        r = run_cli(NULL, "kill", "-s", "KILL", mine, NULL);
        result_done(&r);
}

/* What a non-root caller's sandbox joined of another of its own shows to that caller, in inspect and list
 * (text and JSON), and to nobody else: another user sees neither sandbox, nor the field. */
Test(cli, joined_namespaces_show_to_their_owner_only) {
        char pod[128], joined[128];
        Result r;

        r = run_cli_as_uid(1001, NULL, "run", "--detach", "--name", "cli-rv-pod", "-r", "--mount", "--", "sleep",
                           "1000", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_eq(sscanf(r.out, "%127s", pod), 1);
        result_done(&r);
        r = run_cli_as_uid(1001, NULL, "run", "--detach", "--join", "cli-rv-pod:user,mount", "--", "sleep", "1000",
                           NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_eq(sscanf(r.out, "%127s", joined), 1);
        result_done(&r);

        r = run_cli_as_uid(1001, NULL, "inspect", joined, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.out, "\nnamespaces:  none created, joined: mount,user\n"), "%s", r.out);
        result_done(&r);
        r = run_cli_as_uid(1001, NULL, "inspect", pod, NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_not_null(strstr(r.out, "\nnamespaces:  mount,user\n"), "%s", r.out);
        result_done(&r);
        r = run_cli_as_uid(1001, NULL, "list", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        {
                _cleanup_free_ char *lj = list_line(r.out, joined), *lp = list_line(r.out, pod);

                cr_assert(lj && strstr(lj, " mount*,user* "), "%s", r.out);
                cr_assert(lp && strstr(lp, " mount,user "), "%s", r.out);
        }
        result_done(&r);
        r = run_cli_as_uid(1001, NULL, "list", "--json", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        {
                struct json_object *array = json_tokener_parse(r.out), *o, *v;
                bool found = false;

                cr_assert(array && json_object_is_type(array, json_type_array), "%s", r.out);
                for (size_t i = 0; i < json_object_array_length(array); i++) {
                        o = json_object_array_get_idx(array, i);
                        if (!json_object_object_get_ex(o, "id", &v) || strcmp(json_object_get_string(v), joined) != 0)
                                continue;
                        found = true;
                        cr_assert(json_object_object_get_ex(o, "joinedNamespaces", &v), "%s", r.out);
                        cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                                         "[\"mount\",\"user\"]");
                        cr_assert(json_object_object_get_ex(o, "namespaces", &v), "%s", r.out);
                        cr_assert_eq(json_object_array_length(v), 0, "%s", r.out);
                }
                cr_assert(found, "%s not in %s", joined, r.out);
                json_object_put(array);
        }
        result_done(&r);

        /* another user: neither sandbox, by id or in a list, and no joined namespaces of anyone's */
        r = run_cli_as_uid(1002, NULL, "inspect", "--json", joined, NULL);
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, "no such sandbox"), "%s", r.err);
        cr_assert_null(strstr(r.out, "joined"), "%s", r.out);
        result_done(&r);
        r = run_cli_as_uid(1002, NULL, "list", "--json", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_null(strstr(r.out, joined), "%s", r.out);
        cr_assert_null(strstr(r.out, pod), "%s", r.out);
        cr_assert_null(strstr(r.out, "joinedNamespaces"), "%s", r.out);
        result_done(&r);
        r = run_cli_as_uid(1002, NULL, "list", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_null(strstr(r.out, joined), "%s", r.out);
        cr_assert_null(strchr(r.out, '*'), "%s", r.out);
        result_done(&r);

        r = run_cli(NULL, "kill", "-s", "KILL", joined, NULL);
        result_done(&r);
        r = run_cli(NULL, "kill", "-s", "KILL", pod, NULL);
        result_done(&r);
}

/* The pid of sandbox id, as root sees it. */
static long sandbox_pid(const char *id) {
        struct json_object *info;
        Result r = run_cli(NULL, "inspect", "--json", id, NULL);
        long pid;

        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        info = json_tokener_parse(r.out);
        cr_assert_not_null(info, "%s", r.out);
        pid = (long) json_object_get_int64(json_object_object_get(info, "pid"));
        json_object_put(info);
        result_done(&r);
        return pid;
}

/*
 * --uid in a user namespace joined (--join ID:user, --join ID:all, --userns
 * FD) names an id of that namespace, not of the host: nsbox lets nsboxd judge
 * it, and the id not given is what the caller's maps to there. nsboxd still
 * refuses an id that namespace does not map, and another user's namespace.
 */
Test(cli, uid_in_a_joined_user_namespace) {
        _cleanup_free_ char *mapped = detached(true, (const char *const[]) { "--name", "cli-uns-root", "-r", "--",
                                                                              "sleep", "1000", NULL });
        _cleanup_free_ char *own = detached(true, (const char *const[]) { "--name", "cli-uns-own", "-c", "--",
                                                                           "sleep", "1000", NULL });
        _cleanup_free_ char *roots = detached(false, (const char *const[]) { "-r", "--", "sleep", "1000", NULL });
        char path[64], fdarg[16];
        int fd;
        Result r;

        /* root there is nobody's own ids on the host */
        r = run_cli_as_nobody(NULL, "run", "--join", "cli-uns-root:user", "--uid", "0", "--", "sh", "-c",
                              "id -u; id -g", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "0\n0\n");
        result_done(&r);
        r = run_cli_as_nobody(NULL, "run", "--join", "cli-uns-root:all", "--gid", "0", "--", "sh", "-c",
                              "id -u; id -g", NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "0\n0\n");
        result_done(&r);

        snprintf(path, sizeof path, "/proc/%li/ns/user", sandbox_pid(mapped));
        fd = open(path, O_RDONLY); /* inherited by the CLI */
        cr_assert_geq(fd, 0, "%s: %m", path);
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        r = run_cli_as_nobody(NULL, "run", "--userns", fdarg, "--uid", "0", "--", "sh", "-c", "id -u; id -g", NULL);
        close(fd);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        cr_assert_str_eq(r.out, "0\n0\n");
        result_done(&r);

        /* a namespace that maps only nobody's own ids has no root to run as */
        r = run_cli_as_nobody(NULL, "run", "--join", "cli-uns-own:user", "--uid", "0", "--", "true", NULL);
        cr_assert_eq(r.status, 125);
        cr_assert_null(strstr(r.err, "host ids"), "%s", r.err);
        cr_assert_not_null(strstr(r.err, "cannot run true"), "%s", r.err);
        result_done(&r);

        /* nor may nobody enter root's */
        snprintf(path, sizeof path, "/proc/%li/ns/user", sandbox_pid(roots));
        fd = open(path, O_RDONLY);
        cr_assert_geq(fd, 0, "%s: %m", path);
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        r = run_cli_as_nobody(NULL, "run", "--userns", fdarg, "--uid", "0", "--", "true", NULL);
        close(fd);
        cr_assert_eq(r.status, 125);
        cr_assert_not_null(strstr(r.err, "denied"), "%s", r.err);
        result_done(&r);

        /* and without a user namespace, nobody's ids are the host's: the CLI says so */
        expect_refused_as_nobody("host ids", "run", "--uid", "0", "--", "true", NULL);

        r = run_cli(NULL, "kill", "-s", "KILL", mapped, NULL);
        result_done(&r);
        r = run_cli(NULL, "kill", "-s", "KILL", own, NULL);
        result_done(&r);
        r = run_cli(NULL, "kill", "-s", "KILL", roots, NULL);
        result_done(&r);
}
