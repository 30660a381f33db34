"""Price issue, done-when 3 and 4, against the fixture server on loopback:
 - Energy-Charts: a backfill in few requests, never more than 2 a minute; a
   429 with Retry-After pauses the worker as asked;
 - Elia faults, one day each: 404, empty array, 500, garbage, truncated
   transfer, truncated JSON, nulls, wrong types, a server that never
   answers, a redirect to another port; each gives a log line, no bad
   row, and a later retry completes the day; the failures among them (and
   only they) are counted in price_failures, and the first success after
   failures is logged;
 - the broker stops within about two seconds while a request hangs;
 - the price board (what the live message reads): once the days around now
   are stored, it holds yesterday to the end of tomorrow, as stored, and
   answers the period of a given instant; with price_source none, it is
   read from what PxElectr holds."""
import datetime as dt
import re

import lib
from lib import check, note, run_main
import prices as px
import scenario as sc

lib.use_fake_clock("2025-10-20 12:00:00", 60)   # 14:00 in Brussels: tomorrow is published
FIRST, LAST = dt.date(2025, 9, 1), dt.date(2025, 10, 21)
FAULTS = {  # day -> (fault mode, expected log line)
    "2025-10-11": ("redirect", r"failed: redirect refused \(another port than \d+\): http://127\.0\.0\.1:"),
    "2025-10-12": ("404", r"no prices yet \(HTTP 404\)"),
    "2025-10-13": ("500", r"HTTP 500"),
    "2025-10-14": ("garbage", r"answer rejected"),
    "2025-10-15": ("truncated", r"failed: Transferred a partial file"),
    "2025-10-16": ("truncated-body", r"answer rejected"),
    "2025-10-17": ("nulls", r"periods rejected \(entry 1: price is null\)"),
    "2025-10-18": ("wrong-types", r"periods rejected"),
    "2025-10-19": ("hang", r"failed: Timeout"),
    "2025-10-20": ("empty", r"no prices yet \(empty answer\)"),
}
FAILURES = ("redirect", "500", "garbage", "truncated", "truncated-body", "hang")  # price_failures


BOARD_LINE = re.compile(r"prices: price board: (\d+) periods from (\S+) to (\S+); at (\S+): (\S+) (\d+) min "
                        r"(-?[\d.]+) EUR/MWh Buy (\S+) Sell (\S+)$")


def utc_s(text):
    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())


def check_board(broker, db, db_name, label):
    """The board's last debug line (count, span, and the period at the
    instant it names) against PxElectr, once it covers the whole window."""
    def covering():
        for line in reversed(broker.log_lines(r"prices: price board: ")):
            m = BOARD_LINE.search(line)
            if m:
                day = px.brussels_day(utc_s(m[4]))
                want = (px.day_bounds(day - dt.timedelta(days=1))[0], px.day_bounds(day + dt.timedelta(days=1))[1])
                return m if (m[2] != "-" and (utc_s(m[2]), utc_s(m[3])) == want) else None
        return None
    try:
        m = lib.wait_for(covering, 30, "a price board line covering yesterday to tomorrow")
    except lib.WaitTimeout:
        last = broker.log_lines(r"prices: price board: ")
        check(f"{label}: the price board holds yesterday to the end of tomorrow", False,
              last[-1][last[-1].find("prices"):] if last else "no price board line")
        return
    first, end, at = utc_s(m[2]), utc_s(m[3]), utc_s(m[4])
    rows = [r for r in px.stored(db, db_name) if first <= r[0] < end]
    check(f"{label}: the price board holds every stored period from yesterday to the end of tomorrow",
          int(m[1]) == len(rows), f"{m[1]} periods on the board, {len(rows)} in PxElectr from {m[2]} to {m[3]}")
    row = next((r for r in rows if r[0] <= at < r[0] + r[4] * 60), None)

    def text(v):
        return "NULL" if v is None else f"{v:.5f}"
    want = row and (utc_s(m[5]), int(m[6]), float(m[7]), m[8], m[9]) == (row[0], row[4], row[1], text(row[2]), text(row[3]))
    check(f"{label}: the price board answers the period of an instant as stored", want and row[2] is not None,
          f"at {m[4]}: board {m[5]} {m[6]} min {m[7]} Buy {m[8]} Sell {m[9]}; PxElectr "
          + (f"{row[0]} {row[4]} min {row[1]} Buy {text(row[2])} Sell {text(row[3])}" if row else "none"))


def energy_charts(base, db, fixtures):
    db.create_database("EC", sc.DB_USER, sc.DB_PASSWORD)
    fixtures.fault(f"start={px.QH_SWITCH_DAY}", "429", times=1, retry_after=120)
    broker = px.start_broker(base, db, "EC", "energy-charts", fixtures, price_start=FIRST.isoformat())
    ok = px.wait_days(db, "EC", FIRST, LAST, 60)
    check("energy-charts: every day from 2025-09-01 to tomorrow stored", ok, "")
    reqs = [r for r in fixtures.requests() if r["path"].startswith("/price")]
    note("energy-charts requests: " + ", ".join(f"{r['time'] - reqs[0]['time']:.0f}s {r['status']} {r['path'][14:]}" for r in reqs))
    times = [r["time"] for r in reqs]
    crowded = [t for t in times if sum(1 for u in times if t - 60 < u <= t) > 2]
    check("energy-charts: at most 2 requests in any minute", not crowded, f"{len(reqs)} requests")
    i429 = next((i for i, r in enumerate(reqs) if r["status"] == 429), None)
    waited = reqs[i429 + 1]["time"] - reqs[i429]["time"] if i429 is not None and i429 + 1 < len(reqs) else None
    check("energy-charts: after a 429, Retry-After (120 s) is honoured", waited is not None and waited >= 119,
          f"next request {waited} s later" if waited is not None else "no 429 seen")
    check("energy-charts: the 429 is in the log", broker.log_lines(r"429 Too Many Requests; pausing 120 s"), "")
    check("energy-charts: few requests (31-day ranges, split at the hourly/15-minute change)", len(reqs) <= 4, f"{len(reqs)}")
    rows = px.stored(db, "EC")
    wrong = [r for r in rows if abs(r[1] - px.price_at(r[0], r[4] * 60)) > 0.0005]
    check("energy-charts: prices as served, hourly then quarter-hourly",
          not wrong and {r[4] for r in rows if r[0] < px.QH_SWITCH_S} == {60} and {r[4] for r in rows if r[0] >= px.QH_SWITCH_S} == {15},
          f"{len(rows)} periods")
    check_board(broker, db, "EC", "energy-charts")
    broker.stop()
    # No source: nothing fetched, the board still read from PxElectr.
    before = len(fixtures.requests())
    broker = px.start_broker(base, db, "EC", "none", fixtures, price_start=FIRST.isoformat())
    check_board(broker, db, "EC", "price_source none")
    check("price_source none: no request", len(fixtures.requests()) == before, f"{len(fixtures.requests()) - before}")
    broker.stop()


def elia_faults(base, db, fixtures):
    db.create_database("EL", sc.DB_USER, sc.DB_PASSWORD)
    for day, (mode, _) in FAULTS.items():
        # The redirect goes to another port of the same host: refused.
        extra = {"location": f"http://127.0.0.1:{lib.free_port()}{px.ELIA_PATH}/daily/auctionresultsqh/{day}"} \
            if mode == "redirect" else {}
        fixtures.fault(f"auctionresultsqh/{day}", mode, times=1, **extra)
    start = dt.date(2025, 10, 10)
    broker = px.start_broker(base, db, "EL", "elia", fixtures, price_start=start.isoformat(),
                             price_timeout=20)
    ok = px.wait_days(db, "EL", start, LAST, 90)
    check("elia: after every fault a later retry completed the day", ok, "")
    reqs = fixtures.requests()
    for day, (mode, pattern) in FAULTS.items():
        tries = [r for r in reqs if r["path"].endswith(day)]
        logged = broker.log_lines(rf"prices: .*{day}.*" + pattern)
        check(f"elia fault {mode} on {day}: noticed, retried, completed", len(tries) >= 2 and logged,
              f"{len(tries)} requests; {(logged[0] if logged else 'no log line')[-110:]}")
    rows = px.stored(db, "EL")
    wrong = [r for r in rows if abs(r[1] - px.price_at(r[0], r[4] * 60)) > 0.0005]
    check("elia: no bad row stored", not wrong and all(r[2] is not None for r in rows), f"{len(rows)} periods, {len(wrong)} wrong")

    # A request that never ends while the broker stops.
    fixtures.fault("auctionresultsqh/2025-10-21", "hang", times=100)
    db.query("DELETE FROM PxElectr WHERE DtTm >= '2025-10-20 22:00:00'", db="EL")
    broker.stop()
    counters = broker.counters()
    check("elia: each failing fault counted once in price_failures, nothing else",
          counters.get("price_failures") == len(FAILURES), f"price_failures {counters.get('price_failures')}, "
          f"want {len(FAILURES)} ({', '.join(FAILURES)})")
    again = broker.log_lines(r"prices: source reachable again after \d+ failures?$")
    check("elia: the first success after failures is logged", again, again[0][again[0].find("prices"):] if again else "")
    broker = px.start_broker(base, db, "EL", "elia", fixtures, price_start=start.isoformat(), price_timeout=3600)
    lib.wait_for(lambda: any(r["path"].endswith("2025-10-21") and r["status"] is None for r in fixtures.requests())
                 or broker.log_lines("2025-10-21"), 30, "a hanging request")
    lib.sleep(0.5)
    stop = broker.stop()
    check("broker stops within about 2 s while a price request hangs", stop.seconds < 2.5 and not stop.killed,
          f"{stop.seconds:.2f} s")
    left = [r for r in px.stored(db, "EL") if px.brussels_day(r[0]) == dt.date(2025, 10, 21)]
    check("the hung request was abandoned: nothing stored for its day", not left, f"{len(left)} rows")


def main():
    base = sc.workdir("prices-sources")
    fixtures = px.FixtureServer(base)
    db = lib.MariaDB().start(f"{base}/db")
    energy_charts(base, db, fixtures)
    elia_faults(base, db, fixtures)
    fixtures.stop()
    db.stop()


run_main(main)
