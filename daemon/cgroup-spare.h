/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spare cgroups: a sandbox's cgroup made ahead, between requests, for the
 * next cold Spawn of a user who just spawned one, so that Spawn does not make
 * its cgroup (a mkdir and an open in each hierarchy) before its child can be
 * cloned. A spare is BASE/user-UID/ID as cgroup_new() makes it for a sandbox
 * without limits, ID a sandbox id chosen when it is made: the Spawn that takes
 * it is that sandbox, and its limits are written then
 * (cgroup_apply_limits_late()), as for a warm-pool entry's.
 *
 * A few at most, one per user and set of CgroupFlags, made once no spawn
 * waits for its exec (a reply is not held up by one being made; at the latest
 * 0.1 s after it was asked for, whatever another caller's spawn does) and
 * removed when unused for a while, when the server stops (never handed over:
 * the next daemon makes its own) and with the policy's reload.
 */
#pragma once

#include <sys/types.h>
#include <uv.h>

#include "cgroup.h"
#include "sandbox.h"

typedef struct CgroupSpares CgroupSpares;

/* With m NULL (no cgroups) there is never a spare; *max (borrowed, the spare-cgroups limit, which a reload
 * may change) is how many there may be, CGROUP_SPARES_CAP at most; spares are made only while
 * *pending_spawns (borrowed: spawns cloned and not yet past their exec) is 0. -ENOMEM. */
#define CGROUP_SPARES_CAP 64
int cgroup_spares_new(uv_loop_t *loop, CgroupManager *m, const unsigned *max, const unsigned *pending_spawns,
                      CgroupSpares **ret);

/* Removes every spare and closes the handles; the structure is freed by the last close callback. NULL is fine. */
void cgroup_spares_close(CgroupSpares *s);

/* Removes every spare, and forgets the one wanted next (the policy changed: the users' limits and rights may have). */
void cgroup_spares_discard_all(CgroupSpares *s);

/*
 * Takes the spare made for uid with flags, with the sandbox's limits l and the user's limits user_limits
 * (NULL: none) applied as cgroup_new() applies them; its directory's name, the sandbox's id, goes to ret_id.
 * The cgroup is held for the spawn (cgroup_hold_for_spawn()) as one cgroup_new() returns. -ENOENT: none
 * (make one cold); another -errno: the spare could not take the limits and is gone (make one cold too).
 */
int cgroup_spares_take(CgroupSpares *s, uid_t uid, CgroupFlags flags, const CgroupLimits *l,
                       const CgroupLimits *user_limits, char ret_id[static SANDBOX_ID_LEN + 1], Cgroup **ret);

/* Asks for a spare for uid's next Spawn with flags, made once no spawn waits for its exec; the user cgroup
 * gets user_limits (NULL: none), as a Spawn's would. Nothing if there is one already; the last wish wins. */
void cgroup_spares_want(CgroupSpares *s, uid_t uid, CgroupFlags flags, const CgroupLimits *user_limits);
