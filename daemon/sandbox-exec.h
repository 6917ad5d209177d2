/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec: another process in a running sandbox, as docker exec and nsenter
 * --all make one. What the spawn path settled for the sandbox's own process
 * (its user and groups, its working directory, its confinement, the
 * namespaces it joined) is kept with the entry as a SandboxExecBase; an Exec
 * is then a Spawn whose namespaces are all joined from the sandbox's top
 * process, with that base, in the sandbox's cgroup, and the spawn engine
 * does the rest in the order and by the rules of its joins.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "caller.h"
#include "capabilities.h"
#include "sandbox-protocol.h"
#include "seccomp-profile.h"
#include "spawn.h"

typedef struct Sandbox Sandbox;

/*
 * Plain values only (ids, masks, strings, the filter's instructions), so it
 * can be written out and read back with the rest of an entry.
 */
typedef struct SandboxExecBase {
        bool kept;                  /* false: nothing was kept (a process Exec started, or out of memory) */
        unsigned joined_namespaces; /* the types its Spawn joined; those it created are Sandbox.namespaces */
        bool user_namespace;        /* it has one, created or joined */
        /* Who its command runs as, as its user namespace sees it, and the groups the child set (set_groups
         * false: it kept the ones it was cloned with, its creator's). */
        uid_t uid;
        gid_t gid;
        bool set_groups;
        gid_t *groups;
        size_t n_groups;
        /* Its creator: the identity a new process in it is made for, groups included. */
        uid_t creator_uid;
        gid_t creator_gid;
        gid_t *creator_groups;
        size_t n_creator_groups;
        bool creator_privileged;
        /* Its Spawn's cwd (NULL: "/") and cwdFallbacks: the child takes the first that can be entered. */
        char *cwd;
        char **cwd_fallbacks;
        /* Confinement: the profile it loaded (a reference; NULL: none), the capability sets its Spawn asked
         * for (else the defaults), disableUserNamespaces. The classic-BPF programs a Spawn brings are read
         * by its process and not kept. */
        SeccompProgram *seccomp;
        bool own_seccomp_programs;  /* its Spawn brought seccompFileDescriptors, which are not kept */
        bool has_capabilities;
        CapabilityMasks capabilities;
        bool disable_user_namespaces;
} SandboxExecBase;

/* The namespace types (NAMESPACE_BIT() mask) the process req starts is in without creating them: those it
 * joins, and the user namespace its command enters (commandUserNamespaceFileDescriptor). For an Exec's
 * request, once sandbox_exec_prepare() planned it, every namespace of its sandbox. */
unsigned sandbox_joined_namespaces(const SpawnRequest *req);

/* Fills base for the sandbox req makes (after spawn_start() answered handle). Takes a reference to seccomp
 * (may be NULL) and copies the rest; capabilities may be NULL. 0 or -ENOMEM (base then empty). */
int sandbox_exec_base_init(SandboxExecBase *base, const SpawnRequest *req, const Caller *creator,
                           SeccompProgram *seccomp, const CapabilityMasks *capabilities, const SpawnHandle *handle);
void sandbox_exec_base_done(SandboxExecBase *base);

/* Whether gid is the primary group or one of the groups a process started from base runs with. */
bool sandbox_exec_base_has_group(const SandboxExecBase *base, gid_t gid);

/*
 * Whether the user an Exec asks for (process->has_user) is one sb may run
 * as: in its user namespace, ids its maps define (additionalGids only where
 * setgroups is allowed), read from /proc of its top process; without one,
 * host ids, its creator's own unless root made it. 0, or -EINVAL with the
 * field ("user.uid", "user.additionalGids[1]") in field, or another
 * negative errno.
 */
int sandbox_exec_check_user(const Sandbox *sb, const SpawnRequest *process, char *field, size_t field_size);

/* Whether the user namespace of sb's top process has setgroups "allow": 1, 0, or a negative errno. */
int sandbox_setgroups_allowed(const Sandbox *sb);

/*
 * A new O_CLOEXEC fd of the namespace of type that sb's processes are in,
 * from its top process (which must not be reaped: -ESRCH), or its children's
 * pid and time namespaces where it stays outside the pid namespace it made.
 * Returns the fd or a negative errno.
 */
int sandbox_open_namespace(const Sandbox *sb, NamespaceType type);

/* What spawn_start() takes for an Exec besides the request. */
typedef struct SandboxExecPlan {
        int *fds;          /* the message's fds, then the namespace fds (owned: closed by _done()) */
        size_t n_fds;
        size_t n_message_fds;
        Caller creator;    /* the sandbox's creator; groups borrowed from the base */
        /* A nested Spawn's new user namespace is made inside the sandbox's (sandbox-nested.h): its fds
         * are owned here when has_parent. */
        bool has_parent;
        SpawnParent parent;
} SandboxExecPlan;

/*
 * Makes process (an Exec's, as decoded) a Spawn into sb: joins of every
 * namespace sb has, opened from its top process (which must not be reaped),
 * its user and groups unless process names a user (checked with
 * sandbox_exec_check_user() before), its working directory unless process
 * has one, its rlimits, no init. 0, or a negative errno with nothing left
 * open.
 */
int sandbox_exec_prepare(const Sandbox *sb, SpawnRequest *process, const int *message_fds, size_t n_message_fds,
                         SandboxExecPlan *ret);
void sandbox_exec_plan_done(SandboxExecPlan *p);
