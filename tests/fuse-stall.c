/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test support: a FUSE mount whose server answers INIT and then nothing, to
 * prove that code which must never block on a client's fd (the daemon's
 * loop) sends no request to that fd's file system.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
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

