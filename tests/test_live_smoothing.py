"""Smoothing of live labels: the EMA's half-life, hysteresis, and the defaults on the
textbook case (30 frames of one class, 3 distractor frames, 30 of the first)."""

from __future__ import annotations

import numpy as np
import pytest

from flower_edge.errors import UsageError
from flower_edge.runtime.smoothing import Smoother, SmoothingConfig, ema_weight, smooth_sequence


def onehot(index: int, n: int = 3, p: float = 0.9) -> np.ndarray:
    row = np.full(n, (1 - p) / (n - 1), dtype=np.float32)
    row[index] = p
    return row


def test_half_life_halves_the_old_weight():
    assert ema_weight(4.0, 4.0) == pytest.approx(0.5)
    assert ema_weight(0.0) == 1.0
    s = Smoother(SmoothingConfig(half_life=2.0, margin=0.0, hold=1))
    s.update(np.array([1.0, 0.0]))
    for _ in range(2):
        _, probs = s.update(np.array([0.0, 1.0]))
    assert probs[0] == pytest.approx(0.5, abs=1e-6)  # two frames = one half-life


def test_half_life_in_seconds_uses_frame_times():
    s = Smoother(SmoothingConfig(half_life=10.0, seconds=True, margin=0.0, hold=1))
    s.update(np.array([1.0, 0.0]), now=0.0)
    _, probs = s.update(np.array([0.0, 1.0]), now=10.0)
    assert probs[0] == pytest.approx(0.5, abs=1e-6)
    _, probs = s.update(np.array([0.0, 1.0]), now=10.0)  # no time passed: no weight
    assert probs[0] == pytest.approx(0.5, abs=1e-6)
    timeless = Smoother(SmoothingConfig(1.0, seconds=True))
    timeless.update(np.ones(2))
    with pytest.raises(UsageError):
        timeless.update(np.ones(2))


def test_hysteresis_needs_the_margin_for_hold_frames():
    cfg = SmoothingConfig(half_life=0.0, margin=0.2, hold=3)
    seq = [onehot(0)] + [np.array([0.45, 0.55, 0.0])] * 5 + [onehot(1)] * 2 + [onehot(0)] + [onehot(1)] * 3
    labels = smooth_sequence(np.stack(seq), cfg)
    # a lead of 0.1 < margin never switches; 2 frames with the lead are not enough, 3 are
    assert labels.tolist() == [0] * 6 + [0, 0, 0, 0, 0, 1]


def test_off_is_each_frames_top1():
    probs = np.random.default_rng(0).random((50, 4)).astype(np.float32)
    assert (smooth_sequence(probs, SmoothingConfig.off()) == probs.argmax(1)).all()


def test_defaults_ignore_a_3_frame_distractor_and_follow_a_real_change():
    seq = [onehot(0)] * 30 + [onehot(1, p=0.99)] * 3 + [onehot(0)] * 30 + [onehot(2)] * 30
    raw = smooth_sequence(np.stack(seq), SmoothingConfig.off())
    shown = smooth_sequence(np.stack(seq), SmoothingConfig())
    assert np.count_nonzero(np.diff(raw)) == 3
    assert np.count_nonzero(np.diff(shown)) == 1  # only the real change
    switch = int(np.flatnonzero(shown == 2)[0]) - 63
    assert 0 < switch <= 10
    assert (shown[switch + 63:] == 2).all()


@pytest.mark.parametrize("kwargs", [{"half_life": -1}, {"margin": 1.0}, {"hold": 0},
                                    {"half_life": float("nan")}])
def test_bad_config_is_a_usage_error(kwargs):
    with pytest.raises(UsageError):
        SmoothingConfig(**kwargs)
