/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Removing emptied cgroup directories off the event loop. rmdir() of a
 * cgroup is among the kernel's slower operations (20 to 75 us per
 * hierarchy on the project's machines, under the kernel's global cgroup
 * mutex, which any process on the host may hold for as long as it likes),
 * and every sandbox's end removes one directory in each hierarchy: on the
 * loop, the next request waited behind them. A thread of its own removes
 * them instead, in the order they were queued; the loop learns of each
 * removal's outcome from an eventfd.
 *
 * The remover only makes the system calls. What a removal means (counts,
 * the records of the cgroups, what to do with one the kernel keeps) stays
 * with the caller, on the loop: cgroup.c.
 */
#pragma once

#include <stddef.h>

#include "macro.h"

/* A cgroup's directories, at most one per hierarchy and its cgroup2 payload leaf. */
#define CGROUP_REMOVAL_DIRS_MAX 5

typedef struct CgroupRemoval {
        /* Filled by the caller, untouched by the remover. Removed in this order. A failure of one of the first
         * n_must ends the removal (a cgroup2 directory that is busy must keep the others, which hold its
         * limits); past them, one that fails is left and the rest still go. */
        struct {
                int parent_fd; /* borrowed: stays open until the removal is done */
                char *name;    /* below parent_fd, freed with the removal */
        } dirs[CGROUP_REMOVAL_DIRS_MAX];
        size_t n_dirs;
        size_t n_must;
        void *userdata;

        /* The outcome, once done: how many of dirs went (ENOENT counts as gone), and the errno of the first
         * that did not (0 if all went). */
        size_t n_removed;
        int error;

        struct CgroupRemoval *next;
} CgroupRemoval;

typedef struct CgroupRemover CgroupRemover;

/* Starts the remover's thread: 0, or -errno (the caller then removes directories itself). */
int cgroup_remover_new(CgroupRemover **ret);

/*
 * Waits until every queued removal is done, so that no directory a caller
 * asked to remove outlives it by the remover's doing, and stops the thread.
 * Removals done but not taken are handed to done(removal, userdata) first,
 * in order, and freed.
 */
CgroupRemover *cgroup_remover_free(CgroupRemover *r, void (*done)(CgroupRemoval *removal, void *userdata),
                                   void *userdata);

/* Readable (an eventfd) while removals are done and not taken yet. */
int cgroup_remover_fd(const CgroupRemover *r);

/* A removal for the caller to fill, or NULL without memory. */
CgroupRemoval *cgroup_removal_new(void);

/* Frees a removal and its names (one taken, or one never queued). */
CgroupRemoval *cgroup_removal_free(CgroupRemoval *removal);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgroupRemoval *, cgroup_removal_free);

/* Queues removal, which the remover owns until it is taken back. Never blocks. */
void cgroup_remover_queue(CgroupRemover *r, CgroupRemoval *removal);

/* The next removal done, oldest first, or NULL; the caller frees it. Resets the eventfd once none is left. */
CgroupRemoval *cgroup_remover_take_done(CgroupRemover *r);
