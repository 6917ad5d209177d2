/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A Spawn from inside sandbox S, where the policy allows one: a child of S,
 * never a sibling. It is built as an Exec into S (sandbox-exec.h) that
 * creates namespaces of its own after joining S's:
 *
 *  - its own joins name a namespace S's processes are in (nothing changes)
 *    or one a sandbox nested below S made (not its user namespace, whose
 *    users and maps are that sandbox's), judged by the identity of the
 *    namespace opened from the fd sent, which is then what is joined;
 *  - every namespace S has is joined, except the types the request joins
 *    itself and the types it creates, which are then made inside S's user
 *    namespace (so they belong to it)
 *    and, for a pid namespace, made below S's by the child once it made a
 *    user namespace of its own, which owns it: the child stays outside as
 *    the process the daemon tracks and forks the new namespace's pid 1
 *    (spawn-child.c); without a user namespace of its own it is refused;
 *  - a user namespace of its own is made inside S's (SpawnParent: S's user
 *    namespace is joined, then the new one made), its maps in S's ids and
 *    within what S's maps cover, written by the child's own map writer in
 *    S's user namespace (spawn-child.c), setgroups "allow" only where S has
 *    it; S's disableUserNamespaces refuses it by name (the kernel would too);
 *  - paths, the working directory and PATH are resolved in S's mount
 *    namespace; a mount namespace of its own is a copy of S's, made with a
 *    user namespace of its own, which the kernel then keeps S's mounts
 *    locked in (read-only stays read-only); without a user namespace of its
 *    own it is refused;
 *  - it runs in S's cgroup, under S's limits, or, with limits or a
 *    runtime of its own, in a cgroup of its own below S's (in every
 *    hierarchy, S's limits above it), each limit no higher than S's (nor an
 *    outer sandbox's) and its runtime not past S's end; with S's seccomp filter under any programs it adds ("unconfined"
 *    adds no profile of its own, as the kernel keeps S's) and S's
 *    capability sets as the ceiling, as S's user and groups (others of S's
 *    ids only where S's user is root: sandbox_nested_check_user()), with S's rlimits (its own ones replace them, each no higher
 *    than S's hard limit: the daemon's prlimit() could raise them);
 *  - its entry is one of S's processes (Sandbox.exec_of): it counts against
 *    S's owner and dies with S;
 *  - it is a sandbox in turn (its own SandboxExecBase): a request from inside
 *    it is built on it by these same rules, to any depth.
 *
 * Whatever would need more than S has, or a shape not built yet, is refused
 * with the field and a reason naming what S lacks.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "capabilities.h"
#include "cgroup.h"
#include "policy.h"
#include "sandbox-exec.h"

typedef struct Sandbox Sandbox;

/* Whether a nested request asks for limits or a runtime of its own, which a cgroup of its own carries. */
bool sandbox_nested_wants_cgroup(const SpawnRequest *req);

/*
 * Of the limits the policy resolved for a nested request (its maxima judged
 * them), keeps only those the request asked for: the policy's defaults are
 * already the sandbox's, which hold over it. The user's limits stay, for the
 * checks against them (v1 refuses a quota above its user's); the user's
 * cgroup exists already and is not written again.
 */
void sandbox_nested_limits_asked(const SpawnRequest *req, PolicyLimitsDecision *l);

/*
 * Whether the limits l (from sandbox_nested_limits_asked()) fit inside sb:
 * each no higher than sb's cgroup's, or an outer one's, as the kernel has them
 * (cgroup_check_ceiling(): a ceiling the kernel would enforce anyway, refused
 * here so the caller learns which and why); its runtime no longer than what
 * is left of sb's, or an outer sandbox's; and room below sb's cgroup for one
 * of its own (cgroup_has_room_below()). *ret_parent: the cgroup to make it
 * below (NULL without cgroups). 0, or -EPERM with field and reason set.
 */
int sandbox_nested_check_limits(const Sandbox *sb, const PolicyLimitsDecision *l, Cgroup **ret_parent, char *field,
                                size_t field_size, char *reason, size_t reason_size);

/*
 * Makes req (a Spawn from inside sb, decoded and verified) a child of sb.
 * capabilities: the request's sets, resolved (NULL: it asked for none).
 * On success *ret holds the fds and the creator to spawn with, and
 * *ret_capabilities the sets to spawn with (NULL: the defaults).
 * -EPERM: a shape refused, field and reason set; -EINVAL: field names a
 * bad value (a user sb does not map); other negative errnos. Nothing is
 * left open on failure.
 */
/*
 * Whether process (a Spawn or Exec from inside sb that shares its user
 * namespace) may run as the user it names: only as sb's own user and groups,
 * unless that user is root there. A process of sb must not become another of
 * sb's users through the daemon (a setuid binary sb was never given), and
 * above all not root, whose capabilities in sb's user namespace would undo
 * sb's read-only binds. 0, or -EPERM with field and reason set.
 */
int sandbox_nested_check_user(const Sandbox *sb, const SpawnRequest *process, char *field, size_t field_size,
                              char *reason, size_t reason_size);

/*
 * The calling process's own limits bind what is made for it, as the
 * sandbox's do: a process of the sandbox that lowered its hard limits must
 * not get the sandbox's back by asking. Its hard limits from
 * /proc/PID/limits, its pidfd checked afterwards (SANDBOX_RLIMIT_INFINITY for
 * none): 0, -ESRCH if it is gone, another negative errno.
 */
int sandbox_nested_caller_limits(const Caller *caller, uint64_t ret_hard[static RLIMIT_NLIMITS]);
/* 0, or -EPERM with field ("rlimits[i].hard") and reason where req (from inside sb) asks for a hard limit
 * above hard's (one above sb's is sandbox_nested_prepare()'s to refuse). */
int sandbox_nested_check_caller_limits(const Sandbox *sb, const SpawnRequest *req,
                                       const uint64_t hard[static RLIMIT_NLIMITS], char *field, size_t field_size,
                                       char *reason, size_t reason_size);
/* Lowers each limit req would run with (its rlimits, else what every sandbox gets) to hard's. 0 or -ENOMEM. */
int sandbox_nested_clamp_limits(SpawnRequest *req, const uint64_t hard[static RLIMIT_NLIMITS]);

int sandbox_nested_prepare(const Sandbox *sb, SpawnRequest *req, const int *message_fds, size_t n_message_fds,
                           const CapabilityMasks *capabilities, SandboxExecPlan *ret,
                           const CapabilityMasks **ret_capabilities, char *field, size_t field_size, char *reason,
                           size_t reason_size);

/* Names the field a nested request may not have (field) and says why (reason, formatted): -EPERM. */
_printf_(6, 7) int sandbox_nested_refuse(char *field, size_t field_size, const char *name, char *reason,
                                         size_t reason_size, const char *format, ...);
