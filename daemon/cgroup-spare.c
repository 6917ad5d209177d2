/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spare cgroups (cgroup-spare.h). Making a sandbox's cgroup is most of what the
 * daemon does between a Spawn's arrival and its child's clone: on a hybrid host
 * four mkdir()s, each a kernel allocation of a cgroup with its controllers'
 * state, and an open of each directory. Made between requests, it costs the
 * same CPU but none of a Spawn's latency.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-spare.h"
#include "log.h"
#include "macro.h"

/* A spare nobody took for this long is removed, and one younger than SPARE_KEEP_MSEC is never evicted for
 * another user's: users spawning in turn would otherwise make and remove spares that nobody takes. */
#define SPARE_IDLE_MSEC 5000
#define SPARE_KEEP_MSEC 1000
/* A spare is made once no spawn waits for its exec, or this long after it was asked for: a caller that
 * keeps a spawn of its own from its exec (until the spawn timeout) must not keep every user from spares. */
#define SPARE_WAIT_MAX_MSEC 100

typedef struct Spare {
        Cgroup *cgroup; /* NULL: a free slot */
        uid_t uid;
        CgroupFlags flags;
        uint64_t made_msec; /* uv_now() */
        char id[SANDBOX_ID_LEN + 1];
} Spare;

struct CgroupSpares {
        uv_loop_t *loop;
        CgroupManager *cgroups;
        const unsigned *max;
        const unsigned *pending_spawns;
        uv_check_t maker;  /* runs after each loop iteration's events while a spare is wanted */
        uv_timer_t late;   /* makes it SPARE_WAIT_MAX_MSEC after it was asked for, spawns pending or not */
        uv_timer_t expiry; /* runs while there is a spare */
        unsigned handles_open;
        bool closing;

        Spare spares[CGROUP_SPARES_CAP];
        size_t n_spares;

        bool wanted;
        uid_t want_uid;
        CgroupFlags want_flags;
        bool want_has_user_limits;
        CgroupLimits want_user_limits;
};

/* Frees the slot, its cgroup taken or removed. */
static void spare_forget(CgroupSpares *s, Spare *sp) {
        *sp = (Spare) {};
        if (--s->n_spares == 0 && !s->closing)
                (void) uv_timer_stop(&s->expiry);
}

static void spare_remove(CgroupSpares *s, Spare *sp) {
        if (!sp->cgroup)
                return;
        /* Empty: nothing ever ran in it. */
        cgroup_remove_empty(sp->cgroup);
        spare_forget(s, sp);
}

static Spare *spare_find(CgroupSpares *s, uid_t uid, CgroupFlags flags) {
        for (size_t i = 0; i < CGROUP_SPARES_CAP; i++)
                if (s->spares[i].cgroup && s->spares[i].uid == uid && s->spares[i].flags == flags)
                        return &s->spares[i];
        return NULL;
}

/* A free slot within the limit, or the oldest spare's once it is old enough to give way. */
static Spare *spare_slot(CgroupSpares *s) {
        size_t max = MIN(*s->max, (unsigned) CGROUP_SPARES_CAP);
        Spare *oldest = NULL, *free_slot = NULL;

        if (max == 0)
                return NULL;
        for (size_t i = 0; i < CGROUP_SPARES_CAP; i++) {
                if (!s->spares[i].cgroup) {
                        free_slot = free_slot ?: &s->spares[i];
                        continue;
                }
                if (!oldest || s->spares[i].made_msec < oldest->made_msec)
                        oldest = &s->spares[i];
        }
        if (free_slot && s->n_spares < max)
                return free_slot;
        if (!oldest || uv_now(s->loop) - oldest->made_msec < SPARE_KEEP_MSEC)
                return NULL;
        spare_remove(s, oldest);
        return oldest;
}

static void on_expiry(uv_timer_t *timer) {
        CgroupSpares *s = timer->data;
        uint64_t now = uv_now(s->loop);

        for (size_t i = 0; i < CGROUP_SPARES_CAP; i++)
                if (s->spares[i].cgroup && now - s->spares[i].made_msec >= SPARE_IDLE_MSEC)
                        spare_remove(s, &s->spares[i]);
}

static void make_wanted(CgroupSpares *s) {
        Spare *sp;
        int r;

        s->wanted = false;
        (void) uv_check_stop(&s->maker);
        (void) uv_timer_stop(&s->late);
        if (s->closing || spare_find(s, s->want_uid, s->want_flags))
                return;
        sp = spare_slot(s);
        if (!sp)
                return;

        r = sandbox_make_id(sp->id);
        if (r >= 0)
                r = cgroup_new(s->cgroups, s->want_uid, sp->id, &CGROUP_LIMITS_NONE,
                               s->want_has_user_limits ? &s->want_user_limits : NULL, s->want_flags, &sp->cgroup);
        if (r < 0) {
                /* The next Spawn makes its own, and says why if it cannot either. */
                log_debug_errno(r, "A spare cgroup could not be made: %m");
                *sp = (Spare) {};
                return;
        }
        sp->uid = s->want_uid;
        sp->flags = s->want_flags;
        sp->made_msec = uv_now(s->loop);
        if (s->n_spares++ == 0)
                (void) uv_timer_start(&s->expiry, on_expiry, SPARE_IDLE_MSEC / 4, SPARE_IDLE_MSEC / 4);
}

/* Once no spawn waits for its exec: made while the last one's command runs, it holds up no reply. */
static void on_maker(uv_check_t *check) {
        CgroupSpares *s = check->data;

        if (*s->pending_spawns == 0)
                make_wanted(s);
}

static void on_late(uv_timer_t *timer) {
        make_wanted(timer->data);
}

int cgroup_spares_new(uv_loop_t *loop, CgroupManager *m, const unsigned *max, const unsigned *pending_spawns,
                      CgroupSpares **ret) {
        CgroupSpares *s;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->cgroups = m;
        s->max = max;
        s->pending_spawns = pending_spawns;
        (void) uv_check_init(loop, &s->maker);
        (void) uv_timer_init(loop, &s->late);
        (void) uv_timer_init(loop, &s->expiry);
        s->maker.data = s->late.data = s->expiry.data = s;
        s->handles_open = 3;
        *ret = s;
        return 0;
}

void cgroup_spares_discard_all(CgroupSpares *s) {
        if (!s)
                return;
        for (size_t i = 0; i < CGROUP_SPARES_CAP; i++)
                spare_remove(s, &s->spares[i]);
        /* One wanted still would be made with the user limits of before: they would undo a Reload's. */
        s->wanted = false;
        (void) uv_check_stop(&s->maker);
        (void) uv_timer_stop(&s->late);
}

static void on_handle_closed(uv_handle_t *handle) {
        CgroupSpares *s = handle->data;

        if (--s->handles_open == 0)
                free(s);
}

void cgroup_spares_close(CgroupSpares *s) {
        if (!s || s->closing)
                return;
        cgroup_spares_discard_all(s);
        s->closing = true;
        uv_close((uv_handle_t *) &s->maker, on_handle_closed);
        uv_close((uv_handle_t *) &s->late, on_handle_closed);
        uv_close((uv_handle_t *) &s->expiry, on_handle_closed);
}

int cgroup_spares_take(CgroupSpares *s, uid_t uid, CgroupFlags flags, const CgroupLimits *l,
                       const CgroupLimits *user_limits, char ret_id[static SANDBOX_ID_LEN + 1], Cgroup **ret) {
        Spare *sp;
        Cgroup *cg;
        int r;

        if (!s || s->closing || !s->cgroups)
                return -ENOENT;
        sp = spare_find(s, uid, flags);
        if (!sp)
                return -ENOENT;

        cg = sp->cgroup;
        r = cgroup_apply_limits_late(cg, l, user_limits);
        if (r < 0) {
                spare_remove(s, sp);
                return r;
        }
        memcpy(ret_id, sp->id, SANDBOX_ID_LEN + 1);
        spare_forget(s, sp);
        *ret = cg;
        return 0;
}

void cgroup_spares_want(CgroupSpares *s, uid_t uid, CgroupFlags flags, const CgroupLimits *user_limits) {
        if (!s || s->closing || !s->cgroups || spare_find(s, uid, flags))
                return;
        if (!s->wanted)
                (void) uv_timer_start(&s->late, on_late, SPARE_WAIT_MAX_MSEC, 0);
        s->wanted = true;
        s->want_uid = uid;
        s->want_flags = flags;
        s->want_has_user_limits = user_limits;
        if (user_limits)
                s->want_user_limits = *user_limits;
        (void) uv_check_start(&s->maker, on_maker);
}
