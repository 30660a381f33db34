"""Durability issue, done-when 1 (faults of the spool itself): an unwritable
spool directory, and a spool on a full disk (a 16 KiB tmpfs) while MariaDB
is down. Each gives a clear log line and a counter, never a crash; rows that
could not be spooled wait in memory and reach MariaDB once it is back."""
import os
import shutil
import subprocess
import tempfile

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 120
lib.use_fake_clock("2026-10-05 08:00:00", SPEED)


def start(base, name, db, spool):
    port = free_port()
    opts = sc.plugin_options(db, db_timeout=int(2 * SPEED), spool_dir=spool)
    return lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts), f"{base}/{name}", port=port)


def main():
    base = sc.workdir("spool-faults")
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)

    # 1. A spool directory the mosquitto user cannot write.
    locked = tempfile.mkdtemp(prefix="lowi-locked-")
    os.chmod(locked, 0o700)
    b = start(base, "locked", db, f"{locked}/spool")
    line = b.wait_log(r"lowi-p1: cannot create the spool directory", 10)
    sim = subprocess.run(sc.sim_command(b.port, base, meters=1, interval=60, duration=2400, seed=2),
                         capture_output=True, timeout=300 * SPEED)
    b.stop()
    c = b.counters()
    check("unwritable spool directory: one clear line, broker up, rows still written",
          sim.returncode == 0 and c.get("rows_written", 0) > 0 and c.get("spool_errors") == 1,
          line[0][line[0].find("lowi"):] + f" | rows_written {c.get('rows_written')}, spool_errors {c.get('spool_errors')}")
    shutil.rmtree(locked)

    # 2. Rows MariaDB refuses for their values (here a CHECK constraint on one
    #    meter): set aside in the spool, counted, and the other meters'
    #    rows keep flowing.
    db.create_database("RF", sc.DB_USER, sc.DB_PASSWORD)
    spool = sc.spool_dir()
    port = free_port()
    b = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(
        db, "RF", db_timeout=int(2 * SPEED), spool_dir=spool)), f"{base}/refused", port=port)
    b.wait_log(r"lowi-p1: connected to MariaDB", 10)
    serials = []
    out = subprocess.run(sc.sim_command(port, f"{base}", meters=2, interval=60, duration=60, seed=44),
                         capture_output=True, text=True, timeout=300 * SPEED)
    with open(f"{base}/published.csv") as f:
        serials = sorted({line.split(",")[0] for line in f if not line.startswith("serial")})
    db.query(f"ALTER TABLE Conso ADD CONSTRAINT refuse_one CHECK (Serial <> '{serials[0]}')", db="RF")
    sim = subprocess.run(sc.sim_command(port, base, meters=2, interval=60, duration=3000, seed=44),
                         capture_output=True, text=True, timeout=300 * SPEED)
    b.stop()
    got = dict(db.query("SELECT Serial, COUNT(*) FROM Conso GROUP BY Serial", db="RF"))
    with open(f"{spool}/rejected.rows") as f:
        aside = [line for line in f if line.startswith(serials[0])]
    c = b.counters()
    check("a row MariaDB refuses is set aside and does not block the others",
          sim.returncode == 0 and out.returncode == 0 and got.get(serials[1], 0) >= 2 and serials[0] not in got
          and len(aside) >= 2 and c.get("rows_refused", 0) > 0,
          f"rows {got}, {len(aside)} set aside; {b.log_lines('refused by MariaDB')[0][-120:] if aside else ''}")

    # 3. A full disk under the spool while MariaDB is down.
    mnt = tempfile.mkdtemp(prefix="lowi-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0755", "tmpfs", mnt]).returncode != 0:
        check("a 16 KiB tmpfs can be mounted for the full-disk case", False, "mount failed")
        return
    try:
        spool = f"{mnt}/spool"
        os.mkdir(spool)
        shutil.chown(spool, "mosquitto", "mosquitto")
        b = start(base, "full", db, spool)
        sim = subprocess.Popen(sc.sim_command(b.port, base, meters=40, interval=20, jitter=2, duration=4 * 3600, seed=3),
                               stdout=subprocess.PIPE, text=True)
        lib.sleep(1200 / SPEED)
        db.stop()
        note("MariaDB stopped; the spool fills up")
        lib.wait_for(lambda: b.log_lines(r"No space left on device"), 200 * 60 / SPEED, "a full spool")
        lib.sleep(900 / SPEED)
        db.start(f"{base}/db")
        note("MariaDB back")
        out, _ = sim.communicate(timeout=600 * SPEED)
        alive = b.alive()
        b.stop()
        full = b.log_lines(r"No space left on device")
        c = b.counters()
        check("full spool: a clear line and a counter, broker never down", alive and full
              and c.get("spool_errors", 0) > 0, full[0][full[0].find("lowi"):] if full else "no line")
        truth = sc.measurable(sc.load_truth(base), sc.load_published(base))
        rows = sc.db_rows(db)
        missing = [k for k in truth if k not in rows]
        check("full spool: every row reached MariaDB in the end (memory held the rest)", not missing,
              f"{len(truth)} quarters, {len(missing)} missing; " + ", ".join(
                  f"{k} {c.get(k)}" for k in ("rows_queued", "rows_written", "rows_dropped", "rows_spooled", "rows_replayed")))
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)
    db.stop()


run_main(main)
