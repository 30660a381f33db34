"""Pics is the peak of the month's non-estimated Conso rows, whatever wrote
them and in whatever order: a quarter the plugin writes again lower (or
estimated) lowers the peak, an operator's SQL change to Conso is followed
once the plugin changes a row of that meter-month, a month with no
non-estimated quarter has no Pics row, and a quarter counts for the
Brussels month of its start.

Rows reach the plugin as spool files (the format the writer spools in),
replayed when the broker starts: the same write path as live rows, with
the test choosing every value. After each step, Pics is compared with the
peak computed here from Conso, row for row."""
import os

import lib
from lib import check, free_port, note, run_main
import scenario as sc

JAN1 = 1767222000        # 2026-01-01 00:00 in Brussels (CET) = 2025-12-31 23:00 UTC
APR1 = 1774994400        # 2026-04-01 00:00 in Brussels (CEST) = 2026-03-31 22:00 UTC


def line(serial, start_s, import_wh, estimated=False):
    return f"{serial} {start_s} 1000 0 0 0 {import_wh} 0 0 0 0 0 {4 if estimated else 0}\n"


class Plugin:
    """One broker start per step: the spool file is replayed, then it stops."""

    def __init__(self, base, db):
        self.base, self.db, self.runs = base, db, 0
        self.spool = sc.spool_dir()

    def replay(self, lines, **opts):
        self.runs += 1
        path = os.path.join(self.spool, f"{self.runs:020d}.rows")
        with open(path, "w") as f:
            f.writelines(lines)
        os.chown(path, *_mosquitto())
        port = free_port()
        conf = lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=sc.plugin_options(
            self.db, spool_dir=self.spool, db_timeout=10, **opts))
        b = lib.Broker().start(conf, f"{self.base}/broker{self.runs}", port=port)
        b.wait_log(r"lowi-p1: replayed \d+ spooled rows", 20)
        b.stop()
        return b


def _mosquitto():
    import pwd
    p = pwd.getpwnam("mosquitto")
    return p.pw_uid, p.pw_gid


def expected_peaks(db):
    """{(serial, 'YYYY-MM-01'): (kW, start)} from Conso: the highest
    non-estimated quarter of each Brussels month, the earliest of equal ones."""
    rows = db.query("SELECT Serial, TIMESTAMPDIFF(SECOND, '1970-01-01', DtTm), Soutire FROM Conso"
                    " WHERE Estimated = 0 ORDER BY Serial, DtTm", db="P1")
    out = {}
    for serial, ts, sout in rows:
        key = (serial, sc.brussels_month(ts))
        kw = float(sout) * 4
        if key not in out or kw > out[key][0]:
            out[key] = (kw, int(ts))
    return out


def compare(db, label, expect=None):
    want, got = expected_peaks(db), sc.db_peaks(db)
    wrong = sorted(k for k in set(want) | set(got) if k not in got or k not in want
                   or abs(got[k][0] - want[k][0]) > 1e-6 or got[k][1] != want[k][1])
    extra = ""
    ok = not wrong
    if expect is not None:
        for k, v in expect.items():
            if got.get(k) != v:
                ok = False
                extra += f" {k}: Pics {got.get(k)}, expected {v};"
    check(f"{label}: Pics equals the peak of Conso", ok,
          f"{len(got)} Pics rows, {len(wrong)} differ" + (f" (first {wrong[0]}: Pics {got.get(wrong[0])},"
                                                            f" Conso {want.get(wrong[0])})" if wrong else "") + extra)
    return got


def main():
    base = sc.workdir("pics")
    db = lib.MariaDB().start(f"{base}/db")
    db.create_database("P1", sc.DB_USER, sc.DB_PASSWORD)
    p = Plugin(base, db)

    # Step 1: three days of January for meter A with one high quarter, in
    # one file with other meters and months (several meter-months a batch,
    # batches of 100 rows).
    high = JAN1 + 900 * 130
    second = JAN1 + 900 * 40
    rows = []
    for q in range(3 * 96):
        t = JAN1 + 900 * q
        rows.append(line("A", t, 2000 if t == high else 900 if t == second else 100 + q % 50))
        rows.append(line("B", t + 31 * 86400, 50 + q % 70))                 # February
    rows.append(line("C", APR1 - 900, 700))     # 23:45 on 31 March in Brussels: March
    rows.append(line("C", APR1, 800))           # 00:00 on 1 April in Brussels: April
    rows.append(line("C", APR1 + 900, 800))     # equal to the one before: the earlier stays the peak
    rows.append(line("D", JAN1 + 86400, 3000, estimated=True))    # only estimated quarters: no Pics row
    rows.append(line("D", JAN1 + 86400 + 900, 10, estimated=True))
    p.replay(rows, batch_rows=100)
    compare(db, "step 1, a month with a high quarter", {
        ("A", "2026-01-01"): (8.0, high), ("C", "2026-03-01"): (2.8, APR1 - 900), ("C", "2026-04-01"): (3.2, APR1)})
    check("step 1: a month with only estimated quarters has no Pics row",
          not db.query("SELECT 1 FROM Pics WHERE Serial = 'D'", db="P1"), "meter D")

    # Step 2: the high quarter written again, lower: the peak follows down.
    p.replay([line("A", high, 500)])
    compare(db, "step 2, the high quarter rewritten lower", {("A", "2026-01-01"): (3.6, second)})

    # Step 3: the new peak written again as estimated: it no longer counts.
    # (The next highest is the first high quarter, now at 500 Wh: 2 kW.)
    p.replay([line("A", second, 900, estimated=True)])
    compare(db, "step 3, the peak quarter rewritten as estimated", {("A", "2026-01-01"): (2.0, high)})

    # Step 4: an operator raises a quarter by SQL; the next row the plugin
    # changes in that month brings Pics to it (a new row alone only raises
    # the peak to itself). Then the operator lowers it again: followed at
    # the next changed row.
    op = JAN1 + 900 * 200
    db.query("UPDATE Conso SET Soutire = 2.5 WHERE Serial = 'A' AND DtTm = '1970-01-01' + INTERVAL %s SECOND", (op,),
             db="P1")
    before = sc.db_peaks(db).get(("A", "2026-01-01"))
    p.replay([line("A", JAN1 + 900 * 300, 100)])
    check("step 4: a new row alone leaves Pics as it was", sc.db_peaks(db).get(("A", "2026-01-01")) == before,
          f"{sc.db_peaks(db).get(('A', '2026-01-01'))} against {before}")
    p.replay([line("A", JAN1 + 900 * 100, 123)])
    compare(db, "step 4, an operator's higher quarter, the month touched again", {("A", "2026-01-01"): (10.0, op)})
    note(f"step 4: before the plugin touched the month, Pics said {before}")
    db.query("UPDATE Conso SET Soutire = 0.01 WHERE Serial = 'A' AND DtTm = '1970-01-01' + INTERVAL %s SECOND", (op,),
             db="P1")
    p.replay([line("A", JAN1 + 900 * 101, 124)])
    got = compare(db, "step 4, the operator's quarter lowered again")
    check("step 4: Pics left the operator's quarter", got.get(("A", "2026-01-01"), (0, 0))[1] != op,
          f"{got.get(('A', '2026-01-01'))}")

    # Step 5: C's only March quarter rewritten as estimated: March has no peak left.
    p.replay([line("C", APR1 - 900, 700, estimated=True)])
    compare(db, "step 5, a month's last non-estimated quarter rewritten as estimated")
    check("step 5: that month's Pics row is gone",
          not db.query("SELECT 1 FROM Pics WHERE Serial = 'C' AND Mois = '2026-03-01'", db="P1"), "meter C, March")

    # Step 6: a row MariaDB refuses (a CHECK constraint) in a batch: the
    # batch is written row by row, and the others' peaks are right.
    db.query("ALTER TABLE Conso ADD CONSTRAINT lowi_test_refuse CHECK (Soutire < 50)", db="P1")
    p.replay([line("E", JAN1, 300), line("E", JAN1 + 900, 60000), line("E", JAN1 + 1800, 400)])
    compare(db, "step 6, a refused row in the batch", {("E", "2026-01-01"): (1.6, JAN1 + 1800)})
    db.query("ALTER TABLE Conso DROP CONSTRAINT lowi_test_refuse", db="P1")

    # Step 7: a user with the privileges the README asked for before (no
    # DELETE): rows and peaks are still written; the one thing it cannot do
    # (remove the row of a month left without a measured quarter) is said once.
    db.query("CREATE USER 'nodelete'@'%' IDENTIFIED BY 'nd-pass'")
    db.query("GRANT SELECT, INSERT, UPDATE, CREATE, CREATE VIEW ON P1.* TO 'nodelete'@'%'")
    b = p.replay([line("F", JAN1, 250), line("F", JAN1 + 900, 350), line("G", JAN1, 100)],
                 db_user="nodelete", db_password="nd-pass")
    warned = b.log_lines(r"lowi-p1: the database user may not DELETE from Pics")
    compare(db, "step 7, a user without DELETE", {("F", "2026-01-01"): (1.4, JAN1 + 900)})
    check("step 7: the missing DELETE is said once, nothing else fails", len(warned) == 1
          and not b.log_lines(r"lowi-p1: database .*failed"), warned[0][warned[0].find("lowi"):] if warned else "no line")
    db.stop()


run_main(main)
