/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing fds off the event loop, one lane per owner (see async-close.h).
 * The lock guards the lanes and counters only; close() itself always runs
 * unlocked, in a worker, so a close that never returns holds nothing but
 * its worker and its lane.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "async-close.h"
#include "bounded-close.h"
#include "list.h"

/* close() needs next to no stack; the default (8 MiB of address space) would only waste it. */
#define WORKER_STACK_SIZE (64U * 1024U)

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct Job {
        int fd;
        bool reap; /* fd is a pidfd of a child: wait for it to exit and reap it first */
} Job;

typedef struct Lane Lane;

struct Lane {
        uid_t owner;
        Job *jobs; /* queued jobs are jobs[head..n) */
        size_t head;
        size_t n;
        size_t allocated;
        bool closing;    /* a worker took jobs[head - 1] and is in it */
        bool has_worker; /* at most one worker per lane, so a stuck close holds up this lane only */
        LIST_FIELDS(Lane, lanes);
};

struct AsyncCloser {
        pthread_mutex_t lock;
        unsigned max_workers;
        unsigned n_workers;
        unsigned n_starting; /* started, and not yet looking for a lane */
        size_t n_pending;
        Lane *lanes;
        bool freed; /* the owner let go: the last worker frees */
};

static size_t lane_pending(const Lane *l) {
        return l->n - l->head + (l->closing ? 1 : 0);
}

static void lane_free(AsyncCloser *c, Lane *l) {
        LIST_REMOVE(lanes, c->lanes, l);
        free(l->jobs);
        free(l);
}

static Lane *lane_find(AsyncCloser *c, uid_t owner) {
        LIST_FOREACH(lanes, l, c->lanes)
                if (l->owner == owner)
                        return l;
        return NULL;
}

/* A lane with queued fds that no worker serves. */
static Lane *lane_pick_ready(AsyncCloser *c) {
        LIST_FOREACH(lanes, l, c->lanes)
                if (!l->has_worker && l->head < l->n)
                        return l;
        return NULL;
}

static void closer_destroy(AsyncCloser *c) {
        /* Whatever is still queued stays open: closing it here could block whoever frees. */
        while (c->lanes)
                lane_free(c, c->lanes);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static void *worker_run(void *userdata) {
        AsyncCloser *c = userdata;
        Lane *lane = NULL;
        bool destroy;

        pthread_mutex_lock(&c->lock);
        c->n_starting--;
        for (;;) {
                Job job;

                if (!lane) {
                        lane = lane_pick_ready(c);
                        if (!lane)
                                break;
                        lane->has_worker = true;
                }

                if (lane->head == lane->n) {
                        lane->has_worker = false;
                        if (lane_pending(lane) == 0)
                                lane_free(c, lane);
                        lane = NULL;
                        continue;
                }

                job = lane->jobs[lane->head++];
                lane->closing = true;
                pthread_mutex_unlock(&c->lock);

                if (job.reap) {
                        siginfo_t si;

                        while (waitid((idtype_t) P_PIDFD, (id_t) job.fd, &si, WEXITED) < 0 && errno == EINTR)
                                ;
                }
                bounded_close(job.fd);

                pthread_mutex_lock(&c->lock);
                lane->closing = false;
                c->n_pending--;
                if (lane->head == lane->n)
                        lane->head = lane->n = 0;
        }
        c->n_workers--;
        destroy = c->freed && c->n_workers == 0;
        pthread_mutex_unlock(&c->lock);

        if (destroy)
                closer_destroy(c);
        return NULL;
}

/* Called with the lock held. Workers block every signal: the daemon's handlers belong to the loop. */
static int worker_start(AsyncCloser *c) {
        pthread_attr_t attr;
        sigset_t all, saved;
        pthread_t t;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        (void) pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);

        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = pthread_create(&t, &attr, worker_run, c);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        (void) pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;

        c->n_workers++;
        c->n_starting++;
        return 0;
}

int async_closer_new(unsigned max_workers, AsyncCloser **ret) {
        AsyncCloser *c;
        int r;

        if (max_workers == 0 || !ret)
                return -EINVAL;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        r = pthread_mutex_init(&c->lock, NULL);
        if (r != 0) {
                free(c);
                return -r;
        }
        c->max_workers = max_workers;

        *ret = c;
        return 0;
}

AsyncCloser *async_closer_free(AsyncCloser *c) {
        bool destroy;

        if (!c)
                return NULL;

        /* Left in the table, the process's exit would close them in the exiting thread. */
        (void) async_closer_release_queued(c, ASYNC_CLOSER_RELEASE_MSEC);
        pthread_mutex_lock(&c->lock);
        c->freed = true;
        destroy = c->n_workers == 0;
        pthread_mutex_unlock(&c->lock);

        if (destroy)
                closer_destroy(c);
        return NULL;
}

/* Appends a job to owner's lane, creating the lane if needed. Lock held. */
static int lane_push(AsyncCloser *c, uid_t owner, Job job, Lane **ret) {
        Lane *l = lane_find(c, owner);
        bool created = false;

        if (!l) {
                l = calloc(1, sizeof *l);
                if (!l)
                        return -ENOMEM;
                l->owner = owner;
                LIST_PREPEND(lanes, c->lanes, l);
                created = true;
        }

        if (l->n == l->allocated) {
                /* Reuse the slots already closed before growing. */
                if (l->head > 0) {
                        memmove(l->jobs, l->jobs + l->head, (l->n - l->head) * sizeof(Job));
                        l->n -= l->head;
                        l->head = 0;
                } else {
                        size_t allocated = MAX(l->allocated * 2, 16U);
                        Job *jobs = reallocarray(l->jobs, allocated, sizeof(Job));

                        if (!jobs) {
                                if (created)
                                        lane_free(c, l);
                                return -ENOMEM;
                        }
                        l->jobs = jobs;
                        l->allocated = allocated;
                }
        }

        l->jobs[l->n++] = job;
        *ret = l;
        return 0;
}

static int queue_job(AsyncCloser *c, uid_t owner, Job job) {
        Lane *l;
        int r;

        pthread_mutex_lock(&c->lock);
        r = lane_push(c, owner, job, &l);
        if (r < 0) {
                pthread_mutex_unlock(&c->lock);
                if (job.reap) {
                        /* Out of memory: reap if it is gone already; a child stuck in the kernel stays a
                         * zombie until the daemon exits rather than block the caller. */
                        siginfo_t si;
                        (void) waitid((idtype_t) P_PIDFD, (id_t) job.fd, &si, WEXITED | WNOHANG);
                }
                (void) close(job.fd);
                return r;
        }
        c->n_pending++;

        /* A worker finishing another lane picks this one up too; start one if there is room. */
        if (!l->has_worker && c->n_workers < c->max_workers)
                r = worker_start(c);
        pthread_mutex_unlock(&c->lock);
        return r;
}

int async_closer_kick(AsyncCloser *c) {
        int r = 0;

        pthread_mutex_lock(&c->lock);
        /* A lane that no worker serves while there is room for one: its start failed. The workers there are may
         * all be stuck in other lanes' closes (a FUSE flush nobody answers), so one more, unless one is on its
         * way (it takes a ready lane first thing). */
        if (c->n_starting == 0 && c->n_workers < c->max_workers && lane_pick_ready(c))
                r = worker_start(c) < 0 ? 1 : 0;
        pthread_mutex_unlock(&c->lock);
        return r;
}

int async_close(AsyncCloser *c, uid_t owner, int fd) {
        if (fd < 0)
                return 0;
        return queue_job(c, owner, (Job) { .fd = fd });
}

int async_reap(AsyncCloser *c, uid_t owner, int pidfd) {
        if (pidfd < 0)
                return -EBADF;
        return queue_job(c, owner, (Job) { .fd = pidfd, .reap = true });
}

void async_close_many(AsyncCloser *c, uid_t owner, int *fds, size_t n) {
        for (size_t i = 0; fds && i < n; i++) {
                (void) async_close(c, owner, fds[i]);
                fds[i] = -EBADF;
        }
}

/* Takes the queued jobs that close an fd (not those that reap) out of every lane: their fds and owners. Lock
 * held. */
static int take_queued_closes(AsyncCloser *c, int **ret_fds, uid_t **ret_owners, size_t *ret_n) {
        size_t n = 0, k;
        uid_t *owners;
        int *fds;

        LIST_FOREACH(lanes, l, c->lanes)
                n += l->n - l->head;
        fds = calloc(MAX(n, 1U), sizeof(int));
        owners = calloc(MAX(n, 1U), sizeof(uid_t));
        if (!fds || !owners) {
                free(fds);
                free(owners);
                return -ENOMEM;
        }
        n = 0;
        LIST_FOREACH(lanes, l, c->lanes) {
                k = l->head;
                for (size_t i = l->head; i < l->n; i++)
                        if (l->jobs[i].reap)
                                l->jobs[k++] = l->jobs[i];
                        else {
                                fds[n] = l->jobs[i].fd;
                                owners[n++] = l->owner;
                        }
                c->n_pending -= l->n - k;
                l->n = k;
        }
        *ret_fds = fds;
        *ret_owners = owners;
        *ret_n = n;
        return 0;
}

size_t async_closer_release_queued(AsyncCloser *c, unsigned timeout_msec) {
        _cleanup_free_ uid_t *owners = NULL;
        _cleanup_free_ bool *started = NULL;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0, left = 0;

        pthread_mutex_lock(&c->lock);
        if (take_queued_closes(c, &fds, &owners, &n) < 0)
                n = 0;
        pthread_mutex_unlock(&c->lock);
        if (n == 0)
                return 0;

        started = calloc(n, sizeof *started);
        if (started)
                left = bounded_close_many_at_once(fds, n, timeout_msec, started);
        /* No helper for these: back in their lanes, as they were. */
        for (size_t i = 0; i < n; i++)
                if (!started || !started[i]) {
                        (void) async_close(c, owners[i], fds[i]);
                        left++;
                }
        return left;
}

size_t async_closer_pending(AsyncCloser *c, uid_t owner) {
        size_t n;
        Lane *l;

        pthread_mutex_lock(&c->lock);
        l = lane_find(c, owner);
        n = l ? lane_pending(l) : 0;
        pthread_mutex_unlock(&c->lock);
        return n;
}

void async_closer_stats(AsyncCloser *c, size_t *ret_pending, unsigned *ret_workers) {
        pthread_mutex_lock(&c->lock);
        if (ret_pending)
                *ret_pending = c->n_pending;
        if (ret_workers)
                *ret_workers = c->n_workers;
        pthread_mutex_unlock(&c->lock);
}
