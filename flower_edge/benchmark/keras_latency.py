"""Keras float-model latency and memory, each thread count in a fresh process.

TensorFlow fixes its thread pools when it starts, so one process per thread
count is the only honest way to time 1, 2 and 4 threads. Memory is the peak RSS
(ru_maxrss) of that process minus its RSS right after importing TensorFlow and
tf_keras: what loading and running the model costs on top of the framework.

Run as `python -m flower_edge.benchmark.keras_latency MODEL THREADS RUNS WARMUP`;
prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys

from flower_edge.errors import FlowerEdgeError, one_line

MEMORY_METHOD = ("peak RSS growth of a fresh process over its RSS after importing the "
                 "runtime (Keras: TensorFlow + tf_keras)")


def measure_keras(model_path: str, threads: int, runs: int, warmup: int, timeout: float = 600) -> dict:
    """{load_ms, median_ms, p90_ms, peak_memory_mb} for batch-1 calls of a compiled tf.function."""
    cmd = [sys.executable, "-m", "flower_edge.benchmark.keras_latency", str(model_path),
           str(threads), str(runs), str(warmup)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FlowerEdgeError(f"Keras latency at {threads} threads took over {timeout:.0f} s; "
                              f"lower --runs") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = one_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output")
        raise FlowerEdgeError(f"Keras latency measurement failed: {tail}")
    return json.loads(lines[-1])


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _main(argv: list[str]) -> None:
    import resource
    import time

    import numpy as np

    model_path, threads, runs, warmup = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    from flower_edge.tfcompat import keras, tf

    tf_ = tf()
    tf_.config.threading.set_intra_op_parallelism_threads(threads)
    tf_.config.threading.set_inter_op_parallelism_threads(1)
    keras()
    baseline = _rss_mb()
    start = time.perf_counter()
    model = keras().models.load_model(model_path, compile=False)
    fn = tf_.function(lambda x: model(x, training=False))
    x = tf_.zeros((1,) + tuple(model.inputs[0].shape[1:]), tf_.float32)
    fn(x).numpy()  # first call traces: part of load, as an interpreter's allocate_tensors is
    load_ms = (time.perf_counter() - start) * 1000
    for _ in range(warmup):
        fn(x).numpy()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x).numpy()
        times.append((time.perf_counter() - t0) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load_ms": load_ms, "median_ms": float(np.median(times)),
                      "p90_ms": float(np.percentile(times, 90)),
                      "peak_memory_mb": max(0.0, peak - baseline)}))


if __name__ == "__main__":
    _main(sys.argv[1:])
