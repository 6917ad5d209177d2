/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the unit and integration tests (see test-util.h). */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#define SCM_FDS_MAX 253

char *test_read_fd(int fd) {
        size_t size = 0, allocated = 0;
        char *buf = NULL;

        for (;;) {
                ssize_t n;

                if (allocated - size < 1024) {
                        allocated = allocated * 2 + 4096;
                        buf = realloc(buf, allocated);
                        cr_assert_not_null(buf);
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                cr_assert_geq(n, 0, "read: %m");
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buf[size] = 0;
        return buf;
}

char *test_read_file(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *text;

        cr_assert_geq(fd, 0, "open %s: %m", path);
        text = test_read_fd(fd);
        close(fd);
        return text;
}

void test_write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        cr_assert_geq(fd, 0, "open %s: %m", path);
        cr_assert_eq(write(fd, data, size), (ssize_t) size, "write %s: %m", path);
        cr_assert_eq(fchmod(fd, mode), 0, "chmod %s: %m", path);
        cr_assert_eq(close(fd), 0);
}

void test_tmpdir_new(const char *name, char *buf, size_t size) {
        cr_assert_lt((size_t) snprintf(buf, size, "/tmp/nsbox-test-%s-XXXXXX", name), size);
        cr_assert_not_null(mkdtemp(buf), "mkdtemp: %m");
        cr_assert_eq(chmod(buf, 0755), 0);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void test_tmpdir_remove(char *dir) {
        if (!dir[0])
                return;
        (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        dir[0] = 0;
}

void test_send_with_fds(int sock, const void *data, size_t size, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SCM_FDS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        cr_assert_leq(n_fds, SCM_FDS_MAX);
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
        cr_assert_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t) size, "sendmsg: %m");
}

void test_ensure_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw = getpwnam(name);
        char cmd[256];

        if (!pw) {
                snprintf(cmd, sizeof cmd,
                         "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin '%s' "
                         ">/dev/null 2>&1",
                         name);
                cr_assert_eq(system(cmd), 0, "cannot create the test user %s", name);
                pw = getpwnam(name);
        }
        cr_assert_not_null(pw, "no user %s", name);
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
}

void test_lingering_new(TestLingering *l, int linger_sec) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        struct linger lg = { .l_onoff = 1, .l_linger = linger_sec };
        int listener, small = 4096;
        char chunk[4096] = {};

        listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(listener, 0);
        /* Small buffers, inherited by the accepted socket: quick to fill. */
        cr_assert_eq(setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        cr_assert_eq(bind(listener, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(listener, 1), 0);
        cr_assert_eq(getsockname(listener, (struct sockaddr *) &sa, &len), 0);

        l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(l->fd, 0);
        cr_assert_eq(setsockopt(l->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
        cr_assert_eq(connect(l->fd, (struct sockaddr *) &sa, sizeof sa), 0, "connect: %m");
        len = sizeof sa;
        cr_assert_eq(getsockname(l->fd, (struct sockaddr *) &sa, &len), 0);
        l->port = ntohs(sa.sin_port);
        l->peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(l->peer, 0);
        close(listener);

        cr_assert_eq(fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK), 0);
        while (write(l->fd, chunk, sizeof chunk) > 0)
                ;
        cr_assert_eq(errno, EAGAIN, "filling the socket: %m");
        cr_assert_eq(setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
}

bool test_lingering_closed(const TestLingering *l) {
        FILE *f = fopen("/proc/net/tcp", "re");
        bool closed = true;
        char line[512];

        cr_assert_not_null(f);
        while (fgets(line, sizeof line, f)) {
                unsigned local_port;
                unsigned long inode;

                /* "sl: local_address:port rem_address:port st tx:rx tr:when retrnsmt uid timeout inode" */
                if (sscanf(line, " %*u: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu", &local_port, &inode) != 2)
                        continue;
                if (local_port == l->port) {
                        closed = inode == 0;
                        break;
                }
        }
        fclose(f);
        return closed;
}

void test_lingering_release(TestLingering *l) {
        if (l->fd >= 0)
                close(l->fd);
        if (l->peer >= 0)
                close(l->peer);
        l->fd = l->peer = -EBADF;
}
