#!/usr/bin/env python3
"""Print the library version read from include/libvsr/version.h (the single source)."""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, "..", "include", "libvsr", "version.h")).read()
parts = [re.search(r"#define VSR_API_VERSION_%s (\d+)" % k, text).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
print(".".join(parts))
