#!/usr/bin/env python3
"""The reference program's collector, as the `reference` benchmark part runs
it beside a bare broker (tests/bench/reference.py; the README's
"Compared with the reference Python program").

Kept from the reference: a paho-mqtt client subscribed to <serial>/PUB/CH0;
each message stamped with the wall-clock UTC time at which it is handled; at
the first message of a new quarter-hour one Conso row for the previous
quarter, with that message's indexes / 1000 in FLOAT columns and Soutire /
Injecte against the meter's previous row; then the UTC month's peak in Pics
(kW = 4 x Soutire; DtTm is never updated when a higher peak replaces it);
one commit per row.

Changed for the benchmark: one process serves every meter of the run (the
reference serves one, so it subscribes with a `+` for the serial and its
tables carry a Serial column in their keys), and the database driver is
MySQLdb (python3-mysqldb, the C client library), the cheaper of Debian's two.

    reference_subscriber.py --port P --db-port P --db-user U --db-password W --db-name N

stdout: "subscribed" once the subscription is acknowledged; on SIGUSR1 and at
exit "received=N rows=N errors=N" (errors: payloads or rows it could not
handle). SIGTERM or SIGINT stops it.
"""

import argparse
import datetime
import json
import signal
import sys

import MySQLdb
import paho.mqtt.client as mqtt

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS Conso (Serial VARCHAR(32), DtTm DATETIME, In_D FLOAT, In_N FLOAT,"
    " OUT_D FLOAT, OUT_N FLOAT, Soutire FLOAT, Injecte FLOAT, PRIMARY KEY (Serial, DtTm))",
    "CREATE TABLE IF NOT EXISTS Pics (Serial VARCHAR(32), Mois DATE, DtTm DATETIME, kW FLOAT,"
    " PRIMARY KEY (Serial, Mois))",
)
QUARTER = datetime.timedelta(minutes=15)


class Collector:
    def __init__(self, db):
        self.db = db
        self.quarter = {}    # serial -> quarter (UTC) of its last message
        self.previous = {}   # serial -> (In_D + In_N, OUT_D + OUT_N) of its last row
        self.received = self.rows = self.errors = 0

    def status(self):
        print(f"received={self.received} rows={self.rows} errors={self.errors}", flush=True)

    def on_message(self, client, userdata, msg):
        self.received += 1
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        serial = msg.topic.split("/", 1)[0]
        try:
            p = json.loads(msg.payload)
            ind, inn = float(p["CIH"]) / 1000, float(p["CIL"]) / 1000
            outd, outn = float(p["CEH"]) / 1000, float(p["CEL"]) / 1000
            quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
            last = self.quarter.get(serial)
            self.quarter[serial] = quarter
            if last is not None and quarter != last:
                self.write_row(serial, quarter - QUARTER, ind, inn, outd, outn)
        except (ValueError, KeyError, TypeError, MySQLdb.Error) as e:
            self.errors += 1
            print(f"error: {serial}: {e}", file=sys.stderr, flush=True)
            try:
                self.db.rollback()
            except MySQLdb.Error:
                pass

    def write_row(self, serial, dttm, ind, inn, outd, outn):
        c = self.db.cursor()
        prev = self.previous.get(serial)
        if prev is None:
            c.execute("SELECT In_D + In_N, OUT_D + OUT_N FROM Conso WHERE Serial = %s ORDER BY DtTm DESC LIMIT 1",
                      (serial,))
            prev = c.fetchone() or (ind + inn, outd + outn)
        soutire = round(ind + inn - prev[0], 3)
        injecte = round(outd + outn - prev[1], 3)
        self.previous[serial] = (ind + inn, outd + outn)
        c.execute("INSERT INTO Conso (Serial, DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte)"
                  " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                  (serial, dttm, ind, inn, outd, outn, soutire, injecte))
        mois = dttm.date().replace(day=1)
        kw = soutire * 4
        c.execute("SELECT kW FROM Pics WHERE Serial = %s AND Mois = %s", (serial, mois))
        peak = c.fetchone()
        if peak is None:
            c.execute("INSERT INTO Pics (Serial, Mois, DtTm, kW) VALUES (%s, %s, %s, %s)", (serial, mois, dttm, kw))
        elif kw > peak[0]:
            c.execute("UPDATE Pics SET kW = %s WHERE Serial = %s AND Mois = %s", (kw, serial, mois))
        self.db.commit()
        c.close()
        self.rows += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--topic", default="+/PUB/CH0")
    # On the benchmark's fast clock 60 s of keepalive is 1 s real: the
    # broker would drop the collector while it commits a boundary's rows.
    ap.add_argument("--keepalive", type=int, default=60)
    ap.add_argument("--db-host", default="127.0.0.1")
    ap.add_argument("--db-port", type=int, default=3306)
    ap.add_argument("--db-user", required=True)
    ap.add_argument("--db-password", required=True)
    ap.add_argument("--db-name", required=True)
    args = ap.parse_args()

    db = MySQLdb.connect(host=args.db_host, port=args.db_port, user=args.db_user, passwd=args.db_password,
                         db=args.db_name)
    with db.cursor() as c:
        for sql in SCHEMA:
            c.execute(sql)
    db.commit()
    col = Collector(db)
    client = mqtt.Client(client_id="reference-collector", clean_session=True)
    client.on_message = col.on_message
    client.on_connect = lambda cl, ud, flags, rc: cl.subscribe(args.topic, 0)
    client.on_subscribe = lambda cl, ud, mid, granted: print("subscribed", flush=True)

    def stop(signum, frame):
        client.disconnect()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda signum, frame: col.status())
    client.connect(args.host, args.port, keepalive=args.keepalive)
    client.loop_forever()
    col.status()
    db.close()


if __name__ == "__main__":
    main()
