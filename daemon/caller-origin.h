/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a caller runs: on the host or inside one of the daemon's sandboxes,
 * decided once, when its connection is accepted, from the pidfd the kernel
 * gave for the peer (SO_PEERPIDFD), so the answer is about the process that
 * connected and no other.
 *
 * Every sandbox is indexed by its cgroup2
 * cgroup (a process leaves a subtree only by writing cgroup.procs of a
 * common ancestor, which is the daemon's: files uid 0 of the host's user
 * namespace owns, so a root sandbox without a user namespace may) and the
 * namespaces it created.
 * Only user and pid namespaces cannot be left (a new one is a descendant of
 * the old, and the lookup walks up to it); any other one a process can
 * trade for a fresh one with unshare(2), given a new user namespace, which
 * an unprivileged process may make. So the user and pid namespaces anchor
 * the answer, the cgroup and the other namespaces may only narrow it, and
 * evidence that contradicts itself is not known. Without cgroups, a caller
 * in a user namespace that is neither the daemon's nor below a sandbox's
 * cannot be told from a sandbox's process.
 * A caller's cgroup id, its cgroup path when the id is below a sandbox's
 * rather than its own, and the inode of each of its
 * namespaces (user and pid namespaces with their ancestors) are looked up in
 * one hash table: O(1) per key, never a walk over the sandboxes. So the
 * sandbox's descendants, processes Exec started in it and processes that
 * setns() into it are all found inside it.
 *
 * A peer whose origin cannot be told (it exited before its connection was
 * accepted, its /proc entry cannot be read, it is in a user namespace of its
 * own without cgroups to tell) is CALLER_ORIGIN_UNKNOWN, which
 * the methods treat as fail-closed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "caller.h"
#include "hash-table.h"
#include "sandbox-protocol.h"

typedef struct Sandbox Sandbox;

/* One key a sandbox is found by: its cgroup2 id, or the inode of a namespace it created. */
typedef struct OriginKey {
        HashNode node;
        uint64_t value;
        unsigned kind; /* ORIGIN_KEY_CGROUP, or ORIGIN_KEY_NAMESPACE + the NamespaceType */
        bool added;
        Sandbox *sandbox;
} OriginKey;

#define ORIGIN_KEY_CGROUP 0U
#define ORIGIN_KEY_NAMESPACE 1U

/* What one sandbox put into the index; embedded in its entry. A namespace's key is allocated when it is
 * added (most sandboxes make two or three of the eight types, and every byte here is one per live sandbox)
 * and freed when it is removed. */
typedef struct SandboxOrigin {
        OriginKey cgroup;
        OriginKey *namespaces[_NAMESPACE_TYPE_MAX];
        /* Its top process stays outside the pid namespace it made (SpawnHandle.pid_namespace_below), and
         * outside a time namespace made with it: its pid_for_children and time_for_children, made once they
         * differ from its own. Set before the first origin_index_add(). */
        bool pid_namespace_below;
} SandboxOrigin;

typedef struct OriginIndex {
        HashTable keys;
        uint64_t own_namespaces[_NAMESPACE_TYPE_MAX]; /* the daemon's own: never taken for a sandbox's */
        /* The live sandbox of an id (from a cgroup path below a sandbox's), or NULL; NULL: none is. */
        Sandbox *(*find_id)(void *userdata, const char *id);
        void *userdata;
} OriginIndex;

/* Reads the daemon's own namespaces. 0 or -errno. */
int origin_index_init(OriginIndex *ix);
/* The index must be empty (every sandbox removed its keys). */
void origin_index_done(OriginIndex *ix);

/*
 * Indexes what is not indexed yet of sb: its cgroup2 cgroup (cgroup_id, the
 * directory's inode number as cgroup_id() gives it; 0: none) and, for each type in `created`, the namespace
 * the process of pidfd (pid where the kernel has no pidfd ioctls) is in, unless it is one of the daemon's own (a child
 * that has not made it yet: call again once it has). 0, or -errno with what
 * was added left in (origin_index_remove() takes it out).
 */
int origin_index_add(OriginIndex *ix, SandboxOrigin *o, Sandbox *sb, uint64_t cgroup_id, int pidfd, pid_t pid,
                     unsigned created);
void origin_index_remove(OriginIndex *ix, SandboxOrigin *o);

/* The sandbox that made the namespace of type t with this inode number, while it is in the index; NULL if
 * none did (the daemon's own, a namespace made outside the daemon, 0). */
Sandbox *origin_index_find_namespace(const OriginIndex *ix, NamespaceType t, uint64_t inode);

/* The inode of the namespace of type t the sandbox made, while it is in the index; 0 if it is not. */
static inline uint64_t sandbox_origin_namespace(const SandboxOrigin *o, NamespaceType t) {
        return o->namespaces[t] ? o->namespaces[t]->value : 0;
}

/*
 * Where the peer runs. pidfd is the peer's from SO_PEERPIDFD (-EBADF on
 * kernels before 6.5: then pid alone, and a pid reused between connect()
 * and this call can mislead it); pid its pid in the daemon's pid namespace
 * (0 if it has none there); cgroup_base the daemon's cgroup2 subtree as
 * /proc/PID/cgroup shows it (NULL without cgroups), cgroup_leaf the name of
 * the daemon's own leaf below it (NULL: none). Sandbox keys win over
 * the host. The innermost sandbox of its user and pid namespaces anchors
 * the answer; its cgroup may narrow that to a sandbox nested in it, and its
 * other namespaces to one nested in that (the innermost). A cgroup and a
 * user or pid namespace of unrelated sandboxes, a namespace of a sandbox
 * unrelated to the answer that the answer's processes are not in, and a
 * cgroup below the daemon's that is no sandbox's (its leaf, a user's) are
 * CALLER_ORIGIN_UNKNOWN, never the host. Never fails: what cannot be told
 * is CALLER_ORIGIN_UNKNOWN with the reason.
 */
void origin_index_lookup(const OriginIndex *ix, const char *cgroup_base, const char *cgroup_leaf, int pidfd, pid_t pid,
                         CallerOrigin *ret);

/*
 * Whether the peer (pidfd, pid as for the lookup), found inside sb, is in
 * every namespace sb's processes are in, and no other, now: a process of sb
 * that made a namespace of its own (unshare(2), a bubblewrap of its own) or
 * is what is left of a nested sandbox that ended, or that entered only some
 * of sb's namespaces, would leave what it is in by asking for a process in
 * sb's. 0; -EXDEV with *ret_type the first type that differs; -ESRCH if it
 * is gone (or sb's top process is); another negative errno.
 */
int origin_check_whole(const OriginIndex *ix, const Sandbox *sb, int pidfd, pid_t pid, NamespaceType *ret_type);
