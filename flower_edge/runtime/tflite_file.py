"""What flower-edge reads from a .tflite file itself, TF-free: its TFLite Model Metadata
entry, the associated files zipped onto it and its input/output tensors; and (workstation)
writing the metadata into a model.

Reading walks the model flatbuffer by field id (the TFLite `schema.fbs`: Model.subgraphs
2, buffers 4, metadata 6, ...) with `flatbuffers` alone, so it works with either
interpreter on a Pi; writing rebuilds the model with ai-edge-litert's generated schema.
"""

from __future__ import annotations

import numpy as np

from flower_edge.runtime import fbtable as fb
from flower_edge.runtime.tflite_metadata import (
    METADATA_NAME,
    ModelMetadata,
    decode,
    encode,
    pack_files,
    packed_files,
)

_MODEL = {"subgraphs": 2, "buffers": 4, "metadata": 6}
_SUBGRAPH = {"tensors": 0, "inputs": 1, "outputs": 2}
_TENSOR = {"shape": 0, "type": 1, "quantization": 4}
_QUANT = {"scale": 2, "zero_point": 3}
_BUFFER = {"data": 0, "offset": 1, "size": 2}
_ENTRY = {"name": 0, "buffer": 1}
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}
MODEL_IDENTIFIER = b"TFL3"


def metadata_buffer(model: bytes) -> bytes | None:
    """The bytes of the model's "TFLITE_METADATA" entry, None if it has none."""
    from flatbuffers import number_types as N

    root = fb.root(model)
    buffers = None
    for entry in fb.tables(root, _MODEL["metadata"]):
        if fb.string(entry, _ENTRY["name"]) != METADATA_NAME:
            continue
        buffers = buffers or fb.tables(root, _MODEL["buffers"])
        index = int(fb.scalar(entry, _ENTRY["buffer"], N.Uint32Flags))
        if index >= len(buffers):
            return None
        buf = buffers[index]
        offset = int(fb.scalar(buf, _BUFFER["offset"], N.Uint64Flags))
        if offset > 1:  # a model over 2 GB keeps its buffers after the flatbuffer
            return bytes(model[offset:offset + int(fb.scalar(buf, _BUFFER["size"], N.Uint64Flags))])
        o = fb.slot(buf, _BUFFER["data"])
        return bytes(buf.GetVectorAsNumpy(N.Uint8Flags, o)) if o else None
    return None


def read_metadata(model: bytes) -> tuple[ModelMetadata | None, dict[str, bytes]]:
    """(metadata or None, associated files) of a .tflite's bytes; ValueError if the metadata is corrupt."""
    buf = metadata_buffer(model)
    return (decode(buf) if buf else None), (packed_files(model) if buf else {})


def io_tensors(model: bytes) -> tuple[dict, dict]:
    """(input, output) of the first subgraph: {shape, dtype, scale, zero_point}."""
    from flatbuffers import number_types as N

    subgraphs = fb.tables(fb.root(model), _MODEL["subgraphs"])
    if not subgraphs:
        raise ValueError("the model has no subgraph")
    sub = subgraphs[0]
    tensors = fb.tables(sub, _SUBGRAPH["tensors"])

    def first(field: int) -> dict:
        o = fb.slot(sub, field)
        index = int(sub.GetVectorAsNumpy(N.Int32Flags, o)[0])
        t = tensors[index]
        shape = [int(x) for x in t.GetVectorAsNumpy(N.Int32Flags, fb.slot(t, _TENSOR["shape"]))]
        q = fb.sub(t, _TENSOR["quantization"])
        so, zo = fb.slot(q, _QUANT["scale"]), fb.slot(q, _QUANT["zero_point"])
        scale = q.GetVectorAsNumpy(N.Float32Flags, so) if so else np.zeros(0)
        zero = q.GetVectorAsNumpy(N.Int64Flags, zo) if zo else np.zeros(0)
        return {"shape": shape, "dtype": TENSOR_TYPES.get(int(fb.scalar(t, _TENSOR["type"], N.Int8Flags)), "?"),
                "scale": float(scale[0]) if len(scale) == 1 else 0.0,
                "zero_point": int(zero[0]) if len(zero) == 1 else 0}

    return first(_SUBGRAPH["inputs"]), first(_SUBGRAPH["outputs"])


def embed_metadata(model: bytes, meta: ModelMetadata, files: dict[str, bytes]) -> bytes:
    """The model with `meta` as its "TFLITE_METADATA" entry and `files` zipped on the end.

    An existing entry is replaced. Needs ai-edge-litert (its generated TFLite schema).
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    tree = fb.ModelT.InitFromPackedBuf(bytearray(model), 0)
    data = fb.BufferT()
    data.data = np.frombuffer(encode(meta), dtype=np.uint8)
    tree.buffers = tree.buffers or []
    tree.metadata = tree.metadata or []
    names = [m.name.decode() if isinstance(m.name, bytes) else m.name for m in tree.metadata]
    if METADATA_NAME in names:
        tree.buffers[tree.metadata[names.index(METADATA_NAME)].buffer] = data
    else:
        tree.buffers.append(data)
        entry = fb.MetadataT()
        entry.name, entry.buffer = METADATA_NAME, len(tree.buffers) - 1
        tree.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=MODEL_IDENTIFIER)
    return pack_files(bytes(builder.Output()), files)
