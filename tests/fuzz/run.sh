#!/usr/bin/env bash
# Fuzzes the pure parsers of lowi-p1 with libFuzzer (clang, ASan + UBSan,
# leak detection). One target per tests/fuzz/fuzz_*.c; each runs for N
# seconds (default 60) from a scratch copy of its seed corpus under
# build-fuzz/ (tests/corpus is never written), as many targets at once as
# there are cores (FUZZ_JOBS=1: one after another). Ends with one line per target
# and "N passed, N failed"; a target fails on any crash, leak, sanitizer
# report, invariant violation or timeout (its crash file and the first
# lines of the report are printed). Exit status 1 when any failed.
#
#   tests/fuzz/run.sh            60 s per target
#   tests/fuzz/run.sh 300        5 minutes per target
#   tests/fuzz/run.sh 60 quarter only the targets whose name matches
#
# Re-run one crash:  build-fuzz/fuzz_<target> build-fuzz/artifacts/<target>/crash-...
#
# Known product bugs (reported, not yet fixed) are tolerated through the
# -DFUZZ_KNOWN_BUG_* flags below, each described in its target; FUZZ_STRICT=1
# builds without them. Delete a flag here once its bug is fixed.
set -u
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
filter="${2:-}"
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [seconds per target] [name filter]" >&2; exit 2 ;; esac

# clang 14 with its libFuzzer/sanitizer runtimes, and the library the price
# parser links.
tests/install-deps.sh clang libclang-rt-14-dev libjansson-dev python3 || exit 1

out=build-fuzz
mkdir -p "$out"
CFLAGS=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-Wall -Wextra -Iplugin -Iprice-worker -Itests/fuzz)

known_bugs=(-DFUZZ_KNOWN_BUG_INDEX_ROUNDING)
[ "${FUZZ_STRICT:-0}" = 1 ] && known_bugs=()
CFLAGS+=("${known_bugs[@]}")

# target name | sources besides tests/fuzz/<target>.c | libraries | seed dirs | dictionary
targets=(
	"fuzz_payload|plugin/payload.c plugin/payload_general.c plugin/payload_fast.c|-lm|tests/corpus/good tests/corpus/bad|json.dict"
	"fuzz_payload_diff|plugin/payload.c plugin/payload_general.c plugin/payload_fast.c|-ljansson -lm|tests/corpus/good tests/corpus/bad|json.dict"
	"fuzz_formula|price-worker/formula.c price-worker/tariff.c plugin/brussels.c|-lm|tests/corpus/formula|formula.dict"
	"fuzz_price_elia|price-worker/price_parse.c plugin/brussels.c|-ljansson -lm|tests/corpus/elia|json.dict"
	"fuzz_price_energy_charts|price-worker/price_parse.c plugin/brussels.c|-ljansson -lm|tests/corpus/energy-charts|json.dict"
	"fuzz_quarter|plugin/quarter.c plugin/capacity.c plugin/brussels.c|-lm||"
)

# Seeds for fuzz_quarter (20-byte records, see fuzz_quarter.c): a day-time
# household stream every 60 s with power, the same with a 20-minute gap and
# a counter reset, a 10 s stream across a tariff switch with gas and water,
# and a clock step back, a long silence and a stale reading repeated.
quarter_seeds() { # dir
	python3 - "$1" <<'PY'
import os, struct, sys
d = sys.argv[1]
def rec(flags, dt, unit, step_unit, steps, pi=0, pe=0, back=False, jump=False, power_unit=0):
    b3 = step_unit | (8 if jump else 0) | (power_unit << 4) | (0x80 if back else 0)
    return struct.pack("<BHB6hHH", flags | (unit << 5), dt, b3, *steps, pi, pe)
DAY, NIGHT, POWER, GAS, WATER, SEC = 2 << 3, 1 << 3, 1, 2, 4, 2
steady = b"".join(rec(POWER | DAY, 60, SEC, 0, (8 + i % 5, 0, 0, 0, 0, 0), 480 + 10 * (i % 5)) for i in range(120))
gap = (b"".join(rec(POWER | DAY, 60, SEC, 0, (5, 0, 0, 0, 0, 0), 300) for _ in range(30))
       + rec(POWER | DAY, 1200, SEC, 0, (200, 0, 0, 0, 0, 0), 600)
       + rec(POWER | DAY, 60, SEC, 0, (3, 1, 0, 0, 0, 0), 200, jump=True)
       + b"".join(rec(POWER | DAY, 60, SEC, 0, (4, 0, 2, 0, 0, 0), 240, 120) for _ in range(30)))
switch = b"".join(rec(POWER | GAS | WATER | (DAY if i < 60 else NIGHT), 10, SEC, 0,
                      ((2, 0) if i < 60 else (0, 2)) + (0, 0, 1, 0), 720) for i in range(150))
# The clock steps back 2 h while the counters go on (re-based after 2 min);
# then a day and a half of silence (one jump); then a stale reading repeated.
MIN = 4
step_back = (steady[:20 * 30] + rec(POWER | DAY, 120, MIN, 0, (8, 0, 0, 0, 0, 0), 500, back=True)
             + b"".join(rec(POWER | DAY, 60, SEC, 0, (8, 0, 0, 0, 0, 0), 500) for _ in range(40))
             + rec(POWER | DAY, 2160, MIN, 0, (9000, 0, 0, 0, 0, 0), 500)
             + b"".join(rec(POWER | DAY, 60, SEC, 0, (8, 0, 0, 0, 0, 0), 500) for _ in range(20))
             + rec(POWER | DAY, 60, SEC, 0, (-30, 0, 0, 0, 0, 0), 500)
             + b"".join(rec(POWER | DAY, 60, SEC, 0, (0, 0, 0, 0, 0, 0), 500) for _ in range(20)))
for name, data in (("steady", steady), ("gap-reset", gap), ("tariff-switch", switch), ("step-back", step_back)):
    with open(os.path.join(d, name + ".bin"), "wb") as f:
        f.write(data)
PY
}

# fuzz_target SPEC: builds and fuzzes one target, printing its report; its
# result line ("PASS ..." or "FAIL ...") goes to $out/<name>.result.
fuzz_target() {
	local name srcs libs seeds dict bin log result corpus artifacts args start rc took execs cov report crash first s
	IFS='|' read -r name srcs libs seeds dict <<<"$1"
	bin="$out/$name"
	log="$out/$name.log"
	result="$out/$name.result"
	# shellcheck disable=SC2086
	if ! clang "${CFLAGS[@]}" -o "$bin" "tests/fuzz/$name.c" $srcs $libs >"$out/$name.build.log" 2>&1; then
		cat "$out/$name.build.log"
		echo "FAIL $name: does not build (see $out/$name.build.log)" >"$result"
		return
	fi
	corpus="$out/corpus/$name"
	artifacts="$out/artifacts/$name"
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	for s in $seeds; do
		find "$s" -maxdepth 1 -type f ! -name README -exec cp {} "$corpus/" \;
	done
	[ "$name" = fuzz_quarter ] && quarter_seeds "$corpus"
	args=(-max_total_time="$seconds" -detect_leaks=1 -rss_limit_mb=2048 -timeout=10
		-print_final_stats=1 -artifact_prefix="$artifacts/")
	[ -n "$dict" ] && args+=(-dict="tests/fuzz/$dict")
	echo "== $name (${seconds} s, $(ls "$corpus" | wc -l) seeds)"
	start=$(date +%s)
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	report=$(grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant violated|==[0-9]+==ERROR|SUMMARY: ' "$log" | head -n 1)
	if [ "$rc" -ne 0 ] || [ -n "$report" ]; then
		crash=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | head -n 1)
		first=$(grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant violated|==[0-9]+==ERROR' "$log" | head -n 1 | cut -d: -f1)
		echo "   FAILED (exit $rc) after ${took} s; crash file: ${crash:-none}; log: $log"
		sed -n "${first:-1},$(( ${first:-1} + 14 ))p" "$log" | sed 's/^/   | /'
		echo "FAIL $name: exit $rc, crash file ${crash:-none} (log $log)" >"$result"
	else
		echo "   ok: ${execs:-?} runs in ${took} s, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) files"
		echo "PASS $name: ${execs:-?} runs in ${took} s, ${cov:-cov ?}" >"$result"
	fi
}

# One target per core at a time (FUZZ_JOBS, default nproc): a libFuzzer
# process without -jobs/-fork is single-threaded, so each target still
# gets its N seconds of one whole core, and the targets share nothing (own
# binary, corpus copy, artifacts and log). Reports are printed in the
# targets' order once all are done.
jobs="${FUZZ_JOBS:-$(nproc)}"
case "$jobs" in ''|*[!0-9]*|0) echo "fuzz: FUZZ_JOBS must be a positive number" >&2; exit 2 ;; esac
names=()
running=0
for spec in "${targets[@]}"; do
	name=${spec%%|*}
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	names+=("$name")
	rm -f "$out/$name.result"
	echo "== $name started"
	fuzz_target "$spec" >"$out/$name.report" 2>&1 &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

passed=0
failed=0
results=()
for name in "${names[@]}"; do
	cat "$out/$name.report"
	line=$(cat "$out/$name.result" 2>/dev/null)
	[ -n "$line" ] || line="FAIL $name: no result (see $out/$name.report)"
	results+=("$line")
	case "$line" in
	PASS*) passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done

printf '%s\n' "${results[@]}"
[ ${#known_bugs[@]} -gt 0 ] && echo "(tolerated known bugs: ${known_bugs[*]#-D}; FUZZ_STRICT=1 to fail on them)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
