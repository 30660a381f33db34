"""Several database nodes (issue 14): two brokers with lowi-p1 and disjoint
meters write to a three-node MariaDB Galera cluster on loopback, each with
db_host listing the three nodes in its own order (so two nodes get writes).
First a client on the third node keeps touching the Pics rows the brokers
write, so that Galera aborts a broker's transaction (1213): it must be run
again in place. Mid-quarter one node is killed with SIGKILL; later a second
one is stopped and started again, and the killed one restarted (both rejoin
by a state transfer). Then a split: two nodes killed at once leave the third
without a majority, refusing every statement (1047); the brokers spool
until it is made primary again, and the two others rejoin. Afterwards every
measurable quarter of every meter is in Conso, right, on every node, the
nodes hold the same rows and the same Pics, and each broker's log names the
node it moved to. The brokers and simulators run on a clock 60x faster than
real; the nodes on the real clock (lib.MariaDB)."""
import re
import subprocess
import threading
import time

import lib
from lib import check, free_port, note, real_time, run_main
import prices as px
import scenario as sc
from galera import GaleraCluster

START = "2026-02-20 07:50:00"
# 08:50 in Brussels, before the auction: days 2026-02-14 to 2026-02-20.
PRICE_FIRST, PRICE_DAYS = "2026-02-14", 7
lib.use_fake_clock(START, 60)



def at(t):
    """Waits until the shared fake clock reaches epoch second t."""
    lib.wait_for(lambda: time.time() >= t, 600, f"simulated {clock(t)}")


def touch_pics(node, stop, tally):
    """Until stop: one transaction after another on node, each raising then
    lowering every Pics row's kW by 1 kW (so their values stay)."""
    import pymysql
    conn = node.connect("P1", autocommit=False)
    try:
        while not stop.is_set():
            try:
                with conn.cursor() as c:
                    c.execute("UPDATE Pics SET kW = kW + 1")
                    c.execute("UPDATE Pics SET kW = kW - 1")
                conn.commit()
                tally["commits"] += 1
            except pymysql.err.OperationalError:
                conn.rollback()
                tally["aborts"] += 1
    finally:
        conn.close()


def clock(t):
    return time.strftime("%H:%M:%S", time.gmtime(t))


def main():
    base = sc.workdir("galera")
    t_start = real_time()
    cluster = GaleraCluster(3).start(f"{base}/galera")
    n = cluster.nodes
    note(f"three nodes Synced in {cluster.start_seconds:.1f} s real")
    n[0].create_database("P1", sc.DB_USER, sc.DB_PASSWORD)

    orders = ((0, 1, 2), (1, 2, 0))
    # The quarters of the scenario: q0 starts the second whole one, so that
    # each meter has a monthly peak in Pics by then.
    now = time.time()
    q0 = (int(now) // 900 + 2) * 900
    end = q0 + 6 * 900 + 300
    brokers, sims = [], []
    # Both brokers fetch prices from the loopback price server, each
    # through its own node: one of them must fetch, once per day.
    fixtures = px.FixtureServer(base)
    for i, (seed, order) in enumerate(zip((41, 42), orders)):
        port = free_port()
        opts = sc.plugin_options(n[0], db_host=cluster.db_host(order), price_source="elia",
                                 price_url=fixtures.url + px.ELIA_PATH, price_start=PRICE_FIRST)
        del opts["db_port"]
        b = lib.Broker().start(lib.broker_conf(port, plugin=sc.PLUGIN, plugin_opts=opts), f"{base}/broker{i}", port=port)
        brokers.append(b)
        # The first broker creates the schema before the second connects
        # (README: on a cluster, one node creates the schema).
        b.wait_log(rf"connected to MariaDB .* on 127\.0\.0\.1:{n[order[0]].port} ", 30)
        d = f"{base}/sim{i}"
        subprocess.run(["mkdir", "-p", d], check=True)
        sims.append((d, subprocess.Popen(sc.sim_command(port, d, meters=6, interval=60, jitter=5,
                                                        duration=int(end - time.time()), seed=seed),
                                         stdout=subprocess.PIPE, text=True)))
    check("each broker starts on the first node of its list",
          all(b.log_lines(rf"connected to MariaDB .* on 127\.0\.0\.1:{n[o[0]].port} ") for b, o in zip(brokers, orders)),
          "; ".join(b.log_lines("connected to MariaDB")[0].split("lowi-p1: ")[-1][:90] for b in brokers))

    # Certification conflicts: while the brokers write the quarters ending
    # at q0 and q0 + 15 min on nodes 1 and 2, a client on node 3 keeps
    # changing the same Pics rows (back and forth: their values stay).
    # Galera then aborts a broker's transaction (1213) now and then, at a
    # statement or at COMMIT; the batch must be run again on the same
    # session, neither spooled nor sent to another node. The client stops
    # at the first conflict seen; whether one happens at all is up to the
    # timing of the two nodes, so the count is noted.
    def conflict_lines():
        return [ln for b in brokers for ln in b.log_lines(r"lowi-p1: database .*error 1213")]
    connected = [len(b.log_lines("connected to MariaDB")) for b in brokers]
    spooled = [len(b.log_lines(r"lowi-p1: spooled \d+ rows")) for b in brokers]
    tally = {"commits": 0, "aborts": 0}
    for boundary in (q0, q0 + 900):
        at(boundary - 20)
        stop = threading.Event()
        hammer = threading.Thread(target=touch_pics, args=(n[2], stop, tally))
        hammer.start()
        try:
            lib.wait_for(lambda: conflict_lines() or time.time() >= boundary + 60, 60, "the quarter's batches")
        finally:
            stop.set()
            hammer.join()
        if conflict_lines():
            break
    at(boundary + 150)  # the quarter's batches are through
    conflicts = conflict_lines()
    note(f"client on node3: {tally['commits']} commits, {tally['aborts']} aborted; {len(conflicts)} conflicts"
         f" in the brokers' writers")
    connected_after = [len(b.log_lines("connected to MariaDB")) for b in brokers]
    spooled_after = [len(b.log_lines(r"lowi-p1: spooled \d+ rows")) for b in brokers]
    check("certification conflicts (1213) are retried on the same session",
          connected_after == connected and spooled_after == spooled,
          (conflicts[0].split("lowi-p1: ")[-1][:120] if conflicts else "no conflict happened")
          + f"; connections {connected} then {connected_after}, spool lines {spooled} then {spooled_after}")

    # Node 1 (broker 0's) dies mid-quarter.
    at(q0 + 900 + 450)
    t_kill = real_time()
    n[0].kill()
    note(f"node1 killed (SIGKILL) at {clock(q0 + 900 + 450)}")
    moved = brokers[0].wait_log(rf"connected to MariaDB .* on 127\.0\.0\.1:{n[1].port} ", 60)
    failover_s = real_time() - t_kill
    check("broker 0 moves to the next node of its list after the kill", moved,
          f"{failover_s:.1f} s real: {moved[0].split('lowi-p1: ')[-1][:100]}")

    # Node 2 (now both brokers') leaves mid-quarter, cleanly.
    at(q0 + 2 * 900 + 450)
    r = n[1].stop()
    note(f"node2 stopped (SIGTERM, {r.seconds:.1f} s) at {clock(q0 + 2 * 900 + 450)}")
    for b in brokers:
        b.wait_log(rf"connected to MariaDB .* on 127\.0\.0\.1:{n[2].port} ", 60)
    check("both brokers on node 3 once node 2 is gone",
          all(b.log_lines(rf"connected to MariaDB .* on 127\.0\.0\.1:{n[2].port} ") for b in brokers), "")

    # Node 2 back after about a quarter, then node 1: each rejoins.
    at(q0 + 3 * 900 + 300)
    t_rejoin = real_time()
    cluster.restart(1)
    cluster.restart(0)
    cluster.wait_synced()
    note(f"node2 and node1 restarted and Synced in {real_time() - t_rejoin:.1f} s real")

    # A split: nodes 1 and 2 vanish at once, node 3 alone is not a
    # majority and refuses every statement (1047); the brokers spool.
    at(q0 + 4 * 900 + 450)
    spooled_before = [len(b.log_lines(r"spooled \d+ rows")) for b in brokers]
    connected_before = [len(b.log_lines(r"connected to MariaDB")) for b in brokers]
    n[0].kill()
    n[1].kill()
    lib.wait_for(lambda: n[2].status("wsrep_cluster_status") == "non-Primary", 60, "node3 non-Primary")
    note(f"nodes 1 and 2 killed at {clock(q0 + 4 * 900 + 450)}: node3 non-Primary")
    for b, k in zip(brokers, spooled_before):
        b.wait_log(r"spooled \d+ rows", 60, count=k + 1)
    refused = [b.log_lines(r"lowi-p1: database .*error 1047") for b in brokers]
    check("split: node 3 refuses the brokers' writers with 1047, and their rows go to the spool",
          all(refused) and all(len(b.log_lines(r"spooled \d+ rows")) > k for b, k in zip(brokers, spooled_before)),
          refused[0][0].split("lowi-p1: ")[-1][:300] if refused[0] else "no 1047 line")
    # Made primary again by hand (pc.bootstrap), as an operator would; the
    # two others then rejoin it.
    at(q0 + 5 * 900 + 450)
    check("split: no session is opened on the non-primary node",
          all(len(b.log_lines(r"connected to MariaDB")) == k for b, k in zip(brokers, connected_before)),
          f"{[len(b.log_lines(r'connected to MariaDB')) for b in brokers]} connections, {connected_before} before")
    n[2].query("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
    lib.wait_for(lambda: n[2].synced(), 60, "node3 Primary")
    t_rejoin = real_time()
    cluster.restart(0)
    cluster.restart(1)
    cluster.wait_synced()
    note(f"node3 bootstrapped at {clock(q0 + 5 * 900 + 450)}; nodes 1 and 2 rejoined in {real_time() - t_rejoin:.1f} s real")
    for d, p in sims:
        out, _ = p.communicate(timeout=900 * lib.clock_factor())
        check(f"simulator {d[-4:]} finished", p.returncode == 0, out.strip().replace("\n", " ")[-100:])
    for node in n:
        sc.await_rows(node, *(d for d, _ in sims), timeout=60)
    for b in brokers:
        b.stop()
    truth = {}
    for d, _ in sims:
        truth.update(sc.measurable(sc.load_truth(d), sc.load_published(d)))
    per_node = []
    for node in n:
        rows = sc.db_rows(node)
        per_node.append(rows)
        missing = [k for k in truth if k not in rows]
        extra = [k for k in rows if k[0] not in {s for s, _ in truth}]
        med, p95, mx, cnt = sc.error_stats({k: r["import_wh"] for k, r in rows.items()}, truth)
        check(f"{node.name}: every quarter of every meter present and right",
              not missing and not extra and med <= 1.0 and mx <= 25,
              f"{cnt} quarters, {len(missing)} missing, {len(extra)} of unknown meters,"
              f" |error| median {med:.3f} p95 {p95:.3f} max {mx:.3f} Wh")
        # Pics is the month's highest non-estimated quarter of that node's
        # own Conso (whose rows are checked against the truth just above).
        peaks = sc.db_peaks(node)
        want_peaks = sc.monthly_peaks({k: r for k, r in rows.items() if not r["estimated"]})
        off = [k for k, (kw, _) in want_peaks.items() if k not in peaks or abs(peaks[k][0] - kw) > 0.0005]
        check(f"{node.name}: each meter's monthly peak in Pics, as in Conso", not off and len(peaks) == len(want_peaks),
              f"{len(want_peaks)} peaks, {len(off)} off, {len(peaks)} rows"
              + "".join(f"; {k}: {peaks.get(k)} for {want_peaks[k]}" for k in off[:3]))
    check("the three nodes hold the same Conso rows", per_node[0] == per_node[1] == per_node[2],
          f"{[len(r) for r in per_node]} rows")
    pics = [sc.db_peaks(node) for node in n]
    check("the three nodes hold the same Pics rows", pics[0] == pics[1] == pics[2], f"{[len(p) for p in pics]} rows")

    for i, b in enumerate(brokers):
        c = b.counters()
        nodes = [ln.split(" on ")[1].split(" ")[0] for ln in b.log_lines(r"lowi-p1: connected to MariaDB")]
        price = [ln.split("database node ")[1].split(";")[0] for ln in b.log_lines(r"lowi-p1: prices: database node")]
        note(f"broker {i}: writer nodes {' -> '.join(nodes)}; price worker nodes {' -> '.join(price)};"
             f" db_connects {c.get('db_connects')}, db_errors {c.get('db_errors')},"
             f" rows_written {c.get('rows_written')}, rows_spooled {c.get('rows_spooled')},"
             f" rows_replayed {c.get('rows_replayed')}")
        check(f"broker {i}: nothing lost on the way", c.get("rows_spooled", 0) == c.get("rows_replayed", 0)
              and not b.log_lines("are lost"),
              f"spooled {c.get('rows_spooled')}, replayed {c.get('rows_replayed')}")
        check(f"broker {i}: the price worker follows too", len(price) >= 2, f"{price}")
    # One price fetcher for the cluster (README, "One fetcher per database").
    reqs = fixtures.requests()
    days = sorted({(re.search(r"\d{4}-\d{2}-\d{2}", r["path"]) or re.search(".*", r["path"])).group(0) for r in reqs})
    fetchers = [b for b in brokers if b.log_lines(r"lowi-p1: prices: this broker fetches the prices")]
    followers = [b for b in brokers if b.log_lines(r"lowi-p1: prices: \S+ fetches the prices for the database; this")]
    takes = [b.counters().get("price_lease_takes") for b in brokers]
    note(f"prices: {len(reqs)} requests for {len(days)} days; lease takes per broker {takes}")
    check("one broker fetched the prices for the cluster, the other read them", len(fetchers) == 1
          and len(followers) == 1 and fetchers[0] is not followers[0] and sorted(takes) == [0, 1], f"takes {takes}")
    check(f"the price source got one request per day: {PRICE_DAYS}", len(reqs) == PRICE_DAYS == len(days),
          f"{len(reqs)} requests for {len(days)} days")
    stored = [node.query("SELECT COUNT(*), SUM(price) FROM PxElectr", db="P1")[0] for node in n]
    check("every node holds the same prices", stored[0] == stored[1] == stored[2] and stored[0][0] == PRICE_DAYS * 96,
          f"{stored}")
    fixtures.stop()
    note(f"rows {len(per_node[0])}; wall time {real_time() - t_start:.0f} s real")
    cluster.stop()


run_main(main)
