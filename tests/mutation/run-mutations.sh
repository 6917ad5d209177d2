#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Planted faults: does the test suite notice when a security check is broken?
#
# Each line of the mutation list (tests/mutation/mutations.txt by default)
# names a file, an exact fragment of one of its lines and what to put in its
# place; optionally the tests that should notice. For each line this script
# copies nothing back into the source tree: it works on a scratch copy of the
# tree (tracked and untracked, not ignored, files), plants the one fault,
# rebuilds, runs the tests and restores the file. A mutant is "killed" when a
# test fails (or times out), "survived" when every test still passes. The
# score is killed / (killed + survived). A line whose fragment no longer
# occurs exactly once is "stale", one that does not compile "unbuildable";
# neither is scored, both are reported so the list can be kept current.
#
# Usage: tests/mutation/run-mutations.sh [--list FILE] [--workdir DIR] [--keep]
#                                        [--jobs N] [--min-score PCT] [--check] [LINE...]
#   LINE...      run only the mutations on these line numbers of the list
#   --check      only verify that every line applies exactly once; no build
#   --keep       keep the scratch copy (default: removed at the end)
#   --min-score  exit 1 when the score is below PCT percent
#   --timeout-multiplier N  passed to meson test (default 3: a loaded machine must not kill mutants)
# Runs as root, like the test suite. See docs/testing.md.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
list=$srcdir/tests/mutation/mutations.txt
workdir=
keep=false
check_only=false
jobs=2
min_score=
timeout_multiplier=3
only=()

while (($#)); do
        case $1 in
        --list) list=$(realpath "$2"); shift 2 ;;
        --workdir) workdir=$2; shift 2 ;;
        --keep) keep=true; shift ;;
        --jobs) jobs=$2; shift 2 ;;
        --min-score) min_score=$2; shift 2 ;;
        --check) check_only=true; shift ;;
        --timeout-multiplier) timeout_multiplier=$2; shift 2 ;;
        -h|--help) sed -n '3,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) only+=("$1"); shift ;;
        esac
done

[[ -r $list ]] || { echo "cannot read the mutation list $list" >&2; exit 2; }

if [[ -z $workdir ]]; then
        workdir=$(mktemp -d /tmp/nsbox-mutation-XXXXXX)
        $keep || trap 'rm -rf "$workdir"' EXIT
fi
mkdir -p "$workdir"
src=$workdir/src
build=$workdir/build
results=$workdir/results.tsv
# Read a copy: editing the list while a run goes on must not shift the lines under it.
cp "$list" "$workdir/mutations.txt"

# The scratch copy: what the contributor has now, not only what is committed.
rm -rf "$src"
mkdir -p "$src"
git -C "$srcdir" ls-files -z --cached --others --exclude-standard |
        (cd "$srcdir" && tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$src" -xf -

# apply FILE_GLOB ORIGINAL REPLACEMENT: plants the fault in $src, keeping the file as it was in
# $workdir/original; prints the file it changed. Exit status 3: the fragment occurs nowhere,
# 4: more than once, 5: the replacement equals the original.
apply() {
        python3 - "$src" "$workdir/original" "$@" <<'EOF'
import glob, os, shutil, sys
src, backup, pattern, orig, rep = sys.argv[1:6]
if orig == rep:
    sys.exit(5)
hits = []
for path in sorted(glob.glob(os.path.join(src, pattern))):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for line in text.split("\n"):
        hits += [path] * line.count(orig)
if len(hits) == 0:
    sys.exit(3)
if len(hits) > 1:
    sys.exit(4)
path = hits[0]
shutil.copyfile(path, backup)
with open(path, encoding="utf-8") as f:
    text = f.read()
with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace(orig, rep, 1))
print(path)
EOF
}

trim() {
        local s=$1
        s=${s#"${s%%[![:space:]]*}"}
        s=${s%"${s##*[![:space:]]}"}
        printf '%s' "$s"
}

# Parses line $2 (number $1) of the list into the globals m_file m_orig m_rep m_tests; false for comments.
parse() {
        local line=$2 rest
        [[ $line =~ ^[[:space:]]*(#|$) ]] && return 1
        if [[ $line != *" @@ "*" @@ "* ]]; then
                echo "$list:$1: expected FILE @@ ORIGINAL @@ REPLACEMENT [@@ TESTS]" >&2
                exit 2
        fi
        m_file=$(trim "${line%% @@ *}")
        rest=${line#* @@ }
        m_orig=$(trim "${rest%% @@ *}")
        rest=${rest#* @@ }
        m_rep=$(trim "${rest%% @@ *}")
        m_tests=
        [[ $rest == *" @@ "* ]] && m_tests=$(trim "${rest#* @@ }")
        return 0
}

selected() {
        ((${#only[@]} == 0)) && return 0
        local n
        for n in "${only[@]}"; do [[ $n == "$1" ]] && return 0; done
        return 1
}

if ! $check_only; then
        echo "Building the unchanged tree in $build ..."
        meson setup "$build" "$src" >/dev/null
        ninja -C "$build" >/dev/null
        # The tests the selected lines name (all of them if a line names none): each must pass unchanged.
        baseline_tests=()
        n=0
        while IFS= read -r line || [[ -n $line ]]; do
                n=$((n + 1))
                parse "$n" "$line" || continue
                selected "$n" || continue
                if [[ -z $m_tests ]]; then
                        baseline_tests=()
                        break
                fi
                # shellcheck disable=SC2206 # a list of test names
                baseline_tests+=($m_tests)
        done <"$workdir/mutations.txt"
        mapfile -t baseline_tests < <(printf '%s\n' "${baseline_tests[@]}" | sort -u | grep .)
        echo "Running the unchanged tests (every mutant is judged against them) ..."
        if ! meson test -C "$build" --no-rebuild --num-processes "$jobs" --timeout-multiplier "$timeout_multiplier" \
                "${baseline_tests[@]}" >"$workdir/baseline.log" 2>&1; then
                echo "The unchanged suite fails; see $workdir/baseline.log and $build/meson-logs/testlog.txt" >&2
                keep=true
                trap - EXIT
                exit 1
        fi
fi

killed=0 survived=0 stale=0 unbuildable=0
survivors=()
problems=()
: >"$results"
n=0
while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        parse "$n" "$line" || continue
        selected "$n" || continue

        set +e
        changed=$(apply "$m_file" "$m_orig" "$m_rep")
        status=$?
        set -e
        case $status in
        0) ;;
        3) problems+=("$n: stale: '$m_orig' is not in $m_file"); stale=$((stale + 1)); continue ;;
        4) problems+=("$n: ambiguous: '$m_orig' occurs more than once in $m_file"); stale=$((stale + 1)); continue ;;
        5) problems+=("$n: the replacement equals the original"); stale=$((stale + 1)); continue ;;
        *) echo "applying line $n failed" >&2; exit 2 ;;
        esac
        rel=${changed#"$src"/}

        if $check_only; then
                verdict=applies
        elif ! ninja -C "$build" >"$workdir/build-$n.log" 2>&1; then
                verdict=unbuildable
                unbuildable=$((unbuildable + 1))
                problems+=("$n: unbuildable: see $workdir/build-$n.log")
        else
                rm -f "$workdir/build-$n.log"
                # shellcheck disable=SC2086 # m_tests is a list of test names
                if meson test -C "$build" --no-rebuild --num-processes "$jobs" --timeout-multiplier "$timeout_multiplier" \
                        $m_tests >"$workdir/test-$n.log" 2>&1; then
                        verdict=SURVIVED
                        survived=$((survived + 1))
                        survivors+=("$n: $rel: '$m_orig' -> '$m_rep'")
                else
                        verdict=killed
                        killed=$((killed + 1))
                        rm -f "$workdir/test-$n.log"
                fi
        fi
        # A new mtime, so the next build compiles the restored file again.
        cp "$workdir/original" "$changed"
        printf '%-11s %3d  %s: %s\n' "$verdict" "$n" "$rel" "$m_orig"
        printf '%s\t%d\t%s\t%s\t%s\n' "$verdict" "$n" "$rel" "$m_orig" "$m_rep" >>"$results"
done <"$workdir/mutations.txt"

echo
for p in "${problems[@]}"; do echo "list: $p"; done
if $check_only; then
        ((stale == 0)) && echo "Every line of $list applies exactly once."
        ((stale == 0))
        exit
fi
for s in "${survivors[@]}"; do echo "survived: $s"; done
total=$((killed + survived))
if ((total > 0)); then
        score=$((100 * killed / total))
        echo "Mutation score: $killed/$total killed ($score%); $stale stale, $unbuildable unbuildable."
else
        score=0
        echo "No mutant ran; $stale stale, $unbuildable unbuildable."
fi
$keep && echo "Scratch copy, logs of the survivors and results.tsv: $workdir"
if [[ -n $min_score ]] && ((score < min_score)); then
        exit 1
fi
exit 0
