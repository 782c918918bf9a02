"""Upscaling real content through the Python binding with the real x2 model."""
import numpy as np
import pytest

from conftest import SMALL_H, SMALL_W


@pytest.fixture(scope="module")
def model(vsr, real_model):
    # Loading optimises the TorchScript graph (seconds): share one model.
    with vsr.Model(real_model, precision="fp32") as m:
        yield m


@pytest.fixture
def session(vsr, model):
    with vsr.Session(model=model) as s:
        yield s


def test_model_card(model):
    card = model.card
    assert card.name == "realesr-animevideov3-x2"
    assert card.scale == 2
    assert card.frames_in == 1


def test_upscale_file(vsr, session, small_clip, tmp_path, frame_counter):
    src, n = small_clip
    out = tmp_path / "up.mkv"
    res = session.upscale_file(src, out, codec="libx264", crf=18, preset="ultrafast")
    assert isinstance(res, vsr.RunResult)
    assert not res.cancelled
    assert res.frames_decoded == n
    assert res.frames_written == n
    assert out.is_file()
    assert not (tmp_path / "up.mkv.partial").exists()
    # Re-open the output: exactly twice the size, the same number of frames.
    with vsr.Input(out) as inp:
        info = inp.info
        assert (info.width, info.height) == (2 * SMALL_W, 2 * SMALL_H)
        assert info.codec == "h264"
    assert frame_counter(out) == n


def test_streaming_send_receive(vsr, session, small_clip):
    src, n = small_clip
    got = []
    sent_pts = []

    def take_ready():
        while True:
            g = session.receive()
            if g is None:
                return
            got.append((g.pts, g.width, g.height, g.format, g.time_base))
            g.close()

    with vsr.Input(src) as inp:
        in_tb = inp.info.time_base
        for f in inp:
            with f:
                sent_pts.append(f.pts)
                while not session.send(f):  # EAGAIN: receive first
                    take_ready()
            take_ready()
    assert session.send(None)  # drain
    while True:
        try:
            g = session.receive()
        except vsr.EndOfStream:
            break
        assert g is not None, "receive() returned 'need input' during a drain"
        got.append((g.pts, g.width, g.height, g.format, g.time_base))
        g.close()
    assert session.eof
    assert len(got) == n == len(sent_pts)
    for (pts, w, h, fmt, tb), spts in zip(got, sent_pts):
        assert (w, h) == (2 * SMALL_W, 2 * SMALL_H)
        assert fmt == vsr.PixFmt.RGBF32
        assert pts == spts  # in order, with the input's timestamps
        assert tb == in_tb
    # The session can run the next sequence after a reset.
    session.reset()
    with vsr.Input(src, max_frames=2) as inp:
        outs = list(session.process(inp))
    assert len(outs) == 2
    for o in outs:
        o.close()


def test_numpy_round_trip_matches_torch(vsr, session, small_clip, real_model):
    try:
        import torch
    except ImportError:
        pytest.fail("the reference check needs torch (Debian's python3-torch)", pytrace=False)
    src, _ = small_clip
    with vsr.Input(src, max_frames=1) as inp:
        f = inp.read()
    with f, f.convert(vsr.PixFmt.RGBF32) as rgb:
        # An array the caller owns (not a view of a libvsr frame).
        x = np.array(rgb.to_numpy(), dtype=np.float32, copy=True)
    assert x.shape == (3, SMALL_H, SMALL_W)

    frame = vsr.Frame.from_numpy(x, pts=7, time_base=(1, 25))
    assert np.shares_memory(frame.to_numpy(), x)  # wrapped, not copied
    outs = list(session.process([frame]))
    frame.close()
    assert len(outs) == 1
    out = outs[0]
    assert (out.width, out.height, out.format) == (2 * SMALL_W, 2 * SMALL_H, vsr.PixFmt.RGBF32)
    assert out.pts == 7 and out.time_base == (1, 25)
    y = out.to_numpy()
    out.close()  # the view keeps the frame's memory alive
    assert y.dtype == np.float32 and y.shape == (3, 2 * SMALL_H, 2 * SMALL_W)
    assert np.isfinite(y).all()
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert y.std() > 0.01  # a real picture, not a constant

    # The same network run directly by torch, CPU fp32, clamped to [0, 1].
    module = torch.jit.load(real_model, map_location="cpu").eval()
    with torch.no_grad():
        ref = module(torch.from_numpy(x.copy())[None]).clamp(0, 1)[0].numpy()
    assert ref.shape == y.shape
    diff = np.abs(ref - y).max()
    assert diff < 1e-4, f"libvsr output differs from torch by {diff}"


def test_process_numpy_arrays(vsr, session):
    rng = np.random.default_rng(1)
    frames = [rng.random((3, 24, 32), dtype=np.float32) for _ in range(3)]
    outs = list(session.process(frames, as_numpy=True))
    assert len(outs) == 3
    for a in outs:
        assert a.shape == (3, 48, 64) and a.dtype == np.float32
        assert a.min() >= 0.0 and a.max() <= 1.0


def test_session_info(vsr, session):
    info = session.info()
    assert info.device == "cpu"
    assert info.precision == vsr.Precision.FP32
    assert info.scale == 2
    assert info.threads >= 1
    assert session.card.scale == 2
    assert session.card.global_pool is False


def test_model_info(vsr, model):
    mi = model.info()
    assert isinstance(mi, vsr.ModelInfo)
    assert mi.device == "cpu" and mi.precision == vsr.Precision.FP32
    assert mi.bytes_per_pixel > 0 and mi.ns_per_pixel > 0


def test_process_settings_are_process_wide(vsr, session):
    before = vsr.process_settings()
    try:
        vsr.configure(threads=2, cuda_tf32=True, cudnn_benchmark=False)
        now = vsr.process_settings()
        assert (now.threads, now.cuda_tf32, now.cudnn_benchmark) == (2, True, False)
        # an open session reports the value in force, not one from its model's load
        assert session.info().threads == 2
        vsr.configure(threads=1)
        now = vsr.process_settings()
        assert (now.threads, now.cuda_tf32, now.cudnn_benchmark) == (1, False, True)
        assert session.info().threads == 1
        with pytest.raises(vsr.InvalidArgumentError):
            vsr.configure(threads=-1)
    finally:
        vsr.configure(threads=before.threads)


def test_session_with_model_path_owns_its_model(vsr, real_model, tiny_model):
    before = vsr.live_handles()
    with vsr.Session(model_path=tiny_model, precision="fp32") as s:
        assert s.model.card.name == "tiny-x2" and s.info().precision == vsr.Precision.FP32
    # the model it opened went with it
    assert vsr.live_handles() == before


def test_recommend_settings(vsr, real_model):
    r = vsr.recommend_settings(real_model)
    assert isinstance(r, vsr.Recommendation)
    assert r.device == "cpu"  # no GPU on the test machines
    assert r.threads >= 1 and r.batch >= 1
    assert r.precision in (vsr.Precision.FP32, vsr.Precision.BF16)
    assert r.reasons and all(isinstance(x, str) for x in r.reasons)
    generic = vsr.recommend_settings()
    assert generic.threads >= 1


def test_upscale_part_of_a_file(vsr, tiny_model, small_clip, tmp_path, frame_counter):
    """vsr_run_settings' range: frames [start_frame, end_frame), timestamps from 0; bad ranges refused."""
    src, n = small_clip
    assert n >= 8
    with vsr.Session(model_path=tiny_model, precision="fp32") as s:
        out = tmp_path / "part.mkv"
        res = s.upscale_file(src, out, preset="ultrafast", start_frame=3, end_frame=7)
        assert res.frames_written == 4 and frame_counter(out) == 4
        with vsr.Input(out) as inp:
            first = inp.read()
            assert first.pts == 0, "the output starts at 0"
            first.close()
        # by time: 24 fps, so [0.125 s, 0.25 s) holds frames 3, 4 and 5
        res = s.upscale_file(src, out, preset="ultrafast", start_us=125000, end_us=250000)
        assert res.frames_written == 3
        for bad, what in (({"start_frame": 5, "end_frame": 5}, "end_frame 5 is not after start_frame 5"),
                          ({"start_us": -2}, "start_us is -2"),
                          ({"start_frame": 1, "resume": True}, "cannot be resumed")):
            with pytest.raises(vsr.InvalidArgumentError, match=what):
                s.upscale_file(src, tmp_path / "bad.mkv", **bad)
            assert not (tmp_path / "bad.mkv").exists()
        with pytest.raises(vsr.InputError, match="no frame in the range"):
            s.upscale_file(src, tmp_path / "bad.mkv", start_frame=n + 5)
