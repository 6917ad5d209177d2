/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nsbox run`: spawns the sandbox its options describe, then stands in for
 * the sandboxed command: forwards signals, relays a pty if asked, and exits
 * with the command's exit code (128+signal if killed).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli-process.h"
#include "cli-pty.h"
#include "cli-run-options.h"
#include "cli-util.h"
#include "fd-util.h"

extern char **environ;

static int set_stdio(NsboxSpawn *s, int in, int out, int err) {
        int (*setters[3])(NsboxSpawn *, int) = { nsbox_spawn_set_stdin, nsbox_spawn_set_stdout, nsbox_spawn_set_stderr };
        int fds[3] = { in, out, err };

        for (size_t i = 0; i < 3; i++) {
                int r;

                if (fcntl(fds[i], F_GETFD) < 0)
                        continue; /* closed: the command gets /dev/null */
                r = setters[i](s, fds[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Says why the daemon refused or failed the spawn, in terms of the options that asked for it. */
static void report_spawn_failure(NsboxConnection *c, int r, const RunOptions *o, const char *command) {
        _cleanup_free_ char *what = NULL;
        const char *name = nsbox_connection_get_error_name(c), *stage = nsbox_connection_get_error_stage(c);

        if (name && streq(name, NSBOX_ERROR_INVALID_PARAMETER) && nsbox_connection_get_error_parameter(c))
                return run_options_explain_invalid_parameter(o, command, nsbox_connection_get_error_parameter(c));

        if (asprintf(&what, "cannot run %s", command) < 0)
                what = NULL;
        cli_call_failed(c, r, what ?: "cannot run the command");

        /* Without --root the tree is an empty tmpfs: a missing program most likely was never bound. */
        if (stage && streq(stage, "execve") && nsbox_connection_get_error_errno(c) == ENOENT && o->filesystem &&
            !o->root)
                log_error("the sandbox's / is an empty tmpfs without --root: %s; bind what the command needs, "
                          "e.g. --ro-bind / / or --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib "
                          "--symlink usr/lib64 /lib64",
                          o->binds ? "only what the file system options put there exists" : "nothing was bound");
}

/* The exit code for a failed Spawn: execve's failures get the shell's codes, anything else is ours. */
static int exit_code_of_spawn_failure(NsboxConnection *c) {
        const char *stage = nsbox_connection_get_error_stage(c); /* NULL unless the error is SpawnFailed */

        if (stage && strcmp(stage, "execve") == 0)
                return nsbox_connection_get_error_errno(c) == ENOENT ? EXIT_COMMAND_NOT_FOUND : EXIT_CANNOT_EXECUTE;
        return EXIT_NSBOX_FAILED;
}

int cli_start(NsboxConnection *c, NsboxSpawn *s, const char *exec_target, int sigfd, NsboxSandbox **ret) {
        int r;

        r = exec_target ? nsbox_exec_send(c, exec_target, s) : nsbox_spawn_send(c, s);
        if (r < 0)
                return r;

        while ((r = nsbox_connection_process(c)) == -EAGAIN) {
                struct pollfd pfds[2] = {
                        { .fd = nsbox_connection_get_fd(c), .events = nsbox_connection_get_events(c) },
                        { .fd = sigfd, .events = POLLIN },
                };
                struct signalfd_siginfo si;

                if (poll(pfds, 2, -1) < 0 && errno != EINTR)
                        return negative_errno();
                while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                        if (si.ssi_signo != SIGWINCH)
                                return (int) si.ssi_signo;
        }
        if (r < 0)
                return r;

        return exec_target ? nsbox_exec_finish(c, ret) : nsbox_spawn_finish(c, ret);
}

/* Forwards sig to the sandbox: directly through its pidfd; through the daemon if we may not signal it ourselves. */
static void forward_signal(NsboxSandbox *sb, int sig) {
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        int r;

        if (syscall(SYS_pidfd_send_signal, nsbox_sandbox_get_pidfd(sb), sig, NULL, 0) >= 0 || errno == ESRCH)
                return;

        /* The command may run under ids we cannot signal (e.g. --uid as root); the daemon can. */
        if (cli_connect(&c) < 0)
                return;
        r = nsbox_kill(c, nsbox_sandbox_get_id(sb), sig);
        if (r < 0 && r != -ESRCH)
                cli_call_failed(c, r, "forwarding the signal");
}


static void format_bytes(uint64_t v, char *buf, size_t size) {
        static const char suffixes[] = "KMGTPE";
        size_t i = 0;

        if (v == 0 || v % 1024 != 0) {
                snprintf(buf, size, "%" PRIu64, v);
                return;
        }
        while (v % 1024 == 0 && v >= 1024 && i < sizeof suffixes - 1) {
                v /= 1024;
                i++;
        }
        snprintf(buf, size, "%" PRIu64 "%c", v, suffixes[i - 1]);
}

/* One line on stderr when the command did not end on its own: the daemon's limits ended it. */
static void report_end(NsboxSandboxInfo *info, const RunLimits *limits) {
        static const RunLimits none = {};

        limits = limits ?: &none;
        char value[32];

        switch (nsbox_sandbox_info_get_state(info)) {
        case NSBOX_STATE_OOM_KILLED:
                if (limits->memory_max > 0) {
                        format_bytes(limits->memory_max, value, sizeof value);
                        log_error("killed by the OOM killer: MemoryMax=%s", value);
                } else
                        log_error("killed by the OOM killer: the sandbox's memory limit");
                break;
        case NSBOX_STATE_TIMED_OUT:
                if (limits->runtime_max_usec > 0 && limits->runtime_max_usec % 1000000 == 0)
                        log_error("killed at its runtime limit: RuntimeMaxSec=%" PRIu64 "s",
                                  limits->runtime_max_usec / 1000000);
                else if (limits->runtime_max_usec > 0)
                        log_error("killed at its runtime limit: RuntimeMaxSec=%" PRIu64 "ms",
                                  limits->runtime_max_usec / 1000);
                else
                        log_error("killed at its runtime limit");
                break;
        default:
                break;
        }
}

/* Writes all of data to fd, waiting while it is full (it may be non-blocking). */
static int write_all(int fd, const char *data, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, data, size);

                if (n < 0 && errno == EAGAIN) {
                        struct pollfd p = { .fd = fd, .events = POLLOUT };

                        (void) poll(&p, 1, -1);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                data += n;
                size -= (size_t) n;
        }
        return 0;
}

/* Captured output goes to our stdout or stderr. Once one of them cannot take it (its reader left), what
 * comes for it is dropped: the command's end is still waited for and reported. */
static int write_output(int stream, const void *data, size_t size, void *userdata) {
        bool *broken = userdata;

        if (!broken[stream] && write_all(stream, data, size) < 0)
                broken[stream] = true;
        return 0;
}

static int wait_loop(NsboxConnection *c, NsboxSandbox *sb, int sigfd, PtyRelay *pty, const RunLimits *limits,
                     bool capture) {
        _cleanup_(nsbox_sandbox_info_freep) NsboxSandboxInfo *info = NULL;
        bool broken[3] = {};
        int r;

        r = capture ? nsbox_wait_output_send(c, nsbox_sandbox_get_id(sb)) : nsbox_wait_send(c, nsbox_sandbox_get_id(sb));
        if (r < 0) {
                cli_call_failed(c, r, "waiting for the sandbox");
                return EXIT_NSBOX_FAILED;
        }

        for (;;) {
                struct pollfd pfds[2 + PTY_RELAY_N_POLLFDS];
                size_t n = 2;

                r = nsbox_connection_process(c);
                if (r == 0 && capture) {
                        /* One reply: output handed on, 1 while more follow. */
                        r = nsbox_wait_output_finish(c, write_output, broken, &info);
                        if (r == 0)
                                break;
                        if (r > 0)
                                continue;
                }
                if (r == 0)
                        break;
                if (r != -EAGAIN) {
                        cli_call_failed(c, r, "waiting for the sandbox");
                        return EXIT_NSBOX_FAILED;
                }

                pfds[0] = (struct pollfd) { .fd = nsbox_connection_get_fd(c), .events = nsbox_connection_get_events(c) };
                pfds[1] = (struct pollfd) { .fd = sigfd, .events = POLLIN };
                if (pty) {
                        pty_relay_prepare(pty, pfds + 2);
                        n += PTY_RELAY_N_POLLFDS;
                }

                if (poll(pfds, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("poll: %m");
                        return EXIT_NSBOX_FAILED;
                }

                if (pfds[1].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        while (read(sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH) {
                                        if (pty)
                                                pty_relay_resize(pty);
                                } else
                                        forward_signal(sb, (int) si.ssi_signo);
                        }
                }

                if (pty)
                        pty_relay_dispatch(pty, pfds + 2);
        }

        if (!capture)
                r = nsbox_wait_finish_info(c, &info);
        if (pty)
                pty_relay_drain(pty);
        if (r < 0) {
                cli_call_failed(c, r, "waiting for the sandbox");
                return EXIT_NSBOX_FAILED;
        }
        if (nsbox_sandbox_info_get_output_truncated(info))
                log_error("some of the command's output was dropped: it wrote more than --capture-output's limit");
        report_end(info, limits);
        r = cli_exit_status(nsbox_sandbox_info_get_state(info), nsbox_sandbox_info_get_exit_code(info),
                            nsbox_sandbox_info_get_signal(info));
        return r >= 0 ? r : EXIT_NSBOX_FAILED;
}

int cli_wait(NsboxConnection *c, NsboxSandbox *sb, int sigfd, PtyRelay *pty, const RunLimits *limits) {
        return wait_loop(c, sb, sigfd, pty, limits, /* capture= */ false);
}

int cli_signals_to_forward(void) {
        sigset_t mask;
        int fd;

        /* Blocked before the call, so a signal arriving meanwhile is forwarded, not lost. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) {
                log_error("signalfd: %m");
                return negative_errno();
        }
        return fd;
}

int verb_run(int argc, char *argv[]) {
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_(nsbox_sandbox_freep) NsboxSandbox *sb = NULL;
        _cleanup_close_ int sigfd = -EBADF, pty_master = -EBADF, pty_slave = -EBADF;
        _cleanup_(nsbox_spawn_freep) NsboxSpawn *s = NULL;
        PtyRelay pty = { .master = -EBADF };
        _cleanup_(run_options_done) RunOptions o = { .seccomp_fd = -1, .userns_fd = -1 };
        RunLimits limits = {};
        int r, ret;

        r = nsbox_spawn_new(&s);
        if (r < 0) {
                log_error("out of memory");
                return EXIT_NSBOX_FAILED;
        }

        /* Like bubblewrap, the environment starts as ours; --setenv etc. edit it in order. */
        r = nsbox_spawn_set_environment(s, environ);
        if (r < 0) {
                log_error("cannot pass the environment: %s", strerror(-r));
                return EXIT_NSBOX_FAILED;
        }

        r = run_options_parse(argc, argv, s, &o);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;

        r = run_options_apply(s, &o, argv + optind);
        if (r < 0)
                return r == -ENOMEM ? EXIT_NSBOX_FAILED : EXIT_USAGE;

        if (o.pty) {
                r = pty_open(&pty_master, &pty_slave);
                if (r < 0) {
                        log_error("cannot allocate a pseudo-terminal: %s", strerror(-r));
                        return EXIT_NSBOX_FAILED;
                }
                r = set_stdio(s, pty_slave, pty_slave, pty_slave);
                if (r >= 0)
                        r = nsbox_spawn_set_new_session(s, true);
        } else if (!o.detach)
                /* What nsboxd stands in for is not passed: -1 is no fd. */
                r = set_stdio(s, o.stdin_data ? -1 : STDIN_FILENO, o.capture_output ? -1 : STDOUT_FILENO,
                              o.capture_output ? -1 : STDERR_FILENO);
        if (r < 0) {
                log_error("cannot pass the standard streams: %s", strerror(-r));
                return EXIT_NSBOX_FAILED;
        }

        if (!o.detach) {
                sigfd = cli_signals_to_forward();
                if (sigfd < 0)
                        return EXIT_NSBOX_FAILED;
        }
        /* Our stdout may be a pipe whose reader leaves; that must not kill us before we report. */
        signal(SIGPIPE, SIG_IGN);

        r = cli_connect(&c);
        if (r < 0)
                return EXIT_NSBOX_FAILED;
        r = run_options_resolve_joins(c, s, &o);
        if (r < 0)
                return EXIT_NSBOX_FAILED;

        r = cli_start(c, s, NULL, sigfd, &sb);
        if (r > 0) {
                /* Interrupted before the sandbox existed: closing the connection stops it. */
                log_error("interrupted by %s while the sandbox was being created", cli_signal_name(r));
                return 128 + r;
        }
        /* Drop our copies of the stdio fds (and the pty slave) at once: holding them would keep
         * pipes and the pty open after the command is gone. */
        limits = (RunLimits) {
                .memory_max = nsbox_spawn_get_resource(s, NSBOX_RESOURCE_MEMORY_LIMIT),
                .runtime_max_usec = nsbox_spawn_get_runtime_max(s),
        };
        s = nsbox_spawn_free(s);
        pty_slave = safe_close(pty_slave);
        if (r < 0) {
                report_spawn_failure(c, r, &o, argv[optind]);
                return exit_code_of_spawn_failure(c);
        }

        if (o.detach) {
                printf("%s\n", nsbox_sandbox_get_id(sb));
                if (fflush(stdout) != 0)
                        return EXIT_NSBOX_FAILED;
                return EXIT_SUCCESS;
        }

        if (o.pty)
                pty_relay_init(&pty, TAKE_FD(pty_master));

        ret = wait_loop(c, sb, sigfd, o.pty ? &pty : NULL, &limits, o.capture_output);

        if (o.pty)
                pty_relay_done(&pty);
        return ret;
}
