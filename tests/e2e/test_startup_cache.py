"""The start-up cache: with --precision auto, vsr-cli measures fp32 against
bf16 once per machine, model file and thread count, keeps the choice in
$VSR_CACHE_DIR, and later starts load from it without measuring. Seen
through the -vv log (what was done), never through timing."""
import json
import os
import re
import shutil

import pytest

from conftest import clip, run_cli, tmodel

MEASURED = "start-up: precision choice measured"
CACHED = "start-up: precision choice from the start-up cache"
MEASURING = "start-up: measuring "  # debug: one line per timed pass
STEPS = ("start-up: libraries loaded", "start-up: model '", "start-up: check pass", "start-up: model ready",
         "start-up: first frame done")


@pytest.fixture
def model(tmp_path, test_models):
    """A copy of a small test model the tests may touch and replace."""
    dst = tmp_path / "model.pt"
    shutil.copy(tmodel(test_models, "tiny-smooth-x2.pt"), dst)
    return dst


def start(cli, data_dir, model, cache_dir, *extra):
    """One whole vsr-cli run (one frame) with auto precision; its log."""
    env = dict(os.environ, VSR_CACHE_DIR=str(cache_dir))
    out = model.parent / "out.mkv"
    p = run_cli(cli, ["-i", clip(data_dir, "single_frame.mp4"), "-o", out, "-m", model, "--precision", "auto",
                      "--max-frames", "1", "-vv", *extra], env=env)
    return p.stderr


def choice(log):
    """The precision and the sizing numbers the session got."""
    m = re.search(r"on cpu in (\w+), (\d+) threads, ~(\d+) bytes and ([\d.]+) ns per pixel", log)
    assert m, log
    return m.groups()


def cache_files(cache_dir):
    return sorted(p for p in cache_dir.iterdir() if p.name.startswith("startup-")) if cache_dir.exists() else []


def test_cold_then_warm(cli, data_dir, model, tmp_path):
    cache = tmp_path / "cache"
    cold = start(cli, data_dir, model, cache, "--threads", "2")
    assert MEASURED in cold and MEASURING in cold and CACHED not in cold, cold
    for step in STEPS:
        assert step in cold, f"{step!r} missing from the -v log:\n{cold}"
    files = cache_files(cache)
    assert len(files) == 1, files
    entry = json.loads(files[0].read_text())
    assert entry["format"] == "libvsr-startup-cache" and entry["key"]["threads"] == 2
    assert entry["key"]["model"]["path"] == os.path.realpath(model)
    assert entry["choice"]["precision"] == choice(cold)[0]

    warm = start(cli, data_dir, model, cache, "--threads", "2")
    assert CACHED in warm and str(files[0]) in warm, warm
    assert MEASURED not in warm and MEASURING not in warm, warm
    assert "start-up: check pass" in warm  # the card is still checked against the network
    assert choice(warm) == choice(cold)
    assert cache_files(cache) == files


def test_changed_model_file_is_measured_again(cli, data_dir, model, tmp_path, test_models):
    cache = tmp_path / "cache"
    start(cli, data_dir, model, cache, "--threads", "1")
    # the same bytes, a new modification time
    st = os.stat(model)
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    log = start(cli, data_dir, model, cache, "--threads", "1")
    assert MEASURED in log and "the model file changed" in log, log
    assert CACHED in start(cli, data_dir, model, cache, "--threads", "1")
    # another model (another size) under the same name
    shutil.copy(tmodel(test_models, "spatial-rf4-x2.pt"), model)
    assert os.path.getsize(model) != st.st_size
    log = start(cli, data_dir, model, cache, "--threads", "1")
    assert MEASURED in log and "the model file changed" in log, log
    assert len(cache_files(cache)) == 1  # replaced, not added


def test_thread_count_is_part_of_the_key(cli, data_dir, model, tmp_path):
    cache = tmp_path / "cache"
    assert MEASURED in start(cli, data_dir, model, cache, "--threads", "2")
    one = start(cli, data_dir, model, cache, "--threads", "1")
    assert MEASURED in one and CACHED not in one, one
    assert CACHED in start(cli, data_dir, model, cache, "--threads", "2")
    assert CACHED in start(cli, data_dir, model, cache, "--threads", "1")
    assert len(cache_files(cache)) == 2


@pytest.mark.parametrize("content, reason", [
    ("{\"format\": \"libvsr-startup-c", "not valid JSON: line 1"),
    ("\x00\xff garbage", "not valid JSON"),
    ("[1, 2]", "'format' is not"),
    ("DUPLICATE", "duplicate key \"choice\""),
    ("BADPRECISION", "'choice.precision' must be \"fp32\" or \"bf16\", got the string \"fp64\""),
    ("BADNUMBER", "'choice.ns_per_pixel' must be a positive number, got the string \"fast\""),
])
def test_damaged_cache_file_is_ignored_with_a_warning(cli, data_dir, model, tmp_path, content, reason):
    cache = tmp_path / "cache"
    start(cli, data_dir, model, cache, "--threads", "1")
    [entry] = cache_files(cache)
    good = entry.read_text()
    if content == "DUPLICATE":
        content = good.rstrip()[:-1] + ', "choice": {}}'
    elif content in ("BADPRECISION", "BADNUMBER"):
        doc = json.loads(good)
        if content == "BADPRECISION":
            doc["choice"]["precision"] = "fp64"
        else:
            doc["choice"]["ns_per_pixel"] = "fast"
        content = json.dumps(doc)
    entry.write_text(content, errors="surrogateescape")
    log = start(cli, data_dir, model, cache, "--threads", "1")
    warnings = [l for l in log.splitlines() if ": warning: start-up cache" in l]
    assert len(warnings) == 1 and str(entry) in warnings[0] and "is damaged" in warnings[0], log
    assert reason in warnings[0], warnings[0]
    assert MEASURED in log
    # measured again and written back: the next start uses it
    assert json.loads(entry.read_text())["format"] == "libvsr-startup-cache"
    assert CACHED in start(cli, data_dir, model, cache, "--threads", "1")


def test_unwritable_cache_dir_warns_and_works(cli, data_dir, model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = blocker / "cache"  # cannot be created, even by root
    log = start(cli, data_dir, model, cache, "--threads", "1")
    warnings = [l for l in log.splitlines() if ": warning: start-up cache" in l]
    assert len(warnings) == 1 and "cannot create the directory" in warnings[0] and str(cache) in warnings[0], log
    assert "wrote 1 frames" in log and MEASURED in log


def test_no_cache_measures_and_stores_nothing(cli, data_dir, model, tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):
        log = start(cli, data_dir, model, cache, "--threads", "1", "--no-cache")
        assert MEASURED in log and CACHED not in log and "cache off" in log, log
    assert cache_files(cache) == []
    # and a cache written before is not read
    start(cli, data_dir, model, cache, "--threads", "1")
    log = start(cli, data_dir, model, cache, "--threads", "1", "--no-cache")
    assert MEASURED in log and CACHED not in log, log
