"""Kill matrix: `pipeline --force` and `quantize` killed (SIGKILL) at several points must
leave the old run byte-identical, `.stages/` included, and the next plain run must find
every stage up to date.

A tiny run (tiny_cnn from scratch @32 px on a small synthetic set) is made once; each
trial works on a fresh copy of it, starts the command in a subprocess, kills it when a
point is reached (a file appearing in the new run being built beside the old one, or a
time), then compares the sha256 of every file of the old run with the original's.

    python benchmarks/kill_matrix.py [--work DIR] [--times 3,8,15,25,40] [--only quantize]

Prints one line per trial and a summary: trials, killed, files checked, files changed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUIET_ENV as ENV
from common import cli, kill_when, load_average, tiny_recipe, tree_sha, write_toml

# Points inside the new run (staged beside the old one as .NAME.new-*), as globs under
# the run's parent folder, in the order the stages reach them.
PIPELINE_POINTS = {
    "train: first epoch committed": ".r.new-*/checkpoints/state.json",
    "train: model saved": ".r.new-*/model.keras",
    "quantize: export started": ".r.new-*/.export.new-*",
    "quantize: first bundle": ".r.new-*/.export.new-*/fp32/manifest.json",
    "benchmark: started": ".r.new-*/report",
    "report: written": ".r.new-*/report/index.md",
}
QUANTIZE_POINTS = {
    "export generation started": "r/.export.new-*",
    "first bundle in it": "r/.export.new-*/fp32/manifest.json",
    "second bundle in it": "r/.export.new-*/dynamic/manifest.json",
    "summary written": "r/.export.new-*/quantize.json",
}


def trial(label: str, original: Path, work: Path, cmd_for, pattern, seconds, after) -> dict:
    """One kill on a fresh copy of the run; compare every file with the original."""
    parent = work / label.replace(" ", "_").replace(":", "")
    shutil.rmtree(parent, ignore_errors=True)
    run = Path(shutil.copytree(original, parent / "r", copy_function=shutil.copy2))
    before = tree_sha(run)
    killed = kill_when(cmd_for(run), parent, pattern, seconds)
    status, at = killed.status, killed.seconds
    after_sha = tree_sha(run) if run.is_dir() else {}
    # Old files changed or gone; a killed build's own staging folder (swept by the next
    # run on the same target) is counted apart, as `left`.
    changed = sorted(k for k in before if before[k] != after_sha.get(k))
    left = len(set(after_sha) - set(before))
    ok_next = after(run) if status == "killed" else None
    row = {"point": label, "status": status, "at_s": round(at, 1), "files": len(before),
           "changed": len(changed), "left": left, "next_run_ok": ok_next}
    print(f"{label:38s} {status:16s} at {at:6.1f}s  files {len(before):4d}  changed "
          f"{len(changed):3d}  staged files left {left:3d}  next run ok: {ok_next}" + (f"  {changed[:4]}" if changed and
                                                           status == "killed" else ""), flush=True)
    shutil.rmtree(parent, ignore_errors=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="scratch folder (default: a temp folder, removed after)")
    parser.add_argument("--times", default="3,8,15,25,40", help="extra kill times (s) for pipeline --force")
    parser.add_argument("--quantize-times", default="2,5,9", help="extra kill times (s) for quantize")
    parser.add_argument("--only", choices=("pipeline", "quantize"), help="one command's trials only")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="flower-edge-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _matrix(work, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def _matrix(work: Path, args) -> int:
    data, recipe, base = work / "data", work / "tiny.toml", work / "base"
    write_toml(recipe, tiny_recipe(head_epochs=3, variants=("fp32", "dynamic", "int8")))
    subprocess.run(cli("data", "synth", "--out", data, "--classes", "3", "--per-class", "24", "--size", "32"),
                   check=True, env=ENV, stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    subprocess.run(cli("pipeline", "--config", recipe, "--data", data, "--out", base / "r"),
                   check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"first pipeline run: {time.monotonic() - t0:.1f}s; load {load_average()}")
    original = base / "r"

    def pipeline(run: Path, *extra):
        return cli("pipeline", "--config", recipe, "--data", data, "--out", run, *extra)

    def all_skipped(run: Path) -> bool:
        out = subprocess.run(pipeline(run), env=ENV, capture_output=True, text=True)
        return out.returncode == 0 and out.stderr.count("skipped (up to date)") == 4 and \
            not any(p.name.startswith(".r.") for p in run.parent.iterdir())

    def quantize(run: Path):
        return cli("quantize", run, "--fp32", "--dynamic", "--int8", "--calib-samples", "32")

    def same_set(run: Path) -> bool:
        """quantize.json rows = the bundles there, and the next plain pipeline sweeps the
        dead build and finds every stage up to date."""
        import json

        rows = json.loads((run / "export" / "quantize.json").read_text())["rows"]
        bundles = {p.name for p in (run / "export").iterdir() if (p / "manifest.json").is_file()}
        return {r["variant"] for r in rows} == bundles and all_skipped(run) and \
            not any(p.name.startswith(".export.") for p in run.iterdir())

    rows = []
    pipeline_points = {} if args.only == "quantize" else PIPELINE_POINTS
    quantize_points = {} if args.only == "pipeline" else QUANTIZE_POINTS
    if args.only == "quantize":
        args.times = ""
    if args.only == "pipeline":
        args.quantize_times = ""
    for label, pattern in pipeline_points.items():
        rows.append(trial(f"pipeline --force: {label}", original, work,
                          lambda r: pipeline(r, "--force"), pattern, None, all_skipped))
    for s in [float(x) for x in args.times.split(",") if x]:
        rows.append(trial(f"pipeline --force: at {s:g}s", original, work,
                          lambda r: pipeline(r, "--force"), None, s, all_skipped))
    for label, pattern in quantize_points.items():
        rows.append(trial(f"quantize: {label}", original, work, quantize, pattern, None, same_set))
    for s in [float(x) for x in args.quantize_times.split(",") if x]:
        rows.append(trial(f"quantize: at {s:g}s", original, work, quantize, None, s, same_set))
    killed = [r for r in rows if r["status"] == "killed"]
    bad = [r for r in killed if r["changed"] or r["next_run_ok"] is False]
    print(f"\ntrials {len(rows)}, killed {len(killed)}, files checked "
          f"{sum(r['files'] for r in killed)}, files changed {sum(r['changed'] for r in killed)}, "
          f"next run wrong {sum(1 for r in killed if r['next_run_ok'] is False)}; "
          f"load {load_average()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
