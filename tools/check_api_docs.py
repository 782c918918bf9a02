#!/usr/bin/env python3
"""Check the API reference: doxygen runs warning-free on the public headers
(the configuration makes every warning an error, undocumented entities
included), and every public function that returns a value says what in
its comment (@return), which doxygen itself does not require.

    tools/check_api_docs.py DOXYGEN DOXYFILE XML_DIR

Exit 0 when both hold; otherwise the warnings and the functions without
@return are printed and the exit status is 1.
"""
import glob
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET


def text_of(elem):
    return "".join(elem.itertext()).strip() if elem is not None else ""


def main():
    doxygen, doxyfile, xml_dir = sys.argv[1:4]
    shutil.rmtree(xml_dir, ignore_errors=True)
    os.makedirs(xml_dir, exist_ok=True)
    p = subprocess.run([doxygen, doxyfile], capture_output=True, text=True)
    noise = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    bad = []
    if p.returncode != 0 or noise:
        bad.append(f"doxygen exited {p.returncode} with {len(noise)} line(s) of warnings:")
        bad += ["  " + line for line in noise]
    functions = 0
    for path in sorted(glob.glob(os.path.join(xml_dir, "*_8h.xml"))):
        root = ET.parse(path).getroot()
        for member in root.iter("memberdef"):
            if member.get("kind") != "function":
                continue
            functions += 1
            rtype = text_of(member.find("type")).replace("VSR_API", "").strip()
            if rtype == "void":
                continue
            sects = [s for s in member.iter("simplesect") if s.get("kind") == "return"]
            if not sects:
                loc = member.find("location")
                where = f"{os.path.basename(loc.get('file'))}:{loc.get('line')}" if loc is not None else "?"
                bad.append(f"{where}: {text_of(member.find('name'))}() returns {rtype} but does not say what (@return)")
    if functions < 50:
        bad.append(f"only {functions} functions found in {xml_dir}: is the XML output there?")
    if bad:
        print("\n".join(bad))
        return 1
    print(f"API reference: no warnings; all {functions} public functions documented, return values included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
