#!/usr/bin/python3
"""Finds sanitizer reports in a log (a broker.log, a test's or unit test's
output) and decides which fail the run; used by tests/sanitize.sh.

    sanitizer_report.py LOG [SUPPRESSIONS]

Processes that run under libfaketime (the broker and the simulator of the
integration tests) cannot symbolize their own reports: the sanitizer's
symbolizer crashes or hangs under it (SEGV, "The futex facility returned an
unexpected error code"). tests/sanitize.sh runs them with symbolize=0 and
this script symbolizes the "(module+0xoffset)" frames afterwards with
addr2line, which is also why LeakSanitizer suppressions are applied here
rather than by LSan itself (it matches function names, which it no longer
has). SUPPRESSIONS uses LSan's syntax, one "leak:PATTERN" per line
(PATTERN: a substring of a frame's function, source file or module; '*'
any text, '^' / '$' anchors; '#' comments).

Failures: every AddressSanitizer error, every UndefinedBehaviorSanitizer
"runtime error:", every LeakSanitizer fatal error, and every leak report
that no suppression matches or that has a frame in the plugin (lowi_p1.so,
plugin/, price-worker/): the plugin's own leaks are never suppressed.
Prints each failing report, symbolized, and one line per suppressed leak;
exit status 1 when anything failed, 0 otherwise.
"""
import os
import re
import subprocess
import sys

FRAME_RE = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ (?:in (\S+)(?: (\S+))?)?\s*(?:\((\S+?)\+0x([0-9a-f]+)\))?")
PLUGIN_RE = re.compile(r"lowi_p1\.so|(^|/)(plugin|price-worker)/[^/]+\.[ch](:|$)")


def load_suppressions(path):
    pats = []
    if not path:
        return pats
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("leak:"):
                p = line[5:]
                rx = ("^" if p.startswith("^") else "") + ".*".join(
                    re.escape(part) for part in p.lstrip("^").rstrip("$").split("*")) + ("$" if p.endswith("$") else "")
                pats.append((p, re.compile(rx)))
    return pats


_cache = {}


def symbolize(module, offset):
    """(function, file:line) of module+offset, with addr2line; cached."""
    key = (module, offset)
    if key not in _cache:
        fn, loc = "??", "??"
        if os.path.exists(module):
            try:
                r = subprocess.run(["addr2line", "-f", "-C", "-e", module, hex(offset)],
                                   capture_output=True, text=True, timeout=30)
                lines = r.stdout.splitlines()
                if len(lines) >= 2:
                    fn, loc = lines[0], lines[1]
            except (OSError, subprocess.TimeoutExpired):
                pass
        _cache[key] = (fn, loc)
    return _cache[key]


def frames_of(block):
    """[(text, function, file, module)] of the stack lines in a report."""
    out = []
    for line in block.splitlines():
        m = FRAME_RE.match(line)
        if not m:
            continue
        fn, src, module, off = m.group(2), m.group(3), m.group(4), m.group(5)
        if module and off and (not fn or fn == "??"):
            fn, src = symbolize(module, int(off, 16))
            line = f"{line.rstrip()}  -> {fn} {src}"
        out.append((line, fn or "", src or "", module or ""))
    return out


def main():
    log = sys.argv[1]
    pats = load_suppressions(sys.argv[2] if len(sys.argv) > 2 else None)
    text = open(log, errors="replace").read()
    failures = []     # (title, [lines])
    suppressed = []   # (title, pattern)

    # LeakSanitizer: "Direct/Indirect leak of ..." blocks up to the SUMMARY.
    for rep in re.finditer(r"ERROR: LeakSanitizer: detected memory leaks(.*?)(SUMMARY: [^\n]*|\Z)", text, re.S):
        for blk in re.split(r"\n(?=(?:Direct|Indirect) leak of )", rep.group(1)):
            blk = blk.strip()
            if not re.match(r"(Direct|Indirect) leak of ", blk):
                continue
            title = blk.splitlines()[0]
            frames = frames_of(blk)
            in_plugin = any(PLUGIN_RE.search(f"{fn} {src} {mod}") for _, fn, src, mod in frames)
            match = None
            if not in_plugin:
                for p, rx in pats:
                    if any(rx.search(s) for _, fn, src, mod in frames for s in (fn, src, mod) if s):
                        match = p
                        break
            if match:
                suppressed.append((title, match))
            else:
                failures.append((("[plugin] " if in_plugin else "") + title, [f[0] for f in frames]))
    if "LeakSanitizer has encountered a fatal error" in text:
        failures.append(("LeakSanitizer has encountered a fatal error (leak detection did not run)", []))

    # AddressSanitizer errors and UBSan runtime errors: never suppressed.
    for m in re.finditer(r"^.*(ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer).*$", text, re.M):
        rest = text[m.end():m.end() + 6000]
        blk = "\n".join(rest.splitlines()[:40])
        failures.append((m.group(0).strip(), [f[0] for f in frames_of(blk)][:30]))

    for title, p in suppressed:
        print(f"suppressed ({p}): {title}")
    for title, frames in failures:
        print(f"REPORT: {title}")
        for f in frames[:30]:
            print(f"    {f.strip()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
