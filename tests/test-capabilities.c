/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capability names, masks, default sets and ceilings, and the child's steps (daemon/capabilities.c). */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capabilities.h"

#define BIT(c) CAPABILITY_BIT(c)

static CapabilitiesSpec *spec(const char *json) {
        struct json_object *o = json_tokener_parse(json);
        _cleanup_free_ char *field = NULL;
        CapabilitiesSpec *c = NULL;

        cr_assert_not_null(o);
        cr_assert_eq(capabilities_spec_decode(o, "capabilities", &c, &field), 0, "%s", field);
        json_object_put(o);
        return c;
}

Test(capabilities, names_as_capabilities7_spells_them) {
        unsigned c;

        cr_assert_eq(capability_from_name("CAP_CHOWN", &c), 0);
        cr_assert_eq(c, CAP_CHOWN);
        cr_assert_eq(capability_from_name("CAP_NET_ADMIN", &c), 0);
        cr_assert_eq(c, CAP_NET_ADMIN);
        cr_assert_eq(capability_from_name("cap_chown", &c), -EINVAL);
        cr_assert_eq(capability_from_name("CAP_Chown", &c), -EINVAL);
        cr_assert_eq(capability_from_name("CAP_NOPE", &c), -EINVAL);
        cr_assert_eq(capability_from_name("CHOWN", &c), -EINVAL);
        cr_assert_eq(capability_from_name("0", &c), -EINVAL);
}

Test(capabilities, masks_and_what_the_kernel_would_refuse) {
        static const struct {
                const char *json, *field;
        } bad[] = {
                { "{\"bounding\":[\"CAP_NOPE\"]}", "capabilities.bounding[0]" },
                { "{\"permitted\":[\"CAP_CHOWN\"],\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\"]}",
                  "capabilities.effective[1]" },
                { "{\"bounding\":[\"CAP_CHOWN\"],\"inheritable\":[\"CAP_KILL\"]}", "capabilities.inheritable[0]" },
                { "{\"bounding\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}",
                  "capabilities.ambient[0]" },
        };
        _cleanup_(capabilities_spec_freep) CapabilitiesSpec *c =
                spec("{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"],"
                     "\"effective\":[\"CAP_KILL\"],\"inheritable\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}");
        CapabilityMasks m;
        _cleanup_free_ char *field = NULL;

        cr_assert_eq(capability_masks_from_spec(c, "capabilities", &m, &field), 0);
        cr_assert_eq(m.set[CAPABILITY_SET_BOUNDING], BIT(CAP_CHOWN) | BIT(CAP_KILL));
        cr_assert_eq(m.set[CAPABILITY_SET_AMBIENT], BIT(CAP_KILL));

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(capabilities_spec_freep) CapabilitiesSpec *b = spec(bad[i].json);
                _cleanup_free_ char *f = NULL;

                cr_assert_eq(capability_masks_from_spec(b, "capabilities", &m, &f), -EINVAL, "%s", bad[i].json);
                cr_assert_str_eq(f, bad[i].field);
        }
}

Test(capabilities, defaults_and_ceilings) {
        uint64_t all = capability_all(), held = all & ~BIT(CAP_SYS_MODULE);
        CapabilityMasks m = {};
        CapabilityPlan p;

        capability_set_daemon_mask_for_test(&held);

        /* in a user namespace: everything there */
        cr_assert_eq(capability_plan_new(NULL, &(CapabilityContext) { .user_namespace = true }, &p), 0);
        cr_assert_eq(p.bounding, all);
        cr_assert_eq(p.effective, all);
        cr_assert_eq(p.ambient, 0);
        cr_assert_eq(p.init_permitted, BIT(CAP_KILL));

        /* root outside one: what the daemon holds, never CAP_SYS_TIME */
        cr_assert_eq(capability_plan_new(NULL, &(CapabilityContext) { .privileged = true }, &p), 0);
        cr_assert_eq(p.bounding, held & ~BIT(CAP_SYS_TIME));
        cr_assert_eq(p.permitted, held & ~BIT(CAP_SYS_TIME));

        /* a root caller that holds CAP_SYS_TIME itself keeps it, as under bubblewrap */
        cr_assert_eq(capability_plan_new(NULL, &(CapabilityContext) { .privileged = true, .caller_holds_sys_time = true },
                                         &p),
                     0);
        cr_assert_eq(p.bounding, held);
        cr_assert_eq(p.permitted, held);

        /* and asked for explicitly: left out all the same */
        m.set[CAPABILITY_SET_BOUNDING] = m.set[CAPABILITY_SET_PERMITTED] = BIT(CAP_SYS_TIME) | BIT(CAP_SYS_MODULE) |
                                                                            BIT(CAP_CHOWN);
        cr_assert_eq(capability_plan_new(&m, &(CapabilityContext) { .privileged = true }, &p), 0);
        cr_assert_eq(p.bounding, BIT(CAP_CHOWN));
        cr_assert_eq(p.permitted, BIT(CAP_CHOWN));
        cr_assert_eq(p.init_permitted, 0);

        /* in a user namespace CAP_SYS_TIME counts only there */
        cr_assert_eq(capability_plan_new(&m, &(CapabilityContext) { .user_namespace = true }, &p), 0);
        cr_assert_eq(p.bounding, BIT(CAP_SYS_TIME) | BIT(CAP_SYS_MODULE) | BIT(CAP_CHOWN));

        /* non-root outside a user namespace: nothing; a bounding set is all it may give */
        cr_assert_eq(capability_plan_new(NULL, &(CapabilityContext) {}, &p), 0);
        cr_assert_eq(p.bounding | p.permitted | p.effective | p.inheritable | p.ambient, 0);
        cr_assert_eq(capability_plan_new(&m, &(CapabilityContext) {}, &p), -EPERM);
        m = (CapabilityMasks) { .set[CAPABILITY_SET_BOUNDING] = BIT(CAP_CHOWN) };
        cr_assert_eq(capability_plan_new(&m, &(CapabilityContext) {}, &p), 0);
        cr_assert_eq(p.bounding, 0);

        /* disableUserNamespaces: CAP_SYS_RESOURCE would undo it */
        cr_assert_eq(capability_plan_new(NULL,
                                         &(CapabilityContext) { .user_namespace = true, .disable_user_namespaces = true },
                                         &p),
                     0);
        cr_assert_eq(p.bounding, all & ~BIT(CAP_SYS_RESOURCE));
        cr_assert_eq(p.permitted, all & ~BIT(CAP_SYS_RESOURCE));

        capability_set_daemon_mask_for_test(NULL);
}

static uint64_t status_hex(const char *status, const char *name) {
        const char *s = strstr(status, name);

        cr_assert_not_null(s, "%s", name);
        return strtoull(s + strlen(name) + 1, NULL, 16);
}

Test(capabilities, child_applies_the_plan_around_setuid) {
        CapabilityPlan p = {
                .bounding = BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE),
                .permitted = BIT(CAP_CHOWN) | BIT(CAP_KILL),
                .effective = BIT(CAP_KILL),
                .inheritable = BIT(CAP_KILL),
                .ambient = BIT(CAP_KILL),
        };
        char status[4096];
        int fds[2], st;
        ssize_t n;
        pid_t pid;

        p.init_permitted = BIT(CAP_KILL);
        for (uint64_t all = capability_all(); all & BIT(p.last_cap + 1); p.last_cap++)
                ;
        cr_assert_eq(pipe(fds), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int fd;

                if (capability_plan_apply_before_setuid(&p) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0 || capability_plan_apply_after_setuid(&p) < 0)
                        _exit(1);
                fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
                n = read(fd, status, sizeof status - 1);
                (void) !write(fds[1], status, n > 0 ? (size_t) n : 0);
                _exit(0);
        }
        close(fds[1]);
        n = read(fds[0], status, sizeof status - 1);
        close(fds[0]);
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        cr_assert_gt(n, 0);
        status[n] = 0;
        cr_assert_eq(status_hex(status, "CapBnd:"), p.bounding);
        cr_assert_eq(status_hex(status, "CapPrm:"), p.permitted, "the permitted set survives the change of uid");
        cr_assert_eq(status_hex(status, "CapEff:"), p.effective);
        cr_assert_eq(status_hex(status, "CapInh:"), p.inheritable);
        cr_assert_eq(status_hex(status, "CapAmb:"), p.ambient);
}
