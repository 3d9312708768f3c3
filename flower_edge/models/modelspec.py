"""ModelSpec: name, builder, sizes, preprocessing and Grad-CAM layer of one architecture.

A leaf module (no TensorFlow, nothing from flower_edge but errors), so the built-in
specs (`specs.py`) and the registry (`registry.py`) both import it and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flower_edge.errors import UsageError

# Preprocessing modes, applied as layers inside the model (input is RGB 0..255):
#   "tf":    x / 127.5 - 1          (MobileNetV2, InceptionV3)
#   "caffe": RGB->BGR, minus ImageNet mean (VGG16, VGG19, ResNet50)
#   "unit":  x / 255                (baseline CNN, test models)
PREPROCESSING = ("tf", "caffe", "unit")


@dataclass(frozen=True)
class ModelSpec:
    """Everything the stages need to know about one architecture."""

    name: str
    builder: Callable  # builder(input_tensor, spec) -> backbone output tensor (flat graph)
    default_size: int
    min_size: int
    preprocessing: str
    gradcam_layer: str
    description: str = ""
    keras_app: str | None = None  # tf_keras.applications attribute, for pretrained weights
    app_kwargs: tuple[tuple[str, object], ...] = ()
    finetune_layers: int | str = "all"  # default phase-2 depth from the recipe studies
    pretrained: bool = True  # whether ImageNet weights exist for it
    testing: bool = False  # tiny specs for tests; hidden from user listings
    # Inner layers whose pooled output joins head_gap's in `data review`'s embedding: more of
    # the planted label flips found (docs/refit-and-review.md).
    review_layers: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def check_size(self, size: int) -> int:
        """Return `size` or raise a one-line error if it is below the minimum."""
        if size < self.min_size:
            raise UsageError(f"--image-size {size} is below {self.name}'s minimum of "
                             f"{self.min_size} px; use {self.min_size} or more (default {self.default_size})")
        return size
