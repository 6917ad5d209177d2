/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The spawn path: turns a validated SpawnRequest into a namespaced process.
 * spawn_start() does the part that never waits for the child (prepare,
 * clone3); the caller then drives the handshake (spawn_handshake_step(),
 * when spawn_handshake_fd() polls readable), watches the report fd and calls
 * spawn_read_report() when it turns readable, so many spawns can be in flight
 * and none can hold up the caller's loop.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "caller.h"
#include "cgroup.h"
#include "sandbox-protocol.h"

struct SeccompProgram;
struct CapabilityMasks;

/*
 * A Spawn from inside a sandbox that creates a user namespace of its own (sandbox-nested.h): the
 * namespaces the new user and mount namespaces are made inside of, and who the caller is there.
 */
typedef struct SpawnParent {
        int user_fd;  /* the sandbox's user namespace (borrowed): joined last, then the new one is made in it */
        int mount_fd; /* the sandbox's mount namespace (borrowed), or -EBADF: a new one copies it */
        /* The sandbox's pid namespace (borrowed), or -EBADF: the child is born in it and a new one is made
         * below it, owned by the new user namespace, whose pid 1 the child forks (spawn-child.c). */
        int pid_fd;
        /* The caller's ids as the sandbox's user namespace sees them: the new namespace's owner, and the
         * ids its maps' hostID fields and the default maps are in. */
        uid_t uid;
        gid_t gid;
} SpawnParent;

/* A uid and gid as a user namespace sees them, and the supplementary groups of the process that has them. */
typedef struct SpawnIds {
        uid_t uid;
        gid_t gid;
        /* set_groups: groups it set there (ids of that namespace); otherwise those it was cloned with and
         * kept (host ids). Borrowed: valid until the answer's caller returns. */
        bool set_groups;
        const gid_t *groups;
        size_t n_groups;
        /* A process in that namespace, which the daemon has not reaped (its /proc/PID tells the namespace's
         * gid_map and setgroups); 0 if none. */
        pid_t pid;
} SpawnIds;

/* The ids the command of the sandbox that made the user namespace with this inode number runs as there, and
 * its groups: true with *ret filled, false where no sandbox of the daemon's made it. */
typedef bool (*SpawnSandboxUserIds)(void *userdata, uint64_t user_namespace, SpawnIds *ret);

typedef struct SpawnContext {
        const SpawnRequest *request;
        /* The request's confinement, resolved by the caller (seccomp_program_for_request(),
         * capability_masks_from_spec()) so bad input is refused before anything is created. */
        struct SeccompProgram *seccomp;               /* NULL: no profile (seccompFileDescriptors still apply) */
        const struct CapabilityMasks *capabilities;   /* NULL: the default sets (capabilities.h) */
        const int *message_fds; /* the fds of the request message; request indexes point here (borrowed) */
        size_t n_message_fds;
        const Caller *caller;   /* who asked: the child acts as this identity for everything a non-root caller names */
        /* The inode numbers of the daemon's own namespaces by NamespaceType (OriginIndex.own_namespaces,
         * borrowed; 0 for a type the kernel lacks): those of every type the sandbox neither makes nor joins.
         * NULL: the child reads all of them. */
        const uint64_t *own_namespace_inodes;
        /* The sandbox's cgroup, or NULL: the child is created in its cgroup2 directory (CLONE_INTO_CGROUP)
         * and moved into its v1 cgroups before it runs anything but the daemon's own setup (borrowed). */
        const Cgroup *cgroup;
        /* An Exec into an existing sandbox: the joins are that sandbox's namespaces, opened by the daemon,
         * not fds a caller sent, so they are not judged against the caller (the server checked that the
         * sandbox is the caller's). caller is the sandbox's creator, so the process is what the sandbox's
         * own is. */
        bool exec;
        /* The sandbox has disableUserNamespaces in force: CAP_SYS_RESOURCE stays out of every set. */
        bool user_namespaces_disabled;
        /* With exec only: the request's new user namespace is made inside a sandbox's (NULL: inside the
         * daemon's). Its maps can then only be written from that user namespace (the kernel takes them from
         * a process in the namespace's parent or in itself): the child writes them through a short-lived
         * process of its own that stays in the parent, never the daemon (spawn-child.c). */
        const SpawnParent *parent;
        /* A warm-pool entry (warm-pool.h): the request is only a shape (namespaces, id maps, setgroups, the
         * caller), and the child parks once its maps are written, until spawn_start_pooled() hands it the
         * plan of the request it is taken for. Needs a spawn worker: -EBUSY without one. */
        bool pooled;
        /* Asked about the user namespace a request joins without "user", as the plan resolved it (once, so a
         * pidfd's process cannot move between the two): one of the daemon's sandboxes made it, and the
         * request runs as that sandbox's command does there, as an Exec into the sandbox does; otherwise (or
         * NULL) as the namespace's root. */
        SpawnSandboxUserIds sandbox_user_ids;
        void *userdata;
        /* The spawn's deadline (spawn-timeout): a child still on the daemon's memory that long after its
         * clone (stopped, say) is killed, even once the spawn was answered (0: none). */
        unsigned timeout_sec;
} SpawnContext;

/* The caller's ids where a new user namespace's maps point: the host's, or the parent sandbox's. */
static inline void spawn_context_caller_ids(const SpawnContext *c, uid_t *ret_uid, gid_t *ret_gid) {
        *ret_uid = c->parent ? c->parent->uid : c->caller->uid;
        *ret_gid = c->parent ? c->parent->gid : c->caller->gid;
}

/* The stage of the mark the child writes right before execve() (with error 0). */
#define SPAWN_REPORT_EXEC "exec"

/* What went wrong, for SpawnFailed(stage, errno, message). Fixed size: the child writes it without malloc. */
typedef struct SpawnError {
        char stage[32];    /* "clone3", "uid_map", "setns", "mount", "hostname", "credentials", "fds", "execve", ... */
        int error;         /* positive errno */
        char message[512]; /* e.g. "/no/such: No such file or directory" */
        /* With the exec mark only: the inode numbers of the namespaces the process is in, by NamespaceType
         * (0 where /proc could not tell), read by the child once its namespaces were final. */
        uint64_t namespace_inodes[_NAMESPACE_TYPE_MAX];
} SpawnError;

typedef struct SpawnHandshake SpawnHandshake;
typedef struct SpawnPoolSlot SpawnPoolSlot;

typedef struct SpawnHandle {
        pid_t pid;     /* host pid of the sandbox's top process */
        int pidfd;     /* owned by the caller from now on */
        /* The top process stays outside the pid namespace the sandbox makes, which is its pid_for_children
         * once the command runs (a nested one: SpawnPlan.fork_pid1). */
        bool pid_namespace_below;
        /* The namespaces (NAMESPACE_BIT()s) the child makes with unshare() after its joins: until it is
         * released, it may still be in the joined ones of those types. */
        unsigned made_after_joins;
        int report_fd; /* read end of the CLOEXEC report pipe: see spawn_read_report() */
        SpawnHandshake *handshake; /* owned by the caller: the steps before the child is released */
        /* With captureOutput, the read ends (O_NONBLOCK, O_CLOEXEC) of the pipes that are the command's
         * stdout and stderr; -EBADF without. Owned by the caller. Only the sandbox holds the write ends:
         * EOF comes when every process of it that has them has closed them or exited. */
        int capture_fds[2];
        /* Who the command runs as, as its user namespace sees it, and the supplementary groups the child
         * sets (set_groups false: it keeps those it was cloned with). groups is owned by the caller
         * (free()). What an Exec into the sandbox starts from. */
        uid_t uid;
        gid_t gid;
        bool set_groups;
        gid_t *groups;
        size_t n_groups;
        /* With SpawnContext.pooled: where spawn_start_pooled() leaves the plan it hands the parked child (owned:
         * spawn_pool_slot_unref()); NULL otherwise. */
        SpawnPoolSlot *pool_slot;
} SpawnHandle;

/*
 * Returns 0 and fills *ret; or a negative errno with *ret_error filled (nothing left behind: no child, no fd).
 * Once it returned 0 the child exists and waits for its release: the caller drives ret->handshake, and
 * must kill and reap the child (without waiting on the loop: it may be stuck in the kernel) if that fails.
 *
 * What the caller can rely on:
 *  - report_fd is O_NONBLOCK and O_CLOEXEC; spawn_read_report() tells exec from failure once the
 *    handshake released the child. A child that fails before execve() writes one SpawnError and exits
 *    127; one killed before execve() leaves EOF without the mark it writes right before execve(), and
 *    its exit status tells how it died.
 *  - pid/pidfd refer to the sandbox's top process: the command itself, or with init the sandbox's init.
 *    It is in every namespace the command is in (the new time namespace, a joined pid namespace).
 *    Init exits with the command's exit code; if the command died of a signal, init dies of the same
 *    signal, except as pid 1 of a new pid namespace, where the kernel forbids that: it exits 128 + signal.
 *    Signals sent to init (pidfd_send_signal) are forwarded to the command; SIGKILL ends the whole
 *    pid namespace.
 *  - Supplementary groups, one rule: in any user namespace, new or joined, whatever its setgroups
 *    ("deny", or "allow" with a mapped subgid range), the sandbox keeps the groups it was cloned with
 *    unless additionalGids is given: a non-root caller's own groups (Caller.groups), so a group
 *    that denies the caller access still does, as in a user namespace the caller made itself. The
 *    daemon takes the caller's groups just around clone3() for that, and otherwise holds none (so
 *    root's sandboxes start with none). Root joining a sandbox's user namespace (SpawnContext.
 *    sandbox_user_ids) gets that sandbox's process's groups instead, and additionalGids it names where
 *    that namespace denies setgroups() are the host ids they map to, held from the clone on: never
 *    root's own. Outside a user namespace the child sets them itself (the caller's, or additionalGids).
 *  - Before execve() the child holds only the daemon fds the request uses (stdio, fileDescriptors,
 *    joinNamespaces, the mount plan's) and its own plumbing; it closes all others first thing.
 *  - A joinNamespaces pidfd is resolved to the namespace that process is in when spawn_start() runs
 *    (kernel 6.11 or later); that namespace is what is checked for a non-root caller and what is joined.
 *  - The request's rlimits are set by the daemon (prlimit()) before the child is released, so a sandbox
 *    in a new user namespace still gets a raised hard limit; where the daemon may not (another uid's,
 *    without CAP_SYS_RESOURCE), a limit no higher than the daemon's own is set by the child before its
 *    exec. Others are as the daemon's, RLIMIT_NOFILE as the daemon started with. A requested
 *    RLIMIT_NOFILE is the command's: set by it right before its execve(), once the spawn's own fds are
 *    in place (the daemon only raises a hard limit above its own beforehand), so any limit works that
 *    the command itself works with, 3 (stdio alone) included; with init, init keeps the daemon's.
 *  - With a cgroup, the child is born in it (cgroup2) and moves itself into its v1 cgroups first thing;
 *    if that fails (EDQUOT: the move took the user's cgroup past its v1 pids.max, where a fork in cgroup2
 *    would have failed), it reports stage "cgroup".
 *  - Defaults: uid/gid 0 for root callers; for others their own ids (as mapped in a new user namespace,
 *    which maps the caller's uid and gid to themselves when no mappings are given); stdio /dev/null;
 *    env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin and HOME=/; cwd "/";
 *    newSession on (off only for root callers: for others "off" is a new session with the terminal they
 *    passed); init on iff a pid namespace is created (always when one is joined); no_new_privs always.
 */
int spawn_start(const SpawnContext *c, SpawnHandle *ret, SpawnError *ret_error);

/*
 * A warm-pool entry's child (made by spawn_start() with SpawnContext.pooled, its handshake done) says on
 * its sync socket that it is parked: reads that word, never blocking. 0 once parked (its v1 cgroup moves
 * are done: the cgroup's fds may go), -EAGAIN not yet (call again when spawn_pool_parked_fd() polls
 * readable), -ECHILD if it died or gave up: the caller kills and reaps it.
 */
int spawn_pool_read_parked(SpawnHandle *entry);
/* The fd to poll for the parked word and, once parked, for a hang-up (the child died): its sync socket. */
int spawn_pool_parked_fd(const SpawnHandle *entry);

/*
 * Takes a parked warm-pool entry for a request whose shape is the entry's (the caller checked: the same
 * caller identity and groups, namespaces, id maps and setgroups; no joins, no pid or time namespace, no
 * parent): builds the request's plan, sets its rlimits on the entry's process, and hands the plan and its
 * fds (SCM_RIGHTS, at most 253) to the parked child, which goes on from its release exactly as a fresh
 * one would (mounts, hostname, credentials, fds, seccomp, exec). Never waits for the child. On success
 * *ret is what spawn_start() would have returned (its handshake released) and *entry is spent (only
 * entry->pool_slot stays for the caller to unref and nothing else to free); on failure (-errno, *ret_error
 * filled) *entry is unchanged: the caller discards it (the request's message fds are untouched, so it
 * may still spawn cold).
 */
int spawn_start_pooled(const SpawnContext *c, SpawnHandle *entry, SpawnHandle *ret, SpawnError *ret_error);

SpawnPoolSlot *spawn_pool_slot_unref(SpawnPoolSlot *slot);

/*
 * The next step of the handshake; never blocks. Returns 0 once the child is released (the caller
 * then watches report_fd), -EAGAIN while the child has not said it is ready (call again when
 * spawn_handshake_fd() polls readable, hangup included), or another negative errno with *ret_error
 * filled: the spawn failed (the child's own report if it died with one; -ECHILD if it died without
 * one, whose exit status then says how), and the caller must kill and reap the child. Failures are final. Until this returned non-EAGAIN, the caller must not reap
 * the child: the handshake writes to /proc/PID, which must stay this child's.
 */
int spawn_handshake_step(SpawnHandshake *h, SpawnError *ret_error);

/* The fd to poll for readability while the handshake waits for the child, or -EBADF if it does not wait. */
int spawn_handshake_fd(const SpawnHandshake *h);

/*
 * Once released, with an init: the daemon's end of the sync socket, which the sandbox's init waits on
 * before it leaves the daemon's memory for nsbox-init, when it does not hold the report pipe itself.
 * Closing it says the spawn was answered: until then init's exec and start would compete with the
 * command's execve() and the reply for the CPU (as a vfork-style parent woken by the command's execve(),
 * it may even take the command's CPU). The caller owns it and closes it once the spawn is answered or
 * failed. -EBADF without init, before the release, or once taken.
 */
int spawn_handshake_take_answer_fd(SpawnHandshake *h);

SpawnHandshake *spawn_handshake_free(SpawnHandshake *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(SpawnHandshake *, spawn_handshake_free);

/*
 * Reads the child's report, when report_fd polls readable (after the handshake released the
 * child). The child marks the report (stage SPAWN_REPORT_EXEC, error 0) right before execve():
 * EOF after the mark means execve() passed its point of no return (the pipe's last holder, the
 * spawn worker or init, closes its copy then; sandbox-init.c), EOF without it that the child died before
 * (killed: a Kill, the OOM killer, a signal it got). A child killed inside execve() itself,
 * after the mark, counts as exec'd and killed at once: nobody can tell the two apart, nor needs to.
 *
 * Returns 0 if the child exec'd, 1 with *ret_error filled if it failed
 * before exec, -ECHILD if it died before reaching execve() (its exit status
 * says how), -EAGAIN if the report is not complete yet, or another negative
 * errno. *reached_exec (false at first) keeps the mark between calls; when the mark arrives, the
 * namespace inode numbers it carries are copied to ret_namespace_inodes.
 */
int spawn_read_report(int report_fd, bool *reached_exec, uint64_t ret_namespace_inodes[static _NAMESPACE_TYPE_MAX],
                      SpawnError *ret_error);


/*
 * The nsbox-init program (an executable fd, best a sealed memfd: what it refers to must not change
 * under running sandboxes), which a sandbox's init execs once the command runs, so that it no longer
 * holds a copy of the daemon's memory. Borrowed for the life of the process; -EBADF (the default):
 * init stays the fork of the caller it starts as.
 */
void spawn_set_init_program(int fd);

/*
 * Sets up what every spawn of this process shares: reads which signals it ignores (a sandbox starts with
 * every disposition at its default; those are the ones its child resets, clone3() resets handled ones)
 * and opens /dev/null (kept open, close-on-exec), and starts the spawn workers' thread
 * (spawn_worker_setup(): call this before the process holds any fd a caller controls). Runs at the first
 * spawn_start() if not called before; a process that ignores another signal (or stops ignoring one) after
 * that calls it again. 0 or -errno.
 */
int spawn_setup_process(void);

/* The daemon raises its own fd limit to hold many sandboxes; this is the limit sandboxes get instead. */
struct rlimit;
void spawn_set_inherited_nofile(const struct rlimit *rl);

/* What a sandbox gets for resource (RLIMIT_*) unless its request says otherwise: the daemon's own limit,
 * or for RLIMIT_NOFILE the one the daemon started with. */
void spawn_get_default_rlimit(int resource, struct rlimit *ret);

/* Fills a SpawnError the way the child does: message is "context: strerror(error)" or just strerror. */
void spawn_error_set(SpawnError *e, const char *stage, int error, const char *context);
