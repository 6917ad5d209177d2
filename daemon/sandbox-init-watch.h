/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A root caller's init on the daemon's memory after the answer.
 *
 * Init waits for its Spawn's answer before it execs nsbox-init
 * (sandbox-init.c), and for a root caller the answer comes first: for a
 * moment init is still a vfork child on the daemon's memory, holding its
 * spawn worker, while its command already runs with init's uid. A command
 * that wins that race (or a process with init's uid outside) may hold init
 * there on purpose: stop it (a subreaper init takes SIGSTOP from it; pid 1
 * of a pid namespace from outside it, or from the daemon at the sandbox's
 * own Kill), trace it, or starve it (make
 * it SCHED_IDLE, raise its nice value or take CPUs from its affinity, and
 * spin beside it). The watchdog's bound, the spawn's timeout (30 s by
 * default), is long enough for a few sandboxes to take every worker, and a
 * re-executed daemon has no watchdog for the old image's children: such an
 * init kept the old image's memory for as long as its command liked.
 *
 * So the loop looks at each such init every SANDBOX_INIT_WATCH_MSEC from
 * the answer until it left the daemon's memory, and kills the sandbox of one
 * that is still there and stopped (unless a Kill from the host stopped it,
 * which is its caller's business) or traced, or whose scheduling was changed
 * so: none of that is done by the daemon or by init itself, and it ends the
 * sandbox within a fraction of a second. (Every spawn with an init is
 * watched; a non-root caller's init has left before the answer.) One that
 * is only slow to get a CPU (a tight CPU quota of its sandbox's, a busy
 * host) is left alone: the spawn's timeout still bounds it, and after a
 * restart the next daemon keeps that bound itself (the hand-over says which
 * inits were still on the old image's memory).
 *
 * What this does not catch: a command that starves init with nothing but
 * many spinning threads, within its pids limit, beside an init whose own
 * scheduling is as the daemon left it: it gets its fair share of the CPU
 * and leaves within the spawn's timeout at the latest.
 */
#pragma once

#include <stdbool.h>

#include "sandbox.h"

/* How often a watched init is looked at, from the answer on, in milliseconds. */
#define SANDBOX_INIT_WATCH_MSEC 250U

/*
 * Watches sb's init from now on (its Spawn was just answered; sb->pid is its init). on_old_image: taken
 * over from an earlier daemon whose memory it was still on (HandoverSandbox.init_on_daemon_memory): it is
 * looked for on that image's binary, and killed too once the spawn's timeout passed from now, as nothing
 * else bounds it. Without memory for the watch, init is left to the bounds it had before. Never fails.
 */
void sandbox_init_watch_add(Sandbox *sb, bool on_old_image);

/* Stops watching sb's init; a no-op if it is not watched. Called before sb is freed. */
void sandbox_init_watch_remove(Sandbox *sb);

/* A Kill call sent sig to sb. A stop signal sent at a call from the host is its caller's doing, one sent at a
 * call from inside a sandbox (sb itself may ask) a sandbox's, until a SIGCONT sent so. */
void sandbox_init_watch_note_signal(Sandbox *sb, int sig, bool from_host);

/* Whether sb is watched: its init may still be on this daemon's memory, or the old image's. */
bool sandbox_init_watched(const Sandbox *sb);

/* Whether sb's init is on this daemon's memory (the same mm, kcmp(2)). */
bool sandbox_init_on_daemon_memory(const Sandbox *sb);
