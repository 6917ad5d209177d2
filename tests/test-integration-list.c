/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * List against a real nsboxd: with "more" the table comes in bounded
 * pieces while the client reads them, every entry once, also when entries
 * go away while the client is behind; without "more" as one reply, as
 * before; libnsbox's nsbox_list() gathers the pieces.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "nsbox.h"
#include "nsboxd-test-util.h"
#include "sandbox-protocol.h"
#include "varlink-message.h"

/* As daemon/sandbox-list.h's SANDBOX_LIST_PIECE. */
#define LIST_PIECE 64U

static TestDaemon daemon_;

static void setup(void) {
        static const char *const args[] = { "--limit", "sandboxes-per-user=2000", NULL };

        test_daemon_start(&daemon_, args);
}

static void teardown(void) {
        test_daemon_stop(&daemon_);
}

TestSuite(list, .init = setup, .fini = teardown, .timeout = 300);

/* Ids as a sorted set. */
typedef struct Ids {
        char (*ids)[64];
        size_t n;
} Ids;

static int id_cmp(const void *a, const void *b) {
        return strcmp(a, b);
}

static bool ids_contain(const Ids *s, const char *id) {
        return bsearch(id, s->ids, s->n, sizeof s->ids[0], id_cmp);
}

/*
 * Starts n sandboxes of "sleep 1000" on conn, pipelined, each with a long name and rlimits so that an
 * entry of List is large; returns their ids, sorted.
 */
static Ids spawn_sleepers(int conn, size_t n) {
        Ids s = { .ids = calloc(n, sizeof s.ids[0]), .n = n };
        char params[2048], name[SANDBOX_NAME_MAX + 1], pad[100 + 1];

        cr_assert(s.ids);
        memset(pad, 'x', sizeof pad - 1);
        pad[sizeof pad - 1] = 0;
        for (size_t i = 0; i < n; i++) {
                snprintf(name, sizeof name, "sleeper-%05u-%s", (unsigned) i, pad);
                snprintf(params, sizeof params,
                         "{\"argv\":[\"sleep\",\"1000\"],\"name\":\"%s\",\"rlimits\":["
                         "{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200},"
                         "{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":0},"
                         "{\"type\":\"RLIMIT_STACK\",\"soft\":8388608,\"hard\":8388608},"
                         "{\"type\":\"RLIMIT_MEMLOCK\",\"soft\":65536,\"hard\":65536},"
                         "{\"type\":\"RLIMIT_MSGQUEUE\",\"soft\":819200,\"hard\":819200},"
                         "{\"type\":\"RLIMIT_NICE\",\"soft\":0,\"hard\":0},"
                         "{\"type\":\"RLIMIT_RTPRIO\",\"soft\":0,\"hard\":0},"
                         "{\"type\":\"RLIMIT_SIGPENDING\",\"soft\":1000,\"hard\":1000}]}",
                         name);
                test_send(conn, "io.nsbox.Sandbox.Spawn", params, NULL, 0);
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ int *fds = NULL;
                size_t n_fds = 0;
                struct json_object *r = test_read_reply(conn, &fds, &n_fds);

                cr_assert_null(test_json_get(r, "error"), "Spawn failed: %s", json_object_to_json_string(r));
                snprintf(s.ids[i], sizeof s.ids[i], "%s", test_json_string(r, "parameters.id"));
                for (size_t j = 0; j < n_fds; j++)
                        close(fds[j]);
                json_object_put(r);
        }
        qsort(s.ids, s.n, sizeof s.ids[0], id_cmp);
        return s;
}

static void send_list_more(int conn) {
        struct json_object *call = varlink_call_new("io.nsbox.Sandbox.List", NULL, VARLINK_CALL_MORE);
        const char *text = json_object_to_json_string(call);

        cr_assert(write(conn, text, strlen(text) + 1) == (ssize_t) strlen(text) + 1);
        json_object_put(call);
}

/* Takes one reply of a streamed List: checks its piece, marks its ids in seen (each must be in want, and
 * new). Returns whether more replies follow. */
static bool take_piece(int conn, const Ids *want, bool *seen, size_t *n_seen, size_t *n_pieces) {
        struct json_object *r = test_read_reply(conn, NULL, NULL), *array, *v;
        bool continues = json_object_object_get_ex(r, "continues", &v) && json_object_get_boolean(v);

        cr_assert_null(test_json_get(r, "error"), "List failed: %s", json_object_to_json_string(r));
        array = test_json_get(r, "parameters.sandboxes");
        cr_assert(array && json_object_is_type(array, json_type_array));
        cr_assert_leq(json_object_array_length(array), LIST_PIECE, "a piece of %zu entries",
                      json_object_array_length(array));
        for (size_t i = 0; i < json_object_array_length(array); i++) {
                const char *id = test_json_string(json_object_array_get_idx(array, i), "id");
                char (*at)[64] = bsearch(id, want->ids, want->n, sizeof want->ids[0], id_cmp);

                cr_assert(at, "%s was listed, but not started here", id);
                cr_assert(!seen[at - want->ids], "%s was listed twice", id);
                seen[at - want->ids] = true;
                (*n_seen)++;
        }
        (*n_pieces)++;
        json_object_put(r);
        return continues;
}

Test(list, more_comes_in_pieces_and_without_more_in_one_reply) {
        int owner = test_daemon_connect(&daemon_), conn = test_daemon_connect(&daemon_);
        Ids ids = spawn_sleepers(owner, 3 * LIST_PIECE + 5);
        _cleanup_free_ bool *seen = calloc(ids.n, sizeof(bool));
        size_t n_seen = 0, n_pieces = 0;
        struct json_object *r, *array;

        send_list_more(conn);
        while (take_piece(conn, &ids, seen, &n_seen, &n_pieces))
                ;
        cr_assert_eq(n_seen, ids.n, "%zu of %zu listed", n_seen, ids.n);
        cr_assert_geq(n_pieces, 4U);

        /* The connection goes on with the next call. */
        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        array = test_json_get(r, "parameters.sandboxes");
        cr_assert(!test_json_get(r, "continues"));
        cr_assert(array && json_object_array_length(array) == ids.n, "%s", json_object_to_json_string(r));
        for (size_t i = 0; i < ids.n; i++)
                cr_assert(ids_contain(&ids, test_json_string(json_object_array_get_idx(array, i), "id")));
        json_object_put(r);

        /* Pipelined: two streamed Lists and a GetInfo, each answered in turn. */
        send_list_more(conn);
        send_list_more(conn);
        test_send(conn, "org.varlink.service.GetInfo", NULL, NULL, 0);
        for (int k = 0; k < 2; k++) {
                memset(seen, 0, ids.n * sizeof(bool));
                n_seen = 0;
                while (take_piece(conn, &ids, seen, &n_seen, &n_pieces))
                        ;
                cr_assert_eq(n_seen, ids.n);
        }
        r = test_read_reply(conn, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        json_object_put(r);

        test_disconnect(conn);
        test_disconnect(owner);
        free(ids.ids);
}

static bool no_children(void *userdata) {
        return test_daemon_count_children(userdata) == 0;
}

/*
 * A client that does not read holds the daemon's replies to what the writer's backlog and the socket
 * take; the entries that go away meanwhile (the daemon moves the client's place past them) are not
 * listed, and the rest is, once.
 */
Test(list, entries_that_go_away_while_the_client_is_behind) {
        int owner = test_daemon_connect(&daemon_), conn = test_daemon_connect(&daemon_), other;
        /* Each entry is over 1 KiB of JSON: this is several times what the daemon queues and the socket holds. */
        Ids ids = spawn_sleepers(owner, 1200);
        _cleanup_free_ bool *seen = calloc(ids.n, sizeof(bool));
        size_t n_seen = 0, n_pieces = 0;
        struct json_object *r;

        send_list_more(conn);
        cr_assert(take_piece(conn, &ids, seen, &n_seen, &n_pieces));

        /* The others are served meanwhile. */
        other = test_daemon_connect(&daemon_);
        r = test_call(other, "org.varlink.service.GetInfo", NULL, NULL, 0, NULL, NULL);
        cr_assert_str_eq(test_json_string(r, "parameters.product"), "nsboxd");
        json_object_put(r);
        test_disconnect(other);

        /* Every sleeper is killed with its connection, and its entry dropped once reaped. */
        test_disconnect(owner);
        cr_assert(test_wait_until(no_children, &daemon_));

        while (take_piece(conn, &ids, seen, &n_seen, &n_pieces))
                ;
        cr_assert_lt(n_seen, ids.n, "all %zu listed: the stream was never held back", n_seen);
        cr_assert_gt(n_seen, 0U);

        r = test_call(conn, "io.nsbox.Sandbox.List", NULL, NULL, 0, NULL, NULL);
        cr_assert_eq(json_object_array_length(test_json_get(r, "parameters.sandboxes")), 0U);
        json_object_put(r);
        test_disconnect(conn);
        free(ids.ids);
}

/* nsbox_list() and the calls it is made of take every piece and complete with the whole List. */
Test(list, libnsbox_gathers_the_pieces) {
        int owner = test_daemon_connect(&daemon_);
        Ids ids = spawn_sleepers(owner, 2 * LIST_PIECE + 1);
        _cleanup_free_ bool *seen = calloc(ids.n, sizeof(bool));
        NsboxConnection *c = NULL;
        NsboxSandboxInfo **list = NULL;
        size_t n = 0;
        int r;

        cr_assert_eq(nsbox_connection_new(daemon_.socket_path, &c), 0);
        for (int round = 0; round < 2; round++) {
                if (round == 0)
                        cr_assert_eq(nsbox_list(c, &list, &n), 0);
                else {
                        /* Without blocking: process returns 0 only once the last piece is in. */
                        cr_assert_eq(nsbox_list_send(c), 0);
                        do
                                r = nsbox_connection_wait(c, UINT64_MAX);
                        while (r == -EAGAIN);
                        cr_assert_eq(r, 0);
                        cr_assert_eq(nsbox_list_finish(c, &list, &n), 0);
                }
                cr_assert_eq(n, ids.n, "%zu of %zu listed", n, ids.n);
                cr_assert_null(list[n]);
                memset(seen, 0, ids.n * sizeof(bool));
                for (size_t i = 0; i < n; i++) {
                        char (*at)[64] = bsearch(nsbox_sandbox_info_get_id(list[i]), ids.ids, ids.n,
                                                 sizeof ids.ids[0], id_cmp);

                        cr_assert(at && !seen[at - ids.ids]);
                        seen[at - ids.ids] = true;
                }
                nsbox_sandbox_info_list_free(list);
        }
        /* The connection is usable afterwards. */
        cr_assert_eq(nsbox_list_send(c), 0);
        cr_assert_eq(nsbox_connection_wait(c, UINT64_MAX), 0);
        cr_assert_eq(nsbox_list_finish(c, &list, &n), 0);
        nsbox_sandbox_info_list_free(list);

        nsbox_connection_free(c);
        test_disconnect(owner);
        free(ids.ids);
}
