"""`flower-edge train`'s entry: one run, or this process's part of a multi-worker job.

Its own module because it picks between trainer and multiworker, and multiworker builds on
trainer: in either of them the choice would make an import cycle."""

from __future__ import annotations

from flower_edge.errors import UsageError
from flower_edge.rundir import RunDir
from flower_edge.train.config import RunConfig


def start_training(cfg: RunConfig, out: str | None = None, force: bool = False) -> RunDir:
    """`flower-edge train`: one run, or this process's part of a multi-worker job (TF_CONFIG)."""
    from flower_edge.train.cluster import cluster_size

    if cfg.train.strategy == "multiworker" and cluster_size() > 1:
        if cfg.train.refit != "off":
            raise UsageError("--refit is single-worker: drop it, or refit afterwards on one machine")
        from flower_edge.train.multiworker import start_worker

        return start_worker(cfg, out, force)
    from flower_edge.train.trainer import start_run

    return start_run(cfg, out, force)
