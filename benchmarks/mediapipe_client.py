"""Run a .tflite through MediaPipe, in a venv that has mediapipe (not flower-edge's).

Used by tests/test_mediapipe.py and benchmarks/bench_mediapipe_agreement.py as a subprocess:

    python mediapipe_client.py classify MODEL JOBS.json    # ImageClassifier, no options
    python mediapipe_client.py display MODEL               # MetadataDisplayer (mediapipe 0.10.x)
    python mediapipe_client.py write MODEL OUT MEAN STD LABELS.txt   # image_classifier writer (0.10.x)

JOBS.json: [{"path": photo or .npy of an HxWx3 uint8 RGB image, "roi": "center-square"|null}];
prints one JSON line: a list of {"index", "name", "score"} (top-1) per job, or the metadata.
"""

from __future__ import annotations

import json
import sys


def classify(model: str, jobs_path: str) -> list[dict]:
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks import python as tasks
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.components.containers import rect

    options = vision.ImageClassifierOptions(base_options=tasks.BaseOptions(model_asset_path=model))
    classifier = vision.ImageClassifier.create_from_options(options)
    out = []
    for job in json.loads(open(jobs_path, encoding="utf-8").read()):
        if job["path"].endswith(".npy"):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(np.load(job["path"])))
        else:
            image = mp.Image.create_from_file(job["path"])
        processing = None
        if job.get("roi") == "center-square":  # what flower-edge crops: the centred square
            w, h = image.width, image.height
            side = min(w, h)
            left, top = (w - side) / 2 / w, (h - side) / 2 / h
            processing = vision.ImageProcessingOptions(
                region_of_interest=rect.RectF(left=left, top=top, right=1 - left, bottom=1 - top))
        result = classifier.classify(image, processing)
        best = max(result.classifications[0].categories, key=lambda c: c.score)
        out.append({"index": best.index, "name": best.category_name, "score": best.score})
    classifier.close()
    return out


def display(model: str) -> dict:
    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_file(model)
    return {"metadata": json.loads(displayer.get_metadata_json()),
            "files": displayer.get_packed_associated_file_list(),
            "labels": displayer.get_associated_file_buffer("labels.txt").decode("utf-8")
            if "labels.txt" in displayer.get_packed_associated_file_list() else None}


def write(model: str, out: str, mean: str, std: str, labels_path: str) -> dict:
    from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer

    labels = [ln.strip() for ln in open(labels_path, encoding="utf-8") if ln.strip()]
    writer = image_classifier.MetadataWriter.create(
        open(model, "rb").read(), input_norm_mean=[float(mean)], input_norm_std=[float(std)],
        labels=metadata_writer.Labels().add(labels))
    data, _ = writer.populate()
    with open(out, "wb") as f:
        f.write(data)
    return {"written": out, "bytes": len(data)}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    result = {"classify": classify, "display": display, "write": write}[command](*args)
    print(json.dumps(result))
