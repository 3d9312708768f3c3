"""Interpreters shared by request threads.

A TFLite interpreter must not be invoked from two threads at once, so each request
borrows a whole Predictor from a queue and gives it back. With `workers=1` this is
a lock; more workers let requests infer in parallel (each has its own interpreter
and tensor arena, a few MB for MobileNetV2). `benchmarks/bench_serve.py` measures both.
"""

from __future__ import annotations

import contextlib
import os
import queue

from flower_edge.errors import FlowerEdgeError


class Busy(FlowerEdgeError):
    """Every interpreter stayed busy for the whole wait."""


class PredictorPool:
    """`workers` Predictors of one bundle (loaded and checked once)."""

    def __init__(self, bundle: str | os.PathLike, workers: int = 1, threads: int | None = None,
                 interpreter: str | None = None):
        from flower_edge.runtime.bundle import load_bundle
        from flower_edge.runtime.predictor import Predictor

        loaded = load_bundle(bundle)
        self.predictors = [Predictor(loaded, threads=threads, interpreter=interpreter)
                           for _ in range(max(1, workers))]
        self._free: queue.Queue = queue.Queue()
        for predictor in self.predictors:
            self._free.put(predictor)

    @property
    def first(self):
        """Any one of the predictors, for read-only facts (labels, sizes, manifest)."""
        return self.predictors[0]

    @property
    def workers(self) -> int:
        return len(self.predictors)

    @contextlib.contextmanager
    def borrow(self, timeout: float = 30.0):
        """A predictor for this thread alone; raises Busy after `timeout` seconds."""
        try:
            predictor = self._free.get(timeout=timeout)
        except queue.Empty:
            raise Busy(f"all {self.workers} interpreters stayed busy for {timeout:.0f} s; "
                       f"retry, or start the server with more --workers") from None
        try:
            yield predictor
        finally:
            self._free.put(predictor)
