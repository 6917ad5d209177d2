/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox_spawn_set_property(): resource limits as systemd-run -p takes them
 * ("MemoryMax=64M", "CPUQuota=50%", "LimitNOFILE=1024:4096"), in systemd's
 * syntax and units (systemd.resource-control(5), systemd.exec(5)), turned
 * into the protocol's OCI-named fields. Parsing only: the daemon judges the
 * values and names the field it refuses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "macro.h"
#include "nsbox-internal.h"

#define USEC_PER_SEC 1000000ULL

/* A decimal number with an optional fraction: its integer value times scale, rounded down; p moves past it. */
static int parse_scaled(const char **p, uint64_t scale, uint64_t *ret) {
        const char *s = *p;
        uint64_t whole = 0, frac = 0, frac_div = 1;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (whole > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*s - '0');
        }
        if (*s == '.') {
                s++;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++)
                        if (frac_div < 1000000000ULL) {
                                frac = frac * 10 + (uint64_t) (*s - '0');
                                frac_div *= 10;
                        }
        }
        if (scale != 0 && whole > UINT64_MAX / scale)
                return -ERANGE;
        *ret = whole * scale + frac * scale / frac_div;
        *p = s;
        return 0;
}

static bool is_infinity(const char *v) {
        return !*v || streq(v, "infinity");
}

/* Bytes, with K, M, G, T, P, E as powers of 1024 (and an optional B), as systemd's parse_size(). */
static int parse_bytes(const char *v, uint64_t *ret) {
        static const char suffixes[] = "KMGTPE";
        const char *p = v, *s;
        uint64_t factor = 1, n;
        int r;

        /* The factor is known only after the number: parse the digits first with scale 1 to find the end. */
        r = parse_scaled(&p, 1, &n);
        if (r < 0)
                return r;
        s = *p ? strchr(suffixes, *p) : NULL;
        if (s) {
                for (const char *k = suffixes; k <= s; k++)
                        factor *= 1024;
                p++;
        }
        if (*p == 'B')
                p++;
        if (*p)
                return -EINVAL;
        p = v;
        r = parse_scaled(&p, factor, &n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

/* "N%" of whole, with up to two decimals; -ENOENT if v is no percentage. */
static int parse_percent_of(const char *v, uint64_t whole, uint64_t *ret) {
        size_t len = strlen(v);
        char buf[64];
        const char *p = buf;
        uint64_t permyriad;
        int r;

        if (len < 2 || v[len - 1] != '%' || len >= sizeof buf)
                return -ENOENT;
        memcpy(buf, v, len - 1);
        buf[len - 1] = 0;
        r = parse_scaled(&p, 100, &permyriad);
        if (r < 0)
                return r;
        if (*p)
                return -EINVAL;
        if (whole != 0 && permyriad > UINT64_MAX / whole)
                return -ERANGE;
        *ret = whole * permyriad / 10000;
        return 0;
}

static uint64_t physical_memory(void) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

        return pages > 0 && size > 0 ? (uint64_t) pages * (uint64_t) size : 0;
}

/* A memory limit: bytes, or a percentage of the physical memory. */
static int parse_memory(const char *v, uint64_t *ret) {
        int r = parse_percent_of(v, physical_memory(), ret);

        if (r != -ENOENT)
                return r;
        return parse_bytes(v, ret);
}

static int parse_number(const char *v, uint64_t *ret) {
        const char *p = v;
        int r;

        r = parse_scaled(&p, 1, ret);
        if (r < 0)
                return r;
        if (*p || strchr(v, '.'))
                return -EINVAL;
        return 0;
}

/* A timespan as systemd writes them: "90", "1min 30s", "500ms", "2h"; default_unit µs per bare number. */
static int parse_timespan(const char *v, uint64_t default_unit, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC },
                { "s", USEC_PER_SEC },       { "minutes", 60 * USEC_PER_SEC }, { "minute", 60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC }, { "months", 2629800 * USEC_PER_SEC }, { "month", 2629800 * USEC_PER_SEC },
                { "msec", 1000 },            { "ms", 1000 },         { "m", 60 * USEC_PER_SEC },
                { "hours", 3600 * USEC_PER_SEC }, { "hour", 3600 * USEC_PER_SEC }, { "hr", 3600 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC }, { "days", 86400 * USEC_PER_SEC }, { "day", 86400 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC }, { "weeks", 604800 * USEC_PER_SEC }, { "week", 604800 * USEC_PER_SEC },
                { "w", 604800 * USEC_PER_SEC }, { "years", 31557600 * USEC_PER_SEC }, { "year", 31557600 * USEC_PER_SEC },
                { "y", 31557600 * USEC_PER_SEC }, { "usec", 1 }, { "us", 1 }, { "µs", 1 },
        };
        const char *p = v;
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t unit = default_unit, n;
                const char *start;
                int r;

                p += strspn(p, " ");
                if (!*p)
                        break;
                start = p;
                /* The number with its unit's scale, so "1.5h" is 90 minutes: find the unit first. */
                r = parse_scaled(&p, 1, &n);
                if (r < 0)
                        return r;
                p += strspn(p, " ");
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t len = strlen(units[i].suffix);

                        if (strncmp(p, units[i].suffix, len) == 0 &&
                            (p[len] == 0 || p[len] == ' ' || (p[len] >= '0' && p[len] <= '9'))) {
                                unit = units[i].usec;
                                p += len;
                                break;
                        }
                }
                if (*p && *p != ' ' && (*p < '0' || *p > '9'))
                        return -EINVAL;
                r = parse_scaled(&start, unit, &n);
                if (r < 0)
                        return r;
                if (n > UINT64_MAX - total)
                        return -ERANGE;
                total += n;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

typedef enum LimitKind {
        LIMIT_NUMBER,
        LIMIT_BYTES,
        LIMIT_SECONDS, /* a timespan, in whole seconds (LimitCPU=) */
        LIMIT_USEC,    /* a timespan, in µs (LimitRTTIME=) */
        LIMIT_NICE,    /* a nice level -20..19 (with its sign) or the raw 0..40 */
} LimitKind;

static const struct {
        const char *name;
        int resource;
        LimitKind kind;
} rlimit_properties[] = {
        { "LimitCPU", RLIMIT_CPU, LIMIT_SECONDS },        { "LimitFSIZE", RLIMIT_FSIZE, LIMIT_BYTES },
        { "LimitDATA", RLIMIT_DATA, LIMIT_BYTES },        { "LimitSTACK", RLIMIT_STACK, LIMIT_BYTES },
        { "LimitCORE", RLIMIT_CORE, LIMIT_BYTES },        { "LimitRSS", RLIMIT_RSS, LIMIT_BYTES },
        { "LimitNOFILE", RLIMIT_NOFILE, LIMIT_NUMBER },   { "LimitAS", RLIMIT_AS, LIMIT_BYTES },
        { "LimitNPROC", RLIMIT_NPROC, LIMIT_NUMBER },     { "LimitMEMLOCK", RLIMIT_MEMLOCK, LIMIT_BYTES },
        { "LimitLOCKS", RLIMIT_LOCKS, LIMIT_NUMBER },     { "LimitSIGPENDING", RLIMIT_SIGPENDING, LIMIT_NUMBER },
        { "LimitMSGQUEUE", RLIMIT_MSGQUEUE, LIMIT_BYTES }, { "LimitNICE", RLIMIT_NICE, LIMIT_NICE },
        { "LimitRTPRIO", RLIMIT_RTPRIO, LIMIT_NUMBER },   { "LimitRTTIME", RLIMIT_RTTIME, LIMIT_USEC },
};

static int parse_rlimit_value(const char *v, LimitKind kind, uint64_t *ret) {
        uint64_t n;
        int r;

        if (streq(v, "infinity")) {
                *ret = RLIM_INFINITY;
                return 0;
        }
        switch (kind) {
        case LIMIT_BYTES:
                return parse_bytes(v, ret);
        case LIMIT_SECONDS:
                r = parse_timespan(v, USEC_PER_SEC, &n);
                if (r >= 0)
                        *ret = (n + USEC_PER_SEC - 1) / USEC_PER_SEC;
                return r;
        case LIMIT_USEC:
                return parse_timespan(v, 1, ret);
        case LIMIT_NICE:
                if (*v == '+' || *v == '-') {
                        r = parse_number(v + 1, &n);
                        if (r < 0)
                                return r;
                        if ((*v == '-' && n > 20) || (*v == '+' && n > 19))
                                return -ERANGE;
                        /* The kernel's scale: 20 - nice, so -20 is 40 and 19 is 1. */
                        *ret = *v == '-' ? 20 + n : 20 - n;
                        return 0;
                }
                r = parse_number(v, &n);
                if (r >= 0 && n > 40)
                        return -ERANGE;
                if (r >= 0)
                        *ret = n;
                return r;
        default:
                return parse_number(v, ret);
        }
}

/* "SOFT:HARD", or one value for both. */
static int set_rlimit_property(NsboxSpawn *s, int resource, LimitKind kind, const char *v) {
        _cleanup_free_ char *copy = strdup(v);
        uint64_t soft, hard;
        char *colon;
        int r;

        if (!copy)
                return -ENOMEM;
        colon = strchr(copy, ':');
        if (colon)
                *colon = 0;
        r = parse_rlimit_value(copy, kind, &soft);
        if (r < 0)
                return r;
        hard = soft;
        if (colon) {
                r = parse_rlimit_value(colon + 1, kind, &hard);
                if (r < 0)
                        return r;
        }
        if (soft > hard)
                return -ERANGE;
        return nsbox_spawn_set_rlimit(s, resource, soft, hard);
}

/* A resource field from a positive number within [min, max]; empty or infinity unsets it. */
static int set_ranged(NsboxSpawn *s, NsboxResource which, const char *v, int (*parse)(const char *, uint64_t *),
                      uint64_t min, uint64_t max) {
        uint64_t n;
        int r;

        if (is_infinity(v))
                return nsbox_spawn_set_resource(s, which, 0);
        r = parse(v, &n);
        if (r < 0)
                return r;
        if (n < min || n > max)
                return -ERANGE;
        return nsbox_spawn_set_resource(s, which, n);
}

static uint64_t pid_max(void) {
        FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
        unsigned long long v = 0;

        if (f) {
                if (fscanf(f, "%llu", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v ?: 4194304;
}

static int parse_tasks(const char *v, uint64_t *ret) {
        int r = parse_percent_of(v, pid_max(), ret);

        if (r != -ENOENT)
                return r;
        return parse_number(v, ret);
}

_public_ int nsbox_spawn_set_property(NsboxSpawn *s, const char *assignment) {
        _cleanup_free_ char *name = NULL;
        const char *eq, *v;
        uint64_t n;
        int r;

        if (!s || !assignment)
                return -EINVAL;
        eq = strchr(assignment, '=');
        if (!eq || eq == assignment)
                return -EINVAL;
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                return -ENOMEM;
        v = eq + 1;

        if (streq(name, "MemoryMax") || streq(name, "MemoryLimit"))
                return set_ranged(s, NSBOX_RESOURCE_MEMORY_LIMIT, v, parse_memory, 1, INT64_MAX);
        if (streq(name, "MemoryHigh"))
                return set_ranged(s, NSBOX_RESOURCE_MEMORY_HIGH, v, parse_memory, 1, INT64_MAX);
        if (streq(name, "MemorySwapMax")) {
                if (is_infinity(v))
                        return nsbox_spawn_set_resource(s, NSBOX_RESOURCE_MEMORY_SWAP, 0);
                r = parse_memory(v, &n);
                if (r < 0)
                        return r;
                if (n > INT64_MAX)
                        return -ERANGE;
                return spawn_set_swap_max(s, n);
        }
        if (streq(name, "TasksMax"))
                return set_ranged(s, NSBOX_RESOURCE_PIDS_LIMIT, v, parse_tasks, 1, SANDBOX_PIDS_LIMIT_MAX);
        if (streq(name, "CPUQuota")) {
                if (is_infinity(v))
                        return nsbox_spawn_set_resource(s, NSBOX_RESOURCE_CPU_QUOTA, 0);
                /* Kept as a share of a CPU until sent: CPUQuotaPeriodSec= may come later. */
                r = parse_percent_of(v, 10000, &n);
                if (r == -ENOENT)
                        return -EINVAL;
                if (r < 0)
                        return r;
                /* Under 0.1%, not even a 1 s period holds the kernel's least quota, 1 ms; over 409600%, no period
                 * holds it in the protocol's greatest, 4096 CPUs. */
                if (n < 10 || n > SANDBOX_CPU_QUOTA_MAX * 10000 / SANDBOX_CPU_PERIOD_MAX)
                        return -ERANGE;
                return spawn_set_cpu_quota_permyriad(s, n);
        }
        if (streq(name, "CPUQuotaPeriodSec")) {
                if (is_infinity(v))
                        return nsbox_spawn_set_resource(s, NSBOX_RESOURCE_CPU_PERIOD, 0);
                r = parse_timespan(v, USEC_PER_SEC, &n);
                if (r < 0)
                        return r;
                if (n < 1000 || n > USEC_PER_SEC)
                        return -ERANGE;
                return nsbox_spawn_set_resource(s, NSBOX_RESOURCE_CPU_PERIOD, n);
        }
        if (streq(name, "CPUWeight"))
                return set_ranged(s, NSBOX_RESOURCE_CPU_WEIGHT, v, parse_number, 1, 10000);
        if (streq(name, "CPUShares"))
                return set_ranged(s, NSBOX_RESOURCE_CPU_SHARES, v, parse_number, 2, 262144);
        if (streq(name, "RuntimeMaxSec")) {
                if (is_infinity(v))
                        return nsbox_spawn_set_runtime_max(s, 0);
                r = parse_timespan(v, USEC_PER_SEC, &n);
                if (r < 0)
                        return r;
                if (n == 0 || n > INT64_MAX)
                        return -ERANGE;
                return nsbox_spawn_set_runtime_max(s, n);
        }
        for (size_t i = 0; i < ELEMENTSOF(rlimit_properties); i++)
                if (streq(name, rlimit_properties[i].name)) {
                        if (!*v)
                                return -EINVAL;
                        return set_rlimit_property(s, rlimit_properties[i].resource, rlimit_properties[i].kind, v);
                }
        return -ENOENT;
}
