"""Install a trained mini model as the package's shipped weights, with its provenance.

    python -m train.publish_mini runs/mini/final \
        --eval mini-MMEB=train/data/results/mini-mini-mmeb.json \
        --eval photos=train/data/results/mini-photos.json

copies ``model.safetensors`` into ``vsearch/encoders/mini/weights/`` and writes ``mini.json``:
the architecture config, the recipe (path and SHA-256), the training data's version (the
mini-MMEB manifest's seed and sizes and the SHA-256 of its train rows) and the eval scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vsearch.encoders.mini.weights import CONFIG_NAME, WEIGHTS_NAME, read_manifest, shipped_dir

RECIPE = Path("train/recipes/mini.toml")
DATA = Path("train/data/mini-mmeb")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_version(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = hashlib.sha256()
    for path in sorted((folder / "train").glob("*.jsonl")):
        rows.update(path.name.encode() + path.read_bytes())
    return {
        "name": "mini-MMEB (Open Clip Art, train split)",
        "builder": "python -m train.data.mini_mmeb",
        "seed": manifest["seed"],
        "train_rows": {k: v["rows"] for k, v in manifest["datasets"]["train"].items()},
        "train_rows_sha256": rows.hexdigest(),
    }


def scores(report_path: Path) -> dict[str, Any]:
    report = json.loads(report_path.read_text())
    overall = report["overall"]
    return {
        "report": str(report_path),
        "overall_precision_at_1": overall["precision_at_1"] if overall else None,
        "meta_tasks": {k: v["precision_at_1"] for k, v in report["meta_tasks"].items()},
        "datasets": {d["name"]: d["precision_at_1"] for d in report["datasets"]},
    }


def publish(run: Path, evals: dict[str, Path], dest: Path) -> Path:
    manifest = read_manifest(run)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / WEIGHTS_NAME, dest / WEIGHTS_NAME)
    state = json.loads((run.parent / "metrics.jsonl").read_text().splitlines()[-1])
    manifest.update(
        recipe={"path": str(RECIPE), "sha256": sha256(RECIPE), "steps": state["step"]},
        data=data_version(DATA),
        eval={name: scores(path) for name, path in evals.items()},
        weights_sha256=sha256(dest / WEIGHTS_NAME),
        published=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (dest / CONFIG_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a trained model folder (the run's final/)")
    parser.add_argument("--eval", action="append", default=[], metavar="NAME=REPORT.json")
    parser.add_argument("--dest", type=Path, default=shipped_dir())
    args = parser.parse_args()
    evals = dict(item.split("=", 1) for item in args.eval)
    print(publish(args.run, {k: Path(v) for k, v in evals.items()}, args.dest))


if __name__ == "__main__":
    main()
