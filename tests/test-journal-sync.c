/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for journal-sync.c: the Synchronize call against a stand-in for journald's Varlink socket. */

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd-util.h"
#include "journal-sync.h"
#include "test-util.h"

typedef struct FakeJournald {
        char dir[64];
        char path[96];
        int listen_fd;
        const char *answer; /* NULL: accept, read the call, never answer; "": close without a word */
        char call[512];     /* what the client sent, up to its NUL */
        pthread_t thread;
} FakeJournald;

static void *serve(void *userdata) {
        FakeJournald *f = userdata;
        _cleanup_close_ int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        size_t n = 0;

        if (fd < 0)
                return NULL;
        while (n < sizeof f->call - 1) {
                ssize_t k = read(fd, f->call + n, 1);

                if (k <= 0 || f->call[n] == 0)
                        break;
                n++;
        }
        if (!f->answer) {
                char c;

                /* Until the client hangs up. */
                while (read(fd, &c, 1) > 0)
                        ;
                return NULL;
        }
        if (f->answer[0])
                cr_assert_eq(write(fd, f->answer, strlen(f->answer) + 1), (ssize_t) strlen(f->answer) + 1);
        return NULL;
}

static void fake_start(FakeJournald *f, const char *answer) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        *f = (FakeJournald) { .answer = answer };
        test_tmpdir_new("journal-sync", f->dir, sizeof f->dir);
        snprintf(f->path, sizeof f->path, "%s/io.systemd.journal", f->dir);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
        f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(f->listen_fd, 0);
        cr_assert_eq(bind(f->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(f->listen_fd, 4), 0);
        cr_assert_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fake_stop(FakeJournald *f) {
        cr_assert_eq(pthread_join(f->thread, NULL), 0);
        safe_close(f->listen_fd);
        test_tmpdir_remove(f->dir);
}

Test(journal_sync, answered) {
        FakeJournald f;

        fake_start(&f, "{\"parameters\":{}}");
        cr_assert_eq(journal_synchronize_at(f.path, 60000), 0);
        fake_stop(&f);
        /* journald 252 refuses any parameter. */
        cr_assert_str_eq(f.call, "{\"method\":\"io.systemd.Journal.Synchronize\",\"parameters\":{}}");
}

Test(journal_sync, error_reply) {
        FakeJournald f;

        fake_start(&f, "{\"error\":\"org.varlink.service.PermissionDenied\",\"parameters\":{}}");
        cr_assert_eq(journal_synchronize_at(f.path, 60000), -EPROTO);
        fake_stop(&f);
}

Test(journal_sync, closed_without_answer) {
        FakeJournald f;

        fake_start(&f, "");
        cr_assert_eq(journal_synchronize_at(f.path, 60000), -EPROTO);
        fake_stop(&f);
}

Test(journal_sync, no_answer_times_out) {
        FakeJournald f;

        fake_start(&f, NULL);
        cr_assert_eq(journal_synchronize_at(f.path, 50), -ETIMEDOUT);
        fake_stop(&f);
}

Test(journal_sync, no_journald) {
        char dir[64], path[96];

        test_tmpdir_new("journal-sync", dir, sizeof dir);
        snprintf(path, sizeof path, "%s/io.systemd.journal", dir);
        cr_assert_eq(journal_synchronize_at(path, 60000), -ENOENT);
        test_tmpdir_remove(dir);
}
