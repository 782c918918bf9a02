#!/usr/bin/env python3
"""Cost of the converted zoo models at one input size: GFLOP per frame,
counted from the ncnn graph at the size the network really runs at (the
family's padding included), and the time of one forward pass of the saved
TorchScript module (libtorch, float32, CPU). Prints a Markdown table.

    tools/zoo_measure.py [--models DIR] [--size 320x180] [--threads 2] [NAME...]

The models must have been fetched (scripts/fetch-models NAME... or --all);
missing ones are listed as such.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_ncnn  # noqa: E402
import modelcard  # noqa: E402
import ncnn_zoo  # noqa: E402


def measure(model, models_dir, w, h, min_seconds=3.0, timed=True):
    pt = os.path.join(models_dir, model.name + ".pt")
    param, bin_ = model.files(os.path.join(models_dir, ".cache"))
    if not (os.path.isfile(pt) and os.path.isfile(param)):
        return None
    layers, weights, g, _ = convert_ncnn.load_graph(param, bin_)
    pad = model.edge().resolve(g).pad
    flops = convert_ncnn.count_flops(layers, g.raw_size(h, pad), g.raw_size(w, pad))
    card = modelcard.read_card(pt)
    times = []
    if timed:
        module, _ = modelcard.load(pt)
        module.eval()
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            module(x)  # warm-up (first call optimises the graph)
            start = time.perf_counter()
            while not times or (time.perf_counter() - start < min_seconds and len(times) < 10):
                t = time.perf_counter()
                module(x)
                times.append(time.perf_counter() - t)
    return {"gflop": flops / 1e9, "seconds": statistics.median(times) if times else None,
            "runs": len(times), "params": sum(a.size for wl in weights.values() for a in wl.values()),
            "rf": card["receptive_field"]["spatial"],
            "global_pool": card.get("global_pool", False), "scale": card["scale"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=os.path.join(os.path.dirname(ncnn_zoo.TOOLS), "models"))
    ap.add_argument("--size", default="320x180", help="input WxH (default 320x180)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-time", action="store_true", help="count only (no forward passes)")
    ap.add_argument("names", nargs="*", help="models (default: all of the zoo)")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    torch.set_num_threads(a.threads)
    names = a.names or list(ncnn_zoo.MODELS)
    print(f"| model | scale | params | receptive radius | global pooling | GFLOP/frame at {w}x{h} "
          f"| forward pass, s ({a.threads} threads, fp32) | GFLOP/s |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for name in names:
        r = measure(ncnn_zoo.MODELS[name], a.models, w, h, timed=not a.no_time)
        if r is None:
            print(f"| {name} | not fetched | | | | | | |")
            continue
        t = r["seconds"]
        timing = "| |" if t is None else f"| {t:.2f} | {r['gflop'] / t:.0f} |"
        print(f"| {name} | x{r['scale']} | {r['params'] / 1e6:.2f} M | {r['rf']} | "
              f"{'yes' if r['global_pool'] else 'no'} | {r['gflop']:.1f} {timing}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
