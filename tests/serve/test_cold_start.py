"""The commands that run no model start without torch or transformers (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vsearch.index import Index

PROBE = """
import json, sys
from vsearch.cli import main
sys.argv = ["vsearch", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _run(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["info"],
        ["dupes", "--threshold", "0.99"],
        ["similar", "img0.jpg", "-k", "2"],
    ],
)
def test_commands_without_a_model_import_neither_torch_nor_transformers(index: Index, args):
    if args != ["--help"]:
        args = [*args, "--index", str(index.folder)]
    outcome = _run(args)
    assert outcome == {"code": 0, "heavy": []}
