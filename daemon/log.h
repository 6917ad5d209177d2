/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging for nsboxd. Plain messages go to stderr with "<N>" priority
 * prefixes, which journald parses when it runs the service; audit records
 * (spawn, refusal, kill) carry structured fields: to the journal directly
 * when stderr is a journal stream, as consistent key=value text otherwise.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>
#include <sys/types.h>

#include "caller.h"
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);

/* Logs and returns -abs(error) (or 0 for error == 0), so callers can write return log_error_errno(r, ...). */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(error, ...) log_internal(LOG_DEBUG, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_internal(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_internal(LOG_ERR, (error), __VA_ARGS__)

/*
 * A caller-supplied string made safe for one log line: at most size-1 bytes,
 * anything but printable ASCII replaced by '?', "..." when cut. Returns buf.
 */
const char *log_printable(const char *s, char *buf, size_t size);

/*
 * One audit record: NSBOX_EVENT=event, NSBOX_CALLER_UID/GID/PID, NSBOX_SANDBOX_ID (if id),
 * and MESSAGE= the formatted text. Logged at 'level'.
 */
void log_audit(int level, const char *event, const Caller *caller, const char *sandbox_id, const char *format, ...)
        _printf_(5, 6);

/* Whether this process sent an audit record to the journal directly (see journal-sync.h for why that matters). */
bool log_sent_to_journal(void);
