/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test support: prove a call sends no request to the file system of the fd it is given. */
#pragma once

typedef int (*StallFn)(int fd);

/*
 * Runs fn(root fd of a FUSE mount whose server answers INIT and then nothing)
 * in a child with its own mount namespace, and asserts that fn returned 0
 * without any request reaching that file system (it would block forever).
 */
void test_assert_no_fuse_request(StallFn fn);
