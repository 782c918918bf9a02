#!/usr/bin/env python3
"""Where `meson install` puts the Python package libvsr (python/meson.build).

Usage: python-install-dir.py PREFIX MESON_DIR LIBRARY
  PREFIX     the install prefix
  MESON_DIR  meson's python.get_install_dir() for it
  LIBRARY    the installed shared library (absolute path)
Prints two lines: the site-packages directory to install into, and LIBRARY
relative to the package directory (<that directory>/libvsr).

The directory is one this interpreter imports from without PYTHONPATH
when one is under PREFIX: meson's own when it is on the interpreter's
path (Debian: /usr/lib/python3/dist-packages for /usr), else the
interpreter's site-packages under PREFIX (Debian:
/usr/local/lib/python3.X/dist-packages for /usr/local, where meson 1.0
names /usr/local/lib/python3/dist-packages, which Debian's python does not
read). Any other prefix gets meson's directory (then PYTHONPATH names it).
"""
import os
import site
import sys


def install_dir(prefix, meson_dir, site_dirs):
    meson_dir = os.path.normpath(meson_dir)
    if meson_dir in site_dirs:
        return meson_dir
    for d in site_dirs:
        if d.startswith(os.path.normpath(prefix) + os.sep):
            return d
    return meson_dir


def main():
    prefix, meson_dir, library = sys.argv[1:4]
    site_dirs = [os.path.normpath(d) for d in site.getsitepackages()]
    d = install_dir(prefix, meson_dir, site_dirs)
    print(d)
    print(os.path.relpath(library, os.path.join(d, "libvsr")))


if __name__ == "__main__":
    main()
