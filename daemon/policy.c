/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who may ask for what: the policy file parser, the daemon-wide limits, and
 * the checks that keep a non-root caller's request within what the caller
 * already has. The daemon is root and every field here comes from a client,
 * so every check fails closed.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "policy.h"
#include "varlink-message.h"

#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif

/* Bounds on what a policy file may make the daemon read and allocate. */
#define POLICY_FILE_SIZE_MAX (1024U * 1024U)
#define POLICY_LINE_MAX 4096U
#define POLICY_SECTIONS_MAX 4096U
/* The kernel nests user namespaces at most 32 deep. */
#define USERNS_DEPTH_MAX 33

/* ---- limits ---- */

typedef enum LimitUnit {
        LIMIT_COUNT,
        LIMIT_BYTES, /* accepts K, M, G suffixes */
} LimitUnit;

typedef struct LimitField {
        const char *name;
        size_t offset;
        bool is_size_t;
        LimitUnit unit;
        uint64_t max;
} LimitField;

#define LIMIT_FIELD(n, field, unit, max)                                                                       \
        { n, offsetof(DaemonLimits, field), __builtin_types_compatible_p(typeof(((DaemonLimits *) 0)->field), size_t), \
          unit, max }

static const LimitField limit_fields[] = {
        LIMIT_FIELD("connections", connections, LIMIT_COUNT, 1000000),
        LIMIT_FIELD("connections-per-user", connections_per_uid, LIMIT_COUNT, 1000000),
        LIMIT_FIELD("message-size", message_size, LIMIT_BYTES, 256U * 1024U * 1024U),
        LIMIT_FIELD("fds-per-message", fds_per_message, LIMIT_COUNT, LIMITS_FDS_PER_MESSAGE_CAP),
        LIMIT_FIELD("argv-bytes", argv_bytes, LIMIT_BYTES, 16U * 1024U * 1024U),
        LIMIT_FIELD("env-bytes", env_bytes, LIMIT_BYTES, 16U * 1024U * 1024U),
        LIMIT_FIELD("mappings", mappings, LIMIT_COUNT, 340), /* the kernel's own cap on id map lines */
        LIMIT_FIELD("mounts", mounts, LIMIT_COUNT, 65536),
        LIMIT_FIELD("sandboxes-per-user", sandboxes_per_uid, LIMIT_COUNT, 1000000),
        LIMIT_FIELD("sandboxes", sandboxes, LIMIT_COUNT, 1000000),
        LIMIT_FIELD("pending-spawns", pending_spawns, LIMIT_COUNT, 65536),
        LIMIT_FIELD("pending-spawns-per-user", pending_spawns_per_uid, LIMIT_COUNT, 65536),
        LIMIT_FIELD("spawn-timeout", spawn_timeout_sec, LIMIT_COUNT, 3600),
        LIMIT_FIELD("held-bytes-per-user", held_bytes_per_uid, LIMIT_BYTES, 4096U * 1024U * 1024U),
        LIMIT_FIELD("held-fds-per-user", held_fds_per_uid, LIMIT_COUNT, 1000000),
};

void limits_init(DaemonLimits *l) {
        *l = (DaemonLimits) {
                .connections = 1024,
                .connections_per_uid = 64,
                .message_size = 1024U * 1024U,
                /* Enough for every fd a Spawn can use; fds of a message that never completes stay
                 * held, so this times connections-per-user bounds what one user can pin. */
                .fds_per_message = 96,
                .argv_bytes = SPAWN_ARGV_BYTES_MAX_DEFAULT,
                .env_bytes = SPAWN_ENV_BYTES_MAX_DEFAULT,
                .mappings = SPAWN_MAPPINGS_MAX_DEFAULT,
                .mounts = SPAWN_MOUNTS_MAX_DEFAULT,
                .sandboxes_per_uid = 64,
                .sandboxes = 4096,
                .pending_spawns = 128,
                .pending_spawns_per_uid = 16,
                .spawn_timeout_sec = 30,
                .held_bytes_per_uid = 16U * 1024U * 1024U,
                .held_fds_per_uid = 1024,
        };
}

/* Plain decimal, no sign, no leading spaces, no overflow; with an optional K/M/G multiplier. */
static int parse_u64_with_suffix(const char *s, bool allow_suffix, uint64_t *ret) {
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
                        mult = 1024;
                        break;
                case 'M':
                        mult = 1024 * 1024;
                        break;
                case 'G':
                        mult = 1024 * 1024 * 1024;
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
        if (!l || !name || !value)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++) {
                const LimitField *f = &limit_fields[i];
                uint64_t v;

                if (strcmp(f->name, name) != 0)
                        continue;

                if (parse_u64_with_suffix(value, f->unit == LIMIT_BYTES, &v) < 0)
                        return -EINVAL;
                if (v == 0 || v > f->max)
                        return -EINVAL;

                if (f->is_size_t)
                        *(size_t *) ((uint8_t *) l + f->offset) = (size_t) v;
                else
                        *(unsigned *) ((uint8_t *) l + f->offset) = (unsigned) v;
                return 0;
        }
        return -ENOENT;
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

void limits_to_spawn_limits(const DaemonLimits *l, SpawnLimits *ret) {
        *ret = (SpawnLimits) {
                .argv_bytes_max = l->argv_bytes,
                .env_bytes_max = l->env_bytes,
                .mappings_max = l->mappings,
                .mounts_max = l->mounts,
        };
}

/* ---- the policy file ---- */

typedef enum PolicyKey {
        KEY_NAMESPACES = 1U << 0,
        KEY_MAX_SANDBOXES = 1U << 1,
        KEY_KEEP_ALIVE = 1U << 2,
        KEY_SUBID_RANGES = 1U << 3,
} PolicyKey;

typedef enum SectionKind {
        SECTION_DEFAULT,
        SECTION_USER,
        SECTION_GROUP,
        SECTION_LIMITS,
} SectionKind;

typedef struct PolicySection {
        SectionKind kind;
        uint32_t id;    /* uid or gid */
        char name[96];  /* "user:alice", as written: names the rule in the log */
        unsigned set;   /* PolicyKey bits this section sets */
        unsigned namespaces;
        unsigned max_sandboxes;
        bool keep_alive;
        bool subid_ranges;
} PolicySection;

struct Policy {
        PolicySection defaults;
        PolicySection *sections; /* [user:] and [group:], in file order */
        size_t n_sections;
        DaemonLimits limits;
};

static void default_section_init(PolicySection *s) {
        *s = (PolicySection) {
                .kind = SECTION_DEFAULT,
                .name = "default",
                .set = KEY_NAMESPACES | KEY_MAX_SANDBOXES | KEY_KEEP_ALIVE | KEY_SUBID_RANGES,
                .namespaces = NAMESPACE_ALL,
                .max_sandboxes = POLICY_MAX_SANDBOXES_UNSET,
                .keep_alive = true,
                .subid_ranges = true,
        };
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
        default_section_init(&p->defaults);
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

static char *strip(char *s) {
        char *end;

        s += strspn(s, " \t");
        end = s + strlen(s);
        while (end > s && strchr(" \t\r\n", end[-1]))
                *--end = 0;
        return s;
}

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* "mount uts,net" -> mask; "all", "none" or an empty value stand alone. */
static int parse_namespaces(char *s, unsigned *ret) {
        unsigned mask = 0;
        size_t n_words = 0;
        bool special = false;
        char *save = NULL;

        for (char *w = strtok_r(s, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                NamespaceType t;

                n_words++;
                if (strcmp(w, "all") == 0) {
                        mask = NAMESPACE_ALL;
                        special = true;
                        continue;
                }
                if (strcmp(w, "none") == 0) {
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

static bool is_decimal(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* A numeric id, or a name resolved through NSS now, so the rule stays with the account it named. */
static int resolve_id(SectionKind kind, const char *s, uint32_t *ret) {
        long bufsize;
        int r;

        if (is_decimal(s)) {
                uint64_t v;

                /* (uid_t) -1 means "no id" to the kernel; it can never be a caller. */
                if (parse_u64_with_suffix(s, false, &v) < 0 || v >= UINT32_MAX)
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

static int parse_section_header(const char *s, PolicySection *ret) {
        PolicySection sec = {};
        const char *arg = NULL;

        if (strcmp(s, "default") == 0)
                sec.kind = SECTION_DEFAULT;
        else if (strcmp(s, "limits") == 0)
                sec.kind = SECTION_LIMITS;
        else if (strncmp(s, "user:", 5) == 0) {
                sec.kind = SECTION_USER;
                arg = s + 5;
        } else if (strncmp(s, "group:", 6) == 0) {
                sec.kind = SECTION_GROUP;
                arg = s + 6;
        } else
                return -EINVAL;

        if (strlen(s) >= sizeof(sec.name))
                return -EINVAL;
        strcpy(sec.name, s);

        if (arg) {
                if (!*arg || strpbrk(arg, " \t[]:"))
                        return -EINVAL;
                if (resolve_id(sec.kind, arg, &sec.id) < 0)
                        return -EINVAL;
        }

        *ret = sec;
        return 0;
}

static int parse_rule_key(PolicySection *sec, const char *key, char *value) {
        unsigned bit;
        int r;

        if (strcmp(key, "namespaces") == 0)
                bit = KEY_NAMESPACES;
        else if (strcmp(key, "max-sandboxes") == 0)
                bit = KEY_MAX_SANDBOXES;
        else if (strcmp(key, "keep-alive") == 0)
                bit = KEY_KEEP_ALIVE;
        else if (strcmp(key, "subid-ranges") == 0)
                bit = KEY_SUBID_RANGES;
        else
                return -EINVAL;

        if (sec->set & bit)
                return -EINVAL; /* the same key twice: which one did the admin mean? */

        switch (bit) {
        case KEY_NAMESPACES:
                r = parse_namespaces(value, &sec->namespaces);
                break;
        case KEY_MAX_SANDBOXES: {
                uint64_t v;

                r = parse_u64_with_suffix(value, false, &v);
                if (r >= 0 && v > 1000000)
                        r = -ERANGE;
                if (r >= 0)
                        sec->max_sandboxes = (unsigned) v;
                break;
        }
        case KEY_KEEP_ALIVE:
                r = parse_bool(value, &sec->keep_alive);
                break;
        default:
                r = parse_bool(value, &sec->subid_ranges);
                break;
        }
        if (r < 0)
                return -EINVAL;

        sec->set |= bit;
        return 0;
}

static int parse_limits_key(DaemonLimits *l, unsigned *seen, const char *key, const char *value) {
        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++)
                if (strcmp(limit_fields[i].name, key) == 0) {
                        if (*seen & (1U << i))
                                return -EINVAL;
                        if (limits_set(l, key, value) < 0)
                                return -EINVAL;
                        *seen |= 1U << i;
                        return 0;
                }
        return -EINVAL;
}

static int read_policy_file(const char *path, char **ret, size_t *ret_size) {
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
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* Whoever can write this file decides who gets what; only the daemon's owner may. */
        if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return -EPERM;
        if ((uint64_t) st.st_size > POLICY_FILE_SIZE_MAX)
                return -EFBIG;

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
                        return -EFBIG;
        }
        buf[n] = 0;

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static int policy_parse(char *text, size_t size, Policy **ret, unsigned *ret_error_line) {
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicySection file_default = {}, *cur = NULL;
        bool in_limits = false, seen_default = false, seen_limits = false;
        unsigned limits_seen = 0, line_no = 0;
        size_t n_allocated = 0;
        char *line = text, *end = text + size;

        p = policy_alloc();
        if (!p)
                return -ENOMEM;

        while (line < end) {
                char *nl = memchr(line, '\n', (size_t) (end - line));
                char *next = nl ? nl + 1 : end, *s, *eq, *key, *value;

                line_no++;
                if (nl)
                        *nl = 0;
                else
                        *end = 0;

                if ((size_t) (next - line) > POLICY_LINE_MAX || strlen(line) != (size_t) (next - line) - (nl ? 1 : 0))
                        goto fail; /* overlong, or a NUL byte inside */

                s = strip(line);
                line = next;

                if (!*s || *s == '#' || *s == ';')
                        continue;

                if (*s == '[') {
                        PolicySection sec;
                        size_t len = strlen(s);

                        if (s[len - 1] != ']')
                                goto fail;
                        s[len - 1] = 0;
                        if (parse_section_header(s + 1, &sec) < 0)
                                goto fail;

                        in_limits = false;
                        cur = NULL;
                        switch (sec.kind) {
                        case SECTION_DEFAULT:
                                if (seen_default)
                                        goto fail;
                                seen_default = true;
                                file_default = sec;
                                cur = &file_default;
                                break;
                        case SECTION_LIMITS:
                                if (seen_limits)
                                        goto fail;
                                seen_limits = in_limits = true;
                                break;
                        default:
                                for (size_t i = 0; i < p->n_sections; i++)
                                        if (p->sections[i].kind == sec.kind && p->sections[i].id == sec.id)
                                                goto fail; /* also [user:alice] after [user:1000] */
                                if (p->n_sections >= POLICY_SECTIONS_MAX)
                                        goto fail;
                                if (p->n_sections == n_allocated) {
                                        size_t m = n_allocated ? n_allocated * 2 : 8;
                                        PolicySection *a = reallocarray(p->sections, m, sizeof(PolicySection));
                                        if (!a)
                                                return -ENOMEM;
                                        p->sections = a;
                                        n_allocated = m;
                                }
                                p->sections[p->n_sections] = sec;
                                cur = &p->sections[p->n_sections++];
                        }
                        continue;
                }

                eq = strchr(s, '=');
                if (!eq)
                        goto fail;
                *eq = 0;
                key = strip(s);
                value = strip(eq + 1);
                if (!*key)
                        goto fail;

                if (in_limits) {
                        if (parse_limits_key(&p->limits, &limits_seen, key, value) < 0)
                                goto fail;
                } else if (cur) {
                        if (parse_rule_key(cur, key, value) < 0)
                                goto fail;
                } else
                        goto fail; /* a key before any section */
        }

        /* [default] keys replace the built-in defaults; the rest stays built in. */
        if (file_default.set & KEY_NAMESPACES)
                p->defaults.namespaces = file_default.namespaces;
        if (file_default.set & KEY_MAX_SANDBOXES)
                p->defaults.max_sandboxes = file_default.max_sandboxes;
        if (file_default.set & KEY_KEEP_ALIVE)
                p->defaults.keep_alive = file_default.keep_alive;
        if (file_default.set & KEY_SUBID_RANGES)
                p->defaults.subid_ranges = file_default.subid_ranges;

        *ret = TAKE_PTR(p);
        return 0;

fail:
        if (ret_error_line)
                *ret_error_line = line_no;
        return -EBADMSG;
}

int policy_load(const char *path, Policy **ret, unsigned *ret_error_line) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        if (!path || !ret)
                return -EINVAL;

        r = read_policy_file(path, &text, &size);
        if (r == -ENOENT)
                return policy_new_default(ret);
        if (r < 0)
                return r;

        return policy_parse(text, size, ret, ret_error_line);
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

/* Several matching groups: the most permissive value wins, so one more group never takes a right away. */
static void merge_permissive(PolicySection *into, const PolicySection *s) {
        if (s->set & KEY_NAMESPACES)
                into->namespaces = (into->set & KEY_NAMESPACES) ? into->namespaces | s->namespaces : s->namespaces;
        if (s->set & KEY_MAX_SANDBOXES)
                into->max_sandboxes = (into->set & KEY_MAX_SANDBOXES) ? MAX(into->max_sandboxes, s->max_sandboxes)
                                                                       : s->max_sandboxes;
        if (s->set & KEY_KEEP_ALIVE)
                into->keep_alive = (into->set & KEY_KEEP_ALIVE) ? into->keep_alive || s->keep_alive : s->keep_alive;
        if (s->set & KEY_SUBID_RANGES)
                into->subid_ranges = (into->set & KEY_SUBID_RANGES) ? into->subid_ranges || s->subid_ranges
                                                                     : s->subid_ranges;
        into->set |= s->set;
}

static void overlay(PolicyRule *r, const PolicySection *s) {
        if (s->set & KEY_NAMESPACES)
                r->namespaces = s->namespaces;
        if (s->set & KEY_MAX_SANDBOXES)
                r->max_sandboxes = s->max_sandboxes;
        if (s->set & KEY_KEEP_ALIVE)
                r->keep_alive = s->keep_alive;
        if (s->set & KEY_SUBID_RANGES)
                r->subid_ranges = s->subid_ranges;
}

void policy_lookup(const Policy *p, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, PolicyRule *ret) {
        PolicySection builtin, merged = {};
        const PolicySection *defaults, *user = NULL, *first_group = NULL;
        PolicyRule r = {};

        if (uid == 0) {
                *ret = (PolicyRule) {
                        .namespaces = NAMESPACE_ALL,
                        .max_sandboxes = UINT_MAX,
                        .keep_alive = true,
                        .subid_ranges = true,
                        .unrestricted = true,
                        .source = "root",
                };
                return;
        }

        if (p)
                defaults = &p->defaults;
        else {
                default_section_init(&builtin);
                defaults = &builtin;
        }

        r.namespaces = defaults->namespaces;
        r.max_sandboxes = defaults->max_sandboxes;
        r.keep_alive = defaults->keep_alive;
        r.subid_ranges = defaults->subid_ranges;
        strcpy(r.source, "default");

        for (size_t i = 0; p && i < p->n_sections; i++) {
                const PolicySection *s = &p->sections[i];

                if (s->kind == SECTION_USER && s->id == uid)
                        user = s;
                else if (s->kind == SECTION_GROUP && caller_has_group(gid, groups, n_groups, s->id)) {
                        if (!first_group)
                                first_group = s;
                        merge_permissive(&merged, s);
                }
        }

        overlay(&r, &merged);
        if (user)
                overlay(&r, user);

        if (user)
                snprintf(r.source, sizeof(r.source), "%s", user->name);
        else if (first_group)
                snprintf(r.source, sizeof(r.source), "%s", first_group->name);

        *ret = r;
}

unsigned policy_max_sandboxes(const PolicyRule *r, const DaemonLimits *l) {
        if (r->unrestricted)
                return UINT_MAX;
        if (r->max_sandboxes != POLICY_MAX_SANDBOXES_UNSET)
                return r->max_sandboxes;
        if (l)
                return l->sandboxes_per_uid;

        DaemonLimits d;
        limits_init(&d);
        return d.sandboxes_per_uid;
}

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

static bool ranges_overlap(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size) {
        return (uint64_t) a < (uint64_t) b + b_size && (uint64_t) b < (uint64_t) a + a_size;
}

static bool id_mapped_inside(const IdMapping *m, size_t n, uint32_t id) {
        for (size_t i = 0; i < n; i++)
                if (id >= m[i].container_id && (uint64_t) id < (uint64_t) m[i].container_id + m[i].size)
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

typedef struct MappingCheck {
        const char *list;          /* "uidMappings" */
        const char *id_kind;       /* "uid" */
        const char *file;          /* "subuid" */
        uint32_t own_id;           /* caller's uid, or primary gid */
        const SubidRanges *ranges; /* may be NULL */
        uid_t uid;
        const char *name;
        bool allow_ranges;
} MappingCheck;

/* As newuidmap/newgidmap decide: each entry is exactly the caller's own id, or lies inside one granted range. */
static int check_mappings(const MappingCheck *c, const IdMapping *maps, size_t n, bool *ret_used_range,
                          PolicyDenial *ret_denial) {
        char field[128];
        bool used_range = false;

        for (size_t i = 0; i < n; i++) {
                const IdMapping *m = &maps[i];

                if (m->size == 0 || (uint64_t) m->container_id + m->size > UINT32_MAX ||
                    (uint64_t) m->host_id + m->size > UINT32_MAX) {
                        snprintf(field, sizeof(field), "%s[%zu].size", c->list, i);
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field, "empty or overflowing range");
                }

                if (!(m->host_id == c->own_id && m->size == 1)) {
                        bool start_ok;

                        if (c->allow_ranges && subid_contains(c->ranges, c->uid, c->name, m->host_id, m->size)) {
                                used_range = true;
                                goto overlap;
                        }

                        /* Name the part that is wrong: the start, or only the length. */
                        start_ok = m->host_id == c->own_id ||
                                   (c->allow_ranges && subid_contains(c->ranges, c->uid, c->name, m->host_id, 1));
                        snprintf(field, sizeof(field), "%s[%zu].%s", c->list, i, start_ok ? "size" : "hostID");
                        if (!c->allow_ranges && m->host_id != c->own_id)
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "host %s %" PRIu32 " is not the caller's own and the policy allows no %s ranges",
                                            c->id_kind, m->host_id, c->file);
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "host %ss %" PRIu32 "..%" PRIu64 " are neither the caller's own %s %" PRIu32
                                    " nor inside one range %s grants it",
                                    c->id_kind, m->host_id, (uint64_t) m->host_id + m->size - 1, c->id_kind, c->own_id,
                                    c->file);
                }

        overlap:
                for (size_t j = 0; j < i; j++) {
                        if (ranges_overlap(m->container_id, m->size, maps[j].container_id, maps[j].size)) {
                                snprintf(field, sizeof(field), "%s[%zu].containerID", c->list, i);
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "container range overlaps %s[%zu]", c->list, j);
                        }
                        if (ranges_overlap(m->host_id, m->size, maps[j].host_id, maps[j].size)) {
                                snprintf(field, sizeof(field), "%s[%zu].hostID", c->list, i);
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                            "host range overlaps %s[%zu]", c->list, j);
                        }
                }
        }

        *ret_used_range = used_range;
        return 0;
}

static bool request_joins(const SpawnRequest *req, NamespaceType t, size_t *ret_index) {
        for (size_t i = 0; i < req->n_join_namespaces; i++)
                if (req->join_namespaces[i].type == t) {
                        if (ret_index)
                                *ret_index = i;
                        return true;
                }
        return false;
}

static int check_unprivileged(const PolicyRule *rule, const SpawnCaller *caller, const SpawnRequest *req,
                              const SubidRanges *subuid, const SubidRanges *subgid, PolicyDecision *ret_decision,
                              PolicyDenial *ret_denial) {
        _cleanup_free_ char *name = NULL;
        bool new_userns, joined_userns, used_subgid = false, used_subuid = false, setgroups_allow;
        unsigned forbidden;
        size_t idx;
        char field[128];
        int r;

        forbidden = req->namespaces & ~rule->namespaces;
        if (forbidden) {
                for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                        if (forbidden & NAMESPACE_BIT(t))
                                return deny(ret_denial, POLICY_DENIAL_PERMISSION_DENIED, "namespaces",
                                            "namespace type '%s' is not allowed for uid %u by [%s]",
                                            namespace_type_to_string(t), (unsigned) caller->uid, rule->source);
        }

        if (req->keep_alive && !rule->keep_alive)
                return deny(ret_denial, POLICY_DENIAL_PERMISSION_DENIED, "keepAlive",
                            "keepAlive is not allowed for uid %u by [%s]", (unsigned) caller->uid, rule->source);

        new_userns = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);
        joined_userns = request_joins(req, NAMESPACE_USER, NULL);

        /* Creating and joining the same type at once has no meaning; refuse rather than guess. */
        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                NamespaceType t = req->join_namespaces[i].type;

                if (t < 0 || t >= _NAMESPACE_TYPE_MAX || (req->namespaces & NAMESPACE_BIT(t))) {
                        snprintf(field, sizeof(field), "joinNamespaces[%zu].type", i);
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                    "namespace type both created and joined");
                }
        }

        if (!new_userns) {
                if (req->n_uid_mappings > 0)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings",
                                    "id mappings need a new user namespace");
                if (req->n_gid_mappings > 0)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings",
                                    "id mappings need a new user namespace");
                if (req->setgroups > 0)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "setgroups",
                                    "setgroups applies only to a new user namespace");
        }

        if (req->n_uid_mappings > 0 || req->n_gid_mappings > 0) {
                bool own_only = true;

                for (size_t i = 0; i < req->n_uid_mappings; i++)
                        if (req->uid_mappings[i].host_id != caller->uid || req->uid_mappings[i].size != 1)
                                own_only = false;
                for (size_t i = 0; i < req->n_gid_mappings; i++)
                        if (req->gid_mappings[i].host_id != caller->gid || req->gid_mappings[i].size != 1)
                                own_only = false;

                /* The name matters only for subid lines, and NSS is slow: look it up only then. */
                if (!own_only) {
                        r = lookup_user_name(caller->uid, &name);
                        if (r < 0)
                                return r;
                }

                r = check_mappings(&(MappingCheck) {
                                           .list = "uidMappings",
                                           .id_kind = "uid",
                                           .file = "the subuid file",
                                           .own_id = caller->uid,
                                           .ranges = subuid,
                                           .uid = caller->uid,
                                           .name = name,
                                           .allow_ranges = rule->subid_ranges,
                                   },
                                   req->uid_mappings, req->n_uid_mappings, &used_subuid, ret_denial);
                if (r < 0)
                        return r;

                r = check_mappings(&(MappingCheck) {
                                           .list = "gidMappings",
                                           .id_kind = "gid",
                                           .file = "the subgid file",
                                           .own_id = caller->gid,
                                           .ranges = subgid,
                                           .uid = caller->uid,
                                           .name = name,
                                           .allow_ranges = rule->subid_ranges,
                                   },
                                   req->gid_mappings, req->n_gid_mappings, &used_subgid, ret_denial);
                if (r < 0)
                        return r;
        }

        /* Dropping groups could escape a negative group permission ("rwx---rwx"): only with a granted
         * subgid range, as newgidmap decides. Absent means deny unless such a range is mapped. */
        if (req->setgroups > 0 && !used_subgid)
                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "setgroups",
                            "setgroups allow needs a mapped /etc/subgid range");
        setgroups_allow = new_userns && (req->setgroups > 0 || (req->setgroups < 0 && used_subgid));

        if (req->has_user) {
                if (new_userns) {
                        if (req->n_uid_mappings > 0 &&
                            !id_mapped_inside(req->uid_mappings, req->n_uid_mappings, req->uid))
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "user.uid",
                                            "uid %" PRIu32 " is not mapped in the sandbox", req->uid);
                        if (req->n_gid_mappings > 0 &&
                            !id_mapped_inside(req->gid_mappings, req->n_gid_mappings, req->gid))
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "user.gid",
                                            "gid %" PRIu32 " is not mapped in the sandbox", req->gid);
                        if (req->n_additional_gids > 0 && !setgroups_allow)
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "user.additionalGids",
                                            "additional groups need setgroups allowed");
                        for (size_t i = 0; i < req->n_additional_gids; i++)
                                if (req->n_gid_mappings > 0 &&
                                    !id_mapped_inside(req->gid_mappings, req->n_gid_mappings, req->additional_gids[i])) {
                                        snprintf(field, sizeof(field), "user.additionalGids[%zu]", i);
                                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                                    "gid %" PRIu32 " is not mapped in the sandbox",
                                                    req->additional_gids[i]);
                                }
                } else if (!joined_userns) {
                        /* The ids become host ids: only what the caller already is. Inside a joined user
                         * namespace the kernel refuses ids its owner did not map. */
                        if (req->uid != caller->uid)
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "user.uid",
                                            "uid %" PRIu32 " is not the caller's own", req->uid);
                        if (!caller_has_group(caller->gid, caller->groups, caller->n_groups, req->gid))
                                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "user.gid",
                                            "gid %" PRIu32 " is not one of the caller's groups", req->gid);
                        for (size_t i = 0; i < req->n_additional_gids; i++)
                                if (!caller_has_group(caller->gid, caller->groups, caller->n_groups,
                                                      req->additional_gids[i])) {
                                        snprintf(field, sizeof(field), "user.additionalGids[%zu]", i);
                                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, field,
                                                    "gid %" PRIu32 " is not one of the caller's groups",
                                                    req->additional_gids[i]);
                                }
                }
        }

        /* Without their own namespace these would change the host's hostname, clocks or mounts. */
        if (req->hostname && !(req->namespaces & NAMESPACE_BIT(NAMESPACE_UTS)) && !request_joins(req, NAMESPACE_UTS, &idx))
                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "hostname", "hostname needs a uts namespace");
        if ((req->has_monotonic_offset || req->has_boottime_offset) && !(req->namespaces & NAMESPACE_BIT(NAMESPACE_TIME)))
                return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "timeOffsets",
                            "time offsets need a new time namespace");
        if (!(req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT)) && !request_joins(req, NAMESPACE_MOUNT, &idx)) {
                if (req->root)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "root", "root needs a mount namespace");
                if (req->n_mounts > 0)
                        return deny(ret_denial, POLICY_DENIAL_INVALID_PARAMETER, "mounts",
                                    "mounts need a mount namespace");
        }

        (void) used_subuid;
        *ret_decision = (PolicyDecision) { .setgroups_allow = setgroups_allow };
        return 0;
}

int policy_check_spawn(const Policy *p, const SpawnCaller *caller, const SpawnRequest *req,
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
        return check_unprivileged(&rule, caller, req, subuid, subgid, ret_decision, ret_denial);
}

/* ---- joining existing namespaces ---- */

static const unsigned long pidfd_namespace_ioctl[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_CGROUP] = _IO(PIDFS_IOCTL_MAGIC, 1),
        [NAMESPACE_IPC] = _IO(PIDFS_IOCTL_MAGIC, 2),
        [NAMESPACE_MOUNT] = _IO(PIDFS_IOCTL_MAGIC, 3),
        [NAMESPACE_NET] = _IO(PIDFS_IOCTL_MAGIC, 4),
        [NAMESPACE_PID] = _IO(PIDFS_IOCTL_MAGIC, 5),
        [NAMESPACE_TIME] = _IO(PIDFS_IOCTL_MAGIC, 7),
        [NAMESPACE_USER] = _IO(PIDFS_IOCTL_MAGIC, 9),
        [NAMESPACE_UTS] = _IO(PIDFS_IOCTL_MAGIC, 10),
};

typedef enum FdKind {
        FD_KIND_OTHER,
        FD_KIND_NAMESPACE,
        FD_KIND_PIDFD,
} FdKind;

/* The device of a file of ours, statted the ordinary way: these are the kernel's own file systems. */
static int own_device(int fd, dev_t *ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        *ret = st.st_dev;
        return 0;
}

/*
 * What a client's fd is, without ever asking the file system it lives on:
 * it may be on a FUSE mount whose server never answers, and fstatfs() or a
 * plain fstat() there sends a request and blocks the daemon's only thread.
 *
 * readlink() of /proc/self/fd/N is d_path() and nothing else: it walks the
 * dentry cache, and only the kernel's pseudo file systems name a file
 * themselves (nsfs "net:[4026531840]", pidfds "anon_inode:[pidfd]", also
 * with pidfs), everything else reads as a path starting with "/". Only an
 * fd that names itself like a namespace or a pidfd is statted at all, with
 * statx(AT_STATX_DONT_SYNC) asking for nothing but the type, and its device
 * must be the one of the daemon's own /proc/self/ns/user (nsfs) or of a
 * pidfd of the daemon itself (pidfs, anon_inodefs before 6.9): each of them
 * has a single superblock, so a name alone can never pass for one. Only
 * then may the caller send the fd an ioctl, whose number could mean
 * something else entirely to a device.
 */
static int fd_kind(int fd, FdKind *ret) {
        _cleanup_close_ int self_ns = -EBADF, self_pidfd = -EBADF;
        char path[64], target[64];
        struct statx sx = {};
        dev_t dev, want = 0;
        bool pidfd;
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;

        pidfd = strcmp(target, "anon_inode:[pidfd]") == 0;
        if (!pidfd && (target[0] == '/' || !strstr(target, ":[") || strncmp(target, "anon_inode:", 11) == 0)) {
                *ret = FD_KIND_OTHER;
                return 0;
        }

        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) < 0)
                return -errno;
        dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);

        if (pidfd) {
                self_pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
                if (self_pidfd < 0)
                        return -errno;
                fd_set_cloexec(self_pidfd, true);
                r = own_device(self_pidfd, &want);
        } else {
                self_ns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
                if (self_ns < 0)
                        return -errno;
                r = own_device(self_ns, &want);
        }
        if (r < 0)
                return r;

        *ret = dev != want ? FD_KIND_OTHER : pidfd ? FD_KIND_PIDFD : FD_KIND_NAMESPACE;
        return 0;
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Whether uid, from the daemon's user namespace and without capabilities there,
 * has capabilities in the user namespace userns_fd: as the kernel decides it,
 * exactly when the ancestor directly below the daemon's namespace is owned by uid.
 */
static int uid_owns_userns(int userns_fd, uid_t uid) {
        _cleanup_close_ int self = -EBADF, cur = -EBADF;
        struct stat self_st;

        self = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        if (fstat(self, &self_st) < 0)
                return -errno;

        cur = fcntl(userns_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;

        for (unsigned depth = 0; depth < USERNS_DEPTH_MAX; depth++) {
                _cleanup_close_ int parent = -EBADF;
                struct stat st;
                uid_t owner = (uid_t) -1; /* valgrind cannot see NS_GET_OWNER_UID write it */

                if (fstat(cur, &st) < 0)
                        return -errno;
                if (same_inode(&st, &self_st))
                        return -EPERM; /* the daemon's own namespace: only root has rights there */

                parent = ioctl(cur, NS_GET_PARENT, 0);
                if (parent < 0)
                        return errno == EPERM ? -EPERM : -errno; /* EPERM: outside the daemon's namespace */
                if (fstat(parent, &st) < 0)
                        return -errno;

                if (same_inode(&st, &self_st)) {
                        if (ioctl(cur, NS_GET_OWNER_UID, &owner) < 0)
                                return -errno;
                        return owner == uid ? 0 : -EPERM;
                }

                safe_close(cur);
                cur = TAKE_FD(parent);
        }
        return -EPERM;
}

int policy_check_join_namespace(int fd, NamespaceType type, uid_t caller_uid) {
        _cleanup_close_ int ns = -EBADF, userns = -EBADF;
        FdKind kind;
        int r;

        if (fd < 0 || type < 0 || type >= _NAMESPACE_TYPE_MAX)
                return -EINVAL;

        r = fd_kind(fd, &kind);
        if (r < 0)
                return r;

        if (kind == FD_KIND_NAMESPACE) {
                int nstype = ioctl(fd, NS_GET_NSTYPE, 0);
                if (nstype < 0)
                        return -errno;
                if ((unsigned long) nstype != namespace_type_to_clone_flag(type))
                        return -EINVAL;
                ns = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (ns < 0)
                        return -errno;
        } else {
                if (kind != FD_KIND_PIDFD)
                        return -EINVAL;

                ns = ioctl(fd, pidfd_namespace_ioctl[type], 0);
                if (ns < 0) {
                        if (errno == ENOTTY || errno == EINVAL)
                                return -EOPNOTSUPP; /* kernel before 6.11: cannot tell what we would join */
                        return -errno;
                }
                fd_set_cloexec(ns, true);
        }

        if (caller_uid == 0)
                return 0;

        /* To join a user namespace one needs capabilities in it; for any other type, in its owner. */
        if (type == NAMESPACE_USER)
                return uid_owns_userns(ns, caller_uid);

        userns = ioctl(ns, NS_GET_USERNS, 0);
        if (userns < 0)
                return errno == EPERM ? -EPERM : -errno;
        fd_set_cloexec(userns, true);
        return uid_owns_userns(userns, caller_uid);
}
