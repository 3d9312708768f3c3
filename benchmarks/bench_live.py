"""FPS of `flower-edge live` on a video file against a bare OpenCV + LiteRT loop, same run.

The video is made from real photos at camera size (640x480 by default, MJPG). The
bare loop is what a user would write by hand: cv2 read, BGR->RGB, cv2.resize of the
shorter side + center crop, quantize, invoke, argmax. `live` runs its real loop:
the source, the Pillow eval transform from the array, the Predictor, smoothing and
the status display (to /dev/null). Rounds alternate. It prints the median and best FPS of
each, and the CPU time per frame (all threads): on a loaded machine the best round and
the CPU time say more than the median.

    python benchmarks/bench_live.py --bundle artifacts/mnv2-224/export/int8 \
        --images ../shared/data/flowers5-eval
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import load_average, photos
from PIL import Image


def make_video(images: Path, out: Path, frames: int, size: tuple[int, int]) -> Path:
    paths = photos(images, limit=frames)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for p in paths:
        rgb = np.asarray(Image.open(p).convert("RGB").resize(size, Image.BILINEAR))
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return out


def bare_loop(video: Path, model: Path, threads) -> tuple[float, int]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model), num_threads=threads)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    h, w = inp["shape"][1:3]
    scale, zero = inp["quantization"]
    cap = cv2.VideoCapture(str(video))
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        s = max(w / rgb.shape[1], h / rgb.shape[0])
        rw, rh = max(w, round(rgb.shape[1] * s)), max(h, round(rgb.shape[0] * s))
        rgb = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_LINEAR)
        top, left = (rh - h) // 2, (rw - w) // 2
        x = rgb[top:top + h, left:left + w]
        x = (x / scale + zero).round().clip(0, 255).astype(inp["dtype"]) if scale else x.astype(inp["dtype"])
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        int(np.argmax(interp.get_tensor(out["index"])[0]))
        n += 1
    cap.release()
    return n / (time.perf_counter() - t0), (time.process_time() - c0) * 1000 / n


def live_loop(video: Path, predictor) -> tuple[float, int]:
    from flower_edge.runtime.live import Display, classify_frames
    from flower_edge.runtime.smoothing import SmoothingConfig
    from flower_edge.runtime.sources import open_source

    c0 = time.process_time()
    with open(os.devnull, "w") as sink:
        summary = classify_frames(predictor, open_source(str(video)), SmoothingConfig(),
                                  on_result=Display(sink, tty=True))
    return summary.frames / summary.seconds, (time.process_time() - c0) * 1000 / summary.frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, type=Path)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    from flower_edge.runtime.predictor import Predictor

    size = tuple(int(v) for v in args.size.split("x"))
    predictor = Predictor(args.bundle, threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(args.images, Path(tmp) / "flowers.avi", args.frames, size)
        print(f"video: {args.frames} real photos at {args.size}, MJPG; load {load_average()}")
        runs = {"bare OpenCV + LiteRT loop": [], "flower-edge live": []}
        for _ in range(args.rounds):
            runs["bare OpenCV + LiteRT loop"].append(bare_loop(video, predictor.bundle.model_path, args.threads))
            runs["flower-edge live"].append(live_loop(video, predictor))
        summary = {}
        for name, rounds in runs.items():
            fps = [r[0] for r in rounds]
            summary[name] = (statistics.median(fps), max(fps), statistics.median(r[1] for r in rounds))
            print(f"{name:<26} median {summary[name][0]:6.1f} FPS, best {summary[name][1]:6.1f} FPS, "
                  f"CPU {summary[name][2]:.2f} ms/frame  (rounds: {', '.join(f'{v:.0f}' for v in fps)})")
        (bm, bb, bc), (lm, lb, lc) = summary.values()
        print(f"live / bare: {lm / bm:.2f}x median FPS, {lb / bb:.2f}x best FPS, {bc / lc:.2f}x CPU per frame; "
              f"load {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
