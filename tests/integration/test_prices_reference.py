"""Price issue, done-when 1: the reference sample is reproduced. The broker
starts on 2020-01-01 at 14:30 Brussels time (after the auction results for
tomorrow), the price worker backfills from 2020-01-01 from the Elia-format
fixture server, and PxElectr holds exactly the reference Buy and Sell values
for the reference prices from 2019-12-31 23:00 UTC, computed by the seeded
FormPxElectr row."""
import datetime as dt

import lib
from lib import check, note, run_main
import prices as px
import scenario as sc

lib.use_fake_clock("2020-01-01 13:30:00", 60)

REFERENCE = [  # price, Buy, Sell (the reference table)
    (41.88, 4.65552, 4.188), (38.6, 4.30784, 3.86), (36.55, 4.09054, 3.655), (32.32, 3.64216, 3.232),
    (30.85, 3.48634, 3.085), (30.14, 3.41108, 3.014), (30.17, 3.41426, 3.017), (30, 3.39624, 3.0),
    (30.65, 3.46514, 3.065), (30.65, 3.46514, 3.065)]


def main():
    base = sc.workdir("prices-ref")
    fixtures = px.FixtureServer(base)
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    broker = px.start_broker(base, db, "P1", "elia", fixtures)
    ok = px.wait_days(db, "P1", dt.date(2020, 1, 1), dt.date(2020, 1, 2), 60)
    check("2020-01-01 and tomorrow 2020-01-02 stored, hourly", ok, "")
    rows = px.stored(db, "P1")
    first = int(dt.datetime(2019, 12, 31, 23, tzinfo=dt.timezone.utc).timestamp())
    got = [(p, b, s) for ts, p, b, s, m, _ in rows if first <= ts < first + 10 * 3600]
    for (want, mine) in zip(REFERENCE, got):
        note(f"price {mine[0]:7.2f}  Buy {mine[1]:.5f}  Sell {mine[2]:.5f}   reference {want}")
    check("the reference rows, exactly", got == REFERENCE, f"{len(got)} rows")
    check("48 hourly periods, 60 minutes each", len(rows) == 48 and {r[4] for r in rows} == {60}, f"{len(rows)} rows")
    formulas = db.query("SELECT FromDt, BuyFormula, SellFormula FROM FormPxElectr", db="P1")
    check("FormPxElectr seeded with the reference contract",
          [(str(f[0]), f[1], f[2]) for f in formulas] == [("2020-01-01", "(price/10 + 0.204) * 1.06", "price/10")],
          f"{formulas}")
    stop = broker.stop()
    check("broker stops promptly with the price worker", stop.seconds < 3 and not stop.killed, f"{stop.seconds:.2f} s")
    requests = [r for r in fixtures.requests() if "auctionresults" in r["path"]]
    note(f"{len(requests)} requests: {[r['path'].rsplit('/', 2)[-2:] for r in requests]}")
    check("one hourly request per day, nothing repeated", len(requests) == 2, f"{len(requests)}")
    fixtures.stop()
    db.stop()


run_main(main)
