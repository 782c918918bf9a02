#!/usr/bin/env python3
"""Summaries for scripts/test.

--testlog FILE --prefix P   print "P/<test name> PASS|FAIL" for each test in a
                            meson testlog.json (a skipped test is a failure:
                            every test must run).
--results FILE              print the failures and the final line
                            "N passed, N failed"; exit 1 if any failed.
"""
import argparse
import json
import sys


def from_testlog(path, prefix):
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f"{prefix}/testlog FAIL  # {e}")
        return
    if not lines:
        print(f"{prefix}/testlog FAIL  # no tests ran")
    for line in lines:
        t = json.loads(line)
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        # meson names look like "libvsr:unit / json": keep one word
        name = t["name"].split(":", 1)[-1].replace(" ", "")
        print(f"{prefix}/{name} {'PASS' if ok else 'FAIL'}")


def summary(path):
    passed, failed = 0, []
    for line in open(path):
        parts = line.rsplit(None, 1)
        if len(parts) < 2:
            continue
        if parts[1] == "PASS":
            passed += 1
        else:
            failed.append(parts[0])
    for name in failed:
        print(f"FAILED: {name}")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed or passed == 0 else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testlog")
    ap.add_argument("--prefix", default="build")
    ap.add_argument("--results")
    a = ap.parse_args()
    if a.testlog:
        from_testlog(a.testlog, a.prefix)
        return 0
    if a.results:
        return summary(a.results)
    ap.error("give --testlog or --results")


if __name__ == "__main__":
    sys.exit(main())
