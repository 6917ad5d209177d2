#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds nsboxd and nsbox-bench if needed, starts a private nsboxd on a
# temporary socket, runs the benchmark with its defaults (or the options
# given, passed on to nsbox-bench), stops the daemon and prints the results.
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
if ! ninja -C "$builddir" daemon/nsboxd tests/bench/nsbox-bench >&2; then
        echo "run-bench.sh: build failed (the benchmark is built with the tests: criterion must be found)." >&2
        exit 1
fi

tmp=$(mktemp -d /tmp/nsbox-bench.XXXXXX)
daemon_pid=

cleanup() {
        if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
                kill -TERM "$daemon_pid" 2>/dev/null || true
                wait "$daemon_pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1,000 live sandboxes are 1,000 pidfds in the daemon and in the benchmark.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# No policy file: the built-in default policy. The limits leave room for the memory run.
"${NSBOXD:-$builddir/daemon/nsboxd}" \
        --socket "$tmp/nsbox.sock" \
        --policy "$tmp/no-policy.conf" \
        --limit sandboxes-per-user=20000 \
        --limit sandboxes=20000 \
        --limit pending-spawns=1000 \
        --limit connections-per-user=1024 \
        2>"$tmp/nsboxd.log" &
daemon_pid=$!

tries=0
while [ ! -S "$tmp/nsbox.sock" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
                echo "run-bench.sh: nsboxd did not come up; its log:" >&2
                cat "$tmp/nsboxd.log" >&2
                exit 1
        fi
        sleep 0.1
done

rc=0
"$builddir/tests/bench/nsbox-bench" --socket "$tmp/nsbox.sock" --daemon-pid "$daemon_pid" "$@" || rc=$?

if [ "$rc" != 0 ]; then
        echo "run-bench.sh: nsbox-bench failed ($rc); the last lines of nsboxd's log:" >&2
        tail -n 20 "$tmp/nsboxd.log" >&2
fi
exit "$rc"
