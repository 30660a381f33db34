#!/usr/bin/python3
"""Self-check of tests/integration/lib.py: a private MariaDB and a bare
mosquitto (no plugin), one MQTT round trip, one query, clean stops.

    /usr/bin/python3 tests/integration/test_lib_selfcheck.py
    FAKETIME_DONT_RESET=1 faketime -f '@2026-03-29 00:50:00 x60' \\
        /usr/bin/python3 tests/integration/test_lib_selfcheck.py

Under faketime it also checks that MariaDB runs on the real clock and the
broker on the test's clock. Keeps its work directory only on failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import check, note  # noqa: E402


def main():
    work = tempfile.mkdtemp(prefix="lowi-selfcheck-")
    note(f"workdir {work}, clock factor {lib.clock_factor():g}")
    t_all = lib.real_time()

    # --- MariaDB
    db = lib.MariaDB().start(os.path.join(work, "db"))
    check("mariadb starts", db.alive(),
          f"port {db.port}, install {db.timings.get('install', 0):.2f} s, "
          f"start {db.timings['start']:.2f} s")
    db.create_database("lowi", "lowi", "pw-lowi")
    conn = db.connect("lowi", user="lowi", password="pw-lowi")
    with conn.cursor() as c:
        c.execute("CREATE TABLE t (id INT PRIMARY KEY, v DECIMAL(12,3))")
        c.execute("INSERT INTO t VALUES (1, 45123.456)")
        c.execute("SELECT v FROM t WHERE id = 1")
        v = c.fetchone()[0]
    conn.close()
    check("query as created user", str(v) == "45123.456", f"v = {v}")
    rows = db.query("SELECT COUNT(*) FROM lowi.t")
    check("query as root", rows == ((1,),), f"rows = {rows}")

    # freeze: a query with a 1 s read timeout must time out, then work after thaw
    conn = db.connect("lowi")
    db.freeze()
    t0 = lib.real_time()
    try:
        conn2 = db.connect("lowi", connect_timeout=1, read_timeout=1)
        with conn2.cursor() as c:
            c.execute("SELECT 1")
        frozen_failed = False
    except Exception as e:  # noqa: BLE001
        frozen_failed = True
        note(f"while frozen: {type(e).__name__}: {e}")
    check("frozen server does not answer", frozen_failed, f"after {lib.real_time() - t0:.2f} s")
    db.thaw()
    with conn.cursor() as c:
        c.execute("SELECT 2")
        check("thawed server answers on an old connection", c.fetchone() == (2,), "")
    conn.close()

    if lib.under_faketime():
        real_now = int(subprocess.run(["date", "+%s"], capture_output=True, text=True,
                                      env=lib.real_clock_env()).stdout)
        db_now = db.query("SELECT UNIX_TIMESTAMP()")[0][0]
        check("mariadb runs on the real clock", abs(int(db_now) - real_now) <= 5,
              f"db {db_now}, real {real_now}, test process {int(time.time())}")

    # --- broker with a password file
    port = lib.free_port()
    bdir = os.path.join(work, "broker")
    os.makedirs(bdir)
    pwfile = lib.make_password_file(os.path.join(bdir, "passwd"), {"lowi": "pw-mqtt"})
    broker = lib.Broker().start(lib.broker_conf(port, password_file=pwfile), bdir)
    check("broker starts", broker.alive(), f"port {port} open after {broker.start_seconds:.2f} s")

    sub = lib.MqttClient(port, "selfcheck-sub", "lowi", "pw-mqtt").connect()
    sub.subscribe("+/PUB/#")
    pub = lib.MqttClient(port, "selfcheck-pub", "lowi", "pw-mqtt").connect()
    payload = b'{"ident":"4c75252e8c51","device_CH":"0","CIH":"130838"}'
    pub.publish("4c75252e8c51/PUB/CH0", payload, qos=1)
    topic, got = sub.wait_message(5)
    check("message round trip", (topic, got) == ("4c75252e8c51/PUB/CH0", payload), f"{topic} {got[:30]!r}...")
    pub.close()
    sub.close()

    anon = lib.MqttClient(port, "selfcheck-anon").connect(check=False)
    check("anonymous client refused", anon.connack == 5, f"CONNACK rc {anon.connack}")

    if lib.under_faketime():
        stamps = [int(m) for m in re.findall(r"^(\d+): New client connected", broker.log_text(), re.M)]
        now = time.time()
        check("broker runs on the test's clock", stamps and abs(stamps[-1] - now) < 120,
              f"last broker log stamp {stamps[-1] if stamps else None}, test clock {int(now)}")

    r = broker.stop()
    check("broker stops on SIGTERM", r.was_running and not r.killed and r.returncode == 0, repr(r))
    check("broker log has its lines", "mosquitto version 2.0.11 running" in broker.log_text()
          and "terminating" in broker.log_text(), broker.log_path)

    # a broker that must refuse to start: exits, reported with wait_exit()
    bad = lib.Broker().start(lib.broker_conf(port, extra="no_such_option 1"),
                             os.path.join(work, "bad"), wait=False)
    rc = bad.wait_exit(5)
    check("bad config: broker exits", rc not in (None, 0), f"exit code {rc}")

    r = db.stop()
    check("mariadb stops on SIGTERM", r.was_running and not r.killed and r.returncode == 0, repr(r))
    # restart on the same datadir keeps data
    db.start(os.path.join(work, "db"))
    rows = db.query("SELECT v FROM lowi.t")
    check("mariadb restart keeps data", len(rows) == 1, f"restart {db.timings['start']:.2f} s")
    r = db.stop()
    note(f"mariadb stop {r.seconds:.2f} s; total {lib.real_time() - t_all:.2f} s real")

    if lib.counts()[1] == 0:
        shutil.rmtree(work)
    else:
        note(f"kept {work}")


if __name__ == "__main__":
    lib.run_main(main)
