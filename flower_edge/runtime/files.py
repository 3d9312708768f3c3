"""Predict many files: expand folders, skip (and report) unreadable images."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable, Iterator

from flower_edge.errors import DataError


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One input's result: top-k (label, probability) pairs, or the error that skipped it."""

    path: str
    top: tuple[tuple[str, float], ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "label": self.top[0][0], "probability": self.top[0][1],
                "top_k": [{"label": label, "probability": prob} for label, prob in self.top]}


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders as every image inside them (recursive, sorted).

    A path that does not exist is a DataError; a folder's non-image files (by
    extension) are ignored, but a given file is always tried, whatever its name.
    """
    from flower_edge.data.transforms import IMAGE_EXTENSIONS

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}; "
                                f"pass image files or a folder that holds some")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"no such file or folder: {path} (check the path)")
    return files


def predict_files(predictor, paths: Iterable[Path], top_k: int = 5) -> Iterator[Prediction]:
    """Yield one Prediction per path; an unreadable image yields its error and the rest go on."""
    for path in paths:
        try:
            top = predictor.predict(path, top_k=top_k)
        except DataError as exc:
            yield Prediction(str(path), error=str(exc))
            continue
        yield Prediction(str(path), tuple(top))
