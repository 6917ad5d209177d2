/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sched-attr.h"
#include "short-slice.h"

void thread_take_short_slice(const char *what) {
        SchedAttr attr = {
                .size = sizeof attr,
                .sched_policy = SCHED_OTHER,
                .sched_flags = 0x01, /* SCHED_FLAG_RESET_ON_FORK */
                .sched_runtime = SHORT_SLICE_NSEC,
        };
        int nice;

        /* sched_setattr() sets the nice value too: keep the thread's own (the service manager's Nice=). */
        errno = 0;
        nice = getpriority(PRIO_PROCESS, 0);
        if (errno != 0)
                return;
        attr.sched_nice = nice;
        if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
                log_debug_errno(-errno, "Failed to shorten the time slice of %s, leaving it: %m", what);
}
