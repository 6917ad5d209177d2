/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the /etc/subuid, /etc/subgid parser and the newuidmap-style range decision. */

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subid.h"
#include "test-util.h"

static char dir[64];

static void setup(void) {
        test_tmpdir_new("subid", dir, sizeof(dir));
}

static void teardown(void) {
        test_tmpdir_remove(dir);
}

/* Writes text (length given, so tests can embed NUL bytes) to DIR/name, 0644; returns the path in a static buffer. */
static const char *write_file_n(const char *name, const char *text, size_t len) {
        static char path[PATH_MAX];

        cr_assert_lt((size_t) snprintf(path, sizeof(path), "%s/%s", dir, name), sizeof(path));
        test_write_file(path, text, len, 0644);
        return path;
}

static const char *write_file(const char *name, const char *text) {
        return write_file_n(name, text, strlen(text));
}

static SubidRange *mfree_subid(SubidRange *a) {
        free(a);
        return NULL;
}

TestSuite(subid, .init = setup, .fini = teardown);

Test(subid, parses_entries_comments_and_blank_lines) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        _cleanup_free_ SubidRange *a = NULL;
        const char *path = write_file("subuid",
                                      "# comment\n"
                                      "\n"
                                      "alice:100000:65536\n"
                                      "   \t\n"
                                      "  # indented comment\n"
                                      "1001:200000:1000\n"
                                      "alice:300000:10\r\n"
                                      "bob:400000:1"); /* no final newline */
        ConfError e = {};

        cr_assert_eq(subid_load(path, &r, &e), 0);
        cr_assert_eq(subid_ranges_size(r), 4);

        /* alice by name: both of her lines, in file order */
        cr_assert_eq(subid_lookup(r, 1000, "alice", &a), 2);
        cr_assert_eq(a[0].start, 100000);
        cr_assert_eq(a[0].count, 65536);
        cr_assert_eq(a[1].start, 300000);
        cr_assert_eq(a[1].count, 10);
        a = mfree_subid(a);

        /* uid 1001 has a numeric line; with a name too, both kinds match */
        cr_assert_eq(subid_lookup(r, 1001, NULL, &a), 1);
        cr_assert_eq(a[0].start, 200000);
        a = mfree_subid(a);
        cr_assert_eq(subid_lookup(r, 1001, "bob", &a), 2);
        a = mfree_subid(a);

        /* nobody else */
        cr_assert_eq(subid_lookup(r, 1002, "carol", &a), 0);
        cr_assert_null(a);
}

Test(subid, contains_needs_one_range_and_the_right_owner) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        const char *path = write_file("subuid", "alice:100000:100\nalice:100100:100\n1000:500:10\n");

        cr_assert_eq(subid_load(path, &r, NULL), 0);

        cr_assert(subid_contains(r, 1000, "alice", 100000, 100));   /* exactly the range */
        cr_assert(subid_contains(r, 1000, "alice", 100099, 1));     /* its last id */
        cr_assert(subid_contains(r, 1000, "alice", 100100, 100));   /* the second range */
        cr_assert_not(subid_contains(r, 1000, "alice", 100000, 101)); /* one past the end */
        cr_assert_not(subid_contains(r, 1000, "alice", 99999, 2));    /* one before the start */
        /* adjacent ranges do not join: newuidmap wants the mapping inside ONE of them */
        cr_assert_not(subid_contains(r, 1000, "alice", 100050, 100));
        cr_assert_not(subid_contains(r, 1000, "alice", 100000, 0));

        /* the numeric owner line matches by uid, whatever the name */
        cr_assert(subid_contains(r, 1000, NULL, 500, 10));
        cr_assert(subid_contains(r, 1000, "someone", 505, 5));
        cr_assert_not(subid_contains(r, 1001, NULL, 500, 10));

        /* another user's ranges are not yours */
        cr_assert_not(subid_contains(r, 1001, "bob", 100000, 1));
        cr_assert_not(subid_contains(NULL, 1000, "alice", 100000, 1));
}

Test(subid, missing_file_is_empty) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/does-not-exist", dir);
        cr_assert_eq(subid_load(path, &r, NULL), 0);
        cr_assert_not_null(r);
        cr_assert_eq(subid_ranges_size(r), 0);
        cr_assert_not(subid_contains(r, 0, "root", 0, 1));
}

typedef struct BadCase {
        const char *text;
        unsigned line;
        const char *reason;
} BadCase;

Test(subid, malformed_lines_are_refused_with_their_number_and_reason) {
        static const BadCase cases[] = {
                { "alice:100000\n", 1, "expected owner:start:count, got 'alice:100000'" }, /* a field missing */
                { "ok:1:1\nalice:1:2:3\n", 2, "expected owner:start:count, got 'alice:1:2:3'" }, /* one too many */
                { "ok:1:1\n\n# c\nalice:x:10\n", 4, "start 'x' is not a decimal number below 2^32" },
                { "alice:-1:10\n", 1, "start '-1' is not a decimal number below 2^32" }, /* a sign */
                { "alice:+1:10\n", 1, NULL },
                { "alice:1: 10\n", 1, "count ' 10' is not a decimal number below 2^32" }, /* space in a number */
                { "alice:0x10:10\n", 1, NULL },                                  /* no other bases */
                { "alice:100:0\n", 1, "count is 0: an empty range" },
                { "alice:4294967295:1\n", 1, "range 4294967295+1 reaches 4294967295, which is no id" },
                { "alice:4294967290:6\n", 1, "range 4294967290+6 reaches 4294967295, which is no id" },
                { "alice:4294967296:1\n", 1, "start '4294967296' is not a decimal number below 2^32" },
                { "alice:99999999999999999999:1\n", 1, NULL },
                { ":100:10\n", 1, "owner '' is empty or has spaces or control characters" },
                { "al ice:100:10\n", 1, "owner 'al ice' is empty or has spaces or control characters" },
                { "alice::10\n", 1, "start '' is not a decimal number below 2^32" },
                { "alice:100:\n", 1, "count '' is not a decimal number below 2^32" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SubidRanges *r = NULL;
                ConfError e = {};
                const char *path = write_file("subuid", cases[i].text);

                cr_assert_eq(subid_load(path, &r, &e), -EBADMSG, "case %zu: %s", i, cases[i].text);
                cr_assert_null(r, "case %zu", i);
                cr_assert_eq(e.line, cases[i].line, "case %zu: line %u, expected %u", i, e.line, cases[i].line);
                cr_assert(e.reason[0], "case %zu: no reason", i);
                if (cases[i].reason)
                        cr_assert_str_eq(e.reason, cases[i].reason, "case %zu", i);
        }
}

Test(subid, nul_byte_is_refused) {
        SubidRanges *r = NULL;
        ConfError e = {};
        const char *path = write_file_n("subuid", "ok:1:1\nali\0ce:1:1\n", 19);

        cr_assert_eq(subid_load(path, &r, &e), -EBADMSG);
        cr_assert_eq(e.line, 2);
        cr_assert_str_eq(e.reason, "NUL byte in the line");
        cr_assert_null(r);
}

Test(subid, largest_valid_range) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        const char *path = write_file("subuid", "alice:4294967294:1\nbob:0:4294967295\n");

        cr_assert_eq(subid_load(path, &r, NULL), 0);
        cr_assert(subid_contains(r, 1, "alice", 4294967294U, 1));
        cr_assert(subid_contains(r, 2, "bob", 0, 4294967295U));
}

/* A numeric owner names exactly one uid: "100" is not 1000, 10000 or 10, nor a name that starts with digits. */
Test(subid, numeric_owner_matches_only_its_own_uid) {
        _cleanup_(subid_ranges_freep) SubidRanges *r = NULL;
        _cleanup_free_ SubidRange *a = NULL;
        const char *path = write_file("subuid", "100:500000:10\n");

        cr_assert_eq(subid_load(path, &r, NULL), 0);
        cr_assert(subid_contains(r, 100, NULL, 500000, 10));
        cr_assert(subid_contains(r, 100, "alice", 500000, 10));

        static const uid_t others[] = { 1000, 10000, 1001, 10, 1, 0, 4294967294U };
        for (size_t i = 0; i < ELEMENTSOF(others); i++) {
                cr_assert_not(subid_contains(r, others[i], NULL, 500000, 1), "uid %u matched owner 100",
                              (unsigned) others[i]);
                cr_assert_eq(subid_lookup(r, others[i], NULL, &a), 0, "uid %u matched owner 100", (unsigned) others[i]);
                cr_assert_null(a);
        }
        /* a login name is compared as a whole string too */
        cr_assert_not(subid_contains(r, 1000, "1000", 500000, 1));
        cr_assert_not(subid_contains(r, 1000, "10", 500000, 1));
        cr_assert_not(subid_contains(r, 1000, "100x", 500000, 1));
}

/* ---- a file kept up to date ---- */

/* As useradd and usermod write it: a new file renamed over the old one. */
static void replace_file(const char *name, const char *text) {
        char tmp[PATH_MAX], path[PATH_MAX];

        snprintf(tmp, sizeof(tmp), "%s.new", name);
        snprintf(tmp, sizeof(tmp), "%s", write_file(tmp, text));
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        cr_assert_eq(rename(tmp, path), 0);
}

Test(subid, a_changed_file_is_picked_up_and_a_malformed_one_changes_nothing) {
        _cleanup_(subid_file_freep) SubidFile *f = NULL;
        char path[PATH_MAX];
        ConfError e = {};
        FILE *append;

        snprintf(path, sizeof(path), "%s", write_file("subuid", "alice:100000:1000\n"));

        cr_assert_eq(subid_file_load(path, &f, &e), 0);
        cr_assert(subid_contains(subid_file_ranges(f), 1000, "alice", 100000, 1000));
        cr_assert_eq(subid_file_refresh(f, &e), 0, "nothing changed");

        /* replaced, same size: a new inode */
        replace_file("subuid", "alice:200000:1000\n");
        cr_assert_eq(subid_file_refresh(f, &e), 1);
        cr_assert(subid_contains(subid_file_ranges(f), 1000, "alice", 200000, 1000));
        cr_assert_not(subid_contains(subid_file_ranges(f), 1000, "alice", 100000, 1));
        cr_assert_eq(subid_file_refresh(f, &e), 0);

        /* edited in place */
        append = fopen(path, "ae");
        cr_assert_not_null(append);
        cr_assert_geq(fputs("bob:300000:10\n", append), 0);
        cr_assert_eq(fclose(append), 0);
        cr_assert_eq(subid_file_refresh(f, &e), 1);
        cr_assert(subid_contains(subid_file_ranges(f), 1001, "bob", 300000, 10));

        /* malformed: the ranges in force stay, and the same version is reported once */
        replace_file("subuid", "alice:400000:1000\nbob:300000:0\n");
        e = (ConfError) {};
        cr_assert_eq(subid_file_refresh(f, &e), -EBADMSG);
        cr_assert_eq(e.line, 2);
        cr_assert_str_eq(e.reason, "count is 0: an empty range");
        cr_assert(subid_contains(subid_file_ranges(f), 1000, "alice", 200000, 1000));
        cr_assert_not(subid_contains(subid_file_ranges(f), 1000, "alice", 400000, 1));
        cr_assert(subid_contains(subid_file_ranges(f), 1001, "bob", 300000, 10));
        cr_assert_eq(subid_file_refresh(f, &e), 0);

        /* fixed again */
        replace_file("subuid", "alice:400000:1000\n");
        cr_assert_eq(subid_file_refresh(f, &e), 1);
        cr_assert(subid_contains(subid_file_ranges(f), 1000, "alice", 400000, 1000));
        cr_assert_not(subid_contains(subid_file_ranges(f), 1001, "bob", 300000, 1));

        /* removed: nothing granted, as at start */
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(subid_file_refresh(f, &e), 1);
        cr_assert_eq(subid_ranges_size(subid_file_ranges(f)), 0);
        cr_assert_eq(subid_file_refresh(f, &e), 0);
        write_file("subuid", "alice:500000:1\n");
        cr_assert_eq(subid_file_refresh(f, &e), 1);
        cr_assert(subid_contains(subid_file_ranges(f), 1000, "alice", 500000, 1));
}
