/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox-bwrap's command line: every option of bubblewrap 0.11, read in argv
 * order (with the words of --args FD spliced in where it stands) and turned
 * into a spawn description for nsboxd. What the daemon cannot do yet is
 * refused with a "bwrap: " message naming the option, never ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli-parse.h"
#include "cli-util.h"
#include "config.h"
#include "fd-util.h"
#include "nsbox-bwrap-options.h"

/* The effective capabilities of this process (bubblewrap run by root starts from them); none if unknown. */
static uint64_t own_capabilities(void) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return 0;
        return ((uint64_t) data[1].effective << 32 | data[0].effective) & cli_all_capabilities();
}

extern char **environ;

typedef enum BwrapOption {
        OPT_HELP,
        OPT_VERSION,
        OPT_ARGS,
        OPT_ARGV0,
        OPT_LEVEL_PREFIX,
        OPT_UNSHARE_ALL,
        OPT_SHARE_NET,
        OPT_UNSHARE_USER,
        OPT_UNSHARE_USER_TRY,
        OPT_UNSHARE_IPC,
        OPT_UNSHARE_PID,
        OPT_UNSHARE_NET,
        OPT_UNSHARE_UTS,
        OPT_UNSHARE_CGROUP,
        OPT_UNSHARE_CGROUP_TRY,
        OPT_USERNS,
        OPT_USERNS2,
        OPT_DISABLE_USERNS,
        OPT_ASSERT_USERNS_DISABLED,
        OPT_PIDNS,
        OPT_UID,
        OPT_GID,
        OPT_HOSTNAME,
        OPT_CHDIR,
        OPT_CLEARENV,
        OPT_SETENV,
        OPT_UNSETENV,
        OPT_LOCK_FILE,
        OPT_SYNC_FD,
        OPT_BIND,
        OPT_BIND_TRY,
        OPT_DEV_BIND,
        OPT_DEV_BIND_TRY,
        OPT_RO_BIND,
        OPT_RO_BIND_TRY,
        OPT_BIND_FD,
        OPT_RO_BIND_FD,
        OPT_REMOUNT_RO,
        OPT_OVERLAY_SRC,
        OPT_OVERLAY,
        OPT_TMP_OVERLAY,
        OPT_RO_OVERLAY,
        OPT_EXEC_LABEL,
        OPT_FILE_LABEL,
        OPT_PROC,
        OPT_DEV,
        OPT_TMPFS,
        OPT_MQUEUE,
        OPT_DIR,
        OPT_FILE,
        OPT_BIND_DATA,
        OPT_RO_BIND_DATA,
        OPT_SYMLINK,
        OPT_SECCOMP,
        OPT_ADD_SECCOMP_FD,
        OPT_BLOCK_FD,
        OPT_USERNS_BLOCK_FD,
        OPT_INFO_FD,
        OPT_JSON_STATUS_FD,
        OPT_NEW_SESSION,
        OPT_DIE_WITH_PARENT,
        OPT_AS_PID_1,
        OPT_CAP_ADD,
        OPT_CAP_DROP,
        OPT_PERMS,
        OPT_SIZE,
        OPT_CHMOD,
} BwrapOption;

static const struct {
        const char *name;
        unsigned n_args;
        BwrapOption id;
} option_table[] = {
        { "--help", 0, OPT_HELP },
        { "--version", 0, OPT_VERSION },
        { "--args", 1, OPT_ARGS },
        { "--argv0", 1, OPT_ARGV0 },
        { "--level-prefix", 0, OPT_LEVEL_PREFIX },
        { "--unshare-all", 0, OPT_UNSHARE_ALL },
        { "--share-net", 0, OPT_SHARE_NET },
        { "--unshare-user", 0, OPT_UNSHARE_USER },
        { "--unshare-user-try", 0, OPT_UNSHARE_USER_TRY },
        { "--unshare-ipc", 0, OPT_UNSHARE_IPC },
        { "--unshare-pid", 0, OPT_UNSHARE_PID },
        { "--unshare-net", 0, OPT_UNSHARE_NET },
        { "--unshare-uts", 0, OPT_UNSHARE_UTS },
        { "--unshare-cgroup", 0, OPT_UNSHARE_CGROUP },
        { "--unshare-cgroup-try", 0, OPT_UNSHARE_CGROUP_TRY },
        { "--userns", 1, OPT_USERNS },
        { "--userns2", 1, OPT_USERNS2 },
        { "--disable-userns", 0, OPT_DISABLE_USERNS },
        { "--assert-userns-disabled", 0, OPT_ASSERT_USERNS_DISABLED },
        { "--pidns", 1, OPT_PIDNS },
        { "--uid", 1, OPT_UID },
        { "--gid", 1, OPT_GID },
        { "--hostname", 1, OPT_HOSTNAME },
        { "--chdir", 1, OPT_CHDIR },
        { "--clearenv", 0, OPT_CLEARENV },
        { "--setenv", 2, OPT_SETENV },
        { "--unsetenv", 1, OPT_UNSETENV },
        { "--lock-file", 1, OPT_LOCK_FILE },
        { "--sync-fd", 1, OPT_SYNC_FD },
        { "--bind", 2, OPT_BIND },
        { "--bind-try", 2, OPT_BIND_TRY },
        { "--dev-bind", 2, OPT_DEV_BIND },
        { "--dev-bind-try", 2, OPT_DEV_BIND_TRY },
        { "--ro-bind", 2, OPT_RO_BIND },
        { "--ro-bind-try", 2, OPT_RO_BIND_TRY },
        { "--bind-fd", 2, OPT_BIND_FD },
        { "--ro-bind-fd", 2, OPT_RO_BIND_FD },
        { "--remount-ro", 1, OPT_REMOUNT_RO },
        { "--overlay-src", 1, OPT_OVERLAY_SRC },
        { "--overlay", 3, OPT_OVERLAY },
        { "--tmp-overlay", 1, OPT_TMP_OVERLAY },
        { "--ro-overlay", 1, OPT_RO_OVERLAY },
        { "--exec-label", 1, OPT_EXEC_LABEL },
        { "--file-label", 1, OPT_FILE_LABEL },
        { "--proc", 1, OPT_PROC },
        { "--dev", 1, OPT_DEV },
        { "--tmpfs", 1, OPT_TMPFS },
        { "--mqueue", 1, OPT_MQUEUE },
        { "--dir", 1, OPT_DIR },
        { "--file", 2, OPT_FILE },
        { "--bind-data", 2, OPT_BIND_DATA },
        { "--ro-bind-data", 2, OPT_RO_BIND_DATA },
        { "--symlink", 2, OPT_SYMLINK },
        { "--seccomp", 1, OPT_SECCOMP },
        { "--add-seccomp-fd", 1, OPT_ADD_SECCOMP_FD },
        { "--block-fd", 1, OPT_BLOCK_FD },
        { "--userns-block-fd", 1, OPT_USERNS_BLOCK_FD },
        { "--info-fd", 1, OPT_INFO_FD },
        { "--json-status-fd", 1, OPT_JSON_STATUS_FD },
        { "--new-session", 0, OPT_NEW_SESSION },
        { "--die-with-parent", 0, OPT_DIE_WITH_PARENT },
        { "--as-pid-1", 0, OPT_AS_PID_1 },
        { "--cap-add", 1, OPT_CAP_ADD },
        { "--cap-drop", 1, OPT_CAP_DROP },
        { "--perms", 1, OPT_PERMS },
        { "--size", 1, OPT_SIZE },
        { "--chmod", 2, OPT_CHMOD },
};

static void help(FILE *f, const char *program) {
        fprintf(f,
                "usage: %s [OPTIONS...] [--] COMMAND [ARGS...]\n"
                "\n"
                "Runs COMMAND in a sandbox made by nsboxd, taking bubblewrap's options; see\n"
                "nsbox-bwrap(1) for what differs.\n"
                "\n"
                "    --help                       show this help and exit\n"
                "    --version                    show the version and exit\n"
                "    --args FD                    read more options from FD, NUL-separated\n"
                "    --argv0 VALUE                argv[0] of the command\n"
                "    --level-prefix               start messages with a syslog level (<3>, <4>)\n"
                "    --unshare-all                every namespace it can: user, ipc, pid, net, uts, cgroup\n"
                "    --share-net                  keep the network (after --unshare-all)\n"
                "    --unshare-user               new user namespace\n"
                "    --unshare-user-try           the same (nsboxd can always make one)\n"
                "    --unshare-ipc                new IPC namespace\n"
                "    --unshare-pid                new PID namespace\n"
                "    --unshare-net                new network namespace (loopback only)\n"
                "    --unshare-uts                new UTS namespace (hostname)\n"
                "    --unshare-cgroup             new cgroup namespace\n"
                "    --unshare-cgroup-try         the same\n"
                "    --userns FD                  enter the user namespace open as FD\n"
                "    --userns2 FD                 switch to this user namespace once set up\n"
                "    --disable-userns             the sandbox cannot make user namespaces\n"
                "    --assert-userns-disabled     fail unless the sandbox cannot make them\n"
                "    --pidns FD                   enter the PID namespace open as FD\n"
                "    --uid UID                    uid inside (needs --unshare-user or --userns)\n"
                "    --gid GID                    gid inside (needs --unshare-user or --userns)\n"
                "    --hostname NAME              host name (needs --unshare-uts)\n"
                "    --chdir DIR                  working directory inside\n"
                "    --clearenv                   start from an empty environment\n"
                "    --setenv VAR VALUE           set an environment variable\n"
                "    --unsetenv VAR               remove an environment variable\n"
                "    --lock-file DEST             hold a lock on DEST while the sandbox runs\n"
                "    --sync-fd FD                 keep FD open while the sandbox runs\n"
                "    --bind SRC DEST              bind-mount SRC on DEST\n"
                "    --bind-try SRC DEST          the same, nothing if SRC does not exist\n"
                "    --dev-bind SRC DEST          bind-mount with devices usable\n"
                "    --dev-bind-try SRC DEST      the same, nothing if SRC does not exist\n"
                "    --ro-bind SRC DEST           bind-mount read-only\n"
                "    --ro-bind-try SRC DEST       the same, nothing if SRC does not exist\n"
                "    --bind-fd FD DEST            bind-mount what FD is open on\n"
                "    --ro-bind-fd FD DEST         the same, read-only\n"
                "    --remount-ro DEST            make the mount at DEST read-only\n"
                "    --overlay-src SRC            a lower layer for the next overlay\n"
                "    --overlay RWSRC WORKDIR DEST an overlay written to RWSRC\n"
                "    --tmp-overlay DEST           an overlay written to a tmpfs\n"
                "    --ro-overlay DEST            a read-only overlay\n"
                "    --exec-label LABEL           SELinux label of the command\n"
                "    --file-label LABEL           SELinux label of new files\n"
                "    --proc DEST                  mount procfs on DEST\n"
                "    --dev DEST                   mount a new /dev on DEST\n"
                "    --tmpfs DEST                 mount a tmpfs on DEST\n"
                "    --mqueue DEST                mount mqueue on DEST\n"
                "    --dir DEST                   make a directory\n"
                "    --file FD DEST               make a file with the contents of FD\n"
                "    --bind-data FD DEST          the same, as bubblewrap binds it\n"
                "    --ro-bind-data FD DEST       the same, read-only\n"
                "    --symlink SRC DEST           make a symbolic link DEST to SRC\n"
                "    --seccomp FD                 the classic-BPF system call filter read from FD\n"
                "    --add-seccomp-fd FD          another one, loaded in order\n"
                "    --block-fd FD                wait for data on FD before running\n"
                "    --userns-block-fd FD         wait for data on FD once the user namespace exists\n"
                "    --info-fd FD                 write the sandbox's pid and namespaces to FD\n"
                "    --json-status-fd FD          the same, and the exit code at the end\n"
                "    --new-session                new terminal session (always, under nsboxd)\n"
                "    --die-with-parent            end the sandbox when this program's parent ends\n"
                "    --as-pid-1                   the command is pid 1 (needs --unshare-pid)\n"
                "    --cap-add CAP                keep capability CAP (or ALL)\n"
                "    --cap-drop CAP               drop capability CAP (or ALL)\n"
                "    --perms OCTAL                mode of the next --tmpfs, --dir, --file or data\n"
                "    --size BYTES                 size of the next --tmpfs\n"
                "    --chmod OCTAL PATH           change the mode of PATH\n",
                program);
}

void bwrap_warn(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "%s%s: ", cli_level_prefix ? "<4>" : "", cli_program_name);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static int push_word(char ***list, size_t *n, char *word) {
        char **l = reallocarray(*list, *n + 2, sizeof(char *));

        if (!l)
                return -ENOMEM;
        l[(*n)++] = word;
        l[*n] = NULL;
        *list = l;
        return 0;
}

static int push_fd(BwrapOptions *o, int fd) {
        int *l = reallocarray(o->consumed_fds, o->n_consumed_fds + 1, sizeof(int));

        if (!l)
                return -ENOMEM;
        l[o->n_consumed_fds++] = fd;
        o->consumed_fds = l;
        return 0;
}

/* bubblewrap's fd arguments: a non-negative number, else "Invalid fd". */
static int parse_fd(BwrapOptions *o, const char *s, int *ret) {
        uint32_t v;

        if (cli_parse_uint32(s, &v) < 0 || v > INT_MAX) {
                log_error("Invalid fd: %s", s);
                return -EINVAL;
        }
        *ret = (int) v;
        return push_fd(o, (int) v);
}

static int read_all(int fd, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        char *b;

                        if (allocated > 64U * 1024 * 1024)
                                return -EFBIG;
                        b = realloc(buf, allocated + 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated += 65536;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* --args FD: NUL-separated words, spliced into the command line where --args stood. */
static int read_args(BwrapOptions *o, int fd, char ***words, size_t *n_words, size_t at) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0, n_new = 0;
        char **w;
        int r;

        r = read_all(fd, &data, &size);
        if (r < 0) {
                log_error("Failed to read --args %d: %s", fd, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < size; i += strlen(data + i) + 1)
                n_new++;
        if (n_new == 0)
                return 0;

        w = reallocarray(*words, *n_words + n_new + 1, sizeof(char *));
        if (!w)
                return -ENOMEM;
        *words = w;
        memmove(w + at + n_new, w + at, (*n_words - at + 1) * sizeof(char *));
        for (size_t i = 0, k = 0; i < size; i += strlen(data + i) + 1, k++)
                w[at + k] = data + i;
        *n_words += n_new;

        /* The words live as long as the options: the buffer is kept. */
        r = push_word(&o->args_words, &o->n_args_words, data);
        if (r < 0)
                return r;
        TAKE_PTR(data);
        return 0;
}

/* A seccomp program given as FD, read now as bubblewrap does, into a memfd nsboxd reads at spawn time. */
/* A seccomp program given as FD, read as bubblewrap reads it: once, closing the fd, so an fd named twice
 * fails the second time. */
static int read_seccomp(int fd, char **ret, size_t *ret_size) {
        int r = read_all(fd, ret, ret_size);

        if (r < 0) {
                log_error("Can't read seccomp data: %s", strerror(-r));
                return r;
        }
        (void) close(fd);
        if (*ret_size % 8 != 0) {
                free(*ret);
                *ret = NULL;
                log_error("Invalid seccomp data, must be multiple of 8");
                return -EINVAL;
        }
        return 0;
}

/* Reads every program, then copies each into a memfd nsboxd reads at spawn time (made only once all
 * are read, so none takes the number of an fd still to be read). */
static int read_seccomp_programs(BwrapOptions *o) {
        char **data = calloc(o->n_seccomp_fds + 1, sizeof(char *));
        size_t *sizes = calloc(o->n_seccomp_fds + 1, sizeof(size_t));
        int r = data && sizes ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < o->n_seccomp_fds; i++)
                r = read_seccomp(o->seccomp_fds[i], &data[i], &sizes[i]);

        for (size_t i = 0; r >= 0 && i < o->n_seccomp_fds; i++) {
                _cleanup_close_ int memfd = memfd_create("bwrap-seccomp", MFD_CLOEXEC);
                int *l;

                if (memfd < 0 || write(memfd, data[i], sizes[i]) != (ssize_t) sizes[i] ||
                    lseek(memfd, 0, SEEK_SET) < 0) {
                        log_error("Can't copy seccomp data: %m");
                        r = -EIO;
                        break;
                }
                l = reallocarray(o->seccomp_memfds, o->n_seccomp_memfds + 1, sizeof(int));
                if (!l) {
                        r = -ENOMEM;
                        break;
                }
                l[o->n_seccomp_memfds++] = TAKE_FD(memfd);
                o->seccomp_memfds = l;
        }

        for (size_t i = 0; data && i < o->n_seccomp_fds; i++)
                free(data[i]);
        free(data);
        free(sizes);
        return r;
}

static int push_seccomp_fd(BwrapOptions *o, int fd) {
        int *l = reallocarray(o->seccomp_fds, o->n_seccomp_fds + 1, sizeof(int));

        if (!l)
                return -ENOMEM;
        l[o->n_seccomp_fds++] = fd;
        o->seccomp_fds = l;
        return 0;
}

static int record_mount(BwrapOptions *o, const char *option, const char *a, const char *b) {
        char *text;

        if (asprintf(&text, "%s %s%s%s", option, a, b ? " " : "", b ?: "") < 0)
                return -ENOMEM;
        if (push_word(&o->mount_origins, &o->n_mount_origins, text) < 0) {
                free(text);
                return -ENOMEM;
        }
        return 0;
}

/* "/", "//", "/./": the destinations nsboxd takes for the root. */
static bool path_is_root(const char *path) {
        if (path[0] != '/')
                return false;
        for (const char *p = path; *p; p++)
                if (*p != '/' && !(*p == '.' && (p[1] == '/' || p[1] == 0) && p[-1] == '/'))
                        return false;
        return true;
}

/* File system options wait in order until every option is seen: a later root (--bind SRC /) covers what
 * the ones before it built, so those are left out (nsboxd takes one root). */
static int push_mount(BwrapOptions *o, BwrapMount m) {
        BwrapMount *l = reallocarray(o->mounts, o->n_mounts + 1, sizeof(BwrapMount));

        if (!l) {
                free(m.source);
                free(m.work);
                strv_free(m.lower);
                return -ENOMEM;
        }
        if (((m.id == OPT_TMPFS && path_is_root(m.a)) ||
            (m.id >= OPT_BIND && m.id <= OPT_RO_BIND_FD && path_is_root(m.b))))
                o->root_index = o->n_mounts;
        l[o->n_mounts++] = m;
        o->mounts = l;
        return 0;
}

static int bind_option(BwrapOptions *o, BwrapOption id, const char *option, char **args) {
        bool try = id == OPT_BIND_TRY || id == OPT_RO_BIND_TRY || id == OPT_DEV_BIND_TRY;
        unsigned flags = 0;
        char *src = cli_host_path(args[0]);
        struct stat st;

        if (!src)
                return -ENOMEM;
        /* bubblewrap's message for a missing source; nsboxd checks again, with the caller's rights, and
         * skips a -try source that does not exist when the step runs. */
        if (!try && stat(src, &st) < 0) {
                int e = errno;

                free(src);
                log_error("Can't find source path %s: %s", args[0], strerror(e));
                return -e;
        }
        if (try)
                flags |= NSBOX_MOUNT_OPTIONAL;
        if (id == OPT_RO_BIND || id == OPT_RO_BIND_TRY)
                flags |= NSBOX_MOUNT_READ_ONLY;
        if (id == OPT_DEV_BIND || id == OPT_DEV_BIND_TRY)
                flags |= NSBOX_MOUNT_ALLOW_DEV;
        return push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .b = args[1], .source = src,
                                            .fd = -1, .flags = flags });
}

static int emit_mount(NsboxSpawn *s, BwrapOptions *o, const BwrapMount *m) {
        int r;

        switch (m->id) {
        case OPT_BIND:
        case OPT_BIND_TRY:
        case OPT_DEV_BIND:
        case OPT_DEV_BIND_TRY:
        case OPT_RO_BIND:
        case OPT_RO_BIND_TRY:
                r = nsbox_spawn_add_bind(s, m->source, m->b, m->flags);
                break;
        case OPT_BIND_FD:
        case OPT_RO_BIND_FD:
                r = nsbox_spawn_add_bind_fd(s, m->fd, m->b, m->flags);
                break;
        case OPT_REMOUNT_RO:
                r = nsbox_spawn_add_remount_ro(s, m->a);
                break;
        case OPT_PROC:
                r = nsbox_spawn_add_proc(s, m->a);
                break;
        case OPT_DEV:
                r = nsbox_spawn_add_dev(s, m->a);
                break;
        case OPT_MQUEUE:
                r = nsbox_spawn_add_mqueue(s, m->a);
                break;
        case OPT_TMPFS:
                r = nsbox_spawn_add_tmpfs(s, m->a, m->size, m->mode, 0);
                break;
        case OPT_DIR:
                r = nsbox_spawn_add_dir(s, m->a, m->mode);
                break;
        case OPT_FILE:
                r = nsbox_spawn_add_file(s, m->fd, m->b, m->mode);
                break;
        case OPT_BIND_DATA:
        case OPT_RO_BIND_DATA:
                r = nsbox_spawn_add_bind_data(s, m->fd, m->b, m->mode, m->flags);
                break;
        case OPT_CHMOD:
                r = nsbox_spawn_add_chmod(s, m->b, m->mode);
                break;
        case OPT_OVERLAY:
        case OPT_TMP_OVERLAY:
        case OPT_RO_OVERLAY:
                r = nsbox_spawn_add_overlay(s, (const char *const *) m->lower, m->source, m->work, m->a, m->flags);
                break;
        case OPT_SYMLINK:
                r = nsbox_spawn_add_symlink(s, m->a, m->b);
                break;
        default:
                r = -EINVAL;
        }
        if (r >= 0)
                r = record_mount(o, m->option, m->a, m->b);
        if (r == -EBADF)
                log_error("%s %s: file descriptor is not open", m->option, m->a);
        else if (r < 0)
                log_error("%s %s%s%s: %s", m->option, m->a, m->b ? " " : "", m->b ?: "",
                          r == -EINVAL ? "not valid (a destination must be an absolute path)" : strerror(-r));
        return r;
}

/* One option with its arguments; returns 0, or negative after reporting. */
static int handle_option(NsboxSpawn *s, BwrapOptions *o, BwrapOption id, const char *option, char **args,
                         const char *program) {
        uint64_t bits;
        uint32_t v;
        int fd, mode, r = 0;

        switch (id) {
        case OPT_HELP:
                help(stdout, program);
                return 0;
        case OPT_VERSION:
                printf("bubblewrap 0.11.1 (nsbox-bwrap %s)\n", NSBOX_VERSION);
                return 0;
        case OPT_ARGS:
                return 0; /* read by the caller */
        case OPT_ARGV0:
                if (o->argv0) {
                        log_error("--argv0 used multiple times");
                        return -EINVAL;
                }
                o->argv0 = args[0];
                return 0;
        case OPT_LEVEL_PREFIX:
                cli_level_prefix = true;
                return 0;
        case OPT_UNSHARE_ALL:
                o->unshare_user_try = o->unshare_ipc = o->unshare_pid = o->unshare_net = o->unshare_uts = true;
                o->unshare_cgroup_try = true;
                return 0;
        case OPT_SHARE_NET:
                o->unshare_net = false;
                return 0;
        case OPT_UNSHARE_USER:
                o->unshare_user = true;
                return 0;
        case OPT_UNSHARE_USER_TRY:
                o->unshare_user_try = true;
                return 0;
        case OPT_UNSHARE_IPC:
                o->unshare_ipc = true;
                return 0;
        case OPT_UNSHARE_PID:
                o->unshare_pid = true;
                return 0;
        case OPT_UNSHARE_NET:
                o->unshare_net = true;
                return 0;
        case OPT_UNSHARE_UTS:
                o->unshare_uts = true;
                return 0;
        case OPT_UNSHARE_CGROUP:
                o->unshare_cgroup = true;
                return 0;
        case OPT_UNSHARE_CGROUP_TRY:
                o->unshare_cgroup_try = true;
                return 0;
        case OPT_USERNS:
        case OPT_USERNS2:
        case OPT_PIDNS: {
                int *slot = id == OPT_USERNS ? &o->userns_fd : id == OPT_USERNS2 ? &o->userns2_fd : &o->pidns_fd;

                if (*slot >= 0)
                        bwrap_warn("Only the last %s option will take effect", option);
                return parse_fd(o, args[0], slot);
        }
        case OPT_DISABLE_USERNS:
                o->disable_userns = true;
                return 0;
        case OPT_ASSERT_USERNS_DISABLED:
                o->assert_userns_disabled = true;
                return 0;
        case OPT_UID:
        case OPT_GID:
                if (cli_parse_uint32(args[0], &v) < 0 || v == UINT32_MAX) {
                        log_error("Invalid %s: %s", id == OPT_UID ? "uid" : "gid", args[0]);
                        return -EINVAL;
                }
                if (id == OPT_UID) {
                        o->have_uid = true;
                        o->uid = v;
                } else {
                        o->have_gid = true;
                        o->gid = v;
                }
                return 0;
        case OPT_HOSTNAME:
                o->hostname = args[0];
                return 0;
        case OPT_CHDIR:
                if (o->chdir)
                        bwrap_warn("Only the last --chdir option will take effect");
                o->chdir = args[0];
                return 0;
        case OPT_CLEARENV:
                r = nsbox_spawn_clear_env(s);
                break;
        case OPT_SETENV:
                r = nsbox_spawn_set_env(s, args[0], args[1]);
                break;
        case OPT_UNSETENV:
                r = nsbox_spawn_unset_env(s, args[0]);
                break;
        case OPT_LOCK_FILE:
                r = nsbox_spawn_add_lock_file(s, args[0]);
                if (r == -EINVAL) {
                        log_error("--lock-file %s: nsboxd needs an absolute path", args[0]);
                        return r;
                }
                if (r == -E2BIG) {
                        log_error("--lock-file %s: at most %u lock files", args[0], 16U);
                        return r;
                }
                o->lock_files = true;
                break;
        case OPT_SYNC_FD:
                return parse_fd(o, args[0], &o->sync_fd);
        case OPT_BLOCK_FD:
                return parse_fd(o, args[0], &o->block_fd);
        case OPT_USERNS_BLOCK_FD:
                return parse_fd(o, args[0], &o->userns_block_fd);
        case OPT_INFO_FD:
                return parse_fd(o, args[0], &o->info_fd);
        case OPT_JSON_STATUS_FD:
                return parse_fd(o, args[0], &o->json_status_fd);
        case OPT_BIND:
        case OPT_BIND_TRY:
        case OPT_DEV_BIND:
        case OPT_DEV_BIND_TRY:
        case OPT_RO_BIND:
        case OPT_RO_BIND_TRY:
                return bind_option(o, id, option, args); /* reports its own errors */
        case OPT_BIND_FD:
        case OPT_RO_BIND_FD:
                if (parse_fd(o, args[0], &fd) < 0)
                        return -EINVAL;
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .b = args[1], .fd = fd,
                                                 .flags = id == OPT_RO_BIND_FD ? NSBOX_MOUNT_READ_ONLY : 0 });
                break;
        case OPT_REMOUNT_RO:
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1 });
                break;
        case OPT_OVERLAY_SRC: {
                char *src = cli_host_path(args[0]);

                if (!src || push_word(&o->overlay_srcs, &o->n_overlay_srcs, src) < 0) {
                        free(src);
                        return -ENOMEM;
                }
                return 0;
        }
        case OPT_OVERLAY:
        case OPT_TMP_OVERLAY:
        case OPT_RO_OVERLAY: {
                size_t needed = id == OPT_RO_OVERLAY ? 2 : 1;

                if (o->n_overlay_srcs < needed) {
                        log_error("%s requires at least %s --overlay-src", option, needed == 2 ? "two" : "one");
                        return -EINVAL;
                }
                BwrapMount m = { .id = id, .option = option, .a = args[0], .fd = -1 };

                /* bubblewrap stacks each --overlay-src on the ones before it; nsboxd takes the top first. */
                m.lower = calloc(o->n_overlay_srcs + 1, sizeof(char *));
                if (!m.lower)
                        return -ENOMEM;
                for (size_t i = 0; i < o->n_overlay_srcs; i++)
                        m.lower[i] = o->overlay_srcs[o->n_overlay_srcs - 1 - i];
                free(o->overlay_srcs);
                o->overlay_srcs = NULL;
                o->n_overlay_srcs = 0;
                if (id == OPT_OVERLAY) {
                        m.a = args[2];
                        m.source = cli_host_path(args[0]);
                        m.work = cli_host_path(args[1]);
                        if (!m.source || !m.work) {
                                free(m.source);
                                free(m.work);
                                strv_free(m.lower);
                                return -ENOMEM;
                        }
                } else if (id == OPT_TMP_OVERLAY)
                        m.flags = NSBOX_OVERLAY_TMP_UPPER;
                return push_mount(o, m);
        }
        case OPT_EXEC_LABEL:
        case OPT_FILE_LABEL:
                /* Where SELinux is not there, bubblewrap ignores labels without a word; saying so is clearer. */
                if (access("/sys/fs/selinux/enforce", F_OK) < 0)
                        log_error("%s %s: SELinux is not enabled on this system", option, args[0]);
                else
                        log_error("%s %s: nsboxd does not set SELinux labels", option, args[0]);
                return -EOPNOTSUPP;
        case OPT_PROC:
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1 });
                break;
        case OPT_DEV:
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1 });
                break;
        case OPT_MQUEUE:
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1 });
                break;
        case OPT_TMPFS:
                mode = o->next_perms >= 0 ? o->next_perms : 0755;
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1, .mode = mode,
                                                 .size = o->next_size });
                o->next_perms = -1;
                o->next_size = 0;
                break;
        case OPT_DIR:
                mode = o->next_perms >= 0 ? o->next_perms : 0755;
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .fd = -1, .mode = mode });
                o->next_perms = -1;
                break;
        case OPT_FILE:
        case OPT_BIND_DATA:
        case OPT_RO_BIND_DATA:
                if (parse_fd(o, args[0], &fd) < 0)
                        return -EINVAL;
                /* bubblewrap's defaults: a --file is 0666 (before the umask), bound data 0600 (nsboxd's
                 * default, left to it so the directories made on the way stay 0755, as bubblewrap's). */
                mode = o->next_perms >= 0 ? o->next_perms : id == OPT_FILE ? 0666 : -1;
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .b = args[1], .fd = fd,
                                                 .mode = mode,
                                                 .flags = id == OPT_RO_BIND_DATA ? NSBOX_MOUNT_READ_ONLY : 0 });
                o->next_perms = -1;
                break;
        case OPT_SYMLINK:
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .b = args[1], .fd = -1 });
                break;
        case OPT_SECCOMP:
                if (o->add_seccomp_fd) {
                        log_error("--seccomp cannot be combined with --add-seccomp-fd");
                        return -EINVAL;
                }
                if (parse_fd(o, args[0], &fd) < 0)
                        return -EINVAL;
                /* The last --seccomp is the one; the programs are read once every option is seen. */
                o->n_seccomp_fds = 0;
                o->seccomp_replaces = true;
                return push_seccomp_fd(o, fd);
        case OPT_ADD_SECCOMP_FD:
                if (o->seccomp_replaces) {
                        log_error("--add-seccomp-fd cannot be combined with --seccomp");
                        return -EINVAL;
                }
                if (parse_fd(o, args[0], &fd) < 0)
                        return -EINVAL;
                o->add_seccomp_fd = true;
                return push_seccomp_fd(o, fd);
        case OPT_NEW_SESSION:
                o->new_session = true;
                return 0;
        case OPT_DIE_WITH_PARENT:
                o->die_with_parent = true;
                return 0;
        case OPT_AS_PID_1:
                o->as_pid_1 = true;
                return 0;
        case OPT_CAP_ADD:
        case OPT_CAP_DROP:
                if (cli_parse_capability(args[0], &bits) < 0) {
                        log_error("%s '%s' is not a valid capability", option, args[0]);
                        return -EINVAL;
                }
                if (!o->caps_changed) {
                        /* As bubblewrap: root starts from the capabilities it has, anyone else from none. */
                        o->caps = geteuid() == 0 ? own_capabilities() : 0;
                        o->caps_changed = true;
                }
                if (id == OPT_CAP_ADD)
                        o->caps |= bits;
                else
                        o->caps &= ~bits;
                return 0;
        case OPT_PERMS:
                if (o->next_perms >= 0) {
                        log_error("--perms given twice for the same file");
                        return -EINVAL;
                }
                if (cli_parse_mode(args[0], &o->next_perms) < 0) {
                        o->next_perms = -1;
                        log_error("--perms takes an octal argument, not '%s'", args[0]);
                        return -EINVAL;
                }
                return 0;
        case OPT_SIZE: {
                uint64_t size;

                if (o->next_size > 0) {
                        log_error("--size given twice for the same file");
                        return -EINVAL;
                }
                /* At most half the address space, as bubblewrap: the kernel takes it as a size_t. */
                if (cli_parse_size(args[0], &size) < 0 || size == 0 || size > SIZE_MAX / 2) {
                        log_error("--size takes a positive number of bytes, not '%s'", args[0]);
                        return -EINVAL;
                }
                o->next_size = size;
                return 0;
        }
        case OPT_CHMOD:
                if (cli_parse_mode(args[0], &mode) < 0) {
                        log_error("--chmod takes an octal argument, not '%s'", args[0]);
                        return -EINVAL;
                }
                r = push_mount(o, (BwrapMount) { .id = id, .option = option, .a = args[0], .b = args[1], .fd = -1,
                                                 .mode = mode });
                break;
        }

        if (r == -EBADF) {
                log_error("%s %s: file descriptor is not open", option, args[0]);
                return r;
        }
        if (r < 0) {
                log_error("%s %s%s%s: %s", option, args[0] ?: "", args[0] && args[1] ? " " : "", args[1] ?: "",
                          r == -EINVAL ? "not valid here (a destination must be an absolute path)" : strerror(-r));
                return r;
        }
        return 0;
}

static bool takes_perms(int id) {
        return id == OPT_TMPFS || id == OPT_DIR || id == OPT_FILE || id == OPT_BIND_DATA || id == OPT_RO_BIND_DATA ||
               id == OPT_PERMS || id == OPT_SIZE;
}

static bool takes_size(int id) {
        return id == OPT_TMPFS || id == OPT_PERMS || id == OPT_SIZE;
}

static bool takes_overlay_src(int id) {
        return id == OPT_OVERLAY_SRC || id == OPT_OVERLAY || id == OPT_TMP_OVERLAY || id == OPT_RO_OVERLAY;
}

/* What bubblewrap checks after each option: --perms, --size and --overlay-src bind to what comes next. */
static int check_pending(const BwrapOptions *o, int next /* BwrapOption, or -1 at the end */) {
        if (o->next_perms >= 0 && (next < 0 || !takes_perms(next))) {
                log_error("--perms must be followed by an option that creates a file");
                return -EINVAL;
        }
        if (o->next_size > 0 && (next < 0 || !takes_size(next))) {
                log_error("--size must be followed by --tmpfs");
                return -EINVAL;
        }
        if (o->n_overlay_srcs > 0 && (next < 0 || !takes_overlay_src(next))) {
                log_error("--overlay-src must be followed by another --overlay-src or one of --overlay, "
                          "--tmp-overlay, or --ro-overlay");
                return -EINVAL;
        }
        return 0;
}

int bwrap_options_parse(int argc, char *argv[], NsboxSpawn *s, BwrapOptions *o) {
        size_t n = 0, i = 0;
        int r;

        o->next_perms = -1;
        o->userns_fd = o->userns2_fd = o->pidns_fd = -1;
        o->info_fd = o->json_status_fd = o->sync_fd = o->block_fd = o->userns_block_fd = -1;

        for (int k = 1; k < argc; k++)
                if (push_word(&o->argv, &n, argv[k]) < 0)
                        return -ENOMEM;
        if (n == 0) {
                help(stderr, argv[0]);
                return -EINVAL;
        }

        while (i < n) {
                const char *word = o->argv[i];
                size_t t;

                if (streq(word, "--")) {
                        i++;
                        break;
                }
                if (word[0] != '-')
                        break;

                for (t = 0; t < ELEMENTSOF(option_table); t++)
                        if (streq(word, option_table[t].name))
                                break;
                if (t >= ELEMENTSOF(option_table)) {
                        log_error("Unknown option %s", word);
                        return -EINVAL;
                }
                if (n - i - 1 < option_table[t].n_args) {
                        static const char *const counts[] = { "no", "an", "two", "three" };

                        log_error("%s takes %s argument%s", word, counts[option_table[t].n_args],
                                  option_table[t].n_args > 1 ? "s" : "");
                        return -EINVAL;
                }

                r = check_pending(o, (int) option_table[t].id);
                if (r < 0)
                        return r;

                char **args = o->argv + i + 1;
                i += 1 + option_table[t].n_args;

                if (option_table[t].id == OPT_ARGS) {
                        int fd;

                        if (parse_fd(o, args[0], &fd) < 0)
                                return -EINVAL;
                        r = read_args(o, fd, &o->argv, &n, i);
                        if (r < 0)
                                return r;
                        continue;
                }

                r = handle_option(s, o, option_table[t].id, word, args, argv[0]);
                if (r < 0)
                        return r;
                if (option_table[t].id == OPT_HELP || option_table[t].id == OPT_VERSION)
                        return 0;
        }

        r = check_pending(o, -1);
        if (r < 0)
                return r;
        if (i >= n) {
                help(stderr, argv[0]);
                return -EINVAL;
        }
        o->command = o->argv + i;
        return 1;
}

/* Passes on every fd we inherited that no option consumed, at the same number, as bubblewrap leaves them
 * open for the command. */
static int pass_inherited_fds(NsboxSpawn *s, const BwrapOptions *o) {
        for (int fd = 3; fd < 1024; fd++) {
                int flags = fcntl(fd, F_GETFD);
                bool consumed = false;

                if (flags < 0 || (flags & FD_CLOEXEC))
                        continue;
                for (size_t i = 0; i < o->n_consumed_fds; i++)
                        consumed = consumed || o->consumed_fds[i] == fd;
                if (consumed)
                        continue;
                int r = nsbox_spawn_add_fd(s, fd, fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int set_stdio(NsboxSpawn *s) {
        int (*setters[3])(NsboxSpawn *, int) = { nsbox_spawn_set_stdin, nsbox_spawn_set_stdout, nsbox_spawn_set_stderr };

        for (int fd = 0; fd < 3; fd++) {
                int r;

                if (fcntl(fd, F_GETFD) < 0)
                        continue; /* closed: the command gets /dev/null */
                r = setters[fd](s, fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_capabilities(NsboxSpawn *s, const BwrapOptions *o, uint32_t sandbox_uid, bool own_userns) {
        _cleanup_strv_free_ char **names = NULL;
        unsigned sets;

        if (o->caps_changed) {
                /* Every set, ambient too, so a uid other than 0 keeps them across exec, as bubblewrap. */
                names = cli_capability_names(o->caps);
                sets = NSBOX_CAPABILITIES_ALL;
        } else if (sandbox_uid == 0) {
                /* uid 0 in the sandbox has every capability of a namespace of its own, as root has; in ours,
                 * what we have, as bubblewrap run by root keeps (asking for more is refused from inside a
                 * sandbox). */
                names = cli_capability_names(own_userns ? cli_all_capabilities() : own_capabilities());
                sets = NSBOX_CAPABILITIES_BOUNDING | NSBOX_CAPABILITIES_EFFECTIVE | NSBOX_CAPABILITIES_PERMITTED;
        } else
                return 0;
        if (!names)
                return -ENOMEM;
        return nsbox_spawn_set_capabilities(s, sets, (const char *const *) names);
}

static bool has_overlay(const BwrapOptions *o) {
        for (size_t i = o->root_index; i < o->n_mounts; i++)
                if (o->mounts[i].id == OPT_OVERLAY || o->mounts[i].id == OPT_TMP_OVERLAY ||
                    o->mounts[i].id == OPT_RO_OVERLAY)
                        return true;
        return false;
}

int bwrap_options_apply(NsboxSpawn *s, BwrapOptions *o) {
        uid_t euid = geteuid();
        gid_t egid = getegid();
        unsigned ns = NSBOX_NAMESPACE_MOUNT;
        bool userns;
        uint32_t uid, gid, own_uid = euid, own_gid = egid;
        int r;

        if (o->userns_block_fd >= 0) {
                /* Its use is writing the id maps meanwhile, which nsboxd does itself as the policy allows. */
                log_error("--userns-block-fd: nsboxd writes the user namespace's id maps itself; use --uid and --gid");
                return -EOPNOTSUPP;
        }
        if (o->block_fd >= 0) {
                r = nsbox_spawn_set_block_fd(s, o->block_fd);
                if (r < 0) {
                        log_error("--block-fd %d: %s", o->block_fd, r == -EBADF ? "not an open file descriptor" : strerror(-r));
                        return r;
                }
        }
        if (o->userns2_fd >= 0) {
                /* Entered once the sandbox is set up, before the command takes its ids: nsboxd checks it is a
                 * user namespace below the sandbox's, which we could enter ourselves. */
                r = nsbox_spawn_set_command_user_namespace(s, o->userns2_fd);
                if (r < 0) {
                        log_error("--userns2 %d: %s", o->userns2_fd, r == -EBADF ? "not an open file descriptor" : strerror(-r));
                        return r;
                }
        }

        if (o->userns_fd >= 0 && (o->unshare_user || o->unshare_user_try)) {
                log_error("--unshare-user and --userns cannot be combined");
                return -EINVAL;
        }
        if (o->pidns_fd >= 0 && o->unshare_pid) {
                log_error("--pidns with --unshare-pid: nsboxd cannot make a PID namespace inside a joined one yet");
                return -EOPNOTSUPP;
        }
        /* bubblewrap run by anyone but root always makes a user namespace (the caller's ids mapped to
         * themselves unless --uid/--gid say otherwise). nsboxd needs one for a caller's overlays, and refuses
         * binds from fds in one: so one is made for overlays only. */
        userns = o->unshare_user || o->unshare_user_try || (euid != 0 && o->userns_fd < 0 && has_overlay(o));
        if (userns)
                ns |= NSBOX_NAMESPACE_USER;
        if (o->unshare_ipc)
                ns |= NSBOX_NAMESPACE_IPC;
        if (o->unshare_pid)
                ns |= NSBOX_NAMESPACE_PID;
        if (o->unshare_net)
                ns |= NSBOX_NAMESPACE_NET;
        if (o->unshare_uts)
                ns |= NSBOX_NAMESPACE_UTS;
        if (o->unshare_cgroup || o->unshare_cgroup_try)
                ns |= NSBOX_NAMESPACE_CGROUP;
        r = nsbox_spawn_set_namespaces(s, ns);
        if (r < 0)
                return r;

        if (o->userns_fd >= 0) {
                r = nsbox_spawn_join_namespace(s, "user", o->userns_fd);
                if (r < 0) {
                        log_error("--userns %d: %s", o->userns_fd, r == -EBADF ? "not an open file descriptor" : strerror(-r));
                        return r;
                }
        }
        if (o->pidns_fd >= 0) {
                r = nsbox_spawn_join_namespace(s, "pid", o->pidns_fd);
                if (r < 0) {
                        log_error("--pidns %d: %s", o->pidns_fd, r == -EBADF ? "not an open file descriptor" : strerror(-r));
                        return r;
                }
        }

        if (o->disable_userns && !userns) {
                log_error("--disable-userns requires --unshare-user");
                return -EINVAL;
        }
        if (o->assert_userns_disabled && !o->disable_userns) {
                /* nsboxd makes the sandbox; only --disable-userns tells that it cannot make user namespaces. */
                log_error("--assert-userns-disabled: creation of new user namespaces was not disabled as requested");
                return -EINVAL;
        }
        if (o->disable_userns) {
                r = nsbox_spawn_set_disable_user_namespaces(s, true);
                if (r < 0)
                        return r;
        }

        if ((o->have_uid || o->have_gid) && !o->unshare_user && !o->unshare_user_try && o->userns_fd < 0 &&
            !((!o->have_uid || o->uid == euid) && (!o->have_gid || o->gid == egid))) {
                log_error("Specifying --%s requires --unshare-user or --userns", o->have_uid ? "uid" : "gid");
                return -EINVAL;
        }
        uid = o->have_uid ? o->uid : euid;
        gid = o->have_gid ? o->gid : egid;
        if (!userns && o->userns_fd >= 0 && (!o->have_uid || !o->have_gid) &&
            cli_ids_in_user_namespace(o->userns2_fd >= 0 ? o->userns2_fd : o->userns_fd, &own_uid, &own_gid) >= 0) {
                /* Where the command runs, as bubblewrap: as our own ids there, not their numbers on the host. */
                if (!o->have_uid)
                        uid = own_uid;
                if (!o->have_gid)
                        gid = own_gid;
        }
        if (userns) {
                /* As bubblewrap: our uid and gid appear as --uid and --gid inside, one id each. */
                r = nsbox_spawn_add_uid_mapping(s, uid, euid, 1);
                if (r >= 0)
                        r = nsbox_spawn_add_gid_mapping(s, gid, egid, 1);
                if (r >= 0)
                        r = nsbox_spawn_set_user(s, uid, gid, NULL, 0);
                if (r < 0)
                        return r;
        } else if (o->userns_fd >= 0) {
                /* bubblewrap runs as --uid/--gid in the joined namespace, by default as our own ids as it sees
                 * them (nsboxd's default there is another's: 0, or as the sandbox that made it runs there). */
                r = nsbox_spawn_set_user(s, uid, gid, NULL, 0);
                if (r < 0)
                        return r;
        }

        r = apply_capabilities(s, o, uid, userns || o->userns_fd >= 0);
        if (r < 0) {
                log_error("--cap-add/--cap-drop: %s", strerror(-r));
                return r;
        }

        /* bubblewrap has no system call filter of its own: ask for none, plus the programs given; the
         * policy may insist on nsboxd's default profile (see nsbox-bwrap(1)). */
        r = read_seccomp_programs(o);
        if (r < 0)
                return r;
        r = nsbox_spawn_set_seccomp(s, "unconfined");
        for (size_t i = 0; r >= 0 && i < o->n_seccomp_memfds; i++)
                r = nsbox_spawn_add_seccomp_fd(s, o->seccomp_memfds[i]);
        if (r < 0) {
                log_error("seccomp: %s", r == -E2BIG ? "too many programs (at most 16)" : strerror(-r));
                return r;
        }

        if (o->hostname) {
                if (!o->unshare_uts) {
                        log_error("Specifying --hostname requires --unshare-uts");
                        return -EINVAL;
                }
                r = nsbox_spawn_set_hostname(s, o->hostname);
                if (r < 0)
                        return r;
        }
        if (o->as_pid_1) {
                if (!o->unshare_pid) {
                        log_error("Specifying --as-pid-1 requires --unshare-pid");
                        return -EINVAL;
                }
                if (o->lock_files) {
                        log_error("Specifying --as-pid-1 and --lock-file is not permitted");
                        return -EINVAL;
                }
                r = nsbox_spawn_set_init(s, false);
                if (r < 0)
                        return r;
        } else if (o->lock_files && !o->unshare_pid && o->pidns_fd < 0) {
                /* As bubblewrap forks a process to hold them: nsboxd's init holds the locks. */
                r = nsbox_spawn_set_init(s, true);
                if (r < 0)
                        return r;
        }

        /* bubblewrap's rule: --chdir, else our directory if the sandbox has it, else $HOME; PWD says which. */
        if (o->chdir) {
                r = nsbox_spawn_set_cwd(s, o->chdir);
                if (r >= 0)
                        r = nsbox_spawn_set_env(s, "PWD", o->chdir);
                if (r < 0) {
                        log_error("--chdir %s: not an absolute path", o->chdir);
                        return r;
                }
        } else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                const char *home = getenv("HOME");
                const char *fallbacks[3] = {};
                size_t k = 0;

                if (home && home[0] == '/')
                        fallbacks[k++] = home;
                fallbacks[k++] = "/";
                if (cwd && cwd[0] == '/') {
                        r = nsbox_spawn_set_cwd(s, cwd);
                        if (r >= 0)
                                r = nsbox_spawn_set_cwd_fallbacks(s, fallbacks);
                        if (r >= 0)
                                r = nsbox_spawn_set_env(s, "PWD", cwd);
                        if (r < 0)
                                return r;
                }
        }

        for (size_t i = o->root_index; i < o->n_mounts; i++) {
                r = emit_mount(s, o, &o->mounts[i]);
                if (r < 0)
                        return r;
        }

        r = set_stdio(s);
        if (r >= 0)
                r = pass_inherited_fds(s, o);
        if (r < 0) {
                log_error("cannot pass the file descriptors on: %s", strerror(-r));
                return r;
        }

        /* Under bubblewrap the command is executed by a fork of bwrap, where /proc/self/exe is bwrap: programs
         * re-run it that way for a sandbox inside the sandbox. Here nsboxd executes the command, so the
         * name is turned into this program's path, and the inner nsbox-bwrap asks nsboxd in turn. */
        if (streq(o->command[0], "/proc/self/exe")) {
                o->self_exe = realpath("/proc/self/exe", NULL);
                if (!o->self_exe)
                        return -ENOMEM;
                o->command[0] = o->self_exe;
        }
        r = nsbox_spawn_set_argv(s, (const char *const *) o->command);
        if (r >= 0 && o->argv0)
                r = nsbox_spawn_set_argv0(s, o->argv0);
        if (r < 0) {
                log_error("the command is not valid: %s", strerror(-r));
                return r;
        }
        return 0;
}

const char *bwrap_options_mount_origin(const BwrapOptions *o, long index) {
        return index >= 0 && (size_t) index < o->n_mount_origins ? o->mount_origins[index] : NULL;
}

void bwrap_options_done(BwrapOptions *o) {
        for (size_t i = 0; i < o->n_mounts; i++) {
                free(o->mounts[i].source);
                free(o->mounts[i].work);
                strv_free(o->mounts[i].lower);
        }
        free(o->mounts);
        close_many(o->seccomp_memfds, o->n_seccomp_memfds);
        free(o->seccomp_memfds);
        free(o->seccomp_fds);
        strv_free(o->overlay_srcs);
        strv_free(o->mount_origins);
        strv_free(o->args_words);
        free(o->consumed_fds);
        free(o->argv);
        free(o->self_exe);
        *o = (BwrapOptions) {};
}
