"""Durability issue, done-when 1 and 2: nothing lost across outages and
restarts. Two meters publish for 6 simulated hours (QoS 0; while the broker
is down their readings are simply not published, as with a real dongle):
  01:00  MariaDB stopped (SIGTERM, not frozen) ...
  01:40  ... the broker restarted cleanly in the middle of the outage ...
  02:20  ... MariaDB back: 80 minutes, more than 5 quarters;
  03:07  the broker killed with SIGKILL in the middle of a quarter, started
         again 10 minutes later;
  04:00  a clean broker restart.
Afterwards every quarter has its row; rows are equal to the ground truth
except the quarters of the SIGKILL gap, which are flagged estimated; and the
energy of the whole run adds up to the truth: nothing lost, nothing twice."""
import re
import subprocess
import time

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 120
lib.use_fake_clock("2026-09-01 00:00:00", SPEED)


def sim_sleep_until(t0, minutes):
    """Sleep until `minutes` simulated minutes after the real instant t0."""
    lib.sleep(t0 + minutes * 60 / SPEED - lib.real_time())


def main():
    base = sc.workdir("durability")
    port = free_port()
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    opts = sc.plugin_options(db, db_timeout=int(2 * SPEED))
    conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts)
    broker = lib.Broker().start(conf, f"{base}/broker", port=port)
    t0 = lib.real_time()
    sim = subprocess.Popen(sc.sim_command(port, base, meters=2, interval=60, jitter=5, duration=6 * 3600 + 300, seed=9,
                                          qos=0, survive_restarts=True), stdout=subprocess.PIPE, text=True)
    kill_window = []

    def restart(kill=False, down_minutes=0):
        nonlocal broker
        if kill:
            kill_window.append(time.time())   # the broker's (simulated) clock
            broker.kill()
        else:
            broker.stop()
        if down_minutes:
            lib.sleep(down_minutes * 60 / SPEED)
        broker = lib.Broker().start(conf, f"{base}/broker", port=port)
        if kill:
            kill_window.append(time.time())

    sim_sleep_until(t0, 60)
    db.stop()
    note("01:00 MariaDB stopped")
    sim_sleep_until(t0, 100)
    restart()
    note("01:40 broker restarted during the outage")
    sim_sleep_until(t0, 140)
    db.start(f"{base}/db")
    note("02:20 MariaDB back")
    sim_sleep_until(t0, 187)
    restart(kill=True, down_minutes=10)
    note("03:07 broker killed (SIGKILL), back at 03:17")
    sim_sleep_until(t0, 240)
    restart()
    note("04:00 clean restart")
    out, _ = sim.communicate(timeout=600 * SPEED)
    note("simulator: " + out.strip().replace("\n", " "))
    sc.await_rows(db, base)
    broker.stop()
    log = broker.log_text()   # one log file, appended by every broker run

    spooled = sum(int(n) for n in re.findall(r"spooled (\d+) rows to disk", log))
    replayed = sum(int(n) for n in re.findall(r"replayed (\d+) spooled rows", log))
    check("rows went to the spool during the outage and were replayed", spooled > 0 and replayed == spooled,
          f"spooled {spooled}, replayed {replayed}")
    check("no spool error", not re.search(r"spool_errors [1-9]|lowi-p1: spool:", log), "")
    resumed = re.findall(r"spool .*: (\d+) meters resume .*\((\d+) from their last reading", log)
    note(f"restarts resumed (meters, from saved state): {resumed}")

    truth = sc.measurable(sc.load_truth(base), sc.load_published(base))
    rows = sc.db_rows(db)
    missing = sorted(k for k in truth if k not in rows)
    check("every quarter has a row", not missing, f"{len(truth)} quarters, missing {missing[:4]}")
    # Quarters touching the SIGKILL gap: from the quarter before the kill (its
    # row may not have been durable yet) to the first reading after it.
    gap = {k for k in truth if kill_window[0] // 900 * 900 - 900 <= k[1] <= kill_window[1] + 120}
    estimated = {k for k, r in rows.items() if r["estimated"]}
    check("the quarters of the SIGKILL gap are flagged estimated, no others", estimated and estimated <= gap,
          f"estimated {sorted(t for _, t in estimated)}, gap window {len(gap)} quarters")
    exact = {k: v for k, v in truth.items() if k not in estimated}
    med, p95, mx, n = sc.error_stats({k: r["import_wh"] for k, r in rows.items()}, exact)
    check("all other rows equal the ground truth (to the meter's Wh)", med <= 1.0 and mx <= 25,
          f"{n} rows: |error| median {med:.3f} p95 {p95:.3f} max {mx:.3f} Wh")
    for serial in sorted({s for s, _ in truth}):
        keys = sorted(k for k in truth if k[0] == serial)
        got = sum(rows[k]["import_wh"] for k in keys if k in rows)
        want = sum(truth[k]["import_wh"] for k in keys)
        check(f"meter {serial}: the run's energy adds up (nothing lost, nothing twice)", abs(got - want) <= 3,
              f"rows {got} Wh, truth {want:.1f} Wh over {len(keys)} quarters")
    db.stop()


run_main(main)
