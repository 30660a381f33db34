#!/usr/bin/env python3
"""The plugin as built carries the hardening meson.build asks for, read
from the ELF file as Debian's hardening-check reads it (readelf, from
binutils, which every build has):

  stack protector      -fstack-protector-strong  imports __stack_chk_fail
  read-only relocations -Wl,-z,relro             a GNU_RELRO segment
  immediate binding    -Wl,-z,now                BIND_NOW / NOW in its dynamic flags
  checked functions    -D_FORTIFY_SOURCE=2       imports some __*_chk function

  check_hardening.py <lowi_p1.so> <fortify: true|false>

fortify is false where meson.build leaves _FORTIFY_SOURCE out (no
optimisation, or a sanitizer build)."""
import re
import subprocess
import sys

passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("PASS " if ok else "FAIL ") + what)
    passed += bool(ok)
    failed += not ok


def readelf(option, path):
    return subprocess.run(["readelf", "-W", option, path], capture_output=True, text=True, check=True).stdout


path, fortify = sys.argv[1], sys.argv[2] == "true"
dynamic, segments = readelf("--dynamic", path), readelf("--segments", path)
imported = set(re.findall(r"\bUND +([A-Za-z_]\w*)", readelf("--dyn-syms", path)))

check("__stack_chk_fail" in imported, "stack protector (-fstack-protector-strong): __stack_chk_fail is imported")
check("GNU_RELRO" in segments, "read-only relocations (-Wl,-z,relro): a GNU_RELRO segment")
check(re.search(r"\(FLAGS\) +BIND_NOW|\(FLAGS_1\) +Flags:.*\bNOW\b", dynamic) is not None,
      "immediate binding (-Wl,-z,now): BIND_NOW in the dynamic section")
checked = sorted(s for s in imported if s.endswith("_chk") and s != "__stack_chk_fail")
if fortify:
    check(checked, f"checked functions (-D_FORTIFY_SOURCE=2): {', '.join(checked) or 'none imported'}")
print(f"check_hardening: {passed} checks passed, {failed} failed")
sys.exit(1 if failed else 0)
