"""libvsr as users meet it: `meson install` into a temporary prefix, then
pkg-config, the C and C++ examples compiled against the installed headers
and library (not the build tree), run on a real clip; plus what else the
install must contain (CLI, bench tool, converter, model data dir)."""
import os
import shutil
import subprocess

import pytest

from conftest import api_major

SRC = os.environ["VSR_SOURCE_ROOT"]
BUILD = os.environ["VSR_BUILD_ROOT"]
DATA = os.environ["VSR_TEST_DATA"]
MODELS = os.environ["VSR_MODELS_DIR"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", str(dest), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    prefix = subprocess.run(["meson", "introspect", "--buildoptions", BUILD], capture_output=True,
                            text=True, check=True).stdout
    import json
    opts = {o["name"]: o["value"] for o in json.loads(prefix)}
    root = str(dest) + opts["prefix"]
    libdir = os.path.join(root, opts["libdir"])
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.path.join(libdir, "pkgconfig")
    env["PKG_CONFIG_SYSROOT_DIR"] = str(dest)
    env["LD_LIBRARY_PATH"] = libdir
    # make sure nothing is found in the build tree by accident
    env.pop("VSR_LIBRARY", None)
    return {"dest": str(dest), "root": root, "libdir": libdir, "env": env, "opts": opts}


def pkg_config(inst, *args):
    r = subprocess.run(["pkg-config", *args, "libvsr"], capture_output=True, text=True, env=inst["env"])
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_installed_files(installed):
    root, libdir = installed["root"], installed["libdir"]
    for h in ["vsr.h", "common.h", "version.h", "frame.h", "stream.h", "tracker.h", "session.h"]:
        assert os.path.isfile(os.path.join(root, "include", "libvsr", h)), h
    so = sorted(f for f in os.listdir(libdir) if f.startswith("libvsr.so"))
    soname = f"libvsr.so.{api_major()}"
    assert "libvsr.so" in so and soname in so and any(f.count(".") >= 4 for f in so), so
    assert os.path.islink(os.path.join(libdir, soname))
    for exe in ["vsr-cli", "vsr-bench", "vsr-convert-ncnn"]:
        p = os.path.join(root, "bin", exe)
        assert os.access(p, os.X_OK), p
    share = os.path.join(root, installed["opts"]["datadir"], "libvsr")
    assert os.path.isfile(os.path.join(share, "tools", "convert_ncnn.py"))
    assert os.path.isfile(os.path.join(share, "plot_report.py"))
    assert os.path.isfile(os.path.join(share, "models", "realesr-animevideov3-x2.pt")), \
        "run scripts/fetch-models before installing"
    assert os.path.isfile(os.path.join(root, installed["opts"]["mandir"], "man1", "vsr-cli.1"))


def test_pkg_config_gives_working_flags(installed):
    cflags = pkg_config(installed, "--cflags")
    libs = pkg_config(installed, "--libs")
    assert any(f.startswith("-I") and installed["dest"] in f for f in cflags), cflags
    assert "-lvsr" in libs
    # FFmpeg and libtorch are private to the shared library
    assert not [f for f in libs if "torch" in f or "avcodec" in f]


def build_and_run(installed, tmp_path, lang):
    src = os.path.join(SRC, "examples", lang, "upscale.c" if lang == "c" else "upscale.cpp")
    exe = tmp_path / f"upscale_{lang}"
    cc = ["cc", "-std=c11"] if lang == "c" else ["c++", "-std=c++17"]
    cmd = cc + ["-Wall", "-Werror", src, "-o", str(exe)] + pkg_config(installed, "--cflags") + pkg_config(installed, "--libs")
    r = subprocess.run(cmd, capture_output=True, text=True, env=installed["env"])
    assert r.returncode == 0, " ".join(cmd) + "\n" + r.stderr
    # it must run with the installed library, not the build tree's
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, env=installed["env"]).stdout
    assert installed["libdir"] in ldd and BUILD not in ldd, ldd
    out = tmp_path / f"out_{lang}.mkv"
    model = os.path.join(MODELS, "realesr-animevideov3-x2.pt")
    clip = os.path.join(DATA, "single_frame.mp4")
    r = subprocess.run([str(exe), model, clip, str(out)], capture_output=True, text=True, env=installed["env"],
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "frames in" in r.stdout
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries",
                            "stream=width,height,nb_read_frames", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, check=True).stdout.strip()
    return probe, r.stdout


def test_c_example_against_installed_library(installed, tmp_path):
    probe, out = build_and_run(installed, tmp_path, "c")
    w, h, n = probe.split(",")
    assert int(n) == 1
    assert "inference" in out  # tracker stats printed


def test_cpp_example_against_installed_library(installed, tmp_path):
    probe, out = build_and_run(installed, tmp_path, "cpp")
    assert probe.endswith(",1")
    assert "libvsr_operations_total" in out  # Prometheus export printed


def test_installed_cli_finds_installed_model_dir(installed, tmp_path):
    # vsr-cli built for this prefix looks for the default model in <datadir>/libvsr/models;
    # with DESTDIR that path does not exist, so point VSR_MODEL_DIR at the installed copy.
    env = dict(installed["env"])
    env["VSR_MODEL_DIR"] = os.path.join(installed["root"], installed["opts"]["datadir"], "libvsr", "models")
    out = tmp_path / "cli.mkv"
    r = subprocess.run([os.path.join(installed["root"], "bin", "vsr-cli"), "-q", "-i",
                        os.path.join(DATA, "single_frame.mp4"), "-o", str(out)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000
