/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox table: every process nsboxd created, from clone3() until its
 * exit status has been delivered. While starting, each entry drives the spawn
 * handshake (the sync socket) and then watches the spawn report pipe (exec or
 * failure) on the loop; from the end of the handshake on, it watches its
 * pidfd (exit).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "list.h"
#include "sandbox-protocol.h"
#include "server.h"
#include "spawn.h"

#define SANDBOX_ID_LEN 32 /* 128 random bits, hex */

/* One stream of captureOutput: the daemon's read end of the pipe and what no reply has carried yet. */
typedef struct SandboxCapture {
        int fd;          /* -EBADF once closed */
        uv_poll_t poll;
        bool open;       /* poll initialized and not closing */
        char *data;
        size_t size;
} SandboxCapture;

struct Sandbox {
        Server *server;
        LIST_FIELDS(Sandbox, sandboxes);
        HashNode id_node;             /* in Server.sandbox_ids */
        bool id_node_added;
        UserUsage *usage;             /* its owner's counts */
        LIST_FIELDS(Sandbox, owned);  /* in owner->owned */
        LIST_FIELDS(Sandbox, pending); /* in the server's pending spawns, while starting */

        char id[SANDBOX_ID_LEN + 1];
        char *name;
        uid_t owner_uid;
        AuditCaller creator;
        unsigned namespaces;
        bool keep_alive;
        uint64_t start_usec;
        uint64_t start_loop_msec; /* uv_now() at clone, for the spawn timeout */

        pid_t pid;
        int pidfd;
        uv_poll_t pidfd_poll;
        int report_fd;
        uv_poll_t report_poll;
        SpawnHandshake *handshake; /* until the child is released (or the spawn failed) */
        uv_poll_t sync_poll;       /* the handshake's fd, while it waits for the child's "ready" */
        bool sync_poll_open;
        unsigned handles_open; /* uv handles not yet closed; freed at 0 */

        /* captureOutput: stdout and stderr, read on the loop as they come, kept up to capture_limit bytes in
         * all; what comes past it is read and dropped (the sandbox never blocks on a full pipe). */
        bool capturing;
        SandboxCapture capture[2];
        uint64_t capture_limit;
        uint64_t capture_total;
        bool capture_truncated;

        bool starting;        /* the spawn report has not come yet */
        bool reached_exec;    /* the report carries the mark the child writes right before execve() */
        bool died_before_exec; /* the report ended without that mark: the answer waits for the exit status */
        SandboxState state;
        int exit_code;
        int signal;
        bool spawn_failed;   /* never exec'd: hidden, dropped once reaped and reported */
        bool reaped;
        bool detached;       /* nobody can ask for it any more: drop once reaped */
        bool freeing;

        Connection *owner;            /* the creating connection while it lives, for kill-on-close (in its owned list) */
        Connection *spawn_connection; /* waiting for the Spawn reply */
        Connection *waiters;          /* connections in Wait */
};

/* Adopts a started child, drives its handshake and watches it. Takes the handle's fds and handshake
 * in every case: on failure the child is killed and reaped off the loop. */
int sandbox_new(Server *s, Connection *owner, const SpawnRequest *req, const SpawnHandle *handle, Sandbox **ret);

Sandbox *sandbox_find(Server *s, const char *id);
bool sandbox_visible_to(const Sandbox *sb, uid_t uid);

void sandbox_fill_info(const Sandbox *sb, SandboxInfo *ret); /* borrows strings from sb */

int sandbox_kill(Sandbox *sb, int sig);

/* A Wait call: answered now if exited, else when it exits (with a "continues" state first if 'more',
 * and one more for each piece of captured output). */
void sandbox_add_waiter(Sandbox *sb, Connection *c, bool more);

/* The connection's Wait ends (answered or abandoned): unlink it from its sandbox. */
void sandbox_remove_waiter(Connection *c);

/* The connection is going away: forget it everywhere, kill what it owned unless keepAlive. */
void sandbox_connection_closed(Server *s, Connection *c);

/* The spawn timer's tick: kills spawns that have not reached execve within the limit. */
void sandbox_expire_spawns(Server *s);

/* Shutdown: kill (if asked, and every spawn in flight), reap what dies within a bounded wait, then drop
 * every entry. A child stuck in the kernel beyond that is left to the daemon's exit. */
void sandbox_drop_all(Server *s, bool kill);
