#!/usr/bin/env python3
"""Run after `meson install` (meson.add_install_script in lib/meson.build):
refresh the dynamic linker's cache when libvsr went into a directory the
linker searches, so that `-lvsr` programs, `dlopen("libvsr.so.1")` and the
Python binding find the new library without environment variables (meson
itself never runs ldconfig). Not run:

* with DESTDIR (a staged install, e.g. a package being built: the
  package's own installation runs ldconfig on the target system);
* when the library directory is not one the linker searches (a prefix
  such as /opt/libvsr): the installed programs find the library through
  their run path ($ORIGIN/../lib...), others need LD_LIBRARY_PATH;
* when not root: ldconfig could not write its cache; a note says to run it.

Usage: ldconfig-after-install.py LIBDIR [--ld-so-conf FILE] [--ldconfig PROGRAM]
(the options are for testing the decision: another configuration file,
another program to run.)
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import sysconfig

# Searched by glibc's ld.so even when no configuration file names them
# (its trusted directories, with Debian's multiarch ones).
_multiarch = sysconfig.get_config_var("MULTIARCH") or ""
TRUSTED_DIRS = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"] + (
    [f"/lib/{_multiarch}", f"/usr/lib/{_multiarch}"] if _multiarch else [])


def configured_dirs(conf, seen=None):
    """Directories named by an ld.so.conf file and the files it includes."""
    seen = set() if seen is None else seen
    real = os.path.realpath(conf)
    if real in seen:
        return []
    seen.add(real)
    dirs = []
    try:
        with open(conf, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return dirs
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include"):
            for pattern in line.split()[1:]:
                if not os.path.isabs(pattern):
                    pattern = os.path.join(os.path.dirname(conf), pattern)
                for inc in sorted(glob.glob(pattern)):
                    dirs += configured_dirs(inc, seen)
        elif not line.startswith("hwcap"):
            # "dir" or the old "dir=type" form
            dirs.append(line.split("=", 1)[0].strip())
    return dirs


def searched_dirs(conf):
    return [os.path.realpath(d) for d in TRUSTED_DIRS + configured_dirs(conf)]


def decide(libdir, destdir, searched, euid):
    """(run ldconfig?, message) for a library installed in libdir."""
    if destdir:
        return False, (f"libvsr: DESTDIR is set ({destdir}): not running ldconfig; "
                       f"the installation from the staged tree runs it")
    if os.path.realpath(libdir) not in searched:
        return False, (f"libvsr: {libdir} is not searched by the dynamic linker: the installed "
                       f"programs find libvsr through their run path; other programs need "
                       f"LD_LIBRARY_PATH={libdir} (or {libdir} in /etc/ld.so.conf.d/)")
    if euid != 0:
        return False, (f"libvsr: installed in {libdir}; run 'sudo ldconfig' so that the dynamic "
                       f"linker finds the new library")
    return True, f"libvsr: installed in {libdir}: running ldconfig"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("libdir")
    ap.add_argument("--ld-so-conf", default="/etc/ld.so.conf")
    ap.add_argument("--ldconfig", default=None)
    a = ap.parse_args(argv)
    if os.environ.get("MESON_INSTALL_DRY_RUN"):
        return 0
    destdir = os.environ.get("DESTDIR", "")
    run, message = decide(a.libdir, destdir, searched_dirs(a.ld_so_conf), os.geteuid())
    print(message)
    if not run:
        return 0
    program = a.ldconfig or shutil.which("ldconfig") or "/sbin/ldconfig"
    r = subprocess.run([program])
    if r.returncode != 0:
        print(f"libvsr: {program} failed (exit {r.returncode}): run it again as root", file=sys.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
