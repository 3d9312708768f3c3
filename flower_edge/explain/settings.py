"""LIME's settings and their defaults, importable without numpy (the CLI reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# Chosen by benchmarks/lime_stability.py on real eval photos (docs/explain-lime.md): with
# more superpixels two seeds disagree far more, and past 2000 samples their agreement
# stops improving (top-5 superpixels shared: 0.85-0.86; 0.87 at 4000).
DEFAULT_SAMPLES = 2000
DEFAULT_SEGMENTS = 25
TOP_SEGMENTS = 5
# The explanation methods (explain --method reads them).
Method = Literal["gradcam", "saliency", "activation-max", "occlusion", "lime"]
METHODS: tuple[str, ...] = get_args(Method)
# Maps that need only the model's predictions (no gradients): they run on a .tflite bundle
# too, and the deletion test scores them beside Grad-CAM.
PREDICTION_MAPS = ("lime", "occlusion")  # superpixels shown in the mask and compared for stability


@dataclass(frozen=True)
class LimeSettings:
    samples: int = DEFAULT_SAMPLES  # perturbed copies per image (forward passes)
    segments: int = DEFAULT_SEGMENTS  # SLIC superpixels asked for (SLIC may return a few more or fewer)
    seed: int = 0
