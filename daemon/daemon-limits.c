/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The limits table. A limit is one row: its name, where it lives in
 * DaemonLimits, whether it is a size, its default and its cap. Defaults,
 * parsing and validation all read the table, so a new limit is one row
 * (and a line in docs/policy.md and nsbox-policy.conf(5)).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-limits.h"
#include "macro.h"

typedef struct LimitField {
        LimitInfo info;
        size_t offset;
        bool is_size_t; /* else unsigned */
        uint64_t def;
} LimitField;

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

#define LIMIT_FROM(n, field, bytes, def, min, max)                                                             \
        {                                                                                                      \
                { n, bytes, min, max }, offsetof(DaemonLimits, field),                                         \
                        __builtin_types_compatible_p(typeof(((DaemonLimits *) 0)->field), size_t), def         \
        }
#define LIMIT(n, field, bytes, def, max) LIMIT_FROM(n, field, bytes, def, 1, max)

static const LimitField limit_fields[] = {
        LIMIT("connections", connections, false, 1024, 1000000),
        LIMIT("connections-per-user", connections_per_uid, false, 64, 1000000),
        LIMIT("message-size", message_size, true, 1 * MiB, 256 * MiB),
        /* Enough for every fd a Spawn can use; fds of a message that never completes stay
         * held, so this times connections-per-user bounds what one user can pin. */
        LIMIT("fds-per-message", fds_per_message, false, 96, LIMITS_FDS_PER_MESSAGE_CAP),
        LIMIT("argv-bytes", spawn.argv_bytes_max, true, SPAWN_ARGV_BYTES_MAX_DEFAULT, 16 * MiB),
        LIMIT("env-bytes", spawn.env_bytes_max, true, SPAWN_ENV_BYTES_MAX_DEFAULT, 16 * MiB),
        LIMIT("mappings", spawn.mappings_max, false, SPAWN_MAPPINGS_MAX_DEFAULT, 340), /* the kernel's cap on map lines */
        LIMIT("mounts", spawn.mounts_max, false, SPAWN_MOUNTS_MAX_DEFAULT, 65536),
        LIMIT("sandboxes-per-user", sandboxes_per_uid, false, 64, 1000000),
        LIMIT("sandboxes", sandboxes, false, 4096, 1000000),
        LIMIT("pending-spawns", pending_spawns, false, 128, 65536),
        LIMIT("pending-spawns-per-user", pending_spawns_per_uid, false, 16, 65536),
        LIMIT("spawn-timeout", spawn_timeout_sec, false, 30, 3600),
        LIMIT("held-bytes-per-user", held_bytes_per_uid, true, 16 * MiB, 4 * GiB),
        LIMIT("held-fds-per-user", held_fds_per_uid, false, 1024, 1000000),
        /* stdinData is written into the pipe before clone3(), so it must fit one pipe buffer. */
        LIMIT("stdin-data-bytes", spawn.stdin_data_bytes_max, true, SPAWN_STDIN_DATA_BYTES_MAX_DEFAULT, 1 * MiB),
        LIMIT("capture-bytes", capture_bytes, true, 1 * MiB, 1 * GiB),
        LIMIT("capture-bytes-max", spawn.capture_bytes_max, true, SPAWN_CAPTURE_BYTES_MAX_DEFAULT, 1 * GiB),
        /* Every sandbox at capture-bytes-max would hold sandboxes-per-user times that (1 GiB) in the daemon. */
        LIMIT("capture-bytes-per-user", capture_bytes_per_uid, true, 64 * MiB, 64 * GiB),
        /* Each entry holds a spawn worker (WORKERS_MAX 256), which cold spawns must still find. */
        LIMIT("warm-pool-entries", warm_pool_entries, false, 16, 64),
        /* Empty cgroups made ahead (cgroup-spare.h), a few fds each while they wait. */
        LIMIT_FROM("spare-cgroups", spare_cgroups, false, 4, 0, 64),
};

/* The policy file tracks which limits it set in a 64-bit mask. */
_Static_assert(ELEMENTSOF(limit_fields) <= 64, "too many limits for a uint64_t mask");

static void field_store(DaemonLimits *l, const LimitField *f, uint64_t v) {
        if (f->is_size_t)
                *(size_t *) ((uint8_t *) l + f->offset) = (size_t) v;
        else
                *(unsigned *) ((uint8_t *) l + f->offset) = (unsigned) v;
}

void limits_init(DaemonLimits *l) {
        *l = (DaemonLimits) {};
        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++)
                field_store(l, &limit_fields[i], limit_fields[i].def);
}

const LimitInfo *limits_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++)
                if (streq(limit_fields[i].info.name, name))
                        return &limit_fields[i].info;
        return NULL;
}

size_t limits_index(const LimitInfo *info) {
        /* info is the first member of its row. */
        return (size_t) ((const LimitField *) info - limit_fields);
}

size_t limits_count(void) {
        return ELEMENTSOF(limit_fields);
}

int limits_parse_u64(const char *s, bool allow_suffix, uint64_t *ret) {
        uint64_t v = 0, mult = 1;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                if (!allow_suffix || p[1])
                        return -EINVAL;
                switch (*p) {
                case 'K':
                        mult = KiB;
                        break;
                case 'M':
                        mult = MiB;
                        break;
                case 'G':
                        mult = GiB;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int limits_set(DaemonLimits *l, const char *name, const char *value) {
        const LimitInfo *info;
        uint64_t v;

        if (!l || !name || !value)
                return -EINVAL;

        info = limits_find(name);
        if (!info)
                return -ENOENT;
        if (limits_parse_u64(value, info->bytes, &v) < 0 || v < info->min || v > info->max)
                return -EINVAL;

        field_store(l, &limit_fields[limits_index(info)], v);
        return 0;
}

int limits_set_assignment(DaemonLimits *l, const char *assignment) {
        _cleanup_free_ char *copy = NULL;
        char *eq;

        if (!assignment)
                return -EINVAL;
        copy = strdup(assignment);
        if (!copy)
                return -ENOMEM;
        eq = strchr(copy, '=');
        if (!eq)
                return -EINVAL;
        *eq = 0;
        return limits_set(l, copy, eq + 1);
}
