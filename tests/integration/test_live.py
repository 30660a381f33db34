"""The capacity tariff, live, through the real broker.

A meter's stored peaks are in Pics (written between two broker starts, so
the second start must read them back); then one LOWI publishes every 10 s
every 10 s, 2 kW with a 7 kW burst from 3 minutes into a quarter to its
end, over the 5 kW peak already stored for December:
 - subscribers get the retained state on <prefix>/<serial>/live after
   every reading, and a fresh subscriber gets the last one, which says its
   history came from the database and bills the stored 12 months;
 - the burst is warned about once ("projected"), however many readings
   repeat it, and the quarter closes as a new month peak ("new_peak"),
   whose kW is the one Pics holds;
 - a fresh subscriber gets every Home Assistant config, retained, each
   reading the live topic;
 - with per_listener_settings true (no ticks), the state still goes out,
   from the next message's callback; with `live false`, nothing does.
The accelerated clock stamps the readings: figures are judged on the
times the plugin wrote in the messages, not on the test's."""
import calendar
import json
import queue
import time

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 60
# Starting the broker twice and MariaDB takes a few simulated minutes: the
# first reading then comes shortly before the 08:30 boundary.
lib.use_fake_clock("2026-12-02 08:27:00", SPEED)

SERIAL = "4c75252e8c51"
TOPIC = f"{SERIAL}/PUB/CH0"
LIVE = f"lowi-p1/{SERIAL}/live"
PEAK = f"lowi-p1/{SERIAL}/peak"
STORED_DEC_KW = 5.0
# The 11 months before December: ten at 3 kW, one at 1 kW (billed 2.5).
STORED_BEFORE = [3.0] * 10 + [1.0]
BILLED_STORED = (STORED_DEC_KW + sum(max(kw, 2.5) for kw in STORED_BEFORE)) / 12


def lowi(import_wh, power_w):
    return json.dumps({"ident": SERIAL, "device_CH": "0", "CIH": f"{import_wh:.0f}", "CIL": "0", "CEH": "0",
                       "CEL": "0", "PI": f"{power_w:.0f}", "PE": "0", "T": "1"})


def power_at(t, q0):
    """The household: 2 kW, 7 kW from 3 minutes into the quarter q0 to its end."""
    return 7000.0 if q0 + 180 <= t < q0 + 900 else 2000.0


def utc_text(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def collect(client, real_seconds):
    """Every message a subscriber got within real_seconds. Polled: a
    blocking wait whose timeout runs out may not come back under
    libfaketime (Python waits on the real monotonic clock until an
    instant given on the faked one)."""
    out = []
    end = lib.real_time() + real_seconds
    while True:
        try:
            out.append(client.messages.get_nowait())
            continue
        except queue.Empty:
            pass
        if lib.real_time() >= end:
            return out
        lib.sleep(0.01)


def fresh(port, topic):
    """The retained messages a new subscriber gets at once."""
    c = lib.MqttClient(port).connect()
    c.subscribe(topic)
    got = collect(c, 1.0)
    c.close()
    return [(t, p) for t, p, r in got if r]


def store_peaks(db):
    rows = [("2026-12-01", "2026-12-01 18:00:00", STORED_DEC_KW)]
    for k, kw in enumerate(STORED_BEFORE, start=1):
        y, m = (2026, 12 - k) if k < 12 else (2025, 12)
        rows.append((f"{y:04d}-{m:02d}-01", f"{y:04d}-{m:02d}-05 18:00:00", kw))
    for mois, at, kw in rows:
        db.query("INSERT INTO Pics (Mois, DtTm, kW, Serial) VALUES (%s, %s, %s, %s)", (mois, at, kw, SERIAL), db="P1")


def main():
    base = sc.workdir("live")
    port = free_port()
    # First start: the plugin creates the schema; the stored peaks go in
    # while it is stopped.
    db, b = sc.start_stack(base, port, stats_interval=5)
    b.wait_log(r"lowi-p1: connected to MariaDB", 20)
    b.stop()
    store_peaks(db)
    # Prices an operator stored (price_source none): every quarter-hour of
    # the morning at 111.5 EUR/MWh, Buy 25.12345 c/kWh, no Sell formula.
    for k in range(4 * 4):
        db.query("INSERT INTO PxElectr (DtTm, price, Buy, Sell, Minutes, Source) VALUES"
                 " ('2026-12-02 08:00:00' + INTERVAL %s MINUTE, 111.5, 25.12345, NULL, 15, 'test')", (15 * k,), db="P1")

    opts = sc.plugin_options(db, stats_interval=5)
    b = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts), f"{base}/broker2", port=port)
    b.wait_log(r"lowi-p1: 12 monthly peaks since 2026-01 read back", 20)
    sub = lib.MqttClient(port).connect()
    sub.subscribe(f"lowi-p1/{SERIAL}/#")
    pub = lib.MqttClient(port).connect()
    t = time.time()
    # The burst quarter: the first one that starts 20 s or more after the
    # first reading, so that its start boundary is measured.
    q0 = (int(t) // 900 + 1) * 900
    if q0 - t < 20:
        q0 += 900
    Q0 = utc_text(q0)
    note(f"first reading at {utc_text(t)}, burst in the quarter from {Q0}")
    end = q0 + 900 + 120
    wh = 3_000_000.0
    readings = 0
    got = []
    while t < end:
        pub.publish(TOPIC, lowi(wh, power_at(t, q0)), qos=0)
        readings += 1
        got += collect(sub, 10 / SPEED)
        now = time.time()
        wh += power_at(t, q0) * (now - t) / 3600.0
        t = now
    got += collect(sub, 2.0)   # the broker's ticks publish within a second or so

    states = [json.loads(p) for tp, p, r in got if tp == LIVE and p]
    events = [json.loads(p) for tp, p, r in got if tp == PEAK]
    note(f"{readings} readings published, {len(states)} states and {len(events)} events received")
    check("a state for every reading", readings - 2 <= len(states) <= readings, f"{len(states)} of {readings}")
    check("the states are retained when they reach a late subscriber only; live ones are not flagged",
          all(not r for tp, p, r in got if tp == LIVE), "")
    first = states[0] if states else {}
    check("the stored peaks were read back: history 'database'", first.get("history") == "database", first.get("history"))
    check(f"the month's stored peak is the target: {STORED_DEC_KW} kW",
          first.get("month_peak_kw") == STORED_DEC_KW and first.get("target_kw") == STORED_DEC_KW,
          f"{first.get('month_peak_kw')} / {first.get('target_kw')}")
    check(f"billed over the 12 stored months: {BILLED_STORED:.3f} kW",
          first.get("billed_months") == 12 and abs(first.get("billed_kw", 0) - BILLED_STORED) < 0.0005,
          f"{first.get('billed_kw')} over {first.get('billed_months')}")

    projected = [e for e in events if e["event"] == "projected"]
    new_peaks = [e for e in events if e["event"] == "new_peak"]
    burst_states = [s for s in states if s["quarter_start"] == Q0 and s["peak_projected"]]
    note(f"{len(burst_states)} states of the {Q0[11:16]} quarter project a new peak; events: "
         + ", ".join(f"{e['event']} {e['quarter_start'][11:16]}" for e in events))
    check("the burst is warned about once", len(projected) == 1 and len(burst_states) > 10,
          f"{len(projected)} warnings, {len(burst_states)} states projecting it")
    if projected:
        check("the warning comes before the quarter's end, with its projection over the target",
              projected[0]["quarter_start"] == Q0 and projected[0]["time"] < utc_text(q0 + 720)
              and projected[0]["projected_kw"] > projected[0]["target_kw"] == STORED_DEC_KW, json.dumps(projected[0]))
    pics = db.query("SELECT kW, DtTm FROM Pics WHERE Serial = %s AND Mois = '2026-12-01'", (SERIAL,), db="P1")
    check("the quarter closes as a new month peak, once", len(new_peaks) == 1, f"{len(new_peaks)}")
    if new_peaks and pics:
        kw, at = float(pics[0][0]), str(pics[0][1])
        check("the new peak event gives the peak Pics holds", abs(new_peaks[0]["peak_kw"] - kw) < 0.0005
              and at == Q0.replace("T", " ")[:-1] and new_peaks[0]["quarter_start"] == Q0,
              f"event {new_peaks[0]['peak_kw']} at {new_peaks[0]['quarter_start']}, Pics {kw} at {at}")
    last = states[-1] if states else {}
    check("the stored price of the reading's quarter-hour", last.get("market_eur_mwh") == 111.5
          and last.get("buy_c_kwh") == 25.12345 and last.get("sell_c_kwh") is None
          and last.get("price_start") == last.get("quarter_start"),
          f"{last.get('price_start')} {last.get('market_eur_mwh')} {last.get('buy_c_kwh')} {last.get('sell_c_kwh')}")
    check("after it, the target is the new peak", new_peaks and last.get("target_kw") == new_peaks[0]["peak_kw"],
          f"{last.get('target_kw')}")

    # A late subscriber: the last state, and every discovery config.
    late = fresh(port, LIVE)
    check("a fresh subscriber gets the last state, retained", len(late) == 1 and late[0][1] and
          json.loads(late[0][1])["time"] == last.get("time"), f"{len(late)} messages")
    configs = fresh(port, "homeassistant/#")
    docs = [json.loads(p) for tp, p in configs]
    state_topics = {d.get("~", "") + d["stat_t"][1:] if d.get("stat_t", "").startswith("~") else d.get("stat_t")
                    for d in docs}
    ids = [d.get("uniq_id") for d in docs]
    note(f"{len(configs)} Home Assistant configs retained: " + ", ".join(sorted(tp.split('/')[-2] for tp, _ in configs)))
    check("a fresh subscriber gets every Home Assistant config (14 without gas and water)", len(configs) == 14,
          f"{len(configs)}")
    check("every config reads the live topic, under its own unique id", state_topics == {LIVE}
          and len(set(ids)) == len(ids), f"{state_topics}")
    sub.close()
    pub.close()
    b.stop()
    counters = b.counters()
    check("no live message dropped", counters.get("live_dropped") == 0 and counters.get("peak_events", 0) >= 2,
          f"{counters.get('live_messages')} made, {counters.get('live_dropped')} dropped, {counters.get('peak_events')} events")

    # per_listener_settings true: no ticks; the next message's callback
    # publishes what the one before produced. Home Assistant off.
    port2 = free_port()
    opts2 = sc.plugin_options(db, db_name="P1", ha_discovery="false")
    b2 = lib.Broker().start(lib.broker_conf(port2, plugin=sc.PLUGIN, plugin_opts=opts2, per_listener_settings=True),
                            f"{base}/per-listener", port=port2)
    p2 = lib.MqttClient(port2).connect()
    for i in range(3):
        p2.publish(TOPIC, lowi(4_000_000 + i, 300), qos=1)
        lib.sleep(1.0)
    state = fresh(port2, LIVE)
    check("per_listener_settings true: the state goes out from the next message's callback",
          len(state) == 1 and json.loads(state[0][1])["import_day_kwh"] >= 4000.0, f"{state}")
    check("ha_discovery false: no Home Assistant config", not fresh(port2, "homeassistant/#"), "")
    p2.close()
    b2.stop()

    port3 = free_port()
    opts3 = sc.plugin_options(db, db_name="P1", live="false")
    b3 = lib.Broker().start(lib.broker_conf(port3, plugin=sc.PLUGIN, plugin_opts=opts3), f"{base}/off", port=port3)
    p3 = lib.MqttClient(port3).connect()
    for i in range(3):
        p3.publish(TOPIC, lowi(5_000_000 + i, 300), qos=1)
        lib.sleep(0.5)
    lib.sleep(1.0)
    check("live false: no state, no config", not fresh(port3, "lowi-p1/+/live") and not fresh(port3, "homeassistant/#"), "")
    p3.close()
    b3.stop()
    db.stop()


if __name__ == "__main__":
    run_main(main)
