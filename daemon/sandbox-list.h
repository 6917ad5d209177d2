/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * List with "more": the table goes out in pieces of a few dozen entries,
 * each sent only while the client reads what came before, so a List of
 * any length holds one piece's JSON in the daemon at a time and a client
 * that stops reading holds nothing but its place. The place is a pointer
 * into the table that follows an entry leaving it.
 */
#pragma once

#include "connection.h"
#include "sandbox.h"

/* Entries per streamed reply. */
#define SANDBOX_LIST_PIECE 64U

/* Answers c's List call with "more": pieces while the client reads, the last one final. */
void sandbox_list_start(Connection *c);

/* The client of cl read its replies: its List, if one is streaming, goes on. */
void sandbox_list_continue(SandboxClient *cl);

/* cl's connection is going away: its List, if any, stops. */
void sandbox_list_stop(SandboxClient *cl);

/* sb is leaving the table: a List whose place it is moves past it. */
void sandbox_list_forget(Server *s, Sandbox *sb);
