/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the sandbox's file tree (daemon/mount-setup.c) with real
 * namespaces, without the spawn path: a forked child unshares a mount
 * namespace (and a pid namespace where needed), applies a plan, checks what
 * it sees and reports back through a pipe. Needs root.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fuse-stall.h"
#include "mount-setup.h"
#include "test-util.h"

#define NS_MOUNT NAMESPACE_BIT(NAMESPACE_MOUNT)
#define NS_PID NAMESPACE_BIT(NAMESPACE_PID)
#define NS_USER NAMESPACE_BIT(NAMESPACE_USER)

typedef struct Report {
        int r;             /* mount_plan_apply() */
        SpawnError error;
        int check;         /* the check's result: 0 ok, else a line number that failed */
        char note[1024];
} Report;

/* Runs in the sandbox after the plan was applied; returns 0 or __LINE__ of what failed. */
typedef int (*CheckFn)(void *userdata, char *note, size_t size);
/* Runs in the child's new namespaces before the plan is applied (e.g. to make a submount). */
typedef int (*PrepareFn)(void *userdata);

static Caller root_caller = { .uid = 0, .gid = 0, .privileged = true };
static gid_t nobody_groups[] = { 65534 };
static Caller nobody_caller = { .uid = 65534, .gid = 65534, .groups = nobody_groups, .n_groups = 1, .privileged = false };

static SpawnRequest request(unsigned namespaces, MountEntry *mounts, size_t n_mounts) {
        return (SpawnRequest) {
                .namespaces = namespaces,
                .mounts = mounts,
                .n_mounts = n_mounts,
                .setgroups = -1,
                .stdin_index = -1,
                .stdout_index = -1,
                .stderr_index = -1,
                .init = -1,
                .new_session = -1,
        };
}

/* A non-root caller's user namespace: its root is the caller, nobody. */
static void map_root_to_nobody(SpawnRequest *req) {
        static IdMapping map = { .container_id = 0, .host_id = 65534, .size = 1 };

        req->uid_mappings = req->gid_mappings = &map;
        req->n_uid_mappings = req->n_gid_mappings = 1;
}

static MountEntry entry(MountKind kind, const char *source, const char *destination) {
        return (MountEntry) {
                .kind = kind,
                .source = (char *) source,
                .source_fd_index = -1,
                .destination = (char *) destination,
                .mode = -1,
        };
}

static MountEntry ro(MountEntry e) {
        e.read_only = true;
        return e;
}

static MountPlan *plan_for(const SpawnRequest *req, const Caller *caller, const int *fds, size_t n_fds) {
        SpawnContext c = { .request = req, .caller = caller, .message_fds = fds, .n_message_fds = n_fds };
        SpawnError error = {};
        MountPlan *p = NULL;
        int r;

        r = mount_plan_new(&c, &p, &error);
        cr_assert_eq(r, 0, "mount_plan_new: %d %s", r, error.message);
        cr_assert_not_null(p);
        return p;
}

static void child_report(int fd, const Report *rep) {
        const char *b = (const char *) rep;
        size_t left = sizeof(*rep);

        while (left > 0) {
                ssize_t n = write(fd, b, left);
                if (n <= 0)
                        _exit(3);
                b += n;
                left -= (size_t) n;
        }
}

static int write_text(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -EIO;
}

/*
 * What the spawn path does for a non-root caller's user namespace: the child
 * (still host root by its ids) enters a new user namespace and its parent maps
 * ns 0 to the caller (nobody) from outside.
 */
/* What the spawn path gives a non-root caller's child before its user namespace exists: the caller's groups. */
static const gid_t *userns_groups;
static size_t n_userns_groups;
static bool userns_setgroups_deny;

static int enter_user_namespace(void) {
        char path[64], c;
        int go[2], status;
        pid_t self = getpid(), helper;

        if (pipe2(go, O_CLOEXEC) < 0)
                return -errno;
        helper = fork();
        if (helper < 0)
                return -errno;
        if (helper == 0) {
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                snprintf(path, sizeof(path), "/proc/%d/setgroups", (int) self);
                if (userns_setgroups_deny && write_text(path, "deny") < 0)
                        _exit(4);
                snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) self);
                if (write_text(path, "0 65534 1\n") < 0)
                        _exit(2);
                snprintf(path, sizeof(path), "/proc/%d/gid_map", (int) self);
                if (write_text(path, "0 65534 1\n") < 0)
                        _exit(3);
                _exit(0);
        }
        close(go[0]);
        if (n_userns_groups > 0 && setgroups(n_userns_groups, userns_groups) < 0)
                return -errno;
        if (unshare(CLONE_NEWUSER) < 0)
                return -errno;
        if (write(go[1], "x", 1) != 1)
                return -EIO;
        close(go[1]);
        if (waitpid(helper, &status, 0) != helper || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EIO;
        return 0;
}

static Report run_plan(const MountPlan *p, int unshare_flags, PrepareFn prepare, CheckFn check, void *userdata) {
        Report rep = {};
        int pipefd[2], status;
        size_t got = 0;
        pid_t pid;

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                Report c = {};

                pipefd[0] = safe_close(pipefd[0]);
                if ((unshare_flags & CLONE_NEWUSER) && enter_user_namespace() < 0)
                        _exit(15);
                if (unshare(CLONE_NEWNS | (unshare_flags & ~CLONE_NEWUSER)) < 0)
                        _exit(10);
                if (unshare_flags & CLONE_NEWPID) {
                        pid_t inner = fork();
                        if (inner < 0)
                                _exit(11);
                        if (inner > 0) {
                                int st;
                                pipefd[1] = safe_close(pipefd[1]);
                                if (waitpid(inner, &st, 0) < 0)
                                        _exit(12);
                                _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 13);
                        }
                }
                if (prepare) {
                        /* Whatever the preparation mounts must not reach the host either. */
                        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || prepare(userdata) < 0)
                                _exit(14);
                }
                c.r = mount_plan_apply(p, &c.error);
                if (c.r == 0 && check)
                        c.check = check(userdata, c.note, sizeof(c.note));
                child_report(pipefd[1], &c);
                _exit(0);
        }

        pipefd[1] = safe_close(pipefd[1]);
        while (got < sizeof(rep)) {
                ssize_t n = read(pipefd[0], (char *) &rep + got, sizeof(rep) - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        safe_close(pipefd[0]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status %d", status);
        cr_assert_eq(got, sizeof(rep), "short report");
        return rep;
}

/* Who asks for a plan and how the child that applies it is set up. */
typedef struct Run {
        const Caller *caller;
        const int *fds; /* the message's fds */
        size_t n_fds;
        int unshare_flags;
        PrepareFn prepare;
        CheckFn check;
        void *userdata;
} Run;

/* Plans req as run->caller and applies the plan in a fresh child; the plan is freed again. */
static Report apply(const SpawnRequest *req, const Run *run) {
        _cleanup_(mount_plan_freep) MountPlan *p = plan_for(req, run->caller, run->fds, run->n_fds);

        return run_plan(p, run->unshare_flags, run->prepare, run->check, run->userdata);
}

static void assert_ok(const Report *rep) {
        cr_assert_eq(rep->r, 0, "apply failed: %d stage=%s errno=%d %s", rep->r, rep->error.stage, rep->error.error,
                     rep->error.message);
        cr_assert_eq(rep->check, 0, "check failed at line %d: %s", rep->check, rep->note);
}

/* The plan failed with -error, and its message names `mentioned` (unless NULL). */
static void assert_refused(const Report *rep, int error, const char *mentioned) {
        cr_assert_eq(rep->r, -error, "expected %s, got %d %s", strerror(error), rep->r, rep->error.message);
        if (mentioned)
                cr_assert(strstr(rep->error.message, mentioned), "%s does not mention %s", rep->error.message,
                          mentioned);
}

#define CHECK(expr)                                                                                                    \
        do {                                                                                                           \
                if (!(expr))                                                                                           \
                        return __LINE__;                                                                               \
        } while (0)

/* ---- helpers for host-side fixtures ---- */

static char tmpdir[64];

static void make_tmpdir(void) {
        test_tmpdir_new("mount", tmpdir, sizeof(tmpdir));
}

static void remove_tmpdir(void) {
        test_tmpdir_remove(tmpdir);
}

static void write_file(const char *path, const char *contents, mode_t mode) {
        test_write_file(path, contents, strlen(contents), mode);
}

static char *host_mountinfo(void) {
        return test_read_file("/proc/self/mountinfo");
}

TestSuite(mount_setup, .fini = remove_tmpdir);

/* ---- read-only binds, also of submounts ---- */

static char sub_path[128];

static int prepare_submount(void *userdata) {
        return mount("tmpfs", sub_path, "tmpfs", 0, "mode=0755");
}

static int check_ro(void *userdata, char *note, size_t size) {
        int fd;

        CHECK(access("/data/marker", R_OK) == 0);
        fd = open("/data/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd < 0 && errno == EROFS);
        /* the submount came along and is read-only too */
        CHECK(access("/data/sub", F_OK) == 0);
        fd = open("/data/sub/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd < 0 && errno == EROFS);
        CHECK(mkdir("/data/sub/dir", 0755) < 0 && errno == EROFS);
        /* the writable bind of the same tree is not */
        fd = open("/rw/sub/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        close(fd);
        return 0;
}

Test(mount_setup, read_only_bind_covers_submounts) {
        char marker[160];
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(marker, sizeof(marker), "%s/marker", tmpdir);
        write_file(marker, "x", 0644);
        snprintf(sub_path, sizeof(sub_path), "%s/sub", tmpdir);
        cr_assert_eq(mkdir(sub_path, 0755), 0);

        m[0] = ro(entry(MOUNT_BIND, tmpdir, "/data"));
        m[1] = entry(MOUNT_BIND, tmpdir, "/rw");
        req = request(NS_MOUNT, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_submount, .check = check_ro });
        assert_ok(&rep);
}

/* ---- tmpfs: writable, private, gone afterwards ---- */

static int check_tmpfs_write(void *userdata, char *note, size_t size) {
        struct statfs sfs;
        struct stat st;
        int fd;

        CHECK(statfs("/scratch", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
        CHECK(stat("/scratch", &st) == 0 && (st.st_mode & 07777) == 01777);
        CHECK(access("/scratch/left-behind", F_OK) < 0 && errno == ENOENT);
        fd = open("/scratch/left-behind", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(write(fd, "data", 4) == 4);
        close(fd);
        /* no suid by default */
        CHECK(statfs("/scratch", &sfs) == 0 && (sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV));
        return 0;
}

Test(mount_setup, tmpfs_is_writable_and_private) {
        MountEntry m[1];
        SpawnRequest req;
        _cleanup_(mount_plan_freep) MountPlan *p = NULL;
        Report rep;

        m[0] = entry(MOUNT_TMPFS, NULL, "/scratch");
        m[0].mode = 01777;
        m[0].size = 1 << 20;
        req = request(NS_MOUNT, m, 1);
        p = plan_for(&req, &root_caller, NULL, 0);

        /* The second run of the same plan must not see what the first one wrote. */
        rep = run_plan(p, 0, NULL, check_tmpfs_write, NULL);
        assert_ok(&rep);
        rep = run_plan(p, 0, NULL, check_tmpfs_write, NULL);
        assert_ok(&rep);
        cr_assert(access("/scratch", F_OK) < 0, "the sandbox's root leaked to the host");
}

/* ---- proc in a pid namespace ---- */

static int check_proc(void *userdata, char *note, size_t size) {
        char self[32] = {};
        struct dirent *de;
        int pids = 0;
        DIR *d;

        CHECK(getpid() == 1);
        CHECK(readlink("/proc/self", self, sizeof(self) - 1) > 0);
        CHECK(strcmp(self, "1") == 0);
        d = opendir("/proc");
        CHECK(d);
        while ((de = readdir(d)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9') {
                        pids++;
                        snprintf(note + strlen(note), size - strlen(note), "%s ", de->d_name);
                }
        closedir(d);
        CHECK(pids == 1);
        return 0;
}

Test(mount_setup, proc_shows_only_the_sandbox) {
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        m[0] = entry(MOUNT_PROC, "proc", "/proc");
        req = request(NS_MOUNT | NS_PID, m, 1);
        rep = apply(&req, &(Run) { .caller = &root_caller, .unshare_flags = CLONE_NEWPID, .check = check_proc });
        assert_ok(&rep);
}

static int check_proc_ro(void *userdata, char *note, size_t size) {
        int fd;

        CHECK(access("/proc/self/status", R_OK) == 0);
        fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        CHECK(fd < 0 && errno == EROFS);
        return 0;
}

Test(mount_setup, proc_without_pid_namespace_is_read_only) {
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        m[0] = entry(MOUNT_PROC, NULL, "/proc");
        req = request(NS_MOUNT, m, 1);
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_proc_ro });
        assert_ok(&rep);
}

/* ---- a minimal /dev ---- */

static int check_dev(void *userdata, char *note, size_t size) {
        static const char *const absent[] = { "/dev/vda", "/dev/sda", "/dev/mem", "/dev/kmsg", "/dev/console", "/dev/loop0" };
        char buf[16] = { 1 }, target[64] = {};
        struct statfs sfs;
        int fd;

        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(write(fd, "x", 1) == 1);
        CHECK(read(fd, buf, sizeof(buf)) == 0);
        close(fd);
        fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t) sizeof(buf) && buf[0] == 0 && buf[15] == 0);
        close(fd);
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t) sizeof(buf));
        close(fd);
        fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "x", 1) < 0 && errno == ENOSPC);
        close(fd);

        for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
                CHECK(access(absent[i], F_OK) < 0 && errno == ENOENT);

        /* a private devpts */
        CHECK(readlink("/dev/ptmx", target, sizeof(target) - 1) > 0 && strcmp(target, "pts/ptmx") == 0);
        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(grantpt(fd) == 0 && unlockpt(fd) == 0);
        CHECK(strncmp(ptsname(fd), "/dev/pts/", 9) == 0);
        CHECK(access(ptsname(fd), F_OK) == 0);
        close(fd);

        CHECK(statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
        fd = open("/dev/shm/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        close(fd);
        memset(target, 0, sizeof(target));
        CHECK(readlink("/dev/fd", target, sizeof(target) - 1) > 0 && strcmp(target, "/proc/self/fd") == 0);
        CHECK(access("/dev/stdin", F_OK) == 0 || errno == ENOENT);
        /* nothing on the tmpfs itself can be a device */
        CHECK(statfs("/dev", &sfs) == 0 && (sfs.f_flags & ST_NODEV));
        CHECK(mknod("/dev/sda", S_IFBLK | 0600, makedev(8, 0)) < 0 || (fd = open("/dev/sda", O_RDONLY | O_CLOEXEC)) < 0);
        return 0;
}

Test(mount_setup, minimal_dev) {
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        m[0] = entry(MOUNT_PROC, NULL, "/proc");
        m[1] = entry(MOUNT_DEV, NULL, "/dev");
        req = request(NS_MOUNT | NS_PID, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .unshare_flags = CLONE_NEWPID, .check = check_dev });
        assert_ok(&rep);
}

/* ---- the host's mount table ---- */

Test(mount_setup, host_mount_table_unchanged) {
        _cleanup_free_ char *before = NULL, *after = NULL, *after_failure = NULL;
        MountEntry m[6], bad[3];
        SpawnRequest req, req_bad;
        _cleanup_(mount_plan_freep) MountPlan *p = NULL, *p_bad = NULL;
        Report rep;

        m[0] = ro(entry(MOUNT_BIND, "/usr", "/usr"));
        m[1] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[2] = entry(MOUNT_PROC, NULL, "/proc");
        m[3] = entry(MOUNT_DEV, NULL, "/dev");
        m[4] = entry(MOUNT_MQUEUE, NULL, "/dev/mqueue");
        m[5] = entry(MOUNT_REMOUNT_RO, NULL, "/");
        req = request(NS_MOUNT | NS_PID, m, 6);
        p = plan_for(&req, &root_caller, NULL, 0);

        bad[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        bad[1] = entry(MOUNT_BIND, "/usr", "/usr");
        bad[2] = entry(MOUNT_BIND, "/no/such/source", "/x");
        req_bad = request(NS_MOUNT, bad, 3);
        p_bad = plan_for(&req_bad, &root_caller, NULL, 0);

        before = host_mountinfo();
        rep = run_plan(p, CLONE_NEWPID | CLONE_NEWIPC, NULL, NULL, NULL);
        assert_ok(&rep);
        after = host_mountinfo();
        cr_assert_str_eq(before, after);

        rep = run_plan(p_bad, 0, NULL, NULL, NULL);
        cr_assert_eq(rep.r, -ENOENT);
        cr_assert_str_eq(rep.error.stage, "mount");
        cr_assert_eq(rep.error.error, ENOENT);
        cr_assert(strstr(rep.error.message, "/x") && strstr(rep.error.message, "/no/such/source"), "%s", rep.error.message);
        after_failure = host_mountinfo();
        cr_assert_str_eq(before, after_failure);
}

/* ---- symlinks cannot redirect anything out of the root ---- */

static int check_symlink_confined(void *userdata, char *note, size_t size) {
        struct statfs sfs;

        /* /a -> /etc was followed inside the new root */
        CHECK(statfs("/etc/b", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
        CHECK(access("/etc/evil", F_OK) == 0);
        CHECK(access("/up/evil2", F_OK) == 0);
        CHECK(access("/etc/c/d", F_OK) == 0);
        /* the new root has no host /etc contents */
        CHECK(access("/etc/passwd", F_OK) < 0);
        return 0;
}

Test(mount_setup, symlinks_stay_in_root) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        int fds[2], pipefd[2];
        MountEntry m[7];
        SpawnRequest req;
        Report rep;

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        cr_assert_eq(write(pipefd[1], "x", 1), 1);
        close(pipefd[1]);
        fds[0] = pipefd[0];
        fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* the link targets exist inside the new root too: that is where they must lead */
        m[0] = entry(MOUNT_DIR, NULL, "/etc");
        m[1] = entry(MOUNT_SYMLINK, "/etc", "/a");
        m[2] = entry(MOUNT_TMPFS, NULL, "/a/b");
        m[3] = entry(MOUNT_FILE, NULL, "/a/evil");
        m[3].source_fd_index = 0;
        m[4] = entry(MOUNT_SYMLINK, "../../../../../../etc", "/up");
        m[5] = entry(MOUNT_FILE, NULL, "/up/evil2");
        m[5].source_fd_index = 1;
        m[6] = entry(MOUNT_DIR, NULL, "/up/c/d");
        req = request(NS_MOUNT, m, 7);
        before = host_mountinfo();
        rep = apply(&req, &(Run) { .caller = &root_caller, .fds = fds, .n_fds = 2, .check = check_symlink_confined });
        assert_ok(&rep);
        after = host_mountinfo();
        cr_assert_str_eq(before, after);
        cr_assert(access("/etc/b", F_OK) < 0 && errno == ENOENT);
        cr_assert(access("/etc/evil", F_OK) < 0 && errno == ENOENT);
        cr_assert(access("/etc/evil2", F_OK) < 0 && errno == ENOENT);
        cr_assert(access("/etc/c", F_OK) < 0 && errno == ENOENT);
        close(fds[0]);
        close(fds[1]);
}

/* A symlink planted in a host-backed root pointing at the host's /etc resolves inside the root. */
Test(mount_setup, planted_symlink_in_root_stays_in_root) {
        char link[160];
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(link, sizeof(link), "%s/a", tmpdir);
        cr_assert_eq(symlink("/etc", link), 0);

        m[0] = entry(MOUNT_TMPFS, NULL, "/a/b");
        req = request(NS_MOUNT, m, 1);
        req.root = tmpdir;
        rep = apply(&req, &(Run) { .caller = &root_caller });
        /* inside the root, /etc does not exist: the mount fails instead of landing on the host's /etc/b */
        assert_refused(&rep, ENOENT, "/a/b");
        cr_assert(access("/etc/b", F_OK) < 0 && errno == ENOENT);
}

/* ---- a minimal root runs a shell ---- */

/* Runs `ls /` in the sandbox; its output lands in note. */
static int check_shell_output(char *note, size_t size, const char *expected) {
        int out[2], status;
        size_t got = 0;
        pid_t pid;

        CHECK(pipe2(out, O_CLOEXEC) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "ls /", NULL };
                char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
                dup2(out[1], 1);
                /* The raw system call: in a coverage build (-Db_coverage=true) the compiler wraps execve() to
                 * write this process's .gcda files first, at the build directory's absolute path, which
                 * would create that path in the sandbox's root before ls looks at it. */
                syscall(SYS_execve, argv[0], argv, envp);
                _exit(127);
        }
        close(out[1]);
        for (;;) {
                ssize_t n = read(out[0], note + got, size - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        note[got] = 0;
        close(out[0]);
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(strcmp(note, expected) == 0);
        return 0;
}

static int check_shell(void *userdata, char *note, size_t size) {
        return check_shell_output(note, size, "bin\nlib\nlib64\nusr\n");
}

Test(mount_setup, minimal_root_runs_shell) {
        MountEntry m[4];
        SpawnRequest req;
        Report rep;

        m[0] = ro(entry(MOUNT_BIND, "/usr", "/usr"));
        m[1] = entry(MOUNT_SYMLINK, "usr/bin", "/bin");
        m[2] = entry(MOUNT_SYMLINK, "usr/lib", "/lib");
        m[3] = entry(MOUNT_SYMLINK, "usr/lib64", "/lib64");
        req = request(NS_MOUNT, m, 4);
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_shell });
        assert_ok(&rep);
}

/* ---- sources are opened with the caller's rights ---- */

Test(mount_setup, unprivileged_caller_cannot_bind_unreadable_file) {
        char secret[160], open_file[160], hidden_dir[160], hidden_file[160];
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
        write_file(secret, "secret", 0600);
        snprintf(open_file, sizeof(open_file), "%s/public", tmpdir);
        write_file(open_file, "public", 0644);
        snprintf(hidden_dir, sizeof(hidden_dir), "%s/private", tmpdir);
        cr_assert_eq(mkdir(hidden_dir, 0700), 0);
        snprintf(hidden_file, sizeof(hidden_file), "%s/private/readable", tmpdir);
        write_file(hidden_file, "readable", 0644);

        /* a 0600 root file */
        {
                m[0] = entry(MOUNT_BIND, secret, "/secret");
                req = request(NS_MOUNT, m, 1);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_refused(&rep, EACCES, secret);
                cr_assert_str_eq(rep.error.stage, "mount");
                cr_assert_eq(rep.error.error, EACCES);
        }
        /* a readable file behind a directory the caller cannot search */
        {
                m[0] = entry(MOUNT_BIND, hidden_file, "/hidden");
                req = request(NS_MOUNT, m, 1);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_refused(&rep, EACCES, NULL);
        }
        /* the same caller may bind what it can read */
        {
                m[0] = entry(MOUNT_BIND, open_file, "/public");
                req = request(NS_MOUNT, m, 1);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_ok(&rep);
        }
        /* and root may bind the secret */
        {
                m[0] = entry(MOUNT_BIND, secret, "/secret");
                req = request(NS_MOUNT, m, 1);
                rep = apply(&req, &(Run) { .caller = &root_caller });
                assert_ok(&rep);
        }
}

/*
 * Destinations in a host-backed tree are resolved with the caller's rights:
 * below a directory it may not search, an existing and a missing name both
 * fail with EACCES, so the daemon never tells which exists. Root still may.
 */
Test(mount_setup, destinations_resolved_as_the_caller) {
        static const char *const names[] = { "exists", "missing" };
        char private[160], path[200], dest[64];
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(private, sizeof(private), "%s/private", tmpdir);
        cr_assert_eq(mkdir(private, 0700), 0);
        snprintf(path, sizeof(path), "%s/exists", private);
        cr_assert_eq(mkdir(path, 0755), 0);

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(dest, sizeof(dest), "/private/%s", names[i]);
                m[0] = entry(MOUNT_TMPFS, NULL, dest);
                req = request(NS_MOUNT, m, 1);
                req.root = tmpdir;
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                cr_assert_eq(rep.r, -EACCES, "%s: %d %s", names[i], rep.r, rep.error.message);
        }
        {
                m[0] = entry(MOUNT_TMPFS, NULL, "/private/exists");
                req = request(NS_MOUNT, m, 1);
                req.root = tmpdir;
                rep = apply(&req, &(Run) { .caller = &root_caller });
                assert_ok(&rep);
        }
}

/* Creating inside a host-backed bind happens with the caller's rights, not the daemon's. */
Test(mount_setup, unprivileged_caller_cannot_create_in_host_dirs) {
        char created[160];
        int fds[1];
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        snprintf(created, sizeof(created), "%s/created", tmpdir);

        {
                m[0] = entry(MOUNT_BIND, tmpdir, "/data");
                m[1] = entry(MOUNT_FILE, NULL, "/data/created");
                m[1].source_fd_index = 0;
                req = request(NS_MOUNT, m, 2);
                rep = apply(&req, &(Run) { .caller = &nobody_caller, .fds = fds, .n_fds = 1 });
                assert_refused(&rep, EACCES, NULL);
                cr_assert(access(created, F_OK) < 0);
        }
        {
                m[0] = entry(MOUNT_BIND, tmpdir, "/data");
                m[1] = entry(MOUNT_TMPFS, NULL, "/data/created");
                req = request(NS_MOUNT, m, 2);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_refused(&rep, EACCES, NULL);
                cr_assert(access(created, F_OK) < 0);
        }
        /* once the caller owns the directory it works, and the file is the caller's */
        cr_assert_eq(chown(tmpdir, 65534, 65534), 0);
        {
                struct stat st;
                m[0] = entry(MOUNT_BIND, tmpdir, "/data");
                m[1] = entry(MOUNT_DIR, NULL, "/data/created");
                req = request(NS_MOUNT, m, 2);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_ok(&rep);
                cr_assert_eq(stat(created, &st), 0);
                cr_assert_eq(st.st_uid, 65534);
        }
        close(fds[0]);
}

/* ---- pivot into `root` ---- */

static int check_pivot(void *userdata, char *note, size_t size) {
        const struct stat *expected = userdata;
        struct stat st;
        char buf[4096];
        ssize_t n;
        int fd;

        CHECK(stat("/", &st) == 0 && st.st_dev == expected->st_dev && st.st_ino == expected->st_ino);
        CHECK(stat("/..", &st) == 0 && st.st_ino == expected->st_ino);
        CHECK(access("/inside", F_OK) == 0);
        CHECK(access("/oldroot", F_OK) < 0 && access("/newroot", F_OK) < 0);
        CHECK(access("/etc/passwd", F_OK) < 0 && access("/usr", F_OK) < 0);

        fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        CHECK(n > 0);
        buf[n] = 0;
        snprintf(note, size, "%s", buf);
        /* exactly the root and /proc: nothing of the host stays mounted */
        {
                int lines = 0;
                for (char *l = buf; (l = strchr(l, '\n')); l++)
                        lines++;
                CHECK(lines == 2);
        }
        CHECK(!strstr(buf, "oldroot") && !strstr(buf, "newroot"));
        return 0;
}

Test(mount_setup, root_pivot_leaves_old_root_unreachable) {
        char path[160];
        struct stat st;
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(path, sizeof(path), "%s/inside", tmpdir);
        write_file(path, "x", 0644);
        snprintf(path, sizeof(path), "%s/proc", tmpdir);
        cr_assert_eq(mkdir(path, 0755), 0);
        cr_assert_eq(stat(tmpdir, &st), 0);

        m[0] = entry(MOUNT_PROC, NULL, "/proc");
        req = request(NS_MOUNT | NS_PID, m, 1);
        req.root = tmpdir;
        rep = apply(&req, &(Run) { .caller = &root_caller, .unshare_flags = CLONE_NEWPID, .check = check_pivot,
                                   .userdata = &st });
        assert_ok(&rep);
}

/* ---- file contents, fd sources ---- */

static int check_file(void *userdata, char *note, size_t size) {
        char buf[64] = {};
        struct stat st;
        int fd;

        fd = open("/etc/greeting", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(read(fd, buf, sizeof(buf) - 1) == 12);
        close(fd);
        CHECK(strcmp(buf, "hello world\n") == 0);
        CHECK(stat("/etc/greeting", &st) == 0 && (st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode));
        CHECK(stat("/etc", &st) == 0 && S_ISDIR(st.st_mode));
        CHECK(stat("/var/lib/x", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
        CHECK(access("/fromfd/marker", R_OK) == 0);
        return 0;
}

Test(mount_setup, file_contents_and_fd_sources) {
        char marker[160];
        int fds[2], pipefd[2];
        MountEntry m[3];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(marker, sizeof(marker), "%s/marker", tmpdir);
        write_file(marker, "x", 0644);

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        cr_assert_eq(write(pipefd[1], "hello world\n", 12), 12);
        close(pipefd[1]);
        fds[0] = pipefd[0];
        fds[1] = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fds[1], 0);

        m[0] = entry(MOUNT_FILE, NULL, "/etc/greeting");
        m[0].source_fd_index = 0;
        m[0].mode = 0640;
        m[1] = entry(MOUNT_DIR, NULL, "/var/lib/x");
        m[1].mode = 0700;
        m[2] = entry(MOUNT_BIND, NULL, "/fromfd");
        m[2].source_fd_index = 1;
        req = request(NS_MOUNT, m, 3);
        rep = apply(&req, &(Run) { .caller = &nobody_caller, .fds = fds, .n_fds = 2, .check = check_file });
        assert_ok(&rep);
        close(fds[0]);
        close(fds[1]);
}

/* What the spawn child must keep open for the plan: the bind trees it owns and the file contents it borrows. */
Test(mount_setup, plan_lists_its_fds) {
        int fds[2], got[8], pipefd[2];
        MountEntry m[4];
        SpawnRequest req;
        _cleanup_(mount_plan_freep) MountPlan *p = NULL;
        size_t n;
        bool seen_tree = false;

        make_tmpdir();
        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        close(pipefd[1]);
        fds[0] = pipefd[0];
        fds[1] = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fds[1], 0);

        m[0] = entry(MOUNT_FILE, NULL, "/a");
        m[0].source_fd_index = 0;
        m[1] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[2] = entry(MOUNT_BIND, NULL, "/fromfd");
        m[2].source_fd_index = 1;
        m[3] = entry(MOUNT_BIND, "/usr", "/usr");
        req = request(NS_MOUNT, m, 4);
        p = plan_for(&req, &nobody_caller, fds, 2);

        n = mount_plan_fds(p, NULL, 0);
        cr_assert_eq(n, 2);
        memset(got, -1, sizeof(got));
        cr_assert_eq(mount_plan_fds(p, got, 1), 2);
        cr_assert_eq(got[0], fds[0]);
        cr_assert_eq(got[1], -1, "wrote past n");
        cr_assert_eq(mount_plan_fds(p, got, ELEMENTSOF(got)), 2);
        cr_assert_eq(got[0], fds[0]);
        /* the bind source is the plan's own detached clone, not the message fd */
        for (size_t i = 0; i < n; i++)
                if (got[i] != fds[0] && got[i] != fds[1] && fcntl(got[i], F_GETFD) >= 0)
                        seen_tree = true;
        cr_assert(seen_tree);
        cr_assert_eq(mount_plan_fds(NULL, got, ELEMENTSOF(got)), 0);
        close(fds[0]);
        close(fds[1]);
}

/* Fields of a /proc/PID/stat line, 1-based as in proc(5). */
static int stat_field(const char *line, unsigned field, unsigned long long *ret) {
        const char *p = strrchr(line, ')');

        if (!p || field < 3)
                return -EINVAL;
        p++;
        for (unsigned i = 3; i <= field; i++) {
                char *end;

                while (*p == ' ')
                        p++;
                if (i == 3) { /* the state letter */
                        p++;
                        continue;
                }
                *ret = strtoull(p, &end, 10);
                if (end == p)
                        return -EINVAL;
                p = end;
        }
        return 0;
}

/* startcode (26) is 1 and startstack (28) 0 for a reader not allowed to see the addresses. */
static int check_stat_hidden(void *userdata, char *note, size_t size) {
        char buf[4096];
        unsigned long long startcode = 0, startstack = 0;
        ssize_t n;
        int fd;

        fd = open("/stat", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        CHECK(n > 0);
        buf[n] = 0;
        snprintf(note, size, "%s", buf);
        CHECK(stat_field(buf, 26, &startcode) == 0 && stat_field(buf, 28, &startstack) == 0);
        CHECK(startcode <= 1);
        CHECK(startstack == 0);
        return 0;
}

/*
 * A "file" entry's contents are read with the caller's rights: the stat of a
 * root process (this test) must not show its addresses to nobody, neither
 * without a user namespace (where the child is host root until it drops its
 * credentials) nor with one.
 */
Test(mount_setup, file_contents_are_read_as_the_caller) {
        char path[64], line[4096];
        unsigned long long startstack = 0;
        MountEntry m[1];
        SpawnRequest req;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) getpid());
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        /* The test itself is allowed to see them, so a read with the daemon's rights would. */
        n = pread(fd, line, sizeof(line) - 1, 0);
        cr_assert_gt(n, 0);
        line[n] = 0;
        cr_assert_eq(stat_field(line, 28, &startstack), 0);
        cr_assert_neq(startstack, 0);

        for (int userns = 0; userns <= 1; userns++) {
                Report rep;

                m[0] = entry(MOUNT_FILE, NULL, "/stat");
                m[0].source_fd_index = 0;
                req = request(NS_MOUNT | (userns ? NS_USER : 0), m, 1);
                if (userns)
                        map_root_to_nobody(&req);
                cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
                rep = apply(&req, &(Run) { .caller = &nobody_caller, .fds = &fd, .n_fds = 1,
                                           .unshare_flags = userns ? CLONE_NEWUSER : 0, .check = check_stat_hidden });
                assert_ok(&rep);
        }
        close(fd);
}

/* ---- what mount_plan_new refuses ---- */

static int plan_error(const SpawnRequest *req, const Caller *caller, SpawnError *error) {
        SpawnContext c = { .request = req, .caller = caller };
        MountPlan *p = (MountPlan *) 0x1;
        int r;

        r = mount_plan_new(&c, &p, error);
        cr_assert_eq(p, (MountPlan *) 0x1, "ret touched on failure");
        return r;
}

Test(mount_setup, plan_refusals) {
        SpawnError error = {};
        MountEntry m[1];
        SpawnRequest req;
        MountPlan *p = NULL;
        SpawnContext c;

        /* mounts without a mount namespace never reach a plan: spawn_request_verify() owns that rule */
        m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        req = request(0, m, 1);
        cr_assert_eq(spawn_request_verify(&req, NULL), -EINVAL);

        /* suid and dev need a privileged caller */
        m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[0].allow_suid = true;
        req = request(NS_MOUNT, m, 1);
        cr_assert_eq(plan_error(&req, &nobody_caller, &error), -EPERM);
        cr_assert(strstr(error.message, "suid"), "%s", error.message);
        m[0].allow_suid = false;
        m[0].allow_dev = true;
        cr_assert_eq(plan_error(&req, &nobody_caller, &error), -EPERM);
        cr_assert(strstr(error.message, "dev"), "%s", error.message);
        {
                _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &root_caller, NULL, 0);
                cr_assert_not_null(ok);
        }

        /* destinations */
        m[0] = entry(MOUNT_TMPFS, NULL, "relative");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EINVAL);
        m[0] = entry(MOUNT_TMPFS, NULL, "/a/../../etc");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EINVAL);
        m[0] = entry(MOUNT_PROC, NULL, "/");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EINVAL);
        cr_assert(strstr(error.message, "mounts[0]"), "%s", error.message);
        /* a root from a non-privileged caller: no suid, like any bind; "dev" only keeps the source's own
         * nodev (the policy's device-binds decides), as on any bind */
        m[0] = entry(MOUNT_BIND, "/usr", "/");
        m[0].allow_suid = true;
        cr_assert_eq(plan_error(&req, &nobody_caller, &error), -EPERM);
        cr_assert(strstr(error.message, "suid"), "%s", error.message);
        m[0].allow_suid = false;
        m[0].allow_dev = true;
        {
                _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &nobody_caller, NULL, 0);
                cr_assert_not_null(ok);
        }

        /* sources */
        m[0] = entry(MOUNT_BIND, NULL, "/x");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EINVAL);
        m[0] = entry(MOUNT_BIND, NULL, "/x");
        m[0].source_fd_index = 3;
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EBADF);
        m[0] = entry(MOUNT_FILE, NULL, "/x");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EBADF);
        m[0] = entry(MOUNT_SYMLINK, NULL, "/x");
        cr_assert_eq(plan_error(&req, &root_caller, &error), -EINVAL);

        /* a setuid file from an unprivileged caller */
        m[0] = entry(MOUNT_DIR, NULL, "/x");
        m[0].mode = 04755;
        cr_assert_eq(plan_error(&req, &nobody_caller, &error), -EPERM);

        /* A setgid file (with contents it may give) is refused as well; a setgid directory only makes its
         * files inherit the group, and is allowed. */
        {
                static const int contents[] = { STDIN_FILENO };
                SpawnContext fc = { .request = &req, .caller = &nobody_caller, .message_fds = contents, .n_message_fds = 1 };
                MountPlan *fp = NULL;

                m[0] = entry(MOUNT_FILE, NULL, "/x");
                m[0].source_fd_index = 0;
                m[0].mode = 02755;
                cr_assert_eq(mount_plan_new(&fc, &fp, &error), -EPERM);
                cr_assert(strstr(error.message, "setgid"), "%s", error.message);
                m[0].mode = 0755;
                cr_assert_eq(mount_plan_new(&fc, &fp, &error), 0, "%s", error.message);
                fp = mount_plan_free(fp);

                m[0] = entry(MOUNT_DIR, NULL, "/x");
                m[0].mode = 02775;
                _cleanup_(mount_plan_freep) MountPlan *dir = plan_for(&req, &nobody_caller, NULL, 0);
                cr_assert_not_null(dir);
        }

        /* A joined user namespace (the policy lets only its owner join one): a non-root caller builds its tree
         * there with its own rights (mount-setup.c says why that is safe), except a bind from an fd, whose
         * clone, made by the daemon, would not be locked there. */
        {
                JoinNamespace join = { .type = NAMESPACE_USER, .fd_index = 0 };
                int fd = open("/usr", O_PATH | O_CLOEXEC);
                SpawnContext fc = { .caller = &nobody_caller, .message_fds = &fd, .n_message_fds = 1 };

                cr_assert_geq(fd, 0);
                m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
                req = request(NS_MOUNT, m, 1);
                req.join_namespaces = &join;
                req.n_join_namespaces = 1;
                {
                        _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &nobody_caller, NULL, 0);
                        cr_assert_not_null(ok);
                }
                req = request(NS_MOUNT, NULL, 0);
                req.root = (char *) "/";
                req.join_namespaces = &join;
                req.n_join_namespaces = 1;
                {
                        _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &nobody_caller, NULL, 0);
                        cr_assert_not_null(ok);
                }

                m[0] = entry(MOUNT_BIND, NULL, "/x");
                m[0].source_fd_index = 0;
                req = request(NS_MOUNT, m, 1);
                req.join_namespaces = &join;
                req.n_join_namespaces = 1;
                fc.request = &req;
                p = NULL;
                cr_assert_eq(mount_plan_new(&fc, &p, &error), -EPERM);
                cr_assert_null(p);
                cr_assert(strstr(error.message, "cannot be locked"), "%s", error.message);
                {
                        _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &root_caller, &fd, 1);
                        cr_assert_not_null(ok);
                }
                close(fd);
        }

        /* nothing to do: no plan */
        req = request(0, NULL, 0);
        c = (SpawnContext) { .request = &req, .caller = &root_caller };
        cr_assert_eq(mount_plan_new(&c, &p, &error), 0);
        cr_assert_null(p);
}

/* With only a mount namespace, the sandbox sees the host's tree but its mounts do not propagate out. */
static int check_private_copy(void *userdata, char *note, size_t size) {
        CHECK(access("/etc/passwd", F_OK) == 0);
        CHECK(mount("tmpfs", tmpdir, "tmpfs", 0, NULL) == 0);
        return 0;
}

Test(mount_setup, mount_namespace_alone_is_a_private_copy) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        req = request(NS_MOUNT, NULL, 0);
        before = host_mountinfo();
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_private_copy });
        assert_ok(&rep);
        after = host_mountinfo();
        cr_assert_str_eq(before, after);
}

/* ---- the root is a bind like any other ---- */

/* Every mount in the sandbox has these mount options (the sixth field of mountinfo). */
static int check_every_mount(char *note, size_t size, const char *const *options) {
        char buf[65536], *line, *save = NULL;
        ssize_t n;
        int fd, mounts = 0;

        fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        CHECK(n > 0);
        buf[n] = 0;

        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char point[512], opts[512], with_commas[520];

                CHECK(sscanf(line, "%*s %*s %*s %*s %511s %511s", point, opts) == 2);
                snprintf(with_commas, sizeof(with_commas), ",%s,", opts);
                for (size_t i = 0; options[i]; i++) {
                        char want[32];

                        snprintf(want, sizeof(want), ",%s,", options[i]);
                        if (!strstr(with_commas, want)) {
                                snprintf(note, size, "%s has %s, not %s", point, opts, options[i]);
                                return __LINE__;
                        }
                }
                mounts++;
        }
        CHECK(mounts >= 2);
        return 0;
}

static int check_ro_root(void *userdata, char *note, size_t size) {
        static const char *const safe_ro[] = { "ro", "nosuid", "nodev", NULL };
        int fd;

        CHECK(check_every_mount(note, size, safe_ro) == 0);
        CHECK(mkdir("/new", 0755) < 0 && errno == EROFS);
        fd = open("/sub/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd < 0 && errno == EROFS);
        return 0;
}

/* A read-only root is read-only all the way down, and nosuid and nodev, for root and for others. */
Test(mount_setup, read_only_root_covers_submounts) {
        char path[160];
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(sub_path, sizeof(sub_path), "%s/sub", tmpdir);
        cr_assert_eq(mkdir(sub_path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc", tmpdir);
        cr_assert_eq(mkdir(path, 0755), 0);

        m[0] = ro(entry(MOUNT_BIND, tmpdir, "/"));
        m[1] = entry(MOUNT_PROC, NULL, "/proc");
        req = request(NS_MOUNT, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_submount, .check = check_ro_root });
        assert_ok(&rep);
        rep = apply(&req, &(Run) { .caller = &nobody_caller, .prepare = prepare_submount, .check = check_ro_root });
        assert_ok(&rep);

        /* (without a pid namespace: a fresh procfs would be an entry of its own, writable) */
        req = request(NS_MOUNT | NS_USER, m, 2);
        map_root_to_nobody(&req);
        rep = apply(&req, &(Run) { .caller = &nobody_caller, .unshare_flags = CLONE_NEWUSER,
                                   .prepare = prepare_submount, .check = check_ro_root });
        assert_ok(&rep);
}

static int check_host_ro_root(void *userdata, char *note, size_t size) {
        static const char *const safe_ro[] = { "ro", "nosuid", "nodev", NULL };
        int fd;

        CHECK(check_every_mount(note, size, safe_ro) == 0);
        /* what `nsbox run --ro-bind / / -- touch /dev/shm/x` wrote on the host */
        fd = open("/dev/shm/nsbox-test-ro-root", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd < 0 && (errno == EROFS || errno == ENOENT));
        fd = open(userdata, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd < 0 && errno == EROFS);
        return 0;
}

/* The host's whole tree, read-only: every submount of it (/proc, /dev/shm, ...) with it. */
Test(mount_setup, read_only_host_root) {
        char path[160];
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(sub_path, sizeof(sub_path), "%s", tmpdir);
        snprintf(path, sizeof(path), "%s/x", tmpdir);
        m[0] = ro(entry(MOUNT_BIND, "/", "/"));
        req = request(NS_MOUNT, m, 1);
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_submount, .check = check_host_ro_root,
                                   .userdata = path });
        assert_ok(&rep);
        rep = apply(&req, &(Run) { .caller = &nobody_caller, .prepare = prepare_submount,
                                   .check = check_host_ro_root, .userdata = path });
        assert_ok(&rep);
        cr_assert(access("/dev/shm/nsbox-test-ro-root", F_OK) < 0);
}

static int check_root_attributes(void *userdata, char *note, size_t size) {
        const char *const *options = userdata;
        int fd;

        CHECK(check_every_mount(note, size, options) == 0);
        fd = open("/sub/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        close(fd);
        return 0;
}

static int check_suid_root(void *userdata, char *note, size_t size) {
        struct statfs sfs;

        CHECK(statfs("/", &sfs) == 0 && !(sfs.f_flags & ST_NOSUID) && !(sfs.f_flags & ST_NODEV));
        CHECK(statfs("/sub", &sfs) == 0 && !(sfs.f_flags & ST_NOSUID) && !(sfs.f_flags & ST_NODEV));
        CHECK(statfs("/sub/t", &sfs) == 0 && (sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV));
        return 0;
}

/* `root` of a privileged caller: nosuid and nodev as the default says; "suid" and "dev" when asked. */
Test(mount_setup, root_caller_root_is_nosuid_nodev) {
        static const char *const safe[] = { "nosuid", "nodev", NULL };
        char path[160];
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(sub_path, sizeof(sub_path), "%s/sub", tmpdir);
        cr_assert_eq(mkdir(sub_path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc", tmpdir);
        cr_assert_eq(mkdir(path, 0755), 0);

        m[0] = entry(MOUNT_PROC, NULL, "/proc");
        req = request(NS_MOUNT, m, 1);
        req.root = tmpdir;
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_submount, .check = check_root_attributes,
                                   .userdata = (void *) safe });
        assert_ok(&rep);

        /* the same as a bind on "/"; with "suid" and "dev" the root and its submounts keep both */
        m[0] = entry(MOUNT_BIND, tmpdir, "/");
        m[0].allow_suid = m[0].allow_dev = true;
        m[1] = entry(MOUNT_TMPFS, NULL, "/sub/t");
        req = request(NS_MOUNT, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_submount, .check = check_suid_root });
        assert_ok(&rep);
}

static int check_replaced(void *userdata, char *note, size_t size) {
        const struct stat *expected = userdata;
        struct stat st;

        CHECK(stat("/", &st) == 0 && st.st_dev == expected->st_dev && st.st_ino == expected->st_ino);
        /* what came before the root is gone with the tree it was made in */
        CHECK(access("/x", F_OK) < 0 && errno == ENOENT);
        CHECK(access("/after", F_OK) == 0);
        return 0;
}

/* Entries apply in order: a root after others replaces what they built, later ones build on it. */
Test(mount_setup, root_replaces_what_came_before) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        char path[160];
        struct stat st;
        MountEntry m[4];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        cr_assert_eq(stat(tmpdir, &st), 0);
        m[0] = entry(MOUNT_TMPFS, NULL, "/x");
        m[1] = entry(MOUNT_DIR, NULL, "/x/y");
        m[2] = entry(MOUNT_BIND, tmpdir, "/");
        m[3] = entry(MOUNT_DIR, NULL, "/after");
        req = request(NS_MOUNT, m, 4);
        before = host_mountinfo();
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_replaced, .userdata = &st });
        assert_ok(&rep);
        after = host_mountinfo();
        cr_assert_str_eq(before, after);
        snprintf(path, sizeof(path), "%s/x", tmpdir);
        cr_assert(access(path, F_OK) < 0, "the tmpfs entry before the root wrote into it");
}

/*
 * After a root replaced the tree, nothing made before counts as a fresh tmpfs
 * of this plan any more (their mount ids are free again): what a non-root
 * caller creates in the new root's host directories is still created as the
 * caller, so a root-owned directory stays closed to it.
 */
Test(mount_setup, replaced_tree_grants_nothing) {
        char path[160];
        MountEntry m[5];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(path, sizeof(path), "%s/closed", tmpdir);
        cr_assert_eq(mkdir(path, 0755), 0);
        m[0] = entry(MOUNT_TMPFS, NULL, "/t1");
        m[1] = entry(MOUNT_TMPFS, NULL, "/t2");
        m[2] = entry(MOUNT_BIND, tmpdir, "/");
        m[3] = entry(MOUNT_BIND, path, "/closed");
        m[4] = entry(MOUNT_DIR, NULL, "/closed/new");
        req = request(NS_MOUNT, m, 5);
        rep = apply(&req, &(Run) { .caller = &nobody_caller });
        assert_refused(&rep, EACCES, "/closed/new");
        snprintf(path, sizeof(path), "%s/closed/new", tmpdir);
        cr_assert(access(path, F_OK) < 0);
}

static int check_tmpfs_root(void *userdata, char *note, size_t size) {
        struct statfs sfs;
        struct stat st;

        CHECK(statfs("/", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
        CHECK((sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV) && (sfs.f_flags & ST_NOEXEC));
        CHECK(stat("/", &st) == 0 && (st.st_mode & 07777) == 0711);
        CHECK(access("/d", F_OK) == 0);
        return 0;
}

/* A tmpfs on "/" is the root with that tmpfs's options. */
Test(mount_setup, tmpfs_root_with_options) {
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        m[0] = entry(MOUNT_TMPFS, NULL, "/");
        m[0].mode = 0711;
        m[0].no_exec = true;
        m[1] = entry(MOUNT_DIR, NULL, "/d");
        req = request(NS_MOUNT, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_tmpfs_root });
        assert_ok(&rep);
}

/* ---- a non-root caller's user namespace ---- */

static int check_userns(void *userdata, char *note, size_t size) {
        struct stat st;
        int fd;

        CHECK(check_shell_output(note, size, "bin\ndev\nfromfd\nlib\nlib64\nproc\ntmp\nusr\n") == 0);
        fd = open("/tmp/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK(stat("/tmp/x", &st) == 0 && st.st_uid == 0);
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "x", 1) == 1);
        close(fd);
        CHECK(access("/proc/self/status", R_OK) == 0);
        CHECK(access("/fromfd/marker", R_OK) == 0);
        fd = open("/usr/nsbox-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd < 0 && errno == EROFS);
        return 0;
}

Test(mount_setup, user_namespace_tree) {
        char marker[160];
        MountEntry m[9];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(marker, sizeof(marker), "%s/marker", tmpdir);
        write_file(marker, "x", 0644);

        m[0] = ro(entry(MOUNT_BIND, "/usr", "/usr"));
        m[1] = entry(MOUNT_SYMLINK, "usr/bin", "/bin");
        m[2] = entry(MOUNT_SYMLINK, "usr/lib", "/lib");
        m[3] = entry(MOUNT_SYMLINK, "usr/lib64", "/lib64");
        m[4] = entry(MOUNT_PROC, NULL, "/proc");
        m[5] = entry(MOUNT_DEV, NULL, "/dev");
        m[6] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[7] = entry(MOUNT_BIND, tmpdir, "/fromfd");
        m[8] = entry(MOUNT_MQUEUE, NULL, "/dev/mqueue");
        req = request(NS_MOUNT | NS_USER | NS_PID | NAMESPACE_BIT(NAMESPACE_IPC), m, 9);
        map_root_to_nobody(&req);
        rep = apply(&req, &(Run) { .caller = &nobody_caller,
                                   .unshare_flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC,
                                   .check = check_userns });
        assert_ok(&rep);
}

/*
 * A bind from an fd is cloned by the daemon, outside the sandbox's user
 * namespace, so nothing would lock it there: a non-root caller's user
 * namespace gets none. Root's may, and so may a non-root caller without one.
 */
Test(mount_setup, fd_bind_refused_in_a_non_root_user_namespace) {
        SpawnError error = {};
        SpawnContext c;
        int fds[1];
        MountEntry m[2];
        SpawnRequest req;
        MountPlan *p = (MountPlan *) 0x1;

        fds[0] = open("/usr", O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fds[0], 0);
        m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[1] = ro(entry(MOUNT_BIND, NULL, "/usr"));
        m[1].source_fd_index = 0;
        req = request(NS_MOUNT | NS_USER, m, 2);
        map_root_to_nobody(&req);
        c = (SpawnContext) { .request = &req, .caller = &nobody_caller, .message_fds = fds, .n_message_fds = 1 };
        cr_assert_eq(mount_plan_new(&c, &p, &error), -EPERM);
        cr_assert_eq(p, (MountPlan *) 0x1, "ret touched on failure");
        cr_assert_str_eq(error.stage, "mount");
        cr_assert_eq(error.error, EPERM);
        cr_assert(strstr(error.message, "mounts[1].sourceFileDescriptor"), "%s", error.message);
        cr_assert(strstr(error.message, "locked"), "%s", error.message);

        {
                _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &root_caller, fds, 1);
                cr_assert_not_null(ok);
        }
        req = request(NS_MOUNT, m, 2);
        {
                _cleanup_(mount_plan_freep) MountPlan *ok = plan_for(&req, &nobody_caller, fds, 1);
                cr_assert_not_null(ok);
        }
        close(fds[0]);
}

/* Host root by its ids, but it acts as the caller: a 0600 root file is out of reach. */
Test(mount_setup, user_namespace_cannot_bind_unreadable_file) {
        char secret[160];
        MountEntry m[1];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
        write_file(secret, "secret", 0600);

        m[0] = entry(MOUNT_BIND, secret, "/secret");
        req = request(NS_MOUNT | NS_USER, m, 1);
        map_root_to_nobody(&req);
        rep = apply(&req, &(Run) { .caller = &nobody_caller, .unshare_flags = CLONE_NEWUSER });
        assert_refused(&rep, EACCES, secret);
}

/*
 * A user namespace must not shed the caller's supplementary groups: a file
 * 0604 root:G is closed to a member of G (the group class applies, not
 * "other"), and 0640 root:G is open to it. With setgroups allowed and denied.
 */
Test(mount_setup, user_namespace_keeps_the_callers_groups) {
        static gid_t groups[] = { 65534, 4242 };
        static const Caller member = { .uid = 65534, .gid = 65534, .groups = groups, .n_groups = 2 };
        char closed[160], open_to_group[160];
        MountEntry m[1];
        SpawnRequest req;

        make_tmpdir();
        snprintf(closed, sizeof(closed), "%s/closed", tmpdir);
        write_file(closed, "secret", 0604);
        cr_assert_eq(chown(closed, 0, 4242), 0);
        snprintf(open_to_group, sizeof(open_to_group), "%s/open", tmpdir);
        write_file(open_to_group, "shared", 0640);
        cr_assert_eq(chown(open_to_group, 0, 4242), 0);

        userns_groups = groups;
        n_userns_groups = ELEMENTSOF(groups);
        for (int deny = 0; deny <= 1; deny++) {
                userns_setgroups_deny = deny;
                req = request(NS_MOUNT | NS_USER, m, 1);
                map_root_to_nobody(&req);

                m[0] = entry(MOUNT_BIND, closed, "/closed");
                {
                        Report rep = apply(&req, &(Run) { .caller = &member, .unshare_flags = CLONE_NEWUSER });
                        cr_assert_eq(rep.r, -EACCES, "setgroups %s: %d %s", deny ? "deny" : "allow", rep.r, rep.error.message);
                        cr_assert(strstr(rep.error.message, closed), "%s", rep.error.message);
                }
                m[0] = entry(MOUNT_BIND, open_to_group, "/open");
                {
                        Report rep = apply(&req, &(Run) { .caller = &member, .unshare_flags = CLONE_NEWUSER });
                        cr_assert_eq(rep.r, 0, "setgroups %s: %d %s", deny ? "deny" : "allow", rep.r, rep.error.message);
                }
        }
        userns_groups = NULL;
        n_userns_groups = 0;
        userns_setgroups_deny = false;
}

/* /proc/self/root of the child is the staging tree with the host at /oldroot: magic links are never followed. */
Test(mount_setup, destinations_never_follow_magic_links) {
        char dest[256], host_path[256];
        int fds[1];
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        snprintf(host_path, sizeof(host_path), "%s/evil", tmpdir);

        snprintf(dest, sizeof(dest), "/proc/self/root/oldroot%s/evil", tmpdir);
        {
                m[0] = entry(MOUNT_PROC, NULL, "/proc");
                m[1] = entry(MOUNT_FILE, NULL, dest);
                m[1].source_fd_index = 0;
                req = request(NS_MOUNT | NS_PID, m, 2);
                rep = apply(&req, &(Run) { .caller = &root_caller, .fds = fds, .n_fds = 1,
                                           .unshare_flags = CLONE_NEWPID });
                assert_refused(&rep, ELOOP, NULL);
                cr_assert(access(host_path, F_OK) < 0 && errno == ENOENT);
        }
        snprintf(dest, sizeof(dest), "/proc/1/root/oldroot%s", tmpdir);
        {
                m[0] = entry(MOUNT_PROC, NULL, "/proc");
                m[1] = entry(MOUNT_TMPFS, NULL, dest);
                req = request(NS_MOUNT | NS_PID, m, 2);
                rep = apply(&req, &(Run) { .caller = &root_caller, .unshare_flags = CLONE_NEWPID });
                assert_refused(&rep, ELOOP, NULL);
        }
        /* nor in sources */
        {
                m[0] = entry(MOUNT_BIND, "/proc/self/root/etc", "/x");
                req = request(NS_MOUNT, m, 1);
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_refused(&rep, ELOOP, NULL);
        }
        close(fds[0]);
}

/* tmpfs entries, and the dirs and files entries ask for, belong to the user the sandbox runs as. */
static int check_owner(void *userdata, char *note, size_t size) {
        const uid_t *uid = userdata;
        struct stat st;

        CHECK(stat("/", &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) == 0755);
        CHECK(stat("/tmp", &st) == 0 && st.st_uid == *uid && st.st_gid == *uid && (st.st_mode & 07777) == 0700);
        CHECK(stat("/home/me", &st) == 0 && st.st_uid == *uid && (st.st_mode & 07777) == 0700);
        /* made on the way to a 0700 directory: narrowed to 0700 as bubblewrap does, and so the user's */
        CHECK(stat("/home", &st) == 0 && st.st_uid == *uid && (st.st_mode & 07777) == 0700);
        CHECK(stat("/home/me/rc", &st) == 0 && st.st_uid == *uid && (st.st_mode & 07777) == 0600);
        return 0;
}

Test(mount_setup, entries_belong_to_the_sandbox_user) {
        int fds[1];
        MountEntry m[3];
        SpawnRequest req;
        Report rep;

        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[0].mode = 0700;
        m[1] = entry(MOUNT_DIR, NULL, "/home/me");
        m[1].mode = 0700;
        m[2] = entry(MOUNT_FILE, NULL, "/home/me/rc");
        m[2].source_fd_index = 0;
        m[2].mode = 0600;
        req = request(NS_MOUNT, m, 3);
        {
                uid_t uid = 65534;
                rep = apply(&req, &(Run) { .caller = &nobody_caller, .fds = fds, .n_fds = 1, .check = check_owner,
                                           .userdata = &uid });
                assert_ok(&rep);
        }
        req.has_user = true;
        req.uid = req.gid = 1000;
        {
                uid_t uid = 1000;
                rep = apply(&req, &(Run) { .caller = &root_caller, .fds = fds, .n_fds = 1, .check = check_owner,
                                           .userdata = &uid });
                assert_ok(&rep);
        }
        close(fds[0]);
}

static int check_remount_ro(void *userdata, char *note, size_t size) {
        int fd;

        CHECK(mkdir("/new", 0755) < 0 && errno == EROFS);
        fd = open("/tmp/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK(mkdir("/data/new", 0755) < 0 && errno == EROFS);
        return 0;
}

Test(mount_setup, remount_ro_is_for_one_mount) {
        MountEntry m[5];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        m[0] = entry(MOUNT_TMPFS, NULL, "/tmp");
        m[1] = entry(MOUNT_BIND, tmpdir, "/data");
        m[2] = entry(MOUNT_REMOUNT_RO, NULL, "/data");
        m[3] = entry(MOUNT_REMOUNT_RO, NULL, "/");
        req = request(NS_MOUNT, m, 4);
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_remount_ro });
        assert_ok(&rep);
        /* the host's directory is still writable */
        cr_assert_eq(mkdir(tmpdir, 0755) < 0 ? errno : 0, EEXIST);
        {
                char path[160];
                snprintf(path, sizeof(path), "%s/w", tmpdir);
                cr_assert_eq(mkdir(path, 0755), 0);
        }

        /* not a mount point */
        {
                m[0] = entry(MOUNT_DIR, NULL, "/x");
                m[1] = entry(MOUNT_REMOUNT_RO, NULL, "/x");
                req = request(NS_MOUNT, m, 2);
                rep = apply(&req, &(Run) { .caller = &root_caller });
                assert_refused(&rep, EINVAL, "/x");
        }
}

static int check_suid_allowed(void *userdata, char *note, size_t size) {
        struct statfs sfs;

        CHECK(statfs("/suid", &sfs) == 0 && !(sfs.f_flags & ST_NOSUID) && !(sfs.f_flags & ST_NODEV));
        CHECK(statfs("/plain", &sfs) == 0 && (sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV));
        CHECK(statfs("/noexec", &sfs) == 0 && (sfs.f_flags & ST_NOEXEC));
        return 0;
}

Test(mount_setup, privileged_caller_may_keep_suid_and_dev) {
        MountEntry m[3];
        SpawnRequest req;
        Report rep;

        m[0] = entry(MOUNT_TMPFS, NULL, "/suid");
        m[0].allow_suid = m[0].allow_dev = true;
        m[1] = entry(MOUNT_TMPFS, NULL, "/plain");
        m[2] = entry(MOUNT_TMPFS, NULL, "/noexec");
        m[2].no_exec = true;
        req = request(NS_MOUNT, m, 3);
        rep = apply(&req, &(Run) { .caller = &root_caller, .check = check_suid_allowed });
        assert_ok(&rep);
}

static int prepare_strict_umask(void *userdata) {
        (void) umask(077);
        return 0;
}

static int check_modes(void *userdata, char *note, size_t size) {
        struct stat st;

        CHECK(stat("/etc", &st) == 0 && (st.st_mode & 07777) == 0755);
        /* made on the way: 0755 without the others' access, which 02770 does not give (bubblewrap's rule) */
        CHECK(stat("/a/b", &st) == 0 && (st.st_mode & 07777) == 0750);
        CHECK(stat("/a/b/c", &st) == 0 && (st.st_mode & 07777) == 02770);
        /* the caller's umask is back */
        CHECK(umask(077) == 077);
        return 0;
}

Test(mount_setup, modes_do_not_depend_on_the_umask) {
        MountEntry m[2];
        SpawnRequest req;
        Report rep;

        m[0] = ro(entry(MOUNT_BIND, "/etc/hostname", "/etc/hostname"));
        m[1] = entry(MOUNT_DIR, NULL, "/a/b/c");
        m[1].mode = 02770;
        req = request(NS_MOUNT, m, 2);
        rep = apply(&req, &(Run) { .caller = &root_caller, .prepare = prepare_strict_umask, .check = check_modes });
        assert_ok(&rep);
}

/* `root` is opened with the caller's rights as well. */
Test(mount_setup, unprivileged_root_needs_access) {
        char private_dir[160], root[200];
        SpawnRequest req;
        Report rep;

        make_tmpdir();
        snprintf(private_dir, sizeof(private_dir), "%s/private", tmpdir);
        snprintf(root, sizeof(root), "%s/root", private_dir);
        cr_assert_eq(mkdir(private_dir, 0700), 0);
        cr_assert_eq(mkdir(root, 0755), 0);

        req = request(NS_MOUNT, NULL, 0);
        req.root = root;
        {
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_refused(&rep, EACCES, root);
        }
        cr_assert_eq(chmod(private_dir, 0711), 0);
        {
                rep = apply(&req, &(Run) { .caller = &nobody_caller });
                assert_ok(&rep);
        }
}

/* ---- a client's fd on a file system that never answers ---- */

static int plan_fuse_root(int fd) {
        MountEntry m[1] = { entry(MOUNT_BIND, NULL, "/x") };
        SpawnRequest req = request(NS_MOUNT, m, 1);
        SpawnContext c = { .request = &req, .caller = &root_caller, .message_fds = &fd, .n_message_fds = 1 };
        SpawnError error = {};
        _cleanup_(mount_plan_freep) MountPlan *p = NULL;

        m[0].source_fd_index = 0;
        return mount_plan_new(&c, &p, &error);
}

/* The daemon builds the plan on its loop: fstat() of a client's fd there would hang it. */
Test(mount_setup, plan_never_asks_the_sources_file_system) {
        test_assert_no_fuse_request(plan_fuse_root);
}
