#!/usr/bin/env python3
"""The README's installation walk-through as the commands a user types,
for tests/package/clean-root.sh, which runs them in a clean Debian 12 root.

  walkthrough.py README.md OUTDIR

Reads the section "## Installation walk-through (Debian 12)" and writes,
in the order a user meets them:
  OUTDIR/NNN.sh     one command each (a here-document or a line continued
                    with a backslash stays whole), first line
                    "# <subsection heading>", comment-only lines dropped;
  OUTDIR/NNN.conf   a configuration file to write: the fenced block that
                    starts with "listener ", second line "# path: P" with
                    the last /etc/ path the text before it names.
Subsections whose heading names the build from source are skipped: that is
the developers' path, not the package's. Exit status 1 when the section, a
command or the listener block is missing."""
import os
import re
import sys

readme, outdir = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
m = re.search(r"^## Installation walk-through \(Debian 12\)\n(.*?)(?=^## )", text, re.S | re.M)
if not m:
    sys.exit("walkthrough: no section '## Installation walk-through (Debian 12)' in " + readme)

heading = ""
items = []  # (heading, "sh" or "conf", text)
prose = ""  # the text since the last block
fence = None  # the opening fence's info string while inside a block
block = []
for line in m.group(1).splitlines():
    if fence is None:
        if line.startswith("```"):
            fence, block = line[3:].strip(), []
        elif line.startswith("#"):
            heading, prose = line.lstrip("#").strip(), ""
        else:
            prose += line + "\n"
        continue
    if not line.startswith("```"):
        block.append(line)
        continue
    if re.search(r"\bsource\b", heading, re.I):
        pass
    elif fence == "sh":
        pending, until = [], None
        for b in block:
            if until is None and not pending and (not b.strip() or b.lstrip().startswith("#")):
                continue
            pending.append(b)
            if until is not None:
                if b.strip() == until:
                    until = None
            else:
                doc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", b)
                if doc:
                    until = doc.group(1)
                    continue
                if b.endswith("\\"):
                    continue
            if until is None:
                items.append((heading, "sh", "\n".join(pending)))
                pending = []
        if pending:
            sys.exit(f"walkthrough: unterminated command under '{heading}': {pending[0]}")
    elif block and block[0].startswith("listener "):
        paths = re.findall(r"`(/etc/[^`\s]+)`", prose)
        if not paths:
            sys.exit(f"walkthrough: no /etc path named before the listener block under '{heading}'")
        items.append((heading, "conf", f"# path: {paths[-1]}\n" + "\n".join(block)))
    fence, prose = None, ""

if not any(k == "sh" for _, k, _ in items) or not any(k == "conf" for _, k, _ in items):
    sys.exit("walkthrough: no commands or no listener block found")
os.makedirs(outdir, exist_ok=True)
for i, (h, kind, t) in enumerate(items):
    with open(os.path.join(outdir, f"{i:03d}.{kind}"), "w") as f:
        f.write(f"# {h}\n{t}\n")
print(f"walkthrough: {len(items)} steps")
