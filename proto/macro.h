/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small macros shared by every part of nsbox: cleanup attributes, ownership
 * transfer and array helpers. The one place these are defined.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _unused_ __attribute__((__unused__))
#define _noreturn_ __attribute__((__noreturn__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _public_ __attribute__((__visibility__("default")))
#define _warn_unused_result_ __attribute__((__warn_unused_result__))

/* uid_t and gid_t are unsigned 32-bit on Linux. */
#define UID_FMT "%" PRIu32

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#undef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#undef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Takes a pointer (or fd) out of a variable so its cleanup handler no longer sees it. */
#define TAKE_GENERIC(var, type, nullvalue)                 \
        ({                                                 \
                type *_pvar_ = &(var);                     \
                type _var_ = *_pvar_;                      \
                type _nullvalue_ = nullvalue;              \
                *_pvar_ = _nullvalue_;                     \
                _var_;                                     \
        })
#define TAKE_PTR(ptr) TAKE_GENERIC(ptr, typeof(ptr), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Defines name##p() suitable for _cleanup_() from a destructor that accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)            \
        static inline void func##p(type *p) {              \
                if (*p)                                    \
                        func(*p);                          \
        }

/* Frees a NULL-terminated string array and the array; accepts NULL. */
static inline char **strv_free(char **l) {
        if (l)
                for (char **i = l; *i; i++)
                        free(*i);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

/* Converts a negative errno-style return into errno and -1, for places that need the libc convention. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline int streq_ptr(const char *a, const char *b) {
        if (a && b)
                return __builtin_strcmp(a, b) == 0;
        return a == b;
}
#define streq(a, b) (__builtin_strcmp((a), (b)) == 0)
