/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsboxd: the sandbox daemon. Takes its listening socket from systemd
 * (socket activation) or binds its own, then serves io.nsbox.Sandbox on one
 * libuv loop until SIGTERM/SIGINT.
 */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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
#include "log.h"
#include "policy.h"
#include "sandbox-init.h"
#include "server.h"
#include "spawn.h"

typedef struct Options {
        const char *socket_path; /* NULL: socket activation, else the default path */
        ServerConfig config;
        char **limits;
        size_t n_limits;
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
               "      --no-kill-on-exit   leave running sandboxes alone on shutdown\n"
               "      --no-cgroups        do not put sandboxes in cgroups (every limit is refused)\n"
               "  -v, --verbose           log debug messages\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n",
               NSBOX_SOCKET_PATH_DEFAULT, NSBOX_POLICY_PATH_DEFAULT, SUBUID_PATH_DEFAULT, SUBGID_PATH_DEFAULT);
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum { ARG_SUBUID = 0x100, ARG_SUBGID, ARG_NO_KILL_ON_EXIT, ARG_NO_CGROUPS, ARG_VERSION };
        static const struct option options[] = {
                { "socket",          required_argument, NULL, 's'                },
                { "policy",          required_argument, NULL, 'p'                },
                { "subuid",          required_argument, NULL, ARG_SUBUID         },
                { "subgid",          required_argument, NULL, ARG_SUBGID         },
                { "limit",           required_argument, NULL, 'l'                },
                { "no-kill-on-exit", no_argument,       NULL, ARG_NO_KILL_ON_EXIT },
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
                                          "positive value (see nsboxd(8)).", optarg);
                                return -EINVAL;
                        }
                        o->limits[o->n_limits++] = optarg;
                        break;
                case ARG_NO_KILL_ON_EXIT:
                        o->config.kill_on_exit = false;
                        break;
                case ARG_NO_CGROUPS:
                        o->config.no_cgroups = true;
                        break;
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

/* The socket systemd passed, if it passed one. -ENOENT: not socket activated. */
static int listen_fd_from_systemd(void) {
        /* Read before sd_listen_fds() unsets it: the service manager meant to pass something. */
        bool activated = getenv("LISTEN_PID");
        char **names = NULL;
        int n;

        n = sd_listen_fds_with_names(true, &names);
        for (int i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by the service manager: %m");
        if (n == 0)
                return activated ? log_error_errno(ENXIO, "Socket activation announced but no socket "
                                                          "was passed; check nsboxd.socket.")
                                 : -ENOENT;
        if (n > 1) {
                for (int i = 0; i < n; i++)
                        safe_close(SD_LISTEN_FDS_START + i);
                return log_error_errno(E2BIG, "%d sockets passed by the service manager, expected exactly one.", n);
        }

        if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, /* listening= */ 1, NULL, 0) <= 0) {
                safe_close(SD_LISTEN_FDS_START);
                return log_error_errno(ENOTSOCK, "The socket passed by the service manager is not a listening "
                                                 "unix stream socket.");
        }

        return SD_LISTEN_FDS_START;
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

int main(int argc, char *argv[]) {
        _cleanup_free_ char **limits = calloc(argc + 1, sizeof(char *));
        Options o = {
                .config = {
                        .policy_path = NSBOX_POLICY_PATH_DEFAULT,
                        .subuid_path = SUBUID_PATH_DEFAULT,
                        .subgid_path = SUBGID_PATH_DEFAULT,
                        .kill_on_exit = true,
                },
                .limits = limits,
        };
        const char *bound_path = NULL;
        uv_loop_t loop;
        Server *s = NULL;
        int fd, r;

        if (!limits)
                return EXIT_FAILURE;

        /* Before getopt permutes argv: the strings themselves stay where the kernel put them. */
        if (argc > 0)
                sandbox_init_set_title_area(argv[0], (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]));

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        o.config.limit_overrides = limits;

        /* Replies go to clients that may have hung up: a write must fail, not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);
        r = spawn_setup_process();
        if (r < 0) {
                log_error_errno(r, "Failed to open /dev/null: %m");
                return EXIT_FAILURE;
        }
        raise_fd_limit();
        load_init_program();

        fd = o.socket_path ? -ENOENT : listen_fd_from_systemd();
        if (fd == -ENOENT) {
                bound_path = o.socket_path ?: NSBOX_SOCKET_PATH_DEFAULT;
                fd = listen_fd_bind(bound_path);
        }
        if (fd < 0)
                return EXIT_FAILURE;

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

        log_info("nsboxd %s serving on %s.", NSBOX_VERSION, bound_path ?: "the socket passed by the service manager");
        (void) sd_notify(false, "READY=1");
        server_notify_status(s);

        r = uv_run(&loop, UV_RUN_DEFAULT);
        (void) r;

finish:
        if (s)
                server_shutdown(s);
        /* Let every close callback run, then the loop must be empty. */
        uv_run(&loop, UV_RUN_DEFAULT);
        server_free(s);
        if (bound_path)
                (void) unlink(bound_path);

        r = uv_loop_close(&loop);
        if (r < 0) {
                log_error("Event loop still has open handles at exit: %s", uv_strerror(r));
                return EXIT_FAILURE;
        }
        return s ? EXIT_SUCCESS : EXIT_FAILURE;
}
