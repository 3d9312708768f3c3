"""Flower-like images drawn in code (Pillow + numpy): the demo's and the tests' dataset.

Classes differ by petal count, colour and petal shape; each image gets a random
background, rotation, scale, position and small colour jitter. Everything is drawn
from numpy Generators seeded by (seed, class, index) and saved as PNG, so the same
seed gives byte-identical files.
"""

from __future__ import annotations

import colorsys
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from flower_edge.errors import UsageError
from flower_edge.guard import NO_DATA, output_dir
from flower_edge.io import atomic_write_json

MARKER = "synthetic.json"
SHAPES = ("ellipse", "pointed", "round", "notched")
PETALS = (5, 3, 8, 4, 6, 12, 7, 10)
COLOURS = ("red", "orange", "yellow", "lime", "green", "teal", "cyan", "azure", "blue",
           "violet", "magenta", "pink")
_SUPERSAMPLE = 2  # draw at 2x and downsample: cheap antialiasing


@dataclass(frozen=True)
class FlowerClass:
    """What makes a class: its name, petal count, hue (0..1) and petal shape."""

    name: str
    petals: int
    hue: float
    shape: str


def flower_classes(classes: int) -> list[FlowerClass]:
    """The `classes` class definitions: hues evenly spaced, petal count and shape cycling."""
    out = []
    for k in range(classes):
        hue = (k / classes + 0.02) % 1.0
        petals, shape = PETALS[k % len(PETALS)], SHAPES[(k // 2 + k) % len(SHAPES)]
        colour = COLOURS[int(hue * len(COLOURS)) % len(COLOURS)]
        out.append(FlowerClass(f"{colour}-{shape}-{petals}", petals, hue, shape))
    names = [c.name for c in out]
    # Two classes can land on the same colour word when there are many: number them.
    return [FlowerClass(f"{c.name}-{i}", c.petals, c.hue, c.shape) if names.count(c.name) > 1 else c
            for i, c in enumerate(out)]


def _rgb(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, min(max(sat, 0), 1), min(max(val, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _petal_outline(shape: str, length: float, width: float, n: int = 24) -> np.ndarray:
    """A petal pointing along +x from the origin, as an (n, 2) polygon."""
    t = np.linspace(0.0, math.pi, n)
    x = length * (1 - np.cos(t)) / 2
    s = np.sin(t)
    profile = {"ellipse": s, "pointed": s * (1 - t / math.pi) ** 0.6 * 1.6,
               "round": np.sqrt(np.clip(s, 0, 1)) * (0.5 + t / math.pi) * 0.9,
               "notched": s * (1.0 - 0.55 * np.exp(-((t - math.pi) ** 2) / 0.15))}[shape]
    half = width / 2 * profile
    upper = np.stack([x, half], axis=1)
    lower = np.stack([x[::-1], -half[::-1]], axis=1)
    return np.concatenate([upper, lower])


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random two-colour gradient with blotches: foliage, soil, sky or wall-like."""
    c1 = np.array(_rgb(rng.uniform(0, 1), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.8)), float)
    c2 = np.array(_rgb(rng.uniform(0, 1), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.8)), float)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    ramp = np.clip((xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle) + 0.5, 0, 1)
    img = c1 * (1 - ramp[..., None]) + c2 * ramp[..., None]
    for _ in range(rng.integers(3, 9)):  # soft blotches
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-50, 50, size=3)
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_flower(cls: FlowerClass, size: int, rng: np.random.Generator):
    """One RGB PIL image of a flower of class `cls` on a random background."""
    from PIL import Image, ImageDraw

    big = size * _SUPERSAMPLE
    img = Image.fromarray(_background(rng, big))
    draw = ImageDraw.Draw(img)
    radius = big * rng.uniform(0.22, 0.42)
    cx, cy = big * rng.uniform(0.35, 0.65), big * rng.uniform(0.35, 0.65)
    rotation = rng.uniform(0, 2 * math.pi)
    hue = cls.hue + rng.uniform(-0.025, 0.025)
    width = radius * rng.uniform(0.45, 0.7) * min(1.0, 5.0 / cls.petals * 1.1)
    for i in range(cls.petals):
        a = rotation + 2 * math.pi * i / cls.petals
        shade = rng.uniform(0.8, 1.0)
        pts = _petal_outline(cls.shape, radius, width * rng.uniform(0.9, 1.1))
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        pts = pts @ rot.T + (cx, cy)
        draw.polygon([tuple(p) for p in pts], fill=_rgb(hue, rng.uniform(0.65, 0.95), shade),
                     outline=_rgb(hue, 1.0, shade * 0.6))
    disc = radius * rng.uniform(0.15, 0.25)
    centre_colour = _rgb(rng.uniform(0.08, 0.16), 0.9, rng.uniform(0.3, 0.9))
    draw.ellipse([cx - disc, cy - disc, cx + disc, cy + disc], fill=centre_colour)
    return img.resize((size, size), Image.LANCZOS)


def _rng(seed: int, label: int, index: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, label, index])))


def _check_args(classes: int, per_class: int, size: int) -> None:
    if not 2 <= classes <= 100:
        raise UsageError(f"--classes must be 2..100 (got {classes})")
    if per_class < 1:
        raise UsageError(f"--per-class must be at least 1 (got {per_class})")
    if not 16 <= size <= 1024:
        raise UsageError(f"--size must be 16..1024 px (got {size})")


def write_synthetic(dest: str | os.PathLike, classes: int = 5, per_class: int = 60,
                    size: int = 128, seed: int = 0, show_progress: bool = False) -> Path:
    """Write a folder-per-class PNG set plus `synthetic.json`; atomic, returns `dest`.

    An existing `dest` is replaced only if it is itself a synthetic set (or empty).
    """
    _check_args(classes, per_class, size)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not (dest / MARKER).exists())):
        raise UsageError(f"{dest} exists and is not a synthetic dataset; choose a new or empty "
                         f"folder (it is never overwritten)")
    defs = flower_classes(classes)
    jobs = [(label, i) for label in range(classes) for i in range(per_class)]
    if show_progress:
        from flower_edge.progress import progress

        jobs = progress(jobs, "drawing flowers", length=len(jobs))
    with output_dir(dest, "synthetic", "synthetic dataset folder", data=NO_DATA) as tmp:
        for cls in defs:
            (tmp / cls.name).mkdir()
        for label, i in jobs:
            img = draw_flower(defs[label], size, _rng(seed, label, i))
            img.save(tmp / defs[label].name / f"{defs[label].name}_{i:04d}.png", optimize=False)
        atomic_write_json(tmp / MARKER, {"generator": "flower-edge synthetic", "version": 1,
                                         "seed": seed, "size": size, "per_class": per_class,
                                         "classes": [asdict(c) for c in defs]})
    return dest
