"""Scale knobs: tf.distribute strategy, mixed precision policy, XLA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flower_edge.errors import UsageError

_MULTIWORKER = None


def make_strategy(name: str):
    """'auto': Mirrored over every GPU when there are several, else the default strategy."""
    from flower_edge.tfcompat import tf

    tf_ = tf()
    if name == "multiworker":
        # Reads TF_CONFIG; without it this is a single worker, which is what a laptop wants.
        # One per process, made before anything (even listing devices) starts TensorFlow's
        # runtime: collective ops can only be configured at startup.
        global _MULTIWORKER
        if _MULTIWORKER is None:
            _MULTIWORKER = tf_.distribute.MultiWorkerMirroredStrategy()
        return _MULTIWORKER
    gpus = tf_.config.list_logical_devices("GPU")
    if name == "auto":
        return tf_.distribute.MirroredStrategy() if len(gpus) > 1 else tf_.distribute.get_strategy()
    if name == "mirrored":
        # With no GPU, mirror over the CPU so the flag still works (one replica).
        devices = [d.name for d in gpus] or ["/cpu:0"]
        return tf_.distribute.MirroredStrategy(devices=devices)
    raise UsageError(f"unknown strategy '{name}' (choose auto, mirrored or multiworker)")


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set the Keras global dtype policy for the block, restoring float32 afterwards."""
    from flower_edge.tfcompat import keras

    mp = keras().mixed_precision
    previous = mp.global_policy().name
    mp.set_global_policy(name)
    try:
        yield
    finally:
        mp.set_global_policy(previous)
