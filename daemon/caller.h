/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who is calling: the identity the kernel gave a client's socket at connect()
 * time, read once when the connection is accepted and used for everything
 * after it (limits, policy, the spawn, the audit log).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where the caller runs, decided once at admission (caller-origin.h). */
typedef enum CallerOriginKind {
        CALLER_ORIGIN_HOST,    /* outside every sandbox of the daemon's */
        CALLER_ORIGIN_SANDBOX, /* inside sandbox .sandbox (its descendants and what joined it included) */
        CALLER_ORIGIN_UNKNOWN, /* could not be told (.reason says why): never taken for the host */
} CallerOriginKind;

typedef struct CallerOrigin {
        CallerOriginKind kind;
        char sandbox[33]; /* CALLER_ORIGIN_SANDBOX: the innermost sandbox's id (SANDBOX_ID_LEN hex digits) */
        char reason[96];  /* CALLER_ORIGIN_UNKNOWN: why, for the refusal and the log */
} CallerOrigin;

typedef struct Caller {
        uid_t uid;
        gid_t gid;
        pid_t pid;     /* may name another process by now: use pidfd where that matters */
        int pidfd;     /* SO_PEERPIDFD (Linux >= 6.5), -EBADF where the kernel lacks it or it is not known */
        gid_t *groups; /* supplementary groups (SO_PEERGROUPS) */
        size_t n_groups;
        bool privileged; /* uid 0: may do whatever the daemon may */
        CallerOrigin origin; /* filled by the server at admission */
} Caller;

/* The caller of a connected unix socket, from SO_PEERCRED, SO_PEERGROUPS and SO_PEERPIDFD; owns groups and pidfd. */
int caller_from_socket(int fd, Caller *ret);

/* Frees what caller_from_socket() filled in; leaves the identity (uid, gid, pid, privileged). */
void caller_done(Caller *c);

/* Just the identity (uid, gid, pid, privileged), owning nothing: for records that outlive the connection. */
Caller caller_identity(const Caller *c);
