/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the policy: the policy.conf parser (good files, bad files with
 * exact line numbers, precedence), the limits, every rule policy_check_spawn()
 * enforces for a non-root caller, quotas, and joining existing namespaces.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fuse-stall.h"
#include "policy.h"
#include "spawn.h"
#include "varlink-message.h"
#include "test-util.h"

#define NOBODY 65534
#define CALLER_UID 1000
#define CALLER_GID 1000

static char dir[64];

static void setup(void) {
        test_tmpdir_new("policy", dir, sizeof(dir));
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

static Policy *load_ok(const char *text) {
        Policy *p = NULL;
        ConfError e = {};

        cr_assert_eq(policy_load(write_file("policy.conf", text), &p, &e), 0, "refused: %u: %s", e.line, e.reason);
        cr_assert_not_null(p);
        return p;
}

static SubidRanges *subid_ok(const char *name, const char *text) {
        SubidRanges *r = NULL;

        cr_assert_eq(subid_load(write_file(name, text), &r, NULL), 0);
        return r;
}

TestSuite(policy, .init = setup, .fini = teardown);

/* ---- the file ---- */

Test(policy, missing_file_is_the_safe_default) {
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicyRule r;
        DaemonLimits l;
        char path[128];

        snprintf(path, sizeof(path), "%s/none.conf", dir);
        cr_assert_eq(policy_load(path, &p, NULL), 0);
        cr_assert_not_null(p);

        policy_lookup(p, CALLER_UID, CALLER_GID, NULL, 0, &r);
        cr_assert_eq(r.namespaces, NAMESPACE_ALL);
        cr_assert(r.keep_alive);
        cr_assert(r.subid_ranges);
        cr_assert_not(r.unrestricted);
        cr_assert_str_eq(r.source, "default");
        policy_get_limits(p, &l);
        cr_assert_eq(policy_max_sandboxes(&r, &l), 64);

        /* a NULL policy means the same */
        policy_lookup(NULL, CALLER_UID, CALLER_GID, NULL, 0, &r);
        cr_assert_eq(r.namespaces, NAMESPACE_ALL);
        cr_assert_eq(policy_max_sandboxes(&r, NULL), 64);
}

Test(policy, good_file) {
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicyRule r;
        DaemonLimits l;

        p = load_ok("# nsbox policy\n"
                    "; another comment style\n"
                    "\n"
                    "[default]\n"
                    "namespaces = mount uts ipc user pid cgroup time\n"
                    "max-sandboxes = 8\n"
                    "keep-alive = no\n"
                    "  subid-ranges=yes  \n"
                    "\n"
                    "[user:nobody]\n"
                    "namespaces = user,pid , mount\n"
                    "keep-alive = true\n"
                    "nested = allow\n"
                    "\n"
                    "[user:1000]\n"
                    "namespaces = none\n"
                    "max-sandboxes = 0\n"
                    "\n"
                    "[group:daemon]\n"
                    "namespaces = all\n"
                    "\n"
                    "[limits]\n"
                    "connections = 10\n"
                    "message-size = 64K\n"
                    "sandboxes-per-user = 3\n");

        /* the default section replaces the built-in values it names */
        policy_lookup(p, 4242, 4242, NULL, 0, &r);
        cr_assert_eq(r.namespaces, NAMESPACE_ALL & ~NAMESPACE_BIT(NAMESPACE_NET));
        cr_assert_eq(r.max_sandboxes, 8);
        cr_assert_not(r.keep_alive);
        cr_assert(r.subid_ranges);
        cr_assert_eq(r.nested, POLICY_NESTED_REFUSE);
        cr_assert_str_eq(r.source, "default");

        /* user by name; unset keys come from [default] */
        policy_lookup(p, NOBODY, NOBODY, NULL, 0, &r);
        cr_assert_eq(r.namespaces, NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID) |
                                           NAMESPACE_BIT(NAMESPACE_MOUNT));
        cr_assert(r.keep_alive);
        cr_assert_eq(r.nested, POLICY_NESTED_ALLOW);
        cr_assert_eq(r.max_sandboxes, 8);
        cr_assert_str_eq(r.source, "user:nobody");

        /* user by number, with nothing allowed */
        policy_lookup(p, 1000, 1000, NULL, 0, &r);
        cr_assert_eq(r.namespaces, 0);
        cr_assert_eq(policy_max_sandboxes(&r, NULL), 0);

        /* group by name (daemon is gid 1 on every Debian) as a supplementary group */
        policy_lookup(p, 4242, 4242, (const gid_t[]) { 1 }, 1, &r);
        cr_assert_eq(r.namespaces, NAMESPACE_ALL);
        cr_assert_str_eq(r.source, "group:daemon");

        policy_get_limits(p, &l);
        cr_assert_eq(l.connections, 10);
        cr_assert_eq(l.message_size, 64 * 1024);
        cr_assert_eq(l.sandboxes_per_uid, 3);
        cr_assert_eq(l.connections_per_uid, 64); /* untouched ones keep their defaults */
        cr_assert_eq(l.sandboxes, 4096);
}

Test(policy, max_sandboxes_unset_uses_the_daemon_limit) {
        _cleanup_(policy_freep) Policy *p = load_ok("[limits]\nsandboxes-per-user = 5\n[user:nobody]\nmax-sandboxes = 7\n");
        PolicyRule r;
        DaemonLimits l;

        policy_get_limits(p, &l);
        policy_lookup(p, 4242, 4242, NULL, 0, &r);
        cr_assert_eq(r.max_sandboxes, POLICY_MAX_SANDBOXES_UNSET);
        cr_assert_eq(policy_max_sandboxes(&r, &l), 5);
        policy_lookup(p, NOBODY, NOBODY, NULL, 0, &r);
        cr_assert_eq(policy_max_sandboxes(&r, &l), 7);
}

typedef struct BadCase {
        const char *text;
        unsigned line;
        const char *reason; /* the whole reason the error gives */
} BadCase;

Test(policy, bad_files_are_refused_with_the_exact_line_and_reason) {
        static const BadCase cases[] = {
                { "namespaces = user\n", 1, "key 'namespaces' before any section" },
                { "[default]\nnamespaces = user\nfoo = bar\n", 3, "unknown key 'foo' in [default]" },
                { "[user:nobody]\nmax-sandbox = 3\n", 2, "unknown key 'max-sandbox' in [user:nobody]" },
                { "[default]\n\n[everyone]\n", 3,
                  "unknown section [everyone]; expected [default], [user:NAME], [group:NAME] or [limits]" },
                { "# c\n[default]\n[default]\n", 3, "duplicate section [default] (first on line 2)" },
                { "[limits]\n[limits]\n", 2, "duplicate section [limits]" },
                { "[user:nobody]\n[user:65534]\n", 2, "[user:65534] is the same user as [user:nobody] on line 1" },
                { "[group:daemon]\nkeep-alive=no\n[group:1]\n", 3,
                  "[group:1] is the same group as [group:daemon] on line 1" },
                { "[default]\nkeep-alive = yes\nkeep-alive = no\n", 3, "key 'keep-alive' set twice in [default]" },
                { "[default]\nkeep-alive = maybe\n", 2,
                  "invalid value 'maybe' for 'keep-alive' in [default]: expected yes or no" },
                { "[default]\nnested = unconfined\n", 2,
                  "invalid value 'unconfined' for 'nested' in [default]: expected refuse or allow" },
                { "[default]\nkeep-alive =\n", 2, "invalid value '' for 'keep-alive' in [default]: expected yes or no" },
                { "[default]\nnamespaces = user bogus\n", 2,
                  "invalid value 'user bogus' for 'namespaces' in [default]: expected namespace types (mount uts ipc "
                  "user pid net cgroup time) each at most once, or all, or none" },
                { "[default]\nnamespaces = user user\n", 2, NULL }, /* listed twice */
                { "[default]\nnamespaces = all net\n", 2, NULL },   /* all is alone */
                { "[default]\nmax-sandboxes = -1\n", 2,
                  "invalid value '-1' for 'max-sandboxes' in [default]: expected a number from 0 to 1000000" },
                { "[default]\nmax-sandboxes = 12abc\n", 2, NULL },
                { "[default]\nmax-sandboxes = 99999999999999999999999\n", 2, NULL },
                { "[default]\nmax-sandboxes = 1000001\n", 2, NULL },
                { "\n\n[user:no-such-user-nsbox]\n", 3, "no user 'no-such-user-nsbox' exists for [user:no-such-user-nsbox]" },
                { "[group:no-such-group-nsbox]\n", 1, "no group 'no-such-group-nsbox' exists for [group:no-such-group-nsbox]" },
                { "[user:4294967295]\n", 1, "invalid user id '4294967295' in [user:4294967295]" }, /* (uid_t) -1 */
                { "[user:]\n", 1, "[user:] names no user" },
                { "[user:a b]\n", 1, "invalid user name 'a b' in [user:a b]" },
                { "[user:nobody\n", 1, "section header '[user:nobody' has no closing ']'" },
                { "[default]\njust words\n", 2, "expected '[section]' or 'key = value', got 'just words'" },
                { "[default]\n= yes\n", 2, "'= yes' has no key" },
                { "[limits]\nconnections = 0\n", 2,
                  "invalid value '0' for 'connections' in [limits]: expected a decimal number from 1 to 1000000" },
                { "[limits]\nfds-per-message = 254\n", 2,
                  "invalid value '254' for 'fds-per-message' in [limits]: expected a decimal number from 1 to 253" },
                { "[limits]\nmessage-size = 1T\n", 2,
                  "invalid value '1T' for 'message-size' in [limits]: expected a decimal number from 1 to 268435456 "
                  "(bytes; K, M and G multiply by 1024)" },
                { "[limits]\nspare-cgroups = 65\n", 2,
                  "invalid value '65' for 'spare-cgroups' in [limits]: expected a decimal number from 0 to 64" },
                { "[limits]\nbogus = 1\n", 2, "unknown key 'bogus' in [limits]" },
                { "[limits]\nmounts = 1\nmounts = 2\n", 3, "key 'mounts' set twice in [limits]" },
                { "[limits]\nconnections = 10K\n", 2, NULL }, /* suffixes only for sizes */
                { "[limits]\nnamespaces = user\n", 2,
                  "unknown key 'namespaces' in [limits] (a rule key: it belongs in [default], [user:NAME] or "
                  "[group:NAME])" },
                { "[default]\nconnections = 1\n", 2,
                  "unknown key 'connections' in [default] (a limit: it belongs in [limits])" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Policy *p = NULL;
                ConfError e = {};

                cr_assert_eq(policy_load(write_file("policy.conf", cases[i].text), &p, &e), -EBADMSG,
                             "case %zu: %s", i, cases[i].text);
                cr_assert_null(p, "case %zu", i);
                cr_assert_eq(e.line, cases[i].line, "case %zu: line %u, expected %u", i, e.line, cases[i].line);
                cr_assert(e.reason[0], "case %zu: no reason", i);
                if (cases[i].reason)
                        cr_assert_str_eq(e.reason, cases[i].reason, "case %zu", i);
        }
}

Test(policy, nul_byte_and_overlong_line_are_refused) {
        Policy *p = NULL;
        ConfError e = {};
        char *big;

        cr_assert_eq(policy_load(write_file_n("policy.conf", "[default]\nkeep-alive = y\0es\n", 26), &p, &e),
                     -EBADMSG);
        cr_assert_eq(e.line, 2);
        cr_assert_str_eq(e.reason, "NUL byte in the line");

        big = malloc(10000);
        cr_assert_not_null(big);
        memset(big, ' ', 9999);
        big[9999] = 0;
        memcpy(big, "[default]\n", 10);
        e = (ConfError) {};
        cr_assert_eq(policy_load(write_file("policy.conf", big), &p, &e), -EBADMSG);
        cr_assert_eq(e.line, 2);
        cr_assert_str_eq(e.reason, "line longer than 4096 bytes");
        cr_assert_null(p);
        free(big);
}

Test(policy, unsafe_files_are_refused) {
        Policy *p = NULL;
        ConfError e = {};
        const char *path = write_file("policy.conf", "[default]\nkeep-alive = no\n");

        /* anyone who can write the file decides who gets what */
        cr_assert_eq(chmod(path, 0666), 0);
        cr_assert_eq(policy_load(path, &p, &e), -EPERM);
        cr_assert_eq(e.line, 0);
        cr_assert_str_eq(e.reason, "writable by others (mode 0666)");
        cr_assert_eq(chmod(path, 0620), 0);
        cr_assert_eq(policy_load(path, &p, &e), -EPERM);
        cr_assert_str_eq(e.reason, "writable by its group (mode 0620)");
        cr_assert_eq(chmod(path, 0644), 0);
        cr_assert_eq(chown(path, NOBODY, 0), 0);
        cr_assert_eq(policy_load(path, &p, &e), -EPERM);
        cr_assert_str_eq(e.reason, "owned by uid 65534, not by root");

        /* not a regular file */
        cr_assert_eq(policy_load(dir, &p, &e), -EINVAL);
        cr_assert_str_eq(e.reason, "not a regular file");
        cr_assert_null(p);
}

/* ---- precedence ---- */

Test(policy, user_beats_groups_beat_default) {
        _cleanup_(policy_freep) Policy *p = load_ok("[default]\n"
                                                    "namespaces = user\n"
                                                    "keep-alive = no\n"
                                                    "max-sandboxes = 2\n"
                                                    "[group:100]\n"
                                                    "namespaces = user net\n"
                                                    "max-sandboxes = 5\n"
                                                    "[group:200]\n"
                                                    "namespaces = user pid\n"
                                                    "max-sandboxes = 3\n"
                                                    "keep-alive = no\n"
                                                    "[group:300]\n"
                                                    "keep-alive = yes\n"
                                                    "[user:1000]\n"
                                                    "max-sandboxes = 1\n");
        PolicyRule r;
        const unsigned user = NAMESPACE_BIT(NAMESPACE_USER), net = NAMESPACE_BIT(NAMESPACE_NET),
                       pid = NAMESPACE_BIT(NAMESPACE_PID);

        /* one group: its keys over [default] */
        policy_lookup(p, 2000, 100, NULL, 0, &r);
        cr_assert_eq(r.namespaces, user | net);
        cr_assert_eq(r.max_sandboxes, 5);
        cr_assert_not(r.keep_alive);
        cr_assert_str_eq(r.source, "group:100");

        /* several groups: the most permissive value per key, whatever the order */
        policy_lookup(p, 2000, 2000, (const gid_t[]) { 300, 200, 100 }, 3, &r);
        cr_assert_eq(r.namespaces, user | net | pid);
        cr_assert_eq(r.max_sandboxes, 5);
        cr_assert(r.keep_alive);
        cr_assert_str_eq(r.source, "group:100"); /* the first matching section in the file */

        /* a user section beats the groups for the keys it sets, and only those */
        policy_lookup(p, 1000, 100, (const gid_t[]) { 300 }, 1, &r);
        cr_assert_eq(r.max_sandboxes, 1);
        cr_assert_eq(r.namespaces, user | net);
        cr_assert(r.keep_alive);
        cr_assert_str_eq(r.source, "user:1000");

        /* no match: [default] */
        policy_lookup(p, 2000, 2000, (const gid_t[]) { 400 }, 1, &r);
        cr_assert_eq(r.namespaces, user);
        cr_assert_eq(r.max_sandboxes, 2);
        cr_assert_str_eq(r.source, "default");
}

Test(policy, root_is_unrestricted) {
        _cleanup_(policy_freep) Policy *p = load_ok("[default]\nnamespaces = none\nmax-sandboxes = 0\nkeep-alive = no\n"
                                                    "[user:root]\nnamespaces = none\n");
        PolicyRule r;

        policy_lookup(p, 0, 0, NULL, 0, &r);
        cr_assert(r.unrestricted);
        cr_assert_eq(r.namespaces, NAMESPACE_ALL);
        cr_assert_eq(policy_max_sandboxes(&r, NULL), UINT_MAX);
        cr_assert_eq(r.nested, POLICY_NESTED_REFUSE);
}

/* "nested" is the one key root's sections decide, as anyone's: its user section, its groups, [default]. */
Test(policy, root_nested_from_its_rule) {
        static const char *const files[] = {
                "[user:root]\nnested = allow\nnamespaces = none\n",
                "[group:root]\nnested = allow\nmax-sandboxes = 0\n",
                "[default]\nnested = allow\nkeep-alive = no\n",
        };
        PolicyRule r;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(policy_freep) Policy *p = load_ok(files[i]);

                policy_lookup(p, 0, 0, NULL, 0, &r);
                cr_assert_eq(r.nested, POLICY_NESTED_ALLOW, "%s", files[i]);
                cr_assert(r.unrestricted, "%s", files[i]);
                cr_assert_eq(r.namespaces, NAMESPACE_ALL, "%s", files[i]);
                cr_assert(r.keep_alive, "%s", files[i]);
                cr_assert_eq(policy_max_sandboxes(&r, NULL), UINT_MAX, "%s", files[i]);
        }
        {
                _cleanup_(policy_freep) Policy *p = load_ok("[default]\nnested = allow\n[user:root]\nnested = refuse\n");

                policy_lookup(p, 0, 0, NULL, 0, &r);
                cr_assert_eq(r.nested, POLICY_NESTED_REFUSE);
                cr_assert_str_eq(r.source, "user:root");
        }
        /* no file: refused */
        policy_lookup(NULL, 0, 0, NULL, 0, &r);
        cr_assert_eq(r.nested, POLICY_NESTED_REFUSE);
}

/* warm-pool: off unless a section gives it, 0 to 16; root's sections decide root's, as for nested. */
Test(policy, warm_pool_key) {
        PolicyRule r;

        policy_lookup(NULL, CALLER_UID, CALLER_GID, NULL, 0, &r);
        cr_assert_eq(r.warm_pool, 0U);
        policy_lookup(NULL, 0, 0, NULL, 0, &r);
        cr_assert_eq(r.warm_pool, 0U);
        {
                _cleanup_(policy_freep) Policy *p = load_ok("[default]\nwarm-pool = 2\n[user:root]\nwarm-pool = 16\n");

                policy_lookup(p, CALLER_UID, CALLER_GID, NULL, 0, &r);
                cr_assert_eq(r.warm_pool, 2U);
                policy_lookup(p, 0, 0, NULL, 0, &r);
                cr_assert(r.unrestricted);
                cr_assert_eq(r.warm_pool, 16U);
        }
        for (size_t i = 0; i < 2; i++) {
                _cleanup_(policy_freep) Policy *p = NULL;
                ConfError e = {};

                cr_assert_eq(policy_load(write_file("policy.conf", i == 0 ? "[default]\nwarm-pool = 17\n" :
                                                                            "[default]\nwarm-pool = -1\n"),
                                         &p, &e),
                             -EBADMSG);
                cr_assert_eq(e.line, 2U);
        }
}

/* ---- limits ---- */

static bool limits_equal(const DaemonLimits *a, const DaemonLimits *b) {
        return a->connections == b->connections && a->connections_per_uid == b->connections_per_uid &&
               a->message_size == b->message_size && a->fds_per_message == b->fds_per_message &&
               a->spawn.argv_bytes_max == b->spawn.argv_bytes_max && a->spawn.env_bytes_max == b->spawn.env_bytes_max &&
               a->spawn.mappings_max == b->spawn.mappings_max && a->spawn.mounts_max == b->spawn.mounts_max &&
               a->sandboxes_per_uid == b->sandboxes_per_uid && a->sandboxes == b->sandboxes &&
               a->pending_spawns == b->pending_spawns && a->pending_spawns_per_uid == b->pending_spawns_per_uid &&
               a->spawn_timeout_sec == b->spawn_timeout_sec && a->held_bytes_per_uid == b->held_bytes_per_uid &&
               a->held_fds_per_uid == b->held_fds_per_uid;
}

Test(policy, limits) {
        DaemonLimits l, before;

        limits_init(&l);
        cr_assert_eq(l.connections, 1024);
        cr_assert_eq(l.connections_per_uid, 64);
        cr_assert_eq(l.message_size, 1024 * 1024);
        cr_assert_eq(l.fds_per_message, 96);
        cr_assert_eq(l.spawn.argv_bytes_max, 128 * 1024);
        cr_assert_eq(l.spawn.env_bytes_max, 128 * 1024);
        cr_assert_eq(l.spawn.mappings_max, 64);
        cr_assert_eq(l.spawn.mounts_max, 256);
        /* the rest of what a request may hold is the decoder's own default */
        cr_assert_eq(l.spawn.argv_entries_max, 0);
        cr_assert_eq(l.spawn.path_max, 0);
        cr_assert_eq(l.sandboxes_per_uid, 64);
        cr_assert_eq(l.sandboxes, 4096);
        cr_assert_eq(l.pending_spawns, 128);
        cr_assert_eq(l.pending_spawns_per_uid, 16);
        cr_assert_eq(l.spawn_timeout_sec, 30);
        cr_assert_eq(l.held_bytes_per_uid, 16 * 1024 * 1024);
        cr_assert_eq(l.held_fds_per_uid, 1024);

        cr_assert_eq(limits_set(&l, "connections", "5"), 0);
        cr_assert_eq(limits_set(&l, "spawn-timeout", "3601"), -EINVAL);
        cr_assert_eq(limits_set(&l, "pending-spawns-per-user", "2"), 0);
        cr_assert_eq(l.pending_spawns_per_uid, 2);
        cr_assert_eq(l.connections, 5);
        cr_assert_eq(limits_set(&l, "argv-bytes", "1M"), 0);
        cr_assert_eq(l.spawn.argv_bytes_max, 1024 * 1024);
        cr_assert_eq(limits_set_assignment(&l, "pending-spawns=7"), 0);
        cr_assert_eq(l.pending_spawns, 7);
        cr_assert_eq(limits_set(&l, "fds-per-message", "253"), 0);

        before = l;
        cr_assert_eq(limits_set(&l, "fds-per-message", "254"), -EINVAL);
        cr_assert_eq(limits_set(&l, "connections", "0"), -EINVAL);
        cr_assert_eq(limits_set(&l, "connections", "-1"), -EINVAL);
        cr_assert_eq(limits_set(&l, "connections", ""), -EINVAL);
        cr_assert_eq(limits_set(&l, "connections", "1 "), -EINVAL);
        cr_assert_eq(limits_set(&l, "message-size", "99999999999999999999G"), -EINVAL);
        cr_assert_eq(limits_set(&l, "message-size", "1T"), -EINVAL);
        cr_assert_eq(limits_set(&l, "mappings", "341"), -EINVAL);
        cr_assert_eq(limits_set(&l, "no-such-limit", "1"), -ENOENT);
        cr_assert_eq(limits_set_assignment(&l, "connections"), -EINVAL);
        cr_assert(limits_equal(&l, &before), "a refused value changed the limits");

        /* one table: each name finds its own row */
        cr_assert_eq(limits_count(), 21);
        cr_assert_eq(limits_index(limits_find("connections")), 0);
        cr_assert_eq(limits_index(limits_find("held-fds-per-user")), 14);
        cr_assert(limits_find("message-size")->bytes);
        cr_assert_eq(limits_find("mappings")->max, 340);
        cr_assert(limits_find("capture-bytes")->bytes);
        cr_assert_eq(limits_find("stdin-data-bytes")->max, 1024 * 1024);
        cr_assert_eq(limits_set(&l, "capture-bytes-max", "2G"), -EINVAL);
        cr_assert_eq(limits_set(&l, "capture-bytes-max", "64M"), 0);
        cr_assert_eq(l.spawn.capture_bytes_max, 64U * 1024 * 1024);
        cr_assert(limits_find("capture-bytes-per-user")->bytes);
        cr_assert_eq(limits_set(&l, "capture-bytes-per-user", "1M"), 0);
        cr_assert_eq(l.capture_bytes_per_uid, 1024U * 1024);
        cr_assert_null(limits_find("no-such-limit"));
        /* each warm-pool entry holds a spawn worker: capped well below their number */
        cr_assert_eq(l.warm_pool_entries, 16U);
        cr_assert_eq(limits_find("warm-pool-entries")->max, 64);
        cr_assert_eq(limits_set(&l, "warm-pool-entries", "65"), -EINVAL);
        cr_assert_eq(limits_set(&l, "warm-pool-entries", "1"), 0);
        cr_assert_eq(l.warm_pool_entries, 1U);
        cr_assert_eq(limits_set(&l, "warm-pool-entries", "0"), -EINVAL);
        /* 0 turns spare cgroups off, where 0 of another limit is refused */
        cr_assert_eq(l.spare_cgroups, 4U);
        cr_assert_eq(limits_find("spare-cgroups")->min, 0);
        cr_assert_eq(limits_set(&l, "spare-cgroups", "0"), 0);
        cr_assert_eq(l.spare_cgroups, 0U);
        cr_assert_eq(limits_set(&l, "spare-cgroups", "65"), -EINVAL);
}

Test(policy, quota) {
        PolicyRule r;
        PolicyDenial d;
        DaemonLimits l;

        limits_init(&l);
        l.sandboxes_per_uid = 2;
        l.sandboxes = 10;

        policy_lookup(NULL, CALLER_UID, CALLER_GID, NULL, 0, &r);
        cr_assert_eq(policy_check_quota(&r, &l, 1, 5, &d), 0);
        cr_assert_eq(policy_check_quota(&r, &l, 2, 5, &d), -EPERM);
        cr_assert_eq(d.kind, POLICY_DENIAL_QUOTA_EXCEEDED);
        cr_assert_str_eq(d.field, "sandboxes-per-user");
        cr_assert_eq(policy_check_quota(&r, &l, 0, 10, &d), -EPERM);
        cr_assert_str_eq(d.field, "sandboxes");

        /* root: no per-user quota, but the daemon total still holds */
        policy_lookup(NULL, 0, 0, NULL, 0, &r);
        cr_assert_eq(policy_check_quota(&r, &l, 9, 9, &d), 0);
        cr_assert_eq(policy_check_quota(&r, &l, 10, 10, &d), -EPERM);
        cr_assert_str_eq(d.field, "sandboxes");
}

Test(policy, denial_to_error) {
        static const struct {
                PolicyDenial denial;
                const char *error;
                const char *parameter; /* NULL: none checked */
        } cases[] = {
                { { .kind = POLICY_DENIAL_INVALID_PARAMETER, .field = "uidMappings[1].hostID" },
                  VARLINK_ERROR_INVALID_PARAMETER, "parameter" },
                { { .kind = POLICY_DENIAL_QUOTA_EXCEEDED, .field = "sandboxes-per-user" },
                  NSBOX_ERROR_QUOTA_EXCEEDED, "limit" },
                { { .kind = POLICY_DENIAL_PERMISSION_DENIED, .field = "namespaces" },
                  VARLINK_ERROR_PERMISSION_DENIED, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *e = policy_denial_to_error(&cases[i].denial), *v;

                cr_assert_not_null(e);
                cr_assert(json_object_object_get_ex(e, "error", &v));
                cr_assert_str_eq(json_object_get_string(v), cases[i].error);
                if (cases[i].parameter) {
                        /* the denied field goes out as the error's parameter */
                        cr_assert(json_object_object_get_ex(e, "parameters", &v), "%s", cases[i].error);
                        cr_assert(json_object_object_get_ex(v, cases[i].parameter, &v), "%s", cases[i].error);
                        cr_assert_str_eq(json_object_get_string(v), cases[i].denial.field);
                }
                json_object_put(e);
        }
}

/* ---- spawn requests ---- */

static gid_t caller_groups[] = { 100, 200 };

static const Caller caller = {
        .uid = CALLER_UID,
        .gid = CALLER_GID,
        .pid = 1,
        .groups = caller_groups,
        .n_groups = ELEMENTSOF(caller_groups),
};

static SpawnRequest *request(unsigned namespaces) {
        SpawnRequest *r = spawn_request_new();

        cr_assert_not_null(r);
        r->argv = calloc(2, sizeof(char *));
        cr_assert_not_null(r->argv);
        r->argv[0] = strdup("/bin/true");
        r->namespaces = namespaces;
        return r;
}

static void add_mapping(IdMapping **list, size_t *n, uint32_t container_id, uint32_t host_id, uint32_t size) {
        IdMapping *a = reallocarray(*list, *n + 1, sizeof(IdMapping));

        cr_assert_not_null(a);
        a[(*n)++] = (IdMapping) { .container_id = container_id, .host_id = host_id, .size = size };
        *list = a;
}
#define UIDMAP(r, c, h, s) add_mapping(&(r)->uid_mappings, &(r)->n_uid_mappings, c, h, s)
#define GIDMAP(r, c, h, s) add_mapping(&(r)->gid_mappings, &(r)->n_gid_mappings, c, h, s)

#define USERNS NAMESPACE_BIT(NAMESPACE_USER)

typedef struct Env {
        Policy *policy;
        SubidRanges *subuid;
        SubidRanges *subgid;
} Env;

static Env env_default(void) {
        return (Env) {
                .policy = NULL,
                /* caller 1000 has no name on this machine: its numeric lines apply */
                .subuid = subid_ok("subuid", "1000:100000:65536\n2000:200000:65536\n1000:300000:10\n"),
                .subgid = subid_ok("subgid", "1000:100000:65536\n2000:200000:65536\n"),
        };
}

static void env_done(Env *e) {
        policy_free(e->policy);
        subid_ranges_free(e->subuid);
        subid_ranges_free(e->subgid);
}

static int check(const Env *e, const Caller *c, const SpawnRequest *r, PolicyDecision *dec, PolicyDenial *d) {
        return policy_check_spawn(e->policy, c, r, e->subuid, e->subgid, dec, d);
}

/* Asserts the request is refused with this kind and field. */
static void assert_denied(const Env *e, const SpawnRequest *r, PolicyDenialKind kind, const char *field) {
        PolicyDecision dec = { .setgroups_allow = true };
        PolicyDenial d = {};

        cr_assert_eq(check(e, &caller, r, &dec, &d), -EPERM, "expected a denial naming %s", field);
        cr_assert_eq(d.kind, kind, "kind %d, expected %d (%s: %s)", d.kind, kind, d.field, d.reason);
        cr_assert_str_eq(d.field, field, "%s", d.reason);
        cr_assert_gt(strlen(d.reason), 0);
        cr_assert(dec.setgroups_allow, "decision touched on failure");
}

static PolicyDecision assert_allowed(const Env *e, const SpawnRequest *r) {
        PolicyDecision dec = {};
        PolicyDenial d = {};

        cr_assert_eq(check(e, &caller, r, &dec, &d), 0, "refused: %s: %s", d.field, d.reason);
        return dec;
}

Test(policy, own_ids_mapped) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        PolicyDecision dec;

        UIDMAP(r, 0, CALLER_UID, 1);
        GIDMAP(r, 0, CALLER_GID, 1);
        dec = assert_allowed(&e, r);
        cr_assert_not(dec.setgroups_allow, "only the own gid mapped: setgroups must be deny");

        r->setgroups = 0;
        dec = assert_allowed(&e, r);
        cr_assert_not(dec.setgroups_allow);

        /* setgroups allow with only the own gid: refused */
        r->setgroups = 1;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "setgroups");
        env_done(&e);
}

Test(policy, other_uid_refused_with_field) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);

        UIDMAP(r, 0, CALLER_UID, 1);
        UIDMAP(r, 1, 1001, 1);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[1].hostID");
        env_done(&e);
}

Test(policy, host_root_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *g = request(USERNS);

        UIDMAP(r, 0, 0, 1);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].hostID");

        GIDMAP(g, 0, CALLER_GID, 1);
        GIDMAP(g, 1, 0, 1);
        assert_denied(&e, g, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings[1].hostID");
        env_done(&e);
}

Test(policy, own_uid_with_a_wider_size_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);

        UIDMAP(r, 0, CALLER_UID, 2); /* would also map uid 1001 */
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].size");
        env_done(&e);
}

Test(policy, supplementary_gid_is_not_own_gid) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);

        /* as newgidmap: only the primary gid counts as "own" */
        GIDMAP(r, 0, 100, 1);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings[0].hostID");
        env_done(&e);
}

Test(policy, subid_range_inside_is_allowed) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS | NAMESPACE_BIT(NAMESPACE_MOUNT));
        PolicyDecision dec;

        UIDMAP(r, 0, CALLER_UID, 1);
        UIDMAP(r, 1, 100000, 65536);    /* the whole first range */
        UIDMAP(r, 70000, 300000, 10);   /* the second range */
        GIDMAP(r, 0, CALLER_GID, 1);
        GIDMAP(r, 1, 100010, 100);      /* a piece of the range */
        dec = assert_allowed(&e, r);
        cr_assert(dec.setgroups_allow, "a subgid range mapped and setgroups absent: allow, as newgidmap");

        r->setgroups = 1;
        dec = assert_allowed(&e, r);
        cr_assert(dec.setgroups_allow);
        r->setgroups = 0;
        dec = assert_allowed(&e, r);
        cr_assert_not(dec.setgroups_allow);
        env_done(&e);
}

Test(policy, subid_range_matched_by_name) {
        Env e = {
                .subuid = subid_ok("subuid", "nobody:500000:1000\n"),
                .subgid = subid_ok("subgid", "nogroup:500000:1000\n"), /* owners are users, not groups */
        };
        const Caller nobody = { .uid = NOBODY, .gid = NOBODY };
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *g = request(USERNS);
        PolicyDecision dec;
        PolicyDenial d;

        UIDMAP(r, 0, 500000, 1000);
        cr_assert_eq(check(&e, &nobody, r, &dec, &d), 0, "%s: %s", d.field, d.reason);
        /* the same range for someone else */
        cr_assert_eq(check(&e, &caller, r, &dec, &d), -EPERM);
        cr_assert_str_eq(d.field, "uidMappings[0].hostID");

        GIDMAP(g, 0, 500000, 1);
        cr_assert_eq(check(&e, &nobody, g, &dec, &d), -EPERM);
        cr_assert_str_eq(d.field, "gidMappings[0].hostID");
        env_done(&e);
}

Test(policy, range_straddling_the_end_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *s = request(USERNS);

        UIDMAP(r, 0, CALLER_UID, 1);
        UIDMAP(r, 1, 100000 + 65536 - 10, 11); /* one id past the end of the grant */
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[1].size");

        /* starting before the grant */
        UIDMAP(s, 0, 99999, 2);
        assert_denied(&e, s, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].hostID");
        env_done(&e);
}

/* A range may end right before (uid_t) -1 and no further: hit the bound exactly, on both lists. */
Test(policy, mapping_past_the_last_id_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *s = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *ok = request(USERNS);

        UIDMAP(r, 4294967295U, CALLER_UID, 1);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].size");

        GIDMAP(s, 4294967295U, CALLER_GID, 1);
        assert_denied(&e, s, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings[0].size");

        UIDMAP(ok, 4294967294U, CALLER_UID, 1);
        GIDMAP(ok, 4294967294U, CALLER_GID, 1);
        assert_allowed(&e, ok);
        env_done(&e);
}

/* The same bound on the host side, which no own id or granted range could ever reach. */
Test(policy, host_range_past_the_last_id_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *s = request(USERNS);

        UIDMAP(r, 0, 4294967295U, 1);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].size");
        GIDMAP(s, 0, 4294967295U, 1);
        assert_denied(&e, s, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings[0].size");
        env_done(&e);
}

/* A caller whose uid and gid differ: each list is judged by its own id, never by the other one. */
Test(policy, own_uid_and_own_gid_are_not_interchangeable) {
        static const Caller split = { .uid = 1000, .gid = 2000, .pid = 1 };
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *ok = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *u = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *g = request(USERNS);
        PolicyDecision dec;
        PolicyDenial d;

        UIDMAP(ok, 0, 1000, 1);
        GIDMAP(ok, 0, 2000, 1);
        cr_assert_eq(check(&e, &split, ok, &dec, &d), 0, "%s: %s", d.field, d.reason);

        UIDMAP(u, 0, 2000, 1); /* its gid as a uid */
        cr_assert_eq(check(&e, &split, u, &dec, &d), -EPERM);
        cr_assert_str_eq(d.field, "uidMappings[0].hostID");

        GIDMAP(g, 0, 1000, 1); /* its uid as a gid */
        cr_assert_eq(check(&e, &split, g, &dec, &d), -EPERM);
        cr_assert_str_eq(d.field, "gidMappings[0].hostID");
        env_done(&e);
}

Test(policy, another_users_range_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);

        UIDMAP(r, 0, 200000, 10); /* granted to 2000 */
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].hostID");
        env_done(&e);
}

Test(policy, overlapping_mappings_refused) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *c = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *h = request(USERNS);

        /* container ranges overlap */
        UIDMAP(c, 0, 100000, 10);
        UIDMAP(c, 9, 100100, 10);
        assert_denied(&e, c, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[1].containerID");

        /* host ranges overlap */
        GIDMAP(h, 0, 100000, 10);
        GIDMAP(h, 100, 100005, 10);
        assert_denied(&e, h, POLICY_DENIAL_INVALID_PARAMETER, "gidMappings[1].hostID");
        env_done(&e);
}

Test(policy, subid_ranges_forbidden_by_rule) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        _cleanup_(spawn_request_freep) SpawnRequest *own = request(USERNS);

        e.policy = load_ok("[user:1000]\nsubid-ranges = no\n");
        UIDMAP(r, 0, 100000, 10);
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "uidMappings[0].hostID");

        UIDMAP(own, 0, CALLER_UID, 1);
        assert_allowed(&e, own);
        env_done(&e);
}

Test(policy, no_subid_files_only_own_ids) {
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);
        PolicyDecision dec;
        PolicyDenial d;

        UIDMAP(r, 0, CALLER_UID, 1);
        cr_assert_eq(policy_check_spawn(NULL, &caller, r, NULL, NULL, &dec, &d), 0);
        UIDMAP(r, 1, 100000, 1);
        cr_assert_eq(policy_check_spawn(NULL, &caller, r, NULL, NULL, &dec, &d), -EPERM);
        cr_assert_str_eq(d.field, "uidMappings[1].hostID");
}

Test(policy, namespaces_forbidden_by_rule) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS | NAMESPACE_BIT(NAMESPACE_NET));
        _cleanup_(spawn_request_freep) SpawnRequest *ok = request(USERNS | NAMESPACE_BIT(NAMESPACE_PID));

        e.policy = load_ok("[default]\nnamespaces = user pid mount\n");
        assert_denied(&e, r, POLICY_DENIAL_PERMISSION_DENIED, "namespaces");
        assert_allowed(&e, ok);
        env_done(&e);
}

Test(policy, keep_alive_forbidden_by_rule) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(0);

        r->keep_alive = true;
        assert_allowed(&e, r); /* allowed by default */

        e.policy = load_ok("[group:200]\nkeep-alive = no\n");
        assert_denied(&e, r, POLICY_DENIAL_PERMISSION_DENIED, "keepAlive");
        r->keep_alive = false;
        assert_allowed(&e, r);
        env_done(&e);
}

/* "dev" on a bind: allowed unless device-binds says no, naming the entry's options. */
Test(policy, device_binds_forbidden_by_rule) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(NAMESPACE_BIT(NAMESPACE_MOUNT));

        r->mounts = calloc(2, sizeof(MountEntry));
        r->n_mounts = 2;
        r->mounts[0] = (MountEntry) { .kind = MOUNT_BIND, .source = strdup("/"), .destination = strdup("/"),
                                      .source_fd_index = -1, .mode = -1 };
        r->mounts[1] = (MountEntry) { .kind = MOUNT_BIND, .source = strdup("/dev"), .destination = strdup("/dev"),
                                      .source_fd_index = -1, .mode = -1, .allow_dev = true };
        assert_allowed(&e, r); /* allowed by default */

        e.policy = load_ok("[default]\ndevice-binds = no\n");
        assert_denied(&e, r, POLICY_DENIAL_PERMISSION_DENIED, "mounts[1].options");
        r->mounts[1].allow_dev = false;
        assert_allowed(&e, r);
        env_done(&e);
}

Test(policy, user_without_user_namespace) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(NAMESPACE_BIT(NAMESPACE_PID));

        r->has_user = true;
        r->uid = CALLER_UID;
        r->gid = CALLER_GID;
        assert_allowed(&e, r);

        r->gid = 200; /* a supplementary group it has */
        assert_allowed(&e, r);

        r->additional_gids = calloc(2, sizeof(uint32_t));
        r->additional_gids[0] = 100;
        r->additional_gids[1] = 0;
        r->n_additional_gids = 2;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.additionalGids[1]");
        r->additional_gids[1] = CALLER_GID;
        assert_allowed(&e, r);

        r->gid = 0;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.gid");
        r->gid = CALLER_GID;
        r->uid = 0;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.uid");
        env_done(&e);
}

Test(policy, user_with_user_namespace) {
        Env e = env_default();
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(USERNS);

        UIDMAP(r, 0, CALLER_UID, 1);
        UIDMAP(r, 1, 100000, 100);
        GIDMAP(r, 0, CALLER_GID, 1);
        r->has_user = true;
        r->uid = 50;
        r->gid = 0;
        assert_allowed(&e, r);

        r->uid = 101; /* not mapped */
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.uid");
        r->uid = 0;
        r->gid = 1;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.gid");
        r->gid = 0;

        /* groups need setgroups, which the own gid alone does not allow */
        r->additional_gids = calloc(1, sizeof(uint32_t));
        r->n_additional_gids = 1;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.additionalGids");

        GIDMAP(r, 1, 100000, 10);
        r->additional_gids[0] = 5;
        assert_allowed(&e, r);
        r->additional_gids[0] = 11;
        assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "user.additionalGids[0]");
        env_done(&e);
}

Test(policy, root_may_do_anything) {
        Env e = env_default();
        const Caller root = { .uid = 0, .gid = 0, .privileged = true };
        _cleanup_(spawn_request_freep) SpawnRequest *r = request(NAMESPACE_ALL);
        PolicyDecision dec = {};
        PolicyDenial d;

        e.policy = load_ok("[default]\nnamespaces = none\nkeep-alive = no\n");
        UIDMAP(r, 0, 0, 65536);
        GIDMAP(r, 0, 0, 65536);
        r->keep_alive = true;
        cr_assert_eq(check(&e, &root, r, &dec, &d), 0);
        cr_assert(dec.setgroups_allow, "root, setgroups absent: allow");
        r->setgroups = 0;
        cr_assert_eq(check(&e, &root, r, &dec, &d), 0);
        cr_assert_not(dec.setgroups_allow);

        /* "privileged" alone does not make a non-root uid root */
        const Caller fake = { .uid = CALLER_UID, .gid = CALLER_GID, .privileged = true };
        cr_assert_eq(check(&e, &fake, r, &dec, &d), -EPERM);
        env_done(&e);
}

/* ---- joining namespaces ---- */

typedef struct Holder {
        pid_t pid;
        int ready;   /* read end: a byte once the child unshared */
        int release; /* write end: closing it lets the child exit */
} Holder;

/* A child that drops to uid (if not 0), unshares flags, then waits until released. */
static Holder holder_start(uid_t uid, int flags) {
        int ready[2], release[2];
        Holder h;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(release, O_CLOEXEC), 0);
        h.pid = fork();
        cr_assert_geq(h.pid, 0);
        if (h.pid == 0) {
                char c;

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                        _exit(1);
                if (unshare(flags) < 0)
                        _exit(2);
                if (write(ready[1], "x", 1) != 1)
                        _exit(3);
                close(release[1]);
                (void) !read(release[0], &c, 1);
                _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        h.ready = ready[0];
        h.release = release[1];

        char c;
        cr_assert_eq(read(h.ready, &c, 1), 1, "holder child failed to unshare");
        return h;
}

static void holder_stop(Holder *h) {
        int status;

        close(h->release);
        close(h->ready);
        cr_assert_eq(waitpid(h->pid, &status, 0), h->pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int open_ns(pid_t pid, const char *type) {
        char path[64];
        int fd;

        snprintf(path, sizeof(path), "/proc/%i/ns/%s", (int) pid, type);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s", path);
        return fd;
}

Test(policy, join_rejects_what_is_not_a_namespace) {
        _cleanup_close_ int file = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int net = open_ns(getpid(), "net");

        cr_assert_geq(file, 0);
        cr_assert_eq(policy_check_join_namespace(file, NAMESPACE_NET, 0), -EINVAL);
        cr_assert_eq(policy_check_join_namespace(file, NAMESPACE_NET, CALLER_UID), -EINVAL);
        /* a namespace of another type than the request says */
        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_UTS, 0), -EINVAL);
        cr_assert_eq(policy_check_join_namespace(net, _NAMESPACE_TYPE_MAX, 0), -EINVAL);
        cr_assert_eq(policy_check_join_namespace(-1, NAMESPACE_NET, 0), -EINVAL);

        /* Pipes and sockets name themselves like namespaces ("pipe:[N]"): only nsfs's device tells them apart,
         * and they never get an ioctl. */
        int p[2], sv[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(policy_check_join_namespace(p[i], NAMESPACE_NET, 0), -EINVAL);
                cr_assert_eq(policy_check_join_namespace(sv[i], NAMESPACE_USER, 0), -EINVAL);
                cr_assert_eq(policy_check_join_namespace(sv[i], NAMESPACE_NET, NOBODY), -EINVAL);
        }
        for (int i = 0; i < 2; i++) {
                close(p[i]);
                close(sv[i]);
        }
}

Test(policy, join_host_namespaces_only_as_root) {
        _cleanup_close_ int net = open_ns(getpid(), "net");
        _cleanup_close_ int user = open_ns(getpid(), "user");

        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, 0), 0);
        cr_assert_eq(policy_check_join_namespace(user, NAMESPACE_USER, 0), 0);
        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, NOBODY), -EPERM);
        cr_assert_eq(policy_check_join_namespace(user, NAMESPACE_USER, NOBODY), -EPERM);
}

Test(policy, join_namespaces_the_caller_owns) {
        Holder h = holder_start(NOBODY, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS);
        _cleanup_close_ int net = open_ns(h.pid, "net");
        _cleanup_close_ int user = open_ns(h.pid, "user");

        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, NOBODY), 0);
        cr_assert_eq(policy_check_join_namespace(user, NAMESPACE_USER, NOBODY), 0);
        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, CALLER_UID), -EPERM);
        cr_assert_eq(policy_check_join_namespace(user, NAMESPACE_USER, CALLER_UID), -EPERM);
        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, 0), 0);

        /* the same through a pidfd */
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, h.pid, 0);
        cr_assert_geq(pidfd, 0);
        cr_assert_eq(policy_check_join_namespace(pidfd, NAMESPACE_UTS, NOBODY), 0);
        cr_assert_eq(policy_check_join_namespace(pidfd, NAMESPACE_USER, NOBODY), 0);
        cr_assert_eq(policy_check_join_namespace(pidfd, NAMESPACE_UTS, CALLER_UID), -EPERM);
        /* its ipc namespace is still the host's */
        cr_assert_eq(policy_check_join_namespace(pidfd, NAMESPACE_IPC, NOBODY), -EPERM);

        holder_stop(&h);
}

Test(policy, join_namespace_owned_by_root_refused) {
        /* root's user namespace: the caller's uid running inside it is not enough */
        Holder h = holder_start(0, CLONE_NEWUSER | CLONE_NEWNET);
        _cleanup_close_ int net = open_ns(h.pid, "net");
        _cleanup_close_ int user = open_ns(h.pid, "user");
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);

        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, NOBODY), -EPERM);
        cr_assert_eq(policy_check_join_namespace(user, NAMESPACE_USER, NOBODY), -EPERM);
        cr_assert_eq(policy_check_join_namespace(net, NAMESPACE_NET, 0), 0);
        /* the daemon's own process */
        cr_assert_eq(policy_check_join_namespace(pidfd, NAMESPACE_NET, NOBODY), -EPERM);
        holder_stop(&h);
}

/* ---- a client's fd on a file system that never answers ---- */

static int join_fuse_root(int fd) {
        if (policy_check_join_namespace(fd, NAMESPACE_NET, NOBODY) != -EINVAL)
                return -1;
        if (policy_check_join_namespace(fd, NAMESPACE_USER, 0) != -EINVAL)
                return -1;
        return 0;
}

/* fstatfs() on such an fd would hang the daemon's loop. */
Test(policy, join_never_asks_the_fds_file_system) {
        test_assert_no_fuse_request(join_fuse_root);
}

/* ---- resource limits ---- */

Test(policy, resource_keys_parse_in_systemd_units) {
        Policy *p = load_ok("[default]\n"
                            "memory-max = 512M\n"
                            "default-memory-max = 256M\n"
                            "memory-high = infinity\n"
                            "memory-swap-max = 1G\n"
                            "tasks-max = 100\n"
                            "default-tasks-max = 50\n"
                            "cpu-quota = 150%\n"
                            "cpu-weight = 200\n"
                            "runtime-max-sec = 1h\n"
                            "default-runtime-max-sec = 90\n"
                            "user-memory-max = 2G\n"
                            "user-tasks-max = 300\n"
                            "user-cpu-quota = 400%\n");
        PolicyRule r;

        policy_lookup(p, 1000, 1000, NULL, 0, &r);
        cr_assert_eq(r.max.memory_max, 512ULL << 20);
        cr_assert_eq(r.defaults.memory_max, 256ULL << 20);
        cr_assert_eq(r.max.memory_high, POLICY_LIMIT_INFINITY);
        cr_assert_not(policy_limit_is_set(r.max.memory_high));
        cr_assert_eq(r.max.memory_swap_max, 1ULL << 30);
        cr_assert_eq(r.max.tasks_max, 100);
        cr_assert_eq(r.defaults.tasks_max, 50);
        cr_assert_eq(r.max.cpu_quota, 1500000, "150%% is 1.5 CPU seconds per second");
        cr_assert_eq(r.max.cpu_weight, 200);
        cr_assert_eq(r.max.runtime_max_usec, 3600ULL * 1000000ULL);
        cr_assert_eq(r.defaults.runtime_max_usec, 90ULL * 1000000ULL);
        cr_assert_eq(r.user.memory_max, 2ULL << 30);
        cr_assert_eq(r.user.tasks_max, 300);
        cr_assert_eq(r.user.cpu_quota, 4000000);
        cr_assert_eq(r.user.memory_high, 0, "unset");
        policy_free(p);

        static const BadCase bad[] = {
                { "[default]\nmemory-max = 0\n", 2,
                  "invalid value '0' for 'memory-max' in [default]: expected a size in bytes (K, M, G and T multiply "
                  "by 1024), or infinity" },
                { "[default]\nmemory-max = 64X\n", 2, NULL },
                { "[default]\nmemory-max = -1\n", 2, NULL },
                { "[default]\ntasks-max = 4194305\n", 2, NULL },
                { "[default]\ncpu-quota = 50\n", 2,
                  "invalid value '50' for 'cpu-quota' in [default]: expected a percentage of one CPU from 1% "
                  "(200% is two CPUs), or infinity" },
                { "[default]\ncpu-quota = 0%\n", 2, NULL },
                { "[default]\ncpu-weight = 10001\n", 2, NULL },
                { "[default]\nruntime-max-sec = 10x\n", 2, NULL },
                { "[default]\nuser-runtime-max-sec = 10\n", 2, "unknown key 'user-runtime-max-sec' in [default]" },
                { "[default]\ntasks-max = 5\ntasks-max = 6\n", 3, "key 'tasks-max' set twice in [default]" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Policy *q = NULL;
                ConfError e = {};

                cr_assert_eq(policy_load(write_file("policy.conf", bad[i].text), &q, &e), -EBADMSG, "case %zu", i);
                cr_assert_eq(e.line, bad[i].line, "case %zu", i);
                if (bad[i].reason)
                        cr_assert_str_eq(e.reason, bad[i].reason, "case %zu", i);
        }
}

Test(policy, resource_limits_layer_and_the_most_permissive_group_wins) {
        Policy *p = load_ok("[default]\ntasks-max = 10\nmemory-max = 64M\n"
                            "[group:1]\ntasks-max = 20\n"
                            "[group:2]\ntasks-max = 30\nmemory-max = infinity\n"
                            "[user:1000]\ntasks-max = 5\n");
        gid_t groups[] = { 1, 2 };
        PolicyRule r;

        policy_lookup(p, 1000, 1000, groups, 2, &r);
        cr_assert_eq(r.max.tasks_max, 5, "the user's section wins");
        cr_assert_eq(r.max.memory_max, POLICY_LIMIT_INFINITY, "infinity is the most permissive");
        policy_lookup(p, 1001, 1001, groups, 2, &r);
        cr_assert_eq(r.max.tasks_max, 30, "the largest of the groups");
        policy_lookup(p, 1001, 1001, groups, 1, &r);
        cr_assert_eq(r.max.tasks_max, 20);
        cr_assert_eq(r.max.memory_max, 64ULL << 20, "from [default]");
        policy_lookup(p, 0, 0, NULL, 0, &r);
        cr_assert(r.unrestricted);
        cr_assert_eq(r.max.tasks_max, 0);
        policy_free(p);
}

static PolicyRule rule_of(const char *text) {
        Policy *p = load_ok(text);
        PolicyRule r;

        policy_lookup(p, 1000, 1000, NULL, 0, &r);
        policy_free(p);
        return r;
}

Test(policy, resolve_limits_caps_requests_and_fills_in_defaults) {
        PolicyRule rule = rule_of("[default]\nmemory-max = 512M\ndefault-memory-max = 256M\ntasks-max = 100\n"
                                  "cpu-quota = 50%\nruntime-max-sec = 10\nuser-tasks-max = 300\n");
        SpawnRequest *req = request(0);
        PolicyLimitsDecision d;
        PolicyDenial denial = {};

        /* Nothing asked: the defaults, else the maxima. */
        cr_assert_eq(policy_resolve_limits(&rule, req, &d, &denial), 0, "%s", denial.reason);
        cr_assert_eq(d.sandbox.memory_max, 256ULL << 20);
        cr_assert_eq(d.sandbox.tasks_max, 100);
        cr_assert_eq(d.sandbox.cpu_quota_usec, 50000);
        cr_assert_eq(d.sandbox.memory_high, CGROUP_LIMIT_MAX);
        cr_assert_eq(d.runtime_max_usec, 10000000);
        cr_assert(d.has_user);
        cr_assert_eq(d.user.tasks_max, 300);
        cr_assert_eq(d.user.memory_max, CGROUP_LIMIT_MAX);
        cr_assert_eq(d.resources.memory_limit, 256ULL << 20);
        cr_assert_eq(d.resources.pids_limit, 100);
        cr_assert_eq(d.resources.cpu_quota, 50000);
        cr_assert_eq(d.resources.cpu_period, 100000);

        /* Within the maxima: as asked; a quota is compared as a share of a CPU. */
        req->resources.memory_limit = 512ULL << 20;
        req->resources.cpu_quota = 10000;
        req->resources.cpu_period = 20000;
        cr_assert_eq(policy_resolve_limits(&rule, req, &d, &denial), 0, "%s", denial.reason);
        cr_assert_eq(d.sandbox.memory_max, 512ULL << 20);
        cr_assert_eq(d.sandbox.cpu_quota_usec, 10000);
        cr_assert_eq(d.sandbox.cpu_period_usec, 20000);

        /* Above: refused by the field's name. */
        static const struct {
                SandboxResources r;
                uint64_t runtime;
                const char *field;
        } above[] = {
                { { .memory_limit = (512ULL << 20) + 1 }, 0, "resources.memory.limit" },
                { { .pids_limit = 101 }, 0, "resources.pids.limit" },
                { { .cpu_quota = 10001, .cpu_period = 20000 }, 0, "resources.cpu.quota" },
                { { .cpu_quota = 60000 }, 0, "resources.cpu.quota" },
                { {}, 10000001, "runtimeMaxUSec" },
        };
        for (size_t i = 0; i < ELEMENTSOF(above); i++) {
                req->resources = above[i].r;
                req->runtime_max_usec = above[i].runtime;
                denial = (PolicyDenial) {};
                cr_assert_eq(policy_resolve_limits(&rule, req, &d, &denial), -EPERM, "case %zu", i);
                cr_assert_eq(denial.kind, POLICY_DENIAL_INVALID_PARAMETER);
                cr_assert_str_eq(denial.field, above[i].field);
        }

        /* Swap: OCI counts memory and swap together, the policy swap alone. */
        rule = rule_of("[default]\nmemory-swap-max = 1M\n");
        req->resources = (SandboxResources) { .memory_limit = 4 << 20, .memory_swap = 5 << 20 };
        req->runtime_max_usec = 0;
        cr_assert_eq(policy_resolve_limits(&rule, req, &d, &denial), 0, "%s", denial.reason);
        cr_assert_eq(d.sandbox.memory_swap_max, 1 << 20);
        cr_assert_eq(d.resources.memory_swap, 5 << 20);
        req->resources.memory_swap = (5 << 20) + 1;
        cr_assert_eq(policy_resolve_limits(&rule, req, &d, &denial), -EPERM);
        cr_assert_str_eq(denial.field, "resources.memory.swap");

        /* Root: as asked, no defaults, no user limits. */
        rule = rule_of("[default]\ntasks-max = 1\nuser-tasks-max = 1\n");
        PolicyRule root;
        policy_lookup(NULL, 0, 0, NULL, 0, &root);
        req->resources = (SandboxResources) { .pids_limit = 1000 };
        cr_assert_eq(policy_resolve_limits(&root, req, &d, &denial), 0);
        cr_assert_eq(d.sandbox.tasks_max, 1000);
        cr_assert_not(d.has_user);

        spawn_request_free(req);
}

Test(policy, rlimits_above_what_sandboxes_get_are_refused) {
        Env e = env_default();
        SpawnRequest *r = request(0);
        struct rlimit base;

        spawn_get_default_rlimit(RLIMIT_NOFILE, &base);
        r->rlimits = calloc(1, sizeof(SandboxRlimit));
        cr_assert_not_null(r->rlimits);
        r->n_rlimits = 1;
        r->rlimits[0] = (SandboxRlimit) { RLIMIT_NOFILE, 10, base.rlim_max };
        assert_allowed(&e, r);
        if (base.rlim_max != RLIM_INFINITY) {
                r->rlimits[0].hard = base.rlim_max + 1;
                assert_denied(&e, r, POLICY_DENIAL_INVALID_PARAMETER, "rlimits[0].hard");
        }
        spawn_request_free(r);
        env_done(&e);
}

/* ---- Exec ---- */

/*
 * An Exec brings no namespaces of its own; what the rule still decides is
 * keepAlive and, into a sandbox without a seccomp profile, whether the
 * process may run so (the sandbox's own programs are not kept).
 */
Test(policy, exec_checks) {
        _cleanup_(policy_freep) Policy *p = load_ok("[default]\nkeep-alive = no\nseccomp = own\n");
        _cleanup_(spawn_request_freep) SpawnRequest *r = spawn_request_new();
        const Caller user = { .uid = CALLER_UID, .gid = CALLER_GID }, root = { .privileged = true };
        PolicyDenial d = {};
        int fds[] = { 0 };

        cr_assert_not_null(r);
        cr_assert_eq(policy_check_exec(p, &user, false, r, &d), 0);

        r->keep_alive = true;
        cr_assert_eq(policy_check_exec(p, &user, false, r, &d), -EPERM);
        cr_assert_str_eq(d.field, "keepAlive");
        cr_assert_eq(d.kind, POLICY_DENIAL_PERMISSION_DENIED);
        cr_assert_eq(policy_check_exec(p, &root, false, r, &d), 0);
        r->keep_alive = false;

        cr_assert_eq(policy_check_exec(p, &user, true, r, &d), -EPERM);
        cr_assert_str_eq(d.field, "seccompFileDescriptors");
        r->seccomp_fds = fds;
        r->n_seccomp_fds = 1;
        cr_assert_eq(policy_check_exec(p, &user, true, r, &d), 0);
        r->seccomp_fds = NULL;
        r->n_seccomp_fds = 0;

        _cleanup_(policy_freep) Policy *u = load_ok("[default]\nseccomp = unconfined\n");
        cr_assert_eq(policy_check_exec(u, &user, true, r, &d), 0);
        _cleanup_(policy_freep) Policy *strict = load_ok("[default]\nseccomp = default\n");
        r->seccomp_fds = fds;
        r->n_seccomp_fds = 1;
        cr_assert_eq(policy_check_exec(strict, &user, true, r, &d), -EPERM);
        r->seccomp_fds = NULL;
        r->n_seccomp_fds = 0;
}
