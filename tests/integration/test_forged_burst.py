"""Issue 11, finding 3: a forged burst on a meter's topic sets no peak.
A meter publishes every minute at 500 W; two forged messages, 10 s either
side of a quarter boundary, carry counters 20 kWh higher (each passes the
per-reading bound, which allows five minutes at 250 kW). Before the
quarter's plausibility bound, the quarter before the boundary booked
20 kWh unflagged: an 80 kW monthly peak. Now its Conso row has Estimated = 1, Pics holds no
peak from it, and the plugin counts and names it."""
import datetime
import json
import os
import time

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 60
lib.use_fake_clock("2026-11-10 09:40:00", SPEED)
SERIAL = "4c75252e8c51"
TOPIC = f"{SERIAL}/PUB/CH0"
W = 500.0
START = 1794303600  # 2026-11-10 09:40 UTC: where the counters start


def payload(cih, pi=W):
    return json.dumps({"ident": SERIAL, "device_CH": "0", "T": "1", "PI": str(int(pi)), "PE": "0",
                       "CIH": str(int(cih)), "CIL": "137096", "CEH": "10976", "CEL": "3381"})


def counter_at(t):
    return 1308380 + W * (t - START) / 3600.0


def wait_until(t):
    """Sleep until this process's (simulated) clock reaches t."""
    while time.time() < t:
        time.sleep(min(0.5, max(0.0, t - time.time())))


def main():
    base = sc.workdir("forged")
    port = free_port()
    # LOWI_FORGED_MAX_POWER_KW=100000 shows the figure before the bound.
    db, broker = sc.start_stack(base, port, max_power_kw=os.environ.get("LOWI_FORGED_MAX_POWER_KW", "56"))
    c = lib.MqttClient(port, "meter-and-forger", keepalive=3600).connect()
    # The second boundary from now: the meter is heard before the first,
    # so the quarter between them gets a row.
    boundary = (int(time.time()) // 900 + 2) * 900
    forged = [(boundary - 10, counter_at(boundary) + 20000), (boundary + 10, counter_at(boundary) + 20000)]
    t = int(time.time()) // 60 * 60 + 90
    while t < boundary + 32 * 60:
        while forged and forged[0][0] < t:
            at, cih = forged.pop(0)
            wait_until(at)
            c.publish(TOPIC, payload(cih), qos=1)
        wait_until(t)
        c.publish(TOPIC, payload(counter_at(t)), qos=1)
        t += 60
    c.close()

    quarter, after, last = (SERIAL, boundary - 900), (SERIAL, boundary), (SERIAL, boundary + 900)
    try:
        lib.wait_for(lambda: last in sc.db_rows(db), 60, "the row of the second quarter after the burst")
    except lib.WaitTimeout as e:
        note(str(e))
    rows = sc.db_rows(db)
    row = rows.get(quarter)
    hhmm = datetime.datetime.fromtimestamp(boundary - 900, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    note(f"quarter {hhmm}: {row}; the quarter after: {rows.get(after)}")
    check("the quarter of the burst has a row", row is not None)
    if row is not None:
        check("it books the 20 kWh its counters showed, as an 80 kW quarter would", 20000 <= row["import_wh"] <= 20300,
              f"Soutire {row['import_wh']} Wh")
        check("and is flagged Estimated", row["estimated"])
    peaks = sc.db_peaks(db)
    note(f"Pics: {peaks}")
    check("Pics holds the meter's real peak (0.5 kW), not the burst's", len(peaks) == 1
          and all(0.4 < kw < 0.6 and ts == boundary + 900 for kw, ts in peaks.values()), f"{peaks}")
    broker.stop()
    counters = broker.counters()
    check("the plugin counts one implausible quarter", counters.get("implausible_quarters") == 1,
          f"implausible_quarters {counters.get('implausible_quarters')}")
    lines = broker.log_lines(rf"lowi-p1: meter {SERIAL}: quarter {hhmm} UTC booked 20\.")
    check("and names the meter and the quarter in the log", len(lines) == 1, lines[0] if lines else "no line")
    db.stop()


run_main(main)
