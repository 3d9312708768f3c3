"""Cold start: `flower-edge predict BUNDLE one.jpg` against a bare 10-line LiteRT script.

Both run as fresh processes, alternating, `--repeat` times each: wall time from
spawn to exit and peak RSS (ru_maxrss from wait4). Prints the medians and the ratios
(goal: <= 1.3x on both). The bare script reads the photo with Pillow, resizes and
center-crops it, and invokes LiteRT, which is the least any tool must do.

    python benchmarks/bench_cold_start.py --bundle artifacts/mnv2-224/export/int8 \\
        --image ../shared/data/flowers5-eval/rose/<photo>.jpg
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import load_average

BARE = '''import sys, numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1]); it.allocate_tensors()
inp, out, size = it.get_input_details()[0], it.get_output_details()[0], int(sys.argv[2])
img = Image.open(sys.argv[3]).convert("RGB"); s = size / min(img.size)
img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))), Image.BILINEAR)
left, top = (img.width - size) // 2, (img.height - size) // 2
it.set_tensor(inp["index"], np.asarray(img.crop((left, top, left + size, top + size)))[None].astype(inp["dtype"]))
it.invoke(); print(int(np.argmax(it.get_tensor(out["index"])[0])))
'''


def run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--image", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    from flower_edge.runtime.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        cmds = {"bare LiteRT script": [sys.executable, str(script), str(bundle.model_path),
                                       str(bundle.image_size[0]), str(args.image)],
                "flower-edge predict": [str(Path(sys.executable).with_name("flower-edge")), "predict",
                                        str(args.bundle), str(args.image)]}
        # Bytecode as an installed package has it (pip compiles on install), even where
        # PYTHONDONTWRITEBYTECODE is set: cached in a temp folder, never in the tree.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for cmd in cmds.values():  # warm the page cache and the bytecode cache for both
            run(cmd, env)
        results = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                results[name].append(run(cmd, env))
    print(f"load average: {load_average()}, {args.repeat} runs each, medians")
    print("| command | wall s | peak RSS MB |\n|---|---|---|")
    med = {}
    for name, rows in results.items():
        med[name] = (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
        print(f"| {name} | {med[name][0]:.3f} | {med[name][1]:.1f} |")
    (bt, br), (ft, fr) = med["bare LiteRT script"], med["flower-edge predict"]
    print(f"| ratio | {ft / bt:.2f}x | {fr / br:.2f}x |")


if __name__ == "__main__":
    main()
