/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parser for /etc/subuid and /etc/subgid. Strict on purpose: the daemon grants
 * id ranges from these files, so a line it cannot read exactly is an error,
 * never a guess.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int subid_load(const char *path, SubidRanges **ret, ConfError *ret_error) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0, n_allocated = 0;
        unsigned line_no = 0;
        FILE *f;
        int k;

        k = subid_ranges_new_empty(&r);
        if (k < 0)
                return k;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(r);
                        return 0;
                }
                return negative_errno();
        }

        for (;;) {
                SubidEntry e = {};
                ssize_t n;

                errno = 0;
                n = getline(&line, &allocated, f);
                if (n < 0) {
                        k = errno != 0 ? -errno : 0;
                        break;
                }
                line_no++;

                if (n > SUBID_LINE_MAX) {
                        k = conf_error(ret_error, line_no, "line longer than %u bytes", SUBID_LINE_MAX);
                        break;
                }
                if ((size_t) n != strlen(line)) {
                        k = conf_error(ret_error, line_no, "NUL byte in the line");
                        break;
                }

                k = parse_line(line, line_no, &e, ret_error);
                if (k < 0)
                        break;
                if (k == 0)
                        continue;

                if (r->n_entries >= SUBID_ENTRIES_MAX) {
                        free(e.owner);
                        k = conf_error(ret_error, line_no, "more than %u ranges", SUBID_ENTRIES_MAX);
                        break;
                }
                if (r->n_entries == n_allocated) {
                        size_t m = n_allocated ? n_allocated * 2 : 16;
                        SubidEntry *a = reallocarray(r->entries, m, sizeof(SubidEntry));
                        if (!a) {
                                free(e.owner);
                                k = -ENOMEM;
                                break;
                        }
                        r->entries = a;
                        n_allocated = m;
                }
                r->entries[r->n_entries++] = e;
                k = 0;
        }
        fclose(f);
        if (k < 0)
                return k;

        *ret = TAKE_PTR(r);
        return 0;
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
