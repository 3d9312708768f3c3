"""Shared fixtures. Real data lives in ../shared beside the project root; tests that
need it skip with a reason on a user's clone and fail when CI=true."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail under CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"needs ../shared/{'/'.join(parts)} (real test data beside the project root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def flowers5() -> Path:
    """500 real photos, 5 classes x 100, folder-per-class."""
    return shared_path("data", "flowers5")


@pytest.fixture(scope="session")
def oxford102_meta() -> Path:
    """The official imagelabels.mat / setid.mat / class names of Oxford 102."""
    return shared_path("data", "oxford102")


@pytest.fixture(scope="session")
def mnv2_weights() -> Path:
    """A real ImageNet MobileNetV2 notop base, tf_keras h5."""
    return shared_path("weights", "mobilenet_v2_imagenet_from_tflite_notop.h5")


@pytest.fixture()
def runner():
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture()
def invoke(runner):
    """Run the CLI in-process; returns click's Result."""
    from flower_edge.cli.main import cli

    def _invoke(*args, **kwargs):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return _invoke


def assert_clean_error(result, code: int | None = None, contains: str | None = None) -> str:
    """A CLI failure: non-zero exit, exactly one `error:` line, no traceback."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.output)
    text = result.output
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    if contains is not None:
        assert contains.lower() in errors[0].lower(), errors[0]
    return errors[0]


# Stage-owned session fixtures live in their own plugin modules (tests/ is on sys.path).
pytest_plugins = ["fixtures_data", "fixtures_train", "fixtures_quantize", "fixtures_runtime", "fixtures_docs"]
