#!/usr/bin/env python3
"""Turns a .sql file into a C header holding its statements, so the DDL the
plugin runs is the DDL shipped in sql/, with one source of truth."""
import sys

src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
statements, current = [], []
for line in open(src, encoding="utf-8"):
    stripped = line.strip()
    if not stripped or stripped.startswith("--"):
        continue
    current.append(line.rstrip("\n"))
    if stripped.endswith(";"):
        statements.append("\n".join(current).rstrip().rstrip(";"))
        current = []
if current:
    sys.exit(f"{src}: statement without a closing ';'")


def c_string(text):
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\n", '\\n"\n\t"') + '"'


with open(dst, "w", encoding="utf-8") as f:
    f.write(f"/* Generated from {src.split('/')[-1]} by embed_sql.py: edit the .sql file. */\n")
    f.write(f"static const char *const {name}[] = {{\n")
    for s in statements:
        f.write(f"\t{c_string(s)},\n")
    f.write("};\n")
