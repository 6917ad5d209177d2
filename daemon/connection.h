/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One client connection: reads Varlink calls, hands them to the method
 * table one at a time (so replies come in request order, pipelined calls
 * simply wait in the reader), and writes the replies with their fds.
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
#include "spawn.h"
#include "varlink-message.h"
#include "varlink-wire.h"

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

        /* The sandbox the last successful Spawn on this connection made: what a Wait without id means. */
        char last_spawn_id[SANDBOX_ID_MAX + 1];

        /* The sandboxes it created and still owns, for kill-on-close without a walk over the table. */
        Sandbox *owned;

        /* What the current call waits for, so sandbox events can answer it. */
        Sandbox *waiting_for;                /* Wait */
        LIST_FIELDS(Connection, waiters);    /* in waiting_for->waiters */

        bool processing; /* inside connection_process(), against re-entry */
        bool read_eof;   /* the peer shut down its sending side */
        bool closing;
};

/* Takes ownership of fd (a connected, non-blocking unix stream socket) and of *caller (its peer, from
 * caller_from_socket()) in every case. */
int connection_new(Server *s, int fd, Caller *caller, Connection **ret);

/* Tears the connection down: kills its non-keepAlive sandboxes, frees everything once libuv is done. */
void connection_close(Connection *c);

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

/* Handles queued calls while none is in progress; called after reads and after async replies. */
void connection_process(Connection *c);
