/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the process that asks from inside a sandbox holds there, and the
 * request held to it (see sandbox-nested-caller.h). /proc is the host's,
 * read by the daemon; the caller's pid is checked against its pidfd after
 * reading, so what was read is the caller's.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "sandbox-nested.h"
#include "sandbox-nested-caller.h"
#include "sandbox.h"


static int same_user_namespace(pid_t a, pid_t b) {
        struct stat sa, sb;
        char path[64];

        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) a);
        if (stat(path, &sa) < 0)
                return -errno;
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) b);
        if (stat(path, &sb) < 0)
                return -errno;
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int status_mask(const char *status, const char *key, uint64_t *ret) {
        const char *line = strstr(status, key);
        unsigned long long v;
        char *end;

        if (!line)
                return -EIO;
        errno = 0;
        v = strtoull(line + strlen(key), &end, 16);
        if (errno != 0 || *end != '\n')
                return -EIO;
        *ret = (uint64_t) v;
        return 0;
}

int nested_caller_holds(const Sandbox *sb, const Caller *caller, NestedCallerHolds *ret) {
        _cleanup_close_ int fd = -EBADF;
        NestedCallerHolds h = {};
        char path[64], buf[4096];
        ssize_t n;
        int r;

        if (caller->pid <= 0)
                return -ESRCH;
        r = same_user_namespace(caller->pid, sb->pid);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        if (r > 0) {
                snprintf(path, sizeof path, "/proc/%d/status", (int) caller->pid);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
                n = read(fd, buf, sizeof buf - 1);
                if (n < 0)
                        return -errno;
                buf[n] = 0;
                r = status_mask(buf, "\nCapPrm:\t", &h.permitted);
                if (r >= 0)
                        r = status_mask(buf, "\nCapBnd:\t", &h.bounding);
                if (r < 0)
                        return r;
        }
        /* The pid may name another process by now: only a live pidfd says it does not (without one, the
         * kernel lacks SO_PEERPIDFD, and the pid is all there is, as for the caller's origin). */
        if (caller->pidfd >= 0 && syscall(SYS_pidfd_send_signal, caller->pidfd, 0, NULL, 0) < 0)
                return -errno;
        *ret = h;
        return 0;
}

static bool holds(const NestedCallerHolds *h, unsigned cap) {
        return h->permitted & CAPABILITY_BIT(cap);
}

/* The id host id `id` is in sb's user namespace (its top process's FILE, uid_map or gid_map), or -ENOENT. */
static int id_in_sandbox(const Sandbox *sb, const char *file, uint32_t id, uint32_t *ret) {
        uint32_t inside, outside, count;
        char path[64];
        int r = -ENOENT;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/%s", (int) sb->pid, file);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (r < 0 && fscanf(f, "%" SCNu32 " %" SCNu32 " %" SCNu32, &inside, &outside, &count) == 3)
                if (id >= outside && id - outside < count) {
                        *ret = inside + (id - outside);
                        r = 0;
                }
        fclose(f);
        return r;
}

/* Without the capability, only a map of one id, the caller's own in sb's user namespace, as the kernel lets a
 * process map itself. */
static int check_own_map(const Sandbox *sb, const NestedCallerHolds *h, unsigned cap, const char *file,
                         uint32_t caller_id, const IdMapping *maps, size_t n_maps, const char *list, char *field,
                         size_t field_size, char *reason, size_t reason_size) {
        const char *cap_name = cap == CAP_SETUID ? "CAP_SETUID" : "CAP_SETGID";
        char name[64];
        uint32_t own = 0;
        int r;

        if (holds(h, cap) || n_maps == 0)
                return 0;
        r = id_in_sandbox(sb, file, caller_id, &own);
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(name, sizeof name, n_maps > 1 ? "%s[1]" : "%s[0].hostID", list);
        if (n_maps > 1 || r < 0 || maps[0].size != 1 || maps[0].host_id != own)
                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                              "the calling process does not hold %s in the sandbox's user namespace, so a user "
                              "namespace of its own maps only its own id, once", cap_name);
        return 0;
}

int nested_caller_check(const Sandbox *sb, const Caller *caller, const NestedCallerHolds *h,
                        const SpawnRequest *req, const CapabilityMasks *asked, char *field, size_t field_size,
                        char *reason, size_t reason_size) {
        const SandboxExecBase *b = &sb->exec_base;
        int r;

        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_USER)) {
                /* A user's maps of host ids are the policy's to judge (its subordinate ranges, as newuidmap
                 * grants them); root's it does not judge, and maps of the sandbox's ids it cannot. */
                if (!caller->privileged && !b->user_namespace)
                        return 0;
                r = check_own_map(sb, h, CAP_SETUID, "uid_map", caller->uid, req->uid_mappings, req->n_uid_mappings,
                                  "uidMappings", field, field_size, reason, reason_size);
                if (r < 0)
                        return r;
                r = check_own_map(sb, h, CAP_SETGID, "gid_map", caller->gid, req->gid_mappings, req->n_gid_mappings,
                                  "gidMappings", field, field_size, reason, reason_size);
                if (r < 0)
                        return r;
                if (req->setgroups > 0 && !holds(h, CAP_SETGID))
                        return sandbox_nested_refuse(field, field_size, "setgroups", reason, reason_size,
                                      "the calling process does not hold CAP_SETGID in the sandbox's "
                                      "user namespace, so a user namespace of its own denies setgroups");
                return 0;
        }

        /* In the sandbox's user namespace: its capabilities there, and its ids. */
        for (CapabilitySet set = 0; asked && set < _CAPABILITY_SET_MAX; set++) {
                uint64_t within = set == CAPABILITY_SET_BOUNDING ? h->bounding : h->permitted;
                char name[64];

                if (!(asked->set[set] & ~within))
                        continue;
                snprintf(name, sizeof name, "capabilities.%s", capability_set_to_string(set));
                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                              "more than the calling process holds in the sandbox's user namespace (its %s set is "
                              "%#" PRIx64 ")", set == CAPABILITY_SET_BOUNDING ? "bounding" : "permitted", within);
        }
        if (req->has_user && req->uid != b->uid && !holds(h, CAP_SETUID))
                return sandbox_nested_refuse(field, field_size, "user.uid", reason, reason_size,
                              "the calling process does not hold CAP_SETUID in the sandbox's user "
                              "namespace, so only the sandbox's own user (uid %u there)", (unsigned) b->uid);
        if (req->has_user && !holds(h, CAP_SETGID)) {
                if (!sandbox_exec_base_has_group(b, req->gid))
                        return sandbox_nested_refuse(field, field_size, "user.gid", reason, reason_size,
                                      "the calling process does not hold CAP_SETGID in the sandbox's user "
                                      "namespace, so only the sandbox's own groups");
                for (size_t i = 0; i < req->n_additional_gids; i++) {
                        char name[64];

                        if (sandbox_exec_base_has_group(b, req->additional_gids[i]))
                                continue;
                        snprintf(name, sizeof name, "user.additionalGids[%zu]", i);
                        return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                      "the calling process does not hold CAP_SETGID in the sandbox's user namespace, "
                                      "so only the sandbox's own groups");
                }
        }
        return 0;
}

bool nested_caller_may_setgroups(const NestedCallerHolds *h) {
        return holds(h, CAP_SETGID);
}

bool nested_caller_clamp(const NestedCallerHolds *h, const CapabilityMasks *base, CapabilityMasks *ret) {
        CapabilityMasks m;
        bool less = false;

        if (base)
                m = *base;
        else {
                uint64_t all = capability_all();

                m = (CapabilityMasks) {};
                m.set[CAPABILITY_SET_BOUNDING] = m.set[CAPABILITY_SET_PERMITTED] = m.set[CAPABILITY_SET_EFFECTIVE] = all;
        }
        for (CapabilitySet set = 0; set < _CAPABILITY_SET_MAX; set++) {
                uint64_t within = set == CAPABILITY_SET_BOUNDING ? h->bounding : h->permitted;

                if (m.set[set] & ~within) {
                        m.set[set] &= within;
                        less = true;
                }
        }
        /* As the kernel takes them: inheritable within bounding, ambient within permitted and inheritable. */
        m.set[CAPABILITY_SET_INHERITABLE] &= m.set[CAPABILITY_SET_BOUNDING];
        m.set[CAPABILITY_SET_AMBIENT] &= m.set[CAPABILITY_SET_PERMITTED] & m.set[CAPABILITY_SET_INHERITABLE];
        if (less)
                *ret = m;
        return less;
}
