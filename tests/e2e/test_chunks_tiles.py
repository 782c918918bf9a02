"""Temporal chunks and spatial tiles give the whole-clip / whole-frame result.

All inputs are lossless RGB clips (ffv1 bgr0) cut from the test data's
photographs, so every run sees exactly x/255; all outputs are ffv1 gbrp16le
(16-bit, quantisation error <= 7.6e-6 per value). Two runs whose float
outputs agree to 1e-5 can still land on neighbouring 16-bit codes, so
"equal" here means max abs difference <= 2e-5 on [0, 1] (one 16-bit step is
1.53e-5; measured: 0 for chunks, exactly one step for tiles).

Chunks: temporal-r2-x2.pt (NTCHW, temporal radius 2, zero temporal padding,
so frames near a chunk's edge see zeros instead of their neighbours) on
64x48 clips of 5, N, N+1 and 23 frames, (N, O) in (8, 4), (6, 4), (10, 6):
chunked output equals a whole-clip run (--chunk 64). With --overlap 0 the
frames around chunk borders differ by ~4e-2 to 8e-2 (measured), while frames
farther than the radius from a border are still equal: the test proves it
sees seams. --chunk-blend cross-fades the overlaps; its frames in the
overlaps mix in edge frames, measured 47-56 dB against the whole clip.

Tiles: spatial-rf4-x2.pt (radius 4) and the real model (radius 19) on a
128x72 clip with --tile 32: pad >= radius equals untiled, pad 0 differs
visibly (measured 0.039 and 0.35 max abs), --tile-blend is reported as PSNR
against untiled (measured 59 dB for rf4 at pad 2, 55 dB for the real model
at pad 9), and --mem-limit 2M (one untiled pass of rf4 needs ~23 MB) runs
with smaller tiles, says so on stderr, and gives the untiled output.

Every run's output has the input's frame count and timestamps. The runs go
two at a time (--threads 1 each) to use both cores.
"""
import concurrent.futures

import numpy as np
import pytest

from conftest import (assert_same_times, decode_rgb, frame_times, max_abs, psnr, real_model, run_cli,
                      source_frames, stats_json, tmodel, write_rgb_clip)

EQUAL = 2e-5          # max abs: "the same output" (see the module docstring)
VISIBLE = 1e-3        # max abs: a seam / a tile border that shows
CHUNK_BLEND_PSNR = 40.0   # stated bounds; measured values in the docstring
TILE_BLEND_PSNR = 45.0
TEMPORAL_RADIUS = 2

SETTINGS = [(8, 4), (6, 4), (10, 6)]
LENGTHS = sorted({n for N, _ in SETTINGS for n in (5, N, N + 1, 23)})


def lengths_for(N):
    return [5, N, N + 1, 23]


@pytest.fixture(scope="module")
def jobs(cli, manifest, test_models, models_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("chunks_tiles")
    temporal = tmodel(test_models, "temporal-r2-x2.pt")
    rf4 = tmodel(test_models, "spatial-rf4-x2.pt")
    real = real_model(models_dir, 2)

    src = source_frames(manifest, "long_120.mkv", n=23, crop=(32, 12, 64, 48))
    clips = {n: write_rgb_clip(str(d / f"clip{n}.mkv"), src[:n]) for n in LENGTHS}
    pic = source_frames(manifest, "real_h264.mp4", n=2)  # 128x72
    clips["pic"] = write_rgb_clip(str(d / "pic.mkv"), pic)
    in_times = {k: frame_times(v) for k, v in clips.items()}

    def job(key, clip_key, model, *args):
        inp = clips[clip_key]
        out = str(d / (key + ".mkv"))
        js = str(d / (key + ".json"))
        p = run_cli(cli, ["-i", inp, "-o", out, "-m", model, "--codec", "ffv1", "--pix-fmt", "gbrp16le",
                          "--threads", "1", "--stats-json", js, *map(str, args)])
        return {"key": key, "input": inp, "out": out, "stderr": p.stderr, "rgb": decode_rgb(out),
                "times": frame_times(out), "in_times": in_times[clip_key], "stats": stats_json(js),
                "args": args}

    specs = {}
    # the real model first: its runs are the longest
    specs["real_whole"] = ("pic", real)
    specs["real_tile"] = ("pic", real, "--tile", 32, "--tile-pad", 19)
    specs["real_pad0"] = ("pic", real, "--tile", 32, "--tile-pad", 0)
    specs["real_blend"] = ("pic", real, "--tile", 32, "--tile-pad", 9, "--tile-blend")
    specs["rf4_whole"] = ("pic", rf4)
    specs["rf4_tile"] = ("pic", rf4, "--tile", 32, "--tile-pad", 4)
    specs["rf4_pad0"] = ("pic", rf4, "--tile", 32, "--tile-pad", 0)
    specs["rf4_blend"] = ("pic", rf4, "--tile", 32, "--tile-pad", 2, "--tile-blend")
    specs["rf4_mem"] = ("pic", rf4, "--mem-limit", "2M")
    for n in LENGTHS:
        specs[f"whole{n}"] = (n, temporal, "--chunk", 64)
    for N, O in SETTINGS:
        for n in lengths_for(N):
            specs[f"chunk{n}_{N}_{O}"] = (n, temporal, "--chunk", N, "--overlap", O)
        specs[f"seam_{N}"] = (23, temporal, "--chunk", N, "--overlap", 0)
        specs[f"blend_{N}_{O}"] = (23, temporal, "--chunk", N, "--overlap", O, "--chunk-blend")

    ex = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futs = {k: ex.submit(job, k, *v) for k, v in specs.items()}
    yield futs
    ex.shutdown(wait=True, cancel_futures=True)


def get(jobs, key):
    r = jobs[key].result()
    assert_same_times(r["times"], r["in_times"], 0.0, what=f"{key} {r['args']}")
    return r


def inference_kept(r):
    """Frames kept from each forward pass, in order (the inference records)."""
    return [rec["frames"] for rec in r["stats"]["history"] if rec["type"] == "inference"]


# ---------------------------------------------------------------------------
# Temporal chunks

@pytest.mark.parametrize("N,O", SETTINGS)
def test_chunked_equals_whole(jobs, N, O):
    for n in lengths_for(N):
        whole = get(jobs, f"whole{n}")
        ch = get(jobs, f"chunk{n}_{N}_{O}")
        assert ch["rgb"].shape == whole["rgb"].shape == (n, 3, 96, 128)
        d = max_abs(ch["rgb"], whole["rgb"])
        print(f"\n{n} frames, chunk {N} overlap {O}: max abs vs whole clip {d:.3g}")
        assert d <= EQUAL, (f"{n} frames, --chunk {N} --overlap {O}: differs from the whole-clip run by "
                            f"{d:.3g} (> {EQUAL})")


def test_whole_clip_runs_in_one_pass(jobs):
    for n in LENGTHS:
        kept = inference_kept(get(jobs, f"whole{n}"))
        assert kept == [n], f"{n} frames with --chunk 64: forward passes kept {kept}, expected one of {n}"


@pytest.mark.parametrize("N,O", SETTINGS)
def test_overlap_zero_shows_seams(jobs, N, O):
    whole = get(jobs, "whole23")
    seam = get(jobs, f"seam_{N}")
    good = get(jobs, f"chunk23_{N}_{O}")
    per_frame = [max_abs(seam["rgb"][i], whole["rgb"][i]) for i in range(23)]
    worst = max(per_frame)
    ok = max_abs(good["rgb"], whole["rgb"])
    print(f"\nchunk {N} overlap 0 vs whole: max abs {worst:.3g} (overlap {O}: {ok:.3g}); per frame "
          + " ".join(f"{v:.1e}" for v in per_frame))
    assert worst >= VISIBLE, (f"--chunk {N} --overlap 0 differs from the whole clip by only {worst:.3g}: "
                              f"the test cannot see a seam")
    assert worst >= 50 * max(ok, EQUAL), "the seam is not orders of magnitude above the overlapped run"
    # where the passes were cut: cumulative counts of kept frames
    kept = inference_kept(seam)
    assert sum(kept) == 23, f"forward passes kept {kept} frames, not 23"
    cuts = np.cumsum(kept)[:-1]
    assert len(cuts) >= 1, f"--chunk {N} on 23 frames ran in one pass: {kept}"
    for i, v in enumerate(per_frame):
        near = any(c - TEMPORAL_RADIUS <= i < c + TEMPORAL_RADIUS for c in cuts)
        if not near:
            assert v <= EQUAL, (f"--overlap 0: frame {i} differs by {v:.3g} but is more than "
                                f"{TEMPORAL_RADIUS} frames from a chunk border (cuts at {list(cuts)})")


@pytest.mark.parametrize("N,O", SETTINGS)
def test_chunk_blend(jobs, N, O):
    whole = get(jobs, "whole23")
    b = get(jobs, f"blend_{N}_{O}")
    p = psnr(b["rgb"], whole["rgb"])
    print(f"\n--chunk {N} --overlap {O} --chunk-blend vs whole clip: PSNR {p:.2f} dB, "
          f"max abs {max_abs(b['rgb'], whole['rgb']):.3g}")
    assert p >= CHUNK_BLEND_PSNR, f"--chunk-blend output is {p:.2f} dB from the whole clip (< {CHUNK_BLEND_PSNR})"


# ---------------------------------------------------------------------------
# Spatial tiles

@pytest.mark.parametrize("m,pad", [("rf4", 4), ("real", 19)])
def test_tiles_equal_untiled(jobs, m, pad):
    whole = get(jobs, f"{m}_whole")
    t = get(jobs, f"{m}_tile")
    assert t["rgb"].shape == whole["rgb"].shape == (2, 3, 144, 256)
    d = max_abs(t["rgb"], whole["rgb"])
    tiles = [rec["tiles"] for rec in t["stats"]["history"] if rec["type"] == "run"]
    print(f"\n{m}: --tile 32 --tile-pad {pad} vs untiled: max abs {d:.3g} (run record tiles {tiles})")
    assert tiles and tiles[0] >= 2 * 12, f"--tile 32 on 2 frames of 128x72 should run 24 tiles: {tiles}"
    assert d <= EQUAL, f"{m}: --tile 32 --tile-pad {pad} differs from untiled by {d:.3g} (> {EQUAL})"


@pytest.mark.parametrize("m", ["rf4", "real"])
def test_tile_pad_zero_shows(jobs, m):
    whole = get(jobs, f"{m}_whole")
    z = get(jobs, f"{m}_pad0")
    d = max_abs(z["rgb"], whole["rgb"])
    print(f"\n{m}: --tile 32 --tile-pad 0 vs untiled: max abs {d:.3g}, PSNR {psnr(z['rgb'], whole['rgb']):.2f} dB")
    assert d >= VISIBLE, f"{m}: --tile-pad 0 differs by only {d:.3g}: the test cannot see tile borders"
    if m == "rf4":
        # The difference sits along the tile borders: a grid of ceil(128/32) x
        # ceil(72/32) near-equal tiles (lib/tiler.h), i.e. 32 x 24 input pixels.
        # Output pixels farther than 2 x (radius 4) + 1 from every inner border
        # see all their context in their own tile and must still be equal.
        diff = np.abs(z["rgb"] - whole["rgb"]).max(axis=(0, 1))
        h, w = diff.shape
        yy, xx = np.mgrid[0:h, 0:w]
        near = np.zeros_like(diff, dtype=bool)
        for n, size, coord in ((4, w, xx), (3, h, yy)):
            for k in range(1, n):
                near |= np.abs(coord + 0.5 - k * size // n) < 2 * 4 + 1
        assert near.any() and (~near).any()
        assert diff[near].max() >= VISIBLE, "--tile-pad 0: no difference along the tile borders"
        assert diff[~near].max() <= EQUAL, \
            f"--tile-pad 0: pixels away from the tile borders differ too ({diff[~near].max():.3g})"


@pytest.mark.parametrize("m", ["rf4", "real"])
def test_tile_blend(jobs, m):
    whole = get(jobs, f"{m}_whole")
    b = get(jobs, f"{m}_blend")
    p = psnr(b["rgb"], whole["rgb"])
    print(f"\n{m}: --tile-blend {b['args']} vs untiled: PSNR {p:.2f} dB, max abs "
          f"{max_abs(b['rgb'], whole['rgb']):.3g}")
    assert p >= TILE_BLEND_PSNR, f"{m}: --tile-blend output is {p:.2f} dB from untiled (< {TILE_BLEND_PSNR})"


def test_mem_limit_tiles(jobs):
    whole = get(jobs, "rf4_whole")
    r = get(jobs, "rf4_mem")
    d = max_abs(r["rgb"], whole["rgb"])
    runs = [rec for rec in r["stats"]["history"] if rec["type"] == "run"]
    tiles = runs[0]["tiles"] if runs else 0
    print(f"\n--mem-limit 2M: {tiles} tiles for 2 frames, max abs vs untiled {d:.3g}; stderr: {r['stderr'].strip()}")
    assert tiles > 2, f"--mem-limit 2M ran {tiles} tiles for 2 frames: it did not tile"
    err = r["stderr"].lower()
    assert "memory" in err and "tile" in err, f"nothing on stderr says the tiles were made smaller:\n{r['stderr']}"
    assert d <= EQUAL, f"--mem-limit 2M output differs from untiled by {d:.3g} (> {EQUAL})"
