#!/usr/bin/env python3
"""The ABI check: compare the built libvsr with the committed baseline
(abi/libvsr.so.<major>.abi, written by tools/abi-baseline) using
libabigail's abidiff, restricted to the types of the public headers.

    tools/abi_check.py --abidiff ABIDIFF --abidw ABIDW --baseline abi/
        --suppressions abi/libvsr.abignore --headers include/libvsr
        --library build/abi/libvsr.so.X.Y.Z

Passes when abidiff reports no change, or only compatible ones: added
functions (additions are what minor versions are for), and structs that
grew at their end (the suppressions; docs/ABI.md explains why that is
compatible). Fails on anything else: a removed or changed function, a
struct member removed, reordered or retyped, an enumerator renumbered.
A SONAME that differs from the baseline's is a deliberate break (a new
major version): then the check passes and says to write a new baseline.

libabigail's "members inserted at the end" suppression also hides a
struct whose members were only reordered (nothing was inserted, so the
condition holds vacuously; seen with libabigail 2.2). So the structs and
enums of the public headers are compared here as well, from abidw's
output of both libraries: every member a struct had must keep its name,
type and offset (new members may only follow), and every enumerator its
value.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

# abidiff's exit status is a bit field (libabigail's abidiff manual)
ABIDIFF_ERROR = 1
ABIDIFF_USAGE_ERROR = 2
ABIDIFF_ABI_CHANGE = 4
ABIDIFF_ABI_INCOMPATIBLE_CHANGE = 8


def find_baseline(path):
    """The baseline file: path itself, or the libvsr.so.N.abi in a directory
    (the highest N, should an old one still be there)."""
    if not os.path.isdir(path):
        return path
    found = [(int(m.group(1)), os.path.join(path, f)) for f in os.listdir(path)
             for m in [re.fullmatch(r"libvsr\.so\.(\d+)\.abi", f)] if m]
    return max(found)[1] if found else None


def baseline_soname(path):
    with open(path) as f:
        head = f.read(4096)
    m = re.search(r"<abi-corpus\b[^>]*\bsoname='([^']*)'", head)
    return m.group(1) if m else None


def library_soname(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Library soname: \[(.*?)\]", out)
    return m.group(1) if m else None


def type_names(root):
    """{type id: a name that is the same in any corpus} for the types of an abidw XML."""
    elems = {e.get("id"): e for e in root.iter() if e.get("id")}
    memo = {}

    def name(tid, depth=0):
        if tid in memo:
            return memo[tid]
        e = elems.get(tid)
        if e is None or depth > 32:
            return "?"
        tag = e.tag
        if tag in ("type-decl", "typedef-decl"):
            n = e.get("name")
        elif tag in ("class-decl", "union-decl", "enum-decl"):
            n = tag.split("-")[0] + " " + (e.get("name") or "?")
        elif tag == "pointer-type-def":
            n = name(e.get("type-id"), depth + 1) + "*"
        elif tag == "qualified-type-def":
            n = ("const " if e.get("const") == "yes" else "") + ("volatile " if e.get("volatile") == "yes" else "") \
                + name(e.get("type-id"), depth + 1)
        elif tag == "array-type-def":
            n = f"{name(e.get('type-id'), depth + 1)}[{e.get('size-in-bits')} bits]"
        elif tag == "function-type":
            ret = e.find("return")
            params = [name(p.get("type-id"), depth + 1) for p in e.findall("parameter")]
            n = f"{name(ret.get('type-id'), depth + 1) if ret is not None else '?'}({', '.join(params)})"
        else:
            n = tag
        memo[tid] = n
        return n

    return name


def public_types(path):
    """Structs ({name: (size, [(member, type, offset)])}) and enums
    ({name: {enumerator: value}}) named vsr_* in an abidw XML."""
    root = ET.parse(path).getroot()
    name = type_names(root)
    structs, enums = {}, {}
    for e in root.iter("class-decl"):
        n = e.get("name") or ""
        if not n.startswith("vsr_") or e.get("is-declaration-only") == "yes" or n in structs:
            continue
        members = []
        for dm in e.findall("data-member"):
            var = dm.find("var-decl")
            members.append((var.get("name"), name(var.get("type-id")), int(dm.get("layout-offset-in-bits", "0"))))
        structs[n] = (int(e.get("size-in-bits", "0")), members)
    for e in root.iter("enum-decl"):
        n = e.get("name") or ""
        if n.startswith("vsr_") and n not in enums:
            enums[n] = {x.get("name"): int(x.get("value")) for x in e.findall("enumerator")}
    return structs, enums


def compare_public_types(old_path, new_path):
    old_s, old_e = public_types(old_path)
    new_s, new_e = public_types(new_path)
    problems = []
    for n, (size, members) in sorted(old_s.items()):
        if n not in new_s:
            problems.append(f"struct {n}: gone (or no longer defined in the public headers)")
            continue
        new_size, new_members = new_s[n]
        if new_members[:len(members)] != members:
            for i, m in enumerate(members):
                got = new_members[i] if i < len(new_members) else None
                if got != m:
                    problems.append(f"struct {n}: member {i} was {m[0]} ({m[1]}, bit {m[2]}), now "
                                    + (f"{got[0]} ({got[1]}, bit {got[2]})" if got else "missing"))
                    break
        elif new_size < size:
            problems.append(f"struct {n}: shrank from {size} to {new_size} bits")
    for n, values in sorted(old_e.items()):
        if n not in new_e:
            problems.append(f"enum {n}: gone")
            continue
        for k, v in values.items():
            if new_e[n].get(k) != v:
                problems.append(f"enum {n}: {k} was {v}, now {new_e[n].get(k, 'missing')}")
    return problems, len(old_s), len(old_e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--abidiff", required=True)
    ap.add_argument("--abidw", required=True)
    ap.add_argument("--baseline", required=True, help="the baseline file, or the directory holding it")
    ap.add_argument("--suppressions", required=True)
    ap.add_argument("--headers", required=True)
    ap.add_argument("--library", required=True)
    a = ap.parse_args()
    a.baseline = find_baseline(a.baseline)
    if not a.baseline:
        print("no baseline (abi/libvsr.so.N.abi): write one with tools/abi-baseline")
        return 1

    old, new = baseline_soname(a.baseline), library_soname(a.library)
    if not old or not new:
        print(f"cannot read the SONAMEs (baseline {old!r}, library {new!r})")
        return 1
    if old != new:
        print(f"SONAME changed from {old} to {new}: an intended ABI break (a new major version). "
              f"Write the new baseline with tools/abi-baseline.")
        return 0

    cmd = [a.abidiff, "--no-added-syms", "--suppressions", a.suppressions,
           "--headers-dir2", a.headers, "--drop-private-types", a.baseline, a.library]
    p = subprocess.run(cmd, capture_output=True, text=True)
    report = (p.stdout + p.stderr).strip()
    print("$ " + " ".join(cmd))
    if report:
        print(report)
    if p.returncode & (ABIDIFF_ERROR | ABIDIFF_USAGE_ERROR):
        print(f"abidiff failed (exit {p.returncode})")
        return 1
    broken = bool(p.returncode & (ABIDIFF_ABI_CHANGE | ABIDIFF_ABI_INCOMPATIBLE_CHANGE))

    with tempfile.TemporaryDirectory() as tmp:
        current = os.path.join(tmp, "current.abi")
        dw = subprocess.run([a.abidw, "--no-corpus-path", "--headers-dir", a.headers, "--drop-private-types",
                             "--out-file", current, a.library], capture_output=True, text=True)
        if dw.returncode != 0:
            print(f"abidw failed (exit {dw.returncode}): {dw.stderr.strip()}")
            return 1
        problems, n_structs, n_enums = compare_public_types(a.baseline, current)
    if n_structs < 10:
        print(f"only {n_structs} public structs in {a.baseline}: is it an abidw file of libvsr?")
        return 1
    print(f"public structs ({n_structs}) and enums ({n_enums}) compared member by member: "
          + ("no change breaks them" if not problems else f"{len(problems)} incompatible change(s):"))
    for line in problems:
        print("  " + line)
    if broken or problems:
        print(f"\nincompatible ABI change against {a.baseline} with the SONAME unchanged ({new}); "
              "undo it, or bump VSR_API_VERSION_MAJOR (include/libvsr/version.h) and write a new "
              "baseline with tools/abi-baseline")
        return 1
    print(f"ABI of {new} compatible with the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
