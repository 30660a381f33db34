#!/usr/bin/env bash
# Runs lowi-p1's tests through `meson test`: installs what is missing,
# builds with warnings as errors, runs the chosen suites and ends with
# "N passed, N failed" (the checks of every test; tests/summary.py).
#
#   tests/run.sh                     every suite: unit, integration, slow
#   tests/run.sh --suite unit        the pure core and in-process modules
#                                    (seconds: the loop to run on every change)
#   tests/run.sh --suite integration real broker + MariaDB, short scenarios
#   tests/run.sh --suite slow        long accelerated scenarios
#   tests/run.sh accuracy            only the tests whose name contains it
#   LOWI_BUILD=build-x tests/run.sh  another build directory
#
# Suites and timeouts are declared in tests/unit/meson.build and
# tests/integration/meson.build; `meson test -C build --list` shows them.
# A test's whole output: build/test-logs/<name>.log.
set -u
cd "$(dirname "$0")/.."
build="${LOWI_BUILD:-build}"
suites=()
filter=
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) [ $# -ge 2 ] || { echo "usage: $0 [--suite unit|integration|slow]... [name]" >&2; exit 2; }
		suites+=(--suite "$2"); shift 2 ;;
	--suite=*) suites+=(--suite "${1#--suite=}"); shift ;;
	-*) echo "usage: $0 [--suite unit|integration|slow]... [name]" >&2; exit 2 ;;
	*) filter=$1; shift ;;
	esac
done

tests/install-deps.sh || exit 1
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --werror >/dev/null || { meson setup --wipe "$build" --werror; exit 1; }
fi
meson compile -C "$build" >/dev/null || { meson compile -C "$build"; exit 1; }

names=()
if [ -n "$filter" ]; then
	mapfile -t names < <(meson test -C "$build" --list "${suites[@]}" 2>/dev/null \
		| sed -E 's/.* \/ //' | grep -F -- "$filter")
	if [ ${#names[@]} -eq 0 ]; then
		echo "run.sh: no test name contains '$filter'" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
fi

# Every test belongs to one of the three suites, or `--suite` would skip it.
stray=$(meson test -C "$build" --no-rebuild --list 2>/dev/null | grep -vE ':(unit|integration|slow) / ')
if [ -n "$stray" ]; then
	echo "FAIL tests in no suite (give them suite : 'unit', 'integration' or 'slow'): $stray"
	echo "0 passed, 1 failed"
	exit 1
fi

# One pristine MariaDB datadir for the run, copied by each test's server
# (tests/integration/lib.py, MariaDB._template).
if [ -z "${LOWI_DB_TEMPLATE_DIR:-}" ]; then
	LOWI_DB_TEMPLATE_DIR=$(mktemp -d /tmp/lowi-db-template.XXXXXX)
	trap 'rm -rf "$LOWI_DB_TEMPLATE_DIR"' EXIT
	export LOWI_DB_TEMPLATE_DIR
fi

PYTHONUNBUFFERED=1 meson test -C "$build" --no-rebuild "${suites[@]}" "${names[@]}" 2>&1 \
	| grep --line-buffered -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): +[0-9]+ *$|^Full log written|^$'
/usr/bin/python3 tests/summary.py "$build/meson-logs/testlog.json" "$build/test-logs"
