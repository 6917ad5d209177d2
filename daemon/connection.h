/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One client connection: reads Varlink calls, hands them to the method
 * table the server gave it, one at a time (so replies come in request
 * order, pipelined calls simply wait in the reader), and writes the
 * replies with their fds. It knows nothing of what the methods do: when it
 * goes away it tells the server (ConnectionService.disconnected), which
 * forgets it wherever it was kept.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "caller.h"
#include "list.h"
#include "log.h"
#include "server.h"
#include "varlink-message.h"
#include "varlink-wire.h"

/* One method a connection serves. */
typedef struct ConnectionMethod {
        const char *name;               /* the full name, "io.nsbox.Sandbox.Spawn" */
        void (*handler)(Connection *c); /* ends c->call with exactly one final reply, now or later */
        bool takes_fds;                 /* the call's fds are the handler's to keep or drop; else closed first */
} ConnectionMethod;

/* What a server gives its connections: the methods it serves, and what to do when one goes away. */
struct ConnectionService {
        const ConnectionMethod *methods;
        size_t n_methods;
        const char *const *interfaces; /* the interfaces served, NULL-terminated */
        /* Optional: whether the call may run; false once it answered the call itself. */
        bool (*admit)(Connection *c, const ConnectionMethod *m);
        /* The connection is going away: forget it wherever it is kept. Called once, before it is freed. */
        void (*disconnected)(Connection *c);
        /* Optional: the client read its replies down below the backlog again (connection_backed_up() turned
         * false), so whoever held back streamed replies may send more. */
        void (*drained)(Connection *c);
};

struct Connection {
        Server *server;
        LIST_FIELDS(Connection, connections);

        int fd;
        uv_poll_t poll;
        int poll_events; /* the mask last given to uv_poll_start, -1 when stopped */

        VarlinkReader *reader;
        VarlinkWriter *writer;

        /* Who is on the other end, as the kernel saw it at connect() time (owned). */
        Caller caller;

        /* The call being handled; later calls wait in the reader until it is answered. */
        bool busy;
        VarlinkMessage message;
        VarlinkCall call;

        /* The service's own state for this connection (the sandbox table's client record); its
         * disconnected callback frees it. */
        void *userdata;

        bool processing; /* inside connection_process(), against re-entry */
        bool read_eof;   /* the peer shut down its sending side */
        bool closing;
};

/* Takes ownership of fd (a connected, non-blocking unix stream socket) and of *caller (its peer, from
 * caller_from_socket()) in every case. */
int connection_new(Server *s, int fd, Caller *caller, Connection **ret);

/* Tears the connection down: tells the server (disconnected), frees everything once libuv is done. */
void connection_close(Connection *c);
/* The same, answering the call in progress, if any, with error (taken; NULL: none) first. No later call runs. */
void connection_close_with_error(Connection *c, struct json_object *error);

/*
 * Answers the current call. The reply JSON (parameters or error object built
 * with varlink_*_new) and fds are taken in every case (fds are closed if the
 * call was oneway or the connection is going away). A final reply ends the
 * call and lets the next queued call run.
 */
void connection_reply(Connection *c, struct json_object *reply, int *fds, size_t n_fds);
void connection_reply_continues(Connection *c, struct json_object *parameters);
void connection_reply_error(Connection *c, struct json_object *error);

/* Closes the fds that came with the current call (through the closer, never on the loop), once
 * nothing needs them any more: a call that waits (Wait, a Spawn in flight) must not keep a
 * client's fds pinned in the daemon. */
void connection_drop_fds(Connection *c);

/* Hands the current call to its method again: for one the service's admit held back without answering. */
void connection_dispatch_again(Connection *c);

/* Handles queued calls while none is in progress; called after reads and after async replies. */
void connection_process(Connection *c);

/* Whether the client leaves its replies unread: past the backlog the connection takes no new calls, and a
 * streaming call should send no more until the service's drained callback says so. */
bool connection_backed_up(const Connection *c);

/* Bytes of replies that can still be queued before the writer's bound, at which the connection is dropped. */
size_t connection_write_room(const Connection *c);

/* Whether replies can still reach the client: false once the connection is closing. */
static inline bool connection_is_open(const Connection *c) {
        return !c->closing;
}
