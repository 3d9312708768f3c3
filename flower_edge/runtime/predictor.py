"""Run a bundle on images: preprocessing, quantization by the model's own parameters, top-k.

No TensorFlow: the interpreter comes from `flower_edge.runtime.interpreter`.
"""

from __future__ import annotations

import os

import numpy as np

from flower_edge.errors import BundleError, DataError
from flower_edge.runtime.bundle import Bundle, load_bundle
from flower_edge.runtime.files import TTA
from flower_edge.runtime.interpreter import make_interpreter
from flower_edge.runtime.transforms import DRAFT


def input_lut(dtype, scale: float, zero_point: int, value_range=(0.0, 255.0)) -> np.ndarray:
    """A 256-entry table mapping a uint8 pixel to the model's input value.

    Pixels are uint8, so quantizing with the model's own (scale, zero_point) is one
    lookup per pixel, exact and allocation-free; float inputs get `value_range`.
    """
    lo, hi = float(value_range[0]), float(value_range[1])
    real = np.arange(256, dtype=np.float64) * ((hi - lo) / 255.0) + lo
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return real.astype(dtype)
    if not scale:
        raise BundleError(f"the model's {dtype.name} input has no quantization scale; re-export the bundle")
    info = np.iinfo(dtype)
    return np.clip(np.round(real / scale + zero_point), info.min, info.max).astype(dtype)


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float32."""
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class Predictor:
    """A loaded bundle ready to classify images; the interpreter is allocated once.

    `tta="flip"` (test-time augmentation) averages the probabilities of the image and its
    mirror image: two invokes per image (docs/recipe-study.md has its accuracy and cost).
    """

    def __init__(self, bundle_path: str | os.PathLike | Bundle, threads: int | None = None,
                 interpreter: str | None = None, draft: float | None = DRAFT, tta: str = "none"):
        # draft: decode JPEGs at >= draft x the size needed (None: every pixel), see transforms.
        if tta not in TTA:
            raise DataError(f"unknown test-time augmentation {tta!r}; use one of {', '.join(TTA)}")
        self.draft = draft
        self.tta = tta
        self.bundle = bundle_path if isinstance(bundle_path, Bundle) else load_bundle(bundle_path)
        self.threads = threads
        self._interp, self.interpreter_name = make_interpreter(self.bundle.model_path, threads,
                                                               prefer=interpreter)
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._check_shapes(inp, out)
        self.input_details, self.output_details = inp, out
        self._in_index, self._out_index = inp["index"], out["index"]
        value_range = self.bundle.manifest["preprocessing"].get("value_range", (0, 255))
        self._lut = input_lut(inp["dtype"], *inp["quantization"], value_range=value_range)
        self._in_buf = np.empty(tuple(int(d) for d in inp["shape"]), dtype=inp["dtype"])
        # uint8 input with scale 1, zero point 0 (flower-edge's int8 default): pixels go in as
        # they are, a plain copy instead of a 150k-entry table lookup (~0.09 ms per 224 px image)
        self._identity = bool(np.array_equal(self._lut, np.arange(256)) and self._lut.dtype == np.uint8)
        out_scale, out_zp = out["quantization"]
        self._out_q = (float(out_scale), float(out_zp)) if np.dtype(out["dtype"]).kind in "iu" else None
        self._softmax = self.bundle.output_kind == "logits"

    def _check_shapes(self, inp: dict, out: dict) -> None:
        shape = tuple(int(d) for d in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise BundleError(f"{self.bundle.model_path} takes input {list(shape)}, not one RGB image "
                              f"[1, H, W, 3]; export it with 'flower-edge quantize'")
        if shape[1:3] != self.bundle.image_size:
            raise BundleError(f"the model takes {shape[1]}x{shape[2]} px but the manifest says "
                              f"{self.bundle.image_size}; re-export the bundle")
        classes = int(out["shape"][-1])
        if classes != len(self.bundle.labels):
            raise BundleError(f"the model outputs {classes} classes but labels.txt has "
                              f"{len(self.bundle.labels)}; use the labels.txt exported with this model")

    @property
    def labels(self) -> list[str]:
        return self.bundle.labels

    @property
    def image_size(self) -> tuple[int, int]:
        return self.bundle.image_size

    def invoke_one(self, image_uint8: np.ndarray) -> np.ndarray:
        """Scores for one preprocessed HxWx3 uint8 image: float32 [C] (the hot path)."""
        scores = self._invoke(image_uint8)
        if self.tta == "flip":
            # Mean of probabilities, not logits: a confident view is not outvoted by scale.
            scores = (scores + self._invoke(image_uint8[:, ::-1])) * np.float32(0.5)
        return scores

    def _invoke(self, image_uint8: np.ndarray) -> np.ndarray:
        if self._identity and image_uint8.dtype == np.uint8:
            np.copyto(self._in_buf[0], image_uint8)
        else:
            np.take(self._lut, image_uint8, out=self._in_buf[0], mode="clip")  # unbuffered
        self._interp.set_tensor(self._in_index, self._in_buf)
        self._interp.invoke()
        raw = self._interp.get_tensor(self._out_index)[0]
        if self._out_q is not None:
            raw = (raw.astype(np.float32) - self._out_q[1]) * self._out_q[0]
        return softmax(raw) if self._softmax else raw.astype(np.float32, copy=False)

    def probabilities(self, batch_uint8: np.ndarray) -> np.ndarray:
        """Class probabilities for preprocessed images: [N, H, W, 3] uint8 -> float32 [N, C]."""
        batch = np.asarray(batch_uint8)
        if batch.ndim == 3:
            batch = batch[None]
        expected = (*self.image_size, 3)
        if batch.ndim != 4 or batch.shape[1:] != expected:
            raise DataError(f"expected images of shape [N, {expected[0]}, {expected[1]}, 3], got "
                            f"{list(batch.shape)}; preprocess with flower_edge.runtime.transforms")
        if batch.dtype != np.uint8:
            raise DataError(f"expected uint8 pixels 0..255, got {batch.dtype}; convert with "
                            f"np.clip(x, 0, 255).astype(np.uint8)")
        return np.stack([self.invoke_one(img) for img in batch]) if len(batch) else \
            np.zeros((0, len(self.labels)), np.float32)

    def preprocess(self, path_or_array) -> np.ndarray:
        """A file path, PIL image or HxWx3 uint8 array -> the model's HxWx3 uint8 input."""
        from flower_edge.runtime.transforms import eval_transform, load_for_model

        if isinstance(path_or_array, (str, os.PathLike)):
            return load_for_model(path_or_array, self.image_size, self.draft)
        if isinstance(path_or_array, np.ndarray):
            arr = path_or_array
            if arr.shape == (*self.image_size, 3) and arr.dtype == np.uint8:
                return arr
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise DataError(f"expected an HxWx3 uint8 RGB array, got {arr.dtype} {list(arr.shape)}")
            from PIL import Image

            path_or_array = Image.fromarray(arr)
        return eval_transform(path_or_array.convert("RGB"), self.image_size, self.draft)

    def predict(self, path_or_array, top_k: int = 5) -> list[tuple[str, float]]:
        """The top-k (label, probability) pairs for one image, most likely first."""
        return self.top_k(self.invoke_one(self.preprocess(path_or_array)), top_k)

    def predict_iter(self, inputs, top_k: int = 5, workers: int | None = None):
        """Predictions for many files (or arrays), in input order, streamed: an iterator of
        runtime.files.Prediction; an unreadable image gets its error and the rest go on.

        `workers` decode threads (None: runtime.files.default_workers(), 0: none) prepare
        the next images while this thread runs the interpreter; memory stays bounded.
        """
        from flower_edge.runtime.files import predict_files

        return predict_files(self, inputs, top_k, workers)

    def top_k(self, scores: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """(label, probability) pairs of the k highest scores (ties keep label order)."""
        k = max(1, min(int(k), len(self.labels)))
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.labels[i], float(scores[i])) for i in order]
