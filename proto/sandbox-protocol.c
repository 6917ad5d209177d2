/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.nsbox.Sandbox as C types: one JsonField table per struct (json-codec.h)
 * drives its decode, its encode and its freeing. The decoders run in the root
 * daemon on input from unprivileged callers: every field is checked for type,
 * range and size before anything acts on it, a failure names the exact field
 * so the caller learns what to fix, and spawn_request_verify() owns the rules
 * across fields.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "json-codec.h"
#include "sandbox-protocol-tables.h"
#include "sandbox-protocol.h"
#include "varlink-message.h"

#define ID_MAPPINGS_KERNEL_MAX 340U /* UID_GID_MAP_MAX_EXTENTS */
#define NSEC_PER_SEC 1000000000U
/* The kernel refuses larger clock offsets; json-c also clamps out-of-range integers to the ends of int64. */
#define TIME_OFFSET_SECS_MAX ((int64_t) (INT64_MAX / NSEC_PER_SEC))

/* ---- names ---- */

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

static const JsonEnum namespace_enum = { namespace_names, _NAMESPACE_TYPE_MAX };
static const JsonEnum namespace_proc_enum = { namespace_proc_names, _NAMESPACE_TYPE_MAX };

const char *namespace_type_to_string(NamespaceType t) {
        return json_enum_to_string(&namespace_enum, t);
}

NamespaceType namespace_type_from_string(const char *s) {
        return json_enum_from_string(&namespace_enum, s);
}

unsigned long namespace_type_to_clone_flag(NamespaceType t) {
        if (t < 0 || t >= _NAMESPACE_TYPE_MAX)
                return 0;
        return namespace_clone_flags[t];
}

const char *namespace_type_to_proc_name(NamespaceType t) {
        return json_enum_to_string(&namespace_proc_enum, t);
}

static const char *const mount_kind_names[_MOUNT_KIND_MAX] = {
        [MOUNT_BIND] = "bind",       [MOUNT_TMPFS] = "tmpfs", [MOUNT_PROC] = "proc",
        [MOUNT_DEV] = "dev",         [MOUNT_MQUEUE] = "mqueue", [MOUNT_DIR] = "dir",
        [MOUNT_SYMLINK] = "symlink", [MOUNT_FILE] = "file",   [MOUNT_REMOUNT_RO] = "remount-ro",
        [MOUNT_CHMOD] = "chmod",     [MOUNT_BIND_DATA] = "bind-data", [MOUNT_OVERLAY] = "overlay",
};

static const JsonEnum mount_kind_enum = { mount_kind_names, _MOUNT_KIND_MAX };

const char *mount_kind_to_string(MountKind k) {
        return json_enum_to_string(&mount_kind_enum, k);
}

MountKind mount_kind_from_string(const char *s) {
        return json_enum_from_string(&mount_kind_enum, s);
}

bool mount_kind_reads_stream(MountKind k) {
        return k == MOUNT_FILE || k == MOUNT_BIND_DATA;
}

static const char *const sandbox_state_names[_SANDBOX_STATE_MAX] = {
        [SANDBOX_STARTING] = "starting",
        [SANDBOX_RUNNING] = "running",
        [SANDBOX_EXITED] = "exited",
        [SANDBOX_KILLED] = "killed",
        [SANDBOX_OOM_KILLED] = "oom-killed",
        [SANDBOX_TIMED_OUT] = "timed-out",
};

static const JsonEnum sandbox_state_enum = { sandbox_state_names, _SANDBOX_STATE_MAX };

const char *sandbox_state_to_string(SandboxState s) {
        return json_enum_to_string(&sandbox_state_enum, s);
}

SandboxState sandbox_state_from_string(const char *s) {
        return json_enum_from_string(&sandbox_state_enum, s);
}

bool sandbox_state_is_final(SandboxState s) {
        return s == SANDBOX_EXITED || s == SANDBOX_KILLED || s == SANDBOX_OOM_KILLED || s == SANDBOX_TIMED_OUT;
}

/* Indexed by the resource number, as <sys/resource.h> has them on Linux. */
static const char *const rlimit_names[SANDBOX_RLIMITS_MAX] = {
        "RLIMIT_CPU",   "RLIMIT_FSIZE",  "RLIMIT_DATA",    "RLIMIT_STACK",      "RLIMIT_CORE",     "RLIMIT_RSS",
        "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",         "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

static const JsonEnum rlimit_enum = { rlimit_names, ELEMENTSOF(rlimit_names) };

const char *rlimit_type_to_string(int resource) {
        return json_enum_to_string(&rlimit_enum, resource);
}

int rlimit_type_from_string(const char *s) {
        return json_enum_from_string(&rlimit_enum, s);
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

static bool name_is_valid(const char *s);

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

bool sandbox_handle_is_valid(const char *handle) {
        return handle && (sandbox_id_is_valid(handle) || name_is_valid(handle));
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0: what RFC 3629 allows, NUL excluded.
 * ret_code_point may be NULL. */
static size_t utf8_sequence(const unsigned char *s, size_t n, uint32_t *ret_code_point) {
        size_t len;
        uint32_t c;

        if (s[0] >= 0x01 && s[0] < 0x80) {
                if (ret_code_point)
                        *ret_code_point = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, c = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, c = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, c = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        if (ret_code_point)
                *ret_code_point = c;
        return len;
}

/* Characters that change how the text around them shows without showing themselves: controls (C0, DEL,
 * C1), the zero-width ones and the bidirectional overrides and isolates. A name with them could pass for
 * another in a listing or a log line. */
static bool code_point_is_invisible(uint32_t c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad || (c >= 0x200b && c <= 0x200f) ||
               (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff;
}

/* The shape of the ids the daemon makes (SANDBOX_ID_LEN lowercase hex digits), which a name must not
 * take, so that a name in a listing never passes for another sandbox's id. */
static bool looks_like_daemon_id(const char *s, size_t n) {
        if (n != SANDBOX_ID_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > SANDBOX_NAME_MAX || looks_like_daemon_id(s, n))
                return false;
        for (size_t i = 0; i < n;) {
                uint32_t c;
                size_t len = utf8_sequence((const unsigned char *) s + i, n - i, &c);

                if (len == 0 || code_point_is_invisible(c))
                        return false;
                i += len;
        }
        return true;
}

static bool nonempty(const char *s) {
        return s[0] != 0;
}

static bool argv_entry_is_valid(const char *s, size_t i) {
        return i > 0 || nonempty(s);
}

static bool env_entry_is_valid(const char *s, size_t i) {
        const char *eq = strchr(s, '=');

        return eq && eq != s;
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

/* ---- kinds of io.nsbox.Sandbox's own ---- */

static const JsonString path_string = { .limit = JSON_LIMIT(SpawnLimits, path_max), .normalize = path_normalize };
/* Bind sources are checked as paths by mount_entry_verify(). */
static const JsonString source_string = { .limit = JSON_LIMIT(SpawnLimits, path_max), .valid = nonempty };
static const JsonString name_string = { .max = SANDBOX_NAME_MAX, .valid = name_is_valid };
static const JsonString hostname_string = { .max = SANDBOX_HOSTNAME_MAX, .valid = hostname_is_valid };
static const JsonString id_string = { .max = SANDBOX_ID_MAX, .valid = sandbox_id_is_valid };
/* What a call names a sandbox by: its id, or the name its owner gave it. */
static const JsonString handle_string = { .max = SANDBOX_NAME_MAX, .valid = sandbox_handle_is_valid };
/* Any text, empty included: the pipe then reads EOF at once. */
static const JsonString stdin_data_string = { .limit = JSON_LIMIT(SpawnLimits, stdin_data_bytes_max) };
/* Any bytes but NUL (the codec refuses an embedded one), empty included, as execve() takes them. */
static const JsonString argv0_string = { .limit = JSON_LIMIT(SpawnLimits, path_max) };

/* (uid_t) -1 means "unchanged" to the kernel and is never a real id. */
static const JsonRange id_range = { 0, UINT32_MAX - 1 };

/* "namespaces": a set of names, as an unsigned NAMESPACE_BIT() mask. */
static int namespace_entry(JsonCodec *c, struct json_object *e, size_t i, void *userdata) {
        unsigned *mask = userdata;
        NamespaceType t = namespace_type_from_string(json_get_string(e, 32));

        if (t < 0 || (*mask & NAMESPACE_BIT(t)))
                return json_codec_invalid(c);
        *mask |= NAMESPACE_BIT(t);
        return 0;
}

static int decode_namespaces(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        unsigned mask = 0;
        int r;

        r = json_codec_each(c, v, _NAMESPACE_TYPE_MAX, namespace_entry, &mask);
        if (r >= 0)
                *(unsigned *) JSON_FIELD_PTR(base, f) = mask;
        return r;
}

static int encode_namespaces(const void *base, const JsonField *f, struct json_object **ret) {
        unsigned mask = *(const unsigned *) JSON_FIELD_CONST_PTR(base, f);
        const char *names[_NAMESPACE_TYPE_MAX];

        if (mask == 0 && !(f->flags & JSON_MANDATORY))
                return 0;
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                names[t] = mask & NAMESPACE_BIT(t) ? namespace_names[t] : NULL;
        return json_codec_strings(names, _NAMESPACE_TYPE_MAX, ret);
}

static const JsonKind namespaces_kind = { json_type_array, decode_namespaces, encode_namespaces, NULL };

/* One path of an overlay option, normalized; "" or a bad path is -EINVAL. */
static int overlay_path(const char *s, size_t n, char **ret) {
        _cleanup_free_ char *copy = strndup(s, n);

        if (!copy)
                return -ENOMEM;
        if (n == 0 || n >= 4096)
                return -EINVAL;
        return path_normalize(copy, ret);
}

/* "lowerdir=" as the kernel and OCI write it: paths split at ":", "\" taking the next character as it is. */
static int parse_lower_dirs(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *buf = malloc(strlen(s) + 1);
        size_t n = 0, k = 0;

        if (!buf)
                return -ENOMEM;
        for (const char *p = s;; p++) {
                if (*p == '\\' && p[1]) {
                        buf[k++] = *++p;
                        continue;
                }
                if (*p != ':' && *p) {
                        buf[k++] = *p;
                        continue;
                }
                char **grown, *path;
                int r = overlay_path(buf, k, &path);

                if (r < 0)
                        return r;
                if (n >= SANDBOX_OVERLAY_LAYERS_MAX) {
                        free(path);
                        return -E2BIG;
                }
                grown = reallocarray(l, n + 2, sizeof(char *));
                if (!grown) {
                        free(path);
                        return -ENOMEM;
                }
                l = grown;
                l[n++] = path;
                l[n] = NULL;
                k = 0;
                if (!*p)
                        break;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The overlay options; 0 if o is none of them, 1 if it was one. */
static int overlay_option(MountEntry *m, const char *o) {
        int r;

        if (strncmp(o, "lowerdir=", 9) == 0) {
                if (m->lower_dirs)
                        return -EINVAL;
                r = parse_lower_dirs(o + 9, &m->lower_dirs);
        } else if (strncmp(o, "upperdir=", 9) == 0) {
                if (m->upper_dir)
                        return -EINVAL;
                r = overlay_path(o + 9, strlen(o + 9), &m->upper_dir);
        } else if (strncmp(o, "workdir=", 8) == 0) {
                if (m->work_dir)
                        return -EINVAL;
                r = overlay_path(o + 8, strlen(o + 8), &m->work_dir);
        } else if (streq(o, "tmp-upper")) {
                m->tmp_upper = true;
                r = 0;
        } else
                return 0;
        return r < 0 ? r : 1;
}

/* A mount's "options" (OCI style); the row's offset is the MountEntry, whose "type" is already decoded. */
static int mount_option(JsonCodec *c, struct json_object *e, size_t i, void *userdata) {
        MountEntry *m = userdata;
        /* Only an overlay's layers make a long option. */
        const char *o = json_get_string(e, m->kind == MOUNT_OVERLAY ? 65536 : 64);
        int r;

        if (!o)
                return json_codec_invalid(c);
        if (m->kind == MOUNT_OVERLAY && (r = overlay_option(m, o)) != 0)
                return r == -ENOMEM ? r : r < 0 ? json_codec_invalid(c) : 0;
        if (streq(o, "ro") || streq(o, "rw"))
                m->read_only = o[1] == 'o';
        else if (streq(o, "suid") || streq(o, "nosuid"))
                m->allow_suid = o[0] == 's';
        else if (streq(o, "dev") || streq(o, "nodev"))
                m->allow_dev = o[0] == 'd';
        else if (streq(o, "exec") || streq(o, "noexec"))
                m->no_exec = o[0] == 'n';
        else if (streq(o, "nofail")) {
                /* mount(8)'s word for it; a bind from an fd has nothing that could be missing */
                if (m->kind != MOUNT_BIND)
                        return json_codec_invalid(c);
                m->optional = true;
        } else if (strncmp(o, "size=", 5) == 0) {
                if (m->kind != MOUNT_TMPFS || parse_size(o + 5, &m->size) < 0)
                        return json_codec_invalid(c);
        } else if (strncmp(o, "mode=", 5) == 0) {
                bool has_mode = m->kind == MOUNT_TMPFS || m->kind == MOUNT_DIR || m->kind == MOUNT_FILE ||
                                m->kind == MOUNT_BIND_DATA || m->kind == MOUNT_CHMOD;

                if (!has_mode || parse_mode(o + 5, &m->mode) < 0)
                        return json_codec_invalid(c);
        } else
                return json_codec_invalid(c);
        return 0;
}

static int decode_mount_options(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        return json_codec_each(c, v, SANDBOX_MOUNT_OPTIONS_MAX, mount_option, JSON_FIELD_PTR(base, f));
}

/* "lowerdir=" with ":" and "\\" in the paths escaped; NULL on OOM. */
static char *format_lower_dirs(char *const *l) {
        size_t n = strlen("lowerdir=") + 1;
        char *s, *p;

        for (size_t i = 0; l[i]; i++)
                n += 2 * strlen(l[i]) + 1;
        s = malloc(n);
        if (!s)
                return NULL;
        p = stpcpy(s, "lowerdir=");
        for (size_t i = 0; l[i]; i++) {
                if (i > 0)
                        *p++ = ':';
                for (const char *c = l[i]; *c; c++) {
                        if (*c == ':' || *c == '\\')
                                *p++ = '\\';
                        *p++ = *c;
                }
        }
        *p = 0;
        return s;
}

/* Always written, every flag spelled out, so the daemon's defaults do not matter. */
static int encode_mount_options(const void *base, const JsonField *f, struct json_object **ret) {
        const MountEntry *m = JSON_FIELD_CONST_PTR(base, f);
        _cleanup_free_ char *lower = NULL, *upper = NULL, *work = NULL;
        char size[32], mode[32];
        int r;

        if (m->lower_dirs && !(lower = format_lower_dirs(m->lower_dirs)))
                return -ENOMEM;
        if (m->upper_dir && asprintf(&upper, "upperdir=%s", m->upper_dir) < 0)
                return -ENOMEM;
        if (m->work_dir && asprintf(&work, "workdir=%s", m->work_dir) < 0)
                return -ENOMEM;

        const char *options[] = {
                m->read_only ? "ro" : "rw", m->allow_suid ? "suid" : "nosuid", m->allow_dev ? "dev" : "nodev",
                m->no_exec ? "noexec" : "exec", m->size > 0 ? size : NULL, m->mode >= 0 ? mode : NULL,
                m->optional ? "nofail" : NULL, lower, upper, work, m->tmp_upper ? "tmp-upper" : NULL,
        };

        snprintf(size, sizeof(size), "size=%" PRIu64, m->size);
        snprintf(mode, sizeof(mode), "mode=%04o", (unsigned) m->mode);
        r = json_codec_strings(options, ELEMENTSOF(options), ret);
        return r;
}

static void done_mount_options(void *base, const JsonField *f) {
        MountEntry *m = JSON_FIELD_PTR(base, f);

        m->lower_dirs = strv_free(m->lower_dirs);
        free(m->upper_dir);
        free(m->work_dir);
        m->upper_dir = m->work_dir = NULL;
}

static const JsonKind mount_options_kind = { json_type_array, decode_mount_options, encode_mount_options,
                                             done_mount_options };

/* "exitCode" and "signal" are there exactly when "state" says so; the rows' offset is the SandboxInfo. */
static int decode_exit_code(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        SandboxInfo *info = JSON_FIELD_PTR(base, f);
        int64_t code;

        if (!json_get_int(v, 0, 255, &code))
                return json_codec_invalid(c);
        info->exit_code = (int) code;
        return 0;
}

static int encode_exit_code(const void *base, const JsonField *f, struct json_object **ret) {
        const SandboxInfo *info = JSON_FIELD_CONST_PTR(base, f);

        /* "oom-killed" and "timed-out" say how the top process ended with one of the two. */
        if (info->state != SANDBOX_EXITED &&
            !(sandbox_state_is_final(info->state) && info->state != SANDBOX_KILLED && info->signal <= 0))
                return 0;
        *ret = json_object_new_int(info->exit_code);
        return *ret ? 0 : -ENOMEM;
}

static int decode_signal(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        SandboxInfo *info = JSON_FIELD_PTR(base, f);
        int sig = signal_from_string(json_get_string(v, 32));

        if (sig < 0)
                return json_codec_invalid(c);
        info->signal = sig;
        return 0;
}

static int encode_signal(const void *base, const JsonField *f, struct json_object **ret) {
        const SandboxInfo *info = JSON_FIELD_CONST_PTR(base, f);
        const char *s;

        if (info->state != SANDBOX_KILLED &&
            !(sandbox_state_is_final(info->state) && info->state != SANDBOX_EXITED && info->signal > 0))
                return 0;
        s = signal_to_string(info->signal);
        if (!s)
                return -EINVAL;
        *ret = json_object_new_string(s);
        return *ret ? 0 : -ENOMEM;
}

static const JsonKind exit_code_kind = { json_type_int, decode_exit_code, encode_exit_code, NULL };
static const JsonKind signal_kind = { json_type_string, decode_signal, encode_signal, NULL };

/* An rlimit value: 0 .. INT64_MAX, or RLIM_INFINITY as the unsigned 18446744073709551615 OCI writes. */
static int decode_rlimit_value(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        uint64_t *p = (uint64_t *) ((uint8_t *) base + f->offset);
        int64_t i;

        if (json_get_int(v, 0, INT64_MAX, &i)) {
                *p = (uint64_t) i;
                return 0;
        }
        if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) == UINT64_MAX) {
                *p = SANDBOX_RLIMIT_INFINITY;
                return 0;
        }
        return json_codec_invalid(c);
}

static int encode_rlimit_value(const void *base, const JsonField *f, struct json_object **ret) {
        uint64_t v = *(const uint64_t *) ((const uint8_t *) base + f->offset);

        *ret = v > (uint64_t) INT64_MAX ? json_object_new_uint64(SANDBOX_RLIMIT_INFINITY) :
                                          json_object_new_int64((int64_t) v);
        return *ret ? 0 : -ENOMEM;
}

static const JsonKind rlimit_value_kind = { json_type_int, decode_rlimit_value, encode_rlimit_value, NULL };

/* ---- Spawn ---- */

static bool ranges_overlap(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size) {
        return (uint64_t) a < (uint64_t) b + b_size && (uint64_t) b < (uint64_t) a + a_size;
}

static int id_mapping_verify(JsonCodec *c, void *elements, size_t i) {
        IdMapping *m = elements;

        /* Like the kernel: a range may not reach (uid_t) -1. */
        if ((uint64_t) m[i].container_id + m[i].size > UINT32_MAX || (uint64_t) m[i].host_id + m[i].size > UINT32_MAX)
                return json_codec_invalid_member(c, "size");

        /* The kernel refuses overlapping extents; say which entry does it. */
        for (size_t k = 0; k < i; k++)
                if (ranges_overlap(m[k].container_id, m[k].size, m[i].container_id, m[i].size) ||
                    ranges_overlap(m[k].host_id, m[k].size, m[i].host_id, m[i].size))
                        return json_codec_invalid(c);
        return 0;
}

static int fd_mapping_verify(JsonCodec *c, void *elements, size_t i) {
        FdMapping *m = elements;

        for (size_t k = 0; k < i; k++)
                if (m[k].target == m[i].target)
                        return json_codec_invalid_member(c, "target");
        return 0;
}

static void mount_entry_init(void *e) {
        *(MountEntry *) e = (MountEntry) { .source_fd_index = -1, .mode = -1 };
}

/*
 * Which of "source" and "sourceFileDescriptor" a mount type takes: a bind one
 * of them, a symlink a source, a file a descriptor, the others neither. A bind
 * source is a path, normalized here where the type is known; a symlink's is
 * resolved inside the sandbox, so it may be relative and contain "..".
 */
static int mount_entry_verify(JsonCodec *c, void *elements, size_t i) {
        MountEntry *m = (MountEntry *) elements + i;
        bool source = m->source, source_fd = m->source_fd_index >= 0;
        bool want_source = m->kind == MOUNT_SYMLINK || (m->kind == MOUNT_BIND && (source || !source_fd));
        bool want_source_fd = mount_kind_reads_stream(m->kind) || (m->kind == MOUNT_BIND && !source);
        char *normalized;
        int r;

        if (source != want_source)
                return json_codec_invalid_member(c, "source");
        if (source_fd != want_source_fd)
                return json_codec_invalid_member(c, "sourceFileDescriptor");
        /*
         * An overlay has lower layers, and either an upper layer with its work directory, or a private
         * one on a tmpfs, or neither (read-only, which the kernel takes only with two lower layers).
         */
        if (m->kind == MOUNT_OVERLAY) {
                size_t n_lower = strv_length(m->lower_dirs);

                if (n_lower == 0 || (!!m->upper_dir != !!m->work_dir) || (m->tmp_upper && m->upper_dir) ||
                    (!m->upper_dir && !m->tmp_upper && n_lower < 2))
                        return json_codec_invalid_member(c, "options");
        }
        /* "chmod" is nothing but its mode; "nofail" is about a source path, and a root cannot be skipped. */
        if ((m->kind == MOUNT_CHMOD && m->mode < 0) || (m->optional && (!source || streq(m->destination, "/"))))
                return json_codec_invalid_member(c, "options");

        if (m->kind == MOUNT_BIND && source) {
                r = path_normalize(m->source, &normalized);
                if (r == -EINVAL)
                        return json_codec_invalid_member(c, "source");
                if (r < 0)
                        return r;
                free(m->source);
                m->source = normalized;
        }
        return 0;
}

/*
 * The confinement objects come whole from OCI tooling and have their own
 * decoders (confinement-protocol.c); these kinds hand them the field path.
 */
static int take_invalid(JsonCodec *c, int r, char *invalid) {
        if (r == -EINVAL && invalid && !c->invalid)
                c->invalid = invalid;
        else
                free(invalid);
        return r;
}

static int decode_seccomp(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        SeccompSpec **s = (SeccompSpec **) ((uint8_t *) base + f->offset);
        char *invalid = NULL;
        int r;

        *s = seccomp_spec_free(*s);
        r = seccomp_spec_decode(v, c->path, s, &invalid);
        return take_invalid(c, r, invalid);
}

static int encode_seccomp(const void *base, const JsonField *f, struct json_object **ret) {
        const SeccompSpec *s = *(SeccompSpec *const *) ((const uint8_t *) base + f->offset);

        if (!s)
                return 0;
        *ret = seccomp_spec_encode(s);
        return *ret ? 0 : -ENOMEM;
}

static void done_seccomp(void *base, const JsonField *f) {
        SeccompSpec **s = (SeccompSpec **) ((uint8_t *) base + f->offset);

        *s = seccomp_spec_free(*s);
}

static const JsonKind seccomp_kind = { json_type_object, decode_seccomp, encode_seccomp, done_seccomp };

static int decode_capabilities(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        CapabilitiesSpec **s = (CapabilitiesSpec **) ((uint8_t *) base + f->offset);
        char *invalid = NULL;
        int r;

        *s = capabilities_spec_free(*s);
        r = capabilities_spec_decode(v, c->path, s, &invalid);
        return take_invalid(c, r, invalid);
}

static int encode_capabilities(const void *base, const JsonField *f, struct json_object **ret) {
        const CapabilitiesSpec *s = *(CapabilitiesSpec *const *) ((const uint8_t *) base + f->offset);

        if (!s)
                return 0;
        *ret = capabilities_spec_encode(s);
        return *ret ? 0 : -ENOMEM;
}

static void done_capabilities(void *base, const JsonField *f) {
        CapabilitiesSpec **s = (CapabilitiesSpec **) ((uint8_t *) base + f->offset);

        *s = capabilities_spec_free(*s);
}

static const JsonKind capabilities_kind = { json_type_object, decode_capabilities, encode_capabilities,
                                            done_capabilities };

/* "seccompProfile": a SeccompProfileKind, -1 when absent (and then not encoded). */
static int decode_seccomp_profile(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        SeccompProfileKind k = seccomp_profile_kind_from_string(json_get_string(v, 32));

        if (k < 0)
                return json_codec_invalid(c);
        *(int *) ((uint8_t *) base + f->offset) = k;
        return 0;
}

static int encode_seccomp_profile(const void *base, const JsonField *f, struct json_object **ret) {
        int k = *(const int *) ((const uint8_t *) base + f->offset);

        if (k < 0)
                return 0;
        *ret = json_object_new_string(seccomp_profile_kind_to_string(k) ?: "");
        return *ret ? 0 : -ENOMEM;
}

static const JsonKind seccomp_profile_kind = { json_type_string, decode_seccomp_profile, encode_seccomp_profile,
                                               NULL };

/* Each program is read to its end: the same fd twice would give the second nothing. */
static int seccomp_fd_verify(JsonCodec *c, void *elements, size_t i) {
        int *fds = elements;

        for (size_t k = 0; k < i; k++)
                if (fds[k] == fds[i])
                        return json_codec_invalid(c);
        return 0;
}

static const JsonArray seccomp_fds_array = {
        sizeof(int), { NULL, &json_kind_fd_index, 0, JSON_MANDATORY }, .max = SECCOMP_FDS_MAX,
        .verify = seccomp_fd_verify,
};

static const JsonField join_namespace_fields[] = {
        { "type", &json_kind_enum, offsetof(JoinNamespace, type), JSON_MANDATORY, &namespace_enum },
        { "fileDescriptor", &json_kind_fd_index, offsetof(JoinNamespace, fd_index), JSON_MANDATORY },
        {}
};

static const JsonField id_mapping_fields[] = {
        { "containerID", &json_kind_uint32, offsetof(IdMapping, container_id), JSON_MANDATORY },
        { "hostID", &json_kind_uint32, offsetof(IdMapping, host_id), JSON_MANDATORY },
        { "size", &json_kind_uint32, offsetof(IdMapping, size), JSON_MANDATORY, &(const JsonRange) { 1, UINT32_MAX } },
        {}
};

static const JsonField fd_mapping_fields[] = {
        /* 0-2 are stdin/stdout/stderr; the upper bound keeps the child's fd table small. */
        { "target", &json_kind_int, offsetof(FdMapping, target), JSON_MANDATORY, &(const JsonRange) { 3, 1023 } },
        { "fileDescriptor", &json_kind_fd_index, offsetof(FdMapping, fd_index), JSON_MANDATORY },
        {}
};

static const JsonField mount_fields[] = {
        { "type", &json_kind_enum, offsetof(MountEntry, kind), JSON_MANDATORY, &mount_kind_enum },
        { "source", &json_kind_string, offsetof(MountEntry, source), 0, &source_string },
        { "sourceFileDescriptor", &json_kind_fd_index, offsetof(MountEntry, source_fd_index) },
        { "destination", &json_kind_string, offsetof(MountEntry, destination), JSON_MANDATORY, &path_string },
        { "options", &mount_options_kind, 0 },
        {}
};

static const JsonField time_offset_fields[] = {
        { "secs", &json_kind_int64, offsetof(TimeOffset, secs), JSON_MANDATORY,
          &(const JsonRange) { -TIME_OFFSET_SECS_MAX, TIME_OFFSET_SECS_MAX } },
        { "nanosecs", &json_kind_uint32, offsetof(TimeOffset, nanosecs), JSON_MANDATORY,
          &(const JsonRange) { 0, NSEC_PER_SEC - 1 } },
        {}
};

static const JsonArray join_namespaces_array = {
        sizeof(JoinNamespace), JSON_OBJECT_ELEMENT(join_namespace_fields), .max = _NAMESPACE_TYPE_MAX,
};
static const JsonArray id_mappings_array = {
        sizeof(IdMapping), JSON_OBJECT_ELEMENT(id_mapping_fields), .limit = JSON_LIMIT(SpawnLimits, mappings_max),
        .verify = id_mapping_verify,
};
static const JsonArray gids_array = {
        sizeof(uint32_t), { NULL, &json_kind_uint32, 0, JSON_MANDATORY, &id_range },
        .limit = JSON_LIMIT(SpawnLimits, groups_max),
};
static const JsonArray fd_mappings_array = {
        sizeof(FdMapping), JSON_OBJECT_ELEMENT(fd_mapping_fields), .limit = JSON_LIMIT(SpawnLimits, fds_max),
        .verify = fd_mapping_verify,
};
static const JsonArray mounts_array = {
        sizeof(MountEntry), JSON_OBJECT_ELEMENT(mount_fields), .limit = JSON_LIMIT(SpawnLimits, mounts_max),
        .init = mount_entry_init, .verify = mount_entry_verify,
};

static const JsonStrv argv_strv = {
        JSON_LIMIT(SpawnLimits, argv_entries_max), JSON_LIMIT(SpawnLimits, argv_bytes_max), true, argv_entry_is_valid,
};
/* A cwd fallback is a path as "cwd" is one: absolute, no ".." (it is used as it is, not normalized). */
static bool cwd_fallback_is_valid(const char *s, size_t i) {
        _cleanup_free_ char *n = NULL;

        return path_normalize(s, &n) >= 0;
}

static const JsonStrv cwd_fallbacks_strv = {
        JSON_LIMIT(SpawnLimits, cwd_fallbacks_max), JSON_LIMIT(SpawnLimits, path_max), false, cwd_fallback_is_valid,
};
static const JsonStrv lock_files_strv = {
        JSON_LIMIT(SpawnLimits, lock_files_max), JSON_LIMIT(SpawnLimits, path_max), false, cwd_fallback_is_valid,
};
static const JsonStrv env_strv = {
        JSON_LIMIT(SpawnLimits, env_entries_max), JSON_LIMIT(SpawnLimits, env_bytes_max), false, env_entry_is_valid,
};

static int rlimit_verify(JsonCodec *c, void *elements, size_t i) {
        SandboxRlimit *l = elements;

        for (size_t k = 0; k < i; k++)
                if (l[k].type == l[i].type)
                        return json_codec_invalid_member(c, "type");
        if (l[i].soft > l[i].hard)
                return json_codec_invalid_member(c, "soft");
        return 0;
}

static const JsonField rlimit_fields[] = {
        { "type", &json_kind_enum, offsetof(SandboxRlimit, type), JSON_MANDATORY, &rlimit_enum },
        { "soft", &rlimit_value_kind, offsetof(SandboxRlimit, soft), JSON_MANDATORY },
        { "hard", &rlimit_value_kind, offsetof(SandboxRlimit, hard), JSON_MANDATORY },
        {}
};

static const JsonArray rlimits_array = {
        sizeof(SandboxRlimit), JSON_OBJECT_ELEMENT(rlimit_fields), .max = SANDBOX_RLIMITS_MAX, .verify = rlimit_verify,
};

/* Every limit is positive: 0 stands for "not set" and is refused on the wire, like negative values. */
static const JsonRange bytes_range = { 1, SANDBOX_BYTES_MAX };

static const JsonField memory_fields[] = {
        { "limit", &json_kind_uint64, offsetof(SandboxResources, memory_limit), 0, &bytes_range },
        { "swap", &json_kind_uint64, offsetof(SandboxResources, memory_swap), 0, &bytes_range },
        { "high", &json_kind_uint64, offsetof(SandboxResources, memory_high), 0, &bytes_range },
        {}
};

static const JsonField pids_fields[] = {
        { "limit", &json_kind_uint64, offsetof(SandboxResources, pids_limit), 0,
          &(const JsonRange) { 1, SANDBOX_PIDS_LIMIT_MAX } },
        {}
};

static const JsonField cpu_fields[] = {
        { "shares", &json_kind_uint64, offsetof(SandboxResources, cpu_shares), 0,
          &(const JsonRange) { SANDBOX_CPU_SHARES_MIN, SANDBOX_CPU_SHARES_MAX } },
        { "weight", &json_kind_uint64, offsetof(SandboxResources, cpu_weight), 0,
          &(const JsonRange) { SANDBOX_CPU_WEIGHT_MIN, SANDBOX_CPU_WEIGHT_MAX } },
        { "quota", &json_kind_uint64, offsetof(SandboxResources, cpu_quota), 0,
          &(const JsonRange) { SANDBOX_CPU_QUOTA_MIN, SANDBOX_CPU_QUOTA_MAX } },
        { "period", &json_kind_uint64, offsetof(SandboxResources, cpu_period), 0,
          &(const JsonRange) { SANDBOX_CPU_PERIOD_MIN, SANDBOX_CPU_PERIOD_MAX } },
        {}
};

static const JsonField resources_fields[] = {
        { "memory", &json_kind_object, 0, 0, memory_fields },
        { "pids", &json_kind_object, 0, 0, pids_fields },
        { "cpu", &json_kind_object, 0, 0, cpu_fields },
        {}
};

/* "user" and "timeOffsets" are objects on the wire, members of SpawnRequest itself in C. */
static const JsonField user_fields[] = {
        { "uid", &json_kind_uint32, offsetof(SpawnRequest, uid), JSON_MANDATORY, &id_range },
        { "gid", &json_kind_uint32, offsetof(SpawnRequest, gid), JSON_MANDATORY, &id_range },
        JSON_ARRAY_FIELD("additionalGids", SpawnRequest, additional_gids, 0, &gids_array),
        {}
};

static const JsonField time_offsets_fields[] = {
        { "monotonic", &json_kind_object, offsetof(SpawnRequest, monotonic_offset), JSON_PRESENCE, time_offset_fields,
          offsetof(SpawnRequest, has_monotonic_offset) },
        { "boottime", &json_kind_object, offsetof(SpawnRequest, boottime_offset), JSON_PRESENCE, time_offset_fields,
          offsetof(SpawnRequest, has_boottime_offset) },
        {}
};

/* The Spawn call, one row per member of the IDL's Spawn(). */
static const JsonField spawn_fields[] = {
        { "argv", &json_kind_strv, offsetof(SpawnRequest, argv), JSON_MANDATORY, &argv_strv },
        { "argv0", &json_kind_string, offsetof(SpawnRequest, argv0), 0, &argv0_string },
        { "env", &json_kind_strv, offsetof(SpawnRequest, env), 0, &env_strv },
        { "cwd", &json_kind_string, offsetof(SpawnRequest, cwd), 0, &path_string },
        { "cwdFallbacks", &json_kind_strv, offsetof(SpawnRequest, cwd_fallbacks), 0, &cwd_fallbacks_strv },
        { "name", &json_kind_string, offsetof(SpawnRequest, name), 0, &name_string },
        { "namespaces", &namespaces_kind, offsetof(SpawnRequest, namespaces) },
        JSON_ARRAY_FIELD("joinNamespaces", SpawnRequest, join_namespaces, 0, &join_namespaces_array),
        JSON_ARRAY_FIELD("uidMappings", SpawnRequest, uid_mappings, 0, &id_mappings_array),
        JSON_ARRAY_FIELD("gidMappings", SpawnRequest, gid_mappings, 0, &id_mappings_array),
        { "setgroups", &json_kind_tristate, offsetof(SpawnRequest, setgroups) },
        { "user", &json_kind_object, 0, JSON_PRESENCE, user_fields, offsetof(SpawnRequest, has_user) },
        { "hostname", &json_kind_string, offsetof(SpawnRequest, hostname), 0, &hostname_string },
        { "stdin", &json_kind_fd_index, offsetof(SpawnRequest, stdin_index) },
        { "stdout", &json_kind_fd_index, offsetof(SpawnRequest, stdout_index) },
        { "stderr", &json_kind_fd_index, offsetof(SpawnRequest, stderr_index) },
        JSON_ARRAY_FIELD("fileDescriptors", SpawnRequest, fds, 0, &fd_mappings_array),
        { "blockFileDescriptor", &json_kind_fd_index, offsetof(SpawnRequest, block_fd_index) },
        { "commandUserNamespaceFileDescriptor", &json_kind_fd_index, offsetof(SpawnRequest, command_userns_fd_index) },
        { "root", &json_kind_string, offsetof(SpawnRequest, root), 0, &path_string },
        JSON_ARRAY_FIELD("mounts", SpawnRequest, mounts, 0, &mounts_array),
        { "timeOffsets", &json_kind_object, 0, 0, time_offsets_fields },
        { "seccomp", &seccomp_kind, offsetof(SpawnRequest, seccomp) },
        { "seccompProfile", &seccomp_profile_kind, offsetof(SpawnRequest, seccomp_profile) },
        JSON_ARRAY_FIELD("seccompFileDescriptors", SpawnRequest, seccomp_fds, 0, &seccomp_fds_array),
        { "capabilities", &capabilities_kind, offsetof(SpawnRequest, capabilities) },
        { "disableUserNamespaces", &json_kind_bool, offsetof(SpawnRequest, disable_user_namespaces) },
        { "init", &json_kind_tristate, offsetof(SpawnRequest, init) },
        { "lockFiles", &json_kind_strv, offsetof(SpawnRequest, lock_files), 0, &lock_files_strv },
        { "newSession", &json_kind_tristate, offsetof(SpawnRequest, new_session) },
        { "keepAlive", &json_kind_bool, offsetof(SpawnRequest, keep_alive) },
        { "stdinData", &json_kind_string, offsetof(SpawnRequest, stdin_data), 0, &stdin_data_string },
        { "captureOutput", &json_kind_bool, offsetof(SpawnRequest, capture_output) },
        { "captureBytes", &json_kind_uint64, offsetof(SpawnRequest, capture_bytes), 0,
          &(const JsonRange) { 1, INT64_MAX } },
        { "resources", &json_kind_object, offsetof(SpawnRequest, resources), 0, resources_fields },
        JSON_ARRAY_FIELD("rlimits", SpawnRequest, rlimits, 0, &rlimits_array),
        { "runtimeMaxUSec", &json_kind_uint64, offsetof(SpawnRequest, runtime_max_usec), 0, &bytes_range },
        {}
};

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
        .stdin_data_bytes_max = SPAWN_STDIN_DATA_BYTES_MAX_DEFAULT,
        .cwd_fallbacks_max = 8,
        .capture_bytes_max = SPAWN_CAPTURE_BYTES_MAX_DEFAULT,
        .lock_files_max = SPAWN_LOCK_FILES_MAX,
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
        PICK(stdin_data_bytes_max);
        PICK(cwd_fallbacks_max);
        PICK(capture_bytes_max);
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
        r->block_fd_index = -1;
        r->command_userns_fd_index = -1;
        r->new_session = -1;
        r->seccomp_profile = -1;
        return r;
}

SpawnRequest *spawn_request_free(SpawnRequest *r) {
        if (!r)
                return NULL;
        json_codec_done(r, spawn_fields);
        free(r);
        return NULL;
}

int spawn_request_verify(const SpawnRequest *req, char **ret_invalid_parameter) {
        unsigned created = req->namespaces, joined = 0;

        if (created & ~NAMESPACE_ALL)
                return json_invalid_parameter(ret_invalid_parameter, "namespaces");

        /* Creating and joining the same type, or joining it twice, has no meaning; refuse rather than guess. */
        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                NamespaceType t = req->join_namespaces[i].type;

                if (t < 0 || t >= _NAMESPACE_TYPE_MAX || ((created | joined) & NAMESPACE_BIT(t)))
                        return json_invalid_parameter(ret_invalid_parameter, "joinNamespaces[%zu].type", i);
                joined |= NAMESPACE_BIT(t);
        }

        /* Without a namespace of its own, each of these would change the host. */
        if (req->hostname && !((created | joined) & NAMESPACE_BIT(NAMESPACE_UTS)))
                return json_invalid_parameter(ret_invalid_parameter, "hostname");
        /* The child never mounts in a namespace someone else lives in, so a joined one is not enough. */
        if (req->root && !(created & NAMESPACE_BIT(NAMESPACE_MOUNT)))
                return json_invalid_parameter(ret_invalid_parameter, "root");
        if (req->n_mounts > 0 && !(created & NAMESPACE_BIT(NAMESPACE_MOUNT)))
                return json_invalid_parameter(ret_invalid_parameter, "mounts");

        /* One root: `root`, or a bind or tmpfs on "/" anywhere in mounts. */
        for (size_t i = 0, roots = !!req->root; i < req->n_mounts; i++) {
                const MountEntry *m = req->mounts + i;

                if (!streq(m->destination, "/") || m->kind == MOUNT_REMOUNT_RO || m->kind == MOUNT_CHMOD)
                        continue;
                if ((m->kind != MOUNT_BIND && m->kind != MOUNT_TMPFS) || ++roots > 1)
                        return json_invalid_parameter(ret_invalid_parameter, "mounts[%zu].destination", i);
        }
        /* A "file" entry reads its fd to the end: a second one on the same fd would get what is left, nothing. */
        for (size_t i = 0; i < req->n_mounts; i++)
                for (size_t j = 0; mount_kind_reads_stream(req->mounts[i].kind) && j < i; j++)
                        if (mount_kind_reads_stream(req->mounts[j].kind) &&
                            req->mounts[j].source_fd_index == req->mounts[i].source_fd_index)
                                return json_invalid_parameter(ret_invalid_parameter,
                                                              "mounts[%zu].sourceFileDescriptor", i);
        /* Id maps, setgroups and clock offsets can be written only for a namespace nobody has entered yet. */
        if (!(created & NAMESPACE_BIT(NAMESPACE_USER))) {
                if (req->n_uid_mappings > 0)
                        return json_invalid_parameter(ret_invalid_parameter, "uidMappings");
                if (req->n_gid_mappings > 0)
                        return json_invalid_parameter(ret_invalid_parameter, "gidMappings");
                if (req->setgroups >= 0)
                        return json_invalid_parameter(ret_invalid_parameter, "setgroups");
        }
        if ((req->has_monotonic_offset || req->has_boottime_offset) && !(created & NAMESPACE_BIT(NAMESPACE_TIME)))
                return json_invalid_parameter(ret_invalid_parameter, "timeOffsets");
        if (req->disable_user_namespaces && !(req->namespaces & NAMESPACE_BIT(NAMESPACE_USER)))
                return json_invalid_parameter(ret_invalid_parameter, "disableUserNamespaces");
        /* It must descend from the sandbox's user namespace, and a new one has no descendants yet. */
        if (req->command_userns_fd_index >= 0 && (created & NAMESPACE_BIT(NAMESPACE_USER)))
                return json_invalid_parameter(ret_invalid_parameter, "commandUserNamespaceFileDescriptor");
        if (req->seccomp && req->seccomp_profile >= 0)
                return json_invalid_parameter(ret_invalid_parameter, "seccompProfile");
        /* The locks are held by init, for as long as it lives: without one nothing would hold them. */
        if (req->lock_files && req->lock_files[0] &&
            !(req->init == 1 || (req->init < 0 && ((created | joined) & NAMESPACE_BIT(NAMESPACE_PID)))))
                return json_invalid_parameter(ret_invalid_parameter, "lockFiles");
        /* Each stream has one source: an fd the caller sent, or the daemon's pipe. */
        if (req->stdin_data && req->stdin_index >= 0)
                return json_invalid_parameter(ret_invalid_parameter, "stdinData");
        if (req->capture_output && (req->stdout_index >= 0 || req->stderr_index >= 0))
                return json_invalid_parameter(ret_invalid_parameter, "captureOutput");
        if (req->capture_bytes > 0 && !req->capture_output)
                return json_invalid_parameter(ret_invalid_parameter, "captureBytes");

        /* OCI's swap counts memory and swap together: it needs the memory limit and cannot be below it. */
        if (req->resources.memory_swap != 0 &&
            (req->resources.memory_limit == 0 || req->resources.memory_swap < req->resources.memory_limit))
                return json_invalid_parameter(ret_invalid_parameter, "resources.memory.swap");
        /* The same knob in two scales: which one would win is a guess. */
        if (req->resources.cpu_weight != 0 && req->resources.cpu_shares != 0)
                return json_invalid_parameter(ret_invalid_parameter, "resources.cpu.weight");

        return 0;
}

/* Decodes parameters with fields into base; -EINVAL hands the invalid member's path to *ret_invalid_parameter. */
static int decode(struct json_object *parameters, const JsonField *fields, void *base, size_t n_fds,
                  const void *limits, char **ret_invalid_parameter) {
        JsonCodec c = { .n_fds = n_fds, .limits = limits };
        int r;

        r = json_codec_decode(&c, parameters, base, fields);
        if (r == -EINVAL && ret_invalid_parameter)
                *ret_invalid_parameter = TAKE_PTR(c.invalid);
        free(c.invalid);
        return r;
}

/* Replies are checked as strictly but may carry members from a newer peer; malformed is -EBADMSG. */
static int decode_reply(struct json_object *parameters, const JsonField *fields, void *base, size_t n_fds) {
        JsonCodec c = { .n_fds = n_fds, .permissive = true };
        int r;

        r = json_codec_decode(&c, parameters, base, fields);
        free(c.invalid);
        return r == -EINVAL ? -EBADMSG : r;
}

static struct json_object *encode(const void *base, const JsonField *fields) {
        struct json_object *o = NULL;

        return json_codec_encode(base, fields, &o) < 0 ? NULL : o;
}

int spawn_request_decode(struct json_object *parameters, size_t n_message_fds, const SpawnLimits *limits,
                         SpawnRequest **ret, char **ret_invalid_parameter) {
        _cleanup_(spawn_request_freep) SpawnRequest *req = NULL;
        SpawnLimits lim = spawn_limits_resolve(limits);
        int r;

        if (!ret)
                return -EINVAL;

        req = spawn_request_new();
        if (!req)
                return -ENOMEM;

        r = decode(parameters, spawn_fields, req, n_message_fds, &lim, ret_invalid_parameter);
        if (r < 0)
                return r;
        if (req->capture_bytes > lim.capture_bytes_max)
                return json_invalid_parameter(ret_invalid_parameter, "captureBytes");
        r = spawn_request_verify(req, ret_invalid_parameter);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(req);
        return 0;
}

struct json_object *spawn_request_encode(const SpawnRequest *r) {
        return r ? encode(r, spawn_fields) : NULL;
}

/* ---- Exec ---- */

/* The members of Spawn a process started in a running sandbox may have; the rest are the sandbox's. */
static const JsonField exec_process_fields[] = {
        { "argv", &json_kind_strv, offsetof(SpawnRequest, argv), JSON_MANDATORY, &argv_strv },
        { "env", &json_kind_strv, offsetof(SpawnRequest, env), 0, &env_strv },
        { "cwd", &json_kind_string, offsetof(SpawnRequest, cwd), 0, &path_string },
        { "user", &json_kind_object, 0, JSON_PRESENCE, user_fields, offsetof(SpawnRequest, has_user) },
        { "stdin", &json_kind_fd_index, offsetof(SpawnRequest, stdin_index) },
        { "stdout", &json_kind_fd_index, offsetof(SpawnRequest, stdout_index) },
        { "stderr", &json_kind_fd_index, offsetof(SpawnRequest, stderr_index) },
        JSON_ARRAY_FIELD("fileDescriptors", SpawnRequest, fds, 0, &fd_mappings_array),
        JSON_ARRAY_FIELD("seccompFileDescriptors", SpawnRequest, seccomp_fds, 0, &seccomp_fds_array),
        { "newSession", &json_kind_tristate, offsetof(SpawnRequest, new_session) },
        { "keepAlive", &json_kind_bool, offsetof(SpawnRequest, keep_alive) },
        { "stdinData", &json_kind_string, offsetof(SpawnRequest, stdin_data), 0, &stdin_data_string },
        { "captureOutput", &json_kind_bool, offsetof(SpawnRequest, capture_output) },
        { "captureBytes", &json_kind_uint64, offsetof(SpawnRequest, capture_bytes), 0,
          &(const JsonRange) { 1, INT64_MAX } },
        {}
};

/* The Exec call, one row per member of the IDL's Exec(). */
static const JsonField exec_fields[] = {
        { "id", &json_kind_string, offsetof(ExecRequest, id), JSON_MANDATORY, &handle_string },
        { NULL, &json_kind_inline, offsetof(ExecRequest, process), 0, exec_process_fields },
        {}
};

ExecRequest *exec_request_new(void) {
        _cleanup_(spawn_request_freep) SpawnRequest *defaults = spawn_request_new();
        ExecRequest *r;

        if (!defaults)
                return NULL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->process = *defaults;
        return r;
}

ExecRequest *exec_request_free(ExecRequest *r) {
        if (!r)
                return NULL;
        free(r->id);
        /* Whatever the daemon added to the process later is freed with it, as in a Spawn request. */
        json_codec_done(&r->process, spawn_fields);
        free(r);
        return NULL;
}

int exec_request_decode(struct json_object *parameters, size_t n_message_fds, const SpawnLimits *limits,
                        ExecRequest **ret, char **ret_invalid_parameter) {
        _cleanup_(exec_request_freep) ExecRequest *req = NULL;
        SpawnLimits lim = spawn_limits_resolve(limits);
        int r;

        if (!ret)
                return -EINVAL;

        req = exec_request_new();
        if (!req)
                return -ENOMEM;

        r = decode(parameters, exec_fields, req, n_message_fds, &lim, ret_invalid_parameter);
        if (r < 0)
                return r;
        if (req->process.capture_bytes > lim.capture_bytes_max)
                return json_invalid_parameter(ret_invalid_parameter, "captureBytes");
        /* The rules between its streams; the namespace rules hold by construction (it has none of its own). */
        r = spawn_request_verify(&req->process, ret_invalid_parameter);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(req);
        return 0;
}

struct json_object *exec_request_encode(const ExecRequest *r) {
        return r && r->id ? encode(r, exec_fields) : NULL;
}

/* ---- Wait, Kill, Inspect, List requests ---- */

typedef struct IdRequest {
        char *id;
        int signal;
        bool all;
} IdRequest;

static const JsonField id_fields[] = {
        { "id", &json_kind_string, offsetof(IdRequest, id), JSON_MANDATORY, &handle_string },
        {}
};

/* Wait's id may be left out: a client that sends Spawn and Wait at once cannot know it yet. */
static const JsonField wait_fields[] = {
        { "id", &json_kind_string, offsetof(IdRequest, id), 0, &handle_string },
        {}
};

static const JsonField kill_fields[] = {
        { NULL, &json_kind_inline, 0, 0, id_fields },
        { "signal", &json_kind_int, offsetof(IdRequest, signal), 0, &(const JsonRange) { 1, SIGNAL_MAX } },
        { "all", &json_kind_bool, offsetof(IdRequest, all) },
        {}
};

static const JsonField no_fields[] = { {} };

static int id_request_decode(struct json_object *parameters, const JsonField *fields, char **ret_id, int *ret_signal,
                             bool *ret_all, char **ret_invalid_parameter) {
        IdRequest req = { .signal = SIGTERM };
        int r;

        r = decode(parameters, fields, &req, 0, NULL, ret_invalid_parameter);
        if (r < 0) {
                free(req.id);
                return r;
        }
        if (ret_signal)
                *ret_signal = req.signal;
        if (ret_all)
                *ret_all = req.all;
        *ret_id = req.id;
        return 0;
}

int sandbox_id_request_decode(struct json_object *parameters, char **ret_id, char **ret_invalid_parameter) {
        if (!ret_id)
                return -EINVAL;
        return id_request_decode(parameters, id_fields, ret_id, NULL, NULL, ret_invalid_parameter);
}

int wait_request_decode(struct json_object *parameters, char **ret_id, char **ret_invalid_parameter) {
        if (!ret_id)
                return -EINVAL;
        return id_request_decode(parameters, wait_fields, ret_id, NULL, NULL, ret_invalid_parameter);
}

int kill_request_decode(struct json_object *parameters, char **ret_id, int *ret_signal, bool *ret_all,
                        char **ret_invalid_parameter) {
        if (!ret_id || !ret_signal)
                return -EINVAL;
        return id_request_decode(parameters, kill_fields, ret_id, ret_signal, ret_all, ret_invalid_parameter);
}

int list_request_decode(struct json_object *parameters, char **ret_invalid_parameter) {
        return decode(parameters, no_fields, NULL, 0, NULL, ret_invalid_parameter);
}

struct json_object *sandbox_id_request_encode(const char *id) {
        return id ? encode(&(IdRequest) { .id = (char *) id }, id_fields) : NULL;
}

struct json_object *kill_request_encode(const char *id, int signal, bool all) {
        return id ? encode(&(IdRequest) { .id = (char *) id, .signal = signal, .all = all }, kill_fields) : NULL;
}

struct json_object *list_request_encode(void) {
        return json_object_new_object();
}

/* ---- replies ---- */

/* An nsfs inode number; 0 (unknown) is left out. */
static const JsonRange inode_range = { 1, INT64_MAX };

#define NAMESPACE_INODE_ROW(name, type)                                                                        \
        { name, &json_kind_uint64, offsetof(SpawnReply, namespace_inodes) + (type) * sizeof(uint64_t), 0,     \
          &inode_range }

/* The rows' offsets are the SpawnReply's, so the object row has offset 0. */
static const JsonField namespace_inodes_fields[] = {
        NAMESPACE_INODE_ROW("mount", NAMESPACE_MOUNT), NAMESPACE_INODE_ROW("uts", NAMESPACE_UTS),
        NAMESPACE_INODE_ROW("ipc", NAMESPACE_IPC),     NAMESPACE_INODE_ROW("user", NAMESPACE_USER),
        NAMESPACE_INODE_ROW("pid", NAMESPACE_PID),     NAMESPACE_INODE_ROW("net", NAMESPACE_NET),
        NAMESPACE_INODE_ROW("cgroup", NAMESPACE_CGROUP), NAMESPACE_INODE_ROW("time", NAMESPACE_TIME),
        {}
};

static const JsonField spawn_reply_fields[] = {
        { "id", &json_kind_string, offsetof(SpawnReply, id), JSON_MANDATORY, &id_string },
        { "pid", &json_kind_int64, offsetof(SpawnReply, pid), JSON_MANDATORY, &(const JsonRange) { 1, INT32_MAX } },
        { "pidFileDescriptor", &json_kind_fd_index, offsetof(SpawnReply, pidfd_index), JSON_MANDATORY },
        { "namespaceInodes", &json_kind_object, 0, JSON_PRESENCE, namespace_inodes_fields,
          offsetof(SpawnReply, has_namespace_inodes) },
        {}
};

struct json_object *spawn_reply_encode(const SpawnReply *r) {
        return r && r->id ? encode(r, spawn_reply_fields) : NULL;
}

int spawn_reply_decode(struct json_object *parameters, size_t n_message_fds, SpawnReply *ret) {
        SpawnReply reply = {};
        int r;

        if (!ret)
                return -EINVAL;
        r = decode_reply(parameters, spawn_reply_fields, &reply, n_message_fds);
        if (r < 0) {
                spawn_reply_done(&reply);
                return r;
        }
        *ret = reply;
        return 0;
}

void spawn_reply_done(SpawnReply *r) {
        if (!r)
                return;
        free(r->id);
        *r = (SpawnReply) {};
}

/* A sandbox's state as Wait replies and SandboxInfo carry it. */
static const JsonField state_fields[] = {
        { "state", &json_kind_enum, offsetof(SandboxInfo, state), JSON_MANDATORY, &sandbox_state_enum },
        { "exitCode", &exit_code_kind, 0 },
        { "signal", &signal_kind, 0 },
        {}
};

/* Counters may be 0; UINT64_MAX (unknown) is clamped to INT64_MAX, outside the range, and so left out. */
static const JsonRange counter_range = { 0, INT64_MAX - 1 };

static const JsonField usage_fields[] = {
        { "cpuUSec", &json_kind_uint64, offsetof(SandboxUsage, cpu_usec), 0, &counter_range },
        { "memoryCurrent", &json_kind_uint64, offsetof(SandboxUsage, memory_current), 0, &counter_range },
        { "memoryPeak", &json_kind_uint64, offsetof(SandboxUsage, memory_peak), 0, &counter_range },
        { "tasks", &json_kind_uint64, offsetof(SandboxUsage, tasks), 0, &counter_range },
        { "tasksPeak", &json_kind_uint64, offsetof(SandboxUsage, tasks_peak), 0, &counter_range },
        { "oomKills", &json_kind_uint64, offsetof(SandboxUsage, oom_kills), 0, &counter_range },
        {}
};

/* The final Wait reply: the state and what the sandbox used. */
static const JsonField wait_reply_fields[] = {
        { NULL, &json_kind_inline, 0, 0, state_fields },
        { "usage", &json_kind_object, offsetof(SandboxInfo, usage), JSON_PRESENCE, usage_fields,
          offsetof(SandboxInfo, has_usage) },
        {}
};

static const JsonString cgroup_string = { .max = 4096, .valid = nonempty };

const JsonField sandbox_info_fields[] = {
        { "id", &json_kind_string, offsetof(SandboxInfo, id), JSON_MANDATORY, &id_string },
        { "name", &json_kind_string, offsetof(SandboxInfo, name), 0, &name_string },
        { "pid", &json_kind_int64, offsetof(SandboxInfo, pid), JSON_MANDATORY, &(const JsonRange) { 0, INT32_MAX } },
        { "ownerUID", &json_kind_uint32, offsetof(SandboxInfo, owner_uid), JSON_MANDATORY },
        { "namespaces", &namespaces_kind, offsetof(SandboxInfo, namespaces), JSON_MANDATORY },
        { "joinedNamespaces", &namespaces_kind, offsetof(SandboxInfo, joined_namespaces) },
        { NULL, &json_kind_inline, 0, 0, state_fields },
        { "startTime", &json_kind_uint64, offsetof(SandboxInfo, start_usec), JSON_MANDATORY,
          &(const JsonRange) { 0, INT64_MAX - 1 } },
        { "keepAlive", &json_kind_bool, offsetof(SandboxInfo, keep_alive), JSON_MANDATORY },
        { "cgroup", &json_kind_string, offsetof(SandboxInfo, cgroup), 0, &cgroup_string },
        { "resources", &json_kind_object, offsetof(SandboxInfo, resources), 0, resources_fields },
        JSON_ARRAY_FIELD("rlimits", SandboxInfo, rlimits, 0, &rlimits_array),
        { "runtimeMaxUSec", &json_kind_uint64, offsetof(SandboxInfo, runtime_max_usec), 0, &bytes_range },
        { "paused", &json_kind_bool, offsetof(SandboxInfo, paused) },
        { "usage", &json_kind_object, offsetof(SandboxInfo, usage), JSON_PRESENCE, usage_fields,
          offsetof(SandboxInfo, has_usage) },
        { "sandbox", &json_kind_string, offsetof(SandboxInfo, sandbox), 0, &id_string },
        { "nested", &json_kind_bool, offsetof(SandboxInfo, nested) },
        {}
};

static void sandbox_info_init(void *e) {
        /* -1: no "exitCode" seen; see state_is_consistent(). */
        *(SandboxInfo *) e = (SandboxInfo) { .exit_code = -1, .usage = SANDBOX_USAGE_UNKNOWN };
}

void sandbox_info_init_for_decode(SandboxInfo *info) {
        sandbox_info_init(info);
}

/*
 * exitCode comes with "exited" only, signal with "killed" only, and exactly
 * one of them with "oom-killed" and "timed-out".
 */
static bool state_is_consistent(SandboxInfo *info) {
        bool code = info->exit_code >= 0, sig = info->signal > 0;

        if (info->state == SANDBOX_OOM_KILLED || info->state == SANDBOX_TIMED_OUT) {
                if (code == sig)
                        return false;
        } else if ((info->state == SANDBOX_EXITED) != code || (info->state == SANDBOX_KILLED) != sig)
                return false;
        info->exit_code = MAX(info->exit_code, 0);
        return true;
}

bool sandbox_info_state_is_consistent(SandboxInfo *info) {
        return state_is_consistent(info);
}

static int sandbox_info_verify(JsonCodec *c, void *elements, size_t i) {
        return state_is_consistent((SandboxInfo *) elements + i) ? 0 : json_codec_invalid(c);
}

static const JsonArray sandbox_infos_array = {
        sizeof(SandboxInfo), JSON_OBJECT_ELEMENT(sandbox_info_fields), .init = sandbox_info_init,
        .verify = sandbox_info_verify,
};

typedef struct SandboxInfos {
        SandboxInfo *infos;
        size_t n_infos;
} SandboxInfos;

static const JsonField list_reply_fields[] = {
        JSON_ARRAY_FIELD("sandboxes", SandboxInfos, infos, JSON_MANDATORY, &sandbox_infos_array),
        {}
};

/* The Inspect reply's "sandbox" is decoded straight into a SandboxInfo. */
static const JsonField inspect_reply_fields[] = {
        { "sandbox", &json_kind_object, 0, JSON_MANDATORY, sandbox_info_fields },
        {}
};

/* Decodes o with fields into a SandboxInfo, checking the state as a list entry is checked. */
static int info_decode(struct json_object *o, const JsonField *fields, SandboxInfo *ret) {
        SandboxInfo info;
        int r;

        sandbox_info_init(&info);
        r = decode_reply(o, fields, &info, 0);
        if (r >= 0 && !state_is_consistent(&info))
                r = -EBADMSG;
        if (r < 0) {
                json_codec_done(&info, sandbox_info_fields);
                return r;
        }
        *ret = info;
        return 0;
}

struct json_object *wait_reply_encode(SandboxState state, int exit_code, int signal) {
        SandboxInfo info = { .state = state, .exit_code = exit_code, .signal = signal };

        return encode(&info, state_fields);
}

bool utf8_is_valid(const char *s, size_t n) {
        for (size_t i = 0, len; i < n; i += len) {
                len = utf8_sequence((const unsigned char *) s + i, n - i, NULL);
                if (len == 0)
                        return false;
        }
        return true;
}

/* Bytes of JSON text the json-c writer (JSON_C_TO_STRING_NOSLASHESCAPE) makes of one character of
 * output: two for the short escapes, six for \u00XX; DEL is counted as escaped too, to be safe. */
static size_t json_text_cost(unsigned char c) {
        switch (c) {
        case '\b': case '\f': case '\n': case '\r': case '\t': case '"': case '\\':
                return 2;
        default:
                return c < 0x20 || c == 0x7f ? 6 : 1;
        }
}

size_t wait_output_fit(const char *data, size_t size, size_t budget, size_t *ret_text_size) {
        size_t i = 0, text = 0;

        while (i < size) {
                size_t len = utf8_sequence((const unsigned char *) data + i, size - i, NULL);
                size_t cost = len == 0 ? 3 : len == 1 ? json_text_cost((unsigned char) data[i]) : len;

                if (cost > budget - text)
                        break;
                text += cost;
                i += len == 0 ? 1 : len;
        }
        if (ret_text_size)
                *ret_text_size = text;
        return i;
}

/* data as a JSON string: each NUL or byte that starts no valid UTF-8 sequence becomes U+FFFD. */
static struct json_object *output_string(const char *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0;

        if (size > (SIZE_MAX - 1) / 3)
                return NULL;
        text = malloc(size * 3 + 1); /* U+FFFD takes 3 bytes for the 1 it replaces */
        if (!text)
                return NULL;
        for (size_t i = 0; i < size;) {
                size_t len = utf8_sequence((const unsigned char *) data + i, size - i, NULL);

                if (len == 0) {
                        memcpy(text + n, "\xef\xbf\xbd", 3);
                        n += 3;
                        i++;
                } else {
                        memcpy(text + n, data + i, len);
                        n += len;
                        i += len;
                }
        }
        return json_object_new_string_len(text, (int) MIN(n, (size_t) INT_MAX));
}

/* Adds the captured output to a Wait reply o (taken: NULL on failure). */
static struct json_object *add_output(struct json_object *o, const WaitOutput *out) {
        if (!o || !out)
                return o;
        if ((out->stdout_size > 0 && !json_add(o, "stdout", output_string(out->stdout_data, out->stdout_size))) ||
            (out->stderr_size > 0 && !json_add(o, "stderr", output_string(out->stderr_data, out->stderr_size))) ||
            (out->truncated && !json_add(o, "truncated", json_object_new_boolean(true)))) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *wait_reply_encode_output(SandboxState state, int exit_code, int signal, const WaitOutput *out) {
        return add_output(wait_reply_encode(state, exit_code, signal), out);
}

struct json_object *wait_reply_encode_info(const SandboxInfo *info, const WaitOutput *out) {
        return info ? add_output(encode(info, wait_reply_fields), out) : NULL;
}

int wait_reply_decode_info(struct json_object *parameters, SandboxInfo *ret) {
        if (!ret)
                return -EINVAL;
        return info_decode(parameters, wait_reply_fields, ret);
}

int wait_reply_decode(struct json_object *parameters, SandboxState *ret_state, int *ret_exit_code, int *ret_signal) {
        SandboxInfo info;
        int r;

        r = info_decode(parameters, state_fields, &info);
        if (r < 0)
                return r;
        if (ret_state)
                *ret_state = info.state;
        if (ret_exit_code)
                *ret_exit_code = info.exit_code;
        if (ret_signal)
                *ret_signal = info.signal;
        return 0;
}

struct json_object *sandbox_info_encode(const SandboxInfo *info) {
        return info && info->id ? encode(info, sandbox_info_fields) : NULL;
}

int sandbox_info_decode(struct json_object *o, SandboxInfo *ret) {
        if (!ret)
                return -EINVAL;
        return info_decode(o, sandbox_info_fields, ret);
}

void sandbox_info_done(SandboxInfo *info) {
        if (!info)
                return;
        json_codec_done(info, sandbox_info_fields);
        *info = (SandboxInfo) {};
}

void sandbox_info_array_free(SandboxInfo *infos, size_t n_infos) {
        json_codec_done(&(SandboxInfos) { infos, n_infos }, list_reply_fields);
}

struct json_object *list_reply_encode(const SandboxInfo *infos, size_t n_infos) {
        for (size_t i = 0; i < n_infos; i++)
                if (!infos[i].id)
                        return NULL;
        return encode(&(SandboxInfos) { (SandboxInfo *) infos, n_infos }, list_reply_fields);
}

int list_reply_decode(struct json_object *parameters, SandboxInfo **ret_infos, size_t *ret_n_infos) {
        SandboxInfos l = {};
        int r;

        if (!ret_infos || !ret_n_infos)
                return -EINVAL;
        r = decode_reply(parameters, list_reply_fields, &l, 0);
        if (r < 0) {
                json_codec_done(&l, list_reply_fields);
                return r;
        }
        *ret_infos = l.infos;
        *ret_n_infos = l.n_infos;
        return 0;
}

struct json_object *inspect_reply_encode(const SandboxInfo *info) {
        return info && info->id ? encode(info, inspect_reply_fields) : NULL;
}

int inspect_reply_decode(struct json_object *parameters, SandboxInfo *ret) {
        if (!ret)
                return -EINVAL;
        return info_decode(parameters, inspect_reply_fields, ret);
}

/* ---- errors ---- */

typedef struct SpawnFailure {
        char *stage;
        int error;
        char *message;
} SpawnFailure;

static const JsonField spawn_failed_fields[] = {
        { "stage", &json_kind_string, offsetof(SpawnFailure, stage), JSON_MANDATORY,
          &(const JsonString) { .max = 256 } },
        { "errno", &json_kind_int, offsetof(SpawnFailure, error), JSON_MANDATORY, &(const JsonRange) { 0, INT_MAX } },
        { "message", &json_kind_string, offsetof(SpawnFailure, message), JSON_MANDATORY,
          &(const JsonString) { .max = 4096 } },
        {}
};

/* The id or name the call gave. */
static const JsonField no_such_sandbox_fields[] = {
        { "id", &json_kind_string, 0, JSON_MANDATORY, &handle_string },
        {}
};

static const JsonField name_in_use_fields[] = {
        { "name", &json_kind_string, 0, JSON_MANDATORY, &name_string },
        {}
};

static const JsonField quota_exceeded_fields[] = {
        { "limit", &json_kind_string, 0, JSON_MANDATORY },
        {}
};

typedef struct PolicyFailure {
        char *file;
        unsigned line;
        char *reason;
} PolicyFailure;

static const JsonField policy_invalid_fields[] = {
        { "file", &json_kind_string, offsetof(PolicyFailure, file), JSON_MANDATORY },
        /* 1-based; 0 (the file as a whole, or not told) is left out. */
        { "line", &json_kind_uint32, offsetof(PolicyFailure, line), 0, &(const JsonRange) { 1, UINT32_MAX } },
        { "reason", &json_kind_string, offsetof(PolicyFailure, reason), 0 },
        {}
};

typedef struct LimitFailure {
        char *limit;
        char *reason;
} LimitFailure;

static const JsonField limit_not_supported_fields[] = {
        { "limit", &json_kind_string, offsetof(LimitFailure, limit), JSON_MANDATORY },
        { "reason", &json_kind_string, offsetof(LimitFailure, reason), JSON_MANDATORY },
        {}
};

typedef struct NestedRefusal {
        char *sandbox;
        char *reason;
} NestedRefusal;

static const JsonField nested_request_refused_fields[] = {
        { "sandbox", &json_kind_string, offsetof(NestedRefusal, sandbox), 0 },
        { "reason", &json_kind_string, offsetof(NestedRefusal, reason), JSON_MANDATORY },
        {}
};

/* Unlike varlink_error_new(), NULL parameters are a failure: these errors always carry some. */
static struct json_object *error_new(const char *error, const void *base, const JsonField *fields) {
        struct json_object *parameters = encode(base, fields);

        if (!parameters)
                return NULL;
        return varlink_error_new(error, parameters);
}

struct json_object *nsbox_error_no_such_sandbox(const char *id) {
        return error_new(NSBOX_ERROR_NO_SUCH_SANDBOX, &id, no_such_sandbox_fields);
}

struct json_object *nsbox_error_name_in_use(const char *name) {
        return error_new(NSBOX_ERROR_NAME_IN_USE, &name, name_in_use_fields);
}

struct json_object *nsbox_error_nested_request_refused(const char *sandbox, const char *reason) {
        NestedRefusal f = { (char *) sandbox, (char *) reason };

        return error_new(NSBOX_ERROR_NESTED_REQUEST_REFUSED, &f, nested_request_refused_fields);
}

struct json_object *nsbox_error_spawn_failed(const char *stage, int error, const char *message) {
        SpawnFailure f = { (char *) stage, error, (char *) message };

        return error_new(NSBOX_ERROR_SPAWN_FAILED, &f, spawn_failed_fields);
}

struct json_object *nsbox_error_quota_exceeded(const char *limit) {
        return error_new(NSBOX_ERROR_QUOTA_EXCEEDED, &limit, quota_exceeded_fields);
}

struct json_object *nsbox_error_policy_invalid(const char *file, unsigned line, const char *reason) {
        PolicyFailure f = { (char *) file, line, (char *) reason };

        return error_new(NSBOX_ERROR_POLICY_INVALID, &f, policy_invalid_fields);
}

struct json_object *nsbox_error_limit_not_supported(const char *limit, const char *reason) {
        LimitFailure f = { (char *) limit, (char *) reason };

        return error_new(NSBOX_ERROR_LIMIT_NOT_SUPPORTED, &f, limit_not_supported_fields);
}

struct json_object *nsbox_error_restarting(void) {
        return varlink_error_new(NSBOX_ERROR_RESTARTING, NULL);
}

int nsbox_error_spawn_failed_decode(struct json_object *parameters, char **ret_stage, int *ret_error,
                                    char **ret_message) {
        SpawnFailure f = {};
        int r;

        r = decode_reply(parameters, spawn_failed_fields, &f, 0);
        if (r >= 0) {
                if (ret_stage)
                        *ret_stage = TAKE_PTR(f.stage);
                if (ret_error)
                        *ret_error = f.error;
                if (ret_message)
                        *ret_message = TAKE_PTR(f.message);
        }
        json_codec_done(&f, spawn_failed_fields);
        return r;
}
