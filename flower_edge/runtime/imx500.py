"""Classify on the Raspberry Pi AI Camera's sensor (Sony IMX500): `live --input imx500:NETWORK.rpk`.

The network runs on the sensor; the Pi only reads its output tensor from each frame's
metadata through picamera2's `IMX500` helper, which returns it already dequantized.
This module turns that tensor into the probabilities `live` smooths, shows and logs,
and checks it first: a tensor of the wrong length, with NaNs, or (softmax in the
network) not a probability vector is reported and skipped, never shown as a label.

Labels come from the .rpk's own `network_intrinsics` when it carries them, else from
`network_intrinsics.json` / `labels.txt` beside it (what `quantize --imx500` writes).
No TensorFlow, no interpreter: picamera2 is imported only when this source is asked for.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from flower_edge.errors import BundleError, DataError, FlowerEdgeError
from flower_edge.runtime.inputs import IMX500 as SOURCE_PREFIX
from flower_edge.runtime.sources import PICAMERA_INSTALL, Frame

INTRINSICS_NAME = "network_intrinsics.json"
LABELS_NAME = "labels.txt"
# A softmax output is a probability vector up to the sensor's 8-bit output step (1/256 each).
SUM_TOLERANCE = 0.05
EMPTY = np.zeros((0, 0, 3), dtype=np.uint8)  # the frame's pixels are not needed: the sensor classified it


def read_sidecar(rpk: Path) -> dict:
    """The network_intrinsics written beside the .rpk (or labels.txt alone); {} if neither."""
    folder = rpk.parent
    path = folder / INTRINSICS_NAME
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{path} is not valid JSON ({exc}); copy it again from export/imx500/") from None
        if not isinstance(data, dict):
            raise BundleError(f"{path} is not a network_intrinsics object; copy it again from export/imx500/")
        return data
    labels = folder / LABELS_NAME
    if labels.is_file():
        names = [ln.strip() for ln in labels.read_text(encoding="utf-8").splitlines() if ln.strip()]
        return {"task": "classification", "classes": {"labels": names}}
    return {}


class SensorClassifier:
    """What `live` needs from a model (labels, top_k) for a network that runs on the sensor."""

    interpreter_name = "IMX500 sensor"

    def __init__(self, labels: list[str], softmax_in_network: bool = True):
        if len(labels) < 2:
            raise BundleError("the IMX500 network has fewer than 2 labels; put labels.txt (from "
                              "export/imx500/) beside the .rpk")
        self.labels = list(labels)
        self.softmax_in_network = softmax_in_network
        self.malformed = 0

    def probabilities(self, outputs) -> np.ndarray:
        """The checked probability vector of one frame's output tensors (DataError if malformed)."""
        if not outputs:
            raise DataError("the sensor gave no output tensor")
        x = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        n = len(self.labels)
        if x.size != n:
            raise DataError(f"output tensor has {x.size} values for {n} labels; the .rpk and its "
                            f"labels do not match")
        if not np.all(np.isfinite(x)):
            raise DataError("output tensor holds NaN or infinity")
        if not self.softmax_in_network:
            z = np.exp(x - x.max())
            return (z / z.sum()).astype(np.float32)
        if x.min() < -1e-6 or x.max() > 1 + 1e-6 or abs(float(x.sum()) - 1.0) > SUM_TOLERANCE:
            raise DataError(f"output tensor is not a probability vector (sum {x.sum():.3f}, range "
                            f"{x.min():.3f}..{x.max():.3f})")
        return x / max(float(x.sum()), 1e-6)

    def top_k(self, scores: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        k = max(1, min(int(k), len(self.labels)))
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.labels[i], float(scores[i])) for i in order]


def _picamera2():
    try:
        from picamera2 import Picamera2
        from picamera2.devices import IMX500
    except ImportError:
        raise FlowerEdgeError(f"--input imx500: needs picamera2 with the IMX500 helper: {PICAMERA_INSTALL}; "
                              f"and 'sudo apt install imx500-all' for the camera's firmware") from None
    return IMX500, Picamera2


def open_sensor(spec: str, imx500_factory: Callable | None = None, camera_factory: Callable | None = None,
                warn: Callable[[str], None] | None = None) -> tuple[SensorClassifier, Iterator[Frame | None]]:
    """(classifier, frames) for `imx500:PATH.rpk`. The factories stand in for picamera2's
    IMX500 and Picamera2 classes (tests replay recorded tensors through them)."""
    rpk = Path(spec[len(SOURCE_PREFIX):] if spec.startswith(SOURCE_PREFIX) else spec)
    if not rpk.is_file():
        raise DataError(f"imx500:{rpk}: no such file; make it on the Pi with 'imx500-package -i "
                        f"packerOut.zip -o DIR' and pass DIR/network.rpk")
    if imx500_factory is None or camera_factory is None:
        imx500_factory, camera_factory = _picamera2()
    imx500 = imx500_factory(str(rpk))  # loads the network firmware: before Picamera2 starts
    intrinsics = _intrinsics(imx500) or read_sidecar(rpk)
    if intrinsics.get("task", "classification") != "classification":
        raise BundleError(f"{rpk.name} is a {intrinsics['task']!r} network; live classifies only")
    labels = (intrinsics.get("classes") or {}).get("labels") or []
    if not labels:
        raise BundleError(f"no labels for {rpk.name}: copy labels.txt and {INTRINSICS_NAME} from "
                          f"export/imx500/ beside it")
    softmax = (intrinsics.get("cpu") or {}).get("softmax")
    classifier = SensorClassifier(labels, softmax_in_network=not softmax)
    camera = camera_factory(getattr(imx500, "camera_num", 0))
    return classifier, sensor_frames(classifier, imx500, camera, warn or _warn)


def _intrinsics(imx500) -> dict:
    """The network_intrinsics the .rpk carries, as a dict ({} when it has none)."""
    value = getattr(imx500, "network_intrinsics", None)
    if value is None:
        return {}
    data = getattr(value, "intrinsics", value)
    return dict(data) if isinstance(data, dict) else {}


def _warn(text: str) -> None:
    print(f"\nwarning: {text}", file=sys.stderr)


def sensor_frames(classifier: SensorClassifier, imx500, camera,
                  warn: Callable[[str], None]) -> Iterator[Frame | None]:
    """One Frame per camera frame that carries a valid output tensor; None for a frame
    without one (the firmware still loading) or with a malformed one (warned once per kind)."""
    config = camera.create_preview_configuration(buffer_count=12)
    progress = getattr(imx500, "show_network_fw_progress_bar", None)
    if progress is not None:
        progress()
    camera.start(config)
    warned: set[str] = set()
    index = 0
    try:
        while True:
            metadata = camera.capture_metadata()
            outputs = imx500.get_outputs(metadata, add_batch=False)
            if outputs is None:
                yield None
                continue
            try:
                probs = classifier.probabilities(outputs)
            except DataError as exc:
                classifier.malformed += 1
                kind = str(exc).split(" (")[0]
                if kind not in warned:
                    warned.add(kind)
                    warn(f"skipped a frame: {exc}")
                yield None
                continue
            kpi = imx500.get_kpi_info(metadata) if hasattr(imx500, "get_kpi_info") else None
            dnn_ms = float(kpi[0]) if kpi else None
            yield Frame(EMPTY, f"imx500#{index}", time.monotonic(), probabilities=probs, sensor_ms=dnn_ms)
            index += 1
    finally:
        camera.stop()
        close = getattr(camera, "close", None)
        if close is not None:
            close()
