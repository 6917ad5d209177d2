/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsboxd: the sandbox daemon. Takes its listening socket from systemd
 * (socket activation) or binds its own, then serves io.nsbox.Sandbox on one
 * libuv loop until SIGTERM/SIGINT. What a previous daemon handed over (the
 * fd store's fds, or the state of an in-place re-exec) is adopted before the
 * first call is taken.
 */

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config.h"
#include "fd-util.h"
#include "handover.h"
#include "keeper.h"
#include "log.h"
#include "policy.h"
#include "restart.h"
#include "sandbox-init.h"
#include "server.h"
#include "short-slice.h"
#include "spawn-worker.h"
#include "spawn.h"

typedef struct Options {
        const char *socket_path; /* NULL: socket activation, else the default path */
        ServerConfig config;
        char **limits;
        size_t n_limits;
        int deserialize_fd; /* --deserialize: the state of the daemon this one re-executed, -1 if none */
} Options;

static void help(void) {
        printf("Usage: nsboxd [OPTIONS]\n\n"
               "The nsbox sandbox daemon: creates namespaced processes for local clients\n"
               "over the io.nsbox.Sandbox Varlink interface.\n\n"
               "  -s, --socket PATH       listen on PATH (default with no socket activation:\n"
               "                          %s)\n"
               "  -p, --policy PATH       policy file (default %s)\n"
               "      --subuid PATH       subordinate uid ranges (default %s)\n"
               "      --subgid PATH       subordinate gid ranges (default %s)\n"
               "  -l, --limit NAME=VALUE  override a limit (see nsboxd(8)); repeatable\n"
               "      --fd-store          under a service manager, keep keepAlive sandboxes\n"
               "                          across a restart (its fd store and a keeper process)\n"
               "      --no-cgroups        do not put sandboxes in cgroups (every limit is refused)\n"
               "  -v, --verbose           log debug messages\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n",
               NSBOX_SOCKET_PATH_DEFAULT, NSBOX_POLICY_PATH_DEFAULT, SUBUID_PATH_DEFAULT, SUBGID_PATH_DEFAULT);
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum { ARG_SUBUID = 0x100, ARG_SUBGID, ARG_FD_STORE, ARG_DESERIALIZE, ARG_NO_CGROUPS, ARG_VERSION };
        static const struct option options[] = {
                { "socket",          required_argument, NULL, 's'                },
                { "policy",          required_argument, NULL, 'p'                },
                { "subuid",          required_argument, NULL, ARG_SUBUID         },
                { "subgid",          required_argument, NULL, ARG_SUBGID         },
                { "limit",           required_argument, NULL, 'l'                },
                { "fd-store",        no_argument,       NULL, ARG_FD_STORE       },
                { "deserialize",     required_argument, NULL, ARG_DESERIALIZE    },
                { "no-cgroups",      no_argument,       NULL, ARG_NO_CGROUPS     },
                { "verbose",         no_argument,       NULL, 'v'                },
                { "help",            no_argument,       NULL, 'h'                },
                { "version",         no_argument,       NULL, ARG_VERSION        },
                {}
        };
        DaemonLimits check;
        int c;

        limits_init(&check);
        while ((c = getopt_long(argc, argv, "s:p:l:vh", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        o->socket_path = optarg;
                        break;
                case 'p':
                        o->config.policy_path = optarg;
                        break;
                case ARG_SUBUID:
                        o->config.subuid_path = optarg;
                        break;
                case ARG_SUBGID:
                        o->config.subgid_path = optarg;
                        break;
                case 'l':
                        if (limits_set_assignment(&check, optarg) < 0) {
                                log_error("Invalid --limit '%s': expected NAME=VALUE with a known limit name and a "
                                          "value in its range (see nsboxd(8)).", optarg);
                                return -EINVAL;
                        }
                        o->limits[o->n_limits++] = optarg;
                        break;
                case ARG_FD_STORE:
                        o->config.fd_store = true;
                        break;
                case ARG_NO_CGROUPS:
                        o->config.no_cgroups = true;
                        break;
                case ARG_DESERIALIZE: {
                        char *end;
                        long fd = strtol(optarg, &end, 10);

                        if (*end || fd < 3 || fd > INT32_MAX || fcntl((int) fd, F_GETFD) < 0) {
                                log_error("Invalid --deserialize '%s': not an open fd.", optarg);
                                return -EINVAL;
                        }
                        o->deserialize_fd = (int) fd;
                        break;
                }
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("nsboxd %s\n", NSBOX_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                log_error("Unexpected argument '%s'. See nsboxd --help.", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static bool fd_name_is_ours(const char *name) {
        return streq(name, HANDOVER_FD_STATE) || streq(name, HANDOVER_FD_CAPTURE) ||
               strncmp(name, HANDOVER_FD_SANDBOX_PREFIX, strlen(HANDOVER_FD_SANDBOX_PREFIX)) == 0 ||
               strncmp(name, HANDOVER_FD_KEEPER_PREFIX, strlen(HANDOVER_FD_KEEPER_PREFIX)) == 0;
}

/*
 * The socket systemd passed, if it passed one (-ENOENT: not socket activated),
 * and in *stored what a previous daemon left in the fd store. Anything else
 * stored is dropped from the store: nothing would ever take it out.
 */
static int listen_fd_from_systemd(FdSet *stored) {
        /* Read before sd_listen_fds() unsets it: the service manager meant to pass something. */
        bool activated = getenv("LISTEN_PID");
        _cleanup_strv_free_ char **names = NULL;
        int n, listen_fd = -ENOENT, n_sockets = 0;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by the service manager: %m");

        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";

                (void) fd_set_cloexec(fd, true);
                if (fd_name_is_ours(name)) {
                        if (fdset_add(stored, name, fd) < 0)
                                return log_error_errno(ENOMEM, "Out of memory.");
                        continue;
                }
                if (sd_is_socket_unix(fd, SOCK_STREAM, /* listening= */ 1, NULL, 0) > 0) {
                        n_sockets++;
                        if (listen_fd < 0) {
                                listen_fd = fd;
                                continue;
                        }
                } else {
                        log_warning("Dropping fd '%s' the service manager passed: it is not a listening socket "
                                    "and not one nsboxd stored.", name);
                        (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
                }
                safe_close(fd);
        }

        if (n_sockets > 1) {
                safe_close(listen_fd);
                return log_error_errno(E2BIG, "%d sockets passed by the service manager, expected exactly one.",
                                       n_sockets);
        }
        if (listen_fd < 0 && (n > 0 || activated))
                return log_error_errno(ENXIO, "Socket activation announced but no listening unix stream socket "
                                              "was passed; check nsboxd.socket.");
        return listen_fd;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

/* A socket file nobody listens on is stale; anything else at the path is not ours to remove. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa, socklen_t salen) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return log_error_errno(EEXIST, "%s exists and is not a socket; refusing to replace it.", path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, salen) >= 0)
                return log_error_errno(EADDRINUSE, "Another daemon is already serving %s.", path);
        if (errno != ECONNREFUSED)
                return log_error_errno(errno, "Cannot tell whether %s is in use: %m", path);

        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int listen_fd_bind(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t salen;
        mode_t old_umask;
        int r;

        if (path[0] != '/' || strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(EINVAL, "Socket path must be absolute and shorter than %zu bytes: %s",
                                       sizeof sa.sun_path, path);
        strcpy(sa.sun_path, path);
        salen = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;

        r = mkdir_parents(path);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", path);

        r = remove_stale_socket(path, &sa, salen);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket() failed: %m");

        /* Every local user may connect (0666); what they may do is decided per call. */
        old_umask = umask(0111);
        r = bind(fd, (const struct sockaddr *) &sa, salen);
        umask(old_umask);
        if (r < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", path);

        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", path);

        return TAKE_FD(fd);
}

/* Each live sandbox holds a pidfd: take the hard limit, give sandboxes the original one. */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* <linux/memfd.h> of kernel 6.3 */
#endif

/* Copies of the program into a sealed memfd: what running sandboxes exec stays what was read at start,
 * whatever happens to the file (an upgrade, or a root sandbox writing through /proc/PID/exe). */
static int init_program_memfd(const char *path) {
        _cleanup_close_ int in = -EBADF, fd = -EBADF;
        char buf[64 * 1024];

        in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return -errno;
        fd = memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 knows no MFD_EXEC: memfds are executable there */
                fd = memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                if (write(fd, buf, (size_t) n) != n)
                        return -EIO;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* What every spawn of this process shares (spawn_setup_process()), the spawn workers' thread included. */
static int setup_spawning(void) {
        int r = spawn_setup_process();

        if (r < 0)
                return log_error_errno(r, "Failed to open /dev/null: %m");
        /* Both still spawn, only slower: said once, for whoever wonders why. */
        if (spawn_worker_supported() && !spawn_worker_running())
                log_warning("No spawn worker threads could be started: every spawn forks the daemon.");
        else if (spawn_worker_fds_by_socket())
                log_notice("pidfd_getfd() is refused here (a system call filter): spawn workers get each spawn's "
                           "fds over a socket, a new worker thread for each spawn.");
        return 0;
}

/*
 * The nsbox-init program: next to the daemon in a build tree, else where it is installed. Without it
 * sandboxes still get an init, only a larger one (a fork of the daemon for as long as they live).
 */
static void load_init_program(void) {
        char self[PATH_MAX], path[PATH_MAX + 16];
        const char *found = NSBOX_LIBEXECDIR "/nsbox-init";
        ssize_t n;
        int fd;

        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                char *slash;

                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        (void) snprintf(path, sizeof path, "%s/nsbox-init", self);
                        if (access(path, X_OK) >= 0)
                                found = path;
                }
        }

        fd = init_program_memfd(found);
        if (fd < 0) {
                log_warning_errno(fd, "Cannot load %s, sandboxes' inits stay forks of the daemon: %m", found);
                return;
        }
        spawn_set_init_program(fd);
}

static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        spawn_set_inherited_nofile(&rl);
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit raised = { rl.rlim_max, rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
                        log_warning_errno(errno, "Failed to raise the fd limit, keeping %llu: %m",
                                          (unsigned long long) rl.rlim_cur);
        }
}

/* The command line a re-exec runs again: the original, before getopt permuted it, without a --deserialize. */
static char **exec_argv_copy(int argc, char *argv[]) {
        char **copy = calloc(argc + 1, sizeof(char *));
        size_t n = 0;

        if (!copy)
                return NULL;
        for (int i = 0; i < argc; i++) {
                if (strncmp(argv[i], "--deserialize", strlen("--deserialize")) == 0) {
                        if (!strchr(argv[i], '='))
                                i++;
                        continue;
                }
                copy[n] = strdup(argv[i]);
                if (!copy[n])
                        return strv_free(copy);
                n++;
        }
        return copy;
}

/*
 * A daemon started with 0, 1 or 2 closed would get its listening socket, a
 * client's connection or a pidfd at that number, and then write its log
 * into it, or hand it to a sandbox as its stdio. /dev/null takes every
 * closed one first, as init systems give it to services anyway.
 */
static int open_closed_stdio(void) {
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
                int null;

                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                null = open("/dev/null", O_RDWR | O_NOCTTY);
                if (null < 0)
                        return -errno;
                /* The lowest free number: fd itself, as every lower one is open. */
                if (null != fd) {
                        safe_close(null);
                        return -EBADF;
                }
        }
        return 0;
}

/* The state and fds a re-exec'd daemon gets: the memfd on the command line, the fds it names by number. */
static int deserialize(int state_fd, HandoverState *ret_state, FdSet *ret_fds) {
        _cleanup_free_ char *reason = NULL;
        HandoverState state = {};
        int r;

        r = handover_state_from_fd(state_fd, &state, &reason);
        safe_close(state_fd);
        if (r == -EBADMSG)
                return log_error_errno(r, "The state handed over across the re-exec is invalid: %s.",
                                       reason ?: "unknown reason");
        if (r < 0)
                return log_error_errno(r, "Failed to read the state handed over across the re-exec: %m");

        for (size_t i = 0; i < state.n_fds; i++) {
                int fd = state.fds[i].fd;

                if (fd == state_fd || fcntl(fd, F_GETFD) < 0) {
                        log_error("The state handed over names fd %d ('%s'), which is not open.", fd,
                                  state.fds[i].name);
                        continue;
                }
                (void) fd_set_cloexec(fd, true);
                r = fdset_add(ret_fds, state.fds[i].name, fd);
                if (r < 0) {
                        handover_state_done(&state);
                        return log_error_errno(r, "Out of memory.");
                }
        }
        *ret_state = state;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char **limits = calloc(argc + 1, sizeof(char *));
        _cleanup_strv_free_ char **exec_argv = exec_argv_copy(argc, argv);
        _cleanup_free_ char *exec_path = realpath("/proc/self/exe", NULL);
        Options o = {
                .config = {
                        .policy_path = NSBOX_POLICY_PATH_DEFAULT,
                        .subuid_path = SUBUID_PATH_DEFAULT,
                        .subgid_path = SUBGID_PATH_DEFAULT,
                },
                .limits = limits,
                .deserialize_fd = -1,
        };
        _cleanup_(fdset_done) FdSet stored = {};
        HandoverState state = {};
        bool have_state = false;
        const char *bound_path = NULL;
        int keeper_link = -EBADF;
        uv_loop_t loop;
        Server *s = NULL;
        int fd, r;

        if (open_closed_stdio() < 0 || !limits || !exec_argv)
                return EXIT_FAILURE;

        /* Before getopt permutes argv: the strings themselves stay where the kernel put them. */
        if (argc > 0)
                sandbox_init_set_title_area(argv[0], (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]));

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        o.config.limit_overrides = limits;
        o.config.exec_argv = exec_argv;
        o.config.exec_path = exec_path;

        /* Replies go to clients that may have hung up: a write must fail, not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();
        load_init_program();

        if (o.deserialize_fd >= 0) {
                /* Before the state's fds are held: the spawn workers' thread keeps copies of none of them. */
                if (setup_spawning() < 0)
                        return EXIT_FAILURE;
                /* A re-exec of this very process: everything comes from the state, nothing is bound anew. */
                r = deserialize(o.deserialize_fd, &state, &stored);
                if (r < 0)
                        return EXIT_FAILURE;
                have_state = true;
                o.config.reexecuted = true;
                fd = fdset_take(&stored, HANDOVER_FD_LISTEN);
                if (fd < 0) {
                        log_error("The state handed over across the re-exec has no listening socket.");
                        handover_state_done(&state);
                        return EXIT_FAILURE;
                }
                bound_path = state.socket_path;
        } else {
                fd = o.socket_path ? -ENOENT : listen_fd_from_systemd(&stored);
                if (fd == -ENOENT) {
                        bound_path = o.socket_path ?: NSBOX_SOCKET_PATH_DEFAULT;
                        fd = listen_fd_bind(bound_path);
                }
                if (fd < 0)
                        return EXIT_FAILURE;

                /* Before any thread or loop exists: the keeper is this process, the daemon its child. */
                if (o.config.fd_store && !getenv("NOTIFY_SOCKET"))
                        log_warning("--fd-store without a service manager (no $NOTIFY_SOCKET): ignored.");
                else if (o.config.fd_store) {
                        r = keeper_fork(&keeper_link, o.config.keeper_pids);
                        if (r >= 0)
                                o.config.n_keeper_pids = 2;
                        if (r < 0)
                                log_error_errno(r, "Failed to start the keeper, sandboxes will not survive a "
                                                   "restart: %m");
                }
                /* After the keeper's fork: a thread of the spawn workers' made before it would be missing
                 * in the daemon, its child, which would then wait for it for ever. */
                if (setup_spawning() < 0)
                        return EXIT_FAILURE;
        }
        o.config.bound_path = bound_path;

        r = uv_loop_init(&loop);
        if (r < 0) {
                log_error("Failed to set up the event loop: %s", uv_strerror(r));
                return EXIT_FAILURE;
        }

        r = server_new(&loop, fd, &o.config, &s);
        if (r < 0) {
                log_error_errno(r, "Failed to start: %m");
                goto finish;
        }

        /* Before the first call: what was handed over is there when clients ask. */
        r = restart_adopt(s, have_state ? &state : NULL, &stored, TAKE_FD(keeper_link));
        if (r < 0) {
                log_error_errno(r, "Failed to take over from the previous daemon: %m");
                goto finish;
        }

        /* Before READY=1: from then on the loop serves as it always will. It is woken by a sandbox's
         * process for each short burst of its work: the report pipe's EOF at the command's execve(), a
         * pidfd, a sync socket. */
        thread_take_short_slice("the loop thread");
        log_info("nsboxd %s serving on %s.", NSBOX_VERSION, bound_path ?: "the socket passed by the service manager");
        (void) sd_notify(false, "READY=1");
        server_notify_status(s);

        r = uv_run(&loop, UV_RUN_DEFAULT);
        (void) r;

finish:
        safe_close(keeper_link);
        if (s)
                server_shutdown(s);
        /* Let every close callback run, then the loop must be empty. */
        uv_run(&loop, UV_RUN_DEFAULT);
        if (bound_path)
                (void) unlink(bound_path);
        server_free(s);
        handover_state_done(&state);

        r = uv_loop_close(&loop);
        if (r < 0) {
                log_error("Event loop still has open handles at exit: %s", uv_strerror(r));
                return EXIT_FAILURE;
        }
        return s ? EXIT_SUCCESS : EXIT_FAILURE;
}
