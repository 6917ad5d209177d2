/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon side of the spawn path. spawn_start() turns a SpawnRequest into a
 * SpawnPlan (everything the child will need, allocated here), clone3()s the
 * child, writes its id maps and time offsets once it is ready, and releases
 * it. Any failure up to that point kills and reaps the child and closes every
 * fd it opened, so a refused spawn leaves nothing behind.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/sched.h>

#include "fd-util.h"
#include "mount-setup.h"
#include "namespace-fd.h"
#include "policy.h"
#include "spawn-child.h"
#include "spawn-worker.h"
#include "spawn.h"

#define SPAWN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HOSTNAME_MAX 64 /* the kernel's __NEW_UTS_LEN */
/* How long past the spawn timeout a spawn worker waits before it kills what still runs on its memory: more
 * than the daemon's deadline timer (one tick a second) can be late by. */
#define SPAWN_WORKER_TIMEOUT_MARGIN_MSEC 5000U

static int init_program_fd = -EBADF;
/*
 * The exec mark carries the inode numbers of the sandbox's namespaces (the reply's namespaceInodes). The
 * child reads those it made or joined itself, through /proc, once they are final; the others are the
 * daemon's own (SpawnContext.own_namespace_inodes), filled in here. A cold spawn without namespaces then
 * reads none: eight fstatat() calls on its path, the first of which made /proc/self of a new process
 * (50 us here).
 */
static void plan_namespace_inodes(SpawnPlan *p, const SpawnContext *c) {
        unsigned long made = p->clone_flags | p->unshare_flags | (p->cgroup_namespace_after_v1 ? CLONE_NEWCGROUP : 0);

        p->namespaces_to_record = 0;
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                uint64_t own = c->own_namespace_inodes ? c->own_namespace_inodes[t] : 0;

                p->namespace_inodes[t] = own;
                if ((made & namespace_type_to_clone_flag(t)) || own == 0)
                        p->namespaces_to_record |= NAMESPACE_BIT(t);
        }
        for (size_t i = 0; i < p->n_joins; i++)
                p->namespaces_to_record |= NAMESPACE_BIT(p->joins[i].type);
        if (p->joins_pid)
                p->namespaces_to_record |= NAMESPACE_BIT(NAMESPACE_PID);
}

void spawn_set_init_program(int fd) {
        init_program_fd = fd;
}

/* What sandboxes get as RLIMIT_NOFILE: the limit the daemon started with. */
static struct rlimit inherited_nofile = { 1024, 4096 };

void spawn_set_inherited_nofile(const struct rlimit *rl) {
        inherited_nofile = *rl;
}

void spawn_get_default_rlimit(int resource, struct rlimit *ret) {
        if (resource == RLIMIT_NOFILE) {
                *ret = inherited_nofile;
                return;
        }
        if (getrlimit(resource, ret) < 0)
                *ret = (struct rlimit) { 0, 0 };
}

/*
 * What every spawn of this process shares, set up once (spawn_setup_process()): the signals it ignores,
 * which the child resets (clone3(CLONE_CLEAR_SIGHAND) already reset every handled one; reading them costs
 * a system call per signal), and /dev/null, the default stdio, which the child only dup2()s into place.
 */
static sigset_t ignored_signals;
static bool process_set_up = false;
static int devnull_fd = -EBADF;

/*
 * Whether execve() moves a process into the time namespace it made for its children with unshare()
 * (exec_task_namespaces(), in every kernel from 6.1): then a child on the daemon's memory, which may not
 * setns() into it, enters it there.
 */
static bool time_namespace_entered_at_exec = false;

static bool kernel_enters_time_namespace_at_exec(void) {
        struct utsname u;
        unsigned major, minor;

        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return false;
        return major > 6 || (major == 6 && minor >= 1);
}

int spawn_setup_process(void) {
        sigemptyset(&ignored_signals);
        for (int sig = 1; sig < _NSIG; sig++) {
                struct sigaction sa;

                /* glibc refuses its internal signals, which it never ignores. */
                if (sigaction(sig, NULL, &sa) >= 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN)
                        (void) sigaddset(&ignored_signals, sig);
        }
        if (devnull_fd < 0) {
                devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (devnull_fd < 0)
                        return -errno;
        }
        /* Without it every spawn is forked, as where the child cannot share the daemon's memory. */
        (void) spawn_worker_setup();
        time_namespace_entered_at_exec = kernel_enters_time_namespace_at_exec();
        process_set_up = true;
        return 0;
}

static char *const spawn_default_env[] = {
        (char *) "PATH=" SPAWN_DEFAULT_PATH,
        (char *) "HOME=/",
        NULL,
};

/* What the parent writes into /proc/PID/ between the child's "ready" and its release. */
typedef struct SpawnParentSteps {
        char *uid_map;
        char *gid_map;
        const char *setgroups; /* "allow", "deny" or NULL to leave the kernel's default */
        char *timens_offsets;
} SpawnParentSteps;

static void spawn_parent_steps_done(SpawnParentSteps *s) {
        free(s->uid_map);
        free(s->gid_map);
        free(s->timens_offsets);
        *s = (SpawnParentSteps) {};
}

/*
 * What is left between clone3() and the child's release, driven by the
 * caller's loop: wait for "ready" (only when the child itself makes the
 * namespaces the maps belong to), write the maps and offsets, send "go". No
 * step waits for the child, so a child that is stopped (SIGSTOP from a caller
 * whose user namespace it joined) or stuck in the kernel holds up nothing
 * but its own spawn, which the caller's deadline ends.
 */
struct SpawnHandshake {
        pid_t pid;       /* not reaped before the handshake ends: the /proc/PID paths stay this child's */
        int sync_fd;     /* owned */
        int report_fd;   /* borrowed from the SpawnHandle, for the reason of an early death */
        bool needs_ready;
        bool released;
        bool init_awaits_answer; /* sync_fd, once released, is what the sandbox's init waits on */
        SpawnParentSteps steps;
        SpawnError error; /* a failure so far (error > 0): final */
};

/*
 * Where a warm-pool hit leaves the plan it handed the parked child, shared by the entry's holder and the
 * spawn worker that cloned the child: the worker frees that plan once nothing runs on the memory any more
 * (shared_done()); a hit that finds the worker already done frees it itself.
 */
#define POOL_SLOT_DONE ((SpawnPlan *) (uintptr_t) 1)

struct SpawnPoolSlot {
        unsigned n_ref; /* atomic */
        SpawnPlan *hit; /* atomic: NULL, the plan handed over, or POOL_SLOT_DONE */
        /* atomic: 0 while parked, which has no time limit; the worker's limit once a request is handed
         * over, as a cold spawn's worker has it (SpawnWorkerCall.armed_timeout_msec) */
        unsigned timeout_msec;
};

static SpawnPoolSlot *spawn_pool_slot_new(void) {
        SpawnPoolSlot *slot = calloc(1, sizeof *slot);

        if (slot)
                slot->n_ref = 2;
        return slot;
}

SpawnPoolSlot *spawn_pool_slot_unref(SpawnPoolSlot *slot) {
        if (slot && __atomic_sub_fetch(&slot->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
                free(slot);
        return NULL;
}

/* ---- errors (async-signal-safe: the child uses these) ---- */

static size_t append_string(char *buf, size_t size, size_t pos, const char *s) {
        while (s && *s && pos + 1 < size)
                buf[pos++] = *s++;
        buf[pos] = '\0';
        return pos;
}

void spawn_error_set(SpawnError *e, const char *stage, int error, const char *context) {
        const char *description = strerrordesc_np(error);
        size_t pos = 0;

        *e = (SpawnError) { .error = error };
        append_string(e->stage, sizeof e->stage, 0, stage);
        if (context && context[0]) {
                pos = append_string(e->message, sizeof e->message, pos, context);
                pos = append_string(e->message, sizeof e->message, pos, ": ");
        }
        append_string(e->message, sizeof e->message, pos, description ?: "Unknown error");
}

_printf_(4, 5) static int spawn_fail(SpawnError *e, const char *stage, int error, const char *format, ...) {
        char context[256];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(context, sizeof context, format, ap);
        va_end(ap);

        spawn_error_set(e, stage, error, context);
        return -error;
}

int spawn_read_report(int report_fd, bool *reached_exec, uint64_t ret_namespace_inodes[static _NAMESPACE_TYPE_MAX],
                      SpawnError *ret_error) {
        for (;;) {
                SpawnError e;
                ssize_t n;

                do
                        n = read(report_fd, &e, sizeof e);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return errno == EAGAIN ? -EAGAIN : -errno;
                /* Only execve() closes the pipe while the child lives; without the mark, it died before. */
                if (n == 0)
                        return *reached_exec ? 0 : -ECHILD;
                /* The child writes each record in one write of less than PIPE_BUF, so it arrives whole. */
                if ((size_t) n != sizeof e)
                        return -EIO;

                e.stage[sizeof e.stage - 1] = '\0';
                e.message[sizeof e.message - 1] = '\0';
                if (e.error == 0 && streq(e.stage, SPAWN_REPORT_EXEC)) {
                        *reached_exec = true;
                        memcpy(ret_namespace_inodes, e.namespace_inodes, sizeof e.namespace_inodes);
                        continue;
                }
                if (e.error <= 0)
                        return -EIO;

                *ret_error = e;
                return 1;
        }
}

/* ---- the plan ---- */

static SpawnPlan *spawn_plan_free(SpawnPlan *p) {
        if (!p)
                return NULL;
        mount_plan_free(p->mounts);
        for (size_t i = 0; i < p->n_joins; i++)
                safe_close(p->joins[i].owned_fd);
        if (p->joins_pid)
                safe_close(p->pid_join.owned_fd);
        safe_close(p->proc_fd);
        free(p->keep_fds);
        free(p->groups);
        free(p->owned_clone_groups);
        free(p->child_uid_map);
        free(p->child_gid_map);
        seccomp_program_unref(p->seccomp);
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                free(p->seccomp_fds[i].filter);
        free(p->seccomp_fds);
        safe_close(p->proc_sys_fd);
        free(p->fds);
        close_many(p->stdio_pipe_fds, 3);
        close_many(p->capture_fds, 2);
        free(p->search_path);
        free(p->search_path_buffer);
        free(p->argv_buffer);
        free(p->strings);
        free(p->cgroup_fds_copy);
        free(p->rlimits);
        safe_close(p->child_sync_fd);
        safe_close(p->child_report_fd);
        safe_close(p->parent_sync_fd);
        safe_close(p->parent_report_fd);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SpawnPlan *, spawn_plan_free);

/* Every fd field of the plan, with whether the plan owns it (spawn_plan_free() closes those). */
void spawn_plan_visit_fds(SpawnPlan *p, FdVisitor visit, void *userdata) {
        for (size_t i = 0; i < p->n_joins; i++) {
                visit(&p->joins[i].fd, false, userdata);
                visit(&p->joins[i].owned_fd, true, userdata);
        }
        if (p->joins_pid) {
                visit(&p->pid_join.fd, false, userdata);
                visit(&p->pid_join.owned_fd, true, userdata);
        }
        visit(&p->proc_fd, true, userdata);
        visit(&p->proc_sys_fd, true, userdata);
        for (size_t i = 0; i < p->n_fds; i++)
                visit(&p->fds[i].source, false, userdata);
        visit(&p->devnull_fd, false, userdata);
        for (size_t i = 0; i < ELEMENTSOF(p->stdio_pipe_fds); i++)
                visit(&p->stdio_pipe_fds[i], true, userdata);
        for (size_t i = 0; i < ELEMENTSOF(p->capture_fds); i++)
                visit(&p->capture_fds[i], true, userdata);
        visit(&p->init_program_fd, false, userdata);
        visit(&p->block_fd, false, userdata);
        visit(&p->command_userns_fd, false, userdata);
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                visit(&p->seccomp_fds[i].fd, false, userdata);
        for (size_t i = 0; p->cgroup_fds_copy && i < p->n_cgroup_tasks_fds + 2 * p->n_cgroup_pids_checks; i++)
                visit(&p->cgroup_fds_copy[i], false, userdata);
        visit(&p->user_pids_current_fd, false, userdata);
        visit(&p->user_pids_max_fd, false, userdata);
        for (size_t i = 0; i < p->n_keep_fds; i++)
                visit(&p->keep_fds[i], false, userdata);
        visit(&p->child_sync_fd, true, userdata);
        visit(&p->child_report_fd, true, userdata);
        visit(&p->parent_sync_fd, true, userdata);
        visit(&p->parent_report_fd, true, userdata);
        mount_plan_visit_fds(p->mounts, visit, userdata);
}

static int message_fd(const SpawnContext *c, int index, int *ret) {
        if (index < 0 || (size_t) index >= c->n_message_fds || !c->message_fds)
                return -EINVAL;
        if (c->message_fds[index] < 0)
                return -EBADF;
        *ret = c->message_fds[index];
        return 0;
}

static unsigned long namespaces_to_clone_flags(unsigned mask) {
        unsigned long flags = 0;

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (mask & NAMESPACE_BIT(t))
                        flags |= namespace_type_to_clone_flag(t);
        return flags;
}

/* The fd's name as /proc shows it: no call into its file system, which a client's FUSE server could stall. */
static bool fd_is_pidfd(int fd) {
        char path[64], target[32];
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return false;
        target[n] = '\0';
        return streq(target, "anon_inode:[pidfd]");
}

/*
 * A pidfd names a process, whose namespaces may change (setns(), unshare())
 * between the check and the child's setns(): the namespace it has now is
 * resolved once, and that one is both checked and joined. Returns the nsfs fd
 * (owned), -ENOENT if fd is no pidfd, or -EOPNOTSUPP on a kernel before 6.11.
 */
static int resolve_pidfd(int fd, NamespaceType type) {
        if (!fd_is_pidfd(fd))
                return -ENOENT;
        return namespace_of_pidfd(fd, type);
}

static int plan_join(SpawnPlan *p, const SpawnContext *c, size_t i, SpawnError *e) {
        const JoinNamespace *j = &c->request->join_namespaces[i];
        SpawnJoin *join = &p->joins[p->n_joins];
        int fd, r;

        r = message_fd(c, j->fd_index, &fd);
        if (r < 0)
                return spawn_fail(e, "prepare", -r, "joinNamespaces[%zu].fileDescriptor", i);

        r = resolve_pidfd(fd, j->type);
        if (r >= 0)
                fd = r;
        else if (r != -ENOENT && !(r == -EOPNOTSUPP && c->caller->privileged))
                /* Root is not checked, so on an older kernel its pidfd may be joined as it is. */
                return spawn_fail(e, "setns", -r, "joinNamespaces[%zu]: %s", i, namespace_type_to_string(j->type));
        *join = (SpawnJoin) {
                .fd = fd,
                .owned_fd = r >= 0 ? r : -EBADF,
                .nstype = (int) namespace_type_to_clone_flag(j->type),
                .type = j->type,
                .name = namespace_type_to_string(j->type),
        };
        p->n_joins++;

        /*
         * The child joins with the daemon's rights: a non-root caller may only name
         * namespaces it could join itself. The server checks this too; the spawn
         * path does not rely on it. An Exec's joins are the daemon's own fds of a
         * sandbox it made for this caller, whose ownership the server checked.
         */
        if (!c->caller->privileged && !c->exec) {
                r = policy_check_join_namespace(join->fd, j->type, c->caller->uid);
                if (r < 0)
                        return spawn_fail(e, "setns", -r, "joinNamespaces[%zu]: %s", i,
                                          namespace_type_to_string(j->type));
        }

        return 0;
}

/*
 * A new user namespace inside a sandbox's (SpawnContext.parent): the sandbox's mount namespace, which a new
 * one copies (its mounts locked there, as the new user namespace owns the copy), then its user namespace,
 * last, in which the child makes its own. Both are the daemon's fds of a sandbox it made for this caller.
 */
static int plan_parent_joins(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnParent *parent = c->parent;
        unsigned created = c->request->namespaces;

        if (!parent)
                return 0;
        if (!c->exec || !(created & NAMESPACE_BIT(NAMESPACE_USER)) || p->joins_user || parent->user_fd < 0)
                return spawn_fail(e, "prepare", EINVAL, "a parent user namespace without a user namespace to make in it");
        /* The request joins no type it creates (spawn_request_verify()), so both fit; say so rather than trust it. */
        if (p->n_joins + 1 + (parent->mount_fd >= 0 && (created & NAMESPACE_BIT(NAMESPACE_MOUNT))) +
                    (parent->pid_fd >= 0 && (created & NAMESPACE_BIT(NAMESPACE_PID))) > ELEMENTSOF(p->joins))
                return spawn_fail(e, "prepare", EINVAL, "joinNamespaces: a parent's namespaces besides");

        if (parent->mount_fd >= 0 && (created & NAMESPACE_BIT(NAMESPACE_MOUNT))) {
                /* Before the user namespace: the request's joins are all of other types. */
                memmove(p->joins + 1, p->joins, p->n_joins * sizeof(SpawnJoin));
                p->joins[0] = (SpawnJoin) { .fd = parent->mount_fd, .owned_fd = -EBADF, .nstype = CLONE_NEWNS,
                                            .type = NAMESPACE_MOUNT, .name = "mount" };
                p->n_joins++;
        }
        /* The daemon enters it around clone3() (as any pid join), so the child is born in it. */
        if (parent->pid_fd >= 0 && (created & NAMESPACE_BIT(NAMESPACE_PID)))
                p->joins[p->n_joins++] = (SpawnJoin) { .fd = parent->pid_fd, .owned_fd = -EBADF,
                                                       .nstype = CLONE_NEWPID, .type = NAMESPACE_PID, .name = "pid" };
        p->joins[p->n_joins++] = (SpawnJoin) { .fd = parent->user_fd, .owned_fd = -EBADF, .nstype = CLONE_NEWUSER,
                                               .type = NAMESPACE_USER, .name = "user" };
        p->joins_user = true;
        p->maps_by_child = true;
        return 0;
}

static int plan_namespaces(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;
        unsigned long new_flags = namespaces_to_clone_flags(r->namespaces);
        unsigned joined = 0;
        int k;

        for (size_t i = 0; i < r->n_join_namespaces; i++)
                joined |= NAMESPACE_BIT(r->join_namespaces[i].type);

        /*
         * The user namespace last, as nsenter(1) enters it when it leaves privilege behind: until then
         * the child is root in the daemon's user namespace, which holds every capability over the
         * namespaces it joins, whichever user namespace owns them (one of them may belong to the host,
         * outside the user namespace the sandbox has); inside a user namespace it would hold them only
         * over what that one owns.
         */
        for (size_t i = 0; i < r->n_join_namespaces; i++)
                if (r->join_namespaces[i].type != NAMESPACE_USER) {
                        k = plan_join(p, c, i, e);
                        if (k < 0)
                                return k;
                }
        for (size_t i = 0; i < r->n_join_namespaces; i++)
                if (r->join_namespaces[i].type == NAMESPACE_USER) {
                        k = plan_join(p, c, i, e);
                        if (k < 0)
                                return k;
                }
        p->joins_user = joined & NAMESPACE_BIT(NAMESPACE_USER);

        /* bubblewrap's --userns2: entered once the tree is built, so ids and capabilities count there. The
         * server checked it descends from the sandbox's user namespace; the spawn path checks the caller may
         * enter it, as for a join. */
        p->command_userns_fd = -EBADF;
        if (r->command_userns_fd_index >= 0) {
                k = message_fd(c, r->command_userns_fd_index, &p->command_userns_fd);
                if (k < 0)
                        return spawn_fail(e, "prepare", -k, "commandUserNamespaceFileDescriptor");
                if (!c->caller->privileged && !c->exec) {
                        k = policy_check_join_namespace(p->command_userns_fd, NAMESPACE_USER, c->caller->uid);
                        if (k < 0)
                                return spawn_fail(e, "setns", -k, "commandUserNamespaceFileDescriptor");
                }
        }

        k = plan_parent_joins(p, c, e);
        if (k < 0)
                return k;

        /* The daemon enters a joined pid namespace itself, around clone3(): see clone_child(). */
        for (size_t i = 0; i < p->n_joins; i++)
                if (p->joins[i].type == NAMESPACE_PID) {
                        p->pid_join = p->joins[i];
                        p->joins_pid = true;
                        memmove(p->joins + i, p->joins + i + 1, (p->n_joins - i - 1) * sizeof(SpawnJoin));
                        p->n_joins--;
                        break;
                }

        /*
         * Without joins clone3() makes every namespace. A new time namespace, though,
         * must stay the namespace of the child's children until its offsets are
         * written (entering it freezes them): clone3() leaves it so only for a child
         * on the daemon's memory (CLONE_VM), which enters it at execve(); a forked
         * child unshare()s it after its release instead (plan_unshare_time_namespace()).
         * With joins, the namespaces are created after joining (so they belong to a
         * joined user namespace, and the joins still have the daemon's rights),
         * except pid: only clone3() makes the child itself pid 1. Either way the
         * child is in the time namespace by the time it execs, so that it, init or
         * not, is in every namespace the sandbox has.
         */
        if (p->n_joins == 0) {
                p->clone_flags = new_flags;
                p->unshare_flags = 0;
                /* Its v1 cgroups the child joins itself, as its first step: its cgroup namespace comes after. */
                if (p->n_cgroup_tasks_fds > 0 && (new_flags & CLONE_NEWCGROUP)) {
                        p->clone_flags &= ~(unsigned long) CLONE_NEWCGROUP;
                        p->cgroup_namespace_after_v1 = true;
                }
        } else if (p->maps_by_child) {
                /* A pid namespace inside a sandbox's is made with the new user namespace, which then owns it;
                 * the child forks its pid 1 (spawn-child.c). */
                p->clone_flags = 0;
                p->unshare_flags = new_flags;
                p->fork_pid1 = new_flags & CLONE_NEWPID;
        } else {
                p->clone_flags = new_flags & CLONE_NEWPID;
                p->unshare_flags = new_flags & ~(unsigned long) CLONE_NEWPID;
        }
        p->loopback_up = new_flags & CLONE_NEWNET;
        plan_namespace_inodes(p, c);
        if ((new_flags & CLONE_NEWUSER) && !c->caller->privileged) {
                p->userns_as_caller = true;
                spawn_context_caller_ids(c, &p->owner_uid, &p->owner_gid);
        }
        /* The host's /proc, for the time namespace and the namespace inode numbers the reply carries. */
        p->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->proc_fd < 0)
                return spawn_fail(e, "prepare", errno, "/proc");

        /* The daemon enters a joined pid namespace around clone3(), so the child is born in it and needs no
         * init; one stays the default there (it reaps what the command leaves, as a subreaper). */
        p->init = r->init >= 0 ? r->init : !!((new_flags & CLONE_NEWPID) || (joined & NAMESPACE_BIT(NAMESPACE_PID)));
        if (p->init)
                p->init_program_fd = init_program_fd;
        p->init_holds_report = p->init && !c->caller->privileged;

        if (r->hostname) {
                if (strlen(r->hostname) > HOSTNAME_MAX)
                        return spawn_fail(e, "prepare", EINVAL, "hostname");
                p->hostname = r->hostname;
        }

        return 0;
}

static bool gid_in_list(gid_t gid, const gid_t *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (list[i] == gid)
                        return true;
        return false;
}

static bool caller_has_gid(const Caller *caller, gid_t gid) {
        return gid == caller->gid || gid_in_list(gid, caller->groups, caller->n_groups);
}

/* The id inside a user namespace that maps to host id, or -ENOENT. */
static int map_id_inside(const IdMapping *m, size_t n, uint32_t host, uint32_t *ret) {
        for (size_t i = 0; i < n; i++)
                if (host >= m[i].host_id && host - m[i].host_id < m[i].size) {
                        *ret = m[i].container_id + (host - m[i].host_id);
                        return 0;
                }
        return -ENOENT;
}

/* Who the sandbox runs as in a new user namespace when the request does not say:
 * the caller itself where its host id is mapped, else the namespace's root if
 * mapped, else the first mapped id. Always an id the maps define. */
static uint32_t default_inside_id(const IdMapping *m, size_t n, uint32_t host) {
        uint32_t id;

        if (map_id_inside(m, n, host, &id) >= 0)
                return id;
        for (size_t i = 0; i < n; i++)
                if (m[i].container_id == 0)
                        return 0;
        return m[0].container_id;
}

/* The ids of the sandbox that made the user namespace the plan joins (resolved once, by plan_join()), if one
 * did (SpawnContext.sandbox_user_ids), and that namespace's inode number. */
static bool joined_sandbox_ids(const SpawnPlan *p, const SpawnContext *c, SpawnIds *ret, uint64_t *ret_ns) {
        struct stat st;

        if (!c->sandbox_user_ids || !p->joins_user || p->command_userns_fd >= 0)
                return false;
        for (size_t i = 0; i < p->n_joins; i++)
                if (p->joins[i].type == NAMESPACE_USER) {
                        if (fstat(p->joins[i].fd, &st) < 0 ||
                            !c->sandbox_user_ids(c->userdata, (uint64_t) st.st_ino, ret))
                                return false;
                        *ret_ns = (uint64_t) st.st_ino;
                        return true;
                }
        return false;
}

/*
 * The host gids that gids of a joined user namespace map to, where that namespace denies setgroups(): 1 with
 * ret filled, 0 where it allows it (the child sets them there itself), -EINVAL with *ret_bad for one it does
 * not map, another -errno where its process (ids->pid, not reaped: the daemon reaps only on the loop, where
 * this runs) tells nothing of it. /proc/PID/gid_map shows the daemon's user namespace's ids to the daemon.
 */
static int joined_gids_on_host(const SpawnIds *ids, uint64_t ns, const gid_t *gids, size_t n, gid_t *ret,
                               size_t *ret_bad) {
        _cleanup_close_ int dir = -EBADF;
        char path[32], word[16] = "";
        uint32_t inside, outside, count;
        struct stat st;
        size_t found = 0;
        FILE *f;
        int fd;

        if (ids->pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof path, "/proc/%d", (int) ids->pid);
        dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        if (fstatat(dir, "ns/user", &st, 0) < 0)
                return -errno;
        if ((uint64_t) st.st_ino != ns)
                return -ESRCH;

        fd = openat(dir, "setgroups", O_RDONLY | O_CLOEXEC);
        f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        if (fscanf(f, "%15s", word) != 1)
                word[0] = 0;
        fclose(f);
        if (streq(word, "allow"))
                return 0;
        if (!streq(word, "deny"))
                return -EIO;

        for (size_t i = 0; i < n; i++)
                ret[i] = (gid_t) -1;
        fd = openat(dir, "gid_map", O_RDONLY | O_CLOEXEC);
        f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        while (fscanf(f, "%" SCNu32 " %" SCNu32 " %" SCNu32, &inside, &outside, &count) == 3)
                for (size_t i = 0; i < n; i++)
                        if (ret[i] == (gid_t) -1 && gids[i] >= inside &&
                            (uint64_t) gids[i] < (uint64_t) inside + count) {
                                ret[i] = outside + (gids[i] - inside);
                                found++;
                        }
        fclose(f);
        /* The process may have moved to a user namespace of its own meanwhile: what was read is that
         * namespace's only if it is still in it. */
        if (fstatat(dir, "ns/user", &st, 0) < 0)
                return -errno;
        if ((uint64_t) st.st_ino != ns)
                return -ESRCH;
        for (size_t i = 0; found < n && i < n; i++)
                if (ret[i] == (gid_t) -1) {
                        *ret_bad = i;
                        return -EINVAL;
                }
        return 1;
}

static int own_clone_groups(SpawnPlan *p, const gid_t *groups, size_t n, SpawnError *e) {
        if (n == 0)
                return 0;
        p->owned_clone_groups = calloc(n, sizeof(gid_t));
        if (!p->owned_clone_groups)
                return spawn_fail(e, "prepare", ENOMEM, NULL);
        memcpy(p->owned_clone_groups, groups, n * sizeof(gid_t));
        p->clone_groups = p->owned_clone_groups;
        p->n_clone_groups = n;
        return 0;
}

static int plan_credentials(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;
        const Caller *caller = c->caller;
        bool new_user = r->namespaces & NAMESPACE_BIT(NAMESPACE_USER);
        bool in_user = new_user || p->joins_user || p->command_userns_fd >= 0;
        /* A new user namespace whose setgroups is "deny" refuses setgroups() outright. */
        bool groups_denied = new_user && (r->setgroups == 0 || (r->setgroups < 0 && !caller->privileged));
        uid_t caller_uid;
        gid_t caller_gid;
        spawn_context_caller_ids(c, &caller_uid, &caller_gid);
        IdMapping own_uid = { caller_uid, caller_uid, 1 }, own_gid = { caller_gid, caller_gid, 1 };
        const IdMapping *uid_maps = r->n_uid_mappings > 0 ? r->uid_mappings : &own_uid;
        const IdMapping *gid_maps = r->n_gid_mappings > 0 ? r->gid_mappings : &own_gid;
        size_t n_uid_maps = r->n_uid_mappings > 0 ? r->n_uid_mappings : 1;
        size_t n_gid_maps = r->n_gid_mappings > 0 ? r->n_gid_mappings : 1;
        const gid_t *groups = NULL;
        size_t n_groups = 0;
        SpawnIds joined;
        uint64_t joined_ns = 0;

        /* Cloned with a non-root caller's own groups, so a group that denies it access still does; root's
         * children with none (take_groups_for_clone()). */
        if (!caller->privileged) {
                p->clone_groups = caller->groups;
                p->n_clone_groups = caller->n_groups;
        }

        if (r->has_user) {
                p->uid = r->uid;
                p->gid = r->gid;
                groups = r->additional_gids;
                n_groups = r->n_additional_gids;

                /* Outside a user namespace the ids are host ids: only the caller's own. */
                if (!caller->privileged && !in_user) {
                        if (r->uid != caller->uid)
                                return spawn_fail(e, "credentials", EPERM, "user.uid");
                        if (!caller_has_gid(caller, r->gid))
                                return spawn_fail(e, "credentials", EPERM, "user.gid");
                        for (size_t i = 0; i < n_groups; i++)
                                if (!caller_has_gid(caller, groups[i]))
                                        return spawn_fail(e, "credentials", EPERM, "user.additionalGids[%zu]", i);
                }
        } else if (new_user) {
                p->uid = default_inside_id(uid_maps, n_uid_maps, caller_uid);
                p->gid = default_inside_id(gid_maps, n_gid_maps, caller_gid);
        } else if (joined_sandbox_ids(p, c, &joined, &joined_ns)) {
                /* A sandbox's user namespace: as that sandbox runs there (its root may be unmapped). */
                p->uid = joined.uid;
                p->gid = joined.gid;
                /* Root's own groups have no place there: root gets that process's, set there as it did or held
                 * from the clone on as it was (a non-root caller, who may join only its own, keeps its own). */
                if (caller->privileged && joined.set_groups) {
                        groups = joined.groups;
                        n_groups = joined.n_groups;
                } else if (caller->privileged) {
                        int k = own_clone_groups(p, joined.groups, joined.n_groups, e);
                        if (k < 0)
                                return k;
                }
        } else if (caller->privileged || p->joins_user || p->command_userns_fd >= 0) {
                p->uid = 0;
                p->gid = 0;
        } else {
                p->uid = caller->uid;
                p->gid = caller->gid;
                groups = caller->groups;
                n_groups = caller->n_groups;
        }

        /* -1 means "unchanged" to setresuid()/setresgid(): the child would stay host root. */
        if (p->uid == (uid_t) -1)
                return spawn_fail(e, "credentials", EINVAL, "user.uid");
        if (p->gid == (gid_t) -1)
                return spawn_fail(e, "credentials", EINVAL, "user.gid");
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == (gid_t) -1)
                        return spawn_fail(e, "credentials", EINVAL, "user.additionalGids[%zu]", i);

        if (groups_denied && n_groups > 0)
                return spawn_fail(e, "credentials", EPERM, "user.additionalGids: setgroups is denied");

        /* Root naming groups in a sandbox's user namespace that denies setgroups() (inside, nobody may set
         * them): the child is cloned with the host ids they map to, and keeps them there. */
        if (r->has_user && n_groups > 0 && caller->privileged && joined_sandbox_ids(p, c, &joined, &joined_ns)) {
                _cleanup_free_ gid_t *host = calloc(n_groups, sizeof(gid_t));
                size_t bad = 0;
                int k;

                if (!host)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                k = joined_gids_on_host(&joined, joined_ns, groups, n_groups, host, &bad);
                if (k == -EINVAL)
                        return spawn_fail(e, "credentials", EINVAL, "user.additionalGids[%zu]: not mapped there", bad);
                if (k > 0) {
                        p->owned_clone_groups = TAKE_PTR(host);
                        p->clone_groups = p->owned_clone_groups;
                        p->n_clone_groups = n_groups;
                        groups = NULL;
                        n_groups = 0;
                }
        }
        /* One rule for every user namespace, created or joined, whatever its setgroups: the
         * child keeps the groups it was cloned with (see take_groups_for_clone()) unless
         * additionalGids asks for others. Dropping them on the caller's behalf would turn a
         * group that denies it access into a way in. */
        p->set_groups = !groups_denied && !(in_user && n_groups == 0);
        if (n_groups > 0) {
                p->groups = calloc(n_groups, sizeof(gid_t));
                if (!p->groups)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                memcpy(p->groups, groups, n_groups * sizeof(gid_t));
                p->n_groups = n_groups;
        }

        return 0;
}

/* Capabilities, system call filters and the user namespace limit: what confines the sandbox beyond its namespaces. */
static int plan_confinement(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;
        uint64_t caller_caps = 0;
        CapabilityContext cc = {
                .caller_holds_sys_time = c->caller->privileged &&
                                         capability_read_permitted(c->caller->pid, c->caller->pidfd, &caller_caps) >= 0 &&
                                         (caller_caps & CAPABILITY_BIT(CAP_SYS_TIME)),
                .user_namespace = (r->namespaces & NAMESPACE_BIT(NAMESPACE_USER)) || p->joins_user ||
                                  p->command_userns_fd >= 0,
                .privileged = c->caller->privileged,
                .disable_user_namespaces = r->disable_user_namespaces || c->user_namespaces_disabled,
        };
        int k;

        k = capability_plan_new(c->capabilities, &cc, &p->caps);
        if (k < 0)
                return spawn_fail(e, "capabilities", -k, "capabilities: only inside a user namespace");

        p->seccomp = seccomp_program_ref(c->seccomp);
        /* Its rules are the daemon's own, and deny nothing init calls before its exec. */
        p->init_loads_profile = p->init && seccomp_program_is_default(p->seccomp);

        if (r->n_seccomp_fds > 0) {
                p->seccomp_fds = calloc(r->n_seccomp_fds, sizeof(SpawnSeccompFd));
                if (!p->seccomp_fds)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                for (size_t i = 0; i < r->n_seccomp_fds; i++) {
                        SpawnSeccompFd *f = &p->seccomp_fds[p->n_seccomp_fds];

                        k = message_fd(c, r->seccomp_fds[i], &f->fd);
                        if (k < 0)
                                return spawn_fail(e, "prepare", -k, "seccompFileDescriptors[%zu]", i);
                        /* One more than the kernel takes, so the child can tell a program that is too long. */
                        f->filter = malloc((BPF_MAXINSNS + 1) * sizeof(struct sock_filter));
                        if (!f->filter)
                                return spawn_fail(e, "prepare", ENOMEM, NULL);
                        p->n_seccomp_fds++;
                }
        }
        /* nsbox-init loads these after its exec, and the command waits for it (SpawnPlan.
         * command_awaits_init_filters): init then holds the report too, as it must not wait for an answer
         * that waits for the command. */
        if (p->init && (p->n_seccomp_fds > 0 || (p->seccomp && !p->init_loads_profile))) {
                p->command_awaits_init_filters = true;
                p->init_holds_report = true;
                /* In a joined user namespace, the processes already there may hold CAP_SYS_PTRACE in it, and
                 * would not wait: init stays the fork of the daemon it starts as, whose memory stays in the
                 * host's user namespace (nothing in the sandbox's may attach to it), and loads the filters
                 * in place. */
                if (p->joins_user)
                        p->init_program_fd = -EBADF;
        }

        if (r->disable_user_namespaces) {
                if (!(r->namespaces & NAMESPACE_BIT(NAMESPACE_USER)))
                        return spawn_fail(e, "prepare", EINVAL, "disableUserNamespaces: needs a new user namespace");
                /* The child opens user/max_user_namespaces below this once it is in its user namespace, where
                 * the kernel resolves it to that namespace's own limit. */
                p->proc_sys_fd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (p->proc_sys_fd < 0)
                        return spawn_fail(e, "prepare", errno, "/proc/sys");
        }
        return 0;
}

/*
 * The pipe stdinData is read from. The whole text goes in now, before clone3(): the pipe is sized to
 * hold it (the limit keeps it within what F_SETPIPE_SZ grants), so nothing ever waits on the sandbox
 * to read, and the write end is closed at once so the command sees EOF after the data.
 */
static int plan_stdin_data(SpawnPlan *p, const char *data, SpawnError *e) {
        _cleanup_close_ int w = -EBADF;
        size_t size = strlen(data);
        int pair[2], k;

        if (pipe2(pair, O_CLOEXEC | O_NONBLOCK) < 0)
                return spawn_fail(e, "fds", errno, "stdinData pipe");
        p->stdio_pipe_fds[0] = pair[0];
        w = pair[1];

        if (size > 0 && fcntl(w, F_GETPIPE_SZ) < (int) size && fcntl(w, F_SETPIPE_SZ, (int) size) < 0)
                return spawn_fail(e, "fds", errno, "stdinData: pipe of %zu bytes", size);
        if (size > 0) {
                ssize_t n = write(w, data, size);
                if (n < 0)
                        return spawn_fail(e, "fds", errno, "stdinData");
                if ((size_t) n != size)
                        return spawn_fail(e, "fds", EAGAIN, "stdinData: only %zd of %zu bytes fit", n, size);
        }
        /* The child reads blocking, as from any pipe it is given. */
        k = fd_set_nonblock(p->stdio_pipe_fds[0], false);
        return k < 0 ? spawn_fail(e, "fds", -k, "stdinData pipe") : 0;
}

/* The pipe that is stdout (i 1) or stderr (i 2) for captureOutput; the daemon keeps the read end. */
static int plan_capture(SpawnPlan *p, int i, SpawnError *e) {
        int pair[2], k;

        if (pipe2(pair, O_CLOEXEC) < 0)
                return spawn_fail(e, "fds", errno, "captureOutput pipe");
        p->capture_fds[i - 1] = pair[0];
        p->stdio_pipe_fds[i] = pair[1];
        k = fd_set_nonblock(pair[0], true);
        return k < 0 ? spawn_fail(e, "fds", -k, "captureOutput pipe") : 0;
}

static int plan_fds(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;
        const int stdio_index[3] = { r->stdin_index, r->stdout_index, r->stderr_index };
        static const char *const stdio_name[3] = { "stdin", "stdout", "stderr" };
        int k;

        p->fds = calloc(3 + r->n_fds, sizeof(SpawnFd));
        if (!p->fds)
                return spawn_fail(e, "prepare", ENOMEM, NULL);

        for (int i = 0; i < 3; i++) {
                int fd;

                if (i == 0 && r->stdin_data) {
                        k = plan_stdin_data(p, r->stdin_data, e);
                        if (k < 0)
                                return k;
                        fd = p->stdio_pipe_fds[0];
                } else if (i > 0 && r->capture_output) {
                        k = plan_capture(p, i, e);
                        if (k < 0)
                                return k;
                        fd = p->stdio_pipe_fds[i];
                } else if (stdio_index[i] < 0) {
                        p->devnull_fd = devnull_fd;
                        fd = devnull_fd;
                } else {
                        k = message_fd(c, stdio_index[i], &fd);
                        if (k < 0)
                                return spawn_fail(e, "prepare", -k, "%s", stdio_name[i]);
                }
                p->fds[p->n_fds++] = (SpawnFd) { .source = fd, .target = i, .moved = -EBADF };
                p->is_target[i] = true;
        }
        p->max_target = 2;

        for (size_t i = 0; i < r->n_fds; i++) {
                const FdMapping *m = &r->fds[i];
                int fd;

                if (m->target < 3 || m->target > SPAWN_FD_TARGET_MAX)
                        return spawn_fail(e, "prepare", EINVAL, "fileDescriptors[%zu].target", i);
                if (p->is_target[m->target])
                        return spawn_fail(e, "prepare", EINVAL, "fileDescriptors[%zu].target: used twice", i);
                k = message_fd(c, m->fd_index, &fd);
                if (k < 0)
                        return spawn_fail(e, "prepare", -k, "fileDescriptors[%zu].fileDescriptor", i);

                p->fds[p->n_fds++] = (SpawnFd) { .source = fd, .target = m->target, .moved = -EBADF };
                p->is_target[m->target] = true;
                p->max_target = MAX(p->max_target, m->target);
        }

        return 0;
}

static const char *env_lookup(char *const *envp, const char *key) {
        size_t n = strlen(key);

        for (char *const *i = envp; *i; i++)
                if (strncmp(*i, key, n) == 0 && (*i)[n] == '=')
                        return *i + n + 1;
        return NULL;
}

/* PATH is split here, so the child's lookup (in its own mount namespace, with its own rights) needs no allocation. */
static int plan_search_path(SpawnPlan *p, SpawnError *e) {
        const char *path = env_lookup(p->envp, "PATH") ?: SPAWN_DEFAULT_PATH;
        size_t n = 1;
        char *s;

        p->search_path_buffer = strdup(path);
        if (!p->search_path_buffer)
                return spawn_fail(e, "prepare", ENOMEM, NULL);
        for (const char *i = path; *i; i++)
                n += *i == ':';

        p->search_path = calloc(n + 1, sizeof(char *));
        if (!p->search_path)
                return spawn_fail(e, "prepare", ENOMEM, NULL);

        n = 0;
        s = p->search_path_buffer;
        for (;;) {
                char *colon = strchr(s, ':');

                if (colon)
                        *colon = '\0';
                /* An empty entry would mean the working directory: not something a sandbox should inherit by accident. */
                if (*s)
                        p->search_path[n++] = s;
                if (!colon)
                        break;
                s = colon + 1;
        }
        p->search_path[n] = NULL;
        return 0;
}

static int plan_exec(SpawnPlan *p, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;

        if (!r->argv || !r->argv[0] || !r->argv[0][0])
                return spawn_fail(e, "prepare", EINVAL, "argv");

        p->program = r->argv[0];
        p->argv = r->argv;
        if (r->argv0) {
                size_t n = strv_length(r->argv);

                /* The child cannot allocate: the program's argv with the request's argv0 in front is made here. */
                p->argv_buffer = calloc(n + 1, sizeof(char *));
                if (!p->argv_buffer)
                        return spawn_fail(e, "prepare", ENOMEM, "argv0");
                memcpy(p->argv_buffer, r->argv, n * sizeof(char *));
                p->argv_buffer[0] = r->argv0;
                p->argv = p->argv_buffer;
        }
        p->envp = r->env ?: spawn_default_env;
        p->lock_files = r->lock_files;
        p->block_fd = -EBADF;
        if (r->block_fd_index >= 0) {
                int k = message_fd(c, r->block_fd_index, &p->block_fd);
                if (k < 0)
                        return spawn_fail(e, "prepare", -k, "blockFileDescriptor");
        }
        p->cwd = r->cwd ?: "/";
        p->cwd_fallbacks = r->cwd_fallbacks;
        /* The daemon's session, and its controlling terminal, are root's alone to share. */
        p->new_session = r->new_session != 0 || !c->caller->privileged;
        p->require_terminal = r->new_session == 0 && !c->caller->privileged;
        p->controlling_tty = -1;
        p->nofile = inherited_nofile;
        p->ignored_signals = ignored_signals;
        for (size_t i = 0; i < r->n_rlimits; i++)
                if (r->rlimits[i].type == RLIMIT_NOFILE) {
                        p->nofile = (struct rlimit) { r->rlimits[i].soft, r->rlimits[i].hard };
                        p->nofile_set = true;
                }
        if (r->n_rlimits > 0) {
                p->rlimits = calloc(r->n_rlimits, sizeof(SandboxRlimit));
                if (!p->rlimits)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                memcpy(p->rlimits, r->rlimits, r->n_rlimits * sizeof(SandboxRlimit));
                p->n_rlimits = r->n_rlimits;
        }

        if (!strchr(r->argv[0], '/'))
                return plan_search_path(p, e);
        return 0;
}

static char *id_map_text(const IdMapping *m, size_t n) {
        /* Three 10-digit numbers, two spaces and a newline per line. */
        size_t size = n * 33 + 1, pos = 0;
        char *text = malloc(size);

        if (!text)
                return NULL;
        text[0] = '\0';
        for (size_t i = 0; i < n; i++)
                pos += (size_t) snprintf(text + pos, size - pos, "%" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
                                         m[i].container_id, m[i].host_id, m[i].size);
        return text;
}

static int plan_parent_steps(SpawnParentSteps *s, const SpawnContext *c, SpawnError *e) {
        const SpawnRequest *r = c->request;

        if (r->namespaces & NAMESPACE_BIT(NAMESPACE_USER)) {
                /* Without mappings the caller's own ids map to themselves. */
                uid_t uid;
                gid_t gid;
                spawn_context_caller_ids(c, &uid, &gid);
                IdMapping own_uid = { uid, uid, 1 };
                IdMapping own_gid = { gid, gid, 1 };

                s->uid_map = r->n_uid_mappings > 0 ? id_map_text(r->uid_mappings, r->n_uid_mappings)
                                                   : id_map_text(&own_uid, 1);
                s->gid_map = r->n_gid_mappings > 0 ? id_map_text(r->gid_mappings, r->n_gid_mappings)
                                                   : id_map_text(&own_gid, 1);
                if (!s->uid_map || !s->gid_map)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);

                /* A non-root caller must not be able to drop groups that deny it access. */
                if (r->setgroups == 0 || (r->setgroups < 0 && !c->caller->privileged))
                        s->setgroups = "deny";
                else if (r->setgroups > 0)
                        s->setgroups = "allow";
        }

        if (r->has_monotonic_offset || r->has_boottime_offset) {
                char monotonic[64] = "", boottime[64] = "";

                if (r->has_monotonic_offset)
                        (void) snprintf(monotonic, sizeof monotonic, "monotonic %" PRId64 " %" PRIu32 "\n",
                                        r->monotonic_offset.secs, r->monotonic_offset.nanosecs);
                if (r->has_boottime_offset)
                        (void) snprintf(boottime, sizeof boottime, "boottime %" PRId64 " %" PRIu32 "\n",
                                        r->boottime_offset.secs, r->boottime_offset.nanosecs);
                if (asprintf(&s->timens_offsets, "%s%s", monotonic, boottime) < 0) {
                        s->timens_offsets = NULL;
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                }
        }

        return 0;
}

static void strv_size(char *const *l, size_t *n, size_t *bytes) {
        for (; l && *l; l++) {
                (*n)++;
                *bytes += strlen(*l) + 1;
        }
}

static char *copy_string(char **pos, const char *s) {
        size_t len = strlen(s) + 1;
        char *d = *pos;

        memcpy(d, s, len);
        *pos += len;
        return d;
}

static char **copy_strv(char ***slots, char **pos, char *const *l) {
        char **out = *slots;
        size_t i = 0;

        for (; l && l[i]; i++)
                out[i] = copy_string(pos, l[i]);
        out[i] = NULL;
        *slots += i + 1;
        return out;
}

/*
 * What the child reads of the request and the cgroup, copied into memory the
 * plan owns (one block for the strings: argv, envp, the program, cwd and its
 * fallbacks, the lock files, the hostname): a child that runs on the daemon's
 * memory (spawn-worker.c) reads it after spawn_start() returned, when the
 * request and the cgroup may be gone.
 */
static int plan_copy_borrowed(SpawnPlan *p, SpawnError *e) {
        size_t n = 0, bytes = 0, slots;
        char **slot, *pos;

        strv_size(p->argv, &n, &bytes);
        strv_size(p->envp, &n, &bytes);
        strv_size(p->cwd_fallbacks, &n, &bytes);
        strv_size(p->lock_files, &n, &bytes);
        slots = n + 4;
        bytes += strlen(p->program) + 1 + strlen(p->cwd) + 1 + (p->hostname ? strlen(p->hostname) + 1 : 0);

        p->strings = malloc(slots * sizeof(char *) + bytes);
        if (!p->strings)
                return spawn_fail(e, "prepare", ENOMEM, NULL);
        slot = p->strings;
        pos = (char *) (slot + slots);
        p->argv = copy_strv(&slot, &pos, p->argv);
        p->envp = copy_strv(&slot, &pos, p->envp);
        if (p->cwd_fallbacks)
                p->cwd_fallbacks = copy_strv(&slot, &pos, p->cwd_fallbacks);
        if (p->lock_files)
                p->lock_files = copy_strv(&slot, &pos, p->lock_files);
        p->program = copy_string(&pos, p->program);
        p->cwd = copy_string(&pos, p->cwd);
        if (p->hostname)
                p->hostname = copy_string(&pos, p->hostname);

        if (p->n_cgroup_tasks_fds + p->n_cgroup_pids_checks > 0) {
                size_t n_tasks = p->n_cgroup_tasks_fds, n_checks = 2 * p->n_cgroup_pids_checks;

                p->cgroup_fds_copy = calloc(n_tasks + n_checks, sizeof(int));
                if (!p->cgroup_fds_copy)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                if (n_tasks > 0)
                        memcpy(p->cgroup_fds_copy, p->cgroup_tasks_fds, n_tasks * sizeof(int));
                if (n_checks > 0)
                        memcpy(p->cgroup_fds_copy + n_tasks, p->cgroup_pids_check_fds, n_checks * sizeof(int));
                p->cgroup_tasks_fds = p->cgroup_fds_copy;
                p->cgroup_pids_check_fds = p->cgroup_fds_copy + n_tasks;
        }
        return 0;
}

static int spawn_plan_new(const SpawnContext *c, SpawnPlan **ret, SpawnParentSteps *ret_steps, SpawnError *e) {
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        _cleanup_free_ char *field = NULL;
        SpawnParentSteps steps = {};
        int r;

        /* The rules across a request's fields have one owner; a request the decoder did not make meets them too. */
        r = spawn_request_verify(c->request, &field);
        if (r < 0)
                return spawn_fail(e, "prepare", -r, "%s", field ?: "request");

        if (!process_set_up) {
                r = spawn_setup_process();
                if (r < 0)
                        return spawn_fail(e, "prepare", -r, "/dev/null");
        }

        p = calloc(1, sizeof(SpawnPlan));
        if (!p)
                return spawn_fail(e, "prepare", ENOMEM, NULL);
        p->devnull_fd = p->child_sync_fd = p->child_report_fd = p->proc_fd = p->proc_sys_fd = -EBADF;
        p->user_pids_current_fd = p->user_pids_max_fd = -EBADF;
        if (c->cgroup) {
                p->n_cgroup_tasks_fds = cgroup_v1_tasks_fds(c->cgroup, &p->cgroup_tasks_fds);
                cgroup_v1_user_pids_fds(c->cgroup, &p->user_pids_current_fd, &p->user_pids_max_fd);
                p->n_cgroup_pids_checks = cgroup_v1_pids_checks(c->cgroup, &p->cgroup_pids_check_fds);
        }
        p->stdio_pipe_fds[0] = p->stdio_pipe_fds[1] = p->stdio_pipe_fds[2] = -EBADF;
        p->capture_fds[0] = p->capture_fds[1] = -EBADF;
        p->parent_sync_fd = p->parent_report_fd = -EBADF;
        p->init_program_fd = -EBADF;

        r = plan_namespaces(p, c, e);
        if (r >= 0)
                r = plan_credentials(p, c, e);
        if (r >= 0)
                r = plan_confinement(p, c, e);
        if (r >= 0)
                r = plan_fds(p, c, e);
        if (r >= 0)
                r = plan_exec(p, c, e);
        if (r >= 0)
                r = plan_copy_borrowed(p, e);
        if (r >= 0)
                r = plan_parent_steps(&steps, c, e);
        if (r >= 0)
                r = mount_plan_new(c, &p->mounts, e);
        if (r < 0) {
                spawn_parent_steps_done(&steps);
                return r;
        }
        mount_plan_set_copy_program(p->mounts, init_program_fd);
        /* Only a process in the parent user namespace may write these: the child's own (spawn-child.c). */
        if (p->maps_by_child) {
                p->child_uid_map = TAKE_PTR(steps.uid_map);
                p->child_gid_map = TAKE_PTR(steps.gid_map);
                p->child_setgroups = steps.setgroups;
                steps.setgroups = NULL;
        }

        *ret = TAKE_PTR(p);
        *ret_steps = steps;
        return 0;
}

/* ---- clone and the handshake ---- */

static int open_channels(SpawnPlan *p, SpawnError *e) {
        int pair[2], r;

        if (pipe2(pair, O_CLOEXEC) < 0)
                return spawn_fail(e, "prepare", errno, "report pipe");
        p->parent_report_fd = pair[0];
        p->child_report_fd = pair[1];
        /* Read on the loop, including right after the child died during the handshake. */
        r = fd_set_nonblock(p->parent_report_fd, true);
        if (r < 0)
                return spawn_fail(e, "prepare", -r, "report pipe");

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return spawn_fail(e, "prepare", errno, "sync socket");
        p->parent_sync_fd = pair[0];
        p->child_sync_fd = pair[1];
        return 0;
}

/*
 * The supplementary groups the child is cloned with stay its groups wherever it
 * does not call setgroups() itself: in a new user namespace that denies it and
 * in a joined one. For a non-root caller they must be the caller's own, so
 * that a group which denies it access still does, as under `unshare -U` run
 * by the caller; root's children get none, except in a sandbox's user
 * namespace, where they get what that sandbox's process has or what root
 * named there (SpawnPlan.clone_groups). The daemon itself holds none
 * except around clone3(), and only in the thread that clones (a spawn
 * worker, or the loop's): the raw system call changes the calling thread
 * alone. glibc's setgroups() would change every thread, waiting for each to
 * take a signal, and a closer thread stuck in close() (async-close.c) takes
 * none.
 */
static __thread bool own_groups_empty = false;

static int take_groups_for_clone(const SpawnPlan *p, SpawnError *e) {
        if (p->n_clone_groups == 0) {
                if (own_groups_empty)
                        return 0;
                if (syscall(SYS_setgroups, 0, NULL) < 0)
                        return spawn_fail(e, "credentials", errno, "setgroups");
                own_groups_empty = true;
                return 0;
        }

        own_groups_empty = false;
        if (syscall(SYS_setgroups, p->n_clone_groups, p->clone_groups) < 0)
                return spawn_fail(e, "credentials", errno, "setgroups");
        return 0;
}

static int drop_groups_after_clone(SpawnError *e) {
        if (own_groups_empty)
                return 0;
        if (syscall(SYS_setgroups, 0, NULL) < 0) {
                int error = errno;

                return e ? spawn_fail(e, "credentials", error, "setgroups") : -error;
        }
        own_groups_empty = true;
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;

        return (x > y) - (x < y);
}

/*
 * The fds the child uses before execve(), sorted and without repeats: it closes
 * every other one first thing, so a child that stalls before execve() (on a
 * "file" entry's pipe, say) holds none of the daemon's sockets, other
 * sandboxes' pidfds or other messages' fds. Built here: the child must not
 * allocate.
 */
static int plan_keep_fds(SpawnPlan *p, SpawnError *e) {
        size_t n_mount_fds = mount_plan_fds(p->mounts, NULL, 0), n = 0, k = 0;
        int *fds;

        fds = calloc(8 + p->n_fds + p->n_joins + p->n_seccomp_fds + n_mount_fds, sizeof(int));
        if (!fds)
                return spawn_fail(e, "prepare", ENOMEM, NULL);

        fds[n++] = p->child_sync_fd;
        fds[n++] = p->child_report_fd;
        if (p->devnull_fd >= 0)
                fds[n++] = p->devnull_fd;
        if (p->proc_fd >= 0)
                fds[n++] = p->proc_fd;
        for (size_t i = 0; i < p->n_fds; i++)
                fds[n++] = p->fds[i].source;
        for (size_t i = 0; i < p->n_joins; i++)
                fds[n++] = p->joins[i].fd;
        for (size_t i = 0; i < p->n_seccomp_fds; i++)
                fds[n++] = p->seccomp_fds[i].fd;
        if (p->proc_sys_fd >= 0)
                fds[n++] = p->proc_sys_fd;
        if (p->init_program_fd >= 0)
                fds[n++] = p->init_program_fd;
        if (p->block_fd >= 0)
                fds[n++] = p->block_fd;
        if (p->command_userns_fd >= 0)
                fds[n++] = p->command_userns_fd;
        n += mount_plan_fds(p->mounts, fds + n, n_mount_fds);

        qsort(fds, n, sizeof(int), cmp_int);
        for (size_t i = 0; i < n; i++)
                if (k == 0 || fds[i] != fds[k - 1])
                        fds[k++] = fds[i];

        p->keep_fds = fds;
        p->n_keep_fds = k;
        return 0;
}

/*
 * setns(CLONE_NEWPID) only changes where this thread's next children are
 * born; the daemon itself stays where it is, so /proc/self/ns/pid is always
 * its own, the way back. Opened for each way back, not kept: a spawn
 * worker's child shares the worker's fd table and may close or reuse any
 * number in it. Back in its own namespace the thread must be, or every later
 * sandbox would start in a client's: failing that is not a state to go on
 * from.
 */
static int pid_namespace_for_children(int ns_fd) {
        int own;

        if (ns_fd >= 0)
                return setns(ns_fd, CLONE_NEWPID) < 0 ? -errno : 0;
        own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own < 0 || setns(own, CLONE_NEWPID) < 0)
                abort();
        (void) close(own);
        return 0;
}

/*
 * A non-root caller's new user namespace belongs to the caller, as one it
 * made itself with `unshare -U` would: the kernel takes the owner from the
 * creator's effective ids, so this thread takes the caller's just around
 * clone3() (spawn_take_owner_ids()) and goes back at once. The caller may
 * then setns() into its sandbox and pass its namespaces back in
 * joinNamespaces. Failing to go back is not a state to go on from.
 */
static int take_owner_ids(const SpawnPlan *p, uid_t *ret_uid, gid_t *ret_gid) {
        *ret_uid = geteuid();
        *ret_gid = getegid();
        return spawn_take_owner_ids(p->owner_uid, p->owner_gid);
}

static void restore_own_ids(uid_t uid, gid_t gid) {
        if (syscall(SYS_setresuid, (uid_t) -1, uid, (uid_t) -1) < 0 ||
            syscall(SYS_setresgid, (gid_t) -1, gid, (gid_t) -1) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                abort();
}

/*
 * What the cloning thread holds just around clone3() for the child to be born
 * right: a joined pid namespace for its children, and the caller's ids as
 * the owner of a new user namespace. Both change this thread alone.
 */
typedef struct CloneThread {
        bool pid_entered;
        bool as_owner;
        uid_t own_uid;
        gid_t own_gid;
} CloneThread;

static void clone_thread_restore(CloneThread *t) {
        if (t->as_owner)
                restore_own_ids(t->own_uid, t->own_gid);
        if (t->pid_entered)
                (void) pid_namespace_for_children(-EBADF);
        *t = (CloneThread) {};
}

static int clone_thread_prepare(const SpawnPlan *p, CloneThread *t, SpawnError *e) {
        int r;

        *t = (CloneThread) {};
        if (p->joins_pid) {
                r = pid_namespace_for_children(p->pid_join.fd);
                if (r < 0)
                        return spawn_fail(e, "setns", -r, "%s", p->pid_join.name);
                t->pid_entered = true;
        }
        if (p->userns_as_caller && (p->clone_flags & CLONE_NEWUSER)) {
                t->as_owner = true;
                r = take_owner_ids(p, &t->own_uid, &t->own_gid);
                if (r < 0) {
                        clone_thread_restore(t);
                        return spawn_fail(e, "clone3", -r, "the caller's ids as the user namespace's owner");
                }
        }
        return 0;
}

/* The fork-style clone, from the calling thread: for what cannot run on the daemon's memory (see
 * plan_can_share_memory()) and when no spawn worker is to be had. */
static int clone_child(SpawnPlan *p, int cgroup_fd, pid_t *ret_pid, int *ret_pidfd, SpawnError *e) {
        /* CLONE_CLEAR_SIGHAND: not even a fault in the child can run one of the daemon's
         * handlers (ignored signals stay ignored until the child resets them). CLONE_INTO_CGROUP: it is
         * in its cgroup from its first instruction, so nothing it does escapes the cgroup's limits. */
        struct clone_args args = {
                .flags = CLONE_PIDFD | CLONE_CLEAR_SIGHAND | p->clone_flags |
                         (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .exit_signal = SIGCHLD,
                .cgroup = cgroup_fd >= 0 ? (uint64_t) cgroup_fd : 0,
        };
        CloneThread t;
        sigset_t all, saved;
        int pidfd = -EBADF, r;
        long pid;

        args.pidfd = (uint64_t) (uintptr_t) &pidfd;

        /* No daemon signal handler may run in the child: it starts with everything blocked. */
        sigfillset(&all);
        if (sigprocmask(SIG_SETMASK, &all, &saved) < 0)
                return spawn_fail(e, "clone3", errno, "sigprocmask");

        r = clone_thread_prepare(p, &t, e);
        if (r < 0) {
                (void) sigprocmask(SIG_SETMASK, &saved, NULL);
                return r;
        }

        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0)
                spawn_child_run(p);

        int saved_errno = errno;
        clone_thread_restore(&t);
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0)
                return spawn_fail(e, "clone3", saved_errno, NULL);

        *ret_pid = (pid_t) pid;
        *ret_pidfd = pidfd;
        return 0;
}

/*
 * A spawn whose child runs on the daemon's memory, from a spawn worker
 * (spawn-worker.c): the plan is the worker's from the call on, and freed
 * there once nothing runs on it; the caller's groups it holds for the clone
 * (SpawnPlan.clone_groups, borrowed) are read only before clone3().
 */
typedef struct SharedSpawn {
        SpawnPlan *plan;
        CloneThread thread;
        int eof_fds[2]; /* SpawnPlan.moved_eof_fds */
} SharedSpawn;

static void take_fd_into_worker(int *fd, bool owned, void *userdata) {
        int *error = userdata, copy;

        if (*fd < 0)
                return;
        copy = spawn_worker_take_fd(*fd);
        if (copy < 0) {
                if (*error == 0)
                        *error = copy;
                return;
        }
        *fd = copy;
}

static void forget_fd(int *fd, bool owned, void *userdata) {
        *fd = -EBADF;
}

/* The plan's fds, or only those it owns: counted first (fds NULL), then listed into fds. */
typedef struct FdList {
        int *fds;
        size_t n;
        bool owned_only;
} FdList;

static void list_fd(int *fd, bool owned, void *userdata) {
        FdList *l = userdata;

        if ((l->owned_only && !owned) || *fd < 0)
                return;
        if (l->fds)
                l->fds[l->n] = *fd;
        l->n++;
}

static int plan_list_fds(SpawnPlan *p, bool owned_only, FdList *ret) {
        FdList l = { .owned_only = owned_only };

        spawn_plan_visit_fds(p, list_fd, &l);
        l.fds = calloc(l.n + 1, sizeof(int));
        if (!l.fds)
                return -ENOMEM;
        l.n = 0;
        spawn_plan_visit_fds(p, list_fd, &l);
        *ret = l;
        return 0;
}

static int shared_before(void *userdata, SpawnError *e) {
        SharedSpawn *s = userdata;
        int r = 0;

        /* The plan's fds, renumbered into the worker's own table (the child shares that one). */
        spawn_plan_visit_fds(s->plan, take_fd_into_worker, &r);
        if (r < 0)
                return spawn_fail(e, "prepare", -r, "the plan's fds in the spawn worker");
        /* What the answer waits for EOF on: the worker lets go of its copies first thing after the clone,
         * wherever the child moved them. Not a warm-pool entry's sync socket: a hit sends the request's fds
         * through it (spawn_start_pooled()), and an entry that died before taking them leaves them in flight
         * there, to be released by the socket's last close, which a caller's lingering socket among them
         * would make wait in the worker's thread. Its hang-up, which tells the pool the entry died, comes
         * from the helper that closes the rest (worker_clear_fds()) a moment later. */
        s->eof_fds[0] = s->plan->child_report_fd;
        s->eof_fds[1] = s->plan->pooled ? -EBADF : s->plan->child_sync_fd;
        s->plan->moved_eof_fds = s->eof_fds;
        for (size_t i = 0; i < ELEMENTSOF(s->eof_fds); i++)
                (void) spawn_worker_close_first(&s->eof_fds[i]);
        qsort(s->plan->keep_fds, s->plan->n_keep_fds, sizeof(int), cmp_int);
        s->plan->profile_inherited = spawn_plan_may_inherit_profile(s->plan) && spawn_worker_filtered();
        r = take_groups_for_clone(s->plan, e);
        if (r < 0)
                return r;
        r = clone_thread_prepare(s->plan, &s->thread, e);
        if (r < 0)
                (void) drop_groups_after_clone(NULL);
        return r;
}

static void shared_after(void *userdata) {
        SharedSpawn *s = userdata;

        clone_thread_restore(&s->thread);
        /* A worker that fails to drop them only clones: its next clone sets its groups again. */
        (void) drop_groups_after_clone(NULL);
}

_noreturn_ static void shared_child(void *userdata) {
        const SharedSpawn *s = userdata;
        /* The child's scratch goes to its own copy: the worker frees the plan by the fds it holds. */
        SpawnPlan copy = *s->plan;

        spawn_child_run(&copy);
}

static void shared_done(void *userdata, bool cloned) {
        SharedSpawn *s = userdata;
        SpawnPlan *p = s->plan;

        /* A warm-pool entry's: the plan it was handed (its fds are indexes, nothing to close), if any. */
        if (p->pool_slot) {
                SpawnPlan *hit = __atomic_exchange_n(&p->pool_slot->hit, POOL_SLOT_DONE, __ATOMIC_ACQ_REL);

                if (hit) {
                        spawn_plan_visit_fds(hit, forget_fd, NULL);
                        spawn_plan_free(hit);
                }
                p->pool_slot = spawn_pool_slot_unref(p->pool_slot);
        }

        /* Its fds are the worker's copies, which the worker closes, or (not yet renumbered) the daemon's,
         * which the caller closes once the worker took them. */
        spawn_plan_visit_fds(p, forget_fd, NULL);
        spawn_plan_free(p);
        free(s);
}

/*
 * What cannot run on the daemon's memory: a joined time namespace (the kernel
 * lets a process setns() into one only while no other process shares its
 * memory, timens_install()'s EUSERS, and there is no other way in), a new one
 * where the kernel does not move a process into it at execve(), an init that
 * could not exec nsbox-init, and a child that forks a pid namespace's pid 1
 * and stays outside it (either would stay there for the sandbox's life).
 * A new time namespace is made by clone3() or unshare() (with CLONE_VM both
 * leave it the namespace of the child's children, offsets still open), and
 * the child, its init and its command enter it at their execve()
 * (spawn-child.c).
 */
static bool plan_can_share_memory(const SpawnPlan *p) {
        if (!spawn_worker_supported() || p->fork_pid1)
                return false;
        if (spawn_plan_makes_time_namespace(p) && !time_namespace_entered_at_exec)
                return false;
        for (size_t i = 0; i < p->n_joins; i++)
                if (p->joins[i].type == NAMESPACE_TIME)
                        return false;
        return !p->init || p->init_program_fd >= 0;
}

/*
 * A forked child: clone3(CLONE_NEWTIME) without CLONE_VM would put it into the
 * new time namespace at once, freezing the offsets before the daemon writes
 * them. It unshare()s the namespace itself, which then needs its "ready", and
 * enters it once released (spawn-child.c).
 */
static void plan_unshare_time_namespace(SpawnPlan *p) {
        if (!(p->clone_flags & CLONE_NEWTIME))
                return;
        p->clone_flags &= ~(unsigned long) CLONE_NEWTIME;
        p->unshare_flags |= CLONE_NEWTIME;
}

/*
 * Returns -EBUSY with *pp untouched when no worker is to be had (the caller
 * clones itself); otherwise the plan is gone from *pp, whatever the result.
 */
static int clone_child_shared(SpawnPlan **pp, const SpawnContext *c, int cgroup_fd, pid_t *ret_pid, int *ret_pidfd,
                              SpawnError *e) {
        static bool made_undumpable = false;
        SpawnPlan *p = *pp;
        SharedSpawn *s;
        FdList owned, all = {};
        int r;

        /* Until it execs, the child's memory is the daemon's: nobody may read it through ptrace or /proc
         * (the owner of its user namespace may, of a dumpable one). */
        if (!made_undumpable) {
                if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                        return -EBUSY;
                made_undumpable = true;
        }

        /* The plan's own fds: the worker takes copies, these stay the daemon's to close. All of them go
         * with the call where a worker cannot copy them from the daemon's table. */
        if (plan_list_fds(p, true, &owned) < 0)
                return -EBUSY;
        if (spawn_worker_fds_by_socket() && plan_list_fds(p, false, &all) < 0) {
                free(owned.fds);
                return -EBUSY;
        }

        s = calloc(1, sizeof *s);
        if (!s) {
                free(owned.fds);
                free(all.fds);
                return -EBUSY;
        }
        s->plan = p;
        p->shares_memory = true;

        SpawnWorkerCall call = {
                .flags = CLONE_CLEAR_SIGHAND | p->clone_flags,
                .cgroup_fd = cgroup_fd,
                .fds = all.fds,
                .n_fds = all.n,
                /* A warm-pool entry waits on the worker's memory for as long as it is parked. The worker's
                 * kill is the backstop behind the daemon's own deadline, which answers the Spawn (timeout)
                 * and kills the sandbox: at the same time, the worker's kill could come first and the
                 * daemon read an exec'd command's end as its success. */
                .timeout_msec = c->pooled ? 0 : c->timeout_sec * 1000U + SPAWN_WORKER_TIMEOUT_MARGIN_MSEC,
                .armed_timeout_msec = c->pooled ? &p->pool_slot->timeout_msec : NULL,
                .before = shared_before,
                .after = shared_after,
                .child = shared_child,
                .done = shared_done,
                .userdata = s,
                /* A warm-pool entry's too (the uid it is kept for): it goes on for a Spawn of that uid. */
                .owner = c->caller->uid,
        };
        if (spawn_plan_may_inherit_profile(p)) {
                call.filter = p->seccomp->filter;
                call.n_filter = p->seccomp->n_filter;
                call.filter_flags = p->seccomp->flags;
        }
        r = spawn_worker_clone(&call, ret_pid, ret_pidfd, e);
        free(all.fds);
        if (r == -EBUSY) {
                p->shares_memory = false;
                free(s);
                free(owned.fds);
                return r;
        }
        *pp = NULL;

        /* The worker has its copies by now, whatever happened: EOF on the daemon's ends of the child's
         * pipes must mean it is gone. */
        close_many(owned.fds, owned.n);
        free(owned.fds);
        return r;
}

/* The child died before it was released: its report says why (it exited, so the record is there if it wrote one). */
static int child_early_failure(SpawnHandshake *h, SpawnError *e) {
        SpawnError report;
        bool reached_exec = false;
        uint64_t inodes[_NAMESPACE_TYPE_MAX];
        int r;

        r = spawn_read_report(h->report_fd, &reached_exec, inodes, &report);
        if (r == 1) {
                *e = report;
                return -report.error;
        }
        /* Killed, most likely: its exit status says how. */
        (void) spawn_fail(e, "prepare", ECHILD, "the child died before it was released");
        return -ECHILD;
}

static int read_child_ready(SpawnHandshake *h, SpawnError *e) {
        char c;
        ssize_t n;

        do
                n = recv(h->sync_fd, &c, 1, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                if (errno == EAGAIN)
                        return -EAGAIN;
                return spawn_fail(e, "prepare", errno, "sync socket");
        }
        if (n == 0 || c != SPAWN_SYNC_READY)
                return child_early_failure(h, e);
        return 0;
}

/* Writing these never waits for the child: a stopped child's files take their content all the same. */
static int write_proc_file(pid_t pid, const char *name, const char *text) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        size_t len = strlen(text);
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, name);
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* Each of these files takes its whole content in one write. */
        n = write(fd, text, len);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

static int write_parent_steps(pid_t pid, const SpawnParentSteps *s, SpawnError *e) {
        /* The order matters: "deny" is only accepted before gid_map is written. */
        const struct {
                const char *file;
                const char *text;
        } steps[] = {
                { "uid_map", s->uid_map },
                { "setgroups", s->setgroups },
                { "gid_map", s->gid_map },
                { "timens_offsets", s->timens_offsets },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                if (!steps[i].text)
                        continue;
                r = write_proc_file(pid, steps[i].file, steps[i].text);
                if (r < 0)
                        return spawn_fail(e, steps[i].file, -r, "/proc/%d/%s", (int) pid, steps[i].file);
        }
        return 0;
}

/*
 * Before the child runs anything of the request's: in a new user namespace it could not raise a hard limit
 * itself. Setting another uid's limits takes CAP_SYS_RESOURCE, which a daemon may lack (a bounding set
 * without it): a limit no higher than the child's own, which it has from the daemon, the child sets
 * itself before its exec (spawn-child.c), so only a raise fails here.
 *
 * RLIMIT_NOFILE is the command's, set by it last before its exec (SpawnPlan.nofile): until then the child
 * and init make and move fds of their own, and a limit below those (3 leaves room for stdio alone) would
 * fail the spawn instead of leaving the command with what it asked for, as prlimit(1) does. Here only a
 * hard limit above the daemon's is raised, which the child could not do, the soft one left as it is.
 */
static int set_rlimits(const SpawnRequest *r, pid_t pid, SpawnError *e) {
        for (size_t i = 0; i < r->n_rlimits; i++) {
                struct rlimit rl = { r->rlimits[i].soft, r->rlimits[i].hard }, own;
                int resource = r->rlimits[i].type, error;

                if (resource == RLIMIT_NOFILE) {
                        if (getrlimit(RLIMIT_NOFILE, &own) < 0)
                                return spawn_fail(e, "rlimit", errno, "rlimits[%zu]: RLIMIT_NOFILE", i);
                        if (rl.rlim_max <= own.rlim_max)
                                continue;
                        rl.rlim_cur = own.rlim_cur;
                }
                if (prlimit(pid, (__rlimit_resource_t) resource, &rl, NULL) >= 0)
                        continue;
                error = errno;
                if (error == EPERM && getrlimit((__rlimit_resource_t) resource, &own) >= 0 && rl.rlim_max <= own.rlim_max)
                        continue;
                return spawn_fail(e, "rlimit", error, "rlimits[%zu]: %s", i, rlimit_type_to_string(resource) ?: "?");
        }
        return 0;
}

/* One byte into an empty socket buffer: never waits, whatever state the child is in. */
static int release_child(SpawnHandshake *h, SpawnError *e) {
        char c = SPAWN_SYNC_GO;
        ssize_t n;

        do
                n = send(h->sync_fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        /* The child is gone before its release (it failed its first step): its report says why. */
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
                return child_early_failure(h, e);
        if (n != 1)
                return spawn_fail(e, "prepare", n < 0 ? errno : EIO, "sync socket");
        return 0;
}

int spawn_handshake_step(SpawnHandshake *h, SpawnError *ret_error) {
        SpawnError e = {};
        int r;

        if (!h || !ret_error)
                return -EINVAL;
        /* First: a child that needs no release may have gone on already, but what failed around its clone
         * still fails its spawn. */
        if (h->error.error > 0) {
                *ret_error = h->error;
                return -h->error.error;
        }
        if (h->released)
                return 0;

        if (h->needs_ready) {
                r = read_child_ready(h, &e);
                if (r == -EAGAIN)
                        return r;
                if (r < 0)
                        goto fail;
                h->needs_ready = false;
        }

        r = write_parent_steps(h->pid, &h->steps, &e);
        if (r >= 0)
                r = release_child(h, &e);
        if (r < 0)
                goto fail;

        h->released = true;
        return 0;

fail:
        if (e.stage[0] == '\0')
                spawn_error_set(&e, "prepare", -r, NULL);
        /* Final: asking again gives the same answer. */
        h->error = e;
        *ret_error = e;
        return r;
}

int spawn_handshake_fd(const SpawnHandshake *h) {
        return h && !h->released && h->needs_ready && h->error.error == 0 ? h->sync_fd : -EBADF;
}

int spawn_handshake_take_answer_fd(SpawnHandshake *h) {
        return h && h->released && h->init_awaits_answer ? TAKE_FD(h->sync_fd) : -EBADF;
}

SpawnHandshake *spawn_handshake_free(SpawnHandshake *h) {
        if (!h)
                return NULL;
        spawn_parent_steps_done(&h->steps);
        safe_close(h->sync_fd);
        free(h);
        return NULL;
}

/* The plan's supplementary groups for the caller's record (NULL without any). */
static int copy_groups(const SpawnPlan *p, gid_t **ret, SpawnError *e) {
        gid_t *groups = NULL;

        if (p->n_groups > 0) {
                groups = calloc(p->n_groups, sizeof(gid_t));
                if (!groups)
                        return spawn_fail(e, "prepare", ENOMEM, NULL);
                memcpy(groups, p->groups, p->n_groups * sizeof(gid_t));
        }
        *ret = groups;
        return 0;
}

/*
 * Whether the child waits for "go": when the daemon has something to do between clone3() and the request's
 * first step (a "ready" to wait for, maps and offsets to write, hard limits to raise), or a warm-pool entry's
 * request comes after it on the sync socket. Otherwise the wait would be a round trip through the loop for
 * nothing, on every spawn's way. Init keeps the socket all the same (for the EOF that tells it the spawn was
 * answered), but needs no "go" before it.
 */
static bool plan_awaits_release(const SpawnPlan *p, const SpawnParentSteps *s, const SpawnRequest *r) {
        return spawn_plan_needs_ready(p) || s->uid_map || s->gid_map || s->setgroups || s->timens_offsets ||
               r->n_rlimits > 0 || p->pooled;
}

int spawn_start(const SpawnContext *c, SpawnHandle *ret, SpawnError *ret_error) {
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        _cleanup_(spawn_handshake_freep) SpawnHandshake *h = NULL;
        _cleanup_close_ int pidfd = -EBADF, report_fd = -EBADF, capture_out = -EBADF, capture_err = -EBADF;
        _cleanup_free_ gid_t *groups = NULL;
        SpawnParentSteps steps = {};
        SpawnError e = {};
        pid_t pid = 0;
        unsigned made_after_joins = 0;
        SpawnPoolSlot *slot = NULL;
        bool slot_given = false;
        int r, k;

        if (!c || !c->request || !c->caller || !ret || !ret_error)
                return -EINVAL;

        r = spawn_plan_new(c, &p, &steps, &e);
        if (r < 0)
                goto fail;
        if (c->pooled) {
                /* Only a child on the daemon's memory can be handed a plan made later. */
                if (!plan_can_share_memory(p) || p->n_joins > 0 || p->joins_pid || p->unshare_flags != 0 || steps.timens_offsets) {
                        r = spawn_fail(&e, "prepare", EINVAL, "not a shape a warm pool serves");
                        goto fail;
                }
                slot = spawn_pool_slot_new();
                if (!slot) {
                        r = spawn_fail(&e, "prepare", ENOMEM, NULL);
                        goto fail;
                }
                p->pooled = true;
                p->pool_slot = slot;
        }

        h = calloc(1, sizeof *h);
        if (!h) {
                r = spawn_fail(&e, "prepare", ENOMEM, NULL);
                goto fail;
        }
        h->sync_fd = -EBADF;
        h->steps = steps;
        steps = (SpawnParentSteps) {};

        r = open_channels(p, &e);
        if (r >= 0)
                r = plan_keep_fds(p, &e);
        if (r < 0)
                goto fail;
        /* For the caller's record, made now: nothing may fail once the child exists but the handshake. */
        r = copy_groups(p, &groups, &e);
        if (r < 0)
                goto fail;

        /* Everything the caller gets from the plan is taken now: once a child runs on the daemon's memory,
         * the plan is its worker's. */
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (p->n_joins > 0 && (p->unshare_flags & namespace_type_to_clone_flag(t)))
                        made_after_joins |= NAMESPACE_BIT(t);
        SpawnHandle out = {
                .uid = p->uid,
                .gid = p->gid,
                .set_groups = p->set_groups,
                .n_groups = p->n_groups,
                .pid_namespace_below = p->fork_pid1,
                .made_after_joins = made_after_joins,
        };
        report_fd = TAKE_FD(p->parent_report_fd);
        capture_out = TAKE_FD(p->capture_fds[0]);
        capture_err = TAKE_FD(p->capture_fds[1]);
        int cgroup_fd = c->cgroup ? cgroup_dir_fd(c->cgroup) : -EBADF;
        h->needs_ready = spawn_plan_needs_ready(p);
        h->init_awaits_answer = p->init;
        h->sync_fd = TAKE_FD(p->parent_sync_fd);
        h->report_fd = report_fd;

        r = -EBUSY;
        if (plan_can_share_memory(p)) {
                p->awaits_release = plan_awaits_release(p, &h->steps, c->request);
                h->released = !p->awaits_release;
                r = clone_child_shared(&p, c, cgroup_fd, &pid, &pidfd, &e);
        }
        if (slot && r != -EBUSY)
                /* The worker has its reference: it drops it once done, whatever happened. */
                slot_given = true;
        if (slot && r == -EBUSY) {
                /* No worker: a pooled child cannot be forked. */
                p->pool_slot = NULL;
                r = spawn_fail(&e, "clone3", EBUSY, "no spawn worker for a warm-pool entry");
        } else if (r == -EBUSY) {
                plan_unshare_time_namespace(p);
                h->needs_ready = spawn_plan_needs_ready(p);
                p->awaits_release = plan_awaits_release(p, &h->steps, c->request);
                h->released = !p->awaits_release;
                r = take_groups_for_clone(p, &e);
                if (r >= 0)
                        r = clone_child(p, cgroup_fd, &pid, &pidfd, &e);
                /* Whatever happened: the daemon must not keep the caller's groups. If only this failed, the
                 * child exists: its handshake fails at the first step, and the caller kills and reaps it. */
                k = drop_groups_after_clone(r < 0 ? NULL : &h->error);
                (void) k;
                if (r >= 0) {
                        /* Only the child may hold its ends: EOF on ours must mean it is gone. */
                        p->child_sync_fd = safe_close(p->child_sync_fd);
                        p->child_report_fd = safe_close(p->child_report_fd);
                }
        }
        if (r < 0)
                goto fail;

        /* The rest of its setup is the handshake's, which releases it: by then it must have its rlimits. A
         * failure here fails the handshake at its first step. */
        if (h->error.error == 0)
                (void) set_rlimits(c->request, pid, &h->error);

        h->pid = pid;
        out.groups = TAKE_PTR(groups);
        out.pid = pid;
        out.pidfd = TAKE_FD(pidfd);
        out.report_fd = TAKE_FD(report_fd);
        out.handshake = TAKE_PTR(h);
        out.capture_fds[0] = TAKE_FD(capture_out);
        out.capture_fds[1] = TAKE_FD(capture_err);
        out.pool_slot = TAKE_PTR(slot);
        *ret = out;
        return 0;

fail:
        if (slot) {
                if (p)
                        p->pool_slot = NULL;
                if (!slot_given)
                        (void) spawn_pool_slot_unref(slot);
                (void) spawn_pool_slot_unref(slot);
        }
        spawn_parent_steps_done(&steps);
        *ret_error = e;
        return r;
}

/* ---- warm-pool entries ---- */

int spawn_pool_parked_fd(const SpawnHandle *entry) {
        return entry && entry->handshake && entry->handshake->released ? entry->handshake->sync_fd : -EBADF;
}

int spawn_pool_read_parked(SpawnHandle *entry) {
        int fd = spawn_pool_parked_fd(entry);
        ssize_t n;
        char c;

        if (fd < 0)
                return -EINVAL;
        do
                n = recv(fd, &c, 1, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
                return -EAGAIN;
        return n == 1 && c == SPAWN_SYNC_PARKED ? 0 : -ECHILD;
}

/* The distinct fds of a plan, each field renumbered to its index among them; and which of them it owns. */
typedef struct FdIndex {
        int *fds;
        bool *owned;
        size_t n, max;
        int error;
} FdIndex;

static void index_fd(int *fd, bool owned, void *userdata) {
        FdIndex *x = userdata;
        size_t i;

        if (*fd < 0 || x->error < 0)
                return;
        for (i = 0; i < x->n; i++)
                if (x->fds[i] == *fd)
                        break;
        if (i == x->n) {
                if (x->n == x->max) {
                        size_t m = x->max > 0 ? x->max * 2 : 32;
                        int *fds = reallocarray(x->fds, m, sizeof(int));
                        bool *o;

                        if (fds)
                                x->fds = fds;
                        o = fds ? reallocarray(x->owned, m, sizeof(bool)) : NULL;
                        if (!o) {
                                x->error = -ENOMEM;
                                return;
                        }
                        x->owned = o;
                        x->max = m;
                }
                x->fds[x->n] = *fd;
                x->owned[x->n] = false;
                x->n++;
        }
        x->owned[i] = x->owned[i] || owned;
        *fd = (int) i;
}

/* One message, never waiting: the socket's buffer holds nothing else. */
static int send_plan(int sync_fd, SpawnPlan *p, const int *fds, size_t n_fds) {
        return fd_send(sync_fd, &p, sizeof p, fds, n_fds, MSG_DONTWAIT);
}

int spawn_start_pooled(const SpawnContext *c, SpawnHandle *entry, SpawnHandle *ret, SpawnError *ret_error) {
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        _cleanup_(spawn_handshake_freep) SpawnHandshake *h = NULL;
        _cleanup_close_ int capture_out = -EBADF, capture_err = -EBADF;
        _cleanup_free_ gid_t *groups = NULL;
        FdIndex x = {};
        _cleanup_(spawn_parent_steps_done) SpawnParentSteps steps = {};
        SpawnError e = {};
        SpawnPlan *old;
        bool p_init;
        int sync_fd, r;

        if (!c || !c->request || !c->caller || c->pooled || !entry || !entry->pool_slot || !ret || !ret_error)
                return -EINVAL;
        sync_fd = spawn_pool_parked_fd(entry);
        if (sync_fd < 0)
                return -EINVAL;

        r = spawn_plan_new(c, &p, &steps, &e);
        if (r < 0)
                goto fail;
        if (!plan_can_share_memory(p) || p->n_joins > 0 || p->joins_pid || p->unshare_flags != 0 || p->maps_by_child) {
                r = spawn_fail(&e, "prepare", EINVAL, "not a shape a warm pool serves");
                goto fail;
        }
        p->shares_memory = true;
        p_init = p->init;

        h = calloc(1, sizeof *h);
        if (!h) {
                r = spawn_fail(&e, "prepare", ENOMEM, NULL);
                goto fail;
        }
        *h = (SpawnHandshake) { .pid = entry->pid, .sync_fd = -EBADF, .report_fd = entry->report_fd, .released = true };
        r = copy_groups(p, &groups, &e);
        if (r < 0)
                goto fail;
        capture_out = TAKE_FD(p->capture_fds[0]);
        capture_err = TAKE_FD(p->capture_fds[1]);

        /* Its rlimits before it runs anything of the request's, as a fresh child's. The maps are the entry's,
         * written when it was made: the caller matched them. Its time namespace's offsets are the request's:
         * nobody has entered that namespace yet (the entry, on the worker's memory, does at its execve(), as
         * a fresh child there does), so they are written now. */
        r = set_rlimits(c->request, entry->pid, &e);
        if (r >= 0 && steps.timens_offsets)
                r = write_parent_steps(entry->pid, &(const SpawnParentSteps) { .timens_offsets = steps.timens_offsets }, &e);
        if (r < 0)
                goto fail;

        /* From here on the plan's fd fields are indexes into x.fds, the daemon's fds the child gets copies of. */
        spawn_plan_visit_fds(p, index_fd, &x);
        if (x.error < 0 || x.n > SPAWN_POOL_FDS_MAX) {
                r = spawn_fail(&e, "prepare", x.error < 0 ? -x.error : E2BIG, "the request's fds for a warm-pool entry");
                goto fail_indexed;
        }
        r = send_plan(sync_fd, p, x.fds, x.n);
        if (r < 0) {
                r = spawn_fail(&e, "prepare", -r, "handing the request to a warm-pool entry");
                goto fail_indexed;
        }
        /* The child has its copies: only it may hold the ends of its pipes, so EOF on ours means it is gone. */
        for (size_t i = 0; i < x.n; i++)
                if (x.owned[i])
                        safe_close(x.fds[i]);
        /* From now on it runs the request on the worker's memory: as long as a cold child may, no longer. */
        __atomic_store_n(&entry->pool_slot->timeout_msec, c->timeout_sec * 1000U + SPAWN_WORKER_TIMEOUT_MARGIN_MSEC,
                         __ATOMIC_RELEASE);

        SpawnHandle out = {
                .pid = entry->pid,
                .uid = p->uid,
                .gid = p->gid,
                .set_groups = p->set_groups,
                .n_groups = p->n_groups,
                .groups = TAKE_PTR(groups),
                .capture_fds = { TAKE_FD(capture_out), TAKE_FD(capture_err) },
        };

        /* The worker frees the plan once nothing runs on it; if it is done already (the child died), so
         * do we (the report pipe tells the caller). */
        old = __atomic_exchange_n(&entry->pool_slot->hit, p, __ATOMIC_ACQ_REL);
        if (old == POOL_SLOT_DONE)
                spawn_plan_visit_fds(p, forget_fd, NULL);
        else
                p = NULL;
        free(x.fds);
        free(x.owned);

        /* Its sync socket is done with, but as the one its init waits on: what was sent stays readable for the
         * child. */
        if (p_init)
                h->sync_fd = TAKE_FD(entry->handshake->sync_fd);
        h->init_awaits_answer = p_init;
        entry->handshake = spawn_handshake_free(entry->handshake);
        out.pidfd = TAKE_FD(entry->pidfd);
        out.report_fd = TAKE_FD(entry->report_fd);
        out.handshake = TAKE_PTR(h);
        *ret = out;
        return 0;

fail_indexed:
        /* The plan's own fds are the daemon's still; its fields are indexes now. */
        for (size_t i = 0; i < x.n; i++)
                if (x.owned[i])
                        safe_close(x.fds[i]);
        spawn_plan_visit_fds(p, forget_fd, NULL);
        free(x.fds);
        free(x.owned);
fail:
        *ret_error = e;
        return r;
}
