"""The shared library's ABI: exactly the functions the public headers
declare are exported (nothing of libtorch, FFmpeg, the shim or libvsr's
internals), the SONAME carries the major version, and every public
header compiles on its own in C and in C++."""
import os
import re
import subprocess
import glob

import pytest

SRC = os.environ.get("VSR_SOURCE_ROOT", "")
LIB = os.environ.get("VSR_LIBRARY", "")
HEADERS = sorted(glob.glob(os.path.join(SRC, "include", "libvsr", "*.h")))


def declared_functions():
    names = set()
    for h in HEADERS:
        text = open(h).read()
        # VSR_API <return type> name(   (the type may contain * and words)
        for m in re.finditer(r"VSR_API\s+[\w\s\*]*?\b(vsr_\w+)\s*\(", text):
            names.add(m.group(1))
    return names


def exported_symbols():
    out = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWwDdBbRr" and not parts[2].startswith("LIBVSR_"):
            syms.add(parts[2].split("@")[0])
    return syms


def test_headers_found():
    assert len(HEADERS) >= 6, HEADERS


def test_exports_are_exactly_the_public_functions():
    declared = declared_functions()
    exported = exported_symbols()
    assert len(declared) > 50
    unexpected = sorted(exported - declared)
    missing = sorted(declared - exported)
    assert not unexpected, f"exported but not in the public headers: {unexpected}"
    assert not missing, f"declared in the headers but not exported: {missing}"


def test_soname_has_the_major_version():
    out = subprocess.run(["readelf", "-d", LIB], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Library soname: \[(.*?)\]", out)
    assert m, out
    major = re.search(r"#define VSR_API_VERSION_MAJOR (\d+)", open(os.path.join(SRC, "include/libvsr/version.h")).read()).group(1)
    assert m.group(1) == f"libvsr.so.{major}"


def test_no_cxx_or_torch_symbols_leak():
    # the C++ runtime and libtorch stay behind the C ABI
    exported = exported_symbols()
    assert not [s for s in exported if s.startswith("_Z") or "torch" in s or s.startswith("av")]


@pytest.mark.parametrize("header", [os.path.basename(h) for h in HEADERS])
@pytest.mark.parametrize("lang", ["c", "c++"])
def test_header_compiles_alone(header, lang, tmp_path):
    src = tmp_path / ("t.c" if lang == "c" else "t.cpp")
    src.write_text(f"#include <libvsr/{header}>\n#include <libvsr/{header}>\nint main(void) {{ return 0; }}\n")
    cc = ["cc", "-std=c11"] if lang == "c" else ["c++", "-std=c++11"]
    r = subprocess.run(cc + ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                             "-I", os.path.join(SRC, "include"), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
