/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration test support: a real nsboxd per test on a temporary socket. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "nsboxd-test-util.h"
#include "varlink-message.h"
#include "varlink-wire.h"

static const char *nsboxd_path(void) {
        const char *p = getenv("NSBOXD");

        cr_assert(p, "$NSBOXD must point to the nsboxd binary under test");
        return p;
}

static void remove_tree(const char *dir);

/* The directories of test daemons whose test process is gone (killed by its timeout, say): named
 * nsboxd-test-PID-XXXXXX by the test process that made them. */
static void sweep_stale_dirs(void) {
        DIR *d = opendir("/tmp");
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[300];
                int pid = 0, end = 0;

                if (de->d_type != DT_DIR || sscanf(de->d_name, "nsboxd-test-%d-%n", &pid, &end) != 1 || end == 0 ||
                    pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                snprintf(path, sizeof path, "/tmp/%s", de->d_name);
                remove_tree(path);
        }
        closedir(d);
}

/* A daemon that did not come up: ends it if it runs, removes what its start made, and says why. */
_printf_(4, 5) static int start_failed(TestDaemon *d, char *ret_why, size_t size, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(ret_why, size, format, ap);
        va_end(ap);
        if (d->pid > 0) {
                (void) kill(d->pid, SIGKILL);
                (void) waitpid(d->pid, NULL, 0);
        }
        d->pid = 0; /* test_daemon_stop() in the suite's teardown has nothing left to do */
        d->notify_fd = safe_close(d->notify_fd);
        remove_tree(d->dir);
        test_cgroup_destroy(&d->cgroup, /* expect_empty= */ false);
        return -EIO;
}

/* Until the daemon reports READY=1 (10 s at most), or exits without it. */
static int wait_ready(TestDaemon *d, char *ret_why, size_t size) {
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, d->pid, 0);
        char buf[4096];

        if (pidfd < 0)
                return start_failed(d, ret_why, size, "pidfd_open: %s", strerror(errno));
        for (;;) {
                struct pollfd p[2] = { { .fd = d->notify_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                int status, r = poll(p, 2, 10000);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return start_failed(d, ret_why, size, "no READY=1 within 10 s");
                if (p[0].revents & POLLIN) {
                        ssize_t l = recv(d->notify_fd, buf, sizeof buf - 1, 0);

                        if (l < 0)
                                return start_failed(d, ret_why, size, "reading its notifications: %s", strerror(errno));
                        buf[l] = 0;
                        if (strstr(buf, "READY=1"))
                                return 0;
                } else if (p[1].revents & POLLIN) {
                        if (waitpid(d->pid, &status, 0) != d->pid)
                                return start_failed(d, ret_why, size, "waitpid: %s", strerror(errno));
                        d->pid = 0;
                        if (WIFEXITED(status))
                                return start_failed(d, ret_why, size, "it exited with status %d before READY=1",
                                                    WEXITSTATUS(status));
                        return start_failed(d, ret_why, size, "it was killed by signal %d before READY=1",
                                            WTERMSIG(status));
                }
        }
}

void test_daemon_start(TestDaemon *d, const char *const *extra_args) {
        test_daemon_start_wrapped(d, NULL, extra_args);
}

void test_daemon_start_wrapped(TestDaemon *d, const char *const *wrapper, const char *const *extra_args) {
        char why[512];

        cr_assert(test_daemon_try_start(d, wrapper, extra_args, why, sizeof why) >= 0, "nsboxd did not start: %s", why);
}

int test_daemon_try_start(TestDaemon *d, const char *const *wrapper, const char *const *extra_args, char *ret_why,
                          size_t size) {
        static unsigned n_daemons = 0;
        char cgroup_name[64];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *argv[64], *nsboxd = nsboxd_path();
        size_t n = 0;

        sweep_stale_dirs();
        memset(d, 0, sizeof *d);
        snprintf(d->dir, sizeof d->dir, "/tmp/nsboxd-test-%d-XXXXXX", (int) getpid());
        cr_assert(mkdtemp(d->dir), "mkdtemp: %m");
        chmod(d->dir, 0755); /* unprivileged test users must reach the socket */
        snprintf(d->socket_path, sizeof d->socket_path, "%s/nsbox.sock", d->dir);

        /* A private NOTIFY_SOCKET: READY=1 from the daemon is the readiness signal, as under systemd. */
        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert(d->notify_fd >= 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", d->dir);
        cr_assert(bind(d->notify_fd, (struct sockaddr *) &sa, sizeof sa) >= 0, "bind notify: %m");

        for (size_t i = 0; wrapper && wrapper[i] && n < ELEMENTSOF(argv) - 4; i++)
                argv[n++] = wrapper[i];
        argv[n++] = nsboxd;
        argv[n++] = "--socket";
        argv[n++] = d->socket_path;
        for (size_t i = 0; extra_args && extra_args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = extra_args[i];
        argv[n] = NULL;

        /* Its own cgroup, as under systemd: the daemon takes the cgroup it starts in as its subtree. */
        snprintf(cgroup_name, sizeof cgroup_name, "nsbt-daemon-%d-%u", (int) getpid(), ++n_daemons);
        test_cgroup_create(&d->cgroup, cgroup_name);

        d->pid = fork();
        if (d->pid < 0)
                return start_failed(d, ret_why, size, "fork: %s", strerror(errno));
        if (d->pid == 0) {
                if (test_cgroup_enter_raw(&d->cgroup) < 0)
                        _exit(126);
                /* A test killed by its timeout must not leave its daemon behind. */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                setenv("NOTIFY_SOCKET", sa.sun_path, 1);
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDS");
                if (wrapper)
                        execvp(argv[0], (char **) argv);
                else
                        execv(argv[0], (char **) argv);
                _exit(127);
        }

        if (wait_ready(d, ret_why, size) < 0)
                return -EIO;
        /* Nobody reads it from here on: the daemon's notifications must not queue up and block it. */
        d->notify_fd = safe_close(d->notify_fd);
        return 0;
}

void test_daemon_listen_notify(TestDaemon *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        safe_close(d->notify_fd);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", d->dir);
        (void) unlink(sa.sun_path);
        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert(d->notify_fd >= 0);
        cr_assert(bind(d->notify_fd, (struct sockaddr *) &sa, sizeof sa) >= 0, "bind notify: %m");
}

void test_daemon_wait_notify(TestDaemon *d, const char *what) {
        char buf[4096];

        for (;;) {
                struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
                int r = poll(&p, 1, 10000);
                cr_assert(r > 0, "nsboxd did not report %s within 10 s", what);
                ssize_t l = recv(d->notify_fd, buf, sizeof buf - 1, 0);
                cr_assert(l >= 0);
                buf[l] = 0;
                if (strstr(buf, what))
                        break;
        }
}

static void remove_tree(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char p[512];

        if (!d)
                return;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                        if (de->d_type == DT_DIR)
                                remove_tree(p);
                        else
                                unlink(p);
                }
        closedir(d);
        rmdir(dir);
}

void test_daemon_reap(TestDaemon *d, bool expect_no_cgroups) {
        int status;

        if (d->pid <= 0)
                return;
        cr_assert(waitpid(d->pid, &status, 0) == d->pid);
        d->pid = 0;
        d->notify_fd = safe_close(d->notify_fd);
        remove_tree(d->dir);
        test_cgroup_destroy(&d->cgroup, expect_no_cgroups);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nsboxd exited uncleanly (status 0x%x)", status);
}

void test_daemon_stop(TestDaemon *d) {
        if (d->pid <= 0)
                return;
        cr_assert(kill(d->pid, SIGTERM) == 0);
        test_daemon_reap(d, /* expect_no_cgroups= */ true);
}

int test_daemon_count_fds(const TestDaemon *d) {
        char p[64];
        struct dirent *de;
        int n = 0;
        DIR *dir;

        snprintf(p, sizeof p, "/proc/%d/fd", (int) d->pid);
        dir = opendir(p);
        cr_assert(dir);
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

/* Field 38 (proc(5)) of a /proc/PID/stat line whose name was cut at after_name (the last ')'), or -1. */
static int stat_exit_signal(char *after_name) {
        char *field, *save = NULL;
        int i = 3;

        for (field = strtok_r(after_name, " ", &save); field; field = strtok_r(NULL, " ", &save), i++)
                if (i == 38)
                        return atoi(field);
        return -1;
}

bool test_is_close_helper(pid_t pid) {
        char path[64], buf[1024], *e;
        bool helper = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (fgets(buf, sizeof buf, f) && (e = strrchr(buf, ')')))
                helper = stat_exit_signal(e + 1) == 0;
        fclose(f);
        return helper;
}

int test_count_children(pid_t parent, bool (*match)(char state, const char *name, int exit_signal)) {
        struct dirent *de;
        DIR *dir = opendir("/proc");
        int n = 0;

        cr_assert(dir);
        while ((de = readdir(dir))) {
                char p[300], buf[512];
                FILE *f;
                int ppid = 0;
                char state = 0;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(p, sizeof p, "/proc/%s/stat", de->d_name);
                f = fopen(p, "re");
                if (!f)
                        continue;
                if (fgets(buf, sizeof buf, f)) {
                        char *name = strchr(buf, '('), *e = strrchr(buf, ')');

                        if (!name || !e || sscanf(e + 1, " %c %d", &state, &ppid) != 2 || ppid != parent) {
                                fclose(f);
                                continue;
                        }
                        *e = '\0';
                        n += match(state, name + 1, stat_exit_signal(e + 1));
                }
                fclose(f);
        }
        closedir(dir);
        return n;
}

/* The daemon's children: zombies, or the live ones. Not its close helpers (bounded-close.h): each lives for
 * one close, and is reaped by the thread that made it. Told by their exit signal (none), which they have from
 * their birth, unlike their name. */
static bool is_zombie_not_helper(char state, const char *name, int exit_signal) {
        return state == 'Z' && exit_signal != 0;
}

static bool is_live_not_helper(char state, const char *name, int exit_signal) {
        return state != 'Z' && exit_signal != 0;
}

static int count_children(const TestDaemon *d, bool zombies) {
        return test_count_children(d->pid, zombies ? is_zombie_not_helper : is_live_not_helper);
}

int test_daemon_count_zombies(const TestDaemon *d) {
        return count_children(d, true);
}

int test_daemon_count_children(const TestDaemon *d) {
        return count_children(d, false);
}

bool test_wait_until(bool (*cond)(void *userdata), void *userdata) {
        for (int i = 0; i < 3000; i++) {
                if (cond(userdata))
                        return true;
                usleep(10 * 1000);
        }
        return cond(userdata);
}

int test_daemon_connect(const TestDaemon *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(fd >= 0);
        size_t l = strlen(d->socket_path);
        cr_assert(l < sizeof sa.sun_path, "socket path too long: %s", d->socket_path);
        memcpy(sa.sun_path, d->socket_path, l + 1);
        cr_assert(connect(fd, (struct sockaddr *) &sa, sizeof sa) >= 0, "connect %s: %m", d->socket_path);
        return fd;
}

/* Writes one message with fds, blocking, through the real writer. */
static void send_message(int fd, struct json_object *msg, const int *fds, size_t n_fds) {
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        int *dups = NULL;

        cr_assert(varlink_writer_new(0, &w) >= 0);
        if (n_fds > 0) {
                dups = calloc(n_fds, sizeof(int));
                for (size_t i = 0; i < n_fds; i++)
                        cr_assert((dups[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) >= 0);
        }
        cr_assert(varlink_writer_enqueue(w, msg, dups, n_fds) >= 0);
        free(dups);
        for (;;) {
                int r = varlink_writer_flush(w, fd);
                if (r == 0)
                        break;
                cr_assert(r == -EAGAIN, "write failed: %s", strerror(-r));
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                poll(&p, 1, -1);
        }
}

/* One reader per socket, kept across calls: a read may deliver more than one reply. */
static struct {
        int fd;
        VarlinkReader *reader;
} readers[64];

static VarlinkReader *reader_for(int fd) {
        for (size_t i = 0; i < ELEMENTSOF(readers); i++)
                if (readers[i].reader && readers[i].fd == fd)
                        return readers[i].reader;
        for (size_t i = 0; i < ELEMENTSOF(readers); i++)
                if (!readers[i].reader) {
                        readers[i].fd = fd;
                        /* As large a reply as libnsbox takes (a Wait with captured output). */
                        cr_assert(varlink_reader_new(&(VarlinkReaderLimits) { .message_size_max = 16U * 1024U * 1024U },
                                                     &readers[i].reader) >= 0);
                        return readers[i].reader;
                }
        cr_assert_fail("too many test connections");
        return NULL;
}

struct json_object *test_read_reply(int fd, int **ret_fds, size_t *ret_n_fds) {
        VarlinkReader *r = reader_for(fd);
        VarlinkMessage m = {};

        for (;;) {
                int k = varlink_reader_next(r, &m);
                cr_assert(k >= 0, "bad reply: %s", strerror(-k));
                if (k > 0)
                        break;

                struct pollfd p = { .fd = fd, .events = POLLIN };
                cr_assert(poll(&p, 1, 30000) > 0, "no reply within 30 s");
                k = varlink_reader_fill(r, fd);
                if (k == -EAGAIN)
                        continue;
                cr_assert(k > 0, "connection closed or failed while waiting for a reply (%d)", k);
        }

        if (ret_fds) {
                *ret_fds = m.fds;
                *ret_n_fds = m.n_fds;
                m.fds = NULL;
                m.n_fds = 0;
        }
        struct json_object *j = json_object_get(m.json);
        varlink_message_done(&m);
        return j;
}

void test_send(int fd, const char *method, const char *parameters_json, const int *fds, size_t n_fds) {
        struct json_object *params = NULL, *call;

        if (parameters_json) {
                params = json_tokener_parse(parameters_json);
                cr_assert(params, "test bug: invalid JSON %s", parameters_json);
        }
        call = varlink_call_new(method, params, 0);
        cr_assert(call);
        send_message(fd, call, fds, n_fds);
        json_object_put(call);
}

struct json_object *test_call(int fd, const char *method, const char *parameters_json, const int *fds, size_t n_fds,
                              int **ret_fds, size_t *ret_n_fds) {
        test_send(fd, method, parameters_json, fds, n_fds);
        return test_read_reply(fd, ret_fds, ret_n_fds);
}

pid_t test_start_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg) {
        pid_t pid = fork();

        cr_assert(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(126);
                _exit(fn(arg));
        }
        return pid;
}

int test_finish(pid_t pid) {
        int status;

        cr_assert(waitpid(pid, &status, 0) == pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int test_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg) {
        return test_finish(test_start_as(uid, gid, fn, arg));
}

void test_disconnect(int fd) {
        for (size_t i = 0; i < ELEMENTSOF(readers); i++)
                if (readers[i].reader && readers[i].fd == fd)
                        readers[i].reader = varlink_reader_free(readers[i].reader);
        close(fd);
}

struct json_object *test_json_get(struct json_object *o, const char *path) {
        struct json_object *v = o;
        char buf[256], *save = NULL;

        snprintf(buf, sizeof buf, "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(v, k, &v))
                        return NULL;
        return v;
}

const char *test_json_string(struct json_object *o, const char *path) {
        struct json_object *v = test_json_get(o, path);
        return v ? json_object_get_string(v) : NULL;
}
