"""`live --input imx500:NETWORK.rpk`: the Pi-side reader of the AI Camera's output tensors.

No camera exists here: picamera2's IMX500 helper and Picamera2 are replaced by stand-ins
that replay recorded output tensors (the helper's `get_outputs` returns them already
dequantized, one float array per output), malformed ones included.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error

from flower_edge.runtime import imx500 as sensor

LABELS = ["daisy", "dandelion", "rose", "sunflower", "tulip"]


def onehot(i: int, p: float = 0.92) -> np.ndarray:
    x = np.full(5, (1 - p) / 4, dtype=np.float32)
    x[i] = p
    return x


class FakeIMX500:
    """Replays one metadata dict per frame, as picamera2's IMX500 helper reads it."""

    camera_num = 0

    def __init__(self, path: str, intrinsics: dict | None = None):
        self.path = path
        self.network_intrinsics = intrinsics
        self.fw_progress_shown = False

    def show_network_fw_progress_bar(self):
        self.fw_progress_shown = True

    def get_outputs(self, metadata, add_batch=False):
        tensor = metadata.get("CnnOutputTensor")
        return None if tensor is None else [np.asarray(tensor, dtype=np.float32)]

    @staticmethod
    def get_kpi_info(metadata):
        kpi = metadata.get("CnnKpiInfo")
        return None if kpi is None else (kpi[0] / 1000, kpi[1] / 1000)


class FakeCamera:
    def __init__(self, frames: list[dict]):
        self.frames = list(frames)
        self.started = self.stopped = self.closed = False

    def create_preview_configuration(self, **kwargs):
        return {"kind": "preview", **kwargs}

    def start(self, config):
        self.started = True

    def capture_metadata(self):
        if not self.frames:
            raise KeyboardInterrupt  # the user pressed Ctrl-C: the recording has ended
        return self.frames.pop(0)

    def stop(self):
        self.stopped = True

    def close(self):
        self.closed = True


RECORDING = [
    {},  # firmware still loading: no tensor yet
    {"CnnOutputTensor": onehot(0).tolist(), "CnnKpiInfo": (4100, 900)},
    {"CnnOutputTensor": onehot(0).tolist(), "CnnKpiInfo": (4300, 900)},
    {"CnnOutputTensor": [0.5, 0.5, 0.5]},  # malformed: 3 values for 5 labels
    {"CnnOutputTensor": [float("nan")] * 5},  # malformed: NaN
    {"CnnOutputTensor": [3.0, 0.1, 0.1, 0.1, 0.1]},  # malformed: not probabilities
    {"CnnOutputTensor": onehot(2).tolist(), "CnnKpiInfo": (4200, 900)},
    {"CnnOutputTensor": onehot(2).tolist(), "CnnKpiInfo": (4200, 900)},
    {"CnnOutputTensor": onehot(2).tolist()},  # no KPI on this frame
]


@pytest.fixture
def rpk(tmp_path):
    """A network.rpk with labels.txt and network_intrinsics.json beside it, as export/imx500 has."""
    path = tmp_path / "network.rpk"
    path.write_bytes(b"9464 stand-in firmware")
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (tmp_path / "network_intrinsics.json").write_text(json.dumps(
        {"task": "classification", "classes": {"labels": LABELS}, "cpu": {"softmax": False}}))
    return path


def use_fakes(monkeypatch, frames, intrinsics=None):
    made = {}

    def imx500_factory(path):
        made["imx500"] = FakeIMX500(path, intrinsics)
        return made["imx500"]

    def camera_factory(num):
        made["camera"] = FakeCamera(frames)
        return made["camera"]

    monkeypatch.setattr(sensor, "_picamera2", lambda: (imx500_factory, camera_factory))
    return made


def test_reader_replays_tensors_and_skips_malformed_ones(rpk):
    warnings = []
    camera = FakeCamera(RECORDING)
    classifier, frames = sensor.open_sensor(f"imx500:{rpk}", lambda p: FakeIMX500(p),
                                            lambda n: camera, warn=warnings.append)
    got = []
    with pytest.raises(KeyboardInterrupt):
        for frame in frames:
            got.append(frame)
    real = [f for f in got if f is not None]
    assert [int(np.argmax(f.probabilities)) for f in real] == [0, 0, 2, 2, 2]
    assert [f.sensor_ms for f in real] == [4.1, 4.3, 4.2, 4.2, None]
    assert sum(f is None for f in got) == 4  # the empty frame and the three malformed ones
    assert classifier.malformed == 3
    assert len(warnings) == 3 and "3 values for 5 labels" in warnings[0] and "NaN" in warnings[1]
    assert "not a probability vector" in warnings[2]
    assert camera.started and camera.stopped and camera.closed


def test_logits_are_softmaxed_when_the_network_has_no_softmax():
    classifier = sensor.SensorClassifier(LABELS, softmax_in_network=False)
    probs = classifier.probabilities([np.array([2.0, 0.0, 0.0, 0.0, 1.0])])
    assert probs.sum() == pytest.approx(1.0) and probs.argmax() == 0 and probs[4] > probs[1]


def test_live_cli_smooths_logs_and_reports_sensor_time(rpk, monkeypatch, invoke, tmp_path):
    made = use_fakes(monkeypatch, RECORDING)
    log = tmp_path / "frames.jsonl"
    result = invoke("live", "--input", f"imx500:{rpk}", "--log", log, "--hold", 1, "--margin", 0.05,
                    "--half-life", 0, "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["raw_label"] for r in rows] == ["daisy", "daisy", "rose", "rose", "rose"]
    assert rows[0]["sensor_dnn_ms"] == 4.1 and "sensor_dnn_ms" not in rows[-1]
    assert rows[-1]["label"] == "rose" and rows[2]["changed"]
    summary = json.loads([ln for ln in result.output.splitlines() if ln.startswith("{")][0])
    assert summary["frames"] == 5 and summary["stopped_by"] == "Ctrl-C"
    assert summary["sensor_dnn_ms"]["p50"] == pytest.approx(4.2)
    assert "sensor DNN time p50 4.2 ms" in result.output and "skipped a frame" in result.output
    assert made["imx500"].fw_progress_shown and made["camera"].closed


def test_labels_embedded_in_the_rpk_win_over_the_files_beside_it(rpk, monkeypatch, invoke, tmp_path):
    inside = {"task": "classification", "classes": {"labels": [f"x{i}" for i in range(5)]}}
    use_fakes(monkeypatch, RECORDING[:3], inside)
    log = tmp_path / "frames.jsonl"
    result = invoke("live", "--input", f"imx500:{rpk}", "--log", log)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["raw_label"] for line in log.read_text().splitlines()] == ["x0", "x0"]


def test_bad_sources_are_one_line_errors(rpk, monkeypatch, invoke, tmp_path):
    assert_clean_error(invoke("live", "--input", f"imx500:{tmp_path / 'none.rpk'}"), contains="imx500-package")
    assert_clean_error(invoke("live", "int8/", "--input", f"imx500:{rpk}"), code=2, contains="drop BUNDLE")
    assert_clean_error(invoke("live", "--input", "camera:0"), code=2, contains="missing BUNDLE")
    use_fakes(monkeypatch, [], {"task": "object detection"})
    assert_clean_error(invoke("live", "--input", f"imx500:{rpk}"), contains="classifies only")
    (rpk.parent / "network_intrinsics.json").unlink()
    (rpk.parent / "labels.txt").unlink()
    use_fakes(monkeypatch, [])
    assert_clean_error(invoke("live", "--input", f"imx500:{rpk}"), contains="no labels")
    (rpk.parent / "labels.txt").write_text("daisy\nrose\n")
    use_fakes(monkeypatch, [{"CnnOutputTensor": onehot(0).tolist()}])
    result = invoke("live", "--input", f"imx500:{rpk}")
    assert result.exit_code == 0 and "5 values for 2 labels" in result.output and "0 frames" in result.output


def test_missing_picamera2_names_the_install(rpk, invoke):
    try:  # picamera2 is a Pi OS package: absent on a workstation
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is installed")
    except ImportError:
        pass
    assert_clean_error(invoke("live", "--input", f"imx500:{rpk}"), contains="picamera2")
