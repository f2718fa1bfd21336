#!/usr/bin/env bash
# run.sh BUILD_DIR quick|full - gor beside Go on the anchor workloads.
#
# Builds bench/<name>.c against BUILD_DIR/libgor.a into BUILD_DIR/bench/, the
# Go twins (bench/go/<name>) into BUILD_DIR/bench/go/, the pthread baselines
# and bench/floor.c; then runs every selected workload in each configuration
# (P1, P2; primary first) as fresh processes, gor and Go alternately (the
# pthread baseline too where there is one): 5 rounds in full mode (cpupar
# 11), 1 in quick mode (smaller sizes where the defaults take long). It
# prints one table (median, Go/gor ratio, min..max spread), in full mode a
# second one judging issue 4's targets on those medians, and writes both
# to BUILD_DIR/bench.md and BUILD_DIR/bench.json; floor runs once.
#
# echo is a server: each run starts bench/echo (gor) or bench/go/echo
# -mode=server (Go) on a loopback port and measures it with the Go twin's
# client at -p 1, which prints the line and checks every byte.
#
# Every program checks its own result; any non-zero exit, time-out
# (BENCH_TIMEOUT seconds per run) or malformed line fails the whole run,
# after the table is printed. Times are never asserted on.
#
# Environment: BENCH=yield,spawn,... selects workloads (and floor);
# ROUNDS=N overrides the rounds; CC (default cc); QUIET_PCT=90 waits before
# each run (at most QUIET_WAIT s, default 60) until the machine was 90 %
# idle for 0.5 s. Raw output lines are kept in BUILD_DIR/bench/raw.log.
set -eu

usage() {
	echo "usage: $0 BUILD_DIR quick|full" >&2
	exit 2
}
[ $# -eq 2 ] || usage
MODE=$2
case $MODE in
quick) ROUNDS=${ROUNDS:-1}; TMO=${BENCH_TIMEOUT:-120} ;;
full) ROUNDS=${ROUNDS:-5}; TMO=${BENCH_TIMEOUT:-900} ;;
*) usage ;;
esac
# cpupar's figure is a ratio of two ratios of medians (P1/P2 for gor,
# against P1/P2 for pthreads): four medians, one of them of 8 threads
# time-sliced on one pinned CPU, which a busy neighbour slows at will
# (43-61 ms in one run, gor's 44-46). It is short: give it more rounds.
rounds() {
	if [ "$1" = cpupar ] && [ "$MODE" = full ]; then echo $((ROUNDS * 2 + 1)); else echo "$ROUNDS"; fi
}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$1" ] || { echo "bench: no build directory $1 (run make lib first)" >&2; exit 1; }
B=$(cd "$1" && pwd)
OUT=$B/bench
CC=${CC:-cc}
QUIET_PCT=${QUIET_PCT:-0}
QUIET_WAIT=${QUIET_WAIT:-60}

ALL="yield spawn pingpong prodcons select threadring idlemem idlemem2k skynet sleepers sleepers2k cpupar mutex echo"
if [ -n "${BENCH:-}" ]; then
	SEL=""
	FLOOR=0
	for w in $(echo "$BENCH" | tr ',' ' '); do
		case " $ALL " in
		*" $w "*) SEL="$SEL $w" ;;
		*) if [ "$w" = floor ]; then FLOOR=1; else
			echo "bench: unknown workload '$w' (known: $ALL floor)" >&2; exit 2
		fi ;;
		esac
	done
else
	SEL=$ALL
	FLOOR=1
fi

# src W: the program of workload W. idlemem2k and sleepers2k are idlemem
# and sleepers with 2 KiB goroutine stacks (gor_attr.stack_size), as Go's
# are, beside Go's same programs.
src() {
	case $1 in
	idlemem2k) echo idlemem ;;
	sleepers2k) echo sleepers ;;
	*) echo "$1" ;;
	esac
}

# configs W: the MAXPROCS values, primary first.
configs() {
	case $1 in
	idlemem2k) echo "1" ;;
	prodcons | mutex) echo "2 1" ;;
	*) echo "1 2" ;;
	esac
}

# args IMPL W: the size flags of this mode (empty: the defined defaults).
args() {
	if [ "$1" = pthread ]; then
		case $MODE/$2 in
		quick/pingpong) echo "-n 20000" ;;
		quick/spawn) echo "-n 10000" ;;
		esac
		return 0
	fi
	case $1/$2 in gor/idlemem2k | gor/sleepers2k) echo "-stack 2048" ;; esac
	[ "$MODE" = quick ] || return 0
	case $2 in
	yield) echo "-n 1000000" ;;
	spawn) echo "-n 200000" ;;
	pingpong) echo "-n 500000" ;;
	prodcons) echo "-n 2000000" ;;
	select) echo "-n 300000" ;;
	threadring) echo "-n 1000000" ;;
	idlemem | idlemem2k) echo "-n 50000" ;;
	mutex) echo "-n 1000000" ;;
	echo) echo "-m 200" ;;
	esac
}

# metric W: "KEY UNIT" of the table's figure (KEY ns/op is the 2nd field).
metric() {
	case $1 in
	idlemem | idlemem2k) echo "bytes_per_g B/goroutine" ;;
	skynet | sleepers | sleepers2k) echo "total_ms ms" ;;
	cpupar) echo "wall_ms ms" ;;
	*) echo "ns/op ns/op" ;;
	esac
}

# second W: further keys shown in the notes column.
second() {
	case $1 in
	spawn | skynet) echo peak_rss_kb ;;
	idlemem | idlemem2k) echo ns/op ;;
	sleepers | sleepers2k) echo spawn_ms ;;
	threadring | pingpong | prodcons | select | mutex | yield) echo total_ms ;;
	echo) echo rt_per_s p50_us p99_us ;;
	esac
}

has_pthread() {
	case $1 in cpupar | pingpong | spawn) return 0 ;; esac
	return 1
}

FAILS=$OUT/failures.txt
mkdir -p "$OUT/go" "$OUT/res"
rm -f "$OUT"/res/* "$FAILS"
: >"$FAILS"
RAW=$OUT/raw.log
: >"$RAW"
fail() {
	echo "bench: FAIL: $*" >&2
	echo "$*" >>"$FAILS"
}

# ---- build -------------------------------------------------------------

[ -f "$B/libgor.a" ] || { echo "bench: $B/libgor.a missing (run make lib B=$1)" >&2; exit 1; }
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -I$ROOT/include -I$ROOT/bench"
cbuild() { # cbuild NAME EXTRA... : bench/NAME.c -> $OUT/NAME
	local name=$1
	shift
	# shellcheck disable=SC2086 # CFLAGS is a list of flags
	if ! $CC $CFLAGS "$ROOT/bench/$name.c" -o "$OUT/$name" "$@" -pthread -ldl -lm 2>"$OUT/$name.build.log"; then
		cat "$OUT/$name.build.log" >&2
		rm -f "$OUT/$name"
		fail "build of bench/$name.c failed (log: $OUT/$name.build.log)"
	elif [ -s "$OUT/$name.build.log" ]; then
		cat "$OUT/$name.build.log" >&2
	fi
}

echo "bench: building into $OUT" >&2
for w in $(for w in $SEL; do src "$w"; done | sort -u); do
	cbuild "$w" "$B/libgor.a"
	if has_pthread "$w"; then cbuild "pthread_$w"; fi
done
if [ "$FLOOR" = 1 ]; then
	ARCH=$($CC -dumpmachine | cut -d- -f1)
	if [ -f "$B/obj/asm/$ARCH.o" ]; then
		CFLAGS="$CFLAGS -I$ROOT/runtime" cbuild floor "$B/obj/asm/$ARCH.o"
	else
		fail "floor: $B/obj/asm/$ARCH.o missing (make lib builds it)"
	fi
fi

HAVE_GO=0
if command -v go >/dev/null 2>&1; then
	HAVE_GO=1
	if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ]; then
		export GOCACHE="$OUT/go-cache"
	fi
	for w in $(for w in $SEL; do src "$w"; done | sort -u); do
		if ! (cd "$ROOT/bench/go" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$OUT/go/$w" "./$w"); then
			rm -f "$OUT/go/$w"
			fail "go build of bench/go/$w failed"
		fi
	done
else
	echo "bench: WARNING: no go in PATH (tools/deps.sh golang-go): the Go column stays empty" >&2
fi

# ---- run ---------------------------------------------------------------

idle_pct() {
	local a b ta=0 tb=0 i
	read -r -a a </proc/stat
	sleep 0.5
	read -r -a b </proc/stat
	for i in 1 2 3 4 5 6 7 8; do
		ta=$((ta + a[i]))
		tb=$((tb + b[i]))
	done
	local tot=$((tb - ta))
	echo $((tot > 0 ? 100 * ((b[4] + b[5]) - (a[4] + a[5])) / tot : 0))
}
gate() {
	[ "$QUIET_PCT" -gt 0 ] || return 0
	local t=0
	while [ "$(idle_pct)" -lt "$QUIET_PCT" ] && [ "$t" -lt "$((QUIET_WAIT * 2))" ]; do
		t=$((t + 1))
	done
}

# run1 IMPL W P: one fresh process; appends its line to res/IMPL_W_PP.
run1() {
	local impl=$1 w=$2 p=$3 bin label rc=0
	case $impl in
	gor) bin=$OUT/$(src "$w"); label=$(src "$w") ;;
	go) bin=$OUT/go/$(src "$w"); label=$(src "$w") ;;
	pthread) bin=$OUT/pthread_$w; label=pthread-$w ;;
	esac
	[ -x "$bin" ] || return 0 # its build failure is already recorded
	# shellcheck disable=SC2046 # args is a list of flags
	set -- "$bin" -p "$p" $(args "$impl" "$w")
	gate
	local srv=""
	if [ "$w" = echo ]; then
		if [ ! -x "$OUT/go/echo" ]; then
			fail "$impl echo P$p: no client (bench/go/echo did not build)"
			return 0
		fi
		local port i
		for _ in 1 2 3; do
			# below the ephemeral range, where connections take ports
			port=$((10000 + RANDOM % 20000))
			"$bin" -mode=server -p "$p" -addr "127.0.0.1:$port" >"$OUT/server.log" 2>&1 &
			srv=$!
			for i in $(seq 1 250); do # until it listens, or is dead
				kill -0 "$srv" 2>/dev/null || break
				if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
				sleep 0.02
			done
			kill "$srv" 2>/dev/null || true
			wait "$srv" 2>/dev/null || true
			cat "$OUT/server.log" >>"$RAW"
		done
		# shellcheck disable=SC2046 # args is a list of flags
		set -- "$OUT/go/echo" -mode=client -p 1 -addr "127.0.0.1:$port" -label "P$p" $(args "$impl" "$w")
	fi
	timeout -k 5 "$TMO" "$@" >"$OUT/last.out" 2>"$OUT/last.err" || rc=$?
	if [ -n "$srv" ]; then
		kill "$srv" 2>/dev/null || true
		wait "$srv" 2>/dev/null || true
		cat "$OUT/server.log" >>"$OUT/last.err"
	fi
	{
		echo "\$ $*"
		cat "$OUT/last.out" "$OUT/last.err"
	} >>"$RAW"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		fail "$impl $w P$p: TIMEOUT after ${TMO}s: $*"
		return 0
	fi
	if [ "$rc" != 0 ]; then
		tail -n 20 "$OUT/last.err" >&2
		fail "$impl $w P$p: exit status $rc: $*"
		return 0
	fi
	local line
	line=$(grep -E "^$label/P$p: [0-9.]+ ns/op( |$)" "$OUT/last.out" | head -n 1) || true
	if [ -z "$line" ]; then
		cat "$OUT/last.out" >&2
		fail "$impl $w P$p: no '$label/P$p: X ns/op' line: $*"
		return 0
	fi
	echo "$line" >&2
	echo "$line" >>"$OUT/res/${impl}_${w}_P$p"
}

# values FILE KEY: one value of KEY per line of FILE.
values() {
	[ -f "$1" ] || return 0
	if [ "$2" = ns/op ]; then
		awk '{print $2}' "$1"
	else
		sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1"
	fi
}
# stats FILE KEY: "median min max count" (the lower median), or nothing.
stats() {
	values "$1" "$2" | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)], v[1], v[NR], NR}'
}
# spread STATS: "min..max" of a stats line, or nothing.
spread() {
	local lo hi
	[ -n "$1" ] || return 0
	read -r _ lo hi _ <<<"$1"
	echo "$(fmt "$lo")..$(fmt "$hi")"
}
# show VALUE ELSE: the formatted value, or ELSE when there is none.
show() { if [ -n "$1" ]; then fmt "$1"; else echo "$2"; fi; }
fmt() { # a figure with 3-4 significant digits
	awk -v v="$1" 'BEGIN {a = v < 0 ? -v : v; if (a >= 100) printf "%.0f", v; else if (a >= 10) printf "%.1f", v; else printf "%.2f", v}'
}

INFO_CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//' || true)
INFO_GO=$(if [ "$HAVE_GO" = 1 ]; then go version; else echo none; fi)
INFO_CC=$($CC --version | head -n 1)
INFO_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then INFO_REV="$INFO_REV+dirty"; fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $MODE, $ROUNDS round(s), $(nproc) CPUs, loadavg $LOAD0" >&2

FLOOR_OUT=""
if [ "$FLOOR" = 1 ] && [ -x "$OUT/floor" ]; then
	rc=0
	FLOOR_OUT=$(timeout -k 5 "$TMO" "$OUT/floor" 2>"$OUT/floor.err") || rc=$?
	printf '$ floor\n%s\n' "$FLOOR_OUT" >>"$RAW"
	echo "$FLOOR_OUT" >&2
	if [ "$rc" != 0 ]; then
		cat "$OUT/floor.err" >&2
		fail "floor: exit status $rc"
	fi
fi

for w in $SEL; do
	impls="gor"
	[ "$HAVE_GO" = 1 ] && impls="$impls go"
	if has_pthread "$w"; then impls="$impls pthread"; fi
	for p in $(configs "$w"); do
		for r in $(seq 1 "$(rounds "$w")"); do
			# Rotate who goes first, so neither always runs on a warmer machine.
			order=$impls
			if [ $((r % 2)) = 0 ]; then order=$(echo "$impls" | awk '{for (i = NF; i; i--) printf "%s ", $i}'); fi
			for impl in $order; do run1 "$impl" "$w" "$p"; done
		done
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ------------------------------------------------------------

MD=$B/bench.md
JSON=$B/bench.json
# jstr S: S as a JSON string (backslashes, quotes, newlines and tabs escaped).
jstr() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	printf '"%s"' "$s"
}
jnum() { if [ -n "$1" ]; then printf '%s' "$1"; else printf null; fi; }
# jimpl FILE KEY: {"median":..,"min":..,"max":..,"runs":[..]} or null.
jimpl() {
	local s
	s=$(stats "$1" "$2")
	if [ -z "$s" ]; then printf null; return; fi
	local med lo hi
	read -r med lo hi _ <<<"$s"
	printf '{"median":%s,"min":%s,"max":%s,"runs":[%s]}' "$med" "$lo" "$hi" "$(values "$1" "$2" | paste -sd, -)"
}

{
	echo "# gor bench ($MODE, $ROUNDS round(s) per config, cpupar $(rounds cpupar), median shown)"
	echo
	echo "gor $INFO_REV | $(nproc) CPUs | $INFO_CPU | $INFO_CC | $INFO_GO | loadavg $LOAD0 -> $LOAD1 | $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "Go/gor > 1 means gor is better (every figure here is lower-is-better, except the speedup)."
	echo
	echo "| workload | P | figure | gor | Go | Go/gor | pthread | gor spread | Go spread | notes (gor / Go) |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$MD"
ROWS=""
add_row() { ROWS="${ROWS:+$ROWS,
}$1"; }
declare -A RATIO=() GMED=() # by workload_Pn, for the targets below
sg="" st="" # cpupar's speedups, gor's and pthread's

for w in $SEL; do
	read -r key unit <<EOF
$(metric "$w")
EOF
	for p in $(configs "$w"); do
		g=$(stats "$OUT/res/gor_${w}_P$p" "$key")
		o=$(stats "$OUT/res/go_${w}_P$p" "$key")
		t=$(stats "$OUT/res/pthread_${w}_P$p" "$key")
		gm=${g%% *} om=${o%% *} tm=${t%% *}
		ratio="" gs="" os="" note=""
		if [ -n "$gm" ] && [ -n "$om" ]; then ratio=$(awk -v a="$om" -v b="$gm" 'BEGIN {if (b > 0) printf "%.2f", a / b}'); fi
		RATIO[${w}_P$p]=$ratio
		GMED[${w}_P$p]=$gm
		gs=$(spread "$g")
		os=$(spread "$o")
		for k2 in $(second "$w"); do
			g2=$(stats "$OUT/res/gor_${w}_P$p" "$k2")
			o2=$(stats "$OUT/res/go_${w}_P$p" "$k2")
			note="${note:+$note; }$k2 $(show "${g2%% *}" FAIL) / $(show "${o2%% *}" -)"
		done
		gshow=$(show "$gm" FAIL)
		oshow=$(show "$om" "$([ "$HAVE_GO" = 1 ] && echo FAIL || echo -)")
		tshow=$(if has_pthread "$w"; then show "$tm" FAIL; else echo -; fi)
		echo "| $w | P$p | $key | $gshow | $oshow | ${ratio:--} | $tshow | ${gs:--} | ${os:--} | $note |" >>"$MD"
		add_row "$(printf '{"workload":"%s","p":%s,"key":"%s","unit":"%s","gor":%s,"go":%s,"pthread":%s,"ratio_go_over_gor":%s,"args":%s}' \
			"$w" "$p" "$key" "$unit" "$(jimpl "$OUT/res/gor_${w}_P$p" "$key")" \
			"$(jimpl "$OUT/res/go_${w}_P$p" "$key")" "$(jimpl "$OUT/res/pthread_${w}_P$p" "$key")" \
			"$(jnum "$ratio")" "$(jstr "$(args gor "$w" | paste -sd' ' -)")")"
	done
	if [ "$w" = cpupar ]; then
		speedup() { # speedup IMPL: median wall P1 / median wall P2
			local a b
			a=$(stats "$OUT/res/${1}_cpupar_P1" wall_ms)
			b=$(stats "$OUT/res/${1}_cpupar_P2" wall_ms)
			[ -n "$a" ] && [ -n "$b" ] || return 0
			awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN {if (b > 0) printf "%.2f", a / b}'
		}
		sg=$(speedup gor) so=$(speedup go) st=$(speedup pthread)
		echo "| cpupar | P1/P2 | speedup (x, ideal $(nproc | awk '{print ($1 < 2 ? $1 : 2)}')) | ${sg:-FAIL} | ${so:--} | - | ${st:--} | | | higher is better |" >>"$MD"
		add_row "$(printf '{"workload":"cpupar","p":"P1/P2","key":"speedup","unit":"x","gor":%s,"go":%s,"pthread":%s}' \
			"$(jnum "$sg")" "$(jnum "$so")" "$(jnum "$st")")"
	fi
done

# Issue 4's targets, judged on the medians above (full mode only: quick
# mode runs smaller sizes once). Each line: workload, P, and either
# "ratio X" (Go/gor at least X) or "max X" (gor's figure at most X).
targets() {
	cat <<'EOF'
yield 1 ratio 3
spawn 1 ratio 4
spawn 2 ratio 4
pingpong 1 ratio 3.5
pingpong 2 ratio 3.5
prodcons 2 ratio 2
select 1 ratio 3
threadring 1 ratio 3
skynet 2 ratio 2.5
sleepers 2 ratio 2
mutex 2 ratio 1
idlemem 1 max 4600
idlemem2k 1 max 2900
EOF
}
TJSON=""
tjson() { TJSON="${TJSON:+$TJSON,}$(printf '{"target":%s,"value":%s,"met":%s}' "$(jstr "$1")" "$(jnum "$2")" "$3")"; }
if [ "$MODE" = full ]; then
	nt=0 nmet=0
	{
		echo
		echo "Issue 4's targets (docs/performance.md), on the medians above:"
		echo
		echo "| target | measured | met |"
		echo "| --- | --- | --- |"
	} >>"$MD"
	while read -r w p kind x; do
		case " $SEL " in *" $w "*) ;; *) continue ;; esac
		if [ "$kind" = ratio ]; then
			v=${RATIO[${w}_P$p]:-} desc="$w P$p: Go/gor at least $x"
		else
			read -r key _ <<<"$(metric "$w")"
			v=${GMED[${w}_P$p]:-} desc="$w P$p: $key at most $x"
		fi
		met=false
		if [ -n "$v" ] && awk -v v="$v" -v x="$x" -v k="$kind" 'BEGIN {exit !(k == "ratio" ? v >= x : v <= x)}'; then met=true; fi
		nt=$((nt + 1))
		if [ "$met" = true ]; then nmet=$((nmet + 1)); fi
		echo "| $desc | ${v:-FAIL} | $([ "$met" = true ] && echo yes || echo no) |" >>"$MD"
		tjson "$desc" "$v" "$met"
	done < <(targets)
	case " $SEL " in *" cpupar "*)
		met=false
		if [ -n "$sg" ] && [ -n "$st" ] && awk -v g="$sg" -v t="$st" 'BEGIN {exit !(g >= 0.95 * t)}'; then met=true; fi
		nt=$((nt + 1))
		if [ "$met" = true ]; then nmet=$((nmet + 1)); fi
		echo "| cpupar: speedup P1/P2 at least 95 % of pthread's | ${sg:-FAIL} against ${st:-FAIL} | $([ "$met" = true ] && echo yes || echo no) |" >>"$MD"
		tjson "cpupar: speedup P1/P2 at least 95 % of pthread's" "$sg" "$met"
		;;
	esac
	{
		echo
		echo "$nmet of $nt targets met."
	} >>"$MD"
fi

FLOOR_JSON=""
if [ -n "$FLOOR_OUT" ]; then
	{
		echo
		echo "Floor of this machine (bench/floor.c, once):"
		echo
		echo "| floor | ns | detail |"
		echo "| --- | --- | --- |"
		echo "$FLOOR_OUT" | awk '/^floor\// {n = $1; sub(/^floor\//, "", n); sub(/:$/, "", n); if ($3 == "ns/op") {d = ""; for (i = 4; i <= NF; i++) d = d " " $i; printf "| %s | %s |%s |\n", n, $2, d} else {d = ""; for (i = 2; i <= NF; i++) d = d " " $i; printf "| %s | - |%s |\n", n, d}}'
	} >>"$MD"
	FLOOR_JSON=$(echo "$FLOOR_OUT" | awk '/^floor\/.* ns\/op/ {n = $1; sub(/^floor\//, "", n); sub(/:$/, "", n); printf "%s\"%s\":%s", (c++ ? "," : ""), n, $2}')
fi
if [ -s "$FAILS" ]; then
	{
		echo
		echo "FAILURES:"
		echo
		sed 's/^/- /' "$FAILS"
	} >>"$MD"
fi

{
	printf '{"mode":%s,"rounds":%s,"rev":%s,"cpus":%s,"cpu":%s,"cc":%s,"go":%s,"loadavg_start":%s,"loadavg_end":%s,\n' \
		"$(jstr "$MODE")" "$ROUNDS" "$(jstr "$INFO_REV")" "$(nproc)" "$(jstr "$INFO_CPU")" \
		"$(jstr "$INFO_CC")" "$(jstr "$INFO_GO")" "$(jstr "$LOAD0")" "$(jstr "$LOAD1")"
	printf '"floor_ns":{%s},\n"results":[\n%s\n],\n"targets":[%s],\n"failures":[' "$FLOOR_JSON" "$ROWS" "$TJSON"
	first=1
	while IFS= read -r l; do
		[ "$first" = 1 ] || printf ','
		first=0
		jstr "$l"
	done <"$FAILS"
	printf ']}\n'
} >"$JSON"

echo
cat "$MD"
echo
echo "bench: wrote $MD and $JSON" >&2
if [ -s "$FAILS" ]; then
	echo "bench: $(wc -l <"$FAILS") failure(s); see above and $RAW" >&2
	exit 1
fi
