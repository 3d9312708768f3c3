"""Keras callbacks: per-epoch commit (checkpoint, history, early stopping, best-on-val)
and progress on stderr."""

from __future__ import annotations

import math
import sys
import time

from flower_edge.rundir import RunDir
from flower_edge.train import checkpoint
from flower_edge.train.schedules import Plateau

HISTORY_KEYS = ("loss", "accuracy", "top5", "val_loss", "val_accuracy", "val_top5", "lr")


def make_epoch_commit(run: RunDir, history: list[dict], state: dict, plateau: Plateau,
                      patience: int, phase: int):
    """After every epoch: record history, track best-on-val, early-stop, commit atomically."""
    from flower_edge.tfcompat import keras

    class _Commit(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()
            # After a multi-worker restart Keras' BackupAndRestore may redo an epoch that
            # was committed but not yet backed up: its row is replaced, never doubled.
            history[:] = [row for row in history if int(row["epoch"]) < epoch]

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            row = {"epoch": epoch, "phase": phase}
            row.update({k: round(float(logs[k]), 6) for k in HISTORY_KEYS if k in logs})
            row["seconds"] = round(time.perf_counter() - self._t0, 3)
            history.append(row)
            monitor = logs.get("val_loss", logs.get("loss"))
            score = logs.get("val_accuracy", logs.get("accuracy"))
            self._track_best(epoch, score, monitor)
            stopped = self._early_stop(monitor)
            state.update(epoch=epoch, phase=phase, stopped=stopped, plateau=plateau.state())
            checkpoint.save_epoch(run, self.model, self.model.optimizer, state, history)
            if stopped:
                self.model.stop_training = True

        def _track_best(self, epoch, score, loss):
            best = state.get("best")
            key = (float(score), -float(loss))
            if best is None or key > (best["score"], -best["loss"]):
                checkpoint.save_weights(run, "best", self.model)
                state["best"] = {"score": key[0], "loss": float(loss), "epoch": epoch}

        def _early_stop(self, monitor) -> bool:
            if patience <= 0 or monitor is None:
                return False
            es = state.setdefault("early_stopping", {"best": None, "wait": 0})
            if es["best"] is None or monitor < es["best"] - 1e-4:
                es.update(best=float(monitor), wait=0)
                return False
            es["wait"] += 1
            return es["wait"] >= patience

    return _Commit()


def make_progress(total_epochs: int, steps: int, phase_name: str):
    """A batch bar on a terminal, and always one line per epoch, both on stderr."""
    from flower_edge.tfcompat import keras

    tty = sys.stderr.isatty()

    class _Progress(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()
            self._bar = None
            if tty:
                from flower_edge.progress import bar

                self._bar = bar(steps, f"epoch {epoch + 1}/{total_epochs} [{phase_name}]")
                self._bar.__enter__()

        def on_train_batch_end(self, batch, logs=None):
            if self._bar is not None:
                self._bar.update(1)

        def on_epoch_end(self, epoch, logs=None):
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
            parts = [f"epoch {epoch + 1}/{total_epochs} [{phase_name}]"]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
                value = (logs or {}).get(key)
                if value is not None and not math.isnan(float(value)):
                    parts.append(f"{key} {float(value):.4g}")
            parts.append(f"{time.perf_counter() - self._t0:.1f}s")
            print("  ".join(parts), file=sys.stderr, flush=True)

    return _Progress()
