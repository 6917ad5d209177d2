/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sorted pid set for cgroup-wide signals (see pid-set.h). */

#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "pid-set.h"

static int pid_compare(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return x < y ? -1 : x > y;
}

bool pid_set_contains(const PidSet *s, pid_t pid) {
        return s->n_sorted > 0 && bsearch(&pid, s->pids, s->n_sorted, sizeof(pid_t), pid_compare);
}

int pid_set_add(PidSet *s, pid_t pid) {
        if (s->n == s->allocated) {
                size_t a = MAX(s->allocated * 2, (size_t) 16);
                pid_t *p = reallocarray(s->pids, a, sizeof(pid_t));
                if (!p)
                        return -ENOMEM;
                s->pids = p;
                s->allocated = a;
        }
        s->pids[s->n++] = pid;
        return 0;
}

void pid_set_commit(PidSet *s) {
        if (s->n == s->n_sorted)
                return;
        qsort(s->pids, s->n, sizeof(pid_t), pid_compare);
        s->n_sorted = s->n;
}

void pid_set_done(PidSet *s) {
        free(s->pids);
        *s = (PidSet) {};
}
