"""Sums a `meson test` run into lowi-p1's one-line result.

Every lowi-p1 test prints "<name>: N (checks )?passed, N failed" as its
last result line; meson's testlog.json holds each test's output. A test
counts its own checks; a test that exits non-zero with no failed check, or
prints no result line (crash, timeout), counts one failure more. Writes
each test's output to <logdir>/<name>.log, prints the failed checks of the
failed tests, the wall time per suite, and ends with "N passed, N failed".

  python3 tests/summary.py build/meson-logs/testlog.json build/test-logs
"""

import json
import os
import re
import sys

RESULT = re.compile(r"(\d+) (?:checks )?passed, (\d+) failed")


def main(testlog, logdir):
    os.makedirs(logdir, exist_ok=True)
    passed = failed = 0
    suites = {}
    try:
        lines = open(testlog).read().splitlines()
    except OSError as e:
        print(f"summary: cannot read {testlog}: {e}")
        lines = []
    for line in lines:
        t = json.loads(line)
        name = t["name"].split(" / ")[-1]
        suite = t["name"].split(" / ")[0].split(":")[-1]
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        log = os.path.join(logdir, name + ".log")
        with open(log, "w") as f:
            f.write(out)
        suites[suite] = suites.get(suite, 0.0) + t["duration"]
        found = RESULT.findall(out)
        if not found:
            print(f"FAIL {name}: no result line ({t['result']}, exit {t['returncode']}; see {log})")
            failed += 1
            continue
        p, f = (int(x) for x in found[-1])
        passed += p
        failed += f
        if f or t["result"] != "OK":
            for fl in out.splitlines():
                if fl.startswith("FAIL"):
                    print(f"{name}: {fl}")
            print(f"   ({name}: {t['result']}, exit {t['returncode']}; see {log})")
            if f == 0:
                failed += 1
    if not lines:
        failed += 1
    for suite, seconds in suites.items():
        print(f"suite {suite}: {seconds:.0f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
