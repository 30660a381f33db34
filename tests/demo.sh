#!/usr/bin/env bash
# The whole thing, locally: installs what is missing, builds, then runs a
# private MariaDB, mosquitto 2.0.11 with the lowi-p1 plugin, and simulated
# LOWIs on a clock 60x faster than real (a quarter-hour every 15 s), and
# prints Conso rows as the plugin writes them. Stops by itself.
#
#   tests/demo.sh [minutes of real time, default 3] [meters, default 3]
set -eu
cd "$(dirname "$0")/.."
tests/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec /usr/bin/python3 tests/demo.py "${1:-3}" "${2:-3}"
