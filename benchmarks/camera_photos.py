"""Camera-size JPEGs made from real photos, for the decode benchmarks.

Each photo is center-cropped to the camera's aspect ratio, upsampled (bicubic) to
12 MP (4032x3024) or 1080p (1920x1080), given a little sensor-like noise (Gaussian,
sigma 2 levels per channel) and saved as JPEG quality 90, like a phone camera's file. The class
folders are kept. Existing files are reused, so reruns are free.

    python benchmarks/camera_photos.py --src ../shared/data/flowers5-eval --kind 12mp --limit 300

Writes under artifacts/camera/<kind>/ (git-ignored); prints the folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import photos

SIZES = {"12mp": (4032, 3024), "1080p": (1920, 1080)}
NOISE_SIGMA = 2.0
QUALITY = 90


_NOISE: dict = {}


def _noise(size, seed: int):
    """Gaussian noise per channel around 128: one field per process (Pillow makes it in C,
    ~2 s at 12 MP), shifted by a per-photo offset so no two photos share their noise."""
    from PIL import Image, ImageChops

    if size not in _NOISE:
        _NOISE[size] = Image.merge("RGB", [Image.effect_noise(size, NOISE_SIGMA) for _ in range(3)])
    return ImageChops.offset(_NOISE[size], (seed * 7919) % size[0], (seed * 104729) % size[1])


def make_one(job) -> str:
    from PIL import Image, ImageChops

    src, dest, (w, h), seed = job
    if dest.exists():
        return str(dest)
    img = Image.open(src).convert("RGB")
    sw, sh = img.size
    crop_w, crop_h = (sw, round(sw * h / w)) if sw * h / w <= sh else (round(sh * w / h), sh)
    left, top = (sw - crop_w) // 2, (sh - crop_h) // 2
    big = img.crop((left, top, left + crop_w, top + crop_h)).resize((w, h), Image.BICUBIC)
    out = ImageChops.add(big, _noise((w, h), seed), scale=1.0, offset=-128)  # clips to 0..255
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    out.save(tmp, format="JPEG", quality=QUALITY)
    os.replace(tmp, dest)  # write, then rename: a killed run leaves no half file
    return str(dest)


def make_camera_photos(src: Path, kind: str, limit: int = 0, out_root: Path = Path("artifacts/camera"),
                       jobs: int = 1) -> list[Path]:
    """Camera-size copies of (up to `limit`) photos under src: their paths, in source order."""
    size = SIZES[kind]
    sources = photos(src, limit=limit)
    dests = [out_root / kind / p.relative_to(src).with_suffix(".jpg") for p in sources]
    work = [(s, d, size, i) for i, (s, d) in enumerate(zip(sources, dests))]
    todo = [job for job in work if not job[1].exists()]
    if todo:
        print(f"making {len(todo)} {kind} JPEGs in {out_root / kind} ...", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(make_one, todo, chunksize=4))
    return dests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--kind", choices=sorted(SIZES), default="12mp")
    ap.add_argument("--limit", type=int, default=0, help="at most N photos (0 = all)")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    paths = make_camera_photos(args.src, args.kind, args.limit, jobs=args.jobs)
    print(f"{len(paths)} photos in {paths[0].parents[1] if paths else '-'}")


if __name__ == "__main__":
    main()
