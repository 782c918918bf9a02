"""libvsr as users meet it: `meson install` into a temporary prefix, then
pkg-config, the C and C++ examples compiled against the installed headers
and library (not the build tree), run on a real clip; plus what else the
install must contain (CLI, bench tool, converter, model data dir), the
installed programs and Python package working with no environment set, the
ldconfig decision of the install script, and `pip install ./python`."""
import glob
import importlib.util
import os
import shutil
import subprocess
import sys

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
    for cfg in ("default.json", "zoo.json"):  # vsr-bench's shipped configurations
        assert os.path.isfile(os.path.join(share, "bench", "configs", cfg)), cfg
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


def bare_env(installed):
    """The environment of a user who set nothing for libvsr."""
    env = dict(installed["env"])
    for var in ("LD_LIBRARY_PATH", "VSR_LIBRARY", "PYTHONPATH", "PKG_CONFIG_PATH", "PKG_CONFIG_SYSROOT_DIR"):
        env.pop(var, None)
    return env


def test_installed_cli_finds_installed_model_dir(installed, tmp_path):
    # vsr-cli built for this prefix looks for the default model in <datadir>/libvsr/models;
    # with DESTDIR that path does not exist, so point VSR_MODEL_DIR at the installed copy.
    # No LD_LIBRARY_PATH: the program finds the installed library by its run path.
    env = bare_env(installed)
    env["VSR_MODEL_DIR"] = os.path.join(installed["root"], installed["opts"]["datadir"], "libvsr", "models")
    out = tmp_path / "cli.mkv"
    r = subprocess.run([os.path.join(installed["root"], "bin", "vsr-cli"), "-q", "-i",
                        os.path.join(DATA, "single_frame.mp4"), "-o", str(out)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000


def elf_programs(installed):
    bindir = os.path.join(installed["root"], "bin")
    progs = []
    for name in sorted(os.listdir(bindir)):
        with open(os.path.join(bindir, name), "rb") as f:
            if f.read(4) == b"\x7fELF":
                progs.append(os.path.join(bindir, name))
    return progs


def test_installed_programs_find_the_installed_library(installed):
    """Every installed program runs with no LD_LIBRARY_PATH, on the library
    next to it: a run path relative to the program ($ORIGIN), so it holds in
    a DESTDIR tree, in any prefix, and after moving the tree."""
    progs = elf_programs(installed)
    assert any(p.endswith("/vsr-cli") for p in progs), progs
    env = bare_env(installed)
    want = os.path.realpath(os.path.join(installed["libdir"], f"libvsr.so.{api_major()}"))
    for prog in progs:
        dyn = subprocess.run(["readelf", "-d", prog], capture_output=True, text=True, check=True).stdout
        assert "$ORIGIN/" in dyn, f"{prog}: no run path relative to the program:\n{dyn}"
        ldd = subprocess.run(["ldd", prog], capture_output=True, text=True, env=env).stdout
        line = [l for l in ldd.splitlines() if "libvsr.so" in l]
        assert line and "not found" not in line[0], f"{prog}:\n{ldd}"
        assert os.path.realpath(line[0].split("=>")[1].split("(")[0].strip()) == want, line[0]
    r = subprocess.run([os.path.join(installed["root"], "bin", "vsr-cli"), "--version"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"libvsr {r.stdout.split()[1]}" in r.stdout, r.stdout


def python_site_dir(installed):
    found = glob.glob(os.path.join(installed["root"], "lib", "python3*", "*-packages", "libvsr", "_config.py"))
    assert len(found) == 1, found
    return os.path.dirname(os.path.dirname(found[0]))


def test_installed_python_package_is_on_the_default_path(installed):
    """For the prefixes a Debian Python imports from (/usr/local, /usr), the
    package goes where `python3 -c 'import libvsr'` finds it unaided."""
    site_dir = python_site_dir(installed)
    final = site_dir[len(installed["dest"]):]
    prefix = installed["opts"]["prefix"]
    python = os.environ["VSR_PYTHON"]
    defaults = subprocess.run([python, "-c", "import site; print('\\n'.join(site.getsitepackages()))"],
                              capture_output=True, text=True, check=True).stdout.split()
    if any(d.startswith(prefix + "/") for d in defaults):
        assert final in defaults, (final, defaults)
    assert final.startswith(prefix + "/"), final


def test_installed_python_package_loads_the_installed_library(installed, tmp_path):
    """PYTHONPATH names only the installed site-packages directory; no
    VSR_LIBRARY, no LD_LIBRARY_PATH: the package loads the library that was
    installed with it (its generated _config.py), not the build tree's."""
    site_dir = python_site_dir(installed)
    env = bare_env(installed)
    env["PYTHONPATH"] = site_dir
    code = "import libvsr, sys; print(libvsr.library_path); print(libvsr.version()); print(libvsr.__file__)"
    r = subprocess.run([os.environ["VSR_PYTHON"], "-s", "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    path, version, module = r.stdout.split("\n")[:3]
    assert os.path.realpath(path) == os.path.realpath(os.path.join(installed["libdir"], f"libvsr.so.{api_major()}"))
    assert module.startswith(site_dir), module
    assert version == subprocess.run([sys.executable, os.path.join(SRC, "scripts", "version.py")],
                                     capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site_dir, "libvsr", "_config.py")) as f:
        config = f.read()
    final_lib = os.path.join(installed["opts"]["prefix"], installed["opts"]["libdir"], f"libvsr.so.{api_major()}")
    assert f'LIBRARY = "{final_lib}"' in config, config


def load_ldconfig_script():
    spec = importlib.util.spec_from_file_location("ldconfig_after_install",
                                                  os.path.join(SRC, "scripts", "ldconfig-after-install.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ldconfig_decision():
    """meson never runs ldconfig; the install script does, only when it
    should: not with DESTDIR (a staged install), not for a directory the
    linker does not search (the run path serves there), not when not root
    (it says to run it)."""
    m = load_ldconfig_script()
    searched = ["/usr/lib", "/usr/local/lib/x86_64-linux-gnu"]
    run, msg = m.decide("/usr/local/lib/x86_64-linux-gnu", "/tmp/stage", searched, 0)
    assert not run and "DESTDIR" in msg
    run, msg = m.decide("/usr/local/lib/x86_64-linux-gnu", "", searched, 0)
    assert run
    run, msg = m.decide("/usr/local/lib/x86_64-linux-gnu", "", searched, 1000)
    assert not run and "sudo ldconfig" in msg
    run, msg = m.decide("/opt/libvsr/lib", "", searched, 0)
    assert not run and "run path" in msg and "LD_LIBRARY_PATH=/opt/libvsr/lib" in msg


def test_ldconfig_configured_dirs(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "ld.so.conf").write_text("# comment\ninclude conf.d/*.conf\n/opt/a/lib  # trailing\n")
    (tmp_path / "conf.d" / "b.conf").write_text("/opt/b/lib\n\n")
    (tmp_path / "conf.d" / "c.conf").write_text("include ../ld.so.conf\n/opt/c/lib=libc6\n")  # a loop
    m = load_ldconfig_script()
    assert m.configured_dirs(str(tmp_path / "ld.so.conf")) == ["/opt/b/lib", "/opt/c/lib", "/opt/a/lib"]


def test_ldconfig_script_runs_it_only_without_destdir(tmp_path):
    """The script as meson runs it, with a stand-in ldconfig that records
    that it ran and a configuration naming the library directory."""
    libdir = tmp_path / "lib"
    libdir.mkdir()
    conf = tmp_path / "ld.so.conf"
    conf.write_text(f"{libdir}\n")
    marker = tmp_path / "ran"
    fake = tmp_path / "fake-ldconfig"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    cmd = [sys.executable, os.path.join(SRC, "scripts", "ldconfig-after-install.py"), str(libdir),
           "--ld-so-conf", str(conf), "--ldconfig", str(fake)]
    env = dict(os.environ)
    env.pop("MESON_INSTALL_DRY_RUN", None)
    env["DESTDIR"] = str(tmp_path / "stage")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert not marker.exists() and "DESTDIR is set" in r.stdout
    del env["DESTDIR"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    if os.geteuid() == 0:
        assert marker.exists(), r.stdout
    else:
        assert not marker.exists() and "sudo ldconfig" in r.stdout
    # a directory the configuration does not name: never
    marker.unlink(missing_ok=True)
    other = tmp_path / "other"
    other.mkdir()
    r = subprocess.run(cmd[:2] + [str(other)] + cmd[3:], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and not marker.exists() and "not searched" in r.stdout, r.stdout


def test_pip_install_of_the_binding(tmp_path):
    """`pip install ./python` (no network: no build isolation, no index)
    installs the package without _config.py; it then finds the library
    through VSR_LIBRARY. The copy keeps pip's build files out of the tree."""
    python = os.environ["VSR_PYTHON"]
    r = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
    assert r.returncode == 0, "pip is missing (scripts/setup installs python3-pip): " + r.stderr
    src = tmp_path / "python"
    shutil.copytree(os.path.join(SRC, "python"), src, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "target"
    r = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--disable-pip-version-check", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    pkg = target / "libvsr"
    assert (pkg / "__init__.py").is_file() and not (pkg / "_config.py").exists()
    assert not (target / "tests").exists()
    lib = os.path.join(BUILD, "lib", f"libvsr.so.{api_major()}")
    env = dict(os.environ, PYTHONPATH=str(target), VSR_LIBRARY=lib)
    r = subprocess.run([python, "-s", "-c", "import libvsr; print(libvsr.library_path, libvsr.__file__)"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    path, module = r.stdout.split()
    assert path == lib and module.startswith(str(target)), r.stdout


def test_pyproject_version_is_the_library_version():
    import tomllib
    with open(os.path.join(SRC, "python", "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    version = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "version.py")], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert meta["project"]["version"] == version
