/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why a configuration file (policy.conf, /etc/subuid, /etc/subgid) was
 * refused, so the log can say "policy.conf:12: unknown key 'max-sandbox' in
 * [user:alice]" rather than only where.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "macro.h"

typedef struct ConfError {
        unsigned line;    /* 1-based; 0: the file as a whole (its owner, mode, size, type) */
        char reason[256]; /* "unknown key 'max-sandbox' in [user:alice]" */
} ConfError;

/* Fills *e (may be NULL) and returns -EBADMSG, so a parser can `return conf_error(...)`. */
_printf_(3, 4) static inline int conf_error(ConfError *e, unsigned line, const char *format, ...) {
        va_list ap;

        if (!e)
                return -EBADMSG;
        e->line = line;
        va_start(ap, format);
        vsnprintf(e->reason, sizeof(e->reason), format, ap);
        va_end(ap);
        return -EBADMSG;
}
