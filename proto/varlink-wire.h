/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Varlink wire layer: a reader that turns a byte stream with SCM_RIGHTS
 * fds into whole NUL-terminated JSON messages, and a writer that queues
 * messages and sends each one's fds with its first byte. Neither owns the
 * socket; the caller drives them from its event loop (or blocking code).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "fd-util.h"
#include "macro.h"

#define VARLINK_MESSAGE_SIZE_MAX_DEFAULT (1024U * 1024U) /* 1 MiB */
#define VARLINK_DEPTH_MAX_DEFAULT 32U
#define VARLINK_FDS_MAX 253U /* SCM_MAX_FD: the kernel's limit per sendmsg */
#define VARLINK_WRITER_QUEUE_MAX_DEFAULT (4U * 1024U * 1024U) /* bytes queued before enqueue refuses */

typedef struct VarlinkMessage {
        struct json_object *json; /* the whole message; always a JSON object */
        int *fds;                 /* fds that arrived with the message's first byte */
        size_t n_fds;
        FdCloser closer;          /* how its fds are closed: the reader's (zero: close()) */
} VarlinkMessage;

/* Drops the JSON and closes every fd still held (those not taken) through m->closer. Leaves *m zeroed. */
void varlink_message_done(VarlinkMessage *m);

/* Closes every fd still held through m->closer, as soon as nothing needs them any more; keeps the JSON. */
void varlink_message_close_fds(VarlinkMessage *m);

/* Takes ownership of fd number 'index' of the message: returns the fd (the
 * message forgets it), -ENXIO if index is out of range, -EBADF if already taken. */
int varlink_message_take_fd(VarlinkMessage *m, int64_t index);

/* Borrows fd number 'index' (the message keeps ownership); same errors as above. */
int varlink_message_peek_fd(const VarlinkMessage *m, int64_t index);

typedef struct VarlinkReader VarlinkReader;

typedef struct VarlinkReaderLimits {
        size_t message_size_max; /* bytes, NUL included; 0: default */
        unsigned depth_max;      /* JSON nesting; 0: default */
        unsigned fds_max;        /* fds per message; 0: VARLINK_FDS_MAX */
} VarlinkReaderLimits;

int varlink_reader_new(const VarlinkReaderLimits *limits, VarlinkReader **ret);
VarlinkReader *varlink_reader_free(VarlinkReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkReader *, varlink_reader_free);

/*
 * Every received fd the reader does not hand out (refused messages, a failing
 * read, what it holds when freed) is closed through closer, and so are the fds
 * of the messages it returns (VarlinkMessage.closer). Copied; NULL: close().
 */
void varlink_reader_set_closer(VarlinkReader *r, const FdCloser *closer);

/*
 * Reads once from fd (recvmsg, MSG_DONTWAIT|MSG_CMSG_CLOEXEC). Returns the
 * number of bytes read (> 0), 0 on EOF, -EAGAIN if nothing is there, or a
 * negative errno. Protocol violations found while reading are returned as
 * errors: -EMSGSIZE (message larger than the limit), -EPROTO (fds arriving
 * inside a message, too many fds), -ENOBUFS (MSG_CTRUNC: control data cut).
 * Every fd received in a failing read is closed (through the closer).
 *
 * The control buffer always has room for VARLINK_FDS_MAX fds, the most one
 * skb carries, whatever the limit: fds that do not fit are released by the
 * kernel inside recvmsg(), in the reading thread, where the last reference
 * to a lingering socket would block it. More fds than the limit are received
 * and refused (-EPROTO), so -ENOBUFS only means the process ran out of fds.
 *
 * The kernel never glues stream data past an skb that carries fds, so fds
 * delivered by one recvmsg belong to the last message that starts in that
 * chunk of data; if no message starts in it, they arrived mid-message.
 *
 * One call reads at most 64 KiB; drain complete messages with
 * varlink_reader_next() between calls, or they accumulate. Errors found
 * here are final: later fill/feed calls return the same error, and next()
 * returns it once the messages completed before it are popped.
 */
int varlink_reader_fill(VarlinkReader *r, int fd);

/* Appends bytes as if read from a socket with no fds (for tests, fuzzers, pipes). Same errors as fill. */
int varlink_reader_feed(VarlinkReader *r, const void *data, size_t size);

/*
 * Pops the next complete message into *ret. Returns 1 with a message, 0 if
 * more data is needed, or a negative errno: -EBADMSG (not valid JSON as RFC
 * 8259 has it, not an object, trailing bytes, a key with an escaped NUL, or a
 * key twice in one object),
 * -ELOOP (nested deeper than the limit). A refused message is consumed (its
 * fds closed); the stream after it stays in sync, but Varlink wants the
 * connection closed anyway.
 */
int varlink_reader_next(VarlinkReader *r, VarlinkMessage *ret);

/* Why the last failing fill, feed or next call failed, as static text ("not a JSON object",
 * "a message longer than the size limit", ...); NULL before any failure. */
const char *varlink_reader_error_reason(const VarlinkReader *r);

/* True if bytes of an incomplete message are buffered (EOF then means a truncated message). */
bool varlink_reader_has_partial(const VarlinkReader *r);

/* What the reader holds on to: its buffer's size in bytes, and the fds of messages not yet taken. */
void varlink_reader_held(const VarlinkReader *r, size_t *ret_bytes, size_t *ret_fds);

typedef struct VarlinkWriter VarlinkWriter;

int varlink_writer_new(size_t queue_max, VarlinkWriter **ret); /* queue_max 0: default */
VarlinkWriter *varlink_writer_free(VarlinkWriter *w);          /* closes fds still queued */
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkWriter *, varlink_writer_free);

/*
 * Serializes msg and queues it with its fds. On success the writer owns the
 * fds (closed once sent or when the writer is freed); on failure the caller
 * still owns them. -ENOBUFS if the queue bound would be exceeded, -E2BIG if
 * n_fds > VARLINK_FDS_MAX.
 */
int varlink_writer_enqueue(VarlinkWriter *w, struct json_object *msg, const int *fds, size_t n_fds);

/* Sends as much as the socket takes (MSG_DONTWAIT|MSG_NOSIGNAL). Returns 0
 * when the queue is empty, -EAGAIN if data remains, or a negative errno. */
int varlink_writer_flush(VarlinkWriter *w, int fd);

bool varlink_writer_pending(const VarlinkWriter *w);
size_t varlink_writer_queued_bytes(const VarlinkWriter *w);
/* Bytes a message may still take (its NUL included) before enqueue refuses it with -ENOBUFS. */
size_t varlink_writer_room(const VarlinkWriter *w);
