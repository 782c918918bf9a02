#!/usr/bin/env python3
"""Describe the libtorch inside the `torch` Python package that this Python
imports, for meson's -Dtorch_dir=auto. A pip or conda torch carries a
complete libtorch: its headers in torch/include and its libraries in
torch/lib. Prints key=value lines, always in this order:

  root      the torch package directory
  version   torch.__version__
  cuda      torch.version.cuda ('' for a CPU-only build)
  cxx11_abi 1 or 0: the _GLIBCXX_USE_CXX11_ABI value libtorch was built with
  include   torch/include
  lib       torch/lib
  lib_cuda  1 if torch/lib holds libtorch_cuda.so (the CUDA libraries to link)

Exits non-zero with a one-line reason on stderr when there is no usable
torch package.
"""
import os
import sys


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def main():
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install raising anything
        fail(f"{sys.executable} cannot import torch ({type(e).__name__}: {e})")
    root = os.path.dirname(os.path.abspath(torch.__file__))
    include = os.path.join(root, "include")
    lib = os.path.join(root, "lib")
    for d, what in ((include, "headers"), (lib, "libraries")):
        if not os.path.isdir(d):
            fail(f"the torch package at {root} has no {os.path.basename(d)}/ ({what}): "
                 f"it is not a complete libtorch")
    if not os.path.exists(os.path.join(include, "torch", "csrc", "api", "include", "torch", "version.h")):
        fail(f"{include} lacks torch/csrc/api/include/torch/version.h: not libtorch's C++ headers")
    cuda = getattr(getattr(torch, "version", None), "cuda", None) or ""
    abi = getattr(getattr(torch, "_C", None), "_GLIBCXX_USE_CXX11_ABI", None)
    if abi is None and hasattr(torch, "compiled_with_cxx11_abi"):
        abi = torch.compiled_with_cxx11_abi()
    if abi is None:
        fail(f"torch {torch.__version__} does not say which C++ ABI it was built with")
    lib_cuda = os.path.exists(os.path.join(lib, "libtorch_cuda.so"))
    fields = [("root", root), ("version", str(torch.__version__)), ("cuda", str(cuda)),
              ("cxx11_abi", "1" if abi else "0"), ("include", include), ("lib", lib),
              ("lib_cuda", "1" if lib_cuda else "0")]
    for k, v in fields:
        if "\n" in v:
            fail(f"{k} contains a newline: {v!r}")
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
