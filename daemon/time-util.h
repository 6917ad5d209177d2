/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a clock in the units the daemon's deadlines and records use. */
#pragma once

#include <stdint.h>
#include <time.h>

/* clock's time in microseconds: CLOCK_MONOTONIC for deadlines, CLOCK_REALTIME for times reported to callers. */
static inline uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* The same in milliseconds. */
static inline uint64_t now_msec(clockid_t clock) {
        return now_usec(clock) / 1000U;
}
