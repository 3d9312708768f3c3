"""ModelSpec: name, builder, sizes, preprocessing and Grad-CAM layer, in one place.

No other module may branch on a model's name: everything architecture-specific
lives in a spec. Importing this module imports no TensorFlow.
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
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def check_size(self, size: int) -> int:
        """Return `size` or raise a one-line error if it is below the minimum."""
        if size < self.min_size:
            raise UsageError(f"--image-size {size} is below {self.name}'s minimum of "
                             f"{self.min_size} px; use {self.min_size} or more (default {self.default_size})")
        return size


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model spec {spec.name!r} registered twice")
    if spec.preprocessing not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {spec.preprocessing!r}")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """Look a spec up by name, with a one-line error listing the choices."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        names = ", ".join(s.name for s in list_specs())
        raise UsageError(f"unknown model '{name}' (choose one of: {names})") from None


def list_specs(include_testing: bool = False) -> list[ModelSpec]:
    """All registered specs, user-facing ones only unless asked."""
    _load_builtin()
    return [s for s in _REGISTRY.values() if include_testing or not s.testing]


def _load_builtin() -> None:
    from flower_edge.models import specs  # noqa: F401  (registers on import)
