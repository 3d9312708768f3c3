"""`flower-edge predict BUNDLE FOLDER` against a bare serial loop, measured in one run.

For each photo set (the evaluation photos as they are; the same photos as 12 MP
camera JPEGs made by benchmarks/camera_photos.py) and each bundle, runs as separate
processes, one after the other:

- the bare loop: the 10-line script a user would write (Pillow open, convert, resize
  the shorter side, center-crop, LiteRT invoke, one file after the other);
- `flower-edge predict BUNDLE FOLDER --json` with --decode-threads 0, 1, 2 (0 = none).

Prints images/s, the ratio to the bare loop of the same set and bundle, the peak RSS
of the whole process tree (sampled from /proc every 10 ms) and its ratio, and the
share of photos whose top-1 equals the bare loop's. Interpreter threads are the same
for both (--threads). Note the load (uptime) beside any figure you quote.

    python benchmarks/bench_predict_throughput.py --bundle artifacts/mnv2-224/export/int8 \\
        --bundle artifacts/mnv2-224/export/fp32 --limit-12mp 1500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from camera_photos import make_camera_photos
from common import load_average, photos

BARE = '''import sys, numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2])); it.allocate_tensors()
inp, out, size = it.get_input_details()[0], it.get_output_details()[0], int(sys.argv[3])
for path in open(sys.argv[4]).read().splitlines():
    img = Image.open(path).convert("RGB"); s = size / min(img.size)
    img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))), Image.BILINEAR)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    x = np.asarray(img.crop((left, top, left + size, top + size)))[None].astype(inp["dtype"])
    it.set_tensor(inp["index"], x); it.invoke(); print(path, int(np.argmax(it.get_tensor(out["index"])[0])))
'''


def _tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(row.split()[1]) for row in fh if row.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak process-tree RSS in MB, stdout) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return wall, peak[0] / 1024.0, out


def bench_set(name: str, folder: Path, paths: list[Path], bundle: Path, threads: int, workers, tmp: Path) -> list[dict]:
    from flower_edge.runtime.bundle import load_bundle

    b = load_bundle(bundle)
    listing = tmp / "list.txt"
    listing.write_text("\n".join(str(p) for p in paths))
    script = tmp / "bare.py"
    script.write_text(BARE)
    wall, rss, out = run_measured([sys.executable, str(script), str(b.model_path), str(threads),
                                   str(b.image_size[0]), str(listing)])
    bare_top = {line.rsplit(" ", 1)[0]: b.labels[int(line.rsplit(" ", 1)[1])] for line in out.splitlines()}
    rows = [{"set": name, "bundle": b.variant, "how": "bare loop", "images": len(paths), "seconds": wall,
             "images_per_s": len(paths) / wall, "peak_rss_mb": rss, "top1_same": 1.0}]
    exe = str(Path(sys.executable).with_name("flower-edge"))
    for w in workers:
        wall, rss, out = run_measured([exe, "predict", str(bundle), str(folder), "--json",
                                       "--threads", str(threads), "--decode-threads", str(w)])
        preds = json.loads(out)["predictions"]
        same = sum(bare_top.get(p["path"]) == p["label"] for p in preds) / len(paths)
        rows.append({"set": name, "bundle": b.variant, "how": f"predict --decode-threads {w}", "images": len(preds),
                     "seconds": wall, "images_per_s": len(preds) / wall, "peak_rss_mb": rss, "top1_same": same})
    for r in rows:
        r["speed_vs_bare"] = r["images_per_s"] / rows[0]["images_per_s"]
        r["rss_vs_bare"] = r["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", action="append", type=Path, required=True)
    ap.add_argument("--src", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--limit-12mp", type=int, default=300, help="12 MP photos (0 = all of --src)")
    ap.add_argument("--sets", default="eval,12mp")
    ap.add_argument("--decode-threads", default="0,1,2",
                    help="comma-separated predict --decode-threads values to time")
    ap.add_argument("--threads", type=int, default=2, help="interpreter threads, bare loop and predict alike")
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench_predict_throughput.json"))
    args = ap.parse_args()
    workers = [int(w) for w in args.decode_threads.split(",")]
    print(f"load before: {load_average()}, cores: {os.cpu_count()}", flush=True)
    print("| set | bundle | how | images | images/s | vs bare | peak RSS MB (process tree) | vs bare | "
          "top-1 same as bare |\n|" + "---|" * 9, flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.sets.split(","):
            if name == "eval":
                folder = args.src
                paths = photos(folder)  # what `predict FOLDER` reads
            else:  # a folder of symlinks, so predict sees exactly the photos made (or reused)
                made = make_camera_photos(args.src, name, args.limit_12mp if name == "12mp" else 0)
                folder = tmp / name
                for p in made:
                    (folder / p.parent.name).mkdir(parents=True, exist_ok=True)
                    (folder / p.parent.name / p.name).symlink_to(p.resolve())
                paths = photos(folder)
            for bundle in args.bundle:
                for r in bench_set(name, folder, paths, bundle, args.threads, workers, tmp):
                    rows.append(r)
                    print(f"| {r['set']} | {r['bundle']} | {r['how']} | {r['images']} | {r['images_per_s']:.1f} | "
                          f"{r['speed_vs_bare']:.2f}x | {r['peak_rss_mb']:.0f} | {r['rss_vs_bare']:.2f}x | "
                          f"{r['top1_same']:.1%} |", flush=True)
            if name != "eval":
                shutil.rmtree(folder)
    print(f"load after: {load_average()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
