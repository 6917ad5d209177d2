/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's state: the listening socket, the connections, the sandbox
 * table, and the configuration they are checked against. One libuv loop in
 * one thread owns all of it; nothing here is locked. The only other threads
 * are the closer's workers (async-close.c), which touch nothing but their
 * own queue.
 */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "async-close.h"
#include "caller-origin.h"
#include "cgroup.h"
#include "hash-table.h"
#include "list.h"
#include "policy.h"

typedef struct Connection Connection;
typedef struct ConnectionService ConnectionService;
typedef struct KeeperLink KeeperLink;
typedef struct Sandbox Sandbox;
typedef struct SandboxClient SandboxClient;
typedef struct SandboxInitWatch SandboxInitWatch;

/* One uid's share of the daemon, kept as it changes so the per-user limits need no walk over every sandbox.
 * Exists while the uid has any sandbox. */
typedef struct UserUsage {
        HashNode node; /* in Server.users, by uid */
        uid_t uid;
        unsigned n_sandboxes;      /* live ones and failed ones not yet reaped */
        unsigned n_pending_spawns; /* cloned, exec not yet reported */
        size_t capture_bytes;      /* captured output its sandboxes hold for replies (capture-bytes-per-user) */
        /* Who made its latest sandbox from the host: the identity its policy rule, and so its user limits, are
         * looked up with again at a Reload ([group:] sections go by the caller's groups). */
        bool has_caller;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
} UserUsage;

typedef struct ServerConfig {
        DaemonLimits limits;     /* in force: the policy file's [limits], then limit_overrides */
        char **limit_overrides;  /* "NAME=VALUE" from the command line, applied on every (re)load */
        const char *policy_path;
        const char *subuid_path;
        const char *subgid_path;
        bool fd_store;           /* keep keepAlive sandboxes across a restart by the service manager */
        char **exec_argv;        /* what a re-exec runs: the command line as given */
        const char *exec_path;   /* the binary a re-exec runs: the path this one was started from */
        const char *bound_path;  /* the socket path, when the daemon bound it itself */
        pid_t keeper_pids[2];    /* --fd-store: the supervisor and the keeper, which share the daemon's cgroup */
        size_t n_keeper_pids;
        bool reexecuted;         /* started by a re-exec of the daemon (--deserialize) */
        bool no_cgroups;         /* run without cgroups (--no-cgroups): no limits, no whole-sandbox kill */
} ServerConfig;

typedef struct Server {
        uv_loop_t *loop;
        ServerConfig config;

        int listen_fd;
        uv_poll_t listen_poll;
        uv_signal_t signals[4]; /* SIGTERM, SIGINT, SIGHUP, SIGUSR2 */
        uv_timer_t spawn_timer; /* runs while spawns are pending, to end the ones that never exec */
        uv_timer_t pause_timer; /* runs while a Pause waits for an init to leave the daemon's memory */
        SandboxClient *pausers; /* those Pauses (SandboxClient.pausing) */
        uv_timer_t init_watch_timer; /* runs while a root caller's init may be on the daemon's memory after the answer */
        SandboxInitWatch *init_watch_oldest, *init_watch_newest; /* those inits, by their next look */
        uv_check_t after_iteration; /* the watchdog learns of the spawns it made; queued closes get a worker */
        uv_timer_t closer_retry;    /* runs while closes are queued with no worker that could be started */
        uv_timer_t reexec_timer;    /* a re-exec's second step, once the connections it closed are gone */
        uv_timer_t helper_reaper;   /* every few seconds: close helpers nobody waits for (bounded-close.h) */

        Connection *connections;
        unsigned n_connections;
        const ConnectionService *service; /* what the connections serve (methods.c) */

        KeeperLink *keepers;    /* links to the keepers holding sandboxes of earlier daemons (restart.h) */
        KeeperLink *own_keeper; /* the one that is this daemon's parent (--fd-store) */

        Sandbox *sandboxes;
        unsigned n_sandboxes;      /* live (not yet freed) */
        unsigned n_sandboxes_freed; /* since the heap was last trimmed (sandbox.c) */
        unsigned n_pending_spawns; /* cloned, exec not yet reported */
        HashTable sandbox_ids;     /* every entry by id */
        HashTable sandbox_names;   /* named entries by owner and name */
        HashTable users;           /* UserUsage by uid */
        OriginIndex origins;       /* sandboxes by their cgroup and namespaces: where a caller runs */
        Sandbox *pending_oldest;   /* the pending spawns in the order they started: the first to time out */
        Sandbox *pending_newest;
        SandboxClient *listers;    /* connections streaming a List, each with its place in sandboxes */
        SandboxClient *held;       /* connections whose call waits for the Spawn of the sandbox it came from */

        CgroupManager *cgroups;     /* NULL when running without */
        char cgroups_missing[256];  /* why, for refusals */
        uv_poll_t cgroup_poll;      /* the cgroups' event fd */

        Policy *policy;
        SubidFile *subuid; /* re-read when the file changes: server_refresh_subids() */
        SubidFile *subgid;
        /* Started with a policy that did not load: only root is served (fail closed, stay
         * reachable) until a reload succeeds. The file that failed, for the callers' error. */
        const char *policy_invalid;

        char status[128]; /* the last STATUS= sent, so only changes are sent */

        AsyncCloser *closer; /* every fd a client sent is closed through it, never on the loop */
        struct WarmPool *warm_pool; /* NULL without memory for it */
        struct CgroupSpares *cgroup_spares; /* NULL without cgroups or memory for it */

        bool stopping;
        bool reexec_pending; /* restart_reexec() took its first step, the exec is next */
} Server;

/* Takes ownership of listen_fd (a listening unix stream socket). */
int server_new(uv_loop_t *loop, int listen_fd, const ServerConfig *config, Server **ret);
/* Stops accepting, closes every connection, kills and reaps sandboxes (per config), closes all handles. */
void server_shutdown(Server *s);
/* The listening socket's callback: accepts and admits new connections. */
void server_on_listen(uv_poll_t *handle, int status, int events);

/* Closes every connection; with restarting, a call in progress is first answered io.nsbox.Sandbox.Restarting. */
void server_close_connections(Server *s, bool restarting);

/* Frees what shutdown left; call after the loop ran to completion. */
Server *server_free(Server *s);

/* Why a reload failed: the file, and the line and reason when the file did not parse. */
typedef struct ReloadError {
        const char *file;
        unsigned line;     /* 1-based; 0: the file as a whole */
        char reason[256];
} ReloadError;

/* Re-reads the policy and subid files; keeps the old ones if any fails, logs why and fills
 * *ret_error (may be NULL). */
int server_reload(Server *s, ReloadError *ret_error);

/* Picks up a changed /etc/subuid or /etc/subgid (a stat() of each; read only when it changed). A file that
 * does not read keeps the ranges in force and is logged once per version. */
void server_refresh_subids(Server *s);

/* Reports the sandbox and connection counts to the service manager (STATUS=) when they changed. */
void server_notify_status(Server *s);

/* Open connections of uid (O(connections)). */
unsigned server_count_connections_of(const Server *s, uid_t uid);

/* Counts of one uid's sandboxes (live ones and failed ones not yet reaped) and spawns in flight. O(1). */
unsigned server_count_sandboxes_of(const Server *s, uid_t uid);
unsigned server_count_pending_spawns_of(const Server *s, uid_t uid);

/* uid's usage entry, made on first use (NULL when out of memory); and its release once it counts nothing. */
UserUsage *server_user_usage(Server *s, uid_t uid);
void server_user_usage_release(Server *s, UserUsage *u);

/* Whether one uid's connections together hold more buffered bytes, or the daemon more of its fds
 * (received and not yet handled, or handed to the closer and not yet closed), than it may. */
bool server_user_over_budget(const Server *s, uid_t uid);

/* Notes caller, who just made a sandbox of its uid from the host (u), for the Reload to look its rule up with.
 * Out of memory, the identity noted before stays. */
void server_user_note_caller(UserUsage *u, const Caller *caller);

/*
 * Closes a client's connection socket without blocking: shut down, and closed
 * right here if nothing is left in its receive queue (nothing can arrive after
 * the shutdown), else through the closer, since releasing queued messages
 * releases the fds they carry in the closing thread. Takes fd.
 */
void server_close_client_socket(Server *s, uid_t uid, int fd);
