"""An idle broker still tells its database errors.

Worker threads hand their log lines to the broker thread, which writes them
from the plugin's callbacks. mosquitto 2.0.11 ticks a plugin (MOSQ_EVT_TICK)
only with per_listener_settings false (src/plugin.c, plugin__handle_tick:
"FIXME - iterate over all listeners"); with true, every callback it delivers
comes from a client of the plugin's listener, or from a reload. Both
configurations, no LOWI traffic, MariaDB unreachable:

 (1) per_listener_settings false (the README's recipe): the writer's
     connection error is in the log within seconds, and the retained stats
     JSON carries every counter of the status lines;
 (2) per_listener_settings true, the listener above the plugin line: the
     plugin says at start-up that its lines will wait and how to fix it;
     nothing else reaches the log until a reload (SIGHUP), which brings the
     waiting lines at once;
 (3) the same with a mosquitto.conf only root may read (the plugin runs as
     the mosquitto user and cannot check it): it says so at start-up, and
     a message 10 s after its first callback, with no tick between, brings
     the warning.
Also, from (1): plugin_opt_db_password in a configuration file every user
may read is warned about, naming the file.

Real clock: every figure is real seconds."""
import json
import os
import signal

import lib
from lib import Broker, check, free_port, note, real_time, run_main, WaitTimeout
import scenario as sc

DB_ERROR = r"lowi-p1: database connection failed"
BOUND_S = 10


def options():
    """The plugin's options towards a MariaDB that is not there."""
    return {"db_host": "127.0.0.1", "db_port": str(free_port()), "db_user": sc.DB_USER,
            "db_password": sc.DB_PASSWORD, "db_timeout": "5", "price_source": "none",
            "spool_dir": sc.spool_dir(), "stats_interval": "1"}


def seconds_until(broker, pattern, timeout, since):
    """Real seconds from `since` (a real_time()) until a log line matches,
    waiting up to timeout from now; None if none does."""
    try:
        broker.wait_log(pattern, timeout)
    except WaitTimeout:
        return None
    return real_time() - since


def figure(seconds, waited):
    return f"never ({waited} s)" if seconds is None else f"{seconds:.2f} s"


def line(broker, pattern):
    """The first log line matching pattern, from the plugin's prefix on; "" if none."""
    found = broker.log_lines(pattern)
    return found[0][found[0].find("lowi-p1:"):] if found else ""


def main():
    base = sc.workdir("idle-log")

    # (1) per_listener_settings false: ticks drain the log queue.
    port = free_port()
    t0 = real_time()
    b = Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=options()), f"{base}/global", port=port)
    s = seconds_until(b, DB_ERROR, BOUND_S, t0)
    note(f"(1) per_listener_settings false, no traffic: database error in the log after {figure(s, BOUND_S)}")
    check(f"(1) per_listener_settings false, no traffic: the database error is logged within {BOUND_S} s",
          s is not None, figure(s, BOUND_S))
    check("(1) no per_listener_settings warning", not b.log_lines(r"lowi-p1: .*per_listener_settings"), "")
    exposed = line(b, r"lowi-p1: plugin_opt_db_password is in .*mosquitto.conf, which every user may read \(mode 644\)")
    check("(1) plugin_opt_db_password in a file every user may read: warned, naming the file", exposed, exposed)
    c = lib.MqttClient(port).connect()
    c.subscribe("lowi-p1/stats")
    _, payload = c.wait_message(BOUND_S, topic="lowi-p1/stats")
    c.close()
    b.stop()
    stats = set(json.loads(payload)) - {"state", "time"}
    lines = set(b.counters("stopping"))
    warnings = b.counters("stopping").get("config_warnings")
    check("(1) config_warnings counts the one warning", warnings == 1, f"config_warnings {warnings}")
    check("(1) the stats JSON and the status lines name the same counters", stats == lines and len(stats) > 20,
          f"{len(stats)} in the JSON, {len(lines)} in the lines; only in the JSON: {sorted(stats - lines)},"
          f" only in the lines: {sorted(lines - stats)}")

    # (2) per_listener_settings true: no tick, ever.
    port = free_port()
    t0 = real_time()
    b = Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=options(), per_listener_settings=True),
                       f"{base}/per-listener", port=port)
    warning = line(b, r"lowi-p1: per_listener_settings true in .*mosquitto.conf")
    check("(2) per_listener_settings true: a warning at start-up names it and the fix",
          "per_listener_settings false" in warning, warning or b.log_text()[-500:])
    idle = seconds_until(b, DB_ERROR, 5, t0)
    note(f"(2) per_listener_settings true, no traffic: database error in the log after {figure(idle, 5)}")
    t0 = real_time()
    b.proc.send_signal(signal.SIGHUP)
    s = seconds_until(b, DB_ERROR, BOUND_S, t0)
    note(f"(2) after a reload (SIGHUP): database error in the log after {figure(s, BOUND_S)}")
    check(f"(2) a reload (SIGHUP) brings the waiting database error within {BOUND_S} s", s is not None,
          figure(s, BOUND_S))
    r = b.stop()
    # Not its exit code: under LeakSanitizer, mosquitto's own reload leaks abort it.
    check("(2) the broker runs on after the reload and stops when asked", r.was_running and not r.killed, repr(r))

    # (3) per_listener_settings true in a mosquitto.conf the plugin cannot
    # read: the broker reads it as root, the plugin runs as mosquitto.
    port = free_port()
    d = f"{base}/unreadable"
    os.makedirs(d)
    with open(f"{d}/mosquitto.conf", "w"):
        pass
    os.chmod(f"{d}/mosquitto.conf", 0o600)   # Broker.start rewrites it, keeping the mode
    b = Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=options(), per_listener_settings=True),
                       d, port=port)
    unchecked = line(b, r"lowi-p1: the broker's configuration .* cannot be read \(Permission denied\)")
    check("(3) a configuration the plugin cannot read: said at start-up, with the password advice",
          "plugin_opt_db_password_file" in unchecked, unchecked or b.log_text()[-500:])
    c = lib.MqttClient(port).connect()
    c.publish("some/other/topic", "x")      # the plugin's first callback
    first = real_time()
    lib.sleep(10.5)
    c.publish("some/other/topic", "x")
    c.close()
    late = seconds_until(b, r"lowi-p1: the broker has not ticked this plugin", BOUND_S, first)
    check("(3) a message 10 s after the first, no tick between: the per_listener_settings warning",
          late is not None and b.log_lines(DB_ERROR), line(b, r"not ticked") or b.log_text()[-500:])
    b.stop()


run_main(main)
