#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# nsbox-bwrap ($NSBOX_BWRAP) against a real nsboxd: bubblewrap command lines as
# Flatpak and build tools write them, as root and as a user of its own, and the
# reason it exists: a user whose processes may not create user namespaces
# (here a seccomp filter refuses them) cannot run bubblewrap, but can run the
# same command line through nsbox-bwrap.
# Environment (set by meson): NSBOXD, NSBOX_BWRAP. Needs root (to start nsboxd
# and to add the test user).
set -euo pipefail

bwrap_nsbox=${NSBOX_BWRAP:?}
user=nsbt-bwrap

if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP needs root"
        exit 0
fi

tmp=$(mktemp -d /tmp/nsbox-bwrap-test.XXXXXX)
chmod 1777 "$tmp"
daemon=
root_userns=
cleanup() {
        [ -z "$root_userns" ] || kill "$root_userns" 2>/dev/null || true
        if [ -n "$daemon" ]; then
                kill "$daemon" 2>/dev/null || true
                wait "$daemon" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

# --no-cgroups: it runs in the test's cgroup, which is not its own to take over.
"${NSBOXD:?}" --socket "$tmp/nsbox.sock" --policy "$tmp/no-policy.conf" --no-cgroups 2>"$tmp/nsboxd.log" &
daemon=$!
for _ in $(seq 100); do
        [ -S "$tmp/nsbox.sock" ] && break
        kill -0 "$daemon" 2>/dev/null || { cat "$tmp/nsboxd.log"; exit 1; }
        sleep 0.1
done
export NSBOX_SOCKET=$tmp/nsbox.sock

id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
uid=$(id -u "$user")
gid=$(id -g "$user")

n=0
failed=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}
not_ok() {
        n=$((n + 1))
        failed=1
        echo "not ok $n - $*"
}

# as WHO CMD...: runs CMD as root or as the test user, in the scratch directory.
as() {
        local who=$1
        shift
        if [ "$who" = root ]; then
                (cd "$tmp" && "$@")
        else
                (cd "$tmp" && setpriv --reuid="$uid" --regid="$gid" --clear-groups --reset-env \
                        env NSBOX_SOCKET="$NSBOX_SOCKET" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ "$@")
        fi
}

# check NAME EXPECTED-STATUS EXPECTED-OUTPUT-REGEX CMD...: output is stdout and stderr together.
check() {
        local name=$1 want_status=$2 want=$3 status=0 out
        shift 3
        out=$("$@" 2>&1) || status=$?
        if [ "$status" = "$want_status" ] && grep -Eq -- "$want" <<<"$out"; then
                ok "$name"
        else
                not_ok "$name"
                echo "# expected status $want_status and /$want/, got status $status:"
                sed 's/^/# /' <<<"$out"
        fi
}

host="--ro-bind / / --proc /proc --dev /dev"

# trylock.py PATH [wait]: "held" if another process holds a lock that keeps a write lock out, else "free";
# with wait, waits for the write lock. fcntl locks, as bubblewrap's --lock-file and its own test take them.
cat >"$tmp/trylock.py" <<'EOF'
import fcntl, struct, sys
lock = struct.pack("hhqqhh", fcntl.F_WRLCK, 0, 0, 0, 0, 0)
with open(sys.argv[1], "a") as f:
    try:
        fcntl.fcntl(f.fileno(), fcntl.F_SETLKW if sys.argv[2:] == ["wait"] else fcntl.F_SETLK, lock)
        print("free")
    except OSError:
        print("held")
EOF

# userns2.sh NSBOX-BWRAP A|B ARGS...: a user namespace A with the caller's ids as root, B below it with uid and
# gid 1000 as A's root, then NSBOX-BWRAP --userns 5 (A) --userns2 6 (B, or A again) ARGS... sh -c ...; prints
# "in-B UID GID" where the command ran in B, "in-OTHER ..." elsewhere.
cat >"$tmp/userns2.sh" <<'EOF'
bwrap=$1
second=$2
shift 2
dir=$(mktemp -d)
unshare -Ur sh -c 'unshare -U --map-user=1000 --map-group=1000 sleep 1000 & echo $! >"$0/b.tmp"; mv "$0/b.tmp" "$0/b"; exec sleep 1000' "$dir" &
a=$!
while ! [ -s "$dir/b" ]; do sleep 0.05; done
b=$(cat "$dir/b")
self=$(readlink /proc/self/ns/user)
while [ "$(readlink /proc/$a/ns/user)" = "$self" ] || [ "$(readlink /proc/$b/ns/user)" = "$(readlink /proc/$a/ns/user)" ]; do
        sleep 0.05
done
want=$(readlink /proc/$b/ns/user)
status=0
if [ "$second" = B ]; then second=$b; else second=$a; fi
out=$("$bwrap" --userns 5 --userns2 6 "$@" sh -c 'echo $(readlink /proc/self/ns/user) $(id -u) $(id -g)' \
        5</proc/$a/ns/user 6</proc/$second/ns/user) || status=$?
kill $a $b
rm -rf "$dir"
set -- $out
if [ "${1:-}" = "$want" ]; then where=in-B; else where=in-OTHER; fi
[ -z "$out" ] || echo "$where ${2:-} ${3:-}"
exit $status
EOF

# joined.sh NSBOX-BWRAP UNSHARE-ARGS...: a user namespace made by unshare -U UNSHARE-ARGS, then NSBOX-BWRAP --userns 5
# (it) without --uid and --gid; prints the command's "UID GID" there.
cat >"$tmp/joined.sh" <<'EOF'
bwrap=$1
shift
unshare -U "$@" sleep 1000 &
a=$!
while [ "$(readlink /proc/$a/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do sleep 0.05; done
status=0
"$bwrap" --userns 5 --ro-bind / / sh -c 'echo $(id -u) $(id -g)' 5</proc/$a/ns/user || status=$?
kill $a
exit $status
EOF

# A user namespace of root's, below the daemon's.
unshare -U sleep 1000 &
root_userns=$!
while [ "$(readlink /proc/$root_userns/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do sleep 0.05; done

for who in root "$user"; do
        if [ "$who" = root ]; then me="0 0"; else me="$uid $gid"; fi
        check "$who: --userns2: the command runs in that user namespace, below --userns's, as --uid and --gid there" \
                0 "^in-B 1000 1000$" as "$who" sh "$tmp/userns2.sh" "$bwrap_nsbox" B --uid 1000 --gid 1000 $host
        check "$who: --userns2 must be below the sandbox's user namespace" 1 \
                "^bwrap: Setting userns2 failed: refused by nsboxd \(not a user namespace below the sandbox's\)$" \
                as "$who" sh "$tmp/userns2.sh" "$bwrap_nsbox" A $host
        check "$who: --userns2 must be a user namespace" 1 "^bwrap: Setting userns2 failed: refused by nsboxd" \
                as "$who" sh -c "$bwrap_nsbox --userns2 5 $host true 5</proc/self/ns/net"
        check "$who: --userns2 is not below a user namespace the sandbox makes" 1 \
                "^bwrap: Setting userns2 failed: refused by nsboxd" \
                as "$who" "$bwrap_nsbox" --unshare-user --userns2 5 $host true 5</proc/$root_userns/ns/user
        check "$who: a second --userns2 warns" 1 "^bwrap: Only the last --userns2 option will take effect$" \
                as "$who" sh -c "$bwrap_nsbox --userns2 5 --userns2 5 $host true 5</proc/self/ns/user"
        [ "$who" = root ] ||
                check "$who: --userns2 of a user namespace the caller could not enter itself" 1 \
                        "^bwrap: nsboxd's policy does not allow this sandbox for this user$" \
                        as "$who" "$bwrap_nsbox" --userns2 5 $host true 5</proc/$root_userns/ns/user
        check "$who: the command runs and its exit status passes through" 42 "^hello$" \
                as "$who" "$bwrap_nsbox" $host sh -c 'echo hello; exit 42'
        check "$who: killed by a signal is 128+N" 143 "" \
                as "$who" "$bwrap_nsbox" $host sh -c 'kill -TERM $$'
        check "$who: --help" 0 "^usage: $bwrap_nsbox " as "$who" "$bwrap_nsbox" --help
        check "$who: an unknown option is bubblewrap's usage error" 1 "^bwrap: Unknown option --frobnicate$" \
                as "$who" "$bwrap_nsbox" --frobnicate true
        check "$who: a missing command is a usage error" 1 "^usage: " as "$who" "$bwrap_nsbox" $host
        check "$who: runs with the caller's uid and gid" 0 "^$me$" \
                as "$who" "$bwrap_nsbox" $host sh -c 'echo $(id -u) $(id -g)'
        # bubblewrap's --userns without --uid and --gid runs as the caller, as the joined namespace sees it.
        check "$who: --userns: the command runs as the caller's ids as they map there" 0 "^5 6$" \
                as "$who" sh "$tmp/joined.sh" "$bwrap_nsbox" --map-user=5 --map-group=6
        check "$who: --userns into a namespace that maps the caller to root" 0 "^0 0$" \
                as "$who" sh "$tmp/joined.sh" "$bwrap_nsbox" --map-root-user
        check "$who: --unshare-user --uid 0 --gid 0" 0 "^0 0 +0 +${me% *} +1$" \
                as "$who" "$bwrap_nsbox" --unshare-user --uid 0 --gid 0 $host \
                sh -c 'echo $(id -u) $(id -g) $(cat /proc/self/uid_map)'
        check "$who: --unshare-all --share-net keeps the network" 0 "^lo ok$" \
                as "$who" "$bwrap_nsbox" --unshare-all --share-net $host \
                sh -c 'test "$(readlink /proc/self/ns/net)" = "$0" && echo lo ok' "$(readlink /proc/self/ns/net)"
        check "$who: --unshare-net leaves only loopback" 0 "^1$" \
                as "$who" "$bwrap_nsbox" --unshare-net $host grep -c : /proc/net/dev
        check "$who: --hostname needs --unshare-uts" 1 "^bwrap: Specifying --hostname requires --unshare-uts$" \
                as "$who" "$bwrap_nsbox" --hostname box $host true
        check "$who: --unshare-uts --hostname" 0 "^box$" \
                as "$who" "$bwrap_nsbox" --unshare-uts --hostname box $host cat /proc/sys/kernel/hostname
        check "$who: --unshare-pid: the command is pid 2 under an init; --as-pid-1 makes it 1" 0 "^2 1$" \
                as "$who" sh -c "echo \$($bwrap_nsbox --unshare-pid $host sh -c 'echo \$\$') \
                        \$($bwrap_nsbox --unshare-pid --as-pid-1 $host sh -c 'echo \$\$')"
        check "$who: a tree built in order: tmpfs, dir with --perms, symlink, file from an fd" 0 \
                "^1750 /tmp/d hello$" \
                as "$who" sh -c "echo hello | $bwrap_nsbox $host --tmpfs /tmp --perms 1750 --dir /tmp/d \
                        --symlink /tmp/d /tmp/l --file 0 /tmp/d/f \
                        sh -c 'echo \$(stat -c %a /tmp/d) \$(readlink /tmp/l) \$(cat /tmp/l/f)'"
        check "$who: a later root covers what was built before it" 0 "^covered$" \
                as "$who" "$bwrap_nsbox" --bind / / --tmpfs /tmp --dir "$tmp/covered" --ro-bind / / --proc /proc \
                sh -c 'test ! -e "$0" && echo covered' "$tmp/covered"
        # Mount points made on a host tree stay there: a directory 0755, a file 0444, as bubblewrap makes them.
        mkdir -p "$tmp/mp-source-dir"
        touch "$tmp/mp-source-file"
        check "$who: mount points made on the host are 0755 and 0444" 0 "^755 444$" \
                as "$who" sh -c "$bwrap_nsbox --bind / / --bind $tmp/mp-source-dir $tmp/mp-dir-$who \
                        --bind $tmp/mp-source-file $tmp/mp-file-$who true && \
                        stat -c %a $tmp/mp-dir-$who $tmp/mp-file-$who | paste -sd ' '"
        # Directories made on the way get 0755, narrowed as --perms narrows the group's and others' access.
        check "$who: directories made as parents follow --perms, bubblewrap's way" 0 "^755 750 700 705 755 755 700 0$" \
                as "$who" sh -c "$bwrap_nsbox --bind / / --dir $tmp/pp-$who/a/d --perms 0640 --dir $tmp/pp-$who/b/d \
                        --perms 0600 --dir $tmp/pp-$who/c/d --perms 0604 --tmpfs $tmp/pp-$who/e/d \
                        --perms 1777 --dir $tmp/pp-$who/f/d --bind-data 5 $tmp/pp-$who/g/d \
                        --perms 0000 --dir $tmp/pp-$who/h/d true 5</dev/null && \
                        cd $tmp/pp-$who && stat -c %a a b c e f g h h/d | paste -sd ' '"
        # --lock-file: the sandbox's init holds a read lock while it lives, with a pid namespace or without.
        touch "$tmp/lock.$who"
        chmod 0666 "$tmp/lock.$who"
        check "$who: --lock-file is held while the sandbox runs and released when it ends" 0 "^held held free$" \
                as "$who" sh -c "echo \$($bwrap_nsbox $host --bind $tmp $tmp --lock-file $tmp/lock.$who \
                                python3 $tmp/trylock.py $tmp/lock.$who) \
                        \$($bwrap_nsbox $host --bind $tmp $tmp --unshare-pid --lock-file $tmp/lock.$who \
                                python3 $tmp/trylock.py $tmp/lock.$who) \
                        \$(python3 $tmp/trylock.py $tmp/lock.$who)"
        check "$who: --lock-file that is not there" 1 "^bwrap: Unable to lock file /nonexistent: No such file or directory$" \
                as "$who" "$bwrap_nsbox" $host --lock-file /nonexistent true
        [ "$who" = root ] ||
                check "$who: --lock-file the sandbox's user cannot open" 1 \
                        "^bwrap: Unable to lock file /etc/shadow: Permission denied$" \
                        as "$who" "$bwrap_nsbox" $host --unshare-user --uid 0 --lock-file /etc/shadow true
        check "$who: --lock-file and --as-pid-1" 1 "^bwrap: Specifying --as-pid-1 and --lock-file is not permitted$" \
                as "$who" "$bwrap_nsbox" $host --unshare-pid --as-pid-1 --lock-file "$tmp/lock.$who" true
        check "$who: --lock-file needs an absolute path" 1 "^bwrap: --lock-file lock: nsboxd needs an absolute path$" \
                as "$who" "$bwrap_nsbox" $host --lock-file lock true
        # --die-with-parent: the parent killed, the sandbox ends and its lock goes (bubblewrap's own test's way).
        ( as "$who" sh -c "exec $bwrap_nsbox --die-with-parent $host --lock-file $tmp/lock.$who sleep 1000" ) &
        parent=$!
        held=no
        for _ in $(seq 300); do
                if [ "$(python3 "$tmp/trylock.py" "$tmp/lock.$who")" = held ]; then held=yes; break; fi
                sleep 0.1
        done
        kill -9 "$parent"
        wait "$parent" 2>/dev/null || true
        check "$who: --die-with-parent: the lock is held while the parent lives" 0 "^yes$" echo "$held"
        check "$who: --die-with-parent: the lock goes when the parent is killed" 0 "^free$" \
                timeout 60 python3 "$tmp/trylock.py" "$tmp/lock.$who" wait
        check "$who: --ro-bind is read-only" 1 "Read-only file system" \
                as "$who" "$bwrap_nsbox" --ro-bind / / --bind "$tmp" /mnt --ro-bind "$tmp" /mnt touch /mnt/x
        check "$who: overlays: --overlay-src layers stack in order, --tmp-overlay writes to a tmpfs" 0 "^43 9 2$" \
                as "$who" sh -c "mkdir -p ov.$who/l1 ov.$who/l2 ov.$who/u ov.$who/w && printf 1 >ov.$who/l1/a && \
                        printf 2 >ov.$who/l1/b && printf 3 >ov.$who/l2/b && printf 4 >ov.$who/u/a && \
                        echo \$($bwrap_nsbox $host --tmpfs /tmp --overlay-src ov.$who/l1 --overlay-src ov.$who/l2 \
                                --overlay ov.$who/u ov.$who/w /tmp/o cat /tmp/o/a /tmp/o/b) \
                             \$($bwrap_nsbox $host --tmpfs /tmp --overlay-src ov.$who/l1 --tmp-overlay /tmp/o \
                                sh -c 'printf 9 >/tmp/o/b; cat /tmp/o/b') \$(cat ov.$who/l1/b)"
        check "$who: --overlay-src must be followed by an overlay" 1 \
                "^bwrap: --overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay$" \
                as "$who" "$bwrap_nsbox" $host --overlay-src /usr --chdir / true
        check "$who: a missing source says so, bubblewrap's way" 1 "^bwrap: Can't find source path /nonexistent: " \
                as "$who" "$bwrap_nsbox" $host --bind /nonexistent /x true
        check "$who: --symlink is idempotent, and says where another link points" 1 \
                "^bwrap: Can't make symlink at $tmp/link.$who: existing destination is /dev/null$" \
                as "$who" sh -c "$bwrap_nsbox --ro-bind / / --bind $tmp $tmp --symlink /dev/null $tmp/link.$who true && \
                        $bwrap_nsbox --ro-bind / / --bind $tmp $tmp --symlink /dev/null $tmp/link.$who true && \
                        $bwrap_nsbox --ro-bind / / --bind $tmp $tmp --symlink /dev/full $tmp/link.$who true"
        check "$who: --ro-bind-try skips a missing source" 0 "^fine$" \
                as "$who" "$bwrap_nsbox" $host --ro-bind-try /nonexistent /x sh -c 'test ! -e /x && echo fine'
        check "$who: environment options apply in order, PWD is the directory" 0 "^A=2 PWD=/tmp$" \
                as "$who" sh -c "$bwrap_nsbox $host --setenv A 1 --setenv B 1 --clearenv --setenv A 2 --chdir /tmp \
                        /usr/bin/env | sort | paste -sd ' '"
        check "$who: a second --chdir warns, --level-prefix prefixes" 0 "^<4>bwrap: Only the last --chdir option will take effect$" \
                as "$who" "$bwrap_nsbox" --level-prefix $host --chdir / --chdir / true
        check "$who: --args FD reads options NUL-separated, where it stands" 0 "^made$" \
                as "$who" sh -c "printf -- '--dir\\0/tmp/a/b\\0' >args.$who && \
                        $bwrap_nsbox $host --tmpfs /tmp --args 5 sh -c 'test -d /tmp/a/b && echo made' 5<args.$who"
        check "$who: --argv0 is the command's argv[0], the program still found in PATH" 0 "^right$" \
                as "$who" "$bwrap_nsbox" $host --argv0 right sh -c 'echo $0'
        check "$who: --argv0 only once" 1 "^bwrap: --argv0 used multiple times$" \
                as "$who" "$bwrap_nsbox" $host --argv0 a --argv0 b true
        check "$who: -- ends the options" 1 "^bwrap: execvp --dev-bind: " \
                as "$who" "$bwrap_nsbox" $host -- --dev-bind / / true
        check "$who: a command that does not exist" 1 "^bwrap: execvp /nonexistent: No such file or directory$" \
                as "$who" "$bwrap_nsbox" $host /nonexistent
        check "$who: --info-fd and --json-status-fd" 0 \
                '^\{ "child-pid": [0-9]+, "cgroup-namespace": [0-9]+, "ipc-namespace": [0-9]+, "mnt-namespace": [0-9]+, "net-namespace": [0-9]+, "pid-namespace": [0-9]+, "uts-namespace": [0-9]+ \}$' \
                as "$who" sh -c "$bwrap_nsbox --unshare-all $host --info-fd 6 --json-status-fd 7 \
                        sh -c 'exit 3' \
                        6>info.$who 7>status.$who; test \$? = 3 && grep -q '\"child-pid\": [0-9]' info.$who && \
                        grep -q '^{ \"exit-code\": 3 }\$' status.$who && head -n1 status.$who"
        check "$who: seccomp data must be whole BPF instructions" 1 "^bwrap: Invalid seccomp data, must be multiple of 8$" \
                as "$who" sh -c "printf 123 >bpf.$who && $bwrap_nsbox $host --add-seccomp-fd 5 true 5<bpf.$who"
        if [ -e /sys/fs/selinux/enforce ]; then why="nsboxd does not set SELinux labels"
        else why="SELinux is not enabled on this system"; fi
        check "$who: SELinux labels are refused, saying why" 1 "^bwrap: --exec-label system_u:system_r:container_t:s0: $why$" \
                as "$who" "$bwrap_nsbox" $host --exec-label system_u:system_r:container_t:s0 true
        check "$who: --userns-block-fd is refused, saying why" 1 "^bwrap: --userns-block-fd: nsboxd writes" \
                as "$who" "$bwrap_nsbox" $host --unshare-user --info-fd 1 --userns-block-fd 0 true
        check "$who: --block-fd: the sandbox takes one byte before the command runs" 0 "^second$" \
                as "$who" sh -c "printf 'Xsecond\n' | $bwrap_nsbox $host --block-fd 0 cat"
        check "$who: --sync-fd closes when the sandbox ends" 0 "^closed$" \
                as "$who" sh -c "exec 8>&1; ( $bwrap_nsbox $host --sync-fd 9 true 9>&1 ) | cat >/dev/null && echo closed"
done

# The proof: a user who may not create user namespaces. The filter refuses unshare() and clone() with
# CLONE_NEWUSER and clone3() altogether (its flags are behind a pointer), as container hosts do.
cat >"$tmp/no-userns.py" <<'EOF'
import errno, os, sys
import seccomp
CLONE_NEWUSER = 0x10000000
f = seccomp.SyscallFilter(seccomp.ALLOW)
for call in ("unshare", "clone"):
    f.add_rule(seccomp.ERRNO(errno.EPERM), call,
               seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
f.load()
os.execvp(sys.argv[1], sys.argv[1:])
EOF
python=
for p in python3 /usr/bin/python3; do
        if "$p" -c 'import seccomp' 2>/dev/null; then python=$(command -v "$p"); break; fi
done
if [ -z "$python" ]; then
        ok "# SKIP python3-seccomp is not installed"
elif ! command -v bwrap >/dev/null; then
        ok "# SKIP bubblewrap is not installed"
else
        check "without user namespaces, bubblewrap cannot run" 1 "" \
                as "$user" "$python" "$tmp/no-userns.py" bwrap --unshare-user $host --unshare-pid --unshare-net true
        check "without user namespaces, unshare(1) cannot either" 1 "" \
                as "$user" "$python" "$tmp/no-userns.py" unshare --user true
        check "without user namespaces, the same command line runs through nsbox-bwrap" 0 "^sandboxed 1$" \
                as "$user" "$python" "$tmp/no-userns.py" "$bwrap_nsbox" --unshare-user $host --unshare-pid \
                --unshare-net sh -c 'test "$(readlink /proc/self/ns/user)" != "$0" && echo sandboxed $(grep -c : /proc/net/dev)' \
                "$(readlink /proc/self/ns/user)"
fi

echo "1..$n"
exit $failed
