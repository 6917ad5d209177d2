/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnsbox spawn descriptions and sandbox handles. A description is a
 * SpawnRequest (proto's typed form, encoded by proto) plus the fds it refers
 * to; fd indexes are assigned only when the call is sent, so unsetting or
 * replacing an fd never leaves a hole in the message's fd list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fd-util.h"
#include "macro.h"
#include "nsbox-internal.h"

struct NsboxSpawn {
        SpawnRequest *req;
        int stdio_fds[3];
        int block_fd; /* "blockFileDescriptor", or -EBADF */
        int command_userns_fd; /* "commandUserNamespaceFileDescriptor", or -EBADF */
        int *extra_fds; /* parallel to req->fds */
        int *mount_fds; /* parallel to req->mounts; -EBADF where the mount has no fd */
        int *join_fds;  /* parallel to req->join_namespaces */
        int *seccomp_fds; /* parallel to req->seccomp_fds */
        uint64_t swap_max; /* MemorySwapMax= (swap alone), turned into OCI's memory.swap when sent; UINT64_MAX: unset */
        uint64_t cpu_quota_permyriad; /* CPUQuota= as a share of one CPU, turned into a quota per period when sent */
};

struct NsboxSandbox {
        char *id;
        pid_t pid;
        int pidfd;
        uint64_t namespace_inodes[_NAMESPACE_TYPE_MAX]; /* 0: not in the reply */
};

_public_ NsboxSpawn *nsbox_spawn_free(NsboxSpawn *s) {
        if (!s)
                return NULL;
        close_many(s->stdio_fds, 3);
        safe_close(s->block_fd);
        safe_close(s->command_userns_fd);
        if (s->req) {
                close_many(s->extra_fds, s->req->n_fds);
                close_many(s->mount_fds, s->req->n_mounts);
                close_many(s->join_fds, s->req->n_join_namespaces);
                close_many(s->seccomp_fds, s->req->n_seccomp_fds);
        }
        free(s->seccomp_fds);
        free(s->extra_fds);
        free(s->mount_fds);
        free(s->join_fds);
        spawn_request_free(s->req);
        free(s);
        return NULL;
}

_public_ int nsbox_spawn_new(NsboxSpawn **ret) {
        NsboxSpawn *s;

        if (!ret)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < 3; i++)
                s->stdio_fds[i] = -EBADF;
        s->block_fd = -EBADF;
        s->command_userns_fd = -EBADF;
        s->swap_max = UINT64_MAX;
        s->req = spawn_request_new();
        if (!s->req) {
                free(s);
                return -ENOMEM;
        }

        *ret = s;
        return 0;
}

static int strv_copy(const char *const *l, char ***ret) {
        size_t n = strv_length((char *const *) l);
        _cleanup_strv_free_ char **copy = NULL;

        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(l[i]);
                if (!copy[i])
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(copy);
        return 0;
}

_public_ int nsbox_spawn_set_argv(NsboxSpawn *s, const char *const *argv) {
        char **copy;
        int r;

        if (!s || !argv || !argv[0] || !argv[0][0])
                return -EINVAL;

        r = strv_copy(argv, &copy);
        if (r < 0)
                return r;

        strv_free(s->req->argv);
        s->req->argv = copy;
        return 0;
}

_public_ int nsbox_spawn_set_namespaces(NsboxSpawn *s, unsigned flags) {
        if (!s || (flags & ~NSBOX_NAMESPACE_ALL))
                return -EINVAL;
        s->req->namespaces = namespaces_from_public(flags);
        return 0;
}

_public_ int nsbox_spawn_add_namespace(NsboxSpawn *s, const char *name) {
        int flag;

        if (!s)
                return -EINVAL;
        flag = nsbox_namespace_from_name(name);
        if (flag < 0)
                return flag;
        s->req->namespaces |= namespaces_from_public((unsigned) flag);
        return 0;
}

_public_ unsigned nsbox_spawn_get_namespaces(NsboxSpawn *s) {
        return s ? namespaces_to_public(s->req->namespaces) : 0;
}

_public_ int nsbox_spawn_join_namespace(NsboxSpawn *s, const char *name, int fd) {
        _cleanup_close_ int copy = -EBADF;
        NamespaceType type;
        JoinNamespace *j;
        int *f;
        size_t n;

        if (!s || !name)
                return -EINVAL;
        type = namespace_type_from_string(name);
        if (type < 0)
                return -EINVAL;
        copy = fd_dup_cloexec(fd);
        if (copy < 0)
                return copy;

        n = s->req->n_join_namespaces;
        for (size_t i = 0; i < n; i++)
                if (s->req->join_namespaces[i].type == type) {
                        safe_close(s->join_fds[i]);
                        s->join_fds[i] = TAKE_FD(copy);
                        return 0;
                }

        f = reallocarray(s->join_fds, n + 1, sizeof(int));
        if (!f)
                return -ENOMEM;
        s->join_fds = f;
        j = reallocarray(s->req->join_namespaces, n + 1, sizeof(JoinNamespace));
        if (!j)
                return -ENOMEM;
        s->req->join_namespaces = j;

        j[n] = (JoinNamespace) { .type = type, .fd_index = -1 };
        f[n] = TAKE_FD(copy);
        s->req->n_join_namespaces = n + 1;
        return 0;
}

static int add_mapping(IdMapping **list, size_t *n, uint32_t inside_id, uint32_t outside_id, uint32_t count) {
        IdMapping *l;

        if (count == 0 || (uint64_t) inside_id + count > (uint64_t) UINT32_MAX + 1 ||
            (uint64_t) outside_id + count > (uint64_t) UINT32_MAX + 1)
                return -EINVAL;

        l = reallocarray(*list, *n + 1, sizeof(IdMapping));
        if (!l)
                return -ENOMEM;
        l[(*n)++] = (IdMapping) { .container_id = inside_id, .host_id = outside_id, .size = count };
        *list = l;
        return 0;
}

_public_ int nsbox_spawn_add_uid_mapping(NsboxSpawn *s, uint32_t inside_id, uint32_t outside_id, uint32_t count) {
        if (!s)
                return -EINVAL;
        return add_mapping(&s->req->uid_mappings, &s->req->n_uid_mappings, inside_id, outside_id, count);
}

_public_ int nsbox_spawn_add_gid_mapping(NsboxSpawn *s, uint32_t inside_id, uint32_t outside_id, uint32_t count) {
        if (!s)
                return -EINVAL;
        return add_mapping(&s->req->gid_mappings, &s->req->n_gid_mappings, inside_id, outside_id, count);
}

_public_ int nsbox_spawn_set_setgroups(NsboxSpawn *s, bool allow) {
        if (!s)
                return -EINVAL;
        s->req->setgroups = allow;
        return 0;
}

_public_ int nsbox_spawn_set_environment(NsboxSpawn *s, char *const *envp) {
        char **copy = NULL;
        int r;

        if (!s)
                return -EINVAL;
        if (envp) {
                for (char *const *e = envp; *e; e++)
                        if (!strchr(*e, '='))
                                return -EINVAL;
                r = strv_copy((const char *const *) envp, &copy);
                if (r < 0)
                        return r;
        }

        strv_free(s->req->env);
        s->req->env = copy;
        return 0;
}

static bool env_name_is_valid(const char *name) {
        return name && *name && !strchr(name, '=');
}

/* Removes every NAME=... entry from the explicit list (creating an empty one if there is none). */
static int env_remove(NsboxSpawn *s, const char *name) {
        size_t len = strlen(name), j = 0;
        char **l = s->req->env;

        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                s->req->env = l;
                return 0;
        }

        for (size_t i = 0; l[i]; i++) {
                if (strncmp(l[i], name, len) == 0 && l[i][len] == '=')
                        free(l[i]);
                else
                        l[j++] = l[i];
        }
        l[j] = NULL;
        return 0;
}

_public_ int nsbox_spawn_set_env(NsboxSpawn *s, const char *name, const char *value) {
        _cleanup_free_ char *entry = NULL;
        size_t n;
        char **l;
        int r;

        if (!s || !env_name_is_valid(name) || !value)
                return -EINVAL;
        if (asprintf(&entry, "%s=%s", name, value) < 0) {
                entry = NULL;
                return -ENOMEM;
        }

        r = env_remove(s, name);
        if (r < 0)
                return r;

        n = strv_length(s->req->env);
        l = reallocarray(s->req->env, n + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        l[n] = TAKE_PTR(entry);
        l[n + 1] = NULL;
        s->req->env = l;
        return 0;
}

_public_ int nsbox_spawn_unset_env(NsboxSpawn *s, const char *name) {
        if (!s || !env_name_is_valid(name))
                return -EINVAL;
        return env_remove(s, name);
}

_public_ int nsbox_spawn_clear_env(NsboxSpawn *s) {
        char **l;

        if (!s)
                return -EINVAL;
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        strv_free(s->req->env);
        s->req->env = l;
        return 0;
}

static int set_string(char **field, const char *value) {
        char *copy = NULL;

        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

_public_ int nsbox_spawn_set_cwd(NsboxSpawn *s, const char *cwd) {
        return s ? set_string(&s->req->cwd, cwd) : -EINVAL;
}

_public_ int nsbox_spawn_set_cwd_fallbacks(NsboxSpawn *s, const char *const *paths) {
        char **copy = NULL;
        int r;

        if (!s)
                return -EINVAL;
        for (const char *const *p = paths; p && *p; p++)
                if ((*p)[0] != '/')
                        return -EINVAL;
        if (paths) {
                r = strv_copy(paths, &copy);
                if (r < 0)
                        return r;
        }
        strv_free(s->req->cwd_fallbacks);
        s->req->cwd_fallbacks = copy;
        return 0;
}

_public_ int nsbox_spawn_add_lock_file(NsboxSpawn *s, const char *path) {
        size_t n;
        char **l;

        if (!s || !path || path[0] != '/')
                return -EINVAL;
        n = strv_length(s->req->lock_files);
        if (n >= SPAWN_LOCK_FILES_MAX)
                return -E2BIG;
        l = realloc(s->req->lock_files, (n + 2) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        s->req->lock_files = l;
        l[n] = strdup(path);
        if (!l[n])
                return -ENOMEM;
        l[n + 1] = NULL;
        return 0;
}

_public_ int nsbox_spawn_set_argv0(NsboxSpawn *s, const char *argv0) {
        return s ? set_string(&s->req->argv0, argv0) : -EINVAL;
}

_public_ int nsbox_spawn_set_hostname(NsboxSpawn *s, const char *hostname) {
        return s ? set_string(&s->req->hostname, hostname) : -EINVAL;
}

_public_ int nsbox_spawn_set_root(NsboxSpawn *s, const char *root) {
        return s ? set_string(&s->req->root, root) : -EINVAL;
}

_public_ int nsbox_spawn_set_name(NsboxSpawn *s, const char *name) {
        return s ? set_string(&s->req->name, name) : -EINVAL;
}

_public_ int nsbox_spawn_set_user(NsboxSpawn *s, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        uint32_t *g = NULL;

        if (!s || (n_groups > 0 && !groups))
                return -EINVAL;
        if (n_groups > 0) {
                g = calloc(n_groups, sizeof(uint32_t));
                if (!g)
                        return -ENOMEM;
                for (size_t i = 0; i < n_groups; i++)
                        g[i] = groups[i];
        }

        free(s->req->additional_gids);
        s->req->has_user = true;
        s->req->uid = uid;
        s->req->gid = gid;
        s->req->additional_gids = g;
        s->req->n_additional_gids = n_groups;
        return 0;
}

/* Makes *slot a close-on-exec copy of fd (-1: none), closing what it held; the caller keeps fd. */
static int replace_with_copy(int *slot, int fd) {
        int copy = -EBADF;

        if (fd >= 0) {
                copy = fd_dup_cloexec(fd);
                if (copy < 0)
                        return copy;
        }
        safe_close(*slot);
        *slot = copy;
        return 0;
}

static int set_stdio(NsboxSpawn *s, unsigned which, int fd) {
        if (!s)
                return -EINVAL;
        return replace_with_copy(&s->stdio_fds[which], fd);
}

_public_ int nsbox_spawn_set_block_fd(NsboxSpawn *s, int fd) {
        if (!s)
                return -EINVAL;
        return replace_with_copy(&s->block_fd, fd);
}

_public_ int nsbox_spawn_set_command_user_namespace(NsboxSpawn *s, int fd) {
        if (!s)
                return -EINVAL;
        return replace_with_copy(&s->command_userns_fd, fd);
}

_public_ int nsbox_spawn_set_stdin(NsboxSpawn *s, int fd) {
        return set_stdio(s, 0, fd);
}

_public_ int nsbox_spawn_set_stdout(NsboxSpawn *s, int fd) {
        return set_stdio(s, 1, fd);
}

_public_ int nsbox_spawn_set_stderr(NsboxSpawn *s, int fd) {
        return set_stdio(s, 2, fd);
}

_public_ int nsbox_spawn_set_stdin_data(NsboxSpawn *s, const char *data, size_t size) {
        char *copy = NULL;

        if (!s || (!data && size > 0))
                return -EINVAL;
        if (data) {
                /* A JSON string: UTF-8 without NUL, or the daemon would take the request for a broken message. */
                if (!utf8_is_valid(data, size))
                        return -EINVAL;
                copy = strndup(data, size);
                if (!copy)
                        return -ENOMEM;
        }
        free(s->req->stdin_data);
        s->req->stdin_data = copy;
        return 0;
}

_public_ int nsbox_spawn_set_capture_output(NsboxSpawn *s, bool capture, uint64_t max_bytes) {
        if (!s || (!capture && max_bytes > 0) || max_bytes > INT64_MAX)
                return -EINVAL;
        s->req->capture_output = capture;
        s->req->capture_bytes = max_bytes;
        return 0;
}

_public_ int nsbox_spawn_add_fd(NsboxSpawn *s, int fd, int target) {
        _cleanup_close_ int copy = -EBADF;
        FdMapping *m;
        int *f;
        size_t n;

        if (!s || target < 3 || target > 1023)
                return -EINVAL;
        copy = fd_dup_cloexec(fd);
        if (copy < 0)
                return copy;

        n = s->req->n_fds;
        for (size_t i = 0; i < n; i++)
                if (s->req->fds[i].target == target) {
                        safe_close(s->extra_fds[i]);
                        s->extra_fds[i] = TAKE_FD(copy);
                        return 0;
                }

        f = reallocarray(s->extra_fds, n + 1, sizeof(int));
        if (!f)
                return -ENOMEM;
        s->extra_fds = f;
        m = reallocarray(s->req->fds, n + 1, sizeof(FdMapping));
        if (!m)
                return -ENOMEM;
        s->req->fds = m;

        m[n] = (FdMapping) { .target = target, .fd_index = -1 };
        f[n] = TAKE_FD(copy);
        s->req->n_fds = n + 1;
        return 0;
}

_public_ int nsbox_spawn_set_seccomp(NsboxSpawn *s, const char *profile_json) {
        _cleanup_(seccomp_spec_freep) SeccompSpec *spec = NULL;
        _cleanup_free_ char *field = NULL;
        struct json_object *o;
        SeccompProfileKind kind;
        int r;

        if (!s || !profile_json)
                return -EINVAL;

        kind = seccomp_profile_kind_from_string(profile_json);
        if (kind >= 0) {
                s->req->seccomp = seccomp_spec_free(s->req->seccomp);
                s->req->seccomp_profile = kind == SECCOMP_PROFILE_DEFAULT ? -1 : (int) kind;
                return 0;
        }

        o = json_tokener_parse(profile_json);
        if (!o)
                return -EINVAL;
        r = seccomp_spec_decode(o, "seccomp", &spec, &field);
        json_object_put(o);
        if (r < 0)
                return r;

        seccomp_spec_free(s->req->seccomp);
        s->req->seccomp = TAKE_PTR(spec);
        s->req->seccomp_profile = -1;
        return 0;
}

_public_ int nsbox_spawn_add_seccomp_fd(NsboxSpawn *s, int fd) {
        _cleanup_close_ int copy = -EBADF;
        size_t n;
        int *f, *idx;

        if (!s)
                return -EINVAL;
        n = s->req->n_seccomp_fds;
        if (n >= SECCOMP_FDS_MAX)
                return -E2BIG;
        copy = fd_dup_cloexec(fd);
        if (copy < 0)
                return copy;

        f = reallocarray(s->seccomp_fds, n + 1, sizeof(int));
        if (!f)
                return -ENOMEM;
        s->seccomp_fds = f;
        idx = reallocarray(s->req->seccomp_fds, n + 1, sizeof(int));
        if (!idx)
                return -ENOMEM;
        s->req->seccomp_fds = idx;

        idx[n] = -1;
        f[n] = TAKE_FD(copy);
        s->req->n_seccomp_fds = n + 1;
        return 0;
}

_public_ int nsbox_spawn_set_capabilities(NsboxSpawn *s, unsigned sets, const char *const *names) {
        CapabilitiesSpec *c;
        size_t n = strv_length((char *const *) names);

        if (!s || (sets & ~(unsigned) NSBOX_CAPABILITIES_ALL) || n > CAPABILITY_NAMES_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(names[i], "CAP_", 4) != 0)
                        return -EINVAL;

        if (!s->req->capabilities) {
                s->req->capabilities = calloc(1, sizeof(CapabilitiesSpec));
                if (!s->req->capabilities)
                        return -ENOMEM;
        }
        c = s->req->capabilities;

        for (CapabilitySet k = 0; k < _CAPABILITY_SET_MAX; k++) {
                char **copy;

                if (!(sets & (1U << k)))
                        continue;
                copy = calloc(n + 1, sizeof(char *));
                if (!copy)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        copy[i] = strdup(names[i]);
                        if (!copy[i]) {
                                strv_free(copy);
                                return -ENOMEM;
                        }
                }
                strv_free(c->names[k]);
                c->names[k] = copy;
                c->n_names[k] = n;
        }
        return 0;
}

_public_ int nsbox_spawn_set_disable_user_namespaces(NsboxSpawn *s, bool disable) {
        if (!s)
                return -EINVAL;
        s->req->disable_user_namespaces = disable;
        return 0;
}

/* Appends a mount; takes fd (closed on failure). */
static int add_mount(NsboxSpawn *s, MountKind kind, const char *source, int fd, const char *destination,
                     unsigned flags, uint64_t size, int mode) {
        _cleanup_close_ int owned_fd = fd;
        _cleanup_free_ char *src = NULL, *dst = NULL;
        MountEntry *m;
        int *f;
        size_t n;

        if (!s || !destination || destination[0] != '/' || mode > 07777)
                return -EINVAL;
        if (flags & ~(NSBOX_MOUNT_READ_ONLY | NSBOX_MOUNT_ALLOW_DEV | NSBOX_MOUNT_ALLOW_SUID | NSBOX_MOUNT_NO_EXEC |
                      NSBOX_MOUNT_OPTIONAL))
                return -EINVAL;
        /* Only a bind from a path has a source that can be missing. */
        if ((flags & NSBOX_MOUNT_OPTIONAL) && (kind != MOUNT_BIND || !source))
                return -EINVAL;

        dst = strdup(destination);
        if (!dst)
                return -ENOMEM;
        if (source) {
                src = strdup(source);
                if (!src)
                        return -ENOMEM;
        }

        n = s->req->n_mounts;
        f = reallocarray(s->mount_fds, n + 1, sizeof(int));
        if (!f)
                return -ENOMEM;
        s->mount_fds = f;
        m = reallocarray(s->req->mounts, n + 1, sizeof(MountEntry));
        if (!m)
                return -ENOMEM;
        s->req->mounts = m;

        m[n] = (MountEntry) {
                .kind = kind,
                .source = TAKE_PTR(src),
                .source_fd_index = -1,
                .destination = TAKE_PTR(dst),
                .read_only = flags & NSBOX_MOUNT_READ_ONLY,
                .allow_dev = flags & NSBOX_MOUNT_ALLOW_DEV,
                .allow_suid = flags & NSBOX_MOUNT_ALLOW_SUID,
                .no_exec = flags & NSBOX_MOUNT_NO_EXEC,
                .optional = flags & NSBOX_MOUNT_OPTIONAL,
                .size = size,
                .mode = mode < 0 ? -1 : mode,
        };
        f[n] = TAKE_FD(owned_fd);
        s->req->n_mounts = n + 1;
        return 0;
}

_public_ int nsbox_spawn_add_bind(NsboxSpawn *s, const char *source, const char *destination, unsigned flags) {
        if (!source || !*source)
                return -EINVAL;
        return add_mount(s, MOUNT_BIND, source, -EBADF, destination, flags, 0, -1);
}

_public_ int nsbox_spawn_add_bind_fd(NsboxSpawn *s, int source_fd, const char *destination, unsigned flags) {
        int copy = fd_dup_cloexec(source_fd);

        if (copy < 0)
                return copy;
        return add_mount(s, MOUNT_BIND, NULL, copy, destination, flags, 0, -1);
}

_public_ int nsbox_spawn_add_tmpfs(NsboxSpawn *s, const char *destination, uint64_t size, int mode, unsigned flags) {
        return add_mount(s, MOUNT_TMPFS, NULL, -EBADF, destination, flags, size, mode);
}

_public_ int nsbox_spawn_add_proc(NsboxSpawn *s, const char *destination) {
        return add_mount(s, MOUNT_PROC, NULL, -EBADF, destination, 0, 0, -1);
}

_public_ int nsbox_spawn_add_dev(NsboxSpawn *s, const char *destination) {
        return add_mount(s, MOUNT_DEV, NULL, -EBADF, destination, 0, 0, -1);
}

_public_ int nsbox_spawn_add_mqueue(NsboxSpawn *s, const char *destination) {
        return add_mount(s, MOUNT_MQUEUE, NULL, -EBADF, destination, 0, 0, -1);
}

_public_ int nsbox_spawn_add_dir(NsboxSpawn *s, const char *destination, int mode) {
        return add_mount(s, MOUNT_DIR, NULL, -EBADF, destination, 0, 0, mode);
}

_public_ int nsbox_spawn_add_symlink(NsboxSpawn *s, const char *target, const char *destination) {
        if (!target || !*target)
                return -EINVAL;
        return add_mount(s, MOUNT_SYMLINK, target, -EBADF, destination, 0, 0, -1);
}

_public_ int nsbox_spawn_add_file(NsboxSpawn *s, int fd, const char *destination, int mode) {
        int copy = fd_dup_cloexec(fd);

        if (copy < 0)
                return copy;
        return add_mount(s, MOUNT_FILE, NULL, copy, destination, 0, 0, mode);
}

_public_ int nsbox_spawn_add_bind_data(NsboxSpawn *s, int fd, const char *destination, int mode, unsigned flags) {
        int copy;

        if (flags & NSBOX_MOUNT_OPTIONAL)
                return -EINVAL;
        copy = fd_dup_cloexec(fd);
        if (copy < 0)
                return copy;
        return add_mount(s, MOUNT_BIND_DATA, NULL, copy, destination, flags, 0, mode);
}

_public_ int nsbox_spawn_add_chmod(NsboxSpawn *s, const char *path, int mode) {
        if (mode < 0)
                return -EINVAL;
        return add_mount(s, MOUNT_CHMOD, NULL, -EBADF, path, 0, 0, mode);
}

_public_ int nsbox_spawn_add_overlay(NsboxSpawn *s, const char *const *lower, const char *upper, const char *work,
                                     const char *destination, unsigned flags) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *u = NULL, *w = NULL;
        size_t n = 0;
        MountEntry *m;
        int r;

        if (!s || !lower || !!upper != !!work || ((flags & NSBOX_OVERLAY_TMP_UPPER) && upper) ||
            (flags & ~(NSBOX_OVERLAY_TMP_UPPER | NSBOX_MOUNT_READ_ONLY | NSBOX_MOUNT_NO_EXEC)))
                return -EINVAL;
        while (lower[n])
                n++;
        if (n == 0 || n > SANDBOX_OVERLAY_LAYERS_MAX || (!upper && !(flags & NSBOX_OVERLAY_TMP_UPPER) && n < 2))
                return -EINVAL;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (lower[i][0] != '/')
                        return -EINVAL;
                l[i] = strdup(lower[i]);
                if (!l[i])
                        return -ENOMEM;
        }
        if (upper && (upper[0] != '/' || work[0] != '/'))
                return -EINVAL;
        if (upper && (!(u = strdup(upper)) || !(w = strdup(work))))
                return -ENOMEM;

        r = add_mount(s, MOUNT_OVERLAY, NULL, -EBADF, destination, flags & ~NSBOX_OVERLAY_TMP_UPPER, 0, -1);
        if (r < 0)
                return r;
        m = &s->req->mounts[s->req->n_mounts - 1];
        m->lower_dirs = TAKE_PTR(l);
        m->upper_dir = TAKE_PTR(u);
        m->work_dir = TAKE_PTR(w);
        m->tmp_upper = flags & NSBOX_OVERLAY_TMP_UPPER;
        return 0;
}

_public_ int nsbox_spawn_add_remount_ro(NsboxSpawn *s, const char *destination) {
        return add_mount(s, MOUNT_REMOUNT_RO, NULL, -EBADF, destination, NSBOX_MOUNT_READ_ONLY, 0, -1);
}

_public_ int nsbox_spawn_set_time_offset(NsboxSpawn *s, clockid_t clock, int64_t secs, uint32_t nanosecs) {
        TimeOffset o = { .secs = secs, .nanosecs = nanosecs };

        if (!s || nanosecs >= 1000000000U)
                return -EINVAL;
        if (clock == CLOCK_MONOTONIC) {
                s->req->has_monotonic_offset = true;
                s->req->monotonic_offset = o;
        } else if (clock == CLOCK_BOOTTIME) {
                s->req->has_boottime_offset = true;
                s->req->boottime_offset = o;
        } else
                return -EINVAL;
        return 0;
}

_public_ int nsbox_spawn_set_init(NsboxSpawn *s, bool init) {
        if (!s)
                return -EINVAL;
        s->req->init = init;
        return 0;
}

_public_ int nsbox_spawn_set_new_session(NsboxSpawn *s, bool new_session) {
        if (!s)
                return -EINVAL;
        s->req->new_session = new_session;
        return 0;
}

_public_ int nsbox_spawn_set_keep_alive(NsboxSpawn *s, bool keep_alive) {
        if (!s)
                return -EINVAL;
        s->req->keep_alive = keep_alive;
        return 0;
}

/* Duplicates fd into the message's fd list and returns its index there. */
static uint64_t *resource_field(SandboxResources *r, NsboxResource which) {
        switch (which) {
        case NSBOX_RESOURCE_MEMORY_LIMIT:
                return &r->memory_limit;
        case NSBOX_RESOURCE_MEMORY_SWAP:
                return &r->memory_swap;
        case NSBOX_RESOURCE_MEMORY_HIGH:
                return &r->memory_high;
        case NSBOX_RESOURCE_PIDS_LIMIT:
                return &r->pids_limit;
        case NSBOX_RESOURCE_CPU_SHARES:
                return &r->cpu_shares;
        case NSBOX_RESOURCE_CPU_WEIGHT:
                return &r->cpu_weight;
        case NSBOX_RESOURCE_CPU_QUOTA:
                return &r->cpu_quota;
        case NSBOX_RESOURCE_CPU_PERIOD:
                return &r->cpu_period;
        default:
                return NULL;
        }
}

uint64_t resources_get(const SandboxResources *r, NsboxResource which) {
        uint64_t *f = resource_field((SandboxResources *) r, which);

        return f ? *f : 0;
}

/* The protocol's range of each limit: one outside it would be left out of the request as "not set". */
static bool resource_in_range(NsboxResource which, uint64_t v) {
        static const struct {
                uint64_t min, max;
        } ranges[_NSBOX_RESOURCE_MAX] = {
                [NSBOX_RESOURCE_MEMORY_LIMIT] = { 1, SANDBOX_BYTES_MAX },
                [NSBOX_RESOURCE_MEMORY_SWAP] = { 1, SANDBOX_BYTES_MAX },
                [NSBOX_RESOURCE_MEMORY_HIGH] = { 1, SANDBOX_BYTES_MAX },
                [NSBOX_RESOURCE_PIDS_LIMIT] = { 1, SANDBOX_PIDS_LIMIT_MAX },
                [NSBOX_RESOURCE_CPU_SHARES] = { SANDBOX_CPU_SHARES_MIN, SANDBOX_CPU_SHARES_MAX },
                [NSBOX_RESOURCE_CPU_WEIGHT] = { SANDBOX_CPU_WEIGHT_MIN, SANDBOX_CPU_WEIGHT_MAX },
                [NSBOX_RESOURCE_CPU_QUOTA] = { SANDBOX_CPU_QUOTA_MIN, SANDBOX_CPU_QUOTA_MAX },
                [NSBOX_RESOURCE_CPU_PERIOD] = { SANDBOX_CPU_PERIOD_MIN, SANDBOX_CPU_PERIOD_MAX },
        };

        return v == 0 || (v >= ranges[which].min && v <= ranges[which].max);
}

_public_ int nsbox_spawn_set_resource(NsboxSpawn *s, NsboxResource which, uint64_t value) {
        uint64_t *f;

        if (!s)
                return -EINVAL;
        f = resource_field(&s->req->resources, which);
        if (!f)
                return -EINVAL;
        if (!resource_in_range(which, value))
                return -ERANGE;
        *f = value;
        if (which == NSBOX_RESOURCE_MEMORY_SWAP)
                s->swap_max = UINT64_MAX;
        if (which == NSBOX_RESOURCE_CPU_QUOTA)
                s->cpu_quota_permyriad = 0;
        return 0;
}

_public_ uint64_t nsbox_spawn_get_resource(NsboxSpawn *s, NsboxResource which) {
        return s ? resources_get(&s->req->resources, which) : 0;
}

int spawn_set_swap_max(NsboxSpawn *s, uint64_t bytes) {
        if (!s)
                return -EINVAL;
        s->swap_max = bytes;
        s->req->resources.memory_swap = 0;
        return 0;
}

int spawn_set_cpu_quota_permyriad(NsboxSpawn *s, uint64_t permyriad) {
        if (!s)
                return -EINVAL;
        s->cpu_quota_permyriad = permyriad;
        s->req->resources.cpu_quota = 0;
        return 0;
}

/* The kernel's default CFS period. */
#define CPU_PERIOD_DEFAULT_USEC 100000U

int spawn_cpu_quota_to_send(const NsboxSpawn *s, uint64_t *ret_quota, uint64_t *ret_period) {
        uint64_t asked = s->req->resources.cpu_period, period = asked ?: CPU_PERIOD_DEFAULT_USEC,
                 share = s->cpu_quota_permyriad;

        *ret_quota = 0;
        *ret_period = asked;
        if (share == 0)
                return 0;
        /* Beyond 4096 CPUs: refused before share * period could overflow. */
        if (share > SANDBOX_CPU_QUOTA_MAX * 10000 / SANDBOX_CPU_PERIOD_MAX)
                return -ERANGE;
        /* Encoded, a quota under the protocol's least would be left out: "no quota", in silence. */
        if (share * period / 10000 < SANDBOX_CPU_QUOTA_MIN)
                period = (SANDBOX_CPU_QUOTA_MIN * 10000 + share - 1) / share;
        if (period > SANDBOX_CPU_PERIOD_MAX || share > SANDBOX_CPU_QUOTA_MAX * 10000 / period)
                return -ERANGE;
        *ret_quota = share * period / 10000;
        if (period != (asked ?: CPU_PERIOD_DEFAULT_USEC))
                *ret_period = period;
        return 0;
}

_public_ int nsbox_spawn_set_rlimit(NsboxSpawn *s, int resource, uint64_t soft, uint64_t hard) {
        SpawnRequest *req;
        SandboxRlimit *a;

        if (!s || !rlimit_type_to_string(resource) || soft > hard)
                return -EINVAL;
        req = s->req;
        for (size_t i = 0; i < req->n_rlimits; i++)
                if (req->rlimits[i].type == resource) {
                        req->rlimits[i].soft = soft;
                        req->rlimits[i].hard = hard;
                        return 0;
                }
        a = reallocarray(req->rlimits, req->n_rlimits + 1, sizeof(SandboxRlimit));
        if (!a)
                return -ENOMEM;
        a[req->n_rlimits++] = (SandboxRlimit) { .type = resource, .soft = soft, .hard = hard };
        req->rlimits = a;
        return 0;
}

_public_ int nsbox_spawn_set_runtime_max(NsboxSpawn *s, uint64_t usec) {
        if (!s || usec > INT64_MAX)
                return -EINVAL;
        s->req->runtime_max_usec = usec;
        return 0;
}

_public_ uint64_t nsbox_spawn_get_runtime_max(NsboxSpawn *s) {
        return s ? s->req->runtime_max_usec : 0;
}

static int message_add_fd(int *fds, size_t *n, int fd) {
        int copy = fd_dup_cloexec(fd);

        if (copy < 0)
                return copy;
        fds[*n] = copy;
        return (int) (*n)++;
}

/* Numbers the description's fds into a message's fd list (copies, owned by *ret_fds) and sets its indexes. */
static int spawn_message_fds(NsboxSpawn *s, int **ret_fds, size_t *ret_n) {
        SpawnRequest *req = s->req;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0, max;
        int r;

        if (!req->argv)
                return -EINVAL;

        max = 5 + req->n_fds + req->n_mounts + req->n_join_namespaces + req->n_seccomp_fds;
        fds = calloc(max, sizeof(int));
        if (!fds)
                return -ENOMEM;

        int *stdio_index[3] = { &req->stdin_index, &req->stdout_index, &req->stderr_index };
        for (size_t i = 0; i < 3; i++) {
                *stdio_index[i] = -1;
                if (s->stdio_fds[i] < 0)
                        continue;
                r = message_add_fd(fds, &n, s->stdio_fds[i]);
                if (r < 0)
                        goto fail;
                *stdio_index[i] = r;
        }
        req->block_fd_index = -1;
        if (s->block_fd >= 0) {
                r = message_add_fd(fds, &n, s->block_fd);
                if (r < 0)
                        goto fail;
                req->block_fd_index = r;
        }
        req->command_userns_fd_index = -1;
        if (s->command_userns_fd >= 0) {
                r = message_add_fd(fds, &n, s->command_userns_fd);
                if (r < 0)
                        goto fail;
                req->command_userns_fd_index = r;
        }
        for (size_t i = 0; i < req->n_fds; i++) {
                r = message_add_fd(fds, &n, s->extra_fds[i]);
                if (r < 0)
                        goto fail;
                req->fds[i].fd_index = r;
        }
        for (size_t i = 0; i < req->n_mounts; i++) {
                req->mounts[i].source_fd_index = -1;
                if (s->mount_fds[i] < 0)
                        continue;
                r = message_add_fd(fds, &n, s->mount_fds[i]);
                if (r < 0)
                        goto fail;
                req->mounts[i].source_fd_index = r;
        }

        for (size_t i = 0; i < req->n_join_namespaces; i++) {
                r = message_add_fd(fds, &n, s->join_fds[i]);
                if (r < 0)
                        goto fail;
                req->join_namespaces[i].fd_index = r;
        }
        for (size_t i = 0; i < req->n_seccomp_fds; i++) {
                r = message_add_fd(fds, &n, s->seccomp_fds[i]);
                if (r < 0)
                        goto fail;
                req->seccomp_fds[i] = r;
        }

        if (n > VARLINK_FDS_MAX) {
                r = -E2BIG;
                goto fail;
        }

        /* OCI counts memory and swap together; systemd's MemorySwapMax= is swap alone. */
        if (s->swap_max != UINT64_MAX) {
                if (req->resources.memory_limit == 0 || s->swap_max > INT64_MAX - req->resources.memory_limit) {
                        r = -EINVAL;
                        goto fail;
                }
                req->resources.memory_swap = req->resources.memory_limit + s->swap_max;
        }
        if (s->cpu_quota_permyriad != 0) {
                r = spawn_cpu_quota_to_send(s, &req->resources.cpu_quota, &req->resources.cpu_period);
                if (r < 0)
                        goto fail;
        }

        *ret_fds = TAKE_PTR(fds);
        *ret_n = n;
        return 0;

fail:
        close_many(fds, n);
        return r;
}

_public_ int nsbox_spawn_send(NsboxConnection *c, NsboxSpawn *s) {
        struct json_object *parameters;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        int r;

        if (!c || !s)
                return -EINVAL;
        r = spawn_message_fds(s, &fds, &n);
        if (r < 0)
                return r;

        parameters = spawn_request_encode(s->req);
        if (!parameters) {
                close_many(fds, n);
                return -ENOMEM;
        }
        return connection_call_send(c, CALL_SPAWN, NSBOX_INTERFACE ".Spawn", parameters, fds, n);
}

/* The members of a Spawn an Exec takes as well; anything else in the description is the sandbox's to say. */
static bool exec_takes(const char *member) {
        static const char *const members[] = {
                "argv", "env", "cwd", "user", "stdin", "stdout", "stderr", "fileDescriptors",
                "seccompFileDescriptors", "newSession", "keepAlive", "stdinData", "captureOutput", "captureBytes",
        };

        for (size_t i = 0; i < ELEMENTSOF(members); i++)
                if (streq(members[i], member))
                        return true;
        return false;
}

_public_ int nsbox_exec_send(NsboxConnection *c, const char *id, NsboxSpawn *s) {
        struct json_object *spawn_parameters, *parameters;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        int r;

        if (!c || !id || !s)
                return -EINVAL;
        r = spawn_message_fds(s, &fds, &n);
        if (r < 0)
                return r;

        /* What the description says that an Exec cannot: refused here rather than dropped in silence. */
        spawn_parameters = spawn_request_encode(s->req);
        if (!spawn_parameters) {
                close_many(fds, n);
                return -ENOMEM;
        }
        r = 0;
        json_object_object_foreach(spawn_parameters, key, value) {
                (void) value;
                if (!exec_takes(key))
                        r = -EINVAL;
        }
        json_object_put(spawn_parameters);
        if (r < 0) {
                close_many(fds, n);
                return r;
        }

        parameters = exec_request_encode(&(ExecRequest) { .id = (char *) id, .process = *s->req });
        if (!parameters) {
                close_many(fds, n);
                return -ENOMEM;
        }
        return connection_call_send(c, CALL_EXEC, NSBOX_INTERFACE ".Exec", parameters, fds, n);
}

_public_ NsboxSandbox *nsbox_sandbox_free(NsboxSandbox *sb) {
        if (!sb)
                return NULL;
        safe_close(sb->pidfd);
        free(sb->id);
        free(sb);
        return NULL;
}

static int sandbox_call_finish(NsboxConnection *c, CallKind kind, NsboxSandbox **ret) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        struct json_object *parameters;
        SpawnReply reply = {};
        NsboxSandbox *sb;
        int r, pidfd;

        if (!c || !ret)
                return -EINVAL;

        r = connection_call_finish(c, kind, &m, &parameters);
        if (r < 0)
                return r;

        r = spawn_reply_decode(parameters, m.n_fds, &reply);
        if (r < 0)
                return -EBADMSG;

        sb = calloc(1, sizeof(*sb));
        if (!sb) {
                spawn_reply_done(&reply);
                return -ENOMEM;
        }

        pidfd = varlink_message_take_fd(&m, reply.pidfd_index);
        if (pidfd < 0) {
                free(sb);
                spawn_reply_done(&reply);
                return -EBADMSG;
        }

        sb->id = TAKE_PTR(reply.id);
        sb->pid = (pid_t) reply.pid;
        sb->pidfd = pidfd;
        if (reply.has_namespace_inodes)
                memcpy(sb->namespace_inodes, reply.namespace_inodes, sizeof sb->namespace_inodes);
        spawn_reply_done(&reply);

        *ret = sb;
        return 0;
}

_public_ int nsbox_spawn_finish(NsboxConnection *c, NsboxSandbox **ret) {
        return sandbox_call_finish(c, CALL_SPAWN, ret);
}

_public_ int nsbox_exec_finish(NsboxConnection *c, NsboxSandbox **ret) {
        return sandbox_call_finish(c, CALL_EXEC, ret);
}

_public_ int nsbox_exec(NsboxConnection *c, const char *id, NsboxSpawn *s, NsboxSandbox **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        r = connection_await_reply(c, nsbox_exec_send(c, id, s));
        if (r < 0)
                return r;
        return nsbox_exec_finish(c, ret);
}

_public_ int nsbox_spawn(NsboxConnection *c, NsboxSpawn *s, NsboxSandbox **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        r = connection_await_reply(c, nsbox_spawn_send(c, s));
        if (r < 0)
                return r;
        return nsbox_spawn_finish(c, ret);
}

_public_ const char *nsbox_sandbox_get_id(NsboxSandbox *sb) {
        return sb ? sb->id : NULL;
}

_public_ pid_t nsbox_sandbox_get_pid(NsboxSandbox *sb) {
        return sb ? sb->pid : -1;
}

_public_ int nsbox_sandbox_get_pidfd(NsboxSandbox *sb) {
        return sb ? sb->pidfd : -EINVAL;
}

_public_ int nsbox_sandbox_take_pidfd(NsboxSandbox *sb) {
        if (!sb)
                return -EINVAL;
        return TAKE_FD(sb->pidfd);
}

_public_ uint64_t nsbox_sandbox_get_namespace_inode(NsboxSandbox *sb, unsigned flag) {
        const char *name = nsbox_namespace_to_name(flag);
        NamespaceType t;

        if (!sb || !name)
                return 0;
        t = namespace_type_from_string(name);
        return t >= 0 ? sb->namespace_inodes[t] : 0;
}
