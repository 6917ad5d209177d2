/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup remover on plain directories (what it does is rmdir(), which
 * needs no cgroup): removals are made in order, each stops at its first
 * failure and says how far it got, the eventfd says when one is done, and
 * freeing the remover finishes what was queued.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-removal.h"
#include "fd-util.h"

static char base[] = "/tmp/nsbt-removal-XXXXXX";
static int base_fd = -EBADF;

static void setup(void) {
        cr_assert(mkdtemp(base));
        base_fd = open(base, O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(base_fd, 0);
}

static void teardown(void) {
        (void) unlinkat(base_fd, "full/file", 0);
        (void) unlinkat(base_fd, "full", AT_REMOVEDIR);
        safe_close(base_fd);
        (void) rmdir(base);
}

TestSuite(cgroup_removal, .init = setup, .fini = teardown, .timeout = 30);

static bool exists(const char *name) {
        return faccessat(base_fd, name, F_OK, 0) >= 0;
}

static CgroupRemoval *removal_of(const char *const *names, size_t n, void *userdata) {
        CgroupRemoval *removal = cgroup_removal_new();

        cr_assert(removal);
        for (size_t i = 0; i < n; i++) {
                removal->dirs[i].parent_fd = base_fd;
                removal->dirs[i].name = strdup(names[i]);
        }
        removal->n_dirs = n;
        removal->userdata = userdata;
        return removal;
}

/* The next removal done. The eventfd may still be readable for one taken already (it is reset only when a
 * take finds none), so a take that finds none polls again. */
static CgroupRemoval *wait_done(CgroupRemover *r) {
        struct pollfd pfd = { .fd = cgroup_remover_fd(r), .events = POLLIN };
        CgroupRemoval *removal;

        for (;;) {
                cr_assert_eq(poll(&pfd, 1, 10000), 1, "no removal done");
                removal = cgroup_remover_take_done(r);
                if (removal)
                        return removal;
        }
}

Test(cgroup_removal, removes_in_order_and_stops_at_a_failure_of_the_first_ones) {
        CgroupRemover *r = NULL;
        CgroupRemoval *done;
        int one, two;

        cr_assert_eq(cgroup_remover_new(&r), 0);
        cr_assert_eq(mkdirat(base_fd, "a", 0755), 0);
        cr_assert_eq(mkdirat(base_fd, "a/leaf", 0755), 0);
        cr_assert_eq(mkdirat(base_fd, "full", 0755), 0);
        cr_assert_geq(one = openat(base_fd, "full/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644), 0);
        close(one);
        cr_assert_eq(mkdirat(base_fd, "after", 0755), 0);

        cgroup_remover_queue(r, removal_of((const char *const[]) { "a/leaf", "a", "gone-already" }, 3, &one));
        done = removal_of((const char *const[]) { "full", "after" }, 2, &two);
        done->n_must = 1;
        cgroup_remover_queue(r, done);

        done = wait_done(r);
        cr_expect_eq(done->userdata, &one, "the first queued is the first done");
        cr_expect_eq(done->error, 0);
        cr_expect_eq(done->n_removed, 3, "ENOENT counts as gone");
        cr_expect_not(exists("a"));
        cgroup_removal_free(done);

        done = wait_done(r);
        cr_expect_eq(done->userdata, &two);
        cr_expect_eq(done->error, ENOTEMPTY);
        cr_expect_eq(done->n_removed, 0);
        cr_expect(exists("after"), "a failure of one of the first n_must keeps the directories after it");
        cgroup_removal_free(done);
        cr_expect_null(cgroup_remover_take_done(r));

        /* Past them, a failure is recorded and the rest still go. */
        cgroup_remover_queue(r, removal_of((const char *const[]) { "full", "after" }, 2, &one));
        done = wait_done(r);
        cr_expect_eq(done->userdata, &one);
        cr_expect_eq(done->error, ENOTEMPTY);
        cr_expect_eq(done->n_removed, 1);
        cr_expect_not(exists("after"), "a failure past the first n_must keeps nothing else");
        cgroup_removal_free(done);
        cgroup_remover_free(r, NULL, NULL);
}

static unsigned n_finished;

static void on_done(CgroupRemoval *removal, void *userdata) {
        cr_expect_eq(removal->error, 0);
        cr_expect_eq(userdata, &n_finished);
        n_finished++;
}

Test(cgroup_removal, free_finishes_what_was_queued_and_hands_it_over) {
        CgroupRemover *r = NULL;
        char name[32];

        cr_assert_eq(cgroup_remover_new(&r), 0);
        for (int i = 0; i < 50; i++) {
                snprintf(name, sizeof name, "d%d", i);
                cr_assert_eq(mkdirat(base_fd, name, 0755), 0);
                cgroup_remover_queue(r, removal_of((const char *const[]) { name }, 1, NULL));
        }
        cgroup_remover_free(r, on_done, &n_finished);
        cr_expect_eq(n_finished, 50);
        for (int i = 0; i < 50; i++) {
                snprintf(name, sizeof name, "d%d", i);
                cr_expect_not(exists(name), "%s left", name);
        }
}
