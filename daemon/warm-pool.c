/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The warm pool (warm-pool.h says what it is and what it guarantees). Each
 * entry is a spawn child made by spawn_start() from a request that holds
 * only the shape, parked after its release on its sync socket, which the
 * loop watches: the word that it parked, then a hang-up if it dies. Entries
 * are made from a queue, on the loop's check phase once no spawn is in
 * flight (so a reply waiting for an exec is not held up) or from a timer
 * when spawns never stop; each is one spawn_start() and one cgroup_new(),
 * which wait for nobody. A discarded entry is killed and watched through
 * its pidfd until it can be reaped without waiting; only stop and re-exec
 * wait for entries, which are the daemon's own parked children.
 */

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "list.h"
#include "log.h"
#include "sandbox.h"
#include "server.h"
#include "time-util.h"
#include "warm-pool.h"

/* The queue of entries to make: each taken or missed Spawn adds one, the budget bounds it. */
#define QUEUE_MAX 64U

typedef struct Shape {
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        bool privileged;
        unsigned namespaces;
        IdMapping *uid_mappings;
        size_t n_uid_mappings;
        IdMapping *gid_mappings;
        size_t n_gid_mappings;
        int setgroups;
        CgroupFlags cgroup_flags;
        bool default_profile; /* the request's profile is the built-in default */
} Shape;

/* What an entry is made with besides its shape: the owner's limits and budget when it was asked for. */
typedef struct FillRequest {
        Shape shape;
        CgroupLimits user_limits;
        bool has_user_limits;
        unsigned budget;       /* the rule's warm-pool */
        unsigned max_sandboxes; /* the owner's sandbox quota */
        uint64_t queued_msec;
} FillRequest;

typedef enum EntryState {
        ENTRY_FILLING, /* cloned, not parked yet */
        ENTRY_PARKED,
        ENTRY_DYING,   /* killed, waiting to be reaped */
} EntryState;

struct WarmPoolEntry {
        WarmPool *pool;
        LIST_FIELDS(WarmPoolEntry, entries);
        Shape shape;
        char id[SANDBOX_ID_LEN + 1];
        Cgroup *cgroup;
        SpawnHandle handle;
        uv_poll_t *poll; /* the sync socket while filling or parked, the pidfd while dying */
        EntryState state;
        uint64_t started_usec;
        uint64_t fill_cpu_usec;
        uint64_t serial; /* when it parked: the oldest gives way */
        bool reaped;     /* dying: its process is gone, its cgroup not yet */
};

struct WarmPool {
        Server *server;
        WarmPoolEntry *entries; /* filling and parked */
        WarmPoolEntry *dying;
        unsigned n_entries;
        FillRequest queue[QUEUE_MAX];
        size_t n_queue;
        uv_check_t check;
        uv_timer_t timer; /* the fill delay, and filling entries' deadline */
        uint64_t serial;
        bool closed;
        WarmPoolStats stats;
};

/* ---- shapes ---- */

static void shape_done(Shape *s) {
        free(s->groups);
        free(s->uid_mappings);
        free(s->gid_mappings);
        *s = (Shape) {};
}

static void *memdup_n(const void *p, size_t n, size_t size) {
        void *d;

        if (n == 0)
                return NULL;
        d = calloc(n, size);
        if (d)
                memcpy(d, p, n * size);
        return d;
}

static int shape_copy(const Shape *from, Shape *ret) {
        Shape s = *from;

        s.groups = memdup_n(from->groups, from->n_groups, sizeof(gid_t));
        s.uid_mappings = memdup_n(from->uid_mappings, from->n_uid_mappings, sizeof(IdMapping));
        s.gid_mappings = memdup_n(from->gid_mappings, from->n_gid_mappings, sizeof(IdMapping));
        if ((from->n_groups > 0 && !s.groups) || (from->n_uid_mappings > 0 && !s.uid_mappings) ||
            (from->n_gid_mappings > 0 && !s.gid_mappings)) {
                shape_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* A view of the request's shape, borrowing its arrays. */
static Shape shape_of(const Caller *caller, const SpawnRequest *req, const SeccompProgram *seccomp,
                      CgroupFlags cgroup_flags) {
        return (Shape) {
                .uid = caller->uid,
                .gid = caller->gid,
                .groups = caller->groups,
                .n_groups = caller->n_groups,
                .privileged = caller->privileged,
                .namespaces = req->namespaces,
                .uid_mappings = req->uid_mappings,
                .n_uid_mappings = req->n_uid_mappings,
                .gid_mappings = req->gid_mappings,
                .n_gid_mappings = req->n_gid_mappings,
                .setgroups = req->setgroups,
                .cgroup_flags = cgroup_flags,
                .default_profile = seccomp_program_is_default(seccomp),
        };
}

static bool array_equal(const void *a, size_t na, const void *b, size_t nb, size_t size) {
        return na == nb && (na == 0 || memcmp(a, b, na * size) == 0);
}

static bool shape_equal(const Shape *a, const Shape *b) {
        return a->uid == b->uid && a->gid == b->gid && a->privileged == b->privileged &&
               a->namespaces == b->namespaces && a->setgroups == b->setgroups && a->cgroup_flags == b->cgroup_flags &&
               a->default_profile == b->default_profile &&
               array_equal(a->groups, a->n_groups, b->groups, b->n_groups, sizeof(gid_t)) &&
               array_equal(a->uid_mappings, a->n_uid_mappings, b->uid_mappings, b->n_uid_mappings, sizeof(IdMapping)) &&
               array_equal(a->gid_mappings, a->n_gid_mappings, b->gid_mappings, b->n_gid_mappings, sizeof(IdMapping));
}

bool warm_pool_serves(const SpawnRequest *req) {
        return req->n_join_namespaces == 0;
}

/* ---- entries ---- */

static void on_poll_closed(uv_handle_t *handle) {
        free(handle);
}

static void entry_close_poll(WarmPoolEntry *e) {
        if (!e->poll)
                return;
        uv_close((uv_handle_t *) e->poll, on_poll_closed);
        e->poll = NULL;
}

static int entry_watch(WarmPoolEntry *e, int fd, uv_poll_cb cb) {
        uv_poll_t *poll = calloc(1, sizeof *poll);
        int r;

        if (!poll)
                return -ENOMEM;
        r = uv_poll_init(e->pool->server->loop, poll, fd);
        if (r < 0) {
                free(poll);
                return r;
        }
        poll->data = e;
        r = uv_poll_start(poll, UV_READABLE | UV_DISCONNECT, cb);
        e->poll = poll;
        if (r < 0)
                entry_close_poll(e);
        return r;
}

/*
 * Its cgroup goes once its process is reaped; the kernel may still count the
 * process in it for a moment after that (as for a sandbox, whose end waits
 * for cgroup.events): false then, unless this is the last try, after which
 * it is killed and left for the next start to remove.
 */
static bool entry_remove_cgroup(WarmPoolEntry *e, bool last_try) {
        int r;

        if (!e->cgroup)
                return true;
        cgroup_release_after_spawn(e->cgroup);
        r = cgroup_remove(e->cgroup);
        if (r == -EBUSY && !last_try)
                return false;
        if (r < 0) {
                log_warning_errno(r, "Cannot remove the cgroup %s of a warm-pool entry, leaving it: %m",
                                  cgroup_path(e->cgroup));
                (void) cgroup_kill(e->cgroup);
                cgroup_abandon(e->cgroup);
        }
        e->cgroup = NULL;
        return true;
}

/* What is left once the child is reaped (or was never made), its cgroup removed or given up. */
static void entry_free(WarmPoolEntry *e) {
        SpawnHandle *h = &e->handle;

        entry_close_poll(e);
        safe_close(h->pidfd);
        safe_close(h->report_fd);
        close_many(h->capture_fds, 2);
        h->handshake = spawn_handshake_free(h->handshake);
        h->pool_slot = spawn_pool_slot_unref(h->pool_slot);
        free(h->groups);
        (void) entry_remove_cgroup(e, /* last_try= */ true);
        shape_done(&e->shape);
        free(e);
}

/* Reaps the killed child; with wait, until it is gone (only at stop and re-exec: it is our own child, killed
 * in our code). The pidfd is non-blocking once the loop watched it, which makes waitid() say EAGAIN. */
static bool entry_reap(WarmPoolEntry *e, bool wait) {
        for (;;) {
                struct pollfd pfd = { .fd = e->handle.pidfd, .events = POLLIN };
                siginfo_t si = {};
                int r;

                r = waitid((idtype_t) P_PIDFD, (id_t) e->handle.pidfd, &si, WEXITED | WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                /* ECHILD: nothing left to reap. */
                if ((r < 0 && errno != EAGAIN) || (r >= 0 && si.si_pid != 0))
                        return true;
                if (!wait)
                        return false;
                (void) poll(&pfd, 1, -1);
        }
}

static void arm(WarmPool *p);

static void on_dying(uv_poll_t *handle, int status, int events) {
        WarmPoolEntry *e = handle->data;
        WarmPool *p = e->pool;

        if (!entry_reap(e, false))
                return;
        e->reaped = true;
        entry_close_poll(e);
        if (!entry_remove_cgroup(e, false)) {
                /* The timer tries again. */
                arm(p);
                return;
        }
        LIST_REMOVE(entries, p->dying, e);
        entry_free(e);
}

/* Killed now, reaped once its pidfd says it is gone (a child in the kernel may take a moment). unused: killed
 * on purpose, parked or still being made (counted as discarded); else it failed (a fill failure). */
static void entry_discard(WarmPoolEntry *e, bool unused) {
        WarmPool *p = e->pool;

        entry_close_poll(e);
        LIST_REMOVE(entries, p->entries, e);
        p->n_entries--;
        if (e->state == ENTRY_PARKED)
                p->stats.parked--;
        if (unused)
                p->stats.discarded++;
        else
                p->stats.fill_failures++;
        e->state = ENTRY_DYING;
        e->started_usec = now_usec(CLOCK_MONOTONIC);
        LIST_PREPEND(entries, p->dying, e);
        (void) syscall(SYS_pidfd_send_signal, e->handle.pidfd, SIGKILL, NULL, 0);
        if (entry_watch(e, e->handle.pidfd, on_dying) < 0 && entry_reap(e, true)) {
                /* No watch to be had: it is our own killed child, parked in our code. */
                LIST_REMOVE(entries, p->dying, e);
                entry_free(e);
        }
}

static void on_sync(uv_poll_t *handle, int status, int events) {
        WarmPoolEntry *e = handle->data;
        WarmPool *p = e->pool;
        int r;

        if (e->state == ENTRY_PARKED) {
                /* Nothing comes from a parked child: it died. */
                entry_discard(e, true);
                return;
        }
        r = spawn_pool_read_parked(&e->handle);
        if (r == -EAGAIN)
                return;
        if (r < 0) {
                entry_discard(e, false);
                return;
        }
        e->state = ENTRY_PARKED;
        e->serial = ++p->serial;
        p->stats.parked++;
        p->stats.fills++;
        p->stats.fill_usec += now_usec(CLOCK_MONOTONIC) - e->started_usec;
        p->stats.fill_cpu_usec += e->fill_cpu_usec;
}

/* ---- budget ---- */

static unsigned entries_of(const WarmPool *p, uid_t uid) {
        unsigned n = 0;

        LIST_FOREACH(entries, e, p->entries)
                if (e->shape.uid == uid)
                        n++;
        return n;
}

static bool fill_allowed(const WarmPool *p, const FillRequest *f) {
        const Server *s = p->server;
        unsigned mine = entries_of(p, f->shape.uid);

        return !s->stopping && p->n_entries < s->config.limits.warm_pool_entries && mine < f->budget &&
               (uint64_t) s->n_sandboxes + p->n_entries < s->config.limits.sandboxes &&
               (uint64_t) server_count_sandboxes_of(s, f->shape.uid) + mine < f->max_sandboxes;
}

/* Makes one entry; its parking comes through on_sync(). */
static void fill_one(WarmPool *p, FillRequest *f) {
        Server *s = p->server;
        _cleanup_(spawn_request_freep) SpawnRequest *req = NULL;
        _cleanup_(seccomp_program_unrefp) SeccompProgram *profile = NULL;
        uint64_t cpu = now_usec(CLOCK_THREAD_CPUTIME_ID);
        WarmPoolEntry *e;
        SpawnError error = {};
        int r;

        if (!fill_allowed(p, f))
                return;
        e = calloc(1, sizeof *e);
        req = spawn_request_new();
        if (!e || !req || !(req->argv = calloc(2, sizeof(char *))) || !(req->argv[0] = strdup("/"))) {
                free(e);
                return;
        }
        e->pool = p;
        e->handle.pidfd = e->handle.report_fd = -EBADF;
        e->handle.capture_fds[0] = e->handle.capture_fds[1] = -EBADF;
        e->started_usec = now_usec(CLOCK_MONOTONIC);
        e->shape = f->shape;
        f->shape = (Shape) {};

        /* The shape, and nothing else: what is made before any request's own. */
        req->namespaces = e->shape.namespaces;
        req->uid_mappings = memdup_n(e->shape.uid_mappings, e->shape.n_uid_mappings, sizeof(IdMapping));
        req->n_uid_mappings = req->uid_mappings ? e->shape.n_uid_mappings : 0;
        req->gid_mappings = memdup_n(e->shape.gid_mappings, e->shape.n_gid_mappings, sizeof(IdMapping));
        req->n_gid_mappings = req->gid_mappings ? e->shape.n_gid_mappings : 0;
        req->setgroups = e->shape.setgroups;
        if (req->n_uid_mappings != e->shape.n_uid_mappings || req->n_gid_mappings != e->shape.n_gid_mappings)
                goto fail;

        r = sandbox_make_id(e->id);
        if (r < 0)
                goto fail;
        if (s->cgroups) {
                /* Without limits of its own until it is taken: cgroup_apply_limits_late() then. The shape's
                 * flags say whether they need a v1 cgroup of its own (cgroup_flags_to_take()). */
                r = cgroup_new(s->cgroups, e->shape.uid, e->id, &CGROUP_LIMITS_NONE,
                               f->has_user_limits ? &f->user_limits : NULL, e->shape.cgroup_flags, &e->cgroup);
                if (r < 0)
                        goto fail;
        }

        Caller caller = {
                .uid = e->shape.uid,
                .gid = e->shape.gid,
                .pid = 0,
                .pidfd = -EBADF,
                .groups = e->shape.groups,
                .n_groups = e->shape.n_groups,
                .privileged = e->shape.privileged,
        };
        /* Only to tell the spawn the profile its request will have: the child loads nothing before it parks. */
        if (e->shape.default_profile && seccomp_program_default(&profile) < 0)
                goto fail;
        SpawnContext ctx = {
                .request = req,
                .seccomp = profile,
                .caller = &caller,
                .own_namespace_inodes = s->origins.own_namespaces,
                .cgroup = e->cgroup,
                .pooled = true,
        };
        r = spawn_start(&ctx, &e->handle, &error);
        if (r < 0) {
                log_debug("A warm-pool entry could not be made: %s: %s", error.stage, error.message);
                goto fail;
        }
        /* Its maps: without joins or a time namespace it needs no "ready", so this does not wait. */
        r = spawn_handshake_step(e->handle.handshake, &error);
        if (r >= 0)
                r = entry_watch(e, spawn_pool_parked_fd(&e->handle), on_sync);
        LIST_PREPEND(entries, p->entries, e);
        p->n_entries++;
        e->fill_cpu_usec = now_usec(CLOCK_THREAD_CPUTIME_ID) - cpu;
        if (r < 0)
                entry_discard(e, false);
        return;

fail:
        p->stats.fill_failures++;
        if (e->cgroup) {
                (void) cgroup_remove(e->cgroup);
                e->cgroup = NULL;
        }
        shape_done(&e->shape);
        free(e);
}

static void fill_next(WarmPool *p) {
        FillRequest f;

        if (p->n_queue == 0)
                return;
        f = p->queue[0];
        memmove(p->queue, p->queue + 1, (p->n_queue - 1) * sizeof(FillRequest));
        p->n_queue--;
        fill_one(p, &f);
        shape_done(&f.shape);
}

static bool fills_wait(const WarmPool *p) {
        return p->n_queue > 0 || p->stats.entries != p->stats.parked || p->dying;
}

/* Once no spawn waits for its exec: a reply is never held up by an entry being made. */
static void on_check(uv_check_t *check) {
        WarmPool *p = check->data;

        if (p->n_queue == 0) {
                uv_check_stop(&p->check);
                return;
        }
        if (p->server->n_pending_spawns == 0)
                fill_next(p);
}

/* Spawns that never stop: an entry at least every delay; and filling entries that never park. */
static void on_timer(uv_timer_t *timer) {
        WarmPool *p = timer->data;
        uint64_t deadline = (uint64_t) p->server->config.limits.spawn_timeout_sec * 1000000U,
                 now = now_usec(CLOCK_MONOTONIC);

        LIST_FOREACH_SAFE(entries, e, n, p->entries)
                if (e->state == ENTRY_FILLING && now - e->started_usec > deadline)
                        entry_discard(e, false);
        LIST_FOREACH_SAFE(entries, e, n, p->dying)
                if (e->reaped && entry_remove_cgroup(e, now - e->started_usec > deadline)) {
                        LIST_REMOVE(entries, p->dying, e);
                        entry_free(e);
                }
        if (p->n_queue > 0 && now / 1000U - p->queue[0].queued_msec >= WARM_POOL_FILL_DELAY_MSEC)
                fill_next(p);
        arm(p);
}

static void arm(WarmPool *p) {
        p->stats.entries = p->n_entries;
        if (p->closed)
                return;
        if (p->n_queue > 0 && !uv_is_active((uv_handle_t *) &p->check))
                (void) uv_check_start(&p->check, on_check);
        /* Not pushed back by each request: under a steady load it is what makes entries at all. */
        if (!fills_wait(p))
                (void) uv_timer_stop(&p->timer);
        else if (!uv_is_active((uv_handle_t *) &p->timer))
                (void) uv_timer_start(&p->timer, on_timer, WARM_POOL_FILL_DELAY_MSEC, 0);
}

/* ---- the pool ---- */

int warm_pool_new(Server *s, WarmPool **ret) {
        WarmPool *p = calloc(1, sizeof *p);
        int r;

        if (!p)
                return -ENOMEM;
        p->server = s;
        r = uv_check_init(s->loop, &p->check);
        if (r < 0) {
                free(p);
                return r;
        }
        (void) uv_timer_init(s->loop, &p->timer);
        p->check.data = p->timer.data = p;
        /* Neither keeps the loop alive on its own. */
        uv_unref((uv_handle_t *) &p->check);
        uv_unref((uv_handle_t *) &p->timer);
        *ret = p;
        return 0;
}

static void queue_clear(WarmPool *p) {
        for (size_t i = 0; i < p->n_queue; i++)
                shape_done(&p->queue[i].shape);
        p->n_queue = 0;
}

void warm_pool_discard_all(WarmPool *p) {
        if (!p)
                return;
        queue_clear(p);
        LIST_FOREACH_SAFE(entries, e, n, p->entries)
                entry_discard(e, /* unused= */ true);
        arm(p);
}

bool warm_pool_holds_for(const WarmPool *p, uid_t uid) {
        if (!p)
                return false;
        for (size_t i = 0; i < p->n_queue; i++)
                if (p->queue[i].shape.uid == uid)
                        return true;
        return entries_of(p, uid) > 0;
}

void warm_pool_owner_left(WarmPool *p, uid_t uid) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_queue;) {
                if (p->queue[i].shape.uid == uid) {
                        shape_done(&p->queue[i].shape);
                        memmove(p->queue + i, p->queue + i + 1, (p->n_queue - i - 1) * sizeof(FillRequest));
                        p->n_queue--;
                } else
                        i++;
        }
        LIST_FOREACH_SAFE(entries, e, n, p->entries)
                if (e->shape.uid == uid)
                        entry_discard(e, /* unused= */ true);
        arm(p);
}

void warm_pool_drain_now(WarmPool *p) {
        if (!p)
                return;
        queue_clear(p);
        LIST_FOREACH_SAFE(entries, e, n, p->entries)
                entry_discard(e, /* unused= */ true);
        /* Our own children, killed in our code: they are gone at once, and their cgroups empty soon after. */
        LIST_FOREACH_SAFE(entries, e, n, p->dying) {
                if (!e->reaped)
                        (void) entry_reap(e, true);
                if (e->cgroup)
                        (void) cgroup_wait_empty(e->cgroup, 5000);
                LIST_REMOVE(entries, p->dying, e);
                entry_free(e);
        }
        arm(p);
}

void warm_pool_close(WarmPool *p) {
        if (!p || p->closed)
                return;
        warm_pool_drain_now(p);
        p->closed = true;
        uv_close((uv_handle_t *) &p->check, NULL);
        uv_close((uv_handle_t *) &p->timer, NULL);
}

WarmPool *warm_pool_free(WarmPool *p) {
        if (!p)
                return NULL;
        assert(!p->entries && !p->dying);
        free(p);
        return NULL;
}

static void evict_other_shape(WarmPool *p, const Shape *shape) {
        WarmPoolEntry *oldest = NULL;

        LIST_FOREACH(entries, e, p->entries)
                if (e->state == ENTRY_PARKED && e->shape.uid == shape->uid && !shape_equal(&e->shape, shape) &&
                    (!oldest || e->serial < oldest->serial))
                        oldest = e;
        if (oldest)
                entry_discard(oldest, true);
}

/* Queues one entry of shape, within the owner's budget; false if there is no room. */
static bool queue_fill(WarmPool *p, const Shape *shape, const PolicyRule *rule, const PolicyLimitsDecision *limits) {
        const Server *s = p->server;
        unsigned queued = 0;
        FillRequest *f;

        for (size_t i = 0; i < p->n_queue; i++)
                if (p->queue[i].shape.uid == shape->uid)
                        queued++;
        if (p->n_queue >= QUEUE_MAX || entries_of(p, shape->uid) + queued >= rule->warm_pool)
                return false;
        /* A parked entry is a process in the owner's cgroup: it would count against what the owner's
         * sandboxes may run together. */
        if (limits->has_user && limits->user.tasks_max != CGROUP_LIMIT_MAX)
                return false;
        f = &p->queue[p->n_queue];
        *f = (FillRequest) {
                .user_limits = limits->user,
                .has_user_limits = limits->has_user,
                .budget = rule->warm_pool,
                .max_sandboxes = policy_max_sandboxes(rule, &s->config.limits),
                .queued_msec = now_usec(CLOCK_MONOTONIC) / 1000U,
        };
        if (shape_copy(shape, &f->shape) < 0)
                return false;
        p->n_queue++;
        return true;
}

/*
 * Whether a parked entry was stopped (SIGSTOP from whoever may signal it: the owner holds CAP_KILL over
 * the user namespace it owns, and so may anything running as the owner's uid). Taken, it would hold its
 * Spawn until the spawn timeout. Stopped after this look, it does, as a cold spawn's child stopped before
 * its exec does.
 */
static bool entry_stopped(const WarmPoolEntry *e) {
        siginfo_t si = {};

        if (waitid((idtype_t) P_PIDFD, (id_t) e->handle.pidfd, &si, WSTOPPED | WNOHANG | WNOWAIT) < 0)
                return false;
        return si.si_pid != 0 && (si.si_code == CLD_STOPPED || si.si_code == CLD_TRAPPED);
}

WarmPoolEntry *warm_pool_take(WarmPool *p, const Caller *caller, const SpawnRequest *req,
                              const SeccompProgram *seccomp, const PolicyRule *rule,
                              const PolicyLimitsDecision *limits, CgroupFlags cgroup_flags) {
        WarmPoolEntry *found = NULL;
        Shape shape;

        if (!p || p->closed || rule->warm_pool == 0 || p->server->config.limits.warm_pool_entries == 0 || !warm_pool_serves(req))
                return NULL;
        shape = shape_of(caller, req, seccomp, cgroup_flags);

        LIST_FOREACH_SAFE(entries, e, n, p->entries) {
                if (e->state != ENTRY_PARKED || !shape_equal(&e->shape, &shape))
                        continue;
                if (entry_stopped(e)) {
                        entry_discard(e, true);
                        continue;
                }
                found = e;
                break;
        }
        if (found) {
                LIST_REMOVE(entries, p->entries, found);
                p->n_entries--;
                p->stats.parked--;
                p->stats.hits++;
                entry_close_poll(found);
        } else {
                p->stats.misses++;
                if (entries_of(p, shape.uid) >= rule->warm_pool)
                        evict_other_shape(p, &shape);
        }
        /* A hit is replaced; a miss fills the budget with its shape, for the requests that come with it. */
        while (queue_fill(p, &shape, rule, limits) && !found)
                ;
        arm(p);
        return found;
}

int warm_pool_start(WarmPool *p, WarmPoolEntry *e, SpawnContext *ctx, const PolicyLimitsDecision *limits,
                    char ret_id[static SANDBOX_ID_LEN + 1], Cgroup **ret_cgroup, SpawnHandle *ret,
                    SpawnError *ret_error) {
        int r = 0;

        if (e->cgroup)
                r = cgroup_apply_limits_late(e->cgroup, &limits->sandbox, limits->has_user ? &limits->user : NULL);
        if (r < 0) {
                spawn_error_set(ret_error, "cgroup", -r, "the warm-pool entry's cgroup");
                goto discard;
        }
        ctx->cgroup = e->cgroup;
        r = spawn_start_pooled(ctx, &e->handle, ret, ret_error);
        if (r < 0)
                goto discard;

        memcpy(ret_id, e->id, SANDBOX_ID_LEN + 1);
        *ret_cgroup = TAKE_PTR(e->cgroup);
        /* Spent: what is left of it is the slot's reference and its shape. */
        entry_free(e);
        return 0;

discard:
        /* Taken out of the pool already: back in, to go the way of every discarded one. */
        LIST_PREPEND(entries, p->entries, e);
        p->n_entries++;
        e->state = ENTRY_FILLING;
        /* Served cold after all. */
        p->stats.hits--;
        p->stats.misses++;
        log_warning("A warm-pool entry failed at %s (%s); spawning without it.", ret_error->stage, ret_error->message);
        entry_discard(e, true);
        arm(p);
        return r;
}

void warm_pool_stats(const WarmPool *p, WarmPoolStats *ret) {
        *ret = p ? p->stats : (WarmPoolStats) {};
        if (p)
                ret->entries = p->n_entries;
}
