#!/usr/bin/env python3
"""libvsr model cards: build, validate, embed in and read from TorchScript files.

A libvsr model is a TorchScript file whose archive holds an extra file
``libvsr.json`` (the card). The C side (lib/modelcard.c) parses the same
schema, so the rules here mirror what it accepts; docs/model-card.md is the
reference.
"""
import json
import math

import torch

CARD_FILE = "libvsr.json"
FORMAT = "libvsr-model-card"
VERSION = 1

# Sizes of the fixed char arrays in vsr_model_card (include/libvsr/model.h),
# including the terminating NUL.
NAME_MAX = 64
LICENSE_MAX = 32

# Key order of a card as written (readability only; the parser does not care).
KEYS = ("format", "version", "name", "scale", "frames_in", "frames_out", "layout",
        "range", "channels", "receptive_field", "size_multiple", "license", "source",
        "converter")


class CardError(ValueError):
    """The card is missing, unreadable or breaks the schema."""


def make_card(name, scale, *, frames_in=1, frames_out="all", rf_spatial=0, rf_temporal=0,
              size_multiple=1, license="BSD-3-Clause", source="", converter="", global_pool=False):
    """Return a card dict; the layout follows from frames_in (1 = NCHW, else NTCHW).

    global_pool: the network pools over the whole frame (so tiles change its
    output); written only when true, as libvsr reads a missing key as false.
    """
    card = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "scale": scale,
        "frames_in": frames_in,
        "frames_out": frames_out,
        "layout": "NCHW" if frames_in == 1 else "NTCHW",
        "range": [0.0, 1.0],
        "channels": "rgb",
        "receptive_field": {"spatial": rf_spatial, "temporal": rf_temporal},
        "size_multiple": size_multiple,
        "license": license,
        "source": source,
        "converter": converter,
    }
    if global_pool:
        card["global_pool"] = True
    validate(card)
    return card


def _is_int(v):
    # bool is an int subclass in Python, but true/false is not a number in JSON.
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def validate(card):
    """Raise CardError naming the first field that breaks the schema."""
    def need(cond, msg):
        if not cond:
            raise CardError("model card: " + msg)

    need(isinstance(card, dict), "must be a JSON object")
    missing = [k for k in KEYS if k not in card]
    need(not missing, "missing field(s) " + ", ".join(missing))
    need(card["format"] == FORMAT, f'"format" must be "{FORMAT}"')
    need(_is_int(card["version"]) and card["version"] == VERSION,
         f'"version" must be {VERSION}')
    name = card["name"]
    need(isinstance(name, str) and 0 < len(name.encode()) < NAME_MAX,
         f'"name" must be a non-empty string shorter than {NAME_MAX} bytes')
    need(_is_int(card["scale"]) and 1 <= card["scale"] <= 16, '"scale" must be an integer 1..16')
    fin = card["frames_in"]
    need(_is_int(fin) and 0 <= fin <= 64, '"frames_in" must be an integer 0..64')
    fout = card["frames_out"]
    need(fout in ("all", "center"), '"frames_out" must be "all" or "center"')
    # "center" only makes sense for a fixed odd window longer than one frame.
    need(fout == "all" or (fin > 1 and fin % 2 == 1),
         '"frames_out": "center" needs an odd "frames_in" > 1')
    need(card["layout"] == ("NCHW" if fin == 1 else "NTCHW"),
         '"layout" must be "NCHW" when frames_in is 1, else "NTCHW"')
    rng = card["range"]
    need(isinstance(rng, list) and len(rng) == 2 and all(_is_num(v) for v in rng)
         and rng[0] < rng[1], '"range" must be [min, max] with min < max')
    need(card["channels"] == "rgb", '"channels" must be "rgb"')
    rf = card["receptive_field"]
    need(isinstance(rf, dict) and _is_int(rf.get("spatial")) and _is_int(rf.get("temporal"))
         and 0 <= rf["spatial"] <= 4096 and 0 <= rf["temporal"] <= 64,
         '"receptive_field" must be {"spatial": int >= 0, "temporal": int >= 0}')
    need(fin != 1 or rf["temporal"] == 0, 'a per-frame model (frames_in 1) has temporal radius 0')
    need(_is_int(card["size_multiple"]) and 1 <= card["size_multiple"] <= 1024,
         '"size_multiple" must be an integer 1..1024')
    lic = card["license"]
    need(isinstance(lic, str) and 0 < len(lic.encode()) < LICENSE_MAX,
         f'"license" must be a non-empty string shorter than {LICENSE_MAX} bytes')
    need(isinstance(card["source"], str), '"source" must be a string')
    need(isinstance(card["converter"], str), '"converter" must be a string')
    need(isinstance(card.get("global_pool", False), bool), '"global_pool" must be true or false')


def card_json(card):
    """Serialise a card: schema key order, ASCII only, indented for people."""
    ordered = {k: card[k] for k in KEYS}
    ordered.update({k: v for k, v in card.items() if k not in ordered})
    return json.dumps(ordered, indent=1, ensure_ascii=True) + "\n"


def save(module, path, card):
    """Validate the card and save the TorchScript module with it embedded."""
    validate(card)
    save_raw(module, path, card_json(card))


def save_raw(module, path, text):
    """Save with an arbitrary (even invalid) card text, or none when text is None.

    Only for building broken test models; real models go through save().
    """
    extra = {} if text is None else {CARD_FILE: text}
    torch.jit.save(module, str(path), _extra_files=extra)


def read_card(path):
    """Return the parsed, validated card of a TorchScript file (module not kept)."""
    return load(path)[1]


def load(path, map_location="cpu"):
    """Load a TorchScript file and its card; raise CardError if the card is bad."""
    extra = {CARD_FILE: ""}
    module = torch.jit.load(str(path), map_location=map_location, _extra_files=extra)
    text = extra[CARD_FILE]
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text:
        raise CardError(f"{path}: no {CARD_FILE} in the TorchScript archive")
    try:
        card = json.loads(text)
    except json.JSONDecodeError as e:
        raise CardError(f"{path}: {CARD_FILE} is not valid JSON: {e}") from None
    try:
        validate(card)
    except CardError as e:
        raise CardError(f"{path}: {e}") from None
    return module, card


def output_shape(card, input_shape):
    """The output shape the card promises for an input shape (NCHW or NTCHW)."""
    s = card["scale"]
    if card["layout"] == "NCHW":
        b, c, h, w = input_shape
        return (b, c, h * s, w * s)
    b, t, c, h, w = input_shape
    if card["frames_out"] == "center":
        return (b, c, h * s, w * s)
    return (b, t, c, h * s, w * s)


if __name__ == "__main__":
    # Print the card of each file given: a quick inspection tool.
    import sys
    status = 0
    for p in sys.argv[1:]:
        try:
            print(p + ":\n" + card_json(read_card(p)))
        except (CardError, RuntimeError) as e:
            print(f"{p}: error: {e}", file=sys.stderr)
            status = 1
    sys.exit(status)
