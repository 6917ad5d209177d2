/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Watching a root caller's init from the answer until it leaves the daemon's
 * memory (sandbox-init-watch.h). The watched inits are a queue in the order
 * of their next look, which is always SANDBOX_INIT_WATCH_MSEC after the
 * last one (or the answer): one loop timer for the oldest. Nearly every init
 * is gone before its first look; that look costs a kcmp(2).
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "list.h"
#include "log.h"
#include "sandbox-init-watch.h"
#include "sched-attr.h"

struct SandboxInitWatch {
        Sandbox *sandbox;
        LIST_FIELDS(SandboxInitWatch, queue); /* in Server.init_watch_oldest..newest */
        uint64_t next_msec;     /* uv_now() of its next look */
        uint64_t deadline_msec; /* on the old image: the spawn's timeout from the take-over; else 0 */
        bool on_old_image;
        bool stopped_by_host;   /* a Kill call from the host sent init a stop signal */
        bool stopped_by_inside; /* a Kill call from inside a sandbox did */
};

static void queue_append(Server *s, SandboxInitWatch *w) {
        QUEUE_APPEND(queue, s->init_watch_oldest, s->init_watch_newest, w);
}

static void queue_unlink(Server *s, SandboxInitWatch *w) {
        QUEUE_REMOVE(queue, s->init_watch_oldest, s->init_watch_newest, w);
}

static void on_watch_timer(uv_timer_t *timer);

static void timer_update(Server *s) {
        uint64_t now = uv_now(s->loop);

        if (!s->init_watch_oldest) {
                (void) uv_timer_stop(&s->init_watch_timer);
                return;
        }
        (void) uv_timer_start(&s->init_watch_timer, on_watch_timer,
                              s->init_watch_oldest->next_msec > now ? s->init_watch_oldest->next_msec - now : 0, 0);
}

void sandbox_init_watch_add(Sandbox *sb, bool on_old_image) {
        Server *s = sb->server;
        SandboxInitWatch *w;

        if (sb->init_watch || sb->pid <= 0)
                return;
        w = calloc(1, sizeof *w);
        if (!w) {
                log_warning("Sandbox %s: out of memory for watching its init on the daemon's memory; the spawn "
                            "timeout still bounds it.", sb->id);
                return;
        }
        w->sandbox = sb;
        w->next_msec = uv_now(s->loop) + SANDBOX_INIT_WATCH_MSEC;
        w->on_old_image = on_old_image;
        if (on_old_image)
                w->deadline_msec = uv_now(s->loop) + (uint64_t) s->config.limits.spawn_timeout_sec * 1000U;
        sb->init_watch = w;
        queue_append(s, w);
        if (s->init_watch_oldest == w)
                timer_update(s);
}

void sandbox_init_watch_remove(Sandbox *sb) {
        Server *s = sb->server;
        SandboxInitWatch *w = sb->init_watch;

        if (!w)
                return;
        sb->init_watch = NULL;
        queue_unlink(s, w);
        free(w);
        timer_update(s);
}

void sandbox_init_watch_note_signal(Sandbox *sb, int sig, bool from_host) {
        SandboxInitWatch *w = sb->init_watch;
        bool *stopped;

        if (!w)
                return;
        stopped = from_host ? &w->stopped_by_host : &w->stopped_by_inside;
        if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                *stopped = true;
        else if (sig == SIGCONT)
                *stopped = false;
}

bool sandbox_init_watched(const Sandbox *sb) {
        return sb->init_watch;
}

bool sandbox_init_on_daemon_memory(const Sandbox *sb) {
        return !sb->ended && !sb->reaped && sb->pid > 0 &&
               syscall(SYS_kcmp, getpid(), sb->pid, KCMP_VM, 0, 0) == 0;
}

/* The binary a process runs, as its /proc link says, without the " (deleted)" of one replaced since. */
static int read_exe(const char *link, char *buf, size_t size) {
        static const char deleted[] = " (deleted)";
        ssize_t n = readlink(link, buf, size - 1);
        size_t l;

        if (n < 0)
                return -errno;
        buf[n] = 0;
        l = (size_t) n;
        if (l > strlen(deleted) && streq(buf + l - strlen(deleted), deleted))
                buf[l - strlen(deleted)] = 0;
        return 0;
}

/*
 * Whether an init taken over from an earlier daemon is still on that image's memory: it still runs the
 * daemon's binary (the same path, or the file that was there), where after its exec it runs nsbox-init.
 */
static bool on_old_image(const Sandbox *sb) {
        char link[64], exe[4096], own[4096];

        if (sb->ended || sb->reaped || sb->pid <= 0)
                return false;
        /* Its pid is its own while the pidfd says it runs (a keeper may have reaped it). */
        if (sb->pidfd < 0 || syscall(SYS_pidfd_send_signal, sb->pidfd, 0, NULL, 0) < 0)
                return false;
        snprintf(link, sizeof link, "/proc/%d/exe", (int) sb->pid);
        if (read_exe(link, exe, sizeof exe) < 0 || read_exe("/proc/self/exe", own, sizeof own) < 0)
                return false;
        return streq(exe, own);
}

/* Its state letter in /proc/PID/stat, after the command name (which may hold anything, ')' too). */
static char process_state(pid_t pid) {
        char path[64], buf[512], *p;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Whether init being stopped may be the sandbox's doing: unless a Kill call from the host stopped it (its
 * caller's business; the spawn's timeout still bounds it). Pid 1 of a pid namespace takes no SIGSTOP from
 * inside it, but every process with init's uid outside it does (a root caller may run the sandbox as another
 * user), and the sandbox itself may ask the daemon for one (a Kill from inside); a subreaper init takes one
 * from its command; where the caller is itself a sandbox, whatever stopped init is a sandbox's.
 */
static bool stop_may_be_the_sandboxs(const SandboxInitWatch *w) {
        return w->sandbox->made_inside || w->stopped_by_inside || !w->stopped_by_host;
}

/*
 * What of init's state holds it on the daemon's memory on purpose, in words for the log, or NULL: in a
 * tracing stop, stopped where that may be the sandbox's doing, SCHED_IDLE, a nice value above the one it was born with
 * (the spawn worker's, which SCHED_FLAG_RESET_ON_FORK raises to 0 if it was below), or fewer of the daemon's
 * CPUs in its affinity. The daemon changes none of these for init, and init changes none of them itself.
 */
static const char *held_on_purpose(const SandboxInitWatch *w, char *buf, size_t size) {
        pid_t pid = w->sandbox->pid;
        SchedAttr attr = {};
        cpu_set_t own, its;
        char state;
        int nice;

        /* A tracer needs CAP_SYS_PTRACE over the daemon's memory, which a sandbox's command has when it is root
         * without a user namespace: unlike a signal, a ptrace stop reaches pid 1 from inside too. */
        state = process_state(pid);
        if (state == 't')
                return "stopped by a tracer";
        if (state == 'T' && stop_may_be_the_sandboxs(w))
                return "stopped";
        if (syscall(SYS_sched_getattr, pid, &attr, sizeof attr, 0) == 0) {
                if (attr.sched_policy == SCHED_IDLE)
                        return "made SCHED_IDLE";
                errno = 0;
                nice = getpriority(PRIO_PROCESS, 0);
                if (errno == 0 && attr.sched_nice > MAX(nice, 0)) {
                        snprintf(buf, size, "reniced to %d", attr.sched_nice);
                        return buf;
                }
        }
        if (sched_getaffinity(0, sizeof own, &own) == 0 && sched_getaffinity(pid, sizeof its, &its) == 0) {
                CPU_AND(&its, &its, &own);
                if (CPU_COUNT(&its) < CPU_COUNT(&own)) {
                        snprintf(buf, size, "confined to %d of the daemon's %d CPUs", CPU_COUNT(&its),
                                 CPU_COUNT(&own));
                        return buf;
                }
        }
        return NULL;
}

/* One look: false once the watch is over (init left, the sandbox ended or was killed). */
static bool look(Server *s, SandboxInitWatch *w, uint64_t now) {
        Sandbox *sb = w->sandbox;
        const char *why;
        char buf[128];

        if (!(w->on_old_image ? on_old_image(sb) : sandbox_init_on_daemon_memory(sb)))
                return false;
        why = held_on_purpose(w, buf, sizeof buf);
        /* A paused sandbox is never ended by a timeout (a Pause froze it there: the new image cannot tell an
         * init on the old one's memory by kcmp()). */
        if (!why && !(w->deadline_msec > 0 && now >= w->deadline_msec && !sb->paused))
                return true;
        if (why)
                log_audit(LOG_WARNING, "init-held", &sb->creator, sb->id,
                          "Sandbox %s: its init is still on the %s memory after the answer, and %s, which only the "
                          "sandbox itself does; killing it.",
                          sb->id, w->on_old_image ? "previous daemon image's" : "daemon's", why);
        else
                log_audit(LOG_WARNING, "init-held", &sb->creator, sb->id,
                          "Sandbox %s: its init is still on an earlier daemon's memory %us after the take-over; "
                          "killing it.",
                          sb->id, s->config.limits.spawn_timeout_sec);
        (void) sandbox_kill_all(sb, SIGKILL);
        return false;
}

static void on_watch_timer(uv_timer_t *timer) {
        Server *s = timer->data;
        uint64_t now = uv_now(s->loop);
        SandboxInitWatch *w;

        while ((w = s->init_watch_oldest) && w->next_msec <= now) {
                Sandbox *sb = w->sandbox;

                /* Out of the queue while looked at: a kill may end the sandbox before look() returns. */
                queue_unlink(s, w);
                sb->init_watch = NULL;
                if (!look(s, w, now)) {
                        free(w);
                        continue;
                }
                sb->init_watch = w;
                w->next_msec = now + SANDBOX_INIT_WATCH_MSEC;
                queue_append(s, w);
        }
        timer_update(s);
}
