"""Every fenced `flower-edge ...` command of README.md and docs/*.md runs, on small data.

The commands run in document order in one folder that holds what a reader has: photo
folders (`my_flowers/`, `photos/`, `flowers5/`, ...: a small synthetic set), `photo.jpg`,
a bundle `int8/`, videos, and, for every `artifacts/<run>` a command reads, a copy of one
tiny trained run with its fp32 and int8 bundles. A command must exit 0. Where a command cannot run
here as printed, it is changed for one of the reasons in REASONS, and only those: each
test says which applied. Repeats run once, and so do train, distill, quantize and data
review commands that differ only in names and values (see `shape`).
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures_docs import (
    DATA,
    SMALL_BENCHMARK,
    SMALL_QUANTIZE,
    fetch_locally,
    mark_for_quarantine,
    random_mobilenet_v2_base,
    serve_and_stop,
    set_option,
    value,
    write_recipe,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
NOT_SHELL = {"python", "ini", "json", "toml"}

REASONS = {
    "tiny": "a real backbone needs the ImageNet weights (offline-unavailable) and trains for "
            "minutes: tiny_cnn at 32 px, no pretrained weights, 1 epoch",
    "scratch": "every reader of artifacts/<run> gets a copy of one shared tiny run, so a "
               "training command writes a scratch folder",
    "small": "small data: recipes with few calibration, check and timed runs and few explained "
             "images, one thread count; pipeline exports fp32 and int8 only; LIME with 50 "
             "samples; a named photo of a measured set is photo.jpg; --max-frames 5",
    "weights": "no ImageNet base offline: a MobileNetV2 no-top .h5 with random weights, at 32 px",
    "fetch": "no internet: a loopback HTTP server (FLOWER_EDGE_FETCH_URL) serves small archives "
             "of the dataset's layout; oxford102's md5s are those of the small archive",
    "camera": "no camera: a short video of the photos instead",
    "stream": "no network stream: the same short video",
    "watch": "a watch: folder waits for new photos forever: --existing on a folder of 3 photos",
    "imx500-live": "no AI Camera: picamera2's IMX500 and Picamera2 are the stand-ins of "
                   "tests/test_imx500_live.py, replaying recorded tensors",
    "imx500-export": "the IMX500 converter venv (`make imx500`: 2.3 GB, Java 17) is not built "
                     "by the suite: the command line is parsed, not run",
    "serve": "serves until stopped: a subprocess on a free loopback port; /healthz must answer "
             "200, then Ctrl-C (SIGINT) must end it with exit 0",
    "approve": "a reader marks rows of review.csv 'quarantine' before approving it: the test "
               "marks the first row",
    "keras-latency": "Keras latency starts a fresh TensorFlow process per thread count (~10 s "
                     "each; tests/test_benchmark.py runs it): a stand-in returns fixed timings",
    "tfmot": "QAT, pruning and clustering fine-tune with tfmot for minutes even on a tiny model "
             "(tests/test_quantize.py and tests/test_quantize_compress.py run them): parsed, not run",
    "same-shape": "the same command with other names and values ran at the first location: run once",
}
TRAINING = {"train", "distill", "pipeline"}
NOT_RUNS = {"--out", "--log", "--approve", "--latency", "--quarantine", "--undo", "--config"}
@dataclass(frozen=True)
class DocCommand:
    where: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    stdout: str | None = None


def _parse(line: str) -> tuple | None:
    words = shlex.split(line, comments=True)
    env = []
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        env.append(tuple(words.pop(0).split("=", 1)))
    if not words or words[0] != "flower-edge":
        return None
    stdout = None
    if ">" in words:
        stdout, words = words[words.index(">") + 1], words[:words.index(">")]
    return tuple(words[1:]), tuple(env), stdout


def doc_commands() -> list[DocCommand]:
    """Fenced shell lines that run flower-edge; in a block with `$ ` prompts, only those."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            if block.group(1) in NOT_SHELL:
                continue
            first = text.count("\n", 0, block.start(2)) + 1
            lines = block.group(2).splitlines()
            prompted = any(line.startswith("$ ") for line in lines)
            i = 0
            while i < len(lines):
                start, line = i, lines[i]
                while line.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    line = line[:-1] + " " + lines[i].strip()
                i += 1
                if prompted and not line.startswith("$ "):
                    continue
                parsed = _parse(line.removeprefix("$ "))
                if parsed:
                    found.append(DocCommand(f"{page.relative_to(ROOT)}:{first + start}", *parsed))
    return found


COMMANDS = doc_commands()


def adapt(command: DocCommand, world: Path) -> tuple[list[str], set[str], str]:
    """(argv to run, reasons it differs from the page, how: invoke | serve | parse)."""
    argv, reasons = list(command.argv), set()
    how = _stages(argv, world, reasons)
    if how == "invoke":
        how = _reader_side(argv, world, reasons)
    for i, word in enumerate(argv):  # a named photo of the measured set: a photo of ours
        if re.search(r"\.(jpe?g|png)$", word) and word.split("/")[0] in DATA and not (world / word).exists():
            argv[i] = "photo.jpg"
            reasons.add("small")
    return argv, reasons, how


def _stages(argv: list[str], world: Path, reasons: set[str]) -> str:
    """train, distill, pipeline, quantize, benchmark RUN, explain: tiny and small."""
    verb = argv[0]
    if verb in TRAINING:
        for name, forced in (("--backbone", "tiny_cnn"), ("--weights", "none"), ("--image-size", "32"),
                             ("--epochs", "1"), ("--finetune-epochs", "0")):
            set_option(argv, name, forced)
        set_option(argv, "--out", str(world / ".scratch" / f"run{len(list((world / '.scratch').iterdir()))}"))
        reasons |= {"tiny", "scratch"}
    if verb == "pipeline":
        write_recipe(world, argv, {"quantize": {**SMALL_QUANTIZE, "variants": ["fp32", "int8"]},
                                   "benchmark": SMALL_BENCHMARK})
        reasons |= {"small", "keras-latency"}
    if verb == "explain" and value(argv, "--method") == "lime":
        set_option(argv, "--lime-samples", "50")
        reasons.add("small")
    if verb == "quantize":
        if "--imx500" in argv:
            reasons.add("imx500-export")
            return "parse"
        if {"--qat-epochs", "--prune", "--cluster"} & set(argv):
            reasons.add("tfmot")
            return "parse"
        write_recipe(world, argv, SMALL_QUANTIZE)
        reasons.add("small")
    if verb == "benchmark" and not _is_bundle(world / argv[1]):
        write_recipe(world, argv, SMALL_BENCHMARK)
        reasons |= {"small", "keras-latency"}
    return "invoke"


def _reader_side(argv: list[str], world: Path, reasons: set[str]) -> str:
    """data review and fetch, live, serve: what this machine lacks (internet, cameras)."""
    verb, sub = argv[0], argv[1] if len(argv) > 1 else ""
    if (verb, sub) == ("data", "review") and not {"--undo", "--quarantine"} & set(argv):
        if "--run" not in argv or "--weights" in argv:
            set_option(argv, "--weights", str(random_mobilenet_v2_base(world)))
            set_option(argv, "--image-size", "32")
            reasons.add("weights")
    if (verb, sub) == ("data", "review") and "--approve" in argv:
        reasons.add("approve")
    if (verb, sub) == ("data", "fetch"):
        reasons.add("fetch")
    if verb == "live":
        reasons |= _live(argv, world)
    if verb == "serve":
        set_option(argv, "--port", "0")
        set_option(argv, "--host", "127.0.0.1")
        reasons.add("serve")
        return "serve"
    return "invoke"


def _live(argv: list[str], world: Path) -> set[str]:
    source = value(argv, "--input") or ""
    reasons = {"small"}
    if source.startswith("imx500:"):
        return {"imx500-live"}
    if source.startswith("watch:"):
        set_option(argv, "--input", "watch:timelapse/")
        set_option(argv, "--existing")
        set_option(argv, "--max-frames", "3")
        return {"watch"}
    if source in ("picamera2",) or source.startswith("camera:"):
        set_option(argv, "--input", "garden.mp4")
        reasons.add("camera")
    elif "://" in source:
        set_option(argv, "--input", "garden.mp4")
        reasons.add("stream")
    set_option(argv, "--max-frames", "5")
    return reasons


def _is_bundle(path: Path) -> bool:
    return path.suffix == ".tflite" or (path / "manifest.json").is_file()


def _materialize(argv: list[str], world: Path, base_run: Path) -> None:
    """Every artifacts/<run> a command reads exists: a copy of the shared tiny run."""
    for i, word in enumerate(argv):
        if not word.startswith("artifacts/") or (i and argv[i - 1] in NOT_RUNS):
            continue
        run = world / re.split(r"/(?:export|report)(?:/|$)", word.rstrip("/"))[0]
        if argv[0] == "data" and word.endswith(".csv"):
            continue
        if not run.exists():
            shutil.copytree(base_run, run)


# ---- the test --------------------------------------------------------------------------

FORCED = {"train": {"--backbone", "--weights", "--image-size", "--epochs", "--finetune-epochs", "--out"}}
FORCED["distill"] = FORCED["train"]


def shape(command: DocCommand) -> tuple:
    """train, distill, quantize and data review: the options given and the plain words,
    whatever the names and values (those differ only in what they name here); other
    commands: exactly as printed (their outputs feed later commands)."""
    argv = command.argv
    if argv[0] not in ("train", "distill", "quantize") and argv[:2] != ("data", "review"):
        return argv, command.env, command.stdout
    options = {w for w in argv if w.startswith("--")} | FORCED.get(argv[0], set())
    words = [w for i, w in enumerate(argv) if not w.startswith("--") and not argv[i - 1].startswith("--")
             and "/" not in w and "." not in w]
    return tuple(words), tuple(sorted(options))


GROUPS: dict[tuple, list[DocCommand]] = {}
for _command in COMMANDS:
    GROUPS.setdefault(shape(_command), []).append(_command)


def test_the_pages_show_commands():
    readme = [c for c in COMMANDS if c.where.startswith("README.md")]
    assert len(readme) >= 15 and len(COMMANDS) >= 40, [c.where for c in COMMANDS]
    verbs = {c.argv[0] for c in readme}
    assert {"train", "quantize", "benchmark", "predict", "live", "serve", "pipeline", "data"} <= verbs


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0].where for g in GROUPS.values()])
def test_documented_command_runs(group, doc_world, dataset_server, monkeypatch):
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    command, where = group[0], ", ".join(c.where for c in group)
    monkeypatch.chdir(doc_world.root)
    argv, reasons, how = adapt(command, doc_world.root)
    assert reasons <= REASONS.keys()
    _materialize(argv, doc_world.root, doc_world.base_run)
    if any(c.argv != command.argv for c in group):
        reasons.add("same-shape")
    print(f"{where}: flower-edge {shlex.join(argv)}\n" + "".join(f"  differs: {REASONS[r]}\n" for r in sorted(reasons)))
    if "keras-latency" in reasons:
        from flower_edge.benchmark import run as benchmark_run

        monkeypatch.setattr(benchmark_run, "measure_keras", lambda *a, **k: {
            "load_ms": 1.0, "median_ms": 1.0, "p90_ms": 1.0, "peak_memory_mb": 1.0})
    if "fetch" in reasons:
        fetch_locally(monkeypatch, dataset_server)
    if "imx500-live" in reasons:
        from test_imx500_live import RECORDING, use_fakes

        use_fakes(monkeypatch, RECORDING)
    if "approve" in reasons:
        mark_for_quarantine(doc_world.root / value(argv, "--approve"))
    if how == "serve":
        serve_and_stop(argv, dict(command.env), where)
        return
    for name, setting in command.env:
        monkeypatch.setenv(name, setting)
    if how == "parse":
        sub = cli.get_command(None, argv[0])
        sub.make_context(argv[0], argv[1:])  # a usage error raises here
        return
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, f"{where}: exit {result.exit_code}\n{result.output[-2500:]}"
    assert "Traceback" not in result.output
    if command.stdout:
        (doc_world.root / command.stdout).write_text(result.stdout)
