/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox's file tree: root and mounts from a SpawnRequest, built in the
 * child inside its new mount namespace. mount_plan_new() runs in the daemon
 * before clone3() and allocates everything; mount_plan_apply() runs in the
 * child and only makes raw syscalls (no malloc, async-signal-safe).
 */
#pragma once

#include "fd-util.h"
#include "spawn.h"

typedef struct MountPlan MountPlan;

/*
 * Returns 0 (NULL in *ret when the request has no mount namespace and so
 * nothing to do), or -EINVAL, -EPERM, -EBADF, -ENOMEM with *ret_error filled
 * (stage "mount"). The request must have passed spawn_request_verify() (root
 * and mounts need "mount" among the created namespaces). `root` is planned
 * as the first entry, a bind on "/" like any other. Refuses
 * "suid"/"dev" from a non-privileged caller, and binds given as
 * sourceFileDescriptor from a non-privileged caller that creates a user
 * namespace (the daemon's clone would not be locked there). Never calls into
 * the file system of a client's fd (it may never answer). The plan borrows
 * the message fds of "file" entries (they must still be open, at the same
 * numbers, when the child applies it) and owns detached clones of bind
 * sources given as fds, closed by mount_plan_free().
 */
int mount_plan_new(const SpawnContext *c, MountPlan **ret, SpawnError *ret_error);
MountPlan *mount_plan_free(MountPlan *p);

/*
 * The fds mount_plan_apply() will use: the detached bind source trees the
 * plan owns and the message fds of "file" entries it borrows. Returns how
 * many there are (0 for NULL) and stores the first min(that, n) in buf (may
 * be NULL when n is 0), in plan order, possibly with repeats (one message fd
 * may feed several entries). For the child, which closes every other fd.
 */
size_t mount_plan_fds(const MountPlan *p, int *buf, size_t n);
/*
 * Names the nsbox-init program (borrowed, as mount_plan_fds() lists it) that copies the contents of "file"
 * and "bind-data" entries, in a process with a memory of its own: a tmpfs page is charged to the memory
 * cgroup of its writer's memory, and the child's is the daemon's until its exec. Kept only if the plan has
 * such entries; without it (fd < 0) the child copies them itself.
 */
void mount_plan_set_copy_program(MountPlan *p, int fd);
/* Calls visit on each of those fds' fields (the bind sources owned, the "file" contents borrowed), which
 * it may change: a spawn worker renumbers them into its own fd table. */
void mount_plan_visit_fds(MountPlan *p, FdVisitor visit, void *userdata);
DEFINE_TRIVIAL_CLEANUP_FUNC(MountPlan *, mount_plan_free);

/* Whether mount_plan_apply() builds a file tree (a root or mount entries), which takes the new mount API;
 * without one it only makes propagation private, with mount(2). False for NULL. */
bool mount_plan_builds_root(const MountPlan *p);

/*
 * Child side, after the namespaces exist and the id maps are written, before
 * credentials drop and before fds are rearranged. Makes propagation private,
 * builds the tree, pivots into it and leaves the cwd at the new "/". p may be
 * NULL (nothing to do). Returns 0 or a negative errno with *ret_error filled
 * (stage "mount", message naming the destination and, for a source, the path).
 * The fs ids are the caller's only while needed and restored after, except
 * for a non-root caller's new user namespace: there fsuid/fsgid stay the ids
 * the caller is mapped to (the credentials stage sets the final ones anyway)
 * and the supplementary groups are left alone: the child must already hold
 * the caller's host groups, set before the user namespace was created.
 */
int mount_plan_apply(const MountPlan *p, SpawnError *ret_error);

/*
 * Child side, async-signal-safe: for a non-root caller that joins a user
 * namespace, sets fsuid/fsgid to the caller's ids, to be called in the
 * daemon's user namespace right before setns() into the joined one (where
 * they could no longer be named as host ids); mount_plan_apply() then runs
 * with them, and with the groups the child already holds (the caller's).
 * 0 (also when there is nothing to do) or -EPERM.
 */
int mount_plan_take_caller_ids(const MountPlan *p);
