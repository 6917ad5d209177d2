/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `nsbox run` and `nsbox exec` share: starting the process (a Spawn, or
 * an Exec into a running sandbox) without going deaf to signals, and
 * standing in for it until it ends: forwarding signals, relaying a pty,
 * exiting with its code.
 */
#pragma once

#include <stdint.h>

#include "cli-pty.h"
#include "nsbox.h"

/* What the limits were, for saying which one ended the command. */
typedef struct RunLimits {
        uint64_t memory_max;
        uint64_t runtime_max_usec;
} RunLimits;

/* Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH and returns a signalfd for them (-errno, reported). */
int cli_signals_to_forward(void);

/*
 * Spawns s, or with exec_target (an id or name) Execs it into that sandbox,
 * watching sigfd (may be -1) meanwhile so a hanging daemon never leaves the
 * CLI deaf to ^C. Returns 0, a negative errno, or the (positive) signal that
 * interrupted it.
 */
int cli_start(NsboxConnection *c, NsboxSpawn *s, const char *exec_target, int sigfd, NsboxSandbox **ret);

/* Waits for sb, forwarding signals and relaying the pty (may be NULL); limits may be NULL. Returns the exit
 * code for nsbox: the command's, 128+N if signal N killed it, EXIT_NSBOX_FAILED if waiting failed. */
int cli_wait(NsboxConnection *c, NsboxSandbox *sb, int sigfd, PtyRelay *pty, const RunLimits *limits);
