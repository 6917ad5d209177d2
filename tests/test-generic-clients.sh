#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Clients nobody here wrote, against a real nsboxd:
#   idl      the interface description through an independent parser (Go's varlink/idl);
#   go       the README's Go example, built with Debian's golang-github-varlink-go-dev and run;
#   socat    the README's socat one-liner.
# Exits 77 (skipped, as meson counts it) when the tool a part needs is not installed.
# Environment (set by meson): NSBOXD, NSBOX_TEST_SRCDIR.
set -euo pipefail

part=${1:?usage: test-generic-clients.sh idl|go|socat}
srcdir=$(cd "${NSBOX_TEST_SRCDIR:?}/.." && pwd)
gocode=/usr/share/gocode

skip() {
        echo "SKIP: $*"
        exit 77
}

need_go() {
        command -v go >/dev/null || skip "Go is not installed (apt-get install golang-go golang-github-varlink-go-dev)"
        [ -d "$gocode/src/github.com/varlink/go/varlink" ] ||
                skip "Go's varlink library is not installed (apt-get install golang-github-varlink-go-dev)"
}

tmp=$(mktemp -d /tmp/nsbox-generic-clients.XXXXXX)
daemon=
cleanup() {
        if [ -n "$daemon" ]; then
                kill "$daemon" 2>/dev/null || true
                wait "$daemon" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

# Debian's library is used as it is installed, in GOPATH mode, with nothing fetched.
go_build() {
        GOPATH=$gocode GO111MODULE=off GOFLAGS= GOCACHE=$tmp/go-cache go build -o "$1" "$2"
}

start_daemon() {
        # --no-cgroups: it runs in this script's cgroup, which is not its own to take over.
        "${NSBOXD:?}" --socket "$tmp/nsbox.sock" --no-cgroups 2>"$tmp/nsboxd.log" &
        daemon=$!
        # Ready once it answers; a daemon that died says why.
        for _ in $(seq 100); do
                [ -S "$tmp/nsbox.sock" ] && return 0
                kill -0 "$daemon" 2>/dev/null || { cat "$tmp/nsboxd.log"; exit 1; }
                sleep 0.1
        done
        echo "nsboxd did not create its socket"; cat "$tmp/nsboxd.log"; exit 1
}

case $part in
idl)
        need_go
        mkdir "$tmp/idlcheck"
        cat >"$tmp/idlcheck/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"

	"github.com/varlink/go/varlink/idl"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	i, err := idl.New(string(b))
	if err != nil {
		fmt.Println("parse error:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d methods, %d errors\n", i.Name, len(i.Methods), len(i.Errors))
}
EOF
        go_build "$tmp/idlcheck/idlcheck" "$tmp/idlcheck/main.go"
        # 0.4.0 refuses capital letters in interface names (the IDL says so): check the rest on a
        # copy whose interface line is lowercase.
        sed 's/^interface io\.nsbox\.Sandbox$/interface io.nsbox.sandbox/' "$srcdir/proto/io.nsbox.Sandbox.varlink" \
                >"$tmp/io.nsbox.sandbox.varlink"
        out=$("$tmp/idlcheck/idlcheck" "$tmp/io.nsbox.sandbox.varlink")
        echo "$out"
        # It must have seen every method and error the text declares.
        methods=$(grep -c '^method ' "$tmp/io.nsbox.sandbox.varlink")
        errors=$(grep -c '^error ' "$tmp/io.nsbox.sandbox.varlink")
        [ "$out" = "io.nsbox.sandbox: $methods methods, $errors errors" ]
        ;;
go)
        need_go
        # The README's example, exactly as written there.
        mkdir "$tmp/example"
        awk '/^<!-- go-example/ { armed = 1; next }
             armed && /^```go$/ { inside = 1; next }
             inside && /^```$/ { exit }
             inside { print }' "$srcdir/README.md" >"$tmp/example/main.go"
        [ -s "$tmp/example/main.go" ] || { echo "no Go example found in README.md"; exit 1; }
        go_build "$tmp/example/example" "$tmp/example/main.go"

        start_daemon
        status=0
        NSBOX_SOCKET=$tmp/nsbox.sock "$tmp/example/example" >"$tmp/out" 2>"$tmp/err" || status=$?
        echo "exit status $status"; echo "stdout:"; cat "$tmp/out"; echo "stderr:"; cat "$tmp/err"
        [ "$status" = 0 ]
        [ "$(cat "$tmp/out")" = "HELLO FROM GO" ]
        grep -q '^nsboxd .*, 0 sandboxes$' "$tmp/err"
        ;;
socat)
        command -v socat >/dev/null || skip "socat is not installed (apt-get install socat)"
        start_daemon
        # The README's one-liner, pointed at this daemon.
        line=$(awk '/^printf .%s\\0%s\\0. \\$/ { on = 1 } on { print } on && /socat/ { exit }' "$srcdir/README.md")
        [ -n "$line" ] || { echo "no socat example found in README.md"; exit 1; }
        line=${line//\/run\/nsbox\/io.nsbox.Sandbox/$tmp/nsbox.sock}
        out=$(bash -c "$line | tr '\\0' '\\n'")
        echo "$out"
        # A here-string, not a pipe: grep -q stops at its match, and a writer still writing would die
        # of SIGPIPE, which pipefail reports as a failure.
        grep -q '^{"parameters":{"id":"[0-9a-f]*","pid":[0-9]*,"pidFileDescriptor":0,"namespaceInodes":{[^}]*}}}$' <<<"$out"
        grep -q '^{"parameters":{"state":"exited","exitCode":0,\("usage":{[^}]*},\)\?"stdout":"Linux [^"]*\\nhi\\n"}}$' <<<"$out"
        ;;
*)
        echo "unknown part: $part"; exit 2
        ;;
esac
