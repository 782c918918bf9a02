"""vsr-cli statistics: --stats-json, --stats-csv, --stats-prom, --granularity,
--reference, and failed runs recorded as failures.

Models: tiny-x2.pt (per frame), temporal-r2-x2.pt (sequence, for chunk
counts), bad-card.pt and throws-after-3.pt (failures). Input: real_h264.mp4
(24 frames). No assertion is about speed: only about consistency (busy time
of a stage <= the run's wall time, counts, agreement between the formats).

Chunk counts implied by the settings:
* per-frame model, batch b, n frames: ceil(n / b) forward passes (chunks);
* sequence model, chunk N, overlap O, n frames: 1 if n <= N, else chunks
  start every N - O frames and the last one is moved back to end at the
  last frame: ceil((n - N) / (N - O)) + 1.

--reference: REF is made once (tiny model, ffv1 gbrp16le); an identical
second run compared with it gives PSNR >= 60 dB (100 measured: the cap for
frames equal up to the 16-bit quantisation) and SSIM >= 0.9999; compared
with a bicubic upscale it gives far less (28.4 dB, SSIM 0.885 measured).
"""
import csv
import math
import re

import pytest

from conftest import (clip, frame_times, run, run_cli, stats_json, tmodel, video_stream)

STAGES = ["decode", "preprocess", "upload", "inference", "download", "postprocess", "encode"]
N_FRAMES = 24  # real_h264.mp4


def cli_run(cli, data_dir, test_models, tmp_path, name, model="tiny-x2.pt", extra=(), expect=0,
            inp="real_h264.mp4", lossless=False, formats=("json",)):
    out = str(tmp_path / f"{name}.mkv")
    paths = {f: str(tmp_path / f"{name}.{f}") for f in formats}
    args = ["-i", clip(data_dir, inp), "-o", out, "-m", tmodel(test_models, model), "--codec", "ffv1"]
    if lossless:
        args += ["--pix-fmt", "gbrp16le"]
    for f, p in paths.items():
        args += [f"--stats-{f}", p]
    p = run_cli(cli, args + [str(a) for a in extra], expect=expect)
    return out, paths, p


def records(j, type_=None):
    return [r for r in j["history"] if type_ is None or r["type"] == type_]


def wrote_frames(stderr):
    m = re.search(r"wrote (\d+) frames", stderr)
    assert m, f"vsr-cli did not say how many frames it wrote:\n{stderr}"
    return int(m.group(1))


# ---------------------------------------------------------------------------
# One plain run exported in all three formats

@pytest.fixture(scope="module")
def plain(cli, data_dir, test_models, tmp_path_factory):
    d = tmp_path_factory.mktemp("plain")
    out, paths, p = cli_run(cli, data_dir, test_models, d, "plain", formats=("json", "csv", "prom"))
    return out, paths, p, stats_json(paths["json"])


def test_json_structure_and_stage_times(plain):
    out, paths, p, j = plain
    assert j.get("format") == "libvsr-stats", f"unexpected format tag {j.get('format')!r}"
    for key in ("stats", "strategies", "in_flight", "resources", "quality", "history"):
        assert key in j, f"the JSON has no '{key}'"
    assert j["version"] == 2
    runs = records(j, "run")
    assert len(runs) == 1 and runs[0]["success"], f"expected one successful run record: {runs}"
    run_ = runs[0]
    # the run was an operation in flight: its memory peak was measured
    assert run_["peak_rss_bytes"] > 0 and run_["peak_rss_bytes"] <= j["resources"]["peak_rss_bytes"]
    assert j["stats"]["run"]["peak_rss_bytes"] == run_["peak_rss_bytes"]
    assert j["in_flight"] == [], "an operation is still in flight after the run"
    ids = [r["id"] for r in j["history"]]
    assert len(set(ids)) == len(ids) and all(i > 0 for i in ids), "record ids are not unique"
    # only libvsr's stages were recorded, all under the model's name
    assert set(j["stats"]) == set(STAGES) | {"run"}, sorted(j["stats"])
    model = run_["strategy"]
    assert list(j["strategies"]) == [model]
    per_model = j["strategies"][model]
    assert per_model["count"] == len(j["history"]) == sum(j["stats"][t]["count"] for t in j["stats"])
    assert per_model["success_rate"] == 1
    for t, s in j["stats"].items():
        assert list(s["by_strategy"]) == [model]
        assert s["by_strategy"][model]["count"] == s["count"]
        tr = s["trend"]
        assert tr["window"] == 100 and tr["recent_count"] == min(100, s["count"])
        assert tr["previous_count"] == min(100, s["count"] - tr["recent_count"])
    run_ms = run_["duration_ns"] / 1e6
    assert run_ms > 0 and run_["end_ns"] - run_["start_ns"] == run_["duration_ns"]
    for st in STAGES:
        s = j["stats"].get(st)
        assert s, f"no statistics for stage {st}"
        assert s["count"] > 0 and s["failures"] == 0, f"{st}: {s}"
        assert 0 < s["total_ms"] <= run_ms, \
            f"stage {st} was busy {s['total_ms']:.1f} ms, longer than the whole run ({run_ms:.1f} ms)"
        # the same from the history
        busy = sum(r["duration_ns"] for r in records(j, st)) / 1e6
        assert math.isclose(busy, s["total_ms"], rel_tol=1e-6, abs_tol=1e-3), \
            f"{st}: history sums to {busy} ms, statistics say {s['total_ms']} ms"
        assert s["min_ms"] <= s["p50_ms"] <= s["p95_ms"] <= s["max_ms"] + 1e-9, f"{st}: {s}"
    # every record of the run lies within the run
    for r in records(j):
        if r["type"] != "run":
            assert r["run_id"] == run_["run_id"]
            assert run_["start_ns"] <= r["start_ns"] <= r["end_ns"] <= run_["end_ns"], \
                f"a {r['type']} record [{r['start_ns']}, {r['end_ns']}] lies outside the run " \
                f"[{run_['start_ns']}, {run_['end_ns']}]"


def test_json_frame_counts(plain):
    out, paths, p, j = plain
    run_ = records(j, "run")[0]
    written = wrote_frames(p.stderr)
    in_file = len(frame_times(out))
    assert run_["frames"] == written == in_file == N_FRAMES, \
        f"run record {run_['frames']} frames, vsr-cli says {written}, the output has {in_file}, input {N_FRAMES}"
    for st in STAGES:
        assert j["stats"][st]["frames"] == N_FRAMES, f"{st} counted {j['stats'][st]['frames']} frames"
    # batch 1, per-frame model: one forward pass (chunk) per frame
    inf = records(j, "inference")
    assert len(inf) == N_FRAMES and all(r["chunks"] == 1 and r["frames"] == 1 for r in inf), \
        f"inference records: {[(r['frames'], r['chunks']) for r in inf]}"
    assert run_["chunks"] == N_FRAMES
    assert (run_["in_width"], run_["in_height"], run_["out_width"], run_["out_height"], run_["scale"]) == \
        (128, 72, 256, 144, 2)


def test_csv_matches_json(plain):
    out, paths, p, j = plain
    with open(paths["csv"], newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    for col in ("id", "type", "strategy", "start_ns", "end_ns", "duration_ns", "frames", "chunks", "tiles",
                "success", "error_message", "quality", "peak_rss_bytes", "peak_device_bytes"):
        assert col in header, f"CSV header has no '{col}': {header}"
    assert len(body) == len(j["history"]), f"CSV has {len(body)} rows, the JSON history {len(j['history'])}"
    for i, (row, rec) in enumerate(zip(body, j["history"])):
        assert len(row) == len(header), f"CSV row {i + 1} has {len(row)} fields, header {len(header)}"
        r = dict(zip(header, row))
        for k in ("type", "strategy"):
            assert r[k] == rec[k], f"row {i + 1}: {k} {r[k]!r} vs JSON {rec[k]!r}"
        for k in ("id", "start_ns", "end_ns", "duration_ns", "frames", "chunks", "tiles", "run_id",
                  "peak_rss_bytes", "peak_device_bytes"):
            if k in r:
                assert int(r[k]) == int(rec[k]), f"row {i + 1}: {k} {r[k]} vs JSON {rec[k]}"
        assert int(r["success"]) == int(bool(rec["success"]))
        assert r["quality"] == "" and rec["quality"] is None  # libvsr's stages have no quality score


PROM_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                         r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)?\})? '
                         r'([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|Inf))( [0-9]+)?$')


def parse_prom(text):
    """Prometheus text exposition format, line by line. Returns
    {family: {"help", "type", "samples": [(name, labels, value)]}}."""
    fams = {}
    assert text.endswith("\n"), "the Prometheus file does not end with a newline"
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
            assert m, f"line {n}: malformed comment {line!r}"
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {"help": None, "type": None, "samples": []})
            if kind == "HELP":
                assert f["help"] is None, f"line {n}: second HELP for {name}"
                f["help"] = rest
            else:
                assert rest in ("counter", "gauge", "summary", "histogram", "untyped"), f"line {n}: type {rest!r}"
                assert f["type"] is None and not f["samples"], f"line {n}: TYPE for {name} after its samples"
                f["type"] = rest
            continue
        m = PROM_SAMPLE.match(line)
        assert m, f"line {n}: not a valid sample line: {line!r}"
        name, _, labels, value = m.group(1), m.group(2), m.group(3), m.group(4)
        fam = name
        for suf in ("_sum", "_count", "_bucket"):
            if name.endswith(suf) and name[:-len(suf)] in fams:
                fam = name[:-len(suf)]
        assert fam in fams and fams[fam]["type"], f"line {n}: sample {name} before its # TYPE line"
        lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        fams[fam]["samples"].append((name, lab, float(value)))
    for name, f in fams.items():
        assert f["help"] and f["type"], f"metric {name} lacks a HELP or TYPE line"
    return fams


def test_prometheus(plain):
    out, paths, p, j = plain
    with open(paths["prom"]) as f:
        fams = parse_prom(f.read())
    ops = {(lab["type"], lab.get("result")): v for name, lab, v in fams["libvsr_operations_total"]["samples"]}
    peaks = {lab["type"]: v for name, lab, v in fams["libvsr_operation_peak_rss_bytes"]["samples"]}
    assert peaks == {"run": j["stats"]["run"]["peak_rss_bytes"]}, peaks  # the stages carry none
    assert fams["libvsr_operations_in_flight"]["samples"] == []
    for st in STAGES + ["run"]:
        assert ops[(st, "success")] == j["stats"][st]["successes"], f"{st}: Prometheus vs JSON successes"
        assert ops[(st, "failure")] == j["stats"][st]["failures"]
    frames = {lab["type"]: v for name, lab, v in fams["libvsr_frames_total"]["samples"]}
    for st in STAGES:
        assert frames[st] == N_FRAMES == j["stats"][st]["frames"]
    dur = fams["libvsr_operation_duration_seconds"]
    assert dur["type"] == "summary"
    sums = {lab["type"]: v for name, lab, v in dur["samples"] if name.endswith("_sum")}
    counts = {lab["type"]: v for name, lab, v in dur["samples"] if name.endswith("_count")}
    for st in STAGES:
        assert counts[st] == j["stats"][st]["count"]
        assert math.isclose(sums[st], j["stats"][st]["total_ms"] / 1000, rel_tol=1e-6, abs_tol=1e-9), \
            f"{st}: Prometheus sum {sums[st]} s, JSON total {j['stats'][st]['total_ms']} ms"


# ---------------------------------------------------------------------------
# Chunk counts

@pytest.mark.parametrize("batch,n", [(5, 24), (3, 7)])
def test_batched_chunk_counts(cli, data_dir, test_models, tmp_path, batch, n):
    extra = ["--batch", batch] + (["--max-frames", n] if n != N_FRAMES else [])
    out, paths, p = cli_run(cli, data_dir, test_models, tmp_path, f"b{batch}", extra=extra)
    j = stats_json(paths["json"])
    inf = records(j, "inference")
    want = math.ceil(n / batch)
    assert len(inf) == want, f"--batch {batch}, {n} frames: {len(inf)} forward passes, expected {want}"
    assert sum(r["frames"] for r in inf) == n
    assert all(r["chunks"] == 1 for r in inf), [r["chunks"] for r in inf]
    run_ = records(j, "run")[0]
    assert run_["chunks"] == want and run_["frames"] == n == wrote_frames(p.stderr) == len(frame_times(out))


def implied_chunks(n, N, O):
    return 1 if n <= N else math.ceil((n - N) / (N - O)) + 1


@pytest.mark.parametrize("N,O", [(8, 4), (6, 4), (10, 6), (8, 0), (64, 4)])
def test_temporal_chunk_counts(cli, data_dir, test_models, tmp_path, N, O):
    out, paths, p = cli_run(cli, data_dir, test_models, tmp_path, f"t{N}_{O}", model="temporal-r2-x2.pt",
                            extra=["--chunk", N, "--overlap", O])
    j = stats_json(paths["json"])
    want = implied_chunks(N_FRAMES, N, O)
    inf = records(j, "inference")
    run_ = records(j, "run")[0]
    print(f"\n--chunk {N} --overlap {O}: {len(inf)} passes keeping {[r['frames'] for r in inf]}")
    assert len(inf) == want and sum(r["chunks"] for r in inf) == want, \
        f"--chunk {N} --overlap {O} on {N_FRAMES} frames: {len(inf)} forward passes, expected {want}"
    assert run_["chunks"] == want, f"run record says {run_['chunks']} chunks, expected {want}"
    assert sum(r["frames"] for r in inf) == N_FRAMES, "every frame is kept from exactly one pass"
    assert run_["frames"] == N_FRAMES == wrote_frames(p.stderr) == len(frame_times(out))


@pytest.mark.parametrize("gran", ["run", "chunk"])
def test_granularity(cli, data_dir, test_models, tmp_path, gran):
    out, paths, p = cli_run(cli, data_dir, test_models, tmp_path, f"g{gran}", model="temporal-r2-x2.pt",
                            extra=["--granularity", gran, "--chunk", 8, "--overlap", 4])
    j = stats_json(paths["json"])
    types = {r["type"] for r in j["history"]}
    runs = records(j, "run")
    assert len(runs) == 1 and runs[0]["frames"] == N_FRAMES
    if gran == "run":
        assert types == {"run"}, f"--granularity run recorded {types}"
    else:
        want = implied_chunks(N_FRAMES, 8, 4)
        assert len(records(j, "inference")) == want
        for st in STAGES:
            rs = records(j, st)
            assert rs and len(rs) <= want + 1 and sum(r["frames"] for r in rs) == N_FRAMES, \
                f"--granularity chunk: {st} has {len(rs)} records of {[r['frames'] for r in rs]} frames"


# ---------------------------------------------------------------------------
# Failures are recorded

@pytest.mark.parametrize("model,needle", [("bad-card.pt", "not valid JSON"),
                                          ("throws-after-3.pt", "deliberate failure on call 4")])
def test_failure_recorded(cli, data_dir, test_models, tmp_path, model, needle):
    extra = ["--precision", "fp32"] if model.startswith("throws") else []
    out, paths, p = cli_run(cli, data_dir, test_models, tmp_path, "fail", model=model, extra=extra,
                            expect=1, formats=("json", "csv", "prom"))
    assert needle in p.stderr
    j = stats_json(paths["json"])
    runs = records(j, "run")
    assert len(runs) == 1, f"expected one run record: {runs}"
    r = runs[0]
    assert r["success"] is False and r["error_code"] != 0, f"the failed run is recorded as {r}"
    assert needle in (r["error_message"] or ""), f"run record message {r['error_message']!r} lacks {needle!r}"
    assert j["stats"]["run"]["failures"] == 1 and j["stats"]["run"]["successes"] == 0
    if model.startswith("throws"):
        bad = [x for x in records(j, "inference") if not x["success"]]
        assert len(bad) == 1 and needle in (bad[0]["error_message"] or ""), \
            f"the failing forward pass is not recorded: {bad}"
        assert j["stats"]["inference"]["failures"] == 1
    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert any(row["type"] == "run" and row["success"] == "0" and needle in row["error_message"] for row in rows), \
        "the CSV has no failed run row with the message"
    with open(paths["prom"]) as f:
        fams = parse_prom(f.read())
    fail = [v for name, lab, v in fams["libvsr_operations_total"]["samples"]
            if lab["type"] == "run" and lab.get("result") == "failure"]
    assert fail == [1], f"Prometheus run failures: {fail}"


# ---------------------------------------------------------------------------
# --reference: PSNR and SSIM per frame

@pytest.fixture(scope="module")
def reference(cli, data_dir, test_models, tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    ref, _, _ = cli_run(cli, data_dir, test_models, d, "ref", lossless=True, formats=())
    bic = str(d / "bicubic.mkv")
    p = run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", clip(data_dir, "real_h264.mp4"), "-map", "0:v",
             "-vf", "scale=256:144:flags=bicubic", "-c:v", "ffv1", "-pix_fmt", "gbrp16le", bic])
    assert p.returncode == 0, p.stderr
    return d, ref, bic


def quality_of(cli, data_dir, test_models, d, name, ref):
    out, paths, p = cli_run(cli, data_dir, test_models, d, name, lossless=True, extra=["--reference", ref],
                            formats=("json", "prom"))
    j = stats_json(paths["json"])
    q = j["quality"]
    assert q["frames"] == N_FRAMES, f"quality measured on {q['frames']} frames, expected {N_FRAMES}"
    pf = q["per_frame"]
    assert [x["frame"] for x in pf] == list(range(N_FRAMES)), "per-frame entries are not frames 0..23"
    ps = [x["psnr_db"] for x in pf]
    ss = [x["ssim"] for x in pf]
    assert math.isclose(q["psnr_mean"], sum(ps) / len(ps), rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(q["ssim_mean"], sum(ss) / len(ss), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(q["psnr_min"], min(ps)) and math.isclose(q["ssim_min"], min(ss))
    assert all(0 < x <= 100 for x in ps), f"PSNR outside (0, 100]: {ps}"
    assert all(-1 <= x <= 1 + 1e-9 for x in ss), f"SSIM outside [-1, 1]: {ss}"
    with open(paths["prom"]) as f:
        fams = parse_prom(f.read())
    assert [v for _, _, v in fams["libvsr_quality_frames_total"]["samples"]] == [N_FRAMES]
    return q


def test_reference_identical_run(cli, data_dir, test_models, reference):
    d, ref, _ = reference
    q = quality_of(cli, data_dir, test_models, d, "same", ref)
    print(f"\nidentical run vs REF: PSNR mean {q['psnr_mean']:.2f} dB (min {q['psnr_min']:.2f}), "
          f"SSIM mean {q['ssim_mean']:.6f}")
    assert q["psnr_min"] >= 60.0, f"an identical run is only {q['psnr_min']:.2f} dB from its reference"
    assert q["ssim_min"] >= 0.9999, f"an identical run has SSIM {q['ssim_min']}"


def test_reference_bicubic(cli, data_dir, test_models, reference):
    d, ref, bic = reference
    v = video_stream(bic)
    assert (int(v["width"]), int(v["height"])) == (256, 144)
    same = quality_of(cli, data_dir, test_models, d, "same2", ref)
    q = quality_of(cli, data_dir, test_models, d, "bic", bic)
    print(f"\nrun vs bicubic upscale: PSNR mean {q['psnr_mean']:.2f} dB, SSIM mean {q['ssim_mean']:.4f}")
    assert q["psnr_mean"] < same["psnr_mean"] - 20, \
        f"against a bicubic upscale PSNR {q['psnr_mean']:.2f} dB is not far below the identical run's"
    assert q["psnr_mean"] < 50 and q["ssim_mean"] < 0.99, f"bicubic reference scores too high: {q}"
    assert q["psnr_mean"] > 15 and q["ssim_mean"] > 0.5, f"bicubic reference scores absurdly low: {q}"
