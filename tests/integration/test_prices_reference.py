"""Price issue, done-when 1: the reference sample is reproduced. The broker
starts on 2020-01-01 at 14:30 Brussels time (after the auction results for
tomorrow), the price worker backfills from 2020-01-01 from the Elia-format
fixture server, and PxElectr holds exactly the reference Buy and Sell values
for the reference prices from 2019-12-31 23:00 UTC, computed by the seeded
FormPxElectr row.
Then a contract on averages from 2020-01-02 (tariff.h): adding it
recomputes exactly that day's 24 periods with January's and the day's
time-weighted means; a period of the month deleted and fetched again after
a restart recomputes the month's provisional values, then the final ones."""
import datetime as dt
from decimal import Decimal

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
    check_average_contract(db, broker, rows)
    stop = broker.stop()
    check("broker stops promptly with the price worker", stop.seconds < 3 and not stop.killed, f"{stop.seconds:.2f} s")
    requests = [r for r in fixtures.requests() if "auctionresults" in r["path"]]
    note(f"{len(requests)} requests: {[r['path'].rsplit('/', 2)[-2:] for r in requests]}")
    check("one hourly request per day, nothing repeated", len(requests) == 2, f"{len(requests)}")
    check_refetch(base, db, fixtures)
    fixtures.stop()
    db.stop()


JAN2 = px.day_bounds(dt.date(2020, 1, 2))
BUY, SELL = "month_avg/10 * 1.06 + 1.5", "day_avg/10"


def mean(rows):
    """Time-weighted mean price of stored rows: sum(price x minutes) / sum(minutes)."""
    return sum(Decimal(str(r[1])) * r[4] for r in rows) / sum(r[4] for r in rows)


def wrong_average_rows(rows):
    """2020-01-02 periods whose Buy/Sell are not the contract's on the stored prices."""
    month, day = mean(rows), mean([r for r in rows if JAN2[0] <= r[0] < JAN2[1]])
    buy, sell = month / 10 * Decimal("1.06") + Decimal("1.5"), day / 10
    return [r for r in rows if JAN2[0] <= r[0] < JAN2[1] and (
        r[2] is None or abs(Decimal(str(r[2])) - buy) > Decimal("0.000006")
        or abs(Decimal(str(r[3])) - sell) > Decimal("0.000006"))]


def check_average_contract(db, broker, rows):
    db.query(f"INSERT INTO FormPxElectr VALUES ('2020-01-02', '{BUY}', '{SELL}')", db="P1")
    line = broker.wait_log(r"contract formulas changed: Buy/Sell recomputed for \d+ periods", 30)[-1]
    n = int(line.split("recomputed for ")[1].split()[0])
    after = px.stored(db, "P1")
    check("a month_avg/day_avg row recomputes its day's 24 periods only", n == 24
          and [r for r in after if r[0] < JAN2[0]] == [r for r in rows if r[0] < JAN2[0]], f"log says {n}")
    bad = wrong_average_rows(after)
    note(f"January mean {mean(after):.4f}, 2020-01-02 mean {mean([r for r in after if r[0] >= JAN2[0]]):.4f} EUR/MWh")
    check("Buy = January's mean/10 x 1.06 + 1.5, Sell = the day's mean/10", not bad, f"{len(bad)} wrong")


def check_refetch(base, db, fixtures):
    full = px.stored(db, "P1")
    gone = max((r for r in full if r[0] >= JAN2[0]), key=lambda r: abs(Decimal(str(r[1])) - mean(full)))
    db.query(f"DELETE FROM PxElectr WHERE TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm) = {gone[0]}", db="P1")
    broker = px.start_broker(base, db, "P1", "elia", fixtures)
    # At start, 23 periods of 2020-01-02 get the provisional means of the
    # 47 stored; the refetched day then brings the final ones back.
    line = broker.wait_log(r"contract formulas checked: Buy/Sell recomputed for \d+ periods", 30)[-1]
    n = int(line.split("recomputed for ")[1].split()[0])
    check("one period fewer: the month's 23 other periods recomputed", n == 23, f"log says {n}")
    # The day's prices and its month's recomputation are one transaction.
    ok = px.wait_days(db, "P1", dt.date(2020, 1, 2), dt.date(2020, 1, 2), 30)
    again = px.stored(db, "P1")
    check("the day fetched again: every period back to its final Buy/Sell", ok and again == full,
          f"{sum(a != b for a, b in zip(again, full))} rows differ")
    broker.stop()


run_main(main)
