/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Authorisation: the checks that keep a non-root caller's request within
 * what the caller already has. Each rule is one named check, run in a fixed
 * order so the first violation is the one reported. The daemon is root and
 * every field here comes from a client, so every check fails closed.
 */

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fd-util.h"
#include "namespace-fd.h"
#include "policy.h"
#include "spawn.h"
#include "varlink-message.h"

/* ---- denials ---- */

_printf_(4, 5) static int deny(PolicyDenial *d, PolicyDenialKind kind, const char *field, const char *format, ...) {
        va_list ap;

        if (!d)
                return -EPERM;

        *d = (PolicyDenial) { .kind = kind };
        snprintf(d->field, sizeof(d->field), "%s", field);
        va_start(ap, format);
        vsnprintf(d->reason, sizeof(d->reason), format, ap);
        va_end(ap);
        return -EPERM;
}

struct json_object *policy_denial_to_error(const PolicyDenial *d) {
        switch (d->kind) {
        case POLICY_DENIAL_INVALID_PARAMETER:
                return varlink_error_invalid_parameter(d->field);
        case POLICY_DENIAL_QUOTA_EXCEEDED:
                return nsbox_error_quota_exceeded(d->field);
        default:
                return varlink_error_permission_denied();
        }
}

/* ---- quotas ---- */

int policy_check_quota(const PolicyRule *r, const DaemonLimits *l, unsigned n_caller_live, unsigned n_total_live,
                       PolicyDenial *ret_denial) {
        DaemonLimits d;
        unsigned max;

        if (!l) {
                limits_init(&d);
                l = &d;
        }

        max = policy_max_sandboxes(r, l);
        if (n_caller_live >= max)
                return deny(ret_denial, POLICY_DENIAL_QUOTA_EXCEEDED, "sandboxes-per-user",
                            "%u live sandboxes, %u allowed by [%s]", n_caller_live, max, r->source);
        if (n_total_live >= l->sandboxes)
                return deny(ret_denial, POLICY_DENIAL_QUOTA_EXCEEDED, "sandboxes",
                            "%u live sandboxes in total, %u allowed", n_total_live, l->sandboxes);
        return 0;
}

/* ---- spawn requests ---- */

/* What every check of one request reads. */
typedef struct SpawnCheck {
        const PolicyRule *rule;
        const Caller *caller;
        const SpawnRequest *req;
        const SubidRanges *subuid, *subgid; /* may be NULL */
        bool new_userns;                    /* the request creates a user namespace */
        bool joined_userns;                 /* the request joins one */
        PolicyDenial *denial;
} SpawnCheck;

static bool ranges_overlap(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size) {
        return (uint64_t) a < (uint64_t) b + b_size && (uint64_t) b < (uint64_t) a + a_size;
}

static bool id_mapped_inside(const IdMapping *m, size_t n, uint32_t id) {
        for (size_t i = 0; i < n; i++)
                if (id >= m[i].container_id && (uint64_t) id < (uint64_t) m[i].container_id + m[i].size)
                        return true;
        return false;
}

static bool caller_has_group(const Caller *caller, gid_t want) {
        if (caller->gid == want)
                return true;
        for (size_t i = 0; i < caller->n_groups; i++)
                if (caller->groups[i] == want)
                        return true;
        return false;
}

static bool request_joins(const SpawnRequest *req, NamespaceType t) {
        for (size_t i = 0; i < req->n_join_namespaces; i++)
                if (req->join_namespaces[i].type == t)
                        return true;
        return false;
}

static int lookup_user_name(uid_t uid, char **ret) {
        long bufsize = sysconf(_SC_GETPW_R_SIZE_MAX);

        if (bufsize <= 0)
                bufsize = 4096;
        for (;;) {
                _cleanup_free_ char *buf = malloc((size_t) bufsize);
                struct passwd pw, *result = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = getpwuid_r(uid, &pw, buf, (size_t) bufsize, &result);
                if (r == 0) {
                        char *name = NULL;

                        if (result) {
                                name = strdup(result->pw_name);
                                if (!name)
                                        return -ENOMEM;
                        }
                        *ret = name; /* NULL: no name, only numeric subid lines can match */
                        return 0;
                }
                if (r != ERANGE || bufsize > 1024 * 1024)
                        return -r;
                bufsize *= 2;
        }
}

/* Every namespace type created must be one the rule allows. */
static int check_namespace_types(const SpawnCheck *c) {
        unsigned forbidden = c->req->namespaces & ~c->rule->namespaces;

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (forbidden & NAMESPACE_BIT(t))
                        return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, "namespaces",
                                    "namespace type '%s' is not allowed for uid %u by [%s]",
                                    namespace_type_to_string(t), (unsigned) c->caller->uid, c->rule->source);
        return 0;
}

static int check_keep_alive(const SpawnCheck *c) {
        if (c->req->keep_alive && !c->rule->keep_alive)
                return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, "keepAlive",
                            "keepAlive is not allowed for uid %u by [%s]", (unsigned) c->caller->uid,
                            c->rule->source);
        return 0;
}

/*
 * "dev" on a bind (bubblewrap's --dev-bind) leaves nodev off the new mount;
 * mount setup never clears a nodev the source has, so the caller reaches only
 * device nodes it could open on the host already, with the same permission
 * checks. device-binds=no refuses even that. On any other type "dev" is for
 * root only (mount setup refuses it).
 */
static int check_device_binds(const SpawnCheck *c) {
        for (size_t i = 0; i < c->req->n_mounts; i++) {
                char field[48];

                if (!c->req->mounts[i].allow_dev || c->rule->device_binds)
                        continue;
                snprintf(field, sizeof field, "mounts[%zu].options", i);
                return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, field,
                            "device binds (option \"dev\") are not allowed for uid %u by [%s]",
                            (unsigned) c->caller->uid, c->rule->source);
        }
        return 0;
}

/* Filters a caller adds (seccompFileDescriptors) only ever narrow: what matters is what replaces the default. */
static int check_seccomp(const SpawnCheck *c) {
        const SpawnRequest *req = c->req;
        unsigned rule = c->rule->seccomp;

        if (req->seccomp && rule < POLICY_SECCOMP_OWN)
                return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, "seccomp",
                            "uid %u must use the default seccomp profile by [%s]", (unsigned) c->caller->uid,
                            c->rule->source);
        if (req->seccomp_profile == SECCOMP_PROFILE_UNCONFINED &&
            !(rule == POLICY_SECCOMP_UNCONFINED || (rule == POLICY_SECCOMP_OWN && req->n_seccomp_fds > 0)))
                return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, "seccompProfile",
                            "uid %u may not run without the default seccomp profile by [%s]",
                            (unsigned) c->caller->uid, c->rule->source);
        return 0;
}

/* Outside a user namespace of its own a capability would count on the host; a bounding set only narrows. */
static int check_capabilities(const SpawnCheck *c) {
        char field[64];

        if (!c->req->capabilities || c->new_userns || c->joined_userns)
                return 0;
        for (CapabilitySet k = 0; k < _CAPABILITY_SET_MAX; k++)
                if (k != CAPABILITY_SET_BOUNDING && c->req->capabilities->n_names[k] > 0) {
                        snprintf(field, sizeof field, "capabilities.%s", capability_set_to_string(k));
                        return deny(c->denial, POLICY_DENIAL_PERMISSION_DENIED, field,
                                    "uid %u: capabilities outside a user namespace are for root only",
                                    (unsigned) c->caller->uid);
                }
        return 0;
}

typedef struct MappingList {
        const char *list;          /* "uidMappings" */
        const char *id_kind;       /* "uid" */
        const char *file;          /* "the subuid file" */
        const IdMapping *maps;
        size_t n_maps;
        uint32_t own_id;           /* the caller's uid, or primary gid */
        const SubidRanges *ranges; /* may be NULL */
} MappingList;

/* As newuidmap/newgidmap decide: each entry is exactly the caller's own id, or lies inside one granted range;
 * and no two entries overlap, inside or outside. ret_used_range may be NULL. */
static int check_mapping_list(const SpawnCheck *c, const MappingList *l, const char *name, bool *ret_used_range) {
        bool allow_ranges = c->rule->subid_ranges, used_range = false;
        uid_t uid = c->caller->uid;
        char field[128];

        for (size_t i = 0; i < l->n_maps; i++) {
                const IdMapping *m = &l->maps[i];

                if (m->size == 0 || (uint64_t) m->container_id + m->size > UINT32_MAX ||
                    (uint64_t) m->host_id + m->size > UINT32_MAX) {
                        snprintf(field, sizeof(field), "%s[%zu].size", l->list, i);
                        return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field, "empty or overflowing range");
                }

                if (m->host_id == l->own_id && m->size == 1)
                        ; /* its own id */
                else if (allow_ranges && subid_contains(l->ranges, uid, name, m->host_id, m->size))
                        used_range = true;
                else {
                        /* Name the part that is wrong: the start, or only the length. */
                        bool start_ok = m->host_id == l->own_id ||
                                        (allow_ranges && subid_contains(l->ranges, uid, name, m->host_id, 1));

                        snprintf(field, sizeof(field), "%s[%zu].%s", l->list, i, start_ok ? "size" : "hostID");
                        if (!allow_ranges && m->host_id != l->own_id)
                                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "host %s %" PRIu32
                                            " is not the caller's own and the policy allows no %s ranges",
                                            l->id_kind, m->host_id, l->file);
                        return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "host %ss %" PRIu32 "..%" PRIu64 " are neither the caller's own %s %" PRIu32
                                    " nor inside one range %s grants it",
                                    l->id_kind, m->host_id, (uint64_t) m->host_id + m->size - 1, l->id_kind,
                                    l->own_id, l->file);
                }

                for (size_t j = 0; j < i; j++) {
                        if (ranges_overlap(m->container_id, m->size, l->maps[j].container_id, l->maps[j].size)) {
                                snprintf(field, sizeof(field), "%s[%zu].containerID", l->list, i);
                                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "container range overlaps %s[%zu]", l->list, j);
                        }
                        if (ranges_overlap(m->host_id, m->size, l->maps[j].host_id, l->maps[j].size)) {
                                snprintf(field, sizeof(field), "%s[%zu].hostID", l->list, i);
                                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "host range overlaps %s[%zu]", l->list, j);
                        }
                }
        }

        if (ret_used_range)
                *ret_used_range = used_range;
        return 0;
}

static bool maps_only_own_id(const IdMapping *maps, size_t n, uint32_t own_id) {
        for (size_t i = 0; i < n; i++)
                if (maps[i].host_id != own_id || maps[i].size != 1)
                        return false;
        return true;
}

/* uidMappings and gidMappings; *ret_used_subgid: a granted subgid range is mapped. */
static int check_id_mappings(const SpawnCheck *c, bool *ret_used_subgid) {
        const SpawnRequest *req = c->req;
        _cleanup_free_ char *name = NULL;
        bool used_subgid;
        int r;

        if (req->n_uid_mappings == 0 && req->n_gid_mappings == 0) {
                *ret_used_subgid = false;
                return 0;
        }

        /* The name matters only for subid lines, and NSS is slow: look it up only then. */
        if (!maps_only_own_id(req->uid_mappings, req->n_uid_mappings, c->caller->uid) ||
            !maps_only_own_id(req->gid_mappings, req->n_gid_mappings, c->caller->gid)) {
                r = lookup_user_name(c->caller->uid, &name);
                if (r < 0)
                        return r;
        }

        r = check_mapping_list(c,
                               &(MappingList) {
                                       .list = "uidMappings",
                                       .id_kind = "uid",
                                       .file = "the subuid file",
                                       .maps = req->uid_mappings,
                                       .n_maps = req->n_uid_mappings,
                                       .own_id = c->caller->uid,
                                       .ranges = c->subuid,
                               },
                               name, NULL);
        if (r < 0)
                return r;

        r = check_mapping_list(c,
                               &(MappingList) {
                                       .list = "gidMappings",
                                       .id_kind = "gid",
                                       .file = "the subgid file",
                                       .maps = req->gid_mappings,
                                       .n_maps = req->n_gid_mappings,
                                       .own_id = c->caller->gid,
                                       .ranges = c->subgid,
                               },
                               name, &used_subgid);
        if (r < 0)
                return r;

        *ret_used_subgid = used_subgid;
        return 0;
}

/*
 * With setgroups "allow" the sandbox may set its own supplementary groups,
 * and so drop one that denies the caller access (a file mode like
 * "rwx---rwx"). That is a right /etc/subgid grants, as newgidmap decides it:
 * only with a granted subgid range mapped. Absent means "allow" exactly then.
 */
static int decide_setgroups(const SpawnCheck *c, bool used_subgid, bool *ret_allow) {
        if (c->req->setgroups > 0 && !used_subgid)
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "setgroups",
                            "setgroups allow needs a mapped /etc/subgid range");
        *ret_allow = c->new_userns && (c->req->setgroups > 0 || (c->req->setgroups < 0 && used_subgid));
        return 0;
}

/* user inside a new user namespace: only ids its maps define; additional groups only where setgroups() works. */
static int check_user_in_new_userns(const SpawnCheck *c, bool setgroups_allow) {
        const SpawnRequest *req = c->req;
        char field[128];

        if (req->n_uid_mappings > 0 && !id_mapped_inside(req->uid_mappings, req->n_uid_mappings, req->uid))
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "user.uid",
                            "uid %" PRIu32 " is not mapped in the sandbox", req->uid);
        if (req->n_gid_mappings > 0 && !id_mapped_inside(req->gid_mappings, req->n_gid_mappings, req->gid))
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "user.gid",
                            "gid %" PRIu32 " is not mapped in the sandbox", req->gid);
        if (req->n_additional_gids > 0 && !setgroups_allow)
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "user.additionalGids",
                            "additional groups need setgroups allowed");
        for (size_t i = 0; i < req->n_additional_gids; i++)
                if (req->n_gid_mappings > 0 &&
                    !id_mapped_inside(req->gid_mappings, req->n_gid_mappings, req->additional_gids[i])) {
                        snprintf(field, sizeof(field), "user.additionalGids[%zu]", i);
                        return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "gid %" PRIu32 " is not mapped in the sandbox", req->additional_gids[i]);
                }
        return 0;
}

/* user without any user namespace: the ids are host ids, so only what the caller already is. */
static int check_user_on_host(const SpawnCheck *c) {
        const SpawnRequest *req = c->req;
        char field[128];

        if (req->uid != c->caller->uid)
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "user.uid",
                            "uid %" PRIu32 " is not the caller's own", req->uid);
        if (!caller_has_group(c->caller, req->gid))
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, "user.gid",
                            "gid %" PRIu32 " is not one of the caller's groups", req->gid);
        for (size_t i = 0; i < req->n_additional_gids; i++)
                if (!caller_has_group(c->caller, req->additional_gids[i])) {
                        snprintf(field, sizeof(field), "user.additionalGids[%zu]", i);
                        return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "gid %" PRIu32 " is not one of the caller's groups", req->additional_gids[i]);
                }
        return 0;
}

static int check_user(const SpawnCheck *c, bool setgroups_allow) {
        if (!c->req->has_user)
                return 0;
        if (c->new_userns)
                return check_user_in_new_userns(c, setgroups_allow);
        /* Inside a joined user namespace the kernel refuses ids its owner did not map. */
        if (c->joined_userns)
                return 0;
        return check_user_on_host(c);
}

/* A hard limit above what the caller's sandboxes get anyway would be a limit it does not have. */
static int check_rlimits(const SpawnCheck *c) {
        for (size_t i = 0; i < c->req->n_rlimits; i++) {
                const SandboxRlimit *l = &c->req->rlimits[i];
                struct rlimit base;
                char field[64];

                spawn_get_default_rlimit(l->type, &base);
                if (base.rlim_max == RLIM_INFINITY || l->hard <= base.rlim_max)
                        continue;
                snprintf(field, sizeof(field), "rlimits[%zu].hard", i);
                return deny(c->denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                            "%s hard limit %" PRIu64 " is above the %llu sandboxes get", rlimit_type_to_string(l->type),
                            l->hard, (unsigned long long) base.rlim_max);
        }
        return 0;
}

static int check_unprivileged(const SpawnCheck *c, PolicyDecision *ret_decision) {
        bool used_subgid = false, setgroups_allow = false;
        int r;

        r = check_namespace_types(c);
        if (r < 0)
                return r;
        r = check_keep_alive(c);
        if (r < 0)
                return r;
        r = check_device_binds(c);
        if (r < 0)
                return r;
        r = check_seccomp(c);
        if (r < 0)
                return r;
        r = check_capabilities(c);
        if (r < 0)
                return r;
        r = check_id_mappings(c, &used_subgid);
        if (r < 0)
                return r;
        r = decide_setgroups(c, used_subgid, &setgroups_allow);
        if (r < 0)
                return r;
        r = check_user(c, setgroups_allow);
        if (r < 0)
                return r;
        r = check_rlimits(c);
        if (r < 0)
                return r;

        *ret_decision = (PolicyDecision) { .setgroups_allow = setgroups_allow };
        return 0;
}

int policy_check_spawn(const Policy *p, const Caller *caller, const SpawnRequest *req,
                       const SubidRanges *subuid, const SubidRanges *subgid, PolicyDecision *ret_decision,
                       PolicyDenial *ret_denial) {
        PolicyRule rule;

        if (!caller || !req || !ret_decision)
                return -EINVAL;

        /* The uid decides, not the privileged flag: whatever marked the caller, only uid 0 is root. */
        if (caller->uid == 0) {
                *ret_decision = (PolicyDecision) { .setgroups_allow = req->setgroups != 0 };
                return 0;
        }

        policy_lookup(p, caller->uid, caller->gid, caller->groups, caller->n_groups, &rule);
        return check_unprivileged(&(SpawnCheck) {
                                          .rule = &rule,
                                          .caller = caller,
                                          .req = req,
                                          .subuid = subuid,
                                          .subgid = subgid,
                                          .new_userns = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER),
                                          /* Ids and capabilities count in a user namespace entered after
                                           * setup too, which the caller could enter itself. */
                                          .joined_userns = request_joins(req, NAMESPACE_USER) ||
                                                           req->command_userns_fd_index >= 0,
                                          .denial = ret_denial,
                                  },
                                  ret_decision);
}

/* ---- Exec ---- */

int policy_check_exec(const Policy *p, const Caller *caller, bool sandbox_unconfined, const SpawnRequest *process,
                      PolicyDenial *ret_denial) {
        PolicyRule rule;

        if (!caller || !process)
                return -EINVAL;
        if (caller->uid == 0)
                return 0;

        policy_lookup(p, caller->uid, caller->gid, caller->groups, caller->n_groups, &rule);
        if (process->keep_alive && !rule.keep_alive)
                return deny(ret_denial, POLICY_DENIAL_PERMISSION_DENIED, "keepAlive",
                            "keepAlive is not allowed for uid %u by [%s]", (unsigned) caller->uid, rule.source);
        /* The sandbox's own programs are gone with its start: without a profile, the process is as confined as
         * the rule wants only with programs of its own. */
        if (sandbox_unconfined && !(rule.seccomp == POLICY_SECCOMP_UNCONFINED ||
                                    (rule.seccomp == POLICY_SECCOMP_OWN && process->n_seccomp_fds > 0)))
                return deny(ret_denial, POLICY_DENIAL_PERMISSION_DENIED, "seccompFileDescriptors",
                            "uid %u may not run without the default seccomp profile by [%s]", (unsigned) caller->uid,
                            rule.source);
        return 0;
}

/* ---- joining existing namespaces ---- */

int policy_check_join_namespace(int fd, NamespaceType type, uid_t caller_uid) {
        _cleanup_close_ int ns = -EBADF;
        int r;

        r = namespace_fd_open(fd, type, &ns);
        if (r < 0)
                return r;
        if (caller_uid == 0)
                return 0;
        return namespace_fd_owned_by(ns, type, caller_uid);
}

/* ---- resource limits ---- */

/*
 * One limit: the request's value (0: none asked) within the rule's maximum,
 * or where none is asked the rule's default, else its maximum. A default
 * above the maximum is held to it.
 */
static int resolve_one(const PolicyRule *rule, uint64_t requested, uint64_t max, uint64_t dflt, const char *field,
                       uint64_t *ret, PolicyDenial *d) {
        if (requested != 0) {
                if (policy_limit_is_set(max) && requested > max)
                        return deny(d, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "%s %" PRIu64 " is above the maximum %" PRIu64 " that [%s] allows", field,
                                    requested, max, rule->source);
                *ret = requested;
        } else if (policy_limit_is_set(dflt))
                *ret = policy_limit_is_set(max) ? MIN(dflt, max) : dflt;
        else
                *ret = policy_limit_is_set(max) ? max : 0;
        return 0;
}

#define USEC_PER_SEC 1000000U

/* CPU µs per second of wall time, the policy's measure of a quota. */
static uint64_t quota_rate(uint64_t quota, uint64_t period) {
        return quota * USEC_PER_SEC / (period ?: CGROUP_CPU_PERIOD_DEFAULT_USEC);
}

static uint64_t rate_to_quota(uint64_t rate) {
        return MAX(rate * CGROUP_CPU_PERIOD_DEFAULT_USEC / USEC_PER_SEC, (uint64_t) CGROUP_CPU_PERIOD_MIN_USEC);
}

static void limits_from_policy(const PolicyLimits *p, CgroupLimits *ret) {
        CgroupLimits l = CGROUP_LIMITS_NONE;

        if (policy_limit_is_set(p->memory_max))
                l.memory_max = p->memory_max;
        if (policy_limit_is_set(p->memory_high))
                l.memory_high = p->memory_high;
        if (policy_limit_is_set(p->memory_swap_max))
                l.memory_swap_max = p->memory_swap_max;
        if (policy_limit_is_set(p->tasks_max))
                l.tasks_max = p->tasks_max;
        if (policy_limit_is_set(p->cpu_quota))
                l.cpu_quota_usec = rate_to_quota(p->cpu_quota);
        if (policy_limit_is_set(p->cpu_weight))
                l.cpu_weight = p->cpu_weight;
        *ret = l;
}

/* The limits as SandboxInfo reports them, in the request's terms (OCI's memory and swap together). */
static void resources_from_limits(const CgroupLimits *l, const SandboxResources *asked, SandboxResources *ret) {
        SandboxResources r = {};

        if (l->memory_max != CGROUP_LIMIT_MAX) {
                r.memory_limit = l->memory_max;
                if (l->memory_swap_max != CGROUP_LIMIT_MAX)
                        r.memory_swap = l->memory_max + MIN(l->memory_swap_max, (uint64_t) INT64_MAX - l->memory_max);
        }
        if (l->memory_high != CGROUP_LIMIT_MAX)
                r.memory_high = l->memory_high;
        if (l->tasks_max != CGROUP_LIMIT_MAX)
                r.pids_limit = l->tasks_max;
        r.cpu_quota = l->cpu_quota_usec;
        r.cpu_period = l->cpu_quota_usec != 0 || l->cpu_period_usec != 0 ?
                               (l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC) : 0;
        r.cpu_shares = l->cpu_shares;
        r.cpu_weight = l->cpu_weight;
        (void) asked;
        *ret = r;
}

bool policy_user_limits(const PolicyRule *rule, CgroupLimits *ret) {
        CgroupLimits unlimited = CGROUP_LIMITS_NONE;

        *ret = unlimited;
        if (rule->unrestricted)
                return false;
        limits_from_policy(&rule->user, ret);
        return memcmp(ret, &unlimited, sizeof *ret) != 0;
}

int policy_resolve_limits(const PolicyRule *rule, const SpawnRequest *req, PolicyLimitsDecision *ret,
                          PolicyDenial *ret_denial) {
        const SandboxResources *a = &req->resources;
        PolicyLimitsDecision d = { .sandbox = CGROUP_LIMITS_NONE, .user = CGROUP_LIMITS_NONE };
        const PolicyLimits none = {}, *max = rule->unrestricted ? &none : &rule->max,
                           *dflt = rule->unrestricted ? &none : &rule->defaults;
        uint64_t v, asked;
        int r;

        r = resolve_one(rule, a->memory_limit, max->memory_max, dflt->memory_max, "resources.memory.limit", &v,
                        ret_denial);
        if (r < 0)
                return r;
        if (v != 0)
                d.sandbox.memory_max = v;

        r = resolve_one(rule, a->memory_high, max->memory_high, dflt->memory_high, "resources.memory.high", &v,
                        ret_denial);
        if (r < 0)
                return r;
        if (v != 0)
                d.sandbox.memory_high = v;

        /* OCI's swap counts memory too; the policy, as systemd, counts swap alone. No swap at all is a request
         * too (swap == limit), so this one does not take 0 for "none asked". */
        if (a->memory_swap != 0) {
                asked = a->memory_swap - a->memory_limit;
                if (policy_limit_is_set(max->memory_swap_max) && asked > max->memory_swap_max)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "resources.memory.swap",
                                    "%" PRIu64 " bytes of swap are above the maximum %" PRIu64 " that [%s] allows",
                                    asked, max->memory_swap_max, rule->source);
                d.sandbox.memory_swap_max = asked;
        } else {
                r = resolve_one(rule, 0, max->memory_swap_max, dflt->memory_swap_max, "resources.memory.swap", &v,
                                ret_denial);
                if (r < 0)
                        return r;
                if (v != 0)
                        d.sandbox.memory_swap_max = v;
        }

        r = resolve_one(rule, a->pids_limit, max->tasks_max, dflt->tasks_max, "resources.pids.limit", &v,
                        ret_denial);
        if (r < 0)
                return r;
        if (v != 0)
                d.sandbox.tasks_max = v;

        asked = a->cpu_quota != 0 ? quota_rate(a->cpu_quota, a->cpu_period) : 0;
        r = resolve_one(rule, asked, max->cpu_quota, dflt->cpu_quota, "resources.cpu.quota", &v, ret_denial);
        if (r < 0)
                return r;
        if (a->cpu_quota != 0) {
                d.sandbox.cpu_quota_usec = a->cpu_quota;
                d.sandbox.cpu_period_usec = a->cpu_period;
        } else if (v != 0)
                d.sandbox.cpu_quota_usec = rate_to_quota(v);
        else
                d.sandbox.cpu_period_usec = a->cpu_period; /* a period alone, as OCI allows */

        asked = a->cpu_weight ?: a->cpu_shares ? MAX(a->cpu_shares * 100U / 1024U, 1U) : 0;
        r = resolve_one(rule, asked, max->cpu_weight, dflt->cpu_weight,
                        a->cpu_shares ? "resources.cpu.shares" : "resources.cpu.weight", &v, ret_denial);
        if (r < 0)
                return r;
        if (a->cpu_shares != 0)
                d.sandbox.cpu_shares = a->cpu_shares;
        else if (v != 0)
                d.sandbox.cpu_weight = v;

        r = resolve_one(rule, req->runtime_max_usec, max->runtime_max_usec, dflt->runtime_max_usec, "runtimeMaxUSec",
                        &d.runtime_max_usec, ret_denial);
        if (r < 0)
                return r;

        d.has_user = policy_user_limits(rule, &d.user);

        resources_from_limits(&d.sandbox, a, &d.resources);
        *ret = d;
        return 0;
}
