#!/bin/sh
# runtests.sh "RUNNER" BIN... - runs each Check suite (under RUNNER, which
# may be empty: valgrind, qemu...), each bounded by a timeout, and ends with
# one line "N passed, N failed" counting suites.
runner=$1
shift
pass=0
fail=0
failed=""
: "${GOR_TEST_TIMEOUT:=900}"
for t in "$@"; do
	echo "== $t"
	# shellcheck disable=SC2086
	if timeout -k 10 "$GOR_TEST_TIMEOUT" $runner "$t"; then
		pass=$((pass + 1))
	else
		echo "FAILED: $t (exit $?)"
		fail=$((fail + 1))
		failed="$failed $t"
	fi
done
[ -n "$failed" ] && echo "failed suites:$failed"
echo "suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
