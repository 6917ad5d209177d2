/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Varlink wire layer: NUL-framed JSON messages on a SOCK_STREAM socket,
 * with SCM_RIGHTS fds tied to the first byte of the message they belong to.
 *
 * The reader reads in bounded chunks and never holds more than one
 * incomplete message (capped at the size limit), so a peer cannot make it
 * buffer without bound. The writer keeps a byte-bounded queue and sends a
 * message that carries fds in a sendmsg() of its own that starts at its
 * first byte, which is what lets the receiving side attribute the fds.
 */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fd-util.h"
#include "varlink-wire.h"

#ifndef _fallthrough_
#define _fallthrough_ __attribute__((__fallthrough__))
#endif

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* How much one fill() reads at most. */
#define READ_CHUNK (64U * 1024U)
/* How many queued messages one sendmsg() gathers at most. */
#define WRITE_IOV_MAX 16U

void varlink_message_done(VarlinkMessage *m) {
        if (!m)
                return;
        if (m->json)
                json_object_put(m->json);
        varlink_message_close_fds(m);
        free(m->fds);
        *m = (VarlinkMessage) {};
}

void varlink_message_close_fds(VarlinkMessage *m) {
        if (m)
                fd_closer_close_many(&m->closer, m->fds, m->n_fds);
}

int varlink_message_peek_fd(const VarlinkMessage *m, int64_t index) {
        if (!m || index < 0 || (uint64_t) index >= m->n_fds)
                return -ENXIO;
        if (m->fds[index] < 0)
                return -EBADF;
        return m->fds[index];
}

int varlink_message_take_fd(VarlinkMessage *m, int64_t index) {
        int fd;

        fd = varlink_message_peek_fd(m, index);
        if (fd < 0)
                return fd;
        m->fds[index] = -EBADF;
        return fd;
}

/* fds that arrived with the first byte of the message starting at stream offset 'offset'. */
typedef struct FdAttachment {
        uint64_t offset;
        int *fds;
        size_t n_fds;
} FdAttachment;

struct VarlinkReader {
        size_t message_size_max;
        unsigned depth_max;
        unsigned fds_max;

        /* Unconsumed bytes are buf[start..end); complete messages end before 'partial', an
         * incomplete one (if any) runs from 'partial' to 'end'. */
        char *buf;
        size_t allocated;
        size_t start;
        size_t partial;
        size_t end;
        uint64_t base; /* stream offset of buf[0] */

        char *depth_stack; /* depth_max bytes for the syntax check */

        FdAttachment *attachments; /* ordered by offset; one per read at most */
        size_t n_attachments;
        size_t allocated_attachments;

        int error; /* a framing error is final: the stream can no longer be split reliably */
        const char *reason; /* why the last failing call failed (static text) */

        FdCloser closer;
};

int varlink_reader_new(const VarlinkReaderLimits *limits, VarlinkReader **ret) {
        VarlinkReader *r;

        if (!ret)
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;

        r->message_size_max = limits && limits->message_size_max > 0 ? limits->message_size_max
                                                                      : VARLINK_MESSAGE_SIZE_MAX_DEFAULT;
        r->depth_max = limits && limits->depth_max > 0 ? limits->depth_max : VARLINK_DEPTH_MAX_DEFAULT;
        r->fds_max = limits && limits->fds_max > 0 ? MIN(limits->fds_max, VARLINK_FDS_MAX) : VARLINK_FDS_MAX;

        /* "{}" plus NUL is the smallest message; json-c's depth counter is an int. */
        if (r->message_size_max < 3 || r->message_size_max > INT_MAX || r->depth_max >= INT_MAX - 1) {
                free(r);
                return -EINVAL;
        }

        /* Each level takes a byte at least, so no message can nest deeper than it is long. */
        r->depth_max = (unsigned) MIN((size_t) r->depth_max, r->message_size_max);
        r->depth_stack = malloc(r->depth_max);
        if (!r->depth_stack) {
                free(r);
                return -ENOMEM;
        }

        *ret = r;
        return 0;
}

void varlink_reader_set_closer(VarlinkReader *r, const FdCloser *closer) {
        if (r)
                r->closer = closer ? *closer : (FdCloser) {};
}

static void attachment_done(VarlinkReader *r, FdAttachment *a) {
        fd_closer_close_many(&r->closer, a->fds, a->n_fds);
        free(a->fds);
        *a = (FdAttachment) {};
}

VarlinkReader *varlink_reader_free(VarlinkReader *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_attachments; i++)
                attachment_done(r, r->attachments + i);
        free(r->attachments);
        free(r->depth_stack);
        free(r->buf);
        free(r);
        return NULL;
}

const char *varlink_reader_error_reason(const VarlinkReader *r) {
        return r ? r->reason : NULL;
}

bool varlink_reader_has_partial(const VarlinkReader *r) {
        return r && r->partial < r->end;
}

void varlink_reader_held(const VarlinkReader *r, size_t *ret_bytes, size_t *ret_fds) {
        size_t fds = 0;

        for (size_t i = 0; r && i < r->n_attachments; i++)
                fds += r->attachments[i].n_fds;
        *ret_bytes = r ? r->allocated : 0;
        *ret_fds = fds;
}

/* Makes room for READ_CHUNK more bytes; the buffer never exceeds pending messages plus one chunk. */
static int reader_reserve(VarlinkReader *r) {
        if (r->start > 0) {
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->base += r->start;
                r->partial -= r->start;
                r->end -= r->start;
                r->start = 0;
        }

        if (r->allocated - r->end < READ_CHUNK) {
                size_t n = r->end + READ_CHUNK;
                char *p;

                p = realloc(r->buf, n);
                if (!p)
                        return -ENOMEM;
                r->buf = p;
                r->allocated = n;
        }

        return 0;
}

/*
 * Accounts for 'size' new bytes at buf[end..]: finds where messages start and
 * end, enforces the size limit, and attaches fds (if any) to the last message
 * starting in this chunk. On success the fds belong to the reader.
 */
static int reader_commit(VarlinkReader *r, size_t size, int *fds, size_t n_fds) {
        static const char too_long[] = "a message longer than the size limit";
        size_t chunk_start = r->end, chunk_end = r->end + size;
        size_t last_start = SIZE_MAX, message_start = r->partial;
        bool at_start = r->partial == r->end;

        for (size_t i = chunk_start; i < chunk_end;) {
                char *nul;

                if (at_start)
                        last_start = message_start = i;

                nul = memchr(r->buf + i, 0, chunk_end - i);
                if (!nul) {
                        at_start = false;
                        break;
                }

                if ((size_t) (nul - r->buf) + 1 - message_start > r->message_size_max) {
                        r->reason = too_long;
                        return -EMSGSIZE;
                }

                i = (size_t) (nul - r->buf) + 1;
                at_start = true;
                message_start = i;
        }

        /* The incomplete message may not grow past the limit either (its NUL still has to come). */
        if (!at_start && chunk_end - message_start >= r->message_size_max) {
                r->reason = too_long;
                return -EMSGSIZE;
        }

        if (n_fds > 0) {
                FdAttachment *a;

                if (last_start == SIZE_MAX) {
                        r->reason = "file descriptors sent in the middle of a message, not with its first byte";
                        return -EPROTO;
                }
                if (n_fds > r->fds_max) {
                        r->reason = "more file descriptors with one message than the limit";
                        return -EPROTO;
                }

                if (r->n_attachments >= r->allocated_attachments) {
                        size_t n = MAX(r->allocated_attachments * 2, 4U);

                        a = reallocarray(r->attachments, n, sizeof(*a));
                        if (!a) {
                                r->reason = "out of memory";
                                return -ENOMEM;
                        }
                        r->attachments = a;
                        r->allocated_attachments = n;
                }

                r->attachments[r->n_attachments++] = (FdAttachment) {
                        .offset = r->base + last_start,
                        .fds = fds,
                        .n_fds = n_fds,
                };
        }

        r->end = chunk_end;
        r->partial = at_start ? chunk_end : message_start;
        return 0;
}

static int reader_fail(VarlinkReader *r, int error) {
        r->error = error;
        return error;
}

int varlink_reader_feed(VarlinkReader *r, const void *data, size_t size) {
        const char *p = data;
        int k;

        if (!r || (!data && size > 0))
                return -EINVAL;
        if (r->error < 0)
                return r->error;

        while (size > 0) {
                size_t n;

                k = reader_reserve(r);
                if (k < 0)
                        return reader_fail(r, k);

                n = MIN(size, (size_t) READ_CHUNK);
                memcpy(r->buf + r->end, p, n);
                k = reader_commit(r, n, NULL, 0);
                if (k < 0)
                        return reader_fail(r, k);

                p += n;
                size -= n;
        }

        return 0;
}

/* Collects the fds of every SCM_RIGHTS header (and closes any pidfd the kernel attached on its own). */
static int reader_collect_fds(VarlinkReader *r, struct msghdr *mh, int **ret_fds, size_t *ret_n_fds) {
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        int k = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t n;
                int *p;

                if (c->cmsg_level != SOL_SOCKET)
                        continue;

                if (c->cmsg_type == SCM_PIDFD && c->cmsg_len == CMSG_LEN(sizeof(int))) {
                        int pidfd;

                        memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
                        safe_close(pidfd);
                        continue;
                }

                if (c->cmsg_type != SCM_RIGHTS)
                        continue;

                n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                p = reallocarray(fds, n_fds + n, sizeof(int));
                if (!p) {
                        /* Still close what this header carried so nothing leaks. */
                        for (size_t i = 0; i < n; i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                fd_closer_close(&r->closer, fd);
                        }
                        k = -ENOMEM;
                        continue;
                }
                fds = p;
                memcpy(fds + n_fds, CMSG_DATA(c), n * sizeof(int));
                n_fds += n;
        }

        if (k < 0) {
                fd_closer_close_many(&r->closer, fds, n_fds);
                return k;
        }

        *ret_fds = TAKE_PTR(fds);
        *ret_n_fds = n_fds;
        return 0;
}

int varlink_reader_fill(VarlinkReader *r, int fd) {
        /* Room for VARLINK_FDS_MAX fds plus the credentials and pidfd a socket option may add. */
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * VARLINK_FDS_MAX) + CMSG_SPACE(sizeof(struct ucred)) +
                         CMSG_SPACE(sizeof(int))];
        } control;
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        struct iovec iov;
        struct msghdr mh;
        ssize_t n;
        int k;

        if (!r || fd < 0)
                return -EINVAL;
        if (r->error < 0)
                return r->error;

        k = reader_reserve(r);
        if (k < 0)
                return k;

        iov = (struct iovec) {
                .iov_base = r->buf + r->end,
                .iov_len = READ_CHUNK,
        };
        mh = (struct msghdr) {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                /* Never sized to the limit: fds the kernel cannot deliver it releases in this thread. */
                .msg_controllen = sizeof control,
        };

        do
                n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;

        k = reader_collect_fds(r, &mh, &fds, &n_fds);
        if (k < 0) {
                r->reason = "out of memory";
                return reader_fail(r, k);
        }

        if (mh.msg_flags & MSG_CTRUNC) {
                fd_closer_close_many(&r->closer, fds, n_fds);
                r->reason = "control data cut short: no room for every file descriptor (out of fds)";
                return reader_fail(r, -ENOBUFS);
        }

        if (n == 0) {
                /* fds with no data cannot be attributed to any message. */
                if (n_fds > 0) {
                        fd_closer_close_many(&r->closer, fds, n_fds);
                        r->reason = "file descriptors sent without data";
                        return reader_fail(r, -EPROTO);
                }
                return 0;
        }

        k = reader_commit(r, (size_t) n, fds, n_fds);
        if (k < 0) {
                fd_closer_close_many(&r->closer, fds, n_fds);
                return reader_fail(r, k);
        }
        TAKE_PTR(fds);

        return (int) MIN(n, (ssize_t) INT_MAX);
}

static bool is_json_whitespace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Scans a string starting at the opening quote; returns the index after the closing one, or 0. */
static size_t json_scan_string(const char *s, size_t n, size_t i, bool is_key) {
        for (i++; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c == '"')
                        return i + 1;
                if (c < 0x20)
                        return 0;
                if (c != '\\')
                        continue;

                if (++i >= n)
                        return 0;
                if (s[i] == 'u') {
                        if (n - i < 5 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) ||
                            !is_hex(s[i + 4]))
                                return 0;
                        /* json-c keeps keys as C strings: one with a NUL could not be told from its prefix. */
                        if (is_key && memcmp(s + i + 1, "0000", 4) == 0)
                                return 0;
                        i += 4;
                } else if (!strchr("\"\\/bfnrt", s[i]))
                        return 0;
        }
        return 0;
}

/* Scans a number as RFC 8259 spells it; returns the index after it, or 0. */
static size_t json_scan_number(const char *s, size_t n, size_t i) {
        if (i < n && s[i] == '-')
                i++;
        if (i >= n || !is_digit(s[i]))
                return 0;
        if (s[i] == '0')
                i++;
        else
                while (i < n && is_digit(s[i]))
                        i++;
        if (i < n && s[i] == '.') {
                i++;
                if (i >= n || !is_digit(s[i]))
                        return 0;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= n || !is_digit(s[i]))
                        return 0;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        return i;
}

static size_t json_scan_literal(const char *s, size_t n, size_t i, const char *word) {
        size_t len = strlen(word);

        if (n - i < len || memcmp(s + i, word, len) != 0)
                return 0;
        return i + len;
}

/*
 * Checks that s is exactly one JSON object as RFC 8259 defines it, nested at
 * most depth_max containers deep. json-c alone is more forgiving (single
 * quotes, NaN) and would allocate the whole tree before the depth check.
 * 'stack' has room for depth_max entries. *reason says why on failure.
 */
static int json_check(const char *s, size_t n, unsigned depth_max, char *stack, size_t *ret_n_keys,
                      const char **reason) {
        enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, AFTER } state = VALUE;
        size_t i = 0, depth = 0, next, n_keys = 0;

        *reason = "not valid JSON";

        while (i < n && is_json_whitespace(s[i]))
                i++;
        if (i >= n || s[i] != '{') {
                *reason = "not a JSON object";
                return -EBADMSG;
        }

        for (;;) {
                char c;

                while (i < n && is_json_whitespace(s[i]))
                        i++;
                if (i >= n)
                        break;
                c = s[i];

                switch (state) {
                case VALUE_OR_CLOSE:
                        if (c == ']') {
                                depth--;
                                state = AFTER;
                                i++;
                                continue;
                        }
                        _fallthrough_;
                case VALUE:
                        if (c == '{' || c == '[') {
                                if (depth >= depth_max) {
                                        *reason = "JSON nested deeper than the limit";
                                        return -ELOOP;
                                }
                                stack[depth++] = c;
                                state = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
                                i++;
                                continue;
                        }
                        if (c == '"')
                                next = json_scan_string(s, n, i, false);
                        else if (c == '-' || is_digit(c))
                                next = json_scan_number(s, n, i);
                        else if (c == 't')
                                next = json_scan_literal(s, n, i, "true");
                        else if (c == 'f')
                                next = json_scan_literal(s, n, i, "false");
                        else if (c == 'n')
                                next = json_scan_literal(s, n, i, "null");
                        else
                                next = 0;
                        if (next == 0)
                                return -EBADMSG;
                        i = next;
                        state = AFTER;
                        continue;

                case KEY_OR_CLOSE:
                        if (c == '}') {
                                depth--;
                                state = AFTER;
                                i++;
                                continue;
                        }
                        _fallthrough_;
                case KEY:
                        if (c != '"')
                                return -EBADMSG;
                        next = json_scan_string(s, n, i, true);
                        if (next == 0)
                                return -EBADMSG;
                        i = next;
                        n_keys++;
                        state = COLON;
                        continue;

                case COLON:
                        if (c != ':')
                                return -EBADMSG;
                        i++;
                        state = VALUE;
                        continue;

                case AFTER:
                        if (depth == 0) {
                                *reason = "bytes after the JSON object";
                                return -EBADMSG;
                        }
                        if (c == ',')
                                state = stack[depth - 1] == '{' ? KEY : VALUE;
                        else if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '['))
                                depth--;
                        else
                                return -EBADMSG;
                        i++;
                        continue;
                }
        }

        if (state != AFTER || depth != 0)
                return -EBADMSG;
        *ret_n_keys = n_keys;
        return 0;
}

/* Members of every object in the tree; depth is bounded by the syntax check. */
static size_t json_count_members(struct json_object *o) {
        size_t n = 0;

        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, value) {
                        (void) key;
                        n += 1 + json_count_members(value);
                }
        } else if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0, len = json_object_array_length(o); i < len; i++)
                        n += json_count_members(json_object_array_get_idx(o, i));
        }
        return n;
}

static int parse_message(const char *data, size_t size, unsigned depth_max, char *stack, struct json_object **ret,
                         const char **reason) {
        struct json_tokener *tok;
        struct json_object *o;
        size_t n_keys;
        int r;

        r = json_check(data, size, depth_max, stack, &n_keys, reason);
        if (r < 0)
                return r;

        *reason = "out of memory";

        /* json-c counts a scalar inside a container as a level of its own; ours counts containers. */
        tok = json_tokener_new_ex((int) depth_max + 1);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                            JSON_TOKENER_VALIDATE_UTF8);

        o = json_tokener_parse_ex(tok, data, (int) size);
        if (!o) {
                r = json_tokener_get_error(tok) == json_tokener_error_depth ? -ELOOP : -EBADMSG;
                *reason = r == -ELOOP ? "JSON nested deeper than the limit" : "not valid JSON";
                json_tokener_free(tok);
                return r;
        }
        json_tokener_free(tok);

        /* The syntax check already vouched for the shape; this only guards against the two disagreeing.
         * json-c keeps the last of duplicate keys: fewer members than keys written means the message
         * said one thing twice, which a filter in front of us might have read the other way. */
        if (json_object_get_type(o) != json_type_object || json_count_members(o) != n_keys) {
                *reason = "a key repeated in one object";
                json_object_put(o);
                return -EBADMSG;
        }

        *ret = o;
        return 0;
}

int varlink_reader_next(VarlinkReader *r, VarlinkMessage *ret) {
        struct json_object *o = NULL;
        const char *why = NULL;
        uint64_t offset;
        FdAttachment a = {};
        const char *nul;
        size_t size;
        int k;

        if (!r || !ret)
                return -EINVAL;

        if (r->start == r->partial)
                return r->error < 0 ? r->error : 0;

        nul = memchr(r->buf + r->start, 0, r->partial - r->start);
        if (!nul)
                return -EIO; /* cannot happen: everything before 'partial' is NUL-terminated */

        offset = r->base + r->start;
        size = (size_t) (nul - (r->buf + r->start));

        /* Attachments for earlier offsets would be a bookkeeping bug; drop them rather than misattribute. */
        while (r->n_attachments > 0 && r->attachments[0].offset <= offset) {
                if (r->attachments[0].offset == offset)
                        a = r->attachments[0];
                else
                        attachment_done(r, r->attachments);
                r->n_attachments--;
                memmove(r->attachments, r->attachments + 1, r->n_attachments * sizeof(FdAttachment));
                if (a.fds)
                        break;
        }

        k = parse_message(r->buf + r->start, size, r->depth_max, r->depth_stack, &o, &why);
        r->start += size + 1;
        if (k < 0) {
                r->reason = why;
                attachment_done(r, &a);
                return k;
        }

        *ret = (VarlinkMessage) {
                .json = o,
                .fds = a.fds,
                .n_fds = a.n_fds,
                .closer = r->closer,
        };
        return 1;
}

typedef struct WriterItem {
        char *data;
        size_t size;
        size_t sent;
        int *fds; /* closed as soon as they went out with the first byte */
        size_t n_fds;
        struct WriterItem *next;
} WriterItem;

struct VarlinkWriter {
        size_t queue_max;
        size_t queued; /* bytes not yet sent */
        WriterItem *head;
        WriterItem *tail;
};

static WriterItem *writer_item_free(WriterItem *i) {
        if (!i)
                return NULL;
        close_many(i->fds, i->n_fds);
        free(i->fds);
        free(i->data);
        free(i);
        return NULL;
}

int varlink_writer_new(size_t queue_max, VarlinkWriter **ret) {
        VarlinkWriter *w;

        if (!ret)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->queue_max = queue_max > 0 ? queue_max : VARLINK_WRITER_QUEUE_MAX_DEFAULT;

        *ret = w;
        return 0;
}

VarlinkWriter *varlink_writer_free(VarlinkWriter *w) {
        if (!w)
                return NULL;
        while (w->head) {
                WriterItem *i = w->head;
                w->head = i->next;
                writer_item_free(i);
        }
        free(w);
        return NULL;
}

bool varlink_writer_pending(const VarlinkWriter *w) {
        return w && w->head;
}

size_t varlink_writer_queued_bytes(const VarlinkWriter *w) {
        return w ? w->queued : 0;
}

size_t varlink_writer_room(const VarlinkWriter *w) {
        return w && w->queued < w->queue_max ? w->queue_max - w->queued : 0;
}

int varlink_writer_enqueue(VarlinkWriter *w, struct json_object *msg, const int *fds, size_t n_fds) {
        WriterItem *i;
        const char *s;
        size_t len;

        if (!w || !msg || json_object_get_type(msg) != json_type_object || (n_fds > 0 && !fds))
                return -EINVAL;
        if (n_fds > VARLINK_FDS_MAX)
                return -E2BIG;
        for (size_t k = 0; k < n_fds; k++)
                if (fds[k] < 0)
                        return -EBADF;

        s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;

        if (len + 1 > w->queue_max || w->queued > w->queue_max - (len + 1))
                return -ENOBUFS;

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;

        /* Serialized with the NUL that terminates it on the wire. */
        i->data = malloc(len + 1);
        if (!i->data) {
                free(i);
                return -ENOMEM;
        }
        memcpy(i->data, s, len + 1);
        i->size = len + 1;

        if (n_fds > 0) {
                i->fds = malloc(n_fds * sizeof(int));
                if (!i->fds) {
                        free(i->data);
                        free(i);
                        return -ENOMEM;
                }
                memcpy(i->fds, fds, n_fds * sizeof(int));
                i->n_fds = n_fds;
        }

        if (w->tail)
                w->tail->next = i;
        else
                w->head = i;
        w->tail = i;
        w->queued += i->size;
        return 0;
}

/* Drops 'n' sent bytes from the front of the queue. */
static void writer_advance(VarlinkWriter *w, size_t n) {
        w->queued -= n;

        while (n > 0 && w->head) {
                WriterItem *i = w->head;
                size_t left = i->size - i->sent;

                /* Whatever part of a message went out carried its fds. */
                close_many(i->fds, i->n_fds);
                free(i->fds);
                i->fds = NULL;
                i->n_fds = 0;

                if (n < left) {
                        i->sent += n;
                        return;
                }

                n -= left;
                w->head = i->next;
                if (!w->head)
                        w->tail = NULL;
                writer_item_free(i);
        }
}

int varlink_writer_flush(VarlinkWriter *w, int fd) {
        if (!w || fd < 0)
                return -EINVAL;

        while (w->head) {
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(int) * VARLINK_FDS_MAX)];
                } control;
                struct iovec iov[WRITE_IOV_MAX];
                struct msghdr mh = {
                        .msg_iov = iov,
                };
                ssize_t n;

                if (w->head->n_fds > 0) {
                        /* A message with fds goes alone, from its first byte, so the fds mark its start. */
                        WriterItem *i = w->head;
                        struct cmsghdr *c;

                        iov[0] = (struct iovec) { .iov_base = i->data + i->sent, .iov_len = i->size - i->sent };
                        mh.msg_iovlen = 1;
                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * i->n_fds);
                        memset(&control, 0, sizeof(control));
                        c = CMSG_FIRSTHDR(&mh);
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int) * i->n_fds);
                        memcpy(CMSG_DATA(c), i->fds, sizeof(int) * i->n_fds);
                } else {
                        /* Gather following messages up to (not including) the next one with fds. */
                        size_t k = 0;

                        for (WriterItem *i = w->head; i && k < WRITE_IOV_MAX; i = i->next) {
                                if (i != w->head && i->n_fds > 0)
                                        break;
                                iov[k++] = (struct iovec) { .iov_base = i->data + i->sent,
                                                            .iov_len = i->size - i->sent };
                        }
                        mh.msg_iovlen = k;
                }

                do
                        n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
                if (n == 0)
                        return -EAGAIN; /* a stream socket never does this; do not spin if it does */

                writer_advance(w, (size_t) n);
        }

        return 0;
}
