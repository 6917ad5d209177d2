/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cgroups for sandboxes. The daemon owns the subtree below the cgroup it was
 * started in, in every hierarchy it uses (under systemd: Delegate=yes), and
 * never creates a cgroup anywhere else. Each sandbox gets
 *
 *     BASE/user-UID/SANDBOX-ID
 *
 * in the cgroup2 tree (membership from birth through clone3(CLONE_INTO_CGROUP),
 * cgroup.events, cgroup.kill, cgroup.freeze, CPU time) and, on hybrid hosts,
 * in the cgroup v1 hierarchy of each controller the cgroup2 tree lacks
 * (memory, pids, cpu). A v1 hierarchy that serves limits alone (cpu: a
 * sandbox's CPU time is cgroup2's cpu.stat) has a cgroup for a sandbox only
 * where one is needed: the sandbox sets a limit there, or is nested below
 * one that has such a cgroup. Elsewhere its processes are in
 * BASE/user-UID/shared there (CGROUP_SHARED), under the user's limits: all
 * of one user's sandboxes without a CPU limit weigh as one sandbox against
 * the user's sandboxes with a CPU weight (and a cgroup namespace of one is
 * rooted there in that hierarchy: it may list the pids of the user's other
 * such sandboxes, which the host's /proc shows the user anyway). A v1 cgroup of the cpu controller
 * costs a spawn and its end more than any other (per-CPU scheduler state
 * made, torn down after an RCU grace period), for nothing it would report.
 * user-UID holds the aggregate limits of one user's
 * sandboxes; it stays, empty, after the user's last sandbox ended, for the
 * next one (the 32 users most recently idle; cgroup_manager_free() removes them). A cgroup2 tree is required; a controller is taken from cgroup2
 * when it is available to the daemon's cgroup there, else from its v1
 * hierarchy, else it is missing and every limit needing it is refused with
 * the reason.
 *
 * A nested sandbox gets a cgroup below its sandbox's,
 * BASE/user-UID/SANDBOX-ID/NESTED-ID, in every hierarchy
 * (cgroup_new_below()), with the limits it asked for if any: the kernel
 * holds it to every limit above it, a kill, a freeze or the end of the
 * sandbox reaches it, and its processes cannot leave it for the sandbox's. Where the cgroup2
 * tree holds controllers (memory, pids, cpu), a cgroup may hand them to
 * children only while it holds no process of its own (the no-internal-process
 * rule): a sandbox's cgroup that may get such children (CGROUP_ROOM_BELOW)
 * has its processes in the leaf SANDBOX-ID/payload there, as systemd keeps a
 * delegated unit's processes out of the cgroups it hands down. Elsewhere (a
 * hybrid host, whose cgroup2 tree carries no limits, and the v1 hierarchies,
 * which have no such rule) the processes stay in SANDBOX-ID and no leaf is
 * made, so a spawn costs no more than before.
 *
 * In cgroup2 the daemon moves itself into the leaf BASE/supervisor, so that
 * BASE can enable controllers for its children (the no-internal-process rule);
 * cgroup_manager_free() moves it back and removes everything it made once no
 * sandbox cgroup is left. A daemon that re-executed itself starts in
 * BASE/supervisor and takes BASE from there.
 *
 * Nothing here blocks on a sandbox: kill and freeze only write control files,
 * and emptiness is learned from cgroup.events through an epoll fd the caller
 * watches on its loop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* "No limit" for every field of CgroupLimits but the CPU ones (which use 0). */
#define CGROUP_LIMIT_MAX UINT64_MAX

#define CGROUP_CPU_PERIOD_DEFAULT_USEC 100000U /* systemd's and the kernel's default */
#define CGROUP_CPU_PERIOD_MIN_USEC 1000U        /* what the kernel accepts for period and quota */
#define CGROUP_CPU_PERIOD_MAX_USEC 1000000U
#define CGROUP_CPU_QUOTA_MAX_USEC (4096U * 1000000ULL) /* 4096 CPUs' worth of a 1s period */
#define CGROUP_CPU_WEIGHT_MIN 1U
#define CGROUP_CPU_WEIGHT_MAX 10000U
#define CGROUP_CPU_SHARES_MIN 2U
#define CGROUP_CPU_SHARES_MAX 262144U
#define CGROUP_TASKS_MAX 4194304U /* PID_MAX_LIMIT */

/* The limits of one cgroup, as the kernel takes them. */
typedef struct CgroupLimits {
        uint64_t memory_max;      /* bytes: memory.max (v1 memory.limit_in_bytes) */
        uint64_t memory_high;     /* bytes: memory.high; cgroup2 only (v1 cannot throttle) */
        uint64_t memory_swap_max; /* bytes of swap besides memory_max: memory.swap.max (v1: memory.memsw.limit_in_bytes
                                   * = memory_max + this, so it needs memory_max) */
        uint64_t tasks_max;       /* pids.max */
        uint64_t cpu_quota_usec;  /* CPU time per period: cpu.max (v1 cpu.cfs_quota_us); 0: none */
        uint64_t cpu_period_usec; /* 0: CGROUP_CPU_PERIOD_DEFAULT_USEC */
        uint64_t cpu_weight;      /* 1..10000: cpu.weight; 0: unset */
        uint64_t cpu_shares;      /* 2..262144: v1 cpu.shares; 0: unset. Weight and shares convert as systemd
                                   * does (weight 100 = 1024 shares) for the hierarchy that has the other one. */
} CgroupLimits;

#define CGROUP_LIMITS_NONE                                                                                     \
        ((CgroupLimits) { .memory_max = CGROUP_LIMIT_MAX, .memory_high = CGROUP_LIMIT_MAX,                     \
                          .memory_swap_max = CGROUP_LIMIT_MAX, .tasks_max = CGROUP_LIMIT_MAX })

/* Each limit, for refusals and for the names callers know it by. */
typedef enum CgroupLimitType {
        CGROUP_LIMIT_MEMORY_MAX,
        CGROUP_LIMIT_MEMORY_HIGH,
        CGROUP_LIMIT_MEMORY_SWAP_MAX,
        CGROUP_LIMIT_TASKS_MAX,
        CGROUP_LIMIT_CPU_QUOTA,
        CGROUP_LIMIT_CPU_WEIGHT, /* weight or shares */
        _CGROUP_LIMIT_TYPE_MAX,
        _CGROUP_LIMIT_TYPE_INVALID = -EINVAL,
} CgroupLimitType;

/* The systemd property name: "MemoryMax", "MemoryHigh", "MemorySwapMax", "TasksMax", "CPUQuota", "CPUWeight". */
const char *cgroup_limit_type_to_property(CgroupLimitType t);

/* Whether l sets a limit of type t. */
bool cgroup_limits_has(const CgroupLimits *l, CgroupLimitType t);

/* What one sandbox used, read from its cgroups. A field is UINT64_MAX where the host cannot tell. */
typedef struct CgroupUsage {
        uint64_t cpu_usec;       /* CPU time of all its processes (cpu.stat usage_usec) */
        uint64_t memory_current; /* bytes now */
        uint64_t memory_peak;    /* highest bytes (memory.peak, v1 memory.max_usage_in_bytes) */
        uint64_t tasks;          /* processes and threads now */
        uint64_t tasks_peak;     /* pids.peak */
        uint64_t oom_kills;      /* processes the OOM killer killed in it */
        uint64_t memory_limit_hits; /* times a charge met its memory limit (memory.events max, v1 memory.failcnt) */
} CgroupUsage;

typedef struct CgroupManager CgroupManager;
typedef struct Cgroup Cgroup;

typedef struct CgroupManagerOptions {
        /* Name of the leaf the daemon moves itself into; default "supervisor". */
        const char *leaf;
        /* Pretend the kernel has no cgroup.kill (the freeze-and-kill path), for tests. */
        bool no_cgroup_kill;
        /* Processes moved into the leaf along with the daemon (its supervisor and keeper). */
        const pid_t *move_along;
        size_t n_move_along;
        /* The daemon re-executed itself: if it is in BASE/leaf, BASE is the cgroup above. */
        bool reexecuted;
        /* Make the payload leaf for CGROUP_ROOM_BELOW on any host (tests of the cgroup2-only layout on a hybrid
         * host). */
        bool payload_leaf_always;
} CgroupManagerOptions;

/*
 * Finds the hierarchies (/proc/self/mountinfo) and the daemon's cgroup in
 * each (/proc/self/cgroup), moves the daemon into the cgroup2 leaf and
 * enables what controllers its cgroup2 parent offers. Removes sandbox and
 * user cgroups a previous run left empty. -ENOMEDIUM if there is no cgroup2
 * tree, -EACCES/-EROFS if the daemon's cgroup is not writable, other negative
 * errnos on failure (nothing left changed).
 */
int cgroup_manager_new(const CgroupManagerOptions *options, CgroupManager **ret);

/* Removes the idle user cgroups, then moves the daemon back and removes the leaf, when no sandbox cgroup is left. */
CgroupManager *cgroup_manager_free(CgroupManager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgroupManager *, cgroup_manager_free);

/*
 * Whether a process could be placed in BASE itself now: not while a domain
 * controller (memory, io) is enabled for BASE's children, which is the case
 * while sandbox cgroups with limits exist (the no-internal-process rule).
 * systemd puts the next main process of the service into BASE: this says
 * whether it could start one while sandboxes live on. 1, 0, or -errno.
 */
int cgroup_manager_base_takes_processes(const CgroupManager *m);

/* The daemon's cgroup2 path (as /proc/PID/cgroup shows it) and a one-line description of the layout, for the log. */
const char *cgroup_manager_path(const CgroupManager *m);
/* The name of the leaf below it the daemon moved itself into (with its supervisor and keeper), or NULL. */
const char *cgroup_manager_leaf(const CgroupManager *m);
/* BASE in cgroup2, as an O_DIRECTORY fd the manager owns: the user cgroups and the leaf are below it. */
int cgroup_manager_base_fd(const CgroupManager *m);
void cgroup_manager_describe(const CgroupManager *m, char *buf, size_t size);

/*
 * Whether every limit l sets can be enforced on this host. 0, or -EOPNOTSUPP
 * with *ret_type the first limit that cannot and ret_reason (may be NULL)
 * saying why, e.g. "the memory controller is a cgroup v1 hierarchy on this
 * host, which has no memory.high". Also -EINVAL (with *ret_type) for values
 * the kernel would refuse: swap without memory_max on v1, a CPU quota below
 * 1ms, a period outside 1ms..1s, weight or shares out of range.
 */
int cgroup_manager_check_limits(const CgroupManager *m, const CgroupLimits *l, CgroupLimitType *ret_type,
                                char *ret_reason, size_t reason_size);

/*
 * Whether l can be set in a cgroup below one with the limits above (a sandbox's below its user's): 0, or
 * -EOPNOTSUPP with *ret_type and the reason where the host refuses it, which a v1 cpu hierarchy does for a
 * CPU quota above the one above it (cgroup2 takes it, and throttles both by the lower).
 */
int cgroup_manager_check_limits_below(const CgroupManager *m, const CgroupLimits *l, const CgroupLimits *above,
                                      CgroupLimitType *ret_type, char *ret_reason, size_t reason_size);

/* Flags of cgroup_new() and cgroup_new_below(). */
typedef enum CgroupFlags {
        /* It may get cgroups of nested sandboxes below it: where the host needs it, its processes go to the
         * leaf NAME/payload in cgroup2 (see above). */
        CGROUP_ROOM_BELOW = 1 << 0,
        /* A directory of its own in every hierarchy, limits or not: for one made ahead of the limits it
         * takes (cgroup_apply_limits_late()), which would need one where they are set. */
        CGROUP_ALL_HIERARCHIES = 1 << 1,
} CgroupFlags;

/* The flags a cgroup made ahead must have had to take l later: CGROUP_ALL_HIERARCHIES where l sets a limit
 * that needs a v1 cgroup a cgroup without it lacks (CPU), else 0. */
CgroupFlags cgroup_flags_to_take(const CgroupLimits *l);

/* The name of the leaf a sandbox's processes are in when its cgroup has one. */
#define CGROUP_PAYLOAD "payload"

/* BASE/user-UID/shared, in a v1 hierarchy that serves limits alone: the processes of the user's sandboxes
 * that have no cgroup of their own there. */
#define CGROUP_SHARED "shared"

/*
 * Creates BASE/user-UID (applying user_limits, which may be NULL for none;
 * applied again whenever they change) and BASE/user-UID/name in every
 * hierarchy that needs one (see above), and applies l. Check both limit sets first. On failure nothing
 * it created is left. name must be a valid file name (a sandbox id).
 */
int cgroup_new(CgroupManager *m, uid_t uid, const char *name, const CgroupLimits *l, const CgroupLimits *user_limits,
               CgroupFlags flags, Cgroup **ret);

/*
 * A cgroup cgroup_new() made without limits ahead of its spawn (a warm-pool
 * entry's, whose process is parked in it running none of the request's
 * code), now taken for a request: applies the user's limits as cgroup_new()
 * would and then l, so the request's code runs under exactly what a fresh
 * cgroup would have had. -ENOMEDIUM if l needs a cgroup of its own in a
 * hierarchy where it has none (made without cgroup_flags_to_take(l)), other
 * -errno if a write fails; the caller discards it either way.
 */
int cgroup_apply_limits_late(Cgroup *cg, const CgroupLimits *l, const CgroupLimits *user_limits);

/*
 * Writes user_limits (NULL: none) into uid's cgroup, where it exists and
 * they changed: what a Reload does for the users with sandboxes, so that the
 * policy in force holds at once. A v1 cpu hierarchy refuses a parent a quota
 * below a child's: a user's quota lowered below some of its sandboxes' holds
 * them to it first, and raised again gives them their own back, so that each
 * runs with its own quota or its user's, whichever is less, as cgroup2 holds
 * them by itself. 0, or -errno of a write the kernel refused (the user's
 * quota is then what it was).
 */
int cgroup_manager_apply_user_limits(CgroupManager *m, uid_t uid, const CgroupLimits *user_limits);

/*
 * Whether cgroups can be made below cg: on hosts whose cgroup2 tree holds
 * controllers, only if it was made with CGROUP_ROOM_BELOW (its processes are
 * in its payload leaf); elsewhere always.
 */
bool cgroup_has_room_below(const Cgroup *cg);

/*
 * Creates name below parent in every hierarchy (for a nested sandbox) and
 * applies l, as cgroup_new() does; held for the spawn it is made for. It
 * counts as one of the user's cgroups. parent stays until its last child is
 * removed or abandoned, even after cgroup_remove() or cgroup_abandon() of it
 * (its directory goes once the children's have). -EBUSY where l sets a
 * limit and cgroup_has_room_below() says no (a child without limits needs
 * no controller of the parent's and is made, without CGROUP_ROOM_BELOW);
 * check the limits first (cgroup_manager_check_limits(),
 * cgroup_check_ceiling()).
 */
int cgroup_new_below(Cgroup *parent, const char *name, const CgroupLimits *l, CgroupFlags flags, Cgroup **ret);

/* Takes over name below parent, as cgroup_open() does for a sandbox's. */
int cgroup_open_below(Cgroup *parent, const char *name, Cgroup **ret);

/* A taken-over cgroup's own CPU quota per period (µs), as its sandbox asked for it: its files may hold its user's
 * smaller one, which a Reload held it to (cgroup_manager_apply_user_limits()), and which it gets back from. */
void cgroup_take_own_cpu_quota(Cgroup *cg, uint64_t quota, uint64_t period);

/*
 * Whether l stays within the limits of cg and the sandbox cgroups above it
 * (each as the daemon set it, read back once when it was made, or when it
 * was taken over after a restart; never from files a sandbox's root may
 * have written since): memory, memory.high, swap and tasks by
 * value, a CPU quota as a share of a CPU, as in force (its user's where a
 * Reload holds it to that); and where cpu is a v1 hierarchy, the quota of
 * the user's cgroup as it is now, which the kernel would refuse a child
 * above (it may be another of the user's rules', or a previous daemon's;
 * only a refusal can come of it). A weight is a share among
 * siblings, no ceiling, and is not compared. 0, or -E2BIG with *ret_type the
 * first limit above its ceiling and ret_reason saying by how much, e.g.
 * "200 is above the sandbox's 100".
 */
int cgroup_check_ceiling(const Cgroup *cg, const CgroupLimits *l, CgroupLimitType *ret_type, char *ret_reason,
                         size_t reason_size);

/*
 * Takes over BASE/user-UID/name, which the daemon before this one made (it
 * handed its sandboxes over across a restart): opened in every hierarchy and
 * watched like a new one, its limits left as they are. -ENOENT once it is
 * gone (it emptied, and the start removed it).
 */
int cgroup_open(CgroupManager *m, uid_t uid, const char *name, Cgroup **ret);

/*
 * Removes the sandbox's cgroups and frees cg; the user's stays for a while if
 * it was the last (see above). -EBUSY while processes are in it: cg is then kept and still valid. With
 * nested sandboxes' cgroups still below it, it is no longer the caller's and goes once they have.
 */
int cgroup_remove(Cgroup *cg);

/*
 * cgroup_remove() of a cgroup its caller found empty (its events said so, or nothing ever ran in it), made
 * off the event loop where the manager could start its remover thread (cgroup-removal.h): cg is no longer
 * the caller's either way. Its record goes once its directories did. One the kernel keeps after all is
 * logged, killed and left as cgroup_abandon() leaves it, for the next start.
 */
void cgroup_remove_empty(Cgroup *cg);

/* Forgets cg without touching the cgroups (they stay, e.g. with their processes when the daemon leaves them running). */
void cgroup_abandon(Cgroup *cg);

/* The cgroup id of the cgroup2 directory its processes are in (its own, or its payload leaf): the
 * directory's inode number on 64-bit kernels, as PIDFD_GET_INFO and SO_PEERCGROUPID-style lookups give it. */
uint64_t cgroup_id(const Cgroup *cg);

/* The cgroup2 directory fd its processes go to (its own, or its payload leaf), for clone3()'s
 * CLONE_INTO_CGROUP (borrowed; -EBADF unless held for a spawn). */
int cgroup_dir_fd(const Cgroup *cg);

/*
 * The tasks files of the v1 hierarchies (borrowed): clone3() can only place a
 * child in cgroup2, so the child writes "0" into each as its first step. The
 * tasks file, not cgroup.procs: the kernel moves a thread that moves itself
 * without write-locking its global threadgroup semaphore, where a process's
 * move waits for an RCU grace period and holds off every fork, exit and exec
 * on the machine meanwhile; the child, just cloned, is a process of one
 * thread, so the thread's move is the whole process's.
 * Returns their count, one per v1 hierarchy: a closed one is -EBADF, and the
 * child's move fails (as clone3() does with a closed cgroup_dir_fd()).
 */
size_t cgroup_v1_tasks_fds(const Cgroup *cg, const int **ret_fds);

/*
 * The fds a spawn into cg borrows (cgroup_dir_fd(), cgroup_v1_tasks_fds())
 * are open only while spawns into it are in flight, so that a live sandbox's
 * cgroups hold no fd (what limits how many sandboxes can live is the daemon's
 * RLIMIT_NOFILE): cgroup_new() holds them for the spawn it is made for,
 * cgroup_hold_for_spawn() once more (an Exec into it), and
 * cgroup_release_after_spawn() lets go once that spawn concluded (the child
 * moved itself into its cgroups before it could exec, or never will); the
 * last release closes them. The child must have its own fd table (no
 * CLONE_FILES) or have used them by then. -ESRCH once removed.
 */
int cgroup_hold_for_spawn(Cgroup *cg);
void cgroup_release_after_spawn(Cgroup *cg);

/* The user cgroup's pids.current and pids.max in a v1 pids hierarchy (borrowed, -EBADF without one): a v1 move
 * is not checked against pids.max as a fork is, so the child moved into its cgroups checks them itself. */
void cgroup_v1_user_pids_fds(const Cgroup *cg, int *ret_current_fd, int *ret_max_fd);

/* The most v1 pids counters cgroup_v1_pids_checks() gives: a sandbox's and its ancestors' (nesting is bounded
 * below this); one deeper fails cgroup_hold_for_spawn() with -E2BIG. */
#define CGROUP_PIDS_CHECKS_MAX 8

/*
 * While held for a spawn, on a host whose pids controller is v1: pairs of pids.current and pids.max fds (in
 * *ret_fds, 2 per pair, borrowed) of cg and of each ancestor with a TasksMax, which a process that moved into
 * cg must be within, as for its user's (cgroup_v1_user_pids_fds()): v1 refuses forks past pids.max, never
 * moves. Returns the number of pairs.
 */
size_t cgroup_v1_pids_checks(const Cgroup *cg, const int **ret_fds);

/* Writes pid into every v1 tasks file of cg: pid must be a process of one thread, whose thread's move is the
 * whole process's. -EDQUOT if that takes the user's cgroup past its pids.max in a v1 pids hierarchy (which does
 * not check moves, where a fork in cgroup2 would have failed); the caller then ends the process. */
int cgroup_attach_v1(const Cgroup *cg, pid_t pid);

/* The sandbox's cgroup2 path, e.g. "/system.slice/nsboxd.service/user-1000/0123…" (with a payload leaf, the
 * directory above it, where its limits are). */
const char *cgroup_path(const Cgroup *cg);

/* Blocks until no process is in the cgroup, at most timeout_msec: for shutdown only, when nothing else waits.
 * 0, or -ETIMEDOUT. */
int cgroup_wait_empty(Cgroup *cg, unsigned timeout_msec);

/* Whether any process is in it, and whether it is frozen, from cgroup.events (re-read). The first call that
 * finds it populated starts watching it: only then do its changes come through the manager's event fd (a
 * sandbox needs them only once its top process is gone, and only while something outlived it). */
int cgroup_read_events(Cgroup *cg, bool *ret_populated, bool *ret_frozen);

/*
 * SIGKILLs every process in the cgroup and the cgroups below it, including ones that left the
 * sandbox's process tree: cgroup.kill, or where the kernel lacks it a
 * freeze, kill every listed process, thaw loop (bounded; the caller learns
 * the end from cgroup.events). Returns the number of rounds' worth of
 * processes signalled (0 if none was left) or a negative errno.
 */
int cgroup_kill(Cgroup *cg);

/*
 * Sends sig to every process in the cgroup and below: the cgroup is frozen while its
 * processes are listed and signalled, until a listing finds no new process
 * (so none forks past it), then returned to its previous state. SIGKILL goes
 * through cgroup_kill(). Returns the number signalled or a negative errno.
 */
int cgroup_signal_all(Cgroup *cg, int sig);

/* cgroup.freeze: stops (true) or resumes every process. The kernel finishes freezing asynchronously:
 * cgroup.events says "frozen 1" once it is done. */
int cgroup_freeze(Cgroup *cg, bool freeze);

/* Reads what the sandbox used so far. Fields the host cannot tell are UINT64_MAX. With empty (cgroup.events
 * said so, and nothing can enter it any more: its sandbox ended) the tasks now are 0, not read. */
int cgroup_read_usage(const Cgroup *cg, bool empty, CgroupUsage *ret);

/*
 * cgroup.events of every cgroup cgroup_read_events() found populated, watched through one epoll fd: it polls
 * readable when some sandbox's cgroup emptied, filled, froze or thawed. Then
 * cgroup_manager_dispatch() re-reads the changed ones and calls cb for each.
 */
int cgroup_manager_event_fd(const CgroupManager *m);
typedef void (*CgroupEventCallback)(Cgroup *cg, bool populated, bool frozen, void *userdata);
void cgroup_set_userdata(Cgroup *cg, void *userdata);
void *cgroup_get_userdata(const Cgroup *cg);
int cgroup_manager_dispatch(CgroupManager *m, CgroupEventCallback cb);
