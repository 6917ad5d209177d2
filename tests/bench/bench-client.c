/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A benchmark client of nsboxd built on libnsbox's public API, as any caller would use it. */

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-client.h"
#include "bench-stats.h"
#include "nsbox.h"
#include "sandbox-protocol.h"

struct DaemonClient {
        NsboxConnection *connection;
        NsboxSpawn *spawn;
        uint64_t timeout_usec;
        char error[256];
};

DaemonClient *daemon_client_free(DaemonClient *c) {
        if (!c)
                return NULL;
        nsbox_spawn_free(c->spawn);
        nsbox_connection_free(c->connection);
        free(c);
        return NULL;
}

int daemon_client_new(const char *socket_path, unsigned namespaces, uint32_t map_host_id, uint32_t map_size,
                      const char *const *argv, int init, DaemonClient **ret) {
        _cleanup_(daemon_client_freep) DaemonClient *c = NULL;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->timeout_usec = UINT64_MAX;

        r = nsbox_connection_new(socket_path, &c->connection);
        if (r < 0)
                return r;
        r = nsbox_spawn_new(&c->spawn);
        if (r < 0)
                return r;
        r = nsbox_spawn_set_argv(c->spawn, argv);
        if (r < 0)
                return r;
        /* The namespace flags of the library are its own; go through the names both sides share. */
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (namespaces & NAMESPACE_BIT(t)) {
                        r = nsbox_spawn_add_namespace(c->spawn, namespace_type_to_string(t));
                        if (r < 0)
                                return r;
                }
        if (init >= 0) {
                r = nsbox_spawn_set_init(c->spawn, init > 0);
                if (r < 0)
                        return r;
        }
        if (namespaces & NAMESPACE_BIT(NAMESPACE_USER)) {
                r = nsbox_spawn_add_uid_mapping(c->spawn, 0, map_host_id, map_size);
                if (r < 0)
                        return r;
                r = nsbox_spawn_add_gid_mapping(c->spawn, 0, map_host_id, map_size);
                if (r < 0)
                        return r;
                r = nsbox_spawn_set_setgroups(c->spawn, false);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

int daemon_client_set_limits(DaemonClient *c) {
        static const char *const properties[] = { "MemoryMax=256M", "TasksMax=64", "CPUQuota=100%", "CPUWeight=100" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(properties); i++) {
                r = nsbox_spawn_set_property(c->spawn, properties[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void daemon_client_set_timeout(DaemonClient *c, uint64_t usec) {
        c->timeout_usec = usec;
}

static int remember_error(DaemonClient *c, int r) {
        const char *name = nsbox_connection_get_error_name(c->connection);
        const char *detail = nsbox_connection_get_error_stage(c->connection) ?:
                             nsbox_connection_get_error_limit(c->connection) ?:
                             nsbox_connection_get_error_parameter(c->connection);

        if (name)
                snprintf(c->error, sizeof c->error, "%s%s%s", name, detail ? " " : "", detail ?: "");
        else
                c->error[0] = 0;
        return r;
}

/* nsbox_spawn() with the client's timeout. */
static int spawn_call(DaemonClient *c, NsboxSandbox **ret) {
        int r;

        r = nsbox_spawn_send(c->connection, c->spawn);
        if (r >= 0)
                r = nsbox_connection_wait(c->connection, c->timeout_usec);
        if (r >= 0)
                r = nsbox_spawn_finish(c->connection, ret);
        return r < 0 ? remember_error(c, r) : r;
}

int daemon_client_run_one(DaemonClient *c, uint64_t *ret_spawn_ns, uint64_t *ret_exit_ns) {
        NsboxSandbox *sb = NULL;
        NsboxState state;
        uint64_t start, spawned;
        int exit_code, r;

        start = now_ns();
        r = spawn_call(c, &sb);
        if (r < 0)
                return r;
        spawned = now_ns();

        r = nsbox_wait_send(c->connection, nsbox_sandbox_get_id(sb));
        if (r >= 0)
                r = nsbox_connection_wait(c->connection, c->timeout_usec);
        if (r >= 0)
                r = nsbox_wait_finish(c->connection, &state, &exit_code, NULL);
        if (r >= 0) {
                uint64_t done = now_ns();

                if (state != NSBOX_STATE_EXITED || exit_code != 0)
                        r = -EPROTO;
                else {
                        *ret_spawn_ns = spawned - start;
                        *ret_exit_ns = done - start;
                }
        } else
                remember_error(c, r);

        nsbox_sandbox_free(sb);
        return r;
}

int daemon_client_spawn_only(DaemonClient *c) {
        NsboxSandbox *sb = NULL;
        int r;

        r = spawn_call(c, &sb);
        if (r < 0)
                return r;
        /* Closes our pidfd only; the daemon keeps the sandbox. */
        nsbox_sandbox_free(sb);
        return 0;
}

int daemon_client_list(DaemonClient *c, size_t *ret_n) {
        NsboxSandboxInfo **list = NULL;
        int r;

        r = nsbox_list_send(c->connection);
        if (r >= 0)
                r = nsbox_connection_wait(c->connection, c->timeout_usec);
        if (r >= 0)
                r = nsbox_list_finish(c->connection, &list, ret_n);
        if (r < 0)
                return remember_error(c, r);
        nsbox_sandbox_info_list_free(list);
        return 0;
}

const char *daemon_client_last_error(DaemonClient *c) {
        return c->error;
}

/* One call on a connection of its own, as any Varlink client would make it: the daemon's warm-pool counters. */
int daemon_warm_pool_counters(const char *socket_path, WarmPoolCounters *ret) {
        static const char call[] = "{\"method\":\"io.nsbox.Sandbox.WarmPool\"}";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct json_object *reply = NULL, *params, *v;
        char buf[4096];
        size_t have = 0;
        int fd, r = 0;

        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || send(fd, call, sizeof call, MSG_NOSIGNAL) != sizeof call) {
                r = -errno;
                goto finish;
        }
        while (have == 0 || buf[have - 1] != 0) {
                ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);

                if (n <= 0 || (have += (size_t) n) == sizeof buf) {
                        r = n < 0 ? -errno : -EIO;
                        goto finish;
                }
        }
        reply = json_tokener_parse(buf);
        if (!reply || !json_object_object_get_ex(reply, "parameters", &params)) {
                r = -EPROTO;
                goto finish;
        }
        *ret = (WarmPoolCounters) {};
        const struct {
                const char *name;
                uint64_t *field;
        } fields[] = {
                { "hits", &ret->hits },       { "misses", &ret->misses },           { "fills", &ret->fills },
                { "fillCpuUsec", &ret->fill_cpu_usec }, { "fillUsec", &ret->fill_usec },
        };
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                if (json_object_object_get_ex(params, fields[i].name, &v))
                        *fields[i].field = (uint64_t) json_object_get_int64(v);
finish:
        json_object_put(reply);
        close(fd);
        return r;
}
