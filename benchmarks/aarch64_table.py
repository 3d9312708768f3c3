"""The table of benchmarks/check-aarch64.sh: each arm64 run against x86_64's, per image.

    python benchmarks/aarch64_table.py WORK OUT [--seconds S]
    python benchmarks/aarch64_table.py --merge OUT A/table.json B/table.json ...

WORK is the script's work folder: bundles.tsv (name, path given), rows.tsv (one line per
bundle and target: name, OS, Python, runtime, status, raw JSON, versions, seconds), x86/
(x86_64 `predict --json` per bundle) and check/ (the bundles as run). Writes OUT/table.md
and OUT/table.json. Exit 1 unless every row ran and agreed on every image (ties allowed:
x86's top two within one output quantization step and arm64 picked the other).
--merge joins the tables of runs made in parallel (e.g. one --target each) into OUT; the
wall time is the longest run's. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

# TFLite Model Metadata is stored in a model buffer under this name (metadata_schema.fbs).
METADATA_NAME = b"TFLITE_METADATA"


def _by_path(predict_json: dict) -> dict[str, dict[str, float]]:
    return {r["path"]: {c["label"]: float(c["probability"]) for c in r["top_k"]}
            for r in predict_json["predictions"]}


def _top1(probs: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(probs.items(), key=lambda kv: -kv[1])


def compare(x86: dict, arm: dict, step: float) -> dict:
    """Top-1 agreement, ties and the largest probability difference over shared images."""
    a, b = _by_path(x86), _by_path(arm)
    same = ties = 0
    max_diff = max_top1 = 0.0
    for path, pa in a.items():
        if path not in b:
            continue
        pb = b[path]
        ra, rb = _top1(pa), _top1(pb)
        if ra[0][0] == rb[0][0]:
            same += 1
        elif len(ra) > 1 and rb[0][0] == ra[1][0] and ra[0][1] - ra[1][1] <= step:
            ties += 1
        max_diff = max(max_diff, max(abs(p - pb.get(label, 0.0)) for label, p in pa.items()))
        max_top1 = max(max_top1, abs(ra[0][1] - pb.get(ra[0][0], 0.0)))
    shared = len(set(a) & set(b))
    return {"images": shared, "x86_images": len(a), "agree": same, "ties": ties,
            "agreement": same / shared if shared else None, "max_abs_prob_diff": max_diff,
            "max_top1_prob_diff": max_top1,
            "status": "agrees" if shared == len(a) and same + ties == shared else "differs"}


def _bundle_info(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    scale = float((manifest.get("output") or {}).get("scale") or 0)
    return {"variant": manifest.get("variant", folder.name.split("-", 1)[1]),
            "metadata": METADATA_NAME in (folder / "model.tflite").read_bytes(),
            "size_bytes": (folder / "model.tflite").stat().st_size,
            "step": scale + 1e-6}


def build_rows(work: Path) -> tuple[list[dict], dict]:
    given = dict(line.split("\t", 1) for line in (work / "bundles.tsv").read_text().splitlines())
    infos = {name: _bundle_info(work / "check" / name) for name in given}
    x86 = {name: json.loads((work / "x86" / f"{name}.json").read_text()) for name in given}
    rows = []
    for line in (work / "rows.tsv").read_text().splitlines():
        name, os_name, python, runtime, status, raw, versions, seconds = line.split("\t")
        info = infos[name]
        row = {"bundle": given[name].strip(), "variant": info["variant"], "metadata": info["metadata"],
               "size_bytes": info["size_bytes"], "os": os_name, "python": python,
               "runtime": runtime, "versions": versions.split(), "seconds": int(seconds),
               "interpreter": None, "images": 0, "agree": 0, "ties": 0, "agreement": None,
               "max_abs_prob_diff": None, "max_top1_prob_diff": None, "status": status}
        if status == "ran":
            try:
                arm = json.loads(Path(raw).read_text())
            except (OSError, ValueError) as exc:
                row["status"] = f"failed: unreadable output ({exc})"
            else:
                row["interpreter"] = arm.get("interpreter")
                row.update(compare(x86[name], arm, info["step"]))
        rows.append(row)
    reference = {"machine": platform.machine(),
                 "interpreter": next(iter(x86.values())).get("interpreter") if x86 else None}
    return rows, reference


def _fmt_pct(row: dict) -> str:
    if row["agreement"] is None:
        return "-"
    return f"{100 * row['agreement']:.1f}% ({row['agree']}/{row['images']})"


def _runtime(row: dict) -> str:
    """The runtime with the version pip installed, e.g. 'tflite-runtime 2.14.0'."""
    name = row["runtime"]
    ran = row["interpreter"]
    suffix = f" (ran {ran})" if ran and not ran.startswith(name) else ""  # a venv that fell back
    for pin in row["versions"]:
        package, _, version = pin.partition("==")
        if package.lower() == name:
            return f"{name} {version}{suffix}"
    return name + suffix


def render_markdown(rows: list[dict], reference: dict, seconds: int) -> str:
    images = max((r["x86_images"] for r in rows if "x86_images" in r), default=0)
    lines = [f"Top-1 agreement of each arm64 run with x86_64 (`flower-edge predict`, "
             f"{reference['interpreter']}) on {images} images; max |Δp| is the largest "
             f"difference of any class's probability on any image. {seconds} s wall time.", "",
             "| variant | metadata | OS (Python) | runtime | images | top-1 agreement | ties | "
             "max abs prob diff | status |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        runtime = _runtime(r)
        diff = "-" if r["max_abs_prob_diff"] is None else f"{r['max_abs_prob_diff']:.2g}"
        lines.append(f"| {r['variant']} | {'yes' if r['metadata'] else 'no'} | {r['os']} "
                     f"({r['python']}) | {runtime} | {r['images']} | {_fmt_pct(r)} | {r['ties']} "
                     f"| {diff} | {r['status']} |")
    return "\n".join(lines) + "\n"


def _merge(tables: list[Path]) -> tuple[list[dict], dict, int]:
    docs = [json.loads(t.read_text()) for t in tables]
    return [r for d in docs for r in d["rows"]], docs[0]["reference"], max(d["seconds"] for d in docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merge", type=Path, metavar="OUT", help="join table.json files into OUT")
    parser.add_argument("inputs", type=Path, nargs="+", help="WORK OUT, or with --merge: table.json files")
    parser.add_argument("--seconds", type=int, default=0, help="the whole check's wall time")
    args = parser.parse_args(argv)
    if args.merge:
        rows, reference, args.seconds = _merge(args.inputs)
        args.out = args.merge
    elif len(args.inputs) == 2:
        args.work, args.out = args.inputs
        rows, reference = build_rows(args.work)
    else:
        parser.error("pass WORK OUT, or --merge OUT TABLE.json...")
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"reference": reference, "seconds": args.seconds, "rows": rows}
    (args.out / "table.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "table.md").write_text(render_markdown(rows, reference, args.seconds))
    return 0 if rows and all(r["status"] == "agrees" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
