/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nsbox run`'s options: unshare(1)-style namespace options and
 * bubblewrap-style filesystem and environment options, turned into a spawn
 * description, and `nsbox run --help` explaining each of them.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-run-options.h"
#include "cli-util.h"

static void run_help(void) {
        printf("Usage: nsbox run [OPTIONS] [--] COMMAND [ARG...]\n"
               "\n"
               "Runs COMMAND in a new sandbox made by nsboxd. By default the command gets this\n"
               "terminal's stdin, stdout and stderr, nsbox waits for it and exits with its exit\n"
               "code (128+N if it was killed by signal N); SIGINT, SIGTERM, SIGHUP and SIGQUIT\n"
               "sent to nsbox are forwarded to it. Errors of nsbox itself exit with 125, a\n"
               "command that cannot be executed with 126, one that does not exist with 127.\n"
               "\n"
               "Namespaces (as unshare(1)):\n"
               "  -m, --mount               new mount namespace\n"
               "  -u, --uts                 new UTS namespace (hostname)\n"
               "  -i, --ipc                 new IPC namespace\n"
               "  -n, --net                 new network namespace (only loopback, up)\n"
               "  -p, --pid                 new PID namespace (with a minimal init as PID 1)\n"
               "  -U, --user                new user namespace\n"
               "  -C, --cgroup              new cgroup namespace\n"
               "  -T, --time                new time namespace\n"
               "  -r, --map-root-user       map your uid and gid to root inside (implies --user\n"
               "                            and --setgroups=deny)\n"
               "      --map-user=UID        map your uid to UID inside (implies --user)\n"
               "      --map-group=GID       map your gid to GID inside (implies --user and\n"
               "                            --setgroups=deny)\n"
               "      --map-users=INNER:OUTER:COUNT\n"
               "                            map COUNT uids from OUTER on the host to INNER inside;\n"
               "                            OUTER,INNER,COUNT is accepted too (repeatable)\n"
               "      --map-groups=INNER:OUTER:COUNT\n"
               "                            the same for gids\n"
               "      --setgroups=allow|deny\n"
               "                            whether setgroups(2) works in the user namespace\n"
               "      --monotonic=SECS      offset of CLOCK_MONOTONIC (implies --time)\n"
               "      --boottime=SECS       offset of CLOCK_BOOTTIME (implies --time)\n"
               "\n"
               "Filesystem (as bubblewrap; applied in order, each implies --mount; without\n"
               "--root the tree starts as an empty tmpfs, so bind what the command needs):\n"
               "      --root DIR            make DIR the sandbox's /\n"
               "      --bind SRC DEST       bind-mount SRC on DEST (DEST / is the same as --root)\n"
               "      --ro-bind SRC DEST    the same, read-only\n"
               "      --dev-bind SRC DEST   the same, device nodes usable\n"
               "      --tmpfs DEST          mount a tmpfs on DEST\n"
               "      --proc DEST           mount procfs on DEST\n"
               "      --dev DEST            mount a minimal /dev on DEST\n"
               "      --mqueue DEST         mount an mqueue filesystem on DEST\n"
               "      --dir DEST            create directory DEST\n"
               "      --symlink TARGET DEST create symlink DEST pointing to TARGET\n"
               "      --file FD DEST        create file DEST with the contents read from FD\n"
               "      --remount-ro DEST     make the mount at DEST read-only\n"
               "\n"
               "Process (as bubblewrap):\n"
               "      --chdir DIR           working directory inside (default: the current one,\n"
               "                            unless a file system option is given; then /)\n"
               "      --setenv VAR VALUE    set an environment variable (the environment starts\n"
               "                            as nsbox's own)\n"
               "      --unsetenv VAR        remove an environment variable\n"
               "      --clearenv            start from an empty environment\n"
               "      --hostname NAME       set the hostname (implies --uts)\n"
               "      --uid UID             run as UID inside (default: what your uid maps to)\n"
               "      --gid GID             run as GID inside (default: what your gid maps to)\n"
               "      --pass-fd FD          pass file descriptor FD on, at the same number\n"
               "\n"
               "Control:\n"
               "      --name NAME           a name shown by 'nsbox list'\n"
               "      --pty                 give the command a new pseudo-terminal and relay it\n"
               "                            (interactive shells, job control)\n"
               "      --detach              print the sandbox's id and return at once; the\n"
               "                            command gets /dev/null as stdin/stdout/stderr\n"
               "                            (implies --keep-alive)\n"
               "      --keep-alive          keep the sandbox running when nsbox exits\n"
               "      --no-init             no init process as PID 1 of a new PID namespace\n"
               "      --socket PATH         nsboxd's socket (default: $NSBOX_SOCKET, else %s)\n"
               "  -h, --help                show this help\n",
               nsbox_connection_get_default_socket_path());
}

static int parse_uint32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_int64(const char *s, int64_t *ret) {
        char *end;
        long long v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "INNER:OUTER:COUNT" (util-linux 2.38) or "OUTER,INNER,COUNT" (util-linux 2.39). */
static int parse_map_range(const char *s, uint32_t *ret_inner, uint32_t *ret_outer, uint32_t *ret_count) {
        char a[16], b[16], c[16];
        char sep = strchr(s, ',') ? ',' : ':';
        const char *p = s, *q;
        char *parts[3] = { a, b, c };
        uint32_t v[3];

        for (size_t i = 0; i < 3; i++) {
                size_t len;

                q = i < 2 ? strchr(p, sep) : p + strlen(p);
                if (!q)
                        return -EINVAL;
                len = (size_t) (q - p);
                if (len == 0 || len >= sizeof(a))
                        return -EINVAL;
                memcpy(parts[i], p, len);
                parts[i][len] = 0;
                if (parse_uint32(parts[i], &v[i]) < 0)
                        return -EINVAL;
                p = q + 1;
        }

        if (sep == ',') {
                *ret_outer = v[0];
                *ret_inner = v[1];
        } else {
                *ret_inner = v[0];
                *ret_outer = v[1];
        }
        *ret_count = v[2];
        return 0;
}

enum {
        ARG_MAP_USER = 0x100,
        ARG_MAP_GROUP,
        ARG_MAP_USERS,
        ARG_MAP_GROUPS,
        ARG_SETGROUPS,
        ARG_MONOTONIC,
        ARG_BOOTTIME,
        /* ARG_ROOT to ARG_REMOUNT_RO are the file system options: keep them together. */
        ARG_ROOT,
        ARG_BIND,
        ARG_RO_BIND,
        ARG_DEV_BIND,
        ARG_TMPFS,
        ARG_PROC,
        ARG_DEV,
        ARG_MQUEUE,
        ARG_DIR,
        ARG_SYMLINK,
        ARG_FILE,
        ARG_REMOUNT_RO,
        ARG_CHDIR,
        ARG_SETENV,
        ARG_UNSETENV,
        ARG_CLEARENV,
        ARG_HOSTNAME,
        ARG_UID,
        ARG_GID,
        ARG_PASS_FD,
        ARG_NAME,
        ARG_PTY,
        ARG_DETACH,
        ARG_KEEP_ALIVE,
        ARG_NO_INIT,
        ARG_SOCKET,
};

static const struct option run_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "mount", no_argument, NULL, 'm' },
        { "uts", no_argument, NULL, 'u' },
        { "ipc", no_argument, NULL, 'i' },
        { "net", no_argument, NULL, 'n' },
        { "pid", no_argument, NULL, 'p' },
        { "user", no_argument, NULL, 'U' },
        { "cgroup", no_argument, NULL, 'C' },
        { "time", no_argument, NULL, 'T' },
        { "map-root-user", no_argument, NULL, 'r' },
        { "map-user", required_argument, NULL, ARG_MAP_USER },
        { "map-group", required_argument, NULL, ARG_MAP_GROUP },
        { "map-users", required_argument, NULL, ARG_MAP_USERS },
        { "map-groups", required_argument, NULL, ARG_MAP_GROUPS },
        { "setgroups", required_argument, NULL, ARG_SETGROUPS },
        { "monotonic", required_argument, NULL, ARG_MONOTONIC },
        { "boottime", required_argument, NULL, ARG_BOOTTIME },
        { "root", required_argument, NULL, ARG_ROOT },
        { "bind", required_argument, NULL, ARG_BIND },
        { "ro-bind", required_argument, NULL, ARG_RO_BIND },
        { "dev-bind", required_argument, NULL, ARG_DEV_BIND },
        { "tmpfs", required_argument, NULL, ARG_TMPFS },
        { "proc", required_argument, NULL, ARG_PROC },
        { "dev", required_argument, NULL, ARG_DEV },
        { "mqueue", required_argument, NULL, ARG_MQUEUE },
        { "dir", required_argument, NULL, ARG_DIR },
        { "symlink", required_argument, NULL, ARG_SYMLINK },
        { "file", required_argument, NULL, ARG_FILE },
        { "remount-ro", required_argument, NULL, ARG_REMOUNT_RO },
        { "chdir", required_argument, NULL, ARG_CHDIR },
        { "setenv", required_argument, NULL, ARG_SETENV },
        { "unsetenv", required_argument, NULL, ARG_UNSETENV },
        { "clearenv", no_argument, NULL, ARG_CLEARENV },
        { "hostname", required_argument, NULL, ARG_HOSTNAME },
        { "uid", required_argument, NULL, ARG_UID },
        { "gid", required_argument, NULL, ARG_GID },
        { "pass-fd", required_argument, NULL, ARG_PASS_FD },
        { "name", required_argument, NULL, ARG_NAME },
        { "pty", no_argument, NULL, ARG_PTY },
        { "detach", no_argument, NULL, ARG_DETACH },
        { "keep-alive", no_argument, NULL, ARG_KEEP_ALIVE },
        { "no-init", no_argument, NULL, ARG_NO_INIT },
        { "socket", required_argument, NULL, ARG_SOCKET },
        {}
};

static const char *option_name(int c) {
        for (const struct option *o = run_options; o->name; o++)
                if (o->val == c)
                        return o->name;
        return "?";
}

/* bubblewrap's two-argument options: the second argument is the next word. */
static int second_arg(int argc, char *argv[], int c, const char *what, const char **ret) {
        if (optind >= argc) {
                log_error("--%s needs two arguments: %s %s", option_name(c), optarg, what);
                return -EINVAL;
        }
        *ret = argv[optind++];
        return 0;
}

static bool is_filesystem_option(int c) {
        return c >= ARG_ROOT && c <= ARG_REMOUNT_RO;
}

/* A uid or gid given to option c. */
static int parse_id_argument(int c, uint32_t *ret) {
        if (parse_uint32(optarg, ret) < 0) {
                log_error("--%s: not a valid id: %s", option_name(c), optarg);
                return -EINVAL;
        }
        return 0;
}

static int namespace_flag_of(int c) {
        switch (c) {
        case 'm':
                return NSBOX_NAMESPACE_MOUNT;
        case 'u':
                return NSBOX_NAMESPACE_UTS;
        case 'i':
                return NSBOX_NAMESPACE_IPC;
        case 'n':
                return NSBOX_NAMESPACE_NET;
        case 'p':
                return NSBOX_NAMESPACE_PID;
        case 'U':
                return NSBOX_NAMESPACE_USER;
        case 'C':
                return NSBOX_NAMESPACE_CGROUP;
        case 'T':
                return NSBOX_NAMESPACE_TIME;
        }
        return 0;
}

int run_options_parse(int argc, char *argv[], NsboxSpawn *s, RunOptions *o) {
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+hmuinpUCTr", run_options, NULL)) >= 0) {
                const char *second = NULL;
                uint32_t inner, outer, count, id;
                int64_t secs;

                r = 0;
                switch (c) {
                case 'h':
                        run_help();
                        return 0;
                case 'm':
                case 'u':
                case 'i':
                case 'n':
                case 'p':
                case 'U':
                case 'C':
                case 'T':
                        o->implied_namespaces |= (unsigned) namespace_flag_of(c);
                        break;
                case 'r':
                        o->map_root = true;
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case ARG_MAP_USER:
                case ARG_MAP_GROUP:
                        if (parse_id_argument(c, &id) < 0)
                                return -EINVAL;
                        if (c == ARG_MAP_USER) {
                                o->have_map_user = true;
                                o->map_user = id;
                        } else {
                                o->have_map_group = true;
                                o->map_group = id;
                        }
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case ARG_MAP_USERS:
                case ARG_MAP_GROUPS:
                        if (parse_map_range(optarg, &inner, &outer, &count) < 0) {
                                log_error("--%s: expected INNER:OUTER:COUNT, got: %s", option_name(c), optarg);
                                return -EINVAL;
                        }
                        r = c == ARG_MAP_USERS ? nsbox_spawn_add_uid_mapping(s, inner, outer, count) :
                                                 nsbox_spawn_add_gid_mapping(s, inner, outer, count);
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case ARG_SETGROUPS:
                        if (strcmp(optarg, "allow") == 0)
                                o->setgroups = true;
                        else if (strcmp(optarg, "deny") == 0)
                                o->setgroups = false;
                        else {
                                log_error("--setgroups: expected allow or deny, got: %s", optarg);
                                return -EINVAL;
                        }
                        o->have_setgroups = true;
                        break;
                case ARG_MONOTONIC:
                case ARG_BOOTTIME:
                        if (parse_int64(optarg, &secs) < 0) {
                                log_error("--%s: not a number of seconds: %s", option_name(c), optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_set_time_offset(s, c == ARG_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_BOOTTIME,
                                                        secs, 0);
                        o->implied_namespaces |= NSBOX_NAMESPACE_TIME;
                        break;
                case ARG_ROOT:
                        r = nsbox_spawn_set_root(s, optarg);
                        o->root = optarg;
                        break;
                case ARG_BIND:
                case ARG_RO_BIND:
                case ARG_DEV_BIND:
                        if (second_arg(argc, argv, c, "DEST", &second) < 0)
                                return -EINVAL;
                        if (strcmp(second, "/") == 0) {
                                /* bubblewrap's "--bind / /": here that is the root, made first. */
                                r = nsbox_spawn_set_root(s, optarg);
                                o->root = optarg;
                                if (r >= 0 && c == ARG_RO_BIND)
                                        r = nsbox_spawn_add_remount_ro(s, "/");
                        } else
                                r = nsbox_spawn_add_bind(s, optarg, second,
                                                         c == ARG_RO_BIND    ? NSBOX_MOUNT_READ_ONLY :
                                                         c == ARG_DEV_BIND ? NSBOX_MOUNT_ALLOW_DEV :
                                                                             0);
                        break;
                case ARG_TMPFS:
                        r = nsbox_spawn_add_tmpfs(s, optarg, 0, -1, 0);
                        break;
                case ARG_PROC:
                        r = nsbox_spawn_add_proc(s, optarg);
                        break;
                case ARG_DEV:
                        r = nsbox_spawn_add_dev(s, optarg);
                        break;
                case ARG_MQUEUE:
                        r = nsbox_spawn_add_mqueue(s, optarg);
                        break;
                case ARG_DIR:
                        r = nsbox_spawn_add_dir(s, optarg, -1);
                        break;
                case ARG_SYMLINK:
                        if (second_arg(argc, argv, c, "DEST", &second) < 0)
                                return -EINVAL;
                        r = nsbox_spawn_add_symlink(s, optarg, second);
                        break;
                case ARG_FILE:
                        if (second_arg(argc, argv, c, "DEST", &second) < 0)
                                return -EINVAL;
                        if (parse_uint32(optarg, &id) < 0 || id > INT32_MAX) {
                                log_error("--file: not a file descriptor number: %s", optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_add_file(s, (int) id, second, -1);
                        break;
                case ARG_REMOUNT_RO:
                        r = nsbox_spawn_add_remount_ro(s, optarg);
                        break;
                case ARG_CHDIR:
                        r = nsbox_spawn_set_cwd(s, optarg);
                        o->have_chdir = true;
                        break;
                case ARG_SETENV:
                        if (second_arg(argc, argv, c, "VALUE", &second) < 0)
                                return -EINVAL;
                        r = nsbox_spawn_set_env(s, optarg, second);
                        break;
                case ARG_UNSETENV:
                        r = nsbox_spawn_unset_env(s, optarg);
                        break;
                case ARG_CLEARENV:
                        r = nsbox_spawn_clear_env(s);
                        break;
                case ARG_HOSTNAME:
                        r = nsbox_spawn_set_hostname(s, optarg);
                        o->implied_namespaces |= NSBOX_NAMESPACE_UTS;
                        break;
                case ARG_UID:
                case ARG_GID:
                        if (parse_id_argument(c, &id) < 0)
                                return -EINVAL;
                        if (c == ARG_UID) {
                                o->have_uid = true;
                                o->uid = id;
                        } else {
                                o->have_gid = true;
                                o->gid = id;
                        }
                        break;
                case ARG_PASS_FD:
                        if (parse_uint32(optarg, &id) < 0 || id < 3 || id > 1023) {
                                log_error("--pass-fd: expected a file descriptor number 3..1023, got: %s", optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_add_fd(s, (int) id, (int) id);
                        break;
                case ARG_NAME:
                        r = nsbox_spawn_set_name(s, optarg);
                        break;
                case ARG_PTY:
                        o->pty = true;
                        break;
                case ARG_DETACH:
                        o->detach = true;
                        break;
                case ARG_KEEP_ALIVE:
                        o->keep_alive = true;
                        break;
                case ARG_NO_INIT:
                        o->no_init = true;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                default:
                        log_error("run: unknown option or missing argument: %s; see 'nsbox run --help'",
                                  argv[optind - 1]);
                        return -EINVAL;
                }

                /* File system options need a mount namespace, and they change the tree our cwd is looked up in. */
                if (is_filesystem_option(c)) {
                        o->implied_namespaces |= NSBOX_NAMESPACE_MOUNT;
                        o->filesystem = true;
                }

                if (r < 0) {
                        if (r == -EBADF)
                                log_error("--%s %s: file descriptor is not open", option_name(c), optarg);
                        else
                                log_error("--%s %s%s%s: %s", option_name(c), optarg ?: "", second ? " " : "",
                                          second ?: "",
                                          r == -EINVAL ? "invalid value (paths inside the sandbox must be "
                                                         "absolute)" :
                                                         strerror(-r));
                        return r;
                }
        }

        if (optind >= argc) {
                log_error("no command given; usage: nsbox run [OPTIONS] [--] COMMAND [ARG...]");
                return -EINVAL;
        }
        if (o->pty && o->detach) {
                log_error("--pty and --detach do not go together: a detached sandbox has no terminal to relay to");
                return -EINVAL;
        }
        return 1;
}

int run_options_apply(NsboxSpawn *s, const RunOptions *o, char *const *command) {
        uid_t euid = geteuid();
        gid_t egid = getegid();
        int r;

        if (o->map_root) {
                r = nsbox_spawn_add_uid_mapping(s, 0, euid, 1);
                if (r >= 0)
                        r = nsbox_spawn_add_gid_mapping(s, 0, egid, 1);
                if (r < 0)
                        return r;
        }
        if (o->have_map_user) {
                r = nsbox_spawn_add_uid_mapping(s, o->map_user, euid, 1);
                if (r < 0)
                        return r;
        }
        if (o->have_map_group) {
                r = nsbox_spawn_add_gid_mapping(s, o->map_group, egid, 1);
                if (r < 0)
                        return r;
        }
        if (o->have_setgroups)
                r = nsbox_spawn_set_setgroups(s, o->setgroups);
        else if (o->map_root || o->have_map_group)
                r = nsbox_spawn_set_setgroups(s, false); /* as unshare(1) does */
        else
                r = 0;
        if (r < 0)
                return r;

        /* As unshare(1): with --map-user/--map-group the command runs as the ids it was mapped to. */
        if (o->have_uid || o->have_gid || o->have_map_user || o->have_map_group) {
                uint32_t uid = o->have_uid ? o->uid : o->map_root ? 0 : o->have_map_user ? o->map_user : euid;
                uint32_t gid = o->have_gid ? o->gid : o->map_root ? 0 : o->have_map_group ? o->map_group : egid;

                r = nsbox_spawn_set_user(s, uid, gid, NULL, 0);
                if (r < 0)
                        return r;
        }

        r = nsbox_spawn_set_namespaces(s, nsbox_spawn_get_namespaces(s) | o->implied_namespaces);
        if (r < 0)
                return r;

        /* Our working directory only exists in the sandbox if the host's tree is what it sees. */
        if (!o->have_chdir && !o->filesystem) {
                _cleanup_free_ char *cwd = get_current_dir_name();

                if (cwd) {
                        r = nsbox_spawn_set_cwd(s, cwd);
                        if (r < 0)
                                return r;
                }
        }

        if (o->no_init) {
                r = nsbox_spawn_set_init(s, false);
                if (r < 0)
                        return r;
        }
        if (o->keep_alive || o->detach) {
                r = nsbox_spawn_set_keep_alive(s, true);
                if (r < 0)
                        return r;
        }

        return nsbox_spawn_set_argv(s, (const char *const *) command);
}
