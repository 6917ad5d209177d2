/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The child side of the spawn path: what runs between clone3() and execve().
 * The daemon built everything beforehand (spawn-child.h); this file only makes
 * raw syscalls and async-signal-safe calls, never allocates, and reports the
 * first failure as a SpawnError on the report pipe before exiting 127.
 *
 * The order, and why:
 *  0. On hybrid hosts, move into the sandbox's cgroup v1 cgroups (clone3()
 *     put us in its cgroup2 one from birth): here rather than in the daemon,
 *     through each tasks file, since a thread moving itself is the one v1
 *     move that waits for no RCU grace period (cgroup_v1_tasks_fds()). A v1
 *     move is not checked against pids.max as a fork is: if it took the
 *     owner's cgroup past its pids.max, fail as the fork would have (EDQUOT,
 *     which the daemon answers as QuotaExceeded). Then a
 *     new cgroup namespace, if the sandbox has one and no joins (which make
 *     it after them): rooted at the cgroups just joined in every hierarchy,
 *     where clone3() would have rooted the v1 ones at the daemon's.
 *  1. Signal dispositions back to default: clone3(CLONE_CLEAR_SIGHAND) did
 *     that for every handled signal, so only the ones the daemon ignores
 *     are left (spawn_note_signal_dispositions()). The daemon blocked every signal
 *     around clone3(), so none of its handlers can run here; the mask stays
 *     full until just before execve(), so a signal sent early (a Kill) stays
 *     pending and reaches the command instead of a half-built child.
 *  2. Close every daemon fd but the ones the plan uses (p->keep_fds): the
 *     daemon's ends of the sync socket and report pipe, so the daemon giving
 *     up reads as EOF here, and its sockets, other sandboxes' pidfds and other
 *     messages' fds, which a child stalled before execve() would keep alive.
 *  3. Join namespaces, the user namespace last (as root of the daemon's user
 *     namespace we hold every capability over the others, whoever owns
 *     them; inside the joined one only over what it owns), then unshare()
 *     what clone3() did not create: the time
 *     namespace of a forked child (clone3(CLONE_NEWTIME) would have put it
 *     into it at once, which freezes its offsets; after unshare() it is the
 *     namespace of our children and of the program after execve(), as
 *     clone3() leaves it for a child on the daemon's memory), and with joins
 *     every other new namespace but pid, so they belong to the joined user
 *     namespace. A
 *     non-root caller's new user namespace is made with the caller's
 *     effective ids, so the caller owns it (without joins the daemon did that
 *     around clone3()). This is before the release because the daemon writes
 *     the id maps and offsets of the namespaces that exist once we are
 *     ready.
 *  4. Tell the daemon we are ready (only when 3. did anything: otherwise it
 *     wrote the maps right after clone3()); wait until it has written uid_map,
 *     setgroups, gid_map and timens_offsets and releases us (only when it has
 *     any of those, or hard limits, to write: SpawnPlan.awaits_release).
 *     Then enter the time namespace ourselves (setns() on time_for_children; on the
 *     daemon's memory, where setns() is refused, at execve()), so that the
 *     process the caller gets is in every namespace the command is in. A
 *     joined pid namespace the daemon entered for us before clone3(). With
 *     disableUserNamespaces, set our user namespace's limit to 0 now, while
 *     we still hold CAP_SYS_RESOURCE there.
 *  5. Bring up loopback in a new network namespace.
 *  6. Mounts and root (mount_plan_apply()), while still privileged.
 *  7. Hostname; then, with commandUserNamespaceFileDescriptor, enter that
 *     user namespace (bubblewrap's --userns2), not dumpable, so the ids and
 *     capabilities below count there.
 *  8. Credentials: drop the bounding set (CAP_SETPCAP is still there) and
 *     keep the permitted set across the change of uid (capabilities.c decides
 *     the sets; CAP_SYS_TIME, the daemon's own, never leaves it outside a
 *     user namespace); setgroups, setresgid,
 *     setresuid as raw syscalls (glibc's wrappers would try to signal threads
 *     that exist only in the daemon); then the plan's effective, permitted,
 *     inheritable and ambient sets, checked with capget.
 *     Where setgroups() is skipped (a new user namespace that denies it, a
 *     joined one without additionalGids), the groups are the ones the daemon
 *     cloned us with: a non-root caller's own.
 *     With blockFileDescriptor, wait until it reads (bubblewrap's --block-fd,
 *     after its setup too), under the daemon's spawn deadline: the wait is
 *     this process's, never the daemon's.
 *  9. Read the callers' classic-BPF programs (their fds are about to move).
 *     File descriptors: park every source above the highest target, dup2()
 *     them into place, close everything else; the report fd and the nsbox-init
 *     program stay (CLOEXEC).
 * 10. setsid(), unless newSession is false (which only root may have: for
 *     anyone else it means a new session that must get the terminal passed
 *     as stdin, stdout or stderr); a terminal on stdin that controls no other
 *     session becomes the controlling terminal.
 * 11. no_new_privs (always), the fd limit the daemon was started with
 *     (a request's own the command sets last before its execve(), once the
 *     fds above are in place: a limit of 3 leaves room for stdio alone),
 *     umask 022, cwd (as the sandbox's user).
 * 12. With init, become the sandbox's pid 1 and fork the command
 *     (sandbox-init.c); the command, or we without init, unblocks signals,
 *     marks the report (so the daemon can tell exec from death), loads the
 *     seccomp filters (last: nothing above has to pass them) and execs,
 *     searching PATH when argv[0] has no slash.
 *
 * A warm-pool entry (SpawnPlan.pooled) stops after 4., reads its namespace
 * inodes and brings lo up (5.), which depend on its shape alone, parks, and
 * goes on from 4. with the plan of the request it is taken for
 * (await_request()).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include "sandbox-init.h"
#include "spawn-child.h"

void spawn_child_report(int report_fd, const SpawnError *e) {
        ssize_t n;

        do
                n = write(report_fd, e, sizeof *e);
        while (n < 0 && errno == EINTR);
}

_noreturn_ static void child_fail(const SpawnPlan *p, const char *stage, int error, const char *context) {
        SpawnError e;

        spawn_error_set(&e, stage, error, context);
        spawn_child_report(p->child_report_fd, &e);
        _exit(SPAWN_CHILD_FAILED);
}

/* CLONE_CLEAR_SIGHAND reset every handler; what is left are the signals the daemon ignores (execve() keeps
 * those ignored): the few in p->ignored_signals, not a system call for each of the 64. */
static void reset_signal_dispositions(const SpawnPlan *p) {
        struct sigaction sa = { .sa_handler = SIG_DFL };

        for (int sig = 1; sig < _NSIG; sig++)
                if (sigismember(&p->ignored_signals, sig) == 1 && sigaction(sig, &sa, NULL) < 0)
                        child_fail(p, "signals", errno, NULL);
}

int spawn_take_owner_ids(uid_t uid, gid_t gid) {
        if (syscall(SYS_setresgid, (gid_t) -1, gid, (gid_t) -1) < 0)
                return -errno;
        if (syscall(SYS_setresuid, (uid_t) -1, uid, (uid_t) -1) < 0)
                return -errno;
        /* Allowed by the real ids, which are still root's. */
        (void) syscall(SYS_setfsuid, 0);
        (void) syscall(SYS_setfsgid, 0);
        if ((uid_t) syscall(SYS_setfsuid, (uid_t) -1) != 0 || (gid_t) syscall(SYS_setfsgid, (gid_t) -1) != 0)
                return -EPERM;
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

/* The files the map writer writes, in this order: "deny" is only taken before gid_map is written. */
static const char *const map_files[] = { "uid_map", "setgroups", "gid_map" };

/*
 * The map writer: forked by the child while both are still in the parent
 * user namespace, with every capability there, and the child's /proc
 * directory (through the host's /proc) open. The kernel takes a namespace's
 * maps only from a process in its parent or in itself, and the child is
 * neither once it made its own, nor is the daemon: this one is. It waits for
 * the child's word that the namespace exists, writes what the daemon would
 * have, answers (errno, step) and exits. It dies with the child
 * (PDEATHSIG), so a stopped or killed child leaves no copy of the daemon's
 * memory behind; the sandbox it runs in can stop it, which only delays this
 * spawn until the daemon's deadline kills the child.
 */
_noreturn_ static void map_writer_run(const SpawnPlan *p, int proc_dir, int sock, pid_t child) {
        const char *texts[ELEMENTSOF(map_files)] = { p->child_uid_map, p->child_setgroups, p->child_gid_map };
        int reply[2] = { 0, 0 };
        ssize_t n;
        char c;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != child)
                _exit(SPAWN_CHILD_FAILED);
        do
                n = recv(sock, &c, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(SPAWN_CHILD_FAILED);

        for (size_t i = 0; i < ELEMENTSOF(map_files) && reply[0] == 0; i++) {
                size_t len;
                int fd;

                if (!texts[i])
                        continue;
                len = strlen(texts[i]);
                fd = openat(proc_dir, map_files[i], O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        reply[0] = errno;
                else {
                        n = write(fd, texts[i], len);
                        reply[0] = n < 0 ? errno : (size_t) n != len ? EIO : 0;
                        (void) close(fd);
                }
                reply[1] = (int) i;
        }
        (void) send(sock, reply, sizeof reply, MSG_NOSIGNAL);
        _exit(reply[0] == 0 ? 0 : SPAWN_CHILD_FAILED);
}

static void map_writer_end(pid_t pid, bool kill_it) {
        if (kill_it)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
                ;
}

/*
 * A new user namespace inside the joined one (SpawnPlan.maps_by_child):
 * fork the map writer, take the owner's ids as the parent namespace sees
 * them, unshare(), and have the writer write the maps before anything else
 * happens in the new namespaces.
 */
static void unshare_with_map_writer(const SpawnPlan *p) {
        struct clone_args args = { .exit_signal = SIGCHLD };
        int sock[2], reply[2] = { 0, 0 }, proc_dir;
        pid_t self = getpid();
        ssize_t n;
        long pid;
        char c = 'u';

        proc_dir = openat(p->proc_fd, "self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc_dir < 0)
                child_fail(p, "uid_map", errno, "/proc/self");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
                child_fail(p, "uid_map", errno, "socketpair");

        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                child_fail(p, "uid_map", errno, "the map writer");
        if (pid == 0) {
                (void) close(sock[0]);
                map_writer_run(p, proc_dir, sock[1], self);
        }
        (void) close(sock[1]);
        (void) close(proc_dir);

        /* The owner's ids, as the parent user namespace maps them (the kernel wants them mapped there); the
         * effective capabilities go with the change of uid, which unshare() does not need. */
        if (syscall(SYS_setresgid, (gid_t) -1, p->owner_gid, (gid_t) -1) < 0 ||
            syscall(SYS_setresuid, (uid_t) -1, p->owner_uid, (uid_t) -1) < 0) {
                int error = errno;

                map_writer_end((pid_t) pid, true);
                child_fail(p, "unshare", error, "the caller's ids as the user namespace's owner");
        }
        if (unshare((int) p->unshare_flags) < 0) {
                int error = errno;

                map_writer_end((pid_t) pid, true);
                child_fail(p, "unshare", error, NULL);
        }

        do
                n = send(sock[0], &c, 1, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n == 1)
                do
                        n = recv(sock[0], reply, sizeof reply, 0);
                while (n < 0 && errno == EINTR);
        map_writer_end((pid_t) pid, n != (ssize_t) sizeof reply);
        (void) close(sock[0]);
        if (n != (ssize_t) sizeof reply)
                child_fail(p, "uid_map", ECHILD, "the map writer ended without an answer");
        if (reply[0] != 0)
                child_fail(p, reply[1] >= 0 && (size_t) reply[1] < ELEMENTSOF(map_files) ? map_files[reply[1]] : "uid_map",
                           reply[0], NULL);
}

static void join_namespaces(const SpawnPlan *p) {
        int r;

        /* Inside a joined user namespace its root could otherwise trace this copy of the daemon's memory. */
        if (p->joins_user && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                child_fail(p, "setns", errno, "PR_SET_DUMPABLE");

        for (size_t i = 0; i < p->n_joins; i++) {
                /* The user namespace comes last; from it on, files are the caller's to reach (mount-setup.c). */
                if (p->joins[i].nstype == CLONE_NEWUSER) {
                        r = mount_plan_take_caller_ids(p->mounts);
                        if (r < 0)
                                child_fail(p, "setns", -r, "the caller's file system ids");
                }
                if (setns(p->joins[i].fd, p->joins[i].nstype) < 0)
                        child_fail(p, "setns", errno, p->joins[i].name);
        }

        if (p->maps_by_child) {
                unshare_with_map_writer(p);
                return;
        }

        /* The joins needed root's rights; the new user namespace must be the caller's. */
        if (p->userns_as_caller && (p->unshare_flags & CLONE_NEWUSER)) {
                r = spawn_take_owner_ids(p->owner_uid, p->owner_gid);
                if (r < 0)
                        child_fail(p, "unshare", -r, "the caller's ids as the user namespace's owner");
        }

        if (p->unshare_flags != 0 && unshare((int) p->unshare_flags) < 0)
                child_fail(p, "unshare", errno, NULL);
}

/*
 * The process outside a pid namespace it made (SpawnPlan.fork_pid1): the one
 * the daemon tracks, as the sandbox's top process. It holds nothing (every fd
 * closed), forwards every signal it can catch to pid 1 and exits as pid 1
 * did; SIGKILL ends it, and pid 1 with it (PR_SET_PDEATHSIG), which ends the
 * namespace. Only what it is sent can wake it: nothing pid 1 does can make it
 * wait on anything else.
 */
_noreturn_ static void supervise_pid1(pid_t pid1) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t all, one;
        siginfo_t si;
        int status, sig;

        (void) close_range(0, ~0U, 0);
        sigfillset(&all);
        for (;;) {
                sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        (void) kill(pid1, sig);
                        continue;
                }
                if (waitpid(pid1, &status, WNOHANG | __WALL) != pid1)
                        continue;
                if (WIFEXITED(status))
                        _exit(WEXITSTATUS(status));
                sig = WTERMSIG(status);
                (void) sigaction(sig, &sa, NULL);
                sigemptyset(&one);
                sigaddset(&one, sig);
                (void) sigprocmask(SIG_UNBLOCK, &one, NULL);
                (void) kill(getpid(), sig);
                _exit(128 + sig);
        }
}

/*
 * Pid 1 dies with the process outside (which a Kill with SIGKILL ends, and
 * the daemon's deadline): PR_SET_PDEATHSIG, set again once the credentials
 * are final (a change of ids clears it); its pidfd tells whether it died
 * before that.
 */
static void tie_to_parent(SpawnPlan *p, bool last) {
        struct pollfd pfd = { .fd = p->pid1_parent_fd, .events = POLLIN };

        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                child_fail(p, "pid 1", errno, "PR_SET_PDEATHSIG");
        if (poll(&pfd, 1, 0) != 0)
                _exit(SPAWN_CHILD_FAILED);
        if (last) {
                (void) close(p->pid1_parent_fd);
                p->pid1_parent_fd = -EBADF;
        }
}

/*
 * The pid namespace unshare() made is our children's: fork its pid 1, which
 * goes on with the spawn (mounts, a /proc of its own, init or the command),
 * and stay outside as the process the daemon tracks. After the release, so
 * the daemon's rlimits and time offsets are in place before pid 1 exists.
 */
static void fork_pid1(SpawnPlan *p) {
        struct clone_args args = { .exit_signal = SIGCHLD };
        long pid;
        int self;

        if (!p->fork_pid1)
                return;
        self = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (self < 0)
                child_fail(p, "pid 1", errno, "pidfd_open");
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                child_fail(p, "pid 1", errno, "clone3");
        if (pid == 0) {
                p->pid1_parent_fd = self;
                tie_to_parent(p, false);
                return;
        }
        supervise_pid1((pid_t) pid);
}

static void wait_for_release(SpawnPlan *p) {
        char c = SPAWN_SYNC_READY;
        ssize_t n;

        if (!p->awaits_release) {
                /* Init's is where it learns that the spawn was answered (sandbox-init.c). */
                if (!p->init) {
                        (void) close(p->child_sync_fd);
                        p->child_sync_fd = -EBADF;
                }
                return;
        }
        if (spawn_plan_needs_ready(p)) {
                do
                        n = send(p->child_sync_fd, &c, 1, MSG_NOSIGNAL);
                while (n < 0 && errno == EINTR);
                /* The daemon gave up on us; there is nobody to report to. */
                if (n != 1)
                        _exit(SPAWN_CHILD_FAILED);
        }

        do
                n = recv(p->child_sync_fd, &c, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 1 || c != SPAWN_SYNC_GO)
                _exit(SPAWN_CHILD_FAILED);

        /* A warm-pool entry's is where its request comes; init's is where it learns that the spawn was
         * answered (sandbox-init.c). */
        if (p->pooled || p->init)
                return;
        (void) close(p->child_sync_fd);
        p->child_sync_fd = -EBADF;
}

/*
 * clone3() or unshare() made the namespace of our children; now that the
 * daemon has written its offsets (which entering it would freeze), we enter
 * it too, so the process the caller gets (this one, init or not) and the
 * command share it. Through the host's /proc the daemon opened: the mounts
 * joined or made by now may hide or replace /proc.
 *
 * On the daemon's memory setns() is refused (EUSERS: the kernel wants a
 * process alone on its memory there); execve() enters it instead, for us or
 * the command we are, and for init when it execs nsbox-init, which it does
 * before the daemon can learn that the spawn succeeded.
 */
static void enter_time_namespace(SpawnPlan *p) {
        int fd;

        if (!spawn_plan_makes_time_namespace(p) || spawn_plan_time_namespace_entered_at_exec(p))
                return;
        fd = openat(p->proc_fd, "self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                child_fail(p, "setns", errno, "time_for_children");
        if (setns(fd, CLONE_NEWTIME) < 0)
                child_fail(p, "setns", errno, "time");
        (void) close(fd);
}

/*
 * The namespaces are final now (the time namespace was the last one entered):
 * their inode numbers go to the daemon with the exec mark, for the reply
 * (bubblewrap's --info-fd prints them). Read here, through the host's /proc,
 * since the command may be gone (and its links with it) by the time the
 * daemon replies, and the sandbox's tree may have no /proc. Init and the
 * command inherit them unchanged. Only those made or joined: the plan has the
 * daemon's own for the rest.
 */
static void record_namespace_inodes(SpawnPlan *p) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                char path[48] = "self/ns/";
                const char *name = namespace_type_to_proc_name(t);
                struct stat st;

                if (!(p->namespaces_to_record & NAMESPACE_BIT(t)))
                        continue;
                strncat(path, name, sizeof path - strlen(path) - 1);
                /* The one execve() enters. */
                if (t == NAMESPACE_TIME && spawn_plan_time_namespace_entered_at_exec(p))
                        strncat(path, "_for_children", sizeof path - strlen(path) - 1);
                p->namespace_inodes[t] = fstatat(p->proc_fd, path, &st, 0) >= 0 ? (uint64_t) st.st_ino : 0;
        }
        (void) close(p->proc_fd);
        p->proc_fd = -EBADF;
}

static int loopback_up(void) {
        struct ifreq ifr = { .ifr_name = "lo" };
        int fd, r = 0;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else if (!(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        (void) close(fd);
        return r;
}

static void setup_network(const SpawnPlan *p) {
        int r;

        if (!p->loopback_up)
                return;
        r = loopback_up();
        if (r < 0)
                child_fail(p, "loopback", -r, "lo");
}

static void setup_mounts(const SpawnPlan *p) {
        SpawnError e;

        if (!p->mounts)
                return;
        if (mount_plan_apply(p->mounts, &e) < 0) {
                spawn_child_report(p->child_report_fd, &e);
                _exit(SPAWN_CHILD_FAILED);
        }
}

static void setup_hostname(const SpawnPlan *p) {
        if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
                child_fail(p, "hostname", errno, p->hostname);
}

/* bubblewrap's --userns2: the tree is built, the command's ids and capabilities count in this one. Its root
 * could otherwise trace this copy of the daemon's memory until execve(). */
static void enter_command_user_namespace(const SpawnPlan *p) {
        if (p->command_userns_fd < 0)
                return;
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                child_fail(p, "setns", errno, "PR_SET_DUMPABLE");
        if (setns(p->command_userns_fd, CLONE_NEWUSER) < 0)
                child_fail(p, "setns", errno, "commandUserNamespaceFileDescriptor");
}

/*
 * Capabilities are set around the change of uid (capabilities.c): the bounding
 * set is dropped first, while CAP_SETPCAP is still there, and the permitted
 * set is kept across setresuid() so the plan's sets can be set after it.
 */
static void setup_credentials(const SpawnPlan *p) {
        int r;

        r = capability_plan_apply_before_setuid(&p->caps);
        if (r < 0)
                child_fail(p, "capabilities", -r, "bounding set");

        if (p->set_groups && syscall(SYS_setgroups, p->n_groups, p->groups) < 0)
                child_fail(p, "credentials", errno, "setgroups");
        if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
                child_fail(p, "credentials", errno, "setresgid");
        if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
                child_fail(p, "credentials", errno, "setresuid");
        /* fs.suid_dumpable decides what a change of uid leaves; until execve() this is still a copy of the
         * daemon's memory, which the sandbox's user (and the owner of its user namespace) must not read. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                child_fail(p, "credentials", errno, "PR_SET_DUMPABLE");

        r = capability_plan_apply_after_setuid(&p->caps);
        if (r < 0)
                child_fail(p, "capabilities", -r, NULL);
}

/*
 * bubblewrap's --disable-userns: the limit of the sandbox's own user namespace
 * goes to 0. The kernel checks it for every namespace created below, and the
 * sandbox cannot raise it again: CAP_SYS_RESOURCE is left out of its sets.
 */
static void limit_user_namespaces(const SpawnPlan *p) {
        int fd;

        if (p->proc_sys_fd < 0)
                return;
        fd = openat(p->proc_sys_fd, "user/max_user_namespaces", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                child_fail(p, "disable-userns", errno, "user.max_user_namespaces");
        if (write(fd, "0\n", 2) != 2)
                child_fail(p, "disable-userns", errno, "user.max_user_namespaces");
        (void) close(fd);
}

/* poll() first: a non-blocking fd would not wait in read(). What it reads is the caller's business. */
static void wait_for_block_fd(const SpawnPlan *p) {
        struct pollfd pfd = { .fd = p->block_fd, .events = POLLIN };
        char c;

        if (p->block_fd < 0)
                return;
        while (poll(&pfd, 1, -1) < 0)
                if (errno != EINTR)
                        child_fail(p, "block", errno, "blockFileDescriptor");
        (void) read(p->block_fd, &c, 1);
}

/* "seccompFileDescriptors[i]" and a suffix, without snprintf(), which is not async-signal-safe. */
static void seccomp_fd_context(char *buf, size_t size, size_t i, const char *suffix) {
        static const char prefix[] = "seccompFileDescriptors[";
        char digits[24];
        size_t n = 0, pos = 0;

        do
                digits[n++] = (char) ('0' + i % 10);
        while ((i /= 10) > 0 && n < sizeof digits);
        for (const char *c = prefix; *c && pos + 1 < size; c++)
                buf[pos++] = *c;
        while (n > 0 && pos + 1 < size)
                buf[pos++] = digits[--n];
        if (pos + 1 < size)
                buf[pos++] = ']';
        for (const char *c = suffix; *c && pos + 1 < size; c++)
                buf[pos++] = *c;
        buf[pos] = '\0';
}

/* The callers' classic-BPF programs, read to EOF before the fds are rearranged (bubblewrap reads them too). */
static void read_seccomp_programs(SpawnPlan *p) {
        const size_t max = (BPF_MAXINSNS + 1) * sizeof(struct sock_filter);

        for (size_t i = 0; i < p->n_seccomp_fds; i++) {
                SpawnSeccompFd *f = &p->seccomp_fds[i];
                char *buf = (char *) f->filter, context[64];
                size_t have = 0;

                for (;;) {
                        ssize_t n = read(f->fd, buf + have, max - have);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                seccomp_fd_context(context, sizeof context, i, "");
                                child_fail(p, "seccomp", errno, context);
                        }
                        if (n == 0 || (have += (size_t) n) == max)
                                break;
                }
                if (have == 0 || have % sizeof(struct sock_filter) != 0 || have == max) {
                        seccomp_fd_context(context, sizeof context, i, ": not a BPF program");
                        child_fail(p, "seccomp", EINVAL, context);
                }
                f->n_filter = (unsigned short) (have / sizeof(struct sock_filter));
        }
}

int spawn_child_load_seccomp(const SpawnPlan *p, ssize_t *ret_index) {
        int r;

        /* Init and its command, or the child, have it already. */
        if (p->seccomp && !spawn_plan_command_inherits_profile(p)) {
                r = seccomp_program_load(p->seccomp->filter, p->seccomp->n_filter, p->seccomp->flags);
                if (r < 0) {
                        *ret_index = -1;
                        return r;
                }
        }
        for (size_t i = 0; i < p->n_seccomp_fds; i++) {
                r = seccomp_program_load(p->seccomp_fds[i].filter, p->seccomp_fds[i].n_filter, 0);
                if (r < 0) {
                        *ret_index = (ssize_t) i;
                        return r;
                }
        }
        return 0;
}

void spawn_child_seccomp_error(SpawnError *e, int error, ssize_t index) {
        char context[64];

        if (index < 0)
                spawn_error_set(e, "seccomp", error, "seccomp");
        else {
                seccomp_fd_context(context, sizeof context, (size_t) index, "");
                spawn_error_set(e, "seccomp", error, context);
        }
}

static void close_gaps(int first, int last) {
        if (first <= last)
                (void) close_range((unsigned) first, (unsigned) last, 0);
}

/*
 * A source may sit on another entry's target number: parking every source
 * above the highest target first means no dup2() can clobber a source that is
 * still needed. The fds the child keeps for itself past execve()'s
 * close-on-exec (the report fd, the nsbox-init program, init's sync socket)
 * end up right above the highest target, in that order.
 */
static void setup_fds(SpawnPlan *p) {
        int *carried[] = { &p->child_report_fd, &p->init_program_fd, &p->child_sync_fd };
        static const char *const carried_names[] = { "report pipe", "init program", "sync socket" };
        int above = p->max_target + 1, fd, gap, next;

        /* Parked in this order, so none sits where an earlier one goes below. */
        for (size_t i = 0; i < ELEMENTSOF(carried); i++) {
                if (*carried[i] < 0)
                        continue;
                fd = fcntl(*carried[i], F_DUPFD_CLOEXEC, above);
                if (fd < 0)
                        child_fail(p, "fds", errno, carried_names[i]);
                *carried[i] = fd;
        }

        for (size_t i = 0; i < p->n_fds; i++) {
                p->fds[i].moved = fcntl(p->fds[i].source, F_DUPFD_CLOEXEC, above);
                if (p->fds[i].moved < 0)
                        child_fail(p, "fds", errno, NULL);
        }

        /* dup2() leaves the new fd without CLOEXEC: exactly the ones the command inherits. */
        for (size_t i = 0; i < p->n_fds; i++)
                if (dup2(p->fds[i].moved, p->fds[i].target) < 0)
                        child_fail(p, "fds", errno, NULL);

        /* Every parked copy is now either in place or unneeded, so the carried ones may take the first slots
         * above. */
        next = above;
        for (size_t i = 0; i < ELEMENTSOF(carried); i++) {
                if (*carried[i] < 0)
                        continue;
                if (*carried[i] != next && dup3(*carried[i], next, O_CLOEXEC) < 0)
                        child_fail(p, "fds", errno, carried_names[i]);
                *carried[i] = next++;
        }
        if (close_range((unsigned) next, ~0U, 0) < 0)
                child_fail(p, "fds", errno, "close_range");
        if (p->moved_eof_fds) {
                p->moved_eof_fds[0] = p->child_report_fd;
                if (p->moved_eof_fds[1] >= 0)
                        p->moved_eof_fds[1] = p->child_sync_fd;
        }

        gap = -1;
        for (fd = 0; fd <= p->max_target; fd++) {
                if (!p->is_target[fd]) {
                        if (gap < 0)
                                gap = fd;
                        continue;
                }
                if (gap >= 0)
                        close_gaps(gap, fd - 1);
                gap = -1;
        }
        if (gap >= 0)
                close_gaps(gap, p->max_target);
}

/*
 * A terminal passed as stdin becomes the new session's controlling terminal, so
 * job control and ^C work. Without force, the kernel refuses a terminal that
 * already controls another session: a caller's own terminal, passed as stdin,
 * never becomes the sandbox's (where TIOCSTI could type into it), and is never
 * taken from the caller's session.
 *
 * With require_terminal (a non-root caller's newSession: false, which must
 * not share the daemon's session) the terminal may be on stdin, stdout or
 * stderr, and not getting one is a failure rather than a session without.
 */
static void acquire_controlling_terminal(SpawnPlan *p) {
        int error = ENOTTY;

        p->controlling_tty = -1;
        for (int fd = STDIN_FILENO; fd <= (p->require_terminal ? STDERR_FILENO : STDIN_FILENO); fd++) {
                if (ioctl(fd, TIOCSCTTY, 0) >= 0) {
                        p->controlling_tty = fd;
                        return;
                }
                /* A terminal that controls another session says so; keep that over "not a terminal". */
                if (errno != ENOTTY && errno != EBADF)
                        error = errno;
        }
        if (p->require_terminal)
                child_fail(p, "session", error,
                           error == EPERM ? "the terminal controls another session" :
                                            "newSession false needs a terminal as stdin, stdout or stderr");
}

static void setup_process(SpawnPlan *p) {
        if (p->new_session) {
                if (setsid() < 0)
                        child_fail(p, "session", errno, NULL);
                acquire_controlling_terminal(p);
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(p, "no_new_privs", errno, NULL);
        /* Programs using select() break with fd numbers above 1024: hand back the usual limit. A request's
         * own the command sets (spawn_child_exec_command()). */
        if (!p->nofile_set && setrlimit(RLIMIT_NOFILE, &p->nofile) < 0)
                child_fail(p, "rlimit", errno, NULL);
        /* What the daemon could not set for us (set_rlimits() in spawn.c): never a raise. */
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit want = { p->rlimits[i].soft, p->rlimits[i].hard }, now;
                int resource = p->rlimits[i].type;

                if (resource == RLIMIT_NOFILE)
                        continue;
                if (getrlimit((__rlimit_resource_t) resource, &now) < 0 ||
                    ((now.rlim_cur != want.rlim_cur || now.rlim_max != want.rlim_max) &&
                     setrlimit((__rlimit_resource_t) resource, &want) < 0))
                        child_fail(p, "rlimit", errno, rlimit_type_to_string(resource));
        }
        (void) umask(0022);
        /* As bubblewrap keeps the caller's directory only where it exists: the fallbacks in order, and the
         * error of cwd itself if none can be entered. */
        if (chdir(p->cwd) < 0) {
                int error = errno;
                bool entered = false;

                for (char *const *f = p->cwd_fallbacks; f && *f && !entered; f++)
                        entered = chdir(*f) >= 0;
                if (!entered)
                        child_fail(p, "cwd", error, p->cwd);
        }
}

void spawn_child_exec(const SpawnPlan *p, SpawnError *e) {
        const char *name = p->program;
        char path[PATH_MAX];
        size_t name_len;
        bool denied = false;

        if (strchr(name, '/') || !p->search_path) {
                (void) execve(name, p->argv, p->envp);
                spawn_error_set(e, "execve", errno, name);
                return;
        }

        name_len = strlen(name);
        for (char *const *dir = p->search_path; *dir; dir++) {
                size_t dir_len = strlen(*dir);

                if (dir_len + 1 + name_len + 1 > sizeof path)
                        continue;
                memcpy(path, *dir, dir_len);
                path[dir_len] = '/';
                memcpy(path + dir_len + 1, name, name_len + 1);

                (void) execve(path, p->argv, p->envp);
                switch (errno) {
                case EACCES:
                        denied = true;
                        break;
                case ENOENT:
                case ENOTDIR:
                case ELOOP:
                case ENAMETOOLONG:
                        break;
                default:
                        spawn_error_set(e, "execve", errno, path);
                        return;
                }
        }

        spawn_error_set(e, "execve", denied ? EACCES : ENOENT, name);
}

/* A failure after the mark: on report_fd, or in late_error once the fd is let go of (spawn-child.h). */
_noreturn_ static void fail_after_mark(int report_fd, SpawnError *late_error, const SpawnError *e) {
        if (late_error) {
                *late_error = *e;
                /* Read by init once the vfork-style wait ends, which this exit ends. */
                __atomic_thread_fence(__ATOMIC_RELEASE);
        } else
                spawn_child_report(report_fd, e);
        _exit(SPAWN_CHILD_FAILED);
}

_noreturn_ void spawn_child_exec_command(const SpawnPlan *p, int report_fd, SpawnError *late_error) {
        SpawnError e;
        sigset_t none;

        /* Outside a pid namespace nothing else ends the command when init is killed (SIGKILL cannot be
         * forwarded): tie it to init, which may be gone already. As pid 1 of a pid namespace, init's death
         * ends the namespace. */
        if (p->init && p->init_pid != 1 &&
            (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != p->init_pid))
                _exit(SPAWN_CHILD_FAILED);

        /* Under init, the terminal's signals (^C, SIGWINCH) must reach the command, not init:
         * its own process group in the foreground. SIGTTOU is still blocked, so this works. */
        if (p->init && p->controlling_tty >= 0) {
                pid_t self = getpid();

                if (setpgid(0, 0) < 0 || ioctl(p->controlling_tty, TIOCSPGRP, &self) < 0) {
                        spawn_error_set(&e, "session", errno, "foreground process group");
                        spawn_child_report(report_fd, &e);
                        _exit(SPAWN_CHILD_FAILED);
                }
        }

        /* The request's fd limit, once every fd of the spawn's own is in place: it binds what the command
         * opens, as under prlimit(1), never the report pipe or init's fds, which are above it already. */
        if (p->nofile_set && setrlimit(RLIMIT_NOFILE, &p->nofile) < 0) {
                spawn_error_set(&e, "rlimit", errno, "RLIMIT_NOFILE");
                spawn_child_report(report_fd, &e);
                _exit(SPAWN_CHILD_FAILED);
        }

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* Last before execve(), after a pending signal had its chance: only from here does EOF mean exec. */
        e = (SpawnError) { .stage = SPAWN_REPORT_EXEC };
        memcpy(e.namespace_inodes, p->namespace_inodes, sizeof e.namespace_inodes);
        spawn_child_report(report_fd, &e);
        /* Before the filters, which may deny close(): from here init's copy is what keeps the pipe open. */
        if (late_error)
                (void) close(report_fd);

        /* The very last step: nothing of the setup above has to pass the filters. A failure here
         * still reaches the daemon: an error after the mark is an error. */
        ssize_t index;
        int r = spawn_child_load_seccomp(p, &index);
        if (r < 0) {
                spawn_child_seccomp_error(&e, -r, index);
                fail_after_mark(report_fd, late_error, &e);
        }

        spawn_child_exec(p, &e);
        fail_after_mark(report_fd, late_error, &e);
}

/* p->keep_fds is sorted and holds the sync and report fds, so a failure here can still be reported. */
static void close_unplanned_fds(SpawnPlan *p) {
        unsigned next = 0;

        for (size_t i = 0; i < p->n_keep_fds; i++) {
                unsigned fd = (unsigned) p->keep_fds[i];

                if (fd > next && close_range(next, fd - 1, 0) < 0)
                        child_fail(p, "fds", errno, "close_range");
                next = fd + 1;
        }
        if (close_range(next, ~0U, 0) < 0)
                child_fail(p, "fds", errno, "close_range");
        p->parent_sync_fd = p->parent_report_fd = -EBADF;
}

/* A decimal number at the start of a control file's text; UINT64_MAX for "max". */
static bool read_counter(int fd, uint64_t *ret) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        uint64_t v = 0;

        if (n <= 0)
                return false;
        buf[n] = 0;
        if (buf[0] == 'm') {
                *ret = UINT64_MAX;
                return true;
        }
        for (char *c = buf; *c >= '0' && *c <= '9'; c++)
                v = v * 10 + (uint64_t) (*c - '0');
        *ret = v;
        return true;
}

static void join_v1_cgroups(const SpawnPlan *p) {
        uint64_t current, max;

        for (size_t i = 0; i < p->n_cgroup_tasks_fds; i++)
                if (write(p->cgroup_tasks_fds[i], "0", 1) != 1)
                        child_fail(p, "cgroup", errno, "cgroup v1 tasks");

        if (p->user_pids_current_fd >= 0 && p->user_pids_max_fd >= 0 && read_counter(p->user_pids_max_fd, &max) &&
            max != UINT64_MAX && read_counter(p->user_pids_current_fd, &current) && current > max)
                child_fail(p, "cgroup", EDQUOT, "the owner's cgroup is at its pids.max");
        /* The sandbox it joins (an Exec), or those above (a nested sandbox), as their TasksMax says. */
        for (size_t i = 0; i < p->n_cgroup_pids_checks; i++) {
                const int *pair = p->cgroup_pids_check_fds + 2 * i;

                if (read_counter(pair[1], &max) && max != UINT64_MAX && read_counter(pair[0], &current) &&
                    current > max)
                        child_fail(p, "cgroup", EAGAIN, "the sandbox's cgroup is at its pids.max");
        }
}

_noreturn_ static void run_released(SpawnPlan *p);

typedef struct ReceivedFds {
        const int *fds;
        size_t n;
        bool bad;
} ReceivedFds;

static void take_received_fd(int *fd, bool owned, void *userdata) {
        ReceivedFds *r = userdata;

        if (*fd < 0)
                return;
        if ((size_t) *fd >= r->n) {
                r->bad = true;
                *fd = -EBADF;
                return;
        }
        *fd = r->fds[*fd];
}

/*
 * A warm-pool entry: released, its namespaces made and their maps written,
 * it says it is parked and waits for the request it is taken for, holding
 * nothing of anyone's. What comes is the plan's address (the daemon's
 * memory is ours) and its fds, whose numbers in the plan are indexes into
 * the list; from there on it is the request's child, from the same point
 * on as a fresh one after its release. EOF (the entry discarded) ends it.
 */
_noreturn_ static void await_request(SpawnPlan *pool) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(SPAWN_POOL_FDS_MAX * sizeof(int))];
        } control;
        SpawnPlan *hit = NULL, copy;
        struct iovec iov = { .iov_base = &hit, .iov_len = sizeof hit };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf };
        ReceivedFds received = {};
        char c = SPAWN_SYNC_PARKED;
        ssize_t n;

        /* What depends on the shape alone is done before parking: the namespaces are final (a shape the
         * pool serves has no time namespace), and lo comes up in a new network namespace. */
        record_namespace_inodes(pool);
        setup_network(pool);

        do
                n = send(pool->child_sync_fd, &c, 1, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(SPAWN_CHILD_FAILED);
        do
                n = recvmsg(pool->child_sync_fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof hit || !hit)
                _exit(SPAWN_CHILD_FAILED);
        if (mh.msg_flags & MSG_CTRUNC)
                child_fail(pool, "prepare", EMSGSIZE, "the request's fds");
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
                        received.fds = (const int *) CMSG_DATA(cmsg);
                        received.n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                }
        copy = *hit;
        if (!copy.init)
                (void) close(pool->child_sync_fd);
        spawn_plan_visit_fds(&copy, take_received_fd, &received);
        copy.child_report_fd = pool->child_report_fd;
        copy.child_sync_fd = copy.init ? pool->child_sync_fd : -EBADF;
        copy.parent_sync_fd = copy.parent_report_fd = -EBADF;
        copy.moved_eof_fds = pool->moved_eof_fds;
        memcpy(copy.namespace_inodes, pool->namespace_inodes, sizeof copy.namespace_inodes);
        copy.done_ahead = true;
        /* The request's profile is the default one exactly when the entry's shape says so. */
        copy.profile_inherited = pool->profile_inherited;
        if (received.bad)
                child_fail(&copy, "prepare", EBADF, "the request's fds");
        run_released(&copy);
}

_noreturn_ void spawn_child_run(SpawnPlan *p) {
        join_v1_cgroups(p);
        /* Rooted where it is now in every hierarchy, its own cgroups: never the daemon's, with every sandbox below. */
        if (p->cgroup_namespace_after_v1 && unshare(CLONE_NEWCGROUP) < 0)
                child_fail(p, "unshare", errno, "cgroup namespace");
        reset_signal_dispositions(p);
        close_unplanned_fds(p);

        join_namespaces(p);
        wait_for_release(p);
        if (p->pooled)
                await_request(p);
        run_released(p);
}

/* From the release on: the same for a fresh child and a warm-pool entry handed its request. */
_noreturn_ static void run_released(SpawnPlan *p) {
        fork_pid1(p);
        enter_time_namespace(p);
        if (!p->done_ahead)
                record_namespace_inodes(p);
        limit_user_namespaces(p);

        if (!p->done_ahead)
                setup_network(p);
        setup_mounts(p);
        setup_hostname(p);
        enter_command_user_namespace(p);
        setup_credentials(p);
        if (p->fork_pid1)
                tie_to_parent(p, true);
        wait_for_block_fd(p);
        read_seccomp_programs(p);
        setup_fds(p);
        setup_process(p);

        if (p->init)
                sandbox_init_run(p);
        spawn_child_exec_command(p, p->child_report_fd, NULL);
}
