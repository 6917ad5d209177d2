/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox table. An entry lives from clone3() until nobody can ask for
 * its exit status any more:
 *   - a spawn that failed before exec is hidden at once and dropped when reaped;
 *   - an exited sandbox is dropped when a Wait delivered its status, or when
 *     its creating connection closes and it is not keepAlive;
 *   - a running sandbox whose connection closes is killed unless keepAlive.
 * Exits are seen through the pidfd on the loop and reaped with
 * waitid(P_PIDFD), so no zombie outlives a loop iteration. A sandbox with a
 * cgroup ends when its top process is reaped and the cgroup is empty: what
 * the top process leaves behind (a daemonized child outside a pid namespace)
 * is killed then, as a pid namespace's init takes its namespace with it, and
 * every kill the daemon decides on (kill-on-close, the spawn and runtime
 * timeouts, shutdown) reaches every process in the cgroup.
 */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "async-close.h"
#include "cgroup.h"
#include "connection.h"
#include "fd-util.h"
#include "log.h"
#include "namespace-fd.h"
#include "restart.h"
#include "sandbox.h"
#include "sandbox-init-watch.h"
#include "sandbox-list.h"
#include "time-util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* How long shutdown waits for killed sandboxes to die before leaving them to the daemon's exit. */
#define SHUTDOWN_REAP_TIMEOUT_MSEC 5000

static void sandbox_free_if_done(Sandbox *sb);
static void sandbox_check_end(Sandbox *sb);
static void sandbox_count_out_of_flight(Sandbox *sb);
static void sandbox_answer_waiters(Sandbox *sb);
static void sandbox_answer_pausers(Sandbox *sb, int r);
static void sandbox_conclude_spawn(Sandbox *sb, const SpawnError *error);
static void sandbox_answer_died_before_exec(Sandbox *sb);
static void sandbox_dispatch_held_calls(Sandbox *sb);
static void sandbox_stream_output(Sandbox *sb);

/* Bytes one read of captured output takes; the loop serves others between reads. */
#define CAPTURE_READ_MAX (64U * 1024U)
/* Reads of the final drain at exit: a process that outlived the sandbox's top one and keeps writing
 * cannot hold the loop here. */
#define CAPTURE_DRAIN_READS_MAX 64U
/* Bytes past the limit one wake-up discards at most: a whole pipe, however large. */
#define CAPTURE_DROP_MAX (16U * 1024U * 1024U)
/* Past the limit, a stream's pipe is drained at most this often and grown to this size: a sandbox that
 * writes without end (yes(1)) costs the daemon 100 wake-ups a second, not one per write, and may still
 * write 100 MiB a second into the void. */
#define CAPTURE_DROP_REST_MSEC 10U
#define CAPTURE_DROP_PIPE_SIZE (1024 * 1024)
/* JSON text of output one "continues" Wait reply carries at most. Pieces go out while the client reads
 * them, so a streaming client costs the daemon at most its connection's backlog and one piece. */
#define CAPTURE_PIECE_TEXT_MAX (128U * 1024U)
/* JSON text of output the final Wait reply carries at most (the IDL says so); what does not fit is
 * dropped and "truncated" set. It fits the connection's writer bound (4 MiB) behind a backlog and a
 * piece, so the exit status always gets out, whatever bytes the command wrote (a control byte is 6
 * bytes of JSON text). */
#define WAIT_FINAL_OUTPUT_TEXT_MAX (3U * 1024U * 1024U)
/* Room the final reply keeps for all it says besides the output. */
#define WAIT_REPLY_TEXT_RESERVE (64U * 1024U)
/* Behind it at most a backlog (256 KiB, connection.c) and a piece may be queued. */
_Static_assert(WAIT_FINAL_OUTPUT_TEXT_MAX + WAIT_REPLY_TEXT_RESERVE + 512U * 1024U <= VARLINK_WRITER_QUEUE_MAX_DEFAULT,
               "the final Wait reply must fit the writer's queue behind a backlog and a piece");

int sandbox_make_id(char ret[static SANDBOX_ID_LEN + 1]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t bytes[SANDBOX_ID_LEN / 2];
        ssize_t n;

        n = getrandom(bytes, sizeof bytes, 0);
        if (n < 0)
                return -errno;
        if ((size_t) n != sizeof bytes)
                return -EIO;

        for (size_t i = 0; i < sizeof bytes; i++) {
                ret[2 * i] = hex[bytes[i] >> 4];
                ret[2 * i + 1] = hex[bytes[i] & 15];
        }
        ret[SANDBOX_ID_LEN] = 0;
        return 0;
}

/* Entries freed since the heap was last trimmed, past which it is (a table that shrank by as many at least). */
#define SANDBOXES_TRIM_FREED 1024U

static void sandbox_table_grew(Server *s) {
        s->n_sandboxes++;
}

/*
 * What the table's entries held (about 2 KiB each, in small pieces) stays with malloc once they are freed,
 * for ever: the daemon's memory would stay its peak's (18 MiB after 10,000 sandboxes). Once as many entries
 * were freed as remain, SANDBOXES_TRIM_FREED at least, or the table emptied, the free memory goes back to the
 * kernel: a few milliseconds of the loop after a large table drained, a trim every 1,024 sandboxes otherwise.
 */
static void sandbox_table_shrank(Server *s) {
        s->n_sandboxes--;
        s->n_sandboxes_freed++;
        if ((s->n_sandboxes_freed >= SANDBOXES_TRIM_FREED && s->n_sandboxes <= s->n_sandboxes_freed) ||
            (s->n_sandboxes == 0 && s->n_sandboxes_freed >= SANDBOXES_TRIM_FREED / 8)) {
                (void) malloc_trim(0);
                s->n_sandboxes_freed = 0;
        }
}

/* The last of an entry, once no handle of its refers to it any more. */
static void sandbox_free_memory(Sandbox *sb) {
        spawn_handshake_free(sb->handshake);
        safe_close(sb->answer_fd);
        safe_close(sb->pidfd);
        safe_close(sb->pid_namespace_below_fd);
        capture_buffer_done(&sb->captured);
        free(sb->capture);
        free(sb->runtime_timer);
        /* Allocated and never watched (a failed uv_poll_init()); a closed one is freed by its callback. */
        free(sb->sync_poll);
        free(sb->report_poll);
        free(sb->name);
        free(sb->cgroup_path);
        free(sb->rlimits);
        sandbox_exec_base_done(&sb->exec_base);
        free(sb);
}

/* An fd is closed only after its poll handle is: libuv drops the epoll watch of
 * a closing handle's fd number, which by then may belong to a newer spawn. */
static void on_handle_closed(uv_handle_t *handle) {
        Sandbox *sb = handle->data;

        if (sb->report_poll && handle == (uv_handle_t *) sb->report_poll) {
                sb->report_fd = safe_close(sb->report_fd);
                free(sb->report_poll);
                sb->report_poll = NULL;
        }
        if (sb->sync_poll && handle == (uv_handle_t *) sb->sync_poll) {
                sb->handshake = spawn_handshake_free(sb->handshake);
                free(sb->sync_poll);
                sb->sync_poll = NULL;
        }
        for (size_t i = 0; sb->capture && i < SANDBOX_STREAMS; i++)
                if (handle == (uv_handle_t *) &sb->capture[i].poll)
                        sb->capture[i].fd = safe_close(sb->capture[i].fd);

        if (--sb->handles_open > 0)
                return;

        sandbox_free_memory(sb);
}

/* The cgroup's path as SandboxInfo reports it: the live cgroup's own string, kept apart once it is gone. */
static const char *sandbox_cgroup_path(const Sandbox *sb) {
        return sb->cgroup_path ?: (sb->cgroup ? cgroup_path(sb->cgroup) : NULL);
}

/*
 * The cgroup goes with the entry. One that cannot go yet (its processes were
 * left running, or one is stuck in the kernel past shutdown's deadline) is
 * left in place: the next start of the daemon removes it once it is empty.
 */
static void sandbox_release_cgroup(Sandbox *sb) {
        if (!sb->cgroup)
                return;
        /* Reported after it is gone; until then it is the cgroup's own string. Without memory for it the
         * entry reports no cgroup any more, which is all that is lost. */
        if (!sb->cgroup_path)
                sb->cgroup_path = strdup(cgroup_path(sb->cgroup));
        if (sb->left_running) {
                cgroup_abandon(TAKE_PTR(sb->cgroup));
                return;
        }
        /* Off the loop: the next request need not wait for the kernel to tear down a directory in every
         * hierarchy. */
        cgroup_remove_empty(TAKE_PTR(sb->cgroup));
}

static void on_pidfd(uv_poll_t *handle, int status, int events);

/* The handshake is over, one way or the other: stop watching its fd and free it. */
static void sandbox_forget_handshake(Sandbox *sb) {
        if (sb->sync_poll_open) {
                sb->sync_poll_open = false;
                uv_close((uv_handle_t *) sb->sync_poll, on_handle_closed);
        } else
                sb->handshake = spawn_handshake_free(sb->handshake);
}

/* Watches the pidfd for the exit, from the end of the handshake on: until then the child must not be
 * reaped, since the handshake writes to /proc/PID, which a reaped child's pid could name another process. */
static void sandbox_watch_exit(Sandbox *sb) {
        if (!sb->reaped && !uv_is_active((uv_handle_t *) &sb->pidfd_poll))
                (void) uv_poll_start(&sb->pidfd_poll, UV_READABLE, on_pidfd);
}

static void on_capture(uv_poll_t *handle, int status, int events);
static void capture_update_watch(Sandbox *sb);

/* Stops reading stream i; its fd is closed once libuv is done with the handle. */
static void capture_close(Sandbox *sb, size_t i) {
        SandboxCapture *c = &sb->capture[i];

        if (c->rest_open) {
                c->rest_open = c->resting = false;
                uv_timer_stop(&c->rest);
                uv_close((uv_handle_t *) &c->rest, on_handle_closed);
        }
        if (!c->open)
                return;
        c->open = false;
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *) &c->poll, on_handle_closed);
}

static void on_capture_rest(uv_timer_t *handle) {
        Sandbox *sb = handle->data;

        sb->capture[handle == &sb->capture[0].rest ? 0 : 1].resting = false;
        capture_update_watch(sb);
}

/* Stream i is past the limit: it is drained again only after a rest, by when a whole (larger) pipe may
 * have filled. Without a timer it is drained as it comes, as before. */
static void capture_rest(Sandbox *sb, size_t i) {
        SandboxCapture *c = &sb->capture[i];

        if (!c->open)
                return;
        if (!c->rest_open) {
                if (uv_timer_init(sb->server->loop, &c->rest) < 0)
                        return;
                c->rest.data = sb;
                c->rest_open = true;
                sb->handles_open++;
                /* The pages are the writer's (charged to the sandbox's memory cgroup as it writes). */
                (void) fcntl(c->fd, F_SETPIPE_SZ, CAPTURE_DROP_PIPE_SIZE);
        }
        if (uv_timer_start(&c->rest, on_capture_rest, CAPTURE_DROP_REST_MSEC, 0) < 0)
                return;
        c->resting = true;
        uv_poll_stop(&c->poll);
}

/* What the owner's sandboxes together may still keep (capture-bytes-per-user). */
static uint64_t capture_user_room(const Sandbox *sb) {
        size_t max = sb->server->config.limits.capture_bytes_per_uid;

        if (!sb->usage || sb->usage->capture_bytes >= max)
                return 0;
        return max - sb->usage->capture_bytes;
}

/*
 * Output past the limit moves from the pipe to /dev/null inside the kernel: a sandbox that writes without
 * end (yes(1)) costs the daemon a wake-up per pipeful, not a copy of every byte. Without /dev/null (or
 * splice()), it is read into a scratch buffer as before.
 */
static ssize_t capture_drop(int fd) {
        static char scratch[CAPTURE_READ_MAX];
        static int discard_fd = -EBADF;
        ssize_t n;

        if (discard_fd == -EBADF) {
                discard_fd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (discard_fd < 0)
                        discard_fd = -errno;
        }
        if (discard_fd >= 0) {
                n = splice(fd, NULL, discard_fd, NULL, CAPTURE_DROP_MAX, SPLICE_F_NONBLOCK);
                if (n >= 0 || (errno != EINVAL && errno != ENOSYS))
                        return n;
        }
        return read(fd, scratch, sizeof scratch);
}

/*
 * One non-blocking read of stream i: kept while under the limit, dropped past it. Returns > 0 after
 * reading, 0 at EOF or on an error (the stream is closed then), -EAGAIN when nothing is there.
 */
static int capture_read(Sandbox *sb, size_t i) {
        SandboxCapture *c = &sb->capture[i];
        char *to = NULL;
        size_t want = capture_buffer_room(&sb->captured, i, (size_t) MIN((uint64_t) CAPTURE_READ_MAX, capture_user_room(sb)),
                                          &to);
        ssize_t n;

        n = want > 0 ? read(c->fd, to, want) : capture_drop(c->fd);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -EAGAIN;
        if (n <= 0) {
                if (n < 0)
                        log_debug_errno(errno, "Reading captured output of sandbox %s failed: %m", sb->id);
                capture_close(sb, i);
                return 0;
        }

        if (want > 0) {
                capture_buffer_commit(&sb->captured, i, (size_t) n);
                sb->usage->capture_bytes += (size_t) n;
        } else {
                capture_buffer_dropped(&sb->captured);
                capture_rest(sb, i);
        }
        return 1;
}

static void on_capture(uv_poll_t *handle, int status, int events) {
        Sandbox *sb = handle->data;
        size_t i = handle == &sb->capture[0].poll ? 0 : 1;

        if (capture_read(sb, i) > 0)
                sandbox_stream_output(sb);
}

/* At exit: what the command wrote is in the pipes now; take it, then stop listening to whoever is left. */
static void capture_finish(Sandbox *sb) {
        for (size_t i = 0; i < SANDBOX_STREAMS; i++) {
                for (unsigned k = 0; sb->capture[i].open && k < CAPTURE_DRAIN_READS_MAX; k++)
                        if (capture_read(sb, i) <= 0)
                                break;
                capture_close(sb, i);
        }
}

/* Takes both fds in every case: on failure those without an open handle are still in capture[i].fd. */
/* The streams' state, made when a sandbox captures its output (most do not). */
static int capture_alloc(Sandbox *sb) {
        sb->capture = calloc(SANDBOX_STREAMS, sizeof(SandboxCapture));
        if (!sb->capture)
                return -ENOMEM;
        for (size_t i = 0; i < SANDBOX_STREAMS; i++)
                sb->capture[i].fd = -EBADF;
        return 0;
}

static int capture_start(Sandbox *sb, const int fds[2], uint64_t limit) {
        if (capture_alloc(sb) < 0) {
                for (size_t i = 0; i < SANDBOX_STREAMS; i++)
                        safe_close(fds[i]);
                return -ENOMEM;
        }
        sb->capturing = true;
        capture_buffer_init(&sb->captured, limit);
        for (size_t i = 0; i < SANDBOX_STREAMS; i++)
                sb->capture[i].fd = fds[i];
        for (size_t i = 0; i < SANDBOX_STREAMS; i++) {
                SandboxCapture *c = &sb->capture[i];

                if (uv_poll_init(sb->server->loop, &c->poll, c->fd) < 0)
                        return -EIO;
                c->poll.data = sb;
                c->open = true;
                sb->handles_open++;
                if (uv_poll_start(&c->poll, UV_READABLE, on_capture) < 0)
                        return -EIO;
        }
        return 0;
}

static bool waiter_streams(const SandboxClient *cl) {
        return cl->connection->call.flags & VARLINK_CALL_MORE;
}

/* The owner's count of held output forgets the n bytes sb no longer holds. */
static void capture_uncount(Sandbox *sb, size_t n) {
        if (!sb->usage)
                return;
        assert(sb->usage->capture_bytes >= n);
        sb->usage->capture_bytes -= n;
}

/* What out carried left sb: a reply took it. */
static void capture_consume(Sandbox *sb, const WaitOutput *out) {
        capture_uncount(sb, out->stdout_size + out->stderr_size);
        capture_buffer_consume(&sb->captured, out);
}

/* Everything sb holds is dropped (a final reply could not carry it). */
static void capture_discard(Sandbox *sb) {
        capture_uncount(sb, capture_buffer_pending(&sb->captured));
        capture_buffer_discard(&sb->captured);
}

/* Whether a Wait with "more" on sb has a client that does not read its replies. */
static bool capture_held_back(const Sandbox *sb) {
        LIST_FOREACH(waiters, cl, sb->waiters)
                if (waiter_streams(cl) && connection_backed_up(cl->connection))
                        return true;
        return false;
}

/* Reads the pipes unless a streaming client is behind: then the sandbox blocks on its own writes until
 * that client reads (or goes away). */
static void capture_update_watch(Sandbox *sb) {
        bool hold = capture_held_back(sb);

        for (size_t i = 0; sb->capture && i < SANDBOX_STREAMS; i++) {
                SandboxCapture *c = &sb->capture[i];

                if (!c->open)
                        continue;
                if (hold || c->resting)
                        uv_poll_stop(&c->poll);
                else if (!uv_is_active((uv_handle_t *) &c->poll))
                        (void) uv_poll_start(&c->poll, UV_READABLE, on_capture);
        }
}

/* Counts sb against its owner at once, so a failure after it releases it like any other entry's, and
 * indexes its id; sandbox_unindex() undoes both. */
static int sandbox_count_and_index(Server *s, Sandbox *sb, uid_t owner_uid) {
        int r;

        sb->usage = server_user_usage(s, owner_uid);
        if (!sb->usage)
                return -ENOMEM;
        sb->usage->n_sandboxes++;
        r = hash_table_add(&s->sandbox_ids, &sb->id_node, hash_string(sb->id));
        if (r < 0)
                return r;
        sb->id_node_added = true;
        return 0;
}

/* Undoes what sandbox_new() counted and indexed so far, for an entry that never makes it into the table. */
static void sandbox_unindex(Server *s, Sandbox *sb) {
        if (sb->id_node_added)
                hash_table_remove(&s->sandbox_ids, &sb->id_node);
        sb->id_node_added = false;
        if (sb->name_node_added)
                hash_table_remove(&s->sandbox_names, &sb->name_node);
        sb->name_node_added = false;
        origin_index_remove(&s->origins, &sb->origin);
        if (sb->usage) {
                /* What it holds is freed with the entry, uncounted now. */
                capture_uncount(sb, capture_buffer_pending(&sb->captured));
                sb->usage->n_sandboxes--;
                server_user_usage_release(s, TAKE_PTR(sb->usage));
        }
}

static void sandbox_free(Sandbox *sb) {
        Server *s = sb->server;
        bool in_flight = sandbox_spawn_in_flight(sb);

        if (sb->phase == SANDBOX_PHASE_FREEING)
                return;
        sb->phase = SANDBOX_PHASE_FREEING;

        /* Nobody may still be waiting on an entry that goes away. */
        sandbox_answer_waiters(sb);
        sandbox_answer_pausers(sb, -ESRCH);
        sandbox_init_watch_remove(sb);
        sb->spawn_client = NULL;
        if (in_flight)
                sandbox_count_out_of_flight(sb);
        if (sb->sync_poll_open) {
                sb->sync_poll_open = false;
                uv_close((uv_handle_t *) sb->sync_poll, on_handle_closed);
        }
        sandbox_release_cgroup(sb);

        if (sb->owner) {
                LIST_REMOVE(owned, sb->owner->owned, sb);
                sb->owner = NULL;
        }
        /* Processes Exec started in it outlive the entry only as long as their kill takes. */
        LIST_FOREACH_SAFE(execs, e, n, sb->execs) {
                LIST_REMOVE(execs, sb->execs, e);
                e->exec_of = NULL;
        }
        if (sb->exec_of) {
                LIST_REMOVE(execs, sb->exec_of->execs, sb);
                sb->exec_of = NULL;
        }
        sandbox_list_forget(s, sb);
        LIST_REMOVE(sandboxes, s->sandboxes, sb);
        sandbox_unindex(s, sb);
        sandbox_table_shrank(s);
        server_notify_status(s);
        /* Out of the table: they find it gone. */
        sandbox_dispatch_held_calls(sb);

        /* Taken over: no spawn report, maybe no pidfd. */
        if (sb->pidfd >= 0)
                uv_close((uv_handle_t *) &sb->pidfd_poll, on_handle_closed);
        if (sb->report_poll && !uv_is_closing((uv_handle_t *) sb->report_poll))
                uv_close((uv_handle_t *) sb->report_poll, on_handle_closed);
        for (size_t i = 0; sb->capture && i < SANDBOX_STREAMS; i++)
                capture_close(sb, i);
        if (sb->runtime_timer)
                uv_close((uv_handle_t *) sb->runtime_timer, on_handle_closed);
        /* Taken over with no handle (ended before): nothing will call on_handle_closed(). */
        if (sb->handles_open == 0)
                sandbox_free_memory(sb);
}

/* Frees the entry if it ended and nobody can ask for it any more. */
static void sandbox_free_if_done(Sandbox *sb) {
        if (!sb->ended)
                return;
        if (sb->phase == SANDBOX_PHASE_FAILED || sb->phase == SANDBOX_PHASE_DETACHED)
                sandbox_free(sb);
}

/*
 * A Wait reply with the state and the captured output not delivered yet that fits budget bytes of JSON
 * text, which it consumes. A final reply drops what does not fit, and says "truncated".
 */
static struct json_object *sandbox_wait_reply_parameters(Sandbox *sb, SandboxState state, size_t budget,
                                                         bool final) {
        WaitOutput out;
        SandboxInfo info;
        struct json_object *p;

        capture_buffer_peek(&sb->captured, budget, &out);
        if (final && out.stdout_size + out.stderr_size < capture_buffer_pending(&sb->captured)) {
                log_debug("Sandbox %s: its output does not fit the final Wait reply, dropping the rest.", sb->id);
                out.truncated = true;
        }

        /* What it used comes with the end state only. */
        sandbox_fill_info(sb, /* with_usage= */ false, &info);
        info.state = state;
        info.has_usage = sb->ended && sb->has_used;
        p = wait_reply_encode_info(&info, sb->capturing ? &out : NULL);
        if (!p)
                return NULL;
        capture_consume(sb, &out);
        if (final && out.truncated) {
                capture_buffer_dropped(&sb->captured);
                capture_discard(sb);
        }
        return p;
}

/* The final Wait reply for connection c: output up to its bound, and to what c's writer can still take. */
static struct json_object *sandbox_wait_reply(Sandbox *sb, Connection *c) {
        size_t room = connection_write_room(c);
        size_t budget = MIN((size_t) WAIT_FINAL_OUTPUT_TEXT_MAX,
                            room > WAIT_REPLY_TEXT_RESERVE ? room - WAIT_REPLY_TEXT_RESERVE : 0);

        return varlink_reply_new(sandbox_wait_reply_parameters(sb, sb->state, budget, /* final= */ true), false);
}

/* One piece of pending output as a "continues" reply to c. */
static void sandbox_send_piece(Sandbox *sb, Connection *c) {
        connection_reply_continues(c, sandbox_wait_reply_parameters(sb, sb->state, CAPTURE_PIECE_TEXT_MAX,
                                                                    /* final= */ false));
}

/*
 * Pending output goes to each Wait with "more", one bounded piece after another while every such
 * client reads; without one it waits for the final reply. Then the pipes are read again, or not.
 */
static void sandbox_stream_output(Sandbox *sb) {
        for (;;) {
                size_t pending = capture_buffer_pending(&sb->captured);
                WaitOutput out;
                bool any = false;

                if (pending == 0 || capture_held_back(sb))
                        break;
                capture_buffer_peek(&sb->captured, CAPTURE_PIECE_TEXT_MAX, &out);
                LIST_FOREACH_SAFE(waiters, cl, n, sb->waiters)
                        if (waiter_streams(cl)) {
                                connection_reply_continues(cl->connection,
                                                           wait_reply_encode_output(sb->state, 0, 0, &out));
                                any = true;
                        }
                if (!any)
                        break;
                capture_consume(sb, &out);
                if (capture_buffer_pending(&sb->captured) >= pending)
                        break; /* nothing fit: cannot happen with a piece larger than one character */
        }
        capture_update_watch(sb);
}

/*
 * Ends a Wait on the ended sb: with "more", what is pending goes first, in pieces while the client reads
 * them; the final reply carries the rest that fits its bound. The exit status always gets out.
 */
static void sandbox_answer_final(Sandbox *sb, Connection *c) {
        if (c->call.flags & VARLINK_CALL_MORE)
                while (connection_is_open(c) && capture_buffer_pending(&sb->captured) > 0 && !connection_backed_up(c)) {
                        size_t pending = capture_buffer_pending(&sb->captured);

                        sandbox_send_piece(sb, c);
                        if (capture_buffer_pending(&sb->captured) >= pending)
                                break;
                }
        connection_reply(c, sandbox_wait_reply(sb, c), NULL, 0);
}

/*
 * Answers every Wait on sb: with the exit status once it was reaped, else
 * (the entry is going away) with NoSuchSandbox. The list is taken and every
 * waiter unlinked before the first reply, because a reply starts that
 * connection's next call, which may wait on, free, or close over this very
 * list.
 */
static void sandbox_answer_waiters(Sandbox *sb) {
        SandboxClient *list = TAKE_PTR(sb->waiters);
        bool exited = sb->ended && !sandbox_spawn_in_flight(sb);

        if (!list)
                return;

        LIST_FOREACH(waiters, cl, list)
                cl->waiting_for = NULL;

        /* The exit status was read: like waitpid(), that consumes it. */
        if (exited && sb->phase == SANDBOX_PHASE_LIVE)
                sb->phase = SANDBOX_PHASE_DETACHED;

        while (list) {
                SandboxClient *cl = list;

                LIST_REMOVE(waiters, list, cl);
                if (exited)
                        sandbox_answer_final(sb, cl->connection);
                else
                        connection_reply(cl->connection, nsbox_error_no_such_sandbox(sb->id), NULL, 0);
        }
}

int sandbox_hold_call_until_started(Sandbox *sb, Connection *c) {
        SandboxClient *cl = sandbox_client_of(c);

        if (!cl)
                return -ENOMEM;
        assert(!cl->held_for);
        cl->held_for = sb;
        LIST_PREPEND(held, sb->server->held, cl);
        return 0;
}

static void sandbox_client_release(SandboxClient *cl) {
        LIST_REMOVE(held, cl->connection->server->held, cl);
        cl->held_for = NULL;
}

/* sb's Spawn is answered, or it goes away: the calls from inside it run now. One at a time from the head,
 * as each may end connections and so take others off the list. */
static void sandbox_dispatch_held_calls(Sandbox *sb) {
        Server *s = sb->server;
        SandboxClient *cl;

        for (;;) {
                cl = NULL;
                LIST_FOREACH(held, i, s->held)
                        if (i->held_for == sb) {
                                cl = i;
                                break;
                        }
                if (!cl)
                        return;
                sandbox_client_release(cl);
                connection_dispatch_again(cl->connection);
        }
}

static void sandbox_client_stop_waiting(SandboxClient *cl) {
        Sandbox *sb = cl->waiting_for;

        if (!sb)
                return;
        LIST_REMOVE(waiters, sb->waiters, cl);
        cl->waiting_for = NULL;
        /* It may have been the client that held the pipes back. */
        if (sb->capturing)
                capture_update_watch(sb);
}

/* The top process's exit status is known (si_code CLD_*, si_status), from waitid() or from the keeper
 * that reaped it. */
static void sandbox_exited(Sandbox *sb, int code, int status) {
        sb->reaped = true;
        if (sb->pidfd >= 0)
                uv_poll_stop(&sb->pidfd_poll);
        if (sb->capturing)
                capture_finish(sb);
        /* What Exec started in it dies with it: with a pid namespace or a cgroup the kernel and the end
         * of the sandbox see to that too, without either only this does. */
        LIST_FOREACH(execs, e, sb->execs)
                (void) sandbox_kill(e, SIGKILL);
        if (sb->pid_namespace_below_fd >= 0) {
                int r = pid_namespace_kill(sb->pid_namespace_below_fd);

                if (r < 0)
                        log_warning_errno(r, "Cannot end the pid namespace below sandbox %s: %m", sb->id);
                sb->pid_namespace_below_fd = safe_close(sb->pid_namespace_below_fd);
        }

        if (code == CLD_EXITED) {
                sb->state = SANDBOX_EXITED;
                sb->exit_code = status;
        } else {
                sb->state = SANDBOX_KILLED;
                sb->signal = status;
        }

        sandbox_check_end(sb);
}

static void sandbox_reap(Sandbox *sb) {
        siginfo_t si = {};

        if (sb->reaped || sb->reaper)
                return;

        if (waitid((idtype_t) P_PIDFD, (id_t) sb->pidfd, &si, WEXITED | WNOHANG) < 0) {
                if (errno != ECHILD) {
                        log_error_errno(errno, "waitid() on sandbox %s failed: %m", sb->id);
                        return;
                }
                /* Someone else reaped it: record an unknown death rather than spin. */
                si.si_code = CLD_KILLED;
                si.si_status = SIGKILL;
                si.si_pid = sb->pid;
        }
        if (si.si_pid == 0)
                return; /* spurious wakeup */

        sandbox_exited(sb, si.si_code, si.si_status);
}

/* What made it end, from how its top process ended and what its cgroup saw. */
static void sandbox_decide_end_state(Sandbox *sb) {
        bool sigkill = (sb->state == SANDBOX_KILLED && sb->signal == SIGKILL) ||
                       /* init passes the command's death on as 128 + the signal */
                       (sb->state == SANDBOX_EXITED && sb->exit_code == 128 + SIGKILL);

        if (sb->timed_out)
                sb->state = SANDBOX_TIMED_OUT;
        else if (sigkill && sb->has_used && sb->used.oom_kills != UINT64_MAX && sb->used.oom_kills > 0)
                sb->state = SANDBOX_OOM_KILLED;
}

/* Its end, once it ended and its spawn was answered: the answer of its waiters, then the audit record (as for
 * the spawn's answer: the record's write need not delay them). */
static void sandbox_report_end(Sandbox *sb) {
        sandbox_decide_end_state(sb);
        sandbox_answer_waiters(sb);
        if (sb->state == SANDBOX_EXITED)
                log_audit(LOG_INFO, "exited", &sb->creator, sb->id, "Sandbox %s (pid %d) exited with status %d.",
                          sb->id, (int) sb->pid, sb->exit_code);
        else if (sb->state == SANDBOX_KILLED)
                log_audit(LOG_INFO, "killed", &sb->creator, sb->id, "Sandbox %s (pid %d) killed by %s.", sb->id,
                          (int) sb->pid, signal_to_string(sb->signal) ?: "a signal");
        else
                log_audit(LOG_INFO, sandbox_state_to_string(sb->state), &sb->creator, sb->id,
                          "Sandbox %s (pid %d) ended: %s.", sb->id, (int) sb->pid, sandbox_state_to_string(sb->state));
}

static void usage_from_cgroup(const CgroupUsage *u, SandboxUsage *ret) {
        *ret = (SandboxUsage) {
                .cpu_usec = u->cpu_usec,
                .memory_current = u->memory_current,
                .memory_peak = u->memory_peak,
                .tasks = u->tasks,
                .tasks_peak = u->tasks_peak,
                .oom_kills = u->oom_kills,
        };
}

/*
 * The sandbox ends when its top process is reaped and its cgroup is empty.
 * Whatever the top process left in the cgroup is killed; the cgroup event
 * of its emptying brings us back here.
 */
static void sandbox_check_end(Sandbox *sb) {
        bool populated = false;
        CgroupUsage u;

        if (!sb->reaped || sb->ended)
                return;

        if (sb->cgroup) {
                if (cgroup_read_events(sb->cgroup, &populated, NULL) < 0)
                        populated = false;
                if (populated) {
                        log_debug("Sandbox %s: its top process is gone, killing what it left behind.", sb->id);
                        (void) cgroup_kill(sb->cgroup);
                        return;
                }
                if (cgroup_read_usage(sb->cgroup, /* empty= */ true, &u) >= 0) {
                        usage_from_cgroup(&u, &sb->used);
                        sb->has_used = true;
                        sb->met_memory_limit = u.memory_limit_hits > 0 && u.memory_limit_hits != UINT64_MAX;
                }
        }
        if (sb->runtime_timer)
                uv_timer_stop(sb->runtime_timer);

        sb->ended = true;
        sb->paused = false;
        /* Nothing runs in it any more, and the kernel may give its namespaces' inodes to others. */
        origin_index_remove(&sb->server->origins, &sb->origin);

        /* It died before execve() and its report already ended: now the answer can say how. */
        if (sandbox_spawn_in_flight(sb) && sb->died_before_exec) {
                sandbox_release_cgroup(sb);
                return sandbox_answer_died_before_exec(sb);
        }

        /* One that ended before its spawn was answered is reported with the answer. */
        if (sb->phase == SANDBOX_PHASE_LIVE || sb->phase == SANDBOX_PHASE_DETACHED)
                sandbox_report_end(sb);

        /* Empty, with its usage read: its waiters need not wait for its removal (several directories, each
         * torn down by the kernel), which nothing they are told depends on. */
        sandbox_release_cgroup(sb);
        sandbox_free_if_done(sb);
}

void sandbox_cgroup_event(Sandbox *sb, bool populated, bool frozen) {
        if (!populated)
                sandbox_check_end(sb);
}

static void on_report(uv_poll_t *handle, int status, int events);

static void on_pidfd(uv_poll_t *handle, int status, int events) {
        Sandbox *sb = handle->data;

        /* A command done at once brings its report and its exit in one wake-up: the answer goes first, so
         * the Spawn's caller does not wait for the bookkeeping of the end (usage, the cgroup's removal). */
        if (sb->report_poll && uv_is_active((uv_handle_t *) sb->report_poll))
                on_report(sb->report_poll, 0, UV_READABLE);
        sandbox_reap(sb);
}

/* The spawn's outcome: the phase it leads to, the audit record, the Spawn's reply (if its caller is still there). */
/*
 * A spawn that failed while its cgroup met its memory limit says so. Its processes run on the daemon's memory
 * until execve(), where the OOM killer does not kill (spawn-worker.c): a charge over the limit fails instead,
 * and the step that failed names only the errno it got (ENOMEM; E2BIG from execve(); a child that could not
 * even report exits 127).
 */
static const SpawnError *note_memory_limit(Sandbox *sb, const SpawnError *error, SpawnError *buf) {
        CgroupUsage u;
        bool met = sb->met_memory_limit;
        size_t n;

        /* Its own cgroup only, made for this spawn: one it shares (an Exec's) may have met its limit before. A
         * child that died before its exec may have ended the sandbox already: then as read at its end. */
        if (!sb->ended && sb->cgroup && cgroup_read_usage(sb->cgroup, false, &u) >= 0)
                met = u.memory_limit_hits > 0 && u.memory_limit_hits != UINT64_MAX;
        if (!met)
                return error;
        *buf = *error;
        n = strlen(buf->message);
        snprintf(buf->message + n, sizeof buf->message - n, "%s(the sandbox reached its memory limit while it started)",
                 n > 0 ? " " : "");
        return buf;
}

static void sandbox_answer_spawn(Sandbox *sb, const SpawnError *error) {
        SandboxClient *cl = sb->spawn_client;
        Connection *c = cl ? cl->connection : NULL;
        bool abandoned = sb->phase == SANDBOX_PHASE_ABANDONED;
        SpawnError noted;

        sb->spawn_client = NULL;

        if (error) {
                error = note_memory_limit(sb, error, &noted);
                sb->phase = SANDBOX_PHASE_FAILED;
                log_audit(LOG_NOTICE, "spawn-failed", &sb->creator, sb->id, "Spawn failed at %s: %s",
                          error->stage, error->message);
                /* Moved into its v1 cgroups, it took its owner past the policy's tasks for all its sandboxes. */
                if (c && streq(error->stage, "cgroup") && error->error == EDQUOT)
                        connection_reply_error(c, nsbox_error_quota_exceeded("user-tasks-max"));
                else if (c)
                        connection_reply_error(c, nsbox_error_spawn_failed(error->stage, error->error, error->message));
                sandbox_dispatch_held_calls(sb);
                sandbox_free_if_done(sb);
                return;
        }

        /* Nobody knows the id of one whose caller went away: nobody could ever ask for it. */
        sb->phase = abandoned ? SANDBOX_PHASE_DETACHED : SANDBOX_PHASE_LIVE;
        if (sb->state == SANDBOX_STARTING)
                sb->state = SANDBOX_RUNNING;

        if (c) {
                int fd = fd_dup_cloexec(sb->pidfd);
                if (fd < 0) {
                        log_error_errno(fd, "Failed to duplicate pidfd: %m");
                        connection_reply_error(c, nsbox_error_spawn_failed("reply", -fd, strerror(-fd)));
                        (void) sandbox_kill_all(sb, SIGKILL);
                        sb->phase = SANDBOX_PHASE_DETACHED;
                } else {
                        SpawnReply reply = { .id = sb->id, .pid = sb->pid, .pidfd_index = 0,
                                             .has_namespace_inodes = true };

                        memcpy(reply.namespace_inodes, sb->namespace_inodes, sizeof reply.namespace_inodes);

                        snprintf(cl->last_spawn_id, sizeof cl->last_spawn_id, "%s", sb->id);
                        connection_reply(c, varlink_reply_new(spawn_reply_encode(&reply), false), &fd, 1);
                }
        }
        /* After the answer, which waits for nothing the record says: a write to the journal or to stderr is
         * tens of microseconds here, on every spawn's path. */
        log_audit(LOG_INFO, "spawn", &sb->creator, sb->id, "Sandbox %s started as pid %d.",
                  sb->name ?: sb->id, (int) sb->pid);

        /* It may have ended before the report arrived: now its end is recorded and waiters can learn of it. */
        if (sb->ended)
                sandbox_report_end(sb);
        sandbox_dispatch_held_calls(sb);
        sandbox_free_if_done(sb);
}

static void on_spawn_timer(uv_timer_t *timer) {
        sandbox_expire_spawns(timer->data);
}

/* One timer for all pending spawns, running only while there are any: an idle daemon never wakes up. */
static void spawn_timer_update(Server *s) {
        if (s->n_pending_spawns == 0)
                uv_timer_stop(&s->spawn_timer);
        else if (!uv_is_active((uv_handle_t *) &s->spawn_timer))
                uv_timer_start(&s->spawn_timer, on_spawn_timer, 1000, 1000);
}

/* The pending spawns in start order: with one timeout for all, the oldest is always the first to expire. */
static void pending_append(Server *s, Sandbox *sb) {
        QUEUE_APPEND(pending, s->pending_oldest, s->pending_newest, sb);
}

static void pending_remove(Server *s, Sandbox *sb) {
        QUEUE_REMOVE(pending, s->pending_oldest, s->pending_newest, sb);
}

/* One spawn less in flight: off the pending list and the counts; the timer stops with the last. */
static void sandbox_count_out_of_flight(Sandbox *sb) {
        Server *s = sb->server;

        /* Its child moved into its v1 cgroups before exec, or never will. */
        cgroup_release_after_spawn(sandbox_cgroup_of(sb));
        pending_remove(s, sb);
        s->n_pending_spawns--;
        sb->usage->n_pending_spawns--;
        spawn_timer_update(s);
}

/* The spawn is over, one way or the other: stop watching the handshake and the report pipe, count it out
 * of the spawns in flight, and answer (sandbox_answer_spawn() moves it out of its spawning phase). */
static void sandbox_conclude_spawn(Sandbox *sb, const SpawnError *error) {
        /* Taken first: answering may free sb. */
        int answer_fd = TAKE_FD(sb->answer_fd);

        sandbox_count_out_of_flight(sb);
        sandbox_forget_handshake(sb);
        sandbox_watch_exit(sb);
        uv_close((uv_handle_t *) sb->report_poll, on_handle_closed);
        /* Before the answer, which may free sb: its command runs already, and may hold init there. */
        if (answer_fd >= 0 && !error && !sb->reaped)
                sandbox_init_watch_add(sb, /* on_old_image= */ false);
        sandbox_answer_spawn(sb, error);
        /* The answer is out: init may leave the daemon's memory now. */
        safe_close(answer_fd);
}

static Sandbox *find_expired_spawn(Server *s, uint64_t now, uint64_t limit) {
        Sandbox *sb = s->pending_oldest;

        return sb && now - sb->start_loop_msec >= limit ? sb : NULL;
}

void sandbox_expire_spawns(Server *s) {
        uint64_t now = uv_now(s->loop), limit = (uint64_t) s->config.limits.spawn_timeout_sec * 1000U;
        Sandbox *sb;

        /*
         * Answered and counted out of the pending spawns at once, not when the child is gone: a
         * child stuck in an uninterruptible wait (a FUSE server that never answers) does not die
         * of SIGKILL until that wait ends. The entry stays, hidden, until it is reaped, and counts
         * against its owner's sandboxes meanwhile. One at a time, since answering may run the
         * caller's next call, which can change the table.
         */
        while ((sb = find_expired_spawn(s, now, limit))) {
                SpawnError error;

                log_audit(LOG_WARNING, "spawn-timeout", &sb->creator, sb->id,
                          "Sandbox %s did not reach execve within %us, killing it.", sb->id,
                          s->config.limits.spawn_timeout_sec);
                (void) sandbox_kill_all(sb, SIGKILL);
                spawn_error_set(&error, "timeout", ETIMEDOUT, NULL);
                sandbox_conclude_spawn(sb, &error);
        }
}

/* A spawn whose child died before it reached execve(), answered with how it died; sb is reaped. */
static void sandbox_answer_died_before_exec(Sandbox *sb) {
        SpawnError error;
        char how[64];

        if (sb->state == SANDBOX_KILLED) {
                snprintf(how, sizeof how, "killed by %s before execve", signal_to_string(sb->signal) ?: "a signal");
                spawn_error_set(&error, "killed", ECANCELED, how);
        } else {
                snprintf(how, sizeof how, "exited with status %d before execve", sb->exit_code);
                spawn_error_set(&error, "exited", ECHILD, how);
        }
        sandbox_conclude_spawn(sb, &error);
}

/* Its top process is not reaped before the report ends, so /proc/PID is still that process. */
static int open_pid_namespace_below(Sandbox *sb) {
        char path[64];
        int fd;

        if (!sb->origin.pid_namespace_below || sb->pid_namespace_below_fd >= 0)
                return 0;
        snprintf(path, sizeof path, "/proc/%d/ns/pid_for_children", (int) sb->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        sb->pid_namespace_below_fd = fd;
        return 0;
}

static void on_report(uv_poll_t *handle, int status, int events) {
        Sandbox *sb = handle->data;
        SpawnError error = {};
        int r;

        r = spawn_read_report(sb->report_fd, &sb->reached_exec, sb->namespace_inodes, &error);
        if (r == -EAGAIN)
                return;
        if (r == -ECHILD) {
                /* Its exit status, which the pidfd brings, is the real reason: answer with that. The answer
                 * waits for the sandbox's end, which waits for its init: init must not wait for the answer. */
                uv_poll_stop(sb->report_poll);
                sb->answer_fd = safe_close(sb->answer_fd);
                sb->died_before_exec = true;
                if (sb->ended)
                        sandbox_answer_died_before_exec(sb);
                return;
        }

        if (r < 0)
                spawn_error_set(&error, "report", -r, NULL);
        /* A failed spawn leaves nothing running: the reporting process exits, but an init it has may not (a
         * caller's filter can hold one), and the answer is the last anybody hears of the sandbox. */
        if (r != 0)
                (void) sandbox_kill_all(sb, SIGKILL);
        /* Namespaces its child made after joining others (or a time namespace) exist only now. */
        if (r == 0 && !sb->ended) {
                r = origin_index_add(&sb->server->origins, &sb->origin, sb, 0, sb->pidfd, sb->pid,
                                     sb->namespaces);
                if (r >= 0)
                        r = open_pid_namespace_below(sb);
                /*
                 * A command that ended at once took its namespaces' links in /proc with it: nothing left of
                 * it can call (a pid namespace of its own ended with its pid 1), as after any sandbox's end.
                 * The links go early in the process's exit, before its pidfd polls readable, and only then
                 * (the pidfd keeps its pid from being reused): ENOENT is that exit, as origin_index_add()
                 * takes it, whether or not the pidfd says so yet.
                 */
                if (r == -ENOENT || r == -ESRCH)
                        r = 0;
                if (r < 0) {
                        /* A sandbox the daemon could not tell its callers from would be taken for the host. */
                        spawn_error_set(&error, "origin", -r, NULL);
                        (void) sandbox_kill_all(sb, SIGKILL);
                }
        }
        sandbox_conclude_spawn(sb, r != 0 ? &error : NULL);
}

static void on_sync(uv_poll_t *handle, int status, int events);

/* Takes the handshake as far as it goes without waiting; the sync fd's events bring it further. */
static void sandbox_continue_handshake(Sandbox *sb) {
        SpawnError error = {};
        int r;

        r = spawn_handshake_step(sb->handshake, &error);
        if (r == -EAGAIN) {
                if (!sb->sync_poll_open) {
                        if (!sb->sync_poll)
                                sb->sync_poll = calloc(1, sizeof(uv_poll_t));
                        r = sb->sync_poll ? uv_poll_init(sb->server->loop, sb->sync_poll, spawn_handshake_fd(sb->handshake))
                                          : -ENOMEM;
                        if (r < 0) {
                                spawn_error_set(&error, "prepare", r == -ENOMEM ? ENOMEM : EIO, "sync socket");
                                goto fail;
                        }
                        sb->sync_poll->data = sb;
                        sb->sync_poll_open = true;
                        sb->handles_open++;
                        (void) uv_poll_start(sb->sync_poll, UV_READABLE, on_sync);
                }
                return;
        }
        if (r == -ECHILD) {
                /* It died before its release without a report: answered with how, once reaped. */
                sb->died_before_exec = true;
                sandbox_forget_handshake(sb);
                sandbox_watch_exit(sb);
                return;
        }
        if (r < 0)
                goto fail;

        sb->answer_fd = spawn_handshake_take_answer_fd(sb->handshake);
        sandbox_forget_handshake(sb);
        sandbox_watch_exit(sb);
        /* Woken only when the last writer is gone (EPOLLHUP; UV_DISCONNECT asks for nothing else on a pipe):
         * every report ends so, by the child's execve() or its death. The exec mark comes just before the
         * exec, and a wake-up for it was a second one per spawn: the loop read 616 bytes and slept again, or,
         * not let onto the CPU at once, waited runnable behind the command's whole exec. */
        (void) uv_poll_start(sb->report_poll, UV_DISCONNECT, on_report);
        return;

fail:
        (void) sandbox_kill_all(sb, SIGKILL);
        sandbox_conclude_spawn(sb, &error);
}

static void on_sync(uv_poll_t *handle, int status, int events) {
        sandbox_continue_handshake(handle->data);
}

/*
 * A child that cannot be tracked: killed, and reaped off the loop (it may be
 * stuck in the kernel). Its cgroup is killed and left, as it cannot be
 * removed before the child is gone: the next start removes it.
 */
static void sandbox_abandon_child(Server *s, uid_t owner, const SpawnHandle *handle, Cgroup *cgroup) {
        if (cgroup) {
                (void) cgroup_kill(cgroup);
                if (cgroup_remove(cgroup) < 0)
                        cgroup_abandon(cgroup);
        }
        (void) syscall(SYS_pidfd_send_signal, handle->pidfd, SIGKILL, NULL, 0);
        (void) async_reap(s->closer, owner, handle->pidfd);
        safe_close(handle->report_fd);
        close_many((int[]) { handle->capture_fds[0], handle->capture_fds[1] }, 2);
        spawn_handshake_free(handle->handshake);
}

static void on_runtime_timer(uv_timer_t *timer) {
        Sandbox *sb = timer->data;

        if (sb->ended || sb->timed_out)
                return;
        log_audit(LOG_NOTICE, "timeout", &sb->creator, sb->id,
                  "Sandbox %s reached its runtime limit of %" PRIu64 "ms, killing it.", sb->id,
                  sb->runtime_max_usec / 1000U);
        sb->timed_out = true;
        (void) sandbox_kill_all(sb, SIGKILL);
}

/* Names are unique per owner: the key is both. */
static uint64_t name_hash(const char *name, uid_t owner) {
        return hash_string(name) ^ hash_u64(owner);
}

SandboxClient *sandbox_client_of(Connection *c) {
        SandboxClient *cl = c->userdata;

        if (cl)
                return cl;
        cl = calloc(1, sizeof *cl);
        if (!cl)
                return NULL;
        cl->connection = c;
        c->userdata = cl;
        return cl;
}

int sandbox_new(Server *s, SandboxClient *owner, const SpawnRequest *req, const SandboxContainment *containment,
                const SpawnHandle *handle, Sandbox **ret) {
        /* The handle's groups are ours to free on every path; nothing here reads them (the exec base
         * took its copy before). */
        _cleanup_free_ _unused_ gid_t *groups = handle->groups;
        SandboxExecBase base = {};
        Sandbox *sb;
        int r;

        if (containment->exec_base) {
                base = *containment->exec_base;
                *containment->exec_base = (SandboxExecBase) {};
        }

        sb = calloc(1, sizeof *sb);
        if (!sb) {
                r = -ENOMEM;
                goto fail;
        }
        sb->pid_namespace_below_fd = sb->answer_fd = -EBADF;
        /* Freed with the entry from here on, whichever way it goes. */
        sb->exec_base = base;
        base = (SandboxExecBase) {};

        if (!containment->id || strlen(containment->id) != SANDBOX_ID_LEN) {
                r = -EINVAL;
                goto fail;
        }
        memcpy(sb->id, containment->id, SANDBOX_ID_LEN + 1);

        r = sandbox_count_and_index(s, sb, owner->connection->caller.uid);
        if (r < 0)
                goto fail;

        sb->made_inside = owner->connection->caller.origin.kind != CALLER_ORIGIN_HOST;
        if (req->name) {
                sb->name = strdup(req->name);
                if (!sb->name) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = hash_table_add(&s->sandbox_names, &sb->name_node,
                                   name_hash(sb->name, owner->connection->caller.uid));
                if (r < 0)
                        goto fail;
                sb->name_node_added = true;
        }
        /* Indexed before the loop reads anything else, so the first connection its command makes is known to
         * come from it: the command may run already (a child released right after its clone, methods.c), but a
         * connection's origin is looked up on this loop, once this call returned. What its child makes after
         * joining namespaces is indexed once it is made (on_report()): until then the child may still be in a
         * joined one, its sandbox's, which must not be taken for this one's. */
        sb->origin.pid_namespace_below = handle->pid_namespace_below;
        r = origin_index_add(&s->origins, &sb->origin, sb,
                             containment->cgroup ? cgroup_id(containment->cgroup) : 0, handle->pidfd,
                             handle->pid, req->namespaces & ~handle->made_after_joins);
        if (r < 0)
                goto fail;
        if (req->n_rlimits > 0) {
                sb->rlimits = calloc(req->n_rlimits, sizeof(SandboxRlimit));
                if (!sb->rlimits) {
                        r = -ENOMEM;
                        goto fail;
                }
                memcpy(sb->rlimits, req->rlimits, req->n_rlimits * sizeof(SandboxRlimit));
                sb->n_rlimits = req->n_rlimits;
        }
        if (containment->runtime_max_usec > 0) {
                sb->runtime_timer = calloc(1, sizeof(uv_timer_t));
                if (!sb->runtime_timer) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        r = uv_poll_init(s->loop, &sb->pidfd_poll, handle->pidfd);
        if (r < 0) {
                r = -EIO;
                goto fail;
        }
        sb->pidfd = handle->pidfd;
        sb->pidfd_poll.data = sb;
        sb->handles_open = 1;

        sb->report_poll = calloc(1, sizeof(uv_poll_t));
        r = sb->report_poll ? uv_poll_init(s->loop, sb->report_poll, handle->report_fd) : -ENOMEM;
        if (r < 0) {
                free(sb->report_poll);
                sb->report_poll = NULL;
                /* The first handle is known to the loop: close it, the callback frees the rest. */
                sb->pidfd = -EBADF;
                sandbox_unindex(s, sb);
                uv_close((uv_handle_t *) &sb->pidfd_poll, on_handle_closed);
                sandbox_abandon_child(s, owner->connection->caller.uid, handle, containment->cgroup);
                return -EIO;
        }
        sb->report_fd = handle->report_fd;
        sb->report_poll->data = sb;
        sb->handles_open = 2;
        sb->handshake = handle->handshake;

        sb->runtime_max_usec = containment->runtime_max_usec;
        if (sb->runtime_timer) {
                uv_timer_init(s->loop, sb->runtime_timer);
                sb->runtime_timer->data = sb;
                sb->handles_open++;
                /* Rounded up: a limit is never cut short. */
                uv_timer_start(sb->runtime_timer, on_runtime_timer, (sb->runtime_max_usec + 999U) / 1000U, 0);
        }

        sb->server = s;
        sb->pid = handle->pid;
        sb->phase = SANDBOX_PHASE_SPAWNING;
        sb->creator = caller_identity(&owner->connection->caller);
        sb->namespaces = req->namespaces;
        sb->joined_namespaces = sandbox_joined_namespaces(req);
        sb->keep_alive = req->keep_alive;
        sb->start_usec = now_usec(CLOCK_REALTIME);
        sb->start_loop_msec = uv_now(s->loop);
        sb->state = SANDBOX_STARTING;
        sb->owner = owner;
        sb->spawn_client = owner;
        sb->cgroup = containment->cgroup;
        sb->resources = containment->resources;
        if (containment->exec_of) {
                sb->exec_of = containment->exec_of;
                memcpy(sb->exec_of_id, containment->exec_of->id, sizeof sb->exec_of_id);
                LIST_PREPEND(execs, sb->exec_of->execs, sb);
        }
        sb->used = SANDBOX_USAGE_UNKNOWN;
        if (sb->cgroup)
                cgroup_set_userdata(sb->cgroup, sb);

        if (req->capture_output) {
                const DaemonLimits *l = &s->config.limits;

                r = capture_start(sb, handle->capture_fds,
                                  req->capture_bytes > 0 ? req->capture_bytes :
                                                           MIN((uint64_t) l->capture_bytes, (uint64_t) l->spawn.capture_bytes_max));
                if (r < 0) {
                        /* Not worth killing the sandbox for: a stream that cannot be watched is closed, and
                         * the command's writes to it fail. */
                        log_error("Cannot watch the captured output of sandbox %s, it is lost.", sb->id);
                        for (size_t i = 0; sb->capture && i < SANDBOX_STREAMS; i++)
                                if (!sb->capture[i].open)
                                        sb->capture[i].fd = safe_close(sb->capture[i].fd);
                }
        }

        LIST_PREPEND(sandboxes, s->sandboxes, sb);
        LIST_PREPEND(owned, owner->owned, sb);
        pending_append(s, sb);
        sandbox_table_grew(s);
        s->n_pending_spawns++;
        sb->usage->n_pending_spawns++;
        spawn_timer_update(s);
        server_notify_status(s);

        if (ret)
                *ret = sb;

        /* May answer the Spawn already (a handshake that failed at once): nothing may use sb after this. */
        sandbox_continue_handshake(sb);
        return 0;

fail:
        /* Untrackable, so it must not exist. */
        sandbox_abandon_child(s, owner->connection->caller.uid, handle, containment->cgroup);
        if (sb) {
                sandbox_unindex(s, sb);
                free(sb->name);
                free(sb->cgroup_path);
                free(sb->rlimits);
                free(sb->runtime_timer);
                sandbox_exec_base_done(&sb->exec_base);
        }
        sandbox_exec_base_done(&base);
        free(sb);
        return r;
}

static bool id_matches(const HashNode *node, const void *key) {
        return streq(hash_entry(node, Sandbox, id_node)->id, key);
}

static Sandbox *sandbox_find_entry(Server *s, const char *id);

typedef struct NameKey {
        const char *name;
        uid_t owner;
        const char *scope;     /* sandbox_name_scope() */
        bool any_scope;        /* instead: any sandbox's, none of the host's */
        const Sandbox *within; /* with any_scope: only entries within this one */
} NameKey;

/* Whose names sb's is one of: the host's (NULL), or those of the sandbox it was made inside (made_inside: a
 * nested Spawn's, which is the sandbox it is nested in; its id stays across a restart). */
static const char *entry_name_scope(const Sandbox *sb) {
        return sb->made_inside ? sb->exec_of_id : NULL;
}

const char *sandbox_name_scope(Server *s, const Caller *caller) {
        const Sandbox *origin;

        switch (caller->origin.kind) {
        case CALLER_ORIGIN_HOST:
                return NULL;
        case CALLER_ORIGIN_SANDBOX:
                origin = sandbox_find_entry(s, caller->origin.sandbox);
                return origin ? origin->id : "";
        default:
                return "";
        }
}

/* An entry holds its name while it shows: one that failed or nobody can ask for any more lets it go. */
static bool name_matches(const HashNode *node, const void *key) {
        const Sandbox *sb = hash_entry(node, Sandbox, name_node);
        const NameKey *k = key;

        return sb->creator.uid == k->owner && streq(sb->name, k->name) &&
               (k->any_scope ? sb->made_inside && (!k->within || sandbox_within(sb, k->within)) :
                               streq_ptr(entry_name_scope(sb), k->scope)) &&
               sandbox_is_visible(sb, k->owner);
}

static Sandbox *find_named(Server *s, const NameKey *k) {
        HashNode *node;

        if (!k->name)
                return NULL;
        node = hash_table_find(&s->sandbox_names, name_hash(k->name, k->owner), name_matches, k);
        return node ? hash_entry(node, Sandbox, name_node) : NULL;
}

Sandbox *sandbox_find_named(Server *s, const char *name, uid_t owner, const char *scope) {
        return find_named(s, &(NameKey) { .name = name, .owner = owner, .scope = scope });
}

Sandbox *sandbox_lookup(Server *s, const char *handle, uid_t uid, const char *scope) {
        Sandbox *sb = sandbox_find(s, handle, uid) ?: sandbox_find_named(s, handle, uid, scope);
        const Sandbox *within;

        if (sb)
                return sb;
        /* From the host: a name only a sandbox's process gave, as the host's own of that name come first. */
        if (!scope)
                return find_named(s, &(NameKey) { .name = handle, .owner = uid, .any_scope = true });
        /* From inside sandbox S: a name given inside one S may see (S itself, named from the sandbox it is
         * nested in, and what is nested in S), never one given inside a sibling; then the names the host gave
         * (what the caller may see of them, it checks). */
        within = *scope ? sandbox_find_entry(s, scope) : NULL;
        if (within) {
                sb = find_named(s, &(NameKey) { .name = handle, .owner = uid, .any_scope = true, .within = within });
                if (sb)
                        return sb;
        }
        return sandbox_find_named(s, handle, uid, NULL);
}

bool sandbox_is_visible(const Sandbox *sb, uid_t uid) {
        if (sb->phase != SANDBOX_PHASE_SPAWNING && sb->phase != SANDBOX_PHASE_LIVE)
                return false;
        return uid == 0 || sb->creator.uid == uid;
}

/* The entry with this id, whoever may see it. */
static Sandbox *sandbox_find_entry(Server *s, const char *id) {
        HashNode *node = hash_table_find(&s->sandbox_ids, hash_string(id), id_matches, id);

        return node ? hash_entry(node, Sandbox, id_node) : NULL;
}

bool sandbox_is_visible_to(Server *s, const Sandbox *sb, const Caller *caller) {
        const Sandbox *top;

        if (!sandbox_is_visible(sb, caller->uid))
                return false;
        switch (caller->origin.kind) {
        case CALLER_ORIGIN_HOST:
                return true;
        case CALLER_ORIGIN_SANDBOX:
                top = sandbox_find_entry(s, caller->origin.sandbox);
                return top && sandbox_within(sb, top);
        default:
                return false;
        }
}

Sandbox *sandbox_find(Server *s, const char *id, uid_t uid) {
        HashNode *node;
        Sandbox *sb;

        if (!id)
                return NULL;
        node = hash_table_find(&s->sandbox_ids, hash_string(id), id_matches, id);
        if (!node)
                return NULL;
        sb = hash_entry(node, Sandbox, id_node);
        return sandbox_is_visible(sb, uid) ? sb : NULL;
}

void sandbox_fill_info(const Sandbox *sb, bool with_usage, SandboxInfo *ret) {
        CgroupUsage u;

        *ret = (SandboxInfo) {
                .id = (char *) sb->id,
                .name = sb->name,
                .pid = sb->pid,
                .owner_uid = sb->creator.uid,
                .namespaces = sb->namespaces,
                .joined_namespaces = sb->joined_namespaces,
                .state = sb->state,
                .start_usec = sb->start_usec,
                .exit_code = sb->exit_code,
                .signal = sb->signal,
                .keep_alive = sb->keep_alive,
                .cgroup = (char *) sandbox_cgroup_path(sb), /* borrowed, as every string here */
                .resources = sb->resources,
                .rlimits = sb->rlimits,
                .n_rlimits = sb->n_rlimits,
                .runtime_max_usec = sb->runtime_max_usec,
                .paused = sb->paused,
                .usage = sb->used,
                .has_usage = with_usage && sb->has_used,
                .sandbox = sb->exec_of_id[0] ? (char *) sb->exec_of_id : NULL,
                .nested = sandbox_is_nested(sb),
        };

        if (with_usage && !sb->ended && sb->cgroup && cgroup_read_usage(sb->cgroup, /* empty= */ false, &u) >= 0) {
                usage_from_cgroup(&u, &ret->usage);
                ret->has_usage = true;
        }
}

int sandbox_kill(Sandbox *sb, int sig) {
        if (sb->reaped)
                return -ESRCH;
        if (syscall(SYS_pidfd_send_signal, sb->pidfd, sig, NULL, 0) < 0)
                return -errno;
        return 0;
}

int sandbox_kill_all(Sandbox *sb, int sig) {
        int r;

        if (sb->ended)
                return -ESRCH;
        if (!sb->cgroup) {
                r = sandbox_kill(sb, sig);
                return r < 0 ? r : 1;
        }
        return cgroup_signal_all(sb->cgroup, sig);
}

/*
 * Whether a freeze now could catch a process of the sandbox before its exec: its own spawn or one into it (an
 * Exec, a nested sandbox, which its cgroup holds too) in flight, whose child may be on the daemon's memory
 * holding a spawn worker, or whose answer waits for an exec the freeze would stop; or its init still on the
 * daemon's memory after the answer.
 */
static bool pause_must_wait(const Sandbox *sb) {
        if (sb->ended)
                return false;
        if (sandbox_spawn_in_flight(sb) || sandbox_init_on_daemon_memory(sb))
                return true;
        LIST_FOREACH(execs, e, sb->execs)
                if (pause_must_wait(e))
                        return true;
        return false;
}

/* How often a waiting Pause looks: at first at once, then less and less often while nothing changes. */
#define PAUSE_WAIT_FIRST_MSEC 1
#define PAUSE_WAIT_MAX_MSEC 32

static void pause_answer(Sandbox *sb, Connection *c, bool pause, int r) {
        log_audit(LOG_INFO, pause ? "pause" : "resume", &c->caller, sb->id, "%s sandbox %s: %s",
                  pause ? "Pausing" : "Resuming", sb->id, r < 0 ? strerror(-r) : "ok");
        /* A process Exec started has no cgroup of its own: it shares its sandbox's, which may have one. */
        if (r == -ENOMEDIUM)
                return connection_reply_error(
                        c, nsbox_error_limit_not_supported(pause ? "Pause" : "Resume",
                                                           sb->exec_of_id[0] ?
                                                                   "a process Exec started is frozen with its sandbox: "
                                                                   "pause the sandbox" :
                                                                   c->server->cgroups_missing));
        /* A sandbox that already ended has nothing left to freeze, as for Kill. */
        if (r < 0 && r != -ESRCH)
                return connection_reply_error(c, nsbox_error_spawn_failed("freeze", -r, strerror(-r)));
        connection_reply(c, varlink_reply_new(NULL, false), NULL, 0);
}

static void pauser_remove(SandboxClient *cl) {
        Server *s = cl->connection->server;

        LIST_REMOVE(pausers, s->pausers, cl);
        cl->pausing = NULL;
        if (!s->pausers)
                (void) uv_timer_stop(&s->pause_timer);
}

static SandboxClient *find_pauser(Server *s, const Sandbox *sb) {
        LIST_FOREACH(pausers, cl, s->pausers)
                if (!sb ? !pause_must_wait(cl->pausing) : cl->pausing == sb)
                        return cl;
        return NULL;
}

/* The Pauses waiting on sb, answered with r (or, r > 0, frozen now that init left). One at a time from the
 * list's head: an answer may run that connection's next call, which may change the list. */
static void sandbox_answer_pausers(Sandbox *sb, int r) {
        SandboxClient *cl;

        while ((cl = find_pauser(sb->server, sb))) {
                Connection *c = cl->connection;

                pauser_remove(cl);
                pause_answer(sb, c, true, r > 0 ? sandbox_pause(sb, true) : r);
        }
}

static void on_pause_timer(uv_timer_t *timer) {
        Server *s = timer->data;
        uint64_t next = MIN(uv_timer_get_repeat(timer) * 2, (uint64_t) PAUSE_WAIT_MAX_MSEC);
        SandboxClient *cl;

        /* Ended meanwhile (the watchdog's kill, say): nothing left to freeze, as for Kill. */
        while ((cl = find_pauser(s, NULL)))
                sandbox_answer_pausers(cl->pausing, cl->pausing->ended ? -ESRCH : 1);
        if (s->pausers)
                uv_timer_set_repeat(timer, next);
}

void sandbox_pause_call(Sandbox *sb, Connection *c, bool pause) {
        Server *s = sb->server;
        SandboxClient *cl;

        if (pause && sb->cgroup && pause_must_wait(sb) && (cl = sandbox_client_of(c))) {
                log_audit(LOG_INFO, "pause", &c->caller, sb->id,
                          "Pausing sandbox %s once no process of it can be on the daemon's memory.", sb->id);
                cl->pausing = sb;
                LIST_PREPEND(pausers, s->pausers, cl);
                (void) uv_timer_start(&s->pause_timer, on_pause_timer, PAUSE_WAIT_FIRST_MSEC, PAUSE_WAIT_FIRST_MSEC);
                return;
        }
        /* A Pause waiting still freezes once it can: its caller is told the sandbox is frozen, and only a
         * Resume after that answer thaws it (one from inside the sandbox, which runs meanwhile, included). */
        pause_answer(sb, c, pause, sandbox_pause(sb, pause));
}

int sandbox_pause(Sandbox *sb, bool pause) {
        int r;

        if (sb->ended)
                return -ESRCH;
        if (!sb->cgroup)
                return -ENOMEDIUM;
        r = cgroup_freeze(sb->cgroup, pause);
        if (r < 0)
                return r;
        sb->paused = pause;
        return 0;
}

void sandbox_add_waiter(Sandbox *sb, Connection *c, bool more) {
        SandboxClient *cl;

        if (sb->ended && !sandbox_spawn_in_flight(sb)) {
                /* Consumed before replying: the reply may start a pipelined call that asks again. */
                sb->phase = SANDBOX_PHASE_DETACHED;
                sandbox_answer_final(sb, c);
                sandbox_free_if_done(sb);
                return;
        }

        if (more)
                sandbox_send_piece(sb, c);
        if (!connection_is_open(c))
                return;

        cl = sandbox_client_of(c);
        if (!cl)
                /* The client would wait for ever: hang up. */
                return connection_close(c);
        cl->waiting_for = sb;
        LIST_PREPEND(waiters, sb->waiters, cl);
        if (more && sb->capturing)
                sandbox_stream_output(sb);
}

void sandbox_connection_drained(Connection *c) {
        SandboxClient *cl = c->userdata;

        if (cl && cl->waiting_for && cl->waiting_for->capturing)
                sandbox_stream_output(cl->waiting_for);
        sandbox_list_continue(cl);
}

void sandbox_connection_closed(Server *s, Connection *c) {
        SandboxClient *cl = c->userdata;
        Sandbox *sb;

        if (!cl)
                return;
        sandbox_client_stop_waiting(cl);
        sandbox_list_stop(cl);
        if (cl->held_for)
                sandbox_client_release(cl);
        if (cl->pausing)
                pauser_remove(cl);

        /* Taken off the list one at a time from its head: dropping one entry may answer Waits on other
         * connections and run their next calls, which may drop other entries of this list too. */
        while ((sb = cl->owned)) {
                /* A client that never got the Spawn reply does not know the id: nobody could ever ask. */
                bool unanswered = sb->spawn_client == cl;

                LIST_REMOVE(owned, cl->owned, sb);
                sb->owner = NULL;
                if (unanswered)
                        sb->spawn_client = NULL;

                if (sb->keep_alive && !unanswered)
                        continue;

                /* Services crash; their sandboxes must not linger. */
                if (sandbox_spawn_in_flight(sb))
                        sb->phase = SANDBOX_PHASE_ABANDONED;
                else if (sb->phase == SANDBOX_PHASE_LIVE)
                        sb->phase = SANDBOX_PHASE_DETACHED;
                if (!sb->ended) {
                        log_audit(LOG_INFO, "kill", &sb->creator, sb->id,
                                  "Killing sandbox %s: its connection closed.", sb->id);
                        (void) sandbox_kill_all(sb, SIGKILL);
                }
                sandbox_free_if_done(sb);
        }

        c->userdata = NULL;
        free(cl);
}

/* Waits until the killed child behind sb exits or the deadline (CLOCK_MONOTONIC, msec) passes; reaps it if it did. */
static void sandbox_reap_until(Sandbox *sb, uint64_t deadline_msec) {
        for (;;) {
                struct pollfd p = { .fd = sb->pidfd, .events = POLLIN };
                struct timespec ts;
                uint64_t now;
                siginfo_t si = {};

                if (waitid((idtype_t) P_PIDFD, (id_t) sb->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0) {
                        sb->reaped = true;
                        return;
                }

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
                if (now >= deadline_msec)
                        break;
                if (poll(&p, 1, (int) MIN(deadline_msec - now, (uint64_t) INT_MAX)) < 0 && errno != EINTR)
                        break;
        }

        log_warning("Sandbox %s (pid %d) did not die within %ums of SIGKILL (stuck in the kernel?), leaving it.",
                    sb->id, (int) sb->pid, SHUTDOWN_REAP_TIMEOUT_MSEC);
}

/* The same for the rest of its cgroup: what the top process left behind dies of the same kill. */
static void sandbox_empty_cgroup_until(Sandbox *sb, uint64_t deadline_msec) {
        struct timespec ts;
        uint64_t now;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
        if (cgroup_wait_empty(sb->cgroup, (unsigned) MIN(deadline_msec > now ? deadline_msec - now : 0,
                                                          (uint64_t) UINT_MAX)) < 0)
                log_warning("Sandbox %s: a process of it did not die within %ums of SIGKILL, leaving its cgroup %s.",
                            sb->id, SHUTDOWN_REAP_TIMEOUT_MSEC, sandbox_cgroup_path(sb));
}

void sandbox_drop_all(Server *s, bool kill) {
        struct timespec ts;
        uint64_t deadline;

        /* Signal them all first, so they die in parallel and each wait below is short. */
        LIST_FOREACH(sandboxes, sb, s->sandboxes)
                if ((kill || sandbox_spawn_in_flight(sb)) && sandbox_kill_all(sb, SIGKILL) >= 0 &&
                    sb->phase != SANDBOX_PHASE_FAILED)
                        log_audit(LOG_INFO, "kill", &sb->creator, sb->id, "Killing sandbox %s: the daemon is stopping.",
                                  sb->id);

        /* The loop serves nobody any more; still, a child stuck in the kernel must not hold up the exit. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U + SHUTDOWN_REAP_TIMEOUT_MSEC;

        LIST_FOREACH_SAFE(sandboxes, sb, n, s->sandboxes) {
                bool killed = kill || sandbox_spawn_in_flight(sb);

                if (!sb->reaped) {
                        if (killed)
                                sandbox_reap_until(sb, deadline);
                        /* Left running (or stuck): only forget it. Its pidfd closes with the entry. */
                        sb->reaped = true;
                }
                if (sb->cgroup) {
                        if (killed)
                                sandbox_empty_cgroup_until(sb, deadline);
                        else
                                sb->left_running = true; /* in its cgroup, which stays with it */
                }
                sandbox_free(sb);
        }
}

static void takeover_done(SandboxTakeover *t) {
        t->seccomp = seccomp_program_unref(t->seccomp);
        t->pidfd = safe_close(t->pidfd);
        close_many(t->capture_fds, 2);
        for (size_t k = 0; k < 2; k++) {
                free(t->capture_data[k]);
                t->capture_data[k] = NULL;
        }
}

int sandbox_adopt(Server *s, HandoverSandbox *h, SandboxTakeover *t) {
        const SandboxInfo *info = &h->info;
        Sandbox *sb;
        int r;

        sb = calloc(1, sizeof *sb);
        if (!sb) {
                takeover_done(t);
                sandbox_exec_base_done(&h->exec_base);
                return -ENOMEM;
        }
        sb->pid_namespace_below_fd = sb->answer_fd = -EBADF;
        /* Freed with the entry from here on, whichever way it goes. */
        sb->exec_base = h->exec_base;
        sb->exec_base.seccomp = TAKE_PTR(t->seccomp);
        h->exec_base = (SandboxExecBase) {};
        snprintf(sb->id, sizeof sb->id, "%s", info->id);
        sb->server = s;
        sb->adopted = true;
        if (sandbox_find_entry(s, sb->id)) {
                sandbox_exec_base_done(&sb->exec_base);
                free(sb);
                takeover_done(t);
                return -EEXIST;
        }
        sb->reaper = t->reaper;
        sb->pidfd = -EBADF;
        sb->report_fd = -EBADF;

        r = sandbox_count_and_index(s, sb, info->owner_uid);
        if (r < 0)
                goto fail;
        sb->made_inside = h->made_inside;
        /* Linked to the sandbox it runs in once every entry is back (sandbox_adopt_link_execs()); its id is
         * already the scope of the name it was given inside. */
        if (info->sandbox)
                snprintf(sb->exec_of_id, sizeof sb->exec_of_id, "%s", info->sandbox);
        if (info->name) {
                sb->name = strdup(info->name);
                if (!sb->name) {
                        r = -ENOMEM;
                        goto fail;
                }
                /* Names are unique per owner and scope among the entries that show; a second one is a bad
                 * record. */
                if (!h->discard && sandbox_find_named(s, sb->name, info->owner_uid, entry_name_scope(sb))) {
                        r = -EEXIST;
                        goto fail;
                }
                r = hash_table_add(&s->sandbox_names, &sb->name_node, name_hash(sb->name, info->owner_uid));
                if (r < 0)
                        goto fail;
                sb->name_node_added = true;
        }
        if (info->n_rlimits > 0) {
                sb->rlimits = calloc(info->n_rlimits, sizeof(SandboxRlimit));
                if (!sb->rlimits) {
                        r = -ENOMEM;
                        goto fail;
                }
                memcpy(sb->rlimits, info->rlimits, info->n_rlimits * sizeof(SandboxRlimit));
                sb->n_rlimits = info->n_rlimits;
        }

        sb->creator = (Caller) { .uid = info->owner_uid, .gid = h->creator_gid, .pid = (pid_t) h->creator_pid,
                                 .pidfd = -EBADF, .privileged = info->owner_uid == 0 };
        sb->namespaces = info->namespaces;
        /* A state written before SandboxInfo had joinedNamespaces has them in the exec base alone. */
        sb->joined_namespaces = info->joined_namespaces | sb->exec_base.joined_namespaces;
        sb->keep_alive = info->keep_alive;
        sb->start_usec = info->start_usec;
        sb->start_loop_msec = uv_now(s->loop);
        sb->pid = (pid_t) info->pid;
        sb->resources = info->resources;
        sb->paused = info->paused;
        sb->used = info->has_usage ? info->usage : SANDBOX_USAGE_UNKNOWN;
        sb->has_used = info->has_usage;
        /* A spawn killed on the way, kept only to be reaped: hidden like a failed one. */
        sb->phase = h->discard ? SANDBOX_PHASE_FAILED : SANDBOX_PHASE_LIVE;
        sb->state = info->state;
        sb->exit_code = info->exit_code;
        sb->signal = info->signal;
        sb->reaped = !h->discard && info->state != SANDBOX_RUNNING;
        sb->ended = sb->reaped && !h->top_exited;

        /* Its cgroup, unless it ended (an empty one the start removed, or one it never had). A nested sandbox's
         * own is below its sandbox's, opened once that one is back (sandbox_adopt_link_execs()). */
        if (h->has_cgroup && !sb->ended && s->cgroups && info->sandbox)
                sb->cgroup_below_pending = true;
        else if (h->has_cgroup && !sb->ended && s->cgroups) {
                r = cgroup_open(s->cgroups, info->owner_uid, sb->id, &sb->cgroup);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0)
                        log_debug_errno(r, "The cgroup of sandbox %s is gone: %m", sb->id);
                else {
                        cgroup_set_userdata(sb->cgroup, sb);
                        cgroup_take_own_cpu_quota(sb->cgroup, sb->resources.cpu_quota, sb->resources.cpu_period);
                }
        }
        if (info->cgroup && !(sb->cgroup_path = strdup(info->cgroup))) {
                r = -ENOMEM;
                goto fail;
        }

        /* Allocated before any handle is known to the loop, so a failure can still free the entry. */
        if (h->capturing) {
                r = capture_alloc(sb);
                if (r < 0)
                        goto fail;
        }
        if (info->runtime_max_usec > 0) {
                sb->runtime_timer = calloc(1, sizeof(uv_timer_t));
                if (!sb->runtime_timer) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        if (t->pidfd >= 0) {
                if (uv_poll_init(s->loop, &sb->pidfd_poll, t->pidfd) < 0) {
                        r = -EIO;
                        goto fail;
                }
                sb->pidfd = TAKE_FD(t->pidfd);
                sb->pidfd_poll.data = sb;
                sb->handles_open++;
                /* Only a parent learns the status from the pidfd; a keeper's child's comes from the keeper. */
                if (!sb->reaper && !sb->reaped)
                        (void) uv_poll_start(&sb->pidfd_poll, UV_READABLE, on_pidfd);
        }

        if (h->capturing) {
                sb->capturing = true;
                capture_buffer_init(&sb->captured, h->capture_limit);
                sb->captured.kept = h->capture_total;
                sb->captured.truncated = h->capture_truncated;
                for (size_t k = 0; k < SANDBOX_STREAMS; k++) {
                        SandboxCapture *c = &sb->capture[k];

                        /* Replies carry it in bounded pieces, as any; held for a reply, so counted against
                         * its owner's capture-bytes-per-user. */
                        size_t held;

                        capture_buffer_adopt(&sb->captured, k, TAKE_PTR(t->capture_data[k]), t->capture_sizes[k]);
                        (void) capture_buffer_stream_pending(&sb->captured, k, &held);
                        sb->usage->capture_bytes += held;
                        if (t->capture_fds[k] < 0)
                                continue;
                        if (uv_poll_init(s->loop, &c->poll, t->capture_fds[k]) < 0) {
                                log_error("Cannot watch the captured output of sandbox %s, it is lost.", sb->id);
                                t->capture_fds[k] = safe_close(t->capture_fds[k]);
                                continue;
                        }
                        c->fd = TAKE_FD(t->capture_fds[k]);
                        c->poll.data = sb;
                        c->open = true;
                        sb->handles_open++;
                        (void) uv_poll_start(&c->poll, UV_READABLE, on_capture);
                }
        }

        /* Its runtime limit counts from its start, not from the take-over. */
        sb->runtime_max_usec = info->runtime_max_usec;
        if (sb->runtime_max_usec > 0) {
                uint64_t now = now_usec(CLOCK_REALTIME), end = sb->start_usec + sb->runtime_max_usec;

                uv_timer_init(s->loop, sb->runtime_timer);
                sb->runtime_timer->data = sb;
                sb->handles_open++;
                if (!sb->ended)
                        uv_timer_start(sb->runtime_timer, on_runtime_timer,
                                       end > now ? (end - now + 999U) / 1000U : 0, 0);
        }
        takeover_done(t);

        LIST_PREPEND(sandboxes, s->sandboxes, sb);
        sandbox_table_grew(s);

        /* Known again as a sandbox to whatever connects from inside it: by its cgroup, and by the namespaces
         * it made while its top process can be asked (a pid alone may be another process's by now). One
         * whose callers the daemon could not tell from the host's would be served as the host: it ends. */
        if (!sb->ended) {
                r = origin_index_add(&s->origins, &sb->origin, sb, sb->cgroup ? cgroup_id(sb->cgroup) : 0,
                                     sb->pidfd, sb->pidfd >= 0 ? sb->pid : 0, sb->namespaces);
                if (r < 0) {
                        log_audit(LOG_WARNING, "kill", &sb->creator, sb->id,
                                  "Killing sandbox %s: what connects from inside it cannot be told (%s).", sb->id,
                                  strerror(-r));
                        (void) sandbox_kill_all(sb, SIGKILL);
                }
        }
        log_debug("Took over sandbox %s (pid %d, %s).", sb->id, (int) sb->pid,
                  sb->ended ? sandbox_state_to_string(sb->state) :
                  sb->reaped ? "its cgroup still populated" :
                  sb->reaper ? sb->reaper->name : "own child");

        if (h->init_on_daemon_memory && !sb->reaped)
                sandbox_init_watch_add(sb, /* on_old_image= */ true);

        /* Its top process gone and its cgroup empty by now: it ends here. */
        if (sb->reaped && !sb->ended && !sb->cgroup_below_pending)
                sandbox_check_end(sb);
        return 0;

fail:
        takeover_done(t);
        if (sb->cgroup)
                cgroup_abandon(TAKE_PTR(sb->cgroup));
        sandbox_unindex(s, sb);
        free(sb->name);
        free(sb->rlimits);
        free(sb->cgroup_path);
        free(sb->capture);
        free(sb->runtime_timer);
        sandbox_exec_base_done(&sb->exec_base);
        free(sb);
        return r;
}

void sandbox_keeper_exit(Server *s, KeeperLink *k, pid_t pid, int code, int status) {
        LIST_FOREACH(sandboxes, sb, s->sandboxes)
                if (sb->reaper == k && sb->pid == pid && !sb->reaped && sb->phase != SANDBOX_PHASE_FREEING) {
                        sandbox_exited(sb, code, status);
                        return;
                }
}

void sandbox_keeper_gone(Server *s, KeeperLink *k, bool stopping) {
        LIST_FOREACH_SAFE(sandboxes, sb, n, s->sandboxes) {
                if (sb->reaper != k)
                        continue;
                sb->reaper = NULL;
                if (stopping || sb->reaped || sb->phase == SANDBOX_PHASE_FREEING)
                        continue;
                /* Not its parent: only the keeper could have told. Record an unknown death, as when
                 * someone else reaped a child. */
                log_warning("The keeper of sandbox %s is gone without reporting its exit.", sb->id);
                (void) sandbox_kill(sb, SIGKILL);
                sandbox_exited(sb, CLD_KILLED, SIGKILL);
        }
}

bool sandbox_keeper_in_use(Server *s, KeeperLink *k) {
        LIST_FOREACH(sandboxes, sb, s->sandboxes)
                if (sb->reaper == k && !sb->reaped)
                        return true;
        return false;
}

/* A taken-over nested sandbox's own cgroup, below parent (NULL: its sandbox's entry is gone, and so is that
 * cgroup, since the nested one's processes are below it), and what waited for it. */
static void sandbox_adopt_cgroup_below(Sandbox *sb, Cgroup *parent) {
        int r;

        sb->cgroup_below_pending = false;
        if (parent) {
                r = cgroup_open_below(parent, sb->id, &sb->cgroup);
                if (r < 0)
                        log_debug_errno(r, "The cgroup of nested sandbox %s is gone: %m", sb->id);
                else {
                        cgroup_set_userdata(sb->cgroup, sb);
                        cgroup_take_own_cpu_quota(sb->cgroup, sb->resources.cpu_quota, sb->resources.cpu_period);
                        r = origin_index_add(&sb->server->origins, &sb->origin, sb, cgroup_id(sb->cgroup), -EBADF,
                                             0, 0);
                        if (r < 0) {
                                log_audit(LOG_WARNING, "kill", &sb->creator, sb->id,
                                          "Killing sandbox %s: what connects from inside it cannot be told (%s).",
                                          sb->id, strerror(-r));
                                (void) sandbox_kill_all(sb, SIGKILL);
                        }
                }
        }
        if (sb->reaped && !sb->ended)
                sandbox_check_end(sb);
}

void sandbox_adopt_link_execs(Server *s) {
        bool pending = false;

        LIST_FOREACH(sandboxes, sb, s->sandboxes) {
                Sandbox *in;

                pending = pending || sb->cgroup_below_pending;
                if (!sb->adopted || !sb->exec_of_id[0] || sb->exec_of)
                        continue;
                /* Gone, or what it would be nested in is nested in it (a bad record: the tree has no loops): it
                 * stays what it was, a process of a sandbox whose entry is gone. An entry may run in a nested
                 * sandbox, itself one of its sandbox's processes. */
                in = sandbox_find_entry(s, sb->exec_of_id);
                if (!in || sandbox_within(in, sb) || in->phase == SANDBOX_PHASE_FREEING)
                        continue;
                sb->exec_of = in;
                LIST_PREPEND(execs, in->execs, sb);
        }

        /* Nested sandboxes' own cgroups, the outer ones first: each is below the one of the sandbox it is
         * nested in, or of the nearest one above with a cgroup. */
        for (unsigned depth = 1; pending; depth++) {
                pending = false;
                LIST_FOREACH_SAFE(sandboxes, sb, next, s->sandboxes) {
                        unsigned d = 0;

                        if (!sb->cgroup_below_pending)
                                continue;
                        for (const Sandbox *i = sb->exec_of; i; i = i->exec_of)
                                d++;
                        if (d > depth) {
                                pending = true;
                                continue;
                        }
                        /* May end it, and free it: the last use of sb. */
                        sandbox_adopt_cgroup_below(sb, sandbox_cgroup_of(sb->exec_of));
                }
        }
}
