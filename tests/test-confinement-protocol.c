/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decode and encode of the OCI LinuxSeccomp and LinuxCapabilities objects (proto/confinement-protocol.c). */

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "confinement-protocol.h"

static int decode_seccomp(const char *json, SeccompSpec **ret, char **field) {
        struct json_object *o = json_tokener_parse(json);
        int r;

        cr_assert_not_null(o, "test bug: %s", json);
        r = seccomp_spec_decode(o, "seccomp", ret, field);
        json_object_put(o);
        return r;
}

static void assert_invalid(const char *json, const char *want) {
        _cleanup_(seccomp_spec_freep) SeccompSpec *s = NULL;
        _cleanup_free_ char *field = NULL;

        cr_assert_eq(decode_seccomp(json, &s, &field), -EINVAL, "%s", json);
        cr_assert_str_eq(field, want, "%s", json);
}

Test(seccomp_spec, full_object_round_trips) {
        _cleanup_(seccomp_spec_freep) SeccompSpec *s = NULL, *again = NULL;
        _cleanup_free_ char *field = NULL;
        const char *json =
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
                "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
                "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
                "\"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                "\"value\":18446744073709551615,\"op\":\"SCMP_CMP_EQ\"}]},"
                "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
        struct json_object *o;

        cr_assert_eq(decode_seccomp(json, &s, &field), 0, "%s", field);
        cr_assert_eq(s->default_action, SECCOMP_ACTION_ERRNO);
        cr_assert_eq(s->default_errno_ret, 38);
        cr_assert_eq(s->n_architectures, 2);
        cr_assert_eq(s->flags, SECCOMP_FLAG_LOG);
        cr_assert_eq(s->n_syscalls, 3);
        cr_assert_str_eq(s->syscalls[0].names[1], "write");
        cr_assert_eq(s->syscalls[0].errno_ret, -1);
        cr_assert_eq(s->syscalls[1].args[0].value, UINT64_MAX);
        cr_assert_eq(s->syscalls[1].args[0].op, SECCOMP_OP_EQ);
        cr_assert_eq(s->syscalls[2].errno_ret, 13);

        o = seccomp_spec_encode(s);
        cr_assert_not_null(o);
        cr_assert_eq(seccomp_spec_decode(o, "seccomp", &again, &field), 0);
        json_object_put(o);
        cr_assert_eq(again->n_syscalls, 3);
        cr_assert_eq(again->syscalls[1].args[0].value, UINT64_MAX);
        cr_assert_eq(again->default_errno_ret, 38);
}

Test(seccomp_spec, bad_fields_are_named) {
        assert_invalid("[]", "seccomp");
        assert_invalid("{}", "seccomp.defaultAction");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", "seccomp.defaultAction");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1}", "seccomp.defaultErrnoRet");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":4096}", "seccomp.defaultErrnoRet");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"bogus\":1}", "seccomp.bogus");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"x86_64\"]}",
                       "seccomp.architectures[0]");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
                       "\"SECCOMP_FILTER_FLAG_LOG\"]}",
                       "seccomp.flags[1]");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
                       "seccomp.syscalls[0].names");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                       "seccomp.syscalls[0].names");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a b\"],"
                       "\"action\":\"SCMP_ACT_ERRNO\"}]}",
                       "seccomp.syscalls[0].names[0]");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\",\"read\"],"
                       "\"action\":\"SCMP_ACT_ERRNO\"}]}",
                       "seccomp.syscalls[0].names[1]");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                       "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                       "seccomp.syscalls[0].args[0].index");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                       "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":-1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                       "seccomp.syscalls[0].args[0].value");
        assert_invalid("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                       "\"action\":\"SCMP_ACT_LOG\",\"errnoRet\":1}]}",
                       "seccomp.syscalls[0].errnoRet");
}

Test(seccomp_spec, names_are_bounded_over_all_entries) {
        size_t size = 200000, n;
        char *json = malloc(size);
        _cleanup_(seccomp_spec_freep) SeccompSpec *s = NULL;
        _cleanup_free_ char *field = NULL;

        cr_assert_not_null(json);
        /* 5 entries of 1000 names: the fifth goes over the 4096 names of the bound */
        n = (size_t) snprintf(json, size, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[");
        for (int e = 0; e < 5; e++) {
                n += (size_t) snprintf(json + n, size - n, "%s{\"action\":\"SCMP_ACT_LOG\",\"names\":[", e ? "," : "");
                for (int i = 0; i < 1000; i++)
                        n += (size_t) snprintf(json + n, size - n, "%s\"c%d\"", i ? "," : "", i);
                n += (size_t) snprintf(json + n, size - n, "]}");
        }
        snprintf(json + n, size - n, "]}");
        cr_assert_eq(decode_seccomp(json, &s, &field), -EINVAL);
        cr_assert_str_eq(field, "seccomp.syscalls[4].names");
        free(json);
}

Test(capabilities_spec, decode_and_names) {
        _cleanup_(capabilities_spec_freep) CapabilitiesSpec *c = NULL;
        _cleanup_free_ char *field = NULL;
        struct json_object *o = json_tokener_parse(
                "{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"effective\":null,\"ambient\":[]}");

        cr_assert_eq(capabilities_spec_decode(o, "capabilities", &c, &field), 0);
        json_object_put(o);
        cr_assert_eq(c->n_names[CAPABILITY_SET_BOUNDING], 2);
        cr_assert_null(c->names[CAPABILITY_SET_EFFECTIVE]);
        cr_assert_eq(c->n_names[CAPABILITY_SET_AMBIENT], 0);

        o = json_tokener_parse("{\"permitted\":[\"CAP_CHOWN\",\"CHOWN\"]}");
        capabilities_spec_free(TAKE_PTR(c));
        cr_assert_eq(capabilities_spec_decode(o, "capabilities", &c, &field), -EINVAL);
        cr_assert_str_eq(field, "capabilities.permitted[1]");
        json_object_put(o);
}
