/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox's file tree: root and mounts from a SpawnRequest, built in the
 * child inside its new mount namespace. mount_plan_new() runs in the daemon
 * before clone3() and allocates everything; mount_plan_apply() runs in the
 * child and only makes raw syscalls (no malloc, async-signal-safe).
 */
#pragma once

#include "spawn.h"

typedef struct MountPlan MountPlan;

/* Returns 0 (a plan with nothing to do is NULL in *ret), or -EINVAL etc. with *ret_error filled. */
int mount_plan_new(const SpawnContext *c, MountPlan **ret, SpawnError *ret_error);
MountPlan *mount_plan_free(MountPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(MountPlan *, mount_plan_free);

/*
 * Child side, after the namespaces exist and the id maps are written, before
 * credentials drop. Makes propagation private, builds the tree, pivots into it.
 * Returns 0 or a negative errno with *ret_error filled (stage "mount", message
 * naming the destination).
 */
int mount_plan_apply(const MountPlan *p, SpawnError *ret_error);
