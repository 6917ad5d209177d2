/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.nsbox.Sandbox as C types: typed, strictly validated decode of every call
 * (daemon side) and encode of the same (client side), plus the replies. The
 * wire names follow the IDL in io.nsbox.Sandbox.varlink.
 *
 * Decoders never trust their input: a wrong type, a negative or overflowing
 * integer, a string with a NUL byte, an unknown namespace, an fd index outside
 * the message's fds, too many entries, or an unknown field is -EINVAL with
 * *ret_invalid_parameter set to the exact field ("uidMappings[1].size").
 * A JSON null counts as an absent optional field.
 *
 * Beyond single fields, a Spawn request must be consistent, so the daemon
 * never acts outside the sandbox: "hostname" needs a created or joined uts
 * namespace, "root" and "mounts" a created mount namespace (the child never
 * mounts in a namespace someone else lives in), "uidMappings", "gidMappings"
 * and "setgroups" a created user namespace, "timeOffsets" a created time
 * namespace; a namespace type is either created or
 * joined, and joined at most once. A sandbox has one root: "root" or a
 * "bind" or "tmpfs" entry on "/" in "mounts"; other types may not name "/"
 * but "remount-ro"; "disableUserNamespaces" needs a created user namespace;
 * "seccomp" and "seccompProfile" exclude each other. A stream is read once: two "file" entries may not name
 * the same fd index. spawn_request_verify() owns these rules (the daemon
 * also refuses two indexes that are the same open file).
 *
 * Reply decoders (client side) ignore fields they do not know, so a newer
 * daemon can add some; they return -EBADMSG for a malformed reply.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "confinement-protocol.h"
#include "macro.h"

#define NSBOX_INTERFACE "io.nsbox.Sandbox"
#define NSBOX_ERROR_NO_SUCH_SANDBOX "io.nsbox.Sandbox.NoSuchSandbox"
#define NSBOX_ERROR_SPAWN_FAILED "io.nsbox.Sandbox.SpawnFailed"
#define NSBOX_ERROR_QUOTA_EXCEEDED "io.nsbox.Sandbox.QuotaExceeded"
#define NSBOX_ERROR_POLICY_INVALID "io.nsbox.Sandbox.PolicyInvalid"
#define NSBOX_ERROR_NAME_IN_USE "io.nsbox.Sandbox.NameInUse"
#define NSBOX_ERROR_NESTED_REQUEST_REFUSED "io.nsbox.Sandbox.NestedRequestRefused"
#define NSBOX_ERROR_LIMIT_NOT_SUPPORTED "io.nsbox.Sandbox.LimitNotSupported"
#define NSBOX_ERROR_RESTARTING "io.nsbox.Sandbox.Restarting"

/* The IDL text, embedded at build time from proto/io.nsbox.Sandbox.varlink. */
extern const char nsbox_interface_description[];

typedef enum NamespaceType {
        NAMESPACE_MOUNT,
        NAMESPACE_UTS,
        NAMESPACE_IPC,
        NAMESPACE_USER,
        NAMESPACE_PID,
        NAMESPACE_NET,
        NAMESPACE_CGROUP,
        NAMESPACE_TIME,
        _NAMESPACE_TYPE_MAX,
        _NAMESPACE_TYPE_INVALID = -EINVAL,
} NamespaceType;

#define NAMESPACE_BIT(t) (1U << (t))
#define NAMESPACE_ALL ((1U << _NAMESPACE_TYPE_MAX) - 1)

const char *namespace_type_to_string(NamespaceType t);   /* "mount", "uts", ... */
NamespaceType namespace_type_from_string(const char *s); /* -EINVAL if unknown */
unsigned long namespace_type_to_clone_flag(NamespaceType t); /* CLONE_NEWNS, ... */
const char *namespace_type_to_proc_name(NamespaceType t);    /* "mnt", "uts", ... as in /proc/PID/ns/ */

typedef struct IdMapping {
        uint32_t container_id; /* "containerID" */
        uint32_t host_id;      /* "hostID" */
        uint32_t size;         /* "size", >= 1, container_id + size and host_id + size must not overflow */
} IdMapping;

typedef struct JoinNamespace {
        NamespaceType type; /* "type" */
        int fd_index;       /* "fileDescriptor": a /proc/PID/ns/TYPE fd or a pidfd */
} JoinNamespace;

typedef struct FdMapping {
        int target;   /* "target": fd number in the sandbox, 3 .. 1023 */
        int fd_index; /* "fileDescriptor" */
} FdMapping;

typedef enum MountKind {
        MOUNT_BIND,       /* "bind": recursive bind of source (path or fd) */
        MOUNT_TMPFS,      /* "tmpfs" */
        MOUNT_PROC,       /* "proc" */
        MOUNT_DEV,        /* "dev": minimal /dev */
        MOUNT_MQUEUE,     /* "mqueue" */
        MOUNT_DIR,        /* "dir": mkdir with mode */
        MOUNT_SYMLINK,    /* "symlink": source is the link target */
        MOUNT_FILE,       /* "file": contents read from sourceFileDescriptor */
        MOUNT_REMOUNT_RO, /* "remount-ro": make destination read-only */
        MOUNT_CHMOD,      /* "chmod": set the mode ("mode=" option, mandatory) of an existing destination */
        MOUNT_BIND_DATA,  /* "bind-data": contents from sourceFileDescriptor in a new file bound on destination */
        MOUNT_OVERLAY,    /* "overlay": overlayfs of lowerdir=, upperdir=, workdir= or tmp-upper */
        _MOUNT_KIND_MAX,
        _MOUNT_KIND_INVALID = -EINVAL,
} MountKind;

const char *mount_kind_to_string(MountKind k);
MountKind mount_kind_from_string(const char *s);
/* The types that read their contents from sourceFileDescriptor to its end: "file", "bind-data". */
bool mount_kind_reads_stream(MountKind k);

typedef struct MountEntry {
        MountKind kind;        /* "type" */
        char *source;          /* "source": bind source path, symlink target; NULL if absent */
        int source_fd_index;   /* "sourceFileDescriptor": -1 if absent (bind from O_PATH fd, file contents) */
        char *destination;     /* "destination": absolute, normalized, no ".." components */
        /* "options": OCI-style strings */
        bool read_only;        /* "ro" (default "rw") */
        bool allow_suid;       /* "suid" (default nosuid) */
        bool allow_dev;        /* "dev" (default nodev) */
        bool no_exec;          /* "noexec" */
        bool optional;         /* "nofail" (bind from a path): a missing source skips the entry */
        uint64_t size;         /* "size=BYTES" (tmpfs), 0 if unset */
        int mode;              /* "mode=0755" (tmpfs, dir, file, bind-data, chmod), -1 if unset */
        /* overlay: "lowerdir=/a:/b" (the kernel's order: the first is the top layer; "\" escapes ":" and
         * "\" in a path), "upperdir=/u" with "workdir=/w", or "tmp-upper" (upper and work on a private
         * tmpfs); the paths absolute and normalized, NULL-terminated, NULL if absent */
        char **lower_dirs;
        char *upper_dir;
        char *work_dir;
        bool tmp_upper;
} MountEntry;

typedef struct TimeOffset {
        int64_t secs;     /* "secs" */
        uint32_t nanosecs; /* "nanosecs" < 1e9 */
} TimeOffset;

/*
 * "resources": the cgroup limits of one sandbox, named as in the OCI runtime
 * spec's LinuxResources, plus memory.high and cpu.weight, which cgroup2 has
 * and OCI leaves to its "unified" map. 0 is "not set" for every field (the
 * wire refuses 0 and negative values).
 */
typedef struct SandboxResources {
        uint64_t memory_limit; /* "memory": {"limit"}: bytes */
        uint64_t memory_swap;  /* "memory": {"swap"}: bytes of memory and swap together (as OCI); needs limit, >= it */
        uint64_t memory_high;  /* "memory": {"high"}: bytes above which the sandbox is throttled and reclaimed */
        uint64_t pids_limit;   /* "pids": {"limit"}: processes and threads, 1 .. SANDBOX_PIDS_LIMIT_MAX */
        uint64_t cpu_shares;   /* "cpu": {"shares"}: relative weight as cgroup v1 has it, 2 .. 262144 */
        uint64_t cpu_weight;   /* "cpu": {"weight"}: relative weight as cgroup2 has it, 1 .. 10000; not with shares */
        uint64_t cpu_quota;    /* "cpu": {"quota"}: CPU µs per period, 1000 .. SANDBOX_CPU_QUOTA_MAX */
        uint64_t cpu_period;   /* "cpu": {"period"}: µs, 1000 .. 1000000; default 100000 */
} SandboxResources;

#define SANDBOX_BYTES_MAX INT64_MAX                       /* memory.limit, .swap, .high */
#define SANDBOX_PIDS_LIMIT_MAX 4194304U                  /* PID_MAX_LIMIT */
#define SANDBOX_CPU_SHARES_MIN 2U
#define SANDBOX_CPU_SHARES_MAX 262144U
#define SANDBOX_CPU_WEIGHT_MIN 1U
#define SANDBOX_CPU_WEIGHT_MAX 10000U
#define SANDBOX_CPU_PERIOD_MIN 1000U                      /* µs */
#define SANDBOX_CPU_PERIOD_MAX 1000000U
#define SANDBOX_CPU_QUOTA_MIN 1000ULL                     /* 1 ms, the least CFS bandwidth takes */
#define SANDBOX_CPU_QUOTA_MAX (4096ULL * 1000000ULL)     /* 4096 CPUs for a period of 1s */
#define SANDBOX_RLIMITS_MAX 16                           /* RLIM_NLIMITS */
#define SANDBOX_RLIMIT_INFINITY UINT64_MAX               /* RLIM_INFINITY: 18446744073709551615 on the wire */

/* "rlimits": one resource limit of the sandbox's processes, as OCI's POSIXRlimit. */
typedef struct SandboxRlimit {
        int type;      /* "type": the resource, RLIMIT_CPU .. RLIMIT_RTTIME, named "RLIMIT_NOFILE" etc. */
        uint64_t soft; /* "soft": <= hard; SANDBOX_RLIMIT_INFINITY for none */
        uint64_t hard; /* "hard" */
} SandboxRlimit;

const char *rlimit_type_to_string(int resource);   /* "RLIMIT_NOFILE" */
int rlimit_type_from_string(const char *s);        /* -EINVAL if unknown */

typedef struct SpawnRequest {
        char **argv; /* "argv": NULL-terminated, at least one non-empty element */
        char *argv0; /* "argv0": what the program gets as argv[0] instead of argv[0]; NULL if absent */
        char **env;  /* "env": NULL-terminated "KEY=VALUE"; NULL if absent (daemon default) */
        char *cwd;
        char **cwd_fallbacks; /* "cwdFallbacks": NULL-terminated, tried when cwd cannot be entered; NULL if absent */
        char *name;
        char *hostname;
        char *root;

        unsigned namespaces; /* "namespaces": NAMESPACE_BIT() mask */

        JoinNamespace *join_namespaces; /* "joinNamespaces" */
        size_t n_join_namespaces;

        IdMapping *uid_mappings; /* "uidMappings" */
        size_t n_uid_mappings;
        IdMapping *gid_mappings; /* "gidMappings" */
        size_t n_gid_mappings;
        int setgroups; /* "setgroups": 1 allow, 0 deny, -1 absent */

        bool has_user; /* "user": {uid, gid, additionalGids} */
        uint32_t uid;
        uint32_t gid;
        uint32_t *additional_gids;
        size_t n_additional_gids;

        int stdin_index; /* "stdin", "stdout", "stderr": fd index or -1 (/dev/null) */
        int stdout_index;
        int stderr_index;

        FdMapping *fds; /* "fileDescriptors" */
        size_t n_fds;
        int block_fd_index; /* "blockFileDescriptor": fd index or -1; the sandbox waits until it reads */
        int command_userns_fd_index; /* "commandUserNamespaceFileDescriptor": fd index or -1; entered after setup */

        MountEntry *mounts; /* "mounts" */
        size_t n_mounts;

        bool has_monotonic_offset; /* "timeOffsets": {"monotonic": {...}, "boottime": {...}} */
        TimeOffset monotonic_offset;
        bool has_boottime_offset;
        TimeOffset boottime_offset;

        SeccompSpec *seccomp;      /* "seccomp": a LinuxSeccomp object replacing the default profile; NULL absent */
        int seccomp_profile;       /* "seccompProfile": SeccompProfileKind, -1 absent ("default" unless "seccomp") */
        int *seccomp_fds;   /* "seccompFileDescriptors": classic-BPF programs, loaded in order */
        size_t n_seccomp_fds;
        CapabilitiesSpec *capabilities; /* "capabilities": NULL absent (the documented default sets) */
        bool disable_user_namespaces;   /* "disableUserNamespaces": needs a new user namespace */

        int init;        /* "init": -1 absent (default: on iff a pid namespace is created) */
        char **lock_files; /* "lockFiles": absolute paths init read-locks; NULL if absent. Needs init. */
        int new_session; /* "newSession": -1 absent (default on) */
        bool keep_alive; /* "keepAlive" */

        char *stdin_data;       /* "stdinData": what the command reads as its stdin; NULL if absent */
        bool capture_output;    /* "captureOutput": stdout and stderr kept by the daemon for Wait */
        uint64_t capture_bytes; /* "captureBytes": how much of it; 0 if absent (the daemon's default) */
        SandboxResources resources; /* "resources" */
        SandboxRlimit *rlimits;     /* "rlimits": each type at most once */
        size_t n_rlimits;
        uint64_t runtime_max_usec;  /* "runtimeMaxUSec": wall-clock µs after which the whole sandbox is killed; 0 none */
} SpawnRequest;

/* Defaults of the limits below; the daemon's own limits (daemon/policy.c) start from these too. */
#define SPAWN_ARGV_BYTES_MAX_DEFAULT (128U * 1024U)
#define SPAWN_ENV_BYTES_MAX_DEFAULT (128U * 1024U)
#define SPAWN_MAPPINGS_MAX_DEFAULT 64U
#define SPAWN_MOUNTS_MAX_DEFAULT 256U
#define SPAWN_STDIN_DATA_BYTES_MAX_DEFAULT (64U * 1024U)
#define SPAWN_CAPTURE_BYTES_MAX_DEFAULT (16U * 1024U * 1024U)
/* "lockFiles" entries: a fixed bound, as init holds their fds in an array of the spawn plan. */
#define SPAWN_LOCK_FILES_MAX 16U

/* What a request may contain; the daemon passes its configured limits. Zero fields take the defaults. */
typedef struct SpawnLimits {
        size_t argv_bytes_max;     /* default 128 KiB (sum of strlen+1) */
        size_t env_bytes_max;      /* default 128 KiB */
        size_t env_entries_max;    /* default 1024 */
        size_t argv_entries_max;   /* default 4096 */
        size_t mappings_max;       /* per uid/gid list, default 64 */
        size_t mounts_max;         /* default 256 */
        size_t fds_max;            /* fileDescriptors entries, default 64 */
        size_t groups_max;         /* additionalGids, default 64 */
        size_t path_max;           /* any path string, default 4096 */
        size_t stdin_data_bytes_max; /* "stdinData", default 64 KiB */
        size_t cwd_fallbacks_max;    /* "cwdFallbacks" entries, default 8 (their bytes: path_max) */
        size_t capture_bytes_max;    /* the largest "captureBytes", default 16 MiB */
        size_t lock_files_max;       /* "lockFiles" entries: always SPAWN_LOCK_FILES_MAX (their bytes: path_max) */
} SpawnLimits;

SpawnRequest *spawn_request_new(void); /* all optional fields set to their "absent" values */
SpawnRequest *spawn_request_free(SpawnRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(SpawnRequest *, spawn_request_free);

/* n_message_fds: how many fds came with the message; every fd index must be below it. */
int spawn_request_decode(struct json_object *parameters, size_t n_message_fds, const SpawnLimits *limits,
                         SpawnRequest **ret, char **ret_invalid_parameter);
/*
 * The rules across fields that the header comment lists (what needs which
 * namespace, created vs joined), in one place: spawn_request_decode() applies
 * them, and so does the spawn engine to a request built any other way; the
 * later stages rely on them. 0, or -EINVAL with *ret_invalid_parameter naming
 * the field (when not NULL), or -ENOMEM.
 */
int spawn_request_verify(const SpawnRequest *req, char **ret_invalid_parameter);
/* Encodes for the wire (client side); fd indexes are written as they are. NULL on OOM. */
struct json_object *spawn_request_encode(const SpawnRequest *r);

/*
 * Exec: another process in a running sandbox. process holds what the call
 * says (argv, env, cwd, user, stdin, stdout, stderr, fileDescriptors,
 * seccompFileDescriptors, newSession, keepAlive, stdinData, captureOutput,
 * captureBytes; the other members keep their "absent" values), checked as a
 * Spawn's are; the daemon adds the sandbox's namespaces, user and cwd to it
 * and hands it to the spawn engine.
 */
typedef struct ExecRequest {
        char *id;             /* "id": the sandbox's id, or the name of one of the caller's own */
        SpawnRequest process;
} ExecRequest;

ExecRequest *exec_request_new(void);
ExecRequest *exec_request_free(ExecRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ExecRequest *, exec_request_free);
int exec_request_decode(struct json_object *parameters, size_t n_message_fds, const SpawnLimits *limits,
                        ExecRequest **ret, char **ret_invalid_parameter);
/* NULL on OOM or without an id. The reply is a Spawn reply (spawn_reply_decode()). */
struct json_object *exec_request_encode(const ExecRequest *r);

/* Wait, Kill, Inspect take an id; Kill an optional signal. */
#define SANDBOX_ID_MAX 64
/* The ids the daemon makes: 128 random bits as lowercase hex. */
#define SANDBOX_ID_LEN 32
/* "name": 1 .. SANDBOX_NAME_MAX bytes of UTF-8, no control, zero-width or bidirectional-override characters,
 * not 32 lowercase hex digits (the shape of the daemon's ids). */
#define SANDBOX_NAME_MAX 128
/* "hostname": 1 .. SANDBOX_HOSTNAME_MAX of [A-Za-z0-9.-], no empty label, no leading '-'. */
#define SANDBOX_HOSTNAME_MAX 64
/* Options per mount entry. */
#define SANDBOX_MOUNT_OPTIONS_MAX 32
/* Lower layers of one overlay (the kernel takes up to 500). */
#define SANDBOX_OVERLAY_LAYERS_MAX 128

/* An id is 1 .. SANDBOX_ID_MAX characters of [A-Za-z0-9_-]. */
bool sandbox_id_is_valid(const char *id);
/* What the "id" of a call may be: an id, or a name (the caller's own sandbox of that name). */
bool sandbox_handle_is_valid(const char *handle);

/* Wait, Inspect, Pause and Resume take just an id (or a name: see sandbox_handle_is_valid()). */
int sandbox_id_request_decode(struct json_object *parameters, char **ret_id, char **ret_invalid_parameter);
/* Wait: like the above, but the id may be absent (*ret_id = NULL): the connection's last Spawn. */
int wait_request_decode(struct json_object *parameters, char **ret_id, char **ret_invalid_parameter);
/* Kill: signal absent -> SIGTERM; must be 1.._NSIG-1. "all" (ret_all may be NULL): every process in the
 * sandbox, not only its top one. */
int kill_request_decode(struct json_object *parameters, char **ret_id, int *ret_signal, bool *ret_all,
                        char **ret_invalid_parameter);
int list_request_decode(struct json_object *parameters, char **ret_invalid_parameter); /* no fields */

/* Client side encoders of the same; NULL on OOM. kill: signal 0 leaves it out (the daemon's default). */
struct json_object *sandbox_id_request_encode(const char *id);
struct json_object *kill_request_encode(const char *id, int signal, bool all);
struct json_object *list_request_encode(void);

/* Spawn reply: (id, pid, pidFileDescriptor, namespaceInodes) */
typedef struct SpawnReply {
        char *id;
        int64_t pid;
        int pidfd_index;
        /* "namespaceInodes": {"mount": N, ...}, by NamespaceType; 0 where unknown (left out). A daemon
         * before this field sends none: has_namespace_inodes false. */
        bool has_namespace_inodes;
        uint64_t namespace_inodes[_NAMESPACE_TYPE_MAX];
} SpawnReply;
struct json_object *spawn_reply_encode(const SpawnReply *r);
int spawn_reply_decode(struct json_object *parameters, size_t n_message_fds, SpawnReply *ret);
void spawn_reply_done(SpawnReply *r);

typedef enum SandboxState {
        SANDBOX_STARTING, /* "starting": cloned, not yet exec'd */
        SANDBOX_RUNNING,  /* "running" */
        SANDBOX_EXITED,   /* "exited": exit_code valid */
        SANDBOX_KILLED,   /* "killed": signal valid */
        SANDBOX_OOM_KILLED, /* "oom-killed": the OOM killer killed it; exit_code or signal as the top process ended */
        SANDBOX_TIMED_OUT,  /* "timed-out": killed at runtimeMaxUSec; exit_code or signal likewise */
        _SANDBOX_STATE_MAX,
        _SANDBOX_STATE_INVALID = -EINVAL,
} SandboxState;

const char *sandbox_state_to_string(SandboxState s);
SandboxState sandbox_state_from_string(const char *s);

/* "SIGTERM" <-> 15; signal_from_string also accepts "TERM" and decimal numbers. */
const char *signal_to_string(int sig);
int signal_from_string(const char *s);

/* Whether a state is an end state (exited, killed, oom-killed, timed-out). */
bool sandbox_state_is_final(SandboxState s);

/* "usage": what a sandbox used, from its cgroup. UINT64_MAX where the host cannot tell (left out). */
typedef struct SandboxUsage {
        uint64_t cpu_usec;       /* "cpuUSec": CPU time of all its processes */
        uint64_t memory_current; /* "memoryCurrent": bytes now */
        uint64_t memory_peak;    /* "memoryPeak": the most bytes it had */
        uint64_t tasks;          /* "tasks": processes and threads now */
        uint64_t tasks_peak;     /* "tasksPeak": the most it had */
        uint64_t oom_kills;      /* "oomKills": processes the OOM killer killed */
} SandboxUsage;

#define SANDBOX_USAGE_UNKNOWN                                                                                  \
        ((SandboxUsage) { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX })

/* Wait reply: (state, exitCode?, signal?, usage?) and the SandboxInfo of List/Inspect. */
typedef struct SandboxInfo {
        char *id;
        char *name;        /* NULL if none */
        int64_t pid;
        uint32_t owner_uid;
        unsigned namespaces;        /* "namespaces": the types created for it */
        unsigned joined_namespaces; /* "joinedNamespaces": the types it joined (an Exec'd process: all its
                                     * sandbox's); 0 none */
        SandboxState state;
        uint64_t start_usec; /* CLOCK_REALTIME, µs ("startTime") */
        int exit_code;       /* valid when state == SANDBOX_EXITED, or a final state the top process exited in */
        int signal;          /* valid when state == SANDBOX_KILLED, or a final state it was killed in; else 0 */
        bool keep_alive;
        char *cgroup;               /* "cgroup": its cgroup2 path; NULL without one */
        SandboxResources resources; /* "resources": the limits in force */
        SandboxRlimit *rlimits;     /* "rlimits" */
        size_t n_rlimits;
        uint64_t runtime_max_usec;  /* "runtimeMaxUSec"; 0 none */
        bool paused;                /* "paused": Pause froze it */
        bool has_usage;             /* "usage" */
        SandboxUsage usage;
        char *sandbox;              /* "sandbox": for a process Exec started or a nested sandbox, the id of the
                                     * sandbox it runs in; else NULL */
        bool nested;                /* "nested": with sandbox, made by a Spawn from inside it, not by Exec */
} SandboxInfo;

/* A state change while waiting: (state) only. */
struct json_object *wait_reply_encode(SandboxState state, int exit_code, int signal);

/* Captured output a Wait reply carries: bytes as the command wrote them (any bytes; the encoder turns
 * NULs and invalid UTF-8 into U+FFFD, as JSON strings must be UTF-8), and whether some were dropped. */
typedef struct WaitOutput {
        const char *stdout_data;
        size_t stdout_size;
        const char *stderr_data;
        size_t stderr_size;
        bool truncated;
} WaitOutput;
/* Whether s (n bytes) is UTF-8 text without NUL, as a JSON string on the wire must be (RFC 3629). */
bool utf8_is_valid(const char *s, size_t n);

/*
 * How much of data (size bytes of output) one reply can carry in budget bytes of JSON text: returns
 * the bytes that fit, never cutting a UTF-8 sequence, and sets *ret_text_size to the JSON text they
 * make inside the string's quotes (a control byte takes 6, a byte that is not UTF-8 takes 3, as
 * U+FFFD). What a reply's output costs on the wire is bounded by summing this over its streams.
 */
size_t wait_output_fit(const char *data, size_t size, size_t budget, size_t *ret_text_size);
/* A Wait reply with "stdout"/"stderr" (when not empty) and "truncated" (when true) added. */
struct json_object *wait_reply_encode_output(SandboxState state, int exit_code, int signal, const WaitOutput *out);
/* A Wait reply from info: state, exitCode or signal, usage if info->has_usage (the final one), and the
 * captured output if out is given. */
struct json_object *wait_reply_encode_info(const SandboxInfo *info, const WaitOutput *out);
int wait_reply_decode(struct json_object *parameters, SandboxState *ret_state, int *ret_exit_code, int *ret_signal);
/* All of a Wait reply: state, exit_code, signal, has_usage and usage of *ret (free with sandbox_info_done()). */
int wait_reply_decode_info(struct json_object *parameters, SandboxInfo *ret);

/* For documents that embed a SandboxInfo through its codec table (sandbox-protocol-tables.h): decode
 * into one set up by sandbox_info_init_for_decode(), then make the check across state, exitCode and
 * signal that decoding a List entry makes. */
void sandbox_info_init_for_decode(SandboxInfo *info);
bool sandbox_info_state_is_consistent(SandboxInfo *info);

struct json_object *sandbox_info_encode(const SandboxInfo *info);
int sandbox_info_decode(struct json_object *o, SandboxInfo *ret);
void sandbox_info_done(SandboxInfo *info);

/* List reply: (sandboxes: []SandboxInfo); Inspect reply: (sandbox: SandboxInfo). */
struct json_object *list_reply_encode(const SandboxInfo *infos, size_t n_infos);
int list_reply_decode(struct json_object *parameters, SandboxInfo **ret_infos, size_t *ret_n_infos);
void sandbox_info_array_free(SandboxInfo *infos, size_t n_infos);
struct json_object *inspect_reply_encode(const SandboxInfo *info);
int inspect_reply_decode(struct json_object *parameters, SandboxInfo *ret);

/* Error replies of io.nsbox.Sandbox. */
struct json_object *nsbox_error_no_such_sandbox(const char *id);
struct json_object *nsbox_error_spawn_failed(const char *stage, int error, const char *message);
struct json_object *nsbox_error_quota_exceeded(const char *limit);
/* PolicyInvalid(file, line, reason): line (0: none) and reason (NULL: none) only for root. */
struct json_object *nsbox_error_policy_invalid(const char *file, unsigned line, const char *reason);
/* NameInUse(name): the caller has a sandbox of that name already. */
struct json_object *nsbox_error_name_in_use(const char *name);
/* NestedRequestRefused(sandbox, reason): a call from inside a sandbox (sandbox NULL: from where is not known). */
struct json_object *nsbox_error_nested_request_refused(const char *sandbox, const char *reason);
/* A limit (the request's field, e.g. "resources.memory.high", or the policy key) the host cannot enforce. */
struct json_object *nsbox_error_limit_not_supported(const char *limit, const char *reason);
struct json_object *nsbox_error_restarting(void);

/* Reads SpawnFailed's parameters (client side); each out-parameter may be NULL. */
int nsbox_error_spawn_failed_decode(struct json_object *parameters, char **ret_stage, int *ret_error,
                                    char **ret_message);
