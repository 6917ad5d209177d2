/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hand-over across a restart (see restart.h): what the stopping or
 * re-executing daemon writes, and how the next one takes it back, checking
 * every fd against what the state says of it.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "async-close.h"
#include "cgroup-spare.h"
#include "connection.h"
#include "fd-util.h"
#include "keeper.h"
#include "log.h"
#include "restart.h"
#include "sandbox.h"
#include "sandbox-init-watch.h"
#include "seccomp-profile.h"
#include "warm-pool.h"

/* How long a stopping daemon waits for the service manager to have taken its fds. */
#define BARRIER_TIMEOUT_USEC (5U * 1000U * 1000U)

extern char **environ;

static void store_remove(const char *name) {
        (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

static int store_add(const char *name, int fd) {
        char text[128];
        int r;

        snprintf(text, sizeof text, "FDSTORE=1\nFDNAME=%s", name);
        r = sd_pid_notify_with_fds(0, false, text, &fd, 1);
        if (r == 0)
                return -ENOTCONN; /* no service manager to hold it */
        return r < 0 ? r : 0;
}

/* ---- keeper links ---- */

static KeeperLink *keeper_find(Server *s, const char *name) {
        LIST_FOREACH(keepers, k, s->keepers)
                if (streq(k->name, name))
                        return k;
        return NULL;
}

static void on_keeper_closed(uv_handle_t *handle) {
        KeeperLink *k = handle->data;

        safe_close(k->fd);
        free(k);
}

/* The link is done with: its sandboxes can learn nothing more from it. */
static void keeper_link_free(KeeperLink *k, bool remove_from_store) {
        Server *s = k->server;

        sandbox_keeper_gone(s, k, s->stopping);
        if (remove_from_store)
                store_remove(k->name);
        if (s->own_keeper == k)
                s->own_keeper = NULL;
        LIST_REMOVE(keepers, s->keepers, k);
        uv_close((uv_handle_t *) &k->poll, on_keeper_closed);
}

/* An earlier daemon's keeper whose every sandbox has ended and been reported is told to go. */
static bool keeper_link_release(KeeperLink *k) {
        if (k->own || sandbox_keeper_in_use(k->server, k))
                return false;
        log_debug("Keeper %s reported all it held; releasing it.", k->name);
        (void) keeper_send_quit(k->fd);
        keeper_link_free(k, /* remove_from_store= */ true);
        return true;
}

static void on_keeper(uv_poll_t *handle, int status, int events) {
        KeeperLink *k = handle->data;

        for (;;) {
                KeeperMessage m;
                int r = keeper_receive(k->fd, &m);

                if (r == -EAGAIN)
                        return;
                if (r == -EBADMSG) {
                        log_warning("Ignoring a message from keeper %s that is not an exit record.", k->name);
                        continue;
                }
                if (r <= 0) {
                        /* It reaped and reported everything it held, and exited. */
                        log_debug("Keeper %s is done.", k->name);
                        keeper_link_free(k, /* remove_from_store= */ true);
                        return;
                }
                sandbox_keeper_exit(k->server, k, m.pid, m.code, m.status);
                if (keeper_link_release(k))
                        return;
        }
}

static int keeper_link_add(Server *s, const char *name, int fd, bool own, KeeperLink **ret) {
        KeeperLink *k;
        int r;

        k = calloc(1, sizeof *k);
        if (!k) {
                safe_close(fd);
                return -ENOMEM;
        }
        r = fd_set_nonblock(fd, true);
        if (r >= 0 && uv_poll_init(s->loop, &k->poll, fd) < 0)
                r = -EIO;
        if (r < 0) {
                safe_close(fd);
                free(k);
                return r;
        }
        k->server = s;
        k->fd = fd;
        k->own = own;
        k->poll.data = k;
        snprintf(k->name, sizeof k->name, "%s", name);
        LIST_PREPEND(keepers, s->keepers, k);
        if (own)
                s->own_keeper = k;
        (void) uv_poll_start(&k->poll, UV_READABLE, on_keeper);
        if (ret)
                *ret = k;
        return 0;
}

void restart_close_keepers(Server *s) {
        /* Not removed from the store: a stop that hands over leaves them for the next daemon. */
        LIST_FOREACH_SAFE(keepers, k, n, s->keepers)
                keeper_link_free(k, /* remove_from_store= */ false);
}

/* ---- taking over ---- */

/* Takes the fd named name out of the handed-over set (and the store); -ENOENT if it did not come. */
static int take_fd(FdSet *fds, const char *name, bool from_store) {
        int fd = fdset_take(fds, name);

        if (from_store)
                store_remove(name);
        return fd;
}

/* One entry of the state, checked against the fds that came with it. */
static int adopt_one(Server *s, HandoverSandbox *h, FdSet *fds, int capture_blob, SeccompProgram *seccomp,
                     bool from_store) {
        const char *id = h->info.id;
        SandboxTakeover t = { .pidfd = -EBADF, .capture_fds = { -EBADF, -EBADF } };
        int r;

        if (!streq(h->reaper, HANDOVER_REAPER_SELF)) {
                t.reaper = keeper_find(s, h->reaper);
                if (!t.reaper)
                        return log_error_errno(ENOENT, "Handed-over sandbox %s names keeper %s, which was not "
                                                       "passed; leaving it out.", id, h->reaper);
        } else if (from_store && h->pidfd)
                /* A new process is nobody's parent: only a re-exec may keep its children. */
                return log_error_errno(EINVAL, "Handed-over sandbox %s claims this daemon as its parent; "
                                               "leaving it out.", id);

        if (h->pidfd) {
                t.pidfd = take_fd(fds, h->pidfd, from_store);
                /* systemd drops a stored pidfd once its process is reaped: the keeper that did has the status. */
                if (t.pidfd < 0 && t.reaper)
                        log_debug("Sandbox %s ended while no daemon ran; its status comes from %s.", id,
                                  t.reaper->name);
                else if (t.pidfd < 0)
                        return log_error_errno(ENOENT, "The pidfd of handed-over sandbox %s (%s) was not passed; "
                                                       "leaving it out.", id, h->pidfd);
        }
        if (t.pidfd >= 0) {
                r = handover_check_pidfd(t.pidfd, (pid_t) h->info.pid);
                if (r < 0) {
                        safe_close(t.pidfd);
                        return log_error_errno(r, "Fd %s is not the pidfd of pid %d that handed-over sandbox %s "
                                                  "had; leaving it out.", h->pidfd, (int) h->info.pid, id);
                }
        }

        /* Captured output: the pipes go on being read, what no reply carried yet is kept. Neither is worth
         * refusing the sandbox for. */
        for (size_t k = 0; k < 2; k++) {
                const HandoverCapture *c = &h->capture[k];

                if (c->fd) {
                        t.capture_fds[k] = take_fd(fds, c->fd, from_store);
                        if (t.capture_fds[k] >= 0 && !handover_is_pipe_read_end(t.capture_fds[k])) {
                                log_warning("Fd %s of sandbox %s is no pipe; its captured output stops here.", c->fd,
                                            id);
                                t.capture_fds[k] = safe_close(t.capture_fds[k]);
                        }
                }
                if (c->size > 0) {
                        r = capture_blob >= 0 ? handover_blob_read(capture_blob, c->offset, c->size, &t.capture_data[k]) :
                                                -EBADMSG;
                        if (r == -ENOMEM) {
                                close_many(t.capture_fds, 2);
                                free(t.capture_data[0]);
                                safe_close(t.pidfd);
                                return r;
                        }
                        if (r < 0)
                                log_warning("The captured output of sandbox %s did not come across; it is lost.", id);
                        else
                                t.capture_sizes[k] = (size_t) c->size;
                }
        }

        t.seccomp = seccomp_program_ref(seccomp);
        r = sandbox_adopt(s, h, &t);
        if (r == -EEXIST)
                return log_error_errno(r, "Handed-over sandbox %s has the id or name of another; leaving it out.",
                                       id);
        if (r < 0)
                return log_error_errno(r, "Failed to take over sandbox %s: %m", id);
        return 0;
}

/* Our keeper kills what it ends by the sandboxes' cgroups (KEEPER_CGROUP): it learns where they are. */
static void tell_keeper_cgroups(Server *s) {
        int r;

        if (!s->own_keeper || !s->cgroups)
                return;
        r = keeper_send_cgroup(s->own_keeper->fd, cgroup_manager_base_fd(s->cgroups), cgroup_manager_leaf(s->cgroups));
        if (r < 0)
                log_warning_errno(r, "Failed to tell the keeper where the sandboxes' cgroups are; after a crash it "
                                     "kills only its own children: %m");
}

int restart_adopt(Server *s, HandoverState *state, FdSet *stored, int own_link) {
        _cleanup_free_ char *reason = NULL;
        _cleanup_close_ int capture_blob = -EBADF;
        HandoverState from_store = {};
        SeccompProgram **programs = NULL;
        bool from_fd_store = !state;
        unsigned adopted = 0;
        int r;

        if (own_link >= 0) {
                char name[64];

                handover_keeper_fd_name(getppid(), name);
                r = keeper_link_add(s, name, own_link, /* own= */ true, NULL);
                if (r < 0)
                        return r;
                /* Stored now, not at stop: after a crash the next daemon still finds the keeper (and ends it). */
                r = store_add(name, s->own_keeper->fd);
                if (r < 0)
                        log_warning_errno(r, "Failed to store the keeper's link with the service manager, sandboxes "
                                             "will not survive a restart: %m");
        }

        if (from_fd_store) {
                int fd = fdset_take(stored, HANDOVER_FD_STATE);

                if (fd >= 0) {
                        store_remove(HANDOVER_FD_STATE);
                        r = handover_state_from_fd(fd, &from_store, &reason);
                        safe_close(fd);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                log_error("The state in the fd store is invalid (%s); not taking over any sandbox.",
                                          reason ?: strerror(-r));
                        else
                                state = &from_store;
                }
                /* Every keeper still linked: they hold the exit statuses of what they reaped. */
                for (size_t i = 0; i < stored->n; i++) {
                        const char *name = stored->fds[i].name;

                        if (stored->fds[i].fd < 0 ||
                            strncmp(name, HANDOVER_FD_KEEPER_PREFIX, strlen(HANDOVER_FD_KEEPER_PREFIX)) != 0 ||
                            keeper_find(s, name))
                                continue;
                        r = keeper_link_add(s, name, TAKE_FD(stored->fds[i].fd), false, NULL);
                        if (r < 0)
                                return r;
                }
        } else {
                for (char **k = state->keepers; k && *k; k++) {
                        int fd = fdset_take(stored, *k);

                        if (fd < 0) {
                                log_error("Keeper link %s was not passed across the re-exec.", *k);
                                continue;
                        }
                        r = keeper_link_add(s, *k, fd, streq_ptr(*k, state->own_keeper), NULL);
                        if (r < 0)
                                return r;
                }
        }

        capture_blob = fdset_take(stored, HANDOVER_FD_CAPTURE);
        if (from_fd_store && capture_blob >= 0)
                store_remove(HANDOVER_FD_CAPTURE);
        for (char **d = state ? state->dropped : NULL; d && *d; d++)
                log_error("Leaving a handed-over sandbox out: %s.", *d);
        /* One program per filter the state carries, shared by the sandboxes that loaded it. */
        if (state && state->n_seccomp > 0) {
                programs = calloc(state->n_seccomp, sizeof *programs);
                if (!programs) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < state->n_seccomp; i++) {
                        r = handover_seccomp_to_program(&state->seccomp[i], &programs[i]);
                        if (r < 0)
                                goto finish;
                        r = seccomp_program_recognize_default(&programs[i]);
                        if (r < 0)
                                goto finish;
                }
        }
        for (size_t i = 0; state && i < state->n_sandboxes; i++) {
                HandoverSandbox *h = &state->sandboxes[i];

                r = adopt_one(s, h, stored, capture_blob, h->seccomp >= 0 ? programs[h->seccomp] : NULL,
                              from_fd_store);
                if (r == -ENOMEM)
                        goto finish;
                if (r >= 0 && !h->discard)
                        adopted++;
        }

        sandbox_adopt_link_execs(s);

        /* A keeper none of whose sandboxes is still running holds nothing anybody tracks (all of a crashed
         * daemon's, say): told to go, it ends what is left. */
        LIST_FOREACH_SAFE(keepers, k, n, s->keepers)
                (void) keeper_link_release(k);

        for (size_t i = 0; i < stored->n; i++) {
                HandoverFd *f = &stored->fds[i];

                if (f->fd < 0)
                        continue;
                if (from_fd_store)
                        store_remove(f->name);
                /* The process of a record left out: nobody could see, limit or end it any more. */
                if (strncmp(f->name, HANDOVER_FD_SANDBOX_PREFIX, strlen(HANDOVER_FD_SANDBOX_PREFIX)) == 0 &&
                    handover_is_pidfd(f->fd)) {
                        log_warning("Killing the process behind handed-over pidfd '%s', whose sandbox was left out.",
                                    f->name);
                        (void) syscall(SYS_pidfd_send_signal, f->fd, SIGKILL, NULL, 0);
                        /* A re-exec's are still this process's children: reaped off the loop. */
                        if (!from_fd_store && s->closer) {
                                (void) async_reap(s->closer, 0, TAKE_FD(f->fd));
                                continue;
                        }
                } else
                        log_warning("Dropping handed-over fd '%s' that no sandbox claims.", f->name);
        }

        if (state && state->n_sandboxes > 0)
                log_info("Took over %u sandbox%s from the previous daemon.", adopted, adopted == 1 ? "" : "es");
        tell_keeper_cgroups(s);
        server_notify_status(s);
        r = 0;
finish:
        for (size_t i = 0; programs && i < state->n_seccomp; i++)
                seccomp_program_unref(programs[i]);
        free(programs);
        handover_state_done(&from_store);
        return r;
}

/* ---- handing over ---- */

/* What a successor gets: the state, the fds it names (with their names) and the captured output. */
typedef struct Handover {
        HandoverState state;
        char (*names)[3][64]; /* per sandbox: pidfd, stdout, stderr fd names */
        Sandbox **which;
        char *blob;           /* captured output not delivered yet */
        size_t blob_size;
        const SeccompProgram **programs; /* state.seccomp[i] is programs[i]'s filter */
} Handover;

static void handover_done(Handover *h) {
        for (size_t i = 0; i < h->state.n_seccomp; i++)
                free(h->state.seccomp[i].filter);
        free(h->state.seccomp);
        free(h->programs);
        free(h->state.sandboxes);
        free(h->state.keepers);
        free(h->state.fds);
        free(h->names);
        free(h->which);
        free(h->blob);
        *h = (Handover) {};
}

static int blob_append(Handover *h, const char *data, size_t size, HandoverCapture *ret) {
        char *b;

        ret->offset = h->blob_size;
        ret->size = size;
        if (size == 0)
                return 0;
        b = realloc(h->blob, h->blob_size + size);
        if (!b)
                return -ENOMEM;
        memcpy(b + h->blob_size, data, size);
        h->blob = b;
        h->blob_size += size;
        return 0;
}

/* The index of p's filter in the state, added on first use: each program once, however many share it. */
static int seccomp_index(Handover *h, const SeccompProgram *p) {
        HandoverSeccomp *l;
        const SeccompProgram **pl;
        int r;

        for (size_t i = 0; i < h->state.n_seccomp; i++)
                if (h->programs[i] == p)
                        return (int) i;
        l = realloc(h->state.seccomp, (h->state.n_seccomp + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        h->state.seccomp = l;
        pl = realloc(h->programs, (h->state.n_seccomp + 1) * sizeof *pl);
        if (!pl)
                return -ENOMEM;
        h->programs = pl;
        r = handover_seccomp_from_program(p, &h->state.seccomp[h->state.n_seccomp]);
        if (r < 0)
                return r;
        h->programs[h->state.n_seccomp] = p;
        return (int) h->state.n_seccomp++;
}

/* Whether sb goes to the successor, and as what. reaper names who reaps the daemon's own children. */
static int describe(Handover *h, Sandbox *sb, const char *reaper) {
        size_t n = h->state.n_sandboxes;
        HandoverSandbox *d = &h->state.sandboxes[n];
        bool discard = false;
        int r;

        if (sb->phase == SANDBOX_PHASE_FREEING)
                return 0;
        if (sb->phase != SANDBOX_PHASE_LIVE || !sb->keep_alive) {
                /* Nobody can ask for it (killed with its connection, a spawn cut short), but only its parent
                 * can reap it: a re-exec keeps it for that. A stopping daemon leaves it to the keeper. */
                if (sb->reaped || sb->reaper || !streq(reaper, HANDOVER_REAPER_SELF))
                        return 0;
                discard = true;
        }

        *d = (HandoverSandbox) {
                .creator_gid = sb->creator.gid,
                .creator_pid = sb->creator.pid,
                .top_exited = sb->reaped && !sb->ended,
                .discard = discard,
                .has_cgroup = sb->cgroup,
                .made_inside = sb->made_inside,
                .init_on_daemon_memory = !discard && !sb->reaped && sandbox_init_watched(sb),
                /* A reaped one needs nobody to reap it. */
                .reaper = (char *) (sb->reaped ? HANDOVER_REAPER_SELF : sb->reaper ? sb->reaper->name : reaper),
                .capturing = sb->capturing && !discard,
                .capture_limit = sb->captured.limit,
                .capture_total = sb->captured.kept,
                .capture_truncated = sb->captured.truncated,
        };
        /* What an Exec into it starts from; the copy is borrowed, like the info's strings. Not a nested
         * sandbox's: which pid namespace it made is not kept (SandboxOrigin.pid_namespace_below), so nothing
         * is made inside it after a restart. */
        d->seccomp = -1;
        if (!discard && sb->exec_base.kept && !sb->exec_of_id[0]) {
                d->exec_base = sb->exec_base;
                d->exec_base.seccomp = NULL;
                if (sb->exec_base.seccomp) {
                        r = seccomp_index(h, sb->exec_base.seccomp);
                        if (r < 0)
                                return r;
                        d->seccomp = r;
                }
        }
        sandbox_fill_info(sb, /* with_usage= */ false, &d->info);
        d->info.has_usage = sb->ended && sb->has_used;
        if (discard)
                d->info.state = SANDBOX_STARTING;
        else if (!sb->reaped)
                d->info.state = SANDBOX_RUNNING;
        if (!sb->reaped) {
                handover_sandbox_fd_name(sb->id, h->names[n][0]);
                d->pidfd = h->names[n][0];
        }
        for (size_t k = 0; d->capturing && k < 2; k++) {
                if (sb->capture[k].open) {
                        handover_capture_fd_name(sb->id, k, h->names[n][1 + k]);
                        d->capture[k].fd = h->names[n][1 + k];
                }
                size_t size;
                const char *data = capture_buffer_stream_pending(&sb->captured, k, &size);

                r = blob_append(h, data, size, &d->capture[k]);
                if (r < 0)
                        return r;
        }
        h->which[n] = sb;
        h->state.n_sandboxes++;
        return 1;
}

static int collect(Server *s, const char *reaper, Handover *ret) {
        Handover h = {};
        size_t n = MAX(s->n_sandboxes, 1U), n_keepers = 0;
        int r;

        h.state.sandboxes = calloc(n, sizeof *h.state.sandboxes);
        h.names = calloc(n, sizeof *h.names);
        h.which = calloc(n, sizeof *h.which);
        LIST_FOREACH(keepers, k, s->keepers)
                n_keepers++;
        h.state.keepers = calloc(n_keepers + 1, sizeof(char *));
        if (!h.state.sandboxes || !h.names || !h.which || !h.state.keepers) {
                handover_done(&h);
                return -ENOMEM;
        }

        LIST_FOREACH(sandboxes, sb, s->sandboxes) {
                if (h.state.n_sandboxes >= n)
                        break;
                r = describe(&h, sb, reaper);
                if (r < 0) {
                        handover_done(&h);
                        return r;
                }
        }

        n_keepers = 0;
        LIST_FOREACH(keepers, k, s->keepers)
                h.state.keepers[n_keepers++] = k->name;
        if (s->own_keeper)
                h.state.own_keeper = s->own_keeper->name;
        *ret = h;
        return 0;
}

/* Drops entry i from what is handed over (it could not be). */
static void handover_drop(Handover *h, size_t i) {
        size_t rest = h->state.n_sandboxes - i - 1;

        memmove(&h->state.sandboxes[i], &h->state.sandboxes[i + 1], rest * sizeof *h->state.sandboxes);
        memmove(&h->which[i], &h->which[i + 1], rest * sizeof *h->which);
        memmove(&h->names[i], &h->names[i + 1], rest * sizeof *h->names);
        h->state.n_sandboxes--;
        /* The names moved: point at them again. */
        for (size_t j = i; j < h->state.n_sandboxes; j++) {
                HandoverSandbox *d = &h->state.sandboxes[j];

                if (d->pidfd)
                        d->pidfd = h->names[j][0];
                for (size_t k = 0; k < 2; k++)
                        if (d->capture[k].fd)
                                d->capture[k].fd = h->names[j][1 + k];
        }
}

bool restart_can_hand_over(const Server *s) {
        if (!s->own_keeper)
                return false;
        /*
         * systemd 252 puts the next daemon into the service's own cgroup, which the kernel refuses while a
         * domain controller is enabled for the sandboxes' cgroups below it: the restart would fail, not
         * only lose the sandboxes. (systemd 254's DelegateSubgroup= places it in a leaf instead.) An
         * in-place re-exec has no such limit.
         */
        if (s->cgroups && cgroup_manager_base_takes_processes(s->cgroups) == 0) {
                log_warning("Not handing the sandboxes over: with the memory or io controller enabled for their "
                            "cgroups, the service manager could not start the next daemon. They are killed; "
                            "an in-place re-exec (SIGUSR2) keeps them.");
                return false;
        }
        return true;
}

void restart_hand_over(Server *s) {
        _cleanup_close_ int state_fd = -EBADF, blob_fd = -EBADF;
        Handover h = {};
        unsigned running = 0;
        int r;

        r = collect(s, s->own_keeper->name, &h);
        if (r < 0) {
                /* Their keeper ends them once its link is gone from the store. */
                log_error_errno(r, "Failed to describe the sandboxes for the next daemon: %m");
                store_remove(s->own_keeper->name);
                return;
        }

        /* The fds first, then the keeper learns of its future children, then the state that names them. */
        for (size_t i = 0; i < h.state.n_sandboxes; i++) {
                HandoverSandbox *d = &h.state.sandboxes[i];
                Sandbox *sb = h.which[i];

                r = 0;
                if (d->pidfd)
                        r = store_add(d->pidfd, sb->pidfd);
                for (size_t k = 0; r >= 0 && k < 2; k++)
                        if (d->capture[k].fd)
                                r = store_add(d->capture[k].fd, sb->capture[k].fd);
                if (r >= 0 && d->pidfd && !sb->reaper)
                        r = keeper_send_orphan(s->own_keeper->fd, sb->pid, sb->id, &sb->creator);
                if (r < 0) {
                        log_audit(LOG_WARNING, "kill", &sb->creator, sb->id,
                                  "Killing sandbox %s: it cannot be handed over (%s).", sb->id, strerror(-r));
                        (void) sandbox_kill_all(sb, SIGKILL);
                        handover_drop(&h, i--);
                        continue;
                }
                if (d->pidfd)
                        running++;
        }

        r = handover_blob_to_memfd(h.blob ?: "", h.blob_size, &blob_fd);
        if (r >= 0)
                r = store_add(HANDOVER_FD_CAPTURE, blob_fd);
        if (r >= 0)
                r = handover_state_to_memfd(&h.state, &state_fd);
        if (r >= 0)
                r = store_add(HANDOVER_FD_STATE, state_fd);
        if (r < 0) {
                log_error_errno(r, "Failed to hand the state over, the next daemon will not know these sandboxes "
                                   "(their keeper ends them): %m");
                store_remove(s->own_keeper->name);
        } else {
                /* The fds must be in the store before this process is gone and its messages with it. */
                r = sd_notify_barrier(0, BARRIER_TIMEOUT_USEC);
                if (r < 0)
                        log_warning_errno(r, "The service manager did not confirm it took the handed-over fds: %m");
                log_info("Handed %zu sandbox%s (%u running) over to the next daemon.", h.state.n_sandboxes,
                         h.state.n_sandboxes == 1 ? "" : "es", running);
                /* Its keeper must not take this exit for a crash: the sandboxes a previous daemon handed over
                 * are its keepers' children, so this one may have been told of none. */
                r = keeper_send_handed_over(s->own_keeper->fd);
                if (r < 0)
                        log_warning_errno(r, "Failed to tell the keeper the sandboxes were handed over, it ends "
                                             "them as after a crash: %m");
        }

        /* What was handed over stays as it is (sandbox_drop_all() leaves it running, its cgroup in place). */
        handover_done(&h);
}

/* ---- re-exec ---- */

typedef struct ExecFds {
        HandoverFd *fds;
        size_t n, cap;
} ExecFds;

static int exec_fds_add(ExecFds *e, const char *name, int fd) {
        if (e->n == e->cap) {
                size_t cap = MAX(e->cap * 2, 16U);
                HandoverFd *n = realloc(e->fds, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                e->fds = n;
                e->cap = cap;
        }
        e->fds[e->n++] = (HandoverFd) { (char *) name, fd };
        return 0;
}

static void set_inherited(const ExecFds *e, int state_fd, bool inherit) {
        for (size_t i = 0; i < e->n; i++)
                (void) fd_set_cloexec(e->fds[i].fd, !inherit);
        (void) fd_set_cloexec(state_fd, !inherit);
}

static void reexec_now(uv_timer_t *timer) {
        Server *s = timer->data;
        _cleanup_close_ int state_fd = -EBADF, blob_fd = -EBADF;
        _cleanup_free_ char **argv = NULL;
        char arg[64];
        ExecFds e = {};
        Handover h = {};
        size_t n_args, left;
        int r;

        r = collect(s, HANDOVER_REAPER_SELF, &h);
        if (r >= 0)
                r = exec_fds_add(&e, HANDOVER_FD_LISTEN, s->listen_fd);
        for (size_t i = 0; r >= 0 && i < h.state.n_sandboxes; i++) {
                HandoverSandbox *d = &h.state.sandboxes[i];

                if (d->pidfd)
                        r = exec_fds_add(&e, d->pidfd, h.which[i]->pidfd);
                for (size_t k = 0; r >= 0 && k < 2; k++)
                        if (d->capture[k].fd)
                                r = exec_fds_add(&e, d->capture[k].fd, h.which[i]->capture[k].fd);
        }
        LIST_FOREACH(keepers, k, s->keepers)
                if (r >= 0)
                        r = exec_fds_add(&e, k->name, k->fd);
        if (r >= 0)
                r = handover_blob_to_memfd(h.blob ?: "", h.blob_size, &blob_fd);
        if (r >= 0)
                r = exec_fds_add(&e, HANDOVER_FD_CAPTURE, blob_fd);
        if (r >= 0) {
                h.state.fds = e.fds;
                h.state.n_fds = e.n;
                h.state.socket_path = (char *) s->config.bound_path;
                r = handover_state_to_memfd(&h.state, &state_fd);
                h.state.fds = NULL;
        }

        n_args = strv_length(s->config.exec_argv);
        argv = r >= 0 ? calloc(n_args + 2, sizeof(char *)) : NULL;
        if (r >= 0 && !argv)
                r = -ENOMEM;
        if (r < 0) {
                log_error_errno(r, "Failed to prepare the re-exec, going on serving: %m");
                goto fail;
        }
        memcpy(argv, s->config.exec_argv, n_args * sizeof(char *));
        snprintf(arg, sizeof arg, "--deserialize=%d", state_fd);
        argv[n_args] = arg;

        /* The exec closes what is left of callers' fds in this thread: none may be a FUSE file whose server
         * does not answer. */
        left = async_closer_release_queued(s->closer, ASYNC_CLOSER_RELEASE_MSEC);
        if (left > 0)
                log_warning("%zu of the callers' fds not out of the table yet: the re-exec closes %s itself.", left,
                            left == 1 ? "it" : "them");
        set_inherited(&e, state_fd, true);
        execve(s->config.exec_path, argv, environ);
        r = -errno;
        set_inherited(&e, state_fd, false);
        log_error_errno(r, "Failed to re-execute %s, going on serving: %m", s->config.exec_path);

fail:
        handover_done(&h);
        free(e.fds);
        s->reexec_pending = false;
        (void) uv_poll_start(&s->listen_poll, UV_READABLE, server_on_listen);
        (void) sd_notify(false, "READY=1");
        s->status[0] = 0;
        server_notify_status(s);
}

void restart_reexec(Server *s) {
        if (s->reexec_pending)
                return;
        if (!s->config.exec_path || access(s->config.exec_path, X_OK) < 0) {
                log_error("Not re-executing: %s is not executable (%s); going on serving.",
                          s->config.exec_path ?: "the daemon's binary", strerror(errno));
                return;
        }

        log_info("Received SIGUSR2, re-executing %s.", s->config.exec_path);
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Re-executing.");
        /* New clients wait in the backlog for the new image; the connected ones are told. */
        uv_poll_stop(&s->listen_poll);
        server_close_connections(s, /* restarting= */ true);
        /* Its entries share this image's memory: killed before it goes, made again by the next one. */
        warm_pool_drain_now(s->warm_pool);
        /* Never handed over (the next image would take them for leftovers of a crash). */
        cgroup_spares_discard_all(s->cgroup_spares);

        /* The exec closes, in this thread, whatever is still in the table: the fds of the connections' unfinished
         * messages too (a caller's FUSE file, a lingering socket), which go to the closer only once their
         * handles closed, at the end of this iteration. So the exec comes in the next one. */
        s->reexec_pending = true;
        (void) uv_timer_start(&s->reexec_timer, reexec_now, 0, 0);
}
