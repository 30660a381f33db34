"""Performance issue, done-when 6 (beyond one machine): two brokers, each
with lowi-p1 and a disjoint set of meters, write to the same MariaDB at
once (10 meters each). Every row of every meter is present and right, and each broker's
price worker is off so only Conso/Pics writers compete."""
import subprocess

import lib
from lib import check, free_port, note, run_main
import scenario as sc

# 60x: each broker under libfaketime polls fast and uses a core; two brokers,
# two simulators and MariaDB share two cores, so a slower clock keeps the
# real delivery delays small in simulated time.
lib.use_fake_clock("2026-02-20 07:50:00", 60)


def main():
    base = sc.workdir("two-brokers")
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    brokers, sims = [], []
    for i, seed in enumerate((31, 32)):
        port = free_port()
        b = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(db)),
                               f"{base}/broker{i}", port=port)
        brokers.append(b)
        d = f"{base}/sim{i}"
        subprocess.run(["mkdir", "-p", d], check=True)
        sims.append((d, subprocess.Popen(sc.sim_command(port, d, meters=10, interval=60, jitter=5,
                                                        duration=5400 + 300, seed=seed),
                                         stdout=subprocess.PIPE, text=True)))
    for d, p in sims:
        out, _ = p.communicate(timeout=900 * lib.clock_factor())
        check(f"simulator {d[-4:]} finished", p.returncode == 0, out.strip().replace("\n", " ")[-100:])
    sc.await_rows(db, *(d for d, _ in sims))
    for b in brokers:
        b.stop()
    rows = sc.db_rows(db)
    truth = {}
    for d, _ in sims:
        truth.update(sc.measurable(sc.load_truth(d), sc.load_published(d)))
    serials = {s for s, _ in truth}
    check("20 meters from two brokers, disjoint", len(serials) == 20 and {s for s, _ in rows} == serials,
          f"{len(serials)} meters in the truth, {len({s for s, _ in rows})} in Conso")
    missing = [k for k in truth if k not in rows]
    med, p95, mx, n = sc.error_stats({k: r["import_wh"] for k, r in rows.items()}, truth)
    check("every row present and right", not missing and med <= 1.0 and mx <= 25,
          f"{n} quarters, {len(missing)} missing, |error| median {med:.3f} p95 {p95:.3f} max {mx:.3f} Wh")
    peaks = sc.db_peaks(db)
    want = sc.monthly_peaks({k: v for k, v in truth.items() if k in rows})
    off = [k for k, (kw, _) in want.items() if k not in peaks or abs(peaks[k][0] - kw) > 0.02]
    check("each meter's monthly peak in Pics", not off, f"{len(want)} peaks, {len(off)} off")
    note(f"rows {len(rows)}")
    db.stop()


run_main(main)
