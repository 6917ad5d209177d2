/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.nsbox.Sandbox as C types. The decoders run in the root daemon on input
 * from unprivileged callers: every field is checked for type, range, size
 * and consistency before anything acts on it, and a failure names the exact
 * field so the caller learns what to fix.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sandbox-protocol.h"
#include "varlink-message.h"

/* Large enough for the deepest field path, e.g. "mounts[4294967295].sourceFileDescriptor". */
#define FIELD_PATH_MAX 256

#define ID_MAPPINGS_KERNEL_MAX 340U /* UID_GID_MAP_MAX_EXTENTS */
#define NSEC_PER_SEC 1000000000U
/* The kernel refuses larger clock offsets; json-c also clamps out-of-range integers to the ends of int64. */
#define TIME_OFFSET_SECS_MAX ((int64_t) (INT64_MAX / NSEC_PER_SEC))

/* ---- names ---- */

/* table[i], or NULL for an i out of range; table has n entries. */
static const char *name_lookup(const char *const *table, size_t n, int i) {
        if (i < 0 || (size_t) i >= n)
                return NULL;
        return table[i];
}

/* The index of s in table, or -EINVAL. */
static int name_find(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(s, table[i]))
                        return (int) i;
        return -EINVAL;
}

static const char *const namespace_names[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_MOUNT] = "mount", [NAMESPACE_UTS] = "uts", [NAMESPACE_IPC] = "ipc",
        [NAMESPACE_USER] = "user",   [NAMESPACE_PID] = "pid", [NAMESPACE_NET] = "net",
        [NAMESPACE_CGROUP] = "cgroup", [NAMESPACE_TIME] = "time",
};

static const char *const namespace_proc_names[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_MOUNT] = "mnt", [NAMESPACE_UTS] = "uts", [NAMESPACE_IPC] = "ipc",
        [NAMESPACE_USER] = "user", [NAMESPACE_PID] = "pid", [NAMESPACE_NET] = "net",
        [NAMESPACE_CGROUP] = "cgroup", [NAMESPACE_TIME] = "time",
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const unsigned long namespace_clone_flags[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_MOUNT] = CLONE_NEWNS, [NAMESPACE_UTS] = CLONE_NEWUTS, [NAMESPACE_IPC] = CLONE_NEWIPC,
        [NAMESPACE_USER] = CLONE_NEWUSER, [NAMESPACE_PID] = CLONE_NEWPID, [NAMESPACE_NET] = CLONE_NEWNET,
        [NAMESPACE_CGROUP] = CLONE_NEWCGROUP, [NAMESPACE_TIME] = CLONE_NEWTIME,
};

const char *namespace_type_to_string(NamespaceType t) {
        return name_lookup(namespace_names, ELEMENTSOF(namespace_names), t);
}

NamespaceType namespace_type_from_string(const char *s) {
        return name_find(namespace_names, ELEMENTSOF(namespace_names), s);
}

unsigned long namespace_type_to_clone_flag(NamespaceType t) {
        if (t < 0 || t >= _NAMESPACE_TYPE_MAX)
                return 0;
        return namespace_clone_flags[t];
}

const char *namespace_type_to_proc_name(NamespaceType t) {
        return name_lookup(namespace_proc_names, ELEMENTSOF(namespace_proc_names), t);
}

static const char *const mount_kind_names[_MOUNT_KIND_MAX] = {
        [MOUNT_BIND] = "bind",       [MOUNT_TMPFS] = "tmpfs", [MOUNT_PROC] = "proc",
        [MOUNT_DEV] = "dev",         [MOUNT_MQUEUE] = "mqueue", [MOUNT_DIR] = "dir",
        [MOUNT_SYMLINK] = "symlink", [MOUNT_FILE] = "file",   [MOUNT_REMOUNT_RO] = "remount-ro",
};

const char *mount_kind_to_string(MountKind k) {
        return name_lookup(mount_kind_names, ELEMENTSOF(mount_kind_names), k);
}

MountKind mount_kind_from_string(const char *s) {
        return name_find(mount_kind_names, ELEMENTSOF(mount_kind_names), s);
}

static const char *const sandbox_state_names[_SANDBOX_STATE_MAX] = {
        [SANDBOX_STARTING] = "starting",
        [SANDBOX_RUNNING] = "running",
        [SANDBOX_EXITED] = "exited",
        [SANDBOX_KILLED] = "killed",
};

const char *sandbox_state_to_string(SandboxState s) {
        return name_lookup(sandbox_state_names, ELEMENTSOF(sandbox_state_names), s);
}

SandboxState sandbox_state_from_string(const char *s) {
        return name_find(sandbox_state_names, ELEMENTSOF(sandbox_state_names), s);
}

#define SIGNAL_MAX 64

/*
 * Kernel signal numbers; 34 and up are named after glibc's SIGRTMIN (34),
 * 32 and 33 (which glibc keeps for itself) only by number.
 */
static const char *const signal_names[SIGNAL_MAX + 1] = {
        [1] = "SIGHUP",          [2] = "SIGINT",          [3] = "SIGQUIT",         [4] = "SIGILL",
        [5] = "SIGTRAP",         [6] = "SIGABRT",         [7] = "SIGBUS",          [8] = "SIGFPE",
        [9] = "SIGKILL",         [10] = "SIGUSR1",        [11] = "SIGSEGV",        [12] = "SIGUSR2",
        [13] = "SIGPIPE",        [14] = "SIGALRM",        [15] = "SIGTERM",        [16] = "SIGSTKFLT",
        [17] = "SIGCHLD",        [18] = "SIGCONT",        [19] = "SIGSTOP",        [20] = "SIGTSTP",
        [21] = "SIGTTIN",        [22] = "SIGTTOU",        [23] = "SIGURG",         [24] = "SIGXCPU",
        [25] = "SIGXFSZ",        [26] = "SIGVTALRM",      [27] = "SIGPROF",        [28] = "SIGWINCH",
        [29] = "SIGIO",          [30] = "SIGPWR",         [31] = "SIGSYS",         [32] = "32",
        [33] = "33",             [34] = "SIGRTMIN",       [35] = "SIGRTMIN+1",     [36] = "SIGRTMIN+2",
        [37] = "SIGRTMIN+3",     [38] = "SIGRTMIN+4",     [39] = "SIGRTMIN+5",     [40] = "SIGRTMIN+6",
        [41] = "SIGRTMIN+7",     [42] = "SIGRTMIN+8",     [43] = "SIGRTMIN+9",     [44] = "SIGRTMIN+10",
        [45] = "SIGRTMIN+11",    [46] = "SIGRTMIN+12",    [47] = "SIGRTMIN+13",    [48] = "SIGRTMIN+14",
        [49] = "SIGRTMIN+15",    [50] = "SIGRTMIN+16",    [51] = "SIGRTMIN+17",    [52] = "SIGRTMIN+18",
        [53] = "SIGRTMIN+19",    [54] = "SIGRTMIN+20",    [55] = "SIGRTMIN+21",    [56] = "SIGRTMIN+22",
        [57] = "SIGRTMIN+23",    [58] = "SIGRTMIN+24",    [59] = "SIGRTMIN+25",    [60] = "SIGRTMIN+26",
        [61] = "SIGRTMIN+27",    [62] = "SIGRTMIN+28",    [63] = "SIGRTMIN+29",    [64] = "SIGRTMAX",
};

const char *signal_to_string(int sig) {
        if (sig < 1 || sig > SIGNAL_MAX)
                return NULL;
        return signal_names[sig];
}

/* Parses a decimal number in [min, max] with nothing around it. */
static int parse_decimal(const char *s, long min, long max, long *ret) {
        long v = 0;
        bool neg = false;

        if (*s == '-') {
                neg = true;
                s++;
        }
        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (LONG_MAX - (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (*s - '0');
        }
        if (neg)
                v = -v;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int signal_from_string(const char *s) {
        const char *p;
        long n;

        if (!s || !*s)
                return -EINVAL;

        if (parse_decimal(s, 1, SIGNAL_MAX, &n) >= 0)
                return (int) n;

        p = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

        if (strncmp(p, "RTMIN", 5) == 0) {
                if (p[5] == 0)
                        return 34;
                if (p[5] == '+' && parse_decimal(p + 6, 0, SIGNAL_MAX - 34, &n) >= 0)
                        return 34 + (int) n;
                return -EINVAL;
        }
        if (strncmp(p, "RTMAX", 5) == 0) {
                if (p[5] == 0)
                        return SIGNAL_MAX;
                if (p[5] == '-' && parse_decimal(p + 6, 0, SIGNAL_MAX - 34, &n) >= 0)
                        return SIGNAL_MAX - (int) n;
                return -EINVAL;
        }

        for (int i = 1; i < 32; i++)
                if (streq(p, signal_names[i] + 3))
                        return i;
        /* Old names that kill(1) still accepts. */
        if (streq(p, "IOT"))
                return SIGABRT;
        if (streq(p, "POLL"))
                return SIGIO;

        return -EINVAL;
}

bool sandbox_id_is_valid(const char *id) {
        size_t n;

        if (!id)
                return false;
        n = strlen(id);
        if (n == 0 || n > SANDBOX_ID_MAX)
                return false;
        for (const char *p = id; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '-'))
                        return false;
        return true;
}

/* ---- field paths and invalid-parameter reporting ---- */

/*
 * Reports path as the invalid parameter. Every decoder stops at the first
 * problem, so this runs at most once per call: the caller's variable is
 * written, never read (it may be uninitialized).
 */
static int invalid(const char *path, char **ret_invalid_parameter) {
        if (ret_invalid_parameter) {
                char *s = strdup(path);
                if (!s)
                        return -ENOMEM;
                *ret_invalid_parameter = s;
        }
        return -EINVAL;
}

/* Writes a, b and c into buf (FIELD_PATH_MAX bytes); truncation only shortens an error message. */
static const char *path_concat(char *buf, const char *a, const char *b, const char *c) {
        const char *parts[] = { a, b, c };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                size_t len = strlen(parts[i]);

                len = MIN(len, FIELD_PATH_MAX - 1 - n);
                memcpy(buf + n, parts[i], len);
                n += len;
        }
        buf[n] = 0;
        return buf;
}

/* "prefix.key", or "key" at the top level. buf must not be prefix. */
static const char *path_field(char *buf, const char *prefix, const char *key) {
        if (!prefix || !*prefix)
                return path_concat(buf, key, "", "");
        return path_concat(buf, prefix, ".", key);
}

/* "prefix[i]". buf must not be prefix. */
static const char *path_index(char *buf, const char *prefix, size_t i) {
        char index[32];

        snprintf(index, sizeof(index), "[%zu]", i);
        return path_concat(buf, prefix, index, "");
}

/* ---- strict JSON getters ---- */

static bool is_null(struct json_object *v) {
        return json_object_get_type(v) == json_type_null;
}

static bool get_int64(struct json_object *v, int64_t *ret) {
        int64_t i;

        if (!v || json_object_get_type(v) != json_type_int)
                return false;

        i = json_object_get_int64(v);
        /* json-c clamps: INT64_MAX may stand for a larger unsigned value, INT64_MIN for anything below. */
        if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX)
                return false;
        if (i == INT64_MIN)
                return false;

        *ret = i;
        return true;
}

static bool get_int_range(struct json_object *v, int64_t min, int64_t max, int64_t *ret) {
        int64_t i;

        if (!get_int64(v, &i) || i < min || i > max)
                return false;
        *ret = i;
        return true;
}

static bool get_uint32(struct json_object *v, uint32_t *ret) {
        int64_t i;

        if (!get_int_range(v, 0, UINT32_MAX, &i))
                return false;
        *ret = (uint32_t) i;
        return true;
}

/* A string without NUL bytes of at most max bytes; borrowed. NULL (absent or JSON null) is no string. */
static const char *get_string(struct json_object *v, size_t max) {
        const char *s;
        size_t n;

        if (!v || json_object_get_type(v) != json_type_string)
                return NULL;
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        if (strlen(s) != n || n > max)
                return NULL;
        return s;
}

static int decode_bool(struct json_object *v, const char *path, bool *ret, char **ret_invalid) {
        if (!v || json_object_get_type(v) != json_type_boolean)
                return invalid(path, ret_invalid);
        *ret = json_object_get_boolean(v);
        return 0;
}

static int decode_tristate(struct json_object *v, const char *path, int *ret, char **ret_invalid) {
        bool b;
        int r;

        r = decode_bool(v, path, &b, ret_invalid);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* An index into the fds that came with the message. */
static bool get_fd_index(struct json_object *v, size_t n_message_fds, int *ret) {
        int64_t i;

        if (n_message_fds == 0 || !get_int_range(v, 0, (int64_t) MIN(n_message_fds, (size_t) INT_MAX) - 1, &i))
                return false;
        *ret = (int) i;
        return true;
}

/*
 * The decode_*() helpers below take v NULL for an absent member and report it
 * like a wrong value, so required members need no check of their own.
 */

static int decode_fd_index(struct json_object *v, const char *path, size_t n_message_fds, int *ret,
                           char **ret_invalid) {
        if (!v || !get_fd_index(v, n_message_fds, ret))
                return invalid(path, ret_invalid);
        return 0;
}

/* A uid or gid: (uid_t) -1 means "unchanged" to the kernel and is never a real id. */
static int decode_id(struct json_object *v, const char *path, uint32_t *ret, char **ret_invalid) {
        uint32_t u;

        if (!v || !get_uint32(v, &u) || u == UINT32_MAX)
                return invalid(path, ret_invalid);
        *ret = u;
        return 0;
}

static int decode_array(struct json_object *v, const char *path, size_t max, size_t *ret_n, char **ret_invalid) {
        size_t n;

        if (!v || json_object_get_type(v) != json_type_array)
                return invalid(path, ret_invalid);
        n = json_object_array_length(v);
        if (n > max)
                return invalid(path, ret_invalid);
        *ret_n = n;
        return 0;
}

/* ---- paths ---- */

/*
 * Checks an absolute path and returns it normalized: single slashes, no "."
 * components, no trailing slash. ".." is refused rather than resolved: what
 * it means depends on symlinks the daemon must not follow.
 */
static int path_normalize(const char *s, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0;

        if (!s || s[0] != '/')
                return -EINVAL;

        out = malloc(strlen(s) + 2);
        if (!out)
                return -ENOMEM;

        for (const char *p = s; *p;) {
                size_t len;

                while (*p == '/')
                        p++;
                len = strcspn(p, "/");
                if (len == 0)
                        break;
                if (len == 2 && p[0] == '.' && p[1] == '.')
                        return -EINVAL;
                if (!(len == 1 && p[0] == '.')) {
                        out[n++] = '/';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len;
        }

        if (n == 0)
                out[n++] = '/';
        out[n] = 0;

        *ret = TAKE_PTR(out);
        return 0;
}

static int decode_path(struct json_object *v, const char *path, size_t path_max, char **ret, char **ret_invalid) {
        const char *s;
        int r;

        s = get_string(v, path_max);
        if (!s)
                return invalid(path, ret_invalid);
        r = path_normalize(s, ret);
        if (r == -EINVAL)
                return invalid(path, ret_invalid);
        return r;
}

static bool hostname_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > SANDBOX_HOSTNAME_MAX || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                /* Labels are not empty and neither start nor end with '-'. */
                if (c == '.') {
                        if (s[i + 1] == '.' || s[i + 1] == '-')
                                return false;
                        continue;
                }
                if (c == '-' && (s[i + 1] == '.' || s[i + 1] == 0))
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                        return false;
        }
        return true;
}

static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > SANDBOX_NAME_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static int decode_string_dup(struct json_object *v, const char *path, size_t max, bool (*valid)(const char *s),
                             char **ret, char **ret_invalid) {
        const char *s;
        char *c;

        s = get_string(v, max);
        if (!s || (valid && !valid(s)))
                return invalid(path, ret_invalid);
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        free(*ret);
        *ret = c;
        return 0;
}

/* ---- Spawn ---- */

static const SpawnLimits spawn_limits_default = {
        .argv_bytes_max = SPAWN_ARGV_BYTES_MAX_DEFAULT,
        .env_bytes_max = SPAWN_ENV_BYTES_MAX_DEFAULT,
        .env_entries_max = 1024,
        .argv_entries_max = 4096,
        .mappings_max = SPAWN_MAPPINGS_MAX_DEFAULT,
        .mounts_max = SPAWN_MOUNTS_MAX_DEFAULT,
        .fds_max = 64,
        .groups_max = 64,
        .path_max = 4096,
};

static SpawnLimits spawn_limits_resolve(const SpawnLimits *l) {
        SpawnLimits d = spawn_limits_default;

        if (!l)
                return d;
#define PICK(f) d.f = l->f > 0 ? l->f : d.f
        PICK(argv_bytes_max);
        PICK(env_bytes_max);
        PICK(env_entries_max);
        PICK(argv_entries_max);
        PICK(mappings_max);
        PICK(mounts_max);
        PICK(fds_max);
        PICK(groups_max);
        PICK(path_max);
#undef PICK
        d.mappings_max = MIN(d.mappings_max, (size_t) ID_MAPPINGS_KERNEL_MAX);
        return d;
}

SpawnRequest *spawn_request_new(void) {
        SpawnRequest *r;

        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;

        r->setgroups = -1;
        r->stdin_index = r->stdout_index = r->stderr_index = -1;
        r->init = -1;
        r->new_session = -1;
        return r;
}

static void mount_entry_done(MountEntry *m) {
        free(m->source);
        free(m->destination);
}

SpawnRequest *spawn_request_free(SpawnRequest *r) {
        if (!r)
                return NULL;

        strv_free(r->argv);
        strv_free(r->env);
        free(r->cwd);
        free(r->name);
        free(r->hostname);
        free(r->root);
        free(r->join_namespaces);
        free(r->uid_mappings);
        free(r->gid_mappings);
        free(r->additional_gids);
        free(r->fds);
        for (size_t i = 0; i < r->n_mounts; i++)
                mount_entry_done(r->mounts + i);
        free(r->mounts);
        free(r);
        return NULL;
}

static bool env_entry_is_valid(const char *s) {
        const char *eq = strchr(s, '=');
        return eq && eq != s;
}

static bool nonempty(const char *s) {
        return s[0] != 0;
}

/* A string array with entry and byte (strlen + 1 each) limits; per-entry check optional. */
static int decode_strv(struct json_object *v, const char *path, size_t entries_max, size_t bytes_max,
                       bool (*valid_entry)(const char *s), char ***ret, char **ret_invalid) {
        _cleanup_strv_free_ char **l = NULL;
        char buf[FIELD_PATH_MAX];
        size_t n, bytes = 0;
        int r;

        r = decode_array(v, path, entries_max, &n, ret_invalid);
        if (r < 0)
                return r;

        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);
                const char *s;

                s = get_string(e, bytes_max);
                if (!s || (valid_entry && !valid_entry(s)))
                        return invalid(path_index(buf, path, i), ret_invalid);

                bytes += strlen(s) + 1;
                if (bytes > bytes_max)
                        return invalid(path, ret_invalid);

                l[i] = strdup(s);
                if (!l[i])
                        return -ENOMEM;
        }

        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

static int decode_argv(struct json_object *v, const SpawnLimits *lim, SpawnRequest *req, char **ret_invalid) {
        int r;

        r = decode_strv(v, "argv", lim->argv_entries_max, lim->argv_bytes_max, NULL, &req->argv, ret_invalid);
        if (r < 0)
                return r;
        if (!req->argv[0])
                return invalid("argv", ret_invalid);
        if (!req->argv[0][0])
                return invalid("argv[0]", ret_invalid);
        return 0;
}

static int decode_namespace_list(struct json_object *v, unsigned *ret, char **ret_invalid) {
        char buf[FIELD_PATH_MAX];
        unsigned mask = 0;
        size_t n;
        int r;

        r = decode_array(v, "namespaces", _NAMESPACE_TYPE_MAX, &n, ret_invalid);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const char *s = get_string(json_object_array_get_idx(v, i), 32);
                NamespaceType t;

                t = namespace_type_from_string(s);
                if (t < 0 || (mask & NAMESPACE_BIT(t)))
                        return invalid(path_index(buf, "namespaces", i), ret_invalid);
                mask |= NAMESPACE_BIT(t);
        }

        *ret = mask;
        return 0;
}

static bool key_in(const char *key, const char *const *allowed) {
        for (const char *const *a = allowed; *a; a++)
                if (streq(key, *a))
                        return true;
        return false;
}

/* Checks o's keys against 'allowed' (NULL-terminated); an unknown one is reported as prefix.key. */
static int check_keys(struct json_object *o, const char *prefix, const char *const *allowed, char **ret_invalid) {
        char buf[FIELD_PATH_MAX];

        json_object_object_foreach(o, key, value) {
                (void) value;
                if (!key_in(key, allowed))
                        return invalid(path_field(buf, prefix, key), ret_invalid);
        }
        return 0;
}

/* A member, or NULL when it is absent or JSON null: the interface treats both as "not given". */
static struct json_object *member(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || is_null(v))
                return NULL;
        return v;
}

static int require_object(struct json_object *v, const char *path, const char *const *allowed, char **ret_invalid) {
        if (json_object_get_type(v) != json_type_object)
                return invalid(path, ret_invalid);
        return check_keys(v, path, allowed, ret_invalid);
}

static int decode_join_namespaces(struct json_object *v, size_t n_message_fds, SpawnRequest *req,
                                  char **ret_invalid) {
        static const char *const keys[] = { "type", "fileDescriptor", NULL };
        _cleanup_free_ JoinNamespace *j = NULL;
        char ebuf[FIELD_PATH_MAX], fbuf[FIELD_PATH_MAX];
        unsigned seen = 0;
        size_t n;
        int r;

        r = decode_array(v, "joinNamespaces", _NAMESPACE_TYPE_MAX, &n, ret_invalid);
        if (r < 0)
                return r;

        j = calloc(MAX(n, 1U), sizeof(*j));
        if (!j)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);
                NamespaceType t;

                path_index(ebuf, "joinNamespaces", i);
                r = require_object(e, ebuf, keys, ret_invalid);
                if (r < 0)
                        return r;

                t = namespace_type_from_string(get_string(member(e, "type"), 32));
                if (t < 0 || (seen & NAMESPACE_BIT(t)))
                        return invalid(path_field(fbuf, ebuf, "type"), ret_invalid);
                seen |= NAMESPACE_BIT(t);
                j[i].type = t;

                r = decode_fd_index(member(e, "fileDescriptor"), path_field(fbuf, ebuf, "fileDescriptor"),
                                    n_message_fds, &j[i].fd_index, ret_invalid);
                if (r < 0)
                        return r;
        }

        free(req->join_namespaces);
        req->join_namespaces = TAKE_PTR(j);
        req->n_join_namespaces = n;
        return 0;
}

static bool ranges_overlap(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size) {
        return (uint64_t) a < (uint64_t) b + b_size && (uint64_t) b < (uint64_t) a + a_size;
}

static int decode_mappings(struct json_object *v, const char *path, size_t max, IdMapping **ret, size_t *ret_n,
                           char **ret_invalid) {
        static const char *const keys[] = { "containerID", "hostID", "size", NULL };
        _cleanup_free_ IdMapping *m = NULL;
        char ebuf[FIELD_PATH_MAX], fbuf[FIELD_PATH_MAX];
        size_t n;
        int r;

        r = decode_array(v, path, max, &n, ret_invalid);
        if (r < 0)
                return r;

        m = calloc(MAX(n, 1U), sizeof(*m));
        if (!m)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i), *f;

                path_index(ebuf, path, i);
                r = require_object(e, ebuf, keys, ret_invalid);
                if (r < 0)
                        return r;

                f = member(e, "containerID");
                if (!f || !get_uint32(f, &m[i].container_id))
                        return invalid(path_field(fbuf, ebuf, "containerID"), ret_invalid);
                f = member(e, "hostID");
                if (!f || !get_uint32(f, &m[i].host_id))
                        return invalid(path_field(fbuf, ebuf, "hostID"), ret_invalid);
                f = member(e, "size");
                if (!f || !get_uint32(f, &m[i].size) || m[i].size == 0)
                        return invalid(path_field(fbuf, ebuf, "size"), ret_invalid);

                /* Like the kernel: a range may not reach (uid_t) -1. */
                if ((uint64_t) m[i].container_id + m[i].size > UINT32_MAX ||
                    (uint64_t) m[i].host_id + m[i].size > UINT32_MAX)
                        return invalid(path_field(fbuf, ebuf, "size"), ret_invalid);

                /* The kernel refuses overlapping extents; say which entry does it. */
                for (size_t k = 0; k < i; k++)
                        if (ranges_overlap(m[k].container_id, m[k].size, m[i].container_id, m[i].size) ||
                            ranges_overlap(m[k].host_id, m[k].size, m[i].host_id, m[i].size))
                                return invalid(ebuf, ret_invalid);
        }

        free(*ret);
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

static int decode_user(struct json_object *v, const SpawnLimits *lim, SpawnRequest *req, char **ret_invalid) {
        static const char *const keys[] = { "uid", "gid", "additionalGids", NULL };
        _cleanup_free_ uint32_t *groups = NULL;
        char buf[FIELD_PATH_MAX];
        struct json_object *f;
        uint32_t uid, gid;
        size_t n = 0;
        int r;

        r = require_object(v, "user", keys, ret_invalid);
        if (r < 0)
                return r;

        r = decode_id(member(v, "uid"), "user.uid", &uid, ret_invalid);
        if (r < 0)
                return r;

        r = decode_id(member(v, "gid"), "user.gid", &gid, ret_invalid);
        if (r < 0)
                return r;

        f = member(v, "additionalGids");
        if (f) {
                r = decode_array(f, "user.additionalGids", lim->groups_max, &n, ret_invalid);
                if (r < 0)
                        return r;
                groups = calloc(MAX(n, 1U), sizeof(uint32_t));
                if (!groups)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        r = decode_id(json_object_array_get_idx(f, i), path_index(buf, "user.additionalGids", i),
                                      groups + i, ret_invalid);
                        if (r < 0)
                                return r;
                }
        }

        req->has_user = true;
        req->uid = uid;
        req->gid = gid;
        free(req->additional_gids);
        req->additional_gids = TAKE_PTR(groups);
        req->n_additional_gids = n;
        return 0;
}

static int decode_fd_mappings(struct json_object *v, const SpawnLimits *lim, size_t n_message_fds,
                              SpawnRequest *req, char **ret_invalid) {
        static const char *const keys[] = { "target", "fileDescriptor", NULL };
        _cleanup_free_ FdMapping *m = NULL;
        char ebuf[FIELD_PATH_MAX], fbuf[FIELD_PATH_MAX];
        size_t n;
        int r;

        r = decode_array(v, "fileDescriptors", lim->fds_max, &n, ret_invalid);
        if (r < 0)
                return r;

        m = calloc(MAX(n, 1U), sizeof(*m));
        if (!m)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i), *f;
                int64_t target;

                path_index(ebuf, "fileDescriptors", i);
                r = require_object(e, ebuf, keys, ret_invalid);
                if (r < 0)
                        return r;

                path_field(fbuf, ebuf, "target");
                f = member(e, "target");
                /* 0-2 are stdin/stdout/stderr; the upper bound keeps the child's fd table small. */
                if (!f || !get_int_range(f, 3, 1023, &target))
                        return invalid(fbuf, ret_invalid);
                for (size_t k = 0; k < i; k++)
                        if (m[k].target == target)
                                return invalid(fbuf, ret_invalid);
                m[i].target = (int) target;

                r = decode_fd_index(member(e, "fileDescriptor"), path_field(fbuf, ebuf, "fileDescriptor"),
                                    n_message_fds, &m[i].fd_index, ret_invalid);
                if (r < 0)
                        return r;
        }

        free(req->fds);
        req->fds = TAKE_PTR(m);
        req->n_fds = n;
        return 0;
}

/* "size=" with an optional k/m/g suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *ret) {
        uint64_t v = 0, factor = 1;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        switch (*p) {
        case 0:
                break;
        case 'k': case 'K':
                factor = 1024ULL;
                p++;
                break;
        case 'm': case 'M':
                factor = 1024ULL * 1024ULL;
                p++;
                break;
        case 'g': case 'G':
                factor = 1024ULL * 1024ULL * 1024ULL;
                p++;
                break;
        default:
                return -EINVAL;
        }
        if (*p != 0 || v == 0 || v > UINT64_MAX / factor)
                return -EINVAL;
        *ret = v * factor;
        return 0;
}

static int parse_mode(const char *s, int *ret) {
        unsigned v = 0;
        size_t n = 0;

        for (const char *p = s; *p; p++, n++) {
                if (*p < '0' || *p > '7' || n >= 5)
                        return -EINVAL;
                v = v * 8 + (unsigned) (*p - '0');
        }
        if (n == 0 || v > 07777)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int decode_mount_options(struct json_object *v, const char *path, MountEntry *m, char **ret_invalid) {
        char buf[FIELD_PATH_MAX];
        size_t n;
        int r;

        r = decode_array(v, path, SANDBOX_MOUNT_OPTIONS_MAX, &n, ret_invalid);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const char *o = get_string(json_object_array_get_idx(v, i), 64);

                path_index(buf, path, i);
                if (!o)
                        return invalid(buf, ret_invalid);

                if (streq(o, "ro"))
                        m->read_only = true;
                else if (streq(o, "rw"))
                        m->read_only = false;
                else if (streq(o, "suid"))
                        m->allow_suid = true;
                else if (streq(o, "nosuid"))
                        m->allow_suid = false;
                else if (streq(o, "dev"))
                        m->allow_dev = true;
                else if (streq(o, "nodev"))
                        m->allow_dev = false;
                else if (streq(o, "exec"))
                        m->no_exec = false;
                else if (streq(o, "noexec"))
                        m->no_exec = true;
                else if (strncmp(o, "size=", 5) == 0) {
                        if (m->kind != MOUNT_TMPFS || parse_size(o + 5, &m->size) < 0)
                                return invalid(buf, ret_invalid);
                } else if (strncmp(o, "mode=", 5) == 0) {
                        if (!(m->kind == MOUNT_TMPFS || m->kind == MOUNT_DIR || m->kind == MOUNT_FILE) ||
                            parse_mode(o + 5, &m->mode) < 0)
                                return invalid(buf, ret_invalid);
                } else
                        return invalid(buf, ret_invalid);
        }

        return 0;
}

static int decode_mount(struct json_object *e, const char *ebuf, const SpawnLimits *lim, size_t n_message_fds,
                        MountEntry *m, char **ret_invalid) {
        static const char *const keys[] = { "type", "source", "sourceFileDescriptor", "destination", "options",
                                             NULL };
        char fbuf[FIELD_PATH_MAX], source_path[FIELD_PATH_MAX], source_fd_path[FIELD_PATH_MAX];
        struct json_object *source, *source_fd, *options;
        int r;

        r = require_object(e, ebuf, keys, ret_invalid);
        if (r < 0)
                return r;

        m->kind = mount_kind_from_string(get_string(member(e, "type"), 32));
        if (m->kind < 0)
                return invalid(path_field(fbuf, ebuf, "type"), ret_invalid);

        source = member(e, "source");
        source_fd = member(e, "sourceFileDescriptor");
        path_field(source_path, ebuf, "source");
        path_field(source_fd_path, ebuf, "sourceFileDescriptor");

        switch (m->kind) {
        case MOUNT_BIND:
                if (!source == !source_fd)
                        return invalid(source ? source_fd_path : source_path, ret_invalid);
                if (source) {
                        r = decode_path(source, source_path, lim->path_max, &m->source, ret_invalid);
                        if (r < 0)
                                return r;
                }
                break;
        case MOUNT_SYMLINK:
                if (!source)
                        return invalid(source_path, ret_invalid);
                /* A link target is resolved inside the sandbox, so it may be relative and contain "..". */
                r = decode_string_dup(source, source_path, lim->path_max, nonempty, &m->source, ret_invalid);
                if (r < 0)
                        return r;
                if (source_fd)
                        return invalid(source_fd_path, ret_invalid);
                break;
        case MOUNT_FILE:
                if (source)
                        return invalid(source_path, ret_invalid);
                if (!source_fd)
                        return invalid(source_fd_path, ret_invalid);
                break;
        default:
                if (source)
                        return invalid(source_path, ret_invalid);
                if (source_fd)
                        return invalid(source_fd_path, ret_invalid);
        }

        if (source_fd) {
                r = decode_fd_index(source_fd, source_fd_path, n_message_fds, &m->source_fd_index, ret_invalid);
                if (r < 0)
                        return r;
        }

        r = decode_path(member(e, "destination"), path_field(fbuf, ebuf, "destination"), lim->path_max,
                        &m->destination, ret_invalid);
        if (r < 0)
                return r;

        options = member(e, "options");
        if (options) {
                r = decode_mount_options(options, path_field(fbuf, ebuf, "options"), m, ret_invalid);
                if (r < 0)
                        return r;
        }

        return 0;
}

static int decode_mounts(struct json_object *v, const SpawnLimits *lim, size_t n_message_fds, SpawnRequest *req,
                         char **ret_invalid) {
        char ebuf[FIELD_PATH_MAX];
        MountEntry *mounts;
        size_t n;
        int r;

        r = decode_array(v, "mounts", lim->mounts_max, &n, ret_invalid);
        if (r < 0)
                return r;

        mounts = calloc(MAX(n, 1U), sizeof(MountEntry));
        if (!mounts)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                mounts[i] = (MountEntry) { .source_fd_index = -1, .mode = -1 };

                r = decode_mount(json_object_array_get_idx(v, i), path_index(ebuf, "mounts", i), lim, n_message_fds,
                                 mounts + i, ret_invalid);
                if (r < 0) {
                        for (size_t k = 0; k <= i; k++)
                                mount_entry_done(mounts + k);
                        free(mounts);
                        return r;
                }
        }

        for (size_t i = 0; i < req->n_mounts; i++)
                mount_entry_done(req->mounts + i);
        free(req->mounts);
        req->mounts = mounts;
        req->n_mounts = n;
        return 0;
}

static int decode_time_offset(struct json_object *v, const char *path, TimeOffset *ret, char **ret_invalid) {
        static const char *const keys[] = { "secs", "nanosecs", NULL };
        char buf[FIELD_PATH_MAX];
        struct json_object *f;
        int64_t secs, nsecs;
        int r;

        r = require_object(v, path, keys, ret_invalid);
        if (r < 0)
                return r;

        f = member(v, "secs");
        if (!f || !get_int_range(f, -TIME_OFFSET_SECS_MAX, TIME_OFFSET_SECS_MAX, &secs))
                return invalid(path_field(buf, path, "secs"), ret_invalid);

        f = member(v, "nanosecs");
        if (!f || !get_int_range(f, 0, NSEC_PER_SEC - 1, &nsecs))
                return invalid(path_field(buf, path, "nanosecs"), ret_invalid);

        *ret = (TimeOffset) { .secs = secs, .nanosecs = (uint32_t) nsecs };
        return 0;
}

static int decode_time_offsets(struct json_object *v, SpawnRequest *req, char **ret_invalid) {
        static const char *const keys[] = { "monotonic", "boottime", NULL };
        struct json_object *f;
        int r;

        r = require_object(v, "timeOffsets", keys, ret_invalid);
        if (r < 0)
                return r;

        f = member(v, "monotonic");
        if (f) {
                r = decode_time_offset(f, "timeOffsets.monotonic", &req->monotonic_offset, ret_invalid);
                if (r < 0)
                        return r;
                req->has_monotonic_offset = true;
        }

        f = member(v, "boottime");
        if (f) {
                r = decode_time_offset(f, "timeOffsets.boottime", &req->boottime_offset, ret_invalid);
                if (r < 0)
                        return r;
                req->has_boottime_offset = true;
        }

        return 0;
}

/* Fields that only make sense together with certain namespaces; see the header. */
static int spawn_request_check_consistency(const SpawnRequest *req, char **ret_invalid) {
        unsigned joined = 0;
        char ebuf[FIELD_PATH_MAX], fbuf[FIELD_PATH_MAX];

        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                NamespaceType t = req->join_namespaces[i].type;

                if (req->namespaces & NAMESPACE_BIT(t))
                        return invalid(path_field(fbuf, path_index(ebuf, "joinNamespaces", i), "type"), ret_invalid);
                joined |= NAMESPACE_BIT(t);
        }

        if (req->hostname && !((req->namespaces | joined) & NAMESPACE_BIT(NAMESPACE_UTS)))
                return invalid("hostname", ret_invalid);
        if (req->root && !((req->namespaces | joined) & NAMESPACE_BIT(NAMESPACE_MOUNT)))
                return invalid("root", ret_invalid);
        if (req->n_mounts > 0 && !((req->namespaces | joined) & NAMESPACE_BIT(NAMESPACE_MOUNT)))
                return invalid("mounts", ret_invalid);
        if (!(req->namespaces & NAMESPACE_BIT(NAMESPACE_USER))) {
                if (req->n_uid_mappings > 0)
                        return invalid("uidMappings", ret_invalid);
                if (req->n_gid_mappings > 0)
                        return invalid("gidMappings", ret_invalid);
                if (req->setgroups >= 0)
                        return invalid("setgroups", ret_invalid);
        }
        if ((req->has_monotonic_offset || req->has_boottime_offset) &&
            !(req->namespaces & NAMESPACE_BIT(NAMESPACE_TIME)))
                return invalid("timeOffsets", ret_invalid);

        return 0;
}

static int spawn_request_decode_field(const char *key, struct json_object *v, size_t n_message_fds,
                                      const SpawnLimits *lim, SpawnRequest *req, char **ret_invalid) {
        bool b;
        int r;

        if (streq(key, "argv"))
                return decode_argv(v, lim, req, ret_invalid);
        if (streq(key, "env"))
                return decode_strv(v, "env", lim->env_entries_max, lim->env_bytes_max, env_entry_is_valid, &req->env,
                                   ret_invalid);
        if (streq(key, "cwd")) {
                free(req->cwd);
                req->cwd = NULL;
                return decode_path(v, "cwd", lim->path_max, &req->cwd, ret_invalid);
        }
        if (streq(key, "name"))
                return decode_string_dup(v, "name", SANDBOX_NAME_MAX, name_is_valid, &req->name, ret_invalid);
        if (streq(key, "namespaces"))
                return decode_namespace_list(v, &req->namespaces, ret_invalid);
        if (streq(key, "joinNamespaces"))
                return decode_join_namespaces(v, n_message_fds, req, ret_invalid);
        if (streq(key, "uidMappings"))
                return decode_mappings(v, "uidMappings", lim->mappings_max, &req->uid_mappings,
                                       &req->n_uid_mappings, ret_invalid);
        if (streq(key, "gidMappings"))
                return decode_mappings(v, "gidMappings", lim->mappings_max, &req->gid_mappings,
                                       &req->n_gid_mappings, ret_invalid);
        if (streq(key, "setgroups"))
                return decode_tristate(v, "setgroups", &req->setgroups, ret_invalid);
        if (streq(key, "user"))
                return decode_user(v, lim, req, ret_invalid);
        if (streq(key, "hostname"))
                return decode_string_dup(v, "hostname", SANDBOX_HOSTNAME_MAX, hostname_is_valid, &req->hostname,
                                         ret_invalid);
        if (streq(key, "stdin"))
                return decode_fd_index(v, "stdin", n_message_fds, &req->stdin_index, ret_invalid);
        if (streq(key, "stdout"))
                return decode_fd_index(v, "stdout", n_message_fds, &req->stdout_index, ret_invalid);
        if (streq(key, "stderr"))
                return decode_fd_index(v, "stderr", n_message_fds, &req->stderr_index, ret_invalid);
        if (streq(key, "fileDescriptors"))
                return decode_fd_mappings(v, lim, n_message_fds, req, ret_invalid);
        if (streq(key, "root")) {
                free(req->root);
                req->root = NULL;
                return decode_path(v, "root", lim->path_max, &req->root, ret_invalid);
        }
        if (streq(key, "mounts"))
                return decode_mounts(v, lim, n_message_fds, req, ret_invalid);
        if (streq(key, "timeOffsets"))
                return decode_time_offsets(v, req, ret_invalid);
        if (streq(key, "init"))
                return decode_tristate(v, "init", &req->init, ret_invalid);
        if (streq(key, "newSession"))
                return decode_tristate(v, "newSession", &req->new_session, ret_invalid);
        if (streq(key, "keepAlive")) {
                r = decode_bool(v, "keepAlive", &b, ret_invalid);
                if (r < 0)
                        return r;
                req->keep_alive = b;
                return 0;
        }

        return invalid(key, ret_invalid);
}

int spawn_request_decode(struct json_object *parameters, size_t n_message_fds, const SpawnLimits *limits,
                         SpawnRequest **ret, char **ret_invalid_parameter) {
        _cleanup_(spawn_request_freep) SpawnRequest *req = NULL;
        _cleanup_free_ char *invalid_parameter = NULL;
        SpawnLimits lim = spawn_limits_resolve(limits);
        int r;

        if (!ret)
                return -EINVAL;
        if (json_object_get_type(parameters) != json_type_object)
                return invalid("parameters", ret_invalid_parameter);

        req = spawn_request_new();
        if (!req)
                return -ENOMEM;

        json_object_object_foreach(parameters, key, value) {
                /* A null is an absent optional field; argv is not optional. */
                if (is_null(value) && !streq(key, "argv")) {
                        /* Still refuse names the interface does not have. */
                        static const char *const known[] = {
                                "env", "cwd", "name", "namespaces", "joinNamespaces", "uidMappings", "gidMappings",
                                "setgroups", "user", "hostname", "stdin", "stdout", "stderr", "fileDescriptors",
                                "root", "mounts", "timeOffsets", "init", "newSession", "keepAlive", NULL,
                        };

                        if (!key_in(key, known)) {
                                r = invalid(key, &invalid_parameter);
                                goto fail;
                        }
                        continue;
                }

                r = spawn_request_decode_field(key, value, n_message_fds, &lim, req, &invalid_parameter);
                if (r < 0)
                        goto fail;
        }

        if (!req->argv) {
                r = invalid("argv", &invalid_parameter);
                goto fail;
        }

        r = spawn_request_check_consistency(req, &invalid_parameter);
        if (r < 0)
                goto fail;

        *ret = TAKE_PTR(req);
        return 0;

fail:
        if (r == -EINVAL && ret_invalid_parameter)
                *ret_invalid_parameter = TAKE_PTR(invalid_parameter);
        return r;
}

/* ---- encoding helpers ---- */

static bool add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

static bool append(struct json_object *a, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

static struct json_object *put(struct json_object *o) {
        json_object_put(o);
        return NULL;
}

static struct json_object *strv_encode(char *const *l) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (char *const *s = l; s && *s; s++)
                if (!append(a, json_object_new_string(*s)))
                        return put(a);
        return a;
}

static struct json_object *namespaces_encode(unsigned mask) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if ((mask & NAMESPACE_BIT(t)) && !append(a, json_object_new_string(namespace_names[t])))
                        return put(a);
        return a;
}

static struct json_object *mappings_encode(const IdMapping *m, size_t n) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_new_object();

                if (!append(a, e) || !add(e, "containerID", json_object_new_int64(m[i].container_id)) ||
                    !add(e, "hostID", json_object_new_int64(m[i].host_id)) ||
                    !add(e, "size", json_object_new_int64(m[i].size)))
                        return put(a);
        }
        return a;
}

static struct json_object *time_offset_encode(const TimeOffset *t) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (!add(o, "secs", json_object_new_int64(t->secs)) || !add(o, "nanosecs", json_object_new_int64(t->nanosecs)))
                return put(o);
        return o;
}

static struct json_object *mount_options_encode(const MountEntry *m) {
        struct json_object *a = json_object_new_array();
        char buf[64];

        if (!a)
                return NULL;
        if (!append(a, json_object_new_string(m->read_only ? "ro" : "rw")) ||
            !append(a, json_object_new_string(m->allow_suid ? "suid" : "nosuid")) ||
            !append(a, json_object_new_string(m->allow_dev ? "dev" : "nodev")) ||
            !append(a, json_object_new_string(m->no_exec ? "noexec" : "exec")))
                return put(a);
        if (m->size > 0) {
                snprintf(buf, sizeof(buf), "size=%" PRIu64, m->size);
                if (!append(a, json_object_new_string(buf)))
                        return put(a);
        }
        if (m->mode >= 0) {
                snprintf(buf, sizeof(buf), "mode=%04o", (unsigned) m->mode);
                if (!append(a, json_object_new_string(buf)))
                        return put(a);
        }
        return a;
}

static struct json_object *mount_encode(const MountEntry *m) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (!add(o, "type", json_object_new_string(mount_kind_to_string(m->kind) ?: "")))
                return put(o);
        if (m->source && !add(o, "source", json_object_new_string(m->source)))
                return put(o);
        if (m->source_fd_index >= 0 && !add(o, "sourceFileDescriptor", json_object_new_int(m->source_fd_index)))
                return put(o);
        if (!add(o, "destination", json_object_new_string(m->destination ?: "")))
                return put(o);
        if (!add(o, "options", mount_options_encode(m)))
                return put(o);
        return o;
}

struct json_object *spawn_request_encode(const SpawnRequest *r) {
        struct json_object *o;

        if (!r)
                return NULL;

        o = json_object_new_object();
        if (!o)
                return NULL;

        if (!add(o, "argv", strv_encode(r->argv)))
                return put(o);
        if (r->env && !add(o, "env", strv_encode(r->env)))
                return put(o);
        if (r->cwd && !add(o, "cwd", json_object_new_string(r->cwd)))
                return put(o);
        if (r->name && !add(o, "name", json_object_new_string(r->name)))
                return put(o);
        if (r->namespaces && !add(o, "namespaces", namespaces_encode(r->namespaces)))
                return put(o);

        if (r->n_join_namespaces > 0) {
                struct json_object *a = json_object_new_array();

                if (!add(o, "joinNamespaces", a))
                        return put(o);
                for (size_t i = 0; i < r->n_join_namespaces; i++) {
                        struct json_object *e = json_object_new_object();

                        if (!append(a, e) ||
                            !add(e, "type",
                                 json_object_new_string(namespace_type_to_string(r->join_namespaces[i].type) ?: "")) ||
                            !add(e, "fileDescriptor", json_object_new_int(r->join_namespaces[i].fd_index)))
                                return put(o);
                }
        }

        if (r->n_uid_mappings > 0 && !add(o, "uidMappings", mappings_encode(r->uid_mappings, r->n_uid_mappings)))
                return put(o);
        if (r->n_gid_mappings > 0 && !add(o, "gidMappings", mappings_encode(r->gid_mappings, r->n_gid_mappings)))
                return put(o);
        if (r->setgroups >= 0 && !add(o, "setgroups", json_object_new_boolean(r->setgroups)))
                return put(o);

        if (r->has_user) {
                struct json_object *u = json_object_new_object();

                if (!add(o, "user", u) || !add(u, "uid", json_object_new_int64(r->uid)) ||
                    !add(u, "gid", json_object_new_int64(r->gid)))
                        return put(o);
                if (r->n_additional_gids > 0) {
                        struct json_object *a = json_object_new_array();

                        if (!add(u, "additionalGids", a))
                                return put(o);
                        for (size_t i = 0; i < r->n_additional_gids; i++)
                                if (!append(a, json_object_new_int64(r->additional_gids[i])))
                                        return put(o);
                }
        }

        if (r->hostname && !add(o, "hostname", json_object_new_string(r->hostname)))
                return put(o);
        if (r->stdin_index >= 0 && !add(o, "stdin", json_object_new_int(r->stdin_index)))
                return put(o);
        if (r->stdout_index >= 0 && !add(o, "stdout", json_object_new_int(r->stdout_index)))
                return put(o);
        if (r->stderr_index >= 0 && !add(o, "stderr", json_object_new_int(r->stderr_index)))
                return put(o);

        if (r->n_fds > 0) {
                struct json_object *a = json_object_new_array();

                if (!add(o, "fileDescriptors", a))
                        return put(o);
                for (size_t i = 0; i < r->n_fds; i++) {
                        struct json_object *e = json_object_new_object();

                        if (!append(a, e) || !add(e, "target", json_object_new_int(r->fds[i].target)) ||
                            !add(e, "fileDescriptor", json_object_new_int(r->fds[i].fd_index)))
                                return put(o);
                }
        }

        if (r->root && !add(o, "root", json_object_new_string(r->root)))
                return put(o);

        if (r->n_mounts > 0) {
                struct json_object *a = json_object_new_array();

                if (!add(o, "mounts", a))
                        return put(o);
                for (size_t i = 0; i < r->n_mounts; i++)
                        if (!append(a, mount_encode(r->mounts + i)))
                                return put(o);
        }

        if (r->has_monotonic_offset || r->has_boottime_offset) {
                struct json_object *t = json_object_new_object();

                if (!add(o, "timeOffsets", t))
                        return put(o);
                if (r->has_monotonic_offset && !add(t, "monotonic", time_offset_encode(&r->monotonic_offset)))
                        return put(o);
                if (r->has_boottime_offset && !add(t, "boottime", time_offset_encode(&r->boottime_offset)))
                        return put(o);
        }

        if (r->init >= 0 && !add(o, "init", json_object_new_boolean(r->init)))
                return put(o);
        if (r->new_session >= 0 && !add(o, "newSession", json_object_new_boolean(r->new_session)))
                return put(o);
        if (r->keep_alive && !add(o, "keepAlive", json_object_new_boolean(true)))
                return put(o);

        return o;
}

/* ---- Wait, Kill, Inspect, List requests ---- */

/* The "id" member of o if it is a valid sandbox id; borrowed. */
static const char *get_sandbox_id(struct json_object *o) {
        const char *s = get_string(member(o, "id"), SANDBOX_ID_MAX);

        return s && sandbox_id_is_valid(s) ? s : NULL;
}

static int decode_id_field(struct json_object *parameters, char **ret_id, char **ret_invalid) {
        const char *s;
        char *id;

        s = get_sandbox_id(parameters);
        if (!s)
                return invalid("id", ret_invalid);

        id = strdup(s);
        if (!id)
                return -ENOMEM;
        *ret_id = id;
        return 0;
}

int sandbox_id_request_decode(struct json_object *parameters, char **ret_id, char **ret_invalid_parameter) {
        static const char *const keys[] = { "id", NULL };
        int r;

        if (!ret_id)
                return -EINVAL;
        if (json_object_get_type(parameters) != json_type_object)
                return invalid("parameters", ret_invalid_parameter);

        r = check_keys(parameters, NULL, keys, ret_invalid_parameter);
        if (r < 0)
                return r;
        return decode_id_field(parameters, ret_id, ret_invalid_parameter);
}

int kill_request_decode(struct json_object *parameters, char **ret_id, int *ret_signal, char **ret_invalid_parameter) {
        static const char *const keys[] = { "id", "signal", NULL };
        _cleanup_free_ char *id = NULL;
        struct json_object *v;
        int64_t sig = SIGTERM;
        int r;

        if (!ret_id || !ret_signal)
                return -EINVAL;
        if (json_object_get_type(parameters) != json_type_object)
                return invalid("parameters", ret_invalid_parameter);

        r = check_keys(parameters, NULL, keys, ret_invalid_parameter);
        if (r < 0)
                return r;

        v = member(parameters, "signal");
        if (v && !get_int_range(v, 1, SIGNAL_MAX, &sig))
                return invalid("signal", ret_invalid_parameter);

        r = decode_id_field(parameters, &id, ret_invalid_parameter);
        if (r < 0)
                return r;

        *ret_id = TAKE_PTR(id);
        *ret_signal = (int) sig;
        return 0;
}

int list_request_decode(struct json_object *parameters, char **ret_invalid_parameter) {
        static const char *const keys[] = { NULL };

        if (json_object_get_type(parameters) != json_type_object)
                return invalid("parameters", ret_invalid_parameter);
        return check_keys(parameters, NULL, keys, ret_invalid_parameter);
}

struct json_object *sandbox_id_request_encode(const char *id) {
        struct json_object *o;

        if (!id)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (!add(o, "id", json_object_new_string(id)))
                return put(o);
        return o;
}

struct json_object *kill_request_encode(const char *id, int signal) {
        struct json_object *o = sandbox_id_request_encode(id);

        if (!o)
                return NULL;
        if (signal != 0 && !add(o, "signal", json_object_new_int(signal)))
                return put(o);
        return o;
}

struct json_object *list_request_encode(void) {
        return json_object_new_object();
}

/* ---- replies ---- */

struct json_object *spawn_reply_encode(const SpawnReply *r) {
        struct json_object *o;

        if (!r || !r->id)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (!add(o, "id", json_object_new_string(r->id)) || !add(o, "pid", json_object_new_int64(r->pid)) ||
            !add(o, "pidFileDescriptor", json_object_new_int(r->pidfd_index)))
                return put(o);
        return o;
}

int spawn_reply_decode(struct json_object *parameters, size_t n_message_fds, SpawnReply *ret) {
        struct json_object *v;
        const char *id;
        int64_t pid;
        int index;
        char *c;

        if (!ret)
                return -EINVAL;
        if (json_object_get_type(parameters) != json_type_object)
                return -EBADMSG;

        id = get_sandbox_id(parameters);
        if (!id)
                return -EBADMSG;

        v = member(parameters, "pid");
        if (!v || !get_int_range(v, 1, INT32_MAX, &pid))
                return -EBADMSG;

        v = member(parameters, "pidFileDescriptor");
        if (!v || !get_fd_index(v, n_message_fds, &index))
                return -EBADMSG;

        c = strdup(id);
        if (!c)
                return -ENOMEM;

        *ret = (SpawnReply) {
                .id = c,
                .pid = pid,
                .pidfd_index = index,
        };
        return 0;
}

void spawn_reply_done(SpawnReply *r) {
        if (!r)
                return;
        free(r->id);
        *r = (SpawnReply) {};
}

/* Adds state, exitCode and signal as Wait and SandboxInfo carry them. */
static bool add_state(struct json_object *o, SandboxState state, int exit_code, int signal) {
        const char *s = sandbox_state_to_string(state), *sig;

        if (!s || !add(o, "state", json_object_new_string(s)))
                return false;
        if (state == SANDBOX_EXITED && !add(o, "exitCode", json_object_new_int(exit_code)))
                return false;
        if (state == SANDBOX_KILLED) {
                sig = signal_to_string(signal);
                if (!sig || !add(o, "signal", json_object_new_string(sig)))
                        return false;
        }
        return true;
}

static int decode_state(struct json_object *o, SandboxState *ret_state, int *ret_exit_code, int *ret_signal) {
        struct json_object *v;
        SandboxState state;
        int64_t code = 0;
        int sig = 0;

        v = member(o, "state");
        state = sandbox_state_from_string(get_string(v, 32));
        if (state < 0)
                return -EBADMSG;

        v = member(o, "exitCode");
        if (state == SANDBOX_EXITED) {
                if (!v || !get_int_range(v, 0, 255, &code))
                        return -EBADMSG;
        } else if (v)
                return -EBADMSG;

        v = member(o, "signal");
        if (state == SANDBOX_KILLED) {
                sig = signal_from_string(get_string(v, 32));
                if (sig < 0)
                        return -EBADMSG;
        } else if (v)
                return -EBADMSG;

        *ret_state = state;
        *ret_exit_code = (int) code;
        *ret_signal = sig;
        return 0;
}

struct json_object *wait_reply_encode(SandboxState state, int exit_code, int signal) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (!add_state(o, state, exit_code, signal))
                return put(o);
        return o;
}

int wait_reply_decode(struct json_object *parameters, SandboxState *ret_state, int *ret_exit_code, int *ret_signal) {
        SandboxState state;
        int code, sig, r;

        if (json_object_get_type(parameters) != json_type_object)
                return -EBADMSG;

        r = decode_state(parameters, &state, &code, &sig);
        if (r < 0)
                return r;

        if (ret_state)
                *ret_state = state;
        if (ret_exit_code)
                *ret_exit_code = code;
        if (ret_signal)
                *ret_signal = sig;
        return 0;
}

struct json_object *sandbox_info_encode(const SandboxInfo *info) {
        struct json_object *o;

        if (!info || !info->id)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;

        if (!add(o, "id", json_object_new_string(info->id)))
                return put(o);
        if (info->name && !add(o, "name", json_object_new_string(info->name)))
                return put(o);
        if (!add(o, "pid", json_object_new_int64(info->pid)) ||
            !add(o, "ownerUID", json_object_new_int64(info->owner_uid)) ||
            !add(o, "namespaces", namespaces_encode(info->namespaces)) ||
            !add_state(o, info->state, info->exit_code, info->signal) ||
            !add(o, "startTime", json_object_new_int64((int64_t) MIN(info->start_usec, (uint64_t) INT64_MAX))) ||
            !add(o, "keepAlive", json_object_new_boolean(info->keep_alive)))
                return put(o);
        return o;
}

int sandbox_info_decode(struct json_object *o, SandboxInfo *ret) {
        _cleanup_free_ char *id = NULL, *name = NULL;
        struct json_object *v;
        SandboxInfo info = {};
        const char *s;
        int64_t i;
        uint32_t u;
        size_t n;
        int r;

        if (!ret)
                return -EINVAL;
        if (json_object_get_type(o) != json_type_object)
                return -EBADMSG;

        s = get_sandbox_id(o);
        if (!s)
                return -EBADMSG;
        id = strdup(s);
        if (!id)
                return -ENOMEM;

        v = member(o, "name");
        if (v) {
                s = get_string(v, SANDBOX_NAME_MAX);
                if (!s || !name_is_valid(s))
                        return -EBADMSG;
                name = strdup(s);
                if (!name)
                        return -ENOMEM;
        }

        v = member(o, "pid");
        if (!v || !get_int_range(v, 0, INT32_MAX, &i))
                return -EBADMSG;
        info.pid = i;

        v = member(o, "ownerUID");
        if (!v || !get_uint32(v, &u))
                return -EBADMSG;
        info.owner_uid = u;

        v = member(o, "namespaces");
        if (!v || json_object_get_type(v) != json_type_array)
                return -EBADMSG;
        n = json_object_array_length(v);
        for (size_t k = 0; k < n; k++) {
                NamespaceType t = namespace_type_from_string(get_string(json_object_array_get_idx(v, k), 32));

                if (t < 0)
                        return -EBADMSG;
                info.namespaces |= NAMESPACE_BIT(t);
        }

        r = decode_state(o, &info.state, &info.exit_code, &info.signal);
        if (r < 0)
                return r;

        v = member(o, "startTime");
        if (!v || !get_int_range(v, 0, INT64_MAX - 1, &i))
                return -EBADMSG;
        info.start_usec = (uint64_t) i;

        v = member(o, "keepAlive");
        if (!v || json_object_get_type(v) != json_type_boolean)
                return -EBADMSG;
        info.keep_alive = json_object_get_boolean(v);

        info.id = TAKE_PTR(id);
        info.name = TAKE_PTR(name);
        *ret = info;
        return 0;
}

void sandbox_info_done(SandboxInfo *info) {
        if (!info)
                return;
        free(info->id);
        free(info->name);
        *info = (SandboxInfo) {};
}

void sandbox_info_array_free(SandboxInfo *infos, size_t n_infos) {
        for (size_t i = 0; infos && i < n_infos; i++)
                sandbox_info_done(infos + i);
        free(infos);
}

struct json_object *list_reply_encode(const SandboxInfo *infos, size_t n_infos) {
        struct json_object *o, *a;

        o = json_object_new_object();
        if (!o)
                return NULL;
        a = json_object_new_array();
        if (!add(o, "sandboxes", a))
                return put(o);
        for (size_t i = 0; i < n_infos; i++)
                if (!append(a, sandbox_info_encode(infos + i)))
                        return put(o);
        return o;
}

int list_reply_decode(struct json_object *parameters, SandboxInfo **ret_infos, size_t *ret_n_infos) {
        SandboxInfo *infos;
        struct json_object *a;
        size_t n;
        int r;

        if (!ret_infos || !ret_n_infos)
                return -EINVAL;
        if (json_object_get_type(parameters) != json_type_object)
                return -EBADMSG;

        a = member(parameters, "sandboxes");
        if (!a || json_object_get_type(a) != json_type_array)
                return -EBADMSG;
        n = json_object_array_length(a);

        infos = calloc(MAX(n, 1U), sizeof(SandboxInfo));
        if (!infos)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                r = sandbox_info_decode(json_object_array_get_idx(a, i), infos + i);
                if (r < 0) {
                        sandbox_info_array_free(infos, i);
                        return r;
                }
        }

        *ret_infos = infos;
        *ret_n_infos = n;
        return 0;
}

struct json_object *inspect_reply_encode(const SandboxInfo *info) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (!add(o, "sandbox", sandbox_info_encode(info)))
                return put(o);
        return o;
}

int inspect_reply_decode(struct json_object *parameters, SandboxInfo *ret) {
        struct json_object *v;

        if (json_object_get_type(parameters) != json_type_object)
                return -EBADMSG;
        v = member(parameters, "sandbox");
        if (!v)
                return -EBADMSG;
        return sandbox_info_decode(v, ret);
}

/* ---- errors ---- */

/* Unlike varlink_error_new(), NULL parameters are a failure: these errors always carry some. */
static struct json_object *error_new(const char *error, struct json_object *parameters) {
        if (!parameters)
                return NULL;
        return varlink_error_new(error, parameters);
}

static struct json_object *one_string(const char *key, const char *value) {
        struct json_object *p = json_object_new_object();

        if (!p)
                return NULL;
        if (!add(p, key, json_object_new_string(value ?: "")))
                return put(p);
        return p;
}

struct json_object *nsbox_error_no_such_sandbox(const char *id) {
        return error_new(NSBOX_ERROR_NO_SUCH_SANDBOX, one_string("id", id));
}

struct json_object *nsbox_error_spawn_failed(const char *stage, int error, const char *message) {
        struct json_object *p = one_string("stage", stage);

        if (p && (!add(p, "errno", json_object_new_int(error)) ||
                  !add(p, "message", json_object_new_string(message ?: ""))))
                p = put(p);
        return error_new(NSBOX_ERROR_SPAWN_FAILED, p);
}

struct json_object *nsbox_error_quota_exceeded(const char *limit) {
        return error_new(NSBOX_ERROR_QUOTA_EXCEEDED, one_string("limit", limit));
}

int nsbox_error_spawn_failed_decode(struct json_object *parameters, char **ret_stage, int *ret_error,
                                    char **ret_message) {
        _cleanup_free_ char *stage = NULL, *message = NULL;
        struct json_object *v;
        const char *s;
        int64_t e;

        if (json_object_get_type(parameters) != json_type_object)
                return -EBADMSG;

        v = member(parameters, "stage");
        s = get_string(v, 256);
        if (!s)
                return -EBADMSG;
        stage = strdup(s);

        v = member(parameters, "errno");
        if (!v || !get_int_range(v, 0, INT_MAX, &e))
                return -EBADMSG;

        v = member(parameters, "message");
        s = get_string(v, 4096);
        if (!s)
                return -EBADMSG;
        message = strdup(s);

        if (!stage || !message)
                return -ENOMEM;

        if (ret_stage)
                *ret_stage = TAKE_PTR(stage);
        if (ret_error)
                *ret_error = (int) e;
        if (ret_message)
                *ret_message = TAKE_PTR(message);
        return 0;
}
