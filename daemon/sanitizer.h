/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What AddressSanitizer needs to be told about stacks it cannot follow: a
 * process cloned onto a stack of the daemon's memory (CLONE_VM) never returns
 * from its frames (it execs or exits), so the shadow of that stack, shared as
 * the memory is, keeps the redzones of its deepest frames, which whatever
 * runs there next would run into. Nothing without the sanitizer.
 */
#pragma once

#include <stddef.h>

#ifdef __SANITIZE_ADDRESS__
#  define HAVE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HAVE_ASAN 1
#  endif
#endif

#ifdef HAVE_ASAN
#  include <sanitizer/asan_interface.h>
#endif

/* Marks [p, p + n) addressable again: a stack a cloned process left (see above). */
static inline void sanitizer_forget_stack(void *p, size_t n) {
#ifdef HAVE_ASAN
        ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
        (void) p;
        (void) n;
#endif
}
