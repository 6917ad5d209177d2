/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Latency samples and their summary (percentiles by nearest rank over the
 * sorted samples, so p99 of 100 samples is the 99th value, not an estimate).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct Samples {
        uint64_t *ns;
        size_t n;
        size_t allocated;
} Samples;

typedef struct LatencySummary {
        size_t n;
        uint64_t p50_ns;
        uint64_t p90_ns;
        uint64_t p99_ns;
        uint64_t max_ns;
        uint64_t mean_ns;
} LatencySummary;

/* Preallocates room for n samples so adding one never allocates while timing. */
int samples_reserve(Samples *s, size_t n);
int samples_add(Samples *s, uint64_t ns);
/* Appends every sample of from to s. */
int samples_merge(Samples *s, const Samples *from);
void samples_done(Samples *s);

/* Sorts s in place and fills *ret; an empty set gives n == 0 and all zeros. */
void samples_summarize(Samples *s, LatencySummary *ret);

uint64_t now_ns(void); /* CLOCK_MONOTONIC */
