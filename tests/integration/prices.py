"""Helpers for the price-worker tests: the fixture HTTP server
(tests/price-fixtures/server.py, real HTTP on loopback in each source's
format) started on the test's clock, its control endpoints, and a broker
whose plugin fetches from it."""
import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
import zoneinfo

import lib
import scenario as sc

FIXTURES = os.path.join(sc.ROOT, "tests", "price-fixtures")
sys.path.insert(0, FIXTURES)
from server import price_at  # noqa: E402,F401  (expected prices, as served)
from server import QH_SWITCH_DAY, brussels_day_bounds  # noqa: E402  (read from price-worker/price_market.h)

# The first quarter-hour delivery day, and the UTC instant it starts.
QH_SWITCH_S = brussels_day_bounds(QH_SWITCH_DAY)[0]

ELIA_PATH = "/eliabecontrols.prod/interface/Interconnections"
BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")


class FixtureServer:
    def __init__(self, base, *args):
        self.log = open(os.path.join(base, "fixtures.log"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.join(FIXTURES, "server.py"), "--exit-with-parent", *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().split()
        self.port = int(line[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, path, body=None):
        req = urllib.request.Request(self.url + path, data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10 * lib.clock_factor()) as r:
            return json.loads(r.read() or b"null")

    def fault(self, path_contains, mode, times=1, **extra):
        return self._call("/_control", dict(path_contains=path_contains, mode=mode, times=times, **extra))

    def requests(self):
        return self._call("/_requests")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10 * lib.clock_factor())


def start_broker(base, db, db_name, source, fixtures, **opts):
    """Broker + plugin fetching prices from the fixture server."""
    url = fixtures.url + (ELIA_PATH if source == "elia" else "")
    options = sc.plugin_options(db, db_name, price_source=source, price_url=url, **opts)
    port = lib.free_port()
    broker = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=options),
                                os.path.join(base, f"broker-{db_name}-{lib.real_time():.0f}"), port=port)
    # The worker has connected, created the schema and read what is stored.
    broker.wait_log(r"lowi-p1: prices: source ", 30)
    return broker


def brussels_day(ts):
    return dt.datetime.fromtimestamp(ts, BRUSSELS).date()


def day_bounds(day):
    """UTC epoch seconds of [00:00, next 00:00) Brussels of a date."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)
    end = start + dt.timedelta(days=1)
    end = dt.datetime(end.year, end.month, end.day, tzinfo=BRUSSELS)
    return int(start.timestamp()), int(end.timestamp())


def stored(db, db_name):
    """[(utc_s, price, buy, sell, minutes, fingerprint)] ordered by time."""
    return [(int(r[0]), float(r[1]), None if r[2] is None else float(r[2]), None if r[3] is None else float(r[3]),
             int(r[4]), r[5])
            for r in db.query("SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), price, Buy, Sell, Minutes, FormulaFp"
                              " FROM PxElectr ORDER BY DtTm", db=db_name)]


def complete_days(rows, first, last):
    """{date: (periods, minutes)} for Brussels days first..last, and whether
    each is complete (covered minutes == its length) with one period length."""
    by_day = {}
    for ts, _, _, _, minutes, _ in rows:
        by_day.setdefault(brussels_day(ts), []).append(minutes)
    out, day = {}, first
    while day <= last:
        start, end = day_bounds(day)
        mins = by_day.get(day, [])
        out[day] = (len(mins), sum(mins), sum(mins) == (end - start) // 60 and len(set(mins)) <= 1)
        day += dt.timedelta(days=1)
    return out


def wait_days(db, db_name, first, last, timeout):
    def done():
        days = complete_days(stored(db, db_name), first, last)
        return all(c for _, _, c in days.values())
    try:
        lib.wait_for(done, timeout, f"every day {first}..{last} in PxElectr", 0.5)
        return True
    except lib.WaitTimeout:
        return False
