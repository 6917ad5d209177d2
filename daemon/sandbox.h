/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox table: every process nsboxd created, from clone3() until its
 * exit status has been delivered. While starting, each entry drives the spawn
 * handshake (the sync socket) and then watches the spawn report pipe (exec or
 * failure) on the loop; from the end of the handshake on, it watches its
 * pidfd (exit). Its cgroup's emptiness comes through the server's cgroup
 * event fd. A sandbox ends when its top process is reaped and its cgroup is
 * empty.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "caller-origin.h"
#include "capture.h"
#include "cgroup.h"
#include "handover.h"
#include "list.h"
#include "sandbox-exec.h"
#include "sandbox-protocol.h"
#include "server.h"
#include "spawn.h"


/*
 * What the sandbox table keeps for one connection (its Connection.userdata, made on first use): the
 * sandboxes it owns, for kill-on-close without a walk over the table; the sandbox its Wait call is
 * on (one call at a time per connection); the id its last Spawn made, which a Wait without id means.
 */
struct SandboxClient {
        Connection *connection;
        Sandbox *owned;
        Sandbox *waiting_for;
        LIST_FIELDS(SandboxClient, waiters); /* in waiting_for->waiters */
        /* A List with "more" being streamed (sandbox-list.h): the next entry to look at, NULL at the end. */
        bool listing;
        Sandbox *list_next;
        LIST_FIELDS(SandboxClient, listers); /* in the server's listers, while listing */
        /* A call from inside a sandbox whose own Spawn is not answered yet: it runs once that is. */
        Sandbox *held_for;
        LIST_FIELDS(SandboxClient, held); /* in the server's held, while held_for */
        char last_spawn_id[SANDBOX_ID_MAX + 1];
        /* A Pause answered once the sandbox's init left the daemon's memory (sandbox_pause_call()). */
        Sandbox *pausing;
        LIST_FIELDS(SandboxClient, pausers); /* in the server's pausers, while pausing */
};

/* One stream of captureOutput: the daemon's read end of the pipe (what was read is in Sandbox.captured). */
/* stdout and stderr */
#define SANDBOX_STREAMS 2

typedef struct SandboxCapture {
        int fd;          /* -EBADF once closed */
        uv_poll_t poll;
        bool open;       /* poll initialized and not closing */
        uv_timer_t rest; /* past the limit: the pause before the pipe is drained again */
        bool rest_open;  /* rest initialized and not closing */
        bool resting;    /* rest is running: the pipe is not watched */
} SandboxCapture;

/*
 * Where an entry is in the table's life. Its processes' life is apart
 * (reaped, ended): a child may die before its Spawn is answered, and a
 * sandbox may run on after nobody can ask for it any more.
 *
 *   SPAWNING --answered--> LIVE --its end read by a Wait, or its owner gone--> DETACHED
 *      |  \--failed--> FAILED
 *      \--its caller gone before the answer--> ABANDONED --concluded--> DETACHED or FAILED
 *
 * FAILED and DETACHED entries are dropped once ended (FREEING while they go).
 */
typedef enum SandboxPhase {
        SANDBOX_PHASE_SPAWNING,  /* cloned; its Spawn is not answered yet */
        SANDBOX_PHASE_ABANDONED, /* still spawning, but the caller of its Spawn went away: killed, hidden */
        SANDBOX_PHASE_LIVE,      /* answered with its id: its owner (and root) can Wait, Kill, Inspect, List */
        SANDBOX_PHASE_FAILED,    /* its spawn failed (and was answered so): hidden */
        SANDBOX_PHASE_DETACHED,  /* nobody can ask for it any more: hidden */
        SANDBOX_PHASE_FREEING,   /* leaving the table */
} SandboxPhase;

struct Sandbox {
        Server *server;
        LIST_FIELDS(Sandbox, sandboxes);
        HashNode id_node;             /* in Server.sandbox_ids */
        bool id_node_added;
        HashNode name_node;           /* in Server.sandbox_names, when it has a name */
        bool name_node_added;
        /* Made at a request from inside a sandbox (exec_of_id): its name is one of that sandbox's names
         * (see sandbox_name_scope()), which neither the host nor another sandbox sees or takes. */
        bool made_inside;
        SandboxOrigin origin;         /* its cgroup and namespaces in Server.origins, until it ends */
        UserUsage *usage;             /* its owner's counts */
        LIST_FIELDS(Sandbox, owned);  /* in owner->owned */
        LIST_FIELDS(Sandbox, pending); /* in the server's pending spawns, while in flight */

        char id[SANDBOX_ID_LEN + 1];
        char *name;
        Caller creator; /* who asked for it: the identity only */
        unsigned namespaces;
        /* The types it is in without having made them (sandbox_joined_namespaces()): a process Exec started
         * is in all of its sandbox's. Kept apart from the exec base, which an Exec's process has none of. */
        unsigned joined_namespaces;
        bool keep_alive;
        uint64_t start_usec;
        uint64_t start_loop_msec; /* uv_now() at clone, for the spawn timeout */

        /* What serves only while it spawns, or only with captureOutput, is allocated apart (and freed once
         * done): a live sandbox costs the daemon the rest. */
        pid_t pid;
        int pidfd;
        uv_poll_t pidfd_poll;
        int report_fd;
        /* With init, from the release until the spawn is answered: closed then, which lets init leave the
         * daemon's memory (spawn_handshake_take_answer_fd()). */
        int answer_fd;
        /* From the answer until that init left the daemon's memory (sandbox-init-watch.h). */
        SandboxInitWatch *init_watch;
        uv_poll_t *report_poll;    /* until the spawn is reported; NULL once closed, and for one taken over */
        SpawnHandshake *handshake; /* until the child is released (or the spawn failed) */
        uv_poll_t *sync_poll;      /* the handshake's fd, while it waits for the child's "ready" */
        bool sync_poll_open;
        unsigned handles_open; /* uv handles not yet closed; freed at 0 */

        /* captureOutput: stdout and stderr, read on the loop as they come, kept up to captureBytes in all;
         * what comes past it is read and dropped. The pipes are not read while a Wait with "more" has
         * replies its client did not read, so such a client makes the sandbox block on its own writes
         * instead of the daemon buffer for it. */
        bool capturing;
        SandboxCapture *capture; /* [SANDBOX_STREAMS] while capturing, else NULL */
        CaptureBuffer captured;  /* the output's whole state (capture.h) */

        SandboxPhase phase;
        bool reached_exec;    /* the report carries the mark the child writes right before execve() */
        uint64_t namespace_inodes[_NAMESPACE_TYPE_MAX]; /* what the mark says: for the Spawn reply */
        /* The pid namespace below the top process (SandboxOrigin.pid_namespace_below), once its command
         * runs: its pid 1 is killed when the top process ends, as pid 1's own death signal is its to clear. */
        int pid_namespace_below_fd;
        bool died_before_exec; /* the report ended without that mark: the answer waits for the exit status */
        SandboxState state;
        int exit_code;
        int signal;
        bool reaped;         /* the top process is gone */
        bool ended;          /* reaped and its cgroup empty: the state is final */
        bool left_running;   /* shutdown without kill: its processes and cgroup stay */

        /* Containment. */
        Cgroup *cgroup;             /* NULL without cgroups, and once removed; a nested sandbox's own is below
                                     * its sandbox's */
        bool cgroup_below_pending;  /* taken over: that one is opened once its sandbox's is back */
        char *cgroup_path;          /* as SandboxInfo reports it, once cgroup is gone (or taken over); until then NULL */
        SandboxResources resources; /* the limits in force, as reported */
        SandboxRlimit *rlimits;
        size_t n_rlimits;
        uint64_t runtime_max_usec;
        uv_timer_t *runtime_timer;  /* allocated and initialized iff runtime_max_usec > 0 */
        bool timed_out;             /* killed at runtime_max_usec */
        bool paused;
        bool has_used;              /* used: what it used, read when it ended */
        bool met_memory_limit;      /* its own cgroup's memory limit was met, as read when it ended */
        SandboxUsage used;

        /* What an Exec into it starts from (empty for a process Exec started). */
        SandboxExecBase exec_base;
        /* A process Exec started: the sandbox it runs in (NULL once that entry is gone) and its id. */
        Sandbox *exec_of;
        char exec_of_id[SANDBOX_ID_LEN + 1];
        LIST_FIELDS(Sandbox, execs);  /* in exec_of->execs */
        Sandbox *execs;               /* the processes Exec started in it: they die with it */

        /* Taken over from a previous daemon: NULL if this daemon reaps it (its own child, also across a
         * re-exec), else the keeper that does and reports the exit status. */
        KeeperLink *reaper;
        bool adopted;

        SandboxClient *owner;        /* the creating connection while it lives, for kill-on-close (in its owned list) */
        SandboxClient *spawn_client; /* waiting for the Spawn reply */
        SandboxClient *waiters;      /* connections in Wait */
};

/*
 * A nested sandbox (a Spawn from inside another, sandbox-nested.h) is one of
 * its sandbox's processes (exec_of) with an exec base of its own; a process
 * Exec started has none. Requests from inside a nested sandbox nest below it
 * in turn, so the entries form a tree under each sandbox made from the host.
 */
static inline bool sandbox_is_nested(const Sandbox *sb) {
        return sb->exec_of_id[0] && sb->exec_base.kept;
}

/* Whether sb is top or nested below it, at any depth. */
static inline bool sandbox_within(const Sandbox *sb, const Sandbox *top) {
        for (; sb; sb = sb->exec_of)
                if (sb == top)
                        return true;
        return false;
}

/* The cgroup sb's processes run in: its own, else the nearest one of the sandboxes it is nested in (NULL:
 * none, or the chain is broken by an entry that went away). */
static inline Cgroup *sandbox_cgroup_of(const Sandbox *sb) {
        for (; sb; sb = sb->exec_of)
                if (sb->cgroup)
                        return sb->cgroup;
        return NULL;
}

/* The entry after sb in a walk of top's tree (top first, then what is nested in it, depth first); NULL at
 * the end. Start with sb = top. */
static inline Sandbox *sandbox_tree_next(const Sandbox *top, const Sandbox *sb) {
        if (sb->execs)
                return sb->execs;
        for (; sb && sb != top; sb = sb->exec_of)
                if (sb->execs_next)
                        return sb->execs_next;
        return NULL;
}

/* A new sandbox id: 128 random bits in hex. Also names its cgroup, so it is made before the spawn. */
int sandbox_make_id(char ret[static SANDBOX_ID_LEN + 1]);

/* What a sandbox is contained by, made before the spawn. */
typedef struct SandboxContainment {
        const char *id;             /* from sandbox_make_id() */
        Cgroup *cgroup;             /* taken; may be NULL */
        SandboxResources resources; /* as SandboxInfo reports them */
        uint64_t runtime_max_usec;  /* 0: none */
        SandboxExecBase *exec_base; /* taken (left empty): what an Exec into it starts from; NULL for an Exec's */
        Sandbox *exec_of;           /* an Exec's process: the sandbox it runs in */
} SandboxContainment;

/* Adopts a started child, drives its handshake and watches it. Takes the handle's fds, groups and handshake and
 * the cgroup in every case: on failure the child is killed and reaped off the loop. */
int sandbox_new(Server *s, SandboxClient *owner, const SpawnRequest *req, const SandboxContainment *containment,
                const SpawnHandle *handle, Sandbox **ret);

/* The connection's client record, made on first use; NULL when out of memory. */
SandboxClient *sandbox_client_of(Connection *c);

/* Cloned and not yet concluded: counts against the pending spawns, and the spawn timeout applies. */
static inline bool sandbox_spawn_in_flight(const Sandbox *sb) {
        return sb->phase == SANDBOX_PHASE_SPAWNING || sb->phase == SANDBOX_PHASE_ABANDONED;
}

/* Whether a caller with uid may see sb (find it, list it): its own, or any for root, while its phase shows it. */
bool sandbox_is_visible(const Sandbox *sb, uid_t uid);

/*
 * Whether caller may see sb (find it, list it, act on it): as for its uid,
 * and from inside a sandbox S (its origin, caller-origin.h) only S and the
 * sandboxes nested in it, so asking about a sibling or the sandbox S is
 * nested in gains S nothing; from an origin nobody could tell, none.
 */
bool sandbox_is_visible_to(Server *s, const Sandbox *sb, const Caller *caller);

/*
 * The names a caller takes: NULL for one on the host; from inside a sandbox,
 * the id of that sandbox (the innermost one it is in), whose names they are:
 * what its untrusted processes name must never shadow or block the owner's
 * names on the host, nor a sibling's (or tell it they exist); "" (no
 * entry's) where its origin is not known.
 */
const char *sandbox_name_scope(Server *s, const Caller *caller);

/* The sandbox with this id if uid may see it, else NULL. */
Sandbox *sandbox_find(Server *s, const char *id, uid_t uid);
/* The sandbox of owner with this name in scope (sandbox_name_scope()) while it shows (names are unique per owner
 * and scope among those), else NULL. */
Sandbox *sandbox_find_named(Server *s, const char *name, uid_t owner, const char *scope);
/*
 * What a call's "id" names for uid: the sandbox with that id it may see, else
 * its own of that name in scope; failing that, from inside sandbox S, one a
 * process of S or of a sandbox within S gave that name and S may see (S
 * itself, named from the sandbox it is nested in, included), then the one the
 * host gave it; from the host, one a sandbox's process gave it (the host's own
 * names come first, and are never taken from inside). Whether the caller may
 * see a host-given one is the caller's to check.
 */
Sandbox *sandbox_lookup(Server *s, const char *handle, uid_t uid, const char *scope);

/* Borrows strings and arrays from sb. with_usage: what it used so far (reads its cgroup) or in all. */
void sandbox_fill_info(const Sandbox *sb, bool with_usage, SandboxInfo *ret);

/* Signals the top process; -ESRCH once it is gone. */
int sandbox_kill(Sandbox *sb, int sig);

/* Signals every process in the sandbox's cgroup (the top process only, without one); -ESRCH once it ended.
 * Returns how many were signalled. */
int sandbox_kill_all(Sandbox *sb, int sig);

/* cgroup.freeze; -ENOMEDIUM without a cgroup, -ESRCH once it ended. */
int sandbox_pause(Sandbox *sb, bool pause);

/*
 * A Pause or Resume call on c: freezes or thaws, writes the audit record and answers. A process of the
 * sandbox may be on the daemon's memory, before its exec: a root caller's init just after its Spawn was
 * answered (until it execs nsbox-init, a millisecond or so), the child of a spawn into the sandbox still in
 * flight (its own, an Exec's, a nested sandbox's). Frozen there, it would hold its spawn worker until the
 * watchdog or the spawn's timeout killed it. Such a Pause is answered once none can be (looked at after 1 ms,
 * then less often up to every 32 ms) and the cgroup is frozen; a Resume meanwhile thaws what is frozen and
 * leaves the Pause to freeze it after all.
 */
void sandbox_pause_call(Sandbox *sb, Connection *c, bool pause);

/* A change in the sandbox's cgroup.events (from the server's cgroup event fd). */
void sandbox_cgroup_event(Sandbox *sb, bool populated, bool frozen);

/* A Wait call: answered now if exited, else when it exits (with a "continues" state first if 'more',
 * and one more for each piece of captured output). */
void sandbox_add_waiter(Sandbox *sb, Connection *c, bool more);

/*
 * Holds the connection's current call until sb, the sandbox the caller runs in, has its Spawn answered:
 * its command can call before the daemon read its start report (nothing orders the two), and until then
 * nothing may be made in it nor shown of it. The call is dispatched again then, whatever the outcome (a
 * failed sandbox refuses it as usual). The spawn timeout bounds the wait. Returns 0 or -ENOMEM.
 */
int sandbox_hold_call_until_started(Sandbox *sb, Connection *c);

/* The connection's client read its replies: a Wait with "more" on it may stream again. */
void sandbox_connection_drained(Connection *c);

/* The connection is going away: forget it everywhere (its Wait too), kill what it owned unless keepAlive,
 * free its client record. */
void sandbox_connection_closed(Server *s, Connection *c);

/* The spawn timer's tick: kills spawns that have not reached execve within the limit. */
void sandbox_expire_spawns(Server *s);

/* What comes with a handed-over sandbox besides its state. */
typedef struct SandboxTakeover {
        int pidfd;             /* -EBADF once its top process is reaped */
        int capture_fds[2];    /* the captured output pipes still open, else -EBADF */
        char *capture_data[2]; /* what no reply carried yet */
        size_t capture_sizes[2];
        KeeperLink *reaper;    /* who reaps it; NULL: this daemon (its own child, across a re-exec) */
        SeccompProgram *seccomp; /* a reference to the filter of its exec base, or NULL */
} SandboxTakeover;

/* Takes over a sandbox a previous daemon handed over (h, checked): its cgroup, if it is still there, is
 * opened again. Takes t's fds, buffers and reference, and h's exec base, in every case. -EEXIST: its id, or
 * its name among its owner's, is another entry's. */
int sandbox_adopt(Server *s, HandoverSandbox *h, SandboxTakeover *t);

/* Once every handed-over entry is back: links each Exec's process to the sandbox it runs in. */
void sandbox_adopt_link_execs(Server *s);

/* Keeper k reaped pid: the exit status of the sandbox it held. */
void sandbox_keeper_exit(Server *s, KeeperLink *k, pid_t pid, int code, int status);
/* Keeper k's link is gone: nothing more will come from it (died: its sandboxes' statuses are lost, unless
 * the daemon is stopping, which only forgets). */
void sandbox_keeper_gone(Server *s, KeeperLink *k, bool stopping);
/* Whether k is still to report the end of any sandbox. */
bool sandbox_keeper_in_use(Server *s, KeeperLink *k);

/* Shutdown: kill (if asked, and every spawn in flight), reap what dies within a bounded wait, then drop
 * every entry. A child stuck in the kernel beyond that is left to the daemon's exit. */
void sandbox_drop_all(Server *s, bool kill);
