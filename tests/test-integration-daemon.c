/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsboxd end to end: a real daemon on a temporary socket, raw Varlink calls,
 * and checks made from outside the sandbox (namespace inodes, map files,
 * exit statuses, pidfds) or from inside it through a pipe.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "varlink-message.h"
#include "test-util.h"

static TestDaemon daemon_;

static void setup(void) {
        test_daemon_start(&daemon_, NULL);
}

static void teardown(void) {
        test_daemon_stop(&daemon_);
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

static int64_t get_int(struct json_object *o, const char *path) {
        struct json_object *v = test_json_get(o, path);
        cr_assert(v, "missing %s in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

/* A spawned sandbox as the client sees it. */
typedef struct Spawned {
        char id[80];
        pid_t pid;
        int pidfd;
} Spawned;

/* Spawns with the given parameters (JSON) and fds; asserts success. */
static Spawned spawn_ok(int conn, const char *params, const int *fds, size_t n_fds) {
        _cleanup_free_ int *rfds = NULL;
        size_t n_rfds = 0;
        struct json_object *reply = test_call(conn, "io.nsbox.Sandbox.Spawn", params, fds, n_fds, &rfds, &n_rfds);
        Spawned s = {};

        cr_assert_null(test_json_get(reply, "error"), "Spawn failed: %s", json_object_to_json_string(reply));
        cr_assert_eq(n_rfds, 1, "expected the pidfd with the reply");
        cr_assert_eq(get_int(reply, "parameters.pidFileDescriptor"), 0);
        snprintf(s.id, sizeof s.id, "%s", test_json_string(reply, "parameters.id"));
        s.pid = (pid_t) get_int(reply, "parameters.pid");
        s.pidfd = rfds[0];
        json_object_put(reply);
        return s;
}

static struct json_object *wait_for(int conn, const char *id) {
        char p[128];

        snprintf(p, sizeof p, "{\"id\":\"%s\"}", id);
        return test_call(conn, "io.nsbox.Sandbox.Wait", p, NULL, 0, NULL, NULL);
}

/* Runs a shell command in a sandbox, returns what it wrote to stdout and its exit status. */
static int run_capture(int conn, const char *extra_params, const char *command, char *out, size_t out_size) {
        char params[4096];
        int pipefd[2];
        struct json_object *w;
        ssize_t n, total = 0;
        int status;

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        snprintf(params, sizeof params, "{\"argv\":[\"/bin/sh\",\"-c\",\"%s\"],\"stdout\":0%s%s}", command,
                 extra_params ? "," : "", extra_params ?: "");
        Spawned s = spawn_ok(conn, params, &pipefd[1], 1);
        close(pipefd[1]);
        while (total < (ssize_t) out_size - 1 && (n = read(pipefd[0], out + total, out_size - 1 - total)) > 0)
                total += n;
        out[total] = 0;
        close(pipefd[0]);

        w = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(w, "parameters.state"), "exited", "%s", json_object_to_json_string(w));
        status = (int) get_int(w, "parameters.exitCode");
        json_object_put(w);
        close(s.pidfd);
        return status;
}

static ino_t ns_inode(pid_t pid, const char *name) {
        char p[64];
        struct stat st;

        snprintf(p, sizeof p, "/proc/%d/ns/%s", (int) pid, name);
        cr_assert(stat(p, &st) == 0, "stat %s: %m", p);
        return st.st_ino;
}

Test(daemon, get_info) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r = test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL);
        struct json_object *ifaces = test_json_get(r, "parameters.interfaces");

        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        cr_assert(ifaces && json_object_array_length(ifaces) == 2);
        cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(ifaces, 1)), "io.nsbox.Sandbox");
        json_object_put(r);

        r = test_call(conn, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"io.nsbox.Sandbox\"}",
                      NULL, 0, NULL, NULL);
        cr_assert(strstr(test_json_string(r, "parameters.description"), "interface io.nsbox.Sandbox"));
        cr_assert(strstr(test_json_string(r, "parameters.description"), "method Spawn("));
        json_object_put(r);

        r = test_call(conn, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"com.example.Nope\"}",
                      NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InterfaceNotFound");
        json_object_put(r);

        r = test_call(conn, "io.nsbox.Sandbox.Frobnicate", NULL, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.MethodNotFound");
        json_object_put(r);
        test_disconnect(conn);
}

/* Sends text (one message, its NUL added) as it is and reads the reply. */
static struct json_object *raw_call(int conn, const char *text) {
        cr_assert(write(conn, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
        return test_read_reply(conn, NULL, NULL);
}

/* What clients nobody here wrote send: null parameters (Go's library), names in the wrong case. */
Test(daemon, generic_client_calls) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;

        r = raw_call(conn, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":null}");
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd", "%s", json_object_to_json_string(r));
        json_object_put(r);

        r = raw_call(conn, "{\"method\":\"io.nsbox.Sandbox.List\",\"parameters\":null}");
        cr_assert_not_null(test_json_get(r, "parameters.sandboxes"), "%s", json_object_to_json_string(r));
        json_object_put(r);

        /* Not a protocol error: answered, and the connection goes on. */
        static const char *const not_found[] = { "io.nsbox.Sandbox.list", "io.nsbox.Sandbox.", "Spawn", "",
                                                 "org.varlink.service.getInfo" };
        for (size_t i = 0; i < ELEMENTSOF(not_found); i++) {
                char text[256];

                snprintf(text, sizeof text, "{\"method\":\"%s\"}", not_found[i]);
                r = raw_call(conn, text);
                cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.MethodNotFound", "%s: %s",
                                 not_found[i], json_object_to_json_string(r));
                cr_assert_str_eq(test_json_string(r, "parameters.method"), not_found[i]);
                json_object_put(r);
        }

        r = raw_call(conn, "{\"method\":\"io.nsbox.sandbox.List\"}");
        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InterfaceNotFound");
        cr_assert_str_eq(test_json_string(r, "parameters.interface"), "io.nsbox.sandbox");
        json_object_put(r);

        /* GetInfo takes no parameters, like List: an unknown one is named. */
        r = raw_call(conn, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{\"verbose\":true}}");
        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InvalidParameter");
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "verbose");
        json_object_put(r);

        r = raw_call(conn, "{\"method\":\"io.nsbox.Sandbox.List\",\"parameters\":{\"verbose\":true}}");
        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InvalidParameter");
        json_object_put(r);

        r = raw_call(conn, "{\"method\":\"org.varlink.service.GetInfo\"}");
        cr_assert_null(test_json_get(r, "error"));
        json_object_put(r);
        test_disconnect(conn);
}

/* A client without fds: stdin as data, output captured, Spawn and Wait sent together. */
Test(daemon, capture_output_without_fds) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;

        /* Wait without an id before any Spawn names nothing. */
        r = raw_call(conn, "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{}}");
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "id", "%s", json_object_to_json_string(r));
        json_object_put(r);

        static const char calls[] =
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":{\"argv\":[\"sh\",\"-c\","
                "\"echo out; cat; printf 'bad\\\\377\\\\0x' >&2; exit 3\"],\"stdinData\":\"in\\n\",\"captureOutput\":true}}\0"
                "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{}}";
        cr_assert(write(conn, calls, sizeof calls) == (ssize_t) sizeof calls);

        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        r = test_read_reply(conn, &fds, &n_fds);
        cr_assert_not_null(test_json_string(r, "parameters.id"), "%s", json_object_to_json_string(r));
        close_many(fds, n_fds);
        json_object_put(r);

        r = test_read_reply(conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 3);
        cr_assert_str_eq(test_json_string(r, "parameters.stdout"), "out\nin\n");
        /* JSON strings are UTF-8: a byte that is not, and a NUL, become U+FFFD. */
        cr_assert_str_eq(test_json_string(r, "parameters.stderr"), "bad\xef\xbf\xbd\xef\xbf\xbdx");
        cr_assert_null(test_json_get(r, "parameters.truncated"));
        json_object_put(r);
        test_disconnect(conn);
}

/* Output past captureBytes is read and dropped, and said so; a flood never blocks the sandbox or the daemon. */
Test(daemon, capture_output_is_bounded) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;
        char params[512];

        snprintf(params, sizeof params,
                 "{\"argv\":[\"sh\",\"-c\",\"head -c 5000000 /dev/zero | tr '\\\\0' a; echo done >&2\"],"
                 "\"captureOutput\":true,\"captureBytes\":1000}");
        Spawned s = spawn_ok(conn, params, NULL, 0);
        r = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 0);
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.truncated")));
        size_t n_out = strlen(test_json_string(r, "parameters.stdout") ?: "");
        const char *err = test_json_string(r, "parameters.stderr");
        cr_assert_leq(n_out + (err ? strlen(err) : 0), 1000, "kept more than captureBytes");
        cr_assert_geq(n_out, 900);
        json_object_put(r);
        close(s.pidfd);

        /* The limits and the one source per stream. */
        static const struct {
                const char *params;
                const char *field;
        } bad[] = {
                { "{\"argv\":[\"true\"],\"captureOutput\":true,\"captureBytes\":1073741824}", "captureBytes" },
                { "{\"argv\":[\"true\"],\"captureBytes\":10}", "captureBytes" },
                { "{\"argv\":[\"true\"],\"captureOutput\":true,\"stdout\":0}", "captureOutput" },
                { "{\"argv\":[\"true\"],\"stdinData\":\"x\",\"stdin\":0}", "stdinData" },
        };
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r = test_call(conn, "io.nsbox.Sandbox.Spawn", bad[i].params, &devnull, 1, NULL, NULL);
                cr_assert_str_eq(test_json_string(r, "parameters.parameter"), bad[i].field, "%s: %s", bad[i].params,
                                 json_object_to_json_string(r));
                json_object_put(r);
        }
        close(devnull);

        /* stdinData larger than the limit (64 KiB by default). */
        _cleanup_free_ char *big = malloc(70000 + 64);
        int k = sprintf(big, "{\"argv\":[\"true\"],\"stdinData\":\"");
        memset(big + k, 'x', 70000);
        strcpy(big + k + 70000, "\"}");
        r = test_call(conn, "io.nsbox.Sandbox.Spawn", big, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "stdinData");
        json_object_put(r);
        test_disconnect(conn);
}

/* A Wait without "more" gets its reply whatever the output's bytes: 1 MiB of control characters (6 bytes
 * each in JSON) used to make a reply the connection could not queue, which closed it and lost the exit
 * status. Past what one reply carries the output is dropped and said so; plain text at the default
 * captureBytes is not cut. */
Test(daemon, capture_output_reply_fits_whatever_the_bytes) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;

        Spawned s = spawn_ok(conn,
                             "{\"argv\":[\"sh\",\"-c\",\"head -c 1048576 /dev/zero | tr '\\\\0' '\\\\1'; exit 7\"],"
                             "\"captureOutput\":true}",
                             NULL, 0);
        r = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.200s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 7);
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.truncated")));
        const char *out = test_json_string(r, "parameters.stdout");
        cr_assert_not_null(out);
        cr_assert_geq(strlen(out), 256 * 1024, "kept only %zu bytes", strlen(out));
        cr_assert_lt(strlen(out), 1048576);
        cr_assert_eq(strspn(out, "\1"), strlen(out));
        json_object_put(r);
        close(s.pidfd);

        s = spawn_ok(conn, "{\"argv\":[\"sh\",\"-c\",\"head -c 1048576 /dev/zero | tr '\\\\0' a\"],\"captureOutput\":true}",
                     NULL, 0);
        r = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.200s", json_object_to_json_string(r));
        cr_assert_eq(strlen(test_json_string(r, "parameters.stdout") ?: ""), 1048576);
        cr_assert_null(test_json_get(r, "parameters.truncated"));
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(conn);
}

/* Spawns a sandbox that writes n bytes of 'a' and exits; returns once the daemon has taken all it keeps. */
static Spawned spawn_writer_ended(int conn, unsigned n) {
        char params[256];

        snprintf(params, sizeof params,
                 "{\"argv\":[\"sh\",\"-c\",\"head -c %u /dev/zero | tr '\\\\0' a\"],\"captureOutput\":true}", n);
        Spawned s = spawn_ok(conn, params, NULL, 0);
        for (;;) {
                char p[128];
                snprintf(p, sizeof p, "{\"id\":\"%s\"}", s.id);
                struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Inspect", p, NULL, 0, NULL, NULL);
                bool running = streq(test_json_string(r, "parameters.sandbox.state") ?: "", "running");
                json_object_put(r);
                if (!running)
                        return s;
                struct pollfd pfd = { .fd = s.pidfd, .events = POLLIN };
                (void) poll(&pfd, 1, 100); /* until it exited, then until the daemon reaped it */
        }
}

/* What one user's sandboxes hold for replies is bounded together (capture-bytes-per-user), and what a
 * reply took is room again: every sandbox at the largest captureBytes would hold 1 GiB per user. */
Test(daemon, capture_output_is_bounded_per_user) {
        const char *args[] = { "--limit", "capture-bytes-per-user=1M", NULL };
        TestDaemon d;
        struct json_object *r;

        test_daemon_start(&d, args);
        int conn = test_daemon_connect(&d);

        Spawned a = spawn_writer_ended(conn, 800000);
        Spawned b = spawn_writer_ended(conn, 800000);
        r = wait_for(conn, b.id);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.200s", json_object_to_json_string(r));
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.truncated")), "the user's budget did not hold");
        cr_assert_leq(strlen(test_json_string(r, "parameters.stdout") ?: ""), 1048576 - 800000);
        json_object_put(r);

        r = wait_for(conn, a.id);
        cr_assert_eq(strlen(test_json_string(r, "parameters.stdout") ?: ""), 800000);
        cr_assert_null(test_json_get(r, "parameters.truncated"));
        json_object_put(r);

        /* Both replies gave their part back. */
        Spawned c = spawn_writer_ended(conn, 800000);
        r = wait_for(conn, c.id);
        cr_assert_eq(strlen(test_json_string(r, "parameters.stdout") ?: ""), 800000);
        cr_assert_null(test_json_get(r, "parameters.truncated"));
        json_object_put(r);

        close(a.pidfd);
        close(b.pidfd);
        close(c.pidfd);
        test_disconnect(conn);
        test_daemon_stop(&d);
}

/* A process that outlives the sandbox's top one and keeps the pipe open does not hold the final reply back;
 * streamed output arrives with "continues" replies. */
Test(daemon, capture_output_streams_and_never_waits_for_eof) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;
        char p[128];
        int pipefd[2];

        /* The left-behind sleep holds stdout; the reply comes when sh exits, not when the pipe closes. The test's
         * pipe on fd 3 tells when sh is about to exit. */
        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        Spawned s = spawn_ok(conn,
                             "{\"argv\":[\"sh\",\"-c\",\"echo one; read x <&3; echo two; sleep 1000 & echo $! >&2; exit 0\"],"
                             "\"captureOutput\":true,\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":0}]}",
                             &pipefd[0], 1);
        close(pipefd[0]);

        snprintf(p, sizeof p, "{\"id\":\"%s\"}", s.id);
        struct json_object *call = varlink_call_new("io.nsbox.Sandbox.Wait", json_tokener_parse(p), VARLINK_CALL_MORE);
        const char *text = json_object_to_json_string(call);
        cr_assert(write(conn, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
        json_object_put(call);

        /* The current state first, then "one" as it comes (maybe in the same reply). */
        char out[64] = "";
        for (;;) {
                r = test_read_reply(conn, NULL, NULL);
                cr_assert(json_object_get_boolean(test_json_get(r, "continues")), "%s", json_object_to_json_string(r));
                cr_assert_str_eq(test_json_string(r, "parameters.state"), "running");
                strncat(out, test_json_string(r, "parameters.stdout") ?: "", sizeof out - strlen(out) - 1);
                json_object_put(r);
                if (strcmp(out, "one\n") == 0)
                        break;
        }

        cr_assert(write(pipefd[1], "go\n", 3) == 3);
        close(pipefd[1]);

        /* "two" comes in a continues reply or with the final one; the final one does not wait for the sleep. */
        char err[64] = "";
        out[0] = 0;
        for (;;) {
                r = test_read_reply(conn, NULL, NULL);
                strncat(out, test_json_string(r, "parameters.stdout") ?: "", sizeof out - strlen(out) - 1);
                strncat(err, test_json_string(r, "parameters.stderr") ?: "", sizeof err - strlen(err) - 1);
                if (!test_json_get(r, "continues"))
                        break;
                json_object_put(r);
        }
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(out, "two\n");
        json_object_put(r);
        /* The sleep left behind said its pid on stderr. */
        cr_assert_gt(atoi(err), 1, "stderr: %s", err);
        kill(atoi(err), SIGKILL);
        close(s.pidfd);

        /* The daemon still serves. */
        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"));
        json_object_put(r);
        test_disconnect(conn);
}

/* Sends Wait with "more" for id without reading the replies. */
static void send_wait_more(int conn, const char *id) {
        char p[128];

        snprintf(p, sizeof p, "{\"id\":\"%s\"}", id);
        struct json_object *call = varlink_call_new("io.nsbox.Sandbox.Wait", json_tokener_parse(p), VARLINK_CALL_MORE);
        const char *text = json_object_to_json_string(call);
        cr_assert(write(conn, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
        json_object_put(call);
}

/* Output a streamed Wait delivered, counted in characters as JSON gave them (U+FFFD counts once). */
typedef struct StreamedOutput {
        size_t out, out_other; /* stdout: characters equal to out_char, and others */
        size_t err, err_other; /* stderr: U+FFFD, and others */
        bool truncated;
        size_t replies;
} StreamedOutput;

static void count_output(const char *s, char c, size_t *ret_match, size_t *ret_other) {
        for (; s && *s;)
                if (c && *s == c)
                        (*ret_match)++, s++;
                else if (!c && strncmp(s, "\xef\xbf\xbd", 3) == 0)
                        (*ret_match)++, s += 3;
                else
                        (*ret_other)++, s++;
}

/* Reads Wait replies until the final one (returned) and counts what they carried. */
static struct json_object *read_streamed(int conn, char out_char, StreamedOutput *ret) {
        for (;;) {
                struct json_object *r = test_read_reply(conn, NULL, NULL);

                cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
                count_output(test_json_string(r, "parameters.stdout"), out_char, &ret->out, &ret->out_other);
                count_output(test_json_string(r, "parameters.stderr"), 0, &ret->err, &ret->err_other);
                ret->truncated = ret->truncated || json_object_get_boolean(test_json_get(r, "parameters.truncated"));
                ret->replies++;
                if (!test_json_get(r, "continues"))
                        return r;
                json_object_put(r);
        }
}

/* The largest capture of the bytes that cost most as JSON text (control bytes take 6, invalid UTF-8 3, so
 * 16 MiB can make 96 MiB, far past a connection's 4 MiB writer bound): the exit status always arrives;
 * a final reply carries what fits and says "truncated", a streamed Wait gets every byte. */
Test(daemon, capture_output_worst_case_bytes_at_the_maximum, .timeout = 120) {
        static const char params[] =
                "{\"argv\":[\"sh\",\"-c\",\"head -c 12582912 /dev/zero | tr '\\\\0' '\\\\1'; "
                "head -c 4194304 /dev/zero | tr '\\\\0' '\\\\377' >&2; exit 7\"],"
                "\"captureOutput\":true,\"captureBytes\":16777216}";
        int conn = test_daemon_connect(&daemon_);
        StreamedOutput o = {};
        struct json_object *r;

        /* Without "more": one reply, its output cut to fit. */
        Spawned s = spawn_ok(conn, params, NULL, 0);
        r = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.300s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 7);
        cr_assert(json_object_get_boolean(test_json_get(r, "parameters.truncated")));
        count_output(test_json_string(r, "parameters.stdout"), '\1', &o.out, &o.out_other);
        count_output(test_json_string(r, "parameters.stderr"), 0, &o.err, &o.err_other);
        cr_assert_eq(o.out_other + o.err_other, 0);
        cr_assert_gt(o.out, 0);
        cr_assert_leq(o.out * 6 + o.err * 3, 3U << 20, "more output than the final reply's bound");
        json_object_put(r);
        close(s.pidfd);

        /* With "more", read as it comes: all of it, in pieces. */
        s = spawn_ok(conn, params, NULL, 0);
        send_wait_more(conn, s.id);
        o = (StreamedOutput) {};
        r = read_streamed(conn, '\1', &o);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.300s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 7);
        cr_assert_eq(o.out_other + o.err_other, 0);
        cr_assert_eq(o.out, 12582912U);
        cr_assert_eq(o.err, 4194304U);
        cr_assert(!o.truncated);
        cr_assert_gt(o.replies, 2);
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(conn);
}

typedef struct WriterBlocked {
        pid_t pid;
        int other;          /* a connection of another client, served meanwhile */
        unsigned long long wchar;
        unsigned still;     /* polls the writer made no progress at */
} WriterBlocked;

/* The bytes pid wrote so far (/proc/PID/io), or -1 once it is gone. */
static long long proc_wchar(pid_t pid) {
        char path[64], buf[512];
        long long n = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/io", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(buf, sizeof buf, f))
                if (sscanf(buf, "wchar: %lld", &n) == 1)
                        break;
        fclose(f);
        return n;
}

/* The writer sits in write() and made no progress over 20 polls, while the daemon answered another client
 * at each. */
static bool writer_blocked(void *userdata) {
        WriterBlocked *w = userdata;
        long long now = proc_wchar(w->pid);
        char path[64], sc[32] = "";
        FILE *f;

        cr_assert_geq(now, 0, "the writer is gone: its client was dropped");
        snprintf(path, sizeof path, "/proc/%d/syscall", (int) w->pid);
        f = fopen(path, "re");
        if (f) {
                if (!fgets(sc, sizeof sc, f))
                        sc[0] = 0;
                fclose(f);
        }
        json_object_put(test_call(w->other, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL));

        if ((unsigned long long) now == w->wchar && strncmp(sc, "1 ", 2) == 0)
                w->still++;
        else
                w->still = 0;
        w->wchar = (unsigned long long) now;
        return w->still >= 20;
}

/* A client that does not read its streamed Wait: the daemon stops reading the sandbox's output, which then
 * blocks on its own write; the daemon queues a bounded amount, serves everyone else, and the client gets
 * every kept byte and the exit status once it reads. */
Test(daemon, capture_output_backpressure_from_a_client_that_does_not_read, .timeout = 120) {
        int conn = test_daemon_connect(&daemon_);
        WriterBlocked w = { .other = test_daemon_connect(&daemon_) };
        StreamedOutput o = {};
        struct json_object *r;

        Spawned s = spawn_ok(conn,
                             "{\"argv\":[\"head\",\"-c\",\"67108864\",\"/dev/zero\"],\"captureOutput\":true,"
                             "\"captureBytes\":16777216}",
                             NULL, 0);
        w.pid = s.pid;
        send_wait_more(conn, s.id);

        cr_assert(test_wait_until(writer_blocked, &w), "the sandbox never blocked on its output");
        /* Of its 64 MiB it wrote the pipe's, the connection's backlog and one piece, and what the socket
         * buffers hold: not what the daemon would have read with nobody reading its replies. */
        cr_assert_lt(w.wchar, 8U << 20, "it wrote %llu bytes", w.wchar);

        /* Still running, not killed with a dropped connection; reading now brings everything kept. */
        r = read_streamed(conn, 0, &o);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%.300s", json_object_to_json_string(r));
        cr_assert_eq(get_int(r, "parameters.exitCode"), 0);
        /* NULs come as U+FFFD. */
        cr_assert_eq(o.out_other, 0);
        cr_assert_eq(o.out, 16777216U);
        cr_assert(o.truncated);
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(w.other);
        test_disconnect(conn);
}

/* cwdFallbacks: tried in order when cwd cannot be entered; cwd's own error when none can. */
Test(daemon, cwd_fallbacks) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r;
        char out[256];

        cr_assert_eq(run_capture(conn, "\"cwd\":\"/nowhere\",\"cwdFallbacks\":[\"/nothere\",\"/usr\",\"/tmp\"]", "pwd", out,
                                 sizeof out),
                     0);
        cr_assert_str_eq(out, "/usr\n");

        r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                      "{\"argv\":[\"true\"],\"cwd\":\"/nowhere\",\"cwdFallbacks\":[\"/nothere\"]}", NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.SpawnFailed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "cwd");
        cr_assert(strstr(test_json_string(r, "parameters.message"), "/nowhere"));
        json_object_put(r);

        r = test_call(conn, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"true\"],\"cwdFallbacks\":[\"/\",\"tmp\"]}", NULL, 0,
                      NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "cwdFallbacks[1]", "%s",
                         json_object_to_json_string(r));
        json_object_put(r);
        test_disconnect(conn);
}

/* Each protocol error closes its connection and is logged with what was wrong. */
Test(daemon, protocol_errors_logged_with_reason) {
        static const struct {
                const char *text;
                const char *reason;
        } cases[] = {
                { "{\"method\":\"io.nsbox.Sandbox.List\",\"bogus\":1}", "a member the Varlink envelope does not define" },
                { "{\"parameters\":{}}", "no \"method\"" },
                { "{\"method\":7}", "\"method\" is not a string" },
                { "{\"method\":\"io.nsbox.Sandbox.List\",\"parameters\":[]}", "\"parameters\" is neither an object nor null" },
                { "{\"method\":\"io.nsbox.Sandbox.List\",\"more\":\"yes\"}", "is not a boolean" },
                { "{\"method\":\"io.nsbox.Sandbox.List\",\"oneway\":true,\"more\":true}", "\"oneway\" together with" },
                { "{\"method\":\"io.nsbox.Sandbox.List\",\"method\":\"io.nsbox.Sandbox.List\"}", "a key repeated in one object" },
                { "[1]", "not a JSON object" },
                { "{\"method\":'x'}", "not valid JSON" },
                { "{\"method\":\"io.nsbox.Sandbox.List\"} x", "bytes after the JSON object" },
        };
        TestDaemon d;
        char log_path[128], *log = NULL;
        int saved_stderr, log_fd;
        size_t log_size = 0;
        FILE *f;

        /* The daemon inherits our stderr: point it at a file for as long as it starts. */
        snprintf(log_path, sizeof log_path, "/tmp/nsboxd-log-XXXXXX");
        log_fd = mkstemp(log_path);
        cr_assert(log_fd >= 0);
        saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        cr_assert(dup2(log_fd, STDERR_FILENO) == STDERR_FILENO);
        test_daemon_start(&d, NULL);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int conn = test_daemon_connect(&d);
                char c;

                cr_assert(write(conn, cases[i].text, strlen(cases[i].text) + 1) == (ssize_t) strlen(cases[i].text) + 1);
                cr_assert_eq(read(conn, &c, 1), 0, "%s: expected the daemon to hang up", cases[i].text);
                test_disconnect(conn);
        }

        /* A Spawn answered after all of them: the log has every line by now. */
        int conn = test_daemon_connect(&d);
        json_object_put(test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL));
        test_disconnect(conn);
        test_daemon_stop(&d);

        f = fdopen(log_fd, "r");
        cr_assert(f);
        rewind(f);
        cr_assert(getdelim(&log, &log_size, 0, f) > 0);
        fclose(f);
        unlink(log_path);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert(strstr(log, cases[i].reason), "no \"%s\" in the log for %s:\n%s", cases[i].reason,
                          cases[i].text, log);
        cr_assert(!strstr(log, "Bad message"), "a protocol error logged without its reason:\n%s", log);
        free(log);
}

/* For each namespace type: the sandbox's inode differs from ours when asked, equals ours when not. */
Test(daemon, each_namespace_type) {
        static const char *const types[][2] = {
                { "mount", "mnt" }, { "uts", "uts" }, { "ipc", "ipc" }, { "user", "user" },
                { "pid", "pid_for_children" }, { "net", "net" }, { "cgroup", "cgroup" }, { "time", "time_for_children" },
        };
        int conn = test_daemon_connect(&daemon_);

        for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                char params[512];
                const char *user = streq(types[t][0], "user") ? ",\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}]" : "";

                snprintf(params, sizeof params, "{\"argv\":[\"/bin/sleep\",\"30\"],\"namespaces\":[\"%s\"]%s}",
                         types[t][0], user);
                Spawned s = spawn_ok(conn, params, NULL, 0);

                for (size_t o = 0; o < ELEMENTSOF(types); o++) {
                        /* pid and time apply to children of the caller; compare the namespace the process is in. */
                        const char *name = streq(types[o][0], "pid") ? "pid" : streq(types[o][0], "time") ? "time" : types[o][1];
                        if (o == t)
                                cr_assert_neq(ns_inode(s.pid, name), ns_inode(getpid(), name),
                                              "%s namespace was asked but is shared", types[o][0]);
                        else
                                cr_assert_eq(ns_inode(s.pid, name), ns_inode(getpid(), name),
                                             "%s namespace was not asked (spawned with %s) but differs", types[o][0],
                                             types[t][0]);
                }

                cr_assert(syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, NULL, 0) == 0);
                struct json_object *w = wait_for(conn, s.id);
                cr_assert_str_eq(test_json_string(w, "parameters.state"), "killed");
                cr_assert_str_eq(test_json_string(w, "parameters.signal"), "SIGKILL");
                json_object_put(w);
                close(s.pidfd);
        }
        test_disconnect(conn);
}

/* The file's text, cut to size. */
static void read_file(const char *path, char *buf, size_t size) {
        _cleanup_free_ char *text = test_read_file(path);

        snprintf(buf, size, "%s", text);
}

/* The map files say exactly what was asked, several ranges each. */
Test(daemon, id_maps_read_back) {
        int conn = test_daemon_connect(&daemon_);
        char p[64], buf[512];
        int u0, u1, u2, g0, g1, g2, g3;

        Spawned s = spawn_ok(conn,
                             "{\"argv\":[\"/bin/sleep\",\"30\"],\"namespaces\":[\"user\"],"
                             "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":1000},"
                             "{\"containerID\":1000,\"hostID\":300000,\"size\":1}],"
                             "\"gidMappings\":[{\"containerID\":0,\"hostID\":200000,\"size\":65536}],"
                             "\"setgroups\":false}",
                             NULL, 0);

        snprintf(p, sizeof p, "/proc/%d/uid_map", (int) s.pid);
        read_file(p, buf, sizeof buf);
        cr_assert(sscanf(buf, "%d %d %d", &u0, &u1, &u2) == 3);
        cr_assert(u0 == 0 && u1 == 100000 && u2 == 1000, "uid_map: %s", buf);
        cr_assert(strstr(buf, "1000") && sscanf(strchr(buf, '\n') + 1, "%d %d %d", &g0, &g1, &g2) == 3);
        cr_assert(g0 == 1000 && g1 == 300000 && g2 == 1, "uid_map line 2: %s", buf);

        snprintf(p, sizeof p, "/proc/%d/gid_map", (int) s.pid);
        read_file(p, buf, sizeof buf);
        cr_assert(sscanf(buf, "%d %d %d", &g0, &g1, &g3) == 3);
        cr_assert(g0 == 0 && g1 == 200000 && g3 == 65536, "gid_map: %s", buf);

        snprintf(p, sizeof p, "/proc/%d/setgroups", (int) s.pid);
        read_file(p, buf, sizeof buf);
        cr_assert_str_eq(buf, "deny\n");

        /* Where the caller's own uid is not mapped, the sandbox runs as the namespace's root: host 100000. */
        snprintf(p, sizeof p, "/proc/%d/status", (int) s.pid);
        read_file(p, buf, sizeof buf);
        cr_assert(strstr(buf, "Uid:\t100000\t100000\t100000\t100000"), "%s", buf);

        syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, NULL, 0);
        json_object_put(wait_for(conn, s.id));
        close(s.pidfd);
        test_disconnect(conn);
}

Test(daemon, hostname_inside) {
        int conn = test_daemon_connect(&daemon_);
        char out[256];

        cr_assert_eq(run_capture(conn, "\"namespaces\":[\"uts\"],\"hostname\":\"sandbox-42\"", "hostname", out,
                                 sizeof out), 0);
        cr_assert_str_eq(out, "sandbox-42\n");
        test_disconnect(conn);
}

/* boottime and monotonic offsets really apply inside: /proc/uptime moves by the boottime offset. */
Test(daemon, time_offsets_inside) {
        int conn = test_daemon_connect(&daemon_);
        char out[256], host[256];
        double inside, outside;

        cr_assert_eq(run_capture(conn,
                                 "\"namespaces\":[\"time\"],\"timeOffsets\":{\"boottime\":{\"secs\":86400,\"nanosecs\":0},"
                                 "\"monotonic\":{\"secs\":3600,\"nanosecs\":0}}",
                                 "cat /proc/uptime", out, sizeof out), 0);
        read_file("/proc/uptime", host, sizeof host);
        cr_assert(sscanf(out, "%lf", &inside) == 1 && sscanf(host, "%lf", &outside) == 1);
        cr_assert(inside - outside > 86400 - 60 && inside - outside < 86400 + 60,
                  "uptime inside %f, outside %f", inside, outside);
        test_disconnect(conn);
}

Test(daemon, exit_codes_come_back) {
        static const int codes[] = { 0, 1, 3, 255 };
        int conn = test_daemon_connect(&daemon_);
        char out[16];

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                char cmd[32];
                snprintf(cmd, sizeof cmd, "exit %d", codes[i]);
                cr_assert_eq(run_capture(conn, NULL, cmd, out, sizeof out), codes[i]);
        }
        test_disconnect(conn);
}

/* The pidfd the client holds signals the right process and polls readable at exit. */
Test(daemon, pidfd_signals_and_polls) {
        int conn = test_daemon_connect(&daemon_);
        struct pollfd p;

        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"]}", NULL, 0);
        p = (struct pollfd) { .fd = s.pidfd, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 0), 0, "pidfd readable before exit");

        cr_assert(syscall(SYS_pidfd_send_signal, s.pidfd, SIGTERM, NULL, 0) == 0);
        cr_assert_eq(poll(&p, 1, 10000), 1, "pidfd not readable after SIGTERM");

        struct json_object *w = wait_for(conn, s.id);
        cr_assert_str_eq(test_json_string(w, "parameters.state"), "killed");
        cr_assert_str_eq(test_json_string(w, "parameters.signal"), "SIGTERM");
        json_object_put(w);
        close(s.pidfd);
        test_disconnect(conn);
}

Test(daemon, kill_method_and_wait_more) {
        int conn = test_daemon_connect(&daemon_);
        char p[128];

        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"],\"namespaces\":[\"pid\"]}", NULL, 0);
        snprintf(p, sizeof p, "{\"id\":\"%s\",\"signal\":15}", s.id);
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Kill", p, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);

        /* Wait with "more": the state now, then the exit. */
        struct json_object *call = varlink_call_new("io.nsbox.Sandbox.Wait", json_tokener_parse("{}"), VARLINK_CALL_MORE);
        json_object_object_add(json_object_object_get(call, "parameters"), "id", json_object_new_string(s.id));
        const char *text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        cr_assert(write(conn, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
        json_object_put(call);

        r = test_read_reply(conn, NULL, NULL);
        if (test_json_get(r, "continues")) {
                cr_assert(json_object_get_boolean(test_json_get(r, "continues")));
                json_object_put(r);
                r = test_read_reply(conn, NULL, NULL);
        }
        cr_assert_null(test_json_get(r, "continues"), "final reply must not continue: %s", json_object_to_json_string(r));
        /* With init as pid 1 the command's death by SIGTERM is reported as it happened. */
        const char *state = test_json_string(r, "parameters.state");
        cr_assert(streq(state, "killed") || streq(state, "exited"), "%s", json_object_to_json_string(r));
        if (streq(state, "killed"))
                cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGTERM");
        else
                cr_assert_eq(get_int(r, "parameters.exitCode"), 128 + SIGTERM);
        json_object_put(r);

        /* Its status was read: it is gone now. */
        snprintf(p, sizeof p, "{\"id\":\"%s\"}", s.id);
        r = test_call(conn, "io.nsbox.Sandbox.Inspect", p, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.NoSuchSandbox");
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(conn);
}

/* What init shows: its program (exe), comm and command line. */
static void init_looks(pid_t pid, char *exe, size_t exe_size, char *comm, size_t comm_size, char *cmdline,
                       size_t cmdline_size, ssize_t *ret_cmdline_len) {
        char path[64];
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, exe, exe_size - 1);
        exe[n > 0 ? n : 0] = '\0';
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        read_file(path, comm, comm_size);
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert(fd >= 0);
        *ret_cmdline_len = read(fd, cmdline, cmdline_size);
        close(fd);
}

/* The init says what it is in ps and `systemctl status`, not a second nsboxd with the daemon's command line;
 * and it is the small nsbox-init program (from the daemon's sealed memfd), not a copy of the daemon. It
 * becomes that once the command runs, which may be a moment after the spawn was answered. */
Test(daemon, init_names_itself) {
        static const char *const params[] = {
                "{\"argv\":[\"sleep\",\"30\"],\"namespaces\":[\"pid\"]}",
                "{\"argv\":[\"sleep\",\"30\"],\"init\":true}",
        };
        int conn = test_daemon_connect(&daemon_);

        for (size_t i = 0; i < ELEMENTSOF(params); i++) {
                Spawned s = spawn_ok(conn, params[i], NULL, 0);
                char comm[64], cmdline[4096], exe[4096];
                ssize_t n;

                for (int tries = 0; tries < 2000; tries++) {
                        init_looks(s.pid, exe, sizeof exe, comm, sizeof comm, cmdline, sizeof cmdline, &n);
                        if (strncmp(exe, "/memfd:nsbox-init", strlen("/memfd:nsbox-init")) == 0 &&
                            streq(comm, "nsbox-init\n") && n == (ssize_t) sizeof "nsbox-init")
                                break;
                        usleep(5000);
                }
                cr_assert(strncmp(exe, "/memfd:nsbox-init", strlen("/memfd:nsbox-init")) == 0, "init runs %s", exe);
                cr_assert_str_eq(comm, "nsbox-init\n", "%s", params[i]);
                cr_assert_eq(n, (ssize_t) sizeof "nsbox-init", "cmdline of %zd bytes", n);
                cr_assert(memcmp(cmdline, "nsbox-init", sizeof "nsbox-init") == 0, "%s", params[i]);

                cr_assert(syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, NULL, 0) == 0);
                json_object_put(wait_for(conn, s.id));
                close(s.pidfd);
        }
        test_disconnect(conn);
}

/*
 * Init dies of the signal that killed the command, or as pid 1, which cannot, says which (exit status 128 +
 * the signal, or the daemon reports it killed). Also of 34, glibc's SIGRTMIN, which the daemon blocks in
 * init and which musl, nsbox-init's libc where it is built against musl, keeps for itself; and of 32 and 33,
 * which glibc keeps for itself and nsbox-init forwards all the same (as pid 1 they were dropped before).
 */
/* SigBlk of /proc/PID/status: bit N-1 for signal N. */
static uint64_t blocked_signals(pid_t pid) {
        char path[64], line[256];
        unsigned long long mask = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "SigBlk: %llx", &mask) == 1)
                        break;
        fclose(f);
        return mask;
}

Test(daemon, init_ends_as_the_command_did) {
        static const char *const params[] = {
                "{\"argv\":[\"sleep\",\"30\"],\"init\":true}",
                "{\"argv\":[\"sleep\",\"30\"],\"namespaces\":[\"pid\"]}",
        };
        static const struct {
                int number;
                const char *name;
        } signals[] = { { SIGTERM, "SIGTERM" }, { SIGUSR1, "SIGUSR1" }, { 32, "32" }, { 33, "33" }, { 34, "SIGRTMIN" } };
        int conn = test_daemon_connect(&daemon_);

        for (size_t i = 0; i < ELEMENTSOF(params); i++)
                for (size_t j = 0; j < ELEMENTSOF(signals); j++) {
                        Spawned s = spawn_ok(conn, params[i], NULL, 0);
                        char exe[4096] = "", comm[64], cmdline[4096], p[128];
                        struct json_object *r;
                        ssize_t n;

                        /* The program, not the fork of the daemon init is until the command runs, once it
                         * blocked 32 and 33 too (right after it read its arguments). */
                        for (int tries = 0; tries < 2000; tries++) {
                                init_looks(s.pid, exe, sizeof exe, comm, sizeof comm, cmdline, sizeof cmdline, &n);
                                if (strncmp(exe, "/memfd:nsbox-init", strlen("/memfd:nsbox-init")) == 0 &&
                                    (blocked_signals(s.pid) & (UINT64_C(3) << 31)) == (UINT64_C(3) << 31))
                                        break;
                                usleep(5000);
                        }
                        cr_assert(strncmp(exe, "/memfd:nsbox-init", strlen("/memfd:nsbox-init")) == 0, "init runs %s",
                                  exe);

                        snprintf(p, sizeof p, "{\"id\":\"%s\",\"signal\":%d}", s.id, signals[j].number);
                        r = test_call(conn, "io.nsbox.Sandbox.Kill", p, NULL, 0, NULL, NULL);
                        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
                        json_object_put(r);

                        r = wait_for(conn, s.id);
                        if (i == 0 || streq(test_json_string(r, "parameters.state") ?: "", "killed")) {
                                cr_assert_str_eq(test_json_string(r, "parameters.state") ?: "", "killed", "%s %s: %s",
                                                 params[i], signals[j].name, json_object_to_json_string(r));
                                cr_assert_str_eq(test_json_string(r, "parameters.signal") ?: "", signals[j].name, "%s: %s",
                                                 params[i], json_object_to_json_string(r));
                        } else {
                                cr_assert_str_eq(test_json_string(r, "parameters.state") ?: "", "exited", "%s",
                                                 json_object_to_json_string(r));
                                cr_assert_eq(get_int(r, "parameters.exitCode"), 128 + signals[j].number, "%s %s: %s",
                                             params[i], signals[j].name, json_object_to_json_string(r));
                        }
                        json_object_put(r);
                        close(s.pidfd);
                }
        test_disconnect(conn);
}

/* A stream is read once: two "file" entries on one open file are refused, naming the second, also as two fds. */
Test(daemon, file_entries_read_a_stream_once) {
        static const char entries[] =
                "{\"argv\":[\"true\"],\"namespaces\":[\"mount\"],\"mounts\":["
                "{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/a\"},"
                "{\"type\":\"tmpfs\",\"destination\":\"/t\"},"
                "{\"type\":\"file\",\"sourceFileDescriptor\":%d,\"destination\":\"/b\"}]}";
        int conn = test_daemon_connect(&daemon_), a[2], b[2], fds[2];
        struct json_object *r;
        char params[512];

        /* Both pipes are at EOF: the files are empty, and nothing waits for a writer. */
        cr_assert(pipe2(a, O_CLOEXEC) == 0 && pipe2(b, O_CLOEXEC) == 0);
        close(a[1]);
        close(b[1]);

        /* the same index twice, and two indexes of one pipe */
        fds[0] = a[0];
        fds[1] = fcntl(a[0], F_DUPFD_CLOEXEC, 3);
        cr_assert_geq(fds[1], 0);
        for (int second = 0; second < 2; second++) {
                snprintf(params, sizeof params, entries, second);
                r = test_call(conn, "io.nsbox.Sandbox.Spawn", params, fds, 2, NULL, NULL);
                cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InvalidParameter", "%s",
                                 json_object_to_json_string(r));
                cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "mounts[2].sourceFileDescriptor");
                json_object_put(r);
        }
        close(fds[1]);

        /* two pipes are two streams: the tree is built, and only then is there no "true" to run in it */
        fds[1] = b[0];
        snprintf(params, sizeof params, entries, 1);
        r = test_call(conn, "io.nsbox.Sandbox.Spawn", params, fds, 2, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "execve", "%s", json_object_to_json_string(r));
        json_object_put(r);

        close(a[0]);
        close(b[0]);
        test_disconnect(conn);
}

Test(daemon, exec_failure_is_spawn_failed) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/no/such\"]}", NULL, 0, NULL,
                                          NULL);

        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.SpawnFailed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "execve");
        cr_assert_eq(get_int(r, "parameters.errno"), 2);
        cr_assert(strstr(test_json_string(r, "parameters.message"), "/no/such"));
        json_object_put(r);

        /* Nothing was left behind, and the daemon still serves. */
        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_eq(json_object_array_length(test_json_get(r, "parameters.sandboxes")), 0);
        json_object_put(r);
        test_disconnect(conn);
}

/* The id of the caller's only sandbox, once List shows it, which must be in state. */
static void only_sandbox(int conn, char *id, size_t size, const char *state) {
        struct json_object *r, *list, *sb;

        /* The call that makes it may still be on its way through another connection. */
        for (unsigned i = 0;; i++) {
                r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
                list = test_json_get(r, "parameters.sandboxes");
                cr_assert(list, "%s", json_object_to_json_string(r));
                if (json_object_array_length(list) > 0)
                        break;
                json_object_put(r);
                cr_assert_lt(i, 10000, "the sandbox never showed up");
                (void) usleep(1000);
        }
        cr_assert_eq(json_object_array_length(list), 1, "%s", json_object_to_json_string(r));
        sb = json_object_array_get_idx(list, 0);
        cr_assert_str_eq(test_json_string(sb, "state"), state);
        snprintf(id, size, "%s", test_json_string(sb, "id"));
        json_object_put(r);
}

/*
 * A sandbox killed before it reached execve() (here: while it waits for a
 * "file" entry's pipe) never ran its command: Spawn answers SpawnFailed with
 * how it died, not a pid of a process that is gone.
 */
Test(daemon, killed_before_exec_is_spawn_failed) {
        int conn = test_daemon_connect(&daemon_), other = test_daemon_connect(&daemon_), pipefd[2];
        struct json_object *r;
        char id[80], params[128];

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        test_send(conn, "io.nsbox.Sandbox.Spawn",
                  "{\"argv\":[\"true\"],\"namespaces\":[\"mount\"],"
                  "\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/f\"}]}",
                  &pipefd[0], 1);
        /* The child keeps reading the pipe, whose writer is still open: the spawn stays "starting". */
        only_sandbox(other, id, sizeof id, "starting");

        snprintf(params, sizeof params, "{\"id\":\"%s\",\"signal\":9}", id);
        r = test_call(other, "io.nsbox.Sandbox.Kill", params, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);

        r = test_read_reply(conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.SpawnFailed", "%s",
                         json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "killed");
        cr_assert_str_eq(test_json_string(r, "parameters.message"), "killed by SIGKILL before execve: Operation canceled");
        json_object_put(r);

        /* Nothing is left of it, and the next spawn on the same connection works. */
        r = test_call(other, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_eq(json_object_array_length(test_json_get(r, "parameters.sandboxes")), 0);
        json_object_put(r);
        Spawned s = spawn_ok(conn, "{\"argv\":[\"true\"]}", NULL, 0);
        close(s.pidfd);

        close(pipefd[0]);
        close(pipefd[1]);
        test_disconnect(other);
        test_disconnect(conn);
}

Test(daemon, invalid_parameter_names_the_field) {
        int conn = test_daemon_connect(&daemon_);
        struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                                          "{\"argv\":[\"true\"],\"namespaces\":[\"user\"],"
                                          "\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1},"
                                          "{\"containerID\":1,\"hostID\":1,\"size\":-1}]}",
                                          NULL, 0, NULL, NULL);

        cr_assert_str_eq(test_json_string(r, "error"), "org.varlink.service.InvalidParameter");
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "uidMappings[1].size");
        json_object_put(r);

        r = test_call(conn, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"true\"],\"stdin\":3}", NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.parameter"), "stdin");
        json_object_put(r);
        test_disconnect(conn);
}

/* A protocol error drops that connection only. */
Test(daemon, protocol_error_closes_only_that_connection) {
        int bad = test_daemon_connect(&daemon_), good = test_daemon_connect(&daemon_);
        static const char junk[] = "{\"method\":\"io.nsbox.Sandbox.List\",\"bogus\":1}";
        char c;

        cr_assert(write(bad, junk, sizeof junk) == sizeof junk);
        cr_assert_eq(read(bad, &c, 1), 0, "expected the daemon to hang up");
        test_disconnect(bad);

        struct json_object *r = test_call(good, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"));
        json_object_put(r);
        test_disconnect(good);
}

/* Pipelined calls are answered in order. */
Test(daemon, pipelined_calls_in_order) {
        int conn = test_daemon_connect(&daemon_);
        char buf[4096];
        size_t n = 0;

        for (int i = 0; i < 5; i++) {
                int l = snprintf(buf + n, sizeof buf - n,
                                 "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":{\"argv\":[\"/bin/sh\",\"-c\",\"exit %d\"],\"name\":\"p%d\"}}",
                                 i, i);
                n += l + 1;
        }
        cr_assert(write(conn, buf, n) == (ssize_t) n);

        /* All five replies first: anything sent now would be answered after them. */
        char ids[5][80];
        for (int i = 0; i < 5; i++) {
                _cleanup_free_ int *fds = NULL;
                size_t n_fds = 0;
                struct json_object *r = test_read_reply(conn, &fds, &n_fds);
                cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
                cr_assert_eq(n_fds, 1);
                snprintf(ids[i], sizeof ids[i], "%s", test_json_string(r, "parameters.id"));
                json_object_put(r);
                close_many(fds, n_fds);
        }

        for (int i = 0; i < 5; i++) {
                char p[128], name[8];
                snprintf(p, sizeof p, "{\"id\":\"%s\"}", ids[i]);
                snprintf(name, sizeof name, "p%d", i);
                struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Inspect", p, NULL, 0, NULL, NULL);
                cr_assert_str_eq(test_json_string(r, "parameters.sandbox.name"), name, "%s", json_object_to_json_string(r));
                json_object_put(r);

                r = wait_for(conn, ids[i]);
                cr_assert_eq(get_int(r, "parameters.exitCode"), i);
                json_object_put(r);
        }
        test_disconnect(conn);
}

/* Closing the connection that created a sandbox kills it, unless keepAlive. */
Test(daemon, connection_close_kills_unless_keep_alive) {
        int conn = test_daemon_connect(&daemon_), other;
        Spawned plain = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"]}", NULL, 0);
        Spawned kept = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"],\"keepAlive\":true}", NULL, 0);
        struct pollfd p = { .fd = plain.pidfd, .events = POLLIN };

        test_disconnect(conn);
        cr_assert_eq(poll(&p, 1, 10000), 1, "sandbox survived its connection");

        p.fd = kept.pidfd;
        cr_assert_eq(poll(&p, 1, 200), 0, "keepAlive sandbox was killed");

        /* Another connection of the same owner can still kill and wait on it. */
        other = test_daemon_connect(&daemon_);
        char params[128];
        snprintf(params, sizeof params, "{\"id\":\"%s\",\"signal\":9}", kept.id);
        json_object_put(test_call(other, "io.nsbox.Sandbox.Kill", params, NULL, 0, NULL, NULL));
        struct json_object *w = wait_for(other, kept.id);
        cr_assert_str_eq(test_json_string(w, "parameters.signal"), "SIGKILL");
        json_object_put(w);
        close(plain.pidfd);
        close(kept.pidfd);
        test_disconnect(other);
}

/* Hundreds of spawns later the daemon holds no extra fd and no zombie. */
Test(daemon, no_leaks_after_many_spawns, .timeout = 180) {
        int conn = test_daemon_connect(&daemon_);
        int fds_before, fds_after;

        /* A sandbox first, so the daemon has accepted this connection and holds the caller's user cgroup,
         * which it keeps for the next sandbox, before counting. */
        Spawned first = spawn_ok(conn, "{\"argv\":[\"/bin/true\"]}", NULL, 0);
        json_object_put(wait_for(conn, first.id));
        close(first.pidfd);
        json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        fds_before = test_daemon_count_fds(&daemon_);

        for (int i = 0; i < 300; i++) {
                const char *params = i % 3 == 0 ? "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\",\"pid\",\"mount\",\"uts\",\"ipc\",\"net\"]}"
                                   : i % 3 == 1 ? "{\"argv\":[\"/no/such\"]}"
                                                : "{\"argv\":[\"/bin/false\"],\"namespaces\":[\"pid\"]}";
                _cleanup_free_ int *fds = NULL;
                size_t n_fds = 0;
                struct json_object *r = test_call(conn, "io.nsbox.Sandbox.Spawn", params, NULL, 0, &fds, &n_fds);
                if (!test_json_get(r, "error")) {
                        json_object_put(wait_for(conn, test_json_string(r, "parameters.id")));
                        close_many(fds, n_fds);
                }
                json_object_put(r);
        }

        /* And one after, so handles closed after the last reply have run their close callbacks; a spawn
         * worker may still be freeing the last plan's fds, so a few rounds are allowed for that. */
        for (int i = 0; i < 250; i++) {
                json_object_put(test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
                fds_after = test_daemon_count_fds(&daemon_);
                if (fds_after == fds_before)
                        break;
                usleep(20 * 1000);
        }
        cr_assert_eq(fds_after, fds_before, "daemon fds: %d before, %d after", fds_before, fds_after);
        cr_assert_eq(test_daemon_count_zombies(&daemon_), 0);
        test_disconnect(conn);
}

/* Started by the service manager: the socket comes from LISTEN_FDS, as systemd-socket-activate passes it. */
Test(activation, systemd_socket_activate, .timeout = 60) {
        char dir[] = "/tmp/nsboxd-activate-XXXXXX";
        TestDaemon d = {};
        char *sock = d.socket_path;
        pid_t pid;
        int status;

        cr_assert(mkdtemp(dir));
        snprintf(d.socket_path, sizeof d.socket_path, "%s/nsbox.sock", dir);

        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                execlp("systemd-socket-activate", "systemd-socket-activate", "-l", sock, getenv("NSBOXD"), NULL);
                _exit(127);
        }

        /* Bounded generously: on a loaded machine starting systemd-socket-activate alone took seconds. */
        for (int i = 0; i < 600 && access(sock, F_OK) < 0; i++)
                usleep(50 * 1000);
        cr_assert(access(sock, F_OK) == 0, "systemd-socket-activate did not create %s", sock);

        int conn = test_daemon_connect(&d);
        struct json_object *r = test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        json_object_put(r);

        char out[64];
        cr_assert_eq(run_capture(conn, "\"namespaces\":[\"uts\"],\"hostname\":\"activated\"", "hostname", out,
                                 sizeof out), 0);
        cr_assert_str_eq(out, "activated\n");
        test_disconnect(conn);

        /* systemd-socket-activate execs the daemon in place: SIGTERM reaches nsboxd itself. */
        cr_assert(kill(pid, SIGTERM) == 0);
        cr_assert(waitpid(pid, &status, 0) == pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
        unlink(sock);
        rmdir(dir);
}

/* Socket activation announced but nothing passed: a clear failure, not a silent default socket. */
Test(activation, no_socket_passed_fails) {
        int status;
        pid_t pid = fork();

        cr_assert(pid >= 0);
        if (pid == 0) {
                char p[32];
                snprintf(p, sizeof p, "%d", (int) getpid());
                setenv("LISTEN_PID", p, 1);
                setenv("LISTEN_FDS", "0", 1);
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, STDERR_FILENO);
                execl(getenv("NSBOXD"), "nsboxd", NULL);
                _exit(127);
        }
        cr_assert(waitpid(pid, &status, 0) == pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
}

/* The daemon raises its fd limit for itself; sandboxes get the one it was started with. */
Test(limits, fd_limit_raised_for_daemon_not_sandboxes) {
        struct rlimit ours;
        char p[64], buf[4096], out[64], expected[64];
        unsigned long long soft = 0, hard = 0;
        TestDaemon d;

        /* Start it with a soft limit below the hard one, as a login session would. */
        cr_assert(getrlimit(RLIMIT_NOFILE, &ours) == 0);
        if (ours.rlim_max > 1024) {
                ours.rlim_cur = 1024;
                cr_assert(setrlimit(RLIMIT_NOFILE, &ours) == 0);
        }
        test_daemon_start(&d, NULL);
        int conn = test_daemon_connect(&d);

        snprintf(p, sizeof p, "/proc/%d/limits", (int) d.pid);
        read_file(p, buf, sizeof buf);
        cr_assert(sscanf(strstr(buf, "Max open files"), "Max open files %llu %llu", &soft, &hard) == 2);
        cr_assert_eq(soft, hard, "daemon soft fd limit %llu below its hard limit %llu", soft, hard);

        cr_assert_eq(run_capture(conn, NULL, "ulimit -Sn", out, sizeof out), 0);
        snprintf(expected, sizeof expected, "%llu\n", (unsigned long long) ours.rlim_cur);
        cr_assert_str_eq(out, expected);
        test_disconnect(conn);
        test_daemon_stop(&d);
}

/*
 * A spawn held before its exec (a blockFileDescriptor nobody writes) fails as "timeout", with init and a
 * user namespace too: the spawn worker's own kill of what still runs on its memory comes only after the
 * daemon's deadline answered, so the daemon never reads that kill as "killed", or an exec'd command's end
 * as success.
 */
Test(limits, a_blocked_spawn_fails_as_timeout_not_killed) {
        static const char *const args[] = { "--limit", "spawn-timeout=1", NULL };
        static const char *const requests[] = {
                "{\"argv\":[\"/bin/true\"],\"blockFileDescriptor\":0}",
                "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\"],\"init\":true,\"blockFileDescriptor\":0}",
                "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"user\",\"pid\"],\"blockFileDescriptor\":0}",
        };
        TestDaemon d;
        int conn;

        test_daemon_start(&d, args);
        conn = test_daemon_connect(&d);
        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                int pipefd[2];
                struct json_object *r;

                cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
                r = test_call(conn, "io.nsbox.Sandbox.Spawn", requests[i], &pipefd[0], 1, NULL, NULL);
                cr_assert_str_eq(test_json_string(r, "error") ?: "", "io.nsbox.Sandbox.SpawnFailed", "%s: %s",
                                 requests[i], json_object_to_json_string(r));
                cr_assert_str_eq(test_json_string(r, "parameters.stage") ?: "", "timeout", "%s: %s", requests[i],
                                 json_object_to_json_string(r));
                json_object_put(r);
                close(pipefd[0]);
                close(pipefd[1]);
        }
        test_disconnect(conn);
        test_daemon_stop(&d);
}

/* A spawn that never reaches execve (its file mount reads a pipe nobody closes) is ended
 * after spawn-timeout, and the loop keeps serving others meanwhile. */
Test(limits, spawn_timeout_ends_stuck_spawns) {
        static const char *const args[] = { "--limit", "spawn-timeout=1", NULL };
        int pipefd[2], conn, other;
        TestDaemon d;

        test_daemon_start(&d, args);
        conn = test_daemon_connect(&d);
        other = test_daemon_connect(&d);
        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);

        struct json_object *call = varlink_call_new("io.nsbox.Sandbox.Spawn", json_tokener_parse(
                "{\"argv\":[\"/bin/true\"],\"namespaces\":[\"mount\"],"
                "\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/stuck\"}]}"), 0);
        cr_assert(call);
        /* test_call() would block for the reply: send by hand, then prove the daemon still answers. */
        const char *text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        test_send_with_fds(conn, text, strlen(text) + 1, &pipefd[0], 1);
        json_object_put(call);

        struct json_object *r = test_call(other, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        json_object_put(r);

        r = test_read_reply(conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.SpawnFailed", "%s", json_object_to_json_string(r));
        cr_assert_str_eq(test_json_string(r, "parameters.stage"), "timeout");
        cr_assert_eq(get_int(r, "parameters.errno"), ETIMEDOUT);
        json_object_put(r);

        /* Nothing left: not listed, and the killed child is reaped (the reply does not wait for that). */
        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_eq(json_object_array_length(test_json_get(r, "parameters.sandboxes")), 0);
        json_object_put(r);
        for (int i = 0; i < 100 && test_daemon_count_zombies(&d) > 0; i++)
                usleep(50 * 1000);
        cr_assert_eq(test_daemon_count_zombies(&d), 0, "the timed-out child was not reaped within 5 s");

        close(pipefd[0]);
        close(pipefd[1]);
        test_disconnect(conn);
        test_disconnect(other);
        test_daemon_stop(&d);
}

static void send_raw(int fd, const char *text) {
        cr_assert(write(fd, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
}

/* Several connections wait on one sandbox, each with another call pipelined behind: when it exits every
 * waiter gets its status once, a second Wait on it finds it consumed, and a Wait on another sandbox keeps
 * waiting (a reply starting a connection's next call must not disturb the waiters still to be answered). */
Test(daemon, waiters_with_pipelined_calls) {
        int c0 = test_daemon_connect(&daemon_), w1 = test_daemon_connect(&daemon_), w2 = test_daemon_connect(&daemon_);
        Spawned s1 = spawn_ok(c0, "{\"argv\":[\"sleep\",\"1\"]}", NULL, 0);
        Spawned s2 = spawn_ok(c0, "{\"argv\":[\"sleep\",\"60\"]}", NULL, 0);
        char buf[512];
        struct json_object *r;
        struct pollfd p;

        snprintf(buf, sizeof buf, "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{\"id\":\"%s\"}}", s1.id);
        send_raw(w2, buf);
        send_raw(w1, buf);
        send_raw(w1, buf);
        snprintf(buf, sizeof buf, "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{\"id\":\"%s\"}}", s2.id);
        send_raw(w2, buf);

        r = test_read_reply(w1, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%s", json_object_to_json_string(r));
        json_object_put(r);
        r = test_read_reply(w1, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "error"), "io.nsbox.Sandbox.NoSuchSandbox", "%s",
                         json_object_to_json_string(r));
        json_object_put(r);

        r = test_read_reply(w2, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.state"), "exited", "%s", json_object_to_json_string(r));
        json_object_put(r);
        p = (struct pollfd) { .fd = w2, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 300), 0, "the Wait on a running sandbox was answered");
        test_disconnect(w2);

        /* The abandoned waiter is gone from the running sandbox: its exit is handled cleanly. */
        cr_assert(syscall(SYS_pidfd_send_signal, s2.pidfd, SIGKILL, NULL, 0) == 0);
        r = wait_for(c0, s2.id);
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGKILL");
        json_object_put(r);

        close(s1.pidfd);
        close(s2.pidfd);
        test_disconnect(w1);
        test_disconnect(c0);
}

static const char *const stuck_spawn =
        "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":{\"argv\":[\"/bin/true\"],\"namespaces\":[\"mount\"],"
        "\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/stuck\"}]}}";

/* Sends a Spawn that cannot reach execve while *pipe_write stays open. */
static void send_stuck_spawn(int conn, int pipefd[2]) {
        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        test_send_with_fds(conn, stuck_spawn, strlen(stuck_spawn) + 1, &pipefd[0], 1);
}

static TestDaemon quota_daemon;

/* The stuck spawn's child exists: the daemon took that Spawn, which is in flight from then on. */
static bool quota_daemon_has_child(void *userdata) {
        return test_daemon_count_children(&quota_daemon) > 0;
}

static bool quota_daemon_has_no_child(void *userdata) {
        return test_daemon_count_children(&quota_daemon) == 0;
}

/* As nobody, in a user namespace of its own: the limits it asks for, which it may set for itself (lower
 * than the daemon's own), hold whether or not the daemon may set them for another uid (CAP_SYS_RESOURCE). */
static int rlimits_as_nobody(void *arg) {
        int conn = test_daemon_connect(arg), pipefd[2], ok;
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        char out[64] = "";
        ssize_t n = 0;
        struct json_object *r;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return 2;
        r = test_call(conn, "io.nsbox.Sandbox.Spawn",
                      "{\"argv\":[\"/bin/sh\",\"-c\",\"ulimit -Sn; ulimit -Hn\"],\"namespaces\":[\"user\"],"
                      "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":77,\"hard\":88}],\"stdout\":0}",
                      &pipefd[1], 1, &fds, &n_fds);
        close(pipefd[1]);
        ok = !test_json_get(r, "error");
        if (!ok)
                fprintf(stderr, "%s\n", json_object_to_json_string(r));
        json_object_put(r);
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        /* To EOF: the shell writes each line on its own. */
        for (size_t total = 0; ok && total < sizeof out - 1; total += (size_t) n) {
                n = read(pipefd[0], out + total, sizeof out - 1 - total);
                if (n <= 0)
                        break;
        }
        close(pipefd[0]);
        test_disconnect(conn);
        if (ok && strcmp(out, "77\n88\n") != 0)
                fprintf(stderr, "ulimit said: %s\n", out);
        return ok && strcmp(out, "77\n88\n") == 0 ? 0 : 1;
}

Test(limits, a_users_rlimits_hold_in_its_user_namespace) {
        test_daemon_start(&quota_daemon, NULL);
        cr_assert_eq(test_run_as(65534, 65534, rlimits_as_nobody, &quota_daemon), 0,
                     "a user's rlimits in a user namespace of its own were refused or not in force");
        test_daemon_stop(&quota_daemon);
}

/* As nobody: one stuck spawn takes its only pending slot, the next is refused by name. */
static int pending_quota_as_nobody(void *arg) {
        int stuck = test_daemon_connect(&quota_daemon), conn = test_daemon_connect(&quota_daemon), pipefd[2];
        struct json_object *r;
        int ok;

        send_stuck_spawn(stuck, pipefd);
        if (!test_wait_until(quota_daemon_has_child, NULL))
                return 2;
        r = test_call(conn, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/bin/true\"]}", NULL, 0, NULL, NULL);
        ok = streq_ptr(test_json_string(r, "error"), "io.nsbox.Sandbox.QuotaExceeded") &&
             streq_ptr(test_json_string(r, "parameters.limit"), "pending-spawns-per-user");
        json_object_put(r);
        return ok ? 0 : 1;
}

Test(limits, pending_spawns_per_user) {
        static const char *const args[] = { "--limit", "pending-spawns-per-user=1", NULL };
        int conn, pipefd[2];

        test_daemon_start(&quota_daemon, args);
        cr_assert_eq(test_run_as(65534, 65534, pending_quota_as_nobody, NULL), 0,
                     "a second pending spawn of the same user was not refused with pending-spawns-per-user");
        /* nobody's connections are closed: its stuck spawn ends with them */
        cr_assert(test_wait_until(quota_daemon_has_no_child, NULL), "nobody's stuck spawn outlived its connection");

        /* Root is not limited per user: with a stuck spawn of its own, the next one still goes through. */
        conn = test_daemon_connect(&quota_daemon);
        int other = test_daemon_connect(&quota_daemon);
        send_stuck_spawn(conn, pipefd);
        cr_assert(test_wait_until(quota_daemon_has_child, NULL), "the stuck spawn never started");
        struct json_object *r = test_call(other, "io.nsbox.Sandbox.Spawn", "{\"argv\":[\"/bin/true\"]}", NULL, 0, NULL, NULL);
        cr_assert_null(test_json_get(r, "error"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        close(pipefd[0]);
        close(pipefd[1]);
        test_disconnect(conn);
        test_disconnect(other);
        test_daemon_stop(&quota_daemon);
}

/* Through the daemon: a minimal root from a read-only /usr and a few links shows only what was given,
 * /usr is read-only, /tmp is writable, and the host's mount table is the same afterwards. */
Test(daemon, minimal_root_shows_only_what_was_given) {
        int conn = test_daemon_connect(&daemon_);
        static char before[65536], after[65536];
        char out[512];

        read_file("/proc/self/mountinfo", before, sizeof before);
        cr_assert_eq(run_capture(conn,
                                 "\"namespaces\":[\"mount\",\"pid\"],\"mounts\":["
                                 "{\"type\":\"bind\",\"source\":\"/usr\",\"destination\":\"/usr\",\"options\":[\"ro\"]},"
                                 "{\"type\":\"symlink\",\"source\":\"usr/bin\",\"destination\":\"/bin\"},"
                                 "{\"type\":\"symlink\",\"source\":\"usr/lib\",\"destination\":\"/lib\"},"
                                 "{\"type\":\"symlink\",\"source\":\"usr/lib64\",\"destination\":\"/lib64\"},"
                                 "{\"type\":\"proc\",\"destination\":\"/proc\"},"
                                 "{\"type\":\"dev\",\"destination\":\"/dev\"},"
                                 "{\"type\":\"tmpfs\",\"destination\":\"/tmp\"}]",
                                 "echo $(ls /); touch /usr/x 2>/dev/null && echo usr-writable; "
                                 "touch /tmp/x && echo tmp-ok; echo /proc/[0-9]*; test -e /dev/vda || echo no-vda",
                                 out, sizeof out), 0);
        /* The glob is expanded by the shell itself: pid 1 is init, pid 2 the shell, nothing else. */
        cr_assert_str_eq(out, "bin dev lib lib64 proc tmp usr\ntmp-ok\n/proc/1 /proc/2\nno-vda\n");
        read_file("/proc/self/mountinfo", after, sizeof after);
        cr_assert_str_eq(before, after, "the host's mount table changed");
        test_disconnect(conn);
}

/* Stopping the daemon (without a service manager's fd store to hand them to) kills and reaps its sandboxes,
 * keepAlive ones included. */
Test(limits, shutdown_kills_sandboxes) {
        TestDaemon d;
        int conn;
        struct pollfd p;

        test_daemon_start(&d, NULL);
        conn = test_daemon_connect(&d);
        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"],\"keepAlive\":true}", NULL, 0);
        test_disconnect(conn);
        /* Asserts a clean exit, and with the sandboxes killed that no cgroup is left. */
        test_daemon_stop(&d);

        p = (struct pollfd) { .fd = s.pidfd, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 5000), 1, "a sandbox outlived the daemon");
        close(s.pidfd);
}

static TestDaemon budget_daemon;

/* Opens a connection and sends the first byte of a message with n fds, never the rest. */
static int connect_and_stall(int n) {
        int conn = test_daemon_connect(&budget_daemon), fds[96];

        cr_assert(n <= (int) ELEMENTSOF(fds));
        for (int i = 0; i < n; i++)
                fds[i] = STDERR_FILENO;
        test_send_with_fds(conn, "{", 1, fds, (size_t) n);
        return conn;
}

static bool hung_up(int conn, int timeout_ms) {
        struct pollfd p = { .fd = conn, .events = POLLIN };
        char c;

        return poll(&p, 1, timeout_ms) > 0 && read(conn, &c, 1) == 0;
}

typedef struct Stall {
        int ready[2]; /* nobody -> test: two messages stalled */
        int go[2];    /* test -> nobody: the daemon holds their fds */
        int fds_before;
} Stall;

/* The daemon holds both stalled messages' fds (and their connections). */
static bool budget_daemon_holds_two_stalls(void *userdata) {
        const Stall *s = userdata;

        return test_daemon_count_fds(&budget_daemon) >= s->fds_before + 2 * (96 + 1);
}

/* As nobody: two stalled messages with 96 fds each fit a budget of 200 fds, the third does not. */
static int fd_budget_as_nobody(void *arg) {
        Stall *s = arg;
        int a = connect_and_stall(96), b = connect_and_stall(96), c;
        char x;

        /* The third must come when the daemon holds the first two, or it would not go over the budget. */
        if (write(s->ready[1], "r", 1) != 1 || read(s->go[0], &x, 1) != 1)
                return 3;
        c = connect_and_stall(96);
        if (!hung_up(c, 5000))
                return 1; /* the connection over the budget was not closed */
        if (hung_up(a, 100) || hung_up(b, 100))
                return 2; /* the ones within it were */
        return 0;
}

Test(limits, held_fds_per_user) {
        static const char *const args[] = { "--limit", "held-fds-per-user=200", NULL };

        Stall s;
        pid_t pid;
        char x;

        test_daemon_start(&budget_daemon, args);
        cr_assert(pipe2(s.ready, O_CLOEXEC) == 0 && pipe2(s.go, O_CLOEXEC) == 0);
        s.fds_before = test_daemon_count_fds(&budget_daemon);
        pid = test_start_as(65534, 65534, fd_budget_as_nobody, &s);
        cr_assert_eq(read(s.ready[0], &x, 1), 1, "nobody could not stall two messages");
        cr_assert(test_wait_until(budget_daemon_holds_two_stalls, &s), "the daemon never read the stalled messages");
        cr_assert_eq(write(s.go[1], "g", 1), 1);
        cr_assert_eq(test_finish(pid), 0, "held-fds-per-user was not enforced on the connection that went over it alone");
        for (int i = 0; i < 2; i++) {
                close(s.ready[i]);
                close(s.go[i]);
        }

        /* Another user is served meanwhile and afterwards. */
        int conn = test_daemon_connect(&budget_daemon);
        struct json_object *r = test_call(conn, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        json_object_put(r);
        test_disconnect(conn);
        test_daemon_stop(&budget_daemon);
}

/* A call that takes no fds does not keep the ones sent with it while it waits. */
Test(daemon, waiting_call_holds_no_client_fds) {
        int conn = test_daemon_connect(&daemon_), waiter = test_daemon_connect(&daemon_), fds[50], before, now = 0;
        Spawned s = spawn_ok(conn, "{\"argv\":[\"sleep\",\"30\"]}", NULL, 0);
        char text[256];

        json_object_put(test_call(waiter, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL));
        before = test_daemon_count_fds(&daemon_);

        snprintf(text, sizeof text, "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{\"id\":\"%s\"}}", s.id);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = STDERR_FILENO;
        test_send_with_fds(waiter, text, strlen(text) + 1, fds, ELEMENTSOF(fds));

        /* Once the daemon took the Wait, its fd count is back where it was. */
        for (int i = 0; i < 100; i++) {
                json_object_put(test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL));
                now = test_daemon_count_fds(&daemon_);
                if (now <= before)
                        break;
                usleep(20 * 1000);
        }
        /* Fewer is fine: a spawn worker may close the plan's fds of the sleep's spawn meanwhile. */
        cr_assert_leq(now, before, "the daemon holds %d fds of a waiting call", now - before);

        cr_assert(syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, NULL, 0) == 0);
        struct json_object *r = test_read_reply(waiter, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.signal"), "SIGKILL");
        json_object_put(r);
        close(s.pidfd);
        test_disconnect(waiter);
        test_disconnect(conn);
}

/* ---- the daemon under the shipped unit's capability bounding set ---- */

/* CapabilityBoundingSet= of systemd/nsboxd.service.in as setpriv --bounding-set wants it: "-all,+sys_admin,...". */
static char *unit_bounding_set(void) {
        const char *srcdir = getenv("NSBOX_TEST_SRCDIR");
        _cleanup_free_ char *path = NULL, *unit = NULL;
        char *line, *out, *save = NULL;
        size_t len;

        cr_assert(srcdir, "$NSBOX_TEST_SRCDIR must point to tests/");
        cr_assert(asprintf(&path, "%s/../systemd/nsboxd.service.in", srcdir) > 0);
        unit = test_read_file(path);
        line = strstr(unit, "\nCapabilityBoundingSet=");
        cr_assert(line, "no CapabilityBoundingSet= in %s", path);
        line += strlen("\nCapabilityBoundingSet=");
        line[strcspn(line, "\n")] = 0;

        len = strlen(line) * 2 + 8;
        out = calloc(1, len);
        cr_assert(out);
        strcpy(out, "-all");
        for (char *cap = strtok_r(line, " ", &save); cap; cap = strtok_r(NULL, " ", &save)) {
                cr_assert(strncmp(cap, "CAP_", 4) == 0, "%s", cap);
                strcat(out, ",+");
                for (const char *c = cap + 4; *c; c++)
                        out[strlen(out)] = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        }
        return out;
}

/* A capability set line of /proc/PID/status ("CapBnd:"), as a mask. */
static uint64_t cap_mask(const char *status, const char *field) {
        const char *p = strstr(status, field);
        unsigned long long v;

        cr_assert(p && sscanf(p + strlen(field), "%llx", &v) == 1, "no %s in %s", field, status);
        return v;
}

#define CAP_BIT(c) (UINT64_C(1) << (c))
#define CAP_SYS_MODULE_NR 16
#define CAP_SYS_ADMIN_NR 21
#define CAP_SYS_TIME_NR 25

/*
 * Time offsets without a user namespace need CAP_SYS_TIME in the daemon, so
 * the unit keeps it; no sandbox gets it from there, root's included, unless
 * its caller holds it itself (this one drops it first).
 */
Test(unit, time_offsets_and_no_sys_time_for_sandboxes) {
        _cleanup_free_ char *set = unit_bounding_set(), *status = NULL;
        const char *const wrapper[] = { "setpriv", "--bounding-set", set, "--", NULL };
        char path[64], out[4096], host[256];
        double inside, outside;
        TestDaemon d;
        int conn;

        test_daemon_start_wrapped(&d, wrapper, NULL);
        snprintf(path, sizeof path, "/proc/%d/status", (int) d.pid);
        status = test_read_file(path);
        cr_assert_eq(cap_mask(status, "CapBnd:") & CAP_BIT(CAP_SYS_MODULE_NR), 0, "not under the unit's set: %s", set);
        {
                struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
                struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3] = {};

                cr_assert_eq(syscall(SYS_capget, &h, c), 0);
                c[0].effective &= ~(uint32_t) CAP_BIT(CAP_SYS_TIME_NR);
                c[0].permitted &= ~(uint32_t) CAP_BIT(CAP_SYS_TIME_NR);
                c[0].inheritable &= ~(uint32_t) CAP_BIT(CAP_SYS_TIME_NR);
                cr_assert_eq(syscall(SYS_capset, &h, c), 0);
        }
        conn = test_daemon_connect(&d);

        cr_assert_eq(run_capture(conn,
                                 "\"namespaces\":[\"time\",\"pid\"],"
                                 "\"timeOffsets\":{\"boottime\":{\"secs\":86400,\"nanosecs\":0}}",
                                 "cat /proc/uptime; grep ^Cap /proc/self/status", out, sizeof out),
                     0);
        read_file("/proc/uptime", host, sizeof host);
        cr_assert(sscanf(out, "%lf", &inside) == 1 && sscanf(host, "%lf", &outside) == 1, "%s", out);
        cr_assert(inside - outside > 86400 - 60 && inside - outside < 86400 + 60, "uptime inside %f, outside %f", inside,
                  outside);
        cr_assert_eq(cap_mask(out, "CapBnd:") & CAP_BIT(CAP_SYS_TIME_NR), 0, "%s", out);
        cr_assert_eq(cap_mask(out, "CapPrm:") & CAP_BIT(CAP_SYS_TIME_NR), 0, "%s", out);
        cr_assert_neq(cap_mask(out, "CapEff:") & CAP_BIT(CAP_SYS_ADMIN_NR), 0, "root's sandbox is root: %s", out);

        cr_assert_eq(run_capture(conn, NULL, "grep ^Cap /proc/self/status", out, sizeof out), 0);
        cr_assert_eq(cap_mask(out, "CapBnd:") & CAP_BIT(CAP_SYS_TIME_NR), 0, "%s", out);
        cr_assert_eq(cap_mask(out, "CapPrm:") & CAP_BIT(CAP_SYS_TIME_NR), 0, "%s", out);

        test_disconnect(conn);
        test_daemon_stop(&d);
}

static bool is_dev_null(const char *path) {
        struct stat a, b;

        return stat(path, &a) == 0 && stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev && S_ISCHR(a.st_mode);
}

/*
 * Started with 0, 1 and 2 closed, the daemon puts /dev/null there before it
 * opens anything: else its socket or a pidfd would land on them, its log
 * would go into a client's connection, and the spawn workers' check of
 * pidfd_getfd() would fail on a closed 0, leaving every spawn to fork.
 */
Test(unit, closed_stdio_become_dev_null) {
        const char *const wrapper[] = { "sh", "-c", "exec \"$@\" 0<&- 1>&- 2>&-", "sh", NULL };
        char path[64], out[256];
        bool worker = false;
        TestDaemon d;
        DIR *tasks;
        int conn;

        test_daemon_start_wrapped(&d, wrapper, NULL);
        for (int fd = 0; fd <= 2; fd++) {
                snprintf(path, sizeof path, "/proc/%d/fd/%d", (int) d.pid, fd);
                cr_assert(is_dev_null(path), "the daemon's fd %d is not /dev/null", fd);
        }

        conn = test_daemon_connect(&d);
        cr_assert_eq(run_capture(conn, NULL, "echo ok", out, sizeof out), 0);
        cr_assert_str_eq(out, "ok\n");

        snprintf(path, sizeof path, "/proc/%d/task", (int) d.pid);
        tasks = opendir(path);
        cr_assert_not_null(tasks);
        for (struct dirent *de; (de = readdir(tasks));) {
                char comm_path[384], comm[32] = "";

                if (de->d_name[0] == '.')
                        continue;
                snprintf(comm_path, sizeof comm_path, "%s/%s/comm", path, de->d_name);
                read_file(comm_path, comm, sizeof comm);
                worker = worker || strncmp(comm, "nsbox-spawn", strlen("nsbox-spawn")) == 0;
        }
        closedir(tasks);
        cr_assert(worker, "no spawn worker thread: spawns fork the daemon");

        test_disconnect(conn);
        test_daemon_stop(&d);
}

static bool kernel_at_least(unsigned major, unsigned minor) {
        struct utsname u;
        unsigned ma, mi;

        cr_assert_eq(uname(&u), 0);
        cr_assert_eq(sscanf(u.release, "%u.%u", &ma, &mi), 2);
        return ma > major || (ma == major && mi >= minor);
}

/* A thread's time slice in ns (sched_getattr(2) reports it as sched_runtime for SCHED_OTHER). */
static int read_slice(pid_t tid, uint64_t *ret) {
        struct {
                uint32_t size, sched_policy;
                uint64_t sched_flags;
                int32_t sched_nice;
                uint32_t sched_priority;
                uint64_t sched_runtime, sched_deadline, sched_period;
        } attr = {};

        if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) < 0)
                return -errno;
        *ret = attr.sched_runtime;
        return 0;
}

static uint64_t slice_of(pid_t tid) {
        uint64_t slice = 0;
        int r = read_slice(tid, &slice);

        cr_assert_eq(r, 0, "sched_getattr(%d): %s", (int) tid, strerror(-r));
        return slice;
}

/* Only the loop thread and the spawn workers (named "nsbox-spawn") run with a short slice: neither the
 * daemon's other threads nor any process of a sandbox, whether a spawn worker cloned it or the loop thread
 * forked it (a joined time namespace). */
Test(daemon, only_the_loop_and_the_spawn_workers_have_a_short_slice) {
        char path[64], comm[32];
        struct dirent *de;
        size_t n_workers = 0;
        DIR *tasks;
        int conn, ns;

        if (!kernel_at_least(6, 12))
                cr_skip("custom time slices came with Linux 6.12");

        conn = test_daemon_connect(&daemon_);
        /* Workers are made on demand: this spawn made one, if none was there. */
        Spawned a = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"],\"namespaces\":[\"user\",\"pid\",\"time\"]}", NULL, 0);
        cr_assert_gt(slice_of(a.pid), 100000, "a sandbox's init");

        cr_assert_eq(slice_of(daemon_.pid), 100000);
        snprintf(path, sizeof path, "/proc/%d/task", (int) daemon_.pid);
        tasks = opendir(path);
        cr_assert_not_null(tasks);
        while ((de = readdir(tasks))) {
                pid_t tid = atoi(de->d_name);
                uint64_t slice;
                FILE *f;
                int r;

                if (de->d_name[0] == '.' || tid == daemon_.pid)
                        continue;
                /* A thread that ended meanwhile (a closer thread, a retired worker) is skipped. */
                snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int) daemon_.pid, (int) tid);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (!fgets(comm, sizeof comm, f))
                        comm[0] = '\0';
                fclose(f);
                comm[strcspn(comm, "\n")] = 0;
                r = read_slice(tid, &slice);
                if (r == -ESRCH)
                        continue;
                cr_assert_eq(r, 0, "sched_getattr(%d): %s", (int) tid, strerror(-r));
                if (streq(comm, "nsbox-spawn")) {
                        cr_assert_eq(slice, 100000, "spawn worker %d", (int) tid);
                        n_workers++;
                } else
                        cr_assert_gt(slice, 100000, "thread %d (%s)", (int) tid, comm);
        }
        closedir(tasks);
#if defined(__x86_64__) /* where the daemon has spawn workers at all (spawn-worker.c) */
        cr_assert_gt(n_workers, 0);
#endif
        snprintf(path, sizeof path, "/proc/%d/ns/time", (int) a.pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(ns, 0);
        Spawned b = spawn_ok(conn, "{\"argv\":[\"sleep\",\"1000\"],\"joinNamespaces\":[{\"type\":\"time\",\"fileDescriptor\":0}]}",
                             &ns, 1);
        cr_assert_gt(slice_of(b.pid), 100000, "a sandbox the loop thread forked");

        close(ns);
        close(a.pidfd);
        close(b.pidfd);
        test_disconnect(conn);
}

/* Whether dir is gone (and nothing else went wrong looking). */
static bool dir_is_gone(const char *dir) {
        return access(dir, F_OK) < 0 && errno == ENOENT;
}

Test(start, a_daemon_that_does_not_start_leaves_nothing) {
        const char *const args[] = { "--no-such-option", NULL };
        TestDaemon d;
        char why[512];

        cr_assert_eq(test_daemon_try_start(&d, NULL, args, why, sizeof why), -EIO);
        /* At once, from its exit: not after the wait for READY=1. */
        cr_assert(strstr(why, "exited with status"), "%s", why);
        cr_assert_eq(d.pid, 0);
        cr_assert(dir_is_gone(d.dir), "%s is left", d.dir);
        for (size_t i = 0; i < TEST_CGROUP_HIERARCHIES_MAX; i++)
                cr_assert(!d.cgroup.dir[i][0] || dir_is_gone(d.cgroup.dir[i]), "%s is left", d.cgroup.dir[i]);
}

Test(start, cgroups_and_directories_of_a_test_that_is_gone_are_removed) {
        TestCgroup stale, live;
        TestDaemon d;
        char name[64], below[600], stale_dir[64], live_dir[64];
        pid_t gone = fork();

        cr_assert(gone >= 0);
        if (gone == 0)
                _exit(0);
        cr_assert_eq(waitpid(gone, NULL, 0), gone);

        /* What a test killed by its timeout leaves: its daemon's cgroups, one with a sandbox's below it. */
        snprintf(name, sizeof name, "nsbt-daemon-%d-1", (int) gone);
        /* Stale to every test: another one's daemon starting meanwhile may sweep them first. Then they are made
         * again; once made, whichever daemon starts next must remove them. */
        for (int attempt = 0;; attempt++) {
                test_cgroup_create(&stale, name);
                snprintf(below, sizeof below, "%s/user-0", stale.dir[0]);
                if (mkdir(below, 0755) >= 0)
                        break;
                cr_assert(errno == ENOENT && attempt < 100, "mkdir %s: %m", below);
        }
        /* And its daemon's directory. */
        snprintf(stale_dir, sizeof stale_dir, "/tmp/nsboxd-test-%d-AbCdEf", (int) gone);
        cr_assert_eq(mkdir(stale_dir, 0755), 0, "mkdir %s: %m", stale_dir);
        snprintf(below, sizeof below, "%s/notify", stale_dir);
        cr_assert_eq(mknod(below, S_IFREG | 0644, 0), 0, "mknod %s: %m", below);
        /* A live test's stay. */
        snprintf(name, sizeof name, "nsbt-daemon-%d-999", (int) getpid());
        test_cgroup_create(&live, name);
        snprintf(live_dir, sizeof live_dir, "/tmp/nsboxd-test-%d-AbCdEf", (int) getpid());
        cr_assert_eq(mkdir(live_dir, 0755), 0, "mkdir %s: %m", live_dir);

        test_daemon_start(&d, NULL);
        cr_assert(dir_is_gone(stale_dir), "the stale %s is left", stale_dir);
        cr_assert_eq(access(live_dir, F_OK), 0, "a live test's %s was removed", live_dir);
        cr_assert_eq(rmdir(live_dir), 0);
        for (size_t i = 0; i < stale.n; i++)
                cr_assert(dir_is_gone(stale.dir[i]), "the stale %s is left", stale.dir[i]);
        for (size_t i = 0; i < live.n; i++)
                cr_assert_eq(access(live.dir[i], F_OK), 0, "a live test's %s was removed", live.dir[i]);
        test_daemon_stop(&d);
        test_cgroup_destroy(&live, /* expect_empty= */ true);
}
