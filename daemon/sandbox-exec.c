/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec into a running sandbox: what is kept of the sandbox's own process,
 * and how an Exec request becomes a Spawn of the spawn engine (see
 * sandbox-exec.h). The namespace fds are opened through /proc of the
 * sandbox's top process, which the daemon has not reaped (it only reaps on
 * the loop, and this runs on it), so its pid is still its own; /proc is the
 * kernel's, never a file system a caller controls.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "sandbox-exec.h"
#include "sandbox.h"

static int copy_ids(const gid_t *from, size_t n, gid_t **ret) {
        gid_t *l;

        *ret = NULL;
        if (n == 0)
                return 0;
        l = calloc(n, sizeof(gid_t));
        if (!l)
                return -ENOMEM;
        memcpy(l, from, n * sizeof(gid_t));
        *ret = l;
        return 0;
}

static int strv_copy(char *const *l, char ***ret) {
        size_t n = strv_length(l);
        char **c;

        *ret = NULL;
        if (!l)
                return 0;
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i]) {
                        strv_free(c);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

unsigned sandbox_joined_namespaces(const SpawnRequest *req) {
        unsigned types = 0;

        for (size_t i = 0; i < req->n_join_namespaces; i++)
                types |= NAMESPACE_BIT(req->join_namespaces[i].type);
        /* Its command runs in that one, which an Exec then joins from its top process. */
        if (req->command_userns_fd_index >= 0)
                types |= NAMESPACE_BIT(NAMESPACE_USER);
        return types;
}

int sandbox_exec_base_init(SandboxExecBase *base, const SpawnRequest *req, const Caller *creator,
                           SeccompProgram *seccomp, const CapabilityMasks *capabilities, const SpawnHandle *handle) {
        SandboxExecBase b = {
                .kept = true,
                .uid = handle->uid,
                .gid = handle->gid,
                .set_groups = handle->set_groups,
                .creator_uid = creator->uid,
                .creator_gid = creator->gid,
                .creator_privileged = creator->privileged,
                .disable_user_namespaces = req->disable_user_namespaces,
                .own_seccomp_programs = req->n_seccomp_fds > 0,
        };
        int r;

        b.joined_namespaces = sandbox_joined_namespaces(req);
        b.user_namespace = (req->namespaces | b.joined_namespaces) & NAMESPACE_BIT(NAMESPACE_USER);
        if (capabilities) {
                b.has_capabilities = true;
                b.capabilities = *capabilities;
        }

        r = copy_ids(handle->groups, handle->set_groups ? handle->n_groups : 0, &b.groups);
        if (r >= 0)
                b.n_groups = handle->set_groups ? handle->n_groups : 0;
        if (r >= 0)
                r = copy_ids(creator->groups, creator->n_groups, &b.creator_groups);
        if (r >= 0)
                b.n_creator_groups = creator->n_groups;
        if (r >= 0 && req->cwd) {
                b.cwd = strdup(req->cwd);
                if (!b.cwd)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = strv_copy(req->cwd_fallbacks, &b.cwd_fallbacks);
        if (r < 0) {
                sandbox_exec_base_done(&b);
                *base = (SandboxExecBase) {};
                return r;
        }

        b.seccomp = seccomp_program_ref(seccomp);
        *base = b;
        return 0;
}

void sandbox_exec_base_done(SandboxExecBase *base) {
        free(base->groups);
        free(base->creator_groups);
        free(base->cwd);
        strv_free(base->cwd_fallbacks);
        seccomp_program_unref(base->seccomp);
        *base = (SandboxExecBase) {};
}

/* ---- the user an Exec asks for ---- */

/* Whether /proc/PID/FILE (uid_map or gid_map) maps id inside. */
static int proc_map_has(pid_t pid, const char *file, uint32_t id) {
        char path[64];
        uint32_t inside, outside, count;
        int found = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (!found && fscanf(f, "%" SCNu32 " %" SCNu32 " %" SCNu32, &inside, &outside, &count) == 3)
                found = id >= inside && (uint64_t) id < (uint64_t) inside + count;
        fclose(f);
        return found;
}

static int proc_setgroups_allowed(pid_t pid) {
        char path[64], word[16] = "";
        int n;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/setgroups", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fscanf(f, "%15s", word);
        fclose(f);
        if (n != 1)
                return -EIO;
        return streq(word, "allow");
}

bool sandbox_exec_base_has_group(const SandboxExecBase *b, gid_t gid) {
        const gid_t *groups = b->set_groups ? b->groups : b->creator_groups;
        size_t n = b->set_groups ? b->n_groups : b->n_creator_groups;

        if (gid == b->gid)
                return true;
        for (size_t i = 0; i < n; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

static bool creator_has_group(const SandboxExecBase *b, gid_t gid) {
        if (gid == b->creator_gid)
                return true;
        for (size_t i = 0; i < b->n_creator_groups; i++)
                if (b->creator_groups[i] == gid)
                        return true;
        return false;
}

_printf_(3, 4) static int bad_field(char *field, size_t size, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(field, size, format, ap);
        va_end(ap);
        return -EINVAL;
}

static int check_user_in_namespace(const Sandbox *sb, const SpawnRequest *p, char *field, size_t size) {
        int r;

        r = proc_map_has(sb->pid, "uid_map", p->uid);
        if (r <= 0)
                return r < 0 ? r : bad_field(field, size, "user.uid");
        r = proc_map_has(sb->pid, "gid_map", p->gid);
        if (r <= 0)
                return r < 0 ? r : bad_field(field, size, "user.gid");
        if (p->n_additional_gids == 0)
                return 0;
        r = proc_setgroups_allowed(sb->pid);
        if (r <= 0)
                return r < 0 ? r : bad_field(field, size, "user.additionalGids");
        for (size_t i = 0; i < p->n_additional_gids; i++) {
                r = proc_map_has(sb->pid, "gid_map", p->additional_gids[i]);
                if (r <= 0)
                        return r < 0 ? r : bad_field(field, size, "user.additionalGids[%zu]", i);
        }
        return 0;
}

/* Host ids: what its creator is, unless root made it. */
static int check_user_on_host(const SandboxExecBase *b, const SpawnRequest *p, char *field, size_t size) {
        if (b->creator_privileged)
                return 0;
        if (p->uid != b->creator_uid)
                return bad_field(field, size, "user.uid");
        if (!creator_has_group(b, p->gid))
                return bad_field(field, size, "user.gid");
        for (size_t i = 0; i < p->n_additional_gids; i++)
                if (!creator_has_group(b, p->additional_gids[i]))
                        return bad_field(field, size, "user.additionalGids[%zu]", i);
        return 0;
}

int sandbox_setgroups_allowed(const Sandbox *sb) {
        return proc_setgroups_allowed(sb->pid);
}

int sandbox_exec_check_user(const Sandbox *sb, const SpawnRequest *process, char *field, size_t field_size) {
        if (!process->has_user)
                return 0;
        /* (uid_t) -1 is no id; the decoder refuses it already. */
        if (sb->exec_base.user_namespace)
                return check_user_in_namespace(sb, process, field, field_size);
        return check_user_on_host(&sb->exec_base, process, field, field_size);
}

/* ---- the Spawn an Exec becomes ---- */

void sandbox_exec_plan_done(SandboxExecPlan *p) {
        for (size_t i = p->n_message_fds; i < p->n_fds; i++)
                safe_close(p->fds[i]);
        if (p->has_parent) {
                safe_close(p->parent.user_fd);
                safe_close(p->parent.mount_fd);
                safe_close(p->parent.pid_fd);
        }
        free(p->fds);
        *p = (SandboxExecPlan) {};
}

static int add_join(SpawnRequest *process, NamespaceType type, int fd_index) {
        JoinNamespace *j = reallocarray(process->join_namespaces, process->n_join_namespaces + 1, sizeof(JoinNamespace));

        if (!j)
                return -ENOMEM;
        j[process->n_join_namespaces++] = (JoinNamespace) { .type = type, .fd_index = fd_index };
        process->join_namespaces = j;
        return 0;
}

int sandbox_open_namespace(const Sandbox *sb, NamespaceType type) {
        const char *name = namespace_type_to_proc_name(type);
        char path[64];
        int fd;

        if (sb->reaped)
                return -ESRCH;
        /* Its top process stays outside the pid namespace it made (spawn-child.c's fork_pid1()), and outside
         * a time namespace it made with it: its children's are the sandbox's. */
        if (sb->origin.pid_namespace_below && type == NAMESPACE_PID && sb->pid_namespace_below_fd >= 0)
                return fd_dup_cloexec(sb->pid_namespace_below_fd);
        if (sb->origin.pid_namespace_below && (type == NAMESPACE_PID || type == NAMESPACE_TIME))
                snprintf(path, sizeof path, "/proc/%d/ns/%s_for_children", (int) sb->pid, name);
        else
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) sb->pid, name);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

/* Every namespace sb has, from its top process, after the message's fds; and the joins that name them. A type
 * the process creates (a nested Spawn's, sandbox-nested.h) is made inside sb's instead of joined, and one it
 * joins itself (a nested Spawn's join, checked to be sb's or one nested in it) is not joined twice. */
static int plan_joins(const Sandbox *sb, SpawnRequest *process, SandboxExecPlan *p) {
        unsigned types = (sb->namespaces | sb->exec_base.joined_namespaces) & ~process->namespaces;

        for (size_t i = 0; i < process->n_join_namespaces; i++)
                types &= ~NAMESPACE_BIT(process->join_namespaces[i].type);

        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                int fd, r;

                if (!(types & NAMESPACE_BIT(t)))
                        continue;
                fd = sandbox_open_namespace(sb, t);
                if (fd < 0)
                        return fd;
                p->fds[p->n_fds++] = fd;
                r = add_join(process, t, (int) p->n_fds - 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_user(const SandboxExecBase *b, SpawnRequest *process) {
        int r;

        if (process->has_user)
                return 0;
        process->has_user = true;
        process->uid = b->uid;
        process->gid = b->gid;
        free(process->additional_gids);
        process->additional_gids = NULL;
        process->n_additional_gids = 0;
        /* Groups it kept from its clone are the creator's, which the engine gives this one too. */
        if (b->n_groups > 0) {
                r = copy_ids(b->groups, b->n_groups, (gid_t **) &process->additional_gids);
                if (r < 0)
                        return r;
                process->n_additional_gids = b->n_groups;
        }
        return 0;
}

static int plan_cwd(const SandboxExecBase *b, SpawnRequest *process) {
        if (process->cwd)
                return 0;
        if (b->cwd) {
                process->cwd = strdup(b->cwd);
                if (!process->cwd)
                        return -ENOMEM;
        }
        strv_free(process->cwd_fallbacks);
        return strv_copy(b->cwd_fallbacks, &process->cwd_fallbacks);
}

static int plan_rlimits(const Sandbox *sb, SpawnRequest *process) {
        if (sb->n_rlimits == 0)
                return 0;
        free(process->rlimits);
        process->rlimits = calloc(sb->n_rlimits, sizeof(SandboxRlimit));
        if (!process->rlimits)
                return -ENOMEM;
        memcpy(process->rlimits, sb->rlimits, sb->n_rlimits * sizeof(SandboxRlimit));
        process->n_rlimits = sb->n_rlimits;
        return 0;
}

int sandbox_exec_prepare(const Sandbox *sb, SpawnRequest *process, const int *message_fds, size_t n_message_fds,
                         SandboxExecPlan *ret) {
        const SandboxExecBase *b = &sb->exec_base;
        SandboxExecPlan p = {};
        int r;

        if (sb->reaped)
                return -ESRCH;

        p.fds = calloc(n_message_fds + _NAMESPACE_TYPE_MAX, sizeof(int));
        if (!p.fds)
                return -ENOMEM;
        if (n_message_fds > 0)
                memcpy(p.fds, message_fds, n_message_fds * sizeof(int));
        p.n_fds = p.n_message_fds = n_message_fds;

        r = plan_joins(sb, process, &p);
        if (r >= 0)
                r = plan_user(b, process);
        if (r >= 0)
                r = plan_cwd(b, process);
        if (r >= 0)
                r = plan_rlimits(sb, process);
        if (r < 0) {
                sandbox_exec_plan_done(&p);
                return r;
        }
        /* The sandbox has its pid 1 already; this is one more process in it. */
        process->init = 0;

        p.creator = (Caller) {
                .uid = b->creator_uid,
                .gid = b->creator_gid,
                .pid = 0,
                .pidfd = -EBADF,
                .groups = b->creator_groups,
                .n_groups = b->n_creator_groups,
                .privileged = b->creator_privileged,
        };
        *ret = p;
        return 0;
}
