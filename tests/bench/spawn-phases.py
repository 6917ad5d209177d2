#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where one spawn's time goes: the phases of each spawn in an ftrace capture.

Reads the text of /sys/kernel/tracing/trace as trace-spawn.sh captures it
(events sched_switch, sched_wakeup, sched_process_fork, sched_process_exec,
raw_syscalls sys_enter and sys_exit; option record-tgid) while nsbox-bench runs one cell
at one client, and prints the median and 90th percentile of each phase.

For the nsboxd methods a spawn is: the benchmark's Spawn request sent, read
by the daemon's loop, the spawn worker woken, the worker's clone3(), the
child running, the daemon's "go" (only when it writes id maps first), the
command's execve() and its exec done, the daemon's reply sent and read by
the benchmark. For the clone3 baseline: clone3(), the child running, its
execve() and exec done, and the parent learning of it (its read() of the
close-on-exec pipe returning).

The daemon, like the baseline's parent, learns of the exec when the
close-on-exec pipe's last writer goes, early in execve(), before the new
program runs: both are timed from the execve() call.

The phases are matched by process: the child is the process the cloning
thread forked (sched_process_fork), the command that child or a process it
forked in turn (the sandbox's init clones the command). Only complete
spawns are counted; with several nsboxd methods in one capture, only the
busiest daemon's.
"""

import bisect
import re
import statistics
import sys
from collections import Counter

NR_READ, NR_CLONE, NR_EXECVE, NR_SENDTO, NR_SENDMSG, NR_RECVMSG, NR_FUTEX, NR_CLONE3 = 0, 56, 59, 44, 46, 47, 202, 435

LINE = re.compile(r'\s*(.+?)-(\d+)\s+\(\s*(\d+|-+)\)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(\w+):\s+(.*)')
ENTER = re.compile(r'NR (-?\d+) \(([0-9a-f]+)')
EXIT = re.compile(r'NR (-?\d+) = (-?\d+)')
EXEC = re.compile(r'filename=(\S+) pid=(\d+)')
FORK = re.compile(r'pid=(\d+) child_comm=.* child_pid=(\d+)')


def events(path):
    """(usec, comm, tgid, tid, event, syscall nr or None, first arg or return value, rest) per line."""
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            comm, tid, tgid, t, event, rest = m.groups()
            tid = int(tid)
            tgid = int(tgid) if tgid.isdigit() else tid
            nr = value = None
            if event == 'sys_enter':
                e = ENTER.match(rest)
                if e:
                    nr, value = int(e.group(1)), int(e.group(2), 16)
            elif event == 'sys_exit':
                e = EXIT.match(rest)
                if e:
                    nr, value = int(e.group(1)), int(e.group(2))
            yield float(t) * 1e6, comm.strip(), tgid, tid, event, nr, value, rest


def last_before(times, t):
    i = bisect.bisect_left(times, t)
    return times[i - 1] if i > 0 else None


def first_after(times, t):
    i = bisect.bisect_right(times, t)
    return times[i] if i < len(times) else None


def nsboxd_spawns(evs, program):
    """Phase timestamps of each spawn the busiest nsboxd served, found from its child back and forth."""
    served = Counter(tgid for _, comm, tgid, tid, ev, nr, v, _ in evs
                     if comm.startswith('nsboxd') and tgid == tid and ev == 'sys_exit' and nr == NR_RECVMSG and v > 0)
    if not served:
        return []
    loop = served.most_common(1)[0][0]
    sends, reads, loop_reads, loop_wakes, loop_gos = [], [], [], [], []
    loop_reads_fd, loop_replies = {}, {}  # the loop's reads and sends on each fd: its connection to the client
    reading_fd = None
    clones = {}  # cloning thread: its clone3() entries
    spawns, families, execve = [], {}, {}
    for t, comm, tgid, tid, ev, nr, v, rest in evs:
        if comm == 'nsbox-bench' and ev == 'sys_enter' and nr == NR_SENDMSG:
            sends.append(t)
        elif comm == 'nsbox-bench' and ev == 'sys_exit' and nr == NR_RECVMSG and v > 0:
            reads.append(t)
        elif tid == loop and ev == 'sys_enter' and nr == NR_RECVMSG:
            reading_fd = v
        elif tid == loop and ev == 'sys_exit' and nr == NR_RECVMSG and v > 0:
            loop_reads.append(t)
            loop_reads_fd[t] = reading_fd
        elif tid == loop and ev == 'sys_enter' and nr == NR_FUTEX:
            loop_wakes.append(t)
        elif tid == loop and ev == 'sys_enter' and nr == NR_SENDMSG:
            loop_replies.setdefault(v, []).append(t)
        elif tid == loop and ev == 'sys_enter' and nr == NR_SENDTO:
            loop_gos.append(t)
        elif tgid == loop and ev == 'sys_enter' and nr == NR_CLONE3:
            clones.setdefault(tid, []).append(t)
        elif ev == 'sched_process_fork':
            m = FORK.search(rest)
            parent, child = int(m.group(1)), int(m.group(2))
            if tgid == loop and parent in clones:
                s = {'clone3': clones[parent][-1]}
                spawns.append(s)
                families[child] = s
            elif parent in families:
                families[child] = families[parent]
        elif tid in families:
            s = families[tid]
            s.setdefault('running', t)
            if ev == 'sys_enter' and nr == NR_EXECVE:
                execve[tid] = t
            elif ev == 'sched_process_exec' and tid in execve and 'exec' not in s:
                # The command's, not a helper's the child may exec first (nsbox-init --copy).
                m = EXEC.search(rest)
                if m and m.group(1) == program:
                    s['execve'], s['exec'] = execve[tid], t
    for s in spawns:
        s['loop'] = last_before(loop_reads, s['clone3'])
        woken = last_before(loop_wakes, s['clone3'])
        # Without a free worker the loop clones itself: nothing is woken.
        s['woken'] = woken if s['loop'] and woken and woken > s['loop'] else None
        s['request'] = last_before(sends, s['loop']) if s['loop'] else None
        go = first_after(loop_gos, s['clone3'])
        if go is not None and 'exec' in s and go < s['exec']:
            s['go'] = go
        # The daemon learns of the exec when the report pipe's last writer goes, at the close-on-exec point:
        # that may come before the exec's tracepoint.
        if 'execve' in s and s['loop']:
            s['reply'] = first_after(loop_replies.get(loop_reads_fd[s['loop']], []), s['execve'])
            s['read'] = first_after(reads, s['reply']) if s['reply'] else None
        for k in [k for k, v in s.items() if v is None]:
            del s[k]
    return spawns


def raw_spawns(evs, program):
    """Phase timestamps of each clone3() of the benchmark's own baseline."""
    spawns, cloning, by_child = [], {}, {}
    for t, comm, tgid, tid, ev, nr, v, rest in evs:
        if comm == 'nsbox-bench' and ev == 'sys_enter' and nr == NR_CLONE3:
            cloning[tid] = {'clone3': t, 'parent': tid}
            spawns.append(cloning[tid])
        elif ev == 'sched_process_fork':
            m = FORK.search(rest)
            parent, child = int(m.group(1)), int(m.group(2))
            if parent in cloning:
                by_child[child] = cloning.pop(parent)
        elif tid in by_child and 'running' not in by_child[tid]:
            by_child[tid]['running'] = t
        if tid in by_child and ev == 'sys_enter' and nr == NR_EXECVE:
            by_child[tid].setdefault('execve', t)
        elif tid in by_child and ev == 'sched_process_exec':
            m = EXEC.search(rest)
            if m and m.group(1) == program:
                by_child[tid].setdefault('exec', t)
        elif comm == 'nsbox-bench' and ev == 'sys_exit' and nr == NR_READ:
            for s in reversed(spawns[-8:]):
                if s['parent'] == tid and 'execve' in s and 'read' not in s:
                    s['read'] = t
                    break
    return spawns


NSBOXD_PHASES = [
    ('request', 'loop', "the request reaches the daemon's loop"),
    ('loop', 'woken', 'the request handled, a spawn worker woken'),
    ('woken', 'clone3', "the worker's clone3()"),
    ('clone3', 'running', 'clone3() until the child runs'),
    ('clone3', 'go', 'clone3() until the daemon released the child (maps written)'),
    ('running', 'execve', "the child's setup until the command's execve()"),
    ('execve', 'exec', 'execve() until the new program runs'),
    ('execve', 'reply', "execve() until the daemon's reply is sent"),
    ('reply', 'read', 'the reply reaches the client'),
    ('request', 'read', 'request until reply (the spawn latency)'),
]

RAW_PHASES = [
    ('clone3', 'running', 'clone3() until the child runs'),
    ('running', 'execve', "the child's setup until its execve()"),
    ('execve', 'exec', 'execve() until the new program runs'),
    ('execve', 'read', 'execve() until the parent learns of it'),
    ('clone3', 'read', 'clone3() until the parent knows (the spawn latency)'),
]


def report(title, spawns, phases, needed):
    complete = [s for s in spawns if all(k in s for k in needed)]
    print('%s: %d spawns traced, %d complete' % (title, len(spawns), len(complete)))
    if not complete:
        return
    print('  %-62s %7s %7s' % ('phase (microseconds)', 'p50', 'p90'))
    for a, b, name in phases:
        v = sorted(s[b] - s[a] for s in complete if a in s and b in s)
        if not v:
            continue
        p90 = v[min(len(v) - 1, int(len(v) * 0.9))]
        print('  %-62s %7.0f %7.0f' % (name, statistics.median(v), p90))


def main():
    if len(sys.argv) != 3:
        print('usage: spawn-phases.py TRACE PROGRAM', file=sys.stderr)
        return 2
    evs = list(events(sys.argv[1]))
    program = sys.argv[2]
    report('nsboxd', nsboxd_spawns(evs, program), NSBOXD_PHASES,
           ['request', 'loop', 'clone3', 'running', 'execve', 'exec', 'reply', 'read'])
    report('clone3 (the baseline)', raw_spawns(evs, program), RAW_PHASES, ['clone3', 'running', 'execve', 'exec', 'read'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
