/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers every test needs, once: reading and writing whole files, a
 * scratch directory per test, sending a message with fds attached, a test
 * user. Each asserts (criterion) when it fails, so call them from the test
 * process, not from a child forked to run as another user; such a child
 * checks with TEST_CHECK() instead.
 */
#pragma once

#include <stdbool.h>

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* For a child forked to run as another user, whose verdict is its exit status: unless cond holds, says on
 * stderr where and why, and returns 1 from the calling function. */
#define TEST_CHECK(cond, ...)                                                                    \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                            \
                        fputc('\n', stderr);                                                     \
                        return 1;                                                                \
                }                                                                                \
        } while (0)

/* The system user name (created without a home or a login shell when missing): its uid and primary gid. */
void test_ensure_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/* Everything fd has to give, up to EOF: a NUL-terminated malloc'ed buffer. */
char *test_read_fd(int fd);

/* The whole file at path, as test_read_fd(). */
char *test_read_file(const char *path);

/* Creates or truncates path, writes size bytes of data and sets mode (whatever the umask). */
void test_write_file(const char *path, const void *data, size_t size, mode_t mode);

/* A fresh 0755 directory /tmp/nsbox-test-NAME-XXXXXX, its path in buf (at least 64 bytes). */
void test_tmpdir_new(const char *name, char *buf, size_t size);

/* Removes dir and everything below it without crossing into mounts; empties buf. An empty dir is nothing to do. */
void test_tmpdir_remove(char *dir);

/* One sendmsg() of size bytes with n_fds fds attached (SCM_RIGHTS, at most 253); asserts all of it went. */
void test_send_with_fds(int sock, const void *data, size_t size, const int *fds, size_t n_fds);

/* A TCP socket on loopback whose last close() waits: SO_LINGER for linger_sec, and unsent data its peer never
 * reads. */
typedef struct TestLingering {
        int fd;   /* SO_LINGER, unsent data: the last close() waits for the peer */
        int peer; /* never reads; closing it resets the connection, which ends the wait */
        unsigned short port; /* fd's local port, host order */
} TestLingering;

void test_lingering_new(TestLingering *l, int linger_sec);
/* Whether the last close of l's socket, made by whoever held it, returned: the socket is orphaned then (it
 * shows in /proc/net/tcp with no inode), or gone. Read in the caller's network namespace. */
bool test_lingering_closed(const TestLingering *l);
/* Resets the connection: a close lingering on it returns. */
void test_lingering_release(TestLingering *l);
