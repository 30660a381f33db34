#!/usr/bin/env bash
# Runs every lowi-p1 test: installs what is missing, builds with warnings as
# errors, runs the unit tests of the pure core, then the integration tests
# (real mosquitto 2.0.11 loading build/plugin/lowi_p1.so, private MariaDB,
# simulated LOWIs on an accelerated clock). Ends with "N passed, N failed".
#
#   tests/run.sh              everything
#   tests/run.sh accuracy     only integration tests whose file name matches
set -u
cd "$(dirname "$0")/.."
filter="${1:-}"

tests/install-deps.sh || exit 1
if [ ! -f build/build.ninja ]; then
	meson setup build --werror >/dev/null || exit 1
fi
meson compile -C build >/dev/null || { meson compile -C build; exit 1; }

passed=0
failed=0
logdir=build/test-logs
mkdir -p "$logdir"

count() { # file-with-output, label
	local line
	line=$(grep -E '[0-9]+ (checks )?passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $2: no result line (see $1)"
		failed=$((failed + 1))
		return
	fi
	local p f
	p=$(sed -E 's/.* ([0-9]+) (checks )?passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $2: exit code $3 (see $1)"
		failed=$((failed + 1))
	fi
}

if [ -z "$filter" ]; then
	for t in build/tests/unit/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		name=$(basename "$t")
		"$t" >"$logdir/$name.log" 2>&1
		rc=$?
		grep -E '^(FAIL|[a-z_]+: )' "$logdir/$name.log"
		count "$logdir/$name.log" "$name" $rc
	done
fi

for t in tests/integration/test_*.py; do
	name=$(basename "$t" .py)
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	echo "== $name"
	start=$(date +%s)
	timeout -k 10 1200 /usr/bin/python3 "$t" >"$logdir/$name.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|  \.\.)' "$logdir/$name.log"
	echo "   ($(( $(date +%s) - start )) s, log: $logdir/$name.log)"
	count "$logdir/$name.log" "$name" $rc
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
