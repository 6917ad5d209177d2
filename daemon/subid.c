/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parser for /etc/subuid and /etc/subgid. Strict on purpose: the daemon grants
 * id ranges from these files, so a line it cannot read exactly is an error,
 * never a guess. A SubidFile keeps the ranges in force and notices when the
 * file is replaced or edited, as newuidmap, which reads it on every call,
 * would see it.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "subid.h"

/* Far beyond any real file; bounds what a broken file can make the daemon allocate. */
#define SUBID_LINE_MAX 4096U
#define SUBID_ENTRIES_MAX 65536U

typedef struct SubidEntry {
        char *owner;
        SubidRange range;
} SubidEntry;

struct SubidRanges {
        SubidEntry *entries;
        size_t n_entries;
};

SubidRanges *subid_ranges_free(SubidRanges *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_entries; i++)
                free(r->entries[i].owner);
        free(r->entries);
        free(r);
        return NULL;
}

int subid_ranges_new_empty(SubidRanges **ret) {
        SubidRanges *r = calloc(1, sizeof(SubidRanges));
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

size_t subid_ranges_size(const SubidRanges *r) {
        return r ? r->n_entries : 0;
}

/* Plain decimal only: no sign, no spaces, no base prefixes, no overflow. */
static int parse_u32_strict(const char *s, uint32_t *ret) {
        uint64_t v = 0;

        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > UINT32_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t) v;
        return 0;
}

static bool owner_valid(const char *s) {
        if (!*s)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* Returns 1 if the line held an entry (filled in *ret), 0 if it was blank or a comment, -EBADMSG if malformed. */
static int parse_line(char *line, unsigned line_no, SubidEntry *ret, ConfError *ret_error) {
        char *start, *end, *colon1, *colon2;
        uint32_t first, count;

        start = line + strspn(line, " \t");
        end = start + strlen(start);
        while (end > start && strchr(" \t\r\n", end[-1]))
                *--end = 0;
        if (!*start || *start == '#')
                return 0;

        colon1 = strchr(start, ':');
        colon2 = colon1 ? strchr(colon1 + 1, ':') : NULL;
        if (!colon2 || strchr(colon2 + 1, ':'))
                return conf_error(ret_error, line_no, "expected owner:start:count, got '%s'", start);
        *colon1 = *colon2 = 0;

        if (!owner_valid(start))
                return conf_error(ret_error, line_no, "owner '%s' is empty or has spaces or control characters",
                                  start);
        if (parse_u32_strict(colon1 + 1, &first) < 0)
                return conf_error(ret_error, line_no, "start '%s' is not a decimal number below 2^32", colon1 + 1);
        if (parse_u32_strict(colon2 + 1, &count) < 0)
                return conf_error(ret_error, line_no, "count '%s' is not a decimal number below 2^32", colon2 + 1);
        if (count == 0)
                return conf_error(ret_error, line_no, "count is 0: an empty range");
        /* (uid_t) -1 is "no id" to the kernel; a range may never reach it. */
        if ((uint64_t) first + count > UINT32_MAX)
                return conf_error(ret_error, line_no,
                                  "range %" PRIu32 "+%" PRIu32 " reaches 4294967295, which is no id", first, count);

        ret->owner = strdup(start);
        if (!ret->owner)
                return -ENOMEM;
        ret->range = (SubidRange) { .start = first, .count = count };
        return 1;
}

/* What tells one version of a file from another without reading it: shadow's tools replace the file
 * (a new inode), an editor in place changes its size or times. */
typedef struct FileStamp {
        bool exists;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
} FileStamp;

static FileStamp stamp_from_stat(const struct stat *st) {
        return (FileStamp) {
                .exists = true,
                .dev = st->st_dev,
                .ino = st->st_ino,
                .size = st->st_size,
                .mtime = st->st_mtim,
                .ctime = st->st_ctim,
        };
}

static bool stamp_equal(const FileStamp *a, const FileStamp *b) {
        if (a->exists != b->exists)
                return false;
        if (!a->exists)
                return true;
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
               a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
               a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int stamp_of_path(const char *path, FileStamp *ret) {
        struct stat st;

        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = (FileStamp) { .exists = false };
                return 0;
        }
        *ret = stamp_from_stat(&st);
        return 0;
}

static int parse_file(FILE *f, SubidRanges *r, ConfError *ret_error) {
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0, n_allocated = 0;
        unsigned line_no = 0;

        for (;;) {
                SubidEntry e = {};
                ssize_t n;
                int k;

                errno = 0;
                n = getline(&line, &allocated, f);
                if (n < 0)
                        return errno != 0 ? -errno : 0;
                line_no++;

                if (n > SUBID_LINE_MAX)
                        return conf_error(ret_error, line_no, "line longer than %u bytes", SUBID_LINE_MAX);
                if ((size_t) n != strlen(line))
                        return conf_error(ret_error, line_no, "NUL byte in the line");

                k = parse_line(line, line_no, &e, ret_error);
                if (k < 0)
                        return k;
                if (k == 0)
                        continue;

                if (r->n_entries >= SUBID_ENTRIES_MAX) {
                        free(e.owner);
                        return conf_error(ret_error, line_no, "more than %u ranges", SUBID_ENTRIES_MAX);
                }
                if (r->n_entries == n_allocated) {
                        size_t m = n_allocated ? n_allocated * 2 : 16;
                        SubidEntry *a = reallocarray(r->entries, m, sizeof(SubidEntry));
                        if (!a) {
                                free(e.owner);
                                return -ENOMEM;
                        }
                        r->entries = a;
                        n_allocated = m;
                }
                r->entries[r->n_entries++] = e;
        }
}

/* Reads path; *ret_stamp is the version read (from the open file, so it is the one parsed). */
static int load_stamped(const char *path, SubidRanges **ret, FileStamp *ret_stamp, ConfError *ret_error) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        FileStamp stamp = { .exists = false };
        struct stat st;
        FILE *f;
        int k;

        k = subid_ranges_new_empty(&r);
        if (k < 0)
                return k;

        f = fopen(path, "re");
        if (!f) {
                if (errno != ENOENT)
                        return negative_errno();
        } else {
                if (fstat(fileno(f), &st) < 0)
                        k = negative_errno();
                else {
                        stamp = stamp_from_stat(&st);
                        k = parse_file(f, r, ret_error);
                }
                fclose(f);
                if (k < 0)
                        return k;
        }

        *ret = TAKE_PTR(r);
        if (ret_stamp)
                *ret_stamp = stamp;
        return 0;
}

int subid_load(const char *path, SubidRanges **ret, ConfError *ret_error) {
        return load_stamped(path, ret, NULL, ret_error);
}

/* ---- a file kept up to date ---- */

struct SubidFile {
        char *path;
        SubidRanges *ranges; /* in force */
        FileStamp stamp;     /* the version they were read from */
        bool failed;         /* failed_stamp is a version that could not be read */
        FileStamp failed_stamp;
        int stat_error;      /* the last stat() failed with this, already reported */
};

SubidFile *subid_file_free(SubidFile *f) {
        if (!f)
                return NULL;
        subid_ranges_free(f->ranges);
        free(f->path);
        free(f);
        return NULL;
}

int subid_file_load(const char *path, SubidFile **ret, ConfError *ret_error) {
        _cleanup_(subid_file_freep) SubidFile *f = NULL;
        int r;

        if (!path || !ret)
                return -EINVAL;

        f = calloc(1, sizeof(SubidFile));
        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        if (!f->path)
                return -ENOMEM;

        r = load_stamped(path, &f->ranges, &f->stamp, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(f);
        return 0;
}

int subid_file_refresh(SubidFile *f, ConfError *ret_error) {
        _cleanup_(subid_ranges_freep) SubidRanges *ranges = NULL;
        FileStamp now = {}, got = {};
        int r;

        r = stamp_of_path(f->path, &now);
        if (r < 0) {
                /* Cannot tell: keep the ranges in force, and say so once, not on every request. */
                if (r == f->stat_error)
                        return 0;
                f->stat_error = r;
                return r;
        }
        f->stat_error = 0;
        if (stamp_equal(&now, &f->stamp) || (f->failed && stamp_equal(&now, &f->failed_stamp)))
                return 0;

        r = load_stamped(f->path, &ranges, &got, ret_error);
        if (r < 0) {
                /* Keep what was in force; this version is reported once, not on every request. */
                f->failed = true;
                f->failed_stamp = now;
                return r;
        }

        subid_ranges_free(f->ranges);
        f->ranges = TAKE_PTR(ranges);
        f->stamp = got;
        f->failed = false;
        return 1;
}

const SubidRanges *subid_file_ranges(const SubidFile *f) {
        return f ? f->ranges : NULL;
}

const char *subid_file_path(const SubidFile *f) {
        return f->path;
}

static bool owner_matches(const char *owner, uid_t uid, const char *name) {
        char buf[16];

        if (name && strcmp(owner, name) == 0)
                return true;
        snprintf(buf, sizeof(buf), "%" PRIu32, (uint32_t) uid);
        return strcmp(owner, buf) == 0;
}

int subid_lookup(const SubidRanges *r, uid_t uid, const char *name, SubidRange **ret) {
        _cleanup_free_ SubidRange *a = NULL;
        size_t n = 0;

        if (r)
                for (size_t i = 0; i < r->n_entries; i++)
                        if (owner_matches(r->entries[i].owner, uid, name)) {
                                SubidRange *b = reallocarray(a, n + 1, sizeof(SubidRange));
                                if (!b)
                                        return -ENOMEM;
                                a = b;
                                a[n++] = r->entries[i].range;
                        }

        *ret = TAKE_PTR(a);
        return (int) MIN(n, (size_t) INT32_MAX);
}

bool subid_contains(const SubidRanges *r, uid_t uid, const char *name, uint32_t start, uint32_t count) {
        uint64_t end = (uint64_t) start + count;

        if (!r || count == 0)
                return false;

        for (size_t i = 0; i < r->n_entries; i++) {
                const SubidEntry *e = &r->entries[i];

                if (!owner_matches(e->owner, uid, name))
                        continue;
                if (start >= e->range.start && end <= (uint64_t) e->range.start + e->range.count)
                        return true;
        }
        return false;
}
