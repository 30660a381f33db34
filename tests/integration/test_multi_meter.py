"""Done-when 3: three meters at once plus unrelated traffic (other topics,
CH1 channels, binary payloads). Each meter's rows are complete and correct,
and a subscriber receives every message byte for byte: the plugin only
observes."""
import lib
from lib import check, free_port, note, run_main
import scenario as sc

lib.use_fake_clock("2026-02-10 05:50:00", 600)


def main():
    base = sc.workdir("multi")
    port = free_port()
    db, broker = sc.start_stack(base, port)
    sc.run_sim(port, base, meters=3, interval=60, jitter=5, duration=6 * 3600 + 1200, seed=11, noise=3,
               subscribe=True, record=f"{base}/received.txt", sent=f"{base}/sent.txt")
    sc.await_rows(db, base)
    broker.stop()
    sent, got, lost, extra = sc.delivery_check(base)
    check("every message delivered byte for byte", sent > 0 and lost == 0 and extra == 0,
          f"sent {sent}, received {got}, lost {lost}, unexpected {extra}")
    truth, rows = sc.measurable(sc.load_truth(base), sc.load_published(base)), sc.db_rows(db)
    serials = sc.compare_meters(rows, truth, check, published=sc.load_published(base))
    check("three meters recorded, nothing else", len(serials) == 3 and {s for s, _ in rows} == set(serials),
          f"truth {serials}, rows {sorted({s for s, _ in rows})}")
    note(f"rows {len(rows)}; log: {broker.log_path}")
    db.stop()


run_main(main)
