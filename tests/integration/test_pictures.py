"""The pictures: the Grafana dashboard (dashboards/lowi-p1.json) and the
HTML report (lowi-report), against a simulated month in MariaDB.

The schema is created the normal way (a broker start whose plugin connects
with the README's privileges). The month is October 2026 (summer time ends
on the 25th), two meters simulated by lowi-sim --offline: its ground-truth
quarters become the Conso rows (meter B without gas or water, so NULL),
every quarter has a market price, meter A has hand-written peaks for the
12 months before and its October peak computed here from its rows. Peaks
are the plugin's job (tests/integration/test_pics.py); here they are data.

Grafana cannot be installed here, so each panel's SQL is run the way
Grafana's MySQL data source would send it: template variables replaced as
its front end does for a single-valued variable (the value, quotes doubled),
then the backend's macros expanded as grafana/grafana
pkg/tsdb/mysql/macros.go does (commit 0b596ec909baa92dcc5ad32d64ea1decf8746aeb:
$__timeFilter(c) -> c BETWEEN FROM_UNIXTIME(from) AND FROM_UNIXTIME(to),
$__timeFrom() / $__timeTo() -> FROM_UNIXTIME(s), $__timeGroup(c, '15m') ->
UNIX_TIMESTAMP(c) DIV 900 * 900, $__timeGroupAlias adds AS "time",
$__unixEpochFilter(c) -> c >= from AND c <= to), on a session whose time
zone is the data source's ('+00:00', dashboards/provisioning), as the
SELECT-only user the README gives Grafana, for the dashboard's default
range "this month" (now/M to now/M, Europe/Brussels: Grafana's end is the
month's last millisecond, whose Unix second the macros use). Each panel's
rows are compared with values computed here from the rows inserted, the
Brussels dates from the time-zone database.

The dashboard JSON is checked against the dashboard schema of Grafana's
kinds/dashboard/dashboard_kind.cue (grafana/grafana, commit
00139e84396be1600192135b87b8607f3f7b79d0: the required fields of a
dashboard and of a panel, gridPos bounds, variable types), for the
schemaVersion it declares.

Then lowi-report writes the month of each meter; the page is checked
(titles, totals, bars, nothing fetched from elsewhere) and rendered once
by headless Chromium: the screenshot must not be blank and the rendered
DOM holds the titles."""
import datetime
import json
import math
import os
import re
import struct
import subprocess
import zlib
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal

import lib
import yaml
from lib import check, note, real_time, run_main
import scenario as sc

BXL = zoneinfo.ZoneInfo("Europe/Brussels")
UTC = datetime.timezone.utc
GRAFANA_USER, GRAFANA_PASSWORD = "grafana", "grafana-test-secret"
REPORT = os.path.join(sc.BUILD, "report", "lowi-report")
DASHBOARD = os.path.join(sc.ROOT, "dashboards", "lowi-p1.json")
PROVISIONING = os.path.join(sc.ROOT, "dashboards", "provisioning")

# October 2026 in Brussels; the simulation starts an hour and a half before
# (so September has a few quarters) and ends an hour after.
MONTH_FROM = int(datetime.datetime(2026, 10, 1, tzinfo=BXL).timestamp())
MONTH_TO = int(datetime.datetime(2026, 11, 1, tzinfo=BXL).timestamp())
SIM_START = MONTH_FROM - 5400
SIM_END = MONTH_TO + 3600
# Grafana's "this month": from the first to the last millisecond, as Unix seconds.
RANGE = (MONTH_FROM, MONTH_TO - 1)
RATE = Decimal("40.4")
# Meter A's peaks before October 2026 (kW), written by hand.
EARLIER_PEAKS = {"2025-10-01": "3.100", "2025-11-01": "2.200", "2025-12-01": "4.050", "2026-01-01": "5.300",
                 "2026-02-01": "3.900", "2026-03-01": "1.700", "2026-04-01": "2.800", "2026-05-01": "2.450",
                 "2026-06-01": "3.333", "2026-07-01": "6.120", "2026-08-01": "2.500", "2026-09-01": "3.640",
                 "2025-08-01": "9.000"}   # counts in the means up to July 2026
Q3, Q6 = Decimal("0.001"), Decimal("0.000001")


def q3(x):
    return Decimal(x).quantize(Q3, ROUND_HALF_UP)


def q6(x):
    return Decimal(x).quantize(Q6, ROUND_HALF_UP)


def dt(s):
    return datetime.datetime.fromtimestamp(s, UTC).replace(tzinfo=None)


def bxl_date(d):
    return d.replace(tzinfo=UTC).astimezone(BXL).date()


def bxl_month(d):
    return bxl_date(d).strftime("%Y-%m-01")


def norm(rows):
    """Rows as tuples of strings (None kept): DECIMALs with their scale."""
    out = []
    for r in rows:
        out.append(tuple(None if v is None else (v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime.datetime)
                                                 else str(v)) for v in r))
    return out


# ---------------------------------------------------------------- Grafana

MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")


def parse_interval(text):
    """gtime.ParseInterval for the units a dashboard uses here."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not m:
        raise ValueError(f"error parsing interval {text}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                              "y": 31536000}[m.group(2)]


def expand_macros(sql, time_from, time_to):
    """The MySQL data source's macro engine (macros.go, see the docstring)."""
    def one(m):
        name, args = m.group(1), [a.strip(" ") for a in m.group(2).split(",")]
        if name in ("__time", "__timeEpoch"):
            return f"UNIX_TIMESTAMP({args[0]}) as time_sec"
        if name == "__timeFilter":
            if time_from < 0:
                return (f"{args[0]} BETWEEN DATE_ADD(FROM_UNIXTIME(0), INTERVAL {time_from} SECOND) "
                        f"AND FROM_UNIXTIME({time_to})")
            return f"{args[0]} BETWEEN FROM_UNIXTIME({time_from}) AND FROM_UNIXTIME({time_to})"
        if name == "__timeFrom":
            return f"FROM_UNIXTIME({time_from})"
        if name == "__timeTo":
            return f"FROM_UNIXTIME({time_to})"
        if name in ("__timeGroup", "__timeGroupAlias"):
            s = parse_interval(args[1].strip("'\""))
            return f"UNIX_TIMESTAMP({args[0]}) DIV {s:.0f} * {s:.0f}" + (' AS "time"' if name.endswith("Alias") else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {time_from} AND {args[0]} <= {time_to}"
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            s = parse_interval(args[1].strip("'"))
            s = int(s) if s == int(s) else s
            return f"{args[0]} DIV {s} * {s}" + (' AS "time"' if name.endswith("Alias") else "")
        raise ValueError(f"unknown macro {name}")
    return MACRO.sub(one, sql)


def interpolate(sql, variables):
    """Grafana's front end: $name, ${name} and [[name]] of a single-valued,
    non-multi variable become the value with its quotes doubled."""
    for name, value in variables.items():
        v = value.replace("'", "''")
        sql = re.sub(r"\$\{" + name + r"\}|\[\[" + name + r"\]\]|\$" + name + r"\b", lambda _: v, sql)
    return sql


def grafana_sql(sql, variables, time_from, time_to):
    return expand_macros(interpolate(sql, variables), time_from, time_to)


def check_expander():
    """The expander gives the texts macros.go gives for the same input."""
    got = expand_macros("SELECT $__timeGroupAlias(t, '15m'), x FROM y WHERE $__timeFilter(t) AND "
                        "$__unixEpochFilter(e) AND t < $__timeTo() AND t > $__timeFrom()", 1790805600, 1793487599)
    want = ('SELECT UNIX_TIMESTAMP(t) DIV 900 * 900 AS "time", x FROM y WHERE t BETWEEN FROM_UNIXTIME(1790805600) '
            "AND FROM_UNIXTIME(1793487599) AND e >= 1790805600 AND e <= 1793487599 AND t < FROM_UNIXTIME(1793487599)"
            " AND t > FROM_UNIXTIME(1790805600)")
    check("Grafana macros expanded as macros.go writes them", got == want, got)


# What kinds/dashboard/dashboard_kind.cue requires (no "?" and no default).
VARIABLE_TYPES = {"query", "adhoc", "constant", "datasource", "interval", "textbox", "custom", "system"}


def schema_errors(d):
    errs = []

    def need(obj, key, kind, where):
        if key not in obj:
            errs.append(f"{where}: no {key}")
        elif not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
            errs.append(f"{where}: {key} is {type(obj[key]).__name__}")
    need(d, "schemaVersion", int, "dashboard")
    if not 36 <= d.get("schemaVersion", 0) <= 41:
        errs.append(f"schemaVersion {d.get('schemaVersion')} is not one this check knows (36..41)")
    for key, kind in (("title", str), ("uid", str), ("editable", bool), ("graphTooltip", int), ("panels", list),
                      ("timezone", str), ("time", dict), ("templating", dict)):
        need(d, key, kind, "dashboard")
    if d.get("graphTooltip") not in (0, 1, 2):
        errs.append("graphTooltip not 0, 1 or 2")
    if d.get("style", "dark") not in ("light", "dark"):
        errs.append("style not light or dark")
    if not 8 <= len(d.get("uid", "")) <= 40:
        errs.append("uid not 8 to 40 characters")
    if d.get("timezone") not in ("browser", "utc", "") and d.get("timezone") not in zoneinfo.available_timezones():
        errs.append(f"timezone {d.get('timezone')} is no IANA zone")
    ids, cells = set(), set()
    for p in d.get("panels", []):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        need(p, "type", str, where)
        if not p.get("type"):
            errs.append(f"{where}: empty type")
        need(p, "id", int, where)
        for key, kind in (("options", dict), ("fieldConfig", dict), ("transformations", list), ("targets", list),
                          ("gridPos", dict), ("datasource", dict), ("title", str)):
            need(p, key, kind, where)
        fc = p.get("fieldConfig", {})
        if not isinstance(fc.get("defaults"), dict) or not isinstance(fc.get("overrides"), list):
            errs.append(f"{where}: fieldConfig needs defaults and overrides")
        if p.get("repeatDirection", "h") not in ("h", "v"):
            errs.append(f"{where}: repeatDirection")
        if p.get("id") in ids:
            errs.append(f"{where}: id repeated")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "hwxy"):
            errs.append(f"{where}: gridPos needs integers h, w, x, y")
        elif not (g["h"] > 0 and 0 < g["w"] <= 24 and 0 <= g["x"] < 24 and g["y"] >= 0 and g["x"] + g["w"] <= 24):
            errs.append(f"{where}: gridPos {g} out of the 24-column grid")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        errs.append(f"{where}: overlaps another panel at {x},{y}")
                        break
                    cells.add((x, y))
        for t in p.get("targets", []):
            if not t.get("refId") or not t.get("rawSql") or t.get("format") not in ("time_series", "table"):
                errs.append(f"{where}: a target needs refId, rawSql and format time_series or table")
            if t.get("datasource") != p.get("datasource"):
                errs.append(f"{where}: target data source differs from the panel's")
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") not in VARIABLE_TYPES or not v.get("name") or v.get("hide", 0) not in (0, 1, 2):
            errs.append(f"variable {v.get('name')}: type, name or hide")
    return errs


def check_dashboard_files(dash):
    errs = schema_errors(dash)
    check(f"dashboard JSON meets the schemaVersion {dash.get('schemaVersion')} dashboard schema", not errs,
          "; ".join(errs[:5]) or f"{len(dash['panels'])} panels")
    with open(os.path.join(PROVISIONING, "datasources", "lowi-p1.yaml")) as f:
        ds = yaml.safe_load(f)["datasources"][0]
    with open(os.path.join(PROVISIONING, "dashboards", "lowi-p1.yaml")) as f:
        prov = yaml.safe_load(f)["providers"][0]
    uids = {p["datasource"]["uid"] for p in dash["panels"]} | {v["datasource"]["uid"] for v in
                                                              dash["templating"]["list"]}
    types = {p["datasource"]["type"] for p in dash["panels"]}
    check("provisioning: the data source every panel names, MySQL type, UTC session, password from the environment",
          uids == {ds["uid"]} and types == {ds["type"]} == {"mysql"} and ds["jsonData"]["timezone"] == "+00:00"
          and ds["secureJsonData"]["password"].startswith("$") and prov["type"] == "file"
          and prov["options"]["path"], f"uid {ds['uid']}, panels {sorted(uids)}")
    with open(os.path.join(sc.ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split("\n## Pictures\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| ([^|`]+?) \| [^|]+ \| `", section, re.M)
    titles = [p["title"] for p in dash["panels"]]
    check("README, Pictures: the panels' table names every panel, in order", listed == titles, f"{listed}")


# ---------------------------------------------------------------- data

def load_month(base):
    """Two meters' quarters from the simulator: {serial: [row dict]}."""
    sc.offline_sim(base, SIM_START, meters=2, duration=SIM_END - SIM_START, seed=13)
    meters = {}
    with open(os.path.join(base, "truth.csv")) as f:
        header = f.readline().strip().split(",")
        for line in f:
            r = dict(zip(header, line.strip().split(",")))
            meters.setdefault(r["serial"], []).append(r)
    return meters


def price_of(t):
    """A market price for the period starting at t (EUR/MWh, 2 decimals):
    high in the evening, low at night, below zero some middays; and the
    reference contract's Buy and Sell (sql/schema.sql's first formula)."""
    h = (t % 86400) / 3600 + 2
    solar = max(0.0, math.sin(math.pi * (h - 9) / 8))
    wiggle = (t // 900 * 7919) % 13 - 6
    price = Decimal(str(round(95 + 45 * math.cos(2 * math.pi * (h - 19) / 24) - 110 * solar + wiggle, 2)))
    return price, ((price / 10 + Decimal("0.204")) * Decimal("1.06")).quantize(Decimal("0.00001"), ROUND_HALF_UP), \
        (price / 10).quantize(Decimal("0.00001"), ROUND_HALF_UP)


def fill(db, meters):
    """Conso, Pics, PxElectr, CapaTarif; returns (A, B, rows, pics, prices)."""
    a, b = sorted(meters)
    rows = {}
    for serial, truth in meters.items():
        rows[serial] = []
        for r in truth:
            gas = water = None
            if serial == a:
                gas, water = q3(Decimal(r["gas_l"]) / 1000), q3(Decimal(r["water_l"]) / 1000)
            rows[serial].append({
                "DtTm": dt(int(r["quarter_start_epoch_s"])),
                "In_D": q3(Decimal(r["cih_end_wh"]) / 1000), "In_N": q3(Decimal(r["cil_end_wh"]) / 1000),
                "OUT_D": q3(Decimal(r["ceh_end_wh"]) / 1000), "OUT_N": q3(Decimal(r["cel_end_wh"]) / 1000),
                "Soutire": q3(Decimal(r["import_wh"]) / 1000), "Injecte": q3(Decimal(r["export_wh"]) / 1000),
                "Gas_m3": gas, "Water_m3": water})
    pics = {a: dict(EARLIER_PEAKS), b: {"2026-09-01": "1.900"}}
    peak_dttm = {}
    for serial in (a, b):
        october = [r for r in rows[serial] if bxl_month(r["DtTm"]) == "2026-10-01"]
        best = max(october, key=lambda r: (r["Soutire"], -r["DtTm"].timestamp()))
        pics[serial]["2026-10-01"] = str(4 * best["Soutire"])
        peak_dttm[(serial, "2026-10-01")] = best["DtTm"]
    prices = {}
    for t in range(SIM_START - 3600, SIM_END + 3600, 900):
        prices[dt(t)] = price_of(t)
    conn = db.connect("P1")
    with conn.cursor() as c:
        c.executemany("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Gas_m3, Water_m3,"
                      " Estimated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)",
                      [(r["DtTm"], r["In_D"], r["In_N"], r["OUT_D"], r["OUT_N"], r["Soutire"], r["Injecte"], s,
                        r["Gas_m3"], r["Water_m3"]) for s in rows for r in rows[s]])
        for serial, months in pics.items():
            for mois, kw in months.items():
                when = peak_dttm.get((serial, mois), datetime.datetime.fromisoformat(mois) + datetime.timedelta(
                    days=14, hours=17, minutes=45))
                c.execute("INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (%s, %s, %s, %s)", (mois, when, kw, serial))
        c.executemany("INSERT INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source) VALUES (%s, %s, %s, %s, 15, 'test')",
                      [(t, p, buy, sell) for t, (p, buy, sell) in prices.items()])
        c.execute("INSERT INTO CapaTarif (FromDt, Dso, EUR_kW_year) VALUES ('2020-01-01', '', %s)", (RATE,))
    conn.close()
    return a, b, rows, pics, peak_dttm, prices


def month_add(mois, n):
    y, m = int(mois[:4]), int(mois[5:7]) - 1 + n
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}-01"


def capacity(pics, serial, mois):
    """(Peak_kW, Mean_kW, Cost_EUR) of a month with a peak: the rule of the
    README, computed again here."""
    window = [month_add(mois, -k) for k in range(12)]
    billed = [max(Decimal(pics[serial][m]), Decimal("2.5")) for m in window if m in pics[serial]]
    total = sum(billed)
    return (str(q3(pics[serial][mois])), str(q3(total / len(billed))),
            str(q6(total * RATE / (12 * len(billed)))))


def cost(r, prices):
    _, buy, sell = prices[r["DtTm"]]
    return q6((r["Soutire"] * buy - r["Injecte"] * sell) / 100)


# ---------------------------------------------------------------- panels

def expected_panels(a, rows, pics, prices):
    lo, hi = dt(RANGE[0]), dt(RANGE[1])
    in_range = [r for r in rows[a] if lo <= r["DtTm"] <= hi]
    want = {}
    want["Power per quarter"] = [
        (r["DtTm"].strftime("%Y-%m-%d %H:%M:%S"), str(4 * r["Soutire"]), str(4 * r["Injecte"]),
         *(capacity(pics, a, bxl_month(r["DtTm"]))[:2] if bxl_month(r["DtTm"]) in pics[a] else (None, None)))
        for r in in_range]
    last = "2026-10-01"
    months13 = [month_add(last, -k) for k in range(12, -1, -1)]
    want["Monthly peaks, 13 months"] = [(m[:7], *capacity(pics, a, m)[:2]) for m in months13 if m in pics[a]]
    per_day = {}
    for r in in_range:
        d = per_day.setdefault(bxl_date(r["DtTm"]), {"cost": Decimal(0), "imp": Decimal(0), "exp": Decimal(0),
                                                     "gas": Decimal(0), "water": Decimal(0)})
        d["cost"] += cost(r, prices)
        d["imp"] += r["Soutire"]
        d["exp"] += r["Injecte"]
        d["gas"] += r["Gas_m3"]
        d["water"] += r["Water_m3"]
    days = sorted(per_day)
    want["Cost per day"] = [(str(d), str(per_day[d]["cost"])) for d in days]
    want["Energy per day"] = [(str(d), str(per_day[d]["imp"]), str(per_day[d]["exp"])) for d in days]
    want["Gas and water per day"] = [(str(d), str(per_day[d]["gas"]), str(per_day[d]["water"])) for d in days]
    energy = {}
    for r in rows[a]:
        m = bxl_month(r["DtTm"])
        energy[m] = energy.get(m, Decimal(0)) + cost(r, prices)
    per_month = []
    for m in months13:
        if m not in pics[a] and m not in energy:
            continue
        e = str(energy[m]) if m in energy else None
        capa = capacity(pics, a, m)[2] if m in pics[a] else None
        total = str(Decimal(e) + Decimal(capa)) if e is not None and capa is not None else None
        per_month.append((m[:7], e, capa, total))
    want["Cost per month"] = per_month
    return want, days


def prices_today(prices_rows, now):
    """Rows of the prices panel for a UTC instant `now` (naive UTC)."""
    today = bxl_date(now)
    days = (today, today + datetime.timedelta(days=1))
    return [(t.strftime("%Y-%m-%d %H:%M:%S"), str(buy), str(sell)) for t, buy, sell in prices_rows
            if bxl_date(t) in days]


def check_panels(db, dash, a, b, rows, pics, prices):
    conn = db.connect("P1", user=GRAFANA_USER, password=GRAFANA_PASSWORD)
    with conn.cursor() as c:
        c.execute("SET time_zone = '+00:00'")

    def run(sql, variables=None, rng=RANGE):
        with conn.cursor() as c:
            t0 = real_time()
            c.execute(grafana_sql(sql, variables or {"serial": a}, *rng))
            rows_ = norm(c.fetchall())
            note(f"{len(rows_)} rows in {real_time() - t0:.2f} s: {sql.splitlines()[0][:60]}")
            return rows_

    var = dash["templating"]["list"][0]
    got = run(var["query"])
    check("variable $serial lists the meters", got == [(a,), (b,)], f"{got}")

    want, days = expected_panels(a, rows, pics, prices)
    panels = {p["title"]: p for p in dash["panels"]}
    check("every panel has its expected rows computed here", set(panels) == set(want) | {
        "Buy and Sell prices, today and tomorrow"}, f"{sorted(panels)}")
    for title, expected in want.items():
        got = run(panels[title]["targets"][0]["rawSql"])
        diff = next((f"first difference at row {i}: panel {g}, expected {w}" for i, (g, w) in
                     enumerate(zip(got + [None] * len(expected), expected + [None] * len(got))) if g != w), "")
        check(f"panel {title!r}: rows as computed from the data", got == expected and got,
              f"{len(got)} rows, {len(expected)} expected" + (f"; {diff}" if diff else ""))
    check("the days are the 31 Brussels days of October, the 25th (summer time ends) included",
          [str(d) for d in days] == [f"2026-10-{k:02d}" for k in range(1, 32)], f"{len(days)} days")
    # The other meter's rows stay out.
    got = run(panels["Energy per day"]["targets"][0]["rawSql"], {"serial": b})
    b_days = sorted({bxl_date(r["DtTm"]) for r in rows[b] if dt(RANGE[0]) <= r["DtTm"] <= dt(RANGE[1])})
    check("panel 'Energy per day' for meter B: B's own sums", [g[0] for g in got] == [str(d) for d in b_days] and
          got[3][1] == str(sum(r["Soutire"] for r in rows[b] if bxl_date(r["DtTm"]) == b_days[3])), f"{got[3]}")

    # Prices today and tomorrow: the real now, and fixed instants around
    # the October change to winter time (the panel's "now" replaced).
    price_sql = panels["Buy and Sell prices, today and tomorrow"]["targets"][0]["rawSql"]
    with conn.cursor() as c:
        c.execute("SELECT DtTm, Buy, Sell FROM PxElectr ORDER BY DtTm")
        prices_rows = c.fetchall()
    for _ in range(2):
        before = datetime.datetime.now(UTC).replace(tzinfo=None)
        got = run(price_sql)
        after = datetime.datetime.now(UTC).replace(tzinfo=None)
        if bxl_date(before) == bxl_date(after):
            break
    want_now = prices_today(prices_rows, before)
    check("panel prices, today and tomorrow (now): every period of both Brussels days",
          got == want_now and len(got) >= 2 * 92, f"{len(got)} rows, {len(want_now)} expected")
    for instant in ("2026-10-24 21:30:00", "2026-10-24 22:30:00", "2026-10-25 23:30:00"):
        now = datetime.datetime.fromisoformat(instant)
        got = run(price_sql.replace("UTC_TIMESTAMP()", f"TIMESTAMP'{instant}'"))
        want_at = prices_today(prices_rows, now)
        check(f"panel prices, today and tomorrow at {instant} UTC (Brussels {now.replace(tzinfo=UTC).astimezone(BXL):%d %H:%M})",
              got == want_at and len(got) in (191, 192, 196, 200) and got[0][0] == want_at[0][0],
              f"{len(got)} rows from {got[0][0] if got else None}, expected {len(want_at)}")
    conn.close()


# ---------------------------------------------------------------- report

def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"PNG depth {depth} type {ctype}"
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((x + p) & 255 for x, p in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif ft == 4:
            for i in range(stride):
                a_ = line[i - bpp] if i >= bpp else 0
                b_, c_ = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a_ + b_ - c_
                pa, pb, pc = abs(p - a_), abs(p - b_), abs(p - c_)
                line[i] = (line[i] + (a_ if pa <= pb and pa <= pc else b_ if pb <= pc else c_)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def report(db, base, serial, password_file, month="2026-10"):
    r = subprocess.run([REPORT, "--serial", serial, "--month", month, "--host", "127.0.0.1", "--port", str(db.port),
                        "--user", GRAFANA_USER, "--password-file", password_file], capture_output=True, text=True,
                       timeout=60)
    return r


TITLES = ["Summary", "Power per quarter", "Energy per day", "Cost per day", "Prices", "Gas and water per day"]


def svg_of(html, chart_id):
    m = re.search(r'<h2 id="' + chart_id + r'">.*?</h2>\n(<svg.*?</svg>)', html, re.S)
    return m.group(1) if m else ""


def check_report(db, base, a, b, rows, pics, peak_dttm, prices):
    password_file = os.path.join(base, "grafana.pass")
    with open(password_file, "w") as f:
        f.write(GRAFANA_PASSWORD + "\n")
    t0 = real_time()
    r = report(db, base, a, password_file)
    note(f"lowi-report ran {real_time() - t0:.2f} s")
    html = r.stdout
    check("lowi-report writes meter A's month as the SELECT-only user", r.returncode == 0 and html.startswith(
        "<!DOCTYPE html>"), f"exit {r.returncode}, {len(html)} bytes; {r.stderr.strip()[:200]}")
    path = os.path.join(base, "report-a.html")
    with open(path, "w") as f:
        f.write(html)
    heads = re.findall(r"<h2 id=\"[^\"]+\">([^<]*)</h2>", html)
    check("report: the titles, in order", heads == TITLES, f"{heads}")
    # One file, nothing from elsewhere: no URL, no element or rule that loads one.
    remote = re.findall(r"(?i)https?:|//[a-z0-9.-]+\.[a-z]{2,}|<script|<link|<img|<iframe|<object|<embed|"
                        r"\bsrc\s*=|\bhref\s*=|url\(|@import|@font-face", html)
    check("report: no network resource, no script", not remote, f"{remote[:3]}")

    month = [x for x in rows[a] if bxl_month(x["DtTm"]) == "2026-10-01"]
    imp = sum(x["Soutire"] for x in month)
    eur = sum(cost(x, prices) for x in month)
    gas = sum(x["Gas_m3"] for x in month)
    peak, mean, capa = capacity(pics, a, "2026-10-01")
    n_months = sum(1 for k in range(12) if month_add("2026-10-01", -k) in pics[a])
    peak_at = peak_dttm[(a, "2026-10-01")].replace(tzinfo=UTC).astimezone(BXL)
    cells = dict(re.findall(r"<tr><th>([^<]+)</th><td class=\"n\">([^<]+)</td></tr>", html))
    want = {"quarters": f"{len(month)} (0 estimated, {len(month)} priced)", "energy imported": f"{imp} kWh",
            "energy cost": f"{eur.quantize(Decimal('0.01'), ROUND_HALF_UP)} EUR",
            "month peak": f"{peak} kW, quarter of {peak_at:%Y-%m-%d %H:%M}",
            "billed 12-month mean": f"{mean} kW over {n_months} months",
            "capacity cost": f"{Decimal(capa).quantize(Decimal('0.01'), ROUND_HALF_UP)} EUR",
            "gas": f"{gas} m&#179;"}
    wrong = {k: (cells.get(k), v) for k, v in want.items() if cells.get(k) != v}
    check("report: the summary's figures as computed from the rows", not wrong, f"{wrong or cells}")
    bars = {cid: len(re.findall(r"<rect x=", svg_of(html, cid))) for cid in ("energy", "cost", "gas-water")}
    power = svg_of(html, "power")
    check("report: a bar per day and series, the power line with the peak and the mean",
          bars == {"energy": 62, "cost": 31, "gas-water": 62} and "<polyline" in power
          and power.count('stroke-dasharray="6,4"') == 2 and f">{peak}</text>" in power and f">{mean}</text>" in power,
          f"bars {bars}")

    rb = report(db, base, b, password_file)
    check("report of meter B (no gas, no water): no gas and water chart, the rest there",
          rb.returncode == 0 and "Gas and water" not in rb.stdout and "Power per quarter" in rb.stdout,
          f"exit {rb.returncode}")
    bad = report(db, base, a, password_file, month="2026-13")
    wrong_pw = os.path.join(base, "wrong.pass")
    with open(wrong_pw, "w") as f:
        f.write("not-the-password\n")
    denied = subprocess.run([REPORT, "--serial", a, "--month", "2026-10", "--host", "127.0.0.1", "--port",
                             str(db.port), "--user", GRAFANA_USER, "--password-file", wrong_pw],
                            capture_output=True, text=True, timeout=60)
    check("report: a bad month is refused (exit 2), a wrong password reported (exit 1), no page either time",
          bad.returncode == 2 and "YYYY-MM" in bad.stderr and not bad.stdout and denied.returncode == 1
          and "cannot connect" in denied.stderr and not denied.stdout,
          f"{bad.returncode} {bad.stderr.strip()[:80]!r}; {denied.returncode} {denied.stderr.strip()[:80]!r}")
    render(base, path)


def render(base, path):
    """One headless Chromium run: a screenshot and the DOM it rendered."""
    png = os.path.join(base, "report.png")
    profile = os.path.join(base, "chromium")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking",
           # Half the pixels of the page: a quarter of the PNG to decode here.
           "--force-device-scale-factor=0.5",
           f"--user-data-dir={profile}", "--window-size=1000,2000", f"--screenshot={png}", "--dump-dom",
           "file://" + path]
    t0 = real_time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(lib.real_clock_env(), HOME=base))
    note(f"chromium ran {real_time() - t0:.1f} s")
    ok = r.returncode == 0 and os.path.exists(png)
    check("Chromium renders the report", ok, f"exit {r.returncode}; {r.stderr.strip()[-300:]}")
    if not ok:
        return
    dom = r.stdout
    shown = [t for t in TITLES if f">{t}</h2>" in dom]
    svg_titles = re.findall(r"<svg[^>]*>\s*<title>([^<]*)</title>", dom)
    check("rendered DOM: every title, and an SVG chart under each but the summary", shown == TITLES and
          svg_titles == TITLES[1:], f"{shown}; svg {svg_titles}")
    t0 = real_time()
    w, h, bpp, rows = png_pixels(png)
    lum = [(line[i] * 299 + line[i + 1] * 587 + line[i + 2] * 114) // 1000
           for line in rows[::2] for i in range(0, len(line), bpp * 2)]
    n = len(lum)
    mean = sum(lum) / n
    var = sum((x - mean) ** 2 for x in lum) / n
    dark = sum(1 for x in lum if x < 128) / n
    colours = len({bytes(line[i:i + 3]) for line in rows[::8] for i in range(0, len(line), bpp * 4)})
    note(f"screenshot {w}x{h}, {os.path.getsize(png)} bytes, read in {real_time() - t0:.1f} s")
    check("screenshot not blank: bright page with dark text and lines, several colours",
          w == 500 and h == 1000 and var > 200 and 0.002 < dark < 0.3 and colours >= 6,
          f"luminance mean {mean:.1f}, variance {var:.0f}, dark share {dark:.4f}, {colours} colours")


# ---------------------------------------------------------------- main

def main():
    check_expander()
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    check_dashboard_files(dash)

    base = sc.workdir("pictures")
    db = sc.readme_database(base)
    db.query("CREATE USER %s@'%%' IDENTIFIED BY %s", (GRAFANA_USER, GRAFANA_PASSWORD))
    db.query("GRANT SELECT ON P1.* TO %s@'%%'", (GRAFANA_USER,))
    sc.create_schema(base, db, 1)
    tables = {r[0] for r in db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'P1'")}
    note(f"MariaDB: install {db.timings.get('install', 0):.1f} s, start {db.timings.get('start', 0):.1f} s")
    check("the plugin creates its schema", {"Conso", "Pics", "PxElectr", "CapaTarif", "ConsoCost", "CapaMonth",
                                            "ConsoMonth"} <= tables, f"{sorted(tables)}")

    t0 = real_time()
    meters = load_month(base)
    a, b, rows, pics, peak_dttm, prices = fill(db, meters)
    note(f"a month simulated and written in {real_time() - t0:.1f} s")
    # Prices around the real today, for the panel's "now".
    today = datetime.datetime.now(BXL).date()
    start = int(datetime.datetime.combine(today - datetime.timedelta(days=2), datetime.time(), BXL).timestamp())
    now_prices = [(dt(t), *price_of(t)) for t in range(start, start + 5 * 86400, 900)]
    db.query("SELECT 1")
    conn = db.connect("P1")
    with conn.cursor() as c:
        c.executemany("INSERT IGNORE INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source) VALUES"
                      " (%s, %s, %s, %s, 15, 'test')", now_prices)
    conn.close()
    note(f"meters {a}, {b}: {len(rows[a])} and {len(rows[b])} quarters")

    check_panels(db, dash, a, b, rows, pics, prices)
    check_report(db, base, a, b, rows, pics, peak_dttm, prices)


if __name__ == "__main__":
    run_main(main)
