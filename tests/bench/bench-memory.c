/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads a process's memory use and finds the daemon behind a socket. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "bench-memory.h"
#include "fd-util.h"

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

int memory_usage_read(pid_t pid, MemoryUsage *ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        MemoryUsage m = {};
        unsigned found = 0;
        char path[64], line[256];

        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;

        while (fgets(line, sizeof line, f)) {
                unsigned long long kib;

                if (sscanf(line, "Rss: %llu kB", &kib) == 1) {
                        m.rss = kib * 1024;
                        found |= 1;
                } else if (sscanf(line, "Private_Dirty: %llu kB", &kib) == 1) {
                        m.private_dirty = kib * 1024;
                        found |= 2;
                } else if (sscanf(line, "Pss: %llu kB", &kib) == 1) {
                        m.pss = kib * 1024;
                        found |= 4;
                }
        }
        if (found != 7)
                return -EBADMSG;

        *ret = m;
        return 0;
}

int process_count_fds(pid_t pid, size_t *ret) {
        char path[64];
        DIR *d;
        size_t n = 0;

        snprintf(path, sizeof path, "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        *ret = n;
        return 0;
}

/*
 * Calls f(child, userdata) for each child of pid: every thread's, since the daemon's spawn workers clone
 * its sandboxes (and a thread that exits hands its children to another). 0 or -errno.
 */
static int for_each_child(pid_t pid, void (*f)(int child, void *userdata), void *userdata) {
        struct dirent *de;
        char path[64];
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_(fclosep) FILE *c = NULL;
                char p[300];
                int child;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "/proc/%d/task/%s/children", (int) pid, de->d_name);
                c = fopen(p, "re");
                if (!c)
                        continue; /* the thread ended meanwhile */
                while (fscanf(c, "%d", &child) == 1)
                        f(child, userdata);
        }
        closedir(d);
        return 0;
}

static void count_child(int child, void *userdata) {
        (*(size_t *) userdata)++;
}

int process_count_children(pid_t pid, size_t *ret) {
        size_t n = 0;
        int r;

        r = for_each_child(pid, count_child, &n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

typedef struct PssSum {
        uint64_t pss;
        size_t n;
} PssSum;

static void add_child_pss(int child, void *userdata) {
        PssSum *sum = userdata;
        MemoryUsage m;

        if (memory_usage_read(child, &m) < 0)
                return;
        sum->pss += m.pss;
        sum->n++;
}

int process_children_pss(pid_t pid, uint64_t *ret_pss, size_t *ret_n) {
        PssSum sum = {};
        int r;

        r = for_each_child(pid, add_child_pss, &sum);
        if (r < 0)
                return r;
        *ret_pss = sum.pss;
        *ret_n = sum.n;
        return 0;
}

int process_cpu_ns(pid_t pid, uint64_t *ret) {
        struct timespec ts;
        clockid_t clock;
        int r;

        r = clock_getcpuclockid(pid, &clock);
        if (r != 0)
                return -r;
        if (clock_gettime(clock, &ts) < 0)
                return -errno;
        *ret = (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
        return 0;
}

int socket_peer_pid(const char *path, pid_t *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct ucred cred;
        socklen_t l = sizeof cred;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return -errno;
        if (cred.pid <= 0)
                return -ESRCH;

        *ret = cred.pid;
        return 0;
}
