"""vsr-cli's FFmpeg conventions, checked against FFmpeg itself.

* -ss 1 -t 2 -progress pipe:1 on a 4 s H.264 + AAC clip (MP4, so the AAC
  priming makes the file start before 0, as real files do): the output has
  the frames `ffmpeg -ss 1 -t 2` gives (within one), its audio lasts as long
  (within a frame's duration), video and audio start together near 0, and
  stdout holds FFmpeg's progress blocks (every line key=value, the last
  block progress=end with every frame).
* -ss 24f -t 12f: exactly frames 24..35 of a full run (lossless output, so
  frame MD5s compare), with the input's frame spacing, starting at 0.
* -n refuses an existing output (exit 1, message, file untouched); -y and
  the default overwrite it.
* --compare writes a PNG of [bicubic | 4-pixel gap | model], each half the
  centre of the output (at most 512 pixels): the model half is the output
  frame, the bicubic half comes from the same input frame.
* A terminal gets FFmpeg's stats line (frame= fps= time= speed=) rewritten
  with \\r; a pipe does not.
* Bad positions and contradictory options: exit 2 naming the option.

The model is tiny-x2 (a random 3x3 convolution and pixel shuffle): what is
tested here is the cutting and the reporting, not the picture.
"""
import os
import pty
import re
import select
import struct
import subprocess

import numpy as np
import pytest

from conftest import RUN_TIMEOUT, framemd5, frame_times, packet_times, run, run_cli, source_frames, tmodel

FPS = 24
FRAME = 1 / FPS


@pytest.fixture(scope="module")
def av_clip(cli, manifest, tmp_path_factory):
    """4 s of real photographs at 24 fps, H.264 with AAC audio, in MP4."""
    d = tmp_path_factory.mktemp("conventions")
    frames = source_frames(manifest, "long_120.mkv", n=96)
    n, h, w, _ = frames.shape
    path = str(d / "av.mp4")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(FPS), "-i", "-", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
           "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-g", "24", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", path]
    p = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        pytest.fail(f"could not make {path}: {p.stderr.decode(errors='replace')}")
    return {"dir": d, "path": path, "frames": frames}


def parse_progress(text):
    """FFmpeg's -progress output as a list of blocks (dicts); every line must be key=value."""
    blocks, cur = [], {}
    for line in text.splitlines():
        assert re.fullmatch(r"[a-z_0-9]+=\S*", line), f"not a key=value line: {line!r}"
        k, v = line.split("=", 1)
        cur[k] = v
        if k == "progress":
            blocks.append(cur)
            cur = {}
    assert not cur, f"lines after the last block: {cur}"
    return blocks


def audio_span(path):
    pk = packet_times(path, "a:0")
    assert pk, f"{path} has no audio packets"
    return min(t for t, _ in pk), max(t + d for t, d in pk)


def test_ss_t_progress_like_ffmpeg(cli, test_models, av_clip):
    d, inp = av_clip["dir"], av_clip["path"]
    out, ref = str(d / "cut.mkv"), str(d / "ffmpeg_cut.mkv")
    p = run_cli(cli, ["-i", inp, "-o", out, "-m", tmodel(test_models, "tiny-x2.pt"), "-ss", "1", "-t", "2",
                      "-progress", "pipe:1"])
    r = run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", "1", "-t", "2", "-i", inp, ref])
    assert r.returncode == 0, r.stderr
    ours, theirs = frame_times(out), frame_times(ref)
    assert len(ours) == 48, f"{len(ours)} frames: 2 s at 24 fps is 48"
    assert abs(len(ours) - len(theirs)) <= 1, f"{len(ours)} frames, ffmpeg -ss 1 -t 2 gives {len(theirs)}"
    assert abs(ours[0] - theirs[0]) <= FRAME, f"first frame at {ours[0]} s, ffmpeg's at {theirs[0]} s"
    assert ours[0] < FRAME, "the output starts at 0, as FFmpeg's does"
    a0, a1 = audio_span(out)
    b0, b1 = audio_span(ref)
    assert abs((a1 - a0) - (b1 - b0)) <= FRAME, \
        f"audio lasts {a1 - a0:.3f} s, ffmpeg's {b1 - b0:.3f} s"
    assert abs((a1 - a0) - 2.0) <= FRAME, f"audio lasts {a1 - a0:.3f} s, not 2 s"
    assert abs(a0 - ours[0]) < 0.05, f"audio starts at {a0:.3f} s, video at {ours[0]:.3f} s: out of sync"

    blocks = parse_progress(p.stdout)
    assert blocks, "no progress blocks on stdout"
    for b in blocks:
        for key in ("frame", "fps", "out_time_us", "out_time_ms", "out_time", "speed", "progress", "total_size"):
            assert key in b, f"block without {key}: {b}"
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{6}", b["out_time"]), b["out_time"]
    assert [b["progress"] for b in blocks] == ["continue"] * (len(blocks) - 1) + ["end"]
    frames = [int(b["frame"]) for b in blocks]
    assert frames == sorted(frames) and frames[-1] == 48
    assert abs(int(blocks[-1]["out_time_us"]) - 2_000_000) <= FRAME * 1e6
    assert int(blocks[-1]["total_size"]) == os.path.getsize(out)
    assert re.fullmatch(r"[0-9.e+-]+x", blocks[-1]["speed"]), blocks[-1]["speed"]


def test_frame_range_is_exact(cli, test_models, av_clip):
    d, inp = av_clip["dir"], av_clip["path"]
    model = tmodel(test_models, "tiny-x2.pt")
    full, part = str(d / "full.mkv"), str(d / "frames.mkv")
    lossless = ["--codec", "ffv1", "--pix-fmt", "gbrp16le", "--no-copy-streams"]
    run_cli(cli, ["-i", inp, "-o", full, "-m", model] + lossless)
    run_cli(cli, ["-i", inp, "-o", part, "-m", model, "-ss", "24f", "-t", "12f"] + lossless)
    assert framemd5(part) == framemd5(full)[24:36], "frames 24..35 of the full run, exactly"
    in_t = frame_times(inp)
    got = np.asarray(frame_times(part))
    want = np.asarray(in_t[24:36]) - in_t[24]
    assert len(got) == 12 and np.abs(got - want).max() <= 0.0011, f"pts {got} instead of {want}"
    # -to is absolute: the same frames
    to = str(d / "frames_to.mkv")
    run_cli(cli, ["-i", inp, "-o", to, "-m", model, "-ss", "24f", "-to", "36f"] + lossless)
    assert framemd5(to) == framemd5(part)


def test_no_overwrite_and_overwrite(cli, test_models, av_clip, tmp_path):
    inp, model = av_clip["path"], tmodel(test_models, "tiny-x2.pt")
    out = tmp_path / "exists.mkv"
    out.write_bytes(b"precious")
    p = run_cli(cli, ["-i", inp, "-o", out, "-m", model, "-n", "-t", "2f"], expect=1)
    assert f"'{out}' already exists; not overwriting it (-n" in p.stderr, p.stderr
    assert out.read_bytes() == b"precious", "-n must leave the file alone"
    run_cli(cli, ["-i", inp, "-o", out, "-m", model, "-y", "-t", "2f"])
    assert out.read_bytes() != b"precious" and len(frame_times(str(out))) == 2
    out.write_bytes(b"precious")
    run_cli(cli, ["-i", inp, "-o", out, "-m", model, "-t", "2f"])  # the default, as documented: overwrite
    assert out.read_bytes() != b"precious"


def png_rgb(path):
    """Decode our own PNGs (stored deflate) with zlib: (H, W, 3) uint8."""
    import zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", None, None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert (depth, ctype) == (8, 2)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert not raw[:, 0].any(), "filter type 0 on every row"
    return raw[:, 1:].reshape(h, w, 3)


def rgb_frame(path, index, size=None):
    """Frame `index` of a file as RGB24 (H, W, 3), optionally scaled with FFmpeg's bicubic."""
    vf = f"select=eq(n\\,{index})" + (f",scale={size[0]}:{size[1]}:flags=bicubic" if size else "")
    p = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-vf", vf, "-frames:v", "1", "-f", "rawvideo",
                        "-pix_fmt", "rgb24", "-"], capture_output=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr
    w, h = size or (None, None)
    a = np.frombuffer(p.stdout, np.uint8)
    return a.reshape(h, w, 3) if size else a


def test_compare_picture(cli, test_models, av_clip):
    d, inp = av_clip["dir"], av_clip["path"]
    out, png = str(d / "cmp.mkv"), str(d / "cmp.png")
    run_cli(cli, ["-i", inp, "-o", out, "-m", tmodel(test_models, "tiny-x2.pt"), "--codec", "ffv1", "--pix-fmt",
                  "gbrp16le", "-ss", "24f", "-t", "12f", "--compare", png, "--compare-frame", "5"])
    pic = png_rgb(png)
    assert pic.shape == (144, 2 * 256 + 4, 3), f"the picture is {pic.shape}: 2 x 256x144 and a 4-pixel gap"
    assert (pic[:, 256:260] == 255).all(), "a white gap between the halves"
    bicubic, model = pic[:, :256].astype(int), pic[:, 260:].astype(int)
    after = rgb_frame(out, 5, (256, 144)).astype(int)
    assert np.abs(model - after).max() <= 2, "the right half is output frame 5"
    # the left half is the bicubic upscale of input frame 24 + 5, not of a neighbour
    err = {k: np.abs(bicubic - rgb_frame(inp, k, (256, 144)).astype(int)).mean() for k in (28, 29, 30)}
    assert min(err, key=err.get) == 29, f"mean difference to bicubic of input frames: {err}"
    assert err[29] < 3, err


def test_stats_line_on_a_terminal_only(cli, test_models, av_clip, tmp_path):
    inp, model = av_clip["path"], tmodel(test_models, "tiny-x2.pt")
    master, slave = pty.openpty()
    proc = subprocess.Popen([cli, "-i", inp, "-o", str(tmp_path / "tty.mkv"), "-m", model, "-t", "6f",
                             "--precision", "fp32"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], RUN_TIMEOUT)
        if not ready:
            proc.kill()
            pytest.fail("vsr-cli printed nothing on its terminal for too long")
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=RUN_TIMEOUT) == 0
    text = b"".join(chunks).decode(errors="replace")
    lines = re.findall(r"\rframe=\s*(\d+) fps=[\d.]+ time=(\d\d:\d\d:\d\d\.\d\d) speed=\S+x", text.replace("\x1b[K", ""))
    assert lines, f"no stats line on the terminal:\n{text!r}"
    assert lines[-1] == ("6", "00:00:00.25"), lines[-1]
    p = run_cli(cli, ["-i", inp, "-o", str(tmp_path / "pipe.mkv"), "-m", model, "-t", "6f"])
    assert "frame=" not in p.stderr and "\r" not in p.stderr, "no stats line into a pipe"


BAD = [
    (["-ss", "abc"], "-ss: 'abc' is not a time"),
    (["-t", "1:75"], "-t: '1:75' has minutes or seconds above 59"),
    (["-ss", "-1"], "-ss: '-1' is negative"),
    (["-ss", "1", "-t", "12f"], "-t in frames needs -ss in frames too"),
    (["-t", "0"], "-t: the duration must be more than 0"),
    (["-ss", "2", "-to", "1"], "-to must be after -ss"),
    (["-y", "-n"], "-y (overwrite) and -n (never overwrite) contradict each other"),
    (["-progress", "pipe:x"], "-progress: 'pipe:x' is not pipe:N"),
    (["--compare-frame", "-3"], "--compare-frame: '-3' is out of range"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_options(cli, test_models, av_clip, tmp_path, args, message):
    p = run_cli(cli, ["-i", av_clip["path"], "-o", str(tmp_path / "x.mkv"), "-m", tmodel(test_models, "tiny-x2.pt")]
                + args, expect=(1, 2))
    assert message in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "x.mkv")
