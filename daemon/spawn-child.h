/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plan the daemon builds before clone3() and the child executes after it.
 * Everything the child touches lives here, allocated by the parent: the child
 * only reads it (and scribbles on the scratch fields: its own copy of the
 * struct, and arrays only it reads), so it never needs malloc. The child may
 * run on the daemon's memory (spawn-worker.c): nothing it reads may be
 * borrowed from what the daemon frees before the child exec'd.
 */
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <stdbool.h>
#include <sys/types.h>

#include "capabilities.h"
#include "macro.h"
#include "mount-setup.h"
#include "sandbox-protocol.h"
#include "seccomp-profile.h"
#include "spawn.h"

/* Highest fd number a request may ask for (FdMapping.target). */
#define SPAWN_FD_TARGET_MAX 1023

/* One byte each way on the sync socket. */
#define SPAWN_SYNC_READY 'r'
#define SPAWN_SYNC_GO 'g'
/* A warm-pool entry's child, released and waiting for the plan of the request it is taken for. */
#define SPAWN_SYNC_PARKED 'p'
/* The most fds a warm-pool hit hands its child: one SCM_RIGHTS message (the kernel's SCM_MAX_FD). */
#define SPAWN_POOL_FDS_MAX 253

/* What the child exits with when it fails before execve (the error itself goes to the report pipe). */
#define SPAWN_CHILD_FAILED 127

typedef struct SpawnFd {
        int source; /* daemon fd (borrowed from the message, or the plan's /dev/null) */
        int target; /* number in the sandbox */
        int moved;  /* child scratch: where the source was parked above every target */
} SpawnFd;

typedef struct SpawnJoin {
        int fd;       /* what the child setns()es on: a /proc/PID/ns/TYPE fd from the message (borrowed),
                       * or owned_fd */
        int owned_fd; /* the namespace a pidfd referred to when it was checked, or -EBADF */
        int nstype; /* CLONE_NEW* of the namespace to join */
        NamespaceType type;
        const char *name; /* for the error message */
} SpawnJoin;

/* A classic-BPF program the child reads from a caller's fd (bubblewrap's --add-seccomp-fd). */
typedef struct SpawnSeccompFd {
        int fd;                    /* borrowed from the message */
        struct sock_filter *filter; /* owned buffer of BPF_MAXINSNS + 1 instructions, filled by the child */
        unsigned short n_filter;   /* child scratch: instructions read */
} SpawnSeccompFd;

typedef struct SpawnPlan {
        /* namespaces */
        unsigned long clone_flags;   /* created by clone3() itself */
        unsigned long unshare_flags; /* created by the child with unshare(), after the joins */
        /* The new cgroup namespace, made by the child with unshare() once it joined its v1 cgroups (hybrid
         * hosts, without joins): clone3() would root its v1 hierarchies at the daemon's cgroups, every user's
         * sandboxes below them. */
        bool cgroup_namespace_after_v1;
        SpawnJoin joins[_NAMESPACE_TYPE_MAX]; /* what the child joins, user namespace last */
        size_t n_joins;
        bool joins_user;
        /* A pid namespace to join is entered by the daemon around clone3(), so the child is born in it:
         * setns() by the child itself would only place its children there. */
        SpawnJoin pid_join;
        bool joins_pid;
        /* A non-root caller's new user namespace is made with the caller's effective ids, so the caller
         * owns it (NS_GET_OWNER_UID) as if it had run `unshare -U` itself: by the daemon's thread around
         * clone3(), or with joins by the child itself right before its unshare(). */
        bool userns_as_caller;
        uid_t owner_uid;
        gid_t owner_gid;
        /* A new user namespace made inside a joined one (SpawnContext.parent): its maps can only be written
         * from the joined one, so the child writes them itself, through a process it forks before its
         * unshare() that stays there (spawn-child.c). The texts are the ones the daemon would write (owned). */
        bool maps_by_child;
        /* unshare_flags has CLONE_NEWPID (with maps_by_child): once released, the child forks the new pid
         * namespace's pid 1, which goes on with the spawn, and stays outside it as the process the daemon
         * tracks, forwarding signals to pid 1 and exiting with its status. */
        bool fork_pid1;
        int pid1_parent_fd; /* in that pid 1: a pidfd of the process outside, until its credentials are final */
        char *child_uid_map;
        char *child_gid_map;
        const char *child_setgroups; /* "allow", "deny" or NULL */
        /* The host's /proc (owned), while the child still needs it: to enter the time namespace it
         * unshare()d itself once the offsets are written (unshare() only places its children there), and to
         * read the inodes of the namespaces it made or joined. */
        int proc_fd;
        /* For the exec mark: the daemon's own for the types the child neither makes nor joins, the rest
         * (NAMESPACE_BIT()s in namespaces_to_record) read by the child once final. */
        uint64_t namespace_inodes[_NAMESPACE_TYPE_MAX];
        unsigned namespaces_to_record;
        bool loopback_up;
        MountPlan *mounts; /* owned; NULL when the file tree is left alone */
        const char *hostname;

        /* credentials (ids as seen in the sandbox's user namespace) */
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* owned */
        size_t n_groups;
        bool set_groups;       /* false where the child keeps the groups it was cloned with: a new user ns
                                * with setgroups "deny", or a joined one without additionalGids */
        /* The groups the child is cloned with (host ids), which it keeps where it does not set any: a
         * non-root caller's own (borrowed from its Caller), else none, except for a root caller joining a
         * sandbox's user namespace, which gets what that sandbox's process has or what it asked for
         * (owned_clone_groups). The daemon takes them around clone3(), so the child makes no system call
         * for them. */
        const gid_t *clone_groups;
        size_t n_clone_groups;
        gid_t *owned_clone_groups;
        CapabilityPlan caps;   /* applied around the change of uid; the init's are derived from it */

        /* fds */
        SpawnFd *fds; /* owned array; 0, 1, 2 are always present */
        size_t n_fds;
        int max_target;
        bool is_target[SPAWN_FD_TARGET_MAX + 1];
        int devnull_fd; /* the process's /dev/null (borrowed: opened once), or -EBADF */
        int stdio_pipe_fds[3]; /* owned: the child's ends of the stdinData and captureOutput pipes, or -EBADF */
        int capture_fds[2];    /* owned until handed over: the daemon's read ends of the stdout and stderr pipes */

        /* process */
        sigset_t ignored_signals; /* what the daemon ignores: the child sets these back to SIG_DFL */
        /* The command's fd limit: the request's RLIMIT_NOFILE (nofile_set), else the one the daemon started
         * with, not the one it raised for itself. The request's is set by the command last before its exec:
         * the spawn's own fds (its pipes, init's) are arranged under the daemon's, as a limit of 3 leaves
         * room for stdio alone. */
        struct rlimit nofile;
        /* The request's rlimits (owned copy): the daemon sets them with prlimit() right after clone3() (of
         * RLIMIT_NOFILE only a hard limit above its own: see nofile); the child sets again, before its exec,
         * any it finds not in place (the daemon may not set another uid's limits without CAP_SYS_RESOURCE,
         * but anyone may lower their own). */
        SandboxRlimit *rlimits;
        size_t n_rlimits;
        bool nofile_set;      /* the request set RLIMIT_NOFILE: the command sets nofile before its exec */
        bool new_session;
        bool require_terminal; /* the new session must get a controlling terminal from stdin, stdout or stderr */
        int controlling_tty;   /* child scratch: which of 0, 1, 2 became the controlling terminal, or -1 */
        bool init;
        int init_program_fd; /* the nsbox-init program init execs once the command runs (borrowed), or -EBADF */
        int block_fd;        /* "blockFileDescriptor": the message fd to wait on (borrowed), or -EBADF */
        int command_userns_fd; /* "commandUserNamespaceFileDescriptor": the user namespace entered after setup
                                * (borrowed), or -EBADF */
        const char *cwd;
        char *const *cwd_fallbacks; /* NULL if none */
        const char *program; /* what is executed: the request's argv[0] */
        char *const *argv;  /* the request's, with "argv0" in front where it replaces argv[0] */
        char **argv_buffer; /* the request's argv with argv0 (owned array, its strings borrowed), or NULL */
        char *const *envp;  /* the request's, or the default */
        char *const *lock_files; /* the request's "lockFiles" (init holds them: sandbox-init.c); NULL if none */
        int lock_fds[SPAWN_LOCK_FILES_MAX]; /* init's scratch: the fds of lock_files it holds */
        pid_t init_pid; /* init's scratch: its own pid, for the command it starts */
        /* Init keeps its copy of the report pipe until its own execve(), so the spawn is answered only then:
         * for a caller who is not root, who can open /proc/PID/ns/ of init (nsenter -t PID) only once it left
         * the daemon's memory, which is not dumpable (sandbox-init.c). */
        bool init_holds_report;
        /* The compiled profile is the built-in default: init loads it before it starts the command, which
         * inherits it, and keeps it across its exec of nsbox-init, so the kernel builds the filter once per
         * sandbox instead of twice (each load costs a few hundred microseconds: an allocation and a JIT
         * compilation); only the callers' programs are loaded after that. */
        bool init_loads_profile;
        /* Init's nsbox-init loads filters after its exec (a profile other than the default, or a caller's
         * programs): the command waits for that before its own execve(). Once nsbox-init runs, its memory is
         * its own and the sandbox's user namespace is its mm's, so a command that holds CAP_SYS_PTRACE there
         * could attach to it; attached before the filters were loaded, it could make init (or a child init
         * forks) run what they deny. The answer waits for the command's exec, so nothing of the sandbox's
         * runs before init is confined. */
        bool command_awaits_init_filters;
        /* Set by the spawn worker just before clone3() (spawn_worker_filtered()): the child is born with the
         * compiled profile, its worker's, as for every plan spawn_plan_may_inherit_profile() allows, and
         * nobody loads it again. */
        bool profile_inherited;
        size_t n_lock_fds;
        char **search_path; /* owned: PATH directories for an argv[0] without a slash */
        char *search_path_buffer;

        /* system call filters: the compiled profile, then the callers' programs in order */
        SeccompProgram *seccomp; /* owned reference; NULL: none */
        SpawnSeccompFd *seccomp_fds; /* owned */
        size_t n_seccomp_fds;
        int proc_sys_fd;         /* disableUserNamespaces: the daemon's /proc/sys (owned), or -EBADF */

        /* The sandbox's v1 cgroups (hybrid hosts): the child moves itself in first thing (borrowed); the user's
         * pids.current and pids.max in a v1 pids hierarchy, checked after the move, or -EBADF; and pairs of
         * the same of the cgroup it moves into and of its ancestors with a TasksMax (cgroup_v1_pids_checks()),
         * checked likewise. */
        const int *cgroup_tasks_fds;
        size_t n_cgroup_tasks_fds;
        int user_pids_current_fd;
        int user_pids_max_fd;
        const int *cgroup_pids_check_fds;
        size_t n_cgroup_pids_checks;

        /* The strings above (argv, envp, cwd, cwd_fallbacks, hostname) and the v1 cgroup fds (tasks, then the
         * pids checks), copied into memory the plan owns: a child on the daemon's memory may outlive the
         * request and the cgroup. */
        void *strings;
        int *cgroup_fds_copy;
        /* The child runs on the daemon's memory (spawn-worker.c) until execve(): it may write only its own
         * copy of this struct and its stack, and init must not stay there (it execs nsbox-init or fails). */
        bool shares_memory;
        /* With shares_memory: two ints in the daemon's memory, the one thing outside its copy the child
         * writes, where setup_fds() leaves the numbers its report pipe and sync socket then have (-EBADF for
         * none; the second only where it is not -EBADF already, which says the worker does not close that one
         * first): its spawn worker closes its own copies of these first, for their EOF
         * (spawn_worker_close_first()). NULL otherwise. */
        int *moved_eof_fds;

        /* A warm-pool entry (SpawnContext.pooled): once released the child parks, says so on the sync socket
         * (SPAWN_SYNC_PARKED) and waits there for the request's plan: the plan's address, with its fds
         * (SCM_RIGHTS), whose numbers in the plan are indexes into that list. It goes on with that plan. */
        bool pooled;
        /* Whether the child waits for the daemon's "go" before the request's first step: only when the
         * daemon has something to do first (spawn.c: plan_awaits_release()). Otherwise it goes on at once. */
        bool awaits_release;
        SpawnPoolSlot *pool_slot; /* shared with the daemon: who frees the plan handed over (spawn.c) */
        /* Child scratch, in the plan a warm-pool entry was handed: its namespace inodes were read and lo
         * brought up before it parked (they depend on the shape alone). */
        bool done_ahead;

        /* Every daemon fd the child uses, ascending: first thing, it closes all others (owned). */
        int *keep_fds;
        size_t n_keep_fds;

        /* plumbing; the child closes the parent's ends first thing */
        int child_sync_fd;
        int child_report_fd;
        int parent_sync_fd;
        int parent_report_fd;
} SpawnPlan;

/* Whether the sandbox gets a time namespace of its own, by clone3() or unshare(). */
static inline bool spawn_plan_makes_time_namespace(const SpawnPlan *p) {
        return ((p->clone_flags | p->unshare_flags) & CLONE_NEWTIME) != 0;
}

/* Whether the child enters its new time namespace only at execve(): on the daemon's memory, where setns() is
 * refused, clone3() and unshare() alike leave it the namespace of the child's children until then. */
static inline bool spawn_plan_time_namespace_entered_at_exec(const SpawnPlan *p) {
        return spawn_plan_makes_time_namespace(p) && p->shares_memory;
}

/* Whether the daemon must wait for the child's "ready" before writing the id maps and offsets: only
 * when the child itself creates or enters the namespaces they belong to (joins, unshare()). Otherwise
 * the maps are written right after clone3() and "go" is queued at once, and the loop is not held up. */
static inline bool spawn_plan_needs_ready(const SpawnPlan *p) {
        return p->n_joins > 0 || p->unshare_flags != 0;
}

/*
 * Takes uid and gid as the effective ids of the calling thread only (raw
 * syscalls), keeping the real and saved ids and the fs ids root's, so the
 * only thing that changes is who owns a user namespace created now, and the
 * thread can go back. Leaves the process non-dumpable, whatever
 * fs.suid_dumpable makes of the change: what is cloned now is a copy of the
 * daemon's memory, and the owner of its user namespace could otherwise
 * ptrace it. 0 or -errno. Async-signal-safe.
 */
int spawn_take_owner_ids(uid_t uid, gid_t gid);

/* Every fd field of the plan, with whether the plan owns it. Async-signal-safe (a parked warm-pool child
 * renumbers the plan it is handed with it). */
void spawn_plan_visit_fds(SpawnPlan *p, FdVisitor visit, void *userdata);

/* Runs in the child right after clone3(); never returns. Async-signal-safe throughout. */
_noreturn_ void spawn_child_run(SpawnPlan *p);

/* Writes e to the report fd in one write (atomic: the record is smaller than PIPE_BUF). */
void spawn_child_report(int report_fd, const SpawnError *e);

/*
 * Unblocks every signal and execs the command; on failure reports on report_fd and exits
 * SPAWN_CHILD_FAILED. With late_error (memory the command shares with a parent suspended until its exec
 * or exit), the command closes report_fd right after the exec mark, and a failure after that (the filters,
 * execve()) is left in *late_error (error > 0) for that parent to report: its copy of the pipe, closed
 * once the command exec'd, is then the last (sandbox-init.c says why that matters).
 */
_noreturn_ void spawn_child_exec_command(const SpawnPlan *p, int report_fd, SpawnError *late_error);

/* Loads the plan's filters (the profile, then each caller's program); 0 or -errno with *ret_index the
 * failing one (-1: the profile). Async-signal-safe; the init and the command each call it. */
int spawn_child_load_seccomp(const SpawnPlan *p, ssize_t *ret_index);

/* Whether the command (and init after its exec) has the compiled profile without loading it: inherited from
 * the spawn worker, or from init, which loads it before it starts the command. */
static inline bool spawn_plan_command_inherits_profile(const SpawnPlan *p) {
        return p->profile_inherited || p->init_loads_profile;
}

/*
 * Whether the child may be born with the compiled profile (SpawnWorkerCall.filter): it is the built-in
 * default, which denies nothing the child calls before its exec as long as it builds no file tree (the
 * new mount API is among what it denies; mount(2), all a bare mount namespace takes, is not). A warm-pool
 * entry's plan has it when its shape says the request will (warm-pool.c); the entry then hands the
 * request's plan what it inherited. An entry with a mount namespace may be handed a request that builds
 * a tree, which its shape does not tell: it is made without the filter.
 */
static inline bool spawn_plan_may_inherit_profile(const SpawnPlan *p) {
        if (!p->seccomp || !seccomp_program_is_default(p->seccomp))
                return false;
        return !p->mounts || (!p->pooled && !mount_plan_builds_root(p->mounts));
}
/* The SpawnError for such a failure: stage "seccomp", naming the program. */
void spawn_child_seccomp_error(SpawnError *e, int error, ssize_t index);

/* Resolves argv[0] along p->search_path if needed and calls execve(); returns only on failure, with *e filled. */
void spawn_child_exec(const SpawnPlan *p, SpawnError *e);
