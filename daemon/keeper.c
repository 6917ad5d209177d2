/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper process (see keeper.h). A small poll() loop, no libuv: it only
 * reads the link, reaps children and writes exit records, and it must keep
 * working while no daemon exists.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cgroup.h"
#include "fd-util.h"
#include "journal-sync.h"
#include "keeper.h"
#include "log.h"
#include "time-util.h"

#define KEEPER_NAME "nsboxd-keeper"

/* How long an ending keeper waits for journald to have read its kill records. It holds nothing by then. */
#define JOURNAL_SYNC_TIMEOUT_MSEC (30U * 1000U)
/* How long an ending keeper waits for what it killed by cgroup to be gone, and for earlier keepers to end. */
#define KEEPER_KILL_WAIT_MSEC (10U * 1000U)
/* How long the supervisor waits for a keeper that is ending (wait_for_ending_keeper()): its kills, then that. */
#define SUPERVISOR_KEEPER_WAIT_MSEC (KEEPER_KILL_WAIT_MSEC + JOURNAL_SYNC_TIMEOUT_MSEC + 5U * 1000U)

typedef struct Orphan {
        pid_t pid;
        char id[33];
        Caller creator;
        bool exited; /* reaped, its record queued */
        bool killed; /* its kill logged: a QUIT and then the link's end would log it twice */
} Orphan;

typedef struct Keeper {
        int link;
        pid_t daemon;
        bool daemon_gone;
        int daemon_code, daemon_status;
        bool quit;
        bool link_gone;
        bool handed_over; /* KEEPER_HANDED_OVER: the daemon left a state for the next one */
        /* The daemon is gone and handed nothing over: what is left is killed, then the keeper exits. */
        bool ending;

        /* KEEPER_CGROUP: BASE in cgroup2 (-EBADF: not told) and the leaf the keeper is in below it. */
        int cgroup_base;
        char cgroup_leaf[33];
        /* The cgroups killed (cgroup.events of each), until they are empty. */
        int *killed_events;
        size_t n_killed_events;

        Orphan *orphans;
        size_t n_orphans;

        KeeperMessage *queue; /* exit records not yet sent */
        size_t n_queue;
} Keeper;

static Orphan *find_orphan(Keeper *k, pid_t pid) {
        for (size_t i = 0; i < k->n_orphans; i++)
                if (k->orphans[i].pid == pid)
                        return &k->orphans[i];
        return NULL;
}

static int add_orphan(Keeper *k, const KeeperMessage *m) {
        Orphan *o = find_orphan(k, m->pid), *n;

        if (!o) {
                n = realloc(k->orphans, (k->n_orphans + 1) * sizeof *n);
                if (!n)
                        return -ENOMEM;
                k->orphans = n;
                o = &k->orphans[k->n_orphans++];
        }
        *o = (Orphan) {
                .pid = m->pid,
                .creator = { .uid = m->creator_uid, .gid = m->creator_gid, .pid = m->creator_pid, .pidfd = -EBADF },
        };
        memcpy(o->id, m->id, sizeof o->id);
        o->id[sizeof o->id - 1] = 0;
        return 0;
}

static int queue_exit(Keeper *k, const siginfo_t *si) {
        KeeperMessage *n = realloc(k->queue, (k->n_queue + 1) * sizeof *n);

        if (!n)
                return -ENOMEM;
        k->queue = n;
        k->queue[k->n_queue++] = (KeeperMessage) {
                .type = KEEPER_EXIT,
                .pid = si->si_pid,
                .code = si->si_code,
                .status = si->si_status,
        };
        return 0;
}

/* Sends what is queued, as far as the socket takes it. */
static void flush_queue(Keeper *k) {
        size_t sent = 0;

        if (k->link_gone) {
                k->n_queue = 0;
                return;
        }
        while (sent < k->n_queue) {
                if (send(k->link, &k->queue[sent], sizeof(KeeperMessage), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        /* The other end is gone: nobody will ever ask. */
                        k->link_gone = true;
                        k->n_queue = 0;
                        return;
                }
                sent++;
        }
        memmove(k->queue, k->queue + sent, (k->n_queue - sent) * sizeof(KeeperMessage));
        k->n_queue -= sent;
}

/* Returns true while children remain. */
static bool reap(Keeper *k) {
        for (;;) {
                siginfo_t si = {};
                Orphan *o;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0)
                        return errno != ECHILD;
                if (si.si_pid == 0)
                        return true;

                if (k->daemon > 0 && si.si_pid == k->daemon) {
                        /* Its pid may be a later child's now. */
                        k->daemon = 0;
                        k->daemon_gone = true;
                        k->daemon_code = si.si_code;
                        k->daemon_status = si.si_status;
                        continue;
                }
                o = find_orphan(k, si.si_pid);
                if (!o || o->exited)
                        continue; /* an orphan of a sandbox's own, adopted as subreapers do */
                o->exited = true;
                if (k->link_gone)
                        continue;
                if (queue_exit(k, &si) < 0)
                        log_error("Keeper out of memory: the exit status of pid %d is lost.", (int) si.si_pid);
        }
}

/* pid's cgroup2 path as /proc/PID/cgroup shows it ("0::PATH"); pid 0: the keeper's own. */
static int cgroup2_path_of(pid_t pid, char *buf, size_t size) {
        char file[64], line[PATH_MAX + 8];
        int r = -ENOENT;
        FILE *f;

        if (pid > 0)
                snprintf(file, sizeof file, "/proc/%d/cgroup", (int) pid);
        else
                snprintf(file, sizeof file, "/proc/self/cgroup");
        f = fopen(file, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "0::", 3) == 0) {
                        size_t len = strcspn(line + 3, "\n");

                        if (len < size) {
                                memcpy(buf, line + 3, len);
                                buf[len] = 0;
                                r = 0;
                        }
                        break;
                }
        fclose(f);
        return r;
}

/* Opens DIR/FILE below dir_fd. */
static int open_below(int dir_fd, const char *dir, const char *file, int flags) {
        char path[PATH_MAX];

        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
                return -ENAMETOOLONG;
        return openat(dir_fd, path, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* Whether a cgroup.events fd says "populated 0". */
static bool cgroup_events_empty(int fd) {
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

        if (n <= 0)
                return true; /* gone with its cgroup */
        buf[n] = 0;
        return strstr(buf, "populated 0") != NULL;
}

/* BASE's path as /proc/PID/cgroup shows it: the keeper's own cgroup2 path, less the leaf. */
static int base_path(const Keeper *k, char *buf, size_t size) {
        size_t len, leaf_len = strlen(k->cgroup_leaf);

        if (cgroup2_path_of(0, buf, size) < 0)
                return -ENOENT;
        len = strlen(buf);
        if (leaf_len > 0) {
                if (len < leaf_len + 1 || buf[len - leaf_len - 1] != '/' ||
                    !streq(buf + len - leaf_len, k->cgroup_leaf))
                        return -ENOENT;
                buf[len - leaf_len - 1] = 0;
                /* The leaf right below the root of the cgroup namespace. */
                if (!buf[0])
                        snprintf(buf, size, "/");
        }
        return 0;
}

/* Writes cgroup.kill of BASE/rel, and remembers the cgroup, to wait until it is empty. */
static void kill_cgroup(Keeper *k, const char *rel) {
        ssize_t n;
        int fd, *a;

        fd = open_below(k->cgroup_base, rel, "cgroup.kill", O_WRONLY);
        if (fd < 0)
                return;
        n = write(fd, "1", 1);
        safe_close(fd);
        if (n != 1)
                return;
        fd = open_below(k->cgroup_base, rel, "cgroup.events", O_RDONLY);
        if (fd < 0)
                return;
        a = realloc(k->killed_events, (k->n_killed_events + 1) * sizeof *a);
        if (!a) {
                safe_close(fd);
                return;
        }
        k->killed_events = a;
        k->killed_events[k->n_killed_events++] = fd;
}

/*
 * After its daemon handed nothing over: every sandbox below BASE, whoever holds it. The keepers of earlier
 * daemons hold the sandboxes a daemon took over, and their links are in the service manager's fd store, so
 * they would wait for the next daemon, in the service's cgroup: every user's cgroup (BASE/user-UID, holding
 * only sandboxes) is killed whole, and those keepers are ended too (end_earlier_keepers()). Nobody could have
 * asked for any of it: a crashed daemon's state is gone.
 */
static void kill_every_user_cgroup(Keeper *k) {
        struct dirent *de;
        DIR *d;
        int fd;

        if (k->cgroup_base < 0)
                return;
        fd = fcntl(k->cgroup_base, F_DUPFD_CLOEXEC, 3);
        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return;
        }
        /* The open file is the daemon's too, sent over the link: its position is where the daemon's last
         * reading left it. */
        rewinddir(d);
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && strncmp(de->d_name, "user-", 5) == 0)
                        kill_cgroup(k, de->d_name);
        closedir(d);
}

/*
 * Kills everything in the cgroup of the sandbox whose top process is pid (cgroup.kill): what a sandbox started
 * need not be the keeper's descendant (a pid namespace the caller made adopts it when its parent dies), yet it
 * is in the sandbox's cgroup, below BASE/user-UID/. Only there: a process whose cgroup is elsewhere (BASE
 * itself, the leaf) is the keeper's to signal alone. Remembers the cgroup, to wait until it is empty.
 */
static void kill_sandbox_cgroup(Keeper *k, pid_t pid) {
        char base[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
        size_t base_len, len;

        /* Ending, every user's cgroup is killed whole (kill_every_user_cgroup()). */
        if (k->ending || k->cgroup_base < 0 || base_path(k, base, sizeof base) < 0 ||
            cgroup2_path_of(pid, path, sizeof path) < 0)
                return;
        base_len = strlen(base);
        /* BASE "/" is the root: every path is below it. */
        if (streq(base, "/"))
                base_len = 0;
        if (strncmp(path, base, base_len) != 0 || strncmp(path + base_len, "/user-", 6) != 0)
                return;
        snprintf(rel, sizeof rel, "%s", path + base_len + 1);
        /* Its processes are in its payload leaf where it has one: the sandbox is the cgroup above. */
        len = strlen(rel);
        if (len > strlen("/" CGROUP_PAYLOAD) && streq(rel + len - strlen("/" CGROUP_PAYLOAD), "/" CGROUP_PAYLOAD))
                rel[len - strlen("/" CGROUP_PAYLOAD)] = 0;
        /* A user's cgroup itself holds no process: a sandbox is below it. */
        if (!strchr(rel, '/'))
                return;
        kill_cgroup(k, rel);
}

/* The link is gone for good, or the daemon handed nothing over: nobody tracks these sandboxes any more.
 * Returns how many were killed. */
static unsigned kill_children(Keeper *k) {
        unsigned killed = 0;
        char path[64];
        FILE *f;
        int pid;

        /* Our children cannot be reaped behind our back, so their pids stay theirs until we reap. */
        snprintf(path, sizeof path, "/proc/self/task/%d/children", (int) getpid());
        f = fopen(path, "re");
        if (!f) {
                log_error_errno(errno, "Keeper cannot list its children, they keep running: %m");
                return 0;
        }
        while (fscanf(f, "%d", &pid) == 1) {
                Orphan *o;

                if (pid == k->daemon)
                        continue;
                o = find_orphan(k, pid);
                if (o && !o->exited && !o->killed) {
                        log_audit(LOG_INFO, "kill", &o->creator, o->id,
                                  "Killing sandbox %s: the daemon is stopping.", o->id);
                        o->killed = true;
                }
                /* Its cgroup first: the process itself is the one that tells where that is. */
                kill_sandbox_cgroup(k, pid);
                if (kill(pid, SIGKILL) >= 0)
                        killed++;
        }
        fclose(f);
        return killed;
}

static void read_link(Keeper *k) {
        for (;;) {
                KeeperMessage m;
                _cleanup_close_ int fd = -EBADF;
                size_t n_fds;
                /* MSG_TRUNC: a longer message (or one with more than an fd) is -EMSGSIZE, nothing kept. */
                ssize_t n = fd_recv(k->link, &m, sizeof m, &fd, 1, &n_fds, MSG_DONTWAIT | MSG_TRUNC);

                if (n == -EAGAIN)
                        return;
                if (n == -EMSGSIZE) {
                        log_warning("Keeper: ignoring a message it does not understand.");
                        continue;
                }
                if (n <= 0) {
                        k->link_gone = true;
                        (void) kill_children(k);
                        return;
                }
                if ((size_t) n == sizeof m && m.type == KEEPER_QUIT) {
                        /* What is left is nobody's: its sandboxes' statuses were all read. */
                        k->quit = true;
                        (void) kill_children(k);
                        continue;
                }
                if ((size_t) n == sizeof m && m.type == KEEPER_HANDED_OVER) {
                        k->handed_over = true;
                        continue;
                }
                if ((size_t) n == sizeof m && m.type == KEEPER_CGROUP && fd >= 0) {
                        safe_close(k->cgroup_base);
                        k->cgroup_base = TAKE_FD(fd);
                        memcpy(k->cgroup_leaf, m.id, sizeof k->cgroup_leaf);
                        k->cgroup_leaf[sizeof k->cgroup_leaf - 1] = 0;
                        /* A name, not a path. */
                        if (strchr(k->cgroup_leaf, '/') || streq(k->cgroup_leaf, ".") || streq(k->cgroup_leaf, ".."))
                                k->cgroup_leaf[0] = 0;
                        continue;
                }
                if ((size_t) n != sizeof m || m.type != KEEPER_ORPHAN || m.pid <= 1) {
                        log_warning("Keeper: ignoring a message it does not understand.");
                        continue;
                }
                if (add_orphan(k, &m) < 0)
                        log_error("Keeper out of memory: sandbox %.32s will not be logged.", m.id);
        }
}

/* Until every cgroup killed is empty, or the deadline: the service manager removes the service's cgroup only
 * once nothing is left in it, and cgroup.kill only sends the signals. */
static void wait_killed_cgroups_empty(Keeper *k, uint64_t deadline_msec) {
        for (;;) {
                struct pollfd p[64];
                size_t n = 0;
                uint64_t now;

                for (size_t i = 0; i < k->n_killed_events;)
                        if (cgroup_events_empty(k->killed_events[i])) {
                                safe_close(k->killed_events[i]);
                                k->killed_events[i] = k->killed_events[--k->n_killed_events];
                        } else
                                i++;
                if (k->n_killed_events == 0)
                        return;
                now = now_msec(CLOCK_MONOTONIC);
                if (now >= deadline_msec)
                        return;
                /* kernfs wakes a poller of cgroup.events with POLLPRI on every change. */
                for (; n < k->n_killed_events && n < ELEMENTSOF(p); n++)
                        p[n] = (struct pollfd) { .fd = k->killed_events[n], .events = POLLPRI };
                (void) poll(p, n, (int) (deadline_msec - now));
        }
}

/*
 * Kills the other processes in the keeper's leaf but for the supervisor (the keepers of earlier daemons, once
 * their sandboxes are gone: they reap them first) and waits until they are gone, or the deadline: the
 * service's cgroup is empty only then. Each pid is pinned with a pidfd and then checked to be in the leaf
 * still: it may have exited and gone to someone else since cgroup.procs was read.
 */
static void end_earlier_keepers(Keeper *k, uint64_t deadline_msec) {
        pid_t self = getpid(), parent = getppid();
        char own[PATH_MAX], path[PATH_MAX];

        if (k->cgroup_base < 0 || !k->cgroup_leaf[0] || cgroup2_path_of(0, own, sizeof own) < 0)
                return;
        for (;;) {
                struct pollfd p[64];
                size_t n = 0;
                uint64_t now;
                FILE *f;
                int fd, pid;

                fd = open_below(k->cgroup_base, k->cgroup_leaf, "cgroup.procs", O_RDONLY);
                f = fd >= 0 ? fdopen(fd, "re") : NULL;
                if (!f) {
                        safe_close(fd);
                        return;
                }
                while (n < ELEMENTSOF(p) && fscanf(f, "%d", &pid) == 1) {
                        int pidfd;

                        if (pid == self || pid == parent)
                                continue;
                        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                        if (pidfd < 0)
                                continue;
                        if (cgroup2_path_of(pid, path, sizeof path) < 0 || !streq(path, own)) {
                                safe_close(pidfd);
                                continue;
                        }
                        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        p[n++] = (struct pollfd) { .fd = pidfd, .events = POLLIN };
                }
                fclose(f);
                now = now_msec(CLOCK_MONOTONIC);
                if (n > 0 && now < deadline_msec)
                        (void) poll(p, n, (int) (deadline_msec - now));
                for (size_t i = 0; i < n; i++)
                        safe_close(p[i].fd);
                if (n == 0 || now >= deadline_msec)
                        return;
        }
}

static const char *exit_description(int code, int status, char buf[static 64]) {
        if (code == CLD_EXITED)
                snprintf(buf, 64, "exited with status %d", status);
        else
                snprintf(buf, 64, "was killed by signal %d (%s)", status, strsignal(status) ?: "?");
        return buf;
}

/*
 * Once the daemon is gone: if it handed nothing over (it crashed, failed to start, or stopped and ended its
 * sandboxes itself), no daemon will ever ask for what is left, so the keeper kills it and ends too, and the
 * supervisor exits only after the keeper. The service's cgroup is then empty when the service manager sees the
 * service stop, and it removes it. That matters for a crash: systemd 252 places the next main process in the
 * service's own cgroup, which the kernel refuses while a domain controller (memory, io) is enabled for
 * sandboxes' cgroups below it, so sandboxes left behind by a crash would make every restart fail.
 */
static void decide_ending(Keeper *k) {
        char what[64];
        unsigned killed;

        if (!k->daemon_gone || k->ending)
                return;
        /* The daemon said who it hands over before it exited: all of that is in the link by now. */
        if (!k->link_gone)
                read_link(k);
        if (k->n_orphans > 0 || k->quit || k->handed_over)
                return;
        k->ending = true;
        killed = kill_children(k);
        kill_every_user_cgroup(k);
        if (killed > 0)
                log_warning("The daemon %s without handing its sandboxes over: killed the processes it left (%u).",
                            exit_description(k->daemon_code, k->daemon_status, what), killed);
}

/* Closes every fd from 3 up but the two given. */
static void close_all_but(int a, int b) {
        int lo = MIN(a, b), hi = MAX(a, b);

        if (lo > 3)
                (void) syscall(SYS_close_range, 3U, (unsigned) lo - 1, 0U);
        if (hi > lo + 1)
                (void) syscall(SYS_close_range, (unsigned) lo + 1, (unsigned) hi - 1, 0U);
        (void) syscall(SYS_close_range, (unsigned) hi + 1, ~0U, 0U);
}

/* What the keeper tells the supervisor over the status pipe. */
typedef enum StatusKind {
        STATUS_DAEMON_PID = 1,     /* a: the daemon's pid */
        STATUS_DAEMON_EXITED = 2,  /* a, b: its si_code and si_status; the keeper stays for the next daemon */
        STATUS_DAEMON_EXITED_KEEPER_ENDING = 3, /* the same, and the keeper is ending: wait for it */
} StatusKind;

typedef struct StatusMessage {
        int32_t kind; /* StatusKind */
        int32_t a, b;
} StatusMessage;

static _noreturn_ void keeper_run(int link, pid_t daemon, int status_fd, const sigset_t *mask) {
        Keeper k = { .link = link, .daemon = daemon, .cgroup_base = -EBADF };
        bool told_exit = false;
        int sfd;

        /* The system call itself: a sanitizer's prctl() wrapper records the name under a lock that this fork
         * of the daemon may have copied held. */
        (void) syscall(SYS_prctl, PR_SET_NAME, KEEPER_NAME, 0, 0, 0);

        sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                /* Without it the keeper could not notice exits: better no keeper than a blind one. */
                log_error_errno(errno, "Keeper cannot watch its children: %m");
                _exit(EXIT_FAILURE);
        }

        for (;;) {
                struct signalfd_siginfo ssi;
                bool children;

                /* Messages before exits: an orphan's ORPHAN was sent before it could become ours. */
                if (!k.link_gone)
                        read_link(&k);
                children = reap(&k);
                decide_ending(&k);
                /* A killed process's children are ours by the time its exit is: they go the same way. */
                if (k.ending && children)
                        (void) kill_children(&k);
                flush_queue(&k);

                if (k.daemon_gone && status_fd >= 0 && !told_exit) {
                        /* The supervisor ends with the daemon's status: that is what the service manager sees.
                         * An ending keeper keeps the pipe open until it exits: its EOF is what the supervisor
                         * waits for. */
                        StatusMessage m = { k.ending ? STATUS_DAEMON_EXITED_KEEPER_ENDING : STATUS_DAEMON_EXITED,
                                            k.daemon_code, k.daemon_status };
                        (void) write(status_fd, &m, sizeof m);
                        told_exit = true;
                        if (!k.ending)
                                status_fd = safe_close(status_fd);
                }
                /* Done once nobody can want anything more of it: a daemon that handed over none of this
                 * keeper's children (they were all an earlier keeper's) leaves it nothing to keep. */
                if (!children && (k.link_gone || k.quit || k.ending))
                        break;
                if (!children && k.daemon_gone && k.n_orphans == 0)
                        break;

                struct pollfd p[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = k.link_gone ? -1 : k.link, .events = POLLIN | (k.n_queue > 0 ? POLLOUT : 0) },
                };
                if (poll(p, 2, -1) < 0 && errno != EINTR) {
                        log_error_errno(errno, "Keeper: poll() failed: %m");
                        _exit(EXIT_FAILURE);
                }
                while (read(sfd, &ssi, sizeof ssi) > 0)
                        ;
        }

        /* What was killed by its cgroup is gone, and, after a crash, so are the keepers of earlier daemons. */
        {
                uint64_t deadline = now_msec(CLOCK_MONOTONIC) + KEEPER_KILL_WAIT_MSEC;

                wait_killed_cgroups_empty(&k, deadline);
                if (k.ending)
                        end_earlier_keepers(&k, deadline);
        }

        /* Its kill records name the service only if journald reads them while this process still exists. */
        if (log_sent_to_journal()) {
                int r = journal_synchronize(JOURNAL_SYNC_TIMEOUT_MSEC);

                if (r < 0)
                        log_warning_errno(r, "Keeper: journald did not confirm it read the kill records, they may "
                                             "not name the service: %m");
        }
        _exit(EXIT_SUCCESS);
}

/* Passes one notification of the daemon's on to the service manager, fds and all; drops anyone else's. */
static void relay_one(int relay, pid_t daemon) {
        char text[4096 + 1];
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(253 * sizeof(int))];
        } control;
        struct iovec iov = { .iov_base = text, .iov_len = sizeof text - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        const struct ucred *cred = NULL;
        int *fds = NULL;
        size_t n_fds = 0;
        ssize_t n;

        n = recvmsg(relay, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (const struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_type == SCM_RIGHTS) {
                        fds = (int *) CMSG_DATA(c);
                        n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                }
        }

        /* The kernel vouches for the sender: only the daemon speaks for the service. */
        if (cred && cred->pid == daemon && (size_t) n < sizeof text && !(mh.msg_flags & MSG_CTRUNC)) {
                text[n] = 0;
                if (sd_pid_notify_with_fds(0, false, text, fds, (unsigned) n_fds) <= 0)
                        log_warning("Could not pass the daemon's notification on to the service manager.");
        }
        close_many(fds, n_fds);
}

/*
 * Until the ending keeper exited (EOF on the status pipe, which only it held), or for SUPERVISOR_KEEPER_WAIT_MSEC:
 * killing what is left takes it a moment (decide_ending()), and so does journald's reading of its record. A
 * process it cannot kill (one stuck in a FUSE request, say) would hold the keeper for good, and the service
 * would look active with no daemon; past the wait, the restart may fail as it would have.
 */
static void wait_for_ending_keeper(int status_fd, pid_t keeper) {
        uint64_t deadline = now_msec(CLOCK_MONOTONIC) + SUPERVISOR_KEEPER_WAIT_MSEC;
        siginfo_t si;
        char c;

        for (;;) {
                struct pollfd p = { .fd = status_fd, .events = POLLIN };
                uint64_t now = now_msec(CLOCK_MONOTONIC);

                if (now >= deadline)
                        return;
                if (poll(&p, 1, (int) (deadline - now)) < 0 && errno != EINTR)
                        return;
                if (p.revents != 0 && read(status_fd, &c, 1) <= 0)
                        break;
        }
        /* Its fds close before it leaves its cgroup: the service manager, seeing the supervisor gone, would find
         * it there still. Reaped, it is out. */
        while (waitid(P_PID, (id_t) keeper, &si, WEXITED) < 0 && errno == EINTR)
                ;
}

/*
 * The process the service manager started and supervises (it is its child,
 * so it waits for it on stop): passes the stop and other signals on to the
 * daemon, the daemon's notifications on to the service manager, and exits as
 * the daemon did.
 */
static _noreturn_ void supervisor_run(int relay, int status_fd, pid_t keeper, const sigset_t *mask) {
        StatusMessage m;
        pid_t daemon = 0;
        int sfd;

        sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                log_error_errno(errno, "Supervisor cannot take signals: %m");
                _exit(EXIT_FAILURE);
        }

        for (;;) {
                struct signalfd_siginfo ssi;
                struct pollfd p[3] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = relay, .events = POLLIN },
                        { .fd = status_fd, .events = POLLIN },
                };

                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(EXIT_FAILURE);
                }

                while (read(sfd, &ssi, sizeof ssi) == sizeof ssi)
                        if (daemon > 0 && ssi.ssi_signo != SIGCHLD)
                                (void) kill(daemon, (int) ssi.ssi_signo);

                if (p[1].revents & POLLIN)
                        relay_one(relay, daemon);

                if (p[2].revents & (POLLIN | POLLHUP)) {
                        ssize_t n = read(status_fd, &m, sizeof m);

                        if (n != sizeof m)
                                _exit(EXIT_FAILURE); /* the keeper is gone without a word */
                        if (m.kind == STATUS_DAEMON_PID) {
                                daemon = m.a;
                                continue;
                        }
                        if (m.kind == STATUS_DAEMON_EXITED_KEEPER_ENDING)
                                wait_for_ending_keeper(status_fd, keeper);
                        _exit(m.a == CLD_EXITED ? m.b : 128 + m.b);
                }
        }
}

int keeper_fork(int *ret_link, pid_t ret_pids[static 2]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int relay = -EBADF, status[2] = { -EBADF, -EBADF }, link[2] = { -EBADF, -EBADF }, one = 1, r;
        sigset_t supervised, children, saved;
        socklen_t salen;
        pid_t keeper, daemon, supervisor = getpid();

        if (!getenv("NOTIFY_SOCKET"))
                return -ENOTCONN;

        /* The daemon's own NOTIFY_SOCKET: an abstract name, and only the daemon's datagrams are passed on. */
        relay = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (relay < 0)
                return -errno;
        snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "nsboxd-notify/%d", (int) supervisor);
        salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
        if (bind(relay, (struct sockaddr *) &sa, salen) < 0 ||
            setsockopt(relay, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || pipe2(status, O_CLOEXEC) < 0) {
                r = -errno;
                safe_close(relay);
                return r;
        }

        /* Blocked before each fork, so no signal is lost before the signalfds exist; children restore. */
        sigemptyset(&supervised);
        sigaddset(&supervised, SIGTERM);
        sigaddset(&supervised, SIGINT);
        sigaddset(&supervised, SIGHUP);
        sigaddset(&supervised, SIGUSR1);
        sigaddset(&supervised, SIGUSR2);
        sigaddset(&supervised, SIGCHLD);
        sigprocmask(SIG_BLOCK, &supervised, &saved);

        keeper = fork();
        if (keeper < 0) {
                r = -errno;
                sigprocmask(SIG_SETMASK, &saved, NULL);
                safe_close(relay);
                close_many(status, 2);
                return r;
        }

        if (keeper > 0) {
                /* The supervisor: only stdio, the relay and the status pipe stay open here. */
                safe_close(status[1]);
                close_all_but(relay, status[0]);
                supervisor_run(relay, status[0], keeper, &supervised);
        }

        /* The keeper. */
        sigprocmask(SIG_SETMASK, &saved, NULL);
        safe_close(relay);
        safe_close(status[0]);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link) < 0) {
                log_error_errno(errno, "Keeper cannot set up: %m");
                _exit(EXIT_FAILURE);
        }
        sigemptyset(&children);
        sigaddset(&children, SIGCHLD);
        sigprocmask(SIG_BLOCK, &children, NULL);

        daemon = fork();
        if (daemon < 0) {
                log_error_errno(errno, "Keeper cannot start the daemon: %m");
                _exit(EXIT_FAILURE);
        }
        if (daemon == 0) {
                char address[sizeof sa.sun_path + 1];

                sigprocmask(SIG_SETMASK, &saved, NULL);
                safe_close(link[0]);
                safe_close(status[1]);
                snprintf(address, sizeof address, "@%s", sa.sun_path + 1);
                if (setenv("NOTIFY_SOCKET", address, 1) < 0)
                        _exit(EXIT_FAILURE);
                *ret_link = link[1];
                ret_pids[0] = supervisor;
                ret_pids[1] = getppid();
                return 0;
        }

        safe_close(link[1]);
        StatusMessage m = { STATUS_DAEMON_PID, daemon, 0 };
        if (write(status[1], &m, sizeof m) != sizeof m)
                _exit(EXIT_FAILURE);

        /* The service's signals are the supervisor's to pass on: a `systemctl kill` must not end the keeper. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);

        /* Only stdio (the journal stream), the link and the status pipe stay open here. */
        close_all_but(link[0], status[1]);
        keeper_run(link[0], daemon, status[1], &children);
}

int keeper_send_orphan(int link, pid_t pid, const char *id, const Caller *creator) {
        KeeperMessage m = {
                .type = KEEPER_ORPHAN,
                .pid = pid,
                .creator_uid = creator->uid,
                .creator_gid = creator->gid,
                .creator_pid = creator->pid,
        };

        snprintf(m.id, sizeof m.id, "%s", id);
        if (send(link, &m, sizeof m, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int keeper_send_cgroup(int link, int base_fd, const char *leaf) {
        KeeperMessage m = { .type = KEEPER_CGROUP };

        if (base_fd < 0 || (leaf && strlen(leaf) >= sizeof m.id))
                return -EINVAL;
        snprintf(m.id, sizeof m.id, "%s", leaf ?: "");
        return fd_send(link, &m, sizeof m, &base_fd, 1, MSG_DONTWAIT);
}

int keeper_send_handed_over(int link) {
        KeeperMessage m = { .type = KEEPER_HANDED_OVER };

        /* Blocking, as KEEPER_ORPHAN: it must be in the link before this process exits. */
        if (send(link, &m, sizeof m, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int keeper_send_quit(int link) {
        KeeperMessage m = { .type = KEEPER_QUIT };

        if (send(link, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int keeper_receive(int link, KeeperMessage *ret) {
        KeeperMessage m;
        ssize_t n;

        n = recv(link, &m, sizeof m, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        if (n == 0)
                return 0;
        if ((size_t) n != sizeof m || m.type != KEEPER_EXIT || m.pid <= 1 ||
            !(m.code == CLD_EXITED || m.code == CLD_KILLED || m.code == CLD_DUMPED))
                return -EBADMSG;
        *ret = m;
        return 1;
}
