/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The set of pids a cgroup-wide signal has already reached, kept sorted so
 * each lookup is a binary search: signalling a cgroup of n processes costs
 * O(n log n) per listing, not O(n^2), whatever the cgroup's owner forked.
 *
 * Pids found in one listing are collected with pid_set_add() and become
 * visible to pid_set_contains() after pid_set_commit() re-sorts the set.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct PidSet {
        pid_t *pids;
        size_t n;         /* pids[0..n_sorted) are sorted, pids[n_sorted..n) pending */
        size_t n_sorted;
        size_t allocated;
} PidSet;

/* Whether pid was committed to s; pending pids are not seen. */
bool pid_set_contains(const PidSet *s, pid_t pid);
/* Adds pid as pending; 0 or -ENOMEM (nothing changed). */
int pid_set_add(PidSet *s, pid_t pid);
/* Sorts the pending pids into the set. */
void pid_set_commit(PidSet *s);
void pid_set_done(PidSet *s);
