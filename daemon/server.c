/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The listening socket, signals and the connection limits. Accepting is
 * cheap and bounded: a connection over the total or per-uid limit is closed
 * at once, so one user flooding the socket cannot lock the others out.
 */

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "bounded-close.h"
#include "cgroup-spare.h"
#include "connection.h"
#include "fd-util.h"
#include "log.h"
#include "methods.h"
#include "restart.h"
#include "sandbox.h"
#include "server.h"
#include "spawn-worker.h"
#include "warm-pool.h"

/* Closer workers at most: each stuck close holds one, so this many distinct uids with a close that never
 * returns would leave everyone's closes waiting (never the loop). Each is a thread with a 64 KiB stack. */
#define SERVER_CLOSER_WORKERS_MAX 64U

unsigned server_count_connections_of(const Server *s, uid_t uid) {
        unsigned n = 0;

        LIST_FOREACH(connections, c, s->connections)
                if (c->caller.uid == uid)
                        n++;
        return n;
}

static bool usage_matches(const HashNode *node, const void *key) {
        return hash_entry(node, UserUsage, node)->uid == *(const uid_t *) key;
}

static UserUsage *find_usage(const Server *s, uid_t uid) {
        HashNode *node = hash_table_find(&s->users, hash_u64(uid), usage_matches, &uid);

        return node ? hash_entry(node, UserUsage, node) : NULL;
}

unsigned server_count_sandboxes_of(const Server *s, uid_t uid) {
        const UserUsage *u = find_usage(s, uid);

        /* Failed spawns too, while their process still exists: a stuck one must count somewhere. */
        return u ? u->n_sandboxes : 0;
}

unsigned server_count_pending_spawns_of(const Server *s, uid_t uid) {
        const UserUsage *u = find_usage(s, uid);

        return u ? u->n_pending_spawns : 0;
}

UserUsage *server_user_usage(Server *s, uid_t uid) {
        UserUsage *u = find_usage(s, uid);

        if (u)
                return u;
        u = calloc(1, sizeof *u);
        if (!u)
                return NULL;
        u->uid = uid;
        if (hash_table_add(&s->users, &u->node, hash_u64(uid)) < 0) {
                free(u);
                return NULL;
        }
        return u;
}

void server_user_usage_release(Server *s, UserUsage *u) {
        if (!u || u->n_sandboxes > 0 || u->n_pending_spawns > 0)
                return;
        assert(u->capture_bytes == 0);
        hash_table_remove(&s->users, &u->node);
        free(u->groups);
        free(u);
}

void server_user_note_caller(UserUsage *u, const Caller *caller) {
        gid_t *groups = NULL;

        if (!u || !caller)
                return;
        if (u->has_caller && u->gid == caller->gid && u->n_groups == caller->n_groups &&
            (caller->n_groups == 0 || memcmp(u->groups, caller->groups, caller->n_groups * sizeof *groups) == 0))
                return;
        if (caller->n_groups > 0) {
                groups = malloc(caller->n_groups * sizeof *groups);
                if (!groups)
                        return;
                memcpy(groups, caller->groups, caller->n_groups * sizeof *groups);
        }
        free(u->groups);
        u->groups = groups;
        u->n_groups = caller->n_groups;
        u->gid = caller->gid;
        u->has_caller = true;
}

/* The user limits the policy now in force gives each uid that has sandboxes, written at once (cgroup.h says how
 * a lowered CPU quota holds those above it). A uid whose sandboxes were all taken over from a previous daemon
 * has no identity to look its rule up with: its limits are written at its next spawn, as before. */
static void apply_user_limits(Server *s) {
        HASH_TABLE_FOREACH(&s->users, node) {
                UserUsage *u = hash_entry(node, UserUsage, node);
                CgroupLimitType type;
                CgroupLimits limits;
                char reason[256];
                PolicyRule rule;
                bool has;
                int r;

                if (!u->has_caller)
                        continue;
                policy_lookup(s->policy, u->uid, u->gid, u->groups, u->n_groups, &rule);
                has = policy_user_limits(&rule, &limits);
                /* Spawns are refused naming it: said here too, where the admin reloads. */
                if (has && cgroup_manager_check_limits(s->cgroups, &limits, &type, reason, sizeof reason) < 0)
                        log_warning("The policy's user limits of uid " UID_FMT " cannot all be enforced on this "
                                    "host (%s): its spawns are refused until they can.", u->uid, reason);
                r = cgroup_manager_apply_user_limits(s->cgroups, u->uid, has ? &limits : NULL);
                if (r < 0)
                        log_warning_errno(r, "Cannot write the reloaded policy's limits of uid " UID_FMT
                                          " into its cgroup (some may be written); they are written again at its "
                                          "next spawn: %m", u->uid);
        }
}

bool server_user_over_budget(const Server *s, uid_t uid) {
        size_t bytes = 0, fds = 0;

        LIST_FOREACH(connections, c, s->connections)
                if (c->caller.uid == uid && !c->closing) {
                        size_t b, f;

                        varlink_reader_held(c->reader, &b, &f);
                        bytes += b;
                        fds += f;
                }
        /* A client whose fds take long to close (a FUSE server that never answers) must not make the
         * daemon keep ever more of them: those count until they are closed. */
        fds += async_closer_pending(s->closer, uid);
        return bytes > s->config.limits.held_bytes_per_uid || fds > s->config.limits.held_fds_per_uid;
}

void server_close_client_socket(Server *s, uid_t uid, int fd) {
        int queued = 0;

        if (fd < 0)
                return;
        if (shutdown(fd, SHUT_RDWR) >= 0 && ioctl(fd, FIONREAD, &queued) >= 0 && queued == 0) {
                safe_close(fd);
                return;
        }
        (void) async_close(s->closer, uid, fd);
}

void server_notify_status(Server *s) {
        char text[sizeof s->status];

        if (s->stopping)
                return;

        /* Sent on every change of what it reports, and only then: connections come and go often. */
        snprintf(text, sizeof text, "%s, %u sandbox%s, %u connection%s.",
                 s->policy_invalid ? "Serving root only (the policy does not load)" : "Serving", s->n_sandboxes,
                 s->n_sandboxes == 1 ? "" : "es", s->n_connections, s->n_connections == 1 ? "" : "s");
        if (streq(text, s->status))
                return;
        strcpy(s->status, text);
        (void) sd_notifyf(false, "STATUS=%s", text);
}

/* Admits or refuses one accepted socket. Refusals close it; the client sees EOF. */
/* For the origin lookup: a live sandbox of any owner by its id. */
static Sandbox *find_sandbox_id(void *userdata, const char *id) {
        return sandbox_find(userdata, id, 0);
}

static void server_admit(Server *s, int fd) {
        _cleanup_(caller_done) Caller caller = { .pidfd = -EBADF };
        int r;

        r = caller_from_socket(fd, &caller);
        if (r < 0) {
                log_warning_errno(r, "Failed to get the peer's credentials, closing connection: %m");
                /* Nobody to charge it to: root's lane, which root's own closes share. */
                server_close_client_socket(s, 0, fd);
                return;
        }

        if (s->n_connections >= s->config.limits.connections) {
                log_audit(LOG_WARNING, "refused", &caller, NULL, "Too many connections (%u), refusing.", s->n_connections);
                server_close_client_socket(s, caller.uid, fd);
                return;
        }
        if (!caller.privileged && server_count_connections_of(s, caller.uid) >= s->config.limits.connections_per_uid) {
                log_audit(LOG_WARNING, "refused", &caller, NULL, "Too many connections from uid " UID_FMT ", refusing.",
                          caller.uid);
                server_close_client_socket(s, caller.uid, fd);
                return;
        }
        /* Its fds already make the daemon hold too many (they may be stuck closing): no new ones. */
        if (!caller.privileged && server_user_over_budget(s, caller.uid)) {
                log_audit(LOG_WARNING, "refused", &caller, NULL,
                          "uid " UID_FMT " makes the daemon hold too much, refusing its connection.", caller.uid);
                server_close_client_socket(s, caller.uid, fd);
                return;
        }

        /* Now, while the process that connected is alive (its pidfd says so): see caller-origin.h. */
        origin_index_lookup(&s->origins, s->cgroups ? cgroup_manager_path(s->cgroups) : NULL,
                            s->cgroups ? cgroup_manager_leaf(s->cgroups) : NULL, caller.pidfd, caller.pid,
                            &caller.origin);
        if (caller.origin.kind == CALLER_ORIGIN_SANDBOX)
                log_debug("Connection from pid %d runs inside sandbox %s.", (int) caller.pid, caller.origin.sandbox);
        else if (caller.origin.kind == CALLER_ORIGIN_UNKNOWN)
                log_debug("Connection from pid %d: where it runs is not known (%s).", (int) caller.pid,
                          caller.origin.reason);

        r = connection_new(s, fd, &caller, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to set up connection: %m");
}

void server_on_listen(uv_poll_t *handle, int status, int events) {
        Server *s = handle->data;

        /* Bounded, so a connection storm cannot starve the clients already connected. */
        for (unsigned i = 0; i < 64; i++) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return;
                        /* EMFILE and friends: back off until the next event rather than spin. */
                        log_warning_errno(errno, "accept4() failed: %m");
                        return;
                }
                server_admit(s, fd);
        }
}

/* "policy.conf:12: unknown key 'max-sandbox' in [user:alice]; not applying the policy." */
static int log_conf_error(int r, const char *path, const ConfError *e, const char *consequence) {
        if (e->line > 0)
                return log_error_errno(r, "%s:%u: %s; %s.", path, e->line, e->reason, consequence);
        return log_error_errno(r, "%s: %s; %s.", path, e->reason, consequence);
}

/* Logs why a file did not load ("policy.conf:12: unknown key 'max-sandbox' in [user:alice]; not applying the
 * policy.") and fills *ret_error. */
static int reload_failed(int r, const char *path, const ConfError *e, ReloadError *ret_error) {
        ReloadError error = { .file = path, .line = e->line };

        /* A file the parser refused has a reason; one that could not be read has an errno. */
        if (e->reason[0]) {
                snprintf(error.reason, sizeof error.reason, "%s", e->reason);
                (void) log_conf_error(r, path, e, "not applying the policy");
        } else {
                snprintf(error.reason, sizeof error.reason, "%s", strerror(-r));
                log_error_errno(r, "Failed to load %s, not applying the policy: %m", path);
        }

        if (ret_error)
                *ret_error = error;
        return r;
}

int server_reload(Server *s, ReloadError *ret_error) {
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_(subid_file_freep) SubidFile *subuid = NULL, *subgid = NULL;
        DaemonLimits limits;
        ConfError error = {};
        int r;

        r = policy_load(s->config.policy_path, &policy, &error);
        if (r < 0)
                return reload_failed(r, s->config.policy_path, &error, ret_error);

        error = (ConfError) {};
        r = subid_file_load(s->config.subuid_path, &subuid, &error);
        if (r < 0)
                return reload_failed(r, s->config.subuid_path, &error, ret_error);
        error = (ConfError) {};
        r = subid_file_load(s->config.subgid_path, &subgid, &error);
        if (r < 0)
                return reload_failed(r, s->config.subgid_path, &error, ret_error);

        /* Command line limits win over the file's [limits]; both were validated before. */
        policy_get_limits(policy, &limits);
        for (char **a = s->config.limit_overrides; a && *a; a++)
                (void) limits_set_assignment(&limits, *a);

        policy_free(s->policy);
        subid_file_free(s->subuid);
        subid_file_free(s->subgid);
        s->policy = TAKE_PTR(policy);
        s->subuid = TAKE_PTR(subuid);
        s->subgid = TAKE_PTR(subgid);
        s->config.limits = limits;
        /* Budgets and rights may have changed: entries are made again under the new policy. */
        warm_pool_discard_all(s->warm_pool);
        cgroup_spares_discard_all(s->cgroup_spares);
        if (s->cgroups)
                apply_user_limits(s);
        if (s->policy_invalid)
                log_info("A valid policy is in force; serving every user again.");
        s->policy_invalid = NULL;
        server_notify_status(s);
        return 0;
}

static void refresh_subid_file(SubidFile *f) {
        ConfError error = {};
        int r;

        if (!f)
                return; /* no policy in force: only root is served, who needs no ranges */

        r = subid_file_refresh(f, &error);
        if (r == -EBADMSG)
                (void) log_conf_error(r, subid_file_path(f), &error, "keeping the ranges read before");
        else if (r < 0)
                log_error_errno(r, "Failed to read %s, keeping the ranges read before: %m", subid_file_path(f));
        else if (r > 0)
                log_info("%s changed: %zu ranges now in force.", subid_file_path(f),
                         subid_ranges_size(subid_file_ranges(f)));
}

void server_refresh_subids(Server *s) {
        refresh_subid_file(s->subuid);
        refresh_subid_file(s->subgid);
}

static void on_signal(uv_signal_t *handle, int signum) {
        Server *s = handle->data;

        if (signum == SIGHUP) {
                (void) sd_notify(false, "RELOADING=1");
                if (server_reload(s, NULL) >= 0)
                        log_info("Policy reloaded.");
                (void) sd_notify(false, "READY=1");
                server_notify_status(s);
                return;
        }
        if (signum == SIGUSR2) {
                restart_reexec(s);
                return;
        }

        log_info("Received %s, shutting down.", strsignal(signum));
        server_shutdown(s);
}

/* How often a close queued with no worker to do it tries to start one again. */
#define CLOSER_RETRY_MSEC 100

static void on_closer_retry(uv_timer_t *timer) {
        if (async_closer_kick(((Server *) timer->data)->closer) == 0)
                (void) uv_timer_stop(timer);
}

/* How often helpers that ended with nobody waiting for them are reaped. */
#define HELPER_REAPER_MSEC 5000

static void on_helper_reaper(uv_timer_t *timer) {
        bounded_close_reap_helpers();
}

static void on_after_iteration(uv_check_t *check) {
        Server *s = check->data;

        spawn_worker_flush_watches(false);
        /* A caller's fds (a pipe whose EOF its client waits for, say) must not wait for some later close. */
        if (!uv_is_active((uv_handle_t *) &s->closer_retry) && async_closer_kick(s->closer) > 0)
                (void) uv_timer_start(&s->closer_retry, on_closer_retry, CLOSER_RETRY_MSEC, CLOSER_RETRY_MSEC);
}

static void on_cgroup_event(Cgroup *cg, bool populated, bool frozen, void *userdata) {
        if (userdata)
                sandbox_cgroup_event(userdata, populated, frozen);
}

static void on_cgroup_events(uv_poll_t *handle, int status, int events) {
        Server *s = handle->data;
        int r;

        r = cgroup_manager_dispatch(s->cgroups, on_cgroup_event);
        if (r < 0)
                log_warning_errno(r, "Failed to read cgroup events: %m");
}

/*
 * The daemon's cgroup subtree. Without one (no cgroup2 tree, a cgroup not
 * delegated to it, --no-cgroups) it still serves, but refuses every limit.
 */
static int server_setup_cgroups(Server *s) {
        char layout[512];
        int r;

        if (s->config.no_cgroups) {
                snprintf(s->cgroups_missing, sizeof s->cgroups_missing, "nsboxd runs with --no-cgroups");
                return 0;
        }

        r = cgroup_manager_new(&(const CgroupManagerOptions) {
                                       .move_along = s->config.keeper_pids,
                                       .n_move_along = s->config.n_keeper_pids,
                                       .reexecuted = s->config.reexecuted,
                               },
                               &s->cgroups);
        if (r < 0) {
                snprintf(s->cgroups_missing, sizeof s->cgroups_missing, "nsboxd has no cgroup of its own: %s",
                         r == -ENOMEDIUM ? "this host has no cgroup2 tree" : strerror(-r));
                log_warning("Running without cgroups (%s): sandboxes get no limits and no whole-sandbox kill.",
                            s->cgroups_missing);
                return 0;
        }

        cgroup_manager_describe(s->cgroups, layout, sizeof layout);
        log_info("Sandbox cgroups below %s (%s).", cgroup_manager_path(s->cgroups), layout);

        r = uv_poll_init(s->loop, &s->cgroup_poll, cgroup_manager_event_fd(s->cgroups));
        if (r < 0) {
                s->cgroups = cgroup_manager_free(s->cgroups);
                return log_error_errno(EIO, "Failed to watch cgroup events: %s", uv_strerror(r));
        }
        s->cgroup_poll.data = s;
        (void) uv_poll_start(&s->cgroup_poll, UV_READABLE, on_cgroup_events);
        return 0;
}

int server_new(uv_loop_t *loop, int listen_fd, const ServerConfig *config, Server **ret) {
        _cleanup_close_ int fd = listen_fd;
        static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
        Server *s;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->config = *config;
        s->listen_fd = -EBADF;

        /* A policy that does not load must not leave every client with "connection refused" while
         * systemd gives up restarting: serve root (who can fix it and reload) and refuse everyone
         * else, with the built-in limits and the command line's, until a reload succeeds. */
        ReloadError error;
        r = server_reload(s, &error);
        if (r == -ENOMEM) {
                free(s);
                return r;
        }
        if (r < 0) {
                s->policy_invalid = error.file;
                limits_init(&s->config.limits);
                for (char **a = s->config.limit_overrides; a && *a; a++)
                        (void) limits_set_assignment(&s->config.limits, *a);
                log_warning("Serving root only until a valid policy is loaded (fix %s, then reload).", error.file);
        }

        s->service = methods_service();

        r = origin_index_init(&s->origins);
        if (r < 0) {
                log_error_errno(r, "Failed to read the daemon's own namespaces: %m");
                goto fail;
        }
        s->origins.find_id = find_sandbox_id;
        s->origins.userdata = s;

        r = async_closer_new(SERVER_CLOSER_WORKERS_MAX, &s->closer);
        if (r < 0)
                goto fail;

        r = fd_set_nonblock(fd, true);
        if (r < 0)
                goto fail;

        r = uv_poll_init(loop, &s->listen_poll, fd);
        if (r < 0) {
                r = -ENOMEM;
                goto fail;
        }
        s->listen_fd = TAKE_FD(fd);
        s->listen_poll.data = s;
        (void) uv_poll_start(&s->listen_poll, UV_READABLE, server_on_listen);

        /* Last: nothing after it fails, so its handle never needs undoing here. */
        (void) server_setup_cgroups(s);

        uv_timer_init(loop, &s->spawn_timer);
        s->spawn_timer.data = s;
        uv_timer_init(loop, &s->pause_timer);
        s->pause_timer.data = s;
        uv_timer_init(loop, &s->init_watch_timer);
        s->init_watch_timer.data = s;
        /* Off each spawn's path, once the iteration that made it is done (spawn_worker_flush_watches()). Not
         * a handle that keeps the loop running. */
        uv_check_init(loop, &s->after_iteration);
        s->after_iteration.data = s;
        (void) uv_check_start(&s->after_iteration, on_after_iteration);
        uv_unref((uv_handle_t *) &s->after_iteration);
        uv_timer_init(loop, &s->closer_retry);
        s->closer_retry.data = s;
        uv_timer_init(loop, &s->reexec_timer);
        s->reexec_timer.data = s;
        /* Helpers left stuck by a re-exec end some time later, children of this image. */
        uv_timer_init(loop, &s->helper_reaper);
        (void) uv_timer_start(&s->helper_reaper, on_helper_reaper, HELPER_REAPER_MSEC, HELPER_REAPER_MSEC);
        uv_unref((uv_handle_t *) &s->helper_reaper);
        /* Without memory for it, there is no warm pool: every spawn is cold. */
        (void) warm_pool_new(s, &s->warm_pool);
        /* Nor spare cgroups: every cold spawn makes its own. */
        if (s->cgroups)
                (void) cgroup_spares_new(loop, s->cgroups, &s->config.limits.spare_cgroups, &s->n_pending_spawns,
                                        &s->cgroup_spares);

        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                uv_signal_init(loop, &s->signals[i]);
                s->signals[i].data = s;
                uv_signal_start(&s->signals[i], on_signal, signals[i]);
        }

        *ret = s;
        return 0;

fail:
        async_closer_free(s->closer);
        policy_free(s->policy);
        subid_file_free(s->subuid);
        subid_file_free(s->subgid);
        free(s);
        return r;
}

void server_shutdown(Server *s) {
        if (s->stopping)
                return;
        s->stopping = true;
        (void) sd_notify(false, "STOPPING=1");

        uv_close((uv_handle_t *) &s->listen_poll, NULL);
        for (size_t i = 0; i < ELEMENTSOF(s->signals); i++)
                uv_close((uv_handle_t *) &s->signals[i], NULL);
        /* Never handed over: killed, and made again by the next daemon. */
        warm_pool_close(s->warm_pool);
        cgroup_spares_close(TAKE_PTR(s->cgroup_spares));

        /* Connections first, so no reply is attempted to a sandbox being dropped. With a keeper to hold
         * them, keepAlive sandboxes go to the next daemon; without, they die with this one. */
        if (restart_can_hand_over(s)) {
                server_close_connections(s, /* restarting= */ true);
                restart_hand_over(s);
                sandbox_drop_all(s, /* kill= */ false);
        } else {
                server_close_connections(s, /* restarting= */ false);
                sandbox_drop_all(s, /* kill= */ true);
        }
        restart_close_keepers(s);
        uv_close((uv_handle_t *) &s->spawn_timer, NULL);
        uv_close((uv_handle_t *) &s->pause_timer, NULL);
        /* Empty: every sandbox was freed, and its watch with it. */
        uv_close((uv_handle_t *) &s->init_watch_timer, NULL);
        spawn_worker_flush_watches(true);
        uv_close((uv_handle_t *) &s->after_iteration, NULL);
        uv_close((uv_handle_t *) &s->closer_retry, NULL);
        uv_close((uv_handle_t *) &s->reexec_timer, NULL);
        uv_close((uv_handle_t *) &s->helper_reaper, NULL);
        if (s->cgroups)
                uv_close((uv_handle_t *) &s->cgroup_poll, NULL);
}

void server_close_connections(Server *s, bool restarting) {
        /* The client may connect again and repeat the call (a Wait) to the next daemon. */
        LIST_FOREACH_SAFE(connections, c, n, s->connections)
                connection_close_with_error(c, restarting ? nsbox_error_restarting() : NULL);
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        /* Connections not yet accepted may still carry clients' fds. */
        if (s->closer && s->listen_fd >= 0)
                (void) async_close(s->closer, 0, TAKE_FD(s->listen_fd));
        /* Every sandbox released its usage and left the id index when it was dropped. */
        s->warm_pool = warm_pool_free(s->warm_pool);
        hash_table_done(&s->users);
        hash_table_done(&s->sandbox_ids);
        hash_table_done(&s->sandbox_names);
        origin_index_done(&s->origins);
        safe_close(s->listen_fd);
        /* Before the daemon leaves its cgroup: helpers stuck in a close stay where they were made, below it. */
        (void) async_closer_release_queued(s->closer, ASYNC_CLOSER_RELEASE_MSEC);
        /* Moves the daemon back and removes its cgroups, once no sandbox's is left. */
        cgroup_manager_free(s->cgroups);
        /* Workers still closing (or stuck) finish on their own; the process exit ends them. */
        async_closer_free(s->closer);
        policy_free(s->policy);
        subid_file_free(s->subuid);
        subid_file_free(s->subgid);
        free(s);
        return NULL;
}
