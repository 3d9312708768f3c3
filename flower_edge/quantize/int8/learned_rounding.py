"""Learned weight rounding in the int8 flatbuffer: GPTQ (Frantar et al., 2023), layer by layer.

Why: the converter rounds every weight to its nearest int8 code. Each rounding error is
small, but a layer's output error is the sum of many of them, weighted by the inputs. GPTQ
rounds one input column of a layer at a time and moves the not-yet-rounded columns so the
layer's *output* on calibration inputs stays as close as it can (least squares, with the
Hessian H = X^T X of the layer's inputs): closed form, no training loop, fast on a CPU.

What stays fixed: the int8 grid. Codes stay in [-127, 127], the per-channel scales the
converter (or `refit_weight_scales`) chose are kept, only which code each weight gets
changes. The int32 bias keeps the layer's previous output mean (the new rounding shifts it
by s * (q_old - q_new) . E[x]), so bias correction's compensation is not undone.

Inputs: X is taken from the int8 model itself, dequantized, after the layers before it
have been re-rounded (sequential, as in GPTQ): each layer corrects for the error that
reaches it. Conv2D and FULLY_CONNECTED rows are im2col patches; depthwise channels each
get their own k x k Hessian. Ops with dilation or grouped filters keep nearest rounding.
"""

from __future__ import annotations

import numpy as np

from flower_edge.quantize.int8.flatbuffer import (
    INT8,
    float_weights,
    read_model,
    shared_buffers,
    to_bytes,
    weight_ops,
)
from flower_edge.quantize.int8.rounding import channel_rows, from_rows

DEFAULT_IMAGES = 64
ROWS_PER_IMAGE = 2048  # input positions sampled per image: plenty for a k*k*C Hessian
DAMP = 0.01  # H += DAMP * mean(diag H) * I: keeps the inverse stable (GPTQ's value)
_CONV, _DEPTHWISE = 3, 4
_SAME = 0


def gptq_codes(weights: np.ndarray, scales: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """int8 codes (rows x K) for `weights` (rows x K) on the fixed grid `scales` (one per row).

    `hessian`: K x K shared by all rows, or rows x K x K (depthwise: one per channel).
    Columns are rounded in order of decreasing Hessian diagonal ("act order"); each
    one's error is spread over the columns still to round through the Cholesky factor
    of H^-1, which is what minimizes ||(W - Q) X||^2 one column at a time.
    """
    w = np.array(weights, np.float64)
    h = np.array(hessian, np.float64)
    shared = h.ndim == 2
    hs = h[None] if shared else h
    diag = np.diagonal(hs, axis1=1, axis2=2)
    order = np.argsort(-diag.mean(axis=0), kind="stable")
    w, hs = w[:, order], hs[:, order][:, :, order]
    k = w.shape[1]
    dead = np.diagonal(hs, axis1=1, axis2=2) <= 0
    idx = np.arange(k)
    hs[:, idx, idx] = np.where(dead, 1.0, hs[:, idx, idx])
    hs[:, idx, idx] += DAMP * np.diagonal(hs, axis1=1, axis2=2).mean(axis=1, keepdims=True)
    upper = np.transpose(np.linalg.cholesky(np.linalg.inv(hs)), (0, 2, 1))  # H^-1 = U^T U
    scales = np.asarray(scales, np.float64)
    codes = np.zeros_like(w)
    for i in range(k):
        codes[:, i] = np.clip(np.round(w[:, i] / scales), -127, 127)
        err = (w[:, i] - codes[:, i] * scales) / upper[:, i, i]
        w[:, i + 1:] -= err[:, None] * upper[:, i, i + 1:]
    out = np.empty_like(codes)
    out[:, order] = codes
    return out


def output_error(weights: np.ndarray, approx: np.ndarray, hessian: np.ndarray) -> float:
    """sum over rows of (w - a) H (w - a)^T: the layer's squared output error on H's inputs."""
    d = np.asarray(weights, np.float64) - np.asarray(approx, np.float64)
    if hessian.ndim == 2:
        return float(np.einsum("rk,kl,rl->", d, hessian, d))
    return float(np.einsum("rk,rkl,rl->", d, hessian, d))


def _patches(x: np.ndarray, kh: int, kw: int, options) -> np.ndarray:
    """(positions, kh, kw, C) input patches of one image (H, W, C) as the conv sees them."""
    sh, sw = options.strideH, options.strideW
    if options.padding == _SAME:
        pads = []
        for size, k, s in ((x.shape[0], kh, sh), (x.shape[1], kw, sw)):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, pads + [(0, 0)])  # zero in real values: TFLite pads with the zero point
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))[::sh, ::sw]
    return np.transpose(win, (0, 1, 3, 4, 2)).reshape(-1, kh, kw, x.shape[-1])


def _columns(x: np.ndarray, code: int, wshape, options) -> np.ndarray | None:
    """The rows the layer multiplies its weights with: (n, K), or (n, k*k, C) for depthwise."""
    if code == 9:
        return x.reshape(-1, wshape[-1])
    if getattr(options, "dilationHFactor", 1) != 1 or getattr(options, "dilationWFactor", 1) != 1:
        return None
    kh, kw, cin = wshape[1], wshape[2], wshape[3]
    if code == _DEPTHWISE:
        if options.depthMultiplier != 1 or x.shape[-1] != cin:
            return None
        return _patches(x, kh, kw, options).reshape(-1, kh * kw, cin)
    if x.shape[-1] != cin:  # grouped convolution
        return None
    return _patches(x, kh, kw, options).reshape(-1, kh * kw * cin)


def _input_stats(model_bytes: bytes, images, op, code: int, wshape, rng):
    """(Hessian, mean row) of `op`'s input over `images`, from the int8 model as it runs now."""
    from ai_edge_litert.interpreter import Interpreter

    from flower_edge.runtime.predictor import input_lut

    it = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    lut = input_lut(inp["dtype"], *inp["quantization"])  # pixels -> the model's input, as deployed
    scale, zero = {d["index"]: d for d in it.get_tensor_details()}[op.inputs[0]]["quantization"]
    hessian = total = None
    count = 0
    for image in images:
        it.set_tensor(inp["index"], lut[np.asarray(image, np.uint8)].reshape(inp["shape"]))
        it.invoke()
        x = it.get_tensor(op.inputs[0]).astype(np.float64)
        x = ((x - zero) * scale if scale else x)[0]
        cols = _columns(x, code, wshape, op.builtinOptions)
        if cols is None:
            return None
        if len(cols) > ROWS_PER_IMAGE:
            cols = cols[rng.choice(len(cols), ROWS_PER_IMAGE, replace=False)]
        h = np.einsum("nkc,nlc->ckl", cols, cols) if cols.ndim == 3 else cols.T @ cols
        hessian = h if hessian is None else hessian + h
        total = cols.sum(axis=0) if total is None else total + cols.sum(axis=0)
        count += len(cols)
    mean = total / max(count, 1)
    return hessian / max(count, 1), (mean.T if code == _DEPTHWISE else mean)


def _shift_bias(model, sg, op, shift: np.ndarray, shared: set[int]) -> None:
    """int32 bias += shift (real units), so the layer's output mean stays where it was."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return
    bt = sg.tensors[op.inputs[2]]
    if bt.type != 2 or bt.buffer in shared or bt.quantization is None:
        return
    codes = np.frombuffer(bytes(model.buffers[bt.buffer].data), np.int32).astype(np.float64)
    scale = np.resize(np.asarray(bt.quantization.scale, np.float64), len(codes))
    codes = np.clip(codes + np.round(np.resize(shift, len(codes)) / scale), -2**31, 2**31 - 1)
    model.buffers[bt.buffer].data = codes.astype(np.int32).view(np.uint8)


def learn_rounding(quantized: bytes, calibrated: bytes, images, seed: int = 0) -> tuple[bytes, dict]:
    """GPTQ-round every int8 conv/depthwise/dense weight of `quantized`, in execution order.

    `calibrated`: the float calibrated model (BatchNorm folded), whose weights are the
    targets, matched by tensor name as in `refit_weight_scales`. `images`: calibration
    pixels (0..255). The report's output errors are on those images' layer inputs.
    """
    model, floats = read_model(quantized), float_weights(read_model(calibrated))
    sg = model.subgraphs[0]
    shared, rng = shared_buffers(sg), np.random.default_rng(seed)
    current, before, after, layers, kept = quantized, 0.0, 0.0, 0, []
    for op in weight_ops(model):
        wt = sg.tensors[op.inputs[1]]
        w = floats.get(wt.name)
        if wt.type != INT8 or w is None or wt.buffer in shared or tuple(w.shape) != tuple(wt.shape):
            continue
        code = max(model.operatorCodes[op.opcodeIndex].builtinCode,
                   model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)
        stats = _input_stats(current, images, op, code, tuple(wt.shape), rng)
        if stats is None:
            kept.append(wt.name.decode())
            continue
        hessian, mean = stats
        rows, layout = channel_rows(w.astype(np.float64), 3 if code == _DEPTHWISE else 0)
        old, _ = channel_rows(np.frombuffer(bytes(model.buffers[wt.buffer].data), np.int8)
                              .reshape(wt.shape).astype(np.float64), layout[0])
        scales = np.resize(np.asarray(wt.quantization.scale, np.float64), len(rows))
        new = gptq_codes(rows, scales, hessian)
        err_old = output_error(rows, old * scales[:, None], hessian)
        err_new = output_error(rows, new * scales[:, None], hessian)
        if err_new >= err_old:  # never worse than nearest on the calibration inputs
            new, err_new = old, err_old
        before, after, layers = before + err_old, after + err_new, layers + 1
        model.buffers[wt.buffer].data = from_rows(new, layout).astype(np.int8).ravel().view(np.uint8)
        _shift_bias(model, sg, op, scales * ((old - new) * mean).sum(axis=1), shared)
        current = to_bytes(model)
    report = {"method": "gptq", "layers": layers, "images": len(images), "kept_nearest": kept,
              "output_sq_error_before": before, "output_sq_error_after": after}
    return current, report
