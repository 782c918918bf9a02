#!/usr/bin/env python3
"""Generate libvsr's test clips from real photographs (scikit-image's data).

    tools/make_test_data.py --out DIR --stamp FILE   # the test set + DIR/manifest.json
    tools/make_test_data.py --sample OUT.mp4         # the README demo clip

Every clip is a virtual camera panning and zooming over photos (astronaut,
coffee, chelsea) with a hard cut between them, so there is motion, texture and
colour. Good clips made from a known RGB source keep that source next to them
as <name>.rgb (RGB24 frames concatenated) for colour comparisons. The manifest
records what ffprobe/ffmpeg report for each file (codec, pixel format, colour
tags, size, frame count, exact video pts, streams), plus what the file is meant
to prove. A second run with an unchanged generator reuses the files.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from skimage import data as skdata
from skimage.transform import rescale

FPS = 24
W, H = 128, 72  # small: the real network must get through the clips quickly on 2 cores
PHOTOS = ("astronaut", "coffee", "chelsea")
# Camera path per photo: (centre x, centre y, window width) as fractions of the
# photo, at the start and at the end of its scene.
PATHS = {
    "astronaut": ((0.35, 0.30, 0.60), (0.62, 0.42, 0.48)),
    "coffee": ((0.50, 0.50, 0.80), (0.45, 0.55, 0.50)),
    "chelsea": ((0.40, 0.45, 0.55), (0.60, 0.40, 0.70)),
}


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------
# Frames

_photo_cache = {}


def photo(name, out_w):
    """The photo as float RGB, pre-shrunk (with anti-aliasing) so that a camera
    window maps onto roughly out_w pixels: sampling it bilinearly then neither
    aliases nor blurs much."""
    key = (name, out_w)
    if key not in _photo_cache:
        img = getattr(skdata, name)()[..., :3].astype(np.float32) / 255.0
        f = min(1.0, out_w / (0.5 * img.shape[1]))
        if f < 1.0:
            img = rescale(img, f, channel_axis=2, anti_aliasing=True, order=1)
        _photo_cache[key] = img.astype(np.float32)
    return _photo_cache[key]


def sample(img, cx, cy, cw, w, h):
    """Bilinear view of img: window centred (cx, cy), cw wide, same aspect as w x h."""
    ih, iw = img.shape[:2]
    ch = cw * h / w
    # Keep the window inside the photo.
    cx = min(max(cx, cw / 2), iw - cw / 2)
    cy = min(max(cy, ch / 2), ih - ch / 2)
    xs = cx - cw / 2 + (np.arange(w) + 0.5) * (cw / w) - 0.5
    ys = cy - ch / 2 + (np.arange(h) + 0.5) * (ch / h) - 0.5
    x0 = np.clip(np.floor(xs).astype(int), 0, iw - 2)
    y0 = np.clip(np.floor(ys).astype(int), 0, ih - 2)
    fx = np.clip(xs - x0, 0, 1)[None, :, None]
    fy = np.clip(ys - y0, 0, 1)[:, None, None]
    a = img[y0][:, x0]
    b = img[y0][:, x0 + 1]
    c = img[y0 + 1][:, x0]
    d = img[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def render(n, w, h):
    """n RGB24 frames [n, h, w, 3]: one scene per photo (up to 3), hard cuts between."""
    scenes = 1 if n < 8 else (2 if n < 48 else 3)
    frames = []
    for i in range(n):
        s = min(scenes - 1, i * scenes // n)
        first = (s * n + scenes - 1) // scenes
        last = ((s + 1) * n + scenes - 1) // scenes - 1
        t = 0.0 if last <= first else (i - first) / (last - first)
        t = t * t * (3 - 2 * t)  # ease in/out, like a camera operator
        img = photo(PHOTOS[s], w)
        ih, iw = img.shape[:2]
        (x0, y0, w0), (x1, y1, w1) = PATHS[PHOTOS[s]]
        cx, cy, cw = (x0 + (x1 - x0) * t) * iw, (y0 + (y1 - y0) * t) * ih, (w0 + (w1 - w0) * t) * iw
        cw = min(cw, iw, ih * w / h)
        frames.append(sample(img, cx, cy, cw, w, h))
    return (np.clip(np.stack(frames), 0, 1) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------
# ffmpeg / ffprobe

def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r


def ffprobe_json(path, *args):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, path],
                       capture_output=True, text=True)
    return json.loads(r.stdout or "{}"), r.returncode


def audio_input(seconds):
    """A lavfi source: two tones and a third that starts half-way."""
    expr = ("0.20*sin(2*PI*440*t)+0.10*sin(2*PI*660*t)"
            f"+0.08*sin(2*PI*880*t)*gte(t,{seconds / 2:.3f})")
    return ["-f", "lavfi", "-i", f"aevalsrc='{expr}':s=48000:c=stereo:d={seconds:.4f}"]


BT709 = ("bt709", "bt709", "bt709", "tv")  # primaries, transfer, matrix, range
BT601 = ("smpte170m", "smpte170m", "smpte170m", "tv")
HDR10 = ("bt2020", "smpte2084", "bt2020nc", "tv")


def colour(pix_fmt, tagset=BT709, matrix=None, pre=None):
    """ffmpeg args: RGB -> pix_fmt with an explicit matrix and range (swscale
    would default to BT.601 limited), frames and stream tagged with tagset.
    setparams tags the frames too, as some encoders (prores_ks) read the tags
    from the frames rather than from the codec options."""
    prim, trc, space, rng = tagset
    chain = [pre] if pre else []
    if space != "rgb":
        # swscale's names for the conversion matrix of each colorspace tag
        matrix = matrix or {"bt470bg": "bt601", "bt2020nc": "bt2020"}.get(space, space)
        chain.append(f"scale=out_color_matrix={matrix}:out_range={'full' if rng == 'pc' else 'tv'}")
    chain.append(f"format={pix_fmt}")
    chain.append(f"setparams=range={rng}:color_primaries={prim}:color_trc={trc}:"
                 f"colorspace={'gbr' if space == 'rgb' else space}")
    return ["-vf", ",".join(chain), "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
            "-color_primaries", prim, "-color_trc", trc, "-colorspace", space, "-color_range", rng]


def encode(rgb_path, n, w, h, out, video_args, audio=None):
    """Encode raw RGB24 frames (n of w x h at FPS) with ffmpeg."""
    cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-framerate", str(FPS), "-i", rgb_path]
    if audio:
        cmd += audio_input(n / FPS)
    cmd += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    cmd += list(video_args)
    if audio:
        cmd += ["-c:a", audio, "-b:a", "96k"]
    # No -frames:v/-shortest: the raw input holds exactly n frames and the audio
    # source lasts exactly as long, while those options would close the output
    # when the video ends in processing order and cut the audio short.
    cmd.append(out)
    run(cmd)


def jpeg_frames(rgb_path, n, w, h, tmp):
    """The frames as separate JPEG files (full-range BT.601, as MJPEG stores them)."""
    d = tempfile.mkdtemp(dir=tmp)
    run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{w}x{h}", "-framerate", str(FPS), "-i", rgb_path, "-c:v", "mjpeg", "-q:v", "3",
         *colour("yuvj420p", ("bt470bg", "smpte170m", "bt470bg", "pc")), os.path.join(d, "%04d.jpg")])
    names = sorted(os.listdir(d))
    if len(names) != n:
        raise SystemExit(f"jpeg_frames: {len(names)} JPEG files for {n} frames")
    return [open(os.path.join(d, f), "rb").read() for f in names]


def write_avi(path, jpegs, w, h, dropped_at_end):
    """An MJPEG AVI as capture programs write one: frames they dropped stay
    in the file as empty '00dc' chunks (and idx1 entries of size 0), and
    the headers count them, so the declared length is longer than the
    pictures cover. Written here because FFmpeg's muxer never ends a file
    with dropped frames."""
    def chunk(tag, data):
        return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    def lst(kind, data):
        return chunk(b"LIST", kind + data)

    frames = list(jpegs) + [b""] * dropped_at_end
    total, biggest = len(frames), max(len(j) for j in jpegs)
    movi, idx1, offset = b"", b"", 4  # idx1 offsets count from the 'movi' tag
    for data in frames:
        idx1 += b"00dc" + struct.pack("<III", 0x10 if data else 0, offset, len(data))  # 0x10: key frame
        c = chunk(b"00dc", data)
        movi += c
        offset += len(c)
    # avih: usec/frame, max bytes/s, padding, flags (has index), frames, initial, streams,
    # buffer size, width, height, 4 reserved
    avih = struct.pack("<10I16x", 1000000 // FPS, biggest * FPS, 0, 0x10, total, 0, 1, biggest, w, h)
    # strh: type, handler, flags, priority, language, initial frames, scale, rate (fps = rate/scale),
    # start, length, buffer size, quality (-1: default), sample size, frame rectangle
    strh = b"vids" + b"MJPG" + struct.pack("<IHHIIIIIIiI4h", 0, 0, 0, 0, 1, FPS, 0, total, biggest, -1, 0,
                                          0, 0, w, h)
    # strf: BITMAPINFOHEADER
    strf = struct.pack("<IiiHH4sIiiII", 40, w, h, 1, 24, b"MJPG", w * h * 3, 0, 0, 0, 0)
    hdrl = lst(b"hdrl", chunk(b"avih", avih) + lst(b"strl", chunk(b"strh", strh) + chunk(b"strf", strf)))
    with open(path, "wb") as f:
        f.write(chunk(b"RIFF", b"AVI " + hdrl + lst(b"movi", movi) + chunk(b"idx1", idx1)))


# ---------------------------------------------------------------------------
# Manifest entries

def probe(path):
    """Stream and frame facts for the manifest, straight from ffprobe."""
    info, _ = ffprobe_json(path, "-show_streams", "-show_format", "-show_chapters")
    streams = info.get("streams", [])
    v = next((s for s in streams if s.get("codec_type") == "video"), None)
    e = {
        "has_audio": any(s.get("codec_type") == "audio" for s in streams),
        "has_subtitles": any(s.get("codec_type") == "subtitle" for s in streams),
        "n_attachments": sum(1 for s in streams if s.get("codec_type") == "attachment"),
        "n_chapters": len(info.get("chapters", [])),
        "title": info.get("format", {}).get("tags", {}).get("title"),
        "audio_codec": next((s["codec_name"] for s in streams if s.get("codec_type") == "audio"), None),
    }
    if v is None:
        return e
    e.update({
        "codec": v.get("codec_name"),
        "pix_fmt": v.get("pix_fmt"),
        "color_range": v.get("color_range", "unknown"),
        "color_space": v.get("color_space", "unknown"),
        "color_primaries": v.get("color_primaries", "unknown"),
        "color_transfer": v.get("color_transfer", "unknown"),
        "width": v.get("width"),
        "height": v.get("height"),
        "time_base": v.get("time_base"),
        "avg_frame_rate": v.get("avg_frame_rate"),
    })
    fr, _ = ffprobe_json(path, "-select_streams", "v:0", "-show_frames",
                         "-show_entries", "frame=pts,best_effort_timestamp,side_data_list")
    frames = fr.get("frames", [])
    e["frames"] = len(frames)
    e["pts"] = [f.get("pts", f.get("best_effort_timestamp")) for f in frames]
    # Keep the side data that matters (HDR metadata etc.), not encoder banners.
    if e["has_audio"]:
        ap, _ = ffprobe_json(path, "-select_streams", "a:0", "-show_entries",
                             "packet=pts_time,duration_time")
        pk = [p for p in ap.get("packets", []) if "pts_time" in p]
        e["audio_end"] = round(max((float(p["pts_time"]) + float(p.get("duration_time", 0))
                                    for p in pk), default=0.0), 3)
    side = [sd for sd in (frames[0].get("side_data_list", []) if frames else [])
            if "User Data Unregistered" not in sd.get("side_data_type", "")]
    if side:
        e["frame_side_data"] = side
    return e


def ffmpeg_decode(path):
    """(frames decoded, decode errors reported) by `ffmpeg -i path -f null -`."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:1", "-i", path,
                        "-map", "0:v:0?", "-f", "null", "-"], capture_output=True, text=True)
    counts = [int(ln.split("=")[1]) for ln in r.stdout.splitlines() if ln.startswith("frame=")]
    return (counts[-1] if counts else 0), r.returncode, r.stderr.strip().splitlines()[:5]


# ---------------------------------------------------------------------------

class Builder:
    def __init__(self, out):
        self.out = os.path.abspath(out)
        self.entries = []
        self.seek_entries = []
        self.tmp = tempfile.mkdtemp(prefix="vsr-data-")

    def path(self, name):
        return os.path.join(self.out, name)

    def source(self, name, n, w=W, h=H, keep=True):
        """Render frames to <name>.rgb (in DIR if kept as the clip's reference)."""
        p = self.path(name + ".rgb") if keep else os.path.join(self.tmp, name + ".rgb")
        render(n, w, h).tofile(p)
        return p

    def good(self, name, desc, n, video_args, audio=None, w=W, h=H, rgb=True, kind="good", **kw):
        src = self.source(name, n, w, h)
        encode(src, n, w, h, self.path(name), video_args, audio, **kw)
        e = self.add(name, kind, "ok", desc)
        e["source_rgb"] = src if rgb else None
        if not rgb:
            os.unlink(src)
        if e.get("frames") != n:
            raise SystemExit(f"{name}: decodes to {e.get('frames')} frames, expected {n}")
        return e

    def good_seek(self, *a, **kw):
        """A clip for the seek tests only: listed under "seek_files", apart
        from the corpus every other test runs through."""
        n = len(self.entries)
        e = self.good(*a, kind="seek", **kw)
        self.seek_entries += self.entries[n:]
        del self.entries[n:]
        return e

    def add(self, name, kind, expected, desc, exists=True):
        e = {"name": name, "path": self.path(name), "kind": kind, "expected": expected,
             "description": desc}
        keys = ("codec", "pix_fmt", "color_range", "color_space", "width", "height", "frames",
                "pts", "time_base", "has_audio", "has_subtitles", "n_attachments")
        for k in keys:
            e[k] = None
        e.update({"frames": 0, "pts": [], "has_audio": False, "has_subtitles": False,
                  "n_attachments": 0, "source_rgb": None})
        if exists and os.path.getsize(e["path"]) > 0:
            e.update(probe(e["path"]))
        self.entries.append(e)
        log(f"  {name}: {e.get('codec')} {e.get('pix_fmt')} {e.get('width')}x{e.get('height')} "
            f"{e['frames']} frames")
        return e

    def damaged(self, e):
        """Record what ffmpeg itself makes of a damaged file."""
        n, rc, errs = ffmpeg_decode(e["path"])
        e["ffmpeg_decoded_frames"] = n
        e["ffmpeg_exit_code"] = rc
        e["ffmpeg_errors"] = errs
        e["decoded_pts"] = e["pts"]
        if n != e["frames"]:
            log(f"  note: {e['name']}: ffmpeg decodes {n} frames, ffprobe {e['frames']}")


def build_all(out):
    os.makedirs(out, exist_ok=True)
    b = Builder(out)
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16"]

    b.good("real_h264.mp4", "H.264 4:2:0 limited range tagged BT.709 with AAC audio: the common case; "
           "colours must decode with the BT.709 matrix", 24,
           h264 + colour("yuv420p"), audio="aac")
    b.good("real_bt601.mkv", "H.264 tagged BT.601 (smpte170m): the decoder must honour the matrix tag",
           24, h264 + colour("yuv420p", BT601), audio="aac")
    b.good("full_range.mkv", "MJPEG yuvj420p full range (BT.601 matrix): range must be honoured",
           24, ["-c:v", "mjpeg", "-q:v", "2"]
           + colour("yuvj420p", ("bt470bg", "smpte170m", "bt470bg", "pc")))
    b.good("yuv444_ffv1.mkv", "FFV1 yuv444p, lossless: decoded YUV is exact, tests the YUV->RGB "
           "conversion alone", 24, ["-c:v", "ffv1", "-level", "3"]
           + colour("yuv444p"))
    b.good("rgb_ffv1.mkv", "FFV1 gbrp: RGB stored losslessly, decoded frames equal the source exactly",
           24, ["-c:v", "ffv1", "-level", "3"] + colour("gbrp", ("bt709", "iec61966-2-1", "rgb", "pc")))
    b.good("hevc10.mkv", "HEVC Main10 yuv420p10le BT.709 with AAC: 10-bit decode path", 24,
           ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "16", "-x265-params", "log-level=error"]
           + colour("yuv420p10le"), audio="aac")
    b.good("prores.mov", "ProRes 422 HQ yuv422p10le: 4:2:2 10-bit intra codec", 24,
           ["-c:v", "prores_ks", "-profile:v", "3", "-movflags", "+write_colr"]
           + colour("yuv422p10le"))
    b.good("vp9.webm", "VP9 + Opus in WebM", 24,
           ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "20",
            "-row-mt", "1"] + colour("yuv420p"), audio="libopus")
    b.good("av1.mkv", "AV1 (SVT-AV1, fast preset)", 24,
           ["-c:v", "libsvtav1", "-preset", "12", "-crf", "30", "-svtav1-params", "lp=2"]
           + colour("yuv420p"))
    b.good("ffv1_10bit.mkv", "FFV1 yuv444p10le, lossless 10-bit", 24,
           ["-c:v", "ffv1", "-level", "3"] + colour("yuv444p10le"))

    # Irregular timestamps: every third interval is 1.5 frames long, so the
    # output must keep the input pts rather than assume a constant rate.
    e = b.good("vfr.mkv", "variable frame rate H.264: every third frame interval is 1.5x longer; "
               "output pts must follow the input", 24,
               h264 + colour("yuv420p", pre="settb=1/1000,setpts='(N+0.5*floor(N/3))/(24*TB)'")
               + ["-fps_mode", "vfr", "-enc_time_base", "1/1000"])
    d = np.diff(e["pts"])
    if len(set(d.tolist())) < 2:
        raise SystemExit(f"vfr.mkv: pts intervals are regular: {e['pts']}")

    # Everything a remux must carry across: audio, subtitles, a font attachment,
    # chapters and a container title.
    secs = 24 / FPS
    srt = os.path.join(b.tmp, "subs.srt")
    with open(srt, "w") as f:
        f.write("1\n00:00:00,000 --> 00:00:00,400\nAn astronaut.\n\n"
                "2\n00:00:00,500 --> 00:00:00,950\nA cup of coffee.\n")
    meta = os.path.join(b.tmp, "meta.txt")
    with open(meta, "w") as f:
        f.write(";FFMETADATA1\ntitle=libvsr test clip with every kind of stream\n"
                "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=Astronaut\n"
                f"[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND={int(secs * 1000)}\ntitle=Coffee\n")
    font = find_font(b.tmp)
    src = b.source("streams.mkv", 24)
    run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", src, *audio_input(secs), "-i", srt,
         "-f", "ffmetadata", "-i", meta, "-map", "0:v", "-map", "1:a", "-map", "2:s",
         "-map_metadata", "3", "-map_chapters", "3", *h264,
         *colour("yuv420p"), "-c:a", "aac", "-c:s", "srt",
         "-attach", font, "-metadata:s:t", "mimetype=application/x-truetype-font",
         "-metadata:s:t", "filename=" + os.path.basename(font),
         b.path("streams.mkv")])
    e = b.add("streams.mkv", "good", "ok", "video + AAC audio + SRT subtitles + a TTF attachment + "
              "2 chapters + a title: all must survive the remux")
    e["source_rgb"] = src

    # HDR10: PQ/BT.2020 tags plus mastering display and content light level SEI.
    master = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    e = b.good("hdr10.mkv", "HEVC 10-bit tagged BT.2020/PQ with mastering-display and MaxCLL "
               "metadata: HDR tags and side data must be passed through (the pixels are the SDR "
               "source's code values under the BT.2020 matrix, not a real PQ grade)", 24,
               ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "16", "-x265-params",
                f"log-level=error:hdr10=1:hdr10-opt=1:master-display={master}:max-cll=1000,400:"
                "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"]
               + colour("yuv420p10le", HDR10))
    kinds = {s.get("side_data_type") for s in e.get("frame_side_data", [])}
    if not {"Mastering display metadata", "Content light level metadata"} <= kinds:
        raise SystemExit(f"hdr10.mkv: HDR side data missing from the decoded frames: {kinds}")
    e["hdr"] = {"master_display": master, "max_cll": 1000, "max_fall": 400}

    b.good("odd_321x239.mkv", "odd width and height (FFV1 yuv444p): no even-size assumptions", 12,
           ["-c:v", "ffv1", "-level", "3"] + colour("yuv444p"),
           w=321, h=239)
    b.good("single_frame.mp4", "a one-frame H.264 clip", 1,
           h264 + colour("yuv420p"))
    b.good("long_120.mkv", "120 frames, 3 scenes (two cuts): for temporal chunking and resume", 120,
           h264 + colour("yuv420p"))

    # Frame-exact seeking (lib/seek.c, tests/unit/test_seek.c): GOP structures
    # a seek must get right, each seeked to every frame. Open GOP: B-frames
    # after a keyframe in decode order that show before it and reference the
    # GOP before (x264 open-gop, HEVC CRA with RASL pictures); scene cuts add
    # keyframes off the keyint grid. They are listed apart ("seek_files"):
    # the corpus checks (colours, containers, timestamps after vsr-cli) are
    # not what they are for, and some have frames without any timestamp.
    open_gop = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-x264-params",
                "bframes=3:b-pyramid=normal:keyint=12:min-keyint=4:open-gop=1"]
    b.good_seek("seek_h264_open_gop.mp4", "H.264 open GOP, 3 B-frames, keyint 12, in MP4 (a demuxer "
           "that indexes keyframes by dts): seeking to every frame", 96, open_gop + colour("yuv420p"))
    b.good_seek("seek_h264_open_gop.mkv", "H.264 open GOP, 3 B-frames, keyint 12, in Matroska (keyframes "
           "indexed by pts): seeking to every frame", 96, open_gop + colour("yuv420p"))
    b.good_seek("seek_hevc_cra.mkv", "HEVC open GOP (CRA keyframes with leading RASL pictures), 3 "
           "B-frames, keyint 12: seeking to every frame", 96,
           ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "20", "-x265-params",
            "log-level=error:keyint=12:min-keyint=4:open-gop=1:bframes=3"] + colour("yuv420p"))
    b.good_seek("seek_ffv1_gop8.mkv", "FFV1 with a keyframe every 8 frames (frames between carry the "
           "entropy coder's state): seeking to every frame", 48,
           ["-c:v", "ffv1", "-level", "3", "-g", "8"] + colour("yuv420p"))
    e = b.good_seek("seek_vfr.mkv", "variable frame rate H.264, 2 B-frames, keyint 8: seeking by pts "
               "must not assume a constant rate", 72,
               ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-x264-params", "bframes=2:keyint=8"]
               + colour("yuv420p", pre="settb=1/1000,setpts='(N+0.5*floor(N/3))/(24*TB)'")
               + ["-fps_mode", "vfr", "-enc_time_base", "1/1000"])
    if len(set(np.diff(e["pts"]).tolist())) < 2:
        raise SystemExit(f"seek_vfr.mkv: pts intervals are regular: {e['pts']}")
    b.good_seek("seek_mjpeg.avi", "MJPEG (every frame a keyframe) in AVI: seeking to every frame", 48,
           ["-c:v", "mjpeg", "-q:v", "3"] + colour("yuvj420p", ("bt470bg", "smpte170m", "bt470bg", "pc")))
    b.good_seek("seek_h264_bframes.avi", "H.264 open GOP with B-frames in AVI: the packets have dts "
                "but no pts, so the index comes from decoding and a seek counts frames from the start",
                48, open_gop + colour("yuv420p"))
    b.good_seek("seek_raw.h264", "a raw H.264 stream (open GOP, B-frames): no container, no "
                "timestamps, no index; only a byte seek rewinds it", 48,
                open_gop + colour("yuv420p") + ["-f", "h264"])

    # Scale-out and resume (tests/e2e/test_scale_*.py): H.264 with open GOPs and
    # B-frames (keyframes every 12 frames, so segment cuts fall mid-GOP) plus
    # everything a stitch must carry across its joins: AAC audio that lasts
    # longer than the video, SRT subtitles (a cue spans a typical cut), two
    # chapters and a title.
    n, secs = 96, 96 / FPS
    srt = os.path.join(b.tmp, "scale.srt")
    with open(srt, "w") as f:
        f.write("1\n00:00:00,100 --> 00:00:00,900\nAn astronaut.\n\n"
                "2\n00:00:01,200 --> 00:00:02,300\nA cup of coffee, across a cut.\n\n"
                "3\n00:00:03,000 --> 00:00:03,900\nA cat.\n")
    meta = os.path.join(b.tmp, "scale_meta.txt")
    with open(meta, "w") as f:
        f.write(";FFMETADATA1\ntitle=libvsr scale-out test clip\ncomment=segments must keep this\n"
                "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=First\n"
                f"[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND={int(secs * 1000)}\ntitle=Second\n")
    src = b.source("scale_streams.mkv", n)
    run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", src, *audio_input(secs + 0.5), "-i", srt,
         "-f", "ffmetadata", "-i", meta, "-map", "0:v", "-map", "1:a", "-map", "2:s",
         "-map_metadata", "3", "-map_chapters", "3", *open_gop, *colour("yuv420p"),
         "-c:a", "aac", "-b:a", "96k", "-c:s", "srt", b.path("scale_streams.mkv")])
    first = len(b.entries)
    e = b.add("scale_streams.mkv", "seek", "ok", "H.264 open GOP with 3 B-frames, keyint 12, AAC audio "
              "longer than the video, SRT subtitles, 2 chapters and a title: scale-out segments, "
              "cut mid-GOP, stitched with every stream")
    e["source_rgb"] = src
    if e["frames"] != n or not e["has_audio"] or not e["has_subtitles"] or e["n_chapters"] != 2:
        raise SystemExit(f"scale_streams.mkv: not what was asked for: {e}")
    b.seek_entries += b.entries[first:]
    del b.entries[first:]

    # ----- intact files whose header declares more than their packets cover:
    # not damaged (at most a notice)
    src = b.source("dropped_frames", 24, keep=False)
    write_avi(b.path("dropped_frames.avi"), jpeg_frames(src, 24, W, H, b.tmp), W, H, dropped_at_end=12)
    e = b.add("dropped_frames.avi", "short", "ok", "an intact MJPEG AVI whose capture dropped its last 12 "
              "frames: the headers declare 36 frames (1.5 s), the pictures cover 24 (1.0 s); a short file "
              "is not damage")
    if e["frames"] != 24:
        raise SystemExit(f"dropped_frames.avi: ffprobe decodes {e['frames']} frames, expected 24")

    # ----- bad inputs
    open(b.path("zero_length.mp4"), "wb").close()
    b.add("zero_length.mp4", "bad", "error", "an empty file: must fail cleanly", exists=False)
    with open(b.path("text.mp4"), "w") as f:
        f.write("This is a text file, not a video, whatever its name says.\n" * 20)
    b.add("text.mp4", "bad", "error", "a text file named .mp4: must fail cleanly", exists=False)

    whole = os.path.join(b.tmp, "whole.mkv")
    encode(b.source("whole", 24, keep=False), 24, W, H, whole,
           h264 + ["-g", "6"] + colour("yuv420p"))
    blob = open(whole, "rb").read()
    with open(b.path("truncated.mkv"), "wb") as f:
        f.write(blob[:len(blob) * 6 // 10])
    e = b.add("truncated.mkv", "bad", "damaged", "a 24-frame MKV cut at 60% of its bytes: the frames "
              "before the cut decode, then the input ends early; must not hang or crash")
    b.damaged(e)

    # Overwrite a run in the middle with a fixed pseudo-random pattern.
    bad = bytearray(blob)
    mid = len(bad) // 2
    bad[mid:mid + 512] = np.random.default_rng(99).integers(0, 256, 512, dtype=np.uint8).tobytes()
    with open(b.path("corrupt.mkv"), "wb") as f:
        f.write(bad)
    e = b.add("corrupt.mkv", "bad", "damaged", "a 24-frame MKV with 512 bytes overwritten in the "
              "middle: decoding must survive the damage (errors reported, no crash)")
    b.damaged(e)

    # An AVI cut short: its RIFF header declares the whole file.
    whole = os.path.join(b.tmp, "whole.avi")
    encode(b.source("whole_avi", 24, keep=False), 24, W, H, whole, ["-c:v", "mjpeg", "-q:v", "3"]
           + colour("yuvj420p", ("bt470bg", "smpte170m", "bt470bg", "pc")))
    blob = open(whole, "rb").read()
    with open(b.path("truncated.avi"), "wb") as f:
        f.write(blob[:len(blob) * 6 // 10])
    e = b.add("truncated.avi", "bad", "damaged", "a 24-frame MJPEG AVI cut at 60% of its bytes (its index "
              "at the end is lost): the frames before the cut decode, and the file is reported damaged")
    b.damaged(e)

    moov = os.path.join(b.tmp, "moov.mp4")
    encode(b.source("moov", 24, keep=False), 24, W, H, moov, h264 + colour("yuv420p"))
    blob = open(moov, "rb").read()
    if blob.find(b"moov") < blob.find(b"mdat"):
        raise SystemExit("truncated_moov.mp4: expected the moov atom after mdat")
    with open(b.path("truncated_moov.mp4"), "wb") as f:
        f.write(blob[:len(blob) // 2])
    e = b.add("truncated_moov.mp4", "bad", "error", "an MP4 whose moov (at the end) is cut off: "
              "nothing is decodable")
    b.damaged(e)

    with open(b.path("huge_dims.y4m"), "wb") as f:
        f.write(b"YUV4MPEG2 W65535 H65535 F24:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64))
    b.add("huge_dims.y4m", "bad", "error", "a Y4M header claiming 65535x65535 with a 64-byte body: "
          "must be refused before allocating frames", exists=False)
    b.add("missing.mp4", "bad", "error", "does not exist: must fail with a clear error", exists=False)
    if os.path.exists(b.path("missing.mp4")):
        os.unlink(b.path("missing.mp4"))
    shutil.rmtree(b.tmp, ignore_errors=True)
    return b.entries, b.seek_entries


def find_font(tmp):
    for root in ("/usr/share/fonts", "/usr/local/share/fonts"):
        for dirpath, _, files in sorted(os.walk(root)):
            for fn in sorted(files):
                if fn.lower().endswith(".ttf"):
                    return os.path.join(dirpath, fn)
    # No font on this machine: a stand-in with a TrueType header is enough to
    # test that attachments are carried across.
    p = os.path.join(tmp, "dummy.ttf")
    with open(p, "wb") as f:
        f.write(b"\x00\x01\x00\x00" + bytes(252))
    return p


def generator_hash():
    h = hashlib.sha256(open(os.path.abspath(__file__), "rb").read())
    h.update(subprocess.run(["ffmpeg", "-version"], capture_output=True).stdout[:200])
    return h.hexdigest()


def up_to_date(out):
    """True if DIR holds a complete set from this very generator."""
    try:
        with open(os.path.join(out, "manifest.json")) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    if m.get("generator") != generator_hash() or m.get("dir") != os.path.abspath(out):
        return False
    for e in m["files"] + m.get("seek_files", []):
        if e["name"] != "missing.mp4" and not os.path.exists(e["path"]):
            return False
        if e.get("source_rgb") and not os.path.exists(e["source_rgb"]):
            return False
    return True


def make_sample(out):
    """The README demo: 320x180, 3 s, three photos with two cuts, H.264 + AAC."""
    n, w, h = 72, 320, 180
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "sample.rgb")
        render(n, w, h).tofile(src)
        encode(src, n, w, h, out, ["-c:v", "libx264", "-preset", "medium", "-crf", "18"]
               + colour("yuv420p") + ["-movflags", "+faststart"],
               audio="aac")
    log(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="directory for the test clips and manifest.json")
    ap.add_argument("--stamp", help="file written last, when everything is in place")
    ap.add_argument("--sample", metavar="OUT.mp4", help="write only the README demo clip")
    a = ap.parse_args()
    if a.sample:
        make_sample(a.sample)
        return
    if not a.out:
        ap.error("--out (or --sample) is required")
    if up_to_date(a.out):
        log(f"{a.out}: test data up to date")
    else:
        log(f"generating test data in {a.out}")
        entries, seek_entries = build_all(a.out)
        manifest = {"format": "libvsr-test-data", "version": 1, "dir": os.path.abspath(a.out),
                    "generator": generator_hash(), "fps": FPS, "files": entries,
                    "seek_files": seek_entries}
        tmp = os.path.join(a.out, "manifest.json.tmp")
        with open(tmp, "w") as f:
            json.dump(manifest, f, indent=1)
        os.replace(tmp, os.path.join(a.out, "manifest.json"))
    if a.stamp:
        with open(a.stamp, "w") as f:
            f.write("test data generated by tools/make_test_data.py\n")


if __name__ == "__main__":
    sys.exit(main())
