/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Seccomp profile files for `nsbox run --seccomp FILE`: the OCI LinuxSeccomp
 * object as it is, or the Docker/Podman profile format (the files people pass
 * to `podman --security-opt seccomp=`), turned into the OCI object the way
 * those engines do it for the machine they run on.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <json-c/json.h>
#include <sys/capability.h>

#include "cli-seccomp.h"
#include "macro.h"

/* The engines' architecture names (Go's GOARCH) and libseccomp's, for this machine. */
static const struct {
        const char *machine;
        const char *goarch;
        const char *scmp;
} arch_table[] = {
        { "x86_64", "amd64", "SCMP_ARCH_X86_64" },
        { "aarch64", "arm64", "SCMP_ARCH_AARCH64" },
        { "i686", "386", "SCMP_ARCH_X86" },
        { "i386", "386", "SCMP_ARCH_X86" },
        { "armv7l", "arm", "SCMP_ARCH_ARM" },
        { "ppc64le", "ppc64le", "SCMP_ARCH_PPC64LE" },
        { "s390x", "s390x", "SCMP_ARCH_S390X" },
        { "riscv64", "riscv64", "SCMP_ARCH_RISCV64" },
        { "mips64", "mips64", "SCMP_ARCH_MIPS64" },
        { "loongarch64", "loong64", "SCMP_ARCH_LOONGARCH64" },
};

typedef struct Host {
        const char *goarch;
        const char *scmp;
        unsigned kernel_major, kernel_minor;
        const uint64_t *caps; /* the sandbox's capabilities, if known */
} Host;

static void host_init(Host *h, const uint64_t *caps) {
        static struct utsname u;

        *h = (Host) { .caps = caps };
        if (uname(&u) < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(arch_table); i++)
                if (streq(u.machine, arch_table[i].machine)) {
                        h->goarch = arch_table[i].goarch;
                        h->scmp = arch_table[i].scmp;
                }
        (void) sscanf(u.release, "%u.%u", &h->kernel_major, &h->kernel_minor);
}

static bool list_has(struct json_object *a, const char *s) {
        for (size_t i = 0; s && i < json_object_array_length(a); i++)
                if (streq_ptr(json_object_get_string(json_object_array_get_idx(a, i)), s))
                        return true;
        return false;
}

/* Unknown capabilities count as absent: a rule that needs them is left out, the safer side. */
static bool has_cap(const Host *h, const char *name) {
        cap_value_t v;

        return h->caps && name && cap_from_name(name, &v) >= 0 && v >= 0 && v < 64 &&
               (*h->caps & (UINT64_C(1) << v));
}

/* Whether a Docker "includes"/"excludes" condition holds on this host. want: true for includes. */
static int condition_holds(struct json_object *cond, const Host *h, bool *ret) {
        struct json_object *arches = NULL, *caps = NULL, *min_kernel = NULL;

        if (!json_object_is_type(cond, json_type_object))
                return -EINVAL;
        json_object_object_foreach(cond, key, value) {
                if (streq(key, "arches"))
                        arches = value;
                else if (streq(key, "caps"))
                        caps = value;
                else if (streq(key, "minKernel"))
                        min_kernel = value;
                else
                        return -EINVAL;
        }

        /* includes: every given condition holds; the caller negates for excludes (any holds). */
        bool all = true, any = false;

        if (arches) {
                bool m;

                if (!json_object_is_type(arches, json_type_array))
                        return -EINVAL;
                m = list_has(arches, h->goarch);
                all = all && m;
                any = any || m;
        }
        if (caps) {
                bool m = true, some = false;

                if (!json_object_is_type(caps, json_type_array))
                        return -EINVAL;
                for (size_t i = 0; i < json_object_array_length(caps); i++) {
                        bool c = has_cap(h, json_object_get_string(json_object_array_get_idx(caps, i)));

                        m = m && c;
                        some = some || c;
                }
                all = all && m;
                any = any || some;
        }
        if (min_kernel) {
                unsigned major = 0, minor = 0;
                bool m;

                if (!json_object_is_type(min_kernel, json_type_string) ||
                    sscanf(json_object_get_string(min_kernel), "%u.%u", &major, &minor) < 1)
                        return -EINVAL;
                m = h->kernel_major > major || (h->kernel_major == major && h->kernel_minor >= minor);
                all = all && m;
                any = any || m;
        }
        ret[0] = all;
        ret[1] = any;
        return 0;
}

static void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}

/* One Docker syscalls[] entry to an OCI one, or NULL when its conditions leave it out on this host. */
static int convert_syscall(struct json_object *e, const Host *h, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *out = json_object_new_object();
        struct json_object *names = NULL;

        if (!out)
                return -ENOMEM;
        if (!json_object_is_type(e, json_type_object))
                return -EINVAL;

        json_object_object_foreach(e, key, value) {
                bool holds[2];
                int r;

                if (streq(key, "comment"))
                        continue;
                if (streq(key, "includes") || streq(key, "excludes")) {
                        r = condition_holds(value, h, holds);
                        if (r < 0)
                                return r;
                        if (streq(key, "includes") ? !holds[0] : holds[1]) {
                                *ret = NULL;
                                return 0;
                        }
                        continue;
                }
                /* Older profiles name one call per entry ("name"); both forms may appear. */
                if (streq(key, "name") || streq(key, "names")) {
                        if (!names) {
                                names = json_object_new_array();
                                if (!names || json_object_object_add(out, "names", names) < 0)
                                        return -ENOMEM;
                        }
                        if (streq(key, "name"))
                                json_object_array_add(names, json_object_get(value));
                        else if (json_object_is_type(value, json_type_array))
                                for (size_t i = 0; i < json_object_array_length(value); i++)
                                        json_object_array_add(names,
                                                              json_object_get(json_object_array_get_idx(value, i)));
                        else
                                return -EINVAL;
                        continue;
                }
                if (json_object_object_add(out, key, json_object_get(value)) < 0)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(out);
        return 0;
}

/* archMap: the entry for this machine gives the architectures, its own first. */
static int convert_arch_map(struct json_object *map, const Host *h, struct json_object *out) {
        struct json_object *architectures;

        if (!json_object_is_type(map, json_type_array))
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(map); i++) {
                struct json_object *e = json_object_array_get_idx(map, i), *arch = NULL, *subs = NULL;

                if (!json_object_object_get_ex(e, "architecture", &arch) ||
                    !streq_ptr(json_object_get_string(arch), h->scmp))
                        continue;
                architectures = json_object_new_array();
                if (!architectures || json_object_object_add(out, "architectures", architectures) < 0)
                        return -ENOMEM;
                json_object_array_add(architectures, json_object_get(arch));
                if (json_object_object_get_ex(e, "subArchitectures", &subs) &&
                    json_object_is_type(subs, json_type_array))
                        for (size_t k = 0; k < json_object_array_length(subs); k++)
                                json_object_array_add(architectures,
                                                      json_object_get(json_object_array_get_idx(subs, k)));
                return 0;
        }
        return 0;
}

int seccomp_profile_file_to_oci(const char *path, const uint64_t *caps, char **ret_json, char **ret_error) {
        _cleanup_(json_object_putp) struct json_object *in = NULL, *out = NULL;
        Host h;
        int r;

        host_init(&h, caps);

        /* json-c's own error text names its internals and ends in a newline: say what is wrong instead. */
        if (access(path, R_OK) < 0) {
                *ret_error = strdup(strerror(errno));
                return -EINVAL;
        }
        in = json_object_from_file(path);
        if (!in) {
                *ret_error = strdup("not valid JSON");
                return -EINVAL;
        }
        if (!json_object_is_type(in, json_type_object)) {
                *ret_error = strdup("not a JSON object");
                return -EINVAL;
        }
        out = json_object_new_object();
        if (!out)
                return -ENOMEM;

        json_object_object_foreach(in, key, value) {
                if (streq(key, "archMap")) {
                        r = convert_arch_map(value, &h, out);
                        if (r < 0) {
                                *ret_error = strdup("archMap: not a list of architectures");
                                return r;
                        }
                        continue;
                }
                if (streq(key, "syscalls") && json_object_is_type(value, json_type_array)) {
                        struct json_object *list = json_object_new_array();

                        if (!list || json_object_object_add(out, "syscalls", list) < 0)
                                return -ENOMEM;
                        for (size_t i = 0; i < json_object_array_length(value); i++) {
                                struct json_object *e = NULL;

                                r = convert_syscall(json_object_array_get_idx(value, i), &h, &e);
                                if (r < 0) {
                                        if (asprintf(ret_error, "syscalls[%zu]: malformed entry", i) < 0)
                                                *ret_error = NULL;
                                        return r;
                                }
                                if (e)
                                        json_object_array_add(list, e);
                        }
                        continue;
                }
                /* Everything else is the OCI object's own (defaultAction, architectures, flags, ...): the
                 * library checks it, and names unknown keys. */
                if (json_object_object_add(out, key, json_object_get(value)) < 0)
                        return -ENOMEM;
        }

        *ret_json = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
        return *ret_json ? 0 : -ENOMEM;
}
