"""The commands that run no model start without torch or transformers (a real subprocess)."""

from __future__ import annotations

import pytest

from vsearch.index import Index

from ..cold_probe import run_cli

HEAVY = ("torch", "transformers")


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
    assert run_cli(args, HEAVY) == {"code": 0, "loaded": []}
