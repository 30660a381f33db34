"""The grid operator's quarter-hour export against lowi-p1's rows:
lowi-fluvius-import and the views FluviusQuarter and FluviusMonth.

The simulator's ground truth (lowi-sim --offline, two meters, 24 October
to 1 November 2026: the October change of time and a Brussels month
boundary) gives both sides: Conso rows as the plugin writes them from the
meter's kWh counters, and export files in the layout Mijn Fluvius uses
(the current Dutch header with byte-order mark and CRLF, decimal comma,
="EAN", one line per quarter and active register; layout cited in the
README, "Compared with the grid operator"). Local times come from the
time-zone database, not from the code under test.

Meter A's file is exact: every quarter and month must agree to the Wh.
Meter B's file has differences put in: a quarter missing, an estimated
import register with 0,137 kWh more, and 0,005 kWh more in the second
pass of October's repeated hour; the views must show them there and
nowhere else. A file with bad lines loads nothing and names the lines;
loading a file again changes nothing."""
import datetime
import os
import subprocess
import zoneinfo
from collections import defaultdict

from lib import check, note, run_main
import scenario as sc
from scenario import create_schema as start_plugin

IMPORT = os.path.join(sc.BUILD, "fluvius-import", "lowi-fluvius-import")
BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")
START_S = int(datetime.datetime(2026, 10, 24, 20, 0, tzinfo=datetime.timezone.utc).timestamp())
HEADER = ("\ufeffVan (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);EAN-code;Meter;Metertype;Register;"
          "Volume;Eenheid;Validatiestatus;Omschrijving")
REG = {("in", "D"): "Afname Dag", ("in", "N"): "Afname Nacht", ("out", "D"): "Injectie Dag",
       ("out", "N"): "Injectie Nacht"}


def quarters_from_truth(base):
    """{serial: [(start_s, {('in'|'out', 'D'|'N'): Wh}, counters)]}: each
    register's Wh in a quarter as the meter's kWh counters (3 decimals)
    show it: the difference of the Wh-truncated counter at its ends."""
    rows = defaultdict(list)
    for (serial, start), t in sorted(sc.load_truth(base).items()):
        rows[serial].append((start, {("in", "D"): int(t["cih_end_wh"]), ("in", "N"): int(t["cil_end_wh"]),
                                     ("out", "D"): int(t["ceh_end_wh"]), ("out", "N"): int(t["cel_end_wh"])}))
    out = {}
    for serial, seq in rows.items():
        qs = []
        for (_, prev), (start, end) in zip(seq, seq[1:]):
            qs.append((start, {k: end[k] - prev[k] for k in end}, end))
        out[serial] = qs
    return out


def kwh(wh):
    return f"{wh // 1000},{wh % 1000:03d}"


def local(ts):
    d = datetime.datetime.fromtimestamp(ts, BRUSSELS)
    return d.strftime("%d-%m-%Y"), d.strftime("%H:%M:%S")


def export_lines(serial, quarters, edit=None):
    """The export's lines for a meter; edit(start, register, line_fields)
    may change a line's fields or return None to drop it."""
    lines, tariff = [HEADER], "N"
    for start, wh, _ in quarters:
        moved = {t for t in "DN" if wh[("in", t)] or wh[("out", t)]}
        tariffs = sorted(moved) if moved else [tariff]
        tariff = tariffs[-1]
        vd, vt = local(start)
        td, tt = local(start + 900)
        for direction in ("in", "out"):
            for t in tariffs:
                f = [vd, vt, td, tt, '="541448820000000017"', "1SAG1100000017", "Digitale meter",
                     REG[(direction, t)], kwh(wh[(direction, t)]), "kWh", "Gevalideerd", ""]
                if edit:
                    f = edit(start, REG[(direction, t)], f)
                if f is not None:
                    lines.append(";".join(f))
    return "\r\n".join(lines) + "\r\n"


def brussels_month(ts):
    return datetime.datetime.fromtimestamp(ts, BRUSSELS).strftime("%Y-%m-01")




def run_import(base, serial, path):
    r = subprocess.run([IMPORT, "--defaults-file", f"{base}/my.cnf", "--serial", serial, path],
                       capture_output=True, text=True, timeout=60)
    for line in (r.stdout + r.stderr).strip().splitlines():
        note(f"import: {line}")
    return r


def text(v):
    return None if v is None else str(v)


def main():
    base = sc.workdir("fluvius")
    sc.offline_sim(base, START_S, meters=2, interval=300, jitter=0, duration=640800)
    data = quarters_from_truth(base)
    a, b = sorted(data)
    note(f"meters {a} and {b}: {len(data[a])} and {len(data[b])} quarters")

    db = sc.readme_database(base)
    check("the plugin creates its schema, FluviusConso and its views included, with the README's privileges",
          start_plugin(base, db, 1), "connected, no schema error")
    with open(f"{base}/my.cnf", "w") as f:
        f.write(f"[client]\nhost=127.0.0.1\nport={db.port}\nuser={sc.DB_USER}\npassword={sc.DB_PASSWORD}\n")

    # lowi-p1's side: Conso rows from the counters, and the months' peaks (Pics rule).
    conn = db.connect("P1")
    peaks = {}
    with conn.cursor() as c:
        for serial, qs in data.items():
            for start, wh, end in qs:
                dt = datetime.datetime.fromtimestamp(start, datetime.timezone.utc).replace(tzinfo=None)
                imp = wh[("in", "D")] + wh[("in", "N")]
                exp = wh[("out", "D")] + wh[("out", "N")]
                c.execute("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Estimated)"
                          " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0)",
                          (dt, end[("in", "D")] / 1000, end[("in", "N")] / 1000, end[("out", "D")] / 1000,
                           end[("out", "N")] / 1000, f"{imp / 1000:.3f}", f"{exp / 1000:.3f}", serial))
                key = (serial, brussels_month(start))
                if key not in peaks or imp > peaks[key][0]:
                    peaks[key] = (imp, dt)
        for (serial, mois), (imp, dt) in peaks.items():
            c.execute("INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (%s, %s, %s, %s)",
                      (mois, dt, f"{imp * 4 / 1000:.3f}", serial))
    conn.commit()

    # The operator's side. Meter B's differences: in its Brussels day of
    # 25 October, the quarter at 10:00 local missing, the 12:00 import
    # estimated with 137 Wh more, the second 02:30 (01:30 UTC) with 5 Wh more.
    day = datetime.datetime(2026, 10, 25, tzinfo=BRUSSELS)
    missing = int(day.replace(hour=10).timestamp())
    estimated = int(day.replace(hour=12).timestamp())
    repeated = int(datetime.datetime(2026, 10, 25, 1, 30, tzinfo=datetime.timezone.utc).timestamp())
    check("the repeated quarter is winter time's 02:30", local(repeated)[1] == "02:30:00", local(repeated))

    def with_differences(start, register, f):
        if start == missing:
            return None
        if start == estimated and register.startswith("Afname"):
            wh = int(f[8].replace(",", "")) + 137
            return f[:8] + [kwh(wh), "kWh", "Geschat", ""]
        if start == repeated and register.startswith("Afname"):
            return f[:8] + [kwh(int(f[8].replace(",", "")) + 5)] + f[9:]
        return f

    files = {a: export_lines(a, data[a]), b: export_lines(b, data[b], with_differences)}
    for serial, content in files.items():
        with open(f"{base}/{serial}.csv", "w", encoding="utf-8", newline="") as f:
            f.write(content)
    check("the files hold the repeated hour twice, decimal commas and an estimated register",
          files[a].count("\n25-10-2026;02:30:00;") == 4 and ";0,0" in files[a] and ";Geschat;" in files[b],
          "")

    # A file with bad lines loads nothing.
    bad = files[b].split("\r\n")
    bad[5] = bad[5].replace("Afname", "Afnemen", 1)
    n = bad[9].split(";")
    n[8] = "0,12,3"
    bad[9] = ";".join(n)
    with open(f"{base}/bad.csv", "w", encoding="utf-8", newline="") as f:
        f.write("\r\n".join(bad))
    r = run_import(base, b, f"{base}/bad.csv")
    check("a file with bad lines: exit 1, both lines named, the count, nothing loaded",
          r.returncode == 1 and f"bad.csv:6: unknown register" in r.stderr and "bad.csv:10: bad volume" in r.stderr
          and "2 bad lines of" in r.stderr and "nothing loaded" in r.stderr
          and db.query("SELECT COUNT(*) FROM FluviusConso", db="P1")[0][0] == 0, r.stderr)

    for serial in (a, b):
        r = run_import(base, serial, f"{base}/{serial}.csv")
        check(f"import of meter {serial}'s file", r.returncode == 0, r.stderr)
    want_quarters = {a: len(data[a]), b: len(data[b]) - 1}
    got = dict(db.query("SELECT Serial, COUNT(*) FROM FluviusConso GROUP BY Serial", db="P1"))
    check("one row per quarter of each file", got == want_quarters, f"{got}, want {want_quarters}")

    r = run_import(base, a, f"{base}/{a}.csv")
    check("loading a file again changes nothing",
          r.returncode == 0 and f"0 new, 0 changed, {len(data[a])} unchanged" in r.stdout, r.stdout)

    # Per quarter. Expected: zero everywhere for A; for B the three places.
    rows = db.query("SELECT Serial, UNIX_TIMESTAMP(DtTm) - UNIX_TIMESTAMP('1970-01-01 00:00:00'),"
                    " Lowi_Import_kWh, Dso_Import_kWh, Diff_Import_kWh, Diff_Export_kWh, Dso_Status, Dso_Estimated"
                    " FROM FluviusQuarter ORDER BY Serial, DtTm", db="P1")
    by = defaultdict(dict)
    for s, ts, li, di, dif, dex, st, est in rows:
        by[s][int(ts)] = (text(li), text(di), text(dif), text(dex), st, est)
    check("FluviusQuarter: a row for every quarter of both meters",
          {s: len(v) for s, v in by.items()} == {a: len(data[a]), b: len(data[b])},
          {s: len(v) for s, v in by.items()})
    wrong = [ts for ts, v in by[a].items() if v[2] != "0.000" or v[3] != "0.000" or v[0] != v[1]]
    check("meter A: zero difference in every quarter, the repeated hour included", not wrong, wrong[:5])
    expect_b = {}
    for start, wh, _ in data[b]:
        imp = wh[("in", "D")] + wh[("in", "N")]
        if start == missing:
            expect_b[start] = (f"{imp / 1000:.3f}", None, None, None, None, None)
        elif start == estimated:
            expect_b[start] = (f"{imp / 1000:.3f}", f"{(imp + 137) / 1000:.3f}", "-0.137", "0.000", "Geschat", 1)
        elif start == repeated:
            expect_b[start] = (f"{imp / 1000:.3f}", f"{(imp + 5) / 1000:.3f}", "-0.005", "0.000", "Gevalideerd", 0)
        else:
            expect_b[start] = (f"{imp / 1000:.3f}", f"{imp / 1000:.3f}", "0.000", "0.000", "Gevalideerd", 0)
    diff = {ts: (by[b].get(ts), w) for ts, w in expect_b.items() if by[b].get(ts) != w}
    check("meter B: the differences put in, where they were put, and nowhere else", not diff,
          list(diff.items())[:5])

    # Per Brussels month, worked out here from the same quarters.
    months = defaultdict(lambda: {"n": 0, "li": 0, "di": 0, "le": 0, "de": 0, "peak": 0, "miss": 0, "est": 0,
                                  "differing": 0})
    for serial in (a, b):
        for start, wh, _ in data[serial]:
            m = months[(serial, brussels_month(start))]
            imp = wh[("in", "D")] + wh[("in", "N")]
            exp = wh[("out", "D")] + wh[("out", "N")]
            m["n"] += 1
            m["li"] += imp
            m["le"] += exp
            if serial == b and start == missing:
                m["miss"] += 1
                continue
            extra = 137 if serial == b and start == estimated else 5 if serial == b and start == repeated else 0
            m["di"] += imp + extra
            m["de"] += exp
            m["peak"] = max(m["peak"], imp + extra)
            m["est"] += extra == 137
            m["differing"] += extra > 0
    want = [(s, mo, v["n"], 0, v["miss"], v["est"], v["differing"],
             f"{v['li'] / 1000:.3f}", f"{v['di'] / 1000:.3f}", f"{(v['li'] - v['di']) / 1000:.3f}",
             f"{v['le'] / 1000:.3f}", f"{v['de'] / 1000:.3f}", f"{(v['le'] - v['de']) / 1000:.3f}",
             f"{peaks[(s, mo)][0] * 4 / 1000:.3f}", f"{v['peak'] * 4 / 1000:.3f}",
             f"{(peaks[(s, mo)][0] - v['peak']) * 4 / 1000:.3f}")
            for (s, mo), v in sorted(months.items())]
    got = [tuple(text(x) if i >= 7 else (str(x) if i == 1 else x) for i, x in enumerate(r)) for r in db.query(
        "SELECT Serial, Mois, Quarters, Lowi_Missing, Dso_Missing, Dso_Estimated, Differing,"
        " Lowi_Import_kWh, Dso_Import_kWh, Diff_Import_kWh, Lowi_Export_kWh, Dso_Export_kWh, Diff_Export_kWh,"
        " Lowi_Peak_kW, Dso_Peak_kW, Diff_Peak_kW FROM FluviusMonth ORDER BY Serial, Mois", db="P1")]
    got = [(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6])) + r[7:] for r in got]
    check("FluviusMonth: October and November 2026 of both meters, as worked out from the quarters",
          got == want and len(want) == 4, f"\n got  {got}\n want {want}")


run_main(main)
