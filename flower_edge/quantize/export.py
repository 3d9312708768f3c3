"""`quantize_run`: a training run in, checked TFLite bundles out (RUN_DIR/export/<variant>/)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from flower_edge.config import dumps_toml, load_toml, to_dict
from flower_edge.data.pipeline import eval_images
from flower_edge.errors import FlowerEdgeError
from flower_edge.guard import public_path
from flower_edge.io import atomic_write_json, atomic_write_text
from flower_edge.models.build import load_keras_model
from flower_edge.quantize import calibration as cal
from flower_edge.quantize.bundle import write_bundle
from flower_edge.quantize.config import QuantizationConfig
from flower_edge.quantize.convert import check_full_integer, convert, saved_model
from flower_edge.quantize.recipe import QuantizeRecipe
from flower_edge.quantize.verify import VariantRow, agreement_warnings, make_row, render_table
from flower_edge.rundir import RunDir


@dataclass
class QuantizeResult:
    """What `quantize_run` produced: checked rows, warnings for people, report paths."""

    rows: list[VariantRow]
    warnings: list[str] = field(default_factory=list)
    debug_report: Path | None = None
    log: Path | None = None

    def table(self) -> str:
        return render_table(self.rows)


@dataclass
class _Context:
    run: RunDir
    model: object
    labels: list[str]
    meta: dict
    recipe: QuantizeRecipe
    calib: np.ndarray | None
    calib_labels: np.ndarray | None
    splits: object
    log: Path
    source: object = None  # a SavedModel export of `model`, converted once per variant
    compressed: object = None  # quantize/compress.py: pruned/clustered models, made once each
    fp32: bytes | None = None  # the fp32 variant's file: int8's mean correction compares with it


@dataclass(frozen=True)
class _Generation(RunDir):
    """A run whose export/ is being written elsewhere: the next generation of it."""

    folder: Path = Path()

    @property
    def export(self) -> Path:
        return self.folder


def quantize_run(run_dir: str | os.PathLike, recipe: QuantizeRecipe = QuantizeRecipe(),
                 calib_data: str | os.PathLike | None = None, keep_others: bool = True) -> QuantizeResult:
    """Export every variant of `recipe`, check each against Keras, return the rows.

    RUN_DIR/export must be new or flower-edge's (guard.py): files a user put in a
    folder of that name are never overwritten. The whole export/ is one generation:
    written beside the old one and swapped in once complete, so the bundles and
    quantize.json/.md always describe one set (a kill leaves the old set whole). With
    `keep_others` the bundles of variants not made now are carried over from the old
    generation (their rows too); without it (pipeline) only this recipe's bundles remain."""
    from flower_edge.guard import output_dir, run_data

    run = RunDir(Path(run_dir)).require_model()
    with output_dir(run.export, "export", "export folder", data=run_data(run.path)) as work:
        carried = _carry(run.export, work, {c.variant for c in recipe.configs()}, keep_others)
        return _export(_Generation(run.path, work), recipe, calib_data, carried)


def _carry(old: Path, new: Path, remade: set[str], keep_bundles: bool) -> list[dict]:
    """Hard-link (files are only ever replaced, never changed in place) what the new
    generation keeps from the old one; returns the carried bundles' quantize.json rows."""
    import json
    import shutil

    from flower_edge.guard import MARKER, is_kind

    if not old.is_dir():
        return []
    kept = []
    for entry in old.iterdir():
        bundle = entry.is_dir() and is_kind(entry, "bundle")
        if entry.name in (MARKER, "quantize.json", "quantize.md", "quantize.toml", "convert.log") or (
                bundle and (entry.name in remade or not keep_bundles)) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            shutil.copytree(entry, new / entry.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, new / entry.name)
        kept.append(entry.name)
    try:
        rows = json.loads((old / "quantize.json").read_text(encoding="utf-8")).get("rows", [])
    except (OSError, ValueError, AttributeError):
        rows = []
    return [r for r in rows if isinstance(r, dict) and r.get("variant") in kept]


def _link_or_copy(src, dst) -> None:
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _export(run: RunDir, recipe: QuantizeRecipe, calib_data, carried: list[dict]) -> QuantizeResult:
    ctx = _prepare(run, recipe, calib_data)
    val_images = _validation_images(ctx)
    reference = ctx.model.predict(val_images.astype(np.float32), batch_size=32, verbose=0)
    rows, fp32_bytes, debug_report = [], None, None
    from flower_edge.quantize.compress import CompressedModels

    images = lambda: _training_images(ctx, "pruning/clustering training images")  # noqa: E731
    with saved_model(ctx.model, ctx.log) as ctx.source, \
            CompressedModels(ctx.model, images, recipe, ctx.log) as ctx.compressed:
        for config in recipe.configs():
            model_bytes, extra, report = _convert_one(ctx, config)
            debug_report = debug_report or report
            dest = ctx.run.bundle(config.variant)
            manifest = write_bundle(dest, model_bytes, ctx.labels, config,
                                    {**ctx.meta, "quantization": extra}, recipe.check_runtimes)
            if config.kind == "fp32":
                fp32_bytes = len(model_bytes)
            row = make_row(config.variant, dest, manifest, reference, val_images, fp32_bytes)
            rows.append(replace(row, path=str(public_path(dest))))  # where it will be, not staged
        if debug_report is None and recipe.debug:
            debug_report = _debug(ctx, recipe.variant("int8"))[2]
    # a pruned/clustered model is meant to differ from the original: the int8 advice is not for it
    plain = [r for r, c in zip(rows, recipe.configs()) if not c.compressed]
    warnings = agreement_warnings(plain, recipe.agreement_threshold, _label_smoothing(ctx.run))
    result = QuantizeResult(rows, warnings, debug_report, public_path(ctx.log))  # not the staging path
    _save_summary(ctx, result, carried)
    return result


def _prepare(run: RunDir, recipe: QuantizeRecipe, calib_data) -> _Context:
    run.require_model()
    if not run.labels.is_file():
        raise FlowerEdgeError(f"no labels.txt in {run.path}: re-run 'flower-edge train' (it writes one)")
    labels = run.read_labels()
    _check_writable(run.export)
    model = load_keras_model(run.model)
    splits = cal.load_splits(run, calib_data)
    size = int(model.input_shape[1])
    calib = calib_labels = None
    needs_calib = recipe.debug or any(c.needs_calibration for c in recipe.configs())
    if needs_calib:
        paths, ys = cal.stratified(splits.train, recipe.int8.calib_samples, seed=splits.seed)
        calib, calib_labels = eval_images(paths, size, "calibration images"), np.asarray(ys)
    log = run.export / "convert.log"
    atomic_write_text(log, "flower-edge quantize: converter output\n")
    return _Context(run, model, labels, _meta(run, model, size), recipe, calib, calib_labels, splits, log)


def _check_writable(folder: Path) -> None:
    """Fail before any slow work if the export folder cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
    os.close(fd)
    os.unlink(probe)


def _meta(run: RunDir, model, size: int) -> dict:
    from flower_edge.tfcompat import tf

    cfg = load_toml(run.config) if run.config.is_file() else {}
    arch = cfg.get("model", {}).get("name") or model.name
    return {"architecture": arch, "image_size": size, "source_run": str(public_path(run.path.resolve())),
            "tf_version": tf().__version__}


def _label_smoothing(run: RunDir) -> float:
    """The run's training label smoothing (0 when unknown): it decides the first advice."""
    value = (load_toml(run.config) if run.config.is_file() else {}).get("train", {}).get("label_smoothing", 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _validation_images(ctx: _Context) -> np.ndarray:
    split = ctx.splits.val if len(ctx.splits.val) else ctx.splits.test
    if not len(split):
        split = ctx.splits.train
    paths, _ = cal.stratified(split, ctx.recipe.val_samples, seed=ctx.splits.seed)
    return eval_images(paths, ctx.meta["image_size"], f"validation images ({split.name})")


def _convert_one(ctx: _Context, config: QuantizationConfig):
    """(model bytes, extra manifest details, debug report path or None)."""
    rep = cal.representative_dataset(ctx.calib) if ctx.calib is not None else None
    if config.keep_float:
        from flower_edge.quantize.debug import resolve_keep_float, selective_model

        debugger, rows, report = _debug(ctx, config)
        nodes = resolve_keep_float(config.keep_float, rows)
        return selective_model(debugger, config, nodes, ctx.log), {"float_nodes": nodes}, report
    model, keras_model, reference = ctx.source, ctx.model, ctx.source
    extra: dict = {}
    if config.compressed:
        keras_model, model = ctx.compressed.get(config)
        reference = model
    if config.qat:
        from flower_edge.quantize.qat import fine_tune

        train_paths, train_labels = cal.stratified(ctx.splits.train, len(ctx.splits.train))
        images = eval_images(train_paths, ctx.meta["image_size"], "QAT training images")
        model = fine_tune(ctx.model, images, np.asarray(train_labels), ctx.recipe.qat_epochs,
                          ctx.recipe.qat_learning_rate)
        extra = {"qat_epochs": ctx.recipe.qat_epochs, "qat_learning_rate": ctx.recipe.qat_learning_rate}
    elif config.kind == "int8" and config.int8.bias_correction:
        from flower_edge.quantize.int8 import before_conversion

        model = before_conversion(keras_model, ctx.calib, config, extra)
    model_bytes = convert(model, config, rep, ctx.log, extra, reference=reference,
                          reference_fp32=ctx.fp32 if reference is ctx.source else None)
    if config.kind == "fp32" and model is ctx.source and not config.compressed:
        ctx.fp32 = model_bytes  # the plain fp32 conversion of the run's model
    check_full_integer(model_bytes, config)
    if config.compressed:
        from flower_edge.quantize.weight_stats import kernel_stats, summary

        extra["compression"] = {"prune": config.prune, "cluster": config.cluster,
                                **summary(kernel_stats(model_bytes))}
    return model_bytes, extra, None


def _training_images(ctx: _Context, what: str) -> np.ndarray:
    """Every training image of the run, eval-transformed (for fine-tuning after training)."""
    paths, _ = cal.stratified(ctx.splits.train, len(ctx.splits.train))
    return eval_images(paths, ctx.meta["image_size"], what)


def _debug(ctx: _Context, config: QuantizationConfig):
    """Run the debugger once and write export/debug/layers.{csv,md}."""
    from flower_edge.quantize.debug import run_debugger, write_report

    n = min(ctx.recipe.debug_samples, len(ctx.calib))
    debugger, rows = run_debugger(ctx.source, config, cal.representative_dataset(ctx.calib),
                                  ctx.calib[:n], ctx.log)
    _, md = write_report(rows, ctx.run.export / "debug")
    return debugger, rows, md


def _save_summary(ctx: _Context, result: QuantizeResult, carried: list[dict]) -> None:
    """quantize.json lists every bundle of the generation: those made now, then those
    carried over from the last one (their rows as written then)."""
    export = ctx.run.export
    atomic_write_text(export / "quantize.toml", dumps_toml(to_dict(ctx.recipe)))
    atomic_write_json(export / "quantize.json", {"rows": [r.to_dict() for r in result.rows] + carried,
                                                 "warnings": result.warnings})
    text = "# Exported variants\n\n" + result.table() + "\n"
    if result.warnings:
        text += "\n" + "\n".join(f"- warning: {w}" for w in result.warnings) + "\n"
    atomic_write_text(export / "quantize.md", text)
