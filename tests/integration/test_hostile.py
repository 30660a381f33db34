"""Durability issue, done-when 4: hostile MQTT traffic on the LOWI topics.
While three real meters publish, a client floods the CH0 topics for a
bounded time with oversized (1 MB), binary, deeply nested and malformed
payloads, and with valid readings from thousands of invented meters at a
high rate. The broker stays up, its memory stays bounded (resident set
measured before and after; the meter table is capped by max_meters), the
rejections are counted, and the real meters' rows are right."""
import json
import os
import random
import subprocess
import threading

import paho.mqtt.client as mqtt

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 60
lib.use_fake_clock("2026-11-10 09:55:00", SPEED)
FLOOD_REAL_S = 25
MAX_METERS = 2000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def hostile_payloads(rng):
    big = bytes(rng.getrandbits(8) for _ in range(4096)) * 256            # 1 MiB binary
    nested = ("[" * 100000 + "]" * 100000).encode()
    deep_obj = ('{"CIH":1,"x":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}").encode()
    return [big, nested, deep_obj, b"\x00\xff" * 50000, b'{"CIH":"1' + b"9" * 100000 + b'"}',
            b'{"CIH":', b"null", b"[]", '{"CIH":"\u00e9\u00e9","CIL":1,"CEH":1,"CEL":1}'.encode(),
            json.dumps({"CIH": -5, "CIL": 1, "CEH": 1, "CEL": 1}).encode(), b"{" * 300000]


def flood(port, stop, counts):
    rng = random.Random(5)
    bad = hostile_payloads(rng)
    c = mqtt.Client(client_id="hostile", clean_session=True)
    c.connect("127.0.0.1", port, keepalive=3600)
    c.loop_start()
    i, last = 0, None
    while not stop.is_set():
        if i % 4 == 0:
            topic = f"{rng.getrandbits(48):012x}/PUB/CH0"
            last = c.publish(topic, bad[(i // 4) % len(bad)], qos=0)
            counts["bad"] += 1
        else:
            serial = f"f100d{rng.randrange(10 * MAX_METERS):07x}"
            body = {"CIH": 1000 + i, "CIL": 5, "CEH": 1, "CEL": 1, "PI": 100, "PE": 0}
            last = c.publish(f"{serial}/PUB/CH0", json.dumps(body), qos=0)
            counts["valid"] += 1
        i += 1
        if i % 50 == 0:
            lib.sleep(0.01)
    if last is not None:
        last.wait_for_publish(timeout=30 * SPEED)   # everything handed to the broker
    c.loop_stop()
    c.disconnect()


def main():
    base = sc.workdir("hostile")
    port = free_port()
    db, broker = sc.start_stack(base, port, max_meters=MAX_METERS)
    pid = broker.proc.pid
    sim = subprocess.Popen(sc.sim_command(port, base, meters=3, interval=60, jitter=5, duration=3 * 3600, seed=17),
                           stdout=subprocess.PIPE, text=True)
    lib.sleep(900 / SPEED)
    before = rss_kib(pid)
    stop, counts = threading.Event(), {"bad": 0, "valid": 0}
    t = threading.Thread(target=flood, args=(port, stop, counts))
    t.start()
    peak = before
    for _ in range(FLOOD_REAL_S * 4):
        lib.sleep(0.25)
        peak = max(peak, rss_kib(pid))
    stop.set()
    t.join()
    lib.sleep(5)
    after = rss_kib(pid)
    note(f"flood: {counts['bad']} hostile and {counts['valid']} valid messages in {FLOOD_REAL_S} s real; "
         f"broker RSS {before} KiB before, peak {peak} KiB, {after} KiB after")
    out, _ = sim.communicate(timeout=900 * SPEED)
    check("broker up through the flood", broker.alive() and sim.returncode == 0, out.strip().replace("\n", " ")[-120:])
    sc.await_rows(db, base)
    broker.stop()
    counters = broker.counters()
    check("memory bounded: resident set grew less than 64 MiB", after - before < 64 * 1024,
          f"+{after - before} KiB (peak +{peak - before} KiB)")
    check("the meter table stayed at its cap", counters.get("meters") == MAX_METERS,
          f"meters {counters.get('meters')}, meters_refused {counters.get('meters_refused')}")
    rejected = counters.get("payloads_rejected", -1)
    check("hostile payloads rejected and counted", rejected >= counts["bad"] * 0.9, f"rejected {rejected} of {counts['bad']}")
    truth = sc.measurable(sc.load_truth(base), sc.load_published(base))
    sc.compare_meters(sc.db_rows(db), truth, check, published=sc.load_published(base))
    db.stop()


run_main(main)
