"""Which test models can tell a wrong chunk grid from the right one.

A segment computed apart from the rest of its clip (scale-out, resume) must
reproduce the whole-clip run's chunk grid. The shortcut, feeding the segment
with a few frames of context before it, changes the grid. This test runs
vsr-cli over a whole clip and over such a "context" cut of it (the frames
from `overlap` before the segment on), and compares the segment's frames:

* the finite-receptive-field models (temporal-r2-x2, window5-center-x2) give
  the same frames either way: they cannot detect a wrong grid;
* recurrent-x2 (a state carried along the whole chunk, like BasicVSR) gives
  different frames: only it can.

So the identity tests of scale-out must include recurrent-x2.
"""
import os

import numpy as np

from conftest import decode_rgb, source_frames, tmodel, upscale, write_rgb_clip

FRAMES, FIRST = 48, 20           # the segment is [FIRST, FRAMES)
CHUNK, OVERLAP = 12, 6           # the whole clip's grid: chunks at 0, 6, ..., 36
SETTINGS = ["--chunk", CHUNK, "--overlap", OVERLAP, "--batch", 2, "--threads", 1]


def segment_difference(cli, model, whole, part, tmp_path, name):
    """Largest |difference| (0..1) between the segment's frames of the whole
    run and of the run over the context cut."""
    out_whole = str(tmp_path / f"{name}-whole.mkv")
    out_part = str(tmp_path / f"{name}-part.mkv")
    upscale(cli, whole, out_whole, model, *SETTINGS)
    upscale(cli, part, out_part, model, *SETTINGS)
    a = decode_rgb(out_whole)[FIRST:]
    b = decode_rgb(out_part)[OVERLAP:]
    assert a.shape == b.shape, f"{name}: {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max()), int((np.abs(a - b).reshape(len(a), -1).max(1) > 0).sum())


def test_only_the_recurrent_model_detects_a_wrong_grid(cli, manifest, test_models, tmp_path):
    frames = source_frames(manifest, "long_120.mkv", n=FRAMES)
    whole = write_rgb_clip(str(tmp_path / "whole.mkv"), frames)
    # the "context" cut: the segment plus OVERLAP frames before it
    part = write_rgb_clip(str(tmp_path / "part.mkv"), frames[FIRST - OVERLAP:])
    found = {}
    for name in ("temporal-r2-x2", "window5-center-x2", "recurrent-x2"):
        found[name] = segment_difference(cli, tmodel(test_models, name + ".pt"), whole, part, tmp_path, name)
    print("max |difference|, frames that differ:", found)
    for name in ("temporal-r2-x2", "window5-center-x2"):
        assert found[name] == (0.0, 0), \
            f"{name}: a context cut changed the segment ({found[name]}), so it could detect a wrong grid " \
            f"after all; the premise of this test is wrong"
    diff, n = found["recurrent-x2"]
    # one 16-bit step is 1.5e-5: this is far above any rounding
    assert diff > 1e-3 and n >= 10, \
        f"recurrent-x2 did not notice the wrong grid (max difference {diff}, {n} frames differ)"
