"""python3 -m libvsr.bench: the vsr-bench command."""
import sys

from . import main

sys.exit(main())
