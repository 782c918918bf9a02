"""Frames and numpy: shared memory, wrapping caller memory, lifetimes, conversion."""
import gc
import threading
import weakref

import numpy as np
import pytest

# 8-bit -> float conversions must give v / 255 (float rounding aside).
EXACT = 1e-6


def test_rgbf32_views_share_memory(vsr):
    with vsr.Frame.alloc(vsr.PixFmt.RGBF32, 16, 8) as f:
        a = f.to_numpy()
        assert a.shape == (3, 8, 16) and a.dtype == np.float32
        a[:] = 0.0
        a[1, 2, 3] = 0.5          # write through one view ...
        r, g, b = f.planes()      # ... read back through others
        assert g[2, 3] == 0.5 and r[2, 3] == 0.0 and b[2, 3] == 0.0
        assert f.to_numpy()[1, 2, 3] == 0.5
        assert np.shares_memory(a, g)
        # The library sees the write too: convert to RGB24.
        with f.convert(vsr.PixFmt.RGB24) as c:
            px = c.to_numpy()[2, 3]
            assert tuple(px) == (0, 128, 0)


def test_rgb24_views_share_memory(vsr):
    with vsr.Frame.alloc("rgb24", 10, 6) as f:
        a = f.to_numpy()
        assert a.shape == (6, 10, 3) and a.dtype == np.uint8
        a[:] = 0
        a[5, 9] = (255, 10, 20)
        (p,) = f.planes()
        assert tuple(p[5, 9]) == (255, 10, 20)
        with f.convert(vsr.PixFmt.RGBF32) as c:
            x = c.to_numpy()
            assert np.allclose(x[:, 5, 9], np.array([255, 10, 20]) / 255.0, atol=EXACT)


def test_view_outlives_frame(vsr):
    f = vsr.Frame.alloc(vsr.PixFmt.RGBF32, 8, 4)
    a = f.to_numpy()
    a[:] = 0.25
    f.close()                     # the view holds its own reference
    gc.collect()
    assert f.closed
    assert float(a.sum()) == pytest.approx(0.25 * 3 * 8 * 4)
    with pytest.raises(ValueError):
        f.width                   # a closed Frame refuses to be used


def test_from_numpy_is_zero_copy(vsr):
    x = np.random.default_rng(0).random((3, 5, 7), dtype=np.float32)
    with vsr.Frame.from_numpy(x) as f:
        assert (f.width, f.height, f.format) == (7, 5, vsr.PixFmt.RGBF32)
        v = f.to_numpy()
        assert np.shares_memory(v, x)
        assert np.array_equal(v, x)
        x[2, 4, 6] = 0.125        # the frame sees the caller's memory
        assert f.planes()[2][4, 6] == 0.125


def test_from_numpy_strided_crop(vsr):
    big = np.arange(3 * 10 * 12, dtype=np.float32).reshape(3, 10, 12)
    crop = big[:, 2:8, 3:9]       # strided rows and planes, contiguous samples
    with vsr.Frame.from_numpy(crop) as f:
        assert (f.width, f.height) == (6, 6)
        assert np.array_equal(f.to_numpy(), crop)
    with pytest.raises(ValueError):
        vsr.Frame.from_numpy(big[:, :, ::2])   # samples not contiguous
    with pytest.raises(ValueError):
        vsr.Frame.from_numpy(np.zeros((3, 4, 4), np.float64))


def test_from_numpy_keeps_array_alive_and_frees_once(vsr):
    calls = []
    threads = []

    def on_free():
        calls.append(1)
        threads.append(threading.get_ident())

    a = np.full((3, 4, 6), 0.5, dtype=np.float32)
    wa = weakref.ref(a)
    base_wrapped = vsr.wrapped_arrays()
    f = vsr.Frame.from_numpy(a, on_free=on_free)
    del a
    gc.collect()
    assert wa() is not None, "the wrapped array was freed while the frame uses it"
    assert vsr.wrapped_arrays() == base_wrapped + 1
    assert float(f.to_numpy().mean()) == 0.5

    g = f.ref()                   # a second reference
    v = f.to_numpy()              # and a view (a third)
    f.close()
    gc.collect()
    assert calls == [] and wa() is not None
    g.close()
    gc.collect()
    assert calls == [] and wa() is not None
    assert float(v.max()) == 0.5
    del v
    gc.collect()
    assert calls == [1], "free callback must fire exactly once, after the last reference"
    assert wa() is None
    assert vsr.wrapped_arrays() == base_wrapped
    gc.collect()
    assert calls == [1]


def test_from_numpy_held_by_library(vsr, tmp_path):
    """An Output holds its own reference to frames it is given."""
    calls = []
    a = np.zeros((16, 16, 3), np.uint8)
    with vsr.Output(tmp_path / "x.mkv", codec="ffv1") as out:
        f = vsr.Frame.from_numpy(a, on_free=lambda: calls.append(1), pts=0, time_base=(1, 25))
        out.write(f)
        f.close()
    gc.collect()
    assert calls == [1]
    assert (tmp_path / "x.mkv").is_file()


def test_from_numpy_formats(vsr):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200
    with vsr.Frame.from_numpy(rgb) as f:
        assert f.format == vsr.PixFmt.RGB24
        with f.convert("rgbf32") as c:
            assert np.allclose(c.to_numpy()[0], 200 / 255, atol=EXACT)
    with vsr.Frame.from_numpy(np.zeros((4, 6, 3), np.uint16)) as f:
        assert f.format == vsr.PixFmt.RGB48
    with vsr.Frame.from_numpy(np.zeros((4, 6), np.uint8)) as f:
        assert f.format == vsr.PixFmt.GRAY8
        assert f.to_numpy().shape == (4, 6)


def test_convert_formats_and_size(vsr):
    rng = np.random.default_rng(3)
    x = rng.integers(16, 235, size=(32, 48, 3), dtype=np.uint8)
    with vsr.Frame.from_numpy(x) as f:
        f.pts, f.time_base = 42, (1, 1000)
        with f.convert(vsr.PixFmt.YUV444P) as y:
            assert y.format == vsr.PixFmt.YUV444P
            assert y.pts == 42 and y.time_base == (1, 1000)   # properties copied
            planes = y.planes()
            assert [p.shape for p in planes] == [(32, 48)] * 3
            assert y.to_numpy().shape == (3, 32, 48)
            with y.convert(vsr.PixFmt.RGB24) as back:
                d = np.abs(back.to_numpy().astype(int) - x.astype(int))
                assert d.max() <= 3, f"RGB -> YUV444 -> RGB differs by {d.max()}"
        with f.convert(vsr.PixFmt.YUV420P) as y:
            assert [p.shape for p in y.planes()] == [(32, 48), (16, 24), (16, 24)]
            with pytest.raises(ValueError):
                y.to_numpy()      # planes of different sizes
        with f.convert(vsr.PixFmt.NV12) as y:
            assert [p.shape for p in y.planes()] == [(32, 48), (16, 24, 2)]
        with f.convert(vsr.PixFmt.YUV420P10) as y:
            assert y.bit_depth == 10 and y.planes()[0].dtype == np.uint16
            assert y.planes()[0].max() < 1024
        with f.convert(vsr.PixFmt.RGBF32, 96, 64) as big:  # resize
            a = big.to_numpy()
            assert a.shape == (3, 64, 96)
            assert abs(float(a.mean()) - float(x.mean()) / 255) < 0.02


@pytest.mark.parametrize("matrix,rng", [(1, 1), (1, 2), (6, 2)])
def test_convert_round_trip_with_colour(vsr, matrix, rng):
    x = np.random.default_rng(4).integers(16, 235, size=(32, 48, 3), dtype=np.uint8)
    with vsr.Frame.from_numpy(x) as f:
        f.colour = vsr.Colour(matrix=matrix, range=rng, primaries=1, transfer=1)
        with f.convert(vsr.PixFmt.YUV444P) as y, y.convert(vsr.PixFmt.RGB24) as back:
            # "full" on RGB describes the RGB samples; video gets limited range
            # unless the RGB frame names "limited" (frame.h, vsr_frame_convert)
            assert y.colour.matrix == matrix and y.colour.range == 1
            assert back.colour.range == 1
            d = np.abs(back.to_numpy().astype(int) - x.astype(int))
            assert d.max() <= 3, f"RGB -> YUV444 -> RGB with matrix {matrix} range {rng} differs by {d.max()}"


def test_frame_properties(vsr):
    with vsr.Frame.alloc(vsr.PixFmt.YUV420P, 20, 10) as f:
        assert f.pts is None
        f.pts = 1234
        f.duration = 40
        f.time_base = (1, 1000)
        assert (f.pts, f.duration, f.time_base) == (1234, 40, (1, 1000))
        assert f.time_s == pytest.approx(1.234)
        assert f.format_name == "yuv420p" and f.bit_depth == 8 and f.n_planes == 3
        c = vsr.Colour(matrix=9, range=2, primaries=9, transfer=16, chroma_location=2)
        f.colour = c
        assert f.colour == c
        f.pts = None
        assert f.pts is None


def test_shared_frames_are_immutable(vsr):
    with vsr.Frame.alloc(vsr.PixFmt.RGBF32, 8, 4) as f:
        assert f.writable
        f.user_data = 1234
        g = f.ref()
        assert not f.writable and not g.writable
        for name, value in (("pts", 5), ("duration", 1), ("time_base", (1, 30)), ("user_data", 7),
                            ("colour", vsr.Colour(1, 1, 1, 1, 0))):
            with pytest.raises(vsr.InvalidArgumentError) as ei:
                setattr(f, name, value)
            assert "shared" in str(ei.value)
        assert g.user_data == 1234 and g.pts is None
        # copy on write: f becomes a private copy, g keeps the original
        f.to_numpy()[...] = 0.5
        f.make_writable()
        assert f.writable and g.writable
        f.to_numpy()[0, 0, 0] = 0.25
        assert g.to_numpy()[0, 0, 0] == 0.5
        assert f.user_data == 1234
        f.pts = 9
        assert g.pts is None
        g.close()


def test_user_data_carried_by_the_session(vsr, tiny_model):
    rng = np.random.default_rng(3)
    with vsr.Session(model_path=tiny_model, precision="fp32", output_format="yuv444p") as s:
        ins = []
        for i in range(3):
            f = vsr.Frame.from_numpy(rng.random((3, 8, 12), dtype=np.float32))
            f.user_data = 100 + i
            f.pts = i
            ins.append(f)
        outs = list(s.process(ins))
        assert [o.user_data for o in outs] == [100, 101, 102]
        assert [o.pts for o in outs] == [0, 1, 2]
        assert all(o.format == vsr.PixFmt.YUV444P and o.shape == (16, 24) for o in outs)
        for f in ins + outs:
            f.close()


def test_frames_from_input(vsr, real_clip):
    with vsr.Input(real_clip, max_frames=3) as inp:
        info = inp.info
        frames = list(inp)
        assert inp.damaged() == (0, None)
    assert len(frames) == 3
    for f in frames:
        assert (f.width, f.height) == (info.width, info.height)
        y = f.planes()[0]
        assert y.shape == (info.height, info.width)
        assert y.std() > 1.0      # real content
        f.close()


def test_input_open_buffer(vsr, real_clip):
    data = open(real_clip, "rb").read()
    with vsr.Input.open_buffer(data, max_frames=2) as inp:
        assert inp.info.width > 0
        assert len([f.close() for f in inp]) == 2
    with vsr.Input.open_buffer(bytearray(data), max_frames=1) as inp:
        assert len([f.close() for f in inp]) == 1


def test_handles_released(vsr):
    gc.collect()
    before = vsr.live_handles()
    with vsr.Frame.alloc(vsr.PixFmt.RGB24, 4, 4) as f:
        v = f.to_numpy()
        g = f.ref()
    assert vsr.live_handles().get("frame", 0) == before.get("frame", 0) + 1
    assert vsr.live_handles().get("view", 0) == before.get("view", 0) + 1
    g.close()
    del v
    gc.collect()
    assert vsr.live_handles() == before


def test_read_only_array_gives_read_only_views(vsr):
    x = np.zeros((3, 4, 4), np.float32)
    x.flags.writeable = False
    with vsr.Frame.from_numpy(x) as f:
        v = f.to_numpy()
        assert not v.flags.writeable
        with pytest.raises(ValueError):
            v[0, 0, 0] = 1.0
        with f.ref() as g:
            assert not g.planes()[0].flags.writeable
