"""What a `.tflite` file's kernels really hold: zeros and distinct values, read from its buffers.

Pruning and clustering are only worth their fine-tuning if the converted file keeps
them; this reads the flatbuffer (TensorFlow's own schema reader) rather than trusting
the Keras model. Results are data (`KernelStats`); manifests and tests read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# TFLite builtin op codes: the weight-carrying ops and the ops between a constant and them
# (fp16 files DEQUANTIZE their weights, sparse files DENSIFY them, at load time).
KERNEL_OPS = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED"}
_PASS_THROUGH = {6, 124}  # DEQUANTIZE, DENSIFY
_DTYPES = {0: np.float32, 1: np.float16, 9: np.int8}
# Axis of the output channel in each op's kernel layout: OHWI, 1HW(C*M), OI.
_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


@dataclass(frozen=True)
class KernelStats:
    """One conv/depthwise/dense kernel as stored in the file."""

    name: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    stored_sparse: bool  # written in TFLite's sparse format (EXPERIMENTAL_SPARSITY)
    sparsity: float  # fraction of the kernel's elements that are zero
    unique_values: int  # distinct values over the whole kernel
    max_unique_per_channel: int | None  # distinct values in the worst output channel (dense only)

    def to_dict(self) -> dict:
        return {**asdict(self), "shape": list(self.shape)}


def kernel_stats(model_bytes: bytes) -> list[KernelStats]:
    """Every conv/depthwise/dense kernel of the first subgraph, in op order."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    producer = {int(out): op for op in graph.operators for out in op.outputs}
    out, seen = [], set()
    for op in graph.operators:
        name = KERNEL_OPS.get(codes[op.opcodeIndex])
        if name is None or len(op.inputs) < 2:
            continue
        index = int(op.inputs[1])
        while index in producer and codes[producer[index].opcodeIndex] in _PASS_THROUGH:
            index = int(producer[index].inputs[0])
        if index in seen:
            continue
        seen.add(index)
        stats = _stats(model, graph.tensors[index], name)
        if stats is not None:
            out.append(stats)
    return out


def _stats(model, tensor, op: str) -> KernelStats | None:
    data = model.buffers[tensor.buffer].data
    dtype = _DTYPES.get(tensor.type)
    if data is None or dtype is None:
        return None
    values = np.frombuffer(bytes(np.asarray(data, np.uint8)), dtype=dtype)
    shape = tuple(int(d) for d in tensor.shape)
    total = int(np.prod(shape))
    sparse = tensor.sparsity is not None
    per_channel = None
    if not sparse and values.size == total:
        rows = np.moveaxis(values.reshape(shape), _CHANNEL_AXIS[op], 0).reshape(shape[_CHANNEL_AXIS[op]], -1)
        per_channel = max(len(np.unique(r)) for r in rows)
    nonzero = int(np.count_nonzero(values))  # a sparse tensor stores (mostly) its non-zeros only
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
    return KernelStats(name, op, shape, np.dtype(dtype).name, sparse, 1.0 - nonzero / total,
                       len(np.unique(values)) + (1 if sparse and nonzero < total else 0), per_channel)


def summary(stats: list[KernelStats]) -> dict:
    """Manifest-sized facts: overall sparsity of conv/dense kernels (depthwise apart: tfmot
    leaves them dense), and the most distinct values in any output channel."""
    dense = [s for s in stats if s.op != "DEPTHWISE_CONV_2D"]
    total = sum(int(np.prod(s.shape)) for s in dense)
    zeros = sum(s.sparsity * int(np.prod(s.shape)) for s in dense)
    channels = [s.max_unique_per_channel for s in dense if s.max_unique_per_channel is not None]
    return {"kernels": len(dense), "sparsity": round(zeros / total, 4) if total else 0.0,
            "sparse_stored": sum(s.stored_sparse for s in dense),
            "max_unique_per_channel": max(channels) if channels else None}
