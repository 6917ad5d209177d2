/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnsbox: ask nsboxd for Linux sandboxes (namespaced processes) over its
 * Varlink socket, wait for them, signal them, list and inspect them.
 *
 * Conventions:
 *  - Functions return 0 (or a count) on success and a negative errno on
 *    failure. Out-parameters are named ret_* and are left untouched on failure.
 *  - Objects are opaque. Every *_free() accepts NULL and returns NULL.
 *  - When the daemon answers a call with a Varlink error, the call returns a
 *    negative errno (listed with nsbox_connection_get_error_name()) and the
 *    error's name and parameters stay retrievable from the connection until
 *    the next call is sent on it.
 *  - Thread safety: none of the objects are thread-safe. A connection and
 *    everything obtained from it may be used by one thread at a time; use one
 *    connection per thread. Distinct objects may be used from distinct threads.
 *  - The library never logs, never exits, never installs signal handlers and
 *    creates every file descriptor with O_CLOEXEC.
 *  - Blocking calls retry on EINTR. Event-loop users use the *_send() /
 *    nsbox_connection_process() / *_finish() triples instead.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct NsboxConnection NsboxConnection;
typedef struct NsboxSpawn NsboxSpawn;
typedef struct NsboxSandbox NsboxSandbox;
typedef struct NsboxSandboxInfo NsboxSandboxInfo;

/* Namespace flags, as used by nsbox_spawn_set_namespaces() and nsbox_sandbox_info_get_namespaces(). */
#define NSBOX_NAMESPACE_MOUNT  (1U << 0)
#define NSBOX_NAMESPACE_UTS    (1U << 1)
#define NSBOX_NAMESPACE_IPC    (1U << 2)
#define NSBOX_NAMESPACE_USER   (1U << 3)
#define NSBOX_NAMESPACE_PID    (1U << 4)
#define NSBOX_NAMESPACE_NET    (1U << 5)
#define NSBOX_NAMESPACE_CGROUP (1U << 6)
#define NSBOX_NAMESPACE_TIME   (1U << 7)
#define NSBOX_NAMESPACE_ALL    ((1U << 8) - 1)

/* Returns the unshare(1)-style name ("mount", "uts", "ipc", "user", "pid", "net",
 * "cgroup", "time") of one namespace flag, or NULL if flag is not exactly one known flag. */
const char *nsbox_namespace_to_name(unsigned flag);

/* Returns the flag for a name as above, or -EINVAL. */
int nsbox_namespace_from_name(const char *name);

typedef enum NsboxState {
        NSBOX_STATE_STARTING, /* cloned, not yet executing the command */
        NSBOX_STATE_RUNNING,
        NSBOX_STATE_EXITED,   /* exited; the exit code is valid */
        NSBOX_STATE_KILLED,   /* killed by a signal; the signal is valid */
        NSBOX_STATE_OOM_KILLED, /* the OOM killer killed it; the exit code or the signal is valid */
        NSBOX_STATE_TIMED_OUT,  /* killed at its runtime limit; the exit code or the signal is valid */
} NsboxState;

/* "starting", "running", "exited", "killed", "oom-killed", "timed-out"; NULL for an unknown value. */
const char *nsbox_state_to_string(NsboxState state);

/* Varlink error names a call may fail with (see nsbox_connection_get_error_name()). */
#define NSBOX_ERROR_NO_SUCH_SANDBOX   "io.nsbox.Sandbox.NoSuchSandbox"
#define NSBOX_ERROR_SPAWN_FAILED      "io.nsbox.Sandbox.SpawnFailed"
#define NSBOX_ERROR_QUOTA_EXCEEDED    "io.nsbox.Sandbox.QuotaExceeded"
#define NSBOX_ERROR_LIMIT_NOT_SUPPORTED "io.nsbox.Sandbox.LimitNotSupported"
#define NSBOX_ERROR_POLICY_INVALID    "io.nsbox.Sandbox.PolicyInvalid"
#define NSBOX_ERROR_NAME_IN_USE       "io.nsbox.Sandbox.NameInUse"
#define NSBOX_ERROR_NESTED_REQUEST_REFUSED "io.nsbox.Sandbox.NestedRequestRefused"
/* The daemon is restarting and ended the connection (-ECONNRESET): connect again and repeat the call. */
#define NSBOX_ERROR_RESTARTING        "io.nsbox.Sandbox.Restarting"
#define NSBOX_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define NSBOX_ERROR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"

/* ------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------ */

/*
 * Connects to nsboxd. socket_path may be NULL: then $NSBOX_SOCKET is used if
 * set and non-empty, else the default system socket (see
 * nsbox_connection_get_default_socket_path()). The connect itself blocks
 * briefly (unix sockets connect at once or fail); the connection's fd is
 * non-blocking afterwards. Errors: those of socket(2)/connect(2) (-ENOENT if
 * nothing is at the path, -ECONNREFUSED if no one listens, -EACCES),
 * -ENAMETOOLONG if the path does not fit a unix socket address, -ENOMEM.
 */
int nsbox_connection_new(const char *socket_path, NsboxConnection **ret);

/* Closes the connection. Sandboxes spawned on it without keep-alive are stopped by the daemon. */
NsboxConnection *nsbox_connection_free(NsboxConnection *c);

/* The path the library connects to when given none (before $NSBOX_SOCKET is considered). */
const char *nsbox_connection_get_default_socket_path(void);

/* The path this connection was made to. */
const char *nsbox_connection_get_socket_path(NsboxConnection *c);

/* The connection's socket, for poll()/epoll in an event loop. Owned by the connection. */
int nsbox_connection_get_fd(NsboxConnection *c);

/* The poll events to wait for now: POLLIN, plus POLLOUT while a call is still being written. */
short nsbox_connection_get_events(NsboxConnection *c);

/*
 * Moves the pending call forward without blocking: writes what the socket
 * takes and reads what is there. Returns 0 once the reply of the pending call
 * is complete (call the matching *_finish()), -EAGAIN if more I/O is needed
 * (wait for nsbox_connection_get_events() on the fd and call again), -ENOMSG
 * if no call is pending, or another negative errno if the connection failed
 * (-ECONNRESET when the daemon closed it, -EPROTO/-EBADMSG on a malformed
 * reply). A failed connection stays failed: make a new one.
 */
int nsbox_connection_process(NsboxConnection *c);

/*
 * Blocks until the pending call's reply is complete, or timeout_usec passed
 * (UINT64_MAX: no limit). Returns 0 when the reply is complete, -ETIMEDOUT,
 * -ENOMSG if no call is pending, or the errors of nsbox_connection_process().
 */
int nsbox_connection_wait(NsboxConnection *c, uint64_t timeout_usec);

/*
 * The last failed call's Varlink error name, or NULL if it did not fail with a
 * Varlink error (or nothing failed). Calls map error names to errnos:
 *   io.nsbox.Sandbox.NoSuchSandbox          -ESRCH
 *   io.nsbox.Sandbox.SpawnFailed            the reported errno, negated (-EIO if none)
 *   io.nsbox.Sandbox.QuotaExceeded          -EDQUOT
 *   io.nsbox.Sandbox.NameInUse              -EEXIST
 *   org.varlink.service.InvalidParameter    -EINVAL
 *   org.varlink.service.PermissionDenied    -EPERM
 *   io.nsbox.Sandbox.NestedRequestRefused   -EPERM (from inside a sandbox; fields "sandbox", "reason")
 *   org.varlink.service.MethodNotFound,
 *   ...InterfaceNotFound, ...MethodNotImplemented  -EOPNOTSUPP
 *   anything else                           -EREMOTEIO
 * The strings returned by the error getters stay valid until the next call is sent.
 */
const char *nsbox_connection_get_error_name(NsboxConnection *c);

/* The "parameter" field of org.varlink.service.InvalidParameter: the exact field the daemon rejected
 * (e.g. "uidMappings[1].size"); NULL if the last error was something else. */
const char *nsbox_connection_get_error_parameter(NsboxConnection *c);

/* SpawnFailed: the stage that failed ("execve", "mount", "uid_map", ...), the errno (positive; 0 if
 * none) and the daemon's message. NULL/0 if the last error was something else. */
const char *nsbox_connection_get_error_stage(NsboxConnection *c);
int nsbox_connection_get_error_errno(NsboxConnection *c);
const char *nsbox_connection_get_error_message(NsboxConnection *c);

/* QuotaExceeded: which limit was hit. NULL if the last error was something else. */
const char *nsbox_connection_get_error_limit(NsboxConnection *c);

/* Any string field of the last error's parameters by name; NULL if absent or not a string. */
const char *nsbox_connection_get_error_field(NsboxConnection *c, const char *field);

/* All parameters of the last error as JSON text ("{}" if none); NULL if there is no error. */
const char *nsbox_connection_get_error_json(NsboxConnection *c);

/* ------------------------------------------------------------------------
 * Spawn descriptions
 *
 * A description is built with setters and may be sent any number of times.
 * Setters that take a file descriptor duplicate it (the caller keeps its own);
 * the library sends the duplicates with the call via SCM_RIGHTS.
 * ------------------------------------------------------------------------ */

int nsbox_spawn_new(NsboxSpawn **ret);
NsboxSpawn *nsbox_spawn_free(NsboxSpawn *s);

/* The command, NULL-terminated, at least one non-empty element. Required. An argv[0] without a slash
 * is looked up by the daemon in $PATH of the sandbox's environment, inside the sandbox. */
int nsbox_spawn_set_argv(NsboxSpawn *s, const char *const *argv);

/* What the program gets as its argv[0] instead of argv[0], which still names the program to execute
 * (bubblewrap's --argv0); any string, empty included. NULL: argv[0] itself. */
int nsbox_spawn_set_argv0(NsboxSpawn *s, const char *argv0);

/* Namespaces to create. set replaces the set with flags (NSBOX_NAMESPACE_*); add adds one by name
 * ("mount", "uts", "ipc", "user", "pid", "net", "cgroup", "time"). -EINVAL for unknown ones. */
int nsbox_spawn_set_namespaces(NsboxSpawn *s, unsigned flags);
int nsbox_spawn_add_namespace(NsboxSpawn *s, const char *name);
unsigned nsbox_spawn_get_namespaces(NsboxSpawn *s);

/* Enters an existing namespace instead of creating one: name as above, fd a /proc/PID/ns/NAME file or
 * a pidfd (duplicated). A second call for the same name replaces the first. The daemon checks that the
 * caller may enter it. */
int nsbox_spawn_join_namespace(NsboxSpawn *s, const char *name, int fd);

/* Adds a range to the user namespace's uid (gid) map: count ids from inside_id in the sandbox map to
 * outside_id on the host. -EINVAL if count is 0 or a range overflows. */
int nsbox_spawn_add_uid_mapping(NsboxSpawn *s, uint32_t inside_id, uint32_t outside_id, uint32_t count);
int nsbox_spawn_add_gid_mapping(NsboxSpawn *s, uint32_t inside_id, uint32_t outside_id, uint32_t count);

/* Whether setgroups(2) is allowed in the new user namespace ("allow"/"deny" in /proc/PID/setgroups). */
int nsbox_spawn_set_setgroups(NsboxSpawn *s, bool allow);

/*
 * Environment. Unless one of these is called the daemon's default environment
 * is used. set_environment replaces the whole list with envp ("KEY=VALUE"
 * strings; NULL goes back to the daemon's default); set_env/unset_env edit
 * the list (starting from an empty one); clear_env makes it empty.
 * -EINVAL for names that are empty or contain '='.
 */
int nsbox_spawn_set_environment(NsboxSpawn *s, char *const *envp);
int nsbox_spawn_set_env(NsboxSpawn *s, const char *name, const char *value);
int nsbox_spawn_unset_env(NsboxSpawn *s, const char *name);
int nsbox_spawn_clear_env(NsboxSpawn *s);

/* Strings; NULL unsets. cwd: working directory inside; hostname needs a UTS namespace; root: the
 * directory that becomes "/" (needs a mount namespace), the same as a bind of it on "/" with the default
 * flags added before every other mount; name: a label shown by list/inspect. */
int nsbox_spawn_set_cwd(NsboxSpawn *s, const char *cwd);
int nsbox_spawn_set_hostname(NsboxSpawn *s, const char *hostname);
int nsbox_spawn_set_root(NsboxSpawn *s, const char *root);
int nsbox_spawn_set_name(NsboxSpawn *s, const char *name);
/* Absolute directories (NULL-terminated, at most 8; NULL clears) tried in order when cwd cannot be
 * entered in the sandbox, as bubblewrap falls back from the current directory to $HOME. */
int nsbox_spawn_set_cwd_fallbacks(NsboxSpawn *s, const char *const *paths);

/* The credentials the command runs with, as seen inside the sandbox. groups may be NULL if n_groups is 0. */
int nsbox_spawn_set_user(NsboxSpawn *s, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* Standard streams: fd is duplicated and given to the command as 0/1/2. -1 unsets (the command gets
 * /dev/null). -EBADF if fd is not open. */
int nsbox_spawn_set_stdin(NsboxSpawn *s, int fd);
int nsbox_spawn_set_stdout(NsboxSpawn *s, int fd);
int nsbox_spawn_set_stderr(NsboxSpawn *s, int fd);

/*
 * For callers that cannot pass fds (or do not want to), the daemon can stand in for stdio.
 *
 * nsbox_spawn_set_stdin_data(): the command reads these size bytes as its stdin (the request's
 * stdinData) instead of an fd; data is copied. It travels as a JSON string, so it must be UTF-8
 * text without NUL (-EINVAL otherwise). The daemon takes at most its stdin-data-bytes limit (64 KiB
 * by default): past it the Spawn fails with -EINVAL naming "stdinData", as it does together with
 * nsbox_spawn_set_stdin(). NULL (size 0) unsets it.
 *
 * nsbox_spawn_set_capture_output(): the daemon keeps what the command writes to stdout and stderr
 * (captureOutput) for nsbox_wait_output() to deliver, at most max_bytes of both together
 * (captureBytes; 0: the daemon's capture-bytes, 1 MiB by default; more than its capture-bytes-max,
 * 16 MiB by default, fails the Spawn with -EINVAL naming "captureBytes"); past it output is read and
 * dropped, which the Wait reports. The Spawn fails with -EINVAL naming "captureOutput" together with
 * nsbox_spawn_set_stdout() or _stderr(). capture false (with max_bytes 0) turns it off.
 */
int nsbox_spawn_set_stdin_data(NsboxSpawn *s, const char *data, size_t size);
int nsbox_spawn_set_capture_output(NsboxSpawn *s, bool capture, uint64_t max_bytes);

/* Passes fd (duplicated) to the command as file descriptor number target (3..1023). A second call for
 * the same target replaces the first. */
int nsbox_spawn_add_fd(NsboxSpawn *s, int fd, int target);

/* Mount flags for the bind/tmpfs calls. Mounts are nosuid, nodev, rw by default, the root too. The flags of a
 * bind hold for every mount below its source that it brings along (READ_ONLY is read-only all the way down). */
#define NSBOX_MOUNT_READ_ONLY  (1U << 0)
#define NSBOX_MOUNT_ALLOW_DEV  (1U << 1) /* device nodes usable (bubblewrap's --dev-bind) */
#define NSBOX_MOUNT_ALLOW_SUID (1U << 2)
#define NSBOX_MOUNT_NO_EXEC    (1U << 3)
/* nsbox_spawn_add_bind() only: a source that does not exist skips the mount (bubblewrap's --bind-try) */
#define NSBOX_MOUNT_OPTIONAL   (1U << 4)

/*
 * Filesystem setup, applied in the order added (after "root") to a tree that
 * starts as an empty tmpfs. Destinations are absolute paths inside the
 * sandbox. A bind or tmpfs on "/" is the root: it replaces the tree the
 * mounts before it built; there is one root at most (the daemon answers
 * InvalidParameter for a second one). Each needs a mount namespace. mode < 0
 * means the daemon's default.
 */
int nsbox_spawn_add_bind(NsboxSpawn *s, const char *source, const char *destination, unsigned flags);
/* Like add_bind with an (O_PATH) fd as source; fd is duplicated. */
int nsbox_spawn_add_bind_fd(NsboxSpawn *s, int source_fd, const char *destination, unsigned flags);
/* size 0: the kernel's default. */
int nsbox_spawn_add_tmpfs(NsboxSpawn *s, const char *destination, uint64_t size, int mode, unsigned flags);
int nsbox_spawn_add_proc(NsboxSpawn *s, const char *destination);
/* A minimal /dev, bubblewrap's: null, zero, full, random, urandom, tty, pts (and ptmx), shm, and the links
 * fd, stdin, stdout, stderr and core. */
int nsbox_spawn_add_dev(NsboxSpawn *s, const char *destination);
int nsbox_spawn_add_mqueue(NsboxSpawn *s, const char *destination);
int nsbox_spawn_add_dir(NsboxSpawn *s, const char *destination, int mode);
int nsbox_spawn_add_symlink(NsboxSpawn *s, const char *target, const char *destination);
/* A file whose contents are read from fd (duplicated) at spawn time. */
int nsbox_spawn_add_file(NsboxSpawn *s, int fd, const char *destination, int mode);
int nsbox_spawn_add_remount_ro(NsboxSpawn *s, const char *destination);
/* bubblewrap's --bind-data: the contents read from fd (duplicated) at spawn time go into a new file of
 * their own, bound on destination (which may exist; it is made as an empty file if not). mode < 0: 0600.
 * flags: NSBOX_MOUNT_READ_ONLY, NSBOX_MOUNT_NO_EXEC. */
int nsbox_spawn_add_bind_data(NsboxSpawn *s, int fd, const char *destination, int mode, unsigned flags);
/* bubblewrap's --chmod: sets the mode (0 to 07777) of path, which must exist when the step runs, in
 * order with the other steps. */
int nsbox_spawn_add_chmod(NsboxSpawn *s, const char *path, int mode);
/* An overlay on destination (bubblewrap's --overlay, --tmp-overlay, --ro-overlay): lower the host
 * directories, NULL-terminated, the top layer first; upper and work the writable layer and its work
 * directory (both or neither), or with NSBOX_OVERLAY_TMP_UPPER in flags a private tmpfs; neither makes a
 * read-only overlay, which needs two lower layers. flags also take NSBOX_MOUNT_READ_ONLY and
 * NSBOX_MOUNT_NO_EXEC. -EINVAL for a combination the daemon would refuse. */
#define NSBOX_OVERLAY_TMP_UPPER (1U << 8)
int nsbox_spawn_add_overlay(NsboxSpawn *s, const char *const *lower, const char *upper, const char *work,
                            const char *destination, unsigned flags);

/* Offsets of a new time namespace's clocks; clock is CLOCK_MONOTONIC or CLOCK_BOOTTIME (-EINVAL
 * otherwise), nanosecs < 1000000000. */
int nsbox_spawn_set_time_offset(NsboxSpawn *s, clockid_t clock, int64_t secs, uint32_t nanosecs);

/* Whether a minimal init runs as PID 1 of a new PID namespace and reaps (default: on iff a PID
 * namespace is created). */
int nsbox_spawn_set_init(NsboxSpawn *s, bool init);
/* Adds a file (an absolute path inside the sandbox, at most 16) the init opens as the sandbox's user and
 * holds a read lock on (fcntl F_RDLCK) for as long as it lives (bubblewrap's --lock-file). Needs an init:
 * a PID namespace, or nsbox_spawn_set_init(s, true). -EINVAL for a relative path, -E2BIG past 16. */
int nsbox_spawn_add_lock_file(NsboxSpawn *s, const char *path);
/* The sandbox waits until fd (duplicated; -1 unsets) reads, once it is set up and before the command runs
 * (bubblewrap's --block-fd); the wait counts against the daemon's spawn timeout, and the spawn's reply comes
 * after it. */
int nsbox_spawn_set_block_fd(NsboxSpawn *s, int fd);
/* The user namespace fd (a /proc/PID/ns/user fd, duplicated; -1 unsets) the sandbox's process enters once the
 * sandbox is set up in its own (the one joined with nsbox_spawn_join_namespace(s, "user", ...), else the
 * daemon's), before it takes its user and groups and the command runs (bubblewrap's --userns2): the user,
 * groups and capabilities then count there. It must be a descendant of the sandbox's user namespace, which
 * a new one cannot have (the daemon answers InvalidParameter "commandUserNamespaceFileDescriptor"), and one
 * the caller could enter itself (PermissionDenied). 0, -EINVAL without s, -EBADF for a closed fd. */
int nsbox_spawn_set_command_user_namespace(NsboxSpawn *s, int fd);
/* Whether the command runs in a new session (setsid; default on). With a tty as stdin the daemon
 * makes it the controlling terminal. false shares the daemon's session for root only; for anyone else the
 * command gets a new session whose controlling terminal must be the tty passed as stdin, stdout or
 * stderr (one that controls no other session, such as a new pseudo-terminal). */
int nsbox_spawn_set_new_session(NsboxSpawn *s, bool new_session);
/* Whether the sandbox survives the connection that spawned it closing (default off). */
int nsbox_spawn_set_keep_alive(NsboxSpawn *s, bool keep_alive);

/*
 * System call filter. profile_json is "default" (the daemon's built-in profile, also what a spawn
 * gets without this call), "unconfined" (no profile: the policy decides whether the caller may), or
 * the text of an OCI LinuxSeccomp object ({"defaultAction": ..., "syscalls": [...]}), checked here
 * for its shape (-EINVAL) and by the daemon for system call and architecture names.
 */
int nsbox_spawn_set_seccomp(NsboxSpawn *s, const char *profile_json);
/* Adds a classic-BPF program read from fd (a copy is taken) in the sandbox, as bubblewrap's
 * --add-seccomp-fd: loaded after the profile, in the order added. At most 16; -E2BIG beyond. */
int nsbox_spawn_add_seccomp_fd(NsboxSpawn *s, int fd);

/* Capability sets, as the OCI "capabilities" object; flags for nsbox_spawn_set_capabilities(). */
#define NSBOX_CAPABILITIES_BOUNDING (1U << 0)
#define NSBOX_CAPABILITIES_EFFECTIVE (1U << 1)
#define NSBOX_CAPABILITIES_INHERITABLE (1U << 2)
#define NSBOX_CAPABILITIES_PERMITTED (1U << 3)
#define NSBOX_CAPABILITIES_AMBIENT (1U << 4)
#define NSBOX_CAPABILITIES_ALL 0x1fU

/* Sets each set in sets to the NULL-terminated names ("CAP_NET_ADMIN", as capabilities(7)); the
 * sets not named keep what an earlier call gave them, or are empty. Without any call the daemon's
 * default applies (nsboxd(8)). The daemon checks the names. */
int nsbox_spawn_set_capabilities(NsboxSpawn *s, unsigned sets, const char *const *names);

/* As bubblewrap's --disable-userns: the sandbox cannot create further user namespaces. Needs a new
 * user namespace. */
int nsbox_spawn_set_disable_user_namespaces(NsboxSpawn *s, bool disable);

/* The cgroup limits of the protocol's "resources" (OCI's names), for nsbox_spawn_set_resource() and
 * nsbox_sandbox_info_get_resource(). */
typedef enum NsboxResource {
        NSBOX_RESOURCE_MEMORY_LIMIT, /* memory.limit: bytes */
        NSBOX_RESOURCE_MEMORY_SWAP,  /* memory.swap: bytes of memory and swap together (needs MEMORY_LIMIT) */
        NSBOX_RESOURCE_MEMORY_HIGH,  /* memory.high: bytes above which it is throttled */
        NSBOX_RESOURCE_PIDS_LIMIT,   /* pids.limit: processes and threads */
        NSBOX_RESOURCE_CPU_SHARES,   /* cpu.shares: 2 .. 262144 */
        NSBOX_RESOURCE_CPU_WEIGHT,   /* cpu.weight: 1 .. 10000 */
        NSBOX_RESOURCE_CPU_QUOTA,    /* cpu.quota: CPU µs per period */
        NSBOX_RESOURCE_CPU_PERIOD,   /* cpu.period: µs */
        _NSBOX_RESOURCE_MAX,
} NsboxResource;

/* Sets one limit; 0 takes it away (no limit, or the policy's default). -EINVAL for an unknown r, -ERANGE
 * for a value outside the protocol's range (bytes: 1 .. INT64_MAX; pids.limit: 1 .. 4194304; cpu.quota:
 * 1000 .. 4096000000 µs; cpu.period: 1000 .. 1000000 µs; and as above). The daemon checks the values
 * against the policy (InvalidParameter naming "resources.memory.limit" etc.) and whether the host can
 * enforce them (NSBOX_ERROR_LIMIT_NOT_SUPPORTED). */
int nsbox_spawn_set_resource(NsboxSpawn *s, NsboxResource r, uint64_t value);
uint64_t nsbox_spawn_get_resource(NsboxSpawn *s, NsboxResource r);

/* A resource limit (RLIMIT_NOFILE, ...) of the sandbox's processes; RLIM_INFINITY for none. -EINVAL if
 * soft > hard or resource is unknown. Setting one twice replaces it. */
int nsbox_spawn_set_rlimit(NsboxSpawn *s, int resource, uint64_t soft, uint64_t hard);

/* Wall-clock µs after which every process of the sandbox is killed and it ends NSBOX_STATE_TIMED_OUT;
 * 0 for none. */
int nsbox_spawn_set_runtime_max(NsboxSpawn *s, uint64_t usec);
uint64_t nsbox_spawn_get_runtime_max(NsboxSpawn *s);

/*
 * One property as systemd-run -p takes it, "NAME=VALUE", in systemd's units: MemoryMax=, MemoryHigh=,
 * MemorySwapMax= (swap besides memory; needs MemoryMax=, as OCI counts the two together), TasksMax=,
 * CPUQuota= (a percentage of one CPU, at least 0.1%), CPUQuotaPeriodSec= (a period whose quota would be
 * under the kernel's least, 1 ms, is lengthened to fit it when sent, as systemd does), CPUWeight=, CPUShares=,
 * RuntimeMaxSec=,
 * and the Limit*= rlimits of systemd.exec(5) (LimitNOFILE=SOFT:HARD or one value for both). Sizes take
 * K, M, G, T (1024-based) or a percentage of the RAM (MemoryMax=50%); times a timespan ("90", "1min 30s",
 * "500ms"); "infinity" (and an empty value) removes the limit. -ENOENT for a name that is not one of
 * these, -EINVAL for a value that does not parse, -ERANGE for one out of the limit's range.
 */
int nsbox_spawn_set_property(NsboxSpawn *s, const char *assignment);

/* ------------------------------------------------------------------------
 * Sandboxes
 * ------------------------------------------------------------------------ */

/*
 * Spawns a sandbox, blocking until the command was executed (or failed).
 * On failure with SpawnFailed, nsbox_connection_get_error_stage() and
 * _errno() say what failed (e.g. "execve" and ENOENT for a missing program).
 * -EBUSY if another call is pending on the connection.
 */
int nsbox_spawn(NsboxConnection *c, NsboxSpawn *s, NsboxSandbox **ret);

/* Non-blocking: queues the Spawn call (and its fds) and writes what the socket takes. */
int nsbox_spawn_send(NsboxConnection *c, NsboxSpawn *s);
/* After nsbox_connection_process() returned 0: the result of the Spawn call. -EINPROGRESS if the
 * reply is not complete, -EBUSY if the pending call is not a Spawn, -ENOMSG if none is pending. */
int nsbox_spawn_finish(NsboxConnection *c, NsboxSandbox **ret);

NsboxSandbox *nsbox_sandbox_free(NsboxSandbox *sb); /* closes the pidfd unless taken */
const char *nsbox_sandbox_get_id(NsboxSandbox *sb);
pid_t nsbox_sandbox_get_pid(NsboxSandbox *sb);
/* The sandbox's pidfd (poll it: readable once the process exited; pidfd_send_signal(2) it). Owned by
 * the handle; -EBADF if taken. */
int nsbox_sandbox_get_pidfd(NsboxSandbox *sb);
/* Hands the pidfd to the caller, who closes it; -EBADF if already taken. */
int nsbox_sandbox_take_pidfd(NsboxSandbox *sb);
/* The inode number of the namespace of type flag (one NSBOX_NAMESPACE_*) the sandbox's process is in, as
 * stat(2) of /proc/PID/ns/NAME gives it (bubblewrap's --info-fd "mnt-namespace" etc.): created, joined
 * or the host's. 0 if flag is not exactly one namespace or the daemon did not say. */
uint64_t nsbox_sandbox_get_namespace_inode(NsboxSandbox *sb, unsigned flag);

/*
 * Runs another command in the running sandbox id (its id, or the name of
 * one of the caller's own sandboxes), as docker exec does: in every
 * namespace the sandbox has, its cgroup, as its user, with its working
 * directory, capability sets and seccomp profile. s describes only the
 * process: argv, environment, cwd, user, stdio, extra fds, seccomp fds,
 * session and keep-alive; any other setting is -EINVAL (the sandbox's own
 * apply). The handle's id is the process's own: nsbox_wait() and
 * nsbox_kill() take it. -ESRCH if there is no such running sandbox (or it
 * is not the caller's).
 */
int nsbox_exec(NsboxConnection *c, const char *id, NsboxSpawn *s, NsboxSandbox **ret);
int nsbox_exec_send(NsboxConnection *c, const char *id, NsboxSpawn *s);
int nsbox_exec_finish(NsboxConnection *c, NsboxSandbox **ret);

/*
 * Waits until the sandbox id has exited and returns how: *ret_state is
 * NSBOX_STATE_EXITED (with *ret_exit_code) or NSBOX_STATE_KILLED (with
 * *ret_signal). Any ret_ may be NULL; the ones not meaningful are set to -1.
 * -ESRCH if there is no such sandbox (or it is not the caller's).
 */
int nsbox_wait(NsboxConnection *c, const char *id, NsboxState *ret_state, int *ret_exit_code, int *ret_signal);
int nsbox_wait_send(NsboxConnection *c, const char *id);
int nsbox_wait_finish(NsboxConnection *c, NsboxState *ret_state, int *ret_exit_code, int *ret_signal);
/* The same, as a description that also says what the sandbox used (nsbox_sandbox_info_get_usage());
 * its id, name and the like are not set. */
int nsbox_wait_finish_info(NsboxConnection *c, NsboxSandboxInfo **ret);

/*
 * Captured output for nsbox_wait_output(): stream is 1 (stdout) or 2 (stderr), data size bytes (not
 * NUL-terminated, valid during the call only) in the order the command wrote them. It comes as JSON
 * text, so bytes that were not UTF-8, and NULs, arrive as U+FFFD (3 bytes each). A negative return
 * ends the Wait with that error; the connection is unusable afterwards (replies would still come).
 */
typedef int (*NsboxOutputFunc)(int stream, const void *data, size_t size, void *userdata);

/*
 * Waits until the sandbox id ended, as nsbox_wait_finish_info() does, and hands its captured output
 * (nsbox_spawn_set_capture_output()) to output(stream, data, size, userdata) as the command writes
 * it: a Wait with "more". output may be NULL (the output is dropped). The daemon sends more only
 * once this connection read what came before, so a slow caller makes the command's writes wait,
 * nothing else. On success *ret describes the end, and nsbox_sandbox_info_get_output_truncated()
 * says whether output was dropped. -ESRCH if there is no such sandbox (or not the caller's).
 *
 * Without blocking: nsbox_wait_output_send(), then each time nsbox_connection_process() returns 0,
 * nsbox_wait_output_finish(), which takes one reply: 1 if the Wait goes on (process again), 0 with
 * *ret set once the sandbox ended, or a negative errno.
 */
int nsbox_wait_output(NsboxConnection *c, const char *id, NsboxOutputFunc output, void *userdata,
                      NsboxSandboxInfo **ret);
int nsbox_wait_output_send(NsboxConnection *c, const char *id);
int nsbox_wait_output_finish(NsboxConnection *c, NsboxOutputFunc output, void *userdata, NsboxSandboxInfo **ret);

/* Sends signal (1..64; 0 means SIGTERM) to the sandbox id. */
int nsbox_kill(NsboxConnection *c, const char *id, int signal);
int nsbox_kill_send(NsboxConnection *c, const char *id, int signal);
int nsbox_kill_finish(NsboxConnection *c);
/* The same to every process in the sandbox's cgroup, including ones that left its process tree;
 * finished with nsbox_kill_finish(). */
int nsbox_kill_all(NsboxConnection *c, const char *id, int signal);
int nsbox_kill_all_send(NsboxConnection *c, const char *id, int signal);

/* Freezes every process of the sandbox until nsbox_resume(); one that already ended is not an error. */
int nsbox_pause(NsboxConnection *c, const char *id);
int nsbox_pause_send(NsboxConnection *c, const char *id);
int nsbox_pause_finish(NsboxConnection *c);
int nsbox_resume(NsboxConnection *c, const char *id);
int nsbox_resume_send(NsboxConnection *c, const char *id);
int nsbox_resume_finish(NsboxConnection *c);

/* The sandboxes the caller may see (root sees all): a NULL-terminated array; *ret_n (may be NULL) gets
 * the count. Free with nsbox_sandbox_info_list_free(). The daemon sends a long List in pieces (a List
 * with "more"); nsbox_connection_process() gathers them and returns 0 once the last is in, so the
 * calls are used as for any other. */
int nsbox_list(NsboxConnection *c, NsboxSandboxInfo ***ret, size_t *ret_n);
int nsbox_list_send(NsboxConnection *c);
int nsbox_list_finish(NsboxConnection *c, NsboxSandboxInfo ***ret, size_t *ret_n);
NsboxSandboxInfo **nsbox_sandbox_info_list_free(NsboxSandboxInfo **list);

/* One sandbox by id; -ESRCH if there is no such sandbox (or it is not the caller's). */
int nsbox_inspect(NsboxConnection *c, const char *id, NsboxSandboxInfo **ret);
int nsbox_inspect_send(NsboxConnection *c, const char *id);
int nsbox_inspect_finish(NsboxConnection *c, NsboxSandboxInfo **ret);

NsboxSandboxInfo *nsbox_sandbox_info_free(NsboxSandboxInfo *info);
const char *nsbox_sandbox_info_get_id(NsboxSandboxInfo *info);
const char *nsbox_sandbox_info_get_name(NsboxSandboxInfo *info); /* NULL if none */
pid_t nsbox_sandbox_info_get_pid(NsboxSandboxInfo *info);
uid_t nsbox_sandbox_info_get_owner_uid(NsboxSandboxInfo *info);
unsigned nsbox_sandbox_info_get_namespaces(NsboxSandboxInfo *info); /* NSBOX_NAMESPACE_*: those created for it */
/* The namespaces it runs in without having created them (NSBOX_NAMESPACE_*): those its spawn joined
 * (nsbox_spawn_join_namespace(), nsbox_spawn_set_command_user_namespace()), and for a process nsbox_exec()
 * started, every one of its sandbox's. Never one nsbox_sandbox_info_get_namespaces() has; 0 if it joined
 * none (and from a daemon that does not say). */
unsigned nsbox_sandbox_info_get_joined_namespaces(NsboxSandboxInfo *info);
NsboxState nsbox_sandbox_info_get_state(NsboxSandboxInfo *info);
uint64_t nsbox_sandbox_info_get_start_usec(NsboxSandboxInfo *info); /* CLOCK_REALTIME, µs */
int nsbox_sandbox_info_get_exit_code(NsboxSandboxInfo *info);        /* -1 unless exited */
int nsbox_sandbox_info_get_signal(NsboxSandboxInfo *info);           /* -1 unless killed */
bool nsbox_sandbox_info_get_keep_alive(NsboxSandboxInfo *info);
/* Its cgroup, as /proc/PID/cgroup shows it; NULL without one. */
const char *nsbox_sandbox_info_get_cgroup(NsboxSandboxInfo *info);
/* For a process nsbox_exec() started, and for a sandbox a Spawn from inside another made (nested in it): the
 * id of the sandbox it runs in; NULL for a sandbox made from the host. */
const char *nsbox_sandbox_info_get_sandbox(NsboxSandboxInfo *info);
/* Whether it is such a nested sandbox, rather than a process nsbox_exec() started; false without a sandbox
 * (and from a daemon that does not say). */
bool nsbox_sandbox_info_get_nested(NsboxSandboxInfo *info);
/* The limits in force (the request's, or the policy's defaults); 0 where none. */
uint64_t nsbox_sandbox_info_get_resource(NsboxSandboxInfo *info, NsboxResource r);
uint64_t nsbox_sandbox_info_get_runtime_max_usec(NsboxSandboxInfo *info); /* 0: none */
/* The rlimit the request set for resource (RLIMIT_NOFILE, ...); -ENODATA if it set none. */
int nsbox_sandbox_info_get_rlimit(NsboxSandboxInfo *info, int resource, uint64_t *ret_soft, uint64_t *ret_hard);
bool nsbox_sandbox_info_get_paused(NsboxSandboxInfo *info);

/* What a sandbox used (Inspect: so far; Wait: in all). */
typedef enum NsboxUsage {
        NSBOX_USAGE_CPU_USEC,       /* CPU time of all its processes, µs */
        NSBOX_USAGE_MEMORY_CURRENT, /* bytes now */
        NSBOX_USAGE_MEMORY_PEAK,    /* the most bytes it had */
        NSBOX_USAGE_TASKS,          /* processes and threads now */
        NSBOX_USAGE_TASKS_PEAK,     /* the most it had */
        NSBOX_USAGE_OOM_KILLS,      /* processes the OOM killer killed */
        _NSBOX_USAGE_MAX,
} NsboxUsage;
/* UINT64_MAX where the daemon could not tell (or said nothing). */
uint64_t nsbox_sandbox_info_get_usage(NsboxSandboxInfo *info, NsboxUsage what);
/* From nsbox_wait_output(): whether captured output was dropped (past captureBytes, or what the last
 * reply could not carry). false for any other description. */
bool nsbox_sandbox_info_get_output_truncated(NsboxSandboxInfo *info);
/* The daemon's description as JSON text, including fields this version does not know. */
const char *nsbox_sandbox_info_get_json(NsboxSandboxInfo *info);

/*
 * org.varlink.service.GetInfo: the daemon's vendor, product, version, url and
 * the interfaces it serves. Each ret_ may be NULL; strings are malloc'ed (free
 * them), ret_interfaces is a NULL-terminated array (free with nsbox_strv_free()).
 */
int nsbox_get_info(NsboxConnection *c, char **ret_vendor, char **ret_product, char **ret_version, char **ret_url,
                   char ***ret_interfaces);
int nsbox_get_info_send(NsboxConnection *c);
int nsbox_get_info_finish(NsboxConnection *c, char **ret_vendor, char **ret_product, char **ret_version,
                          char **ret_url, char ***ret_interfaces);

/*
 * Asks the daemon to re-read its policy and subordinate id files (root only: -EPERM otherwise) and
 * returns once they are in force. -EBADMSG (NSBOX_ERROR_POLICY_INVALID) if one does not load: the
 * error's "file", "line" (nsbox_connection_get_error_json()) and "reason" fields say why, and the
 * policy in force before stays.
 */
int nsbox_reload(NsboxConnection *c);
int nsbox_reload_send(NsboxConnection *c);
int nsbox_reload_finish(NsboxConnection *c);

/* The warm pool's counters (nsboxd(8), WARM POOL), in the order of the io.nsbox.Sandbox.WarmPool reply. */
typedef enum NsboxWarmPoolCounter {
        NSBOX_WARM_POOL_ENTRIES,       /* entries being made or parked now */
        NSBOX_WARM_POOL_PARKED,        /* entries parked, ready to be taken, now */
        NSBOX_WARM_POOL_HITS,          /* Spawns an entry served */
        NSBOX_WARM_POOL_MISSES,        /* Spawns of a shape the pool serves, with a budget, that found none */
        NSBOX_WARM_POOL_FILLS,         /* entries that parked */
        NSBOX_WARM_POOL_FILL_FAILURES, /* entries that could not be made or died before they parked */
        NSBOX_WARM_POOL_DISCARDED,     /* parked entries killed unused */
        NSBOX_WARM_POOL_FILL_CPU_USEC, /* the daemon's CPU time making the parked ones, µs, summed */
        NSBOX_WARM_POOL_FILL_USEC,     /* their time from start to parked, µs, summed */
        _NSBOX_WARM_POOL_COUNTER_MAX,
} NsboxWarmPoolCounter;

/*
 * io.nsbox.Sandbox.WarmPool: the warm pool's counters since the daemon started (root on the host only:
 * -EPERM otherwise). Fills ret[0] to ret[n - 1] in NsboxWarmPoolCounter order; a counter the daemon did
 * not send (an older daemon), or one past what this library knows, is UINT64_MAX. Fewer than
 * _NSBOX_WARM_POOL_COUNTER_MAX is fine: the rest are not asked for.
 */
int nsbox_warm_pool(NsboxConnection *c, uint64_t *ret, size_t n);
/* The counter's name in the WarmPool reply ("entries", "fillCpuUsec", ...); NULL for an unknown one. */
const char *nsbox_warm_pool_counter_to_string(NsboxWarmPoolCounter counter);
int nsbox_warm_pool_send(NsboxConnection *c);
int nsbox_warm_pool_finish(NsboxConnection *c, uint64_t *ret, size_t n);

/* Frees a NULL-terminated array of strings and the strings; accepts NULL; returns NULL. */
char **nsbox_strv_free(char **l);

#ifdef __cplusplus
}
#endif
