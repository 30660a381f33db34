#!/usr/bin/env python3
"""Self-check of the price fixture server (server.py).

Starts the server as a real process (several times, with different options),
checks every endpoint in its real format, the DST days, publication, the
Energy-Charts rate limit, every fault mode, the control endpoints, the clock
under libfaketime (when installed), and a clean SIGTERM stop while requests
hang. One line per check; exit status 1 when any check failed.

Usage: python3 tests/price-fixtures/selfcheck.py
"""

import datetime as dt
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import server as fx  # noqa: E402  (price_at and the calendar helpers)

ELIA = "/eliabecontrols.prod/interface/Interconnections/daily/"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("FAIL - " + what)
    return cond


class Fixture:
    """A server.py process on a free port."""

    def __init__(self, *args, prefix=()):
        cmd = list(prefix) + [sys.executable, os.path.join(HERE, "server.py"), "--port", "0"] + list(args)
        env = dict(os.environ, TZ="UTC")
        # Own process group: a wrapper such as faketime forks, and the signal
        # must reach the server, not only the wrapper.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        m = re.match(r"^port (\d+)$", line.strip())
        if not m:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise RuntimeError("server did not print its port: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def request(self, method, path, body=None, timeout=10):
        """(status, headers dict, body bytes); status 'timeout' or 'incomplete' on those faults."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data)
            r = conn.getresponse()
            headers = {k.lower(): v for k, v in r.getheaders()}
            try:
                payload = r.read()
            except http.client.IncompleteRead as e:
                return "incomplete", headers, e.partial
            return r.status, headers, payload
        except (socket.timeout, TimeoutError):
            return "timeout", {}, b""
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def get_json(self, path):
        st, h, b = self.get(path)
        return st, h, json.loads(b) if st == 200 else None

    def post(self, path, obj=None):
        st, h, b = self.request("POST", path, body=obj if obj is not None else {})
        return st, json.loads(b) if b else None

    def fault(self, **f):
        st, r = self.post("/_control", f)
        check(st == 200 and r["ok"], "control accepts %s" % json.dumps(f))

    def requests(self):
        return self.get_json("/_requests")[2]

    def stop(self):
        t0 = time.time()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = "killed"
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, time.time() - t0


def expect_elia_day(fxs, kind, day, period, n):
    st, h, rows = fxs.get_json(ELIA + "%s/%s" % (kind, day))
    d = dt.date.fromisoformat(day)
    start, end = fx.brussels_day_bounds(d)
    ok = st == 200 and h.get("content-type", "").startswith("application/json") and isinstance(rows, list)
    ok = ok and len(rows) == n
    if ok and n:
        ok = all(set(r) == {"dateTime", "price", "isVisible"} and r["isVisible"] is True and ISO_Z.match(r["dateTime"])
                 for r in rows)
        ok = ok and rows[0]["dateTime"] == fx.iso_utc(start) and rows[-1]["dateTime"] == fx.iso_utc(end - period)
        ok = ok and [r["price"] for r in rows] == [fx.price_at(t, period) for t in range(start, end, period)]
    check(ok, "Elia %s/%s: %d rows of %d s, first %s, prices = price_at (got %s)"
          % (kind, day, n, period, fx.iso_utc(start), len(rows) if isinstance(rows, list) else st))
    return rows


def ec_path(start, end=None):
    return "/price?bzn=BE&start=%s&end=%s" % (start, end or start)


def check_elia(a):
    print("# Elia")
    rows = expect_elia_day(a, "auctionresults", "2020-01-01", 3600, 24)
    check(rows and [r["price"] for r in rows[:10]] == fx.REFERENCE_PRICES,
          "reference sample: first 10 hours from 2019-12-31T23:00Z are 41.88 ... 30.65")
    expect_elia_day(a, "auctionresults", "2025-01-15", 3600, 24)
    expect_elia_day(a, "auctionresults", "2025-03-30", 3600, 23)
    expect_elia_day(a, "auctionresults", "2024-10-27", 3600, 25)
    qh, last_hourly = str(fx.QH_SWITCH_DAY), str(fx.QH_SWITCH_DAY - dt.timedelta(days=1))
    expect_elia_day(a, "auctionresults", last_hourly, 3600, 24)
    expect_elia_day(a, "auctionresults", qh, 3600, 0)   # hourly after the switch: []
    expect_elia_day(a, "auctionresultsqh", last_hourly, 900, 0)  # quarters before the switch: []
    expect_elia_day(a, "auctionresultsqh", qh, 900, 96)
    expect_elia_day(a, "auctionresultsqh", "2025-10-26", 900, 100)
    expect_elia_day(a, "auctionresultsqh", "2026-03-29", 900, 92)
    expect_elia_day(a, "auctionresultsqh", "2026-06-30", 900, 96)  # --published-until
    expect_elia_day(a, "auctionresultsqh", "2026-07-01", 900, 0)   # after it: []
    expect_elia_day(a, "auctionresults", "2019-06-01", 3600, 24)
    prices = [fx.price_at(t, 900) for t in range(*fx.brussels_day_bounds(dt.date(2025, 6, 15)), 900)]
    check(min(prices) < 0 < max(prices), "synthetic prices go negative on a sunny afternoon (2025-06-15 min %.2f)"
          % min(prices))
    st, _, _ = a.get(ELIA + "auctionresults/2025-02-30")
    check(st == 400, "impossible date in the URL: 400 (got %s)" % st)
    st, _, _ = a.get("/nowhere")
    check(st == 404, "unknown path: 404 (got %s)" % st)


def check_energy_charts(a):
    print("# Energy-Charts")
    a.post("/_reset")
    last_hourly, qh = fx.QH_SWITCH_DAY - dt.timedelta(days=1), fx.QH_SWITCH_DAY
    st, h, obj = a.get_json(ec_path(str(last_hourly), str(qh)))
    ok = st == 200 and set(obj) == {"license_info", "unix_seconds", "price", "unit", "deprecated"}
    ok = ok and obj["unit"] == "EUR / MWh" and obj["deprecated"] is False and "CC BY 4.0" in obj["license_info"]
    check(ok, "fields license_info, unix_seconds, price, unit, deprecated")
    s30, e30 = fx.brussels_day_bounds(last_hourly)
    s01, e01 = fx.brussels_day_bounds(qh)
    want_t = list(range(s30, e30, 3600)) + list(range(s01, e01, 900))
    check(ok and obj["unix_seconds"] == want_t, "last hourly day and first quarter day: 24 hourly then 96 quarter timestamps (%d)"
          % (len(obj["unix_seconds"]) if ok else -1))
    check(ok and obj["price"] == [fx.price_at(t, 3600 if t < e30 else 900) for t in want_t],
          "prices = price_at")
    st, h, obj = a.get_json(ec_path("2026-03-29"))
    check(st == 200 and len(obj["unix_seconds"]) == 92 and len(obj["price"]) == 92, "2026-03-29: 92 quarters")
    a.post("/_reset")
    st, h, obj = a.get_json(ec_path("2024-10-27"))
    check(st == 200 and len(obj["unix_seconds"]) == 25, "2024-10-27 (hourly): 25 hours")
    st, h, obj = a.get_json(ec_path("2026-06-29", "2026-07-03"))
    check(st == 200 and len(obj["unix_seconds"]) == 2 * 96, "range partly published: only the published days (%s)"
          % (len(obj["unix_seconds"]) if obj else st))
    a.post("/_reset")
    st, h, b = a.get(ec_path("2026-07-01"))
    check(st == 404 and json.loads(b) == {"detail": "Not Found"}, "unpublished day: 404 (got %s %r)" % (st, b[:40]))
    st, h, b = a.get("/price?bzn=FR&start=2025-01-01&end=2025-01-01")
    check(st == 400, "other bidding zone: 400 (got %s)" % st)


def check_rate_limit(a, b):
    print("# Energy-Charts rate limit")
    a.post("/_reset")
    statuses = []
    for _ in range(4):
        st, h, _ = a.get(ec_path("2025-01-15"))
        statuses.append((st, h.get("retry-after")))
    check([s for s, _ in statuses] == [200, 200, 429, 429], "2 requests pass, the 3rd and 4th within 60 s get 429: %s"
          % statuses)
    ra = statuses[2][1]
    check(ra is not None and ra.isdigit() and 1 <= int(ra) <= 60, "429 carries Retry-After in seconds (%s)" % ra)
    st, _, _ = a.get(ELIA + "auctionresults/2025-01-15")
    check(st == 200, "the rate limit is Energy-Charts only: Elia still answers")
    log = a.requests()
    check([e["status"] for e in log] == [200, 200, 429, 429, 200], "the log shows 200 200 429 429 200")
    # Server b: 2 per 2 s, so the limit can be watched expiring.
    b.post("/_reset")
    s1 = [b.get(ec_path("2025-01-15"))[0] for _ in range(3)]
    st, h, _ = b.get(ec_path("2025-01-15"))
    wait = int(h.get("retry-after", "0"))
    check(s1 == [200, 200, 429] and st == 429 and 1 <= wait <= 2, "2 s window: %s, Retry-After %s" % (s1, wait))
    time.sleep(wait + 0.1)
    st, _, _ = b.get(ec_path("2025-01-15"))
    check(st == 200, "after Retry-After the next request passes (got %s)" % st)


def check_faults(a):
    print("# Faults")
    day = "2024-03-05"
    path = ELIA + "auctionresults/" + day
    normal = json.dumps(a.get_json(path)[2]).encode()

    def run(mode, want, **extra):
        a.post("/_reset")
        a.fault(path_contains=day, mode=mode, times=2, **extra)
        results = [a.get(path, timeout=1.5) for _ in range(2)]
        ok = all(want(*r) for r in results)
        st, _, b = a.get(path)
        ok_after = st == 200 and json.dumps(json.loads(b)).encode() == normal
        log = a.requests()
        ok_log = len(log) == 3 and [e["fault"] for e in log] == [mode, mode, None] and log[2]["status"] == 200
        check(ok, "%s: the next 2 matching requests get it (%s)" % (mode, [r[0] for r in results]))
        check(ok_after and ok_log, "%s: then a normal answer, and the log shows faults %s"
              % (mode, [e["fault"] for e in log]))

    def not_json(b):
        try:
            json.loads(b)
            return False
        except (ValueError, UnicodeDecodeError):
            return True

    run("404", lambda st, h, b: st == 404)
    run("500", lambda st, h, b: st == 500)
    run("empty", lambda st, h, b: st == 200 and json.loads(b) == [])
    run("garbage", lambda st, h, b: st == 200 and not_json(b))
    run("truncated", lambda st, h, b: st == "incomplete" and 0 < len(b) < len(normal))
    run("truncated-body", lambda st, h, b: st == 200 and int(h["content-length"]) == len(b) and not_json(b))
    run("nulls", lambda st, h, b: st == 200 and sum(r["price"] is None for r in json.loads(b)) == 6)
    run("wrong-types", lambda st, h, b: st == 200 and isinstance(json.loads(b)[0]["price"], str)
        and isinstance(json.loads(b)[1]["dateTime"], int) and json.loads(b)[2]["isVisible"] == "true")
    run("429", lambda st, h, b: st == 429 and h.get("retry-after") == "7", retry_after=7)
    run("429", lambda st, h, b: st == 429 and h.get("retry-after") == "99999999999999999999",
        retry_after="99999999999999999999")
    run("redirect", lambda st, h, b: st == 302 and h.get("location") == "http://127.0.0.1:1/x",
        location="http://127.0.0.1:1/x")
    run("redirect", lambda st, h, b: st == 302 and h.get("location") == path)
    run("oversize", lambda st, h, b: st == 200 and "content-length" not in h and len(b) == 600000
        and b.startswith(b"[{},{},"), size=600000)
    run("oversize-length", lambda st, h, b: st == 200 and h.get("content-length") == "600000" and len(b) == 600000,
        size=600000)
    run("gzip-bomb", lambda st, h, b: st == 200 and h.get("content-encoding") == "gzip" and len(b) < 50000
        and len(gzip.decompress(b)) == 16 << 20)
    run("hang", lambda st, h, b: st == "timeout")
    t0 = time.time()
    run("slow", lambda st, h, b: st == 200, delay=0.3)
    check(time.time() - t0 >= 0.6, "slow: answers come after the delay")

    # Energy-Charts faults, matched on the query string
    ec = ec_path(day)
    a.post("/_reset")
    a.fault(path_contains="start=" + day, mode="nulls", times=1)
    st, _, obj = a.get_json(ec)
    check(st == 200 and sum(p is None for p in obj["price"]) == 6, "Energy-Charts nulls: 6 of 24 prices null")
    a.post("/_reset")
    a.fault(path_contains="start=" + day, mode="wrong-types", times=1)
    st, _, obj = a.get_json(ec)
    check(st == 200 and isinstance(obj["unix_seconds"][0], str) and obj["price"][2] is True,
          "Energy-Charts wrong-types: a string timestamp, a boolean price")
    a.post("/_reset")
    a.fault(path_contains="start=" + day, mode="empty", times=1)
    st, _, obj = a.get_json(ec)
    check(st == 200 and obj["unix_seconds"] == [] and obj["price"] == [], "Energy-Charts empty: empty arrays")
    a.post("/_reset")
    a.fault(path_contains="start=" + day, mode="no-data-text", times=1)
    st, h, b = a.get(ec)
    check(st == 200 and h["content-type"].startswith("text/plain") and b"No data" in b,
          "Energy-Charts no-data-text: 200 text/plain")
    a.post("/_reset")
    a.fault(path_contains="never-matches", mode="500", times=1)
    st, _, _ = a.get(ec)
    check(st == 200, "a fault for another path does not fire")
    st, _, faults = a.get_json("/_control")
    check(st == 200 and len(faults) == 1 and faults[0]["times"] == 1, "GET /_control lists the pending fault")
    a.post("/_reset")
    st, _, faults = a.get_json("/_control")
    check(faults == [] and a.requests() == [], "/_reset clears faults and the log")

    # control validation
    for bad in ({"mode": "explode"}, {"mode": "404", "times": 0}, {"mode": "404", "path_contains": 5}, [1],
                {"mode": "429", "retry_after": "a\nb"}, {"mode": "redirect", "location": 3},
                {"mode": "oversize", "size": 0}):
        st, r = a.post("/_control", bad)
        check(st == 400 and r["ok"] is False, "control refuses %s: %s" % (json.dumps(bad), r and r.get("error")))
    st, _, _ = a.request("POST", "/_control", body=b"{not json")
    check(st == 400, "control refuses a non-JSON body")


def check_log(a):
    print("# Request log")
    a.post("/_reset")
    t0 = time.time()
    for p in (ELIA + "auctionresults/2025-01-15", ELIA + "auctionresultsqh/2025-11-15", ec_path("2025-11-15"), "/x"):
        a.get(p)
    log = a.requests()
    ok = len(log) == 4 and [e["path"] for e in log][:3] == [ELIA + "auctionresults/2025-01-15",
                                                           ELIA + "auctionresultsqh/2025-11-15", ec_path("2025-11-15")]
    ok = ok and [e["source"] for e in log] == ["elia", "elia", "energy-charts", "unknown"]
    ok = ok and [e["status"] for e in log] == [200, 200, 200, 404]
    ok = ok and all(t0 - 1 <= e["time"] <= time.time() + 1 for e in log)
    ok = ok and all(log[i]["time"] <= log[i + 1]["time"] for i in range(3))
    ok = ok and all(e["time"] <= e["done"] <= time.time() for e in log)
    check(ok, "GET /_requests: time, done, method, path, source, status, fault of every request, control calls excluded")


def check_options():
    print("# Options")
    c = Fixture("--published-until", "2026-12-31", "--elia-hourly-after-switch", "average", "--ec-unpublished", "text")
    expect_elia_day(c, "auctionresultsqh", "2026-10-25", 900, 100)
    st, _, rows = c.get_json(ELIA + "auctionresults/2025-10-26")
    start, end = fx.brussels_day_bounds(dt.date(2025, 10, 26))
    want = [round(sum(fx.price_at(q, 900) for q in range(t, t + 3600, 900)) / 4, 2) for t in range(start, end, 3600)]
    check(st == 200 and [r["price"] for r in rows] == want, "--elia-hourly-after-switch average: 25 hourly means")
    st, h, b = c.get(ec_path("2027-01-05"))
    check(st == 200 and h["content-type"].startswith("text/plain") and b"No data" in b,
          "--ec-unpublished text: 200 with a plain-text 'No data' body")
    rc, took = c.stop()
    check(rc == 0, "stopped (rc %s)" % rc)


def check_group_gone(c):
    """After stop, no process of the fixture's group is left (the faketime
    wrapper itself dies of the SIGTERM; the server exits cleanly)."""
    if c.proc.poll() is None:
        c.stop()
    for _ in range(50):
        try:
            os.killpg(c.proc.pid, 0)
        except ProcessLookupError:
            return check(True, "stopped under faketime: no process left")
        time.sleep(0.1)
    os.killpg(c.proc.pid, signal.SIGKILL)
    return check(False, "stopped under faketime: processes were left")


def check_clock():
    print("# Clock (libfaketime)")
    if not shutil.which("faketime"):
        print("skip - faketime not installed")
        return
    # 12:00 UTC = 14:00 Brussels (CEST): tomorrow (10-26) is out, 10-27 is not.
    c = Fixture(prefix=("faketime", "-m", "-f", "@2025-10-25 12:00:00"))
    ok26 = len(c.get_json(ELIA + "auctionresultsqh/2025-10-26")[2]) == 100
    ok27 = c.get_json(ELIA + "auctionresultsqh/2025-10-27")[2] == []
    log = c.requests()
    faked = dt.datetime.fromtimestamp(log[0]["time"], dt.timezone.utc)
    check(ok26 and ok27, "at 14:00 Brussels on 2025-10-25: 10-26 published (100 quarters), 10-27 not")
    check(abs((faked - dt.datetime(2025, 10, 25, 12, tzinfo=dt.timezone.utc)).total_seconds()) < 300,
          "the request log uses the faked clock (%s)" % faked.isoformat())
    check_group_gone(c)
    # 10:30 UTC = 12:30 Brussels: tomorrow not yet.
    c = Fixture(prefix=("faketime", "-m", "-f", "@2025-10-25 10:30:00"))
    check(c.get_json(ELIA + "auctionresultsqh/2025-10-26")[2] == [] and
          len(c.get_json(ELIA + "auctionresultsqh/2025-10-25")[2]) == 96,
          "at 12:30 Brussels on 2025-10-25: today published, tomorrow []")
    st, _, _ = c.get(ec_path("2025-10-26"))
    check(st == 404, "Energy-Charts: tomorrow before 13:00 is 404 (got %s)" % st)
    check_group_gone(c)
    # Timed waits hang under libfaketime; the server must not use them.
    c = Fixture("--exit-with-parent", prefix=("faketime", "-m", "-f", "@2025-10-25 10:30:00"))
    c.fault(mode="slow", delay=0.3)
    t0 = time.time()
    st, _, _ = c.get(ec_path("2025-10-25"), timeout=5)
    check(st == 200 and 0.25 < time.time() - t0 < 3, "slow fault under faketime answers after its delay")
    c.proc.send_signal(signal.SIGTERM)  # the wrapper only, as a naive harness would
    c.proc.wait(timeout=10)
    check_group_gone(c)


def check_stop(a):
    print("# Stop")
    a.post("/_reset")
    a.fault(path_contains="2024-03-06", mode="hang", times=3)
    # Leave three requests hanging on open connections, then stop.
    socks = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(("GET %sauctionresults/2024-03-06 HTTP/1.1\r\nHost: x\r\n\r\n" % ELIA).encode())
        socks.append(s)
    time.sleep(0.3)
    check(sum(e["fault"] == "hang" for e in a.requests()) == 3, "three requests hang")
    rc, took = a.stop()
    check(rc == 0 and took < 3, "SIGTERM stops the server with requests hanging: rc %s in %.2f s" % (rc, took))
    for s in socks:
        s.settimeout(2)
        try:
            check(s.recv(100) == b"", "a hanging connection is closed without an answer")
        except OSError as e:
            check(False, "hanging connection: %s" % e)
        s.close()


def main():
    a = Fixture("--published-until", "2026-06-30")
    b = Fixture("--published-until", "2026-06-30", "--ec-rate-window", "2")
    try:
        check(a.port > 0, "first stdout line is 'port N' (%d)" % a.port)
        check_elia(a)
        check_energy_charts(a)
        check_rate_limit(a, b)
        check_faults(a)
        check_log(a)
        check_options()
        check_clock()
        check_stop(a)
    finally:
        for f in (a, b):
            if f.proc.poll() is None:
                f.stop()
    print("selfcheck: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
