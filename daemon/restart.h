/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sandboxes across a restart of the daemon, two ways:
 *
 *  - by the service manager (--fd-store): at stop, each keepAlive sandbox's
 *    pidfd and the state (handover.h) go to systemd's fd store, and the
 *    sandboxes themselves to the keeper (keeper.h), which reaps them and
 *    keeps their exit statuses; the next daemon gets it all back in
 *    LISTEN_FDS and reads the statuses from the keeper's link;
 *  - in place, on SIGUSR2, with or without a service manager: the daemon
 *    execs its binary again (the path it was started from, so an upgraded
 *    binary takes over) with the state in a memfd and the listening socket,
 *    the pidfds and the keeper links kept open across execve(). It stays
 *    the parent of its sandboxes, so the kernel keeps their statuses.
 *
 * Connections do not survive either: a call in progress is answered with
 * io.nsbox.Sandbox.Restarting, and the client may connect again. Sandboxes
 * without keepAlive die with their connection, as always.
 */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "handover.h"
#include "list.h"
#include "server.h"

/* The daemon's end of one keeper's link. */
struct KeeperLink {
        Server *server;
        LIST_FIELDS(KeeperLink, keepers);
        char name[64]; /* its fd name in the store: keeper-PID */
        int fd;
        uv_poll_t poll;
        bool own; /* the keeper that is this daemon's parent */
};

/*
 * At start, before serving: adopts what the previous daemon handed over
 * (state: a re-exec's, decoded; NULL: look for one in stored, the fd store's
 * fds) and takes own_link, the link to the keeper this daemon was forked by
 * (-EBADF if none), storing it in the fd store. Entries that do not check
 * out are logged and left out; what nobody claims is closed and removed from
 * the store. Takes the fds it uses out of stored.
 */
int restart_adopt(Server *s, HandoverState *state, FdSet *stored, int own_link);

/* Whether a stop hands the keepAlive sandboxes over instead of killing them (there is a keeper). */
bool restart_can_hand_over(const Server *s);

/*
 * At stop, once the connections are closed: hands each keepAlive sandbox and
 * the state to the fd store and the keeper. Sandboxes that cannot be handed
 * over are killed. The table is left for sandbox_drop_all() to forget.
 */
void restart_hand_over(Server *s);

/*
 * SIGUSR2: re-executes the daemon in place, in two steps. This one stops taking connections and closes the
 * open ones; their handles close at the end of the loop's iteration, and the fds their unfinished messages
 * hold go to the closer then. The next iteration execs (restart.c): if that fails, the daemon goes on
 * serving. A SIGUSR2 meanwhile is ignored.
 */
void restart_reexec(Server *s);

/* Closes every keeper link (at exit). */
void restart_close_keepers(Server *s);
