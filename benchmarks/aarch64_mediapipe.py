"""MediaPipe Tasks' ImageClassifier on a flower-edge bundle, printed as `predict --json` prints.

    python aarch64_mediapipe.py BUNDLE IMAGE_DIR

Run by benchmarks/check-aarch64.sh inside the emulated arm64 root (a venv with mediapipe and
flower-edge). Each image gets flower-edge's own eval transform (upright, shorter side
resized, centre crop to the model's size), so the comparison with `flower-edge predict`
is of the model and its metadata, not of MediaPipe's decode and resize. The classifier
gets no options beyond the model file: labels and normalization must come from the
bundle's TFLite metadata. A failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(bundle_dir: str, image_dir: str) -> int:
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from flower_edge.runtime.bundle import load_bundle
    from flower_edge.runtime.transforms import load_for_model

    bundle = load_bundle(bundle_dir)
    labels = Path(bundle_dir, "labels.txt").read_text().split("\n")
    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(bundle.model_path)), max_results=-1)
    predictions = []
    named = 0
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for path in sorted(Path(image_dir).iterdir()):
            pixels = load_for_model(path, bundle.image_size)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
            categories = classifier.classify(image).classifications[0].categories
            named += all(c.category_name for c in categories)
            predictions.append({"path": f"{image_dir}/{path.name}", "top_k": [
                {"label": c.category_name or labels[c.index], "probability": float(c.score)}
                for c in categories]})
    json.dump({"interpreter": f"mediapipe {mp.__version__}", "labels_from_metadata": named == len(predictions),
               "predictions": predictions}, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:3]))
    except Exception as exc:  # noqa: BLE001  the check records the reason in its table
        print(f"mediapipe: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        sys.exit(1)
