"""Runs the demo stack (see tests/demo.sh) and prints rows as they arrive."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import lib  # noqa: E402
import scenario as sc  # noqa: E402
import prices as px  # noqa: E402

minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 3
meters = int(sys.argv[2]) if len(sys.argv) > 2 else 3
lib.use_fake_clock("2026-01-15 06:58:00", 60)


def main():
    base = sc.workdir("demo")
    port = lib.free_port()
    print(f"demo: private MariaDB, mosquitto with {sc.PLUGIN} on 127.0.0.1:{port}, "
          f"{meters} simulated LOWIs, clock x60; files in {base}", flush=True)
    fixtures = px.FixtureServer(base)
    print(f"demo: day-ahead prices from a local server answering like Elia ({fixtures.url})", flush=True)
    db, broker = sc.start_stack(base, port, price_source="elia", price_url=fixtures.url + px.ELIA_PATH,
                                price_start="2026-01-01")
    print(f"demo: MariaDB on 127.0.0.1:{db.port} (root, no password; database P1)", flush=True)
    sim = subprocess.Popen(sc.sim_command(port, base, meters=meters, interval=60, jitter=5,
                                          duration=int(minutes * 60 * 60) + 120, seed=1),
                           stdout=subprocess.DEVNULL)
    seen = set()
    deadline = lib.real_time() + minutes * 60
    print("demo: rows arrive once per simulated quarter-hour (every 15 s real)\n"
          f"{'DtTm (UTC)':19}  {'Serial':12}  {'In_D':>10} {'In_N':>10} {'OUT_D':>9} {'OUT_N':>9}"
          f" {'Soutire':>8} {'Injecte':>8} {'Gas_m3':>7} {'Water_m3':>8} Est", flush=True)
    while lib.real_time() < deadline and sim.poll() is None:
        lib.sleep(1)
        for r in db.query("SELECT DtTm, Serial, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte, Gas_m3, Water_m3,"
                          " Estimated FROM Conso ORDER BY DtTm, Serial", db="P1"):
            if (r[0], r[1]) in seen:
                continue
            seen.add((r[0], r[1]))
            print(f"{r[0]!s:19}  {r[1]:12}  {r[2]:>10} {r[3]:>10} {r[4]:>9} {r[5]:>9} {r[6]:>8} {r[7]:>8}"
                  f" {r[8]!s:>7} {r[9]!s:>8} {r[10]}", flush=True)
    sim.terminate()
    sim.wait()
    for kw in db.query("SELECT Mois, Serial, DtTm, kW FROM Pics ORDER BY Serial", db="P1"):
        print(f"Pics: {kw[0]} {kw[1]} peak {kw[3]} kW in the quarter starting {kw[2]} UTC")
    n, first, last = db.query("SELECT COUNT(*), MIN(DtTm), MAX(DtTm) FROM PxElectr", db="P1")[0]
    print(f"PxElectr: {n} market periods from {first} to {last} UTC")
    for serial, eur in db.query("SELECT Serial, SUM(Cost_EUR) FROM ConsoCost GROUP BY Serial", db="P1"):
        print(f"ConsoCost: meter {serial} paid {eur:.4f} EUR for the quarters shown")
    broker.stop()
    print("demo: plugin log lines:")
    for line in broker.log_lines(r"lowi-p1:"):
        print("  " + line)
    db.stop()
    fixtures.stop()
    print(f"demo: {len(seen)} rows written; stopped everything")


main()
