"""The monthly bill in SQL: the views BillQuarter, BillLine and BillMonth
against the README's worked month and against hand-computed months.

The plugin creates the schema the normal way (a broker start connecting
with only the privileges the README grants, twice, so the statements are
also shown to run again on an existing schema). Then:

- the README's worked month: the quarters of its table and the example
  rates of its first SQL block are loaded as they are written there, and
  each query of "A worked month" must give the output printed under it,
  line by line, to the cent. The README's numbers are read from the
  README, so that the text and the test cannot drift apart;
- meter B, on its own grid operator with day and night rates that change
  in the middle of October 2026 (the quarters on either side of the
  change's midnight, 21:45 and 22:00 UTC, fall on different Brussels
  dates), a meter swap (a counter discontinuity: the quarter is not
  split and counts as day), a September with an unpriced quarter (no
  total) and a November whose Buy includes VAT (taken out of the energy
  line): every line and foot computed by hand below;
- the Brussels date of quarters on either side of every month's first
  midnight and of every summer-time change, 2025-2027, against the
  time-zone database."""
import datetime
import os
import re
import zoneinfo

from lib import check, run_main
import scenario as sc
from scenario import check_view_rows as check_rows, create_schema as start_plugin, sql_text as text

README_SERIAL = "4c75252e8c51"
B, TZ = "bill0000000b", "bill000000tz"
BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")

# The privileges of the README's installation walk-through, nothing more.
# Meter B on 'ORES': (DtTm UTC, In_D, In_N, Soutire, Injecte, Estimated, Buy, Sell); Buy None = no price.
B_QUARTERS = [
    ("2026-09-30 21:45", "100.100", "200.000", "0.100", "0.000", 0, None, None),   # Sep 30 23:45: first row, unpriced
    ("2026-09-30 22:00", "100.100", "200.400", "0.400", "0.000", 0, "10", "9"),    # Oct 1 00:00, night 0.400
    ("2026-10-14 21:45", "100.100", "201.200", "0.800", "0.000", 0, "10", "9"),    # Oct 14 23:45, night 0.800
    ("2026-10-14 22:00", "100.100", "201.800", "0.600", "0.000", 0, "10", "9"),    # Oct 15 00:00, night 0.600
    ("2026-10-20 08:00", "102.100", "201.800", "2.000", "0.000", 0, "20", "19"),   # day 2.000
    ("2026-10-25 00:30", "5.000", "7.000", "0.250", "0.000", 1, "20", "19"),       # meter swap: unsplit, day
    ("2026-10-31 22:45", "5.300", "7.000", "0.300", "0.000", 0, "20", "19"),       # Oct 31 23:45 CET, day
    ("2026-10-31 23:00", "5.300", "7.200", "0.200", "0.000", 0, "10.6", "9"),      # Nov 1 00:00, night; Buy incl. VAT
]
B_RATES = [
    # (Line, FromDt, Dso, EUR_kWh, Night_EUR_kWh)
    ("Distribution", "2026-01-01", "ORES", "0.10", "0.06"),
    ("Distribution", "2026-10-15", "ORES", "0.12", "0.07"),
]
B_VAT = ("2026-11-01", "6.00", 1)   # from November, Buy includes the 6 %

# BillLine of B, ordered by Mois, Pos, Line, FromDt, Part:
# (Mois, Pos, Line, Part, FromDt, Qty, Rate_EUR, Amount_EUR). The README's
# generic example rates apply too (data management, green power, supplier
# fee, excise; the energy contribution is 0 from August, so absent); B's
# operator has no CapaTarif rate, so there is no capacity line.
B_LINES = [
    # September: the only quarter has no price: the energy line is unknown.
    ("2026-09-01", 1, "Energy", "import", None, "0.100", None, None),
    ("2026-09-01", 4, "Data management", "month", "2026-01-01", "1.000", "1.576667", "1.58"),
    ("2026-09-01", 4, "Distribution", "day", "2026-01-01", "0.100", "0.100000", "0.01"),    # first row: day
    ("2026-09-01", 4, "Distribution", "night", "2026-01-01", "0.000", "0.060000", "0.00"),
    ("2026-09-01", 4, "Federal excise", "import", "2026-08-01", "0.100", "0.048760", "0.00"),  # 0.004876
    ("2026-09-01", 4, "Green power and CHP", "import", "2026-01-01", "0.100", "0.015600", "0.00"),
    ("2026-09-01", 4, "Supplier fixed fee", "month", "2026-01-01", "1.000", "8.990000", "8.99"),
    # October: (0.4 + 0.8 + 0.6) x 10 + (2.0 + 0.25 + 0.3) x 20 = 69 c
    ("2026-10-01", 1, "Energy", "import", None, "4.350", None, "0.69"),
    ("2026-10-01", 4, "Data management", "month", "2026-01-01", "1.000", "1.576667", "1.58"),
    # Oct 1-14 at the first rate: night 0.4 + 0.8, no day energy
    ("2026-10-01", 4, "Distribution", "day", "2026-01-01", "0.000", "0.100000", "0.00"),
    ("2026-10-01", 4, "Distribution", "night", "2026-01-01", "1.200", "0.060000", "0.07"),  # 0.072
    # Oct 15-31 at the second: day 2.0 + 0.25 (the swap) + 0.3, night 0.6
    ("2026-10-01", 4, "Distribution", "day", "2026-10-15", "2.550", "0.120000", "0.31"),    # 0.306
    ("2026-10-01", 4, "Distribution", "night", "2026-10-15", "0.600", "0.070000", "0.04"),  # 0.042
    ("2026-10-01", 4, "Federal excise", "import", "2026-08-01", "4.350", "0.048760", "0.21"),  # 0.212106
    ("2026-10-01", 4, "Green power and CHP", "import", "2026-01-01", "4.350", "0.015600", "0.07"),  # 0.06786
    ("2026-10-01", 4, "Supplier fixed fee", "month", "2026-01-01", "1.000", "8.990000", "8.99"),
    # November: 0.2 x 10.6 / 100 = 0.0212, / 1.06 = 0.02
    ("2026-11-01", 1, "Energy", "import", None, "0.200", None, "0.02"),
    ("2026-11-01", 4, "Data management", "month", "2026-01-01", "1.000", "1.576667", "1.58"),
    ("2026-11-01", 4, "Distribution", "day", "2026-10-15", "0.000", "0.120000", "0.00"),
    ("2026-11-01", 4, "Distribution", "night", "2026-10-15", "0.200", "0.070000", "0.01"),  # 0.014
    ("2026-11-01", 4, "Federal excise", "import", "2026-08-01", "0.200", "0.048760", "0.01"),  # 0.009752
    ("2026-11-01", 4, "Green power and CHP", "import", "2026-01-01", "0.200", "0.015600", "0.00"),  # 0.00312
    ("2026-11-01", 4, "Supplier fixed fee", "month", "2026-01-01", "1.000", "8.990000", "8.99"),
]
# BillMonth of B: (Mois, Quarters, Unpriced, Unsplit, Import, Day, Night, Export, Line_count,
#                  Excl_VAT_EUR, Vat_pct, VAT_EUR, Total_EUR)
B_MONTHS = [
    ("2026-09-01", 1, 1, 1, "0.100", "0.100", "0.000", "0.000", 7, None, "6.00", None, None),
    # 0.69 + 1.58 + 0.00 + 0.07 + 0.31 + 0.04 + 0.21 + 0.07 + 8.99 = 11.96; 6 % = 0.7176
    ("2026-10-01", 6, 0, 1, "4.350", "2.550", "1.800", "0.000", 9, "11.96", "6.00", "0.72", "12.68"),
    # 0.02 + 1.58 + 0.00 + 0.01 + 0.01 + 0.00 + 8.99 = 10.61; 6 % = 0.6366
    ("2026-11-01", 1, 0, 0, "0.200", "0.000", "0.200", "0.000", 7, "10.61", "6.00", "0.64", "11.25"),
]




def brussels(dttm):
    return dttm.replace(tzinfo=datetime.timezone.utc).astimezone(BRUSSELS)


def readme_section():
    readme = open(os.path.join(sc.ROOT, "README.md"), encoding="utf-8").read()
    return readme.split("\n## The bill\n", 1)[1].split("\n## ", 1)[0]


def worked_quarters(section):
    """The worked month's table: (DtTm, In_D, In_N, Soutire, Injecte, Buy, Sell)."""
    month = section.split("\n### A worked month\n", 1)[1]
    return [tuple(m.groups()) for m in re.finditer(
        r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d) \| [^|]+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|"
        r" ([\d.]+) \| ([\d.]+) \|$", month, re.M)]


def tz_quarters():
    """For meter TZ, the quarters just before and at every Brussels midnight
    that starts a month or a summer-time change day (and the day after),
    2025-2027, with the Brussels date of each."""
    days = set()
    for year in (2025, 2026, 2027):
        for month in range(1, 13):
            days.add(datetime.date(year, month, 1))
        for month in (3, 10):
            last = datetime.date(year, month, 31)
            sunday = last - datetime.timedelta(days=(last.weekday() + 1) % 7)
            days |= {sunday, sunday + datetime.timedelta(days=1)}
    out = []
    for day in sorted(days):
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(datetime.timezone.utc)
        for q in (start - datetime.timedelta(minutes=15), start):
            out.append((q.replace(tzinfo=None), brussels(q.replace(tzinfo=None)).date()))
    # and every quarter of the autumn change's night, when 01:00-02:00 UTC
    # follows 00:00-01:00 UTC on the same Brussels date
    night = datetime.datetime(2026, 10, 24, 21, 0)
    out += [(night + datetime.timedelta(minutes=15 * i), None) for i in range(24)]
    out = sorted({q: d for q, d in out}.items())
    return [(q, d or brussels(q).date()) for q, d in out]




def insert_quarters(c, serial, quarters):
    """quarters: (DtTm UTC, In_D, In_N, Soutire, Injecte, Estimated, Buy, Sell).
    Writes Conso, PxElectr (15-minute periods: all after 2025-10-01) and
    Pics (each Brussels month's highest quarter not estimated)."""
    out_d = 0
    peaks = {}
    for t, in_d, in_n, so, inj, est, buy, sell in quarters:
        out_d += float(inj)
        c.execute("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Estimated)"
                  " VALUES (%s, %s, %s, %s, 0, %s, %s, %s, %s)", (t, in_d, in_n, f"{out_d:.3f}", so, inj, serial, est))
        if buy is not None:
            c.execute("INSERT IGNORE INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source)"
                      " VALUES (%s, 50, %s, %s, 15, 'test')", (t, buy, sell))
        local = brussels(datetime.datetime.fromisoformat(t))
        mois = f"{local.year:04d}-{local.month:02d}-01"
        if not est and (mois not in peaks or float(so) > float(peaks[mois][1])):
            peaks[mois] = (t, so)
    for mois, (t, so) in peaks.items():
        c.execute("INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (%s, %s, %s * 4, %s)", (mois, t, so, serial))


def main():
    base = sc.workdir("bill-sql")
    db = sc.readme_database(base)

    for run in (1, 2):
        check(f"start {run}: the plugin creates (or finds) its schema with the README's privileges",
              start_plugin(base, db, run), "connected, no schema error")
    views = {r[0] for r in db.query("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'P1'")}
    check("BillQuarter, BillLine and BillMonth exist", {"BillQuarter", "BillLine", "BillMonth"} <= views,
          f"views {sorted(views)}")

    section = readme_section()
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S)
    worked = worked_quarters(section)
    check("README, The bill: the worked month's table", len(worked) >= 4, f"{len(worked)} quarters")

    conn = db.connect("P1")
    with conn.cursor() as c:
        # The README's example rates: its first SQL block, as written.
        example = re.sub(r"--[^\n]*", "", blocks[0][1])
        statements = [s for s in example.split(";") if s.strip()]
        for st in statements:
            c.execute(st)
        insert_quarters(c, README_SERIAL, [(t, d, n, so, inj, 0, buy, sell) for t, d, n, so, inj, buy, sell in worked])
        c.execute("INSERT INTO Meter (Serial, Dso) VALUES (%s, 'ORES')", (B,))
        c.executemany("INSERT INTO BillRate (Line, FromDt, Dso, EUR_kWh, Night_EUR_kWh) VALUES (%s, %s, %s, %s, %s)",
                      B_RATES)
        c.execute("INSERT INTO BillVat (FromDt, Vat_pct, BuyIncludesVat) VALUES (%s, %s, %s)", B_VAT)
        insert_quarters(c, B, B_QUARTERS)
        tz = tz_quarters()
        for i, (q, _) in enumerate(tz):
            c.execute("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial)"
                      " VALUES (%s, %s, 0, 0, 0, 0.001, 0, %s)", (q, f"{(i + 1) / 1000:.3f}", TZ))
    conn.close()
    check("README, The bill: the example rates run", len(statements) >= 4, f"{len(statements)} statements")

    readme_queries(db, blocks)

    got = [text(r) for r in db.query(
        "SELECT Mois, Pos, Line, Part, FromDt, Qty, Rate_EUR, Amount_EUR FROM BillLine WHERE Serial = %s"
        " ORDER BY Mois, Pos, Line, FromDt, Part", (B,), db="P1")]
    check_rows("BillLine, meter B (own operator, day/night, mid-month change, swap, VAT in Buy)",
               got, B_LINES)
    got = [text(r) for r in db.query(
        "SELECT Mois, Quarters, Unpriced, Unsplit, Import_kWh, Day_kWh, Night_kWh, Export_kWh, Line_count,"
        " Excl_VAT_EUR, Vat_pct, VAT_EUR, Total_EUR FROM BillMonth WHERE Serial = %s ORDER BY Mois", (B,), db="P1")]
    check_rows("BillMonth, meter B", got, B_MONTHS)

    got = {r[0]: (r[1], r[2]) for r in db.query(
        "SELECT DtTm, Jour, Mois FROM BillQuarter WHERE Serial = %s", (TZ,), db="P1")}
    wrong = [(q, d, got.get(q)) for q, d in tz
             if got.get(q) != (d, d.replace(day=1))]
    check("BillQuarter: Brussels date and month of quarters at month starts and summer-time changes, 2025-2027",
          not wrong and len(got) == len(tz),
          f"{len(tz)} quarters" + (f"; first wrong {wrong[0][0]}: expected {wrong[0][1]}, view {wrong[0][2]}"
                                   if wrong else ""))


def readme_queries(db, blocks):
    """Each SELECT of the README's section followed by an output block gives
    that output (columns split on two spaces or more: line names have one)."""
    shown = 0
    for (lang, query), (out_lang, output) in zip(blocks, blocks[1:] + [("sql", "")]):
        if lang != "sql" or not query.lstrip().startswith("SELECT") or out_lang != "":
            continue
        shown += 1
        lines = output.strip().splitlines()
        want = [tuple(re.split(r"\s{2,}", ln.strip())) for ln in lines[1:]]
        conn = db.connect("P1")
        try:
            with conn.cursor() as c:
                c.execute(query)
                header = [d[0] for d in c.description]
                got = [tuple("NULL" if v is None else str(v) for v in r) for r in c.fetchall()]
        finally:
            conn.close()
        ok = got == want and re.split(r"\s{2,}", lines[0].strip()) == header
        details = f"{len(got)} rows"
        for g, w in zip(got + [None] * len(want), want + [None] * len(got)):
            if g != w:
                details += f"; first difference: view {g}, README {w}"
                break
        check(f"README, The bill: query {shown} gives the output shown, to the cent", ok, details)
    check("README, The bill: queries with their output", shown >= 2, f"{shown} shown")




if __name__ == "__main__":
    run_main(main)
