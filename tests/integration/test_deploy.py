"""Done-when 6: the shipped conf.d drop-in works with
 (a) Debian's default mosquitto.conf, and
 (b) the reference installation's mosquitto.conf (per_listener_settings true,
     include_dir before `listener 1883`, allow_anonymous false,
     password_file), with the README's recipe: (b1) per_listener_settings
     false. (b2) keeping per_listener_settings true with the listener block
     moved into the drop-in records while messages arrive, but the broker
     never ticks the plugin: the README no longer offers it, and the plugin
     warns at start-up, naming mosquitto.conf.
Paths and ports are adapted to a private directory; everything else is the
user's files as they are. Also: a bad option makes the broker refuse to
start with one log line naming the option."""
import os
import re
import shutil

import lib
from lib import Broker, check, free_port, make_password_file, note, run_main
import scenario as sc

lib.use_fake_clock("2026-05-12 09:50:00", 600)

ROOT = sc.ROOT
REFERENCE_CONF = """per_listener_settings true
pid_file /run/mosquitto/mosquitto.pid
persistence true
persistence_location /var/lib/mosquitto/
log_dest file /var/log/mosquitto/mosquitto.log
include_dir /etc/mosquitto/conf.d
listener 1883
allow_anonymous false
password_file /etc/mosquitto/passwd
"""


def adapt_paths(conf, base, port):
    """Moves every path of a system mosquitto.conf into base, the listener
    to a loopback test port, and the log to stderr."""
    conf = conf.replace("/run/mosquitto/mosquitto.pid", f"{base}/mosquitto.pid")
    conf = conf.replace("/var/lib/mosquitto/", f"{base}/persist/")
    conf = re.sub(r"^log_dest file .*$", "log_dest stderr\nlog_type all", conf, flags=re.M)
    conf = conf.replace("/etc/mosquitto/conf.d", f"{base}/conf.d")
    conf = conf.replace("/etc/mosquitto/passwd", f"{base}/passwd")
    conf = re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", conf, flags=re.M)
    return conf


def drop_in(db, base):
    """The shipped conf.d/lowi-p1.conf with its values filled in, as an
    operator does: plugin path, database account and password file."""
    text = open(os.path.join(ROOT, "conf.d", "lowi-p1.conf")).read()
    text = re.sub(r"^plugin \S+$", f"plugin {sc.PLUGIN}", text, flags=re.M)
    text = text.replace("/etc/mosquitto/lowi-p1.dbpass", f"{base}/lowi-p1.dbpass")
    text = re.sub(r"^plugin_opt_db_user \S+$", f"plugin_opt_db_user {sc.DB_USER}", text, flags=re.M)
    text += (f"plugin_opt_db_host 127.0.0.1\nplugin_opt_db_port {db.port}\n"
             f"plugin_opt_db_timeout {int(30 * lib.clock_factor())}\n"
             "plugin_opt_price_source none\n"
             f"plugin_opt_spool_dir {sc.spool_dir()}\n")
    with open(f"{base}/lowi-p1.dbpass", "w") as f:
        f.write(sc.DB_PASSWORD + "\n")
    os.chmod(f"{base}/lowi-p1.dbpass", 0o600)
    shutil.chown(f"{base}/lowi-p1.dbpass", "mosquitto")
    return text


def prepare(base, name):
    d = os.path.join(base, name)
    for sub in ("conf.d", "persist"):
        os.makedirs(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "persist"), "mosquitto")
    os.chmod(d, 0o755)
    shutil.chown(d, "mosquitto")
    return d


def record_rows(name, conf, d, db, db_name, port, **auth):
    broker = Broker().start(conf, d, port=port)
    sc.run_sim(port, d, meters=1, interval=60, jitter=5, duration=3600 + 600, seed=21, **auth)
    sc.await_rows(db, d, db_name=db_name)
    rows = sc.db_rows(db, db_name)
    truth = sc.measurable(sc.load_truth(d), sc.load_published(d))
    broker.stop()
    check(f"{name}: broker starts with the drop-in and records rows", len(truth) >= 3 and all(k in rows for k in truth),
          f"{len(rows)} rows for {len(truth)} quarters")
    return broker


def main():
    base = sc.workdir("deploy")
    db = lib.MariaDB().start(os.path.join(base, "db"))

    # (a) Debian's default mosquitto.conf + a listener file, as a user adds one.
    d = prepare(base, "debian")
    db.create_database("P1a", sc.DB_USER, sc.DB_PASSWORD)
    port = free_port()
    conf = adapt_paths(open("/etc/mosquitto/mosquitto.conf").read(), d, port)
    with open(f"{d}/conf.d/listener.conf", "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    with open(f"{d}/conf.d/lowi-p1.conf", "w") as f:
        f.write(drop_in(db, d) + "plugin_opt_db_name P1a\n")
    record_rows("(a) Debian default mosquitto.conf", conf, d, db, "P1a", port)

    # (b1) the reference conf with per_listener_settings false.
    d = prepare(base, "reference-b1")
    db.create_database("P1b", sc.DB_USER, sc.DB_PASSWORD)
    port = free_port()
    conf = adapt_paths(REFERENCE_CONF, d, port).replace("per_listener_settings true", "per_listener_settings false")
    make_password_file(f"{d}/passwd", {"lowi": "dongle-pass"})
    with open(f"{d}/conf.d/lowi-p1.conf", "w") as f:
        f.write(drop_in(db, d) + "plugin_opt_db_name P1b\n")
    b = record_rows("(b1) reference conf, per_listener_settings false", conf, d, db, "P1b", port,
                    username="lowi", password="dongle-pass")
    check("(b1) no start-up warning", not b.log_lines(r"lowi-p1: .*(per_listener_settings|password)"),
          "; ".join(b.log_lines(r"lowi-p1: .*(per_listener_settings|password)")))
    check("(b1) anonymous clients are still refused", _anonymous_refused(conf, d, port), "")

    # (b2) the reference conf, per_listener_settings kept true, its listener
    # block moved into the drop-in above the plugin line: warned.
    d = prepare(base, "reference-b2")
    db.create_database("P1c", sc.DB_USER, sc.DB_PASSWORD)
    port = free_port()
    ref = adapt_paths(REFERENCE_CONF, d, port)
    block = "\n".join(ref.splitlines()[-3:]) + "\n"
    conf = "\n".join(ref.splitlines()[:-3]) + "\n"
    make_password_file(f"{d}/passwd", {"lowi": "dongle-pass"})
    with open(f"{d}/conf.d/lowi-p1.conf", "w") as f:
        f.write(block + drop_in(db, d) + "plugin_opt_db_name P1c\n")
    b = record_rows("(b2) reference conf, listener block in the drop-in", conf, d, db, "P1c", port,
                    username="lowi", password="dongle-pass")
    warned = b.log_lines(r"lowi-p1: per_listener_settings true in .*/mosquitto.conf: .*set per_listener_settings false")
    check("(b2) per_listener_settings true: warned at start-up, naming mosquitto.conf", warned,
          warned[0][warned[0].find("lowi"):] if warned else "")
    check("(b2) anonymous clients are still refused", _anonymous_refused(conf, d, port), "")

    # Bad options: the broker refuses to start and says which option.
    for opts, key in (({"db_user": "x", "colour": "red"}, "colour"),
                      ({"db_user": "x", "db_port": "70000"}, "db_port"),
                      ({"db_password": "x"}, "db_user"),
                      ({"db_user": "x", "topic": "a/#/b"}, "topic"),
                      ({"db_user": "x", "db_password_file": "/nonexistent/pw"}, "db_password_file")):
        d = os.path.join(base, f"bad-{key}")
        port = free_port()
        b = Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts), d, port=port, wait=False)
        rc = b.wait_exit(10)
        lines = b.log_lines(r"lowi-p1: .*" + key)
        check(f"bad option {key}: broker refuses to start, naming it", rc not in (None, 0) and len(lines) == 1,
              f"exit {rc}; {lines[0] if lines else b.log_text()[-300:]}")
        if rc is None:
            b.stop()
    db.stop()


def _anonymous_refused(conf, d, port):
    broker = Broker().start(conf, d, port=port)
    c = lib.MqttClient(port)
    try:
        c.connect(check=False)
        return c.connack not in (0, None)
    finally:
        c.close()
        broker.stop()
        note(f"anonymous CONNACK {c.connack}")


run_main(main)
