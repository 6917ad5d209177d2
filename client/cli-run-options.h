/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `nsbox run`'s command line: parsed into a spawn description plus what needs all options seen first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nsbox.h"

typedef struct RunOptions {
        bool detach;
        bool pty;
        bool keep_alive;
        bool no_init;
        bool map_root;
        bool have_map_user, have_map_group;
        uint32_t map_user, map_group;
        bool have_setgroups;
        bool setgroups;
        bool have_uid, have_gid;
        uint32_t uid, gid;
        bool have_chdir;
        bool filesystem; /* --root or a mount: the tree is built from an empty root, as bubblewrap does */
        const char *root;
        unsigned implied_namespaces;
} RunOptions;

/* Parses argv (from "run" on) into s and o. Returns 1 to go on (the command starts at argv[optind]),
 * 0 if --help was shown, negative on a usage error (already reported). */
int run_options_parse(int argc, char *argv[], NsboxSpawn *s, RunOptions *o);

/* Turns the parsed flags into the parts of the description that depend on several options. */
int run_options_apply(NsboxSpawn *s, const RunOptions *o, char *const *command);
