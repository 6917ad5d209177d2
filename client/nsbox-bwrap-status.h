/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bubblewrap's --info-fd and --json-status-fd: the sandbox's pid and namespaces, then its exit code. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "nsbox.h"

/* The namespaces bubblewrap reports, in its order, with the inode numbers that identify them. */
typedef struct BwrapNamespaceIds {
        uint64_t cgroup, ipc, mnt, net, pid, uts; /* 0: not created, or not known */
} BwrapNamespaceIds;

/* The ids of the namespaces in `namespaces` (NSBOX_NAMESPACE_*) of the sandbox's top process, as nsboxd
 * reported them; 0 where it did not. */
void bwrap_status_namespaces(NsboxSandbox *sb, unsigned namespaces, BwrapNamespaceIds *ret);

/* Writes {"child-pid": N, "X-namespace": ID, ...} to fd: multi-line for --info-fd, one line for
 * --json-status-fd. Returns 0 or -errno. */
int bwrap_status_write_info(int fd, pid_t pid, const BwrapNamespaceIds *ids, bool one_line);

/* Writes {"exit-code": N} as one line to fd. */
int bwrap_status_write_exit(int fd, int exit_code);
