"""The capacity cost in SQL: the views CapaMonth and ConsoMonth against a
hand-computed example.

The plugin creates the schema the normal way (a broker start connecting
with only the privileges the README grants, twice, so the statements are
also shown to run again on an existing schema); the rows are then written
by hand: 14 months of peaks over 15 months for meter A (February 2025 has
none: left out of every window it falls in), a meter B younger than 12
months with its own grid operator's rate, a meter C before any rate, dated
rates that change, and priced quarters on Brussels month boundaries.
Every view row is compared with values worked out by hand below. Then
the README's "In SQL" examples run on the same rows, and the queries it
shows with their output must give that output.

Prices are the same for every period: Buy 20 c€/kWh, Sell 5 c€/kWh, so a
quarter costs Soutire x 0.20 - Injecte x 0.05 euros."""
import datetime
import os
import re
import zoneinfo

from lib import check, run_main
import prices as px
import scenario as sc
from scenario import check_view_rows as check_rows, create_schema as start_plugin, sql_text as text

A, B, C, TZ = "cap00000000a", "cap00000000b", "cap00000000c", "cap0000000tz"

# The privileges of the README's installation walk-through, nothing more.
PICS = {
    # Mois: peak kW (the peak's quarter: the 15th, 17:45 UTC)
    A: {"2025-01-01": "3.000",
        # 2025-02: no peak at all
        "2025-03-01": "2.000", "2025-04-01": "4.000", "2025-05-01": "3.500",
        "2025-06-01": "5.000", "2025-07-01": "2.600", "2025-08-01": "3.200", "2025-09-01": "1.800",
        "2025-10-01": "4.400", "2025-11-01": "6.000", "2025-12-01": "3.300", "2026-01-01": "2.900",
        "2026-02-01": "4.100", "2026-03-01": "3.700"},
    B: {"2025-11-01": "1.200", "2025-12-01": "3.000", "2026-01-01": "4.500", "2026-02-01": "2.000",
        "2026-03-01": "5.500"},
    C: {"2023-12-01": "3.000"},
}

TARIFS = [
    # (FromDt, Dso, EUR_kW_year)
    ("2024-01-01", "", "48"),          # 4 €/kW a month
    ("2026-01-01", "", "60"),          # 5
    ("2026-03-01", "", "66"),          # 5.5
    ("2026-02-01", "Imewo", "36"),     # 3: meter B's operator
    ("2024-01-01", "Gaselwest", "99"),  # nobody's operator here: never used
]
METERS = [(B, "Imewo")]

QUARTERS = [
    # (Serial, DtTm UTC, Soutire, Injecte, Estimated)
    (A, "2025-06-30 22:45:00", "0.500", "0.000", 0),  # 00:45 CEST on 1 July: July; 0.500 x 0.20 = 0.100
    (A, "2025-07-10 12:00:00", "0.100", "0.800", 0),  # July; 0.100 x 0.20 - 0.800 x 0.05 = -0.020
    (A, "2025-10-31 22:45:00", "0.250", "0.000", 0),  # 23:45 CET on 31 October: October; 0.050
    (A, "2025-12-31 22:45:00", "0.300", "0.000", 0),  # 23:45 CET on 31 December: December; 0.060
    (A, "2025-12-31 23:00:00", "0.400", "0.000", 0),  # 00:00 CET on 1 January: January; 0.080
    (A, "2026-03-31 21:45:00", "0.150", "0.000", 0),  # 23:45 CEST on 31 March: March; 0.030
    (A, "2026-03-31 22:00:00", "0.200", "0.000", 1),  # 00:00 CEST on 1 April: April (no peak); 0.040
]

# CapaMonth, ordered by Serial, Mois:
# (Serial, Mois, Peak_kW, Billed_kW, Months, Mean_kW, TarifDso, TarifFromDt, EUR_kW_year, Cost_EUR)
# Billed = max(peak, 2.5); the window is the month and the 11 before, with
# the months that have a peak; Cost = sum of billed x rate / (12 x Months),
# rounded to 6 decimals; Mean = sum / Months, to 3.
R48 = ("", "2024-01-01", "48.000000")
R60 = ("", "2026-01-01", "60.000000")
R66 = ("", "2026-03-01", "66.000000")
RIM = ("Imewo", "2026-02-01", "36.000000")
CAPA = [
    (A, "2025-01-01", "3.000", "3.000", 1, "3.000", *R48, "12.000000"),   # 3.0 x 48 / 12
    (A, "2025-03-01", "2.000", "2.500", 2, "2.750", *R48, "11.000000"),   # 3.0 + 2.5 = 5.5; x 48 / 24
    (A, "2025-04-01", "4.000", "4.000", 3, "3.167", *R48, "12.666667"),   # 5.5 + 4.0 = 9.5; x 48 / 36
    (A, "2025-05-01", "3.500", "3.500", 4, "3.250", *R48, "13.000000"),   # 9.5 + 3.5 = 13.0; x 48 / 48
    (A, "2025-06-01", "5.000", "5.000", 5, "3.600", *R48, "14.400000"),   # 13.0 + 5.0 = 18.0; x 48 / 60
    (A, "2025-07-01", "2.600", "2.600", 6, "3.433", *R48, "13.733333"),   # 18.0 + 2.6 = 20.6; x 48 / 72
    (A, "2025-08-01", "3.200", "3.200", 7, "3.400", *R48, "13.600000"),   # 20.6 + 3.2 = 23.8; x 48 / 84
    (A, "2025-09-01", "1.800", "2.500", 8, "3.288", *R48, "13.150000"),   # 23.8 + 2.5 = 26.3 (3.2875); x 48 / 96
    (A, "2025-10-01", "4.400", "4.400", 9, "3.411", *R48, "13.644444"),   # 26.3 + 4.4 = 30.7; x 48 / 108
    (A, "2025-11-01", "6.000", "6.000", 10, "3.670", *R48, "14.680000"),  # 30.7 + 6.0 = 36.7; x 48 / 120
    (A, "2025-12-01", "3.300", "3.300", 11, "3.636", *R48, "14.545455"),  # 36.7 + 3.3 = 40.0; x 48 / 132
    # 2026-01: the window 2025-02..2026-01 loses January 2025 (3.0) and
    # still lacks February: 40.0 - 3.0 + 2.9 = 39.9 over 11; the 2026 rate.
    (A, "2026-01-01", "2.900", "2.900", 11, "3.627", *R60, "18.136364"),  # 39.9 x 60 / 132 = 18.1363636
    # 2026-02: window 2025-03..2026-02, all 12 months: 39.9 + 4.1 = 44.0
    (A, "2026-02-01", "4.100", "4.100", 12, "3.667", *R60, "18.333333"),  # 44.0 x 60 / 144
    # 2026-03: window 2025-04..2026-03: 44.0 - 2.5 (March 2025) + 3.7 = 45.2
    (A, "2026-03-01", "3.700", "3.700", 12, "3.767", *R66, "20.716667"),  # 45.2 x 66 / 144 = 20.7166667
    # B: younger than 12 months, so fewer months; Imewo's rate from
    # February 2026, the generic one before; from March 2026 Imewo's still,
    # though the generic rate changed after it.
    (B, "2025-11-01", "1.200", "2.500", 1, "2.500", *R48, "10.000000"),   # 2.5 x 48 / 12
    (B, "2025-12-01", "3.000", "3.000", 2, "2.750", *R48, "11.000000"),   # 2.5 + 3.0 = 5.5; x 48 / 24
    (B, "2026-01-01", "4.500", "4.500", 3, "3.333", *R60, "16.666667"),   # 5.5 + 4.5 = 10.0; x 60 / 36
    (B, "2026-02-01", "2.000", "2.500", 4, "3.125", *RIM, "9.375000"),    # 10.0 + 2.5 = 12.5; x 36 / 48
    (B, "2026-03-01", "5.500", "5.500", 5, "3.600", *RIM, "10.800000"),   # 12.5 + 5.5 = 18.0; x 36 / 60
    # C: before the first rate: no cost.
    (C, "2023-12-01", "3.000", "3.000", 1, "3.000", None, None, None, None),
]

# ConsoMonth, ordered by Serial, Mois:
# (Serial, Mois, Quarters, Import_kWh, Export_kWh, Energy_EUR, Peak_kW, Mean_kW, Capacity_EUR, Total_EUR)
CONSO_MONTH = [
    (A, "2025-01-01", 0, None, None, None, "3.000", "3.000", "12.000000", None),
    (A, "2025-03-01", 0, None, None, None, "2.000", "2.750", "11.000000", None),
    (A, "2025-04-01", 0, None, None, None, "4.000", "3.167", "12.666667", None),
    (A, "2025-05-01", 0, None, None, None, "3.500", "3.250", "13.000000", None),
    # June: its last quarter (22:45 UTC on the 30th) is July's
    (A, "2025-06-01", 0, None, None, None, "5.000", "3.600", "14.400000", None),
    # 0.100 - 0.020 = 0.080; 13.733333 + 0.080 = 13.813333
    (A, "2025-07-01", 2, "0.600", "0.800", "0.080000", "2.600", "3.433", "13.733333", "13.813333"),
    (A, "2025-08-01", 0, None, None, None, "3.200", "3.400", "13.600000", None),
    (A, "2025-09-01", 0, None, None, None, "1.800", "3.288", "13.150000", None),
    (A, "2025-10-01", 1, "0.250", "0.000", "0.050000", "4.400", "3.411", "13.644444", "13.694444"),
    (A, "2025-11-01", 0, None, None, None, "6.000", "3.670", "14.680000", None),
    (A, "2025-12-01", 1, "0.300", "0.000", "0.060000", "3.300", "3.636", "14.545455", "14.605455"),
    (A, "2026-01-01", 1, "0.400", "0.000", "0.080000", "2.900", "3.627", "18.136364", "18.216364"),
    (A, "2026-02-01", 0, None, None, None, "4.100", "3.667", "18.333333", None),
    (A, "2026-03-01", 1, "0.150", "0.000", "0.030000", "3.700", "3.767", "20.716667", "20.746667"),
    # April: an estimated quarter only, so no peak and no capacity cost
    (A, "2026-04-01", 1, "0.200", "0.000", "0.040000", None, None, None, None),
    (B, "2025-11-01", 0, None, None, None, "1.200", "2.500", "10.000000", None),
    (B, "2025-12-01", 0, None, None, None, "3.000", "2.750", "11.000000", None),
    (B, "2026-01-01", 0, None, None, None, "4.500", "3.333", "16.666667", None),
    (B, "2026-02-01", 0, None, None, None, "2.000", "3.125", "9.375000", None),
    (B, "2026-03-01", 0, None, None, None, "5.500", "3.600", "10.800000", None),
    (C, "2023-12-01", 0, None, None, None, "3.000", "3.000", None, None),
]




def price_period(dttm):
    """The market period covering a quarter (UTC, naive): the hour before
    the quarter-hour market's first day, the quarter itself from it."""
    if dttm < datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=px.QH_SWITCH_S):
        return dttm.replace(minute=0), 60
    return dttm, 15


def boundary_quarters():
    """For meter TZ, the quarters just before and just after the start of
    every Brussels month of 2025-2027, and the month each belongs to, from
    the time-zone database."""
    brussels = zoneinfo.ZoneInfo("Europe/Brussels")
    out = []
    for year in (2025, 2026, 2027):
        for month in range(1, 13):
            start = datetime.datetime(year, month, 1, tzinfo=brussels).astimezone(datetime.timezone.utc)
            for q in (start - datetime.timedelta(minutes=15), start):
                local = q.astimezone(brussels)
                out.append((q.replace(tzinfo=None), f"{local.year:04d}-{local.month:02d}-01"))
    return out




def main():
    base = sc.workdir("capacity-sql")
    db = sc.readme_database(base)

    for run in (1, 2):
        check(f"start {run}: the plugin creates (or finds) its schema with the README's privileges",
              start_plugin(base, db, run), "connected, no schema error")
    views = {r[0] for r in db.query("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'P1'")}
    check("CapaMonth and ConsoMonth exist", {"CapaMonth", "ConsoMonth"} <= views, f"views {sorted(views)}")

    conn = db.connect("P1")
    with conn.cursor() as c:
        for serial, months in PICS.items():
            for mois, kw in months.items():
                c.execute("INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (%s, %s + INTERVAL 14 DAY + "
                          "INTERVAL 1065 MINUTE, %s, %s)", (mois, mois, kw, serial))
        c.executemany("INSERT INTO CapaTarif (FromDt, Dso, EUR_kW_year) VALUES (%s, %s, %s)", TARIFS)
        c.executemany("INSERT INTO Meter (Serial, Dso) VALUES (%s, %s)", METERS)
        quarters = [(s, datetime.datetime.fromisoformat(t), so, inj, est) for s, t, so, inj, est in QUARTERS]
        tz_quarters = boundary_quarters()
        quarters += [(TZ, q, "0.001", "0.000", 0) for q, _ in tz_quarters]
        c.executemany("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Estimated)"
                      " VALUES (%s, 0, 0, 0, 0, %s, %s, %s, %s)",
                      [(t, so, inj, s, est) for s, t, so, inj, est in quarters])
        periods = {price_period(t) for _, t, _, _, _ in quarters}
        c.executemany("INSERT INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source) VALUES"
                      " (%s, 50, 20, 5, %s, 'test')", sorted(periods))
    conn.close()

    got = [text(r) for r in db.query(
        "SELECT Serial, Mois, Peak_kW, Billed_kW, Months, Mean_kW, TarifDso, TarifFromDt, EUR_kW_year, Cost_EUR"
        " FROM CapaMonth WHERE Serial <> %s ORDER BY Serial, Mois", (TZ,), db="P1")]
    check_rows("CapaMonth", got, CAPA)

    got = [text(r) for r in db.query(
        "SELECT Serial, Mois, Quarters, Import_kWh, Export_kWh, Energy_EUR, Peak_kW, Mean_kW, Capacity_EUR,"
        " Total_EUR FROM ConsoMonth WHERE Serial <> %s ORDER BY Serial, Mois", (TZ,), db="P1")]
    check_rows("ConsoMonth", got, CONSO_MONTH)

    # Every quarter on either side of a month's start lands in the month the
    # time-zone database says, summer and winter time alike.
    want = {}
    for _, mois in tz_quarters:
        want[mois] = want.get(mois, 0) + 1
    got = {str(m): int(n) for m, n in db.query(
        "SELECT Mois, Quarters FROM ConsoMonth WHERE Serial = %s", (TZ,), db="P1")}
    wrong = sorted(m for m in set(want) | set(got) if want.get(m) != got.get(m))
    check("ConsoMonth: quarters next to each month's start in the right Brussels month, 2025-2027",
          not wrong and len(want) == 37,
          f"{len(want)} months, {len(tz_quarters)} quarters" + (
              f"; first wrong {wrong[0]}: view {got.get(wrong[0])}, expected {want.get(wrong[0])}" if wrong else ""))

    readme_examples(db)


def readme_examples(db):
    """The README's "In SQL" examples on meter A's rows copied to the
    README's serial, with the README's example rate only: each query shown
    with its output gives that output."""
    text_ = open(os.path.join(sc.ROOT, "README.md"), encoding="utf-8").read()
    section = text_.split("\n### In SQL\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S)
    serial = "4c75252e8c51"
    db.query("DELETE FROM CapaTarif", db="P1")
    db.query("INSERT INTO Pics SELECT Mois, DtTm, kW, %s FROM Pics WHERE Serial = %s", (serial, A), db="P1")
    db.query("INSERT INTO Conso SELECT DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, %s, Gas_m3, Water_m3,"
             " Estimated FROM Conso WHERE Serial = %s", (serial, A), db="P1")
    # The first block is the example rate.
    db.query(blocks[0][1], db="P1")
    shown = 0
    for (lang, query), (out_lang, output) in zip(blocks, blocks[1:] + [("sql", "")]):
        if lang != "sql" or not query.lstrip().startswith("SELECT"):
            continue
        if out_lang != "":
            db.query(query, db="P1")     # runs, output not shown
            continue
        shown += 1
        lines = output.strip().splitlines()
        want = [tuple(ln.split()) for ln in lines[1:]]
        got = [tuple("NULL" if v is None else str(v) for v in r) for r in db.query(query, db="P1")]
        check(f"README, In SQL: query {shown} gives the output shown", got == want and lines[0].split() == [
            c[0] for c in _description(db, query)], f"{len(got)} rows; view {got[:1]}, README {want[:1]}")
    check("README, In SQL: queries with their output", shown >= 2, f"{shown} shown")
    # The other statements, last since they change the rates: they run.
    others = [q for lang, q in blocks[1:] if lang == "sql" and not q.lstrip().startswith("SELECT")]
    for statement in (st for q in others for st in q.split(";") if st.strip()):
        db.query(statement, db="P1")
    check("README, In SQL: every statement runs", others, f"{len(others)} other blocks")


def _description(db, query):
    conn = db.connect("P1")
    try:
        with conn.cursor() as c:
            c.execute(query)
            return c.description
    finally:
        conn.close()




if __name__ == "__main__":
    run_main(main)
