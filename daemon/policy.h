/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Authorisation: whether a caller may make a request. policy_check_spawn()
 * decides whether a decoded SpawnRequest gives a non-root caller nothing it
 * does not already have (its own ids, its granted subuid/subgid ranges,
 * namespaces it owns), within the rule the policy file gives it
 * (policy-file.h); policy_check_quota() counts its sandboxes;
 * policy_check_join_namespace() judges one joinNamespaces fd. Root (uid 0)
 * is not restricted by the policy. The limits live in daemon-limits.h, the
 * subordinate id files in subid.h.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "caller.h"
#include "cgroup.h"
#include "daemon-limits.h"
#include "policy-file.h"
#include "sandbox-protocol.h"
#include "subid.h"

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

/* The limits a sandbox gets. */
typedef struct PolicyLimitsDecision {
        CgroupLimits sandbox;        /* of its cgroup */
        CgroupLimits user;           /* of its owner's cgroup (all of the uid's sandboxes), if has_user */
        bool has_user;
        uint64_t runtime_max_usec;   /* 0: none */
        SandboxResources resources;  /* sandbox, as SandboxInfo reports it */
} PolicyLimitsDecision;

/*
 * The limits of a sandbox: each limit the request sets, within the maximum
 * the caller's rule allows ([memory-max], [tasks-max], [cpu-quota],
 * [cpu-weight], [runtime-max-sec], ...), and where it sets none the rule's
 * default ([default-memory-max], ...) or else its maximum; the rule's user-
 * keys for the caller's user cgroup. Root's requests are taken as they are,
 * without defaults or user limits. A request above a maximum is -EPERM with
 * an InvalidParameter denial naming the field ("resources.memory.limit",
 * "resources.cpu.quota" compared as a share of a CPU, "runtimeMaxUSec").
 * Whether the host can enforce the result is cgroup_manager_check_limits()'s
 * to say.
 */
int policy_resolve_limits(const PolicyRule *rule, const SpawnRequest *req, PolicyLimitsDecision *ret,
                          PolicyDenial *ret_denial);

/* The rule's user- keys, for the caller's user cgroup (all of the uid's sandboxes): true if it sets any. Root's
 * rule (unrestricted) has none. */
bool policy_user_limits(const PolicyRule *rule, CgroupLimits *ret);

/* What the daemon must do when the request is allowed. */
typedef struct PolicyDecision {
        /* With a new user namespace: the value to write to /proc/PID/setgroups
         * before gid_map. false -> "deny". Root: the request's value, "allow" if absent. */
        bool setgroups_allow;
} PolicyDecision;

/*
 * Decides whether caller may make request req, which has passed
 * spawn_request_verify() (the rules across its fields: hostname, root,
 * mounts, time offsets, id maps and joins against the namespaces). For a
 * non-root caller:
 *   - every type in req->namespaces must be allowed by its rule (PermissionDenied "namespaces");
 *   - keepAlive only if the rule allows it (PermissionDenied "keepAlive");
 *   - "seccomp" (its own profile) only if the rule's seccomp is "own" or "unconfined" (PermissionDenied
 *     "seccomp"); seccompProfile "unconfined" only with "unconfined", or with "own" when it brings its own
 *     classic-BPF programs (PermissionDenied "seccompProfile");
 *   - capabilities other than a bounding set only in a user namespace it creates or joins
 *     (PermissionDenied "capabilities.permitted", ...);
 *   - each uid/gid mapping either maps exactly
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
 *     additionalGids need setgroups allowed.
 * joinNamespaces fds are checked separately, per fd, with policy_check_join_namespace().
 * The sandbox count is checked with policy_check_quota().
 * subuid/subgid may be NULL (no ranges granted).
 *
 * Returns 0 with *ret_decision filled, or -EPERM with *ret_denial filled
 * (*ret_decision untouched), or -ENOMEM.
 */
int policy_check_spawn(const Policy *p, const Caller *caller, const SpawnRequest *req,
                       const SubidRanges *subuid, const SubidRanges *subgid, PolicyDecision *ret_decision,
                       PolicyDenial *ret_denial);

/*
 * Whether caller may Exec process (an ExecRequest's) into a sandbox it may
 * see, within its rule: keepAlive (PermissionDenied "keepAlive"), and, into
 * a sandbox that runs without a seccomp profile (sandbox_unconfined), only
 * as its rule would let it Spawn one (PermissionDenied
 * "seccompFileDescriptors"). Root is not restricted. 0 or -EPERM with
 * *ret_denial filled.
 */
int policy_check_exec(const Policy *p, const Caller *caller, bool sandbox_unconfined, const SpawnRequest *process,
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
