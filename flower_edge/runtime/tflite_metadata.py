"""TFLite Model Metadata (schema "M001"): encode and decode, TF-free.

The metadata is what MediaPipe Tasks, the TFLite Task Library and Android Studio read to
run an image classifier without extra code: the input's colour space, size and
normalization, and the labels of the output. It is a flatbuffer (the public
`metadata_schema.fbs` of tflite-support) stored in the model's `metadata` list under the
name "TFLITE_METADATA"; associated files (labels.txt) are a zip appended to the .tflite.

Hand-written on the `flatbuffers` Table/Builder API by field id because no kept library
does it on the Pi: tflite-support has no wheel for Python >= 3.12 or cp311 aarch64,
mediapipe's writer fails to import in its 1.x releases, and both are far too heavy for
the `pi` extra. `flatbuffers` itself comes with ai-edge-litert. Only the tables an image
classifier uses are covered; field ids are the declaration order in metadata_schema.fbs
(a union takes two ids: its type, then its value).
"""

from __future__ import annotations

import dataclasses
import io
import zipfile

import numpy as np

from flower_edge.runtime import fbtable as fb

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
# metadata_version.cc: 1.0.0 unless a member added later is used (vocabulary files,
# tokenizers, subgraph process units, tensor groups, audio) - none of them is here.
MIN_PARSER_VERSION = "1.0.0"

# enums of metadata_schema.fbs
LABELS_FILE = 2  # AssociatedFileType.TENSOR_AXIS_LABELS
COLOR_SPACES = {0: "UNKNOWN", 1: "RGB", 2: "GRAYSCALE"}
_FEATURE, _IMAGE = 1, 2  # ContentProperties union types
_NORMALIZATION = 1  # ProcessUnitOptions union type

# field ids of each table in metadata_schema.fbs
_FILE = {"name": 0, "description": 1, "type": 2, "locale": 3}
_IMAGE_PROPS = {"color_space": 0, "default_size": 1}
_SIZE = {"width": 0, "height": 1}
_CONTENT = {"props_type": 0, "props": 1}
_NORM = {"mean": 0, "std": 1}
_UNIT = {"options_type": 0, "options": 1}
_STATS = {"max": 0, "min": 1}
_TENSOR = {"name": 0, "description": 1, "content": 3, "process_units": 4, "stats": 5, "files": 6}
_SUBGRAPH = {"name": 0, "description": 1, "inputs": 2, "outputs": 3}
_MODEL = {"name": 0, "description": 1, "version": 2, "subgraphs": 3, "author": 4, "license": 5,
          "min_parser_version": 7}


@dataclasses.dataclass(frozen=True)
class AssociatedFile:
    name: str
    description: str = ""
    type: int = LABELS_FILE
    locale: str = ""


@dataclasses.dataclass(frozen=True)
class TensorMetadata:
    """One input or output: an image (colour space, size, normalization) or a feature."""

    name: str
    description: str = ""
    image: bool = False
    color_space: str = "UNKNOWN"  # of an image: RGB, GRAYSCALE
    size: tuple[int, int] | None = None  # (height, width) of an image
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    stats_min: tuple[float, ...] = ()
    stats_max: tuple[float, ...] = ()
    files: tuple[AssociatedFile, ...] = ()


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    inputs: tuple[TensorMetadata, ...] = ()
    outputs: tuple[TensorMetadata, ...] = ()
    min_parser_version: str = MIN_PARSER_VERSION


# ---------------------------------------------------------------- encode


def encode(meta: ModelMetadata) -> bytes:
    """The metadata flatbuffer (file identifier M001)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    subgraph = _table(b, {
        _SUBGRAPH["name"]: b.CreateString(meta.name),
        _SUBGRAPH["inputs"]: _offsets(b, [_tensor(b, t) for t in meta.inputs]),
        _SUBGRAPH["outputs"]: _offsets(b, [_tensor(b, t) for t in meta.outputs])})
    strings = {k: getattr(meta, k) for k in ("name", "description", "version", "author", "license",
                                             "min_parser_version")}
    fields = {_MODEL[k]: b.CreateString(v) for k, v in strings.items() if v}
    fields[_MODEL["subgraphs"]] = _offsets(b, [subgraph])
    b.Finish(_table(b, fields), file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def _table(b, offsets: dict, scalars: dict | None = None) -> int:
    """A table from {field id: child offset} and {field id: (Prepend*Slot name, value)}."""
    b.StartObject(1 + max([*offsets, *(scalars or {})]))
    for field, (method, value) in (scalars or {}).items():
        getattr(b, method)(field, value, 0)
    for field, off in offsets.items():
        b.PrependUOffsetTRelativeSlot(field, off, 0)
    return b.EndObject()


def _offsets(b, items: list[int]) -> int:
    b.StartVector(4, len(items), 4)
    for off in reversed(items):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _floats(b, values) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=np.float32))


def _file(b, f: AssociatedFile) -> int:
    offsets = {_FILE["name"]: b.CreateString(f.name)}
    if f.description:
        offsets[_FILE["description"]] = b.CreateString(f.description)
    if f.locale:
        offsets[_FILE["locale"]] = b.CreateString(f.locale)
    return _table(b, offsets, {_FILE["type"]: ("PrependInt8Slot", f.type)})


def _tensor(b, t: TensorMetadata) -> int:
    offsets = {_TENSOR["name"]: b.CreateString(t.name)}
    if t.description:
        offsets[_TENSOR["description"]] = b.CreateString(t.description)
    if t.image:
        size = {}
        if t.size:
            b.StartObject(2)
            b.PrependUint32Slot(_SIZE["width"], int(t.size[1]), 0)
            b.PrependUint32Slot(_SIZE["height"], int(t.size[0]), 0)
            size = {_IMAGE_PROPS["default_size"]: b.EndObject()}
        color = {v: k for k, v in COLOR_SPACES.items()}[t.color_space]
        props = _table(b, size, {_IMAGE_PROPS["color_space"]: ("PrependInt8Slot", color)})
    else:
        b.StartObject(0)
        props = b.EndObject()
    offsets[_TENSOR["content"]] = _table(b, {_CONTENT["props"]: props}, {
        _CONTENT["props_type"]: ("PrependUint8Slot", _IMAGE if t.image else _FEATURE)})
    if t.mean:
        norm = _table(b, {_NORM["mean"]: _floats(b, t.mean), _NORM["std"]: _floats(b, t.std)})
        unit = _table(b, {_UNIT["options"]: norm}, {_UNIT["options_type"]: ("PrependUint8Slot", _NORMALIZATION)})
        offsets[_TENSOR["process_units"]] = _offsets(b, [unit])
    if t.stats_min or t.stats_max:
        offsets[_TENSOR["stats"]] = _table(b, {_STATS["max"]: _floats(b, t.stats_max),
                                               _STATS["min"]: _floats(b, t.stats_min)})
    if t.files:
        offsets[_TENSOR["files"]] = _offsets(b, [_file(b, f) for f in t.files])
    return _table(b, offsets)


def pack_files(model: bytes, files: dict[str, bytes]) -> bytes:
    """The model with `files` appended as a zip (stored, not deflated), as MediaPipe reads them."""
    out = io.BytesIO(model)
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


# ---------------------------------------------------------------- decode


def decode(buf: bytes) -> ModelMetadata:
    """Parse a metadata flatbuffer written by any tool; ValueError if it is not one."""
    from flatbuffers import util

    if len(buf) < 8 or not util.BufferHasIdentifier(buf, 0, FILE_IDENTIFIER):
        raise ValueError("not a TFLite metadata buffer (file identifier M001)")
    root = fb.root(buf)
    subgraphs = fb.tables(root, _MODEL["subgraphs"])
    sub = subgraphs[0] if subgraphs else None
    return ModelMetadata(
        **{k: fb.string(root, _MODEL[k]) for k in ("name", "description", "version", "author", "license",
                                             "min_parser_version")},
        inputs=tuple(_read_tensor(t) for t in fb.tables(sub, _SUBGRAPH["inputs"])) if sub else (),
        outputs=tuple(_read_tensor(t) for t in fb.tables(sub, _SUBGRAPH["outputs"])) if sub else ())


def _read_tensor(tab) -> TensorMetadata:
    from flatbuffers import number_types as N

    content = fb.sub(tab, _TENSOR["content"])
    image = fb.scalar(content, _CONTENT["props_type"], N.Uint8Flags) == _IMAGE
    props = fb.sub(content, _CONTENT["props"]) if image else None
    size_tab = fb.sub(props, _IMAGE_PROPS["default_size"])
    size = (fb.scalar(size_tab, _SIZE["height"], N.Uint32Flags), fb.scalar(size_tab, _SIZE["width"], N.Uint32Flags)) \
        if size_tab is not None else None
    mean = std = ()
    for unit in fb.tables(tab, _TENSOR["process_units"]):
        if fb.scalar(unit, _UNIT["options_type"], N.Uint8Flags) == _NORMALIZATION:
            norm = fb.sub(unit, _UNIT["options"])
            mean, std = fb.float_list(norm, _NORM["mean"]), fb.float_list(norm, _NORM["std"])
    stats = fb.sub(tab, _TENSOR["stats"])
    files = tuple(AssociatedFile(fb.string(f, _FILE["name"]), fb.string(f, _FILE["description"]),
                                 int(fb.scalar(f, _FILE["type"], N.Int8Flags)), fb.string(f, _FILE["locale"]))
                  for f in fb.tables(tab, _TENSOR["files"]))
    return TensorMetadata(
        name=fb.string(tab, _TENSOR["name"]), description=fb.string(tab, _TENSOR["description"]), image=image,
        color_space=COLOR_SPACES.get(int(fb.scalar(props, _IMAGE_PROPS["color_space"], N.Int8Flags)), "UNKNOWN"),
        size=size, mean=mean, std=std, stats_min=fb.float_list(stats, _STATS["min"]),
        stats_max=fb.float_list(stats, _STATS["max"]), files=files)


def packed_files(model: bytes) -> dict[str, bytes]:
    """The associated files zipped onto a .tflite ({} if none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return {}
