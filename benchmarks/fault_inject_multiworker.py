"""Fault injection for multi-worker training: kill a worker at random points, restart.

One uninterrupted two-worker run first (the reference). Then TRIALS times: start the
same job, SIGKILL a random worker at a random point of its training (a random epoch,
at a random fraction of the reference's epoch time into it), stop the job as a cluster
manager would, run the same command again, and check that the restarted job finished
with every epoch exactly once. Prints, per trial, when the kill came and what the restart did, then how many
trials completed every epoch and the final test accuracy against the reference.

Bounded: every job has a timeout, and the whole script stops after --budget seconds.

  python benchmarks/fault_inject_multiworker.py --trials 5 --epochs 6 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flower_edge.data.synthetic import write_synthetic  # noqa: E402
from flower_edge.train.local_cluster import launch  # noqa: E402

JOB_TIMEOUT = 300


def train_args(data: Path, out: Path, epochs: int) -> list:
    return ["--data", data, "--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32",
            "--batch-size", "32", "--epochs", epochs, "--schedule", "constant", "--seed", "0",
            "--out", out / "mw"]


def wait(procs, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001  (a hung job counts as failed)
            proc.kill()
            proc.wait()
    return [p.returncode for p in procs]


def result(run: Path) -> tuple[list[int], float | None]:
    """(epochs in history.csv, test top-1) of a finished run."""
    try:
        with open(run / "history.csv", newline="") as fh:
            epochs = [int(r["epoch"]) for r in csv.DictReader(fh)]
        metrics = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return [], None
    return epochs, metrics["test"]["top1"]


def reference(data: Path, work: Path, epochs: int) -> tuple[float, float, float]:
    """(wall seconds, median epoch seconds, test top-1) of an uninterrupted job."""
    out = work / "reference"
    start = time.monotonic()
    codes = wait(launch(2, train_args(data, out, epochs), work / "logs-ref"), JOB_TIMEOUT)
    took = time.monotonic() - start
    epochs_seen, acc = result(out / "mw")
    if codes != [0, 0] or epochs_seen != list(range(epochs)):
        sys.exit(f"the uninterrupted reference run failed ({codes}); see {work}/logs-ref")
    with open(out / "mw" / "history.csv", newline="") as fh:
        seconds = sorted(float(r["seconds"]) for r in csv.DictReader(fh))
    return took, seconds[len(seconds) // 2], acc


def wait_for_epoch(state: Path, log: Path, epoch: int, timeout: float) -> None:
    """Until `epoch` is committed (-1: until the worker has started training)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if epoch < 0 and log.is_file() and "training" in log.read_text(errors="replace"):
            return
        if epoch >= 0 and state.is_file():
            try:
                if json.loads(state.read_text())["epoch"] >= epoch:
                    return
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.02)


def trial(i: int, rng: random.Random, data: Path, work: Path, epochs: int, epoch_s: float) -> dict:
    out = work / f"trial-{i}"
    victim, after, fraction = rng.randrange(2), rng.randrange(-1, epochs - 1), rng.random()
    procs = launch(2, train_args(data, out, epochs), work / f"logs-{i}a")
    state = out / "mw" / "checkpoints" / "state.json"
    wait_for_epoch(state, work / f"logs-{i}a" / "worker-0.log", after, JOB_TIMEOUT)
    time.sleep(fraction * epoch_s)  # into epoch after+1 (or into start-up and epoch 0)
    killed_alive = procs[victim].poll() is None
    procs[victim].send_signal(signal.SIGKILL)
    other = procs[1 - victim]
    try:  # the job stops; give TensorFlow a moment, then stop it like a cluster manager
        other.wait(timeout=5)
    except Exception:  # noqa: BLE001
        other.kill()
    wait(procs, 30)
    committed = json.loads(state.read_text())["epoch"] if state.is_file() else None
    finished_before = (out / "mw" / "model.keras").is_file()
    codes = wait(launch(2, train_args(data, out, epochs), work / f"logs-{i}b"), JOB_TIMEOUT)
    seen, acc = result(out / "mw")
    return {"trial": i, "killed": f"worker {victim}", "after_epoch": after,
            "into_next_epoch": round(fraction, 2),
            "victim_was_running": killed_alive, "committed_epoch_at_kill": committed,
            "already_done": finished_before, "restart_exit": codes,
            "every_epoch_once": seen == list(range(epochs)), "test_top1": acc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=1200, help="stop after this many seconds")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="flower-edge-faults-"))
    began = time.monotonic()
    try:
        data = write_synthetic(work / "data", classes=4, per_class=40, size=64, seed=0)
        span, epoch_s, ref_acc = reference(data, work, args.epochs)
        print(f"reference (uninterrupted, 2 workers): {span:.1f}s, {epoch_s:.1f}s per epoch, "
              f"test top-1 {ref_acc:.3f}")
        rows = []
        for i in range(args.trials):
            if time.monotonic() - began > args.budget:
                print(f"budget of {args.budget:.0f}s spent after {i} trials")
                break
            rows.append(trial(i, rng, data, work, args.epochs, epoch_s))
            print(json.dumps(rows[-1]), flush=True)
        ok = [r for r in rows if r["every_epoch_once"] and r["restart_exit"] == [0, 0]]
        accs = [r["test_top1"] for r in ok if r["test_top1"] is not None]
        print(f"restarts that completed every epoch: {len(ok)} of {len(rows)}")
        if accs:
            print(f"final test top-1 after a restart: mean {sum(accs) / len(accs):.3f} "
                  f"(min {min(accs):.3f}, max {max(accs):.3f}) vs uninterrupted {ref_acc:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)  # made above by mkdtemp


if __name__ == "__main__":
    main()
