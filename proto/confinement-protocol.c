/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decode and encode of the OCI LinuxSeccomp and LinuxCapabilities objects
 * (see confinement-protocol.h). Kept apart from the rest of the Spawn codec:
 * these objects come whole from OCI tooling and have their own bounds.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "confinement-protocol.h"
#include "json-codec.h"

static const char *const seccomp_action_names[_SECCOMP_ACTION_MAX] = {
        [SECCOMP_ACTION_KILL] = "SCMP_ACT_KILL",
        [SECCOMP_ACTION_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
        [SECCOMP_ACTION_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
        [SECCOMP_ACTION_TRAP] = "SCMP_ACT_TRAP",
        [SECCOMP_ACTION_ERRNO] = "SCMP_ACT_ERRNO",
        [SECCOMP_ACTION_TRACE] = "SCMP_ACT_TRACE",
        [SECCOMP_ACTION_ALLOW] = "SCMP_ACT_ALLOW",
        [SECCOMP_ACTION_LOG] = "SCMP_ACT_LOG",
        [SECCOMP_ACTION_NOTIFY] = "SCMP_ACT_NOTIFY",
};

static const char *const seccomp_operator_names[_SECCOMP_OP_MAX] = {
        [SECCOMP_OP_NE] = "SCMP_CMP_NE",
        [SECCOMP_OP_LT] = "SCMP_CMP_LT",
        [SECCOMP_OP_LE] = "SCMP_CMP_LE",
        [SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
        [SECCOMP_OP_GE] = "SCMP_CMP_GE",
        [SECCOMP_OP_GT] = "SCMP_CMP_GT",
        [SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static const struct {
        const char *name;
        SeccompFlag flag;
} seccomp_flag_names[] = {
        { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FLAG_TSYNC },
        { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FLAG_LOG },
        { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FLAG_SPEC_ALLOW },
        { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FLAG_WAIT_KILLABLE_RECV },
};

static const char *const capability_set_names[_CAPABILITY_SET_MAX] = {
        [CAPABILITY_SET_BOUNDING] = "bounding",
        [CAPABILITY_SET_EFFECTIVE] = "effective",
        [CAPABILITY_SET_INHERITABLE] = "inheritable",
        [CAPABILITY_SET_PERMITTED] = "permitted",
        [CAPABILITY_SET_AMBIENT] = "ambient",
};

static const char *const seccomp_profile_kind_names[_SECCOMP_PROFILE_KIND_MAX] = {
        [SECCOMP_PROFILE_DEFAULT] = "default",
        [SECCOMP_PROFILE_UNCONFINED] = "unconfined",
};

static int lookup(const char *const *table, size_t n, const char *s) {
        if (s)
                for (size_t i = 0; i < n; i++)
                        if (table[i] && streq(table[i], s))
                                return (int) i;
        return -EINVAL;
}

const char *seccomp_action_to_string(SeccompAction a) {
        return a >= 0 && a < _SECCOMP_ACTION_MAX ? seccomp_action_names[a] : NULL;
}

SeccompAction seccomp_action_from_string(const char *s) {
        return lookup(seccomp_action_names, _SECCOMP_ACTION_MAX, s);
}

const char *seccomp_operator_to_string(SeccompOperator o) {
        return o >= 0 && o < _SECCOMP_OP_MAX ? seccomp_operator_names[o] : NULL;
}

SeccompOperator seccomp_operator_from_string(const char *s) {
        return lookup(seccomp_operator_names, _SECCOMP_OP_MAX, s);
}

const char *seccomp_profile_kind_to_string(SeccompProfileKind k) {
        return k >= 0 && k < _SECCOMP_PROFILE_KIND_MAX ? seccomp_profile_kind_names[k] : NULL;
}

SeccompProfileKind seccomp_profile_kind_from_string(const char *s) {
        return lookup(seccomp_profile_kind_names, _SECCOMP_PROFILE_KIND_MAX, s);
}

const char *capability_set_to_string(CapabilitySet s) {
        return s >= 0 && s < _CAPABILITY_SET_MAX ? capability_set_names[s] : NULL;
}

/* ---- decoding helpers ---- */

/* A field path; truncation only shortens an error message. */
#define PATH_BUF_MAX 160
_printf_(2, 3) static void pathf(char *buf, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, PATH_BUF_MAX, format, ap);
        va_end(ap);
}

static bool is_absent(struct json_object *v) {
        return !v || json_object_get_type(v) == json_type_null;
}

/* Only the listed members; a key json-c saw twice was already refused by the wire layer. */
static int check_members(struct json_object *o, const char *prefix, const char *const *allowed, char **ret_invalid) {
        json_object_object_foreach(o, key, value) {
                bool known = false;

                (void) value;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key))
                                known = true;
                if (!known)
                        return json_invalid_parameter(ret_invalid, "%s.%s", prefix, key);
        }
        return 0;
}

static struct json_object *member(struct json_object *o, const char *key) {
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || is_absent(v))
                return NULL;
        return v;
}

static bool get_uint64(struct json_object *v, uint64_t *ret) {
        if (!v || json_object_get_type(v) != json_type_int)
                return false;
        /* json-c keeps values above INT64_MAX as unsigned; negative ones read back negative as int64. */
        if (json_object_get_int64(v) < 0)
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

/* A non-empty string of at most max bytes without NUL and with only [A-Za-z0-9_] (names of syscalls,
 * capabilities, architectures, flags, actions all are). Borrowed. */
static const char *get_name(struct json_object *v, size_t max) {
        const char *s;
        size_t n;

        if (!v || json_object_get_type(v) != json_type_string)
                return NULL;
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        if (n == 0 || n > max || strlen(s) != n)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return NULL;
        return s;
}

/* A list of distinct names; *budget counts down names over several lists. */
static int decode_names(struct json_object *v, const char *path, size_t max_entries, size_t name_max,
                        size_t *budget, char ***ret, size_t *ret_n, char **ret_invalid) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n;

        if (json_object_get_type(v) != json_type_array)
                return json_invalid_parameter(ret_invalid, "%s", path);
        n = json_object_array_length(v);
        if (n > max_entries || (budget && n > *budget))
                return json_invalid_parameter(ret_invalid, "%s", path);

        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *s = get_name(json_object_array_get_idx(v, i), name_max);

                if (!s)
                        return json_invalid_parameter(ret_invalid, "%s[%zu]", path, i);
                for (size_t j = 0; j < i; j++)
                        if (streq(l[j], s))
                                return json_invalid_parameter(ret_invalid, "%s[%zu]", path, i);
                l[i] = strdup(s);
                if (!l[i])
                        return -ENOMEM;
        }

        if (budget)
                *budget -= n;
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* ---- LinuxSeccomp ---- */

static void seccomp_syscall_done(SeccompSyscall *s) {
        strv_free(s->names);
        free(s->args);
}

SeccompSpec *seccomp_spec_free(SeccompSpec *s) {
        if (!s)
                return NULL;
        strv_free(s->architectures);
        free(s->listener_path);
        free(s->listener_metadata);
        for (size_t i = 0; i < s->n_syscalls; i++)
                seccomp_syscall_done(s->syscalls + i);
        free(s->syscalls);
        free(s);
        return NULL;
}

static int decode_errno(struct json_object *v, const char *path, int64_t *ret, char **ret_invalid) {
        uint64_t u;

        if (!get_uint64(v, &u) || u > SECCOMP_ERRNO_MAX)
                return json_invalid_parameter(ret_invalid, "%s", path);
        *ret = (int64_t) u;
        return 0;
}

static bool action_takes_errno(SeccompAction a) {
        return a == SECCOMP_ACTION_ERRNO || a == SECCOMP_ACTION_TRACE;
}

static int decode_action(struct json_object *v, const char *path, SeccompAction *ret, char **ret_invalid) {
        SeccompAction a = seccomp_action_from_string(get_name(v, 64));

        if (a < 0)
                return json_invalid_parameter(ret_invalid, "%s", path);
        *ret = a;
        return 0;
}

static int decode_arg(struct json_object *v, const char *path, SeccompArg *ret, char **ret_invalid) {
        static const char *const allowed[] = { "index", "value", "valueTwo", "op", NULL };
        struct json_object *m;
        uint64_t u;
        int r;

        if (json_object_get_type(v) != json_type_object)
                return json_invalid_parameter(ret_invalid, "%s", path);
        r = check_members(v, path, allowed, ret_invalid);
        if (r < 0)
                return r;

        if (!get_uint64(member(v, "index"), &u) || u >= SECCOMP_ARGS_MAX)
                return json_invalid_parameter(ret_invalid, "%s.index", path);
        ret->index = (uint32_t) u;
        if (!get_uint64(member(v, "value"), &ret->value))
                return json_invalid_parameter(ret_invalid, "%s.value", path);
        m = member(v, "valueTwo");
        ret->value_two = 0;
        if (m && !get_uint64(m, &ret->value_two))
                return json_invalid_parameter(ret_invalid, "%s.valueTwo", path);
        ret->op = seccomp_operator_from_string(get_name(member(v, "op"), 64));
        if (ret->op < 0)
                return json_invalid_parameter(ret_invalid, "%s.op", path);
        return 0;
}

static int decode_syscall(struct json_object *v, const char *path, size_t *names_budget, SeccompSyscall *ret,
                          char **ret_invalid) {
        static const char *const allowed[] = { "names", "action", "errnoRet", "args", NULL };
        char buf[PATH_BUF_MAX];
        struct json_object *m;
        size_t n;
        int r;

        if (json_object_get_type(v) != json_type_object)
                return json_invalid_parameter(ret_invalid, "%s", path);
        r = check_members(v, path, allowed, ret_invalid);
        if (r < 0)
                return r;

        m = member(v, "names");
        pathf(buf, "%s.names", path);
        if (!m)
                return json_invalid_parameter(ret_invalid, "%s", buf);
        r = decode_names(m, buf, SECCOMP_NAMES_MAX, SECCOMP_NAME_MAX, names_budget, &ret->names, &ret->n_names,
                         ret_invalid);
        if (r < 0)
                return r;
        if (ret->n_names == 0)
                return json_invalid_parameter(ret_invalid, "%s", buf);

        pathf(buf, "%s.action", path);
        r = decode_action(member(v, "action"), buf, &ret->action, ret_invalid);
        if (r < 0)
                return r;

        ret->errno_ret = -1;
        m = member(v, "errnoRet");
        if (m) {
                pathf(buf, "%s.errnoRet", path);
                if (!action_takes_errno(ret->action))
                        return json_invalid_parameter(ret_invalid, "%s", buf);
                r = decode_errno(m, buf, &ret->errno_ret, ret_invalid);
                if (r < 0)
                        return r;
        }

        m = member(v, "args");
        if (m) {
                if (json_object_get_type(m) != json_type_array || json_object_array_length(m) > SECCOMP_ARGS_MAX)
                        return json_invalid_parameter(ret_invalid, "%s.args", path);
                n = json_object_array_length(m);
                ret->args = calloc(MAX(n, 1U), sizeof(SeccompArg));
                if (!ret->args)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        pathf(buf, "%s.args[%zu]", path, i);
                        r = decode_arg(json_object_array_get_idx(m, i), buf, ret->args + i, ret_invalid);
                        if (r < 0)
                                return r;
                        ret->n_args++;
                }
        }
        return 0;
}

static int decode_flags(struct json_object *v, const char *path, unsigned *ret, char **ret_invalid) {
        unsigned flags = 0;

        if (json_object_get_type(v) != json_type_array || json_object_array_length(v) > ELEMENTSOF(seccomp_flag_names))
                return json_invalid_parameter(ret_invalid, "%s", path);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                const char *s = get_name(json_object_array_get_idx(v, i), 64);
                unsigned flag = 0;

                for (size_t k = 0; s && k < ELEMENTSOF(seccomp_flag_names); k++)
                        if (streq(seccomp_flag_names[k].name, s))
                                flag = seccomp_flag_names[k].flag;
                if (flag == 0 || (flags & flag))
                        return json_invalid_parameter(ret_invalid, "%s[%zu]", path, i);
                flags |= flag;
        }
        *ret = flags;
        return 0;
}

static int decode_string(struct json_object *v, const char *path, size_t max, char **ret, char **ret_invalid) {
        const char *s;

        if (json_object_get_type(v) != json_type_string)
                return json_invalid_parameter(ret_invalid, "%s", path);
        s = json_object_get_string(v);
        if (strlen(s) != (size_t) json_object_get_string_len(v) || strlen(s) > max)
                return json_invalid_parameter(ret_invalid, "%s", path);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int seccomp_spec_decode(struct json_object *v, const char *prefix, SeccompSpec **ret, char **ret_invalid_parameter) {
        static const char *const allowed[] = {
                "defaultAction", "defaultErrnoRet", "architectures", "flags",
                "listenerPath",  "listenerMetadata", "syscalls",     NULL,
        };
        _cleanup_(seccomp_spec_freep) SeccompSpec *s = NULL;
        size_t names_budget = SECCOMP_NAMES_MAX, n;
        struct json_object *m;
        char buf[PATH_BUF_MAX];
        int r;

        if (!ret)
                return -EINVAL;
        if (json_object_get_type(v) != json_type_object)
                return json_invalid_parameter(ret_invalid_parameter, "%s", prefix);
        r = check_members(v, prefix, allowed, ret_invalid_parameter);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(SeccompSpec));
        if (!s)
                return -ENOMEM;
        s->default_errno_ret = -1;

        pathf(buf, "%s.defaultAction", prefix);
        r = decode_action(member(v, "defaultAction"), buf, &s->default_action, ret_invalid_parameter);
        if (r < 0)
                return r;

        m = member(v, "defaultErrnoRet");
        if (m) {
                pathf(buf, "%s.defaultErrnoRet", prefix);
                if (!action_takes_errno(s->default_action))
                        return json_invalid_parameter(ret_invalid_parameter, "%s", buf);
                r = decode_errno(m, buf, &s->default_errno_ret, ret_invalid_parameter);
                if (r < 0)
                        return r;
        }

        m = member(v, "architectures");
        if (m) {
                pathf(buf, "%s.architectures", prefix);
                r = decode_names(m, buf, SECCOMP_ARCHITECTURES_MAX, 64, NULL, &s->architectures, &s->n_architectures,
                                 ret_invalid_parameter);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < s->n_architectures; i++)
                        if (strncmp(s->architectures[i], "SCMP_ARCH_", 10) != 0)
                                return json_invalid_parameter(ret_invalid_parameter, "%s[%zu]", buf, i);
        }

        m = member(v, "flags");
        if (m) {
                pathf(buf, "%s.flags", prefix);
                r = decode_flags(m, buf, &s->flags, ret_invalid_parameter);
                if (r < 0)
                        return r;
        }

        m = member(v, "listenerPath");
        if (m) {
                pathf(buf, "%s.listenerPath", prefix);
                r = decode_string(m, buf, 4096, &s->listener_path, ret_invalid_parameter);
                if (r < 0)
                        return r;
        }
        m = member(v, "listenerMetadata");
        if (m) {
                pathf(buf, "%s.listenerMetadata", prefix);
                r = decode_string(m, buf, 4096, &s->listener_metadata, ret_invalid_parameter);
                if (r < 0)
                        return r;
        }

        m = member(v, "syscalls");
        if (m) {
                if (json_object_get_type(m) != json_type_array ||
                    json_object_array_length(m) > SECCOMP_SYSCALLS_MAX)
                        return json_invalid_parameter(ret_invalid_parameter, "%s.syscalls", prefix);
                n = json_object_array_length(m);
                s->syscalls = calloc(MAX(n, 1U), sizeof(SeccompSyscall));
                if (!s->syscalls)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        pathf(buf, "%s.syscalls[%zu]", prefix, i);
                        s->n_syscalls++;
                        r = decode_syscall(json_object_array_get_idx(m, i), buf, &names_budget, s->syscalls + i,
                                           ret_invalid_parameter);
                        if (r < 0)
                                return r;
                }
        }

        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- encoding ---- */

static bool add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

static bool append(struct json_object *a, struct json_object *v) {
        if (!v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

static struct json_object *names_encode(char *const *l, size_t n) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                if (!append(a, json_object_new_string(l[i]))) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

static struct json_object *syscall_encode(const SeccompSyscall *s) {
        struct json_object *o = json_object_new_object(), *args;

        if (!o)
                return NULL;
        if (!add(o, "names", names_encode(s->names, s->n_names)) ||
            !add(o, "action", json_object_new_string(seccomp_action_to_string(s->action) ?: "")))
                goto fail;
        if (s->errno_ret >= 0 && !add(o, "errnoRet", json_object_new_int64(s->errno_ret)))
                goto fail;
        if (s->n_args > 0) {
                args = json_object_new_array();
                if (!add(o, "args", args))
                        goto fail;
                for (size_t i = 0; i < s->n_args; i++) {
                        struct json_object *a = json_object_new_object();

                        if (!append(args, a) || !add(a, "index", json_object_new_int64(s->args[i].index)) ||
                            !add(a, "value", json_object_new_uint64(s->args[i].value)) ||
                            !add(a, "valueTwo", json_object_new_uint64(s->args[i].value_two)) ||
                            !add(a, "op", json_object_new_string(seccomp_operator_to_string(s->args[i].op) ?: "")))
                                goto fail;
                }
        }
        return o;
fail:
        json_object_put(o);
        return NULL;
}

struct json_object *seccomp_spec_encode(const SeccompSpec *s) {
        struct json_object *o;

        if (!s)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (!add(o, "defaultAction", json_object_new_string(seccomp_action_to_string(s->default_action) ?: "")))
                goto fail;
        if (s->default_errno_ret >= 0 && !add(o, "defaultErrnoRet", json_object_new_int64(s->default_errno_ret)))
                goto fail;
        if (s->n_architectures > 0 && !add(o, "architectures", names_encode(s->architectures, s->n_architectures)))
                goto fail;
        if (s->flags) {
                struct json_object *a = json_object_new_array();

                if (!add(o, "flags", a))
                        goto fail;
                for (size_t i = 0; i < ELEMENTSOF(seccomp_flag_names); i++)
                        if ((s->flags & seccomp_flag_names[i].flag) &&
                            !append(a, json_object_new_string(seccomp_flag_names[i].name)))
                                goto fail;
        }
        if (s->listener_path && !add(o, "listenerPath", json_object_new_string(s->listener_path)))
                goto fail;
        if (s->listener_metadata && !add(o, "listenerMetadata", json_object_new_string(s->listener_metadata)))
                goto fail;
        if (s->n_syscalls > 0) {
                struct json_object *a = json_object_new_array();

                if (!add(o, "syscalls", a))
                        goto fail;
                for (size_t i = 0; i < s->n_syscalls; i++)
                        if (!append(a, syscall_encode(s->syscalls + i)))
                                goto fail;
        }
        return o;
fail:
        json_object_put(o);
        return NULL;
}

/* ---- LinuxCapabilities ---- */

CapabilitiesSpec *capabilities_spec_free(CapabilitiesSpec *c) {
        if (!c)
                return NULL;
        for (CapabilitySet s = 0; s < _CAPABILITY_SET_MAX; s++)
                strv_free(c->names[s]);
        free(c);
        return NULL;
}

int capabilities_spec_decode(struct json_object *v, const char *prefix, CapabilitiesSpec **ret,
                             char **ret_invalid_parameter) {
        _cleanup_(capabilities_spec_freep) CapabilitiesSpec *c = NULL;
        char buf[PATH_BUF_MAX];
        int r;

        if (!ret)
                return -EINVAL;
        if (json_object_get_type(v) != json_type_object)
                return json_invalid_parameter(ret_invalid_parameter, "%s", prefix);

        c = calloc(1, sizeof(CapabilitiesSpec));
        if (!c)
                return -ENOMEM;

        json_object_object_foreach(v, key, value) {
                CapabilitySet s = lookup(capability_set_names, _CAPABILITY_SET_MAX, key);

                if (s < 0)
                        return json_invalid_parameter(ret_invalid_parameter, "%s.%s", prefix, key);
                if (is_absent(value))
                        continue;
                pathf(buf, "%s.%s", prefix, key);
                r = decode_names(value, buf, CAPABILITY_NAMES_MAX, 64, NULL, &c->names[s], &c->n_names[s],
                                 ret_invalid_parameter);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < c->n_names[s]; i++)
                        if (strncmp(c->names[s][i], "CAP_", 4) != 0)
                                return json_invalid_parameter(ret_invalid_parameter, "%s[%zu]", buf, i);
        }

        *ret = TAKE_PTR(c);
        return 0;
}

struct json_object *capabilities_spec_encode(const CapabilitiesSpec *c) {
        struct json_object *o;

        if (!c)
                return NULL;
        o = json_object_new_object();
        for (CapabilitySet s = 0; o && s < _CAPABILITY_SET_MAX; s++)
                if (c->names[s] && !add(o, capability_set_names[s], names_encode(c->names[s], c->n_names[s]))) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}
