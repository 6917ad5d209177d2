/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy file (/etc/nsbox/policy.conf, nsbox-policy.conf(5)): per user,
 * per group and by default, which namespace types a caller may create, how
 * many live sandboxes it may have, whether keepAlive and subordinate id
 * ranges are allowed; and the daemon-wide [limits]. This module reads the
 * file and answers "which rule applies to this caller"; what a rule allows
 * a request to do is policy.c's job.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf-error.h"
#include "daemon-limits.h"
#include "macro.h"

#define POLICY_MAX_SANDBOXES_UNSET UINT_MAX
/* The most warm-pool entries one uid may have (warm-pool = N). */
#define POLICY_WARM_POOL_MAX 16U

/* "seccomp": which system call filters a caller's sandboxes may run under, from strict to permissive. */
typedef enum PolicySeccomp {
        POLICY_SECCOMP_DEFAULT,    /* "default": always the built-in profile (own filters may be added on top) */
        POLICY_SECCOMP_OWN,        /* "own": may replace it with its own profile or classic-BPF programs */
        POLICY_SECCOMP_UNCONFINED, /* "unconfined": may also run without any filter (the built-in default) */
        _POLICY_SECCOMP_MAX,
} PolicySeccomp;

/* "nested": what becomes of a Spawn or Exec made from inside one of the daemon's sandboxes. */
typedef enum PolicyNested {
        POLICY_NESTED_REFUSE, /* "refuse" (the default): NestedRequestRefused */
        POLICY_NESTED_ALLOW,  /* "allow": served as a child of the caller's sandbox, never beyond it */
        _POLICY_NESTED_MAX,
} PolicyNested;

/* "infinity" in the file: set, and no limit (a [user:] section lifting a [group:] one). */
#define POLICY_LIMIT_INFINITY UINT64_MAX

/*
 * Resource limits as a rule sets them, in systemd's terms (the property names
 * in brackets). 0: the key is not set; POLICY_LIMIT_INFINITY: set to
 * "infinity". Either way no limit.
 */
typedef struct PolicyLimits {
        uint64_t memory_max;       /* [memory-max] bytes */
        uint64_t memory_high;      /* [memory-high] bytes */
        uint64_t memory_swap_max;  /* [memory-swap-max] bytes of swap, besides memory */
        uint64_t tasks_max;        /* [tasks-max] */
        uint64_t cpu_quota;        /* [cpu-quota] CPU µs per second: 500000 is "50%" */
        uint64_t cpu_weight;       /* [cpu-weight] 1 .. 10000 */
        uint64_t runtime_max_usec; /* [runtime-max-sec], in µs; not for user- */
} PolicyLimits;

/* Whether a PolicyLimits value limits anything. */
static inline bool policy_limit_is_set(uint64_t v) {
        return v != 0 && v != POLICY_LIMIT_INFINITY;
}

/* The rule that applies to one caller: each key from its [user:], [group:] or [default] section. */
typedef struct PolicyRule {
        unsigned namespaces;    /* NAMESPACE_BIT() mask of the types the caller may create */
        unsigned max_sandboxes; /* live sandboxes of this uid (0: none); POLICY_MAX_SANDBOXES_UNSET:
                                 * not set by the policy, DaemonLimits.sandboxes_per_uid applies */
        bool keep_alive;        /* may ask for keepAlive */
        bool subid_ranges;      /* may map its /etc/subuid, /etc/subgid ranges */
        bool device_binds;      /* may ask for "dev" on a bind (the source's own nodev still holds) */
        unsigned seccomp;       /* PolicySeccomp: which system call filters it may choose */
        unsigned nested;        /* PolicyNested: requests from inside one of the daemon's sandboxes */
        unsigned warm_pool;     /* namespace sets the daemon keeps made ahead for this uid (warm-pool.h), 0..16 */
        bool unrestricted;      /* root: the policy does not apply */
        PolicyLimits max;       /* the most one sandbox may ask for ([memory-max], ...), and what it gets when it
                                 * asks for none and no default- key says otherwise */
        PolicyLimits defaults;  /* what a sandbox that asks for none gets ([default-memory-max], ...) */
        PolicyLimits user;      /* all of the uid's sandboxes together ([user-memory-max], ...) */
        char source[96];        /* the section that decided, for the log: "default", "user:alice", "group:wheel" (for
                                 * root: of its "nested", the one key its sections decide) */
} PolicyRule;

typedef struct Policy Policy;

/*
 * Loads a policy file. A missing file (ENOENT) gives the built-in default
 * policy (all namespace types, keepAlive and subid ranges allowed, limits at
 * their defaults) and returns 0. Otherwise, with *ret_error (may be NULL)
 * saying why:
 *   -EBADMSG: a line that does not parse, an unknown section or key, a
 *             duplicate section or key, a bad value, a user/group name that
 *             does not resolve (ret_error->line is the 1-based line);
 *   -EPERM:   a file not owned by root (or the daemon's euid) or writable by
 *             group/others; -EINVAL: not a regular file; -EFBIG: above 1 MiB
 *             (ret_error->line is 0: the file as a whole);
 *   another negative errno from open() or read() (ret_error untouched).
 * On failure *ret is untouched, so the caller keeps its old policy.
 */
int policy_load(const char *path, Policy **ret, ConfError *ret_error);

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

/* Live sandboxes this rule allows its uid: max-sandboxes, or the daemon limit if unset; UINT_MAX for root.
 * l NULL means the default limits. */
unsigned policy_max_sandboxes(const PolicyRule *r, const DaemonLimits *l);
