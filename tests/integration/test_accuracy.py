"""Done-when 2 of the plugin issue: two LOWIs publishing every 60 s with
jitter for 24 simulated hours, on a clock 600x faster than real. The
simulator's default household is the issue's typical one (electric heating
cycling, cooking, EV; on this stream the reference rule's median error is
near 5 Wh and its 95th percentile near 60 Wh), and each dongle's clock runs
free (a period a little longer than 60 s), so its publish phase wanders from
one quarter to the next.
Every quarter gets a Conso row; its energy matches the simulator's ground
truth (median |error| <= 1 Wh, 95th percentile <= 1/10 of the reference
rule's on the same stream); Pics holds the true monthly peak within 0.02 kW,
unless the estimator itself misses it on this stream (see below and
test_estimator)."""
import math

import lib
from lib import check, free_port, note, run_main
import scenario as sc

# 300x: fast enough for CI, slow enough that the few milliseconds of real
# loopback latency between publisher and broker stay well under a second of
# simulated time.
lib.use_fake_clock("2026-01-14 23:50:00", 300)


def main():
    base = sc.workdir("accuracy")
    port = free_port()
    db, broker = sc.start_stack(base, port)
    sc.run_sim(port, base, meters=2, interval=60, jitter=5, duration=24 * 3600 + 1200, seed=7,
               household="typical")
    sc.await_rows(db, base)
    stop = broker.stop()
    note(f"broker stopped in {stop.seconds:.2f} s real")

    published = sc.load_published(base)
    every = sc.measurable(sc.load_truth(base), published)
    rows = sc.db_rows(db)
    missing = [k for k in every if k not in rows]
    check("a Conso row for every quarter", len(every) >= 96 and not missing,
          f"{len(every)} quarters in the truth, {len(rows)} rows, missing {sorted(missing)[:5]}")
    # The quarters the published stream measured: the simulator publishes
    # every minute unless the machine starved it longer than the measured
    # gap (then those rows are estimated by design, and not judged here).
    gaps = sc.publishing_gaps(published)
    truth = {k: v for k, v in every.items() if k not in gaps}
    note(f"{len(every) - len(truth)} quarters touched by a publishing gap of the simulator")
    check("no row of a measured quarter is flagged estimated",
          len(truth) >= 96 and not any(rows[k]["estimated"] for k in truth if k in rows),
          f"{sum(rows[k]['estimated'] for k in truth if k in rows)} of {len(truth)} estimated")

    plugin = {k: r["import_wh"] for k, r in rows.items()}
    ref = sc.reference_rule(sc.load_published(base), truth)
    pm, p95, pmax, n = sc.error_stats(plugin, truth)
    rm, r95, rmax, rn = sc.error_stats(ref, truth)
    note(f"import energy |error| over {n} quarters: lowi-p1 median {pm:.3f} Wh, p95 {p95:.3f} Wh, max {pmax:.3f} Wh")
    note(f"reference rule on the same stream ({rn} quarters): median {rm:.3f} Wh, p95 {r95:.3f} Wh, max {rmax:.3f} Wh")
    check("median |error| <= 1 Wh", pm <= 1.0, f"{pm:.3f} Wh (reference rule {rm:.3f} Wh)")
    check("p95 |error| <= a tenth of the reference rule's", p95 <= r95 / 10,
          f"{p95:.3f} Wh vs reference {r95:.3f} Wh (ratio {r95 / max(p95, 1e-9):.1f}x)")
    em, e95, _, _ = sc.error_stats({k: r["export_wh"] for k, r in rows.items()}, truth, "export_wh")
    note(f"export energy |error|: median {em:.3f} Wh, p95 {e95:.3f} Wh")
    check("export median |error| <= 1 Wh", em <= 1.0, f"{em:.3f} Wh")
    # Against what the meter itself would show at the boundary: its counters
    # are the exact energy floored to the Wh.
    idx_err = sorted(abs(r["In_D"] - math.floor(truth[k]["cih_end_wh"])) + abs(r["In_N"] - math.floor(truth[k]["cil_end_wh"]))
                     for k, r in rows.items() if k in truth)
    check("boundary import indexes: median within 1 Wh, 95 % within 3 Wh of the meter's",
          idx_err[len(idx_err) // 2] <= 1.0 and idx_err[len(idx_err) * 95 // 100] <= 3.0,
          f"median {idx_err[len(idx_err) // 2]:.3f} Wh, p95 {idx_err[len(idx_err) * 95 // 100]:.3f} Wh, max {idx_err[-1]:.3f} Wh")
    telescope = sum(1 for (s, t), r in rows.items() if (s, t - 900) in rows and
                    r["In_D"] + r["In_N"] - rows[(s, t - 900)]["In_D"] - rows[(s, t - 900)]["In_N"] != r["import_wh"])
    check("Soutire equals the change of In_D + In_N row to row", telescope == 0, f"{telescope} rows differ")

    # Pics. Two readings a minute apart cannot tell one switching from three,
    # and a month's peak quarter is where appliances switch most: on one
    # household-day the estimator can miss the true peak by more than
    # 0.02 kW by chance (test_estimator measures that chance over 200
    # meter-days). So the end-to-end checks are: Pics follows the plugin's
    # own rows exactly, those rows' peak is what the pure estimator gives on
    # this very stream, and the true peak is met unless the estimator itself
    # misses it on this stream.
    peaks = sc.db_peaks(db)
    own = sc.monthly_peaks({k: r for k, r in rows.items() if k in truth})
    replay = sc.monthly_peaks({k: r for k, r in sc.replay_rows(base).items() if k in truth})
    want = sc.monthly_peaks({k: v for k, v in truth.items() if k in rows})
    for key, (kw, start) in want.items():
        got = peaks.get(key)
        check(f"Pics {key[1]} of {key[0]} is the month's highest 4 x Soutire",
              got is not None and key in own and abs(got[0] - own[key][0]) < 0.0005 and got[1] == own[key][1],
              f"Pics {got}, rows {own.get(key)}")
        check(f"Pics {key[1]} of {key[0]} within 0.02 kW of the estimator replayed on the published stream",
              got is not None and key in replay and abs(got[0] - replay[key][0]) <= 0.02,
              f"Pics {got}, replay {replay.get(key)}")
        inherent = key in replay and abs(replay[key][0] - kw) > 0.02
        check(f"Pics {key[1]} of {key[0]} within 0.02 kW of the true peak"
              + (" (or missed by the estimator itself on this stream)" if inherent else ""),
              got is not None and (abs(got[0] - kw) <= 0.02 or inherent),
              f"truth {kw:.3f} kW at {start}, Pics {got}, replay {replay.get(key)}")
    db.stop()


run_main(main)
