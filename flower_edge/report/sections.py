"""The report's sections as Markdown text, each from data already on disk.

Each function returns a Markdown block; a missing input becomes a line that says
what is missing and which command makes it.
"""

from __future__ import annotations

from pathlib import Path

from flower_edge.rundir import RunDir


def _missing(what: str, command: str) -> str:
    return f"_Not available: {what}. Run `{command}` to add it._\n"


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def header(run: RunDir, metrics: dict | None) -> str:
    from flower_edge.config import load_toml

    cfg = load_toml(run.config) if run.config.is_file() else {}
    model = cfg.get("model", {})
    from flower_edge.guard import public_path  # a forced pipeline builds the report staged

    lines = [f"# flower-edge report: `{public_path(run.path).name}`", ""]
    if model:
        lines.append(f"Model **{model.get('name')}** at {model.get('image_size')} px, weights "
                     f"`{model.get('weights')}`; data `{cfg.get('data', {}).get('path', '?')}`. "
                     f"The resolved recipe is `config.toml` in the run folder.")
    if metrics:
        test = metrics.get("test") or {}
        if test.get("samples") or not metrics.get("refit"):  # a refit on every photo has no test
            lines.append(f"Float model test top-1 **{_pct(test.get('top1'))}** on {test.get('samples', 0)} "
                         f"images after {metrics.get('epochs_run', '?')} epochs.")
        lines += _refit(metrics.get("refit"))
    lines.append("")
    lines.append("Contents: [Data](#data) · [Training](#training) · [Exported variants](#exported-variants)"
                 " · [Benchmark](#benchmark) · [Explanations](#explanations)")
    return "\n".join(lines) + "\n"


def _refit(refit: dict | None) -> list[str]:
    """Which model each figure comes from in a refit run (train/refit.py)."""
    if not refit:
        return []
    first = (f"the first pass (`{Path(refit.get('first_pass', 'selection/metrics.json')).parent}/`) chose "
             f"epoch {refit.get('chosen_epoch', 0) + 1} on val and scored {_pct(refit.get('first_pass_test_top1'))} "
             f"on the test split")
    line = (f"This model is a final refit on {' + '.join(refit.get('trained_on', []))} for "
            f"{refit.get('head_epochs')} head + {refit.get('finetune_epochs')} fine-tune epochs: {first}.")
    if refit.get("held_out_estimate") is None:
        return [line + " It trained on every photo, so it has **no held-out estimate**: score it with "
                       "`flower-edge benchmark RUN --eval-data DIR`."]
    return [line + f" Its own test top-1, **{_pct(refit['held_out_estimate'])}**, is the held-out estimate."]


def data_summary(run: RunDir) -> str:
    """Classes and image counts per split, from split.json."""
    from flower_edge.data.splits import DataSplits
    from flower_edge.errors import DataError

    out = ["## Data", ""]
    try:
        splits = DataSplits.load(run.split)
    except DataError:
        return "\n".join(out) + "\n" + _missing("no readable split.json", f"flower-edge train ... --out {run.path.parent}")
    names = [s for s in ("train", "val", "test")]
    out.append(f"{len(splits.classes)} classes from `{splits.source}` data, split with seed {splits.seed}.")
    out.append("")
    out.append("| class | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    counts = {n: [0] * len(splits.classes) for n in names}
    for name in names:
        for label in splits.split(name).labels:
            counts[name][label] += 1
    for i, cls in enumerate(splits.classes):
        out.append(f"| {cls} | " + " | ".join(str(counts[n][i]) for n in names) + " |")
    out.append("| **total** | " + " | ".join(f"**{sum(counts[n])}**" for n in names) + " |")
    return "\n".join(out) + "\n"


def training(run: RunDir, metrics: dict | None, pictures: dict[str, str]) -> str:
    """Metrics table and the learning curves, confusion matrix and predictions."""
    out = ["## Training", ""]
    if not metrics:
        out.append(_missing("no metrics.json", f"flower-edge train --resume {run.path}"))
    else:
        out += ["| split | images | top-1 | top-5 | mean per-class accuracy |", "|---|---|---|---|---|"]
        for name in ("val", "test"):
            m = metrics.get(name) or {}
            out.append(f"| {name} | {m.get('samples', 0)} | {_pct(m.get('top1'))} | {_pct(m.get('top5'))} "
                       f"| {_pct(m.get('mean_per_class_accuracy'))} |")
        worst = (metrics.get("test") or {}).get("worst_classes") or []
        if worst:
            out += ["", "Weakest classes (test recall): " + ", ".join(
                f"{w['class']} {_pct(w['recall'])} (n={w['support']})" for w in worst[:5]) + "."]
        refit = metrics.get("refit")
        epoch = (f"a refit ({refit['mode']}) up to epoch {refit['chosen_epoch']}, the first pass's choice"
                 if refit else f"best epoch {metrics.get('best_epoch')}")
        out += ["", f"Full metrics (confusion matrix, per-class precision/recall): `metrics.json`; {epoch}."]
    titles = {"curves.png": "Learning curves", "confusion.png": "Confusion matrix",
              "predictions.png": "Sample predictions"}
    for name, title in titles.items():
        if name in pictures:
            out += ["", f"### {title}", "", f"![{title.lower()}]({pictures[name]})"]
    if "curves.png" not in pictures:
        out += ["", "_No learning curves (curves.png) in the run folder._"]
    return "\n".join(out) + "\n"


def exports(run: RunDir, quantize: dict | None) -> str:
    """The quantize stage's table: size, ratio and agreement with Keras per variant."""
    out = ["## Exported variants", ""]
    md = run.export / "quantize.md"
    if quantize is None or not md.is_file():
        return "\n".join(out) + "\n" + _missing("no TFLite bundles were exported", f"flower-edge quantize {run.path}")
    body = md.read_text(encoding="utf-8").split("\n", 1)[1].strip()  # drop its own title
    out += ["Bundles are in `export/<variant>/` (model.tflite, labels.txt, manifest.json).", "", body]
    return "\n".join(out) + "\n"


def benchmark_rows(bench: dict):
    """BenchmarkRow objects from benchmark.json."""
    from flower_edge.benchmark.rows import BenchmarkRow

    return [BenchmarkRow.from_dict(raw) for raw in bench.get("rows", [])]


def benchmark(run: RunDir, bench: dict | None) -> str:
    """The one benchmark table and the Pareto plot."""
    from flower_edge.benchmark.render import images_text, table

    out = ["## Benchmark", ""]
    if bench is None:
        return "\n".join(out) + "\n" + _missing("no benchmark yet", f"flower-edge benchmark {run.path}")
    rows = benchmark_rows(bench)
    where = images_text(bench.get("image_set"), bench.get("images"), bench.get("split"))
    out += [(f"{where}. Latency: batch 1, "
            f"median / p90 of {bench.get('runs')} runs after {bench.get('warmup')} warmup, on this "
            f"machine. Agreement and KL are against the Keras float model. gzip MB: the model file "
            f"after gzip -9, what an over-the-air update sends."), "",
            table(rows, bench.get("threads", []), drift=False), ""]
    out += [f"- note: {note}" for note in bench.get("notes", [])]
    if (run.report / "pareto.png").is_file():
        out += ["", "### Size and latency vs accuracy", "", "![pareto plot](pareto.png)"]
    out += ["", "Machine-readable: `benchmark.json`."]
    return "\n".join(out) + "\n"


def explanations(run: RunDir, bench: dict | None) -> str:
    """Grad-CAM overlays, the deletion check, explanation drift and misclassifications."""
    out = ["## Explanations", ""]
    if bench is None:
        return "\n".join(out) + "\n" + _missing("no explanation checks yet", f"flower-edge benchmark {run.path}")
    out += ["### Grad-CAM", ""]
    images = [p for p in bench.get("gradcam_images", []) if (run.report / p).is_file()]
    if images:
        out.append("Left: the image and its true class; right: where the float model looked for the "
                   "class it predicted.")
        out += [line for p in images for line in ("", f"![{Path(p).stem}]({p})")]
    else:
        out.append("_No Grad-CAM overlays (the benchmark ran with --no-explain or on no images)._")
    out += ["", "### Deletion check", "", _deletion(bench.get("deletion"))]
    out += ["", "### Explanation drift", "", *_drift(benchmark_rows(bench))]
    out += ["", "### Misclassifications", "", *_misclass(run, bench.get("misclassification"))]
    return "\n".join(out) + "\n"


def _deletion(d: dict | None) -> str:
    if not d:
        return "_No deletion check was run._"
    verdict = "PASSED" if d["passed"] else "FAILED"
    ratio = "n/a" if d.get("ratio") is None else f"{d['ratio']:.2f}×"
    text = (f"**{verdict}**: blurring the top {d['fraction']:.0%} Grad-CAM pixels lowers the predicted "
            f"class score (logit) by {d['gradcam_drop']:.4f} on average, random regions by "
            f"{d['random_drop']:.4f} (ratio {ratio}; Grad-CAM wins on {d['wins']:.0%} of {d['images']} "
            f"images). A faithful map must beat random.")
    text += f" Note: {d['note']}" if d.get("note") else ""
    if len(d.get("methods") or []) > 2:  # LIME and occlusion were scored on the same images
        from flower_edge.explain.tables import deletion_table

        text += "\n\n" + "\n".join(deletion_table(d))
    return text


def _drift(rows) -> list[str]:
    drift = [r for r in rows if r.kind == "tflite" and r.occlusion_spearman is not None]
    if not drift:
        return ["_No drift measured (no TFLite variants, or explanations were off)._"]
    out = [("Does the compressed model look at the same places? Spearman ρ of each variant's "
           "occlusion map with the float model's (1 = same ranking of regions)."), "",
           "| variant | occlusion ρ | agreement with float |", "|---|---|---|"]
    out += [f"| `{r.variant}` | {r.occlusion_spearman:.3f} | {_pct(r.agreement)} |" for r in drift]
    return out


def _misclass(run: RunDir, m: dict | None) -> list[str]:
    if not m:
        return ["_No misclassification analysis._"]
    worst = ", ".join(f"{c} {_pct(a)} (n={n})" for c, a, n in m.get("worst_classes", [])) or "none"
    pairs = ", ".join(f"{t} → {p} ×{n}" for t, p, n in m.get("confused_pairs", [])) or "none"
    out = [f"Float model errors: **{m.get('errors', 0)}**. Worst classes: {worst}. Most confused: {pairs}."]
    image = m.get("image")
    if image and (run.report / image).is_file():
        out += ["", "Misclassified images beside their nearest training images:", "",
                f"![misclassified]({image})"]
    explained = m.get("explained")
    if explained and (run.report / explained).is_file():
        out += ["", "Why the wrong class: Grad-CAM beside LIME (superpixels) for the class the model "
                "predicted, on the most confident mistakes:", "", f"![misclassified, explained]({explained})"]
    return out
