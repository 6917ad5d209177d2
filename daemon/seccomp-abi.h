/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The part of the kernel's seccomp and classic BPF ABI that nsbox-init uses
 * (<linux/filter.h>, <linux/seccomp.h>), spelled as the kernel spells it. A
 * musl toolchain has no kernel headers, and nsbox-init is built against musl
 * where it can be (daemon/meson.build): these values are the kernel's ABI and
 * never change. Not for code that includes the kernel's own headers.
 */
#pragma once

#include <stdint.h>

#define BPF_MAXINSNS 4096

/* prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ...) and seccomp(SECCOMP_SET_MODE_FILTER, ...) */
#define SECCOMP_MODE_FILTER 2
#define SECCOMP_SET_MODE_FILTER 1

struct sock_filter {
        uint16_t code;
        uint8_t jt;
        uint8_t jf;
        uint32_t k;
};

struct sock_fprog {
        unsigned short len;
        struct sock_filter *filter;
};

_Static_assert(sizeof(struct sock_filter) == 8, "struct sock_filter is 8 bytes in the kernel's ABI");
