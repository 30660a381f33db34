#!/usr/bin/env bash
# The capacity-tariff warning and projection against the simulator's truth
# (README, "How good the warning is"). lowi-sim runs offline, on a virtual
# clock, no broker: for each household model and each start date, METERS
# meters for DAYS days across a month's end, publishing every 60 s and
# every 10 s; capacity_quality replays each run through the plugin's pure
# code and prints two table rows per publishing interval: the plugin's
# warning, and a warning on every projection above the target for comparison. About 30 seconds.
#
#   tests/bench/capacity_quality.sh              the README's figures (seeds from 101)
#   tests/bench/capacity_quality.sh --seed 1     another set of meters
#
# Builds into build/ (meson) when needed; writes its runs under a private
# temporary directory, removed at the end.
set -eu
cd "$(dirname "$0")/../.."
seed=101
meters=10
days=10
while [ $# -gt 0 ]; do
	case "$1" in
	--seed) seed=$2; shift 2 ;;
	--meters) meters=$2; shift 2 ;;
	--days) days=$2; shift 2 ;;
	*) echo "usage: $0 [--seed N] [--meters N] [--days N]" >&2; exit 2 ;;
	esac
done
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build tests/sim/lowi-sim tests/bench/capacity_quality >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Four runs a household: the end of January (winter), of March (summer
# time starts on the last Sunday), of June, and of October (summer time
# ends), each crossing into the next month.
starts="2026-01-26 2026-03-24 2026-06-26 2026-10-24"
echo "| publishing | warning | meter-days | quarters | true new peaks | warned >= 3 min before the end | warned at all | warnings | false alarms | false alarm under the target by (median kW) | error 10 min before (median / p95 kW) | 5 min | 2 min |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for interval in 60 10; do
	jitter=$([ "$interval" = 60 ] && echo 3 || echo 1)
	args=()
	s=$seed
	for household in typical gentle; do
		for start in $starts; do
			base=$tmp/$interval-$household-$start
			build/tests/sim/lowi-sim --offline "$(date -u -d "$start" +%s)" --meters "$meters" \
				--duration $((days * 86400)) --interval "$interval" --jitter "$jitter" \
				--household "$household" --seed "$s" --truth "$base.truth.csv" \
				--published "$base.published.csv" >/dev/null
			args+=("$base.truth.csv" "$base.published.csv")
			s=$((s + 1))
		done
	done
	build/tests/bench/capacity_quality "$interval s" "${args[@]}"
	rm -f "$tmp"/*.csv
done
