"""The training options are declared once: train, distill and pipeline take the same flags,
map them onto the recipe the same way, and read their choice lists from the library."""

from __future__ import annotations

import typing
from pathlib import Path

import click
import pytest

from tests.conftest import assert_clean_error

ROOT = Path(__file__).resolve().parents[1]


def _options(command: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in command.params if isinstance(p, click.Option) for opt in p.opts}


def _commands():
    from flower_edge.cli.distill_cmd import distill_cmd
    from flower_edge.cli.pipeline_cmd import pipeline_cmd
    from flower_edge.cli.train_cmd import train_cmd

    return train_cmd, distill_cmd, pipeline_cmd


def test_train_distill_and_pipeline_take_every_training_flag_alike():
    from flower_edge.cli.training_options import _training_flags

    flags = [f"--{param.replace('_', '-')}" for param, *_ in _training_flags()]
    assert len(flags) == 26 and "--backbone" in flags and "--split-fractions" in flags
    train, distill, pipeline = (_options(c) for c in _commands())
    for flag in flags:
        kinds = {(type(o[flag].type).__name__, o[flag].help) for o in (train, distill, pipeline)}
        assert len(kinds) == 1 and kinds.pop()[1], flag  # one type, one help, never empty
    for gone in ("--model", "--run-name", "--split", "--unlabeled", "--variants"):
        assert not any(gone in o for o in (train, distill, pipeline)), gone


def test_choice_lists_come_from_the_library_literals():
    from flower_edge.data.sources import Source
    from flower_edge.train import config as c

    train = _options(_commands()[0])
    for flag, literal in (("--optimizer", c.Optimizer), ("--schedule", c.Schedule),
                          ("--precision", c.Precision), ("--strategy", c.Strategy),
                          ("--refit", c.Refit), ("--source", Source)):
        assert tuple(train[flag].type.choices) == typing.get_args(literal), flag


def test_pipeline_takes_source_training_flags_and_variants(invoke, monkeypatch):
    """The recipe's oxford102 source is overridden for a plain photo folder (the README case)."""
    import flower_edge.pipeline.run as run_mod
    import flower_edge.pipeline.summary as summary_mod

    seen = {}
    monkeypatch.setattr(run_mod, "run_pipeline", lambda cfg, out, force, **kw: seen.update(cfg=cfg, out=out))
    monkeypatch.setattr(summary_mod, "summary", lambda result: "done")
    result = invoke("pipeline", "--config", ROOT / "train" / "mobilenet_v2.toml", "--data", "flowers",
                    "--source", "folder", "--lr", "0.01", "--split-fractions", "0.7,0.2,0.1", "--fp32",
                    "--int8", "--out", "runs/p")
    assert result.exit_code == 0 and result.output == "done\n", result.output
    cfg = seen["cfg"]
    assert seen["out"] == "runs/p"
    assert (cfg.data.path, cfg.data.source, cfg.data.fractions) == ("flowers", "folder", (0.7, 0.2, 0.1))
    assert cfg.train.lr == 0.01 and cfg.train.finetune_epochs == 25  # the recipe's, not a flag's
    assert cfg.quantize.variants == ("fp32", "int8")
    invoke("pipeline", "--data", "flowers")
    assert seen["cfg"].quantize.variants == ("fp32", "fp16", "dynamic", "int8")  # none chosen: all


def test_finetune_epochs_without_pretrained_weights_warn(capsys):
    from flower_edge.cli.training_options import apply_training_flags
    from flower_edge.config import merge_tables
    from flower_edge.train.config import RunConfig

    train = _commands()[0]
    args = ["--backbone", "baseline_cnn", "--epochs", "10", "--finetune-epochs", "20"]
    params = {k: v for k, v in train.make_context("train", args).params.items()
              if k not in ("recipe", "out", "resume", "force", "lr_find")}
    apply_training_flags(RunConfig(), dict(params))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--finetune-epochs 20 is not used" in err
    params["finetune_epochs"] = None  # the default 15 is nobody's choice: no warning
    apply_training_flags(RunConfig(), dict(params))
    assert capsys.readouterr().err == ""
    recipe = merge_tables(RunConfig(), {"train": {"finetune_epochs": 25}})  # a recipe's choice is
    apply_training_flags(recipe, dict(params))
    assert "--finetune-epochs 25 is not used" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--split-fractions", "0.5,0.25,0.25"), ("--source", "folder")])
def test_distill_refuses_split_flags_its_teacher_fixes(invoke, tmp_path, flag, value):
    result = invoke("distill", "--teacher", tmp_path / "teacher", flag, value)
    assert_clean_error(result, code=2, contains=f"{flag}: a student trains on its teacher's split")
