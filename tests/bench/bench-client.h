/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One benchmark client of nsboxd: a connection of its own and a prepared
 * spawn description, driven with libnsbox's blocking calls.
 */
#pragma once

#include <stdint.h>

#include "macro.h"

typedef struct DaemonClient DaemonClient;

/*
 * Connects to socket_path and prepares a Spawn of argv with the namespace set
 * namespaces (NAMESPACE_BIT() mask); with a user namespace, uid and gid maps
 * "0 map_host_id map_size" and setgroups false. init: -1 leaves "init" to the
 * daemon's default, 0 or 1 sets it.
 */
int daemon_client_new(const char *socket_path, unsigned namespaces, uint32_t map_host_id, uint32_t map_size,
                      const char *const *argv, int init, DaemonClient **ret);

/* Gives every sandbox of c limits in its cgroup (MemoryMax=256M, TasksMax=64, CPUQuota=100%,
 * CPUWeight=100), to measure what writing them costs. */
int daemon_client_set_limits(DaemonClient *c);
DaemonClient *daemon_client_free(DaemonClient *c);

/* How long one call may wait for its reply before failing with -ETIMEDOUT (and leaving the
 * connection unusable); UINT64_MAX, the default, waits for ever. */
void daemon_client_set_timeout(DaemonClient *c, uint64_t usec);
DEFINE_TRIVIAL_CLEANUP_FUNC(DaemonClient *, daemon_client_free);

/*
 * One sandbox: Spawn, then Wait. *ret_spawn_ns: from sending Spawn until its
 * reply (with the pidfd) was in hand; *ret_exit_ns: from the same start until
 * the Wait reply. -EPROTO unless the program exited with status 0.
 */
int daemon_client_run_one(DaemonClient *c, uint64_t *ret_spawn_ns, uint64_t *ret_exit_ns);

/* Spawns without waiting; the sandbox lives until it exits or the connection closes. */
int daemon_client_spawn_only(DaemonClient *c);

/* A List (streamed in pieces by a daemon that can, as libnsbox asks): *ret_n gets how many came. */
int daemon_client_list(DaemonClient *c, size_t *ret_n);

/* The warm-pool counters of a daemon (its WarmPool method, root only), running totals. */
typedef struct WarmPoolCounters {
        uint64_t hits;
        uint64_t misses;
        uint64_t fills;
        uint64_t fill_cpu_usec; /* the daemon's CPU making the entries that parked */
        uint64_t fill_usec;     /* from starting each to its parking */
} WarmPoolCounters;

int daemon_warm_pool_counters(const char *socket_path, WarmPoolCounters *ret);

/* The last Varlink error, "name stage errno" style, for messages; "" if none. */
const char *daemon_client_last_error(DaemonClient *c);
