/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A Spawn from inside a sandbox made a child of it (see sandbox-nested.h):
 * the shapes it may take, then the Exec plan into the sandbox it is built on.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sandbox-nested.h"
#include "sandbox.h"

_printf_(6, 7) static int refuse(char *field, size_t field_size, const char *name, char *reason, size_t reason_size,
                                 const char *format, ...) {
        va_list ap;

        snprintf(field, field_size, "%s", name);
        va_start(ap, format);
        (void) vsnprintf(reason, reason_size, format, ap);
        va_end(ap);
        return -EPERM;
}

static bool resources_asked(const SandboxResources *r) {
        static const SandboxResources none = {};

        return memcmp(r, &none, sizeof none) != 0;
}

/* What the request may be, given what sb has; -EPERM with field and reason otherwise. */
static int check_shape(const Sandbox *sb, const SpawnRequest *req, const CapabilityMasks *capabilities, char *field,
                       size_t field_size, char *reason, size_t reason_size) {
        unsigned has = sb->namespaces | sb->exec_base.joined_namespaces;
        bool has_user = sb->exec_base.user_namespace;
        bool new_user = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);

        if (req->n_join_namespaces > 0)
                return refuse(field, field_size, "joinNamespaces", reason, reason_size,
                              "a nested sandbox joins its sandbox's namespaces, and no others");
        if (new_user && has_user)
                return refuse(field, field_size, "namespaces", reason, reason_size,
                              "a user namespace inside the sandbox's own cannot be made yet");
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT)) {
                /* A copy of its mount namespace made without a new user namespace would not lock its
                 * mounts: the nested child, with every capability in the sandbox's user namespace, could
                 * make its read-only binds writable. */
                if (has_user)
                        return refuse(field, field_size, "namespaces", reason, reason_size,
                                      "a mount namespace inside the sandbox's would need a user namespace inside "
                                      "its own to keep its mounts locked, which cannot be made yet");
                if ((has & NAMESPACE_BIT(NAMESPACE_MOUNT)) && !new_user)
                        return refuse(field, field_size, "namespaces", reason, reason_size,
                                      "a mount namespace inside the sandbox's needs a user namespace of its own, "
                                      "so the sandbox's mounts stay locked");
        }
        if ((req->namespaces & NAMESPACE_BIT(NAMESPACE_PID)) && (has & NAMESPACE_BIT(NAMESPACE_PID)))
                return refuse(field, field_size, "namespaces", reason, reason_size,
                              "a pid namespace inside the sandbox's cannot be made yet");
        if (req->seccomp)
                return refuse(field, field_size, "seccomp", reason, reason_size,
                              "a nested sandbox keeps its sandbox's seccomp filter; programs of its own go in "
                              "seccompFileDescriptors, on top of it");
        if (req->seccomp_profile == SECCOMP_PROFILE_UNCONFINED)
                return refuse(field, field_size, "seccompProfile", reason, reason_size,
                              "a nested sandbox keeps its sandbox's seccomp filter");
        if (resources_asked(&req->resources))
                return refuse(field, field_size, "resources", reason, reason_size,
                              "a nested sandbox runs in its sandbox's cgroup, under its limits; limits of its own "
                              "are not supported yet");
        if (req->runtime_max_usec > 0)
                return refuse(field, field_size, "runtimeMaxUSec", reason, reason_size,
                              "a nested sandbox runs in its sandbox's cgroup, under its limits; limits of its own "
                              "are not supported yet");
        if (req->n_rlimits > 0)
                return refuse(field, field_size, "rlimits", reason, reason_size,
                              "a nested sandbox runs with its sandbox's resource limits");
        if (capabilities && sb->exec_base.has_capabilities)
                for (CapabilitySet set = 0; set < _CAPABILITY_SET_MAX; set++)
                        if (capabilities->set[set] & ~sb->exec_base.capabilities.set[set]) {
                                char name[64];

                                snprintf(name, sizeof name, "capabilities.%s", capability_set_to_string(set));
                                return refuse(field, field_size, name, reason, reason_size,
                                              "more than the sandbox's %s set", capability_set_to_string(set));
                        }
        return 0;
}

int sandbox_nested_prepare(const Sandbox *sb, SpawnRequest *req, const int *message_fds, size_t n_message_fds,
                           const CapabilityMasks *capabilities, SandboxExecPlan *ret,
                           const CapabilityMasks **ret_capabilities, char *field, size_t field_size, char *reason,
                           size_t reason_size) {
        bool new_user = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);
        bool had_user = req->has_user;
        int init = req->init, r;

        r = check_shape(sb, req, capabilities, field, field_size, reason, reason_size);
        if (r < 0)
                return r;
        /* Inside its user namespace, only ids it maps; a user namespace of its own maps its own. */
        if (!new_user) {
                r = sandbox_exec_check_user(sb, req, field, field_size);
                if (r < 0)
                        return r;
        }

        r = sandbox_exec_prepare(sb, req, message_fds, n_message_fds, ret);
        if (r < 0)
                return r;

        /* In a user namespace of its own, the engine's default user (root there), not the sandbox's. */
        if (new_user && !had_user) {
                free(req->additional_gids);
                req->additional_gids = NULL;
                req->n_additional_gids = 0;
                req->has_user = false;
        }
        /* Its own pid namespace (where the sandbox has none) has an init as any Spawn's. */
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_PID))
                req->init = init;

        *ret_capabilities = capabilities ?: (sb->exec_base.has_capabilities ? &sb->exec_base.capabilities : NULL);
        return 0;
}
