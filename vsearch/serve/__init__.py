"""``vsearch serve``: a local web UI and JSON API over open indexes, the encoder loaded once.

:mod:`vsearch.serve.discovery` and :mod:`vsearch.serve.client` use the standard library only
(the CLI imports them on every query); the rest needs FastAPI and uvicorn.
"""

from __future__ import annotations
