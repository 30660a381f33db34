"""Reproducers of the product bugs found by tests/fuzz/ (not part of
tests/run.sh): each case runs the real broker, plugin and MariaDB on an
accelerated clock, as the integration tests do, and PASSes only when the
bug is gone. Run one or all:

    /usr/bin/python3 tests/fuzz/repro_bugs.py [counter-limit|late-water|tariff-range|tariff-rounding]

The plugin is taken from $LOWI_BUILD_DIR (default build/); with a
sanitized build (tests/sanitize.sh's build-asan) the broker gets the ASan
runtime preloaded, and the tariff-range case then shows the over-read as an
AddressSanitizer report in the broker log.

counter-limit  The decoder accepts counters up to 1e12 Wh inclusive, but
               Conso.In_D..OUT_N are DECIMAL(12,3) kWh (max 999999999.999):
               a meter publishing CIH = 1000000000000 produces a row MariaDB
               refuses (error 1264, out of range). The writer rolls the batch
               back, reconnects and retries the same batch forever: no row
               of ANY meter is written from then on.
late-water     A meter whose first readings have no CW and whose later ones
               do: the first quarter row after CW appears books the whole
               water index (here 123456.789 m3) as the quarter's use
               (plugin/quarter.c: boundary_total[QC_WATER] is not seeded
               when the counter first appears). Gas (CG) likewise.
tariff-range   A contract formula whose value does not fit Buy/Sell
               DECIMAL(12,5) (|v| >= 1e7 c/kWh, e.g. 'price * 1e6') is
               accepted by tariff_prices(); every INSERT of PxElectr for the
               days it governs fails (error 1264), so not even the market
               price is stored, and the worker retries forever. With
               |v| >= 1e26 ('price * 1e300') the "%.5f" text no longer fits
               price_store.c's 32-byte buffer but its full length is given
               to libmariadb (buy_len = snprintf's return value): a heap
               over-read past struct price_store.
tariff-rounding  tariff_prices() checks |Buy| < 1e7 before rounding to 5
               decimals: a formula worth 9999999.999996 passes the check,
               rounds to 10000000.00000, one more than DECIMAL(12,5) holds,
               and the INSERT of PxElectr failed as above.
"""
import datetime as dt
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lib  # noqa: E402
from lib import check, note, run_main  # noqa: E402
import prices as px  # noqa: E402
import scenario as sc  # noqa: E402

CASES = sys.argv[1:] or ["counter-limit", "late-water", "tariff-range", "tariff-rounding"]
lib.use_fake_clock("2026-02-10 05:58:00", 60)

BUILD = os.path.join(sc.ROOT, os.environ.get("LOWI_BUILD_DIR", "build"))
PLUGIN = os.path.join(BUILD, "plugin", "lowi_p1.so")


def broker_env():
    """The test's environment; with a sanitized plugin, the ASan runtime
    preloaded first (see tests/sanitize.sh)."""
    env = dict(os.environ)
    if "asan" in os.path.basename(BUILD.rstrip("/")):
        libs = [os.path.realpath(subprocess.run(["gcc", f"-print-file-name={n}"], capture_output=True,
                                                text=True).stdout.strip()) for n in ("libasan.so", "libubsan.so")]
        env["LD_PRELOAD"] = ":".join(libs + ([env["LD_PRELOAD"]] if env.get("LD_PRELOAD") else []))
        # symbolize=0 and allocator_release_to_os_interval_ms=-1: ASan under
        # libfaketime (see tests/sanitize.sh); symbolize the report with
        # tests/fuzz/sanitizer_report.py <broker.log>.
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:allocator_release_to_os_interval_ms=-1:symbolize=0"
    return env


def start_broker(base, db, db_name, **opts):
    port = lib.free_port()
    conf = lib.broker_conf(port, plugin=PLUGIN, plugin_opts=sc.plugin_options(db, db_name, **opts))
    broker = lib.Broker().start(conf, os.path.join(base, f"broker-{db_name}"), port=port, env=broker_env())
    broker.wait_log(r"lowi-p1: connected to MariaDB", 30)
    return broker


def reading(cih, cw=None):
    r = {"CIH": cih, "CIL": 137096, "CEH": 10976, "CEL": 3381, "PI": 300, "PE": 0, "T": 1}
    if cw is not None:
        r["CW"] = cw
    return json.dumps(r)


def publish_every_minute(broker, minutes, payloads):
    """payloads(i) -> {serial: payload}; one round per simulated minute."""
    c = lib.MqttClient(broker.port).connect()
    try:
        for i in range(minutes):
            for serial, payload in payloads(i).items():
                c.publish(f"{serial}/PUB/CH0", payload)
            lib.sleep(60 / lib.clock_factor())
    finally:
        c.close()


def counter_limit(base, db):
    db.create_database("CL", sc.DB_USER, sc.DB_PASSWORD)
    broker = start_broker(base, db, "CL")
    # 40 simulated minutes: quarters 06:00 and 06:15 complete for both meters.
    publish_every_minute(broker, 40, lambda i: {"aaaaaaaaaaaa": reading(130838 + 5 * i),
                                                "bbbbbbbbbbbb": reading(1000000000000)})
    rows = db.query("SELECT Serial, COUNT(*) FROM Conso GROUP BY Serial", db="CL")
    errors = broker.log_lines(r"lowi-p1: database Conso upsert failed")
    broker.stop()
    note(f"Conso rows per meter: {rows}; {len(errors)} writer errors, first: {errors[0][-160:] if errors else None}")
    check("counter-limit: a meter at CIH 1e12 Wh does not stop the rows of the other meter",
          dict(rows).get("aaaaaaaaaaaa", 0) >= 1 and not errors, f"rows {rows}, {len(errors)} writer errors")


def late_water(base, db):
    db.create_database("LW", sc.DB_USER, sc.DB_PASSWORD)
    broker = start_broker(base, db, "LW")
    # CW absent for the first 5 minutes (the series starts without it), then
    # present with a constant index: no water is used at all.
    publish_every_minute(broker, 40, lambda i: {"cccccccccccc": reading(130838 + 5 * i,
                                                                        None if i < 5 else 123456789)})
    broker.stop()
    rows = db.query("SELECT DATE_FORMAT(DtTm, '%H:%i'), Water_m3 FROM Conso WHERE Serial = 'cccccccccccc' ORDER BY DtTm",
                    db="LW")
    note(f"Conso rows (DtTm, Water_m3): {rows}")
    bad = [r for r in rows if r[1] is not None and float(r[1]) != 0.0]
    check("late-water: a water counter that appears mid-series books no water it did not count",
          rows and not bad, f"rows with water use: {bad}")


def tariff_range(base, db, formulas=(("TR", "price * 1e6"), ("TO", "price * 1e300"))):
    fixtures = px.FixtureServer(base)
    for name, buy in formulas:
        db.create_database(name, sc.DB_USER, sc.DB_PASSWORD)
        # The contract is there before the plugin's first start (no seeding).
        db.query("CREATE TABLE FormPxElectr (FromDt DATE NOT NULL PRIMARY KEY, BuyFormula VARCHAR(255) NOT NULL,"
                 " SellFormula VARCHAR(255) NOT NULL) ENGINE=InnoDB", db=name)
        db.query("INSERT INTO FormPxElectr VALUES ('2020-01-01', %s, 'price/10')", (buy,), db=name)
        first = dt.date(2026, 2, 1)
        broker = start_broker(base, db, name, price_source="elia", price_url=fixtures.url + px.ELIA_PATH,
                              price_start=first.isoformat())
        ok = px.wait_days(db, name, first, dt.date(2026, 2, 5), 30)
        errors = broker.log_lines(r"lowi-p1: prices: .*(storing prices|failed)")
        asan = broker.log_lines(r"ERROR: AddressSanitizer")
        broker.stop()
        n = len(px.stored(db, name))
        note(f"{buy!r}: {n} periods stored, {len(errors)} error lines, first: {errors[0][-200:] if errors else None}")
        if asan:
            note(f"{buy!r}: {asan[0]}")
        check(f"tariff-range: Buy formula {buy!r} out of DECIMAL(12,5) range: prices still stored (Buy NULL), "
              "no memory error", ok and not asan, f"{n} periods, {len(asan)} ASan reports")
    fixtures.stop()


def main():
    base = sc.workdir("repro")
    db = lib.MariaDB().start(os.path.join(base, "db"))
    for case in CASES:
        {"counter-limit": counter_limit, "late-water": late_water, "tariff-range": tariff_range,
         "tariff-rounding": lambda b, d: tariff_range(b, d, (("TX", "9999999.999996"),))}[case](base, db)
    db.stop()


run_main(main)
