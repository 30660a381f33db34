#!/usr/bin/env bash
# One integration scenario with the broker under valgrind memcheck, on the
# real clock (valgrind and libfaketime do not mix): a private MariaDB, the
# price fixture server (with a few faults), mosquitto loading the plugin
# from build-valgrind/ and run as
#   valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=99 --suppressions=... mosquitto -c conf
# and the simulator publishing every second for a couple of minutes (two
# meters, unrelated traffic, the bad-payload corpus). Checks: messages
# flowed and were delivered, the plugin logged its start and stop lines,
# the writer connected to MariaDB, the price worker stored prices, and
# valgrind found no error and no definite leak (so none in lowi_p1.so
# either), nor any indirect leak from a plugin frame. Prints the valgrind
# summary. Ends with "N passed, N failed".
#
#   tests/valgrind.sh            about 2 minutes of publishing
#   tests/valgrind.sh 300        5 minutes
#   VALGRIND_CROSS_QUARTER=1 tests/valgrind.sh
#                                publish until 30 s past the next quarter-hour
#                                of the real clock (up to 15.5 min), so that
#                                Conso rows are also written under memcheck
#   VALGRIND_BUILD=build tests/valgrind.sh
#                                another build directory (default build-valgrind)
set -u
cd "$(dirname "$0")/.."
root=$PWD
seconds="${1:-120}"
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [seconds of publishing]" >&2; exit 2 ;; esac
build="${VALGRIND_BUILD:-build-valgrind}"

tests/install-deps.sh valgrind || exit 1

# The plugin and simulator as tests/run.sh builds them (debugoptimized,
# -g), in a build directory of this script's own, or in the one
# VALGRIND_BUILD names: .ci/run gives it tests/run.sh's build/, already
# built with the same options, so as not to compile the same tree again
# while the fuzzers run.
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --werror >/dev/null || { meson setup "$build" --werror; exit 1; }
fi
meson compile -C "$build" >/dev/null || { meson compile -C "$build"; exit 1; }

# ---- memcheck suppressions: mosquitto's and libraries' own, never a frame
# of the plugin's code. The file is read by valgrind at start, as root.
supp="$root/$build/valgrind.supp"
cat >"$supp" <<'EOF'
# (no entry needed so far with mosquitto 2.0.11, libmariadb 3.3, libcurl
# 7.88 and OpenSSL 3.0 on Debian 12; add one per library-owned report, with
# the reason, never matching obj:*lowi_p1.so)
EOF

# A no-op dlclose(), preloaded into the broker: mosquitto dlclose()s the
# plugin at exit, before memcheck's leak check; unmapped, the blocks its
# libraries (libmariadb, libcurl, OpenSSL, ...) keep in their globals would
# look lost. (Preloading the plugin itself deadlocks at exit, in
# libp11-kit's destructor, when the plugin's init fails.)
shim="$root/$build/nodlclose.so"
echo 'int dlclose(void *handle) { (void)handle; return 0; }' >"$root/$build/nodlclose.c"
gcc -shared -fPIC -O2 -o "$shim" "$root/$build/nodlclose.c" || exit 1

logdir=$build/test-logs
mkdir -p "$logdir"
log="$logdir/valgrind.log"
scenario="$root/$build/valgrind_scenario.py"
cat >"$scenario" <<'PY'
"""tests/valgrind.sh's scenario: see the header of tests/valgrind.sh."""
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.environ["LOWI_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.argv[0] = "valgrind"
import lib  # noqa: E402
from lib import check, note, run_main  # noqa: E402
import prices as px  # noqa: E402
import scenario as sc  # noqa: E402

BUILD = os.environ["LOWI_VG_BUILD"]
PLUGIN = os.path.join(BUILD, "plugin", "lowi_p1.so")
SIM = os.path.join(BUILD, "tests", "sim", "lowi-sim")
SUPP = os.environ["LOWI_VG_SUPP"]
SECONDS = int(os.environ["LOWI_VG_SECONDS"])
# --vgdb=no: no gdbserver FIFOs in /tmp (the broker, once it has dropped
# privileges, could not remove them).
VALGRIND = ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=99", f"--suppressions={SUPP}", "--keep-debuginfo=yes", "--num-callers=40",
            "--track-origins=yes", "--vgdb=no"]


def canary(base):
    """The detection itself: a block leaked by a library preloaded into
    mosquitto must make memcheck exit 99 with a definite leak named."""
    d = os.path.join(base, "canary")
    os.makedirs(d)
    with open(os.path.join(d, "canary.c"), "w") as f:
        f.write("#include <stdlib.h>\nvoid *volatile lowi_canary;\n"
                "__attribute__((constructor)) static void lowi_canary_leak(void)"
                " { lowi_canary = malloc(77); lowi_canary = 0; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-g", "-O0", "-o", f"{d}/canary.so", f"{d}/canary.c"], check=True)
    log = os.path.join(d, "valgrind.log")
    env = dict(os.environ, LD_PRELOAD=f"{os.environ['LOWI_VG_SHIM']}:{d}/canary.so")
    r = subprocess.run(VALGRIND + [f"--log-file={log}", "mosquitto", "-h"], env=env, capture_output=True, timeout=120)
    text = open(log, errors="replace").read()
    check("sanity: a leak planted in mosquitto is found (exit 99, definite, named)",
          r.returncode == 99 and re.search(r"definitely lost: 77 bytes", text) and "lowi_canary_leak" in text,
          f"exit {r.returncode}")


def plugin_frame_re():
    """Matches a stack frame in the plugin: its object, or one of its sources."""
    names = sorted(f for d in ("plugin", "price-worker") for f in os.listdir(os.path.join(ROOT, d))
                   if f.endswith(".c"))
    return re.compile(r"lowi_p1\.so|\((?:" + "|".join(re.escape(n) for n in names) + r"):\d+\)")


def valgrind_summary(path):
    """(errors, {kind: bytes}, plugin_blocks, text) of a memcheck log.
    plugin_blocks: error reports, and definite or indirect loss records,
    with a frame in the plugin."""
    text = open(path, errors="replace").read()
    m = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)
    errors = int(m[-1].replace(",", "")) if m else None
    lost = {}
    for kind in ("definitely lost", "indirectly lost", "possibly lost", "still reachable"):
        m = re.search(kind + r": ([\d,]+) bytes", text)
        lost[kind] = int(m.group(1).replace(",", "")) if m else 0
    frame = plugin_frame_re()
    blocks = re.split(r"\n==\d+== \n", text)
    plugin = []
    for b in blocks:
        if not frame.search(b):
            continue
        if "lost in loss record" in b:
            if "definitely lost" in b or "indirectly lost" in b:
                plugin.append(b)
        elif re.search(r"Invalid|uninitialised|Uninitialised|Mismatched|overlap|Syscall param|Jump to", b):
            plugin.append(b)
    return errors, lost, plugin, text


def main():
    base = sc.workdir("valgrind")
    canary(base)
    fixtures = px.FixtureServer(base)
    db = lib.MariaDB().start(os.path.join(base, "db"))
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    today = dt.date.today()
    first = today - dt.timedelta(days=3)
    # Faults on the days asked first: a garbage body, null prices, a
    # truncated transfer; the worker logs them and asks again later. The
    # partly stored day between the two failures is a usable answer and
    # ends the first run of failures, so the source's pause after the
    # second is the minimum (price_retry.h), not twice it, and the null
    # day's retry falls within it: this scenario is on the real clock, and
    # the back-off, not the memory checks, would set its length.
    fixtures.fault(first.isoformat(), "garbage")
    fixtures.fault((first + dt.timedelta(days=1)).isoformat(), "nulls")
    fixtures.fault((first + dt.timedelta(days=2)).isoformat(), "truncated")
    port = lib.free_port()
    opts = sc.plugin_options(db, "P1", price_source="elia", price_url=fixtures.url + px.ELIA_PATH,
                             price_start=first.isoformat())
    vglog = os.path.join(base, "broker", "valgrind.log")
    cmd = VALGRIND + [f"--log-file={vglog}"]
    # The no-op dlclose() keeps the plugin and its libraries mapped until
    # the leak check (see tests/valgrind.sh).
    env = dict(os.environ, LD_PRELOAD=os.environ["LOWI_VG_SHIM"])
    t0 = lib.real_time()
    broker = lib.Broker().start(lib.broker_conf(port, plugin=PLUGIN, plugin_opts=opts),
                                os.path.join(base, "broker"), port=port, timeout=120, env=env, cmd_prefix=cmd)
    note(f"broker under valgrind listening after {lib.real_time() - t0:.1f} s; log {broker.log_path}")
    check("plugin logged its start-up line", broker.wait_log(r"lowi-p1: recording topic", 60), "")
    check("the writer connected to MariaDB", broker.wait_log(r"lowi-p1: connected to MariaDB", 120), "")

    duration = SECONDS
    if os.environ.get("VALGRIND_CROSS_QUARTER") == "1":
        now = time.time()
        duration = max(duration, int(900 - now % 900) + 30)
    note(f"publishing for {duration} s (real clock)")
    bad = os.path.join(sc.CORPUS, "bad")
    cmd = sc.sim_command(port, base, meters=2, interval=1, jitter=0, drift=0, duration=duration, seed=3,
                         noise=1, bad_dir=bad, bad_every=7, subscribe=True,
                         record=f"{base}/received.txt", sent=f"{base}/sent.txt")
    cmd[0] = SIM
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 300)
    note("simulator: " + r.stdout.strip().replace("\n", " | "))
    check("simulator finished", r.returncode == 0, f"exit {r.returncode} {r.stderr.strip()[-300:]}")
    m = re.search(r"bad[ =:]+(\d+)", r.stdout)
    bad_sent = int(m.group(1)) if m else -1

    days_ok = px.wait_days(db, "P1", first, today, 240)
    rows = px.stored(db, "P1")
    check("price worker stored every day from the fixture server despite the faults", days_ok,
          f"{len(rows)} periods from {first} to {today}")
    unserved = fixtures._call("/_control")
    check("every planted fault was served", unserved == [], f"not served: {unserved}")
    conso = sc.db_rows(db)
    note(f"{len(conso)} Conso rows")
    if os.environ.get("VALGRIND_CROSS_QUARTER") == "1":
        check("Conso rows written across the quarter-hour", len(conso) >= 2, f"{len(conso)} rows")

    t0 = lib.real_time()
    stop = broker.stop(timeout=300)
    note(f"broker stopped in {stop.seconds:.1f} s real (leak check included), exit {stop.returncode}")
    sent, got, lost, extra = sc.delivery_check(base)
    check("every message delivered byte for byte", sent > 0 and lost == 0 and extra == 0,
          f"sent {sent}, received {got}, lost {lost}, unexpected {extra}")
    summary = broker.log_lines(r"lowi-p1: stopping:")
    counters = broker.counters()
    check("plugin logged its stop lines", summary and "messages" in counters and "price_periods" in counters,
          " | ".join(summary)[:400] if summary else broker.log_text()[-500:])
    if counters:
        msgs, readings = counters.get("messages", 0), counters.get("readings", 0)
        rejected = counters.get("payloads_rejected", -1)
        check("messages flowed through the plugin", msgs > 0 and readings > 0 and rejected == bad_sent,
              f"messages {msgs}, readings {readings}, rejected {rejected} (bad payloads sent {bad_sent})")

    errors, lost_bytes, plugin_records, text = valgrind_summary(vglog)
    note("valgrind: " + "; ".join(f"{k} {v} bytes" for k, v in lost_bytes.items()) + f"; ERROR SUMMARY {errors}")
    check("broker exited 0 under valgrind (not 99: no memcheck error, no definite leak)",
          stop.returncode == 0 and not stop.killed, f"exit {stop.returncode}, killed {stop.killed}")
    check("memcheck: 0 errors", errors == 0, f"ERROR SUMMARY: {errors} errors (log {vglog})")
    check("no definite or indirect leak, no error in a plugin frame", not plugin_records,
          f"{len(plugin_records)} records" + ("; first:\n" + plugin_records[0][:3000] if plugin_records else ""))
    if errors or plugin_records:
        print(text[-6000:])
    fixtures.stop()
    db.stop()
    if lib.counts()[1] == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        note(f"work directory kept: {base}")


run_main(main)
PY

start=$(date +%s)
LOWI_ROOT="$root" LOWI_VG_BUILD="$root/$build" LOWI_VG_SUPP="$supp" LOWI_VG_SECONDS="$seconds" LOWI_VG_SHIM="$shim" \
	timeout -k 10 2400 /usr/bin/python3 "$scenario" >"$log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|  \.\.)' "$log"
echo "   ($(( $(date +%s) - start )) s, log: $log)"
line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -z "$line" ]; then
	tail -n 30 "$log"
	echo "0 passed, 1 failed"
	exit 1
fi
p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
