/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The captured output of one sandbox: bytes kept up to the limit, handed out
 * to replies in pieces of bounded JSON size. Delivered bytes are dropped from
 * the front by moving an offset; the rest is moved down only once it is no
 * bigger than what was delivered, so handing out a large buffer piece by
 * piece costs linear time.
 */

#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "macro.h"

void capture_buffer_init(CaptureBuffer *b, uint64_t limit) {
        *b = (CaptureBuffer) { .limit = limit };
}

void capture_buffer_done(CaptureBuffer *b) {
        for (size_t i = 0; i < ELEMENTSOF(b->stream); i++)
                free(b->stream[i].data);
        *b = (CaptureBuffer) { .limit = b->limit };
}

size_t capture_buffer_room(CaptureBuffer *b, size_t i, size_t max, char **ret_where) {
        CaptureStream *s = &b->stream[i];
        size_t want = (size_t) MIN((uint64_t) max, b->limit - MIN(b->kept, b->limit));
        char *d;

        if (want == 0)
                return 0;
        if (s->start > 0 && s->start >= s->size - s->start) {
                memmove(s->data, s->data + s->start, s->size - s->start);
                s->size -= s->start;
                s->start = 0;
        }
        if (s->allocated - s->size < want) {
                /* Doubling, but never past what the limit lets this stream hold. */
                size_t cap = s->size + (size_t) MIN((uint64_t) SIZE_MAX - s->size, b->limit - b->kept);
                size_t n = MIN(MAX(s->allocated * 2, s->size + want), cap);

                d = realloc(s->data, n);
                if (!d)
                        return 0;
                s->data = d;
                s->allocated = n;
        }
        *ret_where = s->data + s->size;
        return want;
}

void capture_buffer_commit(CaptureBuffer *b, size_t i, size_t n) {
        b->stream[i].size += n;
        b->kept += n;
}

void capture_buffer_dropped(CaptureBuffer *b) {
        b->truncated = true;
}

size_t capture_buffer_pending(const CaptureBuffer *b) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(b->stream); i++)
                n += b->stream[i].size - b->stream[i].start;
        return n;
}

void capture_buffer_peek(const CaptureBuffer *b, size_t budget, WaitOutput *ret) {
        const CaptureStream *o = &b->stream[0], *e = &b->stream[1];
        size_t used = 0, n_out, n_err;

        const char *out = o->data ? o->data + o->start : "", *err = e->data ? e->data + e->start : "";

        n_out = wait_output_fit(out, o->size - o->start, budget, &used);
        n_err = wait_output_fit(err, e->size - e->start, budget - used, NULL);
        *ret = (WaitOutput) {
                .stdout_data = out,
                .stdout_size = n_out,
                .stderr_data = err,
                .stderr_size = n_err,
                .truncated = b->truncated,
        };
}

static void stream_consume(CaptureStream *s, size_t n) {
        s->start += n;
        if (s->start < s->size)
                return;
        /* All delivered: give the memory back, a long-running sandbox may say little for a long time. */
        free(s->data);
        *s = (CaptureStream) {};
}

void capture_buffer_consume(CaptureBuffer *b, const WaitOutput *out) {
        stream_consume(&b->stream[0], out->stdout_size);
        stream_consume(&b->stream[1], out->stderr_size);
}

void capture_buffer_discard(CaptureBuffer *b) {
        for (size_t i = 0; i < ELEMENTSOF(b->stream); i++) {
                free(b->stream[i].data);
                b->stream[i] = (CaptureStream) {};
        }
}

const char *capture_buffer_stream_pending(const CaptureBuffer *b, size_t i, size_t *ret_size) {
        const CaptureStream *s = &b->stream[i];

        *ret_size = s->size - s->start;
        return s->data ? s->data + s->start : "";
}

void capture_buffer_adopt(CaptureBuffer *b, size_t i, char *data, size_t size) {
        free(b->stream[i].data);
        b->stream[i] = data ? (CaptureStream) { .data = data, .size = size, .allocated = size } : (CaptureStream) {};
}
