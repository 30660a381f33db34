"""The `reference` part of the lowi-p1 benchmarks (tests/bench/bench.py):
CPU per LOWI message of the reference architecture against lowi-p1.

  (a) subscriber  a bare mosquitto and, beside it, the reference program's
                  collector (tests/bench/reference_subscriber.py: Python,
                  paho-mqtt, MySQLdb, one process for every meter);
  (b) lowi-p1     mosquitto with the plugin and no subscriber;
  (c) bare        mosquitto alone, no plugin and no subscriber: what the
                  broker costs to receive the stream at all, so (a)/(c) is
                  the most (a)/(b) could be if the plugin cost nothing.

All get the same stream: lowi-sim with `meters` meters publishing every
10 s (QoS 1, as in the `scale` part), on a clock REF_SPEED times faster
(libfaketime) from 10:13:00 to 10:45:30: the collector writes rows at the
10:15, 10:30 and 10:45 boundaries, lowi-p1 those of the quarters 10:15 and
10:30. The broker, the collector and the simulator share one simulated
clock (each process starts its own libfaketime clock at the simulated time
of its start). The set-ups alternate (the order rotates) for `reps`
repetitions, each on a fresh broker and database.

Figure: CPU seconds (utime + stime, all threads, from /proc) of the broker
plus the collector from just before the first publish until every message
has been handled and every row committed, divided by the messages the broker
acknowledged (the simulator's PUBACK count); median over the repetitions,
and the median of the per-repetition ratios (a)/(b). MariaDB's CPU is
reported beside it (the collector commits each row on its own, the plugin in
batches) but is not part of the figure.
"""

import datetime
import os
import signal
import statistics
import subprocess
import sys

import bench
import lib
from lib import real_time

SUBSCRIBER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_subscriber.py")
REF_SPEED = 60
REF_START = "2026-01-05 10:13:00"
REF_END = "2026-01-05 10:45:30"


def fake_now(t0, speed):
    """The simulated time (libfaketime start string) of a process started
    now, on the clock of a broker started at real time t0 on REF_START."""
    at = bench.epoch(REF_START) + (real_time() - t0) * speed
    return datetime.datetime.fromtimestamp(round(at), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def start_subscriber(base, name, port, db, db_name, env):
    out = open(os.path.join(base, f"{name}.out"), "w")
    proc = subprocess.Popen([sys.executable, SUBSCRIBER, "--port", str(port), "--db-port", str(db.port),
                             "--db-user", bench.DB_USER, "--db-password", bench.DB_PASSWORD, "--db-name", db_name,
                             "--keepalive", "65535"],
                            stdout=out, stderr=subprocess.STDOUT, env=env)
    out.close()
    return proc, os.path.join(base, f"{name}.out")


def subscriber_counts(path):
    counts = None
    with open(path) as f:
        for line in f:
            if line.startswith("received="):
                counts = {k: int(v) for k, v in (kv.split("=") for kv in line.split())}
    return counts


def wait_subscriber(proc, path, want, timeout):
    """SIGUSR1 until the collector reports `want` messages handled (it
    handles them in order, each row committed before the next message)."""
    deadline = real_time() + timeout
    counts = None
    while real_time() < deadline and proc.poll() is None:
        proc.send_signal(signal.SIGUSR1)
        lib.sleep(0.2)
        counts = subscriber_counts(path)
        if counts and counts["received"] >= want:
            break
    return counts


def rows(db, db_name, table="Conso"):
    return db.query(f"SELECT COUNT(*) FROM {table}", db=db_name)[0][0]


SETUPS = ("subscriber", "plugin", "bare")


def run_once(base, db, meters, key, rep, speed=REF_SPEED, timeout=300):
    with_plugin = key == "plugin"
    name = f"ref-{key}-{meters}-r{rep}"
    db_name = f"ref_{key}_{meters}_r{rep}"
    db.create_database(db_name, bench.DB_USER, bench.DB_PASSWORD)
    port = bench.free_port()
    opts = bench.plugin_opts(db, db_name, base, speed) if with_plugin else None
    if opts:
        opts["stats_interval"] = "0"
    t0 = real_time()
    broker = bench.start_broker(base, name, port, opts, bench.fake_env(REF_START, speed))
    sub = sub_out = sim = None
    res = {"key": key, "meters": meters}
    try:
        if key == "subscriber":
            sub, sub_out = start_subscriber(base, name, port, db, db_name, bench.fake_env(fake_now(t0, speed), speed))
            lib.wait_for(lambda: sub.poll() is not None or "subscribed" in open(sub_out).read(), 30,
                         "the collector's subscription")
            if sub.poll() is not None:
                raise RuntimeError(f"collector exited {sub.returncode}: {open(sub_out).read()[-1000:]}")
        pids = [broker.proc.pid] + ([sub.pid] if sub else [])
        cpu0 = [bench.proc_cpu_s(p) for p in pids]
        db0 = bench.proc_cpu_s(db.proc.pid)
        start = fake_now(t0, speed)
        duration = bench.epoch(REF_END) - bench.epoch(start)
        sim_log = os.path.join(base, f"{name}-sim.log")
        with open(sim_log, "w") as out:
            sim = subprocess.Popen([bench.SIM, "--host", "127.0.0.1", "--port", str(port), "--meters", str(meters),
                                    "--interval", "10", "--jitter", "1", "--duration", str(int(duration)),
                                    "--seed", str(11 + rep), "--drain-timeout", "30", "--settle", "5",
                                    "--numbers-as-strings", "1"],
                                   stdout=out, stderr=subprocess.STDOUT, env=bench.fake_env(start, speed))
        t_pub = real_time()
        sim.wait(timeout=duration / speed + 120)
        with open(sim_log) as f:
            sim_out = dict(ln.strip().split("=", 1) for ln in f if "=" in ln and " " not in ln.strip())
        acked = int(sim_out.get("acked", 0))
        res.update(sent=int(sim_out.get("sent", 0)), acked=acked)
        if with_plugin:
            # Rows of 10:15 and 10:30 (a meter's first quarter has no start
            # index); a meter may lack one, so a count that stays put for 2 s
            # also ends the wait: waiting longer would bill idle CPU.
            want, seen = 2 * meters, [-1, real_time()]

            def settled():
                n = rows(db, db_name)
                if n != seen[0]:
                    seen[:] = [n, real_time()]
                return n >= want or real_time() - seen[1] >= 2
            try:
                lib.wait_for(settled, 60, f"{want} Conso rows", 0.1)
            except lib.WaitTimeout:
                pass
        elif sub:
            res["collector"] = wait_subscriber(sub, sub_out, acked, timeout)
        cpu1 = [bench.proc_cpu_s(p) for p in pids]
        res["db_cpu_s"] = bench.proc_cpu_s(db.proc.pid) - db0
        res["wall_s"] = real_time() - t_pub
        res["broker_cpu_s"] = cpu1[0] - cpu0[0]
        res["collector_cpu_s"] = cpu1[1] - cpu0[1] if sub else 0.0
        # the bare broker writes nothing: its database has no tables
        res["rows"] = rows(db, db_name) if key != "bare" else 0
        res["peaks"] = rows(db, db_name, "Pics") if key != "bare" else 0
    finally:
        if sim and sim.poll() is None:
            sim.terminate()
            sim.wait(timeout=30)
        if sub and sub.poll() is None:
            sub.terminate()
            try:
                sub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sub.kill()
                sub.wait()
        broker.stop(timeout=120)
    if sub:
        res["collector_final"] = subscriber_counts(sub_out)
    res["summary"] = bench.plugin_summary(broker) if with_plugin else None
    msgs = max(1, res["acked"])
    res["cpu_per_msg_s"] = (res["broker_cpu_s"] + res["collector_cpu_s"]) / msgs
    res["db_cpu_per_msg_s"] = res["db_cpu_s"] / msgs
    c, s = res.get("collector"), res["summary"]
    bench.log(f"reference rep {rep + 1} {key:10s}: {res['cpu_per_msg_s'] * 1e6:7.1f} us CPU/message (broker "
              f"{res['broker_cpu_s']:.2f} s + collector {res['collector_cpu_s']:.2f} s, MariaDB {res['db_cpu_s']:.2f} s)"
              f" over {res['acked']} messages acked of {res['sent']} sent in {res['wall_s']:.1f} s; rows {res['rows']}"
              + (f"; collector received {c['received']} rows {c['rows']} errors {c['errors']}" if c else "")
              + (f"; plugin messages {s['messages']} rows written {s['rows_written']}" if s else ""))
    return res


def run(base, db, reps=5, meters=1000, speed=REF_SPEED):
    """{'subscriber': [run dicts], 'plugin': [...], 'bare': [...]}, set-ups
    alternating; the order rotates every repetition."""
    out = {k: [] for k in SETUPS}
    for rep in range(reps):
        for key in SETUPS[rep % len(SETUPS):] + SETUPS[:rep % len(SETUPS)]:
            out[key].append(run_once(base, db, meters, key, rep, speed))
    return out


def report_rows(rf):
    """Rows (section, figure, value, target, note) for bench.report()."""
    sub, plug, bare = rf["subscriber"], rf["plugin"], rf["bare"]
    med = statistics.median
    meters = sub[0]["meters"]
    sec = f"reference architecture, {bench.fmt_int(meters)} meters / 10 s, clock x{REF_SPEED}"
    us = lambda runs, k: med([r[k] for r in runs]) * 1e6  # noqa: E731
    out = []
    out.append((sec, "bare broker + Python subscriber: CPU per LOWI message (broker + collector)",
                f"{us(sub, 'cpu_per_msg_s'):.1f} us", "",
                f"median of {len(sub)}; broker {med([r['broker_cpu_s'] for r in sub]):.2f} s + collector "
                f"{med([r['collector_cpu_s'] for r in sub]):.2f} s per run; MariaDB {us(sub, 'db_cpu_per_msg_s'):.1f} us"
                " per message besides"))
    out.append((sec, "lowi-p1, no subscriber: CPU per LOWI message (broker)", f"{us(plug, 'cpu_per_msg_s'):.1f} us", "",
                f"median of {len(plug)}; broker {med([r['broker_cpu_s'] for r in plug]):.2f} s per run; MariaDB "
                f"{us(plug, 'db_cpu_per_msg_s'):.1f} us per message besides"))
    ratios = [a["cpu_per_msg_s"] / b["cpu_per_msg_s"] for a, b in zip(sub, plug)]
    out.append((sec, "CPU per message, subscriber set-up / lowi-p1", f"{med(ratios):.1f}", ">= 20",
                "median of the per-repetition ratios; range " + f"{min(ratios):.1f}-{max(ratios):.1f}"))
    out.append((sec, "bare broker alone (no plugin, no subscriber): CPU per LOWI message", f"{us(bare, 'cpu_per_msg_s'):.1f} us",
                "", f"median of {len(bare)}; the broker's own cost of receiving the stream"))
    ceil = [a["cpu_per_msg_s"] / c["cpu_per_msg_s"] for a, c in zip(sub, bare)]
    out.append((sec, "ceiling of that ratio: subscriber set-up / bare broker alone", f"{med(ceil):.1f}", "",
                "what the ratio would be if lowi-p1 cost nothing; range " + f"{min(ceil):.1f}-{max(ceil):.1f}"))
    got = [r["collector"]["received"] if r.get("collector") else 0 for r in sub]
    out.append((sec, "messages acked by the broker / handled by the collector, per run",
                " ".join(f"{r['acked']}/{g}" for r, g in zip(sub, got)), "",
                f"sent {' '.join(str(r['sent']) for r in sub)}; collector errors "
                f"{sum(r['collector']['errors'] for r in sub if r.get('collector'))}"))
    out.append((sec, "Conso rows written per run: subscriber / lowi-p1",
                f"{' '.join(str(r['rows']) for r in sub)} / {' '.join(str(r['rows']) for r in plug)}", "",
                "the reference rule writes at 10:15, 10:30 and 10:45 (3 per meter); lowi-p1 the quarters 10:15 and"
                " 10:30 (a meter's first quarter has no start index); Pics rows: "
                f"{' '.join(str(r['peaks']) for r in sub)} / {' '.join(str(r['peaks']) for r in plug)}"))
    seen = [r["summary"]["messages"] if r["summary"] else 0 for r in plug]
    out.append((sec, "messages acked by the broker / seen by lowi-p1, per run",
                " ".join(f"{r['acked']}/{s}" for r, s in zip(plug, seen)), "", ""))
    return out
