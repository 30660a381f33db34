"""The row writer's rate: spool files replayed into a private MariaDB by
the plugin, rows per second from its "connected" line to its "replayed N
spooled rows" line (the log polled every 20 ms).

  /usr/bin/python3 tests/bench/writer_replay.py [--plugin build/plugin/lowi_p1.so]
      [--meters 500] [--days 7] [--reps 3]

Two cases, each `--reps` times (median):
  start of month: `days` days of every meter from the 1st of January,
                  quarter after quarter (as the writer spools them: files of
                  500 rows, each quarter's rows of all meters together);
  end of month:   Conso already holds the 1st to the 27th of January for
                  every meter (inserted with SQL), and the 28th is replayed:
                  what a batch costs when each meter's month is nearly full.

Every Pics row is then checked against the peak of the month computed here
from Conso (the highest non-estimated quarter, the earliest of equal ones).
Servers on 127.0.0.1 only, stopped at the end. Run as root, on an otherwise
idle machine.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lib  # noqa: E402
import scenario as sc  # noqa: E402

JAN1_UTC = 1767222000   # 2026-01-01 00:00 Brussels (CET) = 2025-12-31 23:00 UTC


def import_wh(m, q):
    return (m * 7919 + q * 104729) % 613 + 20


def write_spool(spool, meters, q_from, q_to, batch=500):
    """Spool files of `batch` rows, quarters q_from..q_to-1 of every meter."""
    seq, buf = 1, []

    def flush():
        nonlocal seq, buf
        if buf:
            path = os.path.join(spool, f"{seq:020d}.rows")
            with open(path, "w") as f:
                f.writelines(buf)
            os.chown(path, *mosquitto_ids())
            seq += 1
            buf = []
    for q in range(q_from, q_to):
        for m in range(meters):
            wh = import_wh(m, q)
            buf.append(f"M{m:05d} {JAN1_UTC + 900 * q} {1000 + q} 0 0 0 {wh} 0 0 0 0 0 0\n")
            if len(buf) == batch:
                flush()
    flush()
    return (q_to - q_from) * meters


def mosquitto_ids():
    import pwd
    p = pwd.getpwnam("mosquitto")
    return p.pw_uid, p.pw_gid


def replay(base, db, db_name, plugin, spool, rows, timeout=1800):
    port = lib.free_port()
    workdir = tempfile.mkdtemp(prefix="broker-", dir=base)
    opts = sc.plugin_options(db, db_name, spool_dir=spool, db_timeout=60)
    b = lib.Broker().start(lib.broker_conf(port, plugin=plugin, plugin_opts=opts), workdir, port=port)
    t_conn = t_done = None
    deadline = lib.real_time() + timeout
    while lib.real_time() < deadline:
        text = b.log_text()
        now = lib.real_time()
        if t_conn is None and "connected to MariaDB" in text:
            t_conn = now
        if t_conn is not None and re.search(r"replayed \d+ spooled rows", text):
            t_done = now
            break
        lib.sleep(0.02)
    b.stop()
    if t_done is None:
        raise RuntimeError(f"replay of {rows} rows did not end in {timeout} s")
    secs = max(t_done - t_conn, 0.01)
    return rows / secs, secs


def check_pics(db, db_name):
    """Pics against the month's peak computed from Conso here."""
    rows = db.query("SELECT Serial, TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Soutire FROM Conso WHERE Estimated = 0"
                    " ORDER BY Serial, DtTm", db=db_name)
    want = {}
    for serial, ts, sout in rows:
        key = (serial, sc.brussels_month(ts))
        kw = float(sout) * 4
        if key not in want or kw > want[key][0]:
            want[key] = (kw, ts)
    got = sc.db_peaks(db, db_name)
    wrong = [k for k in want if k not in got or abs(got[k][0] - want[k][0]) > 1e-6 or got[k][1] != want[k][1]]
    return len(want), len(wrong) + len([k for k in got if k not in want])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", default=sc.PLUGIN)
    ap.add_argument("--meters", type=int, default=500)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix="lowi-writer-bench-")
    os.chmod(base, 0o755)
    db = lib.MariaDB().start(f"{base}/db", extra_args=["--innodb-buffer-pool-size=512M"])
    results = {"start of month": [], "end of month": []}
    try:
        for rep in range(a.reps):
            name = f"S{rep}"
            db.create_database(name, sc.DB_USER, sc.DB_PASSWORD)
            spool = sc.spool_dir()
            rows = write_spool(spool, a.meters, 0, a.days * 96)
            rate, secs = replay(base, db, name, a.plugin, spool, rows)
            n, wrong = check_pics(db, name)
            print(f"start of month, run {rep + 1}: {rows} rows in {secs:.2f} s, {rate:,.0f} rows/s;"
                  f" Pics: {n} meter-months, {wrong} wrong", flush=True)
            results["start of month"].append(rate)

            name = f"E{rep}"
            db.create_database(name, sc.DB_USER, sc.DB_PASSWORD)
            spool = sc.spool_dir()
            # The schema first (one replay of one row), then 27 days by SQL.
            write_spool(spool, 1, 0, 1)
            replay(base, db, name, a.plugin, spool, 1)
            db.query("INSERT INTO Conso (DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Serial, Estimated)"
                     f" SELECT TIMESTAMP '1970-01-01 00:00:00' + INTERVAL ({JAN1_UTC} + 900 * q.seq) SECOND,"
                     " 1000 + q.seq, 0, 0, 0, ((m.seq * 7919 + q.seq * 104729) MOD 613 + 20) / 1000, 0,"
                     " CONCAT('M', LPAD(m.seq, 5, '0')), 0"
                     f" FROM seq_0_to_{a.meters - 1} m, seq_0_to_{27 * 96 - 1} q"
                     " ON DUPLICATE KEY UPDATE Soutire = VALUES(Soutire)", db=name)
            # Rows written by SQL leave Pics alone: their peaks the way the
            # README has an operator recompute them, every meter at once.
            db.query("INSERT INTO Pics (Mois, DtTm, kW, Serial)"
                     " SELECT '2026-01-01', DtTm, Soutire * 4, Serial FROM"
                     " (SELECT Serial, DtTm, Soutire, ROW_NUMBER() OVER (PARTITION BY Serial ORDER BY Soutire DESC, DtTm) AS n"
                     "  FROM Conso WHERE Estimated = 0 AND DtTm >= '2025-12-31 23:00' AND DtTm < '2026-01-31 23:00') p"
                     " WHERE n = 1 ON DUPLICATE KEY UPDATE DtTm = VALUES(DtTm), kW = VALUES(kW)", db=name)
            spool = sc.spool_dir()
            rows = write_spool(spool, a.meters, 27 * 96, 28 * 96)
            rate, secs = replay(base, db, name, a.plugin, spool, rows)
            n, wrong = check_pics(db, name)
            print(f"end of month, run {rep + 1}: {rows} rows in {secs:.2f} s, {rate:,.0f} rows/s;"
                  f" Pics: {n} meter-months, {wrong} wrong", flush=True)
            results["end of month"].append(rate)
            for d in (f"S{rep}", f"E{rep}"):
                db.query(f"DROP DATABASE {d}")
    finally:
        db.stop()
    for case, rates in results.items():
        if rates:
            print(f"{case}: median {statistics.median(rates):,.0f} rows/s over {len(rates)} runs"
                  f" ({', '.join(f'{r:,.0f}' for r in rates)}); {a.meters} meters")


main()
