"""The two GPU checks that need libvsr inside one process, through the ctypes
binding (python/libvsr): two sessions in two threads, and the tracker's
peak device memory against the CUDA allocator's own figure (torch imported
into the same process shares libtorch, and with it the allocator, with
libvsr when libvsr was built with -Dtorch_dir=auto).

Kept apart and small on purpose: this is the only GPU test code that
depends on the C API's shape (the binding's Session/Tracker), so it is the
one place to adapt when that API changes. Run as a program it prints one
JSON object:

    python3 binding.py threads MODEL DEVICE PRECISION IN1 OUT1 IN2 OUT2
        runs IN1->OUT1 and IN2->OUT2 in two threads at once, one session
        each (the serial reference runs are the caller's, with vsr-cli)
    python3 binding.py peak MODEL DEVICE PRECISION IN OUT
        {"tracker_peak": bytes, "torch_peak": bytes}
"""
import json
import sys
import threading


def session(model, device, precision, tracker=None):
    import libvsr
    return libvsr.Session(model_path=model, device=device, precision=precision, tracker=tracker)


def upscale(s, inp, out):
    return s.upscale_file(inp, out, codec="ffv1", pix_fmt="gbrp16le", overwrite=True)


def two_threads(model, device, precision, jobs):
    errors = [None] * len(jobs)
    frames = [0] * len(jobs)
    sessions = [session(model, device, precision) for _ in jobs]
    barrier = threading.Barrier(len(jobs))

    def work(i, inp, out):
        try:
            barrier.wait()
            frames[i] = upscale(sessions[i], inp, out).frames_written
        except Exception as e:  # reported to the caller, who fails the test
            errors[i] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=work, args=(i, a, b)) for i, (a, b) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        s.close()
    return {"frames": frames, "errors": errors}


def peak(model, device, precision, inp, out):
    import torch  # first: libvsr then shares this process's libtorch
    import libvsr
    index = int(device.split(":")[1]) if ":" in device else 0
    torch.cuda.reset_peak_memory_stats(index)
    tracker = libvsr.Tracker(sampler_interval_ms=10)
    with session(model, device, precision, tracker) as s:
        upscale(s, inp, out)
    res = tracker.resources()
    tracker_peak = res["peak_device_bytes"] if isinstance(res, dict) else res.peak_device_bytes
    tracker.close()
    return {"tracker_peak": int(tracker_peak), "torch_peak": int(torch.cuda.max_memory_allocated(index)),
            "torch_version": torch.__version__}


def main(argv):
    what = argv[1]
    if what == "threads":
        model, device, precision = argv[2:5]
        rest = argv[5:]
        jobs = list(zip(rest[0::2], rest[1::2]))
        print(json.dumps(two_threads(model, device, precision, jobs)))
    elif what == "peak":
        print(json.dumps(peak(*argv[2:7])))
    else:
        sys.exit(f"binding.py: unknown check {what!r}")


if __name__ == "__main__":
    main(sys.argv)
