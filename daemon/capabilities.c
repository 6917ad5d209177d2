/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capability sets of sandboxes (see capabilities.h). Names and the kernel's
 * count come from libcap; the child applies plain masks with capset(2) and
 * prctl(2), because libcap's setters are not async-signal-safe.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capabilities.h"
#include "fd-util.h"
#include "json-codec.h"
#include "log.h"

/* Held by nsboxd for its own work, never given to a sandbox outside a user namespace. */
#define CAPABILITIES_DAEMON_ONLY CAPABILITY_BIT(CAP_SYS_TIME)

uint64_t capability_all(void) {
        unsigned n = (unsigned) cap_max_bits();

        if (n == 0 || n > 64)
                n = CAP_LAST_CAP + 1;
        return n >= 64 ? UINT64_MAX : CAPABILITY_BIT(n) - 1;
}

static unsigned last_cap(void) {
        uint64_t all = capability_all();
        unsigned n = 0;

        while (n < 63 && (all & CAPABILITY_BIT(n + 1)))
                n++;
        return n;
}

int capability_from_name(const char *name, unsigned *ret) {
        cap_value_t v;
        char *canonical;
        bool ok;

        if (!name || strncmp(name, "CAP_", 4) != 0)
                return -EINVAL;
        if (cap_from_name(name, &v) < 0 || v < 0 || v > 63 || !(capability_all() & CAPABILITY_BIT(v)))
                return -EINVAL;

        /* libcap also takes "cap_chown", "CAP_Chown" and numbers: only the spelling capabilities(7) uses. */
        canonical = cap_to_name(v);
        if (!canonical)
                return -ENOMEM;
        ok = strcasecmp(canonical, name) == 0;
        for (const char *s = name; ok && *s; s++)
                if (*s >= 'a' && *s <= 'z')
                        ok = false;
        cap_free(canonical);
        if (!ok)
                return -EINVAL;

        *ret = (unsigned) v;
        return 0;
}

/* The first name of set s whose capability is outside allowed, or -1. */
static ssize_t first_outside(const CapabilitiesSpec *spec, CapabilitySet s, uint64_t allowed) {
        for (size_t i = 0; i < spec->n_names[s]; i++) {
                unsigned c;

                if (capability_from_name(spec->names[s][i], &c) >= 0 && !(allowed & CAPABILITY_BIT(c)))
                        return (ssize_t) i;
        }
        return -1;
}

int capability_masks_from_spec(const CapabilitiesSpec *spec, const char *prefix, CapabilityMasks *ret,
                               char **ret_invalid_parameter) {
        CapabilityMasks m = {};
        uint64_t *set = m.set;
        ssize_t i;
        int r;

        if (!spec || !prefix || !ret)
                return -EINVAL;

        for (CapabilitySet s = 0; s < _CAPABILITY_SET_MAX; s++)
                for (size_t k = 0; k < spec->n_names[s]; k++) {
                        unsigned c;

                        r = capability_from_name(spec->names[s][k], &c);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return json_invalid_parameter(ret_invalid_parameter, "%s.%s[%zu]", prefix,
                                               capability_set_to_string(s), k);
                        set[s] |= CAPABILITY_BIT(c);
                }

        /* What capset(2) and PR_CAP_AMBIENT_RAISE would refuse in the child. */
        i = first_outside(spec, CAPABILITY_SET_EFFECTIVE, set[CAPABILITY_SET_PERMITTED]);
        if (i >= 0)
                return json_invalid_parameter(ret_invalid_parameter, "%s.effective[%zd]", prefix, i);
        i = first_outside(spec, CAPABILITY_SET_INHERITABLE, set[CAPABILITY_SET_BOUNDING]);
        if (i >= 0)
                return json_invalid_parameter(ret_invalid_parameter, "%s.inheritable[%zd]", prefix, i);
        i = first_outside(spec, CAPABILITY_SET_AMBIENT,
                          set[CAPABILITY_SET_PERMITTED] & set[CAPABILITY_SET_INHERITABLE]);
        if (i >= 0)
                return json_invalid_parameter(ret_invalid_parameter, "%s.ambient[%zd]", prefix, i);

        *ret = m;
        return 0;
}

/* ---- what nsboxd holds ---- */

static bool daemon_mask_overridden;
static uint64_t daemon_mask_override;

void capability_set_daemon_mask_for_test(const uint64_t *mask) {
        daemon_mask_overridden = mask;
        daemon_mask_override = mask ? *mask : 0;
}

/*
 * Permitted and in the bounding set: what a child outside a user namespace can keep after execve. Read
 * once: the daemon never changes its own sets after it started serving, and reading the bounding set
 * takes one prctl() per capability (41 system calls on the loop for every root caller's spawn). Sets
 * only ever shrink, so a stale value could at worst ask the child for a capability capset() then refuses.
 */
static uint64_t daemon_mask(void) {
        static uint64_t cached;
        static bool known;
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        uint64_t permitted, mask = 0, all = capability_all();

        if (daemon_mask_overridden)
                return daemon_mask_override & all;
        if (known)
                return cached;

        if (syscall(SYS_capget, &header, data) < 0)
                return 0;
        permitted = (uint64_t) data[0].permitted | ((uint64_t) data[1].permitted << 32);
        for (unsigned c = 0; c < 64; c++)
                if ((all & CAPABILITY_BIT(c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0)
                        mask |= CAPABILITY_BIT(c);
        cached = mask & permitted;
        known = true;
        return cached;
}

static void log_left_out(const char *set, uint64_t left_out) {
        for (unsigned c = 0; c < 64; c++)
                if (left_out & CAPABILITY_BIT(c)) {
                        char *name = cap_to_name((cap_value_t) c);

                        /* libcap writes "cap_sys_time"; capabilities(7) and the protocol "CAP_SYS_TIME". */
                        for (char *p = name; p && *p; p++)
                                *p = (char) toupper((unsigned char) *p);
                        log_info("capabilities.%s: %s left out: nsboxd does not hold it for sandboxes.", set,
                                 name ?: "?");
                        cap_free(name);
                }
}

int capability_plan_new(const CapabilityMasks *requested, const CapabilityContext *ctx, CapabilityPlan *ret) {
        uint64_t all = capability_all(), ceiling;
        CapabilityPlan p = { .last_cap = last_cap() };

        if (!ctx || !ret)
                return -EINVAL;

        /*
         * CAP_SYS_TIME goes to a root caller's sandbox outside a user namespace only when the caller could
         * use it itself (bubblewrap keeps what its caller has), never from the daemon's own set to a caller
         * that lacks it (a root service with ProtectClock=). It does not weaken the time namespaces: their
         * offsets are frozen once a process entered them, so a sandbox can change only those of namespaces
         * nobody entered yet; a pending spawn's, reached through the host's /proc, is no more than the
         * host's clock that CAP_SYS_TIME sets anyway.
         */
        if (ctx->user_namespace)
                ceiling = all;
        else if (ctx->privileged)
                ceiling = daemon_mask() & ~(ctx->caller_holds_sys_time ? 0 : CAPABILITIES_DAEMON_ONLY);
        else
                ceiling = 0;
        if (ctx->disable_user_namespaces)
                ceiling &= ~CAPABILITY_BIT(CAP_SYS_RESOURCE);

        if (!requested) {
                p.bounding = p.permitted = p.effective = ceiling;
        } else {
                const uint64_t *s = requested->set;

                if (!ctx->user_namespace && !ctx->privileged &&
                    (s[CAPABILITY_SET_EFFECTIVE] | s[CAPABILITY_SET_PERMITTED] | s[CAPABILITY_SET_INHERITABLE] |
                     s[CAPABILITY_SET_AMBIENT]))
                        return -EPERM;

                p.bounding = s[CAPABILITY_SET_BOUNDING] & ceiling;
                p.effective = s[CAPABILITY_SET_EFFECTIVE] & ceiling;
                p.permitted = s[CAPABILITY_SET_PERMITTED] & ceiling;
                p.inheritable = s[CAPABILITY_SET_INHERITABLE] & ceiling;
                p.ambient = s[CAPABILITY_SET_AMBIENT] & ceiling;

                if (ctx->privileged && !ctx->user_namespace)
                        for (CapabilitySet k = 0; k < _CAPABILITY_SET_MAX; k++)
                                log_left_out(capability_set_to_string(k), s[k] & ~ceiling);
        }
        p.init_permitted = p.permitted & CAPABILITY_BIT(CAP_KILL);

        *ret = p;
        return 0;
}

int capability_read_permitted(pid_t pid, int pidfd, uint64_t *ret) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = pid };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (pid <= 0 || pidfd < 0)
                return -ESRCH;
        /* capget() of another process: the sets its /proc/PID/status shows, without formatting the rest of that
         * file (a few microseconds against tens, on every root Spawn). */
        if (syscall(SYS_capget, &header, data) < 0)
                return -errno;
        /* The pid may have named another process by the time it was read: only a live pidfd says it did not. */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return -errno;
        *ret = (uint64_t) data[0].permitted | (uint64_t) data[1].permitted << 32;
        return 0;
}

/* ---- child side ---- */

static int capset_masks(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
                { (uint32_t) effective, (uint32_t) permitted, (uint32_t) inheritable },
                { (uint32_t) (effective >> 32), (uint32_t) (permitted >> 32), (uint32_t) (inheritable >> 32) },
        };

        if (syscall(SYS_capset, &header, data) < 0)
                return -errno;
        return 0;
}

static int check_masks(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return -errno;
        if (((uint64_t) data[0].effective | ((uint64_t) data[1].effective << 32)) != effective ||
            ((uint64_t) data[0].permitted | ((uint64_t) data[1].permitted << 32)) != permitted ||
            ((uint64_t) data[0].inheritable | ((uint64_t) data[1].inheritable << 32)) != inheritable)
                return -EPERM;
        return 0;
}

int capability_plan_apply_before_setuid(const CapabilityPlan *p) {
        for (unsigned c = 0; c <= p->last_cap; c++)
                if (!(p->bounding & CAPABILITY_BIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                        return -errno;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

int capability_plan_apply_after_setuid(const CapabilityPlan *p) {
        int r;

        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return -errno;
        r = capset_masks(p->effective, p->permitted, p->inheritable);
        if (r < 0)
                return r;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return -errno;
        for (unsigned c = 0; c <= p->last_cap; c++)
                if ((p->ambient & CAPABILITY_BIT(c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                        return -errno;
        return check_masks(p->effective, p->permitted, p->inheritable);
}

int capability_plan_apply_init(const CapabilityPlan *p) {
        int r;

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return -errno;
        r = capset_masks(p->init_permitted, p->init_permitted, 0);
        if (r < 0)
                return r;
        return check_masks(p->init_permitted, p->init_permitted, 0);
}
