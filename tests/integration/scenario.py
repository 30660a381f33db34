"""The whole path, as the integration tests drive it: a private MariaDB, the
real mosquitto loading build/plugin/lowi_p1.so, and the LOWI simulator
(build/tests/sim/lowi-sim) publishing on the test's accelerated clock; then
the rows in MariaDB compared with the simulator's ground truth and with the
reference program's rule (first reading after each boundary) on the same
stream."""

import csv
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from decimal import Decimal

from lib import (Broker, MariaDB, broker_conf, check, clock_factor, free_port, note, real_time, sleep)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# LOWI_BUILD_DIR: another build of the same tree (tests/sanitize.sh uses
# build-asan/); the default is the one tests/run.sh builds.
BUILD = os.path.join(ROOT, os.environ.get("LOWI_BUILD_DIR", "build"))
PLUGIN = os.path.join(BUILD, "plugin", "lowi_p1.so")
SIM = os.path.join(BUILD, "tests", "sim", "lowi-sim")
REPLAY = os.path.join(BUILD, "tests", "sim", "quarter-replay")
CORPUS = os.path.join(ROOT, "tests", "corpus")
DB_USER, DB_PASSWORD = "lowi", "lowi-test-secret"


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"lowi-{name}-")
    os.chmod(d, 0o755)
    return d


def spool_dir():
    """A fresh spool directory the broker (user mosquitto) can write."""
    d = tempfile.mkdtemp(prefix="lowi-spool-")
    shutil.chown(d, "mosquitto", "mosquitto")
    return d


def plugin_options(db, db_name="P1", **extra):
    """plugin_opt_* for a test broker. The timeout is in simulated seconds:
    generous, since the accelerated clock also speeds up the client's
    timeouts."""
    opts = {"db_host": "127.0.0.1", "db_port": str(db.port), "db_user": DB_USER,
            "db_password": DB_PASSWORD, "db_name": db_name,
            "db_timeout": str(int(30 * clock_factor())),
            # Tests never reach the public price sources; price tests point
            # the worker at the loopback fixture server instead.
            "price_source": "none",
            "spool_dir": spool_dir()}
    opts.update({k: str(v) for k, v in extra.items()})
    return opts


def start_stack(base, port, db_name="P1", conf=None, **opts):
    """MariaDB + broker with the plugin. Returns (db, broker)."""
    db = MariaDB().start(os.path.join(base, "db"))
    db.create_database(db_name, DB_USER, DB_PASSWORD)
    if conf is None:
        conf = broker_conf(port, plugin=PLUGIN, plugin_opts=plugin_options(db, db_name, **opts))
    broker = Broker().start(conf, os.path.join(base, "broker"), port=port)
    return db, broker


def sim_files_and_options(base, args):
    """lowi-sim's output files (truth.csv and published.csv in base) and
    options: keyword arguments become --long-options (True = a flag)."""
    # Tests about plumbing use the gentle household, whose quarters a single
    # power step describes well, so their accuracy bounds test the plumbing;
    # test_accuracy asks for the typical household explicitly.
    args.setdefault("household", "gentle")
    cmd = ["--truth", os.path.join(base, "truth.csv"), "--published", os.path.join(base, "published.csv")]
    for k, v in args.items():
        opt = "--" + k.replace("_", "-")
        if v is True:
            cmd.append(opt)
        elif v is not None and v is not False:
            cmd += [opt, str(v)]
    return cmd


def sim_command(port, base, **args):
    """lowi-sim command line publishing to the broker on port."""
    return [SIM, "--host", "127.0.0.1", "--port", str(port)] + sim_files_and_options(base, args)


def run_sim(port, base, timeout_real=900, **args):
    """Run the simulator to its end; returns its stdout. Raises on failure."""
    cmd = sim_command(port, base, **args)
    t0 = real_time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_real * clock_factor())
    note(f"simulator: {' '.join(os.path.basename(c) if c == SIM else c for c in cmd[1:])}")
    for line in r.stdout.strip().splitlines():
        note(f"simulator: {line}")
    note(f"simulator ran {real_time() - t0:.1f} s real")
    if r.returncode != 0:
        raise RuntimeError(f"lowi-sim exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


def load_truth(base):
    """{(serial, quarter_start_s): {'import_wh', 'export_wh', ...}}"""
    truth = {}
    with open(os.path.join(base, "truth.csv")) as f:
        for row in csv.DictReader(f):
            key = (row["serial"], int(row["quarter_start_epoch_s"]))
            truth[key] = {k: float(v) for k, v in row.items() if k not in ("serial", "quarter_start_epoch_s")}
    return truth


def measurable(truth, published, margin_ms=60000):
    """The truth's quarters that the plugin can measure: a quarter starting
    within a minute after a meter's first publish may begin before the broker
    received that first reading (on an accelerated clock a few milliseconds
    of real delay are seconds), and the quarter of the first reading has no
    known start index."""
    first = {s: r[0][0] for s, r in published.items() if r}
    return {k: v for k, v in truth.items() if k[0] in first and k[1] * 1000 >= first[k[0]] + margin_ms}


def measured_gap_s():
    """The plugin's measured gap (quarter_default_params in plugin/quarter.c,
    read from there so the two cannot drift): readings further apart make
    the quarters between them estimated."""
    with open(os.path.join(ROOT, "plugin", "quarter.c")) as f:
        m = re.search(r"\.measured_gap_ms = ([0-9 *()]+),", f.read())
    ms = 1
    for factor in re.findall(r"\d+", m.group(1)):
        ms *= int(factor)
    return ms / 1000


def publishing_gaps(published):
    """{(serial, quarter_start_s)}: quarters that an interval between two
    consecutive published readings longer than the measured gap touches.
    The simulator is the dongle: when it could not publish on time (a
    starved process on an accelerated clock), the stream itself has a gap,
    and the plugin rightly spreads the gap's energy and flags those rows
    estimated; their energy is not a measurement to judge."""
    gap_ms = measured_gap_s() * 1000
    out = set()
    for serial, readings in published.items():
        for (a, _, _), (b, _, _) in zip(readings, readings[1:]):
            if b - a > gap_ms:
                for start in range(a // 900000 * 900, (b - 1) // 900000 * 900 + 1, 900):
                    out.add((serial, start))
    return out


def load_published(base):
    """{serial: [(t_ms, import_wh_total, export_wh_total), ...]} in time order."""
    out = {}
    with open(os.path.join(base, "published.csv")) as f:
        for row in csv.DictReader(f):
            out.setdefault(row["serial"], []).append(
                (int(row["t_ms"]), int(row["CIH"]) + int(row["CIL"]), int(row["CEH"]) + int(row["CEL"])))
    for v in out.values():
        v.sort()
    return out


def db_rows(db, db_name="P1"):
    """{(serial, quarter_start_s): row dict} with energies in Wh (ints)."""
    rows = db.query("SELECT Serial, TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm),"
                    " In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Gas_m3, Water_m3, Estimated FROM Conso",
                    db=db_name)
    out = {}
    for serial, ts, ind, inn, outd, outn, sout, inj, gas, water, est in rows:
        wh = lambda d: None if d is None else int(Decimal(d) * 1000)  # noqa: E731
        out[(serial, int(ts))] = {
            "In_D": wh(ind), "In_N": wh(inn), "OUT_D": wh(outd), "OUT_N": wh(outn),
            "import_wh": wh(sout), "export_wh": wh(inj), "gas_l": wh(gas), "water_l": wh(water),
            "estimated": bool(est)}
    return out


def await_rows(db, *bases, db_name="P1", timeout=120):
    """Waits (up to `timeout` real seconds) until Conso holds a row for every
    measurable quarter of the simulator runs in `bases`, so that a test
    stops the broker after the plugin wrote what it was sent, not after a
    guess of how long that takes on a busy machine. Never fails by itself:
    the test's own checks then report what is missing."""
    want = {}
    for base in bases:
        want.update(measurable(load_truth(base), load_published(base)))
    t0 = real_time()
    deadline = t0 + timeout
    while True:
        rows = db_rows(db, db_name)
        missing = [k for k in want if k not in rows]
        if not missing or real_time() >= deadline:
            break
        sleep(0.1)
    note(f"rows for {len(want) - len(missing)} of {len(want)} measurable quarters after "
         f"{real_time() - t0:.2f} s real")


def offline_sim(base, start_s, **args):
    """The simulator without a broker (--offline): the same model and files,
    on a virtual clock from start_s, in milliseconds of real time."""
    cmd = [SIM, "--offline", str(start_s)] + sim_files_and_options(base, args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"lowi-sim --offline exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


def replay_rows(base):
    """The plugin's pure quarter aggregation fed base/published.csv with each
    reading stamped at its publish instant (no delivery delay):
    {(serial, quarter_start_s): {'import_wh', 'export_wh', 'estimated'}}."""
    r = subprocess.run([REPLAY, os.path.join(base, "published.csv")], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"quarter-replay exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    out = {}
    for row in csv.DictReader(r.stdout.splitlines()):
        out[(row["serial"], int(row["start_s"]))] = {
            "import_wh": int(row["import_wh"]), "export_wh": int(row["export_wh"]),
            "estimated": row["estimated"] == "1"}
    return out


def reference_rule(published, truth):
    """The reference program's quarter energies on the same stream: the index
    of the first reading at or after each boundary. {(serial, start): Wh}"""
    out = {}
    for (serial, start) in truth:
        readings = published.get(serial, [])

        def first_after(t_s):
            for t_ms, imp, _ in readings:
                if t_ms >= t_s * 1000:
                    return imp
            return None
        a, b = first_after(start), first_after(start + 900)
        if a is not None and b is not None:
            out[(serial, start)] = b - a
    return out


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def error_stats(estimates, truth, field="import_wh"):
    """(median, p95, max, n) of |estimate - truth| in Wh over the truth's quarters
    that have an estimate."""
    errs = [abs(estimates[k] - truth[k][field]) for k in truth if k in estimates]
    if not errs:
        return (float("nan"),) * 3 + (0,)
    return statistics.median(errs), percentile(errs, 95), max(errs), len(errs)


def brussels_month(ts):
    """First day (YYYY-MM-01) of the Brussels civil month of a UTC instant."""
    import datetime
    import zoneinfo
    d = datetime.datetime.fromtimestamp(ts, zoneinfo.ZoneInfo("Europe/Brussels"))
    return f"{d.year:04d}-{d.month:02d}-01"


def monthly_peaks(quarters):
    """{(serial, 'YYYY-MM-01'): (kW, quarter_start)}: the Pics rule (highest
    4 x import of the Brussels month) applied to the truth's quarters or to
    rows, both {(serial, start): {'import_wh': ...}}."""
    peaks = {}
    for (serial, start), t in quarters.items():
        key = (serial, brussels_month(start))
        kw = t["import_wh"] * 4 / 1000
        if key not in peaks or kw > peaks[key][0]:
            peaks[key] = (kw, start)
    return peaks


def db_peaks(db, db_name="P1"):
    rows = db.query("SELECT Serial, DATE_FORMAT(Mois, '%Y-%m-%d'), kW,"
                    " TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm) FROM Pics", db=db_name)
    return {(s, m): (float(kw), int(ts)) for s, m, kw, ts in rows}


def delivery_check(base):
    """Compares what the simulator sent with what its subscriber received
    (topic + payload bytes, as a multiset). Returns (sent, received, lost, extra)."""
    def load(name):
        # What the plugin publishes itself (its counters, the meters' live
        # states and events under lowi-p1/, Home Assistant discovery) is not
        # the simulator's.
        with open(os.path.join(base, name)) as f:
            return sorted(line.rstrip("\n") for line in f
                          if line.strip() and not line.startswith(("lowi-p1/", "homeassistant/")))
    sent, got = load("sent.txt"), load("received.txt")
    from collections import Counter
    cs, cg = Counter(sent), Counter(got)
    return len(sent), len(got), sum((cs - cg).values()), sum((cg - cs).values())


def compare_meters(rows, truth, check, label="", published=None):
    """Per-meter completeness and accuracy checks; returns the serials.
    Every quarter of the truth needs its row; accuracy is judged on the
    quarters the published stream measured (no publishing gap)."""
    gaps = publishing_gaps(published) if published is not None else set()
    serials = sorted({s for s, _ in truth})
    for serial in serials:
        t = {k: v for k, v in truth.items() if k[0] == serial}
        r = {k: v["import_wh"] for k, v in rows.items() if k[0] == serial}
        missing = [k for k in t if k not in r]
        med, p95, mx, n = error_stats(r, {k: v for k, v in t.items() if k not in gaps})
        gap_note = f", {len(t) - n} in publishing gaps" if len(t) > n else ""
        check(f"{label}meter {serial}: every quarter has a correct row", not missing and med <= 1.0 and mx <= 25,
              f"{len(t)} quarters, {len(missing)} missing, |error| median {med:.3f} p95 {p95:.3f} max {mx:.3f} Wh"
              + gap_note)
    return serials


# ---------------------------------------------------------------- SQL views

# The privileges the README's installation grants the plugin's user.
README_GRANT = "SELECT, INSERT, UPDATE, CREATE, CREATE VIEW"


def readme_database(base):
    """A private MariaDB with database P1 and the plugin's user holding only
    README_GRANT; the schema is not created (create_schema does that)."""
    db = MariaDB().start(os.path.join(base, "db"))
    db.query("CREATE DATABASE P1 CHARACTER SET utf8mb4")
    db.query("CREATE USER %s@'%%' IDENTIFIED BY %s", (DB_USER, DB_PASSWORD))
    db.query(f"GRANT {README_GRANT} ON P1.* TO %s@'%%'", (DB_USER,))
    return db

def create_schema(base, db, run):
    """A broker whose plugin connects (creating the schema the normal way)
    and stops; True when it logged no schema error."""
    port = free_port()
    conf = broker_conf(port, plugin=PLUGIN, plugin_opts=plugin_options(db, db_timeout=10))
    b = Broker().start(conf, os.path.join(base, f"broker{run}"), port=port)
    try:
        b.wait_log(r"lowi-p1: connected to MariaDB", 20)
        return not b.log_lines(r"schema creation")
    finally:
        b.stop()


def sql_text(row):
    """A row as MariaDB prints it: every value as text, NULL as None."""
    return tuple(None if v is None else str(v) for v in row)


def check_view_rows(view, got, want):
    """One check: the view's rows (as sql_text) are `want`, in order; the
    details name the first difference."""
    ok = got == [sql_text(w) for w in want]
    details = f"{len(got)} rows"
    if not ok:
        for g, w in zip(got + [None] * len(want), [sql_text(w) for w in want] + [None] * len(got)):
            if g != w:
                details += f"; first difference: view {g}, expected {w}"
                break
    check(f"{view}: every row as computed by hand", ok, details)
