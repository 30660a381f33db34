#!/usr/bin/env python3
"""Fixture HTTP server for the price worker: Elia griddata and Energy-Charts.

Serves both day-ahead price sources in their real formats (docs/prices.md;
README in this directory lists what it assumes beyond them) for any date,
from deterministic synthetic prices (price_at), so that the price worker
can be tested with real libcurl against 127.0.0.1. Faults are injected at
run time over HTTP (POST /_control) and every request is logged
(GET /_requests).

All timing (publication of tomorrow's prices, the Energy-Charts rate limit,
the request log) reads time.time(), so the server follows libfaketime
together with the rest of the test.

Usage: server.py [--port N] [--published-until YYYY-MM-DD] ...   (--help)
The first stdout line is "port N". SIGTERM or SIGINT stops it (exit 0)
without waiting for hanging requests.

As a module: `price_at(start_s, period_s)`, `brussels_day_bounds(date)` and
`is_published(day, now_s, ...)` give tests the values the server serves.
"""

import argparse
import datetime as dt
import gzip
import hashlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def _quarter_hour_first_day():
    """The first delivery day of 15-minute periods, read from the plugin's
    price-worker/price_market.h so that the two cannot disagree."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "price-worker", "price_market.h")
    with open(header) as f:
        m = re.search(r"^#define PRICE_QUARTER_HOUR_FIRST_DAY (\d+)$", f.read(), re.M)
    if m is None:
        raise SystemExit(f"{header}: no PRICE_QUARTER_HOUR_FIRST_DAY")
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(m.group(1)))


# Delivery day from which the market time unit is 15 minutes.
QH_SWITCH_DAY = _quarter_hour_first_day()

# The reference sample: hourly, from 2019-12-31 23:00 UTC (2020-01-01 00:00
# Brussels) onward.
REFERENCE_START_S = 1577833200
REFERENCE_PRICES = [41.88, 38.6, 36.55, 32.32, 30.85, 30.14, 30.17, 30, 30.65, 30.65]

ELIA_PREFIX = "/eliabecontrols.prod/interface/Interconnections/daily/"
ELIA_RE = re.compile(r"^" + re.escape(ELIA_PREFIX) + r"(auctionresults|auctionresultsqh)/([0-9]{4}-[0-9]{2}-[0-9]{2})$")

EC_LICENSE = "CC BY 4.0 (creativecommons.org/licenses/by/4.0) from Bundesnetzagentur | SMARD.de"
EC_UNIT = "EUR / MWh"
EC_NO_DATA_TEXT = "No data for the requested period. Day-ahead prices are published after 12:45 CET.\n"
EC_MAX_DAYS = 366

FAULT_MODES = ("404", "empty", "500", "garbage", "truncated", "truncated-body", "nulls",
               "wrong-types", "hang", "429", "no-data-text", "slow", "redirect", "oversize",
               "oversize-length", "gzip-bomb")

GARBAGE = (b"<html><head><title>502 Bad Gateway</title></head>\r\n<body>upstream sent "
           b"\x00\xff\xfe an invalid response</body></html>\r\n")


# ---- Brussels civil time (EU rule, no tz database) ------------------------

def _last_sunday_utc(year, month):
    """UTC instant 01:00 of the last Sunday of a month (the EU switch time)."""
    last = dt.date(year, month, 31)
    last -= dt.timedelta(days=(last.weekday() + 1) % 7)
    return _epoch_days(last) * 86400 + 3600


def _epoch_days(day):
    return (day - dt.date(1970, 1, 1)).days


def brussels_offset_s(utc_s):
    year = dt.datetime.fromtimestamp(utc_s, dt.timezone.utc).year
    return 7200 if _last_sunday_utc(year, 3) <= utc_s < _last_sunday_utc(year, 10) else 3600


def brussels_date(utc_s):
    return dt.datetime.fromtimestamp(utc_s + brussels_offset_s(utc_s), dt.timezone.utc).date()


def brussels_day_bounds(day):
    """[start, end) UTC epoch seconds of a Brussels civil day (23, 24 or 25 h)."""
    def midnight(d):
        t = _epoch_days(d) * 86400
        # Local midnight is 22:00 or 23:00 UTC the day before; no switch happens then.
        return t - brussels_offset_s(t - 7200)
    return midnight(day), midnight(day + dt.timedelta(days=1))


def period_of_day(day):
    return 900 if day >= QH_SWITCH_DAY else 3600


def iso_utc(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- synthetic prices -------------------------------------------------------

def _noise(key, spread):
    """Deterministic value in [-spread, +spread] from a string key."""
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return (h / 2**64 * 2 - 1) * spread


def price_at(start_s, period_s=3600):
    """Day-ahead price (EUR/MWh, 2 decimals) of the period starting at start_s.

    The ten reference hours from 2019-12-31 23:00 UTC are the real sample; any
    other period gets a deterministic synthetic price: a seasonal level (high
    in winter), morning and evening peaks, a solar dip around 13:30 Brussels
    time in the sunny half of the year (often negative in May-August
    afternoons), a weekend discount and per-period noise.
    """
    if period_s not in (900, 3600):
        raise ValueError("period_s must be 900 or 3600")
    if start_s % period_s:
        raise ValueError("start_s must be a multiple of period_s")
    hour = (start_s - REFERENCE_START_S) // 3600
    if 0 <= hour < len(REFERENCE_PRICES):
        return REFERENCE_PRICES[hour]
    day = brussels_date(start_s)
    local_h = ((start_s + brussels_offset_s(start_s)) % 86400) / 3600.0
    doy = day.timetuple().tm_yday
    season = 2 * math.pi * doy / 365.25
    level = 75 + 35 * math.cos(season) + _noise("day:%s" % day, 12)
    peaks = 25 * math.exp(-((local_h - 8.5) ** 2) / 3) + 35 * math.exp(-((local_h - 19) ** 2) / 4) \
        - 15 * math.exp(-((local_h - 4) ** 2) / 5)
    sunny = max(0.0, math.sin(2 * math.pi * (doy - 80) / 365.25))
    solar = -(90 + _noise("sun:%s" % day, 50)) * sunny * math.exp(-((local_h - 13.5) ** 2) / 5)
    weekend = -12 if day.weekday() >= 5 else 0
    p = level + peaks + solar + weekend + _noise("p:%d:%d" % (start_s, period_s), 6)
    return round(p, 2)


def day_points(day, period_s):
    start, end = brussels_day_bounds(day)
    return [(t, price_at(t, period_s)) for t in range(start, end, period_s)]


def hourly_average_points(day):
    """Hourly averages of the quarter prices (for --elia-hourly-after-switch=average)."""
    start, end = brussels_day_bounds(day)
    return [(t, round(sum(price_at(q, 900) for q in range(t, t + 3600, 900)) / 4, 2))
            for t in range(start, end, 3600)]


def is_published(day, now_s, published_until=None, publish_time=dt.time(13, 0)):
    """Whether the prices of delivery day `day` are out at UTC instant now_s."""
    if published_until is not None:
        return day <= published_until
    today = brussels_date(now_s)
    if day <= today:
        return True
    if day == today + dt.timedelta(days=1):
        local = dt.datetime.fromtimestamp(now_s + brussels_offset_s(now_s), dt.timezone.utc).time()
        return local >= publish_time
    return False


# ---- server state -----------------------------------------------------------

class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.faults = []      # dicts: path_contains, mode, times, retry_after, delay
        self.log = []         # dicts: time, method, path, source, status, fault
        self.ec_window = []   # time.time() of Energy-Charts requests in the window
        self.stopping = threading.Event()

    def take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if f["times"] > 0 and f["path_contains"] in path:
                    f["times"] -= 1
                    return dict(f)
        return None

    def ec_admit(self, now, counted_only=False):
        """Energy-Charts rate limit. Returns None when admitted (the request
        takes a slot), else the Retry-After seconds."""
        limit, window = self.opts.ec_rate_limit, self.opts.ec_rate_window
        with self.lock:
            self.ec_window = [t for t in self.ec_window if t > now - window]
            if not counted_only and limit > 0 and len(self.ec_window) >= limit:
                return max(1, math.ceil(self.ec_window[0] + window - now))
            self.ec_window.append(now)
        return None


# ---- bodies -------------------------------------------------------------------

def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def elia_objects(points):
    return [{"dateTime": iso_utc(t), "price": p, "isVisible": True} for t, p in points]


def elia_fault_body(objs, mode):
    objs = [dict(o) for o in objs]
    if mode == "nulls":
        for i in range(1, len(objs), 4):
            objs[i]["price"] = None
    elif mode == "wrong-types" and objs:
        objs[0]["price"] = str(objs[0]["price"])
        if len(objs) > 1:
            objs[1]["dateTime"] = int(dt.datetime.strptime(objs[1]["dateTime"], "%Y-%m-%dT%H:%M:%SZ")
                                      .replace(tzinfo=dt.timezone.utc).timestamp())
        if len(objs) > 2:
            objs[2]["isVisible"] = "true"
        if len(objs) > 3:
            objs[3] = [objs[3]["dateTime"], objs[3]["price"]]
    return objs


def ec_object(points):
    return {"license_info": EC_LICENSE, "unix_seconds": [t for t, _ in points],
            "price": [p for _, p in points], "unit": EC_UNIT, "deprecated": False}


def ec_fault_body(obj, mode):
    obj = json.loads(json.dumps(obj))
    if mode == "nulls":
        for i in range(1, len(obj["price"]), 4):
            obj["price"][i] = None
    elif mode == "wrong-types" and obj["price"]:
        obj["unix_seconds"][0] = str(obj["unix_seconds"][0])
        if len(obj["price"]) > 1:
            obj["price"][1] = str(obj["price"][1])
        if len(obj["price"]) > 2:
            obj["price"][2] = True
    return obj


# ---- HTTP ---------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lowi-price-fixtures/1"
    state = None  # set by make_server

    def log_message(self, fmt, *args):
        if self.state.opts.verbose:
            sys.stderr.write("price-fixtures: " + (fmt % args) + "\n")

    # -- plumbing

    def _log_request(self, source):
        entry = {"time": time.time(), "done": None, "method": self.command, "path": self.path,
                 "source": source, "status": None, "fault": None}
        with self.state.lock:
            self.state.log.append(entry)
        return entry

    def _send(self, entry, status, body, ctype="application/json; charset=utf-8", headers=None,
              declared_len=None, close=False):
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if declared_len is None else declared_len))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        entry["done"] = time.time()

    def _send_unsized(self, entry, status, body, ctype="application/json; charset=utf-8"):
        """An answer without Content-Length, ended by closing the connection."""
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        for i in range(0, len(body), 65536):
            self.wfile.write(body[i:i + 65536])
        self.wfile.flush()
        entry["done"] = time.time()

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- dispatch

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_requests":
            with self.state.lock:
                body = dumps(self.state.log)
            return self._send_plain(200, body)
        if url.path == "/_control":
            with self.state.lock:
                body = dumps([f for f in self.state.faults if f["times"] > 0])
            return self._send_plain(200, body)
        if ELIA_RE.match(url.path):
            return self._serve("elia", url)
        if url.path == "/price":
            return self._serve("energy-charts", url)
        entry = self._log_request("unknown")
        self._send(entry, 404, b"Not Found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/_reset":
            self._read_body()
            with self.state.lock:
                self.state.faults.clear()
                self.state.log.clear()
                self.state.ec_window.clear()
            return self._send_plain(200, b'{"ok":true}')
        if url.path == "/_control":
            try:
                f = parse_fault(self._read_body())
            except ValueError as e:
                return self._send_plain(400, dumps({"ok": False, "error": str(e)}))
            with self.state.lock:
                self.state.faults.append(f)
            return self._send_plain(200, dumps({"ok": True, "fault": f}))
        self._read_body()
        entry = self._log_request("unknown")
        self._send(entry, 405, b"Method Not Allowed\n", "text/plain; charset=utf-8")

    def _send_plain(self, status, body):
        self._send({}, status, body)

    # -- the two sources

    def _serve(self, source, url):
        entry = self._log_request(source)
        now = time.time()
        fault = self.state.take_fault(self.path)
        if source == "energy-charts":
            if fault is None:
                retry = self.state.ec_admit(now)
                if retry is not None:
                    return self._send(entry, 429, dumps({"detail": "Too Many Requests"}),
                                      headers={"Retry-After": str(retry)})
            else:
                self.state.ec_admit(now, counted_only=True)
        if fault is not None:
            entry["fault"] = fault["mode"]
            if self._plain_fault(entry, fault):
                return
        try:
            status, ctype, obj = self._answer(source, url, now)
        except ValueError as e:
            return self._send(entry, 400, dumps({"detail": str(e)}))
        if isinstance(obj, bytes):
            body = obj
        else:
            mode = fault["mode"] if fault else None
            if mode == "empty":
                obj = [] if source == "elia" else ec_object([])
                status, ctype = 200, "application/json; charset=utf-8"
            elif mode in ("nulls", "wrong-types") and status == 200:
                obj = elia_fault_body(obj, mode) if source == "elia" else ec_fault_body(obj, mode)
            body = dumps(obj)
        if fault and fault["mode"] == "truncated":
            # Promise the whole body, send half, close: a transfer cut short.
            half = body[: len(body) // 2]
            return self._send(entry, status, half, ctype, declared_len=len(body), close=True)
        if fault and fault["mode"] == "truncated-body":
            body = body[: len(body) // 2]
        self._send(entry, status, body, ctype)

    def _plain_fault(self, entry, fault):
        """Faults that replace the answer entirely. True when answered."""
        mode = fault["mode"]
        if mode == "404":
            self._send(entry, 404, dumps({"detail": "Not Found"}))
        elif mode == "500":
            self._send(entry, 500, b"Internal Server Error\n", "text/plain; charset=utf-8")
        elif mode == "garbage":
            self._send(entry, 200, GARBAGE, "application/json; charset=utf-8")
        elif mode == "429":
            self._send(entry, 429, dumps({"detail": "Too Many Requests"}),
                       headers={"Retry-After": str(fault["retry_after"])})
        elif mode == "no-data-text":
            self._send(entry, 200, EC_NO_DATA_TEXT.encode(), "text/plain; charset=utf-8")
        elif mode == "hang":
            entry["status"] = None
            self.close_connection = True
            self.state.stopping.wait()
        elif mode == "slow":
            if sleep_unless_stopping(self.state.stopping, fault["delay"]):
                self.close_connection = True
                return True
            return False
        elif mode == "redirect":
            self._send(entry, 302, b"", "text/plain; charset=utf-8",
                       headers={"Location": fault["location"] or self.path})
        elif mode in ("oversize", "oversize-length"):
            body = oversize_body(fault["size"])
            if mode == "oversize-length":
                self._send(entry, 200, body)
            else:
                self._send_unsized(entry, 200, body)
        elif mode == "gzip-bomb":
            self._send(entry, 200, gzip.compress(oversize_body(fault["size"]), 9),
                       headers={"Content-Encoding": "gzip"})
        else:
            return False
        return True

    def _answer(self, source, url, now):
        """(status, content type, JSON object or raw bytes) of a normal answer."""
        opts = self.state.opts
        pub = lambda day: is_published(day, now, opts.published_until, opts.publish_time)
        js = "application/json; charset=utf-8"
        if source == "elia":
            kind, date_s = ELIA_RE.match(url.path).groups()
            day = parse_date(date_s)
            if not pub(day):
                return 200, js, []
            if kind == "auctionresultsqh":
                return 200, js, elia_objects(day_points(day, 900)) if day >= QH_SWITCH_DAY else []
            if day < QH_SWITCH_DAY:
                return 200, js, elia_objects(day_points(day, 3600))
            if opts.elia_hourly_after_switch == "average":
                return 200, js, elia_objects(hourly_average_points(day))
            return 200, js, []
        q = parse_qs(url.query)
        bzn = q.get("bzn", ["DE-LU"])[0]
        if bzn != "BE":
            raise ValueError("this fixture serves bzn=BE only, not %r" % bzn)
        today = brussels_date(now)
        start = parse_date(q["start"][0]) if "start" in q else today
        end = parse_date(q["end"][0]) if "end" in q else start
        if end < start:
            raise ValueError("end is before start")
        if (end - start).days >= EC_MAX_DAYS:
            raise ValueError("at most %d days per request" % EC_MAX_DAYS)
        points = []
        day = start
        while day <= end:
            if pub(day):
                points += day_points(day, period_of_day(day))
            day += dt.timedelta(days=1)
        if not points:
            if opts.ec_unpublished == "text":
                return 200, "text/plain; charset=utf-8", EC_NO_DATA_TEXT.encode()
            return 404, js, {"detail": "Not Found"}
        return 200, js, ec_object(points)


def oversize_body(size):
    """`size` bytes of JSON: "[{},{},...]" (padded with spaces)."""
    n = max(0, (size - 2) // 3)
    body = b"[" + b",".join([b"{}"] * n) + b"]"
    return body + b" " * (size - len(body))


def sleep_unless_stopping(stopping, seconds):
    """Sleeps up to `seconds` (time.time() based); True when stopped first.

    No timed Event.wait(): under libfaketime with a faked monotonic clock a
    timed wait never returns, while time.sleep() and untimed waits work."""
    deadline = time.time() + seconds
    while not stopping.is_set():
        left = deadline - time.time()
        if left <= 0:
            return False
        time.sleep(min(left, 0.05))
    return True


def parse_date(s):
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError("bad date %r, expected YYYY-MM-DD" % s) from None


def parse_fault(raw):
    try:
        req = json.loads(raw or b"{}")
    except json.JSONDecodeError as e:
        raise ValueError("body is not JSON: %s" % e) from None
    if not isinstance(req, dict):
        raise ValueError("body must be a JSON object")
    mode = str(req.get("mode", ""))
    if mode not in FAULT_MODES:
        raise ValueError("mode %r is not one of %s" % (mode, ", ".join(FAULT_MODES)))
    times = req.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("times must be an integer >= 1")
    path_contains = req.get("path_contains", "")
    if not isinstance(path_contains, str):
        raise ValueError("path_contains must be a string")
    retry_after = req.get("retry_after", 5)
    delay = req.get("delay", 5)
    location = req.get("location", "")
    size = req.get("size", 16 << 20)
    if isinstance(retry_after, bool) or not (isinstance(retry_after, int) and retry_after >= 0
                                             or isinstance(retry_after, str) and retry_after.isprintable()):
        raise ValueError("retry_after must be an integer >= 0 or a string (sent as it is)")
    if not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError("delay must be a number >= 0")
    if not isinstance(location, str) or not location.isprintable():
        raise ValueError("location must be a string")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= 256 << 20:
        raise ValueError("size must be an integer from 1 to 268435456")
    return {"path_contains": path_contains, "mode": mode, "times": times,
            "retry_after": retry_after, "delay": delay, "location": location, "size": size}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False   # server_close() must not join hanging handlers
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout on hang/slow) is part of the tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(opts):
    state = State(opts)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = Server(("127.0.0.1", opts.port), handler)
    server.state = state
    return server


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--published-until", type=parse_date, default=None, metavar="YYYY-MM-DD",
                    help="last published delivery day (default: from the clock: today, and "
                         "tomorrow after --publish-time Brussels time)")
    ap.add_argument("--publish-time", type=dt.time.fromisoformat, default=dt.time(13, 0), metavar="HH:MM",
                    help="Brussels time at which tomorrow's prices appear (default 13:00)")
    ap.add_argument("--ec-unpublished", choices=("404", "text"), default="404",
                    help="Energy-Charts answer for a range with no published day: 404 (default) "
                         "or 200 with a plain-text 'No data' body")
    ap.add_argument("--elia-hourly-after-switch", choices=("empty", "average"), default="empty",
                    help="Elia auctionresults (hourly) for days from 2025-10-01: [] (default) or "
                         "hourly averages of the quarter prices")
    ap.add_argument("--ec-rate-limit", type=int, default=2,
                    help="Energy-Charts requests allowed per window (default 2; 0: no limit)")
    ap.add_argument("--ec-rate-window", type=float, default=60.0,
                    help="Energy-Charts rate-limit window in seconds (default 60)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop when the parent process goes away (e.g. a faketime wrapper killed by SIGTERM)")
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return ap.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    server = make_server(opts)

    def stop(signum, frame):
        server.state.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if opts.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while not sleep_unless_stopping(server.state.stopping, 0.5):
                if os.getppid() != parent:
                    stop(None, None)
                    return
        threading.Thread(target=watch_parent, daemon=True).start()
    print("port %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.state.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
