/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process's memory as the kernel accounts it, from /proc/PID/smaps_rollup. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

typedef struct MemoryUsage {
        uint64_t rss;           /* bytes, "Rss:" */
        uint64_t private_dirty; /* bytes, "Private_Dirty:": what this process alone costs */
        uint64_t pss;           /* bytes, "Pss:": shared pages split among the processes sharing them */
} MemoryUsage;

int memory_usage_read(pid_t pid, MemoryUsage *ret);

/* How many children pid has, of all its threads (/proc/PID/task/TID/children: spawn workers clone), without asking the daemon
 * anything: a List call would itself grow the heap being measured. */
int process_count_children(pid_t pid, size_t *ret);

/* How many fds pid has open (/proc/PID/fd). */
int process_count_fds(pid_t pid, size_t *ret);

/* The sum of the Pss of pid's children (the sandboxes' top processes: their inits or their commands)
 * and how many were read; children that exit meanwhile are skipped. */
int process_children_pss(pid_t pid, uint64_t *ret_pss, size_t *ret_n);

/* CPU time pid has run, all its threads together, those that ended included, in nanoseconds (its
 * process CPU-time clock, clock_getcpuclockid(3)): finer than the clock ticks of /proc/PID/stat, and
 * without the children's time. A sum over /proc/PID/task/TID/schedstat would lose the threads that end
 * between two readings (spawn workers do). */
int process_cpu_ns(pid_t pid, uint64_t *ret);

/* The pid of whoever listens on the unix socket at path (SO_PEERCRED of a fresh connection). */
int socket_peer_pid(const char *path, pid_t *ret);
