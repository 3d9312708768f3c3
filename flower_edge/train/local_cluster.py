"""Start N training workers on this machine, one TF_CONFIG each (tests, the fault
injection script; benchmarks/multiworker-local.sh is the same for a shell)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def free_ports(n: int) -> list[int]:
    """Ports the OS says are free now (bound to port 0, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports: Sequence[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def launch(n: int, train_args: Sequence[str], logs: Path) -> list[subprocess.Popen]:
    """`flower-edge train --strategy multiworker ARGS` as N local workers; stderr of worker
    i goes to LOGS/worker-i.log."""
    ports = free_ports(n)
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(n):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, i), "CUDA_VISIBLE_DEVICES": "",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        with open(logs / f"worker-{i}.log", "w") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "flower_edge.cli.main", "train", "--strategy", "multiworker",
                 *map(str, train_args)], env=env, stdout=subprocess.DEVNULL, stderr=log))
    return procs
