"""Done-when 4: the bad-payload corpus (tests/corpus/bad) interleaved with
good readings on the meters' own CH0 topics. The broker stays up, every
message is delivered, the good rows are right, and the log reports the
rejected count."""
import os
import re

import lib
from lib import check, free_port, note, run_main
import scenario as sc

lib.use_fake_clock("2026-03-03 11:50:00", 600)


def main():
    base = sc.workdir("bad")
    port = free_port()
    db, broker = sc.start_stack(base, port)
    out = sc.run_sim(port, base, meters=2, interval=60, jitter=5, duration=4 * 3600 + 1200, seed=5,
                     bad_dir=os.path.join(sc.CORPUS, "bad"), bad_every=1,
                     subscribe=True, record=f"{base}/received.txt", sent=f"{base}/sent.txt")
    m = re.search(r"bad[ =:]+(\d+)", out)
    bad_sent = int(m.group(1)) if m else -1
    check("broker still up after the corpus", broker.alive(), f"bad payloads sent: {bad_sent}")
    sc.await_rows(db, base)
    broker.stop()
    sent, got, lost, extra = sc.delivery_check(base)
    check("every message delivered byte for byte, bad ones included", lost == 0 and extra == 0 and sent > 0,
          f"sent {sent}, received {got}, lost {lost}, unexpected {extra}")
    rejected = broker.counters().get("payloads_rejected", -1)
    check("every bad payload rejected and counted in the log", rejected == bad_sent and bad_sent > 0,
          f"log says rejected {rejected}, simulator sent {bad_sent} bad payloads")
    lines = broker.log_lines(r"payload rejected")
    note(f"{len(lines)} rejection lines for {bad_sent} bad payloads; first: {lines[0][:160] if lines else None}")
    # At most one line per kind of rejection per minute (broker clock).
    last, too_close = {}, 0
    for line in lines:
        ts, kind = int(line.split(":")[0]), re.search(r"payload rejected \(([a-z-]+)", line).group(1)
        too_close += kind in last and ts - last[kind] < 60
        last[kind] = ts
    check("rejection lines are rate-limited per kind", lines and too_close == 0 and len(lines) < bad_sent,
          f"{len(lines)} lines for {bad_sent} payloads, {too_close} closer than 60 s to the previous of their kind, "
          f"{len(broker.log_lines('similar since the last such line'))} lines report silenced ones")
    published = sc.load_published(base)
    sc.compare_meters(sc.db_rows(db), sc.measurable(sc.load_truth(base), published), check, published=published)
    db.stop()


run_main(main)
