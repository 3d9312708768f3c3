"""A .tflite file as an editable object, and what the int8 steps look up in it.

refine.py, learned_rounding.py and mean_correction.py each read a converted model, change
weights or biases in place, and write it back; these are the helpers they share.
"""

from __future__ import annotations

import numpy as np

# TFLite builtin op codes whose input 1 is a weight tensor quantized per output channel.
WEIGHT_OPS = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED"}
# TFLite TensorType codes.
FLOAT32, INT32, INT8 = 0, 2, 9


def read_model(data: bytes):
    """The flatbuffer as tflite's mutable object tree (ModelT)."""
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(data))


def to_bytes(model) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def weight_ops(model) -> list:
    """The conv/depthwise/dense ops of a flatbuffer model object (first subgraph), in execution order."""
    found = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) in WEIGHT_OPS and len(op.inputs) >= 2:
            found.append(op)
    return found


def biased_ops(model) -> list:
    """(op, output tensor name) of every conv/depthwise/dense op with a bias, in execution order."""
    sg = model.subgraphs[0]
    return [(op, sg.tensors[op.outputs[0]].name.decode()) for op in weight_ops(model)
            if len(op.inputs) > 2 and op.inputs[2] >= 0]


def shared_buffers(subgraph) -> set[int]:
    """Buffers that more than one tensor uses: editing one would change the others."""
    seen, shared = set(), set()
    for tensor in subgraph.tensors:
        (shared if tensor.buffer in seen else seen).add(tensor.buffer)
    return shared


def float_weights(calibrated) -> dict:
    """{tensor name: float32 array} of every constant float tensor (a calibrated model's weights)."""
    sg = calibrated.subgraphs[0]
    found = {}
    for t in sg.tensors:
        data = calibrated.buffers[t.buffer].data if t.buffer else None
        if t.type == FLOAT32 and data is not None and len(data):
            found[t.name] = np.frombuffer(bytes(data), np.float32).reshape(t.shape)
    return found
