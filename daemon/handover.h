/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state one daemon hands to the next: across a restart by the service
 * manager (the fds in its fd store, the state in a sealed memfd among them)
 * and across an in-place re-exec (the fds kept open over execve(), the state
 * memfd named on the command line). The format is internal but versioned,
 * and since a privileged process reads it, it is decoded as input: every
 * field checked, every fd it names checked to be what it claims.
 *
 * fds are referred to by name: the fd store's FDNAME= (LISTEN_FDNAMES at the
 * next start), or, for a re-exec, the names the state's "fds" map gives the
 * fd numbers. Captured output not yet delivered travels in one more sealed
 * memfd ("capture"), which the state points into.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox-exec.h"
#include "sandbox-protocol.h"
#include "seccomp-profile.h"

/* The state's version, written by this daemon. 2: a sandbox may lack a v1 cpu cgroup of its own (cgroup.h), which
 * a daemon of version 1 would take for a cgroup that is gone: it refuses the state, by its version, instead. */
#define HANDOVER_VERSION 2
/* The oldest one this daemon takes over: 1 promised more (a v1 cpu cgroup for every sandbox) and is read as is. */
#define HANDOVER_VERSION_MIN 1
#define HANDOVER_SIZE_MAX (16U * 1024U * 1024U)
#define HANDOVER_CAPTURE_SIZE_MAX (64ULL * 1024U * 1024U * 1024U)
#define HANDOVER_SANDBOXES_MAX 1000000U

/* fd names, at most 255 bytes as systemd's FDNAME= takes them. */
#define HANDOVER_FD_STATE "state"
#define HANDOVER_FD_CAPTURE "capture"
#define HANDOVER_FD_LISTEN "listen"
#define HANDOVER_FD_SANDBOX_PREFIX "sandbox-" /* + id, + "-stdout"/"-stderr" for captured output pipes */
#define HANDOVER_FD_KEEPER_PREFIX "keeper-"   /* + the keeper's pid: its link */
#define HANDOVER_REAPER_SELF "self"           /* the sandbox is the daemon's own child */

/* One stream of captured output: its pipe (if still open) and what no reply carried yet. */
typedef struct HandoverCapture {
        char *fd;        /* fd name of the pipe's read end; NULL once closed */
        uint64_t offset; /* where the pending bytes are in the capture memfd */
        uint64_t size;
} HandoverCapture;

typedef struct HandoverSandbox {
        SandboxInfo info;     /* what Inspect reports: id, name, pid, owner, state, limits, ... */
        uint32_t creator_gid; /* the owner (info.owner_uid) created it, with this gid, from this pid */
        int64_t creator_pid;
        bool top_exited;      /* its top process was reaped (info.state says how), its cgroup is not empty yet */
        bool discard;         /* a spawn killed on the way: reap it, show it to nobody */
        bool has_cgroup;      /* it is in BASE/user-UID/ID, or a nested one (info.sandbox) in .../SANDBOX/ID */
        bool made_inside;     /* made at a request from inside a sandbox: its name is that sandbox's */
        /* Its init may still have been on the daemon's memory, after the answer (sandbox-init-watch.h): the
         * next daemon watches it on the old image. */
        bool init_on_daemon_memory;
        char *pidfd;          /* the pidfd's fd name; NULL once its top process is reaped */
        char *reaper;         /* who reaps it: HANDOVER_REAPER_SELF or a keeper's fd name */
        bool capturing;       /* captureOutput */
        HandoverCapture capture[2]; /* stdout, stderr */
        uint64_t capture_limit, capture_total;
        bool capture_truncated;
        /* What an Exec into it starts from (exec_base.kept: it was kept); its seccomp filter is
         * HandoverState.seccomp[seccomp], -1: none. Borrowed when written, owned when read. */
        SandboxExecBase exec_base;
        int seccomp;
} HandoverSandbox;

/* A compiled seccomp filter, once for every sandbox that loaded it. */
typedef struct HandoverSeccomp {
        char *filter;   /* the instructions as 16 hex digits each: code, jt, jf, k */
        uint32_t flags; /* SECCOMP_FILTER_FLAG_* */
} HandoverSeccomp;

typedef struct HandoverFd {
        char *name;
        int fd;
} HandoverFd;

typedef struct HandoverState {
        HandoverSandbox *sandboxes;
        size_t n_sandboxes;
        HandoverSeccomp *seccomp;
        size_t n_seccomp;
        char **dropped;      /* read: why each record left out was ("invalid sandboxes[2].pid") */
        char **keepers;      /* fd names of the keeper links this daemon reads */
        char *own_keeper;    /* the one of them that is this daemon's parent; NULL if none */
        char *socket_path;   /* re-exec: the socket the daemon bound itself, removed at exit */
        HandoverFd *fds;     /* re-exec: fd numbers by name */
        size_t n_fds;
} HandoverState;

void handover_state_done(HandoverState *s);

/* The state as a sealed memfd (write, grow, shrink and further seals refused), CLOEXEC. */
int handover_state_to_memfd(const HandoverState *s, int *ret_fd);

/*
 * Reads and checks a state memfd: a sealed memfd of at most HANDOVER_SIZE_MAX
 * bytes holding a state of this version. On -EBADMSG, *ret_reason says what
 * is wrong ("not a sealed memfd", "version 7, expected 1", "invalid
 * keepers"); the caller frees it. A sandbox record that is invalid by itself
 * or against the ones before it (an id or a name twice, a filter that is not
 * there) is left out, and ret->dropped says why ("invalid sandboxes[2].pid").
 */
int handover_state_from_fd(int fd, HandoverState *ret, char **ret_reason);

/* The filter of p as the state carries it (ret->filter malloc'ed), and back: a new program of its own. */
int handover_seccomp_from_program(const SeccompProgram *p, HandoverSeccomp *ret);
int handover_seccomp_to_program(const HandoverSeccomp *h, SeccompProgram **ret);

/* A sealed memfd holding size bytes of data (the capture blob), CLOEXEC. */
int handover_blob_to_memfd(const void *data, size_t size, int *ret_fd);
/* Checks the capture blob fd (a sealed memfd) and reads size bytes at offset from it: *ret malloc'ed.
 * -EBADMSG if it is no sealed memfd or the range is not inside it. */
int handover_blob_read(int fd, uint64_t offset, uint64_t size, char **ret);

/* fds by name, as the fd store or a re-exec passes them. */
typedef struct FdSet {
        HandoverFd *fds;
        size_t n;
} FdSet;

/* Adds a copy of name with fd (taken); -ENOMEM (fd closed). */
int fdset_add(FdSet *set, const char *name, int fd);
/* Takes the fd named name out of the set: the fd, or -ENOENT. */
int fdset_take(FdSet *set, const char *name);
/* Closes every fd left and frees the set. */
void fdset_done(FdSet *set);

/* Whether fd is a pidfd (of any process). */
bool handover_is_pidfd(int fd);

/*
 * Whether fd is a pidfd of pid: 1 if the process exists (maybe a zombie), 0 if
 * it is a pidfd whose process is gone, -EBADF/-EINVAL if fd is no pidfd of pid.
 */
int handover_check_pidfd(int fd, pid_t pid);

/* Whether fd is the read end of a pipe (what captured output comes through). */
bool handover_is_pipe_read_end(int fd);

/* The fd names of a sandbox's pidfd and captured output pipes (stream 0, 1), and of a keeper's link. */
void handover_sandbox_fd_name(const char *id, char ret[static 64]);
void handover_capture_fd_name(const char *id, size_t stream, char ret[static 64]);
void handover_keeper_fd_name(pid_t keeper, char ret[static 64]);
