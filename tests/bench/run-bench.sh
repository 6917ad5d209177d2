#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds nsboxd and nsbox-bench if needed, starts a private nsboxd on a
# temporary socket, in a cgroup of its own below this script's (as
# Delegate=yes gives it one), a second one with --no-cgroups (the
# cost of the cgroup step) and a third in cgroups of its own whose policy
# gives root a warm pool (nsboxd+pool), runs the benchmark with its defaults (or the
# options given, passed on to nsbox-bench), stops the daemons, removes
# the cgroups and prints the results.
#
#   tests/bench/run-bench.sh                 # the table
#   tests/bench/run-bench.sh --json          # JSON
#   tests/bench/run-bench.sh --json-file r.json   # the table, and the JSON in r.json
#   tests/bench/run-bench.sh -n 50 -c 1,8    # quicker
#
# $NSBOX_BUILDDIR picks the build directory (default: build-bench in the source tree);
# $NSBOXD another daemon binary to measure (to compare two builds in alternating runs).
# Needs root: nsboxd creates namespaces for any caller and the baseline maps foreign ids.
set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${NSBOX_BUILDDIR:-$srcdir/build-bench}

if [ "$(id -u)" != 0 ]; then
        echo "run-bench.sh: must run as root (nsboxd is a privileged daemon)." >&2
        exit 1
fi

if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" "$srcdir" >&2
fi
if ! ninja -C "$builddir" daemon/nsboxd daemon/nsbox-init tests/bench/nsbox-bench >&2; then
        echo "run-bench.sh: build failed (the benchmark is built with the tests: criterion must be found)." >&2
        exit 1
fi

tmp=$(mktemp -d /tmp/nsbox-bench.XXXXXX)
daemon_pid=
plain_pid=
pool_pid=
cgroups=
pool_cgroups=

# The directories of a new cgroup NAME below this script's own in the cgroup2 tree and in the v1 hierarchies
# nsboxd uses; prints them.
make_cgroups() {
        name=$1
        while IFS=: read -r _ controllers path; do
                case $controllers in
                "" | *memory* | *pids* | cpu | cpu,* | *,cpu | *,cpu,*) ;;
                *) continue ;;
                esac
                # The mount of that hierarchy: after mountinfo's " - " come the type, the source and the options.
                mnt=$(awk -v c="$controllers" '{
                        for (i = 7; i <= NF && $i != "-"; i++) ;
                        if (c == "" ? $(i + 1) == "cgroup2" : $(i + 1) == "cgroup" && ("," $(i + 3) ",") ~ ("," c ","))
                                { print $5; exit }
                }' /proc/self/mountinfo)
                [ -n "$mnt" ] || continue
                [ "$path" = / ] && path=
                mkdir "$mnt$path/$name" && echo "$mnt$path/$name"
        done </proc/self/cgroup
}

cleanup() {
        for pid in $daemon_pid $plain_pid $pool_pid; do
                if kill -0 "$pid" 2>/dev/null; then
                        kill -TERM "$pid" 2>/dev/null || true
                        wait "$pid" 2>/dev/null || true
                fi
        done
        for dir in $cgroups $pool_cgroups; do
                rmdir "$dir" 2>/dev/null || echo "run-bench.sh: $dir is not empty, left in place" >&2
        done
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1,000 live sandboxes are 1,000 pidfds in the daemon and in the benchmark.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cgroups=$(make_cgroups nsbox-bench-$$)
pool_cgroups=$(make_cgroups nsbox-bench-pool-$$)
# Root's warm pool: as many entries as the largest number of clients the defaults run at once, within
# the daemon's warm-pool-entries.
printf '[default]\nwarm-pool = 16\n' >"$tmp/pool-policy.conf"
chmod 0644 "$tmp/pool-policy.conf"

# No policy file: the built-in default policy. The limits leave room for the memory run.
start_daemon() {
        policy=$1
        shift
        exec "${NSBOXD:-$builddir/daemon/nsboxd}" \
                --policy "$policy" \
                --limit sandboxes-per-user=20000 \
                --limit sandboxes=20000 \
                --limit pending-spawns=1000 \
                --limit connections-per-user=1024 \
                "$@"
}

# In its own cgroups: the subshell moves itself there (echo is a builtin: the subshell writes "0"), then
# becomes the daemon.
(
        for dir in $cgroups; do echo 0 >"$dir/cgroup.procs"; done
        start_daemon "$tmp/no-policy.conf" --socket "$tmp/nsbox.sock"
) 2>"$tmp/nsboxd.log" &
daemon_pid=$!
(start_daemon "$tmp/no-policy.conf" --socket "$tmp/plain.sock" --no-cgroups) 2>"$tmp/plain.log" &
plain_pid=$!
(
        for dir in $pool_cgroups; do echo 0 >"$dir/cgroup.procs"; done
        start_daemon "$tmp/pool-policy.conf" --socket "$tmp/pool.sock" --limit warm-pool-entries=32
) 2>"$tmp/pool.log" &
pool_pid=$!

for sock in nsbox plain pool; do
        tries=0
        while [ ! -S "$tmp/$sock.sock" ]; do
                tries=$((tries + 1))
                if [ "$tries" -gt 100 ] || ! kill -0 "$daemon_pid" 2>/dev/null || ! kill -0 "$plain_pid" 2>/dev/null ||
                        ! kill -0 "$pool_pid" 2>/dev/null; then
                        echo "run-bench.sh: nsboxd did not come up; its logs:" >&2
                        cat "$tmp/nsboxd.log" "$tmp/plain.log" "$tmp/pool.log" >&2
                        exit 1
                fi
                sleep 0.1
        done
done

rc=0
"$builddir/tests/bench/nsbox-bench" --socket "$tmp/nsbox.sock" --socket-no-cgroups "$tmp/plain.sock" \
        --socket-pool "$tmp/pool.sock" \
        --daemon-pid "$daemon_pid" "$@" || rc=$?

if [ "$rc" != 0 ]; then
        echo "run-bench.sh: nsbox-bench failed ($rc); the last lines of nsboxd's log:" >&2
        tail -n 20 "$tmp/nsboxd.log" >&2
fi
exit "$rc"
