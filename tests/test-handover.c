/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over state: what one daemon writes the next reads back unchanged,
 * and what a privileged reader must refuse is refused with the field named:
 * unsealed or oversized files and other versions as a whole, a sandbox
 * record with a field out of its range or inconsistent with the others (its
 * exec base, which Exec trusts, included) by itself. And pidfds are told from
 * other fds.
 */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "handover.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

static int memfd_with(const char *text, bool seal) {
        int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        cr_assert(fd >= 0);
        cr_assert(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        if (seal)
                cr_assert(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0);
        return fd;
}

Test(handover, round_trip) {
        HandoverSandbox sbs[] = {
                { .info = { .id = (char *) ID1, .name = (char *) "web", .pid = 4242, .owner_uid = 1000, .namespaces = 0x19,
                            .joined_namespaces = 0x2, .state = SANDBOX_RUNNING, .start_usec = 1700000000000000ULL,
                            .keep_alive = true,
                            .cgroup = (char *) "/nsboxd.service/user-1000/" ID1, .runtime_max_usec = 5000000,
                            .usage = SANDBOX_USAGE_UNKNOWN },
                  .creator_gid = 100, .creator_pid = 42, .has_cgroup = true,
                  .pidfd = (char *) "sandbox-" ID1, .reaper = (char *) "keeper-77", .capturing = true,
                  .capture = { { .fd = (char *) "sandbox-" ID1 "-stdout", .offset = 0, .size = 5 }, { .offset = 5, .size = 2 } },
                  .capture_limit = 100, .capture_total = 7,
                  .exec_base = { .kept = true, .joined_namespaces = 0x2, .user_namespace = true, .uid = 0, .gid = 0,
                                 .set_groups = true, .groups = (gid_t[]) { 5, 6 }, .n_groups = 2,
                                 .creator_uid = 1000, .creator_gid = 100, .creator_groups = (gid_t[]) { 100, 27 },
                                 .n_creator_groups = 2, .cwd = (char *) "/srv",
                                 .cwd_fallbacks = (char *[]) { (char *) "/", NULL }, .has_capabilities = true,
                                 .capabilities = { { [CAPABILITY_SET_BOUNDING] = 0x3, [CAPABILITY_SET_EFFECTIVE] = 0x1 } },
                                 .disable_user_namespaces = true },
                  .seccomp = 0 },
                { .info = { .id = (char *) ID2, .pid = 4343, .state = SANDBOX_EXITED, .exit_code = 7,
                            .usage = SANDBOX_USAGE_UNKNOWN },
                  .reaper = (char *) "self", .seccomp = -1 },
        };
        struct sock_filter filter[] = { { 0x20, 0, 0, 4 }, { 0x06, 1, 2, 0x7fff0000 } };
        SeccompProgram program = { .n_ref = 1, .filter = filter, .n_filter = 2, .flags = SECCOMP_FILTER_FLAG_LOG };
        _cleanup_(seccomp_program_unrefp) SeccompProgram *back = NULL;
        HandoverSeccomp seccomp = {};
        char *keepers[] = { (char *) "keeper-77", NULL };
        HandoverFd fds[] = { { (char *) "listen", 5 }, { (char *) "keeper-77", 9 } };
        cr_assert_eq(handover_seccomp_from_program(&program, &seccomp), 0);
        HandoverState in = {
                .sandboxes = sbs, .n_sandboxes = 2, .seccomp = &seccomp, .n_seccomp = 1, .keepers = keepers, .own_keeper = (char *) "keeper-77",
                .socket_path = (char *) "/run/nsbox/x", .fds = fds, .n_fds = 2,
        }, out = {};
        _cleanup_free_ char *reason = NULL;
        int fd;

        cr_assert_eq(handover_state_to_memfd(&in, &fd), 0);
        cr_assert_eq(handover_state_from_fd(fd, &out, &reason), 0, "%s", reason);
        close(fd);

        cr_assert_eq(out.n_sandboxes, 2);
        HandoverSandbox *a = &out.sandboxes[0], *b = &out.sandboxes[1];
        cr_assert_str_eq(a->info.id, ID1);
        cr_assert_str_eq(a->info.name, "web");
        cr_assert_eq(a->info.owner_uid, 1000);
        cr_assert_eq(a->creator_gid, 100);
        cr_assert_eq(a->creator_pid, 42);
        cr_assert_eq(a->info.namespaces, 0x19);
        cr_assert_eq(a->info.joined_namespaces, 0x2);
        cr_assert_eq(b->info.joined_namespaces, 0);
        cr_assert(a->info.keep_alive);
        cr_assert_eq(a->info.start_usec, 1700000000000000ULL);
        cr_assert_eq(a->info.pid, 4242);
        cr_assert_eq(a->info.state, SANDBOX_RUNNING);
        cr_assert_eq(a->info.runtime_max_usec, 5000000);
        cr_assert(a->has_cgroup);
        cr_assert_str_eq(a->pidfd, "sandbox-" ID1);
        cr_assert_str_eq(a->reaper, "keeper-77");
        cr_assert(a->capturing);
        cr_assert_str_eq(a->capture[0].fd, "sandbox-" ID1 "-stdout");
        cr_assert_null(a->capture[1].fd);
        cr_assert_eq(a->capture[1].offset, 5);
        cr_assert_eq(a->capture[1].size, 2);
        cr_assert_eq(a->capture_total, 7);
        cr_assert(a->exec_base.kept);
        cr_assert_eq(a->exec_base.joined_namespaces, 0x2);
        cr_assert(a->exec_base.user_namespace);
        cr_assert(a->exec_base.set_groups);
        cr_assert_eq(a->exec_base.n_groups, 2);
        cr_assert_eq(a->exec_base.groups[1], 6);
        cr_assert_eq(a->exec_base.creator_uid, 1000);
        cr_assert_eq(a->exec_base.n_creator_groups, 2);
        cr_assert_eq(a->exec_base.creator_groups[1], 27);
        cr_assert_not(a->exec_base.creator_privileged);
        cr_assert_str_eq(a->exec_base.cwd, "/srv");
        cr_assert_str_eq(a->exec_base.cwd_fallbacks[0], "/");
        cr_assert(a->exec_base.has_capabilities);
        cr_assert_eq(a->exec_base.capabilities.set[CAPABILITY_SET_BOUNDING], 0x3);
        cr_assert_eq(a->exec_base.capabilities.set[CAPABILITY_SET_EFFECTIVE], 0x1);
        cr_assert(a->exec_base.disable_user_namespaces);
        cr_assert_eq(a->seccomp, 0);
        cr_assert_eq(out.n_seccomp, 1);
        cr_assert_eq(handover_seccomp_to_program(&out.seccomp[0], &back), 0);
        cr_assert_eq(back->n_filter, 2);
        cr_assert_eq(memcmp(back->filter, filter, sizeof filter), 0);
        cr_assert_eq(back->flags, SECCOMP_FILTER_FLAG_LOG);
        free(seccomp.filter);
        cr_assert_not(b->exec_base.kept);
        cr_assert_eq(b->seccomp, -1);
        cr_assert_null(out.dropped);
        cr_assert_null(b->info.name);
        cr_assert_eq(b->info.state, SANDBOX_EXITED);
        cr_assert_eq(b->info.exit_code, 7);
        cr_assert_null(b->pidfd);
        cr_assert_str_eq(out.keepers[0], "keeper-77");
        cr_assert_null(out.keepers[1]);
        cr_assert_str_eq(out.own_keeper, "keeper-77");
        cr_assert_str_eq(out.socket_path, "/run/nsbox/x");
        cr_assert_eq(out.n_fds, 2);
        cr_assert_eq(out.fds[1].fd, 9);
        handover_state_done(&out);
}

Test(handover, capture_blob) {
        _cleanup_free_ char *data = NULL;
        int fd;

        cr_assert_eq(handover_blob_to_memfd("hello, world", 12, &fd), 0);
        cr_assert_eq(handover_blob_read(fd, 7, 5, &data), 0);
        cr_assert_eq(memcmp(data, "world", 5), 0);
        cr_assert_eq(handover_blob_read(fd, 8, 5, &data), -EBADMSG);
        cr_assert_eq(handover_blob_read(fd, UINT64_MAX, 2, &data), -EBADMSG);
        close(fd);
}

/* The file a reader accepts is sealed: nobody holding it could change it after the writer did. */
Test(handover, only_sealed_memfds) {
        const char *text = "{\"format\":\"nsboxd-state\",\"version\":1}";
        _cleanup_free_ char *reason = NULL;
        HandoverState s = {};
        int fd;

        fd = memfd_with(text, false);
        cr_assert_eq(handover_state_from_fd(fd, &s, &reason), -EBADMSG);
        cr_assert_str_eq(reason, "not a sealed memfd");
        close(fd);

        fd = memfd_with(text, true);
        cr_assert_eq(handover_state_from_fd(fd, &s, NULL), 0);
        cr_assert_eq(s.n_sandboxes, 0);
        handover_state_done(&s);
        close(fd);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_eq(handover_state_from_fd(fd, &s, NULL), -EBADMSG);
        close(fd);
}

#define INFO(state) "\"info\":{\"id\":\"" ID1 "\",\"pid\":99,\"ownerUID\":1,\"namespaces\":[],\"startTime\":1," \
        "\"keepAlive\":true," state "}"
#define SANDBOX_IN(doc, state, extra)                                                                          \
        "{\"format\":\"nsboxd-state\",\"version\":1" doc ",\"sandboxes\":[{" INFO(state) ",\"creatorGID\":1,"  \
        "\"creatorPID\":1,\"reaper\":\"self\"" extra "}]}"
#define SANDBOX(state, extra) SANDBOX_IN("", state, extra)
#define RUNNING(extra) SANDBOX("\"state\":\"running\"", extra)
#define EXITED(extra) SANDBOX("\"state\":\"exited\",\"exitCode\":0", extra)
#define EXITED_WITH_PROGRAM(extra) SANDBOX_IN(PROGRAM, "\"state\":\"exited\",\"exitCode\":0", extra)

Test(handover, refusals_name_the_field) {
        static const struct {
                const char *text;
                const char *reason;
        } cases[] = {
                { "{\"format\":\"nsboxd-state\",\"version\":3}", "version 3, expected 1 to 2" },
                { "{\"format\":\"nsboxd-state\",\"version\":0}", "version 0, expected 1 to 2" },
                { "{\"format\":\"other\",\"version\":1}", "invalid format" },
                { "{\"version\":1}", "invalid format" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"extra\":1}", "invalid extra" },
                { "[1]", "not one JSON object" },
                { "{\"format\":\"nsboxd-state\",\"version\":1} {}", "not one JSON object" },
                { "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "not one JSON object" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":{}}", "invalid sandboxes" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"keepers\":[\"keeper-12x\"]}", "invalid keepers[0]" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"socketPath\":\"relative\"}", "invalid socketPath" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"fds\":[{\"name\":\"a\",\"fd\":2}]}",
                  "invalid fds[0].fd" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"fds\":[{\"name\":\"a\",\"fd\":4},"
                  "{\"name\":\"a\",\"fd\":5}]}",
                  "invalid fds[1].name" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"seccomp\":[{\"filter\":\"0020000000000004x\"}]}",
                  "invalid seccomp[0].filter" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"seccomp\":[{\"filter\":\"00200000000000\"}]}",
                  "invalid seccomp[0].filter" },
                /* SECCOMP_FILTER_FLAG_TSYNC: not a flag the daemon loads a filter with. */
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"seccomp\":[{\"filter\":\"0020000000000004\",\"flags\":3}]}",
                  "invalid seccomp[0].flags" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *reason = NULL;
                HandoverState s = {};
                int fd = memfd_with(cases[i].text, true);

                cr_assert_eq(handover_state_from_fd(fd, &s, &reason), -EBADMSG, "accepted: %s", cases[i].text);
                cr_assert_str_eq(reason, cases[i].reason, "%s: %s", cases[i].text, reason);
                close(fd);
        }
}

#define PROGRAM ",\"seccomp\":[{\"filter\":\"0006000000000000\"}]"
#define EXEC_BASE(extra) ",\"execBase\":{\"uid\":0,\"gid\":0,\"creatorUID\":1,\"creatorGID\":1" extra "}"

/* A bad record is left out, the others are taken: one sandbox's record does not cost every sandbox. */
Test(handover, bad_records_are_left_out) {
        static const struct {
                const char *text;
                const char *reason;
        } cases[] = {
                { RUNNING(""), "invalid sandboxes[0].pidFileDescriptor" },
                { RUNNING(",\"pidFileDescriptor\":\"a:b\""), "invalid sandboxes[0].pidFileDescriptor" },
                { EXITED(",\"pidFileDescriptor\":\"x\""), "invalid sandboxes[0].pidFileDescriptor" },
                { SANDBOX("\"state\":\"exited\"", ""), "invalid sandboxes[0].info" },
                { SANDBOX("\"state\":\"exited\",\"exitCode\":256", ""), "invalid sandboxes[0].info.exitCode" },
                { SANDBOX("\"state\":\"killed\",\"signal\":\"SIGKILL\",\"exitCode\":1", ""), "invalid sandboxes[0].info" },
                { SANDBOX("\"state\":\"starting\"", ""), "invalid sandboxes[0].info" },
                { SANDBOX("\"state\":\"zombie\"", ""), "invalid sandboxes[0].info.state" },
                { EXITED(",\"topExited\":true"), "invalid sandboxes[0].topExited" },
                { EXITED(",\"stdout\":{\"offset\":0,\"size\":1}"), "invalid sandboxes[0].captureOutput" },
                { EXITED(",\"captureOutput\":true,\"captureLimit\":1,\"captureTotal\":2"),
                  "invalid sandboxes[0].captureTotal" },
                { EXITED(",\"reaper\":\"keeper-0\""), "invalid sandboxes[0].reaper" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[{\"info\":{\"id\":\"x\"}}]}",
                  "invalid sandboxes[0].info.pid" },
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[7]}", "invalid sandboxes[0]" },
                /* A namespace is created or joined, not both. */
                { "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[{\"info\":{\"id\":\"" ID1 "\",\"pid\":99,"
                  "\"ownerUID\":1,\"namespaces\":[\"user\"],\"joinedNamespaces\":[\"user\"],\"startTime\":1,"
                  "\"keepAlive\":true,\"state\":\"exited\",\"exitCode\":0},\"creatorGID\":1,\"creatorPID\":1,"
                  "\"reaper\":\"self\"}]}",
                  "invalid sandboxes[0].info" },
                /* What Exec would trust: who made it, as whom and how confined its processes run. */
                { EXITED(EXEC_BASE(",\"creatorPrivileged\":true")), "invalid sandboxes[0].execBase" },
                { EXITED(",\"execBase\":{\"uid\":0,\"gid\":0,\"creatorUID\":0,\"creatorGID\":1}"),
                  "invalid sandboxes[0].execBase" },
                { EXITED(EXEC_BASE(",\"userNamespace\":true")), "invalid sandboxes[0].execBase" },
                { EXITED(EXEC_BASE(",\"groups\":[1]")), "invalid sandboxes[0].execBase" },
                { EXITED(EXEC_BASE(",\"capabilities\":{\"bounding\":9223372036854775807,\"effective\":0,"
                                   "\"inheritable\":0,\"permitted\":0,\"ambient\":0}")),
                  "invalid sandboxes[0].execBase" },
                { EXITED(EXEC_BASE(",\"cwd\":\"/a/../etc\"")), "invalid sandboxes[0].execBase.cwd" },
                { EXITED(EXEC_BASE("") ",\"seccomp\":0"), "invalid sandboxes[0].seccomp" },
                { EXITED_WITH_PROGRAM(",\"seccomp\":0"), "invalid sandboxes[0].seccomp" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *reason = NULL;
                HandoverState s = {};
                int fd = memfd_with(cases[i].text, true);

                cr_assert_eq(handover_state_from_fd(fd, &s, &reason), 0, "refused: %s: %s", cases[i].text, reason);
                cr_assert_eq(s.n_sandboxes, 0, "taken: %s", cases[i].text);
                cr_assert(s.dropped && s.dropped[0] && !s.dropped[1], "%s", cases[i].text);
                cr_assert_str_eq(s.dropped[0], cases[i].reason, "%s: %s", cases[i].text, s.dropped[0]);
                handover_state_done(&s);
                close(fd);
        }
}

/* And a valid exec base with its filter is taken. */
Test(handover, exec_base_with_filter) {
        const char *text = EXITED_WITH_PROGRAM(EXEC_BASE(",\"cwd\":\"/srv/\"") ",\"seccomp\":0");
        _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL;
        HandoverState s = {};
        int fd = memfd_with(text, true);

        cr_assert_eq(handover_state_from_fd(fd, &s, NULL), 0);
        cr_assert_eq(s.n_sandboxes, 1, "%s", s.dropped ? s.dropped[0] : "");
        cr_assert(s.sandboxes[0].exec_base.kept);
        cr_assert_eq(s.sandboxes[0].seccomp, 0);
        cr_assert_eq(handover_seccomp_to_program(&s.seccomp[0], &p), 0);
        cr_assert_eq(p->n_filter, 1);
        cr_assert_eq(p->filter[0].code, 6);
        handover_state_done(&s);
        close(fd);
}

static void two_records(const char *one, const char *two, const char *reason) {
        char text[2048];
        HandoverState s = {};
        int fd;

        snprintf(text, sizeof text, "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[%s,%s]}", one, two);
        fd = memfd_with(text, true);
        cr_assert_eq(handover_state_from_fd(fd, &s, NULL), 0);
        cr_assert_eq(s.n_sandboxes, 1);
        cr_assert_str_eq(s.dropped[0], reason);
        handover_state_done(&s);
        close(fd);
}

#define RECORD(id, name, owner) "{\"info\":{\"id\":\"" id "\",\"pid\":99,\"ownerUID\":" owner ",\"namespaces\":[]," \
        "\"startTime\":1,\"keepAlive\":true,\"name\":\"" name "\",\"state\":\"exited\",\"exitCode\":0}," \
        "\"creatorGID\":1,\"creatorPID\":1,\"reaper\":\"self\"}"

/* Ids are unique, and names among one owner's: the second of two is left out. */
Test(handover, ids_and_names_are_unique) {
        two_records(RECORD(ID1, "web", "1"), RECORD(ID1, "db", "1"), "invalid sandboxes[1].info");
        two_records(RECORD(ID1, "web", "1"), RECORD(ID2, "web", "1"), "invalid sandboxes[1].info");
        {
                char text[2048];
                HandoverState s = {};
                int fd;

                snprintf(text, sizeof text, "{\"format\":\"nsboxd-state\",\"version\":1,\"sandboxes\":[%s,%s]}",
                         RECORD(ID1, "web", "1"), RECORD(ID2, "web", "2"));
                fd = memfd_with(text, true);
                cr_assert_eq(handover_state_from_fd(fd, &s, NULL), 0);
                cr_assert_eq(s.n_sandboxes, 2, "%s", s.dropped ? s.dropped[0] : "");
                handover_state_done(&s);
                close(fd);
        }
}

Test(handover, pidfds_are_told_from_other_fds) {
        pid_t child = fork();
        int pidfd, devnull, status;

        cr_assert(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        cr_assert(pidfd >= 0);
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        cr_assert_eq(handover_check_pidfd(pidfd, child), 1);
        cr_assert_eq(handover_check_pidfd(pidfd, child + 1), -EINVAL);
        cr_assert_eq(handover_check_pidfd(devnull, child), -EINVAL);

        /* A zombie is still there; once reaped, the pidfd names nobody. */
        kill(child, SIGKILL);
        cr_assert(waitid(P_PID, child, &(siginfo_t) {}, WEXITED | WNOWAIT) == 0);
        cr_assert_eq(handover_check_pidfd(pidfd, child), 1);
        cr_assert(waitpid(child, &status, 0) == child);
        cr_assert_eq(handover_check_pidfd(pidfd, child), 0);
        close(pidfd);
        close(devnull);
}

Test(handover, fdsets_hand_each_fd_out_once) {
        FdSet set = {};
        int a = open("/dev/null", O_RDONLY | O_CLOEXEC), b = open("/dev/null", O_RDONLY | O_CLOEXEC), fd;

        cr_assert_eq(fdset_add(&set, "a", a), 0);
        cr_assert_eq(fdset_add(&set, "b", b), 0);
        fd = fdset_take(&set, "a");
        cr_assert_eq(fd, a);
        cr_assert_eq(fdset_take(&set, "a"), -ENOENT);
        cr_assert_eq(fdset_take(&set, "c"), -ENOENT);
        fdset_done(&set); /* closes b */
        cr_assert(fcntl(b, F_GETFD) < 0);
        cr_assert(fcntl(a, F_GETFD) >= 0);
        close(a);
}
