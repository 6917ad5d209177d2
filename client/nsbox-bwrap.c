/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox-bwrap: bubblewrap's command line, with the sandbox made by nsboxd
 * instead of by this process. So it works where the caller itself may not
 * make namespaces (no setuid binary, unprivileged user namespaces off), and
 * the daemon's policy decides what the caller gets. It stands in for the
 * sandbox as bubblewrap does: forwards signals, exits with the command's
 * status (128+N if signal N killed it), 1 for its own failures.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli-process.h"
#include "cli-util.h"
#include "fd-util.h"
#include "nsbox-bwrap-options.h"
#include "nsbox-bwrap-status.h"

extern char **environ;

/* "mounts[3].destination" -> 3; -1 if there is no index. */
static long field_index(const char *field) {
        const char *p = strchr(field, '[');

        return p ? strtol(p + 1, NULL, 10) : -1;
}

/* Says why the daemon refused or failed the spawn, bubblewrap-style where bubblewrap has words for it. */
static void report_spawn_failure(NsboxConnection *c, int r, const BwrapOptions *o) {
        const char *name = nsbox_connection_get_error_name(c), *stage = nsbox_connection_get_error_stage(c);
        const char *parameter = nsbox_connection_get_error_parameter(c);
        int error = nsbox_connection_get_error_errno(c);

        if (stage && streq(stage, "execve")) {
                log_error("execvp %s: %s", o->command[0], strerror(error ?: EIO));
                return;
        }
        /* bubblewrap's words when its setns() into --userns2 fails. */
        if (name && streq(name, NSBOX_ERROR_INVALID_PARAMETER) && parameter &&
            streq(parameter, "commandUserNamespaceFileDescriptor")) {
                log_error("Setting userns2 failed: refused by nsboxd (not a user namespace below the sandbox's)");
                return;
        }
        if (stage && streq(stage, "setns") && nsbox_connection_get_error_message(c) &&
            strstr(nsbox_connection_get_error_message(c), "commandUserNamespaceFileDescriptor")) {
                log_error("Setting userns2 failed: %s", strerror(error ?: EIO));
                return;
        }
        if (name && streq(name, NSBOX_ERROR_INVALID_PARAMETER) && parameter) {
                const char *origin = strncmp(parameter, "mounts[", 7) == 0 ?
                                             bwrap_options_mount_origin(o, field_index(parameter)) :
                                             NULL;

                if (origin)
                        log_error("%s: refused by nsboxd (%s)", origin, parameter);
                else
                        log_error("nsboxd refused the request: invalid %s", parameter);
                return;
        }
        if (name && streq(name, NSBOX_ERROR_NESTED_REQUEST_REFUSED)) {
                const char *reason = nsbox_connection_get_error_field(c, "reason");

                log_error("nsboxd does not make sandboxes from inside this one%s%s", reason ? ": " : "",
                          reason ?: "");
                return;
        }
        if (name && streq(name, NSBOX_ERROR_PERMISSION_DENIED)) {
                log_error("nsboxd's policy does not allow this sandbox for this user");
                return;
        }
        if (stage) {
                const char *message = nsbox_connection_get_error_message(c);

                const char *existing = message ? strstr(message, ": cannot make symlink (existing destination is ") : NULL;

                /* bubblewrap's words for a --symlink over another link; nsboxd's message names the path and the
                 * error already. */
                if (message && streq(stage, "lock-file"))
                        /* nsboxd's message is "PATH: error", as bubblewrap's after its words */
                        log_error("Unable to lock file %s", message);
                else if (existing) {
                        const char *target = strchr(existing, '(') + strlen("(existing destination is ");
                        const char *end = strrchr(target, ')');

                        log_error("Can't make symlink at %.*s: existing destination is %.*s", (int) (existing - message),
                                  message, (int) (end ? end - target : (long) strlen(target)), target);
                } else if (message)
                        log_error("%s", message);
                else
                        log_error("%s: %s", stage, strerror(error ?: EIO));
                return;
        }
        cli_call_failed(c, r, "cannot create the sandbox");
}

/* Spawns; when the policy refuses to run without nsboxd's default system call filter, asks again with it
 * (bubblewrap itself has none). */
static int start(NsboxConnection *c, NsboxSpawn *s, int sigfd, NsboxSandbox **ret) {
        int r = cli_start(c, s, NULL, sigfd, ret);
        const char *name = nsbox_connection_get_error_name(c);

        if (r == -EPERM && name && streq(name, NSBOX_ERROR_PERMISSION_DENIED)) {
                r = nsbox_spawn_set_seccomp(s, "default");
                if (r < 0)
                        return r;
                r = cli_start(c, s, NULL, sigfd, ret);
        }
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_(nsbox_sandbox_freep) NsboxSandbox *sb = NULL;
        _cleanup_(nsbox_spawn_freep) NsboxSpawn *s = NULL;
        _cleanup_(bwrap_options_done) BwrapOptions o = {};
        _cleanup_close_ int sigfd = -EBADF;
        BwrapNamespaceIds ids = {};
        unsigned namespaces;
        int r, ret;

        cli_program_name = "bwrap";

        r = nsbox_spawn_new(&s);
        if (r >= 0)
                /* As bubblewrap: the environment starts as ours; --setenv and the like edit it in order. */
                r = nsbox_spawn_set_environment(s, environ);
        if (r < 0) {
                log_error("out of memory");
                return BWRAP_EXIT_FAILURE;
        }

        r = bwrap_options_parse(argc, argv, s, &o);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : BWRAP_EXIT_FAILURE;

        if (o.die_with_parent) {
                /* The sandbox ends with our connection; we end with our parent. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                        return BWRAP_EXIT_FAILURE;
        }

        r = bwrap_options_apply(s, &o);
        if (r < 0)
                return BWRAP_EXIT_FAILURE;
        namespaces = nsbox_spawn_get_namespaces(s);

        sigfd = cli_signals_to_forward();
        if (sigfd < 0)
                return BWRAP_EXIT_FAILURE;
        /* Our stdout may be a pipe whose reader leaves; that must not kill us before we report. */
        signal(SIGPIPE, SIG_IGN);

        r = cli_connect(&c);
        if (r < 0)
                return BWRAP_EXIT_FAILURE;

        r = start(c, s, sigfd, &sb);
        if (r > 0) {
                /* Interrupted before the sandbox existed: closing the connection stops it. */
                log_error("interrupted by %s while the sandbox was being created", cli_signal_name(r));
                return 128 + r;
        }
        /* Drop our copies of the fds the sandbox got: holding them would keep pipes open after it ended. */
        s = nsbox_spawn_free(s);
        if (r < 0) {
                report_spawn_failure(c, r, &o);
                return BWRAP_EXIT_FAILURE;
        }

        for (size_t i = 0; i < o.n_consumed_fds; i++)
                if (o.consumed_fds[i] != o.sync_fd && o.consumed_fds[i] != o.info_fd &&
                    o.consumed_fds[i] != o.json_status_fd && o.consumed_fds[i] > 2)
                        (void) close(o.consumed_fds[i]);

        if (o.info_fd >= 0 || o.json_status_fd >= 0)
                bwrap_status_namespaces(sb, namespaces, &ids);
        if (o.info_fd >= 0) {
                r = bwrap_status_write_info(o.info_fd, nsbox_sandbox_get_pid(sb), &ids, false);
                if (r < 0)
                        log_error("Write to info_fd: %s", strerror(-r));
                (void) close(o.info_fd);
        }
        if (o.json_status_fd >= 0) {
                r = bwrap_status_write_info(o.json_status_fd, nsbox_sandbox_get_pid(sb), &ids, true);
                if (r < 0)
                        log_error("Write to json_status_fd: %s", strerror(-r));
        }

        ret = cli_wait(c, sb, sigfd, NULL, NULL);

        if (o.json_status_fd >= 0) {
                r = bwrap_status_write_exit(o.json_status_fd, ret);
                if (r < 0)
                        log_error("Write to json_status_fd: %s", strerror(-r));
        }
        /* --sync-fd stays open until here: it closes when the sandbox has ended. */
        return ret;
}
