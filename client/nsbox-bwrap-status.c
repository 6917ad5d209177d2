/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bubblewrap's status fds: --info-fd gets the sandbox's pid and namespace
 * ids once it runs; --json-status-fd gets the same as one JSON line, and a
 * second line with the exit code when it ends (none if it never ran).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "nsbox-bwrap-status.h"
#include "nsbox.h"

static const struct {
        const char *name; /* as /proc/PID/ns and bubblewrap's keys name it */
        unsigned flag;
        size_t offset;
} namespaces_reported[] = {
        { "cgroup", NSBOX_NAMESPACE_CGROUP, offsetof(BwrapNamespaceIds, cgroup) },
        { "ipc", NSBOX_NAMESPACE_IPC, offsetof(BwrapNamespaceIds, ipc) },
        { "mnt", NSBOX_NAMESPACE_MOUNT, offsetof(BwrapNamespaceIds, mnt) },
        { "net", NSBOX_NAMESPACE_NET, offsetof(BwrapNamespaceIds, net) },
        { "pid", NSBOX_NAMESPACE_PID, offsetof(BwrapNamespaceIds, pid) },
        { "uts", NSBOX_NAMESPACE_UTS, offsetof(BwrapNamespaceIds, uts) },
};

void bwrap_status_namespaces(NsboxSandbox *sb, unsigned namespaces, BwrapNamespaceIds *ret) {
        BwrapNamespaceIds ids = {};

        /* nsboxd reads them before the command runs: a command that exits at once still has its ids. */
        for (size_t i = 0; i < ELEMENTSOF(namespaces_reported); i++)
                if (namespaces & namespaces_reported[i].flag)
                        *(uint64_t *) ((char *) &ids + namespaces_reported[i].offset) =
                                nsbox_sandbox_get_namespace_inode(sb, namespaces_reported[i].flag);
        *ret = ids;
}

static int write_all(int fd, const char *text, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, text, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                text += n;
                size -= (size_t) n;
        }
        return 0;
}

int bwrap_status_write_info(int fd, pid_t pid, const BwrapNamespaceIds *ids, bool one_line) {
        const char *sep = one_line ? ", " : ",\n    ";
        char text[1024];
        size_t n;

        n = (size_t) snprintf(text, sizeof text, "{%s\"child-pid\": %d", one_line ? " " : "\n    ", (int) pid);
        for (size_t i = 0; i < ELEMENTSOF(namespaces_reported); i++) {
                uint64_t id = *(const uint64_t *) ((const char *) ids + namespaces_reported[i].offset);

                if (id != 0)
                        n += (size_t) snprintf(text + n, sizeof text - n, "%s\"%s-namespace\": %" PRIu64, sep,
                                               namespaces_reported[i].name, id);
        }
        n += (size_t) snprintf(text + n, sizeof text - n, "%s}\n", one_line ? " " : "\n");
        return write_all(fd, text, n);
}

int bwrap_status_write_exit(int fd, int exit_code) {
        char text[64];
        int n = snprintf(text, sizeof text, "{ \"exit-code\": %d }\n", exit_code);

        return write_all(fd, text, (size_t) n);
}
