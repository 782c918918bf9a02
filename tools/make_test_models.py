#!/usr/bin/env python3
"""Build the small TorchScript test models (with libvsr cards) used by the tests.

    tools/make_test_models.py --out DIR --stamp FILE

Every model is deterministic (fixed seeds) and checked here: its output shape
matches its card for a 2x3x20x28 input (2xTx3x20x28 for sequence models), and
where a card states a receptive field, autograd confirms it. The stamp file is
written last, so a half-built directory never looks complete.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelcard  # noqa: E402

CONVERTER = "tools/make_test_models.py"
LICENSE = "CC0-1.0"  # generated here, no third-party weights


def card(name, **kw):
    kw.setdefault("license", LICENSE)
    kw.setdefault("source", "synthetic test model")
    kw.setdefault("converter", CONVERTER)
    return modelcard.make_card(name, kw.pop("scale", 2), **kw)


def small_init(module, seed, std=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def damp(layer, factor=0.1):
    """Shrink a residual branch's last layer so the picture dominates the output
    (weights stay non-zero, so the receptive field is unchanged)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(factor)


def upscale_conv_init(conv, scale, sharpen=0.1, noise=0.01, seed=0):
    """Weights of a Conv2d(3, 3*s*s, 3) followed by PixelShuffle(s) that make a
    sharpened nearest-neighbour upscale: every sub-pixel channel copies its
    colour with a small unsharp-mask term, plus a little deterministic noise so
    the sub-pixels are not all identical."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(conv.weight.shape, generator=g) * noise
    for c in range(3):
        for k in range(scale * scale):
            o = c * scale * scale + k  # PixelShuffle reads channel c*s*s + k for colour c
            w[o, c, 1, 1] += 1 + 4 * sharpen
            for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
                w[o, c, dy, dx] -= sharpen
    with torch.no_grad():
        conv.weight.copy_(w)
        if conv.bias is not None:
            conv.bias.zero_()


def bilinear_conv_init(conv):
    """Weights of a Conv2d(3, 12, 3) followed by PixelShuffle(2) that make a
    bilinear x2 upscale (half-pixel centres): output sub-pixel (i, j) mixes
    the input rows and columns around it with weights 3/4 and 1/4."""
    taps = ([0.25, 0.75, 0.0], [0.0, 0.75, 0.25])  # i or j = 0 leans up/left, 1 down/right
    w = torch.zeros(conv.weight.shape)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                w[c * 4 + i * 2 + j, c] = torch.outer(torch.tensor(taps[i]), torch.tensor(taps[j]))
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.zero_()


class TinySmoothX2(nn.Module):
    """Same shape and cost as TinyX2, but a smooth (bilinear) upscale: its
    output costs an encoder about what ffmpeg's lanczos output does, which
    bench/compare-peers needs for its I/O floor to be the same work. (The
    sharpened, noisy TinyX2 output took x264 1.16x longer at crf 18.) Zero
    padding, as libtorch 1.13 has no bf16 replication pad: the outermost
    output pixels fade to 3/4."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        bilinear_conv_init(self.conv)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class TinyX2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class GlobalPoolX2(nn.Module):
    """tiny-x2 followed by a squeeze-excitation gate: each output channel is
    scaled by a function of its mean over the whole frame (what Real-CUGAN's
    SE blocks do), so a tile sees other statistics than the whole frame."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2)

    def forward(self, x):
        y = self.shuffle(self.conv(x))
        gate = 0.5 + torch.sigmoid(4.0 * (y.mean(dim=(2, 3), keepdim=True) - 0.5))
        return y * gate


class SpatialRF4(nn.Module):
    """Four 3x3 convs (radius 1 each) -> radius exactly 4; nearest residual keeps
    the picture recognisable."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(16, 16, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(16, 16, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(16, 12, 3, padding=1))
        self.shuffle = nn.PixelShuffle(2)
        small_init(self.body, 11, std=0.1)
        damp(self.body[-1])

    def forward(self, x):
        return self.shuffle(self.body(x)) + F.interpolate(x, scale_factor=2.0, mode="nearest")


class TemporalR2(nn.Module):
    """[B,T,3,H,W] -> [B,T,3,2H,2W] for any T. Two Conv3d with zero padding, so
    frames at the ends of a chunk see zeros instead of their real neighbours:
    the chunker must overlap chunks by 2 frames per side to hide that."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv3d(3, 8, 3, padding=1)
        self.c2 = nn.Conv3d(8, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        small_init(self, 21, std=0.1)
        damp(self.c2)

    def forward(self, x):
        b, t, c, h, w = x.shape
        y = self.c2(F.leaky_relu(self.c1(x.permute(0, 2, 1, 3, 4)), 0.1))  # B,12,T,H,W
        y = self.shuffle(y.permute(0, 2, 1, 3, 4).reshape(b * t, 12, h, w))
        base = F.interpolate(x.reshape(b * t, c, h, w), scale_factor=2.0, mode="nearest")
        return (y + base).reshape(b, t, c, 2 * h, 2 * w)


class RecurrentX2(nn.Module):
    """[B,T,3,H,W] -> [B,T,3,2H,2W] for any T: a state carried along the whole
    chunk, h_t = a*h_(t-1) + (1-a)*x_t with h_(-1) = x_0, each h_t upscaled by
    a sharpened nearest-neighbour 3x3 conv. Like BasicVSR's propagation, the
    output at t depends on every earlier frame of its chunk, so it changes
    whenever the chunk grid does, however much chunks overlap: the
    finite-receptive-field models above cannot tell a wrong grid from the
    right one. Its temporal receptive field is unbounded (the chunk start);
    the card states 64, the largest the card format allows."""

    alpha: float

    def __init__(self, alpha=0.5):
        super().__init__()
        self.alpha = alpha
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2, seed=71)

    def forward(self, x):
        b, t, c, h, w = x.shape
        state = x[:, 0]
        states = []
        for i in range(t):
            state = self.alpha * state + (1.0 - self.alpha) * x[:, i]
            states.append(state)
        y = torch.stack(states, 1).reshape(b * t, c, h, w)
        return self.shuffle(self.conv(y)).reshape(b, t, c, 2 * h, 2 * w)


def check_unbounded(module, frames=33):
    """The recurrent model's last output depends on the chunk's first frame
    (its receptive field is the whole chunk, not the card's number)."""
    x = torch.rand(1, frames, 3, 8, 8, generator=torch.Generator().manual_seed(9), requires_grad=True)
    module(x)[0, frames - 1].sum().backward()
    reach = torch.nonzero(x.grad[0].abs().sum((1, 2, 3)))[:, 0]
    if int(reach.min()) != 0:
        raise SystemExit(f"recurrent-x2: output {frames - 1} does not depend on frame 0 (earliest {int(reach.min())})")


class Window5Center(nn.Module):
    """[B,5,3,H,W] -> [B,3,2H,2W]: the centre frame, refined by its neighbours."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mix", torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1]))
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2, seed=31)

    def forward(self, x):
        if x.dim() != 5 or x.shape[1] != 5:
            raise ValueError("window5-center-x2 needs input [B, 5, 3, H, W]")
        blend = (x * self.mix.view(1, 5, 1, 1, 1)).sum(1)
        centre = x[:, 2]
        # Mostly the centre frame, so a mixed-up window order shows in the output.
        return self.shuffle(self.conv(0.5 * centre + 0.5 * blend))


class ThrowsAfter3(nn.Module):
    """Per-frame x2 model whose 4th forward call raises.

    The count lives in a 1-element int64 buffer bumped in place with add_().
    torch.jit.freeze inlines module attributes as constants unless it sees them
    mutated; its alias analysis sees the in-place add_, so the buffer stays a
    live attribute through freeze and optimize_for_inference (checked below,
    torch 1.13). A plain int attribute (`self.calls += 1`) also survived there;
    the buffer is kept because it is ordinary module state (saved with the
    file, ignored by .to(dtype)) rather than relying on attribute handling.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(1, dtype=torch.int64))
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2, seed=41)

    def forward(self, x):
        self.calls.add_(1)
        if int(self.calls.item()) >= 4:
            raise RuntimeError("test model: deliberate failure on call 4")
        return self.shuffle(self.conv(x))


class SlowX2(nn.Module):
    """TinyX2's output after a fixed amount of extra work: products of a
    512x512 matrix whose result is multiplied by zero, a few tenths of a
    second per forward pass on one core whatever the frame size. For tests
    that need a run, or a model load (its check passes), to last: they slow
    libvsr down by public means. The work depends on the input, so freezing
    the graph at load cannot fold it away."""

    def __init__(self, rounds=40, n=512):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        upscale_conv_init(self.conv, 2, seed=71)
        g = torch.Generator().manual_seed(72)
        self.register_buffer("work", torch.randn(n, n, generator=g) / n ** 0.5)
        self.rounds = rounds

    def forward(self, x):
        y = self.shuffle(self.conv(x))
        a = self.work + x.mean() * 0.0
        for _ in range(self.rounds):
            a = torch.tanh(torch.mm(a, self.work))
        return y + a.mean() * 0.0


class WrongShape(nn.Module):
    """Card says x2, but the network returns x3."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 27, 3, padding=1)
        self.shuffle = nn.PixelShuffle(3)
        upscale_conv_init(self.conv, 3, seed=51)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class Multiple4(nn.Module):
    """x2 through a /4 bottleneck: two stride-2 2x2 convs, then PixelShuffle(8).
    Each output pixel depends only on the aligned 4x4 input block it lies in."""

    def __init__(self):
        super().__init__()
        self.down1 = nn.Conv2d(3, 16, 2, stride=2)
        self.down2 = nn.Conv2d(16, 32, 2, stride=2)
        self.up = nn.Conv2d(32, 3 * 64, 1)
        self.shuffle = nn.PixelShuffle(8)
        small_init(self, 61, std=0.05)

    def forward(self, x):
        if x.shape[-2] % 4 != 0 or x.shape[-1] % 4 != 0:
            raise ValueError("multiple4-x2: width and height must be multiples of 4")
        y = self.shuffle(self.up(F.leaky_relu(self.down2(F.leaky_relu(self.down1(x), 0.1)), 0.1)))
        return y + F.interpolate(x, scale_factor=2.0, mode="nearest")


# ---------------------------------------------------------------------------
# Checks

def example_input(c):
    g = torch.Generator().manual_seed(7)
    if c["layout"] == "NCHW":
        return torch.rand(2, 3, 20, 28, generator=g)
    t = c["frames_in"] or 6
    return torch.rand(2, t, 3, 20, 28, generator=g)


def check_shape(module, c, want_shape=True):
    x = example_input(c)
    with torch.no_grad():
        y = module(x)
    want = modelcard.output_shape(c, tuple(x.shape))
    if (tuple(y.shape) == want) != want_shape:
        raise SystemExit(f"{c['name']}: output {tuple(y.shape)} for input {tuple(x.shape)}, "
                         f"card promises {want}")
    return tuple(x.shape), tuple(y.shape)


def measured_rf(module, c, size=28):
    """(spatial, temporal) radius over one s x s output phase block at the centre."""
    s = c["scale"]
    seq = c["layout"] == "NTCHW"
    t = c["frames_in"] or 9
    sp = tm = 0
    for dy in range(s):
        for dx in range(s):
            shape = (1, t, 3, size, size) if seq else (1, 3, size, size)
            x = torch.rand(shape, generator=torch.Generator().manual_seed(8), requires_grad=True)
            y = module(x)
            oy, ox = (size // 2) * s + dy, (size // 2) * s + dx
            if seq and c["frames_out"] == "all":
                y[0, t // 2, :, oy, ox].sum().backward()
            else:
                y[0, :, oy, ox].sum().backward()
            g = x.grad[0].abs()
            nz = torch.nonzero(g.sum(-3))  # columns: (t,) y, x
            cy, cx = size // 2, size // 2
            sp = max(sp, int((nz[:, -2] - cy).abs().max()), int((nz[:, -1] - cx).abs().max()))
            if seq:
                tm = max(tm, int((nz[:, 0] - t // 2).abs().max()))
    return sp, tm


def check_throwing(module):
    """The 4th call must raise, plain and after freeze + optimize_for_inference."""
    def calls_until_failure(m):
        x = torch.rand(1, 3, 8, 8)
        for i in range(1, 6):
            try:
                with torch.no_grad():
                    m(x)
            except Exception as e:  # torch.jit.Error, not a RuntimeError subclass
                if "deliberate failure on call 4" not in str(e):
                    raise SystemExit(f"throws-after-3: unexpected error {e}")
                return i
        return None

    variants = {
        "scripted": lambda: torch.jit.script(ThrowsAfter3().eval()),
        "frozen": lambda: torch.jit.freeze(torch.jit.script(ThrowsAfter3().eval())),
        "frozen+optimize_for_inference": lambda: torch.jit.optimize_for_inference(
            torch.jit.freeze(torch.jit.script(ThrowsAfter3().eval()))),
    }
    for what, make in variants.items():
        n = calls_until_failure(make())
        if n != 4:
            raise SystemExit(f"throws-after-3 ({what}): failed on call {n}, expected 4")
    return calls_until_failure


def build(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    log = []

    def put(fname, net, c, script=True, rf_check=True, want_shape=True):
        m = torch.jit.script(net.eval()) if script else net
        path = os.path.join(out, fname)
        modelcard.save(m, path, c)
        loaded, lc = modelcard.load(path)
        shapes = check_shape(loaded, lc, want_shape)
        msg = f"{fname}: {shapes[0]} -> {shapes[1]}"
        if rf_check:
            sp, tm = measured_rf(net, c)
            rf = c["receptive_field"]
            if sp > rf["spatial"] or tm > rf["temporal"]:
                raise SystemExit(f"{fname}: measured receptive field ({sp}, {tm}) exceeds the card's")
            msg += f", rf measured spatial {sp} temporal {tm}"
        log.append(msg)
        return m

    put("tiny-x2.pt", TinyX2(), card("tiny-x2", rf_spatial=1))
    # The radius leaves out the global statistics (as the ncnn converter's
    # cards do); global_pool tells the session that tiles change the output.
    put("global-pool-x2.pt", GlobalPoolX2(), card("global-pool-x2", rf_spatial=1, global_pool=True),
        rf_check=False)
    put("tiny-smooth-x2.pt", TinySmoothX2(), card("tiny-smooth-x2", rf_spatial=1))
    put("spatial-rf4-x2.pt", SpatialRF4(), card("spatial-rf4-x2", rf_spatial=4))
    put("temporal-r2-x2.pt", TemporalR2(),
        card("temporal-r2-x2", frames_in=0, rf_spatial=2, rf_temporal=2))
    rec = RecurrentX2()
    put("recurrent-x2.pt", rec,
        card("recurrent-x2", frames_in=0, rf_spatial=1, rf_temporal=64,
             source="synthetic test model: recurrent state h_t = 0.5 h_(t-1) + 0.5 x_t along the "
                    "whole chunk, then a 3x3 x2 upscale; its temporal receptive field is unbounded "
                    "(the chunk start), 64 is the largest the card format allows"))
    check_unbounded(rec)
    log.append("recurrent-x2.pt: output 32 of a 33-frame chunk depends on frame 0 (unbounded temporal field)")
    put("window5-center-x2.pt", Window5Center(),
        card("window5-center-x2", frames_in=5, frames_out="center", rf_spatial=1, rf_temporal=2))
    # Shape check only: autograd through the counter would trip it.
    put("throws-after-3.pt", ThrowsAfter3(), card("throws-after-3", rf_spatial=1), rf_check=False)
    # Shape check only: autograd through the extra work would take long.
    put("slow-x2.pt", SlowX2(), card("slow-x2", rf_spatial=1), rf_check=False)
    put("wrong-shape-x2.pt", WrongShape(), card("wrong-shape-x2", rf_spatial=1),
        rf_check=False, want_shape=False)
    # Radius 4: a pixel depends on its aligned 4x4 block (at most 3 away); a
    # pad of 4 also keeps tiles aligned to the multiple.
    put("multiple4-x2.pt", Multiple4(), card("multiple4-x2", rf_spatial=4, size_multiple=4))

    # Broken cards on an otherwise valid module.
    tiny = torch.jit.script(TinyX2().eval())
    modelcard.save_raw(tiny, os.path.join(out, "bad-card.pt"),
                       '{"format": "libvsr-model-card", "version": 1, "name": "bad-card", "scale": 2,')
    modelcard.save_raw(tiny, os.path.join(out, "no-card.pt"), None)
    bad = card("card-bad-scale", rf_spatial=1)
    bad["scale"] = 0
    modelcard.save_raw(tiny, os.path.join(out, "card-bad-scale.pt"), modelcard.card_json(bad))
    for fname, needle in (("bad-card.pt", "not valid JSON"), ("no-card.pt", "no libvsr.json"),
                          ("card-bad-scale.pt", '"scale"')):
        try:
            modelcard.load(os.path.join(out, fname))
        except modelcard.CardError as e:
            if needle not in str(e):
                raise SystemExit(f"{fname}: unexpected card error {e}")
            log.append(f"{fname}: refused as intended ({e})")
        else:
            raise SystemExit(f"{fname}: the broken card was accepted")

    # The counter must survive freezing, also when loaded back from disk.
    calls_until_failure = check_throwing(ThrowsAfter3())
    m, _ = modelcard.load(os.path.join(out, "throws-after-3.pt"))
    n = calls_until_failure(torch.jit.optimize_for_inference(torch.jit.freeze(m.eval())))
    if n != 4:
        raise SystemExit(f"throws-after-3.pt (loaded, frozen): failed on call {n}, expected 4")
    log.append("throws-after-3.pt: raises on call 4 as scripted, frozen, and frozen+optimized")

    try:
        with torch.no_grad():
            torch.jit.load(os.path.join(out, "multiple4-x2.pt"))(torch.rand(1, 3, 18, 28))
    except Exception as e:
        if "multiples of 4" not in str(e):
            raise
        log.append("multiple4-x2.pt: refuses 18x28 as intended")
    else:
        raise SystemExit("multiple4-x2.pt accepted an 18x28 input")
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--stamp", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)  # small models; keeps results identical across machines
    for line in build(a.out):
        print(line)
    with open(a.stamp, "w") as f:
        f.write("test models built by tools/make_test_models.py\n")


if __name__ == "__main__":
    main()
