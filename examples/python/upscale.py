#!/usr/bin/env python3
"""Upscale a video file with libvsr and print where the time went.

    PYTHONPATH=python examples/python/upscale.py in.mp4 out.mkv \
        --model models/realesr-animevideov3-x2.pt --codec libx264

Set VSR_LIBRARY to the path of libvsr.so if it is not installed.
"""
import argparse
import sys

import libvsr


def main(argv=None):
    ap = argparse.ArgumentParser(description="Upscale a video file with libvsr.")
    ap.add_argument("input", help="input video file")
    ap.add_argument("output", help="output video file (container from the extension)")
    ap.add_argument("--model", required=True, help="TorchScript model with a libvsr card (.pt)")
    ap.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    ap.add_argument("--crf", type=int, default=None, help="x264/x265 quality (default 18)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument("--tile", type=int, default=0, help="tile size in input pixels (0 = whole frames)")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    args = ap.parse_args(argv)

    tracker = libvsr.Tracker(granularity="chunk")
    if not args.quiet:
        def progress(p):
            total = f"/{p.frames_total}" if p.frames_total > 0 else ""
            eta = f", eta {p.eta_s:.0f} s" if p.eta_s >= 0 else ""
            print(f"\r{p.frames_done}{total} frames, {p.fps:.2f} fps{eta}   ", end="",
                  file=sys.stderr, flush=True)
        tracker.on_progress(progress)

    started = False
    try:
        # the model is loaded once; several sessions could share it
        with libvsr.Model(args.model, device=args.device, precision=args.precision) as model, \
                libvsr.Session(model, tile=args.tile, tracker=tracker) as s:
            info = s.info()
            card = s.card
            print(f"model {card.name} x{card.scale} on {info.device}, {info.precision.name.lower()}, "
                  f"{info.threads} threads", file=sys.stderr)
            started = True
            try:
                res = s.upscale_file(args.input, args.output, codec=args.codec, crf=args.crf)
            except libvsr.InputDamagedError as e:
                res = e.result
                print(f"\nwarning: {e}", file=sys.stderr)
    except libvsr.VsrError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # A cancelled run still finishes the output with the frames done.
        done = f"; {args.output} holds the frames written so far" if started else ""
        print(f"\ninterrupted{done}", file=sys.stderr)
        return 130
    finally:
        if not args.quiet:
            print(file=sys.stderr)

    state = " (cancelled)" if res.cancelled else ""
    print(f"{args.output}: {res.frames_written} frames in {res.seconds:.2f} s, "
          f"{res.fps:.2f} fps{state}")
    print(f"{'stage':<12} {'count':>6} {'mean ms':>9} {'p95 ms':>9} {'fps':>9}")
    for name, st in tracker.all_stats().items():
        if st.count:
            print(f"{name:<12} {st.count:>6} {st.mean_ms:>9.2f} {st.p95_ms:>9.2f} {st.fps:>9.2f}")
    r = tracker.resources()
    print(f"peak RSS {r.peak_rss_bytes / 2**20:.0f} MiB, CPU {r.cpu_percent_mean:.0f}% mean")
    tracker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
