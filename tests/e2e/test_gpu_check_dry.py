"""scripts/gpu-check --cpu: the GPU node script's dry run, so that the script,
the GPU test suite (tests/gpu) and the GPU benchmark (bench/gpu) keep working
on a machine without a GPU.

Runs every step against this build (reused, not rebuilt): a dependency
prefix (a minimal stand-in archive: unpacking, the glibc check and env.sh
are what is exercised here; scripts/check-prefix tests a real one), the
-Dtorch_dir=auto configure check, the test data, the GPU suite (its CUDA
tests skip with libvsr's "no CUDA device" reason, three tests run on the CPU)
and the benchmark's tiny CPU version. Then reads the report it wrote.
"""
import json
import os
import subprocess
import tarfile

import pytest

SOURCE = os.environ.get("VSR_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def stand_in_prefix(tmp_path):
    d = tmp_path / "libvsr-prefix"
    (d / "lib" / "pkgconfig").mkdir(parents=True)
    (d / "bin").mkdir()
    (d / "MANIFEST.txt").write_text("libvsr dependency prefix (test stand-in)\nneeds: glibc >= 2.17, libstdc++\n")
    (d / "env.sh").write_text('vsr_prefix=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)\n'
                              'export PKG_CONFIG_PATH="$vsr_prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"\n')
    archive = tmp_path / "prefix.tar.xz"
    with tarfile.open(archive, "w:xz") as t:
        t.add(d, arcname="libvsr-prefix")
    return archive


def test_gpu_check_cpu_dry_run(tmp_path):
    build = os.environ.get("VSR_BUILD_ROOT")
    if not build or not os.path.exists(os.path.join(build, "build.ninja")):
        pytest.fail("VSR_BUILD_ROOT is not set to a build directory: run through meson test")
    out = tmp_path / "report"
    env = dict(os.environ)
    env.pop("OUT", None)
    p = subprocess.run([os.path.join(SOURCE, "scripts", "gpu-check"), "--cpu", "--build", build, "--out", str(out),
                        "--prefix", str(stand_in_prefix(tmp_path)), "--python", os.environ.get("VSR_PYTHON",
                                                                                              "/usr/bin/python3")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=1500)
    log = p.stdout
    assert p.returncode == 0, log[-5000:]
    assert "[gpu-check" in log  # progress lines
    assert sorted(os.listdir(out)) == ["bench.json", "build.log", "report.json", "report.md", "suite.log"]

    rep = json.load(open(out / "report.json"))
    assert "dry run" in rep["mode"]
    steps = {s["step"]: s for s in rep["steps"]}
    assert [s["step"] for s in rep["steps"]] == ["prefix", "build", "torch-auto", "data", "suite", "bench"]
    assert steps["prefix"]["status"] == "ok" and "needs glibc >= 2.17" in steps["prefix"]["detail"]
    assert steps["build"]["status"] == "reused"
    for name in ("torch-auto", "data", "suite", "bench"):
        assert steps[name]["status"] == "ok", steps[name]
    assert "libtorch" in steps["torch-auto"]["detail"]

    tests = {t["name"]: t for t in rep["tests"]}
    everywhere = ("test_compare_helpers_on_cpu", "test_binding_helpers_on_cpu",
                  "test_wrong_device_index_is_clear_error")
    for name in everywhere:
        assert tests[name]["status"] == "passed", tests[name]
    cuda_tests = [t for n, t in tests.items() if n not in everywhere]
    assert len(cuda_tests) >= 10, sorted(tests)
    for t in cuda_tests:
        assert t["status"] == "skipped" and t["message"].startswith("no CUDA device"), t

    bench = json.load(open(out / "bench.json"))
    assert bench["cpu_dry_run"] is True
    assert bench["whole_runs"] and not [r for r in bench["whole_runs"] if "error" in r], bench["whole_runs"]
    for r in bench["whole_runs"]:
        assert r["fps"] > 0 and r["floor_fps"] > 0 and r["stages_ms"]["inference"] > 0, r
    alone = bench["model_alone"][0]
    assert alone["libvsr_fps"] > 0 and isinstance(alone.get("torchscript_fps"), float), alone
    if os.path.exists(os.path.join(SOURCE, "models", "realesr-animevideov3-x2.pt")):
        # the eager rebuild of the real model matched the TorchScript file
        assert isinstance(alone.get("eager_fps"), float), alone

    md = open(out / "report.md").read()
    assert "dry run: no GPU used" in md and "## GPU test suite" in md and "# Benchmark" in md
