"""Steady labels from a stream of per-frame probabilities: an EMA plus hysteresis.

A classifier run on every frame of a camera flickers: one blurred frame, a bee, a
leaf in the wind and the top-1 jumps for a frame or two. Two stages stop that:

1. An exponential moving average of the probability vector. Its half-life is in
   frames, or in seconds when frames arrive irregularly (a folder watch, a slow Pi).
2. Hysteresis on the shown label: it changes only when another class leads the
   shown one by `margin` (smoothed probability) for `hold` frames in a row.

The defaults come from `benchmarks/bench_smoothing.py` on sequences of real photos
(runs of one class with distractor frames); see the README's "Live camera".
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from flower_edge.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where it is used: cli/live_cmd.py reads the defaults below at start-up,
# and every `flower-edge` command (`--help` included) imports that module.

# Chosen by benchmarks/bench_smoothing.py on real photos (its output is in the README): the
# fewest false flips among settings that cut them >= 5x and switch within 10 frames (p90).
DEFAULT_HALF_LIFE = 3.0
DEFAULT_MARGIN = 0.1
DEFAULT_HOLD = 2


@dataclasses.dataclass(frozen=True)
class SmoothingConfig:
    """half_life: frames (or seconds if `seconds`); 0 turns the EMA off.
    margin: lead over the shown label's smoothed probability needed to switch.
    hold: consecutive frames that lead must last."""

    half_life: float = DEFAULT_HALF_LIFE
    seconds: bool = False
    margin: float = DEFAULT_MARGIN
    hold: int = DEFAULT_HOLD

    def __post_init__(self):
        if self.half_life < 0 or not math.isfinite(self.half_life):
            raise UsageError(f"half-life must be >= 0, got {self.half_life}")
        if not 0 <= self.margin < 1:
            raise UsageError(f"margin must be in [0, 1), got {self.margin}")
        if self.hold < 1:
            raise UsageError(f"hold must be >= 1 frame, got {self.hold}")

    @classmethod
    def off(cls) -> SmoothingConfig:
        """No smoothing: the shown label is each frame's own top-1."""
        return cls(half_life=0.0, margin=0.0, hold=1)


def ema_weight(half_life: float, steps: float = 1.0) -> float:
    """The weight of the new value after `steps` (frames or seconds): old weight halves every half_life."""
    if half_life <= 0:
        return 1.0
    return 1.0 - 0.5 ** (steps / half_life)


class Smoother:
    """Feed one probability vector per frame; read the smoothed vector and the shown label."""

    def __init__(self, config: SmoothingConfig = SmoothingConfig()):
        self.config = config
        self.probs: np.ndarray | None = None
        self.label: int | None = None
        self._candidate: int | None = None
        self._streak = 0
        self._last_time: float | None = None

    def reset(self) -> None:
        self.__init__(self.config)

    def update(self, probs: np.ndarray, now: float | None = None) -> tuple[int, np.ndarray]:
        """Add a frame's probabilities (and its time in seconds); return (shown label, smoothed probs)."""
        import numpy as np

        probs = np.asarray(probs, dtype=np.float32)
        if self.probs is None:
            self.probs = probs.copy()
            self.label = int(np.argmax(probs))
            self._last_time = now
            return self.label, self.probs
        self.probs += self._weight(now) * (probs - self.probs)
        self._last_time = now
        self._hysteresis()
        return self.label, self.probs

    def _weight(self, now: float | None) -> float:
        cfg = self.config
        if not cfg.seconds:
            return ema_weight(cfg.half_life)
        if now is None or self._last_time is None:
            raise UsageError("a half-life in seconds needs each frame's time")
        return ema_weight(cfg.half_life, max(0.0, now - self._last_time))

    def _hysteresis(self) -> None:
        best = int(self.probs.argmax())
        lead = float(self.probs[best] - self.probs[self.label])
        if best == self.label or lead < self.config.margin:
            self._candidate, self._streak = None, 0
            return
        self._streak = self._streak + 1 if best == self._candidate else 1
        self._candidate = best
        if self._streak >= self.config.hold:
            self.label, self._candidate, self._streak = best, None, 0


def smooth_sequence(probs: np.ndarray, config: SmoothingConfig,
                    times: np.ndarray | None = None) -> np.ndarray:
    """The shown label for each row of `probs` [N, C] (a whole recorded sequence)."""
    import numpy as np

    smoother = Smoother(config)
    labels = np.empty(len(probs), dtype=np.int64)
    for i, row in enumerate(probs):
        labels[i] = smoother.update(row, None if times is None else float(times[i]))[0]
    return labels
