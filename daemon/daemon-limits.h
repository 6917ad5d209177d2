/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon-wide limits: every user-controlled resource has a ceiling. One
 * table (daemon-limits.c) names each limit, says where it is kept, its unit, its
 * default and its cap; the policy file's [limits] section and nsboxd's
 * --limit NAME=VALUE both set limits through it. The request decoder's
 * SpawnLimits are part of the same struct, so the daemon and the decoder
 * can never disagree on a number.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox-protocol.h"

/* Names in brackets are the limit names; the numbers are the defaults. */
typedef struct DaemonLimits {
        unsigned connections;            /* [connections] open client connections in total, 1024 */
        unsigned connections_per_uid;    /* [connections-per-user] per peer uid, 64 */
        size_t message_size;             /* [message-size] bytes of one incoming message, 1 MiB */
        unsigned fds_per_message;        /* [fds-per-message] 96 (at most 253: SCM_MAX_FD) */
        unsigned sandboxes_per_uid;      /* [sandboxes-per-user] live sandboxes per uid unless the policy
                                          * rule sets max-sandboxes, 64 */
        unsigned sandboxes;              /* [sandboxes] live sandboxes in total (root included), 4096 */
        unsigned pending_spawns;         /* [pending-spawns] spawns in flight (cloned, not yet exec'd), 128 */
        unsigned pending_spawns_per_uid; /* [pending-spawns-per-user] of those, per non-root uid, 16: a few
                                          * users with stuck spawns cannot take every slot */
        unsigned spawn_timeout_sec;      /* [spawn-timeout] seconds a spawn may take to reach execve, 30 */
        size_t held_bytes_per_uid;       /* [held-bytes-per-user] read buffers of one non-root uid's connections,
                                          * 16 MiB */
        unsigned held_fds_per_uid;       /* [held-fds-per-user] received fds not yet handled, per non-root uid, 1024 */
        size_t capture_bytes;            /* [capture-bytes] output a captureOutput sandbox keeps when the request
                                          * gives no captureBytes, 1 MiB (never more than capture-bytes-max) */
        size_t capture_bytes_per_uid;    /* [capture-bytes-per-user] captured output of one uid's sandboxes the
                                          * daemon holds for replies at once, 64 MiB */
        unsigned warm_pool_entries;      /* [warm-pool-entries] warm-pool entries of all users together, 16 (at
                                          * most 64: each holds a spawn worker) */
        unsigned spare_cgroups;          /* [spare-cgroups] sandbox cgroups made ahead for users' next cold Spawn,
                                          * 4 (0: none; at most 64) */
        /* What one Spawn request may hold, handed to spawn_request_decode() as it is:
         *   [argv-bytes] spawn.argv_bytes_max, sum of strlen+1 over argv, 128 KiB;
         *   [env-bytes] spawn.env_bytes_max, 128 KiB;
         *   [mappings] spawn.mappings_max, entries per uidMappings/gidMappings, 64;
         *   [mounts] spawn.mounts_max, 256;
         *   [stdin-data-bytes] spawn.stdin_data_bytes_max, bytes of stdinData, 64 KiB;
         *   [capture-bytes-max] spawn.capture_bytes_max, the largest captureBytes, 16 MiB.
         * Its other fields stay 0: the decoder's defaults. */
        SpawnLimits spawn;
} DaemonLimits;

#define LIMITS_FDS_PER_MESSAGE_CAP 253U

/* One row of the table, for callers that explain a refused value. */
typedef struct LimitInfo {
        const char *name; /* "message-size" */
        bool bytes;       /* a size: the value may end in K, M or G (powers of 1024) */
        uint64_t min;     /* the smallest value accepted: 1, or 0 where 0 turns a thing off */
        uint64_t max;     /* the largest value accepted */
} LimitInfo;

/* Fills *l with the defaults. */
void limits_init(DaemonLimits *l);

/* The row of the limit called name, or NULL if there is none. */
const LimitInfo *limits_find(const char *name);

/* The row's position in the table, 0 <= index < limits_count(): lets a parser notice a name set twice. */
size_t limits_index(const LimitInfo *info);
size_t limits_count(void);

/*
 * Sets one limit by its name from a decimal string (sizes also accept a K, M
 * or G suffix). -EINVAL for a malformed value or one outside the limit's
 * range (LimitInfo.min, .max); -ENOENT for an unknown name. *l untouched on failure.
 */
int limits_set(DaemonLimits *l, const char *name, const char *value);

/* Same, from "NAME=VALUE" (the --limit option's argument). */
int limits_set_assignment(DaemonLimits *l, const char *assignment);

/* Parses a plain decimal (no sign, no spaces), with a K/M/G multiplier if allow_suffix.
 * -EINVAL if malformed, -ERANGE on overflow. Shared with the policy file's numbers. */
int limits_parse_u64(const char *s, bool allow_suffix, uint64_t *ret);
