"""meson configure checks (configure only, nothing is built): a CUDA libtorch
without the CUDA runtime is refused with a message saying what to do, since
such a build failed every GPU pass as "out of memory" (its pinned buffers
come from the runtime). Both ways of using a CUDA libtorch are covered:
-Dtorch_cuda=true, and a torch_dir whose lib/ holds libtorch_cuda (a stand-in
made of links to the system's CPU libtorch: its headers, and its libraries
under the CUDA libraries' names, which is all configure looks at). A
CPU-only configuration without the runtime still configures. (Detection
of a CUDA torch package with -Dtorch_dir=auto: test_torch_detect.py.)"""
import os
import shutil
import subprocess

import pytest

MESSAGE = "needs the CUDA runtime (cudart)"


def source_root():
    root = os.environ.get("VSR_SOURCE_ROOT")
    if not root or not os.path.exists(os.path.join(root, "meson.build")):
        pytest.fail("VSR_SOURCE_ROOT is not set; run through meson test")
    return root


def configure(tmp_path, *options):
    meson = shutil.which("meson")
    if not meson:
        pytest.fail("meson is not on PATH")
    build = tmp_path / "build"
    # no tests, examples or docs: quicker, and nothing of them matters here
    return subprocess.run([meson, "setup", str(build), source_root(), "-Dtests=false", "-Dexamples=false",
                           "-Ddocs=disabled", *options], capture_output=True, text=True, timeout=300)


def system_lib(name):
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        p = os.path.join(d, f"lib{name}.so")
        if os.path.exists(p):
            return p
    pytest.fail(f"lib{name}.so not found in the system library directories")


def test_torch_cuda_without_runtime_is_refused(tmp_path):
    p = configure(tmp_path, "-Dtorch_cuda=true", "-Dcuda=disabled")
    out = p.stdout + p.stderr
    assert p.returncode != 0, "meson setup accepted -Dtorch_cuda=true without the CUDA runtime"
    assert MESSAGE in out and "-Dcuda=disabled" in out, f"the refusal does not say why:\n{out[-2000:]}"


def test_cuda_torch_dir_without_runtime_is_refused(tmp_path):
    root = tmp_path / "libtorch-cuda"
    (root / "lib").mkdir(parents=True)
    (root / "include").mkdir()
    if not os.path.isdir("/usr/include/torch"):
        pytest.fail("/usr/include/torch is missing: install libtorch-dev (scripts/setup)")
    os.symlink("/usr/include/torch", root / "include" / "torch")
    for name in ("torch", "torch_cpu", "c10"):
        os.symlink(system_lib(name), root / "lib" / f"lib{name}.so")
    for name, stand_in in (("torch_cuda", "torch"), ("c10_cuda", "c10")):  # linkable stand-ins
        os.symlink(system_lib(stand_in), root / "lib" / f"lib{name}.so")
    p = configure(tmp_path, f"-Dtorch_dir={root}", "-Dcuda=disabled")
    out = p.stdout + p.stderr
    assert p.returncode != 0, "meson setup accepted a CUDA libtorch directory without the CUDA runtime"
    assert MESSAGE in out and "is a CUDA build" in out, f"the refusal does not say why:\n{out[-2000:]}"


def test_cpu_torch_without_runtime_configures(tmp_path):
    p = configure(tmp_path, "-Dcuda=disabled")
    assert p.returncode == 0, f"a CPU-only configuration failed:\n{(p.stdout + p.stderr)[-2000:]}"
    assert MESSAGE not in p.stdout + p.stderr
