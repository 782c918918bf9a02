#!/usr/bin/env python3
"""Convert an ncnn model (.param text + .bin weights) to a libvsr TorchScript model.

The .param graph is interpreted layer by layer: every layer type, parameter
key and weight storage format this file knows is listed in LAYERS, and
anything else stops the conversion with a message naming the file, layer and
line, and so does a .bin that is not consumed exactly.

The TorchScript module takes an RGB image in [0, 1] of any size and returns
exactly `scale` times that size. Networks that shrink their input (waifu2x,
Real-CUGAN: unpadded convolutions) or need sizes that are multiples of some
number (strided layers) are wrapped in the edge handling their own tools use:
pad the input (--pad-mode, --pad), align its size, crop the output, and for
Real-CUGAN x4 add the nearest-upscaled input (--residual nearest).

Every conversion is checked against an independent NumPy (float64)
implementation of the ncnn layers on a real photo crop, and its receptive
radius, computed from the graph, is confirmed with autograd; `--no-check`
skips both.

    tools/convert_ncnn.py --param X.param --bin X.bin --name NAME --out NAME.pt
"""
import argparse
import io
import math
import os
import signal
import struct
import sys
from fractions import Fraction
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelcard  # noqa: E402

PARAM_MAGIC = 7767517
TAG_FP32 = 0x00000000
TAG_FP16 = 0x01306B47
TOLERANCE = 1e-4          # max |torch float32 - numpy float64| on outputs in [0, 1]
ARRAY_KEY_BASE = -23300   # array parameter k is written as key -23300 - k
PAD_MODES = ("zero", "replicate", "reflect")


class ConvertError(Exception):
    pass


class SizeError(ConvertError):
    """An input size the graph cannot take (used to find the sizes it can)."""


# ---------------------------------------------------------------------------
# Layer table: parameter keys (ncnn's numbering), defaults, inputs/outputs

REQUIRED = object()
INTS, FLOATS = "ints", "floats"


def same_as(name):
    """Default: the value of another (earlier) parameter, e.g. kernel_h = kernel_w."""
    return ("same", name)


_CONV_COMMON = {
    0: ("num_output", int, REQUIRED), 1: ("kernel_w", int, REQUIRED),
    11: ("kernel_h", int, same_as("kernel_w")),
    2: ("dilation_w", int, 1), 12: ("dilation_h", int, same_as("dilation_w")),
    3: ("stride_w", int, 1), 13: ("stride_h", int, same_as("stride_w")),
    4: ("pad_left", int, 0), 15: ("pad_right", int, same_as("pad_left")),
    14: ("pad_top", int, same_as("pad_left")), 16: ("pad_bottom", int, same_as("pad_top")),
    5: ("bias_term", int, 0), 6: ("weight_data_size", int, REQUIRED),
    9: ("activation_type", int, 0), 10: ("activation_params", FLOATS, ()),
}
_CONV = {**_CONV_COMMON, 8: ("int8_scale_term", int, 0), 18: ("pad_value", float, 0.0)}
_DECONV = {**_CONV_COMMON,
           18: ("output_pad_right", int, 0), 19: ("output_pad_bottom", int, same_as("output_pad_right")),
           20: ("output_w", int, 0), 21: ("output_h", int, same_as("output_w"))}

# Layer type -> (parameter keys, (min inputs, max inputs), (min outputs, max outputs))
MANY = 1 << 20
LAYERS = {
    "Input": ({0: ("w", int, 0), 1: ("h", int, 0), 2: ("c", int, 0)}, (0, 0), (1, 1)),
    "Split": ({}, (1, 1), (1, MANY)),
    "Convolution": (_CONV, (1, 1), (1, 1)),
    "ConvolutionDepthWise": ({**_CONV, 7: ("group", int, 1)}, (1, 1), (1, 1)),
    "Deconvolution": (_DECONV, (1, 1), (1, 1)),
    "ReLU": ({0: ("slope", float, 0.0)}, (1, 1), (1, 1)),
    "PReLU": ({0: ("num_slope", int, 0)}, (1, 1), (1, 1)),
    "Sigmoid": ({}, (1, 1), (1, 1)),
    "Clip": ({0: ("min", float, REQUIRED), 1: ("max", float, REQUIRED)}, (1, 1), (1, 1)),
    "Pooling": ({0: ("pooling_type", int, 0), 1: ("kernel_w", int, 0),
                 11: ("kernel_h", int, same_as("kernel_w")),
                 2: ("stride_w", int, 1), 12: ("stride_h", int, same_as("stride_w")),
                 3: ("pad_left", int, 0), 14: ("pad_right", int, same_as("pad_left")),
                 13: ("pad_top", int, same_as("pad_left")), 15: ("pad_bottom", int, same_as("pad_top")),
                 4: ("global_pooling", int, 0), 5: ("pad_mode", int, 0),
                 6: ("avgpool_count_include_pad", int, 0), 7: ("adaptive_pooling", int, 0),
                 8: ("out_w", int, 0), 18: ("out_h", int, same_as("out_w"))}, (1, 1), (1, 1)),
    "InnerProduct": ({0: ("num_output", int, REQUIRED), 1: ("bias_term", int, 0),
                      2: ("weight_data_size", int, REQUIRED), 8: ("int8_scale_term", int, 0),
                      9: ("activation_type", int, 0), 10: ("activation_params", FLOATS, ())},
                     (1, 1), (1, 1)),
    "Flatten": ({}, (1, 1), (1, 1)),
    "Scale": ({0: ("scale_data_size", int, REQUIRED), 1: ("bias_term", int, 0)}, (1, 2), (1, 1)),
    "BinaryOp": ({0: ("op_type", int, 0), 1: ("with_scalar", int, 0), 2: ("b", float, 0.0)},
                 (1, 2), (1, 1)),
    "Eltwise": ({0: ("op_type", int, 0), 1: ("coeffs", FLOATS, ())}, (2, MANY), (1, 1)),
    "Concat": ({0: ("axis", int, 0)}, (1, MANY), (1, 1)),
    "Crop": ({0: ("woffset", int, 0), 1: ("hoffset", int, 0), 2: ("coffset", int, 0),
              3: ("outw", int, 0), 4: ("outh", int, 0), 5: ("outc", int, 0),
              6: ("woffset2", int, 0), 7: ("hoffset2", int, 0), 8: ("coffset2", int, 0),
              9: ("starts", INTS, ()), 10: ("ends", INTS, ()), 11: ("axes", INTS, ())},
             (1, 2), (1, 1)),
    "Padding": ({0: ("top", int, 0), 1: ("bottom", int, 0), 2: ("left", int, 0), 3: ("right", int, 0),
                 4: ("type", int, 0), 5: ("value", float, 0.0),
                 6: ("per_channel_pad_data_size", int, 0), 7: ("front", int, 0), 8: ("behind", int, 0)},
                (1, 1), (1, 1)),
    "Interp": ({0: ("resize_type", int, 0), 1: ("height_scale", float, 1.0),
                2: ("width_scale", float, 1.0), 3: ("output_height", int, 0),
                4: ("output_width", int, 0), 5: ("dynamic_target_size", int, 0),
                6: ("align_corner", int, 0)}, (1, 1), (1, 1)),
    "PixelShuffle": ({0: ("upscale_factor", int, 1), 1: ("mode", int, 0)}, (1, 1), (1, 1)),
}
INTERP_MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}
BINARY_OPS = {0: "add", 1: "sub", 2: "mul", 3: "div", 4: "max", 5: "min", 6: "pow",
              7: "rsub", 8: "rdiv", 9: "rpow"}
ELTWISE_OPS = {0: "prod", 1: "sum", 2: "max"}
# activation_type of Convolution/Deconvolution/InnerProduct: name, number of params
ACTIVATIONS = {0: ("none", 0), 1: ("relu", 0), 2: ("leakyrelu", 1), 3: ("clip", 2),
               4: ("sigmoid", 0), 5: ("mish", 0), 6: ("hardswish", 2)}
PADDING_TYPES = {0: "constant", 1: "replicate", 2: "reflect"}


class Layer:
    def __init__(self, type_, name, inputs, outputs, line, path):
        self.type, self.name, self.inputs, self.outputs = type_, name, inputs, outputs
        self.p, self.line, self.path = {}, line, path

    def where(self):
        return f"{self.path}: layer {self.name} ({self.type}, line {self.line})"


def _number(text, kind, where):
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise ConvertError(f"{where}: cannot read {text!r} as {kind.__name__}") from None


def parse_param(text, path=".param"):
    """Parse ncnn's text .param format into a list of Layer (in file order)."""
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines or lines[0][1] != str(PARAM_MAGIC):
        raise ConvertError(f"{path}: first line must be the magic {PARAM_MAGIC} (not a text .param)")
    if len(lines) < 2:
        raise ConvertError(f"{path}: missing the layer/blob count line")
    counts = lines[1][1].split()
    if len(counts) != 2:
        raise ConvertError(f"{path} line {lines[1][0]}: expected '<layer count> <blob count>'")
    n_layers, n_blobs = (_number(c, int, f"{path} line {lines[1][0]}") for c in counts)
    layers, produced = [], set()
    for lineno, ln in lines[2:]:
        tok = ln.split()
        where = f"{path} line {lineno}"
        if len(tok) < 4:
            raise ConvertError(f"{where}: too few fields")
        type_, name = tok[0], tok[1]
        nin, nout = _number(tok[2], int, where), _number(tok[3], int, where)
        if nin < 0 or nout < 0 or len(tok) < 4 + nin + nout:
            raise ConvertError(f"{where}: layer {name} lists fewer blobs than {nin}+{nout}")
        if type_ not in LAYERS:
            raise ConvertError(f"{where}: layer {name}: unsupported layer type {type_!r}")
        L = Layer(type_, name, tok[4:4 + nin], tok[4 + nin:4 + nin + nout], lineno, path)
        (lo_in, hi_in), (lo_out, hi_out) = LAYERS[type_][1], LAYERS[type_][2]
        if not (lo_in <= nin <= hi_in and lo_out <= nout <= hi_out):
            raise ConvertError(f"{L.where()}: takes {lo_in}..{min(hi_in, 99)} input(s) and "
                               f"{lo_out}..{min(hi_out, 99)} output(s), not {nin} and {nout}")
        for b in L.inputs:
            if b not in produced:
                raise ConvertError(f"{L.where()}: input blob {b!r} is not produced earlier")
        for b in L.outputs:
            if b in produced:
                raise ConvertError(f"{L.where()}: blob {b!r} is produced twice")
            produced.add(b)
        L.p = _parse_params(L, tok[4 + nin + nout:])
        layers.append(L)
    if len(layers) != n_layers:
        raise ConvertError(f"{path}: header says {n_layers} layers, found {len(layers)}")
    if len(produced) != n_blobs:
        raise ConvertError(f"{path}: header says {n_blobs} blobs, found {len(produced)}")
    if not layers or layers[0].type != "Input" or sum(L.type == "Input" for L in layers) != 1:
        raise ConvertError(f"{path}: the graph must start with its one Input layer")
    for L in layers:
        _check_values(L)
    return layers


def _parse_params(layer, items):
    spec = LAYERS[layer.type][0]
    raw = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConvertError(f"{layer.where()}: malformed param {item!r}")
        key = _number(k, int, layer.where())
        is_array = key <= ARRAY_KEY_BASE
        if is_array:
            key = ARRAY_KEY_BASE - key
        if key not in spec:
            raise ConvertError(f"{layer.where()}: unsupported param key {key} ({item!r})")
        kind = spec[key][1]
        if is_array != (kind in (INTS, FLOATS)):
            raise ConvertError(f"{layer.where()}: param {key} ({spec[key][0]}) must be "
                               f"{'an array' if kind in (INTS, FLOATS) else 'a single value'}: {item!r}")
        if key in raw:
            raise ConvertError(f"{layer.where()}: param key {key} given twice")
        if is_array:
            parts = v.split(",")
            n = _number(parts[0], int, layer.where())
            if n != len(parts) - 1:
                raise ConvertError(f"{layer.where()}: array param {item!r} announces {n} values, "
                                   f"has {len(parts) - 1}")
            elem = int if kind == INTS else float
            raw[key] = tuple(_number(x, elem, layer.where()) for x in parts[1:])
        else:
            raw[key] = _number(v, kind, layer.where())
    p = {}
    for key, (name, kind, default) in spec.items():
        if key in raw:
            p[name] = raw[key]
        elif default is REQUIRED:
            raise ConvertError(f"{layer.where()}: required param {key} ({name}) missing")
        elif isinstance(default, tuple) and default[:1] == ("same",):
            p[name] = p[default[1]]
        else:
            p[name] = default
    return p


def _check_values(L):
    """Refuse parameter values whose meaning is not implemented (shape-independent checks)."""
    p, t = L.p, L.type

    def refuse(what):
        raise ConvertError(f"{L.where()}: unsupported {what}")

    def check_activation():
        act = p["activation_type"]
        if act not in ACTIVATIONS:
            refuse(f"activation_type={act}")
        want = ACTIVATIONS[act][1]
        if len(p["activation_params"]) < want:
            refuse(f"activation {ACTIVATIONS[act][0]} with {len(p['activation_params'])} params "
                   f"(needs {want})")

    if t in ("Convolution", "ConvolutionDepthWise", "Deconvolution"):
        for k in ("num_output", "kernel_w", "kernel_h", "stride_w", "stride_h",
                  "dilation_w", "dilation_h", "weight_data_size"):
            if p[k] <= 0:
                refuse(f"{k}={p[k]}")
        for k in ("pad_left", "pad_right", "pad_top", "pad_bottom"):
            if p[k] < 0:  # ncnn's negative pads mean SAME/VALID-style automatic padding
                refuse(f"{k}={p[k]} (automatic padding)")
        if p["bias_term"] not in (0, 1):
            refuse(f"bias_term={p['bias_term']}")
        if p.get("int8_scale_term", 0):
            refuse("int8 quantised weights (int8_scale_term)")
        if p.get("group", 1) <= 0:
            refuse(f"group={p.get('group')}")
        if t == "Deconvolution":
            if p["output_w"] or p["output_h"]:
                refuse("fixed output_w/output_h")
            if p["output_pad_right"] < 0 or p["output_pad_bottom"] < 0:
                refuse("negative output padding")
        check_activation()
    elif t == "InnerProduct":
        if p["num_output"] <= 0 or p["bias_term"] not in (0, 1):
            refuse("num_output/bias_term")
        if p["int8_scale_term"]:
            refuse("int8 quantised weights (int8_scale_term)")
        check_activation()
    elif t == "PReLU":
        if p["num_slope"] <= 0:
            refuse(f"num_slope={p['num_slope']}")
    elif t == "Pooling":
        if p["pooling_type"] not in (0, 1):
            refuse(f"pooling_type={p['pooling_type']}")
        if p["adaptive_pooling"]:
            refuse("adaptive_pooling")
        if not p["global_pooling"]:
            if p["kernel_w"] <= 0 or p["kernel_h"] <= 0 or p["stride_w"] <= 0 or p["stride_h"] <= 0:
                refuse("non-positive pooling kernel or stride")
            if p["pad_mode"] not in (0, 1):
                refuse(f"pad_mode={p['pad_mode']} (only explicit padding)")
            pads = (p["pad_left"], p["pad_right"], p["pad_top"], p["pad_bottom"])
            if any(v != 0 for v in pads):
                refuse("padded local pooling")
    elif t == "Scale":
        if p["scale_data_size"] == -233:
            if len(L.inputs) != 2:
                refuse("scale_data_size=-233 (scale from a second blob) without a second input")
            if p["bias_term"]:
                refuse("bias with the scale taken from a blob")
        elif p["scale_data_size"] <= 0 or len(L.inputs) != 1:
            refuse(f"scale_data_size={p['scale_data_size']} with {len(L.inputs)} inputs")
    elif t == "BinaryOp":
        if p["op_type"] not in BINARY_OPS:
            refuse(f"op_type={p['op_type']}")
        if len(L.inputs) != (1 if p["with_scalar"] else 2):
            refuse(f"with_scalar={p['with_scalar']} with {len(L.inputs)} inputs")
    elif t == "Eltwise":
        if p["op_type"] not in ELTWISE_OPS:
            refuse(f"op_type={p['op_type']}")
        if p["coeffs"] and (p["op_type"] != 1 or len(p["coeffs"]) != len(L.inputs)):
            refuse("coefficients other than one per input of a sum")
    elif t == "Crop":
        if len(L.inputs) == 2:
            if any(p[k] for k in ("coffset", "outw", "outh", "outc", "woffset2", "hoffset2",
                                  "coffset2")) or p["starts"] or p["ends"] or p["axes"]:
                refuse("params other than woffset/hoffset with a reference blob")
            if p["woffset"] < 0 or p["hoffset"] < 0:
                refuse("negative offsets")
        elif p["starts"] or p["ends"] or p["axes"]:
            if not (len(p["starts"]) == len(p["ends"]) == len(p["axes"])):
                refuse("starts/ends/axes of different lengths")
            if any(p[k] for k in ("woffset", "hoffset", "coffset", "outw", "outh", "outc",
                                  "woffset2", "hoffset2", "coffset2")):
                refuse("offsets mixed with starts/ends")
            if any(e == 0 for e in p["ends"]):
                refuse("ends value 0")
        elif min(p[k] for k in ("woffset", "hoffset", "coffset", "outw", "outh", "outc",
                                "woffset2", "hoffset2", "coffset2")) < 0:
            refuse("negative offsets or sizes")
    elif t == "Padding":
        if p["type"] not in PADDING_TYPES:
            refuse(f"type={p['type']}")
        if p["per_channel_pad_data_size"] or p["front"] or p["behind"]:
            refuse("channel padding")
        if min(p["top"], p["bottom"], p["left"], p["right"]) < 0:
            refuse("negative padding")
    elif t == "Interp":
        if p["resize_type"] not in INTERP_MODES:
            refuse(f"resize_type={p['resize_type']}")
        if p["output_height"] or p["output_width"] or p["dynamic_target_size"]:
            refuse("fixed or dynamic output size (only scale factors)")
        if p["align_corner"]:
            refuse("align_corner=1")
        if p["height_scale"] <= 0 or p["width_scale"] <= 0:
            refuse("non-positive scale")
    elif t == "PixelShuffle":
        if p["upscale_factor"] < 1:
            refuse(f"upscale_factor={p['upscale_factor']}")
        if p["mode"] != 0:
            refuse(f"mode={p['mode']} (only 0, PyTorch channel order)")
    elif t == "Input":
        if p["c"] not in (0, 3):
            refuse(f"input with {p['c']} channels (RGB only)")


# ---------------------------------------------------------------------------
# .bin reading

class BinReader:
    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def _take(self, n, what):
        if self.pos + n > len(self.data):
            raise ConvertError(f"{self.path}: ends at byte {len(self.data)} while reading {what} "
                               f"({n} bytes needed at offset {self.pos}): the .bin is truncated "
                               "or does not belong to this .param")
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
        raise ConvertError(f"{self.path}: {what}: unsupported storage tag 0x{tag:08X} at offset "
                           f"{self.pos - 4} (only float32 0x0 and float16 0x{TAG_FP16:08X}; "
                           "quantised weights are not supported)")

    def raw(self, count, what):
        """Untagged float32 data (ncnn's ModelBin type 1)."""
        return np.frombuffer(self._take(count * 4, what + " (float32)"), dtype="<f4").copy()


def read_weights(layers, data, path=".bin"):
    """Return {layer name: {array name: float32 ndarray}}; the .bin must be used up exactly."""
    rd = BinReader(data, path)
    weights = {}
    for L in layers:
        p, w = L.p, {}
        if L.type in ("Convolution", "ConvolutionDepthWise", "Deconvolution"):
            w["weight"] = rd.tagged(p["weight_data_size"], f"layer {L.name} ({L.type}) weights")
            if p["bias_term"]:
                w["bias"] = rd.raw(p["num_output"], f"layer {L.name} ({L.type}) bias")
        elif L.type == "InnerProduct":
            w["weight"] = rd.tagged(p["weight_data_size"], f"layer {L.name} (InnerProduct) weights")
            if p["bias_term"]:
                w["bias"] = rd.raw(p["num_output"], f"layer {L.name} (InnerProduct) bias")
        elif L.type == "PReLU":
            w["slope"] = rd.raw(p["num_slope"], f"layer {L.name} (PReLU) slopes")
        elif L.type == "Scale" and p["scale_data_size"] != -233:
            w["scale"] = rd.raw(p["scale_data_size"], f"layer {L.name} (Scale) scales")
            if p["bias_term"]:
                w["bias"] = rd.raw(p["scale_data_size"], f"layer {L.name} (Scale) bias")
        if w:
            weights[L.name] = w
    if rd.pos != len(data):
        last = [L for L in layers if L.name in weights]
        after = f" (after layer {last[-1].name}, the last with weights)" if last else ""
        raise ConvertError(f"{path}: {len(data) - rd.pos} unused bytes after offset {rd.pos}"
                           f"{after}: the .param does not match this .bin")
    return weights


# ---------------------------------------------------------------------------
# Shapes. A blob is (C, H, W) or, after global pooling / InnerProduct, (C,).
# Shapes are exact: a strided layer must divide its input evenly and a
# resize must land on whole pixels, otherwise the size is refused (SizeError).

def _resolve_axis(axis, ndim, L):
    a = axis + ndim if axis < 0 else axis
    if not 0 <= a < ndim:
        raise ConvertError(f"{L.where()}: axis {axis} for a {ndim}-D blob")
    return a


def crop_box(L, shape, ref=None):
    """(start, stop) per dimension of a Crop's input, for a concrete shape."""
    p, nd = L.p, len(shape)
    if nd != 3:
        raise ConvertError(f"{L.where()}: Crop of a {nd}-D blob is not implemented")
    box = [[0, n] for n in shape]
    if ref is not None:
        if len(ref) != 3 or ref[0] != shape[0]:
            raise ConvertError(f"{L.where()}: reference blob {ref} has other channels than {shape}")
        box[1] = [p["hoffset"], p["hoffset"] + ref[1]]
        box[2] = [p["woffset"], p["woffset"] + ref[2]]
    elif p["axes"]:
        for a, s, e in zip(p["axes"], p["starts"], p["ends"]):
            d = _resolve_axis(a, nd, L)
            n = shape[d]
            s = s + n if s < 0 else s
            e = e + n if e < 0 else min(e, n)
            box[d] = [s, e]
    else:
        for d, (off, size, off2) in enumerate((("coffset", "outc", "coffset2"),
                                                 ("hoffset", "outh", "hoffset2"),
                                                 ("woffset", "outw", "woffset2"))):
            s = p[off]
            e = s + p[size] if p[size] > 0 else shape[d] - p[off2]
            box[d] = [s, e]
    for d, (s, e) in enumerate(box):
        if not 0 <= s < e <= shape[d]:
            raise SizeError(f"{L.where()}: crop [{s}, {e}) of axis {d} is outside its size {shape[d]}")
    return box


def broadcast_shape(L, a, b):
    """ncnn's broadcasting for the blobs here: equal shapes, a (C,) vector against
    (C, H, W) per channel, or dimensions of 1 (NumPy's rule on equal ranks)."""
    if len(a) != len(b):
        big, vec = (a, b) if len(a) > len(b) else (b, a)
        if len(vec) != 1 or vec[0] not in (1, big[0]):
            raise ConvertError(f"{L.where()}: cannot broadcast {a} with {b}")
        return big
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise SizeError(f"{L.where()}: cannot broadcast {a} with {b}")
        out.append(max(x, y))
    return tuple(out)


def _conv_size(L, n, k, stride, dil, before, after, what):
    ext = dil * (k - 1) + 1
    span = n + before + after - ext
    if span < 0:
        raise SizeError(f"{L.where()}: {what} {n} is smaller than the kernel")
    if span % stride:
        raise SizeError(f"{L.where()}: {what} {n} does not fit stride {stride} exactly")
    return span // stride + 1


def layer_shape(L, ins):
    """Output shape of layer L for input shapes ins (checks channel and weight counts)."""
    p, t = L.p, L.type
    x = ins[0] if ins else None

    def need3d():
        if len(x) != 3:
            raise ConvertError(f"{L.where()}: needs a C x H x W input, got {x}")

    if t in ("Split", "ReLU", "Sigmoid", "Clip"):
        return x
    if t in ("Convolution", "ConvolutionDepthWise", "Deconvolution"):
        need3d()
        c, h, w = x
        g = p.get("group", 1)
        n_out, kh, kw = p["num_output"], p["kernel_h"], p["kernel_w"]
        if c % g or n_out % g:
            raise ConvertError(f"{L.where()}: {c} inputs / {n_out} outputs not divisible by group {g}")
        want = n_out * (c // g) * kh * kw
        if p["weight_data_size"] != want:
            raise ConvertError(f"{L.where()}: weight_data_size {p['weight_data_size']} does not match "
                               f"{n_out} outputs x {c // g} inputs x {kh}x{kw} kernel (= {want})")
        if t == "Deconvolution":
            def size(n, k, s, d, a, b, op):
                out = (n - 1) * s + d * (k - 1) + 1 + op - a - b
                if out <= 0:
                    raise SizeError(f"{L.where()}: padding removes the whole output")
                return out
            return (n_out, size(h, kh, p["stride_h"], p["dilation_h"], p["pad_top"], p["pad_bottom"],
                                p["output_pad_bottom"]),
                    size(w, kw, p["stride_w"], p["dilation_w"], p["pad_left"], p["pad_right"],
                         p["output_pad_right"]))
        return (n_out,
                _conv_size(L, h, kh, p["stride_h"], p["dilation_h"], p["pad_top"], p["pad_bottom"], "height"),
                _conv_size(L, w, kw, p["stride_w"], p["dilation_w"], p["pad_left"], p["pad_right"], "width"))
    if t == "PReLU":
        if p["num_slope"] not in (1, x[0]):
            raise ConvertError(f"{L.where()}: {p['num_slope']} slopes for {x[0]} channels")
        return x
    if t == "Pooling":
        need3d()
        if p["global_pooling"]:
            return (x[0],)
        return (x[0], _conv_size(L, x[1], p["kernel_h"], p["stride_h"], 1, 0, 0, "height"),
                _conv_size(L, x[2], p["kernel_w"], p["stride_w"], 1, 0, 0, "width"))
    if t == "InnerProduct":
        if len(x) != 1:
            raise ConvertError(f"{L.where()}: needs a vector input (after global pooling), got {x}")
        if p["weight_data_size"] != p["num_output"] * x[0]:
            raise ConvertError(f"{L.where()}: weight_data_size {p['weight_data_size']} does not match "
                               f"{p['num_output']} outputs x {x[0]} inputs")
        return (p["num_output"],)
    if t == "Flatten":
        return (int(np.prod(x)),)
    if t == "Scale":
        if p["scale_data_size"] == -233:
            s = ins[1]
            if len(s) != 1 or s[0] != x[0]:
                raise ConvertError(f"{L.where()}: scale blob {s} does not match {x[0]} channels")
        elif p["scale_data_size"] != x[0]:
            raise ConvertError(f"{L.where()}: {p['scale_data_size']} scales for {x[0]} channels")
        return x
    if t == "BinaryOp":
        return x if p["with_scalar"] else broadcast_shape(L, ins[0], ins[1])
    if t == "Eltwise":
        if any(s != x for s in ins):
            if any(len(s) != len(x) or s[0] != x[0] for s in ins):
                raise ConvertError(f"{L.where()}: inputs differ in shape: {ins}")
            raise SizeError(f"{L.where()}: inputs differ in size: {ins}")
        return x
    if t == "Concat":
        a = _resolve_axis(p["axis"], len(x), L)
        for s in ins:
            if len(s) != len(x) or any(s[d] != x[d] for d in range(len(x)) if d != a):
                err = ConvertError if (len(s) != len(x) or (a != 0 and s[0] != x[0])) else SizeError
                raise err(f"{L.where()}: inputs {ins} differ outside axis {p['axis']}")
        return tuple(sum(s[d] for s in ins) if d == a else x[d] for d in range(len(x)))
    if t == "Crop":
        box = crop_box(L, x, ins[1] if len(ins) == 2 else None)
        return tuple(e - s for s, e in box)
    if t == "Padding":
        need3d()
        c, h, w = x
        if p["type"] == 2 and (max(p["top"], p["bottom"]) >= h or max(p["left"], p["right"]) >= w):
            raise SizeError(f"{L.where()}: reflect padding as wide as the blob")
        return (c, h + p["top"] + p["bottom"], w + p["left"] + p["right"])
    if t == "Interp":
        need3d()
        c, h, w = x
        out = []
        for n, f in ((h, p["height_scale"]), (w, p["width_scale"])):
            m = n * f
            if abs(m - round(m)) > 1e-6 or round(m) < 1:
                raise SizeError(f"{L.where()}: size {n} x {f} is not a whole number of pixels")
            out.append(int(round(m)))
        return (c, out[0], out[1])
    if t == "PixelShuffle":
        need3d()
        r = p["upscale_factor"]
        if x[0] % (r * r):
            raise ConvertError(f"{L.where()}: {x[0]} channels not divisible by {r}x{r}")
        return (x[0] // (r * r), x[1] * r, x[2] * r)
    raise ConvertError(f"{L.where()}: no shape rule")  # every type in LAYERS has one above


def infer_shapes(layers, h, w):
    """{blob: shape} for a 3 x h x w network input (raises SizeError for sizes it cannot take)."""
    shapes = {layers[0].outputs[0]: (3, h, w)}
    for L in layers[1:]:
        out = layer_shape(L, [shapes[b] for b in L.inputs])
        for b in L.outputs:
            shapes[b] = out
    return shapes


def output_blob(layers):
    consumed = {b for L in layers for b in L.inputs}
    outs = [b for L in layers for b in L.outputs if b not in consumed]
    if len(outs) != 1:
        raise ConvertError(f"{layers[0].path}: the graph must have exactly one output blob, found {outs}")
    return outs[0]


# ---------------------------------------------------------------------------
# Geometry: scale, border, size alignment, receptive radius, global pooling

class Geometry:
    """What the graph does to sizes, found by exact shape arithmetic.

    For a network input of n x n pixels with n in the accepted residue class
    (n % align == residue), the output is scale*n - 2*scale*border: the graph
    eats `border` input pixels on each side (unpadded convolutions). `rf` is
    the receptive radius in input pixels (global pooling statistics held
    fixed); `global_pool` says whether some output depends on the whole frame.
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def raw_size(self, n, pad):
        """Network input size for an n-pixel image padded by pad (plus alignment)."""
        return n + 2 * pad + (self.residue - 2 * pad - n) % self.align


def analyse(layers):
    in_blob, out_blob = layers[0].outputs[0], output_blob(layers)
    path = layers[0].path
    base = 240
    valid, first_error = {}, None
    for n in range(base, base + 64):
        try:
            out = infer_shapes(layers, n, n)[out_blob]
        except SizeError as e:
            first_error = first_error or e
            continue
        valid[n] = out
    if not valid:
        raise ConvertError(f"{path}: the graph accepts no input size between {base} and "
                           f"{base + 63}: {first_error}")
    out = next(iter(valid.values()))
    if len(out) != 3 or out[0] != 3:
        raise ConvertError(f"{path}: output blob {out_blob} has shape {out}, expected 3 x H x W (RGB)")
    ns = sorted(valid)
    if len(ns) < 2:
        raise ConvertError(f"{path}: the graph accepts only one input size in [{base}, {base + 63}]")
    align = ns[1] - ns[0]
    residue = ns[0] % align
    if ns != list(range(ns[0], base + 64, align)):
        raise ConvertError(f"{path}: the input sizes the graph accepts are not periodic: {ns[:8]}...")
    scale = Fraction(valid[ns[1]][1] - valid[ns[0]][1], align)
    if scale.denominator != 1 or scale < 1:
        raise ConvertError(f"{path}: overall scale {scale} is not a whole number >= 1")
    scale = int(scale)
    borders = {Fraction(scale * n - o[k], 2 * scale) for n, o in valid.items() for k in (1, 2)}
    if len(borders) != 1:
        raise ConvertError(f"{path}: output size is not scale x input minus a fixed border: "
                           f"{sorted(borders)}")
    border = borders.pop()
    if border.denominator != 1 or border < 0:
        raise ConvertError(f"{path}: the graph's border {border} (input pixels lost per side) is "
                           "not a whole number >= 0")
    # Non-square check: the two axes must be independent.
    n1, n2 = ns[0], ns[-1]
    o = infer_shapes(layers, n1, n2)[out_blob]
    if o != (3, valid[n1][1], valid[n2][2]):
        raise ConvertError(f"{path}: height and width do not scale independently")
    g = Geometry(scale=scale, border=int(border), align=align, residue=residue,
                 in_blob=in_blob, out_blob=out_blob,
                 global_pool=any(L.type == "Pooling" and L.p["global_pooling"] for L in layers))
    g.rf = receptive_radius(layers, g)
    return g


def _reach_1d(L, axis, ins, shapes_in, shape_out):
    """Dependency intervals along one axis (0 = height, 1 = width) of L's output.

    ins: per input, None (a vector: global statistics, held fixed) or (lo, hi),
    int arrays giving for each index the lowest and highest network-input
    index it depends on. Returns (lo, hi) or None.
    """
    p, t = L.p, L.type
    d = axis + 1  # dimension in (C, H, W)
    n_out = shape_out[d] if len(shape_out) == 3 else None
    x = ins[0]
    hw = "h" if axis == 0 else "w"
    if t in ("Split", "ReLU", "Sigmoid", "Clip", "PReLU"):
        return x
    if t in ("InnerProduct", "Flatten") or (t == "Pooling" and p["global_pooling"]):
        return None

    def gather(taps_of):
        """Union of the input intervals over the input indices taps_of(j) reads."""
        lo_in, hi_in = x
        n_in = len(lo_in)
        lo = np.full(n_out, np.iinfo(np.int64).max)
        hi = np.full(n_out, np.iinfo(np.int64).min)
        j = np.arange(n_out)
        for idx in taps_of(j):
            ok = (idx >= 0) & (idx < n_in)  # outside: padding constants
            i = np.clip(idx, 0, n_in - 1)
            lo = np.where(ok, np.minimum(lo, lo_in[i]), lo)
            hi = np.where(ok, np.maximum(hi, hi_in[i]), hi)
        return lo, hi

    if t in ("Convolution", "ConvolutionDepthWise", "Pooling"):
        k = p[f"kernel_{hw}"]
        s = p[f"stride_{hw}"]
        dil = p.get(f"dilation_{hw}", 1)
        before = p["pad_top"] if axis == 0 else p["pad_left"]
        return gather(lambda j: [j * s - before + tap * dil for tap in range(k)])
    if t == "Deconvolution":
        k, s, dil = p[f"kernel_{hw}"], p[f"stride_{hw}"], p[f"dilation_{hw}"]
        before = p["pad_top"] if axis == 0 else p["pad_left"]

        def taps(j):
            out = []
            for tap in range(k):
                num = j + before - tap * dil
                out.append(np.where(num % s == 0, num // s, -1))
            return out
        return gather(taps)
    if t == "Interp":
        mode = INTERP_MODES[p["resize_type"]]
        n_in = shapes_in[0][d]
        return gather(lambda j: [np.array(v) for v in zip(*[interp_taps(int(q), n_in, n_out, mode)
                                                            for q in j])])
    if t == "PixelShuffle":
        return gather(lambda j: [j // p["upscale_factor"]])
    if t == "Crop":
        box = crop_box(L, shapes_in[0], shapes_in[1] if len(shapes_in) == 2 else None)
        return gather(lambda j: [j + box[d][0]])
    if t == "Padding":
        before = p["top"] if axis == 0 else p["left"]
        n_in = shapes_in[0][d]
        kind = PADDING_TYPES[p["type"]]

        def taps(j):
            i = j - before
            if kind == "replicate":
                i = np.clip(i, 0, n_in - 1)
            elif kind == "reflect":
                i = np.abs(i)
                i = (n_in - 1) - np.abs(i - (n_in - 1))
            return [i]
        return gather(taps)
    if t == "Concat" and _resolve_axis(p["axis"], len(shapes_in[0]), L) == d:
        parts = [v for v in ins if v is not None]
        return np.concatenate([v[0] for v in parts]), np.concatenate([v[1] for v in parts])
    if t in ("BinaryOp", "Eltwise", "Scale", "Concat"):
        parts = [(v, s) for v, s in zip(ins, shapes_in) if v is not None]
        if not parts:
            return None
        lo = np.full(n_out, np.iinfo(np.int64).max)
        hi = np.full(n_out, np.iinfo(np.int64).min)
        for (a, b), s in parts:
            if len(s) == 3 and s[d] == 1 and n_out != 1:  # broadcast along this axis
                a, b = np.full(n_out, a.min()), np.full(n_out, b.max())
            lo, hi = np.minimum(lo, a), np.maximum(hi, b)
        return lo, hi
    raise ConvertError(f"{L.where()}: no receptive-field rule")


def interp_taps(d, in_size, out_size, mode):
    """Source indices (unclamped) that ncnn's Interp reads for output index d."""
    ratio = in_size / out_size
    if mode == "nearest":
        return [int(d * ratio)] * 4
    fx = math.floor((d + 0.5) * ratio - 0.5)
    if mode == "bilinear":
        return [fx, fx + 1, fx, fx + 1]
    return [fx - 1, fx, fx + 1, fx + 2]


def receptive_radius(layers, g):
    """Largest distance, in input pixels, between an output pixel's own input
    pixel and any input pixel it depends on (global statistics held fixed).

    Exact, by index arithmetic: every blob index carries the interval of
    network-input indices it depends on. Output index e of the network belongs
    to input index floor(e / scale) + border. Measured in the middle of an
    input large enough that edges do not matter (doubled until it is).
    """
    n = g.raw_size(256, 0)
    while True:
        shapes = infer_shapes(layers, n, n)
        worst = 0
        for axis in (0, 1):
            reach = {g.in_blob: (np.arange(n), np.arange(n))}
            for L in layers[1:]:
                r = _reach_1d(L, axis, [reach[b] for b in L.inputs], [shapes[b] for b in L.inputs],
                              shapes[L.outputs[0]])
                for b in L.outputs:
                    reach[b] = r
            if reach[g.out_blob] is None:
                raise ConvertError("the output depends on no pixel locally")
            lo, hi = reach[g.out_blob]
            mid = len(lo) // 2
            e = np.arange(mid - g.scale * g.align, mid + g.scale * g.align)
            home = e // g.scale + g.border
            worst = max(worst, int(np.max(home - lo[e])), int(np.max(hi[e] - home)))
        if 4 * worst + 16 < n:
            return worst
        n = g.raw_size(8 * worst + 64, 0)


def count_flops(layers, h, w):
    """Multiply-adds x 2 of the convolution, deconvolution and fully connected
    layers for a h x w network input (the rest is memory traffic)."""
    shapes = infer_shapes(layers, h, w)
    total = 0
    for L in layers[1:]:
        p = L.p
        if L.type in ("Convolution", "ConvolutionDepthWise"):
            c_out, oh, ow = shapes[L.outputs[0]]
            total += 2 * oh * ow * p["weight_data_size"]
        elif L.type == "Deconvolution":
            _, ih, iw = shapes[L.inputs[0]]
            total += 2 * ih * iw * p["weight_data_size"]
        elif L.type == "InnerProduct":
            total += 2 * p["weight_data_size"]
    return total


# ---------------------------------------------------------------------------
# PyTorch modules. Each layer is a small module taking the list of its input
# tensors ([N, C, H, W] or, for vectors, [N, C]); the graph of calls is traced.
# A layer whose forward makes no decision at run time (TRACED = True) is traced
# as it is, so only the operators it really runs are recorded: a plain network
# (realesr-animevideov3) becomes a flat graph of aten ops with no control flow.
# The others are scripted first, which keeps the size arithmetic of crops and
# pads and the dtype test of deconvolution dynamic.

def activate(y: torch.Tensor, kind: int, a: float, b: float) -> torch.Tensor:
    if kind == 1:
        return F.relu(y)
    if kind == 2:
        return F.leaky_relu(y, a)
    if kind == 3:
        return torch.clamp(y, a, b)
    if kind == 4:
        return torch.sigmoid(y)
    if kind == 5:
        return y * torch.tanh(F.softplus(y))
    if kind == 6:
        return y * torch.clamp(y * a + b, 0.0, 1.0)
    return y



def _act_args(p):
    kind = p["activation_type"]
    args = list(p["activation_params"]) + [0.0, 0.0]
    return kind, float(args[0]), float(args[1])


def _param(a):
    return torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)),
                              requires_grad=False)


class ConvOp(torch.nn.Module):
    TRACED = True
    def __init__(self, p, w, groups):
        super().__init__()
        n_out, kh, kw = p["num_output"], p["kernel_h"], p["kernel_w"]
        n_in_g = p["weight_data_size"] // (n_out * kh * kw)
        # ncnn stores [out][in/group][kh][kw], PyTorch's own order.
        self.weight = _param(w["weight"].reshape(n_out, n_in_g, kh, kw))
        self.bias = _param(w["bias"]) if "bias" in w else None
        self.stride = [p["stride_h"], p["stride_w"]]
        self.dilation = [p["dilation_h"], p["dilation_w"]]
        self.pads = [p["pad_left"], p["pad_right"], p["pad_top"], p["pad_bottom"]]
        self.pad_value = float(p["pad_value"])
        self.symmetric = (p["pad_left"] == p["pad_right"] and p["pad_top"] == p["pad_bottom"]
                          and self.pad_value == 0.0)
        self.padding = [p["pad_top"], p["pad_left"]] if self.symmetric else [0, 0]
        self.groups = groups
        self.act, self.act_a, self.act_b = _act_args(p)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        if not self.symmetric:
            x = F.pad(x, self.pads, value=self.pad_value)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return activate(y, self.act, self.act_a, self.act_b)


class DeconvOp(torch.nn.Module):
    def __init__(self, p, w):
        super().__init__()
        n_out, kh, kw = p["num_output"], p["kernel_h"], p["kernel_w"]
        n_in = p["weight_data_size"] // (n_out * kh * kw)
        # ncnn stores [out][in][kh][kw] and scatters each input pixel through the
        # kernel unflipped: PyTorch's conv_transpose2d with weight [in][out][kh][kw].
        self.weight = _param(w["weight"].reshape(n_out, n_in, kh, kw).transpose(1, 0, 2, 3))
        self.bias = _param(w["bias"]) if "bias" in w else None
        self.stride = [p["stride_h"], p["stride_w"]]
        self.dilation = [p["dilation_h"], p["dilation_w"]]
        self.cut = [p["pad_top"], p["pad_bottom"], p["pad_left"], p["pad_right"]]
        self.out_pad = [p["output_pad_bottom"], p["output_pad_right"]]
        self.simple = (p["pad_top"] == p["pad_bottom"] and p["pad_left"] == p["pad_right"]
                       and self.out_pad == [0, 0])
        self.act, self.act_a, self.act_b = _act_args(p)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        dtype = x.dtype
        weight, bias = self.weight, self.bias
        if not x.is_cuda and dtype != torch.float32 and dtype != torch.float64:
            # libtorch 1.13's CPU transposed convolution runs a plain convolution
            # for bfloat16 (wrong shape, or an error): compute this layer in float32.
            x, weight = x.float(), weight.float()
            bias = None if bias is None else bias.float()
        if self.simple:
            y = F.conv_transpose2d(x, weight, bias, self.stride, [self.cut[0], self.cut[2]],
                                   [0, 0], 1, self.dilation)
        else:
            y = F.conv_transpose2d(x, weight, None, self.stride, [0, 0], [0, 0], 1, self.dilation)
            y = F.pad(y, [0, self.out_pad[1], 0, self.out_pad[0]])
            if bias is not None:
                y = y + bias.view(1, -1, 1, 1)
            y = y[:, :, self.cut[0]:y.size(2) - self.cut[1], self.cut[2]:y.size(3) - self.cut[3]]
        return activate(y, self.act, self.act_a, self.act_b).to(dtype)


class ActOp(torch.nn.Module):
    TRACED = True
    def __init__(self, kind, a=0.0, b=0.0):
        super().__init__()
        self.kind, self.a, self.b = kind, float(a), float(b)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return activate(xs[0], self.kind, self.a, self.b)


class PReLUOp(torch.nn.Module):
    TRACED = True
    def __init__(self, slope):
        super().__init__()
        self.weight = _param(slope)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return F.prelu(xs[0], self.weight)


class PoolOp(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.is_max = p["pooling_type"] == 0
        self.is_global = bool(p["global_pooling"])
        self.kernel = [p["kernel_h"], p["kernel_w"]]
        self.stride = [p["stride_h"], p["stride_w"]]
        self.detach = False  # hold global statistics fixed (receptive-field measurement only)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        if self.is_global:
            y = torch.amax(x, [2, 3]) if self.is_max else torch.mean(x, [2, 3])
            return y.detach() if self.detach else y
        if self.is_max:
            return F.max_pool2d(x, self.kernel, self.stride)
        return F.avg_pool2d(x, self.kernel, self.stride)


class LinearOp(torch.nn.Module):
    def __init__(self, p, w):
        super().__init__()
        n_out = p["num_output"]
        self.weight = _param(w["weight"].reshape(n_out, -1))
        self.bias = _param(w["bias"]) if "bias" in w else None
        self.act, self.act_a, self.act_b = _act_args(p)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return activate(F.linear(xs[0], self.weight, self.bias), self.act, self.act_a, self.act_b)


class FlattenOp(torch.nn.Module):
    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return xs[0].reshape(xs[0].size(0), -1)


def _as_4d(v: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """A per-channel vector [N, C] against a [N, C, H, W] blob."""
    if v.dim() == 2 and other.dim() == 4:
        return v.view(v.size(0), v.size(1), 1, 1)
    return v



class ScaleOp(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.scale = _param(w["scale"]) if w else None
        self.bias = _param(w["bias"]) if w and "bias" in w else None

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        scale = self.scale
        if scale is None:
            return x * _as_4d(xs[1], x)
        y = x * _as_4d(scale.view(1, -1), x)
        bias = self.bias
        if bias is not None:
            y = y + _as_4d(bias.view(1, -1), x)
        return y


class BinaryOpOp(torch.nn.Module):
    TRACED = True
    def __init__(self, p):
        super().__init__()
        self.op = p["op_type"]
        self.scalar = bool(p["with_scalar"])
        self.b = float(p["b"])

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        a = xs[0]
        if self.scalar:
            s = self.b
            if self.op == 0:
                return a + s
            if self.op == 1:
                return a - s
            if self.op == 2:
                return a * s
            if self.op == 3:
                return a / s
            if self.op == 4:
                return torch.clamp(a, min=s)
            if self.op == 5:
                return torch.clamp(a, max=s)
            if self.op == 6:
                return torch.pow(a, s)
            if self.op == 7:
                return s - a
            if self.op == 8:
                return s / a
            return torch.pow(s, a)
        b = xs[1]
        a, b = _as_4d(a, b), _as_4d(b, a)
        if self.op == 0:
            return a + b
        if self.op == 1:
            return a - b
        if self.op == 2:
            return a * b
        if self.op == 3:
            return a / b
        if self.op == 4:
            return torch.maximum(a, b)
        if self.op == 5:
            return torch.minimum(a, b)
        if self.op == 6:
            return torch.pow(a, b)
        if self.op == 7:
            return b - a
        if self.op == 8:
            return b / a
        return torch.pow(b, a)


class EltwiseOp(torch.nn.Module):
    TRACED = True
    def __init__(self, p, n):
        super().__init__()
        self.op = p["op_type"]
        self.coeffs = [float(c) for c in p["coeffs"]] or [1.0] * n
        self.plain = all(c == 1.0 for c in self.coeffs)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        y = xs[0]
        if self.op == 1 and not self.plain:
            y = y * self.coeffs[0]
        for i in range(1, len(xs)):
            if self.op == 0:
                y = y * xs[i]
            elif self.op == 2:
                y = torch.maximum(y, xs[i])
            elif self.plain:
                y = y + xs[i]
            else:
                y = y + xs[i] * self.coeffs[i]
        return y


class ConcatOp(torch.nn.Module):
    TRACED = True
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, self.dim)


class CropOp(torch.nn.Module):
    """Crop along (C, H, W): start, and stop counted from the end (from_end) or
    absolute; with a reference blob, H and W take the reference's size."""

    def __init__(self, L):
        super().__init__()
        p = L.p
        self.use_ref = len(L.inputs) == 2
        self.starts, self.stops, self.from_end = [0, 0, 0], [0, 0, 0], [True, True, True]
        if self.use_ref:
            self.starts = [0, p["hoffset"], p["woffset"]]
        elif p["axes"]:
            for a, s, e in zip(p["axes"], p["starts"], p["ends"]):
                d = _resolve_axis(a, 3, L)
                if s < 0:
                    raise ConvertError(f"{L.where()}: negative starts are not implemented")
                self.starts[d] = s
                self.stops[d], self.from_end[d] = (-e, True) if e < 0 else (e, False)
        else:
            for d, (off, size, off2) in enumerate((("coffset", "outc", "coffset2"),
                                                     ("hoffset", "outh", "hoffset2"),
                                                     ("woffset", "outw", "woffset2"))):
                self.starts[d] = p[off]
                if p[size] > 0:
                    self.stops[d], self.from_end[d] = p[off] + p[size], False
                else:
                    self.stops[d] = p[off2]

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        for d in range(3):
            n = x.size(d + 1)
            s = self.starts[d]
            if self.use_ref and d > 0:
                e = s + xs[1].size(d + 1)
            elif self.from_end[d]:
                e = n - self.stops[d]
            else:
                e = min(self.stops[d], n)
            if s != 0 or e != n:
                x = x.narrow(d + 1, s, e - s)
        return x


class PadOp(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.pads = [p["left"], p["right"], p["top"], p["bottom"]]
        self.mode = PADDING_TYPES[p["type"]]
        self.value = float(p["value"])

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        if self.mode == "constant":
            return F.pad(x, self.pads, value=self.value)
        reflect = self.mode == "reflect"
        x = x.index_select(2, edge_index(x.size(2), self.pads[2], self.pads[3], reflect, x.device))
        return x.index_select(3, edge_index(x.size(3), self.pads[0], self.pads[1], reflect, x.device))


class InterpOp(torch.nn.Module):
    TRACED = True
    def __init__(self, p):
        super().__init__()
        self.scale = [float(p["height_scale"]), float(p["width_scale"])]
        self.mode = INTERP_MODES[p["resize_type"]]

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        if self.mode == "nearest":
            return F.interpolate(xs[0], scale_factor=self.scale, mode="nearest")
        # Half-pixel centres (align_corners=False) and clamped edges, as ncnn;
        # torch's bicubic uses the same a = -0.75 cubic convolution kernel.
        return F.interpolate(xs[0], scale_factor=self.scale, mode=self.mode, align_corners=False)


class PixelShuffleOp(torch.nn.Module):
    TRACED = True
    def __init__(self, r):
        super().__init__()
        self.r = r

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return F.pixel_shuffle(xs[0], self.r)


def make_op(L, w):
    """The scripted module for one layer, or None for Split (a blob alias)."""
    p, t = L.p, L.type
    if t == "Split":
        return None
    if t == "Convolution":
        op = ConvOp(p, w, 1)
    elif t == "ConvolutionDepthWise":
        op = ConvOp(p, w, p["group"])
    elif t == "Deconvolution":
        op = DeconvOp(p, w)
    elif t == "ReLU":
        op = ActOp(2, p["slope"]) if p["slope"] else ActOp(1)
    elif t == "Sigmoid":
        op = ActOp(4)
    elif t == "Clip":
        op = ActOp(3, p["min"], p["max"])
    elif t == "PReLU":
        op = PReLUOp(w["slope"])
    elif t == "Pooling":
        op = PoolOp(p)
    elif t == "InnerProduct":
        op = LinearOp(p, w)
    elif t == "Flatten":
        op = FlattenOp()
    elif t == "Scale":
        op = ScaleOp(w)
    elif t == "BinaryOp":
        op = BinaryOpOp(p)
    elif t == "Eltwise":
        op = EltwiseOp(p, len(L.inputs))
    elif t == "Concat":
        op = ConcatOp(None)  # dim set by GraphNet (needs the blob's rank)
    elif t == "Crop":
        op = CropOp(L)
    elif t == "Padding":
        op = PadOp(p)
    elif t == "Interp":
        op = InterpOp(p)
    elif t == "PixelShuffle":
        op = PixelShuffleOp(p["upscale_factor"])
    else:
        raise ConvertError(f"{L.where()}: no PyTorch implementation")
    return op


class GraphNet(torch.nn.Module):
    """Runs the ncnn layers in file order (eager); traced into the saved graph."""

    def __init__(self, layers, weights, g):
        super().__init__()
        self.steps, self.in_blob, self.out_blob = [], g.in_blob, g.out_blob
        self.ops = torch.nn.ModuleDict()
        shapes = infer_shapes(layers, *(g.raw_size(64, 0),) * 2)
        for i, L in enumerate(layers[1:]):
            op = make_op(L, weights.get(L.name, {}))
            key = None
            if op is not None:
                if isinstance(op, ConcatOp):
                    op.dim = _resolve_axis(L.p["axis"], len(shapes[L.inputs[0]]), L) + 1
                key = f"l{i}_{L.type}"
                self.ops[key] = op if getattr(op, "TRACED", False) else torch.jit.script(op)
            self.steps.append((key, L.inputs, L.outputs))

    def forward(self, x):
        blobs = {self.in_blob: x}
        for key, ins, outs in self.steps:
            args = [blobs[b] for b in ins]
            y = args[0] if key is None else self.ops[key](args)
            for b in outs:
                blobs[b] = y
        return blobs[self.out_blob]


def edge_index(n: int, before: int, after: int, reflect: bool, device: torch.device) -> torch.Tensor:
    """Source indices of a padding by `before` and `after` pixels: the edge pixel
    repeated, or mirrored about the edge pixels (as often as needed, so any pad
    works even on tiny inputs). Padding by gathering works for every dtype
    (libtorch 1.13 has no bfloat16 reflection/replication pad on CPU)."""
    i = torch.arange(-before, n + after, device=device)
    if not reflect or n == 1:
        return torch.clamp(i, 0, n - 1)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i > n - 1, period - i, i)


edge_index = torch.jit.script(edge_index)


class EdgeWrapper(torch.nn.Module):
    """Takes any image size and returns exactly scale x it, as the family's own
    tool does: pad `pad` pixels on every side (plus what aligns the size for
    the network at the bottom and right), run the network, crop the output
    to scale x the image, and add the nearest-upscaled input if `residual`."""

    def __init__(self, net, g, mode, pad, residual):
        super().__init__()
        self.net = net
        self.scale, self.pad, self.border = g.scale, pad, g.border
        self.align, self.residue = g.align, g.residue
        self.mode, self.residual = mode, residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.size(2), x.size(3)
        p = self.pad
        eh = (self.residue - 2 * p - h) % self.align
        ew = (self.residue - 2 * p - w) % self.align
        pads = [p, p + ew, p, p + eh]
        if p == 0 and eh == 0 and ew == 0:
            xp = x
        elif self.mode == "zero":
            xp = F.pad(x, pads)
        else:
            reflect = self.mode == "reflect"
            xp = x.index_select(2, edge_index(h, p, p + eh, reflect, x.device))
            xp = xp.index_select(3, edge_index(w, p, p + ew, reflect, x.device))
        y = self.net(xp)
        s = self.scale
        o = s * (p - self.border)
        y = y[:, :, o:o + s * h, o:o + s * w]
        if self.residual:
            y = y + F.interpolate(x, scale_factor=float(s), mode="nearest")
        return y


class Edge:
    """Edge handling: pad mode and width around the image, and the residual."""

    def __init__(self, mode="zero", pad=None, residual=False):
        if mode not in PAD_MODES:
            raise ConvertError(f"pad mode {mode!r}: expected one of {', '.join(PAD_MODES)}")
        self.mode, self.pad, self.residual = mode, pad, residual

    def resolve(self, g):
        """Fill in the pad (default: exactly the graph's border) and check it."""
        pad = g.border if self.pad is None else self.pad
        if pad < g.border:
            raise ConvertError(f"pad {pad} is narrower than the graph's border {g.border}: the "
                               "output would be smaller than scale x the input")
        return Edge(self.mode, pad, self.residual)

    def trivial(self, g):
        return self.pad == 0 and g.border == 0 and g.align == 1 and not self.residual

    def describe(self):
        r = ", plus the nearest-upscaled input" if self.residual else ""
        return f"{self.mode} pad {self.pad}{r}"


# Tracing records F.conv2d as aten::_convolution, whose arguments freeze the
# tracing machine's cuDNN settings (benchmark, TF32) into the file. Rewrite it
# to the plain aten::conv2d that scripting gives (every traced convolution
# here is 2-D and not transposed), so the loading side's settings apply.
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
    if traced.inlined_graph.findAllNodes("aten::_convolution"):
        raise ConvertError("could not rewrite aten::_convolution to aten::conv2d "
                           "(the traced graph would hold machine-specific flags)")


def trace_net(net, g, pad):
    n = g.raw_size(24, pad)
    example = torch.rand(1, 3, n, n, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        traced = torch.jit.trace(net, example, check_trace=False)
    _use_conv2d(traced)
    return traced


def build_module(layers, weights, g, edge):
    """The TorchScript module: the traced graph, wrapped in the edge handling
    unless there is none to do. Checked against the eager network on sizes and
    batch other than the traced example, so no size is baked in."""
    edge = edge.resolve(g)
    net = GraphNet(layers, weights, g).eval()
    traced = trace_net(net, g, edge.pad)
    if edge.trivial(g):
        module, eager = traced, net
    else:
        module = torch.jit.script(EdgeWrapper(traced, g, edge.mode, edge.pad, edge.residual))
        eager = EdgeWrapper(net, g, edge.mode, edge.pad, edge.residual)
    with torch.no_grad():
        for shape in ((2, 3, 17, 23), (1, 3, 32, 9)):
            x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
            a, b = eager(x), module(x)
            want = (shape[0], 3, shape[2] * g.scale, shape[3] * g.scale)
            if tuple(b.shape) != want or a.shape != b.shape or not torch.allclose(a, b, atol=1e-6, rtol=0):
                raise ConvertError(f"the saved module differs from the eager network for input {shape} "
                                   f"(shape {tuple(b.shape)}, expected {want})")
    return module


# ---------------------------------------------------------------------------
# Independent NumPy reference of the ncnn layers (float64, one image [C,H,W]).
# Written from the layer definitions, not from the PyTorch code above: loops
# over kernel taps, explicit scatter for deconvolution, resampling matrices.

def np_activation(y, kind, params):
    a = list(params) + [0.0, 0.0]
    if kind == 1:
        return np.maximum(y, 0)
    if kind == 2:
        return np.where(y > 0, y, y * a[0])
    if kind == 3:
        return np.minimum(np.maximum(y, a[0]), a[1])
    if kind == 4:
        return 1 / (1 + np.exp(-y))
    if kind == 5:
        return y * np.tanh(np.log1p(np.exp(y)))
    if kind == 6:
        return y * np.minimum(np.maximum(y * a[0] + a[1], 0), 1)
    return y


def np_conv(x, p, w, groups=1):
    """out[o, i, j] = sum_c,ti,tj W[o, c, ti, tj] * xpad[c, i*sh + ti*dh, j*sw + tj*dw] (+ bias)."""
    n_out, kh, kw = p["num_output"], p["kernel_h"], p["kernel_w"]
    c = x.shape[0]
    wt = w["weight"].astype(np.float64).reshape(n_out, c // groups, kh, kw)
    xp = np.pad(x, ((0, 0), (p["pad_top"], p["pad_bottom"]), (p["pad_left"], p["pad_right"])),
                constant_values=p.get("pad_value", 0.0))
    sh, sw, dh, dw = p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"]
    oh = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n_out, oh, ow))
    og, cg = n_out // groups, c // groups
    for gi in range(groups):
        xs = xp[gi * cg:(gi + 1) * cg]
        for ti in range(kh):
            for tj in range(kw):
                patch = xs[:, ti * dh:ti * dh + (oh - 1) * sh + 1:sh, tj * dw:tj * dw + (ow - 1) * sw + 1:sw]
                y[gi * og:(gi + 1) * og] += np.tensordot(wt[gi * og:(gi + 1) * og, :, ti, tj], patch, 1)
    if "bias" in w:
        y += w["bias"].astype(np.float64)[:, None, None]
    return np_activation(y, p["activation_type"], p["activation_params"])


def np_deconv(x, p, w):
    """Each input pixel (i, j) adds W[o, c, ti, tj] * x[c, i, j] at (i*s + ti*d, j*s + tj*d)
    of the full output, which is then cut by the pads (and extended by output_pad)."""
    n_out, kh, kw = p["num_output"], p["kernel_h"], p["kernel_w"]
    c, h, wd = x.shape
    wt = w["weight"].astype(np.float64).reshape(n_out, c, kh, kw)
    sh, sw, dh, dw = p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"]
    fh = (h - 1) * sh + dh * (kh - 1) + 1 + p["output_pad_bottom"]
    fw = (wd - 1) * sw + dw * (kw - 1) + 1 + p["output_pad_right"]
    full = np.zeros((n_out, fh, fw))
    for ti in range(kh):
        for tj in range(kw):
            contrib = np.tensordot(wt[:, :, ti, tj], x, 1)  # [out, h, w]
            full[:, ti * dh:ti * dh + (h - 1) * sh + 1:sh, tj * dw:tj * dw + (wd - 1) * sw + 1:sw] += contrib
    if "bias" in w:
        full += w["bias"].astype(np.float64)[:, None, None]
    y = full[:, p["pad_top"]:fh - p["pad_bottom"], p["pad_left"]:fw - p["pad_right"]]
    return np_activation(y, p["activation_type"], p["activation_params"])


def np_prelu(x, slope):
    a = slope.astype(np.float64)
    a = a[:, None, None] if a.size > 1 else a.reshape(1, 1, 1)
    return np.where(x > 0, x, a * x)


def np_pool(x, p):
    if p["global_pooling"]:
        return x.max(axis=(1, 2)) if p["pooling_type"] == 0 else x.mean(axis=(1, 2))
    kh, kw, sh, sw = p["kernel_h"], p["kernel_w"], p["stride_h"], p["stride_w"]
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    taps = [x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw]
            for i in range(kh) for j in range(kw)]
    return np.max(taps, axis=0) if p["pooling_type"] == 0 else np.mean(taps, axis=0)


def np_pixel_shuffle(x, r):
    # Output channel c, sub-pixel (i, j) comes from input channel c*r*r + i*r + j.
    c, h, w = x.shape
    return x.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c // (r * r), h * r, w * r)


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
    oh, ow = int(round(h * p["height_scale"])), int(round(w * p["width_scale"]))
    mh, mw = resample_matrix(h, oh, mode), resample_matrix(w, ow, mode)
    return np.einsum("ph,chw,qw->cpq", mh, x, mw, optimize=True)


def np_broadcast(a, b):
    """A per-channel vector (C,) against a (C, H, W) blob."""
    if a.ndim == 1 and b.ndim == 3:
        a = a[:, None, None]
    if b.ndim == 1 and a.ndim == 3:
        b = b[:, None, None]
    return a, b


NP_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "max": np.maximum, "min": np.minimum, "pow": np.power,
    "rsub": lambda a, b: b - a, "rdiv": lambda a, b: b / a, "rpow": lambda a, b: np.power(b, a)}


def np_layer(L, a, w):
    """One layer on float64 NumPy blobs (a: list of inputs)."""
    p, t = L.p, L.type
    x = a[0] if a else None
    if t == "Split":
        return x
    if t == "Convolution":
        return np_conv(x, p, w)
    if t == "ConvolutionDepthWise":
        return np_conv(x, p, w, p["group"])
    if t == "Deconvolution":
        return np_deconv(x, p, w)
    if t == "ReLU":
        return np.where(x > 0, x, x * p["slope"])
    if t == "Sigmoid":
        return 1 / (1 + np.exp(-x))
    if t == "Clip":
        return np.minimum(np.maximum(x, p["min"]), p["max"])
    if t == "PReLU":
        return np_prelu(x, w["slope"])
    if t == "Pooling":
        return np_pool(x, p)
    if t == "InnerProduct":
        y = w["weight"].astype(np.float64).reshape(p["num_output"], -1) @ x
        if "bias" in w:
            y = y + w["bias"]
        return np_activation(y, p["activation_type"], p["activation_params"])
    if t == "Flatten":
        return x.reshape(-1)
    if t == "Scale":
        s = a[1] if "scale" not in w else w["scale"].astype(np.float64)
        y = x * (s[:, None, None] if x.ndim == 3 else s)
        if "bias" in w:
            y = y + (w["bias"][:, None, None] if x.ndim == 3 else w["bias"])
        return y
    if t == "BinaryOp":
        fn = NP_BINARY[BINARY_OPS[p["op_type"]]]
        if p["with_scalar"]:
            return fn(x, p["b"])
        return fn(*np_broadcast(a[0], a[1]))
    if t == "Eltwise":
        op = ELTWISE_OPS[p["op_type"]]
        if op == "prod":
            return np.prod(a, axis=0)
        if op == "max":
            return np.max(a, axis=0)
        coeffs = p["coeffs"] or [1.0] * len(a)
        return sum(c * v for c, v in zip(coeffs, a))
    if t == "Concat":
        return np.concatenate(a, axis=_resolve_axis(p["axis"], x.ndim, L))
    if t == "Crop":
        box = crop_box(L, x.shape, a[1].shape if len(a) == 2 else None)
        return x[tuple(slice(s, e) for s, e in box)]
    if t == "Padding":
        widths = ((0, 0), (p["top"], p["bottom"]), (p["left"], p["right"]))
        kind = PADDING_TYPES[p["type"]]
        if kind == "constant":
            return np.pad(x, widths, constant_values=p["value"])
        return np.pad(x, widths, mode="edge" if kind == "replicate" else "reflect")
    if t == "Interp":
        return np_interp(x, p)
    if t == "PixelShuffle":
        return np_pixel_shuffle(x, p["upscale_factor"])
    raise ConvertError(f"{L.where()}: no reference implementation")


def reference_forward(layers, weights, x, g=None, edge=None):
    """The model on one image x [3, H, W] in float64: the family's edge handling
    (when given) around the raw graph, every layer in NumPy."""
    x = x.astype(np.float64)
    h, w = x.shape[1:]
    pad = 0
    img = x
    if g is not None and edge is not None:
        edge = edge.resolve(g)
        pad = edge.pad
        eh, ew = g.raw_size(h, pad) - h - 2 * pad, g.raw_size(w, pad) - w - 2 * pad
        mode = {"zero": "constant", "replicate": "edge", "reflect": "reflect"}[edge.mode]
        x = np.pad(x, ((0, 0), (pad, pad + eh), (pad, pad + ew)), mode=mode)
    blobs = {layers[0].outputs[0]: x}
    for L in layers[1:]:
        y = np_layer(L, [blobs[b] for b in L.inputs], weights.get(L.name, {}))
        for b in L.outputs:
            blobs[b] = y
    y = blobs[output_blob(layers)]
    if g is None:
        return y
    s = g.scale
    o = s * (pad - g.border)
    y = y[:, o:o + s * h, o:o + s * w]
    if edge is not None and edge.residual:
        y = y + np.repeat(np.repeat(img, s, axis=1), s, axis=2)
    return y


# ---------------------------------------------------------------------------
# Self-check

def photo_crop(h, w, which="astronaut", y0=None, x0=None):
    """A crop of one of scikit-image's sample photos as float32 [3, h, w] in [0, 1]."""
    try:
        from skimage import data
    except ImportError:
        raise ConvertError("the self-check needs scikit-image's sample photos (python3-skimage); "
                           "install it or pass --no-check") from None
    img = getattr(data, which)()
    y0 = (img.shape[0] - h) // 2 if y0 is None else y0
    x0 = (img.shape[1] - w) // 2 if x0 is None else x0
    crop = img[y0:y0 + h, x0:x0 + w, :3]
    if crop.shape[:2] != (h, w):
        raise ConvertError(f"photo {which} has no {h}x{w} crop at ({y0}, {x0})")
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / 255


CHECK_PHOTO = ("astronaut", 120, 200)   # a detailed part: face and suit


def measured_radius(module, g, rf):
    """Largest distance from its own input pixel of an input pixel that an output
    pixel depends on, by autograd through `module`: on strips 2*rf + a margin
    long (one axis at a time), summing the gradients of the scale output
    pixels that share one input pixel (all phases at once), for every input
    offset within the network's size alignment."""
    dtype = next(module.parameters(), torch.zeros(())).dtype
    n = 2 * rf + 8 * g.align + 16
    n -= n % g.align
    m = max(4, 2 * g.align)
    s = g.scale
    worst = 0
    for axis in (0, 1):
        for t in range(g.align):
            size = (n, m) if axis == 0 else (m, n)
            x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(3), dtype=dtype,
                           requires_grad=True)
            home = n // 2 + t
            out = module(x)[0]
            if axis == 0:
                out[:, s * home:s * home + s, s * (m // 2)].sum().backward()
            else:
                out[:, s * (m // 2), s * home:s * home + s].sum().backward()
            dep = np.nonzero(x.grad[0].abs().sum(0).numpy().any(axis=1 - axis))[0]
            worst = max(worst, int(np.abs(dep - home).max()))
    return worst


def depends_globally(module, g, rf):
    """Does a centre output pixel depend on input pixels beyond the receptive radius?"""
    dtype = next(module.parameters(), torch.zeros(())).dtype
    n = 2 * rf + 4 * g.align + 8
    m = max(4, 2 * g.align)
    x = torch.rand(1, 3, n, m, generator=torch.Generator().manual_seed(4), dtype=dtype,
                   requires_grad=True)
    c = n // 2
    module(x)[0, :, g.scale * c, g.scale * (m // 2)].sum().backward()
    rows = np.nonzero(x.grad[0].abs().sum(0).numpy().any(axis=1))[0]
    return bool(np.any(np.abs(rows - c) > rf))


def autograd_probe(module, detach_global, dtype):
    """An independent copy of a module for autograd measurements, in dtype; with
    detach_global, global pooling statistics are held fixed."""
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    buf.seek(0)
    probe = torch.jit.load(buf).to(dtype)
    for sub in probe.modules():
        if hasattr(sub, "is_global") and sub.is_global:
            sub.detach = detach_global
    return probe


def self_check(layers, weights, module, g, edge, size=(24, 20), log=print, photo=CHECK_PHOTO):
    """Compare module with the NumPy reference on a photo crop; raise ConvertError
    past TOLERANCE. Then confirm the receptive radius and global pooling by autograd.
    Returns a dict of the results."""
    h, w = size
    which, y0, x0 = photo
    x = photo_crop(h, w, which, y0, x0)
    ref = reference_forward(layers, weights, x, g, edge)
    with torch.no_grad():
        got = module(torch.from_numpy(x)[None])[0].double().numpy()
    s = g.scale
    if got.shape != ref.shape or got.shape != (3, h * s, w * s):
        raise ConvertError(f"self-check: output shape {got.shape}, reference {ref.shape}, "
                           f"expected {(3, h * s, w * s)}")
    diff = np.abs(got - ref)
    log(f"self-check: {which} crop 3x{h}x{w} -> 3x{h * s}x{w * s}: max |torch - numpy| = "
        f"{diff.max():.3e}, mean = {diff.mean():.3e} (limit {TOLERANCE:g}); "
        f"output range [{ref.min():.4f}, {ref.max():.4f}]")
    if not diff.max() <= TOLERANCE:
        raise ConvertError(f"self-check failed: max |torch - numpy| = {diff.max():.3e} > {TOLERANCE:g}")
    m = measured_radius(autograd_probe(module, True, torch.float32), g, g.rf)
    dtype = "float32"
    if m < g.rf:
        # Deep networks attenuate their farthest contributions below float32's
        # range (RRDBNet x4plus: nothing beyond 283 of its 349 pixels); float64
        # keeps them. Slow (minutes for x4plus), so only when float32 falls short.
        log(f"self-check: autograd in float32 reaches {m} of the graph's {g.rf}: again in float64")
        m = measured_radius(autograd_probe(module, True, torch.float64), g, g.rf)
        dtype = "float64"
    log(f"self-check: receptive radius from the graph = {g.rf}, measured by autograd = {m} "
        f"({dtype}" + (", global pooling statistics held fixed)" if g.global_pool else ")"))
    if m > g.rf:
        raise ConvertError(f"self-check failed: measured receptive radius {m} > computed {g.rf}")
    # Without global pooling, the measurement above ran on the module itself and
    # found nothing beyond the radius; with it, look again with live statistics.
    glob = depends_globally(autograd_probe(module, False, torch.float32), g, g.rf) if g.global_pool \
        else m > g.rf
    log(f"self-check: global pooling in the graph: {g.global_pool}; a centre pixel depends on "
        f"pixels beyond the radius: {glob}")
    if glob != g.global_pool:
        raise ConvertError("self-check failed: autograd and the graph disagree on global pooling")
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
            "tolerance": TOLERANCE, "input": f"skimage.data.{which}()[{y0}:{y0 + h}, {x0}:{x0 + w}]",
            "output_range": [round(float(ref.min()), 4), round(float(ref.max()), 4)],
            "rf_autograd": m, "rf_autograd_dtype": dtype}


# ---------------------------------------------------------------------------

def load_graph(param_path, bin_path):
    for path in (param_path, bin_path):
        if not os.path.isfile(path):
            raise ConvertError(f"{path}: no such file")
    with open(param_path, encoding="utf-8", errors="replace") as f:
        layers = parse_param(f.read(), param_path)
    g = analyse(layers)  # checks the weight sizes the .param declares against the channels
    with open(bin_path, "rb") as f:
        data = f.read()
    weights = read_weights(layers, data, bin_path)
    return layers, weights, g, len(data)


def convert(param_path, bin_path, name, out_path, *, check=True, source="", license="BSD-3-Clause",
            edge=None, log=print):
    edge = edge or Edge()
    layers, weights, g, n_bytes = load_graph(param_path, bin_path)
    edge = edge.resolve(g)
    n_params = sum(a.size for w in weights.values() for a in w.values())
    log(f"{param_path}: {len(layers)} layers, {n_params} parameters, {n_bytes} bytes of weights "
        f"read; scale x{g.scale}, border {g.border}, sizes {g.residue} mod {g.align}, "
        f"receptive radius {g.rf}, global pooling {g.global_pool}; edges: {edge.describe()}")
    module = build_module(layers, weights, g, edge)
    card = modelcard.make_card(name, g.scale, rf_spatial=g.rf, license=license,
                               source=source or os.path.basename(param_path),
                               converter="tools/convert_ncnn.py", global_pool=g.global_pool)
    card["edge"] = {"mode": edge.mode, "pad": edge.pad, "align": g.align,
                    "residual": "nearest" if edge.residual else "none"}
    # Written next to the target and renamed once checked, so a failed check
    # never leaves a model behind.
    tmp = f"{out_path}.tmp{os.getpid()}"
    try:
        modelcard.save(module, tmp, card)
        if check:
            saved, saved_card = modelcard.load(tmp)
            if saved_card != card:
                raise ConvertError("self-check: the card read back differs from the one written")
            card["self_check"] = self_check(layers, weights, saved, g, edge, log=log)
            modelcard.save(module, tmp, card)
            if modelcard.read_card(tmp) != card:
                raise ConvertError("self-check: the card read back differs from the one written")
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log(f"wrote {out_path}")
    return card


def exit_on_sigterm():
    """Turn SIGTERM (a CI timeout, a kill) into SystemExit, so that convert()'s
    cleanup runs and no half-written temporary model is left behind."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--param", required=True, help="ncnn .param (text format)")
    ap.add_argument("--bin", required=True, help="ncnn .bin weights")
    ap.add_argument("--name", required=True, help="model name written to the card")
    ap.add_argument("--out", required=True, help="output TorchScript file")
    ap.add_argument("--source", default="", help="where the weights came from (for the card)")
    ap.add_argument("--license", default="BSD-3-Clause", help="licence of the weights")
    ap.add_argument("--pad-mode", default="zero", choices=PAD_MODES,
                    help="how the image is extended before the network (default zero)")
    ap.add_argument("--pad", type=int, default=None,
                    help="pixels added on each side (default: the pixels the graph loses per side)")
    ap.add_argument("--residual", default="none", choices=("none", "nearest"),
                    help="add the nearest-upscaled input to the output (Real-CUGAN x4)")
    ap.add_argument("--no-check", action="store_true", help="skip the NumPy and autograd self-check")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    exit_on_sigterm()
    if os.path.exists(a.out) and not os.path.isfile(a.out):
        print(f"convert_ncnn: error: {a.out}: exists and is not a file", file=sys.stderr)
        return 1
    try:
        convert(a.param, a.bin, a.name, a.out, check=not a.no_check, source=a.source,
                license=a.license, edge=Edge(a.pad_mode, a.pad, a.residual == "nearest"))
    except (ConvertError, modelcard.CardError, OSError) as e:
        print(f"convert_ncnn: error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # from libtorch: a graph it cannot run
        print(f"convert_ncnn: error: {a.param}: PyTorch failed on this graph: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
