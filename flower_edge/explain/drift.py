"""Explanation drift: does a quantized model still look where the float model looks?"""

from __future__ import annotations

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps; 1.0 when both are constant, 0.0 if one is."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    flat_a, flat_b = np.ptp(a) == 0, np.ptp(b) == 0
    if flat_a or flat_b:
        return 1.0 if flat_a and flat_b else 0.0
    return float(spearmanr(a, b).statistic)
