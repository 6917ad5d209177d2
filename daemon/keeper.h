/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper: what keeps a sandbox's exit status while no daemon runs.
 *
 * A process that is not a sandbox's parent can watch it through a pidfd but
 * never learn its exit status, and when the daemon exits its children go to
 * the nearest subreaper among its ancestors: under systemd, PID 1, which
 * reaps them and keeps nothing. So under a service manager (--fd-store) the
 * process systemd starts splits in three:
 *
 *   supervisor (systemd's child, the main process)
 *     -> keeper (a child subreaper)
 *          -> daemon
 *
 * The supervisor is what systemd waits for on stop (it only waits for its
 * own children): it passes signals on to the daemon, the daemon's
 * notifications (its NOTIFY_SOCKET is the supervisor's) on to systemd, and
 * exits as the daemon did. The keeper outlives both: when the daemon exits
 * for a restart (KillMode=process: only the main process is signalled), the
 * sandboxes it hands over become the keeper's children; it reaps them and
 * sends each status over its link (a SOCK_SEQPACKET pair) to whichever
 * daemon holds the other end. The service manager's fd store keeps that end
 * across the restart, and the socket queues what the keeper sends meanwhile.
 *
 * The keeper stays until a daemon has read every status it sent (the daemon
 * says so, KEEPER_QUIT): systemd drops a stored fd whose peer hangs up, and
 * with it whatever was queued on it. When the link closes for good instead
 * (the service stopped and systemd emptied its fd store), nobody tracks
 * those sandboxes any more: the keeper kills and reaps them, logging each
 * kill, and exits once journald has read those records (journal-sync.h).
 *
 * A daemon that exits without handing anything over (it crashed, failed to
 * start, or ended its sandboxes itself) leaves nothing anybody will ask
 * for: the keeper kills what is left (every sandbox cgroup below the
 * daemon's, and the keepers of earlier daemons) and exits, and the
 * supervisor exits only after it, so the service's cgroup is empty when
 * systemd sees the service stop. Left there, sandboxes' cgroups with a domain controller
 * would make systemd 252 fail every restart (it places the next main
 * process in the service's own cgroup, which the kernel then refuses).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "caller.h"
#include "log.h"

typedef enum KeeperMessageType {
        KEEPER_ORPHAN = 1, /* daemon -> keeper: this child of mine is yours once I exit (for the kill log) */
        KEEPER_EXIT = 2,   /* keeper -> daemon: a former child of yours exited */
        KEEPER_QUIT = 3,   /* daemon -> keeper: every status you sent was read; end what is left, and exit */
        /* daemon -> keeper: the sandboxes' cgroups are below the cgroup2 directory whose fd comes with it (BASE);
         * id: the leaf below it the daemon, keeper and supervisor are in ("" for none). What the keeper kills, it
         * kills by its sandbox's cgroup: a sandbox's process need not be the keeper's descendant (one in a pid
         * namespace the caller made goes to that namespace's init when its parent dies). */
        KEEPER_CGROUP = 4,
        /* daemon -> keeper, before it exits: it stored a hand-over state for the next daemon. Without it (and
         * without KEEPER_ORPHAN), the keeper takes the daemon's exit for a crash and ends every sandbox below
         * BASE. */
        KEEPER_HANDED_OVER = 5,
} KeeperMessageType;

/* One SOCK_SEQPACKET datagram; anything of another size or type is refused. */
typedef struct KeeperMessage {
        uint32_t type;
        int32_t pid;
        int32_t code;   /* KEEPER_EXIT: CLD_EXITED, CLD_KILLED or CLD_DUMPED */
        int32_t status; /* KEEPER_EXIT: the exit code, or the signal */
        uint32_t creator_uid, creator_gid; /* KEEPER_ORPHAN: who created it, for the audit record */
        int32_t creator_pid;
        char id[33]; /* KEEPER_ORPHAN: the sandbox id, NUL-terminated */
} KeeperMessage;

/*
 * Splits the calling process, the one the service manager started, in three
 * (above). Returns only in the daemon, with 0 and *ret_link, its CLOEXEC end
 * of the keeper's link, and $NOTIFY_SOCKET pointing at the supervisor; the
 * supervisor and the keeper never return; ret_pids gets their pids (the
 * daemon's cgroup leaf takes them too). Call it before anything else is
 * set up: they keep only stdio and what they need. -ENOTCONN without a
 * service manager, -errno if it cannot split (no keeper then).
 */
int keeper_fork(int *ret_link, pid_t ret_pids[static 2]);

/* Daemon side: tells the keeper who pid is before the daemon exits and hands it over. */
int keeper_send_orphan(int link, pid_t pid, const char *id, const Caller *creator);

/* Daemon side: tells its own keeper where the sandboxes' cgroups are (KEEPER_CGROUP). */
int keeper_send_cgroup(int link, int base_fd, const char *leaf);

/* Daemon side: tells its own keeper, before it exits, that it handed its sandboxes over (KEEPER_HANDED_OVER). */
int keeper_send_handed_over(int link);

/* Daemon side: tells a keeper of an earlier daemon that it is no longer needed. */
int keeper_send_quit(int link);

/* Daemon side: one message from a (non-blocking) link. 1 with *ret filled, 0 at EOF, -EAGAIN, -EBADMSG. */
int keeper_receive(int link, KeeperMessage *ret);
