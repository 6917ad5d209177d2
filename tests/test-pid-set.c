/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pid set behind cgroup-wide signals: thousands of pids over several listings. */

#include <criterion/criterion.h>

#include "pid-set.h"

#define N 20000

Test(pid_set, finds_committed_pids_only) {
        PidSet s = {};

        /* Three "listings", each in a scrambled order, as cgroup.procs may be. */
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < N; i++) {
                        pid_t pid = 2 + (pid_t) (((unsigned) i * 7919u) % N) + round * N;

                        cr_assert_not(pid_set_contains(&s, pid));
                        cr_assert_eq(pid_set_add(&s, pid), 0);
                }
                cr_assert_not(pid_set_contains(&s, 2 + round * N), "pending pids are not seen before commit");
                pid_set_commit(&s);
                for (int i = 0; i < N * (round + 1); i++)
                        cr_assert(pid_set_contains(&s, 2 + i), "pid %d", 2 + i);
                cr_assert_not(pid_set_contains(&s, 1));
                cr_assert_not(pid_set_contains(&s, 2 + N * (round + 1)));
        }
        cr_assert_eq(s.n, (size_t) 3 * N);
        pid_set_done(&s);
        cr_assert_eq(s.n, 0);
        cr_assert_not(pid_set_contains(&s, 2));
}
