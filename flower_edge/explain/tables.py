"""The deletion test as Markdown: a table of every map scored and a plain verdict.

Takes the result as a dict (`dataclasses.asdict` of a `DeletionResult`, or the same
read back from benchmark.json), so the benchmark, the run report and scripts share it.
"""

from __future__ import annotations

NAMES = {"gradcam": "Grad-CAM", "lime": "LIME", "occlusion": "occlusion", "random": "random blobs"}


def name(method: str) -> str:
    return NAMES.get(method, method)


def deletion_table(result: dict) -> list[str]:
    """Markdown table lines, most faithful first (bold), then the verdict sentence."""
    methods = result.get("methods") or []
    if not methods:
        return []
    lines = [f"| explanation | mean logit drop (top {result['fraction']:.0%} blurred) | × random | "
             f"beats random on |", "|---|---|---|---|"]
    for i, m in enumerate(methods):
        label = f"**{name(m['method'])}**" if i == 0 else name(m["method"])
        ratio = "—" if m.get("ratio") is None else f"{m['ratio']:.2f}×"
        wins = "—" if m.get("wins") is None else f"{m['wins']:.0%} of {result['images']}"
        lines.append(f"| {label} | {m['drop']:.3f} | {ratio} | {wins} |")
    return lines + ["", verdict(result)]


def verdict(result: dict) -> str:
    """One sentence: which map is most faithful, and plainly whether Grad-CAM lost."""
    methods = result.get("methods") or []
    if not methods:
        return ""
    order = [m["method"] for m in methods]
    best = order[0]
    text = f"Most faithful by the deletion test: **{name(best)}** (largest score drop when its top pixels are blurred)."
    if "gradcam" in order and best != "gradcam":
        beaten = [name(m) for m in order[:order.index("gradcam")]]
        text += f" **Grad-CAM loses** to {' and '.join(beaten)}."
    elif best == "gradcam" and len(order) > 2:
        text += " Grad-CAM beats every other map scored."
    if order.index("random") < len(order) - 1:
        worse = [name(m) for m in order[order.index("random") + 1:]]
        text += f" Worse than random: {', '.join(worse)}."
    return text
