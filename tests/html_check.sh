#!/bin/sh
# html_check.sh [BUILD_DIR] - loads gor-trace's HTML pages in headless
# Chromium and checks that each one ran its script to the end without an
# error and drew one lane per P.
#
# Two pages: the fixed trace tests/data/small.json (2 Ps) and a live
# trace of build/samples/calc_all (its P count read from gor-trace's own
# summary). The page marks itself: <body data-gor-ready="1"> when the
# drawing is done, a div.gor-error per script error (window.onerror); the
# DOM Chromium dumps after loading is searched for both and for the
# lanes (class="lane lane-p").
#
# Chromium comes from Debian (tools/deps.sh chromium installs it as root).
# Only if it cannot be had does the check say SKIPPED, loudly, and pass.
# Ends with "html: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
TOOL=$B/tools/gor-trace
[ -x "$TOOL" ] || { echo "html_check: $TOOL missing (run make first)" >&2; exit 1; }

if ! command -v chromium >/dev/null 2>&1; then
	tools/deps.sh chromium || true
fi
if ! command -v chromium >/dev/null 2>&1; then
	echo "html_check: SKIPPED: chromium is not installed and could not be installed" \
	     "(as root: apt-get install chromium)"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# check NAME HTML EXPECTED_P_LANES
check() {
	name=$1 page=$2 want=$3
	profile=$(mktemp -d "$tmp/profile.XXXXXX")
	if ! timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --user-data-dir="$profile" \
		--virtual-time-budget=5000 --dump-dom "file://$page" >"$tmp/$name.dom" 2>"$tmp/$name.log"; then
		echo "FAILED: $name: chromium did not finish; its log:"
		tail -20 "$tmp/$name.log"
		fail=$((fail + 1))
		return
	fi
	lanes=$(grep -o 'class="lane lane-p"' "$tmp/$name.dom" | wc -l)
	errors=$(grep -o 'class="gor-error"[^<]*' "$tmp/$name.dom")
	if ! grep -q 'data-gor-ready="1"' "$tmp/$name.dom"; then
		echo "FAILED: $name: the page's script did not finish${errors:+: $errors}"
		fail=$((fail + 1))
	elif [ -n "$errors" ]; then
		echo "FAILED: $name: script errors: $errors"
		fail=$((fail + 1))
	elif [ "$lanes" -ne "$want" ]; then
		echo "FAILED: $name: $lanes P lanes drawn, want $want"
		fail=$((fail + 1))
	else
		status=$(sed -n 's/.*id="status">\([^<]*\)<.*/\1/p' "$tmp/$name.dom" | head -1)
		echo "ok: $name: $status"
		pass=$((pass + 1))
	fi
}

"$TOOL" --html "$tmp/small.html" tests/data/small.json >/dev/null || fail=$((fail + 1))
check small "$tmp/small.html" 2

if [ -x "$B/samples/calc_all" ] && GOR_TRACE="$tmp/calc.json" timeout 60 "$B/samples/calc_all" conc >/dev/null; then
	"$TOOL" --html "$tmp/calc.html" "$tmp/calc.json" >"$tmp/calc.txt" || fail=$((fail + 1))
	procs=$(grep -c '^  P[0-9]' "$tmp/calc.txt")
	check calc_all "$tmp/calc.html" "$procs"
else
	echo "FAILED: could not record a trace of $B/samples/calc_all"
	fail=$((fail + 1))
fi

echo "html: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
