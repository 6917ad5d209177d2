/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The captured output of one sandbox (captureOutput): what was read from its
 * stdout and stderr pipes and no Wait reply has carried yet, and how much it
 * may keep. Its whole state is CaptureBuffer, plain values in one small
 * struct (no handles, no pointers into other objects), so a daemon that hands
 * its sandboxes over across a restart can carry it as it is; the pipes and
 * their watches belong to the sandbox entry.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox-protocol.h"

typedef struct CaptureStream {
        char *data;       /* what was read; data[start, size) no reply has carried yet */
        size_t start;
        size_t size;
        size_t allocated; /* bytes at data, grown by doubling so filling it costs linear time */
} CaptureStream;

typedef struct CaptureBuffer {
        CaptureStream stream[2]; /* stdout, stderr */
        uint64_t limit;          /* captureBytes: bytes kept in all, delivered or not */
        uint64_t kept;
        bool truncated;          /* some output was dropped: past the limit, or it did not fit a final reply */
} CaptureBuffer;

void capture_buffer_init(CaptureBuffer *b, uint64_t limit);
void capture_buffer_done(CaptureBuffer *b);

/*
 * Where the next read of stream i may put at most max bytes: returns how many bytes fit there (0 past
 * the limit, or when memory is short: read into a scratch buffer and call capture_buffer_dropped()).
 * capture_buffer_commit() then keeps the n bytes the read got.
 */
size_t capture_buffer_room(CaptureBuffer *b, size_t i, size_t max, char **ret_where);
void capture_buffer_commit(CaptureBuffer *b, size_t i, size_t n);
void capture_buffer_dropped(CaptureBuffer *b);

/* What stream i holds that no reply carried yet: *ret_size bytes at the pointer returned (valid until
 * the next call that changes b). What a restart hand-over carries. */
const char *capture_buffer_stream_pending(const CaptureBuffer *b, size_t i, size_t *ret_size);
/* Makes data (size bytes, malloc'ed, taken) what stream i holds for replies, in place of what it held:
 * output a restart hand-over brought. kept, limit and truncated are the caller's to set. */
void capture_buffer_adopt(CaptureBuffer *b, size_t i, char *data, size_t size);

/* Bytes no reply has carried yet, both streams. */
size_t capture_buffer_pending(const CaptureBuffer *b);

/*
 * The output one reply carries: what is pending that fits budget bytes of JSON text (stdout first,
 * each stream cut at a whole UTF-8 sequence; see wait_output_fit()). capture_buffer_consume() then
 * forgets what it carried. *ret points into b until the next call that changes b.
 */
void capture_buffer_peek(const CaptureBuffer *b, size_t budget, WaitOutput *ret);
void capture_buffer_consume(CaptureBuffer *b, const WaitOutput *out);
/* Forgets all that is pending (what a final reply could not carry). */
void capture_buffer_discard(CaptureBuffer *b);
