"""The `backfill` part of the lowi-p1 benchmarks (tests/bench/bench.py): the
price worker fills PxElectr with six years of day-ahead prices, delivery days
2020-10-01 to 2026-09-30 (hourly to 2025-09-30, quarter-hourly after), from
the fixture server (tests/price-fixtures/server.py, real HTTP on loopback)
in the Elia format: one request per day, 2,191 requests.

The worker waits 1 s of its clock between two Elia requests (ELIA_GAP_S in
price_worker.c; no option changes it): 37 minutes of politeness on a real
clock. The broker runs on a clock BF_SPEED times faster (libfaketime; faster
clocks make an idle mosquitto poll busily), started on 2026-09-30 14:00
Brussels, when the worker wants every day up to tomorrow. The fixture server
runs on the real clock, publishes up to 2026-09-30 and logs when each
request arrived and when its answer was written out; the worker's first
request for 2026-10-01 comes right after the last day is stored and ends
the measured time.

Pauses: the worker schedules on whole seconds of its clock. A request and
its storing take w < 1 simulated second; the next request goes out after a
pause of 1 s when both fell in the same second, at once otherwise. So an
interval between two arrivals is w or 1 s + w, and the pause is its whole
simulated seconds. Checked per request: the rest (w) is at least the
server's answer time and less than one simulated second with a margin
(`unsure` counts the requests where it is not, whose pause may be off by
1 s). Energy-Charts is not measured: its 30 s gap hides how long the work
took, and six years of it take 36 minutes of pauses whatever the clock.

Figures: PxElectr rows; rows per second over the measured time less the
pauses (and how much of it the fixture server took to answer); the broker
process's CPU seconds (all threads, utime + stime) from its start until the
end of the backfill, and beside it what the same broker with price_source
none uses over as long on the same clock. Checked: one row per period of
every Brussels day of the range (23, 24 or 25 hours; 92, 96 or 100
quarters), no gap, no duplicate, each price as served.
"""

import datetime as dt
import os
import subprocess
import sys

import bench
import lib
from lib import real_time

FIXTURES = os.path.join(bench.ROOT, "tests", "price-fixtures")
sys.path.insert(0, FIXTURES)
import server as fx  # noqa: E402  (the prices and calendar the server serves)

ELIA_PATH = "/eliabecontrols.prod/interface/Interconnections"
BF_FIRST, BF_LAST = dt.date(2020, 10, 1), dt.date(2026, 9, 30)
BF_QUICK_FIRST = dt.date(2025, 9, 1)
BF_FAKE_START = "2026-09-30 12:00:00"
BF_SPEED = 20


class FixtureServer:
    def __init__(self, base, name, *args):
        self.log = open(os.path.join(base, f"{name}-fixtures.log"), "w")
        self.port = bench.free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(FIXTURES, "server.py"), "--port", str(self.port),
                                      "--exit-with-parent", *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().split()
        if line != ["port", str(self.port)]:
            self.stop()
            raise RuntimeError(f"fixture server did not start: {line}")
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self):
        import json
        import urllib.request
        with urllib.request.urlopen(self.url + "/_requests", timeout=60) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def expected_periods(first, last):
    """[(start_s, period_s)] of every market period of Brussels days first..last."""
    out, day = [], first
    while day <= last:
        start, end = fx.brussels_day_bounds(day)
        p = fx.period_of_day(day)
        out += [(t, p) for t in range(start, end, p)]
        day += dt.timedelta(days=1)
    return out


def is_end_marker(path, after):
    """The first request for the first unpublished day."""
    return path.endswith("/" + after.isoformat())


def broker_opts(db, db_name, base, url, first):
    opts = bench.plugin_opts(db, db_name, base, BF_SPEED)
    opts.update(price_source="elia", price_url=url + ELIA_PATH, price_start=first.isoformat(),
                price_timeout=str(60 * BF_SPEED), stats_interval="0")
    return opts


def run_once(base, db, first, last=BF_LAST, timeout=900):
    db_name = "bf_elia"
    db.create_database(db_name, bench.DB_USER, bench.DB_PASSWORD)
    after = last + dt.timedelta(days=1)
    want = expected_periods(first, last)
    fixtures = FixtureServer(base, "backfill", "--published-until", last.isoformat())
    broker = None
    res = {"first": first, "last": last, "expected": len(want)}
    try:
        t0 = real_time()
        broker = bench.start_broker(base, "backfill", bench.free_port(), broker_opts(db, db_name, base, fixtures.url, first),
                                    bench.fake_env(BF_FAKE_START, BF_SPEED))
        count = lambda: db.query("SELECT COUNT(*) FROM PxElectr", db=db_name)[0][0]  # noqa: E731
        try:
            lib.wait_for(lambda: count() >= len(want), timeout, f"{len(want)} PxElectr rows", 0.5)
            lib.wait_for(lambda: any(is_end_marker(r["path"], after) for r in fixtures.requests()), 30,
                         f"the first request for {after}", 0.2)
        except lib.WaitTimeout as e:
            res["timeout"] = str(e)
        res["cpu_s"] = bench.proc_cpu_s(broker.proc.pid)
        res["broker_wall_s"] = real_time() - t0
        reqs = fixtures.requests()
    finally:
        if broker:
            broker.stop(timeout=30)
        fixtures.stop()
    res.update(analyse_requests(reqs, after))
    res.update(check_rows(db, db_name, want))
    res["rows_per_s"] = res["rows"] / res["active_s"] if res["active_s"] > 0 else float("nan")
    bench.log(f"backfill: {res['rows']} rows (expected {res['expected']}) in {res['requests']} requests over "
              f"{res['wall_s']:.2f} s, of which {res['pause_s']:.2f} s of pauses: {res['active_s']:.2f} s active "
              f"({res['server_s']:.2f} s in the fixture server) = {res['rows_per_s']:.0f} rows/s; unsure {res['unsure']},"
              f" longest work {res['work_max_s'] * 1000:.1f} ms; broker CPU {res['cpu_s']:.2f} s in "
              f"{res['broker_wall_s']:.1f} s; checks: {res['problems'] or 'ok'}"
              + (f"; {res['timeout']}" if "timeout" in res else ""))
    return res


def analyse_requests(reqs, after):
    """Measured time, pauses and answer time from the request log (real
    clock); see the module comment for the whole-second rule."""
    end = next((i for i, r in enumerate(reqs) if is_end_marker(r["path"], after)), None)
    if not end:
        nan = float("nan")
        return {"requests": len(reqs), "wall_s": nan, "pause_s": nan, "active_s": nan, "server_s": nan,
                "unsure": len(reqs), "work_max_s": nan, "failed_requests": len(reqs)}
    fetch = reqs[:end]
    second = 1.0 / BF_SPEED
    pause = server = work_max = 0.0
    unsure = 0
    for r, nxt in zip(fetch, reqs[1:end + 1]):
        interval = nxt["time"] - r["time"]
        answer = r["done"] - r["time"]
        paused = int(interval / second) * second
        work = interval - paused
        # The rest must hold the server's answer, and not be so near a whole
        # second that the worker's own timer slack could have crossed it.
        if work < answer or work > 0.9 * second:
            unsure += 1
        pause += paused
        server += answer
        work_max = max(work_max, work)
    wall = reqs[end]["time"] - fetch[0]["time"]
    return {"requests": len(fetch), "wall_s": wall, "pause_s": pause, "active_s": wall - pause, "server_s": server,
            "unsure": unsure, "work_max_s": work_max, "failed_requests": sum(1 for r in fetch if r["status"] != 200)}


def check_rows(db, db_name, want):
    rows = db.query("SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Minutes, CAST(price AS DOUBLE)"
                    " FROM PxElectr ORDER BY DtTm", db=db_name)
    got = [(int(t), int(m) * 60) for t, m, _ in rows]
    problems = []
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        problems.append(f"{len(missing)} periods missing (first {missing[:1]}), {len(extra)} unexpected")
    wrong = sum(1 for t, m, p in rows if abs(p - fx.price_at(int(t), int(m) * 60)) > 0.0005)
    if wrong:
        problems.append(f"{wrong} prices differ from the source")
    days = {}
    for t, p in got:
        days.setdefault(fx.brussels_date(t), []).append(p)
    dst = {d: len(v) for d, v in days.items() if len(v) not in (24, 96)}
    return {"rows": len(rows), "problems": "; ".join(problems), "dst_days": dst}


def idle_cpu_rate(base, db, seconds=5):
    """CPU seconds per real second of the same broker with no price source,
    on the same clock."""
    db.create_database("bf_idle", bench.DB_USER, bench.DB_PASSWORD)
    opts = bench.plugin_opts(db, "bf_idle", base, BF_SPEED)
    opts.update(price_source="none", stats_interval="0")
    broker = bench.start_broker(base, "backfill-idle", bench.free_port(), opts, bench.fake_env(BF_FAKE_START, BF_SPEED))
    try:
        lib.sleep(1)
        c0, t0 = bench.proc_cpu_s(broker.proc.pid), real_time()
        lib.sleep(seconds)
        return (bench.proc_cpu_s(broker.proc.pid) - c0) / (real_time() - t0)
    finally:
        broker.stop(timeout=30)


def run(base, db, quick=False):
    res = run_once(base, db, BF_QUICK_FIRST if quick else BF_FIRST)
    res["idle_cpu_per_s"] = idle_cpu_rate(base, db, 2 if quick else 5)
    return res


def report_rows(r):
    """Rows (section, figure, value, target, note) for bench.report()."""
    sec = f"price backfill {r['first']}..{r['last']}, Elia format, clock x{BF_SPEED}"
    days = (r["last"] - r["first"]).days + 1
    hourly = sum(1 for d in range(days) if r["first"] + dt.timedelta(days=d) < fx.QH_SWITCH_DAY)
    dst = " ".join(f"{d}:{n}" for d, n in sorted(r["dst_days"].items()))
    idle = r["idle_cpu_per_s"] * r["broker_wall_s"]
    failed = f", {r['failed_requests']} not answered 200" if r["failed_requests"] else ""
    return [
        (sec, "PxElectr rows written (expected)", f"{bench.fmt_int(r['rows'])} ({bench.fmt_int(r['expected'])})", "",
         f"{hourly} hourly days, {days - hourly} quarter-hourly, {r['requests']} requests{failed}; checks: "
         f"{r['problems'] or 'every period once, no gap, prices as served'}; DST days {dst}"),
        (sec, "rows per second written, politeness pauses excluded", bench.fmt_int(r["rows_per_s"]), "",
         f"{r['active_s']:.2f} s = {r['wall_s']:.2f} s from the first request to the first past the range, less "
         f"{r['pause_s']:.2f} s of pauses; {r['server_s']:.2f} s of it in the fixture server's answers; longest request"
         f" + storing {r['work_max_s'] * 1000:.1f} ms; pause unsure for {r['unsure']} requests"),
        (sec, "broker CPU seconds, whole backfill", f"{r['cpu_s']:.2f} s", "",
         f"all threads, from the broker's start, {r['broker_wall_s']:.1f} s real; the same broker without a price "
         f"source uses {idle:.2f} s over as long on this clock" + (f"; {r['timeout']}" if "timeout" in r else "")),
    ]
