/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nsbox exec` and `nsbox shell`: another command in a running sandbox, as
 * `docker exec` and `machinectl shell` run one. The daemon puts it into
 * every namespace, the cgroup and the confinement of the sandbox, as its
 * user; nsbox stands in for it as `nsbox run` does for a sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-process.h"
#include "cli-util.h"
#include "fd-util.h"

extern char **environ;

static void exec_help(void) {
        printf("Usage: nsbox exec [OPTIONS] ID|NAME [--] COMMAND [ARG...]\n"
               "\n"
               "Runs COMMAND in the running sandbox ID (or your sandbox called NAME), as\n"
               "'docker exec' does: in all of its namespaces, its cgroup, as its user, with its\n"
               "working directory, capabilities and seccomp profile. nsbox waits for it and exits\n"
               "with its exit code (128+N if signal N killed it), forwarding SIGINT, SIGTERM,\n"
               "SIGHUP and SIGQUIT; errors of nsbox itself exit with 125. The command is killed\n"
               "when the sandbox ends, or when nsbox exits.\n"
               "\n"
               "Options:\n"
               "  -t, --pty                 give the command a new pseudo-terminal and relay it\n"
               "  -e, --env VAR=VALUE       set an environment variable (repeatable; the\n"
               "                            environment starts as nsbox's own)\n"
               "      --unsetenv VAR        remove an environment variable\n"
               "      --clearenv            start from an empty environment\n"
               "  -w, --cwd DIR             working directory inside (default: the sandbox's)\n"
               "  -u, --user UID[:GID]      run as UID (and GID) inside, ids the sandbox maps\n"
               "                            (default: the sandbox's user)\n"
               "  -d, --detach              print the process's id and return at once (implies\n"
               "                            --keep-alive)\n"
               "      --keep-alive          keep the command running when nsbox exits\n"
               "      --socket PATH         nsboxd's socket\n"
               "  -h, --help                show this help\n");
}

static void shell_help(void) {
        printf("Usage: nsbox shell [OPTIONS] ID|NAME [SHELL]\n"
               "\n"
               "An interactive login shell in the running sandbox ID (or your sandbox called\n"
               "NAME), on a new pseudo-terminal, as 'machinectl shell' gives one: SHELL -l\n"
               "(default /bin/sh) with PATH, HOME=/ and this terminal's TERM. Exits with the\n"
               "shell's exit code.\n"
               "\n"
               "Options:\n"
               "  -e, --env VAR=VALUE       set an environment variable (repeatable)\n"
               "  -w, --cwd DIR             working directory inside (default: the sandbox's)\n"
               "  -u, --user UID[:GID]      run as UID (and GID) inside\n"
               "      --socket PATH         nsboxd's socket\n"
               "  -h, --help                show this help\n");
}

enum {
        ARG_SOCKET = 0x100,
        ARG_KEEP_ALIVE,
        ARG_UNSETENV,
        ARG_CLEARENV,
};

typedef struct ExecOptions {
        bool pty;
        bool detach;
        bool keep_alive;
} ExecOptions;

static int parse_id(const char *s, uint32_t *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || v >= UINT32_MAX || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* UID or UID:GID (the gid defaults to the uid, as docker exec --user takes it). */
static int set_user(NsboxSpawn *s, const char *arg) {
        _cleanup_free_ char *copy = strdup(arg);
        uint32_t uid, gid;
        char *colon;

        if (!copy)
                return -ENOMEM;
        colon = strchr(copy, ':');
        if (colon)
                *colon = 0;
        if (parse_id(copy, &uid) < 0 || (colon && parse_id(colon + 1, &gid) < 0)) {
                log_error("--user %s: expected UID or UID:GID, numbers as the sandbox sees them", arg);
                return -EINVAL;
        }
        return nsbox_spawn_set_user(s, uid, colon ? gid : uid, NULL, 0);
}

static int set_env_assignment(NsboxSpawn *s, const char *arg) {
        _cleanup_free_ char *name = NULL;
        const char *eq = strchr(arg, '=');
        int r;

        if (!eq || eq == arg) {
                log_error("-e %s: expected VAR=VALUE", arg);
                return -EINVAL;
        }
        name = strndup(arg, (size_t) (eq - arg));
        if (!name)
                return -ENOMEM;
        r = nsbox_spawn_set_env(s, name, eq + 1);
        if (r < 0)
                log_error("-e %s: %s", arg, strerror(-r));
        return r;
}

/* Parses the options both verbs take into s and o; returns 1 to go on, 0 after --help, negative on error. */
static int parse_options(int argc, char *argv[], bool shell, NsboxSpawn *s, ExecOptions *o) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "pty", no_argument, NULL, 't' },
                { "env", required_argument, NULL, 'e' },
                { "unsetenv", required_argument, NULL, ARG_UNSETENV },
                { "clearenv", no_argument, NULL, ARG_CLEARENV },
                { "cwd", required_argument, NULL, 'w' },
                { "user", required_argument, NULL, 'u' },
                { "detach", no_argument, NULL, 'd' },
                { "keep-alive", no_argument, NULL, ARG_KEEP_ALIVE },
                { "socket", required_argument, NULL, ARG_SOCKET },
                {}
        };
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, shell ? "+he:w:u:" : "+hte:w:u:d", options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 'h':
                        shell ? shell_help() : exec_help();
                        return 0;
                case 't':
                        o->pty = true;
                        break;
                case 'e':
                        r = set_env_assignment(s, optarg);
                        break;
                case ARG_UNSETENV:
                        r = nsbox_spawn_unset_env(s, optarg);
                        if (r < 0)
                                log_error("--unsetenv %s: %s", optarg, strerror(-r));
                        break;
                case ARG_CLEARENV:
                        r = nsbox_spawn_clear_env(s);
                        break;
                case 'w':
                        r = nsbox_spawn_set_cwd(s, optarg);
                        if (r < 0)
                                log_error("--cwd %s: expected an absolute path", optarg);
                        break;
                case 'u':
                        r = set_user(s, optarg);
                        break;
                case 'd':
                        o->detach = o->keep_alive = true;
                        break;
                case ARG_KEEP_ALIVE:
                        o->keep_alive = true;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                default:
                        log_error("unknown option or missing argument: %s; see nsbox %s --help", argv[optind - 1],
                                  shell ? "shell" : "exec");
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        /* unshare's and nsenter's order: options, then the target, then the command. */
        if (optind >= argc) {
                log_error("missing sandbox ID or NAME; see nsbox %s --help", shell ? "shell" : "exec");
                return -EINVAL;
        }
        return 1;
}

/* Runs what s describes in target; returns nsbox's exit code. */
static int exec_process(NsboxSpawn **s, const char *target, const char *command, const ExecOptions *o) {
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_(nsbox_sandbox_freep) NsboxSandbox *sb = NULL;
        _cleanup_close_ int sigfd = -EBADF, pty_master = -EBADF, pty_slave = -EBADF;
        PtyRelay pty = { .master = -EBADF };
        int r, ret;

        if (o->pty) {
                r = pty_open(&pty_master, &pty_slave);
                if (r < 0) {
                        log_error("cannot allocate a pseudo-terminal: %s", strerror(-r));
                        return EXIT_NSBOX_FAILED;
                }
        }
        for (int i = 0; i < 3; i++) {
                int (*setters[3])(NsboxSpawn *, int) = { nsbox_spawn_set_stdin, nsbox_spawn_set_stdout,
                                                         nsbox_spawn_set_stderr };
                int fd = o->pty ? pty_slave : i;

                if (o->detach || fcntl(fd, F_GETFD) < 0)
                        continue; /* the command gets /dev/null */
                r = setters[i](*s, fd);
                if (r < 0) {
                        log_error("cannot pass the standard streams: %s", strerror(-r));
                        return EXIT_NSBOX_FAILED;
                }
        }
        r = nsbox_spawn_set_keep_alive(*s, o->keep_alive);
        if (r < 0)
                return EXIT_NSBOX_FAILED;

        if (!o->detach) {
                sigfd = cli_signals_to_forward();
                if (sigfd < 0)
                        return EXIT_NSBOX_FAILED;
        }
        signal(SIGPIPE, SIG_IGN);

        if (cli_connect(&c) < 0)
                return EXIT_NSBOX_FAILED;
        r = cli_start(c, *s, target, sigfd, &sb);
        if (r > 0) {
                log_error("interrupted by %s while the command was being started", cli_signal_name(r));
                return 128 + r;
        }
        /* Our copies of its streams would keep pipes and the pty open after it is gone. */
        *s = nsbox_spawn_free(*s);
        pty_slave = safe_close(pty_slave);
        if (r < 0) {
                const char *stage = nsbox_connection_get_error_stage(c);
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "cannot run %s in %s", command, target) < 0)
                        what = NULL;
                cli_call_failed(c, r, what ?: "cannot run the command");
                if (stage && strcmp(stage, "execve") == 0)
                        return nsbox_connection_get_error_errno(c) == ENOENT ? EXIT_COMMAND_NOT_FOUND :
                                                                                EXIT_CANNOT_EXECUTE;
                return EXIT_NSBOX_FAILED;
        }

        if (o->detach) {
                printf("%s\n", nsbox_sandbox_get_id(sb));
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_NSBOX_FAILED;
        }

        if (o->pty)
                pty_relay_init(&pty, TAKE_FD(pty_master));
        ret = cli_wait(c, sb, sigfd, o->pty ? &pty : NULL, NULL);
        if (o->pty)
                pty_relay_done(&pty);
        return ret;
}

int verb_exec(int argc, char *argv[]) {
        _cleanup_(nsbox_spawn_freep) NsboxSpawn *s = NULL;
        ExecOptions o = {};
        const char *target;
        int r;

        if (nsbox_spawn_new(&s) < 0 || nsbox_spawn_set_environment(s, environ) < 0) {
                log_error("out of memory");
                return EXIT_NSBOX_FAILED;
        }
        r = parse_options(argc, argv, false, s, &o);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;

        target = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        if (optind >= argc) {
                log_error("missing the command to run in %s; usage: nsbox exec [OPTIONS] ID|NAME -- COMMAND", target);
                return EXIT_USAGE;
        }
        r = nsbox_spawn_set_argv(s, (const char *const *) argv + optind);
        if (r < 0) {
                log_error("cannot use the command: %s", strerror(-r));
                return EXIT_USAGE;
        }
        return exec_process(&s, target, argv[optind], &o);
}

int verb_shell(int argc, char *argv[]) {
        _cleanup_(nsbox_spawn_freep) NsboxSpawn *s = NULL;
        ExecOptions o = { .pty = true };
        const char *target, *shell = "/bin/sh", *term = getenv("TERM");
        int r;

        /* A login's environment, not ours: the sandbox's tree need not have our PATH or HOME. */
        if (nsbox_spawn_new(&s) < 0 || nsbox_spawn_clear_env(s) < 0 ||
            nsbox_spawn_set_env(s, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
            nsbox_spawn_set_env(s, "HOME", "/") < 0 || (term && *term && nsbox_spawn_set_env(s, "TERM", term) < 0)) {
                log_error("out of memory");
                return EXIT_NSBOX_FAILED;
        }
        r = parse_options(argc, argv, true, s, &o);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;

        target = argv[optind++];
        if (optind < argc)
                shell = argv[optind++];
        if (optind < argc) {
                log_error("too many arguments; usage: nsbox shell [OPTIONS] ID|NAME [SHELL]");
                return EXIT_USAGE;
        }
        r = nsbox_spawn_set_argv(s, (const char *const[]) { shell, "-l", NULL });
        if (r < 0) {
                log_error("cannot use the shell %s: %s", shell, strerror(-r));
                return EXIT_USAGE;
        }
        return exec_process(&s, target, shell, &o);
}
