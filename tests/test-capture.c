/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Captured output: the JSON text bound a reply's output is cut to (it must
 * hold for the text json-c really writes, for every kind of byte), and the
 * buffer that hands pending output out in such pieces.
 */

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "json-codec.h"
#include "sandbox-protocol.h"

/* The bytes of JSON text between the quotes of "stdout" in the reply carrying out, as the wire writes it. */
static size_t stdout_text_size(const char *data, size_t size) {
        WaitOutput out = { .stdout_data = data, .stdout_size = size };
        struct json_object *o, *s;
        size_t n;

        if (size == 0)
                return 0;
        o = wait_reply_encode_output(SANDBOX_RUNNING, 0, 0, &out);
        cr_assert_not_null(o);
        cr_assert(json_object_object_get_ex(o, "stdout", &s));
        n = strlen(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) - 2;
        json_object_put(o);
        return n;
}

Test(capture, fit_counts_what_json_c_writes) {
        static const struct {
                const char *data;
                size_t size;
        } cases[] = {
                { "plain text", 10 },
                { "\x01\x02\x1f", 3 },                /* \u00XX: 6 each */
                { "\n\t\r\b\f\"\\", 7 },             /* short escapes: 2 each */
                { "/", 1 },                           /* not escaped */
                { "\x7f", 1 },                        /* counted as escaped: never under */
                { "\xff\xfe\x80", 3 },                /* not UTF-8: U+FFFD, 3 each */
                { "a\0b", 3 },                        /* NUL: U+FFFD */
                { "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9 }, /* é € 😀 as they are */
                { "\xe2\x82", 2 },                    /* a cut sequence: each byte U+FFFD */
                { "\xed\xa0\x80", 3 },                /* a surrogate is not UTF-8 */
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                size_t text = 0, n = wait_output_fit(cases[i].data, cases[i].size, SIZE_MAX, &text);

                cr_assert_eq(n, cases[i].size, "case %zu", i);
                cr_assert_geq(text, stdout_text_size(cases[i].data, cases[i].size), "case %zu undercounts", i);
                if (i != 4)
                        cr_assert_eq(text, stdout_text_size(cases[i].data, cases[i].size), "case %zu", i);
        }
}

Test(capture, fit_stops_at_the_budget_between_sequences) {
        size_t text;

        /* 0x01 costs 6: 3 fit in 20. */
        cr_assert_eq(wait_output_fit("\x01\x01\x01\x01", 4, 20, &text), 3U);
        cr_assert_eq(text, 18U);
        /* A 3-byte sequence is never cut. */
        cr_assert_eq(wait_output_fit("a\xe2\x82\xac", 4, 3, &text), 1U);
        cr_assert_eq(text, 1U);
        cr_assert_eq(wait_output_fit("abc", 3, 0, &text), 0U);
        cr_assert_eq(text, 0U);
}

/* Worst-case bytes at any cut: the text of what fits never passes the budget. */
Test(capture, fit_never_passes_the_budget) {
        size_t size = 4096;
        char *data = malloc(size);

        cr_assert_not_null(data);
        for (size_t i = 0; i < size; i++)
                data[i] = (char) (i % 3 == 0 ? 0x01 : i % 3 == 1 ? 0xff : 0xe2);
        for (size_t budget = 0; budget < 200; budget += 7) {
                size_t text, n = wait_output_fit(data, size, budget, &text);

                cr_assert_leq(text, budget);
                cr_assert_leq(stdout_text_size(data, n), budget, "budget %zu", budget);
                /* And nothing more would have fit. */
                cr_assert_gt(text + 6, budget);
        }
        free(data);
}

static void put(CaptureBuffer *b, size_t i, const char *s) {
        char *where = NULL;
        size_t n = strlen(s), room = capture_buffer_room(b, i, n, &where);

        if (room == 0) {
                capture_buffer_dropped(b);
                return;
        }
        memcpy(where, s, MIN(room, n));
        capture_buffer_commit(b, i, MIN(room, n));
}

Test(capture, buffer_keeps_up_to_the_limit_and_hands_out_pieces) {
        CaptureBuffer b;
        WaitOutput out;

        capture_buffer_init(&b, 10);
        put(&b, 0, "hello");
        put(&b, 1, "err");
        put(&b, 0, "world"); /* only "wo" fits */
        cr_assert_eq(capture_buffer_pending(&b), 10U);
        put(&b, 0, "more");
        cr_assert(b.truncated);

        /* A piece of 4 bytes of text: stdout first. */
        capture_buffer_peek(&b, 4, &out);
        cr_assert_eq(out.stdout_size, 4U);
        cr_assert_eq(out.stderr_size, 0U);
        cr_assert(memcmp(out.stdout_data, "hell", 4) == 0);
        capture_buffer_consume(&b, &out);

        capture_buffer_peek(&b, 100, &out);
        cr_assert_eq(out.stdout_size, 3U);
        cr_assert(memcmp(out.stdout_data, "owo", 3) == 0);
        cr_assert_eq(out.stderr_size, 3U);
        cr_assert(memcmp(out.stderr_data, "err", 3) == 0);
        cr_assert(out.truncated);
        capture_buffer_consume(&b, &out);
        cr_assert_eq(capture_buffer_pending(&b), 0U);
        cr_assert_null(b.stream[0].data, "delivered output is given back");

        /* Past the limit nothing more is kept, delivered or not. */
        put(&b, 0, "x");
        cr_assert_eq(capture_buffer_pending(&b), 0U);
        capture_buffer_done(&b);
}

/* Reading while pieces go out moves what is pending down, and keeps the order. */
Test(capture, buffer_interleaves_reads_and_pieces) {
        CaptureBuffer b;
        WaitOutput out;
        char expect = 'a', got[4096];
        size_t n_got = 0;

        capture_buffer_init(&b, 1 << 20);
        for (int round = 0; round < 200; round++) {
                char chunk[7];

                for (size_t k = 0; k < sizeof chunk - 1; k++)
                        chunk[k] = (char) ('a' + (round * 6 + k) % 26);
                chunk[6] = 0;
                put(&b, 0, chunk);
                capture_buffer_peek(&b, 5, &out);
                memcpy(got + n_got, out.stdout_data, out.stdout_size);
                n_got += out.stdout_size;
                capture_buffer_consume(&b, &out);
        }
        capture_buffer_peek(&b, SIZE_MAX, &out);
        memcpy(got + n_got, out.stdout_data, out.stdout_size);
        n_got += out.stdout_size;
        capture_buffer_consume(&b, &out);

        cr_assert_eq(n_got, 1200U);
        for (size_t i = 0; i < n_got; i++, expect = (char) (expect == 'z' ? 'a' : expect + 1))
                cr_assert_eq(got[i], expect, "at %zu", i);
        capture_buffer_done(&b);
}
