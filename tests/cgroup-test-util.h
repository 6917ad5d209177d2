/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test cgroups: a fresh cgroup below the test process's own one in the
 * cgroup2 tree and in each v1 hierarchy nsbox uses (memory, pids, cpu), so a
 * test (or the nsboxd it starts) owns a subtree the way nsboxd does under
 * systemd's Delegate=yes, and the test can check that nothing is left below it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TEST_CGROUP_HIERARCHIES_MAX 4

typedef struct TestCgroup {
        size_t n;
        char controller[TEST_CGROUP_HIERARCHIES_MAX][16]; /* "" for cgroup2, else the v1 controller */
        char dir[TEST_CGROUP_HIERARCHIES_MAX][512];       /* the test cgroup's directory */
        char origin[TEST_CGROUP_HIERARCHIES_MAX][512];    /* the directory of the cgroup the test started in */
} TestCgroup;

/* Creates NAME below the calling process's cgroup in every hierarchy. Asserts on failure. */
void test_cgroup_create(TestCgroup *t, const char *name);

/* Moves the calling process in (asserting), or back where it came from. */
void test_cgroup_enter(const TestCgroup *t);
void test_cgroup_leave(const TestCgroup *t);

/* For a forked child before exec: moves the calling process in; 0 or -errno, never asserts. */
int test_cgroup_enter_raw(const TestCgroup *t);

/* The directory in the hierarchy of controller ("" for cgroup2), or NULL if it is not a v1 hierarchy here. */
const char *test_cgroup_dir(const TestCgroup *t, const char *controller);

/* Whether the host has controller as a cgroup v1 hierarchy (a hybrid host) or in cgroup2. */
bool test_cgroup_controller_is_v1(const char *controller);

/* Cgroups below the test cgroups, over every hierarchy, written into buf (one per line) if given. */
size_t test_cgroup_leftovers(const TestCgroup *t, char *buf, size_t size);

/* Asserts nothing is left below (if expect_empty), kills what runs there and removes the test cgroups and
 * everything below them (the calling process must have left them). */
void test_cgroup_destroy(TestCgroup *t, bool expect_empty);
