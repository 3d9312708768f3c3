"""`flower-edge predict` as a library call: classify photos and folders with a bundle,
TF-free. The result is data (ClassifyResult); the command only prints it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable

from flower_edge.errors import DataError
from flower_edge.runtime.files import Prediction

PROGRESS_ABOVE = 20  # photos: a progress bar below this would only flicker


@dataclasses.dataclass
class ClassifyResult:
    """Every input's Prediction (in input order) and what ran them."""

    bundle: str
    variant: str
    interpreter: str
    threads: int | None
    tta: str
    rows: list[Prediction]

    @property
    def failed(self) -> list[Prediction]:
        return [r for r in self.rows if not r.ok]

    def to_json(self) -> dict:
        return {"bundle": self.bundle, "variant": self.variant, "interpreter": self.interpreter,
                "threads": self.threads, "tta": self.tta,
                "predictions": [r.to_dict() for r in self.rows if r.ok],
                "errors": [r.to_dict() for r in self.rows if not r.ok]}

    def table(self) -> str:
        """One line per photo: its path and top-k `label probability` pairs."""
        ok = [r for r in self.rows if r.ok]
        if not ok:
            return ""
        width = max(len(r.path) for r in ok)
        return "\n".join(f"{r.path:<{width}}  " + "  ".join(f"{label} {prob:.3f}" for label, prob in r.top)
                         for r in ok)


def classify(bundle: str | os.PathLike, inputs: Iterable[str | os.PathLike], top_k: int = 5,
             threads: int | None = None, decode_threads: int | None = None, full_decode: bool = False,
             tta: str = "none", show_progress: bool = False,
             on_skip: Callable[[str], None] | None = None) -> ClassifyResult:
    """Classify files and folders (recursively) with BUNDLE (a folder or a bare .tflite
    with metadata). Unreadable photos are skipped and reported to `on_skip`; a DataError
    only when none could be read (a single photo's own error is the error)."""
    from flower_edge.progress import progress
    from flower_edge.runtime.files import expand_inputs, predict_files
    from flower_edge.runtime.interpreter import check_threads
    from flower_edge.runtime.predictor import Predictor

    check_threads(threads)
    paths = expand_inputs(inputs)
    predictor = Predictor(bundle, threads=threads, tta=tta, **({"draft": None} if full_decode else {}))
    # One photo: no decode threads (nothing to overlap).
    results = predict_files(predictor, paths, top_k, 0 if len(paths) == 1 else decode_threads)
    if show_progress and len(paths) > PROGRESS_ABOVE:
        results = progress(results, "predicting", length=len(paths))
    rows = []
    for row in results:
        if row.error and len(paths) > 1 and on_skip is not None:
            on_skip(row.error)
        rows.append(row)
    failed = [r for r in rows if r.error]
    if len(failed) == len(rows):
        raise DataError(failed[0].error if len(rows) == 1 else
                        f"none of the {len(rows)} images could be read (first: {failed[0].error})")
    return ClassifyResult(bundle=str(predictor.bundle.dir), variant=predictor.bundle.variant,
                          interpreter=predictor.interpreter_name, threads=predictor.threads,
                          tta=predictor.tta, rows=rows)
