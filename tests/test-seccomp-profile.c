/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Compiling LinuxSeccomp objects with libseccomp, the default profile, the cache, and loading (daemon/seccomp-profile.c). */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp-profile.h"

static SeccompSpec *spec(const char *json) {
        struct json_object *o = json_tokener_parse(json);
        _cleanup_free_ char *field = NULL;
        SeccompSpec *s = NULL;

        cr_assert_not_null(o, "test bug: %s", json);
        cr_assert_eq(seccomp_spec_decode(o, "seccomp", &s, &field), 0, "%s", field);
        json_object_put(o);
        return s;
}

static int compile(const char *json, SeccompProgram **ret, char **field) {
        _cleanup_(seccomp_spec_freep) SeccompSpec *s = spec(json);

        return seccomp_program_compile(s, "seccomp", ret, field);
}

/* Forks, loads p after no_new_privs, runs the system call; returns its errno (0 if it worked) or 128+signal. */
static int run_filtered(const SeccompProgram *p, long nr, long a0) {
        int status;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    seccomp_program_load(p->filter, p->n_filter, p->flags) < 0)
                        _exit(120);
                _exit(syscall(nr, a0, 0, 0, 0, 0) < 0 ? errno : 0);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(seccomp_profile, errno_rule_and_args) {
        _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL;
        _cleanup_free_ char *field = NULL;

        cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                             "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
                             "\"args\":[{\"index\":0,\"value\":7,\"op\":\"SCMP_CMP_EQ\"},"
                             "{\"index\":0,\"value\":9,\"op\":\"SCMP_CMP_EQ\"}]},"
                             "{\"names\":[\"no_such_call\",\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                             &p, &field),
                     0, "%s", field);
        cr_assert_eq(p->n_ignored, 1);
        cr_assert_gt(p->n_filter, 0);
        /* two comparisons on one argument: either matches */
        cr_assert_eq(run_filtered(p, SYS_getpgid, 7), EACCES);
        cr_assert_eq(run_filtered(p, SYS_getpgid, 9), EACCES);
        cr_assert_eq(run_filtered(p, SYS_getpgid, 0), 0);
        cr_assert_eq(run_filtered(p, SYS_getppid, 0), EPERM);
}

Test(seccomp_profile, kill_process) {
        _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL;
        _cleanup_free_ char *field = NULL;

        cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
                             "\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
                             &p, &field),
                     0);
        cr_assert_eq(run_filtered(p, SYS_getppid, 0), 128 + SIGSYS);
}

Test(seccomp_profile, refusals_name_the_field) {
        static const struct {
                const char *json, *field;
        } cases[] = {
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
                  "seccomp.architectures[0]" },
                { "{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "seccomp.defaultAction" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
                  "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                  "seccomp.syscalls[0].action" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\"}", "seccomp.listenerPath" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL;
                _cleanup_free_ char *field = NULL;

                cr_assert_eq(compile(cases[i].json, &p, &field), -EINVAL, "%s", cases[i].json);
                cr_assert_str_eq(field, cases[i].field);
                cr_assert_null(p);
        }
}

Test(seccomp_profile, default_profile) {
        _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL, *q = NULL;

        cr_assert_eq(seccomp_program_default(&p), 0);
        cr_assert_eq(seccomp_program_default(&q), 0);
        cr_assert_eq(p, q, "compiled once");
        cr_assert_eq(run_filtered(p, SYS_keyctl, 0), EPERM);
        cr_assert_eq(run_filtered(p, SYS_bpf, 0), EPERM);
        cr_assert_eq(run_filtered(p, SYS_userfaultfd, 0), EPERM);
        cr_assert_eq(run_filtered(p, SYS_io_uring_setup, 0), ENOSYS);
        cr_assert_eq(run_filtered(p, SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */), EPERM);
        cr_assert_eq(run_filtered(p, SYS_personality, 0), 0);
        cr_assert_eq(run_filtered(p, SYS_getppid, 0), 0);
}

/* A copy of the default profile (what a restart carries) is the default again; any other program stays. */
Test(seccomp_profile, copies_of_the_default_are_recognized) {
        _cleanup_(seccomp_program_unrefp) SeccompProgram *d = NULL;
        SeccompProgram *copy, *other;

        cr_assert_eq(seccomp_program_default(&d), 0);
        copy = calloc(1, sizeof *copy);
        other = calloc(1, sizeof *other);
        cr_assert(copy && other);
        *copy = (SeccompProgram) { .n_ref = 1, .n_filter = d->n_filter, .flags = d->flags };
        copy->filter = malloc(d->n_filter * sizeof(struct sock_filter));
        cr_assert_not_null(copy->filter);
        memcpy(copy->filter, d->filter, d->n_filter * sizeof(struct sock_filter));
        *other = *copy;
        other->filter = malloc(d->n_filter * sizeof(struct sock_filter));
        cr_assert_not_null(other->filter);
        memcpy(other->filter, d->filter, d->n_filter * sizeof(struct sock_filter));
        other->filter[d->n_filter - 1].k ^= 1;

        cr_assert(!seccomp_program_is_default(copy));
        cr_assert_eq(seccomp_program_recognize_default(&copy), 0);
        cr_assert_eq(copy, d, "a copy of the default was not recognized");
        cr_assert(seccomp_program_is_default(copy));
        cr_assert_eq(seccomp_program_recognize_default(&other), 0);
        cr_assert(!seccomp_program_is_default(other), "a different program passed for the default");
        seccomp_program_unref(copy);
        seccomp_program_unref(other);
}

Test(seccomp_profile, requests_use_the_cache) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = spawn_request_new();
        _cleanup_(seccomp_program_unrefp) SeccompProgram *a = NULL, *b = NULL, *d = NULL, *u = NULL;
        _cleanup_free_ char *field = NULL;

        seccomp_program_cache_flush();
        r->seccomp = spec("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
                          "\"action\":\"SCMP_ACT_ERRNO\"}]}");
        cr_assert_eq(seccomp_program_for_request(r, &a, &field), 0);
        cr_assert_eq(seccomp_program_for_request(r, &b, &field), 0);
        cr_assert_eq(a, b, "the same profile is compiled once");
        cr_assert_eq(a->n_ref, 3); /* a, b and the cache */

        r->seccomp = seccomp_spec_free(r->seccomp);
        cr_assert_eq(seccomp_program_for_request(r, &d, &field), 0);
        cr_assert_not_null(d);
        cr_assert_eq(run_filtered(d, SYS_keyctl, 0), EPERM);

        r->seccomp_profile = SECCOMP_PROFILE_UNCONFINED;
        cr_assert_eq(seccomp_program_for_request(r, &u, &field), 0);
        cr_assert_null(u);
        seccomp_program_cache_flush();
        cr_assert_eq(a->n_ref, 2);
}
