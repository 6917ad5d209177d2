/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who may ask for what. The policy file (/etc/nsbox/policy.conf, format in
 * docs/policy.md) says per user, per group and by default which namespace
 * types a caller may create, how many live sandboxes it may have, whether
 * keepAlive and subordinate id ranges are allowed; its [limits] section sets
 * the daemon-wide resource limits. policy_check_spawn() decides whether a
 * decoded SpawnRequest gives a non-root caller nothing it does not already
 * have (its own ids, its granted subuid/subgid ranges, namespaces it owns).
 * Root (uid 0) is not restricted by the policy.
 */
#pragma once

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "sandbox-protocol.h"
#include "spawn.h"
#include "subid.h"

/* ---- daemon-wide limits ---- */

/*
 * Every user-controlled resource has a ceiling. Names in brackets are the
 * keys of the [limits] section and of limits_set() (--limit NAME=VALUE).
 */
typedef struct DaemonLimits {
        unsigned connections;          /* [connections] open client connections in total, 1024 */
        unsigned connections_per_uid;  /* [connections-per-user] per peer uid, 64 */
        size_t message_size;           /* [message-size] bytes of one incoming message, 1 MiB */
        unsigned fds_per_message;      /* [fds-per-message] 96 (at most 253: SCM_MAX_FD) */
        size_t argv_bytes;             /* [argv-bytes] sum of strlen+1 over argv, 128 KiB */
        size_t env_bytes;              /* [env-bytes] sum of strlen+1 over env, 128 KiB */
        size_t mappings;               /* [mappings] entries per uidMappings/gidMappings, 64 */
        size_t mounts;                 /* [mounts] mounts per request, 256 */
        unsigned sandboxes_per_uid;    /* [sandboxes-per-user] live sandboxes per uid unless the policy
                                        * rule sets max-sandboxes, 64 */
        unsigned sandboxes;            /* [sandboxes] live sandboxes in total (root included), 4096 */
        unsigned pending_spawns;       /* [pending-spawns] spawns in flight (cloned, not yet exec'd), 128 */
        unsigned pending_spawns_per_uid; /* [pending-spawns-per-user] of those, per non-root uid, 16: a few
                                          * users with stuck spawns cannot take every slot */
        unsigned spawn_timeout_sec;    /* [spawn-timeout] seconds a spawn may take to reach execve, 30 */
        size_t held_bytes_per_uid;     /* [held-bytes-per-user] read buffers of one non-root uid's connections, 16 MiB */
        unsigned held_fds_per_uid;     /* [held-fds-per-user] received fds not yet handled, per non-root uid, 1024 */
} DaemonLimits;

#define LIMITS_FDS_PER_MESSAGE_CAP 253U

/* Fills *l with the defaults above. */
void limits_init(DaemonLimits *l);

/*
 * Sets one limit by its name from a decimal string (sizes also accept a K, M
 * or G suffix, powers of 1024). -EINVAL for a malformed value, 0, or a value
 * above the field's cap; -ENOENT for an unknown name. *l untouched on failure.
 */
int limits_set(DaemonLimits *l, const char *name, const char *value);

/* Same, from "NAME=VALUE" (the --limit option's argument). */
int limits_set_assignment(DaemonLimits *l, const char *assignment);

/* The SpawnLimits the request decoder should use for these limits. */
void limits_to_spawn_limits(const DaemonLimits *l, SpawnLimits *ret);

/* ---- policy ---- */

#define POLICY_MAX_SANDBOXES_UNSET UINT_MAX

typedef struct PolicyRule {
        unsigned namespaces;    /* NAMESPACE_BIT() mask of the types the caller may create */
        unsigned max_sandboxes; /* live sandboxes of this uid (0: none); POLICY_MAX_SANDBOXES_UNSET:
                                 * not set by the policy, DaemonLimits.sandboxes_per_uid applies */
        bool keep_alive;        /* may ask for keepAlive */
        bool subid_ranges;      /* may map its /etc/subuid, /etc/subgid ranges */
        bool unrestricted;      /* root: the policy does not apply */
        char source[96];        /* the section that decided, for the log: "default", "user:alice", "group:wheel", "root" */
} PolicyRule;

typedef struct Policy Policy;

/*
 * Loads a policy file. A missing file (ENOENT) gives the built-in default
 * policy (all namespace types, keepAlive and subid ranges allowed, limits at
 * their defaults) and returns 0. A malformed file, an unknown section or key,
 * a duplicate section or key, or a user/group name that does not resolve is
 * -EBADMSG with *ret_error_line set to the 1-based line; a file that is not
 * owned by root (or the daemon's euid) or is writable by group/others is
 * -EPERM. On failure *ret is untouched so the caller keeps its old policy.
 * ret_error_line may be NULL and is set only for -EBADMSG.
 */
int policy_load(const char *path, Policy **ret, unsigned *ret_error_line);

/* The built-in default policy (what a missing file means). */
int policy_new_default(Policy **ret);

Policy *policy_free(Policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

/* The [limits] of the file over the defaults. The daemon applies its --limit options on top of a copy. */
void policy_get_limits(const Policy *p, DaemonLimits *ret);

/*
 * The rule for a caller. Keys are layered: a [user:] section's keys override
 * the merge of all matching [group:] sections (primary gid and supplementary
 * groups), which override [default]. When several group sections match they
 * are merged to the most permissive value per key (union of namespaces,
 * largest max-sandboxes, any yes), so belonging to one more group never takes
 * a right away. uid 0 gets an unrestricted rule. p NULL means the default policy.
 */
void policy_lookup(const Policy *p, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, PolicyRule *ret);

/* Live sandboxes this rule allows its uid: max-sandboxes, or the daemon limit if unset; UINT_MAX for root. */
unsigned policy_max_sandboxes(const PolicyRule *r, const DaemonLimits *l);

typedef enum PolicyDenialKind {
        POLICY_DENIAL_INVALID_PARAMETER, /* org.varlink.service.InvalidParameter(parameter: field) */
        POLICY_DENIAL_PERMISSION_DENIED, /* org.varlink.service.PermissionDenied; field names what, for the log */
        POLICY_DENIAL_QUOTA_EXCEEDED,    /* io.nsbox.Sandbox.QuotaExceeded(limit: field) */
        _POLICY_DENIAL_KIND_MAX,
} PolicyDenialKind;

typedef struct PolicyDenial {
        PolicyDenialKind kind;
        char field[128];  /* "uidMappings[1].hostID", "namespaces", "keepAlive", "sandboxes-per-user", ... */
        char reason[256]; /* human-readable, for the log (never sent to the client) */
} PolicyDenial;

/* The Varlink error reply for a denial; NULL on OOM. */
struct json_object *policy_denial_to_error(const PolicyDenial *d);

/* What the daemon must do when the request is allowed. */
typedef struct PolicyDecision {
        /* With a new user namespace: the value to write to /proc/PID/setgroups
         * before gid_map. false -> "deny". Root: the request's value, "allow" if absent. */
        bool setgroups_allow;
} PolicyDecision;

/*
 * Decides whether caller may make request req. For a non-root caller:
 *   - every type in req->namespaces must be allowed by its rule (PermissionDenied "namespaces");
 *   - keepAlive only if the rule allows it (PermissionDenied "keepAlive");
 *   - uid/gid mappings need a user namespace; each mapping either maps exactly
 *     the caller's own uid (gid: its primary gid) with size 1, or lies inside
 *     one range subuid/subgid grant the caller (by name or uid) when the rule
 *     allows subid ranges; container ranges must not overlap each other, host
 *     ranges must not overlap each other (InvalidParameter "uidMappings[1].hostID",
 *     "gidMappings[0].containerID", ...);
 *   - setgroups true is refused unless a granted subgid range is mapped; the
 *     effective value is "deny" in that case (InvalidParameter "setgroups");
 *   - user: without a user namespace only the caller's own uid and gid, and
 *     additionalGids among its groups; with one, only ids mapped inside
 *     (InvalidParameter "user.uid", "user.gid", "user.additionalGids[2]");
 *     additionalGids need setgroups allowed;
 *   - hostname needs a uts namespace, timeOffsets a time namespace, root and
 *     mounts a mount namespace (InvalidParameter) so nothing touches the host's.
 * joinNamespaces fds are checked separately, per fd, with policy_check_join_namespace().
 * The sandbox count is checked with policy_check_quota().
 * subuid/subgid may be NULL (no ranges granted).
 *
 * Returns 0 with *ret_decision filled, or -EPERM with *ret_denial filled
 * (*ret_decision untouched), or -ENOMEM.
 */
int policy_check_spawn(const Policy *p, const SpawnCaller *caller, const SpawnRequest *req,
                       const SubidRanges *subuid, const SubidRanges *subgid, PolicyDecision *ret_decision,
                       PolicyDenial *ret_denial);

/*
 * Whether a caller may join the namespace behind fd (a /proc/PID/ns/TYPE fd
 * or a pidfd) as type. The fd must really be a namespace of that type (or a
 * pidfd, whose namespace of that type is checked, needs kernel >= 6.11), and
 * the caller must hold capabilities over it as the kernel would judge from
 * the host: the top-level user namespace of its chain (the one directly below
 * the daemon's) must be owned by caller_uid. Root may join anything.
 * Returns 0 if allowed, -EPERM if not, -EINVAL if fd is not a namespace of
 * that type, or another negative errno.
 */
int policy_check_join_namespace(int fd, NamespaceType type, uid_t caller_uid);

/*
 * Live sandbox counts against the caller's quota and the daemon total.
 * Returns 0, or -EPERM with a QuotaExceeded denial ("sandboxes-per-user" or "sandboxes").
 */
int policy_check_quota(const PolicyRule *r, const DaemonLimits *l, unsigned n_caller_live, unsigned n_total_live,
                       PolicyDenial *ret_denial);
