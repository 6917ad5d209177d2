/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a caller runs (see caller-origin.h): the index of the sandboxes'
 * cgroups and namespaces, and the lookup of a peer in it. Everything here
 * reads the kernel's own files (pidfs ioctls, nsfs, /proc, cgroupfs), never
 * one a caller serves, so nothing waits on the caller.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caller-origin.h"
#include "fd-util.h"
#include "macro.h"
#include "namespace-fd.h"
#include "sandbox-exec.h"
#include "sandbox.h"

#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif

/* PIDFD_GET_INFO (Linux 6.13), in its first size, which every kernel that has it takes. */
struct origin_pidfd_info {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
};
#define ORIGIN_PIDFD_GET_INFO _IOWR(PIDFS_IOCTL_MAGIC, 11, struct origin_pidfd_info)
#define ORIGIN_PIDFD_INFO_CGROUPID (UINT64_C(1) << 2)

/* The kernel nests user and pid namespaces at most 32 deep. */
#define NAMESPACE_DEPTH_MAX 33
#define CGROUP_FILE_MAX (64 * 1024)

static uint64_t key_hash(unsigned kind, uint64_t value) {
        return hash_u64(value ^ ((uint64_t) kind << 56));
}

static bool key_match(const HashNode *node, const void *key) {
        const OriginKey *k = hash_entry(node, OriginKey, node), *want = key;

        return k->kind == want->kind && k->value == want->value;
}

static Sandbox *find(const OriginIndex *ix, unsigned kind, uint64_t value) {
        OriginKey want = { .kind = kind, .value = value };
        HashNode *n = hash_table_find(&ix->keys, key_hash(kind, value), key_match, &want);

        return n ? hash_entry(n, OriginKey, node)->sandbox : NULL;
}

Sandbox *origin_index_find_namespace(const OriginIndex *ix, NamespaceType t, uint64_t inode) {
        if (!ix || (unsigned) t >= _NAMESPACE_TYPE_MAX || inode == 0)
                return NULL;
        return find(ix, ORIGIN_KEY_NAMESPACE + (unsigned) t, inode);
}

static int inode_of(int fd, uint64_t *ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        *ret = (uint64_t) st.st_ino;
        return 0;
}

/* The process is still alive: the pid named it until now (a zombie keeps its pid too). */
static int still_alive(int pidfd) {
        if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return -errno;
        return 0;
}

static bool ioctl_missing(int error) {
        return error == ENOTTY || error == EINVAL || error == EOPNOTSUPP;
}

/* An nsfs fd of the process's namespace of type t: by the pidfd, else through /proc/PID checked against it. */
static int open_namespace(int pidfd, pid_t pid, NamespaceType t, int *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        int r;

        if (pidfd >= 0) {
                fd = namespace_of_pidfd(pidfd, t);
                if (fd >= 0) {
                        *ret = TAKE_FD(fd);
                        return 0;
                }
                if (fd != -EOPNOTSUPP)
                        return fd;
        }
        if (pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, namespace_type_to_proc_name(t));
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        r = still_alive(pidfd);
        if (r < 0)
                return r;
        *ret = TAKE_FD(fd);
        return 0;
}

int origin_index_init(OriginIndex *ix) {
        *ix = (OriginIndex) {};
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                _cleanup_close_ int fd = -EBADF;
                char path[64];
                int r;

                snprintf(path, sizeof path, "/proc/self/ns/%s", namespace_type_to_proc_name(t));
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue; /* a kernel without this type: no sandbox has one either */
                        return -errno;
                }
                r = inode_of(fd, &ix->own_namespaces[t]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void origin_index_done(OriginIndex *ix) {
        assert(ix->keys.n == 0);
        hash_table_done(&ix->keys);
}

static int add_key(OriginIndex *ix, OriginKey *k, Sandbox *sb, unsigned kind, uint64_t value) {
        int r;

        *k = (OriginKey) { .kind = kind, .value = value, .sandbox = sb };
        r = hash_table_add(&ix->keys, &k->node, key_hash(kind, value));
        if (r < 0)
                return r;
        k->added = true;
        return 0;
}

static int add_namespace_key(OriginIndex *ix, SandboxOrigin *o, Sandbox *sb, NamespaceType t, uint64_t value) {
        OriginKey *k = malloc(sizeof *k);
        int r;

        if (!k)
                return -ENOMEM;
        r = add_key(ix, k, sb, ORIGIN_KEY_NAMESPACE + t, value);
        if (r < 0) {
                free(k);
                return r;
        }
        o->namespaces[t] = k;
        return 0;
}

/* A pid or time namespace below the top process (SandboxOrigin.pid_namespace_below): its TYPE_for_children, 0
 * until the child made it (until then that is the namespace it is in itself). */
static int namespace_below(int pidfd, pid_t pid, NamespaceType t, uint64_t own, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t value = 0;
        char path[64];
        int r;

        if (pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof path, "/proc/%d/ns/%s_for_children", (int) pid, namespace_type_to_proc_name(t));
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        r = still_alive(pidfd);
        if (r >= 0)
                r = inode_of(fd, &value);
        if (r < 0)
                return r;
        *ret = value == own ? 0 : value;
        return 0;
}

int origin_index_add(OriginIndex *ix, SandboxOrigin *o, Sandbox *sb, uint64_t cgroup_id, int pidfd, pid_t pid,
                     unsigned created) {
        uint64_t value;
        int r;

        if (cgroup_id != 0 && !o->cgroup.added) {
                r = add_key(ix, &o->cgroup, sb, ORIGIN_KEY_CGROUP, cgroup_id);
                if (r < 0)
                        return r;
        }

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                _cleanup_close_ int fd = -EBADF;

                if (!(created & NAMESPACE_BIT(t)) || o->namespaces[t])
                        continue;
                /* It stays outside what it made of these, in its sandbox's: that one is not this one's. */
                if ((t == NAMESPACE_PID || t == NAMESPACE_TIME) && o->pid_namespace_below) {
                        uint64_t active;

                        r = open_namespace(pidfd, pid, t, &fd);
                        if (r >= 0)
                                r = inode_of(fd, &active);
                        if (r >= 0)
                                r = namespace_below(pidfd, pid, t, active, &value);
                        if (r == -ESRCH)
                                return 0;
                        if (r < 0)
                                return r;
                        if (value == 0)
                                continue; /* not made yet */
                        r = add_namespace_key(ix, o, sb, t, value);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = open_namespace(pidfd, pid, t, &fd);
                if (r == -ESRCH)
                        return 0; /* it died: nothing runs in what it made */
                if (r < 0)
                        return r;
                r = inode_of(fd, &value);
                if (r < 0)
                        return r;
                if (value == ix->own_namespaces[t])
                        continue; /* not made yet */
                r = add_namespace_key(ix, o, sb, t, value);
                if (r < 0)
                        return r;
        }
        return 0;
}

void origin_index_remove(OriginIndex *ix, SandboxOrigin *o) {
        if (o->cgroup.added) {
                hash_table_remove(&ix->keys, &o->cgroup.node);
                o->cgroup.added = false;
        }
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++)
                if (o->namespaces[t]) {
                        hash_table_remove(&ix->keys, &o->namespaces[t]->node);
                        free(o->namespaces[t]);
                        o->namespaces[t] = NULL;
                }
}

/* ---- the lookup ---- */

_printf_(2, 3) static void set_unknown(CallerOrigin *o, const char *format, ...) {
        va_list ap;

        *o = (CallerOrigin) { .kind = CALLER_ORIGIN_UNKNOWN };
        va_start(ap, format);
        (void) vsnprintf(o->reason, sizeof o->reason, format, ap);
        va_end(ap);
}

static int read_cgroup_file(pid_t pid, int pidfd, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char path[64];
        size_t n = 0;
        int r;

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;

        buf = malloc(CGROUP_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, CGROUP_FILE_MAX - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n == CGROUP_FILE_MAX)
                        return -EFBIG;
        }
        buf[n] = '\0';

        r = still_alive(pidfd);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The "0::PATH" line's PATH, in place. */
static const char *cgroup2_path(char *s) {
        for (char *line = s; line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strncmp(line, "0::", 3) == 0)
                        return line + 3;
                line = next;
        }
        return NULL;
}

/*
 * The sandbox whose cgroup the process is in: by the cgroup id from its
 * pidfd, else (a cgroup below a sandbox's, or a kernel without
 * PIDFD_GET_INFO) by its path below base/user-UID/ID (the innermost ID of a
 * nested sandbox's ID/ID). *ret_sb or ret_id (the id from the path, "" if
 * none) is set.
 */
static int cgroup_origin(const OriginIndex *ix, const char *base, const char *leaf, int pidfd, pid_t pid,
                         Sandbox **ret_sb, char ret_id[static SANDBOX_ID_LEN + 1], bool *ret_daemons,
                         const char **ret_what) {
        _cleanup_free_ char *buf = NULL;
        const char *path, *rest, *id;
        size_t base_len, id_len, digits;
        int r;

        if (pidfd >= 0) {
                struct origin_pidfd_info info = { .mask = ORIGIN_PIDFD_INFO_CGROUPID };

                if (ioctl(pidfd, ORIGIN_PIDFD_GET_INFO, &info) >= 0) {
                        if (info.mask & ORIGIN_PIDFD_INFO_CGROUPID) {
                                *ret_sb = find(ix, ORIGIN_KEY_CGROUP, info.cgroupid);
                                if (*ret_sb)
                                        return 0;
                        }
                } else if (!ioctl_missing(errno)) {
                        *ret_what = "its pidfd's information";
                        return -errno;
                }
        }

        *ret_what = "/proc/PID/cgroup";
        r = read_cgroup_file(pid, pidfd, &buf);
        if (r < 0)
                return r;
        path = cgroup2_path(buf);
        if (!path || path[0] != '/')
                return -EBADMSG;

        base_len = streq(base, "/") ? 0 : strlen(base);
        /* BASE itself holds what the daemon's unit runs besides the daemon (ExecReload=), and, where the
         * daemon was not given a cgroup of its own (BASE may be the root), whatever shares it: the host's, as
         * is what the host has below it that is not the daemon's. */
        if (strncmp(path, base, base_len) != 0 || path[base_len] != '/')
                return 0;
        rest = path + base_len + 1;
        /* The daemon's own leaf, and a user's cgroup that is no sandbox's, hold none of the host's
         * processes, only one that moved itself there (uid 0 may write cgroup.procs): never the host. */
        if (leaf && strncmp(rest, leaf, strlen(leaf)) == 0 &&
            (rest[strlen(leaf)] == '/' || rest[strlen(leaf)] == '\0')) {
                *ret_daemons = true;
                return 0;
        }
        digits = strncmp(rest, "user-", 5) == 0 ? strspn(rest + 5, "0123456789") : 0;
        if (digits == 0 || (rest[5 + digits] != '/' && rest[5 + digits] != '\0'))
                return 0;
        *ret_daemons = true;
        id = strchr(rest, '/');
        if (!id)
                return 0; /* a user's cgroup itself */
        /* The innermost sandbox's: a nested sandbox's cgroup is below its sandbox's, and either may have its
         * processes in a payload leaf below it. */
        for (id++;; id += id_len + 1) {
                id_len = strcspn(id, "/");
                if (id_len != SANDBOX_ID_LEN)
                        return 0;
                memcpy(ret_id, id, SANDBOX_ID_LEN);
                ret_id[SANDBOX_ID_LEN] = '\0';
                *ret_daemons = false;
                if (id[id_len] != '/')
                        return 0;
        }
}

/* How deep sb is among nested sandboxes: 0 for one made from the host, its sandbox's depth + 1 for a nested
 * one (a process of its sandbox, Sandbox.exec_of). */
static unsigned nesting_depth(const Sandbox *sb) {
        unsigned depth = 0;

        for (; sb && sb->exec_of; sb = sb->exec_of)
                depth++;
        return depth;
}

static bool related(const Sandbox *a, const Sandbox *b) {
        return sandbox_within(a, b) || sandbox_within(b, a);
}

/* One namespace of the process that is a sandbox's. */
typedef struct NamespaceMatch {
        NamespaceType type;
        uint64_t inode;
        Sandbox *sandbox;
} NamespaceMatch;

/*
 * The sandboxes whose namespaces the process is in: for user and pid
 * namespaces also one that is an ancestor of its own. Each type stops at
 * the daemon's own namespace. A nested sandbox joined its sandbox's
 * namespaces and made some of its own: those tell it apart.
 */
static int namespace_origin(const OriginIndex *ix, int pidfd, pid_t pid,
                            NamespaceMatch ret_matches[static _NAMESPACE_TYPE_MAX], size_t *ret_n, bool *ret_own_userns,
                            const char **ret_what) {
        static const NamespaceType order[] = { NAMESPACE_USER, NAMESPACE_PID,    NAMESPACE_MOUNT, NAMESPACE_NET,
                                               NAMESPACE_UTS,  NAMESPACE_IPC,    NAMESPACE_CGROUP, NAMESPACE_TIME };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                NamespaceType t = order[i];
                _cleanup_close_ int fd = -EBADF;
                int r;

                if (ix->own_namespaces[t] == 0)
                        continue; /* the kernel has no such type */
                r = open_namespace(pidfd, pid, t, &fd);
                if (r < 0) {
                        *ret_what = namespace_type_to_proc_name(t);
                        return r;
                }
                for (unsigned depth = 0; depth < NAMESPACE_DEPTH_MAX; depth++) {
                        uint64_t ino;
                        Sandbox *sb;
                        int parent;

                        r = inode_of(fd, &ino);
                        if (r < 0) {
                                *ret_what = namespace_type_to_proc_name(t);
                                return r;
                        }
                        if (t == NAMESPACE_USER && depth == 0)
                                *ret_own_userns = ino == ix->own_namespaces[t];
                        if (ino == ix->own_namespaces[t])
                                break;
                        sb = find(ix, ORIGIN_KEY_NAMESPACE + t, ino);
                        if (sb) {
                                ret_matches[n++] = (NamespaceMatch) { .type = t, .inode = ino, .sandbox = sb };
                                break;
                        }
                        if (t != NAMESPACE_USER && t != NAMESPACE_PID)
                                break;
                        /* EPERM once above the daemon's own: nothing of ours is there. */
                        parent = ioctl(fd, NS_GET_PARENT);
                        if (parent < 0)
                                break;
                        safe_close(fd);
                        fd = parent;
                }
        }
        *ret_n = n;
        return 0;
}

/* Whether sb's processes are in the namespace m names: sb made or joined it (a sandbox made from the host
 * may join another's, as a pod's containers share one network namespace). */
static bool sandbox_has_namespace(const Sandbox *sb, const NamespaceMatch *m) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t ino = 0;

        if (sb->namespace_inodes[m->type] != 0)
                return sb->namespace_inodes[m->type] == m->inode;
        /* Not recorded (a sandbox taken over from a previous daemon): what its top process is in. */
        fd = sandbox_open_namespace(sb, m->type);
        return fd >= 0 && inode_of(fd, &ino) >= 0 && ino == m->inode;
}

int origin_check_whole(const OriginIndex *ix, const Sandbox *sb, int pidfd, pid_t pid, NamespaceType *ret_type) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                _cleanup_close_ int theirs = -EBADF, ours = -EBADF;
                struct stat a, b;
                int r;

                if (ix->own_namespaces[t] == 0)
                        continue; /* the kernel has no such type */
                if (pid <= 0)
                        return -ESRCH;
                r = open_namespace(pidfd, pid, t, &theirs);
                if (r < 0)
                        return r;
                ours = sandbox_open_namespace(sb, t);
                if (ours < 0)
                        return ours;
                if (fstat(theirs, &a) < 0 || fstat(ours, &b) < 0)
                        return -errno;
                if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
                        *ret_type = t;
                        return -EXDEV;
                }
        }
        return 0;
}

/*
 * What a process can leave and what it cannot decides which evidence
 * anchors the answer. Its user and pid namespaces it can only go further
 * down from, so the innermost sandbox one of them is a sandbox's anchors
 * it. Its cgroup a process that may write cgroup.procs (uid 0 of the host's
 * user namespace always may: cgroup2 is not mounted with nsdelegate) can
 * change to any, so the cgroup may narrow the answer to a sandbox nested in
 * the anchor, never widen it or name an unrelated one. Its other namespaces
 * it can trade for fresh ones (given CAP_SYS_ADMIN over them) but enter
 * another sandbox's only with rights over that one: one of a sandbox nested
 * in the answer narrows it, and one of a sandbox unrelated to the answer
 * that the answer's processes are not in contradicts it. A contradiction is
 * CALLER_ORIGIN_UNKNOWN: refused, never taken for either side.
 */
void origin_index_lookup(const OriginIndex *ix, const char *cgroup_base, const char *cgroup_leaf, int pidfd, pid_t pid,
                         CallerOrigin *ret) {
        char path_id[SANDBOX_ID_LEN + 1] = "";
        NamespaceMatch matches[_NAMESPACE_TYPE_MAX];
        Sandbox *by_cgroup = NULL, *anchor = NULL, *answer, *narrowed = NULL;
        bool own_userns = true, daemons = false;
        const char *what = NULL;
        size_t n_matches = 0;
        int r;

        if (pid <= 0)
                return set_unknown(ret, "it has no pid in the daemon's pid namespace");

        if (cgroup_base) {
                r = cgroup_origin(ix, cgroup_base, cgroup_leaf, pidfd, pid, &by_cgroup, path_id, &daemons, &what);
                if (r == -ESRCH)
                        return set_unknown(ret, "it exited before its connection was accepted");
                if (r < 0)
                        return set_unknown(ret, "cannot read %s: %s", what, strerror(-r));
                if (daemons)
                        return set_unknown(ret, "its cgroup is below the daemon's but no sandbox's");
                if (!by_cgroup && path_id[0]) {
                        by_cgroup = ix->find_id ? ix->find_id(ix->userdata, path_id) : NULL;
                        if (!by_cgroup)
                                return set_unknown(ret, "its cgroup is of sandbox %s, which is gone", path_id);
                }
        }
        /* Also with a cgroup: a process that entered a sandbox's namespaces keeps its cgroup, and a nested
         * sandbox taken over without its own cgroup runs in its sandbox's, its namespaces naming it. */
        r = namespace_origin(ix, pidfd, pid, matches, &n_matches, &own_userns, &what);
        if (r == -ESRCH)
                return set_unknown(ret, "it exited before its connection was accepted");
        if (r < 0)
                return set_unknown(ret, "cannot read its %s namespace: %s", what, strerror(-r));

        /* The anchor: the innermost sandbox of its user and pid namespaces, which must be on one line. */
        for (size_t i = 0; i < n_matches; i++) {
                Sandbox *sb = matches[i].sandbox;

                if (matches[i].type != NAMESPACE_USER && matches[i].type != NAMESPACE_PID)
                        continue;
                if (anchor && !related(sb, anchor))
                        return set_unknown(ret, "its user and pid namespaces are of unrelated sandboxes");
                if (!anchor || nesting_depth(sb) > nesting_depth(anchor))
                        anchor = sb;
        }

        answer = anchor;
        if (by_cgroup) {
                if (!answer || sandbox_within(by_cgroup, answer))
                        answer = by_cgroup;
                else if (!sandbox_within(answer, by_cgroup))
                        return set_unknown(ret, "its cgroup and its user or pid namespace are unrelated sandboxes'");
        }

        /* The other namespaces: one of a sandbox nested in the answer narrows it; one of an unrelated sandbox
         * must be one the answer's processes are in too. Without an answer yet they must agree among
         * themselves. */
        for (size_t i = 0; i < n_matches; i++) {
                const NamespaceMatch *m = matches + i;

                if (m->type == NAMESPACE_USER || m->type == NAMESPACE_PID)
                        continue;
                if (!answer) {
                        if (narrowed && !related(m->sandbox, narrowed))
                                return set_unknown(ret, "its namespaces are of unrelated sandboxes");
                        if (!narrowed || nesting_depth(m->sandbox) > nesting_depth(narrowed))
                                narrowed = m->sandbox;
                        continue;
                }
                if (sandbox_within(m->sandbox, answer)) {
                        if (narrowed && !related(m->sandbox, narrowed))
                                return set_unknown(ret, "its namespaces are of unrelated sandboxes");
                        if (!narrowed || nesting_depth(m->sandbox) > nesting_depth(narrowed))
                                narrowed = m->sandbox;
                } else if (!sandbox_within(answer, m->sandbox) && !sandbox_has_namespace(answer, m))
                        return set_unknown(ret, "its %s namespace is a sandbox's unrelated to its %s's",
                                           namespace_type_to_proc_name(m->type),
                                           answer == by_cgroup ? "cgroup" : "user or pid namespace");
        }
        if (narrowed)
                answer = narrowed;

        /*
         * In a user namespace of its own, a process may have traded every other namespace a sandbox
         * made for a fresh one (unshare -Urnmiu): without a cgroup to tell, it might be any sandbox's.
         */
        if (!cgroup_base && !answer && !own_userns)
                return set_unknown(ret, "without cgroups, a caller in a user namespace of its own may be a sandbox's");

        if (!answer) {
                *ret = (CallerOrigin) { .kind = CALLER_ORIGIN_HOST };
                return;
        }
        *ret = (CallerOrigin) { .kind = CALLER_ORIGIN_SANDBOX };
        memcpy(ret->sandbox, answer->id, sizeof ret->sandbox);
}
