"""`fetch(dataset, dest)`: download, verify, safely extract and move into place.

Downloads stream into `.<dest>.download/<file>.part` beside `dest` and resume with an
HTTP Range request after a cut. Files are md5-checked (or, for tf_flowers which
publishes no digest, structure-checked), extracted into a temp dir beside `dest`, and
renamed into place only when everything checks out. The base URL can be overridden
(argument or FLOWER_EDGE_FETCH_URL) for mirrors and offline tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flower_edge.data.archive import safe_extract
from flower_edge.errors import DataError, UsageError
from flower_edge.guard import NO_DATA, check_apart, output_dir

URL_ENV = "FLOWER_EDGE_FETCH_URL"
_CHUNK = 1 << 16
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Remote:
    """One file of a dataset: name under the base URL, md5 (None = not published), archive?"""

    name: str
    md5: str | None
    archive: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    base_url: str
    files: tuple[Remote, ...]


DATASETS = {
    "oxford102": DatasetInfo("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/", (
        Remote("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa", archive=True),
        Remote("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d"),
        Remote("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c"))),
    "tf_flowers": DatasetInfo("https://storage.googleapis.com/download.tensorflow.org/example_images/", (
        Remote("flower_photos.tgz", None, archive=True),)),
}
TF_FLOWERS_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"User-Agent": "flower-edge"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part is complete
            return None
        raise DataError(f"download failed: {url} answered HTTP {exc.code} {exc.reason}; check the "
                        f"URL ({URL_ENV} overrides the base) or try again later") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url} ({reason}): check your internet connection, or "
                        f"download it by hand into the folder given to --out") from None


def download(url: str, part: Path, label: str) -> Path:
    """Stream `url` into `part`, resuming from its current size; return `part` when complete."""
    from flower_edge.progress import bar

    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, offset)
    if response is None:
        return part
    with response:
        if offset and response.status != 206:  # the server ignored Range: start over
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with open(part, "ab" if offset else "wb") as fh, bar(total or 0, label) as progress:
            progress.update(offset)
            try:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    fh.write(block)
                    received += len(block)
                    progress.update(len(block))
            except (OSError, ValueError, EOFError) as exc:  # IncompleteRead, reset, timeout
                raise _cut(url, received, total, exc) from None
    if total is not None and received < total:
        raise _cut(url, received, total, "connection closed early")
    return part


def _cut(url: str, received: int, total: int | None, why) -> DataError:
    of = f" of {total}" if total else ""
    return DataError(f"download of {url} was cut at {received}{of} bytes ({why}); run the same "
                     f"command again to resume")


def _verify(path: Path, remote: Remote) -> None:
    if remote.md5 is None:
        return
    got = md5_file(path)
    if got != remote.md5:
        path.unlink()
        raise DataError(f"checksum mismatch for {remote.name}: md5 {got}, expected {remote.md5}; "
                        f"the bad file was deleted, run the command again to re-download")


def fetch(dataset: str, dest: str | os.PathLike, base_url: str | None = None,
          checksums: dict[str, str] | None = None) -> Path:
    """Download `dataset` (oxford102 | tf_flowers) into `dest`; returns `dest`.

    `checksums` overrides md5s by file name (mirrors of modified files, tests).
    """
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset '{dataset}'; use one of {', '.join(DATASETS)}")
    info, dest = DATASETS[dataset], Path(dest)
    check_apart(dest, NO_DATA, "--out")  # never into, inside or around labelled photos
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} already exists and is not empty (fetch writes only a new or empty "
                         f"folder, never beside other files or data); choose another --out")
    base = (base_url or os.environ.get(URL_ENV) or info.base_url).rstrip("/") + "/"
    cache = dest.parent / f".{dest.name}.download"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        files = [_get(base, cache, remote, checksums) for remote in info.files]
    except BaseException:
        _remove_if_empty(cache)  # keep .part files (resume), drop an empty cache dir
        raise
    try:
        with output_dir(dest, "dataset", "--out", replace=False, data=NO_DATA) as tmp:
            for path, remote in files:
                if remote.archive:
                    safe_extract(path, tmp)
                else:
                    shutil.copyfile(path, tmp / remote.name)
            _LAYOUT[dataset](tmp)
    except DataError:
        # A verified download that is still unusable must not be reused on the next try.
        for path, remote in files:
            if remote.archive:
                path.unlink(missing_ok=True)
        _remove_if_empty(cache)
        raise
    shutil.rmtree(cache, ignore_errors=True)
    return dest


def _get(base: str, cache: Path, remote: Remote, checksums: dict[str, str] | None):
    """One verified file in the download cache (reused if already complete)."""
    if checksums and remote.name in checksums:
        remote = Remote(remote.name, checksums[remote.name], remote.archive)
    done = cache / remote.name
    if not done.exists():
        part = download(base + remote.name, cache / f"{remote.name}.part", remote.name)
        _verify(part, remote)
        os.replace(part, done)
    return done, remote


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _layout_oxford102(tmp: Path) -> None:
    """Check the extracted Oxford 102 tree: jpg/ with images, .mat files with the right keys."""
    from flower_edge.data.oxford import SPLIT_KEYS, read_mat

    if not any((tmp / "jpg").glob("image_*.jpg")):
        raise DataError("102flowers.tgz holds no jpg/image_*.jpg files; it is not the Oxford 102 "
                        "archive (check the download URL)")
    read_mat(tmp / "imagelabels.mat", ("labels",))
    read_mat(tmp / "setid.mat", tuple(SPLIT_KEYS.values()))


def _layout_tf_flowers(tmp: Path) -> None:
    """flower_photos/<5 classes>/*.jpg, flattened so `dest` is the class-folder root."""
    top = tmp / "flower_photos"
    found = sorted(p.name for p in top.iterdir() if p.is_dir()) if top.is_dir() else []
    empty = [c for c in TF_FLOWERS_CLASSES if c in found and not any((top / c).glob("*.jpg"))]
    if tuple(found) != TF_FLOWERS_CLASSES or empty:
        raise DataError(f"flower_photos.tgz has an unexpected layout (class folders {found or 'none'}"
                        f"{', empty: ' + ', '.join(empty) if empty else ''}; expected "
                        f"{', '.join(TF_FLOWERS_CLASSES)}); the download is not tf_flowers")
    for entry in top.iterdir():
        os.replace(entry, tmp / entry.name)
    top.rmdir()


_LAYOUT = {"oxford102": _layout_oxford102, "tf_flowers": _layout_tf_flowers}
