/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsboxd's own life: reloading the policy and what a caller learns of it,
 * starting with a policy that does not load, and the audit records of
 * sandboxes ending. A real daemon on a temporary socket, raw Varlink calls.
 */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"

#define NOBODY 65534

/* A directory for the policy file, made before the daemon starts. */
typedef struct PolicyDir {
        char dir[64];
        char path[96];
} PolicyDir;

static void policy_dir_make(PolicyDir *p) {
        strcpy(p->dir, "/tmp/nsboxd-policy-XXXXXX");
        cr_assert(mkdtemp(p->dir), "mkdtemp: %m");
        snprintf(p->path, sizeof p->path, "%s/policy.conf", p->dir);
}

static void policy_dir_remove(PolicyDir *p) {
        unlink(p->path);
        rmdir(p->dir);
}

static void write_policy(const PolicyDir *p, const char *text) {
        char tmp[128];
        int fd;

        /* Replaced in one rename, as an editor or a package would: never half written. */
        snprintf(tmp, sizeof tmp, "%s.new", p->path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert(fd >= 0);
        cr_assert(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
        cr_assert(rename(tmp, p->path) == 0);
}

static struct json_object *call(const TestDaemon *d, const char *method, const char *params) {
        int conn = test_daemon_connect(d);
        struct json_object *r = test_call(conn, method, params, NULL, 0, NULL, NULL);

        test_disconnect(conn);
        return r;
}

static const char *error_of(struct json_object *reply) {
        return test_json_string(reply, "error");
}

/* Calls made as nobody report what they got back through the exit status. */
typedef struct AsNobody {
        const TestDaemon *d;
        const char *method;
        const char *params;
        const char *expect_error; /* NULL: success expected */
} AsNobody;

static int call_as_nobody(void *arg) {
        const AsNobody *a = arg;
        struct json_object *r = call(a->d, a->method, a->params);
        const char *e = error_of(r);
        int ok;

        if (!a->expect_error)
                ok = !e;
        else
                ok = e && strcmp(e, a->expect_error) == 0;
        if (!ok)
                fprintf(stderr, "%s as nobody: %s\n", a->method, json_object_to_json_string(r));
        json_object_put(r);
        return ok ? 0 : 1;
}

static void expect_as_nobody(const TestDaemon *d, const char *method, const char *params, const char *expect_error) {
        AsNobody a = { d, method, params, expect_error };

        cr_assert_eq(test_run_as(NOBODY, NOBODY, call_as_nobody, &a), 0, "%s as nobody: expected %s", method,
                     expect_error ?: "success");
}

static const char spawn_true[] = "{\"argv\":[\"/bin/true\"]}";

Test(lifecycle, reload_answers_with_the_outcome, .timeout = 60) {
        PolicyDir p;
        TestDaemon d;
        struct json_object *r;
        char expected_reason[128];

        policy_dir_make(&p);
        const char *args[] = { "--policy", p.path, NULL };
        test_daemon_start(&d, args);

        /* A good policy is in force once Reload answers: no waiting for a signal to be handled. */
        write_policy(&p, "[user:65534]\nmax-sandboxes = 0\n");
        r = call(&d, "io.nsbox.Sandbox.Reload", NULL);
        cr_assert_null(error_of(r), "%s", json_object_to_json_string(r));
        json_object_put(r);
        expect_as_nobody(&d, "io.nsbox.Sandbox.Spawn", spawn_true, "io.nsbox.Sandbox.QuotaExceeded");

        /* A bad one: the answer names the file, the line and the reason; the good one stays. */
        write_policy(&p, "[user:65534]\nmax-sandbox = 1\n");
        r = call(&d, "io.nsbox.Sandbox.Reload", NULL);
        cr_assert_str_eq(error_of(r), "io.nsbox.Sandbox.PolicyInvalid", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.file"), p.path);
        cr_assert_eq(json_object_get_int(test_json_get(r, "parameters.line")), 2);
        snprintf(expected_reason, sizeof expected_reason, "unknown key 'max-sandbox' in [user:65534]");
        cr_assert_str_eq(test_json_string(r, "parameters.reason"), expected_reason);
        json_object_put(r);
        expect_as_nobody(&d, "io.nsbox.Sandbox.Spawn", spawn_true, "io.nsbox.Sandbox.QuotaExceeded");

        /* Only root reloads; the service keeps serving everyone else meanwhile. */
        expect_as_nobody(&d, "io.nsbox.Sandbox.Reload", NULL, "org.varlink.service.PermissionDenied");
        r = call(&d, "io.nsbox.Sandbox.Reload", "{\"force\":true}");
        cr_assert_str_eq(error_of(r), "org.varlink.service.InvalidParameter");
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "force");
        json_object_put(r);

        test_daemon_stop(&d);
        policy_dir_remove(&p);
}

/* A policy that does not load at start: the daemon starts anyway, serves root and refuses everyone else
 * with an error that says so, until root fixes it and reloads. */
Test(lifecycle, bad_policy_at_start_serves_root_only, .timeout = 60) {
        PolicyDir p;
        TestDaemon d;
        struct json_object *r;

        policy_dir_make(&p);
        write_policy(&p, "[user:65534]\nmax-sandbox = 1\n");
        const char *args[] = { "--policy", p.path, NULL };
        test_daemon_start(&d, args); /* asserts READY=1 */

        r = call(&d, "io.nsbox.Sandbox.Spawn", spawn_true);
        cr_assert_null(error_of(r), "root was not served: %s", json_object_to_json_string(r));
        json_object_put(r);

        /* Every call of the interface, not only Spawn: nothing says what this caller may see. */
        expect_as_nobody(&d, "io.nsbox.Sandbox.Spawn", spawn_true, "io.nsbox.Sandbox.PolicyInvalid");
        expect_as_nobody(&d, "io.nsbox.Sandbox.List", NULL, "io.nsbox.Sandbox.PolicyInvalid");
        expect_as_nobody(&d, "org.varlink.service.GetInfo", NULL, NULL);

        /* Root still learns the reason from a reload that fails again. */
        r = call(&d, "io.nsbox.Sandbox.Reload", NULL);
        cr_assert_str_eq(error_of(r), "io.nsbox.Sandbox.PolicyInvalid");
        cr_assert_str_eq(test_json_string(r, "parameters.reason"), "unknown key 'max-sandbox' in [user:65534]");
        json_object_put(r);
        expect_as_nobody(&d, "io.nsbox.Sandbox.List", NULL, "io.nsbox.Sandbox.PolicyInvalid");

        write_policy(&p, "[user:65534]\nmax-sandboxes = 1\n");
        r = call(&d, "io.nsbox.Sandbox.Reload", NULL);
        cr_assert_null(error_of(r), "%s", json_object_to_json_string(r));
        json_object_put(r);
        expect_as_nobody(&d, "io.nsbox.Sandbox.List", NULL, NULL);
        expect_as_nobody(&d, "io.nsbox.Sandbox.Spawn", spawn_true, NULL);

        test_daemon_stop(&d);
        policy_dir_remove(&p);
}

/* The refusal a non-root caller gets names the file, and nothing of its contents. */
static int policy_invalid_tells_only_the_file(void *arg) {
        const PolicyDir *p = ((const void **) arg)[0];
        const TestDaemon *d = ((const void **) arg)[1];
        struct json_object *r = call(d, "io.nsbox.Sandbox.List", NULL);
        int ok = error_of(r) && strcmp(error_of(r), "io.nsbox.Sandbox.PolicyInvalid") == 0 &&
                 test_json_string(r, "parameters.file") && strcmp(test_json_string(r, "parameters.file"), p->path) == 0 &&
                 !test_json_get(r, "parameters.reason") && !test_json_get(r, "parameters.line");

        if (!ok)
                fprintf(stderr, "List as nobody: %s\n", json_object_to_json_string(r));
        json_object_put(r);
        return ok ? 0 : 1;
}

Test(lifecycle, policy_invalid_error_shows_others_only_the_file, .timeout = 60) {
        PolicyDir p;
        TestDaemon d;

        policy_dir_make(&p);
        write_policy(&p, "[user:65534]\nsecret-key = 1\n");
        const char *args[] = { "--policy", p.path, NULL };
        test_daemon_start(&d, args);

        const void *arg[] = { &p, &d };
        cr_assert_eq(test_run_as(NOBODY, NOBODY, policy_invalid_tells_only_the_file, arg), 0);

        test_daemon_stop(&d);
        policy_dir_remove(&p);
}

/* `nsbox reload`, which ExecReload= runs: exit status 0 once in force, 1 with the reason when not. */
static int run_cli_reload(const TestDaemon *d, char *out, size_t size) {
        char cmd[512];
        size_t n;
        FILE *f;

        snprintf(cmd, sizeof cmd, "'%s' --socket '%s' reload 2>&1", getenv("NSBOX_CLI"), d->socket_path);
        f = popen(cmd, "r");
        cr_assert(f);
        n = fread(out, 1, size - 1, f);
        out[n] = 0;
        return WEXITSTATUS(pclose(f));
}

Test(lifecycle, cli_reload_fails_with_the_reason, .timeout = 60) {
        PolicyDir p;
        TestDaemon d;
        char out[1024], expected[256];

        cr_assert(getenv("NSBOX_CLI"));
        policy_dir_make(&p);
        const char *args[] = { "--policy", p.path, NULL };
        test_daemon_start(&d, args);

        write_policy(&p, "[default]\nmax-sandboxes = 4\n");
        cr_assert_eq(run_cli_reload(&d, out, sizeof out), 0, "%s", out);
        cr_assert_str_eq(out, "");

        write_policy(&p, "[default]\nmax-sandboxes = 4\n[limits]\nbogus = 1\n");
        cr_assert_eq(run_cli_reload(&d, out, sizeof out), 1, "%s", out);
        snprintf(expected, sizeof expected, "%s:4: ", p.path);
        cr_assert(strstr(out, expected), "no '%s' in: %s", expected, out);

        test_daemon_stop(&d);
        policy_dir_remove(&p);
}

/* ---- audit records ---- */

/* Starts a daemon whose stderr goes to a file, for the records it writes. */
static void start_logged(TestDaemon *d, char log_path[static 64], const char *const *args) {
        int saved, fd;

        strcpy(log_path, "/tmp/nsboxd-log-XXXXXX");
        fd = mkostemp(log_path, O_CLOEXEC);
        cr_assert(fd >= 0);
        saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        cr_assert(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
        test_daemon_start(d, args);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(fd);
}

static char *read_log(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        cr_assert(f);
        if (getdelim(&text, &size, 0, f) < 0) {
                free(text);
                text = strdup("");
        }
        fclose(f);
        return text;
}

/* Whether the log has a line with all of the given pieces. */
static bool log_has_line(const char *log, const char *a, const char *b, const char *c) {
        for (const char *line = log; line && *line;) {
                const char *end = strchrnul(line, '\n');
                _cleanup_free_ char *l = strndup(line, end - line);

                if (strstr(l, a) && (!b || strstr(l, b)) && (!c || strstr(l, c)))
                        return true;
                line = *end ? end + 1 : NULL;
        }
        return false;
}

static void spawn_id(const TestDaemon *d, int conn, const char *params, char id[static 64], int *ret_pidfd) {
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Spawn", params, NULL, 0, &fds, &n_fds);

        cr_assert_null(error_of(r), "%s", json_object_to_json_string(r));
        cr_assert_eq(n_fds, 1);
        snprintf(id, 64, "%s", test_json_string(r, "parameters.id"));
        json_object_put(r);
        if (ret_pidfd)
                *ret_pidfd = fds[0];
        else
                close(fds[0]);
}

static void wait_exited(int conn, const char *id) {
        char p[128];

        snprintf(p, sizeof p, "{\"id\":\"%s\"}", id);
        json_object_put(test_call(conn, "io.nsbox.Sandbox.Wait", p, NULL, 0, NULL, NULL));
}

/* Exits, kills by signal and the kills of a stopping daemon are audit records naming the sandbox. */
Test(lifecycle, endings_are_audited_with_the_sandbox_id, .timeout = 60) {
        char log_path[64], exited[64], killed[64], running[64], id_field[80];
        _cleanup_free_ char *log = NULL;
        TestDaemon d;
        int conn, pidfd;

        start_logged(&d, log_path, NULL);
        conn = test_daemon_connect(&d);
        spawn_id(&d, conn, "{\"argv\":[\"/bin/sh\",\"-c\",\"exit 3\"]}", exited, NULL);
        wait_exited(conn, exited);
        spawn_id(&d, conn, "{\"argv\":[\"/bin/sh\",\"-c\",\"kill -9 $$\"]}", killed, NULL);
        wait_exited(conn, killed);
        spawn_id(&d, conn, "{\"argv\":[\"/bin/sleep\",\"60\"],\"keepAlive\":true}", running, &pidfd);
        test_disconnect(conn);
        test_daemon_stop(&d);

        struct pollfd pf = { .fd = pidfd, .events = POLLIN };
        cr_assert_eq(poll(&pf, 1, 5000), 1, "the keepAlive sandbox outlived the daemon");
        close(pidfd);

        log = read_log(log_path);
        unlink(log_path);
        snprintf(id_field, sizeof id_field, "id=%s", exited);
        cr_assert(log_has_line(log, "event=exited", id_field, "exited with status 3"), "%s", log);
        snprintf(id_field, sizeof id_field, "id=%s", killed);
        cr_assert(log_has_line(log, "event=killed", id_field, "SIGKILL"), "%s", log);
        snprintf(id_field, sizeof id_field, "id=%s", running);
        cr_assert(log_has_line(log, "event=kill", id_field, "the daemon is stopping"), "%s", log);
}
