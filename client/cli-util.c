/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared pieces of the nsbox CLI: error messages that say what to do next, signal names, JSON output, our ids
 * as a user namespace we join sees them. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-util.h"

const char *arg_socket = NULL;
const char *cli_program_name = "nsbox";
bool cli_level_prefix = false;

void log_error(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "%s%s: ", cli_level_prefix ? "<3>" : "", cli_program_name);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

const char *cli_socket_path(void) {
        const char *e;

        if (arg_socket && *arg_socket)
                return arg_socket;
        e = getenv("NSBOX_SOCKET");
        if (e && *e)
                return e;
        return nsbox_connection_get_default_socket_path();
}

int cli_connect(NsboxConnection **ret) {
        const char *path = cli_socket_path();
        int r;

        r = nsbox_connection_new(path, ret);
        if (r >= 0)
                return 0;

        switch (r) {
        case -ENOENT:
        case -ECONNREFUSED:
        case -ENOTDIR:
                if (strcmp(path, nsbox_connection_get_default_socket_path()) == 0)
                        log_error("cannot reach nsboxd at %s: %s; is nsboxd.socket running?", path, strerror(-r));
                else
                        log_error("cannot reach nsboxd at %s: %s; is nsboxd running and listening there "
                                  "(nsboxd --socket %s)?",
                                  path, strerror(-r), path);
                break;
        case -EACCES:
        case -EPERM:
                log_error("cannot reach nsboxd at %s: %s; the socket's permissions do not let this user in",
                          path, strerror(-r));
                break;
        case -ENAMETOOLONG:
                log_error("socket path too long for a unix socket: %s", path);
                break;
        default:
                log_error("cannot reach nsboxd at %s: %s", path, strerror(-r));
        }
        return r;
}

/* An integer field of the last error's parameters; -1 if absent. */
static int cli_error_int(NsboxConnection *c, const char *field) {
        struct json_object *o = json_tokener_parse(nsbox_connection_get_error_json(c) ?: "{}"), *v;
        int i = -1;

        if (o && json_object_object_get_ex(o, field, &v) && json_object_is_type(v, json_type_int))
                i = json_object_get_int(v);
        json_object_put(o);
        return i;
}

int cli_call_failed(NsboxConnection *c, int r, const char *what) {
        const char *name = nsbox_connection_get_error_name(c);

        if (!name) {
                if (r == -ECONNRESET || r == -EPIPE)
                        log_error("%s: nsboxd closed the connection", what);
                else
                        log_error("%s: %s", what, strerror(-r));
                return r;
        }

        if (strcmp(name, NSBOX_ERROR_SPAWN_FAILED) == 0) {
                const char *stage = nsbox_connection_get_error_stage(c);
                const char *message = nsbox_connection_get_error_message(c);
                int e = nsbox_connection_get_error_errno(c);

                const char *text = e > 0 ? strerror(e) : "unknown error";

                /* The daemon's message usually ends with the errno's text already; say it once. */
                if (message && *message && strstr(message, text))
                        log_error("%s: stage \"%s\" failed: %s", what, stage ?: "unknown", message);
                else if (message && *message)
                        log_error("%s: stage \"%s\" failed: %s (%s)", what, stage ?: "unknown", text, message);
                else
                        log_error("%s: stage \"%s\" failed: %s", what, stage ?: "unknown", text);
        } else if (strcmp(name, NSBOX_ERROR_LIMIT_NOT_SUPPORTED) == 0) {
                const char *limit = nsbox_connection_get_error_field(c, "limit") ?: "a limit";
                const char *property = cli_property_of_field(limit);

                log_error("%s: %s%s cannot be enforced on this host: %s", what, property ?: limit,
                          property ? "=" : "", nsbox_connection_get_error_field(c, "reason") ?: "no reason given");
        } else if (strcmp(name, NSBOX_ERROR_INVALID_PARAMETER) == 0)
                log_error("%s: nsboxd rejected the request: invalid parameter \"%s\"", what,
                          nsbox_connection_get_error_parameter(c) ?: "?");
        else if (strcmp(name, NSBOX_ERROR_PERMISSION_DENIED) == 0)
                log_error("%s: nsboxd denied this request for this user (permission denied)", what);
        else if (strcmp(name, NSBOX_ERROR_NESTED_REQUEST_REFUSED) == 0) {
                const char *sandbox = nsbox_connection_get_error_field(c, "sandbox");

                if (sandbox)
                        log_error("%s: nested request refused (from inside sandbox %s): %s", what, sandbox,
                                  nsbox_connection_get_error_field(c, "reason") ?: "?");
                else
                        log_error("%s: nested request refused: %s", what,
                                  nsbox_connection_get_error_field(c, "reason") ?: "?");
        } else if (strcmp(name, NSBOX_ERROR_QUOTA_EXCEEDED) == 0)
                log_error("%s: quota exceeded: %s", what, nsbox_connection_get_error_limit(c) ?: "?");
        else if (strcmp(name, NSBOX_ERROR_POLICY_INVALID) == 0) {
                const char *file = nsbox_connection_get_error_field(c, "file") ?: "?";
                const char *reason = nsbox_connection_get_error_field(c, "reason");
                int line = cli_error_int(c, "line");

                if (reason && line > 0)
                        log_error("%s: nsboxd's policy does not load: %s:%d: %s", what, file, line, reason);
                else if (reason)
                        log_error("%s: nsboxd's policy does not load: %s: %s", what, file, reason);
                else
                        log_error("%s: nsboxd's policy (%s) does not load; until it is fixed and reloaded, "
                                  "nsboxd serves only root", what, file);
        } else if (strcmp(name, NSBOX_ERROR_NO_SUCH_SANDBOX) == 0)
                log_error("%s: no such sandbox: %s (see 'nsbox list')", what,
                          nsbox_connection_get_error_field(c, "id") ?: "?");
        else
                log_error("%s: nsboxd answered %s %s", what, name, nsbox_connection_get_error_json(c) ?: "");
        return r;
}

const char *cli_property_of_field(const char *field) {
        static const struct {
                const char *field, *property;
        } map[] = {
                { "resources.memory.limit", "MemoryMax" }, { "resources.memory.high", "MemoryHigh" },
                { "resources.memory.swap", "MemorySwapMax" }, { "resources.pids.limit", "TasksMax" },
                { "resources.cpu.quota", "CPUQuota" },    { "resources.cpu.period", "CPUQuotaPeriodSec" },
                { "resources.cpu.weight", "CPUWeight" },  { "resources.cpu.shares", "CPUShares" },
                { "runtimeMaxUSec", "RuntimeMaxSec" },
        };

        if (!field)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(field, map[i].field) == 0)
                        return map[i].property;
        return NULL;
}

int cli_exit_status(NsboxState state, int exit_code, int signal) {
        switch (state) {
        case NSBOX_STATE_EXITED:
        case NSBOX_STATE_KILLED:
        case NSBOX_STATE_OOM_KILLED:
        case NSBOX_STATE_TIMED_OUT:
                /* As a shell reports them: 128 + the signal for a killed command. */
                return signal > 0 ? 128 + signal : exit_code & 0xff;
        default:
                return -1;
        }
}

int cli_parse_signal(const char *s) {
        char *end;
        long v;

        if (!s || !*s)
                return -EINVAL;

        if (isdigit((unsigned char) s[0])) {
                errno = 0;
                v = strtol(s, &end, 10);
                if (errno != 0 || *end || v <= 0 || v >= _NSIG)
                        return -EINVAL;
                return (int) v;
        }

        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < _NSIG; sig++) {
                const char *abbrev = sigabbrev_np(sig);

                if (abbrev && strcasecmp(abbrev, s) == 0)
                        return sig;
        }
        return -EINVAL;
}

const char *cli_signal_name(int sig) {
        static char buf[32];
        const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;

        if (abbrev)
                snprintf(buf, sizeof(buf), "SIG%s", abbrev);
        else
                snprintf(buf, sizeof(buf), "%d", sig);
        return buf;
}

void cli_print_json_object(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

int cli_print_json(const char *text) {
        struct json_object *o;

        o = json_tokener_parse(text);
        if (!o)
                return -EBADMSG;
        cli_print_json_object(o);
        json_object_put(o);
        return 0;
}

/* A child of ours joins the namespace to ask the kernel: we stay where we are. */
int cli_ids_in_user_namespace(int fd, uint32_t *ret_uid, uint32_t *ret_gid) {
        uint32_t ids[2];
        int p[2], status;
        ssize_t n;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) close(p[0]);
                (void) close(p[1]);
                return r;
        }
        if (pid == 0) {
                if (setns(fd, CLONE_NEWUSER) < 0)
                        _exit(EXIT_FAILURE);
                ids[0] = (uint32_t) getuid();
                ids[1] = (uint32_t) getgid();
                _exit(write(p[1], ids, sizeof ids) == (ssize_t) sizeof ids ? EXIT_SUCCESS : EXIT_FAILURE);
        }
        (void) close(p[1]);
        do
                n = read(p[0], ids, sizeof ids);
        while (n < 0 && errno == EINTR);
        (void) close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t) sizeof ids)
                return -EPERM;
        *ret_uid = ids[0];
        *ret_gid = ids[1];
        return 0;
}
