/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `nsbox run`'s command line: parsed into a spawn description plus what needs all options seen first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nsbox.h"

/* An id range as --map-users gives it, kept to tell whether --uid/--gid are mapped. */
typedef struct RunIdRange {
        uint32_t inner, outer, count;
} RunIdRange;

/* --join ID:TYPE[,TYPE...]: namespaces of another of one's sandboxes (a pod). */
typedef struct RunJoin {
        char *sandbox;  /* its id or name */
        unsigned types; /* NSBOX_NAMESPACE_*; 0: every namespace it created */
        char *origin;   /* the option, for messages */
} RunJoin;

typedef struct RunOptions {
        bool detach;
        bool swap_max; /* -p MemorySwapMax= was given */
        bool pty;
        bool capture_output;    /* --capture-output: stdout and stderr through nsboxd */
        uint64_t capture_bytes; /* its BYTES; 0: nsboxd's default */
        bool stdin_data;        /* --stdin-data: stdin given as text */
        bool keep_alive;
        bool no_init;
        bool map_root;
        bool map_current_user;
        bool map_auto;
        bool have_map_user, have_map_group;
        uint32_t map_user, map_group;
        bool have_setgroups;
        bool setgroups;
        bool have_uid, have_gid;
        uint32_t uid, gid;
        bool have_chdir;
        bool filesystem; /* --root or a mount: the tree is built from an empty root, as bubblewrap does */
        bool binds;      /* some option binds a host path or fd into the tree */
        const char *root;
        char *root_origin; /* the option that set the root: "--root DIR" or "--bind SRC /" */
        bool mount_proc;
        const char *mount_proc_dir;
        bool share_net;
        unsigned implied_namespaces;

        /* --size and --perms wait for the option that creates something. */
        uint64_t next_size;
        int next_perms; /* -1: none */

        /* What made each entry of the request's arrays, for error messages naming the option. */
        char **mount_origins;
        size_t n_mount_origins;
        char **uid_mapping_origins, **gid_mapping_origins;
        size_t n_uid_mapping_origins, n_gid_mapping_origins;
        RunIdRange *uid_ranges, *gid_ranges; /* every mapping, as added */
        size_t n_uid_ranges, n_gid_ranges;

        /* confinement: applied once every option is seen (--cap-add/--cap-drop decide the caps a
         * profile file's conditions are judged against) */
        const char *seccomp;    /* --seccomp default|unconfined|FILE; NULL: not given */
        int seccomp_fd;         /* --seccomp FD, or -1 */
        bool add_seccomp_fd;    /* --add-seccomp-fd given */
        bool caps_changed;      /* --cap-add or --cap-drop given */
        uint64_t caps;          /* the set they give, starting as bubblewrap does */
        bool disable_userns;

        /* Namespaces joined rather than created: --userns FD and the like at once, --join ID:TYPE once
         * connected (run_options_resolve_joins()). */
        unsigned joined_namespaces;
        RunJoin *joins;
        size_t n_joins;
        int userns_fd; /* --userns FD (ours, not owned), or -1 */
        /* Our ids as the user namespace joined sees them, asked when only one of --uid and --gid is given. */
        bool have_joined_ids;
        uint32_t joined_uid, joined_gid;
} RunOptions;

/* Frees what o owns. */
void run_options_done(RunOptions *o);

/* Parses argv (from "run" on) into s and o. Returns 1 to go on (the command starts at argv[optind]),
 * 0 if --help was shown, negative on a usage error (already reported). */
int run_options_parse(int argc, char *argv[], NsboxSpawn *s, RunOptions *o);

/* Turns the parsed flags into the parts of the description that depend on several options; reports
 * a usage error itself and returns negative. */
int run_options_apply(NsboxSpawn *s, RunOptions *o, char *const *command);

/* Opens the namespaces --join names, from the sandboxes' top processes, and adds them to s; reports
 * what fails itself and returns negative. */
int run_options_resolve_joins(NsboxConnection *c, NsboxSpawn *s, RunOptions *o);

/* Reports a request the daemon refused with InvalidParameter(field) in terms of the options that
 * made that field, and what is wrong with it. */
void run_options_explain_invalid_parameter(const RunOptions *o, const char *command, const char *field);
