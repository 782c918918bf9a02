"""Clips vsr-bench writes itself: a pan over photographs, or a synthetic pattern.

    photo_frames(width, height, frames, fps)    HxWx3 uint8 frames: scikit-image's
                                                photographs (astronaut, coffee,
                                                chelsea), one two-second scene each,
                                                panned with sub-pixel motion
    pattern_frames(width, height, frames, fps)  a moving, textured synthetic scene
    write_clip(path, frames_iter, fps)          H.264 (libx264, CRF 12) through libvsr

Deterministic for given arguments. Only numpy is imported here at module
level (bench/clips.py loads this file by path for its clips); libvsr is
imported when a clip is written.
"""
import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea")
SCENE_SECONDS = 2.0


def _photos():
    try:
        from skimage import data
    except ImportError as e:
        raise RuntimeError(f"photograph clips need scikit-image (python3-skimage): {e}") from None
    out = []
    for name in PHOTOS:
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append(np.ascontiguousarray(img[..., :3]).astype(np.float32))
    return out


def _resize(img, h, w):
    """Bilinear resize of an HxWx3 float image (enough for enlarging a photograph)."""
    ih, iw = img.shape[:2]
    ys = (np.arange(h) + 0.5) * ih / h - 0.5
    xs = (np.arange(w) + 0.5) * iw / w - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, ih - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, iw - 1)
    y1 = np.minimum(y0 + 1, ih - 1)
    x1 = np.minimum(x0 + 1, iw - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None, None]
    fx = np.clip(xs - x0, 0, 1)[None, :, None]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bot = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def _crop(img, y, x, h, w):
    """Crop at a sub-pixel offset (bilinear between the four integer crops)."""
    iy, ix = int(np.floor(y)), int(np.floor(x))
    fy, fx = y - iy, x - ix
    a = img[iy:iy + h, ix:ix + w]
    b = img[iy:iy + h, ix + 1:ix + 1 + w]
    c = img[iy + 1:iy + 1 + h, ix:ix + w]
    d = img[iy + 1:iy + 1 + h, ix + 1:ix + 1 + w]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def photo_frames(width, height, frames, fps=24):
    """Yield `frames` HxWx3 uint8 pictures: a pan over each photograph in turn."""
    pics = []
    for p in _photos():
        # at least 1.3x the frame in both directions, so there is room to pan
        k = max(1.3 * width / p.shape[1], 1.3 * height / p.shape[0], 1.0)
        if k > 1.0:
            p = _resize(p, int(np.ceil(p.shape[0] * k)), int(np.ceil(p.shape[1] * k)))
        pics.append(p)
    scene = max(1, int(round(SCENE_SECONDS * fps)))
    for i in range(frames):
        pic = pics[(i // scene) % len(pics)]
        t = (i % scene) / max(scene - 1, 1)  # 0..1 within the scene
        room_y = pic.shape[0] - height - 1
        room_x = pic.shape[1] - width - 1
        # a diagonal pan with a gentle curve
        y = room_y * (0.2 + 0.6 * t)
        x = room_x * (0.5 + 0.4 * np.sin(2 * np.pi * (t - 0.25)) * 0.5 + 0.25 * t)
        x = float(np.clip(x, 0, room_x))
        img = _crop(pic, y, x, height, width)
        yield np.clip(img + 0.5, 0, 255).astype(np.uint8)


def pattern_frames(width, height, frames, fps=24):
    """Yield a moving scene of gradients, rings and a striped bar, so that the
    encoder and the model both have work to do (no photographs needed)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    gx, gy = xx / width, yy / height
    for i in range(frames):
        t = i / fps
        cx = width * (0.3 + 0.4 * (0.5 + 0.5 * np.sin(t * 2.1)))
        cy = height * (0.5 + 0.25 * np.cos(t * 1.7))
        ring = 0.5 + 0.5 * np.cos(np.hypot(xx - cx, yy - cy) * 0.45 - t * 6.0)
        rgb = np.stack([0.55 * gx + 0.45 * ring, 0.5 * gy + 0.4 * ring * (1 - gx), 0.8 - 0.5 * gx * gy], -1)
        bar = ((((xx + i * 3) // 6) % 2) == 0) & (yy > height * 3 / 4)
        rgb[bar] = 0.95
        yield (255 * np.clip(rgb, 0, 1)).astype(np.uint8)


def frames_of(content, width, height, frames, fps=24):
    if content == "photos":
        return photo_frames(width, height, frames, fps)
    if content == "pattern":
        return pattern_frames(width, height, frames, fps)
    raise ValueError(f"unknown sample content {content!r} (photos, pattern)")


def write_clip(path, frames_iter, fps=24):
    """Encode RGB24 frames as H.264 (yuv420p, CRF 12) with libvsr; returns path."""
    import libvsr
    with libvsr.Output(path, codec="libx264", crf=12, preset="fast", pix_fmt="yuv420p",
                       copy_streams=False) as out:
        for i, img in enumerate(frames_iter):
            with libvsr.Frame.from_numpy(np.ascontiguousarray(img)) as f:
                f.pts = i
                f.duration = 1
                f.time_base = (1, fps)
                f.colour = libvsr.Colour(1, 1, 1, 1, 1)  # BT.709, limited range
                out.write(f)
    return path
