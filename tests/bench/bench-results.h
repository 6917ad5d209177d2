/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What one benchmark run measured, and how it is shown: a table for people,
 * JSON for machines, and the project's performance targets checked against
 * the numbers (reported, never asserted).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench-memory.h"
#include "bench-stats.h"

typedef enum Method {
        METHOD_CLONE3,  /* the raw baseline, compiled in */
        METHOD_NSBOXD,
        METHOD_UNSHARE, /* unshare(1) */
        METHOD_BWRAP,
        METHOD_CLONE_VM, /* the raw baseline with CLONE_VM (posix_spawn()-style); not run by default */
        METHOD_NSBOXD_LIMITS,    /* nsboxd, each sandbox with memory, pids and CPU limits in its cgroup */
        METHOD_NSBOXD_NO_CGROUP, /* a second nsboxd, started with --no-cgroups: no cgroup step at all */
        METHOD_NSBOXD_POOL,      /* a third nsboxd, with a warm pool for the benchmark's shapes */
        _METHOD_MAX,
} Method;

const char *method_to_string(Method m);
int method_from_string(const char *s); /* -EINVAL if unknown */

typedef struct NamespaceSet {
        char name[128]; /* "user+pid", "none", "all" */
        unsigned mask;  /* NAMESPACE_BIT() mask */
} NamespaceSet;

typedef struct CellResult {
        size_t set;           /* index into BenchResults.sets */
        unsigned concurrency; /* clients at once */
        Method method;
        int error;            /* 0, or why the cell has no numbers (negative errno) */
        bool skipped;         /* not run at all (tool missing or unable), note says why */
        char note[160];       /* caveat or error detail */
        LatencySummary spawn; /* n == 0 where the method has no separate spawn step */
        LatencySummary exit;
        double per_second;    /* sandboxes completed per second of wall time */
        /* nsboxd+pool: the daemon's warm-pool counters over the measured spawns (not the warm-up) */
        bool pool_measured;
        uint64_t pool_hits;
        uint64_t pool_misses;
        uint64_t pool_fills;         /* entries made (parked) meanwhile */
        uint64_t pool_fill_cpu_usec; /* the daemon's CPU making them */
        uint64_t pool_fill_usec;     /* their time from start to parked, summed */
} CellResult;

/* Spawn+wait at one client with a number of sandboxes alive: does the daemon's cost grow with them? */
typedef struct ScalePoint {
        bool measured;
        int error;
        size_t n_live;
        /* The machine was quiet before the cell (at most one other task runnable): false when the kernel
         * was still busy after 60 s with the live ones' start or end, which the cell then measures too. */
        bool settled;
        LatencySummary spawn;
        LatencySummary exit;
        double per_second;
        double cpu_ns;      /* the daemon's CPU time per spawn+wait (its own, without the children's) */
        /* The raw baseline's cell right after, with as many alive: what the kernel's own cost does with
         * them (its namespaces, pids and ids come from the same allocators the live ones fill). */
        bool raw_measured;
        LatencySummary raw_spawn;
        double raw_cpu_ns;  /* the benchmark's own CPU time per clone3+wait (the parent's side, as cpu_ns) */
} ScalePoint;

enum {
        SCALE_BEFORE,    /* nothing alive */
        SCALE_LIVE,      /* n_live alive */
        SCALE_AFTER,     /* nothing alive again: tells drift of the machine from growth with the table */
        _SCALE_MAX,
};

typedef struct MemoryResult {
        bool measured;
        int error;
        char note[160];
        char namespaces[128];    /* the namespace set of the live sandboxes */
        bool pid_namespace;      /* with one: each sandbox's top process is its init */
        size_t n_live;
        MemoryUsage idle;        /* fresh daemon, before the latency runs */
        MemoryUsage before_live; /* after the latency runs, nothing live */
        MemoryUsage live;        /* n_live sandboxes alive */
        MemoryUsage after_exit;  /* all of them gone */
        size_t fds_before_live;  /* the daemon's open fds before the live sandboxes and with them */
        size_t fds_live;
        uint64_t children_pss;   /* the Pss of the daemon's children while n_live were alive: */
        size_t n_children;       /* the sandboxes' inits, or their commands without init */
        /* One List with n_live alive: how many came, the daemon's CPU for it, and its memory right before
         * and right after (what the List left behind). */
        bool list_measured;
        size_t n_listed;
        uint64_t list_cpu_ns;
        MemoryUsage before_list;
        MemoryUsage after_list;
        ScalePoint scale[_SCALE_MAX];
} MemoryResult;

#define LIVE_SETS_MAX 4

typedef struct BenchResults {
        const NamespaceSet *sets;
        size_t n_sets;
        const unsigned *concurrency;
        size_t n_concurrency;
        CellResult *cells;
        size_t n_cells;
        MemoryResult memory[LIVE_SETS_MAX]; /* one per live namespace set */
        size_t n_memory;

        /* the configuration, echoed in the output */
        const char *program;
        unsigned iterations;
        unsigned warmup;
        unsigned pace_msec; /* each client's pause after every sandbox */
        uint32_t map_host_id;
        uint32_t map_size;

        /* the machine, so a reader can judge the numbers */
        char kernel[128];       /* uname -r */
        long cpus;              /* online CPUs */
        char cgroups[128];      /* the cgroup layout: cgroup2, how many v1 hierarchies */
        double load_before[3];  /* /proc/loadavg when the run started and when it ended: */
        double load_after[3];   /* other work on the machine shows up in the tails */
} BenchResults;

/* The cell of (set, concurrency, method), or NULL if it was not part of the run. */
const CellResult *bench_results_find(const BenchResults *b, size_t set, unsigned concurrency, Method method);

void bench_results_print_table(const BenchResults *b, FILE *f);
/* 0, or a negative errno if the JSON could not be built or written. */
int bench_results_print_json(const BenchResults *b, FILE *f);
