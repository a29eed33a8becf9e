"""``vsearch serve`` benchmark: a text query through the warm server vs the cold CLI, one run.

1. Builds (or reuses) a 10,000-item index with the default model through the real ingest:
   ``--distinct`` different short text files (default 10,000; mini embeds ~280 texts/s on 2
   cores, so this takes under a minute), optionally each written ``--copies`` times in other
   folders (the copies reuse their content's stored vector, ingest's duplicate path).
2. Starts ``vsearch serve`` on it in a subprocess (port 0, read back from ``serve.json``).
3. Warm: ``--queries`` distinct text queries over HTTP (one keep-alive connection, like an app),
   p50/p99 of the wall time per request, plus ``vsearch query`` answered by that server (a CLI
   process: Python start-up + one HTTP request).
4. Cold: ``vsearch query --no-server`` (load the model, search, exit), ``--cold-runs`` times.
5. ``vsearch --help`` and ``vsearch info`` wall times, and the server's peak RSS (VmHWM).

Usage: python bench/bench_serve.py [--queries 200] [--cold-runs 3] [--workdir build/bench-serve]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

VSEARCH = [str(Path(sys.executable).parent / "vsearch")]  # the installed entry point
WORDS = [
    "cat",
    "dog",
    "red",
    "blue",
    "green",
    "sky",
    "sea",
    "tree",
    "car",
    "house",
    "coffee",
    "cup",
    "rocket",
    "moon",
    "star",
    "river",
    "bike",
    "lamp",
    "book",
    "city",
    "night",
    "beach",
    "snow",
    "mountain",
    "garden",
    "window",
    "bridge",
    "train",
    "boat",
    "bird",
    "flower",
    "road",
    "rain",
    "sun",
    "kitchen",
    "table",
    "chair",
    "guitar",
    "apple",
    "bread",
    "market",
    "street",
    "winter",
    "summer",
    "autumn",
    "spring",
]
ENV = dict(os.environ, HF_HUB_OFFLINE="1")


def build_index(workdir: Path, distinct: int, copies: int) -> Path:
    """The benchmark index (built once, reused while it holds ``distinct * copies`` items)."""
    index, files = workdir / "index", workdir / "files"
    wanted = distinct * copies
    if (index / "vsearch.json").exists() and _items(index) == wanted:
        return index
    rng = random.Random(0)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(6, 14))) for _ in range(distinct)]
    for copy in range(copies):
        folder = files / f"set{copy}"
        folder.mkdir(parents=True, exist_ok=True)
        for n, text in enumerate(texts):
            (folder / f"note{n:05d}.txt").write_text(f"{text}.\n")
    started = time.perf_counter()
    subprocess.run([*VSEARCH, "ingest", str(files), "--index", str(index)], env=ENV, check=True)
    print(f"built a {wanted:,}-item index in {time.perf_counter() - started:.0f} s")
    return index


def _items(index: Path) -> int:
    out = subprocess.run(
        [*VSEARCH, "info", "--index", str(index), "--json"], env=ENV, capture_output=True
    )
    return json.loads(out.stdout)["items"] if out.returncode == 0 else -1


def start_server(index: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``vsearch serve`` in a subprocess; returns it and its port once it answers."""
    (index / "serve.json").unlink(missing_ok=True)
    server = subprocess.Popen(
        [*VSEARCH, "serve", "--index", str(index), "--port", "0"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (index / "serve.json").exists():
        if server.poll() is not None:
            raise SystemExit("vsearch serve exited before it announced itself")
        time.sleep(0.1)
    return server, int(json.loads((index / "serve.json").read_text())["port"])


def warm_latencies(port: int, queries: list[str]) -> list[float]:
    """Seconds per ``GET /api/search`` (k=10) on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for q in queries:
        started = time.perf_counter()
        connection.request("GET", "/api/search?" + urllib.parse.urlencode({"q": q, "k": 10}))
        response = connection.getresponse()
        body = json.loads(response.read())
        times.append(time.perf_counter() - started)
        assert response.status == 200 and len(body["hits"]) == 10, body
    connection.close()
    return times


def wall(args: list[str], runs: int) -> list[float]:
    """Wall seconds of ``vsearch ARGS`` as a fresh process, ``runs`` times."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*VSEARCH, *args], env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--distinct", type=int, default=10_000)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("build/bench-serve"))
    args = parser.parse_args()
    index = build_index(args.workdir, args.distinct, args.copies)
    rng = random.Random(1)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(2, 5))) for _ in range(args.queries)]
    query = [str(index), "-k", "10"]
    server, port = start_server(index)
    try:
        warm_latencies(port, queries[:5])  # first requests: connection set-up, lazy imports
        warm = warm_latencies(port, queries)
        via_server = wall(["query", "a red bicycle", "--index", *query], 5)
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    cold = wall(["query", "a red bicycle", "--no-server", "--index", *query], args.cold_runs)
    helps = wall(["--help"], 7)
    infos = wall(["info", "--index", str(index)], 7)
    p50, p99, cold_p50 = _pct(warm, 0.5), _pct(warm, 0.99), statistics.median(cold) * 1000
    print(f"index: {_items(index):,} items (default model), {len(warm)} warm queries, k=10")
    print(f"warm server, HTTP GET /api/search:  p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    print(f"vsearch query answered by server:   p50 {statistics.median(via_server) * 1000:7.1f} ms")
    print(f"cold CLI (vsearch query --no-server): p50 {cold_p50:7.0f} ms  ({args.cold_runs} runs)")
    print(f"ratio cold CLI / warm server p50:   {cold_p50 / p50:7.0f}x")
    print(f"vsearch --help:                     median {statistics.median(helps):.3f} s")
    print(f"vsearch info:                       median {statistics.median(infos):.3f} s")
    print(f"server peak RSS (VmHWM):            {rss:7.0f} MB")


if __name__ == "__main__":
    main()
