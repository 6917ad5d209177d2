/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnsbox connections: the socket, the Varlink reader and writer driving it,
 * the single pending call, and the last Varlink error a call failed with.
 * Blocking calls are the non-blocking ones plus poll(), so both share one path.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "config.h"
#include "fd-util.h"
#include "macro.h"
#include "nsbox-internal.h"
#include "varlink-message.h"

#define NSBOX_REPLY_SIZE_MAX (16U * 1024U * 1024U)

struct NsboxConnection {
        int fd;
        char *socket_path;
        VarlinkReader *reader;
        VarlinkWriter *writer;

        CallKind pending;
        bool pending_more; /* sent with "more": replies with "continues" come before the last */
        bool output_truncated; /* a reply of the pending Wait said "truncated" */
        /* The entries of the pending streamed List's replies before its last, so that the call completes
         * with the whole List, as a List of one reply does. */
        struct json_object *list_entries;
        bool reply_ready;
        VarlinkMessage reply;

        int failure; /* once the connection failed (negative errno) it stays failed */

        char *error_name;
        struct json_object *error_parameters;
};

_public_ const char *nsbox_connection_get_default_socket_path(void) {
        return NSBOX_SOCKET_PATH_DEFAULT;
}

static void connection_clear_error(NsboxConnection *c) {
        free(c->error_name);
        c->error_name = NULL;
        if (c->error_parameters) {
                json_object_put(c->error_parameters);
                c->error_parameters = NULL;
        }
}

_public_ NsboxConnection *nsbox_connection_free(NsboxConnection *c) {
        if (!c)
                return NULL;
        connection_clear_error(c);
        varlink_message_done(&c->reply);
        json_object_put(c->list_entries);
        varlink_reader_free(c->reader);
        varlink_writer_free(c->writer);
        safe_close(c->fd);
        free(c->socket_path);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxConnection *, nsbox_connection_free);

_public_ int nsbox_connection_new(const char *socket_path, NsboxConnection **ret) {
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len;
        int r;

        if (!ret)
                return -EINVAL;

        if (!socket_path || !*socket_path) {
                socket_path = secure_getenv("NSBOX_SOCKET");
                if (!socket_path || !*socket_path)
                        socket_path = NSBOX_SOCKET_PATH_DEFAULT;
        }
        len = strlen(socket_path);
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, len);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = -EBADF;

        c->socket_path = strdup(socket_path);
        if (!c->socket_path)
                return -ENOMEM;

        /* Replies come from the daemon, but a List of every sandbox can be large: allow more than
         * the daemon allows its clients. */
        r = varlink_reader_new(&(VarlinkReaderLimits) { .message_size_max = NSBOX_REPLY_SIZE_MAX }, &c->reader);
        if (r < 0)
                return r;
        r = varlink_writer_new(0, &c->writer);
        if (r < 0)
                return r;

        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return negative_errno();

        /* Connect blocking: a unix socket connects at once or fails, except when the
         * listen backlog is full, where waiting briefly is what a caller wants. */
        for (;;) {
                if (connect(c->fd, (struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + len + 1) >= 0)
                        break;
                if (errno == EISCONN)
                        break; /* an interrupted connect completed meanwhile */
                if (errno != EINTR)
                        return negative_errno();
        }

        r = fd_set_nonblock(c->fd, true);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

_public_ const char *nsbox_connection_get_socket_path(NsboxConnection *c) {
        return c ? c->socket_path : NULL;
}

_public_ int nsbox_connection_get_fd(NsboxConnection *c) {
        return c ? c->fd : -EINVAL;
}

_public_ short nsbox_connection_get_events(NsboxConnection *c) {
        if (!c)
                return 0;
        return POLLIN | (varlink_writer_pending(c->writer) ? POLLOUT : 0);
}

static int connection_fail(NsboxConnection *c, int error) {
        if (c->failure == 0)
                c->failure = error;
        return c->failure;
}

void connection_abandon(NsboxConnection *c, int error) {
        (void) connection_fail(c, error);
}

void connection_set_output_truncated(NsboxConnection *c) {
        c->output_truncated = true;
}

struct json_object *connection_take_list_entries(NsboxConnection *c) {
        return TAKE_PTR(c->list_entries);
}

/* A reply of a streamed List that others follow: its entries are kept (the caller drops the message), and 1
 * returned. 0 for any other reply, which completes the call. */
static int connection_take_list_piece(NsboxConnection *c, VarlinkMessage *m) {
        struct json_object *array;
        VarlinkReply reply;

        if (c->pending != CALL_LIST || !c->pending_more)
                return 0;
        if (varlink_reply_parse(m->json, &reply) < 0 || !reply.continues || reply.error)
                return 0; /* finishing the call tells */
        if (!json_object_object_get_ex(reply.parameters, "sandboxes", &array) ||
            !json_object_is_type(array, json_type_array))
                return -EBADMSG;
        if (!c->list_entries) {
                c->list_entries = json_object_new_array();
                if (!c->list_entries)
                        return -ENOMEM;
        }
        for (size_t i = 0, n = json_object_array_length(array); i < n; i++)
                if (json_object_array_add(c->list_entries, json_object_get(json_object_array_get_idx(array, i))) < 0)
                        return -ENOMEM;
        return 1;
}

bool connection_take_output_truncated(NsboxConnection *c) {
        bool t = c->output_truncated;

        c->output_truncated = false;
        return t;
}

_public_ int nsbox_connection_process(NsboxConnection *c) {
        int r;

        if (!c)
                return -EINVAL;
        if (c->failure < 0)
                return c->failure;
        if (c->pending == CALL_NONE)
                return -ENOMSG;
        if (c->reply_ready)
                return 0;

        r = varlink_writer_flush(c->writer, c->fd);
        if (r < 0 && r != -EAGAIN)
                return connection_fail(c, r == -EPIPE ? -ECONNRESET : r);

        for (;;) {
                VarlinkMessage m = {};

                r = varlink_reader_next(c->reader, &m);
                if (r < 0)
                        return connection_fail(c, r);
                if (r > 0) {
                        r = connection_take_list_piece(c, &m);
                        if (r != 0)
                                varlink_message_done(&m);
                        if (r < 0)
                                return connection_fail(c, r);
                        if (r > 0)
                                continue;
                        c->reply = m;
                        c->reply_ready = true;
                        return 0;
                }

                r = varlink_reader_fill(c->reader, c->fd);
                if (r == -EAGAIN)
                        return -EAGAIN;
                if (r == 0)
                        return connection_fail(c, -ECONNRESET);
                if (r < 0)
                        return connection_fail(c, r);
        }
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

int connection_await_reply(NsboxConnection *c, int sent) {
        if (sent < 0)
                return sent;
        return nsbox_connection_wait(c, UINT64_MAX);
}

_public_ int nsbox_connection_wait(NsboxConnection *c, uint64_t timeout_usec) {
        uint64_t deadline = 0;
        int r;

        if (!c)
                return -EINVAL;
        if (timeout_usec != UINT64_MAX)
                deadline = now_usec() + timeout_usec;

        for (;;) {
                struct pollfd p;
                int timeout_ms = -1;

                r = nsbox_connection_process(c);
                if (r != -EAGAIN)
                        return r;

                if (timeout_usec != UINT64_MAX) {
                        uint64_t n = now_usec();

                        if (n >= deadline)
                                return -ETIMEDOUT;
                        /* Round up so we never spin on a sub-millisecond rest. */
                        timeout_ms = (int) MIN((deadline - n + 999U) / 1000U, (uint64_t) INT32_MAX);
                }

                p = (struct pollfd) { .fd = c->fd, .events = nsbox_connection_get_events(c) };
                if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
                        return negative_errno();
        }
}

int connection_call_send(NsboxConnection *c, CallKind kind, const char *method, struct json_object *parameters,
                         int *fds, size_t n_fds) {
        return connection_call_send_flags(c, kind, method, parameters, fds, n_fds, 0);
}

int connection_call_send_flags(NsboxConnection *c, CallKind kind, const char *method,
                               struct json_object *parameters, int *fds, size_t n_fds, unsigned flags) {
        struct json_object *call;
        int r;

        if (c->failure < 0 || c->pending != CALL_NONE) {
                if (parameters)
                        json_object_put(parameters);
                close_many(fds, n_fds);
                return c->failure < 0 ? c->failure : -EBUSY;
        }

        connection_clear_error(c);

        call = varlink_call_new(method, parameters, flags);
        if (!call) {
                close_many(fds, n_fds);
                return -ENOMEM;
        }

        r = varlink_writer_enqueue(c->writer, call, fds, n_fds);
        json_object_put(call);
        if (r < 0) {
                close_many(fds, n_fds);
                return r;
        }

        c->pending = kind;
        c->pending_more = flags & VARLINK_CALL_MORE;
        c->output_truncated = false;
        json_object_put(TAKE_PTR(c->list_entries));
        c->reply_ready = false;

        r = varlink_writer_flush(c->writer, c->fd);
        if (r < 0 && r != -EAGAIN)
                return connection_fail(c, r == -EPIPE ? -ECONNRESET : r);

        return 0;
}

/* The errno a SpawnFailed error carries, or 0 if it has no plausible one. */
static int spawn_failed_errno(struct json_object *parameters) {
        struct json_object *v;
        int64_t e;

        if (!json_object_object_get_ex(parameters, "errno", &v) || !json_object_is_type(v, json_type_int))
                return 0;
        e = json_object_get_int64(v);
        return e > 0 && e < 4096 ? (int) e : 0;
}

static int error_to_errno(const char *name, struct json_object *parameters) {
        static const struct {
                const char *name;
                int error;
        } table[] = {
                { NSBOX_ERROR_NO_SUCH_SANDBOX, -ESRCH },
                { NSBOX_ERROR_QUOTA_EXCEEDED, -EDQUOT },
                { NSBOX_ERROR_NAME_IN_USE, -EEXIST },
                { NSBOX_ERROR_POLICY_INVALID, -EBADMSG },
                { NSBOX_ERROR_RESTARTING, -ECONNRESET },
                { VARLINK_ERROR_INVALID_PARAMETER, -EINVAL },
                { VARLINK_ERROR_PERMISSION_DENIED, -EPERM },
                { NSBOX_ERROR_NESTED_REQUEST_REFUSED, -EPERM },
                { VARLINK_ERROR_METHOD_NOT_FOUND, -EOPNOTSUPP },
                { VARLINK_ERROR_INTERFACE_NOT_FOUND, -EOPNOTSUPP },
                { VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, -EOPNOTSUPP },
        };

        if (strcmp(name, NSBOX_ERROR_SPAWN_FAILED) == 0) {
                int e = spawn_failed_errno(parameters);

                return e > 0 ? -e : -EIO;
        }

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(name, table[i].name) == 0)
                        return table[i].error;

        return -EREMOTEIO;
}

int connection_call_finish(NsboxConnection *c, CallKind kind, VarlinkMessage *ret_message,
                           struct json_object **ret_parameters) {
        return connection_call_finish_more(c, kind, ret_message, ret_parameters, NULL);
}

int connection_call_finish_more(NsboxConnection *c, CallKind kind, VarlinkMessage *ret_message,
                                struct json_object **ret_parameters, bool *ret_continues) {
        VarlinkMessage m;
        VarlinkReply reply;
        int r;

        if (c->pending == CALL_NONE)
                return c->failure < 0 ? c->failure : -ENOMSG;
        if (c->pending != kind)
                return -EBUSY;
        if (!c->reply_ready)
                return c->failure < 0 ? c->failure : -EINPROGRESS;

        m = c->reply;
        c->reply = (VarlinkMessage) {};
        c->reply_ready = false;
        c->pending = CALL_NONE;

        r = varlink_reply_parse(m.json, &reply);
        if (r < 0) {
                varlink_message_done(&m);
                return connection_fail(c, -EPROTO);
        }
        if (reply.continues && (!ret_continues || !c->pending_more || reply.error)) {
                /* A streamed reply to a call that did not ask for more: out of step with the daemon. */
                varlink_message_done(&m);
                return connection_fail(c, -EPROTO);
        }
        if (reply.continues)
                c->pending = kind; /* the call goes on */
        if (ret_continues)
                *ret_continues = reply.continues;

        if (reply.error) {
                c->error_name = strdup(reply.error);
                c->error_parameters = json_object_get(reply.parameters);
                r = error_to_errno(reply.error, reply.parameters);
                varlink_message_done(&m);
                if (!c->error_name)
                        return -ENOMEM;
                return r;
        }

        *ret_parameters = reply.parameters;
        *ret_message = m;
        return 0;
}

_public_ const char *nsbox_connection_get_error_name(NsboxConnection *c) {
        return c ? c->error_name : NULL;
}

_public_ const char *nsbox_connection_get_error_field(NsboxConnection *c, const char *field) {
        struct json_object *v;

        if (!c || !c->error_parameters || !field)
                return NULL;
        if (!json_object_object_get_ex(c->error_parameters, field, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool error_is(NsboxConnection *c, const char *name) {
        return c && c->error_name && strcmp(c->error_name, name) == 0;
}

static const char *error_field_if(NsboxConnection *c, const char *name, const char *field) {
        if (!error_is(c, name))
                return NULL;
        return nsbox_connection_get_error_field(c, field);
}

_public_ const char *nsbox_connection_get_error_parameter(NsboxConnection *c) {
        return error_field_if(c, VARLINK_ERROR_INVALID_PARAMETER, "parameter");
}

_public_ const char *nsbox_connection_get_error_stage(NsboxConnection *c) {
        return error_field_if(c, NSBOX_ERROR_SPAWN_FAILED, "stage");
}

_public_ const char *nsbox_connection_get_error_message(NsboxConnection *c) {
        return error_field_if(c, NSBOX_ERROR_SPAWN_FAILED, "message");
}

_public_ int nsbox_connection_get_error_errno(NsboxConnection *c) {
        if (!error_is(c, NSBOX_ERROR_SPAWN_FAILED))
                return 0;
        return spawn_failed_errno(c->error_parameters);
}

_public_ const char *nsbox_connection_get_error_limit(NsboxConnection *c) {
        return error_field_if(c, NSBOX_ERROR_QUOTA_EXCEEDED, "limit");
}

_public_ const char *nsbox_connection_get_error_json(NsboxConnection *c) {
        if (!c || !c->error_name)
                return NULL;
        if (!c->error_parameters)
                return "{}";
        return json_object_to_json_string_ext(c->error_parameters, JSON_C_TO_STRING_PLAIN);
}
