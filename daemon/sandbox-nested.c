/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A Spawn from inside a sandbox made a child of it (see sandbox-nested.h):
 * the shapes it may take, then the Exec plan into the sandbox it is built on.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "fd-util.h"
#include "macro.h"
#include "namespace-fd.h"
#include "sandbox-nested.h"
#include "sandbox.h"
#include "spawn.h"
#include "time-util.h"

/* The kernel takes at most this many lines in a uid_map or gid_map. */
#define NESTED_MAP_LINES_MAX 340

int sandbox_nested_refuse(char *field, size_t field_size, const char *name, char *reason, size_t reason_size,
                          const char *format, ...) {
        va_list ap;

        snprintf(field, field_size, "%s", name);
        va_start(ap, format);
        (void) vsnprintf(reason, reason_size, format, ap);
        va_end(ap);
        return -EPERM;
}

static bool resources_asked(const SandboxResources *r) {
        static const SandboxResources none = {};

        return memcmp(r, &none, sizeof none) != 0;
}

bool sandbox_nested_wants_cgroup(const SpawnRequest *req) {
        return resources_asked(&req->resources) || req->runtime_max_usec > 0;
}

void sandbox_nested_limits_asked(const SpawnRequest *req, PolicyLimitsDecision *l) {
        const SandboxResources *r = &req->resources;

        if (!r->memory_limit)
                l->sandbox.memory_max = CGROUP_LIMIT_MAX;
        if (!r->memory_high)
                l->sandbox.memory_high = CGROUP_LIMIT_MAX;
        if (!r->memory_swap)
                l->sandbox.memory_swap_max = CGROUP_LIMIT_MAX;
        if (!r->pids_limit)
                l->sandbox.tasks_max = CGROUP_LIMIT_MAX;
        if (!r->cpu_quota && !r->cpu_period)
                l->sandbox.cpu_quota_usec = l->sandbox.cpu_period_usec = 0;
        if (!r->cpu_weight && !r->cpu_shares)
                l->sandbox.cpu_weight = l->sandbox.cpu_shares = 0;
        if (!req->runtime_max_usec)
                l->runtime_max_usec = 0;
        l->resources = *r;
}

/* The request's field for a limit it set. */
static const char *limit_field(CgroupLimitType t) {
        switch (t) {
        case CGROUP_LIMIT_MEMORY_MAX:
                return "resources.memory.limit";
        case CGROUP_LIMIT_MEMORY_HIGH:
                return "resources.memory.high";
        case CGROUP_LIMIT_MEMORY_SWAP_MAX:
                return "resources.memory.swap";
        case CGROUP_LIMIT_TASKS_MAX:
                return "resources.pids.limit";
        case CGROUP_LIMIT_CPU_QUOTA:
                return "resources.cpu.quota";
        default:
                return "resources";
        }
}

int sandbox_nested_check_limits(const Sandbox *sb, const PolicyLimitsDecision *l, Cgroup **ret_parent, char *field,
                                size_t field_size, char *reason, size_t reason_size) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        Cgroup *parent = NULL;

        /* Its runtime ends with the sandbox's (and with any outer one's): it may not ask to outlive them. */
        for (const Sandbox *p = sb; p; p = p->exec_of) {
                uint64_t end = p->start_usec + p->runtime_max_usec, left = end > now ? end - now : 0;

                if (!parent)
                        parent = p->cgroup;
                if (l->runtime_max_usec == 0 || p->runtime_max_usec == 0 || l->runtime_max_usec <= left)
                        continue;
                return sandbox_nested_refuse(field, field_size, "runtimeMaxUSec", reason, reason_size,
                              "%" PRIu64 "us is past the end of the %s runtime (runtimeMaxUSec %" PRIu64
                              "us, %" PRIu64 "us left)",
                              l->runtime_max_usec, p == sb ? "sandbox's" : "outer sandbox's", p->runtime_max_usec,
                              left);
        }
        if (!parent) {
                *ret_parent = NULL;
                return 0; /* no cgroups: the runtime alone, which ends its top process */
        }
        if (!cgroup_has_room_below(parent))
                return sandbox_nested_refuse(field, field_size, resources_asked(&l->resources) ? "resources" : "runtimeMaxUSec",
                              reason, reason_size,
                              "the sandbox's cgroup has no room for one of its own below it: on this host its "
                              "processes must be in a leaf for that, made only for sandboxes whose owner's policy "
                              "said nested = allow when they started");
        {
                CgroupLimitType t = _CGROUP_LIMIT_TYPE_INVALID;
                char why[192];

                if (cgroup_check_ceiling(parent, &l->sandbox, &t, why, sizeof why) < 0)
                        return sandbox_nested_refuse(field, field_size, limit_field(t), reason, reason_size, "%s", why);
        }
        *ret_parent = parent;
        return 0;
}

int sandbox_nested_check_user(const Sandbox *sb, const SpawnRequest *process, char *field, size_t field_size,
                              char *reason, size_t reason_size) {
        const SandboxExecBase *b = &sb->exec_base;

        if (!process->has_user || b->uid == 0)
                return 0;
        if (process->uid != b->uid)
                return sandbox_nested_refuse(field, field_size, "user.uid", reason, reason_size,
                              "from inside the sandbox, only as its own user (uid %u there)", (unsigned) b->uid);
        if (!sandbox_exec_base_has_group(b, process->gid))
                return sandbox_nested_refuse(field, field_size, "user.gid", reason, reason_size,
                              "from inside the sandbox, only with its own groups");
        for (size_t i = 0; i < process->n_additional_gids; i++)
                if (!sandbox_exec_base_has_group(b, process->additional_gids[i])) {
                        char name[64];

                        snprintf(name, sizeof name, "user.additionalGids[%zu]", i);
                        return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                      "from inside the sandbox, only with its own groups");
                }
        return 0;
}

/* What the request may be, given what sb has; -EPERM with field and reason otherwise. */
static int check_shape(const Sandbox *sb, const SpawnRequest *req, const CapabilityMasks *capabilities, char *field,
                       size_t field_size, char *reason, size_t reason_size) {
        unsigned has = sb->namespaces | sb->exec_base.joined_namespaces;
        bool has_user = sb->exec_base.user_namespace;
        bool new_user = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);

        if (req->command_userns_fd_index >= 0)
                return sandbox_nested_refuse(field, field_size, "commandUserNamespaceFileDescriptor", reason, reason_size,
                              "a nested sandbox joins only its sandbox's namespaces and those nested in it");
        /* Namespaces are made before the filter is loaded: a profile of the sandbox's own may forbid them,
         * and a nested request must not go around it. The built-in default forbids none. */
        if (req->namespaces && sb->exec_base.seccomp && !seccomp_program_is_default(sb->exec_base.seccomp))
                return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                              "the sandbox runs under a seccomp profile of its own, which may forbid making "
                              "namespaces: a nested sandbox makes none");
        if (new_user && sb->exec_base.disable_user_namespaces)
                return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                              "the sandbox may make no user namespaces (disableUserNamespaces)");
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT)) {
                /* A copy of its mount namespace owned by its own user namespace would not lock its mounts:
                 * the nested child, with every capability in the sandbox's user namespace, could make its
                 * read-only binds writable. A copy owned by a user namespace of the nested sandbox's own
                 * keeps them locked. Where the sandbox shares the host's, a copy in the host's user namespace
                 * would be built with the daemon's rights, which a root sandbox's process may lack. */
                if (!new_user)
                        return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                                      "a mount namespace inside the sandbox's needs a user namespace of its own, "
                                      "so the sandbox's mounts stay locked");
                /* Its copy is made from the sandbox's mount namespace once the sandbox's user namespace is
                 * joined; without one to make it in, it would be copied from the host's. */
                if (!has_user && (has & NAMESPACE_BIT(NAMESPACE_MOUNT)))
                        return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                                      "a mount namespace inside a sandbox that has no user namespace cannot be made");
        }
        /* Made by the child after it made its user namespace, so that one owns it (and may mount a /proc for
         * it); clone3() in the daemon would make it in the host's, below the sandbox's pid namespace. */
        if ((req->namespaces & NAMESPACE_BIT(NAMESPACE_PID)) && (has & NAMESPACE_BIT(NAMESPACE_PID)) &&
            !(new_user && has_user))
                return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                              "a pid namespace inside the sandbox's needs a user namespace of its own inside the "
                              "sandbox's, which then owns it");
        /* Requests from inside a sandbox under programs of its own are refused (they could not keep them),
         * which needs them told from the sandbox's: by a namespace its processes cannot leave. Another
         * namespace of its own can be traded, its cgroup left by uid 0 of the host's user namespace, and then
         * its requests would pass for the sandbox's. */
        if (req->n_seccomp_fds > 0 && !(req->namespaces & (NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID))))
                return sandbox_nested_refuse(field, field_size, "seccompFileDescriptors", reason, reason_size,
                              "a nested sandbox under seccomp programs of its own needs a user or pid namespace of "
                              "its own, by which requests from inside it are told from the sandbox's");
        /* Without cgroups (a nested sandbox's own is what its processes cannot leave; none is made below a
         * sandbox taken over without its cgroup either), the same for any namespace of its own: a process of
         * it that traded them all would pass for the sandbox's. */
        if (!sandbox_cgroup_of(sb) && req->namespaces &&
            !(req->namespaces & (NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID))))
                return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                              "without cgroups, a nested sandbox with namespaces of its own needs a user or pid "
                              "namespace of its own, by which requests from inside it are told from the "
                              "sandbox's");
        if (req->seccomp)
                return sandbox_nested_refuse(field, field_size, "seccomp", reason, reason_size,
                              "a nested sandbox keeps its sandbox's seccomp filter; programs of its own go in "
                              "seccompFileDescriptors, on top of it");
        /* Without sets of its own, the sandbox's processes have what the kernel gives their uid in its user
         * namespace: every capability as uid 0, none (but a bounding set) as any other. A nested sandbox that
         * shares that user namespace gets no more, or CAP_SYS_ADMIN there would remount the sandbox's
         * read-only binds writable, in the sandbox's own tree. In a user namespace of its own they are its. */
        if (capabilities && !sb->exec_base.has_capabilities && !new_user &&
            (req->has_user ? req->uid : sb->exec_base.uid) != 0)
                for (CapabilitySet set = 0; set < _CAPABILITY_SET_MAX; set++)
                        if (set != CAPABILITY_SET_BOUNDING && capabilities->set[set] != 0) {
                                char name[64];

                                snprintf(name, sizeof name, "capabilities.%s", capability_set_to_string(set));
                                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                              "the sandbox has no capability sets of its own, and uid %u in its "
                                              "user namespace has no %s capabilities there",
                                              (unsigned) (req->has_user ? req->uid : sb->exec_base.uid),
                                              capability_set_to_string(set));
                        }
        if (capabilities && sb->exec_base.has_capabilities)
                for (CapabilitySet set = 0; set < _CAPABILITY_SET_MAX; set++)
                        if (capabilities->set[set] & ~sb->exec_base.capabilities.set[set]) {
                                char name[64];

                                snprintf(name, sizeof name, "capabilities.%s", capability_set_to_string(set));
                                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                              "more than the sandbox's %s set", capability_set_to_string(set));
                        }
        return 0;
}

/* A map as /proc/PID/FILE shows it (at most the kernel's 340 lines): inside, outside, count. */
static int read_map(pid_t pid, const char *file, IdMapping **ret, size_t *ret_n) {
        _cleanup_free_ IdMapping *m = NULL;
        uint32_t inside, outside, count;
        size_t n = 0;
        char path[64];
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        m = calloc(NESTED_MAP_LINES_MAX, sizeof(IdMapping));
        if (!m) {
                fclose(f);
                return -ENOMEM;
        }
        while (n < NESTED_MAP_LINES_MAX && fscanf(f, "%" SCNu32 " %" SCNu32 " %" SCNu32, &inside, &outside, &count) == 3)
                m[n++] = (IdMapping) { .container_id = inside, .host_id = outside, .size = count };
        fclose(f);
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

/* The id inside sb's user namespace that host id is, or -ENOENT. */
static int id_inside(const IdMapping *m, size_t n, uint32_t host, uint32_t *ret) {
        for (size_t i = 0; i < n; i++)
                if (host >= m[i].host_id && host - m[i].host_id < m[i].size) {
                        *ret = m[i].container_id + (host - m[i].host_id);
                        return 0;
                }
        return -ENOENT;
}

/* Whether every id of [first, first + size) is one sb's map gives it (an id inside sb's namespace). */
static bool covered(const IdMapping *m, size_t n, uint32_t first, uint32_t size) {
        uint64_t id = first, end = (uint64_t) first + size;

        while (id < end) {
                bool found = false;

                for (size_t i = 0; i < n && !found; i++)
                        if (id >= m[i].container_id && id < (uint64_t) m[i].container_id + m[i].size) {
                                id = (uint64_t) m[i].container_id + m[i].size;
                                found = true;
                        }
                if (!found)
                        return false;
        }
        return true;
}

/* The request's uidMappings or gidMappings, whose hostID fields are sb's ids: only ids sb's map covers. */
static int check_maps(const IdMapping *sb_map, size_t n_sb_map, const IdMapping *maps, size_t n_maps,
                      const char *list, const char *kind, char *field, size_t field_size, char *reason,
                      size_t reason_size) {
        for (size_t i = 0; i < n_maps; i++) {
                char name[64];

                if (maps[i].size > 0 && covered(sb_map, n_sb_map, maps[i].host_id, maps[i].size))
                        continue;
                snprintf(name, sizeof name, "%s[%zu].hostID", list, i);
                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                              "%ss %" PRIu32 "..%" PRIu64 " are not all mapped in the sandbox's user namespace: a "
                              "nested user namespace maps only ids the sandbox's own maps cover",
                              kind, maps[i].host_id, (uint64_t) maps[i].host_id + maps[i].size - 1);
        }
        return 0;
}

/*
 * A user namespace of its own inside sb's: its maps point at sb's ids and
 * only at ids sb's maps cover (the kernel would refuse the others too, less
 * clearly); setgroups "allow" only where sb has it; the caller must have an
 * id in sb's namespace, which owns the new one. Fills *ret with sb's user
 * (and, for a new mount namespace, mount) namespace to make it in.
 */
static int plan_parent(const Sandbox *sb, const SpawnRequest *req, SpawnParent *ret, char *field, size_t field_size,
                       char *reason, size_t reason_size) {
        _cleanup_free_ IdMapping *uid_map = NULL, *gid_map = NULL;
        size_t n_uid_map = 0, n_gid_map = 0;
        uint32_t uid, gid;
        int r, user_fd, mount_fd = -EBADF, pid_fd = -EBADF;

        r = read_map(sb->pid, "uid_map", &uid_map, &n_uid_map);
        if (r >= 0)
                r = read_map(sb->pid, "gid_map", &gid_map, &n_gid_map);
        if (r < 0)
                return r;

        if (id_inside(uid_map, n_uid_map, sb->exec_base.creator_uid, &uid) < 0 ||
            id_inside(gid_map, n_gid_map, sb->exec_base.creator_gid, &gid) < 0)
                return sandbox_nested_refuse(field, field_size, "namespaces", reason, reason_size,
                              "the caller's uid or gid has no id in the sandbox's user namespace, which would own "
                              "the new one");
        r = check_maps(uid_map, n_uid_map, req->uid_mappings, req->n_uid_mappings, "uidMappings", "uid", field,
                       field_size, reason, reason_size);
        if (r < 0)
                return r;
        r = check_maps(gid_map, n_gid_map, req->gid_mappings, req->n_gid_mappings, "gidMappings", "gid", field,
                       field_size, reason, reason_size);
        if (r < 0)
                return r;
        if (req->setgroups > 0) {
                r = sandbox_setgroups_allowed(sb);
                if (r < 0)
                        return r;
                if (r == 0)
                        return sandbox_nested_refuse(field, field_size, "setgroups", reason, reason_size,
                                      "the sandbox's user namespace denies setgroups, so a nested one must too");
        }

        user_fd = sandbox_open_namespace(sb, NAMESPACE_USER);
        if (user_fd < 0)
                return user_fd;
        if ((req->namespaces & NAMESPACE_BIT(NAMESPACE_MOUNT)) &&
            ((sb->namespaces | sb->exec_base.joined_namespaces) & NAMESPACE_BIT(NAMESPACE_MOUNT))) {
                mount_fd = sandbox_open_namespace(sb, NAMESPACE_MOUNT);
                if (mount_fd < 0) {
                        safe_close(user_fd);
                        return mount_fd;
                }
        }
        if ((req->namespaces & NAMESPACE_BIT(NAMESPACE_PID)) &&
            ((sb->namespaces | sb->exec_base.joined_namespaces) & NAMESPACE_BIT(NAMESPACE_PID))) {
                pid_fd = sandbox_open_namespace(sb, NAMESPACE_PID);
                if (pid_fd < 0) {
                        safe_close(user_fd);
                        safe_close(mount_fd);
                        return pid_fd;
                }
        }
        *ret = (SpawnParent) { .user_fd = user_fd, .mount_fd = mount_fd, .pid_fd = pid_fd, .uid = uid, .gid = gid };
        return 0;
}

/* Whether the namespace of type t with inode ino is one sb's processes are in: 1, 0, or a negative errno. */
static int is_namespace_of(const Sandbox *sb, NamespaceType t, const struct stat *want) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!((sb->namespaces | sb->exec_base.joined_namespaces) & NAMESPACE_BIT(t)))
                return 0; /* the host's, or what its process made of its own */
        fd = sandbox_open_namespace(sb, t);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        return st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

/* The running sandbox nested below sb (not sb itself) that made the namespace of type t with inode ino, or NULL. */
static const Sandbox *made_below(const Sandbox *sb, NamespaceType t, uint64_t ino) {
        for (const Sandbox *d = sandbox_tree_next(sb, sb); d; d = sandbox_tree_next(sb, d)) {
                if (sandbox_is_nested(d) && d->phase == SANDBOX_PHASE_LIVE && !d->reaped &&
                    sandbox_origin_namespace(&d->origin, t) == ino)
                        return d;
        }
        return NULL;
}

/*
 * The request's joins, each opened from the fd the caller sent as the
 * namespace it names now (an nsfs fd of that type, or a pidfd's namespace of
 * that type) and judged by that open namespace's identity, never by a path:
 * what is joined is what was judged, whatever the caller does with its fd or
 * process afterwards. Allowed: a namespace sb's processes are in (a join
 * that changes nothing), or one a sandbox nested below sb made, which sb
 * could enter itself (it made that sandbox) but for its user namespace,
 * whose user and maps are that sandbox's (an Exec into it is the way in).
 * The host's, an ancestor's, a sibling's, another user's, or one the caller
 * made are refused by name. ret_fds[i]: the open namespace of join i.
 */
static int open_joins(const Sandbox *sb, const SpawnRequest *req, const int *message_fds, size_t n_message_fds,
                      int *ret_fds, char *field, size_t field_size, char *reason, size_t reason_size) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                const JoinNamespace *j = &req->join_namespaces[i];
                _cleanup_close_ int ns = -EBADF;
                const Sandbox *below = NULL;
                char name[64];
                struct stat st;

                snprintf(name, sizeof name, "joinNamespaces[%zu].fileDescriptor", i);
                r = j->fd_index >= 0 && (size_t) j->fd_index < n_message_fds ?
                            namespace_fd_open(message_fds[j->fd_index], j->type, &ns) :
                            -EBADF;
                if (r >= 0 && fstat(ns, &st) < 0)
                        r = -errno;
                if (r >= 0) {
                        r = is_namespace_of(sb, j->type, &st);
                        if (r == 0)
                                below = made_below(sb, j->type, (uint64_t) st.st_ino);
                }
                if (r == -EINVAL || r == -EBADF || r == -EOPNOTSUPP) {
                        snprintf(field, field_size, "%s", name);
                        r = -EINVAL;
                }
                if (r == 0 && below && j->type == NAMESPACE_USER)
                        r = sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                   "the user namespace of sandbox %s nested in the sandbox: its users and maps are "
                                   "that sandbox's, Exec into it instead",
                                   below->id);
                /* Joined before the filter is loaded, as namespaces are made: a profile of the sandbox's own
                 * may forbid setns(), which it then could not do itself. */
                else if (r == 0 && below && sb->exec_base.seccomp && !seccomp_program_is_default(sb->exec_base.seccomp))
                        r = sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                   "the sandbox runs under a seccomp profile of its own, which may forbid joining "
                                   "namespaces: a nested sandbox joins none but its own");
                else if (r == 0 && !below)
                        r = sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                                   "not a %s namespace of the sandbox or of a sandbox nested in it (the host's, "
                                   "another sandbox's, or one made outside the daemon)",
                                   namespace_type_to_proc_name(j->type));
                if (r < 0) {
                        close_many(ret_fds, n);
                        return r;
                }
                ret_fds[n++] = TAKE_FD(ns);
        }
        return 0;
}

static uint64_t sandbox_hard_limit(const Sandbox *sb, int type);

int sandbox_nested_caller_limits(const Caller *caller, uint64_t ret_hard[static RLIMIT_NLIMITS]) {
        uint64_t hard[RLIMIT_NLIMITS];
        char path[64], line[256];
        size_t n = 0;
        FILE *f;

        if (caller->pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof path, "/proc/%d/limits", (int) caller->pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        /* The kernel's table: a header, then one line per resource in RLIMIT_* order, the name padded to 25. */
        if (!fgets(line, sizeof line, f)) {
                fclose(f);
                return -EBADMSG;
        }
        for (; n < RLIMIT_NLIMITS && fgets(line, sizeof line, f); n++) {
                char soft[32], word[32], *end;

                if (strlen(line) < 26 || sscanf(line + 26, "%31s %31s", soft, word) != 2)
                        break;
                if (streq(word, "unlimited"))
                        hard[n] = SANDBOX_RLIMIT_INFINITY;
                else {
                        errno = 0;
                        hard[n] = strtoull(word, &end, 10);
                        if (errno != 0 || *end != '\0')
                                break;
                }
        }
        fclose(f);
        if (n != RLIMIT_NLIMITS)
                return -EBADMSG;
        /* Its pid named it until now. */
        if (caller->pidfd >= 0 && syscall(SYS_pidfd_send_signal, caller->pidfd, 0, NULL, 0) < 0)
                return -errno;
        memcpy(ret_hard, hard, sizeof hard);
        return 0;
}

int sandbox_nested_check_caller_limits(const Sandbox *sb, const SpawnRequest *req,
                                       const uint64_t hard[static RLIMIT_NLIMITS], char *field, size_t field_size,
                                       char *reason, size_t reason_size) {
        for (size_t i = 0; i < req->n_rlimits; i++) {
                const SandboxRlimit *l = &req->rlimits[i];
                char name[64];

                /* Above the sandbox's too: sandbox_nested_prepare() names that. */
                if (l->type < 0 || l->type >= RLIMIT_NLIMITS || l->hard <= hard[l->type] ||
                    l->hard > sandbox_hard_limit(sb, l->type))
                        continue;
                snprintf(name, sizeof name, "rlimits[%zu].hard", i);
                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                              "%s hard limit %" PRIu64 " is above the calling process's %" PRIu64,
                              rlimit_type_to_string(l->type) ?: "?", l->hard, hard[l->type]);
        }
        return 0;
}

int sandbox_nested_clamp_limits(SpawnRequest *req, const uint64_t hard[static RLIMIT_NLIMITS]) {
        for (int type = 0; type < RLIMIT_NLIMITS; type++) {
                SandboxRlimit *l = NULL;
                struct rlimit base;

                for (size_t i = 0; i < req->n_rlimits && !l; i++)
                        if (req->rlimits[i].type == type)
                                l = &req->rlimits[i];
                if (!l) {
                        SandboxRlimit *a;

                        spawn_get_default_rlimit(type, &base);
                        if (base.rlim_max != RLIM_INFINITY && (uint64_t) base.rlim_max <= hard[type])
                                continue;
                        if (hard[type] == SANDBOX_RLIMIT_INFINITY)
                                continue;
                        a = reallocarray(req->rlimits, req->n_rlimits + 1, sizeof(SandboxRlimit));
                        if (!a)
                                return -ENOMEM;
                        req->rlimits = a;
                        l = &a[req->n_rlimits++];
                        *l = (SandboxRlimit) {
                                .type = type,
                                .soft = base.rlim_cur == RLIM_INFINITY ? SANDBOX_RLIMIT_INFINITY : (uint64_t) base.rlim_cur,
                                .hard = base.rlim_max == RLIM_INFINITY ? SANDBOX_RLIMIT_INFINITY : (uint64_t) base.rlim_max,
                        };
                }
                l->hard = MIN(l->hard, hard[type]);
                l->soft = MIN(l->soft, l->hard);
        }
        return 0;
}

/* The hard limit sb's processes started with: its own rlimits, else what every sandbox gets. */
static uint64_t sandbox_hard_limit(const Sandbox *sb, int type) {
        struct rlimit base;

        for (size_t i = 0; i < sb->n_rlimits; i++)
                if (sb->rlimits[i].type == type)
                        return sb->rlimits[i].hard;
        spawn_get_default_rlimit(type, &base);
        return base.rlim_max == RLIM_INFINITY ? SANDBOX_RLIMIT_INFINITY : (uint64_t) base.rlim_max;
}

/* rlimits of its own: none above sb's (the daemon sets them with prlimit(), which could raise them). */
static int check_rlimits(const Sandbox *sb, const SandboxRlimit *own, size_t n_own, char *field, size_t field_size,
                         char *reason, size_t reason_size) {
        for (size_t i = 0; i < n_own; i++) {
                uint64_t ceiling = sandbox_hard_limit(sb, own[i].type);
                char name[64];

                if (own[i].hard <= ceiling)
                        continue;
                snprintf(name, sizeof name, "rlimits[%zu].hard", i);
                return sandbox_nested_refuse(field, field_size, name, reason, reason_size,
                              "%s hard limit %" PRIu64 " is above the sandbox's %" PRIu64,
                              rlimit_type_to_string(own[i].type) ?: "?", own[i].hard, ceiling);
        }
        return 0;
}

/* The sandbox's rlimits (sandbox_exec_prepare() put them in req), each type own names replaced by its own. */
static int merge_rlimits(SpawnRequest *req, const SandboxRlimit *own, size_t n_own) {
        SandboxRlimit *l;

        l = reallocarray(req->rlimits, req->n_rlimits + n_own, sizeof(SandboxRlimit));
        if (!l)
                return -ENOMEM;
        req->rlimits = l;
        for (size_t i = 0; i < n_own; i++) {
                size_t k = 0;

                while (k < req->n_rlimits && l[k].type != own[i].type)
                        k++;
                l[k] = own[i];
                if (k == req->n_rlimits)
                        req->n_rlimits++;
        }
        return 0;
}

int sandbox_nested_prepare(const Sandbox *sb, SpawnRequest *req, const int *message_fds, size_t n_message_fds,
                           const CapabilityMasks *capabilities, SandboxExecPlan *ret,
                           const CapabilityMasks **ret_capabilities, char *field, size_t field_size, char *reason,
                           size_t reason_size) {
        bool new_user = req->namespaces & NAMESPACE_BIT(NAMESPACE_USER);
        _cleanup_free_ SandboxRlimit *own_rlimits = NULL;
        size_t n_own_rlimits = 0;
        bool had_user = req->has_user, has_parent = false;
        SpawnParent parent = { .user_fd = -EBADF, .mount_fd = -EBADF, .pid_fd = -EBADF };
        size_t n_joins = req->n_join_namespaces;
        int init = req->init, join_fds[_NAMESPACE_TYPE_MAX], r;

        r = check_shape(sb, req, capabilities, field, field_size, reason, reason_size);
        if (r < 0)
                return r;
        /* One join per type, the decoder made sure. */
        assert(n_joins <= _NAMESPACE_TYPE_MAX);
        /* "No profile of its own", as a nested bubblewrap asks: the kernel keeps the sandbox's filter under
         * whatever comes after, so it runs under that one, which the policy judges as an Exec's. */
        if (req->seccomp_profile == SECCOMP_PROFILE_UNCONFINED)
                req->seccomp_profile = -1;
        /* Inside its user namespace, only its own user; a user namespace of its own maps its own. */
        if (!new_user) {
                r = sandbox_nested_check_user(sb, req, field, field_size, reason, reason_size);
                if (r < 0)
                        return r;
                r = sandbox_exec_check_user(sb, req, field, field_size);
                if (r < 0)
                        return r;
        }

        r = check_rlimits(sb, req->rlimits, req->n_rlimits, field, field_size, reason, reason_size);
        if (r < 0)
                return r;

        r = open_joins(sb, req, message_fds, n_message_fds, join_fds, field, field_size, reason, reason_size);
        if (r < 0)
                return r;
        if (new_user && sb->exec_base.user_namespace) {
                r = plan_parent(sb, req, &parent, field, field_size, reason, reason_size);
                if (r < 0) {
                        close_many(join_fds, n_joins);
                        return r;
                }
                has_parent = true;
        }

        own_rlimits = TAKE_PTR(req->rlimits);
        n_own_rlimits = req->n_rlimits;
        req->n_rlimits = 0;
        r = sandbox_exec_prepare(sb, req, message_fds, n_message_fds, ret);
        if (r >= 0) {
                r = merge_rlimits(req, own_rlimits, n_own_rlimits);
                if (r < 0)
                        sandbox_exec_plan_done(ret);
        }
        if (r < 0) {
                if (has_parent) {
                        safe_close(parent.user_fd);
                        safe_close(parent.mount_fd);
                        safe_close(parent.pid_fd);
                }
                close_many(join_fds, n_joins);
                return r;
        }
        ret->has_parent = has_parent;
        ret->parent = parent;
        /* The request's own joins (first in its list; sandbox_exec_prepare() added sb's after them and left
         * room) name the namespaces judged above, not the fds the caller sent. */
        for (size_t i = 0; i < n_joins; i++) {
                ret->fds[ret->n_fds] = join_fds[i];
                req->join_namespaces[i].fd_index = (int) ret->n_fds++;
        }

        /* In a user namespace of its own, the engine's default user (root there), not the sandbox's. */
        if (new_user && !had_user) {
                free(req->additional_gids);
                req->additional_gids = NULL;
                req->n_additional_gids = 0;
                req->has_user = false;
        }
        /* Its own pid namespace (where the sandbox has none) has an init as any Spawn's. */
        if (req->namespaces & NAMESPACE_BIT(NAMESPACE_PID))
                req->init = init;

        *ret_capabilities = capabilities ?: (sb->exec_base.has_capabilities ? &sb->exec_base.capabilities : NULL);
        return 0;
}
