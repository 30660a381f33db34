"""Price issue, done-when 2, 5 and 6.
The broker starts on 2026-03-30 at 14:00 Brussels time with price_start
2025-03-28: the worker backfills a year from the Elia-format fixture server.
 - hourly rows up to the day before the switch to quarters
   (price-worker/price_market.h), quarter-hour rows from it; the DST days give 23/25 hours and 92/100 quarters; every
   period present once, no gap; each period's price as served;
 - the broker is stopped in the middle of the backfill and started again:
   it resumes, and no day already stored is requested again;
 - a FormPxElectr row added later recomputes exactly the periods it governs;
   a broken formula is reported with its position and leaves its periods as
   they were;
 - the ConsoCost view prices Conso quarters with the covering period on
   both sides of that switch."""
import datetime as dt
from decimal import Decimal

import lib
from lib import check, note, run_main
import prices as px
import scenario as sc

lib.use_fake_clock("2026-03-30 12:00:00", 60)
FIRST, LAST = dt.date(2025, 3, 28), dt.date(2026, 3, 31)


def main():
    base = sc.workdir("prices-backfill")
    fixtures = px.FixtureServer(base)
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    broker = px.start_broker(base, db, "P1", "elia", fixtures, price_start=FIRST.isoformat())

    # Interrupt the backfill about a third of the way.
    lib.wait_for(lambda: len(px.stored(db, "P1")) > 120 * 24, 120, "a third of the backfill")
    stop = broker.stop()
    check("broker stops promptly in the middle of a backfill", stop.seconds < 3 and not stop.killed, f"{stop.seconds:.2f} s")
    before = len(px.stored(db, "P1"))
    requested_before = {r["path"] for r in fixtures.requests()}
    broker = px.start_broker(base, db, "P1", "elia", fixtures, price_start=FIRST.isoformat())
    ok = px.wait_days(db, "P1", FIRST, LAST, 240)
    after_restart = [r for r in fixtures.requests()][len(requested_before):]
    repeated = [r["path"] for r in after_restart if r["path"] in requested_before]
    note(f"{before} periods stored before the restart; {len(after_restart)} requests after it; "
         f"repeated: {[p.rsplit('/', 1)[-1] for p in repeated]}")
    check("the restart resumes: every day complete", ok, "")
    check("no stored day requested again after the restart (at most the day in flight)", len(repeated) <= 1,
          f"{len(repeated)} repeated")

    rows = px.stored(db, "P1")
    days = px.complete_days(rows, FIRST, LAST)
    qh, last_hourly = px.QH_SWITCH_DAY, px.QH_SWITCH_DAY - dt.timedelta(days=1)
    for day, want in ((dt.date(2025, 3, 30), (23, 60)), (last_hourly, (24, 60)),
                      (qh, (96, 15)), (dt.date(2025, 10, 26), (100, 15)),
                      (dt.date(2026, 3, 29), (92, 15)), (dt.date(2026, 3, 31), (96, 15))):
        n = days[day][0]
        minutes = {m for ts, _, _, _, m, _ in rows if px.brussels_day(ts) == day}
        check(f"{day}: {want[0]} periods of {want[1]} min", n == want[0] and minutes == {want[1]}, f"{n} periods, {minutes}")
    gaps = [(a[0], b[0]) for a, b in zip(rows, rows[1:]) if b[0] - a[0] != a[4] * 60]
    check("no period missing or duplicated from first to last", not gaps and all(c for _, _, c in days.values()),
          f"{len(rows)} periods, gaps {gaps[:3]}")
    wrong = [r for r in rows if abs(r[1] - px.price_at(r[0], r[4] * 60)) > 0.0005]
    check("every price as served by the source", not wrong, f"{len(wrong)} differ")
    progress = broker.log_lines(r"prices: \d+ of \d+ days stored")
    check("backfill progress in the broker log", len(progress) >= 2, progress[-1][-120:] if progress else "")

    # Done-when 5: a new formula recomputes only what it governs.
    snapshot = {r[0]: r for r in rows}
    db.query("INSERT INTO FormPxElectr VALUES ('2025-12-01', 'max(0, price/10) * 1.06 + 1', 'price/10 - 0.5')", db="P1")
    line = broker.wait_log(r"contract formulas changed: Buy/Sell recomputed for \d+ periods", 30)[-1]
    n = int(line.split("recomputed for ")[1].split()[0])
    start = px.day_bounds(dt.date(2025, 12, 1))[0]
    governed = [ts for ts in snapshot if ts >= start]
    rows = px.stored(db, "P1")
    changed = [r[0] for r in rows if r[1:4] != snapshot[r[0]][1:4]]
    check("adding a FormPxElectr row recomputes exactly the periods from its FromDt", n == len(governed)
          and sorted(changed) == sorted(ts for ts in governed if snapshot[ts][2] != round(max(0, snapshot[ts][1] / 10) * 1.06 + 1, 5)),
          f"log says {n}, {len(governed)} periods from 2025-12-01, {len(changed)} values changed")
    bad = [r for r in rows if r[0] >= start and (r[2] != round(max(0, r[1] / 10) * 1.06 + 1, 5) or r[3] != round(r[1] / 10 - 0.5, 5))]
    check("the new contract's Buy/Sell on its periods", not bad, f"{len(bad)} wrong")

    db.query("INSERT INTO FormPxElectr VALUES ('2026-01-15', 'price * (1 + ', 'price/10')", db="P1")
    line = broker.wait_log(r"FormPxElectr row 2026-01-15 is not used", 30)[-1]
    check("a broken formula is reported with its position", "position" in line, line[line.find("lowi-p1"):])
    lib.sleep(2)
    rows2 = px.stored(db, "P1")
    check("its periods are left as they were", [r[1:4] for r in rows2] == [r[1:4] for r in rows], "")

    # Done-when 6: the cost view on both sides of the switch to quarters:
    # a quarter inside the last hourly period, one in the first quarter day.
    before, after = px.QH_SWITCH_S - 45 * 60, px.QH_SWITCH_S + 12 * 3600 + 15 * 60
    db.query("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial) VALUES"
             f" ('{utc_text(before)}', 1, 1, 0, 0, 0.500, 0.100, 'x'),"
             f" ('{utc_text(after)}', 1, 1, 0, 0, 0.250, 0.300, 'x')", db="P1")
    cost = db.query("SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), TIMESTAMPDIFF(SECOND, '1970-01-01', PriceDtTm),"
                    " PriceMinutes, Buy, Sell, Cost_EUR FROM ConsoCost ORDER BY DtTm", db="P1")
    by_ts = {r[0]: r for r in px.stored(db, "P1")}
    for (ts, pts, minutes, buy, sell, eur), (sout, inj, want_pts, want_min) in zip(cost, (
            (Decimal("0.5"), Decimal("0.1"), before - before % 3600, 60),
            (Decimal("0.25"), Decimal("0.3"), after, 15))):
        want = (sout * Decimal(str(by_ts[want_pts][2])) - inj * Decimal(str(by_ts[want_pts][3]))) / 100
        check(f"ConsoCost at {dt.datetime.utcfromtimestamp(ts)} uses the {want_min}-minute period at "
              f"{dt.datetime.utcfromtimestamp(want_pts)}", pts == want_pts and minutes == want_min and abs(eur - want) < Decimal("0.000001"),
              f"cost {eur} EUR, expected {want:.6f}")
    check("every Conso quarter priced", len(cost) == 2, f"{len(cost)} rows")
    broker.stop()
    fixtures.stop()
    db.stop()


def utc_text(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


run_main(main)
