/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnsbox calls other than Spawn: Wait, Kill, List, Inspect, Reload and
 * org.varlink.service.GetInfo, the sandbox descriptions List and Inspect
 * return, and the small name tables of the public header.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "nsbox-internal.h"
#include "varlink-message.h"

static const unsigned namespace_flags[_NAMESPACE_TYPE_MAX] = {
        [NAMESPACE_MOUNT] = NSBOX_NAMESPACE_MOUNT,
        [NAMESPACE_UTS] = NSBOX_NAMESPACE_UTS,
        [NAMESPACE_IPC] = NSBOX_NAMESPACE_IPC,
        [NAMESPACE_USER] = NSBOX_NAMESPACE_USER,
        [NAMESPACE_PID] = NSBOX_NAMESPACE_PID,
        [NAMESPACE_NET] = NSBOX_NAMESPACE_NET,
        [NAMESPACE_CGROUP] = NSBOX_NAMESPACE_CGROUP,
        [NAMESPACE_TIME] = NSBOX_NAMESPACE_TIME,
};

unsigned namespaces_to_public(unsigned mask) {
        unsigned flags = 0;

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (mask & NAMESPACE_BIT(t))
                        flags |= namespace_flags[t];
        return flags;
}

unsigned namespaces_from_public(unsigned flags) {
        unsigned mask = 0;

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (flags & namespace_flags[t])
                        mask |= NAMESPACE_BIT(t);
        return mask;
}

_public_ const char *nsbox_namespace_to_name(unsigned flag) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (namespace_flags[t] == flag)
                        return namespace_type_to_string(t);
        return NULL;
}

_public_ int nsbox_namespace_from_name(const char *name) {
        NamespaceType t;

        if (!name)
                return -EINVAL;
        t = namespace_type_from_string(name);
        if (t < 0 || t >= _NAMESPACE_TYPE_MAX)
                return -EINVAL;
        return (int) namespace_flags[t];
}

NsboxState state_to_public(SandboxState s) {
        switch (s) {
        case SANDBOX_STARTING:
                return NSBOX_STATE_STARTING;
        case SANDBOX_EXITED:
                return NSBOX_STATE_EXITED;
        case SANDBOX_KILLED:
                return NSBOX_STATE_KILLED;
        case SANDBOX_OOM_KILLED:
                return NSBOX_STATE_OOM_KILLED;
        case SANDBOX_TIMED_OUT:
                return NSBOX_STATE_TIMED_OUT;
        default:
                return NSBOX_STATE_RUNNING;
        }
}

_public_ const char *nsbox_state_to_string(NsboxState state) {
        switch (state) {
        case NSBOX_STATE_STARTING:
                return "starting";
        case NSBOX_STATE_RUNNING:
                return "running";
        case NSBOX_STATE_EXITED:
                return "exited";
        case NSBOX_STATE_KILLED:
                return "killed";
        case NSBOX_STATE_OOM_KILLED:
                return "oom-killed";
        case NSBOX_STATE_TIMED_OUT:
                return "timed-out";
        }
        return NULL;
}

_public_ char **nsbox_strv_free(char **l) {
        return strv_free(l);
}

static bool id_is_valid(const char *id) {
        return id && *id && strlen(id) <= SANDBOX_ID_MAX;
}

/* Sends a call whose only parameter is the sandbox id (Wait, Inspect), with the call's flags. */
static int id_call_send_flags(NsboxConnection *c, CallKind kind, const char *method, const char *id,
                              unsigned flags) {
        struct json_object *p;

        if (!c || !id_is_valid(id))
                return -EINVAL;
        p = sandbox_id_request_encode(id);
        if (!p)
                return -ENOMEM;
        return connection_call_send_flags(c, kind, method, p, NULL, 0, flags);
}

static int id_call_send(NsboxConnection *c, CallKind kind, const char *method, const char *id) {
        return id_call_send_flags(c, kind, method, id, 0);
}

/* ---- Wait ---- */

_public_ int nsbox_wait_send(NsboxConnection *c, const char *id) {
        return id_call_send(c, CALL_WAIT, NSBOX_INTERFACE ".Wait", id);
}

_public_ int nsbox_wait_finish(NsboxConnection *c, NsboxState *ret_state, int *ret_exit_code, int *ret_signal) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;
        SandboxState state;
        int r, code = -1, sig = -1;

        if (!c)
                return -EINVAL;
        r = connection_call_finish(c, CALL_WAIT, &m, &parameters);
        if (r < 0)
                return r;
        r = wait_reply_decode(parameters, &state, &code, &sig);
        if (r < 0)
                return -EBADMSG;

        if (ret_state)
                *ret_state = state_to_public(state);
        /* "oom-killed" and "timed-out" come with one of the two, as the top process ended. */
        if (ret_exit_code)
                *ret_exit_code = sandbox_state_is_final(state) && sig <= 0 ? code : -1;
        if (ret_signal)
                *ret_signal = sandbox_state_is_final(state) && sig > 0 ? sig : -1;
        return 0;
}

_public_ int nsbox_wait(NsboxConnection *c, const char *id, NsboxState *ret_state, int *ret_exit_code,
                        int *ret_signal) {
        int r;

        r = connection_await_reply(c, nsbox_wait_send(c, id));
        if (r < 0)
                return r;
        return nsbox_wait_finish(c, ret_state, ret_exit_code, ret_signal);
}

/* ---- Kill ---- */

static int kill_send(NsboxConnection *c, const char *id, int signal, bool all) {
        struct json_object *p;

        if (!c || !id_is_valid(id) || signal < 0 || signal >= _NSIG)
                return -EINVAL;
        p = kill_request_encode(id, signal, all);
        if (!p)
                return -ENOMEM;
        return connection_call_send(c, CALL_KILL, NSBOX_INTERFACE ".Kill", p, NULL, 0);
}

_public_ int nsbox_kill_send(NsboxConnection *c, const char *id, int signal) {
        return kill_send(c, id, signal, false);
}

_public_ int nsbox_kill_finish(NsboxConnection *c) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;

        if (!c)
                return -EINVAL;
        /* Kill replies with no parameters: success is all there is to take. */
        return connection_call_finish(c, CALL_KILL, &m, &parameters);
}

_public_ int nsbox_kill(NsboxConnection *c, const char *id, int signal) {
        int r;

        r = connection_await_reply(c, nsbox_kill_send(c, id, signal));
        if (r < 0)
                return r;
        return nsbox_kill_finish(c);
}

_public_ int nsbox_kill_all_send(NsboxConnection *c, const char *id, int signal) {
        return kill_send(c, id, signal, true);
}

_public_ int nsbox_kill_all(NsboxConnection *c, const char *id, int signal) {
        int r;

        r = connection_await_reply(c, nsbox_kill_all_send(c, id, signal));
        if (r < 0)
                return r;
        return nsbox_kill_finish(c);
}

/* ---- Pause, Resume ---- */

static int empty_call_finish(NsboxConnection *c, CallKind kind) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;

        if (!c)
                return -EINVAL;
        return connection_call_finish(c, kind, &m, &parameters);
}

_public_ int nsbox_pause_send(NsboxConnection *c, const char *id) {
        return id_call_send(c, CALL_PAUSE, NSBOX_INTERFACE ".Pause", id);
}

_public_ int nsbox_pause_finish(NsboxConnection *c) {
        return empty_call_finish(c, CALL_PAUSE);
}

_public_ int nsbox_pause(NsboxConnection *c, const char *id) {
        int r;

        r = connection_await_reply(c, nsbox_pause_send(c, id));
        if (r < 0)
                return r;
        return nsbox_pause_finish(c);
}

_public_ int nsbox_resume_send(NsboxConnection *c, const char *id) {
        return id_call_send(c, CALL_RESUME, NSBOX_INTERFACE ".Resume", id);
}

_public_ int nsbox_resume_finish(NsboxConnection *c) {
        return empty_call_finish(c, CALL_RESUME);
}

_public_ int nsbox_resume(NsboxConnection *c, const char *id) {
        int r;

        r = connection_await_reply(c, nsbox_resume_send(c, id));
        if (r < 0)
                return r;
        return nsbox_resume_finish(c);
}

/* ---- Sandbox descriptions ---- */

struct NsboxSandboxInfo {
        SandboxInfo info;
        char *json;
        bool output_truncated; /* a Wait's replies said "truncated" */
};

_public_ NsboxSandboxInfo *nsbox_sandbox_info_free(NsboxSandboxInfo *i) {
        if (!i)
                return NULL;
        sandbox_info_done(&i->info);
        free(i->json);
        free(i);
        return NULL;
}

_public_ NsboxSandboxInfo **nsbox_sandbox_info_list_free(NsboxSandboxInfo **list) {
        if (list)
                for (NsboxSandboxInfo **i = list; *i; i++)
                        nsbox_sandbox_info_free(*i);
        free(list);
        return NULL;
}

static int sandbox_info_new(NsboxSandboxInfo **ret) {
        NsboxSandboxInfo *i = calloc(1, sizeof(*i));

        if (!i)
                return -ENOMEM;
        i->info.usage = SANDBOX_USAGE_UNKNOWN;
        *ret = i;
        return 0;
}

static int sandbox_info_from_json(struct json_object *o, NsboxSandboxInfo **ret) {
        NsboxSandboxInfo *i;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        if (sandbox_info_decode(o, &i->info) < 0) {
                free(i);
                return -EBADMSG;
        }
        i->json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        if (!i->json) {
                nsbox_sandbox_info_free(i);
                return -ENOMEM;
        }

        *ret = i;
        return 0;
}

/* A Wait's reply as a description (what nsbox_wait_finish_info() gives). */
static int wait_info_from_json(struct json_object *parameters, NsboxSandboxInfo **ret) {
        NsboxSandboxInfo *i = NULL;
        int r;

        r = sandbox_info_new(&i);
        if (r < 0)
                return r;
        if (wait_reply_decode_info(parameters, &i->info) < 0) {
                free(i);
                return -EBADMSG;
        }
        i->json = strdup(json_object_to_json_string_ext(parameters, JSON_C_TO_STRING_PLAIN));
        if (!i->json) {
                nsbox_sandbox_info_free(i);
                return -ENOMEM;
        }
        *ret = i;
        return 0;
}

_public_ bool nsbox_sandbox_info_get_output_truncated(NsboxSandboxInfo *info) {
        return info && info->output_truncated;
}

_public_ int nsbox_wait_output_send(NsboxConnection *c, const char *id) {
        return id_call_send_flags(c, CALL_WAIT_OUTPUT, NSBOX_INTERFACE ".Wait", id, VARLINK_CALL_MORE);
}

/* Hands the reply's "stdout" or "stderr" (stream 1 or 2) to output; a member that is not a string is a bad reply. */
static int wait_output_pass(struct json_object *parameters, const char *name, int stream, NsboxOutputFunc output,
                            void *userdata) {
        struct json_object *v;
        int len;

        if (!json_object_object_get_ex(parameters, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        len = json_object_get_string_len(v);
        if (len <= 0 || !output)
                return 0;
        return output(stream, json_object_get_string(v), (size_t) len, userdata);
}

_public_ int nsbox_wait_output_finish(NsboxConnection *c, NsboxOutputFunc output, void *userdata,
                                      NsboxSandboxInfo **ret) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters, *v;
        bool continues = false;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = connection_call_finish_more(c, CALL_WAIT_OUTPUT, &m, &parameters, &continues);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(parameters, "truncated", &v) && json_object_get_boolean(v))
                connection_set_output_truncated(c);
        r = wait_output_pass(parameters, "stdout", 1, output, userdata);
        if (r >= 0)
                r = wait_output_pass(parameters, "stderr", 2, output, userdata);
        if (r < 0) {
                /* The call would go on with replies nobody takes: the connection cannot be used again. */
                if (continues)
                        connection_abandon(c, r);
                return r;
        }
        if (continues)
                return 1;

        r = wait_info_from_json(parameters, ret);
        if (r < 0)
                return r;
        (*ret)->output_truncated = connection_take_output_truncated(c);
        return 0;
}

_public_ int nsbox_wait_output(NsboxConnection *c, const char *id, NsboxOutputFunc output, void *userdata,
                               NsboxSandboxInfo **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        r = nsbox_wait_output_send(c, id);
        if (r < 0)
                return r;
        do {
                r = nsbox_connection_wait(c, UINT64_MAX);
                if (r < 0)
                        return r;
                r = nsbox_wait_output_finish(c, output, userdata, ret);
        } while (r > 0);
        return r;
}

_public_ int nsbox_wait_finish_info(NsboxConnection *c, NsboxSandboxInfo **ret) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = connection_call_finish(c, CALL_WAIT, &m, &parameters);
        if (r < 0)
                return r;
        return wait_info_from_json(parameters, ret);
}

_public_ const char *nsbox_sandbox_info_get_id(NsboxSandboxInfo *i) {
        return i ? i->info.id : NULL;
}

_public_ const char *nsbox_sandbox_info_get_name(NsboxSandboxInfo *i) {
        return i ? i->info.name : NULL;
}

_public_ pid_t nsbox_sandbox_info_get_pid(NsboxSandboxInfo *i) {
        return i ? (pid_t) i->info.pid : -1;
}

_public_ uid_t nsbox_sandbox_info_get_owner_uid(NsboxSandboxInfo *i) {
        return i ? (uid_t) i->info.owner_uid : (uid_t) -1;
}

_public_ unsigned nsbox_sandbox_info_get_namespaces(NsboxSandboxInfo *i) {
        return i ? namespaces_to_public(i->info.namespaces) : 0;
}

_public_ unsigned nsbox_sandbox_info_get_joined_namespaces(NsboxSandboxInfo *i) {
        return i ? namespaces_to_public(i->info.joined_namespaces) : 0;
}

_public_ NsboxState nsbox_sandbox_info_get_state(NsboxSandboxInfo *i) {
        return i ? state_to_public(i->info.state) : NSBOX_STATE_RUNNING;
}

_public_ uint64_t nsbox_sandbox_info_get_start_usec(NsboxSandboxInfo *i) {
        return i ? i->info.start_usec : 0;
}

_public_ int nsbox_sandbox_info_get_exit_code(NsboxSandboxInfo *i) {
        return i && sandbox_state_is_final(i->info.state) && i->info.signal <= 0 ? i->info.exit_code : -1;
}

_public_ int nsbox_sandbox_info_get_signal(NsboxSandboxInfo *i) {
        return i && sandbox_state_is_final(i->info.state) && i->info.signal > 0 ? i->info.signal : -1;
}

_public_ bool nsbox_sandbox_info_get_keep_alive(NsboxSandboxInfo *i) {
        return i ? i->info.keep_alive : false;
}

_public_ const char *nsbox_sandbox_info_get_cgroup(NsboxSandboxInfo *i) {
        return i ? i->info.cgroup : NULL;
}

_public_ const char *nsbox_sandbox_info_get_sandbox(NsboxSandboxInfo *i) {
        return i ? i->info.sandbox : NULL;
}

_public_ bool nsbox_sandbox_info_get_nested(NsboxSandboxInfo *i) {
        return i && i->info.sandbox && i->info.nested;
}

_public_ uint64_t nsbox_sandbox_info_get_resource(NsboxSandboxInfo *i, NsboxResource r) {
        return i ? resources_get(&i->info.resources, r) : 0;
}

_public_ uint64_t nsbox_sandbox_info_get_runtime_max_usec(NsboxSandboxInfo *i) {
        return i ? i->info.runtime_max_usec : 0;
}

_public_ int nsbox_sandbox_info_get_rlimit(NsboxSandboxInfo *i, int resource, uint64_t *ret_soft, uint64_t *ret_hard) {
        if (!i)
                return -EINVAL;
        for (size_t k = 0; k < i->info.n_rlimits; k++)
                if (i->info.rlimits[k].type == resource) {
                        if (ret_soft)
                                *ret_soft = i->info.rlimits[k].soft;
                        if (ret_hard)
                                *ret_hard = i->info.rlimits[k].hard;
                        return 0;
                }
        return -ENODATA;
}

_public_ bool nsbox_sandbox_info_get_paused(NsboxSandboxInfo *i) {
        return i ? i->info.paused : false;
}

_public_ uint64_t nsbox_sandbox_info_get_usage(NsboxSandboxInfo *i, NsboxUsage what) {
        const SandboxUsage *u;

        if (!i || !i->info.has_usage)
                return UINT64_MAX;
        u = &i->info.usage;
        switch (what) {
        case NSBOX_USAGE_CPU_USEC:
                return u->cpu_usec;
        case NSBOX_USAGE_MEMORY_CURRENT:
                return u->memory_current;
        case NSBOX_USAGE_MEMORY_PEAK:
                return u->memory_peak;
        case NSBOX_USAGE_TASKS:
                return u->tasks;
        case NSBOX_USAGE_TASKS_PEAK:
                return u->tasks_peak;
        case NSBOX_USAGE_OOM_KILLS:
                return u->oom_kills;
        default:
                return UINT64_MAX;
        }
}

_public_ const char *nsbox_sandbox_info_get_json(NsboxSandboxInfo *i) {
        return i ? i->json : NULL;
}

/* ---- List ---- */

_public_ int nsbox_list_send(NsboxConnection *c) {
        if (!c)
                return -EINVAL;
        /* Streamed: the daemon holds one piece of a long List at a time. A daemon that does not stream
         * answers with one reply, which is as good. */
        return connection_call_send_flags(c, CALL_LIST, NSBOX_INTERFACE ".List", NULL, NULL, 0, VARLINK_CALL_MORE);
}

/* The entries of array, or NULL, as infos from *at on; moves *at past them. */
static int list_append(struct json_object *array, NsboxSandboxInfo **list, size_t *at) {
        for (size_t i = 0, n = array ? json_object_array_length(array) : 0; i < n; i++) {
                int r = sandbox_info_from_json(json_object_array_get_idx(array, i), &list[*at]);

                if (r < 0)
                        return r;
                (*at)++;
        }
        return 0;
}

_public_ int nsbox_list_finish(NsboxConnection *c, NsboxSandboxInfo ***ret, size_t *ret_n) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters, *array, *earlier;
        NsboxSandboxInfo **list;
        size_t n = 0;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = connection_call_finish(c, CALL_LIST, &m, &parameters);
        earlier = connection_take_list_entries(c);
        if (r < 0) {
                json_object_put(earlier);
                return r;
        }

        if (!json_object_object_get_ex(parameters, "sandboxes", &array) ||
            !json_object_is_type(array, json_type_array)) {
                json_object_put(earlier);
                return -EBADMSG;
        }

        list = calloc((earlier ? json_object_array_length(earlier) : 0) + json_object_array_length(array) + 1,
                      sizeof(NsboxSandboxInfo *));
        if (!list) {
                json_object_put(earlier);
                return -ENOMEM;
        }
        r = list_append(earlier, list, &n);
        if (r >= 0)
                r = list_append(array, list, &n);
        json_object_put(earlier);
        if (r < 0) {
                nsbox_sandbox_info_list_free(list);
                return r;
        }

        *ret = list;
        if (ret_n)
                *ret_n = n;
        return 0;
}

_public_ int nsbox_list(NsboxConnection *c, NsboxSandboxInfo ***ret, size_t *ret_n) {
        int r;

        if (!ret)
                return -EINVAL;
        r = connection_await_reply(c, nsbox_list_send(c));
        if (r < 0)
                return r;
        return nsbox_list_finish(c, ret, ret_n);
}

/* ---- Inspect ---- */

_public_ int nsbox_inspect_send(NsboxConnection *c, const char *id) {
        return id_call_send(c, CALL_INSPECT, NSBOX_INTERFACE ".Inspect", id);
}

_public_ int nsbox_inspect_finish(NsboxConnection *c, NsboxSandboxInfo **ret) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters, *o;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = connection_call_finish(c, CALL_INSPECT, &m, &parameters);
        if (r < 0)
                return r;

        if (!json_object_object_get_ex(parameters, "sandbox", &o))
                return -EBADMSG;
        return sandbox_info_from_json(o, ret);
}

_public_ int nsbox_inspect(NsboxConnection *c, const char *id, NsboxSandboxInfo **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        r = connection_await_reply(c, nsbox_inspect_send(c, id));
        if (r < 0)
                return r;
        return nsbox_inspect_finish(c, ret);
}

/* ---- Reload ---- */

_public_ int nsbox_reload_send(NsboxConnection *c) {
        if (!c)
                return -EINVAL;
        return connection_call_send(c, CALL_RELOAD, NSBOX_INTERFACE ".Reload", NULL, NULL, 0);
}

_public_ int nsbox_reload_finish(NsboxConnection *c) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;

        if (!c)
                return -EINVAL;
        return connection_call_finish(c, CALL_RELOAD, &m, &parameters);
}

_public_ int nsbox_reload(NsboxConnection *c) {
        int r;

        r = connection_await_reply(c, nsbox_reload_send(c));
        if (r < 0)
                return r;
        return nsbox_reload_finish(c);
}

/* ---- WarmPool ---- */

/* The reply's fields, in NsboxWarmPoolCounter order. */
static const char *const warm_pool_fields[_NSBOX_WARM_POOL_COUNTER_MAX] = {
        "entries", "parked", "hits", "misses", "fills", "fillFailures", "discarded", "fillCpuUsec", "fillUsec",
};

_public_ const char *nsbox_warm_pool_counter_to_string(NsboxWarmPoolCounter counter) {
        return (unsigned) counter < ELEMENTSOF(warm_pool_fields) ? warm_pool_fields[counter] : NULL;
}

_public_ int nsbox_warm_pool_send(NsboxConnection *c) {
        if (!c)
                return -EINVAL;
        return connection_call_send(c, CALL_WARM_POOL, NSBOX_INTERFACE ".WarmPool", NULL, NULL, 0);
}

_public_ int nsbox_warm_pool_finish(NsboxConnection *c, uint64_t *ret, size_t n) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters, *v;
        int r;

        if (!c || (!ret && n > 0))
                return -EINVAL;
        r = connection_call_finish(c, CALL_WARM_POOL, &m, &parameters);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                ret[i] = UINT64_MAX;
                if (i >= ELEMENTSOF(warm_pool_fields) || !json_object_object_get_ex(parameters, warm_pool_fields[i], &v))
                        continue;
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                        return -EBADMSG;
                ret[i] = (uint64_t) json_object_get_int64(v);
        }
        return 0;
}

_public_ int nsbox_warm_pool(NsboxConnection *c, uint64_t *ret, size_t n) {
        int r;

        r = connection_await_reply(c, nsbox_warm_pool_send(c));
        if (r < 0)
                return r;
        return nsbox_warm_pool_finish(c, ret, n);
}

/* ---- org.varlink.service.GetInfo ---- */

_public_ int nsbox_get_info_send(NsboxConnection *c) {
        if (!c)
                return -EINVAL;
        return connection_call_send(c, CALL_GET_INFO, "org.varlink.service.GetInfo", NULL, NULL, 0);
}

/* A copy of a string field; "" if it is absent (the spec makes all of them mandatory, but be lenient). */
static int info_string(struct json_object *parameters, const char *field, char **ret) {
        struct json_object *v;
        const char *s = "";

        if (json_object_object_get_ex(parameters, field, &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                s = json_object_get_string(v);
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

_public_ int nsbox_get_info_finish(NsboxConnection *c, char **ret_vendor, char **ret_product, char **ret_version,
                                   char **ret_url, char ***ret_interfaces) {
        static const char *const fields[] = { "vendor", "product", "version", "url" };
        char *strings[ELEMENTSOF(fields)] = {};
        _cleanup_strv_free_ char **interfaces = NULL;
        char **rets[ELEMENTSOF(fields)] = { ret_vendor, ret_product, ret_version, ret_url };
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters, *array;
        size_t n = 0;
        int r;

        if (!c)
                return -EINVAL;
        r = connection_call_finish(c, CALL_GET_INFO, &m, &parameters);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = info_string(parameters, fields[i], &strings[i]);
                if (r < 0)
                        goto finish;
        }

        if (json_object_object_get_ex(parameters, "interfaces", &array)) {
                if (!json_object_is_type(array, json_type_array)) {
                        r = -EBADMSG;
                        goto finish;
                }
                n = json_object_array_length(array);
        }
        interfaces = calloc(n + 1, sizeof(char *));
        if (!interfaces) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(array, i);

                if (!json_object_is_type(v, json_type_string)) {
                        r = -EBADMSG;
                        goto finish;
                }
                interfaces[i] = strdup(json_object_get_string(v));
                if (!interfaces[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
        }

        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (rets[i])
                        *rets[i] = TAKE_PTR(strings[i]);
        if (ret_interfaces)
                *ret_interfaces = TAKE_PTR(interfaces);
        r = 0;

finish:
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                free(strings[i]);
        return r;
}

_public_ int nsbox_get_info(NsboxConnection *c, char **ret_vendor, char **ret_product, char **ret_version,
                            char **ret_url, char ***ret_interfaces) {
        int r;

        r = connection_await_reply(c, nsbox_get_info_send(c));
        if (r < 0)
                return r;
        return nsbox_get_info_finish(c, ret_vendor, ret_product, ret_version, ret_url, ret_interfaces);
}
