/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting until journald has read what this process logged (see journal-sync.h). */

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "journal-sync.h"
#include "time-util.h"
#include "varlink-message.h"
#include "varlink-wire.h"

/* journald's own Varlink socket (the system instance's; systemd 246 and later). */
#define JOURNAL_VARLINK_SOCKET "/run/systemd/journal/io.systemd.journal"

/* Waits for events on fd until the deadline: 0 when they came, -ETIMEDOUT or -errno otherwise. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t now = now_msec(CLOCK_MONOTONIC);
                int n;

                if (now >= deadline)
                        return -ETIMEDOUT;
                n = poll(&p, 1, (int) MIN(deadline - now, (uint64_t) INT32_MAX));
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

int journal_synchronize_at(const char *socket_path, unsigned timeout_msec) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(varlink_writer_freep) VarlinkWriter *writer = NULL;
        _cleanup_(varlink_reader_freep) VarlinkReader *reader = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = now_msec(CLOCK_MONOTONIC) + timeout_msec;
        struct json_object *call;
        int r;

        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);
        r = varlink_writer_new(0, &writer);
        if (r < 0)
                return r;
        r = varlink_reader_new(NULL, &reader);
        if (r < 0)
                return r;
        call = varlink_call_new("io.systemd.Journal.Synchronize", NULL, 0);
        if (!call)
                return -ENOMEM;
        r = varlink_writer_enqueue(writer, call, NULL, 0);
        json_object_put(call);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A unix socket connects at once, or fails with EAGAIN when journald's backlog is full. */
        while (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }

        while ((r = varlink_writer_flush(writer, fd)) == -EAGAIN) {
                r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        for (;;) {
                VarlinkMessage m = {};
                VarlinkReply reply;

                r = varlink_reader_next(reader, &m);
                if (r < 0)
                        return -EPROTO;
                if (r > 0) {
                        r = varlink_reply_parse(m.json, &reply) < 0 || reply.error ? -EPROTO : 0;
                        varlink_message_done(&m);
                        return r;
                }
                r = varlink_reader_fill(reader, fd);
                if (r == 0)
                        return -EPROTO; /* closed without an answer */
                if (r == -EAGAIN) {
                        r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                } else if (r < 0)
                        return r;
        }
}

int journal_synchronize(unsigned timeout_msec) {
        return journal_synchronize_at(JOURNAL_VARLINK_SOCKET, timeout_msec);
}
