"""Pictures of explanations: heat-map overlays and panels written as PNG."""

from __future__ import annotations

import io
import os

import numpy as np

from flower_edge.io import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def colorize(heat: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """A [H, W] map in [0, 1] as an RGB uint8 heat map."""
    import matplotlib

    rgba = matplotlib.colormaps[cmap](np.clip(heat, 0.0, 1.0))
    return (rgba[..., :3] * 255).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend a heat map (any resolution, [0, 1]) over an HxWx3 uint8 image."""
    from flower_edge.explain.gradcam import upsample

    if heat.shape != image.shape[:2]:
        heat = upsample(heat[None], image.shape[:2])[0]
    # Opacity follows the heat, so regions with no evidence show the plain photo.
    weight = (alpha * np.clip(heat, 0.0, 1.0))[..., None]
    mixed = (1 - weight) * image.astype(np.float32) + weight * colorize(heat).astype(np.float32)
    return np.clip(mixed, 0, 255).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray, dim: float = 0.35) -> np.ndarray:
    """The image with pixels outside `mask` dimmed and the mask's border drawn in yellow."""
    image = np.asarray(image, dtype=np.uint8)
    mask = np.asarray(mask, dtype=bool)
    out = np.where(mask[..., None], image, image * dim).astype(np.uint8)
    padded = np.pad(mask, 1, mode="edge")
    inner = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    out[mask & ~inner] = (255, 230, 0)
    return out


def save_grid(path: str | os.PathLike, rows: list[list[tuple[str, np.ndarray]]],
              title: str = "", cell: float = 2.4) -> str:
    """Save rows of (caption, image) panels as one PNG, atomically. Returns the path."""
    plt = _pyplot()
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(cell * ncols, cell * len(rows) + 0.4),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row):
                caption, picture = row[c]
                if picture.ndim == 2:
                    ax.imshow(picture, cmap="inferno", vmin=0, vmax=1)
                else:
                    ax.imshow(picture)
                ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return str(path)
