#!/usr/bin/env python3
"""Convert an ncnn model (.param text + .bin weights) to a libvsr TorchScript model.

Written for Real-ESRGAN's realesr-animevideov3 (SRVGGNetCompact) as shipped in
ncnn form, but the network is rebuilt generically by walking the layers of the
.param in order. Only the layer types, parameters and weight storage formats
listed in LAYERS are understood; anything else stops the conversion with a
message naming it, and so does a .bin that is not consumed exactly.

The result is checked against an independent NumPy implementation of the ncnn
layer arithmetic (see `reference_forward`); `--no-check` skips that.

    tools/convert_ncnn.py --param X.param --bin X.bin --name NAME --out NAME.pt
"""
import argparse
import math
import os
import struct
import sys
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelcard  # noqa: E402

PARAM_MAGIC = 7767517
TAG_FP32 = 0x00000000
TAG_FP16 = 0x01306B47
TOLERANCE = 1e-4


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------------------
# .param parsing

# For each layer type: {key: (name, type, default)}. A default of None means
# the key is required. Keys absent here are refused.
LAYERS = {
    "Input": {0: ("w", int, 0), 1: ("h", int, 0), 2: ("c", int, 0)},
    "Split": {},
    "Convolution": {
        0: ("num_output", int, None), 1: ("kernel_w", int, None), 11: ("kernel_h", "kernel_w", None),
        2: ("dilation_w", int, 1), 12: ("dilation_h", "dilation_w", None),
        3: ("stride_w", int, 1), 13: ("stride_h", "stride_w", None),
        4: ("pad_left", int, 0), 14: ("pad_top", "pad_left", None),
        15: ("pad_right", "pad_left", None), 16: ("pad_bottom", "pad_top", None),
        5: ("bias_term", int, 0), 6: ("weight_data_size", int, None),
    },
    "PReLU": {0: ("num_slope", int, 0)},
    "PixelShuffle": {0: ("upscale_factor", int, 1), 1: ("mode", int, 0)},
    "Interp": {0: ("resize_type", int, 0), 1: ("height_scale", float, 1.0),
               2: ("width_scale", float, 1.0), 3: ("output_height", int, 0),
               4: ("output_width", int, 0), 6: ("align_corner", int, 0)},
    "BinaryOp": {0: ("op_type", int, 0), 1: ("with_scalar", int, 0), 2: ("b", float, 0.0)},
}
# (type, input blobs, output blobs) arity; Split may have any number of outputs.
ARITY = {"Input": (0, 1), "Convolution": (1, 1), "PReLU": (1, 1), "PixelShuffle": (1, 1),
         "Interp": (1, 1), "BinaryOp": (2, 1)}
INTERP_MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}


class Layer:
    def __init__(self, type_, name, inputs, outputs, params, line):
        self.type, self.name, self.inputs, self.outputs = type_, name, inputs, outputs
        self.p, self.line = params, line

    def where(self):
        return f"layer {self.name} ({self.type}, .param line {self.line})"


def _number(text, kind, where):
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise ConvertError(f"{where}: cannot read {text!r} as {kind.__name__}") from None


def parse_param(text):
    """Parse ncnn's text .param format into a list of Layer (in file order)."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [(i + 1, ln) for i, ln in enumerate(lines) if ln]
    if not lines or lines[0][1] != str(PARAM_MAGIC):
        raise ConvertError(f".param: first line must be the magic {PARAM_MAGIC}")
    if len(lines) < 2:
        raise ConvertError(".param: missing the layer/blob count line")
    counts = lines[1][1].split()
    if len(counts) != 2:
        raise ConvertError(".param line 2: expected '<layer count> <blob count>'")
    n_layers, n_blobs = (_number(c, int, ".param line 2") for c in counts)
    layers, produced = [], set()
    for lineno, ln in lines[2:]:
        tok = ln.split()
        where = f".param line {lineno}"
        if len(tok) < 4:
            raise ConvertError(f"{where}: too few fields")
        type_, name = tok[0], tok[1]
        nin, nout = _number(tok[2], int, where), _number(tok[3], int, where)
        if len(tok) < 4 + nin + nout:
            raise ConvertError(f"{where}: layer {name} lists fewer blobs than {nin}+{nout}")
        inputs, outputs = tok[4:4 + nin], tok[4 + nin:4 + nin + nout]
        if type_ not in LAYERS:
            raise ConvertError(f"{where}: layer {name}: unsupported layer type {type_!r}")
        layer = Layer(type_, name, inputs, outputs, {}, lineno)
        want = ARITY.get(type_)
        if want and (nin, nout) != want:
            raise ConvertError(f"{layer.where()}: expected {want[0]} input(s) and {want[1]} output(s)")
        if type_ == "Split" and (nin != 1 or nout < 1):
            raise ConvertError(f"{layer.where()}: Split needs 1 input and >= 1 outputs")
        for b in inputs:
            if b not in produced:
                raise ConvertError(f"{layer.where()}: input blob {b!r} is not produced earlier")
        for b in outputs:
            if b in produced:
                raise ConvertError(f"{layer.where()}: blob {b!r} is produced twice")
            produced.add(b)
        layer.p = _parse_params(layer, tok[4 + nin + nout:])
        layers.append(layer)
    if len(layers) != n_layers:
        raise ConvertError(f".param: header says {n_layers} layers, found {len(layers)}")
    if len(produced) != n_blobs:
        raise ConvertError(f".param: header says {n_blobs} blobs, found {len(produced)}")
    return layers


def _parse_params(layer, items):
    spec = LAYERS[layer.type]
    raw = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConvertError(f"{layer.where()}: malformed param {item!r}")
        key = _number(k, int, layer.where())
        if key not in spec:
            # Array params (keys <= -23300) land here too: none is understood.
            raise ConvertError(f"{layer.where()}: unsupported param key {key} ({item!r})")
        if key in raw:
            raise ConvertError(f"{layer.where()}: param key {key} given twice")
        raw[key] = v
    p = {}
    # Keys whose default is another key's value (e.g. kernel_h = kernel_w) are
    # resolved after the plain ones; the table lists them after their source.
    for key, (name, kind, default) in spec.items():
        if isinstance(kind, str):
            p[name] = _number(raw[key], int, layer.where()) if key in raw else p[kind]
        elif key in raw:
            p[name] = _number(raw[key], kind, layer.where())
        elif default is None:
            raise ConvertError(f"{layer.where()}: required param {key} ({name}) missing")
        else:
            p[name] = default
    _check_values(layer, p)
    return p


def _check_values(layer, p):
    def refuse(what):
        raise ConvertError(f"{layer.where()}: unsupported {what}")

    t = layer.type
    if t == "Convolution":
        for k in ("stride_w", "stride_h", "dilation_w", "dilation_h"):
            if p[k] != 1:
                refuse(f"{k}={p[k]} (only 1 is implemented)")
        for k in ("pad_left", "pad_right", "pad_top", "pad_bottom"):
            if p[k] < 0:  # ncnn's negative pads mean SAME/VALID-style auto padding
                refuse(f"{k}={p[k]} (automatic padding)")
        if p["num_output"] <= 0 or p["kernel_w"] <= 0 or p["kernel_h"] <= 0:
            refuse("non-positive num_output or kernel size")
        if p["bias_term"] not in (0, 1):
            refuse(f"bias_term={p['bias_term']}")
        if p["weight_data_size"] % (p["num_output"] * p["kernel_w"] * p["kernel_h"]):
            refuse(f"weight_data_size={p['weight_data_size']} (not a multiple of "
                   "num_output*kernel_w*kernel_h)")
    elif t == "PReLU":
        if p["num_slope"] <= 0:
            refuse(f"num_slope={p['num_slope']}")
    elif t == "PixelShuffle":
        if p["upscale_factor"] < 1:
            refuse(f"upscale_factor={p['upscale_factor']}")
        if p["mode"] != 0:
            refuse(f"mode={p['mode']} (only 0, PyTorch channel order)")
    elif t == "Interp":
        if p["resize_type"] not in INTERP_MODES:
            refuse(f"resize_type={p['resize_type']}")
        if p["output_height"] or p["output_width"]:
            refuse("fixed output_height/output_width (only scale factors)")
        if p["align_corner"]:
            refuse("align_corner=1")
        if p["height_scale"] <= 0 or p["width_scale"] <= 0:
            refuse("non-positive scale")
    elif t == "BinaryOp":
        if p["op_type"] != 0:
            refuse(f"op_type={p['op_type']} (only 0 = add)")
        if p["with_scalar"]:
            refuse("with_scalar=1")


# ---------------------------------------------------------------------------
# .bin reading

class BinReader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def _take(self, n, what):
        if self.pos + n > len(self.data):
            raise ConvertError(f".bin ends at byte {len(self.data)} while reading {what} "
                               f"({n} bytes needed at offset {self.pos})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def tagged(self, count, what):
        """Weights preceded by a storage tag (ncnn's ModelBin type 0)."""
        (tag,) = struct.unpack("<I", self._take(4, what + " storage tag"))
        if tag == TAG_FP16:
            raw = self._take(count * 2, what + " (float16)")
            self._take((-count * 2) % 4, what + " padding")  # fp16 data is padded to 4 bytes
            return np.frombuffer(raw, dtype="<f2").astype(np.float32)
        if tag == TAG_FP32:
            return np.frombuffer(self._take(count * 4, what + " (float32)"), dtype="<f4").copy()
        raise ConvertError(f"{what}: unsupported storage tag 0x{tag:08X} at .bin offset "
                           f"{self.pos - 4} (only float32 0x0 and float16 0x{TAG_FP16:08X})")

    def raw(self, count, what):
        """Untagged float32 data (ncnn's ModelBin type 1)."""
        return np.frombuffer(self._take(count * 4, what + " (float32)"), dtype="<f4").copy()


def read_weights(layers, data):
    """Return {layer name: {array name: float32 ndarray}}; the .bin must be used up."""
    rd = BinReader(data)
    weights = {}
    for L in layers:
        if L.type == "Convolution":
            w = rd.tagged(L.p["weight_data_size"], f"{L.where()} weights")
            w = {"weight": w}
            if L.p["bias_term"]:
                w["bias"] = rd.raw(L.p["num_output"], f"{L.where()} bias")
            weights[L.name] = w
        elif L.type == "PReLU":
            weights[L.name] = {"slope": rd.raw(L.p["num_slope"], f"{L.where()} slopes")}
    if rd.pos != len(data):
        raise ConvertError(f".bin has {len(data) - rd.pos} unused bytes after offset {rd.pos} "
                           "(the .param does not match this .bin)")
    return weights


# ---------------------------------------------------------------------------
# Shape, scale and receptive-field analysis (no weights needed)

def interp_taps(d, in_size, out_size, mode):
    """Source indices (unclamped) that ncnn's Interp reads for output index d."""
    ratio = in_size / out_size
    if mode == "nearest":
        return [int(d * ratio)]
    fx = math.floor((d + 0.5) * ratio - 0.5)
    return [fx, fx + 1] if mode == "bilinear" else [fx - 1, fx, fx + 1, fx + 2]


def analyse(layers):
    """Check channel counts and return (scale, spatial radius, input blob, output blob).

    Each blob carries its channel count, its scale relative to the model input
    (a Fraction) and a radius R: a blob pixel at index j (in one dimension)
    depends only on input pixels within R of floor(j / scale). A 3x3 conv adds
    ceil(1 / scale); a resampling layer adds the largest distance, in input
    pixels, between the "home" pixel of an output index and that of any source
    index it reads (computed by enumerating indices, so no formula is assumed).
    """
    info = {}  # blob -> (channels, scale, radius)
    first = layers[0]
    if first.type != "Input":
        raise ConvertError(f"{first.where()}: the first layer must be Input")
    info[first.outputs[0]] = (3, Fraction(1), 0)

    def resample_margin(s_in, s_out, source_of):
        # Check a stretch of indices well away from the edges (edges only clamp).
        n_in = 64 * max(1, math.ceil(s_in))
        n_out = int(n_in * s_out / s_in)
        worst = 0
        for d in range(n_out // 4, 3 * n_out // 4):
            home = math.floor(d / s_out)
            for j in source_of(d, n_in, n_out):
                worst = max(worst, abs(math.floor(j / s_in) - home))
        return worst

    for L in layers[1:]:
        ins = [info[b] for b in L.inputs]
        c, s, r = ins[0]
        if L.type == "Split":
            out = ins[0]
        elif L.type == "Convolution":
            k_w, k_h = L.p["kernel_w"], L.p["kernel_h"]
            n_w = L.p["weight_data_size"]
            if n_w != L.p["num_output"] * c * k_w * k_h:
                raise ConvertError(f"{L.where()}: weight_data_size {n_w} != num_output "
                                   f"{L.p['num_output']} x in {c} x {k_h}x{k_w}")
            if (L.p["pad_left"] + L.p["pad_right"] != k_w - 1
                    or L.p["pad_top"] + L.p["pad_bottom"] != k_h - 1):
                raise ConvertError(f"{L.where()}: padding does not keep the size "
                                   "(only size-preserving convolutions are implemented)")
            reach = max(L.p["pad_left"], L.p["pad_right"], L.p["pad_top"], L.p["pad_bottom"])
            out = (L.p["num_output"], s, r + math.ceil(reach / s))
        elif L.type == "PReLU":
            if L.p["num_slope"] not in (1, c):
                raise ConvertError(f"{L.where()}: num_slope {L.p['num_slope']} for {c} channels")
            out = ins[0]
        elif L.type == "PixelShuffle":
            f = L.p["upscale_factor"]
            if c % (f * f):
                raise ConvertError(f"{L.where()}: {c} channels not divisible by {f}x{f}")
            s2 = s * f
            m = resample_margin(s, s2, lambda d, n_in, n_out: [d // f])
            out = (c // (f * f), s2, r + m)
        elif L.type == "Interp":
            if L.p["height_scale"] != L.p["width_scale"]:
                raise ConvertError(f"{L.where()}: different height and width scales")
            mode = INTERP_MODES[L.p["resize_type"]]
            f = Fraction(L.p["width_scale"]).limit_denominator(1000)
            s2 = s * f
            m = resample_margin(s, s2, lambda d, n_in, n_out: interp_taps(d, n_in, n_out, mode))
            out = (c, s2, r + m)
        elif L.type == "BinaryOp":
            (c2, s2, r2) = ins[1]
            if (c, s) != (c2, s2):
                raise ConvertError(f"{L.where()}: operands differ in channels or scale "
                                   f"({c} @ x{s} vs {c2} @ x{s2}); broadcasting is not implemented")
            out = (c, s, max(r, r2))
        else:  # parse_param already refused other types
            raise ConvertError(f"{L.where()}: unhandled layer type")
        for b in L.outputs:
            info[b] = out

    consumed = {b for L in layers for b in L.inputs}
    outputs = [b for L in layers for b in L.outputs if b not in consumed]
    if len(outputs) != 1:
        raise ConvertError(f"the graph must have exactly one output blob, found {outputs}")
    c, s, r = info[outputs[0]]
    if c != 3:
        raise ConvertError(f"output blob {outputs[0]} has {c} channels, expected 3 (RGB)")
    if s.denominator != 1 or s < 1:
        raise ConvertError(f"overall scale {s} is not a whole number >= 1")
    return int(s), r, first.outputs[0], outputs[0]


# ---------------------------------------------------------------------------
# PyTorch module built from the graph

class Interp(torch.nn.Module):
    def __init__(self, scale, mode):
        super().__init__()
        self.scale, self.mode = float(scale), mode

    def forward(self, x):
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        # Half-pixel centres (align_corners=False) and clamped edges, as ncnn;
        # torch's bicubic uses the same a = -0.75 cubic convolution kernel.
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=False)


class Add(torch.nn.Module):
    def forward(self, a, b):
        return a + b


class GraphNet(torch.nn.Module):
    """Runs the ncnn layers in file order; traced into a plain TorchScript graph."""

    def __init__(self, layers, weights, in_blob, out_blob):
        super().__init__()
        self.steps, self.in_blob, self.out_blob = [], in_blob, out_blob
        self.ops = torch.nn.ModuleDict()
        for L in layers[1:]:
            w = weights.get(L.name, {})
            if L.type == "Split":
                op = None
            elif L.type == "Convolution":
                k_h, k_w = L.p["kernel_h"], L.p["kernel_w"]
                n_out = L.p["num_output"]
                n_in = L.p["weight_data_size"] // (n_out * k_h * k_w)
                pad = (L.p["pad_left"], L.p["pad_right"], L.p["pad_top"], L.p["pad_bottom"])
                if len(set(pad)) != 1:
                    raise ConvertError(f"{L.where()}: asymmetric padding is not implemented")
                op = torch.nn.Conv2d(n_in, n_out, (k_h, k_w), padding=pad[0],
                                     bias=bool(L.p["bias_term"]))
                # ncnn stores weights as [out][in][kh][kw], PyTorch's own order.
                op.weight.data = torch.from_numpy(w["weight"].reshape(n_out, n_in, k_h, k_w))
                if L.p["bias_term"]:
                    op.bias.data = torch.from_numpy(w["bias"])
            elif L.type == "PReLU":
                op = torch.nn.PReLU(L.p["num_slope"])
                op.weight.data = torch.from_numpy(w["slope"])
            elif L.type == "PixelShuffle":
                op = torch.nn.PixelShuffle(L.p["upscale_factor"])
            elif L.type == "Interp":
                op = Interp(L.p["width_scale"], INTERP_MODES[L.p["resize_type"]])
            elif L.type == "BinaryOp":
                op = Add()
            else:
                raise ConvertError(f"{L.where()}: unhandled layer type")
            key = f"l{len(self.steps)}_{L.type}"
            if op is not None:
                self.ops[key] = op
            self.steps.append((key if op is not None else None, L.inputs, L.outputs))

    def forward(self, x):
        blobs = {self.in_blob: x}
        for key, ins, outs in self.steps:
            args = [blobs[b] for b in ins]
            y = args[0] if key is None else self.ops[key](*args)
            for b in outs:
                blobs[b] = y
        return blobs[self.out_blob]


# Tracing records nn.Conv2d as aten::_convolution, whose arguments freeze the
# tracing machine's cuDNN settings (benchmark, TF32) into the file. Rewrite it
# to the plain aten::conv2d that scripting would give (all convs here are 2-D,
# not transposed), so the loading side's settings apply.
_CONV_ARGS = "%x, %w, %b, %stride, %pad, %dil, %tr, %opad, %groups, %bench, %det, %cudnn, %tf32"
_CONV_PATTERN = f"""
graph({_CONV_ARGS}):
  %r = aten::_convolution({_CONV_ARGS})
  return (%r)"""
_CONV2D = f"""
graph({_CONV_ARGS}):
  %r = aten::conv2d(%x, %w, %b, %stride, %pad, %dil, %groups)
  return (%r)"""


def _use_conv2d(traced):
    for mod in traced.modules():
        if isinstance(mod, torch.jit.ScriptModule) and mod._c._has_method("forward"):
            torch._C._jit_pass_custom_pattern_based_rewrite_graph(_CONV_PATTERN, _CONV2D, mod.graph)
            if any(n.kind() == "aten::_convolution" for n in mod.graph.nodes()):
                raise ConvertError("could not rewrite aten::_convolution to aten::conv2d")


def build_module(layers, weights, in_blob, out_blob):
    net = GraphNet(layers, weights, in_blob, out_blob).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    example = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        traced = torch.jit.trace(net, example, check_trace=False)
        _use_conv2d(traced)
        # Tracing must not bake in the example's size or batch: compare with
        # the eager network on other shapes (odd sizes, batch 2).
        for shape in ((2, 3, 17, 23), (1, 3, 32, 9)):
            x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
            a, b = net(x), traced(x)
            if a.shape != b.shape or not torch.allclose(a, b, atol=1e-6, rtol=0):
                raise ConvertError(f"traced module differs from the eager one for input {shape}")
    return traced


# ---------------------------------------------------------------------------
# Independent NumPy reference of the ncnn layers (float64)

def np_conv(x, w, b, p):
    """Zero-padded 2-D convolution, stride 1: x [C,H,W], w flat ncnn [out][in][kh][kw]."""
    k_h, k_w, n_out = p["kernel_h"], p["kernel_w"], p["num_output"]
    w = w.astype(np.float64).reshape(n_out, x.shape[0], k_h, k_w)
    xp = np.pad(x, ((0, 0), (p["pad_top"], p["pad_bottom"]), (p["pad_left"], p["pad_right"])))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k_h, k_w), axis=(1, 2))  # C,H,W,kh,kw
    y = np.einsum("chwij,ocij->ohw", win, w, optimize=True)
    if b is not None:
        y += b.astype(np.float64)[:, None, None]
    return y


def np_prelu(x, slope):
    a = slope.astype(np.float64)
    a = np.broadcast_to(a[:, None, None] if a.size > 1 else a.reshape(1, 1, 1), x.shape)
    return np.where(x > 0, x, a * x)


def np_pixel_shuffle(x, r):
    # Output channel c, sub-pixel (i, j) comes from input channel c*r*r + i*r + j.
    c, h, w = x.shape
    return x.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(
        c // (r * r), h * r, w * r)


def cubic_weights(t, a=-0.75):
    """Keys' cubic convolution weights for taps at -1, 0, 1, 2 around offset t in [0, 1)."""
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def resample_matrix(n_in, n_out, mode):
    """[n_out, n_in] matrix of one ncnn Interp pass along one axis.

    Source coordinate (d + 0.5) * n_in / n_out - 0.5 (half-pixel centres);
    taps beyond the edge read the edge pixel. ncnn folds the weights of
    out-of-range taps onto the edge tap, which is the same thing.
    """
    m = np.zeros((n_out, n_in))
    ratio = n_in / n_out
    for d in range(n_out):
        if mode == "nearest":
            m[d, min(int(d * ratio), n_in - 1)] = 1.0
            continue
        fx = (d + 0.5) * ratio - 0.5
        sx = math.floor(fx)
        t = fx - sx
        if mode == "bilinear":
            # ncnn clamps the coordinate itself at both ends.
            if sx < 0:
                sx, t = 0, 0.0
            if sx >= n_in - 1:
                sx, t = n_in - 1, 0.0
            taps = [(sx, 1 - t), (min(sx + 1, n_in - 1), t)]
        else:
            taps = zip(range(sx - 1, sx + 3), cubic_weights(t))
        for j, wt in taps:
            m[d, min(max(j, 0), n_in - 1)] += wt
    return m


def np_interp(x, p):
    mode = INTERP_MODES[p["resize_type"]]
    c, h, w = x.shape
    oh, ow = int(h * p["height_scale"]), int(w * p["width_scale"])
    if (oh, ow) == (h, w):
        return x
    mh, mw = resample_matrix(h, oh, mode), resample_matrix(w, ow, mode)
    return np.einsum("ph,chw,qw->cpq", mh, x, mw, optimize=True)


def reference_forward(layers, weights, x):
    """Run the parsed graph on x [3,H,W] with NumPy in float64."""
    blobs = {layers[0].outputs[0]: x.astype(np.float64)}
    for L in layers[1:]:
        a = [blobs[b] for b in L.inputs]
        w = weights.get(L.name, {})
        if L.type == "Split":
            y = a[0]
        elif L.type == "Convolution":
            y = np_conv(a[0], w["weight"], w.get("bias"), L.p)
        elif L.type == "PReLU":
            y = np_prelu(a[0], w["slope"])
        elif L.type == "PixelShuffle":
            y = np_pixel_shuffle(a[0], L.p["upscale_factor"])
        elif L.type == "Interp":
            y = np_interp(a[0], L.p)
        elif L.type == "BinaryOp":
            y = a[0] + a[1]
        else:
            raise ConvertError(f"{L.where()}: no reference implementation")
        for b in L.outputs:
            blobs[b] = y
    consumed = {b for L in layers for b in L.inputs}
    (out,) = [b for L in layers for b in L.outputs if b not in consumed]
    return blobs[out]


def measured_radius(module, scale, rf):
    """Largest distance from its home pixel of an input pixel that any output
    pixel of one s x s phase block depends on (autograd, away from edges)."""
    n = 2 * rf + 12
    worst = 0
    for dy in range(scale):
        for dx in range(scale):
            x = torch.rand(1, 3, n, n, generator=torch.Generator().manual_seed(3), requires_grad=True)
            oy, ox = (n // 2) * scale + dy, (n // 2) * scale + dx
            module(x)[0, :, oy, ox].sum().backward()
            ys, xs = np.nonzero(x.grad[0].abs().sum(0).numpy())
            hy, hx = oy // scale, ox // scale
            worst = max(worst, int(np.abs(ys - hy).max()), int(np.abs(xs - hx).max()))
    return worst


def self_check(layers, weights, module, scale, rf, size=(24, 20), log=print):
    """Compare module with the NumPy reference; raise ConvertError past TOLERANCE."""
    h, w = size
    x = np.random.default_rng(1234).random((3, h, w), dtype=np.float32)
    ref = reference_forward(layers, weights, x)
    with torch.no_grad():
        got = module(torch.from_numpy(x)[None])[0].double().numpy()
    if got.shape != ref.shape or got.shape != (3, h * scale, w * scale):
        raise ConvertError(f"self-check: output shape {got.shape}, reference {ref.shape}, "
                           f"expected {(3, h * scale, w * scale)}")
    diff = np.abs(got - ref)
    log(f"self-check: input 3x{h}x{w} -> 3x{h * scale}x{w * scale}: max |torch - numpy| = "
        f"{diff.max():.3e}, mean = {diff.mean():.3e} (limit {TOLERANCE:g}); "
        f"output range [{ref.min():.4f}, {ref.max():.4f}]")
    if not diff.max() <= TOLERANCE:
        raise ConvertError(f"self-check failed: max |torch - numpy| = {diff.max():.3e} > {TOLERANCE:g}")
    m = measured_radius(module, scale, rf)
    log(f"self-check: receptive radius from the graph = {rf}, measured by autograd = {m}")
    if m > rf:
        raise ConvertError(f"self-check failed: measured receptive radius {m} > computed {rf}")
    return float(diff.max()), m


# ---------------------------------------------------------------------------

def convert(param_path, bin_path, name, out_path, *, check=True, source="", license="BSD-3-Clause",
            log=print):
    with open(param_path, encoding="utf-8") as f:
        layers = parse_param(f.read())
    with open(bin_path, "rb") as f:
        data = f.read()
    weights = read_weights(layers, data)
    scale, rf, in_blob, out_blob = analyse(layers)
    n_params = sum(a.size for w in weights.values() for a in w.values())
    log(f"{param_path}: {len(layers)} layers, {n_params} parameters, {len(data)} bytes of "
        f"weights read; scale x{scale}, receptive radius {rf}")
    module = build_module(layers, weights, in_blob, out_blob)
    card = modelcard.make_card(name, scale, rf_spatial=rf, license=license,
                               source=source or os.path.basename(param_path),
                               converter="tools/convert_ncnn.py")
    # Write next to the target and rename once checked, so a failed check
    # never leaves a model behind.
    tmp = f"{out_path}.tmp{os.getpid()}"
    try:
        modelcard.save(module, tmp, card)
        if check:
            saved, saved_card = modelcard.load(tmp)
            if saved_card != card:
                raise ConvertError("self-check: the card read back differs from the one written")
            ops = sorted({n.kind() for n in saved.inlined_graph.nodes()} - {
                "prim::Constant", "prim::GetAttr", "prim::ListConstruct"})
            log("self-check: TorchScript ops: " + ", ".join(ops))
            self_check(layers, weights, saved, scale, rf, log=log)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log(f"wrote {out_path}")
    return card


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--param", required=True, help="ncnn .param (text format)")
    ap.add_argument("--bin", required=True, help="ncnn .bin weights")
    ap.add_argument("--name", required=True, help="model name written to the card")
    ap.add_argument("--out", required=True, help="output TorchScript file")
    ap.add_argument("--source", default="", help="where the weights came from (for the card)")
    ap.add_argument("--license", default="BSD-3-Clause", help="licence of the weights")
    ap.add_argument("--no-check", action="store_true", help="skip the NumPy self-check")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    try:
        convert(a.param, a.bin, a.name, a.out, check=not a.no_check, source=a.source,
                license=a.license)
    except (ConvertError, modelcard.CardError, OSError) as e:
        print(f"convert_ncnn: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
