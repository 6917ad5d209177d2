/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the Varlink wire layer over real socketpairs: framing, limits, fd attachment, partial writes. */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "varlink-wire.h"
#include "test-util.h"

static const char sample_stream[] =
        "{\"method\":\"org.example.A\",\"parameters\":{\"s\":\"x\\u00e9y\",\"n\":[1,2,{\"z\":null}]}}\0"
        "{\"parameters\":{}}\0"
        " {\"error\":\"org.example.Failed\",\"parameters\":{\"why\":\"a\\\"b\"}} \n\0";
#define SAMPLE_SIZE (sizeof(sample_stream) - 1) /* the array's own terminator is not part of the stream */

static const char *const sample_json[] = {
        "{\"method\":\"org.example.A\",\"parameters\":{\"s\":\"x\\u00e9y\",\"n\":[1,2,{\"z\":null}]}}",
        "{\"parameters\":{}}",
        "{\"error\":\"org.example.Failed\",\"parameters\":{\"why\":\"a\\\"b\"}}",
};

static void make_pair(int sv[2]) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(int sv[2]) {
        safe_close(sv[0]);
        safe_close(sv[1]);
}

static void assert_json(struct json_object *o, const char *text) {
        struct json_object *expected = json_tokener_parse(text);

        cr_assert_not_null(expected);
        cr_assert(json_object_equal(o, expected), "got %s, expected %s", json_object_to_json_string(o), text);
        json_object_put(expected);
}

/* Pops every complete message; returns how many, storing up to max of them. */
static size_t drain(VarlinkReader *r, VarlinkMessage *out, size_t max) {
        size_t n = 0;
        VarlinkMessage m;
        int k;

        while ((k = varlink_reader_next(r, &m)) > 0) {
                cr_assert_lt(n, max);
                out[n++] = m;
        }
        cr_assert_eq(k, 0, "next: %s", strerror(-k));
        return n;
}

static void done_all(VarlinkMessage *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                varlink_message_done(m + i);
}

static VarlinkReader *reader_new(size_t size_max, unsigned depth_max, unsigned fds_max) {
        VarlinkReaderLimits l = { .message_size_max = size_max, .depth_max = depth_max, .fds_max = fds_max };
        VarlinkReader *r = NULL;

        cr_assert_eq(varlink_reader_new(&l, &r), 0);
        return r;
}

Test(varlink_wire, split_at_every_byte_boundary_fed) {
        for (size_t split = 0; split <= SAMPLE_SIZE; split++) {
                _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
                VarlinkMessage m[3];
                size_t n = 0;

                cr_assert_eq(varlink_reader_feed(r, sample_stream, split), 0);
                n += drain(r, m + n, 3 - n);
                cr_assert_eq(varlink_reader_feed(r, sample_stream + split, SAMPLE_SIZE - split), 0);
                n += drain(r, m + n, 3 - n);

                cr_assert_eq(n, 3, "split at %zu", split);
                cr_assert_not(varlink_reader_has_partial(r));
                for (size_t i = 0; i < 3; i++) {
                        assert_json(m[i].json, sample_json[i]);
                        cr_assert_eq(m[i].n_fds, 0);
                }
                done_all(m, n);
        }
}

Test(varlink_wire, split_at_every_byte_boundary_socket) {
        int sv[2];

        make_pair(sv);
        for (size_t split = 0; split <= SAMPLE_SIZE; split++) {
                _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
                VarlinkMessage m[3];
                size_t n = 0;

                if (split > 0) {
                        test_send_with_fds(sv[0], sample_stream, split, NULL, 0);
                        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) split);
                        n += drain(r, m + n, 3 - n);
                        cr_assert_eq(varlink_reader_has_partial(r), n < 3 && split > 0 && sample_stream[split - 1] != 0);
                }
                if (split < SAMPLE_SIZE) {
                        test_send_with_fds(sv[0], sample_stream + split, SAMPLE_SIZE - split, NULL, 0);
                        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) (SAMPLE_SIZE - split));
                        n += drain(r, m + n, 3 - n);
                }
                cr_assert_eq(varlink_reader_fill(r, sv[1]), -EAGAIN);

                cr_assert_eq(n, 3, "split at %zu", split);
                for (size_t i = 0; i < 3; i++)
                        assert_json(m[i].json, sample_json[i]);
                done_all(m, n);
        }
        close_pair(sv);
}

Test(varlink_wire, one_byte_at_a_time) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        VarlinkMessage m[3];
        size_t n = 0;

        for (size_t i = 0; i < SAMPLE_SIZE; i++) {
                cr_assert_eq(varlink_reader_feed(r, sample_stream + i, 1), 0);
                n += drain(r, m + n, 3 - n);
        }
        cr_assert_eq(n, 3);
        for (size_t i = 0; i < 3; i++)
                assert_json(m[i].json, sample_json[i]);
        done_all(m, n);
}

Test(varlink_wire, many_messages_in_one_read) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        char buf[32 * 1024];
        size_t size = 0, count = 0, expected = 0;
        int sv[2];

        make_pair(sv);
        while (size + 32 < sizeof(buf)) {
                size += (size_t) snprintf(buf + size, sizeof(buf) - size, "{\"i\":%zu}", expected++);
                buf[size++] = 0;
        }
        test_send_with_fds(sv[0], buf, size, NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) size);

        for (;;) {
                VarlinkMessage m;
                int k = varlink_reader_next(r, &m);

                cr_assert_geq(k, 0);
                if (k == 0)
                        break;
                cr_assert_eq(json_object_get_int(json_object_object_get(m.json, "i")), (int) count);
                count++;
                varlink_message_done(&m);
        }
        cr_assert_eq(count, expected);
        close_pair(sv);
}

/* True if a and b are the same open file (so an fd arrived as the one that was sent). */
static bool same_file(int a, int b) {
        struct stat sa, sb;

        cr_assert_eq(fstat(a, &sa), 0);
        cr_assert_eq(fstat(b, &sb), 0);
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static bool is_cloexec(int fd) {
        int flags = fcntl(fd, F_GETFD);

        cr_assert_geq(flags, 0);
        return flags & FD_CLOEXEC;
}

Test(varlink_wire, fds_attach_to_the_message_they_came_with) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        int sv[2], p1[2], p2[2], before;
        VarlinkMessage m[4];
        size_t n = 0;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p1, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(p2, O_CLOEXEC), 0);
        cr_assert_eq(varlink_writer_new(0, &w), 0);

        struct json_object *a = json_tokener_parse("{\"n\":0}"), *b = json_tokener_parse("{\"n\":1}"),
                           *c = json_tokener_parse("{\"n\":2}"), *d = json_tokener_parse("{\"n\":3}");
        int dup_b[2] = { fd_dup_cloexec(p1[0]), fd_dup_cloexec(p1[1]) };
        int dup_d[1] = { fd_dup_cloexec(p2[0]) };

        cr_assert_eq(varlink_writer_enqueue(w, a, NULL, 0), 0);
        cr_assert_eq(varlink_writer_enqueue(w, b, dup_b, 2), 0);
        cr_assert_eq(varlink_writer_enqueue(w, c, NULL, 0), 0);
        cr_assert_eq(varlink_writer_enqueue(w, d, dup_d, 1), 0);
        json_object_put(a);
        json_object_put(b);
        json_object_put(c);
        json_object_put(d);
        cr_assert_eq(varlink_writer_flush(w, sv[0]), 0);
        cr_assert_not(varlink_writer_pending(w));

        while (n < 4) {
                int k = varlink_reader_fill(r, sv[1]);
                cr_assert_gt(k, 0, "fill: %d", k);
                n += drain(r, m + n, 4 - n);
        }

        for (size_t i = 0; i < 4; i++)
                cr_assert_eq(json_object_get_int(json_object_object_get(m[i].json, "n")), (int) i);
        cr_assert_eq(m[0].n_fds, 0);
        cr_assert_eq(m[1].n_fds, 2);
        cr_assert_eq(m[2].n_fds, 0);
        cr_assert_eq(m[3].n_fds, 1);
        cr_assert(same_file(m[1].fds[0], p1[0]));
        cr_assert(same_file(m[1].fds[1], p1[1]));
        cr_assert(same_file(m[3].fds[0], p2[0]));
        cr_assert(is_cloexec(m[1].fds[0]));

        /* Taking one leaves the message without it; peeking keeps it. */
        int fd = varlink_message_take_fd(&m[1], 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(varlink_message_take_fd(&m[1], 0), -EBADF);
        cr_assert_eq(varlink_message_peek_fd(&m[1], 0), -EBADF);
        cr_assert_eq(varlink_message_take_fd(&m[1], 2), -ENXIO);
        cr_assert_eq(varlink_message_take_fd(&m[1], -1), -ENXIO);
        cr_assert_eq(varlink_message_peek_fd(&m[1], 1), m[1].fds[1]);
        safe_close(fd);

        done_all(m, 4);
        close_pair(sv);
        close_many(p1, 2);
        close_many(p2, 2);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, pipelined_plain_then_fds_in_one_read) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char first[] = "{\"n\":1}", second[] = "{\"n\":2}";
        int sv[2], p[2], before;
        VarlinkMessage m[2];

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);

        /* Two sends; the kernel joins them into one read, the fds belong to the second. */
        test_send_with_fds(sv[0], first, sizeof(first), NULL, 0);
        test_send_with_fds(sv[0], second, sizeof(second), p, 2);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) (sizeof(first) + sizeof(second)));
        cr_assert_eq(drain(r, m, 2), 2);

        cr_assert_eq(m[0].n_fds, 0);
        cr_assert_eq(m[1].n_fds, 2);
        cr_assert(same_file(m[1].fds[0], p[0]));
        cr_assert(same_file(m[1].fds[1], p[1]));

        done_all(m, 2);
        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, tail_of_previous_message_then_fds) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char first[] = "{\"n\":1}", second[] = "{\"n\":2}";
        int sv[2], p[2];
        VarlinkMessage m[2];
        size_t n = 0;

        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);

        test_send_with_fds(sv[0], first, 3, NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), 3);
        cr_assert(varlink_reader_has_partial(r));
        test_send_with_fds(sv[0], first + 3, sizeof(first) - 3, NULL, 0);
        test_send_with_fds(sv[0], second, sizeof(second), p, 1);
        while (n < 2) {
                cr_assert_gt(varlink_reader_fill(r, sv[1]), 0);
                n += drain(r, m + n, 2 - n);
        }
        cr_assert_eq(m[0].n_fds, 0);
        cr_assert_eq(m[1].n_fds, 1);
        cr_assert(same_file(m[1].fds[0], p[0]));

        done_all(m, 2);
        close_pair(sv);
        close_many(p, 2);
}

Test(varlink_wire, fds_in_the_middle_of_a_message) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char msg[] = "{\"n\":1}";
        int sv[2], p[2], before;
        VarlinkMessage m;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);

        test_send_with_fds(sv[0], msg, 4, NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), 4);
        test_send_with_fds(sv[0], msg + 4, sizeof(msg) - 4, p, 2);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), -EPROTO);

        /* The error is final, and the fds that came with it are gone. */
        cr_assert_eq(varlink_reader_fill(r, sv[1]), -EPROTO);
        cr_assert_eq(varlink_reader_next(r, &m), -EPROTO);
        cr_assert_str_eq(varlink_reader_error_reason(r),
                         "file descriptors sent in the middle of a message, not with its first byte");
        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, fds_with_no_data_left) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char msg[] = "{\"n\":1}";
        int sv[2], before;
        VarlinkMessage m;

        before = fd_count_open();
        make_pair(sv);
        test_send_with_fds(sv[0], msg, sizeof(msg), NULL, 0);
        test_send_with_fds(sv[0], msg, sizeof(msg), NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), 2 * (int) sizeof(msg));
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        varlink_message_done(&m);
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        varlink_message_done(&m);
        cr_assert_eq(varlink_reader_next(r, &m), 0);
        cr_assert_null(m.json);
        close_pair(sv);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, the_most_fds_per_message) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char msg[] = "{\"many\":true}";
        int sv[2], p[2], fds[VARLINK_FDS_MAX], before;
        VarlinkMessage m;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (size_t i = 0; i < VARLINK_FDS_MAX; i++)
                fds[i] = p[i % 2];

        test_send_with_fds(sv[0], msg, sizeof(msg), fds, VARLINK_FDS_MAX);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) sizeof(msg));
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        cr_assert_eq(m.n_fds, VARLINK_FDS_MAX);
        for (size_t i = 0; i < VARLINK_FDS_MAX; i++)
                cr_assert(same_file(m.fds[i], p[i % 2]));
        varlink_message_done(&m);

        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

/* More fds than a reader allows: received and refused by count. Never cut off as MSG_CTRUNC, which
 * would have the kernel release the surplus inside recvmsg(), in the reader's thread. */
static void check_too_many_fds(size_t n_fds, int expected) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 2);
        static const char msg[] = "{\"n\":1}";
        int sv[2], p[2], fds[VARLINK_FDS_MAX], before;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (size_t i = 0; i < n_fds; i++)
                fds[i] = p[i % 2];

        test_send_with_fds(sv[0], msg, sizeof(msg), fds, n_fds);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), expected);
        cr_assert(strstr(varlink_reader_error_reason(r), "more file descriptors with one message than the limit"));

        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before, "leaked %d fds", fd_count_open() - before);
}

Test(varlink_wire, too_many_fds_counted) {
        check_too_many_fds(3, -EPROTO);
}

Test(varlink_wire, too_many_fds_received_then_refused) {
        check_too_many_fds(VARLINK_FDS_MAX, -EPROTO);
}

Test(varlink_wire, message_size_limit_exact) {
        char buf[64];

        /* {"s":"xxx"} + NUL: 12 bytes with 3 x's. */
        for (size_t x = 0; x < 8; x++) {
                _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(12, 0, 0);
                VarlinkMessage m;
                size_t n;

                n = (size_t) snprintf(buf, sizeof(buf), "{\"s\":\"%.*s\"}", (int) x, "xxxxxxxxxx");
                buf[n++] = 0;
                if (n <= 12) {
                        cr_assert_eq(varlink_reader_feed(r, buf, n), 0, "size %zu", n);
                        cr_assert_eq(varlink_reader_next(r, &m), 1);
                        varlink_message_done(&m);
                } else
                        cr_assert_eq(varlink_reader_feed(r, buf, n), -EMSGSIZE, "size %zu", n);
        }
}

Test(varlink_wire, oversized_message_refused_before_its_end) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(1024, 0, 0);
        char junk[4096];
        int sv[2], k = 0;
        size_t total = 0;

        make_pair(sv);
        memset(junk, ' ', sizeof(junk));
        junk[0] = '{';

        /* No NUL ever comes: the reader must give up once the limit is passed, not wait for the end. */
        for (int i = 0; i < 64 && k >= 0; i++) {
                test_send_with_fds(sv[0], junk, sizeof(junk), NULL, 0);
                k = varlink_reader_fill(r, sv[1]);
                if (k > 0)
                        total += (size_t) k;
        }
        cr_assert_eq(k, -EMSGSIZE);
        cr_assert_str_eq(varlink_reader_error_reason(r), "a message longer than the size limit");
        cr_assert_lt(total, 1024);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), -EMSGSIZE);
        close_pair(sv);
}

Test(varlink_wire, oversized_message_default_limit) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        _cleanup_free_ char *big = malloc(VARLINK_MESSAGE_SIZE_MAX_DEFAULT + 16);
        size_t n;

        cr_assert_not_null(big);
        n = (size_t) sprintf(big, "{\"s\":\"");
        memset(big + n, 'x', VARLINK_MESSAGE_SIZE_MAX_DEFAULT);
        n += VARLINK_MESSAGE_SIZE_MAX_DEFAULT;
        memcpy(big + n, "\"}", 3);
        n += 3;
        cr_assert_eq(varlink_reader_feed(r, big, n), -EMSGSIZE);
}

static int parse_one(const char *text, size_t size, unsigned depth_max) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, depth_max, 0);
        VarlinkMessage m;
        int k;

        cr_assert_eq(varlink_reader_feed(r, text, size), 0);
        cr_assert_eq(varlink_reader_feed(r, "", 1), 0);
        k = varlink_reader_next(r, &m);
        if (k > 0) {
                cr_assert_eq(json_object_get_type(m.json), json_type_object);
                varlink_message_done(&m);
        }
        return k;
}

static char *nested(unsigned depth, bool scalar_inside) {
        char *s = malloc(depth * 6 + 16);
        size_t n = 0;

        cr_assert_not_null(s);
        for (unsigned i = 0; i < depth; i++) {
                memcpy(s + n, i % 2 == 0 ? "{\"a\":" : "[", i % 2 == 0 ? 5 : 1);
                n += i % 2 == 0 ? 5 : 1;
        }
        if (scalar_inside)
                s[n++] = '1';
        else {
                /* The innermost container stays empty. */
                n -= (depth - 1) % 2 == 0 ? 5 : 1;
                memcpy(s + n, (depth - 1) % 2 == 0 ? "{}" : "[]", 2);
                n += 2;
        }
        for (unsigned i = scalar_inside ? depth : depth - 1; i > 0; i--)
                s[n++] = (i - 1) % 2 == 0 ? '}' : ']';
        s[n] = 0;
        return s;
}

Test(varlink_wire, depth_limit) {
        for (unsigned limit = 1; limit <= 6; limit++)
                for (unsigned depth = 1; depth <= limit + 2; depth++)
                        for (int scalar = 0; scalar <= 1; scalar++) {
                                _cleanup_free_ char *s = nested(depth, scalar);
                                int k = parse_one(s, strlen(s), limit);

                                cr_assert_eq(k, depth <= limit ? 1 : -ELOOP, "limit %u: %s -> %d", limit, s, k);
                        }
}

Test(varlink_wire, very_deep_message) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        _cleanup_free_ char *s = malloc(200001);
        VarlinkMessage m;

        cr_assert_not_null(s);
        memcpy(s, "{\"a\":", 5);
        memset(s + 5, '[', 200000 - 5);
        s[200000] = 0;
        cr_assert_eq(varlink_reader_feed(r, s, 200001), 0);
        cr_assert_null(varlink_reader_error_reason(r));
        cr_assert_eq(varlink_reader_next(r, &m), -ELOOP);
        cr_assert_str_eq(varlink_reader_error_reason(r), "JSON nested deeper than the limit");

        /* 32 levels is the default and still fine, 33 is not. */
        _cleanup_free_ char *ok = nested(32, true), *deep = nested(33, true);
        cr_assert_eq(parse_one(ok, strlen(ok), 0), 1);
        cr_assert_eq(parse_one(deep, strlen(deep), 0), -ELOOP);
}

Test(varlink_wire, malformed_messages) {
        static const struct {
                const char *text;
                size_t size; /* 0: strlen */
        } bad[] = {
                { "" },
                { "   " },
                { "not json" },
                { "[1]" },
                { "1" },
                { "\"string\"" },
                { "null" },
                { "{\"a\":1} x" },
                { "{} {}" },
                { "{\"a\":1}}" },
                { "{'a':1}" },
                { "{\"a\":NaN}" },
                { "{\"a\":Infinity}" },
                { "{\"a\":1,}" },
                { "{\"a\":[1,]}" },
                { "{\"a\":01}" },
                { "{\"a\":1.}" },
                { "{\"a\":-}" },
                { "{\"a\":1e}" },
                { "{\"a\":tru}" },
                { "{\"a\" 1}" },
                { "{a:1}" },
                { "{\"a\":\"\\x\"}" },
                { "{\"a\":\"\\u12\"}" },
                { "{\"a\":\"tab\there\"}" },
                { "{\"a\":\"\xff\"}" },
                { "{\"a\":\"\xc3\"}" },
                { "{\"a\\u0000b\":1}" },
                { "{\"a\":1" },
                { "{\"a\":[}" },
                { "{\"a\":{]}" },
                { "{/*c*/}" },
                { "{\"a\":1}\x01" },
                /* Duplicate keys: json-c would keep the last, a filter in front may have read the first. */
                { "{\"a\":1,\"a\":2}" },
                { "{\"method\":\"x.y.List\",\"parameters\":{\"a\":[{\"b\":1,\"b\":1}]}}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *t = bad[i].text;
                int k = parse_one(t, bad[i].size ?: strlen(t), 0);
                cr_assert_eq(k, -EBADMSG, "'%s' -> %d", t, k);
        }

        static const char *const good[] = {
                "{}",
                " \t\r\n{ } \n",
                "{\"a\":[1,-2.5e+3,0,true,false,null,\"\\u00e9\\n\\\"\",{}]}",
                "{\"a\":\"\\u0000 inside a value is kept for the decoders to refuse\"}",
                "{\"\\u00e9\":\"\xc3\xa9\"}",
                "{\"a\":{\"b\":1},\"c\":{\"b\":2}}", /* the same key in different objects */
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int k = parse_one(good[i], strlen(good[i]), 0);
                cr_assert_eq(k, 1, "'%s' -> %d", good[i], k);
        }
}

Test(varlink_wire, bad_message_does_not_poison_the_next) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char stream[] = "{nope}\0{\"ok\":true}";
        VarlinkMessage m;

        cr_assert_eq(varlink_reader_feed(r, stream, sizeof(stream)), 0);
        cr_assert_eq(varlink_reader_next(r, &m), -EBADMSG);
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        assert_json(m.json, "{\"ok\":true}");
        varlink_message_done(&m);
        cr_assert_eq(varlink_reader_next(r, &m), 0);
}

Test(varlink_wire, eof_and_partial) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        int sv[2];

        make_pair(sv);
        test_send_with_fds(sv[0], "{\"a\"", 4, NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), 4);
        cr_assert(varlink_reader_has_partial(r));
        cr_assert_eq(varlink_reader_fill(r, sv[1]), -EAGAIN);
        safe_close(sv[0]);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), 0);
        cr_assert(varlink_reader_has_partial(r));
        safe_close(sv[1]);
}

Test(varlink_wire, reader_limits_are_checked) {
        VarlinkReaderLimits l = { .message_size_max = 2 };
        VarlinkReader *r = NULL;

        cr_assert_eq(varlink_reader_new(&l, &r), -EINVAL);
        cr_assert_null(r);
        cr_assert_eq(varlink_reader_new(NULL, NULL), -EINVAL);
        cr_assert_null(varlink_reader_free(NULL));
        cr_assert_eq(varlink_reader_fill(NULL, 0), -EINVAL);
}

/* ---- writer ---- */

static struct json_object *numbered(size_t i, size_t padding) {
        struct json_object *o = json_object_new_object();
        char *pad = malloc(padding + 1);

        cr_assert_not_null(pad);
        memset(pad, 'p', padding);
        pad[padding] = 0;
        json_object_object_add(o, "i", json_object_new_int64((int64_t) i));
        json_object_object_add(o, "pad", json_object_new_string(pad));
        json_object_object_add(o, "path", json_object_new_string("/a/b"));
        free(pad);
        return o;
}

Test(varlink_wire, serialization_is_plain_with_nul) {
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        struct json_object *o = json_tokener_parse("{\"path\":\"/a/b\",\"n\":[1, 2]}");
        char buf[128];
        int sv[2];

        make_pair(sv);
        cr_assert_eq(varlink_writer_new(0, &w), 0);
        cr_assert_eq(varlink_writer_enqueue(w, o, NULL, 0), 0);
        cr_assert_eq(varlink_writer_queued_bytes(w), strlen("{\"path\":\"/a/b\",\"n\":[1,2]}") + 1);
        cr_assert_eq(varlink_writer_flush(w, sv[0]), 0);
        cr_assert_eq(varlink_writer_queued_bytes(w), 0);
        cr_assert_eq(read(sv[1], buf, sizeof(buf)), (ssize_t) strlen("{\"path\":\"/a/b\",\"n\":[1,2]}") + 1);
        cr_assert_str_eq(buf, "{\"path\":\"/a/b\",\"n\":[1,2]}");
        json_object_put(o);
        close_pair(sv);
}

Test(varlink_wire, partial_writes_then_drain) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        const size_t count = 200;
        int sv[2], p[2], before, sndbuf = 1024, k;
        size_t received = 0, again = 0;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
        cr_assert_eq(varlink_writer_new(64U * 1024U * 1024U, &w), 0);

        for (size_t i = 0; i < count; i++) {
                struct json_object *o = numbered(i, 1000 + (i * 7919) % 5000);
                int fd = -EBADF;

                if (i % 3 == 0)
                        fd = fd_dup_cloexec(p[i % 2]);
                cr_assert_eq(varlink_writer_enqueue(w, o, &fd, fd >= 0 ? 1 : 0), 0);
                json_object_put(o);
        }

        /* The peer does not read: the writer must stop with data left, not block or drop it. */
        k = varlink_writer_flush(w, sv[0]);
        cr_assert_eq(k, -EAGAIN);
        cr_assert(varlink_writer_pending(w));
        cr_assert_gt(varlink_writer_queued_bytes(w), 0);

        while (received < count) {
                VarlinkMessage m;

                k = varlink_writer_flush(w, sv[0]);
                cr_assert(k == 0 || k == -EAGAIN);
                if (k == -EAGAIN)
                        again++;

                k = varlink_reader_fill(r, sv[1]);
                cr_assert(k > 0 || k == -EAGAIN, "fill: %d", k);
                while ((k = varlink_reader_next(r, &m)) > 0) {
                        size_t i = received++;

                        cr_assert_eq(json_object_get_int64(json_object_object_get(m.json, "i")), (int64_t) i);
                        cr_assert_eq(json_object_get_string_len(json_object_object_get(m.json, "pad")),
                                     (int) (1000 + (i * 7919) % 5000));
                        cr_assert_eq(m.n_fds, i % 3 == 0 ? 1U : 0U, "message %zu has %zu fds", i, m.n_fds);
                        if (i % 3 == 0)
                                cr_assert(same_file(m.fds[0], p[i % 2]));
                        varlink_message_done(&m);
                }
                cr_assert_eq(k, 0);
        }

        cr_assert_gt(again, 1);
        cr_assert_not(varlink_writer_pending(w));
        cr_assert_eq(varlink_writer_queued_bytes(w), 0);
        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, writer_queue_is_bounded) {
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        struct json_object *o = numbered(0, 100);
        int p[2], before;
        size_t n = 0;

        before = fd_count_open();
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(varlink_writer_new(1000, &w), 0);

        while (varlink_writer_enqueue(w, o, NULL, 0) == 0)
                n++;
        cr_assert_eq(n, 1000 / (strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                                  JSON_C_TO_STRING_NOSLASHESCAPE)) +
                                1));
        cr_assert_leq(varlink_writer_queued_bytes(w), 1000);

        /* Refused: the caller keeps its fds. */
        cr_assert_eq(varlink_writer_enqueue(w, o, p, 1), -ENOBUFS);
        cr_assert_geq(fcntl(p[0], F_GETFD), 0);

        /* Too many fds for one message. */
        int many[VARLINK_FDS_MAX + 1];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = p[0];
        _cleanup_(varlink_writer_freep) VarlinkWriter *w2 = NULL;
        cr_assert_eq(varlink_writer_new(0, &w2), 0);
        cr_assert_eq(varlink_writer_enqueue(w2, o, many, ELEMENTSOF(many)), -E2BIG);
        cr_assert_geq(fcntl(p[0], F_GETFD), 0);

        /* Only objects go on the wire. */
        struct json_object *a = json_object_new_array();
        cr_assert_eq(varlink_writer_enqueue(w2, a, NULL, 0), -EINVAL);
        json_object_put(a);

        json_object_put(o);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, writer_owns_fds_after_enqueue) {
        VarlinkWriter *w = NULL;
        struct json_object *o = numbered(0, 10);
        int p[2], before;

        before = fd_count_open();
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(varlink_writer_new(0, &w), 0);
        cr_assert_eq(varlink_writer_enqueue(w, o, p, 2), 0);
        json_object_put(o);

        /* Never sent: freeing the writer closes them. */
        cr_assert_eq(fd_count_open(), before + 2);
        varlink_writer_free(w);
        cr_assert_eq(fd_count_open(), before);
}

Test(varlink_wire, writer_reports_a_closed_peer) {
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        struct json_object *o = numbered(0, 10);
        int sv[2];

        make_pair(sv);
        safe_close(sv[1]);
        cr_assert_eq(varlink_writer_new(0, &w), 0);
        cr_assert_eq(varlink_writer_enqueue(w, o, NULL, 0), 0);
        cr_assert_eq(varlink_writer_flush(w, sv[0]), -EPIPE);
        json_object_put(o);
        safe_close(sv[0]);
}

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/* Credentials (and a pidfd) that socket options add must neither truncate the fds nor leak. */
static void check_with_socket_option(int option) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        static const char msg[] = "{\"n\":1}";
        int sv[2], p[2], fds[VARLINK_FDS_MAX], one = 1, before;
        VarlinkMessage m;

        make_pair(sv);
        if (setsockopt(sv[1], SOL_SOCKET, option, &one, sizeof(one)) < 0) {
                close_pair(sv);
                cr_skip_test("socket option %d not supported", option);
        }
        before = fd_count_open();
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (size_t i = 0; i < VARLINK_FDS_MAX; i++)
                fds[i] = p[i % 2];

        test_send_with_fds(sv[0], msg, sizeof(msg), fds, VARLINK_FDS_MAX);
        test_send_with_fds(sv[0], msg, sizeof(msg), NULL, 0);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) sizeof(msg));
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        cr_assert_eq(m.n_fds, VARLINK_FDS_MAX);
        varlink_message_done(&m);
        cr_assert_eq(varlink_reader_fill(r, sv[1]), (int) sizeof(msg));
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        cr_assert_eq(m.n_fds, 0);
        varlink_message_done(&m);

        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
        close_pair(sv);
}

Test(varlink_wire, fds_with_passcred) {
        check_with_socket_option(SO_PASSCRED);
}

Test(varlink_wire, fds_with_passpidfd) {
        check_with_socket_option(SO_PASSPIDFD);
}

Test(varlink_wire, large_message_across_many_reads) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = reader_new(0, 0, 0);
        _cleanup_(varlink_writer_freep) VarlinkWriter *w = NULL;
        const size_t pad = VARLINK_MESSAGE_SIZE_MAX_DEFAULT - 64;
        int sv[2], p[2], fd, before, k, fills = 0;
        struct json_object *big = numbered(7, pad), *small = numbered(8, 1);
        VarlinkMessage m[2];
        size_t n = 0;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(varlink_writer_new(0, &w), 0);
        fd = fd_dup_cloexec(p[0]);
        cr_assert_eq(varlink_writer_enqueue(w, big, &fd, 1), 0);
        fd = fd_dup_cloexec(p[1]);
        cr_assert_eq(varlink_writer_enqueue(w, small, &fd, 1), 0);

        while (n < 2) {
                k = varlink_writer_flush(w, sv[0]);
                cr_assert(k == 0 || k == -EAGAIN);
                k = varlink_reader_fill(r, sv[1]);
                cr_assert(k > 0 || k == -EAGAIN, "fill: %d", k);
                if (k > 0)
                        fills++;
                n += drain(r, m + n, 2 - n);
        }
        cr_assert_gt(fills, 2);
        cr_assert_eq(json_object_get_string_len(json_object_object_get(m[0].json, "pad")), (int) pad);
        cr_assert_eq(m[0].n_fds, 1);
        cr_assert(same_file(m[0].fds[0], p[0]));
        cr_assert_eq(m[1].n_fds, 1);
        cr_assert(same_file(m[1].fds[0], p[1]));

        done_all(m, 2);
        json_object_put(big);
        json_object_put(small);
        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}

/* A closer that closes and counts. */
static void counting_close(int fd, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        safe_close(fd);
}

/* Every fd the reader does not hand out, and every fd of the messages it returns, goes to its closer. */
Test(varlink_wire, received_fds_go_to_the_closer) {
        static const char good[] = "{\"a\":1}", bad[] = "{\"a\":1,\"a\":2}", unfinished[] = "{\"a\":";
        unsigned closed = 0;
        FdCloser closer = { .close = counting_close, .userdata = &closed };
        VarlinkReader *r = reader_new(0, 0, 0);
        VarlinkMessage m;
        int sv[2], p[2], before;

        before = fd_count_open();
        make_pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        varlink_reader_set_closer(r, &closer);

        /* a message handed out: its fds are closed through the closer when it is done */
        test_send_with_fds(sv[0], good, sizeof good, p, 2);
        cr_assert_gt(varlink_reader_fill(r, sv[1]), 0);
        cr_assert_eq(varlink_reader_next(r, &m), 1);
        cr_assert_eq(m.n_fds, 2U);
        varlink_message_close_fds(&m);
        cr_assert_eq(closed, 2U);
        cr_assert_eq(m.fds[0], -EBADF);
        varlink_message_done(&m);
        cr_assert_eq(closed, 2U);

        /* a refused message */
        test_send_with_fds(sv[0], bad, sizeof bad, p, 1);
        cr_assert_gt(varlink_reader_fill(r, sv[1]), 0);
        cr_assert_eq(varlink_reader_next(r, &m), -EBADMSG);
        cr_assert_eq(closed, 3U);

        /* what an unfinished message holds when the reader goes away */
        test_send_with_fds(sv[0], unfinished, strlen(unfinished), p, 2);
        cr_assert_gt(varlink_reader_fill(r, sv[1]), 0);
        varlink_reader_free(r);
        cr_assert_eq(closed, 5U);

        close_pair(sv);
        close_many(p, 2);
        cr_assert_eq(fd_count_open(), before);
}
