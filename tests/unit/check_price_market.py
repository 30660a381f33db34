#!/usr/bin/env python3
"""The fixture server's quarter-hour cut-over is price_market.h's: the
server reads the #define, and nothing in the tests' Python spells the date
or its instant on its own (that would drift from the header unseen)."""
import datetime as dt
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "price-fixtures"))
import server  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if not ok:
        print("FAIL " + what)
    passed += bool(ok)
    failed += not ok


header = open(os.path.join(ROOT, "price-worker", "price_market.h")).read()
m = re.search(r"^#define PRICE_QUARTER_HOUR_FIRST_DAY (\d+)$", header, re.M)
check(m is not None, "price_market.h defines PRICE_QUARTER_HOUR_FIRST_DAY")
day = dt.date(1970, 1, 1) + dt.timedelta(days=int(m.group(1))) if m else None
check(server.QH_SWITCH_DAY == day, f"server.py switches on {server.QH_SWITCH_DAY}, the header on {day}")

# Spellings of the cut-over that code could use instead of the constant.
stray = re.compile(r"date\(2025, *10, *1\)|1759269600|\(2025, *10, *1\)")
for sub in ("tests/integration", "tests/price-fixtures", "tests/bench"):
    for name in sorted(os.listdir(os.path.join(ROOT, sub))):
        if name.endswith(".py"):
            text = open(os.path.join(ROOT, sub, name)).read()
            hits = [n for n, line in enumerate(text.splitlines(), 1) if stray.search(line)]
            check(not hits, f"{sub}/{name}: no cut-over literal" + (f" (lines {hits})" if hits else ""))
print(f"check_price_market: {passed} checks passed, {failed} failed")
sys.exit(1 if failed else 0)
