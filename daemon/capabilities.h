/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The capability sets of a sandbox: names resolved with libcap, the
 * documented defaults, what a caller may keep, and (child side, raw syscalls,
 * async-signal-safe) applying them around the change of uid. The one place
 * that decides which capabilities a sandbox and its init hold.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "confinement-protocol.h"

#define CAPABILITY_BIT(c) (UINT64_C(1) << (c))

/* The capabilities this kernel has, as a mask (libcap's cap_max_bits()). */
uint64_t capability_all(void);

/*
 * A capability name as capabilities(7) spells it ("CAP_NET_ADMIN") to its
 * number, with libcap; -EINVAL for a name libcap or the kernel does not know,
 * or any other spelling.
 */
int capability_from_name(const char *name, unsigned *ret);

/* Five masks, indexed by CapabilitySet. */
typedef struct CapabilityMasks {
        uint64_t set[_CAPABILITY_SET_MAX];
} CapabilityMasks;

/*
 * Resolves spec. -EINVAL with the field named (prefix "capabilities"): an
 * unknown name ("capabilities.bounding[2]"), an effective capability not
 * permitted, an inheritable one outside the bounding set, an ambient one not
 * both permitted and inheritable (the kernel would refuse each, after the
 * sandbox was created). -ENOMEM.
 */
int capability_masks_from_spec(const CapabilitiesSpec *spec, const char *prefix, CapabilityMasks *ret,
                               char **ret_invalid_parameter);

/* What the child applies. */
typedef struct CapabilityPlan {
        uint64_t bounding, effective, permitted, inheritable, ambient;
        uint64_t init_permitted; /* what the sandbox's init keeps (effective and permitted) */
        unsigned last_cap;       /* highest capability number the kernel has */
} CapabilityPlan;

typedef struct CapabilityContext {
        bool user_namespace;  /* the sandbox runs in a user namespace (created or joined): capabilities count there only */
        bool privileged;      /* the caller is root */
        bool disable_user_namespaces; /* CAP_SYS_RESOURCE would let the sandbox lift the limit again */
        bool caller_holds_sys_time;   /* a root caller whose own process may use CAP_SYS_TIME */
} CapabilityContext;

/* The permitted set of process pid (capget(2), as its /proc/PID/status shows it), checked against pidfd afterwards so the pid still
 * named it: 0, -ESRCH without a pidfd or if it is gone, -errno. */
int capability_read_permitted(pid_t pid, int pidfd, uint64_t *ret);

/*
 * The sets a sandbox gets. requested NULL means the default (nsboxd(8)):
 *  - in a user namespace: every capability in the bounding, permitted and
 *    effective sets, as `unshare -r` gives: after execve a process running as
 *    uid 0 there keeps them, any other uid has none (the kernel's rule);
 *  - outside one, a root caller: what nsboxd holds, without the capabilities
 *    it holds only for its own work (CAP_SYS_TIME, for time namespace
 *    offsets) unless the caller's own process holds them too (as bubblewrap
 *    run by it would keep them); a non-root caller: nothing, not even in the
 *    bounding set.
 * A request outside a user namespace is held to the same ceiling: what nsboxd
 * does not hold, or holds for itself, is left out (and logged). -EPERM if a
 * non-root caller outside a user namespace asks for anything but a bounding
 * set (the policy refuses that first). With disable_user_namespaces,
 * CAP_SYS_RESOURCE is left out of every set.
 * The init keeps only CAP_KILL (to signal a command that changed its uid),
 * and only if the command may hold it.
 */
int capability_plan_new(const CapabilityMasks *requested, const CapabilityContext *ctx, CapabilityPlan *ret);

/* For tests: what nsboxd holds, instead of reading it from the kernel (NULL: read it again). */
void capability_set_daemon_mask_for_test(const uint64_t *mask);

/* ---- child side: raw syscalls only, async-signal-safe ---- */

/* Before the change of uid: drops the bounding set to the plan's and keeps the permitted set across
 * setresuid() (PR_SET_KEEPCAPS). Needs CAP_SETPCAP, which the child has then. 0 or -errno. */
int capability_plan_apply_before_setuid(const CapabilityPlan *p);

/* After the change of uid: sets effective, permitted, inheritable and ambient, and checks the kernel
 * holds exactly those. 0, -errno, or -EPERM if anything else is left. */
int capability_plan_apply_after_setuid(const CapabilityPlan *p);

/* The init's sets: init_permitted as effective and permitted, nothing inheritable or ambient. */
int capability_plan_apply_init(const CapabilityPlan *p);
