"""`quantize RUN --imx500`: the AI Camera export, with one real conversion end to end.

The real conversion (the pinned venv, MCT, Sony's imxconv-tf, packerOut.zip) runs on a
tiny baseline_cnn where the conversion venv exists, and always under CI=true (which
builds the venv from flower_edge/imx500/requirements.txt on a fresh machine, or reuses
the one cached in ~/.cache/flower-edge). Elsewhere it skips: the venv is 2.3 GB.
"""

from __future__ import annotations

import json
import os
import zipfile

import pytest
from conftest import assert_clean_error, shared_path

from flower_edge.imx500 import env
from flower_edge.imx500.job import check_route
from flower_edge.models.registry import get_spec
from flower_edge.runtime.imx500 import read_sidecar


def test_java_versions_are_read_from_both_formats():
    assert env.java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert env.java_major('openjdk version "21" 2023-09-19') == 21
    assert env.java_major('java version "1.8.0_392"') == 8
    assert env.java_major("no java here") is None


def test_missing_or_old_java_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Exception, match="apt-get install openjdk-17-jre-headless"):
        env.check_java()
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n')
    fake.chmod(0o755)
    with pytest.raises(Exception, match="found 8 .*openjdk-17"):
        env.check_java()


def test_a_python_the_converter_refuses_names_the_fix(monkeypatch, tmp_path):
    fake = tmp_path / "python3.13"
    fake.write_text("#!/bin/sh\necho 3 13\n")
    fake.chmod(0o755)
    monkeypatch.setenv(env.PYTHON_ENV, str(fake))
    with pytest.raises(Exception, match="Python 3.9-3.11.*FLOWER_EDGE_IMX500_PYTHON"):
        env.find_python()


def test_requirements_pin_every_package():
    lines = [ln for ln in env.REQUIREMENTS.read_text().splitlines() if ln and not ln.startswith("#")]
    assert all("==" in ln for ln in lines), [ln for ln in lines if "==" not in ln]
    pins = dict(ln.lower().replace("_", "-").split("==") for ln in lines)
    assert pins["model-compression-toolkit"] == "2.5.1" and pins["imx500-converter"] == "3.19.2"
    assert pins["tensorflow"] == "2.15.1" and pins["numpy"] == "1.26.4"


def test_specs_without_a_route_are_refused_in_one_line():
    with pytest.raises(Exception, match=r"21\.8 M parameters.*8 MB on-chip memory.*mobilenet_v2"):
        check_route(get_spec("inception_v3"), 21_800_000)
    with pytest.raises(Exception, match="tiny_cnn has no IMX500 route"):
        check_route(get_spec("tiny_cnn"), 5_000)
    assert check_route(get_spec("mobilenet_v2_035"), 410_000) == "application"
    assert check_route(get_spec("baseline_cnn"), 60_000) == "baseline_cnn"


def test_cli_refuses_an_unsupported_run_before_any_slow_work(tiny_run, invoke):
    assert_clean_error(invoke("quantize", tiny_run, "--imx500"), code=2, contains="no IMX500 route")
    assert_clean_error(invoke("quantize", tiny_run, "--imx500-gptq", 2), code=2, contains="add --imx500")


def test_cli_without_java_names_the_fix_before_any_slow_work(tiny_run, invoke, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on PATH
    assert_clean_error(invoke("quantize", tiny_run, "--imx500"), code=1, contains="openjdk-17-jre-headless")


def _venv_or_skip():
    if os.environ.get("CI") == "true":
        return  # CI builds the venv (from the repo's pins) when it is not cached
    if not env.is_ready():
        pytest.skip("the IMX500 conversion venv is not built (make imx500)")
    try:
        env.check_java()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def tiny_baseline(flowers5, tmp_path_factory):
    from fixtures_train import train_run

    return train_run(tmp_path_factory.mktemp("runs"), "base", flowers5,
                     model={"name": "baseline_cnn", "image_size": 32, "weights": "none"},
                     train={"head_epochs": 1, "finetune_epochs": 0, "lr": 3e-3},
                     data={"batch_size": 32}).path


def test_real_conversion_end_to_end(tiny_baseline, invoke, tmp_path):
    _venv_or_skip()
    import shutil
    import subprocess
    import sys

    labels = (tiny_baseline / "labels.txt").read_text().split()
    photos = tmp_path / "eval"  # a few labelled photos for --eval-data
    for name in labels:
        (photos / name).mkdir(parents=True)
        for path in sorted((shared_path("data", "flowers5-eval") / name).glob("*.jpg"))[:3]:
            shutil.copy(path, photos / name / path.name)
    result = invoke("quantize", tiny_baseline, "--imx500", "--calib-samples", 32, "--eval-data", photos)
    assert result.exit_code == 0, result.output
    folder = tiny_baseline / "export" / "imx500"
    manifest = json.loads((folder / "imx500-manifest.json").read_text())
    with zipfile.ZipFile(folder / "packerOut.zip") as z:  # what imx500-package takes on the Pi
        assert z.testzip() is None and len(z.namelist()) >= 1
    from flower_edge.io import sha256_file

    for name, entry in manifest["files"].items():
        assert sha256_file(folder / name) == entry["sha256"], name
    assert {"packerOut.zip", "labels.txt", "network_intrinsics.json", "dnnParams.xml"} <= set(manifest["files"])
    assert manifest["memory"]["fits_in_chip"] is True and manifest["memory"]["report"] in manifest["files"]
    assert 0 < manifest["memory"]["share_used"] < 0.2
    assert manifest["input"]["size"] == [32, 32] and manifest["input"]["normalization"]["formula"] == "x / 255"
    assert manifest["versions"]["model-compression-toolkit"] == "2.5.1"
    assert manifest["versions"]["imx500-converter"] == "3.19.2"
    assert manifest["quantization"]["rebuild_max_abs_diff"] < 1e-4  # the TF 2.15 rebuild is the run's model
    # --int8's mean correction on MCT's model (on by default): the convs without an activation
    # of their own and the Dense layer shifted (MCT splits a conv's ReLU off, so the float model
    # has no tensor to match for the other two). This barely trained model's outputs hardly
    # move (L1 to float 0.00513 -> 0.00513); a wrong target (the ReLU'd float output for
    # MCT's pre-ReLU conv, an earlier bug) tripled it
    report = manifest["quantization"]["mean_correction_report"]
    assert report["images"] == 32  # --calib-samples 32: fewer than the 64 it takes by default
    assert (report["layers"], report["skipped"]) == (3, 2) and report["max_mean_shift"] > 0
    assert report["prob_l1_after"] <= report["prob_l1_before"] * 1.05, report
    fidelity = manifest["quantization"]["fidelity"]
    assert fidelity["images"] == 15 and 0 <= fidelity["agreement"] <= 1
    assert f"agreement {fidelity['agreement']:.1%}" in result.output
    sidecar = read_sidecar(folder / "network.rpk")  # what live reads beside the .rpk on the Pi
    assert sidecar["classes"]["labels"] == labels and sidecar["task"] == "classification"
    assert "fits in chip: True" in result.output and "imxconv-tf" in result.output
    assert "flower-edge live --input imx500:" in result.output  # live's option, as docs/cli.md names it
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".imx500")]  # no staging left
    # `make imx500` (python -m flower_edge.imx500.env) finds the venv built and stamped
    ready = subprocess.run([sys.executable, "-m", "flower_edge.imx500.env"], capture_output=True, text=True)
    assert ready.returncode == 0 and "venv ready" in ready.stdout, ready.stderr


def test_int8_correction_flags_reach_the_imx500_options(tiny_run, invoke, monkeypatch):
    from flower_edge.imx500 import export

    seen = []

    def fake_export(run_dir, options, **kwargs):
        seen.append(options)
        raise export.FlowerEdgeError("stop here")

    monkeypatch.setattr(export, "export_imx500", fake_export)
    invoke("quantize", tiny_run, "--imx500")
    invoke("quantize", tiny_run, "--imx500", "--no-mean-correction", "--no-bias-correction")
    assert seen[0].mean_correction and seen[0].mct()["mean_correction"] == 64
    assert not seen[1].mean_correction and seen[1].mct()["mean_correction"] == 0
    assert seen[1].mct()["qc"]["weights_bias_correction"] is False
