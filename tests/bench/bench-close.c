/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What closing in a helper process costs (daemon/bounded-close.c), against
 * the close the thread would make itself: a thread with an fd table of its
 * own, as a spawn worker has, opens a few fds and closes them all, by
 * close_range() in the thread or by bounded_close_range() in a helper; and
 * one fd at a time, by close() or bounded_close(), as a closer worker does.
 * Rounds of each kind alternate, so that drift hits both alike. Prints the
 * medians in microseconds per round; built with the tests, never run by
 * `meson test`.
 *
 *   build/tests/bench/bench-close [ROUNDS]
 */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bounded-close.h"

#define FDS_PER_ROUND 5

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

static void open_some(int *fds) {
        for (int i = 0; i < FDS_PER_ROUND; i++) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fds[i] < 0) {
                        perror("open");
                        exit(1);
                }
        }
}

typedef enum Kind {
        RANGE_INLINE,
        RANGE_HELPER,
        EACH_INLINE,
        EACH_HELPER,
        _KIND_MAX,
} Kind;

static const char *const kind_names[_KIND_MAX] = {
        [RANGE_INLINE] = "close_range() in the thread",
        [RANGE_HELPER] = "bounded_close_range(), a helper",
        [EACH_INLINE] = "close() each, in the thread",
        [EACH_HELPER] = "bounded_close() each, a helper per fd",
};

static double one_round(Kind k) {
        int fds[FDS_PER_ROUND];
        double start;

        open_some(fds);
        start = now_us();
        switch (k) {
        case RANGE_INLINE:
                (void) close_range(3, ~0U, 0);
                break;
        case RANGE_HELPER:
                bounded_close_range(3);
                break;
        case EACH_INLINE:
                for (int i = 0; i < FDS_PER_ROUND; i++)
                        (void) close(fds[i]);
                break;
        case EACH_HELPER:
                for (int i = 0; i < FDS_PER_ROUND; i++)
                        bounded_close(fds[i]);
                break;
        default:
                abort();
        }
        return now_us() - start;
}

int main(int argc, char **argv) {
        int rounds = argc > 1 ? atoi(argv[1]) : 2000;
        double *t[_KIND_MAX];

        if (rounds <= 0)
                return 2;
        /* A table of its own, nearly empty, as a spawn worker's. */
        if (unshare(CLONE_FILES) < 0 || close_range(3, ~0U, 0) < 0) {
                perror("unshare");
                return 1;
        }
        for (int k = 0; k < _KIND_MAX; k++) {
                t[k] = calloc((size_t) rounds, sizeof(double));
                if (!t[k])
                        return 1;
        }
        for (int i = 0; i < rounds; i++)
                for (int k = 0; k < _KIND_MAX; k++)
                        t[k][i] = one_round((Kind) k);

        printf("%d fds per round, %d rounds of each, interleaved; microseconds per round\n", FDS_PER_ROUND, rounds);
        for (int k = 0; k < _KIND_MAX; k++) {
                qsort(t[k], (size_t) rounds, sizeof(double), cmp_double);
                printf("  %-40s p50 %8.1f  p90 %8.1f  p99 %8.1f\n", kind_names[k], t[k][rounds / 2],
                       t[k][rounds * 9 / 10], t[k][rounds * 99 / 100]);
                free(t[k]);
        }
        return 0;
}
