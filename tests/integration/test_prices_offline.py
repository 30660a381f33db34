"""Price issue 11, finding 10: an installation with no route to the price
source, and a database that keeps refusing the prices.

Part 1, no route to the source. price_url points at a closed port on loopback, so every request
fails at once (connection refused), like a name that cannot be resolved.
Over about three simulated hours of a backfill of 30 days:
 - the requests follow the source's back-off (1 min doubling to 1 h,
   price-worker/price_retry.h): 8 in the first 3 hours, not one per day
   per second;
 - failures of one kind share log lines with their count and the next
   attempt time: 1st, 2nd, 4th, 8th, ...;
 - every request is counted in price_failures.
The requests and log lines per simulated hour are printed, to compare
with a build without the back-off.

Part 2, the database refuses every price stored (a trigger signals an
error): the worker reconnects with the plugin's back-off (worker.h: 1 s
doubling to 60 s), counts each error in price_db_errors, logs at most one
line a minute with the count, and asks the source no faster than the
database back-off allows. Before, it reconnected at once and asked for
the next day every second."""
import datetime as dt
import re
import time

import lib
from lib import check, note, run_main
import prices as px
import scenario as sc

SPEED = 600  # a simulated hour is 6 real seconds
lib.use_fake_clock("2025-10-20 12:00:00", SPEED)
HOURS = 3
START = dt.date(2025, 9, 20)
# Requests a worker following price_retry.h makes from its first failure:
# the pauses 1, 2, 4, ... min, at most 1 h, after each.
BACKOFF_MIN_S, BACKOFF_MAX_S = 60, 3600


def schedule(elapsed_s):
    """Requests made within elapsed_s seconds of the first one."""
    t, pause, n = 0, BACKOFF_MIN_S, 0
    while t <= elapsed_s:
        n += 1
        t += pause
        pause = min(pause * 2, BACKOFF_MAX_S)
    return n


def offline(base, db):
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    closed = lib.free_port()  # nothing listens there
    options = sc.plugin_options(db, "P1", price_source="elia", price_start=START.isoformat(),
                                price_url=f"http://127.0.0.1:{closed}{px.ELIA_PATH}", price_timeout=30)
    port = lib.free_port()
    broker = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=options),
                                f"{base}/broker", port=port)
    broker.wait_log(r"lowi-p1: prices: source ", 30)
    lib.sleep(HOURS * 3600 / lib.clock_factor())  # the clock may be slowed (tests/sanitize.sh)
    broker.stop()

    log = broker.log_text().splitlines()
    stamp = lambda line: int(line.split(":", 1)[0])
    gets = [ln for ln in log if "lowi-p1: prices: GET " in ln]
    stop = [ln for ln in log if "lowi-p1: stopping: " in ln]
    counters = broker.counters()
    requests, failures = counters.get("price_requests"), counters.get("price_failures")
    first = stamp(gets[0]) if gets else None
    elapsed = stamp(stop[-1]) - first if gets and stop else 0
    hours = elapsed / 3600
    note(f"{requests} requests and {len(gets)} log lines in {hours:.2f} simulated hours "
         f"({requests / max(hours, 0.01):.0f} requests and {len(gets) / max(hours, 0.01):.0f} lines per hour)")
    for ln in gets[:12]:
        note(ln[ln.find("prices:"):][:40] + " ... " + ln[-70:])
    check("the worker tried and failed", requests and requests >= 3 and gets, f"{requests} requests")
    check("about three simulated hours observed", 2.5 <= hours <= 4, f"{hours:.2f} h")
    bound = schedule(elapsed) + 1  # one of slack: the first request may precede the first line
    check("requests follow the back-off (1 min doubling to 1 h)", requests <= bound,
          f"{requests} requests in {elapsed} s, the schedule allows {bound}")
    check("every failed request counted in price_failures", failures == requests, f"{failures} of {requests}")
    # 1st, 2nd, 4th, 8th of a kind in a row; another kind starts again.
    counts = [int(m.group(1)) if m else 1 for m in (re.search(r"\((\d+) in a row\)", ln) for ln in gets)]
    check("one line for the 1st, 2nd, 4th, 8th ... failure in a row", counts == [2 ** i for i in range(len(counts))]
          and len(gets) <= 5, f"lines for failures {counts[:20]}{' ...' if len(counts) > 20 else ''}")
    check("each line says the next attempt", all(re.search(r"failed: .*; next attempt in \d+ (s|min|h)\b.*, at "
                                                           r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ln) for ln in gets),
          gets[-1][gets[-1].find("prices:"):] if gets else "")


DB_MINUTES = 30
DB_DAYS = 60  # a backfill: many days due at once


def db_refuses(base, db):
    db.create_database("DB", sc.DB_USER, sc.DB_PASSWORD)
    fixtures = px.FixtureServer(base)
    day = px.brussels_day(time.time())
    first = day - dt.timedelta(days=DB_DAYS)
    broker = px.start_broker(base, db, "DB", "elia", fixtures, price_start=first.isoformat())
    px.wait_days(db, "DB", first, day, 60)
    broker.stop()
    db.query("DELETE FROM PxElectr", db="DB")
    db.query("CREATE TRIGGER refuse BEFORE INSERT ON PxElectr FOR EACH ROW "
             "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'", db="DB")
    before = len(fixtures.requests())
    broker = px.start_broker(base, db, "DB", "elia", fixtures, price_start=first.isoformat())
    lib.sleep(DB_MINUTES * 60 / lib.clock_factor())
    broker.stop()
    requests = len(fixtures.requests()) - before
    errors = broker.counters().get("price_db_errors")
    lines = broker.log_lines(r"lowi-p1: prices: database: ")
    stamp = lambda line: int(line.split(":", 1)[0])
    waits = [int(m.group(1)) for m in (re.search(r"reconnecting in (\d+) s$", ln) for ln in lines) if m]
    counts = [int(m.group(1)) if m else 1 for m in (re.search(r"\((\d+) in a row\)", ln) for ln in lines)]
    note(f"database refusing prices of {DB_DAYS} days, {DB_MINUTES} simulated minutes: {errors} errors "
         f"(price_db_errors), {len(lines)} log lines, {requests} requests to the source; lines at errors "
         f"{counts[:12]}{' ...' if len(counts) > 12 else ''} announcing waits {waits[:12]}")
    check("the database error is logged with the wait", lines and len(waits) == len(lines) and "refused by the test" in lines[0],
          lines[0][lines[0].find("prices:"):] if lines else "no line")
    # Reconnects at 1, 2, 4, ... s after each error, at most 60 s apart.
    schedule, t, pause = [], 0, 1
    while t <= DB_MINUTES * 60:
        schedule.append(t)
        t, pause = t + pause, min(pause * 2, 60)
    check("reconnects follow the worker back-off (1 s doubling to 60 s), counted in price_db_errors",
          errors is not None and 5 <= errors <= len(schedule) + 1,
          f"{errors} errors in {DB_MINUTES} min, the back-off allows {len(schedule) + 1}")
    gaps = [stamp(b) - stamp(a) for a, b in zip(lines, lines[1:])]
    check("one line a minute at most, with the count of errors in a row", all(g >= 59 for g in gaps)
          and counts[0] == 1 and counts == sorted(counts) and counts[-1] <= (errors or 0),
          f"gaps {gaps[:8]} s, counts {counts[:8]}")
    check("the announced waits grow to 60 s, never reset by reconnecting",
          waits == sorted(waits) and waits[0] == 1 and waits[-1] == 60, f"{waits}")
    check("the source is asked no faster than the database back-off", requests <= (errors or 0) + 1,
          f"{requests} requests for {errors} reconnects")
    fixtures.stop()


def main():
    base = sc.workdir("prices-offline")
    db = lib.MariaDB().start(f"{base}/db")
    offline(base, db)
    db_refuses(base, db)
    db.stop()


run_main(main)
