#!/usr/bin/env bash
# Runs the integration and slow suites while stress-ng keeps every core
# busy, to show that the accelerated-clock scenarios judge what the plugin
# stamped and wrote, not how fast the machine happened to be. Repeats the
# run (default 3 times) and stops at the first failed run. Not part of CI.
# Ends with "N passed, N failed" counting runs, after each run's own line.
#
#   tests/contention.sh              3 runs of --suite integration --suite slow
#   tests/contention.sh 1 accuracy   1 run of the tests whose name contains it
set -u
cd "$(dirname "$0")/.."
runs="${1:-3}"
filter="${2:-}"
case "$runs" in ''|*[!0-9]*) echo "usage: $0 [runs] [name]" >&2; exit 2 ;; esac

tests/install-deps.sh stress-ng || exit 1
workers=$(nproc)
stress_pid=
stop_stress() {
	[ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null && wait "$stress_pid" 2>/dev/null
	stress_pid=
}
trap stop_stress EXIT
trap 'stop_stress; exit 130' INT TERM

ok=0 bad=0
for i in $(seq 1 "$runs"); do
	# One CPU hog per core, at the tests' own priority, for at most 2 hours
	# (stopped below as soon as the run ends).
	stress-ng --cpu "$workers" --cpu-method matrixprod --timeout 7200 --quiet &
	stress_pid=$!
	start=$(date +%s)
	out=$(mktemp)
	bash tests/run.sh --suite integration --suite slow $filter 2>&1 | tee "$out"
	stop_stress
	line=$(grep -oE '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	echo "contention run $i: ${line:-no result line} ($(( $(date +%s) - start )) s, $workers stress-ng workers)"
	if [[ "$line" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		break
	fi
done
echo "$ok passed, $bad failed"
[ "$bad" -eq 0 ]
