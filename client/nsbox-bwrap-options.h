/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nsbox-bwrap's command line: bubblewrap's options, applied in argv order to a spawn description. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nsbox.h"

/* bubblewrap's exit status for its own failures (usage errors included). */
#define BWRAP_EXIT_FAILURE 1

/* One file system option, kept until every option is seen. */
typedef struct BwrapMount {
        int id;             /* which option */
        const char *option; /* its name, for messages */
        const char *a, *b;  /* its arguments as given (b NULL for one) */
        char *source;       /* a bind's source as a host path; an overlay's upper layer */
        char *work;         /* an overlay's work directory */
        char **lower;       /* an overlay's lower layers, the top one first */
        int fd;             /* -1 unless it reads an fd */
        int mode;
        uint64_t size;
        unsigned flags;     /* NSBOX_MOUNT_* */
} BwrapMount;

typedef struct BwrapOptions {
        /* Namespaces asked for; the mount namespace is always made, as bubblewrap does. */
        bool unshare_user, unshare_user_try, unshare_ipc, unshare_pid, unshare_net, unshare_uts;
        bool unshare_cgroup, unshare_cgroup_try;
        int userns_fd, userns2_fd, pidns_fd; /* -1: not given */
        bool disable_userns, assert_userns_disabled;

        bool have_uid, have_gid;
        uint32_t uid, gid;
        const char *hostname;
        const char *chdir;
        const char *argv0;
        bool as_pid_1;
        bool die_with_parent;
        bool new_session;

        /* Status and synchronization fds; -1: not given. */
        int info_fd, json_status_fd, sync_fd, block_fd, userns_block_fd;
        bool lock_files; /* --lock-file was given (the paths went into the spawn as they came) */

        /* Confinement: applied once every option is seen. */
        bool seccomp_replaces;     /* --seccomp FD was given */
        bool add_seccomp_fd;       /* --add-seccomp-fd was given */
        int *seccomp_fds;          /* the programs' fds, in order, read once every option is seen */
        size_t n_seccomp_fds;
        int *seccomp_memfds;       /* what the programs were copied to, in order */
        size_t n_seccomp_memfds;
        bool caps_changed;
        uint64_t caps;

        /* What waits for the next option: --perms, --size, --overlay-src. */
        int next_perms;        /* -1: none */
        uint64_t next_size;    /* 0: none */
        char **overlay_srcs;
        size_t n_overlay_srcs;

        /* fds options consume: not passed on to the command. */
        int *consumed_fds;
        size_t n_consumed_fds;

        BwrapMount *mounts;
        size_t n_mounts;
        size_t root_index; /* the last option that makes the root; the ones before it are covered */

        /* What made each entry of the request's mounts, for messages naming the option. */
        char **mount_origins;
        size_t n_mount_origins;

        /* The words --args FD read (the parsed argv points into them) and the command. */
        char **args_words;
        size_t n_args_words;
        char **argv;           /* the expanded command line, NULL-terminated */
        char **command;        /* points into argv */
        char *self_exe;        /* this program's path, when the command is /proc/self/exe */
} BwrapOptions;

void bwrap_options_done(BwrapOptions *o);

/* Prints a warning as bubblewrap does: "bwrap: TEXT", with "<4>" first under --level-prefix. */
void bwrap_warn(const char *format, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parses argv (argv[0] is the program) into s and o, in order. Returns 1 to go on (o->command is the
 * command), 0 if --help or --version was shown, or a negative errno after reporting the usage error.
 */
int bwrap_options_parse(int argc, char *argv[], NsboxSpawn *s, BwrapOptions *o);

/* Turns what needs every option seen (namespaces, ids, capabilities, seccomp, cwd, fds) into s. Reports
 * what is wrong itself and returns negative. */
int bwrap_options_apply(NsboxSpawn *s, BwrapOptions *o);

/* The option that made mounts[index] of the request; NULL if unknown. */
const char *bwrap_options_mount_origin(const BwrapOptions *o, long index);
