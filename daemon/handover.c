/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over state (see handover.h): one table per struct drives encode,
 * decode and free, as for the protocol, so the reader checks exactly what the
 * writer wrote; rules across fields are each table's verify step.
 */

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capabilities.h"
#include "fd-util.h"
#include "handover.h"
#include "log.h"
#include "json-codec.h"
#include "sandbox-protocol-tables.h"

#define FORMAT_NAME "nsboxd-state"
#define FD_NAME_MAX 255

static bool fd_name_is_valid(const char *s) {
        size_t n = strlen(s);

        /* As systemd takes FDNAME=: printable ASCII without ':'. */
        if (n == 0 || n > FD_NAME_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (*p <= ' ' || *p >= 127 || *p == ':')
                        return false;
        return true;
}

static bool keeper_name_is_valid(const char *s) {
        size_t n = strlen(HANDOVER_FD_KEEPER_PREFIX);
        char *end;
        long pid;

        if (strncmp(s, HANDOVER_FD_KEEPER_PREFIX, n) != 0 || !s[n])
                return false;
        pid = strtol(s + n, &end, 10);
        return !*end && pid > 1 && pid <= INT32_MAX && s[n] != '0' && s[n] != '+' && s[n] != '-';
}

static bool reaper_is_valid(const char *s) {
        return streq(s, HANDOVER_REAPER_SELF) || keeper_name_is_valid(s);
}

static bool keeper_entry_is_valid(const char *s, size_t i) {
        return keeper_name_is_valid(s);
}

/* As the daemon makes them (sandbox.c): 128 random bits in lowercase hex. */
static bool id_is_valid(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 32;
}

static bool format_is_valid(const char *s) {
        return streq(s, FORMAT_NAME);
}

static bool path_is_valid(const char *s) {
        return s[0] == '/';
}

/* Absolute, no "." or ".." component, no empty one but a trailing slash: used as it is. */
static bool exec_path_is_valid(const char *s) {
        if (s[0] != '/')
                return false;
        for (const char *p = s; *p;) {
                size_t n;

                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
        }
        return true;
}

static bool exec_fallback_is_valid(const char *s, size_t i) {
        return exec_path_is_valid(s);
}

static bool filter_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n % 16 != 0 || n / 16 > BPF_MAXINSNS)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

static const JsonString fd_name_string = { .max = FD_NAME_MAX, .valid = fd_name_is_valid };
static const JsonRange bytes_range = { 0, (int64_t) HANDOVER_CAPTURE_SIZE_MAX };
static const JsonRange mask_range = { 0, INT64_MAX };

static const JsonField capture_fields[] = {
        { "fileDescriptor", &json_kind_string, offsetof(HandoverCapture, fd), 0, &fd_name_string },
        { "offset", &json_kind_uint64, offsetof(HandoverCapture, offset), JSON_MANDATORY, &bytes_range },
        { "size", &json_kind_uint64, offsetof(HandoverCapture, size), JSON_MANDATORY, &bytes_range },
        {}
};

/* As the kernel takes them: at most NGROUPS_MAX. */
static const JsonArray groups_array = {
        sizeof(gid_t), { NULL, &json_kind_uint32, 0, JSON_MANDATORY }, .max = NGROUPS_MAX,
};

static const JsonField capabilities_fields[] = {
        { "bounding", &json_kind_uint64, offsetof(CapabilityMasks, set[CAPABILITY_SET_BOUNDING]), JSON_MANDATORY, &mask_range },
        { "effective", &json_kind_uint64, offsetof(CapabilityMasks, set[CAPABILITY_SET_EFFECTIVE]), JSON_MANDATORY, &mask_range },
        { "inheritable", &json_kind_uint64, offsetof(CapabilityMasks, set[CAPABILITY_SET_INHERITABLE]), JSON_MANDATORY, &mask_range },
        { "permitted", &json_kind_uint64, offsetof(CapabilityMasks, set[CAPABILITY_SET_PERMITTED]), JSON_MANDATORY, &mask_range },
        { "ambient", &json_kind_uint64, offsetof(CapabilityMasks, set[CAPABILITY_SET_AMBIENT]), JSON_MANDATORY, &mask_range },
        {}
};

/* SandboxExecBase but its seccomp program, which is HandoverSandbox.seccomp. */
static const JsonField exec_base_fields[] = {
        { "joinedNamespaces", &json_kind_uint32, offsetof(SandboxExecBase, joined_namespaces), 0,
          &(const JsonRange) { 0, NAMESPACE_ALL } },
        { "userNamespace", &json_kind_bool, offsetof(SandboxExecBase, user_namespace), 0 },
        { "uid", &json_kind_uint32, offsetof(SandboxExecBase, uid), JSON_MANDATORY },
        { "gid", &json_kind_uint32, offsetof(SandboxExecBase, gid), JSON_MANDATORY },
        { "setGroups", &json_kind_bool, offsetof(SandboxExecBase, set_groups), 0 },
        JSON_ARRAY_FIELD("groups", SandboxExecBase, groups, 0, &groups_array),
        { "creatorUID", &json_kind_uint32, offsetof(SandboxExecBase, creator_uid), JSON_MANDATORY },
        { "creatorGID", &json_kind_uint32, offsetof(SandboxExecBase, creator_gid), JSON_MANDATORY },
        JSON_ARRAY_FIELD("creatorGroups", SandboxExecBase, creator_groups, 0, &groups_array),
        { "creatorPrivileged", &json_kind_bool, offsetof(SandboxExecBase, creator_privileged), 0 },
        { "cwd", &json_kind_string, offsetof(SandboxExecBase, cwd), 0,
          &(const JsonString) { .max = PATH_MAX, .valid = exec_path_is_valid } },
        { "cwdFallbacks", &json_kind_strv, offsetof(SandboxExecBase, cwd_fallbacks), 0,
          &(const JsonStrv) { .valid = exec_fallback_is_valid } },
        { "capabilities", &json_kind_object, offsetof(SandboxExecBase, capabilities), JSON_PRESENCE,
          capabilities_fields, offsetof(SandboxExecBase, has_capabilities) },
        { "disableUserNamespaces", &json_kind_bool, offsetof(SandboxExecBase, disable_user_namespaces), 0 },
        {}
};

static const JsonField sandbox_fields[] = {
        { "info", &json_kind_object, offsetof(HandoverSandbox, info), JSON_MANDATORY, sandbox_info_fields },
        { "creatorGID", &json_kind_uint32, offsetof(HandoverSandbox, creator_gid), JSON_MANDATORY },
        { "creatorPID", &json_kind_int64, offsetof(HandoverSandbox, creator_pid), JSON_MANDATORY,
          &(const JsonRange) { 0, INT32_MAX } },
        { "topExited", &json_kind_bool, offsetof(HandoverSandbox, top_exited), 0 },
        { "discard", &json_kind_bool, offsetof(HandoverSandbox, discard), 0 },
        { "cgroup", &json_kind_bool, offsetof(HandoverSandbox, has_cgroup), 0 },
        { "madeInside", &json_kind_bool, offsetof(HandoverSandbox, made_inside), 0 },
        { "initOnDaemonMemory", &json_kind_bool, offsetof(HandoverSandbox, init_on_daemon_memory), 0 },
        { "pidFileDescriptor", &json_kind_string, offsetof(HandoverSandbox, pidfd), 0, &fd_name_string },
        { "reaper", &json_kind_string, offsetof(HandoverSandbox, reaper), JSON_MANDATORY,
          &(const JsonString) { .max = FD_NAME_MAX, .valid = reaper_is_valid } },
        { "captureOutput", &json_kind_bool, offsetof(HandoverSandbox, capturing), 0 },
        { "stdout", &json_kind_object, offsetof(HandoverSandbox, capture[0]), 0, capture_fields },
        { "stderr", &json_kind_object, offsetof(HandoverSandbox, capture[1]), 0, capture_fields },
        /* As capture-bytes-max allows at most (nsboxd(8)). */
        { "captureLimit", &json_kind_uint64, offsetof(HandoverSandbox, capture_limit), 0,
          &(const JsonRange) { 0, 1024 * 1024 * 1024 } },
        { "captureTotal", &json_kind_uint64, offsetof(HandoverSandbox, capture_total), 0, &bytes_range },
        { "captureTruncated", &json_kind_bool, offsetof(HandoverSandbox, capture_truncated), 0 },
        { "execBase", &json_kind_object, offsetof(HandoverSandbox, exec_base), JSON_PRESENCE, exec_base_fields,
          offsetof(HandoverSandbox, exec_base.kept) },
        { "seccomp", &json_kind_int, offsetof(HandoverSandbox, seccomp), 0,
          &(const JsonRange) { -1, HANDOVER_SANDBOXES_MAX } },
        {}
};

static void sandbox_init(void *e) {
        HandoverSandbox *sb = e;

        *sb = (HandoverSandbox) { .seccomp = -1 };
        sandbox_info_init_for_decode(&sb->info);
}

/* What Exec would trust of it: whom it was made for and what its process is. */
static const char *exec_base_check(const HandoverSandbox *sb, size_t n_seccomp) {
        const SandboxExecBase *b = &sb->exec_base;
        unsigned all = sb->info.namespaces | b->joined_namespaces;
        uint64_t caps = capability_all();

        if (!b->kept)
                return sb->seccomp == -1 ? NULL : "seccomp";
        if (sb->seccomp >= 0 && (size_t) sb->seccomp >= n_seccomp)
                return "seccomp";
        /* The creator is the owner, as the spawn recorded it; only root's are privileged. */
        if (b->creator_uid != sb->info.owner_uid || b->creator_gid != sb->creator_gid ||
            b->creator_privileged != (b->creator_uid == 0))
                return "execBase";
        if (b->user_namespace != !!(all & NAMESPACE_BIT(NAMESPACE_USER)) || (!b->set_groups && b->n_groups > 0) ||
            (b->joined_namespaces & sb->info.namespaces))
                return "execBase";
        for (size_t i = 0; b->has_capabilities && i < _CAPABILITY_SET_MAX; i++)
                if (b->capabilities.set[i] & ~caps)
                        return "execBase";
        return NULL;
}

/*
 * The fields that depend on each other, and against the records accepted
 * before it (n of them): ids unique, names unique per owner among those that
 * show. NULL if it holds, else the member to name.
 */
static const char *sandbox_check(const HandoverSandbox *accepted, size_t n, HandoverSandbox *sb,
                                 size_t n_seccomp) {
        SandboxState st = sb->info.state;
        bool running = st == SANDBOX_RUNNING, finished = !running && st != SANDBOX_STARTING;

        if (!id_is_valid(sb->info.id))
                return "info";
        for (size_t j = 0; j < n; j++) {
                if (streq(accepted[j].info.id, sb->info.id))
                        return "info";
                if (sb->info.name && !sb->discard && !accepted[j].discard && accepted[j].info.name &&
                    accepted[j].info.owner_uid == sb->info.owner_uid && streq(accepted[j].info.name, sb->info.name))
                        return "info";
        }
        if (!sandbox_info_state_is_consistent(&sb->info) || (st == SANDBOX_STARTING && !sb->discard) ||
            (sb->discard && st != SANDBOX_STARTING) || sb->info.pid < 2 ||
            (sb->info.sandbox && streq(sb->info.sandbox, sb->info.id)) ||
            (sb->info.namespaces & sb->info.joined_namespaces))
                return "info";
        /* Its top process is only followed through its pidfd while it runs. */
        if ((running || sb->discard) != !!sb->pidfd)
                return "pidFileDescriptor";
        /* Ended but for what is left in its cgroup: only with a cgroup, only once finished. */
        if (sb->top_exited && (!finished || !sb->has_cgroup))
                return "topExited";
        if (!sb->capturing && (sb->capture[0].fd || sb->capture[1].fd || sb->capture[0].size || sb->capture[1].size))
                return "captureOutput";
        if (sb->capture_total > sb->capture_limit)
                return "captureTotal";
        for (size_t k = 0; k < 2; k++)
                if (sb->capture[k].offset > HANDOVER_CAPTURE_SIZE_MAX - sb->capture[k].size ||
                    sb->capture[k].size > sb->capture_total)
                        return k == 0 ? "stdout" : "stderr";
        return exec_base_check(sb, n_seccomp);
}

static const JsonArray sandboxes_array = {
        sizeof(HandoverSandbox), JSON_OBJECT_ELEMENT(sandbox_fields), .max = HANDOVER_SANDBOXES_MAX,
        .init = sandbox_init,
};

static const JsonField seccomp_fields[] = {
        { "filter", &json_kind_string, offsetof(HandoverSeccomp, filter), JSON_MANDATORY,
          &(const JsonString) { .max = BPF_MAXINSNS * 16, .valid = filter_is_valid } },
        { "flags", &json_kind_uint32, offsetof(HandoverSeccomp, flags), 0,
          &(const JsonRange) { 0, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW } },
        {}
};

static const JsonArray seccomp_array = {
        sizeof(HandoverSeccomp), JSON_OBJECT_ELEMENT(seccomp_fields), .max = HANDOVER_SANDBOXES_MAX,
};

static const JsonField fd_fields[] = {
        { "name", &json_kind_string, offsetof(HandoverFd, name), JSON_MANDATORY, &fd_name_string },
        { "fd", &json_kind_int, offsetof(HandoverFd, fd), JSON_MANDATORY, &(const JsonRange) { 3, INT32_MAX } },
        {}
};

static int fd_verify(JsonCodec *c, void *elements, size_t i) {
        HandoverFd *fds = elements;

        for (size_t j = 0; j < i; j++) {
                if (streq(fds[j].name, fds[i].name))
                        return json_codec_invalid_member(c, "name");
                if (fds[j].fd == fds[i].fd)
                        return json_codec_invalid_member(c, "fd");
        }
        return 0;
}

static const JsonArray fds_array = {
        sizeof(HandoverFd), JSON_OBJECT_ELEMENT(fd_fields), .max = 2 * HANDOVER_SANDBOXES_MAX + 1024,
        .verify = fd_verify,
};

/* HandoverState with the document's own two members in front. */
typedef struct Document {
        char *format;
        uint32_t version;
        HandoverSandbox *sandboxes;
        size_t n_sandboxes;
        HandoverSeccomp *seccomp;
        size_t n_seccomp;
        char **keepers;
        char *own_keeper;
        char *socket_path;
        HandoverFd *fds;
        size_t n_fds;
} Document;

static Document document_of(const HandoverState *s) {
        return (Document) {
                .format = (char *) FORMAT_NAME,
                .version = HANDOVER_VERSION,
                .sandboxes = s->sandboxes,
                .n_sandboxes = s->n_sandboxes,
                .seccomp = s->seccomp,
                .n_seccomp = s->n_seccomp,
                .keepers = s->keepers,
                .own_keeper = s->own_keeper,
                .socket_path = s->socket_path,
                .fds = s->fds,
                .n_fds = s->n_fds,
        };
}

static HandoverState state_of(const Document *d) {
        return (HandoverState) {
                .sandboxes = d->sandboxes,
                .n_sandboxes = d->n_sandboxes,
                .seccomp = d->seccomp,
                .n_seccomp = d->n_seccomp,
                .keepers = d->keepers,
                .own_keeper = d->own_keeper,
                .socket_path = d->socket_path,
                .fds = d->fds,
                .n_fds = d->n_fds,
        };
}

static const JsonField document_fields[] = {
        { "format", &json_kind_string, offsetof(Document, format), JSON_MANDATORY,
          &(const JsonString) { .max = 64, .valid = format_is_valid } },
        { "version", &json_kind_uint32, offsetof(Document, version), JSON_MANDATORY,
          &(const JsonRange) { HANDOVER_VERSION_MIN, HANDOVER_VERSION } },
        JSON_ARRAY_FIELD("sandboxes", Document, sandboxes, 0, &sandboxes_array),
        JSON_ARRAY_FIELD("seccomp", Document, seccomp, 0, &seccomp_array),
        { "keepers", &json_kind_strv, offsetof(Document, keepers), 0,
          &(const JsonStrv) { .valid = keeper_entry_is_valid } },
        { "ownKeeper", &json_kind_string, offsetof(Document, own_keeper), 0,
          &(const JsonString) { .max = FD_NAME_MAX, .valid = keeper_name_is_valid } },
        { "socketPath", &json_kind_string, offsetof(Document, socket_path), 0,
          &(const JsonString) { .max = 107, .valid = path_is_valid } },
        JSON_ARRAY_FIELD("fds", Document, fds, 0, &fds_array),
        {}
};

void handover_state_done(HandoverState *s) {
        Document d;

        if (!s)
                return;
        d = document_of(s);
        d.format = NULL;
        json_codec_done(&d, document_fields);
        strv_free(s->dropped);
        *s = (HandoverState) {};
}

static int sealed_memfd(const char *name, const void *data, size_t size, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;

        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        while (done < size) {
                ssize_t n = write(fd, (const char *) data + done, size - done);
                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* A regular file, sealed against writes, of at most max bytes: its size. */
static int check_sealed(int fd, uint64_t max, uint64_t *ret_size) {
        struct stat st;
        int seals;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t) st.st_size > max)
                return -EFBIG;
        /* Sealed: whoever else holds it (the fd store does) cannot change it under us. */
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) !=
                                 (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
                return -EBADMSG;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

int handover_state_to_memfd(const HandoverState *s, int *ret_fd) {
        Document d = document_of(s);
        struct json_object *o = NULL;
        const char *text;
        int r;

        r = json_codec_encode(&d, document_fields, &o);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = text ? sealed_memfd("nsboxd-state", text, strlen(text), ret_fd) : -ENOMEM;
        json_object_put(o);
        return r;
}

int handover_blob_to_memfd(const void *data, size_t size, int *ret_fd) {
        return sealed_memfd("nsboxd-capture", data, size, ret_fd);
}

int handover_blob_read(int fd, uint64_t offset, uint64_t size, char **ret) {
        _cleanup_free_ char *data = NULL;
        uint64_t total, done = 0;
        int r;

        r = check_sealed(fd, HANDOVER_CAPTURE_SIZE_MAX, &total);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (offset > total || size > total - offset)
                return -EBADMSG;
        data = malloc(MAX(size, (uint64_t) 1));
        if (!data)
                return -ENOMEM;
        while (done < size) {
                ssize_t n = pread(fd, data + done, (size_t) (size - done), (off_t) (offset + done));
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG;
                done += (uint64_t) n;
        }
        *ret = TAKE_PTR(data);
        return 0;
}

static int refuse(char **ret_reason, const char *reason, const char *detail) {
        if (ret_reason && asprintf(ret_reason, "%s%s", reason, detail ?: "") < 0)
                *ret_reason = NULL;
        return -EBADMSG;
}

/* Each record of a (checked) array on its own: the valid ones into d, why the others are not into *ret_dropped. */
static int decode_records(struct json_object *a, Document *d, char ***ret_dropped) {
        size_t n = a ? json_object_array_length(a) : 0, n_dropped = 0;
        HandoverSandbox *sbs;
        char **dropped = NULL;

        sbs = calloc(MAX(n, (size_t) 1), sizeof *sbs);
        if (!sbs)
                return -ENOMEM;
        d->sandboxes = sbs;
        d->n_sandboxes = 0;

        for (size_t i = 0; i < n; i++) {
                HandoverSandbox *sb = &sbs[d->n_sandboxes];
                struct json_object *e = json_object_array_get_idx(a, i);
                JsonCodec c = {};
                const char *bad;
                char *reason, **l;
                int r;

                sandbox_init(sb);
                if (!json_object_is_type(e, json_type_object))
                        r = -EINVAL;
                else
                        r = json_codec_decode(&c, e, sb, sandbox_fields);
                if (r == -ENOMEM) {
                        free(c.invalid);
                        json_codec_done(sb, sandbox_fields);
                        strv_free(dropped);
                        return r;
                }
                bad = r < 0 ? (c.invalid ?: "") : sandbox_check(sbs, d->n_sandboxes, sb, d->n_seccomp);
                if (!bad) {
                        d->n_sandboxes++;
                        continue;
                }

                r = asprintf(&reason, "invalid sandboxes[%zu]%s%s", i, bad[0] ? "." : "", bad);
                free(c.invalid);
                json_codec_done(sb, sandbox_fields);
                *sb = (HandoverSandbox) {};
                l = r >= 0 ? realloc(dropped, (n_dropped + 2) * sizeof(char *)) : NULL;
                if (!l) {
                        if (r >= 0)
                                free(reason);
                        strv_free(dropped);
                        return -ENOMEM;
                }
                dropped = l;
                dropped[n_dropped++] = reason;
                dropped[n_dropped] = NULL;
        }
        *ret_dropped = dropped;
        return 0;
}

int handover_state_from_fd(int fd, HandoverState *ret, char **ret_reason) {
        _cleanup_free_ char *text = NULL;
        struct json_object *records;
        char **dropped = NULL;
        struct json_tokener *tok = NULL;
        struct json_object *o = NULL, *v;
        JsonCodec c = {};
        Document d = {};
        uint64_t size;
        size_t done = 0;
        int r;

        r = check_sealed(fd, HANDOVER_SIZE_MAX, &size);
        if (r == -EFBIG)
                return refuse(ret_reason, "not a regular file of at most 16 MiB", NULL);
        if (r == -EBADMSG)
                return refuse(ret_reason, "not a sealed memfd", NULL);
        if (r < 0)
                return r;

        text = malloc((size_t) size + 1);
        if (!text)
                return -ENOMEM;
        while (done < (size_t) size) {
                ssize_t n = pread(fd, text + done, (size_t) size - done, (off_t) done);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        text[done] = 0;
        if (strlen(text) != done)
                return refuse(ret_reason, "a NUL byte in the text", NULL);

        /* The document is four levels deep; anything deeper is not one. */
        tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) done);
        r = json_tokener_get_error(tok) == json_tokener_success && (size_t) json_tokener_get_parse_end(tok) == done;
        json_tokener_free(tok);
        if (!o || !r || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return refuse(ret_reason, "not one JSON object", NULL);
        }

        /* A version this daemon does not know is said as such, not as a bad field. */
        v = json_member(o, "version");
        if (v && json_object_is_type(v, json_type_int) &&
            (json_object_get_int64(v) < HANDOVER_VERSION_MIN || json_object_get_int64(v) > HANDOVER_VERSION)) {
                char detail[64];

                snprintf(detail, sizeof detail, "%" PRId64, json_object_get_int64(v));
                json_object_put(o);
                if (ret_reason && asprintf(ret_reason, "version %s, expected %d to %d", detail, HANDOVER_VERSION_MIN,
                                           HANDOVER_VERSION) < 0)
                        *ret_reason = NULL;
                return -EBADMSG;
        }

        /* The records are read one by one below: a bad one is left out, not the whole state. */
        records = json_member(o, "sandboxes");
        if (records && (!json_object_is_type(records, json_type_array) ||
                        json_object_array_length(records) > HANDOVER_SANDBOXES_MAX)) {
                json_object_put(o);
                return refuse(ret_reason, "invalid sandboxes", NULL);
        }
        records = json_object_get(records);
        json_object_object_del(o, "sandboxes");

        r = json_codec_decode(&c, o, &d, document_fields);
        json_object_put(o);
        for (size_t i = 0; r >= 0 && i < d.n_seccomp; i++)
                if (d.seccomp[i].flags & ~(uint32_t) (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)) {
                        char path[64];

                        snprintf(path, sizeof path, "seccomp[%zu].flags", i);
                        free(c.invalid);
                        c.invalid = strdup(path);
                        r = c.invalid ? -EINVAL : -ENOMEM;
                }
        if (r >= 0)
                r = decode_records(records, &d, &dropped);
        json_object_put(records);
        if (r < 0) {
                json_codec_done(&d, document_fields);
                if (r == -ENOMEM) {
                        free(c.invalid);
                        return r;
                }
                r = refuse(ret_reason, "invalid ", c.invalid ?: "document");
                free(c.invalid);
                return r;
        }

        free(d.format);
        *ret = state_of(&d);
        ret->dropped = dropped;
        return 0;
}

int fdset_add(FdSet *set, const char *name, int fd) {
        HandoverFd *n;
        char *copy;

        copy = strdup(name);
        n = copy ? realloc(set->fds, (set->n + 1) * sizeof *n) : NULL;
        if (!n) {
                free(copy);
                safe_close(fd);
                return -ENOMEM;
        }
        set->fds = n;
        set->fds[set->n++] = (HandoverFd) { copy, fd };
        return 0;
}

int fdset_take(FdSet *set, const char *name) {
        for (size_t i = 0; i < set->n; i++)
                if (set->fds[i].fd >= 0 && streq(set->fds[i].name, name))
                        return TAKE_FD(set->fds[i].fd);
        return -ENOENT;
}

void fdset_done(FdSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                safe_close(set->fds[i].fd);
                free(set->fds[i].name);
        }
        free(set->fds);
        *set = (FdSet) {};
}

bool handover_is_pidfd(int fd) {
        char path[64], target[64];
        ssize_t n;

        /* An anonymous inode of that name (pidfs, since Linux 6.9, calls it "pidfd:[...]"). */
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return streq(target, "anon_inode:[pidfd]") || strncmp(target, "pidfd:", 6) == 0;
}

int handover_check_pidfd(int fd, pid_t pid) {
        char path[64], line[256];
        bool found = false;
        long value = 0;
        FILE *f;

        if (!handover_is_pidfd(fd))
                return -EINVAL;

        /* Only a pidfd's fdinfo has a "Pid:" line: the process's pid here, -1 once it is gone. */
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        f = fopen(path, "re");
        if (!f)
                return -EBADF;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "Pid:", 4) == 0) {
                        found = true;
                        value = strtol(line + 4, NULL, 10);
                        break;
                }
        fclose(f);

        if (!found)
                return -EINVAL;
        if (value == -1)
                return 0;
        return value == pid ? 1 : -EINVAL;
}

void handover_sandbox_fd_name(const char *id, char ret[static 64]) {
        snprintf(ret, 64, HANDOVER_FD_SANDBOX_PREFIX "%s", id);
}

void handover_capture_fd_name(const char *id, size_t stream, char ret[static 64]) {
        snprintf(ret, 64, HANDOVER_FD_SANDBOX_PREFIX "%s-%s", id, stream == 0 ? "stdout" : "stderr");
}

bool handover_is_pipe_read_end(int fd) {
        struct stat st;
        int flags = fcntl(fd, F_GETFL);

        return fstat(fd, &st) >= 0 && S_ISFIFO(st.st_mode) && flags >= 0 && (flags & O_ACCMODE) == O_RDONLY;
}

void handover_keeper_fd_name(pid_t keeper, char ret[static 64]) {
        snprintf(ret, 64, HANDOVER_FD_KEEPER_PREFIX "%d", (int) keeper);
}

int handover_seccomp_from_program(const SeccompProgram *p, HandoverSeccomp *ret) {
        char *text;

        if (p->n_filter == 0 || p->n_filter > BPF_MAXINSNS)
                return -EINVAL;
        text = malloc((size_t) p->n_filter * 16 + 1);
        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_filter; i++) {
                const struct sock_filter *f = &p->filter[i];

                snprintf(text + i * 16, 17, "%04x%02x%02x%08x", (unsigned) f->code, (unsigned) f->jt,
                         (unsigned) f->jf, (unsigned) f->k);
        }
        *ret = (HandoverSeccomp) { .filter = text, .flags = p->flags };
        return 0;
}

static unsigned long hex_field(const char *s, size_t n) {
        char buf[9];

        memcpy(buf, s, n);
        buf[n] = 0;
        return strtoul(buf, NULL, 16);
}

int handover_seccomp_to_program(const HandoverSeccomp *h, SeccompProgram **ret) {
        size_t n = strlen(h->filter) / 16;
        SeccompProgram *p;

        /* Checked when the state was read; the kernel checks the program itself when a child loads it. */
        assert(filter_is_valid(h->filter));
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->filter = calloc(n, sizeof(struct sock_filter));
        if (!p->filter) {
                free(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const char *t = h->filter + i * 16;

                p->filter[i] = (struct sock_filter) {
                        .code = (uint16_t) hex_field(t, 4),
                        .jt = (uint8_t) hex_field(t + 4, 2),
                        .jf = (uint8_t) hex_field(t + 6, 2),
                        .k = (uint32_t) hex_field(t + 8, 8),
                };
        }
        p->n_ref = 1;
        p->n_filter = (unsigned short) n;
        p->flags = h->flags;
        *ret = p;
        return 0;
}
