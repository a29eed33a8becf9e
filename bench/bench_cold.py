"""What a command costs from a cold start, each printed as a ratio against a baseline run here.

1. a cold ``vsearch query "a cat"`` (a fresh process, 10-item index) vs a fresh
   ``python -c "import torch"``                                               (target <= 2.0)
2. the same cold query on an N-item index (default 1M) vs the 10-item one, with each process's
   peak RSS                                                                    (target <= 1.2)
3. ``--where folder=...`` passing 0.1% of the N items vs the same search unfiltered, in one
   process                                                                     (target <= 3x)
4. an unchanged re-ingest through the CLI vs the first ingest of the same folder: 100 files
   (target <= 5%) and 1,600 files (target <= 1 s)

The N-item index is filled by inserting rows and random unit vectors straight into the store
(what ingest writes; ``bench_query.fill``), under the default model's identity, so the CLI can
query it. ``--code`` measures another checkout of vsearch (e.g. an older commit, for before /
after); ``--keep DIR`` keeps the built indexes there for the next run.

Usage: python bench/bench_cold.py [--n 1000000] [--kind auto] [--repeat 5] [--files 100,1600]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = 1000  # items spread over this many folders: one folder is 0.1% of them


def run_cold(code: Path, args: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (MB) of a fresh Python process running ``args``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(code)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *args], cwd=code, env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({status}): {' '.join(args)}")
    return elapsed, usage.ru_maxrss // 1024


def alternate(code: Path, first: list[str], second: list[str], repeat: int) -> tuple:
    """Medians of (seconds, MB) for ``first`` and ``second``, run alternately after a warm-up
    (so both see a warm page cache and the same bursts of load from other processes)."""
    run_cold(code, first), run_cold(code, second)
    samples: tuple[list, list] = ([], [])
    for _ in range(repeat):
        samples[0].append(run_cold(code, first))
        samples[1].append(run_cold(code, second))
    return tuple(tuple(np.median(np.array(s), axis=0)) for s in samples)


def query_args(index: Path) -> list[str]:
    return ["-m", "vsearch.cli", "query", "a cat", "--index", str(index), "-k", "3"]


def folder_path(i: int, _taken) -> str:
    return f"f{i % FOLDERS:04d}/img{i:07d}.jpg"


def build(folder: Path, n: int, kind: str) -> Path:
    from bench_query import fill

    from vsearch.encoders import load_encoder

    if (folder / "vsearch.json").exists():
        print(f"  (reusing {folder})")
        return folder
    started = time.perf_counter()
    encoder = load_encoder()
    with fill(folder, encoder, n, ROOT / "tests" / "data", path_of=folder_path, index_kind=kind):
        pass
    print(f"  built {n:,} items ({kind}) in {time.perf_counter() - started:.0f} s")
    return folder


def write_photos(folder: Path, count: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(count)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(blocks).resize((320, 240), Image.Resampling.BILINEAR)
        image.save(folder / f"p{i:05d}.jpg", quality=85)
    return folder


def filtered(index_folder: Path, repeat: int) -> None:
    from bench_query import line, paired

    from vsearch.index import Index

    with Index.open(index_folder) as index:
        rng = np.random.default_rng(1)
        queries = rng.standard_normal((2 * repeat + 4, index.vectors.dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        feed = iter(queries)
        where = ["folder=f0042"]

        def search(filters):
            return lambda: index.search_vector(next(feed), k=10, filters=filters)

        base, got = paired(search(None), search(where), repeat)
        passing = len(index.search_vector(queries[0], k=len(index), filters=where))
        print(f"3. search, {len(index):,} items ({index.vectors.kind}), k=10")
        print(line(f"{where[0]} ({100 * passing / len(index):.2f}%)", base, got))


def reingest(code: Path, tmp: Path, counts: list[int]) -> None:
    print("4. unchanged re-ingest through the CLI vs the first ingest (fresh processes)")
    for count in counts:
        photos = write_photos(tmp / f"photos{count}", count)
        args = ["-m", "vsearch.cli", "ingest", str(photos), "--index", str(tmp / f"i{count}")]
        first, _ = run_cold(code, args)
        again = float(np.median([run_cold(code, args)[0] for _ in range(3)]))
        print(
            f"  {count:>5} files: first {first:7.2f} s, unchanged {again:5.2f} s, "
            f"ratio {100 * again / first:5.1f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--kind", default="auto", help="the N-item index's kind")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", default="100,1600", help="re-ingest folder sizes")
    parser.add_argument("--code", type=Path, default=ROOT, help="the vsearch checkout to run")
    parser.add_argument("--keep", type=Path, default=None, help="keep built indexes here")
    args = parser.parse_args()
    code = args.code.resolve()
    sys.path.insert(0, str(code))
    print(f"code: {code}; load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        keep = args.keep or tmp
        small = build(keep / "idx10", 10, "auto")
        (torch_s, torch_mb), (small_s, small_mb) = alternate(
            code, ["-c", "import torch"], query_args(small), args.repeat
        )
        print("1. cold text query, 10 items, vs `python -c 'import torch'`")
        print(
            f"  query {small_s:5.2f} s ({small_mb:.0f} MB) | import torch {torch_s:5.2f} s "
            f"({torch_mb:.0f} MB) | ratio {small_s / torch_s:4.2f}"
        )
        large = build(keep / f"idx{args.n}-{args.kind}", args.n, args.kind)
        (small_s, small_mb), (large_s, large_mb) = alternate(
            code, query_args(small), query_args(large), args.repeat
        )
        print(f"2. cold text query, {args.n:,} items vs 10 items")
        print(
            f"  {args.n:,}: {large_s:5.2f} s, peak RSS {large_mb:.0f} MB | 10: {small_s:5.2f} s, "
            f"{small_mb:.0f} MB | ratio {large_s / small_s:4.2f}"
        )
        filtered(large, args.repeat * 20)
        reingest(code, tmp, [int(c) for c in args.files.split(",") if c])
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
