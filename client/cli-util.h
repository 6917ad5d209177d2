/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the nsbox CLI's verbs share: messages, the socket to use, connecting
 * with an error that says what to do, and turning failed calls into text.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "nsbox.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxConnection *, nsbox_connection_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxSpawn *, nsbox_spawn_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxSandbox *, nsbox_sandbox_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxSandboxInfo *, nsbox_sandbox_info_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(NsboxSandboxInfo **, nsbox_sandbox_info_list_free);

/* Exit codes of `nsbox run` and `nsbox wait` for failures of nsbox itself, as container runtimes use them:
 * codes a command of the sandbox rarely exits with. */
#define EXIT_NSBOX_FAILED 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_COMMAND_NOT_FOUND 127
/* A usage error (bad option, missing argument), for every command: run and wait pass on their command's
 * code, so the code must not be one a command uses (2 often is). */
#define EXIT_USAGE 125

/* The socket given with --socket; NULL: $NSBOX_SOCKET, then the built-in default. */
extern const char *arg_socket;

/* What messages start with ("nsbox: "; nsbox-bwrap says "bwrap: "), and whether a syslog level comes
 * first ("<3>nsbox: ", as bubblewrap's --level-prefix). */
extern const char *cli_program_name;
extern bool cli_level_prefix;

void log_error(const char *format, ...) _printf_(1, 2);

/* Connects; on failure says why and what to do, and returns the negative errno. */
int cli_connect(NsboxConnection **ret);
/* The socket cli_connect() uses: --socket, else $NSBOX_SOCKET, else the default. */
const char *cli_socket_path(void);

/* Explains a failed call r ("doing what" in 'what') from the connection's last error; returns r. */
int cli_call_failed(NsboxConnection *c, int r, const char *what);

/* "TERM", "SIGTERM", "term" or "15" -> 15; -EINVAL otherwise. */
int cli_parse_signal(const char *s);
/* "SIGTERM"; a number as text for signals without a name (in a static buffer). */
const char *cli_signal_name(int sig);

/* What a shell reports for an ended sandbox: its exit code, or 128+N if signal N killed it; -1 if it has not ended. */
/* The systemd property (nsbox run -p NAME=) a request field like "resources.memory.limit" comes from; NULL if none. */
const char *cli_property_of_field(const char *field);

int cli_exit_status(NsboxState state, int exit_code, int signal);

/* Prints a JSON value indented, the way every --json output looks. */
void cli_print_json_object(struct json_object *o);
/* Prints JSON text indented; returns -EBADMSG if it does not parse. */
int cli_print_json(const char *text);

/*
 * Our ids as the user namespace open as fd (a /proc/PID/ns/user file or a
 * pidfd) sees them: what a command that joins it runs as by default, as
 * bubblewrap's --userns does, whatever our ids map to there (the overflow id
 * where they map to nothing). -EPERM where we cannot join it ourselves (an
 * ancestor's, or not ours to enter).
 */
int cli_ids_in_user_namespace(int fd, uint32_t *ret_uid, uint32_t *ret_gid);

int verb_run(int argc, char *argv[]);
int verb_exec(int argc, char *argv[]);
int verb_shell(int argc, char *argv[]);
