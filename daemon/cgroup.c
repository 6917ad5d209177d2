/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cgroups for sandboxes (see cgroup.h for the layout). Everything is done
 * with *at() calls on directory fds opened once, so a path component swapped
 * under the daemon cannot send a write elsewhere, and a sandbox's files are
 * reached without walking the tree again.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-removal.h"
#include "cgroup.h"
#include "fd-util.h"
#include "list.h"
#include "log.h"
#include "pid-set.h"

#define CGROUP_LEAF_DEFAULT "supervisor"
#define CGROUP_USER_PREFIX "user-"
/* A listing that keeps finding new processes is a fork storm outpacing the freezer: give up eventually. */
#define SIGNAL_ROUNDS_MAX 32
#define KILL_ROUNDS_MAX 8
/* Bounds the work one cgroup-wide signal does on the event loop (a listing is read at most
 * SIGNAL_ROUNDS_MAX times, each pid looked up by binary search): processes beyond this many are left
 * unsignalled, and the count returned says how many were reached. The sandbox's pids limit, when set,
 * keeps a cgroup below it anyway. */
#define SIGNAL_PIDS_MAX 65536
/* User cgroups kept after their last sandbox ended, so that a user who runs one command after another
 * does not make, limit and remove BASE/user-UID in every hierarchy for each (about 40 system calls, and
 * cgroup creation is among the kernel's slower operations). Past this many, the longest idle goes. */
#define IDLE_USERS_MAX 32

typedef enum Controller {
        CONTROLLER_MEMORY,
        CONTROLLER_PIDS,
        CONTROLLER_CPU,
        _CONTROLLER_MAX,
} Controller;

static const char *const controller_names[_CONTROLLER_MAX] = {
        [CONTROLLER_MEMORY] = "memory",
        [CONTROLLER_PIDS] = "pids",
        [CONTROLLER_CPU] = "cpu",
};

/* Index 0 of the hierarchy arrays is cgroup2; 1.. are v1 hierarchies. */
#define HIERARCHY_V2 0
#define HIERARCHIES_MAX (1 + _CONTROLLER_MAX)
#define HIERARCHY_NONE (-1)

typedef struct Hierarchy {
        char *mount_path; /* the daemon's cgroup as a directory: mount point + path below the mount's root */
        char *path;       /* the daemon's cgroup as /proc/self/cgroup shows it */
        int fd;           /* O_DIRECTORY fd of mount_path (BASE) */
        unsigned controllers; /* 1 << Controller handled here */
} Hierarchy;

typedef struct CgroupUser {
        LIST_FIELDS(struct CgroupUser, users);
        uid_t uid;
        unsigned n_cgroups;   /* 0: idle, kept for the user's next sandbox */
        uint64_t idle_since;  /* the manager's idle_clock when it became idle */
        int fds[HIERARCHIES_MAX]; /* BASE/user-UID per hierarchy */
        bool has_limits;
        CgroupLimits limits; /* as last applied */
        int pids_current_fd;  /* pids.current and pids.max in a v1 pids hierarchy, or -EBADF */
        int pids_max_fd;
} CgroupUser;

struct CgroupManager {
        Hierarchy h[HIERARCHIES_MAX];
        size_t n_h;
        int controller_h[_CONTROLLER_MAX]; /* hierarchy index, or HIERARCHY_NONE */
        char missing[_CONTROLLER_MAX][160]; /* why a controller is missing */
        bool has_kill;
        bool has_freeze;
        bool has_swap; /* memory.swap.max, or v1 memory.memsw.* */
        bool has_cpu_bandwidth;

        char *leaf;
        bool moved_self;
        unsigned subtree_enabled; /* controllers we enabled in BASE/cgroup.subtree_control */
        bool payload_leaf;        /* CGROUP_ROOM_BELOW makes the payload leaf: cgroup2 holds controllers */

        int epoll_fd;
        CgroupRemover *remover; /* NULL: directories are removed on the loop */
        struct CgroupUser *users;
        struct Cgroup *cgroups; /* every Cgroup record: where a user's are found when its limits change */
        unsigned n_cgroups;
        unsigned n_idle_users;
        uint64_t idle_clock;
};

struct Cgroup {
        LIST_FIELDS(struct Cgroup, all);
        CgroupManager *manager;
        CgroupUser *user;
        char *name; /* its directory below BASE/user-UID: ID, or PARENT/ID below another sandbox's */
        char *path;
        /* A nested sandbox's cgroup is below its sandbox's: the parent is kept (and its directory) until the
         * last child went, even once its owner removed or abandoned it (released). */
        Cgroup *parent;
        unsigned n_children;
        bool released;       /* its owner let go while children were below it */
        bool remove_pending; /* ... asking for its removal */
        bool has_leaf;       /* its processes are in NAME/payload in cgroup2 */
        int leaf_fd;         /* that leaf, while spawns are in flight */
        /* What a live sandbox holds open is what limits how many can live: the daemon's RLIMIT_NOFILE, and
         * every fork of the daemon copies its fd table. So the directories (BASE/user-UID/name in each
         * hierarchy) are open while the cgroup is set up and while a spawn into it is in flight (the
         * cgroup2 one for CLONE_INTO_CGROUP, the v1 tasks files for the child's move), and are
         * opened by name for the rare work in between; cgroup.events only once the daemon waits for the
         * cgroup to empty. A live sandbox's cgroups hold no fd. */
        int fds[HIERARCHIES_MAX];
        bool present[HIERARCHIES_MAX];  /* made (or found), not removed yet */
        /* Its processes are in its user's CGROUP_SHARED there, a v1 hierarchy that serves only limits it does
         * not set (needs_own_dir()); present too once a nested cgroup with such limits needed its directory. */
        bool in_shared[HIERARCHIES_MAX];
        int tasks_fds[HIERARCHIES_MAX]; /* v1 tasks, O_WRONLY, while spawns are in flight */
        size_t n_tasks_fds;
        /* Pairs of v1 pids.current and pids.max, while spawns are in flight: its own and its ancestors' that
         * have a TasksMax (cgroup_v1_pids_checks()). */
        int pids_check_fds[2 * CGROUP_PIDS_CHECKS_MAX];
        size_t n_pids_check_fds;
        unsigned spawns;                /* spawns into it in flight: fds[HIERARCHY_V2] and tasks_fds are open while > 0 */
        uint64_t id;                    /* the cgroup2 directory's inode number */
        int events_fd;                  /* watched once cgroup_read_events() found it populated */
        bool frozen; /* what we asked for */
        /* Its limits as the kernel took them when the daemon set them (or found them, taking it over): the
         * ceilings of what is made below it. Never read back later: uid 0 of the host's user namespace owns
         * the files, so a root sandbox without capabilities may still raise its own. */
        CgroupLimits limits;
        /* What its v1 cpu.cfs_quota_us and cpu.cfs_period_us hold where it has a quota there: its own, or its
         * user's where a Reload lowered that below it (user_write_limits()). */
        uint64_t cpu_quota_in_force, cpu_period_in_force;
        void *userdata;
};

static const char *const limit_properties[_CGROUP_LIMIT_TYPE_MAX] = {
        [CGROUP_LIMIT_MEMORY_MAX] = "MemoryMax",
        [CGROUP_LIMIT_MEMORY_HIGH] = "MemoryHigh",
        [CGROUP_LIMIT_MEMORY_SWAP_MAX] = "MemorySwapMax",
        [CGROUP_LIMIT_TASKS_MAX] = "TasksMax",
        [CGROUP_LIMIT_CPU_QUOTA] = "CPUQuota",
        [CGROUP_LIMIT_CPU_WEIGHT] = "CPUWeight",
};

const char *cgroup_limit_type_to_property(CgroupLimitType t) {
        if (t < 0 || t >= _CGROUP_LIMIT_TYPE_MAX)
                return NULL;
        return limit_properties[t];
}

bool cgroup_limits_has(const CgroupLimits *l, CgroupLimitType t) {
        switch (t) {
        case CGROUP_LIMIT_MEMORY_MAX:
                return l->memory_max != CGROUP_LIMIT_MAX;
        case CGROUP_LIMIT_MEMORY_HIGH:
                return l->memory_high != CGROUP_LIMIT_MAX;
        case CGROUP_LIMIT_MEMORY_SWAP_MAX:
                return l->memory_swap_max != CGROUP_LIMIT_MAX;
        case CGROUP_LIMIT_TASKS_MAX:
                return l->tasks_max != CGROUP_LIMIT_MAX;
        case CGROUP_LIMIT_CPU_QUOTA:
                return l->cpu_quota_usec != 0;
        case CGROUP_LIMIT_CPU_WEIGHT:
                return l->cpu_weight != 0 || l->cpu_shares != 0;
        default:
                return false;
        }
}

/* ---- file helpers ---- */

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static int write_at(int dir_fd, const char *name, const char *text) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(text);
        ssize_t n;

        fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* cgroup v1's memory.limit_in_bytes fails with EINTR when a signal comes (SIGCHLD, say) before the
         * limit is set, whatever SA_RESTART says; writing a value again is harmless. */
        do
                n = write(fd, text, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}

static int write_u64_at(int dir_fd, const char *name, uint64_t v, const char *unlimited) {
        char buf[32];

        if (v == CGROUP_LIMIT_MAX)
                return write_at(dir_fd, name, unlimited);
        (void) snprintf(buf, sizeof buf, "%" PRIu64, v);
        return write_at(dir_fd, name, buf);
}

/* Reads a small control file whole into buf, NUL-terminated. */
static int read_fd(int fd, char *buf, size_t size) {
        ssize_t n;

        n = pread(fd, buf, size - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

static int read_at(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_fd(fd, buf, size);
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end && *end != '\n' && *end != ' ')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int read_u64_at(int dir_fd, const char *name, uint64_t *ret) {
        char buf[64];
        int r;

        r = read_at(dir_fd, name, buf, sizeof buf);
        if (r < 0)
                return r;
        if (strncmp(buf, "max", 3) == 0) {
                *ret = CGROUP_LIMIT_MAX;
                return 0;
        }
        return parse_u64(buf, ret);
}

/* The value of "key N" in a flat-keyed text (cpu.stat, memory.events, memory.oom_control, cgroup.events). */
static int keyed_u64(const char *text, const char *key, uint64_t *ret) {
        size_t len = strlen(key);

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, len) == 0 && p[len] == ' ')
                        return parse_u64(p + len + 1, ret);
        return -ENOENT;
}

static int keyed_u64_at(int dir_fd, const char *file, const char *key, uint64_t *ret) {
        char buf[2048];
        int r;

        r = read_at(dir_fd, file, buf, sizeof buf);
        if (r < 0)
                return r;
        return keyed_u64(buf, key, ret);
}

/* Whether a space-separated list (cgroup.controllers) holds word. */
static bool word_in_list(const char *list, const char *word) {
        size_t len = strlen(word);

        for (const char *p = list; *p;) {
                p += strspn(p, " \n");
                if (strncmp(p, word, len) == 0 && (p[len] == ' ' || p[len] == '\n' || p[len] == '\0'))
                        return true;
                p += strcspn(p, " \n");
        }
        return false;
}

/* ---- discovery ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
        char *w = s;

        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
                    p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = '\0';
}

/* Whether a comma-separated option list holds option. */
static bool option_in_list(const char *list, const char *option) {
        size_t len = strlen(option);

        for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
                if (strncmp(p, option, len) == 0 && (p[len] == ',' || p[len] == '\0' || p[len] == '\n'))
                        return true;
        return false;
}

/*
 * The directory of cgroup path `path` (as /proc/self/cgroup has it) in a
 * hierarchy mounted with root `root` at `mount_point`, or NULL if that mount
 * does not show it.
 */
static char *mounted_path(const char *mount_point, const char *root, const char *path) {
        size_t root_len = strlen(root);
        const char *rest;
        char *s;

        if (streq(root, "/"))
                rest = path;
        else if (strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == '\0'))
                rest = path + root_len;
        else
                return NULL;

        if (asprintf(&s, "%s%s", mount_point, streq(rest, "/") ? "" : rest) < 0)
                return NULL;
        return s;
}

/* The daemon's cgroup path in the cgroup2 tree ("0::PATH") or in the v1 hierarchy listing controller. */
static int own_cgroup_path(const char *controller, char **ret) {
        _cleanup_free_ char *line = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;

        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                char *controllers, *path;

                line[strcspn(line, "\n")] = '\0';
                controllers = strchr(line, ':');
                if (!controllers)
                        continue;
                controllers++;
                path = strchr(controllers, ':');
                if (!path)
                        continue;
                *path++ = '\0';

                if (controller ? option_in_list(controllers, controller) : (*controllers == '\0' && line[0] == '0')) {
                        char *s = strdup(path);
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
        }
        return -ENOENT;
}

/*
 * Finds the mount of the cgroup2 tree (controller NULL) or of the v1
 * hierarchy with controller, that shows the daemon's own cgroup, and opens
 * the daemon's cgroup there.
 */
static int find_hierarchy(const char *controller, Hierarchy *ret) {
        _cleanup_free_ char *line = NULL, *own = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;
        int r;

        r = own_cgroup_path(controller, &own);
        if (r < 0)
                return r;

        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                char *fields[6] = {}, *sep, *fstype, *superopts, *save = NULL, *p;
                _cleanup_free_ char *dir = NULL;
                size_t n = 0;
                int fd;

                line[strcspn(line, "\n")] = '\0';
                sep = strstr(line, " - ");
                if (!sep)
                        continue;
                *sep = '\0';
                fstype = strtok_r(sep + 3, " ", &save);
                (void) strtok_r(NULL, " ", &save); /* source */
                superopts = strtok_r(NULL, " ", &save);
                if (!fstype || !superopts)
                        continue;
                if (controller ? !streq(fstype, "cgroup") || !option_in_list(superopts, controller)
                               : !streq(fstype, "cgroup2"))
                        continue;

                save = NULL;
                for (p = strtok_r(line, " ", &save); p && n < ELEMENTSOF(fields); p = strtok_r(NULL, " ", &save))
                        fields[n++] = p;
                if (n < 5)
                        continue;
                unescape_octal(fields[3]); /* root */
                unescape_octal(fields[4]); /* mount point */

                dir = mounted_path(fields[4], fields[3], own);
                if (!dir)
                        continue;
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;

                *ret = (Hierarchy) {
                        .mount_path = TAKE_PTR(dir),
                        .path = TAKE_PTR(own),
                        .fd = fd,
                };
                return 0;
        }
        return -ENOMEDIUM;
}

static void hierarchy_done(Hierarchy *h) {
        free(h->mount_path);
        free(h->path);
        safe_close(h->fd);
        *h = (Hierarchy) { .fd = -EBADF };
}

static bool name_is_user_dir(const char *name) {
        if (strncmp(name, CGROUP_USER_PREFIX, strlen(CGROUP_USER_PREFIX)) != 0)
                return false;
        name += strlen(CGROUP_USER_PREFIX);
        return *name && strspn(name, "0123456789") == strlen(name);
}

/* How deep remove_tree() goes: a sandbox, nested ones, their payload leaves. */
#define LEFTOVER_DEPTH_MAX 8

/* Removes the empty cgroups at and below dir_fd/name, deepest first (a populated one stays, and its parents). */
static void remove_tree(int dir_fd, const char *name, unsigned depth) {
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        DIR *d;

        if (depth < LEFTOVER_DEPTH_MAX) {
                fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return;
                d = fdopendir(TAKE_FD(fd));
                if (!d)
                        return;
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.')
                                remove_tree(dirfd(d), de->d_name, depth + 1);
                closedir(d);
        }
        (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
}

/* Removes what a previous run left below BASE/user-* (only empty cgroups can go; populated ones stay). */
static void remove_leftovers(int base_fd) {
        _cleanup_close_ int dup_fd = fcntl(base_fd, F_DUPFD_CLOEXEC, 3);
        DIR *d;
        struct dirent *de;

        if (dup_fd < 0)
                return;
        d = fdopendir(dup_fd);
        if (!d)
                return;
        dup_fd = -EBADF;
        while ((de = readdir(d))) {
                _cleanup_close_ int user_fd = -EBADF;
                DIR *ud;
                struct dirent *ue;

                if (de->d_type != DT_DIR || !name_is_user_dir(de->d_name))
                        continue;
                user_fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (user_fd < 0)
                        continue;
                ud = fdopendir(TAKE_FD(user_fd));
                if (!ud)
                        continue;
                while ((ue = readdir(ud)))
                        if (ue->d_type == DT_DIR && ue->d_name[0] != '.')
                                remove_tree(dirfd(ud), ue->d_name, 0);
                closedir(ud);
                (void) unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

static int add_v1_hierarchy(CgroupManager *m, Controller c) {
        Hierarchy h;
        int r;

        /* Co-mounted controllers (cpu,cpuacct) share one hierarchy. */
        for (size_t i = 1; i < m->n_h; i++)
                if (m->h[i].controllers & (1U << c))
                        return (int) i;

        r = find_hierarchy(controller_names[c], &h);
        if (r < 0)
                return r;
        /* A container manager may mount the v1 hierarchies read-only (systemd-nspawn does): such a
         * controller is as good as missing, and a limit that needs it is refused by name. */
        if (faccessat(h.fd, ".", W_OK, AT_EACCESS) < 0) {
                r = -errno;
                hierarchy_done(&h);
                return r;
        }
        h.controllers = 1U << c;
        m->h[m->n_h] = h;
        return (int) m->n_h++;
}

/*
 * A daemon that re-executed itself in place is already in BASE/leaf: BASE is
 * one level up. (Only then: a cgroup that merely has the leaf's name is
 * another service's BASE.)
 */
static int hierarchy_leave_leaf(Hierarchy *h, const char *leaf) {
        size_t n = strlen(h->path), l = strlen(leaf);
        int fd;

        if (n < l + 1 || h->path[n - l - 1] != '/' || !streq(h->path + n - l, leaf))
                return 0;
        fd = openat(h->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        safe_close(h->fd);
        h->fd = fd;
        h->path[n - l - 1 > 0 ? n - l - 1 : 1] = '\0';
        n = strlen(h->mount_path);
        if (n > l + 1 && streq(h->mount_path + n - l, leaf))
                h->mount_path[n - l - 1] = '\0';
        return 1;
}

/*
 * The daemon leaves BASE for BASE/leaf, so BASE holds no process and may
 * hand controllers to its children. The processes it names to move along
 * (the supervisor and the keeper of --fd-store, in BASE as systemd started
 * them) go with it; one that is gone is no matter.
 */
static int move_self_to_leaf(CgroupManager *m, const CgroupManagerOptions *options) {
        _cleanup_close_ int leaf_fd = -EBADF;
        int r;

        if (mkdirat(m->h[HIERARCHY_V2].fd, m->leaf, 0755) < 0 && errno != EEXIST)
                return -errno;
        leaf_fd = openat(m->h[HIERARCHY_V2].fd, m->leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (leaf_fd < 0)
                return -errno;
        r = write_at(leaf_fd, "cgroup.procs", "0");
        if (r < 0) {
                (void) unlinkat(m->h[HIERARCHY_V2].fd, m->leaf, AT_REMOVEDIR);
                return r;
        }
        m->moved_self = true;
        for (size_t i = 0; options && i < options->n_move_along; i++) {
                char pid[32];

                snprintf(pid, sizeof pid, "%d", (int) options->move_along[i]);
                r = write_at(leaf_fd, "cgroup.procs", pid);
                if (r < 0 && r != -ESRCH)
                        return r;
        }
        return 0;
}

static int subtree_control_text(unsigned mask, char sign, char *buf, size_t size) {
        size_t pos = 0;

        buf[0] = '\0';
        for (Controller c = 0; c < _CONTROLLER_MAX; c++)
                if (mask & (1U << c))
                        pos += (size_t) snprintf(buf + pos, size - pos, "%s%c%s", pos ? " " : "", sign,
                                                 controller_names[c]);
        return (int) pos;
}

static void setup_v2_controllers(CgroupManager *m) {
        Hierarchy *v2 = &m->h[HIERARCHY_V2];
        char available[512] = "", text[128];
        unsigned want = 0;
        int r;

        r = read_at(v2->fd, "cgroup.controllers", available, sizeof available);
        for (Controller c = 0; r >= 0 && c < _CONTROLLER_MAX; c++)
                if (word_in_list(available, controller_names[c]))
                        want |= 1U << c;
        if (want == 0)
                return;

        if (subtree_control_text(want, '+', text, sizeof text) > 0) {
                r = write_at(v2->fd, "cgroup.subtree_control", text);
                if (r < 0) {
                        for (Controller c = 0; c < _CONTROLLER_MAX; c++)
                                if (want & (1U << c))
                                        (void) snprintf(m->missing[c], sizeof m->missing[c],
                                                        "the %s controller cannot be enabled below %s (%s): it "
                                                        "must be delegated to nsboxd alone (Delegate=yes)",
                                                        controller_names[c], v2->path, strerror(-r));
                        return;
                }
        }
        m->subtree_enabled = want;
        v2->controllers = want;
        for (Controller c = 0; c < _CONTROLLER_MAX; c++)
                if (want & (1U << c))
                        m->controller_h[c] = HIERARCHY_V2;
}

static bool file_exists_at(int dir_fd, const char *name) {
        return faccessat(dir_fd, name, F_OK, 0) >= 0;
}

static void probe_features(CgroupManager *m, const CgroupManagerOptions *options) {
        _cleanup_close_ int leaf_fd = openat(m->h[HIERARCHY_V2].fd, m->leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int mh = m->controller_h[CONTROLLER_MEMORY], ch = m->controller_h[CONTROLLER_CPU];

        /* The root cgroup lacks these files, a child has them: look at the leaf. */
        m->has_kill = leaf_fd >= 0 && file_exists_at(leaf_fd, "cgroup.kill") && !(options && options->no_cgroup_kill);
        m->has_freeze = leaf_fd >= 0 && file_exists_at(leaf_fd, "cgroup.freeze");

        if (mh == HIERARCHY_V2)
                m->has_swap = leaf_fd >= 0 && file_exists_at(leaf_fd, "memory.swap.max");
        else if (mh > 0)
                m->has_swap = file_exists_at(m->h[mh].fd, "memory.memsw.limit_in_bytes");

        if (ch == HIERARCHY_V2)
                m->has_cpu_bandwidth = leaf_fd >= 0 && file_exists_at(leaf_fd, "cpu.max");
        else if (ch > 0)
                m->has_cpu_bandwidth = file_exists_at(m->h[ch].fd, "cpu.cfs_quota_us");
}

/* The remover's eventfd in the manager's epoll set is told from the cgroups' by this tag: no Cgroup is there. */
#define REMOVER_TAG(m) ((void *) &(m)->remover)

/* Without its thread (a pids limit that is full, say), removals stay the loop's, as they always were. */
static void start_remover(CgroupManager *m) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = REMOVER_TAG(m) };

        if (cgroup_remover_new(&m->remover) < 0)
                return;
        if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, cgroup_remover_fd(m->remover), &ev) < 0)
                m->remover = cgroup_remover_free(m->remover, NULL, NULL);
}

static void removal_finish(CgroupRemoval *removal, void *userdata);

int cgroup_manager_new(const CgroupManagerOptions *options, CgroupManager **ret) {
        _cleanup_(cgroup_manager_freep) CgroupManager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < HIERARCHIES_MAX; i++)
                m->h[i].fd = -EBADF;
        for (Controller c = 0; c < _CONTROLLER_MAX; c++)
                m->controller_h[c] = HIERARCHY_NONE;
        m->epoll_fd = -EBADF;

        m->leaf = strdup(options && options->leaf ? options->leaf : CGROUP_LEAF_DEFAULT);
        if (!m->leaf)
                return -ENOMEM;

        r = find_hierarchy(NULL, &m->h[HIERARCHY_V2]);
        if (r < 0)
                return r;
        m->n_h = 1;
        if (options && options->reexecuted) {
                r = hierarchy_leave_leaf(&m->h[HIERARCHY_V2], m->leaf);
                if (r < 0)
                        return r;
        }

        /* Writable? A read-only cgroupfs (a container's) or a foreign cgroup fails here, before anything moved. */
        if (faccessat(m->h[HIERARCHY_V2].fd, "cgroup.procs", W_OK, AT_EACCESS) < 0)
                return -errno;

        m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (m->epoll_fd < 0)
                return -errno;

        remove_leftovers(m->h[HIERARCHY_V2].fd);

        r = move_self_to_leaf(m, options);
        if (r < 0)
                return r;

        setup_v2_controllers(m);
        m->payload_leaf = m->subtree_enabled != 0 || (options && options->payload_leaf_always);

        for (Controller c = 0; c < _CONTROLLER_MAX; c++) {
                if (m->controller_h[c] != HIERARCHY_NONE)
                        continue;
                r = add_v1_hierarchy(m, c);
                if (r > 0) {
                        m->controller_h[c] = r;
                        remove_leftovers(m->h[r].fd);
                } else if (m->missing[c][0] == '\0')
                        (void) snprintf(m->missing[c], sizeof m->missing[c],
                                        "this host has no %s controller available to nsboxd", controller_names[c]);
        }

        probe_features(m, options);
        start_remover(m);

        *ret = TAKE_PTR(m);
        return 0;
}

static void remove_idle_users(CgroupManager *m);

/* Moving the daemon out skips a thread that is exiting just then (a closer or spawn worker done with
 * its job): it keeps the leaf populated, and rmdir busy, until its exit completes, which is a matter
 * of microseconds. So a busy leaf is retried, bounded, rather than left behind on every such race. */
static void remove_leaf(int base_fd, const char *leaf) {
        for (int i = 0; i < 200; i++) {
                if (unlinkat(base_fd, leaf, AT_REMOVEDIR) >= 0 || errno != EBUSY)
                        return;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000 * 1000 }, NULL);
        }
}

static void manager_restore(CgroupManager *m) {
        Hierarchy *v2 = &m->h[HIERARCHY_V2];
        char text[128];

        if (m->n_cgroups > 0 || m->users)
                return; /* sandboxes were left running: their limits stay as they are */

        if (m->subtree_enabled && subtree_control_text(m->subtree_enabled, '-', text, sizeof text) > 0)
                (void) write_at(v2->fd, "cgroup.subtree_control", text);
        if (m->moved_self && write_at(v2->fd, "cgroup.procs", "0") >= 0)
                remove_leaf(v2->fd, m->leaf);
}

CgroupManager *cgroup_manager_free(CgroupManager *m) {
        if (!m)
                return NULL;

        /* Every directory queued for removal is gone (or kept, and counted) before the users' are removed. */
        m->remover = cgroup_remover_free(m->remover, removal_finish, NULL);
        remove_idle_users(m);
        if (m->n_h > 0)
                manager_restore(m);
        while (m->users) {
                CgroupUser *u = m->users;

                LIST_REMOVE(users, m->users, u);
                close_many(u->fds, HIERARCHIES_MAX);
                safe_close(u->pids_current_fd);
                safe_close(u->pids_max_fd);
                free(u);
        }
        for (size_t i = 0; i < m->n_h; i++)
                hierarchy_done(&m->h[i]);
        safe_close(m->epoll_fd);
        free(m->leaf);
        free(m);
        return NULL;
}

int cgroup_manager_base_takes_processes(const CgroupManager *m) {
        /* The controllers that may be enabled below a cgroup that holds processes (threaded ones). */
        static const char *const threaded[] = { "cpu", "cpuset", "perf_event", "pids" };
        char text[512], *save = NULL;
        int r;

        r = read_at(m->h[HIERARCHY_V2].fd, "cgroup.subtree_control", text, sizeof text);
        if (r < 0)
                return r;
        for (char *w = strtok_r(text, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                bool ok = false;

                for (size_t i = 0; i < ELEMENTSOF(threaded); i++)
                        ok = ok || streq(w, threaded[i]);
                if (!ok)
                        return 0;
        }
        return 1;
}

const char *cgroup_manager_path(const CgroupManager *m) {
        return m->h[HIERARCHY_V2].path;
}

const char *cgroup_manager_leaf(const CgroupManager *m) {
        return m->moved_self ? m->leaf : NULL;
}

int cgroup_manager_base_fd(const CgroupManager *m) {
        return m->h[HIERARCHY_V2].fd;
}

void cgroup_manager_describe(const CgroupManager *m, char *buf, size_t size) {
        size_t pos = 0;

        pos += (size_t) snprintf(buf + pos, size - pos, "cgroup2 %s", m->h[HIERARCHY_V2].mount_path);
        for (Controller c = 0; c < _CONTROLLER_MAX && pos < size; c++) {
                int i = m->controller_h[c];

                if (i == HIERARCHY_NONE)
                        pos += (size_t) snprintf(buf + pos, size - pos, ", %s: none", controller_names[c]);
                else if (i == HIERARCHY_V2)
                        pos += (size_t) snprintf(buf + pos, size - pos, ", %s: cgroup2", controller_names[c]);
                else
                        pos += (size_t) snprintf(buf + pos, size - pos, ", %s: v1 %s", controller_names[c],
                                                 m->h[i].mount_path);
        }
        if (pos < size)
                (void) snprintf(buf + pos, size - pos, "%s%s", m->has_kill ? "" : ", no cgroup.kill",
                                m->has_freeze ? "" : ", no cgroup.freeze");
}

/* ---- limits ---- */

_printf_(6, 7) static int refuse(int error, CgroupLimitType t, CgroupLimitType *ret_type, char *reason, size_t size,
                                 const char *format, ...) {
        va_list ap;

        if (ret_type)
                *ret_type = t;
        if (reason && size > 0) {
                va_start(ap, format);
                (void) vsnprintf(reason, size, format, ap);
                va_end(ap);
        }
        return -error;
}

#define REFUSE_MISSING(c, t) refuse(EOPNOTSUPP, (t), ret_type, reason, size, "%s", m->missing[c])

int cgroup_manager_check_limits(const CgroupManager *m, const CgroupLimits *l, CgroupLimitType *ret_type,
                                char *reason, size_t size) {
        int mh = m->controller_h[CONTROLLER_MEMORY], ch = m->controller_h[CONTROLLER_CPU];
        uint64_t period = l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC;

        if (l->memory_max != CGROUP_LIMIT_MAX && mh == HIERARCHY_NONE)
                return REFUSE_MISSING(CONTROLLER_MEMORY, CGROUP_LIMIT_MEMORY_MAX);
        if (l->memory_high != CGROUP_LIMIT_MAX) {
                if (mh == HIERARCHY_NONE)
                        return REFUSE_MISSING(CONTROLLER_MEMORY, CGROUP_LIMIT_MEMORY_HIGH);
                if (mh != HIERARCHY_V2)
                        return refuse(EOPNOTSUPP, CGROUP_LIMIT_MEMORY_HIGH, ret_type, reason, size,
                                      "the memory controller is a cgroup v1 hierarchy on this host, which cannot "
                                      "throttle (no memory.high)");
        }
        if (l->memory_swap_max != CGROUP_LIMIT_MAX) {
                if (mh == HIERARCHY_NONE)
                        return REFUSE_MISSING(CONTROLLER_MEMORY, CGROUP_LIMIT_MEMORY_SWAP_MAX);
                if (!m->has_swap)
                        return refuse(EOPNOTSUPP, CGROUP_LIMIT_MEMORY_SWAP_MAX, ret_type, reason, size,
                                      "this host does not account swap per cgroup (no %s)",
                                      mh == HIERARCHY_V2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
                if (mh != HIERARCHY_V2 && l->memory_max == CGROUP_LIMIT_MAX)
                        return refuse(EINVAL, CGROUP_LIMIT_MEMORY_SWAP_MAX, ret_type, reason, size,
                                      "cgroup v1 limits memory and swap together: needs a memory limit too");
        }
        if (l->tasks_max != CGROUP_LIMIT_MAX) {
                if (m->controller_h[CONTROLLER_PIDS] == HIERARCHY_NONE)
                        return REFUSE_MISSING(CONTROLLER_PIDS, CGROUP_LIMIT_TASKS_MAX);
                if (l->tasks_max < 1 || l->tasks_max > CGROUP_TASKS_MAX)
                        return refuse(EINVAL, CGROUP_LIMIT_TASKS_MAX, ret_type, reason, size, "must be 1 to %u",
                                      CGROUP_TASKS_MAX);
        }
        if (l->cpu_quota_usec != 0 || l->cpu_period_usec != 0) {
                if (ch == HIERARCHY_NONE)
                        return REFUSE_MISSING(CONTROLLER_CPU, CGROUP_LIMIT_CPU_QUOTA);
                if (!m->has_cpu_bandwidth)
                        return refuse(EOPNOTSUPP, CGROUP_LIMIT_CPU_QUOTA, ret_type, reason, size,
                                      "this kernel has no CPU bandwidth control (CONFIG_CFS_BANDWIDTH)");
                if (period < CGROUP_CPU_PERIOD_MIN_USEC || period > CGROUP_CPU_PERIOD_MAX_USEC ||
                    (l->cpu_quota_usec != 0 && l->cpu_quota_usec < CGROUP_CPU_PERIOD_MIN_USEC) ||
                    l->cpu_quota_usec > CGROUP_CPU_QUOTA_MAX_USEC)
                        return refuse(EINVAL, CGROUP_LIMIT_CPU_QUOTA, ret_type, reason, size,
                                      "the quota must be 1ms to %us per period, the period 1ms to 1s",
                                      (unsigned) (CGROUP_CPU_QUOTA_MAX_USEC / 1000000U));
        }
        if (l->cpu_weight != 0 || l->cpu_shares != 0) {
                if (ch == HIERARCHY_NONE)
                        return REFUSE_MISSING(CONTROLLER_CPU, CGROUP_LIMIT_CPU_WEIGHT);
                if ((l->cpu_weight != 0 &&
                     (l->cpu_weight < CGROUP_CPU_WEIGHT_MIN || l->cpu_weight > CGROUP_CPU_WEIGHT_MAX)) ||
                    (l->cpu_shares != 0 &&
                     (l->cpu_shares < CGROUP_CPU_SHARES_MIN || l->cpu_shares > CGROUP_CPU_SHARES_MAX)))
                        return refuse(EINVAL, CGROUP_LIMIT_CPU_WEIGHT, ret_type, reason, size,
                                      "the weight must be 1 to 10000, shares 2 to 262144");
        }
        return 0;
}

int cgroup_manager_check_limits_below(const CgroupManager *m, const CgroupLimits *l, const CgroupLimits *above,
                                      CgroupLimitType *ret_type, char *reason, size_t size) {
        int ch = m->controller_h[CONTROLLER_CPU];
        uint64_t period = l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC,
                 above_period = above->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC;

        /* v1's CFS bandwidth refuses a child more of a CPU than its parent has (cpu.cfs_quota_us, EINVAL);
         * cgroup2 takes it and the parent's throttles both. As shares of a CPU, without overflow: a quota is
         * at most 4096 s and a period 1 s. */
        if (ch > HIERARCHY_V2 && l->cpu_quota_usec != 0 && above->cpu_quota_usec != 0 &&
            l->cpu_quota_usec * above_period > above->cpu_quota_usec * period)
                return refuse(EOPNOTSUPP, CGROUP_LIMIT_CPU_QUOTA, ret_type, reason, size,
                              "the cpu controller is a cgroup v1 hierarchy on this host, which refuses a sandbox "
                              "a CPUQuota above its user's (%" PRIu64 "%% of a CPU)",
                              above->cpu_quota_usec * 100U / above_period);
        return 0;
}

/* systemd's mapping: the default weight 100 is the default 1024 shares. */
static uint64_t weight_to_shares(uint64_t weight) {
        return MIN(MAX(weight * 1024U / 100U, (uint64_t) CGROUP_CPU_SHARES_MIN), (uint64_t) CGROUP_CPU_SHARES_MAX);
}

static uint64_t shares_to_weight(uint64_t shares) {
        return MIN(MAX(shares * 100U / 1024U, (uint64_t) CGROUP_CPU_WEIGHT_MIN), (uint64_t) CGROUP_CPU_WEIGHT_MAX);
}

/*
 * A v1 cgroup's quota (0: none) per period. A quota must fit its period in v1's checks against the cgroups above
 * and below: to change both, the quota is lifted, the period changed and the quota set. With known_state false
 * (one that may have a quota: a user's, or a sandbox's a Reload holds to its user's), the files are read first:
 * the lift is skipped where the period stays, and should a write fail, what was there is put back, so that a
 * failure never leaves a cgroup without the quota it had.
 */
static int write_cpu_quota_v1(int fd, uint64_t quota, uint64_t period, bool known_state) {
        char old_quota[32] = "", old_period[32] = "", text[32];
        uint64_t p;
        int r;

        if (!known_state && (read_at(fd, "cpu.cfs_quota_us", old_quota, sizeof old_quota) < 0 ||
                             read_at(fd, "cpu.cfs_period_us", old_period, sizeof old_period) < 0))
                old_quota[0] = '\0';
        if (old_quota[0] != '\0' && parse_u64(old_period, &p) >= 0 && p == period) {
                (void) snprintf(text, sizeof text, "%" PRIu64, quota);
                return write_at(fd, "cpu.cfs_quota_us", quota != 0 ? text : "-1");
        }
        r = write_at(fd, "cpu.cfs_quota_us", "-1");
        if (r >= 0)
                r = write_u64_at(fd, "cpu.cfs_period_us", period, "100000");
        if (r >= 0 && quota != 0)
                r = write_u64_at(fd, "cpu.cfs_quota_us", quota, "-1");
        if (r < 0 && old_quota[0] != '\0') {
                (void) write_at(fd, "cpu.cfs_period_us", old_period);
                (void) write_at(fd, "cpu.cfs_quota_us", old_quota);
        }
        return r;
}

/*
 * v1: memory.limit_in_bytes, and memory.memsw.limit_in_bytes (memory and swap together), which the kernel keeps at
 * or above it at every step. The one that grows is written first, and memsw is never lifted in between: a lower
 * memory limit reclaims into swap, which only memsw bounds. A write the kernel refuses (a limit below what the
 * cgroup holds: EBUSY) leaves memsw where it was, or at the old memory limit plus the new swap where that is less.
 */
static int apply_memory_limits_v1(const CgroupManager *m, int fd, const CgroupLimits *l, bool reset) {
        uint64_t total = CGROUP_LIMIT_MAX, old_total = UINT64_MAX, old_memory, memory;
        bool write_memory = reset || l->memory_max != CGROUP_LIMIT_MAX;
        int r;

        if (l->memory_max != CGROUP_LIMIT_MAX && l->memory_swap_max != CGROUP_LIMIT_MAX)
                total = l->memory_max + MIN(l->memory_swap_max, UINT64_MAX / 4);
        if (!m->has_swap || (!reset && total == CGROUP_LIMIT_MAX))
                return write_memory ? write_u64_at(fd, "memory.limit_in_bytes", l->memory_max, "-1") : 0;

        /* A new cgroup has neither; a user's may have both. */
        if (reset && read_u64_at(fd, "memory.memsw.limit_in_bytes", &old_total) < 0)
                old_total = UINT64_MAX;
        memory = l->memory_max == CGROUP_LIMIT_MAX ? UINT64_MAX : l->memory_max;

        if (memory > old_total) {
                r = write_u64_at(fd, "memory.memsw.limit_in_bytes", total, "-1");
                if (r < 0)
                        return r;
                r = write_u64_at(fd, "memory.limit_in_bytes", l->memory_max, "-1");
                if (r < 0)
                        (void) write_u64_at(fd, "memory.memsw.limit_in_bytes", old_total, "-1");
                return r;
        }

        if (write_memory) {
                r = write_u64_at(fd, "memory.limit_in_bytes", l->memory_max, "-1");
                if (r < 0) {
                        if (total != CGROUP_LIMIT_MAX && read_u64_at(fd, "memory.limit_in_bytes", &old_memory) >= 0 &&
                            old_memory < UINT64_MAX / 4 && old_memory + (total - l->memory_max) < old_total)
                                (void) write_u64_at(fd, "memory.memsw.limit_in_bytes",
                                                    old_memory + (total - l->memory_max), "-1");
                        return r;
                }
        }
        r = write_u64_at(fd, "memory.memsw.limit_in_bytes", total, "-1");
        /* Refused (below what it holds with its swap): what it had, never lifted. */
        if (r < 0 && reset)
                (void) write_u64_at(fd, "memory.memsw.limit_in_bytes", old_total, "-1");
        return r;
}

static int apply_memory_limits(const CgroupManager *m, int fd, bool v2, const CgroupLimits *l, bool reset) {
        int r;

        if (v2) {
                if (reset || l->memory_max != CGROUP_LIMIT_MAX) {
                        r = write_u64_at(fd, "memory.max", l->memory_max, "max");
                        if (r < 0)
                                return r;
                }
                if (reset || l->memory_high != CGROUP_LIMIT_MAX) {
                        r = write_u64_at(fd, "memory.high", l->memory_high, "max");
                        if (r < 0)
                                return r;
                }
                if (m->has_swap && (reset || l->memory_swap_max != CGROUP_LIMIT_MAX))
                        return write_u64_at(fd, "memory.swap.max", l->memory_swap_max, "max");
                return 0;
        }

        return apply_memory_limits_v1(m, fd, l, reset);
}

static int apply_cpu_limits(const CgroupManager *m, int fd, bool v2, const CgroupLimits *l, bool reset) {
        uint64_t period = l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC;
        char buf[64];
        int r = 0;

        if (m->has_cpu_bandwidth && (reset || l->cpu_quota_usec != 0 || l->cpu_period_usec != 0)) {
                if (v2) {
                        if (l->cpu_quota_usec != 0)
                                (void) snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, l->cpu_quota_usec, period);
                        else
                                (void) snprintf(buf, sizeof buf, "max %" PRIu64, period);
                        r = write_at(fd, "cpu.max", buf);
                } else
                        /* A new cgroup has none, and the default period. */
                        r = write_cpu_quota_v1(fd, l->cpu_quota_usec, period, /* known_state= */ !reset);
                /* A user's weight is written even when its quota is refused (apply_limits()). */
                if (r < 0 && !reset)
                        return r;
        }

        if (reset || l->cpu_weight != 0 || l->cpu_shares != 0) {
                int k;

                if (v2) {
                        uint64_t w = l->cpu_weight ?: l->cpu_shares ? shares_to_weight(l->cpu_shares) : 100;
                        k = write_u64_at(fd, "cpu.weight", w, "100");
                } else {
                        uint64_t sh = l->cpu_shares ?: l->cpu_weight ? weight_to_shares(l->cpu_weight) : 1024;
                        k = write_u64_at(fd, "cpu.shares", sh, "1024");
                }
                return r < 0 ? r : k;
        }
        return r;
}

/*
 * Writes l into the cgroups in fds. With reset, unset limits are written as
 * "no limit" too (a user cgroup whose limits changed), and a limit the kernel
 * refuses does not keep the others from being written (a user's memory limit
 * below what its sandboxes hold must not leave its CPU and tasks limits as
 * they were): the first error is returned. A new cgroup starts without
 * limits, so only set ones are written, and the first error ends it.
 */
static int apply_limits(const CgroupManager *m, const int *fds, const CgroupLimits *l, bool reset) {
        int mh = m->controller_h[CONTROLLER_MEMORY], ph = m->controller_h[CONTROLLER_PIDS],
            ch = m->controller_h[CONTROLLER_CPU], r = 0, k;

        if (mh != HIERARCHY_NONE && fds[mh] >= 0) {
                r = apply_memory_limits(m, fds[mh], mh == HIERARCHY_V2, l, reset);
                if (r < 0 && !reset)
                        return r;
        }
        if (ph != HIERARCHY_NONE && fds[ph] >= 0 && (reset || l->tasks_max != CGROUP_LIMIT_MAX)) {
                k = write_u64_at(fds[ph], "pids.max", l->tasks_max, "max");
                if (k < 0 && !reset)
                        return k;
                if (r >= 0)
                        r = k;
        }
        if (ch != HIERARCHY_NONE && fds[ch] >= 0) {
                k = apply_cpu_limits(m, fds[ch], ch == HIERARCHY_V2, l, reset);
                if (r >= 0)
                        r = k;
        }
        return r;
}

static bool limits_equal(const CgroupLimits *a, const CgroupLimits *b) {
        return memcmp(a, b, sizeof *a) == 0;
}

static bool limits_set_cpu(const CgroupLimits *l) {
        return l->cpu_quota_usec != 0 || l->cpu_period_usec != 0 || l->cpu_weight != 0 || l->cpu_shares != 0;
}

CgroupFlags cgroup_flags_to_take(const CgroupLimits *l) {
        return l && limits_set_cpu(l) ? CGROUP_ALL_HIERARCHIES : 0;
}

/* A v1 hierarchy that serves limits alone: cpu (memory and pids report a sandbox's usage, which takes a
 * cgroup of its own; a sandbox's CPU time is cgroup2's). */
static bool serves_limits_only(const CgroupManager *m, size_t h) {
        return h != HIERARCHY_V2 && (m->h[h].controllers & ~(1U << CONTROLLER_CPU)) == 0;
}

/*
 * Whether a cgroup with limits l, below parent if given, gets a directory of its own in hierarchy h: always
 * but where it serves limits alone, where only limits set there need one, or being below a sandbox that has
 * one (to be held to its limits), or CGROUP_ALL_HIERARCHIES.
 */
static bool needs_own_dir(const CgroupManager *m, size_t h, const Cgroup *parent, const CgroupLimits *l,
                          CgroupFlags flags) {
        if (!serves_limits_only(m, h))
                return true;
        if ((flags & CGROUP_ALL_HIERARCHIES) || (parent && !parent->in_shared[h]))
                return true;
        return limits_set_cpu(l);
}

/* ---- users ---- */

static CgroupUser *user_find(CgroupManager *m, uid_t uid) {
        LIST_FOREACH(users, u, m->users)
                if (u->uid == uid)
                        return u;
        return NULL;
}

/* Removes the user cgroup (which has no sandbox cgroup of ours left) and forgets it. */
static void user_remove(CgroupManager *m, CgroupUser *u) {
        char name[32];
        bool busy = false;

        if (u->n_cgroups == 0)
                m->n_idle_users--;
        (void) snprintf(name, sizeof name, CGROUP_USER_PREFIX UID_FMT, u->uid);
        for (size_t i = 0; i < m->n_h; i++) {
                if (u->fds[i] < 0)
                        continue;
                if (serves_limits_only(m, i))
                        (void) unlinkat(u->fds[i], CGROUP_SHARED, AT_REMOVEDIR);
                u->fds[i] = safe_close(u->fds[i]);
                u->pids_current_fd = safe_close(u->pids_current_fd);
                u->pids_max_fd = safe_close(u->pids_max_fd);
                if (unlinkat(m->h[i].fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        busy = true; /* a previous run's sandbox still lives in it */
        }
        (void) busy;
        LIST_REMOVE(users, m->users, u);
        free(u);
}

static void user_unref(CgroupManager *m, CgroupUser *u) {
        CgroupUser *oldest = NULL;

        if (--u->n_cgroups > 0)
                return;

        u->idle_since = ++m->idle_clock;
        if (++m->n_idle_users <= IDLE_USERS_MAX)
                return;
        LIST_FOREACH(users, i, m->users)
                if (i->n_cgroups == 0 && (!oldest || i->idle_since < oldest->idle_since))
                        oldest = i;
        user_remove(m, oldest);
}

static void remove_idle_users(CgroupManager *m) {
        LIST_FOREACH_SAFE(users, u, n, m->users)
                if (u->n_cgroups == 0)
                        user_remove(m, u);
}

static int user_enable_subtree(const CgroupManager *m, int fd) {
        char text[128];

        if (m->subtree_enabled == 0 || subtree_control_text(m->subtree_enabled, '+', text, sizeof text) <= 0)
                return 0;
        return write_at(fd, "cgroup.subtree_control", text);
}

/*
 * The record of BASE/user-UID in every hierarchy: made (create) or, for one a
 * previous daemon made and handed over sandboxes in, only opened. Its count
 * is 1; nothing of it is left on failure.
 */
static int user_new(CgroupManager *m, uid_t uid, bool create, CgroupUser **ret) {
        CgroupUser *u;
        char name[32];
        int r;

        u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        u->uid = uid;
        u->n_cgroups = 1;
        u->pids_current_fd = u->pids_max_fd = -EBADF;
        for (size_t i = 0; i < HIERARCHIES_MAX; i++)
                u->fds[i] = -EBADF;
        LIST_PREPEND(users, m->users, u);

        (void) snprintf(name, sizeof name, CGROUP_USER_PREFIX UID_FMT, uid);
        for (size_t i = 0; i < m->n_h; i++) {
                if (create && mkdirat(m->h[i].fd, name, 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        goto fail;
                }
                u->fds[i] = openat(m->h[i].fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (u->fds[i] < 0) {
                        r = -errno;
                        goto fail;
                }
                /* Also where a previous daemon made the user's cgroup and put none there. */
                if (serves_limits_only(m, i) && mkdirat(u->fds[i], CGROUP_SHARED, 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        goto fail;
                }
        }
        if (create) {
                r = user_enable_subtree(m, u->fds[HIERARCHY_V2]);
                if (r < 0)
                        goto fail;
        }
        /* Read at each spawn, by the child (see cgroup_v1_user_pids_fds()). */
        if (m->controller_h[CONTROLLER_PIDS] > 0) {
                int fd = u->fds[m->controller_h[CONTROLLER_PIDS]];

                u->pids_current_fd = openat(fd, "pids.current", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                u->pids_max_fd = openat(fd, "pids.max", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (u->pids_current_fd < 0 || u->pids_max_fd < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        *ret = u;
        return 0;

fail:
        user_remove(m, u);
        return r;
}

static int dir_fd(const Cgroup *cg, int h, int *ret_owned);
static bool cpu_share_above(const CgroupLimits *a, const CgroupLimits *b);

/* A cgroup with a quota of its own, and how deep it is below its user's cgroup (0: a sandbox's own). */
typedef struct QuotaHolder {
        Cgroup *cgroup;
        unsigned depth;
} QuotaHolder;

static int compare_deepest_first(const void *a, const void *b) {
        unsigned da = ((const QuotaHolder *) a)->depth, db = ((const QuotaHolder *) b)->depth;

        return da > db ? -1 : da < db;
}

/* The user's cgroups with a quota of their own in a v1 cpu hierarchy, deepest first (into *ret, freed by the
 * caller). O(the daemon's cgroups): only when a user's limits change. */
static int cpu_quota_holders(CgroupManager *m, const CgroupUser *u, QuotaHolder **ret, size_t *ret_n) {
        int ch = m->controller_h[CONTROLLER_CPU];
        QuotaHolder *a = NULL;
        size_t n = 0, max = 0;

        LIST_FOREACH(all, cg, m->cgroups) {
                unsigned depth = 0;

                if (cg->user != u || !cg->present[ch] || cg->in_shared[ch] || cg->limits.cpu_quota_usec == 0)
                        continue;
                if (n == max) {
                        QuotaHolder *b = reallocarray(a, max = max ? max * 2 : 16, sizeof *b);

                        if (!b) {
                                free(a);
                                return -ENOMEM;
                        }
                        a = b;
                }
                for (const Cgroup *p = cg->parent; p; p = p->parent)
                        depth++;
                a[n++] = (QuotaHolder) { cg, depth };
        }
        if (n > 1)
                qsort(a, n, sizeof *a, compare_deepest_first);
        *ret = a;
        *ret_n = n;
        return 0;
}

/*
 * Writes the quota cg runs with below a user whose limits are user: its own, or the user's where that is a
 * smaller share of a CPU, as cgroup2 holds a child to its parent's by itself. Only writes that go the way asked
 * (lower: down, else up), so that the caller can keep v1's rule, no child above its parent, at every step.
 */
static int hold_cpu_quota(Cgroup *cg, const CgroupLimits *user, bool lower) {
        const CgroupLimits *target = user->cpu_quota_usec != 0 && cpu_share_above(&cg->limits, user) ? user
                                                                                                      : &cg->limits;
        CgroupLimits in_force = { .cpu_quota_usec = cg->cpu_quota_in_force,
                                  .cpu_period_usec = cg->cpu_period_in_force };
        int ch = cg->manager->controller_h[CONTROLLER_CPU], owned = -EBADF, fd, r;

        if (lower ? !cpu_share_above(&in_force, target) : !cpu_share_above(target, &in_force))
                return 0;
        fd = dir_fd(cg, ch, &owned);
        if (fd < 0)
                return fd;
        r = write_cpu_quota_v1(fd, target->cpu_quota_usec, target->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC,
                               /* known_state= */ false);
        safe_close(owned);
        if (r < 0)
                return r;
        cg->cpu_quota_in_force = target->cpu_quota_usec;
        cg->cpu_period_in_force = target->cpu_period_usec;
        return 0;
}

/*
 * Writes want into u's cgroups, where it changed. A v1 cpu hierarchy refuses a parent a quota below a child's
 * (EINVAL): a quota lowered below some of the user's sandboxes' (a Reload) holds them to it first, deepest
 * first, and one raised again gives them back theirs after, shallowest first, so that every sandbox always runs
 * with its own quota or its user's, whichever is less: what cgroup2 does by itself.
 */
static int user_write_limits(CgroupManager *m, CgroupUser *u, const CgroupLimits *want) {
        int ch = m->controller_h[CONTROLLER_CPU], r;
        _cleanup_free_ QuotaHolder *held = NULL;
        size_t n = 0;

        if (u->has_limits && limits_equal(&u->limits, want))
                return 0;
        if (ch > HIERARCHY_V2 && m->has_cpu_bandwidth) {
                r = cpu_quota_holders(m, u, &held, &n);
                if (r < 0)
                        return r;
        }
        /* Whatever fails, some of it may be written: all of it is written again next time, not taken as done. */
        u->has_limits = false;
        for (size_t i = 0; i < n; i++) {
                r = hold_cpu_quota(held[i].cgroup, want, /* lower= */ true);
                if (r < 0)
                        return r;
        }
        /* Each limit written on its own: a refused memory limit still leaves the quota written, and so the
         * sandboxes held below an old, lower one are given theirs back. */
        r = apply_limits(m, u->fds, want, /* reset= */ true);
        /* One that cannot have its own back stays held to a smaller share than it asked for: not fatal. */
        for (size_t i = n; i > 0; i--)
                (void) hold_cpu_quota(held[i - 1].cgroup, want, /* lower= */ false);
        if (r < 0)
                return r;
        u->limits = *want;
        u->has_limits = true;
        return 0;
}

static int user_get(CgroupManager *m, uid_t uid, const CgroupLimits *limits, CgroupUser **ret) {
        CgroupUser *u = user_find(m, uid);
        CgroupLimits none = CGROUP_LIMITS_NONE, want = limits ? *limits : none;
        int r;

        if (u && u->n_cgroups == 0)
                m->n_idle_users--;
        if (!u) {
                r = user_new(m, uid, /* create= */ true, &u);
                if (r < 0)
                        return r;
                /* Counted below, as a kept idle one is. */
                u->n_cgroups = 0;
                /* A previous run may have left limits on it: start from a known state. */
                u->has_limits = true;
                u->limits = (CgroupLimits) {};
        }

        r = user_write_limits(m, u, &want);
        if (r < 0) {
                if (u->n_cgroups == 0) {
                        u->n_cgroups = 1;
                        user_remove(m, u);
                }
                return r;
        }

        u->n_cgroups++;
        *ret = u;
        return 0;
}

/* The record of a user cgroup a previous daemon made, taken as it is: its limits are applied again at the
 * user's next spawn (has_limits is false), from the policy then in force. */
static int user_get_existing(CgroupManager *m, uid_t uid, CgroupUser **ret) {
        CgroupUser *u = user_find(m, uid);

        if (!u)
                return user_new(m, uid, /* create= */ false, ret);
        if (u->n_cgroups == 0)
                m->n_idle_users--;
        u->n_cgroups++;
        *ret = u;
        return 0;
}

/* ---- sandboxes ---- */

static Cgroup *cgroup_free_struct(Cgroup *cg) {
        if (!cg)
                return NULL;
        LIST_REMOVE(all, cg->manager->cgroups, cg);
        close_many(cg->fds, HIERARCHIES_MAX);
        close_many(cg->tasks_fds, HIERARCHIES_MAX);
        close_many(cg->pids_check_fds, ELEMENTSOF(cg->pids_check_fds));
        safe_close(cg->leaf_fd);
        safe_close(cg->events_fd);
        free(cg->name);
        free(cg->path);
        free(cg);
        return NULL;
}

static void unwatch_events(Cgroup *cg) {
        if (cg->events_fd < 0)
                return;
        (void) epoll_ctl(cg->manager->epoll_fd, EPOLL_CTL_DEL, cg->events_fd, NULL);
        cg->events_fd = safe_close(cg->events_fd);
}

/*
 * A v1 cpu cgroup removed with a quota still holds its parent to it until the kernel frees it, an RCU grace
 * period later (about 25 ms here): a user's quota lowered meanwhile would be refused (EINVAL), and a user ending
 * sandboxes with quotas one after the other could keep its own from being lowered. Lifted first, it holds
 * nothing; nothing runs in it any more.
 */
static void lift_cpu_quota(Cgroup *cg, size_t h) {
        int owned = -EBADF, fd = dir_fd(cg, (int) h, &owned);

        if (fd >= 0 && write_at(fd, "cpu.cfs_quota_us", "-1") >= 0)
                cg->cpu_quota_in_force = 0;
        safe_close(owned);
}

/* Removes whatever of cg's directories exist; -EBUSY (and nothing changed) while processes are in it. */
static int remove_dirs(Cgroup *cg) {
        CgroupManager *m = cg->manager;
        int r = 0;

        /* Its payload leaf first: its processes are there, and it is below the cgroup2 directory. */
        if (cg->has_leaf && cg->present[HIERARCHY_V2]) {
                _cleanup_free_ char *leaf = NULL;

                if (asprintf(&leaf, "%s/" CGROUP_PAYLOAD, cg->name) < 0)
                        return -ENOMEM;
                if (unlinkat(cg->user->fds[HIERARCHY_V2], leaf, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return -errno;
                cg->leaf_fd = safe_close(cg->leaf_fd);
        }
        /* cgroup2 first: it is busy while any process lives, and then nothing else is touched. */
        for (size_t i = 0; i < m->n_h; i++) {
                if (!cg->present[i])
                        continue;
                if ((int) i == m->controller_h[CONTROLLER_CPU] && i != HIERARCHY_V2 && cg->cpu_quota_in_force != 0)
                        lift_cpu_quota(cg, i);
                if (unlinkat(cg->user->fds[i], cg->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                        r = -errno;
                        if (i == HIERARCHY_V2)
                                return r;
                        continue;
                }
                cg->present[i] = false;
                cg->fds[i] = safe_close(cg->fds[i]);
                if (i == HIERARCHY_V2)
                        unwatch_events(cg);
        }
        return r;
}

/* cg's directory in hierarchy h, for the rare work between spawns: the one held open (borrowed), else opened
 * by name into *ret_owned, which the caller closes. -ESRCH if there is none (removed). */
static int dir_fd(const Cgroup *cg, int h, int *ret_owned) {
        if (h < 0 || !cg->present[h])
                return -ESRCH;
        if (cg->fds[h] >= 0)
                return cg->fds[h];
        *ret_owned = openat(cg->user->fds[h], cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return *ret_owned < 0 ? -errno : *ret_owned;
}

/* A cgroup2 directory's inode number is its cgroup id on 64-bit kernels: the one its processes are in. */
static int read_id(Cgroup *cg) {
        struct stat st;

        if (fstatat(cg->fds[HIERARCHY_V2], cg->has_leaf ? CGROUP_PAYLOAD : "", &st,
                    cg->has_leaf ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) < 0)
                return -errno;
        cg->id = (uint64_t) st.st_ino;
        return 0;
}

/* What is held for spawns only: after set-up, and when the last spawn in flight concluded. */
static void close_spawn_fds(Cgroup *cg) {
        close_many(cg->fds, HIERARCHIES_MAX);
        close_many(cg->tasks_fds, HIERARCHIES_MAX);
        close_many(cg->pids_check_fds, ELEMENTSOF(cg->pids_check_fds));
        cg->n_pids_check_fds = 0;
        cg->leaf_fd = safe_close(cg->leaf_fd);
}

/*
 * v1 pids.max binds forks, never a move into the cgroup: a process an Exec or a nested sandbox moves into cg
 * (its v1 tasks file) counts there and in every ancestor without being refused. So the child checks, after
 * its move, the counters of cg and of its ancestors that have a TasksMax of their own (the user's it checks
 * anyway), as it checks the user's. cgroup2 refuses such a process at clone3(CLONE_INTO_CGROUP) itself.
 */
static int open_pids_checks(Cgroup *cg, bool fresh) {
        int ph = cg->manager->controller_h[CONTROLLER_PIDS];

        if (ph <= HIERARCHY_V2)
                return 0;
        /* One made for this spawn holds nothing yet: one process cannot take it past a TasksMax. */
        for (const Cgroup *a = fresh ? cg->parent : cg; a; a = a->parent) {
                static const char *const files[2] = { "pids.current", "pids.max" };

                if (a->limits.tasks_max == CGROUP_LIMIT_MAX || !a->present[ph] || a->in_shared[ph])
                        continue;
                if (cg->n_pids_check_fds + 2 > ELEMENTSOF(cg->pids_check_fds))
                        return -E2BIG;
                for (size_t k = 0; k < 2; k++) {
                        _cleanup_free_ char *path = NULL;
                        int fd;

                        if (asprintf(&path, "%s/%s", a->name, files[k]) < 0)
                                return -ENOMEM;
                        fd = openat(cg->user->fds[ph], path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (fd < 0)
                                return -errno;
                        cg->pids_check_fds[cg->n_pids_check_fds++] = fd;
                }
        }
        return 0;
}

/* fresh: cg was made for this spawn (nothing ran in it). */
static int hold_for_spawn(Cgroup *cg, bool fresh) {
        int r;

        if (cg->spawns++ > 0)
                return 0;
        for (size_t i = 0; i < cg->manager->n_h; i++) {
                if (cg->in_shared[i]) {
                        if (cg->tasks_fds[i - 1] < 0) {
                                cg->tasks_fds[i - 1] = openat(cg->user->fds[i], CGROUP_SHARED "/tasks",
                                                              O_WRONLY | O_CLOEXEC | O_NOCTTY);
                                if (cg->tasks_fds[i - 1] < 0) {
                                        r = -errno;
                                        goto fail;
                                }
                        }
                        continue;
                }
                if (!cg->present[i]) {
                        r = -ESRCH;
                        goto fail;
                }
                if (cg->fds[i] < 0) {
                        cg->fds[i] = openat(cg->user->fds[i], cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (cg->fds[i] < 0) {
                                r = -errno;
                                goto fail;
                        }
                }
                if (i != HIERARCHY_V2 && cg->tasks_fds[i - 1] < 0) {
                        cg->tasks_fds[i - 1] = openat(cg->fds[i], "tasks", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                        if (cg->tasks_fds[i - 1] < 0) {
                                r = -errno;
                                goto fail;
                        }
                }
        }
        if (cg->has_leaf && cg->leaf_fd < 0) {
                cg->leaf_fd = openat(cg->fds[HIERARCHY_V2], CGROUP_PAYLOAD, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->leaf_fd < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        r = open_pids_checks(cg, fresh);
        if (r < 0)
                goto fail;
        /* The v1 directories served only to open their tasks files. */
        for (size_t i = HIERARCHY_V2 + 1; i < HIERARCHIES_MAX; i++)
                cg->fds[i] = safe_close(cg->fds[i]);
        return 0;

fail:
        cg->spawns = 0;
        close_spawn_fds(cg);
        return r;
}

int cgroup_hold_for_spawn(Cgroup *cg) {
        return hold_for_spawn(cg, /* fresh= */ false);
}

void cgroup_release_after_spawn(Cgroup *cg) {
        if (!cg || cg->spawns == 0)
                return;
        if (--cg->spawns == 0)
                close_spawn_fds(cg);
}

/* cg's cgroup.events, not watched yet: the fd, or -errno. */
static int open_events(const Cgroup *cg) {
        _cleanup_close_ int owned = -EBADF;
        int dir = dir_fd(cg, HIERARCHY_V2, &owned), fd;

        if (dir < 0)
                return dir;
        fd = openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

/* Watches fd (cg's cgroup.events, which it takes) through the manager's epoll fd. */
static int watch_events(Cgroup *cg, int fd) {
        struct epoll_event ev = { .events = EPOLLPRI, .data.ptr = cg };

        if (epoll_ctl(cg->manager->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int error = errno;

                (void) close(fd);
                return -error;
        }
        cg->events_fd = fd;
        return 0;
}

/* One path component of its own, and none of the names the daemon gives its own directories. */
static bool name_is_valid(const CgroupManager *m, const char *name) {
        return name && *name && !strchr(name, '/') && name[0] != '.' && !streq(name, m->leaf) &&
               !streq(name, CGROUP_PAYLOAD) && !streq(name, CGROUP_SHARED);
}

/* A Cgroup for the sandbox name of uid (below parent's, if given), nothing opened yet: its name checked, its
 * path named. */
static int cgroup_alloc(CgroupManager *m, const Cgroup *parent, uid_t uid, const char *name, Cgroup **ret) {
        const char *base = m ? m->h[HIERARCHY_V2].path : NULL;
        Cgroup *cg;
        int r;

        if (!m || !ret || !name_is_valid(m, name))
                return -EINVAL;

        cg = calloc(1, sizeof *cg);
        if (!cg)
                return -ENOMEM;
        cg->manager = m;
        LIST_PREPEND(all, m->cgroups, cg);
        cg->events_fd = cg->leaf_fd = -EBADF;
        for (size_t i = 0; i < HIERARCHIES_MAX; i++)
                cg->fds[i] = cg->tasks_fds[i] = -EBADF;
        for (size_t i = 0; i < ELEMENTSOF(cg->pids_check_fds); i++)
                cg->pids_check_fds[i] = -EBADF;
        /* One per v1 hierarchy, open or not: a spawn that finds one closed fails in the child's first step
         * instead of leaving the child outside a v1 cgroup. */
        cg->n_tasks_fds = m->n_h - 1;
        if (parent)
                r = asprintf(&cg->name, "%s/%s", parent->name, name) < 0 ||
                    asprintf(&cg->path, "%s/%s", parent->path, name) < 0;
        else
                r = !(cg->name = strdup(name)) ||
                    asprintf(&cg->path, "%s%s" CGROUP_USER_PREFIX UID_FMT "/%s", base, streq(base, "/") ? "" : "/",
                             uid, name) < 0;
        if (r) {
                cgroup_free_struct(cg);
                return -ENOMEM;
        }
        *ret = cg;
        return 0;
}

/* Makes cg's directories in parent_fds (the user's cgroups, or its sandbox's, parent) where it needs one, its
 * payload leaf if it is to have one, and applies l; holds it for the spawn it is made for. What it made is left
 * for remove_dirs(). */
static void read_limits(const Cgroup *cg, CgroupLimits *ret);
static bool limits_any(const CgroupLimits *l);

/* Reads back what the kernel took of cg's limits (it rounds some): also what its cpu files hold now. */
static void take_limits(Cgroup *cg) {
        read_limits(cg, &cg->limits);
        cg->cpu_quota_in_force = cg->limits.cpu_quota_usec;
        cg->cpu_period_in_force = cg->limits.cpu_period_usec;
}

static int make_dirs(Cgroup *cg, const Cgroup *parent, const int *parent_fds, const char *name, const CgroupLimits *l,
                     CgroupFlags flags) {
        CgroupManager *m = cg->manager;
        int r;

        for (size_t i = 0; i < m->n_h; i++) {
                if (!needs_own_dir(m, i, parent, l, flags)) {
                        cg->in_shared[i] = true;
                        continue;
                }
                if (mkdirat(parent_fds[i], name, 0755) < 0)
                        return -errno;
                cg->present[i] = true;
                cg->fds[i] = openat(parent_fds[i], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->fds[i] < 0)
                        return -errno;
        }
        /* Without controllers of its own (none enabled for it), so it costs one directory and no more. */
        if ((flags & CGROUP_ROOM_BELOW) && m->payload_leaf) {
                if (mkdirat(cg->fds[HIERARCHY_V2], CGROUP_PAYLOAD, 0755) < 0)
                        return -errno;
                cg->has_leaf = true;
        }
        r = read_id(cg);
        if (r >= 0)
                r = apply_limits(m, cg->fds, l, /* reset= */ false);
        if (r < 0)
                return r;
        /* Before any process runs in it. A new cgroup has no limits of its own: only what was written is
         * read back (the kernel rounds some), which saves a dozen system calls per spawn without limits. */
        if (limits_any(l) || l->cpu_period_usec != 0)
                take_limits(cg);
        else
                cg->limits = CGROUP_LIMITS_NONE;
        return hold_for_spawn(cg, /* fresh= */ true); /* the spawn it is made for */
}

int cgroup_new(CgroupManager *m, uid_t uid, const char *name, const CgroupLimits *l, const CgroupLimits *user_limits,
               CgroupFlags flags, Cgroup **ret) {
        Cgroup *cg;
        int r;

        if (!l)
                return -EINVAL;
        r = cgroup_alloc(m, NULL, uid, name, &cg);
        if (r < 0)
                return r;

        r = user_get(m, uid, user_limits, &cg->user);
        if (r < 0) {
                cgroup_free_struct(cg);
                return r;
        }

        r = make_dirs(cg, NULL, cg->user->fds, name, l, flags);
        if (r < 0)
                goto fail;

        m->n_cgroups++;
        *ret = cg;
        return 0;

fail:
        (void) remove_dirs(cg);
        /* Nothing it made is left: a user cgroup that has no other sandbox goes, idle or new. */
        if (cg->user->n_cgroups == 1)
                user_remove(m, cg->user);
        else
                user_unref(m, cg->user);
        cgroup_free_struct(cg);
        return r;
}

static bool limits_any(const CgroupLimits *l) {
        for (CgroupLimitType t = 0; t < _CGROUP_LIMIT_TYPE_MAX; t++)
                if (cgroup_limits_has(l, t))
                        return true;
        return false;
}

int cgroup_apply_limits_late(Cgroup *cg, const CgroupLimits *l, const CgroupLimits *user_limits) {
        CgroupManager *m;
        CgroupUser *u;
        CgroupLimits none = CGROUP_LIMITS_NONE, want;
        int fds[HIERARCHIES_MAX], owned[HIERARCHIES_MAX], r = 0;

        if (!cg || !l || cg->parent)
                return -EINVAL;
        m = cg->manager;
        u = cg->user;
        want = user_limits ? *user_limits : none;
        r = user_write_limits(m, u, &want);
        if (r < 0)
                return r;

        /* Nothing to write: it is as cgroup_new() left one without limits (read back then). */
        if (!limits_any(l) && l->cpu_period_usec == 0)
                return 0;

        for (size_t i = 0; i < HIERARCHIES_MAX; i++)
                fds[i] = owned[i] = -EBADF;
        for (size_t i = 0; i < m->n_h && r >= 0; i++) {
                /* Its processes go to the user's shared cgroup there: it cannot take a limit set there. */
                if (cg->in_shared[i]) {
                        if (needs_own_dir(m, i, NULL, l, 0))
                                r = -ENOMEDIUM;
                        continue;
                }
                fds[i] = dir_fd(cg, (int) i, &owned[i]);
                if (fds[i] < 0)
                        r = fds[i];
        }
        /* It was made without limits, as a new one is before cgroup_new() applies its own. */
        if (r >= 0)
                r = apply_limits(m, fds, l, /* reset= */ false);
        close_many(owned, HIERARCHIES_MAX);
        if (r < 0)
                return r;
        take_limits(cg);
        return 0;
}

int cgroup_manager_apply_user_limits(CgroupManager *m, uid_t uid, const CgroupLimits *user_limits) {
        CgroupLimits none = CGROUP_LIMITS_NONE;
        CgroupUser *u;

        if (!m)
                return -EINVAL;
        u = user_find(m, uid);
        return u ? user_write_limits(m, u, user_limits ?: &none) : 0;
}

void cgroup_take_own_cpu_quota(Cgroup *cg, uint64_t quota, uint64_t period) {
        int ch;

        if (!cg || quota == 0)
                return;
        ch = cg->manager->controller_h[CONTROLLER_CPU];
        if (ch < 0 || !cg->present[ch] || cg->in_shared[ch])
                return;
        cg->limits.cpu_quota_usec = quota;
        cg->limits.cpu_period_usec = period ?: CGROUP_CPU_PERIOD_DEFAULT_USEC;
}

bool cgroup_has_room_below(const Cgroup *cg) {
        return cg->has_leaf || !cg->manager->payload_leaf;
}

/* A directory in h for a sandbox whose processes are in its user's shared cgroup there, so that a nested one with
 * limits there can be made below it (and below its own parent's, likewise): without processes or limits, and
 * removed with the rest. */
static int make_dir_for_below(Cgroup *cg, size_t h) {
        int r;

        if (cg->present[h])
                return 0;
        if (cg->parent) {
                r = make_dir_for_below(cg->parent, h);
                if (r < 0)
                        return r;
        }
        if (mkdirat(cg->user->fds[h], cg->name, 0755) < 0)
                return -errno;
        cg->present[h] = true;
        return 0;
}

int cgroup_new_below(Cgroup *parent, const char *name, const CgroupLimits *l, CgroupFlags flags, Cgroup **ret) {
        CgroupManager *m;
        int parent_fds[HIERARCHIES_MAX], owned[HIERARCHIES_MAX];
        Cgroup *cg;
        int r;

        if (!parent || !l)
                return -EINVAL;
        m = parent->manager;
        if (parent->released)
                return -ESRCH;
        /* A child without limits needs no controller from the parent, which may then keep its processes. */
        if (!cgroup_has_room_below(parent) && limits_any(l))
                return -EBUSY;
        if (!cgroup_has_room_below(parent))
                flags &= ~CGROUP_ROOM_BELOW;
        r = cgroup_alloc(m, parent, 0, name, &cg);
        if (r < 0)
                return r;
        cg->user = parent->user;
        cg->user->n_cgroups++; /* never idle: the parent counts too */

        for (size_t i = 0; i < HIERARCHIES_MAX; i++)
                owned[i] = parent_fds[i] = -EBADF;
        for (size_t i = 0; i < m->n_h; i++) {
                if (parent->in_shared[i]) {
                        if (!needs_own_dir(m, i, parent, l, flags))
                                continue;
                        r = make_dir_for_below(parent, i);
                        if (r < 0)
                                goto fail;
                }
                parent_fds[i] = dir_fd(parent, (int) i, &owned[i]);
                if (parent_fds[i] < 0) {
                        r = parent_fds[i];
                        goto fail;
                }
        }
        /* The parent holds no process of its own (they are in its leaf), so it may hand its controllers
         * down: written again for each child, which the kernel takes as it is. */
        if (parent->has_leaf) {
                r = user_enable_subtree(m, parent_fds[HIERARCHY_V2]);
                if (r < 0)
                        goto fail;
        }
        r = make_dirs(cg, parent, parent_fds, name, l, flags);
        if (r < 0)
                goto fail;
        close_many(owned, HIERARCHIES_MAX);

        cg->parent = parent;
        parent->n_children++;
        m->n_cgroups++;
        *ret = cg;
        return 0;

fail:
        close_many(owned, HIERARCHIES_MAX);
        (void) remove_dirs(cg);
        user_unref(m, cg->user);
        cgroup_free_struct(cg);
        return r;
}

/* Opens the directories of a cgroup a previous daemon made, and finds its payload leaf if it has one. */
static int open_dirs(Cgroup *cg) {
        int r;

        for (size_t i = 0; i < cg->manager->n_h; i++) {
                cg->fds[i] = openat(cg->user->fds[i], cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* Made without one there, where it needed none. */
                if (cg->fds[i] < 0 && errno == ENOENT && !needs_own_dir(cg->manager, i, NULL, &CGROUP_LIMITS_NONE, 0)) {
                        cg->in_shared[i] = true;
                        continue;
                }
                if (cg->fds[i] < 0)
                        return -errno;
                cg->present[i] = true;
        }
        cg->has_leaf = faccessat(cg->fds[HIERARCHY_V2], CGROUP_PAYLOAD, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
        r = read_id(cg);
        if (r < 0)
                return r;
        /* What the previous daemon set is not handed over: as found now. */
        take_limits(cg);
        close_spawn_fds(cg);
        return 0;
}

int cgroup_open(CgroupManager *m, uid_t uid, const char *name, Cgroup **ret) {
        Cgroup *cg;
        int r;

        r = cgroup_alloc(m, NULL, uid, name, &cg);
        if (r < 0)
                return r;

        r = user_get_existing(m, uid, &cg->user);
        if (r < 0) {
                cgroup_free_struct(cg);
                return r;
        }

        r = open_dirs(cg);
        if (r < 0) {
                /* Not ours to remove: it stays as it was found. */
                user_unref(m, cg->user);
                cgroup_free_struct(cg);
                return r;
        }

        m->n_cgroups++;
        *ret = cg;
        return 0;
}

int cgroup_open_below(Cgroup *parent, const char *name, Cgroup **ret) {
        Cgroup *cg;
        int r;

        if (!parent || parent->released)
                return -EINVAL;
        r = cgroup_alloc(parent->manager, parent, 0, name, &cg);
        if (r < 0)
                return r;
        cg->user = parent->user;
        cg->user->n_cgroups++;

        r = open_dirs(cg);
        if (r < 0) {
                user_unref(parent->manager, cg->user);
                cgroup_free_struct(cg);
                return r;
        }

        cg->parent = parent;
        parent->n_children++;
        parent->manager->n_cgroups++;
        *ret = cg;
        return 0;
}

static void release_parent(Cgroup *p);

/* cg is freed: removed (its directories gone, uncounted), or abandoned (they stay, and count). A parent its
 * owner let go of goes with its last child. */
static void cgroup_gone(Cgroup *cg, bool removed) {
        CgroupManager *m = cg->manager;
        Cgroup *parent = cg->parent;

        if (removed) {
                user_unref(m, cg->user);
                m->n_cgroups--;
        }
        cgroup_free_struct(cg);
        if (parent && --parent->n_children == 0 && parent->released)
                release_parent(parent);
}

static void release_parent(Cgroup *p) {
        /* One that cannot go (a process stuck in it) stays as an abandoned one does, for the next start. */
        cgroup_gone(p, p->remove_pending && remove_dirs(p) >= 0);
}

int cgroup_remove(Cgroup *cg) {
        int r;

        if (!cg)
                return 0;
        if (cg->n_children > 0) {
                unwatch_events(cg);
                cg->released = cg->remove_pending = true;
                return 0;
        }

        r = remove_dirs(cg);
        if (r < 0)
                return r;
        cgroup_gone(cg, /* removed= */ true);
        return 0;
}

/* Fills removal with cg's directories, in the order remove_dirs() removes them, and as it does stopping only
 * at the payload leaf and the cgroup2 directory: busy while any process lives, and then nothing else goes. */
static int removal_add_dirs(Cgroup *cg, CgroupRemoval *removal) {
        CgroupManager *m = cg->manager;

        if (cg->has_leaf && cg->present[HIERARCHY_V2]) {
                removal->dirs[removal->n_dirs].parent_fd = cg->user->fds[HIERARCHY_V2];
                if (asprintf(&removal->dirs[removal->n_dirs].name, "%s/" CGROUP_PAYLOAD, cg->name) < 0)
                        return -ENOMEM;
                removal->n_dirs++;
        }
        for (size_t i = 0; i < m->n_h; i++) {
                if (!cg->present[i])
                        continue;
                removal->dirs[removal->n_dirs].parent_fd = cg->user->fds[i];
                removal->dirs[removal->n_dirs].name = strdup(cg->name);
                if (!removal->dirs[removal->n_dirs].name)
                        return -ENOMEM;
                removal->n_dirs++;
                if (i == HIERARCHY_V2)
                        removal->n_must = removal->n_dirs;
        }
        return 0;
}

_Static_assert(CGROUP_REMOVAL_DIRS_MAX >= HIERARCHIES_MAX + 1, "a cgroup's directories and its leaf");

/* A cgroup its owner found empty that the kernel does not let go: what runs there is killed, and it stays, as an
 * abandoned one does, for the next start. */
static void keep_what_is_left(Cgroup *cg, int error) {
        log_warning_errno(error, "Cannot remove the cgroup %s, leaving it: %m", cg->path);
        (void) cgroup_kill(cg);
        cgroup_abandon(cg);
}

/* On the loop, once the remover is done with cg's directories (or the manager stops). */
static void removal_finish(CgroupRemoval *removal, void *userdata) {
        Cgroup *cg = removal->userdata;
        CgroupManager *m = cg->manager;

        if (removal->error == 0) {
                cgroup_gone(cg, /* removed= */ true);
                return;
        }
        for (size_t i = 0; i < m->n_h; i++)
                cg->present[i] = faccessat(cg->user->fds[i], cg->name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
        keep_what_is_left(cg, -removal->error);
}

void cgroup_remove_empty(Cgroup *cg) {
        _cleanup_(cgroup_removal_freep) CgroupRemoval *removal = NULL;
        CgroupManager *m;
        int ch, r;

        if (!cg)
                return;
        m = cg->manager;
        ch = m->controller_h[CONTROLLER_CPU];
        if (m->remover && cg->n_children == 0) {
                removal = cgroup_removal_new();
                if (removal && removal_add_dirs(cg, removal) < 0)
                        removal = cgroup_removal_free(removal);
        }
        if (!removal) {
                r = cgroup_remove(cg);
                if (r < 0)
                        keep_what_is_left(cg, r);
                return;
        }

        /* What remove_dirs() does besides the rmdir()s, here, on the loop. The directories are the remover's
         * from now on: nothing else may touch them (cpu_quota_holders() looks for present ones). */
        unwatch_events(cg);
        if (ch != HIERARCHY_NONE && ch != HIERARCHY_V2 && cg->present[ch] && cg->cpu_quota_in_force != 0)
                lift_cpu_quota(cg, (size_t) ch);
        for (size_t i = 0; i < m->n_h; i++) {
                cg->present[i] = false;
                cg->fds[i] = safe_close(cg->fds[i]);
        }
        cg->leaf_fd = safe_close(cg->leaf_fd);
        removal->userdata = cg;
        cgroup_remover_queue(m->remover, TAKE_PTR(removal));
}

void cgroup_abandon(Cgroup *cg) {
        if (!cg)
                return;
        unwatch_events(cg);
        if (cg->n_children > 0) {
                cg->released = true;
                cg->remove_pending = false;
                return;
        }
        /* The user cgroup and the manager's layout stay: cgroup_manager_free() sees a cgroup still counted. */
        cgroup_gone(cg, /* removed= */ false);
}

uint64_t cgroup_id(const Cgroup *cg) {
        return cg->id;
}

int cgroup_dir_fd(const Cgroup *cg) {
        return cg->has_leaf ? cg->leaf_fd : cg->fds[HIERARCHY_V2];
}

size_t cgroup_v1_tasks_fds(const Cgroup *cg, const int **ret_fds) {
        if (ret_fds)
                *ret_fds = cg->tasks_fds;
        return cg->n_tasks_fds;
}

size_t cgroup_v1_pids_checks(const Cgroup *cg, const int **ret_fds) {
        if (ret_fds)
                *ret_fds = cg->pids_check_fds;
        return cg->n_pids_check_fds / 2;
}

void cgroup_v1_user_pids_fds(const Cgroup *cg, int *ret_current_fd, int *ret_max_fd) {
        *ret_current_fd = cg->user->pids_current_fd;
        *ret_max_fd = cg->user->pids_max_fd;
}

int cgroup_attach_v1(const Cgroup *cg, pid_t pid) {
        int ph = cg->manager->controller_h[CONTROLLER_PIDS];
        uint64_t current, max;
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d", (int) pid);

        for (size_t i = 0; i < cg->n_tasks_fds; i++) {
                ssize_t n = cg->tasks_fds[i] < 0 ? (errno = EBADF, -1) : write(cg->tasks_fds[i], buf, (size_t) len);
                if (n < 0)
                        return -errno;
                if (n != len)
                        return -EIO;
        }

        /* A move into a cgroup is not a fork: v1 pids lets it past pids.max. Judge it as the fork it stands for. */
        if (ph > 0 && cg->user->fds[ph] >= 0 && read_u64_at(cg->user->fds[ph], "pids.max", &max) >= 0 &&
            max != CGROUP_LIMIT_MAX && read_u64_at(cg->user->fds[ph], "pids.current", &current) >= 0 &&
            current > max)
                return -EDQUOT;
        return 0;
}

const char *cgroup_path(const Cgroup *cg) {
        return cg->path;
}

void cgroup_set_userdata(Cgroup *cg, void *userdata) {
        cg->userdata = userdata;
}

void *cgroup_get_userdata(const Cgroup *cg) {
        return cg->userdata;
}

static int parse_events(int fd, bool *ret_populated, bool *ret_frozen) {
        char buf[256];
        uint64_t populated = 0, frozen = 0;
        int r;

        r = read_fd(fd, buf, sizeof buf);
        if (r < 0)
                return r;
        r = keyed_u64(buf, "populated", &populated);
        if (r < 0)
                return r;
        (void) keyed_u64(buf, "frozen", &frozen);
        *ret_populated = populated != 0;
        *ret_frozen = frozen != 0;
        return 0;
}

int cgroup_read_events(Cgroup *cg, bool *ret_populated, bool *ret_frozen) {
        bool populated, frozen;
        int r;

        if (cg->events_fd < 0) {
                int fd = open_events(cg);

                if (fd < 0)
                        return fd;
                /* An empty one has nothing to wait for: the usual end of a sandbox, whose top process was the last. */
                r = parse_events(fd, &populated, &frozen);
                if (r < 0 || !populated) {
                        (void) close(fd);
                        if (r < 0)
                                return r;
                        goto done;
                }
                /* Watched from now on; read again after, so no change is missed in between. */
                r = watch_events(cg, fd);
                if (r < 0)
                        return r;
        }
        r = parse_events(cg->events_fd, &populated, &frozen);
        if (r < 0)
                return r;
done:
        if (ret_populated)
                *ret_populated = populated;
        if (ret_frozen)
                *ret_frozen = frozen;
        return 0;
}

int cgroup_wait_empty(Cgroup *cg, unsigned timeout_msec) {
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd p = { .fd = cg->events_fd, .events = POLLPRI };
                bool populated;
                long elapsed;
                int r;

                r = cgroup_read_events(cg, &populated, NULL);
                if (r < 0)
                        return r;
                if (!populated)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
                if (elapsed >= (long) timeout_msec)
                        return -ETIMEDOUT;
                /* cgroup.events polls with POLLPRI when it changes; the timeout bounds a missed wakeup. */
                (void) poll(&p, 1, (int) MIN((long) timeout_msec - elapsed, 100L));
        }
}

int cgroup_manager_event_fd(const CgroupManager *m) {
        return m->epoll_fd;
}

int cgroup_manager_dispatch(CgroupManager *m, CgroupEventCallback cb) {
        /* One at a time: a callback may remove another cgroup, whose event would then dangle. */
        for (unsigned n = 0;; n++) {
                struct epoll_event ev;
                bool populated, frozen;
                int k;

                k = epoll_wait(m->epoll_fd, &ev, 1, 0);
                if (k < 0)
                        return errno == EINTR ? (int) n : -errno;
                if (k == 0)
                        return (int) n;
                if (ev.data.ptr == REMOVER_TAG(m)) {
                        CgroupRemoval *removal;

                        while ((removal = cgroup_remover_take_done(m->remover))) {
                                removal_finish(removal, NULL);
                                cgroup_removal_free(removal);
                        }
                        continue;
                }
                if (cgroup_read_events(ev.data.ptr, &populated, &frozen) < 0)
                        continue;
                cb(ev.data.ptr, populated, frozen, ((Cgroup *) ev.data.ptr)->userdata);
        }
}

/* ---- kill, signal, freeze ---- */

static int set_frozen(Cgroup *cg, bool frozen) {
        _cleanup_close_ int owned = -EBADF;
        int dir;

        if (!cg->manager->has_freeze)
                return -EOPNOTSUPP;
        dir = dir_fd(cg, HIERARCHY_V2, &owned);
        if (dir < 0)
                return dir;
        return write_at(dir, "cgroup.freeze", frozen ? "1" : "0");
}

int cgroup_freeze(Cgroup *cg, bool freeze) {
        int r;

        if (!cg->present[HIERARCHY_V2])
                return -ESRCH;
        r = set_frozen(cg, freeze);
        if (r < 0)
                return r;
        cg->frozen = freeze;
        return 0;
}

/* How deep a cgroup-wide signal looks below the sandbox's cgroup: its payload leaf, nested sandboxes' cgroups. */
#define SIGNAL_DEPTH_MAX 8

/* Signals every process in dir's cgroup.procs and below not in *done, up to SIGNAL_PIDS_MAX in all; returns how
 * many were new. */
static int signal_listed_at(int dir, int sig, PidSet *done, unsigned depth) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_close_ int sub_fd = -EBADF;
        struct dirent *de;
        int fd, n = 0, r;
        long pid;
        DIR *d;

        fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        while (fscanf(f, "%ld", &pid) == 1) {
                if (pid <= 0 || pid_set_contains(done, (pid_t) pid))
                        continue;
                if (done->n >= SIGNAL_PIDS_MAX)
                        break;
                r = pid_set_add(done, (pid_t) pid);
                if (r < 0)
                        return r;
                /* Frozen, a listed process cannot exit and free its pid, except by a signal like this one. */
                if (kill((pid_t) pid, sig) >= 0)
                        n++;
        }
        pid_set_commit(done);

        if (depth >= SIGNAL_DEPTH_MAX)
                return n;
        /* A descriptor of its own: readdir() moves the position, which a dup would share. */
        sub_fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub_fd < 0)
                return -errno;
        d = fdopendir(TAKE_FD(sub_fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_close_ int child = -EBADF;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                child = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (child < 0)
                        continue; /* removed meanwhile */
                r = signal_listed_at(child, sig, done, depth + 1);
                if (r > 0)
                        n += r;
        }
        closedir(d);
        return n;
}

static int signal_listed(Cgroup *cg, int sig, PidSet *done) {
        _cleanup_close_ int owned = -EBADF;
        int dir = dir_fd(cg, HIERARCHY_V2, &owned);

        if (dir < 0)
                return dir;
        return signal_listed_at(dir, sig, done, 0);
}

static int signal_all_frozen(Cgroup *cg, int sig, unsigned max_rounds) {
        PidSet done = {};
        bool was_frozen = cg->frozen;
        int total = 0, r = 0;

        if (!was_frozen)
                (void) set_frozen(cg, true);
        for (unsigned round = 0; round < max_rounds; round++) {
                r = signal_listed(cg, sig, &done);
                if (r <= 0)
                        break;
                total += r;
        }
        if (!was_frozen)
                (void) set_frozen(cg, false);
        pid_set_done(&done);
        return r < 0 ? r : total;
}

int cgroup_kill(Cgroup *cg) {
        int r;

        if (!cg->present[HIERARCHY_V2])
                return -ESRCH;
        if (cg->manager->has_kill) {
                _cleanup_close_ int owned = -EBADF;
                int dir = dir_fd(cg, HIERARCHY_V2, &owned);

                r = dir < 0 ? dir : write_at(dir, "cgroup.kill", "1");
                if (r != -ENOENT)
                        return r < 0 ? r : 1;
        }
        /* Without cgroup.kill: freeze, so nothing forks while the list is walked; a cgroup2-frozen process
         * still dies of SIGKILL. */
        return signal_all_frozen(cg, SIGKILL, KILL_ROUNDS_MAX);
}

int cgroup_signal_all(Cgroup *cg, int sig) {
        if (!cg->present[HIERARCHY_V2])
                return -ESRCH;
        if (sig == SIGKILL)
                return cgroup_kill(cg);
        return signal_all_frozen(cg, sig, SIGNAL_ROUNDS_MAX);
}

/* ---- usage ---- */

static uint64_t count_lines_at(int dir_fd, const char *name) {
        _cleanup_(fclosep) FILE *f = NULL;
        uint64_t n = 0;
        int fd, c;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return UINT64_MAX;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return UINT64_MAX;
        }
        while ((c = fgetc(f)) != EOF)
                if (c == '\n')
                        n++;
        return n;
}

/*
 * The OOM kills of a cgroup2 sandbox's own processes, as v1's memory.oom_control counts them: memory.events.local
 * of the cgroup they are in (its payload leaf, where it has one). memory.events counts those in the cgroups of the
 * sandboxes nested in it too, and a sandbox that ended as one nested in it was OOM-killed (a shell passing on
 * its 137, say) would pass for OOM-killed itself.
 */
static void read_own_oom_kills_v2(const Cgroup *cg, int v2, uint64_t *ret) {
        _cleanup_close_ int leaf = -EBADF;
        int dir = v2;

        if (cg->has_leaf) {
                leaf = openat(v2, CGROUP_PAYLOAD, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                dir = leaf;
        }
        /* Without the file (before Linux 5.2), the subtree's. */
        if (dir < 0 || keyed_u64_at(dir, "memory.events.local", "oom_kill", ret) < 0)
                (void) keyed_u64_at(v2, "memory.events", "oom_kill", ret);
}

int cgroup_read_usage(const Cgroup *cg, bool empty, CgroupUsage *ret) {
        const CgroupManager *m = cg->manager;
        int mh = m->controller_h[CONTROLLER_MEMORY], ph = m->controller_h[CONTROLLER_PIDS];
        _cleanup_close_ int v2_owned = -EBADF, mfd_owned = -EBADF, pfd_owned = -EBADF;
        int mfd, pfd;
        CgroupUsage u = {
                .cpu_usec = UINT64_MAX,
                .memory_current = UINT64_MAX,
                .memory_peak = UINT64_MAX,
                .tasks = UINT64_MAX,
                .tasks_peak = UINT64_MAX,
                .oom_kills = UINT64_MAX,
                .memory_limit_hits = UINT64_MAX,
        };
        int v2 = dir_fd(cg, HIERARCHY_V2, &v2_owned);

        if (v2 < 0)
                return -ESRCH;

        /* cpu.stat is in every cgroup2 group, with or without the cpu controller. */
        (void) keyed_u64_at(v2, "cpu.stat", "usage_usec", &u.cpu_usec);

        if (mh == HIERARCHY_V2) {
                (void) read_u64_at(v2, "memory.current", &u.memory_current);
                (void) read_u64_at(v2, "memory.peak", &u.memory_peak);
                read_own_oom_kills_v2(cg, v2, &u.oom_kills);
                (void) keyed_u64_at(v2, "memory.events", "max", &u.memory_limit_hits);
        } else if (mh > 0 && (mfd = dir_fd(cg, mh, &mfd_owned)) >= 0) {
                (void) read_u64_at(mfd, "memory.usage_in_bytes", &u.memory_current);
                (void) read_u64_at(mfd, "memory.max_usage_in_bytes", &u.memory_peak);
                (void) keyed_u64_at(mfd, "memory.oom_control", "oom_kill", &u.oom_kills);
                (void) read_u64_at(mfd, "memory.failcnt", &u.memory_limit_hits);
        }

        if (ph == HIERARCHY_V2) {
                if (!empty)
                        (void) read_u64_at(v2, "pids.current", &u.tasks);
                (void) read_u64_at(v2, "pids.peak", &u.tasks_peak);
        } else if (ph != HIERARCHY_NONE && (pfd = dir_fd(cg, ph, &pfd_owned)) >= 0) {
                if (!empty)
                        (void) read_u64_at(pfd, "pids.current", &u.tasks);
                (void) read_u64_at(pfd, "pids.peak", &u.tasks_peak);
        } else if (!empty)
                u.tasks = count_lines_at(v2, "cgroup.threads");
        if (empty)
                u.tasks = 0;

        *ret = u;
        return 0;
}

/* ---- ceilings ---- */

/* v1 memory reports "no limit" as the largest page count it keeps, in bytes: anything this high is none. */
#define V1_MEMORY_UNLIMITED (UINT64_C(1) << 62)

/* The limits cg has now, read back from the kernel (so also those of a cgroup a previous daemon made). */
static void read_limits(const Cgroup *cg, CgroupLimits *ret) {
        const CgroupManager *m = cg->manager;
        int mh = m->controller_h[CONTROLLER_MEMORY], ph = m->controller_h[CONTROLLER_PIDS],
            ch = m->controller_h[CONTROLLER_CPU];
        _cleanup_close_ int m_owned = -EBADF, p_owned = -EBADF, c_owned = -EBADF;
        CgroupLimits l = CGROUP_LIMITS_NONE;
        int fd;

        if (mh != HIERARCHY_NONE && (fd = dir_fd(cg, mh, &m_owned)) >= 0) {
                if (mh == HIERARCHY_V2) {
                        (void) read_u64_at(fd, "memory.max", &l.memory_max);
                        (void) read_u64_at(fd, "memory.high", &l.memory_high);
                        (void) read_u64_at(fd, "memory.swap.max", &l.memory_swap_max);
                } else {
                        uint64_t total = CGROUP_LIMIT_MAX;

                        if (read_u64_at(fd, "memory.limit_in_bytes", &l.memory_max) < 0 ||
                            l.memory_max >= V1_MEMORY_UNLIMITED)
                                l.memory_max = CGROUP_LIMIT_MAX;
                        if (read_u64_at(fd, "memory.memsw.limit_in_bytes", &total) >= 0 &&
                            total < V1_MEMORY_UNLIMITED && l.memory_max != CGROUP_LIMIT_MAX && total >= l.memory_max)
                                l.memory_swap_max = total - l.memory_max;
                }
        }
        if (ph != HIERARCHY_NONE && (fd = dir_fd(cg, ph, &p_owned)) >= 0)
                (void) read_u64_at(fd, "pids.max", &l.tasks_max);
        if (ch != HIERARCHY_NONE && (fd = dir_fd(cg, ch, &c_owned)) >= 0) {
                char buf[64];
                uint64_t quota, period;

                if (ch == HIERARCHY_V2) {
                        if (read_at(fd, "cpu.max", buf, sizeof buf) >= 0 &&
                            sscanf(buf, "%" SCNu64 " %" SCNu64, &quota, &period) == 2) {
                                l.cpu_quota_usec = quota;
                                l.cpu_period_usec = period;
                        }
                } else if (read_u64_at(fd, "cpu.cfs_quota_us", &quota) >= 0 && /* -1: none, which does not parse */
                           read_u64_at(fd, "cpu.cfs_period_us", &period) >= 0) {
                        l.cpu_quota_usec = quota;
                        l.cpu_period_usec = period;
                }
        }
        *ret = l;
}

/* Whether the quota a (per its period) is a larger share of a CPU than b's. */
static bool cpu_share_above(const CgroupLimits *a, const CgroupLimits *b) {
        unsigned __int128 pa = a->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC,
                          pb = b->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC;

        return (unsigned __int128) a->cpu_quota_usec * pb > (unsigned __int128) b->cpu_quota_usec * pa;
}

/* A v1 cpu hierarchy also refuses a child above its user's cgroup's quota as it is now, which may be another rule's
 * than the caller's (the user's latest spawn's) or a previous daemon's: read, not taken from the policy. */
static int check_users_cpu_quota(const Cgroup *cg, const CgroupLimits *l, CgroupLimitType *ret_type, char *reason,
                                 size_t size) {
        int ch = cg->manager->controller_h[CONTROLLER_CPU];
        CgroupLimits user = {};

        if (l->cpu_quota_usec == 0 || ch <= HIERARCHY_V2 || cg->user->fds[ch] < 0)
                return 0;
        /* -1, none, does not parse */
        if (read_u64_at(cg->user->fds[ch], "cpu.cfs_quota_us", &user.cpu_quota_usec) < 0 ||
            read_u64_at(cg->user->fds[ch], "cpu.cfs_period_us", &user.cpu_period_usec) < 0 ||
            !cpu_share_above(l, &user))
                return 0;
        return refuse(E2BIG, CGROUP_LIMIT_CPU_QUOTA, ret_type, reason, size,
                      "%" PRIu64 "us per %" PRIu64 "us is above its user's CPU quota of %" PRIu64 "us per %" PRIu64
                      "us", l->cpu_quota_usec, l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC,
                      user.cpu_quota_usec, user.cpu_period_usec);
}

int cgroup_check_ceiling(const Cgroup *cg, const CgroupLimits *l, CgroupLimitType *ret_type, char *reason,
                         size_t size) {
        static const struct {
                CgroupLimitType type;
                size_t offset;
                const char *unit;
        } by_value[] = {
                { CGROUP_LIMIT_MEMORY_MAX, offsetof(CgroupLimits, memory_max), " bytes" },
                { CGROUP_LIMIT_MEMORY_HIGH, offsetof(CgroupLimits, memory_high), " bytes" },
                { CGROUP_LIMIT_MEMORY_SWAP_MAX, offsetof(CgroupLimits, memory_swap_max), " bytes of swap" },
                { CGROUP_LIMIT_TASKS_MAX, offsetof(CgroupLimits, tasks_max), " tasks" },
        };

        for (const Cgroup *p = cg; p; p = p->parent) {
                const char *whose = p == cg ? "the sandbox's" : "an outer sandbox's";
                const CgroupLimits c = p->limits;

                for (size_t i = 0; i < ELEMENTSOF(by_value); i++) {
                        uint64_t want = *(const uint64_t *) ((const char *) l + by_value[i].offset),
                                 ceiling = *(const uint64_t *) ((const char *) &c + by_value[i].offset);

                        if (want != CGROUP_LIMIT_MAX && ceiling != CGROUP_LIMIT_MAX && want > ceiling)
                                return refuse(E2BIG, by_value[i].type, ret_type, reason, size,
                                              "%" PRIu64 "%s is above %s %s=%" PRIu64, want, by_value[i].unit, whose,
                                              limit_properties[by_value[i].type], ceiling);
                }
                /* As in force: its own, or its user's that a Reload holds it to. */
                if (l->cpu_quota_usec != 0 && p->cpu_quota_in_force != 0 &&
                    cpu_share_above(l, &(const CgroupLimits) { .cpu_quota_usec = p->cpu_quota_in_force,
                                                               .cpu_period_usec = p->cpu_period_in_force }))
                        return refuse(E2BIG, CGROUP_LIMIT_CPU_QUOTA, ret_type, reason, size,
                                      "%" PRIu64 "us per %" PRIu64 "us is above %s CPU quota of %" PRIu64
                                      "us per %" PRIu64 "us",
                                      l->cpu_quota_usec, l->cpu_period_usec ?: CGROUP_CPU_PERIOD_DEFAULT_USEC, whose,
                                      p->cpu_quota_in_force, p->cpu_period_in_force ?: CGROUP_CPU_PERIOD_DEFAULT_USEC);
        }
        return check_users_cpu_quota(cg, l, ret_type, reason, size);
}
