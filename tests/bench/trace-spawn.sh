#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Where one spawn's time goes: runs run-bench.sh (the options given are its
# own; use one client and one nsboxd method, e.g.
#
#     tests/bench/trace-spawn.sh -n 300 -c 1 -N user+pid -m clone3,nsboxd --live 0
#
# ) with the kernel's tracer recording scheduler events and system calls,
# and prints the median and 90th percentile of each phase of a spawn, for
# nsboxd and the clone3 baseline (spawn-phases.py says which). As root.
# ftrace records in the kernel's ring buffer, so no tracing process competes
# with the spawns for the CPUs, as perf's would on a machine with two; the
# latencies it adds are a few microseconds per event. The capture is kept
# in $NSBOX_TRACE_FILE if that is set.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tracing=/sys/kernel/tracing
[ -e "$tracing/trace" ] || mount -t tracefs nodev "$tracing"
[ -w "$tracing/trace" ] || { echo "trace-spawn.sh: needs root and $tracing" >&2; exit 1; }

program=/bin/true
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
        [ "${args[i]}" = --program ] && program=${args[i + 1]}
done

old_buffer=$(sed 's/ .*//' "$tracing/buffer_size_kb")
old_tgid=$(cat "$tracing/options/record-tgid")
capture=${NSBOX_TRACE_FILE:-$(mktemp /tmp/nsbox-trace.XXXXXX)}
restore() {
        echo 0 >"$tracing/tracing_on"
        echo >"$tracing/set_event"
        echo "$old_buffer" >"$tracing/buffer_size_kb"
        echo "$old_tgid" >"$tracing/options/record-tgid"
        echo >"$tracing/trace"
        [ -n "${NSBOX_TRACE_FILE:-}" ] || rm -f "$capture"
}
trap restore EXIT

echo 0 >"$tracing/tracing_on"
echo >"$tracing/trace"
echo 65536 >"$tracing/buffer_size_kb"
echo 1 >"$tracing/options/record-tgid"
echo >"$tracing/set_event"
for event in sched:sched_switch sched:sched_wakeup sched:sched_process_fork sched:sched_process_exec \
        raw_syscalls:sys_enter raw_syscalls:sys_exit; do
        echo "$event" >>"$tracing/set_event"
done

# On from the benchmark's start: the daemons' own start and the build before it are not wanted.
(
        while ! pgrep -x nsbox-bench >/dev/null; do sleep 0.01; done
        echo 1 >"$tracing/tracing_on"
) &
starter=$!
"$here/run-bench.sh" "$@" >&2
kill "$starter" 2>/dev/null || true
echo 0 >"$tracing/tracing_on"
cat "$tracing/trace" >"$capture"
python3 "$here/spawn-phases.py" "$capture" "$program"
