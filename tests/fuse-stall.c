/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test support: FUSE servers that leave requests unanswered. One answers INIT
 * and then nothing, to prove that code which must never block on a client's
 * fd (the daemon's loop) sends no request to that fd's file system. The other
 * serves one file and never answers FLUSH for one process, whose close() of
 * it then blocks as a client's FUSE server can make the daemon's block.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuse-stall.h"

/*
 * A FUSE mount whose server (this test) answers INIT and then nothing: any
 * request the code under test sends shows up on /dev/fuse and would block it
 * forever. Runs fn(root fd of that mount) in a grandchild and tells whether
 * it finished without a request reaching the file system. Everything lives in
 * a child with its own mount namespace, so the mount never reaches the host.
 */
enum {
        STALL_OK = 0,
        STALL_REQUEST_SENT = 1,
        STALL_FN_FAILED = 2,
        STALL_SETUP_FAILED = 3,
};

static int stall_serve_init(int dev) {
        static char buf[1 << 17];
        struct fuse_in_header in;
        struct {
                struct fuse_out_header h;
                struct fuse_init_out i;
        } out = {};
        ssize_t n;

        n = read(dev, buf, sizeof(buf));
        if (n < (ssize_t) sizeof(in))
                return -EIO;
        memcpy(&in, buf, sizeof(in));
        if (in.opcode != FUSE_INIT)
                return -EIO;
        out.h.len = sizeof(out);
        out.h.unique = in.unique;
        out.i.major = FUSE_KERNEL_VERSION;
        out.i.minor = FUSE_KERNEL_MINOR_VERSION;
        out.i.max_write = 4096;
        return write(dev, &out, sizeof(out)) == (ssize_t) sizeof(out) ? 0 : -EIO;
}

static int stall_probe(StallFn fn, const char *where) {
        char opts[128];
        struct pollfd p[2];
        int dev, root, pidfd, status;
        pid_t pid;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return STALL_SETUP_FAILED;
        dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (dev < 0)
                return STALL_SETUP_FAILED;
        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", dev);
        if (mount("nsbox-test", where, "fuse", MS_NOSUID | MS_NODEV, opts) < 0)
                return STALL_SETUP_FAILED;
        if (stall_serve_init(dev) < 0)
                return STALL_SETUP_FAILED;
        root = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return STALL_SETUP_FAILED;
        p[0] = (struct pollfd) { .fd = dev, .events = POLLIN };
        if (poll(p, 1, 0) != 0)
                return STALL_SETUP_FAILED; /* opening the root alone must not need the server */

        pid = fork();
        if (pid < 0)
                return STALL_SETUP_FAILED;
        if (pid == 0)
                _exit(fn(root) == 0 ? STALL_OK : STALL_FN_FAILED);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return STALL_SETUP_FAILED;

        p[1] = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        while (poll(p, 2, -1) < 0)
                if (errno != EINTR)
                        return STALL_SETUP_FAILED;
        if (p[0].revents & POLLIN) {
                /* Unblock it: a killed waiter gives up its request. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, &status, 0);
                return STALL_REQUEST_SENT;
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return STALL_SETUP_FAILED;
        if (poll(p, 1, 0) != 0)
                return STALL_REQUEST_SENT;
        return WEXITSTATUS(status);
}

void test_assert_no_fuse_request(StallFn fn) {
        char where[] = "/tmp/nsbox-test-stall-XXXXXX";
        int status;
        pid_t pid;

        cr_assert_not_null(mkdtemp(where));
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
                _exit(stall_probe(fn, where));
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        (void) rmdir(where);
        cr_assert(WIFEXITED(status), "probe died: %d", status);
        cr_assert_neq(WEXITSTATUS(status), STALL_REQUEST_SENT, "a request reached the client's file system");
        cr_assert_neq(WEXITSTATUS(status), STALL_SETUP_FAILED, "FUSE fixture failed");
        cr_assert_eq(WEXITSTATUS(status), STALL_OK, "the call gave an unexpected result");
}


/* ---- a file whose FLUSH hangs for one process ---- */

#define STALL_FILE_NODEID 2

static void stall_reply(int dev, uint64_t unique, int error, const void *data, size_t size) {
        struct {
                struct fuse_out_header h;
                char data[256];
        } out = {};

        if (size > sizeof out.data)
                _exit(STALL_SETUP_FAILED);
        out.h = (struct fuse_out_header) { .len = (uint32_t) (sizeof out.h + size), .error = -error, .unique = unique };
        if (size > 0)
                memcpy(out.data, data, size);
        /* The kernel refuses a reply to a request it gave up on (ENOENT): nothing to do then. */
        (void) !write(dev, &out, out.h.len);
}

static void stall_fill_attr(uint64_t nodeid, struct fuse_attr *a) {
        *a = (struct fuse_attr) {
                .ino = nodeid,
                .mode = nodeid == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0666,
                .nlink = nodeid == FUSE_ROOT_ID ? 2 : 1,
                .blksize = 4096,
        };
}

/* Whether pid (a thread id, as FUSE reports it) belongs to stall_pid or to one of its descendants. */
static int stall_from(pid_t pid, pid_t stall_pid) {
        for (int depth = 0; pid > 1 && depth < 64; depth++) {
                char path[64], line[256];
                long tgid = -1, ppid = -1;
                FILE *f;

                snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
                f = fopen(path, "re");
                if (!f)
                        return 0;
                while (fgets(line, sizeof line, f)) {
                        if (strncmp(line, "Tgid:", 5) == 0)
                                tgid = strtol(line + 5, NULL, 10);
                        else if (strncmp(line, "PPid:", 5) == 0)
                                ppid = strtol(line + 5, NULL, 10);
                }
                fclose(f);
                if (tgid == stall_pid)
                        return 1;
                pid = (pid_t) ppid;
        }
        return 0;
}

_Noreturn static void stall_file_serve(int dev, pid_t stall_pid, int stalled) {
        static char buf[1 << 17];

        for (;;) {
                struct fuse_in_header in;
                ssize_t n = read(dev, buf, sizeof buf);

                if (n < 0) {
                        if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
                                continue;
                        _exit(0); /* ENODEV: unmounted or aborted */
                }
                if ((size_t) n < sizeof in)
                        continue;
                memcpy(&in, buf, sizeof in);

                switch (in.opcode) {
                case FUSE_LOOKUP: {
                        struct fuse_entry_out e = {
                                .nodeid = STALL_FILE_NODEID,
                                .entry_valid = 3600,
                                .attr_valid = 3600,
                        };

                        if (in.nodeid != FUSE_ROOT_ID || strcmp(buf + sizeof in, "f") != 0) {
                                stall_reply(dev, in.unique, ENOENT, NULL, 0);
                                break;
                        }
                        stall_fill_attr(STALL_FILE_NODEID, &e.attr);
                        stall_reply(dev, in.unique, 0, &e, sizeof e);
                        break;
                }
                case FUSE_GETATTR: {
                        struct fuse_attr_out a = { .attr_valid = 3600 };

                        stall_fill_attr(in.nodeid, &a.attr);
                        stall_reply(dev, in.unique, 0, &a, sizeof a);
                        break;
                }
                case FUSE_OPEN:
                case FUSE_OPENDIR: {
                        struct fuse_open_out o = { .fh = 1 };

                        stall_reply(dev, in.unique, 0, &o, sizeof o);
                        break;
                }
                case FUSE_FLUSH:
                        if (stall_from((pid_t) in.pid, stall_pid)) {
                                (void) !write(stalled, "s", 1);
                                break; /* never answered */
                        }
                        stall_reply(dev, in.unique, 0, NULL, 0);
                        break;
                case FUSE_RELEASE:
                case FUSE_RELEASEDIR:
                        stall_reply(dev, in.unique, 0, NULL, 0);
                        break;
                case FUSE_FORGET:
                case FUSE_BATCH_FORGET:
                case FUSE_INTERRUPT:
                        break; /* no reply expected (an interrupted FLUSH stays unanswered) */
                default:
                        stall_reply(dev, in.unique, ENOSYS, NULL, 0);
                }
        }
}

/* In the server: mount, then a child opens the file (the server must answer meanwhile) and sends it over sock. */
_Noreturn static void stall_file_server(const char *where, int sock, pid_t stall_pid, int stalled) {
        char opts[128];
        int dev;
        pid_t opener;

        signal(SIGCHLD, SIG_IGN); /* the opener reaps itself */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(STALL_SETUP_FAILED);
        dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (dev < 0)
                _exit(STALL_SETUP_FAILED);
        snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", dev);
        if (mount("nsbox-test", where, "fuse", MS_NOSUID | MS_NODEV, opts) < 0)
                _exit(STALL_SETUP_FAILED);
        if (stall_serve_init(dev) < 0)
                _exit(STALL_SETUP_FAILED);

        opener = fork();
        if (opener < 0)
                _exit(STALL_SETUP_FAILED);
        if (opener == 0) {
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(int))];
                } control = {};
                char path[128], byte = 'f';
                struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof control };
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                int fd;

                close(dev);
                snprintf(path, sizeof path, "%s/f", where);
                fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        _exit(1);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
                _exit(sendmsg(sock, &mh, 0) == 1 ? 0 : 1);
        }
        close(sock);
        stall_file_serve(dev, stall_pid, stalled);
}

int fuse_stall_file_open(FuseStallFile *f, pid_t stall_pid) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        struct cmsghdr *c;
        int sv[2], stalled[2], fd;

        memset(f, 0, sizeof *f);
        strcpy(f->dir, "/tmp/nsbox-test-fuse-XXXXXX");
        cr_assert_not_null(mkdtemp(f->dir));
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(pipe2(stalled, O_CLOEXEC), 0);

        f->server = fork();
        cr_assert_geq(f->server, 0);
        if (f->server == 0) {
                close(sv[0]);
                close(stalled[0]);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                stall_file_server(f->dir, sv[1], stall_pid, stalled[1]);
        }
        close(sv[1]);
        close(stalled[1]);
        f->stalled_fd = stalled[0];

        cr_assert_eq(recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC), 1, "the FUSE server did not send its file: %m");
        close(sv[0]);
        c = CMSG_FIRSTHDR(&mh);
        cr_assert(c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)));
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

bool fuse_stall_file_wait_stalled(FuseStallFile *f, int timeout_msec) {
        struct pollfd p = { .fd = f->stalled_fd, .events = POLLIN };
        char byte;

        return poll(&p, 1, timeout_msec) == 1 && read(f->stalled_fd, &byte, 1) == 1;
}

void fuse_stall_file_stop(FuseStallFile *f) {
        if (f->stalled_fd > 0) {
                close(f->stalled_fd);
                f->stalled_fd = 0;
        }
        if (f->server > 0) {
                (void) kill(f->server, SIGKILL);
                (void) waitpid(f->server, NULL, 0);
                f->server = 0;
        }
        if (f->dir[0]) {
                (void) rmdir(f->dir);
                f->dir[0] = 0;
        }
}
