#!/bin/sh
# lab_check.sh [BUILD_DIR] - runs `make demo` (the lab, tools/gor-demo)
# and checks what it printed, then checks gor-lab sweep and the samples'
# command lines. .ci/run runs it as its demo step.
#
# The demo: it exits 0; the decision matrix has its four rows (I/O-bound,
# CPU-bound, mixed, coordination-heavy), each with two filled cells, a
# speedup and a verdict word ("1.93x faster"); both timelines are there,
# with one P lane at MAXPROCS=1 and two at MAXPROCS=2, and their
# parallelism never exceeds MAXPROCS. The time it took is printed (the
# task: under a minute on 2 cores); past 180 s it fails as a hang.
# The numbers themselves are not checked: the machine is shared.
#
# gor-lab sweep: a table with one row per MAXPROCS value and every column
# filled, parallelism at most P; --no-trace rows; exit 2 for bad usage,
# 1 for a program that fails or cannot run.
# Ends with "lab: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAILED: $*"; fail=$((fail + 1)); }

# ---- make demo ------------------------------------------------------------
t0=$(date +%s)
timeout 180 make --no-print-directory demo B="$B" >"$tmp/demo.txt" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
cat "$tmp/demo.txt"
echo "(make demo took $secs s)"
[ "$rc" -eq 0 ] && ok "make demo exited 0 in $secs s" || bad "make demo exited $rc after $secs s"

for kind in I/O-bound CPU-bound mixed coordination-heavy; do
	line=$(grep "^  $kind " "$tmp/demo.txt" | head -1)
	cells=$(echo "$line" | grep -Eo '[0-9]+\.[0-9]+x (faster|same|slower)' | wc -l)
	if [ "$cells" -eq 2 ]; then
		ok "matrix row $kind: $(echo "$line" | sed 's/  */ /g')"
	else
		bad "matrix row $kind has $cells of 2 cells filled: '$line'"
	fi
done

# The timelines: between "MAXPROCS=p:" and the "parallelism:" line.
for p in 1 2; do
	lanes=$(sed -n "/^MAXPROCS=$p: /,/parallelism:/p" "$tmp/demo.txt" | grep -c '^P[0-9]*: ')
	avg=$(sed -n "/^MAXPROCS=$p: /,/parallelism:/s/.*average \([0-9.]*\) running.*/\1/p" "$tmp/demo.txt")
	if [ "$lanes" -ne "$p" ]; then
		bad "timeline at MAXPROCS=$p has $lanes P lanes"
	elif [ -z "$avg" ] || ! awk -v a="$avg" -v p="$p" 'BEGIN { exit !(a > 0 && a <= p) }'; then
		bad "timeline at MAXPROCS=$p: average parallelism '$avg' not in (0, $p]"
	else
		ok "timeline at MAXPROCS=$p: $lanes P lane(s), average parallelism $avg"
	fi
done

# ---- gor-lab sweep ----------------------------------------------------------
LAB=$B/tools/gor-lab
if timeout 120 "$LAB" sweep -p 1,2 -r 2 -- "$B/samples/calc_all" conc >"$tmp/sweep.txt" 2>&1; then
	cat "$tmp/sweep.txt"
	# P wall ms CPU ms speedup parallelism ctx steals hand-offs
	rows=$(awk '$1 ~ /^[0-9]+$/ && $3 == "ms" && $5 == "ms" && $6 ~ /x$/ && $7 ~ /^[0-9.]+$/ &&
		    $7 > 0 && $7 <= $1 && $8 ~ /^[0-9]+$/ && $9 ~ /^[0-9]+$/ && $10 ~ /^[0-9]+$/' "$tmp/sweep.txt" | wc -l)
	[ "$rows" -eq 2 ] && ok "gor-lab sweep: 2 full rows, parallelism <= P" ||
		bad "gor-lab sweep: $rows of 2 rows complete"
else
	cat "$tmp/sweep.txt"
	bad "gor-lab sweep failed"
fi

if timeout 120 "$LAB" sweep -p 2 --no-trace -- "$B/samples/sum" conc >"$tmp/notrace.txt" 2>&1 &&
	grep -Eq '^ +2 .* 1\.00x +- +- +- +-$' "$tmp/notrace.txt"; then
	ok "gor-lab sweep --no-trace: one row, untraced columns '-'"
else
	cat "$tmp/notrace.txt"
	bad "gor-lab sweep --no-trace"
fi

# expect STATUS TEXT ARGS...: gor-lab exits STATUS and says TEXT on stderr
expect() {
	want=$1 text=$2
	shift 2
	timeout 60 "$LAB" "$@" >/dev/null 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$text" "$tmp/err"; then
		ok "gor-lab $*: exit $got, '$text'"
	else
		bad "gor-lab $*: exit $got (want $want), stderr: $(cat "$tmp/err")"
	fi
}
expect 2 "-p wants" sweep -p 0 -- true
expect 2 "-p wants" sweep -p 1,x -- true
expect 2 "-p wants" sweep -p 1, -- true
expect 2 "-r wants" sweep -r 0 -- true
expect 2 "after --" sweep true
expect 2 "usage" swoop -- true
expect 1 "cannot run" sweep -p 1 -- "$tmp/no-such-program"
expect 1 "exited with status 1" sweep -p 1 --no-trace -- false
expect 1 "killed by signal" sweep -p 1 --no-trace -- sh -c 'kill -TERM $$'

# ---- the samples' command line ------------------------------------------------
for s in calc_all chef coffee_shop fetch_all signing sum token_ring; do
	if ! GOR_MAXPROCS=2 timeout 60 "$B/samples/$s" conc >"$tmp/$s.out" 2>&1; then
		bad "$s conc: $(cat "$tmp/$s.out")"
	elif timeout 10 "$B/samples/$s" bogus >/dev/null 2>&1; then
		bad "$s bogus: accepted a bad argument"
	else
		ok "$s conc runs, a bad argument is refused"
	fi
done

echo "lab: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
