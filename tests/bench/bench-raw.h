/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The two kinds of reference the daemon is measured against:
 *  - the raw baseline: clone3(CLONE_PIDFD | the namespace flags) straight
 *    from the benchmark, the parent writing the same id maps while the child
 *    waits on a pipe, execve("/bin/true"), waitid(P_PIDFD) — the least work
 *    any implementation can do for that namespace set;
 *  - an external tool (unshare(1), bwrap) started per sandbox and waited for.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct RawPlan {
        uint64_t clone_flags;  /* CLONE_NEW* of the namespace set */
        bool share_vm;         /* CLONE_VM, the child on a stack of its own until execve(), as posix_spawn() does */
        bool unshare_time;     /* share_vm: the time namespace by unshare() in the child (clone() has no bit left for it) */
        void *stack;           /* share_vm: the child's stack, one per client */
        size_t stack_size;
        bool user_namespace;   /* write setgroups "deny" and the maps below */
        char map_text[64];     /* "0 HOSTID SIZE\n", used for both uid_map and gid_map */
        const char *program;   /* what the child executes */
        int timeout_ms;        /* the child is killed if it has not exited by then (-ETIMEDOUT); -1: never */
        int devnull_fd;        /* becomes the child's stdin, stdout and stderr */
} RawPlan;

/*
 * namespaces: NAMESPACE_BIT() mask. The plan borrows devnull_fd and program.
 * With share_vm the child shares the caller's memory until it execs: nothing
 * is copied or write-protected, which is what fork-style clone3() costs in
 * proportion to the caller's size.
 */
int raw_plan_init(RawPlan *p, unsigned namespaces, uint32_t map_host_id, uint32_t map_size, const char *program,
                  int devnull_fd, bool share_vm);
void raw_plan_done(RawPlan *p);

/*
 * One sandbox the raw way. *ret_spawn_ns: from just before clone3() until the
 * child's execve() is known to have succeeded (close-on-exec report pipe hit
 * EOF) with the pidfd in hand; *ret_exit_ns: from the same start until
 * waitid(P_PIDFD) returned the exit status. Fails (-EPROTO) unless the
 * program exited with status 0; -ETIMEDOUT if it ran longer than the plan's
 * timeout (it is killed). Safe to call from several threads at once.
 */
int raw_run_one(const RawPlan *p, uint64_t *ret_spawn_ns, uint64_t *ret_exit_ns);

/*
 * Starts argv[0] (a path) with stdio on devnull_fd and waits for it;
 * *ret_exit_ns from just before the spawn until it was reaped. Fails
 * (-EPROTO) unless it exited with status 0; after timeout_ms it is killed
 * and the call fails with -ETIMEDOUT.
 */
int tool_run_one(char *const *argv, int devnull_fd, int timeout_ms, uint64_t *ret_exit_ns);
