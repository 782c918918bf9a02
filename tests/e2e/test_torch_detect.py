"""meson -Dtorch_dir=auto: finding the libtorch inside a Python torch package.

Each test configures the source tree into a temporary build directory
(configure only: nothing is compiled) and reads what meson decided from
its summary, the generated config.h and `meson introspect --targets`:
which libtorch, whether it is a CUDA build, and the C++ ABI flag handed to
the shim. Two packages are used: Debian's python3-torch (a CPU torch whose
torch/include and torch/lib point into the system libtorch) and a fake
`torch` package made here that says it is a CUDA 13 build with the old
C++ ABI, its include/ and lib/ borrowed from the system libtorch and its
libtorch_cuda.so/libc10_cuda.so standing in for a CUDA build's.
"""
import json
import os
import re
import subprocess
import sys

import pytest

SOURCE = os.environ.get("VSR_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = os.environ.get("VSR_PYTHON", "/usr/bin/python3")
DEBIAN_TORCH = "/usr/lib/python3/dist-packages/torch"
# Only what torch_dir=auto needs: the rest of the build is left out to keep
# each configure short.
LEAN = ["-Dtests=false", "-Dexamples=false", "-Ddocs=disabled", "--buildtype=release"]


def configure(build, *options, env=None):
    cmd = ["meson", "setup", str(build), SOURCE, f"-Dpython={PYTHON}", *LEAN, *options]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=e, timeout=600)
    return p


def summary(output):
    """The 'Inference' section of meson's summary as a dict."""
    out = {}
    for m in re.finditer(r"^\s+(CUDA runtime|CUDA libtorch|libtorch|C\+\+ ABI flag|shim C\+\+ standard)\s*:\s*(.*)$",
                         output, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def config_h(build):
    text = open(os.path.join(build, "config.h")).read()
    m = re.search(r"#define VSR_HAVE_TORCH_CUDA (\d)", text)
    assert m, "config.h lacks VSR_HAVE_TORCH_CUDA"
    return int(m.group(1))


def shim_target(build):
    p = subprocess.run(["meson", "introspect", "--targets", str(build)], stdout=subprocess.PIPE, text=True,
                       check=True)
    for t in json.loads(p.stdout):
        if t["name"] == "vsr_shim":
            params, sources = [], []
            for group in t["target_sources"]:
                if group.get("language") == "cpp":
                    params += group["parameters"]
                    sources += [os.path.basename(s) for s in group["sources"]]
            return params, sources
    pytest.fail("meson introspect lists no vsr_shim target")


def has_cuda_toolkit():
    roots = [os.environ.get("CUDA_PATH", ""), "/usr/local/cuda"]
    return any(r and os.path.exists(os.path.join(r, "include", "cuda_runtime_api.h")) for r in roots)


def make_fake_torch(root, cuda="13.0", abi=False, version="2.11.0+cu130", lib_cuda=True):
    """A `torch` package as pip installs it, good enough for torch-info.py:
    version attributes, include/ and lib/. The headers and libraries are
    the system libtorch's (through Debian's own torch/include links)."""
    pkg = root / "torch"
    (pkg / "include").mkdir(parents=True)
    (pkg / "lib").mkdir()
    (pkg / "__init__.py").write_text(
        "import types\n"
        f"__version__ = {version!r}\n"
        f"version = types.SimpleNamespace(cuda={cuda!r})\n"
        f"_C = types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI={abi!r})\n")
    for name in os.listdir(os.path.join(DEBIAN_TORCH, "include")):
        os.symlink(os.path.realpath(os.path.join(DEBIAN_TORCH, "include", name)), pkg / "include" / name)
    libs = {"libtorch.so": "libtorch.so", "libtorch_cpu.so": "libtorch_cpu.so", "libc10.so": "libc10.so"}
    if lib_cuda:
        # stand-ins: configure only checks that they link
        libs.update({"libtorch_cuda.so": "libtorch.so", "libc10_cuda.so": "libc10.so"})
    for name, target in libs.items():
        os.symlink(os.path.realpath(os.path.join(DEBIAN_TORCH, "lib", target)), pkg / "lib" / name)
    return pkg


@pytest.fixture(scope="module", autouse=True)
def debian_torch():
    if not os.path.isdir(os.path.join(DEBIAN_TORCH, "include")):
        pytest.fail(f"{DEBIAN_TORCH}/include is missing: install python3-torch and libtorch-dev (scripts/setup)")


def test_debian_python_torch(tmp_path):
    build = tmp_path / "build"
    p = configure(build, "-Dtorch_dir=auto")
    assert p.returncode == 0, p.stdout[-4000:]
    s = summary(p.stdout)
    assert s.get("libtorch") == f"{DEBIAN_TORCH} (1.13.0)", s
    assert s.get("CUDA libtorch") == "no", s
    assert s.get("C++ ABI flag") == "-D_GLIBCXX_USE_CXX11_ABI=1", s
    assert s.get("shim C++ standard") == "c++17", s
    assert config_h(build) == 0
    params, sources = shim_target(build)
    assert "-D_GLIBCXX_USE_CXX11_ABI=1" in params
    assert f"-isystem{DEBIAN_TORCH}/include" in params or f"-isystem{DEBIAN_TORCH}/include".replace(
        "-isystem", "-I") in params, params
    assert "torch_cuda.cpp" not in sources


def test_fake_cuda_package(tmp_path):
    make_fake_torch(tmp_path / "site")
    build = tmp_path / "build"
    p = configure(build, "-Dtorch_dir=auto", env={"PYTHONPATH": str(tmp_path / "site")})
    if not has_cuda_toolkit():
        # A CUDA libtorch without the toolkit's headers: a clear error.
        assert p.returncode != 0
        assert "is a CUDA build" in p.stdout and "CUDA_PATH" in p.stdout, p.stdout[-3000:]
        return
    assert p.returncode == 0, p.stdout[-4000:]
    s = summary(p.stdout)
    root = str(tmp_path / "site" / "torch")
    assert s.get("libtorch", "").startswith(root + " ("), s
    assert s.get("CUDA libtorch") == "yes (CUDA 13.0)", s
    assert s.get("C++ ABI flag") == "-D_GLIBCXX_USE_CXX11_ABI=0", s
    assert config_h(build) == 1
    params, sources = shim_target(build)
    assert "-D_GLIBCXX_USE_CXX11_ABI=0" in params
    assert "torch_cuda.cpp" in sources


def test_fake_package_cuda_forced_off(tmp_path):
    make_fake_torch(tmp_path / "site")
    build = tmp_path / "build"
    p = configure(build, "-Dtorch_dir=auto", "-Dtorch_cuda=false", env={"PYTHONPATH": str(tmp_path / "site")})
    assert p.returncode == 0, p.stdout[-4000:]
    assert summary(p.stdout).get("CUDA libtorch") == "no"
    assert config_h(build) == 0


def test_python_without_torch_is_a_clear_error(tmp_path):
    site = tmp_path / "site" / "torch"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("raise ImportError('this torch is broken on purpose')\n")
    p = configure(tmp_path / "build", "-Dtorch_dir=auto", env={"PYTHONPATH": str(tmp_path / "site")})
    assert p.returncode != 0
    assert "-Dtorch_dir=auto" in p.stdout and "found no usable torch package" in p.stdout, p.stdout[-3000:]
    assert "this torch is broken on purpose" in p.stdout
