/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sched_setattr(2) and sched_getattr(2)'s structure, in its first version (SCHED_ATTR_SIZE_VER0). glibc has
 * no wrapper for either call, and <linux/sched/types.h>, which has the structure, clashes with glibc's
 * struct sched_param.
 */
#pragma once

#include <stdint.h>

typedef struct SchedAttr {
        uint32_t size;
        uint32_t sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime;
        uint64_t sched_deadline;
        uint64_t sched_period;
} SchedAttr;
