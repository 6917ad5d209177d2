/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Client connections. Calls are handled strictly one at a time per
 * connection: Varlink requires replies in request order, and handling the
 * next call only once the current one is answered gives that for free while
 * pipelined calls wait, already framed, in the reader. Concurrency comes from
 * many connections, which the loop serves independently.
 */

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "async-close.h"
#include "connection.h"
#include "fd-util.h"

/* Stop taking new calls from a client that does not read its replies. */
#define CONNECTION_WRITE_BACKLOG_MAX (256U * 1024U)

static void connection_update_poll(Connection *c);

bool connection_backed_up(const Connection *c) {
        return varlink_writer_queued_bytes(c->writer) >= CONNECTION_WRITE_BACKLOG_MAX;
}

size_t connection_write_room(const Connection *c) {
        return varlink_writer_room(c->writer);
}

/* The reader's closer: every fd this client sent is closed off the loop, in its uid's lane. */
static void connection_close_client_fd(int fd, void *userdata) {
        Connection *c = userdata;

        (void) async_close(c->server->closer, c->caller.uid, fd);
}

static void on_poll_closed(uv_handle_t *handle) {
        Connection *c = handle->data;

        varlink_message_done(&c->message);
        varlink_reader_free(c->reader);
        varlink_writer_free(c->writer);
        server_close_client_socket(c->server, c->caller.uid, c->fd);
        caller_done(&c->caller);
        free(c);
}

void connection_close(Connection *c) {
        Server *s;

        if (!c || c->closing)
                return;
        c->closing = true;
        s = c->server;

        log_debug("Connection from uid " UID_FMT " pid %d closed.", c->caller.uid, (int) c->caller.pid);

        if (s->service->disconnected)
                s->service->disconnected(c);

        LIST_REMOVE(connections, s->connections, c);
        s->n_connections--;
        server_notify_status(s);

        if (c->poll_events >= 0)
                uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *) &c->poll, on_poll_closed);
}

void connection_close_with_error(Connection *c, struct json_object *error) {
        if (!c || c->closing) {
                json_object_put(error);
                return;
        }
        /* Answering ends the call, which would start the next one queued: the guard against re-entry stops it. */
        c->processing = true;
        if (c->busy && error)
                connection_reply_error(c, error);
        else
                json_object_put(error);
        connection_close(c);
}

static void connection_flush(Connection *c) {
        int r;

        if (!varlink_writer_pending(c->writer))
                return;

        r = varlink_writer_flush(c->writer, c->fd);
        if (r < 0 && r != -EAGAIN) {
                if (r != -EPIPE && r != -ECONNRESET)
                        log_debug_errno(r, "Failed to write to client: %m");
                connection_close(c);
        }
}

static void connection_send(Connection *c, struct json_object *msg, int *fds, size_t n_fds) {
        int r;

        if (!msg) {
                /* Out of memory building the reply: the client would wait forever, so hang up. */
                close_many(fds, n_fds);
                connection_close(c);
                return;
        }

        r = varlink_writer_enqueue(c->writer, msg, fds, n_fds);
        json_object_put(msg);
        if (r < 0) {
                close_many(fds, n_fds);
                log_debug_errno(r, "Failed to queue reply: %m");
                connection_close(c);
                return;
        }

        connection_flush(c);
        /* A reply sent outside connection_process() (a streamed one) must still get the rest written. */
        if (!c->closing && !c->processing)
                connection_update_poll(c);
}

void connection_drop_fds(Connection *c) {
        varlink_message_close_fds(&c->message);
}

static void connection_end_call(Connection *c) {
        c->busy = false;
        varlink_message_done(&c->message);
        c->call = (VarlinkCall) {};
        connection_process(c);
}

void connection_reply(Connection *c, struct json_object *reply, int *fds, size_t n_fds) {
        /* No call to answer (the connection is closing, or a stale event): drop it, never end another call. */
        if (c->closing || !c->busy) {
                json_object_put(reply);
                close_many(fds, n_fds);
                return;
        }

        if (c->call.flags & VARLINK_CALL_ONEWAY) {
                json_object_put(reply);
                close_many(fds, n_fds);
        } else
                connection_send(c, reply, fds, n_fds);

        if (!c->closing)
                connection_end_call(c);
}

void connection_reply_error(Connection *c, struct json_object *error) {
        connection_reply(c, error, NULL, 0);
}

void connection_reply_continues(Connection *c, struct json_object *parameters) {
        struct json_object *reply;

        if (c->closing || !c->busy || (c->call.flags & VARLINK_CALL_ONEWAY)) {
                json_object_put(parameters);
                return;
        }

        reply = varlink_reply_new(parameters, /* continues= */ true);
        connection_send(c, reply, NULL, 0);
}

/* A protocol violation: per the Varlink spec the connection is dropped, and the log says what was wrong. */
static void connection_protocol_error(Connection *c, int error, const char *what, const char *reason) {
        const DaemonLimits *l = &c->server->config.limits;
        char detail[64] = "";

        if (error == -EMSGSIZE)
                snprintf(detail, sizeof detail, " (message-size is %zu bytes)", (size_t) l->message_size);
        else if (error == -EPROTO || error == -ENOBUFS)
                snprintf(detail, sizeof detail, " (fds-per-message is %u)", (unsigned) l->fds_per_message);

        log_audit(LOG_NOTICE, "protocol-error", &c->caller, NULL, "%s, closing the connection: %s%s", what,
                  reason ?: strerror(-error), detail);
        connection_close(c);
}

static bool service_has_interface(const ConnectionService *svc, const char *interface) {
        for (const char *const *i = svc->interfaces; i && *i; i++)
                if (streq(*i, interface))
                        return true;
        return false;
}

/* Hands c->call to its method; every path ends in exactly one final reply, now or later. */
static void connection_dispatch(Connection *c) {
        const ConnectionService *svc = c->server->service;
        _cleanup_free_ char *interface = NULL;
        const char *method = c->call.method;
        char printable[128];

        log_debug("Call %s from uid " UID_FMT " pid %d.", log_printable(method, printable, sizeof printable),
                  c->caller.uid, (int) c->caller.pid);

        if (c->call.flags & VARLINK_CALL_UPGRADE) {
                struct json_object *p = json_object_new_object();
                if (p)
                        json_object_object_add(p, "method", json_object_new_string(method));
                return connection_reply_error(c, varlink_error_new(VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, p));
        }

        for (size_t i = 0; i < svc->n_methods; i++) {
                const ConnectionMethod *m = svc->methods + i;

                if (!streq(m->name, method))
                        continue;
                if (svc->admit && !svc->admit(c, m))
                        return;
                if (!m->takes_fds)
                        connection_drop_fds(c);
                return m->handler(c);
        }

        connection_drop_fds(c);

        /* As systemd's sd-varlink: a name that is not one of ours, however it is spelled
         * ("io.nsbox.Sandbox.list", "Spawn"), is MethodNotFound; only a well-formed interface name we
         * do not serve is InterfaceNotFound. Neither is a protocol error: the connection stays. */
        interface = varlink_method_interface(method);
        if (interface && varlink_interface_name_is_valid(interface) && !service_has_interface(svc, interface)) {
                log_debug("Call of an unknown interface %s from uid " UID_FMT ".", interface, c->caller.uid);
                return connection_reply_error(c, varlink_error_interface_not_found(interface));
        }
        log_debug("Call of an unknown method %s from uid " UID_FMT ".", printable, c->caller.uid);
        connection_reply_error(c, varlink_error_method_not_found(method));
}

void connection_dispatch_again(Connection *c) {
        if (!c->closing && c->busy)
                connection_dispatch(c);
}

void connection_process(Connection *c) {
        int r;

        if (c->processing)
                return;
        c->processing = true;

        while (!c->closing && !c->busy &&
               varlink_writer_queued_bytes(c->writer) < CONNECTION_WRITE_BACKLOG_MAX) {
                VarlinkMessage m = {};
                const char *reason = NULL;

                r = varlink_reader_next(c->reader, &m);
                if (r < 0) {
                        connection_protocol_error(c, r, "Invalid message", varlink_reader_error_reason(c->reader));
                        break;
                }
                if (r == 0)
                        break;

                c->message = m;
                r = varlink_call_parse(c->message.json, &c->call, &reason);
                if (r < 0) {
                        connection_protocol_error(c, r, "Invalid call", reason);
                        break;
                }

                c->busy = true;
                connection_dispatch(c);
        }

        if (!c->closing && !c->busy && c->read_eof && !varlink_writer_pending(c->writer)) {
                if (varlink_reader_has_partial(c->reader))
                        log_debug("Client hung up in the middle of a message.");
                connection_close(c);
        }

        c->processing = false;
        if (!c->closing)
                connection_update_poll(c);
}

static void connection_read(Connection *c) {
        int r;

        r = varlink_reader_fill(c->reader, c->fd);
        if (r == -EAGAIN)
                return;
        if (r == 0) {
                c->read_eof = true;
                return;
        }
        if (r == -ECONNRESET) {
                connection_close(c);
                return;
        }
        if (r < 0) {
                connection_protocol_error(c, r, "Receive failed", varlink_reader_error_reason(c->reader));
                return;
        }

        /* Each connection's buffer and fds are bounded; a user opening many of them and filling each
         * with a message it never finishes is bounded here. Only checked while something is held. */
        size_t bytes, fds;
        varlink_reader_held(c->reader, &bytes, &fds);
        if (!c->caller.privileged && (fds > 0 || varlink_reader_has_partial(c->reader)) &&
            server_user_over_budget(c->server, c->caller.uid)) {
                log_audit(LOG_WARNING, "refused", &c->caller, NULL,
                          "Connections of uid " UID_FMT " hold too much unfinished input, closing this one.",
                          c->caller.uid);
                connection_close(c);
        }
}

/* EPOLLRDHUP only says the peer stopped sending; a full close (POLLHUP) means nobody waits for replies. */
static bool peer_hung_up(int fd) {
        struct pollfd p = { .fd = fd, .events = 0 };

        return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

static void on_poll(uv_poll_t *handle, int status, int events) {
        Connection *c = handle->data;

        if (status < 0 || ((events & UV_DISCONNECT) && peer_hung_up(c->fd))) {
                connection_close(c);
                return;
        }

        if (events & UV_WRITABLE) {
                bool backed_up = connection_backed_up(c);

                connection_flush(c);
                if (c->closing)
                        return;
                /* Only here, not after each reply's own flush: a drained callback that sends more is never
                 * called from inside a send. */
                if (backed_up && !connection_backed_up(c) && c->server->service->drained) {
                        c->server->service->drained(c);
                        if (c->closing)
                                return;
                }
        }

        if (events & UV_READABLE) {
                connection_read(c);
                if (c->closing)
                        return;
        }

        if (events & UV_DISCONNECT)
                c->read_eof = true;

        connection_process(c);
}

static void connection_update_poll(Connection *c) {
        int events = 0, r;

        /* Read only when a call can be taken: the socket buffer is the client's backpressure. */
        if (!c->busy && !c->read_eof && varlink_writer_queued_bytes(c->writer) < CONNECTION_WRITE_BACKLOG_MAX)
                events |= UV_READABLE;
        else if (!c->read_eof)
                events |= UV_DISCONNECT; /* still notice a client that goes away mid-call */
        if (varlink_writer_pending(c->writer))
                events |= UV_WRITABLE;

        if (events == c->poll_events)
                return;

        if (events == 0) {
                uv_poll_stop(&c->poll);
                c->poll_events = -1;
                return;
        }

        r = uv_poll_start(&c->poll, events, on_poll);
        if (r < 0) {
                log_error("Failed to watch connection: %s", uv_strerror(r));
                connection_close(c);
                return;
        }
        c->poll_events = events;
}

int connection_new(Server *s, int fd, Caller *caller, Connection **ret) {
        _cleanup_(varlink_reader_freep) VarlinkReader *reader = NULL;
        _cleanup_(varlink_writer_freep) VarlinkWriter *writer = NULL;
        Connection *c;
        int r;

        VarlinkReaderLimits limits = {
                .message_size_max = s->config.limits.message_size,
                .fds_max = s->config.limits.fds_per_message,
        };
        r = varlink_reader_new(&limits, &reader);
        if (r < 0)
                goto fail;

        r = varlink_writer_new(0, &writer);
        if (r < 0)
                goto fail;

        c = calloc(1, sizeof *c);
        if (!c) {
                r = -ENOMEM;
                goto fail;
        }

        r = uv_poll_init(s->loop, &c->poll, fd);
        if (r < 0) {
                free(c);
                r = r == UV_ENOMEM ? -ENOMEM : -EIO;
                goto fail;
        }

        c->server = s;
        c->poll.data = c;
        c->poll_events = -1;
        c->fd = fd;
        c->reader = TAKE_PTR(reader);
        c->writer = TAKE_PTR(writer);
        c->caller = *caller;
        *caller = (Caller) { .pidfd = -EBADF };
        varlink_reader_set_closer(c->reader, &(FdCloser) { .close = connection_close_client_fd, .userdata = c });

        LIST_PREPEND(connections, s->connections, c);
        s->n_connections++;

        connection_update_poll(c);
        if (ret)
                *ret = c;
        return 0;

fail:
        server_close_client_socket(s, caller->uid, fd);
        caller_done(caller);
        return r;
}
