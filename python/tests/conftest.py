"""Fixtures for the Python binding's tests.

meson sets the environment (tests/meson.build):
  VSR_LIBRARY     path of the libvsr.so under test
  VSR_MODELS_DIR  real models (realesr-animevideov3-x2.pt ...), from scripts/fetch-models
  VSR_TEST_MODELS small test models (tiny-x2.pt, bad-card.pt, ...), from tools/make_test_models.py
  VSR_TEST_DATA   test clips (real_h264.mp4, ...) and manifest.json, from tools/make_test_data.py
A fixture whose file is missing FAILS with a message saying how to make it:
these tests must not pass by skipping.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("VSR_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))

# Run by hand from the source tree (without meson's PYTHONPATH), the package
# is still found.
_pkg_dir = os.path.join(SOURCE_ROOT, "python")
if _pkg_dir not in sys.path:
    sys.path.append(_pkg_dir)

REAL_MODEL = "realesr-animevideov3-x2.pt"
SMALL_W, SMALL_H, SMALL_FRAMES = 128, 72, 12


def _env_dir(var, how):
    d = os.environ.get(var)
    if not d:
        pytest.fail(f"environment variable {var} is not set; run the tests through meson "
                    f"(meson test -C BUILD) or set it: {how}", pytrace=False)
    if not os.path.isdir(d):
        pytest.fail(f"{var}={d} is not a directory: {how}", pytrace=False)
    return d


def _need_file(d, name, how):
    p = os.path.join(d, name)
    if not os.path.isfile(p):
        pytest.fail(f"missing test file {p}: {how}", pytrace=False)
    return p


FETCH_HOW = "run scripts/fetch-models (or tools/convert_ncnn.py) to put the real models there"
TEST_MODELS_HOW = ("build them with tools/make_test_models.py --out DIR --stamp DIR/stamp "
                   "(meson does this for the test-models target)")
TEST_DATA_HOW = ("build them with tools/make_test_data.py --out DIR --stamp DIR/stamp "
                 "(meson does this for the test-data target)")


@pytest.fixture(scope="session")
def library_path():
    p = os.environ.get("VSR_LIBRARY")
    if not p:
        pytest.fail("environment variable VSR_LIBRARY (path of libvsr.so) is not set",
                    pytrace=False)
    if not os.path.isfile(p):
        pytest.fail(f"VSR_LIBRARY={p} does not exist; build the library first (ninja -C BUILD)",
                    pytrace=False)
    return p


@pytest.fixture(scope="session")
def vsr(library_path):
    """The libvsr package, loaded from VSR_LIBRARY."""
    import libvsr
    if os.path.realpath(libvsr.library_path) != os.path.realpath(library_path):
        pytest.fail(f"libvsr was loaded from {libvsr.library_path}, not VSR_LIBRARY={library_path}",
                    pytrace=False)
    return libvsr


@pytest.fixture(scope="session")
def models_dir():
    return _env_dir("VSR_MODELS_DIR", FETCH_HOW)


@pytest.fixture(scope="session")
def real_model(models_dir):
    """The real x2 model (realesr-animevideov3-x2.pt)."""
    return _need_file(models_dir, REAL_MODEL, FETCH_HOW)


@pytest.fixture(scope="session")
def test_models_dir():
    return _env_dir("VSR_TEST_MODELS", TEST_MODELS_HOW)


@pytest.fixture(scope="session")
def test_model(test_models_dir):
    """A function: name -> path of a test model, failing if it is missing."""
    return lambda name: _need_file(test_models_dir, name, TEST_MODELS_HOW)


@pytest.fixture(scope="session")
def tiny_model(test_model):
    return test_model("tiny-x2.pt")


@pytest.fixture(scope="session")
def test_data_dir():
    return _env_dir("VSR_TEST_DATA", TEST_DATA_HOW)


@pytest.fixture(scope="session")
def real_clip(test_data_dir):
    """The real-content H.264 test clip."""
    _need_file(test_data_dir, "manifest.json", TEST_DATA_HOW)
    return _need_file(test_data_dir, "real_h264.mp4", TEST_DATA_HOW)


@pytest.fixture(scope="session")
def small_clip(vsr, real_clip, tmp_path_factory):
    """(path, frames): real_h264.mp4 cut to <= 12 frames and scaled to 128x72.

    Keeps the tests with the real network fast (~2 frames/s at 320x180 on
    a slow CPU). Made with the binding itself (Input -> convert -> Output,
    lossless-ish x264).
    """
    path = str(tmp_path_factory.mktemp("clips") / "small.mkv")
    n = 0
    with vsr.Input(real_clip, max_frames=SMALL_FRAMES) as inp:
        with vsr.Output(path, codec="libx264", crf=4, preset="ultrafast",
                        pix_fmt="yuv420p", copy_streams=False) as out:
            for f in inp:
                with f, f.convert(vsr.PixFmt.YUV420P, SMALL_W, SMALL_H) as g:
                    out.write(g)
                    n += 1
    if n == 0:
        pytest.fail(f"{real_clip}: no frame decoded", pytrace=False)
    return path, n


def count_frames(vsr, path):
    """Frames in a video file, by decoding it all with the binding."""
    with vsr.Input(path) as inp:
        n = 0
        for f in inp:
            f.close()
            n += 1
        return n


@pytest.fixture(scope="session")
def frame_counter(vsr):
    return lambda path: count_frames(vsr, path)
