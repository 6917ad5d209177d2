/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup remover (cgroup-removal.h): one thread, a queue of removals to
 * make and one of removals made, both under one lock that is held only to
 * move a removal from one to the other, never across a system call.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cgroup-removal.h"
#include "fd-util.h"

/* Its work is a few system calls a removal: glibc's default of 8 MiB of address space would be for nothing. */
#define REMOVER_STACK_SIZE (64 * 1024)

struct CgroupRemover {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t queued;
        bool stopping;
        CgroupRemoval *todo_head, *todo_tail;
        CgroupRemoval *done_head, *done_tail;
        int event_fd;
};

static void push(CgroupRemoval **head, CgroupRemoval **tail, CgroupRemoval *removal) {
        removal->next = NULL;
        if (*tail)
                (*tail)->next = removal;
        else
                *head = removal;
        *tail = removal;
}

static CgroupRemoval *pop(CgroupRemoval **head, CgroupRemoval **tail) {
        CgroupRemoval *removal = *head;

        if (removal) {
                *head = removal->next;
                if (!*head)
                        *tail = NULL;
                removal->next = NULL;
        }
        return removal;
}

static void removal_run(CgroupRemoval *removal) {
        removal->error = 0;
        removal->n_removed = 0;
        for (size_t i = 0; i < removal->n_dirs; i++) {
                if (unlinkat(removal->dirs[i].parent_fd, removal->dirs[i].name, AT_REMOVEDIR) >= 0 || errno == ENOENT) {
                        removal->n_removed++;
                        continue;
                }
                if (removal->error == 0)
                        removal->error = errno;
                if (i < removal->n_must)
                        return;
        }
}

static void *remover_main(void *userdata) {
        CgroupRemover *r = userdata;

        (void) pthread_mutex_lock(&r->lock);
        for (;;) {
                CgroupRemoval *removal = pop(&r->todo_head, &r->todo_tail);
                uint64_t one = 1;

                if (!removal) {
                        if (r->stopping)
                                break;
                        (void) pthread_cond_wait(&r->queued, &r->lock);
                        continue;
                }
                (void) pthread_mutex_unlock(&r->lock);
                removal_run(removal);
                (void) pthread_mutex_lock(&r->lock);
                push(&r->done_head, &r->done_tail, removal);
                /* An eventfd's counter does not overflow at one write per removal. */
                (void) write(r->event_fd, &one, sizeof one);
        }
        (void) pthread_mutex_unlock(&r->lock);
        return NULL;
}

int cgroup_remover_new(CgroupRemover **ret) {
        _cleanup_free_ CgroupRemover *r = NULL;
        pthread_attr_t attr;
        sigset_t all, saved;
        int k;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->event_fd < 0)
                return -errno;
        (void) pthread_mutex_init(&r->lock, NULL);
        (void) pthread_cond_init(&r->queued, NULL);

        k = pthread_attr_init(&attr);
        if (k == 0) {
                (void) pthread_attr_setstacksize(&attr, REMOVER_STACK_SIZE);
                /* Every signal blocked: the daemon's handlers belong to the loop. */
                sigfillset(&all);
                (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
                k = pthread_create(&r->thread, &attr, remover_main, r);
                (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
                (void) pthread_attr_destroy(&attr);
        }
        if (k != 0) {
                safe_close(r->event_fd);
                return -k;
        }
        (void) pthread_setname_np(r->thread, "nsbox-cgroup-rm");
        *ret = TAKE_PTR(r);
        return 0;
}

CgroupRemover *cgroup_remover_free(CgroupRemover *r, void (*done)(CgroupRemoval *removal, void *userdata),
                                   void *userdata) {
        CgroupRemoval *removal;

        if (!r)
                return NULL;
        (void) pthread_mutex_lock(&r->lock);
        r->stopping = true;
        (void) pthread_cond_signal(&r->queued);
        (void) pthread_mutex_unlock(&r->lock);
        (void) pthread_join(r->thread, NULL);

        while ((removal = pop(&r->done_head, &r->done_tail))) {
                if (done)
                        done(removal, userdata);
                cgroup_removal_free(removal);
        }
        safe_close(r->event_fd);
        (void) pthread_cond_destroy(&r->queued);
        (void) pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}

int cgroup_remover_fd(const CgroupRemover *r) {
        return r->event_fd;
}

CgroupRemoval *cgroup_removal_new(void) {
        return calloc(1, sizeof(CgroupRemoval));
}

CgroupRemoval *cgroup_removal_free(CgroupRemoval *removal) {
        if (!removal)
                return NULL;
        for (size_t i = 0; i < removal->n_dirs; i++)
                free(removal->dirs[i].name);
        free(removal);
        return NULL;
}

void cgroup_remover_queue(CgroupRemover *r, CgroupRemoval *removal) {
        (void) pthread_mutex_lock(&r->lock);
        push(&r->todo_head, &r->todo_tail, removal);
        (void) pthread_cond_signal(&r->queued);
        (void) pthread_mutex_unlock(&r->lock);
}

CgroupRemoval *cgroup_remover_take_done(CgroupRemover *r) {
        CgroupRemoval *removal;
        uint64_t n;

        (void) pthread_mutex_lock(&r->lock);
        removal = pop(&r->done_head, &r->done_tail);
        /* Reset under the lock, so that a removal the remover finishes now counts again. */
        if (!removal)
                (void) read(r->event_fd, &n, sizeof n);
        (void) pthread_mutex_unlock(&r->lock);
        return removal;
}
