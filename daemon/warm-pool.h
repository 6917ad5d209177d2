/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The warm pool: namespace sets made ahead for a request's shape, so a Spawn
 * that matches only builds its plan and hands it to a child that already
 * exists in fresh namespaces with its maps written, in its own fresh
 * cgroup. A shape is who asks (uid, gid, supplementary groups, root or not)
 * and what is made before anything request-specific: the namespace set, the
 * uid and gid maps, setgroups, and the cgroup's layout (not a time
 * namespace's offsets: they are the request's, written when the entry is
 * taken). The pool serves Spawns from the host without joinNamespaces;
 * nested requests never take from it.
 *
 * The policy sets the budget: warm-pool = N entries per uid (0, the
 * default, is off; root's sections decide root's), within the daemon's
 * warm-pool-entries limit for everyone together, and entries count against
 * the owner's sandbox quota and the daemon's sandboxes limit (they are
 * made only while the owner's sandboxes and entries together stay within
 * them); an owner whose policy sets user-tasks-max gets none, as a parked
 * entry is a process in its user cgroup. Entries are made after a Spawn of
 * their shape: a hit is replaced, a miss fills the owner's budget with its
 * shape (the oldest parked entry of another shape of the same owner giving
 * way first); they are made when no spawn is in flight (at the latest after
 * WARM_POOL_FILL_DELAY_MSEC), one per loop iteration, so making one does
 * not delay a reply.
 *
 * The guarantee (docs/architecture.md): a pooled sandbox is what a fresh
 * one would be. Each entry is used once, by a request of exactly its shape,
 * and its namespaces, process and cgroup were made for it alone; the
 * request's limits are written to that cgroup, its rlimits set, its time
 * namespace's offsets written and its plan built as for a fresh spawn, all
 * before the child runs anything of the request's. Entries die (SIGKILL,
 * reaped, cgroup removed) at stop, re-exec and Reload, when their owner's
 * last connection closes, when they do not park within the spawn timeout,
 * and when their child dies; nothing of it waits for a child on the loop.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "caller.h"
#include "cgroup.h"
#include "policy.h"
#include "sandbox-protocol.h"
#include "spawn.h"

typedef struct Server Server;
typedef struct WarmPool WarmPool;
typedef struct WarmPoolEntry WarmPoolEntry;

/* A miss's entry is made once no spawn is in flight, or after this long. */
#define WARM_POOL_FILL_DELAY_MSEC 20U

typedef struct WarmPoolStats {
        unsigned entries;        /* being made or parked */
        unsigned parked;         /* ready to be taken */
        uint64_t hits;           /* Spawns served by an entry */
        uint64_t misses;         /* Spawns of a shape the pool serves, for an owner with a budget, that found none */
        uint64_t fills;          /* entries that parked */
        uint64_t fill_failures;  /* entries that could not be made or died before they parked */
        uint64_t discarded;      /* entries killed unused, parked or being made (Reload, owner gone, eviction,
                                  * stop), or parked ones whose child died */
        uint64_t fill_cpu_usec;  /* the daemon's CPU time (its loop's thread) spent making the parked ones */
        uint64_t fill_usec;      /* wall time from starting each parked entry to its parking, summed */
} WarmPoolStats;

int warm_pool_new(Server *s, WarmPool **ret);

/* Kills every entry and waits for each (our own children, parked: they die at once), removes their cgroups.
 * For stop and re-exec only. */
void warm_pool_drain_now(WarmPool *p);

/* At stop: drain_now, then closes the pool's handles; it takes nothing any more. */
void warm_pool_close(WarmPool *p);

/* After close and the loop ran: frees p. */
WarmPool *warm_pool_free(WarmPool *p);

/* Whether a request could be served by a pool at all: from the host, no joins. A pid namespace's entry is its
 * pid 1: taken, the init. A time namespace's offsets are the request's, written when the entry is taken:
 * nobody enters the namespace before the entry's execve(). */
bool warm_pool_serves(const SpawnRequest *req);

/*
 * The parked entry of req's shape for caller, taken out of the pool, or NULL (a miss when the shape is
 * one the pool serves and the rule gives a budget). Either way, one entry of that shape is queued to be
 * made within the budget. limits are the request's as the policy resolved them (the user's limits the
 * entry's cgroup is made under); cgroup_flags those the request's cgroup would be made with; seccomp its
 * compiled profile (whether it is the built-in default is part of the shape: an entry of such a shape that
 * has no mount namespace is born with that profile, as a cold spawn's child is, spawn_plan_may_inherit_profile()).
 */
WarmPoolEntry *warm_pool_take(WarmPool *p, const Caller *caller, const SpawnRequest *req,
                              const SeccompProgram *seccomp, const PolicyRule *rule,
                              const PolicyLimitsDecision *limits, CgroupFlags cgroup_flags);

/*
 * Starts the request in a taken entry: applies limits to its cgroup, then spawn_start_pooled() with ctx
 * (whose cgroup it sets). On success fills ret_id, *ret_cgroup (the sandbox's now) and *ret; on failure the
 * entry is discarded and the caller spawns cold. The entry is gone either way.
 */
int warm_pool_start(WarmPool *p, WarmPoolEntry *e, SpawnContext *ctx, const PolicyLimitsDecision *limits,
                    char ret_id[static SANDBOX_ID_LEN + 1], Cgroup **ret_cgroup, SpawnHandle *ret,
                    SpawnError *ret_error);

/* Kills every entry (and the queue): a Reload, whose budget or rights may have changed. */
void warm_pool_discard_all(WarmPool *p);

/* Whether anything is made or queued for uid (at most warm-pool-entries to look at). */
bool warm_pool_holds_for(const WarmPool *p, uid_t uid);

/* uid's last connection closed: its entries go. */
void warm_pool_owner_left(WarmPool *p, uid_t uid);

void warm_pool_stats(const WarmPool *p, WarmPoolStats *ret);
