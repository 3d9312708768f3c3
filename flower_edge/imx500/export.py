"""`quantize RUN --imx500`: a training run in, RUN/export/imx500/ out, for the Raspberry Pi AI Camera.

Steps (each timed; the slow ones run in the conversion venv, see env.py):
  1. prepare (here, TF 2.21): check the spec has a route, load the model, read the
     calibration photos, write the job (weights by layer name, photos, float reference);
  2. rebuild (venv): the architecture from code, the weights loaded, checked against the
     reference probabilities;
  3. quantize (venv): MCT post-training quantization with the IMX500 target platform;
  4. convert (venv): MCT's export, then Sony's `imxconv-tf` -> packerOut.zip + memory report;
  5. write the folder atomically: packerOut.zip, labels.txt, network_intrinsics.json, the
     memory report, imx500-manifest.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flower_edge.errors import FlowerEdgeError
from flower_edge.imx500 import job as jobs
from flower_edge.imx500.env import check_java, ensure_venv, find_python, is_ready
from flower_edge.imx500.report import bundle_files, read_memory_report
from flower_edge.rundir import RunDir

FOLDER = "imx500"
MANIFEST = "imx500-manifest.json"  # not manifest.json: this folder holds no .tflite bundle
SCRIPT = Path(__file__).with_name("venv_convert.py")


@dataclass(frozen=True)
class Imx500Options:
    """MCT's post-training quantization knobs for the IMX500 (saved in the manifest).
    The defaults are the setting docs/imx500.md measured closest to float."""

    calib_samples: int = 300  # as --int8
    activation_error_method: str = "mse"  # activation range search: mse, noclipping, hmse, kl, ...
    weights_error_method: str = "mse"
    weights_bias_correction: bool = True
    shift_negative_activation_correction: bool = True
    weights_second_moment_correction: bool = False
    activation_bias_correction: bool = False
    z_threshold: float = float("inf")  # outlier removal before the range search (inf: off)
    gptq_epochs: int = 0  # 0: plain PTQ; N: MCT's GPTQ for N epochs
    # --int8's mean correction, applied to MCT's model: agreement 96.1 -> 97.1% (docs/imx500.md)
    mean_correction: bool = True
    batch: int = 16

    def mct(self) -> dict:
        """The job's options: MCT's QuantizationConfig fields under "qc"."""
        own = ("calib_samples", "gptq_epochs", "mean_correction", "batch")
        qc = {k: v for k, v in asdict(self).items() if k not in own}
        if qc["z_threshold"] == float("inf"):
            qc.pop("z_threshold")  # JSON has no infinity; MCT's default is inf
        from flower_edge.quantize.int8.mean_correction import DEFAULT_IMAGES  # as many photos as --int8

        images = DEFAULT_IMAGES if self.mean_correction else 0
        return {"qc": qc, "gptq_epochs": self.gptq_epochs, "mean_correction": images, "batch": self.batch}


@dataclass
class Imx500Result:
    folder: Path
    manifest: dict
    seconds: dict = field(default_factory=dict)

    def summary(self) -> str:
        m = self.manifest
        mem = m.get("memory", {})
        share = mem.get("share_used")
        used = (f" ({mem['bytes_used'] / 1024:.0f} KB of {mem['chip_bytes'] / 1024 ** 2:.0f} MB on-chip "
                f"memory, {share:.1%})" if share is not None else "")
        lines = [f"IMX500 export: {self.folder}",
                 f"  packerOut.zip {m['files']['packerOut.zip']['bytes'] / 1e6:.2f} MB; fits in chip: "
                 f"{mem.get('fits_in_chip')}{used}",
                 "  steps: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())]
        if mem.get("fits_in_chip") is False:
            lines.append("  warning: the network does not fit in the IMX500's on-chip memory: train a "
                         "narrower MobileNetV2 (e.g. mobilenet_v2_035) or a smaller --image-size")
        fid = m["quantization"].get("fidelity")
        if fid:
            lines.append(f"  fidelity on {fid['images']} photos: float top-1 {fid['float_top1']:.1%}, "
                         f"IMX500 top-1 {fid['quantized_top1']:.1%}, agreement {fid['agreement']:.1%}")
        lines.append("  on the Pi: imx500-package -i packerOut.zip -o rpk/, then "
                     "flower-edge live --input imx500:rpk/network.rpk")
        return "\n".join(lines)


def export_imx500(run_dir, options: Imx500Options = Imx500Options(), calib_data=None,
                  eval_dir: str | None = None, echo=None) -> Imx500Result:
    from flower_edge.guard import adding_to, output_dir

    echo = echo or (lambda text: print(text, file=sys.stderr))
    run = RunDir(Path(run_dir)).require_model()
    check_java()  # a missing Java or Python is one line before any slow work
    if not is_ready():
        find_python()
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    spec, model, arch, calib, labels = _prepare(run, options, calib_data)
    python = ensure_venv(echo)  # Java and Python are checked before the slow work
    seconds["prepare"] = time.monotonic() - t0
    with tempfile.TemporaryDirectory(prefix="flower-edge-imx500-") as tmp:
        job = jobs.write_job(Path(tmp), model, arch, calib, options.mct(), labels, eval_dir)
        result = _run_venv(python, job, echo, seconds)
        out = Path(tmp) / "out"
        conv = result.get("converter") or {}
        if not conv.get("ok"):
            raise FlowerEdgeError(f"Sony's imxconv-tf refused {spec.name}: {conv.get('error', 'no output')}")
        with adding_to(run.export, "export", "export folder", inside_run=run.path, data=()), \
                output_dir(run.export / FOLDER, FOLDER, "IMX500 export folder", data=()) as work:
            manifest = _write(work, Path(conv["folder"]), out, run, arch, labels, options, result, seconds)
    return Imx500Result(run.export / FOLDER, manifest, seconds)


def _prepare(run: RunDir, options: Imx500Options, calib_data):
    from flower_edge.config import load_toml
    from flower_edge.data.pipeline import eval_images
    from flower_edge.models.build import load_keras_model
    from flower_edge.models.registry import get_spec
    from flower_edge.quantize import calibration as cal

    cfg = load_toml(run.config) if run.config.is_file() else {}
    model = load_keras_model(run.model)
    spec = get_spec(cfg.get("model", {}).get("name") or model.name)
    jobs.check_route(spec, jobs.count_params(model))
    labels = run.read_labels()
    size = int(model.input_shape[1])
    splits = cal.load_splits(run, calib_data)
    paths, _ = cal.stratified(splits.train, options.calib_samples, seed=splits.seed)
    calib = eval_images(paths, size, "calibration images")
    return spec, model, jobs.architecture(spec, size, len(labels)), calib, labels


def _run_venv(python: Path, job: Path, echo, seconds: dict) -> dict:
    """Run venv_convert.py, echoing each step with its time; its output goes to a log."""
    log_path = job.parent / "convert.log"
    current, started = None, time.monotonic()
    env = {**os.environ, "PYTHONPATH": "", "TF_USE_LEGACY_KERAS": "0"}
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([str(python), str(SCRIPT), str(job)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        for line in proc.stdout:
            log.write(line)
            if line.startswith("step: "):
                now = time.monotonic()
                if current:
                    seconds[current] = now - started
                    echo(f"  {current}: {now - started:.0f} s")
                current, started = line[6:].strip(), now
                if current != "done":
                    echo(f"imx500: {current}...")
        code = proc.wait()
    if code != 0:
        lines = [ln.strip() for ln in log_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        errors = ([ln for ln in lines if ln.startswith("error:")]
                  or [ln for ln in lines if re.match(r"[A-Za-z.]*(Error|Exception):", ln)][-1:] or lines[-1:])
        kept = Path(tempfile.gettempdir()) / f"flower-edge-imx500-{os.getpid()}.log"
        shutil.copy(log_path, kept)
        raise FlowerEdgeError(f"the IMX500 conversion failed: {errors[0][:300] if errors else code}; "
                              f"full log: {kept}")
    return json.loads((job.parent / "out" / "result.json").read_text(encoding="utf-8"))


def _write(work: Path, conv: Path, out: Path, run: RunDir, arch: dict, labels: list[str],
           options: Imx500Options, result: dict, seconds: dict) -> dict:
    from flower_edge.guard import public_path
    from flower_edge.io import atomic_write_json, atomic_write_text

    packer = next(conv.rglob("packerOut.zip"), None)
    if packer is None:
        raise FlowerEdgeError(f"imxconv-tf wrote no packerOut.zip (see {out / 'imxconv.log'})")
    shutil.copy(packer, work / "packerOut.zip")
    memory = read_memory_report(conv)
    if memory.get("report"):
        shutil.copy(memory.pop("path"), work / memory["report"])
    for extra in conv.rglob("dnnParams.xml"):  # the converter's input/output tensor parameters
        shutil.copy(extra, work / extra.name)
    atomic_write_text(work / "labels.txt", "\n".join(labels) + "\n")
    intrinsics = {"task": "classification", "classes": {"labels": labels},
                  "cpu": {"softmax": False}}  # the softmax is in the network
    atomic_write_json(work / "network_intrinsics.json", intrinsics)
    norm = jobs.NORMALIZATION[arch["preprocessing"]]
    manifest = {
        "format": "imx500", "architecture": arch["name"], "num_classes": len(labels),
        "source_run": str(public_path(run.path.resolve())),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"size": [arch["image_size"], arch["image_size"]], "channels": "RGB",
                  "preprocessing": {"resize": "shorter_side", "crop": "center"},
                  "normalization": {"mode": arch["preprocessing"], **norm,
                                    "applied_by": "the camera's ISP (not in the network)"}},
        "output": {"kind": "probabilities", "softmax_in_network": True},
        "versions": result.get("versions", {}),
        "memory": memory,
        "quantization": {"tool": "model-compression-toolkit", "target": "imx500 v1",
                         "calibration": {"samples": options.calib_samples, "split": "train"},
                         **options.mct(), "rebuild_max_abs_diff": result.get("rebuild_max_abs_diff"),
                         "mean_correction_report": result.get("mean_correction"),
                         **({"fidelity": result["fidelity"]} if "fidelity" in result else {})},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "files": bundle_files(work),
    }
    atomic_write_json(work / MANIFEST, manifest)
    return manifest
