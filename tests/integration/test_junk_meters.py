"""Junk serials must not lock real meters out after a restart (issue 11,
finding 4), and the spool directory's own defences (finding 11).

1. A flood of valid readings from invented serials fills max_meters: each
   makes rows, so each is journaled. More serials beyond the cap, and
   topics with bad serials, are refused: counted in the status line and in
   the retained stats JSON, and logged (the serial and the count).
2. The broker restarts on the same spool (a clean stop: meters.live holds
   every junk meter too). The journaled junk is resumed, but holds no
   max_meters slot until it publishes again: a new real meter (the
   simulator) publishes for an hour and its rows are recorded.
3. A third start with the spool directory readable by everyone and a
   symbolic link planted as meters.live: a warning for the mode, the link
   refused with a log line and spool_errors; the spool's files are 0600."""
import json
import os

import lib
from lib import check, free_port, note, run_main
import scenario as sc

SPEED = 300
lib.use_fake_clock("2026-03-10 09:58:00", SPEED)
MAX_METERS = 40
EXTRA = 8          # serials beyond the cap
BAD_TOPICS = ["bad.serial/PUB/CH0", "x" * 40 + "/PUB/CH0", "a b/PUB/CH0"]


def reading(i, k):
    """The k-th reading of junk meter i: counters advancing a little."""
    return json.dumps({"CIH": 100000 + 1000 * i + 50 * k, "CIL": 5000 + i, "CEH": 10, "CEL": 10, "PI": 200, "PE": 0})


def start(base, name, opts, port):
    b = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts), f"{base}/{name}", port=port)
    b.wait_log(r"lowi-p1: recording topic", 10)
    return b


def main():
    base = sc.workdir("junk-meters")
    port = free_port()
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    opts = sc.plugin_options(db, max_meters=MAX_METERS)
    spool = opts["spool_dir"]

    # 1. The flood: three readings per junk serial, 16 minutes apart, so
    #    each crosses two quarter boundaries and makes a row.
    b = start(base, "flood", opts, port)
    c = lib.MqttClient(port, "junk").connect()
    junk = [f"junk{i:04d}" for i in range(MAX_METERS + EXTRA)]
    for k in range(3):
        for i, serial in enumerate(junk):
            c.publish(f"{serial}/PUB/CH0", reading(i, k), qos=1)
        for topic in BAD_TOPICS:
            c.publish(topic, reading(0, k), qos=1)
        if k < 2:
            lib.sleep(16 * 60 / lib.clock_factor())   # 16 minutes on the test's clock
    lib.wait_for(lambda: db.query("SELECT COUNT(DISTINCT Serial) FROM Conso", db="P1")[0][0] >= MAX_METERS, 60,
                 "rows of the junk meters")
    stats = {}

    def refusals_published():
        sub = lib.MqttClient(port, "stats-reader").connect()
        try:
            sub.subscribe("lowi-p1/stats")
            _, payload = sub.wait_message(2 * 60 / lib.clock_factor() + 5, topic="lowi-p1/stats")
        finally:
            sub.close()
        stats.update(json.loads(payload))
        return stats.get("meters_refused", 0) >= 3 * EXTRA and stats.get("bad_serials", 0) >= 3 * len(BAD_TOPICS)
    try:
        lib.wait_for(refusals_published, 30, "the refusals in the retained stats JSON")
    except lib.WaitTimeout as e:
        note(str(e))
    c.close()
    b.stop()
    counters = b.counters()
    junk_rows = db.query("SELECT COUNT(DISTINCT Serial) FROM Conso", db="P1")[0][0]
    note(f"flood: {junk_rows} junk meters with rows; stats JSON meters {stats.get('meters')}, meters_refused "
         f"{stats.get('meters_refused')}, bad_serials {stats.get('bad_serials')}")
    check("junk fills max_meters and every junk meter in it made a row", junk_rows == MAX_METERS
          and counters.get("meters") == MAX_METERS, f"{junk_rows} serials in Conso, meters {counters.get('meters')}")
    check("refusals counted in the stats JSON", stats.get("meters_refused") == 3 * EXTRA
          and stats.get("bad_serials") == 3 * len(BAD_TOPICS),
          f"meters_refused {stats.get('meters_refused')} (want {3 * EXTRA}), bad_serials {stats.get('bad_serials')}"
          f" (want {3 * len(BAD_TOPICS)})")
    check("and in the status line at the stop", counters.get("meters_refused") == 3 * EXTRA
          and counters.get("bad_serials") == 3 * len(BAD_TOPICS),
          f"meters_refused {counters.get('meters_refused')}, bad_serials {counters.get('bad_serials')}")
    refused = b.log_lines(r"lowi-p1: meter junk\d+ ignored: \d+ meters have published since the start already"
                          r".* readings of new meters refused so far")
    bad = b.log_lines(r"lowi-p1: topic '.*' ignored: its meter serial level .* such messages so far")
    def spaced(lines):
        stamps = [int(line.split(":")[0]) for line in lines]
        return all(b - a >= 60 for a, b in zip(stamps, stamps[1:]))
    check("refusals logged with the serial and the count, at most one line a minute", refused and bad
          and spaced(refused) and spaced(bad), f"{len(refused)} and {len(bad)} lines; "
          + (refused or ["no refusal line"])[0].split("lowi-p1: ")[-1][:160])

    # 2. Restart on the same spool: the junk comes back resumed, and a new
    #    real meter is recorded.
    b = start(base, "restart", opts, port)
    resumed = b.log_lines(r"lowi-p1: spool .*: \d+ meters resume")
    note(resumed[0].split("lowi-p1: ")[-1] if resumed else "no spool line")
    sc.run_sim(port, base, meters=1, interval=60, jitter=5, duration=3600, seed=29)
    sc.await_rows(db, base)
    b.stop()
    counters = b.counters()
    truth = sc.measurable(sc.load_truth(base), sc.load_published(base))
    real = sorted({s for s, _ in truth})
    rows = sc.db_rows(db)
    got = [k for k in truth if k in rows]
    check("after the restart a new real meter is recorded", real and len(got) == len(truth)
          and counters.get("meters_refused") == 0,
          f"meter {real}: {len(got)} of {len(truth)} quarters in Conso; meters {counters.get('meters')},"
          f" meters_refused {counters.get('meters_refused')}")
    live = os.path.join(spool, "meters.live")
    modes = {name: oct(os.stat(os.path.join(spool, name)).st_mode & 0o777)
             for name in ("meters.journal", "meters.live") if os.path.exists(os.path.join(spool, name))}
    check("the spool's files are 0600", len(modes) == 2 and set(modes.values()) == {"0o600"}, str(modes))

    # 3. A spool directory others can read, a symbolic link as meters.live.
    target = os.path.join(base, "elsewhere")
    with open(target, "w") as f:
        f.write("not the plugin's\n")
    os.unlink(live)
    os.symlink(target, live)
    os.chmod(spool, 0o755)
    b = start(base, "planted", opts, port)
    b.stop()
    warning = b.log_lines(r"lowi-p1: spool directory .* has mode 755: every user can read it")
    link = b.log_lines(r"lowi-p1: cannot read .*meters.live: it is a symbolic link, refused")
    check("a readable spool directory is warned about", warning, (warning or ["no warning"])[0].split("lowi-p1: ")[-1])
    check("a planted symbolic link is refused, logged and counted", link and b.counters().get("spool_errors") == 1,
          f"{(link or ['no line'])[0].split('lowi-p1: ')[-1]}; spool_errors {b.counters().get('spool_errors')}")
    with open(target) as f:
        check("the link's target untouched", f.read() == "not the plugin's\n")
    db.stop()


run_main(main)
