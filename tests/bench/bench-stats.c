/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Latency samples and percentiles for the benchmark. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-stats.h"

int samples_reserve(Samples *s, size_t n) {
        uint64_t *p;

        if (s->n + n <= s->allocated)
                return 0;
        p = realloc(s->ns, (s->n + n) * sizeof *p);
        if (!p)
                return -ENOMEM;
        s->ns = p;
        s->allocated = s->n + n;
        return 0;
}

int samples_add(Samples *s, uint64_t ns) {
        int r;

        if (s->n == s->allocated) {
                r = samples_reserve(s, MAX(s->allocated, (size_t) 64));
                if (r < 0)
                        return r;
        }
        s->ns[s->n++] = ns;
        return 0;
}

int samples_merge(Samples *s, const Samples *from) {
        int r;

        if (from->n == 0)
                return 0;
        r = samples_reserve(s, from->n);
        if (r < 0)
                return r;
        memcpy(s->ns + s->n, from->ns, from->n * sizeof *from->ns);
        s->n += from->n;
        return 0;
}

void samples_done(Samples *s) {
        free(s->ns);
        *s = (Samples) {};
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p percent of the samples at or below it. */
static uint64_t percentile(const Samples *s, unsigned p) {
        size_t rank = (s->n * p + 99) / 100;

        return s->ns[rank > 0 ? rank - 1 : 0];
}

void samples_summarize(Samples *s, LatencySummary *ret) {
        unsigned __int128 sum = 0;

        *ret = (LatencySummary) { .n = s->n };
        if (s->n == 0)
                return;

        qsort(s->ns, s->n, sizeof *s->ns, cmp_u64);
        for (size_t i = 0; i < s->n; i++)
                sum += s->ns[i];

        ret->p50_ns = percentile(s, 50);
        ret->p90_ns = percentile(s, 90);
        ret->p99_ns = percentile(s, 99);
        ret->max_ns = s->ns[s->n - 1];
        ret->mean_ns = (uint64_t) (sum / s->n);
}

uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}
