"""Done-when 5: MariaDB frozen (SIGSTOP) for several simulated quarters while
a meter publishes. The broker keeps delivering every message meanwhile, and
after MariaDB resumes every row is there and right."""
import subprocess

import lib
from lib import check, free_port, note, run_main
import scenario as sc

lib.use_fake_clock("2026-04-20 07:50:00", 600)


def main():
    base = sc.workdir("freeze")
    port = free_port()
    # A short database timeout (2 s real) so the writer gives up on the
    # frozen server, logs, and reconnects with back-off.
    db, broker = sc.start_stack(base, port, db_timeout=int(2 * lib.clock_factor()))
    sim = subprocess.Popen(sc.sim_command(port, base, meters=2, interval=60, jitter=5, duration=4 * 3600, seed=3,
                                          subscribe=True, record=f"{base}/received.txt", sent=f"{base}/sent.txt"),
                           stdout=subprocess.PIPE, text=True)
    quarter_real = 900 / lib.clock_factor()
    lib.sleep(4 * quarter_real)              # an hour of normal operation
    before = len(sc.db_rows(db))
    db.freeze()
    note(f"MariaDB frozen after {before} rows")
    lib.sleep(5 * quarter_real)              # five quarters without a database
    db.thaw()
    note("MariaDB resumed")
    out, _ = sim.communicate(timeout=600 * lib.clock_factor())
    note(out.strip().replace("\n", " | "))
    check("simulator finished", sim.returncode == 0, f"exit {sim.returncode}")
    sc.await_rows(db, base)
    broker.stop()
    sent, got, lost, extra = sc.delivery_check(base)
    check("messages delivered while the database was frozen", lost == 0 and extra == 0 and sent > 0,
          f"sent {sent}, received {got}, lost {lost}")
    errors = broker.log_lines(r"lowi-p1: database")
    note(f"{len(errors)} database error lines; first: {errors[0][:200] if errors else None}")
    check("the writer reported the stalled database and recovered", len(errors) > 0 and len(broker.log_lines(r"lowi-p1: connected")) >= 2,
          f"{len(errors)} error lines, {len(broker.log_lines(r'lowi-p1: connected'))} connections")
    published = sc.load_published(base)
    sc.compare_meters(sc.db_rows(db), sc.measurable(sc.load_truth(base), published), check, published=published)
    db.stop()


run_main(main)
