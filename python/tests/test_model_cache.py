"""The start-up cache seen from one process (Model(cache=...), the log):
what a second load in the same process does, and a cache directory that
cannot be written being warned about once, not at every load.
(tests/e2e/test_startup_cache.py covers separate processes.)"""
import os
import shutil

import pytest


@pytest.fixture
def logs(vsr):
    lines = []
    vsr.set_log_level(vsr.LogLevel.DEBUG)
    vsr.set_log_callback(lambda level, msg: lines.append((level, msg)))
    yield lines
    vsr.set_log_callback(None)
    vsr.set_log_level(vsr.LogLevel.WARNING)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("VSR_CACHE_DIR", str(d))  # os.environ: libvsr's getenv sees it
    return d


def copies(test_model, tmp_path, n):
    src = test_model("tiny-smooth-x2.pt")
    out = []
    for i in range(n):
        p = tmp_path / f"model-{i}.pt"
        shutil.copy(src, p)
        out.append(str(p))
    return out


def test_second_load_in_a_process_measures_nothing(vsr, test_model, tmp_path, cache_dir, logs):
    [path] = copies(test_model, tmp_path, 1)
    vsr.configure(threads=1)
    with vsr.Model(path) as m1:
        first = m1.info()
    measured = [m for _, m in logs if "precision choice measured" in m]
    assert len(measured) == 1 and len(os.listdir(cache_dir)) == 1
    logs.clear()
    with vsr.Model(path) as m2:
        second = m2.info()
    msgs = [m for _, m in logs]
    assert any("remembered from an earlier load in this process" in m for m in msgs), msgs
    assert not any("measuring" in m or "precision choice measured" in m for m in msgs), msgs
    assert (second.precision, second.bytes_per_pixel, second.ns_per_pixel) == \
        (first.precision, first.bytes_per_pixel, first.ns_per_pixel)


def test_cache_false_measures_every_load_and_writes_nothing(vsr, test_model, tmp_path, cache_dir, logs):
    [path] = copies(test_model, tmp_path, 1)
    vsr.configure(threads=1)
    for _ in range(2):
        with vsr.Model(path, cache=False):
            pass
    assert len([m for _, m in logs if "precision choice measured" in m]) == 2
    assert not cache_dir.exists()
    with vsr.Model(path, precision="fp32") as m, pytest.raises(TypeError, match="cache"):
        vsr.Session(model=m, cache=False)


def test_unwritable_cache_dir_warns_once(vsr, test_model, tmp_path, monkeypatch, logs):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VSR_CACHE_DIR", str(blocker / "cache"))
    vsr.configure(threads=1)
    for path in copies(test_model, tmp_path, 3):  # three models: three failed writes
        with vsr.Model(path) as m:
            assert m.info().ns_per_pixel > 0
    measured = [m for _, m in logs if "precision choice measured" in m]
    warnings = [m for level, m in logs if level == vsr.LogLevel.WARNING and "start-up cache" in m]
    assert len(measured) == 3
    assert len(warnings) == 1 and "cannot create the directory" in warnings[0], warnings
