/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for nsboxd: stderr with priority prefixes, structured audit records. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool sent_to_journal = false;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *format, ...) {
        int saved_errno = errno;
        char buf[2048];
        va_list ap;

        error = error < 0 ? -error : error;

        if (level <= max_level) {
                /* %m in the format refers to 'error', as in systemd. */
                errno = error;
                va_start(ap, format);
                vsnprintf(buf, sizeof buf, format, ap);
                va_end(ap);
                fprintf(stderr, "<%d>%s\n", level, buf);
        }

        errno = saved_errno;
        return -error;
}

const char *log_printable(const char *s, char *buf, size_t size) {
        size_t i = 0;

        if (size == 0)
                return "";
        for (; s && s[i] && i + 1 < size; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        buf[i] = 0;
        if (s && s[i] && size > 4)
                memcpy(buf + size - 4, "...", 4);
        return buf;
}

/* True when stderr is connected to journald (it sets JOURNAL_STREAM to "DEV:INODE" of that stream). */
static bool stderr_is_journal(void) {
        static int cached = -1;
        const char *e;
        struct stat st;
        unsigned long long dev, ino;

        if (cached >= 0)
                return cached;

        cached = false;
        e = getenv("JOURNAL_STREAM");
        if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0)
                cached = (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        return cached;
}

void log_audit(int level, const char *event, const Caller *caller, const char *sandbox_id, const char *format, ...) {
        char message[2048];
        va_list ap;

        if (level > max_level)
                return;

        va_start(ap, format);
        vsnprintf(message, sizeof message, format, ap);
        va_end(ap);

        if (stderr_is_journal()) {
                int r = sd_journal_send("MESSAGE=%s", message,
                                        "PRIORITY=%d", level,
                                        "NSBOX_EVENT=%s", event,
                                        "NSBOX_CALLER_UID=" UID_FMT, caller->uid,
                                        "NSBOX_CALLER_GID=" UID_FMT, caller->gid,
                                        "NSBOX_CALLER_PID=%d", (int) caller->pid,
                                        "NSBOX_SANDBOX_ID=%s", sandbox_id ?: "",
                                        NULL);
                if (r >= 0) {
                        sent_to_journal = true;
                        return;
                }
        }

        fprintf(stderr, "<%d>event=%s uid=" UID_FMT " gid=" UID_FMT " pid=%d%s%s %s\n",
                level, event, caller->uid, caller->gid, (int) caller->pid,
                sandbox_id ? " id=" : "", sandbox_id ?: "", message);
}

bool log_sent_to_journal(void) {
        return sent_to_journal;
}
