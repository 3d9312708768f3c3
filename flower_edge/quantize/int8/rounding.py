"""int8 rounding arithmetic in numpy, shared by the conversion steps that decide or
correct for TFLite's rounding (`bias_correction`, `refine`).

Weights: symmetric, narrow range [-127, 127], one scale per output channel.
Activations: asymmetric per tensor with an integer zero point (`fake_quant`).
"""

from __future__ import annotations

import numpy as np

# Candidate scales: max|w|/k (k = 64..127 puts the channel's max exactly on the grid,
# which finds a coarser grid the weights already sit on) and clipping shrinks of max/127.
_K = np.concatenate([np.arange(127.0, 63.0, -1.0), 127.0 / np.linspace(1.0, 0.5, 51)[1:]])


def mse_scales(rows: np.ndarray) -> np.ndarray:
    """Per row of `rows` (channels x values), the symmetric int8 scale with least squared error."""
    rows = np.asarray(rows, np.float64)
    top = np.abs(rows).max(axis=1)
    safe = np.where(top > 0, top, 1.0)
    best, best_err = safe / 127.0, np.full(len(rows), np.inf)
    tol = 1e-12 * (rows ** 2).sum(axis=1)
    for k in _K:
        scale = (safe / k)[:, None]
        err = ((np.clip(np.round(rows / scale), -127, 127) * scale - rows) ** 2).sum(axis=1)
        better = err < best_err - tol
        best, best_err = np.where(better, scale[:, 0], best), np.where(better, err, best_err)
    return best


def channel_rows(kernel: np.ndarray, axis: int | None) -> tuple[np.ndarray, tuple]:
    """`kernel` as (channels, values) along output axis `axis` (None: one row), and how to undo it."""
    if axis is None:
        return kernel.reshape(1, -1), (None, kernel.shape)
    moved = np.moveaxis(kernel, axis, 0)
    return moved.reshape(moved.shape[0], -1), (axis, moved.shape)


def from_rows(rows: np.ndarray, layout: tuple) -> np.ndarray:
    axis, shape = layout
    return rows.reshape(shape) if axis is None else np.moveaxis(rows.reshape(shape), 0, axis)


def quantize_rows(rows: np.ndarray, rule: str = "mse") -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, scales) for each row, by `rule` 'mse' or 'max' (the converter's max|w|/127)."""
    rows = np.asarray(rows, np.float64)
    if rule == "mse":
        scales = mse_scales(rows)
    else:
        top = np.abs(rows).max(axis=1)
        scales = np.where(top > 0, top / 127.0, 1.0)
    return np.clip(np.round(rows / scales[:, None]), -127, 127), scales


def fake_quant(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """int8 asymmetric per-tensor quantize-dequantize with an integer zero point (TFLite's)."""
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero = np.clip(np.round(-128 - lo / scale), -128, 127)
    return (np.clip(np.round(x / scale) + zero, -128, 127) - zero) * scale
