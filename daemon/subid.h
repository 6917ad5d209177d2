/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/subuid and /etc/subgid: the subordinate id ranges an administrator
 * granted each user ("owner:start:count", owner a login name or a numeric
 * uid). The daemon decides with these exactly as newuidmap/newgidmap do.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf-error.h"
#include "macro.h"

#define SUBUID_PATH_DEFAULT "/etc/subuid"
#define SUBGID_PATH_DEFAULT "/etc/subgid"

typedef struct SubidRange {
        uint32_t start;
        uint32_t count; /* >= 1; start + count never exceeds 2^32 */
} SubidRange;

typedef struct SubidRanges SubidRanges;

/*
 * Parses path. Blank lines and lines starting with '#' are skipped; any other
 * line must be "owner:start:count" with decimal numbers, count >= 1 and no
 * overflow, otherwise -EBADMSG with *ret_error (may be NULL) naming the
 * 1-based line and the reason. A missing file is an empty set (returns 0).
 * Other errors of fopen()/getline() are returned as they are.
 */
int subid_load(const char *path, SubidRanges **ret, ConfError *ret_error);
/* An empty set, for when no file applies. */
int subid_ranges_new_empty(SubidRanges **ret);
SubidRanges *subid_ranges_free(SubidRanges *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(SubidRanges *, subid_ranges_free);

/*
 * A file the daemon keeps up to date without a signal: the ranges in force
 * and the identity (device, inode, size, mtime, ctime) of the version they
 * were read from.
 */
typedef struct SubidFile SubidFile;

/* Reads path as subid_load() does; the SubidFile keeps a copy of path. */
int subid_file_load(const char *path, SubidFile **ret, ConfError *ret_error);
SubidFile *subid_file_free(SubidFile *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(SubidFile *, subid_file_free);

/*
 * A stat() of the path; if the file is another version than the one in
 * force, reads it. Returns 0 if nothing changed, 1 if the new version is in
 * force now (a missing file: no ranges), or a negative errno (-EBADMSG with
 * *ret_error filled for a malformed file) if the new version could not be
 * read: the ranges in force stay, and that same version is not read (nor
 * reported) again, only the next one. A failing stat() also keeps them and
 * is returned once until it succeeds again.
 */
int subid_file_refresh(SubidFile *f, ConfError *ret_error);

/* The ranges in force (NULL f: none). */
const SubidRanges *subid_file_ranges(const SubidFile *f);
const char *subid_file_path(const SubidFile *f);

/* Number of lines parsed (for the log). */
size_t subid_ranges_size(const SubidRanges *r);

/*
 * The ranges granted to the user uid (whose login name is name, may be NULL):
 * lines whose owner is that name or the decimal uid, in file order. Returns
 * the number found and a malloc'ed array in *ret (NULL if none), or -ENOMEM.
 */
int subid_lookup(const SubidRanges *r, uid_t uid, const char *name, SubidRange **ret);

/* True if [start, start+count) lies entirely inside ONE range granted to uid/name. NULL r grants nothing. */
bool subid_contains(const SubidRanges *r, uid_t uid, const char *name, uint32_t start, uint32_t count);
