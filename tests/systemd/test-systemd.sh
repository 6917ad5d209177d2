#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# nsbox under a real service manager: boots Debian 12 with systemd as PID 1 in
# a systemd-nspawn container, installs the just-built nsbox into it and checks
# through systemctl, journalctl and nsbox what only a real systemd shows:
# socket activation, STATUS=, journald fields, reload, stop, restart.
#
# Usage: test-systemd.sh BUILDDIR
#
# Exits 77 (skipped) with the reason when it cannot run here: not root, a tool
# missing, a sanitizer build, no Debian mirror and no cached tree.
# NSBOX_TEST_SYSTEMD_REQUIRED=1 makes every such reason a failure (CI).
#
# The Debian tree is made once with debootstrap (minutes) and kept in
# $NSBOX_TEST_CACHE (default /var/cache/nsbox-test); every run boots a
# throw-away overlay of it, so the cache never sees what a run installs, and
# runs of several build trees may share it (a lock guards its updates).
set -euo pipefail

# One compound command, read whole before any of it runs: a script edited while it runs (a rebase)
# must not go on at some other line of the new text.
{
builddir=$(realpath "${1:?usage: $0 BUILDDIR}")
cache=${NSBOX_TEST_CACHE:-/var/cache/nsbox-test}
suite=bookworm
base="$cache/$suite"
# Runtime packages the tree needs besides what the binaries link (found below).
base_packages=(systemd systemd-sysv dbus util-linux procps passwd iproute2)
machine="nsbt-$$"
user=nsbt-alice

log() { printf '%s\n' "$*" >&2; }
skip() {
        log "SKIP: $*"
        [ "${NSBOX_TEST_SYSTEMD_REQUIRED:-0}" = 1 ] && exit 1
        exit 77
}
fail() {
        log "FAIL: $*"
        exit 1
}
checks=0
ok() {
        checks=$((checks + 1))
        log "ok $checks - $*"
}

# ---------------------------------------------------------------------------
# Can it run here?

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, overlayfs, debootstrap)"
for tool in debootstrap systemd-nspawn nsenter meson python3 flock; do
        command -v "$tool" >/dev/null || skip "$tool is not installed (Debian: debootstrap systemd-container util-linux meson python3)"
done
[ -x "$builddir/daemon/nsboxd" ] && [ -x "$builddir/client/nsbox" ] || fail "no nsboxd or nsbox in $builddir"
if ldd "$builddir/daemon/nsboxd" | grep -Eq 'lib(asan|ubsan|tsan)'; then
        skip "a sanitizer build: the container has no sanitizer runtime; run it on a plain build"
fi

# The machine's Debian mirror, from its apt configuration.
debian_mirror() {
        python3 - <<'PY'
import re, sys
try:
    text = open("/etc/apt/sources.list.d/debian.sources").read()
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, re.M))
        if "deb" in fields.get("Types", "").split() and "bookworm" in fields.get("Suites", "").split():
            print(fields["URIs"].split()[0]); sys.exit(0)
except (OSError, KeyError, IndexError):
    pass
try:
    for line in open("/etc/apt/sources.list"):
        w = line.split()
        if len(w) >= 3 and w[0] == "deb" and w[2] == "bookworm":
            print(w[1]); sys.exit(0)
except OSError:
    pass
PY
}

mirror_reachable() {
        python3 - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1].rstrip("/") + "/dists/bookworm/Release", timeout=20).read(64)
except Exception as e:
    print(e, file=sys.stderr); sys.exit(1)
PY
}

# Debian packages holding the libraries nsbox's binaries load (libseccomp2, libcap2, ...).
library_packages() {
        local f lib pkg
        for f in "$builddir/daemon/nsboxd" "$builddir/client/nsbox"; do
                ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
        done | sort -u | while read -r lib; do
                case $lib in "$builddir"/*) continue ;; esac
                pkg=""
                for p in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
                        pkg=$(dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
                done
                [ -n "$pkg" ] && echo "$pkg"
        done | sort -u
}

# ---------------------------------------------------------------------------
# The cached tree: made once, extended when the binaries need a new library.

mkdir -p "$cache"
exec {lockfd}>"$cache/.lock"
mapfile -t packages < <( (printf '%s\n' "${base_packages[@]}"; library_packages) | sort -u)
mirror=$(debian_mirror)

tree_has_packages() {
        [ -f "$base/.nsbox-test-ready" ] || return 1
        local p
        for p in "${packages[@]}"; do
                grep -qxF "$p" "$base/.nsbox-test-ready" || return 1
        done
}

# debootstrap mounts /proc and /sys inside the tree: an interrupted one leaves them there.
remove_tree() {
        local m
        awk -v dir="$1/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
                while read -r m; do umount -l "$m"; done
        rm -rf --one-file-system "$1"
}

flock "$lockfd"
if ! tree_has_packages; then
        [ -n "$mirror" ] || skip "no Debian mirror for bookworm in /etc/apt/sources.list.d/debian.sources"
        mirror_reachable "$mirror" || skip "the Debian mirror $mirror cannot be reached"
        if [ ! -f "$base/.nsbox-test-ready" ]; then
                log "Making a Debian $suite tree in $base from $mirror (once; a few minutes)..."
                remove_tree "$base.new"
                include=$(IFS=,; echo "${packages[*]}")
                debootstrap --variant=minbase --include="$include" "$suite" "$base.new" "$mirror" \
                        >"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log" >&2; fail "debootstrap failed"; }
                remove_tree "$base"
                mv "$base.new" "$base"
        else
                log "Adding packages to $base: ${packages[*]}"
                cp /etc/resolv.conf "$base/etc/resolv.conf"
                chroot "$base" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
                        sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"' sh "${packages[@]}" \
                        >"$cache/apt.log" 2>&1 || { tail -n 30 "$cache/apt.log" >&2; fail "apt-get install in the tree failed"; }
        fi
        printf '%s\n' "${packages[@]}" >"$base/.nsbox-test-ready"
fi
# Shared while it runs: nobody updates the tree under a booted overlay.
flock -s "$lockfd"

# ---------------------------------------------------------------------------
# This run's machine: an overlay of the tree with the build installed.

run=$(mktemp -d /var/tmp/nsbox-systemd-test.XXXXXX)
root="$run/root"
nspawn_pid=""
leader=""
frozen_journald=""
mkdir -p "$run/upper" "$run/work" "$root"

cleanup() {
        local status=$?
        set +e
        [ -n "$frozen_journald" ] && in_ct kill -CONT "$frozen_journald"
        if [ $status -ne 0 ] && [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
                log "== nsboxd's journal:"
                in_ct journalctl -u nsboxd.service -n 80 --no-pager -o short-monotonic >&2
        fi
        if [ -n "$nspawn_pid" ]; then
                # systemctl poweroff; systemd-nspawn turns SIGTERM into the same request (SIGRTMIN+3 to
                # PID 1) if systemd cannot take it yet; SIGKILL if the shutdown hangs.
                [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null && in_ct systemctl poweroff >/dev/null 2>&1 ||
                        kill -TERM "$nspawn_pid" 2>/dev/null
                for _ in $(seq 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
                if kill -0 "$nspawn_pid" 2>/dev/null; then
                        log "The container did not power off within 30s; killing systemd-nspawn ($nspawn_pid)."
                        kill -KILL "$nspawn_pid" 2>/dev/null
                fi
                wait "$nspawn_pid" 2>/dev/null
        fi
        if [ $status -ne 0 ] && [ -f "$run/console.log" ]; then
                log "== last console lines:"; tail -n 40 "$run/console.log" >&2
        fi
        mountpoint -q "$root" && umount "$root"
        rm -rf "$run"
        # systemd-nspawn leaves directories behind when there is no machined: this machine's, and
        # the empty ones it made for them (another run's are not empty, and stay).
        for d in /run/systemd/nspawn/*/"$machine"; do [ -e "$d" ] && rm -rf "$d"; done
        rmdir /run/systemd/nspawn/* /run/systemd/nspawn 2>/dev/null
        # It also puts the container in a "payload" cgroup below its own (this script's) in the cgroup2
        # tree, and leaves it there: empty once the container is gone (one still in use stays).
        cgroup2=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1)
        own=$(sed -n 's/^0:://p' /proc/self/cgroup)
        if [ -n "$cgroup2" ] && [ -d "$cgroup2${own%/}/payload" ]; then
                find "$cgroup2${own%/}/payload" -depth -type d -exec rmdir {} + 2>/dev/null
        fi
        exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$root" 2>/dev/null; then
        log "overlayfs unavailable here; copying the tree instead."
        cp -a "$base/." "$root/"
fi

meson install -C "$builddir" --no-rebuild --quiet --destdir "$root" >"$run/install.log" 2>&1 ||
        { cat "$run/install.log" >&2; fail "meson install failed"; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
in_root ldconfig
in_root useradd -m "$user"
echo "$machine" >"$root/etc/hostname"
rm -f "$root/etc/machine-id"
in_root systemd-machine-id-setup >/dev/null
in_root systemctl enable nsboxd.socket >/dev/null 2>&1
mkdir -p "$root/etc/nsbox"
# The unit's ExecStart names where the build installs; everything must be there.
sbin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root"/{usr/,}lib/systemd/system/nsboxd.service 2>/dev/null | head -n1)
[ -n "$sbin" ] && [ -x "$root$sbin" ] || fail "nsboxd.service not installed, or its ExecStart= ($sbin) missing"
nsbox_bin=$(dirname "$(dirname "$sbin")")/bin/nsbox
[ -x "$root$nsbox_bin" ] || fail "nsbox is not at $nsbox_bin in the tree"

# ---------------------------------------------------------------------------
# Boot it. --console=read-only needs no terminal; the console goes to a file. A pure cgroup2
# tree, as Debian 12 boots with by default (on a hybrid host the container would get read-only
# v1 controller hierarchies, which no real Debian 12 system has).

boot_start=$SECONDS
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --register=no --keep-unit --capability=all --console=read-only \
        -D "$root" -M "$machine" -b >"$run/console.log" 2>&1 &
nspawn_pid=$!

for _ in $(seq 600); do
        kill -0 "$nspawn_pid" 2>/dev/null || fail "systemd-nspawn exited during boot"
        for p in $(pgrep -P "$nspawn_pid"); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && leader=$p
        done
        [ -n "$leader" ] && break
        sleep 0.1
done
[ -n "$leader" ] || fail "no systemd in the container after 60s"

in_ct() { nsenter -t "$leader" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
as_user() { in_ct setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }

# systemctl needs PID 1's private socket, which comes a moment after PID 1 itself.
for _ in $(seq 600); do
        in_ct test -S /run/systemd/private && break
        kill -0 "$nspawn_pid" 2>/dev/null || fail "systemd-nspawn exited during boot"
        sleep 0.1
done
state=$(in_ct timeout 120 systemctl is-system-running --wait || true)
case $state in
running|degraded) ;;
*) in_ct systemctl --failed --no-pager >&2 || true; fail "the container did not boot: $state" ;;
esac
[ "$state" = degraded ] && in_ct systemctl --failed --no-pager --plain >&2
ok "systemd booted in the container ($state) in $((SECONDS - boot_start))s"
uid=$(in_ct id -u "$user")

# ---------------------------------------------------------------------------
# Helpers for the checks.

# wait_for DESCRIPTION COMMAND...: until COMMAND succeeds, 60s at most.
wait_for() {
        local what=$1; shift
        for _ in $(seq 600); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        fail "timed out waiting for: $what"
}
unit_state() { in_ct systemctl is-active "$1" || true; }
unit_is() { [ "$(unit_state "$1")" = "$2" ]; }
expect_state() {
        local s; s=$(unit_state "$1")
        [ "$s" = "$2" ] || fail "$1 is $s, expected $2"
}
# journal_has FIELD=VALUE...: a record of nsboxd.service matching all of them exists.
journal_has() { in_ct journalctl -q -u nsboxd.service -o cat "$@" | grep . >/dev/null; }
expect_journal() {
        local what=$1; shift
        wait_for "a journal record $* ($what)" journal_has "$@"
        ok "journal: $what ($*)"
}
nsbox() { in_ct "$nsbox_bin" "$@"; }
user_nsbox() { as_user "$nsbox_bin" "$@"; }
status_line() { in_ct systemctl show -P StatusText nsboxd.service; }
status_is() { [ "$(status_line)" = "$1" ]; }
status_matches() { [[ "$(status_line)" =~ $1 ]]; }

# ---------------------------------------------------------------------------
# Socket activation, by root and by another user.

expect_state nsboxd.socket active
expect_state nsboxd.service inactive
ok "nsboxd.socket listens, nsboxd.service is not started"

out=$(nsbox run -- /bin/echo from-root) || fail "nsbox run as root failed"
[ "$out" = from-root ] || fail "root's sandbox printed '$out'"
expect_state nsboxd.service active
ok "a root call activated nsboxd.service and ran a sandbox"

in_ct systemctl stop nsboxd.service 2>/dev/null
expect_state nsboxd.service inactive
out=$(user_nsbox run -- /usr/bin/id -u) || fail "nsbox run as $user failed"
[ "$out" = "$uid" ] || fail "$user's sandbox ran as uid '$out', expected $uid"
expect_state nsboxd.service active
ok "a call by $user (uid $uid) activated nsboxd.service; the sandbox ran as $uid"

# systemd-nspawn's system call filter refuses pidfd_getfd() (that of systemd 252 does): the spawn went
# through a spawn worker thread all the same, which got its fds over a socket, not through a fork of the
# whole daemon.
spawn_workers() { in_ct sh -c 'for p in $(pgrep -x nsboxd); do cat /proc/$p/task/*/comm; done' | grep -c '^nsbox-spawn$'; }
has_spawn_workers() { [ "$(spawn_workers)" -gt 0 ]; }
wait_for "a spawn worker thread in nsboxd" has_spawn_workers
workers=$(spawn_workers)
how="by pidfd_getfd()"
in_ct journalctl -q -u nsboxd.service -o cat | grep -q 'pidfd_getfd() is refused here' && how="over a socket"
ok "the spawn went through a spawn worker thread ($workers now), its fds $how"

# ---------------------------------------------------------------------------
# systemctl status, and STATUS= following what it reports.

text=$(in_ct systemctl status --no-pager --lines=0 nsboxd.service || true)
grep -q 'Active: active (running)' <<<"$text" || fail "systemctl status: $text"
grep -q 'TriggeredBy: .*nsboxd.socket' <<<"$text" || fail "systemctl status names no trigger: $text"
wait_for "STATUS= with no sandbox and no connection" status_is "Serving, 0 sandboxes, 0 connections."
ok "systemctl status: active (running), triggered by nsboxd.socket, Status: \"$(status_line)\""

id=$(nsbox run --detach --name sleeper -- /bin/sleep infinity) || fail "nsbox run --detach failed"
wait_for "STATUS= with one sandbox" status_is "Serving, 1 sandbox, 0 connections."
ok "STATUS= counts a detached sandbox and no connection: \"$(status_line)\""

# ---------------------------------------------------------------------------
# Audit records in the journal, with their fields.

expect_journal "spawn by root" NSBOX_EVENT=spawn NSBOX_SANDBOX_ID="$id" NSBOX_CALLER_UID=0
user_nsbox run -- /bin/true || fail "$user's sandbox failed"
expect_journal "spawn by $user" NSBOX_EVENT=spawn NSBOX_CALLER_UID="$uid"
if user_nsbox run --map-users=0:0:1 -- /bin/true 2>/dev/null; then fail "$user mapped uid 0"; fi
expect_journal "refusal of $user's request" NSBOX_EVENT=refused NSBOX_CALLER_UID="$uid"
nsbox kill -s KILL "$id" || fail "nsbox kill failed"
expect_journal "kill by root" NSBOX_EVENT=kill NSBOX_SANDBOX_ID="$id" NSBOX_CALLER_UID=0
expect_journal "the killed sandbox's end" NSBOX_EVENT=killed NSBOX_SANDBOX_ID="$id"
id=$(user_nsbox run --detach -- /bin/sh -c 'exit 3') || fail "$user's detached sandbox failed"
expect_journal "$user's sandbox's exit" NSBOX_EVENT=exited NSBOX_SANDBOX_ID="$id" NSBOX_CALLER_UID="$uid"
in_ct journalctl -q -u nsboxd.service -o cat NSBOX_EVENT=exited NSBOX_SANDBOX_ID="$id" | grep "exited with status 3\.$" >/dev/null ||
        fail "the exit record does not give the status"

# ---------------------------------------------------------------------------
# Reload: a good policy applies, a bad one fails the reload and changes nothing.

printf '[user:%s]\nmax-sandboxes = 0\n' "$user" >"$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "systemctl reload with a good policy failed"
if err=$(user_nsbox run -- /bin/true 2>&1); then fail "the reloaded policy (max-sandboxes = 0) was not applied"; fi
grep -q 'sandboxes' <<<"$err" || fail "$user's refusal does not name the limit: $err"
ok "systemctl reload applied a good policy: $user is refused ($err)"

printf '[user:%s]\nmax-sandbox = 1\n' "$user" >"$root/etc/nsbox/policy.conf"
if in_ct systemctl reload nsboxd.service 2>/dev/null; then fail "systemctl reload succeeded with a bad policy"; fi
expect_journal "the bad policy named with its line" MESSAGE="/etc/nsbox/policy.conf:2: unknown key 'max-sandbox' in [user:$user]; not applying the policy."
# ExecReload='s own output, in the journal of the unit: what `systemctl status` shows the admin.
expect_journal "the failed reload's reason" MESSAGE="nsbox: cannot reload: nsboxd's policy does not load: /etc/nsbox/policy.conf:2: unknown key 'max-sandbox' in [user:$user]"
if user_nsbox run -- /bin/true 2>/dev/null; then fail "a bad policy replaced the good one"; fi
expect_state nsboxd.service active
ok "systemctl reload fails with a bad policy, which changes nothing: the one before stays in force"
rm -f "$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "reload without a policy file failed"

# ---------------------------------------------------------------------------
# A sandbox's own sandbox on a cgroup2-only host (nested = allow): a user namespace inside the sandbox's,
# mapping the sandbox's root, in the sandbox's cgroup, with the sandbox's read-only tree still read-only.

printf '[user:%s]\nnested = allow\n' "$user" >"$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "reload with nested = allow failed"
out=$(user_nsbox run -r --ro-bind / / -- /bin/sh -c "grep ^0:: /proc/self/cgroup; echo ---; $nsbox_bin run -r \
        --ro-bind / / -- /bin/sh -c 'cat /proc/self/uid_map; grep ^0:: /proc/self/cgroup; touch /nsbt-nested; echo rc=\$?'" 2>&1) ||
        fail "the nested run failed: $out"
outer_cgroup=${out%%$'\n'---*}
inner=${out#*---$'\n'}
grep -Eq '^ *0 +0 +1$' <<<"$inner" || fail "the nested user namespace does not map the sandbox's root: $out"
# A cgroup of its own below the sandbox's: what its processes cannot leave tells it apart from the sandbox.
grep -qF "$outer_cgroup/" <<<"$inner" || fail "the nested sandbox is not below its sandbox's cgroup: $out"
grep -q 'Read-only file system' <<<"$inner" && grep -q 'rc=1' <<<"$inner" || fail "the nested sandbox wrote to /: $out"
ok "nested run with a user namespace of its own inside the sandbox's, in a cgroup below its, read-only stays read-only"

# Limits of its own on a cgroup2-only host: a cgroup of its own below the sandbox's; above the sandbox's is
# refused by name; nothing is left below the sandbox's cgroup once the nested one ended. Where cgroup2 holds
# the memory controller, the sandbox's processes are in its payload leaf, so its cgroup can hand memory and
# pids down beside the leaf. (A container on a hybrid host gets the host's cgroup2 tree, which has none of the
# controllers the v1 hierarchies hold: there a runtime of its own stands for the limits.)
if in_ct grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        outer_opts="-p TasksMax=64 -p MemoryMax=256M"
        inner_opts="-p TasksMax=16 -p MemoryMax=64M"
        over_opts="-p TasksMax=128"
        show='echo limits=$(cat /sys/fs/cgroup$i/pids.max) $(cat /sys/fs/cgroup$i/memory.max)'
        want_limits='limits=16 67108864'
        refused='TasksMax=64'
        leaf=/payload
else
        outer_opts="-p RuntimeMaxSec=1000"
        inner_opts="-p RuntimeMaxSec=500"
        over_opts="-p RuntimeMaxSec=2000"
        show='echo limits=none'
        want_limits='limits=none'
        refused='past the end of the sandbox'"'"'s runtime'
        leaf=""
fi
out=$(user_nsbox run -r $outer_opts -- /bin/sh -c "c=\$(sed -n 's/^0:://p' /proc/self/cgroup); echo outer=\$c; \
        $nsbox_bin run $inner_opts -- /bin/sh -c 'i=\$(sed -n \"s/^0:://p\" /proc/self/cgroup); echo inner=\$i; \
        $show'; $nsbox_bin run $over_opts -- /bin/true; echo rc=\$?; \
        echo below=\$(find /sys/fs/cgroup\${c%/payload} -mindepth 1 -type d | wc -l)" 2>&1) ||
        fail "the nested run with limits failed: $out"
outer_cgroup=$(sed -n 's/^outer=//p' <<<"$out")
inner_cgroup=$(sed -n 's/^inner=//p' <<<"$out")
[ -z "$leaf" ] || [[ $outer_cgroup == */payload ]] || fail "the sandbox's processes are not in its payload leaf: $out"
[[ $inner_cgroup =~ ^${outer_cgroup%/payload}/[0-9a-f]{32}$ ]] || fail "the nested cgroup is not below the sandbox's: $out"
grep -qx "$want_limits" <<<"$out" || fail "the nested cgroup does not have its limits: $out"
grep -qF "$refused" <<<"$out" && grep -qx 'rc=125' <<<"$out" || fail "a limit above the sandbox's was not refused: $out"
grep -qx "below=$([ -n "$leaf" ] && echo 1 || echo 0)" <<<"$out" || fail "a cgroup is left below the sandbox's: $out"
ok "nested limits on cgroup2 alone ($inner_opts): a cgroup of its own below the sandbox's${leaf:+, beside its payload leaf}; more refused"
rm -f "$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "reload without a policy file failed"

# ---------------------------------------------------------------------------
# A bad policy at start: serve root, refuse everyone else saying why, until a reload fixes it.

printf '[user:%s]\nmax-sandbox = 1\n' "$user" >"$root/etc/nsbox/policy.conf"
in_ct systemctl restart nsboxd.service || fail "nsboxd did not start with a bad policy"
expect_state nsboxd.service active
# (Sandboxes whose status nobody has read yet were handed over by the restart.)
wait_for "STATUS= saying only root is served" \
        status_matches '^Serving root only \(the policy does not load\), [0-9]+ sandbox(es)?, 0 connections\.$'
out=$(nsbox run -- /bin/echo still-root) || fail "root was not served with a bad policy"
[ "$out" = still-root ] || fail "root's sandbox printed '$out'"
if err=$(user_nsbox list 2>&1); then fail "$user was served without a valid policy"; fi
grep -q "policy (/etc/nsbox/policy.conf) does not load" <<<"$err" || fail "$user's refusal does not say why: $err"
ok "with a bad policy at start: active, root served, $user refused ($err)"
printf '[user:%s]\nmax-sandboxes = 2\n' "$user" >"$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "reload of the fixed policy failed"
user_nsbox list >/dev/null || fail "$user not served after the fixed policy was loaded"
wait_for "STATUS= back to serving" status_matches '^Serving, [0-9]+ sandbox(es)?, 0 connections\.$'
ok "the fixed policy, reloaded, serves $user again"
rm -f "$root/etc/nsbox/policy.conf"
in_ct systemctl reload nsboxd.service || fail "reload without a policy file failed"

# ---------------------------------------------------------------------------
# Restart: keepAlive sandboxes survive, one exits while no daemon runs, a Wait in progress goes on.

# state_of ID: "running", "exited 7", "killed SIGTERM" as $user's nsbox list --all --json says.
state_of() {
        user_nsbox list --all --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        print(s["state"], s.get("exitCode", s.get("signal", "")))' "$1" | sed 's/ $//'
}
state_is() { [ "$(state_of "$1")" = "$2" ]; }
id_named() {
        user_nsbox list --json | python3 -c '
import json, sys
print("".join(s["id"] for s in json.load(sys.stdin) if s.get("name") == sys.argv[1]))' "$1"
}
sleepers_are() { [ "$(in_ct pgrep -u "$user" -fx '/bin/sleep infinity' | wc -l)" = "$1" ]; }
keepers_are() { [ "$(in_ct pgrep -cx nsboxd-keeper)" = "$1" ]; }

old_main=$(in_ct systemctl show -P MainPID nsboxd.service)
survivor=$(user_nsbox run --detach --name survivor -- /bin/sleep infinity) || fail "survivor did not start"
# Ends once the daemon it was started under is gone: during the restart.
leaver=$(user_nsbox run --detach --name leaver -- /bin/sh -c \
        'while [ -e /proc/$1 ]; do sleep 0.05; done; exit 7' sh "$old_main") || fail "leaver did not start"
leaver_pid=$(user_nsbox inspect --json "$leaver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
# What a process nsbox exec starts in it sees of itself: the same before the restart and after it.
exec_sees() {
        user_nsbox exec survivor -- /bin/sh -c \
                'grep -E "^(Uid|Gid|Groups|Cap(Eff|Prm|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status; pwd'
}
sees_before=$(exec_sees) || fail "nsbox exec into the survivor failed"
grep -q '^Seccomp:.2$' <<<"$sees_before" || fail "nsbox exec into the survivor is not confined: $sees_before"
# A sandbox without keepAlive, its connection open across the restart: it must die with the connection.
in_ct setpriv --reuid="$user" --regid="$user" --init-groups "$nsbox_bin" run --name attached -- /bin/sleep infinity \
        </dev/null >/dev/null 2>&1 &
attached_client=$!
wait_for "the attached sandbox" sleepers_are 2
attached=$(id_named attached)
# A Wait in progress across the restart; it reconnects and gets the status from the next daemon.
as_user "$nsbox_bin" wait "$survivor" >/dev/null 2>&1 &
waiter=$!

# The next daemon starts only once the leaver has exited and been reaped (by the keeper): its status
# must come across the gap, not be seen live.
mkdir -p "$root/etc/systemd/system/nsboxd.service.d"
printf '[Service]\nExecStartPre=/bin/sh -c "while [ -e /proc/%s ]; do sleep 0.05; done"\n' "$leaver_pid" \
        >"$root/etc/systemd/system/nsboxd.service.d/wait-for-leaver.conf"
in_ct systemctl daemon-reload
# Every entry a caller may still ask for goes across: the keepAlive ones, and the ended ones of earlier
# checks whose end nobody read yet; not the attached one.
handed=$(nsbox list --all --json | python3 -c '
import json, sys
print(sum(1 for s in json.load(sys.stdin) if s.get("name") != "attached"))')
in_ct systemctl restart nsboxd.service || fail "systemctl restart failed"
expect_state nsboxd.service active
new_main=$(in_ct systemctl show -P MainPID nsboxd.service)
[ "$new_main" != "$old_main" ] || fail "the restart kept the same main process"
ok "systemctl restart with keepAlive sandboxes: a new daemon (pid $old_main, now $new_main)"

expect_journal "the take-over" MESSAGE="Took over $handed sandboxes from the previous daemon."
state_is "$survivor" running || fail "the survivor is $(state_of "$survivor") after the restart"
wait_for "the leaver's exit status" state_is "$leaver" "exited 7"
ok "nsbox list after the restart: survivor running, leaver exited 7 (it exited while no daemon ran)"
status=0; user_nsbox wait "$leaver" || status=$?
[ $status = 7 ] || fail "wait of the leaver: $status"
ok "nsbox wait of the leaver after the restart: 7"
wait "$attached_client" 2>/dev/null || true
expect_journal "the kill of the sandbox without keepAlive" NSBOX_EVENT=kill NSBOX_SANDBOX_ID="$attached" \
        MESSAGE="Killing sandbox $attached: its connection closed."

user_nsbox inspect --json "$survivor" | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["keepAlive"] and s["state"] == "running" and s["name"] == "survivor" else 1)' ||
        fail "inspect of the survivor: $(user_nsbox inspect --json "$survivor")"
sees_after=$(exec_sees) || fail "nsbox exec into the taken-over survivor failed"
[ "$sees_after" = "$sees_before" ] || fail "nsbox exec after the restart sees '$sees_after', before it saw '$sees_before'"
ok "nsbox exec into the taken-over survivor, by its name: the same user, groups, capabilities, seccomp and cwd"
user_nsbox kill "$survivor" || fail "nsbox kill of the survivor failed"
status=0; wait "$waiter" || status=$?
[ $status = 143 ] || fail "the nsbox wait in progress across the restart exited $status, expected 143 (SIGTERM)"
ok "the taken-over survivor: inspect and kill work, and the nsbox wait started before the restart returns 143"
# Its sandboxes gone, the old daemon's keeper ends; the new daemon's stays.
wait_for "the old keeper to end" keepers_are 1
ok "the previous daemon's keeper ended once its sandboxes were"
rm -rf "$root/etc/systemd/system/nsboxd.service.d"
in_ct systemctl daemon-reload

# ---------------------------------------------------------------------------
# Stop, and activation again.

id=$(user_nsbox run --detach -- /bin/sleep infinity) || fail "$user's detached sandbox failed"
# A stop that is no restart: systemd empties the fd store, the keeper kills what it held, logs each kill and
# ends. journald takes a record's unit from its sender's /proc entry when it reads the record: as on a busy
# machine, journald is slower here than the keeper (stopped until the kill is done), and the keeper must still
# be there when it reads, or `journalctl -u` does not find the record.
journald=$(in_ct systemctl show -P MainPID systemd-journald.service)
in_ct kill -STOP "$journald" && frozen_journald=$journald
in_ct systemctl stop nsboxd.service 2>/dev/null
expect_state nsboxd.service inactive
expect_state nsboxd.socket active
wait_for "the stopped service's sandboxes to be gone" sleepers_are 0
keepers_are 1 || fail "the keeper ended before journald read its record of the kill"
in_ct kill -CONT "$journald" && frozen_journald=""
expect_journal "the stop's kill of $user's sandbox" NSBOX_EVENT=kill NSBOX_SANDBOX_ID="$id" NSBOX_CALLER_UID="$uid" \
        MESSAGE="Killing sandbox $id: the daemon is stopping."
wait_for "the stopped service's keeper to be gone" keepers_are 0
ok "after systemctl stop, no sandbox and no keeper is left"
user_nsbox list >/dev/null || fail "nsbox list after a stop failed"
# The daemon said READY=1 before it served the call; systemd reads that message on its own time.
wait_for "nsboxd.service to be active once socket activation started it" unit_is nsboxd.service active
ok "after systemctl stop, the socket is still active and the next call starts the daemon again"

# ---------------------------------------------------------------------------
# A crash. The daemon handed nothing over, so its keeper kills what it left and ends before the supervisor
# exits: the service's cgroup is empty when systemd restarts the service. Sandboxes' cgroups left below it
# with a domain controller enabled would make every restart fail (systemd 252 places the next main process
# in the service's own cgroup, which the kernel then refuses: status 219/CGROUP). Where cgroup2 holds the
# memory controller the daemon has enabled it there; a container on a hybrid host has none to enable (the
# harness that boots a pure cgroup2 guest checks that case).
# One sandbox is held by the keeper of an earlier daemon (a restart handed it over), whose link closes with
# the crash.
svc_cg=/sys/fs/cgroup/system.slice/nsboxd.service
crashed=$(user_nsbox run --detach -- /bin/sleep infinity) || fail "$user's detached sandbox failed"
wait_for "the sandbox before the crash" sleepers_are 1
in_ct systemctl restart nsboxd.service || fail "systemctl restart before the crash failed"
state_is "$crashed" running || fail "the sandbox to be held by the earlier keeper is $(state_of "$crashed")"
# Again, by a daemon that started no sandbox of its own: what it hands over is an earlier keeper's children,
# and its own keeper must not take its exit for a crash (and end them).
in_ct systemctl restart nsboxd.service || fail "the second systemctl restart before the crash failed"
state_is "$crashed" running || fail "the sandbox handed over twice is $(state_of "$crashed")"
keepers_are 2 || fail "not two keepers before the crash: $(in_ct pgrep -ax nsboxd-keeper)"
crash_main=$(in_ct systemctl show -P MainPID nsboxd.service)
crash_keeper=$(in_ct pgrep -P "$crash_main" -x nsboxd-keeper) || fail "no keeper below the main process $crash_main"
crash_daemon=$(in_ct pgrep -P "$crash_keeper" -x nsboxd) || fail "no daemon below the keeper $crash_keeper"
# A sandbox in a pid namespace its user made: what it starts goes to that namespace's init when its parent
# dies, not to the keeper; only its cgroup holds it.
# Started detached (setsid -f) inside the container: nothing of it is a job of this script.
as_user setsid -f unshare -U -r -p -f /bin/sleep 100000 </dev/null >/dev/null 2>&1
wait_for "$user's own pid namespace" in_ct pgrep -u "$user" -fx '/bin/sleep 100000'
ns_init=$(in_ct pgrep -u "$user" -fx '/bin/sleep 100000')
as_user sh -c "exec 3</proc/$ns_init/ns/pid; exec $nsbox_bin run --detach --pidns 3 -- \
        /bin/sh -c '(/bin/sleep 7001 &); exec /bin/sleep 7002'" >/dev/null || fail "the sandbox in $user's pid namespace failed"
wait_for "the process the sandbox left to its pid namespace's init" in_ct pgrep -fx '/bin/sleep 7001'
domain=$(in_ct cat "$svc_cg/cgroup.subtree_control" | { grep -ow -e memory -e io || true; } | tr '\n' ' ')
restarts=$(in_ct systemctl show -P NRestarts nsboxd.service)
crash_cursor=$(in_ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
[ -n "$crash_cursor" ] || fail "no journal cursor before the crash"
since_crash() { in_ct journalctl -q -u nsboxd.service --after-cursor "$crash_cursor" -o cat; }
in_ct kill -SEGV "$crash_daemon"
new_main_is_up() {
        local m; m=$(in_ct systemctl show -P MainPID nsboxd.service)
        [ "$m" != 0 ] && [ "$m" != "$crash_main" ] && unit_is nsboxd.service active
}
wait_for "systemd to restart the crashed daemon" new_main_is_up
[ "$(in_ct systemctl show -P NRestarts nsboxd.service)" -gt "$restarts" ] || fail "the service came back, but not by Restart="
# Nothing was left in the service's cgroup when systemd restarted it: it says so of every process it finds.
next_daemon_serves() { since_crash | grep -q 'serving on the socket passed by the service manager\.$'; }
wait_for "the next daemon's record that it serves" next_daemon_serves
if since_crash | grep -E "remains running after unit stopped|left-over process"; then
        fail "processes were left in the service's cgroup after the crash"
fi
wait_for "the crashed daemon's sandbox to be gone" sleepers_are 0
left_to_ns_init_gone() { ! in_ct pgrep -fx '/bin/sleep 7001' && ! in_ct pgrep -fx '/bin/sleep 7002'; }
wait_for "what the sandbox left to its pid namespace's init to be gone" left_to_ns_init_gone
# SIGKILL: pid 1 of a pid namespace without a handler ignores a SIGTERM even from an ancestor namespace,
# and unshare(1) -f blocks it. Left, the holder would keep the container's shutdown waiting 90 s, and
# with it this script's cache lock, which its processes inherited.
in_ct kill -KILL "$ns_init"
ns_holder_gone() { ! in_ct pgrep -u "$user" -f 'sleep 100000' >/dev/null; }
wait_for "$user's pid namespace holder to be gone" ns_holder_gone
keepers_are 1 || fail "keepers after the crash and the restart: $(in_ct pgrep -ax nsboxd-keeper), expected the new one"
expect_journal "the keeper's kill after the crash" \
        MESSAGE="The daemon was killed by signal 11 (Segmentation fault) without handing its sandboxes over: killed the processes it left (1)."
user_nsbox list >/dev/null || fail "$user not served after the restart that followed the crash"
ok "after a crash with a sandbox in its user's pid namespace, one held by an earlier keeper and ${domain:-no }domain controller below the service: everything they started and the earlier keeper gone, the service restarted by systemd and serving"

log "$checks checks passed; $((SECONDS)) s in all."
exit 0
}
