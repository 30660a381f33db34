#!/usr/bin/env bash
# lowi-p1 benchmarks: installs what they need, builds into build-bench/
# (the plugin and lowi-sim in release mode with meson; the load generator,
# the callgrind driver and a do-nothing plugin with gcc), runs them and
# prints one table.
#
#   tests/bench/run.sh                     everything (about 16 minutes on 2 cores)
#   tests/bench/run.sh --parts percall     some parts: percall, brokercost, throughput, scale,
#                                          reference, backfill
#   tests/bench/run.sh --parts reference   broker + collector CPU per LOWI message: a bare broker
#                                          with the reference program's Python collector beside
#                                          it vs lowi-p1 alone, and a bare broker alone (the
#                                          floor), 1,000 meters (about 10 minutes)
#   tests/bench/run.sh --parts backfill    six years of Elia-format prices from the fixture
#                                          server into PxElectr: rows, rows/s without the
#                                          politeness pauses, broker CPU s (about 2.5 minutes)
#   tests/bench/run.sh --reps 7            more alternating repetitions
#   tests/bench/run.sh --quick             smoke run (tiny counts)
#
# Servers (a private MariaDB, mosquitto brokers) listen on 127.0.0.1 only,
# on free ports above 20000, and are stopped by PID when it ends. Run on an
# otherwise idle machine: the figures are ratios against a baseline
# measured in the same run, but a busy machine widens their spread.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build-bench

# ---- dependencies: the project's own, plus valgrind for callgrind
tests/install-deps.sh
need=()
for p in valgrind libmosquitto-dev mosquitto-dev mosquitto faketime libfaketime mariadb-server python3-pymysql python3-paho-mqtt python3-mysqldb; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: missing packages: ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
		exit 1
	fi
	echo "bench: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (the brokers run as user mosquitto, as in the integration tests)" >&2
	exit 1
fi

# ---- build: release, as installed (README: meson setup --buildtype=release)
mkdir -p "$OUT"
if [ ! -f "$OUT/meson/build.ninja" ]; then
	meson setup "$OUT/meson" --buildtype=release >"$OUT/meson-setup.log" 2>&1 \
		|| { tail -20 "$OUT/meson-setup.log" >&2; exit 1; }
fi
meson compile -C "$OUT/meson" lowi_p1 lowi-sim >"$OUT/meson-compile.log" 2>&1 \
	|| { tail -30 "$OUT/meson-compile.log" >&2; exit 1; }
CFLAGS="-std=c11 -D_GNU_SOURCE -O3 -g -Wall -Wextra -Werror"
gcc $CFLAGS -o "$OUT/loadgen" tests/bench/loadgen.c -lmosquitto -lpthread
# percall links the plugin's core sources compiled with the flags meson uses
# for them in the release build (-O3 -fPIC and the hardening flags of
# meson.build), plus -g for callgrind_annotate.
gcc $CFLAGS -D_FILE_OFFSET_BITS=64 -fPIC -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -Iplugin -Itests/bench -o "$OUT/percall" tests/bench/percall.c \
	plugin/topic.c plugin/intake.c plugin/payload.c plugin/payload_general.c plugin/payload_fast.c plugin/meters.c plugin/quarter.c -lm -lpthread
gcc $CFLAGS -Iplugin -o "$OUT/meter_bytes" tests/bench/meter_bytes.c plugin/meters.c
gcc $CFLAGS -shared -fPIC -o "$OUT/idle_thread_plugin.so" tests/bench/idle_thread_plugin.c -lpthread

exec /usr/bin/python3 tests/bench/bench.py "$@"
