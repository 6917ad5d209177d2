/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nsbox run`'s options: unshare(1)-style namespace options and
 * bubblewrap-style filesystem and environment options, turned into a spawn
 * description, and `nsbox run --help` explaining each of them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <sys/capability.h>

#include "cli-parse.h"
#include "cli-run-options.h"
#include "cli-seccomp.h"
#include "cli-util.h"
#include "fd-util.h"

static void run_help(void) {
        printf("Usage: nsbox run [OPTIONS] [--] COMMAND [ARG...]\n"
               "\n"
               "Runs COMMAND in a new sandbox made by nsboxd. By default the command gets this\n"
               "terminal's stdin, stdout and stderr, nsbox waits for it and exits with its exit\n"
               "code (128+N if it was killed by signal N); SIGINT, SIGTERM, SIGHUP and SIGQUIT\n"
               "sent to nsbox are forwarded to it. Errors of nsbox itself, usage errors included,\n"
               "exit with 125, a command that cannot be executed with 126, one that does not\n"
               "exist with 127.\n"
               "\n"
               "Namespaces (as unshare(1); bubblewrap's names in brackets):\n"
               "  -m, --mount               new mount namespace\n"
               "  -u, --uts                 new UTS namespace (hostname)      [--unshare-uts]\n"
               "  -i, --ipc                 new IPC namespace                 [--unshare-ipc]\n"
               "  -n, --net                 new network namespace (only loopback, up)\n"
               "                                                              [--unshare-net]\n"
               "  -p, --pid                 new PID namespace (with a minimal init as PID 1)\n"
               "                                                              [--unshare-pid]\n"
               "  -U, --user                new user namespace; your uid and gid map to\n"
               "                            themselves (see nsbox(1))        [--unshare-user]\n"
               "  -C, --cgroup              new cgroup namespace              [--unshare-cgroup]\n"
               "  -T, --time                new time namespace\n"
               "      --unshare-user-try, --unshare-cgroup-try\n"
               "                            the same as --unshare-user, --unshare-cgroup\n"
               "      --unshare-all         user, ipc, pid, net, uts and cgroup namespaces\n"
               "      --share-net           keep the network namespace (after --unshare-all)\n"
               "  -r, --map-root-user       map your uid and gid to root inside (implies --user\n"
               "                            and --setgroups=deny)\n"
               "  -c, --map-current-user    map your uid and gid to themselves (implies --user)\n"
               "      --map-user=UID        map your uid to UID inside (implies --user)\n"
               "      --map-group=GID       map your gid to GID inside (implies --user and\n"
               "                            --setgroups=deny)\n"
               "      --map-users=INNER:OUTER:COUNT\n"
               "                            map COUNT uids from OUTER on the host to INNER inside;\n"
               "                            OUTER,INNER,COUNT is accepted too (repeatable)\n"
               "      --map-groups=INNER:OUTER:COUNT\n"
               "                            the same for gids\n"
               "      --map-auto            map your first /etc/subuid and /etc/subgid ranges\n"
               "                            to ids from 0 inside (implies --user)\n"
               "      --setgroups=allow|deny\n"
               "                            whether setgroups(2) works in the user namespace\n"
               "      --monotonic=SECS      offset of CLOCK_MONOTONIC (implies --time)\n"
               "      --boottime=SECS       offset of CLOCK_BOOTTIME (implies --time)\n"
               "      --mount-proc[=DIR]    mount a new procfs on DIR (default /proc), after the\n"
               "                            other file system options; without any, the tree is\n"
               "                            the host's /\n"
               "      --propagation=private the only propagation: nothing is shared\n"
               "\n"
               "Joining namespaces instead (each is then not created; bubblewrap's --userns and\n"
               "--pidns; nsboxd checks that you may enter them):\n"
               "      --userns FD, --mntns FD, --utsns FD, --ipcns FD, --pidns FD, --netns FD,\n"
               "      --cgroupns FD, --timens FD\n"
               "                            enter the namespace open as FD (a /proc/PID/ns file,\n"
               "                            or a pidfd)\n"
               "      --join ID:TYPE[,TYPE...]\n"
               "                            enter namespaces of your sandbox ID (or NAME): user,\n"
               "                            mount, uts, ipc, pid, net, cgroup, time, or all it\n"
               "                            created; e.g. --join web:net for a pod sharing web's\n"
               "                            network (repeatable)\n"
               "  -f, --fork, --kill-child[=KILL]\n"
               "                            accepted: nsboxd always forks, and kills the sandbox\n"
               "                            with SIGKILL when nsbox goes away\n"
               "\n"
               "File system (as bubblewrap; applied in order, each implies --mount; the tree\n"
               "starts as an empty tmpfs, so bind what the command needs; a bind on / is the\n"
               "root and replaces what the options before it built; mounts are nosuid, nodev):\n"
               "  -R, --root DIR            make DIR the sandbox's / (the same as --bind DIR /)\n"
               "      --bind SRC DEST       bind-mount SRC, with everything mounted below it, on DEST\n"
               "      --ro-bind SRC DEST    the same, read-only all the way down\n"
               "      --dev-bind SRC DEST   the same as --bind, device nodes usable (root only)\n"
               "      --bind-try, --ro-bind-try, --dev-bind-try SRC DEST\n"
               "                            the same, skipped if SRC does not exist\n"
               "      --bind-fd FD DEST, --ro-bind-fd FD DEST\n"
               "                            bind the file or directory open as FD\n"
               "      --tmpfs DEST          mount a tmpfs on DEST\n"
               "      --proc DEST           mount procfs on DEST\n"
               "      --dev DEST            mount a minimal /dev on DEST\n"
               "      --mqueue DEST         mount an mqueue filesystem on DEST\n"
               "      --dir DEST            create directory DEST\n"
               "      --symlink TARGET DEST create symlink DEST pointing to TARGET\n"
               "      --file FD DEST        create file DEST with the contents read from FD\n"
               "      --remount-ro DEST     make the mount at DEST read-only\n"
               "      --size BYTES          size of the next --tmpfs (k, m, g suffixes)\n"
               "      --perms OCTAL         mode of what the next --tmpfs, --dir or --file makes\n"
               "\n"
               "Process (as bubblewrap; unshare's names after a slash):\n"
               "      --chdir DIR / -w, --wd DIR\n"
               "                            working directory inside (default, as bubblewrap: the\n"
               "                            current one if it exists inside, else $HOME, else /)\n"
               "      --setenv VAR VALUE    set an environment variable (the environment starts\n"
               "                            as nsbox's own)\n"
               "      --unsetenv VAR        remove an environment variable\n"
               "      --clearenv            start from an empty environment\n"
               "      --hostname NAME       set the hostname (implies --uts)\n"
               "      --uid UID / -S, --setuid UID\n"
               "                            run as UID inside (default: what your uid maps to)\n"
               "      --gid GID / -G, --setgid GID\n"
               "                            run as GID inside (default: what your gid maps to)\n"
               "      --pass-fd FD          pass file descriptor FD on, at the same number\n"
               "      --argv0 VALUE         the command's argv[0] (the first word is still what runs)\n"
               "      --as-pid-1            the command is PID 1 of a new PID namespace (no init)\n"
               "      --new-session, --die-with-parent\n"
               "                            accepted: both are what nsbox always does\n"
               "\n"
               "Confinement (as bubblewrap and podman):\n"
               "      --seccomp PROFILE     the system call filter: 'default' (nsboxd's built-in\n"
               "                            profile, also without this option), 'unconfined', a\n"
               "                            profile FILE (OCI or Docker/Podman format), or FD:\n"
               "                            a classic-BPF program read from FD instead of a profile\n"
               "      --add-seccomp-fd FD   also load the classic-BPF program read from FD\n"
               "                            (repeatable, loaded in order; not with --seccomp FD)\n"
               "      --cap-add CAP|ALL     keep capability CAP (e.g. CAP_NET_ADMIN)\n"
               "      --cap-drop CAP|ALL    drop capability CAP; with either option the set starts\n"
               "                            as everything for root, nothing for others, and the\n"
               "                            options apply in order (see nsbox(1))\n"
               "      --keep-caps           unshare's name for --cap-add ALL\n"
               "      --disable-userns      the sandbox cannot create user namespaces (needs\n"
               "                            --user)\n"
               "\n"
               "Resources (as systemd-run -p; see nsbox(1) for the units):\n"
               "  -p, --property NAME=VALUE a limit of the sandbox's cgroup or processes:\n"
               "                            MemoryMax=, MemoryHigh=, MemorySwapMax=, TasksMax=,\n"
               "                            CPUQuota=, CPUQuotaPeriodSec=, CPUWeight=, CPUShares=,\n"
               "                            RuntimeMaxSec= and LimitNOFILE= etc. (systemd.exec(5));\n"
               "                            -p followed by NAME=VALUE is this, otherwise --pid\n"
               "\n"
               "Control:\n"
               "      --name NAME           a name shown by 'nsbox list'\n"
               "      --pty                 give the command a new pseudo-terminal and relay it\n"
               "                            (interactive shells, job control)\n"
               "      --capture-output[=BYTES]\n"
               "                            nsboxd keeps the command's stdout and stderr (at\n"
               "                            most BYTES, default its capture-bytes) and nsbox\n"
               "                            prints them as they come: no fds are passed for them\n"
               "      --stdin-data TEXT     the command reads TEXT as its stdin (UTF-8, at most\n"
               "                            nsboxd's stdin-data-bytes) instead of nsbox's stdin\n"
               "      --detach              print the sandbox's id and return at once; the\n"
               "                            command gets /dev/null as stdin/stdout/stderr\n"
               "                            (implies --keep-alive)\n"
               "      --keep-alive          keep the sandbox running when nsbox exits\n"
               "      --no-init             the same as --as-pid-1\n"
               "      --socket PATH         nsboxd's socket (default: $NSBOX_SOCKET, else %s)\n"
               "  -h, --help                show this help\n"
               "\n"
               "Not available: --chmod (create the path with --perms instead), --propagation\n"
               "other than private.\n",
               nsbox_connection_get_default_socket_path());
}

/* "Name=value" with a name as systemd writes them: a capital letter, then letters. */
static bool is_property_assignment(const char *s) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s || s[0] < 'A' || s[0] > 'Z')
                return false;
        for (const char *p = s; p < eq; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                        return false;
        return true;
}

static int set_property(NsboxSpawn *s, RunOptions *o, const char *assignment) {
        int r = nsbox_spawn_set_property(s, assignment);

        switch (r) {
        case 0:
                break;
        case -ENOENT:
                log_error("-p %s: unknown property; nsbox knows MemoryMax, MemoryHigh, MemorySwapMax, TasksMax, "
                          "CPUQuota, CPUQuotaPeriodSec, CPUWeight, CPUShares, RuntimeMaxSec and the Limit*= of "
                          "systemd.exec(5)", assignment);
                return r;
        case -ERANGE:
                log_error("-p %s: the value is out of range (see nsbox(1))", assignment);
                return r;
        case -EINVAL:
                log_error("-p %s: not a valid value: expected %s", assignment,
                          strncmp(assignment, "Limit", 5) == 0 ? "VALUE or SOFT:HARD, or infinity" :
                          strncmp(assignment, "CPUQuota=", 9) == 0 ? "a percentage such as 50% or 200%" :
                          strstr(assignment, "Sec=") ? "a time such as 10, 500ms, 1min 30s, or infinity" :
                          strncmp(assignment, "Memory", 6) == 0 ?
                                                       "a size such as 64M, 1.5G, a percentage of the RAM, or infinity" :
                                                       "a positive number, or infinity");
                return r;
        default:
                log_error("-p %s: %s", assignment, strerror(-r));
                return r;
        }
        if (strncmp(assignment, "MemorySwapMax=", 14) == 0)
                o->swap_max = assignment[14] && strcmp(assignment + 14, "infinity") != 0;
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
                if (cli_parse_uint32(parts[i], &v[i]) < 0)
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
        ARG_MAP_AUTO,
        ARG_SETGROUPS,
        ARG_MONOTONIC,
        ARG_BOOTTIME,
        ARG_UNSHARE_USER,
        ARG_UNSHARE_USER_TRY,
        ARG_UNSHARE_IPC,
        ARG_UNSHARE_PID,
        ARG_UNSHARE_NET,
        ARG_UNSHARE_UTS,
        ARG_UNSHARE_CGROUP,
        ARG_UNSHARE_CGROUP_TRY,
        ARG_UNSHARE_ALL,
        ARG_SHARE_NET,
        ARG_KILL_CHILD,
        ARG_PROPAGATION,
        /* ARG_BIND to ARG_CHMOD (and -R) are the file system options: keep them together. */
        ARG_BIND,
        ARG_RO_BIND,
        ARG_DEV_BIND,
        ARG_BIND_TRY,
        ARG_RO_BIND_TRY,
        ARG_DEV_BIND_TRY,
        ARG_BIND_FD,
        ARG_RO_BIND_FD,
        ARG_TMPFS,
        ARG_PROC,
        ARG_DEV,
        ARG_MQUEUE,
        ARG_DIR,
        ARG_SYMLINK,
        ARG_FILE,
        ARG_REMOUNT_RO,
        ARG_MOUNT_PROC,
        ARG_SIZE,
        ARG_PERMS,
        ARG_CHMOD, /* refused, with a hint */
        ARG_CHDIR,
        ARG_SETENV,
        ARG_UNSETENV,
        ARG_CLEARENV,
        ARG_HOSTNAME,
        ARG_UID,
        ARG_GID,
        ARG_PASS_FD,
        ARG_AS_PID_1,
        ARG_PROPERTY,
        ARG_NEW_SESSION,
        ARG_DIE_WITH_PARENT,
        ARG_ARGV0,
        ARG_KEEP_CAPS,
        ARG_NAME,
        ARG_PTY,
        ARG_CAPTURE_OUTPUT,
        ARG_STDIN_DATA,
        ARG_DETACH,
        ARG_KEEP_ALIVE,
        ARG_NO_INIT,
        ARG_SOCKET,
        ARG_SECCOMP,
        ARG_ADD_SECCOMP_FD,
        ARG_CAP_ADD,
        ARG_CAP_DROP,
        ARG_DISABLE_USERNS,
        ARG_USERNS,
        ARG_MNTNS,
        ARG_UTSNS,
        ARG_IPCNS,
        ARG_PIDNS,
        ARG_NETNS,
        ARG_CGROUPNS,
        ARG_TIMENS,
        ARG_JOIN,
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
        { "fork", no_argument, NULL, 'f' },
        { "map-root-user", no_argument, NULL, 'r' },
        { "map-current-user", no_argument, NULL, 'c' },
        { "map-user", required_argument, NULL, ARG_MAP_USER },
        { "map-group", required_argument, NULL, ARG_MAP_GROUP },
        { "map-users", required_argument, NULL, ARG_MAP_USERS },
        { "map-groups", required_argument, NULL, ARG_MAP_GROUPS },
        { "map-auto", no_argument, NULL, ARG_MAP_AUTO },
        { "setgroups", required_argument, NULL, ARG_SETGROUPS },
        { "monotonic", required_argument, NULL, ARG_MONOTONIC },
        { "boottime", required_argument, NULL, ARG_BOOTTIME },
        { "unshare-user", no_argument, NULL, ARG_UNSHARE_USER },
        { "unshare-user-try", no_argument, NULL, ARG_UNSHARE_USER_TRY },
        { "unshare-ipc", no_argument, NULL, ARG_UNSHARE_IPC },
        { "unshare-pid", no_argument, NULL, ARG_UNSHARE_PID },
        { "unshare-net", no_argument, NULL, ARG_UNSHARE_NET },
        { "unshare-uts", no_argument, NULL, ARG_UNSHARE_UTS },
        { "unshare-cgroup", no_argument, NULL, ARG_UNSHARE_CGROUP },
        { "unshare-cgroup-try", no_argument, NULL, ARG_UNSHARE_CGROUP_TRY },
        { "unshare-all", no_argument, NULL, ARG_UNSHARE_ALL },
        { "share-net", no_argument, NULL, ARG_SHARE_NET },
        { "kill-child", optional_argument, NULL, ARG_KILL_CHILD },
        { "propagation", required_argument, NULL, ARG_PROPAGATION },
        { "root", required_argument, NULL, 'R' },
        { "bind", required_argument, NULL, ARG_BIND },
        { "ro-bind", required_argument, NULL, ARG_RO_BIND },
        { "dev-bind", required_argument, NULL, ARG_DEV_BIND },
        { "bind-try", required_argument, NULL, ARG_BIND_TRY },
        { "ro-bind-try", required_argument, NULL, ARG_RO_BIND_TRY },
        { "dev-bind-try", required_argument, NULL, ARG_DEV_BIND_TRY },
        { "bind-fd", required_argument, NULL, ARG_BIND_FD },
        { "ro-bind-fd", required_argument, NULL, ARG_RO_BIND_FD },
        { "tmpfs", required_argument, NULL, ARG_TMPFS },
        { "proc", required_argument, NULL, ARG_PROC },
        { "dev", required_argument, NULL, ARG_DEV },
        { "mqueue", required_argument, NULL, ARG_MQUEUE },
        { "dir", required_argument, NULL, ARG_DIR },
        { "symlink", required_argument, NULL, ARG_SYMLINK },
        { "file", required_argument, NULL, ARG_FILE },
        { "remount-ro", required_argument, NULL, ARG_REMOUNT_RO },
        { "mount-proc", optional_argument, NULL, ARG_MOUNT_PROC },
        { "size", required_argument, NULL, ARG_SIZE },
        { "perms", required_argument, NULL, ARG_PERMS },
        { "chmod", required_argument, NULL, ARG_CHMOD },
        { "chdir", required_argument, NULL, ARG_CHDIR },
        { "wd", required_argument, NULL, 'w' },
        { "setenv", required_argument, NULL, ARG_SETENV },
        { "unsetenv", required_argument, NULL, ARG_UNSETENV },
        { "clearenv", no_argument, NULL, ARG_CLEARENV },
        { "hostname", required_argument, NULL, ARG_HOSTNAME },
        { "uid", required_argument, NULL, ARG_UID },
        { "setuid", required_argument, NULL, 'S' },
        { "gid", required_argument, NULL, ARG_GID },
        { "setgid", required_argument, NULL, 'G' },
        { "pass-fd", required_argument, NULL, ARG_PASS_FD },
        { "as-pid-1", no_argument, NULL, ARG_AS_PID_1 },
        { "property", required_argument, NULL, ARG_PROPERTY },
        { "new-session", no_argument, NULL, ARG_NEW_SESSION },
        { "die-with-parent", no_argument, NULL, ARG_DIE_WITH_PARENT },
        { "argv0", required_argument, NULL, ARG_ARGV0 },
        { "keep-caps", no_argument, NULL, ARG_KEEP_CAPS },
        { "name", required_argument, NULL, ARG_NAME },
        { "pty", no_argument, NULL, ARG_PTY },
        { "capture-output", optional_argument, NULL, ARG_CAPTURE_OUTPUT },
        { "stdin-data", required_argument, NULL, ARG_STDIN_DATA },
        { "detach", no_argument, NULL, ARG_DETACH },
        { "keep-alive", no_argument, NULL, ARG_KEEP_ALIVE },
        { "no-init", no_argument, NULL, ARG_NO_INIT },
        { "socket", required_argument, NULL, ARG_SOCKET },
        { "seccomp", required_argument, NULL, ARG_SECCOMP },
        { "add-seccomp-fd", required_argument, NULL, ARG_ADD_SECCOMP_FD },
        { "cap-add", required_argument, NULL, ARG_CAP_ADD },
        { "cap-drop", required_argument, NULL, ARG_CAP_DROP },
        { "disable-userns", no_argument, NULL, ARG_DISABLE_USERNS },
        { "userns", required_argument, NULL, ARG_USERNS },
        { "mntns", required_argument, NULL, ARG_MNTNS },
        { "utsns", required_argument, NULL, ARG_UTSNS },
        { "ipcns", required_argument, NULL, ARG_IPCNS },
        { "pidns", required_argument, NULL, ARG_PIDNS },
        { "netns", required_argument, NULL, ARG_NETNS },
        { "cgroupns", required_argument, NULL, ARG_CGROUPNS },
        { "timens", required_argument, NULL, ARG_TIMENS },
        { "join", required_argument, NULL, ARG_JOIN },
        {}
};

/* The namespace types by name, as the protocol and /proc/PID/ns spell them. */
static const struct {
        const char *name;
        const char *proc_name;
        unsigned flag;
        int option; /* its --TYPEns option */
} namespace_types[] = {
        { "user", "user", NSBOX_NAMESPACE_USER, ARG_USERNS },
        { "mount", "mnt", NSBOX_NAMESPACE_MOUNT, ARG_MNTNS },
        { "uts", "uts", NSBOX_NAMESPACE_UTS, ARG_UTSNS },
        { "ipc", "ipc", NSBOX_NAMESPACE_IPC, ARG_IPCNS },
        { "pid", "pid", NSBOX_NAMESPACE_PID, ARG_PIDNS },
        { "net", "net", NSBOX_NAMESPACE_NET, ARG_NETNS },
        { "cgroup", "cgroup", NSBOX_NAMESPACE_CGROUP, ARG_CGROUPNS },
        { "time", "time", NSBOX_NAMESPACE_TIME, ARG_TIMENS },
};

/* The option as the user typed it, long form: "--bind", "-r" for the short-only ones. */
static const char *option_name(int c) {
        static char buf[4];

        for (const struct option *o = run_options; o->name; o++)
                if (o->val == c)
                        return o->name;
        snprintf(buf, sizeof buf, "%c", c);
        return buf;
}

/* bubblewrap's two-argument options: the second argument is the next word. */
static int second_arg(int argc, char *argv[], int c, const char *what, const char **ret) {
        if (optind >= argc || strcmp(argv[optind], "--") == 0) {
                log_error("--%s needs two arguments, %s %s; got only %s", option_name(c),
                          c == ARG_SETENV ? "VAR" : c == ARG_SYMLINK ? "TARGET" : c == ARG_FILE ? "FD" : "SRC", what,
                          optarg);
                return -EINVAL;
        }
        *ret = argv[optind++];
        return 0;
}

static bool is_filesystem_option(int c) {
        return c == 'R' || (c >= ARG_BIND && c <= ARG_CHMOD);
}

/* A uid or gid given to option c. */
static int parse_id_argument(int c, uint32_t *ret) {
        if (cli_parse_uint32(optarg, ret) < 0 || *ret == UINT32_MAX) {
                log_error("--%s %s: not a user or group id (0 to 4294967294)", option_name(c), optarg);
                return -EINVAL;
        }
        return 0;
}

static unsigned namespace_flag_of(int c) {
        switch (c) {
        case 'm':
                return NSBOX_NAMESPACE_MOUNT;
        case 'u':
        case ARG_UNSHARE_UTS:
                return NSBOX_NAMESPACE_UTS;
        case 'i':
        case ARG_UNSHARE_IPC:
                return NSBOX_NAMESPACE_IPC;
        case 'n':
        case ARG_UNSHARE_NET:
                return NSBOX_NAMESPACE_NET;
        case 'p':
        case ARG_UNSHARE_PID:
                return NSBOX_NAMESPACE_PID;
        case 'U':
        case ARG_UNSHARE_USER:
        case ARG_UNSHARE_USER_TRY:
                return NSBOX_NAMESPACE_USER;
        case 'C':
        case ARG_UNSHARE_CGROUP:
        case ARG_UNSHARE_CGROUP_TRY:
                return NSBOX_NAMESPACE_CGROUP;
        case 'T':
                return NSBOX_NAMESPACE_TIME;
        case ARG_UNSHARE_ALL:
                /* bubblewrap's set: everything but mount (made anyway for the tree) and time. */
                return NSBOX_NAMESPACE_USER | NSBOX_NAMESPACE_IPC | NSBOX_NAMESPACE_PID | NSBOX_NAMESPACE_NET |
                       NSBOX_NAMESPACE_UTS | NSBOX_NAMESPACE_CGROUP;
        }
        return 0;
}

/* Appends a formatted string to a list of option texts. */
_printf_(3, 4) static int record(char ***list, size_t *n, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        char **l;
        int k;

        va_start(ap, format);
        k = vasprintf(&text, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        l = reallocarray(*list, *n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        l[(*n)++] = TAKE_PTR(text);
        *list = l;
        return 0;
}

static int add_range(RunIdRange **list, size_t *n, uint32_t inner, uint32_t outer, uint32_t count) {
        RunIdRange *l = reallocarray(*list, *n + 1, sizeof(RunIdRange));

        if (!l)
                return -ENOMEM;
        l[(*n)++] = (RunIdRange) { inner, outer, count };
        *list = l;
        return 0;
}

/* Adds a uid (or gid) mapping, remembering the range and the option that asked for it. */
_printf_(7, 8) static int add_mapping(NsboxSpawn *s, RunOptions *o, bool gid, uint32_t inner, uint32_t outer,
                                      uint32_t count, const char *origin, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int r;

        r = gid ? nsbox_spawn_add_gid_mapping(s, inner, outer, count) : nsbox_spawn_add_uid_mapping(s, inner, outer, count);
        if (r < 0)
                return r;

        va_start(ap, origin);
        r = vasprintf(&text, origin, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        r = gid ? add_range(&o->gid_ranges, &o->n_gid_ranges, inner, outer, count) :
                  add_range(&o->uid_ranges, &o->n_uid_ranges, inner, outer, count);
        if (r < 0)
                return r;
        return gid ? record(&o->gid_mapping_origins, &o->n_gid_mapping_origins, "%s", text) :
                     record(&o->uid_mapping_origins, &o->n_uid_mapping_origins, "%s", text);
}

/* Why libnsbox refused option c's arguments (it checks only what it can without the daemon). */
static const char *local_problem(int c) {
        switch (c) {
        case ARG_SETENV:
        case ARG_UNSETENV:
                return "VAR must be a non-empty name without '='";
        case ARG_SYMLINK:
                return "TARGET must not be empty and DEST must be an absolute path inside the sandbox";
        case ARG_BIND:
        case ARG_RO_BIND:
        case ARG_DEV_BIND:
        case ARG_BIND_TRY:
        case ARG_RO_BIND_TRY:
        case ARG_DEV_BIND_TRY:
                return "SRC must not be empty and DEST must be an absolute path inside the sandbox";
        case ARG_MAP_USERS:
        case ARG_MAP_GROUPS:
                return "COUNT must be at least 1 and neither range may pass 4294967295";
        case ARG_MONOTONIC:
        case ARG_BOOTTIME:
                return "not a valid offset";
        default:
                return "DEST must be an absolute path inside the sandbox";
        }
}

/* The first /etc/subuid (or subgid) range of the user with this uid, as "name:start:count" or "uid:start:count". */
static int read_subid_range(const char *path, uid_t uid, uint32_t *ret_start, uint32_t *ret_count) {
        _cleanup_free_ char *line = NULL;
        struct passwd *pw = getpwuid(uid);
        char uid_text[16];
        size_t size = 0;
        int r = -ENOENT;
        FILE *f;

        snprintf(uid_text, sizeof uid_text, "%u", (unsigned) uid);
        f = fopen(path, "re");
        if (!f)
                return -errno;

        while (r < 0 && getline(&line, &size, f) > 0) {
                char *colon = strchr(line, ':');
                uint32_t start, count;

                if (!colon)
                        continue;
                *colon = 0;
                if (!streq(line, uid_text) && !(pw && streq(line, pw->pw_name)))
                        continue;
                if (sscanf(colon + 1, "%" SCNu32 ":%" SCNu32, &start, &count) != 2 || count == 0)
                        continue;
                *ret_start = start;
                *ret_count = count;
                r = 0;
        }
        fclose(f);
        return r;
}

/* "/", "//", "/./": the destinations the daemon takes for the root. */
static bool path_is_root(const char *path) {
        if (path[0] != '/')
                return false;
        for (const char *p = path; *p; p++)
                if (*p != '/' && !(*p == '.' && (p[1] == '/' || p[1] == 0) && p[-1] == '/'))
                        return false;
        return true;
}

/* A bind on / is the root, in its place among the other options; a sandbox has one. */
static int note_root(RunOptions *o, int c, const char *arg) {
        if (o->root_origin) {
                log_error("--%s %s%s: the sandbox already has a root, from %s", option_name(c), arg,
                          c == 'R' ? "" : " /", o->root_origin);
                return -EINVAL;
        }
        if (asprintf(&o->root_origin, "--%s %s%s", option_name(c), arg, c == 'R' ? "" : " /") < 0) {
                o->root_origin = NULL;
                return -ENOMEM;
        }
        o->root = arg;
        return 0;
}

/* Records what made the mount just added, so a refusal can name the option. */
static int record_mount(RunOptions *o, int c, const char *arg, const char *second) {
        return record(&o->mount_origins, &o->n_mount_origins, "--%s %s%s%s", option_name(c), arg, second ? " " : "",
                      second ?: "");
}

/* The options that make a mount; r is what the library said. */
static int parse_filesystem_option(int argc, char *argv[], int c, NsboxSpawn *s, RunOptions *o) {
        _cleanup_free_ char *src = NULL;
        const char *second = NULL;
        uint32_t id;
        int r = 0;

        /* bubblewrap's rule: --size and --perms apply to the very next option, which must use them. */
        if (o->next_size > 0 && c != ARG_TMPFS && c != ARG_PERMS) {
                log_error("--size must be followed by --tmpfs, not --%s", option_name(c));
                return -EINVAL;
        }
        if (o->next_perms >= 0 && c != ARG_TMPFS && c != ARG_DIR && c != ARG_FILE && c != ARG_SIZE) {
                log_error("--perms must be followed by --tmpfs, --dir or --file, not --%s", option_name(c));
                return -EINVAL;
        }

        switch (c) {
        case 'R':
                src = cli_host_path(optarg);
                if (!src)
                        return -ENOMEM;
                r = note_root(o, c, optarg);
                if (r < 0)
                        return r;
                o->binds = true;
                r = nsbox_spawn_add_bind(s, src, "/", 0);
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_BIND:
        case ARG_RO_BIND:
        case ARG_DEV_BIND:
        case ARG_BIND_TRY:
        case ARG_RO_BIND_TRY:
        case ARG_DEV_BIND_TRY: {
                bool ro = c == ARG_RO_BIND || c == ARG_RO_BIND_TRY, dev = c == ARG_DEV_BIND || c == ARG_DEV_BIND_TRY;

                if (second_arg(argc, argv, c, "DEST", &second) < 0)
                        return -EINVAL;
                src = cli_host_path(optarg);
                if (!src)
                        return -ENOMEM;
                if ((c == ARG_BIND_TRY || c == ARG_RO_BIND_TRY || c == ARG_DEV_BIND_TRY) && access(src, F_OK) < 0 &&
                    errno == ENOENT)
                        return 0; /* what -try means: a missing source is skipped */
                o->binds = true;
                if (path_is_root(second)) {
                        r = note_root(o, c, optarg);
                        if (r < 0)
                                return r;
                }
                r = nsbox_spawn_add_bind(s, src, second,
                                         ro ? NSBOX_MOUNT_READ_ONLY : dev ? NSBOX_MOUNT_ALLOW_DEV : 0);
                if (r >= 0)
                        r = record_mount(o, c, optarg, second);
                break;
        }
        case ARG_BIND_FD:
        case ARG_RO_BIND_FD:
                if (second_arg(argc, argv, c, "DEST", &second) < 0)
                        return -EINVAL;
                if (cli_parse_uint32(optarg, &id) < 0 || id > INT32_MAX) {
                        log_error("--%s %s %s: not a file descriptor number: %s", option_name(c), optarg, second,
                                  optarg);
                        return -EINVAL;
                }
                if (path_is_root(second)) {
                        r = note_root(o, c, optarg);
                        if (r < 0)
                                return r;
                }
                o->binds = true;
                r = nsbox_spawn_add_bind_fd(s, (int) id, second, c == ARG_RO_BIND_FD ? NSBOX_MOUNT_READ_ONLY : 0);
                if (r >= 0)
                        r = record_mount(o, c, optarg, second);
                break;
        case ARG_TMPFS:
                r = nsbox_spawn_add_tmpfs(s, optarg, o->next_size, o->next_perms, 0);
                o->next_size = 0;
                o->next_perms = -1;
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_MOUNT_PROC:
                /* As unshare does it: after the rest of the tree, which run_options_apply() knows. */
                o->mount_proc = true;
                o->mount_proc_dir = optarg ?: "/proc";
                return 0;
        case ARG_PROC:
                r = nsbox_spawn_add_proc(s, optarg);
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_DEV:
                r = nsbox_spawn_add_dev(s, optarg);
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_MQUEUE:
                r = nsbox_spawn_add_mqueue(s, optarg);
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_DIR:
                r = nsbox_spawn_add_dir(s, optarg, o->next_perms);
                o->next_perms = -1;
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_SYMLINK:
                if (second_arg(argc, argv, c, "DEST", &second) < 0)
                        return -EINVAL;
                r = nsbox_spawn_add_symlink(s, optarg, second);
                if (r >= 0)
                        r = record_mount(o, c, optarg, second);
                break;
        case ARG_FILE:
                if (second_arg(argc, argv, c, "DEST", &second) < 0)
                        return -EINVAL;
                if (cli_parse_uint32(optarg, &id) < 0 || id > INT32_MAX) {
                        log_error("--file %s %s: not a file descriptor number: %s", optarg, second, optarg);
                        return -EINVAL;
                }
                r = nsbox_spawn_add_file(s, (int) id, second, o->next_perms);
                o->next_perms = -1;
                if (r >= 0)
                        r = record_mount(o, c, optarg, second);
                break;
        case ARG_REMOUNT_RO:
                r = nsbox_spawn_add_remount_ro(s, optarg);
                if (r >= 0)
                        r = record_mount(o, c, optarg, NULL);
                break;
        case ARG_SIZE:
                if (cli_parse_size(optarg, &o->next_size) < 0 || o->next_size == 0) {
                        log_error("--size %s: not a size in bytes (a number, optionally with k, m or g)", optarg);
                        return -EINVAL;
                }
                return 0;
        case ARG_PERMS:
                if (cli_parse_mode(optarg, &o->next_perms) < 0) {
                        log_error("--perms %s: not an octal mode (0 to 7777)", optarg);
                        return -EINVAL;
                }
                return 0;
        case ARG_CHMOD:
                log_error("--chmod: nsboxd does not change the mode of what exists; create the path with the "
                          "mode instead (--perms %s --dir PATH, or --tmpfs, --file)",
                          optarg);
                return -EOPNOTSUPP;
        }

        if (r == -ENOMEM) {
                log_error("out of memory");
                return r;
        }
        if (r == -EBADF) {
                log_error("--%s %s%s%s: file descriptor %s is not open", option_name(c), optarg, second ? " " : "",
                          second ?: "", optarg);
                return r;
        }
        if (r < 0) {
                log_error("--%s %s%s%s: %s", option_name(c), optarg, second ? " " : "", second ?: "",
                          r == -EINVAL ? local_problem(c) : strerror(-r));
                return r;
        }
        return 0;
}

/* bubblewrap's --cap-add/--cap-drop: CAP (any case, as libcap reads it) or ALL, applied in order. */
static int change_capabilities(RunOptions *o, int c, const char *arg) {
        uint64_t bits;

        if (!o->caps_changed) {
                /* As bubblewrap: root starts from every capability, anyone else from none. */
                o->caps = geteuid() == 0 ? cli_all_capabilities() : 0;
                o->caps_changed = true;
        }
        if (cli_parse_capability(arg, &bits) < 0) {
                log_error("--%s %s: unknown capability; names are as in capabilities(7), e.g. CAP_NET_ADMIN, or ALL",
                          option_name(c), arg);
                return -EINVAL;
        }
        if (c == ARG_CAP_ADD)
                o->caps |= bits;
        else
                o->caps &= ~bits;
        return 0;
}

static int parse_fd_argument(int c, int *ret) {
        uint32_t id;

        if (cli_parse_uint32(optarg, &id) < 0 || id > INT32_MAX) {
                log_error("--%s %s: not a file descriptor number", option_name(c), optarg);
                return -EINVAL;
        }
        *ret = (int) id;
        return 0;
}

/* --userns FD and the like (bubblewrap's --userns and --pidns): enter the namespace open as FD. */
static int join_fd_option(NsboxSpawn *s, RunOptions *o, int c) {
        int fd, r;

        if (parse_fd_argument(c, &fd) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++) {
                if (namespace_types[i].option != c)
                        continue;
                if (o->joined_namespaces & namespace_types[i].flag) {
                        log_error("--%s %s: the %s namespace is joined already", option_name(c), optarg,
                                  namespace_types[i].name);
                        return -EINVAL;
                }
                r = nsbox_spawn_join_namespace(s, namespace_types[i].name, fd);
                if (r < 0) {
                        log_error("--%s %s: %s", option_name(c), optarg,
                                  r == -EBADF ? "not an open file descriptor" : strerror(-r));
                        return r;
                }
                o->joined_namespaces |= namespace_types[i].flag;
                if (namespace_types[i].flag == NSBOX_NAMESPACE_USER)
                        o->userns_fd = fd;
                return 0;
        }
        return -EINVAL;
}

/* --join ID:TYPE[,TYPE...] (TYPE "all": every namespace it created); the sandbox is looked up once connected. */
static int parse_join(RunOptions *o, const char *arg) {
        _cleanup_free_ char *copy = strdup(arg);
        char *colon, *save = NULL;
        unsigned types = 0;
        RunJoin *j;

        if (!copy)
                return -ENOMEM;
        colon = strrchr(copy, ':');
        if (!colon || colon == copy || !colon[1]) {
                log_error("--join %s: expected ID:TYPE[,TYPE...], e.g. --join web:net (TYPE: user, mount, uts, ipc, "
                          "pid, net, cgroup, time, or all)",
                          arg);
                return -EINVAL;
        }
        *colon = 0;
        for (char *t = strtok_r(colon + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                bool found = false;

                if (strcmp(t, "all") == 0) {
                        types = 0;
                        break;
                }
                for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++)
                        if (strcmp(t, namespace_types[i].name) == 0 || strcmp(t, namespace_types[i].proc_name) == 0) {
                                types |= namespace_types[i].flag;
                                found = true;
                        }
                if (!found) {
                        log_error("--join %s: unknown namespace type \"%s\" (user, mount, uts, ipc, pid, net, "
                                  "cgroup, time, or all)",
                                  arg, t);
                        return -EINVAL;
                }
        }

        j = reallocarray(o->joins, o->n_joins + 1, sizeof(RunJoin));
        if (!j)
                return -ENOMEM;
        o->joins = j;
        j += o->n_joins;
        *j = (RunJoin) { .sandbox = strdup(copy), .types = types };
        if (!j->sandbox || asprintf(&j->origin, "--join %s", arg) < 0) {
                free(j->sandbox);
                return -ENOMEM;
        }
        o->n_joins++;
        /* "all" is only known once connected; what it turns out to be is left uncreated then. */
        o->joined_namespaces |= types;
        return 0;
}

static int inspect_running(NsboxConnection *c, const RunJoin *j, NsboxSandboxInfo **ret) {
        int r = nsbox_inspect(c, j->sandbox, ret);

        if (r < 0)
                return cli_call_failed(c, r, j->origin);
        if (nsbox_sandbox_info_get_state(*ret) != NSBOX_STATE_RUNNING) {
                log_error("%s: the sandbox is %s, not running", j->origin,
                          nsbox_state_to_string(nsbox_sandbox_info_get_state(*ret)) ?: "not running");
                *ret = nsbox_sandbox_info_free(*ret);
                return -ESRCH;
        }
        return 0;
}

/*
 * The namespaces of the sandbox's top process: its /proc/PID/ns files where
 * we may open them, else a pidfd, which nsboxd resolves to the namespace of
 * each type the process is in (Linux 6.11 or later): a sandbox's init is not
 * dumpable, so its /proc/PID/ns is root's. Its pid is only its own while it
 * is not reaped: it is looked up again afterwards, and must still run.
 */
static int resolve_join(NsboxConnection *c, NsboxSpawn *s, RunOptions *o, RunJoin *j) {
        _cleanup_(nsbox_sandbox_info_freep) NsboxSandboxInfo *before = NULL, *after = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        int fds[ELEMENTSOF(namespace_types)], r;
        unsigned types = j->types;
        pid_t pid;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = -EBADF;

        r = inspect_running(c, j, &before);
        if (r < 0)
                return r;
        pid = nsbox_sandbox_info_get_pid(before);
        if (types == 0) {
                types = nsbox_sandbox_info_get_namespaces(before);
                if (types & o->joined_namespaces & ~j->types) {
                        log_error("%s: a namespace of it is joined twice", j->origin);
                        return -EINVAL;
                }
                o->joined_namespaces |= types;
        }

        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++) {
                char path[64];

                if (!(types & namespace_types[i].flag))
                        continue;
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, namespace_types[i].proc_name);
                fds[i] = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fds[i] >= 0)
                        continue;
                if (errno != EACCES && errno != EPERM) {
                        r = -errno;
                        log_error("%s: %s: %s", j->origin, path, strerror(-r));
                        goto finish;
                }
                if (pidfd < 0) {
                        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                        if (pidfd < 0) {
                                r = -errno;
                                log_error("%s: pidfd_open(%d): %s", j->origin, (int) pid, strerror(-r));
                                goto finish;
                        }
                }
                fds[i] = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
                if (fds[i] < 0) {
                        r = -errno;
                        goto finish;
                }
        }

        r = inspect_running(c, j, &after);
        if (r < 0)
                goto finish;
        if (nsbox_sandbox_info_get_pid(after) != pid) {
                log_error("%s: the sandbox changed while its namespaces were opened", j->origin);
                r = -ESRCH;
                goto finish;
        }

        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++) {
                if (fds[i] < 0)
                        continue;
                r = nsbox_spawn_join_namespace(s, namespace_types[i].name, fds[i]);
                if (r < 0) {
                        log_error("%s: %s", j->origin, strerror(-r));
                        goto finish;
                }
                if (namespace_types[i].flag == NSBOX_NAMESPACE_USER && o->have_uid != o->have_gid)
                        o->have_joined_ids = cli_ids_in_user_namespace(fds[i], &o->joined_uid, &o->joined_gid) >= 0;
        }
        r = 0;
finish:
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                safe_close(fds[i]);
        return r;
}

int run_options_resolve_joins(NsboxConnection *c, NsboxSpawn *s, RunOptions *o) {
        int r;

        for (size_t i = 0; i < o->n_joins; i++) {
                r = resolve_join(c, s, o, &o->joins[i]);
                if (r < 0)
                        return r;
        }

        /*
         * In a user namespace joined, --uid or --gid alone leaves the other one to what ours maps to there
         * (as nsbox(1) says of both, and as bubblewrap's --userns does): its number on the host means nothing
         * there. Known only now for --join. Where we cannot ask, the host's number stays, and nsboxd refuses
         * it if that namespace does not map it.
         */
        if ((o->joined_namespaces & NSBOX_NAMESPACE_USER) && o->have_uid != o->have_gid) {
                if (!o->have_joined_ids && o->userns_fd >= 0)
                        o->have_joined_ids = cli_ids_in_user_namespace(o->userns_fd, &o->joined_uid,
                                                                       &o->joined_gid) >= 0;
                if (o->have_joined_ids) {
                        r = nsbox_spawn_set_user(s, o->have_uid ? o->uid : o->joined_uid,
                                                 o->have_gid ? o->gid : o->joined_gid, NULL, 0);
                        if (r < 0)
                                return r;
                }
        }

        /* Whatever "all" turned out to be is joined, not created. */
        return nsbox_spawn_set_namespaces(s, nsbox_spawn_get_namespaces(s) & ~o->joined_namespaces);
}

int run_options_parse(int argc, char *argv[], NsboxSpawn *s, RunOptions *o) {
        int c, r, fd;

        o->next_perms = -1;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+hmuinpUCTrcfR:w:S:G:", run_options, NULL)) >= 0) {
                const char *second = NULL;
                uint32_t inner, outer, count, id;
                int64_t secs;

                /* "--hostname -- cmd" would take "--" as the name and run "cmd" without one. */
                if (optarg && strcmp(optarg, "--") == 0) {
                        log_error("--%s needs an argument before \"--\"", option_name(c));
                        return -EINVAL;
                }

                if (is_filesystem_option(c)) {
                        r = parse_filesystem_option(argc, argv, c, s, o);
                        if (r < 0)
                                return r;
                        /* File system options need a mount namespace, and they change the tree our cwd is
                         * looked up in. */
                        o->implied_namespaces |= NSBOX_NAMESPACE_MOUNT;
                        o->filesystem = true;
                        continue;
                }
                if (o->next_size > 0 || o->next_perms >= 0) {
                        log_error("--%s must be followed by %s, not --%s", o->next_size > 0 ? "size" : "perms",
                                  o->next_size > 0 ? "--tmpfs" : "--tmpfs, --dir or --file", option_name(c));
                        return -EINVAL;
                }

                r = 0;
                switch (c) {
                case 'h':
                        run_help();
                        return 0;
                case 'p':
                        /* systemd-run's -p NAME=VALUE, or unshare's -p: only a standalone -p followed
                         * by a systemd-style assignment is the former. */
                        if (strcmp(argv[optind - 1], "-p") == 0 && optind < argc && is_property_assignment(argv[optind])) {
                                if (set_property(s, o, argv[optind++]) < 0)
                                        return -EINVAL;
                                break;
                        }
                        o->implied_namespaces |= namespace_flag_of(c);
                        break;
                case 'm':
                case 'u':
                case 'i':
                case 'n':
                case 'U':
                case 'C':
                case 'T':
                case ARG_UNSHARE_USER:
                case ARG_UNSHARE_USER_TRY:
                case ARG_UNSHARE_IPC:
                case ARG_UNSHARE_PID:
                case ARG_UNSHARE_NET:
                case ARG_UNSHARE_UTS:
                case ARG_UNSHARE_CGROUP:
                case ARG_UNSHARE_CGROUP_TRY:
                case ARG_UNSHARE_ALL:
                        o->implied_namespaces |= namespace_flag_of(c);
                        break;
                case ARG_SHARE_NET:
                        o->share_net = true;
                        break;
                case 'f':
                case ARG_NEW_SESSION:
                case ARG_DIE_WITH_PARENT:
                        break; /* what nsbox always does */
                case ARG_KILL_CHILD:
                        if (optarg && cli_parse_signal(optarg) != SIGKILL) {
                                log_error("--kill-child=%s: nsboxd stops a sandbox whose nsbox went away with "
                                          "SIGKILL only; use --kill-child or --kill-child=KILL",
                                          optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_PROPAGATION:
                        if (strcmp(optarg, "private") != 0) {
                                log_error("--propagation=%s: the sandbox's mounts are always private (nothing "
                                          "propagates in or out); only --propagation=private is accepted",
                                          optarg);
                                return -EINVAL;
                        }
                        break;
                case 'r':
                        o->map_root = true;
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case 'c':
                        o->map_current_user = true;
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case ARG_MAP_AUTO:
                        o->map_auto = true;
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
                                log_error("--%s=%s: expected INNER:OUTER:COUNT (or OUTER,INNER,COUNT)", option_name(c),
                                          optarg);
                                return -EINVAL;
                        }
                        r = add_mapping(s, o, c == ARG_MAP_GROUPS, inner, outer, count, "--%s=%s", option_name(c),
                                        optarg);
                        o->implied_namespaces |= NSBOX_NAMESPACE_USER;
                        break;
                case ARG_SETGROUPS:
                        if (strcmp(optarg, "allow") == 0)
                                o->setgroups = true;
                        else if (strcmp(optarg, "deny") == 0)
                                o->setgroups = false;
                        else {
                                log_error("--setgroups=%s: expected allow or deny", optarg);
                                return -EINVAL;
                        }
                        o->have_setgroups = true;
                        break;
                case ARG_MONOTONIC:
                case ARG_BOOTTIME:
                        if (parse_int64(optarg, &secs) < 0) {
                                log_error("--%s=%s: not a number of seconds", option_name(c), optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_set_time_offset(s, c == ARG_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_BOOTTIME,
                                                        secs, 0);
                        o->implied_namespaces |= NSBOX_NAMESPACE_TIME;
                        break;
                case ARG_CHDIR:
                case 'w':
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
                case 'S':
                case 'G':
                        if (parse_id_argument(c, &id) < 0)
                                return -EINVAL;
                        if (c == ARG_UID || c == 'S') {
                                o->have_uid = true;
                                o->uid = id;
                        } else {
                                o->have_gid = true;
                                o->gid = id;
                        }
                        break;
                case ARG_PASS_FD:
                        if (cli_parse_uint32(optarg, &id) < 0 || id < 3 || id > 1023) {
                                log_error("--pass-fd %s: expected a file descriptor number 3..1023", optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_add_fd(s, (int) id, (int) id);
                        break;
                case ARG_AS_PID_1:
                case ARG_NO_INIT:
                        o->no_init = true;
                        break;
                case ARG_PROPERTY:
                        if (set_property(s, o, optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_ARGV0:
                        r = nsbox_spawn_set_argv0(s, optarg);
                        break;
                case ARG_KEEP_CAPS:
                        /* unshare's: the capabilities of the user namespace survive exec, whatever the uid. */
                        if (change_capabilities(o, ARG_CAP_ADD, "ALL") < 0)
                                return -EINVAL;
                        break;
                case ARG_NAME:
                        r = nsbox_spawn_set_name(s, optarg);
                        break;
                case ARG_USERNS:
                case ARG_MNTNS:
                case ARG_UTSNS:
                case ARG_IPCNS:
                case ARG_PIDNS:
                case ARG_NETNS:
                case ARG_CGROUPNS:
                case ARG_TIMENS:
                        r = join_fd_option(s, o, c);
                        if (r < 0)
                                return r;
                        break;
                case ARG_JOIN:
                        r = parse_join(o, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_PTY:
                        o->pty = true;
                        break;
                case ARG_CAPTURE_OUTPUT:
                        o->capture_output = true;
                        o->capture_bytes = 0;
                        if (optarg && (cli_parse_size(optarg, &o->capture_bytes) < 0 || o->capture_bytes == 0)) {
                                log_error("--capture-output=%s: expected a size in bytes (with K, M or G)", optarg);
                                return -EINVAL;
                        }
                        r = nsbox_spawn_set_capture_output(s, true, o->capture_bytes);
                        break;
                case ARG_STDIN_DATA:
                        o->stdin_data = true;
                        r = nsbox_spawn_set_stdin_data(s, optarg, strlen(optarg));
                        if (r == -EINVAL) {
                                log_error("--stdin-data: TEXT must be UTF-8");
                                return r;
                        }
                        break;
                case ARG_DETACH:
                        o->detach = true;
                        break;
                case ARG_KEEP_ALIVE:
                        o->keep_alive = true;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_SECCOMP:
                        /* As bubblewrap: the last --seccomp wins. */
                        o->seccomp = NULL;
                        o->seccomp_fd = -1;
                        if (optarg[0] >= '0' && optarg[0] <= '9') {
                                if (parse_fd_argument(c, &o->seccomp_fd) < 0)
                                        return -EINVAL;
                        } else
                                o->seccomp = optarg;
                        break;
                case ARG_ADD_SECCOMP_FD:
                        if (parse_fd_argument(c, &fd) < 0)
                                return -EINVAL;
                        r = nsbox_spawn_add_seccomp_fd(s, fd);
                        o->add_seccomp_fd = true;
                        break;
                case ARG_CAP_ADD:
                case ARG_CAP_DROP:
                        if (change_capabilities(o, c, optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_DISABLE_USERNS:
                        o->disable_userns = true;
                        break;
                default:
                        if (optopt != 0 && strchr("RwSG", optopt))
                                log_error("-%c needs an argument; see 'nsbox run --help'", optopt);
                        else
                                log_error("unknown option or missing argument: %s; see 'nsbox run --help'",
                                          argv[optind - 1]);
                        return -EINVAL;
                }

                if (r == -EBADF) {
                        log_error("--%s %s: file descriptor %s is not open", option_name(c), optarg, optarg);
                        return r;
                }
                if (r < 0) {
                        log_error("--%s%s%s%s%s: %s", option_name(c), optarg ? " " : "", optarg ?: "",
                                  second ? " " : "", second ?: "", r == -EINVAL ? local_problem(c) : strerror(-r));
                        return r;
                }
        }

        if (o->next_size > 0 || o->next_perms >= 0) {
                log_error("--%s must be followed by %s", o->next_size > 0 ? "size" : "perms",
                          o->next_size > 0 ? "--tmpfs" : "--tmpfs, --dir or --file");
                return -EINVAL;
        }
        if (optind >= argc) {
                log_error("no command given; usage: nsbox run [OPTIONS] [--] COMMAND [ARG...]");
                return -EINVAL;
        }
        if (o->seccomp_fd >= 0 && o->add_seccomp_fd) {
                log_error("--seccomp FD cannot be combined with --add-seccomp-fd (as in bubblewrap)");
                return -EINVAL;
        }
        if (o->swap_max && nsbox_spawn_get_resource(s, NSBOX_RESOURCE_MEMORY_LIMIT) == 0) {
                log_error("-p MemorySwapMax= needs -p MemoryMax= too: nsboxd limits memory and swap together");
                return -EINVAL;
        }
        if (o->capture_output && (o->pty || o->detach)) {
                log_error("--capture-output does not go with --%s: %s", o->pty ? "pty" : "detach",
                          o->pty ? "the pseudo-terminal is the command's output" : "nobody would print the output");
                return -EINVAL;
        }
        if (o->stdin_data && o->pty) {
                log_error("--stdin-data does not go with --pty: the pseudo-terminal is the command's stdin");
                return -EINVAL;
        }
        if (o->pty && o->detach) {
                log_error("--pty and --detach do not go together: a detached sandbox has no terminal to relay to");
                return -EINVAL;
        }
        if (o->share_net && !(o->implied_namespaces & NSBOX_NAMESPACE_NET)) {
                log_error("--share-net only undoes the network namespace of --unshare-all");
                return -EINVAL;
        }
        return 1;
}

static bool id_in_ranges(const RunIdRange *l, size_t n, uint32_t id) {
        for (size_t i = 0; i < n; i++)
                if (id >= l[i].inner && (uint64_t) id < (uint64_t) l[i].inner + l[i].count)
                        return true;
        return false;
}

/* With a new user namespace, --uid/--gid must name an id mapped inside: say which and how to map it. */
static int check_mapped(const RunOptions *o, bool gid, uint32_t id, uint32_t own) {
        const RunIdRange *l = gid ? o->gid_ranges : o->uid_ranges;
        size_t n = gid ? o->n_gid_ranges : o->n_uid_ranges;

        /* Without mappings the daemon maps our own id to itself. */
        if (n == 0 ? id == own : id_in_ranges(l, n, id))
                return 0;

        log_error("--%s %" PRIu32 ": %s %" PRIu32 " is not mapped in the sandbox's user namespace, so the command "
                  "cannot run as it; map it, e.g. with --map-%s=%" PRIu32 " (your %s becomes %" PRIu32
                  " inside) or --map-%ss=%" PRIu32 ":HOST%s:1 (a host %s you may map)",
                  gid ? "gid" : "uid", id, gid ? "gid" : "uid", id, gid ? "group" : "user", id, gid ? "gid" : "uid",
                  id, gid ? "group" : "user", id, gid ? "GID" : "UID", gid ? "gid" : "uid");
        return -EINVAL;
}

/*
 * Whether the command may run in a user namespace it joins (--join ID:user, --userns FD): its ids are then
 * that namespace's, which nsboxd checks against its maps and owner. --join ID:all joins whatever ID created,
 * which is known only once connected, so it may be one.
 */
static bool may_join_user_namespace(const RunOptions *o) {
        if (o->joined_namespaces & NSBOX_NAMESPACE_USER)
                return true;
        for (size_t i = 0; i < o->n_joins; i++)
                if (o->joins[i].types == 0)
                        return true;
        return false;
}

/* Errors are reported here, naming the option. */
static int apply_confinement(NsboxSpawn *s, const RunOptions *o) {
        int r = 0;

        if (o->caps_changed) {
                _cleanup_strv_free_ char **names = cli_capability_names(o->caps);

                if (!names)
                        return -ENOMEM;
                /* As bubblewrap: the same set everywhere, ambient too, so a non-root uid keeps it across exec. */
                r = nsbox_spawn_set_capabilities(s, NSBOX_CAPABILITIES_ALL, (const char *const *) names);
                if (r < 0) {
                        log_error("--cap-add/--cap-drop: %s", strerror(-r));
                        return r;
                }
        }

        if (o->seccomp_fd >= 0) {
                r = nsbox_spawn_set_seccomp(s, "unconfined");
                if (r >= 0)
                        r = nsbox_spawn_add_seccomp_fd(s, o->seccomp_fd);
                if (r < 0) {
                        log_error("--seccomp %d: %s", o->seccomp_fd,
                                  r == -EBADF ? "file descriptor is not open" : strerror(-r));
                        return r;
                }
        } else if (o->seccomp && (streq(o->seccomp, "default") || streq(o->seccomp, "unconfined")))
                r = nsbox_spawn_set_seccomp(s, o->seccomp);
        else if (o->seccomp) {
                _cleanup_free_ char *json = NULL, *error = NULL;

                r = seccomp_profile_file_to_oci(o->seccomp, o->caps_changed ? &o->caps : NULL, &json, &error);
                if (r >= 0)
                        r = nsbox_spawn_set_seccomp(s, json);
                if (r < 0) {
                        log_error("--seccomp %s: %s", o->seccomp,
                                  error ?: r == -EINVAL ? "not a valid OCI or Docker seccomp profile" : strerror(-r));
                        return r;
                }
        }
        if (r < 0)
                return r;

        if (o->disable_userns) {
                if (!(o->implied_namespaces & NSBOX_NAMESPACE_USER) &&
                    !(nsbox_spawn_get_namespaces(s) & NSBOX_NAMESPACE_USER)) {
                        log_error("--disable-userns needs a new user namespace: add --user (or -r)");
                        return -EINVAL;
                }
                r = nsbox_spawn_set_disable_user_namespaces(s, true);
        }
        return r;
}

int run_options_apply(NsboxSpawn *s, RunOptions *o, char *const *command) {
        uid_t euid = geteuid();
        gid_t egid = getegid();
        unsigned namespaces;
        int r;

        r = apply_confinement(s, o);
        if (r < 0)
                return r;

        if (o->map_root) {
                r = add_mapping(s, o, false, 0, euid, 1, "--map-root-user");
                if (r >= 0)
                        r = add_mapping(s, o, true, 0, egid, 1, "--map-root-user");
                if (r < 0)
                        goto fail;
        }
        if (o->map_current_user) {
                r = add_mapping(s, o, false, euid, euid, 1, "--map-current-user");
                if (r >= 0)
                        r = add_mapping(s, o, true, egid, egid, 1, "--map-current-user");
                if (r < 0)
                        goto fail;
        }
        if (o->have_map_user) {
                r = add_mapping(s, o, false, o->map_user, euid, 1, "--map-user=%" PRIu32, o->map_user);
                if (r < 0)
                        goto fail;
        }
        if (o->have_map_group) {
                r = add_mapping(s, o, true, o->map_group, egid, 1, "--map-group=%" PRIu32, o->map_group);
                if (r < 0)
                        goto fail;
        }
        if (o->map_auto) {
                static const char *const files[2] = { "/etc/subuid", "/etc/subgid" };

                for (size_t i = 0; i < 2; i++) {
                        uint32_t start = 0, count = 0;

                        r = read_subid_range(files[i], euid, &start, &count);
                        if (r < 0) {
                                log_error("--map-auto: %s has no range for this user%s%s", files[i],
                                          r == -ENOENT ? "" : ": ", r == -ENOENT ? "" : strerror(-r));
                                return -EINVAL;
                        }
                        r = add_mapping(s, o, i == 1, 0, start, count, "--map-auto (%s)", files[i]);
                        if (r < 0)
                                goto fail;
                }
        }

        if (o->have_setgroups)
                r = nsbox_spawn_set_setgroups(s, o->setgroups);
        else if (o->map_root || o->have_map_group)
                r = nsbox_spawn_set_setgroups(s, false); /* as unshare(1) does */
        else
                r = 0;
        if (r < 0)
                goto fail;

        namespaces = nsbox_spawn_get_namespaces(s) | o->implied_namespaces;
        if (o->share_net)
                namespaces &= ~(unsigned) NSBOX_NAMESPACE_NET;
        /* A namespace joined is not made as well: --unshare-all --join web:net shares web's network. */
        namespaces &= ~o->joined_namespaces;

        /* As unshare(1): with --map-user/--map-group the command runs as the ids it was mapped to; with
         * --map-auto alone (your own ids unmapped) as 0, the first id of the range. */
        bool auto_only = o->map_auto && !o->map_root && !o->map_current_user;
        if (o->have_uid || o->have_gid || o->have_map_user || o->have_map_group || auto_only) {
                uint32_t uid = o->have_uid ? o->uid : o->map_root ? 0 : o->have_map_user ? o->map_user :
                                                                     auto_only         ? 0 :
                                                                                         euid;
                uint32_t gid = o->have_gid ? o->gid : o->map_root ? 0 : o->have_map_group ? o->map_group :
                                                                     auto_only          ? 0 :
                                                                                          egid;

                if (namespaces & NSBOX_NAMESPACE_USER) {
                        if (o->have_uid && check_mapped(o, false, uid, euid) < 0)
                                return -EINVAL;
                        if (o->have_gid && check_mapped(o, true, gid, egid) < 0)
                                return -EINVAL;
                } else if (euid != 0 && o->have_uid && uid != euid && !may_join_user_namespace(o)) {
                        log_error("--uid %" PRIu32 ": without a user namespace the ids are host ids, and you may "
                                  "only run as your own (%u); add --user and --map-user=%" PRIu32
                                  " to appear as %" PRIu32 " inside",
                                  uid, (unsigned) euid, uid, uid);
                        return -EINVAL;
                }

                r = nsbox_spawn_set_user(s, uid, gid, NULL, 0);
                if (r < 0)
                        goto fail;
        }

        r = nsbox_spawn_set_namespaces(s, namespaces);
        if (r < 0)
                goto fail;

        /*
         * unshare's --mount-proc keeps the host's tree: without other file system options, that is the root,
         * as it is, device nodes and setuid included for root (who alone may ask for them).
         */
        if (o->mount_proc) {
                if (o->n_mount_origins == 0) {
                        r = nsbox_spawn_add_bind(s, "/", "/",
                                                 euid == 0 ? NSBOX_MOUNT_ALLOW_DEV | NSBOX_MOUNT_ALLOW_SUID : 0);
                        if (r >= 0)
                                r = record(&o->mount_origins, &o->n_mount_origins, "--mount-proc (the host's /)");
                        if (r < 0)
                                goto fail;
                        o->root = "/";
                        o->binds = true;
                }
                r = nsbox_spawn_add_proc(s, o->mount_proc_dir);
                if (r >= 0)
                        r = record(&o->mount_origins, &o->n_mount_origins, "--mount-proc=%s", o->mount_proc_dir);
                if (r < 0)
                        goto fail;
        }

        /* bubblewrap's rule: our working directory where it exists in the sandbox (the tree the file system
         * options build may not have it, the sandbox's user may not enter it), else $HOME, else /. */
        if (!o->have_chdir) {
                _cleanup_free_ char *cwd = get_current_dir_name();
                const char *home = getenv("HOME");
                const char *fallbacks[3] = {};
                size_t n = 0;

                if (home && home[0] == '/')
                        fallbacks[n++] = home;
                fallbacks[n++] = "/";
                if (cwd && cwd[0] == '/') {
                        r = nsbox_spawn_set_cwd(s, cwd);
                        if (r >= 0)
                                r = nsbox_spawn_set_cwd_fallbacks(s, fallbacks);
                        if (r < 0)
                                goto fail;
                }
        }

        if (o->no_init) {
                r = nsbox_spawn_set_init(s, false);
                if (r < 0)
                        goto fail;
        }
        if (o->keep_alive || o->detach) {
                r = nsbox_spawn_set_keep_alive(s, true);
                if (r < 0)
                        goto fail;
        }

        r = nsbox_spawn_set_argv(s, (const char *const *) command);
        if (r < 0)
                goto fail;
        return 0;

fail:
        log_error("cannot describe the sandbox: %s", strerror(-r));
        return r;
}

/* "mounts[3].destination" -> name "mounts", index 3, rest "destination"; index -1 when there is none. */
static void split_field(const char *field, char *name, size_t size, long *ret_index, const char **ret_rest) {
        size_t n = strcspn(field, "[.");
        const char *p = field + n;

        snprintf(name, size, "%.*s", (int) n, field);
        *ret_index = -1;
        if (*p == '[') {
                char *end;

                *ret_index = strtol(p + 1, &end, 10);
                p = *end == ']' ? end + 1 : end;
        }
        if (*p == '.')
                p++;
        *ret_rest = p;
}

static const char *origin_at(char *const *l, size_t n, long i) {
        return i >= 0 && (size_t) i < n ? l[i] : NULL;
}

void run_options_explain_invalid_parameter(const RunOptions *o, const char *command, const char *field) {
        const char *rest, *origin;
        char name[64];
        long i;

        split_field(field, name, sizeof name, &i, &rest);

        if (streq(name, "mounts")) {
                origin = origin_at(o->mount_origins, o->n_mount_origins, i);
                if (i < 0)
                        log_error("cannot run %s: more file system options than nsboxd allows (its mounts limit)",
                                  command);
                else if (streq(rest, "destination"))
                        log_error("cannot run %s: %s: DEST must be an absolute path inside the sandbox, without "
                                  "\"..\" components",
                                  command, origin ?: "a file system option");
                else if (streq(rest, "sourceFileDescriptor"))
                        log_error("cannot run %s: %s: an earlier --file reads the same file descriptor (or a "
                                  "copy of it); each is read once, to its end, so give each --file its own",
                                  command, origin ?: "a file system option");
                else if (streq(rest, "source"))
                        log_error("cannot run %s: %s: the source must be an absolute path without \"..\" "
                                  "components",
                                  command, origin ?: "a file system option");
                else
                        log_error("cannot run %s: %s: refused by nsboxd (%s)", command,
                                  origin ?: "a file system option", field);
        } else if (streq(name, "root"))
                log_error("cannot run %s: %s: the root must be an absolute path without \"..\" components", command,
                          o->root_origin ?: "--root");
        else if (streq(name, "cwd")) {
                if (o->have_chdir)
                        log_error("cannot run %s: --chdir: DIR must be an absolute path inside the sandbox, "
                                  "without \"..\" components",
                                  command);
                else
                        log_error("cannot run %s: the current directory cannot be used inside the sandbox; give "
                                  "--chdir DIR",
                                  command);
        } else if (streq(name, "hostname"))
                log_error("cannot run %s: --hostname: a host name is 1 to 64 letters, digits, '-' and '.', in "
                          "labels that are not empty and do not start or end with '-'",
                          command);
        else if (streq(name, "name"))
                log_error("cannot run %s: --name: a name is 1 to 128 characters without control characters",
                          command);
        else if (streq(name, "env"))
                log_error("cannot run %s: the environment (nsbox's own, changed by --setenv, --unsetenv and "
                          "--clearenv) is larger than nsboxd allows, or has an entry without NAME=",
                          command);
        else if (streq(name, "argv"))
                log_error("cannot run %s: the command line is longer than nsboxd allows", command);
        else if (streq(name, "uidMappings") || streq(name, "gidMappings")) {
                bool gid = name[0] == 'g';

                origin = gid ? origin_at(o->gid_mapping_origins, o->n_gid_mapping_origins, i) :
                               origin_at(o->uid_mapping_origins, o->n_uid_mapping_origins, i);
                if (i < 0)
                        log_error("cannot run %s: more %s mappings than nsboxd allows", command, gid ? "gid" : "uid");
                else
                        log_error("cannot run %s: %s: nsboxd refused this %s range: ranges may not overlap, and a "
                                  "user other than root may map only its own %s and its %s ranges",
                                  command, origin ?: "a mapping option", gid ? "gid" : "uid", gid ? "gid" : "uid",
                                  gid ? "/etc/subgid" : "/etc/subuid");
        } else if (streq(name, "setgroups"))
                log_error("cannot run %s: --setgroups=allow: needs one of your /etc/subgid ranges mapped with "
                          "--map-groups (dropping groups could otherwise lift what they deny)",
                          command);
        else if (streq(name, "user"))
                log_error("cannot run %s: --%s: %s %s is not mapped in the sandbox's user namespace (or, without "
                          "one, is not your own); map it with --map-%s or --map-%ss",
                          command, rest[0] == 'g' ? "gid" : "uid", rest[0] == 'g' ? "gid" : "uid",
                          rest[0] == 'g' ? "(--gid)" : "(--uid)", rest[0] == 'g' ? "group" : "user",
                          rest[0] == 'g' ? "group" : "user");
        else if (streq(name, "fileDescriptors"))
                log_error("cannot run %s: --pass-fd: file descriptor numbers are 3 to 1023, each at most once", command);
        else if (streq(name, "timeOffsets"))
                log_error("cannot run %s: --%s: offset out of range", command,
                          strstr(rest, "boottime") ? "boottime" : "monotonic");
        else if (cli_property_of_field(field))
                log_error("cannot run %s: -p %s=: above the most the policy allows you, or out of range (see "
                          "nsbox(1) and nsbox-policy.conf(5))",
                          command, cli_property_of_field(field));
        else if (streq(name, "rlimits"))
                log_error("cannot run %s: a -p Limit*= property: %s", command,
                          streq(rest, "hard") ? "the hard limit is above what your sandboxes get anyway: you may "
                                                "lower it, not raise it"
                                              : "refused by nsboxd");
        else
                log_error("cannot run %s: nsboxd rejected the request: invalid parameter \"%s\"", command, field);
}

static void free_texts(char **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

void run_options_done(RunOptions *o) {
        for (size_t i = 0; i < o->n_joins; i++) {
                free(o->joins[i].sandbox);
                free(o->joins[i].origin);
        }
        free(o->joins);
        free_texts(o->mount_origins, o->n_mount_origins);
        free_texts(o->uid_mapping_origins, o->n_uid_mapping_origins);
        free_texts(o->gid_mapping_origins, o->n_gid_mapping_origins);
        free(o->uid_ranges);
        free(o->gid_ranges);
        free(o->root_origin);
        *o = (RunOptions) {};
}
