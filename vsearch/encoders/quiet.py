"""Loading a model says nothing a user can act on: no progress bars, no deprecation notes that
transformers raises inside peft (``is_gradient_checkpointing``) on every load."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_LIBRARY_DEPRECATIONS = r"`(is_gradient_checkpointing|gradient_checkpointing_enable)` is deprecated"


@contextmanager
def quiet_loading(*, transformers: bool = True) -> Iterator[None]:
    """Load models in the block without transformers' progress bars and peft-internal warnings.

    Args:
        transformers: the block loads a transformers model. False for models that do not use
            transformers, so that importing it (about 3 s) is not paid just to silence it.

    The progress-bar setting is put back afterwards. Not for concurrent use by threads: warning
    filters are process-wide (models are loaded once, before serving).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LIBRARY_DEPRECATIONS, category=FutureWarning)
        if not transformers:
            yield
            return
        from transformers.utils import logging as hf_logging

        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if bars_were_on:
                hf_logging.enable_progress_bar()
