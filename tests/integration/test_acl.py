"""The README's Security recipe on a real broker with the plugin: each ACL
file printed under "Who may publish a meter's readings" (per-user topics,
then %u patterns), with a password file holding its users.

 - dongle A publishes readings on its own serial's topic across two
   quarter boundaries: the reader receives them, the plugin counts them
   (`messages`) and writes A's Conso row;
 - A publishes the same readings on dongle B's topic: mosquitto refuses
   them before any plugin sees them, so the reader receives none, the
   plugin counts none and B has no row;
 - the reader receives the plugin's retained counters;
 - with the plugin's reload callback registered, a reload (SIGHUP) still
   reads the password file again: a user added to it then connects."""
import json
import os
import re
import signal
import subprocess
import time

import lib
from lib import check, free_port, note, run_main, wait_for
import scenario as sc

SPEED = 120
lib.use_fake_clock("2026-03-10 09:50:00", SPEED)
READING_EVERY_S = 30           # simulated


def readme_acl_files():
    """The ACL files of the README's Security section, in order: its code
    blocks that grant a write."""
    text = open(os.path.join(sc.ROOT, "README.md")).read()
    section = text[text.index("### Who may publish a meter's readings"):text.index("### Secrets")]
    blocks, block = [], None
    for line in section.splitlines(keepends=True):
        if line.startswith("```"):
            if block is not None:
                blocks.append("".join(block))
            block = [] if block is None else None
        elif block is not None:
            block.append(line)
    return [b for b in blocks if re.search(r"^(topic|pattern) write", b, re.M)]


def dongles(acl):
    """[(user, serial)] of the dongles an ACL file names: a `user` block's
    `topic write <serial>/PUB/#`, or, with %u patterns, users named by
    their serial (those of the per-user file)."""
    pairs = re.findall(r"^user (\S+)\ntopic write ([0-9a-f]{12})/PUB/#$", acl, re.M)
    if pairs:
        return pairs
    return [(serial, serial) for _, serial in dongles(readme_acl_files()[0])] if "%u" in acl else []


def reading(serial, i):
    return json.dumps({"ident": serial, "device_CH": "0", "PI": "1200", "PE": "0", "T": "1",
                       "CIH": str(130838 + 10 * i), "CIL": "137096", "CEH": "10976", "CEL": "3381"})


def connack(port, user, password):
    """The CONNACK code a user gets (0: accepted)."""
    c = lib.MqttClient(port, user, username=user, password=password).connect(check=False)
    c.close()
    return c.connack


def run(name, acl, base, db, db_name):
    (user_a, serial_a), (_, serial_b) = dongles(acl)[:2]
    users = {u: f"{u}-pw" for u, _ in dongles(acl)}
    users["reader"] = "reader-pw"
    d = os.path.join(base, name)
    os.makedirs(d)
    lib.make_password_file(f"{d}/passwd", users)
    with open(f"{d}/acl", "w") as f:
        f.write(acl)
    os.chmod(f"{d}/acl", 0o644)
    db.create_database(db_name, sc.DB_USER, sc.DB_PASSWORD)
    port = free_port()
    conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(db, db_name),
                           password_file=f"{d}/passwd", extra=f"acl_file {d}/acl")
    broker = lib.Broker().start(conf, f"{d}/broker", port=port)

    # Keepalives are simulated seconds: long ones, so that a client that a
    # busy machine delays is not dropped (and its messages with it).
    reader = lib.MqttClient(port, "reader", username="reader", password=users["reader"], keepalive=3600).connect()
    reader.subscribe("+/PUB/CH0")
    reader.subscribe("lowi-p1/#")
    reader.subscribe("homeassistant/#")
    dongle = lib.MqttClient(port, "dongle-a", username=user_a, password=users[user_a], keepalive=3600).connect()
    # Until the first reading past the end of the next whole quarter, which
    # completes that quarter's row (the broker shares this clock).
    end = (int(time.time()) // 900 + 2) * 900
    readings = 0
    while True:
        past_end = time.time() >= end
        dongle.publish(f"{serial_a}/PUB/CH0", reading(serial_a, readings))
        dongle.publish(f"{serial_b}/PUB/CH0", reading(serial_b, readings))   # acknowledged, and dropped
        readings += 1
        if past_end:
            break
        lib.sleep(READING_EVERY_S / SPEED)
    dongle.close()

    def rows():
        return {s: n for s, n in db.query("SELECT Serial, COUNT(*) FROM Conso GROUP BY Serial", db=db_name)}
    try:
        wait_for(lambda: rows().get(serial_a), 30, f"a Conso row of {serial_a}")
    except lib.WaitTimeout as e:
        note(str(e))
    got = {}
    while not reader.messages.empty():
        topic, _, _ = reader.messages.get()
        got[topic] = got.get(topic, 0) + 1
    reader.close()

    # The users and ACLs again after a reload: a user added meanwhile gets in.
    subprocess.run(["mosquitto_passwd", "-b", f"{d}/passwd", "late", "late-pw"], check=True)
    before = connack(port, "late", "late-pw")
    broker.proc.send_signal(signal.SIGHUP)
    broker.wait_log(r"Reloading config", 10)
    try:
        after = wait_for(lambda: connack(port, "late", "late-pw") == 0, 10, "the late user to connect")
    except lib.WaitTimeout:
        after = False
    broker.stop()

    counters = broker.counters()
    found = rows()
    note(f"{name}: reader received {got}; rows {found}; messages counted {counters.get('messages')}")
    check(f"{name}: A on A's topic is delivered, counted and recorded",
          got.get(f"{serial_a}/PUB/CH0") == readings and counters.get("messages") == readings and found.get(serial_a, 0) >= 1,
          f"{got.get(f'{serial_a}/PUB/CH0')} delivered, {counters.get('messages')} counted of {readings};"
          f" {found.get(serial_a, 0)} rows")
    check(f"{name}: A on B's topic is neither delivered nor recorded",
          f"{serial_b}/PUB/CH0" not in got and serial_b not in found and counters.get("meters") == 1,
          f"{got.get(f'{serial_b}/PUB/CH0', 0)} delivered, {found.get(serial_b, 0)} rows, {counters.get('meters')} meters")
    check(f"{name}: the reader receives the plugin's counters", got.get("lowi-p1/stats", 0) >= 1,
          f"{got.get('lowi-p1/stats', 0)} stats messages")
    live = f"lowi-p1/{serial_a.lower()}/live"
    configs = sum(n for t, n in got.items() if t.startswith("homeassistant/"))
    check(f"{name}: the reader receives A's live states and its Home Assistant discovery, none of B's",
          got.get(live, 0) >= readings - 2 and configs >= 14
          and not any(serial_b.lower() in t for t in got if t.startswith(("lowi-p1/", "homeassistant/"))),
          f"{got.get(live, 0)} states of {readings} readings, {configs} configs")
    check(f"{name}: after a reload (SIGHUP) a user added to the password file connects", before != 0 and after,
          f"CONNACK before the reload {before}, after {0 if after else 'refused'}")


def main():
    base = sc.workdir("acl")
    acls = readme_acl_files()
    check("the README prints two ACL files, each naming two dongles",
          len(acls) == 2 and all(len(dongles(a)) >= 2 for a in acls), f"{len(acls)} files")
    db = lib.MariaDB().start(os.path.join(base, "db"))
    for i, acl in enumerate(acls):
        run(["per-user", "pattern"][i] if i < 2 else f"acl{i}", acl, base, db, f"P1acl{i}")
    db.stop()


run_main(main)
