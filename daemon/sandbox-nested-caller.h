/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A request from inside sandbox S is held to what the process that asks
 * holds in S's user namespace, not only to what S was given: a process of S
 * may have dropped capabilities (a root sandbox's service that runs with
 * fewer, a nested bubblewrap's --cap-drop) or run as one of S's users that
 * has none, and asking the daemon must not give them back. The kernel's
 * rules for the same acts done by the process itself are the measure:
 *
 *  - capability sets in S's user namespace within its own (bounding within
 *    its bounding set, the others within its permitted set);
 *  - another user or groups in S's user namespace than S's own only with
 *    CAP_SETUID / CAP_SETGID there;
 *  - a user namespace of its own maps more than the caller's own uid (gid)
 *    only with CAP_SETUID (CAP_SETGID) in S's, and allows setgroups only
 *    with CAP_SETGID there (a process without them may write only a
 *    one-line map of its own id, and deny setgroups first).
 *
 * This matters most for root: a root sandbox without a user namespace runs
 * in the host's, where its capabilities are the host's. A caller in a user
 * namespace below S's holds nothing in S's.
 */
#pragma once

#include <stdint.h>

#include "caller.h"
#include "capabilities.h"
#include "sandbox-protocol.h"

typedef struct Sandbox Sandbox;

/* What the calling process holds in its sandbox's user namespace. */
typedef struct NestedCallerHolds {
        uint64_t permitted;
        uint64_t bounding;
} NestedCallerHolds;

/*
 * Reads what caller (whose origin is sb) holds in sb's user namespace, from
 * /proc of its pid checked against its pidfd afterwards: nothing where it
 * runs in another user namespace. 0, -ESRCH if it is gone, -errno.
 */
int nested_caller_holds(const Sandbox *sb, const Caller *caller, NestedCallerHolds *ret);

/*
 * Whether req, from inside sb, asks for nothing the caller could not do in
 * sb's user namespace itself (see above). asked: its capability sets (NULL:
 * none asked); new_user: it makes a user namespace of its own. 0, or -EPERM
 * with field and reason set.
 */
int nested_caller_check(const Sandbox *sb, const Caller *caller, const NestedCallerHolds *holds,
                        const SpawnRequest *req, const CapabilityMasks *asked, char *field, size_t field_size,
                        char *reason, size_t reason_size);

/* Whether a user namespace of its own may allow setgroups: with CAP_SETGID in the sandbox's. */
bool nested_caller_may_setgroups(const NestedCallerHolds *holds);

/*
 * The capability sets a process made in sb's user namespace for this caller
 * runs with where it asked for none: base (the sets it would get; NULL: the
 * defaults, at most every capability) within what the caller holds. Returns
 * true with *ret filled where that is less than base, false where base
 * stands.
 */
bool nested_caller_clamp(const NestedCallerHolds *holds, const CapabilityMasks *base, CapabilityMasks *ret);
