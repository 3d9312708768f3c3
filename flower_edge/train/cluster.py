"""This process's place in a multi-worker job, read from TF_CONFIG (no TensorFlow)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from flower_edge.errors import UsageError


@dataclass(frozen=True)
class Role:
    task_type: str | None
    task_id: int
    workers: int
    has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        """TensorFlow's rule: task `chief` if the cluster has one, else `worker` 0."""
        return self.task_type in (None, "chief") or (
            self.task_type == "worker" and self.task_id == 0 and not self.has_chief)

    @property
    def name(self) -> str:
        return f"{self.task_type or 'worker'} {self.task_id}"


def role() -> Role:
    """One worker without TF_CONFIG."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return Role(None, 0, 1)
    try:
        conf = json.loads(raw)
        cluster, task = conf.get("cluster", {}), conf.get("task", {})
        workers = sum(len(cluster.get(k, [])) for k in ("chief", "worker"))
        return Role(task.get("type"), int(task.get("index", 0)), workers, "chief" in cluster)
    except (ValueError, TypeError, AttributeError):
        raise UsageError("TF_CONFIG is not valid JSON of the form {\"cluster\": {\"worker\": "
                         "[\"host:port\", ...]}, \"task\": {\"type\": \"worker\", \"index\": N}}") from None


def cluster_size() -> int:
    return role().workers
