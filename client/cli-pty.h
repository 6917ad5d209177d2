/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nsbox run --pty`: a pseudo-terminal whose slave side the sandbox gets as
 * stdin/stdout/stderr, and the relay between it and the CLI's own terminal
 * (raw mode while running, window size changes, restored on exit).
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

typedef struct PtyRelay {
        int master;
        bool stdin_eof;
        bool master_eof;
        bool stdout_broken;
        char last_input; /* the last byte passed to the pty, 0 if none */

        char to_master[4096];
        size_t to_master_start, to_master_end;
        char to_stdout[4096];
        size_t to_stdout_start, to_stdout_end;

        bool termios_saved;
        struct termios saved_termios;
} PtyRelay;

#define PTY_RELAY_N_POLLFDS 3

/* Opens /dev/ptmx (master non-blocking) and its slave, sized like our stdin's terminal if it is one. */
int pty_open(int *ret_master, int *ret_slave);

/* Takes master; puts our stdin's terminal (if any) into raw mode. */
void pty_relay_init(PtyRelay *p, int master);
/* Restores the terminal and closes the master. Safe to call twice. */
void pty_relay_done(PtyRelay *p);

/* Copies our terminal's window size to the pty (on SIGWINCH). */
void pty_relay_resize(PtyRelay *p);

/* Fills PTY_RELAY_N_POLLFDS entries (fd -1 where nothing is to be done) and handles their results. */
void pty_relay_prepare(PtyRelay *p, struct pollfd *pfds);
void pty_relay_dispatch(PtyRelay *p, const struct pollfd *pfds);

/* After the sandbox ended: copies what is left in the pty to stdout. */
void pty_relay_drain(PtyRelay *p);
