/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over state (see handover.h): one table per struct drives encode,
 * decode and free, as for the protocol, so the reader checks exactly what the
 * writer wrote; rules across fields are each table's verify step.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "handover.h"
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

static const JsonString fd_name_string = { .max = FD_NAME_MAX, .valid = fd_name_is_valid };
static const JsonRange bytes_range = { 0, (int64_t) HANDOVER_CAPTURE_SIZE_MAX };

static const JsonField capture_fields[] = {
        { "fileDescriptor", &json_kind_string, offsetof(HandoverCapture, fd), 0, &fd_name_string },
        { "offset", &json_kind_uint64, offsetof(HandoverCapture, offset), JSON_MANDATORY, &bytes_range },
        { "size", &json_kind_uint64, offsetof(HandoverCapture, size), JSON_MANDATORY, &bytes_range },
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
        { "pidFileDescriptor", &json_kind_string, offsetof(HandoverSandbox, pidfd), 0, &fd_name_string },
        { "reaper", &json_kind_string, offsetof(HandoverSandbox, reaper), JSON_MANDATORY,
          &(const JsonString) { .max = FD_NAME_MAX, .valid = reaper_is_valid } },
        { "captureOutput", &json_kind_bool, offsetof(HandoverSandbox, capturing), 0 },
        { "stdout", &json_kind_object, offsetof(HandoverSandbox, capture[0]), 0, capture_fields },
        { "stderr", &json_kind_object, offsetof(HandoverSandbox, capture[1]), 0, capture_fields },
        { "captureLimit", &json_kind_uint64, offsetof(HandoverSandbox, capture_limit), 0, &bytes_range },
        { "captureTotal", &json_kind_uint64, offsetof(HandoverSandbox, capture_total), 0, &bytes_range },
        { "captureTruncated", &json_kind_bool, offsetof(HandoverSandbox, capture_truncated), 0 },
        {}
};

static void sandbox_init(void *e) {
        HandoverSandbox *sb = e;

        *sb = (HandoverSandbox) {};
        sandbox_info_init_for_decode(&sb->info);
}

/* The fields that depend on each other, and ids that must be unique. */
static int sandbox_verify(JsonCodec *c, void *elements, size_t i) {
        HandoverSandbox *sbs = elements, *sb = &sbs[i];
        SandboxState st = sb->info.state;
        bool running = st == SANDBOX_RUNNING, finished = !running && st != SANDBOX_STARTING;

        if (!id_is_valid(sb->info.id))
                return json_codec_invalid_member(c, "info");
        for (size_t j = 0; j < i; j++)
                if (streq(sbs[j].info.id, sb->info.id))
                        return json_codec_invalid_member(c, "info");
        if (!sandbox_info_state_is_consistent(&sb->info) || (st == SANDBOX_STARTING && !sb->discard) ||
            (sb->discard && st != SANDBOX_STARTING) || sb->info.pid < 2)
                return json_codec_invalid_member(c, "info");
        /* Its top process is only followed through its pidfd while it runs. */
        if ((running || sb->discard) != !!sb->pidfd)
                return json_codec_invalid_member(c, "pidFileDescriptor");
        /* Ended but for what is left in its cgroup: only with a cgroup, only once finished. */
        if (sb->top_exited && (!finished || !sb->has_cgroup))
                return json_codec_invalid_member(c, "topExited");
        if (!sb->capturing && (sb->capture[0].fd || sb->capture[1].fd || sb->capture[0].size || sb->capture[1].size))
                return json_codec_invalid_member(c, "captureOutput");
        if (sb->capture_total > sb->capture_limit)
                return json_codec_invalid_member(c, "captureTotal");
        for (size_t k = 0; k < 2; k++)
                if (sb->capture[k].offset > HANDOVER_CAPTURE_SIZE_MAX - sb->capture[k].size ||
                    sb->capture[k].size > sb->capture_total)
                        return json_codec_invalid_member(c, k == 0 ? "stdout" : "stderr");
        return 0;
}

static const JsonArray sandboxes_array = {
        sizeof(HandoverSandbox), JSON_OBJECT_ELEMENT(sandbox_fields), .max = HANDOVER_SANDBOXES_MAX,
        .init = sandbox_init, .verify = sandbox_verify,
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
          &(const JsonRange) { HANDOVER_VERSION, HANDOVER_VERSION } },
        JSON_ARRAY_FIELD("sandboxes", Document, sandboxes, 0, &sandboxes_array),
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

int handover_state_from_fd(int fd, HandoverState *ret, char **ret_reason) {
        _cleanup_free_ char *text = NULL;
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
        if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) != HANDOVER_VERSION) {
                char detail[64];

                snprintf(detail, sizeof detail, "%" PRId64, json_object_get_int64(v));
                json_object_put(o);
                if (ret_reason && asprintf(ret_reason, "version %s, expected %d", detail, HANDOVER_VERSION) < 0)
                        *ret_reason = NULL;
                return -EBADMSG;
        }

        r = json_codec_decode(&c, o, &d, document_fields);
        json_object_put(o);
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

int handover_check_pidfd(int fd, pid_t pid) {
        char path[64], line[256];
        bool found = false;
        long value = 0;
        FILE *f;

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
