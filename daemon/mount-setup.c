/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox's file tree. mount_plan_new() runs in the daemon: it checks the
 * request's root and mounts against the caller's rights and prepares every
 * string, number and id the child will need. mount_plan_apply() runs in the
 * child, inside its new mount namespace, and only makes raw syscalls.
 *
 * Order in the child:
 *  1. "/" and everything below it become MS_PRIVATE before anything is
 *     mounted, so nothing propagates back to the host. Without root and
 *     mounts that is all: the sandbox sees a private copy of the host's tree.
 *  2. A small staging tmpfs is mounted on /tmp and pivoted into. The host's
 *     tree is then at /oldroot (every source path is resolved there, inside
 *     it, never through magic links) and the sandbox's tree is built on
 *     /newroot. pivot_root() moves the staging mount off /tmp, so the host's
 *     /tmp stays reachable as a source.
 *  3. /newroot gets a fresh tmpfs (mode 0755) holding only what the
 *     entries put there, unless the first entry is itself a root.
 *  4. The entries, strictly in request order: a later entry sees the
 *     directories, symlinks and mounts an earlier one made. `root` is the
 *     first of them: a bind of it on "/".
 *  5. /oldroot is detached, /newroot becomes "/" and the staging tmpfs is
 *     detached as well: nothing of the host's tree stays reachable.
 *
 * Destinations are resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)
 * against the new root, so a symlink planted in the tree (absolute or with
 * "..") can never point a mount or a created file outside of it. Missing
 * directories are made one component at a time, and every mount is attached
 * to the resolved fd with move_mount(), never by path.
 *
 * Whose rights: a privileged caller acts with the daemon's. For any other
 * caller, sources (and `root`) are opened and access-checked with the
 * caller's fsuid/fsgid and groups (R_OK for a file, X_OK for a directory),
 * destinations are resolved with them (no existence oracle on host trees),
 * and anything created outside the fresh tmpfs mounts of this plan (that is,
 * on host-backed binds or in `root`) is created with the caller's ids too, so
 * the daemon's rights never write into the host. With a new user namespace
 * the child takes the ns ids mapped to the caller for the whole setup
 * (before its own credentials stage it would otherwise still be host root as
 * far as file ownership goes) and keeps the caller's supplementary groups,
 * which the spawn path gives it before the user namespace exists.
 * Sources given as an fd (sourceFileDescriptor) were opened by the client
 * itself and are cloned in the daemon, where that fd's mount lives; such a
 * clone is not locked in a new user namespace, so a non-privileged caller
 * creating one must name its sources by path.
 *
 * Ownership: tmpfs entries and what "dir" and "file" entries create belong to
 * the user the sandbox runs as ("user" of the request; else a non-root caller
 * outside a user namespace itself; else whoever mounts: root, or in a new
 * user namespace the id the caller is mapped to). The root tmpfs and the
 * directories made on the way to a destination belong to whoever mounts.
 *
 * "proc" is a fresh procfs with a new pid namespace, else a read-only bind of
 * the host's. "dev" is bubblewrap's layout: a tmpfs with null, zero, full,
 * random, urandom and tty bound from the host, a private devpts
 * (/dev/ptmx -> pts/ptmx), a tmpfs /dev/shm and the fd/stdin/stdout/stderr
 * and core (/proc/kcore) links. "bind-data" writes its contents into a file on
 * a tmpfs of its own and binds that file, so it may cover an existing one.
 * "chmod" changes the mode of what exists, as the caller outside this plan's
 * tmpfs mounts. A bind with "nofail" whose source does not exist is skipped.
 * "overlay" opens its layers as bind sources are opened and hands overlayfs
 * their fds' magic links; only in a new user namespace for a caller other
 * than root, since overlayfs acts with its mounter's rights. "file" copies its fd from
 * the current position, at most INIT_COPY_SIZE_MAX bytes, into a new file
 * (never over an existing one); a pipe whose writer stays open blocks the
 * child until it is killed. The copy is made by the nsbox-init program,
 * exec'd for it (copy_contents()): a tmpfs page is charged to the memory
 * cgroup of its writer's memory, and the child's is the daemon's.
 *
 * Root and mounts need a new mount namespace ("mount" in namespaces), not a
 * joined one, so the child never mounts in a namespace someone else lives in:
 * spawn_request_verify() owns that rule, and mount_plan_new() asserts it.
 *
 * The root is a bind like any other. A "bind" or "tmpfs" entry on "/" is
 * built by the same code as one elsewhere, with the same options, and then
 * replaces the tree built so far, as a mount over it would hide it in
 * bubblewrap: the old tree is detached, not left below. Only the attaching
 * differs. There is no other way to make a root, so no root escapes the
 * rules below, whoever the caller is.
 *
 * Every mount gets nosuid and nodev unless the entry asks for "suid"/"dev",
 * which only a privileged caller may, except "dev" on a bind: attributes are
 * only ever set, never cleared, so such a bind keeps the nodev its source
 * mounts have, and the policy (device-binds) decides whether a caller may
 * ask at all; the same holds for the tmpfs root made
 * when no entry gives one. A bind's options apply to every submount it brings
 * along (mount_setattr(AT_RECURSIVE)), so a read-only bind is read-only all
 * the way down. "rw" never clears a read-only flag the source mount already
 * has. Where an attribute deliberately stops at one mount, it is said there:
 * "remount-ro" makes just the mount at its destination (which must be one)
 * read-only, as bubblewrap's --remount-ro does; a read-only "dev" leaves its
 * /dev/pts and /dev/shm writable; its device nodes keep dev, which is what
 * they are for.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "init-supervise.h"
#include "mount-setup.h"
#include "sanitizer.h"

#define MOUNT_ATTR_SAFE (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
#define MOUNT_ATTR_SPECIAL (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

typedef enum CredsMode {
        CREDS_DAEMON, /* privileged caller: the daemon's own rights */
        CREDS_SWITCH, /* the caller's fs ids around source lookups and host-backed creation */
        CREDS_USERNS, /* new user namespace: the caller's mapped ids for the whole setup */
        CREDS_JOINED, /* joined user namespace: the caller's host ids, taken before joining, for the whole setup */
} CredsMode;

typedef struct MountOp {
        MountKind kind;
        char *display;        /* the destination as requested, for messages */
        char *destination;    /* relative to the new root; "" is "/": the root itself */
        char *source;         /* bind: relative to the host's root; symlink: the link text */
        char *source_display; /* bind: the source as requested */
        int source_tree_fd;   /* bind from an fd: detached clone made in the daemon (owned) */
        int contents_fd;      /* file: the message fd with the contents (borrowed) */
        unsigned attr;        /* MOUNT_ATTR_* set (recursively) on the new mount */
        mode_t mode;          /* dir, file, bind-data, chmod */
        mode_t parent_mode;   /* directories made on the way to destination (bubblewrap's rule, parent_mode_for()) */
        bool optional;        /* bind: a missing source skips the entry ("nofail") */
        char **lower;         /* overlay: the lower layers, top first, relative to the host's root */
        size_t n_lower;
        char *upper;          /* overlay: upper layer and work directory, or NULL (tmp_upper, or read-only) */
        char *work;
        bool tmp_upper;       /* overlay: upper and work on a private tmpfs */
        char tmpfs_mode[16];  /* tmpfs "mode" value */
        char tmpfs_size[32];  /* tmpfs "size" value, "" for the default */
        char tmpfs_uid[16];   /* tmpfs "uid"/"gid": the sandbox's user, "" for the mounter's */
        char tmpfs_gid[16];
} MountOp;

struct MountPlan {
        MountOp *ops;
        size_t n_ops;

        bool build_root; /* root or mounts given: pivot into a new tree */
        bool pid_namespace;

        /* Who owns the tmpfs entries and the dirs and files the entries ask for: the sandbox's user. */
        bool set_owner;
        uid_t owner_uid;
        gid_t owner_gid;

        CredsMode creds;
        uid_t uid; /* the caller's ids (namespace ids with CREDS_USERNS) */
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        uid_t own_uid; /* the daemon's, restored after CREDS_SWITCH */
        gid_t own_gid;
        gid_t *own_groups;
        size_t n_own_groups;

        /* Written by the child (its copy): mount ids of the tmpfs mounts it made. */
        uint64_t *fresh_mounts;
        size_t n_fresh_max;

        /* The nsbox-init program, borrowed, which copies "file" and "bind-data" contents; -EBADF: none, or
         * nothing to copy (mount_plan_set_copy_program()). */
        int copy_program_fd;
};

/* What the child keeps while applying; lives on its stack. */
typedef struct Apply {
        const MountPlan *plan;
        SpawnError *error;
        int host_fd; /* the host's tree (/oldroot) */
        int root_fd; /* the new root (/newroot) */
        size_t n_fresh;
        bool as_caller; /* fs ids are currently the caller's (CREDS_SWITCH) */
        mode_t parent_mode; /* the current op's, for the directories made on the way */
} Apply;

/* ---- errors: async-signal-safe, no stdio in the child ---- */

static void append(char *buf, size_t size, size_t *pos, const char *s) {
        while (s && *s && *pos + 1 < size)
                buf[(*pos)++] = *s++;
        buf[*pos] = 0;
}

static int fail(SpawnError *e, int r, const char *path, const char *what, const char *detail) {
        size_t pos = 0;
        const char *desc;

        if (r >= 0)
                r = -EIO;
        if (!e)
                return r;

        memset(e, 0, sizeof(*e));
        append(e->stage, sizeof(e->stage), &pos, "mount");
        e->error = -r;

        pos = 0;
        append(e->message, sizeof(e->message), &pos, path);
        if (what) {
                append(e->message, sizeof(e->message), &pos, ": ");
                append(e->message, sizeof(e->message), &pos, what);
        }
        if (detail) {
                append(e->message, sizeof(e->message), &pos, " ");
                append(e->message, sizeof(e->message), &pos, detail);
        }
        desc = strerrordesc_np(-r);
        append(e->message, sizeof(e->message), &pos, ": ");
        append(e->message, sizeof(e->message), &pos, desc ? desc : "unknown error");
        return r;
}

/* Daemon side: with formatting. */
_printf_(3, 4) static int plan_fail(SpawnError *e, int r, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        memset(e, 0, sizeof(*e));
        snprintf(e->stage, sizeof(e->stage), "mount");
        e->error = -r;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return r;
}

/* ---- the plan ---- */

static void mount_op_done(MountOp *op) {
        for (size_t i = 0; i < op->n_lower; i++)
                free(op->lower[i]);
        free(op->lower);
        free(op->upper);
        free(op->work);
        free(op->display);
        free(op->destination);
        free(op->source);
        free(op->source_display);
        safe_close(op->source_tree_fd);
}

MountPlan *mount_plan_free(MountPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_ops; i++)
                mount_op_done(&p->ops[i]);
        free(p->ops);
        free(p->groups);
        free(p->own_groups);
        free(p->fresh_mounts);
        free(p);
        return NULL;
}

size_t mount_plan_fds(const MountPlan *p, int *buf, size_t n) {
        size_t k = 0;

        if (!p)
                return 0;
        if (p->copy_program_fd >= 0) {
                if (k < n)
                        buf[k] = p->copy_program_fd;
                k++;
        }
        for (size_t i = 0; i < p->n_ops; i++) {
                const int fds[] = { p->ops[i].source_tree_fd, p->ops[i].contents_fd };

                for (size_t j = 0; j < ELEMENTSOF(fds); j++) {
                        if (fds[j] < 0)
                                continue;
                        if (k < n)
                                buf[k] = fds[j];
                        k++;
                }
        }
        return k;
}

void mount_plan_set_copy_program(MountPlan *p, int fd) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].kind == MOUNT_FILE || p->ops[i].kind == MOUNT_BIND_DATA) {
                        p->copy_program_fd = fd;
                        return;
                }
}

void mount_plan_visit_fds(MountPlan *p, FdVisitor visit, void *userdata) {
        if (!p)
                return;
        visit(&p->copy_program_fd, false, userdata);
        for (size_t i = 0; i < p->n_ops; i++) {
                visit(&p->ops[i].source_tree_fd, true, userdata);
                visit(&p->ops[i].contents_fd, false, userdata);
        }
}

/*
 * "/a//b/" -> "a/b". Refuses relative paths and "." or ".." components: the
 * decoder already normalizes, but this is what makes in-root resolution mean
 * what the request says.
 */
static int path_to_relative(const char *path, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        const char *p = path;

        if (!path || path[0] != '/')
                return -EINVAL;
        if (strlen(path) >= PATH_MAX)
                return -ENAMETOOLONG;

        out = malloc(strlen(path) + 1);
        if (!out)
                return -ENOMEM;

        while (*p) {
                const char *e;
                size_t len;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                e = strchrnul(p, '/');
                len = (size_t) (e - p);
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                if (n > 0)
                        out[n++] = '/';
                memcpy(out + n, p, len);
                n += len;
                p = e;
        }
        out[n] = 0;

        *ret = TAKE_PTR(out);
        return 0;
}

static bool fd_index_valid(const SpawnContext *c, int index) {
        return index >= 0 && (size_t) index < c->n_message_fds && c->message_fds && c->message_fds[index] >= 0;
}

/* host id -> the namespace id it is mapped to; else the first mapped id (every mapped id is the caller's). */
static int map_to_namespace(const IdMapping *m, size_t n, uint32_t host_id, uint32_t *ret) {
        for (size_t i = 0; i < n; i++)
                if (host_id >= m[i].host_id && host_id - m[i].host_id < m[i].size) {
                        *ret = m[i].container_id + (host_id - m[i].host_id);
                        return 0;
                }
        if (n == 0)
                return -ENOENT;
        *ret = m[0].container_id;
        return 0;
}

/*
 * bubblewrap's rule for the directories made on the way to what an entry
 * creates: 0755, without the group's access where the entry's mode gives the
 * group none, and without the others' where it gives them none, so parents of
 * a private file are not more open than it. Without a mode: 0755.
 */
static mode_t parent_mode_for(int mode) {
        mode_t m = 0755;

        if (mode >= 0 && (mode & 0070) == 0)
                m &= ~(mode_t) 0050;
        if (mode >= 0 && (mode & 0007) == 0)
                m &= ~(mode_t) 0005;
        return m;
}

/* label: the entry as the request names it, "mounts[3]" or "root". */
static int plan_op(const SpawnContext *c, const MountPlan *p, const char *label, const MountEntry *m, MountOp *op,
                   SpawnError *ret_error) {
        const Caller *caller = c->caller;
        const char *dest = m->destination ? m->destination : "(none)";
        int r;

        r = path_to_relative(m->destination, &op->destination);
        if (r < 0)
                return plan_fail(ret_error, -EINVAL, "%s: destination %s is not an absolute path without \".\" and \"..\"",
                                 label, dest);
        op->display = strdup(m->destination);
        if (!op->display)
                return plan_fail(ret_error, -ENOMEM, "out of memory");
        op->parent_mode = parent_mode_for(m->kind == MOUNT_CHMOD ? -1 : m->mode);
        if (op->destination[0] == 0 && m->kind != MOUNT_BIND && m->kind != MOUNT_TMPFS && m->kind != MOUNT_REMOUNT_RO &&
            m->kind != MOUNT_CHMOD)
                return plan_fail(ret_error, -EINVAL, "%s: destination / is only valid for bind, tmpfs, remount-ro and chmod",
                                 label);
        /* spawn_request_verify()'s decoder refuses an optional root. */
        assert(!(op->destination[0] == 0 && m->optional));

        /* "dev" on a bind only keeps nodev off: the source's own nodev stays, so a caller reaches device
         * nodes only where the host lets it already (the policy's device-binds decides whether at all). */
        if ((m->allow_suid || (m->allow_dev && m->kind != MOUNT_BIND)) && !caller->privileged)
                return plan_fail(ret_error, -EPERM, "%s (%s): option \"%s\" needs a privileged caller", label, dest,
                                 m->allow_suid ? "suid" : "dev");
        if (m->mode >= 0 && (m->mode & ~07777))
                return plan_fail(ret_error, -EINVAL, "%s (%s): invalid mode %o", label, dest, (unsigned) m->mode);
        if (m->mode >= 0 && (m->mode & S_ISUID) && !caller->privileged)
                return plan_fail(ret_error, -EPERM, "%s (%s): a setuid mode needs a privileged caller", label, dest);
        if (m->mode >= 0 && (m->mode & S_ISGID) && (mount_kind_reads_stream(m->kind) || m->kind == MOUNT_CHMOD) &&
            !caller->privileged)
                return plan_fail(ret_error, -EPERM, "%s (%s): a setgid mode needs a privileged caller", label, dest);

        op->kind = m->kind;
        op->optional = m->optional;
        op->attr = (m->allow_suid ? 0 : MOUNT_ATTR_NOSUID) | (m->allow_dev ? 0 : MOUNT_ATTR_NODEV) |
                   (m->no_exec ? MOUNT_ATTR_NOEXEC : 0) | (m->read_only ? MOUNT_ATTR_RDONLY : 0);

        switch (m->kind) {
        case MOUNT_BIND:
                if ((m->source != NULL) == (m->source_fd_index >= 0))
                        return plan_fail(ret_error, -EINVAL, "%s (%s): a bind needs exactly one of source and sourceFileDescriptor",
                                         label, dest);
                if (m->source) {
                        r = path_to_relative(m->source, &op->source);
                        if (r < 0)
                                return plan_fail(ret_error, -EINVAL, "%s (%s): source %s is not an absolute path without \".\" and \"..\"",
                                                 label, dest, m->source);
                        op->source_display = strdup(m->source);
                        if (!op->source_display)
                                return plan_fail(ret_error, -ENOMEM, "out of memory");
                } else {
                        int fd;

                        if (!fd_index_valid(c, m->source_fd_index))
                                return plan_fail(ret_error, -EBADF, "%s (%s): sourceFileDescriptor %d is not a valid fd index", label,
                                                 dest, m->source_fd_index);
                        /*
                         * The clone is made here, by host root in the daemon's mount namespace, so the
                         * child's new user namespace would get it without MNT_LOCKED and without its
                         * read-only, nosuid and nodev flags locked: root in that namespace could make a
                         * read-only host mount writable or unmount what hides something below. A clone
                         * made after the user and mount namespaces exist would be locked, but from the
                         * child the client's mount (in another mount namespace) cannot be cloned.
                         */
                        if (!caller->privileged &&
                            ((c->request->namespaces & NAMESPACE_BIT(NAMESPACE_USER)) || p->creds == CREDS_JOINED))
                                return plan_fail(ret_error, -EPERM,
                                                 "%s.sourceFileDescriptor (%s): a bind from a file descriptor cannot be locked in a new user namespace; use source",
                                                 label, dest);
                        fd = c->message_fds[m->source_fd_index];
                        /*
                         * A mount can only be cloned in the namespace it lives in: this one, not the
                         * child's copy. open_tree() only copies the mount tree and never calls into
                         * the file system; whether the source is a directory is asked by the child
                         * (the fd may be on a FUSE mount that never answers, and the daemon's loop
                         * must not wait for it).
                         */
                        op->source_tree_fd = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
                        if (op->source_tree_fd < 0)
                                return plan_fail(ret_error, -errno, "%s (%s): cannot clone sourceFileDescriptor: %m", label, dest);
                }
                break;

        case MOUNT_TMPFS:
                snprintf(op->tmpfs_mode, sizeof(op->tmpfs_mode), "%o", m->mode >= 0 ? (unsigned) m->mode : 0755U);
                if (m->size > 0)
                        snprintf(op->tmpfs_size, sizeof(op->tmpfs_size), "%" PRIu64, m->size);
                if (p->set_owner) {
                        snprintf(op->tmpfs_uid, sizeof(op->tmpfs_uid), "%u", (unsigned) p->owner_uid);
                        snprintf(op->tmpfs_gid, sizeof(op->tmpfs_gid), "%u", (unsigned) p->owner_gid);
                }
                break;

        case MOUNT_PROC:
        case MOUNT_DEV:
        case MOUNT_MQUEUE:
        case MOUNT_REMOUNT_RO:
                break;

        case MOUNT_OVERLAY:
                /*
                 * overlayfs does what it does below with the mounter's credentials. Made by the
                 * daemon for a caller without a user namespace that would be host root's; in the
                 * caller's new user namespace it is the caller's, and the kernel's rules for
                 * unprivileged overlays (userxattr) apply.
                 */
                if (p->creds == CREDS_SWITCH)
                        return plan_fail(ret_error, -EPERM, "%s (%s): an overlay needs a new user namespace for a caller other than root",
                                         label, dest);
                op->n_lower = strv_length(m->lower_dirs);
                if (op->n_lower == 0 || op->n_lower > SANDBOX_OVERLAY_LAYERS_MAX)
                        return plan_fail(ret_error, -EINVAL, "%s (%s): an overlay needs lower layers", label, dest);
                op->lower = calloc(op->n_lower, sizeof(char *));
                if (!op->lower)
                        return plan_fail(ret_error, -ENOMEM, "out of memory");
                for (size_t i = 0; i < op->n_lower; i++)
                        if (path_to_relative(m->lower_dirs[i], &op->lower[i]) < 0)
                                return plan_fail(ret_error, -EINVAL, "%s (%s): invalid lowerdir %s", label, dest,
                                                 m->lower_dirs[i]);
                if (m->upper_dir && (path_to_relative(m->upper_dir, &op->upper) < 0 ||
                                     path_to_relative(m->work_dir, &op->work) < 0))
                        return plan_fail(ret_error, -EINVAL, "%s (%s): invalid upperdir or workdir", label, dest);
                op->tmp_upper = m->tmp_upper;
                break;

        case MOUNT_CHMOD:
                if (m->mode < 0)
                        return plan_fail(ret_error, -EINVAL, "%s (%s): chmod needs a mode", label, dest);
                op->mode = (mode_t) m->mode;
                break;

        case MOUNT_DIR:
                op->mode = m->mode >= 0 ? (mode_t) m->mode : 0755;
                break;

        case MOUNT_SYMLINK:
                if (!m->source || !m->source[0] || strlen(m->source) >= PATH_MAX)
                        return plan_fail(ret_error, -EINVAL, "%s (%s): a symlink needs its target as source", label, dest);
                op->source = strdup(m->source);
                if (!op->source)
                        return plan_fail(ret_error, -ENOMEM, "out of memory");
                break;

        case MOUNT_FILE:
                if (!fd_index_valid(c, m->source_fd_index))
                        return plan_fail(ret_error, -EBADF, "%s (%s): a file needs its contents as sourceFileDescriptor", label, dest);
                op->contents_fd = c->message_fds[m->source_fd_index];
                op->mode = m->mode >= 0 ? (mode_t) m->mode : 0644;
                break;

        case MOUNT_BIND_DATA:
                if (!fd_index_valid(c, m->source_fd_index))
                        return plan_fail(ret_error, -EBADF, "%s (%s): bind-data needs its contents as sourceFileDescriptor",
                                         label, dest);
                op->contents_fd = c->message_fds[m->source_fd_index];
                /* bubblewrap's --bind-data default */
                op->mode = m->mode >= 0 ? (mode_t) m->mode : 0600;
                break;

        default:
                return plan_fail(ret_error, -EINVAL, "%s (%s): unknown mount type", label, dest);
        }

        return 0;
}

static int plan_creds(const SpawnContext *c, MountPlan *p, SpawnError *ret_error) {
        const SpawnRequest *req = c->request;
        const Caller *caller = c->caller;
        int n;

        p->own_uid = geteuid();
        p->own_gid = getegid();

        if (caller->privileged) {
                p->creds = CREDS_DAEMON;
                return 0;
        }

        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_USER)) {
                uint32_t uid, gid;
                uid_t caller_uid;
                gid_t caller_gid;

                /* Inside a sandbox's user namespace (SpawnContext.parent) the maps point at its ids. */
                spawn_context_caller_ids(c, &caller_uid, &caller_gid);
                if (map_to_namespace(req->uid_mappings, req->n_uid_mappings, caller_uid, &uid) < 0 ||
                    map_to_namespace(req->gid_mappings, req->n_gid_mappings, caller_gid, &gid) < 0)
                        return plan_fail(ret_error, -EINVAL, "root and mounts in a user namespace need uidMappings and gidMappings");
                p->creds = CREDS_USERNS;
                p->uid = uid;
                p->gid = gid;
                return 0;
        }

        /*
         * A joined user namespace: the policy let the caller join it because the caller owns it (or
         * its ancestor right below the daemon's), so the caller can enter it itself (nsenter --user)
         * and holds every capability there. The setup is built to be no more than what the caller
         * gets by entering it and running `unshare -m` there:
         *  - the new mount namespace is made after the join (spawn.c), so it belongs to the joined
         *    user namespace, and everything it copies from the daemon's mount namespace is locked
         *    (MNT_LOCKED, with its read-only, nosuid, nodev and noexec flags), as in an `unshare -Urm`;
         *    the root of the tree built is still nosuid and nodev by default, binds keep their
         *    sources' flags, and a mount the copy hides cannot be uncovered;
         *  - files are looked up, opened and created with the caller's host fs ids and groups
         *    (mount_plan_take_caller_ids(), in the daemon's user namespace, just before the child
         *    joins the caller's, where they are host ids), never with root's: the capabilities held
         *    in the joined namespace override permissions only on files whose owner and group that
         *    namespace maps, which are the caller's own ids and ranges granted to it (/etc/subuid)
         *    when it was mapped;
         *  - a bind from a file descriptor is refused, as in a new user namespace: the daemon's
         *    clone of it would not be locked there;
         *  - nothing is written to the joined namespace (maps, setgroups): it stays as it is;
         *  - "proc" and "mqueue" mount only where the caller's namespace owns the pid or ipc
         *    namespace, as the kernel decides for anyone.
         * A user namespace the caller does not own never gets here (policy_check_join_namespace()).
         */
        for (size_t i = 0; i < req->n_join_namespaces; i++)
                if (req->join_namespaces[i].type == NAMESPACE_USER) {
                        p->creds = CREDS_JOINED;
                        p->uid = caller->uid;
                        p->gid = caller->gid;
                        return 0;
                }

        p->creds = CREDS_SWITCH;
        p->uid = caller->uid;
        p->gid = caller->gid;
        if (caller->n_groups > 0) {
                p->groups = calloc(caller->n_groups, sizeof(gid_t));
                if (!p->groups)
                        return plan_fail(ret_error, -ENOMEM, "out of memory");
                memcpy(p->groups, caller->groups, caller->n_groups * sizeof(gid_t));
                p->n_groups = caller->n_groups;
        }

        n = getgroups(0, NULL);
        if (n < 0)
                return plan_fail(ret_error, -errno, "getgroups: %m");
        if (n > 0) {
                p->own_groups = calloc((size_t) n, sizeof(gid_t));
                if (!p->own_groups)
                        return plan_fail(ret_error, -ENOMEM, "out of memory");
                n = getgroups(n, p->own_groups);
                if (n < 0)
                        return plan_fail(ret_error, -errno, "getgroups: %m");
                p->n_own_groups = (size_t) n;
        }
        return 0;
}

int mount_plan_new(const SpawnContext *c, MountPlan **ret, SpawnError *ret_error) {
        _cleanup_(mount_plan_freep) MountPlan *p = NULL;
        const SpawnRequest *req;
        size_t n;
        int r;

        if (!c || !c->request || !c->caller || !ret)
                return plan_fail(ret_error, -EINVAL, "invalid arguments");
        req = c->request;

        /* spawn_request_verify() refuses root and mounts without a new mount namespace. */
        assert(!(req->root || req->n_mounts > 0) || (req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT)));
        if (!(req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT))) {
                *ret = NULL;
                return 0;
        }

        p = calloc(1, sizeof(*p));
        if (!p)
                return plan_fail(ret_error, -ENOMEM, "out of memory");
        p->copy_program_fd = -EBADF;
        p->pid_namespace = req->namespaces & NAMESPACE_BIT(NAMESPACE_PID);
        p->build_root = req->root || req->n_mounts > 0;

        if (!p->build_root) {
                *ret = TAKE_PTR(p);
                return 0;
        }

        r = plan_creds(c, p, ret_error);
        if (r < 0)
                return r;

        /* Without "user", a non-root caller outside a user namespace runs as itself; else the mounter's ids fit. */
        if (req->has_user) {
                p->set_owner = true;
                p->owner_uid = req->uid;
                p->owner_gid = req->gid;
        } else if (p->creds == CREDS_SWITCH) {
                p->set_owner = true;
                p->owner_uid = c->caller->uid;
                p->owner_gid = c->caller->gid;
        }

        /* `root` is the first entry: a bind on "/" with the default options, like any other. */
        n = req->n_mounts + !!req->root;
        p->ops = calloc(MAX(n, 1U), sizeof(MountOp));
        /* The tmpfs mounts made: one per entry at most, and the default root. */
        p->fresh_mounts = calloc(n + 1, sizeof(uint64_t));
        if (!p->ops || !p->fresh_mounts)
                return plan_fail(ret_error, -ENOMEM, "out of memory");
        p->n_fresh_max = n + 1;

        for (size_t i = 0; i < n; i++) {
                size_t k = req->root ? i - 1 : i;
                MountEntry root = {
                        .kind = MOUNT_BIND,
                        .source = req->root,
                        .source_fd_index = -1,
                        .destination = (char *) "/",
                        .mode = -1,
                };
                MountOp *op = &p->ops[i];
                char label[32];

                if (req->root && i == 0)
                        snprintf(label, sizeof(label), "root");
                else
                        snprintf(label, sizeof(label), "mounts[%zu]", k);
                op->source_tree_fd = -EBADF;
                op->contents_fd = -EBADF;
                p->n_ops = i + 1;
                r = plan_op(c, p, label, req->root && i == 0 ? &root : &req->mounts[k], op, ret_error);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- child side: raw syscalls, no allocation ---- */

static bool op_is_root(const MountOp *op);
static int replace_root(Apply *a, const MountOp *op, int tree_fd);

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
        struct open_how how = {
                .flags = flags,
                .resolve = resolve,
        };
        long fd;

        /* With RESOLVE_IN_ROOT the kernel answers EAGAIN when a rename or a mount anywhere on the
         * system raced with resolving "..": that is a retry, not a failure. */
        for (unsigned attempt = 0;; attempt++) {
                fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN || attempt >= 64)
                        return -errno;
        }
}

static int creds_set(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        if (syscall(SYS_setgroups, n_groups, groups) < 0)
                return -errno;
        (void) syscall(SYS_setfsgid, gid);
        (void) syscall(SYS_setfsuid, uid);
        /* setfs[ug]id() report the previous value, never an error: read back with an invalid id. */
        if ((gid_t) syscall(SYS_setfsgid, (gid_t) -1) != gid || (uid_t) syscall(SYS_setfsuid, (uid_t) -1) != uid)
                return -EPERM;
        return 0;
}

static int creds_caller(Apply *a) {
        const MountPlan *p = a->plan;
        int r;

        if (p->creds != CREDS_SWITCH || a->as_caller)
                return 0;
        a->as_caller = true;
        r = creds_set(p->uid, p->gid, p->groups, p->n_groups);
        if (r < 0)
                return r;
        return 0;
}

static int creds_daemon(Apply *a) {
        const MountPlan *p = a->plan;

        if (!a->as_caller)
                return 0;
        a->as_caller = false;
        return creds_set(p->own_uid, p->own_gid, p->own_groups, p->n_own_groups);
}

/*
 * For the whole setup in a new user namespace. The supplementary groups stay
 * as they are: the spawn path gave the child the caller's host groups before
 * the namespace existed, and dropping one would let the caller past a file
 * whose group is denied what "other" may do (0604 root:G). Most of them are
 * not mapped in the namespace, so they could not be set from here anyway.
 */
static int creds_enter_userns(const MountPlan *p) {
        (void) syscall(SYS_setfsgid, p->gid);
        (void) syscall(SYS_setfsuid, p->uid);
        if ((gid_t) syscall(SYS_setfsgid, (gid_t) -1) != p->gid || (uid_t) syscall(SYS_setfsuid, (uid_t) -1) != p->uid)
                return -EPERM;
        return 0;
}

static int mount_id_of(int fd, uint64_t *ret) {
        struct statx sx = {};

        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_MNT_ID, &sx) < 0)
                return -errno;
        if (!(sx.stx_mask & STATX_MNT_ID))
                return -EOPNOTSUPP;
        *ret = sx.stx_mnt_id;
        return 0;
}

static void remember_fresh(Apply *a, int mnt_fd) {
        uint64_t id;

        if (a->n_fresh < a->plan->n_fresh_max && mount_id_of(mnt_fd, &id) >= 0)
                a->plan->fresh_mounts[a->n_fresh++] = id;
}

/* Creating below dir_fd needs the caller's ids unless it is a tmpfs this plan made. */
static int creds_for_creating(Apply *a, int dir_fd) {
        uint64_t id;

        if (a->plan->creds != CREDS_SWITCH)
                return 0;
        if (mount_id_of(dir_fd, &id) >= 0)
                for (size_t i = 0; i < a->n_fresh; i++)
                        if (a->plan->fresh_mounts[i] == id)
                                return 0;
        return creds_caller(a);
}

/*
 * Destinations are resolved with the caller's rights: the new root may be a
 * host tree (root "/") or hold host binds, and as the daemon a mount on
 * /root/x would tell the caller whether /root/x exists, which it could not
 * learn itself.
 */
static int in_root(Apply *a, const char *rel, int flags) {
        bool was_caller = a->as_caller;
        int fd, r;

        if (rel[0] == 0) {
                fd = fcntl(a->root_fd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }

        r = creds_caller(a);
        if (r < 0)
                fd = r;
        else
                fd = sys_openat2(a->root_fd, rel, (uint64_t) flags | O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (!was_caller) {
                r = creds_daemon(a);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }
        }
        return fd;
}

/* Opens a path of the host's tree; with check, as the caller and only if the caller may read it. */
static int open_host(Apply *a, const char *rel, bool check, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (check) {
                r = creds_caller(a);
                if (r < 0)
                        goto finish;
        }

        fd = sys_openat2(a->host_fd, rel[0] ? rel : ".", O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0) {
                r = fd;
                goto finish;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto finish;
        }
        if (check && syscall(SYS_faccessat2, fd, "", S_ISDIR(st.st_mode) ? X_OK : R_OK, AT_EMPTY_PATH | AT_EACCESS) < 0) {
                r = -errno;
                goto finish;
        }
        r = 0;

finish:
        if (check) {
                int q = creds_daemon(a);
                if (r >= 0 && q < 0)
                        r = q;
        }
        if (r < 0)
                return r;
        if (ret_st)
                *ret_st = st;
        return TAKE_FD(fd);
}

/* What an entry itself asks to create belongs to the sandbox's user, with exactly the mode asked for. */
static int finish_created(Apply *a, int fd, mode_t mode) {
        const MountPlan *p = a->plan;

        if (p->set_owner && fchown(fd, p->owner_uid, p->owner_gid) < 0)
                return -errno;
        /* chown() may have cleared setgid bits the mode asks for */
        if (fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

static int make_dir_at(Apply *a, int parent_fd, const char *name, mode_t mode, bool requested) {
        int r;

        r = creds_for_creating(a, parent_fd);
        /* Owner access first, so the caller can open it to set owner and mode (0000 included) below. */
        if (r >= 0 && mkdirat(parent_fd, name, requested ? mode | 0700 : mode) < 0)
                r = -errno;
        if (r >= 0 && requested) {
                _cleanup_close_ int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = fd < 0 ? -errno : finish_created(a, fd, mode);
        }
        (void) creds_daemon(a);
        return r < 0 ? r : 0;
}

/* A file made only to be mounted on: read-only (0444, as bubblewrap makes them), since what it holds is never
 * its own, and where it is made on a host tree it stays there after the sandbox. */
static int make_empty_file_at(Apply *a, int parent_fd, const char *name) {
        int r, fd;

        r = creds_for_creating(a, parent_fd);
        if (r >= 0) {
                fd = openat(parent_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
                if (fd < 0)
                        r = -errno;
                safe_close(fd);
        }
        (void) creds_daemon(a);
        return r < 0 ? r : 0;
}

/* Every directory of rel, made as needed; returns an O_PATH fd of the last one. */
static int make_dirs(Apply *a, const char *rel) {
        _cleanup_close_ int parent = -EBADF;
        char buf[PATH_MAX];
        size_t n = strlen(rel), start = 0;
        int fd;

        if (n >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, rel, n + 1);

        fd = in_root(a, buf, O_DIRECTORY);
        if (fd != -ENOENT)
                return fd;

        parent = in_root(a, "", 0);
        if (parent < 0)
                return parent;

        for (size_t i = 0; i <= n; i++) {
                char saved = buf[i];
                int r;

                if (saved != '/' && saved != 0)
                        continue;

                buf[i] = 0;
                fd = in_root(a, buf, O_DIRECTORY);
                if (fd == -ENOENT) {
                        /* A parent narrowed below 0755 must still let the sandbox's user through to what
                         * it leads to: it is theirs then, as under bubblewrap, which makes it as that user. */
                        r = make_dir_at(a, parent, buf + start, a->parent_mode, a->parent_mode != 0755);
                        if (r < 0 && r != -EEXIST)
                                return r;
                        fd = in_root(a, buf, O_DIRECTORY);
                }
                if (fd < 0)
                        return fd;
                safe_close(parent);
                parent = fd;
                buf[i] = saved;
                start = i + 1;
        }

        return TAKE_FD(parent);
}

/* Splits rel into the fd of its (made) parent directory and the last component. */
static int open_parent(Apply *a, const char *rel, const char **ret_name) {
        char buf[PATH_MAX];
        const char *slash = strrchr(rel, '/');
        size_t n;

        if (!slash) {
                *ret_name = rel;
                return make_dirs(a, "");
        }
        n = (size_t) (slash - rel);
        if (n >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, rel, n);
        buf[n] = 0;
        *ret_name = slash + 1;
        return make_dirs(a, buf);
}

/* Resolves the destination (a directory or an empty file made for it if missing) to an O_PATH fd. */
static int make_destination(Apply *a, const char *rel, bool directory) {
        _cleanup_close_ int parent = -EBADF;
        const char *name;
        int fd, r;

        fd = in_root(a, rel, 0);
        if (fd != -ENOENT)
                return fd;

        parent = open_parent(a, rel, &name);
        if (parent < 0)
                return parent;
        r = directory ? make_dir_at(a, parent, name, 0755, false) : make_empty_file_at(a, parent, name);
        if (r < 0 && r != -EEXIST)
                return r;
        return in_root(a, rel, 0);
}

static int attach(int tree_fd, int dest_fd) {
        if (move_mount(tree_fd, "", dest_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

static int set_attr(int tree_fd, unsigned attr, bool recursive) {
        struct mount_attr ma = {
                .attr_set = attr,
        };

        if (attr == 0)
                return 0;
        if (mount_setattr(tree_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &ma, sizeof(ma)) < 0)
                return -errno;
        return 0;
}

/* A fresh filesystem as a detached mount. opts: key, value pairs (value NULL for a flag), NULL-terminated. */
static int new_fs(const char *type, const char *const *opts, unsigned attr) {
        _cleanup_close_ int fs = -EBADF;
        int mnt;

        fs = fsopen(type, FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;
        for (size_t i = 0; opts && opts[i]; i += 2) {
                if (opts[i + 1] && !opts[i + 1][0])
                        continue;
                if (fsconfig(fs, opts[i + 1] ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, opts[i], opts[i + 1], 0) < 0)
                        return -errno;
        }
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, attr);
        return mnt < 0 ? -errno : mnt;
}

/* Mounts tree_fd on the destination of op (made as a directory or file); consumes nothing. */
static int attach_at(Apply *a, const MountOp *op, int tree_fd, bool directory) {
        _cleanup_close_ int dest = -EBADF;
        int r;

        dest = make_destination(a, op->destination, directory);
        if (dest < 0)
                return fail(a->error, dest, op->display, "cannot make the mount point", NULL);
        r = attach(tree_fd, dest);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot attach the mount", NULL);
        return 0;
}

static int apply_bind(Apply *a, const MountOp *op) {
        _cleanup_close_ int src = -EBADF, clone = -EBADF;
        int tree_fd, r;
        bool directory;

        if (op->source_tree_fd >= 0) {
                struct statx sx = {};

                /* The type never changes, so the cached one is exact and no request reaches a FUSE server. */
                if (statx(op->source_tree_fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) < 0)
                        return fail(a->error, -errno, op->display, "cannot use bind source", "(sourceFileDescriptor)");
                tree_fd = op->source_tree_fd;
                directory = S_ISDIR(sx.stx_mode);
        } else {
                struct stat st;

                src = open_host(a, op->source, true, &st);
                /* Only a source that is not there is skipped, as bubblewrap's --bind-try does; one the caller
                 * may not use is still an error. */
                if (src == -ENOENT && op->optional)
                        return 0;
                if (src < 0)
                        return fail(a->error, src, op->display, "cannot use bind source", op->source_display);
                clone = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
                if (clone < 0)
                        return fail(a->error, -errno, op->display, "cannot clone bind source", op->source_display);
                tree_fd = clone;
                directory = S_ISDIR(st.st_mode);
        }

        r = set_attr(tree_fd, op->attr, true);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot set mount attributes", NULL);
        if (op_is_root(op)) {
                if (!directory)
                        return fail(a->error, -ENOTDIR, op->display, "cannot use bind source",
                                    op->source_display ?: "(sourceFileDescriptor)");
                return replace_root(a, op, tree_fd);
        }
        return attach_at(a, op, tree_fd, directory);
}

static int apply_tmpfs(Apply *a, const MountOp *op) {
        const char *opts[] = { "mode", op->tmpfs_mode, "size", op->tmpfs_size,
                               "uid",  op->tmpfs_uid,  "gid",  op->tmpfs_gid, NULL };
        _cleanup_close_ int mnt = -EBADF;
        int r;

        mnt = new_fs("tmpfs", opts, op->attr);
        if (mnt < 0)
                return fail(a->error, mnt, op->display, "cannot create tmpfs", NULL);
        r = op_is_root(op) ? replace_root(a, op, mnt) : attach_at(a, op, mnt, true);
        if (r < 0)
                return r;
        remember_fresh(a, mnt);
        return 0;
}

static int apply_proc(Apply *a, const MountOp *op) {
        _cleanup_close_ int mnt = -EBADF, src = -EBADF;
        int r;

        if (a->plan->pid_namespace) {
                mnt = new_fs("proc", NULL, op->attr | MOUNT_ATTR_SPECIAL);
                if (mnt < 0)
                        return fail(a->error, mnt, op->display, "cannot create proc", NULL);
        } else {
                /* Without its own pid namespace a fresh procfs would be the host's anyway: only show it read-only. */
                src = open_host(a, "proc", false, NULL);
                if (src < 0)
                        return fail(a->error, src, op->display, "cannot open", "/proc");
                mnt = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
                if (mnt < 0)
                        return fail(a->error, -errno, op->display, "cannot clone", "/proc");
                r = set_attr(mnt, op->attr | MOUNT_ATTR_SPECIAL | MOUNT_ATTR_RDONLY, true);
                if (r < 0)
                        return fail(a->error, r, op->display, "cannot set mount attributes", NULL);
        }
        return attach_at(a, op, mnt, true);
}

static int apply_mqueue(Apply *a, const MountOp *op) {
        _cleanup_close_ int mnt = -EBADF;

        mnt = new_fs("mqueue", NULL, op->attr | MOUNT_ATTR_SPECIAL);
        if (mnt < 0)
                return fail(a->error, mnt, op->display, "cannot create mqueue", NULL);
        return attach_at(a, op, mnt, true);
}

static int dev_bind_node(Apply *a, int dev_fd, const char *name, const char *host_path) {
        _cleanup_close_ int src = -EBADF, tree = -EBADF, dest = -EBADF;
        int r;

        src = open_host(a, host_path, false, NULL);
        if (src < 0)
                return src;
        tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return -errno;
        /* The nodes must stay usable, so no nodev here; that is why this is a fixed list. */
        r = set_attr(tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
        if (r < 0)
                return r;
        r = make_empty_file_at(a, dev_fd, name);
        if (r < 0 && r != -EEXIST)
                return r;
        dest = openat(dev_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (dest < 0)
                return -errno;
        return attach(tree, dest);
}

static int apply_dev(Apply *a, const MountOp *op) {
        static const char *const nodes[][2] = {
                { "null", "dev/null" },       { "zero", "dev/zero" },       { "full", "dev/full" },
                { "random", "dev/random" },   { "urandom", "dev/urandom" }, { "tty", "dev/tty" },
        };
        static const char *const links[][2] = {
                { "ptmx", "pts/ptmx" },         { "fd", "/proc/self/fd" },      { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" }, { "core", "/proc/kcore" },
        };
        static const char *const dev_opts[] = { "mode", "0755", "size", "1m", NULL };
        static const char *const pts_opts[] = { "newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL };
        static const char *const shm_opts[] = { "mode", "1777", NULL };
        _cleanup_close_ int dev = -EBADF, pts = -EBADF, shm = -EBADF, dir = -EBADF;
        int r;

        dev = new_fs("tmpfs", dev_opts, (op->attr & ~MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (dev < 0)
                return fail(a->error, dev, op->display, "cannot create tmpfs", NULL);
        r = attach_at(a, op, dev, true);
        if (r < 0)
                return r;
        remember_fresh(a, dev);

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                r = dev_bind_node(a, dev, nodes[i][0], nodes[i][1]);
                if (r < 0)
                        return fail(a->error, r, op->display, "cannot bind device", nodes[i][0]);
        }

        r = make_dir_at(a, dev, "pts", 0755, false);
        if (r < 0 && r != -EEXIST)
                return fail(a->error, r, op->display, "cannot make", "pts");
        pts = new_fs("devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (pts < 0)
                return fail(a->error, pts, op->display, "cannot create devpts", NULL);
        dir = openat(dev, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0 || (r = attach(pts, dir)) < 0)
                return fail(a->error, dir < 0 ? -errno : r, op->display, "cannot attach", "pts");
        dir = safe_close(dir);

        r = make_dir_at(a, dev, "shm", 0755, false);
        if (r < 0 && r != -EEXIST)
                return fail(a->error, r, op->display, "cannot make", "shm");
        shm = new_fs("tmpfs", shm_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (shm < 0)
                return fail(a->error, shm, op->display, "cannot create tmpfs", "shm");
        dir = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0 || (r = attach(shm, dir)) < 0)
                return fail(a->error, dir < 0 ? -errno : r, op->display, "cannot attach", "shm");

        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST)
                        return fail(a->error, -errno, op->display, "cannot make symlink", links[i][0]);

        /* Read-only applies to the tmpfs itself: /dev/shm and the pty stay usable. */
        r = set_attr(dev, op->attr & MOUNT_ATTR_RDONLY, false);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot set mount attributes", NULL);
        return 0;
}

static int apply_dir(Apply *a, const MountOp *op) {
        _cleanup_close_ int fd = -EBADF, parent = -EBADF;
        const char *name;
        int r;

        fd = in_root(a, op->destination, O_DIRECTORY);
        if (fd >= 0)
                return 0; /* an existing directory keeps its mode: it may be a host one */
        if (fd != -ENOENT)
                return fail(a->error, fd, op->display, "cannot make directory", NULL);

        parent = open_parent(a, op->destination, &name);
        if (parent < 0)
                return fail(a->error, parent, op->display, "cannot make parent directories", NULL);
        r = make_dir_at(a, parent, name, op->mode, true);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot make directory", NULL);
        return 0;
}

static int apply_symlink(Apply *a, const MountOp *op) {
        _cleanup_close_ int parent = -EBADF;
        const char *name;
        int r;

        parent = open_parent(a, op->destination, &name);
        if (parent < 0)
                return fail(a->error, parent, op->display, "cannot make parent directories", NULL);

        r = creds_for_creating(a, parent);
        if (r >= 0 && symlinkat(op->source, parent, name) < 0)
                r = -errno;
        (void) creds_daemon(a);

        char target[PATH_MAX], existing[sizeof(target) + 32];
        size_t pos = 0;
        existing[0] = 0;
        if (r == -EEXIST) {
                /* The same link already being there is fine (e.g. from `root`). */
                ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);

                if (n >= 0 && strlen(op->source) == (size_t) n && memcmp(target, op->source, (size_t) n) == 0)
                        r = 0;
                else if (n >= 0) {
                        /* Another link: say where it points, as bubblewrap does. */
                        target[n] = 0;
                        append(existing, sizeof(existing), &pos, "(existing destination is ");
                        append(existing, sizeof(existing), &pos, target);
                        append(existing, sizeof(existing), &pos, ")");
                }
        }
        if (r < 0)
                return fail(a->error, r, op->display, "cannot make symlink", existing[0] ? existing : NULL);
        return 0;
}

/* Without the nsbox-init program: in the child itself, on the daemon's memory (so charged to the daemon). */
static int copy_contents_here(int from, int to) {
        char buf[8192];
        uint64_t total = 0;

        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                total += (uint64_t) n;
                if (total > INIT_COPY_SIZE_MAX)
                        return -EFBIG;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(to, buf + done, (size_t) (n - done));

                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        done += w;
                }
        }
}

typedef struct CopyHelper {
        int program_fd;
        int from;
        int to;
} CopyHelper;

/*
 * The helper, a vfork child on the child's memory until its exec: its fd table is its own copy, where only the
 * two fds stay open across the exec (all else is close-on-exec). Where stdin, stdout or stderr would be closed
 * the contents fd takes its place: a program started with an effective uid other than its real one (the caller's
 * ids, read_as_caller_begin()) opens /dev/null there first thing, and crashes where the tree being built has
 * none. The program uses none of the three.
 */
static int copy_helper_main(void *userdata) {
        const CopyHelper *h = userdata;
        char a_from[16], a_to[16];
        char *argv[] = { (char *) "nsbox-init", (char *) INIT_COPY_OPTION, a_from, a_to, NULL };
        char *envp[] = { NULL };

        if (fcntl(h->from, F_SETFD, 0) < 0 || fcntl(h->to, F_SETFD, 0) < 0)
                _exit(errno);
        for (int fd = 0; fd < 3; fd++) {
                int flags = fcntl(fd, F_GETFD);

                if (fd != h->from && fd != h->to && (flags < 0 || (flags & FD_CLOEXEC)) && dup2(h->from, fd) < 0)
                        _exit(errno);
        }
        (void) snprintf(a_from, sizeof a_from, "%d", h->from);
        (void) snprintf(a_to, sizeof a_to, "%d", h->to);
        (void) syscall(SYS_execveat, h->program_fd, "", argv, envp, AT_EMPTY_PATH);
        _exit(errno);
}

/*
 * A "file" or "bind-data" entry's contents, copied by the nsbox-init program in a process of its own: a page
 * written to a tmpfs is charged to the memory cgroup of its writer's memory, and the child's is the daemon's
 * until its execve(), so copied here a caller's contents would be the daemon's to pay for, outside every
 * limit of the sandbox and its user. The helper runs with the child's credentials (read_as_caller_begin()),
 * in its namespaces and cgroups; one killed (the OOM killer, at the sandbox's limit) fails the entry.
 */
static int copy_contents(Apply *a, int from, int to) {
        char stack[16 * 1024] __attribute__((__aligned__(16)));
        CopyHelper h = { .program_fd = a->plan->copy_program_fd, .from = from, .to = to };
        int status;
        pid_t pid;

        if (h.program_fd < 0)
                return copy_contents_here(from, to);
        pid = clone(copy_helper_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &h);
        /* Its frames there are gone (sanitizer.h); the child's own may come there next. */
        sanitizer_forget_stack(stack, sizeof stack);
        if (pid < 0)
                return -errno;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status))
                return -WEXITSTATUS(status);
        return WTERMSIG(status) == SIGKILL ? -ENOMEM : -EINTR;
}

/*
 * The contents fd may be anything the client could open, and some files are
 * judged when read, with the reader's rights: /proc/PID/stat of a root
 * process shows its addresses to a reader with CAP_SYS_PTRACE
 * (PTRACE_MODE_READ_FSCREDS). So a non-root caller's contents are read with
 * its ids and no effective capabilities: an euid other than 0 clears the
 * effective set (and fsuid follows euid), and setting the daemon's euid 0
 * back after refills it from the permitted set, which a real and saved uid
 * of 0 keep.
 * In a new user namespace (CREDS_USERNS) nothing needs to change: the child
 * has capabilities only in that namespace, none in the host's, and its
 * fsuid and fsgid already are the ones the caller is mapped to.
 */
static int read_as_caller_begin(Apply *a) {
        int r;

        if (a->plan->creds != CREDS_SWITCH)
                return 0;
        r = creds_caller(a);
        if (r < 0)
                return r;
        if (syscall(SYS_setresuid, (uid_t) -1, a->plan->uid, (uid_t) -1) < 0)
                return -errno;
        return 0;
}

static int read_as_caller_end(Apply *a) {
        if (a->plan->creds != CREDS_SWITCH)
                return 0;
        if (syscall(SYS_setresuid, (uid_t) -1, a->plan->own_uid, (uid_t) -1) < 0)
                return -errno;
        return creds_daemon(a);
}

static int apply_file(Apply *a, const MountOp *op) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        const char *name;
        int r;

        parent = open_parent(a, op->destination, &name);
        if (parent < 0)
                return fail(a->error, parent, op->display, "cannot make parent directories", NULL);

        /* O_EXCL: never write into something that is already there (it may be a host file). */
        r = creds_for_creating(a, parent);
        if (r >= 0) {
                fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->mode);
                if (fd < 0)
                        r = -errno;
        }
        if (r >= 0) {
                int q;

                r = read_as_caller_begin(a);
                if (r >= 0)
                        r = copy_contents(a, op->contents_fd, fd);
                /* Whatever failed, the daemon's ids must be back before anything else happens. */
                q = read_as_caller_end(a);
                if (q < 0)
                        return fail(a->error, q, op->display, "cannot restore credentials", NULL);
        }
        if (r >= 0)
                r = creds_for_creating(a, parent);
        if (r >= 0)
                r = finish_created(a, fd, op->mode);
        (void) creds_daemon(a);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot write file", NULL);
        return 0;
}

/*
 * bubblewrap's --bind-data: the contents go into a file on a tmpfs of its own
 * that nothing else can reach, and that file is bound on the destination, so
 * it may replace a file that is already there (a "file" entry never writes
 * over one). The options (ro, noexec) apply to that bind.
 */
static int apply_bind_data(Apply *a, const MountOp *op) {
        static const char *const opts[] = { "mode", "0700", NULL };
        _cleanup_close_ int mnt = -EBADF, fd = -EBADF, tree = -EBADF;
        int r, q;

        mnt = new_fs("tmpfs", opts, MOUNT_ATTR_SAFE);
        if (mnt < 0)
                return fail(a->error, mnt, op->display, "cannot create tmpfs", NULL);
        fd = openat(mnt, "data", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->mode);
        if (fd < 0)
                return fail(a->error, -errno, op->display, "cannot write file", NULL);

        r = read_as_caller_begin(a);
        if (r >= 0)
                r = copy_contents(a, op->contents_fd, fd);
        q = read_as_caller_end(a);
        if (q < 0)
                return fail(a->error, q, op->display, "cannot restore credentials", NULL);
        if (r >= 0)
                r = finish_created(a, fd, op->mode);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot write file", NULL);

        tree = open_tree(mnt, "data", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return fail(a->error, -errno, op->display, "cannot clone", "the file");
        r = set_attr(tree, op->attr, false);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot set mount attributes", NULL);
        return attach_at(a, op, tree, false);
}

/* "/oldroot/proc/self/fd/N": what overlayfs resolves to exactly the directory fd has open. */
static void fd_magic_path(char *buf, size_t size, int fd);

/* A directory of the host's tree for an overlay layer, opened and checked as the caller. */
static int open_layer(Apply *a, const MountOp *op, const char *rel, int *ret) {
        struct stat st;
        int fd;

        fd = open_host(a, rel, true, &st);
        if (fd >= 0 && !S_ISDIR(st.st_mode)) {
                safe_close(fd);
                fd = -ENOTDIR;
        }
        if (fd < 0)
                return fail(a->error, fd, op->display, "cannot use overlay layer", rel);
        *ret = fd;
        return 0;
}

static int set_layer(int fs, const char *key, int fd) {
        char path[64];

        fd_magic_path(path, sizeof path, fd);
        return fsconfig(fs, FSCONFIG_SET_STRING, key, path, 0) < 0 ? -errno : 0;
}

/*
 * bubblewrap's --overlay, --tmp-overlay and --ro-overlay. Every layer is
 * opened in the host's tree with the caller's rights (as a bind source is)
 * and handed to overlayfs by its fd's magic link, so the kernel resolves
 * nothing by a path the caller could change in between. Layers go one by one
 * ("lowerdir+", Linux 6.8), else as one "lowerdir" string (at most 255
 * bytes). In a user namespace the overlay keeps its own metadata in user.*
 * extended attributes ("userxattr"), as the kernel requires there.
 */
static int apply_overlay(Apply *a, const MountOp *op) {
        int lower[SANDBOX_OVERLAY_LAYERS_MAX];
        _cleanup_close_ int fs = -EBADF, mnt = -EBADF, tmp = -EBADF, upper = -EBADF, work = -EBADF;
        size_t n = 0;
        int r = 0;

        for (; n < op->n_lower && r >= 0; n++)
                r = open_layer(a, op, op->lower[n], &lower[n]);
        if (r < 0) {
                n--;
                goto finish;
        }
        if (op->upper) {
                r = open_layer(a, op, op->upper, &upper);
                if (r >= 0)
                        r = open_layer(a, op, op->work, &work);
        } else if (op->tmp_upper) {
                static const char *const opts[] = { "mode", "0755", NULL };

                tmp = new_fs("tmpfs", opts, MOUNT_ATTR_SAFE);
                if (tmp < 0 || mkdirat(tmp, "upper", 0755) < 0 || mkdirat(tmp, "work", 0700) < 0)
                        r = tmp < 0 ? tmp : -errno;
                if (r >= 0 && ((upper = openat(tmp, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                               (work = openat(tmp, "work", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0))
                        r = -errno;
                /* The overlay's root takes the upper layer's owner: the sandbox's user. */
                if (r >= 0 && a->plan->set_owner && fchown(upper, a->plan->owner_uid, a->plan->owner_gid) < 0)
                        r = -errno;
                if (r < 0)
                        r = fail(a->error, r, op->display, "cannot make the overlay's upper layer", NULL);
        }
        if (r < 0)
                goto finish;

        fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0) {
                r = fail(a->error, -errno, op->display, "cannot create overlay", NULL);
                goto finish;
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = set_layer(fs, "lowerdir+", lower[i]);
        if (r == -EINVAL) {
                /* Before Linux 6.8: one string, top layer first. */
                char all[256], path[64];
                size_t len = 0;

                r = 0;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        fd_magic_path(path, sizeof path, lower[i]);
                        if (len + strlen(path) + 2 > sizeof all)
                                r = -E2BIG;
                        else {
                                if (i > 0)
                                        all[len++] = ':';
                                memcpy(all + len, path, strlen(path) + 1);
                                len += strlen(path);
                        }
                }
                if (r >= 0 && fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", all, 0) < 0)
                        r = -errno;
        }
        if (r >= 0 && upper >= 0)
                r = set_layer(fs, "upperdir", upper);
        if (r >= 0 && work >= 0)
                r = set_layer(fs, "workdir", work);
        if (r >= 0 && (a->plan->creds == CREDS_USERNS || a->plan->creds == CREDS_JOINED) &&
            fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                r = -errno;
        if (r >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                r = -errno;
        if (r < 0) {
                r = fail(a->error, r, op->display, "cannot create overlay", NULL);
                goto finish;
        }
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, op->attr);
        if (mnt < 0) {
                r = fail(a->error, -errno, op->display, "cannot mount overlay", NULL);
                goto finish;
        }
        r = attach_at(a, op, mnt, true);

finish:
        for (size_t i = 0; i < n; i++)
                safe_close(lower[i]);
        return r;
}

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

/* prefix + N, without snprintf(). */
static void fd_path_with(char *buf, size_t size, const char *prefix, int fd) {
        char digits[16];
        size_t n = 0, pos = 0;
        unsigned v = (unsigned) fd;

        do
                digits[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0 && n < sizeof digits);
        for (const char *c = prefix; *c && pos + 1 < size; c++)
                buf[pos++] = *c;
        while (n > 0 && pos + 1 < size)
                buf[pos++] = digits[--n];
        buf[pos] = 0;
}

/* "proc/self/fd/N", relative to the host's tree. */
static void fd_path(char *buf, size_t size, int fd) {
        fd_path_with(buf, size, "proc/self/fd/", fd);
}

static void fd_magic_path(char *buf, size_t size, int fd) {
        fd_path_with(buf, size, "/oldroot/proc/self/fd/", fd);
}

/*
 * bubblewrap's --chmod: the mode of what the destination names (a final
 * symlink is followed, inside the tree), which must exist. Anywhere but on a
 * tmpfs this plan made, with the caller's rights: it changes only what the
 * caller owns. fchmodat2() (Linux 6.6) takes the O_PATH fd itself; before
 * it, the fd's magic link in the host's /proc names exactly that file.
 */
static int apply_chmod(Apply *a, const MountOp *op) {
        _cleanup_close_ int fd = -EBADF;
        char path[48];
        int r;

        fd = in_root(a, op->destination, 0);
        if (fd < 0)
                return fail(a->error, fd, op->display, "cannot chmod", NULL);
        r = creds_for_creating(a, fd);
        if (r >= 0 && syscall(__NR_fchmodat2, fd, "", op->mode, AT_EMPTY_PATH) < 0) {
                r = -errno;
                if (r == -ENOSYS) {
                        fd_path(path, sizeof path, fd);
                        r = fchmodat(a->host_fd, path, op->mode, 0) < 0 ? -errno : 0;
                }
        }
        (void) creds_daemon(a);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot chmod", NULL);
        return 0;
}

static int apply_remount_ro(Apply *a, const MountOp *op) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = in_root(a, op->destination, 0);
        if (fd < 0)
                return fail(a->error, fd, op->display, "cannot remount read-only", NULL);
        /* Only this mount, as bubblewrap does: "remount-ro /" last keeps a tmpfs /tmp writable. */
        r = set_attr(fd, MOUNT_ATTR_RDONLY, false);
        if (r < 0)
                return fail(a->error, r, op->display, "cannot remount read-only", NULL);
        return 0;
}

static int apply_op(Apply *a, const MountOp *op) {
        switch (op->kind) {
        case MOUNT_BIND:
                return apply_bind(a, op);
        case MOUNT_TMPFS:
                return apply_tmpfs(a, op);
        case MOUNT_PROC:
                return apply_proc(a, op);
        case MOUNT_DEV:
                return apply_dev(a, op);
        case MOUNT_MQUEUE:
                return apply_mqueue(a, op);
        case MOUNT_DIR:
                return apply_dir(a, op);
        case MOUNT_SYMLINK:
                return apply_symlink(a, op);
        case MOUNT_FILE:
                return apply_file(a, op);
        case MOUNT_REMOUNT_RO:
                return apply_remount_ro(a, op);
        case MOUNT_CHMOD:
                return apply_chmod(a, op);
        case MOUNT_BIND_DATA:
                return apply_bind_data(a, op);
        case MOUNT_OVERLAY:
                return apply_overlay(a, op);
        default:
                return fail(a->error, -EINVAL, op->display, "unknown mount type", NULL);
        }
}

/* Step 2: a staging tmpfs becomes "/", the host's tree moves to /oldroot. */
static int enter_staging(Apply *a) {
        static const char *const opts[] = { "mode", "0755", "size", "64k", NULL };
        static const char *const places[] = { "/tmp", "/mnt", "/run", "/var/tmp" };
        _cleanup_close_ int mnt = -EBADF;
        int r = -ENOENT;

        mnt = new_fs("tmpfs", opts, MOUNT_ATTR_SPECIAL);
        if (mnt < 0)
                return fail(a->error, mnt, "/", "cannot create the staging tmpfs", NULL);
        for (size_t i = 0; i < ELEMENTSOF(places); i++) {
                if (move_mount(mnt, "", AT_FDCWD, places[i], MOVE_MOUNT_F_EMPTY_PATH) >= 0) {
                        r = 0;
                        break;
                }
                r = -errno;
        }
        if (r < 0)
                return fail(a->error, r, "/", "cannot attach the staging tmpfs", NULL);

        if (mkdirat(mnt, "oldroot", 0700) < 0 || mkdirat(mnt, "newroot", 0755) < 0)
                return fail(a->error, -errno, "/", "cannot populate the staging tmpfs", NULL);
        if (fchdir(mnt) < 0 || syscall(SYS_pivot_root, ".", "oldroot") < 0 || chdir("/") < 0)
                return fail(a->error, -errno, "/", "cannot pivot into the staging tmpfs", NULL);

        a->host_fd = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->host_fd < 0)
                return fail(a->error, -errno, "/", "cannot open the host's tree", NULL);
        return 0;
}

/* A bind or tmpfs on "/": it replaces the tree built so far, which is detached with everything on it. */
static bool op_is_root(const MountOp *op) {
        return op->destination[0] == 0 && (op->kind == MOUNT_BIND || op->kind == MOUNT_TMPFS);
}

static int replace_root(Apply *a, const MountOp *op, int tree_fd) {
        if (a->root_fd >= 0) {
                a->root_fd = safe_close(a->root_fd);
                if (umount2("/newroot", MNT_DETACH) < 0)
                        return fail(a->error, -errno, op->display, "cannot detach the tree built before", NULL);
                /* Those mounts are gone, and the kernel hands their ids out again. */
                a->n_fresh = 0;
        }
        if (move_mount(tree_fd, "", AT_FDCWD, "/newroot", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return fail(a->error, -errno, op->display, "cannot attach the new root", NULL);
        a->root_fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->root_fd < 0)
                return fail(a->error, -errno, op->display, "cannot open the new root", NULL);
        return 0;
}

/* Step 3: unless the first entry is a root, an empty tmpfs, as safe as any other mount. */
static int make_default_root(Apply *a) {
        static const char *const opts[] = { "mode", "0755", NULL };
        static const MountOp op = { .display = (char *) "/", .destination = (char *) "" };
        _cleanup_close_ int mnt = -EBADF;
        int r;

        if (a->plan->n_ops > 0 && op_is_root(&a->plan->ops[0]))
                return 0;
        mnt = new_fs("tmpfs", opts, MOUNT_ATTR_SAFE);
        if (mnt < 0)
                return fail(a->error, mnt, "/", "cannot create the root tmpfs", NULL);
        r = replace_root(a, &op, mnt);
        if (r < 0)
                return r;
        remember_fresh(a, mnt);
        return 0;
}

/* Step 5: nothing of the host or the staging tmpfs stays reachable. */
static int switch_root(Apply *a) {
        if (umount2("/oldroot", MNT_DETACH) < 0)
                return fail(a->error, -errno, "/", "cannot detach the host's tree", NULL);
        a->host_fd = safe_close(a->host_fd);
        if (fchdir(a->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                return fail(a->error, -errno, "/", "cannot pivot into the new root", NULL);
        if (umount2(".", MNT_DETACH) < 0)
                return fail(a->error, -errno, "/", "cannot detach the staging tmpfs", NULL);
        if (chdir("/") < 0)
                return fail(a->error, -errno, "/", "cannot change directory", NULL);
        return 0;
}

int mount_plan_take_caller_ids(const MountPlan *p) {
        if (!p || p->creds != CREDS_JOINED)
                return 0;
        /* setfs[ug]id() report the previous value, never an error: read back with an invalid id. */
        (void) syscall(SYS_setfsgid, p->gid);
        (void) syscall(SYS_setfsuid, p->uid);
        if ((gid_t) syscall(SYS_setfsgid, (gid_t) -1) != p->gid || (uid_t) syscall(SYS_setfsuid, (uid_t) -1) != p->uid)
                return -EPERM;
        return 0;
}

bool mount_plan_builds_root(const MountPlan *p) {
        return p && p->build_root;
}

int mount_plan_apply(const MountPlan *p, SpawnError *ret_error) {
        Apply a = {
                .plan = p,
                .error = ret_error,
                .host_fd = -EBADF,
                .root_fd = -EBADF,
                .parent_mode = 0755,
        };
        mode_t saved_umask;
        int r;

        if (!p)
                return 0;

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return fail(ret_error, -errno, "/", "cannot make mount propagation private", NULL);
        if (!p->build_root)
                return 0;

        if (p->creds == CREDS_USERNS) {
                r = creds_enter_userns(p);
                if (r < 0)
                        return fail(ret_error, r, "/", "cannot take the caller's namespace ids", NULL);
        }

        /* Directories made on the way must be 0755 whatever the daemon's umask, or a non-root sandbox cannot use them. */
        saved_umask = umask(0);

        r = enter_staging(&a);
        if (r >= 0)
                r = make_default_root(&a);
        for (size_t i = 0; r >= 0 && i < p->n_ops; i++) {
                a.parent_mode = p->ops[i].parent_mode;
                r = apply_op(&a, &p->ops[i]);
        }
        a.parent_mode = 0755;
        if (r >= 0)
                r = switch_root(&a);

        /* A failed credential restore must not let the caller's ids leak into what follows. */
        if (creds_daemon(&a) < 0 && r >= 0)
                r = fail(ret_error, -EPERM, "/", "cannot restore credentials", NULL);
        (void) umask(saved_umask);
        safe_close(a.host_fd);
        safe_close(a.root_fd);
        return r < 0 ? r : 0;
}
