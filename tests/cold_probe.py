"""Run the real CLI in a fresh Python process and report which heavy modules it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

_PROBE = """
import json, sys
from vsearch.cli import main
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["vsearch", *args]
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": [m for m in watched if m in sys.modules]}),
      file=sys.stderr)
"""


def run_cli(args: Sequence[str], watched: Sequence[str]) -> dict:
    """``{"code": exit code, "loaded": the modules of ``watched`` the command imported}``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args)), json.dumps(list(watched))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])
