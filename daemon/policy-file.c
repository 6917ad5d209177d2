/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy file: its parser, and the lookup that layers its sections into
 * the rule for one caller. One table of rule keys drives both: how a value
 * is written, where the rule keeps it, how several [group:] sections
 * combine, and what applies when no section sets it. A new key is one row
 * (and its field in PolicyRule, and its line in nsbox-policy.conf(5)).
 *
 * Whoever can write this file decides who gets what, so it is read strictly:
 * anything it does not understand is an error naming the line and the
 * reason, never a guess, and the daemon keeps the policy it had.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "policy-file.h"
#include "sandbox-protocol.h"

/* Bounds on what a policy file may make the daemon read and allocate. */
#define POLICY_FILE_SIZE_MAX (1024U * 1024U)
#define POLICY_LINE_MAX 4096U
#define POLICY_SECTIONS_MAX 4096U
#define POLICY_MAX_SANDBOXES_MAX 1000000U

/* ---- the rule keys ---- */

/* The limit keys come in three: NAME (the most a sandbox may ask for), default-NAME and user-NAME. */
#define LIMIT_KEY_IDS(prefix)                                                                                  \
        prefix##MEMORY_MAX, prefix##MEMORY_HIGH, prefix##MEMORY_SWAP_MAX, prefix##TASKS_MAX, prefix##CPU_QUOTA,   \
                prefix##CPU_WEIGHT

typedef enum RuleKeyId {
        KEY_NAMESPACES,
        KEY_MAX_SANDBOXES,
        KEY_KEEP_ALIVE,
        KEY_SUBID_RANGES,
        KEY_DEVICE_BINDS,
        KEY_SECCOMP,
        KEY_NESTED,
        KEY_WARM_POOL,
        LIMIT_KEY_IDS(KEY_),
        KEY_RUNTIME_MAX,
        LIMIT_KEY_IDS(KEY_DEFAULT_),
        KEY_DEFAULT_RUNTIME_MAX,
        LIMIT_KEY_IDS(KEY_USER_),
        _KEY_MAX,
} RuleKeyId;

typedef struct RuleKey {
        const char *name;
        int (*parse)(char *value, uint64_t *ret);
        const char *expected;                      /* what parse accepts, for the error */
        uint64_t (*merge)(uint64_t a, uint64_t b); /* the more permissive of two [group:] sections' values */
        uint64_t builtin;                          /* where no section sets the key */
        size_t offset;                             /* in PolicyRule */
        size_t size;                               /* of the field there: a bool, an unsigned or a uint64_t */
} RuleKey;

static int parse_bool(char *s, uint64_t *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* "mount uts,net" -> mask; "all", "none" or an empty value stand alone. */
static int parse_namespaces(char *s, uint64_t *ret) {
        unsigned mask = 0;
        size_t n_words = 0;
        bool special = false;
        char *save = NULL;

        for (char *w = strtok_r(s, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                NamespaceType t;

                n_words++;
                if (streq(w, "all")) {
                        mask = NAMESPACE_ALL;
                        special = true;
                        continue;
                }
                if (streq(w, "none")) {
                        special = true;
                        continue;
                }
                t = namespace_type_from_string(w);
                if (t < 0)
                        return -EINVAL;
                if (mask & NAMESPACE_BIT(t))
                        return -EINVAL; /* listed twice: almost certainly a mistake */
                mask |= NAMESPACE_BIT(t);
        }
        if (special && n_words != 1)
                return -EINVAL;

        *ret = mask;
        return 0;
}

static int parse_max_sandboxes(char *s, uint64_t *ret) {
        uint64_t v;

        if (limits_parse_u64(s, false, &v) < 0 || v > POLICY_MAX_SANDBOXES_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_warm_pool(char *s, uint64_t *ret) {
        uint64_t v;

        if (limits_parse_u64(s, false, &v) < 0 || v > POLICY_WARM_POOL_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_seccomp(char *s, uint64_t *ret) {
        static const char *const names[_POLICY_SECCOMP_MAX] = {
                [POLICY_SECCOMP_DEFAULT] = "default",
                [POLICY_SECCOMP_OWN] = "own",
                [POLICY_SECCOMP_UNCONFINED] = "unconfined",
        };

        for (unsigned i = 0; i < _POLICY_SECCOMP_MAX; i++)
                if (streq(names[i], s)) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

static int parse_nested(char *s, uint64_t *ret) {
        static const char *const names[_POLICY_NESTED_MAX] = {
                [POLICY_NESTED_REFUSE] = "refuse",
                [POLICY_NESTED_ALLOW] = "allow",
        };

        for (unsigned i = 0; i < _POLICY_NESTED_MAX; i++)
                if (streq(names[i], s)) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

/* A positive decimal up to max, optionally followed by one of the suffixes (each multiplying by its factor);
 * or "infinity". */
static int parse_limit_value(const char *s, uint64_t max, const char *suffixes, const uint64_t *factors,
                             uint64_t *ret) {
        uint64_t v = 0, factor = 1;
        const char *p = s, *suffix;

        if (streq(s, "infinity")) {
                *ret = POLICY_LIMIT_INFINITY;
                return 0;
        }
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                suffix = suffixes ? strchr(suffixes, *p) : NULL;
                if (!suffix || p[1])
                        return -EINVAL;
                factor = factors[suffix - suffixes];
        }
        if (v == 0 || v > max / factor)
                return -EINVAL;
        *ret = v * factor;
        return 0;
}

static const uint64_t size_factors[] = { 1024ULL, 1024ULL << 10, 1024ULL << 20, 1024ULL << 30 };

/* Bytes; K, M, G, T multiply by powers of 1024 as systemd's MemoryMax= does. */
static int parse_bytes(char *s, uint64_t *ret) {
        return parse_limit_value(s, INT64_MAX, "KMGT", size_factors, ret);
}

static int parse_tasks(char *s, uint64_t *ret) {
        return parse_limit_value(s, SANDBOX_PIDS_LIMIT_MAX, NULL, NULL, ret);
}

/* "50%": half a CPU, kept as CPU µs per second of wall time. */
static int parse_cpu_quota(char *s, uint64_t *ret) {
        size_t n = strlen(s);
        uint64_t percent;
        int r;

        if (streq(s, "infinity"))
                return parse_limit_value(s, 0, NULL, NULL, ret);
        if (n < 2 || s[n - 1] != '%')
                return -EINVAL;
        s[n - 1] = 0;
        r = parse_limit_value(s, SANDBOX_CPU_QUOTA_MAX / 10000U, NULL, NULL, &percent);
        if (r < 0)
                return r;
        *ret = percent * 10000U;
        return 0;
}

static int parse_cpu_weight(char *s, uint64_t *ret) {
        return parse_limit_value(s, 10000, NULL, NULL, ret);
}

static const uint64_t time_factors[] = { 60ULL * 1000000ULL, 3600ULL * 1000000ULL, 86400ULL * 1000000ULL };

/* Seconds (a plain number or with s), or minutes, hours, days with m, h, d; kept in µs. */
static int parse_seconds(char *s, uint64_t *ret) {
        size_t n = strlen(s);
        uint64_t v;
        int r;

        if (n > 1 && strchr("mhd", s[n - 1]))
                return parse_limit_value(s, INT64_MAX, "mhd", time_factors, ret);
        if (n > 1 && s[n - 1] == 's')
                s[n - 1] = 0;
        r = parse_limit_value(s, INT64_MAX / 1000000U, NULL, NULL, &v);
        if (r < 0)
                return r;
        *ret = v == POLICY_LIMIT_INFINITY ? v : v * 1000000U;
        return 0;
}

static uint64_t merge_union(uint64_t a, uint64_t b) {
        return a | b;
}

static uint64_t merge_max(uint64_t a, uint64_t b) {
        return MAX(a, b);
}

#define RULE_KEY(n, field, p, exp, m, b)                                                                       \
        {                                                                                                      \
                .name = n, .parse = p, .expected = exp, .merge = m, .builtin = b,                              \
                .offset = offsetof(PolicyRule, field), .size = sizeof(((PolicyRule *) 0)->field),              \
        }

#define EXPECT_BYTES "a size in bytes (K, M, G and T multiply by 1024), or infinity"
#define EXPECT_TASKS "a number from 1 to 4194304, or infinity"
#define EXPECT_CPU_QUOTA "a percentage of one CPU from 1% (200% is two CPUs), or infinity"
#define EXPECT_CPU_WEIGHT "a number from 1 to 10000, or infinity"
#define EXPECT_SECONDS "seconds (or minutes, hours, days with m, h, d), or infinity"

/* The limit keys of one kind: NAME, default-NAME or user-NAME, kept in PolicyRule's member. */
#define LIMIT_KEYS(id, prefix, member)                                                                         \
        [id##MEMORY_MAX] = RULE_KEY(prefix "memory-max", member.memory_max, parse_bytes, EXPECT_BYTES, merge_max, 0), \
        [id##MEMORY_HIGH] = RULE_KEY(prefix "memory-high", member.memory_high, parse_bytes, EXPECT_BYTES, merge_max, \
                                     0),                                                                       \
        [id##MEMORY_SWAP_MAX] = RULE_KEY(prefix "memory-swap-max", member.memory_swap_max, parse_bytes,         \
                                         EXPECT_BYTES, merge_max, 0),                                          \
        [id##TASKS_MAX] = RULE_KEY(prefix "tasks-max", member.tasks_max, parse_tasks, EXPECT_TASKS, merge_max, 0), \
        [id##CPU_QUOTA] = RULE_KEY(prefix "cpu-quota", member.cpu_quota, parse_cpu_quota, EXPECT_CPU_QUOTA,     \
                                   merge_max, 0),                                                              \
        [id##CPU_WEIGHT] = RULE_KEY(prefix "cpu-weight", member.cpu_weight, parse_cpu_weight, EXPECT_CPU_WEIGHT, \
                                    merge_max, 0)

static const RuleKey rule_keys[_KEY_MAX] = {
        [KEY_NAMESPACES] = RULE_KEY("namespaces", namespaces, parse_namespaces,
                                    "namespace types (mount uts ipc user pid net cgroup time) each at most once, "
                                    "or all, or none",
                                    merge_union, NAMESPACE_ALL),
        [KEY_MAX_SANDBOXES] = RULE_KEY("max-sandboxes", max_sandboxes, parse_max_sandboxes,
                                       "a number from 0 to 1000000", merge_max, POLICY_MAX_SANDBOXES_UNSET),
        [KEY_KEEP_ALIVE] = RULE_KEY("keep-alive", keep_alive, parse_bool, "yes or no", merge_max, true),
        [KEY_SUBID_RANGES] = RULE_KEY("subid-ranges", subid_ranges, parse_bool, "yes or no", merge_max, true),
        [KEY_DEVICE_BINDS] = RULE_KEY("device-binds", device_binds, parse_bool, "yes or no", merge_max, true),
        /* The values are ordered from strict to permissive, so the most permissive group wins as for the others. */
        [KEY_SECCOMP] = RULE_KEY("seccomp", seccomp, parse_seccomp, "default, own or unconfined", merge_max,
                                 POLICY_SECCOMP_UNCONFINED),
        [KEY_NESTED] = RULE_KEY("nested", nested, parse_nested, "refuse or allow", merge_max,
                                POLICY_NESTED_REFUSE),
        [KEY_WARM_POOL] = RULE_KEY("warm-pool", warm_pool, parse_warm_pool, "a number from 0 to 16", merge_max, 0),
        /* Limits: the most permissive of several groups is the largest, and "infinity" is larger than any. */
        LIMIT_KEYS(KEY_, "", max),
        [KEY_RUNTIME_MAX] = RULE_KEY("runtime-max-sec", max.runtime_max_usec, parse_seconds, EXPECT_SECONDS,
                                     merge_max, 0),
        LIMIT_KEYS(KEY_DEFAULT_, "default-", defaults),
        [KEY_DEFAULT_RUNTIME_MAX] = RULE_KEY("default-runtime-max-sec", defaults.runtime_max_usec, parse_seconds,
                                             EXPECT_SECONDS, merge_max, 0),
        LIMIT_KEYS(KEY_USER_, "user-", user),
};

static const RuleKey *rule_key_find(const char *name, RuleKeyId *ret_id) {
        for (RuleKeyId k = 0; k < _KEY_MAX; k++)
                if (streq(rule_keys[k].name, name)) {
                        *ret_id = k;
                        return &rule_keys[k];
                }
        return NULL;
}

static void rule_store(PolicyRule *r, RuleKeyId k, uint64_t v) {
        uint8_t *p = (uint8_t *) r + rule_keys[k].offset;

        switch (rule_keys[k].size) {
        case sizeof(bool):
                *(bool *) p = v;
                break;
        case sizeof(unsigned):
                *(unsigned *) p = (unsigned) v;
                break;
        default:
                *(uint64_t *) p = v;
        }
}

/* ---- sections ---- */

typedef enum SectionKind {
        SECTION_DEFAULT,
        SECTION_USER,
        SECTION_GROUP,
        SECTION_LIMITS,
} SectionKind;

typedef struct PolicySection {
        SectionKind kind;
        uint32_t id;             /* uid or gid */
        unsigned line;           /* of its header */
        char name[96];           /* "user:alice", as written: names the rule in the log */
        uint64_t set;            /* bit k: rule_keys[k] is set here */
        uint64_t value[_KEY_MAX];
} PolicySection;

struct Policy {
        PolicySection defaults;  /* [default] over the built-in values: every key set */
        PolicySection *sections; /* [user:] and [group:], in file order */
        size_t n_sections;
        DaemonLimits limits;
};

static void builtin_section_init(PolicySection *s) {
        *s = (PolicySection) { .kind = SECTION_DEFAULT, .name = "default", .set = (UINT64_C(1) << _KEY_MAX) - 1 };
        for (RuleKeyId k = 0; k < _KEY_MAX; k++)
                s->value[k] = rule_keys[k].builtin;
}

/* into's keys set by from: replaced (overlay) or combined with the table's merge (several groups). */
static void section_apply(PolicySection *into, const PolicySection *from, bool merge) {
        for (RuleKeyId k = 0; k < _KEY_MAX; k++) {
                if (!(from->set & (UINT64_C(1) << k)))
                        continue;
                if (merge && (into->set & (UINT64_C(1) << k)))
                        into->value[k] = rule_keys[k].merge(into->value[k], from->value[k]);
                else
                        into->value[k] = from->value[k];
                into->set |= UINT64_C(1) << k;
        }
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->sections);
        free(p);
        return NULL;
}

static Policy *policy_alloc(void) {
        Policy *p = calloc(1, sizeof(Policy));
        if (!p)
                return NULL;
        builtin_section_init(&p->defaults);
        limits_init(&p->limits);
        return p;
}

int policy_new_default(Policy **ret) {
        Policy *p = policy_alloc();
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

void policy_get_limits(const Policy *p, DaemonLimits *ret) {
        if (p)
                *ret = p->limits;
        else
                limits_init(ret);
}

/* ---- lookup ---- */

static bool caller_has_group(gid_t gid, const gid_t *groups, size_t n_groups, gid_t want) {
        if (gid == want)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == want)
                        return true;
        return false;
}

void policy_lookup(const Policy *p, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, PolicyRule *ret) {
        PolicySection rule, merged_groups = {};
        const PolicySection *user = NULL, *first_group = NULL;
        PolicyRule r = {};

        if (p)
                rule = p->defaults;
        else
                builtin_section_init(&rule);

        for (size_t i = 0; p && i < p->n_sections; i++) {
                const PolicySection *s = &p->sections[i];

                if (s->kind == SECTION_USER && s->id == uid)
                        user = s;
                else if (s->kind == SECTION_GROUP && caller_has_group(gid, groups, n_groups, s->id)) {
                        if (!first_group)
                                first_group = s;
                        section_apply(&merged_groups, s, /* merge= */ true);
                }
        }

        section_apply(&rule, &merged_groups, /* merge= */ false);
        if (user)
                section_apply(&rule, user, /* merge= */ false);

        for (RuleKeyId k = 0; k < _KEY_MAX; k++)
                rule_store(&r, k, rule.value[k]);
        snprintf(r.source, sizeof(r.source), "%s", user ? user->name : first_group ? first_group->name : "default");

        /* Root is not restricted, but a sandbox of root's is not the host's root: whether it may ask for
         * sandboxes inside it is the one key root's sections decide, as anyone's; and its warm pool, which
         * only costs the host. */
        if (uid == 0) {
                PolicyRule root = {
                        .namespaces = NAMESPACE_ALL,
                        .max_sandboxes = UINT_MAX,
                        .keep_alive = true,
                        .subid_ranges = true,
                        .device_binds = true,
                        .seccomp = POLICY_SECCOMP_UNCONFINED,
                        .nested = r.nested,
                        .warm_pool = r.warm_pool,
                        .unrestricted = true,
                };

                memcpy(root.source, r.source, sizeof root.source);
                r = root;
        }
        *ret = r;
}

unsigned policy_max_sandboxes(const PolicyRule *r, const DaemonLimits *l) {
        DaemonLimits d;

        if (r->unrestricted)
                return UINT_MAX;
        if (r->max_sandboxes != POLICY_MAX_SANDBOXES_UNSET)
                return r->max_sandboxes;
        if (!l) {
                limits_init(&d);
                l = &d;
        }
        return l->sandboxes_per_uid;
}

/* ---- parsing ---- */

typedef struct Parser {
        Policy *policy;
        ConfError *error;
        unsigned line;
        PolicySection file_default; /* [default] as written; applied over the built-in values at the end */
        bool seen_default, seen_limits;
        PolicySection *cur;         /* where rule keys go; NULL in [limits] or before any section */
        bool in_limits;
        uint64_t limits_set;        /* bit i: the limit at limits_index() i was set (daemon-limits.c: at most 64) */
        size_t n_allocated;
} Parser;

static char *strip(char *s) {
        char *end;

        s += strspn(s, " \t");
        end = s + strlen(s);
        while (end > s && strchr(" \t\r\n", end[-1]))
                *--end = 0;
        return s;
}

static bool is_decimal(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* A numeric id, or a name resolved through NSS now, so the rule stays with the account it named.
 * -EINVAL: not a valid id; -ESRCH: no such name; another errno: NSS failed. */
static int resolve_id(SectionKind kind, const char *s, uint32_t *ret) {
        long bufsize;
        int r;

        if (is_decimal(s)) {
                uint64_t v;

                /* (uid_t) -1 means "no id" to the kernel; it can never be a caller. */
                if (limits_parse_u64(s, false, &v) < 0 || v >= UINT32_MAX)
                        return -EINVAL;
                *ret = (uint32_t) v;
                return 0;
        }

        bufsize = sysconf(kind == SECTION_USER ? _SC_GETPW_R_SIZE_MAX : _SC_GETGR_R_SIZE_MAX);
        if (bufsize <= 0)
                bufsize = 4096;

        for (;;) {
                _cleanup_free_ char *buf = malloc((size_t) bufsize);
                if (!buf)
                        return -ENOMEM;

                if (kind == SECTION_USER) {
                        struct passwd pw, *result = NULL;

                        r = getpwnam_r(s, &pw, buf, (size_t) bufsize, &result);
                        if (r == 0 && result) {
                                *ret = result->pw_uid;
                                return 0;
                        }
                } else {
                        struct group gr, *result = NULL;

                        r = getgrnam_r(s, &gr, buf, (size_t) bufsize, &result);
                        if (r == 0 && result) {
                                *ret = result->gr_gid;
                                return 0;
                        }
                }
                if (r != ERANGE || bufsize > 1024 * 1024)
                        return r == 0 ? -ESRCH : -r;
                bufsize *= 2;
        }
}

static int parse_section_name(Parser *ps, const char *s, PolicySection *ret) {
        PolicySection sec = { .line = ps->line };
        const char *arg = NULL, *what = NULL;
        int r;

        if (streq(s, "default"))
                sec.kind = SECTION_DEFAULT;
        else if (streq(s, "limits"))
                sec.kind = SECTION_LIMITS;
        else if (strncmp(s, "user:", 5) == 0) {
                sec.kind = SECTION_USER;
                arg = s + 5;
                what = "user";
        } else if (strncmp(s, "group:", 6) == 0) {
                sec.kind = SECTION_GROUP;
                arg = s + 6;
                what = "group";
        } else
                return conf_error(ps->error, ps->line,
                                  "unknown section [%s]; expected [default], [user:NAME], [group:NAME] or [limits]", s);

        if (strlen(s) >= sizeof(sec.name))
                return conf_error(ps->error, ps->line, "section name [%.32s...] is too long", s);
        strcpy(sec.name, s);

        if (arg) {
                if (!*arg)
                        return conf_error(ps->error, ps->line, "[%s] names no %s", s, what);
                if (strpbrk(arg, " \t[]:"))
                        return conf_error(ps->error, ps->line, "invalid %s name '%s' in [%s]", what, arg, s);
                r = resolve_id(sec.kind, arg, &sec.id);
                if (r == -EINVAL)
                        return conf_error(ps->error, ps->line, "invalid %s id '%s' in [%s]", what, arg, s);
                if (r == -ESRCH)
                        return conf_error(ps->error, ps->line, "no %s '%s' exists for [%s]", what, arg, s);
                if (r < 0)
                        return conf_error(ps->error, ps->line, "cannot resolve %s '%s' for [%s]: %s", what, arg, s,
                                          strerror(-r));
        }

        *ret = sec;
        return 0;
}

static int parse_section_header(Parser *ps, char *s) {
        Policy *p = ps->policy;
        PolicySection sec;
        size_t len = strlen(s);
        int r;

        if (s[len - 1] != ']')
                return conf_error(ps->error, ps->line, "section header '%s' has no closing ']'", s);
        s[len - 1] = 0;
        r = parse_section_name(ps, s + 1, &sec);
        if (r < 0)
                return r;

        ps->in_limits = false;
        ps->cur = NULL;
        switch (sec.kind) {
        case SECTION_DEFAULT:
                if (ps->seen_default)
                        return conf_error(ps->error, ps->line, "duplicate section [default] (first on line %u)",
                                          ps->file_default.line);
                ps->seen_default = true;
                ps->file_default = sec;
                ps->cur = &ps->file_default;
                return 0;
        case SECTION_LIMITS:
                if (ps->seen_limits)
                        return conf_error(ps->error, ps->line, "duplicate section [limits]");
                ps->seen_limits = ps->in_limits = true;
                return 0;
        default:
                break;
        }

        for (size_t i = 0; i < p->n_sections; i++)
                if (p->sections[i].kind == sec.kind && p->sections[i].id == sec.id)
                        /* also [user:alice] after [user:1000] */
                        return conf_error(ps->error, ps->line, "[%s] is the same %s as [%s] on line %u", sec.name,
                                          sec.kind == SECTION_USER ? "user" : "group", p->sections[i].name,
                                          p->sections[i].line);
        if (p->n_sections >= POLICY_SECTIONS_MAX)
                return conf_error(ps->error, ps->line, "more than %u [user:] and [group:] sections",
                                  POLICY_SECTIONS_MAX);
        if (p->n_sections == ps->n_allocated) {
                size_t m = ps->n_allocated ? ps->n_allocated * 2 : 8;
                PolicySection *a = reallocarray(p->sections, m, sizeof(PolicySection));
                if (!a)
                        return -ENOMEM;
                p->sections = a;
                ps->n_allocated = m;
        }
        p->sections[p->n_sections] = sec;
        ps->cur = &p->sections[p->n_sections++];
        return 0;
}

static int parse_limit(Parser *ps, const char *key, const char *value) {
        const LimitInfo *info = limits_find(key);
        RuleKeyId id;
        size_t i;

        if (!info)
                return conf_error(ps->error, ps->line, "unknown key '%s' in [limits]%s", key,
                                  rule_key_find(key, &id) ? " (a rule key: it belongs in [default], [user:NAME] or "
                                                            "[group:NAME])"
                                                          : "");
        i = limits_index(info);
        if (ps->limits_set & (UINT64_C(1) << i))
                return conf_error(ps->error, ps->line, "key '%s' set twice in [limits]", key);
        if (limits_set(&ps->policy->limits, key, value) < 0)
                return conf_error(ps->error, ps->line,
                                  "invalid value '%s' for '%s' in [limits]: expected a decimal number from %" PRIu64
                                  " to %" PRIu64 "%s",
                                  value, key, info->min, info->max, info->bytes ? " (bytes; K, M and G multiply by 1024)" : "");
        ps->limits_set |= UINT64_C(1) << i;
        return 0;
}

static int parse_rule_key(Parser *ps, const char *key, char *value) {
        PolicySection *sec = ps->cur;
        _cleanup_free_ char *copy = NULL;
        const RuleKey *k;
        RuleKeyId id;

        k = rule_key_find(key, &id);
        if (!k)
                return conf_error(ps->error, ps->line, "unknown key '%s' in [%s]%s", key, sec->name,
                                  limits_find(key) ? " (a limit: it belongs in [limits])" : "");
        if (sec->set & (UINT64_C(1) << id))
                return conf_error(ps->error, ps->line, "key '%s' set twice in [%s]", key, sec->name);

        /* The parsers may cut the value up; the error quotes it whole. */
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        if (k->parse(copy, &sec->value[id]) < 0)
                return conf_error(ps->error, ps->line, "invalid value '%s' for '%s' in [%s]: expected %s", value, key,
                                  sec->name, k->expected);
        sec->set |= UINT64_C(1) << id;
        return 0;
}

static int parse_assignment(Parser *ps, char *s) {
        char *eq = strchr(s, '='), *key, *value;

        if (!eq)
                return conf_error(ps->error, ps->line, "expected '[section]' or 'key = value', got '%s'", s);
        *eq = 0;
        key = strip(s);
        value = strip(eq + 1);
        if (!*key)
                return conf_error(ps->error, ps->line, "'= %s' has no key", value);

        if (ps->in_limits)
                return parse_limit(ps, key, value);
        if (!ps->cur)
                return conf_error(ps->error, ps->line, "key '%s' before any section", key);
        return parse_rule_key(ps, key, value);
}

static int policy_parse(char *text, size_t size, Policy **ret, ConfError *ret_error) {
        _cleanup_(policy_freep) Policy *p = NULL;
        char *line = text, *end = text + size;
        Parser ps = { .error = ret_error };
        int r;

        p = policy_alloc();
        if (!p)
                return -ENOMEM;
        ps.policy = p;

        while (line < end) {
                char *nl = memchr(line, '\n', (size_t) (end - line));
                char *next = nl ? nl + 1 : end, *s;

                ps.line++;
                if (nl)
                        *nl = 0;
                else
                        *end = 0;

                if ((size_t) (next - line) > POLICY_LINE_MAX)
                        return conf_error(ret_error, ps.line, "line longer than %u bytes", POLICY_LINE_MAX);
                if (strlen(line) != (size_t) (next - line) - (nl ? 1 : 0))
                        return conf_error(ret_error, ps.line, "NUL byte in the line");

                s = strip(line);
                line = next;

                if (!*s || *s == '#' || *s == ';')
                        continue;
                r = *s == '[' ? parse_section_header(&ps, s) : parse_assignment(&ps, s);
                if (r < 0)
                        return r;
        }

        /* [default] keys replace the built-in values; the rest stays built in. */
        section_apply(&p->defaults, &ps.file_default, /* merge= */ false);

        *ret = TAKE_PTR(p);
        return 0;
}

static int read_policy_file(const char *path, char **ret, size_t *ret_size, ConfError *ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        /* O_NONBLOCK: a FIFO planted at the path must not hang the daemon in open(). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                (void) conf_error(ret_error, 0, "not a regular file");
                return -EINVAL;
        }
        /* Whoever can write this file decides who gets what; only the daemon's owner may. */
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                (void) conf_error(ret_error, 0, "owned by uid %u, not by root", (unsigned) st.st_uid);
                return -EPERM;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                (void) conf_error(ret_error, 0, "writable by %s (mode %04o)",
                                  st.st_mode & S_IWOTH ? "others" : "its group", (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        if ((uint64_t) st.st_size > POLICY_FILE_SIZE_MAX)
                goto too_big;

        buf = malloc(POLICY_FILE_SIZE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, POLICY_FILE_SIZE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > POLICY_FILE_SIZE_MAX)
                        goto too_big;
        }
        buf[n] = 0;

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;

too_big:
        (void) conf_error(ret_error, 0, "larger than %u bytes", POLICY_FILE_SIZE_MAX);
        return -EFBIG;
}

int policy_load(const char *path, Policy **ret, ConfError *ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        if (!path || !ret)
                return -EINVAL;

        r = read_policy_file(path, &text, &size, ret_error);
        if (r == -ENOENT)
                return policy_new_default(ret);
        if (r < 0)
                return r;

        return policy_parse(text, size, ret, ret_error);
}
