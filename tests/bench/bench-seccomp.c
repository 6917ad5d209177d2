/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a seccomp profile costs on the spawn path: compiling with libseccomp
 * (seccomp_program_compile()), a request's lookup through the cache
 * (seccomp_program_for_request()), and the built-in default profile, for a
 * small profile and one the size of Docker's default (an allow-list of about
 * 350 calls with argument rules). Prints microseconds per operation; built
 * with the tests, never run by `meson test`.
 *
 *   build/tests/bench/bench-seccomp [ITERATIONS]
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <seccomp.h>

#include "seccomp-profile.h"

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* Docker-sized: defaultAction ERRNO, every x86-64 system call allowed by name, a few with argument rules. */
static char *docker_sized_profile(void) {
        size_t size = 64 * 1024, n = 0;
        char *json = malloc(size);
        int names = 0;

        if (!json)
                abort();
        n += (size_t) snprintf(json + n, size - n,
                               "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
                               "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
                               "\"syscalls\":[{\"action\":\"SCMP_ACT_ALLOW\",\"names\":[");
        for (int nr = 0; nr < 450 && names < 350; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

                if (!name)
                        continue;
                n += (size_t) snprintf(json + n, size - n, "%s\"%s\"", names++ ? "," : "", name);
                free(name);
        }
        n += (size_t) snprintf(json + n, size - n,
                               "]},{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                               "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
                               "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
                               "{\"index\":0,\"value\":131072,\"op\":\"SCMP_CMP_EQ\"},"
                               "{\"index\":0,\"value\":4294967295,\"op\":\"SCMP_CMP_EQ\"}]},"
                               "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                               "{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
        return json;
}

static SpawnRequest *request(const char *json) {
        SpawnRequest *r = spawn_request_new();
        struct json_object *o = json_tokener_parse(json);
        char *field = NULL;

        if (!r || !o || seccomp_spec_decode(o, "seccomp", &r->seccomp, &field) < 0) {
                fprintf(stderr, "bad profile: %s\n", field ?: "?");
                exit(1);
        }
        json_object_put(o);
        return r;
}

static void measure(const char *what, const SpawnRequest *r, int iterations) {
        SeccompProgram *p = NULL;
        double start;
        unsigned short n_filter = 0;

        start = now_us();
        for (int i = 0; i < iterations; i++) {
                if (seccomp_program_compile(r->seccomp, "seccomp", &p, NULL) < 0)
                        exit(1);
                n_filter = p->n_filter;
                p = seccomp_program_unref(p);
        }
        printf("%-34s compile   %9.1f us  (%u BPF instructions)\n", what, (now_us() - start) / iterations,
               n_filter);

        seccomp_program_cache_flush();
        start = now_us();
        for (int i = 0; i < iterations; i++) {
                if (seccomp_program_for_request(r, &p, NULL) < 0)
                        exit(1);
                p = seccomp_program_unref(p);
        }
        printf("%-34s cached    %9.1f us\n", what, (now_us() - start) / iterations);
}

int main(int argc, char *argv[]) {
        int iterations = argc > 1 ? atoi(argv[1]) : 200;
        _cleanup_free_ char *docker = docker_sized_profile();
        SpawnRequest *small = request("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
                                      "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
        SpawnRequest *big = request(docker);
        SpawnRequest *none = spawn_request_new();
        SeccompProgram *p = NULL;
        double start;

        if (iterations <= 0)
                iterations = 200;
        measure("small profile (2 rules)", small, iterations);
        measure("Docker-sized profile (~350 calls)", big, iterations);

        (void) seccomp_program_default(&p); /* compiled once, at the first spawn */
        p = seccomp_program_unref(p);
        start = now_us();
        for (int i = 0; i < iterations; i++) {
                (void) seccomp_program_for_request(none, &p, NULL);
                p = seccomp_program_unref(p);
        }
        printf("%-34s reference %9.1f us\n", "default profile", (now_us() - start) / iterations);

        seccomp_program_cache_flush();
        spawn_request_free(small);
        spawn_request_free(big);
        spawn_request_free(none);
        return 0;
}
