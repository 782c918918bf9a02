"""Reliability of vsr-cli: the whole test corpus, limits, Ctrl-C, a full disk,
a model that fails mid-run, and resuming a killed run.

* Corpus (tools/make_test_data.py's manifest): every file gets its expected
  result with the documented exit code (ok 0, error 1 (or 2), damaged 3), no
  crash (a negative return code is a signal). Good clips (tiny model, ffv1):
  the output has the frame count and timestamps ffprobe reports for the
  input; damaged clips: exactly the frames and timestamps FFmpeg decodes
  (recorded in the manifest); errors: a message naming the file, no output.
  Timestamps are compared after the remux shift explained in test_cli.py
  (a copied AAC track from MP4 starts before 0; Matroska moves the whole
  file later by that much, as `ffmpeg -c copy` does). corrupt.mkv is run
  once here; test_cli.py runs it repeatedly, because libvsr's damage
  verdict for it depended on thread timing when these tests were written.
* Short is not damaged: dropped_frames.avi (intact, its headers declare 12
  more frames than it holds, as capture programs write dropped frames)
  ends with exit 0 and all 24 frames; a really truncated file
  (truncated.mkv, truncated.avi: bytes cut off) is still exit 3 with every
  frame FFmpeg decodes from it.
* Odd size (321x239), single frame and VFR clips keep size x2, count, pts.
* --max-size below the clip's size refuses it with a message.
* SIGINT (real model, long_120.mkv) after frames are written: exit 130, the
  output decodes with 0 < n < 120 frames whose pts are the input's first n,
  no .partial left.
* SIGINT 0.3 s after the start, while the model loads (slow-x2.pt, whose
  check passes take a second or more): not lost. The program is started
  with SIGINT ignored, as a background job of a script is (the case where
  the old vsr-cli, which caught SIGINT only once its session was open,
  ran the whole clip and exited 0); the signal is sent once vsr-cli
  catches it (/proc/PID/status), and not before 0.3 s. Exit 130 with
  "interrupted", and no output (or, had the signal come late, a playable
  output holding the frames it reports).
* Disk full (ulimit -f): non-zero exit, a message about writing, neither
  OUT nor OUT.partial left.
* throws-after-3.pt --precision fp32: exit 1 with the model's message, no
  output.
* Resume: spatial-rf4-x2.pt (per-frame, radius 4) on a 120-frame 384x216
  lossless clip made here from the test photographs with a FLAC audio track
  (the real model would need minutes for a clip long enough to interrupt
  between segments on this machine; the tiny model is too fast). The run
  with --resume is SIGKILLed at a seeded random delay after it committed a
  segment (48 frames each, <out>.vsr-resume/seg-K); resuming with another
  model, another --tile or a changed input is refused (exit 1) with a
  message saying what changed, and the committed segments survive; the
  real resume then gives output frame-for-frame identical (framemd5) to an
  uninterrupted run, with the audio, and upscales only the frames not
  committed (it seeks to them).
* Resume of a sequence model (recurrent-x2, whose output depends on the
  whole chunk): a run killed after its first segment and resumed gives the
  frames of an uninterrupted run (framemd5, pts), though the resumed run
  starts at a segment boundary inside the clip.
"""
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import (RUN_TIMEOUT, assert_no_output, assert_same_times, check_no_crash, clip, frame_times,
                      framemd5, packet_times, real_model, run, run_cli, source_frames, start_shift, stats_json, streams,
                      tmodel, video_stream, write_rgb_clip)

EXIT = {"ok": (0,), "error": (1, 2), "damaged": (3,)}
SEED = 20240611


# ---------------------------------------------------------------------------
# The corpus

@pytest.fixture(scope="module")
def corpus_runs(cli, data_dir, manifest, test_models, tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    tiny = tmodel(test_models, "tiny-x2.pt")

    def job(name):
        inp = os.path.join(data_dir, name)
        out = str(d / (name.replace(".", "_") + ".mkv"))
        p = run([cli, "-i", inp, "-o", out, "-m", tiny, "--codec", "ffv1"])
        return inp, out, p

    ex = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futs = {name: ex.submit(job, name) for name in manifest}
    yield futs
    ex.shutdown(wait=True, cancel_futures=True)


def corpus_names():
    # collected without the fixtures: read the manifest here too
    path = os.path.join(os.environ.get("VSR_TEST_DATA", ""), "manifest.json")
    try:
        with open(path) as f:
            return [e["name"] for e in json.load(f)["files"]]
    except OSError:
        return ["<manifest missing: set VSR_TEST_DATA>"]


@pytest.mark.parametrize("name", corpus_names())
def test_corpus_file(corpus_runs, manifest, name):
    if name not in manifest:
        pytest.fail(f"no test data manifest at $VSR_TEST_DATA ({name})")
    e = manifest[name]
    inp, out, p = corpus_runs[name].result()
    check_no_crash(p)
    want = e["expected"]
    assert p.returncode in EXIT[want], \
        f"{name} ({e['description']}): exit {p.returncode}, expected {want} {EXIT[want]}\nstderr:\n{p.stderr}"
    if want == "error":
        assert name in p.stderr, f"{name}: the message does not name the file:\n{p.stderr}"
        assert_no_output(out)
        return
    assert os.path.exists(out) and not os.path.exists(out + ".partial"), f"{name}: output missing or unfinished"
    v = video_stream(out)
    assert (int(v["width"]), int(v["height"])) == (2 * e["width"], 2 * e["height"])
    got = frame_times(out)
    if want == "damaged":
        assert name in p.stderr, f"{name}: the damage message does not name the file:\n{p.stderr}"
        num, den = (int(x) for x in e["time_base"].split("/"))
        exp = [t * num / den for t in e["decoded_pts"]]
        assert len(got) == e["ffmpeg_decoded_frames"], \
            f"{name}: {len(got)} frames written, FFmpeg decodes {e['ffmpeg_decoded_frames']}"
        assert_same_times(got, exp, start_shift(inp), what=name)
    else:
        src = frame_times(inp)  # what FFmpeg decodes from the input
        assert len(src) == e["frames"], f"{name}: ffprobe decodes {len(src)} frames, manifest says {e['frames']}"
        assert_same_times(got, src, start_shift(inp), what=name)


def test_short_file_is_not_damage(corpus_runs, manifest):
    inp, out, p = corpus_runs["dropped_frames.avi"].result()
    assert p.returncode == 0, f"an intact AVI with dropped frames: exit {p.returncode}\n{p.stderr}"
    assert "truncated" not in p.stderr and "damage" not in p.stderr.lower(), p.stderr
    assert len(frame_times(out)) == manifest["dropped_frames.avi"]["frames"] == 24
    for name in ("truncated.mkv", "truncated.avi"):
        inp, out, p = corpus_runs[name].result()
        assert p.returncode == 3, f"{name} (bytes cut off): exit {p.returncode}\n{p.stderr}"
        assert "truncated" in p.stderr, f"{name}: the message does not say the file is truncated:\n{p.stderr}"
        assert len(frame_times(out)) == manifest[name]["ffmpeg_decoded_frames"] > 0


def test_odd_single_vfr(corpus_runs, manifest):
    inp, out, p = corpus_runs["odd_321x239.mkv"].result()
    assert p.returncode == 0, p.stderr
    v = video_stream(out)
    assert (int(v["width"]), int(v["height"])) == (642, 478), f"odd size: output {v['width']}x{v['height']}"
    inp, out, p = corpus_runs["single_frame.mp4"].result()
    assert p.returncode == 0, p.stderr
    assert len(frame_times(out)) == 1
    inp, out, p = corpus_runs["vfr.mkv"].result()
    assert p.returncode == 0, p.stderr
    t_in, t_out = frame_times(inp), frame_times(out)
    gaps = {round(b - a, 3) for a, b in zip(t_out, t_out[1:])}
    assert len(gaps) >= 2, f"VFR output has constant frame intervals {gaps}: the variable rate was lost"
    assert_same_times(t_out, t_in, start_shift(inp), what="vfr.mkv")


def test_max_size_refuses(cli, data_dir, test_models, tmp_path):
    out = str(tmp_path / "out.mkv")
    inp = clip(data_dir, "real_h264.mp4")
    p = run_cli(cli, ["-i", inp, "-o", out, "-m", tmodel(test_models, "tiny-x2.pt"), "--max-size", "100x100"],
                expect=1)
    assert "real_h264.mp4" in p.stderr and "128x72" in p.stderr and "100x100" in p.stderr, \
        f"the refusal does not say which file, its size and the limit:\n{p.stderr}"
    assert_no_output(out)
    # at the limit it is accepted
    run_cli(cli, ["-i", inp, "-o", out, "-m", tmodel(test_models, "tiny-x2.pt"), "--max-size", "128x72",
                  "--max-frames", "2", "--codec", "ffv1"])


# ---------------------------------------------------------------------------
# Ctrl-C

def test_sigint(cli, data_dir, models_dir, tmp_path):
    inp = clip(data_dir, "long_120.mkv")
    out = str(tmp_path / "int.mkv")
    p = subprocess.Popen([cli, "-i", inp, "-o", out, "-m", real_model(models_dir, 2), "--codec", "ffv1", "-v"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = []
    reader = threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)
    reader.start()
    try:
        # wait until the output is open (-v says so) and frames are going into it
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and p.poll() is None and not any("output '" in l for l in err):
            time.sleep(0.05)
        assert p.poll() is None, f"vsr-cli ended before it was interrupted:\n{''.join(err)}"
        time.sleep(3.0)
        assert p.poll() is None, f"vsr-cli finished 120 frames within 3 s:\n{''.join(err)}"
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    reader.join(timeout=10)
    text = "".join(err)
    assert rc >= 0, f"vsr-cli died of signal {-rc} on SIGINT:\n{text}"
    assert rc == 130, f"exit {rc} after SIGINT, expected 130:\n{text}"
    assert not os.path.exists(out + ".partial"), ".partial left after an interrupted run"
    assert os.path.exists(out), f"no output after SIGINT:\n{text}"
    got = frame_times(out)
    n = len(got)
    print(f"\nSIGINT after ~3 s: {n} frames written")
    assert 0 < n < 120, f"the interrupted output has {n} frames"
    assert_same_times(got, frame_times(inp)[:n], start_shift(inp), what="interrupted output")


def catches_sigint(pid):
    """True once the process has a handler for SIGINT (SigCgt in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False


def test_sigint_during_model_load(cli, data_dir, test_models, tmp_path):
    inp = clip(data_dir, "long_120.mkv")
    out = str(tmp_path / "early.mkv")
    start = time.monotonic()
    p = subprocess.Popen([cli, "-i", inp, "-o", out, "-m", tmodel(test_models, "slow-x2.pt"), "--precision", "fp32",
                          "--codec", "ffv1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = start + RUN_TIMEOUT
        while p.poll() is None and time.monotonic() < deadline and \
                (time.monotonic() - start < 0.3 or not catches_sigint(p.pid)):
            time.sleep(0.01)
        assert p.poll() is None, f"vsr-cli ended before the signal (exit {p.returncode}):\n{p.stderr.read()}"
        sent = time.monotonic() - start
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print(f"\nSIGINT sent {sent:.2f} s after the start")
    check_no_crash(p)
    assert p.returncode == 130, f"exit {p.returncode} after SIGINT, expected 130:\n{err}"
    assert "interrupted" in err and "cancel" in err, err
    if os.path.exists(out):
        n = len(frame_times(out))
        assert f"cancelled after {n} frames" in err, f"the output holds {n} frames:\n{err}"
        assert not os.path.exists(out + ".partial")
    else:
        assert_no_output(out)
        assert "before the first frame" in err, err


# ---------------------------------------------------------------------------
# Disk full, a failing model

def test_disk_full(cli, data_dir, test_models, tmp_path):
    out = str(tmp_path / "full.mkv")
    cmd = " ".join(f"'{a}'" for a in [cli, "-i", clip(data_dir, "long_120.mkv"), "-o", out,
                                      "-m", tmodel(test_models, "tiny-x2.pt"), "--codec", "ffv1"])
    p = run(["bash", "-c", f"ulimit -f 200; exec {cmd}"])  # 200 KiB; the output needs several MB
    check_no_crash(p)
    assert p.returncode not in (0, 3, 130), f"exit {p.returncode} with the disk full:\n{p.stderr}"
    assert "writ" in p.stderr.lower(), f"the message does not say writing failed:\n{p.stderr}"
    assert out in p.stderr, f"the message does not name the output:\n{p.stderr}"
    assert not os.path.exists(out) and not os.path.exists(out + ".partial"), \
        f"left behind after a failed write: {os.listdir(tmp_path)}"


def test_model_throws_mid_run(cli, data_dir, test_models, tmp_path):
    out = str(tmp_path / "thr.mkv")
    p = run_cli(cli, ["-i", clip(data_dir, "long_120.mkv"), "-o", out, "-m", tmodel(test_models, "throws-after-3.pt"),
                      "--precision", "fp32", "--codec", "ffv1"], expect=1)
    assert "deliberate failure on call 4" in p.stderr, f"the model's message is not shown:\n{p.stderr}"
    assert_no_output(out)


# ---------------------------------------------------------------------------
# Resume after SIGKILL

def committed_segments(out):
    """The committed segments of a resumable run into out: the manifests
    of <out>.vsr-resume/seg-K, in segment order."""
    d = out + ".vsr-resume"
    found = []
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.startswith("seg-") and name[4:].isdigit():
            try:
                with open(os.path.join(d, name, "manifest.json")) as f:
                    found.append(json.load(f))
            except (OSError, ValueError):
                pass  # not committed (a commit is one rename of a complete directory)
    return sorted(found, key=lambda m: m["segment"])


@pytest.fixture(scope="module")
def resume_clip(manifest, tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    import numpy as np
    src = source_frames(manifest, "long_120.mkv", n=120)  # 128x72 photographs, 3 scenes
    big = np.repeat(np.repeat(src, 3, axis=1), 3, axis=2)  # 384x216
    inp = write_rgb_clip(str(d / "in.mkv"), big, audio_seconds=5)
    other = write_rgb_clip(str(d / "other.mkv"), big[::-1].copy(), audio_seconds=5)
    return d, inp, other


def test_resume_after_kill(cli, test_models, resume_clip):
    d, inp, other = resume_clip
    rf4 = tmodel(test_models, "spatial-rf4-x2.pt")
    common = ["--codec", "ffv1", "--precision", "fp32"]
    ref = str(d / "ref.mkv")
    out = str(d / "out.mkv")
    backup = str(d / "in.backup.mkv")
    shutil.copy2(inp, backup)

    # the uninterrupted run, alongside the one that gets killed
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
        ref_job = ex.submit(run_cli, cli, ["-i", inp, "-o", ref, "-m", rf4, *common])

        p = subprocess.Popen([cli, "-i", inp, "-o", out, "-m", rf4, *common, "--resume"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while time.monotonic() < deadline and p.poll() is None and not committed_segments(out):
                time.sleep(0.05)
            delay = random.Random(SEED).uniform(0.0, 1.5)
            time.sleep(delay)
            finished = p.poll() is not None
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read().decode(errors="replace")
        assert not finished, f"the run ended (exit {p.returncode}) before it could be killed:\n{err}"
        assert p.returncode == -signal.SIGKILL
        ref_job.result()

    segs = committed_segments(out)
    done = sum(s["frames"] for s in segs)
    print(f"\nkilled {delay:.2f} s after the first segment: {len(segs)} segments committed, {done} frames")
    assert segs and 0 < done < 120, f"committed after the kill: {segs}"
    assert not os.path.exists(out), "a killed run left a file with the final name"

    def refused(args, what, needle):
        r = run_cli(cli, args, expect=1)
        msg = r.stderr.lower()
        assert needle in msg and "changed" in msg, f"resume with {what}: the refusal does not say so:\n{r.stderr}"
        assert committed_segments(out) == segs, f"the refused resume ({what}) changed the committed segments"
        assert not os.path.exists(out)

    refused(["-i", inp, "-o", out, "-m", tmodel(test_models, "tiny-x2.pt"), *common, "--resume"],
            "another model", "model")
    refused(["-i", inp, "-o", out, "-m", rf4, *common, "--resume", "--tile", "64"], "--tile 64", "tile")
    shutil.copyfile(other, inp)  # same path, other content
    try:
        refused(["-i", inp, "-o", out, "-m", rf4, *common, "--resume"], "a changed input file", "input")
    finally:
        shutil.copy2(backup, inp)  # content and mtime back

    js = str(d / "resumed.json")
    r = run_cli(cli, ["-i", inp, "-o", out, "-m", rf4, *common, "--resume", "-v", "--stats-json", js])
    assert os.path.exists(out) and not os.path.exists(out + ".vsr-resume"), \
        f"after the resumed run: {sorted(os.listdir(d))}"
    # it really resumed: only the frames not committed went through the model, and only they were decoded (a seek)
    hist = stats_json(js)["history"]
    inf = [x for x in hist if x["type"] == "inference"]
    assert sum(x["frames"] for x in inf) == 120 - done, \
        f"the resumed run upscaled {sum(x['frames'] for x in inf)} frames; {done} were already done"
    dec = [x for x in hist if x["type"] == "decode"]
    assert sum(x["frames"] for x in dec) == 120 - done, \
        f"the resumed run decoded {sum(x['frames'] for x in dec)} frames; {done} were already done"
    assert "resuming" in r.stderr, f"-v does not say the run resumed:\n{r.stderr}"
    a, b = framemd5(out), framemd5(ref)
    assert len(a) == len(b) == 120, f"resumed output {len(a)} frames, uninterrupted {len(b)}"
    bad = [i for i in range(120) if a[i] != b[i]]
    assert not bad, f"resumed output differs from the uninterrupted run in frames {bad[:20]}"
    assert_same_times(frame_times(out), frame_times(inp), 0.0, what="resumed output")
    audio = [s for s in streams(out)["streams"] if s["codec_type"] == "audio"]
    assert len(audio) == 1 and audio[0]["codec_name"] == "flac", f"audio after resume: {audio}"
    pk = packet_times(out, "a:0")
    span = max(t + dd for t, dd in pk) - min(t for t, _ in pk)
    assert abs(span - 5.0) < 0.1, f"resumed output's audio lasts {span:.3f} s, the input's 5 s"


def test_resume_sequence_model(cli, test_models, resume_clip):
    """A recurrent model (its output depends on the whole chunk) resumes
    after a SIGKILL to the frames of an uninterrupted run: the resumed
    segments run the whole-clip run's chunk grid, from a seek."""
    d, inp, _ = resume_clip
    rec = tmodel(test_models, "recurrent-x2.pt")
    common = ["--codec", "ffv1", "--precision", "fp32", "--threads", "1", "--chunk", "16", "--overlap", "4"]
    ref = str(d / "rec-ref.mkv")
    out = str(d / "rec-out.mkv")
    run_cli(cli, ["-i", inp, "-o", ref, "-m", rec, *common])
    p = subprocess.Popen([cli, "-i", inp, "-o", out, "-m", rec, *common, "--resume"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and p.poll() is None and not committed_segments(out):
            time.sleep(0.01)
        finished = p.poll() is not None
        p.send_signal(signal.SIGKILL)  # at once: the other 72 frames take far longer than a poll
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    assert not finished, f"the run ended (exit {p.returncode}) before it could be killed:\n{err}"
    segs = committed_segments(out)
    done = sum(s["frames"] for s in segs)
    assert segs and 0 < done < 120 and not os.path.exists(out), f"committed after the kill: {segs}"
    r = run_cli(cli, ["-i", inp, "-o", out, "-m", rec, *common, "--resume", "-v"])
    assert "resuming" in r.stderr, f"-v does not say the run resumed:\n{r.stderr}"
    assert not os.path.exists(out + ".vsr-resume")
    a, b = framemd5(out), framemd5(ref)
    assert len(a) == len(b) == 120, f"resumed output {len(a)} frames, uninterrupted {len(b)}"
    bad = [i for i in range(120) if a[i] != b[i]]
    assert not bad, f"the resumed recurrent run differs from the uninterrupted one in frames {bad[:20]}"
    assert_same_times(frame_times(out), frame_times(ref), 0.0, what="resumed output")
