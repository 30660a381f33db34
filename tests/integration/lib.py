"""Helpers for the lowi-p1 integration tests.

Plain Python 3.11 standard library + pymysql + paho-mqtt 1.6; run the tests
with /usr/bin/python3 (Debian's interpreter, which has both packages).

Real services, private to one test:
  MariaDB  -- a private datadir under a test directory, TCP on 127.0.0.1.
             Always runs on the REAL clock: LD_PRELOAD/FAKETIME* are
             scrubbed from its environment.
  Broker   -- mosquitto -c <conf written by the test>; inherits the test's
             environment, so a test run under
             `FAKETIME_DONT_RESET=1 faketime -f '@START x60' python3 t.py`
             gives the broker (and the plugin in it) the test's clock.

Clocks.  Under libfaketime every clock, sleep and socket timeout of this
process is faked (x60: time.sleep(3) returns after 0.05 real seconds).
All timeouts taken by this module are in REAL seconds: deadlines are measured
on /proc/uptime (which libfaketime does not touch) and sleeps / socket
timeouts are multiplied by the speed factor parsed from $FAKETIME.

Reporting: check(name, cond, details) prints PASS/FAIL lines; finish() prints
"<file>: N passed, N failed" and exits 1 if anything failed (or nothing ran).

Every process started here is stopped at interpreter exit (atexit, and on
SIGTERM/SIGHUP/SIGINT to the test) if the test did not stop it itself.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import queue
import threading

__all__ = [
    "clock_factor", "real_time", "use_fake_clock", "sleep", "wait_for", "WaitTimeout",
    "free_port", "port_open", "real_clock_env", "under_faketime",
    "check", "note", "counts", "finish", "run_main",
    "MariaDB", "ServiceError",
    "Broker", "StopResult", "broker_conf", "make_password_file",
    "MqttClient", "MqttError",
]


# ---------------------------------------------------------------- clocks

_FACTOR_RE = re.compile(r"(?:^|\s)x(\d+(?:\.\d+)?)")


def under_faketime():
    """True if this process runs with libfaketime preloaded."""
    return "faketime" in os.environ.get("LD_PRELOAD", "")


def clock_factor():
    """How many seconds this process's clocks advance per real second
    (1.0 unless libfaketime is preloaded with an 'xN' speed in $FAKETIME)."""
    if not under_faketime():
        return 1.0
    m = _FACTOR_RE.search(os.environ.get("FAKETIME", ""))
    return float(m.group(1)) if m else 1.0


def real_time():
    """Real monotonic seconds (from /proc/uptime, 10 ms resolution)."""
    try:
        with open("/proc/uptime") as f:
            return float(f.read().split()[0])
    except OSError:
        return time.monotonic() / clock_factor()


def sleep(real_seconds):
    """Sleep about real_seconds of real time, whatever the process clock."""
    if real_seconds > 0:
        time.sleep(real_seconds * clock_factor())


def use_fake_clock(start, speed):
    """Re-run this test under libfaketime, starting at `start`
    ('YYYY-MM-DD HH:MM:SS' UTC) and running `speed` times faster, unless it
    already runs under it. FAKETIME_DONT_RESET=1 makes every child (broker,
    simulator) share this one clock instead of restarting its own."""
    if under_faketime():
        return
    # The faketime wrapper keeps this PID and names its semaphore and shared
    # memory after it; a wrapper killed earlier (timeout -k) left its pair
    # behind, and a reused PID would make sem_open fail. No live process
    # can own a pair named after this PID.
    for leftover in (f"/dev/shm/sem.faketime_sem_{os.getpid()}", f"/dev/shm/faketime_shm_{os.getpid()}"):
        try:
            os.unlink(leftover)
        except FileNotFoundError:
            pass
    env = dict(os.environ, FAKETIME_DONT_RESET="1", TZ="UTC")
    os.execvpe("faketime", ["faketime", "-f", f"@{start} x{speed}", sys.executable] + sys.argv, env)


class WaitTimeout(AssertionError):
    pass


def wait_for(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it returns a true value (returned) or `timeout`
    real seconds pass (raises WaitTimeout naming `what`)."""
    deadline = real_time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if real_time() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
        sleep(interval)


def real_clock_env(env=None):
    """A copy of env (default os.environ) without libfaketime's variables,
    for processes that must run on the real clock."""
    env = dict(os.environ if env is None else env)
    for k in list(env):
        if k == "LD_PRELOAD" or k.startswith("FAKETIME") or k in (
                "DONT_FAKE_MONOTONIC", "NO_FAKE_STAT", "FAKE_STAT"):
            del env[k]
    return env


# ---------------------------------------------------------------- network

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=0.2):
    """True if something accepts TCP connections on host:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout * clock_factor())
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- reporting

_passed = 0
_failed = 0


def check(name, condition, details=""):
    """Record and print one result; returns bool(condition)."""
    global _passed, _failed
    ok = bool(condition)
    if ok:
        _passed += 1
    else:
        _failed += 1
    print(f"{'PASS' if ok else 'FAIL'} {name}: {details}", flush=True)
    return ok


def note(text):
    """An informational line (not a result)."""
    print(f"  .. {text}", flush=True)


def counts():
    """(passed, failed) so far."""
    return _passed, _failed


def finish():
    """Print '<file>: N passed, N failed' and exit (1 if any failed or none ran)."""
    name = os.path.basename(sys.argv[0]) or "test"
    print(f"{name}: {_passed} passed, {_failed} failed", flush=True)
    if _passed + _failed == 0:
        print(f"{name}: no checks ran", flush=True)
        sys.exit(1)
    sys.exit(1 if _failed else 0)


def run_main(main):
    """Run main(); an uncaught exception is reported as a FAIL with its
    traceback. Always ends with finish() (processes stop via atexit)."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 -- report everything
        traceback.print_exc()
        check("no unexpected exception", False, f"{type(e).__name__}: {e}")
    finish()


# ---------------------------------------------------------------- process bookkeeping

_live = []          # objects with a .stop() to call at exit
_handlers_installed = False


def _stop_all():
    for obj in list(reversed(_live)):
        try:
            obj.stop()
        except Exception as e:  # noqa: BLE001
            print(f"  .. cleanup of {obj!r} failed: {e}", file=sys.stderr)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)   # unwinds into atexit -> _stop_all


def _register(obj):
    global _handlers_installed
    if obj not in _live:
        _live.append(obj)
    if not _handlers_installed:
        _handlers_installed = True
        atexit.register(_stop_all)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                if signal.getsignal(sig) in (signal.SIG_DFL, None):
                    signal.signal(sig, _on_signal)


def _unregister(obj):
    if obj in _live:
        _live.remove(obj)


def _tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def _make_traversable(path):
    """Give o+x to `path` and its ancestors that we own and that lack it, so a
    process that dropped privileges (mosquitto runs as user mosquitto when
    started as root) can reach files below it (tempfile.mkdtemp makes 0700)."""
    path = os.path.abspath(path)
    while True:
        try:
            st = os.stat(path)
            if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                os.chmod(path, (st.st_mode & 0o7777) | 0o011)
        except OSError:
            pass
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


class StopResult:
    """How a stop() went: seconds (real), killed (SIGKILL needed), returncode."""

    def __init__(self, seconds, killed, returncode, was_running=True):
        self.seconds = seconds
        self.killed = killed
        self.returncode = returncode
        self.was_running = was_running

    def __repr__(self):
        return (f"StopResult(seconds={self.seconds:.3f}, killed={self.killed}, "
                f"returncode={self.returncode}, was_running={self.was_running})")


def _stop_process(proc, timeout, frozen=False):
    """SIGTERM, wait `timeout` real seconds, then SIGKILL. proc: Popen."""
    if proc is None:
        return StopResult(0.0, False, None, was_running=False)
    if proc.poll() is not None:
        return StopResult(0.0, False, proc.returncode, was_running=False)
    t0 = real_time()
    killed = False
    try:
        proc.send_signal(signal.SIGTERM)
        if frozen:
            proc.send_signal(signal.SIGCONT)
    except ProcessLookupError:
        pass
    try:
        wait_for(lambda: proc.poll() is not None, timeout, f"pid {proc.pid} to exit", 0.02)
    except WaitTimeout:
        killed = True
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return StopResult(real_time() - t0, killed, proc.returncode)


class ServiceError(RuntimeError):
    pass


# ---------------------------------------------------------------- MariaDB

class MariaDB:
    """A private MariaDB server on 127.0.0.1:port, on the real clock.

        db = MariaDB().start(tmpdir)          # port chosen if not given
        db.create_database("lowi", "lowi", "secret")
        conn = db.connect("lowi")             # pymysql, root, autocommit
        db.freeze(); db.thaw()                # SIGSTOP / SIGCONT
        db.stop(); db.start(tmpdir, db.port)  # restart keeps the data

    Root has no password. Data in <basedir>/mariadb, error log in
    <basedir>/mariadb/err.log, socket <basedir>/mariadb/sock.
    """

    FAST_OPTS = [
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--skip-name-resolve",
    ]

    # The server's first --user wins; a subclass whose data directory belongs
    # to another account names it here.
    USER = "root"

    def __init__(self):
        self.proc = None
        self.port = None
        self.basedir = None
        self.datadir = None
        self.socket = None
        self.frozen = False
        self.timings = {}          # install / start, real seconds

    def __repr__(self):
        return f"MariaDB(port={self.port}, pid={self.proc.pid if self.proc else None})"

    @property
    def error_log(self):
        return os.path.join(self.datadir, "err.log") if self.datadir else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, basedir, port=None, timeout=60, extra_args=()):
        """Install (first time only) and start; wait until it accepts a root
        connection over TCP. Returns self."""
        if self.alive():
            raise ServiceError("MariaDB already running")
        self.basedir = os.path.abspath(basedir)
        self.datadir = os.path.join(self.basedir, "mariadb")
        self.port = port or self.port or free_port()
        self.socket = os.path.join(self.datadir, "sock")
        if len(self.socket) > 100:
            raise ServiceError(f"socket path too long for AF_UNIX: {self.socket}")
        env = real_clock_env()
        os.makedirs(self.basedir, exist_ok=True)

        if not os.path.isdir(os.path.join(self.datadir, "mysql")):
            t0 = real_time()
            template = self._template(env, timeout)
            if template:
                os.makedirs(self.datadir, exist_ok=True)
                r = subprocess.run(["cp", "-a", os.path.join(template, "."), self.datadir],
                                   capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    raise ServiceError(f"copying the datadir template {template} failed: {r.stderr.strip()}")
            else:
                self._install(self.datadir, os.path.join(self.basedir, "mariadb-install.log"), env, timeout)
            # let a plugin running as another user (mosquitto) reach the socket
            os.chmod(self.datadir, 0o711)
            self.timings["install"] = real_time() - t0
        if os.geteuid() == 0:
            _make_traversable(self.datadir)

        # Imported before the server starts: a missing driver (an interpreter
        # other than the system's python3) must fail here, with its own
        # message, not as a 60 s wait for a server that is up.
        import pymysql

        t0 = real_time()
        out = open(os.path.join(self.basedir, "mariadbd.out"), "a")
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", "--",
             "mariadbd", "--no-defaults", f"--datadir={self.datadir}",
             f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--user={self.USER}",
             f"--log-error={self.error_log}", *self.FAST_OPTS, *extra_args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        self.frozen = False
        _register(self)

        def ready():
            if self.proc.poll() is not None:
                raise ServiceError(
                    f"mariadbd exited {self.proc.returncode} during startup; "
                    f"tail of {self.error_log}:\n{_tail(self.error_log)}")
            try:
                self.connect(connect_timeout=1).close()
                return True
            except pymysql.err.MySQLError:  # not up yet
                return False
        try:
            wait_for(ready, timeout, f"MariaDB on 127.0.0.1:{self.port}", 0.05)
        except WaitTimeout as e:
            self.stop()
            raise ServiceError(f"{e}; tail of {self.error_log}:\n{_tail(self.error_log)}") from None
        self.timings["start"] = real_time() - t0
        return self

    def _install(self, datadir, log, env, timeout):
        with open(log, "w") as out:
            r = subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
                 "--user=root", "--auth-root-authentication-method=normal",
                 "--skip-test-db", *self.FAST_OPTS],
                stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout * clock_factor())
        if r.returncode != 0:
            raise ServiceError(f"mariadb-install-db exited {r.returncode}:\n{_tail(log)}")

    def _template(self, env, timeout):
        """The pristine datadir that mariadb-install-db makes, made once in
        $LOWI_DB_TEMPLATE_DIR (tests/run.sh and tests/sanitize.sh make one
        per run) and copied for each server: a copy is the same files, and
        takes a fraction of an install's time. Never started as a server.
        None without that variable: each server then installs its own."""
        parent = os.environ.get("LOWI_DB_TEMPLATE_DIR")
        if not parent:
            return None
        template = os.path.join(parent, "mariadb")
        if os.path.isdir(template):
            return template
        # Made aside and renamed into place: a test that runs at the same
        # time never copies a half-made template.
        import tempfile
        work = tempfile.mkdtemp(prefix="template-", dir=parent)
        try:
            self._install(os.path.join(work, "mariadb"), os.path.join(work, "install.log"), env, timeout)
            os.rename(os.path.join(work, "mariadb"), template)
        except OSError:
            if not os.path.isdir(template):
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return template

    def stop(self, timeout=30):
        """SIGTERM, wait up to timeout real seconds, then SIGKILL. -> StopResult"""
        r = _stop_process(self.proc, timeout, frozen=self.frozen)
        self.frozen = False
        _unregister(self)
        return r

    def kill(self):
        """SIGKILL (a crash); the datadir is kept for a later start()."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.frozen = False
        _unregister(self)

    def freeze(self):
        """SIGSTOP: the server keeps its sockets but answers nothing."""
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def connect(self, db=None, user="root", password="", connect_timeout=10,
                read_timeout=None, autocommit=True):
        """pymysql connection over TCP 127.0.0.1. Timeouts in real seconds.
        autocommit defaults to True so every query sees the latest commits."""
        import pymysql
        f = clock_factor()
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user=user, password=password,
            database=db, charset="utf8mb4", autocommit=autocommit,
            connect_timeout=max(1, int(connect_timeout * f)),
            read_timeout=None if read_timeout is None else read_timeout * f)

    _NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")

    def create_database(self, name, user, password):
        """CREATE DATABASE name and a user (at '%' and 'localhost', so TCP and
        the unix socket both work) with ALL PRIVILEGES on it."""
        for v in (name, user):
            if not self._NAME.match(v):
                raise ValueError(f"unsafe SQL name: {v!r}")
        conn = self.connect()
        try:
            with conn.cursor() as c:
                c.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                          "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                for host in ("%", "localhost"):
                    c.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host.replace('%', '%%')}' "
                              "IDENTIFIED BY %s",
                              (password,))
                    c.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}'")
        finally:
            conn.close()

    def query(self, sql, args=None, db=None):
        """Run one statement on a fresh root connection; returns all rows."""
        conn = self.connect(db)
        try:
            with conn.cursor() as c:
                c.execute(sql, args)
                return c.fetchall()
        finally:
            conn.close()


# ---------------------------------------------------------------- mosquitto

def make_password_file(path, users):
    """Create a mosquitto password file: users = {name: password}."""
    first = True
    for name, pw in users.items():
        args = ["mosquitto_passwd", "-b"] + (["-c"] if first else []) + [path, name, pw]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        first = False
    os.chmod(path, 0o644)
    return path


def broker_conf(port, plugin=None, plugin_opts=None, password_file=None,
                per_listener_settings=False, extra=""):
    """A test mosquitto.conf: one listener on 127.0.0.1:port, log to stderr
    (all types), no persistence; optional plugin with plugin_opt_* lines
    (given in dict order); anonymous allowed unless password_file is given."""
    lines = [f"per_listener_settings {'true' if per_listener_settings else 'false'}",
             "log_dest stderr", "log_type all", "log_timestamp true",
             "persistence false",
             f"listener {port} 127.0.0.1"]
    if password_file:
        lines += ["allow_anonymous false", f"password_file {password_file}"]
    else:
        lines += ["allow_anonymous true"]
    if plugin:
        lines.append(f"plugin {plugin}")
        for k, v in (plugin_opts or {}).items():
            lines.append(f"plugin_opt_{k} {v}")
    if extra:
        lines.append(extra.rstrip("\n"))
    return "\n".join(lines) + "\n"


_LISTENER_RE = re.compile(r"^\s*listener\s+(\d+)", re.MULTILINE)
_USER_RE = re.compile(r"^\s*user\s+(\S+)", re.MULTILINE)


def counters_in(lines):
    """name -> value from plugin status lines ("... aggregator: meters 2, messages 349")."""
    found = {}
    for line in lines:
        found.update((name, int(value)) for name, value in re.findall(r"\b(\w+) (\d+)(?=,|$)", line))
    return found


class Broker:
    """mosquitto -c <workdir>/mosquitto.conf, stderr+stdout to <workdir>/broker.log.

        b = Broker().start(broker_conf(port, plugin=...), workdir)
        b.log_text(); b.wait_log(r"lowi-p1: .*connected", 10)
        r = b.stop()     # StopResult(seconds, killed, returncode)

    Inherits this process's environment (and so its fake clock). When run as
    root, mosquitto drops to the `user` of the conf (default mosquitto) BEFORE
    it reads the password file and loads plugins: workdir is chowned to that
    user (pid/persistence files) and it and its ancestors get o+x. Files the
    broker reads (passwd: see make_password_file) must be readable by it.
    """

    def __init__(self):
        self.proc = None
        self.port = None
        self.workdir = None
        self.conf_path = None
        self.log_path = None
        self.last_stop = None
        self.start_seconds = None

    def __repr__(self):
        return f"Broker(port={self.port}, pid={self.proc.pid if self.proc else None})"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, conf_text, workdir, port=None, wait=True, timeout=10,
              env=None, cmd_prefix=()):
        """Write the conf, start mosquitto, and (wait=True) wait until the
        listener port accepts TCP; raises ServiceError with the log tail if
        the broker exits or times out first. wait=False: just launch (use
        wait_exit() to test a broker that must refuse to start)."""
        if self.alive():
            raise ServiceError("broker already running")
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        if port is None:
            m = _LISTENER_RE.search(conf_text)
            port = int(m.group(1)) if m else 1883
        self.port = port
        self.conf_path = os.path.join(self.workdir, "mosquitto.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf_text)
        if os.geteuid() == 0:
            m = _USER_RE.search(conf_text)
            user = m.group(1) if m else "mosquitto"
            if user != "root":
                shutil.chown(self.workdir, user, None)
                _make_traversable(self.workdir)
        if under_faketime() and "FAKETIME_DONT_RESET" not in os.environ and env is None:
            note("warning: under faketime without FAKETIME_DONT_RESET=1 the broker "
                 "gets its own clock start, seconds or minutes away from the test's")
        self.log_path = os.path.join(self.workdir, "broker.log")
        log = open(self.log_path, "a")
        t0 = real_time()
        self.proc = subprocess.Popen(
            [*cmd_prefix, "mosquitto", "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=self.workdir)
        log.close()
        _register(self)
        if not wait:
            return self

        def ready():
            if self.proc.poll() is not None:
                raise ServiceError(
                    f"mosquitto exited {self.proc.returncode} during startup; "
                    f"tail of {self.log_path}:\n{_tail(self.log_path)}")
            return port_open(self.port)
        try:
            wait_for(ready, timeout, f"mosquitto on 127.0.0.1:{self.port}", 0.02)
        except WaitTimeout as e:
            self.stop()
            raise ServiceError(f"{e}; tail of {self.log_path}:\n{_tail(self.log_path)}") from None
        self.start_seconds = real_time() - t0
        return self

    def wait_exit(self, timeout):
        """Wait up to timeout real seconds for the broker to exit by itself;
        returns its exit code, or None if it is still running."""
        try:
            wait_for(lambda: self.proc.poll() is not None, timeout, "mosquitto to exit", 0.02)
        except WaitTimeout:
            return None
        _unregister(self)
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_lines(self, pattern):
        """Log lines matching the regular expression `pattern`."""
        rx = re.compile(pattern)
        return [ln for ln in self.log_text().splitlines() if rx.search(ln)]

    def counters(self, when="stopping"):
        """The plugin's counters from its `when` status lines ("stopping" or
        "status"), name -> value. Each writing thread has its own line(s);
        a later line overrides an earlier one, so this is the last stop."""
        return counters_in(self.log_lines(rf"lowi-p1: {when}: "))

    def wait_log(self, pattern, timeout, count=1):
        """Wait until at least `count` log lines match `pattern`; returns them."""
        return wait_for(lambda: (lambda ls: ls if len(ls) >= count else None)(self.log_lines(pattern)),
                        timeout, f"{count} broker log line(s) matching {pattern!r}")

    def stop(self, timeout=10):
        """SIGTERM, wait up to timeout real seconds, then SIGKILL. Returns a
        StopResult (seconds taken, whether SIGKILL was needed, exit code),
        also kept in self.last_stop."""
        r = _stop_process(self.proc, timeout)
        if r.was_running:
            self.last_stop = r
        _unregister(self)
        return r

    def kill(self):
        """SIGKILL (a crash)."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        _unregister(self)


# ---------------------------------------------------------------- MQTT client

class MqttError(RuntimeError):
    pass


class MqttClient:
    """A small blocking wrapper over paho-mqtt 1.6 (network loop in a thread).

        c = MqttClient(port, "sub1").connect()
        c.subscribe("+/PUB/#")
        c.publish("4c75252e8c51/PUB/CH0", payload, qos=1)
        topic, payload = c.wait_message(5)
        c.close()
    """

    def __init__(self, port, client_id=None, username=None, password=None,
                 keepalive=60, host="127.0.0.1", clean_session=True):
        import paho.mqtt.client as mqtt
        self._mqtt = mqtt
        self.host, self.port, self.keepalive = host, port, keepalive
        self.client = mqtt.Client(client_id=client_id or "", clean_session=clean_session,
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.messages = queue.Queue()
        self.connack = None
        self._subacks = set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, rc):
        self.connack = rc

    def _on_message(self, client, userdata, msg):
        self.messages.put((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        self._subacks.add(mid)

    def connect(self, timeout=10, check=True):
        """Connect and wait for CONNACK; returns self. The CONNACK code is in
        self.connack (0 = accepted). A refusal closes the client and, with
        check=True, raises MqttError."""
        self.connack = None
        self.client.connect(self.host, self.port, self.keepalive)
        self.client.loop_start()
        try:
            wait_for(lambda: self.connack is not None, timeout, f"CONNACK from port {self.port}")
        except WaitTimeout:
            self.close()
            raise
        if self.connack != 0:
            rc = self.connack
            self.close()
            if check:
                raise MqttError(f"connection refused: {self._mqtt.connack_string(rc)} (rc {rc})")
        return self

    def subscribe(self, topic, qos=1, timeout=10):
        rc, mid = self.client.subscribe(topic, qos)
        if rc != 0:
            raise MqttError(f"subscribe failed rc {rc}")
        wait_for(lambda: mid in self._subacks, timeout, f"SUBACK for {topic}")
        return self

    def publish(self, topic, payload, qos=1, retain=False, timeout=10):
        """Publish and (qos>0) wait until the broker acknowledged it."""
        if isinstance(payload, str):
            payload = payload.encode()
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != 0:
            raise MqttError(f"publish failed rc {info.rc}")
        wait_for(info.is_published, timeout, f"ack of publish to {topic}")
        return info

    def wait_message(self, timeout, topic=None):
        """Next received (topic, payload bytes) [with this exact topic];
        whether it came as a retained message is left in self.last_retain."""
        deadline = real_time() + timeout
        while True:
            left = deadline - real_time()
            if left <= 0:
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for a message"
                                  + (f" on {topic}" if topic else ""))
            try:
                t, p, self.last_retain = self.messages.get(timeout=min(left, 0.1) * clock_factor())
            except queue.Empty:
                continue
            if topic is None or t == topic:
                return t, p

    def close(self):
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001
            pass
        self.client.loop_stop()
