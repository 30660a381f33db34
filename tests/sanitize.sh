#!/usr/bin/env bash
# Runs the unit and integration suites of lowi-p1 (tests/unit/meson.build,
# tests/integration/meson.build) with AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer: builds build-asan/ (meson, gcc,
# -Db_sanitize=address,undefined), runs the unit tests from it, then the
# integration scenarios with the sanitized plugin (build-asan/plugin/lowi_p1.so
# loaded by the distribution's /usr/sbin/mosquitto, the ASan runtime
# preloaded) and the sanitized simulator. A test fails on its own checks, and
# also on any sanitizer report: in a unit test's output, in an integration
# test's output (simulator), or in any broker.log it produced. Ends with
# "N passed, N failed".
#
# The slow suite is not replayed here: its scenarios drive the same code
# paths as the integration suite for longer (more quarters, more meters,
# more restarts), the plain run (tests/run.sh) checks their results, and the
# parsers and the aggregation they feed are fuzzed under the same sanitizers
# (tests/fuzz/run.sh). `tests/sanitize.sh --suite slow` runs it on demand.
#
# Two integration tests are not replayed either, since they run no plugin
# code that the others do not (NOT_SANITIZED below; naming one runs it):
#  - lib_selfcheck loads no plugin at all: it checks the test library
#    (MariaDB, a bare mosquitto, MQTT round trips), and mosquitto itself is
#    not instrumented;
#  - acl checks mosquitto's password and ACL files on the README's recipes.
#    The plugin registers only the message, tick and reload callbacks: a
#    publish the ACL refuses never reaches it, and what the accepted ones
#    drive (intake, Conso rows, the retained counters) every other test
#    replayed here drives too (idle_log and secrets check the counters), and
#    a reload runs the housekeeping of every tick, which idle_log replays
#    through a reload as well.
#
#   tests/sanitize.sh                  unit + integration suites
#   tests/sanitize.sh --suite slow     another suite (repeatable)
#   tests/sanitize.sh accuracy         only integration tests whose name matches
#                                      (NOT_SANITIZED ones included)
#   SANITIZE_SLOWDOWN=1 tests/sanitize.sh
#                                  the tests' own clock speeds (default: half)
#
# The integration tests run on an accelerated clock (lib.use_fake_clock:
# x60 to x600) and the broker stamps each reading with its receive time. The
# sanitized broker is several times slower, so at the tests' speeds a short
# stall becomes minutes of simulated time and the accuracy checks (energy per
# quarter, Pics) fail now and then for reasons that have nothing to do with
# memory. Each test is therefore started here under libfaketime at its own
# start time and 1/SANITIZE_SLOWDOWN of its speed (use_fake_clock() then
# keeps that clock; every wait in the tests scales with it).
#
# Work directories of failed integration tests are kept under
# /tmp/lowi-asan.*/<test>/ (their broker.log holds the report); those of
# passed tests are removed.
set -u
cd "$(dirname "$0")/.."
root=$PWD
suites=()
filter=
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) [ $# -ge 2 ] || { echo "usage: $0 [--suite S]... [name]" >&2; exit 2; }
		suites+=("$2"); shift 2 ;;
	-*) echo "usage: $0 [--suite S]... [name]" >&2; exit 2 ;;
	*) filter=$1; shift ;;
	esac
done
[ ${#suites[@]} -eq 0 ] && suites=(unit integration)
NOT_SANITIZED=" acl lib_selfcheck "
build=build-asan

# gcc's sanitizer runtimes (normally already there with gcc).
tests/install-deps.sh libasan8 libubsan1 || exit 1

# b_lundef=false, the usual companion of b_sanitize (with clang, objects
# built with -fsanitize=address leave the runtime's symbols to the
# executable and -Wl,--no-undefined fails). With gcc 12 and meson 1.0.1 the
# runtimes are shared libraries and both settings build; lowi_p1.so always
# overrides it anyway (plugin/meson.build: the mosquitto_* symbols come from
# the broker).
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false --werror >/dev/null \
		|| { meson setup --wipe "$build" -Db_sanitize=address,undefined -Db_lundef=false --werror; exit 1; }
fi
meson compile -C "$build" >/dev/null || { meson compile -C "$build"; exit 1; }

asan_lib=$(readlink -f "$(gcc -print-file-name=libasan.so)")
ubsan_lib=$(readlink -f "$(gcc -print-file-name=libubsan.so)")
for f in "$asan_lib" "$ubsan_lib"; do
	[ -f "$f" ] || { echo "sanitize: sanitizer runtime not found ($f)" >&2; exit 1; }
done

# ---- LeakSanitizer suppressions: only leaks that belong to mosquitto or to
# libraries, never a frame of the plugin's own code (plugin/, price-worker/).
# LSan syntax, but applied by tests/fuzz/sanitizer_report.py to the
# symbolized reports (see symbolize=0 below), which also refuses to
# suppress any report with a frame in the plugin.
supp="$root/$build/lsan.supp"
cat >"$supp" <<'EOF'
# mosquitto 2.0.11 itself (not built with ASan, /usr/sbin/mosquitto): when
# the broker refuses to start because a plugin's init fails (test_deploy.py's
# bad-option cases), main() returns without freeing the configuration it
# parsed. Every such block is allocated under config__read() or
# config__parse_args(), before any plugin is loaded, so no allocation of
# the plugin can match.
leak:config__read
leak:config__parse_args
# mosquitto 2.0.11 again, same exit path: the record plugin__load_v5()
# allocates (mosquitto__calloc) for each plugin it loads. The frame is
# mosquitto's loader; the plugin's init runs after it and allocates with
# plain malloc in lowi_p1.so frames, which are never suppressed.
leak:plugin__load_v5
EOF
chmod 644 "$supp"

# A no-op dlclose(), preloaded into the broker: mosquitto dlclose()s the
# plugin at exit, before LeakSanitizer looks. Unmapped, the plugin's frames
# could not be symbolized, and the blocks that its libraries (libmariadb,
# GnuTLS, libcurl, ...) keep in their globals would be reported as leaks
# "in <unknown module>". Kept mapped, LSan sees those globals and names
# every frame. (Preloading the plugin itself instead deadlocks at exit, in
# libp11-kit's destructor, when the plugin's init has failed.)
shim="$root/$build/nodlclose.so"
echo 'int dlclose(void *handle) { (void)handle; return 0; }' >"$root/$build/nodlclose.c"
gcc -shared -fPIC -O2 -o "$shim" "$root/$build/nodlclose.c" || exit 1

# A `mosquitto` first in PATH for the tests (lib.Broker runs "mosquitto"):
# it preloads the gcc ASan and UBSan runtimes and the shim ahead of what the
# test put in LD_PRELOAD (libfaketime under an accelerated clock). ASan must
# come first: mosquitto is not instrumented, the plugin is dlopen()ed later.
wrap="$root/$build/wrap"
mkdir -p "$wrap"
{
	echo '#!/bin/sh'
	echo '# Written by tests/sanitize.sh: the system broker with the ASan runtime preloaded.'
	echo "LD_PRELOAD=\"$asan_lib:$ubsan_lib:$shim\${LD_PRELOAD:+:\$LD_PRELOAD}\""
	echo 'export LD_PRELOAD'
	echo 'exec /usr/sbin/mosquitto "$@"'
} >"$wrap/mosquitto"
chmod 755 "$wrap/mosquitto"

# allocator_release_to_os_interval_ms=-1: with libfaketime preloaded, the
# ASan allocator's first use of a size class calls clock_gettime, which
# lands in libfaketime; its lazy dlsym() then calls malloc inside the
# allocator's lock and the process hangs. Not releasing memory to the OS
# on a timer removes that call.
# symbolize=0: symbolizing in a process under libfaketime crashes or hangs
# (SEGV in the report, or glibc's "The futex facility returned an
# unexpected error code"); reports keep "(module+0xoffset)" frames that
# tests/fuzz/sanitizer_report.py symbolizes afterwards with addr2line.
# fast_unwind_on_malloc=0: whole allocation stacks through mosquitto and
# libraries built without frame pointers (the suppressions match on them).
# verify_asan_link_order=0: the sanitized simulator runs with libfaketime
# preloaded ahead of the ASan runtime it links (harmless: libfaketime
# interposes no memory function).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0:allocator_release_to_os_interval_ms=-1:symbolize=0:verify_asan_link_order=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:symbolize=0
unset LSAN_OPTIONS

passed=0
failed=0
logdir=$build/test-logs
mkdir -p "$logdir"

count() { # file-with-output, label, exit code (as tests/run.sh)
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

# scan FILE LABEL: one failure per file holding a sanitizer report that
# tests/fuzz/sanitizer_report.py does not clear (see there).
scan() {
	local out
	out=$(python3 tests/fuzz/sanitizer_report.py "$1" "$supp")
	local rc=$? n
	n=$(grep -c '^suppressed' <<<"$out")
	[ "$n" -gt 0 ] && echo "   $2: $n leak report(s) of mosquitto/libraries suppressed ($1)"
	[ "$rc" -eq 0 ] && return 0
	echo "FAIL $2: sanitizer report in $1:"
	grep -v '^suppressed' <<<"$out" | head -n 40 | sed 's/^/   | /'
	failed=$((failed + 1))
	return 1
}

# The detection itself: a leak planted in the broker (a preloaded library
# that leaks in its constructor) must be reported, symbolized and not
# suppressed, through the same wrapper, options and scan.
canary_dir=$(mktemp -d /tmp/lowi-asan-canary.XXXXXX)
printf '#include <stdlib.h>\nvoid *volatile lowi_canary;\n__attribute__((constructor)) static void lowi_canary_leak(void) { lowi_canary = malloc(77); lowi_canary = 0; }\n' \
	>"$canary_dir/canary.c"
gcc -shared -fPIC -g -O0 -o "$canary_dir/canary.so" "$canary_dir/canary.c" || exit 1
(LD_PRELOAD="$canary_dir/canary.so" "$wrap/mosquitto" -h >"$canary_dir/broker.log" 2>&1) 2>/dev/null
out=$(python3 tests/fuzz/sanitizer_report.py "$canary_dir/broker.log" "$supp")
if [ $? -eq 1 ] && grep -q 'lowi_canary_leak' <<<"$out"; then
	echo "PASS sanity: a leak planted in the broker is reported and symbolized"
	passed=$((passed + 1))
else
	echo "FAIL sanity: a leak planted in the broker is not reported (see $canary_dir/broker.log)"
	failed=$((failed + 1))
fi
rm -rf "$canary_dir"

# suite_tests SUITE: the names meson gives that suite's tests.
suite_tests() {
	meson test -C "$build" --no-rebuild --list --suite "$1" 2>/dev/null | sed -E 's/.* \/ //'
}
unit=0 itests_run=()
for s in "${suites[@]}"; do
	case "$s" in
	unit) unit=1 ;;
	*) mapfile -t -O ${#itests_run[@]} itests_run < <(suite_tests "$s") ;;
	esac
done

# unit_tests: "name<TAB>command" of each unit test, its command shell-quoted,
# as meson runs it (a C program of build-asan/, or a Python check).
unit_tests() {
	meson introspect "$build" --tests | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin):
    if any(s.endswith(":unit") for s in t["suite"]):
        print(t["name"] + "\t" + shlex.join(t["cmd"]))'
}

# The unit tests record allocation stacks with the fast (frame pointer)
# unwinder: no mosquitto runs in them, so no suppression applies (all three
# name mosquitto's functions) and every report fails, whole stack or not;
# the slow unwinder, run on every malloc, made the tests that parse
# thousands of small documents spend most of their time unwinding.
unit_asan=${ASAN_OPTIONS/fast_unwind_on_malloc=0/fast_unwind_on_malloc=1}
# As many unit tests at once as there are cores, as meson runs them in the
# plain run; each one's output and exit code are judged in order after.
if [ -z "$filter" ] && [ "$unit" -eq 1 ]; then
	mapfile -t units < <(unit_tests)
	running=0
	for u in "${units[@]}"; do
		name=test_${u%%$'\t'*}
		cmd=${u#*$'\t'}
		rm -f "$logdir/$name.rc"
		(
			export ASAN_OPTIONS=$unit_asan
			eval "$cmd" >"$logdir/$name.log" 2>&1
			echo $? >"$logdir/$name.rc"
		) &
		running=$((running + 1))
		if [ "$running" -ge "$(nproc)" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
	wait
	for u in "${units[@]}"; do
		name=test_${u%%$'\t'*}
		rc=$(cat "$logdir/$name.rc" 2>/dev/null) || rc=1
		grep -E '^(FAIL|[a-z_]+: )' "$logdir/$name.log"
		count "$logdir/$name.log" "$name (asan)" "${rc:-1}"
		scan "$logdir/$name.log" "$name (asan)"
	done
fi

# The integration tests take the plugin, the simulator and the replay tool
# from scenario.BUILD, which LOWI_BUILD_DIR points at this build.
itests=tests/integration
export LOWI_BUILD_DIR="$root/$build"
slowdown="${SANITIZE_SLOWDOWN:-2}"
[[ "$slowdown" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "sanitize: SANITIZE_SLOWDOWN must be a number" >&2; exit 2; }
scratch=$(mktemp -d /tmp/lowi-asan.XXXXXX)
chmod 755 "$scratch"
# One pristine MariaDB datadir for the run, copied by each test's server
# (tests/integration/lib.py, MariaDB._template).
if [ -z "${LOWI_DB_TEMPLATE_DIR:-}" ]; then
	LOWI_DB_TEMPLATE_DIR=$(mktemp -d /tmp/lowi-db-template.XXXXXX)
	trap 'rm -rf "$LOWI_DB_TEMPLATE_DIR"' EXIT
	export LOWI_DB_TEMPLATE_DIR
fi

for n in "${itests_run[@]}"; do
	name=test_$n
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	if [ -z "$filter" ] && [[ "$NOT_SANITIZED" == *" $n "* ]]; then
		echo "== $name (asan): not replayed, no plugin path of its own (header)"
		continue
	fi
	echo "== $name (asan)"
	tmp="$scratch/$name"
	mkdir -p "$tmp"
	log="$logdir/$name.log"
	start=$(date +%s)
	# The test's clock, slowed down (see the header).
	clock=()
	spec=$(grep -oE 'use_fake_clock\("[^"]+", *[A-Za-z0-9_.]+\)' "$itests/$name.py" | head -n 1)
	if [ -n "$spec" ] && [ "$slowdown" != 1 ]; then
		fake_start=$(sed -E 's/.*\("([^"]+)".*/\1/' <<<"$spec")
		speed=$(sed -E 's/.*, *([A-Za-z0-9_.]+)\)$/\1/' <<<"$spec")
		[[ "$speed" =~ ^[0-9.]+$ ]] || speed=$(sed -nE "s/^$speed = ([0-9.]+).*/\1/p" "$itests/$name.py" | head -n 1)
		if [[ "$speed" =~ ^[0-9.]+$ ]]; then
			speed=$(awk -v s="$speed" -v d="$slowdown" 'BEGIN { printf "%g", s / d }')
			# The faketime wrapper names its semaphore and shared memory
			# after its PID, which exec keeps: clear a pair left by a killed
			# wrapper of an earlier run under the same PID.
			clock=(sh -c 'rm -f /dev/shm/sem.faketime_sem_$$ /dev/shm/faketime_shm_$$; exec "$@"' sh
				env FAKETIME_DONT_RESET=1 TZ=UTC faketime -f "@$fake_start x$speed")
			echo "   (clock: $fake_start x$speed)"
		fi
	fi
	opts=$ASAN_OPTIONS
	# test_hostile bounds the broker's resident set growth (64 MiB); ASan's
	# quarantine alone keeps up to 256 MiB of freed memory (by design, to
	# catch use after free). 8 MiB still catches the use of recently freed
	# blocks and leaves the bound meaningful (the remaining overhead, shadow
	# and redzones, grows with live memory, which is what the test bounds).
	[ "$name" = test_hostile ] && opts="$opts:quarantine_size_mb=8"
	ASAN_OPTIONS="$opts" PATH="$wrap:$PATH" TMPDIR="$tmp" \
		timeout -k 10 3600 "${clock[@]}" /usr/bin/python3 "$itests/$name.py" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|  \.\.)' "$log"
	echo "   ($(( $(date +%s) - start )) s, log: $log)"
	before=$failed
	count "$log" "$name (asan)" $rc
	scan "$log" "$name (asan)"
	nlogs=0
	while IFS= read -r -d '' b; do
		nlogs=$((nlogs + 1))
		scan "$b" "$name (asan) broker"
	done < <(find "$tmp" -name broker.log -print0 2>/dev/null)
	# A test that starts a broker with the plugin must have left its log
	# (test_estimator starts none: it runs the simulator offline).
	starts_broker=1
	grep -qE 'start_stack|Broker\(|start_broker' "$itests/$name.py" || starts_broker=0
	if [ "$nlogs" -eq 0 ] && [ "$starts_broker" -eq 1 ] && [ "$name" != test_lib_selfcheck ]; then
		echo "FAIL $name (asan): no broker.log found under $tmp"
		failed=$((failed + 1))
	else
		echo "   broker logs scanned: $nlogs"
	fi
	if [ "$failed" -eq "$before" ]; then
		rm -rf "$tmp"
	else
		echo "   kept: $tmp"
	fi
done
rmdir "$scratch" 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
