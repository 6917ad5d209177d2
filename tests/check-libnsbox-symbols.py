#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The ABI of libnsbox three ways: the functions client/nsbox.h declares, the
# names client/libnsbox.sym lists and what the built library exports must be
# the same set, so no function is exported by accident or forgotten.
# Usage: check-libnsbox-symbols.py NSBOX_H LIBNSBOX_SYM LIBNSBOX_SO
import re
import subprocess
import sys

header_path, sym_path, lib_path = sys.argv[1:4]

with open(header_path, encoding="utf-8") as f:
    header = f.read()
header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
declared = set(re.findall(r"\b(nsbox_\w+)\s*\(", header))

with open(sym_path, encoding="utf-8") as f:
    sym = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
listed = []
for node in re.finditer(r"(\w+)\s*\{(.*?)\}", sym, flags=re.S):
    body = node.group(2)
    glob = re.search(r"global:(.*?)(?:local:|$)", body, flags=re.S)
    for name in re.findall(r"([^\s;]+)\s*;", glob.group(1) if glob else ""):
        listed.append(name)
bad = [n for n in listed if not re.fullmatch(r"nsbox_\w+", n)]

nm = subprocess.run(["nm", "-D", "--defined-only", lib_path], check=True, capture_output=True, text=True).stdout
exported = set()
for line in nm.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "TtWiDdBbRr":
        name = fields[2].split("@")[0]
        if not name.startswith("LIBNSBOX_"):
            exported.add(name)

problems = []
if bad:
    problems.append("libnsbox.sym: not a plain nsbox_ name: " + " ".join(bad))
dups = sorted({n for n in listed if listed.count(n) > 1})
if dups:
    problems.append("libnsbox.sym: listed twice: " + " ".join(dups))
for name in sorted(declared - set(listed)):
    problems.append(f"{name}: declared in nsbox.h, missing from libnsbox.sym")
for name in sorted(set(listed) - declared):
    problems.append(f"{name}: listed in libnsbox.sym, not declared in nsbox.h")
for name in sorted(exported - set(listed)):
    problems.append(f"{name}: exported by the library, not listed in libnsbox.sym")
for name in sorted(set(listed) - exported):
    problems.append(f"{name}: listed in libnsbox.sym, not defined by the library")

print("1..1")
if problems:
    for p in problems:
        print("# " + p)
    print("not ok 1 - libnsbox symbols")
    sys.exit(1)
print(f"ok 1 - libnsbox exports exactly the {len(declared)} functions of nsbox.h")
