/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Method handlers. Each one validates its parameters strictly (the decoders
 * in proto/ name the bad field), checks the caller's rights, and answers.
 * Spawn answers later, when the child reports exec or failure; Wait answers
 * when the sandbox exits.
 */

#include <assert.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "connection.h"
#include "fd-util.h"
#include "log.h"
#include "namespace-fd.h"
#include "methods.h"
#include "policy.h"
#include "caller-origin.h"
#include "capabilities.h"
#include "cgroup-spare.h"
#include "sandbox.h"
#include "sandbox-init-watch.h"
#include "sandbox-list.h"
#include "sandbox-nested.h"
#include "sandbox-nested-caller.h"
#include "seccomp-profile.h"
#include "spawn.h"
#include "warm-pool.h"

static const char varlink_service_description[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# Client is denied access\n"
        "error PermissionDenied ()\n"
        "\n"
        "# Method is expected to be called with 'more' set to true, but wasn't\n"
        "error ExpectedMore ()\n";

static void reply_parameters(Connection *c, struct json_object *parameters) {
        connection_reply(c, varlink_reply_new(parameters, false), NULL, 0);
}

static void reply_invalid_parameter(Connection *c, const char *field) {
        char buf[256];

        /* The field path may quote a key the caller made up. */
        log_audit(LOG_NOTICE, "refused", &c->caller, NULL, "%s: invalid parameter '%s'", c->call.method,
                  log_printable(field, buf, sizeof buf));
        connection_reply_error(c, varlink_error_invalid_parameter(field));
}

/* Adds "key": value to obj, taking value; false on OOM (value freed). */
static bool json_add(struct json_object *obj, const char *key, struct json_object *value) {
        if (!obj || !value || json_object_object_add(obj, key, value) < 0) {
                json_object_put(value);
                return false;
        }
        return true;
}

/* GetInfo takes no parameters: like every other method it names the first one it does not know. */
static void method_get_info(Connection *c) {
        struct json_object *p, *ifaces;

        json_object_object_foreach(c->call.parameters, key, value) {
                (void) value;
                return reply_invalid_parameter(c, key);
        }

        p = json_object_new_object();
        ifaces = json_object_new_array();

        if (ifaces) {
                json_object_array_add(ifaces, json_object_new_string("org.varlink.service"));
                json_object_array_add(ifaces, json_object_new_string(NSBOX_INTERFACE));
        }
        if (!json_add(p, "vendor", json_object_new_string("nsbox")) ||
            !json_add(p, "product", json_object_new_string("nsboxd")) ||
            !json_add(p, "version", json_object_new_string(NSBOX_VERSION)) ||
            !json_add(p, "url", json_object_new_string("https://nsbox.io")) ||
            !json_add(p, "interfaces", ifaces)) {
                json_object_put(p);
                p = NULL;
        }
        reply_parameters(c, p);
}

static void method_get_interface_description(Connection *c) {
        struct json_object *iface = NULL, *p;
        const char *name, *description;

        json_object_object_foreach(c->call.parameters, key, value) {
                if (!streq(key, "interface"))
                        return reply_invalid_parameter(c, key);
                iface = value;
        }
        if (!iface || !json_object_is_type(iface, json_type_string))
                return reply_invalid_parameter(c, "interface");

        name = json_object_get_string(iface);
        if (streq(name, NSBOX_INTERFACE))
                description = nsbox_interface_description;
        else if (streq(name, "org.varlink.service"))
                description = varlink_service_description;
        else
                return connection_reply_error(c, varlink_error_interface_not_found(name));

        p = json_object_new_object();
        if (!json_add(p, "description", json_object_new_string(description))) {
                json_object_put(p);
                p = NULL;
        }
        reply_parameters(c, p);
}

/* Lists at least this long give their memory back at once; shorter ones leave malloc a little to reuse. */
#define LIST_TRIM_MIN 256U

/* Looks a sandbox up for this caller; one it may not see (someone else's; from inside a sandbox, one outside
 * it) looks exactly like a missing one. */
static Sandbox *find_for_caller(Connection *c, const char *id) {
        Sandbox *sb = sandbox_lookup(c->server, id, c->caller.uid, sandbox_name_scope(c->server, &c->caller));

        if (!sb || !sandbox_is_visible_to(c->server, sb, &c->caller)) {
                connection_reply_error(c, nsbox_error_no_such_sandbox(id));
                return NULL;
        }
        return sb;
}

/* The sandbox an (id) call names, for this caller; NULL after replying with the error. */
static Sandbox *sandbox_from_id_request(Connection *c) {
        _cleanup_free_ char *id = NULL, *field = NULL;

        if (sandbox_id_request_decode(c->call.parameters, &id, &field) < 0) {
                reply_invalid_parameter(c, field ?: "id");
                return NULL;
        }
        return find_for_caller(c, id);
}

static void method_wait(Connection *c) {
        _cleanup_free_ char *id = NULL, *field = NULL;
        SandboxClient *client;
        Sandbox *sb;

        if (wait_request_decode(c->call.parameters, &id, &field) < 0)
                return reply_invalid_parameter(c, field ?: "id");

        /* No id: the sandbox this connection's last Spawn made, so Spawn and Wait can be sent together. */
        client = c->userdata;
        if (!id && (!client || !client->last_spawn_id[0]))
                return reply_invalid_parameter(c, "id");
        sb = find_for_caller(c, id ?: client->last_spawn_id);
        if (sb)
                sandbox_add_waiter(sb, c, c->call.flags & VARLINK_CALL_MORE);
}

static void method_kill(Connection *c) {
        _cleanup_free_ char *id = NULL, *field = NULL;
        Sandbox *sb;
        bool all = false;
        int sig, r;

        if (kill_request_decode(c->call.parameters, &id, &sig, &all, &field) < 0)
                return reply_invalid_parameter(c, field ?: "id");

        sb = find_for_caller(c, id);
        if (!sb)
                return;

        sandbox_init_watch_note_signal(sb, sig, /* from_host= */ c->caller.origin.kind == CALLER_ORIGIN_HOST);
        r = all ? sandbox_kill_all(sb, sig) : sandbox_kill(sb, sig);
        log_audit(LOG_INFO, "kill", &c->caller, sb->id, "Sending %s to %s sandbox %s: %s",
                  signal_to_string(sig) ?: "signal", all ? "every process of" : "the top process of", sb->id,
                  r < 0 ? strerror(-r) : "ok");
        /* A sandbox that already exited has nothing left to signal: that is not an error for the caller. */
        if (r < 0 && r != -ESRCH)
                return connection_reply_error(c, nsbox_error_spawn_failed("kill", -r, strerror(-r)));

        reply_parameters(c, NULL);
}

static void method_pause_or_resume(Connection *c, bool pause) {
        Sandbox *sb = sandbox_from_id_request(c);

        if (sb)
                sandbox_pause_call(sb, c, pause);
}

static void method_pause(Connection *c) {
        method_pause_or_resume(c, true);
}

static void method_resume(Connection *c) {
        method_pause_or_resume(c, false);
}

static void method_inspect(Connection *c) {
        Sandbox *sb = sandbox_from_id_request(c);
        SandboxInfo info;

        if (!sb)
                return;

        sandbox_fill_info(sb, /* with_usage= */ true, &info);
        reply_parameters(c, inspect_reply_encode(&info));
}

static void method_list(Connection *c) {
        _cleanup_free_ char *field = NULL;
        _cleanup_free_ SandboxInfo *infos = NULL;
        size_t n = 0;

        if (list_request_decode(c->call.parameters, &field) < 0)
                return reply_invalid_parameter(c, field ?: "parameters");

        /* Streamed: a piece at a time, as the client reads, whatever the table's size. */
        if (c->call.flags & VARLINK_CALL_MORE)
                return sandbox_list_start(c);

        /* Borrowed views of the entries: the strings stay owned by the table. */
        infos = calloc(MAX(c->server->n_sandboxes, 1U), sizeof(SandboxInfo));
        if (!infos)
                return connection_close(c);

        LIST_FOREACH(sandboxes, sb, c->server->sandboxes)
                if (sandbox_is_visible_to(c->server, sb, &c->caller))
                        sandbox_fill_info(sb, /* with_usage= */ false, &infos[n++]);

        reply_parameters(c, list_reply_encode(infos, n));

        /* The reply's JSON tree (about 2 KiB per entry) is freed by now, in small pieces malloc would keep
         * for ever: hand them back to the kernel after a large List. */
        if (n >= LIST_TRIM_MIN)
                (void) malloc_trim(0);
}

static void refuse(Connection *c, const PolicyDenial *d) {
        const char *method = strrchr(c->call.method, '.');

        log_audit(LOG_NOTICE, "refused", &c->caller, NULL, "%s refused (%s): %s", method ? method + 1 : c->call.method,
                  d->field, d->reason);
        connection_reply_error(c, policy_denial_to_error(d));
}

/* Every new process counts: a Spawn's and an Exec's alike. */
static int check_quotas(Connection *c, const PolicyRule *rule, PolicyDenial *ret_denial) {
        Server *s = c->server;
        int r;

        r = policy_check_quota(rule, &s->config.limits, server_count_sandboxes_of(s, c->caller.uid), s->n_sandboxes,
                               ret_denial);
        if (r < 0)
                return r;
        if (s->n_pending_spawns >= s->config.limits.pending_spawns) {
                *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_QUOTA_EXCEEDED, .field = "pending-spawns",
                                               .reason = "too many spawns in flight" };
                return -EPERM;
        }
        if (!c->caller.privileged &&
            server_count_pending_spawns_of(s, c->caller.uid) >= s->config.limits.pending_spawns_per_uid) {
                *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_QUOTA_EXCEEDED, .field = "pending-spawns-per-user",
                                               .reason = "too many spawns of this user in flight" };
                return -EPERM;
        }
        return 0;
}

static int check_join_namespaces(Connection *c, const SpawnRequest *req, PolicyDenial *ret_denial) {
        if (c->caller.privileged)
                return 0;

        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                const JoinNamespace *j = &req->join_namespaces[i];
                int fd = varlink_message_peek_fd(&c->message, j->fd_index), r;

                r = fd < 0 ? fd : policy_check_join_namespace(fd, j->type, c->caller.uid);
                if (r < 0) {
                        *ret_denial = (PolicyDenial) { .kind = r == -EPERM ? POLICY_DENIAL_PERMISSION_DENIED :
                                                                            POLICY_DENIAL_INVALID_PARAMETER };
                        snprintf(ret_denial->field, sizeof ret_denial->field, "joinNamespaces[%zu].fileDescriptor", i);
                        snprintf(ret_denial->reason, sizeof ret_denial->reason, "cannot join: %s", strerror(-r));
                        return r;
                }
        }
        return 0;
}

/*
 * SpawnContext.sandbox_user_ids: the ids the command of the sandbox that made
 * the user namespace with this inode number runs as there (an Exec into it
 * starts from the same), which a request joining it without "user" runs as,
 * where the namespace's root may not be mapped at all (one that maps only its
 * creator's own ids, nsbox run -c). Not for a sandbox whose command runs in a
 * user namespace below the one it made (commandUserNamespaceFileDescriptor):
 * its ids are that one's.
 */
static bool sandbox_user_ids(void *userdata, uint64_t user_namespace, SpawnIds *ret) {
        const Server *s = userdata;
        const Sandbox *sb = origin_index_find_namespace(&s->origins, NAMESPACE_USER, user_namespace);
        const SandboxExecBase *b;

        if (!sb || !sb->exec_base.kept || (sb->exec_base.joined_namespaces & NAMESPACE_BIT(NAMESPACE_USER)))
                return false;
        b = &sb->exec_base;
        /* Its groups: those it set there, else those it was cloned with, its creator's unless root's (none). */
        *ret = (SpawnIds) {
                .uid = b->uid,
                .gid = b->gid,
                .set_groups = b->set_groups,
                .groups = b->set_groups ? b->groups : b->creator_privileged ? NULL : b->creator_groups,
                .n_groups = b->set_groups ? b->n_groups : b->creator_privileged ? 0 : b->n_creator_groups,
                .pid = sb->pid,
        };
        return true;
}

/*
 * commandUserNamespaceFileDescriptor (bubblewrap's --userns2): a user
 * namespace below the sandbox's (the one it joins, or the daemon's), which a
 * caller other than root could enter itself, as a join.
 */
static int check_command_user_namespace(Connection *c, const SpawnRequest *req, PolicyDenial *ret_denial) {
        _cleanup_close_ int base = -EBADF;
        int fd, r;

        if (req->command_userns_fd_index < 0)
                return 0;
        for (size_t i = 0; i < req->n_join_namespaces; i++)
                if (req->join_namespaces[i].type == NAMESPACE_USER) {
                        fd = varlink_message_peek_fd(&c->message, req->join_namespaces[i].fd_index);
                        r = fd < 0 ? fd : namespace_fd_open(fd, NAMESPACE_USER, &base);
                        if (r < 0) {
                                *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_INVALID_PARAMETER };
                                snprintf(ret_denial->field, sizeof ret_denial->field,
                                         "joinNamespaces[%zu].fileDescriptor", i);
                                snprintf(ret_denial->reason, sizeof ret_denial->reason, "not a user namespace: %s",
                                         strerror(-r));
                                return r;
                        }
                }

        fd = varlink_message_peek_fd(&c->message, req->command_userns_fd_index);
        r = fd < 0 ? fd : namespace_fd_user_namespace_below(fd, base);
        if (r < 0) {
                *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_INVALID_PARAMETER,
                                               .field = "commandUserNamespaceFileDescriptor" };
                snprintf(ret_denial->reason, sizeof ret_denial->reason, "%s",
                         r == -EINVAL ? "not a user namespace's /proc/PID/ns/user fd" :
                         r == -ENOENT ? "not a user namespace below the sandbox's" : strerror(-r));
                return r;
        }
        if (c->caller.privileged)
                return 0;
        r = policy_check_join_namespace(fd, NAMESPACE_USER, c->caller.uid);
        if (r < 0) {
                *ret_denial = (PolicyDenial) { .kind = r == -EPERM ? POLICY_DENIAL_PERMISSION_DENIED :
                                                                    POLICY_DENIAL_INVALID_PARAMETER,
                                               .field = "commandUserNamespaceFileDescriptor" };
                snprintf(ret_denial->reason, sizeof ret_denial->reason, "cannot enter: %s", strerror(-r));
                return r;
        }
        return 0;
}

/*
 * A "file" entry reads its fd to the end, so a second entry on the same open
 * file would get an empty file. The decoder refuses one index used twice;
 * two indexes (two fds the client sent) may still be one open file, which
 * only kcmp() tells, without asking the file's file system anything.
 */
static int check_streams_read_once(Connection *c, const SpawnRequest *req, PolicyDenial *ret_denial) {
        pid_t self = getpid();

        for (size_t i = 0; i < req->n_mounts; i++) {
                const MountEntry *m = &req->mounts[i];
                int fd = varlink_message_peek_fd(&c->message, m->source_fd_index);

                if (!mount_kind_reads_stream(m->kind) || fd < 0)
                        continue;
                for (size_t j = 0; j < i; j++) {
                        const MountEntry *e = &req->mounts[j];
                        int other = varlink_message_peek_fd(&c->message, e->source_fd_index);

                        if (!mount_kind_reads_stream(e->kind) || other < 0 ||
                            syscall(SYS_kcmp, self, self, KCMP_FILE, other, fd) != 0)
                                continue;
                        *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_INVALID_PARAMETER };
                        snprintf(ret_denial->field, sizeof ret_denial->field, "mounts[%zu].sourceFileDescriptor", i);
                        snprintf(ret_denial->reason, sizeof ret_denial->reason,
                                 "the same open file as mounts[%zu].sourceFileDescriptor: a stream is read once", j);
                        return -EINVAL;
                }
        }
        return 0;
}

/*
 * newSession false would leave a sandbox in the daemon's session, with its
 * controlling terminal (TIOCSTI types into it): only root may have that. For
 * anyone else it means a new session whose controlling terminal is the one
 * the caller passed as stdin, stdout or stderr (the child insists on it), so
 * a request without a character device among them has nothing to make it of.
 * The cached type only: the fd's file system is never asked.
 */
static int check_new_session(Connection *c, const SpawnRequest *req, PolicyDenial *ret_denial) {
        const int indexes[] = { req->stdin_index, req->stdout_index, req->stderr_index };

        if (c->caller.privileged || req->new_session != 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(indexes); i++) {
                int fd = varlink_message_peek_fd(&c->message, indexes[i]);
                struct statx sx = {};

                if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) >= 0 &&
                    S_ISCHR(sx.stx_mode))
                        return 0;
        }
        *ret_denial = (PolicyDenial) { .kind = POLICY_DENIAL_INVALID_PARAMETER, .field = "newSession",
                                       .reason = "false needs the caller's terminal as stdin, stdout or stderr" };
        return -EINVAL;
}

/* The request's field for a limit, or the policy key that set it where the request did not. */
static const char *limit_field(CgroupLimitType t, const SpawnRequest *req, bool user) {
        static const char *const fields[_CGROUP_LIMIT_TYPE_MAX] = {
                [CGROUP_LIMIT_MEMORY_MAX] = "resources.memory.limit",
                [CGROUP_LIMIT_MEMORY_HIGH] = "resources.memory.high",
                [CGROUP_LIMIT_MEMORY_SWAP_MAX] = "resources.memory.swap",
                [CGROUP_LIMIT_TASKS_MAX] = "resources.pids.limit",
                [CGROUP_LIMIT_CPU_QUOTA] = "resources.cpu.quota",
                [CGROUP_LIMIT_CPU_WEIGHT] = "resources.cpu.weight",
        };
        static const char *const keys[_CGROUP_LIMIT_TYPE_MAX] = {
                [CGROUP_LIMIT_MEMORY_MAX] = "memory-max",
                [CGROUP_LIMIT_MEMORY_HIGH] = "memory-high",
                [CGROUP_LIMIT_MEMORY_SWAP_MAX] = "memory-swap-max",
                [CGROUP_LIMIT_TASKS_MAX] = "tasks-max",
                [CGROUP_LIMIT_CPU_QUOTA] = "cpu-quota",
                [CGROUP_LIMIT_CPU_WEIGHT] = "cpu-weight",
        };
        static const char *const user_keys[_CGROUP_LIMIT_TYPE_MAX] = {
                [CGROUP_LIMIT_MEMORY_MAX] = "policy:user-memory-max",
                [CGROUP_LIMIT_MEMORY_HIGH] = "policy:user-memory-high",
                [CGROUP_LIMIT_MEMORY_SWAP_MAX] = "policy:user-memory-swap-max",
                [CGROUP_LIMIT_TASKS_MAX] = "policy:user-tasks-max",
                [CGROUP_LIMIT_CPU_QUOTA] = "policy:user-cpu-quota",
                [CGROUP_LIMIT_CPU_WEIGHT] = "policy:user-cpu-weight",
        };
        static char policy_key[64];
        const SandboxResources *r = &req->resources;
        bool asked;

        if (t < 0 || t >= _CGROUP_LIMIT_TYPE_MAX)
                return "resources";
        if (user)
                return user_keys[t];

        switch (t) {
        case CGROUP_LIMIT_MEMORY_MAX:
                asked = r->memory_limit;
                break;
        case CGROUP_LIMIT_MEMORY_HIGH:
                asked = r->memory_high;
                break;
        case CGROUP_LIMIT_MEMORY_SWAP_MAX:
                asked = r->memory_swap;
                break;
        case CGROUP_LIMIT_TASKS_MAX:
                asked = r->pids_limit;
                break;
        case CGROUP_LIMIT_CPU_QUOTA:
                asked = r->cpu_quota || r->cpu_period;
                break;
        default:
                if (r->cpu_shares)
                        return "resources.cpu.shares";
                asked = r->cpu_weight;
        }
        if (asked)
                return fields[t];
        snprintf(policy_key, sizeof policy_key, "policy:%s", keys[t]);
        return policy_key;
}

static void refuse_limit(Connection *c, const char *limit, const char *reason) {
        log_audit(LOG_NOTICE, "refused", &c->caller, NULL, "Spawn refused: %s cannot be enforced: %s", limit, reason);
        connection_reply_error(c, nsbox_error_limit_not_supported(limit, reason));
}

/* Every limit must be one the host's cgroups can enforce: refused by name before anything is made. */
static int check_limits_enforceable(Connection *c, const SpawnRequest *req, const PolicyLimitsDecision *l) {
        const CgroupLimits *sets[2] = { &l->sandbox, l->has_user ? &l->user : NULL };
        char reason[256];

        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                CgroupLimitType t = _CGROUP_LIMIT_TYPE_INVALID;

                if (!sets[i])
                        continue;
                if (!c->server->cgroups) {
                        for (CgroupLimitType k = 0; k < _CGROUP_LIMIT_TYPE_MAX; k++)
                                if (cgroup_limits_has(sets[i], k)) {
                                        refuse_limit(c, limit_field(k, req, i == 1), c->server->cgroups_missing);
                                        return -EOPNOTSUPP;
                                }
                        continue;
                }
                if (cgroup_manager_check_limits(c->server->cgroups, sets[i], &t, reason, sizeof reason) < 0) {
                        refuse_limit(c, limit_field(t, req, i == 1), reason);
                        return -EOPNOTSUPP;
                }
        }
        if (c->server->cgroups && l->has_user) {
                CgroupLimitType t = _CGROUP_LIMIT_TYPE_INVALID;

                if (cgroup_manager_check_limits_below(c->server->cgroups, &l->sandbox, &l->user, &t, reason,
                                                      sizeof reason) < 0) {
                        refuse_limit(c, limit_field(t, req, false), reason);
                        return -EOPNOTSUPP;
                }
        }
        return 0;
}

/* Whether sb runs, and every sandbox it is nested in: one that ended, or is ending, gets nothing made in it. */
static bool sandbox_chain_running(const Sandbox *sb) {
        for (; sb; sb = sb->exec_of) {
                if (sb->phase != SANDBOX_PHASE_LIVE || sb->reaped || sb->state != SANDBOX_RUNNING)
                        return false;
                if (!sb->exec_of_id[0])
                        return true;
        }
        return false; /* the sandbox it is nested in went away */
}

/* Whether sb's processes are frozen: its cgroup is its own or one of the sandboxes' it is nested in. */
static bool sandbox_chain_paused(const Sandbox *sb) {
        for (; sb; sb = sb->exec_of)
                if (sb->paused)
                        return true;
        return false;
}

/* The classic-BPF programs a Spawn brings are read by its process and not kept: a process made inside such a
 * sandbox would run without them. */
#define NESTED_PROGRAMS_NOT_KEPT                                                                              \
        "the sandbox runs under seccomp programs of its own (seccompFileDescriptors), which nothing made inside " \
        "it could keep"

static void refuse_nested(Connection *c, const char *what, const char *sandbox, const char *reason) {
        struct json_object *e;

        log_audit(LOG_NOTICE, "refused", &c->caller, sandbox, "%s refused: %s%s%s.", what, reason,
                  sandbox ? ", from inside sandbox " : "", sandbox ?: "");
        e = nsbox_error_nested_request_refused(sandbox, reason);
        if (!e)
                return connection_close(c);
        connection_reply_error(c, e);
}

/*
 * The process that asks from inside origin must be in every namespace of
 * origin's and no other (origin_check_whole()): a process that made
 * namespaces of its own inside it (a bubblewrap of its own, unshare(1)), or
 * that a nested sandbox left behind, would leave them by asking. Read when
 * the call is handled. 0, or -EPERM once the refusal is sent.
 */
static int check_nested_whole(Connection *c, const char *what, const Sandbox *origin) {
        NamespaceType t = 0;
        char reason[256];
        int r;

        r = origin_check_whole(&c->server->origins, origin, c->caller.pidfd, c->caller.pid, &t);
        if (r == 0)
                return 0;
        if (r == -EXDEV)
                snprintf(reason, sizeof reason,
                         "the calling process runs in a %s namespace that is not its sandbox's (one made inside the "
                         "sandbox, or left of a nested sandbox that ended): what it asks for would leave it",
                         namespace_type_to_proc_name(t));
        else if (r == -ESRCH)
                snprintf(reason, sizeof reason, "the calling process is gone, or its sandbox's top process is");
        else
                snprintf(reason, sizeof reason, "cannot read the calling process's namespaces: %s", strerror(-r));
        refuse_nested(c, what, origin->id, reason);
        return -EPERM;
}

/* The calling process's hard limits into hard (sandbox_nested_caller_limits()): 0, or -EPERM once refused. */
static int read_nested_caller_limits(Connection *c, const char *what, const char *sandbox,
                                     uint64_t hard[static RLIMIT_NLIMITS]) {
        char reason[160];
        int r;

        r = sandbox_nested_caller_limits(&c->caller, hard);
        if (r >= 0)
                return 0;
        snprintf(reason, sizeof reason, "cannot read the calling process's limits: %s",
                 r == -ESRCH ? "it is gone" : strerror(-r));
        refuse_nested(c, what, sandbox, reason);
        return -EPERM;
}

/*
 * What the calling process holds in S's user namespace bounds what it gets
 * there (sandbox-nested-caller.h), and root's request keeps no session of the
 * daemon's (the engine would leave a root creator's there): 0, or -EPERM
 * once the refusal is sent.
 */
static int check_nested_caller(Connection *c, const char *what, const Sandbox *sb, const SpawnRequest *req,
                               const CapabilityMasks *asked, NestedCallerHolds *ret_holds) {
        char bad[64] = "", why[256] = "", reason[sizeof bad + sizeof why + 2];
        int r;

        if (req->new_session == 0 && sb->exec_base.creator_privileged) {
                refuse_nested(c, what, sb->id,
                              "newSession: false would leave the process in the daemon's session; from inside a "
                              "sandbox it gets a session of its own");
                return -EPERM;
        }
        r = nested_caller_holds(sb, &c->caller, ret_holds);
        if (r < 0) {
                snprintf(reason, sizeof reason, "cannot read what the calling process holds: %s", strerror(-r));
                refuse_nested(c, what, sb->id, reason);
                return -EPERM;
        }
        r = nested_caller_check(sb, &c->caller, ret_holds, req, asked, bad, sizeof bad, why, sizeof why);
        if (r < 0) {
                snprintf(reason, sizeof reason, "%s: %s", bad, why);
                refuse_nested(c, what, sb->id, reason);
                return -EPERM;
        }
        return 0;
}

/*
 * Spawn and Exec from where the caller runs (caller-origin.h, decided at
 * admission): from the host, served; from a caller whose origin could not
 * be told, refused (fail closed: it may be a sandbox's); from inside a
 * sandbox, refused unless the caller's rule says "nested = allow".
 * Returns 0 to go on (from the host), 1 from inside an allowed sandbox,
 * -EPERM once the refusal is sent.
 */
static int check_nested(Connection *c, const PolicyRule *rule, const char *what) {
        const CallerOrigin *o = &c->caller.origin;

        switch (o->kind) {
        case CALLER_ORIGIN_HOST:
                return 0;
        case CALLER_ORIGIN_UNKNOWN: {
                char reason[160];

                snprintf(reason, sizeof reason, "cannot tell whether the caller runs inside a sandbox: %s", o->reason);
                refuse_nested(c, what, NULL, reason);
                return -EPERM;
        }
        case CALLER_ORIGIN_SANDBOX:
                break;
        }

        if (rule->nested != POLICY_NESTED_ALLOW) {
                char reason[160];

                snprintf(reason, sizeof reason, "a sandbox may not ask for sandboxes (policy [%s]: nested = refuse)",
                         rule->source);
                refuse_nested(c, what, o->sandbox, reason);
                return -EPERM;
        }
        return 1;
}

/*
 * A Spawn from inside sandbox S that the policy allows: a child of S, built
 * as an Exec into S that creates namespaces of its own (sandbox-nested.h).
 * Authorised as the caller's Spawn from the host would be, and then held to
 * what S has; its entry is one of S's processes, owned by the caller.
 */
/* How the audit log names a process started in a sandbox: its event, what was done, what was made. */
typedef struct StartInSandboxWords {
        const char *event;   /* "exec" */
        const char *action;  /* "Exec into sandbox" */
        const char *made;    /* "process" */
        bool nested;         /* what is made is a nested sandbox, not a process of target's */
} StartInSandboxWords;

/* A nested sandbox's own containment: a cgroup of its own below its sandbox's, and what it reports. */
typedef struct StartInSandboxOwn {
        Cgroup *cgroup;             /* taken; NULL: none of its own */
        SandboxResources resources;
        uint64_t runtime_max_usec;
} StartInSandboxOwn;

/*
 * spawn_start(), and the handshake's first step at once: a child with nothing to wait for first (no "ready"
 * from it) gets its maps written and is released now, not once this call logged and registered the sandbox
 * (sandbox.c), which needs nothing of the child and cost it a wait on every spawn's way. What fails in the
 * step is kept by the handshake, whose next step (sandbox.c) fails the spawn with it.
 *
 * Only where the sandbox can be killed whole (its cgroup, or pid 1 of its pid namespace): if registering it
 * fails, its command may have run, and forked, already. Otherwise the release waits for the registration, as
 * without this.
 */
static int spawn_start_released(const SpawnContext *ctx, SpawnHandle *ret, SpawnError *ret_error) {
        SpawnError ignored;
        int r;

        r = spawn_start(ctx, ret, ret_error);
        if (r >= 0 && (ctx->cgroup || (ctx->request->namespaces & NAMESPACE_BIT(NAMESPACE_PID))))
                (void) spawn_handshake_step(ret->handshake, &ignored);
        return r;
}

/*
 * Starts process in target as plan prepared it (an Exec, or a Spawn from
 * inside target): in target's cgroup (or own's, below it), under its seccomp
 * program and capability sets, tracked as one of its processes, so it dies
 * with it. The reply goes out from sandbox.c once the child reported exec
 * (or failure).
 */
static void start_in_sandbox(Connection *c, SandboxClient *client, Sandbox *target, const SpawnRequest *process,
                             const SandboxExecPlan *plan, const CapabilityMasks *capabilities, const char *id,
                             const StartInSandboxOwn *own, const StartInSandboxWords *words) {
        Cgroup *own_cgroup = own ? own->cgroup : NULL, *cgroup = own_cgroup ?: sandbox_cgroup_of(target);
        SandboxExecBase base = {};
        SpawnError error = {};
        SpawnHandle handle;
        Sandbox *sb;
        int r;

        SpawnContext ctx = {
                .request = process,
                .seccomp = target->exec_base.seccomp,
                .capabilities = capabilities,
                .message_fds = plan->fds,
                .n_message_fds = plan->n_fds,
                .caller = &plan->creator,
                .own_namespace_inodes = c->server->origins.own_namespaces,
                .cgroup = cgroup,
                .exec = true,
                .user_namespaces_disabled = target->exec_base.disable_user_namespaces,
                .parent = plan->has_parent ? &plan->parent : NULL,
                .timeout_sec = c->server->config.limits.spawn_timeout_sec,
        };
        /* Held until this spawn concludes (sandbox.c), or fails here; a cgroup of its own is, as made. */
        r = cgroup && !own_cgroup ? cgroup_hold_for_spawn(cgroup) : 0;
        if (r < 0)
                spawn_error_set(&error, "cgroup", -r, "cgroup.procs");
        else {
                r = spawn_start_released(&ctx, &handle, &error);
                if (r < 0 && !own_cgroup)
                        cgroup_release_after_spawn(cgroup);
        }
        connection_drop_fds(c);
        /* The child is reaped: its own cgroup is empty. */
        if (r < 0 && own_cgroup)
                cgroup_remove_empty(own_cgroup);
        if (r < 0) {
                log_audit(LOG_NOTICE, "spawn-failed", &c->caller, target->id, "%s %s failed at %s: %s", words->action,
                          target->id, error.stage, error.message);
                return connection_reply_error(c, nsbox_error_spawn_failed(error.stage, error.error, error.message));
        }
        log_audit(LOG_INFO, words->event, &c->caller, target->id, "%s %s: %s %s (pid %d).", words->action,
                  target->id, words->made, id, (int) handle.pid);

        /* A nested sandbox is one in turn: what a request from inside it, or an Exec into it, starts from.
         * Its namespaces are the ones it made and those of target it joined (the request's joins now), its
         * filter target's, its capability sets the ones it runs with. Short of memory it is still a
         * sandbox: nothing is then made inside it. */
        if (words->nested) {
                r = sandbox_exec_base_init(&base, process, &plan->creator, target->exec_base.seccomp, capabilities,
                                           &handle);
                if (r < 0)
                        log_warning_errno(r, "Cannot keep what a request from inside nested sandbox %s needs: %m",
                                          id);
                base.disable_user_namespaces |= target->exec_base.disable_user_namespaces;
                base.own_seccomp_programs |= target->exec_base.own_seccomp_programs;
        }

        SandboxContainment containment = {
                .id = id,
                .exec_of = target,
                .exec_base = base.kept ? &base : NULL,
                .cgroup = own_cgroup,
                .resources = own ? own->resources : (SandboxResources) {},
                .runtime_max_usec = own ? own->runtime_max_usec : 0,
        };
        r = sandbox_new(c->server, client, process, &containment, &handle, &sb);
        if (r < 0) {
                /* It took its own cgroup (and removed it with the child). */
                if (!own_cgroup)
                        cgroup_release_after_spawn(cgroup);
                log_error_errno(r, "Failed to track new %s: %m", words->made);
                return connection_reply_error(c, nsbox_error_spawn_failed("track", -r, strerror(-r)));
        }
}

/*
 * The policy's Spawn checks for a nested request. The maps of a user
 * namespace made inside the sandbox's (in_parent) point at the sandbox's
 * ids, which sandbox_nested_prepare() held to what the sandbox's own maps
 * cover (the policy judged those, as host ids, when it was made): the
 * policy, which reads hostID as a host id, judges the rest of the request
 * without them; setgroups is then "allow" only where asked for, the sandbox
 * having it (checked there too).
 */
static int check_nested_policy(Connection *c, SpawnRequest *req, bool in_parent, PolicyDecision *ret_decision,
                               PolicyDenial *ret_denial) {
        Server *s = c->server;
        size_t n_uid = req->n_uid_mappings, n_gid = req->n_gid_mappings;
        int setgroups = req->setgroups, r;

        if (in_parent) {
                req->n_uid_mappings = req->n_gid_mappings = 0;
                req->setgroups = -1;
        }
        r = policy_check_spawn(s->policy, &c->caller, req, subid_file_ranges(s->subuid), subid_file_ranges(s->subgid),
                               ret_decision, ret_denial);
        if (in_parent) {
                req->n_uid_mappings = n_uid;
                req->n_gid_mappings = n_gid;
                req->setgroups = setgroups;
                if (r >= 0)
                        ret_decision->setgroups_allow = setgroups > 0;
        }
        return r;
}

/*
 * A nested sandbox's cgroup of its own, below the sandbox's: what tells requests from inside it from the
 * sandbox's, as its processes cannot leave it (writing cgroup.procs of a common ancestor is the daemon's), while
 * every namespace but a user or pid one can be traded for a fresh one (unshare -U, then -n). Limits or a runtime
 * of its own are judged by the policy as from the host (its maxima), kept to what it asked, refused by name
 * where the host cannot enforce them or they would need more than the sandbox has
 * (sandbox_nested_check_limits()). 0 with *ret filled (no cgroup where the daemon has none), or -errno once
 * the refusal is sent.
 */
static int nested_own_cgroup(Connection *c, Sandbox *outer, const SpawnRequest *req, const PolicyRule *rule,
                             const char *id, StartInSandboxOwn *ret) {
        char bad[64] = "", why[320] = "", reason[400];
        PolicyLimitsDecision limits = { .sandbox = CGROUP_LIMITS_NONE };
        PolicyDenial denial = {};
        Cgroup *parent = NULL;
        int r;

        *ret = (StartInSandboxOwn) {};
        if (!sandbox_nested_wants_cgroup(req))
                /* No limits of its own: below the nearest cgroup up the chain, which may have no room for
                 * limits and need none for this one. */
                parent = c->server->cgroups ? sandbox_cgroup_of(outer) : NULL;
        else {
                r = policy_resolve_limits(rule, req, &limits, &denial);
                if (r < 0) {
                        refuse(c, &denial);
                        return r;
                }
                sandbox_nested_limits_asked(req, &limits);
                r = check_limits_enforceable(c, req, &limits);
                if (r < 0)
                        return r;
                r = sandbox_nested_check_limits(outer, &limits, &parent, bad, sizeof bad, why, sizeof why);
                if (r < 0) {
                        snprintf(reason, sizeof reason, "%s: %s", bad, why);
                        refuse_nested(c, "Spawn", outer->id, reason);
                        return r;
                }
        }
        if (parent) {
                r = cgroup_new_below(parent, id, &limits.sandbox,
                                     rule->nested == POLICY_NESTED_ALLOW ? CGROUP_ROOM_BELOW : 0, &ret->cgroup);
                if (r < 0) {
                        log_audit(LOG_WARNING, "spawn-failed", &c->caller, outer->id, "Spawn failed: cgroup: %s",
                                  strerror(-r));
                        connection_reply_error(c, nsbox_error_spawn_failed("cgroup", -r, strerror(-r)));
                        return r;
                }
        }
        ret->resources = limits.resources;
        ret->runtime_max_usec = limits.runtime_max_usec;
        return 0;
}

static void spawn_nested(Connection *c, SpawnRequest *req, const PolicyRule *rule) {
        Server *s = c->server;
        const char *outer_id = c->caller.origin.sandbox;
        _cleanup_(sandbox_exec_plan_done) SandboxExecPlan plan = {};
        const CapabilityMasks *spawn_capabilities = NULL;
        _cleanup_free_ char *field = NULL;
        char bad[64] = "", why[256] = "", reason[384], id[SANDBOX_ID_LEN + 1];
        CapabilityMasks capabilities, clamped;
        NestedCallerHolds holds;
        uint64_t caller_hard[RLIMIT_NLIMITS];
        bool new_user = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);
        PolicyDecision decision = {};
        PolicyDenial denial = {};
        StartInSandboxOwn own;
        SandboxClient *client;
        Sandbox *outer;
        int r;

        outer = sandbox_find(s, outer_id, 0);
        if (!outer || !sandbox_chain_running(outer))
                return refuse_nested(c, "Spawn", outer_id, "the sandbox the caller runs in is not running");
        if (!outer->exec_base.kept)
                return refuse_nested(c, "Spawn", outer_id,
                                     "nothing was kept of the sandbox the caller runs in to make a child of it "
                                     "(a nested sandbox's is not kept across a restart of the daemon)");
        if (check_nested_whole(c, "Spawn", outer) < 0)
                return;
        if (read_nested_caller_limits(c, "Spawn", outer_id, caller_hard) < 0)
                return;
        if (sandbox_nested_check_caller_limits(outer, req, caller_hard, bad, sizeof bad, why, sizeof why) < 0) {
                snprintf(reason, sizeof reason, "%s: %s", bad, why);
                return refuse_nested(c, "Spawn", outer_id, reason);
        }
        /* It counts against the sandbox's owner, and runs as one of the sandbox's processes. */
        if (c->caller.uid != outer->creator.uid) {
                snprintf(reason, sizeof reason, "the caller runs as uid %u, not as the sandbox's owner",
                         (unsigned) c->caller.uid);
                return refuse_nested(c, "Spawn", outer_id, reason);
        }
        if (outer->exec_base.own_seccomp_programs)
                return refuse_nested(c, "Spawn", outer_id, NESTED_PROGRAMS_NOT_KEPT);
        if (sandbox_chain_paused(outer))
                return connection_reply_error(c, nsbox_error_spawn_failed("cgroup", EBUSY, "the sandbox is paused"));

        r = check_quotas(c, rule, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_streams_read_once(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_new_session(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);
        if (req->capabilities) {
                r = capability_masks_from_spec(req->capabilities, "capabilities", &capabilities, &field);
                if (r == -ENOMEM)
                        return connection_close(c);
                if (r < 0)
                        return reply_invalid_parameter(c, field ?: "capabilities");
        }

        r = sandbox_nested_prepare(outer, req, c->message.fds, c->message.n_fds,
                                   req->capabilities ? &capabilities : NULL, &plan, &spawn_capabilities, bad,
                                   sizeof bad, why, sizeof why);
        if (r == -EPERM) {
                snprintf(reason, sizeof reason, "%s: %s", bad, why);
                return refuse_nested(c, "Spawn", outer_id, reason);
        }
        if (r == -EINVAL)
                return reply_invalid_parameter(c, bad);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", -r, strerror(-r)));
        /* Its rlimits (the sandbox's, its own within them) within the caller's too. */
        if (sandbox_nested_clamp_limits(req, caller_hard) < 0)
                return connection_close(c);
        /* Then what the caller holds in the sandbox's user namespace: sets it did not ask for are the
         * sandbox's within those. */
        r = check_nested_caller(c, "Spawn", outer, req, req->capabilities ? &capabilities : NULL, &holds);
        if (r < 0)
                return;
        if (!new_user && !req->capabilities && nested_caller_clamp(&holds, spawn_capabilities, &clamped))
                spawn_capabilities = &clamped;

        /* What the same caller may ask for from the host, judged with the sandbox's joins in place. */
        server_refresh_subids(s);
        r = check_nested_policy(c, req, plan.has_parent, &decision, &denial);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return refuse(c, &denial);
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_USER))
                req->setgroups = decision.setgroups_allow;
        /* Root's "allow" by default: a process without CAP_SETGID could only deny it for its own map. */
        if (new_user && !nested_caller_may_setgroups(&holds))
                req->setgroups = 0;
        r = policy_check_exec(s->policy, &c->caller, !outer->exec_base.seccomp, req, &denial);
        if (r < 0)
                return refuse(c, &denial);

        client = sandbox_client_of(c);
        if (!client)
                return connection_close(c);
        r = sandbox_make_id(id);
        if (r < 0)
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", -r, strerror(-r)));

        r = nested_own_cgroup(c, outer, req, rule, id, &own);
        if (r < 0)
                return;

        start_in_sandbox(c, client, outer, req, &plan, spawn_capabilities, id, &own,
                         &(const StartInSandboxWords) { "spawn", "Spawn from inside sandbox", "nested sandbox", true });
}

static void method_spawn(Connection *c) {
        Server *s = c->server;
        _cleanup_(spawn_request_freep) SpawnRequest *req = NULL;
        _cleanup_(seccomp_program_unrefp) SeccompProgram *seccomp = NULL;
        _cleanup_free_ char *field = NULL;
        CapabilityMasks capabilities;
        SandboxExecBase exec_base = {};
        PolicyDecision decision = {};
        PolicyDenial denial = {};
        PolicyRule rule;
        SpawnError error = {};
        SpawnHandle handle;
        PolicyLimitsDecision limits;
        char id[SANDBOX_ID_LEN + 1];
        Cgroup *cgroup = NULL;
        Sandbox *sb;
        SandboxClient *client;
        int r;

        r = spawn_request_decode(c->call.parameters, c->message.n_fds, &s->config.limits.spawn, &req, &field);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return reply_invalid_parameter(c, field ?: "parameters");

        /* Names are handles: one per owner, while the sandbox shows. */
        if (req->name && sandbox_find_named(s, req->name, c->caller.uid, sandbox_name_scope(s, &c->caller))) {
                char buf[SANDBOX_NAME_MAX * 4 + 1];

                log_audit(LOG_NOTICE, "refused", &c->caller, NULL, "Spawn refused: the name '%s' is in use.",
                          log_printable(req->name, buf, sizeof buf));
                return connection_reply_error(c, nsbox_error_name_in_use(req->name));
        }

        policy_lookup(s->policy, c->caller.uid, c->caller.gid, c->caller.groups, c->caller.n_groups, &rule);

        r = check_nested(c, &rule, "Spawn");
        if (r < 0)
                return;
        if (r > 0)
                return spawn_nested(c, req, &rule);

        r = check_quotas(c, &rule, &denial);
        if (r < 0)
                return refuse(c, &denial);

        /* As newuidmap reads them on every call: an edit needs no SIGHUP. */
        server_refresh_subids(s);
        r = policy_check_spawn(s->policy, &c->caller, req, subid_file_ranges(s->subuid), subid_file_ranges(s->subgid),
                               &decision, &denial);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return refuse(c, &denial);
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_USER))
                req->setgroups = decision.setgroups_allow;

        r = check_join_namespaces(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_command_user_namespace(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_streams_read_once(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_new_session(c, req, &denial);
        if (r < 0)
                return refuse(c, &denial);

        /* What only libseccomp and libcap can judge, before anything is created. */
        r = seccomp_program_for_request(req, &seccomp, &field);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return reply_invalid_parameter(c, field ?: "seccomp");
        if (req->capabilities) {
                r = capability_masks_from_spec(req->capabilities, "capabilities", &capabilities, &field);
                if (r == -ENOMEM)
                        return connection_close(c);
                if (r < 0)
                        return reply_invalid_parameter(c, field ?: "capabilities");
        }

        r = policy_resolve_limits(&rule, req, &limits, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_limits_enforceable(c, req, &limits);
        if (r < 0)
                return;

        /* Where the table keeps what this connection owns: made before the cgroup and the child. */
        client = sandbox_client_of(c);
        if (!client)
                return connection_close(c);

        SpawnContext ctx = {
                .request = req,
                .seccomp = seccomp,
                .capabilities = req->capabilities ? &capabilities : NULL,
                .message_fds = c->message.fds,
                .n_message_fds = c->message.n_fds,
                .caller = &c->caller,
                .own_namespace_inodes = s->origins.own_namespaces,
                .sandbox_user_ids = sandbox_user_ids,
                .userdata = s,
                .timeout_sec = s->config.limits.spawn_timeout_sec,
        };
        /* Room for nested sandboxes' cgroups where requests from inside it may be served; one made ahead (a
         * warm-pool entry's, a spare) with what the limits need (a CPU limit: a v1 cgroup of its own). */
        CgroupFlags cgroup_flags = (rule.nested == POLICY_NESTED_ALLOW ? CGROUP_ROOM_BELOW : 0) |
                                   cgroup_flags_to_take(&limits.sandbox);

        /* Namespaces made ahead for this very shape (warm-pool.h); whatever goes wrong with one, cold. */
        WarmPoolEntry *entry = warm_pool_take(s->warm_pool, &c->caller, req, seccomp, &rule, &limits, cgroup_flags);
        r = entry ? warm_pool_start(s->warm_pool, entry, &ctx, &limits, id, &cgroup, &handle, &error) : -ENOENT;
        if (r < 0) {
                /* Its cgroup made ahead for it, else now (the spare for its next Spawn is made after this). */
                r = cgroup_spares_take(s->cgroup_spares, c->caller.uid, cgroup_flags, &limits.sandbox,
                                       limits.has_user ? &limits.user : NULL, id, &cgroup);
                if (r < 0)
                        r = sandbox_make_id(id);
                if (r < 0)
                        return connection_reply_error(c, nsbox_error_spawn_failed("prepare", -r, strerror(-r)));
                cgroup_spares_want(s->cgroup_spares, c->caller.uid, cgroup_flags, limits.has_user ? &limits.user : NULL);
                if (s->cgroups && !cgroup) {
                        r = cgroup_new(s->cgroups, c->caller.uid, id, &limits.sandbox,
                                       limits.has_user ? &limits.user : NULL, cgroup_flags, &cgroup);
                        if (r < 0) {
                                log_audit(LOG_WARNING, "spawn-failed", &c->caller, NULL, "Spawn failed: cgroup: %s",
                                          strerror(-r));
                                return connection_reply_error(c, nsbox_error_spawn_failed("cgroup", -r, strerror(-r)));
                        }
                }
                ctx.cgroup = cgroup;
                r = spawn_start_released(&ctx, &handle, &error);
        }
        /* The child has its copies now; the reply may be a while (until exec or the spawn timeout). */
        connection_drop_fds(c);
        if (r < 0) {
                /* The child is reaped: its cgroup is empty. */
                cgroup_remove_empty(cgroup);
                /* The user's cgroup holds as many tasks as the policy gives all its sandboxes together. */
                if (streq(error.stage, "clone3") && error.error == EAGAIN && limits.has_user &&
                    limits.user.tasks_max != CGROUP_LIMIT_MAX) {
                        denial = (PolicyDenial) { .kind = POLICY_DENIAL_QUOTA_EXCEEDED, .field = "user-tasks-max" };
                        snprintf(denial.reason, sizeof denial.reason, "the user's sandboxes have %" PRIu64
                                 " tasks together, all the policy allows", limits.user.tasks_max);
                        return refuse(c, &denial);
                }
                log_audit(LOG_NOTICE, "spawn-failed", &c->caller, NULL, "Spawn failed at %s: %s", error.stage,
                          error.message);
                return connection_reply_error(c, nsbox_error_spawn_failed(error.stage, error.error, error.message));
        }

        /* What an Exec into it starts from. Short of memory, it is still a sandbox: Exec then refuses it. */
        r = sandbox_exec_base_init(&exec_base, req, &c->caller, seccomp, req->capabilities ? &capabilities : NULL,
                                   &handle);
        if (r < 0)
                log_warning_errno(r, "Cannot keep what an Exec into the new sandbox needs: %m");

        SandboxContainment containment = {
                .id = id,
                .cgroup = cgroup,
                .resources = limits.resources,
                .runtime_max_usec = limits.runtime_max_usec,
                .exec_base = r >= 0 ? &exec_base : NULL,
        };
        r = sandbox_new(s, client, req, &containment, &handle, &sb);
        if (r < 0) {
                log_error_errno(r, "Failed to track new sandbox: %m");
                return connection_reply_error(c, nsbox_error_spawn_failed("track", -r, strerror(-r)));
        }
        /* Whose rule the user's limits came from: a Reload writes the new policy's at once. */
        server_user_note_caller(sb->usage, &c->caller);

        /* The reply goes out from sandbox.c once the child reported exec (or failure). */
}

/*
 * Exec: a Spawn into the caller's own running sandbox (root: any), whose
 * namespaces, user, cwd, cgroup and confinement are the sandbox's
 * (sandbox-exec.h). Authorised by the sandbox being the caller's, not by the
 * policy's namespace rules: the namespaces are the ones the daemon made (or
 * joined) for it. Quotas count it as a sandbox of the caller's.
 */
static void method_exec(Connection *c) {
        Server *s = c->server;
        _cleanup_(exec_request_freep) ExecRequest *req = NULL;
        _cleanup_(sandbox_exec_plan_done) SandboxExecPlan plan = {};
        _cleanup_free_ char *field = NULL;
        char bad[64], id[SANDBOX_ID_LEN + 1];
        PolicyDenial denial = {};
        PolicyRule rule;
        SandboxClient *client;
        Sandbox *target;
        const CapabilityMasks *exec_capabilities;
        CapabilityMasks clamped;
        NestedCallerHolds holds;
        uint64_t caller_hard[RLIMIT_NLIMITS];
        bool nested;
        int r;

        r = exec_request_decode(c->call.parameters, c->message.n_fds, &s->config.limits.spawn, &req, &field);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return reply_invalid_parameter(c, field ?: "parameters");

        /* Where the caller runs decides before what it names is looked up: from inside a sandbox whose policy
         * refuses, or from where cannot be told, a sandbox that exists is refused as a missing one is. */
        policy_lookup(s->policy, c->caller.uid, c->caller.gid, c->caller.groups, c->caller.n_groups, &rule);
        r = check_nested(c, &rule, "Exec");
        if (r < 0)
                return;
        nested = r > 0;

        /* Only a sandbox the caller may see (from inside one, that one and the sandboxes nested in it: one
         * outside answers exactly as a missing one) that runs (a nested one too): one still starting has no
         * namespaces to show yet, one that ended none left, and a process Exec started is no sandbox of its
         * own. */
        target = sandbox_lookup(s, req->id, c->caller.uid, sandbox_name_scope(s, &c->caller));
        if (!target || !sandbox_is_visible_to(s, target, &c->caller) ||
            (target->exec_of_id[0] && !sandbox_is_nested(target)) || target->phase != SANDBOX_PHASE_LIVE ||
            target->reaped || target->state != SANDBOX_RUNNING)
                return connection_reply_error(c, nsbox_error_no_such_sandbox(req->id));
        if (!target->exec_base.kept)
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", ENOMEM,
                                                                          "nothing was kept of the sandbox to Exec with"));
        if (!sandbox_chain_running(target))
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", ESRCH,
                                                                          "the sandbox it is nested in has ended"));
        /* A frozen cgroup would freeze the new process before it could say anything. */
        if (sandbox_chain_paused(target))
                return connection_reply_error(c, nsbox_error_spawn_failed("cgroup", EBUSY, "the sandbox is paused"));
        exec_capabilities = target->exec_base.has_capabilities ? &target->exec_base.capabilities : NULL;

        if (nested && read_nested_caller_limits(c, "Exec", c->caller.origin.sandbox, caller_hard) < 0)
                return;
        /* From inside a sandbox, only into that sandbox or one nested in it (what it may see): what it already
         * is, or made. */
        assert(!nested || sandbox_within(target, sandbox_find(s, c->caller.origin.sandbox, 0)));
        if (nested && check_nested_whole(c, "Exec", sandbox_find(s, c->caller.origin.sandbox, 0)) < 0)
                return;
        if (nested && target->exec_base.own_seccomp_programs)
                return refuse_nested(c, "Exec", c->caller.origin.sandbox, NESTED_PROGRAMS_NOT_KEPT);
        if (nested) {
                char why[192], reason[sizeof bad + sizeof why + 2];

                if (sandbox_nested_check_user(target, &req->process, bad, sizeof bad, why, sizeof why) < 0) {
                        snprintf(reason, sizeof reason, "%s: %s", bad, why);
                        return refuse_nested(c, "Exec", c->caller.origin.sandbox, reason);
                }
                if (check_nested_caller(c, "Exec", target, &req->process, NULL, &holds) < 0)
                        return;
                /* The sandbox's sets within the caller's: it gets no capability back by asking. */
                if (nested_caller_clamp(&holds, target->exec_base.has_capabilities ? &target->exec_base.capabilities :
                                                                                     NULL,
                                        &clamped))
                        exec_capabilities = &clamped;
        }
        r = check_quotas(c, &rule, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = policy_check_exec(s->policy, &c->caller, !target->exec_base.seccomp, &req->process, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = check_new_session(c, &req->process, &denial);
        if (r < 0)
                return refuse(c, &denial);
        r = sandbox_exec_check_user(target, &req->process, bad, sizeof bad);
        if (r == -EINVAL)
                return reply_invalid_parameter(c, bad);
        if (r < 0)
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", -r, strerror(-r)));

        client = sandbox_client_of(c);
        if (!client)
                return connection_close(c);
        r = sandbox_make_id(id);
        if (r >= 0)
                r = sandbox_exec_prepare(target, &req->process, c->message.fds, c->message.n_fds, &plan);
        /* The sandbox's rlimits within the caller's: it gets no higher limit back by asking. */
        if (r >= 0 && nested)
                r = sandbox_nested_clamp_limits(&req->process, caller_hard);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return connection_reply_error(c, nsbox_error_spawn_failed("prepare", -r, strerror(-r)));

        start_in_sandbox(c, client, target, &req->process, &plan, exec_capabilities, id, NULL,
                         &(const StartInSandboxWords) { "exec", "Exec into sandbox", "process" });
}

/* Root only: the reply comes once the new policy is in force, or says why it is not, so a caller
 * (ExecReload=) can wait for the outcome and fail. */
static void method_reload(Connection *c) {
        ReloadError error = {};
        int r;

        json_object_object_foreach(c->call.parameters, key, value) {
                (void) value;
                return reply_invalid_parameter(c, key);
        }
        /* Root inside a sandbox is the sandbox's: the daemon's configuration is the host's to change. */
        if (!c->caller.privileged || c->caller.origin.kind != CALLER_ORIGIN_HOST) {
                log_audit(LOG_NOTICE, "refused", &c->caller, NULL,
                          "Reload refused: only root on the host may reload the policy.");
                return connection_reply_error(c, varlink_error_new(VARLINK_ERROR_PERMISSION_DENIED, NULL));
        }

        r = server_reload(c->server, &error);
        if (r == -ENOMEM)
                return connection_close(c);
        if (r < 0)
                return connection_reply_error(c, nsbox_error_policy_invalid(error.file, error.line, error.reason));

        log_audit(LOG_INFO, "reload", &c->caller, NULL, "Policy reloaded.");
        reply_parameters(c, NULL);
}

static void method_warm_pool(Connection *c) {
        WarmPoolStats st;
        struct json_object *o;

        json_object_object_foreach(c->call.parameters, key, value) {
                (void) value;
                return reply_invalid_parameter(c, key);
        }
        if (!c->caller.privileged || c->caller.origin.kind != CALLER_ORIGIN_HOST)
                return connection_reply_error(c, varlink_error_new(VARLINK_ERROR_PERMISSION_DENIED, NULL));

        warm_pool_stats(c->server->warm_pool, &st);
        o = json_object_new_object();
        if (!o)
                return connection_close(c);
        const struct {
                const char *name;
                uint64_t value;
        } fields[] = {
                { "entries", st.entries },       { "parked", st.parked },
                { "hits", st.hits },             { "misses", st.misses },
                { "fills", st.fills },           { "fillFailures", st.fill_failures },
                { "discarded", st.discarded },   { "fillCpuUsec", st.fill_cpu_usec },
                { "fillUsec", st.fill_usec },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (json_object_object_add(o, fields[i].name, json_object_new_int64((int64_t) fields[i].value)) < 0) {
                        json_object_put(o);
                        return connection_close(c);
                }
        reply_parameters(c, o);
}

/* Without a valid policy nobody but root is served: nothing says what others may do. Reload answers
 * non-root callers itself (PermissionDenied); the service interface stays open to everyone. */
static bool admit_call(Connection *c, const ConnectionMethod *m) {
        const char *file = c->server->policy_invalid;
        bool ours = strncmp(m->name, NSBOX_INTERFACE ".", strlen(NSBOX_INTERFACE ".")) == 0;

        /* From inside a sandbox whose Spawn is not answered yet: once it is. */
        if (ours && c->caller.origin.kind == CALLER_ORIGIN_SANDBOX) {
                Sandbox *origin = sandbox_find(c->server, c->caller.origin.sandbox, 0);

                if (origin && origin->phase == SANDBOX_PHASE_SPAWNING) {
                        if (sandbox_hold_call_until_started(origin, c) < 0)
                                connection_close(c);
                        return false;
                }
        }

        if (!file || c->caller.privileged || !ours || streq(m->name, NSBOX_INTERFACE ".Reload"))
                return true;

        connection_drop_fds(c);
        log_audit(LOG_NOTICE, "refused", &c->caller, NULL, "%s refused: %s does not load, only root is served.",
                  m->name, file);
        connection_reply_error(c, nsbox_error_policy_invalid(file, 0, NULL));
        return false;
}

static void connection_disconnected(Connection *c) {
        sandbox_connection_closed(c->server, c);
        /* Still listed: the owner's entries go with its last connection (counted only if it has any). */
        if (warm_pool_holds_for(c->server->warm_pool, c->caller.uid) &&
            server_count_connections_of(c->server, c->caller.uid) <= 1)
                warm_pool_owner_left(c->server->warm_pool, c->caller.uid);
}

static const ConnectionMethod methods[] = {
        { "org.varlink.service.GetInfo",                 method_get_info,                  false },
        { "org.varlink.service.GetInterfaceDescription", method_get_interface_description, false },
        { "io.nsbox.Sandbox.Spawn",                      method_spawn,                     true  },
        { "io.nsbox.Sandbox.Exec",                       method_exec,                      true  },
        { "io.nsbox.Sandbox.Wait",                       method_wait,                      false },
        { "io.nsbox.Sandbox.Kill",                       method_kill,                      false },
        { "io.nsbox.Sandbox.Pause",                      method_pause,                     false },
        { "io.nsbox.Sandbox.Resume",                     method_resume,                    false },
        { "io.nsbox.Sandbox.List",                       method_list,                      false },
        { "io.nsbox.Sandbox.Inspect",                    method_inspect,                   false },
        { "io.nsbox.Sandbox.Reload",                     method_reload,                    false },
        { "io.nsbox.Sandbox.WarmPool",                   method_warm_pool,                 false },
};

static const char *const interfaces[] = { "org.varlink.service", NSBOX_INTERFACE, NULL };

static const ConnectionService service = {
        .methods = methods,
        .n_methods = ELEMENTSOF(methods),
        .interfaces = interfaces,
        .admit = admit_call,
        .disconnected = connection_disconnected,
        .drained = sandbox_connection_drained,
};

const ConnectionService *methods_service(void) {
        return &service;
}
