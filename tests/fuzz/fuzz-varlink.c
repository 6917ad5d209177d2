/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for everything that parses what a client sends: the
 * wire reader (framing, syntax, depth), the call envelope, and the typed
 * decoders of io.nsbox.Sandbox, plus re-encoding what they accept. The
 * first input byte says how many fds the message claims to carry and which
 * limits to use; the rest is the byte stream.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandbox-protocol.h"
#include "varlink-message.h"
#include "varlink-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_double(struct json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_double:
                return true;
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (has_double(json_object_array_get_idx(o, i)))
                                return true;
                return false;
        case json_type_object: {
                json_object_object_foreach(o, key, value) {
                        (void) key;
                        if (has_double(value))
                                return true;
                }
                return false;
        }
        default:
                return false;
        }
}

/* What the writer would send for an accepted message must be accepted again, unchanged. */
static void check_reserialization(struct json_object *msg) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = NULL;
        VarlinkMessage m = {};
        const char *s;
        size_t len;

        /* json-c prints doubles its own way (NaN, Infinity, rounding); the protocol has none. */
        if (has_double(msg))
                return;

        s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s || varlink_reader_new(&(VarlinkReaderLimits) { .message_size_max = len + 1 }, &r) < 0)
                return;
        if (varlink_reader_feed(r, s, len + 1) < 0 || varlink_reader_next(r, &m) != 1 ||
            !json_object_equal(msg, m.json))
                __builtin_trap();
        varlink_message_done(&m);
}

static void decode_call(struct json_object *msg, size_t n_fds, const SpawnLimits *limits) {
        _cleanup_free_ char *invalid = NULL, *id = NULL, *interface = NULL;
        VarlinkCall call;
        int sig;

        if (varlink_call_parse(msg, &call, NULL) < 0)
                return;

        interface = varlink_method_interface(call.method);

        if (strcmp(call.method, "io.nsbox.Sandbox.Spawn") == 0) {
                _cleanup_(spawn_request_freep) SpawnRequest *req = NULL;

                if (spawn_request_decode(call.parameters, n_fds, limits, &req, &invalid) == 0) {
                        struct json_object *e = spawn_request_encode(req);
                        _cleanup_(spawn_request_freep) SpawnRequest *again = NULL;

                        /* What was accepted must encode, and the encoding must be accepted again. */
                        if (!e || spawn_request_decode(e, n_fds, limits, &again, NULL) != 0)
                                __builtin_trap();
                        json_object_put(e);
                }
        } else if (strcmp(call.method, "io.nsbox.Sandbox.Kill") == 0)
                (void) kill_request_decode(call.parameters, &id, &sig, NULL, &invalid);
        else if (strcmp(call.method, "io.nsbox.Sandbox.List") == 0)
                (void) list_request_decode(call.parameters, &invalid);
        else
                (void) sandbox_id_request_decode(call.parameters, &id, &invalid);
}

static void decode_reply(struct json_object *msg, size_t n_fds) {
        VarlinkReply reply;
        SpawnReply spawn = {};
        SandboxInfo info = {}, *infos = NULL;
        SandboxState state;
        size_t n = 0;
        int code, sig;

        if (varlink_reply_parse(msg, &reply) < 0)
                return;

        if (spawn_reply_decode(reply.parameters, n_fds, &spawn) == 0)
                spawn_reply_done(&spawn);
        (void) wait_reply_decode(reply.parameters, &state, &code, &sig);
        if (inspect_reply_decode(reply.parameters, &info) == 0)
                sandbox_info_done(&info);
        if (list_reply_decode(reply.parameters, &infos, &n) == 0)
                sandbox_info_array_free(infos, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(varlink_reader_freep) VarlinkReader *r = NULL;
        VarlinkReaderLimits limits = {};
        SpawnLimits spawn_limits = {};
        size_t n_fds;

        if (size < 1)
                return 0;

        n_fds = data[0] & 0x0f;
        if (data[0] & 0x10) {
                /* Small limits reach the "too much" paths with small inputs. */
                limits = (VarlinkReaderLimits) { .message_size_max = 256, .depth_max = 4 };
                spawn_limits = (SpawnLimits) { .argv_entries_max = 2, .argv_bytes_max = 16, .env_entries_max = 2,
                                               .env_bytes_max = 16, .mappings_max = 2, .mounts_max = 2,
                                               .fds_max = 2, .groups_max = 2, .path_max = 16 };
        }
        data++;
        size--;

        if (varlink_reader_new(&limits, &r) < 0)
                return 0;

        /* Feed in two pieces so framing across reads is exercised too. */
        for (size_t off = 0, piece = size / 2 + 1; off < size; off += piece) {
                size_t len = size - off < piece ? size - off : piece;

                if (varlink_reader_feed(r, data + off, len) < 0)
                        break;

                for (;;) {
                        VarlinkMessage m = {};
                        int k = varlink_reader_next(r, &m);

                        if (k == 0)
                                break;
                        if (k < 0) {
                                if (k == -EBADMSG || k == -ELOOP)
                                        continue; /* the bad message is consumed; the next may be fine */
                                break;
                        }

                        check_reserialization(m.json);
                        decode_call(m.json, n_fds, &spawn_limits);
                        decode_reply(m.json, n_fds);
                        varlink_message_done(&m);
                }
        }

        return 0;
}
