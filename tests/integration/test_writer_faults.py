"""The database writer under faults of its spool and of its database, on the
real clock:

 1. spool files it cannot read, list or set aside (a FIFO, a directory, a
    file the broker's user may not read, a damaged file whose `.bad` name is
    taken, a read-only spool directory, no file descriptor left): each is set
    aside or skipped with one log line and `spool_errors`, the good files and
    new rows still reach MariaDB, no thread of the broker spins (CPU time of
    every thread over a window, from /proc/<pid>/task/*/stat) and the broker
    stops within 2 s;
 2. a server that accepts the connection and the schema but refuses every
    write (a trigger raising error 1114, "table is full"): the writer
    reconnects on the README's back-off (1 s doubling), whichever statement
    failed, instead of at once;
 3. a stop while the connection hangs in the handshake (a loopback listener
    that accepts and never answers): the broker stops within 2 s.

New rows come from a meter resumed from the spool's meter journal: its
last durable row is two quarters old, so its first reading books the
quarter in between at once (no wait for a quarter boundary)."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import lib
from lib import check, free_port, note, run_main
import scenario as sc

CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_LIMIT_S = 2.0
CPU_LIMIT = 0.10   # share of one core that the busiest broker thread may use while idle


def spool_line(serial, start_s, import_wh=0, in_d=0, estimated=False):
    """One line of a spool file (plugin/spool.c): Wh and litres."""
    return f"{serial} {start_s} {in_d} 0 0 0 {import_wh} 0 0 0 0 0 {4 if estimated else 0}\n"


def make_spool():
    return sc.spool_dir()


def put(path, text):
    with open(path, "w") as f:
        f.write(text)
    shutil.chown(path, "mosquitto", "mosquitto")


def seq_name(seq):
    return f"{seq:020d}.rows"


def good_file(spool, seq, serial, n=8, start=1767225600):
    """A spool file of n quarters of `serial` from 2026-01-01 00:00 UTC."""
    put(f"{spool}/{seq_name(seq)}", "".join(spool_line(serial, start + 900 * i, 100 + i, 1000 + 100 * i)
                                            for i in range(n)))
    return n


def journal_meter(spool, serial):
    """A meter whose last durable row ended one quarter ago: its next reading
    makes a row at once."""
    q0 = int(time.time()) // 900 * 900
    with open(f"{spool}/meters.journal", "a") as f:
        f.write(spool_line(serial, q0 - 1800, 0, 1000))
    shutil.chown(f"{spool}/meters.journal", "mosquitto", "mosquitto")
    return q0 - 900


def publish_reading(port, serial, client=None):
    c = client or lib.MqttClient(port, f"pub-{serial}").connect()
    c.publish(f"{serial}/PUB/CH0", '{"CIH":"1500","CIL":"0","CEH":"0","CEL":"0"}', qos=1)
    if client is None:
        c.close()


def thread_ticks(pid):
    """{tid: utime + stime (clock ticks)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return out


def busiest_thread(pid, seconds):
    """Share of one core used by the broker's busiest thread over `seconds`."""
    a = thread_ticks(pid)
    t0 = lib.real_time()
    lib.sleep(seconds)
    b = thread_ticks(pid)
    dt = lib.real_time() - t0
    return max(((b[t] - a.get(t, 0)) / CLK_TCK / dt for t in b), default=0.0)


def rows_of(db, serial, db_name="P1"):
    """Conso rows of a meter (0 while the writer has not made the table)."""
    import pymysql
    try:
        return db.query("SELECT COUNT(*) FROM Conso WHERE Serial = %s", (serial,), db=db_name)[0][0]
    except pymysql.err.ProgrammingError:
        return 0


def has_row(db, serial, start_s):
    import pymysql
    try:
        return bool(db.query("SELECT 1 FROM Conso WHERE Serial = %s AND TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm) = %s",
                             (serial, start_s), db="P1"))
    except pymysql.err.ProgrammingError:
        return False


def start_broker(base, name, db, spool, **opts):
    port = free_port()
    conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(db, spool_dir=spool, **opts))
    return lib.Broker().start(conf, f"{base}/{name}", port=port)


def stop_in_time(broker, label):
    r = broker.stop(timeout=15)
    check(f"{label}: the broker stops within {STOP_LIMIT_S:g} s", r.seconds < STOP_LIMIT_S and not r.killed, repr(r))
    return r


def unreadable_files(base, db):
    """Finding 1: one case per kind of spool file the writer cannot read or
    cannot set aside, each followed by a good file and a new row."""
    def damaged_blocked(spool, name):
        put(f"{spool}/{name}", "this is not a spool line\n")
        os.makedirs(f"{spool}/{name}.bad/keep")       # the .bad name is taken: never renamed over
        return r"damaged at line 1: set aside as .*\.rows\.bad\.1;"

    def fifo(spool, name):
        os.mkfifo(f"{spool}/{name}")
        shutil.chown(f"{spool}/{name}", "mosquitto", "mosquitto")
        return r"not a regular file: set aside as .*\.rows\.bad;"

    def directory(spool, name):
        os.makedirs(f"{spool}/{name}/inside")
        os.makedirs(f"{spool}/{name}.bad/keep")
        return r"not a regular file: set aside as .*\.rows\.bad\.1;"

    def no_permission(spool, name):
        put(f"{spool}/{name}", spool_line("x", 0))
        os.chmod(f"{spool}/{name}", 0)
        return r"cannot be opened \(Permission denied\): set aside as .*\.rows\.bad;"

    cases = {"damaged file whose .bad name is taken (set aside as .bad.1)": damaged_blocked, "FIFO": fifo,
             "directory (its .bad name taken too)": directory, "file the broker may not read": no_permission}
    for i, (label, make) in enumerate(cases.items()):
        spool = make_spool()
        pattern = make(spool, seq_name(1))
        good = good_file(spool, 2, f"good{i}")
        flow = f"flow{i}"
        quarter = journal_meter(spool, flow)
        b = start_broker(base, f"spool{i}", db, spool, db_timeout=10)
        try:
            lib.wait_for(lambda: rows_of(db, f"good{i}") == good, 10, f"the good file after the {label}")
            publish_reading(b.port, flow)
            lib.wait_for(lambda: has_row(db, flow, quarter), 10, "a new row")
            flowing = True
        except lib.WaitTimeout as e:
            note(str(e))
            flowing = False
        cpu = busiest_thread(b.proc.pid, 2.0)
        lines = b.log_lines(r"lowi-p1: spool: ")
        stop_in_time(b, label)
        c = b.counters()
        ours = [ln for ln in lines if re.search(pattern, ln)]
        check(f"{label}: one log line and spool_errors 1; the good file and a new row reach MariaDB",
              flowing and len(lines) == 1 and len(ours) == 1 and c.get("spool_errors") == 1
              and c.get("rows_replayed") == good,
              f"{len(lines)} spool lines ({lines[0][lines[0].find('lowi'):] if lines else ''}), counters "
              + ", ".join(f"{k} {c.get(k)}" for k in ("spool_errors", "rows_replayed", "rows_written")))
        check(f"{label}: no thread spins", cpu < CPU_LIMIT, f"busiest broker thread {100 * cpu:.1f} % of a core")
        left = sorted(os.listdir(spool))
        note(f"{label}: spool now holds {left}")


def read_only_spool(base, db):
    """Finding 1: the spool directory turns read-only (bind-mounted read-only
    over itself after the broker opened its journal): a replayed file cannot
    be removed, a damaged one cannot be set aside. Both are skipped until the
    next start, once each."""
    spool = make_spool()
    put(f"{spool}/{seq_name(1)}", "damaged\n")
    good = good_file(spool, 2, "ro-good")
    flow = "ro-flow"
    quarter = journal_meter(spool, flow)
    db.stop()
    b = start_broker(base, "readonly", db, spool, db_timeout=10)
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", spool, spool]).returncode == 0
    if not mounted:
        check("a read-only bind mount can be made", False, "mount failed")
        b.stop()
        db.start(f"{base}/db")
        return
    try:
        db.start(f"{base}/db")
        publish_reading(b.port, flow)
        try:
            lib.wait_for(lambda: rows_of(db, "ro-good") == good and has_row(db, flow, quarter),
                         30, "the good file and the new row")
            flowing = True
        except lib.WaitTimeout as e:
            note(str(e))
            flowing = False
        cpu = busiest_thread(b.proc.pid, 2.0)
        lines = b.log_lines(r"lowi-p1: spool: ")
        stop_in_time(b, "read-only spool")
        c = b.counters()
        # The broker thread counts one more at the stop: meters.live cannot be written.
        live = len(b.log_lines(r"lowi-p1: .*meters\.live"))
        skipped = [ln for ln in lines if re.search(r"skipped until the next start", ln)]
        check("read-only spool: the good rows and a new row reach MariaDB; the first file that could not be"
              " set aside or removed named, the other counted", flowing and len(lines) == 2 and len(skipped) == 2
              and "1 more spool files" in lines[1] and c.get("spool_errors") == 2 + live,
              " | ".join(ln[ln.find("lowi"):][:200] for ln in lines[:3]) + f"; {len(lines)} lines, spool_errors"
              f" {c.get('spool_errors')} ({live} for meters.live at the stop)")
        check("read-only spool: no thread spins", cpu < CPU_LIMIT, f"busiest broker thread {100 * cpu:.1f} % of a core")
    finally:
        subprocess.run(["umount", spool])


def no_file_descriptors(base, db):
    """Finding 1: no file descriptor left once the database connection is
    made (RLIMIT_NOFILE of the running broker lowered to what it has open
    plus one): the spool cannot be listed. The writer says so, retries on
    back-off, keeps writing new rows meanwhile, and replays the file once
    descriptors are back."""
    spool = make_spool()
    good = good_file(spool, 1, "fd-good")
    flow = "fd-flow"
    quarter = journal_meter(spool, flow)
    db.stop()
    # As root: lowering and raising again the soft limit of a process of
    # another user would need CAP_SYS_RESOURCE.
    port = free_port()
    # live false: no price worker (price_source none) opens a session of
    # its own for the price board, so the one descriptor left is the
    # writer's.
    conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(db, spool_dir=spool, db_timeout=10,
                                                                                 live="false"),
                           extra="user root")
    b = lib.Broker().start(conf, f"{base}/nofile", port=port)
    pub = lib.MqttClient(b.port, "pub-fd").connect()
    pid = b.proc.pid
    lib.sleep(0.3)
    nfd = len(os.listdir(f"/proc/{pid}/fd"))
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={nfd + 1}:"], check=True)
    note(f"broker limited to {nfd + 1} file descriptors ({nfd} open)")
    db.start(f"{base}/db")
    flowing = False
    try:
        b.wait_log(r"lowi-p1: connected to MariaDB", 30)
        b.wait_log(r"lowi-p1: spool: ", 10)
        publish_reading(b.port, flow, pub)
        lib.wait_for(lambda: has_row(db, flow, quarter), 10, "a new row")
        flowing = True
    except lib.WaitTimeout as e:
        note(str(e))
    cpu = busiest_thread(pid, 2.0)
    early = rows_of(db, "fd-good")
    subprocess.run(["prlimit", f"--pid={pid}", "--nofile=1024:"], check=True)
    try:
        lib.wait_for(lambda: rows_of(db, "fd-good") == good, 70, "the spool file once descriptors are back")
    except lib.WaitTimeout as e:
        note(str(e))
    pub.close()
    lines = b.log_lines(r"lowi-p1: spool: ")
    stop_in_time(b, "no file descriptor")
    c = b.counters()
    check("no file descriptor: a new row is written meanwhile, the spool waits and is replayed later; one line"
          " a minute at most, every attempt counted", flowing and early == 0 and rows_of(db, "fd-good") == good
          and len(lines) == 1 and c.get("spool_errors", 0) >= 1,
          " | ".join(ln[ln.find("lowi"):][:160] for ln in lines[:2]) + f"; {len(lines)} lines, spool_errors {c.get('spool_errors')}")
    check("no file descriptor: no thread spins", cpu < CPU_LIMIT, f"busiest broker thread {100 * cpu:.1f} % of a core")


def refused_writes(base, db):
    """Finding 2: every write refused (error 1114) while connections and the
    schema succeed: reconnections follow the back-off schedule."""
    db.create_database("RW", sc.DB_USER, sc.DB_PASSWORD)
    spool = make_spool()
    flow = "rw-flow"
    journal_meter(spool, flow)
    port = free_port()
    conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(db, "RW", spool_dir=spool,
                                                                                db_timeout=10))
    b = lib.Broker().start(conf, f"{base}/refused", port=port)
    b.wait_log(r"lowi-p1: connected to MariaDB", 10)
    db.query("CREATE TRIGGER refuse_all BEFORE INSERT ON Conso FOR EACH ROW"
             " SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1114, MESSAGE_TEXT = 'The table ''Conso'' is full'", db="RW")
    seen = []   # real arrival time of each "connected" line

    def watch(until):
        while lib.real_time() < until:
            n = len(b.log_lines(r"lowi-p1: connected to MariaDB"))
            while len(seen) < n:
                seen.append(lib.real_time())
            lib.sleep(0.02)
    window = 8.5
    t0 = lib.real_time()
    publish_reading(port, flow)
    watch(t0 + window)
    db.query("DROP TRIGGER refuse_all", db="RW")
    try:
        lib.wait_for(lambda: rows_of(db, flow, "RW") > 0,
                     40, "the rows once writes are accepted again")
        recovered = True
    except lib.WaitTimeout:
        recovered = False
    stop_in_time(b, "refused writes")
    c = b.counters()
    gaps = [round(b2 - a, 2) for a, b2 in zip(seen, seen[1:])]
    # The first failure comes with the row (within a second of its
    # publication); then 1 s, 2 s, 4 s after each: 4 connections in 8.5 s.
    connects = len(seen)
    note(f"refused writes: {connects} connections in {window:g} s ({60 * connects / window:.0f} a minute),"
         f" gaps {gaps[:12]}")
    check("refused writes: reconnections follow the back-off (1 s doubling), not at once",
          3 <= connects <= 5 and all(g >= 0.9 * 2 ** i for i, g in enumerate(gaps)),
          f"{connects} connections in {window:g} s; gaps {gaps[:8]}; db_errors {c.get('db_errors')},"
          f" db_connects {c.get('db_connects')}")
    check("refused writes: the rows are written once the server takes them", recovered,
          ", ".join(f"{k} {c.get(k)}" for k in ("rows_written", "rows_replayed", "rows_spooled")))


class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.1)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except (socket.timeout, OSError):
                pass

    def close(self):
        self.stopping = True
        self.thread.join()
        for c in self.accepted:
            c.close()
        self.sock.close()


def hung_connect(base):
    """Finding 11: stop while the MariaDB handshake hangs."""
    silent = SilentServer()

    class Fake:
        port = silent.port
    try:
        port = free_port()
        conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(Fake, db_timeout=30))
        b = lib.Broker().start(conf, f"{base}/hung", port=port)
        lib.wait_for(lambda: silent.accepted, 10, "the writer's connection")
        lib.sleep(0.5)
        stop_in_time(b, "hung handshake")
        # The price worker's own session: its set-up hangs the same way.
        before = len(silent.accepted)
        port = free_port()
        conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(
            Fake, db_timeout=30, price_source="elia", price_url=f"http://127.0.0.1:{free_port()}/"))
        b = lib.Broker().start(conf, f"{base}/hung-prices", port=port)
        lib.wait_for(lambda: len(silent.accepted) >= before + 2, 10, "the writer's and the price worker's connections")
        lib.sleep(0.5)
        stop_in_time(b, "hung handshake, price worker too")
    finally:
        silent.close()


def main():
    base = sc.workdir("writer-faults")
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    only = os.environ.get("LOWI_ONLY", "")
    for name, part in (("files", lambda: unreadable_files(base, db)), ("readonly", lambda: read_only_spool(base, db)),
                       ("nofile", lambda: no_file_descriptors(base, db)), ("refused", lambda: refused_writes(base, db)),
                       ("hung", lambda: hung_connect(base))):
        if not only or name in only.split(","):
            t0 = lib.real_time()
            part()
            note(f"part {name}: {lib.real_time() - t0:.1f} s")
    db.stop()


run_main(main)
