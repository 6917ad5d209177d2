/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration test support: start a real nsboxd (the one this build made,
 * $NSBOXD) on a socket in a fresh temporary directory, wait for its READY=1
 * over a private NOTIFY_SOCKET, and stop it again checking it exited cleanly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup-test-util.h"

typedef struct TestDaemon {
        pid_t pid;
        char dir[64];          /* /tmp/nsboxd-test-PID-XXXXXX, removed by test_daemon_stop() (or by a later start
                                * once the test process PID is gone) */
        char socket_path[108]; /* DIR/nsbox.sock: fits sockaddr_un */
        TestCgroup cgroup;     /* the daemon's own cgroup, as systemd's Delegate=yes gives it one */
        int notify_fd;         /* its NOTIFY_SOCKET while a test listens (test_daemon_listen_notify()), else -1 */
} TestDaemon;

/* Starts nsboxd --socket DIR/nsbox.sock [extra_args...] (NULL-terminated, may be NULL) in a cgroup of its own
 * below the test's. Aborts the test (criterion assert) if it does not report READY=1 within 10 s. */
void test_daemon_start(TestDaemon *d, const char *const *extra_args);

/* The same, started through wrapper (a NULL-terminated argv prefix, e.g. setpriv and its options, which
 * must exec nsboxd in the same process). */
void test_daemon_start_wrapped(TestDaemon *d, const char *const *wrapper, const char *const *extra_args);

/* The same without asserting: -EIO when the daemon exits or is not ready within 10 s, with *ret_why
 * saying which; what its start made is gone again then (the daemon killed, its directory and cgroups removed). */
int test_daemon_try_start(TestDaemon *d, const char *const *wrapper, const char *const *extra_args, char *ret_why,
                          size_t size);

/* Listens on the daemon's NOTIFY_SOCKET again, for what it reports after READY=1 (read it all: a full
 * queue blocks the daemon); test_daemon_wait_notify() waits (10 s at most, then asserts) for a
 * notification containing what ("READY=1"). */
void test_daemon_listen_notify(TestDaemon *d);
void test_daemon_wait_notify(TestDaemon *d, const char *what);

/* SIGTERM, waits, asserts exit status 0 and that the daemon left no cgroup behind, removes the directory
 * and the daemon's cgroup. */
void test_daemon_stop(TestDaemon *d);
/* The same for a daemon told to stop already; expect_no_cgroups false where a process the daemon could not end
 * kept its cgroups at its exit (they are removed here). */
void test_daemon_reap(TestDaemon *d, bool expect_no_cgroups);

/* Number of open fds (root only), of zombie and of live children of the daemon (from /proc). */
int test_daemon_count_fds(const TestDaemon *d);
/* Children of parent (from /proc/PID/stat, readable by any user) for which match(state letter, name, exit
 * signal) holds. */
int test_count_children(pid_t parent, bool (*match)(char state, const char *name, int exit_signal));
/* Whether pid is one of the daemon's close helpers (daemon/bounded-close.h): a child whose exit signal is none,
 * from its birth on. Each lives for one close. */
bool test_is_close_helper(pid_t pid);
int test_daemon_count_zombies(const TestDaemon *d);
int test_daemon_count_children(const TestDaemon *d);

/*
 * Polls cond(userdata) every 10 ms until it holds; false if it still does not
 * after 30 s. A test waits for a condition, never for a time: the bound only
 * keeps a broken daemon from hanging the test. Usable in test_run_as() children.
 */
bool test_wait_until(bool (*cond)(void *userdata), void *userdata);

/* Connects a blocking SOCK_CLOEXEC unix stream socket to the daemon; asserts on failure. */
int test_daemon_connect(const TestDaemon *d);

/*
 * Sends one call (method, parameters JSON text, fds to attach) and reads one
 * reply over fd. Returns the reply's JSON object (caller puts it) and the fds
 * that came with it (*ret_fds malloc'ed, may be NULL). Asserts on I/O errors.
 */
struct json_object;
struct json_object *test_call(int fd, const char *method, const char *parameters_json, const int *fds, size_t n_fds,
                              int **ret_fds, size_t *ret_n_fds);

/* Sends one call without reading its reply (test_read_reply() reads it later). */
void test_send(int fd, const char *method, const char *parameters_json, const int *fds, size_t n_fds);

/* Reads the next reply on fd (for "more" calls). */
struct json_object *test_read_reply(int fd, int **ret_fds, size_t *ret_n_fds);

/* Forks; the child drops to uid/gid (setgroups empty, setresgid, setresuid) and runs fn(arg),
 * exiting with its return value. Returns the child's exit status (or 128+signal). */
int test_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);

/* The same in two halves, for a test that acts while the child runs: test_finish() waits for it and
 * returns its exit status (or 128+signal). */
pid_t test_start_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);
int test_finish(pid_t pid);

/* Forgets the buffered reader of fd and closes it. */
void test_disconnect(int fd);

/* The member of a reply at a dotted path ("parameters.sandbox.name"), or NULL; and its string value. */
struct json_object *test_json_get(struct json_object *o, const char *path);
const char *test_json_string(struct json_object *o, const char *path);
