"""Runs INSIDE the IMX500 conversion venv (TF 2.15, Keras 2, MCT, imx500-converter).

    python venv_convert.py JOB.json

Self-contained on purpose: it never imports flower_edge modules that need the
workstation's TensorFlow 2.21. Only `flower_edge.runtime.transforms` (Pillow + numpy)
is imported, for the fidelity check, so eval photos get flower-edge's exact resize and
crop. The job folder (written by flower_edge/imx500/job.py) holds:
  job.json     architecture (how to rebuild it), options, paths
  weights.npz  the run's weights by "<layer>/<index>" (preprocessing layers left out)
  calib.npy    the calibration photos, uint8 NxHxWx3 (eval transform, as --int8 uses)
  reference.npy  the workstation model's float probabilities on calib.npy
It writes OUT/result.json (and q.keras, converter/ with packerOut.zip) and prints
one "step: NAME" line per stage so the caller can show progress and time each step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def step(name: str) -> None:
    print(f"step: {name}", flush=True)


def normalize(images: np.ndarray, mode: str) -> np.ndarray:
    """What the left-out preprocessing layers did (the ISP does it on the camera)."""
    x = images.astype(np.float32)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "unit":
        return x / 255.0
    raise SystemExit(f"error: preprocessing {mode!r} has no IMX500 route")


def build(arch: dict):
    """The classifier without its preprocessing layers, in this venv's Keras 2."""
    import tensorflow as tf

    layers = tf.keras.layers
    size = int(arch["image_size"])
    inputs = tf.keras.Input(shape=(size, size, 3), name="image")
    if arch["rebuild"] == "application":
        app = getattr(tf.keras.applications, arch["keras_app"])
        base = app(include_top=False, weights=None, input_tensor=inputs, **arch.get("app_kwargs", {}))
        x = base.output
    elif arch["rebuild"] == "baseline_cnn":  # models/specs.py::_baseline_cnn, layer for layer
        x = inputs
        widths = arch.get("widths", [32, 64])
        for i, width in enumerate(widths, start=1):
            x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
            x = layers.Conv2D(width, 3, padding="same", name=f"block{i}_conv2")(x)
            x = layers.ReLU(name=f"block{i}_relu")(x)
            if i < len(widths):
                x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    else:
        raise SystemExit(f"error: no rebuild {arch['rebuild']!r}")
    x = layers.GlobalAveragePooling2D(name="head_gap")(x)
    x = layers.Dense(int(arch["num_classes"]), name="logits")(x)  # dropout: identity at inference
    outputs = layers.Softmax(name="probs")(x)
    return tf.keras.Model(inputs, outputs, name=arch["name"])


def load_weights(model, path: Path) -> int:
    """Set every layer's weights from the npz; every array must be used, shapes must match."""
    data = np.load(path)
    by_layer: dict[str, dict[int, np.ndarray]] = {}
    for key in data.files:
        layer, index = key.rsplit("/", 1)
        by_layer.setdefault(layer, {})[int(index)] = data[key]
    used = 0
    for layer in model.layers:
        current = layer.get_weights()
        if not current:
            continue
        saved = by_layer.pop(layer.name, None)
        if saved is None or len(saved) != len(current):
            raise SystemExit(f"error: the rebuilt {model.name} has layer {layer.name} with "
                             f"{len(current)} arrays, the run has {0 if saved is None else len(saved)}")
        values = [saved[i] for i in range(len(current))]
        for cur, val in zip(current, values):
            if cur.shape != val.shape:
                raise SystemExit(f"error: layer {layer.name}: shape {val.shape} in the run, "
                                 f"{cur.shape} rebuilt")
        layer.set_weights(values)
        used += 1
    if by_layer:
        raise SystemExit(f"error: the run has layers the rebuild lacks: {', '.join(sorted(by_layer))[:200]}")
    return used


def core_config(opts: dict):
    """MCT's CoreConfig from opts["qc"]: QuantizationConfig's own field names; error
    methods by name (mse, noclipping, hmse, kl, ...)."""
    import model_compression_toolkit as mct

    qc = dict(opts.get("qc", {}))
    for key in ("activation_error_method", "weights_error_method"):
        if key in qc:
            qc[key] = getattr(mct.core.QuantizationErrorMethod, str(qc[key]).upper())
    return mct.core.CoreConfig(quantization_config=mct.core.QuantizationConfig(**qc))


def quantize(model, calib: np.ndarray, opts: dict):
    import model_compression_toolkit as mct

    tpc = mct.get_target_platform_capabilities("tensorflow", "imx500", target_platform_version="v1")
    batch = int(opts.get("batch", 16))
    n_iter = max(1, len(calib) // batch)

    def representative():
        for i in range(n_iter):
            yield [calib[i * batch:(i + 1) * batch]]

    cfg = core_config(opts)
    if opts.get("gptq_epochs"):
        gptq = mct.gptq.get_keras_gptq_config(n_epochs=int(opts["gptq_epochs"]))
        q_model, _ = mct.gptq.keras_gradient_post_training_quantization(
            model, representative, gptq_config=gptq, core_config=cfg, target_platform_capabilities=tpc)
    else:
        q_model, _ = mct.ptq.keras_post_training_quantization(
            model, representative, core_config=cfg, target_platform_capabilities=tpc)
    report = None
    if opts.get("mean_correction"):
        images = calib[np.linspace(0, len(calib) - 1, min(len(calib), int(opts["mean_correction"]))).astype(int)]
        report = correct_means(model, q_model, images)
    return q_model, report


def float_output(model, name: str):
    """The float model's tensor that MCT's wrapped layer `name` computes, or None. MCT names a
    conv with its BatchNorm folded in "<conv>_bn" (then: that BatchNorm's output), and moves
    a conv's own activation into a layer after it (then the float model has no such tensor)."""
    import tensorflow as tf

    names = {layer.name for layer in model.layers}
    conv = model.get_layer(name[:-3] if name.endswith("_bn") and name[:-3] in names else name)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization) and layer.input is conv.output:
            return layer.output
    activation = getattr(conv, "activation", None)
    return conv.output if activation in (None, tf.keras.activations.linear) else None


def correct_means(model, q_model, images: np.ndarray) -> dict:
    """flower-edge's int8 mean correction (flower_edge/quantize/int8/mean_correction.py) on
    MCT's fake-quant model: in order, shift each wrapped layer's float bias so its
    per-channel output mean on `images` matches the float model's, then measure the next
    layer on the corrected model. MCT has no such pass: its bias correction only sees a
    layer's own weight rounding, not the drift carried in from earlier layers."""
    import tensorflow as tf

    wrapped = [layer for layer in q_model.layers if hasattr(layer, "layer") and layer.layer.use_bias]
    pairs = [(w, t) for w in wrapped if (t := float_output(model, w.layer.name)) is not None]
    before = predict(q_model, images)
    ref = tf.keras.Model(model.input, [t for _, t in pairs])
    targets, largest = _channel_means(ref, images), 0.0
    for (layer, _), target in zip(pairs, targets):
        shift = _channel_means(tf.keras.Model(q_model.input, layer.output), images)[0] - target
        layer.layer.bias.assign(layer.layer.bias.numpy() - shift)
        largest = max(largest, float(np.abs(shift).max()))
    reference, after = predict(model, images), predict(q_model, images)
    return {"layers": len(pairs), "skipped": len(wrapped) - len(pairs), "images": len(images),
            "max_mean_shift": round(largest, 6),
            # L1, not KL: the uint8 softmax of a fake-quant model need not sum to 1
            "prob_l1_before": _l1(reference, before), "prob_l1_after": _l1(reference, after)}


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """Mean KL(float || quantized) over the rows."""
    return float(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(q + 1e-12)), axis=1)))


def _l1(p: np.ndarray, q: np.ndarray) -> float:
    """Mean over the rows of sum |p - q|."""
    return float(np.mean(np.abs(p - q).sum(axis=1)))


def _channel_means(model, x: np.ndarray, batch: int = 16) -> list[np.ndarray]:
    """Per-channel mean of each output over `x`, batch by batch (whole maps would take GBs)."""
    sums: list = []
    for i in range(0, len(x), batch):
        outs = model(x[i:i + batch], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        means = [o.numpy().astype(np.float64).reshape(-1, o.shape[-1]).sum(0) for o in outs]
        sums = means if not sums else [a + b for a, b in zip(sums, means)]
    pixels = [len(x) * int(np.prod(o.shape[1:-1])) for o in model.outputs]
    return [(s / n).astype(np.float32) for s, n in zip(sums, pixels)]


def predict(model, x: np.ndarray) -> np.ndarray:
    return np.concatenate([model(x[i:i + 32], training=False).numpy() for i in range(0, len(x), 32)])


def evaluate(job: dict, model, q_model) -> dict:
    """top-1 of float and quantized, and their agreement, on the eval photos (fidelity check)."""
    if job.get("eval_npy"):  # photos already through the same transform (benchmarks/bench_imx500_fidelity.py)
        images, y = np.load(job["eval_npy"]), np.load(job["eval_labels"])
    else:
        images, y = eval_photos(job)
    x = normalize(images, job["architecture"]["preprocessing"])
    pf, pq = predict(model, x), predict(q_model, x)
    if job.get("eval_npy"):
        np.save(Path(job["out"]) / "quantized_probs.npy", pq)
    return {"images": len(y), "float_top1": float(np.mean(pf.argmax(1) == y)),
            "quantized_top1": float(np.mean(pq.argmax(1) == y)),
            "agreement": float(np.mean(pf.argmax(1) == pq.argmax(1))), "kl": _kl(pf, pq)}


def eval_photos(job: dict) -> tuple[np.ndarray, np.ndarray]:
    """Labelled photos (one folder per class) through flower-edge's own resize and crop."""
    sys.path.insert(0, job["package_root"])
    from flower_edge.runtime.transforms import IMAGE_EXTENSIONS, load_for_model

    folder = Path(job["eval_dir"])
    paths, ys = [], []
    for index, name in enumerate(job["labels"]):
        for path in sorted((folder / name).iterdir()) if (folder / name).is_dir() else []:
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(path)
                ys.append(index)
    if not paths:
        raise SystemExit(f"error: no photos of the run's classes in {folder} (one folder per label)")
    size = int(job["architecture"]["image_size"])
    return np.stack([load_for_model(p, size) for p in paths]), np.asarray(ys)


def convert(q_model, out: Path) -> dict:
    import model_compression_toolkit as mct

    path = out / "q.keras"
    mct.exporter.keras_export_model(model=q_model, save_model_path=str(path))
    step("imxconv-tf")
    conv = out / "converter"
    tool = Path(sys.executable).with_name("imxconv-tf")
    proc = subprocess.run([str(tool), "-i", str(path), "-o", str(conv), "--overwrite-output"],
                          capture_output=True, text=True)
    (out / "imxconv.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        return {"ok": False, "error": " ".join(lines[-3:])[-400:]}
    return {"ok": True, "folder": str(conv)}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("model-compression-toolkit", "imx500-converter", "uni-tensorflow", "sdspconv",
                 "tensorflow", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    folder, out = Path(job_path).parent, Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.monotonic()
    step("rebuild")
    arch = job["architecture"]
    model = build(arch)
    layers = load_weights(model, folder / "weights.npz")
    calib = normalize(np.load(folder / "calib.npy"), arch["preprocessing"])
    reference = np.load(folder / "reference.npy")
    rebuilt = predict(model, calib)
    result = {"versions": versions(), "layers_loaded": layers,
              "rebuild_max_abs_diff": float(np.max(np.abs(rebuilt - reference)))}
    times["rebuild"] = time.monotonic() - t
    t = time.monotonic()
    step("quantize")
    q_model, result["mean_correction"] = quantize(model, calib, job["options"])
    times["quantize"] = time.monotonic() - t
    if job.get("eval_dir") or job.get("eval_npy"):
        t = time.monotonic()
        step("evaluate")
        result["fidelity"] = evaluate(job, model, q_model)
        times["evaluate"] = time.monotonic() - t
    if job.get("convert", True):
        t = time.monotonic()
        step("export")
        result["converter"] = convert(q_model, out)
        times["convert"] = time.monotonic() - t
    result["seconds"] = {k: round(v, 1) for k, v in times.items()}
    (out / "result.json").write_text(json.dumps(result, indent=2))
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
