"""Lazy, order-proof access to TensorFlow and tf_keras.

tfmot only works with tf_keras (Keras 2) models, and `tf.keras` resolves to
Keras 3 unless TF_USE_LEGACY_KERAS=1 is set before TensorFlow is imported. So
every module gets TF and Keras from here, never from a bare `import keras`.
"""

from __future__ import annotations

import os
import sys


def _prepare_env() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tf():
    """The tensorflow module (imported on first use, its start-up chatter silenced)."""
    _prepare_env()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    from flower_edge.quiet import quiet

    try:
        with quiet():
            import tensorflow

            # Device discovery prints the CUDA/oneDNN lines: do it now, while quiet.
            tensorflow.config.list_physical_devices()
    except ImportError:
        from flower_edge.errors import FlowerEdgeError

        raise FlowerEdgeError("TensorFlow is not installed: pip install 'flower-edge[train]' "
                              "(the Pi runtime needs only 'flower-edge[pi]')") from None
    return tensorflow


def keras():
    """The tf_keras module (Keras 2), which tfmot requires."""
    tf()
    import tf_keras

    return tf_keras
