/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller of a connection, read once from the socket (see caller.h). */

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "caller.h"
#include "fd-util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static int peer_groups(int fd, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 64 * sizeof(gid_t);

        for (;;) {
                gid_t *n = realloc(groups, len);
                if (!n)
                        return -ENOMEM;
                groups = n;

                socklen_t l = len;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l) >= 0) {
                        *ret_n = l / sizeof(gid_t);
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (errno != ERANGE || l <= len)
                        return -errno;
                len = l;
        }
}

/* Unlike the pid from SO_PEERCRED, a pidfd cannot come to name another process later. */
static int peer_pidfd(int fd) {
        int pidfd = -EBADF;
        socklen_t len = sizeof pidfd;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
                return -EBADF;
        return pidfd;
}

int caller_from_socket(int fd, Caller *ret) {
        _cleanup_free_ gid_t *groups = NULL;
        struct ucred peer;
        socklen_t len = sizeof peer;
        size_t n_groups = 0;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
                return -errno;

        r = peer_groups(fd, &groups, &n_groups);
        if (r < 0)
                return r;

        *ret = (Caller) {
                .uid = peer.uid,
                .gid = peer.gid,
                .pid = peer.pid,
                .pidfd = peer_pidfd(fd),
                .groups = TAKE_PTR(groups),
                .n_groups = n_groups,
                .privileged = peer.uid == 0,
        };
        return 0;
}

void caller_done(Caller *c) {
        if (!c)
                return;
        c->pidfd = safe_close(c->pidfd);
        free(c->groups);
        c->groups = NULL;
        c->n_groups = 0;
}

Caller caller_identity(const Caller *c) {
        return (Caller) {
                .uid = c->uid,
                .gid = c->gid,
                .pid = c->pid,
                .pidfd = -EBADF,
                .privileged = c->privileged,
                .origin = c->origin,
        };
}
