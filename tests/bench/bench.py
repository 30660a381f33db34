#!/usr/bin/env python3
"""lowi-p1 benchmarks: run by tests/bench/run.sh after it has built
build-bench/ (plugin in release mode, loadgen, percall, lowi-sim).

    bench.py [--parts percall,brokercost,throughput,scale,reference,backfill] [--reps 5] [--quick] [--keep]
             [--scale-sizes 1000,10000] [--scale-live off,live,ha] [--scale-quarters N]
             [--scale-interval S] [--scale-speed X]

Parts (each figure is a ratio or a count against a baseline of the same run):

  brokercost  the whole broker process (all threads) under callgrind:
              instructions per QoS 0 message over 40,000 messages after a
              warm-up, from the difference of a run with and a run without
              them; bare broker, lowi-p1 (LOWI and unrelated topics), and a
              do-nothing plugin that only starts one idle thread
              (tests/bench/idle_thread_plugin.c). Deterministic to 0.1 %.

  throughput  4 publishers -> 1 subscriber on loopback, ~330-byte LOWI CH0
              payloads, QoS 0 and QoS 1, 10,000 serials. Six broker set-ups,
              each started fresh for every run and alternated (the order
              rotates every repetition):
                bare / plugin            LOWI topics <serial>/PUB/CH0, real clock
                bare / plugin, unrelated the same payloads on bench/<serial>/p1
                bare / plugin, x600      LOWI topics, broker on a clock 600x
                                         faster (libfaketime), so that quarters
                                         end every 1.5 s and 10,000 rows are
                                         written to MariaDB at each
              msg/s received (median of --reps runs) and the per-repetition
              ratio plugin/bare (median). received == sent is checked.
  percall     callgrind instruction counts per LOWI message: on the broker
              thread (prefilter, copy into the intake) and on the
              aggregator thread (topic match, decode, meter lookup, quarter
              feed), 200,000 messages of 1,000 meters; deterministic, run
              twice to show it.
  scale       lowi-sim with 1,000 and 10,000 meters (--scale-sizes; 100,000
              too) publishing every 10 s, on a clock 10x faster up to 10,000
              meters and in real time above (10,000 msg/s either way), bare
              broker vs plugin: broker CPU share, resident memory per meter
              (all meters known; after several quarters of rows; peak), the
              time from each quarter boundary until every meter's row of the
              quarter is committed, and rows missing in Conso. One run per
              set-up: about 8 min with the plugin at x10 (five quarters of
              rows), 33 min at x1 (two). Plugin set-ups (--scale-live,
              default ha): off (live false), live (live states, no Home
              Assistant discovery), ha (both, the defaults); each run keeps a
              subscriber on lowi-p1/+/live and reports the live states it
              received, the live counters, and the RSS difference between
              set-ups (the retained states and discovery configs).
              --scale-quarters, --scale-interval, --scale-speed change the
              plan, e.g. 100,000 meters every 60 s on a clock x6 (the same
              10,000 msg/s). The meter table's own bytes per meter come from
              tests/bench/meter_bytes.c.
  reference   CPU per LOWI message of broker + collector: a bare broker with
              the reference program's collector beside it (Python,
              paho-mqtt, MySQLdb: reference_subscriber.py) against lowi-p1
              alone, and a bare broker with neither (the floor: the most
              the ratio could be); 1,000 meters every 10 s on a clock 60x
              faster, 32.5 simulated minutes a run, --reps runs of each,
              alternated (reference.py; about 10 min).
  backfill    the price worker backfills six years (2020-10-01..2026-09-30,
              2,191 days) from the fixture server in the Elia format, on a
              clock 20x faster: PxElectr rows, rows/s without the politeness
              pauses, broker CPU seconds (backfill.py; about 2.5 min).

Servers: one private MariaDB and the brokers on free loopback ports above
20000, all stopped at exit (lib.py's bookkeeping, by PID).
"""

import argparse
import datetime
import glob
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import lib  # noqa: E402
from lib import Broker, MariaDB, real_time  # noqa: E402

BB = os.path.join(ROOT, "build-bench")
PLUGIN = os.path.join(BB, "meson", "plugin", "lowi_p1.so")
SIM = os.path.join(BB, "meson", "tests", "sim", "lowi-sim")
LOADGEN = os.path.join(BB, "loadgen")
PERCALL = os.path.join(BB, "percall")
METER_BYTES = os.path.join(BB, "meter_bytes")
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
DB_USER, DB_PASSWORD = "lowi", "lowi-bench-secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    """A free TCP port on 127.0.0.1 in 20001..32767 (below the ephemeral range)."""
    for _ in range(200):
        port = random.randint(20001, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port above 20000")


def bench_conf(port, plugin_opts=None):
    """Broker conf: loopback listener, no per-message logging, queues large
    enough that the broker drops nothing (checked: received == sent)."""
    lines = ["per_listener_settings false", "log_dest stderr",
             "log_type error", "log_type warning", "log_type notice", "log_type information",
             "log_timestamp true", "persistence false",
             "max_queued_messages 10000000", "max_queued_bytes 0",
             f"listener {port} 127.0.0.1", "allow_anonymous true"]
    if plugin_opts is not None:
        lines.append(f"plugin {PLUGIN}")
        lines += [f"plugin_opt_{k} {v}" for k, v in plugin_opts.items()]
    return "\n".join(lines) + "\n"


def fake_env(start, speed):
    """Environment for a process on a clock starting at `start` (UTC) and
    running `speed` times faster than real (libfaketime, as the integration
    tests use it). The monotonic clock is faked too: with
    DONT_FAKE_MONOTONIC=1, libfaketime 0.9.10 makes every
    pthread_cond_timedwait on CLOCK_MONOTONIC return at once, and the
    plugin's writer thread would spin (loadgen uses the longest keepalive so
    that the broker's faster clock never times its clients out)."""
    return dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME=f"@{start} x{speed}", TZ="UTC")


def spool_dir(base):
    d = tempfile.mkdtemp(prefix="spool-", dir=base)
    if os.geteuid() == 0:
        shutil.chown(d, "mosquitto", "mosquitto")
    return d


def plugin_opts(db, db_name, base, speed=1):
    return {"db_host": "127.0.0.1", "db_port": str(db.port), "db_user": DB_USER,
            "db_password": DB_PASSWORD, "db_name": db_name,
            "db_timeout": str(30 * speed), "price_source": "none", "spool_dir": spool_dir(base)}


def plugin_summary(broker):
    """The counters of the plugin's last stop, name -> value (README, Counters)."""
    return lib.counters_in(ln for ln in broker.log_text().splitlines() if "lowi-p1: stopping: " in ln) or None


def start_broker(base, name, port, opts=None, env=None, wait_db=True):
    b = Broker().start(bench_conf(port, opts), os.path.join(base, name), port=port, env=env)
    if opts is not None and wait_db:
        b.wait_log(r"lowi-p1: connected to MariaDB", 30)
    return b


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- throughput

TP_SETUPS = [
    # key, plugin, other topics, fake clock speed
    ("bare", False, False, None),
    ("plugin", True, False, None),
    ("bare_other", False, True, None),
    ("plugin_other", True, True, None),
    # a do-nothing plugin that only starts one idle thread: the floor of
    # any plugin that has threads (glibc's multi-threaded paths)
    ("idle_other", "idle", True, None),
    ("bare_fast", False, False, "fast"),
    ("plugin_fast", True, False, "fast"),
]
# The accelerated set-ups: a quarter lasts 1.5 s real. The broker clock
# starts at 10:05 so that 10:15 comes about 0.6 s into the load: meters get
# their first reading in [10:00, 10:15), their first row at 10:30 (the first
# quarter has no start index), and another every 1.5 s while the run lasts.
# At 30,000-150,000 msg/s over 10,000 meters, each meter then publishes
# every 40-200 simulated seconds: readings a LOWI could send, rows not
# estimated. 10,000 rows every 1.5 s is far more writing than a real
# deployment does (10,000 meters make 11 rows/s): a stress of the writer.
TP_SPEED = 600
TP_FAKE_START = "2026-01-05 10:05:00"


def run_loadgen(port, qos, other, count, max_s, serials):
    return run_loadgen_args(port, qos, other, count, max_s, serials, [])


def run_loadgen_args(port, qos, other, count, max_s, serials, extra):
    cmd = [LOADGEN, "--port", str(port), "--pubs", "4", "--count", str(count), "--max-seconds", str(max_s),
           "--qos", str(qos), "--serials", str(serials)] + (["--other-topics"] if other else []) + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=max_s + 180)
    if r.returncode not in (0, 1) or "msg_per_s=" not in r.stdout:
        raise RuntimeError(f"loadgen exited {r.returncode}: {r.stderr.strip()[-1000:]}")
    out = {}
    for kv in r.stdout.split():
        k, v = kv.split("=", 1)
        out[k] = float(v) if "." in v else int(v)
    return out


def throughput(base, db, reps, count, max_s, serials):
    db.create_database("bench_tp", DB_USER, DB_PASSWORD)
    results = {}   # (key, qos) -> list of run dicts, in rep order
    for rep in range(reps):
        for qos in (0, 1):
            order = TP_SETUPS[rep % len(TP_SETUPS):] + TP_SETUPS[:rep % len(TP_SETUPS)]
            for key, plugin, other, speed in order:
                port = free_port()
                env = fake_env(TP_FAKE_START, TP_SPEED) if speed else None
                opts = plugin_opts(db, "bench_tp", base, TP_SPEED if speed else 1) if plugin is True else None
                if plugin == "idle":
                    broker = Broker().start(bench_conf(port) + f"plugin {IDLE_PLUGIN}\n",
                                            os.path.join(base, f"tp-{key}-q{qos}-r{rep}"), port=port)
                else:
                    broker = start_broker(base, f"tp-{key}-q{qos}-r{rep}", port, opts, env)
                try:
                    run = run_loadgen(port, qos, other, count, max_s, serials)
                finally:
                    stop = broker.stop(timeout=120)
                run["summary"] = plugin_summary(broker) if plugin is True else None
                run["stop_s"] = stop.seconds
                results.setdefault((key, qos), []).append(run)
                s = run["summary"]
                log(f"rep {rep + 1}/{reps} qos {qos} {key:13s} {run['msg_per_s']:9.0f} msg/s "
                    f"sent {run['sent']} received {run['received']}"
                    + (f"; plugin: messages {s['messages']} readings {s['readings']} rows written "
                       f"{s['rows_written']}/{s['rows_queued']} dropped {s['rows_dropped']}" if s else ""))
                shutil.rmtree(broker.workdir, ignore_errors=True)
    return results


# ---------------------------------------------------------------- percall

def callgrind_once(base, meters, readings):
    out = os.path.join(base, f"callgrind.out.{len(os.listdir(base))}")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=run_messages",
                        f"--callgrind-out-file={out}", PERCALL, str(meters), str(readings)],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"percall under callgrind exited {r.returncode}: {r.stderr[-2000:]}")
    info = dict(kv.split("=", 1) for kv in r.stdout.split())

    def annotate(*extra):
        a = subprocess.run(["callgrind_annotate", "--threshold=100", *extra, out],
                           capture_output=True, text=True, check=True).stdout
        costs = {}
        for line in a.splitlines():
            m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(?:\S*:)?(\S+?)(?: \[.*\])?$", line)
            if m and "PROGRAM TOTALS" not in line:
                name = m.group(2).split(":")[-1]
                costs.setdefault(name, int(m.group(1).replace(",", "")))
        return costs
    return info, annotate("--inclusive=yes"), annotate()


def percall(base, meters=1000, readings=200):
    runs = [callgrind_once(base, meters, readings) for _ in range(2)]
    info, incl, excl = runs[0]
    n = int(info["messages"])
    total = incl["run_messages"]
    steps = {k: incl.get(f"step_{k}", 0) for k in ("prefilter", "push", "next", "topic", "decode", "lookup", "feed")}
    res = {"messages": n, "info": info, "total": total / n,
           "steps": {k: v / n for k, v in steps.items()},
           "rest": (total - sum(steps.values())) / n,
           "repeatable": runs[0][1].get("run_messages") == runs[1][1].get("run_messages"),
           "self": sorted(((v / n, k) for k, v in excl.items()), reverse=True)[:12]}
    ns = []
    for _ in range(5):
        r = subprocess.run([PERCALL, str(meters), str(readings)], capture_output=True, text=True, check=True)
        ns.append(float(dict(kv.split("=", 1) for kv in r.stdout.split())["ns_per_message"]))
    res["ns_native"] = statistics.median(ns)
    return res


# ---------------------------------------------------------------- brokercost

BC_SETUPS = [("bare", False, False), ("plugin", True, False), ("bare_other", False, True), ("plugin_other", True, True),
             ("idle_thread_other", "idle", True)]
IDLE_PLUGIN = os.path.join(BB, "idle_thread_plugin.so")


def callgrind_threads(path):
    """(broker thread, all threads) instruction totals of a run made with
    --separate-threads=yes: one file per thread, path-01 the main one."""
    files = sorted(glob.glob(glob.escape(path) + "-[0-9]*"), key=lambda f: int(f.rsplit("-", 1)[1]))
    if not files:
        total = callgrind_total(path)
        return total, total
    return callgrind_total(files[0]), sum(callgrind_total(f) for f in files)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def brokercost_run(base, db, key, plugin, other, count, serials, measured):
    """The whole broker process (every thread) under callgrind, from start to
    stop: a warm-up load that gives every meter its first reading, then,
    when `measured`, `count` x 4 more messages. The difference between a
    measured and an unmeasured run is the cost of those messages.
    (callgrind_control -z/-d would avoid the second run, but vgdb cannot
    reach the broker here.)"""
    port = free_port()
    tag = f"bc-{key}-{'m' if measured else 'w'}"
    work = os.path.join(base, tag)
    # The broker writes its callgrind files (one per thread) at exit, after
    # dropping privileges to the mosquitto user.
    out_dir = os.path.join(base, tag + ".callgrind")
    os.makedirs(out_dir, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(out_dir, "mosquitto", "mosquitto")
    out = os.path.join(out_dir, "out")
    opts = plugin_opts(db, "bench_bc", base) if plugin is True else None
    conf = bench_conf(port, opts)
    if plugin == "idle":
        conf += f"plugin {IDLE_PLUGIN}\n"
    broker = Broker().start(conf, work, port=port, timeout=120,
                            cmd_prefix=["valgrind", "--tool=callgrind", "--separate-threads=yes",
                                        f"--callgrind-out-file={out}"])
    run = None
    try:
        if plugin is True:
            broker.wait_log(r"lowi-p1: connected to MariaDB", 120)
        warm = run_loadgen(port, 0, other, (serials + 3) // 4, 900, serials)
        if measured:
            # --base-wh 10: counters continue upwards from the warm-up's.
            run = run_loadgen_args(port, 0, other, count, 900, serials, ["--base-wh", "10"])
    finally:
        stop = broker.stop(timeout=300)
    if stop.killed:
        raise RuntimeError(f"{tag}: broker under valgrind did not stop")
    ir_main, ir = callgrind_threads(out)
    return {"ir": ir, "ir_main": ir_main, "warm": warm, "run": run,
            "summary": plugin_summary(broker) if plugin is True else None}


def brokercost_one(base, db, key, plugin, other, count, serials):
    w = brokercost_run(base, db, key, plugin, other, count, serials, False)
    m = brokercost_run(base, db, key, plugin, other, count, serials, True)
    run, summary = m["run"], m["summary"]
    res = {"key": key, "messages": run["received"], "sent": run["sent"], "warm": m["warm"]["sent"],
           "ir": m["ir"] - w["ir"], "ir_per_msg": (m["ir"] - w["ir"]) / max(1, run["sent"]),
           "main_per_msg": (m["ir_main"] - w["ir_main"]) / max(1, run["sent"]), "summary": summary}
    log(f"brokercost {key:13s}: {res['main_per_msg']:,.0f} instructions per message on the broker thread, "
        f"{res['ir_per_msg']:,.0f} in all threads ({run['sent']} sent, "
        f"{run['received']} received; totals {w['ir']:,} / {m['ir']:,})"
        + (f"; plugin: messages {summary['messages']} readings {summary['readings']}"
           f" duplicates {summary['duplicates']} discontinuities {summary['discontinuities']}" if summary else ""))
    return res


def brokercost(base, db, count=10000, serials=10000):
    db.create_database("bench_bc", DB_USER, DB_PASSWORD)
    return {key: brokercost_one(base, db, key, plugin, other, count, serials) for key, plugin, other in BC_SETUPS}


# ---------------------------------------------------------------- scale

SCALE_DAY = "2026-01-05"


def scale_plan(meters, quarters=None, interval=None, speed=None):
    """Clock speed, publish interval and quarters of rows checked for a run
    of `meters`. Meters x speed / interval is the real message rate: by
    default every 10 s, the clock runs 10x faster up to 10,000 meters (at
    most 10,000 msg/s) and in real time above, so 100,000 meters are the
    same 10,000 msg/s. Broker clock from `start`, two publish intervals (at
    least 60 s) before B1 = 10:15 (every meter known, no row yet: a meter's
    first quarter has no start index), then rows at B2 = 10:30 and each
    quarter after, `row_quarters` of them. Five quarters at x10 take the
    10,000-meter journal past its first compaction; two at x1 take 33 min.
    quarters, interval, speed: override the defaults (--scale-quarters,
    --scale-interval, --scale-speed)."""
    interval = interval or 10
    if speed is None:
        speed = 10 if meters <= 10000 else 1
    if quarters is None:
        quarters = 5 if speed >= 10 else 2
    lead = max(60 if speed >= 10 else 90, 2 * interval)
    # The bare run: all meters publishing for 3 simulated minutes past B1
    # at x10, 90 s at x1, and at least 30 s real.
    bare_s = max(180 if speed >= 10 else 90, 30 * speed)
    t = datetime.datetime(2000, 1, 1, 10, 15)
    hm = lambda d: (t + datetime.timedelta(seconds=d)).strftime("%H:%M:%S")  # noqa: E731
    return {"speed": speed, "interval": interval, "start": hm(-lead), "row_quarters": quarters,
            "bare_end": hm(bare_s)}


def epoch(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()


def proc_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class LiveSubscriber:
    """mosquitto_sub on <stats_prefix>/+/live (what Home Assistant or a
    dashboard would hold), printing only topics: counts the live states it
    receives, so that a live message nobody receives is not counted as a
    cost measured. Real clock, the longest keepalive (the broker may run
    on a faster one)."""

    def __init__(self, port):
        import threading
        self.count, self.first_topic = 0, None
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-k", "65535",
                                      "-q", "0", "-t", "lowi-p1/+/live", "-F", "%t"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if self.first_topic is None:
                self.first_topic = line.decode().strip()
            self.count += 1

    def retained_state(self, port):
        """One meter's retained live state, fetched by a new subscriber
        (JSON decoded), or None."""
        if self.first_topic is None:
            return None
        import json
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-k", "65535", "-C", "1",
                            "-W", "10", "-t", self.first_topic], capture_output=True, text=True)
        try:
            return json.loads(r.stdout.splitlines()[0])
        except (ValueError, IndexError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.thread.join(timeout=10)


# Plugin set-ups of the scale part (--scale-live): the plugin as before the
# live interface, live states without and with Home Assistant discovery.
SCALE_VARIANTS = {"off": {"live": "false"},
                  "live": {"live": "true", "ha_discovery": "false"},
                  "ha": {"live": "true", "ha_discovery": "true"}}
SCALE_LABELS = {"bare": "bare broker", "off": "lowi-p1, live false", "live": "lowi-p1, live, no discovery",
                "ha": "lowi-p1, live + discovery"}


def scale_rows_by_quarter(db, db_name):
    conn = db.connect(db_name)
    try:
        with conn.cursor() as c:
            c.execute("SELECT UNIX_TIMESTAMP(DtTm), COUNT(*), SUM(Estimated) FROM Conso GROUP BY DtTm ORDER BY DtTm")
            return {int(t): (int(n), int(e)) for t, n, e in c.fetchall()}
    finally:
        conn.close()


def scale_one(base, db, meters, variant, plan):
    """One sim run (plan: scale_plan); returns a dict of measurements.
    With the plugin: RSS before the meters appear, once all are known
    (before any row), after each quarter of rows and at the end (with the
    peak); per row boundary B, the time from B until every meter's row of
    the quarter ending at B is committed; after the run, every checked
    quarter's row count in Conso. Bare: CPU and RSS with all meters
    publishing, over a shorter run. variant: "bare" or a key of
    SCALE_VARIANTS. A LiveSubscriber counts the live states received over
    the CPU window."""
    speed = plan["speed"]
    with_plugin = variant != "bare"
    db_name = f"scale_{meters}_{variant}"
    if with_plugin:
        db.create_database(db_name, DB_USER, DB_PASSWORD)
    port = free_port()
    start = f"{SCALE_DAY} {plan['start']}"
    env = fake_env(start, speed)
    opts = dict(plugin_opts(db, db_name, base, speed), **SCALE_VARIANTS[variant]) if with_plugin else None
    t0 = real_time()
    broker = start_broker(base, f"scale-{meters}-{variant}", port, opts, env)
    pid = broker.proc.pid
    sub = LiveSubscriber(port)
    s0 = epoch(start)

    def real_at(fake_epoch):
        return t0 + (fake_epoch - s0) / speed

    b1 = epoch(f"{SCALE_DAY} 10:15:00")
    row_bounds = [b1 + 900 * (k + 1) for k in range(plan["row_quarters"])]
    end_fake = row_bounds[-1] + 90 if with_plugin else epoch(f"{SCALE_DAY} {plan['bare_end']}")
    lib.sleep(max(0.0, 1.0 - (real_time() - t0)))
    rss0 = proc_rss_kib(pid)
    sim_duration = end_fake - (s0 + (real_time() - t0) * speed)
    sim_cmd = [SIM, "--host", "127.0.0.1", "--port", str(port), "--meters", str(meters), "--interval", str(plan["interval"]),
               "--jitter", "1", "--duration", str(int(sim_duration)), "--seed", "7", "--drain-timeout", "30",
               "--settle", "5", "--numbers-as-strings", "1"]
    sim_out = open(os.path.join(base, f"sim-{meters}-{variant}.log"), "w")
    sim = subprocess.Popen(sim_cmd, stdout=sim_out, stderr=subprocess.STDOUT, env=fake_env(start, speed))
    res = {"meters": meters, "plugin": with_plugin, "variant": variant, "rss0_kib": rss0, "speed": speed,
           "interval": plan["interval"],
           "row_quarters": plan["row_quarters"], "rss_after_quarter_kib": [], "commit_s_real": [],
           "commit_marks": [], "rows_at_bound": []}
    # COUNT(*) over a quarter's rows competes with the writer for MariaDB:
    # asked less often when there are many.
    poll_s = 0.05 if meters <= 10000 else 0.25
    try:
        if with_plugin:
            # CPU window: one whole quarter, from 80 simulated s after the
            # boundary before the last to 80 s after the last (its boundary
            # burst and the rows' commit included).
            prev = row_bounds[-2] if len(row_bounds) > 1 else b1
            ta, tb = real_at(prev + 80), real_at(row_bounds[-1] + 80)
        else:
            ta, tb = real_at(b1 - 30), real_at(end_fake - 20)
        if with_plugin:
            conn = db.connect(db_name)
            try:
                for k, bound in enumerate(row_bounds):
                    b_real = real_at(bound)
                    if k + 1 == len(row_bounds):
                        lib.sleep(ta - real_time())
                        cpu_a, db_a, wall_a = proc_cpu_s(pid), proc_cpu_s(db.proc.pid), real_time()
                        sub_a = sub.count
                    if k == 0:
                        # Every meter known, no row yet.
                        lib.sleep(b_real - 0.3 - real_time())
                        res["rss_pre_rows_kib"] = proc_rss_kib(pid)
                    lib.sleep(b_real - real_time())
                    q = f"SELECT COUNT(*) FROM Conso WHERE DtTm = FROM_UNIXTIME({int(bound - 900)})"
                    limit = b_real + (min(120.0, 89.0 * 10 / speed) if k + 1 < len(row_bounds) else 120.0)
                    marks, n, done_at = {}, 0, None
                    while real_time() < limit:
                        with conn.cursor() as c:
                            c.execute(q)
                            n = c.fetchone()[0]
                        for frac in (0.01, 0.5, 0.99):
                            if frac not in marks and n >= frac * meters:
                                marks[frac] = real_time() - b_real
                        if n >= meters:
                            done_at = real_time()
                            break
                        time.sleep(poll_s)
                    res["rows_at_bound"].append(n)
                    res["commit_marks"].append(marks)
                    res["commit_s_real"].append(None if done_at is None else done_at - b_real)
                    log(f"scale {meters}: quarter ending {datetime.datetime.fromtimestamp(bound, datetime.timezone.utc):%H:%M}: {n} rows, "
                        f"all committed {'-' if done_at is None else f'{done_at - b_real:.2f}'} s real after it; "
                        "1 % / 50 % / 99 % at " + " / ".join(f"{marks[f]:.2f}" if f in marks else "-" for f in (0.01, 0.5, 0.99)))
                    # RSS once the quarter's rows are through, before the next.
                    lib.sleep(real_at(bound + 80) - real_time())
                    res["rss_after_quarter_kib"].append(proc_rss_kib(pid))
            finally:
                conn.close()
        else:
            lib.sleep(ta - real_time())
            cpu_a, db_a, wall_a = proc_cpu_s(pid), proc_cpu_s(db.proc.pid), real_time()
            sub_a = sub.count
        lib.sleep(tb - real_time())
        cpu_b, db_b, wall_b = proc_cpu_s(pid), proc_cpu_s(db.proc.pid), real_time()
        res["live_per_s"] = (sub.count - sub_a) / (wall_b - wall_a)
        res["live_state"] = sub.retained_state(port)
        res["rss1_kib"] = proc_rss_kib(pid)
        res["hwm_kib"] = proc_hwm_kib(pid)
        res["cpu_share"] = (cpu_b - cpu_a) / (wall_b - wall_a)
        res["db_cpu_share"] = (db_b - db_a) / (wall_b - wall_a)
        sim.wait(timeout=600)
    finally:
        if sim.poll() is None:
            sim.terminate()
            sim.wait(timeout=30)
        sim_out.close()
        broker.stop(timeout=300)
        sub.stop()
    res["live_received"] = sub.count
    res["summary"] = plugin_summary(broker) if with_plugin else None
    if with_plugin:
        counts = scale_rows_by_quarter(db, db_name)
        res["quarters"] = {int(b - 900): counts.get(int(b - 900), (0, 0)) for b in row_bounds}
        res["rows_missing"] = sum(max(0, meters - n) for n, _ in res["quarters"].values())
    with open(os.path.join(base, f"sim-{meters}-{variant}.log")) as f:
        res["sim_tail"] = f.read()[-600:]
    log(f"scale {meters} meters {variant:5s} x{speed} every {plan['interval']} s: cpu {res['cpu_share']:.3f} "
        f"live received {res['live_received']} ({res['live_per_s']:.0f}/s in the CPU window; retained state "
        f"{'ok' if res['live_state'] else 'none'}) "
        f"db cpu {res['db_cpu_share']:.3f} rss {rss0} -> {res['rss1_kib']} KiB (peak {res['hwm_kib']})"
        + (f", before rows {res.get('rss_pre_rows_kib')}, after each quarter {res['rss_after_quarter_kib']};"
           f" commit s real {res['commit_s_real']}; rows per quarter {res['quarters']}, missing {res['rows_missing']};"
           f" summary {res['summary']}" if with_plugin else ""))
    return res


def scale(base, db, sizes=(1000, 10000), variants=("ha",), quarters=None, interval=None, speed=None):
    out = {}
    for meters in sizes:
        plan = scale_plan(meters, quarters, interval, speed)
        for variant in ("bare",) + tuple(variants):
            out[(meters, variant)] = scale_one(base, db, meters, variant, plan)
    return out


# ---------------------------------------------------------------- report

def meter_bytes(meters, max_meters=200000):
    """tests/bench/meter_bytes.c for `meters`: struct, table, per_meter
    bytes, or None when it was not built."""
    if not os.path.exists(METER_BYTES):
        return None
    r = subprocess.run([METER_BYTES, str(max_meters), str(meters)], capture_output=True, text=True)
    m = dict(kv.split("=", 1) for kv in r.stdout.split())
    return {k: int(v) for k, v in m.items() if k != "meters"} if r.returncode == 0 else None


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_int(x):
    return f"{x:,.0f}".replace(",", " ")


def machine_line():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mosq = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "mosquitto"], capture_output=True, text=True).stdout
    return (f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}; "
            f"mosquitto {mosq}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
            f"load average at start {open('/proc/loadavg').read().split()[0]}")


def report(args, tp, pc, sc, bc=None, rf=None, bf=None):
    rows = []   # (section, figure, value, target, note)

    def add(*r):
        rows.append(r)

    if bc:
        sec = "broker instructions (callgrind)"
        for key, label in (("bare", "bare broker, LOWI topics"), ("plugin", "lowi-p1, all-LOWI traffic"),
                           ("bare_other", "bare broker, unrelated topics"), ("plugin_other", "lowi-p1, unrelated topics")):
            r = bc[key]
            add(sec, f"{label}: instructions per message, broker thread", fmt_int(r["main_per_msg"]), "",
                f"{fmt_int(r['sent'])} QoS 0 messages after {fmt_int(r['warm'])} of warm-up; received "
                f"{fmt_int(r['messages'])}; all threads: {fmt_int(r['ir_per_msg'])}")
        if "idle_thread_other" in bc:
            r = bc["idle_thread_other"]
            add(sec, "do-nothing plugin with one idle thread, unrelated topics: instructions per message",
                fmt_int(r["main_per_msg"]), "", f"tests/bench/idle_thread_plugin.c: adds "
                f"{fmt_int(r['main_per_msg'] - bc['bare_other']['main_per_msg'])} per message to the bare broker's"
                " thread (glibc's multi-threaded paths)")
        for a, b, label, target in (("plugin", "bare", "all-LOWI traffic", ">= 0.90"),
                                    ("plugin_other", "bare_other", "unrelated topics", ">= 0.99")):
            add(sec, f"bare/lowi-p1 instructions on the broker thread ({label})",
                f"{bc[b]['main_per_msg'] / bc[a]['main_per_msg']:.3f}", target,
                f"lowi-p1 adds {fmt_int(bc[a]['main_per_msg'] - bc[b]['main_per_msg'])} instructions per message"
                f" there, {fmt_int(bc[a]['ir_per_msg'] - bc[b]['ir_per_msg'])} in all threads;"
                " user space only (callgrind does not count the kernel's share)")

    if tp:
        for qos in (0, 1):
            def rate(key):
                return med([r["msg_per_s"] for r in tp[(key, qos)]])

            def ratio(a, b):
                return med([x["msg_per_s"] / y["msg_per_s"] for x, y in zip(tp[(a, qos)], tp[(b, qos)])])
            n = len(tp[("bare", qos)])
            lost = sum(r["lost"] for (k, q), runs in tp.items() if q == qos for r in runs)
            sent = sum(r["sent"] for (k, q), runs in tp.items() if q == qos for r in runs)
            for key, label in (("bare", "bare broker, LOWI topics"), ("bare_other", "bare broker, unrelated topics"),
                               ("plugin", "lowi-p1, all-LOWI traffic"), ("plugin_other", "lowi-p1, unrelated topics"),
                               ("idle_other", "do-nothing plugin with one idle thread, unrelated topics"),
                               ("bare_fast", f"bare broker, LOWI topics, clock x{TP_SPEED}"),
                               ("plugin_fast", f"lowi-p1, all-LOWI traffic, clock x{TP_SPEED} (rows written)")):
                add(f"throughput QoS {qos}", f"{label}: msg/s received", fmt_int(rate(key)), "", f"median of {n}")
            add(f"throughput QoS {qos}", "ratio lowi-p1/bare, unrelated topics", f"{ratio('plugin_other', 'bare_other'):.3f}",
                ">= 0.99", "")
            add(f"throughput QoS {qos}", "ratio idle-thread plugin/bare, unrelated topics",
                f"{ratio('idle_other', 'bare_other'):.3f}", "", "the floor for a plugin with any thread")
            add(f"throughput QoS {qos}", "ratio lowi-p1/idle-thread plugin, unrelated topics",
                f"{ratio('plugin_other', 'idle_other'):.3f}", "", "what lowi-p1 adds beyond having threads")
            add(f"throughput QoS {qos}", "ratio lowi-p1/bare, all-LOWI traffic (real clock: decode + aggregate)",
                f"{ratio('plugin', 'bare'):.3f}", ">= 0.90", "no quarter ends during a run unless the wall clock crosses one")
            add(f"throughput QoS {qos}", f"ratio lowi-p1/bare, all-LOWI traffic, clock x{TP_SPEED} (decode + aggregate + rows)",
                f"{ratio('plugin_fast', 'bare_fast'):.3f}", ">= 0.90", "both brokers under libfaketime")
            px = tp[("plugin_fast", qos)]
            written = [r["summary"]["rows_written"] for r in px if r["summary"]]
            queued = [r["summary"]["rows_queued"] for r in px if r["summary"]]
            spooled = [r["summary"]["rows_spooled"] for r in px if r["summary"]]
            add(f"throughput QoS {qos}", f"rows per x{TP_SPEED} run: queued / written / spooled at stop",
                f"{fmt_int(med(queued))} / {fmt_int(med(written))} / {fmt_int(med(spooled))}", "",
                f"medians; dropped {sum(r['summary']['rows_dropped'] for r in px if r['summary'])} in all runs;"
                " spooled = on disk for the next start, not lost")
            plug = tp[("plugin", qos)]
            seen = sum(r["summary"]["messages"] for r in plug if r["summary"])
            add(f"throughput QoS {qos}", "messages lost (sent - received), all runs", f"{lost} of {fmt_int(sent)}", "0",
                f"plugin saw {fmt_int(seen)} of {fmt_int(sum(r['sent'] for r in plug))} LOWI messages sent (real clock)")
    if pc:
        st = pc["steps"]
        add("per message (callgrind)", "instructions per LOWI message, total", fmt_int(pc["total"]), "<= 10 000",
            f"{fmt_int(pc['messages'])} messages, {pc['info']['meters']} meters, {pc['info']['payload_bytes_avg']} B"
            f" payloads, {pc['info']['rows']} rows; repeatable: {'yes' if pc['repeatable'] else 'NO'}")
        add("per message (callgrind)", "  broker thread", fmt_int(st["prefilter"] + st["push"]), "",
            "what every client of the broker waits for")
        add("per message (callgrind)", "    prefilter", fmt_int(st["prefilter"]), "", "strlen + topic_prefilter_pass")
        add("per message (callgrind)", "    copy into the intake", fmt_int(st["push"]), "", "intake_push")
        add("per message (callgrind)", "  aggregator thread", fmt_int(sum(st[k] for k in ("next", "topic", "decode", "lookup", "feed"))), "", "")
        add("per message (callgrind)", "    intake + topic match", fmt_int(st["next"] + st["topic"]), "", "intake_next, topic_match_serial")
        add("per message (callgrind)", "    decode", fmt_int(st["decode"]), "", "lowi_payload_decode")
        add("per message (callgrind)", "    aggregation: meter lookup", fmt_int(st["lookup"]), "", "meter_set_take")
        add("per message (callgrind)", "    aggregation: quarter feed", fmt_int(st["feed"]), "", "quarters_feed + row count")
        add("per message (callgrind)", "  rest (loop, counters)", fmt_int(pc["rest"]), "", "")
        add("per message (callgrind)", "  instructions per payload byte in decode",
            f"{st['decode'] / float(pc['info']['payload_bytes_avg']):.1f}", "", "")
        add("per message (native)", "ns per message, same driver", f"{pc['ns_native']:.0f}", "",
            "median of 5; informational (wall time)")
    if sc:
        for meters in sorted({m for m, _ in sc}):
            bare = sc.get((meters, "bare"))
            variants = [v for v in ("off", "live", "ha") if (meters, v) in sc]
            speed, interval = (bare or sc[(meters, variants[0])])["speed"], (bare or sc[(meters, variants[0])])["interval"]
            sec = f"scale {fmt_int(meters)} meters / {interval} s, clock x{speed}"
            mb = meter_bytes(meters)
            if mb:
                add(sec, "lowi-p1's meter table per meter: struct meter / heap allocated", f"{mb['struct']} B / "
                    f"{mb['per_meter']} B", "", "tests/bench/meter_bytes.c, max_meters 200 000: entries and index as"
                    " they grow (allocated; the resident part is less)")
            if bare:
                add(sec, "bare broker: CPU share (1 core = 1.000)", f"{bare['cpu_share']:.3f}", "",
                    f"at {fmt_int(meters * speed / interval)} msg/s real"
                    + (f"; /{speed} for a real clock" if speed != 1 else "")
                    + f"; RSS {bare['rss0_kib']} -> {bare['rss1_kib']} KiB")
            for v in variants:
                plug, label = sc[(meters, v)], SCALE_LABELS[v]
                if bare:
                    add(sec, f"{label}: broker CPU share, bare -> lowi-p1",
                        f"{bare['cpu_share']:.3f} -> {plug['cpu_share']:.3f}", "",
                        f"ratio {plug['cpu_share'] / bare['cpu_share']:.2f}; lowi-p1 over one whole quarter"
                        " (its boundary burst and rows included)")
                    add(sec, f"{label}: MariaDB CPU share, bare -> lowi-p1",
                        f"{bare['db_cpu_share']:.3f} -> {plug['db_cpu_share']:.3f}", "", "one quarter's rows")
                d_bare = (bare["rss1_kib"] - bare["rss0_kib"]) if bare else 0
                n_q = len(plug["rss_after_quarter_kib"])
                for when, kib, what in (("all meters known, before any row", plug["rss_pre_rows_kib"], "meter table"),
                                        (f"after {n_q} quarter{'s' if n_q > 1 else ''} of rows", plug["rss1_kib"],
                                         "+ writer's last-row table, row queue, journal"),
                                        ("peak (VmHWM)", plug["hwm_kib"], "highest resident size of the run")):
                    d_plug = kib - plug["rss0_kib"]
                    add(sec, f"{label}: broker RSS growth per meter, {when} (minus bare)",
                        f"{d_plug * 1024 / meters:.0f} B ({(d_plug - d_bare) * 1024 / meters:.0f} B)",
                        "" if when.startswith("peak") else "<= 1024 B",
                        f"{what}; RSS {plug['rss0_kib']} -> {kib} KiB"
                        + (f"; bare {bare['rss0_kib']} -> {bare['rss1_kib']} KiB" if bare else ""))
                add(sec, f"{label}: broker RSS after each quarter of rows, KiB",
                    " ".join(str(x) for x in plug["rss_after_quarter_kib"]), "",
                    "each 80 simulated s after its boundary, the quarter's rows committed")
                cs = plug["commit_s_real"]
                worst = None if not cs or None in cs else max(cs)
                add(sec, f"{label}: quarter end -> every meter's row committed, worst quarter",
                    "not reached" if worst is None else f"{worst:.2f} s real = {worst * speed:.0f} s simulated",
                    "<= 30 s" if speed == 1 else "",
                    "per quarter: " + ", ".join("-" if c is None else f"{c:.2f}" for c in cs)
                    + " s real; 1 % / 50 % / 99 % of the last at "
                    + " / ".join(f"{plug['commit_marks'][-1][f]:.2f}" if f in plug["commit_marks"][-1] else "-"
                                 for f in (0.01, 0.5, 0.99))
                    + f" s; includes the wait for each meter's first reading past the boundary"
                    f" (<= {interval + 1} s simulated = {(interval + 1) / speed:.1f} s real)")
                add(sec, f"{label}: rows missing in Conso over {len(plug['quarters'])} quarters",
                    str(plug["rows_missing"]), "<= 0",
                    "rows per quarter (estimated): " + ", ".join(
                        f"{datetime.datetime.fromtimestamp(t, datetime.timezone.utc):%H:%M} {n} ({e})"
                        for t, (n, e) in sorted(plug["quarters"].items())))
                s = plug["summary"]
                if s:
                    add(sec, f"{label}: plugin readings / rows written / dropped",
                        f"{fmt_int(s['readings'])} / {fmt_int(s['rows_written'])} / {s['rows_dropped']}", "", "")
                    add(sec, f"{label}: live_messages / live_dropped / peak_events",
                        f"{fmt_int(s.get('live_messages', 0))} / {s.get('live_dropped', 0)} / {s.get('peak_events', 0)}",
                        "", "counters at stop")
                if v != "off":
                    st = plug["live_state"] or {}
                    add(sec, f"{label}: live states received on lowi-p1/+/live, per s (CPU window)",
                        f"{plug['live_per_s']:.0f}", "",
                        f"{fmt_int(plug['live_received'])} in the run; one meter's retained state read back: "
                        + (f"ok (time {st.get('time')}, quarter_import_kwh {st.get('quarter_import_kwh')})"
                           if st else "NONE"))
            for v, ref, what in (("live", "off", "retained live states + live path"),
                                 ("ha", "live", "retained discovery configs"),
                                 ("ha", "off", "live + discovery in all")):
                a, b = sc.get((meters, v)), sc.get((meters, ref))
                if a and b:
                    add(sec, f"broker RSS per meter, {v} minus {ref} (after the rows)",
                        f"{(a['rss1_kib'] - b['rss1_kib']) * 1024 / meters:.0f} B", "", what)

    if rf:
        import reference
        for r in reference.report_rows(rf):
            add(*r)
    if bf:
        import backfill
        for r in backfill.report_rows(bf):
            add(*r)
    def verdict(value, target):
        m = re.match(r"\s*([<>]=)\s*([\d ]+(?:\.\d+)?)", target)
        v = re.match(r"\s*(-?[\d ]*\d(?:\.\d+)?)", str(value))
        if not m or not v:
            return ""
        x, t = float(v.group(1).replace(" ", "")), float(m.group(2).replace(" ", ""))
        return "met" if (x >= t if m.group(1) == ">=" else x <= t) else "NOT MET"
    rows = [(a, b, c, (f"{d} {verdict(c, d)}" if d else d), e) for a, b, c, d, e in rows]
    w = [max(len(str(r[i])) for r in rows + [("section", "figure", "value", "target", "note")]) for i in range(4)]
    lines = [machine_line(), ""]
    hdr = ("section", "figure", "value", "target", "note")
    lines.append(" | ".join(str(h).ljust(w[i]) if i < 4 else h for i, h in enumerate(hdr)))
    lines.append("-|-".join("-" * x for x in w) + "-|-" + "-" * 4)
    for r in rows:
        lines.append(" | ".join(str(c).ljust(w[i]) if i < 4 else str(c) for i, c in enumerate(r)))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="percall,brokercost,throughput,scale,reference,backfill")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--count", type=int, default=100000, help="messages per publisher per throughput run")
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--serials", type=int, default=10000)
    ap.add_argument("--scale-sizes", default="1000,10000")
    ap.add_argument("--scale-live", default="ha",
                    help="plugin set-ups of the scale part, beside the bare broker: off (live false), "
                    "live (live true, ha_discovery false), ha (both true, the defaults)")
    ap.add_argument("--scale-quarters", type=int, help="quarters of rows checked (default 5 at x10, 2 at x1)")
    ap.add_argument("--scale-interval", type=int, help="seconds between a meter's publishes (default 10)")
    ap.add_argument("--scale-speed", type=int, help="clock speed (default 10 up to 10,000 meters, 1 above)")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny counts, 1 rep, 100-meter scale")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    sizes = tuple(int(x) for x in args.scale_sizes.split(","))
    if args.quick:
        args.reps, args.count = 1, 3000
        sizes = (100,)
    base = tempfile.mkdtemp(prefix="lowi-bench-")
    os.chmod(base, 0o755)
    log(f"work directory {base}")
    tp = pc = sc = bc = rf = bf = None
    db = None
    try:
        if parts & {"throughput", "scale", "brokercost", "reference", "backfill"}:
            db = MariaDB().start(os.path.join(base, "db"))
        if "percall" in parts:
            log("percall: callgrind (2 runs) and 5 native runs")
            pc = percall(base, 1000, 20 if args.quick else 200)
        if "brokercost" in parts:
            log("brokercost: each broker under callgrind (a few minutes)")
            bc = brokercost(base, db, 2500 if args.quick else 10000)
        if "throughput" in parts:
            tp = throughput(base, db, args.reps, args.count, args.max_seconds, args.serials)
        if "scale" in parts:
            variants = tuple(v for v in args.scale_live.split(",") if v)
            if set(variants) - set(SCALE_VARIANTS):
                raise SystemExit(f"--scale-live: one of {', '.join(SCALE_VARIANTS)}")
            sc = scale(base, db, sizes, variants, args.scale_quarters, args.scale_interval, args.scale_speed)
        if "reference" in parts:
            import reference
            rf = reference.run(base, db, args.reps, 100 if args.quick else 1000)
        if "backfill" in parts:
            import backfill
            bf = backfill.run(base, db, quick=args.quick)
    finally:
        if db:
            db.stop()
    print(report(args, tp, pc, sc, bc, rf, bf), flush=True)
    if pc:
        print("\ncallgrind, self instructions per message by function (top 12):")
        for v, k in pc["self"]:
            print(f"  {v:8.1f}  {k}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"kept {base}")


if __name__ == "__main__":
    main()
