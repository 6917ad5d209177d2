/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox-init: the program a sandbox's init execs once the command started,
 * so that each live sandbox with an init costs a small static program's
 * memory instead of a copy of the daemon's. Not for people to run: init
 * execs it from the sealed memfd the daemon made at start, as
 *
 *     nsbox-init SIGNALFD COMMAND-PID FILTERS-FD LOADED-FD
 *
 * with every forwarded signal blocked (the mask survives execve()). It loads
 * the system call filters from FILTERS-FD (-1: none; the layout is
 * InitFilterHeader), tells the command through LOADED-FD (-1: none; the pipe
 * it waits on before its execve(), InitFiltersLoaded), then supervises the
 * command (init-supervise.c). If the filters do not load, the command reports
 * which as the spawn's error, and init exits 127, which ends the sandbox;
 * without LOADED-FD (the spawn was answered already) it kills the command.
 * It is not dumpable, like the init it replaces.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init-supervise.h"
#include "seccomp-abi.h"

#define INIT_FAILED 127

static int parse_fd_or_pid(const char *s, int min, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > INT32_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

/* No retry on EINTR: every signal is blocked, so only a filter loaded already fails a call so, and a retry
 * would spin on it (init-supervise.c). */
static int read_full(int fd, void *buf, size_t size) {
        char *p = buf;

        while (size > 0) {
                ssize_t n = read(fd, p, size);

                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* Loads every filter in order; 0 at the end of the list, or -errno with *ret_index the failing one. */
static int load_filters(int fd, int *ret_index) {
        static struct sock_filter filter[BPF_MAXINSNS];
        InitFilterHeader h;
        ssize_t n;
        int r;

        *ret_index = -1;
        for (;;) {
                n = read(fd, &h, sizeof h);
                if (n == 0)
                        return 0;
                if (n != (ssize_t) sizeof h)
                        return n < 0 ? -errno : -EIO;
                *ret_index = h.index;
                if (h.n_filter == 0 || h.n_filter > BPF_MAXINSNS)
                        return -EINVAL;
                r = read_full(fd, filter, h.n_filter * sizeof filter[0]);
                if (r < 0)
                        return r;

                struct sock_fprog prog = { .len = h.n_filter, .filter = filter };
                /* prctl() without flags, as seccomp_program_load() does. */
                if (h.flags == 0 ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 :
                                   syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, h.flags, &prog) < 0)
                        return -errno;
        }
}

/* The parameters are nobody's business: /proc/PID/cmdline shows "nsbox-init" alone, as for the init
 * before the exec (a last byte that is not NUL tells the kernel the area was rewritten). */
static void hide_parameters(int argc, char *argv[]) {
        char *area = argv[0];
        size_t size = (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - area), n = strlen("nsbox-init");

        if (size < n + 2)
                return;
        memset(area, 0, size);
        memcpy(area, "nsbox-init", n);
        area[size - 1] = ' ';
}

/* INIT_COPY_OPTION: the exit status is the errno that stopped the copy, or 0. */
static int copy_contents(int from, int to) {
        static char buf[64 * 1024];
        uint64_t total = 0;

        for (;;) {
                ssize_t n = read(from, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno;
                if (n == 0)
                        return 0;
                total += (uint64_t) n;
                if (total > INIT_COPY_SIZE_MAX)
                        return EFBIG;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(to, buf + done, (size_t) (n - done));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return errno;
                        done += w;
                }
        }
}

int main(int argc, char *argv[]) {
        int sfd, command, filters_fd, loaded_fd, index;

        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void) prctl(PR_SET_NAME, "nsbox-init", 0, 0, 0);

        if (argc == 4 && strcmp(argv[1], INIT_COPY_OPTION) == 0) {
                int from, to;

                if (parse_fd_or_pid(argv[2], 0, &from) < 0 || parse_fd_or_pid(argv[3], 0, &to) < 0)
                        return EINVAL;
                return copy_contents(from, to);
        }

        if (argc != 5 || parse_fd_or_pid(argv[1], 0, &sfd) < 0 || parse_fd_or_pid(argv[2], 1, &command) < 0 ||
            parse_fd_or_pid(argv[3], -1, &filters_fd) < 0 || parse_fd_or_pid(argv[4], -1, &loaded_fd) < 0) {
                fprintf(stderr, "nsbox-init is started by nsboxd for a sandbox, not by hand.\n");
                return INIT_FAILED;
        }
        hide_parameters(argc, argv);
        /* Before the filters, whose load takes a while: until then 32 and 33 are not the command's. */
        init_forward_reserved_signals(sfd);

        if (filters_fd >= 0) {
                int r = load_filters(filters_fd, &index);

                /* The command names the program in the spawn's error. */
                if (r < 0)
                        init_fail_filters(loaded_fd, (pid_t) command, -r, index);
                (void) close(filters_fd);
        }
        /* Confined as the command will be: it may start (and attach to us, if it may, to no avail). */
        if (loaded_fd >= 0) {
                if (init_tell_command(loaded_fd, 0, -1) < 0) {
                        (void) kill(command, SIGKILL);
                        init_exit(INIT_FAILED);
                }
                (void) close(loaded_fd);
        }

        init_supervise(sfd, (pid_t) command);
}
