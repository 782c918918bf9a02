"""What an output looks like, for comparing models without a ground truth.

consistency  PSNR (dB) of the output downscaled back to the input's size
             (area average over each scale x scale block) against the input:
             a model that invents detail but keeps the picture scores high,
             one that shifts colours or geometry scores low.
sharpness    gradient energy (mean of dx^2 + dy^2 over the RGB planes) of
             the output divided by that of a bicubic upscale of the same
             input frame (libvsr's own scaler): above 1 is sharper than
             bicubic.
crops        the same rectangle of one frame: input, bicubic, and output,
             for the side-by-side picture.

Frames are read back through libvsr (vsr_input) and compared as RGB in
[0, 1]; at most MAX_FRAMES frames, evenly spaced, are measured.
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

MAX_FRAMES = 64


@dataclass
class Crop:
    """Pixels of one frame's crop (uint8 HxWx3) and where it came from."""
    frame: int
    x: int
    y: int
    width: int
    height: int
    scale: int
    output: np.ndarray
    bicubic: Optional[np.ndarray] = None
    input: Optional[np.ndarray] = None


def crop_rect(w, h, pic):
    """(x, y, width, height) of the picture's crop in a w x h input: as asked,
    clamped into the frame; by default a centred third of each side."""
    cw = pic.width if pic.width is not None else max(16, min(w, (w + 2) // 3))
    ch = pic.height if pic.height is not None else max(16, min(h, (h + 2) // 3))
    cw, ch = min(cw, w), min(ch, h)
    x = pic.x if pic.x is not None else (w - cw) // 2
    y = pic.y if pic.y is not None else (h - ch) // 2
    return min(max(0, x), w - cw), min(max(0, y), h - ch), cw, ch


def picture_frame(frames, pic):
    """The frame index the picture shows: as asked (clamped), else the middle one."""
    if pic.frame is not None:
        return min(pic.frame, max(0, frames - 1))
    return max(0, frames - 1) // 2


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def gradient_energy(chw):
    x = chw.astype(np.float64)
    dx = np.diff(x, axis=2)
    dy = np.diff(x, axis=1)
    return float(np.mean(dx * dx)) + float(np.mean(dy * dy))


def to_u8(chw):
    return (np.clip(np.transpose(chw, (1, 2, 0)), 0, 1) * 255 + 0.5).astype(np.uint8)


def _rgb(frame, width=None, height=None):
    """A frame as float32 (3, H, W) RGB in [0, 1] (a copy), optionally resized (bicubic)."""
    with frame.convert("rgbf32", width, height) as f:
        return np.array(f.to_numpy(writable=False), copy=True)


def measure(input_path, output_path, frames_written, want_quality, crop_at=None, pic=None, max_frames=0):
    """Compare an output with its input.

    Returns (consistency_psnr or None, sharpness or None, Crop or None).
    crop_at: frame index for the crop (None: no crop), pic: the Picture
    setting for its rectangle. max_frames: the run's frame limit (0: none).
    """
    import libvsr
    n = frames_written
    step = max(1, math.ceil(n / MAX_FRAMES)) if n > 0 else 1
    psnrs, energy_out, energy_bic = [], 0.0, 0.0
    crop = None
    settings = {"max_frames": max_frames} if max_frames else {}
    with libvsr.Input(input_path, **settings) as inp, libvsr.Input(output_path) as out:
        last_wanted = ((n - 1) // step * step) if want_quality and n > 0 else -1
        last = max(last_wanted, crop_at if crop_at is not None else -1)
        for i in range(last + 1):
            fin, fout = inp.read(), out.read()
            if fin is None or fout is None:
                for f in (fin, fout):
                    if f is not None:
                        f.close()
                break
            want = want_quality and i % step == 0
            if not want and i != crop_at:
                fin.close()
                fout.close()
                continue
            with fin, fout:
                w, h = fin.width, fin.height
                W, H = fout.width, fout.height
                s = W // w if w else 1
                if s < 1 or W != w * s or H != h * s:
                    raise ValueError(f"output frame {i} is {W}x{H}, not a whole multiple of the input's {w}x{h}")
                x_in, x_out = _rgb(fin), _rgb(fout)
                bic = _rgb(fin, W, H) if s > 1 else x_in
                if want:
                    down = x_out.reshape(3, h, s, w, s).mean(axis=(2, 4)) if s > 1 else x_out
                    psnrs.append(psnr(down, x_in))
                    energy_out += gradient_energy(x_out)
                    energy_bic += gradient_energy(bic)
                if i == crop_at and pic is not None:
                    cx, cy, cw, ch = crop_rect(w, h, pic)
                    crop = Crop(i, cx, cy, cw, ch, s,
                                output=to_u8(x_out[:, cy * s:(cy + ch) * s, cx * s:(cx + cw) * s]),
                                bicubic=to_u8(bic[:, cy * s:(cy + ch) * s, cx * s:(cx + cw) * s]),
                                input=to_u8(x_in[:, cy:cy + ch, cx:cx + cw]))
    consistency = float(np.mean([p for p in psnrs if math.isfinite(p)] or [math.inf])) if psnrs else None
    if consistency is not None and not math.isfinite(consistency):
        consistency = 100.0  # identical: report a finite ceiling, as PSNR tools do
    sharp = energy_out / energy_bic if energy_bic > 0 else None
    return consistency, sharp, crop
